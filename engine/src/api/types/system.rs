use super::container::null_as_default;
use serde::{Deserialize, Serialize};

/// Body of `POST /auth` (and the decoded `X-Registry-Auth` header).
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct AuthConfig {
    // bollard sends unset fields as `null`; dockerd reads them as empty.
    #[serde(deserialize_with = "null_as_default")]
    pub username: String,
    #[serde(deserialize_with = "null_as_default")]
    pub password: String,
    #[serde(deserialize_with = "null_as_default")]
    pub auth: String,
    #[serde(rename = "serveraddress", deserialize_with = "null_as_default")]
    pub server_address: String,
    #[serde(rename = "identitytoken", deserialize_with = "null_as_default")]
    pub identity_token: String,
    #[serde(rename = "registrytoken", deserialize_with = "null_as_default")]
    pub registry_token: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auth_config_takes_null_fields() {
        let a: AuthConfig = serde_json::from_str(
            r#"{"username":"u","password":"p","auth":null,"serveraddress":null,"identitytoken":null}"#,
        )
        .unwrap();
        assert_eq!((a.username.as_str(), a.password.as_str()), ("u", "p"));
        assert_eq!(a.server_address, "");
    }
}
