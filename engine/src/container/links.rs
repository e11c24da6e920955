//! Legacy links (`--link NAME[:ALIAS]` on the default bridge), as dockerd keeps them: the link
//! is stored as `/NAME:/PARENT/ALIAS` in `HostConfig.Links`; at start the linked container must
//! run, and the parent gets its address in `/etc/hosts` (alias, hostname, name) and dockerd's
//! environment variables (`ALIAS_PORT_80_TCP_ADDR`, `ALIAS_NAME`, `ALIAS_ENV_…`).
//!
//! On a user-defined network a link is only a name: the endpoint keeps `NAME:ALIAS`
//! (`EndpointSettings.Links`) and the embedded DNS answers ALIAS with NAME's address, for this
//! container's lookups only (`network::DnsView`), as libnetwork does.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

use super::network::{mode_of, Mode};
use super::{ContainerData, ContainerService};
use crate::api::types::network::EndpointRequest;
use crate::api::types::HostConfig;
use crate::error::{EngineError, Result};

/// One link: the linked container's name and the alias it has in the parent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Link {
    pub target: String,
    pub alias: String,
}

/// Reads `NAME`, `NAME:ALIAS` or the stored `/NAME:/PARENT/ALIAS`.
pub fn parse(spec: &str) -> Result<Link> {
    let (name, alias) = match spec.split_once(':') {
        Some((n, a)) => (n, a),
        None => (spec, spec),
    };
    let name = name.trim_start_matches('/');
    // The stored form's alias carries the parent's name: keep its last part.
    let alias = alias.rsplit('/').next().unwrap_or(alias);
    if name.is_empty() || alias.is_empty() {
        return Err(EngineError::invalid(format!("invalid link format: {spec}")));
    }
    Ok(Link {
        target: name.to_string(),
        alias: alias.to_string(),
    })
}

impl Link {
    /// The link's full name, `/PARENT/ALIAS` (what `ALIAS_NAME` holds).
    pub fn full_name(&self, parent: &str) -> String {
        format!("/{}/{}", parent.trim_start_matches('/'), self.alias)
    }

    /// The stored form, `/NAME:/PARENT/ALIAS`.
    pub fn stored(&self, parent: &str) -> String {
        format!("/{}:{}", self.target, self.full_name(parent))
    }
}

/// What the parent learns about one running linked container.
pub struct Linked {
    pub link: Link,
    pub parent: String,
    pub ip: Ipv4Addr,
    /// `80/tcp`-style keys of the linked container's exposed ports.
    pub exposed: Vec<String>,
    pub env: Vec<String>,
    pub hostname: String,
}

fn port_key(key: &str) -> Option<(u16, String)> {
    let (port, proto) = key.split_once('/').unwrap_or((key, "tcp"));
    Some((port.parse().ok()?, proto.to_string()))
}

impl ContainerService {
    /// Checks a create's `HostConfig.Links` and stores them in dockerd's form.
    pub(super) fn check_links(
        &self,
        hc: &mut HostConfig,
        networks: &mut BTreeMap<String, EndpointRequest>,
        parent: &str,
    ) -> Result<()> {
        let Some(specs) = hc.links.as_ref().filter(|l| !l.is_empty()) else {
            return Ok(());
        };
        match mode_of(hc) {
            Mode::Bridge(n) if n == "bridge" => {}
            Mode::Bridge(n) => {
                // A user network: the link is an alias for this container's own lookups, held
                // by the endpoint as dockerd holds it (the docker CLI sends it there too).
                // dockerd keeps no legacy link then, so HostConfig.Links reads back empty.
                let specs = hc.links.take().unwrap_or_default();
                for spec in &specs {
                    parse(spec)?;
                }
                if let Some(ep) = networks.get_mut(&n) {
                    if ep.links.is_empty() {
                        ep.links = specs;
                    }
                }
                return Ok(());
            }
            Mode::Host => {
                return Err(EngineError::invalid(
                    "conflicting options: host type networking can't be used with links. This would result in undefined behavior",
                ))
            }
            Mode::Container(_) => {
                return Err(EngineError::invalid(
                    "conflicting options: container type network can't be used with links. This would result in undefined behavior",
                ))
            }
            Mode::None => {
                return Err(EngineError::invalid(
                    "berthd does not support --link with --network none (HostConfig.Links): the container has no network to reach the linked one on",
                ))
            }
        }
        let mut stored = Vec::new();
        for spec in specs {
            let link = parse(spec)?;
            if self.get(&link.target).is_err() {
                return Err(EngineError::invalid(format!(
                    "could not get container for {}",
                    link.target
                )));
            }
            stored.push(link.stored(parent));
        }
        hc.links = Some(stored);
        Ok(())
    }

    /// Removes the link `/PARENT/ALIAS` from its parent's record (it applies from the next
    /// start, when the parent's /etc/hosts and environment are written again).
    pub fn remove_link(&self, name: &str) -> Result<()> {
        let name = format!("/{}", name.trim_start_matches('/'));
        let (parent, alias) = name.rsplit_once('/').unwrap_or_default();
        if parent.is_empty() {
            return Err(EngineError::Conflict(
                "Conflict, cannot remove the default link name of the container".into(),
            ));
        }
        let c = self.get(parent).map_err(|_| {
            EngineError::NotFound(format!("Cannot get parent {parent} for link name {name}"))
        })?;
        let removed = {
            let mut d = c.lock();
            let links = d.rec.host_config.links.get_or_insert_with(Vec::new);
            let before = links.len();
            links.retain(|l| parse(l).map_or(true, |l| l.alias != alias));
            before != links.len()
        };
        if !removed {
            return Err(EngineError::NotFound(format!("No such container: {name}")));
        }
        c.save_record()
    }

    /// The containers `d` links to, as they run now. With `strict` (at start) a linked container
    /// that is gone or stopped is dockerd's error; otherwise (an exec's environment) it is
    /// skipped.
    pub(crate) fn linked(&self, d: &ContainerData, strict: bool) -> Result<Vec<Linked>> {
        let parent = d.rec.name.trim_start_matches('/').to_string();
        let mut out = Vec::new();
        for spec in d.rec.host_config.links.iter().flatten() {
            let link = parse(spec)?;
            let found = self.get(&link.target).ok().and_then(|c| {
                let t = c.snapshot();
                let ip =
                    t.st.net
                        .as_ref()
                        .and_then(|n| n.endpoints.get("bridge"))
                        .map(|e| e.ip)?;
                t.st.state.is_running().then(|| Linked {
                    ip,
                    exposed: t
                        .rec
                        .config
                        .exposed_ports
                        .as_ref()
                        .map(|p| p.keys().cloned().collect())
                        .unwrap_or_default(),
                    env: t.rec.config.env.clone(),
                    hostname: t.rec.config.hostname.clone(),
                    parent: parent.clone(),
                    link: link.clone(),
                })
            });
            match found {
                Some(l) => out.push(l),
                None if strict => {
                    return Err(EngineError::invalid(format!(
                        "Cannot link to a non running container: /{} AS {}",
                        link.target,
                        link.full_name(&parent)
                    )))
                }
                None => {}
            }
        }
        Ok(out)
    }
}

/// The last index of the run of ports starting at `index` (dockerd's `nextContiguous`, which
/// looks at numbers only).
fn next_contiguous(ports: &[(u16, String)], index: usize) -> usize {
    // The n-th port after `index` continues the run while it is at most start + n.
    let start = u32::from(ports[index].0);
    for (n, (p, _)) in ports.iter().enumerate().skip(index + 1) {
        if u32::from(*p) > start + (n - index) as u32 {
            return n - 1;
        }
    }
    ports.len() - 1
}

impl Linked {
    /// dockerd's link variables (daemon/links: `ToEnv`), contiguous port ranges included.
    pub fn env(&self) -> Vec<String> {
        let alias = self.link.alias.to_uppercase().replace('-', "_");
        let ip = self.ip;
        let mut ports: Vec<(u16, String)> =
            self.exposed.iter().filter_map(|k| port_key(k)).collect();
        // Ports sorted as dockerd's `nat.Sort`: by number, tcp first.
        ports.sort_by(|a, b| {
            a.0.cmp(&b.0)
                .then_with(|| (a.1 != "tcp").cmp(&(b.1 != "tcp")))
        });
        ports.dedup();
        let mut env = Vec::new();
        // The default port: the first after that sort.
        if let Some((p, proto)) = ports.first() {
            env.push(format!("{alias}_PORT={proto}://{ip}:{p}"));
        }
        let mut i = 0;
        while i < ports.len() {
            let j = next_contiguous(&ports, i);
            let (first, proto) = &ports[i];
            let up = proto.to_uppercase();
            // Three or more consecutive ports also get _START/_END variables (dockerd's `j > i+1`).
            if j > i + 1 {
                let (last, last_proto) = &ports[j];
                let last_up = last_proto.to_uppercase();
                env.push(format!(
                    "{alias}_PORT_{first}_{up}_START={proto}://{ip}:{first}"
                ));
                env.push(format!("{alias}_PORT_{first}_{up}_ADDR={ip}"));
                env.push(format!("{alias}_PORT_{first}_{up}_PROTO={proto}"));
                env.push(format!("{alias}_PORT_{first}_{up}_PORT_START={first}"));
                env.push(format!(
                    "{alias}_PORT_{first}_{last_up}_END={last_proto}://{ip}:{last}"
                ));
                env.push(format!("{alias}_PORT_{first}_{last_up}_PORT_END={last}"));
            }
            for (p, proto) in &ports[i..=j] {
                let up = proto.to_uppercase();
                env.push(format!("{alias}_PORT_{p}_{up}={proto}://{ip}:{p}"));
                env.push(format!("{alias}_PORT_{p}_{up}_ADDR={ip}"));
                env.push(format!("{alias}_PORT_{p}_{up}_PORT={p}"));
                env.push(format!("{alias}_PORT_{p}_{up}_PROTO={proto}"));
            }
            i = j + 1;
        }
        env.push(format!(
            "{alias}_NAME={}",
            self.link.full_name(&self.parent)
        ));
        for e in &self.env {
            let Some((k, v)) = e.split_once('=') else {
                continue;
            };
            // As dockerd: what builds add everywhere says nothing about the linked container.
            if k == "HOME" || k == "PATH" {
                continue;
            }
            env.push(format!("{alias}_ENV_{k}={v}"));
        }
        env
    }

    /// The parent's `/etc/hosts` names for the linked container: alias, hostname, and its name
    /// when that differs from the alias.
    pub fn host_names(&self) -> String {
        let mut names = format!("{} {}", self.link.alias, self.hostname);
        if self.link.alias != self.link.target {
            names.push(' ');
            names.push_str(&self.link.target);
        }
        names
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_parse_in_the_clis_and_the_stored_forms() {
        let l = parse("peer:db").unwrap();
        assert_eq!((l.target.as_str(), l.alias.as_str()), ("peer", "db"));
        assert_eq!(l.stored("/web"), "/peer:/web/db");
        assert_eq!(parse("/peer:/web/db").unwrap(), l);
        let same = parse("peer").unwrap();
        assert_eq!(same.alias, "peer");
        assert!(parse(":db").is_err());
        assert!(parse("peer:").is_err());
    }

    #[test]
    fn the_environment_is_dockerds() {
        let link = parse("db-main:db-main").unwrap();
        let child_env = vec![
            "PATH=/bin".to_string(),
            "PASSWORD=secret".to_string(),
            "HOME=/root".to_string(),
        ];
        let l = Linked {
            link,
            parent: "web".into(),
            ip: Ipv4Addr::new(172, 17, 0, 2),
            exposed: vec!["5432/tcp".into(), "53/udp".into()],
            env: child_env,
            hostname: "abc123".into(),
        };
        assert_eq!(
            l.env(),
            [
                "DB_MAIN_PORT=udp://172.17.0.2:53",
                "DB_MAIN_PORT_53_UDP=udp://172.17.0.2:53",
                "DB_MAIN_PORT_53_UDP_ADDR=172.17.0.2",
                "DB_MAIN_PORT_53_UDP_PORT=53",
                "DB_MAIN_PORT_53_UDP_PROTO=udp",
                "DB_MAIN_PORT_5432_TCP=tcp://172.17.0.2:5432",
                "DB_MAIN_PORT_5432_TCP_ADDR=172.17.0.2",
                "DB_MAIN_PORT_5432_TCP_PORT=5432",
                "DB_MAIN_PORT_5432_TCP_PROTO=tcp",
                "DB_MAIN_NAME=/web/db-main",
                "DB_MAIN_ENV_PASSWORD=secret",
            ]
        );
        assert_eq!(l.host_names(), "db-main abc123");
    }

    #[test]
    fn consecutive_ports_also_get_a_range() {
        let link = parse("peer:p").unwrap();
        let l = Linked {
            link,
            parent: "web".into(),
            ip: Ipv4Addr::new(10, 0, 0, 3),
            exposed: vec!["81/tcp".into(), "80/tcp".into(), "82/tcp".into()],
            env: Vec::new(),
            hostname: "h".into(),
        };
        let env = l.env();
        assert_eq!(env[0], "P_PORT=tcp://10.0.0.3:80");
        assert!(env.contains(&"P_PORT_80_TCP_START=tcp://10.0.0.3:80".to_string()));
        assert!(env.contains(&"P_PORT_80_TCP_PORT_END=82".to_string()));
        assert!(env.contains(&"P_PORT_80_TCP_END=tcp://10.0.0.3:82".to_string()));
        assert!(env.contains(&"P_PORT_81_TCP_ADDR=10.0.0.3".to_string()));
        assert_eq!(l.host_names(), "p h peer");
    }
}
