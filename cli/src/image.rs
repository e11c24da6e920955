//! Images: `images`, `pull` (a progress bar per layer on a terminal, docker's plain lines
//! otherwise), `rmi`, `tag`.

use std::collections::HashMap;
use std::io::{IsTerminal, Write};

use anyhow::Result;
use bollard::models::{CreateImageInfo, ImageSummary};
use bollard::query_parameters::{
    CreateImageOptions, ListImagesOptions, RemoveImageOptions, TagImageOptions,
};
use bollard::Docker;
use clap::Args;
use futures_util::StreamExt;
use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use serde_json::Value as Json;

use crate::containers::parse_filters;
use crate::errors::{from_engine, CliError};
use crate::format::{self, Listing, Row};

#[derive(Args, Debug)]
pub struct ImagesArgs {
    /// Show all images (default hides intermediate images)
    #[arg(short, long)]
    pub all: bool,
    /// Only show image IDs
    #[arg(short, long)]
    pub quiet: bool,
    /// Show digests
    #[arg(long)]
    pub digests: bool,
    /// Filter output based on conditions provided
    #[arg(short, long = "filter")]
    pub filter: Vec<String>,
    /// Format output using a custom template
    #[arg(long)]
    pub format: Option<String>,
    /// Don't truncate output
    #[arg(long)]
    pub no_trunc: bool,
    /// [REPOSITORY[:TAG]]
    pub reference: Option<String>,
}

const IMAGE_HEADERS: &[(&str, &str)] = &[
    ("ID", "IMAGE ID"),
    ("Repository", "REPOSITORY"),
    ("Tag", "TAG"),
    ("Digest", "DIGEST"),
    ("CreatedSince", "CREATED"),
    ("CreatedAt", "CREATED AT"),
    ("Size", "SIZE"),
    ("SharedSize", "SHARED SIZE"),
    ("UniqueSize", "UNIQUE SIZE"),
    ("VirtualSize", "SIZE"),
    ("Containers", "CONTAINERS"),
];

pub async fn images(docker: &Docker, args: ImagesArgs) -> Result<()> {
    let mut filters = parse_filters(&args.filter)?.unwrap_or_default();
    if let Some(r) = &args.reference {
        filters
            .entry("reference".into())
            .or_default()
            .push(r.clone());
    }
    let opts = ListImagesOptions {
        all: args.all,
        filters: (!filters.is_empty()).then_some(filters),
        digests: args.digests,
        ..Default::default()
    };
    let list = docker.list_images(Some(opts)).await?;
    let rows: Vec<Row> = list
        .iter()
        .flat_map(|i| image_rows(i, args.no_trunc))
        .collect();
    let default = if args.digests {
        "table {{.Repository}}\t{{.Tag}}\t{{.Digest}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}"
    } else {
        "table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}"
    };
    let format = if args.quiet {
        Some("{{.ID}}")
    } else {
        args.format.as_deref()
    };
    let listing = Listing {
        headers: IMAGE_HEADERS,
        default_table: default,
    };
    if args.quiet {
        // One line per image, as docker's -q.
        let mut seen = std::collections::HashSet::new();
        let rows: Vec<Row> = rows
            .into_iter()
            .filter(|r| seen.insert(r.get("ID").cloned()))
            .collect();
        return listing.print(format, &rows);
    }
    listing.print(format, &rows)
}

/// One row per `repo:tag` (a dangling image is one `<none>` row), as docker lists them.
fn image_rows(i: &ImageSummary, no_trunc: bool) -> Vec<Row> {
    let id = if no_trunc {
        i.id.clone()
    } else {
        format::short_id(&i.id)
    };
    let digest_of = |repo: &str| {
        i.repo_digests
            .iter()
            .find(|d| d.split('@').next() == Some(repo))
            .and_then(|d| d.split('@').nth(1))
            .unwrap_or("<none>")
            .to_string()
    };
    let mut pairs: Vec<(String, String)> = i
        .repo_tags
        .iter()
        .filter(|t| *t != "<none>:<none>")
        .map(|t| match t.rsplit_once(':') {
            Some((r, tag)) if !tag.contains('/') => (r.to_string(), tag.to_string()),
            _ => (t.clone(), "<none>".into()),
        })
        .collect();
    if pairs.is_empty() {
        let repo = i
            .repo_digests
            .first()
            .and_then(|d| d.split('@').next())
            .unwrap_or("<none>");
        pairs.push((repo.to_string(), "<none>".into()));
    }
    pairs
        .into_iter()
        .map(|(repo, tag)| {
            let mut r = Row::new();
            let mut put = |k: &str, v: String| {
                r.insert(k.to_string(), Json::String(v));
            };
            put("ID", id.clone());
            put("Digest", digest_of(&repo));
            put("Repository", repo);
            put("Tag", tag);
            put("CreatedSince", format::ago(i.created));
            put("CreatedAt", i.created.to_string());
            put("Size", format::human_size(i.size));
            put("VirtualSize", format::human_size(i.size));
            put(
                "SharedSize",
                if i.shared_size < 0 {
                    "N/A".into()
                } else {
                    format::human_size(i.shared_size)
                },
            );
            put(
                "UniqueSize",
                if i.shared_size < 0 {
                    "N/A".into()
                } else {
                    format::human_size(i.size - i.shared_size)
                },
            );
            put(
                "Containers",
                if i.containers < 0 {
                    "N/A".into()
                } else {
                    i.containers.to_string()
                },
            );
            r
        })
        .collect()
}

#[derive(Args, Debug)]
pub struct PullArgs {
    /// Suppress verbose output
    #[arg(short, long)]
    pub quiet: bool,
    /// NAME[:TAG|@DIGEST]
    pub image: String,
}

/// `NAME[:TAG|@DIGEST]` → (`fromImage`, `tag`) as docker sends them; no tag means `latest`.
pub fn split_reference(image: &str) -> (String, String) {
    if let Some((name, digest)) = image.split_once('@') {
        return (name.to_string(), digest.to_string());
    }
    let last = image.rsplit('/').next().unwrap_or(image);
    match last.rsplit_once(':') {
        Some((_, tag)) => (
            image[..image.len() - tag.len() - 1].to_string(),
            tag.to_string(),
        ),
        None => (image.to_string(), "latest".to_string()),
    }
}

/// The reference as docker prints it after a pull: Docker Hub names in full.
pub fn full_reference(image: &str) -> String {
    let (name, tag) = split_reference(image);
    let sep = if tag.starts_with("sha256:") { "@" } else { ":" };
    let first = name.split('/').next().unwrap_or_default();
    let has_registry =
        name.contains('/') && (first.contains('.') || first.contains(':') || first == "localhost");
    let name = if has_registry {
        name
    } else if name.contains('/') {
        format!("docker.io/{name}")
    } else {
        format!("docker.io/library/{name}")
    };
    format!("{name}{sep}{tag}")
}

pub async fn pull(docker: &Docker, args: PullArgs) -> Result<()> {
    let tty = std::io::stdout().is_terminal() && !args.quiet;
    let mut sink: Box<dyn Write> = if args.quiet {
        Box::new(std::io::sink())
    } else {
        Box::new(std::io::stdout())
    };
    pull_into(docker, &args.image, tty, &mut sink).await?;
    println!("{}", full_reference(&args.image));
    Ok(())
}

/// `run`'s implicit pull: progress on stderr, as docker does.
pub async fn pull_quietly_to_stderr(docker: &Docker, image: &str) -> Result<()> {
    let tty = std::io::stderr().is_terminal();
    let mut sink: Box<dyn Write> = Box::new(std::io::stderr());
    pull_into(docker, image, tty, &mut sink).await
}

async fn pull_into(docker: &Docker, image: &str, tty: bool, out: &mut dyn Write) -> Result<()> {
    let (from_image, tag) = split_reference(image);
    let opts = CreateImageOptions {
        from_image: Some(from_image),
        tag: Some(tag),
        ..Default::default()
    };
    let creds = crate::registry::credentials_for(&crate::registry::registry_of(image));
    let mut stream = docker.create_image(Some(opts), None, creds);
    let mut progress = tty.then(LayerBars::new);
    while let Some(item) = stream.next().await {
        let info = match item {
            Ok(i) => i,
            Err(bollard::errors::Error::DockerStreamError { error }) => {
                let mut e = CliError::new(error.clone(), 1);
                e.hint = crate::errors::explain(&error);
                return Err(e.into());
            }
            Err(e) => return Err(from_engine(&e).into()),
        };
        match &mut progress {
            Some(bars) => bars.update(&info, out)?,
            None => plain_line(&info, out)?,
        }
    }
    if let Some(bars) = progress {
        bars.finish();
    }
    Ok(())
}

/// docker's output when not on a terminal: status lines, progress updates left out.
fn plain_line(info: &CreateImageInfo, out: &mut dyn Write) -> Result<()> {
    let status = info.status.as_deref().unwrap_or_default();
    let has_progress = info
        .progress_detail
        .as_ref()
        .is_some_and(|p| p.total.unwrap_or(0) > 0 || p.current.unwrap_or(0) > 0);
    if has_progress || status.is_empty() {
        return Ok(());
    }
    match &info.id {
        Some(id) if !id.is_empty() => writeln!(out, "{id}: {status}")?,
        _ => writeln!(out, "{status}")?,
    }
    Ok(())
}

/// One indicatif bar per layer, keyed by the layer's short ID.
struct LayerBars {
    multi: MultiProgress,
    bars: HashMap<String, ProgressBar>,
}

impl LayerBars {
    fn new() -> LayerBars {
        LayerBars {
            multi: MultiProgress::new(),
            bars: HashMap::new(),
        }
    }

    fn update(&mut self, info: &CreateImageInfo, out: &mut dyn Write) -> Result<()> {
        let status = info.status.clone().unwrap_or_default();
        let Some(id) = info
            .id
            .clone()
            .filter(|id| !id.is_empty() && status != "Pulling from")
        else {
            // Lines about the whole image ("Digest: …", "Status: …").
            self.multi.suspend(|| writeln!(out, "{status}"))?;
            return Ok(());
        };
        if status.starts_with("Pulling from") {
            self.multi.suspend(|| writeln!(out, "{id}: {status}"))?;
            return Ok(());
        }
        let bar = self.bars.entry(id.clone()).or_insert_with(|| {
            let bar = self.multi.add(ProgressBar::new(0));
            let style = ProgressStyle::with_template(
                "{prefix}: {msg:<12} [{bar:30}] {bytes}/{total_bytes}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> ");
            bar.set_style(style);
            bar.set_prefix(id);
            bar
        });
        if let Some(p) = &info.progress_detail {
            if let Some(total) = p.total.filter(|t| *t > 0) {
                bar.set_length(total as u64);
            }
            if let Some(current) = p.current {
                bar.set_position(current as u64);
            }
        }
        bar.set_message(status.clone());
        if matches!(status.as_str(), "Pull complete" | "Already exists") {
            let done = ProgressStyle::with_template("{prefix}: {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_bar());
            bar.set_style(done);
            bar.finish_with_message(status);
        }
        Ok(())
    }

    fn finish(self) {
        for bar in self.bars.values() {
            if !bar.is_finished() {
                bar.finish();
            }
        }
    }
}

#[derive(Args, Debug)]
pub struct RmiArgs {
    /// Force removal of the image
    #[arg(short, long)]
    pub force: bool,
    /// Do not delete untagged parents
    #[arg(long)]
    pub no_prune: bool,
    #[arg(required = true)]
    pub images: Vec<String>,
}

pub async fn rmi(docker: &Docker, args: RmiArgs) -> Result<()> {
    let mut failed = false;
    for image in &args.images {
        let opts = RemoveImageOptions {
            force: args.force,
            noprune: args.no_prune,
            ..Default::default()
        };
        match docker.remove_image(image, Some(opts), None).await {
            Ok(items) => {
                for item in items {
                    if let Some(u) = item.untagged {
                        println!("Untagged: {u}");
                    }
                    if let Some(d) = item.deleted {
                        println!("Deleted: {d}");
                    }
                }
            }
            Err(e) => {
                failed = true;
                crate::errors::report(&anyhow::Error::new(from_engine(&e)));
            }
        }
    }
    if failed {
        return Err(CliError::exit(1).into());
    }
    Ok(())
}

#[derive(Args, Debug)]
pub struct TagArgs {
    pub source: String,
    pub target: String,
}

pub async fn tag(docker: &Docker, args: TagArgs) -> Result<()> {
    let (repo, tag) = split_reference(&args.target);
    let opts = TagImageOptions {
        repo: Some(repo),
        tag: Some(tag),
    };
    docker.tag_image(&args.source, Some(opts)).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references() {
        assert_eq!(
            split_reference("busybox"),
            ("busybox".into(), "latest".into())
        );
        assert_eq!(
            split_reference("127.0.0.1:5000/busybox:1.36"),
            ("127.0.0.1:5000/busybox".into(), "1.36".into())
        );
        assert_eq!(
            split_reference("127.0.0.1:5000/busybox"),
            ("127.0.0.1:5000/busybox".into(), "latest".into())
        );
        assert_eq!(
            full_reference("busybox"),
            "docker.io/library/busybox:latest"
        );
        assert_eq!(full_reference("127.0.0.1:5000/bb:1"), "127.0.0.1:5000/bb:1");
    }
}

#[derive(Args, Debug)]
pub struct HistoryArgs {
    /// Print sizes and dates in human readable format (-H is the global host flag here)
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    pub human: bool,
    /// Don't truncate output
    #[arg(long)]
    pub no_trunc: bool,
    /// Only show image IDs
    #[arg(short, long)]
    pub quiet: bool,
    /// Format output using a custom template
    #[arg(long)]
    pub format: Option<String>,
    pub image: String,
}

const HISTORY_HEADERS: &[(&str, &str)] = &[
    ("ID", "IMAGE"),
    ("CreatedSince", "CREATED"),
    ("CreatedAt", "CREATED AT"),
    ("CreatedBy", "CREATED BY"),
    ("Size", "SIZE"),
    ("Comment", "COMMENT"),
];

pub async fn history(docker: &Docker, args: HistoryArgs) -> Result<()> {
    let items = docker.image_history(&args.image).await?;
    let rows: Vec<Row> = items
        .iter()
        .map(|h| {
            let id = if h.id.starts_with("sha256:") {
                if args.no_trunc {
                    h.id.clone()
                } else {
                    format::short_id(&h.id)
                }
            } else {
                h.id.clone()
            };
            let created_by = h.created_by.replace('\t', " ");
            let created_by = if args.no_trunc {
                created_by
            } else {
                format::ellipsis(&created_by, 45)
            };
            let mut r = Row::new();
            let mut put = |k: &str, v: String| {
                r.insert(k.to_string(), Json::String(v));
            };
            put("ID", id);
            put("CreatedSince", format::ago(h.created));
            put("CreatedAt", h.created.to_string());
            put("CreatedBy", created_by);
            put(
                "Size",
                if args.human {
                    format::human_size(h.size)
                } else {
                    h.size.to_string()
                },
            );
            put("Comment", h.comment.clone());
            r
        })
        .collect();
    let format = if args.quiet {
        Some("{{.ID}}")
    } else {
        args.format.as_deref()
    };
    Listing {
        headers: HISTORY_HEADERS,
        default_table: "table {{.ID}}\t{{.CreatedSince}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}",
    }
    .print(format, &rows)
}

#[derive(Args, Debug)]
pub struct PushArgs {
    /// Suppress verbose output
    #[arg(short, long)]
    pub quiet: bool,
    /// NAME[:TAG]
    pub image: String,
}

/// `push`, with the credentials `docker login` stored for the registry, if any.
pub async fn push(docker: &Docker, args: PushArgs) -> Result<()> {
    let (name, tag) = split_reference(&args.image);
    let creds = crate::registry::credentials_for(&crate::registry::registry_of(&name));
    let opts = bollard::query_parameters::PushImageOptions {
        tag: Some(tag),
        platform: None,
    };
    let mut stream = docker.push_image(&name, Some(opts), creds);
    while let Some(item) = stream.next().await {
        let info = item.map_err(crate::errors::from_stream)?;
        if let Some(e) = info.error_detail.and_then(|e| e.message) {
            return Err(CliError::new(e, 1).into());
        }
        let has_progress = info
            .progress_detail
            .as_ref()
            .is_some_and(|p| p.total.unwrap_or(0) > 0 || p.current.unwrap_or(0) > 0);
        match info.status {
            Some(s) if !args.quiet && !has_progress => println!("{s}"),
            _ => {}
        }
    }
    if args.quiet {
        println!("{}", args.image);
    }
    Ok(())
}

/// `image prune`: dangling images (all unused with `-a`) after a confirmation (or `-f`).
pub async fn prune(docker: &Docker, all: bool, force: bool) -> Result<()> {
    use crate::i18n::tr;
    if !force {
        let what = if all {
            tr(
                "WARNING! This will remove all images without at least one container associated to them.",
                "¡ATENCIÓN! Esto eliminará todas las imágenes sin al menos un contenedor asociado.",
            )
        } else {
            tr(
                "WARNING! This will remove all dangling images.",
                "¡ATENCIÓN! Esto eliminará todas las imágenes colgantes (sin etiqueta).",
            )
        };
        eprintln!("{what}");
        if !format::confirm(tr(
            "Are you sure you want to continue?",
            "¿Seguro que quiere continuar?",
        )) {
            return Ok(());
        }
    }
    let dangling = if all { "false" } else { "true" };
    let filters = HashMap::from([("dangling".to_string(), vec![dangling.to_string()])]);
    let opts = bollard::query_parameters::PruneImagesOptions {
        filters: Some(filters),
    };
    let r = docker.prune_images(Some(opts)).await?;
    let items = r.images_deleted.unwrap_or_default();
    if !items.is_empty() {
        println!("Deleted Images:");
        for i in items {
            if let Some(u) = i.untagged {
                println!("untagged: {u}");
            }
            if let Some(d) = i.deleted {
                println!("deleted: {d}");
            }
        }
        println!();
    }
    println!(
        "Total reclaimed space: {}",
        format::human_size(r.space_reclaimed.unwrap_or(0))
    );
    Ok(())
}
