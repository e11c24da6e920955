//! Paths inside a container's filesystem, resolved as if the container's root were `/`.
//!
//! The container may be running while we look: its processes can swap a directory for a symlink
//! at any moment. So nothing here resolves a host path string under the rootfs. Every step opens
//! one component relative to the directory fd reached so far, with `O_NOFOLLOW`; symlinks are read
//! and their targets walked the same way, absolute ones restarting at the container root; `..` pops
//! the stack of directory fds and never goes above the root. The kernel never sees a `..` or a
//! multi-component path from the container. (`openat2(RESOLVE_IN_ROOT)` does the same, but it
//! cannot switch into a bind mount's source halfway through a path, which we need: the container's
//! volumes and binds are not mounted in berthd's namespace.)
//!
//! Bind mounts (volumes, binds, the /etc files) come from the container's OCI spec: when the walk
//! reaches a mount destination it continues in the mount's source directory.

use std::collections::VecDeque;
use std::ffi::{OsStr, OsString};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use nix::errno::Errno;
use nix::fcntl::{openat, OFlag, AT_FDCWD};
use nix::sys::stat::{fstat, FileStat, Mode, SFlag};

use super::{errno_io, MAX_SYMLINKS};

/// A bind mount of the container, as its OCI spec lists it.
#[derive(Clone, Debug, PartialEq)]
pub struct BindMount {
    /// Absolute, clean container path.
    pub destination: PathBuf,
    pub source: PathBuf,
    pub read_only: bool,
}

/// A directory reached inside the container: an open fd and its canonical container path.
#[derive(Clone, Debug)]
pub struct DirHandle {
    pub fd: Arc<OwnedFd>,
    /// Container path with every symlink resolved.
    pub path: PathBuf,
    /// Index into the mounts when this directory lies in a bind mount's source.
    pub mount: Option<usize>,
}

/// What a path names.
#[derive(Debug)]
pub enum Target {
    Dir(DirHandle),
    /// Anything but a directory (a symlink when it was not followed). `fd` is an `O_PATH` fd of it.
    Node {
        name: OsString,
        fd: OwnedFd,
        stat: FileStat,
        /// The bind mount it lies in (or whose root it is, for a file mount). Only the tests ask
        /// a node's mount today: the writable checks go by the parent directory's.
        #[cfg_attr(not(test), allow(dead_code))]
        mount: Option<usize>,
    },
    /// Nothing of that name exists in the parent.
    Missing {
        name: OsString,
    },
}

/// The result of a resolution: the target and the directories that lead to it, root first.
/// For a directory target the chain ends at its parent (empty for the root itself).
#[derive(Debug)]
pub struct Resolved {
    pub parents: Vec<DirHandle>,
    pub target: Target,
}

impl Resolved {
    /// The directory holding the target (the root for the root itself).
    pub fn parent(&self) -> Option<&DirHandle> {
        self.parents.last()
    }

    /// Canonical container path of the target.
    pub fn path(&self) -> PathBuf {
        match &self.target {
            Target::Dir(d) => d.path.clone(),
            Target::Node { name, .. } | Target::Missing { name } => self
                .parent()
                .map(|p| p.path.join(name))
                .unwrap_or_else(|| PathBuf::from("/")),
        }
    }

    /// The mount the target lies in, if any.
    #[cfg(test)]
    pub fn mount(&self) -> Option<usize> {
        match &self.target {
            Target::Dir(d) => d.mount,
            Target::Node { mount, .. } => *mount,
            Target::Missing { .. } => self.parent().and_then(|p| p.mount),
        }
    }
}

/// The container's filesystem: its root directory and the bind mounts over parts of it.
pub struct ContainerFs {
    root: DirHandle,
    mounts: Vec<BindMount>,
    /// O_PATH fds of the mount sources (None when the source is gone).
    sources: Vec<Option<(Arc<OwnedFd>, FileStat)>>,
}

impl std::fmt::Debug for ContainerFs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ContainerFs")
            .field("mounts", &self.mounts)
            .finish()
    }
}

/// Opens a directory of the host (a trusted path) for use as a root.
pub fn open_host_dir(path: &Path) -> std::io::Result<OwnedFd> {
    openat(
        AT_FDCWD,
        path,
        OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(errno_io)
}

/// Reopens an `O_PATH` fd with real access flags, through its `/proc/self/fd` magic link (which
/// names exactly that inode, whatever has happened to its path since).
pub fn reopen(fd: &impl AsRawFd, flags: OFlag) -> std::io::Result<OwnedFd> {
    let p = format!("/proc/self/fd/{}", fd.as_raw_fd());
    openat(
        AT_FDCWD,
        p.as_str(),
        flags | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(errno_io)
}

pub fn is_dir(st: &FileStat) -> bool {
    SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT == SFlag::S_IFDIR
}

pub fn is_symlink(st: &FileStat) -> bool {
    SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT == SFlag::S_IFLNK
}

/// Opens one directory entry without following it: `O_PATH` fd and its stat. Only single
/// components reach the kernel, so the lookup cannot leave `dir`.
pub fn lookup_at(dir: &impl AsFd, name: &OsStr) -> Result<(OwnedFd, FileStat), Errno> {
    debug_assert!(!name.as_bytes().contains(&b'/') && name != ".." && name != ".");
    let fd = openat(
        dir,
        name,
        OFlag::O_PATH | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
        Mode::empty(),
    )?;
    let st = fstat(&fd)?;
    Ok((fd, st))
}

/// Splits a container path into its components, dropping `/` and `.`; keeps `..` for the walk.
fn components(p: &Path) -> VecDeque<OsString> {
    p.components()
        .filter_map(|c| match c {
            Component::Normal(n) => Some(n.to_os_string()),
            Component::ParentDir => Some(OsString::from("..")),
            _ => None,
        })
        .collect()
}

/// Lexically cleans an absolute container path (`..` stops at `/`).
pub fn clean_abs(p: &Path) -> PathBuf {
    let mut out = PathBuf::from("/");
    for c in p.components() {
        match c {
            Component::Normal(n) => out.push(n),
            Component::ParentDir => {
                out.pop();
            }
            _ => {}
        }
    }
    out
}

/// Whether a request path asks for the last symlink to be followed: Docker's trailing `/` or `/.`.
pub fn wants_follow(p: &str) -> bool {
    p.ends_with('/') || p.ends_with("/.")
}

impl ContainerFs {
    /// `root` is the container's root directory (its rootfs mount); `mounts` in spec order.
    pub fn open(root: OwnedFd, mounts: Vec<BindMount>) -> std::io::Result<ContainerFs> {
        let mut fs = ContainerFs {
            root: DirHandle {
                fd: Arc::new(root),
                path: PathBuf::from("/"),
                mount: None,
            },
            mounts: Vec::new(),
            sources: Vec::new(),
        };
        for m in mounts {
            let source = match openat(
                AT_FDCWD,
                &m.source,
                OFlag::O_PATH | OFlag::O_CLOEXEC,
                Mode::empty(),
            )
            .and_then(|fd| fstat(&fd).map(|st| (fd, st)))
            {
                Ok((fd, st)) => Some((Arc::new(fd), st)),
                Err(e) => {
                    tracing::warn!(source = %m.source.display(), error = %e, "bind mount source unavailable");
                    None
                }
            };
            // runc follows symlinks in a destination inside the rootfs (e.g. /var/run -> /run);
            // match on where the mount really is.
            let mut m = m;
            m.destination = fs.canonical_destination(&m.destination);
            fs.mounts.push(m);
            fs.sources.push(source);
        }
        Ok(fs)
    }

    pub fn mounts(&self) -> &[BindMount] {
        &self.mounts
    }

    pub fn root(&self) -> &DirHandle {
        &self.root
    }

    fn canonical_destination(&self, dest: &Path) -> PathBuf {
        let dest = clean_abs(dest);
        let (Some(parent), Some(name)) = (dest.parent(), dest.file_name()) else {
            return dest;
        };
        match self.resolve(parent, true) {
            Ok(Resolved {
                target: Target::Dir(d),
                ..
            }) => d.path.join(name),
            _ => dest,
        }
    }

    /// The bind mount whose destination is exactly `path` (the last one listed wins, as it is
    /// mounted last).
    pub fn mount_at(&self, path: &Path) -> Option<usize> {
        if self.mounts.is_empty() {
            return None;
        }
        self.mounts.iter().rposition(|m| m.destination == path)
    }

    /// Opens what `name` in `dir` is in the container's view: a mount source when a bind mount
    /// covers it, otherwise the entry itself (not followed).
    pub fn child(
        &self,
        dir: &DirHandle,
        name: &OsStr,
    ) -> Result<(OwnedFd, FileStat, Option<usize>), Errno> {
        let path = dir.path.join(name);
        if let Some(i) = self.mount_at(&path) {
            let Some((fd, st)) = &self.sources[i] else {
                return Err(Errno::ENOENT);
            };
            let dup = reopen(fd.as_ref(), OFlag::O_PATH).map_err(|_| Errno::EIO)?;
            return Ok((dup, *st, Some(i)));
        }
        let (fd, st) = lookup_at(dir.fd.as_ref(), name)?;
        Ok((fd, st, dir.mount))
    }

    /// Turns an `O_PATH` directory fd reached from `parent` into a directory handle.
    pub fn enter(
        &self,
        parent: &DirHandle,
        name: &OsStr,
        fd: OwnedFd,
        mount: Option<usize>,
    ) -> Result<DirHandle, Errno> {
        let dfd = reopen(&fd, OFlag::O_RDONLY | OFlag::O_DIRECTORY)
            .map_err(|e| Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO)))?;
        Ok(DirHandle {
            fd: Arc::new(dfd),
            path: parent.path.join(name),
            mount,
        })
    }

    /// Resolves a container path (absolute or relative to `/`). Symlinks on the way are followed
    /// inside the container; the last one only when `follow_last`.
    pub fn resolve(&self, path: &Path, follow_last: bool) -> Result<Resolved, Errno> {
        self.resolve_from(vec![self.root.clone()], path, follow_last)
    }

    /// Resolves `path` relative to the last directory of `stack` (a chain from the root).
    pub fn resolve_from(
        &self,
        mut stack: Vec<DirHandle>,
        path: &Path,
        follow_last: bool,
    ) -> Result<Resolved, Errno> {
        if stack.is_empty() {
            stack.push(self.root.clone());
        }
        let mut pending = components(path);
        let mut links = 0usize;
        while let Some(part) = pending.pop_front() {
            if part == ".." {
                if stack.len() > 1 {
                    stack.pop();
                }
                continue;
            }
            let last = pending.is_empty();
            let Some(cur) = stack.last().cloned() else {
                return Err(Errno::EINVAL);
            };
            let (fd, st, mount) = match self.child(&cur, &part) {
                Ok(x) => x,
                Err(Errno::ENOENT) if last => {
                    return Ok(Resolved {
                        parents: stack,
                        target: Target::Missing { name: part },
                    })
                }
                Err(e) => return Err(e),
            };
            if is_symlink(&st) {
                if last && !follow_last {
                    return Ok(Resolved {
                        parents: stack,
                        target: Target::Node {
                            name: part,
                            fd,
                            stat: st,
                            mount,
                        },
                    });
                }
                links += 1;
                if links > MAX_SYMLINKS {
                    return Err(Errno::ELOOP);
                }
                let target = nix::fcntl::readlinkat(&fd, "")?;
                let target = PathBuf::from(target);
                if target.is_absolute() {
                    stack.truncate(1);
                }
                for (i, c) in components(&target).into_iter().enumerate() {
                    pending.insert(i, c);
                }
                continue;
            }
            if is_dir(&st) {
                let d = self.enter(&cur, &part, fd, mount)?;
                if last {
                    return Ok(Resolved {
                        parents: stack,
                        target: Target::Dir(d),
                    });
                }
                stack.push(d);
                continue;
            }
            if last {
                return Ok(Resolved {
                    parents: stack,
                    target: Target::Node {
                        name: part,
                        fd,
                        stat: st,
                        mount,
                    },
                });
            }
            return Err(Errno::ENOTDIR);
        }
        // Nothing left: the path named the directory on top of the stack (possibly the root).
        let top = stack.pop().ok_or(Errno::EINVAL)?;
        Ok(Resolved {
            parents: stack,
            target: Target::Dir(top),
        })
    }

    /// Resolves a directory, creating missing ones (mode 0755, owned by `owner`) like `mkdir -p`.
    pub fn mkdir_all(
        &self,
        stack: Vec<DirHandle>,
        rel: &Path,
        owner: Option<(u32, u32)>,
    ) -> Result<Vec<DirHandle>, Errno> {
        let mut stack = stack;
        for part in components(rel) {
            let r = self.resolve_from(stack.clone(), Path::new(&part), true)?;
            match r.target {
                Target::Dir(d) => {
                    stack = r.parents;
                    stack.push(d);
                }
                Target::Missing { name } => {
                    let parent = r.parents.last().ok_or(Errno::EINVAL)?.clone();
                    match nix::sys::stat::mkdirat(
                        parent.fd.as_ref(),
                        name.as_os_str(),
                        Mode::from_bits_truncate(0o755),
                    ) {
                        Ok(()) | Err(Errno::EEXIST) => {}
                        Err(e) => return Err(e),
                    }
                    let (fd, st) = lookup_at(parent.fd.as_ref(), &name)?;
                    if !is_dir(&st) {
                        return Err(Errno::ENOTDIR);
                    }
                    if let Some((uid, gid)) = owner {
                        nix::unistd::fchownat(
                            parent.fd.as_ref(),
                            name.as_os_str(),
                            Some(uid.into()),
                            Some(gid.into()),
                            nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW,
                        )?;
                    }
                    let d = self.enter(&parent, &name, fd, parent.mount)?;
                    stack = r.parents;
                    stack.push(d);
                }
                Target::Node { .. } => return Err(Errno::ENOTDIR),
            }
        }
        Ok(stack)
    }
}

/// `mkdir -p` of a container path under the rootfs at `rootfs`, resolved in the root.
pub fn mkdir_in_root(rootfs: &Path, path: &Path) -> std::io::Result<()> {
    let fs = ContainerFs::open(open_host_dir(rootfs)?, vec![])?;
    fs.mkdir_all(vec![fs.root().clone()], path, None)
        .map(|_| ())
        .map_err(errno_io)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    fn fs_at(root: &Path, mounts: Vec<BindMount>) -> ContainerFs {
        ContainerFs::open(open_host_dir(root).unwrap(), mounts).unwrap()
    }

    fn path_of(r: &Resolved) -> String {
        r.path().display().to_string()
    }

    /// A container root beside a host directory with a secret, and every kind of escape attempt.
    fn escape_fixture() -> (tempfile::TempDir, PathBuf) {
        let t = tempfile::tempdir().unwrap();
        let root = t.path().join("root");
        std::fs::create_dir_all(root.join("etc")).unwrap();
        std::fs::create_dir_all(root.join("a/b")).unwrap();
        std::fs::write(root.join("etc/passwd"), "container").unwrap();
        std::fs::write(t.path().join("secret"), "host").unwrap();
        std::fs::create_dir_all(t.path().join("hostdir")).unwrap();
        symlink("/", root.join("to-root")).unwrap();
        symlink("../../../../..", root.join("a/up")).unwrap();
        symlink("../secret", root.join("rel-out")).unwrap();
        symlink("/../../secret", root.join("abs-out")).unwrap();
        symlink("b/../../etc", root.join("a/etc-link")).unwrap();
        symlink(t.path().join("hostdir"), root.join("hostdir-link")).unwrap();
        symlink("loop2", root.join("loop1")).unwrap();
        symlink("loop1", root.join("loop2")).unwrap();
        (t, root)
    }

    #[test]
    fn dotdot_and_symlinks_stay_inside() {
        let (_t, root) = escape_fixture();
        let fs = fs_at(&root, vec![]);
        for (p, want) in [
            ("/../../etc/passwd", "/etc/passwd"),
            ("../etc/passwd", "/etc/passwd"),
            ("/to-root/../etc/passwd", "/etc/passwd"),
            ("/a/up/etc/passwd", "/etc/passwd"),
            ("/a/etc-link/passwd", "/etc/passwd"),
            ("/a/b/../../../../etc", "/etc"),
        ] {
            let r = fs.resolve(Path::new(p), true).unwrap();
            assert_eq!(path_of(&r), want, "{p}");
        }
        // A relative or absolute link out of the root lands on the root's own (missing) secret.
        for p in ["/rel-out", "/abs-out"] {
            let r = fs.resolve(Path::new(p), true).unwrap();
            assert!(matches!(r.target, Target::Missing { .. }), "{p}: {r:?}");
            assert_eq!(path_of(&r), "/secret");
        }
        // A link to an absolute host path is a container path: /<tmp>/hostdir does not exist there.
        let err = fs.resolve(Path::new("/hostdir-link/x"), true).unwrap_err();
        assert_eq!(err, Errno::ENOENT);
        assert_eq!(
            fs.resolve(Path::new("/loop1"), true).unwrap_err(),
            Errno::ELOOP
        );
        assert_eq!(
            fs.resolve(Path::new("/etc/passwd/x"), true).unwrap_err(),
            Errno::ENOTDIR
        );
    }

    #[test]
    fn last_symlink_is_kept_unless_followed() {
        let (_t, root) = escape_fixture();
        let fs = fs_at(&root, vec![]);
        let r = fs.resolve(Path::new("/to-root"), false).unwrap();
        assert!(matches!(&r.target, Target::Node { stat, .. } if is_symlink(stat)));
        let r = fs.resolve(Path::new("/to-root"), true).unwrap();
        assert!(matches!(&r.target, Target::Dir(d) if d.path == Path::new("/")));
        assert!(r.parents.is_empty());
    }

    #[test]
    fn bind_mounts_switch_to_their_source() {
        let (t, root) = escape_fixture();
        let vol = t.path().join("vol");
        std::fs::create_dir_all(vol.join("sub")).unwrap();
        std::fs::write(vol.join("sub/f"), "in volume").unwrap();
        symlink("../../../../etc/passwd", vol.join("sub/out")).unwrap();
        let hosts = t.path().join("hosts");
        std::fs::write(&hosts, "hosts file").unwrap();
        std::fs::create_dir_all(root.join("run")).unwrap();
        symlink("/run", root.join("var-run")).unwrap();
        let fs = fs_at(
            &root,
            vec![
                BindMount {
                    destination: "/var-run/data".into(),
                    source: vol.clone(),
                    read_only: false,
                },
                BindMount {
                    destination: "/etc/hosts".into(),
                    source: hosts,
                    read_only: true,
                },
            ],
        );
        assert_eq!(fs.mounts()[0].destination, Path::new("/run/data"));
        let r = fs.resolve(Path::new("/run/data/sub/f"), true).unwrap();
        assert_eq!(r.mount(), Some(0));
        let Target::Node { fd, .. } = r.target else {
            panic!("not a file")
        };
        let f = reopen(&fd, OFlag::O_RDONLY).unwrap();
        assert_eq!(
            std::fs::read_to_string(format!("/proc/self/fd/{}", f.as_raw_fd())).unwrap(),
            "in volume"
        );
        // `..` out of a volume climbs the container's tree, not the host's.
        let r = fs.resolve(Path::new("/run/data/sub/out"), true).unwrap();
        assert_eq!(path_of(&r), "/etc/passwd");
        assert_eq!(r.mount(), None);
        let r = fs.resolve(Path::new("/etc/hosts"), true).unwrap();
        assert_eq!(r.mount(), Some(1));
        assert!(matches!(r.target, Target::Node { .. }));
    }

    #[test]
    fn mkdir_all_creates_inside_only() {
        let (t, root) = escape_fixture();
        let fs = fs_at(&root, vec![]);
        let stack = fs
            .mkdir_all(
                vec![fs.root().clone()],
                Path::new("a/up/new/deeper"),
                Some((7, 8)),
            )
            .unwrap();
        assert_eq!(stack.last().unwrap().path, PathBuf::from("/new/deeper"));
        assert!(root.join("new/deeper").is_dir());
        assert!(!t.path().join("new").exists());
        use std::os::unix::fs::MetadataExt;
        assert_eq!(std::fs::metadata(root.join("new")).unwrap().uid(), 7);
    }
}
