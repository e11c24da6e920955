//! Directory-fd helpers: reopening, listing in Go's order, removing a tree without following
//! links.

use std::ffi::{OsStr, OsString};
use std::io;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::sync::Arc;

use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::sys::stat::Mode;

use super::rootpath::{self, DirHandle};

pub fn reopen_dir(
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
