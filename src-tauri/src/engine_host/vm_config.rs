//! What the VM engine host is made of, found without starting anything: the settings turned into
//! a [`VmHostConfig`], QEMU and the guest image looked up, and the problems a user can fix
//! (QEMU missing, no guest image) as data the UI translates (es/en).

use std::ffi::OsStr;
use std::path::{Path, PathBuf};

use berth_vm::qemu::{Accel, Network};
use berth_vm::VmConfig;
use serde::Serialize;
use ts_rs::TS;

use super::native::find_on_path;

/// The guest image's two files, as `scripts/vm-guest.sh` writes them.
pub const GUEST_KERNEL: &str = "vmlinuz";
pub const GUEST_INITRD: &str = "initramfs.img";
/// Where the bundle puts them, under the app's resource dir (`tauri.vm.conf.json`).
pub const GUEST_RESOURCE_DIR: &str = "vm-guest";

/// The operating systems the app knows how to tell to install QEMU.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "lowercase")]
pub enum Platform {
    Linux,
    Macos,
    Windows,
}

impl Platform {
    pub fn current() -> Platform {
        if cfg!(target_os = "macos") {
            Platform::Macos
        } else if cfg!(target_os = "windows") {
            Platform::Windows
        } else {
            Platform::Linux
        }
    }

    /// How to get QEMU here (English; the UI has its own es/en text per platform).
    pub fn install_hint(self) -> &'static str {
        match self {
            Platform::Linux => "sudo apt install qemu-system-x86 qemu-utils",
            Platform::Macos => "brew install qemu",
            Platform::Windows => "the QEMU installer for Windows (qemu.org/download)",
        }
    }

    /// On macOS and Windows there is no native engine: the VM is the only mode.
    pub fn vm_only(self) -> bool {
        self != Platform::Linux
    }
}

/// Something the user must fix before the VM can start.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "camelCase", tag = "kind")]
pub enum VmProblem {
    /// `program` (qemu-system-x86_64 or qemu-img) is not installed where the app looks.
    QemuMissing { program: String, platform: Platform },
    /// The guest kernel/initramfs are not in the app's resources nor in `$BERTH_VM_GUEST`.
    GuestMissing { path: String },
    /// Starting or running the VM failed; the message says why.
    Failed { message: String },
}

impl std::fmt::Display for VmProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            VmProblem::QemuMissing { program, platform } => write!(
                f,
                "QEMU is not installed ({program} was not found). Install it: {}",
                platform.install_hint()
            ),
            VmProblem::GuestMissing { path } => write!(
                f,
                "The VM's guest image is missing ({path}); reinstall Berth, or set BERTH_VM_GUEST \
                 to the dir scripts/vm-guest.sh prints"
            ),
            VmProblem::Failed { message } => f.write_str(message),
        }
    }
}

/// The VM's size, as the settings hold it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VmSize {
    pub cpus: u32,
    pub memory_mib: u32,
    /// The data disk's limit (it grows on demand up to this).
    pub disk_gib: u32,
}

/// Everything the VM host needs; lookups already done, so it can be built in tests by hand.
#[derive(Debug, Clone)]
pub struct VmHostConfig {
    /// The VM's state dir (0700): data disk, host socket, boot log.
    pub dir: PathBuf,
    /// The host engine socket (0600) the desktop and the docker CLI use.
    pub socket: PathBuf,
    /// The guest image dir (holding `vmlinuz`, `initramfs.img`), if one was found.
    pub guest: Result<PathBuf, VmProblem>,
    pub qemu: Result<PathBuf, VmProblem>,
    pub qemu_img: Result<PathBuf, VmProblem>,
    pub size: VmSize,
    pub shares: Vec<PathBuf>,
    pub network: Network,
    pub insecure_registries: Vec<String>,
    /// None: probe kvm/hvf/whpx, else TCG.
    pub accel: Option<Accel>,
}

impl VmHostConfig {
    /// The library's config, or the first thing the user must fix.
    pub fn vm_config(&self) -> Result<VmConfig, VmProblem> {
        let qemu = self.qemu.clone()?;
        let qemu_img = self.qemu_img.clone()?;
        let guest = self.guest.clone()?;
        Ok(VmConfig {
            dir: self.dir.clone(),
            socket: self.socket.clone(),
            kernel: guest.join(GUEST_KERNEL),
            initrd: guest.join(GUEST_INITRD),
            cpus: self.size.cpus,
            memory_mib: self.size.memory_mib,
            disk_size: format!("{}G", self.size.disk_gib),
            shares: self.shares.clone(),
            network: self.network.clone(),
            insecure_registries: self.insecure_registries.clone(),
            accel: self.accel,
            qemu,
            qemu_img,
        })
    }
}

/// The user's Berth folder for the VM: `$XDG_DATA_HOME/berth/vm`, else
/// `~/.local/share/berth/vm` (the same as `berth-vm`'s default, so the CLI sees the same disk).
pub fn default_vm_dir(var: impl Fn(&str) -> Option<String>) -> Option<PathBuf> {
    if let Some(d) = var("BERTH_VM_DIR").filter(|d| !d.is_empty()) {
        return Some(PathBuf::from(d));
    }
    if let Some(d) = var("XDG_DATA_HOME").filter(|d| Path::new(d).is_absolute()) {
        return Some(PathBuf::from(d).join("berth/vm"));
    }
    var("HOME")
        .filter(|h| !h.is_empty())
        .map(|h| PathBuf::from(h).join(".local/share/berth/vm"))
}

/// The QEMU program names for this platform (the guest is x86-64).
fn qemu_names(platform: Platform) -> (&'static str, &'static str) {
    match platform {
        Platform::Windows => ("qemu-system-x86_64.exe", "qemu-img.exe"),
        _ => ("qemu-system-x86_64", "qemu-img"),
    }
}

/// Dirs QEMU's installers use that a GUI app's `PATH` often lacks (Homebrew's on macOS, the
/// installer's default on Windows); searched after `PATH`.
fn extra_qemu_dirs(platform: Platform) -> &'static [&'static str] {
    match platform {
        Platform::Linux => &[],
        Platform::Macos => &["/opt/homebrew/bin", "/usr/local/bin"],
        Platform::Windows => &["C:\\Program Files\\qemu"],
    }
}

/// `qemu-system-x86_64` and `qemu-img`: `$BERTH_QEMU` (the system emulator; qemu-img beside
/// it), else on `PATH`, else the platform's usual install dirs.
pub fn find_qemu(
    platform: Platform,
    explicit: Option<&Path>,
    path_var: Option<&OsStr>,
) -> (Result<PathBuf, VmProblem>, Result<PathBuf, VmProblem>) {
    let (system, img) = qemu_names(platform);
    let missing = |program: &str| VmProblem::QemuMissing {
        program: program.to_string(),
        platform,
    };
    if let Some(q) = explicit {
        let img_path = q.with_file_name(img);
        let img_found = if img_path.exists() {
            Ok(img_path)
        } else {
            find_on_path(img, path_var).ok_or_else(|| missing(img))
        };
        return (Ok(q.to_path_buf()), img_found);
    }
    let extra: Vec<PathBuf> = extra_qemu_dirs(platform)
        .iter()
        .map(PathBuf::from)
        .collect();
    let find = |name: &str| {
        find_on_path(name, path_var)
            .or_else(|| extra.iter().map(|d| d.join(name)).find(|p| p.is_file()))
            .ok_or_else(|| missing(name))
    };
    (find(system), find(img))
}

/// The guest image dir: `$BERTH_VM_GUEST` when set (development; pointing nowhere is an
/// error, never a silent fall back), else the bundle's resources.
pub fn find_guest(
    env_guest: Option<&Path>,
    resource_dir: Option<&Path>,
) -> Result<PathBuf, VmProblem> {
    let dir = match (env_guest, resource_dir) {
        (Some(d), _) => d.to_path_buf(),
        (None, Some(r)) => r.join(GUEST_RESOURCE_DIR),
        (None, None) => {
            return Err(VmProblem::GuestMissing {
                path: "no resource dir".into(),
            })
        }
    };
    if dir.join(GUEST_KERNEL).is_file() && dir.join(GUEST_INITRD).is_file() {
        Ok(dir)
    } else {
        Err(VmProblem::GuestMissing {
            path: dir.display().to_string(),
        })
    }
}

/// The VM's size from the settings, clamped to what this machine has (a setting made on a
/// bigger machine must not stop the VM from starting here).
pub fn clamp_size(wanted: VmSize, host_cpus: u32, host_memory_mib: u32) -> VmSize {
    VmSize {
        cpus: wanted.cpus.clamp(1, host_cpus.max(1)),
        // Leave the host at least 1 GiB; the guest needs 512 MiB at the least.
        memory_mib: wanted
            .memory_mib
            .clamp(512, host_memory_mib.saturating_sub(1024).max(512)),
        disk_gib: wanted.disk_gib.clamp(MIN_DISK_GIB, MAX_DISK_GIB),
    }
}

pub const MIN_DISK_GIB: u32 = 4;
pub const MAX_DISK_GIB: u32 = 2048;

/// This machine's CPUs and memory (MiB), for the settings' limits.
pub fn host_resources() -> (u32, u32) {
    let cpus = std::thread::available_parallelism()
        .map(|n| u32::try_from(n.get()).unwrap_or(u32::MAX))
        .unwrap_or(1);
    let mem = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| mem_total_mib(&m))
        .unwrap_or(4096);
    (cpus, mem)
}

/// `MemTotal:  16318412 kB` → MiB.
fn mem_total_mib(meminfo: &str) -> Option<u32> {
    let line = meminfo.lines().find(|l| l.starts_with("MemTotal:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    u32::try_from(kib / 1024).ok()
}

/// The shares by default: the user's home, so `-v "$HOME/site:/site"` works unchanged.
pub fn default_shares(home: Option<&OsStr>) -> Vec<PathBuf> {
    home.map(PathBuf::from)
        .filter(|h| h.is_absolute())
        .into_iter()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(dir: &Path) -> VmHostConfig {
        VmHostConfig {
            dir: dir.join("vm"),
            socket: dir.join("vm/docker.sock"),
            guest: Ok(dir.join("guest")),
            qemu: Ok(PathBuf::from("/usr/bin/qemu-system-x86_64")),
            qemu_img: Ok(PathBuf::from("/usr/bin/qemu-img")),
            size: VmSize {
                cpus: 2,
                memory_mib: 2048,
                disk_gib: 64,
            },
            shares: vec![PathBuf::from("/home/ana")],
            network: Network::Nat,
            insecure_registries: vec![],
            accel: None,
        }
    }

    #[test]
    fn settings_become_the_vm_config() {
        let dir = Path::new("/b");
        let c = config(dir).vm_config().expect("complete");
        assert_eq!(c.kernel, PathBuf::from("/b/guest/vmlinuz"));
        assert_eq!(c.initrd, PathBuf::from("/b/guest/initramfs.img"));
        assert_eq!((c.cpus, c.memory_mib), (2, 2048));
        assert_eq!(c.disk_size, "64G");
        assert_eq!(c.socket, PathBuf::from("/b/vm/docker.sock"));
        assert_eq!(c.shares, vec![PathBuf::from("/home/ana")]);
        assert_eq!(c.accel, None);
    }

    #[test]
    fn what_is_missing_is_said_first_qemu_then_the_image() {
        let mut c = config(Path::new("/b"));
        c.guest = Err(VmProblem::GuestMissing { path: "/x".into() });
        c.qemu = Err(VmProblem::QemuMissing {
            program: "qemu-system-x86_64".into(),
            platform: Platform::Linux,
        });
        let p = c.vm_config().expect_err("no qemu");
        assert!(matches!(p, VmProblem::QemuMissing { .. }));
        let msg = p.to_string();
        assert!(msg.contains("apt install qemu-system-x86"), "{msg}");
        c.qemu = Ok(PathBuf::from("/q"));
        let msg = c.vm_config().expect_err("no image").to_string();
        assert!(msg.contains("guest image is missing (/x)"), "{msg}");
    }

    #[test]
    fn install_hints_per_platform() {
        let msg = |platform| {
            VmProblem::QemuMissing {
                program: "qemu-img".into(),
                platform,
            }
            .to_string()
        };
        assert!(msg(Platform::Macos).contains("brew install qemu"));
        assert!(msg(Platform::Windows).contains("installer"));
        assert!(!Platform::Linux.vm_only());
        assert!(Platform::Macos.vm_only() && Platform::Windows.vm_only());
        let json = serde_json::to_value(VmProblem::QemuMissing {
            program: "qemu-img".into(),
            platform: Platform::Macos,
        })
        .expect("json");
        assert_eq!(
            json,
            serde_json::json!({"kind": "qemuMissing", "program": "qemu-img", "platform": "macos"})
        );
    }

    #[test]
    fn finds_qemu_on_path_or_says_which_program_is_missing() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("tmp");
        let path_var = dir.path().as_os_str().to_owned();
        let (q, i) = find_qemu(Platform::Linux, None, Some(&path_var));
        assert!(
            matches!(q, Err(VmProblem::QemuMissing { ref program, .. }) if program == "qemu-system-x86_64")
        );
        assert!(
            matches!(i, Err(VmProblem::QemuMissing { ref program, .. }) if program == "qemu-img")
        );
        for name in ["qemu-system-x86_64", "qemu-img"] {
            let p = dir.path().join(name);
            std::fs::write(&p, "#!/bin/sh\n").expect("write");
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        }
        let (q, i) = find_qemu(Platform::Linux, None, Some(&path_var));
        assert_eq!(q, Ok(dir.path().join("qemu-system-x86_64")));
        assert_eq!(i, Ok(dir.path().join("qemu-img")));
        // An explicit emulator brings its qemu-img from beside it.
        let (q, i) = find_qemu(
            Platform::Linux,
            Some(&dir.path().join("qemu-system-x86_64")),
            None,
        );
        assert_eq!(q, Ok(dir.path().join("qemu-system-x86_64")));
        assert_eq!(i, Ok(dir.path().join("qemu-img")));
    }

    #[test]
    fn finds_the_guest_in_the_env_then_the_resources() {
        let dir = tempfile::tempdir().expect("tmp");
        let res = dir.path().join("res");
        let guest = res.join(GUEST_RESOURCE_DIR);
        let env = dir.path().join("dev-guest");
        assert!(matches!(
            find_guest(Some(&env), Some(&res)),
            Err(VmProblem::GuestMissing { ref path }) if path == &env.display().to_string()
        ));
        std::fs::create_dir_all(&guest).expect("mkdir");
        std::fs::write(guest.join(GUEST_KERNEL), "k").expect("write");
        // Half an image is no image.
        assert!(find_guest(None, Some(&res)).is_err());
        std::fs::write(guest.join(GUEST_INITRD), "i").expect("write");
        assert_eq!(find_guest(None, Some(&res)), Ok(guest.clone()));
        // An explicit dir that is not there is an error, not a fall back to the resources.
        assert!(find_guest(Some(&env), Some(&res)).is_err());
        std::fs::create_dir_all(&env).expect("mkdir");
        std::fs::write(env.join(GUEST_KERNEL), "k").expect("write");
        std::fs::write(env.join(GUEST_INITRD), "i").expect("write");
        assert_eq!(find_guest(Some(&env), Some(&res)), Ok(env));
    }

    #[test]
    fn sizes_are_clamped_to_this_machine() {
        let s = clamp_size(
            VmSize {
                cpus: 64,
                memory_mib: 65536,
                disk_gib: 1,
            },
            4,
            8192,
        );
        assert_eq!(
            s,
            VmSize {
                cpus: 4,
                memory_mib: 7168,
                disk_gib: MIN_DISK_GIB
            }
        );
        let tiny = clamp_size(
            VmSize {
                cpus: 0,
                memory_mib: 100,
                disk_gib: 64,
            },
            1,
            1024,
        );
        assert_eq!((tiny.cpus, tiny.memory_mib, tiny.disk_gib), (1, 512, 64));
    }

    #[test]
    fn reads_meminfo_and_dirs() {
        assert_eq!(
            mem_total_mib("MemTotal:       16318412 kB\nMemFree: 1 kB\n"),
            Some(15935)
        );
        assert_eq!(mem_total_mib("nothing"), None);
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |k: &str| {
                pairs
                    .iter()
                    .find(|(key, _)| *key == k)
                    .map(|(_, v)| v.to_string())
            }
        };
        assert_eq!(
            default_vm_dir(env(&[("HOME", "/home/ana")])),
            Some(PathBuf::from("/home/ana/.local/share/berth/vm"))
        );
        assert_eq!(
            default_vm_dir(env(&[("HOME", "/home/ana"), ("XDG_DATA_HOME", "/d")])),
            Some(PathBuf::from("/d/berth/vm"))
        );
        assert_eq!(
            default_vm_dir(env(&[("BERTH_VM_DIR", "/t/vm"), ("HOME", "/h")])),
            Some(PathBuf::from("/t/vm"))
        );
        assert_eq!(default_vm_dir(env(&[])), None);
        assert_eq!(
            default_shares(Some(OsStr::new("/home/ana"))),
            vec![PathBuf::from("/home/ana")]
        );
        assert!(default_shares(Some(OsStr::new("rel"))).is_empty());
    }
}
