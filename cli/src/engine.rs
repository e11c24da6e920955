//! Which engine to talk to, and the connection to it.
//!
//! Precedence as docker's, with Berth's own variable first: `-H`, then `BERTH_HOST`, then
//! `DOCKER_HOST`, then the context (`--context`, `BERTH_CONTEXT`, `berth context use`), then
//! `unix:///run/berth.sock`. (`--context` given explicitly wins over DOCKER_HOST: main
//! resolves it before calling here.)

use anyhow::{bail, Context, Result};
use bollard::{ClientVersion, Docker};

use crate::errors::CliError;

pub const DEFAULT_HOST: &str = "unix:///run/berth.sock";

/// The newest API this client was written against (berthd's surface); negotiation lowers it
/// for older engines.
const API_VERSION: ClientVersion = ClientVersion {
    major_version: 1,
    minor_version: 47,
};

/// Long: `logs -f`, `run` and `exec` streams live as long as the user wants them to.
const TIMEOUT_SECS: u64 = 365 * 24 * 3600;

pub fn resolve_host(
    flag: Option<&str>,
    context: Option<String>,
    var: impl Fn(&str) -> Option<String>,
) -> String {
    flag.map(str::to_string)
        .or_else(|| var("BERTH_HOST").filter(|v| !v.is_empty()))
        .or_else(|| var("DOCKER_HOST").filter(|v| !v.is_empty()))
        .or(context)
        .unwrap_or_else(|| DEFAULT_HOST.to_string())
}

/// Connects and negotiates the API version (one `GET /_ping`, which also tells whether an
/// engine answers at all).
pub async fn connect(host: &str) -> Result<Docker> {
    let docker = if let Some(path) = host.strip_prefix("unix://") {
        Docker::connect_with_unix(path, TIMEOUT_SECS, &API_VERSION)
    } else if host.starts_with("tcp://") || host.starts_with("http://") {
        Docker::connect_with_http(host, TIMEOUT_SECS, &API_VERSION)
    } else {
        bail!(CliError::usage(format!(
            "{}: {host}",
            crate::i18n::tr(
                "unsupported host (use unix:///path or tcp://host:port)",
                "host no admitido (use unix:///ruta o tcp://host:puerto)"
            )
        )));
    };
    // A missing socket fails here already (bollard checks the path).
    let docker = docker.map_err(|e| CliError::unreachable(host, &e))?;
    match docker.negotiate_version().await {
        Ok(d) => Ok(d),
        Err(e) => Err(CliError::unreachable(host, &e).into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn precedence() {
        let none = |_: &str| None;
        assert_eq!(resolve_host(None, None, none), DEFAULT_HOST);
        let ctx = Some("unix:///ctx".to_string());
        assert_eq!(resolve_host(None, ctx.clone(), none), "unix:///ctx");
        let both = |k: &str| match k {
            "BERTH_HOST" => Some("unix:///b".to_string()),
            "DOCKER_HOST" => Some("unix:///d".to_string()),
            _ => None,
        };
        assert_eq!(resolve_host(None, ctx.clone(), both), "unix:///b");
        assert_eq!(resolve_host(Some("tcp://h:1"), None, both), "tcp://h:1");
        let docker_only = |k: &str| (k == "DOCKER_HOST").then(|| "unix:///d".to_string());
        assert_eq!(resolve_host(None, ctx, docker_only), "unix:///d");
    }
}

/// One `POST` to the engine outside bollard (for endpoints it has no call for, e.g. `/auth`):
/// HTTP/1.1 with `Connection: close`, at the API version this client speaks. Returns the
/// status code and the body.
pub async fn raw_post(host: &str, path: &str, body: &[u8]) -> Result<(u16, Vec<u8>)> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let request = format!(
        "POST /v{}.{}{path} HTTP/1.1\r\nHost: berth\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n",
        API_VERSION.major_version,
        API_VERSION.minor_version,
        body.len()
    );
    let mut reply = Vec::new();
    let unreachable = |e: std::io::Error| CliError::unreachable(host, &e.into());
    if let Some(p) = host.strip_prefix("unix://") {
        let mut s = tokio::net::UnixStream::connect(p)
            .await
            .map_err(unreachable)?;
        s.write_all(request.as_bytes()).await?;
        s.write_all(body).await?;
        s.read_to_end(&mut reply).await?;
    } else {
        let addr = host
            .strip_prefix("tcp://")
            .or_else(|| host.strip_prefix("http://"))
            .unwrap_or(host);
        let mut s = tokio::net::TcpStream::connect(addr)
            .await
            .map_err(unreachable)?;
        s.write_all(request.as_bytes()).await?;
        s.write_all(body).await?;
        s.read_to_end(&mut reply).await?;
    }
    parse_http_reply(&reply)
}

/// Status and body of an HTTP/1.1 response (plain or chunked).
fn parse_http_reply(reply: &[u8]) -> Result<(u16, Vec<u8>)> {
    let split = reply
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .context("engine reply without headers")?;
    let head = String::from_utf8_lossy(&reply[..split]);
    let status: u16 = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .context("engine reply without a status")?;
    let mut body = reply[split + 4..].to_vec();
    let chunked = head
        .lines()
        .any(|l| l.to_ascii_lowercase().starts_with("transfer-encoding:") && l.contains("chunked"));
    if chunked {
        let mut out = Vec::new();
        let mut rest = body.as_slice();
        while let Some(eol) = rest.windows(2).position(|w| w == b"\r\n") {
            let size = usize::from_str_radix(String::from_utf8_lossy(&rest[..eol]).trim(), 16)
                .context("bad chunk size")?;
            if size == 0 {
                break;
            }
            let start = eol + 2;
            let chunk = rest.get(start..start + size).context("short chunk")?;
            out.extend_from_slice(chunk);
            rest = rest.get(start + size + 2..).unwrap_or_default();
        }
        body = out;
    }
    Ok((status, body))
}

#[cfg(test)]
mod http_tests {
    #[test]
    fn replies_plain_and_chunked() {
        let plain = b"HTTP/1.1 401 Unauthorized\r\nContent-Length: 2\r\n\r\n{}";
        assert_eq!(
            super::parse_http_reply(plain).unwrap(),
            (401, b"{}".to_vec())
        );
        let chunked =
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n";
        assert_eq!(
            super::parse_http_reply(chunked).unwrap(),
            (200, b"abcde".to_vec())
        );
        assert!(super::parse_http_reply(b"garbage").is_err());
    }
}
