#![recursion_limit = "256"]
//! berthd: a container engine that speaks the Docker Engine API.
//!
//! Layout (docs/architecture.md has the module map): `api` is HTTP only, each Docker object has its
//! logic in its own module, shared helpers (times, signals, files, cgroups, snapshots) have modules
//! of their own, `store` holds the on-disk metadata helpers and `monitor` is the per-container
//! process that owns a container's stdio and exit code.
//!
//! Only what `berthd`'s `main` needs is public, so that the compiler reports dead code.

mod api;
mod build;
mod cgroup;
mod container;
mod disk_usage;
mod engine;
mod error;
mod events;
mod filters;
mod fs;
mod image;
mod monitor;
mod network;
mod prune;
mod signal;
mod snapshot;
mod store;
mod timestamp;
mod volume;

pub use api::server::{bind, serve_on};
pub use engine::{Engine, NetworkOptions, Options};
pub use monitor::run_monitor;
