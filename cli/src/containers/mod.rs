//! Containers: listing (`ps`) and the lifecycle verbs; `run`/`create`, `logs`, `cp`, `stats`
//! and `top` live in the submodules.

pub mod confine;
pub mod cp;
pub mod create;
pub mod files;
pub mod health;
pub mod logs;
pub mod more;
pub mod run;
pub mod stats;

use std::collections::HashMap;

use anyhow::Result;
use bollard::models::{ContainerSummary, PortSummary};
use bollard::query_parameters::{
    KillContainerOptions, ListContainersOptions, RemoveContainerOptions, RestartContainerOptions,
    StopContainerOptions, TopOptions,
};
use bollard::Docker;
use clap::Args;
use serde_json::Value as Json;

use crate::errors::{from_engine, CliError};
use crate::format::{self, Listing, Row};

#[derive(Args, Debug)]
pub struct PsArgs {
    /// Show all containers (default shows just running)
    #[arg(short, long)]
    pub all: bool,
    /// Only display container IDs
    #[arg(short, long)]
    pub quiet: bool,
    /// Show n last created containers (includes all states)
    #[arg(short = 'n', long = "last", default_value_t = -1)]
    pub last: i32,
    /// Show the latest created container (includes all states)
    #[arg(short = 'l', long)]
    pub latest: bool,
    /// Filter output based on conditions provided (e.g. status=exited, name=web)
    #[arg(short, long = "filter")]
    pub filter: Vec<String>,
    /// Format output using a custom template ('table', 'table TEMPLATE', 'json', or a Go template)
    #[arg(long)]
    pub format: Option<String>,
    /// Don't truncate output
    #[arg(long)]
    pub no_trunc: bool,
    /// Display total file sizes
    #[arg(short, long)]
    pub size: bool,
}

const PS_HEADERS: &[(&str, &str)] = &[
    ("ID", "CONTAINER ID"),
    ("Image", "IMAGE"),
    ("Command", "COMMAND"),
    ("CreatedAt", "CREATED AT"),
    ("RunningFor", "CREATED"),
    ("Ports", "PORTS"),
    ("State", "STATE"),
    ("Status", "STATUS"),
    ("Size", "SIZE"),
    ("Names", "NAMES"),
    ("Labels", "LABELS"),
    ("Mounts", "MOUNTS"),
    ("Networks", "NETWORKS"),
    ("LocalVolumes", "LOCAL VOLUMES"),
];

/// `key=value` filters as the API's `filters` map.
pub fn parse_filters(filters: &[String]) -> Result<Option<HashMap<String, Vec<String>>>> {
    if filters.is_empty() {
        return Ok(None);
    }
    let mut map: HashMap<String, Vec<String>> = HashMap::new();
    for f in filters {
        let Some((k, v)) = f.split_once('=') else {
            return Err(CliError::usage(format!("invalid argument \"{f}\" for \"-f, --filter\" flag: bad format of filter (expected name=value)")).into());
        };
        map.entry(k.trim().to_lowercase())
            .or_default()
            .push(v.to_string());
    }
    Ok(Some(map))
}

pub async fn ps(docker: &Docker, args: PsArgs) -> Result<()> {
    let limit = if args.latest { 1 } else { args.last };
    // -s sizes are expensive for the engine: only asked for when shown.
    let wants_size = args.size
        || args
            .format
            .as_deref()
            .is_some_and(|f| f.contains(".Size") || f.contains("json"));
    let opts = ListContainersOptions {
        all: args.all || limit > 0,
        limit: (limit > 0).then_some(limit),
        size: wants_size,
        filters: parse_filters(&args.filter)?,
    };
    let list = docker.list_containers(Some(opts)).await?;
    if args.quiet && args.format.is_none() {
        for c in &list {
            let id = c.id.clone().unwrap_or_default();
            println!(
                "{}",
                if args.no_trunc {
                    id
                } else {
                    format::short_id(&id)
                }
            );
        }
        return Ok(());
    }
    let rows: Vec<Row> = list.iter().map(|c| ps_row(c, args.no_trunc)).collect();
    let default = if args.size {
        "table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}\t{{.Size}}"
    } else {
        "table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}"
    };
    let format = if args.quiet {
        Some("{{.ID}}")
    } else {
        args.format.as_deref()
    };
    Listing {
        headers: PS_HEADERS,
        default_table: default,
    }
    .print(format, &rows)
}

fn ps_row(c: &ContainerSummary, no_trunc: bool) -> Row {
    let id = c.id.clone().unwrap_or_default();
    let command = c.command.clone().unwrap_or_default();
    let command = if no_trunc {
        command
    } else {
        format::ellipsis(&command, 20)
    };
    let names: Vec<String> = c
        .names
        .iter()
        .flatten()
        // Only the container's own name, not the `/other/alias` link names.
        .filter(|n| no_trunc || n.matches('/').count() == 1)
        .map(|n| n.trim_start_matches('/').to_string())
        .collect();
    let created = c.created.unwrap_or(0);
    let size = match (c.size_rw, c.size_root_fs) {
        (None, None) => "0B".to_string(),
        (rw, root) => {
            let rw = format::human_size(rw.unwrap_or(0));
            match root {
                Some(root) if root > 0 => {
                    format!("{rw} (virtual {})", format::human_size(root))
                }
                _ => rw,
            }
        }
    };
    let mut labels: Vec<String> = c
        .labels
        .iter()
        .flatten()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    labels.sort();
    let mounts: Vec<String> = c
        .mounts
        .iter()
        .flatten()
        .map(|m| {
            let name = m
                .name
                .clone()
                .unwrap_or_else(|| m.source.clone().unwrap_or_default());
            if no_trunc {
                name
            } else {
                format::ellipsis(&name, 15)
            }
        })
        .collect();
    let local_volumes = c
        .mounts
        .iter()
        .flatten()
        .filter(|m| m.driver.as_deref() == Some("local"))
        .count();
    let mut networks: Vec<String> = c
        .network_settings
        .as_ref()
        .and_then(|n| n.networks.as_ref())
        .map(|n| n.keys().cloned().collect())
        .unwrap_or_default();
    networks.sort();
    let image = c.image.clone().unwrap_or_default();
    let image = if !no_trunc && image.starts_with("sha256:") {
        format::short_id(&image)
    } else {
        image
    };
    let state = c.state.map(|s| s.to_string()).unwrap_or_default();
    let mut row = Row::new();
    let mut put = |k: &str, v: String| {
        row.insert(k.to_string(), Json::String(v));
    };
    put(
        "ID",
        if no_trunc {
            id.clone()
        } else {
            format::short_id(&id)
        },
    );
    put("Image", image);
    put("Command", format!("\"{command}\""));
    put("CreatedAt", created_at(created));
    put("RunningFor", format::ago(created));
    put(
        "Ports",
        display_ports(c.ports.as_deref().unwrap_or_default()),
    );
    put("State", state);
    put("Status", c.status.clone().unwrap_or_default());
    put("Size", size);
    put("Names", names.join(","));
    put("Labels", labels.join(","));
    put("Mounts", mounts.join(","));
    put("Networks", networks.join(","));
    put("LocalVolumes", local_volumes.to_string());
    // docker's field for a container's platform, which the list API does not give.
    row.insert("Platform".into(), Json::Null);
    row
}

/// Go's `time.Unix(t).String()` shape, in local time: `2006-01-02 15:04:05 -0700 MST`.
fn created_at(unix: i64) -> String {
    use chrono::TimeZone;
    match chrono::Local.timestamp_opt(unix, 0) {
        // chrono knows no zone abbreviations; Go prints "UTC" for the zero offset.
        chrono::LocalResult::Single(t) if t.offset().local_minus_utc() == 0 => {
            t.format("%Y-%m-%d %H:%M:%S +0000 UTC").to_string()
        }
        chrono::LocalResult::Single(t) => t.format("%Y-%m-%d %H:%M:%S %z").to_string(),
        _ => unix.to_string(),
    }
}

/// Docker's `DisplayablePorts`: `0.0.0.0:8080->80/tcp, 443/tcp`, sorted, duplicates merged.
pub fn display_ports(ports: &[PortSummary]) -> String {
    let mut items: Vec<(u16, String)> = ports
        .iter()
        .map(|p| {
            let proto = p.typ.map(|t| t.to_string()).unwrap_or_else(|| "tcp".into());
            let text = match (p.public_port, p.ip.as_deref()) {
                (Some(public), ip) => {
                    let ip = ip.unwrap_or("0.0.0.0");
                    let ip = if ip.contains(':') {
                        format!("[{ip}]")
                    } else {
                        ip.to_string()
                    };
                    format!("{ip}:{public}->{}/{proto}", p.private_port)
                }
                (None, _) => format!("{}/{proto}", p.private_port),
            };
            (p.private_port, text)
        })
        .collect();
    items.sort();
    items.dedup();
    items
        .into_iter()
        .map(|(_, t)| t)
        .collect::<Vec<_>>()
        .join(", ")
}

/// Runs `op` on every target like docker: prints each success, reports each failure, and
/// fails (exit 1) at the end if any did.
pub async fn for_each<'a, F, Fut>(targets: &'a [String], mut op: F) -> Result<()>
where
    F: FnMut(&'a str) -> Fut,
    Fut: std::future::Future<Output = Result<(), bollard::errors::Error>>,
{
    let mut failed = false;
    for t in targets {
        match op(t).await {
            Ok(()) => println!("{t}"),
            Err(e) => {
                failed = true;
                crate::errors::report(&anyhow::Error::new(from_engine(&e)));
            }
        }
    }
    if failed {
        Err(CliError::exit(1).into())
    } else {
        Ok(())
    }
}

#[derive(Args, Debug)]
pub struct StartArgs {
    #[arg(required = true)]
    pub containers: Vec<String>,
}

#[derive(Args, Debug)]
pub struct StopArgs {
    /// Signal to send to the container
    #[arg(short, long)]
    pub signal: Option<String>,
    /// Seconds to wait before killing the container
    #[arg(short = 't', long = "time", visible_alias = "timeout")]
    pub time: Option<i32>,
    #[arg(required = true)]
    pub containers: Vec<String>,
}

#[derive(Args, Debug)]
pub struct KillArgs {
    /// Signal to send to the container
    #[arg(short, long, default_value = "KILL")]
    pub signal: String,
    #[arg(required = true)]
    pub containers: Vec<String>,
}

#[derive(Args, Debug)]
pub struct RmArgs {
    /// Force the removal of a running container (uses SIGKILL)
    #[arg(short, long)]
    pub force: bool,
    /// Remove anonymous volumes associated with the container
    #[arg(short, long)]
    pub volumes: bool,
    #[arg(required = true)]
    pub containers: Vec<String>,
}

#[derive(Args, Debug)]
pub struct TopArgs {
    pub container: String,
    /// ps options (default -ef)
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub ps_args: Vec<String>,
}

pub async fn start(docker: &Docker, args: StartArgs) -> Result<()> {
    for_each(&args.containers, |c| docker.start_container(c, None)).await
}

pub async fn stop(docker: &Docker, args: StopArgs) -> Result<()> {
    let opts = StopContainerOptions {
        signal: args.signal.clone(),
        t: args.time,
    };
    for_each(&args.containers, |c| {
        docker.stop_container(c, Some(opts.clone()))
    })
    .await
}

pub async fn restart(docker: &Docker, args: StopArgs) -> Result<()> {
    let opts = RestartContainerOptions {
        signal: args.signal.clone(),
        t: args.time,
    };
    for_each(&args.containers, |c| {
        docker.restart_container(c, Some(opts.clone()))
    })
    .await
}

pub async fn kill(docker: &Docker, args: KillArgs) -> Result<()> {
    let opts = KillContainerOptions {
        signal: args.signal.clone(),
    };
    for_each(&args.containers, |c| {
        docker.kill_container(c, Some(opts.clone()))
    })
    .await
}

pub async fn rm(docker: &Docker, args: RmArgs) -> Result<()> {
    let opts = RemoveContainerOptions {
        v: args.volumes,
        force: args.force,
        link: false,
    };
    for_each(&args.containers, |c| {
        docker.remove_container(c, Some(opts.clone()))
    })
    .await
}

pub async fn top(docker: &Docker, args: TopArgs) -> Result<()> {
    let opts = (!args.ps_args.is_empty()).then(|| TopOptions {
        ps_args: args.ps_args.join(" "),
    });
    let top = docker.top_processes(&args.container, opts).await?;
    let mut text = top.titles.unwrap_or_default().join("\t");
    text.push('\n');
    for p in top.processes.unwrap_or_default() {
        text.push_str(&p.join("\t"));
        text.push('\n');
    }
    // docker top's own tabwriter: minwidth 20.
    print!("{}", format::tabwrite_with(&text, 20, 3));
    Ok(())
}

/// `container prune`: removes stopped containers after a confirmation (or `-f`).
pub async fn prune(docker: &Docker, force: bool) -> Result<()> {
    use crate::i18n::tr;
    if !force {
        eprintln!(
            "{}",
            tr(
                "WARNING! This will remove all stopped containers.",
                "¡ATENCIÓN! Esto eliminará todos los contenedores detenidos.",
            )
        );
        if !format::confirm(tr(
            "Are you sure you want to continue?",
            "¿Seguro que quiere continuar?",
        )) {
            return Ok(());
        }
    }
    let r = docker
        .prune_containers(None::<bollard::query_parameters::PruneContainersOptions>)
        .await?;
    let deleted = r.containers_deleted.unwrap_or_default();
    if !deleted.is_empty() {
        println!("Deleted Containers:");
        for c in deleted {
            println!("{c}");
        }
        println!();
    }
    println!(
        "Total reclaimed space: {}",
        format::human_size(r.space_reclaimed.unwrap_or(0))
    );
    Ok(())
}
