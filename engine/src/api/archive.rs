//! Container filesystem handlers: `archive` (docker cp), `changes` (docker diff), `export`,
//! `commit`, and the `fromSrc` branch of `/images/create` (docker import).

use std::io;

use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use futures_util::StreamExt;
use serde::Deserialize;
use serde_json::json;
use tokio::sync::mpsc;

use super::image::flag;
use super::AppState;
use crate::container::changes::Change;
use crate::container::commit::CommitRequest;
use crate::error::{EngineError, Result};
use crate::fs::channel::ChannelReader;
use crate::image::import::ImportRequest;

const STAT_HEADER: &str = "X-Docker-Container-Path-Stat";

#[derive(Deserialize, Default)]
pub struct ArchiveQuery {
    path: Option<String>,
    #[serde(rename = "noOverwriteDirNonDir")]
    no_overwrite_dir_non_dir: Option<String>,
    #[serde(rename = "copyUIDGID")]
    copy_uid_gid: Option<String>,
}

impl ArchiveQuery {
    fn path(&self) -> Result<&str> {
        self.path
            .as_deref()
            .filter(|p| !p.is_empty())
            .ok_or_else(|| EngineError::invalid("path cannot be empty"))
    }
}

/// A request body as a blocking reader (the tar extractors are synchronous), and the task that
/// feeds it.
pub(crate) fn body_reader(body: Body) -> (ChannelReader, tokio::task::JoinHandle<()>) {
    let (tx, rx) = mpsc::channel::<io::Result<Bytes>>(16);
    let feeder = tokio::spawn(async move {
        let mut s = body.into_data_stream();
        let mut drained = 0usize;
        while let Some(chunk) = s.next().await {
            if tx.is_closed() {
                // Refused before the upload ended: read a little more so the client gets our
                // answer instead of a broken pipe (Go's server does the same, up to 256 KiB).
                drained += chunk.map(|c| c.len()).unwrap_or(usize::MAX / 2);
                if drained > DRAIN_LIMIT {
                    break;
                }
                continue;
            }
            let item = chunk.map_err(|e| io::Error::other(format!("reading request body: {e}")));
            let failed = item.is_err();
            if tx.send(item).await.is_err() && failed {
                break;
            }
        }
    });
    (ChannelReader::new(rx), feeder)
}

const DRAIN_LIMIT: usize = 1 << 20;

fn stream_body(rx: mpsc::Receiver<io::Result<Bytes>>) -> Body {
    Body::from_stream(futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    }))
}

pub async fn stat(
    State(e): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<ArchiveQuery>,
) -> Result<Response> {
    let path = q.path()?;
    let c = e.containers.get(&id)?;
    let stat = e.containers.stat_path(&c, &id, path).await?;
    Ok(([(STAT_HEADER, stat.header_value())], StatusCode::OK).into_response())
}

pub async fn get(
    State(e): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<ArchiveQuery>,
) -> Result<Response> {
    let path = q.path()?;
    let c = e.containers.get(&id)?;
    let (stat, rx) = e.containers.archive_path(&c, &id, path).await?;
    Ok((
        [
            (STAT_HEADER, stat.header_value()),
            ("Content-Type", "application/x-tar".to_string()),
        ],
        stream_body(rx),
    )
        .into_response())
}

pub async fn put(
    State(e): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<ArchiveQuery>,
    body: Body,
) -> Result<StatusCode> {
    let (reader, feeder) = body_reader(body);
    let result = async {
        let path = q.path()?;
        let c = e.containers.get(&id)?;
        e.containers
            .extract_to_dir(
                &c,
                &id,
                path,
                flag(q.copy_uid_gid.as_deref()),
                flag(q.no_overwrite_dir_non_dir.as_deref()),
                Box::new(reader),
            )
            .await
    }
    .await;
    if result.is_err() {
        let _ = feeder.await;
    }
    result.map(|()| StatusCode::OK)
}

pub async fn changes(
    State(e): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Vec<Change>>> {
    let c = e.containers.get(&id)?;
    Ok(Json(e.containers.changes(&c).await?))
}

pub async fn export(State(e): State<AppState>, Path(id): Path<String>) -> Result<Response> {
    let c = e.containers.get(&id)?;
    let rx = e.containers.export(&c).await?;
    Ok(([("Content-Type", "application/x-tar")], stream_body(rx)).into_response())
}

/// A query string as pairs: `changes` may repeat, which a struct cannot hold.
fn query_pairs(raw: Option<&str>) -> Result<Vec<(String, String)>> {
    serde_urlencoded::from_str(raw.unwrap_or(""))
        .map_err(|err| EngineError::invalid(format!("invalid query: {err}")))
}

fn first<'a>(pairs: &'a [(String, String)], key: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

fn all(pairs: &[(String, String)], key: &str) -> Vec<String> {
    pairs
        .iter()
        .filter(|(k, _)| k == key)
        .map(|(_, v)| v.clone())
        .collect()
}

/// `POST /commit?container=&repo=&tag=&comment=&author=&pause=&changes=`, body: optional Config.
pub async fn commit(
    State(e): State<AppState>,
    RawQuery(raw): RawQuery,
    body: Bytes,
) -> Result<Response> {
    let q = query_pairs(raw.as_deref())?;
    let name = first(&q, "container").unwrap_or_default();
    let c = e.containers.get(name)?;
    let raw_config = body.trim_ascii();
    let config = if raw_config.is_empty() || raw_config == b"null" {
        None
    } else {
        super::parse_json(&body)?
    };
    let req = CommitRequest {
        repo: first(&q, "repo").map(str::to_string),
        tag: first(&q, "tag").map(str::to_string),
        comment: first(&q, "comment").unwrap_or_default().to_string(),
        author: first(&q, "author").unwrap_or_default().to_string(),
        // Pausing is the default since API 1.13; only an explicit false turns it off.
        pause: first(&q, "pause").is_none_or(|p| p.is_empty() || flag(Some(p))),
        changes: all(&q, "changes"),
        config,
    };
    let id = e.containers.commit(&c, req).await?;
    Ok((StatusCode::CREATED, Json(json!({ "Id": id }))).into_response())
}

/// `POST /images/create?fromSrc=-`: the body is the tar. Answers with the JSON message stream
/// the CLI reads (one status line carrying the new image's ID).
pub async fn import(e: AppState, raw: Option<String>, body: Body) -> Result<Response> {
    let q = query_pairs(raw.as_deref())?;
    let src = first(&q, "fromSrc").unwrap_or_default();
    if src != "-" {
        return Err(EngineError::NotImplemented(format!(
            "importing from a URL ({src}) is not supported by this engine; pipe the archive instead: docker import - < file"
        )));
    }
    let changes = all(&q, "changes");
    let (reader, feeder) = body_reader(body);
    let result = e
        .images
        .import(
            Box::new(reader),
            ImportRequest {
                repo: first(&q, "repo"),
                tag: first(&q, "tag"),
                changes: &changes,
                message: first(&q, "message").unwrap_or_default(),
                platform: first(&q, "platform"),
            },
        )
        .await;
    let id = match result {
        Ok(id) => id,
        Err(err) => {
            let _ = feeder.await;
            return Err(err);
        }
    };
    e.events.emit("image", "import", &id, Default::default());
    Ok((
        [("Content-Type", "application/json")],
        format!("{}\r\n", json!({ "status": id })),
    )
        .into_response())
}
