//! `Resources` of the swagger: a container's cgroup limits and ulimits, flattened into
//! `HostConfig` and into the body of `POST /containers/{id}/update`.
//!
//! Field types follow moby's Go struct, because inspect must show what dockerd shows: numbers are
//! `0` when unset, pointers (`MemorySwappiness`, `OomKillDisable`, `PidsLimit`) are `null`, and
//! lists are `null` unless the client sent one (the docker CLI sends `[]` for most).

use serde::{Deserialize, Serialize};

use super::container::{null_as_default, RestartPolicy};

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Resources {
    #[serde(deserialize_with = "null_as_default")]
    pub cpu_shares: i64,
    #[serde(deserialize_with = "null_as_default")]
    pub memory: i64,
    #[serde(deserialize_with = "null_as_default")]
    pub nano_cpus: i64,
    #[serde(deserialize_with = "null_as_default")]
    pub blkio_weight: u16,
    pub blkio_weight_device: Option<Vec<WeightDevice>>,
    pub blkio_device_read_bps: Option<Vec<ThrottleDevice>>,
    pub blkio_device_write_bps: Option<Vec<ThrottleDevice>>,
    #[serde(rename = "BlkioDeviceReadIOps")]
    pub blkio_device_read_iops: Option<Vec<ThrottleDevice>>,
    #[serde(rename = "BlkioDeviceWriteIOps")]
    pub blkio_device_write_iops: Option<Vec<ThrottleDevice>>,
    #[serde(deserialize_with = "null_as_default")]
    pub cpu_period: i64,
    #[serde(deserialize_with = "null_as_default")]
    pub cpu_quota: i64,
    #[serde(deserialize_with = "null_as_default")]
    pub cpu_realtime_period: i64,
    #[serde(deserialize_with = "null_as_default")]
    pub cpu_realtime_runtime: i64,
    #[serde(deserialize_with = "null_as_default")]
    pub cpuset_cpus: String,
    #[serde(deserialize_with = "null_as_default")]
    pub cpuset_mems: String,
    #[serde(deserialize_with = "null_as_default")]
    pub memory_reservation: i64,
    /// Memory plus swap; `-1` is unlimited swap.
    #[serde(deserialize_with = "null_as_default")]
    pub memory_swap: i64,
    pub memory_swappiness: Option<i64>,
    pub oom_kill_disable: Option<bool>,
    /// `0` or `-1` is unlimited, `null` leaves it alone.
    pub pids_limit: Option<i64>,
    pub ulimits: Option<Vec<Ulimit>>,
    // Windows only; kept so inspect shows them.
    #[serde(deserialize_with = "null_as_default")]
    pub cpu_count: i64,
    #[serde(deserialize_with = "null_as_default")]
    pub cpu_percent: i64,
    #[serde(rename = "IOMaximumIOps", deserialize_with = "null_as_default")]
    pub io_maximum_iops: u64,
    #[serde(rename = "IOMaximumBandwidth", deserialize_with = "null_as_default")]
    pub io_maximum_bandwidth: u64,
}

/// One `--ulimit name=soft:hard`; `-1` is unlimited.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Ulimit {
    pub name: String,
    pub hard: i64,
    pub soft: i64,
}

/// `--blkio-weight-device PATH:WEIGHT`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct WeightDevice {
    pub path: String,
    pub weight: u16,
}

/// `--device-read-bps PATH:RATE` and its three siblings.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ThrottleDevice {
    pub path: String,
    pub rate: u64,
}

/// Body of `POST /containers/{id}/update` (`UpdateConfig` in moby).
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ContainerUpdateRequest {
    #[serde(flatten)]
    pub resources: Resources,
    /// An empty name leaves the policy alone.
    #[serde(deserialize_with = "null_as_default")]
    pub restart_policy: RestartPolicy,
}

#[derive(Clone, Debug, Default, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ContainerUpdateResponse {
    pub warnings: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::types::HostConfig;

    #[test]
    fn defaults_serialize_like_dockerd() {
        let v = serde_json::to_value(Resources::default()).unwrap();
        assert_eq!(v["Memory"], 0);
        assert_eq!(v["NanoCpus"], 0);
        assert_eq!(v["CpuShares"], 0);
        assert!(v["PidsLimit"].is_null());
        assert!(v["MemorySwappiness"].is_null());
        assert!(v["OomKillDisable"].is_null());
        assert!(v["Ulimits"].is_null());
        assert!(v["BlkioDeviceReadIOps"].is_null());
        assert_eq!(v["IOMaximumIOps"], 0);
        assert_eq!(v["CpusetCpus"], "");
    }

    #[test]
    fn host_config_takes_resources_and_keeps_the_rest_in_extra() {
        let hc: HostConfig = serde_json::from_str(
            r#"{"Memory": 67108864, "NanoCpus": 500000000, "PidsLimit": 50,
                "MemorySwappiness": null, "Ulimits": [{"Name": "nofile", "Soft": 1024, "Hard": 2048}],
                "BlkioWeightDevice": [], "CpuShares": null, "Devices": [], "DeviceCgroupRules": [],
                "ShmSize": 0}"#,
        )
        .unwrap();
        assert_eq!(hc.resources.memory, 64 << 20);
        assert_eq!(hc.resources.nano_cpus, 500_000_000);
        assert_eq!(hc.resources.pids_limit, Some(50));
        assert_eq!(hc.resources.cpu_shares, 0);
        assert_eq!(hc.resources.blkio_weight_device, Some(vec![]));
        assert_eq!(
            hc.resources.ulimits,
            Some(vec![Ulimit {
                name: "nofile".into(),
                soft: 1024,
                hard: 2048
            }])
        );
        assert!(!hc.extra.contains_key("Memory"));
        assert_eq!(hc.device_cgroup_rules, Some(vec![]));
        assert!(!hc.extra.contains_key("DeviceCgroupRules"));
        assert!(hc.devices.is_empty() && !hc.extra.contains_key("Devices"));
        let v = serde_json::to_value(&hc).unwrap();
        assert_eq!(v["Memory"], 67108864);
        assert_eq!(v["PidsLimit"], 50);
        assert_eq!(v["BlkioWeightDevice"], serde_json::json!([]));
        assert_eq!(v["ShmSize"], 0);
    }

    #[test]
    fn update_body_parses() {
        let u: ContainerUpdateRequest = serde_json::from_str(
            r#"{"Memory": 134217728, "MemorySwap": 268435456, "PidsLimit": 80,
                "RestartPolicy": {"Name": "always", "MaximumRetryCount": 0}}"#,
        )
        .unwrap();
        assert_eq!(u.resources.memory, 128 << 20);
        assert_eq!(u.resources.pids_limit, Some(80));
        assert_eq!(u.restart_policy.name, "always");
        let u: ContainerUpdateRequest = serde_json::from_str(r#"{"RestartPolicy": null}"#).unwrap();
        assert!(u.restart_policy.name.is_empty());
    }
}
