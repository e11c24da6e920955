//! Image operations behind the API: list, inspect, history, tag, remove, save and load.

use std::collections::HashMap;

use serde_json::{json, Value};

use super::reference;
use super::store::ImageRecord;
use super::ImageService;
use crate::api::types::{ImageDeleteItem, ImageHistoryItem, ImageSummary};
use crate::error::{EngineError, Result};
use crate::filters::{glob_match, Filters};

/// A container's hold on an image, for the in-use checks of `rmi`.
pub struct ImageUser {
    pub container_id: String,
    pub image_id: String,
    pub running: bool,
}

fn familiar_list(names: &[String]) -> Vec<String> {
    let mut v: Vec<String> = names.iter().map(|n| reference::familiar(n)).collect();
    v.sort();
    v
}

fn labels_of(rec: &ImageRecord) -> HashMap<String, String> {
    rec.config
        .config
        .as_ref()
        .map(|c| c.labels.clone())
        .unwrap_or_default()
}

fn rfc3339(unix: i64) -> String {
    crate::timestamp::rfc3339_nano(crate::timestamp::from_unix(unix, 0))
}

impl ImageService {
    /// `docker images`; without `all`, untagged images that are another image's parent (a
    /// build's intermediate images) are left out, as dockerd does.
    pub fn list(
        &self,
        filters: &Filters,
        users: &[ImageUser],
        all: bool,
    ) -> Result<Vec<ImageSummary>> {
        filters.only(&["dangling", "reference", "label", "before", "since"])?;
        let dangling = filters.bool("dangling")?;
        let records = self.store.list();
        let parents = super::lineage::parents(&records);
        let with_children = super::lineage::with_children(&parents);
        let mut out = Vec::new();
        for rec in records {
            let tags = self.store.tags_of(&rec.id);
            if !all && tags.is_empty() && with_children.contains(&rec.id) {
                continue;
            }
            if let Some(d) = dangling {
                if d != tags.is_empty() {
                    continue;
                }
            }
            let mut shown_tags = familiar_list(&tags);
            if filters.has("reference") {
                // dockerd lists only the names that matched.
                shown_tags.retain(|t| matches_reference(filters, t, ':'));
                if shown_tags.is_empty() {
                    continue;
                }
            }
            let mut digests = familiar_list(&rec.repo_digests);
            if filters.has("reference") {
                digests.retain(|d| matches_reference(filters, d, '@'));
            }
            let labels = labels_of(&rec);
            if !filters.labels_match(&labels) {
                continue;
            }
            let containers = users.iter().filter(|u| u.image_id == rec.id).count() as i64;
            out.push(ImageSummary {
                parent_id: parents.get(&rec.id).cloned().unwrap_or_default(),
                id: rec.id.clone(),
                repo_tags: shown_tags,
                repo_digests: digests,
                created: rec.created,
                size: rec.size as i64,
                shared_size: -1,
                virtual_size: rec.size as i64,
                labels,
                containers,
            });
        }
        out.sort_by(|a, b| b.created.cmp(&a.created).then(a.id.cmp(&b.id)));
        Ok(out)
    }

    pub fn inspect(&self, name: &str) -> Result<Value> {
        let rec = self.store.resolve(name)?;
        let tags = familiar_list(&self.store.tags_of(&rec.id));
        let c = &rec.config;
        let upper = rec
            .layers
            .last()
            .map(|l| self.snapshots.layer_fs(&l.chain_id).display().to_string())
            .unwrap_or_default();
        let lower: Vec<String> = rec
            .layers
            .iter()
            .rev()
            .skip(1)
            .map(|l| self.snapshots.layer_fs(&l.chain_id).display().to_string())
            .collect();
        Ok(json!({
            "Id": rec.id,
            "RepoTags": tags,
            "RepoDigests": familiar_list(&rec.repo_digests),
            "Parent": super::lineage::parents(&self.store.list()).get(&rec.id).cloned().unwrap_or_default(),
            "Comment": c.history.last().and_then(|h| h.comment.clone()).unwrap_or_default(),
            "Created": c.created.clone().unwrap_or_else(|| rfc3339(rec.created)),
            "DockerVersion": c.extra.get("docker_version").cloned().unwrap_or(json!("")),
            "Author": c.author.clone().unwrap_or_default(),
            "Container": c.extra.get("container").cloned().unwrap_or(json!("")),
            // The step's container config a build or commit recorded, else Go's zero value.
            "ContainerConfig": c.extra.get("container_config").cloned().unwrap_or_else(|| {
                serde_json::to_value(crate::api::types::ContainerConfig::default()).unwrap_or(json!({}))
            }),
            "Config": c.config,
            "Architecture": c.architecture,
            "Variant": c.variant,
            "Os": c.os,
            "Size": rec.size,
            "GraphDriver": {"Name": "overlay2", "Data": {"UpperDir": upper, "LowerDir": lower.join(":")}},
            "RootFS": {"Type": "layers", "Layers": c.rootfs.diff_ids},
            "Metadata": {"LastTagTime": "0001-01-01T00:00:00Z"},
        }))
    }

    pub fn history(&self, name: &str) -> Result<Vec<ImageHistoryItem>> {
        let rec = self.store.resolve(name)?;
        let mut layers = rec.layers.iter();
        let mut items = Vec::new();
        let history = &rec.config.history;
        for (i, h) in history.iter().enumerate() {
            let size = if h.empty_layer {
                0
            } else {
                layers.next().map(|l| l.size as i64).unwrap_or(0)
            };
            let top = i + 1 == history.len();
            items.push(ImageHistoryItem {
                id: if top {
                    rec.id.clone()
                } else {
                    "<missing>".into()
                },
                created: crate::api::types::rfc3339_unix(h.created.as_deref()),
                created_by: h.created_by.clone().unwrap_or_default(),
                tags: if top {
                    familiar_list(&self.store.tags_of(&rec.id))
                } else {
                    vec![]
                },
                size,
                comment: h.comment.clone().unwrap_or_default(),
            });
        }
        if items.is_empty() {
            items.push(ImageHistoryItem {
                id: rec.id.clone(),
                created: rec.created,
                created_by: String::new(),
                tags: familiar_list(&self.store.tags_of(&rec.id)),
                size: rec.size as i64,
                comment: String::new(),
            });
        }
        items.reverse();
        Ok(items)
    }

    /// `docker tag SOURCE TARGET`.
    pub fn tag(&self, source: &str, repo: &str, tag: Option<&str>) -> Result<()> {
        let rec = self.store.resolve(source)?;
        let target = match tag.filter(|t| !t.is_empty()) {
            Some(t) => format!("{repo}:{t}"),
            None => repo.to_string(),
        };
        let r = reference::parse(&target)?;
        if r.digest().is_some() {
            return Err(EngineError::invalid(
                "refusing to create a tag with a digest reference",
            ));
        }
        let key = reference::canonical_tag(&r)
            .ok_or_else(|| EngineError::invalid("invalid reference format"))?;
        self.store.tag(&rec.id, &key)?;
        Ok(())
    }

    /// `docker rmi`, with dockerd's untag-versus-delete rules; unless `noprune`, a deleted
    /// image's untagged parents go too (a build's intermediate images), as dockerd.
    pub fn remove(
        &self,
        name: &str,
        force: bool,
        noprune: bool,
        users: &[ImageUser],
    ) -> Result<Vec<ImageDeleteItem>> {
        self.remove_counting(name, force, noprune, users)
            .map(|(items, _)| items)
    }

    /// [`Self::remove`], also returning the bytes freed on disk (for `image prune`).
    pub fn remove_counting(
        &self,
        name: &str,
        force: bool,
        noprune: bool,
        users: &[ImageUser],
    ) -> Result<(Vec<ImageDeleteItem>, u64)> {
        let rec = self.store.resolve(name)?;
        // Taken before anything is deleted: the lineage of the images as they are now.
        let parents = super::lineage::parents(&self.store.list());
        let tags = self.store.tags_of(&rec.id);
        let by_id = is_id_like(name, &rec.id);
        let running = users
            .iter()
            .find(|u| u.image_id == rec.id && u.running)
            .map(|u| u.container_id.clone());
        let stopped = users
            .iter()
            .find(|u| u.image_id == rec.id && !u.running)
            .map(|u| u.container_id.clone());
        let mut out = Vec::new();

        if !by_id {
            // Removing by name: untag it; delete the image only when that was its last name.
            let r = reference::parse(name)?;
            let key = match reference::canonical_tag(&r) {
                Some(k) if r.digest().is_none() => k,
                _ => format!(
                    "{}@{}",
                    reference::repo_name(&r),
                    r.digest().unwrap_or_default()
                ),
            };
            let last_name = tags.len() <= 1;
            if last_name && !force {
                if let Some(c) = running.as_ref().or(stopped.as_ref()) {
                    return Err(EngineError::Conflict(format!(
                        "conflict: unable to remove repository reference \"{name}\" (must force) - container {} is using its referenced image {}",
                        short(c),
                        short(&rec.id)
                    )));
                }
            }
            if !tags.is_empty() {
                self.store.untag(&key)?;
                out.push(ImageDeleteItem {
                    untagged: Some(reference::familiar(&key)),
                    deleted: None,
                });
            }
            if !last_name || running.is_some() || (stopped.is_some() && !force) {
                return Ok((out, 0));
            }
            if stopped.is_some() && force {
                // dockerd leaves a forced image referenced by stopped containers as dangling.
                return Ok((out, 0));
            }
        } else {
            if let Some(c) = &running {
                return Err(EngineError::Conflict(format!(
                    "conflict: unable to delete {} (cannot be forced) - image is being used by running container {}",
                    short(&rec.id),
                    short(c)
                )));
            }
            if let Some(c) = &stopped {
                if !force {
                    return Err(EngineError::Conflict(format!(
                        "conflict: unable to delete {} (must be forced) - image is being used by stopped container {}",
                        short(&rec.id),
                        short(c)
                    )));
                }
            }
            if tags.len() > 1 && !force {
                return Err(EngineError::Conflict(format!(
                    "conflict: unable to delete {} (must be forced) - image is referenced in multiple repositories",
                    short(&rec.id)
                )));
            }
            for t in &tags {
                self.store.untag(t)?;
                out.push(ImageDeleteItem {
                    untagged: Some(reference::familiar(t)),
                    deleted: None,
                });
            }
        }
        for d in &rec.repo_digests {
            out.push(ImageDeleteItem {
                untagged: Some(reference::familiar(d)),
                deleted: None,
            });
        }
        let mut freed = self.delete_image(&rec)?;
        out.push(ImageDeleteItem {
            untagged: None,
            deleted: Some(rec.id.clone()),
        });
        if !noprune {
            freed += self.prune_parents(&rec.id, &parents, users, &mut out)?;
        }
        Ok((out, freed))
    }

    /// Deletes the untagged ancestors of the just-deleted image `child` that nothing else needs:
    /// no tag, no other child image, no container (dockerd's `imageDeleteHelper` with prune).
    fn prune_parents(
        &self,
        child: &str,
        parents: &HashMap<String, String>,
        users: &[ImageUser],
        out: &mut Vec<ImageDeleteItem>,
    ) -> Result<u64> {
        let mut freed = 0;
        let mut current = child.to_string();
        while let Some(parent) = parents.get(&current) {
            let Some(rec) = self.store.get(parent) else {
                break;
            };
            let has_other_child = parents
                .iter()
                .any(|(c, p)| p == parent && c != &current && self.store.get(c).is_some());
            if !self.store.tags_of(parent).is_empty()
                || !rec.repo_digests.is_empty()
                || has_other_child
                || users.iter().any(|u| &u.image_id == parent)
            {
                break;
            }
            freed += self.delete_image(&rec)?;
            out.push(ImageDeleteItem {
                untagged: None,
                deleted: Some(parent.clone()),
            });
            current = parent.clone();
        }
        Ok(freed)
    }

    /// Drops the record, then every layer and blob no other image uses. Returns the bytes
    /// that freed (unpacked layers and blobs).
    pub fn delete_image(&self, rec: &ImageRecord) -> Result<u64> {
        self.store.delete(&rec.id)?;
        let mut freed = 0u64;
        let mut remove_blob = |digest: &str| {
            if !self.store.blob_in_use(digest) {
                freed += self
                    .content
                    .path(digest)
                    .ok()
                    .and_then(|p| std::fs::metadata(p).ok())
                    .map_or(0, |m| m.len());
                self.content.remove(digest);
            }
        };
        let mut layers_freed = 0u64;
        for l in &rec.layers {
            if !self.store.chain_in_use(&l.chain_id) {
                let size = self.snapshots.layer_size(&l.chain_id).unwrap_or(0);
                self.snapshots.remove(&l.chain_id)?;
                layers_freed += size;
            }
            if let Some(b) = &l.blob {
                remove_blob(b);
            }
        }
        remove_blob(&rec.id);
        Ok(freed + layers_freed)
    }
    /// `docker save`: the archive of the named images, written to `out`.
    pub fn save<W: std::io::Write>(
        &self,
        names: &[String],
        scratch: &std::path::Path,
        out: W,
    ) -> Result<()> {
        let mut images = Vec::new();
        for n in names {
            let rec = self.store.resolve(n)?;
            let mut repo_tags = Vec::new();
            if !is_id_like(n, &rec.id) {
                if let Ok(r) = reference::parse(n) {
                    if let Some(t) = reference::canonical_tag(&r) {
                        if self.store.tag_target(&t).as_deref() == Some(rec.id.as_str()) {
                            repo_tags.push(reference::familiar(&t));
                        }
                    }
                }
            }
            let mut layers = Vec::new();
            for l in &rec.layers {
                let blob = l.blob.as_deref().ok_or_else(|| {
                    EngineError::internal(format!("layer {} has no stored blob", l.diff_id))
                })?;
                layers.push(self.content.path(blob)?);
            }
            images.push(super::archive::SaveImage {
                config: self.content.read(&rec.id)?,
                repo_tags,
                layers,
            });
        }
        super::archive::write_archive(&images, scratch, out)
            .map_err(|e| EngineError::internal(format!("writing image archive: {e}")))
    }

    /// `docker load`: imports every image of an archive; returns the lines the CLI prints.
    pub async fn load(&self, loaded: Vec<super::archive::LoadedImage>) -> Result<Vec<String>> {
        let mut lines = Vec::new();
        for img in loaded {
            let config: crate::api::types::ImageConfigBlob = serde_json::from_slice(&img.config)
                .map_err(|e| {
                    EngineError::invalid(format!("invalid image config in archive: {e}"))
                })?;
            if config.rootfs.diff_ids.len() != img.layers.len() {
                return Err(EngineError::invalid(
                    "image config and archive manifest disagree on the number of layers",
                ));
            }
            let chains = crate::snapshot::chain_ids(&config.rootfs.diff_ids);
            let mut layers = Vec::new();
            for (i, l) in img.layers.iter().enumerate() {
                if !self.content.has(&l.digest) {
                    let ingest = self.content.ingest_path(&l.digest)?;
                    std::fs::rename(&l.path, &ingest)?;
                    self.content.commit(&ingest, &l.digest)?;
                }
                let lock = self.layer_lock(&chains[i]);
                let _g = lock.lock().await;
                let size = match self.snapshots.layer_size(&chains[i]) {
                    Some(s) => s,
                    None => {
                        self.unpack_blob(&l.digest, &config.rootfs.diff_ids[i], &chains[i])
                            .await?
                    }
                };
                layers.push(super::store::LayerRecord {
                    diff_id: config.rootfs.diff_ids[i].clone(),
                    chain_id: chains[i].clone(),
                    blob: Some(l.digest.clone()),
                    media_type: super::media::OCI_LAYER.into(),
                    size,
                });
            }
            let id = self.content.put(&img.config)?;
            let created = config.created_unix();
            let mut tags = Vec::new();
            for t in &img.repo_tags {
                if let Some(k) = reference::canonical_tag(&reference::parse(t)?) {
                    tags.push(k);
                }
            }
            let rec = ImageRecord {
                id: id.clone(),
                size: layers.iter().map(|l| l.size).sum(),
                config,
                layers,
                repo_digests: vec![],
                created,
            };
            self.store.add(rec, &tags)?;
            if tags.is_empty() {
                lines.push(format!("Loaded image ID: {id}"));
            }
            for t in &tags {
                lines.push(format!("Loaded image: {}", reference::familiar(t)));
            }
        }
        Ok(lines)
    }
}

/// Docker's `reference` filter: a glob on the whole name or on its repository part (before the
/// last `sep`: `:` for tags, `@` for digests).
fn matches_reference(filters: &Filters, name: &str, sep: char) -> bool {
    let repo = name.rsplit_once(sep).map(|(r, _)| r).unwrap_or(name);
    filters
        .get("reference")
        .iter()
        .any(|p| glob_match(p, name) || glob_match(p, repo))
}

fn short(id: &str) -> String {
    id.strip_prefix("sha256:")
        .unwrap_or(id)
        .chars()
        .take(12)
        .collect()
}

/// Whether the user named the image by (a prefix of) its ID rather than by a reference.
fn is_id_like(name: &str, id: &str) -> bool {
    let hex = name.strip_prefix("sha256:").unwrap_or(name);
    !hex.is_empty()
        && id
            .strip_prefix("sha256:")
            .is_some_and(|h| h.starts_with(hex))
}
