//! `docker commit`: a new image from a container's image plus one layer of its changes.

use std::sync::Arc;

use super::{Container, ContainerService};
use crate::api::types::ContainerConfig;
use crate::error::{EngineError, Result};
use crate::image::commit::{child_config, merge_container_config, requested_tag, CommitInfo};
use crate::image::store::{ImageRecord, LayerRecord};

/// What `POST /commit` asks for.
#[derive(Default)]
pub struct CommitRequest {
    pub repo: Option<String>,
    pub tag: Option<String>,
    pub comment: String,
    pub author: String,
    /// Freeze a running container while its changes are read (dockerd's default).
    pub pause: bool,
    pub changes: Vec<String>,
    /// A config from the request body, used instead of the container's before `changes`.
    pub config: Option<ContainerConfig>,
}

impl ContainerService {
    /// Stores the container's changes as one layer on top of `parent`'s (None when nothing
    /// changed): the layer code of `docker commit`, which the builder's steps use too.
    pub async fn write_layer(
        &self,
        c: &Arc<Container>,
        parent: &ImageRecord,
    ) -> Result<Option<LayerRecord>> {
        let _op = c.op.lock().await;
        let upper = self.images.snapshots.container_upper(&c.id);
        let mount_points = self.spec_mount_destinations(c);
        self.images
            .add_layer(&parent.config.rootfs.diff_ids, true, move |w| {
                let fd = crate::fs::rootpath::open_host_dir(&upper)?;
                super::changes::write_layer_tar(&fd, &mount_points, w).map(|_| ())
            })
            .await
    }

    /// Commits the container; returns the new image's ID.
    pub async fn commit(
        self: &Arc<Self>,
        c: &Arc<Container>,
        req: CommitRequest,
    ) -> Result<String> {
        let (container_config, image_id, running, paused) = {
            let d = c.lock();
            if d.st.state.is_dead() {
                return Err(EngineError::Conflict(format!(
                    "You cannot commit container {} which is Dead",
                    c.id
                )));
            }
            if d.st.state.status() == super::state::Status::Removing {
                return Err(EngineError::Conflict(format!(
                    "You cannot commit container {} which is being removed",
                    c.id
                )));
            }
            (
                d.rec.config.clone(),
                d.rec.image_id.clone(),
                d.st.state.is_running(),
                d.st.state.is_paused(),
            )
        };
        let tag = requested_tag(req.repo.as_deref(), req.tag.as_deref())?;
        let mut config = req
            .config
            .clone()
            .unwrap_or_else(|| container_config.clone());
        crate::image::dockerfile_change::apply(&mut config, &req.changes)?;
        merge_container_config(&mut config, &container_config);
        let parent = self
            .images
            .store
            .get(&image_id)
            .ok_or_else(|| EngineError::NotFound(format!("No such image: {image_id}")))?;

        // Frozen, the container cannot change its upper dir while we read it.
        let paused_here = req.pause && running && !paused && self.pause(c).await.is_ok();
        let layer = self.write_layer(c, &parent).await;
        if paused_here {
            if let Err(e) = self.unpause(c).await {
                tracing::warn!(id = %c.id, error = %e, "unpausing after commit");
            }
        }
        let layer = layer?;
        let blob = child_config(
            &parent,
            layer.as_ref(),
            CommitInfo {
                container_id: &c.id,
                container_config: &container_config,
                config,
                author: &req.author,
                comment: &req.comment,
            },
        );
        let mut layers = parent.layers.clone();
        layers.extend(layer);
        let rec = self.images.add_built_image(blob, layers, tag.clone())?;
        let image_ref = tag
            .map(|t| crate::image::reference::familiar(&t))
            .unwrap_or_default();
        self.emit(
            c,
            "commit",
            &[
                ("comment", req.comment.clone()),
                ("imageID", rec.id.clone()),
                ("imageRef", image_ref),
            ],
        );
        Ok(rec.id)
    }
}
