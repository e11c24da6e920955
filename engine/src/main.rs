//! `berthd`: flags follow dockerd's. `berthd __monitor CONFIG` is the hidden per-container monitor.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use clap::Parser;

#[derive(Parser, Debug)]
#[command(
    name = "berthd",
    version,
    about = "Berth container engine (Docker Engine API)"
)]
struct Args {
    /// Root directory of persistent state.
    #[arg(long = "data-root", default_value = "/var/lib/berth")]
    data_root: PathBuf,
    /// Daemon socket to listen on: unix:///path, or fd:// for the socket systemd passes.
    #[arg(short = 'H', long = "host", default_value = "unix:///run/berth.sock")]
    host: Vec<String>,
    /// Default OCI runtime for containers (default: the fastest one that works here).
    #[arg(long = "default-runtime")]
    default_runtime: Option<String>,
    /// Register an additional OCI runtime: NAME=PATH.
    #[arg(long = "add-runtime")]
    add_runtime: Vec<String>,
    /// Registries (host[:port]) or networks (CIDR) whose certificates are not verified and
    /// that may be reached over plain HTTP, besides loopback.
    #[arg(long = "insecure-registry")]
    insecure_registry: Vec<String>,
    /// Directories of registry CA certificates, `<dir>/<host[:port]>/*.crt` (repeatable).
    #[arg(long = "certs-dir", default_values = ["/etc/berth/certs.d", "/etc/docker/certs.d"])]
    certs_dir: Vec<PathBuf>,
    /// Linux bridge of the default `bridge` network; `none` disables it.
    #[arg(short = 'b', long = "bridge", default_value = "berth0")]
    bridge: String,
    /// Address and prefix of the default bridge, e.g. 172.17.0.1/16.
    #[arg(long = "bip")]
    bip: Option<String>,
    /// Pool for new networks: base=CIDR,size=PREFIX (repeatable).
    #[arg(long = "default-address-pool")]
    default_address_pool: Vec<String>,
    /// DNS server for containers (repeatable); the host's resolvers by default.
    #[arg(long = "dns")]
    dns: Vec<String>,
    /// Firewall for NAT and published ports: nftables, iptables, or auto (nftables when `nft`
    /// is installed).
    #[arg(long = "firewall-backend", default_value = "auto")]
    firewall_backend: String,
    /// Load the built-in berth/welcome image on the first start of a data root.
    #[arg(long = "welcome-image", default_value_t = true, action = clap::ArgAction::Set)]
    welcome_image: bool,
    /// Path to the docker-init binary `--init` runs (default: docker-init, tini-static or tini,
    /// looked up as dockerd does).
    #[arg(long = "init-path")]
    init_path: Option<PathBuf>,
    /// Log level (debug, info, warn, error).
    #[arg(short = 'l', long = "log-level", default_value = "info")]
    log_level: String,
    /// Log format: text or json.
    #[arg(long = "log-format", default_value = "text")]
    log_format: String,
}

fn main() {
    let argv: Vec<String> = std::env::args().collect();
    if argv.get(1).map(String::as_str) == Some("__monitor") {
        // Before any runtime or thread exists: the monitor is single-threaded by design.
        let Some(cfg) = argv.get(2) else {
            eprintln!("usage: berthd __monitor CONFIG");
            std::process::exit(2);
        };
        berth_engine::run_monitor(std::path::Path::new(cfg));
    }
    let args = Args::parse();
    if let Err(e) = run(args) {
        eprintln!("berthd: {e:#}");
        std::process::exit(1);
    }
}

fn run(args: Args) -> anyhow::Result<()> {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(&args.log_level));
    if args.log_format == "json" {
        tracing_subscriber::fmt()
            .with_env_filter(filter)
            .json()
            .init();
    } else {
        tracing_subscriber::fmt().with_env_filter(filter).init();
    }
    let host = args
        .host
        .last()
        .cloned()
        .unwrap_or_else(|| "unix:///run/berth.sock".into());
    let listen = Listen::parse(&host)?;
    let mut add = Vec::new();
    for r in &args.add_runtime {
        let (name, path) = r
            .split_once('=')
            .with_context(|| format!("--add-runtime wants NAME=PATH, got {r}"))?;
        add.push((name.to_string(), PathBuf::from(path)));
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let engine = berth_engine::Engine::open(berth_engine::Options {
            data_root: args.data_root,
            default_runtime: args.default_runtime,
            add_runtimes: add,
            insecure_registries: args.insecure_registry,
            certs_dirs: args.certs_dir,
            network: berth_engine::NetworkOptions {
                bridge: args.bridge,
                bip: args.bip,
                pools: args.default_address_pool,
                dns: args.dns,
                firewall_backend: args.firewall_backend,
            },
            welcome_image: args.welcome_image,
            init_path: args.init_path,
        })
        .await?;
        // "ready" only once the socket is bound: scripts and the desktop wait for this line.
        let (listener, socket) = listen.open()?;
        println!("berthd is ready: export DOCKER_HOST=unix://{socket}");
        let serve = berth_engine::serve_on(Arc::clone(&engine), listener);
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
        tokio::select! {
            r = serve => return r,
            _ = tokio::signal::ctrl_c() => tracing::info!("interrupted; containers keep running"),
            _ = term.recv() => tracing::info!("terminated; containers keep running"),
        }
        engine.shutdown().await;
        Ok(())
    })
}

/// Where the API listens (`-H`).
enum Listen {
    /// `unix:///path`: berthd binds it (0660, group `berth`).
    Unix(PathBuf),
    /// `fd://`: the first socket passed by systemd socket activation (`LISTEN_FDS`), whose mode
    /// and group the socket unit set.
    Systemd,
}

impl Listen {
    fn parse(host: &str) -> anyhow::Result<Listen> {
        if host == "fd://" {
            return Ok(Listen::Systemd);
        }
        if let Some(fd) = host.strip_prefix("fd://") {
            // dockerd's fd://N picks one of several sockets; berthd is given exactly one.
            anyhow::bail!("fd://{fd}: only fd:// (the first socket systemd passes) is supported");
        }
        let path = host
            .strip_prefix("unix://")
            .with_context(|| format!("only unix:// and fd:// hosts are supported, got {host}"))?;
        Ok(Listen::Unix(PathBuf::from(path)))
    }

    /// The listener and the socket's path (for the ready line).
    fn open(self) -> anyhow::Result<(tokio::net::UnixListener, String)> {
        match self {
            Listen::Unix(path) => {
                let l = berth_engine::bind(&path)?;
                Ok((l, path.display().to_string()))
            }
            Listen::Systemd => {
                let mut fds = listenfd::ListenFd::from_env();
                let std = fds
                    .take_unix_listener(0)
                    .context("fd://: the socket systemd passed is not a unix stream socket")?
                    .context(
                        "no sockets found via socket activation: make sure the service was \
                         started by systemd",
                    )?;
                std.set_nonblocking(true)?;
                // systemd hands the fd over without CLOEXEC: monitors and runtimes must not
                // inherit the API socket.
                nix::fcntl::fcntl(
                    &std,
                    nix::fcntl::FcntlArg::F_SETFD(nix::fcntl::FdFlag::FD_CLOEXEC),
                )
                .context("fd://: setting close-on-exec")?;
                let path = std
                    .local_addr()
                    .ok()
                    .and_then(|a| a.as_pathname().map(|p| p.display().to_string()))
                    .unwrap_or_else(|| "(socket from systemd)".into());
                tracing::info!(socket = %path, "API listening on the socket from systemd");
                Ok((tokio::net::UnixListener::from_std(std)?, path))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_are_unix_paths_or_the_systemd_socket() {
        assert!(
            matches!(Listen::parse("unix:///run/berth.sock"), Ok(Listen::Unix(p)) if p == std::path::Path::new("/run/berth.sock"))
        );
        assert!(matches!(Listen::parse("fd://"), Ok(Listen::Systemd)));
        let e = Listen::parse("fd://3").err().map(|e| e.to_string());
        assert!(e.is_some_and(|e| e.contains("only fd://")));
        let e = Listen::parse("tcp://0.0.0.0:2375")
            .err()
            .map(|e| e.to_string());
        assert!(e.is_some_and(|e| e.contains("only unix:// and fd://")));
    }

    #[test]
    fn fd_host_without_systemd_says_so() {
        // No LISTEN_FDS in a test process: dockerd's words.
        let e = Listen::Systemd.open().err().map(|e| format!("{e:#}"));
        assert!(e.is_some_and(|e| e.contains("no sockets found via socket activation")));
    }
}
