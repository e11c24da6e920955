//! `docker image prune`: removes dangling images (`dangling=true`, the default) or every image no
//! container uses (`dangling=false`, `-a`), through `rmi`'s own removal so that layers and blobs
//! go only when no other image holds them.

use super::ops::ImageUser;
use super::ImageService;
use crate::api::types::{ImageDeleteItem, ImagePruneResponse};
use crate::error::{EngineError, Result};
use crate::filters::Filters;

impl ImageService {
    /// `users` lists every container's image, running or not: those images are never touched.
    /// It is asked again before each image, so a container created meanwhile still counts.
    pub fn prune(
        &self,
        filters: &Filters,
        users: impl Fn() -> Vec<ImageUser>,
    ) -> Result<ImagePruneResponse> {
        filters.only(&["dangling", "label", "label!", "until"])?;
        let dangling_only = filters.bool("dangling")?.unwrap_or(true);
        let until = filters
            .until()
            .map_err(|e| EngineError::invalid(format!("invalid value for 'until' filter: {e}")))?;
        let _running = self.prune.try_start()?;
        let mut candidates = self.store.list();
        candidates.sort_by(|a, b| a.id.cmp(&b.id));
        // As dockerd: an untagged image with children (a build step another image stands on)
        // is no candidate; it goes with the last child that used it (rmi's parent pruning).
        let has_children = super::lineage::with_children(&super::lineage::parents(&candidates));
        let mut deleted: Vec<ImageDeleteItem> = Vec::new();
        let mut reclaimed = 0u64;
        for rec in candidates {
            if self.store.get(&rec.id).is_none() {
                continue; // removed with a child pruned before it
            }
            let tags = self.store.tags_of(&rec.id);
            if dangling_only && !tags.is_empty() {
                continue;
            }
            if tags.is_empty() && has_children.contains(&rec.id) {
                continue;
            }
            if until.is_some_and(|u| rec.created > u.timestamp()) {
                continue;
            }
            let labels = rec
                .config
                .config
                .as_ref()
                .map(|c| c.labels.clone())
                .unwrap_or_default();
            if !filters.prune_labels_match(&labels) {
                continue;
            }
            let users = users();
            if users.iter().any(|u| u.image_id == rec.id) {
                continue;
            }
            // By ID when untagged; else tag by tag, as `rmi` of each name would (the last one
            // deletes the image).
            let names = if tags.is_empty() {
                vec![rec.id.clone()]
            } else {
                tags
            };
            for name in names {
                match self.remove_counting(&name, false, false, &users) {
                    Ok((items, freed)) => {
                        deleted.extend(items);
                        reclaimed += freed;
                    }
                    Err(EngineError::Conflict(msg)) => {
                        tracing::debug!(image = %name, %msg, "image in use, not pruned");
                        break;
                    }
                    Err(e) => {
                        tracing::warn!(image = %name, error = %e, "could not prune image");
                        break;
                    }
                }
            }
        }
        Ok(ImagePruneResponse {
            images_deleted: (!deleted.is_empty()).then_some(deleted),
            space_reclaimed: reclaimed,
        })
    }
}
