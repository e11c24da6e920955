//! A container's filesystem as a whole: `diff`, `export`, `commit`.

use std::io::{IsTerminal, Write};

use anyhow::{Context, Result};
use bollard::models::{ChangeType, ContainerConfig};
use bollard::query_parameters::CommitContainerOptions;
use bollard::Docker;
use clap::Args;
use futures_util::StreamExt;

use crate::errors::{from_engine, CliError};
use crate::i18n::tr;

#[derive(Args, Debug)]
pub struct DiffArgs {
    pub container: String,
}

/// `diff`: `A`dded, `C`hanged and `D`eleted paths since the image.
pub async fn diff(docker: &Docker, args: DiffArgs) -> Result<()> {
    let changes = docker
        .container_changes(&args.container)
        .await?
        .unwrap_or_default();
    let mut out = String::new();
    for c in changes {
        let kind = match c.kind {
            ChangeType::_0 => 'C',
            ChangeType::_1 => 'A',
            ChangeType::_2 => 'D',
        };
        out.push_str(&format!("{kind} {}\n", c.path));
    }
    print!("{out}");
    Ok(())
}

#[derive(Args, Debug)]
pub struct ExportArgs {
    /// Write to a file, instead of STDOUT
    #[arg(short, long)]
    pub output: Option<String>,
    pub container: String,
}

/// `export`: the container's filesystem as a tar.
pub async fn export(docker: &Docker, args: ExportArgs) -> Result<()> {
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
    let mut stream = docker.export_container(&args.container);
    while let Some(chunk) = stream.next().await {
        out.write_all(&chunk.map_err(|e| from_engine(&e))?)?;
    }
    out.flush()?;
    Ok(())
}

#[derive(Args, Debug)]
pub struct CommitArgs {
    /// Author (e.g., "John Hannibal Smith <hannibal@a-team.com>")
    #[arg(short, long)]
    pub author: Option<String>,
    /// Commit message
    #[arg(short, long)]
    pub message: Option<String>,
    /// Apply Dockerfile instruction to the created image
    #[arg(short, long = "change")]
    pub changes: Vec<String>,
    /// Pause container during commit
    #[arg(short, long, default_value_t = true, action = clap::ArgAction::Set)]
    pub pause: bool,
    pub container: String,
    /// [REPOSITORY[:TAG]]
    pub reference: Option<String>,
}

/// `commit`: a new image from the container's changes; prints its ID.
pub async fn commit(docker: &Docker, args: CommitArgs) -> Result<()> {
    let (repo, tag) = match &args.reference {
        Some(r) => {
            let (repo, tag) = crate::image::split_reference(r);
            (Some(repo), Some(tag))
        }
        None => (None, None),
    };
    let opts = CommitContainerOptions {
        container: Some(args.container.clone()),
        repo,
        tag,
        comment: args.message.clone(),
        author: args.author.clone(),
        pause: args.pause,
        changes: (!args.changes.is_empty()).then(|| args.changes.join("\n")),
    };
    let r = docker
        .commit_container(opts, ContainerConfig::default())
        .await?;
    println!("{}", r.id);
    Ok(())
}
