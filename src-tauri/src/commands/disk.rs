//! Disk usage: `docker system df` (totals and per-object lists) and the prunes of the Disk usage
//! view, which report what they removed and the space reclaimed.
//!
//! The totals follow the docker CLI (`cli/command/formatter/disk_usage.go`): the engine only
//! sends lists, and "active" / "reclaimable" are derived from them here.

use std::collections::HashMap;
use std::path::Path;

use bollard::query_parameters::{
    PruneBuildOptions, PruneContainersOptions, PruneImagesOptions, PruneVolumesOptions,
};
use serde::{Deserialize, Serialize};
use tauri::State;
use ts_rs::TS;

use crate::backend::{limits, timed, Backend};
use crate::error::{from_bollard, CommandError, CommandResult};

/// One kind's line of `docker system df`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct DiskTotals {
    /// TOTAL: how many there are.
    pub count: u64,
    /// ACTIVE: images used by a container, running/paused/restarting containers, volumes some
    /// container mounts, build cache records in use.
    pub active: u64,
    /// SIZE, in bytes.
    pub size: i64,
    /// RECLAIMABLE, in bytes: what a prune of the unused ones would free.
    pub reclaimable: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct DiskImage {
    pub id: String,
    /// `repo:tag` names; empty for an untagged (dangling) image.
    pub repo_tags: Vec<String>,
    pub size: i64,
    /// Bytes shared with other images (layers they have in common); `null` when unknown.
    pub shared_size: Option<i64>,
    /// Containers using the image; `null` when unknown.
    pub containers: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct DiskContainer {
    pub id: String,
    pub name: String,
    pub image: String,
    /// The container's writable layer (`SizeRw`), in bytes.
    pub size: i64,
    /// `running`, `exited`, …
    pub state: String,
    /// "Up 3 minutes", "Exited (0) 2 hours ago".
    pub status: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct DiskVolume {
    pub name: String,
    /// Bytes; `null` when the engine does not know (not a local volume).
    pub size: Option<i64>,
    /// How many containers mount it; `null` when unknown.
    pub links: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct DiskUsage {
    pub images: DiskTotals,
    pub containers: DiskTotals,
    pub volumes: DiskTotals,
    pub build_cache: DiskTotals,
    pub image_list: Vec<DiskImage>,
    pub container_list: Vec<DiskContainer>,
    pub volume_list: Vec<DiskVolume>,
}

/// What a prune removed (ids or names) and the bytes it freed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct PruneReport {
    pub removed: Vec<String>,
    pub space_reclaimed: i64,
}

// `GET /system/df` as API 1.24–1.47 engines (berthd, dockerd before 29) answer it.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct DfAnswer {
    pub layers_size: i64,
    pub images: Option<Vec<DfImage>>,
    pub containers: Option<Vec<DfContainer>>,
    pub volumes: Option<Vec<DfVolume>>,
    pub build_cache: Option<Vec<DfBuildCache>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct DfImage {
    pub id: String,
    pub repo_tags: Option<Vec<String>>,
    pub size: i64,
    pub shared_size: i64,
    pub containers: i64,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct DfContainer {
    pub id: String,
    pub names: Option<Vec<String>>,
    pub image: String,
    pub size_rw: Option<i64>,
    pub state: String,
    pub status: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct DfVolume {
    pub name: String,
    pub usage_data: Option<DfVolumeUsage>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct DfVolumeUsage {
    pub size: i64,
    pub ref_count: i64,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct DfBuildCache {
    pub size: i64,
    pub in_use: bool,
    pub shared: bool,
}

/// `-1` (and anything negative) is the API's "not computed".
fn known(n: i64) -> Option<i64> {
    (n >= 0).then_some(n)
}

/// As the CLI: a container in one of these states keeps its writable layer.
fn container_active(state: &str) -> bool {
    ["running", "paused", "restarting"]
        .iter()
        .any(|s| state.contains(s))
}

/// The CLI's totals and the view's lists from the engine's answer.
pub fn summarize(df: DfAnswer) -> DiskUsage {
    let images = df.images.unwrap_or_default();
    let containers = df.containers.unwrap_or_default();
    let volumes = df.volumes.unwrap_or_default();
    let cache = df.build_cache.unwrap_or_default();

    // Images: the size is the layer store's (shared layers once); what images in use hold
    // exclusively (size − shared) is not reclaimable.
    let used: i64 = images
        .iter()
        .filter(|i| i.containers > 0)
        .filter_map(|i| Some(known(i.size)? - known(i.shared_size)?))
        .sum();
    let image_totals = DiskTotals {
        count: images.len() as u64,
        active: images.iter().filter(|i| i.containers > 0).count() as u64,
        size: df.layers_size,
        reclaimable: (df.layers_size - used).max(0),
    };

    let size_rw = |c: &DfContainer| c.size_rw.and_then(known).unwrap_or(0);
    let container_totals = DiskTotals {
        count: containers.len() as u64,
        active: containers
            .iter()
            .filter(|c| container_active(&c.state))
            .count() as u64,
        size: containers.iter().map(size_rw).sum(),
        reclaimable: containers
            .iter()
            .filter(|c| !container_active(&c.state))
            .map(size_rw)
            .sum(),
    };

    let usage = |v: &DfVolume| v.usage_data.as_ref().map(|u| (known(u.size), u.ref_count));
    let volume_totals = DiskTotals {
        count: volumes.len() as u64,
        active: volumes
            .iter()
            .filter(|v| matches!(usage(v), Some((_, r)) if r > 0))
            .count() as u64,
        size: volumes.iter().filter_map(|v| usage(v)?.0).sum(),
        reclaimable: volumes
            .iter()
            .filter_map(|v| match usage(v)? {
                (Some(size), 0) => Some(size),
                _ => None,
            })
            .sum(),
    };

    let cache_totals = DiskTotals {
        count: cache.len() as u64,
        active: cache.iter().filter(|c| c.in_use).count() as u64,
        size: cache.iter().filter(|c| !c.shared).map(|c| c.size).sum(),
        reclaimable: cache
            .iter()
            .filter(|c| !c.shared && !c.in_use)
            .map(|c| c.size)
            .sum(),
    };

    let mut image_list: Vec<DiskImage> = images
        .into_iter()
        .map(|i| DiskImage {
            repo_tags: i
                .repo_tags
                .unwrap_or_default()
                .into_iter()
                .filter(|t| t != "<none>:<none>")
                .collect(),
            size: i.size,
            shared_size: known(i.shared_size),
            containers: known(i.containers),
            id: i.id,
        })
        .collect();
    image_list.sort_by(|a, b| b.size.cmp(&a.size).then_with(|| a.id.cmp(&b.id)));

    let mut container_list: Vec<DiskContainer> = containers
        .into_iter()
        .map(|c| DiskContainer {
            size: size_rw(&c),
            name: c
                .names
                .unwrap_or_default()
                .first()
                .map(|n| n.trim_start_matches('/').to_string())
                .unwrap_or_default(),
            id: c.id,
            image: c.image,
            state: c.state,
            status: c.status,
        })
        .collect();
    container_list.sort_by(|a, b| b.size.cmp(&a.size).then_with(|| a.name.cmp(&b.name)));

    let mut volume_list: Vec<DiskVolume> = volumes
        .into_iter()
        .map(|v| DiskVolume {
            size: v.usage_data.as_ref().and_then(|u| known(u.size)),
            links: v.usage_data.as_ref().and_then(|u| known(u.ref_count)),
            name: v.name,
        })
        .collect();
    volume_list.sort_by(|a, b| b.size.cmp(&a.size).then_with(|| a.name.cmp(&b.name)));

    DiskUsage {
        images: image_totals,
        containers: container_totals,
        volumes: volume_totals,
        build_cache: cache_totals,
        image_list,
        container_list,
        volume_list,
    }
}

/// One `GET` on the engine socket with hyper's HTTP/1 client (the crate bollard itself uses):
/// the status and the whole body.
async fn raw_get(socket: &Path, path: &str) -> Result<(u16, Vec<u8>), String> {
    use http_body_util::BodyExt;
    let stream = tokio::net::UnixStream::connect(socket)
        .await
        .map_err(|e| format!("cannot connect to {}: {e}", socket.display()))?;
    let (mut sender, conn) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
            .await
            .map_err(|e| e.to_string())?;
    // The connection is driven until the answer is read; dropping it closes the socket.
    let driver = tokio::spawn(conn);
    let request = hyper::Request::get(path)
        .header(hyper::header::HOST, "localhost")
        .header(hyper::header::USER_AGENT, "berth-desktop")
        .body(http_body_util::Empty::<bytes::Bytes>::new())
        .map_err(|e| e.to_string())?;
    let answer = async {
        let resp = sender
            .send_request(request)
            .await
            .map_err(|e| e.to_string())?;
        let status = resp.status().as_u16();
        let body = resp
            .into_body()
            .collect()
            .await
            .map_err(|e| e.to_string())?
            .to_bytes();
        Ok((status, body.to_vec()))
    }
    .await;
    driver.abort();
    answer
}

/// The image ids a prune reports: the deleted layers' images, else the untagged names.
fn removed_images(r: &bollard::models::ImagePruneResponse) -> Vec<String> {
    r.images_deleted
        .iter()
        .flatten()
        .filter_map(|d| d.deleted.clone().or_else(|| d.untagged.clone()))
        .collect()
}

impl Backend {
    /// `docker system df`.
    ///
    /// A raw request, not bollard's `df()`: bollard 0.21 decodes the API 1.52 shape
    /// (`ImageUsage`, `ContainerUsage`, …), and berthd (API 1.24–1.47) answers with the older
    /// `LayersSize`/`Images`/`Containers`/`Volumes`/`BuildCache` lists, which that type would
    /// silently read as all empty. Same socket and negotiated API version as the bollard client.
    pub async fn disk_usage(&self) -> CommandResult<DiskUsage> {
        let docker = self.docker().await?;
        let v = docker.client_version();
        let path = format!("/v{}.{}/system/df", v.major_version, v.minor_version);
        let socket = self.host().socket_path();
        let answer = tokio::time::timeout(limits::STOP, raw_get(&socket, &path))
            .await
            .map_err(|_| CommandError::timed_out("disk usage", limits::STOP.as_secs()))?
            .map_err(|e| CommandError::unavailable(format!("The engine is not reachable: {e}")))?;
        let (status, body) = answer;
        if !(200..300).contains(&status) {
            let message = serde_json::from_slice::<serde_json::Value>(&body)
                .ok()
                .and_then(|v| v["message"].as_str().map(str::to_string))
                .unwrap_or_default();
            return Err(from_bollard(
                &bollard::errors::Error::DockerResponseServerError {
                    status_code: status,
                    message,
                },
            ));
        }
        let df: DfAnswer = serde_json::from_slice(&body)
            .map_err(|e| CommandError::engine(format!("Unexpected answer from the engine: {e}")))?;
        Ok(summarize(df))
    }

    /// `docker container prune`: stopped containers.
    pub async fn disk_prune_containers(&self) -> CommandResult<PruneReport> {
        let docker = self.docker().await?;
        let r = timed(
            "prune containers",
            limits::STOP,
            docker.prune_containers(None::<PruneContainersOptions>),
        )
        .await?;
        Ok(PruneReport {
            removed: r.containers_deleted.unwrap_or_default(),
            space_reclaimed: r.space_reclaimed.unwrap_or(0),
        })
    }

    /// `docker image prune` (dangling images), or with `all` `docker image prune -a` (every
    /// image no container uses).
    pub async fn disk_prune_images(&self, all: bool) -> CommandResult<PruneReport> {
        let docker = self.docker().await?;
        let dangling = if all { "false" } else { "true" };
        let filters = HashMap::from([("dangling".to_string(), vec![dangling.to_string()])]);
        let r = timed(
            "prune images",
            limits::STOP,
            docker.prune_images(Some(PruneImagesOptions {
                filters: Some(filters),
            })),
        )
        .await?;
        Ok(PruneReport {
            removed: removed_images(&r),
            space_reclaimed: r.space_reclaimed.unwrap_or(0),
        })
    }

    /// `docker volume prune`: unused anonymous volumes; with `all`, `docker volume prune -a`
    /// (API 1.42+: the `all=true` filter), which also deletes unused named volumes and their data.
    pub async fn disk_prune_volumes(&self, all: bool) -> CommandResult<PruneReport> {
        let docker = self.docker().await?;
        let options = all.then(|| PruneVolumesOptions {
            filters: Some(HashMap::from([(
                "all".to_string(),
                vec!["true".to_string()],
            )])),
        });
        let r = timed("prune volumes", limits::STOP, docker.prune_volumes(options)).await?;
        Ok(PruneReport {
            removed: r.volumes_deleted.unwrap_or_default(),
            space_reclaimed: r.space_reclaimed.unwrap_or(0),
        })
    }

    /// `docker builder prune`: the build cache no container uses.
    pub async fn disk_prune_build_cache(&self) -> CommandResult<PruneReport> {
        let docker = self.docker().await?;
        let r = timed(
            "prune build cache",
            limits::STOP,
            docker.prune_build(None::<PruneBuildOptions>),
        )
        .await?;
        Ok(PruneReport {
            removed: r.caches_deleted.unwrap_or_default(),
            space_reclaimed: r.space_reclaimed.unwrap_or(0),
        })
    }
}

#[tauri::command]
pub async fn disk_usage(backend: State<'_, std::sync::Arc<Backend>>) -> CommandResult<DiskUsage> {
    backend.disk_usage().await
}

// The `disk_` prefix: `prune_images` / `prune_volumes` already exist in the contract with other
// answers (counts only) and no `all` flag; these report what went and take the CLI's `-a`.

#[tauri::command]
pub async fn disk_prune_containers(
    backend: State<'_, std::sync::Arc<Backend>>,
) -> CommandResult<PruneReport> {
    backend.disk_prune_containers().await
}

#[tauri::command]
pub async fn disk_prune_images(
    backend: State<'_, std::sync::Arc<Backend>>,
    all: Option<bool>,
) -> CommandResult<PruneReport> {
    backend.disk_prune_images(all.unwrap_or(false)).await
}

#[tauri::command]
pub async fn disk_prune_volumes(
    backend: State<'_, std::sync::Arc<Backend>>,
    all: Option<bool>,
) -> CommandResult<PruneReport> {
    backend.disk_prune_volumes(all.unwrap_or(false)).await
}

#[tauri::command]
pub async fn disk_prune_build_cache(
    backend: State<'_, std::sync::Arc<Backend>>,
) -> CommandResult<PruneReport> {
    backend.disk_prune_build_cache().await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn df(json: serde_json::Value) -> DiskUsage {
        summarize(serde_json::from_value(json).expect("df answer"))
    }

    #[test]
    fn totals_as_the_docker_cli_computes_them() {
        let du = df(serde_json::json!({
            "LayersSize": 1000,
            "Images": [
                {"Id": "sha256:a", "RepoTags": ["berth/welcome:latest"], "Size": 600, "SharedSize": 100, "Containers": 2},
                {"Id": "sha256:b", "RepoTags": ["<none>:<none>"], "Size": 300, "SharedSize": 100, "Containers": 0},
                {"Id": "sha256:c", "RepoTags": null, "Size": 200, "SharedSize": -1, "Containers": 1}
            ],
            "Containers": [
                {"Id": "1", "Names": ["/web"], "Image": "nginx", "SizeRw": 50, "State": "running", "Status": "Up 1 minute"},
                {"Id": "2", "Names": ["/old"], "Image": "alpine", "SizeRw": 20, "State": "exited", "Status": "Exited (0)"},
                {"Id": "3", "Names": ["/nap"], "Image": "alpine", "SizeRw": 5, "State": "paused", "Status": "Up (Paused)"},
                {"Id": "4", "Names": ["/new"], "Image": "alpine", "State": "created", "Status": "Created"}
            ],
            "Volumes": [
                {"Name": "data", "UsageData": {"Size": 70, "RefCount": 1}},
                {"Name": "old", "UsageData": {"Size": 30, "RefCount": 0}},
                {"Name": "nfs", "UsageData": {"Size": -1, "RefCount": 0}},
                {"Name": "bare"}
            ],
            "BuildCache": [
                {"ID": "x", "Size": 40, "InUse": false, "Shared": false},
                {"ID": "y", "Size": 10, "InUse": true, "Shared": false},
                {"ID": "z", "Size": 99, "InUse": false, "Shared": true}
            ]
        }));
        // Used exclusively: only "a" (600 − 100); "c"'s shared size is unknown: skipped.
        assert_eq!(
            du.images,
            DiskTotals {
                count: 3,
                active: 2,
                size: 1000,
                reclaimable: 500
            }
        );
        assert_eq!(
            du.containers,
            DiskTotals {
                count: 4,
                active: 2,
                size: 75,
                reclaimable: 20
            }
        );
        assert_eq!(
            du.volumes,
            DiskTotals {
                count: 4,
                active: 1,
                size: 100,
                reclaimable: 30
            }
        );
        assert_eq!(
            du.build_cache,
            DiskTotals {
                count: 3,
                active: 1,
                size: 50,
                reclaimable: 40
            }
        );
        // Lists: biggest first, dangling image without names, unknown sizes as null.
        assert_eq!(du.image_list[0].repo_tags, vec!["berth/welcome:latest"]);
        assert!(du.image_list[1].repo_tags.is_empty());
        assert_eq!(du.image_list[2].shared_size, None);
        assert_eq!(du.container_list[0].name, "web");
        assert_eq!(du.container_list[3].size, 0);
        assert_eq!(du.volume_list[0].name, "data");
        assert_eq!(du.volume_list[0].links, Some(1));
        assert!(du
            .volume_list
            .iter()
            .any(|v| v.name == "nfs" && v.size.is_none()));
        let json = serde_json::to_value(&du).expect("json");
        assert_eq!(json["buildCache"]["reclaimable"], 40);
        assert_eq!(json["imageList"][0]["repoTags"][0], "berth/welcome:latest");
    }

    #[test]
    fn kinds_not_sent_are_zero() {
        let du = df(serde_json::json!({"LayersSize": 0, "Images": [], "BuildCache": null}));
        assert_eq!(du.images, DiskTotals::default());
        assert_eq!(du.containers, DiskTotals::default());
        assert!(du.volume_list.is_empty());
    }

    #[test]
    fn reclaimable_never_negative() {
        // An engine whose layer total is smaller than what images claim exclusively.
        let du = df(serde_json::json!({
            "LayersSize": 10,
            "Images": [{"Id": "a", "Size": 50, "SharedSize": 0, "Containers": 1}]
        }));
        assert_eq!(du.images.reclaimable, 0);
    }
}
