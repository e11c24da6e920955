//! Extracting a tar stream into a directory inside a container's root (`docker cp` in; the
//! builder's `COPY` and `ADD`): every entry is created relative to an fd of its resolved parent,
//! so neither a `..` in an entry nor a symlink planted by the container can reach outside the
//! root; entries and symlinks that would leave the destination are refused, as go-archive does.

use std::collections::HashSet;
use std::ffi::{OsStr, OsString};
use std::io::{self, Read};
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use nix::errno::Errno;
use nix::fcntl::{AtFlags, OFlag};
use nix::sys::stat::{Mode, SFlag};

use super::fd::{remove_all_at, reopen_dir};
use super::rootpath::{is_dir, lookup_at, ContainerFs, DirHandle, Resolved, Target};
use super::tar_entry::{clean_path, read_meta, Meta, Timestamp};
use super::{errno_io, xattr};
use crate::error::EngineError;

/// Options of an extraction (`PUT /archive`).
#[derive(Clone, Copy, Debug, Default)]
pub struct ExtractOptions {
    pub no_overwrite_dir_non_dir: bool,
    /// Owner forced on every entry (`copyUIDGID` with a container user); else the archive's.
    pub owner: Option<(u32, u32)>,
}

#[derive(Debug, thiserror::Error)]
pub enum ExtractError {
    #[error("{0}")]
    Refused(String),
    #[error("{0}")]
    ReadOnly(String),
    #[error("reading archive: {0}")]
    Read(#[source] io::Error),
    #[error("{path}: {source}")]
    Io {
        path: String,
        #[source]
        source: io::Error,
    },
}

impl From<ExtractError> for EngineError {
    fn from(e: ExtractError) -> Self {
        match e {
            ExtractError::Refused(m) | ExtractError::ReadOnly(m) => EngineError::invalid(m),
            ExtractError::Read(e) => EngineError::invalid(format!("reading archive: {e}")),
            other => EngineError::internal(other),
        }
    }
}

type DirFinish = super::DirFinish<Arc<OwnedFd>>;

/// Where an extraction writes: the destination chain and what applies to every entry.
struct Dest<'a> {
    fs: &'a ContainerFs,
    /// The chain from the root to the destination directory.
    chain: &'a [DirHandle],
    /// The destination's container path, for messages.
    path: PathBuf,
    readonly_rootfs: bool,
    opts: ExtractOptions,
}

/// One entry about to be written: its parent is resolved and writable, and whatever stood at
/// its name is gone (or is a directory that the entry, a directory too, merges into).
struct Slot<'a> {
    parent: &'a DirHandle,
    file_name: OsString,
    /// The entry's name in the archive, for messages.
    name: String,
    /// Its container path, for messages.
    full: PathBuf,
    uid: u32,
    gid: u32,
}

impl Slot<'_> {
    fn pfd(&self) -> &OwnedFd {
        self.parent.fd.as_ref()
    }

    fn io_err(&self) -> impl Fn(Errno) -> ExtractError + '_ {
        move |e| ExtractError::Io {
            path: self.full.display().to_string(),
            source: errno_io(e),
        }
    }

    fn chown_at(&self, flags: AtFlags) -> std::result::Result<(), ExtractError> {
        nix::unistd::fchownat(
            self.pfd(),
            self.file_name.as_os_str(),
            Some(self.uid.into()),
            Some(self.gid.into()),
            flags,
        )
        .map_err(self.io_err())
    }

    fn set_times_at(&self, t: Timestamp) -> std::result::Result<(), ExtractError> {
        let ts = t.timespec();
        nix::sys::stat::utimensat(
            self.pfd(),
            self.file_name.as_os_str(),
            &ts,
            &ts,
            nix::sys::stat::UtimensatFlags::NoFollowSymlink,
        )
        .map_err(self.io_err())
    }
}

/// Extracts a tar stream into the directory `dest` (the chain from the root to it).
pub fn extract<R: Read>(
    fs: &ContainerFs,
    dest: Vec<DirHandle>,
    readonly_rootfs: bool,
    tar: R,
    opts: ExtractOptions,
) -> std::result::Result<(), ExtractError> {
    let d = Dest {
        fs,
        chain: &dest,
        path: dest
            .last()
            .map(|d| d.path.clone())
            .unwrap_or_else(|| PathBuf::from("/")),
        readonly_rootfs,
        opts,
    };
    let mut archive = tar::Archive::new(tar);
    let mut dirs: Vec<DirFinish> = Vec::new();
    for entry in archive.entries().map_err(ExtractError::Read)? {
        let mut entry = entry.map_err(ExtractError::Read)?;
        extract_entry(&d, &mut entry, &mut dirs)?;
    }
    finish_dirs(&d.path, dirs)
}

/// Modes and times of directories last: adding their children changed the mtimes. Newest
/// first, each directory once.
fn finish_dirs(dest_path: &Path, dirs: Vec<DirFinish>) -> std::result::Result<(), ExtractError> {
    let mut seen = HashSet::new();
    for d in dirs.into_iter().rev() {
        let Ok(st) = nix::sys::stat::fstat(d.dir.as_ref()) else {
            continue;
        };
        if !seen.insert((st.st_dev, st.st_ino)) {
            continue;
        }
        let err = |e: Errno| ExtractError::Io {
            path: dest_path.display().to_string(),
            source: errno_io(e),
        };
        nix::sys::stat::fchmod(d.dir.as_ref(), Mode::from_bits_truncate(d.mode)).map_err(err)?;
        let ts = d.mtime.timespec();
        nix::sys::stat::futimens(d.dir.as_ref(), &ts, &ts).map_err(err)?;
    }
    Ok(())
}

pub fn check_writable(
    fs: &ContainerFs,
    mount: Option<usize>,
    readonly_rootfs: bool,
) -> std::result::Result<(), ExtractError> {
    match mount {
        Some(i) if fs.mounts()[i].read_only => Err(ExtractError::ReadOnly(
            "mounted volume is marked read-only".into(),
        )),
        None if readonly_rootfs => Err(ExtractError::ReadOnly(
            "container rootfs is marked read-only".into(),
        )),
        _ => Ok(()),
    }
}

/// Whether a symlink at `entry` (relative to the destination) pointing to `target` stays inside
/// the destination, judged lexically as go-archive does.
fn symlink_stays_inside(entry: &Path, target: &Path) -> bool {
    let dir = entry.parent().unwrap_or(Path::new(""));
    let mut depth: i64 = 0;
    let joined = if target.is_absolute() {
        // filepath.Join(dir, "/x") is dir/x: inside.
        dir.join(target.strip_prefix("/").unwrap_or(target))
    } else {
        dir.join(target)
    };
    for c in joined.components() {
        match c {
            std::path::Component::ParentDir => depth -= 1,
            std::path::Component::Normal(_) => depth += 1,
            _ => {}
        }
        if depth < 0 {
            return false;
        }
    }
    true
}

/// One tar entry: resolves and clears its place, then writes it by kind.
fn extract_entry<R: Read>(
    d: &Dest<'_>,
    entry: &mut tar::Entry<'_, R>,
    dirs: &mut Vec<DirFinish>,
) -> std::result::Result<(), ExtractError> {
    let kind = entry.header().entry_type();
    if matches!(
        kind,
        tar::EntryType::XGlobalHeader | tar::EntryType::XHeader
    ) {
        return Ok(());
    }
    let raw = entry.path_bytes().into_owned();
    let name = String::from_utf8_lossy(&raw).into_owned();
    let outside = || {
        ExtractError::Refused(format!(
            "{name:?} is outside of {:?}",
            d.path.display().to_string()
        ))
    };
    let rel = clean_path(Path::new(OsStr::from_bytes(&raw))).ok_or_else(outside)?;
    let meta = read_meta(entry, &name).map_err(|e| ExtractError::Refused(e.to_string()))?;
    let (uid, gid) = d.opts.owner.unwrap_or((meta.uid, meta.gid));
    let full = d.path.join(&rel);
    let io_err = |e: Errno| ExtractError::Io {
        path: full.display().to_string(),
        source: errno_io(e),
    };

    let Some(file_name) = rel.file_name().map(OsStr::to_os_string) else {
        // The destination itself ("./"): a directory entry sets its owner, mode and times.
        if kind.is_dir() {
            if let Some(dir) = d.chain.last() {
                check_writable(d.fs, dir.mount, d.readonly_rootfs)?;
                nix::unistd::fchown(dir.fd.as_ref(), Some(uid.into()), Some(gid.into()))
                    .map_err(io_err)?;
                dirs.push(DirFinish {
                    dir: Arc::clone(&dir.fd),
                    mode: meta.mode,
                    mtime: meta.mtime,
                });
            }
        }
        return Ok(());
    };
    let parent_rel = rel.parent().unwrap_or(Path::new(""));
    // Parents are created owned like go-archive's (root, or the forced owner).
    let parent_owner = Some(d.opts.owner.unwrap_or((0, 0)));
    let chain =
        d.fs.mkdir_all(d.chain.to_vec(), parent_rel, parent_owner)
            .map_err(io_err)?;
    let parent = chain.last().cloned().ok_or_else(outside)?;
    check_writable(d.fs, parent.mount, d.readonly_rootfs)?;
    let slot = Slot {
        parent: &parent,
        file_name,
        name,
        full: full.clone(),
        uid,
        gid,
    };
    if clear_place(d, &slot, kind.is_dir(), &meta, dirs)? {
        return Ok(());
    }
    match kind {
        tar::EntryType::Directory => write_dir(&slot, &meta, dirs),
        tar::EntryType::Regular | tar::EntryType::Continuous | tar::EntryType::GNUSparse => {
            write_file(&slot, &meta, entry)
        }
        tar::EntryType::Symlink => write_symlink(&slot, &meta, &rel, entry),
        tar::EntryType::Link => write_hardlink(d, &slot, entry),
        tar::EntryType::Char | tar::EntryType::Block | tar::EntryType::Fifo => {
            write_node(&slot, &meta, kind, entry)
        }
        other => {
            tracing::debug!(entry = %slot.name, kind = ?other, "skipping unsupported tar entry type");
            Ok(())
        }
    }
}

/// Makes room for the entry: what stands at its name goes, unless both are directories (the
/// entry merges in). A mount point (a volume's root) is merged into by a directory entry and
/// refused for anything else. True when the entry is done (merged into a mount point).
fn clear_place(
    d: &Dest<'_>,
    slot: &Slot<'_>,
    entry_is_dir: bool,
    meta: &Meta,
    dirs: &mut Vec<DirFinish>,
) -> std::result::Result<bool, ExtractError> {
    let (fd, st, is_mount_root) = match d.fs.child(slot.parent, &slot.file_name) {
        Ok((fd, st, mount)) => (fd, st, mount != slot.parent.mount),
        Err(Errno::ENOENT) => return Ok(false),
        Err(e) => return Err(slot.io_err()(e)),
    };
    let full = slot.full.display().to_string();
    let name = &slot.name;
    let exists_dir = is_dir(&st);
    if d.opts.no_overwrite_dir_non_dir {
        if exists_dir && !entry_is_dir {
            return Err(ExtractError::Refused(format!(
                "cannot overwrite directory {full:?} with non-directory {name:?}"
            )));
        }
        if !exists_dir && entry_is_dir {
            return Err(ExtractError::Refused(format!(
                "cannot overwrite non-directory {full:?} with directory {name:?}"
            )));
        }
    }
    if is_mount_root {
        if !(exists_dir && entry_is_dir) {
            return Err(ExtractError::Refused(format!(
                "cannot replace mount point {full:?}"
            )));
        }
        let at = slot.parent.path.join(&slot.file_name);
        let dir =
            d.fs.enter(slot.parent, &slot.file_name, fd, d.fs.mount_at(&at))
                .map_err(slot.io_err())?;
        check_writable(d.fs, dir.mount, d.readonly_rootfs)?;
        nix::unistd::fchown(
            dir.fd.as_ref(),
            Some(slot.uid.into()),
            Some(slot.gid.into()),
        )
        .map_err(slot.io_err())?;
        dirs.push(DirFinish {
            dir: dir.fd,
            mode: meta.mode,
            mtime: meta.mtime,
        });
        return Ok(true);
    }
    if !(exists_dir && entry_is_dir) {
        remove_all_at(slot.pfd(), &slot.file_name).map_err(slot.io_err())?;
    }
    Ok(false)
}

fn write_dir(
    slot: &Slot<'_>,
    meta: &Meta,
    dirs: &mut Vec<DirFinish>,
) -> std::result::Result<(), ExtractError> {
    let io_err = slot.io_err();
    match nix::sys::stat::mkdirat(
        slot.pfd(),
        slot.file_name.as_os_str(),
        Mode::from_bits_truncate(0o700),
    ) {
        Ok(()) | Err(Errno::EEXIST) => {}
        Err(e) => return Err(io_err(e)),
    }
    let (fd, st) = lookup_at(slot.pfd(), &slot.file_name).map_err(&io_err)?;
    if !is_dir(&st) {
        return Err(io_err(Errno::ENOTDIR));
    }
    let dir = reopen_dir(slot.parent, &slot.file_name, fd).map_err(&io_err)?;
    nix::unistd::fchown(
        dir.fd.as_ref(),
        Some(slot.uid.into()),
        Some(slot.gid.into()),
    )
    .map_err(&io_err)?;
    xattr::set_all_fd(dir.fd.as_ref(), &meta.xattrs, &slot.name);
    dirs.push(DirFinish {
        dir: dir.fd,
        mode: meta.mode,
        mtime: meta.mtime,
    });
    Ok(())
}

fn write_file<R: Read>(
    slot: &Slot<'_>,
    meta: &Meta,
    content: &mut R,
) -> std::result::Result<(), ExtractError> {
    let io_err = slot.io_err();
    let fd = nix::fcntl::openat(
        slot.pfd(),
        slot.file_name.as_os_str(),
        OFlag::O_WRONLY | OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
        Mode::from_bits_truncate(0o600),
    )
    .map_err(&io_err)?;
    let mut f = std::fs::File::from(fd);
    io::copy(content, &mut f).map_err(|e| ExtractError::Io {
        path: slot.full.display().to_string(),
        source: e,
    })?;
    // chown clears setuid/setgid and security.capability: owner, xattrs, then mode.
    nix::unistd::fchown(&f, Some(slot.uid.into()), Some(slot.gid.into())).map_err(&io_err)?;
    xattr::set_all_fd(&f, &meta.xattrs, &slot.name);
    nix::sys::stat::fchmod(&f, Mode::from_bits_truncate(meta.mode)).map_err(&io_err)?;
    let ts = meta.mtime.timespec();
    nix::sys::stat::futimens(&f, &ts, &ts).map_err(&io_err)
}

fn link_target<R: Read>(
    slot: &Slot<'_>,
    entry: &tar::Entry<'_, R>,
    what: &str,
) -> std::result::Result<Vec<u8>, ExtractError> {
    entry
        .link_name_bytes()
        .map(|t| t.into_owned())
        .ok_or_else(|| ExtractError::Refused(format!("{:?}: {what} without a target", slot.name)))
}

fn write_symlink<R: Read>(
    slot: &Slot<'_>,
    meta: &Meta,
    rel: &Path,
    entry: &tar::Entry<'_, R>,
) -> std::result::Result<(), ExtractError> {
    let target = link_target(slot, entry, "symlink")?;
    let target_path = Path::new(OsStr::from_bytes(&target));
    if !symlink_stays_inside(rel, target_path) {
        return Err(ExtractError::Refused(format!(
            "invalid symlink {:?} -> {:?}",
            slot.full.display().to_string(),
            String::from_utf8_lossy(&target)
        )));
    }
    // Stored verbatim: it is only ever resolved inside the container.
    nix::unistd::symlinkat(target_path, slot.pfd(), slot.file_name.as_os_str())
        .map_err(slot.io_err())?;
    slot.chown_at(AtFlags::AT_SYMLINK_NOFOLLOW)?;
    slot.set_times_at(meta.mtime)
}

fn write_hardlink<R: Read>(
    d: &Dest<'_>,
    slot: &Slot<'_>,
    entry: &tar::Entry<'_, R>,
) -> std::result::Result<(), ExtractError> {
    let target = link_target(slot, entry, "hardlink")?;
    let invalid = || {
        ExtractError::Refused(format!(
            "invalid hardlink {:?} -> {:?}",
            slot.full.display().to_string(),
            String::from_utf8_lossy(&target)
        ))
    };
    let target_rel = clean_path(Path::new(OsStr::from_bytes(&target)))
        .filter(|t| t.file_name().is_some())
        .ok_or_else(invalid)?;
    let (Some(tname), Some(tparent)) = (target_rel.file_name(), target_rel.parent()) else {
        return Err(invalid());
    };
    let io_err = slot.io_err();
    let tdir = match d
        .fs
        .resolve_from(d.chain.to_vec(), tparent, true)
        .map_err(&io_err)?
    {
        Resolved {
            target: Target::Dir(t),
            ..
        } => t,
        _ => return Err(io_err(Errno::ENOENT)),
    };
    // linkat without AT_SYMLINK_FOLLOW links a symlink itself, never what it points to.
    nix::unistd::linkat(
        tdir.fd.as_ref(),
        tname,
        slot.pfd(),
        slot.file_name.as_os_str(),
        AtFlags::empty(),
    )
    .map_err(io_err)
}

/// Character and block devices, FIFOs.
fn write_node<R: Read>(
    slot: &Slot<'_>,
    meta: &Meta,
    kind: tar::EntryType,
    entry: &tar::Entry<'_, R>,
) -> std::result::Result<(), ExtractError> {
    let fmt = match kind {
        tar::EntryType::Char => SFlag::S_IFCHR,
        tar::EntryType::Block => SFlag::S_IFBLK,
        _ => SFlag::S_IFIFO,
    };
    let h = entry.header();
    let major = h.device_major().ok().flatten().unwrap_or(0);
    let minor = h.device_minor().ok().flatten().unwrap_or(0);
    let pfd = slot.pfd();
    let name = slot.file_name.as_os_str();
    nix::sys::stat::mknodat(
        pfd,
        name,
        fmt,
        Mode::from_bits_truncate(0o600),
        libc::makedev(major, minor),
    )
    .map_err(slot.io_err())?;
    slot.chown_at(AtFlags::AT_SYMLINK_NOFOLLOW)?;
    let mode = Mode::from_bits_truncate(meta.mode);
    nix::sys::stat::fchmodat(
        pfd,
        name,
        mode,
        nix::sys::stat::FchmodatFlags::NoFollowSymlink,
    )
    .or_else(|e| {
        // Older kernels refuse AT_SYMLINK_NOFOLLOW for chmod; the node is no symlink.
        if e == Errno::ENOTSUP || e == Errno::EOPNOTSUPP {
            let (fd, _) = lookup_at(pfd, name)?;
            let p = format!("/proc/self/fd/{}", fd.as_raw_fd());
            nix::sys::stat::fchmodat(
                nix::fcntl::AT_FDCWD,
                p.as_str(),
                mode,
                nix::sys::stat::FchmodatFlags::FollowSymlink,
            )
        } else {
            Err(e)
        }
    })
    .map_err(slot.io_err())?;
    slot.set_times_at(meta.mtime)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn symlinks_are_judged_lexically_as_go_archive_does() {
        assert!(symlink_stays_inside(Path::new("a/l"), Path::new("../b")));
        assert!(symlink_stays_inside(Path::new("a/l"), Path::new("/etc/x")));
        assert!(!symlink_stays_inside(
            Path::new("a/l"),
            Path::new("../../x")
        ));
    }
}
