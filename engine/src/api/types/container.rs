use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// `ContainerConfig` in the swagger; also the `config` object of an image.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ContainerConfig {
    pub hostname: String,
    pub domainname: String,
    pub user: String,
    pub attach_stdin: bool,
    pub attach_stdout: bool,
    pub attach_stderr: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exposed_ports: Option<BTreeMap<String, Value>>,
    pub tty: bool,
    pub open_stdin: bool,
    pub stdin_once: bool,
    #[serde(deserialize_with = "null_as_default")]
    pub env: Vec<String>,
    pub cmd: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub healthcheck: Option<Value>,
    pub image: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub volumes: Option<BTreeMap<String, Value>>,
    pub working_dir: String,
    pub entrypoint: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub network_disabled: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub on_build: Option<Vec<String>>,
    #[serde(deserialize_with = "null_as_default")]
    pub labels: HashMap<String, String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stop_signal: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stop_timeout: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shell: Option<Vec<String>>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// Accepts `null` where Docker clients send it for an empty list or map.
pub fn null_as_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct RestartPolicy {
    pub name: String,
    pub maximum_retry_count: i64,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct LogConfig {
    #[serde(rename = "Type")]
    pub kind: String,
    #[serde(deserialize_with = "null_as_default")]
    pub config: HashMap<String, String>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct HostConfig {
    pub network_mode: String,
    pub auto_remove: bool,
    pub privileged: bool,
    pub readonly_rootfs: bool,
    #[serde(deserialize_with = "null_as_default")]
    pub cap_add: Vec<String>,
    #[serde(deserialize_with = "null_as_default")]
    pub cap_drop: Vec<String>,
    /// `--security-opt`; `null` when none, as dockerd shows it.
    pub security_opt: Option<Vec<String>>,
    pub restart_policy: RestartPolicy,
    pub log_config: LogConfig,
    /// Extra groups of the container's processes (`--group-add`: IDs or names); `null` unset.
    pub group_add: Option<Vec<String>>,
    /// The OCI runtime (`--runtime`); set to the engine's default at create, as dockerd does.
    #[serde(deserialize_with = "null_as_default")]
    pub runtime: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub init: Option<bool>,
    /// `--shm-size` in bytes; set to the 64 MiB default at create, as dockerd shows it.
    #[serde(deserialize_with = "null_as_default")]
    pub shm_size: i64,
    /// `--sysctl`; absent unless given (moby's `omitempty`).
    #[serde(
        deserialize_with = "null_as_default",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub sysctls: BTreeMap<String, String>,
    /// `--oom-score-adj`, -1000..=1000; 0 (the default) is set on the process too, as dockerd.
    #[serde(deserialize_with = "null_as_default")]
    pub oom_score_adj: i64,
    /// `--pid`: `""`, `host` or `container:ID` (a name is stored as the ID, as dockerd).
    #[serde(deserialize_with = "null_as_default")]
    pub pid_mode: String,
    /// `--ipc`: `private` (the default, set at create), `shareable`, `none`, `host` or
    /// `container:ID`.
    #[serde(deserialize_with = "null_as_default")]
    pub ipc_mode: String,
    /// `--device`: host device nodes (or directories of them) given to the container.
    #[serde(deserialize_with = "null_as_default")]
    pub devices: Vec<DeviceMapping>,
    /// `--device-cgroup-rule`: device-cgroup rules added to the allowlist (`c 1:3 rwm`,
    /// `b 7:* r`, `a *:* m`); null when not given, as dockerd shows it.
    pub device_cgroup_rules: Option<Vec<String>>,
    /// `--uts`: `""` (the container's own hostname) or `host`.
    #[serde(rename = "UTSMode", deserialize_with = "null_as_default")]
    pub uts_mode: String,
    /// `--cgroupns`: `private` or `host`; set at create to the host's default when empty
    /// (private on cgroup v2, host on v1, as dockerd).
    #[serde(deserialize_with = "null_as_default")]
    pub cgroupns_mode: String,
    /// Legacy links, stored as dockerd does: `/NAME:/PARENT/ALIAS` (`container/links.rs`).
    pub links: Option<Vec<String>>,
    // Storage: volumes, binds and tmpfs.
    #[serde(deserialize_with = "null_as_default")]
    pub binds: Vec<String>,
    #[serde(deserialize_with = "null_as_default")]
    pub mounts: Vec<super::volume::Mount>,
    #[serde(deserialize_with = "null_as_default")]
    pub tmpfs: BTreeMap<String, String>,
    #[serde(deserialize_with = "null_as_default")]
    pub volumes_from: Vec<String>,
    // Networking: published ports, DNS and /etc/hosts.
    #[serde(deserialize_with = "null_as_default")]
    pub port_bindings: BTreeMap<String, Option<Vec<PortBinding>>>,
    pub publish_all_ports: bool,
    #[serde(deserialize_with = "null_as_default")]
    pub dns: Vec<String>,
    #[serde(deserialize_with = "null_as_default")]
    pub dns_search: Vec<String>,
    #[serde(deserialize_with = "null_as_default")]
    pub dns_options: Vec<String>,
    #[serde(deserialize_with = "null_as_default")]
    pub extra_hosts: Vec<String>,
    /// Cgroup limits and ulimits. Declared before `extra` so that it takes its fields first.
    #[serde(flatten)]
    pub resources: super::resources::Resources,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `--device HOST[:CONTAINER[:PERMISSIONS]]` (`HostConfig.Devices`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct DeviceMapping {
    #[serde(deserialize_with = "null_as_default")]
    pub path_on_host: String,
    #[serde(deserialize_with = "null_as_default")]
    pub path_in_container: String,
    #[serde(deserialize_with = "null_as_default")]
    pub cgroup_permissions: String,
}

/// One host side of a published port (`HostConfig.PortBindings`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct PortBinding {
    #[serde(rename = "HostIp")]
    pub host_ip: String,
    pub host_port: String,
}

/// Body of `POST /containers/create`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ContainerCreateRequest {
    #[serde(flatten)]
    pub config: ContainerConfig,
    #[serde(deserialize_with = "null_as_default")]
    pub host_config: HostConfig,
    #[serde(deserialize_with = "null_as_default")]
    pub networking_config: super::network::NetworkingConfig,
}

#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ContainerCreateResponse {
    pub id: String,
    pub warnings: Vec<String>,
}

/// `State` of container inspect (and, with `Running` meaning the process runs, the stored shape of
/// [`crate::container::state::State`]).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ContainerState {
    pub status: String,
    pub running: bool,
    pub paused: bool,
    pub restarting: bool,
    #[serde(rename = "OOMKilled")]
    pub oom_killed: bool,
    pub dead: bool,
    pub pid: i64,
    pub exit_code: i64,
    pub error: String,
    pub started_at: String,
    pub finished_at: String,
    /// Only for a container with a health check that has started (as dockerd).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub health: Option<Health>,
}

/// `State.Health`: the health check's status and its last results.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Health {
    /// `starting`, `healthy` or `unhealthy`.
    pub status: String,
    pub failing_streak: i64,
    /// The last results, oldest first (at most 5).
    #[serde(deserialize_with = "null_as_default")]
    pub log: Vec<HealthcheckResult>,
}

/// One probe run of `State.Health.Log`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct HealthcheckResult {
    pub start: String,
    pub end: String,
    pub exit_code: i64,
    pub output: String,
}

/// `Config.Healthcheck` (durations in nanoseconds; zero takes the default).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct HealthConfig {
    #[serde(deserialize_with = "null_as_default")]
    pub test: Vec<String>,
    #[serde(deserialize_with = "null_as_default")]
    pub interval: i64,
    #[serde(deserialize_with = "null_as_default")]
    pub timeout: i64,
    #[serde(deserialize_with = "null_as_default")]
    pub start_period: i64,
    #[serde(deserialize_with = "null_as_default")]
    pub start_interval: i64,
    #[serde(deserialize_with = "null_as_default")]
    pub retries: i64,
}

/// `GET /containers/{id}/json`, as dockerd's `ContainerJSON`.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ContainerInspectResponse {
    pub id: String,
    pub created: String,
    pub path: String,
    pub args: Vec<String>,
    pub state: ContainerState,
    pub image: String,
    pub resolv_conf_path: std::path::PathBuf,
    pub hostname_path: std::path::PathBuf,
    pub hosts_path: std::path::PathBuf,
    pub log_path: std::path::PathBuf,
    pub name: String,
    pub restart_count: i64,
    pub driver: &'static str,
    pub platform: &'static str,
    pub mount_label: String,
    pub process_label: String,
    pub app_armor_profile: String,
    /// `null` when the container has no exec, as dockerd writes it.
    #[serde(rename = "ExecIDs")]
    pub exec_ids: Option<Vec<String>>,
    pub host_config: HostConfig,
    pub graph_driver: GraphDriverData,
    pub mounts: Vec<super::volume::MountPoint>,
    pub config: ContainerConfig,
    pub network_settings: Value,
}

/// `GraphDriver` of container and image inspect.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct GraphDriverData {
    pub name: &'static str,
    pub data: BTreeMap<&'static str, std::path::PathBuf>,
}

#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ContainerSummary {
    pub id: String,
    pub names: Vec<String>,
    pub image: String,
    #[serde(rename = "ImageID")]
    pub image_id: String,
    pub command: String,
    pub created: i64,
    pub ports: Vec<Value>,
    pub labels: HashMap<String, String>,
    pub state: String,
    pub status: String,
    pub host_config: Value,
    pub network_settings: Value,
    pub mounts: Vec<super::volume::MountPoint>,
    /// What the container wrote (its upper dir), only when sizes were asked for (`ps -s`, df).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub size_rw: Option<i64>,
    /// `SizeRw` plus the image's layers.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub size_root_fs: Option<i64>,
}

/// `POST /containers/prune`. `ContainersDeleted` is `null` when none was, as dockerd writes it.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ContainerPruneResponse {
    pub containers_deleted: Option<Vec<String>>,
    pub space_reclaimed: u64,
}

/// Body of `POST /containers/{id}/exec`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ExecCreateRequest {
    pub attach_stdin: bool,
    pub attach_stdout: bool,
    pub attach_stderr: bool,
    pub detach_keys: String,
    pub tty: bool,
    #[serde(deserialize_with = "null_as_default")]
    pub env: Vec<String>,
    #[serde(deserialize_with = "null_as_default")]
    pub cmd: Vec<String>,
    pub privileged: bool,
    pub user: String,
    pub working_dir: String,
    pub console_size: Option<Vec<u16>>,
}

/// Body of `POST /exec/{id}/start`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ExecStartRequest {
    pub detach: bool,
    pub tty: bool,
    pub console_size: Option<Vec<u16>>,
}
