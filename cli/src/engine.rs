//! Which engine to talk to, and the connection to it.
//!
//! Precedence as docker's, with Berth's own variable first: `-H`, then `BERTH_HOST`, then
//! `DOCKER_HOST`, then the context (`--context`, `BERTH_CONTEXT`, `berth context use`), then
//! `unix:///run/berth.sock`. (`--context` given explicitly wins over DOCKER_HOST: main
//! resolves it before calling here.)

use anyhow::{bail, Result};
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
