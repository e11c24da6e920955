//! What is stored for a container: the static record (`config.json`) and its state (`state.json`).

use serde::{Deserialize, Serialize};

use super::state::State;
use crate::api::types::{ContainerConfig, HostConfig};

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
    pub state: State,
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
    /// The health check's state (`container/health`), kept with the rest of the state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health: Option<crate::api::types::Health>,
}
