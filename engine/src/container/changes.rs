//! What a container changed: `docker diff`, and the layer tar of `docker commit`. Both read the
//! container's overlay upper directory, where overlayfs records a deletion as a 0/0 character
//! device (a whiteout) and a directory recreated over a lower one as "opaque"
//! (`trusted.overlay.opaque=y`). The upper dir is berthd's, but the container writes into it,
//! so it is walked with the same no-follow, fd-relative lookups as `docker cp`.

use std::collections::BTreeSet;
use std::ffi::{CString, OsStr, OsString};
use std::io::{self, Write};
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::sys::stat::FileStat;
use serde::Serialize;

use super::{Container, ContainerService};
use crate::error::{EngineError, Result};
use crate::fs::errno_io;
use crate::fs::fd::sorted_names;
use crate::fs::rootpath::{self, is_dir, lookup_at};
use crate::fs::tar_write::Archiver;
use crate::image::unpack::{OPAQUE_MARKER, WHITEOUT_PREFIX};

/// `Kind` of a change as the API numbers them.
pub const CHANGE_MODIFY: u8 = 0;
pub const CHANGE_ADD: u8 = 1;
pub const CHANGE_DELETE: u8 = 2;

/// One entry of `GET /containers/{id}/changes`.
#[derive(Clone, Debug, Serialize, PartialEq, Eq, PartialOrd, Ord)]
#[serde(rename_all = "PascalCase")]
pub struct Change {
    pub path: String,
    pub kind: u8,
}

/// What one entry of the upper dir is, in overlay terms.
pub enum UpperKind {
    Whiteout,
    Dir { opaque: bool },
    Other,
}

fn is_whiteout(st: &FileStat) -> bool {
    st.st_mode & libc::S_IFMT == libc::S_IFCHR && st.st_rdev == 0
}

fn is_opaque(fd: &impl AsRawFd) -> bool {
    let (Ok(p), Ok(name)) = (
        CString::new(format!("/proc/self/fd/{}", fd.as_raw_fd())),
        CString::new("trusted.overlay.opaque"),
    ) else {
        return false;
    };
    let mut v = [0u8; 4];
    // SAFETY: NUL-terminated path and name, and a buffer of the stated length.
    let n = unsafe { libc::getxattr(p.as_ptr(), name.as_ptr(), v.as_mut_ptr().cast(), v.len()) };
    n == 1 && v[0] == b'y'
}

/// Whether a container path is one of the spec's mount destinations or below one: what is there
/// in the upper dir are mount points runc made, which the container never sees (dockerd keeps
/// them in its init layer, out of diffs and commits).
fn hidden(path: &Path, mount_points: &[PathBuf]) -> bool {
    mount_points.iter().any(|m| path.starts_with(m))
}

/// Walks an upper dir depth-first in name order, calling `visit(container path, O_PATH fd, stat,
/// kind)`; directories are entered after their own visit.
pub fn walk_upper(
    dir: &OwnedFd,
    path: &Path,
    mount_points: &[PathBuf],
    visit: &mut dyn FnMut(&Path, &OwnedFd, &FileStat, &UpperKind) -> io::Result<()>,
) -> io::Result<()> {
    for name in sorted_names(dir)? {
        let child = path.join(&name);
        if hidden(&child, mount_points) {
            continue;
        }
        let (fd, st) = match lookup_at(dir, &name) {
            Ok(x) => x,
            Err(Errno::ENOENT) => continue,
            Err(e) => return Err(errno_io(e)),
        };
        if is_whiteout(&st) {
            visit(&child, &fd, &st, &UpperKind::Whiteout)?;
        } else if is_dir(&st) {
            let kind = UpperKind::Dir {
                opaque: is_opaque(&fd),
            };
            visit(&child, &fd, &st, &kind)?;
            let sub = rootpath::reopen(&fd, OFlag::O_RDONLY | OFlag::O_DIRECTORY)?;
            walk_upper(&sub, &child, mount_points, visit)?;
        } else {
            visit(&child, &fd, &st, &UpperKind::Other)?;
        }
    }
    Ok(())
}

/// The image's view below the container (its layers merged), for "was this there before?".
pub struct LowerView {
    root: Option<OwnedFd>,
}

impl LowerView {
    pub fn open(dir: Option<&Path>) -> io::Result<LowerView> {
        Ok(LowerView {
            root: match dir {
                Some(d) => Some(rootpath::open_host_dir(d)?),
                None => None,
            },
        })
    }

    /// Stat of a container path in the lower view, never following a symlink on the way.
    fn stat(&self, path: &Path) -> Option<FileStat> {
        let root = self.root.as_ref()?;
        let mut cur: Option<OwnedFd> = None;
        let parts: Vec<&OsStr> = path
            .components()
            .filter_map(|c| match c {
                std::path::Component::Normal(n) => Some(n),
                _ => None,
            })
            .collect();
        for (i, part) in parts.iter().enumerate() {
            let (fd, st) = match &cur {
                Some(d) => lookup_at(d, part).ok()?,
                None => lookup_at(root, part).ok()?,
            };
            if i + 1 == parts.len() {
                return Some(st);
            }
            if !is_dir(&st) {
                return None;
            }
            cur = Some(rootpath::reopen(&fd, OFlag::O_RDONLY | OFlag::O_DIRECTORY).ok()?);
        }
        None
    }

    fn children(&self, path: &Path) -> BTreeSet<OsString> {
        let Some(root) = &self.root else {
            return BTreeSet::new();
        };
        let dir = if path == Path::new("/") {
            rootpath::reopen(root, OFlag::O_RDONLY | OFlag::O_DIRECTORY).ok()
        } else {
            self.stat(path).filter(is_dir).and_then(|_| {
                let parent = path.parent()?;
                let name = path.file_name()?;
                // Re-walk to get an fd (stat only returned metadata).
                let mut cur = rootpath::reopen(root, OFlag::O_RDONLY | OFlag::O_DIRECTORY).ok()?;
                for part in parent
                    .components()
                    .chain([std::path::Component::Normal(name)])
                {
                    if let std::path::Component::Normal(n) = part {
                        let (fd, _) = lookup_at(&cur, n).ok()?;
                        cur = rootpath::reopen(&fd, OFlag::O_RDONLY | OFlag::O_DIRECTORY).ok()?;
                    }
                }
                Some(cur)
            })
        };
        dir.and_then(|d| sorted_names(&d).ok())
            .map(|v| v.into_iter().collect())
            .unwrap_or_default()
    }
}

/// The changes recorded in `upper` against `lower`, sorted by path (parents before children).
pub fn diff(
    upper: &OwnedFd,
    lower: &LowerView,
    mount_points: &[PathBuf],
) -> io::Result<Vec<Change>> {
    let mut changes: Vec<Change> = Vec::new();
    // Directories that existed below: modified only if they or something inside changed.
    let mut kept_dirs: Vec<(PathBuf, bool)> = Vec::new();
    // Paths under an opaque directory: nothing of the lower dir shows through.
    let mut opaque_dirs: Vec<PathBuf> = Vec::new();
    let mut upper_children: std::collections::HashMap<PathBuf, BTreeSet<OsString>> =
        Default::default();
    let root = Path::new("/");
    walk_upper(upper, root, mount_points, &mut |path, _fd, st, kind| {
        let shown = path.display().to_string();
        if let Some(parent) = path.parent() {
            if let Some(name) = path.file_name() {
                upper_children
                    .entry(parent.to_path_buf())
                    .or_default()
                    .insert(name.to_os_string());
            }
        }
        let below = if opaque_dirs.iter().any(|o| path.starts_with(o) && path != o) {
            None
        } else {
            lower.stat(path)
        };
        match kind {
            UpperKind::Whiteout => {
                if below.is_some() {
                    changes.push(Change {
                        path: shown,
                        kind: CHANGE_DELETE,
                    });
                }
            }
            UpperKind::Dir { opaque } => {
                if *opaque {
                    opaque_dirs.push(path.to_path_buf());
                }
                match below {
                    Some(b) if is_dir(&b) => {
                        let meta_changed = b.st_mode != st.st_mode
                            || b.st_uid != st.st_uid
                            || b.st_gid != st.st_gid;
                        kept_dirs.push((path.to_path_buf(), meta_changed || *opaque));
                    }
                    Some(_) => changes.push(Change {
                        path: shown,
                        kind: CHANGE_MODIFY,
                    }),
                    None => changes.push(Change {
                        path: shown,
                        kind: CHANGE_ADD,
                    }),
                }
            }
            UpperKind::Other => changes.push(Change {
                path: shown,
                kind: if below.is_some() {
                    CHANGE_MODIFY
                } else {
                    CHANGE_ADD
                },
            }),
        }
        Ok(())
    })?;
    // An opaque directory deleted everything of the lower one it does not have itself.
    for dir in &opaque_dirs {
        let mine = upper_children.get(dir).cloned().unwrap_or_default();
        for name in lower.children(dir) {
            if !mine.contains(&name) {
                changes.push(Change {
                    path: dir.join(&name).display().to_string(),
                    kind: CHANGE_DELETE,
                });
            }
        }
    }
    for (dir, changed) in kept_dirs {
        let prefix = format!("{}/", dir.display());
        if changed || changes.iter().any(|c| c.path.starts_with(&prefix)) {
            changes.push(Change {
                path: dir.display().to_string(),
                kind: CHANGE_MODIFY,
            });
        }
    }
    changes.sort();
    changes.dedup();
    Ok(changes)
}

/// Writes the upper dir as an OCI layer tar: whiteouts become `.wh.<name>` entries, opaque
/// directories get a `.wh..wh..opq` entry, names are relative (`etc/`, `etc/passwd`).
pub fn write_layer_tar<W: Write>(
    upper: &OwnedFd,
    mount_points: &[PathBuf],
    out: W,
) -> io::Result<W> {
    let mut a = Archiver::new(out);
    let root = Path::new("/");
    walk_upper(upper, root, mount_points, &mut |path, fd, st, kind| {
        let rel = path.strip_prefix("/").unwrap_or(path);
        match kind {
            UpperKind::Whiteout => {
                let mut name = rel
                    .parent()
                    .map(|p| p.as_os_str().as_bytes().to_vec())
                    .unwrap_or_default();
                if !name.is_empty() {
                    name.push(b'/');
                }
                name.extend_from_slice(WHITEOUT_PREFIX.as_bytes());
                name.extend_from_slice(rel.file_name().unwrap_or_default().as_bytes());
                a.append_marker(&name, st)
            }
            UpperKind::Dir { opaque } => {
                a.append_node(rel.as_os_str().as_bytes(), fd, st)?;
                if *opaque {
                    let mut name = rel.as_os_str().as_bytes().to_vec();
                    name.push(b'/');
                    name.extend_from_slice(OPAQUE_MARKER.as_bytes());
                    a.append_marker(&name, st)?;
                }
                Ok(())
            }
            UpperKind::Other => a.append_node(rel.as_os_str().as_bytes(), fd, st),
        }
    })?;
    a.finish()
}

/// A read-only overlay of an image's layers, mounted for the length of one diff.
struct LowerMount(PathBuf);

impl Drop for LowerMount {
    fn drop(&mut self) {
        let _ = crate::snapshot::unmount(&self.0);
        let _ = std::fs::remove_dir(&self.0);
    }
}

impl ContainerService {
    /// Mount destinations of the container's spec (none before its first start).
    pub(crate) fn spec_mount_destinations(&self, c: &Container) -> Vec<PathBuf> {
        super::archive::all_mount_destinations(&c.bundle())
    }

    /// `GET /containers/{id}/changes`.
    pub async fn changes(&self, c: &Arc<Container>) -> Result<Vec<Change>> {
        let _op = c.op.lock().await;
        let layers = c.lock().rec.layers.clone();
        let upper = self.images.snapshots.container_upper(&c.id);
        let mount_points = self.spec_mount_destinations(c);
        // One layer is its own view; several are merged by a read-only overlay (whiteouts and
        // opaque dirs between them are the kernel's business).
        let (view_dir, _mount) = match layers.len() {
            0 => (None, None),
            1 => (Some(self.images.snapshots.layer_fs(&layers[0])), None),
            _ => {
                let target = c.dir.join("lower-view");
                let m = LowerMount(target.clone());
                self.images.snapshots.mount_view(&layers, &target)?;
                (Some(target), Some(m))
            }
        };
        tokio::task::spawn_blocking(move || -> Result<Vec<Change>> {
            let upper = rootpath::open_host_dir(&upper)?;
            let lower = LowerView::open(view_dir.as_deref())?;
            diff(&upper, &lower, &mount_points)
                .map_err(|e| EngineError::internal(format!("reading container changes: {e}")))
        })
        .await
        .map_err(|e| EngineError::internal(format!("changes task: {e}")))?
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    fn whiteout(p: &Path) {
        nix::sys::stat::mknod(
            p,
            nix::sys::stat::SFlag::S_IFCHR,
            nix::sys::stat::Mode::from_bits_truncate(0o600),
            0,
        )
        .unwrap();
    }

    fn set_opaque(p: &Path) {
        let cp = CString::new(p.as_os_str().as_bytes()).unwrap();
        let n = CString::new("trusted.overlay.opaque").unwrap();
        // SAFETY: NUL-terminated strings and a one-byte value.
        let rc = unsafe { libc::lsetxattr(cp.as_ptr(), n.as_ptr(), b"y".as_ptr().cast(), 1, 0) };
        assert_eq!(rc, 0, "{}", io::Error::last_os_error());
    }

    /// A lower tree and an upper dir as overlayfs leaves them after some changes.
    fn fixture() -> (tempfile::TempDir, PathBuf, PathBuf) {
        let t = tempfile::tempdir().unwrap();
        let lower = t.path().join("lower");
        let upper = t.path().join("upper");
        for d in ["etc", "opt/old", "var/lib", "gone"] {
            std::fs::create_dir_all(lower.join(d)).unwrap();
        }
        std::fs::write(lower.join("etc/passwd"), "root").unwrap();
        std::fs::write(lower.join("etc/hostname"), "x").unwrap();
        std::fs::write(lower.join("opt/old/file"), "o").unwrap();
        std::fs::write(lower.join("opt/keep"), "k").unwrap();
        std::fs::write(lower.join("gone/f"), "g").unwrap();
        symlink("/etc", lower.join("link")).unwrap();
        // Upper: modify /etc/passwd, add /etc/new, delete /etc/hostname and /gone, replace
        // /opt/old wholesale (opaque), add /new/dir/file, a dir /link over the lower symlink.
        std::fs::create_dir_all(upper.join("etc")).unwrap();
        std::fs::write(upper.join("etc/passwd"), "root2").unwrap();
        std::fs::write(upper.join("etc/new"), "n").unwrap();
        whiteout(&upper.join("etc/hostname"));
        whiteout(&upper.join("gone"));
        std::fs::create_dir_all(upper.join("opt/old")).unwrap();
        set_opaque(&upper.join("opt/old"));
        std::fs::write(upper.join("opt/old/fresh"), "f").unwrap();
        std::fs::create_dir_all(upper.join("new/dir")).unwrap();
        std::fs::write(upper.join("new/dir/file"), "x").unwrap();
        std::fs::create_dir_all(upper.join("link/inside")).unwrap();
        // A mount point runc made: never reported.
        std::fs::create_dir_all(upper.join("proc")).unwrap();
        std::fs::write(upper.join("etc/resolv.conf"), "").unwrap();
        (t, lower, upper)
    }

    #[test]
    fn diff_reports_adds_changes_deletes() {
        let (_t, lower, upper) = fixture();
        let got = diff(
            &rootpath::open_host_dir(&upper).unwrap(),
            &LowerView::open(Some(&lower)).unwrap(),
            &[PathBuf::from("/proc"), PathBuf::from("/etc/resolv.conf")],
        )
        .unwrap();
        let got: Vec<String> = got
            .iter()
            .map(|c| format!("{} {}", ["C", "A", "D"][c.kind as usize], c.path))
            .collect();
        let mut sorted = got.clone();
        sorted.sort_by(|a, b| a[2..].cmp(&b[2..]));
        assert_eq!(got, sorted, "sorted by path");
        for want in [
            "C /etc",
            "A /etc/new",
            "C /etc/passwd",
            "D /etc/hostname",
            "D /gone",
            "C /link",
            "A /link/inside",
            "A /new",
            "A /new/dir",
            "A /new/dir/file",
            "C /opt",
            "C /opt/old",
            "D /opt/old/file",
            "A /opt/old/fresh",
        ] {
            assert!(got.iter().any(|g| g == want), "{want} missing from {got:?}");
        }
        assert_eq!(got.len(), 14, "{got:?}");
    }

    #[test]
    fn layer_tar_uses_oci_whiteouts() {
        let (_t, _lower, upper) = fixture();
        let tar = write_layer_tar(
            &rootpath::open_host_dir(&upper).unwrap(),
            &[PathBuf::from("/proc"), PathBuf::from("/etc/resolv.conf")],
            Vec::new(),
        )
        .unwrap();
        let mut a = tar::Archive::new(&tar[..]);
        let names: Vec<String> = a
            .entries()
            .unwrap()
            .map(|e| e.unwrap().path().unwrap().display().to_string())
            .collect();
        for want in [
            "etc/",
            "etc/.wh.hostname",
            "etc/new",
            "etc/passwd",
            ".wh.gone",
            "opt/old/",
            "opt/old/.wh..wh..opq",
            "opt/old/fresh",
            "new/dir/file",
        ] {
            assert!(
                names.iter().any(|n| n == want),
                "{want} missing from {names:?}"
            );
        }
        assert!(!names
            .iter()
            .any(|n| n.starts_with("proc") || n.contains("resolv")));
        // And the unpacker turns them back into overlay whiteouts.
        let dest = tempfile::tempdir().unwrap();
        crate::image::unpack::unpack_layer(&tar[..], dest.path()).unwrap();
        let st = nix::sys::stat::lstat(&dest.path().join("etc/hostname")).unwrap();
        assert!(is_whiteout(&st));
        assert!(is_opaque(
            &rootpath::open_host_dir(&dest.path().join("opt/old")).unwrap()
        ));
    }
}
