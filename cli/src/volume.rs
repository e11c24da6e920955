//! `volume ls|create|rm|inspect|prune`.

use std::collections::HashMap;

use anyhow::Result;
use bollard::models::VolumeCreateRequest;
use bollard::query_parameters::{ListVolumesOptions, PruneVolumesOptions, RemoveVolumeOptions};
use bollard::Docker;
use clap::{Args, Subcommand};
use serde_json::Value as Json;

use crate::containers::{for_each, parse_filters};
use crate::format::{self, Listing, Row};
use crate::i18n::tr;
use crate::inspect::print_inspected;

#[derive(Subcommand, Debug)]
pub enum VolumeCmd {
    /// List volumes
    #[command(alias = "list")]
    Ls {
        #[arg(short, long)]
        quiet: bool,
        #[arg(short, long = "filter")]
        filter: Vec<String>,
        #[arg(long)]
        format: Option<String>,
    },
    /// Create a volume
    Create(CreateArgs),
    /// Remove one or more volumes
    #[command(alias = "remove")]
    Rm {
        #[arg(short, long)]
        force: bool,
        #[arg(required = true)]
        volumes: Vec<String>,
    },
    /// Display detailed information on one or more volumes
    Inspect {
        #[arg(short, long)]
        format: Option<String>,
        #[arg(required = true)]
        volumes: Vec<String>,
    },
    /// Remove unused local volumes
    Prune {
        /// Remove all unused volumes, not just anonymous ones
        #[arg(short, long)]
        all: bool,
        /// Do not prompt for confirmation
        #[arg(short, long)]
        force: bool,
        #[arg(long = "filter")]
        filter: Vec<String>,
    },
}

#[derive(Args, Debug)]
pub struct CreateArgs {
    /// Specify volume driver name
    #[arg(short, long, default_value = "local")]
    pub driver: String,
    /// Set metadata for a volume
    #[arg(long = "label")]
    pub labels: Vec<String>,
    /// Set driver specific options
    #[arg(short, long = "opt")]
    pub opts: Vec<String>,
    pub name: Option<String>,
}

/// `k=v` list → map (a bare `k` is `k=`).
pub fn key_values(items: &[String]) -> HashMap<String, String> {
    items
        .iter()
        .map(|l| match l.split_once('=') {
            Some((k, v)) => (k.to_string(), v.to_string()),
            None => (l.clone(), String::new()),
        })
        .collect()
}

const HEADERS: &[(&str, &str)] = &[
    ("Name", "VOLUME NAME"),
    ("Driver", "DRIVER"),
    ("Scope", "SCOPE"),
    ("Mountpoint", "MOUNTPOINT"),
    ("Labels", "LABELS"),
];

pub async fn run(docker: &Docker, cmd: VolumeCmd) -> Result<()> {
    match cmd {
        VolumeCmd::Ls {
            quiet,
            filter,
            format,
        } => {
            let opts = ListVolumesOptions {
                filters: parse_filters(&filter)?,
            };
            let mut volumes = docker
                .list_volumes(Some(opts))
                .await?
                .volumes
                .unwrap_or_default();
            volumes.sort_by(|a, b| a.name.cmp(&b.name));
            let rows: Vec<Row> = volumes
                .iter()
                .map(|v| {
                    let mut labels: Vec<String> =
                        v.labels.iter().map(|(k, l)| format!("{k}={l}")).collect();
                    labels.sort();
                    let mut r = Row::new();
                    r.insert("Name".into(), Json::String(v.name.clone()));
                    r.insert("Driver".into(), Json::String(v.driver.clone()));
                    let scope = v
                        .scope
                        .map(|s| s.to_string())
                        .unwrap_or_else(|| "local".into());
                    r.insert("Scope".into(), Json::String(scope));
                    r.insert("Mountpoint".into(), Json::String(v.mountpoint.clone()));
                    r.insert("Labels".into(), Json::String(labels.join(",")));
                    r
                })
                .collect();
            let format = if quiet {
                Some("{{.Name}}")
            } else {
                format.as_deref()
            };
            Listing {
                headers: HEADERS,
                default_table: "table {{.Driver}}\t{{.Name}}",
            }
            .print(format, &rows)
        }
        VolumeCmd::Create(args) => {
            let req = VolumeCreateRequest {
                name: args.name.clone(),
                driver: Some(args.driver.clone()),
                driver_opts: (!args.opts.is_empty()).then(|| key_values(&args.opts)),
                labels: (!args.labels.is_empty()).then(|| key_values(&args.labels)),
                ..Default::default()
            };
            let v = docker.create_volume(req).await?;
            println!("{}", v.name);
            Ok(())
        }
        VolumeCmd::Rm { force, volumes } => {
            for_each(&volumes, |v| {
                docker.remove_volume(v, Some(RemoveVolumeOptions { force }))
            })
            .await
        }
        VolumeCmd::Inspect { format, volumes } => {
            print_inspected(&volumes, format.as_deref(), |v| async move {
                Ok(serde_json::to_value(docker.inspect_volume(&v).await?)?)
            })
            .await
        }
        VolumeCmd::Prune { all, force, filter } => {
            let warning = if all {
                tr(
                    "WARNING! This will remove all local volumes not used by at least one container.",
                    "¡ATENCIÓN! Esto eliminará todos los volúmenes locales que no use al menos un contenedor.",
                )
            } else {
                tr(
                    "WARNING! This will remove anonymous local volumes not used by at least one container.",
                    "¡ATENCIÓN! Esto eliminará los volúmenes locales anónimos que no use al menos un contenedor.",
                )
            };
            if !force {
                eprintln!("{warning}");
                if !format::confirm(tr(
                    "Are you sure you want to continue?",
                    "¿Seguro que quiere continuar?",
                )) {
                    return Ok(());
                }
            }
            let mut filters = parse_filters(&filter)?.unwrap_or_default();
            if all {
                filters.insert("all".into(), vec!["true".into()]);
            }
            let opts = PruneVolumesOptions {
                filters: (!filters.is_empty()).then_some(filters),
            };
            let r = docker.prune_volumes(Some(opts)).await?;
            let deleted = r.volumes_deleted.unwrap_or_default();
            if !deleted.is_empty() {
                println!("Deleted Volumes:");
                for v in deleted {
                    println!("{v}");
                }
                println!();
            }
            println!(
                "Total reclaimed space: {}",
                format::human_size(r.space_reclaimed.unwrap_or(0))
            );
            Ok(())
        }
    }
}
