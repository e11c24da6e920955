//! Which engine host the settings ask for, built from the settings and the environment.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use berth_vm::qemu::{Accel, Network};

use super::vm_config::{self, Platform, VmHostConfig, VmSize};
use super::{EngineHost, NativeConfig, NativeHost, VmHost};
use crate::commands::settings::Settings;

/// What the app knows at start that every host it builds needs.
pub struct HostChoice {
    /// Where the native engine's log goes.
    pub log_dir: PathBuf,
    /// The app's resource dir (the bundled guest image), when there is one.
    pub resource_dir: Option<PathBuf>,
}

impl HostChoice {
    /// The VM host's config from the settings and the environment: `BERTH_VM_DIR` (default the
    /// user's Berth folder), `BERTH_VM_GUEST` (development: the dir `scripts/vm-guest.sh`
    /// prints), `BERTH_QEMU`, `BERTH_VM_ACCEL` (`kvm`/`hvf`/`whpx`/`tcg`; default: probe),
    /// `BERTH_VM_NETWORK=restricted` (tests: the guest gets no route out), `PATH`, `HOME`
    /// (shared into the guest at the same path).
    pub fn vm_config(&self, s: &Settings) -> VmHostConfig {
        let var = |k: &str| std::env::var(k).ok();
        let dir =
            vm_config::default_vm_dir(var).unwrap_or_else(|| std::env::temp_dir().join("berth-vm"));
        let platform = Platform::current();
        let (qemu, qemu_img) = vm_config::find_qemu(
            platform,
            std::env::var_os("BERTH_QEMU").map(PathBuf::from).as_deref(),
            std::env::var_os("PATH").as_deref(),
        );
        let (host_cpus, host_mib) = vm_config::host_resources();
        VmHostConfig {
            socket: dir.join("docker.sock"),
            dir,
            guest: vm_config::find_guest(
                std::env::var_os("BERTH_VM_GUEST")
                    .map(PathBuf::from)
                    .as_deref(),
                self.resource_dir.as_deref(),
            ),
            qemu,
            qemu_img,
            size: vm_config::clamp_size(
                VmSize {
                    cpus: s.vm_cpus,
                    memory_mib: s.vm_memory_mib,
                    disk_gib: s.vm_disk_gib,
                },
                host_cpus,
                host_mib,
            ),
            shares: vm_config::default_shares(std::env::var_os("HOME").as_deref()),
            network: if var("BERTH_VM_NETWORK").as_deref() == Some("restricted") {
                // No host ports: the relay QEMU would spawn is never needed.
                Network::Restricted {
                    host_ports: Vec::new(),
                    relay: PathBuf::new(),
                }
            } else {
                Network::Nat
            },
            insecure_registries: Vec::new(),
            accel: var("BERTH_VM_ACCEL").as_deref().and_then(Accel::parse),
        }
    }

    /// The host the settings ask for.
    pub fn host_for(&self, s: &Settings) -> Arc<dyn EngineHost> {
        if s.engine_in_vm || Platform::current().vm_only() {
            Arc::new(VmHost::new(self.vm_config(s)))
        } else {
            Arc::new(NativeHost::new(NativeConfig::from_env(&self.log_dir)))
        }
    }

    pub fn new(log_dir: &Path, resource_dir: Option<&Path>) -> HostChoice {
        HostChoice {
            log_dir: log_dir.to_path_buf(),
            resource_dir: resource_dir.map(Path::to_path_buf),
        }
    }
}
