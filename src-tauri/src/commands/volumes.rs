//! Volumes: list, create, remove, prune, inspect.

use std::collections::{BTreeMap, HashSet};

use bollard::models::{ContainerSummary, Volume, VolumeCreateRequest};
use bollard::query_parameters::{ListVolumesOptions, PruneVolumesOptions, RemoveVolumeOptions};
use serde::{Deserialize, Serialize};
use tauri::State;
use ts_rs::TS;

use crate::backend::{limits, timed, Backend};
use crate::commands::containers::valid_object_name;
use crate::error::{CommandError, CommandResult, ErrorKind};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct VolumeItem {
    pub name: String,
    pub driver: String,
    pub mountpoint: String,
    /// Unix seconds (the engine's `CreatedAt`, RFC 3339), when known.
    pub created: Option<i64>,
    pub in_use: bool,
    pub labels: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct DeletedCount {
    pub deleted: u64,
}

/// RFC 3339 → unix seconds.
pub fn unix_seconds(rfc3339: &str) -> Option<i64> {
    chrono::DateTime::parse_from_rfc3339(rfc3339)
        .ok()
        .map(|t| t.timestamp())
}

pub fn volume_item(v: &Volume, used: &HashSet<String>) -> VolumeItem {
    VolumeItem {
        name: v.name.clone(),
        driver: v.driver.clone(),
        mountpoint: v.mountpoint.clone(),
        created: v
            .created_at
            .as_ref()
            .and_then(|c| unix_seconds(&c.to_string())),
        in_use: used.contains(&v.name),
        labels: v.labels.clone().into_iter().collect(),
    }
}

/// Names of the volumes any container (running or not) mounts.
pub fn volumes_in_use(containers: &[ContainerSummary]) -> HashSet<String> {
    containers
        .iter()
        .flat_map(|c| c.mounts.iter().flatten())
        .filter(|m| m.typ.as_deref() == Some("volume"))
        .filter_map(|m| m.name.clone())
        .collect()
}

impl Backend {
    async fn used_volumes(&self) -> CommandResult<HashSet<String>> {
        Ok(volumes_in_use(&self.all_containers().await?))
    }

    pub async fn list_volumes(&self) -> CommandResult<Vec<VolumeItem>> {
        let docker = self.docker().await?;
        let list = timed(
            "the volume list",
            limits::QUICK,
            docker.list_volumes(None::<ListVolumesOptions>),
        )
        .await?;
        let used = self.used_volumes().await?;
        let mut items: Vec<VolumeItem> = list
            .volumes
            .unwrap_or_default()
            .iter()
            .map(|v| volume_item(v, &used))
            .collect();
        items.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(items)
    }

    /// Creates a volume (`None`: the engine picks a name).
    pub async fn create_volume(&self, name: Option<&str>) -> CommandResult<VolumeItem> {
        let name = name.map(str::trim).filter(|n| !n.is_empty());
        if let Some(n) = name {
            if !valid_object_name(n) {
                return Err(CommandError::invalid(
                    "name",
                    format!(
                        "Invalid volume name ({n}): use at least 2 of a-z, A-Z, 0-9, _ . - starting with a letter or digit"
                    ),
                ));
            }
        }
        let docker = self.docker().await?;
        let v = timed(
            "create volume",
            limits::QUICK,
            docker.create_volume(VolumeCreateRequest {
                name: name.map(str::to_string),
                ..Default::default()
            }),
        )
        .await
        .map_err(|e| e.field_if(ErrorKind::Conflict, "name"))?;
        let used = self.used_volumes().await?;
        Ok(volume_item(&v, &used))
    }

    pub async fn remove_volume(&self, name: &str) -> CommandResult<()> {
        let docker = self.docker().await?;
        timed(
            "remove volume",
            limits::QUICK,
            docker.remove_volume(name, None::<RemoveVolumeOptions>),
        )
        .await
    }

    /// Removes unused anonymous volumes (the engine's default; named volumes keep their data).
    pub async fn prune_volumes(&self) -> CommandResult<DeletedCount> {
        let docker = self.docker().await?;
        let r = timed(
            "prune volumes",
            limits::STOP,
            docker.prune_volumes(None::<PruneVolumesOptions>),
        )
        .await?;
        Ok(DeletedCount {
            deleted: r.volumes_deleted.unwrap_or_default().len() as u64,
        })
    }

    pub async fn inspect_volume(&self, name: &str) -> CommandResult<serde_json::Value> {
        let docker = self.docker().await?;
        let v = timed("inspect volume", limits::QUICK, docker.inspect_volume(name)).await?;
        serde_json::to_value(v).map_err(|e| CommandError::engine(e.to_string()))
    }
}

#[tauri::command]
pub async fn list_volumes(
    backend: State<'_, std::sync::Arc<Backend>>,
) -> CommandResult<Vec<VolumeItem>> {
    backend.list_volumes().await
}

#[tauri::command]
pub async fn create_volume(
    backend: State<'_, std::sync::Arc<Backend>>,
    name: Option<String>,
) -> CommandResult<VolumeItem> {
    backend.create_volume(name.as_deref()).await
}

#[tauri::command]
pub async fn remove_volume(
    backend: State<'_, std::sync::Arc<Backend>>,
    name: String,
) -> CommandResult<()> {
    backend.remove_volume(&name).await
}

#[tauri::command]
pub async fn prune_volumes(
    backend: State<'_, std::sync::Arc<Backend>>,
) -> CommandResult<DeletedCount> {
    backend.prune_volumes().await
}

#[tauri::command]
pub async fn inspect_volume(
    backend: State<'_, std::sync::Arc<Backend>>,
    name: String,
) -> CommandResult<serde_json::Value> {
    backend.inspect_volume(&name).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use bollard::models::MountPoint;

    #[test]
    fn maps_a_volume() {
        let v = Volume {
            name: "data".into(),
            driver: "local".into(),
            mountpoint: "/var/lib/berth/volumes/data/_data".into(),
            created_at: Some("2024-05-01T10:00:00Z".into()),
            labels: [("a".to_string(), "b".to_string())].into_iter().collect(),
            ..Default::default()
        };
        let item = volume_item(&v, &HashSet::from(["data".to_string()]));
        assert_eq!(item.created, Some(1_714_557_600));
        assert!(item.in_use);
        let json = serde_json::to_value(&item).expect("json");
        assert_eq!(json["inUse"], true);
        assert_eq!(json["labels"]["a"], "b");
        assert_eq!(unix_seconds("garbage"), None);
    }

    #[test]
    fn in_use_counts_only_volume_mounts() {
        let c = ContainerSummary {
            mounts: Some(vec![
                MountPoint {
                    typ: Some("volume".into()),
                    name: Some("data".into()),
                    ..Default::default()
                },
                MountPoint {
                    typ: Some("bind".into()),
                    source: Some("/srv".into()),
                    ..Default::default()
                },
            ]),
            ..Default::default()
        };
        assert_eq!(volumes_in_use(&[c]), HashSet::from(["data".to_string()]));
    }
}
