//! Extended attributes: read from an fd, set on an fd or a path (never following a symlink).

use std::ffi::{CStr, CString};
use std::fs::File;
use std::io;
use std::os::fd::AsRawFd;
use std::path::Path;

use super::node::{check, cpath};

/// xattrs overlayfs keeps for itself (opaque dirs, redirects, metacopy): never carried in a layer.
pub fn is_overlay_private(key: &str) -> bool {
    key.starts_with("trusted.overlay.") || key.starts_with("user.overlay.")
}

/// The xattrs of a non-symlink inode worth carrying in a tar (not overlayfs' own, not SELinux
/// labels).
pub fn read_fd(fd: &impl AsRawFd) -> Vec<(String, Vec<u8>)> {
    let Ok(path) = CString::new(format!("/proc/self/fd/{}", fd.as_raw_fd())) else {
        return vec![];
    };
    // Through the fd's magic link, so followed: it is the inode we hold.
    read_all(&path, true)
        .into_iter()
        .filter(|(k, _)| !is_overlay_private(k) && k != "security.selinux")
        .collect()
}

/// Every xattr of `path` itself (a symlink is not followed); none when it has none or the
/// filesystem keeps none.
pub fn read_path(path: &Path) -> Vec<(String, Vec<u8>)> {
    match cpath(path) {
        Ok(p) => read_all(&p, false),
        Err(_) => vec![],
    }
}

fn read_all(path: &CStr, follow: bool) -> Vec<(String, Vec<u8>)> {
    // SAFETY: a NUL-terminated path; a null buffer only asks for the size.
    let size = unsafe {
        if follow {
            libc::listxattr(path.as_ptr(), std::ptr::null_mut(), 0)
        } else {
            libc::llistxattr(path.as_ptr(), std::ptr::null_mut(), 0)
        }
    };
    if size <= 0 {
        return vec![];
    }
    let mut names = vec![0u8; size as usize];
    // SAFETY: NUL-terminated path and a buffer of the stated length.
    let n = unsafe {
        if follow {
            libc::listxattr(path.as_ptr(), names.as_mut_ptr().cast(), names.len())
        } else {
            libc::llistxattr(path.as_ptr(), names.as_mut_ptr().cast(), names.len())
        }
    };
    if n <= 0 {
        return vec![];
    }
    names.truncate(n as usize);
    let mut out = Vec::new();
    for name in names.split(|b| *b == 0).filter(|n| !n.is_empty()) {
        let Ok(cname) = CString::new(name) else {
            continue;
        };
        let get = |buf: &mut [u8]| {
            let (ptr, len) = if buf.is_empty() {
                (std::ptr::null_mut(), 0)
            } else {
                (buf.as_mut_ptr().cast(), buf.len())
            };
            // SAFETY: NUL-terminated path and name, and a buffer of the stated length (or a
            // null one for the size).
            unsafe {
                if follow {
                    libc::getxattr(path.as_ptr(), cname.as_ptr(), ptr, len)
                } else {
                    libc::lgetxattr(path.as_ptr(), cname.as_ptr(), ptr, len)
                }
            }
        };
        let size = get(&mut []);
        if size < 0 {
            continue;
        }
        let mut val = vec![0u8; size as usize];
        let n = get(&mut val);
        if n >= 0 {
            val.truncate(n as usize);
            out.push((String::from_utf8_lossy(name).into_owned(), val));
        }
    }
    out
}

/// Sets each xattr on `fd`; as go-archive, a filesystem without xattrs does not fail the copy.
pub fn set_all_fd(fd: &impl AsRawFd, xattrs: &[(String, Vec<u8>)], entry: &str) {
    for (key, value) in xattrs {
        if is_overlay_private(key) {
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

/// Sets one xattr on `file` when given, else on `path` itself (a symlink is not followed).
pub fn set(path: &Path, file: Option<&File>, name: &str, value: &[u8]) -> io::Result<()> {
    let cname = CString::new(name)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "NUL byte in xattr name"))?;
    let rc = match file {
        // SAFETY: valid fd, NUL-terminated name, and a buffer of the stated length.
        Some(f) => unsafe {
            libc::fsetxattr(
                f.as_raw_fd(),
                cname.as_ptr(),
                value.as_ptr().cast(),
                value.len(),
                0,
            )
        },
        None => {
            let cp = cpath(path)?;
            // SAFETY: NUL-terminated path and name, and a buffer of the stated length.
            unsafe {
                libc::lsetxattr(
                    cp.as_ptr(),
                    cname.as_ptr(),
                    value.as_ptr().cast(),
                    value.len(),
                    0,
                )
            }
        }
    };
    check(rc)
}
