//! Files and trees on the host and inside a container's root: the one home for fd-relative
//! walking, in-root path resolution, tar reading and writing, and the low-level calls (xattrs,
//! device nodes, times) that `docker cp`, `diff`/`export`, layer unpacking, image archives and
//! volume copies share.

pub mod channel;
pub mod extract;
pub mod fd;
pub mod node;
pub mod rootpath;
pub mod tar_entry;
pub mod tar_write;
pub mod xattr;

use std::io;

use nix::errno::Errno;

/// Linux's own limit on symlinks followed while resolving one path.
pub const MAX_SYMLINKS: usize = 40;

pub fn errno_io(e: Errno) -> io::Error {
    io::Error::from_raw_os_error(e as i32)
}

/// A directory whose mode and times are set once everything inside it is written (adding
/// children changes a directory's mtime). `H` is how it is reached again: a path or an fd.
pub struct DirFinish<H> {
    pub dir: H,
    pub mode: u32,
    pub mtime: tar_entry::Timestamp,
}
