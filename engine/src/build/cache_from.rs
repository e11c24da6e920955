//! `--cache-from`: images, usually pulled from a registry, whose history stands in for the
//! local cache, as moby's `image/cache.ImageCache` does for the classic builder. The local
//! cache is asked first; then a source matches a step when the build's current image is a
//! prefix of it (same history entries, same layers) and its next history entry was made by the
//! same command. The source's step is then rebuilt as an image of its own on top of the
//! current one (its layer reused, nothing run), or, at the source's last step, the source
//! itself is the result. After the first hit only that source is followed; after a miss, none.

use crate::api::types::{ContainerConfig, ImageConfigBlob, RootFs};
use crate::image::store::{ImageRecord, LayerRecord};

/// A cache hit from a source image.
#[derive(Debug)]
pub enum Hit {
    /// The step is the source's last: the source image itself.
    Whole(String),
    /// An image to make: config and layers, from the current image and the source's step.
    Step {
        config: Box<ImageConfigBlob>,
        layers: Vec<LayerRecord>,
    },
}

#[derive(Default)]
pub struct CacheSources {
    sources: Vec<ImageRecord>,
}

impl CacheSources {
    pub fn new(sources: Vec<ImageRecord>) -> Self {
        CacheSources { sources }
    }

    /// The source step that matches a step made by `created_by` on `parent` (an empty record
    /// for `scratch`); `config` is the image config after the step.
    pub fn probe(
        &mut self,
        parent: &ImageRecord,
        created_by: &str,
        config: &ContainerConfig,
    ) -> Option<Hit> {
        let n = parent.config.history.len();
        let Some(found) = self.sources.iter().find(|t| {
            valid_parent(t, parent)
                && t.config
                    .history
                    .get(n)
                    .and_then(|h| h.created_by.as_deref())
                    == Some(created_by)
        }) else {
            // No source is followed any further (moby drops them all).
            self.sources.clear();
            return None;
        };
        let target = found.clone();
        if target.config.history.len() - 1 == n {
            return Some(Hit::Whole(target.id));
        }
        let step = target.config.history[n].clone();
        let mut diff_ids = parent.config.rootfs.diff_ids.clone();
        let mut layers = parent.layers.clone();
        if let Some(l) = layer_for_history_index(&target, n) {
            diff_ids.push(l.diff_id.clone());
            layers.push(l.clone());
        }
        let mut history = parent.config.history.clone();
        history.push(step.clone());
        let config = ImageConfigBlob {
            created: step.created.clone(),
            author: target.config.author.clone(),
            architecture: target.config.architecture.clone(),
            variant: target.config.variant.clone(),
            os: target.config.os.clone(),
            config: Some(config.clone()),
            rootfs: RootFs {
                kind: "layers".into(),
                diff_ids,
            },
            history,
            extra: Default::default(),
        };
        self.sources = vec![target];
        Some(Hit::Step {
            config: Box::new(config),
            layers,
        })
    }

    pub fn is_empty(&self) -> bool {
        self.sources.is_empty()
    }
}

/// moby's `isValidParent`: `parent`'s history and layers are a strict prefix of `img`'s.
fn valid_parent(img: &ImageRecord, parent: &ImageRecord) -> bool {
    let (ih, ph) = (&img.config.history, &parent.config.history);
    let (il, pl) = (&img.config.rootfs.diff_ids, &parent.config.rootfs.diff_ids);
    if ih.is_empty() {
        return false;
    }
    if ph.is_empty() && pl.is_empty() {
        return true;
    }
    ph.len() < ih.len()
        && pl.len() <= il.len()
        && ph[..] == ih[..ph.len()]
        && pl[..] == il[..pl.len()]
}

/// The layer the history entry at `index` made, if it made one.
fn layer_for_history_index(img: &ImageRecord, index: usize) -> Option<&LayerRecord> {
    let h = img.config.history.get(index)?;
    if h.empty_layer {
        return None;
    }
    let before = img.config.history[..index]
        .iter()
        .filter(|h| !h.empty_layer)
        .count();
    img.layers.get(before)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::types::HistoryEntry;

    fn entry(by: &str, empty: bool) -> HistoryEntry {
        HistoryEntry {
            created: Some("2026-01-01T00:00:00Z".into()),
            created_by: Some(by.into()),
            empty_layer: empty,
            ..Default::default()
        }
    }

    fn layer(n: u8) -> LayerRecord {
        LayerRecord {
            diff_id: format!("sha256:d{n}"),
            chain_id: format!("sha256:c{n}"),
            blob: None,
            media_type: String::new(),
            size: 1,
        }
    }

    /// An image with these steps (created_by, makes a layer).
    fn image(id: &str, steps: &[(&str, bool)]) -> ImageRecord {
        let mut layers = Vec::new();
        let mut history = Vec::new();
        for (i, (by, has_layer)) in steps.iter().enumerate() {
            history.push(entry(by, !has_layer));
            if *has_layer {
                layers.push(layer(i as u8));
            }
        }
        ImageRecord {
            id: id.into(),
            config: ImageConfigBlob {
                architecture: "amd64".into(),
                os: "linux".into(),
                rootfs: RootFs {
                    kind: "layers".into(),
                    diff_ids: layers.iter().map(|l| l.diff_id.clone()).collect(),
                },
                history,
                ..Default::default()
            },
            layers,
            repo_digests: vec![],
            created: 0,
            size: 0,
        }
    }

    const BASE: &[(&str, bool)] = &[("ADD rootfs", true), ("CMD sh", false)];

    fn pulled() -> ImageRecord {
        let mut steps = BASE.to_vec();
        steps.extend([("RUN a", true), ("ENV X=1", false), ("RUN b", true)]);
        image("sha256:pulled", &steps)
    }

    #[test]
    fn steps_of_a_source_are_rebuilt_on_the_current_image_then_the_source_is_the_result() {
        let base = image("sha256:base", BASE);
        let mut c = CacheSources::new(vec![pulled()]);
        let cfg = ContainerConfig::default();
        let Some(Hit::Step { config, layers }) = c.probe(&base, "RUN a", &cfg) else {
            panic!("RUN a should hit");
        };
        assert_eq!(layers.len(), 2);
        assert_eq!(layers[1].diff_id, "sha256:d2");
        assert_eq!(config.history.len(), 3);
        assert_eq!(config.rootfs.diff_ids, vec!["sha256:d0", "sha256:d2"]);
        // The next step sees the rebuilt image as its parent.
        let mut steps = BASE.to_vec();
        steps.push(("RUN a", true));
        let after_a = image("sha256:a", &steps);
        let Some(Hit::Step { layers, .. }) = c.probe(&after_a, "ENV X=1", &cfg) else {
            panic!("ENV should hit");
        };
        assert_eq!(layers.len(), 2, "a metadata step adds no layer");
        steps.push(("ENV X=1", false));
        let after_env = image("sha256:e", &steps);
        assert!(matches!(
            c.probe(&after_env, "RUN b", &cfg),
            Some(Hit::Whole(id)) if id == "sha256:pulled"
        ));
    }

    #[test]
    fn a_different_command_or_parent_misses() {
        let base = image("sha256:base", BASE);
        let cfg = ContainerConfig::default();
        let mut c = CacheSources::new(vec![pulled()]);
        assert!(c.probe(&base, "RUN other", &cfg).is_none());
        let mut c = CacheSources::new(vec![pulled()]);
        let other_base = image("sha256:o", &[("ADD other", true), ("CMD sh", false)]);
        assert!(c.probe(&other_base, "RUN a", &cfg).is_none());
        // From scratch, the source's first step matches.
        let mut c = CacheSources::new(vec![pulled()]);
        let scratch = image("", &[]);
        assert!(matches!(
            c.probe(&scratch, "ADD rootfs", &cfg),
            Some(Hit::Step { .. })
        ));
        // A miss drops the sources: later steps are not taken from them.
        let mut c = CacheSources::new(vec![pulled()]);
        assert!(c.probe(&base, "RUN other", &cfg).is_none());
        assert!(c.is_empty());
        assert!(c.probe(&base, "RUN a", &cfg).is_none());
    }
}
