//! Copy-up: the image's content at a volume's mount point is copied into a new, empty volume the
//! first time a container mounts it (dockerd's `copyExistingContents`), with modes, owners, times,
//! symlinks, hard links, device nodes and extended attributes kept. Also the helpers that keep user
//! paths inside their root: symlinks in a container path resolve inside the rootfs, never on the host.

use std::collections::HashMap;
use std::fs;
use std::io;
use std::os::unix::fs::{DirBuilderExt, FileTypeExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Component, Path, PathBuf};

use nix::sys::stat::{SFlag, UtimensatFlags};
use nix::sys::time::TimeSpec;

/// Resolves `path` (absolute, as the container sees it) inside `root`, following symlinks as the
/// container would: an absolute link target and `..` stop at `root`. Components that do not exist
/// are appended as they are. Fails on a symlink loop.
pub fn resolve_in_root(root: &Path, path: &str) -> io::Result<PathBuf> {
    let mut pending: Vec<std::ffi::OsString> = Path::new(path)
        .components()
        .filter_map(|c| match c {
            Component::Normal(n) => Some(n.to_os_string()),
            Component::ParentDir => Some("..".into()),
            _ => None,
        })
        .rev()
        .collect();
    let mut resolved = PathBuf::new();
    let mut links = 0;
    while let Some(part) = pending.pop() {
        if part == ".." {
            resolved.pop();
            continue;
        }
        let candidate = root.join(&resolved).join(&part);
        match fs::symlink_metadata(&candidate) {
            Ok(m) if m.file_type().is_symlink() => {
                links += 1;
                if links > crate::fs::MAX_SYMLINKS {
                    return Err(io::Error::other(format!("too many symlinks in {path}")));
                }
                let target = fs::read_link(&candidate)?;
                if target.is_absolute() {
                    resolved = PathBuf::new();
                }
                for c in target.components().rev() {
                    match c {
                        Component::Normal(n) => pending.push(n.to_os_string()),
                        Component::ParentDir => pending.push("..".into()),
                        _ => {}
                    }
                }
            }
            Ok(_) => resolved.push(&part),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                resolved.push(&part);
                while let Some(p) = pending.pop() {
                    if p == ".." {
                        resolved.pop();
                    } else {
                        resolved.push(p);
                    }
                }
            }
            Err(e) => return Err(e),
        }
    }
    Ok(root.join(resolved))
}

/// Copies the tree at `src` (a directory) into the empty directory `dst`, including `src`'s own
/// owner, mode and times. Nothing is followed: symlinks are copied as links.
pub fn copy_tree(src: &Path, dst: &Path) -> io::Result<()> {
    let mut links = HashMap::new();
    copy_dir_contents(src, dst, &mut links)?;
    let meta = fs::symlink_metadata(src)?;
    apply_metadata(src, dst, &meta)
}

fn copy_dir_contents(
    src: &Path,
    dst: &Path,
    links: &mut HashMap<(u64, u64), PathBuf>,
) -> io::Result<()> {
    for entry in fs::read_dir(src)? {
        let entry = entry?;
        let from = entry.path();
        let to = dst.join(entry.file_name());
        let meta = fs::symlink_metadata(&from)?;
        let ft = meta.file_type();
        if !ft.is_dir() && meta.nlink() > 1 {
            if let Some(first) = links.get(&(meta.dev(), meta.ino())) {
                fs::hard_link(first, &to)?;
                continue;
            }
            links.insert((meta.dev(), meta.ino()), to.clone());
        }
        if ft.is_dir() {
            fs::DirBuilder::new().mode(0o700).create(&to)?;
            copy_dir_contents(&from, &to, links)?;
        } else if ft.is_symlink() {
            std::os::unix::fs::symlink(fs::read_link(&from)?, &to)?;
        } else if ft.is_file() {
            let mut r = fs::OpenOptions::new()
                .read(true)
                .custom_flags(libc::O_NOFOLLOW)
                .open(&from)?;
            let mut w = fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&to)?;
            io::copy(&mut r, &mut w)?;
        } else if ft.is_char_device() || ft.is_block_device() || ft.is_fifo() {
            let kind = if ft.is_char_device() {
                SFlag::S_IFCHR
            } else if ft.is_block_device() {
                SFlag::S_IFBLK
            } else {
                SFlag::S_IFIFO
            };
            nix::sys::stat::mknod(
                &to,
                kind,
                nix::sys::stat::Mode::from_bits_truncate(0o600),
                meta.rdev(),
            )
            .map_err(io::Error::from)?;
        } else {
            // Sockets belong to a process that is not running here.
            continue;
        }
        apply_metadata(&from, &to, &meta)?;
    }
    Ok(())
}

/// Owner, then mode (chown clears set-uid bits), xattrs, then times (last: the others touch ctime
/// only, but a directory's mtime changed while its children were written).
fn apply_metadata(src: &Path, dst: &Path, meta: &fs::Metadata) -> io::Result<()> {
    std::os::unix::fs::lchown(dst, Some(meta.uid()), Some(meta.gid()))?;
    if !meta.file_type().is_symlink() {
        fs::set_permissions(dst, fs::Permissions::from_mode(meta.mode() & 0o7777))?;
    }
    copy_xattrs(src, dst);
    let atime = TimeSpec::new(meta.atime(), meta.atime_nsec());
    let mtime = TimeSpec::new(meta.mtime(), meta.mtime_nsec());
    nix::sys::stat::utimensat(
        nix::fcntl::AT_FDCWD,
        dst,
        &atime,
        &mtime,
        UtimensatFlags::NoFollowSymlink,
    )
    .map_err(io::Error::from)
}

/// Best effort, like dockerd (which ignores attributes the target filesystem does not support).
fn copy_xattrs(src: &Path, dst: &Path) {
    for (name, value) in crate::fs::xattr::read_path(src) {
        if let Err(e) = crate::fs::xattr::set(dst, None, &name, &value) {
            tracing::debug!(path = %dst.display(), attr = %name, error = %e, "xattr not copied");
        }
    }
}

/// Bytes used by the files below `dir` (hard links counted once), for `volume prune`'s report.
pub fn dir_size(dir: &Path) -> u64 {
    fn walk(p: &Path, dev: u64, seen: &mut std::collections::HashSet<(u64, u64)>) -> u64 {
        let Ok(rd) = fs::read_dir(p) else { return 0 };
        let mut total = 0;
        for e in rd.flatten() {
            let Ok(m) = e.metadata() else { continue };
            if m.dev() != dev {
                continue;
            }
            if m.is_dir() {
                total += walk(&e.path(), dev, seen);
            } else if m.nlink() <= 1 || seen.insert((m.dev(), m.ino())) {
                total += m.size();
            }
        }
        total
    }
    let Ok(m) = fs::symlink_metadata(dir) else {
        return 0;
    };
    walk(dir, m.dev(), &mut Default::default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn symlinks_resolve_inside_the_root() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path();
        fs::create_dir_all(root.join("var/data")).unwrap();
        std::os::unix::fs::symlink("/var/data", root.join("data")).unwrap();
        std::os::unix::fs::symlink("../../../../etc", root.join("escape")).unwrap();
        std::os::unix::fs::symlink("loop", root.join("loop")).unwrap();
        assert_eq!(
            resolve_in_root(root, "/data").unwrap(),
            root.join("var/data")
        );
        assert_eq!(
            resolve_in_root(root, "/data/new/x").unwrap(),
            root.join("var/data/new/x")
        );
        // `..` and absolute targets stop at the root.
        assert_eq!(resolve_in_root(root, "/escape").unwrap(), root.join("etc"));
        assert_eq!(
            resolve_in_root(root, "/../../var/data").unwrap(),
            root.join("var/data")
        );
        assert!(resolve_in_root(root, "/loop").is_err());
    }

    #[test]
    fn copy_keeps_modes_links_and_times() {
        let tmp = tempfile::tempdir().unwrap();
        let src = tmp.path().join("src");
        let dst = tmp.path().join("dst");
        fs::create_dir_all(src.join("sub")).unwrap();
        fs::create_dir(&dst).unwrap();
        fs::write(src.join("sub/file"), b"data").unwrap();
        fs::set_permissions(src.join("sub/file"), fs::Permissions::from_mode(0o640)).unwrap();
        fs::hard_link(src.join("sub/file"), src.join("hard")).unwrap();
        std::os::unix::fs::symlink("/etc/passwd", src.join("link")).unwrap();
        fs::set_permissions(&src, fs::Permissions::from_mode(0o750)).unwrap();
        fs::set_permissions(src.join("sub"), fs::Permissions::from_mode(0o711)).unwrap();
        copy_tree(&src, &dst).unwrap();
        assert_eq!(fs::read(dst.join("sub/file")).unwrap(), b"data");
        let m = fs::metadata(dst.join("sub/file")).unwrap();
        assert_eq!(m.mode() & 0o7777, 0o640);
        assert_eq!(m.nlink(), 2, "hard link kept");
        assert_eq!(
            fs::read_link(dst.join("link")).unwrap(),
            Path::new("/etc/passwd")
        );
        assert_eq!(fs::metadata(&dst).unwrap().mode() & 0o7777, 0o750);
        assert_eq!(
            fs::metadata(dst.join("sub")).unwrap().mode() & 0o7777,
            0o711
        );
        let (a, b) = (
            fs::metadata(src.join("sub")).unwrap(),
            fs::metadata(dst.join("sub")).unwrap(),
        );
        assert_eq!(a.mtime(), b.mtime());
        // The file once (hard link), plus the symlink's own 11 bytes, as dockerd counts.
        assert_eq!(dir_size(&dst), 4 + 11);
    }
}
