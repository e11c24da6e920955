//! What is stored for networks (`networks/<id>.json`) and for a running container's network
//! sandbox (inside its `state.json`).

use std::collections::{BTreeMap, HashMap};
use std::net::Ipv4Addr;
use std::path::PathBuf;

use ipnet::Ipv4Net;
use serde::{Deserialize, Serialize};

use super::ports::PortMapping;

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct NetworkRecord {
    pub id: String,
    pub name: String,
    /// `bridge`, `host` or `null`, as dockerd names its drivers.
    pub driver: String,
    pub created: String,
    #[serde(default)]
    pub internal: bool,
    #[serde(default)]
    pub attachable: bool,
    #[serde(default)]
    pub labels: HashMap<String, String>,
    #[serde(default)]
    pub options: HashMap<String, String>,
    #[serde(default)]
    pub ipam_options: HashMap<String, String>,
    #[serde(default)]
    pub subnet: Option<Ipv4Net>,
    #[serde(default)]
    pub gateway: Option<Ipv4Addr>,
    /// The Linux bridge of a bridge network.
    #[serde(default)]
    pub bridge: String,
    /// The subnet was chosen by the user (`--subnet`), so `--ip` may be used on it.
    #[serde(default)]
    pub user_subnet: bool,
}

impl NetworkRecord {
    pub fn is_bridge(&self) -> bool {
        self.driver == "bridge"
    }

    /// `bridge`, `host` and `none` come with the engine and cannot be removed.
    pub fn predefined(&self) -> bool {
        matches!(self.name.as_str(), "bridge" | "host" | "none")
    }
}

/// One endpoint of a running container: its interface on one network.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct EndpointState {
    pub network_id: String,
    pub endpoint_id: String,
    pub ip: Ipv4Addr,
    pub prefix: u8,
    pub gateway: Ipv4Addr,
    pub mac: String,
    /// Host end of the veth pair.
    pub veth: String,
    /// Name inside the container (`eth0`, `eth1`, …).
    pub ifname: String,
    #[serde(default)]
    pub aliases: Vec<String>,
    /// Links on a user network (`NAME:ALIAS`): names only this container resolves.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub links: Vec<String>,
}

/// A running container's network namespace and what was set up in it.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct SandboxState {
    pub netns: PathBuf,
    /// By network name.
    pub endpoints: BTreeMap<String, EndpointState>,
    #[serde(default)]
    pub ports: Vec<PortMapping>,
}
