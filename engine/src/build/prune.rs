//! The build cache as `docker system df` and `docker builder prune` see it: the images the step
//! cache points at that no tag names (a build's intermediate images). Freeing it removes those
//! images, through the image service's removal (layers and blobs go when nothing else uses
//! them), and forgets their cache entries.

use std::collections::HashSet;

use serde_json::{json, Value};

use crate::engine::Engine;
use crate::error::{EngineError, Result};
use crate::image::store::ImageRecord;

fn rfc3339(unix: i64) -> String {
    chrono::DateTime::from_timestamp(unix, 0)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// The cached step images no tag names.
fn cache_images(e: &Engine) -> Vec<ImageRecord> {
    let mut seen = HashSet::new();
    e.build_cache
        .image_ids()
        .into_iter()
        .filter(|id| seen.insert(id.clone()))
        .filter_map(|id| e.images.store.get(&id))
        .filter(|rec| e.images.store.tags_of(&rec.id).is_empty())
        .collect()
}

/// What the step added on disk: its own layer, if it made one.
fn own_size(rec: &ImageRecord) -> u64 {
    match rec.config.history.last() {
        Some(h) if !h.empty_layer => rec.layers.last().map_or(0, |l| l.size),
        _ => 0,
    }
}

/// `BuildCache` records of `GET /system/df`, in the API's shape.
pub fn records(e: &Engine) -> Vec<Value> {
    let users = e.containers.image_users();
    cache_images(e)
        .iter()
        .map(|rec| {
            let created = rfc3339(rec.created);
            json!({
                "ID": rec.id.trim_start_matches("sha256:").get(..25).unwrap_or_default(),
                "Parents": Value::Null,
                "Type": "regular",
                "Description": rec.config.history.last().and_then(|h| h.created_by.clone()).unwrap_or_default(),
                "InUse": users.iter().any(|u| u.image_id == rec.id),
                "Shared": false,
                "Size": own_size(rec),
                "CreatedAt": created,
                "LastUsedAt": created,
                "UsageCount": 1,
            })
        })
        .collect()
}

/// `docker builder prune`: removes the cache images no container uses; returns their record
/// IDs and the bytes freed.
pub fn prune(e: &Engine) -> Result<(Vec<String>, u64)> {
    let users = e.containers.image_users();
    let mut deleted = Vec::new();
    let mut gone = HashSet::new();
    let mut freed = 0;
    for rec in cache_images(e) {
        if users.iter().any(|u| u.image_id == rec.id) {
            continue;
        }
        freed += e.images.delete_image(&rec).map_err(|err| {
            EngineError::internal(format!("removing build cache image {}: {err}", rec.id))
        })?;
        let short = rec
            .id
            .trim_start_matches("sha256:")
            .get(..25)
            .unwrap_or_default()
            .to_string();
        deleted.push(short);
        gone.insert(rec.id.clone());
    }
    e.build_cache.forget(&gone)?;
    Ok((deleted, freed))
}
