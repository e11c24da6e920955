//! Pulling from registries with oci-client: manifest resolution (indexes pick linux/amd64), config and
//! layers checked against their digests, layers downloaded and unpacked concurrently, progress reported
//! as the JSON messages the docker CLI renders as progress bars.

use std::io::Read;
use std::sync::Arc;

use anyhow::Context;
use futures_util::StreamExt;
use oci_client::errors::{OciDistributionError, OciErrorCode};
use oci_client::manifest;
use oci_client::secrets::RegistryAuth;
use oci_client::Reference;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;
use tokio::sync::mpsc;

use super::content::sha256_digest;
use super::reference;
use super::store::{ImageRecord, LayerRecord};
use super::ImageService;
use crate::api::types::ImageConfigBlob;
use crate::error::{EngineError, Result};
use crate::snapshot::chain_ids;

const MANIFEST_TYPES: &[&str] = &[
    manifest::IMAGE_MANIFEST_MEDIA_TYPE,
    manifest::IMAGE_MANIFEST_LIST_MEDIA_TYPE,
    manifest::OCI_IMAGE_MEDIA_TYPE,
    manifest::OCI_IMAGE_INDEX_MEDIA_TYPE,
];

/// Progress messages go to the HTTP response as they happen.
pub type Progress = mpsc::Sender<Value>;

/// What phase one of a pull learned: enough to stream the layers.
pub struct ResolvedImage {
    pub reference: Reference,
    client: oci_client::Client,
    /// Digest the reference resolved to (an index's digest when the tag names an index).
    pub digest: String,
    config_raw: Vec<u8>,
    config: ImageConfigBlob,
    layers: Vec<oci_client::manifest::OciDescriptor>,
}

impl ImageService {
    /// An oci-client for `r`'s registry, reaching it as [`RegistryAccess`] decides.
    ///
    /// [`RegistryAccess`]: super::registry_access::RegistryAccess
    pub async fn registry_client(&self, r: &Reference) -> oci_client::Client {
        let host = r.resolve_registry().to_string();
        oci_client::Client::new(self.registries.endpoint(&host).await.oci_config())
    }
}

/// The messages of a registry's error body, joined.
pub(super) fn envelope_message(envelope: &oci_client::errors::OciEnvelope) -> String {
    envelope
        .errors
        .iter()
        .map(|e| e.message.as_str())
        .collect::<Vec<_>>()
        .join("; ")
}

/// Maps registry errors to what dockerd answers, so `docker pull` prints the familiar text.
fn pull_error(r: &Reference, e: OciDistributionError) -> EngineError {
    let name = reference::familiar(&reference::repo_name(r));
    let what = r.digest().or(r.tag()).unwrap_or("latest").to_string();
    match &e {
        OciDistributionError::ImageManifestNotFoundError(_) => EngineError::NotFound(format!(
            "manifest for {name}:{what} not found: manifest unknown: manifest unknown"
        )),
        OciDistributionError::RegistryError { envelope, .. } => {
            let codes: Vec<&OciErrorCode> = envelope.errors.iter().map(|e| &e.code).collect();
            let msg = envelope_message(envelope);
            if codes
                .iter()
                .any(|c| matches!(c, OciErrorCode::ManifestUnknown))
            {
                EngineError::NotFound(format!(
                    "manifest for {name}:{what} not found: manifest unknown: {msg}"
                ))
            } else if codes.iter().any(|c| {
                matches!(
                    c,
                    OciErrorCode::NameUnknown | OciErrorCode::Unauthorized | OciErrorCode::Denied
                )
            }) {
                EngineError::NotFound(format!(
                    "pull access denied for {name}, repository does not exist or may require 'docker login': {msg}"
                ))
            } else {
                EngineError::internal(format!("error from registry: {msg}"))
            }
        }
        OciDistributionError::AuthenticationFailure(m) => EngineError::Unauthorized(format!(
            "Head \"{}\": unauthorized: {m}",
            r.resolve_registry()
        )),
        OciDistributionError::UnauthorizedError { .. } => EngineError::NotFound(format!(
            "pull access denied for {name}, repository does not exist or may require 'docker login': denied: requested access to the resource is denied"
        )),
        _ => EngineError::internal(format!(
            "pulling {name}:{what}: {}",
            crate::error::with_causes(&e)
        )),
    }
}

fn pick_platform(index: &Value) -> Option<String> {
    let manifests = index.get("manifests")?.as_array()?;
    manifests
        .iter()
        .find(|m| {
            let p = &m["platform"];
            p["os"] == "linux" && p["architecture"] == "amd64"
        })
        .and_then(|m| m["digest"].as_str().map(str::to_string))
}

impl ImageService {
    /// Phase one: manifest and config. Errors here become the HTTP status of the pull request.
    pub async fn resolve_remote(&self, r: Reference, auth: RegistryAuth) -> Result<ResolvedImage> {
        let client = self.registry_client(&r).await;
        let (raw, _) = client
            .pull_manifest_raw(&r, &auth, MANIFEST_TYPES)
            .await
            .map_err(|e| pull_error(&r, e))?;
        let digest = sha256_digest(&raw);
        if let Some(want) = r.digest() {
            if want != digest {
                return Err(EngineError::invalid(format!(
                    "manifest digest mismatch: asked for {want}, registry sent {digest}"
                )));
            }
        }
        let mut doc: Value = serde_json::from_slice(&raw)
            .map_err(|e| EngineError::internal(format!("invalid manifest from registry: {e}")))?;
        if doc.get("manifests").is_some() {
            let Some(platform_digest) = pick_platform(&doc) else {
                return Err(EngineError::NotFound(format!(
                    "no matching manifest for linux/amd64 in the manifest list entries for {}",
                    reference::familiar(&r.whole())
                )));
            };
            let by_digest = r.clone_with_digest(platform_digest.clone());
            let (raw2, _) = client
                .pull_manifest_raw(&by_digest, &auth, MANIFEST_TYPES)
                .await
                .map_err(|e| pull_error(&r, e))?;
            if sha256_digest(&raw2) != platform_digest {
                return Err(EngineError::internal("platform manifest digest mismatch"));
            }
            doc = serde_json::from_slice(&raw2).map_err(|e| {
                EngineError::internal(format!("invalid manifest from registry: {e}"))
            })?;
        }
        let m: oci_client::manifest::OciImageManifest = serde_json::from_value(doc)
            .map_err(|e| EngineError::internal(format!("unsupported manifest: {e}")))?;
        let mut config_raw = Vec::new();
        client
            .pull_blob(&r, &m.config, &mut config_raw)
            .await
            .map_err(|e| pull_error(&r, e))?;
        if sha256_digest(&config_raw) != m.config.digest {
            return Err(EngineError::internal("image config digest mismatch"));
        }
        let config: ImageConfigBlob = serde_json::from_slice(&config_raw)
            .map_err(|e| EngineError::internal(format!("invalid image config: {e}")))?;
        if config.rootfs.diff_ids.len() != m.layers.len() {
            return Err(EngineError::internal(format!(
                "image config lists {} layers but the manifest has {}",
                config.rootfs.diff_ids.len(),
                m.layers.len()
            )));
        }
        Ok(ResolvedImage {
            reference: r,
            client,
            digest,
            config_raw,
            config,
            layers: m.layers,
        })
    }

    /// Phase two: layers, then the image record and tag. Returns the image and whether it was new.
    pub async fn fetch_layers(
        self: &Arc<Self>,
        img: ResolvedImage,
        progress: &Progress,
    ) -> Result<(ImageRecord, bool)> {
        let r = &img.reference;
        let image_id = sha256_digest(&img.config_raw);
        let tag_key = reference::canonical_tag(r);
        let existed = self.store.get(&image_id).is_some();
        let up_to_date = existed
            && tag_key
                .as_ref()
                .map(|t| self.store.tag_target(t).as_deref() == Some(image_id.as_str()))
                .unwrap_or(true);
        let what = r.tag().or(r.digest()).unwrap_or("latest").to_string();
        let _ = progress
            .send(json!({"status": format!("Pulling from {}", r.repository()), "id": what}))
            .await;

        let chains = chain_ids(&img.config.rootfs.diff_ids);
        let mut tasks = Vec::new();
        for (i, desc) in img.layers.iter().enumerate() {
            let svc = Arc::clone(self);
            let desc = desc.clone();
            let chain = chains[i].clone();
            let diff_id = img.config.rootfs.diff_ids[i].clone();
            let client = img.client.clone();
            let r = r.clone();
            let progress = progress.clone();
            tasks.push(tokio::spawn(async move {
                svc.fetch_layer(&client, &r, &desc, &diff_id, &chain, &progress)
                    .await
                    .map(|size| LayerRecord {
                        diff_id,
                        chain_id: chain,
                        blob: Some(desc.digest.clone()),
                        media_type: desc.media_type.clone(),
                        size,
                    })
            }));
        }
        let mut layers = Vec::new();
        for t in tasks {
            let l = t
                .await
                .map_err(|e| EngineError::internal(format!("layer task failed: {e}")))??;
            layers.push(l);
        }
        let config_digest = self.content.put(&img.config_raw)?;
        debug_assert_eq!(config_digest, image_id);
        let created = img.config.created_unix();
        let rec = ImageRecord {
            id: image_id,
            size: layers.iter().map(|l| l.size).sum(),
            config: img.config,
            layers,
            repo_digests: vec![format!("{}@{}", reference::repo_name(r), img.digest)],
            created,
        };
        let tags: Vec<String> = tag_key.into_iter().collect();
        self.store.add(rec.clone(), &tags)?;
        let _ = progress
            .send(json!({"status": format!("Digest: {}", img.digest)}))
            .await;
        let shown = reference::familiar(&r.whole());
        let status = if up_to_date {
            format!("Status: Image is up to date for {shown}")
        } else {
            format!("Status: Downloaded newer image for {shown}")
        };
        let _ = progress.send(json!({"status": status})).await;
        Ok((rec, !up_to_date))
    }

    async fn fetch_layer(
        &self,
        client: &oci_client::Client,
        r: &Reference,
        desc: &oci_client::manifest::OciDescriptor,
        diff_id: &str,
        chain: &str,
        progress: &Progress,
    ) -> Result<u64> {
        let short = short_id(&desc.digest);
        let lock = self.layer_lock(chain);
        let _guard = lock.lock().await;
        if let Some(size) = self.snapshots.layer_size(chain) {
            layer_status(progress, "Already exists", &short).await;
            return Ok(size);
        }
        layer_status(progress, "Pulling fs layer", &short).await;
        if !self.content.has(&desc.digest) {
            self.download(client, r, desc, &short, progress).await?;
        }
        layer_status(progress, "Download complete", &short).await;
        let _ = progress
            .send(json!({"status": "Extracting", "progressDetail": {"current": 0, "total": desc.size}, "id": short}))
            .await;
        let size = self.unpack_blob(&desc.digest, diff_id, chain).await?;
        layer_status(progress, "Pull complete", &short).await;
        Ok(size)
    }

    async fn download(
        &self,
        client: &oci_client::Client,
        r: &Reference,
        desc: &oci_client::manifest::OciDescriptor,
        short: &str,
        progress: &Progress,
    ) -> Result<()> {
        let mut stream = client
            .pull_blob_stream(r, desc)
            .await
            .map_err(|e| pull_error(r, e))?;
        let ingest = self.content.ingest_path(&desc.digest)?;
        let mut file = tokio::fs::File::create(&ingest)
            .await
            .with_context(|| format!("creating {}", ingest.display()))?;
        let total = stream.content_length.unwrap_or(desc.size.max(0) as u64);
        // The manifest's size is a bound: a registry that sends more must not fill the disk
        // (the digest check alone would come only after the last byte).
        let declared = u64::try_from(desc.size).ok().filter(|s| *s > 0);
        let mut hasher = Sha256::new();
        let mut current: u64 = 0;
        let mut last_report: u64 = 0;
        let result: Result<()> = async {
            while let Some(chunk) = stream.stream.next().await {
                let chunk = chunk.map_err(|e| {
                    EngineError::internal(format!("downloading {}: {e}", desc.digest))
                })?;
                current += chunk.len() as u64;
                if let Some(max) = declared.filter(|max| current > *max) {
                    return Err(EngineError::internal(format!(
                        "downloading {}: the registry sent more than the {max} bytes the manifest declares",
                        desc.digest
                    )));
                }
                hasher.update(&chunk);
                file.write_all(&chunk).await?;
                // Enough updates for a smooth bar without flooding the client.
                if current - last_report >= 256 * 1024 || current == total {
                    last_report = current;
                    let _ = progress
                        .send(json!({"status": "Downloading", "progressDetail": {"current": current, "total": total}, "progress": bar(current, total), "id": short}))
                        .await;
                }
            }
            file.flush().await?;
            let got = format!("sha256:{}", hex::encode(hasher.finalize()));
            if got != desc.digest {
                return Err(EngineError::internal(format!(
                    "filesystem layer verification failed for digest {}: got {got}",
                    desc.digest
                )));
            }
            Ok(())
        }
        .await;
        if let Err(e) = result {
            let _ = tokio::fs::remove_file(&ingest).await;
            return Err(e);
        }
        layer_status(progress, "Verifying Checksum", short).await;
        self.content.commit(&ingest, &desc.digest)?;
        Ok(())
    }

    /// Unpacks a stored blob into its layer snapshot, checking the uncompressed digest (diff ID).
    pub async fn unpack_blob(&self, blob: &str, diff_id: &str, chain: &str) -> Result<u64> {
        let path = self.content.path(blob)?;
        let dest = self.snapshots.prepare_layer(chain)?;
        let diff_id = diff_id.to_string();
        let size = tokio::task::spawn_blocking(move || -> anyhow::Result<u64> {
            let f = std::fs::File::open(&path)
                .with_context(|| format!("opening {}", path.display()))?;
            let reader = super::unpack::decompress(std::io::BufReader::new(f))?;
            let mut hashing = HashingReader {
                inner: reader,
                hasher: Sha256::new(),
            };
            let size = super::unpack::unpack_layer(&mut hashing, &dest)?;
            // Tar readers stop at the end-of-archive marker; the digest covers every byte.
            std::io::copy(&mut hashing, &mut std::io::sink())?;
            let got = format!("sha256:{}", hex::encode(hashing.hasher.finalize()));
            anyhow::ensure!(
                got == diff_id,
                "layer content does not match its diff ID {diff_id} (got {got})"
            );
            Ok(size)
        })
        .await
        .map_err(|e| EngineError::internal(format!("unpack task failed: {e}")))?;
        match size {
            Ok(size) => {
                self.snapshots.commit_layer(chain, size)?;
                Ok(size)
            }
            Err(e) => {
                let _ = self.snapshots.remove(chain);
                Err(EngineError::Internal(e.context("failed to register layer")))
            }
        }
    }
}

struct HashingReader<R> {
    inner: R,
    hasher: Sha256,
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }
}

/// One layer's line of progress without a bar (`Pull complete`, `Pushed`, …).
pub(super) async fn layer_status(progress: &Progress, status: &str, id: &str) {
    let _ = progress
        .send(json!({"status": status, "progressDetail": {}, "id": id}))
        .await;
}

pub fn short_id(digest: &str) -> String {
    let hex = digest.strip_prefix("sha256:").unwrap_or(digest);
    hex.chars().take(12).collect()
}

/// The text bar dockerd sends in `progress` (old clients print it verbatim).
pub(super) fn bar(current: u64, total: u64) -> String {
    let width = 50u64;
    let filled = (current.min(total) * width).checked_div(total).unwrap_or(0) as usize;
    let mut s = String::from("[");
    for i in 0..width as usize {
        s.push(if i < filled {
            '='
        } else if i == filled {
            '>'
        } else {
            ' '
        });
    }
    s.push(']');
    format!("{s} {}/{}", human(current), human(total))
}

pub fn human(n: u64) -> String {
    let units = ["B", "kB", "MB", "GB", "TB"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1000.0 && u < units.len() - 1 {
        v /= 1000.0;
        u += 1;
    }
    if u == 0 {
        format!("{n}B")
    } else {
        format!("{v:.3}{}", units[u])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn picks_linux_amd64_from_an_index() {
        let idx = json!({"manifests": [
            {"digest": "sha256:arm", "platform": {"os": "linux", "architecture": "arm64"}},
            {"digest": "sha256:amd", "platform": {"os": "linux", "architecture": "amd64"}}
        ]});
        assert_eq!(pick_platform(&idx).as_deref(), Some("sha256:amd"));
        assert_eq!(pick_platform(&json!({"manifests": []})), None);
    }

    #[test]
    fn progress_bar_shape() {
        assert!(bar(50, 100).starts_with("[=========================>"));
        assert_eq!(human(1500), "1.500kB");
    }
}
