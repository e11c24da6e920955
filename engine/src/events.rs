//! One event bus: container, image, volume and network events in Docker's `/events` format. The API's
//! `/events` stream and the desktop subscribe to it.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

use serde_json::{json, Value};
use tokio::sync::broadcast;

/// How many past events `since`/`until` can replay: dockerd keeps the last 256 in memory too.
const HISTORY: usize = 256;

pub struct EventBus {
    tx: broadcast::Sender<Value>,
    /// The newest events, oldest first.
    history: Mutex<VecDeque<Value>>,
}

impl Default for EventBus {
    fn default() -> Self {
        let (tx, _) = broadcast::channel(1024);
        EventBus {
            tx,
            history: Mutex::new(VecDeque::with_capacity(HISTORY)),
        }
    }
}

/// An event's `timeNano`.
pub fn time_nano(ev: &Value) -> i64 {
    ev["timeNano"].as_i64().unwrap_or(0)
}

impl EventBus {
    pub fn subscribe(&self) -> broadcast::Receiver<Value> {
        self.tx.subscribe()
    }

    /// The remembered events from `since` (Unix nanoseconds) on, oldest first, and a receiver for
    /// the ones after them: taken under the lock `emit` holds, so none is missed or repeated.
    pub fn subscribe_since(&self, since: i64) -> (Vec<Value>, broadcast::Receiver<Value>) {
        let history = self.history.lock().unwrap_or_else(|p| p.into_inner());
        let past = history
            .iter()
            .filter(|ev| time_nano(ev) >= since)
            .cloned()
            .collect();
        (past, self.tx.subscribe())
    }

    pub fn emit(&self, kind: &str, action: &str, id: &str, attributes: HashMap<String, String>) {
        let now = chrono::Utc::now();
        let nanos = now.timestamp_nanos_opt().unwrap_or(0);
        let mut ev = json!({
            "Type": kind,
            "Action": action,
            "Actor": {"ID": id, "Attributes": attributes},
            "scope": "local",
            "time": now.timestamp(),
            "timeNano": nanos,
        });
        // The pre-1.22 fields some clients still read.
        if kind == "container" || kind == "image" {
            ev["status"] = json!(action);
            ev["id"] = json!(id);
            if let Some(img) = attributes.get("image") {
                ev["from"] = json!(img);
            }
        }
        tracing::debug!(kind, action, id, "event");
        let mut history = self.history.lock().unwrap_or_else(|p| p.into_inner());
        if history.len() == HISTORY {
            history.pop_front();
        }
        history.push_back(ev.clone());
        let _ = self.tx.send(ev);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replays_from_since_and_forgets_the_oldest() {
        let bus = EventBus::default();
        for i in 0..HISTORY + 10 {
            bus.emit("volume", "create", &format!("v{i}"), HashMap::new());
        }
        let (all, _) = bus.subscribe_since(0);
        assert_eq!(all.len(), HISTORY);
        assert_eq!(all[0]["Actor"]["ID"], "v10", "the oldest ten are gone");
        let cut = time_nano(&all[200]);
        let (recent, mut rx) = bus.subscribe_since(cut);
        assert!(recent.iter().all(|ev| time_nano(ev) >= cut));
        assert_eq!(recent.last(), all.last());
        bus.emit("volume", "create", "after", HashMap::new());
        assert_eq!(rx.try_recv().unwrap()["Actor"]["ID"], "after");
    }
}
