//! `docker system df`: what images, containers, volumes and the build cache hold on disk. The
//! CLI derives "active" and "reclaimable" from these lists itself.

use serde::Serialize;
use serde_json::Value;

use crate::api::types::{ContainerSummary, ImageSummary, Volume};
use crate::engine::Engine;
use crate::error::{EngineError, Result};
use crate::filters::Filters;

/// The object kinds of the `type` query parameter (API 1.42).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Container,
    Image,
    Volume,
    BuildCache,
}

impl Kind {
    pub const ALL: [Kind; 4] = [Kind::Container, Kind::Image, Kind::Volume, Kind::BuildCache];

    pub fn parse(s: &str) -> Result<Kind> {
        match s {
            "container" => Ok(Kind::Container),
            "image" => Ok(Kind::Image),
            "volume" => Ok(Kind::Volume),
            "build-cache" => Ok(Kind::BuildCache),
            _ => Err(EngineError::invalid(format!("unknown object type: {s}"))),
        }
    }
}

/// dockerd's `DiskUsage`: a kind not asked for is `null`.
#[derive(Debug, Default, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct DiskUsage {
    pub layers_size: i64,
    pub images: Option<Vec<ImageSummary>>,
    pub containers: Option<Vec<ContainerSummary>>,
    pub volumes: Option<Vec<Volume>>,
    pub build_cache: Option<Vec<Value>>,
}

impl Engine {
    pub async fn disk_usage(&self, kinds: &[Kind]) -> Result<DiskUsage> {
        let all = Filters::default();
        let mut du = DiskUsage::default();
        if kinds.contains(&Kind::Image) {
            let mut images = self
                .images
                .list(&all, &self.containers.image_users(), true)?;
            self.images.add_shared_sizes(&mut images);
            du.layers_size = self.images.layers_size();
            du.images = Some(images);
        }
        if kinds.contains(&Kind::Container) {
            let mut containers = self.containers.list(true, None, &all)?;
            self.containers.add_sizes(&mut containers).await;
            du.containers = Some(containers);
        }
        if kinds.contains(&Kind::Volume) {
            du.volumes = Some(self.volumes.list_with_usage().await?);
        }
        if kinds.contains(&Kind::BuildCache) {
            // The classic builder's cache: its untagged step images.
            du.build_cache = Some(crate::build::prune::records(self));
        }
        Ok(du)
    }
}
