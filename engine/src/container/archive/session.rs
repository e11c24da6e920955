//! A container's filesystem opened for one file operation: its rootfs (mounted for the time of
//! the operation when the container is stopped) and its bind mounts.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use nix::fcntl::OFlag;

use crate::container::{Container, ContainerService};
use crate::error::Result;
use crate::fs::rootpath::{self, clean_abs, BindMount, ContainerFs, Resolved, Target};
use crate::snapshot;

/// A small text file of the container (passwd, group), read through the in-root resolver;
/// empty when missing or not a regular file.
pub(crate) fn read_small_file(fs: &ContainerFs, path: &str) -> String {
    let Ok(Resolved {
        target: Target::Node { fd, stat, .. },
        ..
    }) = fs.resolve(Path::new(path), true)
    else {
        return String::new();
    };
    if stat.st_mode & libc::S_IFMT != libc::S_IFREG {
        return String::new();
    }
    let Ok(f) = rootpath::reopen(&fd, OFlag::O_RDONLY) else {
        return String::new();
    };
    let mut s = String::new();
    let _ = std::fs::File::from(f).take(4 << 20).read_to_string(&mut s);
    s
}

/// The bind mounts of a container as its OCI spec lists them (none before its first start).
pub fn bind_mounts(bundle: &Path) -> Vec<BindMount> {
    let Ok(data) = std::fs::read(bundle.join("config.json")) else {
        return vec![];
    };
    let spec: oci_spec::runtime::Spec = match serde_json::from_slice(&data) {
        Ok(s) => s,
        Err(e) => {
            tracing::warn!(bundle = %bundle.display(), error = %e, "unreadable OCI spec");
            return vec![];
        }
    };
    spec.mounts()
        .clone()
        .unwrap_or_default()
        .into_iter()
        .filter_map(|m| {
            let opts = m.options().clone().unwrap_or_default();
            let is_bind = m.typ().as_deref() == Some("bind")
                || opts.iter().any(|o| o == "bind" || o == "rbind");
            let source = m.source().clone()?;
            is_bind.then(|| BindMount {
                destination: m.destination().clone(),
                source,
                read_only: opts.iter().any(|o| o == "ro"),
            })
        })
        .collect()
}

/// Every mount destination of a container's OCI spec (proc, dev, binds, ...), lexically clean.
pub fn all_mount_destinations(bundle: &Path) -> Vec<PathBuf> {
    let Ok(data) = std::fs::read(bundle.join("config.json")) else {
        return vec![];
    };
    let Ok(spec) = serde_json::from_slice::<oci_spec::runtime::Spec>(&data) else {
        return vec![];
    };
    spec.mounts()
        .clone()
        .unwrap_or_default()
        .iter()
        .map(|m| clean_abs(m.destination()))
        .filter(|d| d != Path::new("/"))
        .collect()
}

/// A container's filesystem opened for one file operation. The rootfs of a stopped container
/// is mounted for it and unmounted when this is dropped; hold the container's `op` lock meanwhile.
pub struct FsSession {
    pub fs: ContainerFs,
    _mount: Option<TempMount>,
}

/// A rootfs mounted for the length of one operation.
struct TempMount(PathBuf);

impl Drop for TempMount {
    fn drop(&mut self) {
        if let Err(e) = snapshot::unmount(&self.0) {
            tracing::warn!(path = %self.0.display(), error = %e, "unmounting a temporary rootfs mount");
        }
    }
}

/// Whether `p` is a mount point (its device differs from its parent's).
fn is_mount_point(p: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (std::fs::metadata(p), p.parent().map(std::fs::metadata)) {
        (Ok(a), Some(Ok(b))) => a.dev() != b.dev(),
        _ => false,
    }
}

impl ContainerService {
    /// The volumes and binds of a container's record, as the mounts its spec will have.
    fn recorded_binds(&self, c: &Container) -> Vec<BindMount> {
        use crate::container::mounts::MountKind;
        let records = c.lock().rec.mount_points.clone();
        records
            .into_iter()
            .filter_map(|m| {
                let source = match m.kind {
                    MountKind::Volume => self.volumes.path(&m.name),
                    MountKind::Bind => PathBuf::from(&m.source),
                    MountKind::Tmpfs => return None,
                };
                Some(BindMount {
                    destination: PathBuf::from(&m.destination),
                    source,
                    read_only: !m.rw,
                })
            })
            .collect()
    }

    /// Opens the container's filesystem (caller holds `c.op`). A running container's rootfs is
    /// already mounted; a stopped one's is mounted here, after any exiting monitor has finished
    /// its own unmount (which would otherwise hit ours).
    pub(crate) async fn open_fs(&self, c: &Arc<Container>, with_mounts: bool) -> Result<FsSession> {
        let rootfs = c.rootfs();
        let mut temp_mount = None;
        if !is_mount_point(&rootfs) {
            c.monitor_gone().await?;
            let (layers, disposable) = {
                let d = c.lock();
                (d.rec.layers.clone(), d.rec.host_config.auto_remove)
            };
            snapshot::unmount(&rootfs)?;
            self.images
                .snapshots
                .mount(&c.id, &layers, &rootfs, disposable)?;
            tracing::debug!(id = %c.id, "mounted rootfs for a file operation");
            temp_mount = Some(TempMount(rootfs.clone()));
        }
        let mounts = if !with_mounts {
            vec![]
        } else if c.bundle().join("config.json").exists() {
            bind_mounts(&c.bundle())
        } else {
            // Never started: no spec yet, but its volumes and binds already exist.
            self.recorded_binds(c)
        };
        // On an error below, dropping temp_mount undoes the mount.
        let fs = ContainerFs::open(rootpath::open_host_dir(&rootfs)?, mounts)?;
        Ok(FsSession {
            fs,
            _mount: temp_mount,
        })
    }
}
