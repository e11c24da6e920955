//! Troubleshoot's "Reset all data": every container, volume, user network and image of the
//! engine removed through the Docker API (so it works the same for a native engine and one in a
//! VM, and never needs the app to touch the engine's files). The built-in welcome image stays:
//! it ships with the engine, and the tour needs it offline.

use bollard::models::ImageSummary;
use bollard::query_parameters::{
    ListContainersOptions, ListImagesOptions, ListNetworksOptions, ListVolumesOptions,
    RemoveContainerOptions, RemoveImageOptions, RemoveVolumeOptions,
};
use serde::Serialize;
use tauri::State;
use tracing::{info, warn};

use crate::backend::{limits, timed, Backend};
use crate::error::{CommandResult, ErrorKind};

/// The image the engine ships with (loaded on its first start); kept by a reset.
pub const BUILT_IN_IMAGE: &str = "berth/welcome:latest";
/// Networks every engine has; they cannot be removed.
const PREDEFINED_NETWORKS: [&str; 3] = ["bridge", "host", "none"];

/// What a reset removed.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct ResetResult {
    pub containers: u64,
    pub images: u64,
    pub volumes: u64,
    pub networks: u64,
}

/// Images a reset removes: all but the built-in one.
pub fn images_to_remove(images: &[ImageSummary]) -> Vec<String> {
    images
        .iter()
        .filter(|i| !i.repo_tags.iter().any(|t| t == BUILT_IN_IMAGE))
        .map(|i| i.id.clone())
        .collect()
}

impl Backend {
    /// Removes everything in order (containers first, so nothing holds an image, volume or
    /// network); stops at the first failure and says what it was, since a half-done reset
    /// is visible in every list and can simply be run again.
    pub async fn reset_engine_data(&self) -> CommandResult<ResetResult> {
        info!("engine data reset requested");
        let docker = self.docker().await?;
        let mut done = ResetResult::default();
        self.streams().close_all();

        let containers = timed(
            "the container list",
            limits::QUICK,
            docker.list_containers(Some(ListContainersOptions {
                all: true,
                ..Default::default()
            })),
        )
        .await?;
        for c in containers.iter().filter_map(|c| c.id.as_deref()) {
            timed(
                "remove container",
                limits::STOP,
                docker.remove_container(
                    c,
                    Some(RemoveContainerOptions {
                        force: true,
                        v: true,
                        ..Default::default()
                    }),
                ),
            )
            .await?;
            done.containers += 1;
        }

        let volumes = timed(
            "the volume list",
            limits::QUICK,
            docker.list_volumes(None::<ListVolumesOptions>),
        )
        .await?;
        for v in volumes.volumes.unwrap_or_default() {
            timed(
                "remove volume",
                limits::QUICK,
                docker.remove_volume(&v.name, Some(RemoveVolumeOptions { force: true })),
            )
            .await?;
            done.volumes += 1;
        }

        let networks = timed(
            "the network list",
            limits::QUICK,
            docker.list_networks(None::<ListNetworksOptions>),
        )
        .await?;
        for n in networks {
            let name = n.name.unwrap_or_default();
            if PREDEFINED_NETWORKS.contains(&name.as_str()) {
                continue;
            }
            let id = n.id.unwrap_or(name);
            timed("remove network", limits::QUICK, docker.remove_network(&id)).await?;
            done.networks += 1;
        }

        let images = timed(
            "the image list",
            limits::QUICK,
            docker.list_images(Some(ListImagesOptions {
                all: false,
                ..Default::default()
            })),
        )
        .await?;
        for id in images_to_remove(&images) {
            let removed = timed(
                "remove image",
                limits::QUICK,
                docker.remove_image(
                    &id,
                    Some(RemoveImageOptions {
                        force: true,
                        noprune: false,
                        ..Default::default()
                    }),
                    None,
                ),
            )
            .await;
            match removed {
                Ok(_) => done.images += 1,
                // A parent removed with its child already: nothing left to do.
                Err(e) if e.kind == ErrorKind::NotFound => {}
                Err(e) => {
                    warn!("reset: removing image {id}: {}", e.message);
                    return Err(e);
                }
            }
        }
        info!(?done, "engine data reset");
        Ok(done)
    }
}

#[tauri::command]
pub async fn reset_engine_data(
    backend: State<'_, std::sync::Arc<Backend>>,
) -> CommandResult<ResetResult> {
    backend.reset_engine_data().await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn img(id: &str, tags: &[&str]) -> ImageSummary {
        ImageSummary {
            id: id.into(),
            repo_tags: tags.iter().map(|t| t.to_string()).collect(),
            ..Default::default()
        }
    }

    #[test]
    fn keeps_only_the_built_in_image() {
        let images = [
            img("sha256:a", &["berth/welcome:latest"]),
            img("sha256:b", &["busybox:latest", "busybox:1"]),
            img("sha256:c", &[]),
        ];
        assert_eq!(images_to_remove(&images), vec!["sha256:b", "sha256:c"]);
    }
}
