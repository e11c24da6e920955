//! Mount set-up: volumes created and referenced at create, OCI mounts and copy-up at start,
//! references released at exit.

use std::collections::{BTreeMap, HashSet};
use std::path::Path;

use oci_spec::runtime::Mount as OciMount;

use super::parse::{
    check_target, clean_path, parse_bind, parse_mount, parse_volumes_from, read_write,
    tmpfs_options,
};
use super::{MountKind, MountRecord};
use crate::api::types::{ContainerConfig, HostConfig, Mount, MountPoint};
use crate::container::{Container, ContainerService};
use crate::error::{EngineError, Result};
use crate::volume::{copy, CreateOptions, DEFAULT_DRIVER};

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

/// `VolumeOptions.Subpath` inside a volume's data dir, resolved as if the volume were `/`: a
/// symlink planted in the volume by a container cannot lead the mount out of it. It must exist.
fn subpath_in(volume: &Path, subpath: &str) -> Result<std::path::PathBuf> {
    use crate::fs::rootpath::{open_host_dir, ContainerFs, Target};
    let full = volume.join(subpath);
    let missing = |e: nix::errno::Errno| {
        EngineError::invalid(format!(
            "cannot access path {}: {}",
            full.display(),
            std::io::Error::from_raw_os_error(e as i32)
        ))
    };
    let fs = ContainerFs::open(open_host_dir(volume)?, vec![])?;
    let r = fs
        .resolve(&Path::new("/").join(subpath), true)
        .map_err(missing)?;
    if matches!(r.target, Target::Missing { .. }) {
        return Err(missing(nix::errno::Errno::ENOENT));
    }
    let inside = r.path();
    Ok(volume.join(inside.strip_prefix("/").unwrap_or(&inside)))
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
            if d.st.state.is_running() {
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
                        let mut path = self.volumes.mount(&m.name, &c.id)?;
                        mounted.push(&m.name);
                        if !m.subpath.is_empty() {
                            path = subpath_in(&path, &m.subpath)?;
                        }
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
        crate::container::namespaces::release_shm(c);
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
