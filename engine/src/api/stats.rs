//! `GET /containers/{id}/stats`: one JSON object, or a stream of one object per line (flushed
//! each time) until the client goes away or the container stops.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::AppState;
use crate::container::stats::series::Series;
use crate::error::{EngineError, Result};

#[derive(Deserialize, Default)]
pub struct StatsQuery {
    stream: Option<String>,
    #[serde(rename = "one-shot")]
    one_shot: Option<String>,
}

/// dockerd's `BoolValue`: anything but empty, `0`, `no`, `false`, `none` is true.
fn go_bool(v: &str) -> bool {
    let v = v.trim().to_ascii_lowercase();
    !matches!(v.as_str(), "" | "0" | "no" | "false" | "none")
}

fn json_line(v: &impl serde::Serialize) -> Result<Vec<u8>> {
    let mut line = serde_json::to_vec(v)
        .map_err(|e| EngineError::internal(format!("serializing stats: {e}")))?;
    line.push(b'\n');
    Ok(line)
}

pub async fn stats(
    State(e): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<StatsQuery>,
) -> Result<Response> {
    let c = e.containers.get(&id)?;
    let stream = q.stream.as_deref().is_none_or(go_bool);
    let one_shot = q.one_shot.as_deref().is_some_and(go_bool);
    let series = Series::new(Arc::clone(&e.containers), c);
    let headers = [("Content-Type", "application/json")];
    if !stream {
        let body = json_line(&series.single(one_shot).await)?;
        return Ok((headers, body).into_response());
    }
    // The headers go out at once; each object is its own chunk, which hyper flushes while the
    // next one is pending.
    let body = futures_util::stream::unfold(series, |mut s| async move {
        let next = s.next().await?;
        match json_line(&next) {
            Ok(line) => Some((Ok::<_, std::io::Error>(line), s)),
            Err(err) => {
                tracing::warn!(error = %err, "ending stats stream");
                None
            }
        }
    });
    Ok((headers, Body::from_stream(body)).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn booleans_read_like_dockerd() {
        for t in ["1", "true", "True", "yes", "anything"] {
            assert!(go_bool(t), "{t}");
        }
        for f in ["", "0", "false", "FALSE", "no", "none", " 0 "] {
            assert!(!go_bool(f), "{f:?}");
        }
    }
}
