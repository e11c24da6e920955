//! The container file browser, over the archive API (`GET /containers/{id}/archive`): it works
//! on running and stopped containers alike and needs nothing inside the container (no `ls`).
//!
//! A directory listing reads the tar of that directory and keeps only its direct children's
//! headers; the archive is read up to [`MAX_ARCHIVE_BYTES`] so a huge tree cannot exhaust
//! memory (the listing then says it is incomplete). A file preview reads at most
//! [`MAX_PREVIEW_BYTES`] of one file.

use std::io::Read;

use bollard::query_parameters::DownloadFromContainerOptions;
use futures_util::StreamExt;
use serde::Serialize;
use tauri::State;
use ts_rs::TS;

use crate::backend::{limits, Backend};
use crate::error::{CommandError, CommandResult, ErrorKind};

/// Most bytes of a directory's archive read for one listing.
pub const MAX_ARCHIVE_BYTES: usize = 64 << 20;
/// Most bytes of a file shown in a preview.
pub const MAX_PREVIEW_BYTES: usize = 256 << 10;

#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq, TS)]
#[serde(rename_all = "lowercase")]
pub enum EntryKind {
    File,
    Dir,
    Symlink,
    Other,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq, TS)]
#[serde(rename_all = "camelCase")]
pub struct FileEntry {
    pub name: String,
    pub kind: EntryKind,
    pub size: u64,
    /// Permission bits, e.g. 0o755.
    pub mode: u32,
    /// Unix seconds.
    pub modified: u64,
    pub link_target: Option<String>,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq, TS)]
#[serde(rename_all = "camelCase")]
pub struct DirListing {
    /// The directory listed, absolute, without a trailing slash (but "/").
    pub path: String,
    /// Directories first, then by name.
    pub entries: Vec<FileEntry>,
    /// The archive was larger than the app reads: some entries may be missing.
    pub truncated: bool,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq, TS)]
#[serde(rename_all = "camelCase")]
pub struct FilePreview {
    pub path: String,
    pub size: u64,
    /// UTF-8 text (lossy), or None for binary content.
    pub text: Option<String>,
    /// Only the first MAX_PREVIEW_BYTES are shown.
    pub truncated: bool,
}

/// `/a/b/` → `/a/b`; relative or `..`-bearing paths are refused (the engine resolves inside the
/// container anyway; this keeps what the UI shows honest).
pub fn normalize_dir(path: &str) -> CommandResult<String> {
    if !path.starts_with('/') {
        return Err(CommandError::invalid("path", "The path must start with /"));
    }
    let parts: Vec<&str> = path
        .split('/')
        .filter(|p| !p.is_empty() && *p != ".")
        .collect();
    if parts.contains(&"..") {
        return Err(CommandError::invalid("path", "The path cannot contain .."));
    }
    Ok(format!("/{}", parts.join("/")))
}

fn kind_of(t: tar::EntryType) -> EntryKind {
    match t {
        tar::EntryType::Regular | tar::EntryType::Continuous | tar::EntryType::Link => {
            EntryKind::File
        }
        tar::EntryType::Directory => EntryKind::Dir,
        tar::EntryType::Symlink => EntryKind::Symlink,
        _ => EntryKind::Other,
    }
}

/// The direct children of the archived directory. The engine names the entries of a directory
/// after its base name (`etc/`, `etc/passwd`, `etc/ssl/certs`…), so `nested` strips that first
/// component; the archive of `/` has the children at the top (`bin/`, or `./bin/`). Returns the
/// entries and whether the archive ended early (cut at the size limit).
pub fn children_of_archive(bytes: &[u8], nested: bool) -> (Vec<FileEntry>, bool) {
    let mut archive = tar::Archive::new(bytes);
    let mut out = Vec::new();
    let Ok(entries) = archive.entries() else {
        return (out, true);
    };
    for entry in entries {
        let Ok(entry) = entry else {
            return (sorted(out), true);
        };
        let Ok(path) = entry.path() else { continue };
        let parts: Vec<String> = path
            .components()
            .filter_map(|c| match c {
                std::path::Component::Normal(s) => Some(s.to_string_lossy().into_owned()),
                _ => None,
            })
            .collect();
        let rel = if nested {
            parts.get(1..).unwrap_or(&[])
        } else {
            &parts[..]
        };
        if rel.len() != 1 {
            continue;
        }
        let header = entry.header();
        let kind = kind_of(header.entry_type());
        out.push(FileEntry {
            name: rel[0].clone(),
            kind,
            size: header.size().unwrap_or(0),
            mode: header.mode().unwrap_or(0) & 0o7777,
            modified: header.mtime().unwrap_or(0),
            link_target: entry
                .link_name()
                .ok()
                .flatten()
                .map(|p| p.to_string_lossy().into_owned())
                .filter(|_| kind == EntryKind::Symlink),
        });
    }
    (sorted(out), false)
}

fn sorted(mut v: Vec<FileEntry>) -> Vec<FileEntry> {
    v.sort_by(|a, b| {
        (b.kind == EntryKind::Dir)
            .cmp(&(a.kind == EntryKind::Dir))
            .then_with(|| a.name.cmp(&b.name))
    });
    v
}

/// The first file of an archive of one file: its size and up to `limit` bytes.
pub fn first_file(bytes: &[u8], limit: usize) -> Option<(u64, Vec<u8>)> {
    let mut archive = tar::Archive::new(bytes);
    let mut entry = archive.entries().ok()?.next()?.ok()?;
    let size = entry.header().size().unwrap_or(0);
    let mut data = Vec::new();
    // An archive cut at the limit ends inside the file: keep what arrived.
    let _ = (&mut entry).take(limit as u64).read_to_end(&mut data);
    Some((size, data))
}

/// Text when it is UTF-8 (a cut in the middle of a character is allowed) and has no NULs.
pub fn as_text(data: &[u8]) -> Option<String> {
    if data.contains(&0) {
        return None;
    }
    match std::str::from_utf8(data) {
        Ok(s) => Some(s.to_string()),
        Err(e) if e.error_len().is_none() => Some(String::from_utf8_lossy(data).into_owned()),
        Err(_) => None,
    }
}

impl Backend {
    /// Up to `limit` bytes of the archive of `path` in container `id`; true when cut there.
    async fn read_archive(
        &self,
        id: &str,
        path: &str,
        limit: usize,
    ) -> CommandResult<(Vec<u8>, bool)> {
        let docker = self.docker().await?;
        let mut stream = docker.download_from_container(
            id,
            Some(DownloadFromContainerOptions {
                path: path.to_string(),
            }),
        );
        let mut buf = Vec::new();
        loop {
            let next = tokio::time::timeout(limits::QUICK, stream.next())
                .await
                .map_err(|_| CommandError::timed_out("read files", limits::QUICK.as_secs()))?;
            match next {
                None => return Ok((buf, false)),
                Some(Ok(chunk)) => {
                    buf.extend_from_slice(&chunk);
                    if buf.len() >= limit {
                        return Ok((buf, true));
                    }
                }
                Some(Err(e)) => {
                    let mut err: CommandError = e.into();
                    if err.kind == ErrorKind::NotFound && !err.message.contains("No such container")
                    {
                        err.field = Some("path".into());
                    }
                    return Err(err);
                }
            }
        }
    }

    pub async fn list_container_dir(&self, id: &str, path: &str) -> CommandResult<DirListing> {
        let path = normalize_dir(path)?;
        // A trailing slash follows a symlink to a directory (`/bin` → `usr/bin`), as docker cp.
        let nested = path != "/";
        let request = if nested {
            format!("{path}/")
        } else {
            path.clone()
        };
        let (bytes, cut) = self.read_archive(id, &request, MAX_ARCHIVE_BYTES).await?;
        let (entries, ended_early) = children_of_archive(&bytes, nested);
        Ok(DirListing {
            path,
            entries,
            truncated: cut || ended_early,
        })
    }

    pub async fn read_container_file(&self, id: &str, path: &str) -> CommandResult<FilePreview> {
        let path = normalize_dir(path)?;
        // Tar headers come first; the limit leaves room for them.
        let (bytes, _) = self
            .read_archive(id, &path, MAX_PREVIEW_BYTES + 4096)
            .await?;
        let (size, data) = first_file(&bytes, MAX_PREVIEW_BYTES)
            .ok_or_else(|| CommandError::engine(format!("{path}: the engine sent no file")))?;
        Ok(FilePreview {
            path,
            size,
            truncated: (data.len() as u64) < size,
            text: as_text(&data),
        })
    }
}

#[tauri::command]
pub async fn list_container_dir(
    backend: State<'_, std::sync::Arc<Backend>>,
    id: String,
    path: String,
) -> CommandResult<DirListing> {
    backend.list_container_dir(&id, &path).await
}

#[tauri::command]
pub async fn read_container_file(
    backend: State<'_, std::sync::Arc<Backend>>,
    id: String,
    path: String,
) -> CommandResult<FilePreview> {
    backend.read_container_file(&id, &path).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tar_of(entries: &[(&str, tar::EntryType, &[u8])]) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        for (path, kind, data) in entries {
            let mut h = tar::Header::new_gnu();
            h.set_entry_type(*kind);
            h.set_mode(if *kind == tar::EntryType::Directory {
                0o755
            } else {
                0o644
            });
            h.set_mtime(1_700_000_000);
            h.set_size(data.len() as u64);
            if *kind == tar::EntryType::Symlink {
                h.set_size(0);
                b.append_link(&mut h, path, "busybox").expect("link");
            } else {
                b.append_data(&mut h, path, *data).expect("append");
            }
        }
        b.into_inner().expect("tar")
    }

    #[test]
    fn lists_direct_children_directories_first() {
        use tar::EntryType::*;
        let t = tar_of(&[
            ("etc/", Directory, b""),
            ("etc/passwd", Regular, b"root:x:0:0"),
            ("etc/ssl/", Directory, b""),
            ("etc/ssl/certs", Regular, b"x"),
            ("etc/sh", Symlink, b""),
        ]);
        let (entries, cut) = children_of_archive(&t, true);
        assert!(!cut);
        let names: Vec<&str> = entries.iter().map(|e| e.name.as_str()).collect();
        assert_eq!(names, ["ssl", "passwd", "sh"]);
        assert_eq!(entries[1].size, 10);
        assert_eq!(entries[1].mode, 0o644);
        assert_eq!(entries[2].kind, EntryKind::Symlink);
        assert_eq!(entries[2].link_target.as_deref(), Some("busybox"));
    }

    #[test]
    fn lists_the_root_archive() {
        use tar::EntryType::*;
        let t = tar_of(&[
            ("./", Directory, b""),
            ("bin/", Directory, b""),
            ("bin/sh", Regular, b"x"),
            ("./etc/", Directory, b""),
            ("hello.txt", Regular, b"hi"),
        ]);
        let (entries, _) = children_of_archive(&t, false);
        let names: Vec<&str> = entries.iter().map(|e| e.name.as_str()).collect();
        assert_eq!(names, ["bin", "etc", "hello.txt"]);
    }

    #[test]
    fn a_cut_archive_keeps_what_arrived_and_says_so() {
        use tar::EntryType::*;
        let big = vec![b'a'; 10_000];
        let t = tar_of(&[
            ("d/", Directory, b""),
            ("d/one", Regular, b"1"),
            ("d/big", Regular, &big),
            ("d/two", Regular, b"2"),
        ]);
        let (entries, cut) = children_of_archive(&t[..3000], true);
        assert!(cut);
        assert_eq!(entries.len(), 2, "{entries:?}");
    }

    #[test]
    fn previews_text_and_refuses_binary() {
        use tar::EntryType::*;
        let t = tar_of(&[("motd", Regular, b"hola\n")]);
        let (size, data) = first_file(&t, 1024).expect("file");
        assert_eq!((size, as_text(&data).as_deref()), (5, Some("hola\n")));
        assert_eq!(as_text(b"\x7fELF\0\x01"), None);
        // A cut inside a multi-byte character still reads as text.
        assert_eq!(
            as_text("añ".as_bytes().get(..2).unwrap_or_default()).as_deref(),
            Some("a\u{fffd}")
        );
    }

    #[test]
    fn paths_are_absolute_and_plain() {
        assert_eq!(normalize_dir("/").ok().as_deref(), Some("/"));
        assert_eq!(
            normalize_dir("/etc//ssl/./").ok().as_deref(),
            Some("/etc/ssl")
        );
        assert!(normalize_dir("etc").is_err());
        assert!(normalize_dir("/etc/../root").is_err());
    }
}
