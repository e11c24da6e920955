//! One event bus: container, image, volume and network events in Docker's `/events` format. The API's
//! `/events` stream and the desktop subscribe to it.

use std::collections::HashMap;

use serde_json::{json, Value};
use tokio::sync::broadcast;

pub struct EventBus {
    tx: broadcast::Sender<Value>,
}

impl Default for EventBus {
    fn default() -> Self {
        let (tx, _) = broadcast::channel(1024);
        EventBus { tx }
    }
}

impl EventBus {
    pub fn subscribe(&self) -> broadcast::Receiver<Value> {
        self.tx.subscribe()
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
        let _ = self.tx.send(ev);
    }
}
