//! Serving the API on a unix socket: HTTP/1.1 with upgrades (for attach/exec hijacking), version
//! prefixes (`/v1.47/...`) checked and stripped before routing.

use std::convert::Infallible;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use axum::body::Body;
use axum::http::{Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use tower::ServiceExt;

use super::{MAX_API_VERSION, MIN_API_VERSION};
use crate::engine::Engine;

/// A `/vX.Y` prefix: the version, or the text that did not parse.
pub type VersionPrefix = Option<Result<(u32, u32), String>>;

/// The API version a request asked for (its `/v1.xx` prefix; the newest when it has none), as
/// a request extension: some answers differ by version, as dockerd's do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct ApiVersion(pub u32, pub u32);

/// Splits `/v1.47/containers/json` into (Some((1,47)), "/containers/json").
pub fn split_version(path: &str) -> (VersionPrefix, &str) {
    let Some(rest) = path.strip_prefix("/v") else {
        return (None, path);
    };
    let (ver, tail) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let Some((maj, min)) = ver.split_once('.') else {
        return (None, path);
    };
    match (maj.parse::<u32>(), min.parse::<u32>()) {
        (Ok(a), Ok(b)) => (Some(Ok((a, b))), tail),
        _ => (Some(Err(ver.to_string())), tail),
    }
}

fn error_response(status: StatusCode, msg: String) -> Response<Body> {
    let body = serde_json::json!({ "message": msg }).to_string();
    Response::builder()
        .status(status)
        .header("Content-Type", "application/json")
        .body(Body::from(body))
        .unwrap_or_else(|_| Response::new(Body::empty()))
}

async fn handle(
    router: axum::Router,
    mut req: Request<hyper::body::Incoming>,
) -> Result<Response<Body>, Infallible> {
    let path = req.uri().path().to_string();
    let (ver, tail) = split_version(&path);
    let asked = match &ver {
        Some(Ok((a, b))) => ApiVersion(*a, *b),
        _ => ApiVersion(MAX_API_VERSION.0, MAX_API_VERSION.1),
    };
    req.extensions_mut().insert(asked);
    if let Some(v) = ver {
        match v {
            Ok(v) if v > MAX_API_VERSION => {
                return Ok(error_response(
                    StatusCode::BAD_REQUEST,
                    format!(
                        "client version {}.{} is too new. Maximum supported API version is {}.{}",
                        v.0, v.1, MAX_API_VERSION.0, MAX_API_VERSION.1
                    ),
                ))
            }
            Ok(v) if v < MIN_API_VERSION => {
                return Ok(error_response(
                    StatusCode::BAD_REQUEST,
                    format!(
                        "client version {}.{} is too old. Minimum supported API version is {}.{}, please upgrade your client to a newer version",
                        v.0, v.1, MIN_API_VERSION.0, MIN_API_VERSION.1
                    ),
                ))
            }
            Ok(_) => {}
            Err(bad) => {
                return Ok(error_response(
                    StatusCode::BAD_REQUEST,
                    format!("invalid API version format: {bad}"),
                ))
            }
        }
        let pq = match req.uri().query() {
            Some(q) => format!("{tail}?{q}"),
            None => tail.to_string(),
        };
        if let Ok(uri) = pq.parse() {
            *req.uri_mut() = uri;
        }
    }
    let req = req.map(Body::new);
    let (method, uri) = (req.method().clone(), req.uri().clone());
    tracing::debug!(%method, %uri, "request");
    let mut resp = router.oneshot(req).await.unwrap_or_else(|e| match e {});
    tracing::debug!(%method, %uri, status = %resp.status(), "response");
    let h = resp.headers_mut();
    h.insert(
        "Api-Version",
        hv(&format!("{}.{}", MAX_API_VERSION.0, MAX_API_VERSION.1)),
    );
    h.insert(
        "Server",
        hv(&format!("Docker/{} (linux)", env!("CARGO_PKG_VERSION"))),
    );
    h.insert("Ostype", hv("linux"));
    Ok(resp)
}

fn hv(s: &str) -> axum::http::HeaderValue {
    axum::http::HeaderValue::from_str(s).unwrap_or(axum::http::HeaderValue::from_static(""))
}

/// Binds the API socket (0660, group `berth` when it exists), replacing a stale one.
pub fn bind(socket: &Path) -> anyhow::Result<tokio::net::UnixListener> {
    if let Some(parent) = socket.parent() {
        std::fs::create_dir_all(parent)?;
    }
    // A stale socket from a previous run: the engine lock proves no other berthd owns it.
    let _ = std::fs::remove_file(socket);
    let listener = tokio::net::UnixListener::bind(socket)
        .with_context(|| format!("binding {}", socket.display()))?;
    std::fs::set_permissions(socket, std::fs::Permissions::from_mode(0o660))?;
    if let Ok(Some(g)) = nix::unistd::Group::from_name("berth") {
        let _ = nix::unistd::chown(socket, None, Some(g.gid));
    }
    tracing::info!(socket = %socket.display(), "API listening");
    Ok(listener)
}

/// Bounds on the API's connections.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Connections served at once; more wait in the socket's backlog.
    pub max_connections: usize,
    /// A client must send a request's headers within this; it also ends idle keep-alive
    /// connections. Streams (events, logs, attach) are not bound by it once their request is in.
    pub header_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_connections: 1024,
            header_timeout: Duration::from_secs(60),
        }
    }
}

/// Serves the API on a bound socket until the process ends.
pub async fn serve_on(
    engine: Arc<Engine>,
    listener: tokio::net::UnixListener,
) -> anyhow::Result<()> {
    let router = super::router(engine);
    serve_with(listener, Limits::default(), move |req| {
        handle(router.clone(), req)
    })
    .await
}

/// Whether an accept error means the process or system ran out of something (file descriptors,
/// memory): retrying at once would only spin.
fn is_resource_limit(e: &std::io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::EMFILE | libc::ENFILE | libc::ENOBUFS | libc::ENOMEM)
    )
}

/// The accept loop: at most `limits.max_connections` served at once, each with the header
/// timeout; out of file descriptors, it backs off instead of spinning.
async fn serve_with<F, Fut>(
    listener: tokio::net::UnixListener,
    limits: Limits,
    service: F,
) -> anyhow::Result<()>
where
    F: Fn(Request<hyper::body::Incoming>) -> Fut + Clone + Send + Sync + 'static,
    Fut: std::future::Future<Output = Result<Response<Body>, Infallible>> + Send + 'static,
{
    let permits = Arc::new(tokio::sync::Semaphore::new(limits.max_connections));
    loop {
        let permit = Arc::clone(&permits)
            .acquire_owned()
            .await
            .context("connection limit")?;
        let stream = match listener.accept().await {
            Ok((s, _)) => s,
            Err(e) if is_resource_limit(&e) => {
                tracing::warn!(error = %e, "accept failed: out of resources; backing off");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
            Err(e) => {
                tracing::warn!(error = %e, "accept failed");
                continue;
            }
        };
        let service = service.clone();
        tokio::spawn(async move {
            let _permit = permit;
            let svc = hyper::service::service_fn(service);
            let conn = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(limits.header_timeout)
                .serve_connection(TokioIo::new(stream), svc)
                .with_upgrades();
            if let Err(e) = conn.await {
                tracing::debug!(error = %e, "connection ended with error");
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    async fn ok(_req: Request<hyper::body::Incoming>) -> Result<Response<Body>, Infallible> {
        Ok(Response::new(Body::from("OK")))
    }

    /// Reads until the server closes the connection; returns what it sent.
    async fn read_to_close(s: &mut tokio::net::UnixStream) -> String {
        let mut buf = Vec::new();
        let _ = s.read_to_end(&mut buf).await;
        String::from_utf8_lossy(&buf).into_owned()
    }

    #[tokio::test]
    async fn connections_are_capped_and_silent_ones_are_closed() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("api.sock");
        let listener = tokio::net::UnixListener::bind(&path).expect("bind");
        let limits = Limits {
            max_connections: 2,
            header_timeout: Duration::from_millis(300),
        };
        tokio::spawn(serve_with(listener, limits, ok));
        // Two clients that never send a request take both slots...
        let mut silent1 = tokio::net::UnixStream::connect(&path).await.expect("c1");
        let mut silent2 = tokio::net::UnixStream::connect(&path).await.expect("c2");
        // ...so a third is served only once the header timeout has closed one of them.
        let mut third = tokio::net::UnixStream::connect(&path).await.expect("c3");
        third
            .write_all(b"GET /_ping HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .await
            .expect("request");
        let answer = read_to_close(&mut third).await;
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
        assert!(answer.ends_with("OK"), "{answer}");
        // The silent ones were closed without an answer to a request they never sent.
        assert!(!read_to_close(&mut silent1).await.contains("200"));
        assert!(!read_to_close(&mut silent2).await.contains("200"));
    }

    #[test]
    fn running_out_of_descriptors_is_a_resource_limit() {
        assert!(is_resource_limit(&std::io::Error::from_raw_os_error(
            libc::EMFILE
        )));
        assert!(is_resource_limit(&std::io::Error::from_raw_os_error(
            libc::ENFILE
        )));
        assert!(!is_resource_limit(&std::io::Error::from_raw_os_error(
            libc::ECONNABORTED
        )));
    }

    #[test]
    fn versions_split() {
        assert_eq!(split_version("/v1.47/info"), (Some(Ok((1, 47))), "/info"));
        assert_eq!(split_version("/info"), (None, "/info"));
        assert_eq!(split_version("/v1.x/info").0, Some(Err("1.x".into())));
        assert_eq!(split_version("/volumes").0, None);
    }
}
