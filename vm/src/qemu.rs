//! QEMU's command line for the engine VM, the acceleration probe and the data disk.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::vport::PORT_NAME;

/// How the guest's CPU runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Accel {
    /// Linux's hypervisor.
    Kvm,
    /// macOS's Hypervisor.framework (written to the same interface, not run here).
    Hvf,
    /// Windows Hypervisor Platform (written to the same interface, not run here).
    Whpx,
    /// Software emulation: works everywhere, several times slower.
    Tcg,
}

impl Accel {
    pub fn name(self) -> &'static str {
        match self {
            Accel::Kvm => "kvm",
            Accel::Hvf => "hvf",
            Accel::Whpx => "whpx",
            Accel::Tcg => "tcg",
        }
    }

    pub fn parse(s: &str) -> Option<Accel> {
        match s {
            "kvm" => Some(Accel::Kvm),
            "hvf" => Some(Accel::Hvf),
            "whpx" => Some(Accel::Whpx),
            "tcg" => Some(Accel::Tcg),
            _ => None,
        }
    }

    /// `-accel` and `-cpu` for this accelerator.
    fn args(self) -> [&'static str; 4] {
        match self {
            Accel::Kvm => ["-accel", "kvm", "-cpu", "host"],
            Accel::Hvf => ["-accel", "hvf", "-cpu", "host"],
            Accel::Whpx => ["-accel", "whpx", "-cpu", "max"],
            // One thread for all vCPUs: with multi-threaded TCG (QEMU 7.2) a guest that patches
            // its own code while another vCPU runs it (a static key flipping as the first
            // memory cgroup is made, at the first container start) could leave both vCPUs
            // spinning in kernel code forever. Single-threaded TCG boots as fast on 2 cores.
            Accel::Tcg => ["-accel", "tcg,thread=single", "-cpu", "max"],
        }
    }
}

/// The hardware accelerator this platform may have, best first.
fn candidates() -> Vec<Accel> {
    let mut v = Vec::new();
    if cfg!(target_os = "linux") && Path::new("/dev/kvm").exists() {
        v.push(Accel::Kvm);
    }
    if cfg!(target_os = "macos") {
        v.push(Accel::Hvf);
    }
    if cfg!(target_os = "windows") {
        v.push(Accel::Whpx);
    }
    v
}

/// The first accelerator that really boots `kernel`, else TCG. A device node is not proof: a
/// nested or paravirtual KVM may accept the VM and never run a stock kernel. So each candidate
/// boots the kernel with no root device; a working one panics within a second and QEMU exits
/// (`-no-reboot`), a broken one hangs and is killed.
pub fn probe(qemu: &Path, kernel: &Path) -> Accel {
    for accel in candidates() {
        if boots(qemu, kernel, accel, Duration::from_secs(4)) {
            return accel;
        }
        tracing::warn!("{} is present but does not boot the guest", accel.name());
    }
    tracing::warn!("no hardware acceleration: using TCG (software emulation), which is slow");
    Accel::Tcg
}

fn boots(qemu: &Path, kernel: &Path, accel: Accel, limit: Duration) -> bool {
    let mut cmd = Command::new(qemu);
    cmd.args(accel.args())
        .args(["-m", "256", "-display", "none", "-no-reboot", "-nodefaults"])
        .args(["-serial", "none", "-monitor", "none", "-kernel"])
        .arg(kernel)
        .args(["-append", "panic=-1 root=/dev/berth-probe-none quiet"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let Ok(mut child) = cmd.spawn() else {
        return false;
    };
    let deadline = Instant::now() + limit;
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return status.success(),
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(50)),
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                return false;
            }
        }
    }
}

/// How the guest reaches the network.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Network {
    /// QEMU's user-mode NAT (slirp): the guest reaches what the host reaches, and the host's
    /// loopback at 10.0.2.2 (`host.docker.internal`).
    Nat,
    /// slirp with `restrict=on`: no route out of the VM at all; only the listed host loopback
    /// ports are reachable, at `host.docker.internal` (10.0.2.254), each connection relayed by
    /// `relay` (`berth-vm __relay 127.0.0.1:PORT`, spawned by QEMU per connection).
    Restricted {
        host_ports: Vec<u16>,
        relay: PathBuf,
    },
}

impl Network {
    /// The address the guest knows the host by.
    pub fn host_alias(&self) -> &'static str {
        match self {
            Network::Nat => "10.0.2.2",
            Network::Restricted { .. } => RESTRICTED_HOST_ALIAS,
        }
    }
}

/// slirp refuses guest forwards on its own gateway address, so restricted mode gives the host
/// another address in the same subnet.
const RESTRICTED_HOST_ALIAS: &str = "10.0.2.254";

/// Everything the command line is made of.
#[derive(Clone, Debug)]
pub struct QemuSpec {
    pub qemu: PathBuf,
    pub accel: Accel,
    pub kernel: PathBuf,
    pub initrd: PathBuf,
    pub cmdline: String,
    pub cpus: u32,
    pub memory_mib: u32,
    pub disk: PathBuf,
    pub mux_socket: PathBuf,
    pub console_log: PathBuf,
    pub pidfile: PathBuf,
    /// Host dirs shared into the guest at the same path (9p tags `share0`, `share1`, …).
    pub shares: Vec<PathBuf>,
    pub network: Network,
}

/// QEMU's `,` inside an option value is written `,,`.
fn opt_escape(p: &Path) -> String {
    p.to_string_lossy().replace(',', ",,")
}

impl QemuSpec {
    pub fn args(&self) -> Vec<OsString> {
        let mut a: Vec<OsString> = Vec::new();
        let mut push = |s: String| a.push(OsString::from(s));
        for s in self.accel.args() {
            push(s.to_string());
        }
        push("-smp".into());
        push(self.cpus.to_string());
        push("-m".into());
        push(self.memory_mib.to_string());
        for s in [
            "-nodefaults",
            "-no-user-config",
            "-display",
            "none",
            "-no-reboot",
        ] {
            push(s.into());
        }
        push("-monitor".into());
        push("none".into());
        push("-serial".into());
        push(format!("file:{}", self.console_log.display()));
        push("-pidfile".into());
        push(self.pidfile.to_string_lossy().into_owned());
        push("-kernel".into());
        push(self.kernel.to_string_lossy().into_owned());
        push("-initrd".into());
        push(self.initrd.to_string_lossy().into_owned());
        push("-append".into());
        push(self.cmdline.clone());
        // The mux: a virtio-serial port whose host end is a unix socket QEMU listens on.
        push("-device".into());
        push("virtio-serial-pci".into());
        push("-chardev".into());
        push(format!(
            "socket,id=mux,path={},server=on,wait=off",
            opt_escape(&self.mux_socket)
        ));
        push("-device".into());
        push(format!("virtserialport,chardev=mux,name={PORT_NAME}"));
        push("-drive".into());
        push(format!(
            "file={},if=virtio,format=qcow2,discard=unmap",
            opt_escape(&self.disk)
        ));
        for (i, dir) in self.shares.iter().enumerate() {
            // `none`: files the guest's root creates belong to the user running QEMU on the
            // host, with the modes the guest asked for; the host's files show their real owners.
            push("-virtfs".into());
            push(format!(
                "local,path={},mount_tag=share{i},security_model=none,multidevs=remap",
                opt_escape(dir)
            ));
        }
        push("-netdev".into());
        match &self.network {
            Network::Nat => push("user,id=net0".into()),
            Network::Restricted { host_ports, relay } => {
                let mut s = String::from("user,id=net0,restrict=on");
                for p in host_ports {
                    s.push_str(&format!(
                        ",guestfwd=tcp:{RESTRICTED_HOST_ALIAS}:{p}-cmd:{} __relay 127.0.0.1:{p}",
                        opt_escape(relay)
                    ));
                }
                push(s);
            }
        }
        push("-device".into());
        push("virtio-net-pci,netdev=net0".into());
        a
    }

    pub fn command(&self) -> tokio::process::Command {
        let mut cmd = tokio::process::Command::new(&self.qemu);
        cmd.args(self.args());
        cmd
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DiskError {
    #[error("running {0}: {1}")]
    Spawn(String, std::io::Error),
    #[error("qemu-img create {path}: {stderr}")]
    Failed { path: PathBuf, stderr: String },
}

/// Creates the data disk (qcow2: it takes host space only as the guest writes) unless it
/// exists; the guest formats it on first boot.
pub fn ensure_disk(qemu_img: &Path, path: &Path, size: &str) -> Result<bool, DiskError> {
    if path.exists() {
        return Ok(false);
    }
    let out = Command::new(qemu_img)
        .args(["create", "-q", "-f", "qcow2"])
        .arg(path)
        .arg(size)
        .output()
        .map_err(|e| DiskError::Spawn(qemu_img.display().to_string(), e))?;
    if !out.status.success() {
        return Err(DiskError::Failed {
            path: path.to_path_buf(),
            stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
        });
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(network: Network) -> QemuSpec {
        QemuSpec {
            qemu: "qemu-system-x86_64".into(),
            accel: Accel::Tcg,
            kernel: "/g/vmlinuz".into(),
            initrd: "/g/initrd".into(),
            cmdline: "console=ttyS0".into(),
            cpus: 2,
            memory_mib: 2048,
            disk: "/vm/data,1.qcow2".into(),
            mux_socket: "/vm/mux.sock".into(),
            console_log: "/vm/console.log".into(),
            pidfile: "/vm/qemu.pid".into(),
            shares: vec!["/home/u".into()],
            network,
        }
    }

    fn joined(s: &QemuSpec) -> String {
        s.args()
            .iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect::<Vec<_>>()
            .join(" ")
    }

    #[test]
    fn the_command_line_has_the_mux_disk_share_and_nat() {
        let line = joined(&spec(Network::Nat));
        for part in [
            "-accel tcg,thread=single",
            "-smp 2 -m 2048",
            "socket,id=mux,path=/vm/mux.sock,server=on,wait=off",
            "virtserialport,chardev=mux,name=berth.mux",
            "file=/vm/data,,1.qcow2,if=virtio,format=qcow2",
            "local,path=/home/u,mount_tag=share0,security_model=none",
            "-netdev user,id=net0 ",
            "-serial file:/vm/console.log",
        ] {
            assert!(line.contains(part), "{part:?} missing from {line}");
        }
    }

    #[test]
    fn restricted_networking_forwards_only_listed_host_ports() {
        let line = joined(&spec(Network::Restricted {
            host_ports: vec![5000, 5001],
            relay: "/bin/berth-vm".into(),
        }));
        assert!(line.contains("restrict=on"), "{line}");
        assert!(
            line.contains("guestfwd=tcp:10.0.2.254:5000-cmd:/bin/berth-vm __relay 127.0.0.1:5000")
        );
        assert!(line.contains("guestfwd=tcp:10.0.2.254:5001-cmd:"));
    }

    #[test]
    fn a_new_disk_is_made_once() {
        let dir = tempfile::tempdir().expect("tempdir");
        let disk = dir.path().join("data.qcow2");
        let img = Path::new("qemu-img");
        assert!(ensure_disk(img, &disk, "1G").expect("create"));
        assert!(!ensure_disk(img, &disk, "1G").expect("exists"));
        let info = Command::new(img)
            .args(["info", "--output=json"])
            .arg(&disk)
            .output()
            .expect("qemu-img info");
        let v: serde_json::Value = serde_json::from_slice(&info.stdout).expect("json");
        assert_eq!(v["format"], "qcow2");
        assert_eq!(v["virtual-size"], 1024u64 * 1024 * 1024);
        assert!(matches!(
            ensure_disk(img, &dir.path().join("no/such/dir.qcow2"), "1G"),
            Err(DiskError::Failed { .. })
        ));
    }
}
