//! The per-container monitor process (conmon / containerd-shim style).
//!
//! berthd runs `berthd __monitor CONFIG` (in a new session, /dev/null stdio, fd 3 = its end of a
//! socketpair) for every container start and every exec. The monitor:
//!
//! 1. becomes a child subreaper and runs `runtime run -d` (or `exec -d`), so the container process
//!    is re-parented to it once the runtime exits;
//! 2. owns the container's stdio (pipes, or the pty master received on a console socket), writes
//!    the json-file log ([`logfile`]) and relays output to every client as [`protocol`] frames;
//!    clients are berthd on fd 3 plus anyone connecting to `socket_path` later (a restarted
//!    berthd), and each gets `Started{pid}` first;
//! 3. applies Stdin / StdinEof / Resize / Kill frames from any client (StdinEof closes the stdin
//!    pipe; on a tty it is ignored, as dockerd leaves a tty's input open when an attach ends);
//! 4. when the process is reaped: drains output, writes the [`ExitRecord`] (temp + rename), sends
//!    `Exited{code}`, runs `runtime delete -f`, unmounts the rootfs, removes the socket, exits 0.
//!
//! A start failure instead sends `Error(msg)` and records exit code 127/126/128 as dockerd does.
//! The monitor outlives berthd: a client going away never affects the container.

pub mod config;
mod error;
pub mod fdio;
pub mod logfile;
pub mod protocol;
mod run;
pub mod runtime;
#[cfg(test)]
mod tests;

use std::os::fd::{FromRawFd, OwnedFd};
use std::path::Path;

pub use config::{ExecProcess, ExitRecord, MonitorConfig};
pub use error::MonitorError;

/// The fd on which berthd passes its end of the control socketpair.
pub const CONTROL_FD: i32 = 3;

/// Entry point of `berthd __monitor CONFIG`; never returns. Call it before any tokio runtime or
/// thread exists: the monitor is a single-threaded process that reaps every child.
pub fn run_monitor(config_path: &Path) -> ! {
    let control = if run::is_socket(CONTROL_FD) {
        // SAFETY: fd 3 was handed to us by berthd, nothing in this process owns it yet. Setting
        // close-on-exec keeps it out of the runtime and the container.
        unsafe {
            libc::fcntl(CONTROL_FD, libc::F_SETFD, libc::FD_CLOEXEC);
            Some(OwnedFd::from_raw_fd(CONTROL_FD))
        }
    } else {
        None
    };
    let cfg = match MonitorConfig::load(config_path) {
        Ok(c) => c,
        Err(e) => {
            let msg = format!("container monitor: {e}");
            run::report_early_error(control.as_ref(), &msg);
            eprintln!("{msg}");
            std::process::exit(1);
        }
    };
    init_tracing(&cfg.bundle.join("monitor.log"));
    match run_monitor_with(cfg, control) {
        Ok(_) => std::process::exit(0),
        Err(e) => {
            tracing::error!(error = %e, "monitor failed");
            eprintln!("container monitor: {e}");
            std::process::exit(1)
        }
    }
}

/// The monitor itself, for a config already loaded and an optional control socket (berthd's fd
/// 3). Returns the process's exit code (or the start-failure code). Makes this process a child
/// subreaper that reaps every child, so it belongs in a process of its own.
pub fn run_monitor_with(
    config: MonitorConfig,
    control: Option<OwnedFd>,
) -> Result<i32, MonitorError> {
    run::run_monitor_with(config, control)
}

/// Diagnostics go to `<bundle>/monitor.log` (our stderr is /dev/null); `RUST_LOG` filters.
fn init_tracing(path: &Path) {
    let Ok(file) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
    else {
        return;
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(false)
        .with_writer(std::sync::Mutex::new(file))
        .try_init();
}
