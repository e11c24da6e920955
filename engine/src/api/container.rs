//! `/containers/...` handlers.

use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::json;

use super::image::flag;
use super::stream::{
    hijack_then, parse_detach_keys, stdcopy_frame, AfterUpgrade, AttachOptions, DEFAULT_DETACH_KEYS,
};
use super::types::ContainerCreateRequest;
use super::AppState;
use crate::container::io::Output;
use crate::container::lifecycle::WaitCondition;
use crate::container::logs::{self, LogOptions};
use crate::error::{EngineError, Result};
use crate::filters::Filters;
use crate::monitor::logfile::Stream;
use crate::monitor::protocol::Frame;

#[derive(Deserialize, Default)]
pub struct ListQuery {
    all: Option<String>,
    limit: Option<i64>,
    size: Option<String>,
    filters: Option<String>,
}

pub async fn list(
    State(e): State<AppState>,
    Query(q): Query<ListQuery>,
) -> Result<Json<serde_json::Value>> {
    let f = Filters::parse(q.filters.as_deref())?;
    let mut items = e.containers.list(flag(q.all.as_deref()), q.limit, &f)?;
    if flag(q.size.as_deref()) {
        e.containers.add_sizes(&mut items).await;
    }
    Ok(Json(json!(items)))
}

#[derive(Deserialize, Default)]
pub struct CreateQuery {
    name: Option<String>,
}

pub async fn create(
    State(e): State<AppState>,
    Query(q): Query<CreateQuery>,
    body: Bytes,
) -> Result<Response> {
    let req: ContainerCreateRequest = super::parse_json(&body)?;
    let name = q.name.as_deref().filter(|n| !n.is_empty());
    let resp = e.containers.create(name, req).await?;
    Ok((StatusCode::CREATED, Json(resp)).into_response())
}

pub async fn inspect(
    State(e): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<crate::api::types::ContainerInspectResponse>> {
    let c = e.containers.get(&id)?;
    Ok(Json(e.containers.inspect(&c)))
}

pub async fn start(State(e): State<AppState>, Path(id): Path<String>) -> Result<StatusCode> {
    let c = e.containers.get(&id)?;
    e.containers.start_by_user(&c).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `docker update`: the settings are checked before the container is looked up, as dockerd does.
pub async fn update(
    State(e): State<AppState>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<crate::api::types::ContainerUpdateResponse>> {
    let req: crate::api::types::ContainerUpdateRequest = super::parse_json(&body)?;
    Ok(Json(e.containers.update(&id, req).await?))
}

#[derive(Deserialize, Default)]
pub struct StopQuery {
    t: Option<i64>,
    signal: Option<String>,
}

pub async fn stop(
    State(e): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<StopQuery>,
) -> Result<StatusCode> {
    let c = e.containers.get(&id)?;
    e.containers.stop(&c, q.t, q.signal.as_deref()).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn restart(
    State(e): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<StopQuery>,
) -> Result<StatusCode> {
    let c = e.containers.get(&id)?;
    e.containers.restart(&c, q.t, q.signal.as_deref()).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, Default)]
pub struct KillQuery {
    signal: Option<String>,
}

pub async fn kill(
    State(e): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<KillQuery>,
) -> Result<StatusCode> {
    let c = e.containers.get(&id)?;
    e.containers.kill(&c, q.signal.as_deref()).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn pause(State(e): State<AppState>, Path(id): Path<String>) -> Result<StatusCode> {
    let c = e.containers.get(&id)?;
    e.containers.pause(&c).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn unpause(State(e): State<AppState>, Path(id): Path<String>) -> Result<StatusCode> {
    let c = e.containers.get(&id)?;
    e.containers.unpause(&c).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, Default)]
pub struct WaitQuery {
    condition: Option<String>,
}

/// dockerd sends the headers at once and the body at exit: clients (the docker CLI among them)
/// wait for the headers before they start the container.
pub async fn wait(
    State(e): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<WaitQuery>,
) -> Result<Response> {
    let cond = WaitCondition::parse(q.condition.as_deref())?;
    let c = e.containers.get(&id)?;
    let svc = Arc::clone(&e.containers);
    let body = futures_util::stream::once(async move {
        let code = svc.wait(&c, cond).await.unwrap_or(-1);
        let err = c.lock().st.state.error().to_string();
        let error = if err.is_empty() {
            serde_json::Value::Null
        } else {
            json!({"Message": err})
        };
        Ok::<_, std::io::Error>(format!("{}\n", json!({"StatusCode": code, "Error": error})))
    });
    Ok((
        [("Content-Type", "application/json")],
        Body::from_stream(body),
    )
        .into_response())
}

#[derive(Deserialize, Default)]
pub struct RenameQuery {
    name: Option<String>,
}

pub async fn rename(
    State(e): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<RenameQuery>,
) -> Result<StatusCode> {
    let c = e.containers.get(&id)?;
    let name = q
        .name
        .filter(|n| !n.is_empty())
        .ok_or_else(|| EngineError::invalid("name cannot be empty"))?;
    e.containers.rename(&c, &name)?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, Default)]
pub struct ResizeQuery {
    pub(crate) h: Option<u16>,
    pub(crate) w: Option<u16>,
}

pub async fn resize(
    State(e): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<ResizeQuery>,
) -> Result<StatusCode> {
    let c = e.containers.get(&id)?;
    let (h, w) = (q.h.unwrap_or(0), q.w.unwrap_or(0));
    if !c.is_running() {
        return Err(EngineError::Conflict(format!(
            "Container {} is not running",
            c.id
        )));
    }
    c.io.send(Frame::Resize {
        height: h,
        width: w,
    });
    Ok(StatusCode::OK)
}

#[derive(Deserialize, Default)]
pub struct AttachQuery {
    stream: Option<String>,
    logs: Option<String>,
    stdin: Option<String>,
    stdout: Option<String>,
    stderr: Option<String>,
    #[serde(rename = "detachKeys")]
    detach_keys: Option<String>,
}

pub async fn attach(
    State(e): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<AttachQuery>,
    req: Request,
) -> Result<Response> {
    let c = e.containers.get(&id)?;
    let (tty, stdin_once, open_stdin) = {
        let d = c.lock();
        (
            d.rec.config.tty,
            d.rec.config.stdin_once,
            d.rec.config.open_stdin,
        )
    };
    let detach_keys = parse_detach_keys(q.detach_keys.as_deref().unwrap_or(DEFAULT_DETACH_KEYS))?;
    // Subscribed before the log is read: a line written in between may come twice, never not.
    let rx = c.io.subscribe();
    // As dockerd: the log is read once the connection is upgraded, then replayed.
    let replay: Option<AfterUpgrade> = if flag(q.logs.as_deref()) {
        c.check_logs_readable()?;
        let path = c.log_path();
        Some(Box::pin(async move {
            let (entries, _) = tokio::task::spawn_blocking(move || {
                crate::monitor::logfile::read_all_logs(&path, None, None, None)
            })
            .await
            .map_err(|e| EngineError::internal(format!("log reader: {e}")))?
            .map_err(|e| EngineError::internal(format!("reading the log: {e}")))?;
            Ok(entries
                .into_iter()
                .map(|e| match e.stream {
                    Stream::Stdout => Output::Stdout(e.line.into()),
                    Stream::Stderr => Output::Stderr(e.line.into()),
                })
                .collect())
        }))
    } else {
        None
    };
    let opts = AttachOptions {
        stdin: flag(q.stdin.as_deref()) && open_stdin,
        stdout: flag(q.stdout.as_deref()),
        stderr: flag(q.stderr.as_deref()),
        stdin_once,
        tty,
        live: flag(q.stream.as_deref()),
        detach_keys: Some(detach_keys),
    };
    e.containers.emit(&c, "attach", &[]);
    Ok(hijack_then(req, Arc::clone(&c.io), rx, opts, replay))
}

#[derive(Deserialize, Default)]
pub struct LogsQuery {
    follow: Option<String>,
    stdout: Option<String>,
    stderr: Option<String>,
    since: Option<String>,
    until: Option<String>,
    timestamps: Option<String>,
    tail: Option<String>,
}

pub async fn logs(
    State(e): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<LogsQuery>,
) -> Result<Response> {
    let c = e.containers.get(&id)?;
    c.check_logs_readable()?;
    let want_out = flag(q.stdout.as_deref());
    let want_err = flag(q.stderr.as_deref());
    if !want_out && !want_err {
        return Err(EngineError::invalid(
            "Bad parameters: you must choose at least one stream",
        ));
    }
    let tail = match q.tail.as_deref() {
        None | Some("") | Some("all") => None,
        Some(t) => Some(
            t.parse::<i64>()
                .map_err(|_| EngineError::invalid(format!("invalid tail value {t}")))?
                .max(0) as usize,
        ),
    };
    let opts = LogOptions {
        follow: flag(q.follow.as_deref()),
        tail,
        since: q.since.as_deref().and_then(logs::parse_time),
        until: q.until.as_deref().and_then(logs::parse_time),
    };
    let timestamps = flag(q.timestamps.as_deref());
    let tty = c.lock().rec.config.tty;
    let (tx, rx) = tokio::sync::mpsc::channel(256);
    tokio::spawn(logs::stream(Arc::clone(&c), opts, tx));
    let stream = futures_util::stream::unfold(rx, move |mut rx| async move {
        loop {
            let entry = rx.recv().await?;
            let wanted = match entry.stream {
                Stream::Stdout => want_out,
                Stream::Stderr => want_err,
            };
            if !wanted {
                continue;
            }
            let mut line = Vec::new();
            if timestamps {
                line.extend_from_slice(crate::timestamp::rfc3339_nano(entry.time).as_bytes());
                line.push(b' ');
            }
            line.extend_from_slice(&entry.line);
            let out = if tty {
                line
            } else {
                stdcopy_frame(if entry.stream == Stream::Stderr { 2 } else { 1 }, &line)
            };
            return Some((Ok::<_, std::io::Error>(out), rx));
        }
    });
    let ct = if tty {
        "application/vnd.docker.raw-stream"
    } else {
        "application/vnd.docker.multiplexed-stream"
    };
    Ok(([("Content-Type", ct)], Body::from_stream(stream)).into_response())
}

#[derive(Deserialize, Default)]
pub struct RemoveQuery {
    force: Option<String>,
    v: Option<String>,
    link: Option<String>,
}

pub async fn remove(
    State(e): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<RemoveQuery>,
) -> Result<StatusCode> {
    if flag(q.link.as_deref()) {
        // `docker rm --link /PARENT/ALIAS`: the link goes, both containers stay.
        e.containers.remove_link(&id)?;
        return Ok(StatusCode::NO_CONTENT);
    }
    let c = e.containers.get(&id)?;
    e.containers
        .remove(&c, flag(q.force.as_deref()), flag(q.v.as_deref()))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `DELETE /containers/PARENT/ALIAS?link=1`: a link's name, which has a slash.
pub async fn remove_link(
    State(e): State<AppState>,
    Path((parent, alias)): Path<(String, String)>,
    Query(q): Query<RemoveQuery>,
) -> Result<StatusCode> {
    if !flag(q.link.as_deref()) {
        return Err(EngineError::NotFound(format!(
            "page not found: /containers/{parent}/{alias}"
        )));
    }
    e.containers.remove_link(&format!("/{parent}/{alias}"))?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, Default)]
pub struct TopQuery {
    ps_args: Option<String>,
}

pub async fn top(
    State(e): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<TopQuery>,
) -> Result<Json<crate::api::types::stats::ContainerTopResponse>> {
    let c = e.containers.get(&id)?;
    Ok(Json(e.containers.top(&c, q.ps_args.as_deref()).await?))
}

#[derive(Deserialize, Default)]
pub struct PruneQuery {
    filters: Option<String>,
}

/// `POST /containers/{id}` exists only as `/containers/prune`; it shares the path pattern with
/// `DELETE /containers/{id}`, so that `docker rm prune` still reaches a container named `prune`.
pub async fn post_bare(
    State(e): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<PruneQuery>,
) -> Result<Json<crate::api::types::ContainerPruneResponse>> {
    if id != "prune" {
        return Err(EngineError::NotFound(format!(
            "page not found: /containers/{id}"
        )));
    }
    let f = Filters::parse(q.filters.as_deref())?;
    Ok(Json(e.containers.prune(&f).await?))
}
