//! Published ports: which host ports a container asks for, and holding them. Each published
//! port is reserved by a socket bound on the host (never listening: the NAT rules deliver the
//! traffic), so a port the host or another container uses is refused at start, like dockerd.

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};

use serde::{Deserialize, Serialize};
use socket2::{Domain, Protocol, Socket, Type};

use crate::api::types::PortBinding;

/// A port as it was published: container side and the host side actually bound.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PortMapping {
    /// `tcp` or `udp`.
    pub proto: String,
    pub port: u16,
    /// `0.0.0.0` for every address of the host.
    pub host_ip: Ipv4Addr,
    pub host_port: u16,
}

impl PortMapping {
    /// `80/tcp`, the key dockerd uses.
    pub fn key(&self) -> String {
        format!("{}/{}", self.port, self.proto)
    }
}

/// Splits `80/tcp` (protocol optional, tcp by default).
pub fn parse_port_key(key: &str) -> Result<(u16, String), String> {
    let (port, proto) = key.split_once('/').unwrap_or((key, "tcp"));
    let proto = proto.to_ascii_lowercase();
    if !matches!(proto.as_str(), "tcp" | "udp") {
        return Err(format!("invalid proto: {proto}"));
    }
    let port: u16 = port
        .parse()
        .ok()
        .filter(|p| *p > 0)
        .ok_or_else(|| format!("invalid port specification: \"{key}\""))?;
    Ok((port, proto))
}

/// A wanted host side: address and port (0 = any free port).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Wanted {
    pub proto: String,
    pub port: u16,
    pub host_ip: Ipv4Addr,
    pub host_port: u16,
}

/// The ports to publish from `PortBindings`, plus each exposed port when `-P` asked for all.
pub fn wanted(
    bindings: &BTreeMap<String, Option<Vec<PortBinding>>>,
    publish_all: bool,
    exposed: &[String],
) -> Result<Vec<Wanted>, String> {
    let mut out = Vec::new();
    for (key, list) in bindings {
        let (port, proto) = parse_port_key(key)?;
        let list = list.clone().unwrap_or_default();
        let list = if list.is_empty() {
            vec![PortBinding::default()]
        } else {
            list
        };
        for b in list {
            let host_ip = if b.host_ip.is_empty() {
                Ipv4Addr::UNSPECIFIED
            } else {
                b.host_ip
                    .parse::<Ipv4Addr>()
                    .map_err(|_| format!("invalid host IP address for port {key}: {}", b.host_ip))?
            };
            let host_port = parse_host_port(&b.host_port)?;
            out.push(Wanted {
                proto: proto.clone(),
                port,
                host_ip,
                host_port,
            });
        }
    }
    if publish_all {
        for key in exposed {
            let (port, proto) = parse_port_key(key)?;
            if !out.iter().any(|w| w.port == port && w.proto == proto) {
                out.push(Wanted {
                    proto,
                    port,
                    host_ip: Ipv4Addr::UNSPECIFIED,
                    host_port: 0,
                });
            }
        }
    }
    Ok(out)
}

/// `80` or `8000-8010` as an inclusive range, as Go's `nat.ParsePortRange` reads it; None when
/// malformed or reversed.
pub fn port_range(ports: &str) -> Option<(u16, u16)> {
    let (lo, hi) = match ports.split_once('-') {
        Some((a, b)) => (a.parse::<u16>().ok()?, b.parse::<u16>().ok()?),
        None => {
            let p = ports.parse::<u16>().ok()?;
            (p, p)
        }
    };
    (lo <= hi).then_some((lo, hi))
}

/// `8080`, empty (any port), or the first port of a `8080-8090` range.
fn parse_host_port(s: &str) -> Result<u16, String> {
    let s = s.trim();
    if s.is_empty() {
        return Ok(0);
    }
    let first = s.split_once('-').map(|(a, _)| a).unwrap_or(s);
    first
        .parse::<u16>()
        .map_err(|_| format!("invalid port specification: \"{s}\""))
}

/// Sockets that hold a container's host ports while it runs.
#[derive(Debug)]
pub struct Reservation {
    _sockets: Vec<Socket>,
}

/// Binds every wanted port; all or nothing. Port 0 gets a free port from the kernel.
pub fn reserve(wanted: &[Wanted]) -> Result<(Vec<PortMapping>, Reservation), String> {
    let mut sockets = Vec::new();
    let mut maps = Vec::new();
    for w in wanted {
        let (ty, proto) = if w.proto == "udp" {
            (Type::DGRAM, Protocol::UDP)
        } else {
            (Type::STREAM, Protocol::TCP)
        };
        let addr = SocketAddr::V4(SocketAddrV4::new(w.host_ip, w.host_port));
        let sock = Socket::new(Domain::IPV4, ty, Some(proto))
            .map_err(|e| format!("creating a socket for {addr}: {e}"))?;
        sock.bind(&addr.into()).map_err(|e| {
            if e.kind() == std::io::ErrorKind::AddrInUse {
                format!(
                    "Bind for {}:{} failed: port is already allocated",
                    w.host_ip, w.host_port
                )
            } else {
                format!("listen {} {addr}: bind: {e}", w.proto)
            }
        })?;
        let host_port = sock
            .local_addr()
            .ok()
            .and_then(|a| a.as_socket())
            .map(|a| a.port())
            .unwrap_or(w.host_port);
        sockets.push(sock);
        maps.push(PortMapping {
            proto: w.proto.clone(),
            port: w.port,
            host_ip: w.host_ip,
            host_port,
        });
    }
    Ok((maps, Reservation { _sockets: sockets }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pb(ip: &str, port: &str) -> PortBinding {
        PortBinding {
            host_ip: ip.into(),
            host_port: port.into(),
        }
    }

    #[test]
    fn bindings_and_publish_all() {
        let mut b = BTreeMap::new();
        b.insert("80/tcp".to_string(), Some(vec![pb("", "8080")]));
        b.insert("53/udp".to_string(), Some(vec![pb("127.0.0.1", "")]));
        let w = wanted(&b, true, &["80/tcp".into(), "443/tcp".into()]).unwrap();
        assert_eq!(w.len(), 3);
        assert!(w.contains(&Wanted {
            proto: "udp".into(),
            port: 53,
            host_ip: Ipv4Addr::LOCALHOST,
            host_port: 0
        }));
        assert!(w.iter().any(|x| x.port == 443 && x.host_port == 0));
        assert!(wanted(&BTreeMap::from([("x/tcp".to_string(), None)]), false, &[]).is_err());
        assert!(parse_port_key("80/sctp").is_err());
    }

    #[test]
    fn reservation_is_exclusive_and_all_or_nothing() {
        let (maps, held) = reserve(&[Wanted {
            proto: "tcp".into(),
            port: 80,
            host_ip: Ipv4Addr::LOCALHOST,
            host_port: 0,
        }])
        .unwrap();
        let port = maps[0].host_port;
        assert_ne!(port, 0);
        let again = reserve(&[Wanted {
            proto: "tcp".into(),
            port: 80,
            host_ip: Ipv4Addr::LOCALHOST,
            host_port: port,
        }]);
        assert!(again.unwrap_err().contains("port is already allocated"));
        drop(held);
        assert!(reserve(&[Wanted {
            proto: "tcp".into(),
            port: 80,
            host_ip: Ipv4Addr::LOCALHOST,
            host_port: port,
        }])
        .is_ok());
    }
}
