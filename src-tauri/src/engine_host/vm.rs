//! The engine in a Linux VM: [`VmHost`] boots the guest image under QEMU with the `berth-vm`
//! library and serves its engine on a host socket (0600, in the VM's 0700 dir under the user's
//! Berth folder). The only mode on macOS and Windows, an option on Linux (Settings).
//!
//! The VM runs inside the app (no helper process): quitting the app powers the guest off
//! cleanly, and QEMU dies with the app if the app is killed (QEMU's parent-death signal).
//! Start/stop/restart/reset hold one lock, so they never overlap; a stop cancels a boot that
//! is under way instead of waiting for it; [`VmHost::status`] never waits for them (it reads
//! the VM's state channel).

use std::io::Write as _;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Duration;

use berth_vm::ports::PortStatus;
use berth_vm::qemu::Accel;
use berth_vm::{Vm, VmState};
use futures_util::future::BoxFuture;
use serde::Serialize;
use tokio::sync::watch;
use tracing::{info, warn};
use ts_rs::TS;

use super::vm_config::{VmHostConfig, VmProblem};
use super::{EngineHost, EngineState, EngineStatus, HostError, NativeConfig, NativeHost};

/// Booting under TCG takes 15–40 s here; a first boot also formats the disk and loads the
/// welcome image. Generous, since a slow machine under emulation is still a working one.
const START_TIMEOUT: Duration = Duration::from_secs(300);
/// The guest stops its engine, syncs and powers off; QEMU is killed after this.
const STOP_TIMEOUT: Duration = Duration::from_secs(60);

/// The VM's phase as the UI shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "lowercase")]
pub enum VmPhase {
    Stopped,
    Starting,
    Running,
    Stopping,
    /// QEMU ended on its own (killed, crashed) or the link to the guest broke.
    Failed,
}

/// One published port and whether the host could forward it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct VmPort {
    pub container: String,
    pub host_ip: String,
    pub host_port: u16,
    /// `tcp` or `udp`.
    pub proto: String,
    /// Why it is not forwarded (e.g. the port is taken on the host); None when it is.
    pub error: Option<String>,
}

/// The VM for the Settings and Troubleshoot views.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct VmInfo {
    pub phase: VmPhase,
    /// Why it failed, in English (the UI shows `problem` translated when there is one).
    pub reason: Option<String>,
    pub problem: Option<VmProblem>,
    /// `kvm`, `hvf`, `whpx` or `tcg`, once the VM has started.
    pub accel: Option<String>,
    /// Software emulation (TCG): everything works, slowly.
    pub slow: bool,
    pub cpus: u32,
    pub memory_mib: u32,
    pub disk_gib: u32,
    /// The VM's dir, its boot log (the guest's console, berthd's output included) and the
    /// host side's own log.
    pub dir: String,
    pub console_log: String,
    pub host_log: String,
    pub ports: Vec<VmPort>,
}

/// Maps the library's state (None: no VM) to the UI's phase and the failure's words.
pub fn phase_of(state: Option<&VmState>) -> (VmPhase, Option<String>) {
    match state {
        None | Some(VmState::Stopped) => (VmPhase::Stopped, None),
        Some(VmState::Starting) => (VmPhase::Starting, None),
        Some(VmState::Running) => (VmPhase::Running, None),
        Some(VmState::Stopping) => (VmPhase::Stopping, None),
        Some(VmState::Failed(why)) => (VmPhase::Failed, Some(why.clone())),
    }
}

/// The engine's state from the VM's phase and a probe of the host socket (only made while the
/// VM runs). `problem` is what the last start ran into.
pub fn engine_state(
    phase: VmPhase,
    failed_why: Option<&str>,
    problem: Option<&VmProblem>,
    probe: Option<&EngineStatus>,
) -> (EngineState, Option<String>) {
    match phase {
        VmPhase::Starting => (EngineState::Starting, Some("The VM is booting".into())),
        VmPhase::Stopping => (EngineState::Stopped, Some("The VM is stopping".into())),
        VmPhase::Failed => (
            EngineState::Error,
            Some(format!(
                "The VM stopped unexpectedly ({}); restart it",
                failed_why.unwrap_or("no reason given")
            )),
        ),
        VmPhase::Running => match probe {
            Some(p) if p.state == EngineState::Running => (EngineState::Running, None),
            Some(p) => (
                EngineState::Error,
                Some(format!(
                    "The VM runs but its engine does not answer: {}",
                    p.reason.as_deref().unwrap_or("no answer")
                )),
            ),
            None => (EngineState::Starting, None),
        },
        VmPhase::Stopped => match problem {
            Some(p) => (EngineState::Error, Some(p.to_string())),
            None => (EngineState::Stopped, Some("The VM is not running".into())),
        },
    }
}

/// What the host knows about its VM outside the operations' lock.
#[derive(Default)]
struct View {
    booting: bool,
    state: Option<watch::Receiver<VmState>>,
    ports: Option<watch::Receiver<Vec<PortStatus>>>,
    accel: Option<Accel>,
    problem: Option<VmProblem>,
}

/// See the module docs.
pub struct VmHost {
    config: VmHostConfig,
    /// Held by start/stop/reset for their whole run.
    vm: tokio::sync::Mutex<Option<Vm>>,
    view: Mutex<View>,
    /// Cancels the boot under way (a stop or a switch of host does not wait for it).
    boot: Mutex<Option<tokio_util::sync::CancellationToken>>,
    /// Probes the host socket like any engine socket (answers `/_ping`, its version).
    socket_probe: NativeHost,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl VmHost {
    pub fn new(config: VmHostConfig) -> VmHost {
        let socket_probe = NativeHost::new(NativeConfig::for_socket(
            &config.socket,
            &config.dir.join("none"),
        ));
        VmHost {
            config,
            vm: tokio::sync::Mutex::new(None),
            view: Mutex::new(View::default()),
            boot: Mutex::new(None),
            socket_probe,
        }
    }

    pub fn config(&self) -> &VmHostConfig {
        &self.config
    }

    fn host_log_path(&self) -> PathBuf {
        self.config.dir.join("desktop-vm.log")
    }

    /// A line in the host side's log (what the Troubleshoot view shows as the VM log).
    fn note(&self, line: &str) {
        info!("vm: {line}");
        if berth_vm::vm::create_private_dir(&self.config.dir).is_err() {
            return;
        }
        let stamp = chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ");
        let written = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.host_log_path())
            .and_then(|mut f| writeln!(f, "{stamp} {line}"));
        if let Err(e) = written {
            warn!("writing {}: {e}", self.host_log_path().display());
        }
    }

    fn phase(&self) -> (VmPhase, Option<String>) {
        let view = lock(&self.view);
        if view.booting {
            return (VmPhase::Starting, None);
        }
        let state = view.state.as_ref().map(|rx| rx.borrow().clone());
        phase_of(state.as_ref())
    }

    /// The VM for the UI.
    pub fn info(&self) -> VmInfo {
        let (phase, reason) = self.phase();
        let view = lock(&self.view);
        let ports = view
            .ports
            .as_ref()
            .map(|rx| {
                rx.borrow()
                    .iter()
                    .map(|p| VmPort {
                        container: p.container.clone(),
                        host_ip: p.host_ip.to_string(),
                        host_port: p.host_port,
                        proto: p.proto.to_string(),
                        error: p.error.clone(),
                    })
                    .collect()
            })
            .unwrap_or_default();
        let paths = berth_vm::VmPaths {
            dir: self.config.dir.clone(),
        };
        VmInfo {
            phase,
            reason: reason.or_else(|| view.problem.as_ref().map(ToString::to_string)),
            problem: view.problem.clone(),
            accel: view.accel.map(|a| a.name().to_string()),
            slow: view.accel == Some(Accel::Tcg),
            cpus: self.config.size.cpus,
            memory_mib: self.config.size.memory_mib,
            disk_gib: self.config.size.disk_gib,
            dir: self.config.dir.display().to_string(),
            console_log: paths.console_log().display().to_string(),
            host_log: self.host_log_path().display().to_string(),
            ports,
        }
    }

    async fn to_status(&self) -> EngineStatus {
        let (phase, why) = self.phase();
        let probe = if phase == VmPhase::Running {
            Some(self.socket_probe.status().await)
        } else {
            None
        };
        let problem = lock(&self.view).problem.clone();
        let (state, reason) = engine_state(phase, why.as_deref(), problem.as_ref(), probe.as_ref());
        EngineStatus {
            state,
            reason,
            host: self.host(),
            version: probe
                .and_then(|p| p.version)
                .filter(|_| state == EngineState::Running),
            can_manage: true,
        }
    }

    fn fail(&self, problem: VmProblem) -> HostError {
        self.note(&format!("could not start: {problem}"));
        let e = HostError::Failed(problem.to_string());
        lock(&self.view).problem = Some(problem);
        e
    }

    async fn do_start(&self) -> Result<EngineStatus, HostError> {
        let mut slot = self.vm.lock().await;
        if let Some(vm) = slot.as_ref() {
            let state = vm.state().borrow().clone();
            if matches!(state, VmState::Running | VmState::Starting) {
                drop(slot);
                return Ok(self.to_status().await);
            }
        }
        if let Some(old) = slot.take() {
            // A failed VM: let go of what is left of it (its sockets and ports) first.
            let _ = old.stop(Duration::from_secs(5)).await;
        }
        let config = self.config.vm_config().map_err(|p| self.fail(p))?;
        let cancel = tokio_util::sync::CancellationToken::new();
        *lock(&self.boot) = Some(cancel.clone());
        {
            let mut view = lock(&self.view);
            *view = View {
                booting: true,
                ..View::default()
            };
        }
        self.note(&format!(
            "starting: {} CPUs, {} MiB, disk up to {} GiB, socket {}",
            config.cpus,
            config.memory_mib,
            self.config.size.disk_gib,
            config.socket.display()
        ));
        let started = Vm::start(config).await;
        let mut vm = match started {
            Ok(vm) => vm,
            Err(e) => {
                lock(&self.view).booting = false;
                return Err(self.fail(VmProblem::Failed {
                    message: format!("The VM did not start: {e}"),
                }));
            }
        };
        let accel = vm.accel();
        if accel == Accel::Tcg {
            self.note(
                "no hardware acceleration here: using TCG (software emulation), which is slow",
            );
        } else {
            self.note(&format!("acceleration: {}", accel.name()));
        }
        {
            let mut view = lock(&self.view);
            view.booting = false;
            view.state = Some(vm.state());
            view.ports = Some(vm.ports());
            view.accel = Some(accel);
        }
        let ready = tokio::select! {
            r = vm.wait_ready(START_TIMEOUT) => Some(r),
            _ = cancel.cancelled() => None,
        };
        lock(&self.boot).take();
        match ready {
            Some(Ok(())) => {}
            Some(Err(e)) => {
                // Not left half up: QEMU goes, and the reason stays for the UI.
                let _ = vm.stop(Duration::from_secs(10)).await;
                lock(&self.view).state = None;
                return Err(self.fail(VmProblem::Failed {
                    message: format!("The VM's engine did not start: {e}"),
                }));
            }
            None => {
                // A stop while booting: power off what has booted so far.
                self.note("boot cancelled by a stop");
                let _ = vm.stop(Duration::from_secs(10)).await;
                lock(&self.view).state = None;
                return Err(HostError::Failed("The VM's start was cancelled".into()));
            }
        }
        *slot = Some(vm);
        drop(slot);
        self.note("the engine answers");
        Ok(self.to_status().await)
    }

    async fn do_stop(&self) -> Result<EngineStatus, HostError> {
        if let Some(boot) = lock(&self.boot).take() {
            boot.cancel();
        }
        let mut slot = self.vm.lock().await;
        if let Some(vm) = slot.take() {
            self.note("stopping");
            let r = vm.stop(STOP_TIMEOUT).await;
            if let Err(e) = &r {
                self.note(&format!("stopping: {e}"));
            } else {
                self.note("stopped");
            }
        }
        *lock(&self.view) = View::default();
        drop(slot);
        Ok(self.to_status().await)
    }

    /// Stops the VM, deletes its data disk (every container, image and volume) and starts it
    /// with a new one. The UI asks for confirmation first.
    async fn do_reset(&self) -> Result<EngineStatus, HostError> {
        self.do_stop().await?;
        let disk = berth_vm::VmPaths {
            dir: self.config.dir.clone(),
        }
        .disk();
        match std::fs::remove_file(&disk) {
            Ok(()) => self.note(&format!("reset: deleted the data disk {}", disk.display())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(source) => {
                return Err(HostError::Io {
                    what: format!("deleting the data disk {}", disk.display()),
                    source,
                })
            }
        }
        self.do_start().await
    }
}

impl EngineHost for VmHost {
    fn host(&self) -> String {
        format!("unix://{}", self.config.socket.display())
    }

    fn socket_path(&self) -> PathBuf {
        self.config.socket.clone()
    }

    fn can_manage(&self) -> bool {
        true
    }

    fn log_path(&self) -> Option<PathBuf> {
        // The guest's console: its boot and berthd's output.
        Some(
            berth_vm::VmPaths {
                dir: self.config.dir.clone(),
            }
            .console_log(),
        )
    }

    fn status(&self) -> BoxFuture<'_, EngineStatus> {
        Box::pin(self.to_status())
    }

    fn start(&self) -> BoxFuture<'_, Result<EngineStatus, HostError>> {
        Box::pin(self.do_start())
    }

    fn stop(&self) -> BoxFuture<'_, Result<EngineStatus, HostError>> {
        Box::pin(self.do_stop())
    }

    fn reset(&self) -> BoxFuture<'_, Result<EngineStatus, HostError>> {
        Box::pin(self.do_reset())
    }

    fn vm_info(&self) -> Option<VmInfo> {
        Some(self.info())
    }

    fn shutdown(&self) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            if let Err(e) = self.do_stop().await {
                warn!("stopping the VM at exit: {e}");
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine_host::vm_config::{Platform, VmSize};
    use berth_vm::qemu::Network;

    fn running(version: &str) -> EngineStatus {
        EngineStatus {
            state: EngineState::Running,
            reason: None,
            host: "unix:///x".into(),
            version: Some(version.into()),
            can_manage: false,
        }
    }

    #[test]
    fn vm_states_map_to_phases() {
        assert_eq!(phase_of(None), (VmPhase::Stopped, None));
        assert_eq!(phase_of(Some(&VmState::Starting)).0, VmPhase::Starting);
        assert_eq!(phase_of(Some(&VmState::Running)).0, VmPhase::Running);
        assert_eq!(phase_of(Some(&VmState::Stopping)).0, VmPhase::Stopping);
        assert_eq!(
            phase_of(Some(&VmState::Failed("QEMU exited (signal: 9)".into()))),
            (VmPhase::Failed, Some("QEMU exited (signal: 9)".into()))
        );
    }

    #[test]
    fn phases_map_to_engine_states() {
        let (s, r) = engine_state(VmPhase::Running, None, None, Some(&running("0.1")));
        assert_eq!((s, r), (EngineState::Running, None));
        let down = EngineStatus {
            state: EngineState::Stopped,
            reason: Some("No engine socket".into()),
            ..running("0.1")
        };
        let (s, r) = engine_state(VmPhase::Running, None, None, Some(&down));
        assert_eq!(s, EngineState::Error);
        assert!(r.unwrap_or_default().contains("No engine socket"));
        let (s, r) = engine_state(VmPhase::Failed, Some("QEMU exited (signal: 9)"), None, None);
        assert_eq!(s, EngineState::Error);
        assert!(r.unwrap_or_default().contains("signal: 9"));
        assert_eq!(
            engine_state(VmPhase::Starting, None, None, None).0,
            EngineState::Starting
        );
        assert_eq!(
            engine_state(VmPhase::Stopped, None, None, None).0,
            EngineState::Stopped
        );
        // A start that could not happen is an error with the words to fix it.
        let missing = VmProblem::QemuMissing {
            program: "qemu-system-x86_64".into(),
            platform: Platform::Linux,
        };
        let (s, r) = engine_state(VmPhase::Stopped, None, Some(&missing), None);
        assert_eq!(s, EngineState::Error);
        assert!(r.unwrap_or_default().contains("apt install"));
    }

    #[test]
    fn the_ui_knows_these_reasons_word_for_word() {
        // ui/src/lib/vm.ts `reasonText` translates them by their English text.
        let en: serde_json::Value =
            serde_json::from_str(include_str!("../../../ui/src/locales/en.json")).expect("json");
        let reason = |phase| engine_state(phase, None, None, None).1.unwrap_or_default();
        for (key, phase) in [
            ("vm.reason.booting", VmPhase::Starting),
            ("vm.reason.stopping", VmPhase::Stopping),
            ("vm.reason.notRunning", VmPhase::Stopped),
        ] {
            assert_eq!(en[key].as_str(), Some(reason(phase).as_str()), "{key}");
        }
        let failed = engine_state(VmPhase::Failed, Some("{why}"), None, None).1;
        assert_eq!(en["vm.reason.failed"].as_str(), failed.as_deref());
    }

    #[tokio::test]
    async fn a_start_without_qemu_says_what_to_install_and_starts_nothing() {
        let dir = tempfile::tempdir().expect("tmp");
        let host = VmHost::new(VmHostConfig {
            dir: dir.path().join("vm"),
            socket: dir.path().join("vm/docker.sock"),
            guest: Ok(dir.path().join("guest")),
            qemu: Err(VmProblem::QemuMissing {
                program: "qemu-system-x86_64".into(),
                platform: Platform::Linux,
            }),
            qemu_img: Ok(PathBuf::from("/usr/bin/qemu-img")),
            size: VmSize {
                cpus: 1,
                memory_mib: 512,
                disk_gib: 4,
            },
            shares: vec![],
            network: Network::Nat,
            insecure_registries: vec![],
            accel: Some(Accel::Tcg),
        });
        assert_eq!(host.status().await.state, EngineState::Stopped);
        let e = host.start().await.expect_err("no qemu");
        assert!(e.to_string().contains("apt install qemu-system-x86"), "{e}");
        let s = host.status().await;
        assert_eq!(s.state, EngineState::Error);
        let info = host.info();
        assert_eq!(info.phase, VmPhase::Stopped);
        assert!(matches!(info.problem, Some(VmProblem::QemuMissing { .. })));
        assert!(!dir.path().join("vm/docker.sock").exists());
        let log = std::fs::read_to_string(&info.host_log).expect("host log");
        assert!(log.contains("could not start"), "{log}");
    }
}
