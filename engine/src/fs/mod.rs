//! Files and trees on the host and inside a container's root: the one home for fd-relative
//! walking, in-root path resolution and the low-level calls (xattrs, device nodes, times) that
//! `docker cp`, `diff`/`export`, layer unpacking and volume copies share.

pub mod rootpath;
