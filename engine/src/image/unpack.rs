//! Applying an image layer (an OCI tar changeset) to an overlayfs lower directory.
//!
//! The OCI layer format marks deletions with `.wh.NAME` files and opaque directories with
//! `.wh..wh..opq`; overlayfs wants a 0:0 character device and the `trusted.overlay.opaque` xattr
//! instead, so those are translated on the way in (as containerd's and dockerd's overlay drivers do).
//!
//! Safety model: every entry path is cleaned lexically (`..` may not climb above the layer root), and
//! its parent directory is then resolved component by component with symlinks interpreted as if the
//! layer root were `/` (chroot semantics). The last component is never followed: it is removed and
//! recreated, or created with `O_EXCL`/`O_NOFOLLOW`. Nothing else writes to `dest` while a layer is
//! being applied, so resolving in user space is race-free here.

use std::collections::{HashSet, VecDeque};
use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::io::{self, Read};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use crate::fs::node::{chmod, mkdir, mknod, set_times};
use crate::fs::tar_entry::{clean_path, read_meta, EntryError};
use crate::fs::{xattr, MAX_SYMLINKS};

#[derive(Debug, thiserror::Error)]
pub enum UnpackError {
    #[error("reading layer stream: {0}")]
    Read(#[source] io::Error),
    #[error("layer entry {path:?}: {source}")]
    Entry {
        path: String,
        #[source]
        source: io::Error,
    },
    #[error("layer entry {path:?}: {reason}")]
    Invalid { path: String, reason: String },
    #[error("layer entry {0:?} escapes the layer root")]
    Escape(String),
}

impl From<EntryError> for UnpackError {
    fn from(e: EntryError) -> Self {
        match e {
            EntryError::Read { path, source } => UnpackError::Entry { path, source },
            EntryError::OutOfRange { path, what } => UnpackError::Invalid {
                path,
                reason: format!("{what} out of range"),
            },
        }
    }
}

const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];
const ZSTD_MAGIC: [u8; 4] = [0x28, 0xb5, 0x2f, 0xfd];
const XZ_MAGIC: [u8; 6] = [0xfd, b'7', b'z', b'X', b'Z', 0];
pub(crate) const OPAQUE_MARKER: &str = ".wh..wh..opq";
pub(crate) const WHITEOUT_PREFIX: &str = ".wh.";
/// AUFS bookkeeping (`.wh..wh.plnk`, `.wh..wh.aufs`) that old layers may carry; meaningless here.
pub(crate) const WHITEOUT_META_PREFIX: &str = ".wh..wh.";

/// Wraps a layer blob, build context or `ADD` source with the decompressor its magic bytes call
/// for, as dockerd's `DecompressStream`: gzip, bzip2, xz, zstd, or none.
pub fn decompress<R: Read + Send + 'static>(mut r: R) -> Result<Box<dyn Read + Send>, UnpackError> {
    let mut head = [0u8; 6];
    let mut n = 0;
    while n < head.len() {
        match r.read(&mut head[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(UnpackError::Read(e)),
        }
    }
    let h = &head[..n];
    let chained = io::Cursor::new(h.to_vec()).chain(r);
    Ok(match Compression::of(h) {
        // Multi-member: some tools (pigz, parallel compressors) write several gzip members.
        Compression::Gzip => Box::new(flate2::read::MultiGzDecoder::new(chained)),
        Compression::Bzip2 => Box::new(bzip2::read::MultiBzDecoder::new(chained)),
        // Concatenated streams, as `xz` itself reads them.
        Compression::Xz => Box::new(liblzma::read::XzDecoder::new_multi_decoder(chained)),
        Compression::Zstd => {
            Box::new(zstd::stream::read::Decoder::new(chained).map_err(UnpackError::Read)?)
        }
        Compression::None => Box::new(chained),
    })
}

/// What a stream's first bytes say it is compressed with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    None,
    Gzip,
    Bzip2,
    Xz,
    Zstd,
}

impl Compression {
    pub fn of(head: &[u8]) -> Self {
        if head.starts_with(&GZIP_MAGIC) {
            Compression::Gzip
        } else if head.starts_with(b"BZh") {
            Compression::Bzip2
        } else if head.starts_with(&XZ_MAGIC) {
            Compression::Xz
        } else if head.starts_with(&ZSTD_MAGIC) {
            Compression::Zstd
        } else {
            Compression::None
        }
    }
}

/// Unpacks one layer tar stream into `dest` (an existing directory, used as an overlayfs lowerdir).
/// Returns the number of bytes of regular file content written.
pub fn unpack_layer<R: Read>(tar: R, dest: &Path) -> Result<u64, UnpackError> {
    let mut archive = tar::Archive::new(tar);
    let mut total = 0u64;
    // Directory mode and times are applied last: creating their children would change the
    // mtime, and a read-only mode could block those children for a non-root caller.
    let mut dirs: Vec<DirFinish> = Vec::new();
    for entry in archive.entries().map_err(UnpackError::Read)? {
        let mut entry = entry.map_err(UnpackError::Read)?;
        total += apply_entry(&mut entry, dest, &mut dirs)?;
    }
    finish_dirs(dirs)?;
    // The tar reader stops at the end-of-archive marker; drain the padding so a caller hashing the
    // stream (diff ID check) sees every byte.
    io::copy(&mut archive.into_inner(), &mut io::sink()).map_err(UnpackError::Read)?;
    Ok(total)
}

/// A directory to finish: its real path, and the entry name for errors.
type DirFinish = crate::fs::DirFinish<(PathBuf, String)>;

fn apply_entry<R: Read>(
    entry: &mut tar::Entry<'_, R>,
    dest: &Path,
    dirs: &mut Vec<DirFinish>,
) -> Result<u64, UnpackError> {
    let kind = entry.header().entry_type();
    let raw_bytes = entry.path_bytes().into_owned();
    let name = String::from_utf8_lossy(&raw_bytes).into_owned();
    if matches!(
        kind,
        tar::EntryType::XGlobalHeader | tar::EntryType::XHeader
    ) {
        // Global PAX headers carry archive-wide defaults we have no use for.
        return Ok(0);
    }
    let rel = clean_path(Path::new(OsStr::from_bytes(&raw_bytes)))
        .ok_or_else(|| UnpackError::Escape(name.clone()))?;
    let meta = read_meta(entry, &name)?;
    let io_err = |source: io::Error| UnpackError::Entry {
        path: name.clone(),
        source,
    };

    let Some(file_name) = rel.file_name().map(OsStr::to_os_string) else {
        // The layer root itself ("./"): only a directory entry means anything, and then its
        // ownership and mode become those of the container's `/`.
        if kind.is_dir() {
            std::os::unix::fs::lchown(dest, Some(meta.uid), Some(meta.gid)).map_err(io_err)?;
            apply_xattrs(dest, None, &meta.xattrs, &name)?;
            dirs.push(DirFinish {
                dir: (dest.to_path_buf(), name.clone()),
                mode: meta.mode,
                mtime: meta.mtime,
            });
        }
        return Ok(0);
    };
    let file_name_str = file_name.to_string_lossy();
    let parent_rel = rel.parent().unwrap_or(Path::new(""));

    if file_name_str == OPAQUE_MARKER {
        let dir = resolve_dir(dest, parent_rel, true).map_err(io_err)?;
        xattr::set(&dir, None, "trusted.overlay.opaque", b"y").map_err(io_err)?;
        return Ok(0);
    }
    if file_name_str.starts_with(WHITEOUT_META_PREFIX) {
        tracing::debug!(entry = %name, "skipping AUFS metadata entry");
        return Ok(0);
    }
    if let Some(hidden) = file_name_str.strip_prefix(WHITEOUT_PREFIX) {
        if hidden.is_empty() || hidden == "." || hidden == ".." {
            return Err(UnpackError::Invalid {
                path: name.clone(),
                reason: "whiteout names no file".into(),
            });
        }
        let dir = resolve_dir(dest, parent_rel, true).map_err(io_err)?;
        // Keep the raw bytes of the hidden name (the lossy string is only for the checks above).
        let hidden_os = OsStr::from_bytes(&file_name.as_bytes()[WHITEOUT_PREFIX.len()..]);
        let target = dir.join(hidden_os);
        remove_existing(&target).map_err(io_err)?;
        mknod(&target, libc::S_IFCHR, 0).map_err(io_err)?;
        std::os::unix::fs::lchown(&target, Some(meta.uid), Some(meta.gid)).map_err(io_err)?;
        return Ok(0);
    }

    let dir = resolve_dir(dest, parent_rel, true).map_err(io_err)?;
    let path = dir.join(&file_name);
    let mut written = 0u64;
    match kind {
        tar::EntryType::Directory => {
            match std::fs::symlink_metadata(&path) {
                // An existing directory is merged into, as a later layer would over a lower one.
                Ok(m) if m.is_dir() => {}
                _ => {
                    remove_existing(&path).map_err(io_err)?;
                    mkdir(&path).map_err(io_err)?;
                }
            }
            std::os::unix::fs::lchown(&path, Some(meta.uid), Some(meta.gid)).map_err(io_err)?;
            apply_xattrs(&path, None, &meta.xattrs, &name)?;
            dirs.push(DirFinish {
                dir: (path, name.clone()),
                mode: meta.mode,
                mtime: meta.mtime,
            });
        }
        tar::EntryType::Regular | tar::EntryType::Continuous | tar::EntryType::GNUSparse => {
            remove_existing(&path).map_err(io_err)?;
            let mut f = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
                .open(&path)
                .map_err(io_err)?;
            written = io::copy(entry, &mut f).map_err(io_err)?;
            // chown clears setuid/setgid and security.capability, so: owner, xattrs, then mode.
            std::os::unix::fs::fchown(&f, Some(meta.uid), Some(meta.gid)).map_err(io_err)?;
            apply_xattrs(&path, Some(&f), &meta.xattrs, &name)?;
            f.set_permissions(std::fs::Permissions::from_mode(meta.mode))
                .map_err(io_err)?;
            set_times(&path, Some(&f), meta.mtime).map_err(io_err)?;
        }
        tar::EntryType::Symlink => {
            let target = entry
                .link_name_bytes()
                .map(|t| OsString::from_vec(t.into_owned()))
                .ok_or_else(|| UnpackError::Invalid {
                    path: name.clone(),
                    reason: "symlink without a target".into(),
                })?;
            remove_existing(&path).map_err(io_err)?;
            // The target is stored verbatim: it is resolved at run time, inside the container.
            std::os::unix::fs::symlink(&target, &path).map_err(io_err)?;
            std::os::unix::fs::lchown(&path, Some(meta.uid), Some(meta.gid)).map_err(io_err)?;
            apply_xattrs(&path, None, &meta.xattrs, &name)?;
            set_times(&path, None, meta.mtime).map_err(io_err)?;
        }
        tar::EntryType::Link => {
            let target_raw = entry
                .link_name_bytes()
                .map(|t| t.into_owned())
                .ok_or_else(|| UnpackError::Invalid {
                    path: name.clone(),
                    reason: "hardlink without a target".into(),
                })?;
            let target_rel = clean_path(Path::new(OsStr::from_bytes(&target_raw)))
                .filter(|t| t.file_name().is_some())
                .ok_or_else(|| UnpackError::Escape(name.clone()))?;
            let (Some(target_name), Some(target_parent)) =
                (target_rel.file_name(), target_rel.parent())
            else {
                return Err(UnpackError::Escape(name.clone()));
            };
            // Resolve without creating anything: the target must already be in this layer.
            let source = resolve_dir(dest, target_parent, false)
                .map_err(io_err)?
                .join(target_name);
            if source == path {
                return Err(UnpackError::Invalid {
                    path: name.clone(),
                    reason: "hardlink to itself".into(),
                });
            }
            std::fs::symlink_metadata(&source).map_err(io_err)?;
            remove_existing(&path).map_err(io_err)?;
            // linkat without AT_SYMLINK_FOLLOW: a symlink target is linked itself, never followed.
            std::fs::hard_link(&source, &path).map_err(io_err)?;
            // The link shares the target's inode; its metadata was set with the target.
        }
        tar::EntryType::Char | tar::EntryType::Block | tar::EntryType::Fifo => {
            let fmt = match kind {
                tar::EntryType::Char => libc::S_IFCHR,
                tar::EntryType::Block => libc::S_IFBLK,
                _ => libc::S_IFIFO,
            };
            let header = entry.header();
            let major = header.device_major().map_err(io_err)?.unwrap_or(0);
            let minor = header.device_minor().map_err(io_err)?.unwrap_or(0);
            remove_existing(&path).map_err(io_err)?;
            mknod(&path, fmt | 0o600, libc::makedev(major, minor)).map_err(io_err)?;
            std::os::unix::fs::lchown(&path, Some(meta.uid), Some(meta.gid)).map_err(io_err)?;
            apply_xattrs(&path, None, &meta.xattrs, &name)?;
            chmod(&path, meta.mode).map_err(io_err)?;
            set_times(&path, None, meta.mtime).map_err(io_err)?;
        }
        other => {
            tracing::warn!(entry = %name, kind = ?other, "skipping unsupported tar entry type");
        }
    }
    Ok(written)
}

/// Resolves directory `rel` inside `root` as if `root` were `/`: symlinks met on the way are
/// followed, but absolute targets restart at `root` and `..` stops at it. With `create`, missing
/// directories are made (mode 0755, like `mkdir -p`). Returns the real path, free of symlinks.
fn resolve_dir(root: &Path, rel: &Path, create: bool) -> io::Result<PathBuf> {
    let mut pending: VecDeque<OsString> = rel
        .components()
        .map(|c| c.as_os_str().to_os_string())
        .collect();
    let mut resolved: Vec<OsString> = Vec::new();
    let mut links = 0usize;
    while let Some(part) = pending.pop_front() {
        if part == "." || part == "/" || part.is_empty() {
            continue;
        }
        if part == ".." {
            resolved.pop();
            continue;
        }
        let mut candidate = root.to_path_buf();
        candidate.extend(&resolved);
        candidate.push(&part);
        match std::fs::symlink_metadata(&candidate) {
            Ok(m) if m.is_dir() => resolved.push(part),
            Ok(m) if m.file_type().is_symlink() => {
                links += 1;
                if links > MAX_SYMLINKS {
                    return Err(io::Error::from_raw_os_error(libc::ELOOP));
                }
                let target = std::fs::read_link(&candidate)?;
                if target.is_absolute() {
                    resolved.clear();
                }
                for (i, c) in target.components().enumerate() {
                    pending.insert(i, c.as_os_str().to_os_string());
                }
            }
            Ok(_) => {
                return Err(io::Error::new(
                    io::ErrorKind::NotADirectory,
                    format!("{} is not a directory", candidate.display()),
                ))
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound && create => {
                mkdir(&candidate)?;
                chmod(&candidate, 0o755)?;
                resolved.push(part);
            }
            Err(e) => return Err(e),
        }
    }
    let mut out = root.to_path_buf();
    out.extend(&resolved);
    Ok(out)
}

/// Removes whatever is at `p` (a directory with its contents) without following symlinks.
fn remove_existing(p: &Path) -> io::Result<()> {
    match std::fs::symlink_metadata(p) {
        Ok(m) if m.is_dir() => std::fs::remove_dir_all(p),
        Ok(_) => std::fs::remove_file(p),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    }
}

fn finish_dirs(dirs: Vec<DirFinish>) -> Result<(), UnpackError> {
    let mut done = HashSet::new();
    // Newest first: a directory entry repeated later in the layer wins.
    for d in dirs.into_iter().rev() {
        let (path, name) = &d.dir;
        if !done.insert(path.clone()) {
            continue;
        }
        match std::fs::symlink_metadata(path) {
            Ok(m) if m.is_dir() => {}
            // Replaced or removed by a later entry: nothing left to finish.
            _ => continue,
        }
        let err = |source| UnpackError::Entry {
            path: name.clone(),
            source,
        };
        chmod(path, d.mode).map_err(err)?;
        set_times(path, None, d.mtime).map_err(err)?;
    }
    Ok(())
}

fn apply_xattrs(
    path: &Path,
    file: Option<&File>,
    xattrs: &[(String, Vec<u8>)],
    entry: &str,
) -> Result<(), UnpackError> {
    for (key, value) in xattrs {
        // overlayfs reads its own xattrs from lower layers (redirects, metacopy, opaque); a layer
        // must not smuggle them in, opaque dirs come only from `.wh..wh..opq`.
        if xattr::is_overlay_private(key) {
            tracing::warn!(entry, xattr = %key, "ignoring overlayfs-private xattr in layer");
            continue;
        }
        if let Err(e) = xattr::set(path, file, key, value) {
            match e.raw_os_error() {
                // Filesystems without xattr support, or namespaces we may not write (trusted.*
                // without CAP_SYS_ADMIN): the layer is still usable, as dockerd also decides.
                Some(libc::ENOTSUP) | Some(libc::EPERM) => {
                    tracing::warn!(entry, xattr = %key, error = %e, "xattr not applied");
                }
                _ => {
                    return Err(UnpackError::Entry {
                        path: entry.to_string(),
                        source: io::Error::new(e.kind(), format!("setting xattr {key}: {e}")),
                    })
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fs::node::cpath;
    use std::ffi::CString;
    use std::io::Write;
    use std::os::unix::fs::{FileTypeExt, MetadataExt};

    /// One entry of a test layer.
    struct E<'a> {
        path: &'a str,
        kind: tar::EntryType,
        data: &'a [u8],
        mode: u32,
        uid: u64,
        gid: u64,
        link: Option<&'a str>,
        xattrs: &'a [(&'a str, &'a [u8])],
    }

    fn e<'a>(path: &'a str, kind: tar::EntryType) -> E<'a> {
        E {
            path,
            kind,
            data: b"",
            mode: if kind.is_dir() { 0o755 } else { 0o644 },
            uid: 0,
            gid: 0,
            link: None,
            xattrs: &[],
        }
    }

    fn file<'a>(path: &'a str, data: &'a [u8]) -> E<'a> {
        E {
            data,
            ..e(path, tar::EntryType::Regular)
        }
    }

    fn link<'a>(path: &'a str, kind: tar::EntryType, target: &'a str) -> E<'a> {
        E {
            link: Some(target),
            ..e(path, kind)
        }
    }

    fn layer(entries: &[E<'_>]) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        for en in entries {
            if !en.xattrs.is_empty() {
                let keys: Vec<(String, &[u8])> = en
                    .xattrs
                    .iter()
                    .map(|(k, v)| (format!("SCHILY.xattr.{k}"), *v))
                    .collect();
                b.append_pax_extensions(keys.iter().map(|(k, v)| (k.as_str(), *v)))
                    .unwrap();
            }
            let mut h = tar::Header::new_gnu();
            h.set_entry_type(en.kind);
            h.set_mode(en.mode);
            h.set_uid(en.uid);
            h.set_gid(en.gid);
            h.set_mtime(1_600_000_000);
            h.set_size(en.data.len() as u64);
            if let Some(l) = en.link {
                h.set_link_name(l).unwrap();
            }
            // set_path would refuse `..`; write the raw name so escapes can be tested.
            let name = en.path.as_bytes();
            h.as_old_mut().name[..name.len()].copy_from_slice(name);
            h.set_cksum();
            b.append(&h, en.data).unwrap();
        }
        b.into_inner().unwrap()
    }

    fn lmeta(p: &Path) -> std::fs::Metadata {
        std::fs::symlink_metadata(p).unwrap()
    }

    #[test]
    fn files_dirs_modes_owners_and_times() {
        let dir = tempfile::tempdir().unwrap();
        let t = layer(&[
            E {
                mode: 0o1777,
                ..e("tmp/", tar::EntryType::Directory)
            },
            E {
                mode: 0o4755,
                uid: 1000,
                gid: 1001,
                ..file("usr/bin/su", b"#!/bin/sh\n")
            },
            E {
                mode: 0o2711,
                uid: 5,
                gid: 6,
                ..file("./usr/bin/sg", b"x")
            },
            E {
                mode: 0o555,
                uid: 7,
                gid: 8,
                ..e("/ro/", tar::EntryType::Directory)
            },
            file("ro/inside", b"written after its read-only parent"),
        ]);
        let n = unpack_layer(&t[..], dir.path()).unwrap();
        assert_eq!(n, 10 + 1 + 34);
        let su = lmeta(&dir.path().join("usr/bin/su"));
        assert_eq!(su.mode() & 0o7777, 0o4755);
        assert_eq!((su.uid(), su.gid()), (1000, 1001));
        assert_eq!(su.mtime(), 1_600_000_000);
        let sg = lmeta(&dir.path().join("usr/bin/sg"));
        assert_eq!(sg.mode() & 0o7777, 0o2711);
        assert_eq!((sg.uid(), sg.gid()), (5, 6));
        let tmp = lmeta(&dir.path().join("tmp"));
        assert_eq!(tmp.mode() & 0o7777, 0o1777);
        let ro = lmeta(&dir.path().join("ro"));
        assert_eq!(ro.mode() & 0o7777, 0o555);
        assert_eq!((ro.uid(), ro.gid()), (7, 8));
        // Set after the child was written.
        assert_eq!(ro.mtime(), 1_600_000_000);
        assert_eq!(
            std::fs::read(dir.path().join("ro/inside")).unwrap(),
            b"written after its read-only parent"
        );
        // Implicit parents get a sane default.
        assert_eq!(lmeta(&dir.path().join("usr")).mode() & 0o7777, 0o755);
    }

    #[test]
    fn whiteouts_become_char_devices() {
        let dir = tempfile::tempdir().unwrap();
        let t = layer(&[
            e("etc/", tar::EntryType::Directory),
            file("etc/.wh.passwd", b""),
            file(".wh.toplevel", b""),
            file("etc/replaced", b"old"),
            file("etc/.wh.replaced", b""),
        ]);
        unpack_layer(&t[..], dir.path()).unwrap();
        for p in ["etc/passwd", "toplevel", "etc/replaced"] {
            let m = lmeta(&dir.path().join(p));
            assert!(m.file_type().is_char_device(), "{p}");
            assert_eq!(m.rdev(), 0, "{p}");
        }
        let names: Vec<_> = std::fs::read_dir(dir.path().join("etc"))
            .unwrap()
            .map(|d| d.unwrap().file_name().into_string().unwrap())
            .collect();
        assert!(names.iter().all(|n| !n.starts_with(".wh.")), "{names:?}");
        assert!(!dir.path().join(".wh.toplevel").exists());
    }

    fn get_xattr(p: &Path, name: &str) -> Option<Vec<u8>> {
        let cp = cpath(p).unwrap();
        let cn = CString::new(name).unwrap();
        let mut buf = vec![0u8; 256];
        let n = unsafe {
            libc::lgetxattr(cp.as_ptr(), cn.as_ptr(), buf.as_mut_ptr().cast(), buf.len())
        };
        if n < 0 {
            return None;
        }
        buf.truncate(n as usize);
        Some(buf)
    }

    #[test]
    fn opaque_directory_marker() {
        let dir = tempfile::tempdir().unwrap();
        let t = layer(&[
            file("var/lib/.wh..wh..opq", b""),
            e("var/lib/", tar::EntryType::Directory),
            file("var/lib/kept", b"k"),
            file("new/.wh..wh..opq", b""),
            file("old/.wh..wh.plnk", b""),
        ]);
        unpack_layer(&t[..], dir.path()).unwrap();
        assert_eq!(
            get_xattr(&dir.path().join("var/lib"), "trusted.overlay.opaque").as_deref(),
            Some(&b"y"[..])
        );
        assert_eq!(
            get_xattr(&dir.path().join("new"), "trusted.overlay.opaque").as_deref(),
            Some(&b"y"[..])
        );
        assert!(dir.path().join("var/lib/kept").exists());
        assert!(!dir.path().join("var/lib/.wh..wh..opq").exists());
        assert!(!dir.path().join("old/.wh..wh.plnk").exists());
        assert_eq!(
            get_xattr(&dir.path().join("var"), "trusted.overlay.opaque"),
            None
        );
    }

    #[test]
    fn hardlinks_share_the_inode_and_stay_inside() {
        let dir = tempfile::tempdir().unwrap();
        let t = layer(&[
            E {
                mode: 0o750,
                uid: 3,
                ..file("bin/busybox", b"elf")
            },
            link("bin/sh", tar::EntryType::Link, "bin/busybox"),
            link("bin/ls", tar::EntryType::Link, "/bin/busybox"),
            link("bin/cat", tar::EntryType::Link, "./bin/busybox"),
        ]);
        assert_eq!(unpack_layer(&t[..], dir.path()).unwrap(), 3);
        let bb = lmeta(&dir.path().join("bin/busybox"));
        assert_eq!(bb.nlink(), 4);
        for p in ["bin/sh", "bin/ls", "bin/cat"] {
            let m = lmeta(&dir.path().join(p));
            assert_eq!(m.ino(), bb.ino());
            assert_eq!(m.mode() & 0o7777, 0o750);
            assert_eq!(m.uid(), 3);
        }

        // A hardlink escaping the root is refused.
        let dir = tempfile::tempdir().unwrap();
        let t = layer(&[link(
            "passwd",
            tar::EntryType::Link,
            "../../../../etc/passwd",
        )]);
        let err = unpack_layer(&t[..], dir.path()).unwrap_err();
        assert!(matches!(err, UnpackError::Escape(_)), "{err}");

        // ... and so is one reaching out through a symlink: it resolves inside, where nothing is.
        let dir = tempfile::tempdir().unwrap();
        let t = layer(&[
            link("hostetc", tar::EntryType::Symlink, "/etc"),
            link("stolen", tar::EntryType::Link, "hostetc/passwd"),
        ]);
        let err = unpack_layer(&t[..], dir.path()).unwrap_err();
        assert!(matches!(err, UnpackError::Entry { .. }), "{err}");
        assert!(!dir.path().join("stolen").exists());
    }

    #[test]
    fn symlinks_are_kept_verbatim_and_never_written_through() {
        let dir = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        let outside_s = outside.path().to_str().unwrap().to_string();
        let t = layer(&[
            link("abs", tar::EntryType::Symlink, &outside_s),
            link("rel", tar::EntryType::Symlink, "../../../../.."),
            link("dangling", tar::EntryType::Symlink, "/nonexistent/x"),
            file("abs/pwned", b"a"),
            file("rel/pwned2", b"b"),
            // Replacing a symlink with a file writes the file, not through the link.
            link("over", tar::EntryType::Symlink, &outside_s),
            file("over", b"c"),
        ]);
        unpack_layer(&t[..], dir.path()).unwrap();
        assert_eq!(
            std::fs::read_link(dir.path().join("abs")).unwrap(),
            outside.path()
        );
        assert_eq!(
            std::fs::read_link(dir.path().join("rel")).unwrap(),
            Path::new("../../../../..")
        );
        assert_eq!(
            std::fs::read_link(dir.path().join("dangling")).unwrap(),
            Path::new("/nonexistent/x")
        );
        assert_eq!(std::fs::read_dir(outside.path()).unwrap().count(), 0);
        // Resolved as in a chroot: the absolute target lands under the layer root.
        let inner = dir
            .path()
            .join(outside.path().strip_prefix("/").unwrap())
            .join("pwned");
        assert_eq!(std::fs::read(inner).unwrap(), b"a");
        assert_eq!(std::fs::read(dir.path().join("pwned2")).unwrap(), b"b");
        assert!(lmeta(&dir.path().join("over")).is_file());
    }

    #[test]
    fn dotdot_escape_is_rejected() {
        let dir = tempfile::tempdir().unwrap();
        let sub = dir.path().join("root");
        std::fs::create_dir(&sub).unwrap();
        let t = layer(&[file("a/../../escaped", b"x")]);
        let err = unpack_layer(&t[..], &sub).unwrap_err();
        assert!(
            matches!(err, UnpackError::Escape(ref p) if p.contains("escaped")),
            "{err}"
        );
        assert!(!dir.path().join("escaped").exists());
        // `..` that stays inside is fine.
        let t = layer(&[file("a/../b", b"x")]);
        unpack_layer(&t[..], &sub).unwrap();
        assert!(sub.join("b").is_file());
    }

    #[test]
    fn later_entries_replace_earlier_ones() {
        let dir = tempfile::tempdir().unwrap();
        let t = layer(&[
            file("x", b"file"),
            e("x/", tar::EntryType::Directory),
            file("x/y", b"in dir"),
            e("d/", tar::EntryType::Directory),
            file("d/child", b"c"),
            file("d", b"now a file"),
        ]);
        unpack_layer(&t[..], dir.path()).unwrap();
        assert!(lmeta(&dir.path().join("x")).is_dir());
        assert_eq!(std::fs::read(dir.path().join("x/y")).unwrap(), b"in dir");
        assert_eq!(std::fs::read(dir.path().join("d")).unwrap(), b"now a file");
    }

    #[test]
    fn devices_and_fifos() {
        let dir = tempfile::tempdir().unwrap();
        let mut null = e("dev/null", tar::EntryType::Char);
        null.mode = 0o666;
        let mut t = tar::Builder::new(Vec::new());
        for (en, major, minor) in [
            (null, 1, 3),
            (e("dev/loop0", tar::EntryType::Block), 7, 0),
            (e("run/fifo", tar::EntryType::Fifo), 0, 0),
        ] {
            let mut h = tar::Header::new_gnu();
            h.set_entry_type(en.kind);
            h.set_mode(en.mode);
            h.set_size(0);
            h.set_uid(0);
            h.set_gid(0);
            h.set_mtime(0);
            h.set_device_major(major).unwrap();
            h.set_device_minor(minor).unwrap();
            t.append_data(&mut h, en.path, &b""[..]).unwrap();
        }
        let t = t.into_inner().unwrap();
        unpack_layer(&t[..], dir.path()).unwrap();
        let null = lmeta(&dir.path().join("dev/null"));
        assert!(null.file_type().is_char_device());
        assert_eq!(null.rdev(), libc::makedev(1, 3));
        assert_eq!(null.mode() & 0o7777, 0o666);
        let lp = lmeta(&dir.path().join("dev/loop0"));
        assert!(lp.file_type().is_block_device());
        assert_eq!(lp.rdev(), libc::makedev(7, 0));
        assert!(lmeta(&dir.path().join("run/fifo")).file_type().is_fifo());
    }

    #[test]
    fn xattrs_from_pax_records() {
        let dir = tempfile::tempdir().unwrap();
        let t = layer(&[
            E {
                xattrs: &[
                    ("user.test", b"hello"),
                    // Not ours to set: overlayfs interprets it in lower layers.
                    ("trusted.overlay.redirect", b"/etc"),
                ],
                ..file("f", b"data")
            },
            E {
                xattrs: &[("user.dir", b"d")],
                ..e("d/", tar::EntryType::Directory)
            },
        ]);
        unpack_layer(&t[..], dir.path()).unwrap();
        assert_eq!(
            get_xattr(&dir.path().join("f"), "user.test").as_deref(),
            Some(&b"hello"[..])
        );
        assert_eq!(
            get_xattr(&dir.path().join("f"), "trusted.overlay.redirect"),
            None
        );
        assert_eq!(
            get_xattr(&dir.path().join("d"), "user.dir").as_deref(),
            Some(&b"d"[..])
        );
    }

    #[test]
    fn gzip_bzip2_xz_and_zstd_are_detected_and_plain_passes_through() {
        let t = layer(&[file("a", b"abc")]);
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(&t).unwrap();
        let gz = gz.finish().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let r = decompress(io::Cursor::new(gz)).unwrap();
        assert_eq!(unpack_layer(r, dir.path()).unwrap(), 3);
        let dir = tempfile::tempdir().unwrap();
        let r = decompress(io::Cursor::new(t.clone())).unwrap();
        assert_eq!(unpack_layer(r, dir.path()).unwrap(), 3);
        let bz = {
            let mut w = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::fast());
            w.write_all(&t).unwrap();
            w.finish().unwrap()
        };
        let xz = {
            let mut w = liblzma::write::XzEncoder::new(Vec::new(), 1);
            w.write_all(&t).unwrap();
            w.finish().unwrap()
        };
        let zst = zstd::encode_all(io::Cursor::new(&t), 1).unwrap();
        for (name, blob) in [("bzip2", bz), ("xz", xz), ("zstd", zst)] {
            let dir = tempfile::tempdir().unwrap();
            let r = decompress(io::Cursor::new(blob)).unwrap();
            assert_eq!(unpack_layer(r, dir.path()).unwrap(), 3, "{name}");
            assert_eq!(
                std::fs::read(dir.path().join("a")).unwrap(),
                b"abc",
                "{name}"
            );
        }
        // A truncated stream is an error, not a short layer.
        let r = decompress(io::Cursor::new(vec![0x28, 0xb5, 0x2f, 0xfd, 0])).unwrap();
        assert!(unpack_layer(r, tempfile::tempdir().unwrap().path()).is_err());
        // An empty blob is not compressed; the tar reader then sees an empty archive.
        let r = decompress(io::empty()).unwrap();
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(unpack_layer(r, dir.path()).unwrap(), 0);
    }

    #[test]
    fn the_whole_stream_is_consumed() {
        let mut t = layer(&[file("a", b"abc")]);
        t.extend_from_slice(&[0u8; 4096]);
        let len = t.len();
        let mut cursor = io::Cursor::new(t);
        let dir = tempfile::tempdir().unwrap();
        unpack_layer(&mut cursor, dir.path()).unwrap();
        assert_eq!(cursor.position() as usize, len);
    }
}
