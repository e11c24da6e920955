//! The image index: image records (`images/<hex>.json`) and the tag index (`images/tags.json`).
//! Image configs live in the content store; unpacked layers in the snapshotter.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::RwLock;

use anyhow::Context;
use serde::{Deserialize, Serialize};

use super::reference;
use crate::api::types::ImageConfigBlob;
use crate::error::{EngineError, Result};
use crate::store::{read_json, write_json, Durability};

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct LayerRecord {
    pub diff_id: String,
    pub chain_id: String,
    /// Digest of the (usually compressed) blob in the content store, when we have it.
    pub blob: Option<String>,
    pub media_type: String,
    /// Unpacked size in bytes.
    pub size: u64,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ImageRecord {
    /// `sha256:` digest of the config blob.
    pub id: String,
    pub config: ImageConfigBlob,
    pub layers: Vec<LayerRecord>,
    /// Canonical `registry/repo@sha256:…` names this image was pulled by.
    #[serde(default)]
    pub repo_digests: Vec<String>,
    /// Unix seconds from the config's `created`.
    pub created: i64,
    pub size: u64,
}

impl ImageRecord {
    pub fn chain_ids(&self) -> Vec<String> {
        self.layers.iter().map(|l| l.chain_id.clone()).collect()
    }
}

#[derive(Default, Serialize, Deserialize)]
struct TagIndex {
    /// canonical `registry/repo:tag` → image id
    tags: BTreeMap<String, String>,
}

#[derive(Default)]
struct Inner {
    images: HashMap<String, ImageRecord>,
    tags: BTreeMap<String, String>,
}

pub struct ImageStore {
    dir: PathBuf,
    inner: RwLock<Inner>,
}

fn not_found(name: &str) -> EngineError {
    EngineError::NotFound(format!("No such image: {name}"))
}

impl ImageStore {
    pub fn open(data_root: &Path) -> anyhow::Result<Self> {
        let dir = data_root.join("images");
        std::fs::create_dir_all(&dir)?;
        crate::store::remove_temp_files(&dir);
        let mut inner = Inner::default();
        for e in std::fs::read_dir(&dir)?.flatten() {
            let p = e.path();
            let name = e.file_name().to_string_lossy().into_owned();
            if name == "tags.json" || !name.ends_with(".json") {
                continue;
            }
            match read_json::<ImageRecord>(&p) {
                Ok(rec) => {
                    inner.images.insert(rec.id.clone(), rec);
                }
                Err(e) => tracing::warn!(error = %e, "skipping unreadable image record"),
            }
        }
        let tags_path = dir.join("tags.json");
        if tags_path.exists() {
            let idx: TagIndex = read_json(&tags_path)?;
            // A tag may outlive its image only if a crash hit between the two writes of a delete.
            inner.tags = idx
                .tags
                .into_iter()
                .filter(|(_, id)| inner.images.contains_key(id))
                .collect();
        }
        Ok(ImageStore {
            dir,
            inner: RwLock::new(inner),
        })
    }

    fn record_path(&self, id: &str) -> anyhow::Result<PathBuf> {
        Ok(self
            .dir
            .join(format!("{}.json", super::content::hex_of(id)?)))
    }

    fn persist_tags(&self, inner: &Inner) -> anyhow::Result<()> {
        let idx = TagIndex {
            tags: inner.tags.clone(),
        };
        write_json(&self.dir.join("tags.json"), &idx, Durability::Power)
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Inner> {
        self.inner.read().unwrap_or_else(|p| p.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Inner> {
        self.inner.write().unwrap_or_else(|p| p.into_inner())
    }

    /// Adds (or updates) an image and points `tags` (canonical names) at it.
    /// Records an image (merging repo digests into a record already there) and its tags.
    /// Under the store's lock from the first write: two adds of one image (two pulls by
    /// different digests) must not leave the record of the one that wrote first.
    pub fn add(&self, rec: ImageRecord, tags: &[String]) -> anyhow::Result<()> {
        let mut inner = self.write();
        let id = rec.id.clone();
        match inner.images.get_mut(&id) {
            Some(existing) => {
                for d in rec.repo_digests {
                    if !existing.repo_digests.contains(&d) {
                        existing.repo_digests.push(d);
                    }
                }
                let merged = existing.clone();
                write_json(&self.record_path(&id)?, &merged, Durability::Power)
                    .context("saving image record")?;
            }
            None => {
                write_json(&self.record_path(&id)?, &rec, Durability::Power)
                    .context("saving image record")?;
                inner.images.insert(id.clone(), rec);
            }
        }
        for t in tags {
            inner.tags.insert(t.clone(), id.clone());
        }
        self.persist_tags(&inner)
    }

    /// Finds an image the way dockerd does: full or short ID, `name[:tag]`, or `name@digest`.
    pub fn resolve(&self, name: &str) -> Result<ImageRecord> {
        let inner = self.read();
        if let Some(id) = lookup(&inner, name) {
            if let Some(rec) = inner.images.get(&id) {
                return Ok(rec.clone());
            }
        }
        // A name that is not even a reference is bad input, not a missing image.
        if !name.starts_with("sha256:") {
            reference::parse(name)?;
        }
        Err(not_found(name))
    }

    pub fn get(&self, id: &str) -> Option<ImageRecord> {
        self.read().images.get(id).cloned()
    }

    pub fn list(&self) -> Vec<ImageRecord> {
        self.read().images.values().cloned().collect()
    }

    /// Canonical tags pointing at `id`.
    pub fn tags_of(&self, id: &str) -> Vec<String> {
        self.read()
            .tags
            .iter()
            .filter(|(_, v)| v.as_str() == id)
            .map(|(k, _)| k.clone())
            .collect()
    }

    /// Records a digest the image is known by in a registry (after a push). An image removed
    /// meanwhile stays removed.
    pub fn add_repo_digest(&self, id: &str, repo_digest: &str) -> anyhow::Result<()> {
        let mut inner = self.write();
        let Some(rec) = inner.images.get_mut(id) else {
            return Ok(());
        };
        if rec.repo_digests.iter().any(|d| d == repo_digest) {
            return Ok(());
        }
        rec.repo_digests.push(repo_digest.to_string());
        let rec = rec.clone();
        write_json(&self.record_path(id)?, &rec, Durability::Power).context("saving image record")
    }

    /// The tags of one repository (`registry/repository`), as (tag, image ID), sorted by tag.
    pub fn repo_tags(&self, repo: &str) -> Vec<(String, String)> {
        let prefix = format!("{repo}:");
        self.read()
            .tags
            .iter()
            .filter_map(|(k, v)| k.strip_prefix(&prefix).map(|t| (t.to_string(), v.clone())))
            .collect()
    }

    /// Which image a canonical tag points at.
    pub fn tag_target(&self, canonical: &str) -> Option<String> {
        self.read().tags.get(canonical).cloned()
    }

    pub fn tag(&self, id: &str, canonical: &str) -> anyhow::Result<()> {
        let mut inner = self.write();
        inner.tags.insert(canonical.to_string(), id.to_string());
        self.persist_tags(&inner)
    }

    pub fn untag(&self, canonical: &str) -> anyhow::Result<Option<String>> {
        let mut inner = self.write();
        let old = inner.tags.remove(canonical);
        if old.is_some() {
            self.persist_tags(&inner)?;
        }
        Ok(old)
    }

    /// Removes an image record, its tags, and its digests; returns the record.
    pub fn delete(&self, id: &str) -> anyhow::Result<Option<ImageRecord>> {
        let mut inner = self.write();
        let rec = inner.images.remove(id);
        inner.tags.retain(|_, v| v != id);
        self.persist_tags(&inner)?;
        match std::fs::remove_file(self.record_path(id)?) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e.into()),
        }
        Ok(rec)
    }

    /// Whether any remaining image still uses this layer chain.
    pub fn chain_in_use(&self, chain_id: &str) -> bool {
        self.read()
            .images
            .values()
            .any(|i| i.layers.iter().any(|l| l.chain_id == chain_id))
    }

    pub fn blob_in_use(&self, digest: &str) -> bool {
        self.read()
            .images
            .values()
            .any(|i| i.id == digest || i.layers.iter().any(|l| l.blob.as_deref() == Some(digest)))
    }
}

fn lookup(inner: &Inner, name: &str) -> Option<String> {
    // Full ID with algorithm.
    if let Some(hex) = name.strip_prefix("sha256:") {
        return find_by_prefix(inner, hex);
    }
    if let Ok(r) = reference::parse(name) {
        if let Some(digest) = r.digest() {
            let want = format!("{}@{digest}", reference::repo_name(&r));
            if let Some(i) = inner
                .images
                .values()
                .find(|i| i.repo_digests.contains(&want))
            {
                return Some(i.id.clone());
            }
        } else if let Some(t) = reference::canonical_tag(&r) {
            if let Some(id) = inner.tags.get(&t) {
                return Some(id.clone());
            }
        }
    }
    // A short ID: at least a few hex digits, as dockerd accepts.
    if !name.is_empty() && name.len() <= 64 && name.bytes().all(|b| b.is_ascii_hexdigit()) {
        return find_by_prefix(inner, name);
    }
    None
}

fn find_by_prefix(inner: &Inner, hex: &str) -> Option<String> {
    if hex.is_empty() {
        return None;
    }
    let mut found = inner.images.keys().filter(|id| {
        id.strip_prefix("sha256:")
            .is_some_and(|h| h.starts_with(hex))
    });
    let first = found.next()?;
    if found.next().is_some() {
        return None; // ambiguous
    }
    Some(first.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(id: &str) -> ImageRecord {
        ImageRecord {
            id: id.into(),
            config: Default::default(),
            layers: vec![],
            repo_digests: vec![],
            created: 0,
            size: 0,
        }
    }

    #[test]
    fn concurrent_adds_of_one_image_keep_every_digest_on_disk() {
        let root = tempfile::tempdir().unwrap();
        let id = format!("sha256:{}", "b".repeat(64));
        let store = std::sync::Arc::new(ImageStore::open(root.path()).unwrap());
        let threads: Vec<_> = (0..8)
            .map(|i| {
                let (store, id) = (store.clone(), id.clone());
                std::thread::spawn(move || {
                    let mut rec = record(&id);
                    rec.repo_digests = vec![format!("r/x@sha256:{i}")];
                    store.add(rec, &[]).unwrap();
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        // What a restart reads: every pull's digest, not the record of whichever wrote last.
        let mut on_disk = ImageStore::open(root.path())
            .unwrap()
            .get(&id)
            .unwrap()
            .repo_digests;
        on_disk.sort();
        assert_eq!(
            on_disk,
            (0..8)
                .map(|i| format!("r/x@sha256:{i}"))
                .collect::<Vec<_>>()
        );
    }

    #[test]
    fn a_pushed_digest_is_kept_once_and_never_revives_a_removed_image() {
        let root = tempfile::tempdir().unwrap();
        let id = format!("sha256:{}", "a".repeat(64));
        let store = ImageStore::open(root.path()).unwrap();
        store.add(record(&id), &[]).unwrap();
        store.add_repo_digest(&id, "r/x@sha256:1").unwrap();
        store.add_repo_digest(&id, "r/x@sha256:1").unwrap();
        assert_eq!(store.get(&id).unwrap().repo_digests, ["r/x@sha256:1"]);
        // On disk too: a reopened store sees it.
        let reopened = ImageStore::open(root.path()).unwrap();
        assert_eq!(reopened.get(&id).unwrap().repo_digests, ["r/x@sha256:1"]);

        store.delete(&id).unwrap();
        store.add_repo_digest(&id, "r/x@sha256:2").unwrap();
        assert!(store.get(&id).is_none());
        assert!(ImageStore::open(root.path()).unwrap().get(&id).is_none());
    }
}
