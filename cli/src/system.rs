//! `version`, `info`, `system df`, `system prune`.

use std::collections::HashSet;

use anyhow::Result;
use bollard::query_parameters::{
    ListContainersOptions, ListImagesOptions, ListVolumesOptions, PruneContainersOptions,
    PruneImagesOptions, PruneNetworksOptions, PruneVolumesOptions,
};
use bollard::Docker;
use clap::{Args, Subcommand};
use serde_json::{json, Value as Json};

use crate::format::{self, Listing, Row};
use crate::i18n::tr;

pub const CLIENT_VERSION: &str = env!("CARGO_PKG_VERSION");
/// The API version this client is written against (see `engine::connect`).
pub const CLIENT_API: &str = "1.47";

#[derive(Args, Debug)]
pub struct FormatArgs {
    /// Format output using a custom template ('json' or a Go template)
    #[arg(short, long)]
    pub format: Option<String>,
}

fn client_json(docker: Option<&Docker>, host: &str) -> Json {
    let api = docker
        .map(|d| {
            let v = d.client_version();
            format!("{}.{}", v.major_version, v.minor_version)
        })
        .unwrap_or_else(|| CLIENT_API.to_string());
    json!({
        "Platform": {"Name": "Berth"},
        "Version": CLIENT_VERSION,
        "ApiVersion": api,
        // Templates use Go's field names (APIVersion); JSON has ApiVersion.
        "APIVersion": api,
        "DefaultAPIVersion": CLIENT_API,
        "GitCommit": option_env!("BERTH_GIT_COMMIT").unwrap_or(""),
        "GoVersion": "",
        "Os": std::env::consts::OS,
        "Arch": go_arch(),
        "BuildTime": "",
        "Context": "default",
        "Host": host,
    })
}

/// Go's GOARCH names, which docker prints.
fn go_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    }
}

/// `version`: the client always; the server when one answers (the error after, as docker).
pub async fn version(docker: Result<Docker>, host: &str, args: FormatArgs) -> Result<()> {
    let (server, err) = match &docker {
        Ok(d) => match d.version().await {
            Ok(v) => {
                let mut v = serde_json::to_value(v)?;
                // Go's field name, which templates use, beside the JSON key.
                if let Some(o) = v.as_object_mut() {
                    let api = o.get("ApiVersion").cloned().unwrap_or_default();
                    o.insert("APIVersion".into(), api);
                }
                (Some(v), None)
            }
            Err(e) => (
                None,
                Some(anyhow::Error::new(crate::errors::from_engine(&e))),
            ),
        },
        Err(_) => (None, None),
    };
    let client = client_json(docker.as_ref().ok(), host);
    let doc = json!({"Client": client, "Server": server});
    if let Some(f) = args.format.as_deref() {
        if f == "json" || f == "{{json .}}" {
            println!("{}", serde_json::to_string(&doc)?);
        } else {
            println!("{}", format::render_json(f, &doc)?);
        }
    } else {
        let c = &doc["Client"];
        let s = |v: &Json| v.as_str().unwrap_or_default().to_string();
        println!("Client: Berth");
        println!(" {:<19}{}", "Version:", s(&c["Version"]));
        println!(" {:<19}{}", "API version:", s(&c["ApiVersion"]));
        println!(" {:<19}{}/{}", "OS/Arch:", s(&c["Os"]), s(&c["Arch"]));
        println!(" {:<19}default", "Context:");
        if let Some(srv) = &server {
            println!();
            let platform = srv["Platform"]["Name"].as_str().unwrap_or("");
            println!("Server: {platform}");
            println!(" Engine:");
            println!("  {:<18}{}", "Version:", s(&srv["Version"]));
            println!(
                "  {:<18}{} (minimum version {})",
                "API version:",
                s(&srv["ApiVersion"]),
                s(&srv["MinAPIVersion"])
            );
            println!("  {:<18}{}", "Go version:", s(&srv["GoVersion"]));
            println!("  {:<18}{}", "Git commit:", s(&srv["GitCommit"]));
            println!("  {:<18}{}", "Built:", s(&srv["BuildTime"]));
            println!("  {:<18}{}/{}", "OS/Arch:", s(&srv["Os"]), s(&srv["Arch"]));
            println!(
                "  {:<18}{}",
                "Experimental:",
                srv["Experimental"].as_bool().unwrap_or(false)
            );
        }
    }
    match (docker, err) {
        (Err(e), _) | (Ok(_), Some(e)) => Err(e),
        _ => Ok(()),
    }
}

pub async fn info(docker: &Docker, host: &str, args: FormatArgs) -> Result<()> {
    let info = serde_json::to_value(docker.info().await?)?;
    if let Some(f) = args.format.as_deref() {
        if f == "json" || f == "{{json .}}" {
            println!("{}", serde_json::to_string(&info)?);
        } else {
            println!("{}", format::render_json(f, &info)?);
        }
        return Ok(());
    }
    let s = |k: &str| match &info[k] {
        Json::String(v) => v.clone(),
        Json::Null => String::new(),
        other => other.to_string(),
    };
    println!("Client: Berth");
    println!(" Version:    {CLIENT_VERSION}");
    println!(" Context:    default");
    println!(" Host:       {host}");
    println!();
    println!("Server:");
    println!(" Containers: {}", s("Containers"));
    println!("  Running: {}", s("ContainersRunning"));
    println!("  Paused: {}", s("ContainersPaused"));
    println!("  Stopped: {}", s("ContainersStopped"));
    println!(" Images: {}", s("Images"));
    println!(" Server Version: {}", s("ServerVersion"));
    println!(" Storage Driver: {}", s("Driver"));
    println!(" Logging Driver: {}", s("LoggingDriver"));
    println!(" Cgroup Driver: {}", s("CgroupDriver"));
    println!(" Cgroup Version: {}", s("CgroupVersion"));
    let mut runtimes: Vec<String> = info["Runtimes"]
        .as_object()
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default();
    runtimes.sort();
    println!(" Runtimes: {}", runtimes.join(" "));
    println!(" Default Runtime: {}", s("DefaultRuntime"));
    println!(" Kernel Version: {}", s("KernelVersion"));
    println!(" Operating System: {}", s("OperatingSystem"));
    println!(" OSType: {}", s("OSType"));
    println!(" Architecture: {}", s("Architecture"));
    println!(" CPUs: {}", s("NCPU"));
    let mem = info["MemTotal"].as_f64().unwrap_or(0.0);
    println!(" Total Memory: {}", format::bytes_size(mem));
    println!(" Name: {}", s("Name"));
    println!(" ID: {}", s("ID"));
    println!(" Docker Root Dir: {}", s("DockerRootDir"));
    println!(" Debug Mode: {}", s("Debug"));
    println!(" Live Restore Enabled: {}", s("LiveRestoreEnabled"));
    for w in info["Warnings"].as_array().into_iter().flatten() {
        eprintln!("{}", w.as_str().unwrap_or_default());
    }
    Ok(())
}

#[derive(Args, Debug)]
pub struct EventsArgs {
    /// Show all events created since timestamp
    #[arg(long)]
    pub since: Option<String>,
    /// Stream events until this timestamp
    #[arg(long)]
    pub until: Option<String>,
    /// Filter output based on conditions provided
    #[arg(short, long = "filter")]
    pub filter: Vec<String>,
    /// Format output using a custom template
    #[arg(long)]
    pub format: Option<String>,
}

/// docker's event time: RFC 3339 with all nine digits of nanoseconds (`RFC3339NanoFixed`).
fn rfc3339_nano(nanos: i64) -> String {
    let t = chrono::DateTime::from_timestamp_nanos(nanos);
    format!(
        "{}.{:09}Z",
        t.format("%Y-%m-%dT%H:%M:%S"),
        t.timestamp_subsec_nanos()
    )
}

/// `events`: the engine's event stream, as docker prints it (or through a template).
pub async fn events(docker: &Docker, args: EventsArgs) -> Result<()> {
    use futures_util::StreamExt;
    let now = format::now_unix();
    let to_ts = |s: &Option<String>| -> Result<Option<String>> {
        s.as_deref()
            .map(|v| crate::containers::logs::parse_time(v, now).map(|t| t.to_string()))
            .transpose()
    };
    let opts = bollard::query_parameters::EventsOptions {
        since: to_ts(&args.since)?,
        until: to_ts(&args.until)?,
        filters: crate::containers::parse_filters(&args.filter)?,
    };
    let tmpl = args
        .format
        .as_deref()
        .map(|f| if f == "json" { "{{json .}}" } else { f })
        .map(|f| format::parse(&f.replace("\\t", "\t").replace("\\n", "\n")))
        .transpose()?;
    let mut stream = docker.events(Some(opts));
    while let Some(ev) = stream.next().await {
        let ev = ev?;
        let line = match &tmpl {
            Some(t) => format::render_value(t, format::to_value(&serde_json::to_value(&ev)?))?,
            None => {
                let actor = ev.actor.clone().unwrap_or_default();
                let mut attrs: Vec<String> = actor
                    .attributes
                    .unwrap_or_default()
                    .into_iter()
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect();
                attrs.sort();
                let nanos = ev
                    .time_nano
                    .or(ev.time.map(|t| t * 1_000_000_000))
                    .unwrap_or(0);
                format!(
                    "{} {} {} {} ({})",
                    rfc3339_nano(nanos),
                    ev.typ.map(|t| t.to_string()).unwrap_or_default(),
                    ev.action.clone().unwrap_or_default(),
                    actor.id.unwrap_or_default(),
                    attrs.join(", ")
                )
            }
        };
        println!("{line}");
    }
    Ok(())
}

#[derive(Subcommand, Debug)]
pub enum SystemCmd {
    /// Show docker disk usage
    Df {
        #[arg(long)]
        format: Option<String>,
    },
    /// Display system-wide information
    Info(FormatArgs),
    /// Remove unused data
    Prune(PruneArgs),
    /// Get real time events from the server
    Events(EventsArgs),
}

#[derive(Args, Debug)]
pub struct PruneArgs {
    /// Remove all unused images not just dangling ones
    #[arg(short, long)]
    pub all: bool,
    /// Do not prompt for confirmation
    #[arg(short, long)]
    pub force: bool,
    /// Prune anonymous volumes
    #[arg(long)]
    pub volumes: bool,
}

pub async fn run(docker: &Docker, host: &str, cmd: SystemCmd) -> Result<()> {
    match cmd {
        SystemCmd::Df { format } => df(docker, format.as_deref()).await,
        SystemCmd::Info(args) => info(docker, host, args).await,
        SystemCmd::Prune(args) => prune(docker, args).await,
        SystemCmd::Events(args) => events(docker, args).await,
    }
}

const DF_HEADERS: &[(&str, &str)] = &[
    ("Type", "TYPE"),
    ("TotalCount", "TOTAL"),
    ("Active", "ACTIVE"),
    ("Size", "SIZE"),
    ("Reclaimable", "RECLAIMABLE"),
];

fn reclaimable(bytes: i64, total: i64) -> String {
    if total > 0 {
        format!("{} ({}%)", format::human_size(bytes), bytes * 100 / total)
    } else {
        format::human_size(bytes)
    }
}

/// Derived from the listings, which every API version has (the `/system/df` body changed
/// shape in API 1.52, and this client must read both older and newer engines).
async fn df(docker: &Docker, format: Option<&str>) -> Result<()> {
    let images = docker
        .list_images(Some(ListImagesOptions {
            all: false,
            shared_size: true,
            ..Default::default()
        }))
        .await?;
    let containers = docker
        .list_containers(Some(ListContainersOptions {
            all: true,
            size: true,
            ..Default::default()
        }))
        .await?;
    let volumes = docker
        .list_volumes(None::<ListVolumesOptions>)
        .await?
        .volumes
        .unwrap_or_default();
    let used_images: HashSet<&str> = containers
        .iter()
        .filter_map(|c| c.image_id.as_deref())
        .collect();
    let image_size: i64 = images.iter().map(|i| i.size).sum();
    let unused_size: i64 = images
        .iter()
        .filter(|i| !used_images.contains(i.id.as_str()))
        .map(|i| i.size)
        .sum();
    let active_images = images
        .iter()
        .filter(|i| used_images.contains(i.id.as_str()))
        .count();
    let running = |c: &&bollard::models::ContainerSummary| {
        c.state.map(|s| s.to_string()).as_deref() == Some("running")
    };
    let ctr_size: i64 = containers.iter().map(|c| c.size_rw.unwrap_or(0)).sum();
    let ctr_reclaim: i64 = containers
        .iter()
        .filter(|c| !running(c))
        .map(|c| c.size_rw.unwrap_or(0))
        .sum();
    let vol_active = volumes
        .iter()
        .filter(|v| v.usage_data.as_ref().is_some_and(|u| u.ref_count > 0))
        .count();
    let vol_size: i64 = volumes
        .iter()
        .filter_map(|v| v.usage_data.as_ref())
        .map(|u| u.size.max(0))
        .sum();
    let vol_reclaim: i64 = volumes
        .iter()
        .filter_map(|v| v.usage_data.as_ref())
        .filter(|u| u.ref_count == 0)
        .map(|u| u.size.max(0))
        .sum();
    let row = |t: &str, total: usize, active: usize, size: i64, recl: String| {
        let mut r = Row::new();
        r.insert("Type".into(), Json::String(t.into()));
        r.insert("TotalCount".into(), Json::String(total.to_string()));
        r.insert("Active".into(), Json::String(active.to_string()));
        r.insert("Size".into(), Json::String(format::human_size(size)));
        r.insert("Reclaimable".into(), Json::String(recl));
        r
    };
    let rows = vec![
        row(
            "Images",
            images.len(),
            active_images,
            image_size,
            reclaimable(unused_size, image_size),
        ),
        row(
            "Containers",
            containers.len(),
            containers.iter().filter(running).count(),
            ctr_size,
            reclaimable(ctr_reclaim, ctr_size),
        ),
        row(
            "Local Volumes",
            volumes.len(),
            vol_active,
            vol_size,
            reclaimable(vol_reclaim, vol_size),
        ),
        row("Build Cache", 0, 0, 0, format::human_size(0)),
    ];
    Listing {
        headers: DF_HEADERS,
        default_table: "table {{.Type}}\t{{.TotalCount}}\t{{.Active}}\t{{.Size}}\t{{.Reclaimable}}",
    }
    .print(format, &rows)
}

async fn prune(docker: &Docker, args: PruneArgs) -> Result<()> {
    if !args.force {
        let mut items = vec![
            tr("all stopped containers", "todos los contenedores detenidos"),
            tr(
                "all networks not used by at least one container",
                "todas las redes que no use al menos un contenedor",
            ),
        ];
        if args.volumes {
            items.push(tr(
                "all anonymous volumes not used by at least one container",
                "todos los volúmenes anónimos que no use al menos un contenedor",
            ));
        }
        items.push(if args.all {
            tr(
                "all images without at least one container associated to them",
                "todas las imágenes sin al menos un contenedor asociado",
            )
        } else {
            tr(
                "all dangling images",
                "todas las imágenes colgantes (sin etiqueta)",
            )
        });
        eprintln!(
            "{}",
            tr("WARNING! This will remove:", "¡ATENCIÓN! Esto eliminará:")
        );
        for i in items {
            eprintln!("  - {i}");
        }
        if !format::confirm(tr(
            "Are you sure you want to continue?",
            "¿Seguro que quiere continuar?",
        )) {
            return Ok(());
        }
    }
    let mut reclaimed = 0i64;
    let c = docker
        .prune_containers(None::<PruneContainersOptions>)
        .await?;
    reclaimed += c.space_reclaimed.unwrap_or(0);
    print_deleted(
        "Deleted Containers:",
        c.containers_deleted.unwrap_or_default(),
    );
    let n = docker.prune_networks(None::<PruneNetworksOptions>).await?;
    print_deleted("Deleted Networks:", n.networks_deleted.unwrap_or_default());
    if args.volumes {
        let v = docker.prune_volumes(None::<PruneVolumesOptions>).await?;
        reclaimed += v.space_reclaimed.unwrap_or(0);
        print_deleted("Deleted Volumes:", v.volumes_deleted.unwrap_or_default());
    }
    let filters = (!args.all).then(|| {
        std::collections::HashMap::from([("dangling".to_string(), vec!["true".to_string()])])
    });
    let filters = filters.or_else(|| {
        Some(std::collections::HashMap::from([(
            "dangling".to_string(),
            vec!["false".to_string()],
        )]))
    });
    let i = docker
        .prune_images(Some(PruneImagesOptions { filters }))
        .await?;
    reclaimed += i.space_reclaimed.unwrap_or(0);
    let deleted: Vec<String> = i
        .images_deleted
        .unwrap_or_default()
        .into_iter()
        .flat_map(|d| {
            d.untagged
                .map(|u| format!("untagged: {u}"))
                .into_iter()
                .chain(d.deleted.map(|x| format!("deleted: {x}")))
        })
        .collect();
    print_deleted("Deleted Images:", deleted);
    println!("Total reclaimed space: {}", format::human_size(reclaimed));
    Ok(())
}

fn print_deleted(title: &str, items: Vec<String>) {
    if items.is_empty() {
        return;
    }
    println!("{title}");
    for i in items {
        println!("{i}");
    }
    println!();
}

#[cfg(test)]
mod tests {
    #[test]
    fn event_times_as_go_prints_them() {
        assert_eq!(
            super::rfc3339_nano(1_500_000_000),
            "1970-01-01T00:00:01.500000000Z"
        );
        assert_eq!(
            super::rfc3339_nano(2_000_000_000),
            "1970-01-01T00:00:02.000000000Z"
        );
    }
}
