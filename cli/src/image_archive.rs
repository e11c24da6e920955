//! `save` and `load`: images as docker-archive tar streams, to/from a file or stdio.

use std::io::{IsTerminal, Read, Write};

use anyhow::{Context, Result};
use bollard::query_parameters::ImportImageOptions;
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
        if let Some(s) = info.stream.filter(|_| !args.quiet) {
            print!("{s}");
        }
    }
    Ok(())
}
