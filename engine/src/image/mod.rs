//! Images: references, content store, snapshots, pulls and docker-archive import/export.

pub mod archive;
pub mod auth;
pub mod commit;
pub mod content;
pub mod dockerfile_change;
pub mod import;
pub mod lineage;
pub mod media;
pub mod ops;
pub mod prune;
pub mod pull;
pub mod push;
pub mod reference;
pub mod registry_access;
pub mod store;
pub mod unpack;
pub mod usage;
pub mod welcome;

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};

use crate::snapshot::Snapshotter;
use content::ContentStore;
use store::ImageStore;

/// Everything image-related the engine holds: blobs, layer snapshots and the image index.
pub struct ImageService {
    pub content: ContentStore,
    pub snapshots: Snapshotter,
    pub store: ImageStore,
    /// How registries are reached (HTTPS, insecure ones, certs.d).
    pub registries: registry_access::RegistryAccess,
    /// One lock per layer chain, so two pulls sharing a layer unpack it once.
    layer_locks: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    prune: crate::prune::PruneLock,
}

impl ImageService {
    pub fn open(
        data_root: &Path,
        insecure_registries: &[String],
        certs_dirs: Vec<std::path::PathBuf>,
    ) -> anyhow::Result<Self> {
        Ok(ImageService {
            content: ContentStore::open(data_root)?,
            snapshots: Snapshotter::open(data_root)?,
            store: ImageStore::open(data_root)?,
            registries: registry_access::RegistryAccess::new(insecure_registries, certs_dirs)?,
            layer_locks: Mutex::new(HashMap::new()),
            prune: Default::default(),
        })
    }

    fn layer_lock(&self, chain: &str) -> Arc<tokio::sync::Mutex<()>> {
        let mut locks = self.layer_locks.lock().unwrap_or_else(|p| p.into_inner());
        Arc::clone(locks.entry(chain.to_string()).or_default())
    }
}
