//! `docker logs`: the json-file log read back, filtered, and followed while the container runs.

use std::sync::Arc;

use chrono::{DateTime, Utc};

use super::Container;
use crate::monitor::logfile::{read_from, read_log_at, LogEntry};

pub struct LogOptions {
    pub follow: bool,
    pub tail: Option<usize>,
    pub since: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
}

/// Parses `since`/`until` as dockerd does (the CLI sends Unix seconds with a fraction; the API
/// also takes durations and dates); empty or `0` means no bound.
pub fn parse_time(s: &str) -> Option<DateTime<Utc>> {
    if s == "0" {
        return None;
    }
    crate::timestamp::parse(s, Utc::now()).ok()
}

fn keep(e: &LogEntry, o: &LogOptions) -> bool {
    o.since.is_none_or(|s| e.time >= s) && o.until.is_none_or(|u| e.time <= u)
}

/// Streams log entries into `tx` until done (or, with follow, until the container stops).
pub async fn stream(c: Arc<Container>, o: LogOptions, tx: tokio::sync::mpsc::Sender<LogEntry>) {
    let path = c.log_path();
    // As dockerd's json-file reader: the last `tail` lines (found from the end, so a long log
    // costs only what is shown), then the time window.
    let (entries, mut offset) = match read_log_at(&path, o.since, o.until, o.tail) {
        Ok(v) => v,
        Err(_) => return,
    };
    for e in entries {
        if tx.send(e).await.is_err() {
            return;
        }
    }
    if !o.follow {
        return;
    }
    let mut exits = c.exits();
    exits.borrow_and_update();
    loop {
        let running = c.is_running();
        let grew = c.io.log_grew.notified();
        let (new, next) = match read_from(&path, offset) {
            Ok(v) => v,
            Err(_) => return,
        };
        offset = next;
        for e in new.into_iter().filter(|e| keep(e, &o)) {
            if tx.send(e).await.is_err() {
                return;
            }
        }
        if !running {
            return;
        }
        if o.until.is_some_and(|u| Utc::now() > u) {
            return;
        }
        // Woken by new output or the exit; the timeout covers a restarted berthd's re-adoption gap.
        tokio::select! {
            _ = grew => {}
            _ = exits.changed() => {}
            _ = tokio::time::sleep(std::time::Duration::from_millis(500)) => {}
        }
    }
}
