//! Creating nodes and setting modes and times by path (layer unpacking works on paths it
//! resolved itself; the in-container extractor works on fds, see `extract`).

use std::ffi::CString;
use std::fs::File;
use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::Path;

use super::tar_entry::Timestamp;

pub fn cpath(p: &Path) -> io::Result<CString> {
    CString::new(p.as_os_str().as_bytes())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "NUL byte in path"))
}

pub fn check(rc: libc::c_int) -> io::Result<()> {
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

pub fn mknod(p: &Path, mode: libc::mode_t, dev: libc::dev_t) -> io::Result<()> {
    let cp = cpath(p)?;
    // SAFETY: NUL-terminated path; mknod does not follow a symlink in the last component.
    check(unsafe { libc::mknod(cp.as_ptr(), mode, dev) })
}

pub fn mkdir(p: &Path) -> io::Result<()> {
    // Created private; the final mode is set once the directory is complete.
    std::fs::DirBuilder::new().mode(0o700).create(p)
}

/// chmod on a path known not to be a symlink (we created it, or lstat said so).
pub fn chmod(p: &Path, mode: u32) -> io::Result<()> {
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode))
}

pub fn set_times(p: &Path, file: Option<&File>, t: Timestamp) -> io::Result<()> {
    let ts = libc::timespec {
        tv_sec: t.secs as libc::time_t,
        tv_nsec: t.nanos as _,
    };
    let times = [ts, ts];
    match file {
        // SAFETY: valid fd and an array of two timespecs.
        Some(f) => check(unsafe { libc::futimens(f.as_raw_fd(), times.as_ptr()) }),
        None => {
            let cp = cpath(p)?;
            // SAFETY: NUL-terminated path and an array of two timespecs.
            check(unsafe {
                libc::utimensat(
                    libc::AT_FDCWD,
                    cp.as_ptr(),
                    times.as_ptr(),
                    libc::AT_SYMLINK_NOFOLLOW,
                )
            })
        }
    }
}
