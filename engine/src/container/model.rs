//! What is stored for a container: the static record (`config.json`) and its state (`state.json`).

use serde::{Deserialize, Serialize};

use crate::api::types::{ContainerConfig, ContainerState, HostConfig};

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ContainerRecord {
    pub id: String,
    /// With dockerd's leading slash: `/web`.
    pub name: String,
    /// RFC 3339 with nanoseconds, UTC.
    pub created: String,
    pub path: String,
    pub args: Vec<String>,
    pub image_id: String,
    /// Config and image config merged, as dockerd stores it.
    pub config: ContainerConfig,
    pub host_config: HostConfig,
    /// Layer chain IDs of the image, bottom first (the overlay's lower dirs).
    pub layers: Vec<String>,
    /// The networks the container joins when it starts, by network name.
    #[serde(default)]
    pub networks: std::collections::BTreeMap<String, crate::api::types::network::EndpointRequest>,
    /// Volumes, binds and tmpfs mounts resolved at create (`Mounts` of inspect).
    #[serde(default)]
    pub mount_points: Vec<super::mounts::MountRecord>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct PersistedState {
    pub state: ContainerState,
    /// The monitor process of the current run, used to re-adopt it after a berthd restart.
    #[serde(default)]
    pub monitor_pid: i32,
    /// The network sandbox of the current run (namespace, endpoints, published ports).
    #[serde(default)]
    pub net: Option<crate::network::model::SandboxState>,
    /// Restarts made by the restart policy since the last start by hand (`RestartCount`).
    #[serde(default)]
    pub restart_count: i64,
    /// Stopped or killed by hand (dockerd's `HasBeenManuallyStopped`): no restart policy applies
    /// until the next start by hand, except `always` when berthd itself starts.
    #[serde(default)]
    pub manually_stopped: bool,
}

pub fn now_rfc3339() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true)
}

pub const ZERO_TIME: &str = "0001-01-01T00:00:00Z";

/// dockerd's `units.HumanDuration`, used in `docker ps` STATUS.
pub fn human_duration(secs: i64) -> String {
    let s = secs.max(0);
    let minutes = s / 60;
    let hours = minutes / 60;
    match s {
        0 => "Less than a second".into(),
        1 => "1 second".into(),
        2..=59 => format!("{s} seconds"),
        _ if minutes == 1 => "About a minute".into(),
        _ if minutes < 60 => format!("{minutes} minutes"),
        _ if hours == 1 => "About an hour".into(),
        _ if hours < 48 => format!("{hours} hours"),
        _ if hours < 24 * 7 * 2 => format!("{} days", hours / 24),
        _ if hours < 24 * 30 * 2 => format!("{} weeks", hours / 24 / 7),
        _ if hours < 24 * 365 * 2 => format!("{} months", hours / 24 / 30),
        _ => format!("{} years", hours / 24 / 365),
    }
}

pub fn secs_since(rfc3339: &str) -> i64 {
    chrono::DateTime::parse_from_rfc3339(rfc3339)
        .map(|t| (chrono::Utc::now() - t.with_timezone(&chrono::Utc)).num_seconds())
        .unwrap_or(0)
}

/// The STATUS column of `docker ps`.
pub fn status_text(s: &ContainerState) -> String {
    match s.status.as_str() {
        "running" if s.paused => {
            format!("Up {} (Paused)", human_duration(secs_since(&s.started_at)))
        }
        "running" | "paused" => format!("Up {}", human_duration(secs_since(&s.started_at))),
        "restarting" => format!(
            "Restarting ({}) {} ago",
            s.exit_code,
            human_duration(secs_since(&s.finished_at))
        ),
        "exited" => format!(
            "Exited ({}) {} ago",
            s.exit_code,
            human_duration(secs_since(&s.finished_at))
        ),
        "removing" => "Removal In Progress".into(),
        "dead" => "Dead".into(),
        _ => "Created".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_like_docker() {
        assert_eq!(human_duration(0), "Less than a second");
        assert_eq!(human_duration(5), "5 seconds");
        assert_eq!(human_duration(90), "About a minute");
        assert_eq!(human_duration(3 * 3600), "3 hours");
    }
}
