//! Which image is the parent of which. dockerd records a parent for images it builds or
//! commits; here it is derived: an image's parent is the image whose history and layers are
//! exactly its own minus its last step. `docker images` hides untagged images that have children
//! (a build's intermediate images) unless `-a`, and shows the parent in `ParentId`/`Parent`.

use std::collections::{HashMap, HashSet};

use sha2::{Digest, Sha256};

use super::store::ImageRecord;
use crate::api::types::HistoryEntry;

fn key(history: &[HistoryEntry], diff_ids: &[String]) -> String {
    let mut h = Sha256::new();
    h.update(serde_json::to_vec(history).unwrap_or_default());
    h.update(b"\n");
    h.update(diff_ids.join(",").as_bytes());
    hex::encode(h.finalize())
}

/// The key an image's parent would have, if it has a last step to take off.
fn parent_key(rec: &ImageRecord) -> Option<String> {
    let history = &rec.config.history;
    let (last, rest) = history.split_last()?;
    if rest.is_empty() {
        return None;
    }
    let diff_ids = &rec.config.rootfs.diff_ids;
    let parent_diffs = if last.empty_layer {
        &diff_ids[..]
    } else {
        &diff_ids[..diff_ids.len().checked_sub(1)?]
    };
    Some(key(rest, parent_diffs))
}

/// Image ID → its parent's ID, for the images that have one among `images`.
pub fn parents(images: &[ImageRecord]) -> HashMap<String, String> {
    let by_key: HashMap<String, &str> = images
        .iter()
        .map(|r| {
            (
                key(&r.config.history, &r.config.rootfs.diff_ids),
                r.id.as_str(),
            )
        })
        .collect();
    images
        .iter()
        .filter_map(|r| {
            let parent = by_key.get(&parent_key(r)?)?;
            (*parent != r.id).then(|| (r.id.clone(), parent.to_string()))
        })
        .collect()
}

/// IDs of images that are some image's parent.
pub fn with_children(parents: &HashMap<String, String>) -> HashSet<String> {
    parents.values().cloned().collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::types::{ImageConfigBlob, RootFs};

    fn image(id: &str, steps: &[(&str, Option<&str>)]) -> ImageRecord {
        let history = steps
            .iter()
            .map(|(by, layer)| HistoryEntry {
                created_by: Some(by.to_string()),
                empty_layer: layer.is_none(),
                ..Default::default()
            })
            .collect();
        ImageRecord {
            id: id.into(),
            config: ImageConfigBlob {
                history,
                rootfs: RootFs {
                    kind: "layers".into(),
                    diff_ids: steps
                        .iter()
                        .filter_map(|(_, l)| l.map(str::to_string))
                        .collect(),
                },
                ..Default::default()
            },
            layers: vec![],
            repo_digests: vec![],
            created: 0,
            size: 0,
        }
    }

    #[test]
    fn parent_is_the_image_minus_its_last_step() {
        let base = image("base", &[("ADD rootfs", Some("l1"))]);
        let env = image("env", &[("ADD rootfs", Some("l1")), ("ENV A=1", None)]);
        let run = image(
            "run",
            &[
                ("ADD rootfs", Some("l1")),
                ("ENV A=1", None),
                ("RUN x", Some("l2")),
            ],
        );
        let other = image("other", &[("ADD rootfs", Some("l1")), ("ENV A=2", None)]);
        let p = parents(&[base, env, run, other]);
        assert_eq!(p.get("env").map(String::as_str), Some("base"));
        assert_eq!(p.get("run").map(String::as_str), Some("env"));
        assert_eq!(p.get("other").map(String::as_str), Some("base"));
        assert_eq!(p.get("base"), None);
        let kids = with_children(&p);
        assert!(kids.contains("base") && kids.contains("env") && !kids.contains("run"));
    }
}
