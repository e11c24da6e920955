//! The welcome image (`berth/welcome:latest`), built into berthd from busybox-static by
//! `build.rs` and loaded on the engine's first start, so the desktop's onboarding can run a web
//! server with no registry at hand.

use std::path::Path;

use super::ImageService;
use crate::error::{EngineError, Result};

pub const REFERENCE: &str = "berth/welcome:latest";

/// The docker-archive tar made at build time.
static ARCHIVE: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/welcome.tar"));

/// Marks a data root whose welcome image was loaded once: a user who removes it keeps it removed.
const MARKER: &str = "welcome-loaded";

/// Loads the welcome image unless this data root already had it once.
pub async fn ensure_loaded(images: &ImageService, data_root: &Path, scratch: &Path) -> Result<()> {
    let marker = data_root.join(MARKER);
    if marker.exists() {
        return Ok(());
    }
    let dir = scratch.join(format!("welcome-{:x}", rand::random::<u64>()));
    std::fs::create_dir_all(&dir)?;
    let blobs = dir.clone();
    let loaded = tokio::task::spawn_blocking(move || {
        super::archive::read_archive(std::io::Cursor::new(ARCHIVE), &blobs)
            .map_err(|e| EngineError::internal(format!("reading the built-in welcome image: {e}")))
    })
    .await
    .map_err(|e| EngineError::internal(format!("welcome image task: {e}")))?;
    let result = match loaded {
        Ok(l) => images.load(l).await.map(|_| ()),
        Err(e) => Err(e),
    };
    let _ = std::fs::remove_dir_all(&dir);
    result?;
    crate::store::write_atomic(&marker, b"", crate::store::Durability::Power)?;
    tracing::info!(image = REFERENCE, "loaded the welcome image");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_built_in_archive_reads_back() {
        let dir = tempfile::tempdir().unwrap();
        let images =
            super::super::archive::read_archive(std::io::Cursor::new(ARCHIVE), dir.path()).unwrap();
        assert_eq!(images.len(), 1);
        assert_eq!(images[0].repo_tags, vec![REFERENCE.to_string()]);
        assert_eq!(images[0].layers.len(), 1);
    }
}
