//! `cp`: files between the host and a container, through the engine's tar archive API, with
//! docker's naming rules (into an existing directory, or under a new name).

use std::io::Write;
use std::path::{Component, Path, PathBuf};

use anyhow::{Context, Result};
use bollard::query_parameters::{
    ContainerArchiveInfoOptions, DownloadFromContainerOptions, UploadToContainerOptions,
};
use bollard::Docker;
use clap::Args;
use futures_util::TryStreamExt;

use crate::errors::CliError;

#[derive(Args, Debug)]
pub struct CpArgs {
    /// CONTAINER:SRC_PATH, a host path, or - (a tar stream on stdin)
    pub src: String,
    /// CONTAINER:DEST_PATH, a host path, or - (a tar stream on stdout)
    pub dest: String,
}

/// `name:path` → (container, path); a host path (absolute, relative with a slash, or `-`)
/// has no container.
fn split_target(s: &str) -> (Option<&str>, &str) {
    if s == "-" || s.starts_with('/') || s.starts_with('.') {
        return (None, s);
    }
    match s.split_once(':') {
        Some((c, p)) if !c.contains('/') && !c.is_empty() => (Some(c), p),
        _ => (None, s),
    }
}

pub async fn cp(docker: &Docker, args: CpArgs) -> Result<()> {
    match (split_target(&args.src), split_target(&args.dest)) {
        ((Some(c), src), (None, dest)) => copy_out(docker, c, src, dest).await,
        ((None, src), (Some(c), dest)) => copy_in(docker, src, c, dest).await,
        _ => Err(CliError::new(
            "must specify at least one container source (copying between containers is not supported)",
            1,
        )
        .into()),
    }
}

async fn copy_out(docker: &Docker, container: &str, src: &str, dest: &str) -> Result<()> {
    let opts = DownloadFromContainerOptions {
        path: src.to_string(),
    };
    let chunks: Vec<bytes::Bytes> = docker
        .download_from_container(container, Some(opts))
        .try_collect()
        .await?;
    let tar: Vec<u8> = chunks.concat();
    if dest == "-" {
        std::io::stdout().lock().write_all(&tar)?;
        return Ok(());
    }
    let dest = Path::new(dest);
    // Into an existing directory: keep the source's name. Otherwise the top entry is renamed
    // to the destination's last component.
    let (dir, rename) = if dest.is_dir() {
        (dest.to_path_buf(), None)
    } else {
        let parent = dest
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let name = dest
            .file_name()
            .with_context(|| format!("invalid destination {}", dest.display()))?;
        (parent.to_path_buf(), Some(PathBuf::from(name)))
    };
    let mut archive = tar::Archive::new(tar.as_slice());
    archive.set_preserve_permissions(true);
    for entry in archive.entries()? {
        let mut entry = entry?;
        let path = entry.path()?.into_owned();
        // Entries from the engine are relative; refuse any that would climb out.
        if path
            .components()
            .any(|c| matches!(c, Component::ParentDir | Component::RootDir))
        {
            continue;
        }
        let target = match &rename {
            Some(name) => {
                let mut parts = path.components();
                parts.next();
                dir.join(name).join(parts.as_path())
            }
            None => dir.join(&path),
        };
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent)?;
        }
        entry
            .unpack(&target)
            .with_context(|| format!("write {}", target.display()))?;
    }
    Ok(())
}

async fn copy_in(docker: &Docker, src: &str, container: &str, dest: &str) -> Result<()> {
    let (tar, dir) = if src == "-" {
        let mut buf = Vec::new();
        std::io::Read::read_to_end(&mut std::io::stdin(), &mut buf)?;
        (buf, dest.to_string())
    } else {
        let src_path = Path::new(src);
        let meta = std::fs::metadata(src_path).with_context(|| format!("stat {src}"))?;
        let stat = docker
            .get_container_archive_info(
                container,
                Some(ContainerArchiveInfoOptions {
                    path: dest.to_string(),
                }),
            )
            .await;
        // Go's os.ModeDir.
        let dest_is_dir = matches!(&stat, Ok(s) if s.file_mode & (1 << 31) != 0);
        let (dir, name) = match stat {
            Ok(_) if dest_is_dir => {
                let name = src_path
                    .file_name()
                    .with_context(|| format!("invalid source {src}"))?;
                (dest.to_string(), PathBuf::from(name))
            }
            Ok(_)
            | Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 404, ..
            }) => {
                let d = Path::new(dest);
                let parent = d.parent().map(|p| p.to_string_lossy().into_owned());
                let parent = parent
                    .filter(|p| !p.is_empty())
                    .unwrap_or_else(|| "/".into());
                let name = d
                    .file_name()
                    .with_context(|| format!("invalid destination {dest}"))?;
                (parent, PathBuf::from(name))
            }
            Err(e) => return Err(e.into()),
        };
        let mut builder = tar::Builder::new(Vec::new());
        builder.follow_symlinks(false);
        if meta.is_dir() {
            builder.append_dir_all(&name, src_path)?;
        } else {
            builder.append_path_with_name(src_path, &name)?;
        }
        (builder.into_inner()?, dir)
    };
    let opts = UploadToContainerOptions {
        path: dir,
        ..Default::default()
    };
    docker
        .upload_to_container(container, Some(opts), bollard::body_full(tar.into()))
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn targets() {
        use super::split_target as s;
        assert_eq!(s("web:/etc/hosts"), (Some("web"), "/etc/hosts"));
        assert_eq!(s("/tmp/x"), (None, "/tmp/x"));
        assert_eq!(s("./a:b"), (None, "./a:b"));
        assert_eq!(s("-"), (None, "-"));
    }
}
