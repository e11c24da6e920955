//! `save` and `load`: images as docker-archive tar streams, to/from a file or stdio; `import`: a
//! filesystem tar as a one-layer image.

use std::io::{IsTerminal, Read, Write};

use anyhow::{Context, Result};
use bollard::query_parameters::{CreateImageOptions, ImportImageOptions};
use bollard::Docker;
use clap::Args;
use futures_util::StreamExt;

use crate::errors::{from_engine, CliError};
use crate::i18n::tr;

#[derive(Args, Debug)]
pub struct SaveArgs {
    /// Write to a file, instead of STDOUT
    #[arg(short, long)]
    pub output: Option<String>,
    #[arg(required = true)]
    pub images: Vec<String>,
}

pub async fn save(docker: &Docker, args: SaveArgs) -> Result<()> {
    let mut out: Box<dyn Write> = match &args.output {
        Some(path) => {
            Box::new(std::fs::File::create(path).with_context(|| format!("create {path}"))?)
        }
        None if std::io::stdout().is_terminal() => {
            return Err(CliError::new(
                tr(
                    "cowardly refusing to save to a terminal. Use the -o flag or redirect",
                    "no se escribe un tar en la terminal: use -o o redirija la salida",
                ),
                1,
            )
            .into())
        }
        None => Box::new(std::io::stdout()),
    };
    let names: Vec<&str> = args.images.iter().map(String::as_str).collect();
    let mut stream = docker.export_images(&names);
    while let Some(chunk) = stream.next().await {
        out.write_all(&chunk.map_err(|e| from_engine(&e))?)?;
    }
    out.flush()?;
    Ok(())
}

#[derive(Args, Debug)]
pub struct LoadArgs {
    /// Read from tar archive file, instead of STDIN
    #[arg(short, long)]
    pub input: Option<String>,
    /// Suppress the load output
    #[arg(short, long)]
    pub quiet: bool,
}

pub async fn load(docker: &Docker, args: LoadArgs) -> Result<()> {
    let data = match &args.input {
        Some(path) => std::fs::read(path).with_context(|| format!("read {path}"))?,
        None => {
            if std::io::stdin().is_terminal() {
                return Err(CliError::new(
                    tr(
                        "requested load from stdin, but stdin is empty",
                        "se pidió cargar desde la entrada estándar, pero está vacía",
                    ),
                    1,
                )
                .into());
            }
            let mut buf = Vec::new();
            std::io::stdin().read_to_end(&mut buf)?;
            buf
        }
    };
    let opts = ImportImageOptions {
        quiet: true,
        platform: None,
    };
    let mut stream = docker.import_image(opts, bollard::body_full(data.into()), None);
    while let Some(item) = stream.next().await {
        let info = item.map_err(crate::errors::from_stream)?;
        if let Some(e) = info.error_detail.and_then(|e| e.message) {
            return Err(CliError::new(e, 1).into());
        }
        if let Some(s) = info.stream.filter(|_| !args.quiet) {
            print!("{s}");
        }
    }
    Ok(())
}

#[derive(Args, Debug)]
pub struct ImportArgs {
    /// Apply Dockerfile instruction to the created image
    #[arg(short, long = "change")]
    pub changes: Vec<String>,
    /// Set commit message for imported image
    #[arg(short, long, default_value = "")]
    pub message: String,
    /// Set platform if server is multi-platform capable
    #[arg(long, default_value = "")]
    pub platform: String,
    /// A tar archive (plain or compressed) of a filesystem, `-` for STDIN, or a URL
    pub source: String,
    /// REPOSITORY[:TAG] for the new image
    pub reference: Option<String>,
}

/// `import`: the archive goes to `POST /images/create?fromSrc=-` (a URL goes as `fromSrc` for
/// the engine to fetch, as docker does); prints the new image's ID.
pub async fn import(docker: &Docker, args: ImportArgs) -> Result<()> {
    let is_url = args.source.starts_with("http://") || args.source.starts_with("https://");
    let body =
        if is_url {
            None
        } else if args.source == "-" {
            let mut buf = Vec::new();
            std::io::stdin().read_to_end(&mut buf)?;
            Some(buf)
        } else {
            Some(std::fs::read(&args.source).map_err(|e| {
                CliError::new(format!("open {}: {}", args.source, os_message(&e)), 1)
            })?)
        };
    let (repo, tag) = match &args.reference {
        Some(r) => {
            let (repo, tag) = crate::image::split_reference(r);
            (Some(repo), Some(tag))
        }
        None => (None, None),
    };
    let opts = CreateImageOptions {
        from_src: Some(if is_url {
            args.source.clone()
        } else {
            "-".into()
        }),
        repo,
        tag,
        message: Some(args.message.clone()).filter(|m| !m.is_empty()),
        changes: args.changes.clone(),
        platform: args.platform.clone(),
        ..Default::default()
    };
    let mut stream =
        docker.create_image(Some(opts), body.map(|b| bollard::body_full(b.into())), None);
    let mut last = None;
    while let Some(item) = stream.next().await {
        let info = item.map_err(crate::errors::from_stream)?;
        if let Some(e) = info.error_detail.and_then(|e| e.message) {
            return Err(CliError::new(e, 1).into());
        }
        if let Some(s) = info.status {
            last = Some(s);
        }
    }
    if let Some(id) = last {
        println!("{id}");
    }
    Ok(())
}

/// An I/O error as Go prints it (`no such file or directory`), without Rust's `(os error 2)`.
fn os_message(e: &std::io::Error) -> String {
    let s = e.to_string();
    match s.find(" (os error") {
        Some(i) => s[..i].to_lowercase(),
        None => s,
    }
}
