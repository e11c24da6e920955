//! Where the engine lives and how the app reaches it.
//!
//! One trait, [`EngineHost`], two implementations: [`NativeHost`] on Linux talks to a `berthd`
//! on this machine (connecting to a running one, or starting one when the app may);
//! [`VmHost`] boots the bundled Linux VM under QEMU and serves its engine on a host socket (the
//! only mode on macOS and Windows, an option on Linux). Settings switch between them at runtime
//! ([`crate::Backend::switch_host`]); nothing else in the app changes.
//!
//! The [`supervisor`] watches whichever host is in use: it pings, follows `/events`, reports
//! `engine-status` changes and reconnects with backoff when the engine goes away.

pub mod choice;
pub mod native;
pub mod supervisor;
pub mod vm;
pub mod vm_config;

use std::path::PathBuf;

use futures_util::future::BoxFuture;
use serde::{Deserialize, Serialize};
use ts_rs::TS;

pub use choice::HostChoice;
pub use native::{NativeConfig, NativeHost};
pub use vm::{VmHost, VmInfo};
pub use vm_config::VmHostConfig;

/// The engine's state as the UI shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "lowercase")]
pub enum EngineState {
    /// Started by the app, not answering yet.
    Starting,
    /// Answers `/_ping`.
    Running,
    /// Nothing listens on the socket.
    Stopped,
    /// Something is wrong; `reason` says what.
    Error,
}

/// `EngineStatus` of the contract.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct EngineStatus {
    pub state: EngineState,
    pub reason: Option<String>,
    /// Where the app looks for the engine, e.g. `unix:///run/berth.sock`.
    pub host: String,
    /// The engine's version (from `/version`) while it runs.
    pub version: Option<String>,
    /// Whether the app may start and stop the engine (root, or pkexec is available).
    pub can_manage: bool,
}

impl EngineStatus {
    pub fn is_running(&self) -> bool {
        self.state == EngineState::Running
    }
}

/// Why starting or stopping the engine failed.
#[derive(Debug, thiserror::Error)]
pub enum HostError {
    #[error("{0}")]
    NotPermitted(String),
    #[error("berthd was not found: {0}")]
    BinaryNotFound(String),
    #[error("{what}: {source}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{0}")]
    Failed(String),
}

impl From<HostError> for crate::error::CommandError {
    fn from(e: HostError) -> Self {
        match e {
            HostError::NotPermitted(m) => crate::error::CommandError::unavailable(m),
            other => crate::error::CommandError::engine(other.to_string()),
        }
    }
}

/// An engine the app can reach through a Docker API socket on this machine.
///
/// Every method returns within a bounded time (probes and waits have timeouts), so callers on the
/// UI path never hang on a missing or stuck engine.
pub trait EngineHost: Send + Sync + 'static {
    /// The Docker API address, `unix:///…`.
    fn host(&self) -> String;
    /// The unix socket the Docker API is served on (what bollard connects to).
    fn socket_path(&self) -> PathBuf;
    /// Whether [`EngineHost::start`]/[`EngineHost::stop`] can work here.
    fn can_manage(&self) -> bool;
    /// The engine's log file when the app started it (for the Troubleshoot view).
    fn log_path(&self) -> Option<PathBuf>;
    /// Probes the engine now.
    fn status(&self) -> BoxFuture<'_, EngineStatus>;
    /// Starts the engine if it is not running; waits (bounded) until it answers.
    fn start(&self) -> BoxFuture<'_, Result<EngineStatus, HostError>>;
    /// Stops the engine; waits (bounded) until it is gone.
    fn stop(&self) -> BoxFuture<'_, Result<EngineStatus, HostError>>;
    /// Stops then starts the engine with the same settings.
    fn restart(&self) -> BoxFuture<'_, Result<EngineStatus, HostError>> {
        Box::pin(async move {
            self.stop().await?;
            self.start().await
        })
    }
    /// Deletes all the engine's data the hard way and starts afresh: only a VM can (its data
    /// disk goes); other hosts refuse.
    fn reset(&self) -> BoxFuture<'_, Result<EngineStatus, HostError>> {
        Box::pin(async {
            Err(HostError::NotPermitted(
                "Only the engine in a VM can be reset this way".into(),
            ))
        })
    }
    /// The VM, when the engine runs in one.
    fn vm_info(&self) -> Option<VmInfo> {
        None
    }
    /// The app quits: stop what the app itself started (an engine it found running is left).
    fn shutdown(&self) -> BoxFuture<'_, ()>;
}
