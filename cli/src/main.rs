//! `berth`: Berth's command line. A client of the Docker Engine API (through bollard) with
//! docker's verbs, flags, output shapes and exit codes, and messages in Spanish or English.

mod containers;
mod context;
mod engine;
mod errors;
mod exec;
mod format;
mod groups;
mod i18n;
mod image;
mod image_archive;
mod image_build;
mod inspect;
mod network;
mod registry;
mod stdio;
mod system;
mod vm;
mod volume;

use anyhow::Result;
use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};

use crate::errors::CliError;

#[derive(Parser, Debug)]
#[command(
    name = "berth",
    about = "A self-sufficient runtime for containers: Berth's command line",
    disable_version_flag = true
)]
struct Cli {
    /// Daemon socket to connect to (default: $BERTH_HOST, $DOCKER_HOST, unix:///run/berth.sock)
    #[arg(short = 'H', long = "host", global = true)]
    host: Option<String>,
    /// Name of the context to use (see `berth context ls`); wins over DOCKER_HOST. Before
    /// the command, as docker's (`-c` is also `commit -c`)
    #[arg(short = 'c', long = "context")]
    context: Option<String>,
    /// Print version information and quit
    #[arg(short = 'v', long = "version")]
    version: bool,
    #[command(subcommand)]
    command: Option<Cmd>,
}

#[derive(Subcommand, Debug)]
pub enum Cmd {
    /// Create and run a new container from an image
    Run(containers::run::RunArgs),
    /// Execute a command in a running container
    Exec(exec::ExecArgs),
    /// List containers
    #[command(alias = "list")]
    Ps(containers::PsArgs),
    /// List images
    Images(image::ImagesArgs),
    /// Download an image from a registry
    Pull(image::PullArgs),
    /// Show the Docker version information
    Version(system::FormatArgs),
    /// Display system-wide information
    Info(system::FormatArgs),
    /// Create a new container
    Create(containers::create::CreateArgs),
    /// Start one or more stopped containers
    Start(containers::StartArgs),
    /// Stop one or more running containers
    Stop(containers::StopArgs),
    /// Restart one or more containers
    Restart(containers::StopArgs),
    /// Kill one or more running containers
    Kill(containers::KillArgs),
    /// Remove one or more containers
    Rm(containers::RmArgs),
    /// Fetch the logs of a container
    Logs(containers::logs::LogsArgs),
    /// Return low-level information on Docker objects
    Inspect(inspect::InspectArgs),
    /// Remove one or more images
    Rmi(image::RmiArgs),
    /// Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE
    Tag(image::TagArgs),
    /// Display the running processes of a container
    Top(containers::TopArgs),
    /// Copy files/folders between a container and the local filesystem
    Cp(containers::cp::CpArgs),
    /// Display a live stream of container(s) resource usage statistics
    Stats(containers::stats::StatsArgs),
    /// Attach local standard input, output, and error streams to a running container
    Attach(containers::more::AttachArgs),
    /// Rename a container
    Rename(containers::more::RenameArgs),
    /// Pause all processes within one or more containers
    Pause(containers::more::TargetsArgs),
    /// Unpause all processes within one or more containers
    Unpause(containers::more::TargetsArgs),
    /// Block until one or more containers stop, then print their exit codes
    Wait(containers::more::TargetsArgs),
    /// List port mappings or a specific mapping for the container
    Port(containers::more::PortArgs),
    /// Build an image from a Dockerfile
    Build(image_build::BuildArgs),
    /// Update configuration of one or more containers
    Update(containers::more::UpdateArgs),
    /// Inspect changes to files or directories on a container's filesystem
    Diff(containers::files::DiffArgs),
    /// Export a container's filesystem as a tar archive
    Export(containers::files::ExportArgs),
    /// Create a new image from a container's changes
    Commit(containers::files::CommitArgs),
    /// Show the history of an image
    History(image::HistoryArgs),
    /// Upload an image to a registry
    Push(image::PushArgs),
    /// Save one or more images to a tar archive (streamed to STDOUT by default)
    Save(image_archive::SaveArgs),
    /// Load an image from a tar archive or STDIN
    Load(image_archive::LoadArgs),
    /// Import the contents from a tarball to create a filesystem image
    Import(image_archive::ImportArgs),
    /// Get real time events from the server
    Events(system::EventsArgs),
    /// Log in to a registry
    Login(registry::LoginArgs),
    /// Log out from a registry
    Logout(registry::LogoutArgs),
    /// Manage containers
    #[command(subcommand)]
    Container(groups::ContainerCmd),
    /// Manage images
    #[command(subcommand)]
    Image(groups::ImageCmd),
    /// Manage contexts (named engines)
    #[command(subcommand)]
    Context(context::ContextCmd),
    /// Run the engine in a VM: start, stop, status, env (berth-vm)
    Vm(vm::VmArgs),
    /// Manage volumes
    #[command(subcommand)]
    Volume(volume::VolumeCmd),
    /// Manage networks
    #[command(subcommand)]
    Network(network::NetworkCmd),
    /// Manage Docker
    #[command(subcommand)]
    System(system::SystemCmd),
    /// Generate the autocompletion script for the specified shell
    Completion { shell: clap_complete::Shell },
}

/// Spanish one-line help for the commands (clap's derive text is the English).
const ABOUT_ES: &[(&str, &str)] = &[
    (
        "run",
        "Crea y ejecuta un contenedor nuevo a partir de una imagen",
    ),
    ("exec", "Ejecuta una orden en un contenedor en marcha"),
    ("ps", "Lista los contenedores"),
    ("images", "Lista las imágenes"),
    ("pull", "Descarga una imagen de un registro"),
    ("version", "Muestra las versiones del cliente y del motor"),
    ("info", "Muestra información de todo el sistema"),
    ("create", "Crea un contenedor nuevo"),
    ("start", "Arranca uno o más contenedores detenidos"),
    ("stop", "Detiene uno o más contenedores en marcha"),
    ("restart", "Reinicia uno o más contenedores"),
    ("kill", "Mata uno o más contenedores en marcha"),
    ("rm", "Elimina uno o más contenedores"),
    ("logs", "Muestra la salida (registros) de un contenedor"),
    (
        "inspect",
        "Devuelve información detallada de objetos del motor",
    ),
    ("rmi", "Elimina una o más imágenes"),
    (
        "tag",
        "Crea una etiqueta DESTINO que apunta a la imagen ORIGEN",
    ),
    ("top", "Muestra los procesos de un contenedor"),
    (
        "cp",
        "Copia archivos o carpetas entre un contenedor y el sistema local",
    ),
    ("stats", "Muestra el uso de recursos de los contenedores"),
    (
        "attach",
        "Conecta la entrada y salidas locales a un contenedor en marcha",
    ),
    ("rename", "Cambia el nombre de un contenedor"),
    (
        "pause",
        "Pausa todos los procesos de uno o más contenedores",
    ),
    ("unpause", "Reanuda los procesos de uno o más contenedores"),
    (
        "wait",
        "Espera a que uno o más contenedores se detengan y muestra su código de salida",
    ),
    ("port", "Muestra los puertos publicados de un contenedor"),
    ("build", "Construye una imagen a partir de un Dockerfile"),
    (
        "update",
        "Cambia los límites y la política de reinicio de contenedores",
    ),
    (
        "diff",
        "Muestra los cambios en el sistema de archivos de un contenedor",
    ),
    (
        "export",
        "Exporta el sistema de archivos de un contenedor como archivo tar",
    ),
    (
        "commit",
        "Crea una imagen nueva a partir de los cambios de un contenedor",
    ),
    ("history", "Muestra la historia (capas) de una imagen"),
    ("push", "Sube una imagen a un registro"),
    ("save", "Guarda una o más imágenes en un archivo tar"),
    (
        "load",
        "Carga imágenes de un archivo tar o de la entrada estándar",
    ),
    (
        "import",
        "Crea una imagen a partir del contenido de un archivo tar",
    ),
    ("events", "Muestra los eventos del motor en tiempo real"),
    ("login", "Inicia sesión en un registro"),
    ("logout", "Cierra la sesión en un registro"),
    ("container", "Gestiona contenedores"),
    ("image", "Gestiona imágenes"),
    ("context", "Gestiona contextos (motores con nombre)"),
    ("vm", "Motor en una VM: start, stop, status, env"),
    ("volume", "Gestiona volúmenes"),
    ("network", "Gestiona redes"),
    ("system", "Gestiona el motor"),
    (
        "completion",
        "Genera el guion de autocompletado para el intérprete indicado",
    ),
];

fn command() -> clap::Command {
    let mut cmd = Cli::command();
    if i18n::lang() == i18n::Lang::Es {
        cmd = cmd.about("Berth: la línea de órdenes para contenedores");
        for (name, about) in ABOUT_ES {
            cmd = cmd.mut_subcommand(*name, |s| s.about(*about));
        }
    }
    cmd
}

fn main() {
    let matches = match command().try_get_matches() {
        Ok(m) => m,
        Err(e) => {
            let code = if e.use_stderr() { 125 } else { 0 };
            let _ = e.print();
            std::process::exit(code);
        }
    };
    let cli = match Cli::from_arg_matches(&matches) {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            std::process::exit(125);
        }
    };
    if cli.version {
        println!("Berth version {}", system::CLIENT_VERSION);
        std::process::exit(0);
    }
    // One thread: a CLI waits on one socket at a time, and a multi-thread runtime costs
    // start-up time for nothing.
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("berth: {e}");
            std::process::exit(1);
        }
    };
    let code = match runtime.block_on(dispatch(cli)) {
        Ok(()) => 0,
        Err(e) => errors::report(&e),
    };
    // Exit now: a task blocked reading stdin must not hold the process.
    std::process::exit(code);
}

/// The engine to use: `-H`, an explicit `--context` (which wins over the environment, as
/// docker's), then `BERTH_HOST`, `DOCKER_HOST`, the current context, the default socket. The
/// context store is only read when it decides.
fn engine_host(cli_host: Option<&str>, cli_context: Option<&str>) -> Result<String> {
    let env = |k: &str| std::env::var(k).ok();
    let env_set = ["BERTH_HOST", "DOCKER_HOST"]
        .iter()
        .any(|k| env(k).is_some_and(|v| !v.is_empty()));
    if cli_host.is_some() || (cli_context.is_none() && env_set) {
        return Ok(engine::resolve_host(cli_host, None, env));
    }
    let chosen = context::selected_host(cli_context)?;
    Ok(engine::resolve_host(None, chosen, |_| None))
}

async fn dispatch(cli: Cli) -> Result<()> {
    let Some(cmd) = cli.command else {
        // Bare `berth`, as bare `docker`: the help, successfully.
        command().print_help()?;
        return Ok(());
    };
    // `container …` and `image …` are the top-level verbs under another name.
    let verb = match cmd {
        Cmd::Container(c) => groups::container(c),
        Cmd::Image(c) => groups::image(c),
        other => groups::Verb::Top(Box::new(other)),
    };
    let cmd = match verb {
        groups::Verb::Top(cmd) => *cmd,
        groups::Verb::PruneContainers(a) => {
            let host = engine_host(cli.host.as_deref(), cli.context.as_deref())?;
            return containers::prune(&engine::connect(&host).await?, a.force).await;
        }
        groups::Verb::PruneImages(a) => {
            let host = engine_host(cli.host.as_deref(), cli.context.as_deref())?;
            return image::prune(&engine::connect(&host).await?, a.all, a.force).await;
        }
    };
    // Answered without an engine.
    match cmd {
        Cmd::Completion { shell } => {
            clap_complete::generate(shell, &mut command(), "berth", &mut std::io::stdout());
            return Ok(());
        }
        Cmd::Context(c) => return context::run(c),
        Cmd::Vm(a) => return vm::run(a),
        Cmd::Logout(a) => return registry::logout(a),
        _ => {}
    }
    let host = engine_host(cli.host.as_deref(), cli.context.as_deref())?;
    match cmd {
        Cmd::Login(args) => registry::login(&host, args).await,
        Cmd::Version(args) => system::version(engine::connect(&host).await, &host, args).await,
        cmd => run_verb(&engine::connect(&host).await?, &host, cmd).await,
    }
}

/// The verbs that talk to the engine.
async fn run_verb(d: &bollard::Docker, host: &str, cmd: Cmd) -> Result<()> {
    match cmd {
        Cmd::Run(a) => containers::run::run(d, a).await,
        Cmd::Exec(a) => exec::exec(d, a).await,
        Cmd::Ps(a) => containers::ps(d, a).await,
        Cmd::Images(a) => image::images(d, a).await,
        Cmd::Pull(a) => image::pull(d, a).await,
        Cmd::Info(a) => system::info(d, host, a).await,
        Cmd::Create(a) => containers::create::create(d, a).await,
        Cmd::Start(a) => containers::start(d, a).await,
        Cmd::Stop(a) => containers::stop(d, a).await,
        Cmd::Restart(a) => containers::restart(d, a).await,
        Cmd::Kill(a) => containers::kill(d, a).await,
        Cmd::Rm(a) => containers::rm(d, a).await,
        Cmd::Logs(a) => containers::logs::logs(d, a).await,
        Cmd::Inspect(a) => inspect::inspect(d, a).await,
        Cmd::Rmi(a) => image::rmi(d, a).await,
        Cmd::Tag(a) => image::tag(d, a).await,
        Cmd::Top(a) => containers::top(d, a).await,
        Cmd::Cp(a) => containers::cp::cp(d, a).await,
        Cmd::Stats(a) => containers::stats::stats(d, a).await,
        Cmd::Attach(a) => containers::more::attach(d, a).await,
        Cmd::Rename(a) => containers::more::rename(d, a).await,
        Cmd::Pause(a) => containers::more::pause(d, a).await,
        Cmd::Unpause(a) => containers::more::unpause(d, a).await,
        Cmd::Wait(a) => containers::more::wait(d, a).await,
        Cmd::Port(a) => containers::more::port(d, a).await,
        Cmd::History(a) => image::history(d, a).await,
        Cmd::Build(a) => image_build::build(d, a).await,
        Cmd::Update(a) => containers::more::update(d, a).await,
        Cmd::Diff(a) => containers::files::diff(d, a).await,
        Cmd::Export(a) => containers::files::export(d, a).await,
        Cmd::Commit(a) => containers::files::commit(d, a).await,
        Cmd::Push(a) => image::push(d, a).await,
        Cmd::Save(a) => image_archive::save(d, a).await,
        Cmd::Load(a) => image_archive::load(d, a).await,
        Cmd::Import(a) => image_archive::import(d, a).await,
        Cmd::Events(a) => system::events(d, a).await,
        Cmd::Volume(c) => volume::run(d, c).await,
        Cmd::Network(c) => network::run(d, c).await,
        Cmd::System(c) => system::run(d, host, c).await,
        // Answered before any connection (dispatch), or mapped onto the verbs above.
        Cmd::Version(_)
        | Cmd::Login(_)
        | Cmd::Logout(_)
        | Cmd::Completion { .. }
        | Cmd::Context(_)
        | Cmd::Vm(_)
        | Cmd::Container(_)
        | Cmd::Image(_) => Err(CliError::usage("internal: command not dispatched here").into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_definition_is_valid() {
        Cli::command().debug_assert();
    }

    #[test]
    fn management_commands_map_to_the_verbs() {
        let cli = Cli::try_parse_from(["berth", "container", "ls", "-a"]).expect("parse");
        let Some(Cmd::Container(c)) = cli.command else {
            panic!("not container")
        };
        let groups::Verb::Top(cmd) = groups::container(c) else {
            panic!("not a verb")
        };
        assert!(matches!(*cmd, Cmd::Ps(ref a) if a.all));
        let cli = Cli::try_parse_from(["berth", "image", "inspect", "x"]).expect("parse");
        let Some(Cmd::Image(c)) = cli.command else {
            panic!("not image")
        };
        let groups::Verb::Top(cmd) = groups::image(c) else {
            panic!("not a verb")
        };
        assert!(matches!(*cmd, Cmd::Inspect(ref a) if a.kind.as_deref() == Some("image")));
    }

    #[test]
    fn version_flag_needs_no_command() {
        let cli = Cli::try_parse_from(["berth", "-v"]).expect("parse");
        assert!(cli.version && cli.command.is_none());
    }

    #[test]
    fn run_takes_the_command_after_the_image() {
        let cli = Cli::try_parse_from(["berth", "run", "--rm", "-it", "busybox", "ls", "-l", "/"])
            .expect("parse");
        let Some(Cmd::Run(run)) = cli.command else {
            panic!("not run")
        };
        assert!(run.opts.rm && run.opts.tty && run.opts.interactive);
        assert_eq!(run.opts.image_and_command, ["busybox", "ls", "-l", "/"]);
    }

    #[test]
    fn spanish_help_covers_every_command() {
        let names: Vec<String> = Cli::command()
            .get_subcommands()
            .map(|s| s.get_name().to_string())
            .collect();
        for n in &names {
            assert!(
                ABOUT_ES.iter().any(|(k, _)| k == n),
                "no Spanish help for {n}"
            );
        }
    }
}
