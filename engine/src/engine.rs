//! The engine as the API sees it: every service, opened once at start-up.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;

use crate::container::exec::ExecService;
use crate::container::runtime::Runtimes;
use crate::container::{ContainerService, EngineConfig};
use crate::events::EventBus;
use crate::image::ImageService;
use crate::store::lock::EngineLock;
use crate::volume::VolumeService;

pub struct Options {
    pub data_root: PathBuf,
    pub default_runtime: Option<String>,
    pub add_runtimes: Vec<(String, PathBuf)>,
    pub insecure_registries: Vec<String>,
}

pub struct Engine {
    pub images: Arc<ImageService>,
    pub containers: Arc<ContainerService>,
    pub execs: Arc<ExecService>,
    pub volumes: Arc<VolumeService>,
    pub events: Arc<EventBus>,
    pub runtimes: Runtimes,
    pub data_root: PathBuf,
    pub started: chrono::DateTime<chrono::Utc>,
    pub id: String,
    _lock: EngineLock,
}

impl Engine {
    pub async fn open(opts: Options) -> anyhow::Result<Arc<Self>> {
        let root = &opts.data_root;
        std::fs::create_dir_all(root)
            .with_context(|| format!("creating data root {}", root.display()))?;
        let root = std::fs::canonicalize(root)?;
        let s = root.to_string_lossy();
        anyhow::ensure!(
            !s.contains(':') && !s.contains(','),
            "data root {s} must not contain ':' or ',' (they separate overlay mount options)"
        );
        let lock = EngineLock::acquire(&root)?;
        let scratch = root.join("tmp");
        let _ = std::fs::remove_dir_all(&scratch);
        std::fs::create_dir_all(&scratch)?;
        std::fs::create_dir_all(root.join("run"))?;
        let runtimes = crate::container::runtime::discover(
            opts.default_runtime.as_deref(),
            &opts.add_runtimes,
            &scratch,
        )?;
        let events = Arc::new(EventBus::default());
        let images = Arc::new(ImageService::open(&root, opts.insecure_registries)?);
        let volumes = Arc::new(VolumeService::open(&root, Arc::clone(&events))?);
        let self_exe = std::env::current_exe().context("locating the berthd binary")?;
        let containers = ContainerService::open(
            EngineConfig {
                data_root: root.clone(),
                self_exe,
                runtimes: runtimes.clone(),
            },
            Arc::clone(&images),
            Arc::clone(&events),
            Arc::clone(&volumes),
        )?;
        volumes.unmount_unused();
        containers.reconcile().await;
        let id_path = root.join("engine-id");
        let id = match std::fs::read_to_string(&id_path) {
            Ok(s) if !s.trim().is_empty() => s.trim().to_string(),
            _ => {
                let id = hex::encode(rand::random::<[u8; 16]>());
                crate::store::write_atomic(
                    &id_path,
                    id.as_bytes(),
                    crate::store::Durability::Power,
                )?;
                id
            }
        };
        Ok(Arc::new(Engine {
            images,
            execs: ExecService::new(Arc::clone(&containers)),
            containers,
            volumes,
            events,
            runtimes,
            data_root: root,
            started: chrono::Utc::now(),
            id,
            _lock: lock,
        }))
    }

    pub fn scratch_dir(&self) -> PathBuf {
        self.data_root.join("tmp")
    }
}
