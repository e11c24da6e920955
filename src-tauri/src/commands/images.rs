//! Images: list, pull with progress, remove, prune, inspect, history.

use std::collections::{HashMap, HashSet};

use bollard::models::{CreateImageInfo, ImageSummary};
use bollard::query_parameters::{
    CreateImageOptions, ListImagesOptions, PruneImagesOptions, RemoveImageOptions,
};
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use tauri::ipc::Channel;
use tauri::State;
use tracing::info;
use ts_rs::TS;

use crate::backend::{limits, timed, Backend, Sink};
use crate::error::{CommandError, CommandResult, ErrorKind};

pub const NONE: &str = "<none>";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct ImageItem {
    pub id: String,
    pub repository: String,
    pub tag: String,
    pub size: i64,
    pub created: i64,
    pub in_use: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct PullProgress {
    pub id: Option<String>,
    pub status: String,
    pub current: Option<i64>,
    pub total: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct PruneResult {
    pub deleted: u64,
    pub space_reclaimed: i64,
}

/// `repo[:tag][@digest]` → (repository, tag or digest part). A `:` before the last `/` belongs to
/// a registry host (`localhost:5000/x`), not a tag.
pub fn split_reference(reference: &str) -> (&str, Option<&str>) {
    if let Some((repo, digest)) = reference.split_once('@') {
        return (
            repo.rsplit_once(':')
                .filter(|(_, t)| !t.contains('/'))
                .map_or(repo, |(r, _)| r),
            Some(digest),
        );
    }
    let last_slash = reference.rfind('/').map_or(0, |i| i + 1);
    match reference[last_slash..].rfind(':') {
        Some(i) => (
            &reference[..last_slash + i],
            Some(&reference[last_slash + i + 1..]),
        ),
        None => (reference, None),
    }
}

/// What to pull: a reference without tag or digest means `:latest` (as `docker pull`; the API
/// would pull every tag).
pub fn pull_reference(reference: &str) -> CommandResult<String> {
    let reference = crate::commands::containers::check_image_reference(reference)?;
    Ok(match split_reference(&reference) {
        (_, Some(_)) => reference,
        (_, None) => format!("{reference}:latest"),
    })
}

/// One item per `repo:tag`; an untagged image is one `<none>`/`<none>` item.
pub fn image_items(images: &[ImageSummary], used: &HashSet<String>) -> Vec<ImageItem> {
    let mut items = Vec::new();
    for img in images {
        let base = ImageItem {
            id: img.id.clone(),
            repository: NONE.into(),
            tag: NONE.into(),
            size: img.size,
            created: img.created,
            in_use: used.contains(&img.id),
        };
        let tags: Vec<&String> = img
            .repo_tags
            .iter()
            .filter(|t| t.as_str() != "<none>:<none>")
            .collect();
        if tags.is_empty() {
            let repository = img
                .repo_digests
                .first()
                .map(|d| split_reference(d).0.to_string())
                .filter(|r| !r.is_empty() && r != NONE)
                .unwrap_or_else(|| NONE.into());
            items.push(ImageItem { repository, ..base });
            continue;
        }
        for t in tags {
            let (repo, tag) = split_reference(t);
            items.push(ImageItem {
                repository: repo.to_string(),
                tag: tag.unwrap_or(NONE).to_string(),
                ..base.clone()
            });
        }
    }
    items.sort_by(|a, b| (&a.repository, &a.tag, &a.id).cmp(&(&b.repository, &b.tag, &b.id)));
    items
}

pub fn pull_progress(info: &CreateImageInfo) -> PullProgress {
    let detail = info.progress_detail.as_ref();
    PullProgress {
        id: info.id.clone().filter(|s| !s.is_empty()),
        status: info.status.clone().unwrap_or_default(),
        current: detail.and_then(|d| d.current),
        total: detail.and_then(|d| d.total).filter(|t| *t > 0),
    }
}

/// A pull failure that means "no such image" (registry wording varies).
fn is_missing_image(message: &str) -> bool {
    let m = message.to_ascii_lowercase();
    [
        "not found",
        "manifest unknown",
        "does not exist",
        "pull access denied",
        "name unknown",
        "no such image",
    ]
    .iter()
    .any(|s| m.contains(s))
}

fn pull_error(e: CommandError) -> CommandError {
    let e = if e.kind == ErrorKind::NotFound || is_missing_image(&e.message) {
        CommandError {
            kind: ErrorKind::NotFound,
            ..e
        }
    } else {
        e
    };
    if e.kind == ErrorKind::Unavailable {
        e
    } else {
        e.with_field("image")
    }
}

impl Backend {
    /// Image ids some container (running or not) was created from.
    async fn image_ids_in_use(&self) -> CommandResult<HashSet<String>> {
        Ok(self
            .all_containers()
            .await?
            .into_iter()
            .filter_map(|c| c.image_id)
            .collect())
    }

    pub async fn list_images(&self) -> CommandResult<Vec<ImageItem>> {
        let docker = self.docker().await?;
        let images = timed(
            "the image list",
            limits::QUICK,
            docker.list_images(None::<ListImagesOptions>),
        )
        .await?;
        let used = self.image_ids_in_use().await?;
        Ok(image_items(&images, &used))
    }

    /// Pulls `reference` (`:latest` when no tag), sending the engine's progress messages.
    pub async fn pull_image(
        &self,
        reference: &str,
        sink: impl Sink<PullProgress>,
    ) -> CommandResult<()> {
        let reference = pull_reference(reference)?;
        let docker = self.docker().await?;
        info!(%reference, "pulling");
        let mut stream = docker.create_image(
            Some(CreateImageOptions {
                from_image: Some(reference.clone()),
                ..Default::default()
            }),
            None,
            None,
        );
        let mut receiver_gone = false;
        loop {
            let item = tokio::time::timeout(limits::PULL_IDLE, stream.next())
                .await
                .map_err(|_| CommandError::timed_out("the pull", limits::PULL_IDLE.as_secs()))?;
            match item {
                None => return Ok(()),
                Some(Ok(info)) => {
                    // The pull goes on when the UI stops listening (it may run the image next).
                    if !receiver_gone && !sink(pull_progress(&info)) {
                        receiver_gone = true;
                    }
                }
                Some(Err(e)) => return Err(pull_error(e.into())),
            }
        }
    }

    pub async fn remove_image(&self, id: &str, force: bool) -> CommandResult<()> {
        let docker = self.docker().await?;
        timed(
            "remove image",
            limits::QUICK,
            docker.remove_image(
                id,
                Some(RemoveImageOptions {
                    force,
                    ..Default::default()
                }),
                None,
            ),
        )
        .await?;
        Ok(())
    }

    /// Removes dangling images (untagged, used by no container) with `/images/prune`.
    pub async fn prune_images(&self) -> CommandResult<PruneResult> {
        let docker = self.docker().await?;
        let filters = HashMap::from([("dangling".to_string(), vec!["true".to_string()])]);
        let r = timed(
            "prune images",
            limits::STOP,
            docker.prune_images(Some(PruneImagesOptions {
                filters: Some(filters),
            })),
        )
        .await?;
        Ok(PruneResult {
            deleted: r
                .images_deleted
                .unwrap_or_default()
                .iter()
                .filter(|d| d.deleted.is_some())
                .count() as u64,
            space_reclaimed: r.space_reclaimed.unwrap_or(0),
        })
    }

    pub async fn inspect_image(&self, id: &str) -> CommandResult<serde_json::Value> {
        let docker = self.docker().await?;
        let img = timed("inspect image", limits::QUICK, docker.inspect_image(id)).await?;
        serde_json::to_value(img).map_err(|e| CommandError::engine(e.to_string()))
    }

    pub async fn image_history(&self, id: &str) -> CommandResult<Vec<serde_json::Value>> {
        let docker = self.docker().await?;
        let h = timed("image history", limits::QUICK, docker.image_history(id)).await?;
        h.into_iter()
            .map(|x| serde_json::to_value(x).map_err(|e| CommandError::engine(e.to_string())))
            .collect()
    }
}

#[tauri::command]
pub async fn list_images(
    backend: State<'_, std::sync::Arc<Backend>>,
) -> CommandResult<Vec<ImageItem>> {
    backend.list_images().await
}

#[tauri::command]
pub async fn pull_image(
    backend: State<'_, std::sync::Arc<Backend>>,
    reference: String,
    on_progress: Channel<PullProgress>,
) -> CommandResult<()> {
    backend
        .pull_image(&reference, move |p| on_progress.send(p).is_ok())
        .await
}

#[tauri::command]
pub async fn remove_image(
    backend: State<'_, std::sync::Arc<Backend>>,
    id: String,
    force: bool,
) -> CommandResult<()> {
    backend.remove_image(&id, force).await
}

#[tauri::command]
pub async fn prune_images(
    backend: State<'_, std::sync::Arc<Backend>>,
) -> CommandResult<PruneResult> {
    backend.prune_images().await
}

#[tauri::command]
pub async fn inspect_image(
    backend: State<'_, std::sync::Arc<Backend>>,
    id: String,
) -> CommandResult<serde_json::Value> {
    backend.inspect_image(&id).await
}

#[tauri::command]
pub async fn image_history(
    backend: State<'_, std::sync::Arc<Backend>>,
    id: String,
) -> CommandResult<Vec<serde_json::Value>> {
    backend.image_history(&id).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_references() {
        assert_eq!(split_reference("busybox"), ("busybox", None));
        assert_eq!(split_reference("busybox:1.36"), ("busybox", Some("1.36")));
        assert_eq!(
            split_reference("localhost:5000/busybox"),
            ("localhost:5000/busybox", None)
        );
        assert_eq!(
            split_reference("localhost:5000/a/b:v1"),
            ("localhost:5000/a/b", Some("v1"))
        );
        assert_eq!(
            split_reference("busybox@sha256:abc"),
            ("busybox", Some("sha256:abc"))
        );
        assert_eq!(
            split_reference("busybox:1@sha256:abc"),
            ("busybox", Some("sha256:abc"))
        );
    }

    #[test]
    fn pull_references_get_latest() {
        assert_eq!(pull_reference("busybox").as_deref(), Ok("busybox:latest"));
        assert_eq!(
            pull_reference("127.0.0.1:5000/busybox").as_deref(),
            Ok("127.0.0.1:5000/busybox:latest")
        );
        assert_eq!(pull_reference(" busybox:1 ").as_deref(), Ok("busybox:1"));
        assert_eq!(pull_reference("x@sha256:00").as_deref(), Ok("x@sha256:00"));
        let e = pull_reference("").expect_err("empty");
        assert_eq!(e.field.as_deref(), Some("image"));
    }

    #[test]
    fn one_item_per_tag_and_none_for_dangling() {
        let images = vec![
            ImageSummary {
                id: "sha256:aa".into(),
                repo_tags: vec!["busybox:latest".into(), "reg:5000/busybox:1".into()],
                size: 10,
                created: 5,
                ..Default::default()
            },
            ImageSummary {
                id: "sha256:bb".into(),
                repo_tags: vec!["<none>:<none>".into()],
                ..Default::default()
            },
            ImageSummary {
                id: "sha256:cc".into(),
                repo_digests: vec!["alpine@sha256:123".into()],
                ..Default::default()
            },
        ];
        let used = HashSet::from(["sha256:aa".to_string()]);
        let items = image_items(&images, &used);
        let names: Vec<(String, String, bool)> = items
            .iter()
            .map(|i| (i.repository.clone(), i.tag.clone(), i.in_use))
            .collect();
        assert_eq!(
            names,
            vec![
                ("<none>".into(), "<none>".into(), false),
                ("alpine".into(), "<none>".into(), false),
                ("busybox".into(), "latest".into(), true),
                ("reg:5000/busybox".into(), "1".into(), true),
            ]
        );
        let json = serde_json::to_value(&items[2]).expect("json");
        assert_eq!(json["inUse"], true);
    }

    #[test]
    fn progress_messages() {
        let info: CreateImageInfo = serde_json::from_value(serde_json::json!({
            "id": "a1b2", "status": "Downloading",
            "progressDetail": {"current": 10, "total": 100}
        }))
        .expect("info");
        assert_eq!(
            pull_progress(&info),
            PullProgress {
                id: Some("a1b2".into()),
                status: "Downloading".into(),
                current: Some(10),
                total: Some(100)
            }
        );
        let info: CreateImageInfo = serde_json::from_value(
            serde_json::json!({"status": "Pulling from library/busybox", "progressDetail": {}}),
        )
        .expect("info");
        let p = pull_progress(&info);
        assert_eq!((p.id, p.current, p.total), (None, None, None));
    }

    #[test]
    fn missing_images_are_not_found_on_the_image_field() {
        let e = pull_error(CommandError::engine("manifest unknown: manifest unknown"));
        assert_eq!(
            (e.kind, e.field.as_deref()),
            (ErrorKind::NotFound, Some("image"))
        );
        let e = pull_error(CommandError::engine("registry on fire"));
        assert_eq!(
            (e.kind, e.field.as_deref()),
            (ErrorKind::Engine, Some("image"))
        );
        let e = pull_error(CommandError::unavailable("engine gone"));
        assert_eq!(e.field, None);
    }
}
