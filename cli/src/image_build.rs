//! `build`: the context directory as a tar (minus what `.dockerignore` excludes), sent to the
//! engine's `/build`, its steps streamed as they come.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use bollard::query_parameters::{BuildImageOptions, TagImageOptions};
use bollard::Docker;
use clap::Args;
use futures_util::StreamExt;

use crate::errors::{from_engine, CliError};
use crate::volume::key_values;

#[derive(Args, Debug)]
pub struct BuildArgs {
    /// Name and optionally a tag in the "name:tag" format (repeatable)
    #[arg(short, long = "tag")]
    pub tags: Vec<String>,
    /// Name of the Dockerfile (default: PATH/Dockerfile)
    #[arg(short, long)]
    pub file: Option<String>,
    /// Set build-time variables
    #[arg(long = "build-arg")]
    pub build_args: Vec<String>,
    /// Do not use cache when building the image
    #[arg(long)]
    pub no_cache: bool,
    /// Always attempt to pull a newer version of the image
    #[arg(long)]
    pub pull: bool,
    /// Suppress the build output and print image ID on success
    #[arg(short, long)]
    pub quiet: bool,
    /// Set the target build stage to build
    #[arg(long, default_value = "")]
    pub target: String,
    /// Set metadata for an image
    #[arg(long = "label")]
    pub labels: Vec<String>,
    /// The build context: a directory
    pub path: String,
}

/// `.dockerignore`'s rules: the last pattern that matches a path (or one of its parent
/// directories) decides; `!` re-includes. Patterns use `*`, `?` and `**` (any number of
/// directories), relative to the context root.
pub struct IgnoreRules {
    rules: Vec<(bool, Vec<String>)>,
}

impl IgnoreRules {
    pub fn parse(text: &str) -> IgnoreRules {
        let rules = text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .map(|l| {
                let (keep, pat) = match l.strip_prefix('!') {
                    Some(p) => (true, p.trim()),
                    None => (false, l),
                };
                let segments = pat
                    .trim_start_matches('/')
                    .split('/')
                    .filter(|s| !s.is_empty() && *s != ".")
                    .map(str::to_string)
                    .collect();
                (keep, segments)
            })
            .collect();
        IgnoreRules { rules }
    }

    /// Whether `rel` (a `/`-separated path inside the context) is left out.
    pub fn excluded(&self, rel: &str) -> bool {
        let parts: Vec<&str> = rel.split('/').filter(|s| !s.is_empty()).collect();
        let mut excluded = false;
        for (keep, pat) in &self.rules {
            // A pattern matches the path itself or any directory above it.
            let hit = (1..=parts.len()).any(|n| segments_match(pat, &parts[..n]));
            if hit {
                excluded = !keep;
            }
        }
        excluded
    }
}

fn segments_match(pat: &[String], path: &[&str]) -> bool {
    match (pat.first(), path.first()) {
        (None, None) => true,
        (Some(p), _) if p == "**" => {
            (0..=path.len()).any(|skip| segments_match(&pat[1..], &path[skip..]))
        }
        (Some(p), Some(s)) => {
            glob(p.as_bytes(), s.as_bytes()) && segments_match(&pat[1..], &path[1..])
        }
        _ => false,
    }
}

/// `*` and `?` within one path segment.
fn glob(p: &[u8], s: &[u8]) -> bool {
    match (p.first(), s.first()) {
        (None, None) => true,
        (Some(b'*'), _) => glob(&p[1..], s) || (!s.is_empty() && glob(p, &s[1..])),
        (Some(b'?'), Some(_)) => glob(&p[1..], &s[1..]),
        (Some(a), Some(b)) if a == b => glob(&p[1..], &s[1..]),
        _ => false,
    }
}

/// The context as a tar, without what `.dockerignore` excludes (the Dockerfile and the
/// `.dockerignore` are always sent, as docker does).
pub fn context_tar(root: &Path, dockerfile: &str) -> Result<Vec<u8>> {
    let rules = match std::fs::read_to_string(root.join(".dockerignore")) {
        Ok(t) => IgnoreRules::parse(&t),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => IgnoreRules::parse(""),
        Err(e) => return Err(e).context("read .dockerignore"),
    };
    let mut builder = tar::Builder::new(Vec::new());
    builder.follow_symlinks(false);
    let mut stack: Vec<PathBuf> = vec![PathBuf::new()];
    while let Some(rel) = stack.pop() {
        let dir = root.join(&rel);
        let mut entries: Vec<_> = std::fs::read_dir(&dir)
            .with_context(|| format!("read {}", dir.display()))?
            .collect::<std::io::Result<_>>()?;
        entries.sort_by_key(|e| e.file_name());
        for entry in entries {
            let rel_path = rel.join(entry.file_name());
            let rel_str = rel_path.to_string_lossy().into_owned();
            let always = rel_str == dockerfile || rel_str == ".dockerignore";
            if !always && rules.excluded(&rel_str) {
                continue;
            }
            let kind = entry.file_type()?;
            builder
                .append_path_with_name(entry.path(), &rel_path)
                .with_context(|| format!("add {} to the context", entry.path().display()))?;
            if kind.is_dir() {
                stack.push(rel_path);
            }
        }
    }
    Ok(builder.into_inner()?)
}

pub async fn build(docker: &Docker, args: BuildArgs) -> Result<()> {
    let root = Path::new(&args.path);
    if !root.is_dir() {
        return Err(CliError::new(
            format!(
                "unable to prepare context: path \"{}\" not found",
                args.path
            ),
            1,
        )
        .into());
    }
    let dockerfile = args.file.clone().unwrap_or_else(|| "Dockerfile".into());
    let tar = context_tar(root, &dockerfile)?;
    let opts = BuildImageOptions {
        dockerfile: dockerfile.clone(),
        t: args.tags.first().cloned(),
        q: args.quiet,
        nocache: args.no_cache,
        pull: args.pull.then(|| "1".to_string()),
        rm: true,
        buildargs: (!args.build_args.is_empty()).then(|| key_values(&args.build_args)),
        labels: (!args.labels.is_empty()).then(|| key_values(&args.labels)),
        target: args.target.clone(),
        ..Default::default()
    };
    let mut stream = docker.build_image(
        opts,
        None::<HashMap<_, _>>,
        Some(bollard::body_full(tar.into())),
    );
    let mut image_id = None;
    while let Some(item) = stream.next().await {
        let info = match item {
            Ok(i) => i,
            Err(bollard::errors::Error::DockerStreamError { error }) => {
                return Err(CliError::new(error, 1).into())
            }
            Err(e) => return Err(from_engine(&e).into()),
        };
        if let Some(e) = info.error_detail.and_then(|e| e.message) {
            return Err(CliError::new(e, 1).into());
        }
        if let Some(id) = info.aux.and_then(|a| a.id) {
            image_id = Some(id);
        }
        if let Some(s) = info.stream {
            if args.quiet {
                // -q: the engine sends only the image ID as the stream.
                image_id.get_or_insert_with(|| s.trim().to_string());
            } else {
                print!("{s}");
            }
        }
    }
    // The API takes one tag per build here: the rest are added after.
    if let Some(id) = &image_id {
        for tag in args.tags.iter().skip(1) {
            let (repo, t) = crate::image::split_reference(tag);
            let opts = TagImageOptions {
                repo: Some(repo),
                tag: Some(t),
            };
            docker.tag_image(id, Some(opts)).await?;
        }
        if args.quiet {
            println!("{id}");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dockerignore_rules() {
        let r = IgnoreRules::parse("# comment\n*.log\n!keep.log\nbuild/\n**/secret*\n/tmp\n");
        assert!(r.excluded("a.log"));
        assert!(!r.excluded("keep.log"));
        assert!(r.excluded("build/out/x.o"));
        assert!(r.excluded("deep/dir/secret.txt"));
        assert!(r.excluded("secret.key"));
        assert!(r.excluded("tmp/x"));
        assert!(!r.excluded("src/main.rs"));
        assert!(!r.excluded("logs/a.txt"));
    }

    #[test]
    fn context_leaves_out_ignored_files_but_keeps_the_dockerfile() {
        let dir = std::env::temp_dir().join(format!("berth-ctx-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("src")).unwrap();
        std::fs::write(dir.join("Dockerfile"), "FROM scratch\n").unwrap();
        std::fs::write(dir.join(".dockerignore"), "*.log\nDockerfile\n").unwrap();
        std::fs::write(dir.join("a.log"), "x").unwrap();
        std::fs::write(dir.join("src/main.rs"), "fn main() {}").unwrap();
        let tar = context_tar(&dir, "Dockerfile").unwrap();
        let mut names: Vec<String> = tar::Archive::new(tar.as_slice())
            .entries()
            .unwrap()
            .map(|e| e.unwrap().path().unwrap().to_string_lossy().into_owned())
            .collect();
        names.sort();
        let _ = std::fs::remove_dir_all(&dir);
        assert_eq!(names, [".dockerignore", "Dockerfile", "src", "src/main.rs"]);
    }
}
