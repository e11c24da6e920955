//! Smaller container verbs: `rename`, `pause`, `unpause`, `wait`, `port`, `attach`.

use anyhow::Result;
use bollard::query_parameters::{
    AttachContainerOptions, RenameContainerOptions, ResizeContainerTTYOptions, WaitContainerOptions,
};
use bollard::Docker;
use clap::Args;
use futures_util::StreamExt;

use super::for_each;
use crate::errors::{from_engine, CliError};
use crate::stdio;

#[derive(Args, Debug)]
pub struct RenameArgs {
    pub container: String,
    pub new_name: String,
}

pub async fn rename(docker: &Docker, args: RenameArgs) -> Result<()> {
    let opts = RenameContainerOptions {
        name: args.new_name,
    };
    docker.rename_container(&args.container, opts).await?;
    Ok(())
}

#[derive(Args, Debug)]
pub struct TargetsArgs {
    #[arg(required = true)]
    pub containers: Vec<String>,
}

pub async fn pause(docker: &Docker, args: TargetsArgs) -> Result<()> {
    for_each(&args.containers, |c| docker.pause_container(c)).await
}

pub async fn unpause(docker: &Docker, args: TargetsArgs) -> Result<()> {
    for_each(&args.containers, |c| docker.unpause_container(c)).await
}

/// `wait`: blocks until each container stops, printing its exit code.
pub async fn wait(docker: &Docker, args: TargetsArgs) -> Result<()> {
    let mut failed = false;
    for c in &args.containers {
        let opts = WaitContainerOptions {
            condition: "not-running".into(),
        };
        match docker.wait_container(c, Some(opts)).next().await {
            Some(Ok(r)) => println!("{}", r.status_code),
            Some(Err(bollard::errors::Error::DockerContainerWaitError { code, .. })) => {
                println!("{code}")
            }
            Some(Err(e)) => {
                failed = true;
                crate::errors::report(&anyhow::Error::new(from_engine(&e)));
            }
            None => {}
        }
    }
    if failed {
        return Err(CliError::exit(1).into());
    }
    Ok(())
}

#[derive(Args, Debug)]
pub struct PortArgs {
    pub container: String,
    /// PRIVATE_PORT[/PROTO]
    pub port: Option<String>,
}

/// `port`: the published ports, `80/tcp -> 0.0.0.0:8080` per binding.
pub async fn port(docker: &Docker, args: PortArgs) -> Result<()> {
    let c = docker.inspect_container(&args.container, None).await?;
    let ports = c.network_settings.and_then(|n| n.ports).unwrap_or_default();
    let wanted = args.port.as_ref().map(|p| {
        if p.contains('/') {
            p.clone()
        } else {
            format!("{p}/tcp")
        }
    });
    let mut keys: Vec<&String> = ports.keys().collect();
    keys.sort_by_key(|k| {
        let (n, proto) = k.split_once('/').unwrap_or((k.as_str(), ""));
        (n.parse::<u32>().unwrap_or(0), proto.to_string())
    });
    let mut found = false;
    for key in keys {
        if wanted.as_ref().is_some_and(|w| w != key) {
            continue;
        }
        for b in ports[key].iter().flatten() {
            found = true;
            let ip = b.host_ip.clone().unwrap_or_default();
            let ip = if ip.is_empty() { "0.0.0.0".into() } else { ip };
            let ip = if ip.contains(':') {
                format!("[{ip}]")
            } else {
                ip
            };
            let hp = b.host_port.clone().unwrap_or_default();
            if wanted.is_some() {
                println!("{ip}:{hp}");
            } else {
                println!("{key} -> {ip}:{hp}");
            }
        }
    }
    if let (Some(w), false) = (wanted, found) {
        return Err(CliError::new(
            format!(
                "Error: No public port '{w}' published for {}",
                args.container
            ),
            1,
        )
        .into());
    }
    Ok(())
}

#[derive(Args, Debug)]
pub struct AttachArgs {
    /// Do not attach STDIN
    #[arg(long)]
    pub no_stdin: bool,
    /// Override the key sequence for detaching a container
    #[arg(long)]
    pub detach_keys: Option<String>,
    pub container: String,
}

/// `attach`: the container's stdio on ours until it exits (or the detach keys), then its
/// exit code, as docker's.
pub async fn attach(docker: &Docker, args: AttachArgs) -> Result<()> {
    let c = docker.inspect_container(&args.container, None).await?;
    let config = c.config.unwrap_or_default();
    let tty = config.tty.unwrap_or(false);
    let stdin = !args.no_stdin && config.open_stdin.unwrap_or(false);
    let running = c.state.as_ref().and_then(|s| s.running).unwrap_or(false);
    if !running {
        return Err(CliError::new(
            "You cannot attach to a stopped container, start it first",
            1,
        )
        .into());
    }
    let attached = docker
        .attach_container(
            &args.container,
            Some(AttachContainerOptions {
                stream: true,
                stdin,
                stdout: true,
                stderr: true,
                logs: false,
                detach_keys: args.detach_keys.clone(),
            }),
        )
        .await?;
    let raw = stdio::RawTerminal::enable(tty && stdin);
    let resizer = if tty {
        let (docker, id) = (docker.clone(), args.container.clone());
        stdio::spawn_resizer(move |h, w| {
            let (docker, id) = (docker.clone(), id.clone());
            async move {
                let opts = ResizeContainerTTYOptions {
                    h: h.into(),
                    w: w.into(),
                };
                let _ = docker.resize_container_tty(&id, opts).await;
            }
        })
    } else {
        None
    };
    if stdin {
        stdio::spawn_stdin(attached.input);
    }
    let pumped = stdio::pump_output(attached.output).await;
    if let Some(r) = resizer {
        r.abort();
    }
    drop(raw);
    pumped?;
    // Detached (the stream ended while the container runs): exit 0, as docker.
    let state = docker.inspect_container(&args.container, None).await?.state;
    let still_running = state.as_ref().and_then(|s| s.running).unwrap_or(false);
    let code = state.and_then(|s| s.exit_code).unwrap_or(0);
    if !still_running && code != 0 {
        return Err(CliError::exit(code as i32).into());
    }
    Ok(())
}

#[derive(Args, Debug)]
pub struct UpdateArgs {
    /// Memory limit (e.g. 512m, 1g)
    #[arg(short = 'm', long)]
    pub memory: Option<String>,
    /// Memory soft limit
    #[arg(long)]
    pub memory_reservation: Option<String>,
    /// Swap limit equal to memory plus swap: -1 to enable unlimited swap
    #[arg(long)]
    pub memory_swap: Option<String>,
    /// Number of CPUs
    #[arg(long)]
    pub cpus: Option<f64>,
    /// CPU shares (relative weight)
    #[arg(long)]
    pub cpu_shares: Option<i64>,
    /// CPUs in which to allow execution (0-3, 0,1)
    #[arg(long)]
    pub cpuset_cpus: Option<String>,
    /// Tune container pids limit (-1 for unlimited)
    #[arg(long)]
    pub pids_limit: Option<i64>,
    /// Restart policy to apply when a container exits
    #[arg(long)]
    pub restart: Option<String>,
    #[arg(required = true)]
    pub containers: Vec<String>,
}

/// `update`: resource limits and the restart policy of existing containers.
pub async fn update(docker: &Docker, args: UpdateArgs) -> Result<()> {
    use super::create::{parse_bytes, parse_restart};
    let swap = match args.memory_swap.as_deref() {
        Some("-1") => Some(-1),
        Some(s) => Some(parse_bytes(s)?),
        None => None,
    };
    let body = bollard::models::ContainerUpdateBody {
        memory: args.memory.as_deref().map(parse_bytes).transpose()?,
        memory_reservation: args
            .memory_reservation
            .as_deref()
            .map(parse_bytes)
            .transpose()?,
        memory_swap: swap,
        nano_cpus: args.cpus.map(|c| (c * 1e9) as i64),
        cpu_shares: args.cpu_shares,
        cpuset_cpus: args.cpuset_cpus.clone(),
        pids_limit: args.pids_limit,
        restart_policy: args.restart.as_deref().map(parse_restart).transpose()?,
        ..Default::default()
    };
    for_each(&args.containers, |c| {
        docker.update_container(c, body.clone())
    })
    .await
}
