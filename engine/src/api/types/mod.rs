//! Docker Engine API JSON types, named as in moby's `api/swagger.yaml`.
//!
//! Request bodies are lenient like dockerd's Go decoder: unknown fields are accepted (newer clients send
//! fields older daemons ignore). Fields the engine does not act on yet are kept in `extra` maps so that
//! `inspect` echoes back what the client sent.

pub mod container;
pub mod image;
pub mod network;
pub mod resources;
pub mod stats;
pub mod system;
pub mod volume;

pub use container::*;
pub use image::*;
pub use resources::*;
pub use system::*;
pub use volume::*;
