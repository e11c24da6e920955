//! `/containers/{id}/exec` and `/exec/{id}/...` handlers.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, Query, Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

use super::container::ResizeQuery;
use super::stream::{
    hijack, hijack_then, parse_detach_keys, AfterUpgrade, AttachOptions, DEFAULT_DETACH_KEYS,
};
use super::types::{ExecCreateRequest, ExecStartRequest};
use super::AppState;
use crate::error::{EngineError, Result};
use crate::monitor::protocol::Frame;

pub async fn create(
    State(e): State<AppState>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response> {
    let req: ExecCreateRequest = super::parse_json(&body)?;
    let c = e.containers.get(&id)?;
    let exec_id = e.execs.create(&c, req)?;
    Ok((StatusCode::CREATED, Json(json!({"Id": exec_id}))).into_response())
}

pub async fn start(
    State(e): State<AppState>,
    Path(id): Path<String>,
    req: Request,
) -> Result<Response> {
    let exec = e.execs.get(&id)?;
    let (parts, body) = req.into_parts();
    let bytes = axum::body::to_bytes(body, 1 << 20)
        .await
        .map_err(|err| EngineError::invalid(format!("reading body: {err}")))?;
    let start: ExecStartRequest = if bytes.is_empty() {
        ExecStartRequest::default()
    } else {
        super::parse_json(&bytes)?
    };
    if start.detach {
        e.execs.start(&exec).await?;
        return Ok(StatusCode::OK.into_response());
    }
    // Subscribed before the start, so the first bytes of output are not lost.
    let rx = exec.io.subscribe();
    let opts = AttachOptions {
        stdin: exec.cfg.attach_stdin,
        stdout: exec.cfg.attach_stdout || !exec.cfg.attach_stdin,
        stderr: exec.cfg.attach_stderr || !exec.cfg.attach_stdin,
        stdin_once: true,
        tty: exec.cfg.tty,
        live: true,
        detach_keys: Some(parse_detach_keys(if exec.cfg.detach_keys.is_empty() {
            DEFAULT_DETACH_KEYS
        } else {
            &exec.cfg.detach_keys
        })?),
    };
    if !parts.headers.contains_key("upgrade") {
        // A plain response body: start now, so a failure is the response's status.
        e.execs.start(&exec).await?;
        let req = Request::from_parts(parts, axum::body::Body::empty());
        return Ok(hijack(req, Arc::clone(&exec.io), rx, opts));
    }
    // As dockerd: answer the upgrade first, then start; what refuses the start before the
    // process is tried (already run, container gone) is still an HTTP error.
    e.execs.check_startable(&exec)?;
    let req = Request::from_parts(parts, axum::body::Body::empty());
    let execs = Arc::clone(&e.execs);
    let exec2 = Arc::clone(&exec);
    let start: AfterUpgrade =
        Box::pin(async move { execs.start(&exec2).await.map(|()| Vec::new()) });
    Ok(hijack_then(
        req,
        Arc::clone(&exec.io),
        rx,
        opts,
        Some(start),
    ))
}

pub async fn resize(
    State(e): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<ResizeQuery>,
) -> Result<StatusCode> {
    let exec = e.execs.get(&id)?;
    exec.io.send(Frame::Resize {
        height: q.h.unwrap_or(0),
        width: q.w.unwrap_or(0),
    });
    Ok(StatusCode::OK)
}

pub async fn inspect(
    State(e): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<serde_json::Value>> {
    let exec = e.execs.get(&id)?;
    Ok(Json(exec.inspect()))
}
