//! Linux: the engine is a `berthd` process on this machine.
//!
//! The app connects to `BERTH_HOST` / `DOCKER_HOST` (`unix://` only) or `/run/berth.sock`. When
//! nothing answers there and the app may (running as root, or `pkexec` is installed), it starts
//! `berthd --data-root <root> -H unix://<socket>` itself, logging to a file the Troubleshoot view
//! tails. An engine the app started is stopped when the app quits; one it found running is left.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use futures_util::future::BoxFuture;
use tracing::{info, warn};

use super::{EngineHost, EngineState, EngineStatus, HostError};

/// The default engine socket and data root (as `berthd`'s own defaults).
pub const DEFAULT_SOCKET: &str = "/run/berth.sock";
pub const DEFAULT_DATA_ROOT: &str = "/var/lib/berth";

/// The Docker API version the app speaks first; lowered by negotiation against older engines.
/// (berthd serves 1.24–1.47; bollard's own default, 1.53, is refused by it as "too new".)
pub const CLIENT_API_VERSION: bollard::ClientVersion = bollard::ClientVersion {
    major_version: 1,
    minor_version: 47,
};

const PROBE_TIMEOUT: Duration = Duration::from_secs(3);
const START_TIMEOUT: Duration = Duration::from_secs(30);
const STOP_TIMEOUT: Duration = Duration::from_secs(20);

/// How a [`NativeHost`] finds and starts the engine.
#[derive(Debug, Clone)]
pub struct NativeConfig {
    /// The address as given (`unix:///run/berth.sock`), shown in the UI.
    pub host: String,
    /// The socket path, or why the address cannot be used.
    pub socket: Result<PathBuf, String>,
    /// `berthd` to run; `None` = look next to the app binary, then on `PATH`.
    pub berthd_bin: Option<PathBuf>,
    pub data_root: PathBuf,
    /// Where a started engine's stdout/stderr go.
    pub log_path: PathBuf,
    /// Whether this app may start/stop the engine at all (tests turn it off).
    pub allow_manage: bool,
}

impl NativeConfig {
    /// From the environment: `BERTH_HOST`, else `DOCKER_HOST`, else `/run/berth.sock`;
    /// `BERTHD_BIN`; `BERTH_DATA_ROOT` (default `/var/lib/berth`); the log goes to `log_dir`.
    pub fn from_env(log_dir: &Path) -> NativeConfig {
        let host = std::env::var("BERTH_HOST")
            .ok()
            .filter(|s| !s.is_empty())
            .or_else(|| std::env::var("DOCKER_HOST").ok().filter(|s| !s.is_empty()))
            .unwrap_or_else(|| format!("unix://{DEFAULT_SOCKET}"));
        NativeConfig {
            socket: socket_from_host(&host),
            host,
            berthd_bin: std::env::var_os("BERTHD_BIN").map(PathBuf::from),
            data_root: std::env::var_os("BERTH_DATA_ROOT")
                .map(PathBuf::from)
                .unwrap_or_else(|| PathBuf::from(DEFAULT_DATA_ROOT)),
            log_path: log_dir.join("berthd.log"),
            allow_manage: true,
        }
    }

    /// For a known socket (tests, a custom setup): no env lookups.
    pub fn for_socket(socket: &Path, log_path: &Path) -> NativeConfig {
        NativeConfig {
            host: format!("unix://{}", socket.display()),
            socket: Ok(socket.to_path_buf()),
            berthd_bin: None,
            data_root: PathBuf::from(DEFAULT_DATA_ROOT),
            log_path: log_path.to_path_buf(),
            allow_manage: false,
        }
    }
}

/// The last line of an engine log that is not a tracing INFO/DEBUG line (berthd prints its fatal
/// error last, as `berthd: …`), read from at most the log's last 64 KiB.
pub fn last_error_line(log: &Path) -> Option<String> {
    use std::io::{Read, Seek, SeekFrom};
    let mut f = std::fs::File::open(log).ok()?;
    let len = f.metadata().ok()?.len();
    f.seek(SeekFrom::Start(len.saturating_sub(64 << 10))).ok()?;
    let mut buf = Vec::new();
    f.read_to_end(&mut buf).ok()?;
    let text = String::from_utf8_lossy(&buf);
    text.lines()
        .rev()
        .map(str::trim)
        .map(without_ansi)
        .map(|l| l.trim().to_string())
        .find(|l| !l.is_empty() && !["INFO", "DEBUG", "TRACE"].iter().any(|lvl| l.contains(lvl)))
        .map(|l| l.chars().take(300).collect())
}

/// Drops terminal colour sequences (`ESC [ … m`) that tracing writes even into files.
/// Drops `ESC [ … letter` sequences (tracing writes them even into files and onto the VM's
/// console).
pub fn without_ansi(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for d in chars.by_ref() {
                if d.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// `unix:///run/berth.sock` or `/run/berth.sock` → the path; other schemes are not served here.
pub fn socket_from_host(host: &str) -> Result<PathBuf, String> {
    if let Some(path) = host.strip_prefix("unix://") {
        if path.starts_with('/') {
            return Ok(PathBuf::from(path));
        }
        return Err(format!("{host}: the socket path must be absolute"));
    }
    if host.starts_with('/') {
        return Ok(PathBuf::from(host));
    }
    Err(format!(
        "{host}: only unix:// engine addresses are supported on Linux"
    ))
}

/// `berthd` to run: the explicit one, else next to the app binary, else on `PATH`.
pub fn find_berthd(
    explicit: Option<&Path>,
    exe_dir: Option<&Path>,
    path_var: Option<&std::ffi::OsStr>,
) -> Option<PathBuf> {
    if let Some(bin) = explicit {
        return Some(bin.to_path_buf());
    }
    if let Some(candidate) = exe_dir
        .map(|d| d.join("berthd"))
        .filter(|c| is_executable(c))
    {
        return Some(candidate);
    }
    find_on_path("berthd", path_var)
}

pub(crate) fn find_on_path(name: &str, path_var: Option<&std::ffi::OsStr>) -> Option<PathBuf> {
    std::env::split_paths(path_var?)
        .map(|dir| dir.join(name))
        .find(|c| is_executable(c))
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// An engine process this app started.
struct Spawned {
    child: tokio::process::Child,
    started: Instant,
}

/// What the last probe saw, before it becomes an [`EngineStatus`].
#[derive(Debug, Clone, PartialEq, Eq)]
enum Probe {
    Running {
        version: Option<String>,
    },
    /// No socket, or nothing accepts connections on it.
    Absent(String),
    /// Something listens but does not answer properly.
    Broken(String),
}

/// The Linux engine host. See the module docs.
pub struct NativeHost {
    config: NativeConfig,
    spawned: Mutex<Option<Spawned>>,
    /// Why the engine this app started went away (its exit status), until it runs again.
    last_exit: Mutex<Option<String>>,
    /// The command line of an engine the app stopped, so restart brings back the same engine.
    last_cmdline: Mutex<Option<Vec<String>>>,
    is_root: bool,
    pkexec: Option<PathBuf>,
}

impl NativeHost {
    pub fn new(config: NativeConfig) -> NativeHost {
        let pkexec = find_on_path("pkexec", std::env::var_os("PATH").as_deref());
        NativeHost {
            config,
            spawned: Mutex::new(None),
            last_exit: Mutex::new(None),
            last_cmdline: Mutex::new(None),
            is_root: nix::unistd::geteuid().is_root(),
            pkexec,
        }
    }

    pub fn config(&self) -> &NativeConfig {
        &self.config
    }

    fn socket(&self) -> Result<&Path, HostError> {
        self.config
            .socket
            .as_deref()
            .map_err(|e| HostError::Failed(e.clone()))
    }

    async fn probe(&self) -> Probe {
        let socket = match &self.config.socket {
            Ok(s) => s.clone(),
            Err(e) => return Probe::Broken(e.clone()),
        };
        if !socket.exists() {
            return Probe::Absent(format!("No engine socket at {}", socket.display()));
        }
        match tokio::time::timeout(PROBE_TIMEOUT, tokio::net::UnixStream::connect(&socket)).await {
            Err(_) => {
                return Probe::Broken(format!(
                    "The engine at {} does not accept connections",
                    socket.display()
                ))
            }
            Ok(Err(e)) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
                return Probe::Absent(format!("Nothing listens on {}", socket.display()))
            }
            Ok(Err(e)) => {
                return Probe::Broken(format!("Cannot connect to {}: {e}", socket.display()))
            }
            Ok(Ok(_)) => {}
        }
        let Some(path) = socket.to_str() else {
            return Probe::Broken(format!("{}: not UTF-8", socket.display()));
        };
        let docker = match bollard::Docker::connect_with_unix(
            path,
            PROBE_TIMEOUT.as_secs(),
            &CLIENT_API_VERSION,
        ) {
            Ok(d) => d,
            Err(e) => return Probe::Broken(format!("Cannot use {path}: {e}")),
        };
        match tokio::time::timeout(PROBE_TIMEOUT, docker.ping()).await {
            Err(_) => {
                return Probe::Broken(format!(
                    "The engine did not answer /_ping within {} s",
                    PROBE_TIMEOUT.as_secs()
                ))
            }
            Ok(Err(e)) => return Probe::Broken(format!("The engine's /_ping failed: {e}")),
            Ok(Ok(_)) => {}
        }
        let version = match tokio::time::timeout(PROBE_TIMEOUT, docker.version()).await {
            Ok(Ok(v)) => v.version,
            _ => None,
        };
        Probe::Running { version }
    }

    /// Reaps our child if it exited; returns whether it still runs (and since when).
    fn child_running(&self) -> Option<Instant> {
        let mut guard = lock(&self.spawned);
        let spawned = guard.as_mut()?;
        match spawned.child.try_wait() {
            Ok(None) => Some(spawned.started),
            Ok(Some(status)) => {
                // berthd's last words say why (a busy socket, a bad flag): lead with them.
                let why = last_error_line(&self.config.log_path)
                    .map(|l| format!("{l} — "))
                    .unwrap_or_default();
                let msg = format!(
                    "{why}berthd exited ({status}); see {}",
                    self.config.log_path.display()
                );
                warn!("{msg}");
                *lock(&self.last_exit) = Some(msg);
                *guard = None;
                None
            }
            Err(e) => {
                warn!("waiting for berthd: {e}");
                None
            }
        }
    }

    fn to_status(&self, probe: Probe) -> EngineStatus {
        let child_since = self.child_running();
        let (state, reason, version) = match probe {
            Probe::Running { version } => {
                *lock(&self.last_exit) = None;
                (EngineState::Running, None, version)
            }
            Probe::Absent(why) | Probe::Broken(why)
                if child_since.is_some_and(|t| t.elapsed() < START_TIMEOUT) =>
            {
                (EngineState::Starting, Some(why), None)
            }
            Probe::Absent(why) | Probe::Broken(why) if child_since.is_some() => (
                EngineState::Error,
                Some(format!(
                    "berthd runs but does not serve the API ({why}); see {}",
                    self.config.log_path.display()
                )),
                None,
            ),
            // Our engine died (maybe during this probe): its exit is the reason.
            Probe::Absent(why) | Probe::Broken(why) if lock(&self.last_exit).is_some() => (
                EngineState::Error,
                Some(lock(&self.last_exit).clone().unwrap_or(why)),
                None,
            ),
            Probe::Absent(why) => (EngineState::Stopped, Some(why), None),
            Probe::Broken(why) => (EngineState::Error, Some(why), None),
        };
        EngineStatus {
            state,
            reason,
            host: self.config.host.clone(),
            version,
            can_manage: self.can_manage(),
        }
    }

    /// The command that runs the engine: a remembered one (restart), else ours.
    fn engine_command(&self) -> Result<Vec<String>, HostError> {
        if let Some(cmdline) = lock(&self.last_cmdline).clone() {
            return Ok(cmdline);
        }
        let exe_dir = std::env::current_exe()
            .ok()
            .and_then(|e| e.parent().map(Path::to_path_buf));
        let bin = find_berthd(
            self.config.berthd_bin.as_deref(),
            exe_dir.as_deref(),
            std::env::var_os("PATH").as_deref(),
        )
        .ok_or_else(|| {
            HostError::BinaryNotFound(
                "set BERTHD_BIN, or install berthd next to the app or on PATH".into(),
            )
        })?;
        let socket = self.socket()?;
        Ok(vec![
            bin.display().to_string(),
            "--data-root".into(),
            self.config.data_root.display().to_string(),
            "-H".into(),
            format!("unix://{}", socket.display()),
        ])
    }

    fn spawn_engine(&self) -> Result<(), HostError> {
        let argv = self.engine_command()?;
        if let Some(dir) = self.config.log_path.parent() {
            std::fs::create_dir_all(dir).map_err(|source| HostError::Io {
                what: format!("create {}", dir.display()),
                source,
            })?;
        }
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.config.log_path)
            .map_err(|source| HostError::Io {
                what: format!("open {}", self.config.log_path.display()),
                source,
            })?;
        let log_err = log.try_clone().map_err(|source| HostError::Io {
            what: "duplicate the log file".into(),
            source,
        })?;
        let mut cmd = if self.is_root {
            tokio::process::Command::new(&argv[0])
        } else {
            let pkexec = self.pkexec.as_ref().ok_or_else(|| {
                HostError::NotPermitted(
                    "Starting the engine needs root or pkexec (policykit-1)".into(),
                )
            })?;
            let mut c = tokio::process::Command::new(pkexec);
            c.arg(&argv[0]);
            c
        };
        cmd.args(&argv[1..])
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log_err)
            // Its own process group: a Ctrl-C in the app's terminal does not hit the engine.
            .process_group(0);
        info!(command = ?argv, log = %self.config.log_path.display(), "starting berthd");
        let child = cmd.spawn().map_err(|source| HostError::Io {
            what: format!("run {}", argv[0]),
            source,
        })?;
        *lock(&self.last_exit) = None;
        *lock(&self.spawned) = Some(Spawned {
            child,
            started: Instant::now(),
        });
        Ok(())
    }

    /// The pid serving the socket (SO_PEERCRED), for engines the app did not start.
    fn socket_peer_pid(&self) -> Option<i32> {
        let socket = self.socket().ok()?;
        let stream = std::os::unix::net::UnixStream::connect(socket).ok()?;
        let cred =
            nix::sys::socket::getsockopt(&stream, nix::sys::socket::sockopt::PeerCredentials)
                .ok()?;
        Some(cred.pid())
    }

    fn send_term(&self, pid: i32) -> Result<(), HostError> {
        if self.is_root {
            nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGTERM,
            )
            .map_err(|e| HostError::Failed(format!("stop berthd (pid {pid}): {e}")))
        } else if let Some(pkexec) = &self.pkexec {
            let status = std::process::Command::new(pkexec)
                .args(["kill", "-TERM", &pid.to_string()])
                .status()
                .map_err(|source| HostError::Io {
                    what: "run pkexec kill".into(),
                    source,
                })?;
            if status.success() {
                Ok(())
            } else {
                Err(HostError::NotPermitted(format!(
                    "Stopping the engine was not allowed ({status})"
                )))
            }
        } else {
            Err(HostError::NotPermitted(
                "Stopping the engine needs root or pkexec (policykit-1)".into(),
            ))
        }
    }

    async fn wait_for(&self, want_running: bool, limit: Duration) -> EngineStatus {
        let deadline = Instant::now() + limit;
        loop {
            let status = self.to_status(self.probe().await);
            let done = if want_running {
                status.state != EngineState::Starting
            } else {
                status.state != EngineState::Running && self.child_running().is_none()
            };
            if done || Instant::now() >= deadline {
                return status;
            }
            tokio::time::sleep(Duration::from_millis(150)).await;
        }
    }

    async fn do_start(&self) -> Result<EngineStatus, HostError> {
        let status = self.to_status(self.probe().await);
        if matches!(status.state, EngineState::Running | EngineState::Starting) {
            return Ok(status);
        }
        if !self.can_manage() {
            return Err(HostError::NotPermitted(format!(
                "The engine at {} is not running and this app may not start it (needs root or pkexec)",
                self.config.host
            )));
        }
        if let Err(e) = self.spawn_engine() {
            // Shown as the error reason until the engine runs.
            *lock(&self.last_exit) = Some(e.to_string());
            return Err(e);
        }
        Ok(self.wait_for(true, START_TIMEOUT).await)
    }

    async fn do_stop(&self) -> Result<EngineStatus, HostError> {
        if !self.can_manage() {
            return Err(HostError::NotPermitted(
                "This app may not stop the engine (needs root or pkexec)".into(),
            ));
        }
        let own_pid = lock(&self.spawned)
            .as_ref()
            .and_then(|s| s.child.id())
            .and_then(|p| i32::try_from(p).ok());
        let pid = match own_pid {
            Some(p) => Some(p),
            None => self.socket_peer_pid(),
        };
        let Some(pid) = pid else {
            // Nothing serves the socket: already stopped.
            return Ok(self.to_status(self.probe().await));
        };
        if own_pid.is_none() {
            // Someone else's engine: remember how it was run, so start/restart brings it back.
            if let Ok(raw) = std::fs::read(format!("/proc/{pid}/cmdline")) {
                let argv: Vec<String> = raw
                    .split(|b| *b == 0)
                    .filter(|a| !a.is_empty())
                    .map(|a| String::from_utf8_lossy(a).into_owned())
                    .collect();
                if !argv.is_empty() {
                    *lock(&self.last_cmdline) = Some(argv);
                }
            }
        }
        info!(pid, "stopping berthd");
        self.send_term(pid)?;
        let mut status = self.wait_for(false, STOP_TIMEOUT).await;
        if own_pid.is_some() && self.child_running().is_some() {
            // Our own engine ignores SIGTERM: kill it (containers survive, live restore).
            warn!(pid, "berthd did not stop in time; killing it");
            if let Some(s) = lock(&self.spawned).as_mut() {
                let _ = s.child.start_kill();
            }
            status = self.wait_for(false, Duration::from_secs(5)).await;
        }
        if status.state == EngineState::Running {
            return Err(HostError::Failed(format!(
                "berthd (pid {pid}) did not stop within {} s",
                STOP_TIMEOUT.as_secs()
            )));
        }
        // A deliberate stop is not an error.
        *lock(&self.last_exit) = None;
        Ok(self.to_status(self.probe().await))
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl EngineHost for NativeHost {
    fn host(&self) -> String {
        self.config.host.clone()
    }

    fn socket_path(&self) -> PathBuf {
        self.config
            .socket
            .clone()
            .unwrap_or_else(|_| PathBuf::from(DEFAULT_SOCKET))
    }

    fn can_manage(&self) -> bool {
        self.config.allow_manage && (self.is_root || self.pkexec.is_some())
    }

    fn log_path(&self) -> Option<PathBuf> {
        Some(self.config.log_path.clone())
    }

    fn status(&self) -> BoxFuture<'_, EngineStatus> {
        Box::pin(async move { self.to_status(self.probe().await) })
    }

    fn start(&self) -> BoxFuture<'_, Result<EngineStatus, HostError>> {
        Box::pin(self.do_start())
    }

    fn stop(&self) -> BoxFuture<'_, Result<EngineStatus, HostError>> {
        Box::pin(self.do_stop())
    }

    fn shutdown(&self) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            if self.child_running().is_some() {
                if let Err(e) = self.do_stop().await {
                    warn!("stopping berthd at exit: {e}");
                }
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_engines_last_words_lead_the_reason() {
        let dir = tempfile::tempdir().expect("tmp");
        let log = dir.path().join("berthd.log");
        std::fs::write(
            &log,
            "\u{1b}[2m2026-11-23T16:11:50Z\u{1b}[0m \u{1b}[32m INFO\u{1b}[0m loaded the welcome image\n\
             berthd is ready: export DOCKER_HOST=unix:///x.sock\n\
             berthd: binding /x.sock: Address already in use (os error 98)\n\
             \u{1b}[32m INFO\u{1b}[0m shutting down\n\n",
        )
        .expect("write");
        assert_eq!(
            last_error_line(&log).as_deref(),
            Some("berthd: binding /x.sock: Address already in use (os error 98)")
        );
        assert_eq!(last_error_line(&dir.path().join("none")), None);
    }

    #[test]
    fn hosts() {
        assert_eq!(
            socket_from_host("unix:///run/berth.sock"),
            Ok(PathBuf::from("/run/berth.sock"))
        );
        assert_eq!(
            socket_from_host("/tmp/x.sock"),
            Ok(PathBuf::from("/tmp/x.sock"))
        );
        assert!(socket_from_host("tcp://127.0.0.1:2375").is_err());
        assert!(socket_from_host("unix://relative.sock").is_err());
    }

    #[test]
    fn finds_berthd_in_order() {
        let dir = tempfile::tempdir().expect("tempdir");
        let explicit = Path::new("/opt/berthd");
        assert_eq!(
            find_berthd(Some(explicit), Some(dir.path()), None),
            Some(explicit.to_path_buf())
        );
        assert_eq!(find_berthd(None, Some(dir.path()), None), None);
        let bin = dir.path().join("berthd");
        std::fs::write(&bin, "#!/bin/sh\n").expect("write");
        // Not executable yet: not picked.
        assert_eq!(find_berthd(None, Some(dir.path()), None), None);
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        assert_eq!(find_berthd(None, Some(dir.path()), None), Some(bin.clone()));
        let other = tempfile::tempdir().expect("tempdir");
        let path_var = std::env::join_paths([other.path(), dir.path()]).expect("join");
        assert_eq!(find_berthd(None, None, Some(&path_var)), Some(bin));
    }

    #[tokio::test]
    async fn missing_socket_is_stopped_quickly() {
        let dir = tempfile::tempdir().expect("tempdir");
        let host = NativeHost::new(NativeConfig::for_socket(
            &dir.path().join("none.sock"),
            &dir.path().join("log"),
        ));
        let t = Instant::now();
        let s = host.status().await;
        assert_eq!(s.state, EngineState::Stopped);
        assert!(s.reason.as_deref().unwrap_or("").contains("none.sock"));
        assert!(!s.can_manage);
        assert!(t.elapsed() < Duration::from_secs(2));
    }

    #[tokio::test]
    async fn a_failed_start_is_the_error_reason() {
        let dir = tempfile::tempdir().expect("tempdir");
        let host = NativeHost::new(NativeConfig {
            berthd_bin: Some(dir.path().join("no-such-berthd")),
            allow_manage: true,
            ..NativeConfig::for_socket(&dir.path().join("e.sock"), &dir.path().join("l/log"))
        });
        if !nix::unistd::geteuid().is_root() {
            return; // without root the start would go through pkexec and ask for a password
        }
        let e = host.start().await.expect_err("no binary");
        assert!(e.to_string().contains("no-such-berthd"), "{e}");
        let s = host.status().await;
        assert_eq!(s.state, EngineState::Error);
        assert!(s.reason.unwrap_or_default().contains("no-such-berthd"));
    }

    #[tokio::test]
    async fn stale_socket_is_stopped_and_silent_listener_is_error() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("stale.sock");
        drop(std::os::unix::net::UnixListener::bind(&path).expect("bind"));
        let host = NativeHost::new(NativeConfig::for_socket(&path, &dir.path().join("log")));
        assert_eq!(host.status().await.state, EngineState::Stopped);

        // Accepts connections but never answers: error within the probe timeout, no hang.
        let path = dir.path().join("silent.sock");
        let listener = std::os::unix::net::UnixListener::bind(&path).expect("bind");
        let host = NativeHost::new(NativeConfig::for_socket(&path, &dir.path().join("log")));
        let t = Instant::now();
        let s = host.status().await;
        assert_eq!(s.state, EngineState::Error, "{s:?}");
        assert!(t.elapsed() < PROBE_TIMEOUT * 3);
        drop(listener);
    }
}
