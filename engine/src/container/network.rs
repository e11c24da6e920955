//! A container's networking: the networks it joins (checked at create), its sandbox (built at
//! start, torn down at exit), `network connect`/`disconnect`, and the `NetworkSettings` views.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::sync::Arc;

use serde_json::{json, Map, Value};

use super::{Container, ContainerData, ContainerService};
use crate::api::types::network::{EndpointRequest, NetworkingConfig};
use crate::api::types::{ContainerConfig, HostConfig};
use crate::error::{EngineError, Result};
use crate::network::model::SandboxState;
use crate::network::ports;
use crate::network::sandbox::SandboxRequest;

/// How a container is networked, from its `NetworkMode`.
#[derive(Debug, Clone, PartialEq)]
pub enum Mode {
    Host,
    None,
    Container(String),
    /// Default bridge or a user network, by name.
    Bridge(String),
}

pub fn mode_of(hc: &HostConfig) -> Mode {
    match hc.network_mode.as_str() {
        "" | "default" | "bridge" => Mode::Bridge("bridge".into()),
        "host" => Mode::Host,
        "none" => Mode::None,
        m => match m.strip_prefix("container:") {
            Some(c) => Mode::Container(c.to_string()),
            None => Mode::Bridge(m.to_string()),
        },
    }
}

/// What start needs from the network sandbox to write the bundle and the /etc files.
#[derive(Default)]
pub struct NetPlan {
    /// The namespace to join; None for a private one the runtime creates (`none`) or the host's.
    pub netns: Option<PathBuf>,
    pub host_network: bool,
    pub addresses: Vec<Ipv4Addr>,
    pub embedded_dns: bool,
    /// `container:` mode shares the other container's /etc files.
    pub shared_etc_dir: Option<PathBuf>,
}

/// `--add-host name:ip` (also `name=ip`), with `host-gateway` resolved.
pub fn parse_extra_hosts(
    entries: &[String],
    host_gateway: Option<Ipv4Addr>,
) -> Result<Vec<(String, String)>> {
    let mut out = Vec::new();
    for e in entries {
        let (name, ip) = e
            .split_once('=')
            .or_else(|| e.split_once(':'))
            .ok_or_else(|| EngineError::invalid(format!("invalid extra host: \"{e}\"")))?;
        let ip = if ip == "host-gateway" {
            host_gateway.map(|g| g.to_string()).ok_or_else(|| {
                EngineError::invalid("unable to derive the IP value for host-gateway")
            })?
        } else {
            ip.trim_matches(|c| c == '[' || c == ']')
                .parse::<std::net::IpAddr>()
                .map_err(|_| {
                    EngineError::invalid(format!("invalid IP address in add-host: \"{ip}\""))
                })?
                .to_string()
        };
        out.push((name.to_string(), ip));
    }
    Ok(out)
}

fn exposed_keys(cfg: &ContainerConfig) -> Vec<String> {
    cfg.exposed_ports
        .as_ref()
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default()
}

/// dockerd's check of an endpoint's `MacAddress`.
fn check_mac(req: &EndpointRequest) -> Result<()> {
    if req.mac_address.is_empty() || crate::network::ipam::parse_mac(&req.mac_address).is_some() {
        return Ok(());
    }
    Err(EngineError::invalid(format!(
        "invalid MAC address: {}",
        req.mac_address
    )))
}

impl ContainerService {
    /// Checks the networking options of a create and returns the endpoints to record, keyed by
    /// network name.
    pub(super) fn plan_networks(
        &self,
        hc: &HostConfig,
        cfg: &ContainerConfig,
        nc: &NetworkingConfig,
    ) -> Result<BTreeMap<String, EndpointRequest>> {
        for d in &hc.dns {
            d.parse::<std::net::IpAddr>()
                .map_err(|_| EngineError::invalid(format!("{d} is not an ip address")))?;
        }
        parse_extra_hosts(&hc.extra_hosts, self.net.host_gateway())?;
        let has_ports = !hc.port_bindings.is_empty() || hc.publish_all_ports;
        ports::wanted(&hc.port_bindings, hc.publish_all_ports, &exposed_keys(cfg))
            .map_err(EngineError::invalid)?;
        let mut out = BTreeMap::new();
        // The container-wide MAC (API < 1.44 clients) belongs to the main network's endpoint.
        let config_mac = cfg
            .extra
            .get("MacAddress")
            .and_then(|v| v.as_str())
            .filter(|s| !s.is_empty());
        if config_mac.is_some() && !matches!(mode_of(hc), Mode::Bridge(_)) {
            return Err(EngineError::invalid(
                "conflicting options: mac-address and the network mode",
            ));
        }
        match mode_of(hc) {
            Mode::Host | Mode::None => return Ok(out),
            Mode::Container(target) => {
                self.get(&target)?;
                if has_ports {
                    return Err(EngineError::invalid(
                        "conflicting options: port publishing and the container type network mode",
                    ));
                }
                if !cfg.hostname.is_empty() {
                    return Err(EngineError::invalid(
                        "conflicting options: hostname and the network mode",
                    ));
                }
                return Ok(out);
            }
            Mode::Bridge(primary) => {
                let net = self.net.resolve(&primary)?;
                if !net.is_bridge() {
                    return Err(EngineError::invalid(format!(
                        "network {} cannot be used as a network mode",
                        net.name
                    )));
                }
                let mut req = nc
                    .endpoints_config
                    .get(&primary)
                    .or_else(|| nc.endpoints_config.get(&net.name))
                    .or_else(|| nc.endpoints_config.get(&hc.network_mode))
                    .cloned()
                    .flatten()
                    .unwrap_or_default();
                req.network_id = net.id.clone();
                if let Some(mac) = config_mac {
                    if req.mac_address.is_empty() {
                        req.mac_address = mac.to_string();
                    } else if req.mac_address != mac {
                        return Err(EngineError::invalid(
                            "the container-wide MAC address must match the endpoint-specific MAC address for the main network, or be left empty",
                        ));
                    }
                }
                out.insert(net.name.clone(), req);
            }
        }
        for (key, req) in &nc.endpoints_config {
            // The CLI names the default network "default".
            let key = if key == "default" {
                "bridge"
            } else {
                key.as_str()
            };
            let net = self.net.resolve(key)?;
            if out.contains_key(&net.name) {
                continue;
            }
            if !net.is_bridge() {
                return Err(EngineError::invalid(format!(
                    "container cannot be connected to network {} with other networks",
                    net.name
                )));
            }
            let mut req = req.clone().unwrap_or_default();
            req.network_id = net.id.clone();
            out.insert(net.name.clone(), req);
        }
        for (name, req) in &out {
            super::unsupported::check_endpoint(name, req)?;
            check_mac(req)?;
            req.ipam_config
                .link_local_v4()
                .map_err(EngineError::invalid)?;
            if name == "bridge" && !req.aliases.is_empty() {
                return Err(EngineError::invalid(
                    "network-scoped alias is supported only for containers in user defined networks",
                ));
            }
            if !req.ipam_config.ipv4_address.is_empty() {
                req.ipam_config
                    .ipv4_address
                    .parse::<Ipv4Addr>()
                    .map_err(|_| {
                        EngineError::invalid(format!(
                            "invalid IPv4 address: {}",
                            req.ipam_config.ipv4_address
                        ))
                    })?;
                if name == "bridge" {
                    return Err(EngineError::invalid(
                        "user specified IP address is supported on user defined networks only",
                    ));
                }
            }
        }
        Ok(out)
    }

    /// Builds what the container's network mode needs before the runtime starts it. The sandbox
    /// state is persisted at once, so a crash from here on is cleaned up by the next start.
    pub(super) async fn setup_network(&self, c: &Container) -> Result<NetPlan> {
        let d = c.snapshot();
        let hc = &d.rec.host_config;
        match mode_of(hc) {
            Mode::Host => Ok(NetPlan {
                host_network: true,
                ..Default::default()
            }),
            Mode::None => Ok(NetPlan::default()),
            Mode::Container(target) => {
                let t = self.get(&target)?;
                let td = t.snapshot();
                if !td.st.state.is_running() {
                    return Err(EngineError::Conflict(format!(
                        "cannot join network namespace of a non running container: {target}"
                    )));
                }
                let netns = match &td.st.net {
                    Some(s) => s.netns.clone(),
                    None if td.rec.host_config.network_mode == "host" => {
                        return Ok(NetPlan {
                            host_network: true,
                            shared_etc_dir: Some(t.dir.clone()),
                            ..Default::default()
                        })
                    }
                    None => {
                        PathBuf::from(format!("/proc/{}/ns/net", td.st.state.pid().unwrap_or(0)))
                    }
                };
                Ok(NetPlan {
                    netns: Some(netns),
                    shared_etc_dir: Some(t.dir.clone()),
                    ..Default::default()
                })
            }
            Mode::Bridge(primary) => {
                let wanted = ports::wanted(
                    &hc.port_bindings,
                    hc.publish_all_ports,
                    &exposed_keys(&d.rec.config),
                )
                .map_err(EngineError::invalid)?;
                let primary = self
                    .net
                    .resolve(&primary)
                    .map(|n| n.name)
                    .unwrap_or(primary);
                let name = d.rec.name.trim_start_matches('/').to_string();
                let state = self
                    .net
                    .setup(SandboxRequest {
                        container_id: &c.id,
                        name: &name,
                        primary: &primary,
                        endpoints: &d.rec.networks,
                        ports: wanted,
                    })
                    .await?;
                let plan = self.plan_from(&state, &primary);
                if let Err(e) = c.update(|d| d.st.net = Some(state.clone())) {
                    self.net.teardown(&c.id, Some(&state)).await;
                    return Err(e);
                }
                Ok(plan)
            }
        }
    }

    fn plan_from(&self, state: &SandboxState, primary: &str) -> NetPlan {
        let mut addresses: Vec<Ipv4Addr> = state
            .endpoints
            .get(primary)
            .map(|e| e.ip)
            .into_iter()
            .collect();
        for (name, ep) in &state.endpoints {
            if name != primary {
                addresses.push(ep.ip);
            }
        }
        NetPlan {
            netns: Some(state.netns.clone()),
            host_network: false,
            addresses,
            embedded_dns: state.endpoints.keys().any(|n| n != "bridge"),
            shared_etc_dir: None,
        }
    }

    /// Undoes [`setup_network`]; safe to call whether or not anything was set up.
    pub(super) async fn teardown_network(&self, c: &Container) {
        let (state, has_sandbox) = {
            let d = c.lock();
            (
                d.st.net.clone(),
                matches!(mode_of(&d.rec.host_config), Mode::Bridge(_)),
            )
        };
        if !has_sandbox && state.is_none() {
            return;
        }
        self.net.teardown(&c.id, state.as_ref()).await;
        if state.is_some() {
            if let Err(e) = c.update(|d| d.st.net = None) {
                // The next start or reconcile tears down a sandbox that is already gone: harmless.
                tracing::warn!(id = %c.id, error = %e, "recording the network teardown");
            }
        }
    }

    /// `docker network connect`.
    pub async fn connect_network(
        self: &Arc<Self>,
        c: &Arc<Container>,
        key: &str,
        req: EndpointRequest,
    ) -> Result<()> {
        let net = self.net.resolve(key)?;
        super::unsupported::check_endpoint(&net.name, &req)?;
        check_mac(&req)?;
        req.ipam_config
            .link_local_v4()
            .map_err(EngineError::invalid)?;
        let _op = c.op.lock().await;
        let (mode, running, name) = {
            let d = c.lock();
            (
                mode_of(&d.rec.host_config),
                d.st.state.is_running(),
                d.rec.name.trim_start_matches('/').to_string(),
            )
        };
        if !matches!(mode, Mode::Bridge(_)) || !net.is_bridge() {
            return Err(EngineError::Forbidden(
                "container sharing network namespace with another container or host cannot be connected to any other network".into(),
            ));
        }
        if c.lock().rec.networks.contains_key(&net.name) {
            return Err(EngineError::Forbidden(format!(
                "endpoint with name {name} already exists in network {}",
                net.name
            )));
        }
        if net.name == "bridge" && !req.aliases.is_empty() {
            return Err(EngineError::invalid(
                "network-scoped alias is supported only for containers in user defined networks",
            ));
        }
        let mut req = req;
        req.network_id = net.id.clone();
        if running {
            let uses_dns =
                |s: &crate::network::model::SandboxState| s.endpoints.keys().any(|n| n != "bridge");
            let had_dns = c.lock().st.net.as_ref().is_some_and(uses_dns);
            let state = self.net.connect_running(&c.id, &net, &req).await?;
            let has_dns = uses_dns(&state);
            c.update(|d| d.st.net = Some(state))?;
            if has_dns && !had_dns {
                // From the default bridge onto a user network: as dockerd, its names now resolve
                // through the embedded DNS server, which the sandbox started with the endpoint.
                let d = c.lock();
                let hc = &d.rec.host_config;
                let input = super::etc_files::EtcInput {
                    embedded_dns: true,
                    dns: &hc.dns,
                    dns_search: &hc.dns_search,
                    dns_options: &hc.dns_options,
                    ..Default::default()
                };
                super::etc_files::rewrite_resolv_conf(&c.dir, &input)?;
            }
        }
        {
            let mut d = c.lock();
            d.rec.networks.insert(net.name.clone(), req);
        }
        c.save_record()?;
        Ok(())
    }

    /// At berthd's start, for a re-adopted container on bridge networks: a `network connect`
    /// or `disconnect` cut short by a crash leaves the sandbox (state) and the record apart.
    /// Both end disconnected: an endpoint the record does not list is torn down (the connect
    /// never completed), a listed network without an endpoint is dropped from the record (the
    /// disconnect had done its work).
    pub(super) async fn settle_networks(self: &Arc<Self>, c: &Arc<Container>) {
        let (in_sandbox, in_record): (Vec<String>, Vec<String>) = {
            let d = c.lock();
            (
                d.st.net
                    .as_ref()
                    .map(|s| s.endpoints.keys().cloned().collect())
                    .unwrap_or_default(),
                d.rec.networks.keys().cloned().collect(),
            )
        };
        for name in in_sandbox.iter().filter(|n| !in_record.contains(n)) {
            let Ok(net) = self.net.resolve(name) else {
                continue;
            };
            match self.net.disconnect_running(&c.id, &net).await {
                Ok(state) => {
                    tracing::info!(id = %c.id, network = %name, "removed the endpoint of an interrupted connect");
                    if let Err(e) = c.update(|d| d.st.net = Some(state)) {
                        tracing::warn!(id = %c.id, error = %e, "saving the settled network state");
                    }
                }
                Err(e) => {
                    tracing::warn!(id = %c.id, network = %name, error = %e, "removing an interrupted connect")
                }
            }
        }
        let stale: Vec<String> = in_record
            .into_iter()
            .filter(|n| !in_sandbox.contains(n))
            .collect();
        if !stale.is_empty() {
            tracing::info!(id = %c.id, networks = ?stale, "dropped networks of an interrupted disconnect");
            c.lock().rec.networks.retain(|k, _| !stale.contains(k));
            if let Err(e) = c.save_record() {
                tracing::warn!(id = %c.id, error = %e, "saving the settled network record");
            }
        }
    }

    /// `docker network disconnect`.
    pub async fn disconnect_network(
        self: &Arc<Self>,
        c: &Arc<Container>,
        key: &str,
        force: bool,
    ) -> Result<()> {
        let net = self.net.resolve(key)?;
        let _op = c.op.lock().await;
        let (running, known, name) = {
            let d = c.lock();
            (
                d.st.state.is_running(),
                d.rec.networks.contains_key(&net.name),
                d.rec.name.trim_start_matches('/').to_string(),
            )
        };
        if !known && !force {
            return Err(EngineError::Forbidden(format!(
                "container {name} is not connected to network {}",
                net.name
            )));
        }
        if running && known {
            let state = self.net.disconnect_running(&c.id, &net).await?;
            c.update(|d| d.st.net = Some(state))?;
        }
        {
            let mut d = c.lock();
            d.rec.networks.remove(&net.name);
        }
        c.save_record()?;
        Ok(())
    }

    /// `NetworkSettings` of `docker inspect`.
    pub fn network_settings(&self, c: &Container, d: &ContainerData) -> Value {
        let sandbox = d.st.net.as_ref().filter(|_| d.st.state.is_running());
        let mut networks = Map::new();
        let mode = mode_of(&d.rec.host_config);
        let mut names: Vec<String> = d.rec.networks.keys().cloned().collect();
        if names.is_empty() {
            match &mode {
                Mode::Host => names.push("host".into()),
                Mode::None => names.push("none".into()),
                _ => {}
            }
        }
        for name in &names {
            let req = d.rec.networks.get(name).cloned().unwrap_or_default();
            let ep = sandbox.and_then(|s| s.endpoints.get(name));
            let network_id = ep
                .map(|e| e.network_id.clone())
                .or_else(|| (!req.network_id.is_empty()).then(|| req.network_id.clone()))
                .or_else(|| self.net.resolve(name).ok().map(|n| n.id))
                .unwrap_or_default();
            let mut dns_names: Vec<String> = Vec::new();
            if name != "bridge" && ep.is_some() {
                dns_names.push(d.rec.name.trim_start_matches('/').to_string());
                dns_names.extend(req.aliases.iter().cloned());
                dns_names.push(c.id[..12].to_string());
            }
            networks.insert(
                name.clone(),
                json!({
                    "IPAMConfig": if req.ipam_config.is_empty() { Value::Null } else { json!(req.ipam_config) },
                    "Links": if req.links.is_empty() { Value::Null } else { json!(req.links) },
                    "Aliases": if req.aliases.is_empty() { Value::Null } else { json!(req.aliases) },
                    "MacAddress": ep.map(|e| e.mac.clone()).unwrap_or_default(),
                    "DriverOpts": Value::Null,
                    "NetworkID": network_id,
                    "EndpointID": ep.map(|e| e.endpoint_id.clone()).unwrap_or_default(),
                    "Gateway": ep.map(|e| e.gateway.to_string()).unwrap_or_default(),
                    "IPAddress": ep.map(|e| e.ip.to_string()).unwrap_or_default(),
                    "IPPrefixLen": ep.map(|e| e.prefix).unwrap_or(0),
                    "IPv6Gateway": "",
                    "GlobalIPv6Address": "",
                    "GlobalIPv6PrefixLen": 0,
                    "DNSNames": if dns_names.is_empty() { Value::Null } else { json!(dns_names) },
                }),
            );
        }
        let default_ep = sandbox.and_then(|s| s.endpoints.get("bridge"));
        json!({
            "Bridge": "",
            "SandboxID": sandbox.map(|_| c.id.clone()).unwrap_or_default(),
            "SandboxKey": sandbox.map(|s| s.netns.display().to_string()).unwrap_or_default(),
            "Ports": ports_map(d),
            "HairpinMode": false,
            "LinkLocalIPv6Address": "",
            "LinkLocalIPv6PrefixLen": 0,
            "SecondaryIPAddresses": Value::Null,
            "SecondaryIPv6Addresses": Value::Null,
            "EndpointID": default_ep.map(|e| e.endpoint_id.clone()).unwrap_or_default(),
            "Gateway": default_ep.map(|e| e.gateway.to_string()).unwrap_or_default(),
            "GlobalIPv6Address": "",
            "GlobalIPv6PrefixLen": 0,
            "IPAddress": default_ep.map(|e| e.ip.to_string()).unwrap_or_default(),
            "IPPrefixLen": default_ep.map(|e| e.prefix).unwrap_or(0),
            "IPv6Gateway": "",
            "MacAddress": default_ep.map(|e| e.mac.clone()).unwrap_or_default(),
            "Networks": networks,
        })
    }

    /// `Ports` and `NetworkSettings` of a `docker ps` entry.
    pub fn summary_network(&self, c: &Container, d: &ContainerData) -> (Vec<Value>, Value) {
        let mut out = Vec::new();
        let running = d.st.state.is_running();
        let published =
            d.st.net
                .as_ref()
                .filter(|_| running)
                .map(|s| s.ports.clone())
                .unwrap_or_default();
        for p in &published {
            out.push(json!({
                "IP": p.host_ip.to_string(),
                "PrivatePort": p.port,
                "PublicPort": p.host_port,
                "Type": p.proto,
            }));
        }
        // Like dockerd, a stopped container lists no ports.
        for key in exposed_keys(&d.rec.config).into_iter().filter(|_| running) {
            if let Ok((port, proto)) = ports::parse_port_key(&key) {
                if !published.iter().any(|p| p.port == port && p.proto == proto) {
                    out.push(json!({"PrivatePort": port, "Type": proto}));
                }
            }
        }
        let settings = self.network_settings(c, d);
        (out, json!({"Networks": settings["Networks"]}))
    }
}

/// `NetworkSettings.Ports`: every exposed port, with its host bindings while running.
fn ports_map(d: &ContainerData) -> Value {
    let mut m = Map::new();
    let running = d.st.state.is_running();
    for key in exposed_keys(&d.rec.config) {
        if let Ok((port, proto)) = ports::parse_port_key(&key) {
            m.insert(format!("{port}/{proto}"), Value::Null);
        }
    }
    for key in d.rec.host_config.port_bindings.keys() {
        if let Ok((port, proto)) = ports::parse_port_key(key) {
            m.entry(format!("{port}/{proto}")).or_insert(Value::Null);
        }
    }
    if running {
        if let Some(s) = &d.st.net {
            for p in &s.ports {
                let entry = m.entry(p.key()).or_insert(Value::Null);
                if !entry.is_array() {
                    *entry = json!([]);
                }
                if let Some(a) = entry.as_array_mut() {
                    a.push(json!({"HostIp": p.host_ip.to_string(), "HostPort": p.host_port.to_string()}));
                }
            }
        }
    }
    Value::Object(m)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_parse() {
        let hc = |m: &str| HostConfig {
            network_mode: m.into(),
            ..Default::default()
        };
        assert_eq!(mode_of(&hc("")), Mode::Bridge("bridge".into()));
        assert_eq!(mode_of(&hc("host")), Mode::Host);
        assert_eq!(mode_of(&hc("container:db")), Mode::Container("db".into()));
        assert_eq!(mode_of(&hc("net1")), Mode::Bridge("net1".into()));
    }

    #[test]
    fn extra_hosts_resolve_host_gateway() {
        let gw = Some(Ipv4Addr::new(172, 17, 0, 1));
        let h = parse_extra_hosts(&["db:10.0.0.5".into(), "gw:host-gateway".into()], gw).unwrap();
        assert_eq!(h[1], ("gw".to_string(), "172.17.0.1".to_string()));
        assert!(parse_extra_hosts(&["bad:999.1.1.1".into()], gw).is_err());
        assert!(parse_extra_hosts(&["nocolon".into()], gw).is_err());
    }
}
