//! The OCI runtimes' own state (`DATA_ROOT/runtime/<runtime>/<id>`, runc's and crun's
//! `--root`) describes processes of the running kernel only. dockerd keeps it on tmpfs (its
//! exec root under /run); berthd keeps it in the data root, so after a reboot, or a VM whose
//! QEMU was killed, it is stale: runc then refuses to start those containers again ("container
//! with given ID already exists"). The kernel's boot ID, recorded beside it, tells: when it
//! changed, the whole directory goes before anything is loaded.

use std::path::Path;

use anyhow::Context;

const BOOT_ID: &str = "/proc/sys/kernel/random/boot_id";

/// Clears `DATA_ROOT/runtime` if it was written under another boot; true if it did.
pub fn clear_if_stale(data_root: &Path) -> anyhow::Result<bool> {
    let boot = std::fs::read_to_string(BOOT_ID).with_context(|| format!("reading {BOOT_ID}"))?;
    clear_if_other_boot(&data_root.join("runtime"), boot.trim())
}

fn clear_if_other_boot(dir: &Path, boot: &str) -> anyhow::Result<bool> {
    let mark = dir.join("boot_id");
    let recorded = std::fs::read_to_string(&mark).ok();
    if recorded.as_deref().map(str::trim) == Some(boot) {
        return Ok(false);
    }
    // No mark: a data root from before the mark existed, or a fresh one; its state is only
    // trustworthy if it is empty, so it is cleared too.
    let cleared = match std::fs::remove_dir_all(dir) {
        Ok(()) => true,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => false,
        Err(e) => return Err(e).with_context(|| format!("clearing {}", dir.display())),
    };
    if cleared {
        tracing::info!(dir = %dir.display(), "cleared the OCI runtime state of an earlier boot");
    }
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    crate::store::write_atomic(&mark, boot.as_bytes(), crate::store::Durability::Power)?;
    Ok(cleared)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_of_another_boot_is_cleared_and_this_boots_is_kept() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("runtime");
        let state = dir.join("runc/abc/state.json");
        std::fs::create_dir_all(state.parent().unwrap()).unwrap();
        std::fs::write(&state, "{}").unwrap();
        // No mark yet (written by an older berthd): cleared, marked.
        assert!(clear_if_other_boot(&dir, "boot-1").unwrap());
        assert!(!state.exists());
        // The same boot (berthd restarted, containers still running): kept.
        std::fs::create_dir_all(state.parent().unwrap()).unwrap();
        std::fs::write(&state, "{}").unwrap();
        assert!(!clear_if_other_boot(&dir, "boot-1").unwrap());
        assert!(state.exists());
        // Another boot: cleared.
        assert!(clear_if_other_boot(&dir, "boot-2").unwrap());
        assert!(!state.exists());
        assert_eq!(
            std::fs::read_to_string(dir.join("boot_id")).unwrap(),
            "boot-2"
        );
    }

    #[test]
    fn this_kernel_has_a_boot_id() {
        let root = tempfile::tempdir().unwrap();
        clear_if_stale(root.path()).unwrap();
        assert!(root.path().join("runtime/boot_id").exists());
    }
}
