//! Runs health probes: one task per running container with a health check, started and
//! stopped by the container's own events (`start`, `unpause`; `die`, `pause`, `destroy`) so that
//! no lifecycle code has to know about health checks. Each probe is an exec, as in dockerd.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::Utc;
use serde_json::Value;
use tokio::sync::broadcast;
use tokio::task::JoinHandle;

use super::Probe;
use crate::api::types::{ExecCreateRequest, HealthcheckResult};
use crate::container::exec::ExecService;
use crate::container::io::Output;
use crate::container::{Container, ContainerService};
use crate::events::EventBus;

/// How long starting a probe's exec may take before the probe counts as failed (dockerd's).
const START_LIMIT: Duration = Duration::from_secs(30);

pub struct HealthMonitor {
    containers: Arc<ContainerService>,
    execs: Arc<ExecService>,
    tasks: Mutex<HashMap<String, JoinHandle<()>>>,
}

impl HealthMonitor {
    /// Follows container events from now on and starts probing the containers already running
    /// (re-adopted after a restart of berthd: their health starts over, as dockerd's restore).
    pub fn spawn(
        containers: Arc<ContainerService>,
        execs: Arc<ExecService>,
        events: &EventBus,
    ) -> Arc<HealthMonitor> {
        let rx = events.subscribe();
        let m = Arc::new(HealthMonitor {
            containers,
            execs,
            tasks: Mutex::new(HashMap::new()),
        });
        for c in m.containers.all() {
            let running = {
                let d = c.lock();
                d.st.state.is_running() && !d.st.state.is_paused()
            };
            if running {
                m.begin(&c, true);
            }
        }
        tokio::spawn(follow(Arc::clone(&m), rx));
        m
    }

    fn tasks(&self) -> std::sync::MutexGuard<'_, HashMap<String, JoinHandle<()>>> {
        self.tasks.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Starts probing `c` (a fresh start resets its health to `starting`).
    fn begin(self: &Arc<Self>, c: &Arc<Container>, fresh: bool) {
        let probe = {
            let mut d = c.lock();
            let probe = Probe::of(
                d.rec.config.healthcheck.as_ref(),
                d.rec.config.shell.as_deref(),
            );
            if probe.is_some() && (fresh || d.st.health.is_none()) {
                super::restart(&mut d.st.health);
            }
            probe
        };
        let Some(probe) = probe else { return };
        let task = tokio::spawn(run(Arc::clone(self), Arc::clone(c), probe));
        if let Some(old) = self.tasks().insert(c.id.clone(), task) {
            old.abort();
        }
    }

    fn end(&self, id: &str) {
        if let Some(task) = self.tasks().remove(id) {
            task.abort();
        }
    }
}

async fn follow(m: Arc<HealthMonitor>, mut rx: broadcast::Receiver<Value>) {
    loop {
        let ev = match rx.recv().await {
            Ok(ev) => ev,
            Err(broadcast::error::RecvError::Lagged(n)) => {
                tracing::warn!(missed = n, "health monitor fell behind the event stream");
                continue;
            }
            Err(broadcast::error::RecvError::Closed) => return,
        };
        if ev["Type"] != "container" {
            continue;
        }
        let Some(id) = ev["Actor"]["ID"].as_str() else {
            continue;
        };
        match ev["Action"].as_str().unwrap_or_default() {
            action @ ("start" | "unpause") => {
                if let Ok(c) = m.containers.get(id) {
                    m.begin(&c, action == "start");
                }
            }
            "die" | "pause" | "destroy" => m.end(id),
            _ => {}
        }
    }
}

/// Probes every interval while the container runs.
async fn run(m: Arc<HealthMonitor>, c: Arc<Container>, probe: Probe) {
    let started = c.lock().st.state.started_at().unwrap_or_else(Utc::now);
    let since_start = move || (Utc::now() - started).to_std().unwrap_or_default();
    loop {
        let starting = c
            .lock()
            .st
            .health
            .as_ref()
            .is_some_and(|h| h.status == super::STARTING);
        tokio::time::sleep(probe.next_wait(since_start(), starting)).await;
        if !c.is_running() {
            return;
        }
        let start = Utc::now();
        let (exit_code, output) = match run_once(&m.execs, &c, &probe).await {
            Ok(r) => r,
            Err(msg) => {
                tracing::warn!(id = %c.id, error = %msg, "health check could not run");
                (-1, msg)
            }
        };
        let result = HealthcheckResult {
            start: super::stamp(start),
            end: super::stamp(Utc::now()),
            exit_code,
            output,
        };
        let changed = {
            let mut d = c.lock();
            let h = d.st.health.get_or_insert_with(Default::default);
            super::record(h, &probe, result, since_start())
        };
        if let Some(status) = changed {
            m.containers
                .emit(&c, &format!("health_status: {status}"), &[]);
        }
    }
}

/// One probe: the exec's exit code and its output (stdout and stderr, at most 4 KiB).
async fn run_once(
    execs: &ExecService,
    c: &Arc<Container>,
    probe: &Probe,
) -> Result<(i64, String), String> {
    let (user, working_dir) = {
        let d = c.lock();
        (d.rec.config.user.clone(), d.rec.config.working_dir.clone())
    };
    let req = ExecCreateRequest {
        attach_stdout: true,
        attach_stderr: true,
        cmd: probe.cmd.clone(),
        user,
        working_dir,
        ..Default::default()
    };
    let id = execs.create(c, req).map_err(|e| e.to_string())?;
    let outcome = probe_exec(execs, &id, probe).await;
    execs.forget(&id);
    outcome
}

async fn probe_exec(execs: &ExecService, id: &str, probe: &Probe) -> Result<(i64, String), String> {
    let exec = execs.get(id).map_err(|e| e.to_string())?;
    let mut rx = exec.io.subscribe();
    match tokio::time::timeout(START_LIMIT, execs.start(&exec)).await {
        Err(_) => {
            return Err(format!(
                "timed out starting health check for container {}",
                exec.container.id
            ))
        }
        Ok(Err(e)) => return Err(e.to_string()),
        Ok(Ok(())) => {}
    }
    let mut out = Limited::default();
    let collect = async {
        loop {
            match rx.recv().await {
                Ok(Output::Stdout(b) | Output::Stderr(b)) => out.push(&b),
                Ok(Output::Closed) | Err(broadcast::error::RecvError::Closed) => break,
                Err(broadcast::error::RecvError::Lagged(_)) => out.truncated = true,
            }
        }
    };
    if tokio::time::timeout(probe.timeout, collect).await.is_err() {
        let pid = exec.state().pid;
        if pid > 0 {
            // The probe's process only: the container keeps running.
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid as i32),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
        execs.wait(&exec).await;
        let limit = crate::timestamp::go_duration(probe.timeout);
        let text = out.text();
        let msg = if text.is_empty() {
            format!("Health check exceeded timeout ({limit})")
        } else {
            format!("Health check exceeded timeout ({limit}): {text}")
        };
        return Ok((-1, msg));
    }
    execs.wait(&exec).await;
    Ok((exec.state().exit_code.unwrap_or(-1), out.text()))
}

/// Keeps the first [`super::MAX_OUTPUT`] bytes; `...` marks a cut.
#[derive(Default)]
struct Limited {
    buf: Vec<u8>,
    truncated: bool,
}

impl Limited {
    fn push(&mut self, b: &[u8]) {
        let room = super::MAX_OUTPUT.saturating_sub(self.buf.len());
        self.buf.extend_from_slice(&b[..room.min(b.len())]);
        if b.len() > room {
            self.truncated = true;
        }
    }

    fn text(&self) -> String {
        let mut s = String::from_utf8_lossy(&self.buf).into_owned();
        if self.truncated {
            s.push_str("...");
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_is_cut_at_4k_and_marked() {
        let mut l = Limited::default();
        l.push(b"ok\n");
        assert_eq!(l.text(), "ok\n");
        l.push(&[b'x'; 5000]);
        let t = l.text();
        assert_eq!(t.len(), 4096 + 3);
        assert!(t.ends_with("..."));
    }
}
