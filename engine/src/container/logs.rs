//! `docker logs`: the json-file log read back, filtered, and followed while the container runs.

use std::sync::Arc;

use chrono::{DateTime, Utc};

use super::Container;
use std::os::unix::fs::MetadataExt;

use crate::monitor::logfile::{read_all_logs, read_from, read_rest_of_rotated, LogEntry};

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

impl Container {
    /// `docker logs` of a container whose log driver keeps nothing (`none`) is refused, as
    /// dockerd refuses reading from a driver without a reader.
    pub fn check_logs_readable(&self) -> crate::error::Result<()> {
        let cfg = self.lock().rec.host_config.log_config.clone();
        match super::log_driver::LogDriver::from_config(&cfg) {
            Ok(super::log_driver::LogDriver::None) => {
                Err(crate::error::EngineError::NotImplemented(
                    "configured logging driver does not support reading".into(),
                ))
            }
            _ => Ok(()),
        }
    }
}

fn keep(e: &LogEntry, o: &LogOptions) -> bool {
    o.since.is_none_or(|s| e.time >= s) && o.until.is_none_or(|u| e.time <= u)
}

/// Streams log entries into `tx` until done (or, with follow, until the container stops).
pub async fn stream(c: Arc<Container>, o: LogOptions, tx: tokio::sync::mpsc::Sender<LogEntry>) {
    let path = c.log_path();
    // As dockerd's json-file reader: the last `tail` lines (found from the end of the live file
    // when it is the only one), then the time window.
    let (entries, mut offset) = match read_all_logs(&path, o.since, o.until, o.tail) {
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
    let file_id = |p: &std::path::Path| std::fs::metadata(p).map(|m| (m.ino(), m.len())).ok();
    let mut live = file_id(&path).map(|(ino, _)| ino);
    loop {
        let running = c.is_running();
        let grew = c.io.log_grew.notified();
        // Rotated since the last read: finish the old file (now `.1`), then start the new one.
        match file_id(&path) {
            Some((ino, _)) if live.is_some_and(|old| old != ino) => {
                let rest = read_rest_of_rotated(&path, offset).unwrap_or_default();
                for e in rest.into_iter().filter(|e| keep(e, &o)) {
                    if tx.send(e).await.is_err() {
                        return;
                    }
                }
                offset = 0;
                live = Some(ino);
            }
            // Truncated in place (max-file 1).
            Some((ino, len)) if len < offset => {
                offset = 0;
                live = Some(ino);
            }
            Some((ino, _)) => live = Some(ino),
            None => {}
        }
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
