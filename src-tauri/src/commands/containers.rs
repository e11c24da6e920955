//! Containers: list, actions, inspect, logs, stats, run.

use std::collections::{BTreeMap, HashSet};

use bollard::models::{
    ContainerCreateBody, ContainerStatsResponse, ContainerSummary, HostConfig, PortBinding,
    RestartPolicy, RestartPolicyNameEnum,
};
use bollard::query_parameters::{
    CreateContainerOptions, ListContainersOptions, LogsOptions, RemoveContainerOptions,
    RestartContainerOptions, StatsOptions, StopContainerOptions,
};
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use tauri::ipc::Channel;
use tauri::State;
use tracing::{info, warn};
use ts_rs::TS;

use crate::backend::{limits, timed, Backend, Sink, StreamKind};
use crate::error::{CommandError, CommandResult, ErrorKind};

/// The compose project label, for grouping.
pub const COMPOSE_PROJECT_LABEL: &str = "com.docker.compose.project";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct PortItem {
    pub ip: Option<String>,
    pub private_port: u16,
    pub public_port: Option<u16>,
    #[ts(type = "\"tcp\" | \"udp\"")]
    pub proto: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct ContainerItem {
    pub id: String,
    pub name: String,
    pub image: String,
    pub state: String,
    pub status: String,
    pub created: i64,
    pub ports: Vec<PortItem>,
    pub project: Option<String>,
    pub labels: BTreeMap<String, String>,
}

impl ContainerItem {
    pub fn is_running(&self) -> bool {
        self.state == "running"
    }

    /// Host ports published on TCP, each once (for "open in browser").
    pub fn published_tcp_ports(&self) -> Vec<u16> {
        let mut ports: Vec<u16> = self
            .ports
            .iter()
            .filter(|p| p.proto == "tcp")
            .filter_map(|p| p.public_port)
            .collect();
        ports.sort_unstable();
        ports.dedup();
        ports
    }
}

/// One engine container summary → the UI's item.
pub fn container_item(c: &ContainerSummary) -> ContainerItem {
    let labels: BTreeMap<String, String> =
        c.labels.clone().unwrap_or_default().into_iter().collect();
    let name = c
        .names
        .as_ref()
        .and_then(|n| n.first())
        .map(|n| n.trim_start_matches('/').to_string())
        .unwrap_or_default();
    let state = c
        .state
        .as_ref()
        .map(|s| s.as_ref().to_string())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "unknown".to_string());
    ContainerItem {
        id: c.id.clone().unwrap_or_default(),
        name,
        image: c.image.clone().unwrap_or_default(),
        state,
        status: c.status.clone().unwrap_or_default(),
        created: c.created.unwrap_or_default(),
        ports: port_items(c),
        project: labels.get(COMPOSE_PROJECT_LABEL).cloned(),
        labels,
    }
}

/// Ports sorted, with the IPv6 twin of an IPv4 binding (dockerd lists both) left out.
fn port_items(c: &ContainerSummary) -> Vec<PortItem> {
    let mut items: Vec<PortItem> = c
        .ports
        .iter()
        .flatten()
        .map(|p| PortItem {
            ip: p.ip.clone().filter(|ip| !ip.is_empty()),
            private_port: p.private_port,
            public_port: p.public_port,
            proto: p
                .typ
                .as_ref()
                .map(|t| t.as_ref().to_string())
                .filter(|t| !t.is_empty())
                .unwrap_or_else(|| "tcp".into()),
        })
        .collect();
    items.sort_by(|a, b| {
        (
            a.private_port,
            &a.proto,
            a.public_port,
            a.ip.as_deref().map(is_v6),
        )
            .cmp(&(
                b.private_port,
                &b.proto,
                b.public_port,
                b.ip.as_deref().map(is_v6),
            ))
    });
    let mut seen = HashSet::new();
    items.retain(|p| seen.insert((p.private_port, p.proto.clone(), p.public_port)));
    items
}

fn is_v6(ip: &str) -> bool {
    ip.contains(':')
}

/// `container_action`'s verbs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContainerAction {
    Start,
    Stop,
    Restart,
    Pause,
    Unpause,
    Remove,
}

impl ContainerAction {
    pub fn parse(s: &str) -> CommandResult<ContainerAction> {
        Ok(match s {
            "start" => Self::Start,
            "stop" => Self::Stop,
            "restart" => Self::Restart,
            "pause" => Self::Pause,
            "unpause" => Self::Unpause,
            "remove" => Self::Remove,
            other => {
                return Err(CommandError::invalid(
                    "action",
                    format!("Unknown container action: {other}"),
                ))
            }
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct LogLine {
    #[ts(type = "\"stdout\" | \"stderr\"")]
    pub stream: String,
    pub text: String,
}

/// One chunk of log output → its lines (a chunk may hold several; the last newline is dropped).
pub fn log_lines(out: &bollard::container::LogOutput) -> Vec<LogLine> {
    use bollard::container::LogOutput;
    let (stream, bytes) = match out {
        LogOutput::StdErr { message } => ("stderr", message),
        LogOutput::StdOut { message } | LogOutput::Console { message } => ("stdout", message),
        LogOutput::StdIn { .. } => return Vec::new(),
    };
    let text = String::from_utf8_lossy(bytes);
    let text = text.strip_suffix('\n').unwrap_or(&text);
    text.split('\n')
        .map(|line| LogLine {
            stream: stream.to_string(),
            text: line.strip_suffix('\r').unwrap_or(line).to_string(),
        })
        .collect()
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct StatsSample {
    pub cpu_percent: f64,
    pub mem_usage: f64,
    pub mem_limit: f64,
    pub net_rx: f64,
    pub net_tx: f64,
    /// Unix seconds (fractional) when the engine read the sample.
    pub time: f64,
}

/// The docker CLI's arithmetic: CPU % = container delta / system delta × CPUs × 100; memory
/// without the inactive page cache (`inactive_file` on cgroup v2, `total_inactive_file` on v1);
/// network bytes summed.
pub fn stats_sample(s: &ContainerStatsResponse, now: f64) -> StatsSample {
    let cpu = s.cpu_stats.as_ref();
    let pre = s.precpu_stats.as_ref();
    let total = |c: Option<&bollard::models::ContainerCpuStats>| {
        c.and_then(|c| c.cpu_usage.as_ref())
            .and_then(|u| u.total_usage)
            .unwrap_or(0) as f64
    };
    let system = |c: Option<&bollard::models::ContainerCpuStats>| {
        c.and_then(|c| c.system_cpu_usage).unwrap_or(0) as f64
    };
    let cpu_delta = total(cpu) - total(pre);
    let system_delta = system(cpu) - system(pre);
    let online = cpu
        .and_then(|c| c.online_cpus)
        .filter(|n| *n > 0)
        .map(f64::from)
        .or_else(|| {
            cpu.and_then(|c| c.cpu_usage.as_ref())
                .and_then(|u| u.percpu_usage.as_ref())
                .map(|p| p.len() as f64)
                .filter(|n| *n > 0.0)
        })
        .unwrap_or(1.0);
    let cpu_percent = if cpu_delta > 0.0 && system_delta > 0.0 {
        cpu_delta / system_delta * online * 100.0
    } else {
        0.0
    };
    let mem = s.memory_stats.as_ref();
    let usage = mem.and_then(|m| m.usage).unwrap_or(0);
    let cache = mem
        .and_then(|m| m.stats.as_ref())
        .and_then(|st| {
            st.get("inactive_file")
                .or_else(|| st.get("total_inactive_file"))
        })
        .copied()
        .unwrap_or(0);
    let (rx, tx) = s
        .networks
        .iter()
        .flatten()
        .fold((0u64, 0u64), |(rx, tx), (_, n)| {
            (rx + n.rx_bytes.unwrap_or(0), tx + n.tx_bytes.unwrap_or(0))
        });
    let time = s
        .read
        .as_ref()
        .and_then(|r| chrono::DateTime::parse_from_rfc3339(&r.to_string()).ok())
        .map(|t| t.timestamp_millis() as f64 / 1000.0)
        .filter(|t| *t > 0.0)
        .unwrap_or(now);
    StatsSample {
        cpu_percent,
        mem_usage: usage.saturating_sub(cache) as f64,
        mem_limit: mem.and_then(|m| m.limit).unwrap_or(0) as f64,
        net_rx: rx as f64,
        net_tx: tx as f64,
        time,
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct PortRequest {
    pub host_port: Option<i64>,
    pub container_port: i64,
    #[serde(default = "tcp")]
    #[ts(type = "\"tcp\" | \"udp\"")]
    pub proto: String,
}

fn tcp() -> String {
    "tcp".into()
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct RunRequest {
    pub image: String,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub ports: Vec<PortRequest>,
    #[serde(default)]
    pub env: Vec<String>,
    #[serde(default)]
    pub volumes: Vec<String>,
    #[serde(default)]
    pub command: Option<Vec<String>>,
    #[serde(default = "restart_no")]
    #[ts(type = "\"no\" | \"always\" | \"unless-stopped\" | \"on-failure\"")]
    pub restart_policy: String,
}

fn restart_no() -> String {
    "no".into()
}

/// A checked [`RunRequest`]: the image, the container name and the create body.
#[derive(Debug, Clone, PartialEq)]
pub struct RunPlan {
    pub image: String,
    pub name: Option<String>,
    pub body: ContainerCreateBody,
}

/// dockerd's container name rule: `[a-zA-Z0-9][a-zA-Z0-9_.-]+`.
pub fn valid_object_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphanumeric())
        && name.len() >= 2
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
}

/// Checks an image reference the way the engine will (no spaces, lowercase repository).
pub fn check_image_reference(image: &str) -> CommandResult<String> {
    let image = image.trim();
    if image.is_empty() {
        return Err(CommandError::invalid("image", "An image is required"));
    }
    if image.chars().any(char::is_whitespace) {
        return Err(CommandError::invalid(
            "image",
            format!("invalid reference format: {image:?} contains spaces"),
        ));
    }
    let (repo, _) = crate::commands::images::split_reference(image);
    if repo.chars().any(|c| c.is_ascii_uppercase()) {
        return Err(CommandError::invalid(
            "image",
            format!("invalid reference format: repository name ({repo}) must be lowercase"),
        ));
    }
    Ok(image.to_string())
}

/// Validates a run request and builds the engine's create body (`docker run`'s flags).
pub fn plan_run(req: &RunRequest) -> CommandResult<RunPlan> {
    let image = check_image_reference(&req.image)?;

    let name = match req.name.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(n) if valid_object_name(n.trim_start_matches('/')) => Some(n.to_string()),
        Some(n) => {
            return Err(CommandError::invalid(
                "name",
                format!(
                    "Invalid container name ({n}): use at least 2 of a-z, A-Z, 0-9, _ . - starting with a letter or digit"
                ),
            ))
        }
    };

    let mut exposed: Vec<String> = Vec::new();
    let mut bindings: std::collections::HashMap<String, Option<Vec<PortBinding>>> =
        Default::default();
    let mut host_ports_seen = HashSet::new();
    for p in &req.ports {
        let proto = p.proto.to_ascii_lowercase();
        if proto != "tcp" && proto != "udp" {
            return Err(CommandError::invalid(
                "ports",
                format!("Protocol must be tcp or udp, not {:?}", p.proto),
            ));
        }
        let container_port = port_in_range(p.container_port)?;
        let host_port = p.host_port.map(port_in_range).transpose()?;
        if let Some(hp) = host_port {
            if !host_ports_seen.insert((hp, proto.clone())) {
                return Err(CommandError::invalid(
                    "ports",
                    format!("Host port {hp}/{proto} is given twice"),
                ));
            }
        }
        let key = format!("{container_port}/{proto}");
        if !exposed.contains(&key) {
            exposed.push(key.clone());
        }
        bindings
            .entry(key)
            .or_insert_with(|| Some(Vec::new()))
            .get_or_insert_with(Vec::new)
            .push(PortBinding {
                host_ip: Some(String::new()),
                host_port: Some(host_port.map(|p| p.to_string()).unwrap_or_default()),
            });
    }

    for e in &req.env {
        match e.split_once('=') {
            Some((k, _)) if !k.is_empty() && !k.chars().any(char::is_whitespace) => {}
            _ => {
                return Err(CommandError::invalid(
                    "env",
                    format!("Environment entries are KEY=value, not {e:?}"),
                ))
            }
        }
    }

    let binds = req
        .volumes
        .iter()
        .map(|v| check_volume_spec(v))
        .collect::<CommandResult<Vec<_>>>()?;

    let restart = match req.restart_policy.as_str() {
        "" | "no" => RestartPolicyNameEnum::NO,
        "always" => RestartPolicyNameEnum::ALWAYS,
        "unless-stopped" => RestartPolicyNameEnum::UNLESS_STOPPED,
        "on-failure" => RestartPolicyNameEnum::ON_FAILURE,
        other => {
            return Err(CommandError::invalid(
                "restartPolicy",
                format!("Unknown restart policy: {other}"),
            ))
        }
    };

    let cmd = req.command.clone().filter(|c| !c.is_empty());

    let body = ContainerCreateBody {
        image: Some(image.clone()),
        env: (!req.env.is_empty()).then(|| req.env.clone()),
        cmd,
        exposed_ports: (!exposed.is_empty()).then_some(exposed),
        host_config: Some(HostConfig {
            port_bindings: (!bindings.is_empty()).then_some(bindings),
            binds: (!binds.is_empty()).then_some(binds),
            restart_policy: Some(RestartPolicy {
                name: Some(restart),
                maximum_retry_count: None,
            }),
            ..Default::default()
        }),
        ..Default::default()
    };
    Ok(RunPlan { image, name, body })
}

fn port_in_range(p: i64) -> CommandResult<u16> {
    u16::try_from(p)
        .ok()
        .filter(|p| *p >= 1)
        .ok_or_else(|| CommandError::invalid("ports", format!("Port {p} is not in 1–65535")))
}

/// `src:/dst[:ro|rw]` with `src` an absolute host path or a volume name.
pub fn check_volume_spec(spec: &str) -> CommandResult<String> {
    let bad = |why: &str| CommandError::invalid("volumes", format!("{spec:?}: {why}"));
    let parts: Vec<&str> = spec.split(':').collect();
    let (src, dst, mode) = match parts.as_slice() {
        [s, d] => (*s, *d, None),
        [s, d, m] => (*s, *d, Some(*m)),
        _ => return Err(bad("use source:/path/in/container[:ro]")),
    };
    if src.is_empty() {
        return Err(bad("the source is empty"));
    }
    if !src.starts_with('/') && !valid_object_name(src) {
        return Err(bad(
            "the source must be an absolute host path or a volume name",
        ));
    }
    if !dst.starts_with('/') {
        return Err(bad("the container path must be absolute"));
    }
    if let Some(m) = mode {
        if m != "ro" && m != "rw" {
            return Err(bad("the mode must be ro or rw"));
        }
    }
    Ok(spec.to_string())
}

/// Start failures that are about the published ports.
fn is_port_clash(message: &str) -> bool {
    let m = message.to_ascii_lowercase();
    m.contains("port is already allocated")
        || m.contains("address already in use")
        || m.contains("ports are not available")
}

impl Backend {
    /// Every container, in any state, as the engine lists it (what the other lists count
    /// usage from).
    pub async fn all_containers(&self) -> CommandResult<Vec<ContainerSummary>> {
        let docker = self.docker().await?;
        timed(
            "the container list",
            limits::QUICK,
            docker.list_containers(Some(ListContainersOptions {
                all: true,
                ..Default::default()
            })),
        )
        .await
    }

    pub async fn list_containers(&self) -> CommandResult<Vec<ContainerItem>> {
        Ok(self
            .all_containers()
            .await?
            .iter()
            .map(container_item)
            .collect())
    }

    pub async fn container_action(&self, id: &str, action: &str) -> CommandResult<()> {
        let action = ContainerAction::parse(action)?;
        let docker = self.docker().await?;
        info!(id, ?action, "container action");
        match action {
            ContainerAction::Start => {
                timed("start", limits::QUICK, docker.start_container(id, None)).await
            }
            ContainerAction::Stop => {
                timed(
                    "stop",
                    limits::STOP,
                    docker.stop_container(id, None::<StopContainerOptions>),
                )
                .await
            }
            ContainerAction::Restart => {
                timed(
                    "restart",
                    limits::STOP,
                    docker.restart_container(id, None::<RestartContainerOptions>),
                )
                .await
            }
            ContainerAction::Pause => {
                timed("pause", limits::QUICK, docker.pause_container(id)).await
            }
            ContainerAction::Unpause => {
                timed("unpause", limits::QUICK, docker.unpause_container(id)).await
            }
            ContainerAction::Remove => self.remove_container(id, false).await,
        }
    }

    /// Force-removes a container after closing its streams; `with_volumes` also removes its
    /// anonymous volumes (`docker rm -fv`).
    pub async fn remove_container(&self, id: &str, with_volumes: bool) -> CommandResult<()> {
        let docker = self.docker().await?;
        self.streams.close_container(id);
        timed(
            "remove",
            limits::STOP,
            docker.remove_container(
                id,
                Some(RemoveContainerOptions {
                    force: true,
                    v: with_volumes,
                    ..Default::default()
                }),
            ),
        )
        .await
    }

    pub async fn inspect_container(&self, id: &str) -> CommandResult<serde_json::Value> {
        let docker = self.docker().await?;
        let c = timed("inspect", limits::QUICK, docker.inspect_container(id, None)).await?;
        serde_json::to_value(c).map_err(|e| CommandError::engine(e.to_string()))
    }

    /// Streams log lines until the output ends (with `follow`: until the container stops), the
    /// receiver is gone, or another logs stream of this container replaces this one.
    pub async fn container_logs(
        &self,
        id: &str,
        tail: Option<u32>,
        timestamps: bool,
        follow: bool,
        sink: impl Sink<LogLine>,
    ) -> CommandResult<()> {
        let docker = self.docker().await?;
        let guard = self.streams.register(StreamKind::Logs, id);
        let mut stream = docker.logs(
            id,
            Some(LogsOptions {
                follow,
                stdout: true,
                stderr: true,
                timestamps,
                tail: tail.map(|t| t.to_string()).unwrap_or_else(|| "all".into()),
                ..Default::default()
            }),
        );
        loop {
            let item = tokio::select! {
                _ = guard.token.cancelled() => return Ok(()),
                item = stream.next() => item,
            };
            match item {
                None => return Ok(()),
                Some(Ok(out)) => {
                    for line in log_lines(&out) {
                        if !sink(line) {
                            return Ok(());
                        }
                    }
                }
                Some(Err(e)) => return Err(e.into()),
            }
        }
    }

    /// Streams stats samples until the container stops, the receiver is gone or the stream is
    /// replaced. An engine without stats answers 501: `unavailable`.
    pub async fn container_stats(
        &self,
        id: &str,
        sink: impl Sink<StatsSample>,
    ) -> CommandResult<()> {
        let docker = self.docker().await?;
        let guard = self.streams.register(StreamKind::Stats, id);
        let mut stream = docker.stats(
            id,
            Some(StatsOptions {
                stream: true,
                one_shot: false,
            }),
        );
        loop {
            let item = tokio::select! {
                _ = guard.token.cancelled() => return Ok(()),
                item = stream.next() => item,
            };
            match item {
                None => return Ok(()),
                Some(Ok(s)) => {
                    let now = std::time::SystemTime::now()
                        .duration_since(std::time::UNIX_EPOCH)
                        .map(|d| d.as_secs_f64())
                        .unwrap_or_default();
                    if !sink(stats_sample(&s, now)) {
                        return Ok(());
                    }
                }
                Some(Err(e)) => return Err(e.into()),
            }
        }
    }

    /// Closes this container's open log/stats streams (the UI left its detail view).
    pub fn close_container_streams(&self, id: &str) -> usize {
        self.streams.close_container(id)
    }

    /// `docker run -d`: pull when missing, create, start. Returns the container id.
    pub async fn run_container(&self, req: &RunRequest) -> CommandResult<String> {
        let plan = plan_run(req)?;
        let docker = self.docker().await?;
        match timed(
            "inspect image",
            limits::QUICK,
            docker.inspect_image(&plan.image),
        )
        .await
        {
            Ok(_) => {}
            Err(e) if e.kind == ErrorKind::NotFound => {
                info!(image = %plan.image, "image missing; pulling");
                self.pull_image(&plan.image, |_| true).await?;
            }
            Err(e) => return Err(e),
        }
        let created = timed(
            "create",
            limits::QUICK,
            docker.create_container(
                Some(CreateContainerOptions {
                    name: plan.name.clone(),
                    ..Default::default()
                }),
                plan.body.clone(),
            ),
        )
        .await
        .map_err(|e| match e.kind {
            ErrorKind::Conflict => e.with_field("name"),
            ErrorKind::NotFound => e.with_field("image"),
            _ => e,
        })?;
        let id = created.id;
        if let Err(e) = timed("start", limits::QUICK, docker.start_container(&id, None)).await {
            // Leave nothing half-made behind: the user fixes the form and runs again.
            warn!(%id, error = %e.message, "start failed; removing the new container");
            let _ = timed(
                "remove",
                limits::STOP,
                docker.remove_container(
                    &id,
                    Some(RemoveContainerOptions {
                        force: true,
                        ..Default::default()
                    }),
                ),
            )
            .await;
            return Err(if is_port_clash(&e.message) {
                CommandError::conflict(e.message).with_field("ports")
            } else {
                e
            });
        }
        info!(%id, image = %plan.image, "container running");
        Ok(id)
    }
}

#[tauri::command]
pub async fn list_containers(
    backend: State<'_, std::sync::Arc<Backend>>,
) -> CommandResult<Vec<ContainerItem>> {
    backend.list_containers().await
}

#[tauri::command]
pub async fn container_action(
    backend: State<'_, std::sync::Arc<Backend>>,
    id: String,
    action: String,
) -> CommandResult<()> {
    backend.container_action(&id, &action).await
}

#[tauri::command]
pub async fn inspect_container(
    backend: State<'_, std::sync::Arc<Backend>>,
    id: String,
) -> CommandResult<serde_json::Value> {
    backend.inspect_container(&id).await
}

#[tauri::command]
pub async fn container_logs(
    backend: State<'_, std::sync::Arc<Backend>>,
    id: String,
    tail: Option<u32>,
    timestamps: bool,
    follow: bool,
    on_line: Channel<LogLine>,
) -> CommandResult<()> {
    backend
        .container_logs(&id, tail, timestamps, follow, move |l| {
            on_line.send(l).is_ok()
        })
        .await
}

#[tauri::command]
pub async fn container_stats(
    backend: State<'_, std::sync::Arc<Backend>>,
    id: String,
    on_stats: Channel<StatsSample>,
) -> CommandResult<()> {
    backend
        .container_stats(&id, move |s| on_stats.send(s).is_ok())
        .await
}

/// Not in the original contract: closes a container's log/stats streams (a channel cannot tell
/// the app that its JavaScript side is gone).
#[tauri::command]
pub async fn close_container_streams(
    backend: State<'_, std::sync::Arc<Backend>>,
    id: String,
) -> CommandResult<()> {
    backend.close_container_streams(&id);
    Ok(())
}

#[tauri::command]
pub async fn run_container(
    backend: State<'_, std::sync::Arc<Backend>>,
    req: serde_json::Value,
) -> CommandResult<String> {
    let req: RunRequest = serde_json::from_value(req)
        .map_err(|e| CommandError::new(ErrorKind::Invalid, format!("Bad run request: {e}")))?;
    backend.run_container(&req).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use bollard::models::{PortSummary, PortSummaryTypeEnum};

    fn summary() -> ContainerSummary {
        ContainerSummary {
            id: Some("abc123".into()),
            names: Some(vec!["/web".into()]),
            image: Some("busybox:latest".into()),
            created: Some(1_700_000_000),
            state: Some(bollard::models::ContainerSummaryStateEnum::RUNNING),
            status: Some("Up 3 minutes".into()),
            labels: Some(
                [(COMPOSE_PROJECT_LABEL.to_string(), "shop".to_string())]
                    .into_iter()
                    .collect(),
            ),
            ports: Some(vec![
                PortSummary {
                    ip: Some("::".into()),
                    private_port: 80,
                    public_port: Some(8080),
                    typ: Some(PortSummaryTypeEnum::TCP),
                },
                PortSummary {
                    ip: Some("0.0.0.0".into()),
                    private_port: 80,
                    public_port: Some(8080),
                    typ: Some(PortSummaryTypeEnum::TCP),
                },
                PortSummary {
                    ip: None,
                    private_port: 53,
                    public_port: None,
                    typ: Some(PortSummaryTypeEnum::UDP),
                },
            ]),
            ..Default::default()
        }
    }

    #[test]
    fn maps_a_container() {
        let item = container_item(&summary());
        assert_eq!(item.name, "web");
        assert_eq!(item.state, "running");
        assert_eq!(item.project.as_deref(), Some("shop"));
        assert_eq!(
            item.ports,
            vec![
                PortItem {
                    ip: None,
                    private_port: 53,
                    public_port: None,
                    proto: "udp".into()
                },
                PortItem {
                    ip: Some("0.0.0.0".into()),
                    private_port: 80,
                    public_port: Some(8080),
                    proto: "tcp".into()
                },
            ]
        );
        assert_eq!(item.published_tcp_ports(), vec![8080]);
        let json = serde_json::to_value(&item).expect("json");
        assert_eq!(json["ports"][1]["privatePort"], 80);
        assert_eq!(json["ports"][1]["publicPort"], 8080);
        assert_eq!(json["created"], 1_700_000_000);
    }

    #[test]
    fn empty_summary_does_not_panic() {
        let item = container_item(&ContainerSummary::default());
        assert_eq!(item.state, "unknown");
        assert!(item.ports.is_empty());
        assert_eq!(item.project, None);
    }

    #[test]
    fn actions() {
        assert_eq!(
            ContainerAction::parse("remove"),
            Ok(ContainerAction::Remove)
        );
        let e = ContainerAction::parse("explode").expect_err("unknown");
        assert_eq!(e.kind, ErrorKind::Invalid);
        assert_eq!(e.field.as_deref(), Some("action"));
    }

    #[test]
    fn splits_log_chunks_into_lines() {
        let out = bollard::container::LogOutput::StdErr {
            message: "a\r\nb\n".into(),
        };
        assert_eq!(
            log_lines(&out),
            vec![
                LogLine {
                    stream: "stderr".into(),
                    text: "a".into()
                },
                LogLine {
                    stream: "stderr".into(),
                    text: "b".into()
                }
            ]
        );
        let out = bollard::container::LogOutput::Console {
            message: "no newline".into(),
        };
        assert_eq!(log_lines(&out)[0].stream, "stdout");
        assert_eq!(log_lines(&out)[0].text, "no newline");
    }

    fn run_req() -> RunRequest {
        serde_json::from_value(serde_json::json!({
            "image": "busybox",
            "name": "web",
            "ports": [{"hostPort": 8080, "containerPort": 80, "proto": "tcp"},
                      {"hostPort": null, "containerPort": 53, "proto": "udp"}],
            "env": ["A=1", "B="],
            "volumes": ["data:/data", "/srv/www:/www:ro"],
            "command": ["httpd", "-f"],
            "restartPolicy": "unless-stopped"
        }))
        .expect("request")
    }

    #[test]
    fn plans_a_run() {
        let plan = plan_run(&run_req()).expect("valid");
        assert_eq!(plan.name.as_deref(), Some("web"));
        let body = serde_json::to_value(&plan.body).expect("json");
        assert_eq!(body["Image"], "busybox");
        assert_eq!(body["Env"], serde_json::json!(["A=1", "B="]));
        assert_eq!(body["Cmd"], serde_json::json!(["httpd", "-f"]));
        assert_eq!(
            body["ExposedPorts"],
            serde_json::json!({"80/tcp": {}, "53/udp": {}})
        );
        let hc = &body["HostConfig"];
        assert_eq!(
            hc["PortBindings"]["80/tcp"],
            serde_json::json!([{"HostIp": "", "HostPort": "8080"}])
        );
        assert_eq!(
            hc["PortBindings"]["53/udp"],
            serde_json::json!([{"HostIp": "", "HostPort": ""}])
        );
        assert_eq!(
            hc["Binds"],
            serde_json::json!(["data:/data", "/srv/www:/www:ro"])
        );
        assert_eq!(hc["RestartPolicy"]["Name"], "unless-stopped");
    }

    #[test]
    fn a_minimal_run_has_no_empty_fields() {
        let req: RunRequest =
            serde_json::from_value(serde_json::json!({"image": "busybox"})).expect("req");
        let plan = plan_run(&req).expect("valid");
        assert_eq!(plan.name, None);
        let body = serde_json::to_value(&plan.body).expect("json");
        assert!(body.get("Cmd").is_none());
        assert!(body.get("ExposedPorts").is_none());
        assert!(body["HostConfig"].get("PortBindings").is_none());
        assert_eq!(body["HostConfig"]["RestartPolicy"]["Name"], "no");
    }

    #[test]
    fn rejects_bad_input_with_the_field() {
        let field_of = |f: &dyn Fn(&mut RunRequest)| {
            let mut r = run_req();
            f(&mut r);
            let e = plan_run(&r).expect_err("invalid");
            assert_eq!(e.kind, ErrorKind::Invalid, "{e:?}");
            e.field.unwrap_or_default()
        };
        assert_eq!(field_of(&|r| r.ports[0].container_port = 0), "ports");
        assert_eq!(field_of(&|r| r.ports[0].host_port = Some(70000)), "ports");
        assert_eq!(field_of(&|r| r.ports[0].host_port = Some(-1)), "ports");
        assert_eq!(field_of(&|r| r.ports[0].proto = "sctp".into()), "ports");
        assert_eq!(
            field_of(&|r| r.ports[1] = r.ports[0].clone()),
            "ports",
            "same host port twice"
        );
        assert_eq!(field_of(&|r| r.name = Some("no spaces".into())), "name");
        assert_eq!(field_of(&|r| r.name = Some("x".into())), "name");
        assert_eq!(field_of(&|r| r.image = " ".into()), "image");
        assert_eq!(field_of(&|r| r.image = "BusyBox".into()), "image");
        assert_eq!(field_of(&|r| r.env = vec!["=1".into()]), "env");
        assert_eq!(field_of(&|r| r.env = vec!["NOVALUE".into()]), "env");
        assert_eq!(
            field_of(&|r| r.volumes = vec!["./rel:/x".into()]),
            "volumes"
        );
        assert_eq!(field_of(&|r| r.volumes = vec!["v:rel".into()]), "volumes");
        assert_eq!(field_of(&|r| r.volumes = vec!["v:/x:rx".into()]), "volumes");
        assert_eq!(
            field_of(&|r| r.restart_policy = "sometimes".into()),
            "restartPolicy"
        );
        // Registry host with a port is not a tag; uppercase there is the host's business.
        let mut r = run_req();
        r.image = "127.0.0.1:5000/busybox:latest".into();
        assert!(plan_run(&r).is_ok());
    }

    #[test]
    fn stats_like_the_docker_cli() {
        let s: ContainerStatsResponse = serde_json::from_value(serde_json::json!({
            "read": "2024-05-01T10:00:01.5Z",
            "cpu_stats": {"cpu_usage": {"total_usage": 400}, "system_cpu_usage": 2000, "online_cpus": 2},
            "precpu_stats": {"cpu_usage": {"total_usage": 200}, "system_cpu_usage": 1000},
            "memory_stats": {"usage": 1000, "limit": 4000, "stats": {"inactive_file": 100}},
            "networks": {"eth0": {"rx_bytes": 10, "tx_bytes": 20}, "eth1": {"rx_bytes": 1, "tx_bytes": 2}}
        }))
        .expect("stats");
        let x = stats_sample(&s, 0.0);
        assert!((x.cpu_percent - 40.0).abs() < 1e-9, "{x:?}");
        assert_eq!(x.mem_usage, 900.0);
        assert_eq!(x.mem_limit, 4000.0);
        assert_eq!((x.net_rx, x.net_tx), (11.0, 22.0));
        assert_eq!(x.time, 1_714_557_601.5);
        let empty = stats_sample(&ContainerStatsResponse::default(), 5.0);
        assert_eq!(empty.cpu_percent, 0.0);
        assert_eq!(empty.time, 5.0);
    }

    #[test]
    fn port_clashes() {
        assert!(is_port_clash(
            "driver failed programming external connectivity: Bind for 0.0.0.0:80 failed: port is already allocated"
        ));
        assert!(is_port_clash(
            "listen tcp 0.0.0.0:80: bind: address already in use"
        ));
        assert!(!is_port_clash("no such file"));
    }
}
