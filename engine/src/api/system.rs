//! `/_ping`, `/version`, `/info`, `/auth`, `/events`, `/system/df`, `/build/prune`.

use axum::body::Body;
use axum::extract::{Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use futures_util::StreamExt;
use serde::Deserialize;
use serde_json::{json, Value};

use super::types::AuthConfig;
use super::AppState;
use crate::error::{EngineError, Result};
use crate::filters::Filters;

/// The builder `/_ping` advertises: the classic one (`POST /build`); BuildKit would be "2".
const BUILDER_VERSION: (&str, &str) = ("Builder-Version", "1");

pub async fn ping() -> Response {
    (
        [
            (
                header::CACHE_CONTROL.as_str(),
                "no-cache, no-store, must-revalidate",
            ),
            (header::PRAGMA.as_str(), "no-cache"),
            BUILDER_VERSION,
        ],
        "OK",
    )
        .into_response()
}

pub async fn ping_head() -> Response {
    (
        [
            (
                header::CACHE_CONTROL.as_str(),
                "no-cache, no-store, must-revalidate",
            ),
            (header::CONTENT_TYPE.as_str(), "text/plain; charset=utf-8"),
            BUILDER_VERSION,
        ],
        "",
    )
        .into_response()
}

pub async fn not_found(uri: axum::http::Uri) -> EngineError {
    EngineError::NotFound(format!("page not found: {}", uri.path()))
}

fn kernel() -> String {
    nix::sys::utsname::uname()
        .map(|u| u.release().to_string_lossy().into_owned())
        .unwrap_or_default()
}

pub async fn version(State(engine): State<AppState>) -> Json<Value> {
    let api = format!("{}.{}", super::MAX_API_VERSION.0, super::MAX_API_VERSION.1);
    let min = format!("{}.{}", super::MIN_API_VERSION.0, super::MIN_API_VERSION.1);
    let v = env!("CARGO_PKG_VERSION");
    let rt = engine.runtimes.default.clone();
    Json(json!({
        "Platform": {"Name": "Berth Engine"},
        "Components": [
            {"Name": "Engine", "Version": v, "Details": {
                "ApiVersion": api, "MinAPIVersion": min, "Os": "linux", "Arch": "amd64",
                "KernelVersion": kernel(), "GitCommit": "", "GoVersion": "", "BuildTime": "",
                "Experimental": "false"}},
            {"Name": rt, "Version": engine.runtimes.default_version, "Details": {}},
        ],
        "Version": v,
        "ApiVersion": api,
        "MinAPIVersion": min,
        "GitCommit": "",
        "GoVersion": "",
        "Os": "linux",
        "Arch": "amd64",
        "KernelVersion": kernel(),
        "BuildTime": "",
    }))
}

fn os_name() -> String {
    std::fs::read_to_string("/etc/os-release")
        .ok()
        .and_then(|s| {
            s.lines().find_map(|l| {
                l.strip_prefix("PRETTY_NAME=")
                    .map(|v| v.trim_matches('"').to_string())
            })
        })
        .unwrap_or_else(|| "Linux".into())
}

pub async fn info(State(engine): State<AppState>) -> Json<Value> {
    let cs = engine.containers.all();
    let mut running = 0;
    let mut paused = 0;
    let mut stopped = 0;
    for c in &cs {
        let d = c.lock();
        if d.st.state.is_paused() {
            paused += 1;
        } else if d.st.state.is_running() {
            running += 1;
        } else {
            stopped += 1;
        }
    }
    let mem = nix::sys::sysinfo::sysinfo()
        .map(|s| s.ram_total())
        .unwrap_or(0);
    let runtimes: serde_json::Map<String, Value> = engine
        .runtimes
        .paths
        .iter()
        .map(|(k, v)| (k.clone(), json!({"path": v})))
        .collect();
    // What the machine's cgroups can enforce, probed from their files.
    let cg = crate::container::resources::CgroupFeatures::host(&engine.runtimes.cgroup);
    let mut warnings = cg.info_warnings();
    warnings.extend(engine.containers.damaged_records());
    let hostname = nix::unistd::gethostname()
        .map(|h| h.to_string_lossy().into_owned())
        .unwrap_or_default();
    Json(json!({
        "ID": engine.id,
        "Containers": cs.len(),
        "ContainersRunning": running,
        "ContainersPaused": paused,
        "ContainersStopped": stopped,
        "Images": engine.images.store.list().len(),
        "Driver": "overlay2",
        "DriverStatus": [["Backing Filesystem", "extfs"], ["Supports d_type", "true"]],
        "Plugins": {"Volume": ["local"], "Network": ["bridge", "host", "null"], "Authorization": Value::Null,
                    "Log": ["json-file", "local"]},
        "MemoryLimit": cg.memory_limit,
        "SwapLimit": cg.swap_limit,
        "CpuCfsPeriod": cg.cpu_cfs,
        "CpuCfsQuota": cg.cpu_cfs,
        "CPUShares": cg.cpu_shares,
        "CPUSet": cg.cpuset,
        "PidsLimit": cg.pids_limit,
        "IPv4Forwarding": true,
        "Debug": false,
        "NFd": 0,
        "OomKillDisable": cg.oom_kill_disable,
        "NGoroutines": 0,
        "SystemTime": crate::timestamp::now_rfc3339(),
        "LoggingDriver": "json-file",
        "CgroupDriver": "cgroupfs",
        "CgroupVersion": engine.runtimes.cgroup.version(),
        "NEventsListener": 0,
        "KernelVersion": kernel(),
        "OperatingSystem": os_name(),
        "OSVersion": "",
        "OSType": "linux",
        "Architecture": std::env::consts::ARCH,
        "IndexServerAddress": "https://index.docker.io/v1/",
        "RegistryConfig": registry_config(&engine.images.registries),
        "NCPU": crate::container::resources::online_cpus(),
        "MemTotal": mem,
        "DockerRootDir": engine.data_root,
        "Name": hostname,
        "Labels": [],
        "ExperimentalBuild": false,
        "ServerVersion": env!("CARGO_PKG_VERSION"),
        "Runtimes": runtimes,
        "DefaultRuntime": engine.runtimes.default,
        "LiveRestoreEnabled": true,
        "Swarm": {"NodeID": "", "NodeAddr": "", "LocalNodeState": "inactive",
                  "ControlAvailable": false, "Error": "", "RemoteManagers": Value::Null},
        "Isolation": "",
        "InitBinary": "",
        "SecurityOptions": security_options(engine.runtimes.cgroup == crate::container::runtime::CgroupMode::V2),
        "Warnings": if warnings.is_empty() { Value::Null } else { json!(warnings) },
    }))
}

/// `SecurityOptions` of `/info`, in dockerd's order, listing only what containers really get:
/// the default seccomp profile when the kernel can apply it, a private cgroup namespace on
/// cgroup v2. (No AppArmor profile is applied by default, so `name=apparmor` is not listed.)
fn security_options(cgroup_v2: bool) -> Vec<&'static str> {
    let host = crate::container::security_opt::HostSupport::probe();
    let mut out = Vec::new();
    if host.seccomp {
        out.push("name=seccomp,profile=builtin");
    }
    if cgroup_v2 {
        out.push("name=cgroupns");
    }
    out
}

/// `docker login`: checks the credentials against the registry's `/v2/` endpoint.
pub async fn auth(State(engine): State<AppState>, body: axum::body::Bytes) -> Result<Json<Value>> {
    let cfg: AuthConfig = super::parse_json(&body)?;
    crate::image::auth::login(&engine.images, &cfg).await?;
    Ok(Json(
        json!({"Status": "Login Succeeded", "IdentityToken": ""}),
    ))
}

#[derive(Deserialize, Default)]
pub struct EventsQuery {
    since: Option<String>,
    until: Option<String>,
    filters: Option<String>,
}

/// A `since`/`until` value (a Unix time with fraction, as the CLI sends, or any form the
/// prune filters take) as Unix nanoseconds.
fn event_time(v: Option<&str>, now: chrono::DateTime<chrono::Utc>) -> Result<Option<i64>> {
    v.filter(|s| !s.is_empty())
        .map(|s| {
            crate::timestamp::parse(s, now)
                .map(|t| t.timestamp_nanos_opt().unwrap_or(i64::MAX))
                .map_err(|e| EngineError::invalid(e.to_string()))
        })
        .transpose()
}

/// `/events`: the remembered events in the `since`..`until` window (either given), then the live
/// ones; the stream ends at `until` (at once when it is past), as dockerd's does.
pub async fn events(
    State(engine): State<AppState>,
    Query(q): Query<EventsQuery>,
) -> Result<Response> {
    let filters = Filters::parse(q.filters.as_deref())?;
    let now = chrono::Utc::now();
    let since = event_time(q.since.as_deref(), now)?;
    let until = event_time(q.until.as_deref(), now)?;
    let (past, rx) = if since.is_some() || until.is_some() {
        engine.events.subscribe_since(since.unwrap_or(0))
    } else {
        (Vec::new(), engine.events.subscribe())
    };
    let in_window = move |ev: &Value| until.is_none_or(|u| crate::events::time_nano(ev) <= u);
    let past: Vec<Value> = past.into_iter().filter(|ev| in_window(ev)).collect();
    let now_nanos = now.timestamp_nanos_opt().unwrap_or(0);
    let live = tokio_stream_from(rx).take_while(move |ev| {
        let ok = in_window(ev);
        async move { ok }
    });
    // Nothing live when `until` is past; otherwise a timer closes the stream at `until`.
    let live = match until {
        Some(u) if u <= now_nanos => futures_util::stream::empty().boxed(),
        Some(u) => {
            let left = std::time::Duration::from_nanos((u - now_nanos) as u64);
            live.take_until(tokio::time::sleep(left)).boxed()
        }
        None => live.boxed(),
    };
    let stream = futures_util::stream::iter(past)
        .chain(live)
        .filter(move |ev| {
            let keep = event_matches(&filters, ev);
            async move { keep }
        })
        .map(|ev| Ok::<_, std::io::Error>(format!("{ev}\n")));
    let mut resp = Response::new(Body::from_stream(stream));
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        "application/json"
            .parse()
            .map_err(|_| EngineError::internal("header"))?,
    );
    *resp.status_mut() = StatusCode::OK;
    Ok(resp)
}

/// `docker system df`: `type` may repeat (API 1.42); none means every kind.
pub async fn disk_usage(
    State(engine): State<AppState>,
    axum::extract::RawQuery(raw): axum::extract::RawQuery,
) -> Result<Json<crate::disk_usage::DiskUsage>> {
    use crate::disk_usage::Kind;
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(raw.as_deref().unwrap_or(""))
        .map_err(|e| EngineError::invalid(format!("invalid query: {e}")))?;
    let mut kinds = Vec::new();
    for (k, v) in &pairs {
        if k == "type" {
            kinds.push(Kind::parse(v)?);
        }
    }
    if kinds.is_empty() {
        kinds = Kind::ALL.to_vec();
    }
    Ok(Json(engine.disk_usage(&kinds).await?))
}

#[derive(Deserialize, Default)]
pub struct BuildPruneQuery {
    filters: Option<String>,
}

/// `docker builder prune` (and the last step of `docker system prune`): frees the classic
/// builder's cache (`build::prune`). The filters are checked as dockerd checks them; none is
/// honoured yet, so a given one is refused rather than ignored.
pub async fn build_prune(
    State(engine): State<AppState>,
    Query(q): Query<BuildPruneQuery>,
) -> Result<Json<Value>> {
    let filters = Filters::parse(q.filters.as_deref())?;
    const KEYS: [&str; 9] = [
        "id",
        "parent",
        "type",
        "description",
        "inuse",
        "shared",
        "private",
        "until",
        "unused-for",
    ];
    filters.only(&KEYS)?;
    if KEYS.iter().any(|k| filters.has(k)) {
        return Err(EngineError::NotImplemented(
            "builder prune filters are not supported by this engine yet".into(),
        ));
    }
    let (deleted, freed) = crate::build::prune::prune(&engine)?;
    let deleted = if deleted.is_empty() {
        Value::Null
    } else {
        json!(deleted)
    };
    Ok(Json(
        json!({"CachesDeleted": deleted, "SpaceReclaimed": freed}),
    ))
}

fn event_matches(f: &Filters, ev: &Value) -> bool {
    let ty = ev["Type"].as_str().unwrap_or_default();
    if f.has("type") && !f.get("type").iter().any(|t| t == ty) {
        return false;
    }
    let action = ev["Action"].as_str().unwrap_or_default();
    // As dockerd: once the filter names one of the actions that carry a suffix
    // (`health_status: healthy`), every given value also matches as a prefix.
    let fuzzy = f
        .get("event")
        .iter()
        .any(|t| matches!(t.as_str(), "health_status" | "exec_create" | "exec_start"));
    let event_matches = |t: &String| t == action || (fuzzy && action.starts_with(t.as_str()));
    if f.has("event") && !f.get("event").iter().any(event_matches) {
        return false;
    }
    let id = ev["Actor"]["ID"].as_str().unwrap_or_default();
    let name = ev["Actor"]["Attributes"]["name"]
        .as_str()
        .unwrap_or_default();
    if f.has("container")
        && (ty != "container"
            || !f
                .get("container")
                .iter()
                .any(|c| id.starts_with(c.as_str()) || c == name))
    {
        return false;
    }
    true
}

fn tokio_stream_from(
    rx: tokio::sync::broadcast::Receiver<Value>,
) -> impl futures_util::Stream<Item = Value> {
    futures_util::stream::unfold(rx, |mut rx| async move {
        loop {
            match rx.recv().await {
                Ok(v) => return Some((v, rx)),
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
                Err(_) => return None,
            }
        }
    })
}

/// `/info`'s `RegistryConfig` as dockerd shows it: Docker Hub's index, each registry named
/// insecure (`Secure: false`), and the insecure CIDRs (loopback and the given ones).
fn registry_config(r: &crate::image::registry_access::RegistryAccess) -> serde_json::Value {
    let mut index = serde_json::Map::new();
    index.insert(
        "docker.io".into(),
        json!({"Name": "docker.io", "Mirrors": [], "Secure": true, "Official": true}),
    );
    for name in r.insecure_names() {
        index.insert(
            name.clone(),
            json!({"Name": name, "Mirrors": [], "Secure": false, "Official": false}),
        );
    }
    json!({"IndexConfigs": index, "InsecureRegistryCIDRs": r.cidrs(), "Mirrors": []})
}
