//! `build`: the context directory as a tar (minus what `.dockerignore` excludes), sent to the
//! engine's `/build`, its steps streamed as they come.

use std::collections::HashMap;
use std::path::Path;

use anyhow::Result;
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
    /// Images to consider as cache sources
    #[arg(long = "cache-from")]
    pub cache_from: Vec<String>,
    /// Set the networking mode for the RUN instructions during build
    #[arg(long, default_value = "default")]
    pub network: String,
    /// Always remove intermediate containers
    #[arg(long)]
    pub force_rm: bool,
    /// The build context: a directory
    pub path: String,
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
    let tar = berth_build_context::context_tar(root, &dockerfile)
        .map_err(|e| CliError::new(e.to_string(), 1))?;
    let opts = BuildImageOptions {
        dockerfile: dockerfile.clone(),
        t: args.tags.first().cloned(),
        q: args.quiet,
        nocache: args.no_cache,
        pull: args.pull.then(|| "1".to_string()),
        rm: true,
        forcerm: args.force_rm,
        cachefrom: (!args.cache_from.is_empty()).then(|| args.cache_from.clone()),
        networkmode: Some(args.network.clone()),
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
                // bollard keeps the message of an `errorDetail` but not its code: a failed
                // RUN's exit code (which docker exits with) is read back from dockerd's words.
                let code = run_exit_code(&error).unwrap_or(1);
                return Err(CliError::new(error, code).into());
            }
            Err(e) => return Err(from_engine(&e).into()),
        };
        if let Some(detail) = info.error_detail {
            // A failed RUN carries its exit code, which docker exits with; other errors are 1.
            let code = detail
                .code
                .and_then(|c| i32::try_from(c).ok())
                .filter(|c| *c > 0)
                .unwrap_or(1);
            let message = detail.message.unwrap_or_default();
            return Err(CliError::new(message, code).into());
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

/// The exit code in dockerd's `The command '…' returned a non-zero code: N`.
fn run_exit_code(message: &str) -> Option<i32> {
    let (_, code) = message.rsplit_once("returned a non-zero code: ")?;
    code.trim().parse().ok().filter(|c| *c > 0)
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_failed_runs_code_is_read_from_the_message() {
        assert_eq!(
            super::run_exit_code("The command '/bin/sh -c exit 7' returned a non-zero code: 7"),
            Some(7)
        );
        assert_eq!(super::run_exit_code("pull access denied"), None);
    }
}
