//! The classic builder's layer cache: which image a step made on top of which parent. A step is
//! reused when the index knows an image for (parent image, step key) and that image still
//! exists. The step key holds what the step's result depends on besides its parent: the
//! instruction as expanded (with the build args a `RUN` sees) or, for `COPY`/`ADD`, a checksum
//! of the copied files' content and metadata. Kept beside the image store
//! (`<data-root>/build/cache.json`, atomic writes), so it survives a restart of berthd.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use anyhow::Context;
use sha2::{Digest, Sha256};

use crate::store::{read_json, write_json, Durability};

pub struct BuildCache {
    path: PathBuf,
    /// cache key → image ID
    entries: Mutex<BTreeMap<String, String>>,
}

/// The key of a step made on `parent` (an image ID, empty for `scratch`).
pub fn key(parent: &str, step: &str) -> String {
    let mut h = Sha256::new();
    h.update(parent.as_bytes());
    h.update(b"\n");
    h.update(step.as_bytes());
    hex::encode(h.finalize())
}

impl BuildCache {
    pub fn open(data_root: &Path) -> anyhow::Result<Self> {
        let dir = data_root.join("build");
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        let path = dir.join("cache.json");
        let entries = if path.exists() {
            match read_json(&path) {
                Ok(e) => e,
                Err(e) => {
                    // A cache is only a shortcut: start over rather than refuse to start.
                    tracing::warn!(error = %e, "unreadable build cache index; starting empty");
                    BTreeMap::new()
                }
            }
        } else {
            BTreeMap::new()
        };
        Ok(BuildCache {
            path,
            entries: Mutex::new(entries),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, String>> {
        self.entries.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The image recorded for `key`, if `exists` still says it is there.
    pub fn get(&self, key: &str, exists: impl Fn(&str) -> bool) -> Option<String> {
        let id = self.lock().get(key).cloned()?;
        exists(&id).then_some(id)
    }

    pub fn put(&self, key: &str, image_id: &str) -> anyhow::Result<()> {
        let mut entries = self.lock();
        entries.insert(key.to_string(), image_id.to_string());
        write_json(&self.path, &*entries, Durability::Process)
    }

    /// Every image the cache points at (an image may be there more than once).
    pub fn image_ids(&self) -> Vec<String> {
        self.lock().values().cloned().collect()
    }

    /// Drops the entries that point at `ids` (images removed by a prune).
    pub fn forget(&self, ids: &std::collections::HashSet<String>) -> anyhow::Result<()> {
        let mut entries = self.lock();
        let before = entries.len();
        entries.retain(|_, id| !ids.contains(id));
        if entries.len() != before {
            write_json(&self.path, &*entries, Durability::Process)?;
        }
        Ok(())
    }

    pub fn len(&self) -> usize {
        self.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn survives_reopen_and_checks_the_image() {
        let d = tempfile::tempdir().unwrap();
        let c = BuildCache::open(d.path()).unwrap();
        let k = key("sha256:parent", "RUN echo hi");
        assert_ne!(k, key("sha256:other", "RUN echo hi"));
        assert_eq!(c.get(&k, |_| true), None);
        c.put(&k, "sha256:child").unwrap();
        let c = BuildCache::open(d.path()).unwrap();
        assert_eq!(c.get(&k, |_| true).as_deref(), Some("sha256:child"));
        assert_eq!(
            c.get(&k, |_| false),
            None,
            "a removed image is no cache hit"
        );
    }
}
