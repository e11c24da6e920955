//! `inspect` of any object, and the JSON/`--format` printing every `… inspect` shares.

use std::future::Future;

use anyhow::Result;
use bollard::Docker;
use clap::Args;
use serde_json::Value as Json;

use crate::errors::{from_engine, CliError};
use crate::format;

#[derive(Args, Debug)]
pub struct InspectArgs {
    /// Format output using a custom template
    #[arg(short, long)]
    pub format: Option<String>,
    /// Return JSON for specified type (container, image, network, volume)
    #[arg(long = "type")]
    pub kind: Option<String>,
    /// Display total file sizes if the type is container
    #[arg(short, long)]
    pub size: bool,
    #[arg(required = true)]
    pub names: Vec<String>,
}

/// Prints the objects `get` finds as docker does: a JSON array (4-space indent), or one
/// rendered template per object. Failures are reported after, and make the exit status 1.
pub async fn print_inspected<F, Fut>(names: &[String], format: Option<&str>, get: F) -> Result<()>
where
    F: Fn(String) -> Fut,
    Fut: Future<Output = Result<Json>>,
{
    let mut found = Vec::new();
    let mut errors = Vec::new();
    for n in names {
        match get(n.clone()).await {
            Ok(v) => found.push(v),
            Err(e) => errors.push(e),
        }
    }
    match format {
        Some(f) if !f.is_empty() && f != "json" => {
            let mut out = String::new();
            for v in &found {
                out.push_str(&format::render_json(f, v)?);
                out.push('\n');
            }
            print!("{out}");
        }
        _ => format::print_json_indented(&Json::Array(found))?,
    }
    let failed = !errors.is_empty();
    for e in errors {
        crate::errors::report(&e);
    }
    if failed {
        return Err(CliError::exit(1).into());
    }
    Ok(())
}

fn is_not_found(e: &bollard::errors::Error) -> bool {
    matches!(
        e,
        bollard::errors::Error::DockerResponseServerError {
            status_code: 404,
            ..
        }
    )
}

/// One object by name, trying the kinds in docker's order unless `kind` says which.
async fn find(docker: &Docker, name: &str, kind: Option<&str>, size: bool) -> Result<Json> {
    let kinds: &[&str] = match kind {
        Some(k) => &[k][..],
        None => &["container", "image", "network", "volume"],
    };
    for k in kinds {
        let got = match *k {
            "container" => {
                let opts = bollard::query_parameters::InspectContainerOptions { size };
                docker
                    .inspect_container(name, Some(opts))
                    .await
                    .map(|v| serde_json::to_value(v).unwrap_or_default())
            }
            "image" => docker
                .inspect_image(name)
                .await
                .map(|v| serde_json::to_value(v).unwrap_or_default()),
            "network" => docker
                .inspect_network(name, None)
                .await
                .map(|v| serde_json::to_value(v).unwrap_or_default()),
            "volume" => docker
                .inspect_volume(name)
                .await
                .map(|v| serde_json::to_value(v).unwrap_or_default()),
            other => {
                return Err(
                    CliError::usage(format!("\"{other}\" is not a valid value for --type")).into(),
                )
            }
        };
        match got {
            Ok(v) => return Ok(v),
            Err(e) if is_not_found(&e) => continue,
            Err(e) => return Err(from_engine(&e).into()),
        }
    }
    Err(CliError::new(format!("Error: No such object: {name}"), 1).into())
}

pub async fn inspect(docker: &Docker, args: InspectArgs) -> Result<()> {
    let kind = args.kind.clone();
    print_inspected(&args.names, args.format.as_deref(), |n| {
        let kind = kind.clone();
        async move { find(docker, &n, kind.as_deref(), args.size).await }
    })
    .await
}
