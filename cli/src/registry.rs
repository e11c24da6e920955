//! Registry credentials shared with the docker CLI: `auths` in `$DOCKER_CONFIG/config.json`
//! (default `~/.docker/config.json`), so a `docker login` serves `berth push`. (`berth login`
//! is still to come: bollard has no call for the engine's `/auth` check.)

use std::path::PathBuf;

use base64::Engine as _;
use bollard::auth::DockerCredentials;
use serde_json::{json, Value as Json};

pub fn config_path() -> Option<PathBuf> {
    let dir = std::env::var_os("DOCKER_CONFIG")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".docker")))?;
    Some(dir.join("config.json"))
}

fn read_config() -> Json {
    config_path()
        .and_then(|p| std::fs::read(p).ok())
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_else(|| json!({}))
}

/// The registry host of a reference (`docker.io` for Docker Hub names).
pub fn registry_of(image: &str) -> String {
    let first = image.split('/').next().unwrap_or_default();
    if image.contains('/') && (first.contains('.') || first.contains(':') || first == "localhost") {
        first.to_string()
    } else {
        "https://index.docker.io/v1/".to_string()
    }
}

/// Stored credentials for `server`, if any.
pub fn credentials_for(server: &str) -> Option<DockerCredentials> {
    let config = read_config();
    let entry = &config["auths"][server];
    let auth = entry["auth"].as_str()?;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(auth)
        .ok()?;
    let decoded = String::from_utf8(decoded).ok()?;
    let (user, pass) = decoded.split_once(':')?;
    Some(DockerCredentials {
        username: Some(user.to_string()),
        password: Some(pass.to_string()),
        serveraddress: Some(server.to_string()),
        ..Default::default()
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn registries() {
        use super::registry_of as r;
        assert_eq!(r("127.0.0.1:5000/busybox"), "127.0.0.1:5000");
        assert_eq!(r("ghcr.io/a/b:1"), "ghcr.io");
        assert_eq!(r("library/busybox"), "https://index.docker.io/v1/");
        assert_eq!(r("busybox"), "https://index.docker.io/v1/");
    }
}
