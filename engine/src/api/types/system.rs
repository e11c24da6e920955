use serde::{Deserialize, Serialize};

/// Body of `POST /auth` (and the decoded `X-Registry-Auth` header).
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct AuthConfig {
    pub username: String,
    pub password: String,
    pub auth: String,
    #[serde(rename = "serveraddress")]
    pub server_address: String,
    #[serde(rename = "identitytoken")]
    pub identity_token: String,
    #[serde(rename = "registrytoken")]
    pub registry_token: String,
}
