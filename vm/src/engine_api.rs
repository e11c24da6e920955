//! The few Docker API calls the host forwarder makes to the guest engine itself (to follow
//! published ports), as plain HTTP/1.1 over a mux stream.

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper::body::Incoming;
use hyper::Request;
use hyper_util::rt::TokioIo;

use crate::header::Target;
use crate::mux::{MuxError, MuxHandle};

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error(transparent)]
    Mux(#[from] MuxError),
    #[error("engine stream: {0}")]
    Io(#[from] std::io::Error),
    #[error("engine HTTP: {0}")]
    Http(#[from] hyper::Error),
    #[error("engine request: {0}")]
    Request(#[from] hyper::http::Error),
    #[error("engine answered {status} to {path}")]
    Status {
        status: hyper::StatusCode,
        path: String,
    },
    #[error("engine JSON from {path}: {source}")]
    Json {
        path: String,
        source: serde_json::Error,
    },
}

/// GET `path` from the guest engine; the response when its status is 2xx.
async fn get(mux: &MuxHandle, path: &str) -> Result<hyper::Response<Incoming>, ApiError> {
    let mut stream = mux.open().await?;
    Target::Engine.write_to(&mut stream).await?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(async move {
        if let Err(e) = conn.await {
            tracing::debug!("engine connection: {e}");
        }
    });
    let req = Request::get(path)
        .header(hyper::header::HOST, "berth-vm")
        .body(Empty::<Bytes>::new())?;
    let resp = sender.send_request(req).await?;
    if !resp.status().is_success() {
        return Err(ApiError::Status {
            status: resp.status(),
            path: path.to_string(),
        });
    }
    Ok(resp)
}

/// GET `path` and parse the body as JSON.
pub async fn get_json(mux: &MuxHandle, path: &str) -> Result<serde_json::Value, ApiError> {
    let body = get(mux, path)
        .await?
        .into_body()
        .collect()
        .await?
        .to_bytes();
    serde_json::from_slice(&body).map_err(|source| ApiError::Json {
        path: path.to_string(),
        source,
    })
}

/// A streaming GET whose body is one JSON document per line (`/events`).
pub struct JsonLines {
    body: Incoming,
    buf: Vec<u8>,
    path: String,
}

impl JsonLines {
    pub async fn open(mux: &MuxHandle, path: &str) -> Result<JsonLines, ApiError> {
        Ok(JsonLines {
            body: get(mux, path).await?.into_body(),
            buf: Vec::new(),
            path: path.to_string(),
        })
    }

    /// The next document; None when the stream ends.
    pub async fn next(&mut self) -> Result<Option<serde_json::Value>, ApiError> {
        loop {
            if let Some(nl) = self.buf.iter().position(|b| *b == b'\n') {
                let line: Vec<u8> = self.buf.drain(..=nl).collect();
                if line.iter().all(u8::is_ascii_whitespace) {
                    continue;
                }
                return serde_json::from_slice(&line)
                    .map(Some)
                    .map_err(|source| ApiError::Json {
                        path: self.path.clone(),
                        source,
                    });
            }
            match self.body.frame().await {
                Some(frame) => {
                    if let Ok(data) = frame?.into_data() {
                        self.buf.extend_from_slice(&data);
                    }
                }
                None => return Ok(None),
            }
        }
    }
}

/// `/_ping` answered OK.
pub async fn ping(mux: &MuxHandle) -> Result<(), ApiError> {
    get(mux, "/_ping").await?.into_body().collect().await?;
    Ok(())
}
