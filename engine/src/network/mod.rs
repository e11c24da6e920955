//! Networks: the default bridge, user-defined bridges, and the predefined `host` and `none`.
//! Each bridge network is a Linux bridge with a subnet; containers join through veth pairs
//! (see `sandbox.rs`); NAT, published ports and isolation are one nftables table
//! (`firewall.rs`); names resolve through the embedded DNS server (`dns.rs`).

pub mod dns;
pub mod firewall;
pub mod ipam;
pub mod link;
pub mod model;
pub mod netns;
pub mod ports;
pub mod sandbox;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};

use anyhow::Context;
use ipnet::Ipv4Net;

use crate::api::types::network::{
    Ipam, IpamConfig, NetworkContainer, NetworkCreateRequest, NetworkResource,
};
use crate::error::{EngineError, Result};
use crate::events::EventBus;
use crate::filters::Filters;
use link::Netlink;
use model::{NetworkRecord, SandboxState};

/// dockerd-compatible networking options of the daemon.
#[derive(Clone, Debug)]
pub struct NetConfig {
    pub data_root: PathBuf,
    /// Name of the default bridge's Linux bridge (`--bridge`); `none` disables it.
    pub bridge: String,
    /// The default bridge's address and prefix (`--bip`).
    pub bip: Option<Ipv4Net>,
    /// Pools for new networks (`--default-address-pool base=…,size=…`).
    pub pools: Vec<(Ipv4Net, u8)>,
    /// Resolvers for containers (`--dns`); the host's when empty.
    pub dns: Vec<Ipv4Addr>,
    /// The nftables table holding this engine's rules (or the prefix of its iptables chains).
    pub table: String,
    pub firewall: firewall::Backend,
}

impl NetConfig {
    /// dockerd's default pools: 172.17–31.0.0/16, then 192.168.0.0/16 in /20s.
    pub fn default_pools() -> Vec<(Ipv4Net, u8)> {
        let mut v: Vec<(Ipv4Net, u8)> = Vec::new();
        if let Ok(n) = "172.17.0.0/12".parse::<Ipv4Net>() {
            v.push((n, 16));
        }
        if let Ok(n) = "192.168.0.0/16".parse::<Ipv4Net>() {
            v.push((n, 20));
        }
        v
    }
}

/// A running container's live sandbox: what the DNS server and the firewall read.
pub(crate) struct Active {
    pub name: String,
    pub state: SandboxState,
    pub primary: String,
    /// Held for its sockets: dropping it frees the host ports.
    pub _reservation: Option<ports::Reservation>,
    pub dns: Option<tokio::task::JoinHandle<()>>,
}

impl Drop for Active {
    fn drop(&mut self) {
        if let Some(t) = self.dns.take() {
            t.abort();
        }
    }
}

pub(crate) struct Shared {
    pub nets: BTreeMap<String, NetworkRecord>,
    pub active: HashMap<String, Active>,
    /// Addresses handed out but not yet recorded in `active` (a start in progress).
    pub pending: HashSet<Ipv4Addr>,
    /// Sandboxes of stopped containers whose veths and namespace are still being removed in
    /// the background (see `NetworkService::teardown`): their addresses and names stay taken.
    pub draining: HashMap<String, model::SandboxState>,
}

pub struct NetworkService {
    cfg: NetConfig,
    dir: PathBuf,
    run_dir: PathBuf,
    shared: Arc<Mutex<Shared>>,
    netlink: Netlink,
    /// Serialises firewall replacement so the last writer always has the latest state.
    firewall: tokio::sync::Mutex<()>,
    /// Serialises network create/remove (subnet and name uniqueness).
    admin: tokio::sync::Mutex<()>,
    /// Sandbox setups hold it shared, the sweep exclusively: a sandbox being built has links
    /// and a namespace before it is recorded in `active`, and the sweep must not take them for
    /// strays.
    building: tokio::sync::RwLock<()>,
    events: Arc<EventBus>,
    upstreams: Vec<SocketAddr>,
    /// Bumped each time a background teardown finishes (`draining` shrank).
    drained: tokio::sync::watch::Sender<u64>,
}

/// The DNS server's view: names on the networks a container is attached to.
struct DnsView(Arc<Mutex<Shared>>);

impl dns::Lookup for DnsView {
    fn lookup(&self, container_id: &str, name: &str) -> Option<Vec<Ipv4Addr>> {
        let s = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let me = s.active.get(container_id)?;
        let my_nets: HashSet<&String> =
            me.state.endpoints.values().map(|e| &e.network_id).collect();
        // A link's alias (`--link db:database` on a user network) stands for the linked name,
        // for this container's lookups only.
        let linked = me
            .state
            .endpoints
            .values()
            .flat_map(|e| &e.links)
            .filter_map(|l| l.split_once(':'))
            .find(|(_, alias)| alias.trim_start_matches('/').eq_ignore_ascii_case(name))
            .map(|(target, _)| target.trim_start_matches('/').to_string());
        let name = linked.as_deref().unwrap_or(name);
        let mut out = Vec::new();
        for (id, a) in &s.active {
            for ep in a.state.endpoints.values() {
                if !my_nets.contains(&ep.network_id) {
                    continue;
                }
                let hit = a.name.eq_ignore_ascii_case(name)
                    || (name.len() >= 12 && id.starts_with(name))
                    || ep.aliases.iter().any(|al| al.eq_ignore_ascii_case(name));
                if hit && !out.contains(&ep.ip) {
                    out.push(ep.ip);
                }
            }
        }
        (!out.is_empty()).then_some(out)
    }

    fn may_forward(&self, container_id: &str) -> bool {
        let s = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let Some(me) = s.active.get(container_id) else {
            return false;
        };
        // As dockerd: a container only on internal networks has no way out, DNS included.
        me.state
            .endpoints
            .values()
            .any(|ep| s.nets.get(&ep.network_id).is_some_and(|n| !n.internal))
    }
}

fn new_id() -> String {
    hex::encode(rand::random::<[u8; 32]>())
}

impl NetworkService {
    pub async fn open(cfg: NetConfig, events: Arc<EventBus>) -> anyhow::Result<Arc<Self>> {
        let dir = cfg.data_root.join("networks");
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        crate::store::remove_temp_files(&dir);
        let mut nets = BTreeMap::new();
        for entry in std::fs::read_dir(&dir)? {
            let p = entry?.path();
            if p.extension().and_then(|e| e.to_str()) != Some("json") {
                continue;
            }
            match crate::store::read_json::<NetworkRecord>(&p) {
                Ok(r) => {
                    nets.insert(r.id.clone(), r);
                }
                Err(e) => {
                    tracing::warn!(path = %p.display(), error = %e, "skipping unreadable network")
                }
            }
        }
        let host_resolv = std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
        let upstreams = if cfg.dns.is_empty() {
            dns::upstreams_from(&host_resolv)
        } else {
            cfg.dns
                .iter()
                .map(|ip| SocketAddr::new((*ip).into(), 53))
                .collect()
        };
        let svc = Arc::new(NetworkService {
            run_dir: cfg.data_root.join("run"),
            netlink: Netlink::host()?,
            cfg,
            dir,
            shared: Arc::new(Mutex::new(Shared {
                nets,
                active: HashMap::new(),
                pending: HashSet::new(),
                draining: HashMap::new(),
            })),
            firewall: tokio::sync::Mutex::new(()),
            admin: tokio::sync::Mutex::new(()),
            building: tokio::sync::RwLock::new(()),
            events,
            upstreams,
            drained: tokio::sync::watch::channel(0).0,
        });
        svc.ensure_predefined()?;
        link::enable_ip_forward()?;
        let bridges: Vec<NetworkRecord> = svc
            .lock()
            .nets
            .values()
            .filter(|n| n.is_bridge())
            .cloned()
            .collect();
        for n in bridges {
            svc.ensure_bridge(&n).await?;
        }
        svc.refresh_firewall().await?;
        Ok(svc)
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, Shared> {
        self.shared.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn table(&self) -> &str {
        &self.cfg.table
    }

    fn save(&self, rec: &NetworkRecord) -> Result<()> {
        crate::store::write_json(
            &self.dir.join(format!("{}.json", rec.id)),
            rec,
            crate::store::Durability::Power,
        )?;
        Ok(())
    }

    /// `bridge`, `host` and `none` exist from the first start; the default bridge follows
    /// `--bridge`/`--bip` when they change.
    fn ensure_predefined(&self) -> anyhow::Result<()> {
        for (name, driver) in [("host", "host"), ("none", "null")] {
            if self.find_by_name(name).is_none() {
                let rec = NetworkRecord {
                    id: new_id(),
                    name: name.into(),
                    driver: driver.into(),
                    created: crate::timestamp::now_rfc3339(),
                    internal: false,
                    attachable: false,
                    labels: HashMap::new(),
                    options: HashMap::new(),
                    ipam_options: HashMap::new(),
                    subnet: None,
                    gateway: None,
                    bridge: String::new(),
                    user_subnet: false,
                };
                self.save(&rec)?;
                self.lock().nets.insert(rec.id.clone(), rec);
            }
        }
        let existing = self.find_by_name("bridge");
        if self.cfg.bridge == "none" {
            if let Some(old) = existing {
                let _ = std::fs::remove_file(self.dir.join(format!("{}.json", old.id)));
                self.lock().nets.remove(&old.id);
            }
            return Ok(());
        }
        let (subnet, gateway) = match (&self.cfg.bip, &existing) {
            (Some(bip), _) => (bip.trunc(), bip.addr()),
            (None, Some(old)) if old.subnet.is_some() && old.gateway.is_some() => (
                old.subnet.unwrap_or_default(),
                old.gateway.unwrap_or(Ipv4Addr::UNSPECIFIED),
            ),
            _ => {
                let s = self
                    .pick_subnet(&[])
                    .ok_or_else(|| anyhow::anyhow!("no free subnet for the default bridge"))?;
                (s, ipam::default_gateway(&s).unwrap_or(s.network()))
            }
        };
        let mut options = HashMap::new();
        options.insert(
            "com.docker.network.bridge.name".into(),
            self.cfg.bridge.clone(),
        );
        options.insert(
            "com.docker.network.bridge.default_bridge".into(),
            "true".into(),
        );
        options.insert(
            "com.docker.network.bridge.enable_ip_masquerade".into(),
            "true".into(),
        );
        options.insert("com.docker.network.bridge.enable_icc".into(), "true".into());
        options.insert("com.docker.network.driver.mtu".into(), "1500".into());
        let rec = NetworkRecord {
            id: existing
                .as_ref()
                .map(|e| e.id.clone())
                .unwrap_or_else(new_id),
            name: "bridge".into(),
            driver: "bridge".into(),
            created: existing
                .as_ref()
                .map(|e| e.created.clone())
                .unwrap_or_else(crate::timestamp::now_rfc3339),
            internal: false,
            attachable: false,
            labels: HashMap::new(),
            options,
            ipam_options: HashMap::new(),
            subnet: Some(subnet),
            gateway: Some(gateway),
            bridge: self.cfg.bridge.clone(),
            user_subnet: false,
        };
        self.save(&rec)?;
        self.lock().nets.insert(rec.id.clone(), rec);
        Ok(())
    }

    fn find_by_name(&self, name: &str) -> Option<NetworkRecord> {
        self.lock().nets.values().find(|n| n.name == name).cloned()
    }

    /// dockerd's lookup order: full ID, exact name, then unique ID prefix.
    pub fn resolve(&self, key: &str) -> Result<NetworkRecord> {
        let s = self.lock();
        if let Some(n) = s.nets.get(key) {
            return Ok(n.clone());
        }
        if let Some(n) = s.nets.values().find(|n| n.name == key) {
            return Ok(n.clone());
        }
        let matches: Vec<&NetworkRecord> = s
            .nets
            .values()
            .filter(|n| !key.is_empty() && n.id.starts_with(key))
            .collect();
        match matches.len() {
            1 => Ok(matches[0].clone()),
            0 => Err(EngineError::NotFound(format!("network {key} not found"))),
            _ => Err(EngineError::invalid(format!(
                "network {key} is ambiguous ({} matches found based on ID prefix)",
                matches.len()
            ))),
        }
    }

    /// Subnets in use: every network's and every route of the host.
    fn taken_subnets(&self) -> Vec<Ipv4Net> {
        let mut taken: Vec<Ipv4Net> = self.lock().nets.values().filter_map(|n| n.subnet).collect();
        taken.extend(ipam::host_routes());
        taken
    }

    fn pick_subnet(&self, extra: &[Ipv4Net]) -> Option<Ipv4Net> {
        let mut taken = self.taken_subnets();
        taken.extend_from_slice(extra);
        self.cfg
            .pools
            .iter()
            .find_map(|(pool, size)| ipam::pick_subnet(pool, *size, &taken))
    }

    async fn ensure_bridge(&self, n: &NetworkRecord) -> Result<()> {
        let (Some(subnet), Some(gw)) = (n.subnet, n.gateway) else {
            return Ok(());
        };
        self.netlink
            .ensure_bridge(&n.bridge, gw, subnet.prefix_len())
            .await?;
        // Loopback-originated traffic to published ports is DNAT'ed onto the bridge.
        link::set_ipv4_conf(&n.bridge, "route_localnet", "1")?;
        Ok(())
    }

    /// Replaces the engine's nftables table with one computed from the current state.
    pub async fn refresh_firewall(&self) -> Result<()> {
        let _g = self.firewall.lock().await;
        let rules = {
            let s = self.lock();
            let bridges = s
                .nets
                .values()
                .filter(|n| n.is_bridge())
                .filter_map(|n| {
                    Some(firewall::BridgeRules {
                        bridge: n.bridge.clone(),
                        subnet: n.subnet?,
                        internal: n.internal,
                    })
                })
                .collect();
            let mut forwards = Vec::new();
            for a in s.active.values() {
                let Some(ep) = sandbox::port_target(&s, &a.state, &a.primary) else {
                    continue;
                };
                for p in &a.state.ports {
                    forwards.push(firewall::Forward {
                        proto: p.proto.clone(),
                        host_ip: (!p.host_ip.is_unspecified()).then_some(p.host_ip),
                        host_port: p.host_port,
                        ip: ep,
                        port: p.port,
                    });
                }
            }
            firewall::Ruleset { bridges, forwards }
        };
        firewall::replace(self.cfg.firewall, &self.cfg.table, &rules)
            .await
            .map_err(EngineError::Internal)
    }

    pub async fn create(&self, req: NetworkCreateRequest) -> Result<NetworkRecord> {
        let _g = self.admin.lock().await;
        // As libnetwork: any name but a blank one (a space inside is fine).
        if req.name.trim().is_empty() {
            return Err(EngineError::invalid(format!("invalid name: {}", req.name)));
        }
        if self.find_by_name(&req.name).is_some() {
            return Err(EngineError::Conflict(format!(
                "network with name {} already exists",
                req.name
            )));
        }
        let driver = if req.driver.is_empty() {
            "bridge"
        } else {
            req.driver.as_str()
        };
        if matches!(driver, "host" | "null") {
            return Err(EngineError::Forbidden(format!(
                "only one instance of \"{driver}\" network is allowed"
            )));
        }
        if driver != "bridge" {
            return Err(EngineError::NotFound(format!(
                "could not find plugin {driver} in v1 plugin registry: plugin not found"
            )));
        }
        if req.enable_ipv6 == Some(true) {
            return Err(EngineError::invalid(
                "IPv6 networks are not supported by this engine",
            ));
        }
        let ipam = req.ipam.clone().unwrap_or_default();
        if !ipam.driver.is_empty() && ipam.driver != "default" {
            return Err(EngineError::NotFound(format!(
                "could not find plugin {} in v1 plugin registry: plugin not found",
                ipam.driver
            )));
        }
        if ipam.config.len() > 1 {
            return Err(EngineError::invalid(
                "only one IPv4 subnet per network is supported",
            ));
        }
        let (subnet, gateway, user_subnet) = match ipam.config.first() {
            Some(c) if !c.subnet.is_empty() => {
                let subnet: Ipv4Net = c.subnet.parse().map_err(|_| {
                    EngineError::invalid(format!(
                        "invalid subnet {}: invalid CIDR address",
                        c.subnet
                    ))
                })?;
                if subnet.trunc() != subnet {
                    return Err(EngineError::invalid(format!(
                        "invalid subnet {subnet}: it should be {}",
                        subnet.trunc()
                    )));
                }
                if subnet.prefix_len() > 30 {
                    return Err(EngineError::invalid(format!(
                        "invalid subnet {subnet}: too small for a network"
                    )));
                }
                let overlapping = {
                    let s = self.lock();
                    s.nets
                        .values()
                        .filter_map(|n| n.subnet)
                        .find(|o| ipam::overlaps(o, &subnet))
                };
                if let Some(o) = overlapping {
                    return Err(EngineError::Forbidden(format!(
                        "invalid pool request: Pool overlaps with other one on this address space ({o})"
                    )));
                }
                let gateway = if c.gateway.is_empty() {
                    ipam::default_gateway(&subnet).unwrap_or(subnet.network())
                } else {
                    let g: Ipv4Addr = c.gateway.parse().map_err(|_| {
                        EngineError::invalid(format!("invalid gateway address {}", c.gateway))
                    })?;
                    if !subnet.contains(&g) || g == subnet.network() || g == subnet.broadcast() {
                        return Err(EngineError::invalid(format!(
                            "no matching subnet for gateway {g}"
                        )));
                    }
                    g
                };
                (subnet, gateway, true)
            }
            Some(c) if !c.gateway.is_empty() => {
                return Err(EngineError::invalid(format!(
                    "a gateway ({}) needs a subnet",
                    c.gateway
                )))
            }
            _ => {
                let s = self.pick_subnet(&[]).ok_or_else(|| {
                    EngineError::invalid(
                        "could not find an available, non-overlapping IPv4 address pool among the defaults to assign to the network",
                    )
                })?;
                (s, ipam::default_gateway(&s).unwrap_or(s.network()), false)
            }
        };
        let id = new_id();
        let bridge = req
            .options
            .get("com.docker.network.bridge.name")
            .cloned()
            .unwrap_or_else(|| format!("br-{}", &id[..12]));
        if bridge.len() > 15 || bridge.is_empty() {
            return Err(EngineError::invalid(format!(
                "bridge name {bridge} is longer than 15 characters"
            )));
        }
        let rec = NetworkRecord {
            id: id.clone(),
            name: req.name.clone(),
            driver: "bridge".into(),
            created: crate::timestamp::now_rfc3339(),
            internal: req.internal,
            attachable: req.attachable,
            labels: req.labels.clone(),
            options: req.options.clone(),
            ipam_options: ipam.options.clone(),
            subnet: Some(subnet),
            gateway: Some(gateway),
            bridge,
            user_subnet,
        };
        // Record first: a crash after this point leaves a network the next start re-creates,
        // never a bridge nobody knows about.
        self.save(&rec)?;
        self.lock().nets.insert(id.clone(), rec.clone());
        let made = async {
            self.ensure_bridge(&rec).await?;
            self.refresh_firewall().await
        }
        .await;
        if let Err(e) = made {
            self.lock().nets.remove(&id);
            let _ = std::fs::remove_file(self.dir.join(format!("{id}.json")));
            let _ = self.netlink.delete(&rec.bridge).await;
            return Err(e);
        }
        self.emit(&rec, "create", &[]);
        Ok(rec)
    }

    pub async fn remove(&self, key: &str) -> Result<()> {
        let _g = self.admin.lock().await;
        let rec = self.resolve(key)?;
        if rec.predefined() {
            return Err(EngineError::Forbidden(format!(
                "{} is a pre-defined network and cannot be removed",
                rec.name
            )));
        }
        let users: Vec<String> = {
            let s = self.lock();
            s.active
                .iter()
                .filter(|(_, a)| a.state.endpoints.values().any(|e| e.network_id == rec.id))
                .map(|(id, _)| id.clone())
                .collect()
        };
        if !users.is_empty() {
            return Err(EngineError::Forbidden(format!(
                "error while removing network: network {} id {} has active endpoints",
                rec.name, rec.id
            )));
        }
        self.lock().nets.remove(&rec.id);
        self.refresh_firewall().await?;
        self.netlink.delete(&rec.bridge).await?;
        std::fs::remove_file(self.dir.join(format!("{}.json", rec.id)))?;
        self.emit(&rec, "destroy", &[]);
        Ok(())
    }

    /// Removes user networks without active endpoints; returns their names.
    pub async fn prune(&self, filters: &Filters) -> Result<Vec<String>> {
        let candidates: Vec<NetworkRecord> = self
            .list(filters)?
            .into_iter()
            .filter(|n| !n.predefined())
            .collect();
        let mut removed = Vec::new();
        for n in candidates {
            let busy = self
                .lock()
                .active
                .values()
                .any(|a| a.state.endpoints.values().any(|e| e.network_id == n.id));
            if busy {
                continue;
            }
            if self.remove(&n.id).await.is_ok() {
                removed.push(n.name);
            }
        }
        Ok(removed)
    }

    pub fn list(&self, filters: &Filters) -> Result<Vec<NetworkRecord>> {
        filters.only(&["driver", "id", "label", "name", "scope", "type", "dangling"])?;
        let dangling = filters.bool("dangling")?;
        let any = |k: &str, f: &dyn Fn(&str) -> bool| {
            filters.get(k).is_empty() || filters.get(k).iter().any(|v| f(v))
        };
        let s = self.lock();
        let mut out = Vec::new();
        for n in s.nets.values() {
            let in_use = s
                .active
                .values()
                .any(|a| a.state.endpoints.values().any(|e| e.network_id == n.id));
            let kind = if n.predefined() { "builtin" } else { "custom" };
            let ok = any("driver", &|v| v == n.driver)
                && any("id", &|v| n.id.starts_with(v))
                && any("name", &|v| n.name.contains(v))
                && any("scope", &|v| v == "local")
                && any("type", &|v| v == kind)
                && dangling.is_none_or(|want| want == (!in_use && !n.predefined()))
                && filters.labels_match(&n.labels);
            if ok {
                out.push(n.clone());
            }
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    /// The API view of a network, with its running containers.
    pub fn resource(&self, n: &NetworkRecord) -> NetworkResource {
        let s = self.lock();
        let mut containers = BTreeMap::new();
        for (id, a) in &s.active {
            for ep in a.state.endpoints.values() {
                if ep.network_id == n.id {
                    containers.insert(
                        id.clone(),
                        NetworkContainer {
                            name: a.name.clone(),
                            endpoint_id: ep.endpoint_id.clone(),
                            mac_address: ep.mac.clone(),
                            ipv4_address: format!("{}/{}", ep.ip, ep.prefix),
                            ipv6_address: String::new(),
                        },
                    );
                }
            }
        }
        let config = match (n.subnet, n.gateway) {
            (Some(s), Some(g)) => vec![IpamConfig {
                subnet: s.to_string(),
                gateway: g.to_string(),
                ..Default::default()
            }],
            _ => vec![],
        };
        NetworkResource {
            name: n.name.clone(),
            id: n.id.clone(),
            created: n.created.clone(),
            scope: "local".into(),
            driver: n.driver.clone(),
            enable_ipv4: true,
            enable_ipv6: false,
            ipam: Ipam {
                driver: "default".into(),
                config,
                options: n.ipam_options.clone(),
            },
            internal: n.internal,
            attachable: n.attachable,
            ingress: false,
            config_from: serde_json::json!({"Network": ""}),
            config_only: false,
            containers,
            options: n.options.clone(),
            labels: n.labels.clone(),
        }
    }

    fn emit(&self, n: &NetworkRecord, action: &str, extra: &[(&str, String)]) {
        let mut attrs = HashMap::new();
        attrs.insert("name".to_string(), n.name.clone());
        attrs.insert("type".to_string(), n.driver.clone());
        for (k, v) in extra {
            attrs.insert(k.to_string(), v.clone());
        }
        self.events.emit("network", action, &n.id, attrs);
    }

    /// The default bridge's gateway: what `host-gateway` in `--add-host` means.
    pub fn host_gateway(&self) -> Option<Ipv4Addr> {
        self.find_by_name("bridge").and_then(|n| n.gateway)
    }

    pub fn upstream_resolvers(&self) -> &[SocketAddr] {
        &self.upstreams
    }

    pub fn daemon_dns(&self) -> &[Ipv4Addr] {
        &self.cfg.dns
    }

    pub fn netns_path(&self, container_id: &str) -> PathBuf {
        netns::path_for(&self.run_dir, container_id)
    }

    /// Links, namespaces and rules nobody owns any more (a kill -9 during setup, a container
    /// that stopped while berthd was down). Called once the running containers are re-adopted.
    pub async fn sweep(&self) {
        let _no_setups = self.building.write().await;
        let (owned_veths, owned_ns, bridges): (HashSet<String>, HashSet<PathBuf>, Vec<String>) = {
            let s = self.lock();
            (
                s.active
                    .values()
                    .map(|a| &a.state)
                    .chain(s.draining.values())
                    .flat_map(|st| st.endpoints.values().map(|e| e.veth.clone()))
                    .collect(),
                s.active
                    .values()
                    .map(|a| &a.state)
                    .chain(s.draining.values())
                    .map(|st| st.netns.clone())
                    .collect(),
                s.nets
                    .values()
                    .filter(|n| n.is_bridge())
                    .map(|n| n.bridge.clone())
                    .collect(),
            )
        };
        for b in bridges {
            let Ok(Some(idx)) = self.netlink.index_of(&b).await else {
                continue;
            };
            for port in self.netlink.ports_of(idx).await.unwrap_or_default() {
                if port.starts_with(sandbox::VETH_PREFIX) && !owned_veths.contains(&port) {
                    tracing::info!(link = %port, "removing a leftover veth");
                    let _ = self.netlink.delete(&port).await;
                }
            }
        }
        if let Ok(rd) = std::fs::read_dir(self.run_dir.join("netns")) {
            for e in rd.flatten() {
                let p = e.path();
                if !owned_ns.contains(&p) {
                    tracing::info!(path = %p.display(), "removing a leftover network namespace");
                    let _ = netns::remove(&p);
                }
            }
        }
        if let Err(e) = self.refresh_firewall().await {
            tracing::warn!(error = %e, "refreshing firewall rules");
        }
    }
}
