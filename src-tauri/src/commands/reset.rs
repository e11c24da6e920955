//! Troubleshoot's "Reset all data": every container, volume, user network and image of the
//! engine removed through the Docker API (so it works the same for a native engine and one in a
//! VM, and never needs the app to touch the engine's files). The built-in welcome image stays:
//! it ships with the engine, and the tour needs it offline.

use serde::Serialize;
use tauri::State;
use tracing::info;
use ts_rs::TS;

use crate::backend::Backend;
use crate::commands::images::ImageItem;
use crate::error::{CommandResult, ErrorKind};

/// The image the engine ships with (loaded on its first start); kept by a reset.
pub const BUILT_IN_IMAGE: (&str, &str) = ("berth/welcome", "latest");
/// Networks every engine has; they cannot be removed.
const PREDEFINED_NETWORKS: [&str; 3] = ["bridge", "host", "none"];

/// What a reset removed.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq, TS)]
#[serde(rename_all = "camelCase")]
pub struct ResetResult {
    pub containers: u64,
    pub images: u64,
    pub volumes: u64,
    pub networks: u64,
}

/// Images a reset removes: all but the built-in one, each id once (the list has a row per tag).
pub fn images_to_remove(images: &[ImageItem]) -> Vec<String> {
    let keep = |i: &ImageItem| (i.repository.as_str(), i.tag.as_str()) == BUILT_IN_IMAGE;
    let kept: Vec<&str> = images
        .iter()
        .filter(|i| keep(i))
        .map(|i| i.id.as_str())
        .collect();
    let mut ids: Vec<String> = Vec::new();
    for i in images {
        if !kept.contains(&i.id.as_str()) && !ids.contains(&i.id) {
            ids.push(i.id.clone());
        }
    }
    ids
}

impl Backend {
    /// Removes everything in order (containers first, so nothing holds an image, volume or
    /// network); stops at the first failure and says what it was, since a half-done reset
    /// is visible in every list and can simply be run again.
    pub async fn reset_engine_data(&self) -> CommandResult<ResetResult> {
        info!("engine data reset requested");
        let mut done = ResetResult::default();
        self.streams().close_all();

        for c in self.list_containers().await? {
            self.remove_container(&c.id, true).await?;
            done.containers += 1;
        }
        for v in self.list_volumes().await? {
            self.remove_volume(&v.name).await?;
            done.volumes += 1;
        }
        for n in self.list_networks().await? {
            if !PREDEFINED_NETWORKS.contains(&n.name.as_str()) {
                self.remove_network(&n.id).await?;
                done.networks += 1;
            }
        }
        for id in images_to_remove(&self.list_images().await?) {
            match self.remove_image(&id, true).await {
                Ok(()) => done.images += 1,
                // A parent removed with its child already: nothing left to do.
                Err(e) if e.kind == ErrorKind::NotFound => {}
                Err(e) => return Err(e),
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

    fn img(id: &str, repository: &str, tag: &str) -> ImageItem {
        ImageItem {
            id: id.into(),
            repository: repository.into(),
            tag: tag.into(),
            size: 0,
            created: 0,
            in_use: false,
        }
    }

    #[test]
    fn keeps_only_the_built_in_image() {
        let images = [
            img("sha256:a", "berth/welcome", "latest"),
            img("sha256:b", "busybox", "latest"),
            img("sha256:b", "busybox", "1"),
            img("sha256:c", "<none>", "<none>"),
        ];
        assert_eq!(images_to_remove(&images), vec!["sha256:b", "sha256:c"]);
    }
}
