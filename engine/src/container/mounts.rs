//! A container's mounts, dockerd's way: `HostConfig.VolumesFrom`, `Binds` (`-v`), `Mounts`
//! (`--mount`), the image's and `-v /path`'s `Config.Volumes` (anonymous volumes) and
//! `HostConfig.Tmpfs`. At create they are parsed, validated and resolved into [`MountRecord`]s kept
//! in the container record (volumes created and referenced then); at start they become OCI mounts,
//! with copy-up of the image's content into a new volume; at exit volumes are released, at removal
//! anonymous ones go with `-v`.

use std::collections::{BTreeMap, HashSet};
use std::path::Path;

use oci_spec::runtime::Mount as OciMount;
use serde::{Deserialize, Serialize};

use super::{Container, ContainerService};
use crate::api::types::{ContainerConfig, HostConfig, Mount, MountPoint};
use crate::error::{EngineError, Result};
use crate::volume::{copy, CreateOptions, DEFAULT_DRIVER};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MountKind {
    Volume,
    Bind,
    Tmpfs,
}

impl MountKind {
    fn as_str(self) -> &'static str {
        match self {
            MountKind::Volume => "volume",
            MountKind::Bind => "bind",
            MountKind::Tmpfs => "tmpfs",
        }
    }
}

/// One resolved mount point of a container (dockerd's `MountPoint` in `config.v2.json`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MountRecord {
    pub kind: MountKind,
    /// The volume's name (volumes only).
    #[serde(default)]
    pub name: String,
    /// The host path (binds only; a volume's comes from the volume service).
    #[serde(default)]
    pub source: String,
    pub destination: String,
    #[serde(default)]
    pub driver: String,
    /// The mode as `inspect` shows it: `-v`'s third field, `z` for local volumes without one.
    #[serde(default)]
    pub mode: String,
    pub rw: bool,
    #[serde(default)]
    pub propagation: String,
    /// The spec named its volume (`-v name:/x`): `rm -v` and `--rm` keep it.
    #[serde(default)]
    pub named: bool,
    /// Copy the image's content into the volume at the first start (unless it holds data).
    #[serde(default)]
    pub copy_data: bool,
    /// A missing bind source is created (`-v`) rather than refused (`--mount`).
    #[serde(default)]
    pub create_source: bool,
    #[serde(default)]
    pub non_recursive: bool,
    /// tmpfs mount data, `size=64m,mode=1777`.
    #[serde(default)]
    pub tmpfs_data: String,
}

impl MountRecord {
    fn new(kind: MountKind, destination: String) -> Self {
        MountRecord {
            kind,
            name: String::new(),
            source: String::new(),
            destination,
            driver: String::new(),
            mode: String::new(),
            rw: true,
            propagation: String::new(),
            named: false,
            copy_data: false,
            create_source: false,
            non_recursive: false,
            tmpfs_data: String::new(),
        }
    }
}

const PROPAGATIONS: &[&str] = &[
    "private", "rprivate", "slave", "rslave", "shared", "rshared",
];
const DEFAULT_PROPAGATION: &str = "rprivate";

/// Go's `path.Clean` for slash paths.
pub fn clean_path(p: &str) -> String {
    let abs = p.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for c in p.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                if parts.last().is_some_and(|l| *l != "..") {
                    parts.pop();
                } else if !abs {
                    parts.push("..");
                }
            }
            c => parts.push(c),
        }
    }
    let joined = parts.join("/");
    match (abs, joined.is_empty()) {
        (true, _) => format!("/{joined}"),
        (false, true) => ".".into(),
        (false, false) => joined,
    }
}

/// dockerd's `linuxValidMountMode`: comma-separated, at most one of each kind.
fn valid_mode(mode: &str) -> bool {
    if mode.is_empty() {
        return true;
    }
    let mut counts = [0u8; 5];
    for o in mode.split(',') {
        let kind = match o {
            "rw" | "ro" => 0,
            "z" | "Z" => 1,
            o if PROPAGATIONS.contains(&o) => 2,
            "nocopy" => 3,
            "consistent" | "cached" | "delegated" => 4,
            _ => return false,
        };
        counts[kind] += 1;
    }
    counts.iter().all(|c| *c <= 1)
}

fn mode_propagation(mode: &str) -> Option<&str> {
    mode.split(',').find(|o| PROPAGATIONS.contains(o))
}

fn read_write(mode: &str) -> bool {
    valid_mode(mode) && !mode.split(',').any(|o| o == "ro")
}

/// The checks every mount target gets: present, absolute, not `/`.
fn check_target(target: &str) -> Result<(), String> {
    if target.is_empty() {
        return Err("field Target must not be empty".into());
    }
    if clean_path(target) == "/" {
        return Err("invalid specification: destination can't be '/'".into());
    }
    if !target.starts_with('/') {
        return Err(format!(
            "invalid mount path: '{target}' mount path must be absolute"
        ));
    }
    Ok(())
}

/// One `-v` / `HostConfig.Binds` entry: `[source:]target[:mode]` (dockerd's `ParseMountRaw`).
pub fn parse_bind(raw: &str) -> Result<MountRecord, String> {
    let bad_spec = || format!("invalid volume specification: '{raw}'");
    let arr: Vec<&str> = raw.splitn(4, ':').collect();
    if arr[0].is_empty() {
        return Err(bad_spec());
    }
    let (source, target, mode) = match arr.as_slice() {
        [t] => ("", *t, ""),
        [s, t] => {
            // `/foo:rw` would be a destination with a mode: volumes cannot have one.
            if valid_mode(t) {
                return Err(bad_spec());
            }
            (*s, *t, "")
        }
        [s, t, m] => (*s, *t, *m),
        _ => return Err(bad_spec()),
    };
    if !valid_mode(mode) {
        return Err(format!("invalid mode: {mode}"));
    }
    let kind = if source.starts_with('/') {
        MountKind::Bind
    } else {
        MountKind::Volume
    };
    check_target(target).map_err(|e| {
        format!(
            "{}: invalid mount config for type \"{}\": {e}",
            bad_spec(),
            kind.as_str()
        )
    })?;
    let mut m = MountRecord::new(kind, clean_path(target));
    m.rw = read_write(mode);
    m.mode = mode.to_string();
    match kind {
        MountKind::Bind => {
            m.source = clean_path(source);
            m.propagation = mode_propagation(mode)
                .unwrap_or(DEFAULT_PROPAGATION)
                .to_string();
            m.create_source = true;
        }
        _ => {
            m.name = source.to_string();
            m.named = !source.is_empty();
            m.copy_data = !mode.split(',').any(|o| o == "nocopy");
            if m.mode.is_empty() {
                m.mode = "z".into();
            }
        }
    }
    Ok(m)
}

/// dockerd's `ConvertTmpfsOptions`: `ro`, `mode=` in octal, `size=` with the largest whole unit.
fn tmpfs_data(m: &Mount) -> Result<String, String> {
    let mut out = Vec::new();
    if m.read_only {
        out.push("ro".to_string());
    }
    if let Some(t) = &m.tmpfs_options {
        if t.mode != 0 {
            out.push(format!("mode={:o}", t.mode));
        }
        if t.size_bytes != 0 {
            let mut size = t.size_bytes;
            let mut suffix = "";
            for (s, div) in [("g", 1i64 << 30), ("m", 1 << 20), ("k", 1 << 10)] {
                if size % div == 0 {
                    size /= div;
                    suffix = s;
                    break;
                }
            }
            out.push(format!("size={size}{suffix}"));
        }
        for o in &t.options {
            match o.as_slice() {
                [k] if k == "exec" || k == "noexec" => out.push(k.clone()),
                [k, v] if k == "exec" || k == "noexec" => out.push(format!("{k}={v}")),
                [] | [_, _, _, ..] => return Err("invalid option array length".into()),
                [k, ..] => return Err(format!("invalid option: {k}")),
            }
        }
    }
    Ok(out.join(","))
}

/// One `--mount` / `HostConfig.Mounts` entry (dockerd's `ParseMountSpec` and its validation).
pub fn parse_mount(m: &Mount) -> Result<MountRecord, String> {
    let fail = |e: String| format!("invalid mount config for type \"{}\": {e}", m.kind);
    let has = |k: &str| m.extra.get(k).is_some_and(|v| !v.is_null());
    let extra_field = if m.kind != "bind" && m.bind_options.is_some() {
        Some("BindOptions")
    } else if m.kind != "volume" && m.volume_options.is_some() {
        Some("VolumeOptions")
    } else if m.kind != "image" && has("ImageOptions") {
        Some("ImageOptions")
    } else if m.kind != "tmpfs" && m.tmpfs_options.is_some() {
        Some("TmpfsOptions")
    } else if m.kind != "cluster" && has("ClusterOptions") {
        Some("ClusterOptions")
    } else {
        None
    };
    if let Some(f) = extra_field {
        return Err(fail(format!("field {f} must not be specified")));
    }
    check_target(&m.target).map_err(fail)?;
    let mut r;
    match m.kind.as_str() {
        "bind" => {
            if m.source.is_empty() {
                return Err(fail("field Source must not be empty".into()));
            }
            let bo = m.bind_options.clone().unwrap_or_default();
            if !bo.propagation.is_empty() && !PROPAGATIONS.contains(&bo.propagation.as_str()) {
                return Err(fail(format!(
                    "invalid propagation mode: {}",
                    bo.propagation
                )));
            }
            if !m.source.starts_with('/') {
                return Err(fail(format!(
                    "invalid mount path: '{}' mount path must be absolute",
                    m.source
                )));
            }
            // Without following a final symlink: a dangling link still "exists" for dockerd.
            if std::fs::symlink_metadata(&m.source).is_err() && !bo.create_mountpoint {
                return Err(fail(format!(
                    "bind source path does not exist: {}",
                    m.source
                )));
            }
            r = MountRecord::new(MountKind::Bind, clean_path(&m.target));
            r.source = clean_path(&m.source);
            r.propagation = if bo.propagation.is_empty() {
                DEFAULT_PROPAGATION.into()
            } else {
                bo.propagation.clone()
            };
            r.create_source = bo.create_mountpoint;
            r.non_recursive = bo.non_recursive;
        }
        "volume" => {
            let vo = m.volume_options.clone().unwrap_or_default();
            if !vo.subpath.is_empty() {
                if m.source.is_empty() {
                    return Err(fail(
                        "must not set Subpath when using anonymous volumes".into(),
                    ));
                }
                return Err(fail("VolumeOptions.Subpath is not supported yet".into()));
            }
            r = MountRecord::new(MountKind::Volume, clean_path(&m.target));
            r.name = m.source.clone();
            r.named = !m.source.is_empty();
            r.copy_data = !vo.no_copy;
            r.driver = vo.driver_config.map(|d| d.name).unwrap_or_default();
            r.mode = "z".into();
        }
        "tmpfs" => {
            if !m.source.is_empty() {
                return Err(fail("field Source must not be specified".into()));
            }
            r = MountRecord::new(MountKind::Tmpfs, clean_path(&m.target));
            r.tmpfs_data = tmpfs_data(m).map_err(fail)?;
        }
        "image" | "npipe" | "cluster" => {
            return Err(fail("mount type is not supported".into()));
        }
        _ => return Err(fail("mount type unknown".into())),
    }
    r.rw = !m.read_only;
    Ok(r)
}

/// dockerd's `ParseVolumesFrom`: `container[:ro|:rw]` → (container, mode).
pub fn parse_volumes_from(spec: &str) -> Result<(&str, &str), String> {
    if spec.is_empty() {
        return Err("volumes-from specification cannot be an empty string".into());
    }
    let (id, mode) = spec.split_once(':').unwrap_or((spec, ""));
    if mode.is_empty() {
        return Ok((id, "rw"));
    }
    if !valid_mode(mode)
        || mode_propagation(mode).is_some()
        || mode.split(',').any(|o| o == "nocopy")
    {
        return Err(format!("invalid mode: {mode}"));
    }
    Ok((id, mode))
}

/// moby's `MergeTmpfsOptions`: the last of conflicting flags wins, data keys are kept once.
pub fn merge_tmpfs_options(opts: &[&str]) -> Result<Vec<String>, String> {
    const VALID_DATA: &[&str] = &[
        "size",
        "mode",
        "uid",
        "gid",
        "nr_inodes",
        "nr_blocks",
        "mpol",
    ];
    let mut seen_flags: HashSet<&str> = HashSet::new();
    let mut seen_data: HashSet<&str> = HashSet::new();
    let mut out: Vec<String> = Vec::new();
    for o in opts.iter().rev().filter(|o| !o.is_empty()) {
        let key = match *o {
            "defaults" => continue,
            "ro" | "rw" => Some("ro"),
            "suid" | "nosuid" => Some("suid"),
            "dev" | "nodev" => Some("dev"),
            "exec" | "noexec" => Some("exec"),
            "sync" | "async" => Some("sync"),
            "dirsync" => Some("dirsync"),
            "mand" | "nomand" => Some("mand"),
            "atime" | "noatime" => Some("atime"),
            "diratime" | "nodiratime" => Some("diratime"),
            "relatime" | "norelatime" => Some("relatime"),
            "strictatime" | "nostrictatime" => Some("strictatime"),
            p if PROPAGATIONS.contains(&p) || p == "unbindable" || p == "runbindable" => {
                Some("propagation")
            }
            _ => None,
        };
        if let Some(k) = key {
            if seen_flags.insert(k) {
                out.insert(0, o.to_string());
            }
            continue;
        }
        match o.split_once('=') {
            Some((k, _)) if VALID_DATA.contains(&k) => {
                if seen_data.insert(k) {
                    out.insert(0, o.to_string());
                }
            }
            _ => return Err(format!("invalid tmpfs option [\"{o}\"]")),
        }
    }
    Ok(out)
}

fn tmpfs_options(data: &str) -> Result<Vec<String>, String> {
    let mut all = vec!["noexec", "nosuid", "nodev", DEFAULT_PROPAGATION];
    all.extend(data.split(','));
    merge_tmpfs_options(&all)
}

fn oci_mount(dst: &str, typ: &str, src: &str, options: Vec<String>) -> OciMount {
    let mut m = OciMount::default();
    m.set_destination(dst.into());
    m.set_typ(Some(typ.into()));
    m.set_source(Some(src.into()));
    m.set_options(Some(options));
    m
}

fn bind_options(rw: bool, propagation: &str, non_recursive: bool) -> Vec<String> {
    let mut o = vec![if non_recursive { "bind" } else { "rbind" }.to_string()];
    if !rw {
        o.push("ro".into());
    }
    if !propagation.is_empty() {
        o.push(propagation.into());
    }
    o
}

fn depth(dest: &str) -> usize {
    clean_path(dest).matches('/').count()
}

/// Copies the image's content at `dest` into the volume at `vol` when `vol` is empty.
fn populate(rootfs: &Path, dest: &str, vol: &Path) -> Result<()> {
    let src = copy::resolve_in_root(rootfs, dest)
        .map_err(|e| EngineError::internal(format!("resolving {dest} in the image: {e}")))?;
    if !std::fs::symlink_metadata(&src).is_ok_and(|m| m.is_dir()) {
        return Ok(());
    }
    if std::fs::read_dir(vol)?.next().is_some() {
        tracing::debug!(dest, "volume is not empty, no copy-up");
        return Ok(());
    }
    tracing::debug!(dest, volume = %vol.display(), "copying image content into the volume");
    copy::copy_tree(&src, vol).map_err(|e| {
        EngineError::internal(format!(
            "copying image content of {dest} into the volume: {e}"
        ))
    })
}

impl ContainerService {
    /// Resolves a new container's mounts. Everything is validated before the first volume is
    /// created; the volumes are then created (or looked up) with `id` as their user.
    pub(crate) fn plan_mounts(
        &self,
        id: &str,
        config: &ContainerConfig,
        hc: &HostConfig,
    ) -> Result<Vec<MountRecord>> {
        let invalid = EngineError::invalid;
        for dest in hc.tmpfs.keys() {
            check_target(dest).map_err(invalid)?;
        }
        for data in hc.tmpfs.values() {
            tmpfs_options(data).map_err(invalid)?;
        }
        let volume_driver = hc
            .extra
            .get("VolumeDriver")
            .and_then(|v| v.as_str())
            .unwrap_or_default()
            .to_string();
        let mut points: BTreeMap<String, MountRecord> = BTreeMap::new();
        // Labels and driver options of `--mount` volumes, by destination.
        let mut volume_opts: BTreeMap<String, &Mount> = BTreeMap::new();
        let mut explicit: HashSet<String> = HashSet::new();
        // Destinations whose volume is shared from another container (`--volumes-from`).
        let mut shared: HashSet<String> = HashSet::new();

        for spec in &hc.volumes_from {
            let (cid, mode) = parse_volumes_from(spec).map_err(invalid)?;
            let from = self
                .get(cid)
                .map_err(|e| EngineError::invalid(e.to_string()))?;
            let rw_allowed = read_write(mode);
            for m in from.lock().rec.mount_points.iter() {
                let mut cp = m.clone();
                cp.rw = m.rw && rw_allowed;
                cp.mode = String::new();
                cp.copy_data = false;
                shared.insert(cp.destination.clone());
                points.insert(cp.destination.clone(), cp);
            }
        }
        for raw in &hc.binds {
            let mut m = parse_bind(raw).map_err(invalid)?;
            if explicit.contains(&m.destination) || hc.tmpfs.contains_key(&m.destination) {
                return Err(invalid(format!("Duplicate mount point: {}", m.destination)));
            }
            if m.kind == MountKind::Volume {
                m.driver = volume_driver.clone();
            }
            explicit.insert(m.destination.clone());
            shared.remove(&m.destination);
            points.insert(m.destination.clone(), m);
        }
        for spec in &hc.mounts {
            let mut m = parse_mount(spec).map_err(invalid)?;
            if explicit.contains(&m.destination) {
                return Err(invalid(format!("Duplicate mount point: {}", spec.target)));
            }
            if m.kind == MountKind::Volume {
                if m.driver.is_empty() {
                    m.driver = volume_driver.clone();
                }
                volume_opts.insert(m.destination.clone(), spec);
            }
            explicit.insert(m.destination.clone());
            shared.remove(&m.destination);
            points.insert(m.destination.clone(), m);
        }
        let mut image_volumes: Vec<&String> = config
            .volumes
            .as_ref()
            .map(|v| v.keys().collect())
            .unwrap_or_default();
        image_volumes.sort();
        for spec in image_volumes {
            let dest = clean_path(spec);
            if !dest.starts_with('/') {
                return Err(invalid(format!(
                    "invalid mount path: '{spec}' mount path must be absolute"
                )));
            }
            if dest == "/" {
                return Err(invalid(
                    "invalid specification: destination can't be '/'".into(),
                ));
            }
            if points.contains_key(&dest) || hc.tmpfs.contains_key(&dest) {
                continue;
            }
            let mut m = MountRecord::new(MountKind::Volume, dest.clone());
            m.driver = volume_driver.clone();
            m.copy_data = true;
            points.insert(dest, m);
        }

        let create_opts = |m: &MountRecord| -> CreateOptions {
            let spec = volume_opts.get(&m.destination);
            let vo = spec.and_then(|s| s.volume_options.as_ref());
            CreateOptions {
                name: m.name.clone(),
                driver: m.driver.clone(),
                driver_opts: vo
                    .and_then(|v| v.driver_config.as_ref())
                    .map(|d| d.options.clone())
                    .filter(|o| !o.is_empty()),
                labels: vo.map(|v| v.labels.clone()).filter(|l| !l.is_empty()),
                reference: Some(id.to_string()),
            }
        };
        // Validation first: nothing is created for a container that will not be.
        for m in points.values() {
            if m.kind == MountKind::Volume && !shared.contains(&m.destination) {
                self.volumes.validate_create(&create_opts(m))?;
            }
        }
        let mut out: Vec<MountRecord> = Vec::with_capacity(points.len());
        let mut made: Vec<MountRecord> = Vec::new();
        let result: Result<()> = (|| {
            for (dest, mut m) in std::mem::take(&mut points) {
                if m.kind == MountKind::Volume {
                    if shared.contains(&dest) {
                        // The other container's volume: it must still exist.
                        self.volumes.add_ref(&m.name, id)?;
                    } else {
                        m.name = self.volumes.create(create_opts(&m))?.name;
                    }
                    if m.driver.is_empty() {
                        m.driver = DEFAULT_DRIVER.into();
                    }
                    made.push(m.clone());
                }
                out.push(m);
            }
            Ok(())
        })();
        if let Err(e) = result {
            self.drop_volume_refs(id, &made, true);
            return Err(e);
        }
        Ok(out)
    }

    /// Releases a container's volumes; with `remove_anonymous`, the ones its spec did not name go
    /// too unless another container still uses them (`docker rm -v`, `--rm`).
    pub(crate) fn drop_volume_refs(
        &self,
        id: &str,
        mounts: &[MountRecord],
        remove_anonymous: bool,
    ) {
        for m in mounts.iter().filter(|m| m.kind == MountKind::Volume) {
            self.volumes.release(&m.name, id);
            if remove_anonymous && !m.named {
                if let Err(e) = self.volumes.remove_if_unused(&m.name) {
                    tracing::warn!(volume = %m.name, error = %e, "removing an anonymous volume");
                }
            }
        }
    }

    /// At load: the container's references, and its mounts when it still runs.
    pub(crate) fn restore_volume_refs(&self, c: &Container) {
        let d = c.lock();
        for m in d
            .rec
            .mount_points
            .iter()
            .filter(|m| m.kind == MountKind::Volume)
        {
            if let Err(e) = self.volumes.add_ref(&m.name, &c.id) {
                tracing::warn!(id = %c.id, volume = %m.name, error = %e, "container volume is missing");
                continue;
            }
            if d.st.state.running {
                self.volumes.restore_mounted(&m.name, &c.id);
            }
        }
    }

    /// The OCI mounts of a starting container, its rootfs mounted at `rootfs`. Volumes are
    /// mounted (and filled from the image the first time); on error nothing stays mounted.
    pub(crate) fn setup_mounts(&self, c: &Container, rootfs: &Path) -> Result<Vec<OciMount>> {
        let d = c.snapshot();
        let hc = &d.rec.host_config;
        let mut points: Vec<&MountRecord> = d
            .rec
            .mount_points
            .iter()
            .filter(|m| !hc.tmpfs.contains_key(&m.destination))
            .collect();
        points.sort_by_key(|m| depth(&m.destination));
        let mut mounted: Vec<&str> = Vec::new();
        let mut out: Vec<OciMount> = Vec::new();
        let result: Result<()> = (|| {
            for m in &points {
                match m.kind {
                    MountKind::Volume => {
                        let path = self.volumes.mount(&m.name, &c.id)?;
                        mounted.push(&m.name);
                        if m.copy_data {
                            populate(rootfs, &m.destination, &path)?;
                        }
                        out.push(oci_mount(
                            &m.destination,
                            "bind",
                            &path.to_string_lossy(),
                            bind_options(m.rw, &m.propagation, m.non_recursive),
                        ));
                    }
                    MountKind::Bind => {
                        if std::fs::symlink_metadata(&m.source).is_err() {
                            if !m.create_source {
                                return Err(EngineError::invalid(format!(
                                    "invalid mount config for type \"bind\": bind source path does not exist: {}",
                                    m.source
                                )));
                            }
                            std::fs::DirBuilder::new()
                                .recursive(true)
                                .create(&m.source)
                                .map_err(|e| {
                                    EngineError::internal(format!(
                                        "error while creating mount source path '{}': {e}",
                                        m.source
                                    ))
                                })?;
                        }
                        out.push(oci_mount(
                            &m.destination,
                            "bind",
                            &m.source,
                            bind_options(m.rw, &m.propagation, m.non_recursive),
                        ));
                    }
                    MountKind::Tmpfs => out.push(oci_mount(
                        &m.destination,
                        "tmpfs",
                        "tmpfs",
                        tmpfs_options(&m.tmpfs_data).map_err(EngineError::invalid)?,
                    )),
                }
            }
            for (dest, data) in &hc.tmpfs {
                out.push(oci_mount(
                    dest,
                    "tmpfs",
                    "tmpfs",
                    tmpfs_options(data).map_err(EngineError::invalid)?,
                ));
            }
            Ok(())
        })();
        if let Err(e) = result {
            for name in mounted {
                self.volumes.unmount(name, &c.id);
            }
            return Err(e);
        }
        out.sort_by_key(|m| depth(&m.destination().to_string_lossy()));
        for m in points.iter().filter(|m| m.kind == MountKind::Volume) {
            self.volumes.emit(
                "mount",
                &m.name,
                &[
                    ("container", c.id.clone()),
                    ("destination", m.destination.clone()),
                    ("read/write", m.rw.to_string()),
                    ("propagation", m.propagation.clone()),
                ],
            );
        }
        if d.rec.mount_points.iter().any(|m| m.copy_data) {
            // Copy-up happens once, on the first start; written so a restart keeps it so.
            {
                let mut d = c.lock();
                for m in d.rec.mount_points.iter_mut() {
                    m.copy_data = false;
                }
            }
            c.save_record()?;
        }
        Ok(out)
    }

    /// The container stopped: its volumes are unmounted (a device by its last user).
    pub(crate) fn release_mounts(&self, c: &Container) {
        let names: Vec<String> = c
            .lock()
            .rec
            .mount_points
            .iter()
            .filter(|m| m.kind == MountKind::Volume)
            .map(|m| m.name.clone())
            .collect();
        for name in names {
            if self.volumes.unmount(&name, &c.id) {
                self.volumes
                    .emit("unmount", &name, &[("container", c.id.clone())]);
            }
        }
    }

    /// `Mounts` of `inspect` and `ps`.
    pub fn mount_points(&self, mounts: &[MountRecord]) -> Vec<MountPoint> {
        mounts
            .iter()
            .map(|m| MountPoint {
                kind: m.kind.as_str().into(),
                name: m.name.clone(),
                source: match m.kind {
                    MountKind::Volume => self.volumes.path(&m.name).to_string_lossy().into(),
                    _ => m.source.clone(),
                },
                destination: m.destination.clone(),
                driver: m.driver.clone(),
                mode: m.mode.clone(),
                rw: m.rw,
                propagation: m.propagation.clone(),
            })
            .collect()
    }
}

/// The `docker ps --filter volume=` test: a volume name, a bind source or a destination.
pub fn mounts_match(mounts: &[MountRecord], wanted: &[String]) -> bool {
    mounts.iter().any(|m| {
        let key = if m.name.is_empty() {
            &m.source
        } else {
            &m.name
        };
        wanted.iter().any(|w| *w == m.destination || w == key)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_clean_like_go() {
        assert_eq!(clean_path("/a/b/../c/"), "/a/c");
        assert_eq!(clean_path("/../x"), "/x");
        assert_eq!(clean_path("//data/."), "/data");
        assert_eq!(clean_path("rel/../.."), "..");
    }

    #[test]
    fn binds_parse_like_dockerd() {
        let b = parse_bind("/host/dir:/ctr:ro,rshared").unwrap();
        assert_eq!(b.kind, MountKind::Bind);
        assert_eq!(
            (b.source.as_str(), b.destination.as_str()),
            ("/host/dir", "/ctr")
        );
        assert!(!b.rw);
        assert_eq!(b.mode, "ro,rshared");
        assert_eq!(b.propagation, "rshared");
        assert!(b.create_source);

        let b = parse_bind("/h:/c").unwrap();
        assert_eq!(
            (b.mode.as_str(), b.propagation.as_str(), b.rw),
            ("", "rprivate", true)
        );

        let v = parse_bind("data:/var/lib/data").unwrap();
        assert_eq!(v.kind, MountKind::Volume);
        assert_eq!((v.name.as_str(), v.mode.as_str()), ("data", "z"));
        assert!(v.named && v.copy_data);
        let v = parse_bind("data:/d:nocopy").unwrap();
        assert!(!v.copy_data);
        assert_eq!(v.mode, "nocopy");
        let anon = parse_bind("/only/target").unwrap();
        assert_eq!(anon.kind, MountKind::Volume);
        assert!(!anon.named);

        assert_eq!(
            parse_bind("data:rel").unwrap_err(),
            "invalid volume specification: 'data:rel': invalid mount config for type \"volume\": invalid mount path: 'rel' mount path must be absolute"
        );
        assert_eq!(
            parse_bind("/h:/").unwrap_err(),
            "invalid volume specification: '/h:/': invalid mount config for type \"bind\": invalid specification: destination can't be '/'"
        );
        assert_eq!(
            parse_bind("/x:rw").unwrap_err(),
            "invalid volume specification: '/x:rw'"
        );
        assert_eq!(parse_bind("/a:/b:xx").unwrap_err(), "invalid mode: xx");
        assert_eq!(
            parse_bind("/a:/b:ro,rw").unwrap_err(),
            "invalid mode: ro,rw"
        );
        assert!(parse_bind("a:b:c:d").is_err());
        assert!(parse_bind(":/x").is_err());
    }

    #[test]
    fn mounts_validate_like_dockerd() {
        let tmp = tempfile::tempdir().unwrap();
        let src = tmp.path().to_str().unwrap().to_string();
        let bind = |source: &str| Mount {
            kind: "bind".into(),
            source: source.into(),
            target: "/t".into(),
            ..Default::default()
        };
        let r = parse_mount(&bind(&src)).unwrap();
        assert_eq!(
            (r.kind, r.propagation.as_str(), r.mode.as_str()),
            (MountKind::Bind, "rprivate", "")
        );
        assert_eq!(
            parse_mount(&bind("/no/such/dir")).unwrap_err(),
            "invalid mount config for type \"bind\": bind source path does not exist: /no/such/dir"
        );
        assert_eq!(
            parse_mount(&bind("")).unwrap_err(),
            "invalid mount config for type \"bind\": field Source must not be empty"
        );
        let mut rel = bind(&src);
        rel.target = "rel".into();
        assert_eq!(
            parse_mount(&rel).unwrap_err(),
            "invalid mount config for type \"bind\": invalid mount path: 'rel' mount path must be absolute"
        );
        let tmpfs = Mount {
            kind: "tmpfs".into(),
            target: "/t".into(),
            tmpfs_options: Some(crate::api::types::TmpfsOptions {
                size_bytes: 64 << 20,
                mode: 0o1777,
                options: vec![],
            }),
            ..Default::default()
        };
        assert_eq!(
            parse_mount(&tmpfs).unwrap().tmpfs_data,
            "mode=1777,size=64m"
        );
        let mut bad = tmpfs.clone();
        bad.source = "x".into();
        assert_eq!(
            parse_mount(&bad).unwrap_err(),
            "invalid mount config for type \"tmpfs\": field Source must not be specified"
        );
        let mut bad = tmpfs;
        bad.bind_options = Some(Default::default());
        assert_eq!(
            parse_mount(&bad).unwrap_err(),
            "invalid mount config for type \"tmpfs\": field BindOptions must not be specified"
        );
        let vol = Mount {
            kind: "volume".into(),
            target: "/v".into(),
            read_only: true,
            ..Default::default()
        };
        let r = parse_mount(&vol).unwrap();
        assert_eq!((r.named, r.rw, r.mode.as_str()), (false, false, "z"));
        let odd = Mount {
            kind: "weird".into(),
            target: "/v".into(),
            ..Default::default()
        };
        assert_eq!(
            parse_mount(&odd).unwrap_err(),
            "invalid mount config for type \"weird\": mount type unknown"
        );
    }

    #[test]
    fn volumes_from_modes() {
        assert_eq!(parse_volumes_from("web").unwrap(), ("web", "rw"));
        assert_eq!(parse_volumes_from("web:ro").unwrap(), ("web", "ro"));
        assert_eq!(
            parse_volumes_from("web:rshared").unwrap_err(),
            "invalid mode: rshared"
        );
        assert_eq!(
            parse_volumes_from("web:bogus").unwrap_err(),
            "invalid mode: bogus"
        );
        assert!(parse_volumes_from("").is_err());
    }

    #[test]
    fn tmpfs_options_merge_like_moby() {
        assert_eq!(
            tmpfs_options("size=64m,exec").unwrap(),
            ["nosuid", "nodev", "rprivate", "size=64m", "exec"]
        );
        assert_eq!(
            tmpfs_options("").unwrap(),
            ["noexec", "nosuid", "nodev", "rprivate"]
        );
        assert_eq!(
            tmpfs_options("bogus").unwrap_err(),
            "invalid tmpfs option [\"bogus\"]"
        );
    }

    #[test]
    fn ps_volume_filter() {
        let mut v = MountRecord::new(MountKind::Volume, "/data".into());
        v.name = "db".into();
        let mut b = MountRecord::new(MountKind::Bind, "/src".into());
        b.source = "/home/me".into();
        let ms = [v, b];
        assert!(mounts_match(&ms, &["db".into()]));
        assert!(mounts_match(&ms, &["/src".into()]));
        assert!(mounts_match(&ms, &["/home/me".into()]));
        assert!(!mounts_match(&ms, &["other".into()]));
    }
}
