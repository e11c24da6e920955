//! One engine VM: QEMU, the mux session to its agent, the host engine socket and the published
//! ports, with a state others (the CLI, later the desktop) can watch.

use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::UnixStream;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::header::{Control, Target, CONTROL_OK};
use crate::mux::{self, MuxHandle, Side};
use crate::ports::{self, PortForwards, PortStatus};
use crate::qemu::{self, Accel, Network, QemuSpec};
use crate::{engine_api, forwarder};

/// Creates `dir` (and missing parents) readable by its owner only: it holds the engine socket,
/// which is root-equivalent in the guest.
pub fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
}

/// Where a VM's files live, under its state dir.
#[derive(Clone, Debug)]
pub struct VmPaths {
    pub dir: PathBuf,
}

impl VmPaths {
    pub fn disk(&self) -> PathBuf {
        self.dir.join("data.qcow2")
    }
    pub fn mux_socket(&self) -> PathBuf {
        self.dir.join("mux.sock")
    }
    pub fn console_log(&self) -> PathBuf {
        self.dir.join("console.log")
    }
    pub fn qemu_pid(&self) -> PathBuf {
        self.dir.join("qemu.pid")
    }
    /// The supervisor's pid (the `berth-vm start` process that owns QEMU).
    pub fn pid(&self) -> PathBuf {
        self.dir.join("berth-vm.pid")
    }
    /// The supervisor's own log when it runs in the background.
    pub fn log(&self) -> PathBuf {
        self.dir.join("berth-vm.log")
    }
    /// The published ports and their state, as JSON ([`PortStatus`] list).
    pub fn ports(&self) -> PathBuf {
        self.dir.join("ports.json")
    }
    /// The default host engine socket.
    pub fn default_socket(&self) -> PathBuf {
        self.dir.join("docker.sock")
    }
}

/// What the VM is made of.
#[derive(Clone, Debug)]
pub struct VmConfig {
    pub dir: PathBuf,
    /// The host engine socket (`DOCKER_HOST=unix://…`).
    pub socket: PathBuf,
    pub kernel: PathBuf,
    pub initrd: PathBuf,
    pub cpus: u32,
    pub memory_mib: u32,
    /// qemu-img size of a new data disk (`20G`); an existing disk keeps its size.
    pub disk_size: String,
    pub shares: Vec<PathBuf>,
    pub network: Network,
    /// `--insecure-registry` values for the guest engine (`host.docker.internal:5000`).
    pub insecure_registries: Vec<String>,
    /// None: probe.
    pub accel: Option<Accel>,
    pub qemu: PathBuf,
    pub qemu_img: PathBuf,
}

impl VmConfig {
    pub fn paths(&self) -> VmPaths {
        VmPaths {
            dir: self.dir.clone(),
        }
    }

    /// The guest kernel's command line: what the guest's init reads (`berth.*`).
    pub fn kernel_cmdline(&self) -> Result<String, VmError> {
        let mut s = format!(
            // loglevel=5: warnings come with their backtraces, so a hang in the boot log says where.
            "console=ttyS0 loglevel=5 panic=-1 berth.host={}",
            self.network.host_alias()
        );
        if matches!(self.network, Network::Nat) {
            s.push_str(" berth.dns=10.0.2.3");
        }
        for (i, share) in self.shares.iter().enumerate() {
            let p = share.to_string_lossy();
            if p.contains(char::is_whitespace) || !share.is_absolute() {
                return Err(VmError::Config(format!(
                    "shared dir {p:?}: needs an absolute path without spaces"
                )));
            }
            s.push_str(&format!(" berth.share{i}={p}"));
        }
        if !self.insecure_registries.is_empty() {
            let list = self.insecure_registries.join(",");
            if list.contains(char::is_whitespace) {
                return Err(VmError::Config(format!("insecure registry {list:?}")));
            }
            s.push_str(&format!(" berth.insecure={list}"));
        }
        Ok(s)
    }
}

#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub enum VmState {
    Starting,
    Running,
    Stopping,
    Stopped,
    /// QEMU ended on its own, or the link to the guest broke.
    Failed(String),
}

#[derive(Debug, thiserror::Error)]
pub enum VmError {
    #[error("{0}")]
    Config(String),
    #[error("data disk: {0}")]
    Disk(#[from] qemu::DiskError),
    #[error("starting {qemu}: {source} (install QEMU: apt-get install qemu-system-x86)")]
    Spawn {
        qemu: String,
        source: std::io::Error,
    },
    #[error("{what}: {source}")]
    Io {
        what: String,
        source: std::io::Error,
    },
    #[error("QEMU exited ({0}); see the boot log {1}")]
    QemuExited(String, PathBuf),
    #[error("the guest engine did not answer within {0:?}; see the boot log {1}")]
    NotReady(Duration, PathBuf),
}

fn io_err(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> VmError {
    let what = what.into();
    move |source| VmError::Io { what, source }
}

/// A running VM. Dropping it kills QEMU (prefer [`Vm::stop`]).
pub struct Vm {
    config: VmConfig,
    accel: Accel,
    qemu: tokio::process::Child,
    mux: MuxHandle,
    state: watch::Sender<VmState>,
    ports: watch::Receiver<Vec<PortStatus>>,
    tasks: Vec<JoinHandle<()>>,
}

impl Vm {
    /// Boots the VM and starts forwarding; returns once the host socket is listening (the
    /// guest engine answers later: [`Vm::wait_ready`]).
    pub async fn start(config: VmConfig) -> Result<Vm, VmError> {
        let paths = config.paths();
        create_private_dir(&paths.dir).map_err(io_err(format!(
            "creating the VM dir {}",
            paths.dir.display()
        )))?;
        let cmdline = config.kernel_cmdline()?;
        for f in [&config.kernel, &config.initrd] {
            if !f.exists() {
                return Err(VmError::Config(format!(
                    "guest image file {} is missing (scripts/vm-guest.sh builds it)",
                    f.display()
                )));
            }
        }
        if qemu::ensure_disk(&config.qemu_img, &paths.disk(), &config.disk_size)? {
            tracing::info!("created data disk {}", paths.disk().display());
        }
        let accel = match config.accel {
            Some(a) => a,
            None => {
                let (q, k) = (config.qemu.clone(), config.kernel.clone());
                tokio::task::spawn_blocking(move || qemu::probe(&q, &k))
                    .await
                    .unwrap_or(Accel::Tcg)
            }
        };
        tracing::info!("booting the engine VM with {}", accel.name());
        let _ = std::fs::remove_file(paths.mux_socket());
        let spec = QemuSpec {
            qemu: config.qemu.clone(),
            accel,
            kernel: config.kernel.clone(),
            initrd: config.initrd.clone(),
            cmdline,
            cpus: config.cpus,
            memory_mib: config.memory_mib,
            disk: paths.disk(),
            mux_socket: paths.mux_socket(),
            console_log: paths.console_log(),
            pidfile: paths.qemu_pid(),
            shares: config.shares.clone(),
            network: config.network.clone(),
        };
        let mut cmd = spec.command();
        cmd.stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        // QEMU must not outlive its supervisor (a kill -9 of `berth-vm start` included), and
        // a Ctrl-C in the supervisor's terminal must reach only the supervisor, which then
        // shuts the guest down cleanly: QEMU gets a process group of its own.
        // SAFETY: prctl and setpgid are async-signal-safe.
        unsafe {
            cmd.as_std_mut().pre_exec(|| {
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0
                    || libc::setpgid(0, 0) != 0
                {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let mut child = cmd.spawn().map_err(|source| VmError::Spawn {
            qemu: config.qemu.display().to_string(),
            source,
        })?;
        let conn = match connect_mux(&paths.mux_socket(), &mut child).await {
            Ok(c) => c,
            Err(e) => {
                let _ = child.kill().await;
                return Err(e);
            }
        };
        let session = mux::start(conn, Side::Host);
        let (state, _) = watch::channel(VmState::Starting);
        let mut tasks = Vec::new();
        let listener = forwarder::bind_socket(&config.socket).map_err(io_err(format!(
            "binding the engine socket {}",
            config.socket.display()
        )))?;
        tasks.push(tokio::spawn(forwarder::serve_engine_socket(
            listener,
            session.handle.clone(),
        )));
        let mut fwds = PortForwards::new(session.handle.clone());
        let ports = fwds.status();
        let handle = session.handle.clone();
        tasks.push(tokio::spawn(async move {
            ports::follow(handle, &mut fwds).await;
        }));
        tasks.push(tokio::spawn(write_ports_file(ports.clone(), paths.ports())));
        let link_state = state.clone();
        let driver = session.driver;
        tasks.push(tokio::spawn(async move {
            let end = driver.await;
            if *link_state.borrow() != VmState::Stopping {
                let why = match end {
                    Ok(Ok(())) => "the guest closed its link".to_string(),
                    Ok(Err(e)) => e.to_string(),
                    Err(e) => e.to_string(),
                };
                link_state.send_replace(VmState::Failed(why));
            }
        }));
        Ok(Vm {
            config,
            accel,
            qemu: child,
            mux: session.handle,
            state,
            ports,
            tasks,
        })
    }

    pub fn accel(&self) -> Accel {
        self.accel
    }

    pub fn config(&self) -> &VmConfig {
        &self.config
    }

    /// State changes: Starting → Running → Stopping → Stopped, or Failed.
    pub fn state(&self) -> watch::Receiver<VmState> {
        self.state.subscribe()
    }

    /// The published ports being forwarded, and those that could not be.
    pub fn ports(&self) -> watch::Receiver<Vec<PortStatus>> {
        self.ports.clone()
    }

    /// Waits until the guest engine answers `/_ping` through the mux.
    pub async fn wait_ready(&mut self, limit: Duration) -> Result<(), VmError> {
        let console = self.config.paths().console_log();
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            tokio::select! {
                status = self.qemu.wait() => {
                    let s = status.map(|s| s.to_string()).unwrap_or_else(|e| e.to_string());
                    self.state.send_replace(VmState::Failed(format!("QEMU exited ({s})")));
                    return Err(VmError::QemuExited(s, console));
                }
                r = tokio::time::timeout_at(deadline, engine_api::ping(&self.mux)) => match r {
                    Ok(Ok(())) => {
                        self.state.send_replace(VmState::Running);
                        return Ok(());
                    }
                    Ok(Err(e)) => tracing::debug!("guest engine not ready: {e}"),
                    Err(_) => return Err(VmError::NotReady(limit, console)),
                }
            }
            // The agent is up but the engine is still starting: ask again shortly.
            tokio::time::sleep(Duration::from_millis(100)).await;
            if tokio::time::Instant::now() >= deadline {
                return Err(VmError::NotReady(limit, console));
            }
        }
    }

    /// Waits for QEMU to exit on its own (the guest powered off, or QEMU was killed).
    pub async fn wait_exit(&mut self) -> String {
        let s = match self.qemu.wait().await {
            Ok(s) => s.to_string(),
            Err(e) => e.to_string(),
        };
        if *self.state.borrow() != VmState::Stopping {
            self.state
                .send_replace(VmState::Failed(format!("QEMU exited ({s})")));
        }
        s
    }

    /// Clean shutdown: the guest stops its engine, syncs and powers off; QEMU is killed if it
    /// has not exited within `limit`. The host socket, forwarded ports and mux socket are gone
    /// when this returns.
    pub async fn stop(mut self, limit: Duration) -> Result<(), VmError> {
        self.state.send_replace(VmState::Stopping);
        let asked = tokio::time::timeout(limit / 2, ask_poweroff(&self.mux)).await;
        match asked {
            Ok(Ok(())) => tracing::info!("the guest is powering off"),
            Ok(Err(e)) => tracing::warn!("poweroff request: {e}"),
            Err(_) => tracing::warn!("the guest did not answer the poweroff request"),
        }
        let exited = tokio::time::timeout(limit, self.qemu.wait()).await;
        if exited.is_err() {
            tracing::warn!("QEMU did not exit within {limit:?}: killing it");
            let _ = self.qemu.kill().await;
        }
        self.cleanup();
        self.state.send_replace(VmState::Stopped);
        Ok(())
    }

    fn cleanup(&mut self) {
        for t in self.tasks.drain(..) {
            t.abort();
        }
        let paths = self.config.paths();
        for f in [
            self.config.socket.clone(),
            paths.mux_socket(),
            paths.qemu_pid(),
            paths.ports(),
        ] {
            let _ = std::fs::remove_file(f);
        }
    }
}

impl Drop for Vm {
    fn drop(&mut self) {
        // kill_on_drop ends QEMU; the tasks and files go with it.
        self.cleanup();
    }
}

async fn ask_poweroff(mux: &MuxHandle) -> std::io::Result<()> {
    let mut s = mux.open().await.map_err(std::io::Error::other)?;
    Target::Control(Control::Poweroff).write_to(&mut s).await?;
    let answer = s.read_u8().await?;
    s.shutdown().await?;
    if answer != CONTROL_OK {
        return Err(std::io::Error::other(format!(
            "the guest refused ({answer})"
        )));
    }
    Ok(())
}

/// Connects to QEMU's end of the mux port (QEMU creates the socket as it starts).
async fn connect_mux(path: &Path, qemu: &mut tokio::process::Child) -> Result<UnixStream, VmError> {
    for _ in 0..300 {
        if let Ok(c) = UnixStream::connect(path).await {
            return Ok(c);
        }
        if let Ok(Some(status)) = qemu.try_wait() {
            let mut err = String::new();
            if let Some(mut e) = qemu.stderr.take() {
                let _ = e.read_to_string(&mut err).await;
            }
            return Err(VmError::QemuExited(
                format!("{status}: {}", err.trim()),
                path.to_path_buf(),
            ));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Err(VmError::Io {
        what: format!("connecting to {}", path.display()),
        source: std::io::Error::from(std::io::ErrorKind::TimedOut),
    })
}

/// Keeps `ports.json` in step with the forwarded ports (what `berth-vm status` shows).
async fn write_ports_file(mut ports: watch::Receiver<Vec<PortStatus>>, path: PathBuf) {
    loop {
        let json = serde_json::to_vec_pretty(&*ports.borrow_and_update()).unwrap_or_default();
        let tmp = path.with_extension("json.tmp");
        if std::fs::write(&tmp, json)
            .and_then(|()| std::fs::rename(&tmp, &path))
            .is_err()
        {
            tracing::warn!("cannot write {}", path.display());
        }
        if ports.changed().await.is_err() {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> VmConfig {
        VmConfig {
            dir: "/vm".into(),
            socket: "/vm/docker.sock".into(),
            kernel: "/g/vmlinuz".into(),
            initrd: "/g/initrd".into(),
            cpus: 2,
            memory_mib: 2048,
            disk_size: "20G".into(),
            shares: vec!["/home/u".into(), "/srv/x".into()],
            network: Network::Nat,
            insecure_registries: vec!["host.docker.internal:5000".into()],
            accel: None,
            qemu: "qemu-system-x86_64".into(),
            qemu_img: "qemu-img".into(),
        }
    }

    #[test]
    fn the_guest_learns_its_shares_host_alias_and_registries() {
        let line = config().kernel_cmdline().expect("cmdline");
        assert!(line.contains("berth.host=10.0.2.2"), "{line}");
        assert!(line.contains("berth.share0=/home/u berth.share1=/srv/x"));
        assert!(line.contains("berth.insecure=host.docker.internal:5000"));
        let mut c = config();
        c.shares = vec!["/home/u/My Files".into()];
        assert!(matches!(c.kernel_cmdline(), Err(VmError::Config(_))));
    }
}
