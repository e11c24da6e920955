//! Network objects as moby's api/swagger.yaml names them.

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::container::null_as_default;

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct IpamConfig {
    // docker-py sends every field, unset ones as `null`.
    #[serde(
        skip_serializing_if = "String::is_empty",
        deserialize_with = "null_as_default"
    )]
    pub subnet: String,
    #[serde(
        rename = "IPRange",
        skip_serializing_if = "String::is_empty",
        deserialize_with = "null_as_default"
    )]
    pub ip_range: String,
    #[serde(
        skip_serializing_if = "String::is_empty",
        deserialize_with = "null_as_default"
    )]
    pub gateway: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auxiliary_addresses: Option<HashMap<String, String>>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Ipam {
    #[serde(deserialize_with = "null_as_default")]
    pub driver: String,
    #[serde(deserialize_with = "null_as_default")]
    pub config: Vec<IpamConfig>,
    #[serde(deserialize_with = "null_as_default")]
    pub options: HashMap<String, String>,
}

/// Body of `POST /networks/create`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct NetworkCreateRequest {
    pub name: String,
    pub driver: String,
    pub internal: bool,
    pub attachable: bool,
    pub ingress: bool,
    #[serde(rename = "EnableIPv6")]
    pub enable_ipv6: Option<bool>,
    #[serde(rename = "IPAM")]
    pub ipam: Option<Ipam>,
    #[serde(deserialize_with = "null_as_default")]
    pub options: HashMap<String, String>,
    #[serde(deserialize_with = "null_as_default")]
    pub labels: HashMap<String, String>,
    pub check_duplicate: Option<bool>,
    #[serde(flatten)]
    pub extra: serde_json::Map<String, Value>,
}

#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct NetworkCreateResponse {
    pub id: String,
    pub warning: String,
}

#[derive(Clone, Debug, Default, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct NetworkContainer {
    pub name: String,
    #[serde(rename = "EndpointID")]
    pub endpoint_id: String,
    pub mac_address: String,
    #[serde(rename = "IPv4Address")]
    pub ipv4_address: String,
    #[serde(rename = "IPv6Address")]
    pub ipv6_address: String,
}

/// `GET /networks/{id}` and each item of `GET /networks`.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct NetworkResource {
    pub name: String,
    pub id: String,
    pub created: String,
    pub scope: String,
    pub driver: String,
    #[serde(rename = "EnableIPv4")]
    pub enable_ipv4: bool,
    #[serde(rename = "EnableIPv6")]
    pub enable_ipv6: bool,
    #[serde(rename = "IPAM")]
    pub ipam: Ipam,
    pub internal: bool,
    pub attachable: bool,
    pub ingress: bool,
    pub config_from: Value,
    pub config_only: bool,
    pub containers: BTreeMap<String, NetworkContainer>,
    pub options: HashMap<String, String>,
    pub labels: HashMap<String, String>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase", default)]
pub struct EndpointIpamConfig {
    #[serde(
        rename = "IPv4Address",
        skip_serializing_if = "String::is_empty",
        deserialize_with = "null_as_default"
    )]
    pub ipv4_address: String,
    #[serde(
        rename = "IPv6Address",
        skip_serializing_if = "String::is_empty",
        deserialize_with = "null_as_default"
    )]
    pub ipv6_address: String,
    /// `--link-local-ip`: extra addresses of the container's interface on this network.
    #[serde(
        rename = "LinkLocalIPs",
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "null_as_default"
    )]
    pub link_local_ips: Vec<String>,
}

impl EndpointIpamConfig {
    /// Whether nothing was asked (inspect shows `null` then, as dockerd).
    pub fn is_empty(&self) -> bool {
        self.ipv4_address.is_empty()
            && self.ipv6_address.is_empty()
            && self.link_local_ips.is_empty()
    }

    /// `--link-local-ip` addresses: IPv4 ones are added to the interface (as /32, as
    /// libnetwork); IPv6 ones wait for IPv6 support and are refused rather than dropped.
    pub fn link_local_v4(&self) -> Result<Vec<std::net::Ipv4Addr>, String> {
        let mut out = Vec::new();
        for s in &self.link_local_ips {
            match s.parse::<std::net::IpAddr>() {
                Ok(std::net::IpAddr::V4(ip)) => out.push(ip),
                Ok(std::net::IpAddr::V6(_)) => {
                    return Err(format!(
                        "berthd does not support IPv6 yet (--link-local-ip {s}); remove it to run the container"
                    ))
                }
                Err(_) => return Err(format!("invalid link-local IP address: {s}")),
            }
        }
        Ok(out)
    }
}

/// What a client asks of an endpoint (`NetworkingConfig.EndpointsConfig`, network connect).
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase", default)]
pub struct EndpointRequest {
    #[serde(rename = "IPAMConfig", deserialize_with = "null_as_default")]
    pub ipam_config: EndpointIpamConfig,
    #[serde(deserialize_with = "null_as_default")]
    pub aliases: Vec<String>,
    #[serde(deserialize_with = "null_as_default")]
    pub links: Vec<String>,
    #[serde(rename = "NetworkID")]
    pub network_id: String,
    #[serde(deserialize_with = "null_as_default")]
    pub driver_opts: HashMap<String, String>,
    pub mac_address: String,
}

/// `NetworkingConfig` of a create request.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct NetworkingConfig {
    #[serde(deserialize_with = "null_as_default")]
    pub endpoints_config: BTreeMap<String, Option<EndpointRequest>>,
}

/// Body of `POST /networks/{id}/connect`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct NetworkConnectRequest {
    pub container: String,
    pub endpoint_config: Option<EndpointRequest>,
}

/// Body of `POST /networks/{id}/disconnect`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct NetworkDisconnectRequest {
    pub container: String,
    pub force: bool,
}
