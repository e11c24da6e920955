//! Images built here rather than pulled: a new layer from a tar we produce (`docker commit`) or
//! receive (`docker import`), stored like a pulled one (an uncompressed blob in the content
//! store, unpacked by the one unpacker into the snapshot of its chain), and the image record.

use std::io::{self, Write};

use anyhow::Context;
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::reference;
use super::store::{ImageRecord, LayerRecord};
use super::ImageService;
use crate::api::types::{ContainerConfig, HistoryEntry, ImageConfigBlob, RootFs};
use crate::error::{EngineError, Result};
use crate::snapshot::chain_ids;
use crate::timestamp::now_rfc3339;

/// Diff ID of a tar with no entries (two zero blocks): a commit that changed nothing.
pub const EMPTY_LAYER_DIFF_ID: &str =
    "sha256:5f70bf18a086007016e948b04aed3b82103a36bea41755b6cddfaf10ace3c6ef";

pub const LAYER_MEDIA_TYPE: &str = super::media::OCI_LAYER;

struct HashingWriter<W> {
    inner: W,
    hasher: Sha256,
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// The canonical tag a commit or import asks for (`repo` may carry the tag itself).
pub fn requested_tag(repo: Option<&str>, tag: Option<&str>) -> Result<Option<String>> {
    let Some(repo) = repo.filter(|r| !r.is_empty()) else {
        return Ok(None);
    };
    let name = match tag.filter(|t| !t.is_empty()) {
        Some(t) => format!("{repo}:{t}"),
        None => repo.to_string(),
    };
    let r = reference::parse(&name)?;
    if r.digest().is_some() {
        return Err(EngineError::invalid(
            "refusing to create a tag with a digest reference",
        ));
    }
    Ok(reference::canonical_tag(&r))
}

impl ImageService {
    /// Stores the uncompressed layer tar that `produce` writes and unpacks it on top of the
    /// layers `parent_diff_ids`. With `skip_empty`, a tar without entries leaves nothing behind
    /// and gives None (dockerd's commit adds no layer then).
    pub async fn add_layer<F>(
        &self,
        parent_diff_ids: &[String],
        skip_empty: bool,
        produce: F,
    ) -> Result<Option<LayerRecord>>
    where
        F: FnOnce(&mut dyn Write) -> io::Result<()> + Send + 'static,
    {
        let ingest = self.content.ingest_path_unnamed();
        let path = ingest.clone();
        let written = tokio::task::spawn_blocking(move || -> anyhow::Result<String> {
            let f = std::fs::File::create(&path)
                .with_context(|| format!("creating {}", path.display()))?;
            let mut w = HashingWriter {
                inner: io::BufWriter::new(f),
                hasher: Sha256::new(),
            };
            produce(&mut w).context("writing the layer")?;
            w.flush()?;
            let f = w.inner.into_inner().map_err(|e| e.into_error())?;
            f.sync_all()?;
            Ok(format!("sha256:{}", hex::encode(w.hasher.finalize())))
        })
        .await
        .map_err(|e| EngineError::internal(format!("layer task: {e}")))?;
        let diff_id = match written {
            Ok(d) => d,
            Err(e) => {
                let _ = std::fs::remove_file(&ingest);
                return Err(EngineError::Internal(e));
            }
        };
        if skip_empty && diff_id == EMPTY_LAYER_DIFF_ID {
            let _ = std::fs::remove_file(&ingest);
            return Ok(None);
        }
        if self.content.has(&diff_id) {
            let _ = std::fs::remove_file(&ingest);
        } else {
            self.content.commit(&ingest, &diff_id)?;
        }
        let mut ids = parent_diff_ids.to_vec();
        ids.push(diff_id.clone());
        let chain = chain_ids(&ids).pop().unwrap_or_else(|| diff_id.clone());
        let lock = self.layer_lock(&chain);
        let _guard = lock.lock().await;
        let size = match self.snapshots.layer_size(&chain) {
            Some(s) => s,
            None => self.unpack_blob(&diff_id, &diff_id, &chain).await?,
        };
        Ok(Some(LayerRecord {
            diff_id: diff_id.clone(),
            chain_id: chain,
            blob: Some(diff_id),
            media_type: LAYER_MEDIA_TYPE.into(),
            size,
        }))
    }

    /// Records an image built here: its config goes to the content store (the digest is its
    /// ID), the record to the index, `tag` (canonical) points at it.
    pub fn add_built_image(
        &self,
        config: ImageConfigBlob,
        layers: Vec<LayerRecord>,
        tag: Option<String>,
    ) -> Result<ImageRecord> {
        let raw = serde_json::to_vec(&config).context("serializing image config")?;
        let id = self.content.put(&raw)?;
        let rec = ImageRecord {
            id,
            size: layers.iter().map(|l| l.size).sum(),
            created: config.created_unix(),
            config,
            layers,
            repo_digests: vec![],
        };
        let tags: Vec<String> = tag.into_iter().collect();
        self.store.add(rec.clone(), &tags)?;
        Ok(rec)
    }
}

/// What `docker commit` records besides the layer.
pub struct CommitInfo<'a> {
    pub container_id: &'a str,
    /// The container's config when it was committed (`container_config`).
    pub container_config: &'a ContainerConfig,
    /// The new image's config (changes applied).
    pub config: ContainerConfig,
    pub author: &'a str,
    pub comment: &'a str,
}

/// The config of a committed image: the parent's, plus the new layer and a history entry, as
/// moby's `image.NewChildImage`.
pub fn child_config(
    parent: &ImageRecord,
    layer: Option<&LayerRecord>,
    info: CommitInfo<'_>,
) -> ImageConfigBlob {
    let created = now_rfc3339();
    let mut diff_ids = parent.config.rootfs.diff_ids.clone();
    if let Some(l) = layer {
        diff_ids.push(l.diff_id.clone());
    }
    let mut history = parent.config.history.clone();
    let created_by = info
        .container_config
        .cmd
        .clone()
        .unwrap_or_default()
        .join(" ");
    history.push(HistoryEntry {
        created: Some(created.clone()),
        created_by: Some(created_by),
        author: Some(info.author.to_string()).filter(|a| !a.is_empty()),
        comment: Some(info.comment.to_string()).filter(|c| !c.is_empty()),
        empty_layer: layer.is_none(),
    });
    let mut extra = serde_json::Map::new();
    extra.insert("container".into(), Value::String(info.container_id.into()));
    extra.insert(
        "container_config".into(),
        serde_json::to_value(info.container_config).unwrap_or(Value::Null),
    );
    if let Some(v) = parent.config.extra.get("docker_version") {
        extra.insert("docker_version".into(), v.clone());
    }
    ImageConfigBlob {
        created: Some(created),
        author: Some(info.author.to_string()).filter(|a| !a.is_empty()),
        architecture: if parent.config.architecture.is_empty() {
            "amd64".into()
        } else {
            parent.config.architecture.clone()
        },
        variant: parent.config.variant.clone(),
        os: if parent.config.os.is_empty() {
            "linux".into()
        } else {
            parent.config.os.clone()
        },
        config: Some(info.config),
        rootfs: RootFs {
            kind: "layers".into(),
            diff_ids,
        },
        history,
        extra,
    }
}

/// Fills what a config given in the commit request leaves empty from the container's config
/// (moby's `merge` in daemon/commit.go).
pub fn merge_container_config(user: &mut ContainerConfig, container: &ContainerConfig) {
    if user.user.is_empty() {
        user.user = container.user.clone();
    }
    match (&mut user.exposed_ports, &container.exposed_ports) {
        (None, Some(p)) => user.exposed_ports = Some(p.clone()),
        (Some(mine), Some(p)) => {
            for (k, v) in p {
                mine.entry(k.clone()).or_insert_with(|| v.clone());
            }
        }
        _ => {}
    }
    if user.env.is_empty() {
        user.env = container.env.clone();
    } else {
        for e in &container.env {
            let key = e.split_once('=').map(|(k, _)| k).unwrap_or(e);
            if !user
                .env
                .iter()
                .any(|u| u.split_once('=').map(|(k, _)| k).unwrap_or(u) == key)
            {
                user.env.push(e.clone());
            }
        }
    }
    for (k, v) in &container.labels {
        user.labels.entry(k.clone()).or_insert_with(|| v.clone());
    }
    if user.entrypoint.as_ref().is_none_or(|e| e.is_empty()) {
        if user.cmd.as_ref().is_none_or(|c| c.is_empty()) {
            user.cmd = container.cmd.clone();
        }
        if user.entrypoint.is_none() {
            user.entrypoint = container.entrypoint.clone();
        }
    }
    if user.healthcheck.is_none() {
        user.healthcheck = container.healthcheck.clone();
    }
    if user.working_dir.is_empty() {
        user.working_dir = container.working_dir.clone();
    }
    match (&mut user.volumes, &container.volumes) {
        (None, Some(v)) => user.volumes = Some(v.clone()),
        (Some(mine), Some(v)) => {
            for (k, val) in v {
                mine.insert(k.clone(), val.clone());
            }
        }
        _ => {}
    }
    if user.stop_signal.as_deref().unwrap_or("").is_empty() {
        user.stop_signal = container.stop_signal.clone();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_tar_digest_is_the_empty_layer() {
        let tar = tar::Builder::new(Vec::new()).into_inner().unwrap();
        assert_eq!(
            crate::image::content::sha256_digest(&tar),
            EMPTY_LAYER_DIFF_ID
        );
    }

    #[test]
    fn tags_are_validated() {
        assert_eq!(
            requested_tag(Some("mine"), Some("v1")).unwrap().as_deref(),
            Some("docker.io/library/mine:v1")
        );
        assert_eq!(
            requested_tag(Some("mine"), None).unwrap().as_deref(),
            Some("docker.io/library/mine:latest")
        );
        assert_eq!(requested_tag(None, Some("v1")).unwrap(), None);
        assert!(requested_tag(Some("UPPER"), None).is_err());
    }

    #[test]
    fn merge_fills_gaps_only() {
        let container = ContainerConfig {
            user: "berth".into(),
            env: vec!["A=1".into(), "B=2".into()],
            cmd: Some(vec!["sh".into()]),
            working_dir: "/w".into(),
            ..Default::default()
        };
        let mut user = ContainerConfig {
            env: vec!["B=3".into()],
            ..Default::default()
        };
        merge_container_config(&mut user, &container);
        assert_eq!(user.user, "berth");
        assert_eq!(user.env, ["B=3", "A=1"]);
        assert_eq!(user.cmd, Some(vec!["sh".to_string()]));
        assert_eq!(user.working_dir, "/w");
    }
}
