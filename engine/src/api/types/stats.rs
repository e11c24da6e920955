//! `GET /containers/{id}/stats` and `/top` JSON, named as in moby's `api/swagger.yaml`
//! (`ContainerStatsResponse`, `ContainerCPUStats`, `ContainerMemoryStats`, …, `ContainerTopResponse`).
//!
//! Values read from cgroup and proc files are `Option`s: a file that is missing or does not parse
//! leaves its field out instead of reporting a made-up zero. Fields Go marks `omitempty` are also
//! left out when zero, and `Default` is Go's zero value (what dockerd sends for a stopped
//! container), so the JSON has the shape clients know.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::timestamp::ZERO_TIME;

fn none_or_zero<T: Default + PartialEq>(v: &Option<T>) -> bool {
    v.as_ref().is_none_or(|x| *x == T::default())
}

#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct ContainerStats {
    pub read: String,
    pub preread: String,
    pub pids_stats: PidsStats,
    pub blkio_stats: BlkioStats,
    /// Windows only; always 0 on Linux.
    pub num_procs: u32,
    pub storage_stats: StorageStats,
    pub cpu_stats: CpuStats,
    pub precpu_stats: CpuStats,
    pub memory_stats: MemoryStats,
    pub name: String,
    pub id: String,
    pub os_type: String,
    /// Omitted when the container has no network interfaces of its own (host, none).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub networks: BTreeMap<String, NetworkStats>,
}

impl ContainerStats {
    /// dockerd's answer for a container that is not running: only the name and ID are set.
    pub fn empty(id: &str, name: &str) -> Self {
        ContainerStats {
            read: ZERO_TIME.into(),
            preread: ZERO_TIME.into(),
            pids_stats: PidsStats::default(),
            blkio_stats: BlkioStats::default(),
            num_procs: 0,
            storage_stats: StorageStats {},
            cpu_stats: CpuStats::default(),
            precpu_stats: CpuStats::default(),
            memory_stats: MemoryStats::default(),
            name: name.into(),
            id: id.into(),
            os_type: "linux".into(),
            networks: BTreeMap::new(),
        }
    }
}

#[derive(Clone, Debug, Default, Serialize, PartialEq)]
pub struct PidsStats {
    #[serde(skip_serializing_if = "none_or_zero")]
    pub current: Option<u64>,
    /// Absent when unlimited (`max`).
    #[serde(skip_serializing_if = "none_or_zero")]
    pub limit: Option<u64>,
}

#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct BlkioStatEntry {
    pub major: u64,
    pub minor: u64,
    pub op: String,
    pub value: u64,
}

/// Every list is `null` when unknown, as Go writes a nil slice; cgroup v2 fills only the first.
#[derive(Clone, Debug, Default, Serialize, PartialEq)]
pub struct BlkioStats {
    pub io_service_bytes_recursive: Option<Vec<BlkioStatEntry>>,
    pub io_serviced_recursive: Option<Vec<BlkioStatEntry>>,
    pub io_queue_recursive: Option<Vec<BlkioStatEntry>>,
    pub io_service_time_recursive: Option<Vec<BlkioStatEntry>>,
    pub io_wait_time_recursive: Option<Vec<BlkioStatEntry>>,
    pub io_merged_recursive: Option<Vec<BlkioStatEntry>>,
    pub io_time_recursive: Option<Vec<BlkioStatEntry>>,
    pub sectors_recursive: Option<Vec<BlkioStatEntry>>,
}

/// Windows only; `{}` on Linux.
#[derive(Clone, Debug, Default, Serialize, PartialEq)]
pub struct StorageStats {}

#[derive(Clone, Debug, Default, Serialize, PartialEq)]
pub struct CpuStats {
    pub cpu_usage: CpuUsage,
    /// Nanoseconds of CPU time the whole host used (all CPUs), from `/proc/stat`.
    #[serde(skip_serializing_if = "none_or_zero")]
    pub system_cpu_usage: Option<u64>,
    #[serde(skip_serializing_if = "none_or_zero")]
    pub online_cpus: Option<u32>,
    pub throttling_data: ThrottlingData,
}

/// Nanoseconds.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct CpuUsage {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub total_usage: Option<u64>,
    /// cgroup v1 only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub percpu_usage: Option<Vec<u64>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub usage_in_kernelmode: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub usage_in_usermode: Option<u64>,
}

impl Default for CpuUsage {
    /// Go's zero value: the fields without `omitempty` are written as 0.
    fn default() -> Self {
        CpuUsage {
            total_usage: Some(0),
            percpu_usage: None,
            usage_in_kernelmode: Some(0),
            usage_in_usermode: Some(0),
        }
    }
}

#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct ThrottlingData {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub periods: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub throttled_periods: Option<u64>,
    /// Nanoseconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub throttled_time: Option<u64>,
}

impl Default for ThrottlingData {
    fn default() -> Self {
        ThrottlingData {
            periods: Some(0),
            throttled_periods: Some(0),
            throttled_time: Some(0),
        }
    }
}

#[derive(Clone, Debug, Default, Serialize, PartialEq)]
pub struct MemoryStats {
    #[serde(skip_serializing_if = "none_or_zero")]
    pub usage: Option<u64>,
    /// cgroup v1 only.
    #[serde(skip_serializing_if = "none_or_zero")]
    pub max_usage: Option<u64>,
    /// The cgroup's `memory.stat`, with the keys dockerd reports for its cgroup version.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub stats: BTreeMap<String, u64>,
    #[serde(skip_serializing_if = "none_or_zero")]
    pub failcnt: Option<u64>,
    /// The host's memory when the container has no (lower) limit.
    #[serde(skip_serializing_if = "none_or_zero")]
    pub limit: Option<u64>,
}

#[derive(Clone, Debug, Default, Serialize, PartialEq)]
pub struct NetworkStats {
    pub rx_bytes: u64,
    pub rx_packets: u64,
    pub rx_errors: u64,
    pub rx_dropped: u64,
    pub tx_bytes: u64,
    pub tx_packets: u64,
    pub tx_errors: u64,
    pub tx_dropped: u64,
}

#[derive(Clone, Debug, Serialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct ContainerTopResponse {
    pub titles: Vec<String>,
    pub processes: Vec<Vec<String>>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stopped_container_serializes_like_go_zero_values() {
        let v = serde_json::to_value(ContainerStats::empty("abc", "/web")).unwrap();
        assert_eq!(v["read"], ZERO_TIME);
        assert_eq!(v["pids_stats"], serde_json::json!({}));
        assert_eq!(v["memory_stats"], serde_json::json!({}));
        assert_eq!(v["storage_stats"], serde_json::json!({}));
        assert!(v["blkio_stats"]["io_service_bytes_recursive"].is_null());
        assert_eq!(
            v["cpu_stats"],
            serde_json::json!({
                "cpu_usage": {"total_usage": 0, "usage_in_kernelmode": 0, "usage_in_usermode": 0},
                "throttling_data": {"periods": 0, "throttled_periods": 0, "throttled_time": 0}
            })
        );
        assert_eq!(v["name"], "/web");
        assert!(v.get("networks").is_none());
    }
}
