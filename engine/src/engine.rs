//! The engine as the API sees it: every service, opened once at start-up.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;

use crate::container::exec::ExecService;
use crate::container::runtime::Runtimes;
use crate::container::{ContainerService, EngineConfig};
use crate::events::EventBus;
use crate::image::ImageService;
use crate::network::{NetConfig, NetworkService};
use crate::store::lock::EngineLock;
use crate::volume::VolumeService;

pub struct Options {
    pub data_root: PathBuf,
    pub default_runtime: Option<String>,
    pub add_runtimes: Vec<(String, PathBuf)>,
    pub insecure_registries: Vec<String>,
    /// Where registries' CA certificates are looked up (`<dir>/<host>/*.crt`).
    pub certs_dirs: Vec<PathBuf>,
    pub network: NetworkOptions,
    /// Load the built-in `berth/welcome` image on the first start of a data root.
    pub welcome_image: bool,
    /// `--init-path`: the init binary of `docker run --init`.
    pub init_path: Option<PathBuf>,
}

/// dockerd's networking flags, as given on the command line.
#[derive(Clone, Debug, Default)]
pub struct NetworkOptions {
    pub bridge: String,
    pub bip: Option<String>,
    pub pools: Vec<String>,
    pub dns: Vec<String>,
    pub firewall_backend: String,
}

impl NetworkOptions {
    fn config(&self, data_root: &std::path::Path) -> anyhow::Result<NetConfig> {
        let bip = match &self.bip {
            Some(b) => Some(b.parse::<ipnet::Ipv4Net>().with_context(|| {
                format!("--bip {b}: expected an address with prefix, e.g. 172.17.0.1/16")
            })?),
            None => None,
        };
        let mut pools = Vec::new();
        for p in &self.pools {
            let mut base = None;
            let mut size = None;
            for kv in p.split(',') {
                match kv.split_once('=') {
                    Some(("base", v)) => {
                        base = Some(
                            v.parse::<ipnet::Ipv4Net>()
                                .with_context(|| format!("--default-address-pool {p}: bad base"))?,
                        )
                    }
                    Some(("size", v)) => {
                        size = Some(
                            v.parse::<u8>()
                                .with_context(|| format!("--default-address-pool {p}: bad size"))?,
                        )
                    }
                    _ => anyhow::bail!("--default-address-pool {p}: expected base=CIDR,size=N"),
                }
            }
            let base =
                base.with_context(|| format!("--default-address-pool {p}: base is missing"))?;
            let size = size.unwrap_or(24);
            anyhow::ensure!(
                size >= base.prefix_len() && size <= 30,
                "--default-address-pool {p}: size must be between the base's prefix and 30"
            );
            pools.push((base.trunc(), size));
        }
        if pools.is_empty() {
            pools = NetConfig::default_pools();
        }
        let mut dns = Vec::new();
        for d in &self.dns {
            dns.push(
                d.parse()
                    .with_context(|| format!("--dns {d}: not an IPv4 address"))?,
            );
        }
        let bridge = if self.bridge.is_empty() {
            "berth0".to_string()
        } else {
            self.bridge.clone()
        };
        anyhow::ensure!(
            bridge.len() <= 15,
            "--bridge {bridge}: names are at most 15 characters"
        );
        Ok(NetConfig {
            data_root: data_root.to_path_buf(),
            bridge,
            bip,
            pools,
            dns,
            firewall: crate::network::firewall::Backend::parse(&self.firewall_backend)?,
            table: crate::network::firewall::table_name(
                data_root,
                std::path::Path::new(DEFAULT_DATA_ROOT),
            ),
        })
    }
}

pub const DEFAULT_DATA_ROOT: &str = "/var/lib/berth";

pub struct Engine {
    pub images: Arc<ImageService>,
    pub containers: Arc<ContainerService>,
    pub execs: Arc<ExecService>,
    pub volumes: Arc<VolumeService>,
    pub events: Arc<EventBus>,
    pub networks: Arc<NetworkService>,
    /// The classic builder's step cache (`build/cache.json`).
    pub build_cache: Arc<crate::build::cache::BuildCache>,
    pub runtimes: Runtimes,
    pub data_root: PathBuf,
    pub started: chrono::DateTime<chrono::Utc>,
    pub id: String,
    _lock: EngineLock,
}

impl Engine {
    /// Lets the work that outlives its request finish before berthd exits (containers keep
    /// running): removed containers' files, veths and namespaces still going away.
    pub async fn shutdown(&self) {
        let limit = std::time::Duration::from_secs(5);
        self.containers.wait_cleanups(limit).await;
        let _ = tokio::time::timeout(limit, self.networks.wait_all_drained()).await;
    }

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
        // dockerd's 0710: other users cannot reach container records, logs, or layers (whose
        // setuid files they could otherwise run: CVE-2021-41091).
        std::fs::set_permissions(&root, std::os::unix::fs::PermissionsExt::from_mode(0o710))
            .with_context(|| format!("restricting {}", root.display()))?;
        let lock = EngineLock::acquire(&root)?;
        // Before any container is loaded: runc state of an earlier boot would block restarts.
        crate::container::runtime_state::clear_if_stale(&root)?;
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
        let images = Arc::new(ImageService::open(
            &root,
            &opts.insecure_registries,
            opts.certs_dirs,
        )?);
        let volumes = Arc::new(VolumeService::open(&root, Arc::clone(&events))?);
        let self_exe = std::env::current_exe().context("locating the berthd binary")?;
        let networks = NetworkService::open(opts.network.config(&root)?, Arc::clone(&events))
            .await
            .context("setting up networking")?;
        let containers = ContainerService::open(
            EngineConfig {
                data_root: root.clone(),
                self_exe,
                runtimes: runtimes.clone(),
                init_path: opts.init_path.clone(),
            },
            Arc::clone(&images),
            Arc::clone(&events),
            Arc::clone(&networks),
            Arc::clone(&volumes),
        )?;
        volumes.unmount_unused();
        if opts.welcome_image {
            // Not fatal: the engine is useful without it, and the next start tries again.
            if let Err(e) =
                crate::image::welcome::ensure_loaded(&images, &root, &root.join("tmp")).await
            {
                tracing::warn!(error = %e, "could not load the welcome image");
            }
        }
        containers.reconcile().await;
        // After reconcile, so that only containers really running are probed; it subscribes
        // before it looks, so a start in between is not missed.
        let execs = ExecService::new(Arc::clone(&containers));
        crate::container::health::monitor::HealthMonitor::spawn(
            Arc::clone(&containers),
            Arc::clone(&execs),
            &events,
        );
        crate::build::steps::remove_leftover_step_containers(&containers).await;
        networks.sweep().await;
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
            execs,
            containers,
            volumes,
            events,
            networks,
            build_cache: Arc::new(crate::build::cache::BuildCache::open(&root)?),
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
