//! `engine.lock`: one berthd per data root. An `flock` is released by the kernel when the process dies,
//! so a berthd killed with -9 never leaves a stale lock behind.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::fd::AsRawFd;
use std::path::Path;

pub struct EngineLock {
    _file: File,
}

#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error("another berthd (pid {pid}) is already using data root {root}")]
    Held { pid: String, root: String },
    #[error("cannot open {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
}

impl EngineLock {
    pub fn acquire(data_root: &Path) -> Result<Self, LockError> {
        let path = data_root.join("engine.lock");
        let io = |source| LockError::Io {
            path: path.display().to_string(),
            source,
        };
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(io)?;
        // SAFETY: flock on an fd we own.
        let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
        if rc != 0 {
            let pid = std::fs::read_to_string(&path).unwrap_or_default();
            return Err(LockError::Held {
                pid: pid.trim().to_string(),
                root: data_root.display().to_string(),
            });
        }
        file.set_len(0).map_err(io)?;
        write!(file, "{}", std::process::id()).map_err(io)?;
        Ok(EngineLock { _file: file })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn second_lock_refused() {
        let dir = tempfile::tempdir().unwrap();
        let _a = EngineLock::acquire(dir.path()).unwrap();
        // flock locks belong to the open file description, so a second open conflicts even in-process.
        let b = EngineLock::acquire(dir.path());
        assert!(matches!(b, Err(LockError::Held { .. })));
    }
}
