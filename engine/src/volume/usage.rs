//! Volumes with their `UsageData` (size and containers using them), for `docker system df`.

use super::VolumeService;
use crate::api::types::{Volume, VolumeUsageData};
use crate::filters::Filters;

impl VolumeService {
    /// Every volume, its data walked on disk off the runtime's threads (dockerd measures on
    /// demand too: a volume's size changes with every write).
    pub async fn list_with_usage(&self) -> crate::error::Result<Vec<Volume>> {
        let mut vols = self.list(&Filters::default())?;
        let paths: Vec<_> = vols.iter().map(|v| self.path(&v.name)).collect();
        let sizes = tokio::task::spawn_blocking(move || {
            paths
                .iter()
                .map(|p| super::copy::dir_size(p) as i64)
                .collect::<Vec<_>>()
        })
        .await
        .map_err(|e| crate::error::EngineError::internal(format!("measuring volumes: {e}")))?;
        for (v, size) in vols.iter_mut().zip(sizes) {
            v.usage_data = Some(VolumeUsageData {
                size,
                ref_count: self.references(&v.name).len() as i64,
            });
        }
        Ok(vols)
    }
}
