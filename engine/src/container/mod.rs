//! Containers: model and state machine, OCI bundle, runtime via the monitor, logs and exec.

pub mod archive;
pub mod changes;
pub mod commit;
pub mod create;
pub mod devices;
pub mod etc_files;
pub mod exec;
pub mod export;
pub mod health;
pub mod init_binary;
pub mod inspect;
pub mod io;
pub mod lifecycle;
pub mod links;
pub mod list;
pub mod log_driver;
pub mod logs;
pub mod model;
pub mod mounts;
pub mod names;
pub mod namespaces;
pub mod network;
pub mod prune;
pub mod resources;
pub mod restart;
pub mod restart_policy;
pub mod runtime;
pub mod runtime_state;
pub mod seccomp;
pub mod security_opt;
pub mod spec;
pub mod start;
pub mod state;
pub mod stats;
pub mod sysctl;
pub mod top;
pub mod unsupported;
pub mod update;
pub mod user;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};

use tokio::sync::watch;

use crate::error::{EngineError, Result};
use crate::events::EventBus;
use crate::image::ImageService;
use crate::store::{write_json, Durability};
use crate::volume::VolumeService;
use model::{ContainerRecord, PersistedState};

/// One container in memory. `data` is the source of truth, written through to disk on each change.
pub struct Container {
    pub id: String,
    pub dir: PathBuf,
    data: Mutex<ContainerData>,
    pub io: Arc<io::IoHub>,
    /// Bumped on every exit; `wait` watches it.
    exits: watch::Sender<u64>,
    removed: watch::Sender<bool>,
    /// True while a monitor serves this container; a new start waits for the old one's cleanup
    /// (its unmount would otherwise hit the new rootfs mount).
    pub(crate) monitor_active: watch::Sender<bool>,
    /// Serializes start/stop/remove of this container.
    pub op: tokio::sync::Mutex<()>,
    /// The restart policy's last delay (zero: none yet); see `restart.rs`.
    pub(crate) restart_delay: Mutex<std::time::Duration>,
}

#[derive(Clone)]
pub struct ContainerData {
    pub rec: ContainerRecord,
    pub st: PersistedState,
}

impl Container {
    fn new(dir: PathBuf, rec: ContainerRecord, st: PersistedState) -> Arc<Self> {
        Arc::new(Container {
            id: rec.id.clone(),
            dir,
            data: Mutex::new(ContainerData { rec, st }),
            io: Arc::new(io::IoHub::default()),
            exits: watch::channel(0).0,
            removed: watch::channel(false).0,
            monitor_active: watch::channel(false).0,
            op: tokio::sync::Mutex::new(()),
            restart_delay: Mutex::new(std::time::Duration::ZERO),
        })
    }

    pub fn lock(&self) -> MutexGuard<'_, ContainerData> {
        self.data.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn snapshot(&self) -> ContainerData {
        self.lock().clone()
    }

    pub fn name(&self) -> String {
        self.lock().rec.name.trim_start_matches('/').to_string()
    }

    pub fn is_running(&self) -> bool {
        self.lock().st.state.is_running()
    }

    pub fn save_record(&self) -> Result<()> {
        let d = self.lock();
        write_json(&self.dir.join("config.json"), &d.rec, Durability::Power)?;
        Ok(())
    }

    pub fn save_state(&self) -> Result<()> {
        let d = self.lock();
        write_json(&self.dir.join("state.json"), &d.st, Durability::Power)?;
        Ok(())
    }

    /// Changes the state and writes it through.
    pub fn update(&self, f: impl FnOnce(&mut ContainerData)) -> Result<()> {
        {
            let mut d = self.lock();
            f(&mut d);
        }
        self.save_state()
    }

    /// Applies a state transition and writes it through. `f` makes the transition first (with
    /// `?`), then changes what goes with it; one the state does not allow changes nothing and is
    /// a conflict.
    pub fn transition(
        &self,
        f: impl FnOnce(&mut ContainerData) -> std::result::Result<(), state::TransitionError>,
    ) -> Result<()> {
        f(&mut self.lock())
            .map_err(|e| EngineError::Conflict(format!("container {}: {e}", self.id)))?;
        self.save_state()
    }

    /// Waits (up to 30 s) until the previous run's monitor has finished its cleanup (runtime
    /// delete, unmount); a start, a removal or a file operation must not overlap it.
    pub async fn monitor_gone(&self) -> Result<()> {
        let mut active = self.monitor_active.subscribe();
        let waited =
            tokio::time::timeout(std::time::Duration::from_secs(30), active.wait_for(|a| !*a))
                .await
                .is_ok();
        if waited {
            Ok(())
        } else {
            Err(crate::error::EngineError::Conflict(format!(
                "container {} is still shutting down",
                self.id
            )))
        }
    }

    pub fn exits(&self) -> watch::Receiver<u64> {
        self.exits.subscribe()
    }

    pub fn removed(&self) -> watch::Receiver<bool> {
        self.removed.subscribe()
    }

    pub fn log_path(&self) -> PathBuf {
        self.dir.join(format!("{}-json.log", self.id))
    }

    pub fn rootfs(&self) -> PathBuf {
        self.dir.join("rootfs")
    }

    pub fn bundle(&self) -> PathBuf {
        self.dir.join("bundle")
    }
}

pub struct EngineConfig {
    pub data_root: PathBuf,
    /// berthd's own binary, re-executed as the monitor.
    pub self_exe: PathBuf,
    pub runtimes: runtime::Runtimes,
    /// `--init-path`: the init binary `--init` runs (looked up as dockerd does when unset).
    pub init_path: Option<PathBuf>,
}

pub struct ContainerService {
    pub cfg: EngineConfig,
    pub images: Arc<ImageService>,
    pub events: Arc<EventBus>,
    pub net: Arc<crate::network::NetworkService>,
    pub volumes: Arc<VolumeService>,
    root: PathBuf,
    by_id: RwLock<HashMap<String, Arc<Container>>>,
    /// name (without slash) → id
    names: Mutex<HashMap<String, String>>,
    prune: crate::prune::PruneLock,
    /// Removals finishing in the background (see `lifecycle::remove`); shutdown waits for them.
    cleanups: tokio_util::task::TaskTracker,
    /// Records found unreadable at start and set aside (`set_aside`).
    damaged: Mutex<Vec<String>>,
}

impl ContainerService {
    pub fn open(
        cfg: EngineConfig,
        images: Arc<ImageService>,
        events: Arc<EventBus>,
        net: Arc<crate::network::NetworkService>,
        volumes: Arc<VolumeService>,
    ) -> anyhow::Result<Arc<Self>> {
        let root = cfg.data_root.join("containers");
        std::fs::create_dir_all(&root)?;
        let svc = Arc::new(ContainerService {
            cfg,
            images,
            events,
            net,
            volumes,
            root,
            by_id: RwLock::new(HashMap::new()),
            names: Mutex::new(HashMap::new()),
            prune: Default::default(),
            cleanups: tokio_util::task::TaskTracker::new(),
            damaged: Mutex::new(Vec::new()),
        });
        svc.load()?;
        Ok(svc)
    }

    /// Reads every container from disk. Reconciling them with reality is `start::reconcile`.
    fn load(&self) -> anyhow::Result<()> {
        for e in std::fs::read_dir(&self.root)?.flatten() {
            let dir = e.path();
            let record = dir.join("config.json");
            if !record.exists() {
                // A create interrupted before its record was written, or a removal after its
                // record went: nothing to keep, its writable layer included.
                tracing::warn!(dir = %dir.display(), "removing incomplete container");
                let id = dir.file_name().and_then(|n| n.to_str());
                // Only a container ID names a container's snapshot.
                if let Some(id) =
                    id.filter(|i| i.len() == 64 && i.bytes().all(|b| b.is_ascii_hexdigit()))
                {
                    let _ = crate::snapshot::unmount(&dir.join("rootfs"));
                    if let Err(e) = self.images.snapshots.remove(id) {
                        tracing::warn!(id, error = %e, "removing its writable layer");
                    }
                }
                let _ = std::fs::remove_dir_all(&dir);
                continue;
            }
            let rec: ContainerRecord = match crate::store::read_json(&record) {
                Ok(r) => r,
                Err(err) => {
                    // Never delete what may be a user's container: set it aside for a person
                    // to look at, and say so in `docker info`.
                    self.set_aside(&dir, &format!("{err:#}"));
                    continue;
                }
            };
            crate::store::remove_temp_files(&dir);
            let st: PersistedState =
                crate::store::read_json(&dir.join("state.json")).unwrap_or_default();
            let c = Container::new(dir, rec, st);
            self.restore_volume_refs(&c);
            self.names_lock().insert(c.name(), c.id.clone());
            self.by_id_write().insert(c.id.clone(), c);
        }
        Ok(())
    }

    /// Moves an unreadable container dir to `DATA_ROOT/damaged/containers/` and records a
    /// warning for `/info`.
    fn set_aside(&self, dir: &Path, why: &str) {
        let name = dir.file_name().unwrap_or_default();
        let aside_root = self.root.with_file_name("damaged").join("containers");
        let aside = aside_root.join(name);
        let moved =
            std::fs::create_dir_all(&aside_root).and_then(|()| std::fs::rename(dir, &aside));
        let msg = match moved {
            Ok(()) => format!(
                "WARNING: container record {} could not be read ({why}); kept in {}",
                dir.display(),
                aside.display()
            ),
            Err(e) => format!(
                "WARNING: container record {} could not be read ({why}) nor set aside ({e})",
                dir.display()
            ),
        };
        tracing::error!("{msg}");
        self.damaged
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(msg);
    }

    /// Warnings about container records found damaged at start (for `/info`).
    pub fn damaged_records(&self) -> Vec<String> {
        self.damaged
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    fn names_lock(&self) -> MutexGuard<'_, HashMap<String, String>> {
        self.names.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn by_id_write(&self) -> std::sync::RwLockWriteGuard<'_, HashMap<String, Arc<Container>>> {
        self.by_id.write().unwrap_or_else(|p| p.into_inner())
    }

    pub fn all(&self) -> Vec<Arc<Container>> {
        self.by_id
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .values()
            .cloned()
            .collect()
    }

    /// Finds a container by full ID, name (with or without `/`), or unique ID prefix, like dockerd.
    pub fn get(&self, name_or_id: &str) -> Result<Arc<Container>> {
        let map = self.by_id.read().unwrap_or_else(|p| p.into_inner());
        if let Some(c) = map.get(name_or_id) {
            return Ok(Arc::clone(c));
        }
        let name = name_or_id.trim_start_matches('/');
        if let Some(id) = self.names_lock().get(name) {
            if let Some(c) = map.get(id) {
                return Ok(Arc::clone(c));
            }
        }
        if !name_or_id.is_empty() {
            let mut hits = map.values().filter(|c| c.id.starts_with(name_or_id));
            if let Some(first) = hits.next() {
                if hits.next().is_some() {
                    return Err(EngineError::invalid(format!(
                        "multiple IDs found with provided prefix: {name_or_id}"
                    )));
                }
                return Ok(Arc::clone(first));
            }
        }
        Err(EngineError::NotFound(format!(
            "No such container: {name_or_id}"
        )))
    }

    /// Reserves a name; fails with dockerd's conflict message when taken.
    fn reserve_name(&self, name: &str, id: &str) -> Result<()> {
        let mut names = self.names_lock();
        if let Some(owner) = names.get(name) {
            return Err(EngineError::Conflict(format!(
                "Conflict. The container name \"/{name}\" is already in use by container \"{owner}\". You have to remove (or rename) that container to be able to reuse that name."
            )));
        }
        names.insert(name.to_string(), id.to_string());
        Ok(())
    }

    fn release_name(&self, name: &str) {
        self.names_lock().remove(name);
    }

    fn insert(&self, c: Arc<Container>) {
        self.by_id_write().insert(c.id.clone(), c);
    }

    fn forget(&self, c: &Container) {
        self.by_id_write().remove(&c.id);
        self.release_name(&c.name());
    }

    pub fn container_dir(&self, id: &str) -> PathBuf {
        self.root.join(id)
    }

    pub fn runtime_root(&self, runtime: &str) -> PathBuf {
        self.cfg.data_root.join("runtime").join(runtime)
    }

    /// Which images containers use, for `rmi` and `docker images`.
    pub fn image_users(&self) -> Vec<crate::image::ops::ImageUser> {
        self.all()
            .iter()
            .map(|c| {
                let d = c.lock();
                crate::image::ops::ImageUser {
                    container_id: c.id.clone(),
                    image_id: d.rec.image_id.clone(),
                    running: d.st.state.is_running(),
                }
            })
            .collect()
    }

    pub fn emit(&self, c: &Container, action: &str, extra: &[(&str, String)]) {
        let d = c.lock();
        let mut attrs = d.rec.config.labels.clone();
        attrs.insert("name".into(), d.rec.name.trim_start_matches('/').into());
        attrs.insert("image".into(), d.rec.config.image.clone());
        for (k, v) in extra {
            attrs.insert(k.to_string(), v.clone());
        }
        drop(d);
        self.events.emit("container", action, &c.id, attrs);
    }
}

pub fn path_is_safe(p: &Path) -> bool {
    p.components()
        .all(|c| !matches!(c, std::path::Component::ParentDir))
}
