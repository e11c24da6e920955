//! Metadata on disk. Writes go to a temp file and are renamed into place, so a reader (or a berthd
//! restarted after `kill -9`) sees either the old or the new file, never half of one.
//!
//! `fsync` is used only where losing the write on power loss would lose user data (images); container
//! state is rewritten on every transition and a process crash cannot lose a completed rename, so the hot
//! path (`docker run`) skips it.

pub mod lock;

use std::fs;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use anyhow::Context;
use serde::de::DeserializeOwned;
use serde::Serialize;

/// Whether a write must reach the disk before it is reported done.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Durability {
    /// Survives a crash of berthd (the rename is atomic).
    Process,
    /// Also survives power loss (fsync of file and directory).
    Power,
}

pub fn write_atomic(path: &Path, data: &[u8], durability: Durability) -> anyhow::Result<()> {
    let dir = path
        .parent()
        .with_context(|| format!("{} has no parent directory", path.display()))?;
    let name = path
        .file_name()
        .with_context(|| format!("{} has no file name", path.display()))?;
    // Unique per write: two writers of one record in this process must not share a temp file.
    static SEQ: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let seq = SEQ.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let tmp = dir.join(format!(
        ".{}.tmp{}-{seq}",
        name.to_string_lossy(),
        std::process::id()
    ));
    // Records hold environments, commands and credentials-adjacent config: owner only.
    let mut f = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp)
        .with_context(|| format!("creating {}", tmp.display()))?;
    f.write_all(data)
        .with_context(|| format!("writing {}", tmp.display()))?;
    if durability == Durability::Power {
        f.sync_all()
            .with_context(|| format!("syncing {}", tmp.display()))?;
    }
    drop(f);
    fs::rename(&tmp, path).with_context(|| format!("renaming into {}", path.display()))?;
    if durability == Durability::Power {
        if let Ok(d) = fs::File::open(dir) {
            let _ = d.sync_all();
        }
    }
    Ok(())
}

pub fn write_json<T: Serialize>(
    path: &Path,
    value: &T,
    durability: Durability,
) -> anyhow::Result<()> {
    let data = serde_json::to_vec(value).context("serializing metadata")?;
    write_atomic(path, &data, durability)
}

pub fn read_json<T: DeserializeOwned>(path: &Path) -> anyhow::Result<T> {
    let data = fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    serde_json::from_slice(&data).with_context(|| format!("parsing {}", path.display()))
}

/// Removes leftovers of writes interrupted by a crash.
pub fn remove_temp_files(dir: &Path) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name();
        let name = name.to_string_lossy();
        if name.starts_with('.') && name.contains(".tmp") {
            let _ = fs::remove_file(e.path());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_write_replaces_and_cleans() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("state.json");
        write_json(&p, &serde_json::json!({"a": 1}), Durability::Power).unwrap();
        write_json(&p, &serde_json::json!({"a": 2}), Durability::Process).unwrap();
        let v: serde_json::Value = read_json(&p).unwrap();
        assert_eq!(v["a"], 2);
        fs::write(dir.path().join(".state.json.tmp99"), b"partial").unwrap();
        remove_temp_files(dir.path());
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    }
}
