//! A container's network sandbox: its namespace, one veth endpoint per network, its published
//! ports and its DNS server. Set up before the runtime starts the container, torn down when it
//! exits. Names are derived from the container and network IDs, so cleanup after a crash can
//! always find what a half-finished setup left.

use std::collections::{BTreeMap, HashSet};
use std::net::Ipv4Addr;
use std::sync::Arc;

use anyhow::anyhow;

use super::link::Netlink;
use super::model::{EndpointState, NetworkRecord, SandboxState};
use super::{ipam, netns, ports, Active, DnsView, NetworkService, Shared};
use crate::api::types::network::EndpointRequest;
use crate::error::{EngineError, Result};

/// Host ends of container veths start with this; the startup sweep relies on it.
pub const VETH_PREFIX: &str = "vb";

pub fn veth_name(container_id: &str, network_id: &str) -> String {
    let c = &container_id[..container_id.len().min(8)];
    let n = &network_id[..network_id.len().min(4)];
    format!("{VETH_PREFIX}{c}{n}")
}

/// One network an endpoint joins.
struct Join<'a> {
    name: &'a str,
    net: &'a NetworkRecord,
    req: &'a EndpointRequest,
    /// The container's default route goes through this network.
    default_route: bool,
}

/// What a start asks for.
pub struct SandboxRequest<'a> {
    pub container_id: &'a str,
    /// Without the leading slash.
    pub name: &'a str,
    /// The network of the container's network mode; it gets the default route and the ports.
    pub primary: &'a str,
    /// By network name or ID, as the client gave them.
    pub endpoints: &'a BTreeMap<String, EndpointRequest>,
    pub ports: Vec<ports::Wanted>,
}

/// The address published ports lead to: the first non-internal endpoint, primary first.
pub(crate) fn port_target(s: &Shared, state: &SandboxState, primary: &str) -> Option<Ipv4Addr> {
    let internal = |ep: &EndpointState| {
        s.nets
            .get(&ep.network_id)
            .map(|n| n.internal)
            .unwrap_or(true)
    };
    state
        .endpoints
        .get(primary)
        .filter(|ep| !internal(ep))
        .or_else(|| state.endpoints.values().find(|ep| !internal(ep)))
        .map(|ep| ep.ip)
}

/// Deletes the host ends of a sandbox's veths (their peers go with them).
async fn remove_links(netlink: &Netlink, state: &SandboxState) {
    for ep in state.endpoints.values() {
        if let Err(e) = netlink.delete(&ep.veth).await {
            tracing::warn!(link = %ep.veth, error = %e, "removing veth");
        }
    }
}

impl NetworkService {
    fn allocate(&self, net: &NetworkRecord, requested: Option<Ipv4Addr>) -> Result<Ipv4Addr> {
        let (Some(subnet), Some(gw)) = (net.subnet, net.gateway) else {
            return Err(EngineError::invalid(format!(
                "network {} has no IPv4 subnet",
                net.name
            )));
        };
        let mut s = self.lock();
        let mut used: HashSet<Ipv4Addr> = s.pending.clone();
        let states = s
            .active
            .values()
            .map(|a| &a.state)
            .chain(s.draining.values());
        for state in states {
            for ep in state.endpoints.values() {
                if ep.network_id == net.id {
                    used.insert(ep.ip);
                }
            }
        }
        let ip = match requested {
            Some(ip) => {
                if !net.user_subnet {
                    return Err(EngineError::invalid(
                        "user specified IP address is supported only when connecting to networks with user configured subnets",
                    ));
                }
                if !subnet.contains(&ip) || ip == subnet.network() || ip == subnet.broadcast() {
                    return Err(EngineError::invalid(format!(
                        "no configured subnet or ip-range contain the IP address {ip}"
                    )));
                }
                if ip == gw || used.contains(&ip) {
                    return Err(EngineError::invalid(format!(
                        "Address already in use: {ip}"
                    )));
                }
                ip
            }
            None => ipam::allocate(&subnet, gw, &used).ok_or_else(|| {
                EngineError::invalid(format!(
                    "no available IPv4 addresses on this network's address pools: {} ({})",
                    net.name, net.id
                ))
            })?,
        };
        s.pending.insert(ip);
        Ok(ip)
    }

    fn release_pending(&self, ips: &[Ipv4Addr]) {
        let mut s = self.lock();
        for ip in ips {
            s.pending.remove(ip);
        }
    }

    /// Creates one endpoint in the namespace of `state`. The caller owns the address in
    /// `pending` until it records the endpoint.
    async fn add_endpoint(
        &self,
        container_id: &str,
        state: &mut SandboxState,
        join: Join<'_>,
        allocated: &mut Vec<Ipv4Addr>,
    ) -> Result<()> {
        let Join {
            name: net_name,
            net,
            req,
            default_route,
        } = join;
        let requested = match req.ipam_config.ipv4_address.as_str() {
            "" => None,
            s => Some(
                s.parse::<Ipv4Addr>()
                    .map_err(|_| EngineError::invalid(format!("invalid IPv4 address: {s}")))?,
            ),
        };
        let ip = self.allocate(net, requested)?;
        allocated.push(ip);
        let (Some(subnet), Some(gw)) = (net.subnet, net.gateway) else {
            return Err(EngineError::internal("network without subnet"));
        };
        let bridge = match self.netlink.index_of(&net.bridge).await? {
            Some(i) => i,
            None => {
                // Someone deleted the bridge under us: make it again.
                self.ensure_bridge(net).await?;
                self.netlink.index_of(&net.bridge).await?.ok_or_else(|| {
                    EngineError::internal(format!("bridge {} missing", net.bridge))
                })?
            }
        };
        let used_names: HashSet<&str> = state
            .endpoints
            .values()
            .map(|e| e.ifname.as_str())
            .collect();
        let ifname = (0..)
            .map(|i| format!("eth{i}"))
            .find(|n| !used_names.contains(n.as_str()))
            .unwrap_or_else(|| "eth0".into());
        let veth = veth_name(container_id, &net.id);
        // A MAC the user asked for was checked at create; one derived from the IP otherwise.
        let mac = ipam::parse_mac(&req.mac_address).unwrap_or_else(|| ipam::mac_for(ip));
        // A leftover from an interrupted start would make the creation fail.
        self.netlink.delete(&veth).await?;
        let ns = netns::open(&state.netns)?;
        self.netlink
            .add_veth(&veth, bridge, &ifname, mac, netns::raw(&ns))
            .await?;
        let _ = std::fs::write(format!("/sys/class/net/{veth}/brport/hairpin_mode"), "1");
        let inner = Netlink::in_netns(&state.netns)?;
        inner
            .configure_endpoint(
                &ifname,
                ip,
                subnet.prefix_len(),
                &req.ipam_config
                    .link_local_v4()
                    .map_err(EngineError::invalid)?,
                (default_route && !net.internal).then_some(gw),
            )
            .await?;
        state.endpoints.insert(
            net_name.to_string(),
            EndpointState {
                network_id: net.id.clone(),
                endpoint_id: hex::encode(rand::random::<[u8; 32]>()),
                ip,
                prefix: subnet.prefix_len(),
                gateway: gw,
                mac: ipam::mac_string(mac),
                veth,
                ifname,
                aliases: req.aliases.clone(),
                links: req.links.clone(),
            },
        );
        Ok(())
    }

    fn wants_dns(&self, state: &SandboxState) -> bool {
        let s = self.lock();
        state.endpoints.values().any(|ep| {
            s.nets
                .get(&ep.network_id)
                .is_some_and(|n| n.name != "bridge")
        })
    }

    fn spawn_dns(
        &self,
        container_id: &str,
        state: &SandboxState,
    ) -> Option<tokio::task::JoinHandle<()>> {
        if !self.wants_dns(state) {
            return None;
        }
        match super::dns::spawn(
            &state.netns,
            container_id.to_string(),
            Arc::new(DnsView(Arc::clone(&self.shared))),
            self.upstreams.clone(),
        ) {
            Ok(t) => Some(t),
            Err(e) => {
                tracing::warn!(id = %container_id, error = %e, "embedded DNS server not started");
                None
            }
        }
    }

    /// Resolves the requested networks, primary first.
    fn resolve_endpoints(
        &self,
        primary: &str,
        endpoints: &BTreeMap<String, EndpointRequest>,
    ) -> Result<Vec<(String, NetworkRecord, EndpointRequest)>> {
        let mut out: Vec<(String, NetworkRecord, EndpointRequest)> = Vec::new();
        for (key, req) in endpoints {
            let net = self.resolve(key)?;
            if !net.is_bridge() {
                return Err(EngineError::invalid(format!(
                    "container cannot be connected to network {} with other networks",
                    net.name
                )));
            }
            if out.iter().any(|(_, n, _)| n.id == net.id) {
                continue;
            }
            let entry = (net.name.clone(), net, req.clone());
            if key == primary || entry.0 == primary {
                out.insert(0, entry);
            } else {
                out.push(entry);
            }
        }
        Ok(out)
    }

    /// Builds the sandbox of a starting container. On error nothing is left behind.
    pub async fn setup(&self, req: SandboxRequest<'_>) -> Result<SandboxState> {
        let nets = self.resolve_endpoints(req.primary, req.endpoints)?;
        // The veth and namespace names are the container's: a restart waits for the last run's.
        self.wait_drained(req.container_id).await;
        let _building = self.building.read().await;
        let path = self.netns_path(req.container_id);
        let _ = netns::remove(&path);
        netns::create(&path)?;
        let mut state = SandboxState {
            netns: path,
            ..Default::default()
        };
        let mut allocated = Vec::new();
        let made: Result<Option<ports::Reservation>> = async {
            for (i, (name, net, ep)) in nets.iter().enumerate() {
                let join = Join {
                    name,
                    net,
                    req: ep,
                    default_route: i == 0,
                };
                self.add_endpoint(req.container_id, &mut state, join, &mut allocated)
                    .await?;
            }
            if req.ports.is_empty() {
                return Ok(None);
            }
            let (maps, held) = ports::reserve(&req.ports).map_err(|m| {
                EngineError::Internal(anyhow!(
                    "driver failed programming external connectivity on endpoint {} ({}): {m}",
                    req.name,
                    req.container_id
                ))
            })?;
            state.ports = maps;
            Ok(Some(held))
        }
        .await;
        let reservation = match made {
            Ok(r) => r,
            Err(e) => {
                self.release_pending(&allocated);
                self.remove_links(&state).await;
                let _ = netns::remove(&state.netns);
                return Err(e);
            }
        };
        let dns = self.spawn_dns(req.container_id, &state);
        {
            let mut s = self.lock();
            s.active.insert(
                req.container_id.to_string(),
                Active {
                    name: req.name.to_string(),
                    state: state.clone(),
                    primary: nets.first().map(|n| n.0.clone()).unwrap_or_default(),
                    _reservation: reservation,
                    dns,
                },
            );
            for ip in &allocated {
                s.pending.remove(ip);
            }
        }
        if !state.ports.is_empty() {
            if let Err(e) = self.refresh_firewall().await {
                self.teardown(req.container_id, Some(&state)).await;
                return Err(e);
            }
        }
        for (name, ep) in &state.endpoints {
            if let Ok(n) = self.resolve(&ep.network_id) {
                self.emit(
                    &n,
                    "connect",
                    &[("container", req.container_id.to_string())],
                );
            }
            tracing::debug!(id = %req.container_id, network = %name, ip = %ep.ip, "endpoint up");
        }
        Ok(state)
    }

    async fn remove_links(&self, state: &SandboxState) {
        remove_links(&self.netlink, state).await;
    }

    /// Undoes [`setup`]: veths, namespace, port reservations, DNS, rules. Idempotent; `state` is
    /// what was persisted when the engine has no live record (e.g. after a restart).
    ///
    /// Ports, DNS and firewall rules go before this returns. The veths and the namespace go in
    /// the background: deleting a veth waits for an RCU grace period (20-30 ms measured here),
    /// which would otherwise sit between every container's exit and whoever waits on it (`docker
    /// run --rm`, `docker stop`), while the monitor's own cleanup runs at the same time anyway.
    /// Until they are gone their addresses stay taken (`draining`); a new start of the container
    /// waits for them ([`NetworkService::wait_drained`]), and so does berthd's shutdown.
    pub async fn teardown(&self, container_id: &str, state: Option<&SandboxState>) {
        self.wait_drained(container_id).await;
        let state = {
            let mut s = self.lock();
            let active = s.active.remove(container_id);
            let state = match (&active, state) {
                (Some(a), _) => a.state.clone(),
                (None, Some(st)) => st.clone(),
                (None, None) => SandboxState {
                    netns: self.netns_path(container_id),
                    ..Default::default()
                },
            };
            s.draining.insert(container_id.to_string(), state.clone());
            state
            // `active` drops here: the port reservation is released and the DNS server stops.
        };
        if !state.ports.is_empty() {
            if let Err(e) = self.refresh_firewall().await {
                tracing::warn!(error = %e, "refreshing firewall rules");
            }
        }
        for ep in state.endpoints.values() {
            if let Ok(n) = self.resolve(&ep.network_id) {
                self.emit(&n, "disconnect", &[("container", container_id.to_string())]);
            }
        }
        let netlink = self.netlink.clone();
        let shared = Arc::clone(&self.shared);
        let drained = self.drained.clone();
        let id = container_id.to_string();
        tokio::spawn(async move {
            remove_links(&netlink, &state).await;
            if let Err(e) = netns::remove(&state.netns) {
                tracing::warn!(id = %id, error = %e, "removing network namespace");
            }
            shared
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .draining
                .remove(&id);
            drained.send_modify(|n| *n += 1);
        });
    }

    /// Returns once no background teardown of `container_id`'s sandbox is in progress.
    pub async fn wait_drained(&self, container_id: &str) {
        let mut rx = self.drained.subscribe();
        while self.lock().draining.contains_key(container_id) {
            if rx.changed().await.is_err() {
                return;
            }
        }
    }

    /// Returns once every background teardown has finished; at shutdown.
    pub async fn wait_all_drained(&self) {
        let mut rx = self.drained.subscribe();
        while !self.lock().draining.is_empty() {
            if rx.changed().await.is_err() {
                return;
            }
        }
    }

    /// Takes a running container back after a berthd restart: its ports are held again and its
    /// DNS server restarted. The firewall is refreshed by the sweep that follows.
    pub fn readopt(&self, container_id: &str, name: &str, primary: &str, state: &SandboxState) {
        let wanted: Vec<ports::Wanted> = state
            .ports
            .iter()
            .map(|p| ports::Wanted {
                proto: p.proto.clone(),
                port: p.port,
                host_ip: p.host_ip,
                host_port: p.host_port,
            })
            .collect();
        let reservation = match ports::reserve(&wanted) {
            Ok((_, r)) => Some(r),
            Err(e) => {
                tracing::warn!(id = %container_id, error = %e, "could not hold published ports again");
                None
            }
        };
        let dns = self.spawn_dns(container_id, state);
        self.lock().active.insert(
            container_id.to_string(),
            Active {
                name: name.to_string(),
                state: state.clone(),
                primary: primary.to_string(),
                _reservation: reservation,
                dns,
            },
        );
    }

    /// `docker network connect` of a running container. Returns the new sandbox state.
    pub async fn connect_running(
        &self,
        container_id: &str,
        net: &NetworkRecord,
        req: &EndpointRequest,
    ) -> Result<SandboxState> {
        let mut state = self
            .lock()
            .active
            .get(container_id)
            .map(|a| a.state.clone())
            .ok_or_else(|| EngineError::Conflict("container has no network sandbox".into()))?;
        if state.endpoints.values().any(|e| e.network_id == net.id) {
            return Err(EngineError::Forbidden(format!(
                "endpoint with name {} already exists in network {}",
                self.lock()
                    .active
                    .get(container_id)
                    .map(|a| a.name.clone())
                    .unwrap_or_default(),
                net.name
            )));
        }
        let mut allocated = Vec::new();
        let default_route = state.endpoints.is_empty();
        let r = self
            .add_endpoint(
                container_id,
                &mut state,
                Join {
                    name: &net.name,
                    net,
                    req,
                    default_route,
                },
                &mut allocated,
            )
            .await;
        if let Err(e) = r {
            self.release_pending(&allocated);
            let _ = self.netlink.delete(&veth_name(container_id, &net.id)).await;
            return Err(e);
        }
        let needs_dns = {
            let mut s = self.lock();
            for ip in &allocated {
                s.pending.remove(ip);
            }
            match s.active.get_mut(container_id) {
                Some(a) => {
                    a.state = state.clone();
                    a.dns.is_none()
                }
                None => false,
            }
        };
        if needs_dns {
            let t = self.spawn_dns(container_id, &state);
            if let Some(a) = self.lock().active.get_mut(container_id) {
                a.dns = t;
            }
        }
        self.emit(net, "connect", &[("container", container_id.to_string())]);
        Ok(state)
    }

    /// `docker network disconnect` of a running container. Returns the new sandbox state.
    pub async fn disconnect_running(
        &self,
        container_id: &str,
        net: &NetworkRecord,
    ) -> Result<SandboxState> {
        let (mut state, name) = {
            let s = self.lock();
            let a = s
                .active
                .get(container_id)
                .ok_or_else(|| EngineError::Conflict("container has no network sandbox".into()))?;
            (a.state.clone(), a.name.clone())
        };
        let key = state
            .endpoints
            .iter()
            .find(|(_, e)| e.network_id == net.id)
            .map(|(k, _)| k.clone())
            .ok_or_else(|| {
                EngineError::Forbidden(format!(
                    "container {name} is not connected to network {}",
                    net.name
                ))
            })?;
        if let Some(ep) = state.endpoints.remove(&key) {
            self.netlink.delete(&ep.veth).await?;
        }
        let had_ports = {
            let mut s = self.lock();
            match s.active.get_mut(container_id) {
                Some(a) => {
                    a.state = state.clone();
                    !a.state.ports.is_empty()
                }
                None => false,
            }
        };
        if had_ports {
            self.refresh_firewall().await?;
        }
        self.emit(
            net,
            "disconnect",
            &[("container", container_id.to_string())],
        );
        Ok(state)
    }

    /// The live sandbox of a running container.
    pub fn sandbox_of(&self, container_id: &str) -> Option<SandboxState> {
        self.lock()
            .active
            .get(container_id)
            .map(|a| a.state.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn veth_names_fit_ifnamsiz() {
        let n = veth_name(&"a".repeat(64), &"b".repeat(64));
        assert!(n.len() <= 15);
        assert!(n.starts_with(VETH_PREFIX));
    }
}
