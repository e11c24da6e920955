//! `stats --no-stream`: one sample per running container, in docker's table.

use anyhow::Result;
use bollard::models::ContainerStatsResponse;
use bollard::query_parameters::{ListContainersOptions, StatsOptions};
use bollard::Docker;
use clap::Args;
use futures_util::StreamExt;
use serde_json::Value as Json;

use crate::format::{self, Listing, Row};

#[derive(Args, Debug)]
pub struct StatsArgs {
    /// Show all containers (default shows just running)
    #[arg(short, long)]
    pub all: bool,
    /// Disable streaming stats and only pull the first result
    #[arg(long)]
    pub no_stream: bool,
    /// Format output using a custom template
    #[arg(long)]
    pub format: Option<String>,
    /// Do not truncate output
    #[arg(long)]
    pub no_trunc: bool,
    pub containers: Vec<String>,
}

const HEADERS: &[(&str, &str)] = &[
    ("ID", "CONTAINER ID"),
    ("Container", "CONTAINER"),
    ("Name", "NAME"),
    ("CPUPerc", "CPU %"),
    ("MemUsage", "MEM USAGE / LIMIT"),
    ("MemPerc", "MEM %"),
    ("NetIO", "NET I/O"),
    ("BlockIO", "BLOCK I/O"),
    ("PIDs", "PIDS"),
];

/// `stats`: one table with `--no-stream`; otherwise the table redrawn about every second
/// (each sample is the engine's two readings a moment apart) until Ctrl-C.
pub async fn stats(docker: &Docker, args: StatsArgs) -> Result<()> {
    if args.no_stream {
        let text = table(docker, &args).await?;
        print!("{text}");
        return Ok(());
    }
    let live = std::io::IsTerminal::is_terminal(&std::io::stdout());
    loop {
        let text = tokio::select! {
            t = table(docker, &args) => t?,
            _ = tokio::signal::ctrl_c() => return Ok(()),
        };
        let mut out = std::io::stdout().lock();
        if live {
            crossterm::execute!(
                out,
                crossterm::terminal::Clear(crossterm::terminal::ClearType::All),
                crossterm::cursor::MoveTo(0, 0)
            )?;
        }
        std::io::Write::write_all(&mut out, text.as_bytes())?;
        std::io::Write::flush(&mut out)?;
        drop(out);
        tokio::select! {
            _ = tokio::time::sleep(std::time::Duration::from_millis(500)) => {}
            _ = tokio::signal::ctrl_c() => return Ok(()),
        }
    }
}

async fn table(docker: &Docker, args: &StatsArgs) -> Result<String> {
    let targets: Vec<String> = if args.containers.is_empty() {
        let opts = ListContainersOptions {
            all: args.all,
            ..Default::default()
        };
        docker
            .list_containers(Some(opts))
            .await?
            .into_iter()
            .filter_map(|c| c.id)
            .collect()
    } else {
        args.containers.clone()
    };
    // One sample per container, all asked at once: each takes the engine two readings a
    // moment apart, so asking in turn would make a table of N containers N times slower.
    let samples = futures_util::future::join_all(targets.iter().map(|t| async move {
        let opts = StatsOptions {
            stream: false,
            one_shot: false,
        };
        (t, docker.stats(t, Some(opts)).next().await)
    }))
    .await;
    let mut rows = Vec::new();
    for (t, sample) in samples {
        match sample {
            Some(Ok(s)) => rows.push(row(t, &s, args.no_trunc)),
            Some(Err(e)) => return Err(e.into()),
            None => {}
        }
    }
    Listing {
        headers: HEADERS,
        default_table: "table {{.ID}}\t{{.Name}}\t{{.CPUPerc}}\t{{.MemUsage}}\t{{.MemPerc}}\t{{.NetIO}}\t{{.BlockIO}}\t{{.PIDs}}",
    }
    .render(args.format.as_deref(), &rows)
}

/// docker's CPU %: the container's share of the host's CPU time since the previous sample,
/// times the CPUs online.
fn cpu_percent(s: &ContainerStatsResponse) -> f64 {
    let (Some(cpu), Some(pre)) = (&s.cpu_stats, &s.precpu_stats) else {
        return 0.0;
    };
    let total = |c: &bollard::models::ContainerCpuStats| {
        c.cpu_usage
            .as_ref()
            .and_then(|u| u.total_usage)
            .unwrap_or(0) as f64
    };
    let cpu_delta = total(cpu) - total(pre);
    let sys_delta =
        cpu.system_cpu_usage.unwrap_or(0) as f64 - pre.system_cpu_usage.unwrap_or(0) as f64;
    let cpus = cpu.online_cpus.unwrap_or(1).max(1) as f64;
    if sys_delta > 0.0 && cpu_delta > 0.0 {
        cpu_delta / sys_delta * cpus * 100.0
    } else {
        0.0
    }
}

fn row(target: &str, s: &ContainerStatsResponse, no_trunc: bool) -> Row {
    let id = s.id.clone().unwrap_or_else(|| target.to_string());
    let name = s.name.clone().unwrap_or_default();
    let name = name.trim_start_matches('/').to_string();
    let mem = s.memory_stats.as_ref();
    // docker subtracts the page cache (cgroup v2: inactive_file) from the usage.
    let cache = mem
        .and_then(|m| m.stats.as_ref())
        .and_then(|st| {
            st.get("inactive_file")
                .or_else(|| st.get("total_inactive_file"))
        })
        .copied()
        .unwrap_or(0);
    let usage = mem.and_then(|m| m.usage).unwrap_or(0).saturating_sub(cache) as f64;
    let limit = mem.and_then(|m| m.limit).unwrap_or(0) as f64;
    let mem_perc = if limit > 0.0 {
        usage / limit * 100.0
    } else {
        0.0
    };
    let (rx, tx) = s
        .networks
        .iter()
        .flat_map(|n| n.values())
        .fold((0u64, 0u64), |(r, t), n| {
            (r + n.rx_bytes.unwrap_or(0), t + n.tx_bytes.unwrap_or(0))
        });
    let (read, write) = s
        .blkio_stats
        .as_ref()
        .and_then(|b| b.io_service_bytes_recursive.as_ref())
        .into_iter()
        .flatten()
        .fold((0u64, 0u64), |(r, w), e| {
            match e.op.as_deref().map(str::to_ascii_lowercase).as_deref() {
                Some("read") => (r + e.value.unwrap_or(0), w),
                Some("write") => (r, w + e.value.unwrap_or(0)),
                _ => (r, w),
            }
        });
    let pids = s.pids_stats.as_ref().and_then(|p| p.current).unwrap_or(0);
    let mut r = Row::new();
    let mut put = |k: &str, v: String| {
        r.insert(k.to_string(), Json::String(v));
    };
    put(
        "ID",
        if no_trunc {
            id.clone()
        } else {
            format::short_id(&id)
        },
    );
    put("Container", target.to_string());
    put("Name", name);
    put("CPUPerc", format!("{:.2}%", cpu_percent(s)));
    put(
        "MemUsage",
        format!(
            "{} / {}",
            format::bytes_size(usage),
            format::bytes_size(limit)
        ),
    );
    put("MemPerc", format!("{mem_perc:.2}%"));
    put(
        "NetIO",
        format!(
            "{} / {}",
            format::human_size(rx as i64),
            format::human_size(tx as i64)
        ),
    );
    put(
        "BlockIO",
        format!(
            "{} / {}",
            format::human_size(read as i64),
            format::human_size(write as i64)
        ),
    );
    put("PIDs", pids.to_string());
    r
}
