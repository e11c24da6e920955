//! The monitor's error type: every failure names what the monitor was doing.

use std::io;
use std::path::Path;

#[derive(Debug, thiserror::Error)]
pub enum MonitorError {
    /// A system call or file operation failed.
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: io::Error,
    },
    /// The monitor config file could not be parsed.
    #[error("parsing monitor config {path}: {source}")]
    Config {
        path: String,
        #[source]
        source: serde_json::Error,
    },
}

impl MonitorError {
    pub fn config(path: &Path, source: serde_json::Error) -> Self {
        MonitorError::Config {
            path: path.display().to_string(),
            source,
        }
    }
}

pub type Result<T, E = MonitorError> = std::result::Result<T, E>;

/// Adds a description of the failed operation to an I/O error.
pub trait IoContext<T> {
    fn ctx(self, context: impl FnOnce() -> String) -> Result<T>;
}

impl<T> IoContext<T> for io::Result<T> {
    fn ctx(self, context: impl FnOnce() -> String) -> Result<T> {
        self.map_err(|source| MonitorError::Io {
            context: context(),
            source,
        })
    }
}

impl<T> IoContext<T> for nix::Result<T> {
    fn ctx(self, context: impl FnOnce() -> String) -> Result<T> {
        self.map_err(|errno| MonitorError::Io {
            context: context(),
            source: io::Error::from(errno),
        })
    }
}
