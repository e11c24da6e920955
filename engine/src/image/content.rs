//! Content-addressed blobs: `content/sha256/<hex>`. A blob is written under `ingest/` and renamed into
//! place only after its digest has been checked, so a present blob is always a complete one.

use std::path::{Path, PathBuf};

use anyhow::Context;
use sha2::{Digest, Sha256};

pub struct ContentStore {
    root: PathBuf,
}

impl ContentStore {
    pub fn open(data_root: &Path) -> anyhow::Result<Self> {
        let root = data_root.join("content");
        std::fs::create_dir_all(root.join("sha256"))?;
        // Half-downloaded blobs from an interrupted pull are useless: start clean.
        let ingest = root.join("ingest");
        let _ = std::fs::remove_dir_all(&ingest);
        std::fs::create_dir_all(&ingest)?;
        Ok(ContentStore { root })
    }

    pub fn path(&self, digest: &str) -> anyhow::Result<PathBuf> {
        let hex = hex_of(digest)?;
        Ok(self.root.join("sha256").join(hex))
    }

    pub fn has(&self, digest: &str) -> bool {
        self.path(digest).map(|p| p.exists()).unwrap_or(false)
    }

    pub fn read(&self, digest: &str) -> anyhow::Result<Vec<u8>> {
        let p = self.path(digest)?;
        std::fs::read(&p).with_context(|| format!("reading blob {digest}"))
    }

    /// A fresh file name for an in-progress download.
    pub fn ingest_path(&self, digest: &str) -> anyhow::Result<PathBuf> {
        let hex = hex_of(digest)?;
        let n: u64 = rand::random();
        Ok(self.root.join("ingest").join(format!("{hex}.{n:x}")))
    }

    /// A fresh file name for content whose digest is known only once it is written.
    pub fn ingest_path_unnamed(&self) -> PathBuf {
        let n: u64 = rand::random();
        self.root.join("ingest").join(format!("new.{n:x}"))
    }

    /// Moves a verified ingest file into the store, synced first: a blob present after a power
    /// loss is a whole one (a present blob is trusted without rehashing).
    pub fn commit(&self, ingest: &Path, digest: &str) -> anyhow::Result<PathBuf> {
        let dst = self.path(digest)?;
        std::fs::File::open(ingest)
            .and_then(|f| f.sync_all())
            .with_context(|| format!("syncing blob {digest}"))?;
        std::fs::rename(ingest, &dst).with_context(|| format!("storing blob {digest}"))?;
        if let Some(dir) = dst.parent() {
            std::fs::File::open(dir)
                .and_then(|d| d.sync_all())
                .with_context(|| format!("syncing {}", dir.display()))?;
        }
        Ok(dst)
    }

    /// Stores bytes whose digest is computed here (configs, manifests).
    pub fn put(&self, data: &[u8]) -> anyhow::Result<String> {
        let digest = sha256_digest(data);
        let dst = self.path(&digest)?;
        if !dst.exists() {
            crate::store::write_atomic(&dst, data, crate::store::Durability::Power)?;
        }
        Ok(digest)
    }

    pub fn remove(&self, digest: &str) {
        if let Ok(p) = self.path(digest) {
            let _ = std::fs::remove_file(p);
        }
    }
}

pub fn sha256_digest(data: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(data)))
}

/// The hex part of a `sha256:` digest, validated so it can be used as a file name.
pub fn hex_of(digest: &str) -> anyhow::Result<&str> {
    let hex = digest
        .strip_prefix("sha256:")
        .with_context(|| format!("unsupported digest {digest:?}"))?;
    anyhow::ensure!(
        hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()),
        "invalid digest {digest:?}"
    );
    Ok(hex)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn put_and_read() {
        let dir = tempfile::tempdir().unwrap();
        let cs = ContentStore::open(dir.path()).unwrap();
        let d = cs.put(b"hello").unwrap();
        assert_eq!(
            d,
            "sha256:2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"
        );
        assert!(cs.has(&d));
        assert_eq!(cs.read(&d).unwrap(), b"hello");
        assert!(cs.path("sha256:../../etc").is_err());
    }
}
