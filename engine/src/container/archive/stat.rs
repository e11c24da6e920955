//! `HEAD /archive`: a request path's stat in Go's `os.FileMode` terms, and the tar of what it
//! names (`GET /archive`).

use std::io::{self, Write};
use std::path::Path;

use nix::errno::Errno;
use nix::sys::stat::FileStat;
use serde::Serialize;

use crate::error::{EngineError, Result};
use crate::fs::rootpath::{self, clean_abs, is_dir, ContainerFs, Resolved, Target};
use crate::fs::tar_write::Archiver;

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
pub(super) fn request_path(path: &str) -> String {
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
pub(super) fn base_name(abs: &str) -> String {
    if abs.ends_with("/.") {
        return ".".into();
    }
    match Path::new(abs).file_name() {
        Some(n) => n.to_string_lossy().into_owned(),
        None => "/".into(),
    }
}

pub(super) fn not_found(path: &str, container: &str) -> EngineError {
    EngineError::NotFound(format!(
        "Could not find the file {path} in container {container}"
    ))
}

/// Maps a resolution error the way dockerd does: a missing path is 404, the rest its message.
pub(super) fn resolve_error(e: Errno, path: &str, container: &str) -> EngineError {
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

#[cfg(test)]
mod tests {
    use super::*;

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
    }
}
