//! A `docker build` context as the docker CLI and dockerd treat it, shared by the engine (which
//! applies `.dockerignore` again and matches `COPY` wildcards), the `berth` CLI and the desktop
//! (which send the context): one reading of the rules for all three.
//!
//! - [`ignore`]: `.dockerignore` patterns and Go's `filepath.Match`.
//! - [`archive`]: the context directory as the tar the client sends.

pub mod archive;
pub mod ignore;

pub use archive::{context_tar, ContextError};
pub use ignore::{Ignore, IgnoreError};
