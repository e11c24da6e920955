//! Serving the API on a unix socket: HTTP/1.1 with upgrades (for attach/exec hijacking), version
//! prefixes (`/v1.47/...`) checked and stripped before routing.

use std::convert::Infallible;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use axum::body::Body;
use axum::http::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tower::ServiceExt;

use super::{MAX_API_VERSION, MIN_API_VERSION};
use crate::engine::Engine;

/// A `/vX.Y` prefix: the version, or the text that did not parse.
pub type VersionPrefix = Option<Result<(u32, u32), String>>;

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

/// Serves the API on a bound socket until the process ends.
pub async fn serve_on(
    engine: Arc<Engine>,
    listener: tokio::net::UnixListener,
) -> anyhow::Result<()> {
    let router = super::router(engine);
    loop {
        let (stream, _) = match listener.accept().await {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(error = %e, "accept failed");
                continue;
            }
        };
        let router = router.clone();
        tokio::spawn(async move {
            let svc = hyper::service::service_fn(move |req| handle(router.clone(), req));
            let conn = hyper::server::conn::http1::Builder::new()
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

    #[test]
    fn versions_split() {
        assert_eq!(split_version("/v1.47/info"), (Some(Ok((1, 47))), "/info"));
        assert_eq!(split_version("/info"), (None, "/info"));
        assert_eq!(split_version("/v1.x/info").0, Some(Err("1.x".into())));
        assert_eq!(split_version("/volumes").0, None);
    }
}
