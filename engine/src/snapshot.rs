//! Snapshots in the style of containerd's snapshotter: keyed directories under `snapshots/`.
//!
//! A layer snapshot (`snapshots/<key>/fs`) holds one unpacked layer and is shared by every image that
//! has the same chain of layers below it (the key comes from the layer's chain ID). It counts only once
//! the `committed` marker exists, so a pull killed mid-unpack leaves nothing that looks usable.
//! A container snapshot (`snapshots/<key>/{fs,work}`) is the writable upper layer of one container;
//! its rootfs is an overlay mount of the layer snapshots beneath it.
//!
//! Keys are short (16 hex digits) so that the overlay mount options of deep images stay under the
//! kernel's one-page limit for mount data.

use std::path::{Path, PathBuf};

use anyhow::Context;

const KEY_LEN: usize = 16;

pub struct Snapshotter {
    root: PathBuf,
}

fn key_of(id: &str) -> &str {
    let hex = id.strip_prefix("sha256:").unwrap_or(id);
    &hex[..hex.len().min(KEY_LEN)]
}

impl Snapshotter {
    pub fn open(data_root: &Path) -> anyhow::Result<Self> {
        let root = data_root.join("snapshots");
        std::fs::create_dir_all(&root)?;
        let s = Snapshotter { root };
        s.remove_partial_layers();
        Ok(s)
    }

    /// Drops layer snapshots whose unpack never finished (no `committed`, no `work`).
    fn remove_partial_layers(&self) {
        let Ok(entries) = std::fs::read_dir(&self.root) else {
            return;
        };
        for e in entries.flatten() {
            let p = e.path();
            if !p.join("committed").exists() && !p.join("work").exists() {
                tracing::info!(path = %p.display(), "removing unfinished layer snapshot");
                let _ = std::fs::remove_dir_all(&p);
            }
        }
    }

    fn dir(&self, id: &str) -> PathBuf {
        self.root.join(key_of(id))
    }

    pub fn layer_fs(&self, chain_id: &str) -> PathBuf {
        self.dir(chain_id).join("fs")
    }

    /// Size in bytes of a committed layer snapshot, or None when it does not exist.
    pub fn layer_size(&self, chain_id: &str) -> Option<u64> {
        let s = std::fs::read_to_string(self.dir(chain_id).join("committed")).ok()?;
        s.trim().parse().ok()
    }

    /// An empty directory to unpack a layer into.
    pub fn prepare_layer(&self, chain_id: &str) -> anyhow::Result<PathBuf> {
        let dir = self.dir(chain_id);
        if dir.exists() {
            std::fs::remove_dir_all(&dir).with_context(|| format!("clearing {}", dir.display()))?;
        }
        let fs = dir.join("fs");
        std::fs::create_dir_all(&fs).with_context(|| format!("creating {}", fs.display()))?;
        Ok(fs)
    }

    /// Marks an unpacked layer complete. Its files are synced first (one `syncfs` of the data
    /// root's filesystem rather than an fsync per file): the marker must never survive a power
    /// loss that the layer's contents did not.
    pub fn commit_layer(&self, chain_id: &str, size: u64) -> anyhow::Result<()> {
        let dir = self.dir(chain_id);
        let d = std::fs::File::open(&dir).with_context(|| format!("opening {}", dir.display()))?;
        // SAFETY: syncfs takes an open descriptor, which `d` holds for the call.
        if unsafe { libc::syncfs(std::os::fd::AsRawFd::as_raw_fd(&d)) } != 0 {
            return Err(std::io::Error::last_os_error())
                .with_context(|| format!("syncing {}", dir.display()));
        }
        crate::store::write_atomic(
            &self.dir(chain_id).join("committed"),
            size.to_string().as_bytes(),
            crate::store::Durability::Power,
        )
    }

    pub fn remove(&self, id: &str) -> anyhow::Result<()> {
        let dir = self.dir(id);
        match std::fs::remove_dir_all(&dir) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(e).with_context(|| format!("removing {}", dir.display())),
        }
    }

    /// Creates the writable layer of a container.
    pub fn prepare_container(&self, container_id: &str) -> anyhow::Result<PathBuf> {
        let dir = self.dir(container_id);
        std::fs::create_dir_all(dir.join("fs"))?;
        std::fs::create_dir_all(dir.join("work"))?;
        Ok(dir.join("fs"))
    }

    pub fn container_upper(&self, container_id: &str) -> PathBuf {
        self.dir(container_id).join("fs")
    }

    /// Overlay mount data for a container: `layers` are chain IDs from the bottom layer up.
    pub fn overlay_options(&self, container_id: &str, layers: &[String]) -> anyhow::Result<String> {
        let dir = self.dir(container_id);
        let lower: Vec<String> = if layers.is_empty() {
            // overlayfs needs at least one lower dir; an image with no layers gets an empty one.
            let empty = self.root.join("empty");
            std::fs::create_dir_all(&empty)?;
            vec![empty.display().to_string()]
        } else {
            layers
                .iter()
                .rev()
                .map(|c| self.layer_fs(c).display().to_string())
                .collect()
        };
        let opts = format!(
            "lowerdir={},upperdir={},workdir={}",
            lower.join(":"),
            dir.join("fs").display(),
            dir.join("work").display()
        );
        anyhow::ensure!(
            opts.len() < 4000,
            "image has too many layers for one overlay mount ({} bytes of options)",
            opts.len()
        );
        Ok(opts)
    }

    /// Mounts a container's rootfs at `target`. `disposable` is for a writable layer that is
    /// deleted when the container exits (`--rm`): it is mounted `volatile`, because unmounting an
    /// ordinary overlay syncs the whole filesystem under the upper dir (`syncfs`), which costs
    /// from a few to hundreds of milliseconds on the path of every `docker run --rm`, for data
    /// that is about to be thrown away. Kernels without `volatile` (before 5.10) get a plain mount.
    pub fn mount(
        &self,
        container_id: &str,
        layers: &[String],
        target: &Path,
        disposable: bool,
    ) -> anyhow::Result<()> {
        let opts = self.overlay_options(container_id, layers)?;
        std::fs::create_dir_all(target)?;
        // A volatile mount leaves this marker, and overlayfs refuses the next mount of the same
        // dirs while it exists (the upper may be inconsistent after a crash). Only disposable
        // layers were ever mounted volatile, so their contents are not worth refusing over.
        let marker = self.dir(container_id).join("work/work/incompat/volatile");
        if marker.exists() {
            std::fs::remove_dir_all(&marker)
                .with_context(|| format!("removing {}", marker.display()))?;
        }
        let overlay = |opts: &str| {
            nix::mount::mount(
                Some("overlay"),
                target,
                Some("overlay"),
                nix::mount::MsFlags::empty(),
                Some(opts),
            )
        };
        if disposable {
            match overlay(&format!("{opts},volatile")) {
                Ok(()) => return Ok(()),
                Err(nix::errno::Errno::EINVAL) => {
                    tracing::debug!("overlayfs has no volatile option; plain mount");
                }
                Err(e) => {
                    return Err(e).with_context(|| {
                        format!("mounting overlay at {} ({opts},volatile)", target.display())
                    })
                }
            }
        }
        overlay(&opts).with_context(|| format!("mounting overlay at {} ({opts})", target.display()))
    }
}

impl Snapshotter {
    /// Mounts the merged, read-only view of layer snapshots (bottom first) at `target`: what a
    /// container of that image saw before it changed anything. Needs at least two layers (one
    /// layer is its own view).
    pub fn mount_view(&self, layers: &[String], target: &Path) -> anyhow::Result<()> {
        anyhow::ensure!(layers.len() >= 2, "a lower view needs two layers");
        let lower: Vec<String> = layers
            .iter()
            .rev()
            .map(|c| self.layer_fs(c).display().to_string())
            .collect();
        let opts = format!("lowerdir={}", lower.join(":"));
        std::fs::create_dir_all(target)?;
        unmount(target)?;
        nix::mount::mount(
            Some("overlay"),
            target,
            Some("overlay"),
            nix::mount::MsFlags::MS_RDONLY,
            Some(opts.as_str()),
        )
        .with_context(|| format!("mounting a lower view at {} ({opts})", target.display()))
    }
}

/// Detaches a mount; "not mounted" is success.
pub fn unmount(target: &Path) -> anyhow::Result<()> {
    match nix::mount::umount2(target, nix::mount::MntFlags::MNT_DETACH) {
        Ok(()) => Ok(()),
        Err(nix::errno::Errno::EINVAL) | Err(nix::errno::Errno::ENOENT) => Ok(()),
        Err(e) => Err(e).with_context(|| format!("unmounting {}", target.display())),
    }
}

/// The chain IDs of a list of diff IDs (OCI image-spec: chain(n) = sha256(chain(n-1) + " " + diff(n))).
pub fn chain_ids(diff_ids: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::with_capacity(diff_ids.len());
    for d in diff_ids {
        let next = match out.last() {
            None => d.clone(),
            Some(prev) => crate::image::content::sha256_digest(format!("{prev} {d}").as_bytes()),
        };
        out.push(next);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chain_ids_follow_the_spec() {
        let a = format!("sha256:{}", "a".repeat(64));
        let b = format!("sha256:{}", "b".repeat(64));
        let c = chain_ids(&[a.clone(), b.clone()]);
        assert_eq!(c[0], a);
        assert_eq!(
            c[1],
            crate::image::content::sha256_digest(format!("{a} {b}").as_bytes())
        );
    }

    #[test]
    fn unfinished_layers_are_dropped_on_open() {
        let dir = tempfile::tempdir().unwrap();
        let s = Snapshotter::open(dir.path()).unwrap();
        let id = format!("sha256:{}", "c".repeat(64));
        s.prepare_layer(&id).unwrap();
        let id2 = format!("sha256:{}", "d".repeat(64));
        s.prepare_layer(&id2).unwrap();
        s.commit_layer(&id2, 42).unwrap();
        let s = Snapshotter::open(dir.path()).unwrap();
        assert!(!s.layer_fs(&id).exists());
        assert_eq!(s.layer_size(&id2), Some(42));
    }
}
