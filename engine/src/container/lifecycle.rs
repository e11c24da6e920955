//! Stop, kill, wait, remove, restart, pause, rename.

use std::sync::Arc;
use std::time::Duration;

use super::{Container, ContainerService};
use crate::error::{EngineError, Result};
use crate::signal::parse_signal;
use crate::snapshot;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WaitCondition {
    NotRunning,
    NextExit,
    Removed,
}

impl WaitCondition {
    pub fn parse(s: Option<&str>) -> Result<Self> {
        match s.unwrap_or("") {
            "" | "not-running" => Ok(WaitCondition::NotRunning),
            "next-exit" => Ok(WaitCondition::NextExit),
            "removed" => Ok(WaitCondition::Removed),
            other => Err(EngineError::invalid(format!(
                "invalid condition: \"{other}\""
            ))),
        }
    }
}

impl ContainerService {
    fn signal(&self, c: &Container, sig: i32) -> Result<()> {
        let Some(pid) = c.lock().st.state.pid().and_then(|p| i32::try_from(p).ok()) else {
            return Err(EngineError::Conflict(format!(
                "Container {} is not running",
                c.id
            )));
        };
        // SAFETY: plain kill(2).
        let rc = unsafe { libc::kill(pid, sig) };
        if rc != 0 {
            let e = std::io::Error::last_os_error();
            if e.raw_os_error() != Some(libc::ESRCH) {
                return Err(EngineError::internal(format!("signalling container: {e}")));
            }
        }
        Ok(())
    }

    /// Waits until the container is no longer running, at most `limit`.
    async fn wait_stopped(&self, c: &Container, limit: Duration) -> bool {
        let mut rx = c.exits();
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            if !c.is_running() {
                return true;
            }
            if tokio::time::timeout_at(deadline, rx.changed())
                .await
                .is_err()
            {
                return !c.is_running();
            }
        }
    }

    pub async fn kill(&self, c: &Arc<Container>, signal: Option<&str>) -> Result<()> {
        let sig = match signal.filter(|s| !s.is_empty()) {
            Some(s) => parse_signal(s)?,
            None => libc::SIGKILL,
        };
        if !c.is_running() && !c.lock().st.state.is_restarting() {
            return Err(EngineError::Conflict(format!(
                "cannot kill container: {}: container {} is not running",
                c.name(),
                c.id
            )));
        }
        // dockerd marks any kill as a manual stop: the policy does not bring it back. A container
        // waiting for its restart has no process to signal.
        if super::restart::stop_by_hand(c)? {
            return Ok(());
        }
        if c.lock().st.state.is_paused() && sig == libc::SIGKILL {
            // A frozen process cannot die; thaw it so the kill lands.
            let _ = self.runtime_cmd(c, &["resume"]).await;
        }
        self.signal(c, sig)?;
        self.emit(c, "kill", &[("signal", sig.to_string())]);
        if sig == libc::SIGKILL {
            // As dockerd's Kill: a SIGKILL is answered once the container has stopped, so that
            // `docker kill x && docker rm x` works. Another signal may be handled and ignored.
            if !self.wait_stopped(c, Duration::from_secs(10)).await {
                tracing::warn!(id = %c.id, "container still running 10 s after SIGKILL");
                return Err(EngineError::internal(format!(
                    "tried to kill container, but did not receive an exit event: {}",
                    c.id
                )));
            }
        }
        Ok(())
    }

    pub async fn stop(
        &self,
        c: &Arc<Container>,
        timeout: Option<i64>,
        signal: Option<&str>,
    ) -> Result<()> {
        let _op = c.op.lock().await;
        if !c.is_running() && !c.lock().st.state.is_restarting() {
            return Err(EngineError::NotModified("container already stopped".into()));
        }
        if super::restart::stop_by_hand(c)? {
            // It was only waiting to be restarted by its policy: that is cancelled.
            self.emit(c, "stop", &[]);
            return Ok(());
        }
        let (stop_signal, default_timeout) = {
            let d = c.lock();
            (
                d.rec.config.stop_signal.clone(),
                d.rec.config.stop_timeout.unwrap_or(10),
            )
        };
        let sig = match signal.filter(|s| !s.is_empty()).or(stop_signal.as_deref()) {
            Some(s) => parse_signal(s)?,
            None => libc::SIGTERM,
        };
        let t = timeout.unwrap_or(default_timeout);
        if c.lock().st.state.is_paused() {
            let _ = self.runtime_cmd(c, &["resume"]).await;
        }
        self.signal(c, sig)?;
        let stopped = if t < 0 {
            self.wait_stopped(c, Duration::from_secs(u64::MAX / 4))
                .await
        } else {
            self.wait_stopped(c, Duration::from_secs(t as u64)).await
        };
        if !stopped {
            tracing::info!(id = %c.id, "stop timeout reached, sending SIGKILL");
            self.signal(c, libc::SIGKILL)?;
            if !self.wait_stopped(c, Duration::from_secs(30)).await {
                return Err(EngineError::internal(
                    "container did not exit after SIGKILL",
                ));
            }
        }
        self.emit(c, "stop", &[]);
        Ok(())
    }

    pub async fn restart(
        self: &Arc<Self>,
        c: &Arc<Container>,
        timeout: Option<i64>,
        signal: Option<&str>,
    ) -> Result<()> {
        match self.stop(c, timeout, signal).await {
            Ok(()) | Err(EngineError::NotModified(_)) => {}
            Err(e) => return Err(e),
        }
        self.start_by_user(c).await?;
        self.emit(c, "restart", &[]);
        Ok(())
    }

    /// Returns the exit code once `cond` holds.
    pub async fn wait(&self, c: &Arc<Container>, cond: WaitCondition) -> Result<i64> {
        let mut exits = c.exits();
        let mut removed = c.removed();
        exits.borrow_and_update();
        match cond {
            WaitCondition::NotRunning => {
                // dockerd counts a container waiting to restart as running: its waiters go on
                // to the next exit, or to the stop that cancels the restart.
                if !c.lock().st.state.counts_as_running() {
                    return Ok(c.lock().st.state.exit_code());
                }
                let _ = exits.changed().await;
            }
            WaitCondition::NextExit => {
                let _ = exits.changed().await;
            }
            WaitCondition::Removed => {
                if !*removed.borrow_and_update() {
                    let _ = removed.changed().await;
                }
            }
        }
        Ok(c.lock().st.state.exit_code())
    }

    /// `docker rm`. `force` kills a running container first.
    /// `volumes` (`-v`, and `--rm`) also removes the anonymous volumes nothing else uses.
    ///
    /// The container is gone for every client once this returns (name free, `destroy` sent,
    /// `wait --condition removed` answered); its files follow in the background once its
    /// monitor has finished its own cleanup, as `runtime delete` alone takes ~8 ms here and
    /// `docker run --rm` would otherwise wait for it ([`ContainerService::remove_files`]).
    pub async fn remove(
        self: &Arc<Self>,
        c: &Arc<Container>,
        force: bool,
        volumes: bool,
    ) -> Result<()> {
        if !c.is_running() && c.lock().st.state.is_restarting() && !force {
            return Err(EngineError::Conflict(format!(
                "cannot remove container \"/{}\": container is restarting: stop the container before removing or force remove",
                c.name()
            )));
        }
        if force {
            // No restart policy may bring it back while it goes (held in memory when a full
            // disk cannot take it: the removal below needs no more).
            if let Err(e) = super::restart::stop_by_hand(c) {
                if !e.is_no_space() {
                    return Err(e);
                }
            }
        }
        // A forced removal kills what runs; a start racing it (a policy restart already under
        // way, a client's start) can make it run again, so it tries a few times.
        let mut attempts = 0;
        let _op = loop {
            attempts += 1;
            if c.is_running() {
                if !force {
                    return Err(EngineError::Conflict(format!(
                        "cannot remove container \"/{}\": container is running: stop the container before removing or force remove",
                        c.name()
                    )));
                }
                if c.lock().st.state.is_paused() {
                    let _ = self.runtime_cmd(c, &["resume"]).await;
                }
                self.signal(c, libc::SIGKILL)?;
                if !self.wait_stopped(c, Duration::from_secs(30)).await {
                    return Err(EngineError::internal(
                        "container did not exit after SIGKILL",
                    ));
                }
            }
            let op = c.op.lock().await;
            if *c.removed.borrow() {
                return Ok(());
            }
            if !c.is_running() {
                break op;
            }
            // A start that held the lock while we waited made it run again: its files are in
            // use now (a prune racing a start, or rm racing start).
            if !force || attempts >= 3 {
                return Err(EngineError::Conflict(format!(
                    "cannot remove container \"/{}\": container is running: stop the container before removing or force remove",
                    c.name()
                )));
            }
        };
        // Marked first, so a crash before the files are gone is finished by the next start.
        if let Err(e) = c.transition(|d| d.st.state.set_removing()) {
            // A full disk cannot take the mark, and removing is how users free space: the
            // record goes at once instead (which needs none), and a directory left without one
            // by a crash is dropped at the next start just the same.
            if !e.is_no_space() {
                return Err(e);
            }
            tracing::warn!(id = %c.id, "disk full: removing the record first instead of marking it");
            ignore_missing(std::fs::remove_file(c.dir.join("config.json")))
                .map_err(|e| EngineError::internal(format!("removing container record: {e}")))?;
        }
        self.forget(c);
        let mounts = c.lock().rec.mount_points.clone();
        self.drop_volume_refs(&c.id, &mounts, volumes);
        c.removed.send_replace(true);
        self.emit(c, "destroy", &[]);
        let svc = Arc::clone(self);
        let c = Arc::clone(c);
        self.cleanups.spawn(async move {
            // Its monitor unmounts and runs `runtime delete`, which needs the bundle.
            if c.monitor_gone().await.is_err() {
                tracing::warn!(id = %c.id, "monitor still busy after 30 s; removing the files anyway");
            }
            if let Err(e) = svc.remove_files(&c) {
                // Still marked "removing" on disk: the next start of berthd finishes it.
                tracing::warn!(id = %c.id, error = %e, "removing container files");
            }
        });
        Ok(())
    }

    /// The rootfs snapshot and the directory of a removed container.
    fn remove_files(&self, c: &Container) -> Result<()> {
        // Never descend into a mounted rootfs: an unmount failure stops here.
        snapshot::unmount(&c.rootfs())?;
        // Released at exit already; again here so that a leftover is unmounted, not emptied.
        super::namespaces::release_shm(c);
        self.images.snapshots.remove(&c.id)?;
        let _ = std::fs::remove_file(self.monitor_socket(&c.id));
        // The record goes first: a directory left without one by a crash is dropped at load.
        ignore_missing(std::fs::remove_file(c.dir.join("config.json")))
            .and_then(|()| ignore_missing(std::fs::remove_dir_all(&c.dir)))
            .map_err(|e| EngineError::internal(format!("removing container files: {e}")))
    }

    /// Waits (up to `limit`) for removals still finishing in the background; at shutdown.
    pub async fn wait_cleanups(&self, limit: Duration) {
        self.cleanups.close();
        let _ = tokio::time::timeout(limit, self.cleanups.wait()).await;
    }

    pub async fn pause(&self, c: &Arc<Container>) -> Result<()> {
        let _op = c.op.lock().await;
        let (running, paused) = {
            let d = c.lock();
            (d.st.state.is_running(), d.st.state.is_paused())
        };
        if !running {
            return Err(EngineError::Conflict(format!(
                "Container {} is not running",
                c.id
            )));
        }
        if paused {
            return Err(EngineError::Conflict(format!(
                "Container {} is already paused",
                c.id
            )));
        }
        self.runtime_cmd(c, &["pause"]).await?;
        c.transition(|d| d.st.state.set_paused())?;
        self.emit(c, "pause", &[]);
        Ok(())
    }

    pub async fn unpause(&self, c: &Arc<Container>) -> Result<()> {
        let _op = c.op.lock().await;
        if !c.lock().st.state.is_paused() {
            return Err(EngineError::Conflict(format!(
                "Container {} is not paused",
                c.id
            )));
        }
        self.runtime_cmd(c, &["resume"]).await?;
        c.transition(|d| d.st.state.set_unpaused())?;
        self.emit(c, "unpause", &[]);
        Ok(())
    }

    pub fn rename(&self, c: &Arc<Container>, new_name: &str) -> Result<()> {
        let new_name = new_name.trim_start_matches('/');
        if !super::names::valid(new_name) {
            return Err(EngineError::invalid(format!(
                "Invalid container name ({new_name}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed"
            )));
        }
        let old = c.name();
        if old == new_name {
            return Err(EngineError::invalid(
                "Renaming a container with the same name as its current name",
            ));
        }
        self.reserve_name(new_name, &c.id)?;
        {
            let mut d = c.lock();
            d.rec.name = format!("/{new_name}");
        }
        if let Err(e) = c.save_record() {
            self.release_name(new_name);
            c.lock().rec.name = format!("/{old}");
            return Err(e);
        }
        self.release_name(&old);
        self.emit(c, "rename", &[("oldName", format!("/{old}"))]);
        Ok(())
    }

    /// Runs a short runtime subcommand (`pause`, `resume`) on the container.
    /// The runtime's view of the container (`runc state`'s `status`: `running`, `paused`, …).
    pub async fn runtime_status(&self, c: &Container) -> Option<String> {
        let configured = c.lock().rec.host_config.runtime.clone();
        let (name, rt) = self.cfg.runtimes.of(&configured).ok()?;
        let out = tokio::process::Command::new(rt)
            .arg("--root")
            .arg(self.runtime_root(&name))
            .args(["state", &c.id])
            .output()
            .await
            .ok()?;
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).ok()?;
        v.get("status")?.as_str().map(str::to_string)
    }

    /// At berthd's start, for a re-adopted container: the record's paused flag follows the
    /// runtime, as dockerd's restore does. A `pause`, `unpause` or a commit's freeze cut short
    /// by a crash leaves them apart (a frozen container the record calls running, which no
    /// exec could enter).
    pub async fn sync_paused(&self, c: &Arc<Container>) {
        let Some(status) = self.runtime_status(c).await else {
            return;
        };
        let paused = c.lock().st.state.is_paused();
        let synced = match (status.as_str(), paused) {
            ("paused", false) => c.transition(|d| d.st.state.set_paused()),
            ("running", true) => c.transition(|d| d.st.state.set_unpaused()),
            _ => return,
        };
        match synced {
            Ok(()) => {
                tracing::info!(id = %c.id, runtime = %status, "paused state taken from the runtime")
            }
            Err(e) => tracing::warn!(id = %c.id, error = %e, "syncing the paused state"),
        }
    }

    pub async fn runtime_cmd(&self, c: &Container, args: &[&str]) -> Result<()> {
        let configured = c.lock().rec.host_config.runtime.clone();
        let (name, rt) = self.cfg.runtimes.of(&configured)?;
        let out = tokio::process::Command::new(rt)
            .arg("--root")
            .arg(self.runtime_root(&name))
            .args(args)
            .arg(&c.id)
            .output()
            .await
            .map_err(|e| EngineError::internal(format!("running {name}: {e}")))?;
        if !out.status.success() {
            return Err(EngineError::internal(format!(
                "{name} {}: {}",
                args.join(" "),
                String::from_utf8_lossy(&out.stderr).trim()
            )));
        }
        Ok(())
    }
}

fn ignore_missing(r: std::io::Result<()>) -> std::io::Result<()> {
    match r {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        r => r,
    }
}
