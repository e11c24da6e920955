//! Where the engine lives and how the app reaches it.
//!
//! One trait, [`EngineHost`], one implementation per platform: [`NativeHost`] on Linux talks to
//! a `berthd` on this machine (connecting to a running one, or starting one when the app may).
//! VM backends for macOS and Windows (boot the bundled VM, forward its engine socket to a host
//! socket) implement the same trait later; nothing else in the app changes.
//!
//! The [`supervisor`] watches whichever host is in use: it pings, follows `/events`, reports
//! `engine-status` changes and reconnects with backoff when the engine goes away.

pub mod native;
pub mod supervisor;

use std::path::PathBuf;

use futures_util::future::BoxFuture;
use serde::{Deserialize, Serialize};
use ts_rs::TS;

pub use native::{NativeConfig, NativeHost};

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
    /// The app quits: stop what the app itself started (an engine it found running is left).
    fn shutdown(&self) -> BoxFuture<'_, ()>;
}
