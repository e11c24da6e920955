#![recursion_limit = "256"]
//! berthd: a container engine that speaks the Docker Engine API.
//!
//! Layout follows ../shared/DESIGN.md: `api` is HTTP only, each Docker object has its logic in its own
//! module, `store` holds the on-disk metadata helpers and `monitor` is the per-container process that
//! owns a container's stdio and exit code.

pub mod api;
pub mod cgroup;
pub mod container;
pub mod disk_usage;
pub mod engine;
pub mod error;
pub mod events;
pub mod filters;
pub mod fs;
pub mod image;
pub mod monitor;
pub mod network;
pub mod prune;
pub mod signal;
pub mod snapshot;
pub mod store;
pub mod timestamp;
pub mod volume;
