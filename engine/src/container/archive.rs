//! `docker cp`: stat, tar and untar paths of a container's filesystem (running or stopped).
//!
//! Everything goes through [`ContainerFs`], which resolves paths as if chrooted into the container
//! and switches into bind mount sources. Reading walks directory fds with `O_NOFOLLOW` opens;
//! writing creates every entry relative to an fd of its resolved parent, so neither a `..` in a
//! tar entry nor a symlink planted by the container can reach outside its root.
//!
//! Semantics follow dockerd's (moby `daemon/archive_unix.go` and go-archive): the archive of a
//! path is rebased on the path's base name; extraction refuses entries and symlinks that leave
//! the destination, keeps the archive's owners unless `copyUIDGID` asks for the container user,
//! and with `noOverwriteDirNonDir` refuses to swap a directory for a file or back.

use std::collections::{HashMap, HashSet};
use std::ffi::{CString, OsStr, OsString};
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::Bytes;
use nix::errno::Errno;
use nix::fcntl::{AtFlags, OFlag};
use nix::sys::stat::{FileStat, Mode, SFlag};
use serde::Serialize;
use tokio::sync::mpsc;

use super::{Container, ContainerService};
use crate::error::{EngineError, Result};
use crate::fs::rootpath::{
    self, clean_abs, is_dir, lookup_at, BindMount, ContainerFs, DirHandle, Resolved, Target,
};
use crate::image::unpack::{self, Timestamp};
use crate::snapshot;

/// `types.ContainerPathStat`, sent base64-encoded in `X-Docker-Container-Path-Stat`.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct PathStat {
    pub name: String,
    pub size: i64,
    /// Go's `os.FileMode` bits, which the CLI decodes.
    pub mode: u32,
    pub mtime: String,
    #[serde(rename = "linkTarget")]
    pub link_target: String,
}

impl PathStat {
    pub fn header_value(&self) -> String {
        use base64::Engine;
        let json = serde_json::to_vec(self).unwrap_or_default();
        base64::engine::general_purpose::STANDARD.encode(json)
    }
}

// Go's os.FileMode type bits.
const GO_MODE_DIR: u32 = 1 << 31;
const GO_MODE_SYMLINK: u32 = 1 << 27;
const GO_MODE_DEVICE: u32 = 1 << 26;
const GO_MODE_NAMED_PIPE: u32 = 1 << 25;
const GO_MODE_SOCKET: u32 = 1 << 24;
const GO_MODE_SETUID: u32 = 1 << 23;
const GO_MODE_SETGID: u32 = 1 << 22;
const GO_MODE_CHAR_DEVICE: u32 = 1 << 21;
const GO_MODE_STICKY: u32 = 1 << 20;

/// A Unix `st_mode` as Go's `os.FileMode` (type bits high, permission bits low).
pub fn go_file_mode(st_mode: u32) -> u32 {
    let mut m = st_mode & 0o777;
    m |= match st_mode & libc::S_IFMT {
        libc::S_IFDIR => GO_MODE_DIR,
        libc::S_IFLNK => GO_MODE_SYMLINK,
        libc::S_IFBLK => GO_MODE_DEVICE,
        libc::S_IFCHR => GO_MODE_DEVICE | GO_MODE_CHAR_DEVICE,
        libc::S_IFIFO => GO_MODE_NAMED_PIPE,
        libc::S_IFSOCK => GO_MODE_SOCKET,
        _ => 0,
    };
    if st_mode & libc::S_ISUID != 0 {
        m |= GO_MODE_SETUID;
    }
    if st_mode & libc::S_ISGID != 0 {
        m |= GO_MODE_SETGID;
    }
    if st_mode & libc::S_ISVTX != 0 {
        m |= GO_MODE_STICKY;
    }
    m
}

fn rfc3339(secs: i64, nanos: i64) -> String {
    crate::timestamp::rfc3339_auto(crate::timestamp::from_unix(
        secs,
        nanos.clamp(0, 999_999_999) as u32,
    ))
}

/// The container path a request names: joined to `/`, keeping Docker's meaningful trailing `/`
/// or `/.` (they ask for the last symlink to be followed, or for a directory's contents).
fn request_path(path: &str) -> String {
    let mut abs = clean_abs(Path::new(&format!("/{path}")))
        .display()
        .to_string();
    if path.ends_with("/.") && abs != "/" {
        abs.push_str("/.");
    } else if path.ends_with('/') && abs != "/" {
        abs.push('/');
    }
    abs
}

/// `filepath.Base` of a request path, as dockerd names the stat and the archive's top entry.
fn base_name(abs: &str) -> String {
    if abs.ends_with("/.") {
        return ".".into();
    }
    match Path::new(abs).file_name() {
        Some(n) => n.to_string_lossy().into_owned(),
        None => "/".into(),
    }
}

fn not_found(path: &str, container: &str) -> EngineError {
    EngineError::NotFound(format!(
        "Could not find the file {path} in container {container}"
    ))
}

/// Maps a resolution error the way dockerd does: a missing path is 404, the rest its message.
fn resolve_error(e: Errno, path: &str, container: &str) -> EngineError {
    match e {
        Errno::ENOENT => not_found(path, container),
        Errno::ENOTDIR => EngineError::invalid(format!("lstat {path}: not a directory")),
        Errno::ELOOP => {
            EngineError::invalid(format!("lstat {path}: too many levels of symbolic links"))
        }
        other => EngineError::internal(format!("lstat {path}: {}", other.desc())),
    }
}

fn target_stat(r: &Resolved) -> std::result::Result<FileStat, Errno> {
    match &r.target {
        Target::Dir(d) => nix::sys::stat::fstat(d.fd.as_ref()),
        Target::Node { stat, .. } => Ok(*stat),
        Target::Missing { .. } => Err(Errno::ENOENT),
    }
}

/// Stat of a request path in the container, as `HEAD /archive` reports it.
pub fn stat_path(fs: &ContainerFs, path: &str, container: &str) -> Result<(PathStat, Resolved)> {
    let abs = request_path(path);
    let r = fs
        .resolve(Path::new(&abs), rootpath::wants_follow(&abs))
        .map_err(|e| resolve_error(e, path, container))?;
    let st = target_stat(&r).map_err(|e| resolve_error(e, path, container))?;
    if rootpath::wants_follow(&abs) && !is_dir(&st) {
        return Err(resolve_error(Errno::ENOTDIR, path, container));
    }
    let link_target = if rootpath::is_symlink(&st) {
        // Fully evaluated inside the container, as far as it exists.
        match fs.resolve(Path::new(&abs), true) {
            Ok(full) => full.path().display().to_string(),
            Err(_) => String::new(),
        }
    } else {
        String::new()
    };
    let stat = PathStat {
        name: base_name(&abs),
        size: st.st_size,
        mode: go_file_mode(st.st_mode),
        mtime: rfc3339(st.st_mtime, st.st_mtime_nsec),
        link_target,
    };
    Ok((stat, r))
}

/// Bytes written by a blocking producer (a tar writer) and read as an HTTP body.
pub struct ChannelWriter {
    tx: mpsc::Sender<io::Result<Bytes>>,
    buf: Vec<u8>,
}

const CHUNK: usize = 128 * 1024;

impl ChannelWriter {
    pub fn new(tx: mpsc::Sender<io::Result<Bytes>>) -> Self {
        ChannelWriter {
            tx,
            buf: Vec::with_capacity(CHUNK),
        }
    }

    fn send(&mut self) -> io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let chunk = Bytes::from(std::mem::replace(&mut self.buf, Vec::with_capacity(CHUNK)));
        // The receiver is gone when the client hung up: stop producing.
        self.tx
            .blocking_send(Ok(chunk))
            .map_err(|_| io::Error::new(io::ErrorKind::BrokenPipe, "client went away"))
    }

    /// Ends the body with an error, so the client sees a cut stream rather than a short tar.
    pub fn fail(self, e: impl std::fmt::Display) {
        let _ = self.tx.blocking_send(Err(io::Error::other(e.to_string())));
    }
}

impl Write for ChannelWriter {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.buf.extend_from_slice(data);
        if self.buf.len() >= CHUNK {
            self.send()?;
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.send()
    }
}

/// A blocking reader over chunks of an HTTP body.
pub struct ChannelReader {
    rx: mpsc::Receiver<io::Result<Bytes>>,
    cur: Bytes,
}

impl ChannelReader {
    pub fn new(rx: mpsc::Receiver<io::Result<Bytes>>) -> Self {
        ChannelReader {
            rx,
            cur: Bytes::new(),
        }
    }
}

impl Read for ChannelReader {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        while self.cur.is_empty() {
            match self.rx.blocking_recv() {
                Some(Ok(b)) => self.cur = b,
                Some(Err(e)) => return Err(e),
                None => return Ok(0),
            }
        }
        let n = out.len().min(self.cur.len());
        out[..n].copy_from_slice(&self.cur[..n]);
        let _ = self.cur.split_to(n);
        Ok(n)
    }
}

/// Writes filesystem objects into a tar stream the way go-archive does: GNU long names, owners
/// and modes as on disk, mtimes in whole seconds, hardlinks detected by inode, xattrs as PAX.
pub struct Archiver<W: Write> {
    tar: tar::Builder<W>,
    links: HashMap<(u64, u64), Vec<u8>>,
}

fn tar_kind(st: &FileStat) -> Option<tar::EntryType> {
    Some(match st.st_mode & libc::S_IFMT {
        libc::S_IFDIR => tar::EntryType::Directory,
        libc::S_IFREG => tar::EntryType::Regular,
        libc::S_IFLNK => tar::EntryType::Symlink,
        libc::S_IFCHR => tar::EntryType::Char,
        libc::S_IFBLK => tar::EntryType::Block,
        libc::S_IFIFO => tar::EntryType::Fifo,
        // Sockets cannot be archived (Go's tar refuses them too).
        _ => return None,
    })
}

/// The xattrs of a non-symlink inode worth carrying (not overlayfs' own, not SELinux labels).
fn read_xattrs(fd: &impl AsRawFd) -> Vec<(String, Vec<u8>)> {
    let Ok(path) = CString::new(format!("/proc/self/fd/{}", fd.as_raw_fd())) else {
        return vec![];
    };
    let mut names = vec![0u8; 4096];
    // SAFETY: NUL-terminated path and a buffer of the stated length.
    let n = unsafe { libc::listxattr(path.as_ptr(), names.as_mut_ptr().cast(), names.len()) };
    if n <= 0 {
        return vec![];
    }
    names.truncate(n as usize);
    let mut out = Vec::new();
    for name in names.split(|b| *b == 0).filter(|n| !n.is_empty()) {
        let key = String::from_utf8_lossy(name).into_owned();
        if unpack::is_overlay_private_xattr(&key) || key == "security.selinux" {
            continue;
        }
        let Ok(cname) = CString::new(name) else {
            continue;
        };
        let mut val = vec![0u8; 64 * 1024];
        // SAFETY: NUL-terminated path and name, and a buffer of the stated length.
        let n = unsafe {
            libc::getxattr(
                path.as_ptr(),
                cname.as_ptr(),
                val.as_mut_ptr().cast(),
                val.len(),
            )
        };
        if n >= 0 {
            val.truncate(n as usize);
            out.push((key, val));
        }
    }
    out
}

fn long_name_entry<W: Write>(tar: &mut tar::Builder<W>, kind: u8, data: &[u8]) -> io::Result<()> {
    let mut h = tar::Header::new_gnu();
    h.as_old_mut().name[..13].copy_from_slice(b"././@LongLink");
    h.set_mode(0o644);
    h.set_uid(0);
    h.set_gid(0);
    h.set_mtime(0);
    h.set_size(data.len() as u64 + 1);
    h.set_entry_type(tar::EntryType::new(kind));
    h.set_cksum();
    tar.append(&h, data.chain(&[0u8][..]))
}

impl<W: Write> Archiver<W> {
    pub fn new(w: W) -> Self {
        Archiver {
            tar: tar::Builder::new(w),
            links: HashMap::new(),
        }
    }

    pub fn finish(self) -> io::Result<W> {
        self.tar.into_inner()
    }

    /// Writes one header with a name of any length (and an optional link target), then `data`.
    /// Names are written byte for byte: `./x` and `/x` mean something to the CLI's rebasing.
    pub fn append_raw(
        &mut self,
        mut h: tar::Header,
        name: &[u8],
        link: Option<&[u8]>,
        data: impl Read,
    ) -> io::Result<()> {
        if name.len() > 100 {
            long_name_entry(&mut self.tar, b'L', name)?;
        }
        let n = name.len().min(100);
        h.as_old_mut().name = [0; 100];
        h.as_old_mut().name[..n].copy_from_slice(&name[..n]);
        if let Some(link) = link {
            if link.len() > 100 {
                long_name_entry(&mut self.tar, b'K', link)?;
            }
            let n = link.len().min(100);
            h.as_old_mut().linkname = [0; 100];
            h.as_old_mut().linkname[..n].copy_from_slice(&link[..n]);
        }
        h.set_cksum();
        self.tar.append(&h, data)
    }

    fn header(st: &FileStat, kind: tar::EntryType) -> tar::Header {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(kind);
        h.set_mode(st.st_mode & 0o7777);
        h.set_uid(st.st_uid as u64);
        h.set_gid(st.st_gid as u64);
        h.set_mtime(st.st_mtime.max(0) as u64);
        h.set_size(0);
        if matches!(kind, tar::EntryType::Char | tar::EntryType::Block) {
            let _ = h.set_device_major(libc::major(st.st_rdev));
            let _ = h.set_device_minor(libc::minor(st.st_rdev));
        }
        h
    }

    /// An empty regular file entry (whiteout markers of a layer).
    pub fn append_marker(&mut self, name: &[u8], st: &FileStat) -> io::Result<()> {
        let mut h = Self::header(st, tar::EntryType::Regular);
        h.set_mode(0o600);
        self.append_raw(h, name, None, io::empty())
    }

    /// Appends one object (not recursing) given an `O_PATH` fd of it and its stat. Regular file
    /// contents are read through a fresh read-only open of that very inode.
    pub fn append_node(&mut self, name: &[u8], fd: &OwnedFd, st: &FileStat) -> io::Result<()> {
        let Some(kind) = tar_kind(st) else {
            tracing::debug!(name = %String::from_utf8_lossy(name), "skipping socket");
            return Ok(());
        };
        let mut name = name.to_vec();
        if kind == tar::EntryType::Directory && !name.ends_with(b"/") {
            name.push(b'/');
        }
        if kind != tar::EntryType::Symlink {
            let xattrs = read_xattrs(fd);
            if !xattrs.is_empty() {
                let keys: Vec<(String, &[u8])> = xattrs
                    .iter()
                    .map(|(k, v)| (format!("SCHILY.xattr.{k}"), v.as_slice()))
                    .collect();
                self.tar
                    .append_pax_extensions(keys.iter().map(|(k, v)| (k.as_str(), *v)))?;
            }
        }
        let mut h = Self::header(st, kind);
        match kind {
            tar::EntryType::Regular => {
                if st.st_nlink > 1 {
                    let key = (st.st_dev, st.st_ino);
                    if let Some(first) = self.links.get(&key).cloned() {
                        h.set_entry_type(tar::EntryType::Link);
                        return self.append_raw(h, &name, Some(&first), io::empty());
                    }
                    self.links.insert(key, name.clone());
                }
                // (No O_NOFOLLOW: the magic link itself is a symlink; it names a regular file.)
                let file = rootpath::reopen(fd, OFlag::O_RDONLY)?;
                let file = std::fs::File::from(file);
                let size = st.st_size.max(0) as u64;
                h.set_size(size);
                // A running container may change the file while we read: the header's size
                // rules, padding with zeros when it shrank.
                let data = file.take(size).chain(io::repeat(0)).take(size);
                self.append_raw(h, &name, None, data)
            }
            tar::EntryType::Symlink => {
                let target = nix::fcntl::readlinkat(fd, "").map_err(errno_io)?;
                self.append_raw(h, &name, Some(target.as_bytes()), io::empty())
            }
            _ => self.append_raw(h, &name, None, io::empty()),
        }
    }

    /// Appends a directory and everything below it. `fs` switches into bind mounts on the way
    /// (None walks the plain tree, as `export` does).
    pub fn append_tree(
        &mut self,
        fs: Option<&ContainerFs>,
        dir: &DirHandle,
        name: &[u8],
    ) -> io::Result<()> {
        let st = nix::sys::stat::fstat(dir.fd.as_ref()).map_err(errno_io)?;
        let pfd = rootpath::reopen(dir.fd.as_ref(), OFlag::O_PATH)?;
        self.append_node(name, &pfd, &st)?;
        self.append_children(fs, dir, name)
    }

    /// Appends what is below a directory, named under `prefix` (bare names when it is empty).
    pub fn append_children(
        &mut self,
        fs: Option<&ContainerFs>,
        dir: &DirHandle,
        name: &[u8],
    ) -> io::Result<()> {
        for child in sorted_names(dir.fd.as_ref())? {
            let mut child_name = name.to_vec();
            if !child_name.is_empty() && !child_name.ends_with(b"/") {
                child_name.push(b'/');
            }
            child_name.extend_from_slice(child.as_bytes());
            let looked = match fs {
                Some(fs) => fs.child(dir, &child),
                None => lookup_at(dir.fd.as_ref(), &child).map(|(fd, st)| (fd, st, None)),
            };
            let (fd, st, mount) = match looked {
                Ok(x) => x,
                // Removed by the running container since we listed it.
                Err(Errno::ENOENT) => continue,
                Err(e) => return Err(errno_io(e)),
            };
            if is_dir(&st) {
                let sub = match fs {
                    Some(fs) => fs.enter(dir, &child, fd, mount),
                    None => reopen_dir(dir, &child, fd),
                }
                .map_err(errno_io)?;
                self.append_tree(fs, &sub, &child_name)?;
            } else {
                self.append_node(&child_name, &fd, &st)?;
            }
        }
        Ok(())
    }
}

pub(crate) fn reopen_dir(
    parent: &DirHandle,
    name: &OsStr,
    fd: OwnedFd,
) -> std::result::Result<DirHandle, Errno> {
    let d = rootpath::reopen(&fd, OFlag::O_RDONLY | OFlag::O_DIRECTORY)
        .map_err(|e| Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO)))?;
    Ok(DirHandle {
        fd: Arc::new(d),
        path: parent.path.join(name),
        mount: parent.mount,
    })
}

pub(crate) fn errno_io(e: Errno) -> io::Error {
    io::Error::from_raw_os_error(e as i32)
}

/// Entry names of a directory, sorted bytewise (the order Go's walk and dockerd's tars use).
pub fn sorted_names(dir: &impl AsFd) -> io::Result<Vec<OsString>> {
    // Listed through the fd's magic link: the very directory we hold, wherever it is now.
    let p = format!("/proc/self/fd/{}", dir.as_fd().as_raw_fd());
    let mut names = Vec::new();
    for e in std::fs::read_dir(p)? {
        names.push(e?.file_name());
    }
    names.sort_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
    Ok(names)
}

/// Writes the tar of a resolved request path: a directory with its tree under the request's
/// base name (`/` itself as `/`-rooted names), anything else as one entry.
pub fn write_path_tar<W: Write>(
    fs: &ContainerFs,
    resolved: &Resolved,
    request: &str,
    out: W,
) -> io::Result<W> {
    let abs = request_path(request);
    let base = base_name(&abs);
    let mut a = Archiver::new(out);
    match &resolved.target {
        Target::Dir(d) => {
            let name: &[u8] = if base == "/" { b"/" } else { base.as_bytes() };
            a.append_tree(Some(fs), d, name)?;
        }
        Target::Node { fd, stat, .. } => a.append_node(base.as_bytes(), fd, stat)?,
        Target::Missing { .. } => return Err(io::Error::from_raw_os_error(libc::ENOENT)),
    }
    a.finish()
}

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

struct DirFinish {
    fd: Arc<OwnedFd>,
    mode: u32,
    mtime: Timestamp,
}

/// Extracts a tar stream into the directory `dest` (the chain from the root to it).
pub fn extract<R: Read>(
    fs: &ContainerFs,
    dest: Vec<DirHandle>,
    readonly_rootfs: bool,
    tar: R,
    opts: ExtractOptions,
) -> std::result::Result<(), ExtractError> {
    let dest_path = dest
        .last()
        .map(|d| d.path.clone())
        .unwrap_or_else(|| PathBuf::from("/"));
    let mut archive = tar::Archive::new(tar);
    let mut dirs: Vec<DirFinish> = Vec::new();
    for entry in archive.entries().map_err(ExtractError::Read)? {
        let mut entry = entry.map_err(ExtractError::Read)?;
        extract_entry(
            fs,
            &dest,
            &dest_path,
            readonly_rootfs,
            &mut entry,
            opts,
            &mut dirs,
        )?;
    }
    // Modes and times of directories last: adding their children changed the mtimes.
    let mut seen = HashSet::new();
    for d in dirs.into_iter().rev() {
        let Ok(st) = nix::sys::stat::fstat(d.fd.as_ref()) else {
            continue;
        };
        if !seen.insert((st.st_dev, st.st_ino)) {
            continue;
        }
        let err = |e: Errno| ExtractError::Io {
            path: dest_path.display().to_string(),
            source: errno_io(e),
        };
        nix::sys::stat::fchmod(d.fd.as_ref(), Mode::from_bits_truncate(d.mode)).map_err(err)?;
        let ts = timespec(d.mtime);
        nix::sys::stat::futimens(d.fd.as_ref(), &ts, &ts).map_err(err)?;
    }
    Ok(())
}

fn timespec(t: Timestamp) -> nix::sys::time::TimeSpec {
    nix::sys::time::TimeSpec::new(t.secs as _, t.nanos as _)
}

fn check_writable(
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

#[allow(clippy::too_many_arguments)]
fn extract_entry<R: Read>(
    fs: &ContainerFs,
    dest: &[DirHandle],
    dest_path: &Path,
    readonly_rootfs: bool,
    entry: &mut tar::Entry<'_, R>,
    opts: ExtractOptions,
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
            dest_path.display().to_string()
        ))
    };
    let rel = unpack::clean_path(Path::new(OsStr::from_bytes(&raw))).ok_or_else(outside)?;
    let meta = unpack::read_meta(entry, &name).map_err(|e| ExtractError::Refused(e.to_string()))?;
    let (uid, gid) = opts.owner.unwrap_or((meta.uid, meta.gid));
    let full = dest_path.join(&rel);
    let io_err = |e: Errno| ExtractError::Io {
        path: full.display().to_string(),
        source: errno_io(e),
    };

    let Some(file_name) = rel.file_name().map(OsStr::to_os_string) else {
        // The destination itself ("./"): a directory entry sets its owner, mode and times.
        if kind.is_dir() {
            if let Some(d) = dest.last() {
                check_writable(fs, d.mount, readonly_rootfs)?;
                nix::unistd::fchown(d.fd.as_ref(), Some(uid.into()), Some(gid.into()))
                    .map_err(io_err)?;
                dirs.push(DirFinish {
                    fd: Arc::clone(&d.fd),
                    mode: meta.mode,
                    mtime: meta.mtime,
                });
            }
        }
        return Ok(());
    };
    let parent_rel = rel.parent().unwrap_or(Path::new(""));
    // Parents are created owned like go-archive's (root, or the forced owner).
    let parent_owner = Some(opts.owner.unwrap_or((0, 0)));
    let chain = fs
        .mkdir_all(dest.to_vec(), parent_rel, parent_owner)
        .map_err(io_err)?;
    let parent = chain.last().cloned().ok_or_else(outside)?;
    check_writable(fs, parent.mount, readonly_rootfs)?;
    let pfd = parent.fd.as_ref();

    let existing = match fs.child(&parent, &file_name) {
        Ok((fd, st, mount)) => Some((fd, st, mount != parent.mount)),
        Err(Errno::ENOENT) => None,
        Err(e) => return Err(io_err(e)),
    };
    if let Some((fd, st, is_mount_root)) = existing {
        let exists_dir = is_dir(&st);
        if opts.no_overwrite_dir_non_dir {
            if exists_dir && !kind.is_dir() {
                return Err(ExtractError::Refused(format!(
                    "cannot overwrite directory {:?} with non-directory {name:?}",
                    full.display().to_string()
                )));
            }
            if !exists_dir && kind.is_dir() {
                return Err(ExtractError::Refused(format!(
                    "cannot overwrite non-directory {:?} with directory {name:?}",
                    full.display().to_string()
                )));
            }
        }
        if is_mount_root {
            // A volume's root is merged into; anything else there cannot be replaced.
            if exists_dir && kind.is_dir() {
                let d = fs
                    .enter(
                        &parent,
                        &file_name,
                        fd,
                        fs.mount_at(&parent.path.join(&file_name)),
                    )
                    .map_err(io_err)?;
                check_writable(fs, d.mount, readonly_rootfs)?;
                nix::unistd::fchown(d.fd.as_ref(), Some(uid.into()), Some(gid.into()))
                    .map_err(io_err)?;
                dirs.push(DirFinish {
                    fd: d.fd,
                    mode: meta.mode,
                    mtime: meta.mtime,
                });
                return Ok(());
            }
            return Err(ExtractError::Refused(format!(
                "cannot replace mount point {:?}",
                full.display().to_string()
            )));
        }
        if !(exists_dir && kind.is_dir()) {
            remove_all_at(pfd, &file_name).map_err(io_err)?;
        }
    }

    let own = |flags: AtFlags| {
        nix::unistd::fchownat(
            pfd,
            file_name.as_os_str(),
            Some(uid.into()),
            Some(gid.into()),
            flags,
        )
        .map_err(io_err)
    };
    let times = |t: Timestamp| {
        let ts = timespec(t);
        nix::sys::stat::utimensat(
            pfd,
            file_name.as_os_str(),
            &ts,
            &ts,
            nix::sys::stat::UtimensatFlags::NoFollowSymlink,
        )
        .map_err(io_err)
    };
    match kind {
        tar::EntryType::Directory => {
            match nix::sys::stat::mkdirat(
                pfd,
                file_name.as_os_str(),
                Mode::from_bits_truncate(0o700),
            ) {
                Ok(()) | Err(Errno::EEXIST) => {}
                Err(e) => return Err(io_err(e)),
            }
            let (fd, st) = lookup_at(pfd, &file_name).map_err(io_err)?;
            if !is_dir(&st) {
                return Err(io_err(Errno::ENOTDIR));
            }
            let d = reopen_dir(&parent, &file_name, fd).map_err(io_err)?;
            nix::unistd::fchown(d.fd.as_ref(), Some(uid.into()), Some(gid.into()))
                .map_err(io_err)?;
            set_xattrs_fd(d.fd.as_ref(), &meta.xattrs, &name);
            dirs.push(DirFinish {
                fd: d.fd,
                mode: meta.mode,
                mtime: meta.mtime,
            });
        }
        tar::EntryType::Regular | tar::EntryType::Continuous | tar::EntryType::GNUSparse => {
            let fd = nix::fcntl::openat(
                pfd,
                file_name.as_os_str(),
                OFlag::O_WRONLY
                    | OFlag::O_CREAT
                    | OFlag::O_EXCL
                    | OFlag::O_NOFOLLOW
                    | OFlag::O_CLOEXEC,
                Mode::from_bits_truncate(0o600),
            )
            .map_err(io_err)?;
            let mut f = std::fs::File::from(fd);
            io::copy(entry, &mut f).map_err(|e| ExtractError::Io {
                path: full.display().to_string(),
                source: e,
            })?;
            // chown clears setuid/setgid and security.capability: owner, xattrs, then mode.
            nix::unistd::fchown(&f, Some(uid.into()), Some(gid.into())).map_err(io_err)?;
            set_xattrs_fd(&f, &meta.xattrs, &name);
            nix::sys::stat::fchmod(&f, Mode::from_bits_truncate(meta.mode)).map_err(io_err)?;
            let ts = timespec(meta.mtime);
            nix::sys::stat::futimens(&f, &ts, &ts).map_err(io_err)?;
        }
        tar::EntryType::Symlink => {
            let target = entry
                .link_name_bytes()
                .map(|t| t.into_owned())
                .ok_or_else(|| {
                    ExtractError::Refused(format!("{name:?}: symlink without a target"))
                })?;
            let target_path = Path::new(OsStr::from_bytes(&target));
            if !symlink_stays_inside(&rel, target_path) {
                return Err(ExtractError::Refused(format!(
                    "invalid symlink {:?} -> {:?}",
                    full.display().to_string(),
                    String::from_utf8_lossy(&target)
                )));
            }
            // Stored verbatim: it is only ever resolved inside the container.
            nix::unistd::symlinkat(target_path, pfd, file_name.as_os_str()).map_err(io_err)?;
            own(AtFlags::AT_SYMLINK_NOFOLLOW)?;
            times(meta.mtime)?;
        }
        tar::EntryType::Link => {
            let target = entry
                .link_name_bytes()
                .map(|t| t.into_owned())
                .ok_or_else(|| {
                    ExtractError::Refused(format!("{name:?}: hardlink without a target"))
                })?;
            let invalid = || {
                ExtractError::Refused(format!(
                    "invalid hardlink {:?} -> {:?}",
                    full.display().to_string(),
                    String::from_utf8_lossy(&target)
                ))
            };
            let target_rel = unpack::clean_path(Path::new(OsStr::from_bytes(&target)))
                .filter(|t| t.file_name().is_some())
                .ok_or_else(invalid)?;
            let (Some(tname), Some(tparent)) = (target_rel.file_name(), target_rel.parent()) else {
                return Err(invalid());
            };
            let tdir = match fs
                .resolve_from(dest.to_vec(), tparent, true)
                .map_err(io_err)?
            {
                Resolved {
                    target: Target::Dir(d),
                    ..
                } => d,
                _ => return Err(io_err(Errno::ENOENT)),
            };
            // linkat without AT_SYMLINK_FOLLOW links a symlink itself, never what it points to.
            nix::unistd::linkat(
                tdir.fd.as_ref(),
                tname,
                pfd,
                file_name.as_os_str(),
                AtFlags::empty(),
            )
            .map_err(io_err)?;
        }
        tar::EntryType::Char | tar::EntryType::Block | tar::EntryType::Fifo => {
            let fmt = match kind {
                tar::EntryType::Char => SFlag::S_IFCHR,
                tar::EntryType::Block => SFlag::S_IFBLK,
                _ => SFlag::S_IFIFO,
            };
            let h = entry.header();
            let major = h.device_major().ok().flatten().unwrap_or(0);
            let minor = h.device_minor().ok().flatten().unwrap_or(0);
            nix::sys::stat::mknodat(
                pfd,
                file_name.as_os_str(),
                fmt,
                Mode::from_bits_truncate(0o600),
                libc::makedev(major, minor),
            )
            .map_err(io_err)?;
            own(AtFlags::AT_SYMLINK_NOFOLLOW)?;
            nix::sys::stat::fchmodat(
                pfd,
                file_name.as_os_str(),
                Mode::from_bits_truncate(meta.mode),
                nix::sys::stat::FchmodatFlags::NoFollowSymlink,
            )
            .or_else(|e| {
                // Older kernels refuse AT_SYMLINK_NOFOLLOW for chmod; the node is no symlink.
                if e == Errno::ENOTSUP || e == Errno::EOPNOTSUPP {
                    let (fd, _) = lookup_at(pfd, &file_name)?;
                    let p = format!("/proc/self/fd/{}", fd.as_raw_fd());
                    nix::sys::stat::fchmodat(
                        nix::fcntl::AT_FDCWD,
                        p.as_str(),
                        Mode::from_bits_truncate(meta.mode),
                        nix::sys::stat::FchmodatFlags::FollowSymlink,
                    )
                } else {
                    Err(e)
                }
            })
            .map_err(io_err)?;
            times(meta.mtime)?;
        }
        other => {
            tracing::debug!(entry = %name, kind = ?other, "skipping unsupported tar entry type");
        }
    }
    Ok(())
}

fn set_xattrs_fd(fd: &impl AsRawFd, xattrs: &[(String, Vec<u8>)], entry: &str) {
    for (key, value) in xattrs {
        if unpack::is_overlay_private_xattr(key) {
            continue;
        }
        let Ok(cname) = CString::new(key.as_str()) else {
            continue;
        };
        // SAFETY: valid fd, NUL-terminated name, and a buffer of the stated length.
        let rc = unsafe {
            libc::fsetxattr(
                fd.as_raw_fd(),
                cname.as_ptr(),
                value.as_ptr().cast(),
                value.len(),
                0,
            )
        };
        if rc != 0 {
            // As go-archive: a filesystem without xattrs does not fail the copy.
            tracing::warn!(entry, xattr = %key, error = %io::Error::last_os_error(), "xattr not applied");
        }
    }
}

/// Removes `name` in `dir` and, for a directory, everything below it, without following links.
pub fn remove_all_at(dir: &impl AsFd, name: &OsStr) -> std::result::Result<(), Errno> {
    use nix::unistd::{unlinkat, UnlinkatFlags};
    match unlinkat(dir, name, UnlinkatFlags::NoRemoveDir) {
        Ok(()) => return Ok(()),
        Err(Errno::EISDIR) | Err(Errno::EPERM) => {}
        Err(e) => return Err(e),
    }
    let sub = nix::fcntl::openat(
        dir,
        name,
        OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
        Mode::empty(),
    )?;
    for child in
        sorted_names(&sub).map_err(|e| Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO)))?
    {
        remove_all_at(&sub, &child)?;
    }
    unlinkat(dir, name, UnlinkatFlags::RemoveDir)
}

/// A small text file of the container (passwd, group), read through the in-root resolver;
/// empty when missing or not a regular file.
fn read_small_file(fs: &ContainerFs, path: &str) -> String {
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
        use super::mounts::MountKind;
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

    /// `HEAD /containers/{id}/archive`.
    pub async fn stat_path(&self, c: &Arc<Container>, name: &str, path: &str) -> Result<PathStat> {
        let _op = c.op.lock().await;
        let session = self.open_fs(c, true).await?;
        let (path, name) = (path.to_string(), name.to_string());
        tokio::task::spawn_blocking(move || stat_path(&session.fs, &path, &name).map(|(s, _)| s))
            .await
            .map_err(|e| EngineError::internal(format!("stat task: {e}")))?
    }

    /// `GET /containers/{id}/archive`: the stat at once, the tar as a stream. The container
    /// stays locked (and a stopped one mounted) until the stream ends.
    pub async fn archive_path(
        self: &Arc<Self>,
        c: &Arc<Container>,
        name: &str,
        path: &str,
    ) -> Result<(PathStat, mpsc::Receiver<io::Result<Bytes>>)> {
        let (ready_tx, ready_rx) = tokio::sync::oneshot::channel::<Result<PathStat>>();
        let (tx, rx) = mpsc::channel(8);
        let (svc, c2) = (Arc::clone(self), Arc::clone(c));
        let shown = path.to_string();
        let (path, name) = (path.to_string(), name.to_string());
        tokio::spawn(async move {
            let _op = c2.op.lock().await;
            let session = match svc.open_fs(&c2, true).await {
                Ok(s) => s,
                Err(e) => {
                    let _ = ready_tx.send(Err(e));
                    return;
                }
            };
            let job = tokio::task::spawn_blocking(move || {
                let resolved = match stat_path(&session.fs, &path, &name) {
                    Ok((stat, r)) => {
                        let _ = ready_tx.send(Ok(stat));
                        r
                    }
                    Err(e) => {
                        let _ = ready_tx.send(Err(e));
                        return;
                    }
                };
                let out = ChannelWriter::new(tx.clone());
                match write_path_tar(&session.fs, &resolved, &path, out) {
                    Ok(mut w) => {
                        let _ = w.flush();
                    }
                    Err(e) => {
                        tracing::warn!(path, error = %e, "archive of a container path cut short");
                        ChannelWriter::new(tx).fail(e);
                    }
                }
            });
            let _ = job.await;
        });
        let stat = ready_rx
            .await
            .map_err(|_| EngineError::internal("archive task ended early"))??;
        self.emit(c, "archive-path", &[("path", shown)]);
        Ok((stat, rx))
    }

    /// `PUT /containers/{id}/archive`: extracts a (plain or gzip) tar into a directory.
    pub async fn extract_to_dir(
        &self,
        c: &Arc<Container>,
        name: &str,
        path: &str,
        copy_uid_gid: bool,
        no_overwrite_dir_non_dir: bool,
        body: Box<dyn Read + Send>,
    ) -> Result<()> {
        let _op = c.op.lock().await;
        let session = self.open_fs(c, true).await?;
        let (user, readonly_rootfs) = {
            let d = c.lock();
            (d.rec.config.user.clone(), d.rec.host_config.readonly_rootfs)
        };
        // With -a, dockerd gives the files to the container's user when it has one.
        let owner = if copy_uid_gid && !user.is_empty() {
            let passwd = read_small_file(&session.fs, "/etc/passwd");
            let group = read_small_file(&session.fs, "/etc/group");
            let u = super::user::resolve_in(&passwd, &group, &user)?;
            Some((u.uid, u.gid))
        } else {
            None
        };
        let shown = path.to_string();
        let (path, name) = (path.to_string(), name.to_string());
        tokio::task::spawn_blocking(move || -> Result<()> {
            let fs = &session.fs;
            let abs = request_path(&path);
            // The destination is followed to the end: extracting "into a symlink to a dir" works.
            let r = fs
                .resolve(Path::new(&abs), true)
                .map_err(|e| resolve_error(e, &path, &name))?;
            let Resolved {
                mut parents,
                target,
            } = r;
            let dir = match target {
                Target::Dir(d) => d,
                Target::Node { .. } => {
                    return Err(EngineError::invalid("extraction point is not a directory"))
                }
                Target::Missing { .. } => return Err(not_found(&path, &name)),
            };
            check_writable(fs, dir.mount, readonly_rootfs)?;
            parents.push(dir);
            let input = unpack::decompress(body)
                .map_err(|e| EngineError::invalid(format!("reading archive: {e}")))?;
            extract(
                fs,
                parents,
                readonly_rootfs,
                input,
                ExtractOptions {
                    no_overwrite_dir_non_dir,
                    owner,
                },
            )?;
            Ok(())
        })
        .await
        .map_err(|e| EngineError::internal(format!("extract task: {e}")))??;
        self.emit(c, "extract-to-dir", &[("path", shown)]);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::{symlink, MetadataExt, PermissionsExt};

    #[test]
    fn file_modes_use_go_bits() {
        assert_eq!(go_file_mode(libc::S_IFREG | 0o644), 0o644);
        assert_eq!(go_file_mode(libc::S_IFDIR | 0o755), (1 << 31) | 0o755);
        assert_eq!(go_file_mode(libc::S_IFLNK | 0o777), (1 << 27) | 0o777);
        assert_eq!(
            go_file_mode(libc::S_IFREG | libc::S_ISUID | 0o755),
            (1 << 23) | 0o755
        );
        assert_eq!(
            go_file_mode(libc::S_IFDIR | libc::S_ISVTX | 0o777),
            (1 << 31) | (1 << 20) | 0o777
        );
        assert_eq!(
            go_file_mode(libc::S_IFCHR | 0o666),
            (1 << 26) | (1 << 21) | 0o666
        );
        assert_eq!(go_file_mode(libc::S_IFIFO | 0o600), (1 << 25) | 0o600);
    }

    #[test]
    fn request_paths_and_names() {
        assert_eq!(request_path("etc/../etc/passwd"), "/etc/passwd");
        assert_eq!(request_path("/../../x/"), "/x/");
        assert_eq!(request_path("/d/."), "/d/.");
        assert_eq!(base_name("/d/."), ".");
        assert_eq!(base_name("/x/"), "x");
        assert_eq!(base_name("/"), "/");
        assert!(symlink_stays_inside(Path::new("a/l"), Path::new("../b")));
        assert!(symlink_stays_inside(Path::new("a/l"), Path::new("/etc/x")));
        assert!(!symlink_stays_inside(
            Path::new("a/l"),
            Path::new("../../x")
        ));
    }

    fn fs_of(root: &Path) -> ContainerFs {
        ContainerFs::open(rootpath::open_host_dir(root).unwrap(), vec![]).unwrap()
    }

    fn raw_tar(entries: &[(&str, tar::EntryType, &[u8], Option<&str>)]) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        for (name, kind, data, link) in entries {
            let mut h = tar::Header::new_gnu();
            h.set_entry_type(*kind);
            h.set_mode(0o644);
            h.set_uid(0);
            h.set_gid(0);
            h.set_size(data.len() as u64);
            h.set_mtime(1_600_000_000);
            h.as_old_mut().name[..name.len()].copy_from_slice(name.as_bytes());
            if let Some(l) = link {
                h.as_old_mut().linkname[..l.len()].copy_from_slice(l.as_bytes());
            }
            h.set_cksum();
            b.append(&h, *data).unwrap();
        }
        b.into_inner().unwrap()
    }

    fn extract_into(
        fs: &ContainerFs,
        dir: &str,
        tar: &[u8],
    ) -> std::result::Result<(), ExtractError> {
        let r = fs.resolve(Path::new(dir), true).unwrap();
        let Resolved {
            mut parents,
            target,
        } = r;
        let Target::Dir(d) = target else { panic!() };
        parents.push(d);
        extract(fs, parents, false, tar, ExtractOptions::default())
    }

    #[test]
    fn extraction_cannot_leave_the_root() {
        let t = tempfile::tempdir().unwrap();
        let root = t.path().join("root");
        std::fs::create_dir_all(root.join("dst")).unwrap();
        std::fs::create_dir_all(root.join("etc")).unwrap();
        symlink("/", root.join("dst/to-root")).unwrap();
        symlink("../../../..", root.join("dst/up")).unwrap();
        let fs = fs_of(&root);
        use tar::EntryType as E;
        // `..` out of the destination.
        let err = extract_into(
            &fs,
            "/dst",
            &raw_tar(&[("../../evil", E::Regular, b"x", None)]),
        )
        .unwrap_err();
        assert!(err.to_string().contains("outside of"), "{err}");
        // Through symlinks planted in the container: lands inside the root.
        extract_into(
            &fs,
            "/dst",
            &raw_tar(&[
                ("up/escaped-rel", E::Regular, b"1", None),
                ("to-root/escaped-abs", E::Regular, b"2", None),
            ]),
        )
        .unwrap();
        assert!(root.join("escaped-rel").exists());
        assert!(root.join("escaped-abs").exists());
        assert!(!t.path().join("escaped-rel").exists());
        // A symlink entry climbing out is refused; a hardlink to a host file is impossible.
        let err = extract_into(
            &fs,
            "/dst",
            &raw_tar(&[("l", E::Symlink, b"", Some("../../x"))]),
        )
        .unwrap_err();
        assert!(err.to_string().contains("invalid symlink"), "{err}");
        std::fs::write(t.path().join("host-secret"), "s").unwrap();
        let err = extract_into(
            &fs,
            "/dst",
            &raw_tar(&[("h", E::Link, b"", Some("../../host-secret"))]),
        )
        .unwrap_err();
        assert!(err.to_string().contains("invalid hardlink"), "{err}");
        let err = extract_into(
            &fs,
            "/dst",
            &raw_tar(&[("h", E::Link, b"", Some("up/host-secret"))]),
        )
        .unwrap_err();
        assert!(matches!(err, ExtractError::Io { .. }), "{err}");
        assert_eq!(
            std::fs::metadata(t.path().join("host-secret"))
                .unwrap()
                .nlink(),
            1
        );
        // A symlink entry then a file through it: still inside.
        extract_into(
            &fs,
            "/dst",
            &raw_tar(&[
                ("etc-link", E::Symlink, b"", Some("/etc")),
                ("etc-link/written", E::Regular, b"in", None),
            ]),
        )
        .unwrap();
        assert_eq!(std::fs::read(root.join("etc/written")).unwrap(), b"in");
    }

    #[test]
    fn extraction_replaces_and_refuses_like_dockerd() {
        let t = tempfile::tempdir().unwrap();
        let root = t.path().to_path_buf();
        std::fs::create_dir_all(root.join("d/sub")).unwrap();
        std::fs::write(root.join("d/sub/f"), "old").unwrap();
        let fs = fs_of(&root);
        use tar::EntryType as E;
        let tar = raw_tar(&[("sub", E::Regular, b"now a file", None)]);
        let r = fs.resolve(Path::new("/d"), true).unwrap();
        let Resolved {
            mut parents,
            target,
        } = r;
        let Target::Dir(d) = target else { panic!() };
        parents.push(d);
        let err = extract(
            &fs,
            parents.clone(),
            false,
            &tar[..],
            ExtractOptions {
                no_overwrite_dir_non_dir: true,
                owner: None,
            },
        )
        .unwrap_err();
        assert!(
            err.to_string().contains("cannot overwrite directory"),
            "{err}"
        );
        extract(&fs, parents, false, &tar[..], ExtractOptions::default()).unwrap();
        assert_eq!(std::fs::read(root.join("d/sub")).unwrap(), b"now a file");
    }

    #[test]
    fn tar_round_trip_keeps_modes_owners_links() {
        let t = tempfile::tempdir().unwrap();
        let src = t.path().join("src");
        std::fs::create_dir_all(src.join("dir/sub")).unwrap();
        std::fs::write(src.join("dir/sub/suid"), "x").unwrap();
        std::os::unix::fs::lchown(src.join("dir/sub/suid"), Some(1234), Some(5678)).unwrap();
        std::fs::set_permissions(
            src.join("dir/sub/suid"),
            std::fs::Permissions::from_mode(0o4755),
        )
        .unwrap();
        std::fs::set_permissions(src.join("dir/sub"), std::fs::Permissions::from_mode(0o750))
            .unwrap();
        symlink("sub/suid", src.join("dir/link")).unwrap();
        std::fs::hard_link(src.join("dir/sub/suid"), src.join("dir/hard")).unwrap();
        let long = "n".repeat(150);
        std::fs::write(src.join("dir").join(&long), "long").unwrap();
        let fs = fs_of(&src);
        let (stat, r) = stat_path(&fs, "/dir", "c").unwrap();
        assert_eq!(stat.name, "dir");
        assert_eq!(stat.mode & (1 << 31), 1 << 31);
        let tar = write_path_tar(&fs, &r, "/dir", Vec::new()).unwrap();
        let dst = t.path().join("dst");
        std::fs::create_dir_all(&dst).unwrap();
        let dfs = fs_of(&dst);
        extract_into(&dfs, "/", &tar).unwrap();
        let m = std::fs::symlink_metadata(dst.join("dir/sub/suid")).unwrap();
        assert_eq!(m.mode() & 0o7777, 0o4755);
        assert_eq!((m.uid(), m.gid()), (1234, 5678));
        assert_eq!(
            std::fs::metadata(dst.join("dir/sub")).unwrap().mode() & 0o7777,
            0o750
        );
        assert_eq!(
            std::fs::read_link(dst.join("dir/link")).unwrap(),
            PathBuf::from("sub/suid")
        );
        assert_eq!(
            std::fs::metadata(dst.join("dir/hard")).unwrap().ino(),
            m.ino()
        );
        assert_eq!(std::fs::read(dst.join("dir").join(&long)).unwrap(), b"long");
        // A missing path is Docker's 404.
        let err = stat_path(&fs, "/nope", "c").unwrap_err();
        assert_eq!(
            err.to_string(),
            "Could not find the file /nope in container c"
        );
    }
}
