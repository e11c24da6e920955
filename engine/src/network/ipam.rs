//! IPv4 address management: picking subnets that clash with nothing on the host, and
//! addresses inside a subnet.

use std::collections::HashSet;
use std::net::Ipv4Addr;

use ipnet::Ipv4Net;

/// Subnets routed on the host right now (`/proc/net/route`), so a new network never shadows a
/// route the host uses (dockerd checks the same).
pub fn host_routes() -> Vec<Ipv4Net> {
    let Ok(text) = std::fs::read_to_string("/proc/net/route") else {
        return vec![];
    };
    text.lines()
        .skip(1)
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            let dest = u32::from_str_radix(f.get(1)?, 16).ok()?;
            let mask = u32::from_str_radix(f.get(7)?, 16).ok()?;
            if mask == 0 {
                return None; // the default route overlaps everything; it is not a clash
            }
            // The kernel prints the address's bytes as a little-endian word.
            let dest = Ipv4Addr::from(dest.to_le_bytes());
            let prefix = mask.count_ones() as u8;
            Ipv4Net::new(dest, prefix).ok().map(|n| n.trunc())
        })
        .collect()
}

pub fn overlaps(a: &Ipv4Net, b: &Ipv4Net) -> bool {
    a.contains(&b.network()) || b.contains(&a.network())
}

/// The first `size`-prefix subnet of `pool` that overlaps none of `taken`.
pub fn pick_subnet(pool: &Ipv4Net, size: u8, taken: &[Ipv4Net]) -> Option<Ipv4Net> {
    pool.subnets(size)
        .ok()?
        .find(|s| !taken.iter().any(|t| overlaps(s, t)))
}

/// The gateway dockerd picks: the first host address.
pub fn default_gateway(subnet: &Ipv4Net) -> Option<Ipv4Addr> {
    subnet.hosts().next()
}

/// The lowest free host address of `subnet`, skipping the gateway and `used`.
pub fn allocate(subnet: &Ipv4Net, gateway: Ipv4Addr, used: &HashSet<Ipv4Addr>) -> Option<Ipv4Addr> {
    subnet.hosts().find(|a| *a != gateway && !used.contains(a))
}

/// Docker derives a container's MAC from its address: 02:42 followed by the four octets.
pub fn mac_for(ip: Ipv4Addr) -> [u8; 6] {
    let o = ip.octets();
    [0x02, 0x42, o[0], o[1], o[2], o[3]]
}

/// A 6-byte MAC as Go's `net.ParseMAC` reads one: `02:42:ac:11:00:02`, `02-42-ac-11-00-02` or
/// `0242.ac11.0002`.
pub fn parse_mac(s: &str) -> Option<[u8; 6]> {
    let hex: String = if s.len() == 14 && s.as_bytes()[4] == b'.' && s.as_bytes()[9] == b'.' {
        s.split('.').collect()
    } else if s.len() == 17 {
        let sep = s.as_bytes()[2];
        if sep != b':' && sep != b'-' {
            return None;
        }
        let parts: Vec<&str> = s.split(sep as char).collect();
        if parts.len() != 6 || parts.iter().any(|p| p.len() != 2) {
            return None;
        }
        parts.concat()
    } else {
        return None;
    };
    if hex.len() != 12 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let mut mac = [0u8; 6];
    for (i, b) in mac.iter_mut().enumerate() {
        *b = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).ok()?;
    }
    Some(mac)
}

pub fn mac_string(mac: [u8; 6]) -> String {
    mac.iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn macs_parse_in_gos_three_forms() {
        let want = Some([0x02, 0x42, 0xac, 0x11, 0x00, 0x99]);
        assert_eq!(parse_mac("02:42:ac:11:00:99"), want);
        assert_eq!(parse_mac("02-42-AC-11-00-99"), want);
        assert_eq!(parse_mac("0242.ac11.0099"), want);
        for bad in [
            "",
            "02:42:ac:11:00",
            "02:42:ac:11:00:9g",
            "02:42-ac:11:00:99",
            "0242ac110099",
        ] {
            assert_eq!(parse_mac(bad), None, "{bad}");
        }
    }

    #[test]
    fn picks_the_first_free_subnet() {
        let pool: Ipv4Net = "172.17.0.0/16".parse().unwrap();
        let taken: Vec<Ipv4Net> = vec!["172.17.0.0/24".parse().unwrap()];
        assert_eq!(
            pick_subnet(&pool, 24, &taken).unwrap().to_string(),
            "172.17.1.0/24"
        );
        let all: Vec<Ipv4Net> = vec!["172.16.0.0/12".parse().unwrap()];
        assert!(pick_subnet(&pool, 24, &all).is_none());
    }

    #[test]
    fn allocates_around_gateway_and_used() {
        let s: Ipv4Net = "10.5.0.0/29".parse().unwrap();
        let gw = default_gateway(&s).unwrap();
        assert_eq!(gw.to_string(), "10.5.0.1");
        let mut used = HashSet::new();
        let a = allocate(&s, gw, &used).unwrap();
        assert_eq!(a.to_string(), "10.5.0.2");
        used.insert(a);
        assert_eq!(allocate(&s, gw, &used).unwrap().to_string(), "10.5.0.3");
        for i in 2..=6 {
            used.insert(Ipv4Addr::new(10, 5, 0, i));
        }
        assert!(allocate(&s, gw, &used).is_none());
    }

    #[test]
    fn mac_follows_address() {
        assert_eq!(
            mac_string(mac_for(Ipv4Addr::new(172, 17, 0, 2))),
            "02:42:ac:11:00:02"
        );
    }

    #[test]
    fn host_routes_parse() {
        // Whatever the host has, every entry is a proper network.
        for r in host_routes() {
            assert_eq!(r, r.trunc());
        }
    }
}
