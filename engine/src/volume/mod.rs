//! Volumes: the `local` driver, their metadata on disk, which containers use them (references) and
//! which have them mounted (so a `local` volume with a device is mounted once, unmounted by the last).
//!
//! References are kept in memory only: they are rebuilt from the container records at start, as
//! dockerd rebuilds them, so they can never disagree with the containers on disk.

pub mod copy;
pub mod local;
pub mod store;
pub mod usage;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use crate::api::types::{Volume, VolumePruneResponse};
use crate::error::{EngineError, Result};
use crate::events::EventBus;
use crate::filters::Filters;
use store::{VolumeDirs, VolumeRecord};

pub const DEFAULT_DRIVER: &str = "local";
/// The label dockerd puts on volumes created without a name.
pub const ANONYMOUS_LABEL: &str = "com.docker.volume.anonymous";

/// What a create asks for (`POST /volumes/create`, or a container's mount).
#[derive(Debug, Default, Clone)]
pub struct CreateOptions {
    /// Empty: an anonymous volume with a generated name.
    pub name: String,
    /// Empty: `local`, or whatever the existing volume of that name uses.
    pub driver: String,
    pub driver_opts: Option<BTreeMap<String, String>>,
    pub labels: Option<BTreeMap<String, String>>,
    /// The container that will use the volume, referenced atomically with the create.
    pub reference: Option<String>,
}

pub struct VolumeService {
    dirs: VolumeDirs,
    events: Arc<EventBus>,
    state: Mutex<State>,
    prune: crate::prune::PruneLock,
}

#[derive(Default)]
struct State {
    volumes: BTreeMap<String, VolumeRecord>,
    /// volume → containers that use it (running or not).
    refs: HashMap<String, BTreeSet<String>>,
    /// volume → containers that have it mounted right now.
    active: HashMap<String, BTreeSet<String>>,
}

/// `[a-zA-Z0-9][a-zA-Z0-9_.-]+`, dockerd's restricted name pattern.
pub fn valid_name(name: &str) -> bool {
    let b = name.as_bytes();
    b.len() >= 2
        && b[0].is_ascii_alphanumeric()
        && b[1..]
            .iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b'-'))
}

/// dockerd's message for a name the local driver refuses (without the `create NAME: ` prefix).
pub fn name_error(name: &str) -> String {
    if name.len() == 1 {
        "volume name is too short, names should be at least two alphanumeric characters".into()
    } else {
        format!(
            "{name:?} includes invalid characters for a local volume name, only \"[a-zA-Z0-9][a-zA-Z0-9_.-]\" are allowed. If you intended to pass a host directory, use absolute path"
        )
    }
}

fn no_such_volume(name: &str) -> EngineError {
    EngineError::NotFound(format!("get {name}: no such volume"))
}

impl VolumeService {
    pub fn open(data_root: &Path, events: Arc<EventBus>) -> anyhow::Result<Self> {
        let dirs = VolumeDirs::open(data_root)?;
        let mut state = State::default();
        for rec in dirs.load_all()? {
            state.volumes.insert(rec.name.clone(), rec);
        }
        Ok(VolumeService {
            dirs,
            events,
            state: Mutex::new(state),
            prune: crate::prune::PruneLock::default(),
        })
    }

    /// Unmounts device mounts a berthd that died left on volumes no running container uses. Called
    /// once the containers have re-registered theirs ([`VolumeService::restore_mounted`]): a
    /// running container's tmpfs volume must stay the one a new container would share.
    pub fn unmount_unused(&self) {
        let st = self.lock();
        for rec in st.volumes.values() {
            if st.active.contains_key(&rec.name) {
                continue;
            }
            if local::LocalMount::from_opts(rec.options.as_ref()).is_some() {
                let data = self.dirs.data(&rec.name);
                if local::is_mountpoint(&data) {
                    tracing::info!(volume = %rec.name, "unmounting a stale volume mount");
                    let _ = local::unmount(&data);
                }
            }
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The host path a volume's data lives at (its `Mountpoint`).
    pub fn path(&self, name: &str) -> PathBuf {
        self.dirs.data(name)
    }

    fn to_api(&self, rec: &VolumeRecord) -> Volume {
        Volume {
            created_at: rec.created_at.clone(),
            driver: rec.driver.clone(),
            labels: rec.labels.clone(),
            mountpoint: self.dirs.data(&rec.name).to_string_lossy().into_owned(),
            name: rec.name.clone(),
            options: rec.options.clone(),
            scope: "local".into(),
            status: None,
            usage_data: None,
        }
    }

    fn check_driver(name: &str, driver: &str) -> Result<()> {
        if driver.is_empty() || driver == DEFAULT_DRIVER {
            return Ok(());
        }
        Err(EngineError::NotFound(format!(
            "create {name}: error looking up volume plugin {driver}: plugin \"{driver}\" not found"
        )))
    }

    /// Checks what a create would be refused for, without creating anything (container create
    /// validates every mount before it makes any volume).
    pub fn validate_create(&self, opts: &CreateOptions) -> Result<()> {
        if opts.name.is_empty() {
            return Self::check_driver(&opts.name, &opts.driver);
        }
        if !valid_name(&opts.name) {
            return Err(EngineError::invalid(format!(
                "create {}: {}",
                opts.name,
                name_error(&opts.name)
            )));
        }
        Self::check_driver(&opts.name, &opts.driver)?;
        if self.exists(&opts.name) {
            return Ok(());
        }
        Self::validate_new(&opts.name, opts)
    }

    /// The checks of a volume that does not exist yet (the name is already valid).
    fn validate_new(name: &str, opts: &CreateOptions) -> Result<()> {
        Self::check_driver(name, &opts.driver)?;
        if let Some(o) = &opts.driver_opts {
            local::validate_opts(o)
                .map_err(|e| EngineError::invalid(format!("create {name}: {e}")))?;
        }
        Ok(())
    }

    /// Creates a volume, or returns the existing one of that name (dockerd ignores the options and
    /// labels then). Emits `create` only for a new volume.
    pub fn create(&self, opts: CreateOptions) -> Result<Volume> {
        let anonymous = opts.name.is_empty();
        if !anonymous && !valid_name(&opts.name) {
            return Err(EngineError::invalid(format!(
                "create {}: {}",
                opts.name,
                name_error(&opts.name)
            )));
        }
        let name = if anonymous {
            hex::encode(rand::random::<[u8; 32]>())
        } else {
            opts.name.clone()
        };
        let mut st = self.lock();
        if let Some(existing) = st.volumes.get(&name) {
            Self::check_driver(&name, &opts.driver)?;
            let v = self.to_api(existing);
            if let Some(r) = &opts.reference {
                st.refs.entry(name).or_default().insert(r.clone());
            }
            return Ok(v);
        }
        Self::validate_new(&name, &opts)?;
        let mut labels = opts.labels;
        if anonymous {
            labels
                .get_or_insert_with(BTreeMap::new)
                .insert(ANONYMOUS_LABEL.into(), String::new());
        }
        let rec = VolumeRecord {
            name: name.clone(),
            driver: DEFAULT_DRIVER.into(),
            labels,
            options: opts.driver_opts,
            created_at: store::now(),
        };
        self.dirs
            .create(&rec)
            .map_err(|e| EngineError::Internal(e.context(format!("create {name}"))))?;
        let v = self.to_api(&rec);
        st.volumes.insert(name.clone(), rec);
        if let Some(r) = &opts.reference {
            st.refs.entry(name.clone()).or_default().insert(r.clone());
        }
        drop(st);
        tracing::debug!(volume = %name, anonymous, "volume created");
        self.emit("create", &name, &[]);
        Ok(v)
    }

    pub fn inspect(&self, name: &str) -> Result<Volume> {
        let st = self.lock();
        st.volumes
            .get(name)
            .map(|r| self.to_api(r))
            .ok_or_else(|| no_such_volume(name))
    }

    pub fn exists(&self, name: &str) -> bool {
        self.lock().volumes.contains_key(name)
    }

    pub fn is_anonymous(&self, name: &str) -> bool {
        self.lock()
            .volumes
            .get(name)
            .is_some_and(VolumeRecord::is_anonymous)
    }

    /// `GET /volumes` with filters `dangling`, `name` (regular expression), `driver`, `label`.
    pub fn list(&self, filters: &Filters) -> Result<Vec<Volume>> {
        filters.only(&["dangling", "name", "driver", "label"])?;
        let dangling =
            match filters.get("dangling") {
                [] => None,
                [v] => Some(parse_bool(v).ok_or_else(|| {
                    EngineError::invalid(format!("invalid filter 'dangling=[{v}]'"))
                })?),
                vals => {
                    return Err(EngineError::invalid(format!(
                        "invalid filter 'dangling=[{}]'",
                        vals.join(" ")
                    )))
                }
            };
        let name_res: Vec<regex::Regex> = filters
            .get("name")
            .iter()
            .filter_map(|p| regex::Regex::new(p).ok())
            .collect();
        let st = self.lock();
        let mut out = Vec::new();
        for rec in st.volumes.values() {
            if filters.has("driver") && !filters.get("driver").contains(&rec.driver) {
                continue;
            }
            if filters.has("name")
                && !filters.get("name").contains(&rec.name)
                && !name_res.iter().any(|r| r.is_match(&rec.name))
            {
                continue;
            }
            if !filters.labels_match(&rec.labels) {
                continue;
            }
            if let Some(d) = dangling {
                let used = st.refs.get(&rec.name).is_some_and(|r| !r.is_empty());
                if used == d {
                    continue;
                }
            }
            out.push(self.to_api(rec));
        }
        Ok(out)
    }

    /// Containers that reference the volume.
    pub fn references(&self, name: &str) -> Vec<String> {
        self.lock()
            .refs
            .get(name)
            .map(|r| r.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// Records that a container uses an existing volume (`--volumes-from`, restart of berthd).
    pub fn add_ref(&self, name: &str, container: &str) -> Result<()> {
        let mut st = self.lock();
        if !st.volumes.contains_key(name) {
            return Err(no_such_volume(name));
        }
        st.refs
            .entry(name.to_string())
            .or_default()
            .insert(container.to_string());
        Ok(())
    }

    pub fn release(&self, name: &str, container: &str) {
        let mut st = self.lock();
        if let Some(r) = st.refs.get_mut(name) {
            r.remove(container);
            if r.is_empty() {
                st.refs.remove(name);
            }
        }
    }

    /// `DELETE /volumes/{name}`: refused (409) while any container uses it; `force` only makes a
    /// missing volume not an error, as in dockerd.
    pub fn remove(&self, name: &str, force: bool) -> Result<()> {
        let mut st = self.lock();
        if !st.volumes.contains_key(name) {
            return if force {
                Ok(())
            } else {
                Err(no_such_volume(name))
            };
        }
        if let Some(refs) = st.refs.get(name).filter(|r| !r.is_empty()) {
            let ids: Vec<&str> = refs.iter().map(String::as_str).collect();
            return Err(EngineError::Conflict(format!(
                "remove {name}: volume is in use - [{}]",
                ids.join(", ")
            )));
        }
        self.remove_locked(&mut st, name)?;
        drop(st);
        self.emit("destroy", name, &[]);
        Ok(())
    }

    fn remove_locked(&self, st: &mut State, name: &str) -> Result<()> {
        if let Some(rec) = st.volumes.get(name) {
            if local::LocalMount::from_opts(rec.options.as_ref()).is_some() {
                local::unmount(&self.dirs.data(name))
                    .map_err(|e| EngineError::internal(format!("remove {name}: {e}")))?;
            }
        }
        self.dirs
            .remove(name)
            .map_err(|e| EngineError::Internal(e.context(format!("remove {name}"))))?;
        st.volumes.remove(name);
        st.active.remove(name);
        tracing::debug!(volume = %name, "volume removed");
        Ok(())
    }

    /// Removes a volume if nothing uses it; for `rm -v`, where a volume still used by another
    /// container is not an error.
    pub fn remove_if_unused(&self, name: &str) -> Result<bool> {
        let mut st = self.lock();
        if !st.volumes.contains_key(name) || st.refs.get(name).is_some_and(|r| !r.is_empty()) {
            return Ok(false);
        }
        self.remove_locked(&mut st, name)?;
        drop(st);
        self.emit("destroy", name, &[]);
        Ok(true)
    }

    /// `POST /volumes/prune`: unused local volumes without driver options; only anonymous ones
    /// unless `all=true` (API 1.42 and later). Filters `label`, `label!`, `all`.
    pub fn prune(&self, filters: &Filters) -> Result<VolumePruneResponse> {
        filters.only(&["label", "label!", "all"])?;
        let all = match filters.get("all") {
            [] => false,
            [v] => parse_bool(v).ok_or_else(|| {
                EngineError::invalid(format!(
                    "invalid filter 'all': strconv.ParseBool: parsing {v:?}: invalid syntax"
                ))
            })?,
            vals => {
                return Err(EngineError::invalid(format!(
                    "invalid filter 'all=[{}]': only one value is expected",
                    vals.join(" ")
                )))
            }
        };
        let _running = self.prune.try_start()?;
        let candidates: Vec<String> = {
            let st = self.lock();
            st.volumes
                .values()
                .filter(|r| r.options.as_ref().is_none_or(|o| o.is_empty()))
                .filter(|r| st.refs.get(&r.name).is_none_or(|x| x.is_empty()))
                .filter(|r| all || r.is_anonymous())
                .filter(|r| filters.prune_labels_match(&r.labels))
                .map(|r| r.name.clone())
                .collect()
        };
        let mut report = VolumePruneResponse {
            volumes_deleted: Vec::new(),
            space_reclaimed: 0,
        };
        for name in candidates {
            let size = copy::dir_size(&self.dirs.data(&name));
            match self.remove_if_unused(&name) {
                Ok(true) => {
                    report.space_reclaimed += size;
                    report.volumes_deleted.push(name);
                }
                Ok(false) => {}
                Err(e) => tracing::warn!(volume = %name, error = %e, "could not prune volume"),
            }
        }
        self.events.emit(
            "volume",
            "prune",
            "",
            HashMap::from([("reclaimed".into(), report.space_reclaimed.to_string())]),
        );
        Ok(report)
    }

    /// Mounts the volume for a container (a `local` volume with a device is mounted by its first
    /// user) and returns the host path to bind into the container.
    pub fn mount(&self, name: &str, container: &str) -> Result<PathBuf> {
        let mut st = self.lock();
        let rec = st.volumes.get(name).ok_or_else(|| no_such_volume(name))?;
        let data = self.dirs.data(name);
        let users = st.active.get(name).map_or(0, BTreeSet::len);
        if let Some(m) = local::LocalMount::from_opts(rec.options.as_ref()) {
            if users == 0 && !local::is_mountpoint(&data) {
                m.mount(&data).map_err(|e| {
                    EngineError::internal(format!(
                        "error while mounting volume '{}': {e}",
                        data.display()
                    ))
                })?;
            }
        }
        st.active
            .entry(name.to_string())
            .or_default()
            .insert(container.to_string());
        Ok(data)
    }

    /// After a berthd restart: a container that still runs has its volumes mounted (a device mount
    /// still in place is reused, not stacked).
    pub fn restore_mounted(&self, name: &str, container: &str) {
        if let Err(e) = self.mount(name, container) {
            tracing::warn!(volume = %name, error = %e, "restoring a volume mount");
        }
    }

    /// The container no longer has the volume mounted; the last one unmounts a device. Returns
    /// whether the container had it mounted.
    pub fn unmount(&self, name: &str, container: &str) -> bool {
        let mut st = self.lock();
        let Some(users) = st.active.get_mut(name) else {
            return false;
        };
        if !users.remove(container) {
            return false;
        }
        if users.is_empty() {
            st.active.remove(name);
            let needs = st
                .volumes
                .get(name)
                .is_some_and(|r| local::LocalMount::from_opts(r.options.as_ref()).is_some());
            if needs {
                if let Err(e) = local::unmount(&self.dirs.data(name)) {
                    tracing::warn!(volume = %name, error = %e, "unmounting volume");
                }
            }
        }
        true
    }

    /// A volume event: `Type` volume, the name as the actor, `driver` among the attributes.
    pub fn emit(&self, action: &str, name: &str, extra: &[(&str, String)]) {
        let mut attrs: HashMap<String, String> =
            HashMap::from([("driver".to_string(), DEFAULT_DRIVER.to_string())]);
        for (k, v) in extra {
            attrs.insert(k.to_string(), v.clone());
        }
        self.events.emit("volume", action, name, attrs);
    }
}

/// Go's `strconv.ParseBool`.
fn parse_bool(s: &str) -> Option<bool> {
    match s {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
        _ => None,
    }
}

/// dockerd's `MatchKVList`: every `key` or `key=value` must be present.
#[cfg(test)]
mod tests {
    use super::*;

    fn svc() -> (tempfile::TempDir, VolumeService) {
        let tmp = tempfile::tempdir().unwrap();
        let s = VolumeService::open(tmp.path(), Arc::new(EventBus::default())).unwrap();
        (tmp, s)
    }

    fn named(name: &str) -> CreateOptions {
        CreateOptions {
            name: name.into(),
            ..Default::default()
        }
    }

    #[test]
    fn names_follow_the_restricted_pattern() {
        assert!(valid_name("ab"));
        assert!(valid_name("my_vol.1-x"));
        assert!(!valid_name("a"));
        assert!(!valid_name("-ab"));
        assert!(!valid_name("a/b"));
        assert!(!valid_name(".."));
        assert!(!valid_name("a b"));
        assert_eq!(
            name_error("a!"),
            "\"a!\" includes invalid characters for a local volume name, only \"[a-zA-Z0-9][a-zA-Z0-9_.-]\" are allowed. If you intended to pass a host directory, use absolute path"
        );
    }

    #[test]
    fn create_refuses_like_dockerd() {
        let (_t, s) = svc();
        let e = s.create(named("bad!")).unwrap_err();
        assert_eq!(e.status(), 400);
        assert!(
            e.to_string().starts_with("create bad!: \"bad!\" includes"),
            "{e}"
        );
        let e = s
            .create(CreateOptions {
                driver: "nfs-plugin".into(),
                ..named("ok")
            })
            .unwrap_err();
        assert_eq!(e.status(), 404);
        assert_eq!(
            e.to_string(),
            "create ok: error looking up volume plugin nfs-plugin: plugin \"nfs-plugin\" not found"
        );
        let e = s
            .create(CreateOptions {
                driver_opts: Some(BTreeMap::from([("foo".into(), "1".into())])),
                ..named("ok")
            })
            .unwrap_err();
        assert_eq!(e.to_string(), "create ok: invalid option: \"foo\"");
        assert!(!s.exists("ok"));
    }

    #[test]
    fn refs_block_removal_and_dangling_filter() {
        let (_t, s) = svc();
        let v = s
            .create(CreateOptions {
                reference: Some("c1".into()),
                ..named("data")
            })
            .unwrap();
        assert_eq!(v.labels, None);
        // Creating again returns the same volume and adds the reference.
        s.create(CreateOptions {
            reference: Some("c2".into()),
            ..named("data")
        })
        .unwrap();
        let anon = s.create(CreateOptions::default()).unwrap();
        assert_eq!(anon.name.len(), 64);
        assert!(s.is_anonymous(&anon.name));
        let e = s.remove("data", true).unwrap_err();
        assert_eq!(e.status(), 409);
        assert_eq!(e.to_string(), "remove data: volume is in use - [c1, c2]");
        let dangling = Filters::parse(Some(r#"{"dangling":{"true":true}}"#)).unwrap();
        let names: Vec<String> = s
            .list(&dangling)
            .unwrap()
            .into_iter()
            .map(|v| v.name)
            .collect();
        assert_eq!(names, [anon.name]);
        s.release("data", "c1");
        s.release("data", "c2");
        s.remove("data", false).unwrap();
        assert_eq!(s.remove("data", false).unwrap_err().status(), 404);
        s.remove("data", true).unwrap();
    }

    #[test]
    fn prune_takes_anonymous_unless_all() {
        let (_t, s) = svc();
        s.create(named("keepme")).unwrap();
        let anon = s.create(CreateOptions::default()).unwrap();
        std::fs::write(Path::new(&anon.mountpoint).join("f"), b"12345").unwrap();
        let r = s.prune(&Filters::default()).unwrap();
        assert_eq!(r.volumes_deleted, [anon.name]);
        assert_eq!(r.space_reclaimed, 5);
        let all = Filters::parse(Some(r#"{"all":{"true":true}}"#)).unwrap();
        assert_eq!(s.prune(&all).unwrap().volumes_deleted, ["keepme"]);
        assert!(s
            .prune(&Filters::parse(Some(r#"{"dangling":["1"]}"#)).unwrap())
            .is_err());
    }

    #[test]
    fn filters_by_name_label_and_driver() {
        let (_t, s) = svc();
        s.create(CreateOptions {
            labels: Some(BTreeMap::from([("tier".into(), "db".into())])),
            ..named("pg-data")
        })
        .unwrap();
        s.create(named("web-cache")).unwrap();
        let names = |f: &str| -> Vec<String> {
            s.list(&Filters::parse(Some(f)).unwrap())
                .unwrap()
                .into_iter()
                .map(|v| v.name)
                .collect()
        };
        assert_eq!(names(r#"{"name":["pg"]}"#), ["pg-data"]);
        assert_eq!(names(r#"{"name":["^web"]}"#), ["web-cache"]);
        assert_eq!(names(r#"{"label":["tier=db"]}"#), ["pg-data"]);
        assert_eq!(names(r#"{"label":["tier=web"]}"#).len(), 0);
        assert_eq!(names(r#"{"driver":["local"]}"#).len(), 2);
        assert!(s
            .list(&Filters::parse(Some(r#"{"nope":["x"]}"#)).unwrap())
            .is_err());
    }

    #[test]
    fn survives_reopen() {
        let tmp = tempfile::tempdir().unwrap();
        let events = Arc::new(EventBus::default());
        let s = VolumeService::open(tmp.path(), Arc::clone(&events)).unwrap();
        let v = s
            .create(CreateOptions {
                labels: Some(BTreeMap::new()),
                driver_opts: Some(BTreeMap::new()),
                ..named("keep")
            })
            .unwrap();
        drop(s);
        let s = VolumeService::open(tmp.path(), events).unwrap();
        assert_eq!(s.inspect("keep").unwrap(), v);
    }
}
