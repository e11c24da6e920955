//! What the VM tests share (tests/vm_engine.rs here, the desktop's vm_commands.rs and
//! e2e_vm_webdriver.rs): the binaries cargo built beside the test, the one guest image of
//! `scripts/vm-guest.sh` (built once, reused while its inputs are unchanged), and the processes
//! a VM dir names (what must be gone after a test).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::{berthd_bin, workspace_root};

/// A binary cargo built beside the running test (`target/<profile>/NAME`).
pub fn sibling_bin(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("test exe");
    let profile = exe
        .parent()
        .and_then(Path::parent)
        .expect("target/<profile>/deps/<test>");
    let bin = profile.join(name);
    assert!(
        bin.exists(),
        "{} missing: cargo build -j2 --workspace --bins",
        bin.display()
    );
    bin
}

/// The guest image dir (`vmlinuz`, `initramfs.img`), built or reused by scripts/vm-guest.sh.
pub fn guest_image() -> PathBuf {
    let script = workspace_root().join("scripts/vm-guest.sh");
    let out = Command::new(&script)
        .arg(berthd_bin())
        .arg(sibling_bin("berth-vm-agent"))
        .stderr(Stdio::inherit())
        .output()
        .unwrap_or_else(|e| panic!("run {}: {e}", script.display()));
    assert!(out.status.success(), "{} failed", script.display());
    PathBuf::from(String::from_utf8_lossy(&out.stdout).trim())
}

/// Processes whose command line names `dir` (QEMU, a VM supervisor), as `PID: CMDLINE`.
pub fn processes_naming(dir: &Path) -> Vec<String> {
    let needle = dir.to_string_lossy();
    let mut found = Vec::new();
    for e in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(cmdline) = std::fs::read(e.path().join("cmdline")) else {
            continue;
        };
        let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
        if cmdline.contains(needle.as_ref()) {
            found.push(format!("{}: {cmdline}", e.file_name().to_string_lossy()));
        }
    }
    found
}
