//! `docker container prune`: every stopped container the filters select goes through the same
//! removal as `docker rm`, so its snapshot, files, name and volume references are released.

use std::collections::HashMap;
use std::sync::Arc;

use super::state::Status;
use super::ContainerService;
use crate::api::types::ContainerPruneResponse;
use crate::error::Result;
use crate::filters::Filters;

impl ContainerService {
    pub async fn prune(self: &Arc<Self>, filters: &Filters) -> Result<ContainerPruneResponse> {
        filters.only(&["label", "label!", "until"])?;
        let until = filters.until()?;
        let _running = self.prune.try_start()?;
        let mut deleted = Vec::new();
        let mut reclaimed = 0u64;
        let mut candidates = self.all();
        // Oldest first, so the report reads in creation order.
        candidates.sort_by_key(|c| c.lock().rec.created.clone());
        for c in candidates {
            let (stopped, created, labels) = {
                let d = c.lock();
                let s = &d.st.state;
                (
                    matches!(s.status(), Status::Created | Status::Exited | Status::Dead),
                    d.rec.created.clone(),
                    d.rec.config.labels.clone(),
                )
            };
            if !stopped || !filters.prune_labels_match(&labels) {
                continue;
            }
            if let Some(until) = until {
                let created = chrono::DateTime::parse_from_rfc3339(&created).ok();
                if created.is_none_or(|t| t > until) {
                    continue;
                }
            }
            // What the container wrote is what its removal frees.
            let upper = self.images.snapshots.container_upper(&c.id);
            let size = tokio::task::spawn_blocking(move || crate::volume::copy::dir_size(&upper))
                .await
                .unwrap_or(0);
            match self.remove(&c, false, false).await {
                Ok(()) => {
                    reclaimed += size;
                    deleted.push(c.id.clone());
                }
                // Started (or being removed) meanwhile: not ours to take.
                Err(e) => tracing::warn!(id = %c.id, error = %e, "could not prune container"),
            }
        }
        self.events.emit(
            "container",
            "prune",
            "",
            HashMap::from([("reclaimed".to_string(), reclaimed.to_string())]),
        );
        Ok(ContainerPruneResponse {
            containers_deleted: (!deleted.is_empty()).then_some(deleted),
            space_reclaimed: reclaimed,
        })
    }
}
