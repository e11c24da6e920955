//! A throwaway VM that boots Debian's kernel on a pure cgroup v2 hierarchy, for the tests that
//! must see the engine on cgroup v2 while this machine kind is hybrid (v1 controllers).
//!
//! qemu (software emulation: no KVM needed) boots the kernel unpacked by `scripts/vm-kernel.sh`
//! with an initramfs made here: static busybox, the few modules needed to reach the host's root
//! over 9p, and `tests/vm/init`. The guest runs on the host's own root (read-only, with a tmpfs
//! overlay), so it has the same binaries at the same paths, and runs one job: a command line
//! written into a job dir shared read-write with the host, where its output and exit code land.
//! The guest has no network device: only its own loopback.

use std::collections::BTreeSet;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::process::{cleanup_dir, spawn_tied, terminate};

/// Modules the initramfs loads (with their dependencies) before it can mount the host's root.
const BOOT_MODULES: &[&str] = &["virtio_pci", "9pnet_virtio", "9p", "overlay"];

/// What a guest job left behind.
#[derive(Debug)]
pub struct VmRun {
    /// The job's exit code; None when the VM ended (or timed out) before the job finished.
    pub status: Option<i32>,
    /// The job's stdout and stderr, interleaved.
    pub output: String,
    /// The serial console: kernel messages and the init scripts' own lines.
    pub console: String,
}

impl VmRun {
    pub fn success(&self) -> bool {
        self.status == Some(0)
    }
}

/// Is this host itself on a pure cgroup v2 hierarchy (no VM needed)?
pub fn host_is_cgroup_v2() -> bool {
    Path::new("/sys/fs/cgroup/cgroup.controllers").exists()
}

/// The unpacked guest kernel: `vmlinuz` and its modules tree.
struct GuestKernel {
    vmlinuz: PathBuf,
    modules: PathBuf,
}

impl GuestKernel {
    /// Runs `scripts/vm-kernel.sh` (a no-op once the kernel is unpacked) and finds its files.
    fn fetch() -> GuestKernel {
        let script = crate::workspace_root().join("scripts/vm-kernel.sh");
        let out = Command::new(&script)
            .stderr(Stdio::inherit())
            .output()
            .unwrap_or_else(|e| panic!("run {}: {e}", script.display()));
        assert!(out.status.success(), "{} failed", script.display());
        let dir = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
        let version = std::fs::read_to_string(dir.join(".complete")).expect("kernel version");
        let version = version.trim();
        GuestKernel {
            vmlinuz: dir.join(format!("boot/vmlinuz-{version}")),
            modules: dir.join(format!("lib/modules/{version}")),
        }
    }

    /// `names` and everything they depend on, dependencies first, as paths relative to the
    /// modules dir (from depmod's `modules.dep`: `kernel/a.ko: kernel/b.ko kernel/c.ko`).
    fn load_order(&self, names: &[&str]) -> Vec<String> {
        let dep = std::fs::read_to_string(self.modules.join("modules.dep"))
            .expect("read modules.dep (scripts/vm-kernel.sh runs depmod)");
        let entries: Vec<(&str, Vec<&str>)> = dep
            .lines()
            .filter_map(|l| {
                let (m, deps) = l.split_once(':')?;
                Some((m, deps.split_whitespace().collect()))
            })
            .collect();
        let find = |name: &str| {
            entries
                .iter()
                .find(|(m, _)| module_name(m) == name)
                .map(|(m, _)| *m)
        };
        fn visit<'a>(
            m: &'a str,
            entries: &[(&'a str, Vec<&'a str>)],
            seen: &mut BTreeSet<&'a str>,
            order: &mut Vec<String>,
        ) {
            if !seen.insert(m) {
                return;
            }
            if let Some((_, deps)) = entries.iter().find(|(e, _)| *e == m) {
                for d in deps {
                    visit(d, entries, seen, order);
                }
            }
            order.push(m.to_string());
        }
        let mut seen = BTreeSet::new();
        let mut order = Vec::new();
        for name in names {
            // A module built into this kernel has no line in modules.dep: nothing to load.
            if let Some(m) = find(name) {
                visit(m, &entries, &mut seen, &mut order);
            }
        }
        order
    }
}

/// `kernel/fs/9p/9p.ko` → `9p` (module names treat `-` and `_` alike).
fn module_name(path: &str) -> String {
    let file = path.rsplit('/').next().unwrap_or(path);
    let base = file.split(".ko").next().unwrap_or(file);
    base.replace('-', "_")
}

/// Writes the initramfs (a gzip'ed newc cpio, made by busybox's cpio) to `out`.
fn build_initramfs(kernel: &GuestKernel, staging: &Path, out: &Path) {
    let modules_dir = staging.join("modules");
    for d in ["bin", "proc", "sys", "dev", "modules"] {
        std::fs::create_dir_all(staging.join(d)).expect("initramfs dirs");
    }
    std::fs::copy("/bin/busybox", staging.join("bin/busybox"))
        .expect("copy /bin/busybox (apt-get install busybox-static)");
    let init = crate::workspace_root().join("tests/vm/init");
    std::fs::copy(&init, staging.join("init")).expect("copy tests/vm/init");
    // The kernel execs /init: it must be executable whatever mode the checkout gave the file.
    std::fs::set_permissions(staging.join("init"), std::fs::Permissions::from_mode(0o755))
        .expect("chmod /init");
    let mut order = String::new();
    for rel in kernel.load_order(BOOT_MODULES) {
        let name = module_name(&rel);
        std::fs::copy(
            kernel.modules.join(&rel),
            modules_dir.join(format!("{name}.ko")),
        )
        .unwrap_or_else(|e| panic!("copy module {rel}: {e}"));
        order.push_str(&name);
        order.push('\n');
    }
    std::fs::write(modules_dir.join("order"), order).expect("write module order");

    let list: String = walk(staging)
        .iter()
        .map(|p| {
            let rel = p.strip_prefix(staging).expect("under staging");
            format!("./{}\n", rel.display())
        })
        .collect();
    let list_path = staging.with_extension("list");
    std::fs::write(&list_path, list).expect("write cpio file list");
    let archive = Command::new("/bin/busybox")
        .args(["cpio", "-o", "-H", "newc"])
        .current_dir(staging)
        .stdin(std::fs::File::open(&list_path).expect("open cpio file list"))
        .stderr(Stdio::null())
        .output()
        .expect("run busybox cpio");
    assert!(archive.status.success(), "busybox cpio failed");
    let mut gz = flate2::write::GzEncoder::new(
        std::fs::File::create(out).expect("create initramfs"),
        flate2::Compression::fast(),
    );
    gz.write_all(&archive.stdout).expect("write initramfs");
    gz.finish().expect("finish initramfs");
}

/// Every path under `dir` (dirs before their contents).
fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                stack.push(p.clone());
            }
            out.push(p);
        }
    }
    out.sort();
    out
}

/// `'…'` quoting for sh.
fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// Variables the guest job inherits from the test process (paths of the binaries under test,
/// timeouts, logging); everything else starts clean.
const PASSED_ENV: &[&str] = &[
    "BERTHD_BIN",
    "DOCKER_BIN",
    "BERTH_DOCKER_TIMEOUT_SECS",
    "RUST_BACKTRACE",
    "RUST_LOG",
    "HOME",
];

/// Boots the cgroup v2 VM and runs `commands` in it one after the other (cwd: the job dir; env:
/// [`PASSED_ENV`] plus `env`); returns what they printed and an exit code that is 0 only when
/// every command succeeded. The VM is killed after `timeout`.
pub fn run_in_cgroup_v2_vm(
    commands: &[Vec<String>],
    env: &[(&str, &str)],
    timeout: Duration,
) -> VmRun {
    let kernel = GuestKernel::fetch();
    let job = crate::make_temp_dir("berth-vm-");
    let run = boot(&kernel, &job, commands, env, timeout);
    cleanup_dir(&job);
    run
}

/// The guest's job: each command in turn, a failure noted but not stopping the rest.
fn job_script(commands: &[Vec<String>]) -> String {
    let mut script = String::from("status=0\n");
    for argv in commands {
        let line: Vec<String> = argv.iter().map(|a| shell_quote(a)).collect();
        let line = line.join(" ");
        script.push_str(&format!(
            "echo {}\n{line} || status=1\n",
            shell_quote(&format!("=== {line}"))
        ));
    }
    script.push_str("exit $status\n");
    script
}

fn boot(
    kernel: &GuestKernel,
    job: &Path,
    commands: &[Vec<String>],
    env: &[(&str, &str)],
    timeout: Duration,
) -> VmRun {
    let initramfs = job.join("initramfs.gz");
    build_initramfs(kernel, &job.join("initramfs"), &initramfs);
    std::fs::copy(
        crate::workspace_root().join("tests/vm/guest.sh"),
        job.join("guest.sh"),
    )
    .expect("copy tests/vm/guest.sh");
    std::fs::write(
        job.join("modules-dir"),
        kernel.modules.to_string_lossy().as_bytes(),
    )
    .expect("write modules-dir");
    let mut vars = String::new();
    for k in PASSED_ENV {
        if let Ok(v) = std::env::var(k) {
            vars.push_str(&format!("export {k}={}\n", shell_quote(&v)));
        }
    }
    // The guest's tmpfs (tests/vm/init), not /tmp: the engine's overlays cannot sit on the
    // guest's overlay root, and a harness in the guest would sweep the job dir (under the host's
    // temp dir) as one whose owner is gone.
    vars.push_str("export BERTH_TEST_TMPDIR=/berth-vm/tests TMPDIR=/berth-vm/tmp\n");
    for (k, v) in env {
        vars.push_str(&format!("export {k}={}\n", shell_quote(v)));
    }
    std::fs::write(job.join("env"), vars).expect("write job env");
    std::fs::write(job.join("job.sh"), job_script(commands)).expect("write job.sh");

    let console_path = job.join("console.log");
    let console = std::fs::File::create(&console_path).expect("create console.log");
    let mut qemu = Command::new("qemu-system-x86_64");
    qemu.args(["-accel", "tcg,thread=multi", "-cpu", "max", "-smp", "2"])
        .args(["-m", "3072", "-nographic", "-no-reboot", "-nic", "none"])
        .args(["-monitor", "none", "-serial", "stdio"])
        .arg("-virtfs")
        .arg("local,path=/,mount_tag=host,security_model=none,readonly=on,multidevs=remap")
        .arg("-virtfs")
        .arg(format!(
            "local,path={},mount_tag=job,security_model=none",
            job.display()
        ))
        .arg("-kernel")
        .arg(&kernel.vmlinuz)
        .arg("-initrd")
        .arg(&initramfs)
        .arg("-append")
        .arg(format!(
            "console=ttyS0 quiet panic=-1 berth.job={}",
            job.display()
        ))
        .stdin(Stdio::null())
        .stdout(console.try_clone().expect("clone console.log"))
        .stderr(console);
    let mut child =
        spawn_tied(qemu).expect("run qemu-system-x86_64 (apt-get install qemu-system-x86)");
    let deadline = Instant::now() + timeout;
    let finished = loop {
        match child.try_wait() {
            Ok(Some(_)) => break true,
            Ok(None) if Instant::now() >= deadline => break false,
            Ok(None) => std::thread::sleep(Duration::from_millis(200)),
            Err(e) => panic!("waiting for qemu: {e}"),
        }
    };
    if !finished {
        eprintln!("[vm] timed out after {timeout:?}; killing qemu");
        terminate(&mut child, Duration::from_secs(5));
    }
    let read = |name: &str| std::fs::read_to_string(job.join(name)).unwrap_or_default();
    VmRun {
        status: read("exit").trim().parse().ok(),
        output: read("output"),
        console: read("console.log"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn module_names_from_paths() {
        assert_eq!(module_name("kernel/fs/9p/9p.ko"), "9p");
        assert_eq!(
            module_name("kernel/drivers/virtio/virtio-pci.ko.xz"),
            "virtio_pci"
        );
    }

    #[test]
    fn job_runs_every_command_and_fails_if_one_did() {
        let cmds = vec![
            vec!["false".to_string()],
            vec!["echo".to_string(), "a b".to_string()],
        ];
        let script = job_script(&cmds);
        let out = Command::new("sh")
            .arg("-c")
            .arg(&script)
            .output()
            .expect("sh");
        assert_eq!(out.status.code(), Some(1));
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            "=== 'false'\n=== 'echo' 'a b'\na b\n"
        );
    }

    #[test]
    fn quoting_survives_quotes() {
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
    }
}
