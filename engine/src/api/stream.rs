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
    /// Relay live output until the process exits (attach `stream=1`, exec); else the prelude only.
    pub live: bool,
    /// A key sequence on stdin that detaches this client, leaving the process running.
    pub detach_keys: Option<Vec<u8>>,
}

/// Something to do once the connection is upgraded, before live output is relayed: an exec's
/// start, or reading the log an attach replays. What it returns is sent first.
pub type AfterUpgrade = std::pin::Pin<
    Box<dyn std::future::Future<Output = crate::error::Result<Vec<Output>>> + Send + 'static>,
>;

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

type UpgradedRead = Box<dyn tokio::io::AsyncRead + Send + Unpin>;
type UpgradedWrite = tokio::io::WriteHalf<Box<dyn AsyncStream>>;

trait AsyncStream: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + Unpin {}
impl<T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + Unpin> AsyncStream for T {}

/// The upgraded connection as read and write halves. On our unix socket it first waits until
/// the client has read the upgrade answer: clients that read the headers through a buffer and
/// then take the raw socket (docker-py) would otherwise lose output that came with them.
async fn split_upgraded(upgraded: hyper::upgrade::Upgraded) -> (UpgradedRead, UpgradedWrite) {
    match upgraded.downcast::<TokioIo<tokio::net::UnixStream>>() {
        Ok(parts) => {
            let stream = parts.io.into_inner();
            until_peer_read_all(&stream).await;
            let io: Box<dyn AsyncStream> = Box::new(stream);
            let (rd, wr) = tokio::io::split(io);
            // Bytes the client sent right after its request (stdin) come first.
            let early = std::io::Cursor::new(parts.read_buf);
            (Box::new(early.chain(rd)), wr)
        }
        Err(upgraded) => {
            let io: Box<dyn AsyncStream> = Box::new(TokioIo::new(upgraded));
            let (rd, wr) = tokio::io::split(io);
            (Box::new(rd), wr)
        }
    }
}

/// Waits until the peer has read everything sent on `stream` (the unix socket's send queue is
/// empty), for at most a second: a client that never reads must not hold the attach up.
async fn until_peer_read_all(stream: &tokio::net::UnixStream) {
    use std::os::fd::AsRawFd;
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(1);
    loop {
        let mut queued: libc::c_int = 0;
        // SAFETY: SIOCOUTQ (TIOCOUTQ) writes one int for a valid socket fd.
        let rc = unsafe { libc::ioctl(stream.as_raw_fd(), libc::TIOCOUTQ, &mut queued) };
        if rc != 0 || queued == 0 || tokio::time::Instant::now() >= deadline {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(1)).await;
    }
}

/// dockerd's default detach sequence.
pub const DEFAULT_DETACH_KEYS: &str = "ctrl-p,ctrl-q";

/// dockerd's `--detach-keys` syntax: comma-separated keys, each a single character or `ctrl-X`
/// (`X` a letter or one of `@[\\]^_`).
pub fn parse_detach_keys(spec: &str) -> crate::error::Result<Vec<u8>> {
    let bad =
        || crate::error::EngineError::invalid(format!("Invalid detach keys ({spec}) provided"));
    let mut out = Vec::new();
    for key in spec.split(',') {
        let k = key.trim();
        if let Some(c) = k.strip_prefix("ctrl-") {
            let b = match c.as_bytes() {
                [c @ b'a'..=b'z'] => c - b'a' + 1,
                [c @ b'A'..=b'Z'] => c - b'A' + 1,
                [b'@'] => 0,
                [b'['] => 27,
                [b'\\'] => 28,
                [b']'] => 29,
                [b'^'] => 30,
                [b'_'] => 31,
                _ => return Err(bad()),
            };
            out.push(b);
        } else if k.len() == 1 {
            out.push(k.as_bytes()[0]);
        } else {
            return Err(bad());
        }
    }
    Ok(out)
}

/// Watches stdin for the detach sequence: bytes pass through, a partial match is held back until
/// it completes (detach) or breaks (then it passes through too).
struct DetachWatch {
    keys: Vec<u8>,
    matched: usize,
}

impl DetachWatch {
    /// The bytes to forward from `input`, and whether the sequence completed.
    fn feed(&mut self, input: &[u8]) -> (Vec<u8>, bool) {
        let mut out = Vec::with_capacity(input.len());
        for &b in input {
            if b == self.keys[self.matched] {
                self.matched += 1;
                if self.matched == self.keys.len() {
                    return (out, true);
                }
                continue;
            }
            out.extend_from_slice(&self.keys[..self.matched]);
            self.matched = 0;
            if b == self.keys[0] {
                self.matched = 1;
                if self.keys.len() == 1 {
                    return (out, true);
                }
            } else {
                out.push(b);
            }
        }
        (out, false)
    }
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
    let encode = move |o: &Output| encode_output(o, opts.tty, opts.stdout, opts.stderr);
    if !upgrade_requested {
        // Without an upgrade the output still streams as a plain response body.
        let live = opts.live;
        let head = futures_util::stream::once(async move {
            let prelude = match start {
                Some(f) => f.await.map_err(|e| std::io::Error::other(e.to_string()))?,
                None => Vec::new(),
            };
            Ok::<_, std::io::Error>(
                prelude
                    .iter()
                    .filter_map(encode)
                    .collect::<Vec<_>>()
                    .concat(),
            )
        });
        let tail = futures_util::stream::unfold((rx, live), move |(mut rx, live)| async move {
            if !live {
                return None;
            }
            loop {
                match rx.recv().await {
                    Ok(Output::Closed) | Err(tokio::sync::broadcast::error::RecvError::Closed) => {
                        return None
                    }
                    Ok(o) => {
                        if let Some(b) = encode(&o) {
                            return Some((Ok::<_, std::io::Error>(b), (rx, live)));
                        }
                    }
                    Err(_) => continue,
                }
            }
        });
        use futures_util::StreamExt;
        return Response::builder()
            .status(StatusCode::OK)
            .header("Content-Type", content_type)
            .body(Body::from_stream(head.chain(tail)))
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
        let (mut rd, mut wr) = split_upgraded(upgraded).await;
        let prelude = match start {
            None => Vec::new(),
            Some(start) => match start.await {
                Ok(p) => p,
                Err(e) => {
                    let msg = Output::Stdout(bytes::Bytes::from(format!("{e}\r\n")));
                    if let Some(b) = encode_output(&msg, opts.tty, true, true) {
                        let _ = wr.write_all(&b).await;
                    }
                    let _ = wr.flush().await;
                    let _ = wr.shutdown().await;
                    return;
                }
            },
        };
        let (detached_tx, mut detached) = tokio::sync::oneshot::channel::<()>();
        if opts.stdin && opts.live {
            let io2 = Arc::clone(&io);
            let mut watch = opts
                .detach_keys
                .clone()
                .filter(|k| !k.is_empty())
                .map(|keys| DetachWatch { keys, matched: 0 });
            tokio::spawn(async move {
                let mut buf = vec![0u8; 32 * 1024];
                loop {
                    match rd.read(&mut buf).await {
                        Ok(0) | Err(_) => break,
                        Ok(n) => {
                            let (data, detach) = match watch.as_mut() {
                                Some(w) => w.feed(&buf[..n]),
                                None => (buf[..n].to_vec(), false),
                            };
                            if !data.is_empty() {
                                io2.send(Frame::Stdin(bytes::Bytes::from(data)));
                            }
                            if detach {
                                // The client leaves; the process and its stdin stay as they are.
                                let _ = detached_tx.send(());
                                return;
                            }
                        }
                    }
                }
                if opts.stdin_once {
                    io2.send(Frame::StdinEof);
                }
            });
        }
        for o in &prelude {
            if let Some(b) = encode(o) {
                if wr.write_all(&b).await.is_err() {
                    return;
                }
            }
        }
        // The stdin task ends (and drops its sender) at the client's EOF too: only a sent
        // value is a detach.
        let mut detach_pending = true;
        while opts.live {
            let o = tokio::select! {
                o = rx.recv() => o,
                d = &mut detached, if detach_pending => match d {
                    Ok(()) => break,
                    Err(_) => {
                        detach_pending = false;
                        continue;
                    }
                },
            };
            match o {
                Ok(Output::Closed) | Err(tokio::sync::broadcast::error::RecvError::Closed) => break,
                Ok(o) => {
                    if let Some(b) = encode(&o) {
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

    #[test]
    fn detach_keys_parse_like_dockerd() {
        assert_eq!(parse_detach_keys("ctrl-p,ctrl-q").unwrap(), vec![16, 17]);
        assert_eq!(
            parse_detach_keys("ctrl-@,a,ctrl-\\").unwrap(),
            vec![0, b'a', 28]
        );
        assert!(parse_detach_keys("ctrl-1").is_err());
        assert!(parse_detach_keys("ab").is_err());
    }

    #[test]
    fn detach_sequence_is_held_back_and_broken_matches_pass() {
        let mut w = DetachWatch {
            keys: vec![16, 17],
            matched: 0,
        };
        assert_eq!(w.feed(b"ab\x10"), (b"ab".to_vec(), false));
        // A broken match passes the held byte through.
        assert_eq!(w.feed(b"x"), (b"\x10x".to_vec(), false));
        assert_eq!(w.feed(b"\x10\x10"), (b"\x10".to_vec(), false));
        assert_eq!(w.feed(b"\x11rest"), (Vec::new(), true));
    }
}
