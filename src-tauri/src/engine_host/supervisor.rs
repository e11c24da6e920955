//! Keeps the app's view of the engine current, whatever the engine does.
//!
//! Loop: probe the host; report the status when it changed; while the engine runs, follow its
//! `/events` stream (forwarding every message) and ping it every few seconds; when the stream
//! ends or pings fail, drop the client and probe again. While the engine is away, probe with
//! backoff (1 s doubling to 10 s), or at once when the user starts/stops it. Nothing here can
//! block the UI: every engine call has a time limit and the loop runs on its own task.

use std::sync::Arc;
use std::time::Duration;

use bollard::models::EventMessage;
use bollard::query_parameters::EventsOptions;
use futures_util::StreamExt;
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

use super::EngineStatus;
use crate::backend::Backend;

const BACKOFF_START: Duration = Duration::from_secs(1);
const BACKOFF_MAX: Duration = Duration::from_secs(10);
const PING_EVERY: Duration = Duration::from_secs(5);
const PING_TIMEOUT: Duration = Duration::from_secs(3);
/// Failed pings in a row before the engine counts as gone.
const PING_FAILURES: u32 = 2;

/// Where the supervisor reports (the app emits Tauri events; tests collect).
pub trait SupervisorOutput: Send + Sync + 'static {
    /// The engine's status changed.
    fn status(&self, status: &EngineStatus);
    /// One `/events` message, as the engine sent it.
    fn event(&self, event: &EventMessage);
}

/// Runs until `stop` is cancelled.
pub async fn run(backend: Arc<Backend>, out: impl SupervisorOutput, stop: CancellationToken) {
    let mut backoff = BACKOFF_START;
    while !stop.is_cancelled() {
        let host = backend.host();
        let status = tokio::select! {
            _ = stop.cancelled() => return,
            s = host.status() => s,
        };
        if backend.set_cached_status(&status) {
            info!(state = ?status.state, reason = ?status.reason, "engine status");
            out.status(&status);
        }
        if status.is_running() {
            backoff = BACKOFF_START;
            follow_engine(&backend, &out, &stop).await;
            backend.forget_client().await;
            continue;
        }
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = backend.wait_for_change(backoff) => {}
        }
        backoff = (backoff * 2).min(BACKOFF_MAX);
    }
}

/// Follows `/events` until the engine goes away (stream ends, errors, or pings fail).
async fn follow_engine(backend: &Backend, out: &impl SupervisorOutput, stop: &CancellationToken) {
    let docker = match backend.docker().await {
        Ok(d) => d,
        Err(e) => {
            warn!("engine runs but the client cannot connect: {}", e.message);
            tokio::select! {
                _ = stop.cancelled() => {}
                _ = tokio::time::sleep(BACKOFF_START) => {}
            }
            return;
        }
    };
    let mut events = docker.events(None::<EventsOptions>);
    // A switch of host (native ⇄ VM) ends this engine's turn even while it still runs.
    let mut host_changes = backend.host_changes();
    host_changes.mark_unchanged();
    let mut ping = tokio::time::interval(PING_EVERY);
    ping.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut failures = 0;
    debug!("following engine events");
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = host_changes.changed() => {
                info!("engine host switched");
                return;
            }
            ev = events.next() => match ev {
                Some(Ok(e)) => out.event(&e),
                Some(Err(e)) => {
                    info!("engine event stream failed: {e}");
                    return;
                }
                None => {
                    info!("engine event stream ended");
                    return;
                }
            },
            _ = ping.tick() => {
                match tokio::time::timeout(PING_TIMEOUT, docker.ping()).await {
                    Ok(Ok(_)) => failures = 0,
                    other => {
                        failures += 1;
                        warn!(failures, "engine ping failed: {other:?}");
                        if failures >= PING_FAILURES {
                            return;
                        }
                    }
                }
            }
        }
    }
}
