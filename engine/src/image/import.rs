//! `docker import`: one tar (plain or gzip) becomes a single-layer image, its config built from
//! `--change` instructions only, as dockerd's `ImportImage` does.

use std::io::Read;

use super::commit::{requested_tag, LAYER_MEDIA_TYPE};
use super::ImageService;
use crate::api::types::{ContainerConfig, HistoryEntry, ImageConfigBlob, RootFs};
use crate::error::{EngineError, Result};
use crate::timestamp::now_rfc3339;

/// What `POST /images/create?fromSrc=-` asks for.
pub struct ImportRequest<'a> {
    pub repo: Option<&'a str>,
    pub tag: Option<&'a str>,
    pub changes: &'a [String],
    pub message: &'a str,
    pub platform: Option<&'a str>,
}

impl ImageService {
    /// Imports the tar read from `body`; returns the new image's ID.
    pub async fn import(
        &self,
        body: Box<dyn Read + Send>,
        req: ImportRequest<'_>,
    ) -> Result<String> {
        if let Some(p) = req.platform.filter(|p| !p.is_empty()) {
            if !p.starts_with("linux/amd64") && p != "linux" {
                return Err(EngineError::invalid(format!(
                    "image platform {p} is not supported on this engine (linux/amd64)"
                )));
            }
        }
        // Everything that can be refused is checked before the upload is consumed.
        let tag = requested_tag(req.repo, req.tag)?;
        let mut config = ContainerConfig::default();
        super::dockerfile_change::apply(&mut config, req.changes)?;

        let layer = self
            .add_layer(&[], false, move |w| {
                let mut input = super::unpack::decompress(body)
                    .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))?;
                std::io::copy(&mut input, w).map(|_| ())
            })
            .await?
            .ok_or_else(|| EngineError::internal("imported layer missing"))?;
        debug_assert_eq!(layer.media_type, LAYER_MEDIA_TYPE);
        let created = now_rfc3339();
        let comment = Some(req.message.to_string()).filter(|m| !m.is_empty());
        let mut extra = serde_json::Map::new();
        extra.insert("docker_version".into(), env!("CARGO_PKG_VERSION").into());
        let blob = ImageConfigBlob {
            created: Some(created.clone()),
            author: None,
            architecture: "amd64".into(),
            variant: None,
            os: "linux".into(),
            config: Some(config),
            rootfs: RootFs {
                kind: "layers".into(),
                diff_ids: vec![layer.diff_id.clone()],
            },
            history: vec![HistoryEntry {
                created: Some(created),
                comment: comment.clone(),
                ..Default::default()
            }],
            extra,
        };
        let rec = self.add_built_image(blob, vec![layer], tag)?;
        Ok(rec.id)
    }
}
