//! `ADD <url>`: the file is fetched by the engine (not in a container), as dockerd's classic
//! builder does: streamed to a temporary file (mode 0600, its mtime from `Last-Modified`),
//! named after the URL's last path segment or else the `Content-Disposition` filename, and
//! copied like a context file but never extracted.

use std::path::{Path, PathBuf};

use tokio::io::AsyncWriteExt;

use super::executor::BuildError;

/// Whether a source of `ADD` is a URL (dockerd: `http://` or `https://`).
pub fn is_url(source: &str) -> bool {
    source.starts_with("http://") || source.starts_with("https://")
}

/// A downloaded source, kept in a directory removed on drop.
pub struct Downloads {
    dir: PathBuf,
}

impl Drop for Downloads {
    fn drop(&mut self) {
        if let Err(e) = std::fs::remove_dir_all(&self.dir) {
            if e.kind() != std::io::ErrorKind::NotFound {
                tracing::warn!(dir = %self.dir.display(), error = %e, "removing ADD downloads");
            }
        }
    }
}

impl Downloads {
    pub fn new(scratch: &Path) -> Result<Self, BuildError> {
        let dir = scratch.join(format!("build-url-{:016x}", rand::random::<u64>()));
        std::fs::create_dir_all(&dir)?;
        Ok(Downloads { dir })
    }

    /// Fetches `url`; returns the file's name at the destination and where it is now.
    pub async fn fetch(&self, url: &str) -> Result<(String, PathBuf), BuildError> {
        let parsed = reqwest::Url::parse(url)
            .map_err(|e| BuildError::msg(format!("parse \"{url}\": {e}")))?;
        let get_err = |e: reqwest::Error| {
            BuildError::msg(format!("Get \"{url}\": {}", crate::error::with_causes(&e)))
        };
        let client = reqwest::Client::builder()
            .connect_timeout(std::time::Duration::from_secs(30))
            .build()
            .map_err(get_err)?;
        let mut resp = client.get(parsed.clone()).send().await.map_err(get_err)?;
        let status = resp.status();
        if status.as_u16() >= 400 {
            let body = resp.text().await.unwrap_or_default();
            let reason = status.canonical_reason().unwrap_or("");
            return Err(BuildError::msg(format!(
                "failed to GET {url} with status {} {reason}: {}",
                status.as_u16(),
                body.chars().take(512).collect::<String>()
            )));
        }
        let disposition = resp
            .headers()
            .get(reqwest::header::CONTENT_DISPOSITION)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let name = file_name(parsed.path(), disposition.as_deref())
            .ok_or_else(|| BuildError::msg(format!("cannot determine filename from url: {url}")))?;
        let modified = resp
            .headers()
            .get(reqwest::header::LAST_MODIFIED)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| chrono::DateTime::parse_from_rfc2822(v).ok());
        // One directory per download: two URLs may end in the same name.
        let dir = self.dir.join(format!("{:08x}", rand::random::<u32>()));
        std::fs::create_dir(&dir)?;
        let path = dir.join(&name);
        let mut file = tokio::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)
            .await?;
        while let Some(chunk) = resp.chunk().await.map_err(get_err)? {
            file.write_all(&chunk).await?;
        }
        file.flush().await?;
        let file = file.into_std().await;
        if let Some(t) = modified {
            file.set_modified(std::time::SystemTime::from(t))?;
        }
        Ok((name, path))
    }
}

/// dockerd's `getFilenameForDownload`: the URL path's last segment unless the path ends in
/// `/`, else the `filename` of `Content-Disposition`.
fn file_name(url_path: &str, disposition: Option<&str>) -> Option<String> {
    let base = |p: &str| {
        p.rsplit('/')
            .next()
            .filter(|b| !b.is_empty() && *b != "." && *b != "..")
            .map(str::to_string)
    };
    if !url_path.is_empty() && !url_path.ends_with('/') {
        if let Some(b) = base(url_path) {
            return Some(b);
        }
    }
    let d = disposition?;
    let filename = d.split(';').skip(1).find_map(|p| {
        let (k, v) = p.trim().split_once('=')?;
        k.trim()
            .eq_ignore_ascii_case("filename")
            .then(|| v.trim().trim_matches('"').to_string())
    })?;
    if filename.ends_with('/') {
        return None;
    }
    base(&filename)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_come_from_the_path_then_the_disposition() {
        assert_eq!(file_name("/a/b.tar.gz", None).as_deref(), Some("b.tar.gz"));
        assert_eq!(
            file_name("/dir/", Some("attachment; filename=\"x.txt\"")).as_deref(),
            Some("x.txt")
        );
        assert_eq!(
            file_name("", Some("attachment; FILENAME=y/z.bin")).as_deref(),
            Some("z.bin")
        );
        assert_eq!(file_name("/dir/", None), None);
        assert_eq!(file_name("/", Some("inline; filename=\"d/\"")), None);
        assert_eq!(file_name("/..", None), None);
    }

    #[test]
    fn urls_are_http_or_https() {
        assert!(is_url("http://127.0.0.1/x"));
        assert!(is_url("https://h/x"));
        assert!(!is_url("ftp://h/x"));
        assert!(!is_url("src/http://x"));
    }
}
