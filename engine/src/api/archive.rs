//! Container filesystem handlers: `archive` (docker cp), `changes` (docker diff), `export`,
//! `commit`, and the `fromSrc` branch of `/images/create` (docker import).

use std::io;

use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;
use serde::Deserialize;
use tokio::sync::mpsc;

use super::image::flag;
use super::AppState;
use crate::container::archive::ChannelReader;
use crate::error::{EngineError, Result};

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
fn body_reader(body: Body) -> (ChannelReader, tokio::task::JoinHandle<()>) {
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
