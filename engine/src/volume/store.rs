//! Volumes on disk: `<data-root>/volumes/<name>/_data` holds the data, `volume.json` beside it the
//! metadata. `volume.json` is written last (fsynced: it describes user data), so a create cut short
//! by a crash leaves a directory without it; removal renames the whole directory away first, so a
//! crash mid-removal never leaves half a volume that still looks usable.

use std::collections::BTreeMap;
use std::os::unix::fs::{DirBuilderExt, MetadataExt};
use std::path::{Path, PathBuf};

use anyhow::Context;
use serde::{Deserialize, Serialize};

use crate::store::{read_json, write_json, Durability};

/// What `volume.json` holds.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct VolumeRecord {
    pub name: String,
    pub driver: String,
    /// None and empty differ in the API (`null` vs `{}`), so both are kept.
    #[serde(default)]
    pub labels: Option<BTreeMap<String, String>>,
    #[serde(default)]
    pub options: Option<BTreeMap<String, String>>,
    /// RFC 3339, seconds precision, UTC.
    pub created_at: String,
}

impl VolumeRecord {
    pub fn is_anonymous(&self) -> bool {
        self.labels
            .as_ref()
            .is_some_and(|l| l.contains_key(super::ANONYMOUS_LABEL))
    }
}

const META: &str = "volume.json";
const DATA: &str = "_data";
/// Prefix of directories being removed; volume names cannot start with a dot.
const REMOVING: &str = ".removing-";

pub struct VolumeDirs {
    root: PathBuf,
}

impl VolumeDirs {
    pub fn open(data_root: &Path) -> anyhow::Result<Self> {
        let root = data_root.join("volumes");
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o701)
            .create(&root)
            .with_context(|| format!("creating {}", root.display()))?;
        Ok(VolumeDirs { root })
    }

    pub fn dir(&self, name: &str) -> PathBuf {
        self.root.join(name)
    }

    pub fn data(&self, name: &str) -> PathBuf {
        self.dir(name).join(DATA)
    }

    /// Every volume on disk. Finishes interrupted removals, drops creates that never wrote their
    /// metadata and had no data yet, and adopts a `_data` without metadata as a plain local volume
    /// (data is never thrown away on a guess).
    pub fn load_all(&self) -> anyhow::Result<Vec<VolumeRecord>> {
        let mut out = Vec::new();
        for e in std::fs::read_dir(&self.root)?.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            let dir = e.path();
            if name.starts_with(REMOVING) {
                if let Err(err) = remove_tree(&dir) {
                    tracing::warn!(dir = %dir.display(), error = %err, "finishing a volume removal");
                }
                continue;
            }
            if name.starts_with('.') || !dir.is_dir() {
                continue;
            }
            crate::store::remove_temp_files(&dir);
            let meta = dir.join(META);
            match read_json::<VolumeRecord>(&meta) {
                Ok(rec) if rec.name == name => out.push(rec),
                _ => {
                    let data = dir.join(DATA);
                    let empty = std::fs::read_dir(&data).map_or(true, |mut d| d.next().is_none());
                    if !data.is_dir() || (empty && !meta.exists()) {
                        tracing::info!(volume = %name, "removing an incomplete volume");
                        let _ = remove_tree(&dir);
                        continue;
                    }
                    tracing::warn!(volume = %name, "volume metadata missing; adopting its data");
                    let rec = VolumeRecord {
                        name: name.clone(),
                        driver: super::DEFAULT_DRIVER.into(),
                        labels: None,
                        options: None,
                        created_at: created_at_of(&dir),
                    };
                    write_json(&meta, &rec, Durability::Power)?;
                    out.push(rec);
                }
            }
        }
        Ok(out)
    }

    /// Makes the directories, then the metadata that marks the volume complete.
    pub fn create(&self, rec: &VolumeRecord) -> anyhow::Result<()> {
        let dir = self.dir(&rec.name);
        std::fs::DirBuilder::new()
            .mode(0o701)
            .create(&dir)
            .with_context(|| format!("creating volume root path {}", dir.display()))?;
        // From here on the directory is ours to clean up.
        let made = (|| -> anyhow::Result<()> {
            let data = dir.join(DATA);
            std::fs::DirBuilder::new()
                .mode(0o755)
                .create(&data)
                .with_context(|| format!("creating volume data path {}", data.display()))?;
            // The umask may have narrowed the mode; dockerd's _data is 0755.
            std::fs::set_permissions(&data, std::os::unix::fs::PermissionsExt::from_mode(0o755))?;
            write_json(&dir.join(META), rec, Durability::Power)
        })();
        if made.is_err() {
            let _ = std::fs::remove_dir_all(&dir);
        }
        made
    }

    /// Removes a volume's directory. The caller has unmounted whatever the driver mounted; anything
    /// still mounted below it is refused rather than deleted through.
    pub fn remove(&self, name: &str) -> anyhow::Result<()> {
        let dir = self.dir(name);
        let gone = self.root.join(format!(
            "{REMOVING}{name}-{}",
            hex::encode(rand::random::<[u8; 4]>())
        ));
        ensure_nothing_mounted(&dir)?;
        std::fs::rename(&dir, &gone)
            .with_context(|| format!("moving {} out of the way", dir.display()))?;
        remove_tree(&gone)
    }
}

/// `remove_dir_all` that first makes sure no mount hides below `dir`: deleting through a bind mount
/// would delete the host directory's files.
fn remove_tree(dir: &Path) -> anyhow::Result<()> {
    ensure_nothing_mounted(dir)?;
    match std::fs::remove_dir_all(dir) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e).with_context(|| format!("removing {}", dir.display())),
    }
}

fn ensure_nothing_mounted(dir: &Path) -> anyhow::Result<()> {
    for m in super::local::mounts_under(dir) {
        // Deepest first; lazily, so a busy mount does not block us.
        let _ = nix::mount::umount2(&m, nix::mount::MntFlags::MNT_DETACH);
    }
    let left = super::local::mounts_under(dir);
    anyhow::ensure!(
        left.is_empty(),
        "{} is still mounted; refusing to remove it",
        left[0].display()
    );
    Ok(())
}

/// The directory's change time, the way dockerd's local driver dates a volume.
fn created_at_of(dir: &Path) -> String {
    let secs = std::fs::metadata(dir).map(|m| m.ctime()).unwrap_or(0);
    crate::timestamp::rfc3339_secs(crate::timestamp::from_unix(secs, 0))
}

pub fn now() -> String {
    crate::timestamp::rfc3339_secs(chrono::Utc::now())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(name: &str) -> VolumeRecord {
        VolumeRecord {
            name: name.into(),
            driver: "local".into(),
            labels: Some(BTreeMap::new()),
            options: None,
            created_at: now(),
        }
    }

    #[test]
    fn create_load_remove() {
        let tmp = tempfile::tempdir().unwrap();
        let dirs = VolumeDirs::open(tmp.path()).unwrap();
        dirs.create(&rec("one")).unwrap();
        std::fs::write(dirs.data("one").join("f"), b"x").unwrap();
        assert!(dirs.create(&rec("one")).is_err(), "exists already");
        // A create cut short before its metadata, with no data: dropped.
        std::fs::create_dir_all(dirs.data("half")).unwrap();
        // Metadata lost but data present: adopted.
        std::fs::create_dir_all(dirs.data("orphan")).unwrap();
        std::fs::write(dirs.data("orphan").join("keep"), b"y").unwrap();
        // An interrupted removal: finished.
        std::fs::create_dir_all(tmp.path().join("volumes/.removing-old-1/_data")).unwrap();
        let mut names: Vec<String> = dirs
            .load_all()
            .unwrap()
            .into_iter()
            .map(|r| r.name)
            .collect();
        names.sort();
        assert_eq!(names, ["one", "orphan"]);
        assert!(!tmp.path().join("volumes/half").exists());
        assert!(!tmp.path().join("volumes/.removing-old-1").exists());
        dirs.remove("one").unwrap();
        assert!(!dirs.dir("one").exists());
        assert_eq!(dirs.load_all().unwrap().len(), 1);
    }
}
