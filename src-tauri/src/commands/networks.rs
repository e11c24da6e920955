//! Networks: list, create, remove, prune, inspect.

use std::collections::HashMap;
use std::net::Ipv4Addr;

use bollard::models::{ContainerSummary, Ipam, IpamConfig, Network, NetworkCreateRequest};
use bollard::query_parameters::{InspectNetworkOptions, ListNetworksOptions, PruneNetworksOptions};
use serde::{Deserialize, Serialize};
use tauri::State;
use ts_rs::TS;

use crate::backend::{limits, timed, Backend};
use crate::commands::containers::valid_object_name;
use crate::commands::volumes::DeletedCount;
use crate::error::{CommandError, CommandResult, ErrorKind};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct NetworkItem {
    pub id: String,
    pub name: String,
    pub driver: String,
    pub subnet: Option<String>,
    pub gateway: Option<String>,
    pub internal: bool,
    /// Running containers attached (as `docker network inspect` lists them).
    pub containers: u32,
}

pub fn network_item(n: &Network, attached: &HashMap<String, u32>) -> NetworkItem {
    let first = n
        .ipam
        .as_ref()
        .and_then(|i| i.config.as_ref())
        .and_then(|c| c.first());
    let name = n.name.clone().unwrap_or_default();
    NetworkItem {
        id: n.id.clone().unwrap_or_default(),
        containers: attached.get(&name).copied().unwrap_or(0),
        name,
        driver: n.driver.clone().unwrap_or_default(),
        subnet: first
            .and_then(|c| c.subnet.clone())
            .filter(|s| !s.is_empty()),
        gateway: first
            .and_then(|c| c.gateway.clone())
            .filter(|s| !s.is_empty()),
        internal: n.internal.unwrap_or(false),
    }
}

/// Network name → running containers on it.
pub fn attached_counts(containers: &[ContainerSummary]) -> HashMap<String, u32> {
    let mut counts = HashMap::new();
    for c in containers
        .iter()
        .filter(|c| c.state.as_ref().map(|s| s.as_ref()) == Some("running"))
    {
        for net in c
            .network_settings
            .iter()
            .flat_map(|s| s.networks.iter().flatten())
            .map(|(name, _)| name)
        {
            *counts.entry(net.clone()).or_insert(0) += 1;
        }
    }
    counts
}

/// `a.b.c.d/len` with an IPv4 address and 0 ≤ len ≤ 32.
pub fn check_subnet(subnet: &str) -> CommandResult<String> {
    let bad = || {
        CommandError::invalid(
            "subnet",
            format!("{subnet:?} is not an IPv4 subnet like 172.30.0.0/16"),
        )
    };
    let (addr, len) = subnet.trim().split_once('/').ok_or_else(bad)?;
    addr.parse::<Ipv4Addr>().map_err(|_| bad())?;
    let len: u8 = len.parse().map_err(|_| bad())?;
    if len > 32 {
        return Err(bad());
    }
    Ok(subnet.trim().to_string())
}

impl Backend {
    async fn attached(&self) -> CommandResult<HashMap<String, u32>> {
        Ok(attached_counts(&self.all_containers().await?))
    }

    pub async fn list_networks(&self) -> CommandResult<Vec<NetworkItem>> {
        let docker = self.docker().await?;
        let list = timed(
            "the network list",
            limits::QUICK,
            docker.list_networks(None::<ListNetworksOptions>),
        )
        .await?;
        let attached = self.attached().await?;
        let mut items: Vec<NetworkItem> = list.iter().map(|n| network_item(n, &attached)).collect();
        items.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(items)
    }

    pub async fn create_network(
        &self,
        name: &str,
        subnet: Option<&str>,
        internal: bool,
    ) -> CommandResult<NetworkItem> {
        let name = name.trim();
        if !valid_object_name(name) {
            return Err(CommandError::invalid(
                "name",
                format!(
                    "Invalid network name ({name}): use at least 2 of a-z, A-Z, 0-9, _ . - starting with a letter or digit"
                ),
            ));
        }
        let subnet = subnet
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(check_subnet)
            .transpose()?;
        let docker = self.docker().await?;
        let created = timed(
            "create network",
            limits::QUICK,
            docker.create_network(NetworkCreateRequest {
                name: name.to_string(),
                driver: Some("bridge".into()),
                internal: Some(internal),
                ipam: subnet.map(|s| Ipam {
                    config: Some(vec![IpamConfig {
                        subnet: Some(s),
                        ..Default::default()
                    }]),
                    ..Default::default()
                }),
                ..Default::default()
            }),
        )
        .await
        .map_err(|e| match e.kind {
            ErrorKind::Conflict => e.with_field("name"),
            // Overlapping or unusable subnets: dockerd answers 403/400.
            ErrorKind::Invalid | ErrorKind::Engine
                if e.message.contains("ubnet") || e.message.contains("overlap") =>
            {
                e.with_field("subnet")
            }
            _ => e,
        })?;
        let n = timed(
            "inspect network",
            limits::QUICK,
            docker.inspect_network(&created.id, None::<InspectNetworkOptions>),
        )
        .await?;
        // Inspect and list share the fields the item needs.
        let as_list: Network = serde_json::from_value(
            serde_json::to_value(&n).map_err(|e| CommandError::engine(e.to_string()))?,
        )
        .map_err(|e| CommandError::engine(e.to_string()))?;
        Ok(network_item(&as_list, &HashMap::new()))
    }

    pub async fn remove_network(&self, id: &str) -> CommandResult<()> {
        let docker = self.docker().await?;
        timed("remove network", limits::QUICK, docker.remove_network(id)).await
    }

    pub async fn prune_networks(&self) -> CommandResult<DeletedCount> {
        let docker = self.docker().await?;
        let r = timed(
            "prune networks",
            limits::STOP,
            docker.prune_networks(None::<PruneNetworksOptions>),
        )
        .await?;
        Ok(DeletedCount {
            deleted: r.networks_deleted.unwrap_or_default().len() as u64,
        })
    }

    pub async fn inspect_network(&self, id: &str) -> CommandResult<serde_json::Value> {
        let docker = self.docker().await?;
        let n = timed(
            "inspect network",
            limits::QUICK,
            docker.inspect_network(id, None::<InspectNetworkOptions>),
        )
        .await?;
        serde_json::to_value(n).map_err(|e| CommandError::engine(e.to_string()))
    }
}

#[tauri::command]
pub async fn list_networks(
    backend: State<'_, std::sync::Arc<Backend>>,
) -> CommandResult<Vec<NetworkItem>> {
    backend.list_networks().await
}

#[tauri::command]
pub async fn create_network(
    backend: State<'_, std::sync::Arc<Backend>>,
    name: String,
    subnet: Option<String>,
    internal: bool,
) -> CommandResult<NetworkItem> {
    backend
        .create_network(&name, subnet.as_deref(), internal)
        .await
}

#[tauri::command]
pub async fn remove_network(
    backend: State<'_, std::sync::Arc<Backend>>,
    id: String,
) -> CommandResult<()> {
    backend.remove_network(&id).await
}

#[tauri::command]
pub async fn prune_networks(
    backend: State<'_, std::sync::Arc<Backend>>,
) -> CommandResult<DeletedCount> {
    backend.prune_networks().await
}

#[tauri::command]
pub async fn inspect_network(
    backend: State<'_, std::sync::Arc<Backend>>,
    id: String,
) -> CommandResult<serde_json::Value> {
    backend.inspect_network(&id).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use bollard::models::{
        ContainerSummaryNetworkSettings, ContainerSummaryStateEnum, EndpointSettings,
    };

    #[test]
    fn maps_a_network() {
        let n: Network = serde_json::from_value(serde_json::json!({
            "Name": "shop", "Id": "n1", "Driver": "bridge", "Internal": true,
            "IPAM": {"Config": [{"Subnet": "172.30.0.0/16", "Gateway": "172.30.0.1"}]}
        }))
        .expect("network");
        let item = network_item(&n, &HashMap::from([("shop".to_string(), 2)]));
        assert_eq!(
            item,
            NetworkItem {
                id: "n1".into(),
                name: "shop".into(),
                driver: "bridge".into(),
                subnet: Some("172.30.0.0/16".into()),
                gateway: Some("172.30.0.1".into()),
                internal: true,
                containers: 2
            }
        );
        let item = network_item(&Network::default(), &HashMap::new());
        assert_eq!((item.subnet, item.containers), (None, 0));
    }

    #[test]
    fn counts_running_containers_per_network() {
        let on = |state, nets: &[&str]| ContainerSummary {
            state: Some(state),
            network_settings: Some(ContainerSummaryNetworkSettings {
                networks: Some(
                    nets.iter()
                        .map(|n| (n.to_string(), EndpointSettings::default()))
                        .collect(),
                ),
            }),
            ..Default::default()
        };
        let counts = attached_counts(&[
            on(ContainerSummaryStateEnum::RUNNING, &["bridge", "shop"]),
            on(ContainerSummaryStateEnum::RUNNING, &["shop"]),
            on(ContainerSummaryStateEnum::EXITED, &["shop"]),
        ]);
        assert_eq!(counts.get("shop"), Some(&2));
        assert_eq!(counts.get("bridge"), Some(&1));
    }

    #[test]
    fn subnets() {
        assert_eq!(check_subnet("10.9.0.0/24").as_deref(), Ok("10.9.0.0/24"));
        for bad in ["10.9.0.0", "10.9.0.0/33", "fd00::/64", "x/8", "10.0.0.0/-1"] {
            let e = check_subnet(bad).expect_err(bad);
            assert_eq!(e.field.as_deref(), Some("subnet"));
        }
    }
}
