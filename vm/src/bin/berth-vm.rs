//! `berth-vm`: starts, stops and shows the engine VM without the desktop.
//!
//!   berth-vm start [--foreground] …   boots the VM, waits for the engine, prints DOCKER_HOST
//!   berth-vm stop | status | env

use std::io::{Read, Write};
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use berth_vm::qemu::{Accel, Network};
use berth_vm::{Vm, VmConfig, VmPaths};
use clap::{Parser, Subcommand};

#[derive(Parser, Debug)]
#[command(name = "berth-vm", about = "Berth's engine VM")]
struct Cli {
    /// The VM's state dir: data disk, sockets, boot log (default ~/.local/share/berth/vm).
    #[arg(long, global = true)]
    dir: Option<PathBuf>,
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand, Debug)]
enum Cmd {
    /// Boot the VM and wait until its engine answers; prints DOCKER_HOST.
    Start(Box<StartArgs>),
    /// Power the VM off cleanly (killing QEMU after --timeout).
    Stop {
        #[arg(long, default_value_t = 60)]
        timeout: u64,
    },
    /// Whether the VM runs, its socket and forwarded ports.
    Status,
    /// Prints `export DOCKER_HOST=…` for a shell.
    Env,
    /// Copies stdin/stdout to a TCP address (QEMU runs it per guest connection in restricted
    /// networking).
    #[command(name = "__relay", hide = true)]
    Relay { addr: String },
}

#[derive(clap::Args, Debug)]
struct StartArgs {
    /// Stay in the foreground (the VM stops on Ctrl-C / SIGTERM).
    #[arg(long)]
    foreground: bool,
    /// The host engine socket (default DIR/docker.sock).
    #[arg(long)]
    socket: Option<PathBuf>,
    #[arg(long, default_value_t = 2)]
    cpus: u32,
    /// Memory in MiB.
    #[arg(long, default_value_t = 2048)]
    memory: u32,
    /// Size of a new data disk (it grows on demand up to this).
    #[arg(long, default_value = "64G")]
    disk_size: String,
    /// Host dir shared into the guest at the same path (repeatable; default: your home).
    #[arg(long)]
    share: Vec<PathBuf>,
    /// The guest image dir (vmlinuz, initramfs.img), as scripts/vm-guest.sh prints it
    /// (default $BERTH_VM_GUEST, else the installed one, /usr/lib/Berth/vm-guest).
    #[arg(long)]
    guest: Option<PathBuf>,
    /// The guest kernel (overrides --guest).
    #[arg(long)]
    kernel: Option<PathBuf>,
    /// The guest initramfs (overrides --guest).
    #[arg(long)]
    initrd: Option<PathBuf>,
    /// kvm, hvf, whpx or tcg (default: probe).
    #[arg(long)]
    accel: Option<String>,
    /// nat (the guest reaches what the host reaches, the host's loopback at
    /// host.docker.internal) or restricted (only the --host-port ports of the host's loopback).
    #[arg(long, default_value = "nat")]
    network: String,
    /// A host loopback port the guest may reach at host.docker.internal (restricted network).
    #[arg(long)]
    host_port: Vec<u16>,
    /// A registry the guest engine may use over plain HTTP (host.docker.internal:5000).
    #[arg(long)]
    insecure_registry: Vec<String>,
    /// Seconds to wait for the engine to answer.
    #[arg(long, default_value_t = 300)]
    timeout: u64,
}

fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    if let Err(e) = run(cli) {
        eprintln!("berth-vm: {e:#}");
        std::process::exit(1);
    }
}

fn default_dir() -> anyhow::Result<PathBuf> {
    if let Some(d) = std::env::var_os("XDG_DATA_HOME").filter(|d| !d.is_empty()) {
        return Ok(PathBuf::from(d).join("berth/vm"));
    }
    let home = std::env::var_os("HOME").context("HOME is not set: pass --dir")?;
    Ok(PathBuf::from(home).join(".local/share/berth/vm"))
}

fn run(cli: Cli) -> anyhow::Result<()> {
    let dir = match cli.dir {
        Some(d) => d,
        None => default_dir()?,
    };
    let dir = std::path::absolute(&dir).with_context(|| format!("{}", dir.display()))?;
    let paths = VmPaths { dir };
    match cli.command {
        Cmd::Start(args) if args.foreground => start_foreground(&paths, *args),
        Cmd::Start(args) => start_background(&paths, &args),
        Cmd::Stop { timeout } => stop(&paths, Duration::from_secs(timeout)),
        Cmd::Status => status(&paths),
        Cmd::Env => {
            println!("export DOCKER_HOST=unix://{}", socket_of(&paths).display());
            Ok(())
        }
        Cmd::Relay { addr } => relay(&addr),
    }
}

/// The host socket of the VM in `paths` (recorded at start; the default otherwise).
fn socket_of(paths: &VmPaths) -> PathBuf {
    std::fs::read_to_string(paths.dir.join("socket-path"))
        .map(|s| PathBuf::from(s.trim()))
        .unwrap_or_else(|_| paths.default_socket())
}

/// The guest the package installed: `/usr/lib/Berth/vm-guest` for `/usr/bin/berth-vm` (the
/// desktop app's resource dir, so both boot the same image).
fn installed_guest() -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?;
    let dir = exe.parent()?.parent()?.join("lib/Berth/vm-guest");
    dir.join("vmlinuz").is_file().then_some(dir)
}

fn config(paths: &VmPaths, args: StartArgs) -> anyhow::Result<VmConfig> {
    let guest = args
        .guest
        .clone()
        .or_else(|| std::env::var_os("BERTH_VM_GUEST").map(PathBuf::from))
        .or_else(installed_guest);
    let from_guest = |name: &str| guest.as_ref().map(|g| g.join(name));
    let kernel = args
        .kernel
        .or_else(|| from_guest("vmlinuz"))
        .context("no guest kernel: pass --guest DIR (scripts/vm-guest.sh prints it) or --kernel")?;
    let initrd = args
        .initrd
        .or_else(|| from_guest("initramfs.img"))
        .context("no guest initramfs: pass --guest DIR or --initrd")?;
    let shares = if args.share.is_empty() {
        vec![PathBuf::from(
            std::env::var_os("HOME").context("HOME is not set: pass --share")?,
        )]
    } else {
        args.share
            .iter()
            .map(std::path::absolute)
            .collect::<Result<_, _>>()
            .context("--share")?
    };
    let network = match args.network.as_str() {
        "nat" => Network::Nat,
        "restricted" => Network::Restricted {
            host_ports: args.host_port.clone(),
            relay: std::env::current_exe().context("finding berth-vm itself")?,
        },
        other => bail!("--network {other}: expected nat or restricted"),
    };
    let accel = match args.accel.as_deref() {
        None | Some("auto") => None,
        Some(a) => Some(Accel::parse(a).with_context(|| format!("--accel {a}"))?),
    };
    let socket = match args.socket {
        Some(s) => std::path::absolute(s).context("--socket")?,
        None => paths.default_socket(),
    };
    Ok(VmConfig {
        dir: paths.dir.clone(),
        socket,
        kernel,
        initrd,
        cpus: args.cpus,
        memory_mib: args.memory,
        disk_size: args.disk_size,
        shares,
        network,
        insecure_registries: args.insecure_registry,
        accel,
        qemu: PathBuf::from("qemu-system-x86_64"),
        qemu_img: PathBuf::from("qemu-img"),
    })
}

fn running_pid(paths: &VmPaths) -> Option<i32> {
    let pid: i32 = std::fs::read_to_string(paths.pid())
        .ok()?
        .trim()
        .parse()
        .ok()?;
    alive(pid).then_some(pid)
}

/// The process exists and has not exited (a zombie nobody reaped yet counts as gone).
fn alive(pid: i32) -> bool {
    // SAFETY: signal 0 only checks that the process exists.
    if pid <= 0 || unsafe { libc::kill(pid, 0) } != 0 {
        return false;
    }
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        // `pid (comm) STATE …`: comm may hold spaces and parentheses, so split after the last ')'.
        Ok(stat) => stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().next())
            .is_some_and(|state| state != "Z"),
        Err(_) => true,
    }
}

/// Runs the VM in this process until SIGTERM/SIGINT or until QEMU ends.
fn start_foreground(paths: &VmPaths, args: StartArgs) -> anyhow::Result<()> {
    if let Some(pid) = running_pid(paths).filter(|p| *p != std::process::id() as i32) {
        bail!("the VM in {} already runs (pid {pid})", paths.dir.display());
    }
    let timeout = Duration::from_secs(args.timeout);
    let cfg = config(paths, args)?;
    berth_vm::vm::create_private_dir(&paths.dir)
        .with_context(|| format!("creating {}", paths.dir.display()))?;
    std::fs::write(paths.pid(), std::process::id().to_string()).context("writing the pid file")?;
    std::fs::write(
        paths.dir.join("socket-path"),
        cfg.socket.to_string_lossy().as_bytes(),
    )
    .context("recording the socket path")?;
    let rt = tokio::runtime::Runtime::new().context("tokio runtime")?;
    let result = rt.block_on(async move {
        use tokio::signal::unix::{signal, SignalKind};
        let mut term = signal(SignalKind::terminate()).context("SIGTERM handler")?;
        let mut int = signal(SignalKind::interrupt()).context("SIGINT handler")?;
        let socket = cfg.socket.clone();
        let mut vm = Vm::start(cfg).await?;
        tokio::select! {
            r = vm.wait_ready(timeout) => r?,
            _ = term.recv() => return vm.stop(Duration::from_secs(30)).await.map_err(Into::into),
            _ = int.recv() => return vm.stop(Duration::from_secs(30)).await.map_err(Into::into),
        }
        tracing::info!("engine VM running ({})", vm.accel().name());
        println!("DOCKER_HOST=unix://{}", socket.display());
        let _ = std::io::stdout().flush();
        let stop = tokio::select! {
            _ = term.recv() => true,
            _ = int.recv() => true,
            status = vm.wait_exit() => {
                tracing::error!("QEMU exited on its own ({status})");
                false
            }
        };
        vm.stop(Duration::from_secs(30)).await?;
        if !stop {
            bail!(
                "the VM ended unexpectedly; see {}",
                paths.console_log().display()
            );
        }
        Ok::<(), anyhow::Error>(())
    });
    let _ = std::fs::remove_file(paths.pid());
    result
}

/// Starts `berth-vm start --foreground` detached, waits until the engine answers through the
/// host socket, and prints DOCKER_HOST.
fn start_background(paths: &VmPaths, args: &StartArgs) -> anyhow::Result<()> {
    if let Some(pid) = running_pid(paths) {
        bail!("the VM in {} already runs (pid {pid})", paths.dir.display());
    }
    berth_vm::vm::create_private_dir(&paths.dir)
        .with_context(|| format!("creating {}", paths.dir.display()))?;
    let log = std::fs::File::create(paths.log())
        .with_context(|| format!("creating {}", paths.log().display()))?;
    let exe = std::env::current_exe().context("finding berth-vm itself")?;
    let mut cmd = Command::new(exe);
    // The same arguments (a relative --dir resolves the same: same working dir).
    cmd.args(std::env::args_os().skip(1))
        .arg("--foreground")
        .stdin(Stdio::null())
        .stdout(log.try_clone().context("log file")?)
        .stderr(log);
    // A session of its own: the VM outlives this command and its terminal.
    unsafe {
        cmd.pre_exec(|| {
            if libc::setsid() < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let mut child = cmd.spawn().context("starting the VM supervisor")?;
    let socket = args
        .socket
        .as_ref()
        .map(std::path::absolute)
        .transpose()
        .context("--socket")?
        .unwrap_or_else(|| paths.default_socket());
    let deadline = Instant::now() + Duration::from_secs(args.timeout);
    loop {
        if let Some(status) = child.try_wait().context("waiting for the supervisor")? {
            let log = std::fs::read_to_string(paths.log()).unwrap_or_default();
            bail!("the VM did not start ({status}):\n{log}");
        }
        if ping(&socket) {
            println!("DOCKER_HOST=unix://{}", socket.display());
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!(
                "the engine did not answer within {}s; see {} and {}",
                args.timeout,
                paths.log().display(),
                paths.console_log().display()
            );
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// `GET /_ping` on the host socket answered 200.
fn ping(socket: &Path) -> bool {
    let Ok(mut s) = std::os::unix::net::UnixStream::connect(socket) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(30)));
    if s.write_all(b"GET /_ping HTTP/1.1\r\nHost: berth-vm\r\nConnection: close\r\n\r\n")
        .is_err()
    {
        return false;
    }
    let mut head = [0u8; 12];
    s.read_exact(&mut head).is_ok() && head.starts_with(b"HTTP/1.1 200")
}

fn stop(paths: &VmPaths, timeout: Duration) -> anyhow::Result<()> {
    let Some(pid) = running_pid(paths) else {
        println!("not running");
        return Ok(());
    };
    // SAFETY: plain signal to the supervisor's pid.
    unsafe { libc::kill(pid, libc::SIGTERM) };
    let deadline = Instant::now() + timeout + Duration::from_secs(5);
    while alive(pid) {
        if Instant::now() > deadline {
            eprintln!("berth-vm: the VM did not stop in time: killing it");
            // QEMU dies with its supervisor (parent-death signal).
            unsafe { libc::kill(pid, libc::SIGKILL) };
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    println!("stopped");
    Ok(())
}

fn status(paths: &VmPaths) -> anyhow::Result<()> {
    let socket = socket_of(paths);
    let state = match running_pid(paths) {
        None => "stopped",
        Some(_) if ping(&socket) => "running",
        Some(_) => "starting",
    };
    println!("state: {state}");
    println!("dir: {}", paths.dir.display());
    if state != "stopped" {
        println!("DOCKER_HOST=unix://{}", socket.display());
        if let Ok(ports) = std::fs::read_to_string(paths.ports()) {
            println!("ports: {}", ports.trim());
        }
    }
    Ok(())
}

/// stdin → `addr`, `addr` → stdout, each direction closed on its EOF. QEMU hands the guest's
/// connection over as fds 0 and 1; they are used unbuffered (std's stdout would hold back
/// bytes after the last newline).
fn relay(addr: &str) -> anyhow::Result<()> {
    use std::os::fd::FromRawFd;
    let conn = std::net::TcpStream::connect(addr).with_context(|| format!("connect {addr}"))?;
    let mut to = conn.try_clone().context("clone socket")?;
    // SAFETY: fds 0 and 1 are open (QEMU's end of the guest connection) and owned by nothing
    // else in this process from here on.
    let (mut input, mut output) =
        unsafe { (std::fs::File::from_raw_fd(0), std::fs::File::from_raw_fd(1)) };
    let up = std::thread::spawn(move || {
        let _ = std::io::copy(&mut input, &mut to);
        let _ = to.shutdown(std::net::Shutdown::Write);
    });
    let mut from = conn;
    let _ = std::io::copy(&mut from, &mut output);
    // The server is done; the guest's side may never close its write half: do not wait.
    drop(up);
    Ok(())
}
