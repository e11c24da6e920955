//! What images hold on disk and how much of it they share, for `docker system df` and
//! `docker images` with `shared-size`.

use std::collections::{HashMap, HashSet};

use super::store::{ImageRecord, LayerRecord};
use super::ImageService;
use crate::api::types::ImageSummary;

/// An image's layers, each chain once even if the image lists it twice.
fn distinct_layers(img: &ImageRecord) -> impl Iterator<Item = &LayerRecord> {
    let mut seen = HashSet::new();
    img.layers
        .iter()
        .filter(move |l| seen.insert(l.chain_id.as_str()))
}

/// Unpacked layers by chain ID: their size and how many images use them.
fn layer_uses(images: &[ImageRecord]) -> HashMap<&str, (u64, usize)> {
    let mut uses: HashMap<&str, (u64, usize)> = HashMap::new();
    for l in images.iter().flat_map(distinct_layers) {
        uses.entry(l.chain_id.as_str()).or_insert((l.size, 0)).1 += 1;
    }
    uses
}

/// The bytes of an image's layers that another image also uses.
fn shared_size(img: &ImageRecord, uses: &HashMap<&str, (u64, usize)>) -> u64 {
    distinct_layers(img)
        .filter_map(|l| uses.get(l.chain_id.as_str()))
        .filter(|(_, n)| *n > 1)
        .map(|(size, _)| size)
        .sum()
}

impl ImageService {
    /// Fills dockerd's `SharedSize` (what removing the image alone would not free) into listed
    /// images; one the store no longer has keeps `-1`, "unknown".
    pub fn add_shared_sizes(&self, items: &mut [ImageSummary]) {
        let images = self.store.list();
        let uses = layer_uses(&images);
        let shared: HashMap<&str, i64> = images
            .iter()
            .map(|img| (img.id.as_str(), shared_size(img, &uses) as i64))
            .collect();
        for i in items {
            i.shared_size = shared.get(i.id.as_str()).copied().unwrap_or(-1);
        }
    }

    /// Every unpacked layer counted once (dockerd's `LayersSize`).
    pub fn layers_size(&self) -> i64 {
        let images = self.store.list();
        layer_uses(&images)
            .values()
            .map(|(size, _)| *size as i64)
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn image(id: &str, layers: &[(&str, u64)]) -> ImageRecord {
        ImageRecord {
            id: id.into(),
            config: Default::default(),
            layers: layers
                .iter()
                .map(|(chain, size)| LayerRecord {
                    diff_id: format!("d-{chain}"),
                    chain_id: chain.to_string(),
                    blob: None,
                    media_type: String::new(),
                    size: *size,
                })
                .collect(),
            repo_digests: vec![],
            created: 0,
            size: layers.iter().map(|l| l.1).sum(),
        }
    }

    #[test]
    fn shared_layers_are_counted_once_per_image() {
        let imgs = vec![
            image("a", &[("base", 100), ("a1", 10)]),
            image("b", &[("base", 100), ("b1", 20), ("b1", 20)]),
        ];
        let uses = layer_uses(&imgs);
        assert_eq!(uses["base"], (100, 2));
        assert_eq!(uses["b1"], (20, 1));
        let total: u64 = uses.values().map(|v| v.0).sum();
        assert_eq!(total, 130);
        assert_eq!(shared_size(&imgs[0], &uses), 100);
        assert_eq!(shared_size(&imgs[1], &uses), 100);
        let alone = [image("c", &[("c1", 5)])];
        assert_eq!(shared_size(&alone[0], &layer_uses(&alone)), 0);
    }
}
