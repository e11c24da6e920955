//! Network namespaces the engine prepares for containers: a namespace is created in a
//! short-lived thread (namespaces are per task, so the daemon's other threads are untouched)
//! and kept alive by a bind mount, so it outlives berthd and survives a restart.

use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};

use anyhow::{anyhow, Context};
use nix::mount::{mount, umount2, MntFlags, MsFlags};
use nix::sched::{setns, unshare, CloneFlags};

/// Runs `f` on a fresh thread that has entered the network namespace at `path`.
fn in_thread<T: Send + 'static>(
    f: impl FnOnce() -> anyhow::Result<T> + Send + 'static,
) -> anyhow::Result<T> {
    std::thread::spawn(f)
        .join()
        .map_err(|_| anyhow!("network namespace thread panicked"))?
}

/// Creates a new network namespace pinned at `path` (an empty file is the mount point).
pub fn create(path: &Path) -> anyhow::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?;
    let target = path.to_path_buf();
    let made = in_thread(move || {
        unshare(CloneFlags::CLONE_NEWNET).context("unshare(CLONE_NEWNET)")?;
        mount(
            Some("/proc/thread-self/ns/net"),
            &target,
            None::<&str>,
            MsFlags::MS_BIND,
            None::<&str>,
        )
        .context("pinning the network namespace")?;
        Ok(())
    });
    if made.is_err() {
        let _ = std::fs::remove_file(path);
    }
    made
}

/// Unpins and removes a namespace file; a missing one is fine (idempotent cleanup).
pub fn remove(path: &Path) -> anyhow::Result<()> {
    match umount2(path, MntFlags::MNT_DETACH) {
        Ok(()) | Err(nix::errno::Errno::EINVAL) | Err(nix::errno::Errno::ENOENT) => {}
        Err(e) => return Err(anyhow!("unmounting {}: {e}", path.display())),
    }
    match std::fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e).with_context(|| format!("removing {}", path.display())),
    }
}

/// Whether `path` is a pinned namespace (and not just the leftover mount point file).
#[cfg(test)]
pub fn is_pinned(path: &Path) -> bool {
    let Ok(meta) = std::fs::metadata(path) else {
        return false;
    };
    let Ok(parent) = std::fs::metadata(path.parent().unwrap_or(Path::new("/"))) else {
        return false;
    };
    use std::os::unix::fs::MetadataExt;
    meta.dev() != parent.dev()
}

pub fn open(path: &Path) -> anyhow::Result<OwnedFd> {
    let f = std::fs::File::open(path)
        .with_context(|| format!("opening network namespace {}", path.display()))?;
    Ok(OwnedFd::from(f))
}

/// Runs `f` inside the namespace at `path`, on its own thread. Sockets `f` creates stay bound
/// to that namespace after the thread ends, which is how the engine talks netlink and serves
/// DNS inside a container's namespace.
pub fn run_in<T: Send + 'static>(
    path: &Path,
    f: impl FnOnce() -> anyhow::Result<T> + Send + 'static,
) -> anyhow::Result<T> {
    let fd = open(path)?;
    in_thread(move || {
        setns(fd.as_fd(), CloneFlags::CLONE_NEWNET).context("setns(CLONE_NEWNET)")?;
        f()
    })
}

/// The raw fd of an open namespace, for netlink's IFLA_NET_NS_FD.
pub fn raw(fd: &OwnedFd) -> i32 {
    fd.as_raw_fd()
}

pub fn path_for(run_dir: &Path, container_id: &str) -> PathBuf {
    run_dir
        .join("netns")
        .join(&container_id[..container_id.len().min(16)])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn create_pin_and_remove() {
        if !nix::unistd::Uid::effective().is_root() {
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("ns1");
        create(&p).unwrap();
        assert!(is_pinned(&p));
        // A namespace of our own differs from the test's.
        let ours = std::fs::metadata("/proc/self/ns/net").unwrap();
        let theirs = std::fs::metadata(&p).unwrap();
        use std::os::unix::fs::MetadataExt;
        assert_ne!(ours.ino(), theirs.ino());
        let ino = run_in(&p, || {
            Ok(std::fs::metadata("/proc/thread-self/ns/net")?.ino())
        })
        .unwrap();
        assert_eq!(ino, theirs.ino());
        remove(&p).unwrap();
        assert!(!p.exists());
        remove(&p).unwrap();
    }
}
