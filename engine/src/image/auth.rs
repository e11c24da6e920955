//! Registry credentials: the `X-Registry-Auth` header the CLI sends with a pull, and `docker login`
//! (`POST /auth`), which checks credentials against the registry's `/v2/` endpoint like dockerd.

use base64::Engine as _;
use oci_client::secrets::RegistryAuth;

use super::ImageService;
use crate::api::types::AuthConfig;
use crate::error::{EngineError, Result};

/// Decodes `X-Registry-Auth` (base64url JSON, padded or not). An empty header is anonymous.
pub fn decode_header(value: Option<&str>) -> Result<AuthConfig> {
    let Some(v) = value.map(str::trim).filter(|v| !v.is_empty()) else {
        return Ok(AuthConfig::default());
    };
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(v.trim_end_matches('='))
        .or_else(|_| base64::engine::general_purpose::STANDARD.decode(v))
        .map_err(|_| EngineError::invalid("invalid X-Registry-Auth header: not base64"))?;
    // The CLI sends "{}" for anonymous pulls.
    serde_json::from_slice(&raw)
        .map_err(|e| EngineError::invalid(format!("invalid X-Registry-Auth header: {e}")))
}

/// Decodes `X-Registry-Config` (base64url JSON: registry → credentials), which the CLI sends
/// with `docker build` for every registry it has credentials for. Absent or empty: none.
pub fn decode_config_header(
    value: Option<&str>,
) -> Result<std::collections::HashMap<String, AuthConfig>> {
    let Some(v) = value.map(str::trim).filter(|v| !v.is_empty()) else {
        return Ok(Default::default());
    };
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(v.trim_end_matches('='))
        .or_else(|_| base64::engine::general_purpose::STANDARD.decode(v))
        .map_err(|_| EngineError::invalid("invalid X-Registry-Config header: not base64"))?;
    serde_json::from_slice::<Option<std::collections::HashMap<String, AuthConfig>>>(&raw)
        .map(Option::unwrap_or_default)
        .map_err(|e| EngineError::invalid(format!("invalid X-Registry-Config header: {e}")))
}

/// The credentials of `configs` for `registry` (as a reference names it: `docker.io` for Docker
/// Hub); keys may be URLs (`https://index.docker.io/v1/`) or hosts.
pub fn auth_for(
    configs: &std::collections::HashMap<String, AuthConfig>,
    registry: &str,
) -> RegistryAuth {
    let want = registry_host(registry);
    configs
        .iter()
        .find(|(k, _)| registry_host(k) == want)
        .map(|(_, c)| registry_auth(c))
        .unwrap_or(RegistryAuth::Anonymous)
}

pub fn registry_auth(cfg: &AuthConfig) -> RegistryAuth {
    if !cfg.registry_token.is_empty() {
        return RegistryAuth::Bearer(cfg.registry_token.clone());
    }
    let (user, pass) = if !cfg.username.is_empty() {
        (cfg.username.clone(), cfg.password.clone())
    } else if !cfg.auth.is_empty() {
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(&cfg.auth)
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .unwrap_or_default();
        match decoded.split_once(':') {
            Some((u, p)) => (u.to_string(), p.to_string()),
            None => return RegistryAuth::Anonymous,
        }
    } else {
        return RegistryAuth::Anonymous;
    };
    RegistryAuth::Basic(user, pass)
}

fn registry_host(server: &str) -> String {
    let s = server
        .trim_start_matches("https://")
        .trim_start_matches("http://");
    let host = s.split('/').next().unwrap_or(s);
    if host.is_empty() || host == "index.docker.io" || host == "docker.io" {
        "registry-1.docker.io".into()
    } else {
        host.to_string()
    }
}

fn challenge_param<'a>(header: &'a str, key: &str) -> Option<&'a str> {
    let i = header.find(&format!("{key}=\""))?;
    let rest = &header[i + key.len() + 2..];
    rest.split('"').next()
}

/// `docker login`: succeeds when the registry accepts the credentials (basic, or a bearer token
/// issued for them).
pub async fn login(images: &ImageService, cfg: &AuthConfig) -> Result<()> {
    let host = registry_host(&cfg.server_address);
    let endpoint = images.registries.endpoint(&host).await;
    let client = endpoint.http_client()?;
    let url = format!("{}://{host}/v2/", endpoint.scheme());
    let denied = || {
        EngineError::Unauthorized(format!(
            "Get \"{url}\": unauthorized: authentication required"
        ))
    };
    let first = client.get(&url).send().await.map_err(|e| {
        EngineError::internal(format!("Get \"{url}\": {}", crate::error::with_causes(&e)))
    })?;
    if first.status().is_success() {
        return Ok(());
    }
    let challenge = first
        .headers()
        .get(reqwest::header::WWW_AUTHENTICATE)
        .and_then(|h| h.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let (user, pass) = match registry_auth(cfg) {
        RegistryAuth::Basic(u, p) => (u, p),
        _ => return Err(denied()),
    };
    let ok = if challenge.to_ascii_lowercase().starts_with("bearer") {
        let realm = challenge_param(&challenge, "realm").ok_or_else(denied)?;
        let mut req = client
            .get(realm)
            .basic_auth(&user, Some(&pass))
            .query(&[("account", user.as_str())]);
        if let Some(service) = challenge_param(&challenge, "service") {
            req = req.query(&[("service", service)]);
        }
        // Some token servers hand anonymous tokens to anyone: only a token the registry accepts
        // proves the credentials, so it is tried on /v2/ as dockerd does.
        let token = match req.send().await {
            Ok(r) if r.status().is_success() => {
                r.json::<serde_json::Value>().await.ok().and_then(|v| {
                    v.get("token")
                        .or_else(|| v.get("access_token"))
                        .and_then(|t| t.as_str().map(str::to_string))
                })
            }
            _ => None,
        };
        match token {
            Some(t) => client
                .get(&url)
                .bearer_auth(t)
                .send()
                .await
                .map(|r| r.status().is_success())
                .unwrap_or(false),
            None => false,
        }
    } else {
        client
            .get(&url)
            .basic_auth(&user, Some(&pass))
            .send()
            .await
            .map(|r| r.status().is_success())
            .unwrap_or(false)
    };
    if ok {
        Ok(())
    } else {
        Err(denied())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_round_trip() {
        let json = r#"{"username":"u","password":"p","serveraddress":"127.0.0.1:5000"}"#;
        let enc = base64::engine::general_purpose::URL_SAFE.encode(json);
        let cfg = decode_header(Some(&enc)).unwrap();
        assert!(matches!(registry_auth(&cfg), RegistryAuth::Basic(u, p) if u == "u" && p == "p"));
        assert!(matches!(
            registry_auth(&decode_header(None).unwrap()),
            RegistryAuth::Anonymous
        ));
        assert!(decode_header(Some("!!!")).is_err());
    }
}
