//! Images: references, content store, snapshots, pulls and docker-archive import/export.

pub mod archive;
pub mod unpack;
