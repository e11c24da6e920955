//! The samples one stats request gets: dockerd's cadence (one a second), each carrying the one
//! before it as `preread`/`precpu_stats` so that clients can compute CPU %, and an end when the
//! container stops.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use super::{sample, ContainerService};
use crate::api::types::stats::{ContainerStats, CpuStats};
use crate::container::Container;

/// dockerd's collection interval.
pub const INTERVAL: Duration = Duration::from_secs(1);

pub struct Series {
    svc: Arc<ContainerService>,
    c: Arc<Container>,
    exits: watch::Receiver<u64>,
    prev: Option<(String, CpuStats)>,
    started: bool,
    done: bool,
}

impl Series {
    pub fn new(svc: Arc<ContainerService>, c: Arc<Container>) -> Self {
        let exits = c.exits();
        Series {
            svc,
            c,
            exits,
            prev: None,
            started: false,
            done: false,
        }
    }

    /// A sample now, with the previous one as its `pre*` fields (Go's zero values for the first).
    /// The flag says whether the container was running; if not, the sample is dockerd's empty one.
    async fn take(&mut self) -> (ContainerStats, bool) {
        let (mut s, running) = match self.svc.stats_target(&self.c) {
            Some(t) => match tokio::task::spawn_blocking(move || sample(&t)).await {
                Ok(s) => (s, true),
                Err(e) => {
                    tracing::warn!(id = %self.c.id, error = %e, "stats sample failed");
                    (self.empty(), false)
                }
            },
            None => (self.empty(), false),
        };
        if let Some((read, cpu)) = &self.prev {
            s.preread = read.clone();
            s.precpu_stats = cpu.clone();
        }
        self.prev = Some((s.read.clone(), s.cpu_stats.clone()));
        (s, running)
    }

    fn empty(&self) -> ContainerStats {
        ContainerStats::empty(&self.c.id, &self.c.lock().rec.name)
    }

    /// Waits one interval, or less when the container exits (so a stream ends promptly).
    async fn pause(&mut self) {
        tokio::select! {
            _ = tokio::time::sleep(INTERVAL) => {}
            changed = self.exits.changed() => {
                if changed.is_err() {
                    tokio::time::sleep(INTERVAL).await;
                }
            }
        }
    }

    /// The next object of a stream: the first at once, then one per interval. A stopped
    /// container gets one empty object and ends the stream.
    pub async fn next(&mut self) -> Option<ContainerStats> {
        if self.done {
            return None;
        }
        if self.started {
            self.pause().await;
        }
        self.started = true;
        let (s, running) = self.take().await;
        self.done = !running;
        Some(s)
    }

    /// The answer of `stream=false`. With `one_shot`, one sample (no `pre*`); without it, two
    /// samples an interval apart so that CPU % can be computed from the one answer.
    pub async fn single(mut self, one_shot: bool) -> ContainerStats {
        let (first, running) = self.take().await;
        if one_shot || !running {
            return first;
        }
        self.pause().await;
        self.take().await.0
    }
}
