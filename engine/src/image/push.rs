//! Pushing to registries with oci-client: the layer blobs the registry lacks are streamed from
//! the content store, then the image config and a manifest for the tag; progress goes out as the
//! JSON messages `docker push` renders.

use std::sync::Arc;

use futures_util::StreamExt;
use oci_client::errors::{OciDistributionError, OciErrorCode};
use oci_client::secrets::RegistryAuth;
use oci_client::{Reference, RegistryOperation};
use serde_json::json;

use super::content::sha256_digest;
use super::media::{
    DOCKER_CONFIG, DOCKER_LAYER, DOCKER_LAYER_GZIP, DOCKER_MANIFEST, OCI_CONFIG, OCI_LAYER,
    OCI_LAYER_GZIP, OCI_MANIFEST,
};
use super::pull::{bar, envelope_message, layer_status, short_id, Progress};
use super::reference;
use super::store::ImageRecord;
use super::ImageService;
use crate::error::{EngineError, Result};

/// dockerd uploads five layers at a time.
const CONCURRENT_UPLOADS: usize = 5;

/// One layer as the manifest describes it.
struct LayerBlob {
    digest: String,
    media_type: String,
    size: u64,
    diff_id: String,
}

/// A manifest for the image: Docker's schema 2 when every layer came with a Docker media type
/// (as pulled from a Docker registry), OCI otherwise. Returns its media type and bytes.
fn manifest_for(config: &[u8], config_digest: &str, layers: &[LayerBlob]) -> (String, Vec<u8>) {
    let docker = !layers.is_empty()
        && layers
            .iter()
            .all(|l| l.media_type.starts_with("application/vnd.docker."));
    let (media_type, config_type) = if docker {
        (DOCKER_MANIFEST, DOCKER_CONFIG)
    } else {
        (OCI_MANIFEST, OCI_CONFIG)
    };
    let layers: Vec<_> = layers
        .iter()
        .map(|l| {
            let t = if docker {
                l.media_type.clone()
            } else {
                oci_layer_type(&l.media_type)
            };
            json!({"mediaType": t, "size": l.size, "digest": l.digest})
        })
        .collect();
    let doc = json!({
        "schemaVersion": 2,
        "mediaType": media_type,
        "config": {"mediaType": config_type, "size": config.len(), "digest": config_digest},
        "layers": layers,
    });
    (media_type.to_string(), doc.to_string().into_bytes())
}

/// The OCI spelling of a layer media type (Docker's gzip and plain tar types have OCI twins).
fn oci_layer_type(t: &str) -> String {
    match t {
        DOCKER_LAYER_GZIP => OCI_LAYER_GZIP.into(),
        DOCKER_LAYER => OCI_LAYER.into(),
        other => other.into(),
    }
}

/// A blob's media type checked against its bytes: a docker-archive may carry gzip layers under a
/// plain tar type, and a registry client trusts the type.
fn checked_media_type(stored: &str, head: &[u8]) -> String {
    let gzip = head.starts_with(&[0x1f, 0x8b]);
    match (stored, gzip) {
        (OCI_LAYER, true) => OCI_LAYER_GZIP.into(),
        (DOCKER_LAYER, true) => DOCKER_LAYER_GZIP.into(),
        _ => stored.into(),
    }
}

/// Registry errors in dockerd's words, so `docker push` prints the familiar text.
fn push_error(r: &Reference, e: OciDistributionError) -> EngineError {
    match &e {
        OciDistributionError::RegistryError { envelope, .. } => {
            let msg = envelope_message(envelope);
            let denied = envelope.errors.iter().any(|e| {
                matches!(
                    e.code,
                    OciErrorCode::Unauthorized | OciErrorCode::Denied | OciErrorCode::NameUnknown
                )
            });
            if denied {
                EngineError::Unauthorized(format!(
                    "denied: requested access to the resource is denied: {msg}"
                ))
            } else {
                EngineError::internal(format!("error from registry: {msg}"))
            }
        }
        OciDistributionError::AuthenticationFailure(m) => {
            EngineError::Unauthorized(format!("unauthorized: {m}"))
        }
        OciDistributionError::UnauthorizedError { .. } => {
            EngineError::Unauthorized("unauthorized: authentication required".into())
        }
        OciDistributionError::RequestError(re)
            if re.status() == Some(reqwest::StatusCode::UNAUTHORIZED) =>
        {
            EngineError::Unauthorized("unauthorized: authentication required".into())
        }
        _ => EngineError::internal(format!(
            "pushing to {}: {}",
            reference::familiar(&reference::repo_name(r)),
            crate::error::with_causes(&e)
        )),
    }
}

impl ImageService {
    /// `docker push`: one tag, or every tag of the repository when `tag` is empty. Errors after
    /// the first message go into the stream, as dockerd's do.
    pub async fn push(
        self: &Arc<Self>,
        name: &str,
        tag: Option<&str>,
        auth: RegistryAuth,
        progress: &Progress,
    ) -> Result<Vec<String>> {
        let repo_ref = reference::parse(name)?;
        let repo = reference::repo_name(&repo_ref);
        let shown = reference::familiar(&repo);
        let _ = progress
            .send(json!({"status": format!("The push refers to repository [{repo}]")}))
            .await;
        let targets: Vec<(String, String)> = match tag.filter(|t| !t.is_empty()) {
            Some(t) => self
                .store
                .tag_target(&format!("{repo}:{t}"))
                .map(|id| vec![(t.to_string(), id)])
                .unwrap_or_default(),
            None => self.store.repo_tags(&repo),
        };
        if targets.is_empty() {
            return Err(EngineError::NotFound(format!(
                "An image does not exist locally with the tag: {shown}"
            )));
        }
        let client = self.registry_client(&repo_ref).await;
        // Tokens are per repository, so one sign-in serves every tag.
        client
            .auth(&repo_ref, &auth, RegistryOperation::Push)
            .await
            .map_err(|e| push_error(&repo_ref, e))?;
        let mut pushed = Vec::new();
        for (t, id) in targets {
            let r = reference::parse(&format!("{repo}:{t}"))?;
            let rec = self
                .store
                .get(&id)
                .ok_or_else(|| EngineError::NotFound(format!("No such image: {id}")))?;
            let digest = self.push_image(&client, &r, &rec, progress).await?;
            // The image now has a digest in this repository, as after a pull.
            self.store
                .add_repo_digest(&id, &format!("{repo}@{digest}"))?;
            pushed.push(format!("{shown}:{t}"));
        }
        Ok(pushed)
    }

    async fn push_image(
        &self,
        client: &oci_client::Client,
        r: &Reference,
        rec: &ImageRecord,
        progress: &Progress,
    ) -> Result<String> {
        let mut layers = Vec::new();
        for l in &rec.layers {
            let blob = l.blob.clone().ok_or_else(|| {
                EngineError::internal(format!("layer {} has no stored blob to push", l.diff_id))
            })?;
            let path = self.content.path(&blob)?;
            let (size, head) = tokio::task::spawn_blocking(move || -> std::io::Result<_> {
                use std::io::Read;
                let mut f = std::fs::File::open(&path)?;
                let mut head = [0u8; 2];
                let n = f.read(&mut head)?;
                Ok((f.metadata()?.len(), head[..n].to_vec()))
            })
            .await
            .map_err(|e| EngineError::internal(format!("reading layer blob: {e}")))??;
            layers.push(LayerBlob {
                media_type: checked_media_type(&l.media_type, &head),
                digest: blob,
                size,
                diff_id: l.diff_id.clone(),
            });
        }
        for l in &layers {
            layer_status(progress, "Preparing", &short_id(&l.diff_id)).await;
        }
        // Collected first: a lazily mapped iterator here trips the compiler's Send check.
        let uploads: Vec<_> = layers
            .iter()
            .map(|l| self.push_layer(client, r, l, progress))
            .collect();
        let uploads = futures_util::stream::iter(uploads)
            .buffer_unordered(CONCURRENT_UPLOADS)
            .collect::<Vec<_>>()
            .await;
        uploads.into_iter().collect::<Result<Vec<()>>>()?;

        let config = self.content.read(&rec.id)?;
        if !client
            .blob_exists(r, &rec.id)
            .await
            .map_err(|e| push_error(r, e))?
        {
            client
                .push_blob(r, config.clone(), &rec.id)
                .await
                .map_err(|e| push_error(r, e))?;
        }
        let (media_type, manifest) = manifest_for(&config, &rec.id, &layers);
        let digest = sha256_digest(&manifest);
        let size = manifest.len();
        let content_type = media_type
            .parse()
            .map_err(|_| EngineError::internal("manifest media type"))?;
        client
            .push_manifest_raw(r, manifest, content_type)
            .await
            .map_err(|e| push_error(r, e))?;
        let tag = r.tag().unwrap_or("latest");
        let _ = progress
            .send(json!({"status": format!("{tag}: digest: {digest} size: {size}")}))
            .await;
        let _ = progress
            .send(
                json!({"progressDetail": {}, "aux": {"Tag": tag, "Digest": digest, "Size": size}}),
            )
            .await;
        Ok(digest)
    }

    /// One layer: skipped when the registry has it, else streamed from the content store.
    async fn push_layer(
        &self,
        client: &oci_client::Client,
        r: &Reference,
        l: &LayerBlob,
        progress: &Progress,
    ) -> Result<()> {
        let id = short_id(&l.diff_id);
        if client
            .blob_exists(r, &l.digest)
            .await
            .map_err(|e| push_error(r, e))?
        {
            layer_status(progress, "Layer already exists", &id).await;
            return Ok(());
        }
        let file = tokio::fs::File::open(self.content.path(&l.digest)?).await?;
        let total = l.size;
        let sent = Arc::new(std::sync::atomic::AtomicU64::new(0));
        let counter = Arc::clone(&sent);
        let tx = progress.clone();
        let id2 = id.clone();
        // The registry gets the file in 1 MiB chunks; each one moves the bar.
        let stream = tokio_util::io::ReaderStream::with_capacity(file, 1 << 20).then(move |chunk| {
            let tx = tx.clone();
            let counter = Arc::clone(&counter);
            let id = id2.clone();
            async move {
                let chunk = chunk.map_err(|e| OciDistributionError::GenericError(Some(e.to_string())))?;
                let current = counter.fetch_add(chunk.len() as u64, std::sync::atomic::Ordering::Relaxed)
                    + chunk.len() as u64;
                let _ = tx
                    .send(json!({"status": "Pushing", "progressDetail": {"current": current, "total": total}, "progress": bar(current, total), "id": id}))
                    .await;
                Ok(chunk)
            }
        });
        client
            .push_blob_stream(r, stream, &l.digest, Some(total))
            .await
            .map_err(|e| push_error(r, e))?;
        layer_status(progress, "Pushed", &id).await;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layer(media_type: &str) -> LayerBlob {
        LayerBlob {
            digest: "sha256:aa".into(),
            media_type: media_type.into(),
            size: 3,
            diff_id: "sha256:bb".into(),
        }
    }

    #[test]
    fn docker_layers_keep_a_docker_manifest_and_mixed_ones_become_oci() {
        let gz = DOCKER_LAYER_GZIP;
        let (t, m) = manifest_for(b"{}", "sha256:cc", &[layer(gz)]);
        assert_eq!(t, DOCKER_MANIFEST);
        let v: serde_json::Value = serde_json::from_slice(&m).unwrap();
        assert_eq!(v["config"]["mediaType"], DOCKER_CONFIG);
        assert_eq!(v["config"]["size"], 2);
        assert_eq!(v["layers"][0]["mediaType"], gz);

        let (t, m) = manifest_for(b"{}", "sha256:cc", &[layer(gz), layer(OCI_LAYER)]);
        assert_eq!(t, OCI_MANIFEST);
        let v: serde_json::Value = serde_json::from_slice(&m).unwrap();
        assert_eq!(v["mediaType"], OCI_MANIFEST);
        assert_eq!(v["config"]["mediaType"], OCI_CONFIG);
        assert_eq!(v["layers"][0]["mediaType"], OCI_LAYER_GZIP);
        assert_eq!(v["layers"][1]["mediaType"], OCI_LAYER);
        assert_eq!(v["layers"][1]["digest"], "sha256:aa");
    }

    #[test]
    fn gzip_bytes_under_a_plain_tar_type_are_labelled_gzip() {
        assert_eq!(checked_media_type(OCI_LAYER, &[0x1f, 0x8b]), OCI_LAYER_GZIP);
        assert_eq!(checked_media_type(OCI_LAYER, b"ab"), OCI_LAYER);
        assert_eq!(
            checked_media_type(OCI_LAYER_GZIP, &[0x1f, 0x8b]),
            OCI_LAYER_GZIP
        );
    }
}
