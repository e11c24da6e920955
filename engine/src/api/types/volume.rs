//! Volume and mount JSON types, named as in moby's `api/swagger.yaml` (`Volume`, `VolumeCreateOptions`,
//! `VolumeListResponse`, `VolumePruneResponse`, `Mount`, `MountPoint`).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::container::null_as_default;

/// `Volume`: what `docker volume inspect` and `ls` show.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct Volume {
    /// RFC 3339, seconds precision.
    pub created_at: String,
    pub driver: String,
    /// `null` for volumes created implicitly without labels, as dockerd shows them.
    pub labels: Option<BTreeMap<String, String>>,
    pub mountpoint: String,
    pub name: String,
    pub options: Option<BTreeMap<String, String>>,
    pub scope: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub status: Option<Map<String, Value>>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub usage_data: Option<VolumeUsageData>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct VolumeUsageData {
    pub size: i64,
    pub ref_count: i64,
}

/// Body of `POST /volumes/create` (`VolumeCreateOptions`).
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct VolumeCreateRequest {
    pub name: String,
    pub driver: String,
    pub driver_opts: Option<BTreeMap<String, String>>,
    pub labels: Option<BTreeMap<String, String>>,
    pub cluster_volume_spec: Option<Value>,
}

#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct VolumeListResponse {
    pub volumes: Vec<Volume>,
    pub warnings: Option<Vec<String>>,
}

#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct VolumePruneResponse {
    pub volumes_deleted: Vec<String>,
    pub space_reclaimed: u64,
}

/// One entry of `HostConfig.Mounts` (`Mount` in the swagger). Every field is omitted when empty, as
/// moby's Go struct does, so `inspect` echoes what the client sent.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase", default)]
pub struct Mount {
    #[serde(rename = "Type", skip_serializing_if = "String::is_empty")]
    pub kind: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub source: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub target: String,
    #[serde(skip_serializing_if = "is_false")]
    pub read_only: bool,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub consistency: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bind_options: Option<BindOptions>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub volume_options: Option<VolumeOptions>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tmpfs_options: Option<TmpfsOptions>,
    /// `ImageOptions`, `ClusterOptions`, …: kept so they round-trip (and are refused).
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase", default)]
pub struct BindOptions {
    #[serde(skip_serializing_if = "String::is_empty")]
    pub propagation: String,
    #[serde(skip_serializing_if = "is_false")]
    pub non_recursive: bool,
    #[serde(skip_serializing_if = "is_false")]
    pub create_mountpoint: bool,
    #[serde(skip_serializing_if = "is_false")]
    pub read_only_non_recursive: bool,
    #[serde(skip_serializing_if = "is_false")]
    pub read_only_force_recursive: bool,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase", default)]
pub struct VolumeOptions {
    #[serde(skip_serializing_if = "is_false")]
    pub no_copy: bool,
    #[serde(
        skip_serializing_if = "BTreeMap::is_empty",
        deserialize_with = "null_as_default"
    )]
    pub labels: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub subpath: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub driver_config: Option<MountDriver>,
}

/// `VolumeOptions.DriverConfig`.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase", default)]
pub struct MountDriver {
    #[serde(skip_serializing_if = "String::is_empty")]
    pub name: String,
    #[serde(
        skip_serializing_if = "BTreeMap::is_empty",
        deserialize_with = "null_as_default"
    )]
    pub options: BTreeMap<String, String>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase", default)]
pub struct TmpfsOptions {
    #[serde(skip_serializing_if = "is_zero_i64")]
    pub size_bytes: i64,
    /// A Go `os.FileMode`: permission bits as a plain number.
    #[serde(skip_serializing_if = "is_zero_u32")]
    pub mode: u32,
    #[serde(
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "null_as_default"
    )]
    pub options: Vec<Vec<String>>,
}

/// One entry of a container's `Mounts` in `inspect` and `ps` (`MountPoint`).
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct MountPoint {
    #[serde(rename = "Type")]
    pub kind: String,
    #[serde(skip_serializing_if = "String::is_empty", default)]
    pub name: String,
    pub source: String,
    pub destination: String,
    #[serde(skip_serializing_if = "String::is_empty", default)]
    pub driver: String,
    pub mode: String,
    #[serde(rename = "RW")]
    pub rw: bool,
    pub propagation: String,
}

fn is_false(b: &bool) -> bool {
    !*b
}

fn is_zero_i64(n: &i64) -> bool {
    *n == 0
}

fn is_zero_u32(n: &u32) -> bool {
    *n == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mount_round_trips_like_moby() {
        let raw =
            r#"{"Type":"tmpfs","Target":"/t","TmpfsOptions":{"SizeBytes":1048576,"Mode":448}}"#;
        let m: Mount = serde_json::from_str(raw).unwrap();
        assert_eq!(m.tmpfs_options.as_ref().unwrap().mode, 0o700);
        assert_eq!(serde_json::to_string(&m).unwrap(), raw);
        let bind: Mount = serde_json::from_str(
            r#"{"Type":"bind","Source":"/s","Target":"/t","ReadOnly":true,"BindOptions":{"Propagation":"rshared"},"VolumeOptions":null}"#,
        )
        .unwrap();
        assert!(bind.read_only);
        assert!(bind.volume_options.is_none());
        assert_eq!(bind.bind_options.unwrap().propagation, "rshared");
    }

    #[test]
    fn mount_point_omits_name_and_driver_of_binds() {
        let mp = MountPoint {
            kind: "bind".into(),
            source: "/s".into(),
            destination: "/d".into(),
            rw: true,
            propagation: "rprivate".into(),
            ..Default::default()
        };
        let v = serde_json::to_value(&mp).unwrap();
        assert!(v.get("Name").is_none());
        assert!(v.get("Driver").is_none());
        assert_eq!(v["RW"], true);
    }
}
