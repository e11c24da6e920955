//! Streams: Docker's stdcopy multiplexing and the HTTP upgrade ("hijack") used by attach and exec.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use axum::response::Response;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use std::sync::Arc;

use crate::container::io::{IoHub, Output};
use crate::monitor::protocol::Frame;

/// One stdcopy frame: stream byte (1 stdout, 2 stderr), three zero bytes, big-endian length.
pub fn stdcopy_frame(stream: u8, data: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(8 + data.len());
    v.push(stream);
    v.extend_from_slice(&[0, 0, 0]);
    v.extend_from_slice(&(data.len() as u32).to_be_bytes());
    v.extend_from_slice(data);
    v
}

pub fn encode_output(o: &Output, tty: bool, want_out: bool, want_err: bool) -> Option<Vec<u8>> {
    let (kind, data) = match o {
        Output::Stdout(b) if want_out => (1u8, b),
        Output::Stderr(b) if want_err => (2u8, b),
        _ => return None,
    };
    Some(if tty {
        data.to_vec()
    } else {
        stdcopy_frame(kind, data)
    })
}

pub struct AttachOptions {
    pub stdin: bool,
    pub stdout: bool,
    pub stderr: bool,
    /// Close the container's stdin when this client's stdin ends.
    pub stdin_once: bool,
    pub tty: bool,
}

/// Something to do once the connection is upgraded (an exec's start), before output is relayed.
pub type AfterUpgrade =
    std::pin::Pin<Box<dyn std::future::Future<Output = crate::error::Result<()>> + Send + 'static>>;

/// Answers an attach request: upgrades the connection and relays streams until the process exits.
/// `rx` must be subscribed before the process starts, so none of its output is missed.
pub fn hijack(
    req: Request<Body>,
    io: Arc<IoHub>,
    rx: tokio::sync::broadcast::Receiver<Output>,
    opts: AttachOptions,
) -> Response {
    hijack_then(req, io, rx, opts, None)
}

/// [`hijack`], running `start` once the client has the upgrade answer: a process started only
/// then cannot have its first output arrive with the answer's headers, which clients that read
/// the headers through a buffer (docker-py) would swallow. A failed start is reported in the
/// stream, as dockerd writes it, since the status line is already sent.
pub fn hijack_then(
    req: Request<Body>,
    io: Arc<IoHub>,
    rx: tokio::sync::broadcast::Receiver<Output>,
    opts: AttachOptions,
    start: Option<AfterUpgrade>,
) -> Response {
    let mut rx = rx;
    let upgrade_requested = req.headers().contains_key("upgrade");
    let content_type = if opts.tty {
        "application/vnd.docker.raw-stream"
    } else {
        "application/vnd.docker.multiplexed-stream"
    };
    if !upgrade_requested {
        // Without an upgrade the output still streams as a plain response body.
        let stream = futures_util::stream::unfold(rx, move |mut rx| async move {
            loop {
                match rx.recv().await {
                    Ok(Output::Closed) | Err(tokio::sync::broadcast::error::RecvError::Closed) => {
                        return None
                    }
                    Ok(o) => {
                        if let Some(b) = encode_output(&o, opts.tty, opts.stdout, opts.stderr) {
                            return Some((Ok::<_, std::io::Error>(b), rx));
                        }
                    }
                    Err(_) => continue,
                }
            }
        });
        return Response::builder()
            .status(StatusCode::OK)
            .header("Content-Type", content_type)
            .body(Body::from_stream(stream))
            .unwrap_or_default();
    }
    let on_upgrade = hyper::upgrade::on(req);
    tokio::spawn(async move {
        let upgraded = match on_upgrade.await {
            Ok(u) => u,
            Err(e) => {
                tracing::debug!(error = %e, "attach upgrade failed");
                return;
            }
        };
        let (mut rd, mut wr) = tokio::io::split(TokioIo::new(upgraded));
        if let Some(start) = start {
            if let Err(e) = start.await {
                let msg = Output::Stdout(bytes::Bytes::from(format!("{e}\r\n")));
                if let Some(b) = encode_output(&msg, opts.tty, true, true) {
                    let _ = wr.write_all(&b).await;
                }
                let _ = wr.flush().await;
                let _ = wr.shutdown().await;
                return;
            }
        }
        if opts.stdin {
            let io2 = Arc::clone(&io);
            tokio::spawn(async move {
                let mut buf = vec![0u8; 32 * 1024];
                loop {
                    match rd.read(&mut buf).await {
                        Ok(0) | Err(_) => break,
                        Ok(n) => io2.send(Frame::Stdin(bytes::Bytes::copy_from_slice(&buf[..n]))),
                    }
                }
                if opts.stdin_once {
                    io2.send(Frame::StdinEof);
                }
            });
        }
        loop {
            match rx.recv().await {
                Ok(Output::Closed) | Err(tokio::sync::broadcast::error::RecvError::Closed) => break,
                Ok(o) => {
                    if let Some(b) = encode_output(&o, opts.tty, opts.stdout, opts.stderr) {
                        if wr.write_all(&b).await.is_err() {
                            break;
                        }
                    }
                }
                Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => {
                    tracing::warn!(skipped = n, "attach client too slow; output dropped");
                }
            }
        }
        let _ = wr.flush().await;
        let _ = wr.shutdown().await;
    });
    Response::builder()
        .status(StatusCode::SWITCHING_PROTOCOLS)
        .header("Content-Type", content_type)
        .header("Connection", "Upgrade")
        .header("Upgrade", "tcp")
        .body(Body::empty())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stdcopy_header() {
        assert_eq!(
            stdcopy_frame(2, b"ab"),
            vec![2, 0, 0, 0, 0, 0, 0, 2, b'a', b'b']
        );
    }
}
