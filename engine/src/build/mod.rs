//! `docker build` with the classic builder: the Dockerfile parser (pure), `.dockerignore`
//! matching, the build context on disk and the step executor. Steps run through the same
//! container, snapshot and image code as `docker run` and `docker commit`.

pub mod cache;
pub mod cache_from;
pub mod context;
pub mod dockerfile;
pub mod download;
pub mod executor;
/// `.dockerignore` and Go globs, shared with the clients that send contexts.
pub use berth_build_context::ignore;
pub mod metadata;
pub mod prune;
pub mod steps;
