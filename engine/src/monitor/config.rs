//! What berthd tells a monitor (`MonitorConfig`) and what the monitor leaves behind (`ExitRecord`).

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::error::{IoContext, MonitorError, Result};

#[derive(Serialize, Deserialize, Debug, Clone)]
pub struct MonitorConfig {
    /// The OCI runtime binary, e.g. /usr/sbin/runc.
    pub runtime: PathBuf,
    /// Passed as `--root` to the runtime.
    pub runtime_root: Option<PathBuf>,
    /// Container id (the runtime's container name).
    pub id: String,
    /// OCI bundle directory (config.json inside, written by berthd).
    pub bundle: PathBuf,
    pub tty: bool,
    /// Keep the container's stdin open (docker -i); otherwise it is /dev/null.
    pub open_stdin: bool,
    /// Docker json-file log; None for execs and the `none` log driver.
    pub log_path: Option<PathBuf>,
    /// How that log is rotated.
    #[serde(default)]
    pub log_rotation: super::logfile::Rotation,
    /// Where the exit record is written atomically.
    pub exit_path: PathBuf,
    /// Unix socket the monitor listens on for later (re)connections.
    pub socket_path: PathBuf,
    /// The monitor writes the container's pid here once started.
    pub pid_path: PathBuf,
    /// Some => `runtime exec` this process instead of `runtime run`.
    pub exec: Option<ExecProcess>,
    /// Rootfs mountpoint to unmount (MNT_DETACH) once the container is gone.
    pub unmount_on_exit: Option<PathBuf>,
}

#[derive(Serialize, Deserialize, Debug, Clone)]
pub struct ExecProcess {
    /// OCI process spec for `runtime exec --process`.
    pub process_json: PathBuf,
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct ExitRecord {
    pub exit_code: i32,
    /// RFC3339 with nanoseconds, UTC.
    pub finished_at: String,
    /// The runtime's message when the process could not be started.
    pub error: Option<String>,
    #[serde(default)]
    pub oom_killed: bool,
}

impl MonitorConfig {
    pub fn load(path: &Path) -> Result<Self> {
        let data = std::fs::read(path).ctx(|| format!("reading {}", path.display()))?;
        serde_json::from_slice(&data).map_err(|e| MonitorError::config(path, e))
    }

    /// The runtime's `--log` file. Execs share the container's bundle, so theirs sits beside their
    /// exit record instead.
    pub fn runtime_log(&self) -> PathBuf {
        match self.exec {
            Some(_) => self.exit_path.with_extension("runtime.log"),
            None => self.bundle.join("runtime.log"),
        }
    }

    /// The runtime's `--pid-file` (per exec, like `runtime_log`).
    pub fn runtime_pid_file(&self) -> PathBuf {
        match self.exec {
            Some(_) => self.exit_path.with_extension("runtime.pid"),
            None => self.bundle.join("init.pid"),
        }
    }
}

impl ExitRecord {
    pub fn now(exit_code: i32, error: Option<String>, oom_killed: bool) -> Self {
        ExitRecord {
            exit_code,
            finished_at: crate::timestamp::now_rfc3339(),
            error,
            oom_killed,
        }
    }

    /// berthd reads it with `store::read_json`; the monitor's tests read it back here.
    #[cfg(test)]
    pub fn read(path: &Path) -> Result<Self> {
        let data = std::fs::read(path).ctx(|| format!("reading {}", path.display()))?;
        serde_json::from_slice(&data).map_err(|e| MonitorError::config(path, e))
    }

    /// Temp file + rename, so a reader sees the whole record or none. No fsync: the record only has
    /// to survive berthd crashing, not the machine.
    pub fn write(&self, path: &Path) -> Result<()> {
        let data = serde_json::to_vec(self).map_err(|e| MonitorError::config(path, e))?;
        write_atomic(path, &data)
    }
}

/// Writes `data` to a temp file next to `path`, then renames it over `path`.
/// Temp file + rename through the engine's store (one naming scheme, so berthd's start-up
/// sweep removes what a monitor killed mid-write leaves behind). No fsync: see `store`.
pub fn write_atomic(path: &Path, data: &[u8]) -> Result<()> {
    crate::store::write_atomic(path, data, crate::store::Durability::Process).map_err(|e| {
        MonitorError::Io {
            context: format!("writing {}", path.display()),
            source: std::io::Error::other(format!("{e:#}")),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_record_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("exit.json");
        let rec = ExitRecord::now(3, None, false);
        rec.write(&p).unwrap();
        assert_eq!(ExitRecord::read(&p).unwrap(), rec);
        assert!(rec.finished_at.ends_with('Z'));
        // Only the record itself is left behind.
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }
}
