//! What the commands run against, without Tauri: the engine host, a bollard client on its socket
//! (API version negotiated), the running streams and exec sessions.
//!
//! `#[tauri::command]` wrappers in `commands/` only unpack arguments and call `Backend` methods,
//! so tests drive the same code against a real `berthd` without a window.

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bollard::Docker;
use tokio_util::sync::CancellationToken;
use tracing::debug;

use crate::engine_host::{native::CLIENT_API_VERSION, EngineHost};
use crate::error::{CommandError, CommandResult};

/// bollard's own limit per request (until the response headers arrive).
const CLIENT_TIMEOUT_SECS: u64 = 120;
/// Finding out the engine's API version.
const NEGOTIATE_TIMEOUT: Duration = Duration::from_secs(5);

/// Time limits of engine calls, by how long the engine may legitimately take.
pub mod limits {
    use std::time::Duration;
    /// Lists, inspects, creates, removes.
    pub const QUICK: Duration = Duration::from_secs(15);
    /// Stop/restart (the container gets 10 s to exit before SIGKILL).
    pub const STOP: Duration = Duration::from_secs(40);
    /// Pull progress: the longest silence between two progress messages.
    pub const PULL_IDLE: Duration = Duration::from_secs(120);
}

/// A sink for streamed items; returns `false` when the receiver is gone (the stream then ends).
pub trait Sink<T>: Fn(T) -> bool + Send + Sync + 'static {}
impl<T, F: Fn(T) -> bool + Send + Sync + 'static> Sink<T> for F {}

/// The kinds of per-container streams; one of each kind per container at a time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StreamKind {
    Logs,
    Stats,
}

/// Open streams, so a new one of the same kind replaces the old and a view can close them.
#[derive(Default)]
pub struct StreamRegistry {
    next: AtomicU64,
    open: Mutex<HashMap<(StreamKind, String), (u64, CancellationToken)>>,
}

/// One registered stream: cancelled when replaced or closed; unregisters itself on drop.
pub struct StreamGuard {
    registry: Arc<StreamRegistry>,
    key: (StreamKind, String),
    generation: u64,
    pub token: CancellationToken,
}

impl StreamRegistry {
    pub fn register(self: &Arc<Self>, kind: StreamKind, id: &str) -> StreamGuard {
        let generation = self.next.fetch_add(1, Ordering::Relaxed);
        let token = CancellationToken::new();
        let key = (kind, id.to_string());
        let previous = lock(&self.open).insert(key.clone(), (generation, token.clone()));
        if let Some((_, old)) = previous {
            debug!(?kind, id, "replacing an open stream");
            old.cancel();
        }
        StreamGuard {
            registry: self.clone(),
            key,
            generation,
            token,
        }
    }

    /// Closes every stream of this container; returns how many were open.
    pub fn close_container(&self, id: &str) -> usize {
        let mut open = lock(&self.open);
        let keys: Vec<_> = open.keys().filter(|(_, i)| i == id).cloned().collect();
        for key in &keys {
            if let Some((_, token)) = open.remove(key) {
                token.cancel();
            }
        }
        keys.len()
    }

    pub fn close_all(&self) {
        for (_, (_, token)) in lock(&self.open).drain() {
            token.cancel();
        }
    }

    pub fn count(&self) -> usize {
        lock(&self.open).len()
    }
}

impl Drop for StreamGuard {
    fn drop(&mut self) {
        let mut open = lock(&self.registry.open);
        if open
            .get(&self.key)
            .is_some_and(|(g, _)| *g == self.generation)
        {
            open.remove(&self.key);
        }
    }
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// See the module docs.
pub struct Backend {
    /// Replaced at runtime when the user switches between the native engine and the VM.
    host: std::sync::RwLock<Arc<dyn EngineHost>>,
    /// Bumped on each switch: the supervisor lets go of the old engine's event stream.
    host_generation: tokio::sync::watch::Sender<u64>,
    /// One switch at a time (each stops the old engine first).
    switching: tokio::sync::Mutex<()>,
    client: tokio::sync::Mutex<Option<Docker>>,
    pub(crate) streams: Arc<StreamRegistry>,
    pub(crate) exec: Arc<crate::commands::exec::ExecSessions>,
    /// The supervisor's latest view of the engine.
    status: Mutex<Option<crate::engine_host::EngineStatus>>,
    /// Wakes the supervisor after start/stop/restart so it re-probes at once.
    wake: tokio::sync::Notify,
}

impl Backend {
    pub fn new(host: Arc<dyn EngineHost>) -> Backend {
        Backend {
            host: std::sync::RwLock::new(host),
            host_generation: tokio::sync::watch::Sender::new(0),
            switching: tokio::sync::Mutex::new(()),
            client: tokio::sync::Mutex::new(None),
            streams: Arc::new(StreamRegistry::default()),
            exec: Default::default(),
            status: Mutex::new(None),
            wake: tokio::sync::Notify::new(),
        }
    }

    pub fn cached_status(&self) -> Option<crate::engine_host::EngineStatus> {
        lock(&self.status).clone()
    }

    /// Records the latest status; returns whether it differs from the previous one.
    pub fn set_cached_status(&self, s: &crate::engine_host::EngineStatus) -> bool {
        let mut slot = lock(&self.status);
        let changed = slot.as_ref() != Some(s);
        *slot = Some(s.clone());
        changed
    }

    /// The engine was started/stopped/restarted: renegotiate, let the supervisor re-probe.
    pub async fn engine_changed(&self) {
        self.forget_client().await;
        self.wake.notify_one();
    }

    /// Waits until [`Backend::engine_changed`] or `limit`, whichever first.
    pub async fn wait_for_change(&self, limit: Duration) {
        let _ = tokio::time::timeout(limit, self.wake.notified()).await;
    }

    /// The engine host in use now (a switch may replace it at any time: hold on to the `Arc`
    /// only for one operation).
    pub fn host(&self) -> Arc<dyn EngineHost> {
        self.host
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    /// Changes each time [`Backend::switch_host`] replaced the host.
    pub fn host_changes(&self) -> tokio::sync::watch::Receiver<u64> {
        self.host_generation.subscribe()
    }

    /// Replaces the engine host (Settings: "Run the engine in a VM"): closes the UI's streams,
    /// stops what the old host started (a VM powers off), then the supervisor follows the new
    /// one. Does not start the new engine: [`Backend::start_if_stopped`] does.
    pub async fn switch_host(&self, new: Arc<dyn EngineHost>) {
        let _one_at_a_time = self.switching.lock().await;
        let old = self.host();
        tracing::info!(from = %old.host(), to = %new.host(), "switching the engine host");
        self.streams.close_all();
        old.shutdown().await;
        *self
            .host
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = new;
        *lock(&self.status) = None;
        self.host_generation.send_modify(|g| *g += 1);
        self.engine_changed().await;
    }

    /// Starts the engine when nothing runs and this app may start it (app start, host switch).
    pub async fn start_if_stopped(&self) {
        let host = self.host();
        let first = host.status().await;
        if first.state == crate::engine_host::EngineState::Stopped && host.can_manage() {
            tracing::info!(host = %host.host(), "no engine running; starting one");
            if let Err(e) = self.engine_start().await {
                tracing::warn!("could not start the engine: {}", e.message);
            }
        }
    }

    pub fn streams(&self) -> &Arc<StreamRegistry> {
        &self.streams
    }

    /// A client on the engine socket at the engine's API version (negotiated once per
    /// connection; [`Backend::forget_client`] after the engine went away).
    pub async fn docker(&self) -> CommandResult<Docker> {
        let mut slot = self.client.lock().await;
        if let Some(d) = slot.as_ref() {
            return Ok(d.clone());
        }
        let socket = self.host().socket_path();
        let path = socket
            .to_str()
            .ok_or_else(|| CommandError::unavailable("The engine socket path is not UTF-8"))?;
        let docker = Docker::connect_with_unix(path, CLIENT_TIMEOUT_SECS, &CLIENT_API_VERSION)?;
        let docker = tokio::time::timeout(NEGOTIATE_TIMEOUT, docker.negotiate_version())
            .await
            .map_err(|_| CommandError::timed_out("/version", NEGOTIATE_TIMEOUT.as_secs()))??;
        debug!(version = ?docker.client_version(), "engine API version negotiated");
        *slot = Some(docker.clone());
        Ok(docker)
    }

    /// Drops the negotiated client (the engine went away; it may come back as another version).
    pub async fn forget_client(&self) {
        *self.client.lock().await = None;
    }
}

/// Runs one engine call with a time limit; a bollard error becomes a [`CommandError`].
pub async fn timed<T>(
    what: &str,
    limit: Duration,
    fut: impl Future<Output = Result<T, bollard::errors::Error>>,
) -> CommandResult<T> {
    match tokio::time::timeout(limit, fut).await {
        Ok(r) => r.map_err(CommandError::from),
        Err(_) => Err(CommandError::timed_out(what, limit.as_secs())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_stream_replaces_the_old_one() {
        let reg = Arc::new(StreamRegistry::default());
        let a = reg.register(StreamKind::Logs, "c1");
        let b = reg.register(StreamKind::Logs, "c1");
        assert!(a.token.is_cancelled());
        assert!(!b.token.is_cancelled());
        let s = reg.register(StreamKind::Stats, "c1");
        assert_eq!(reg.count(), 2);
        // The replaced guard's drop must not unregister its successor.
        drop(a);
        assert_eq!(reg.count(), 2);
        assert_eq!(reg.close_container("c1"), 2);
        assert!(b.token.is_cancelled() && s.token.is_cancelled());
        drop(b);
        drop(s);
        assert_eq!(reg.count(), 0);
    }
}
