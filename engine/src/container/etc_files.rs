//! The /etc/hostname, /etc/hosts and /etc/resolv.conf that dockerd bind-mounts into each container.

use std::path::{Path, PathBuf};

use anyhow::Context;

pub struct EtcFiles {
    pub hostname: PathBuf,
    pub hosts: PathBuf,
    pub resolv_conf: PathBuf,
}

/// What decides the contents of a container's /etc files.
#[derive(Default)]
pub struct EtcInput<'a> {
    pub hostname: &'a str,
    pub domainname: &'a str,
    pub host_network: bool,
    /// The container's own addresses, mapped to its hostname in /etc/hosts.
    pub addresses: Vec<std::net::Ipv4Addr>,
    /// `--add-host` entries, already resolved: (names, address).
    pub extra_hosts: Vec<(String, String)>,
    /// On a user-defined network the embedded DNS server at 127.0.0.11 answers.
    pub embedded_dns: bool,
    pub dns: &'a [String],
    pub dns_search: &'a [String],
    pub dns_options: &'a [String],
}

/// The container's resolv.conf. Host nameservers on loopback (e.g. systemd-resolved's
/// 127.0.0.53) cannot be reached from a container's own network namespace, so they are
/// dropped, as dockerd does.
pub fn container_resolv_conf(host: &str, input: &EtcInput) -> String {
    if input.host_network && input.dns.is_empty() && input.dns_search.is_empty() {
        return host.to_string();
    }
    let mut servers: Vec<String> = Vec::new();
    let mut search: Vec<String> = Vec::new();
    let mut options: Vec<String> = Vec::new();
    for line in host.lines() {
        let mut f = line.split_whitespace();
        match f.next() {
            Some("nameserver") => {
                if let Some(addr) = f.next() {
                    let loopback = addr
                        .parse::<std::net::IpAddr>()
                        .map(|ip| ip.is_loopback())
                        .unwrap_or(false);
                    if !loopback || input.host_network {
                        servers.push(addr.to_string());
                    }
                }
            }
            Some("search") | Some("domain") => search = f.map(str::to_string).collect(),
            Some("options") => options.extend(f.map(str::to_string)),
            _ => {}
        }
    }
    if !input.dns.is_empty() {
        servers = input.dns.to_vec();
    }
    if !input.dns_search.is_empty() {
        search = input
            .dns_search
            .iter()
            .filter(|s| *s != ".")
            .cloned()
            .collect();
    }
    if !input.dns_options.is_empty() {
        options = input.dns_options.to_vec();
    }
    if input.embedded_dns {
        // The embedded server forwards to the real resolvers itself.
        servers = vec![crate::network::dns::RESOLVER_IP.to_string()];
        if !options.iter().any(|o| o.starts_with("ndots:")) {
            options.push("ndots:0".into());
        }
    } else if servers.is_empty() {
        // dockerd's fallback when the host has no usable resolver.
        servers = vec!["8.8.8.8".into(), "8.8.4.4".into()];
    }
    let mut out = String::new();
    for s in servers {
        out.push_str(&format!("nameserver {s}\n"));
    }
    if !search.is_empty() {
        out.push_str(&format!("search {}\n", search.join(" ")));
    }
    if !options.is_empty() {
        out.push_str(&format!("options {}\n", options.join(" ")));
    }
    out
}

/// The container's /etc/hosts, laid out as dockerd writes it.
pub fn container_hosts(input: &EtcInput) -> String {
    let mut out = String::from(
        "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\nfe00::0\tip6-localnet\nff00::0\tip6-mcastprefix\nff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n",
    );
    for (names, ip) in &input.extra_hosts {
        out.push_str(&format!("{ip}\t{names}\n"));
    }
    let names = if input.domainname.is_empty() {
        input.hostname.to_string()
    } else {
        format!("{0}.{1} {0}", input.hostname, input.domainname)
    };
    if input.addresses.is_empty() {
        out.push_str(&format!("127.0.1.1\t{names}\n"));
    }
    for ip in &input.addresses {
        out.push_str(&format!("{ip}\t{names}\n"));
    }
    out
}

/// Rewrites a running container's resolv.conf in place (it is bind-mounted: same inode), e.g.
/// when connecting it to a user network switches the embedded DNS server on.
pub fn rewrite_resolv_conf(dir: &Path, input: &EtcInput) -> anyhow::Result<()> {
    let host_resolv = std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
    std::fs::write(
        dir.join("resolv.conf"),
        container_resolv_conf(&host_resolv, input),
    )
    .context("rewriting resolv.conf")
}

pub fn write(dir: &Path, input: &EtcInput) -> anyhow::Result<EtcFiles> {
    let files = EtcFiles {
        hostname: dir.join("hostname"),
        hosts: dir.join("hosts"),
        resolv_conf: dir.join("resolv.conf"),
    };
    std::fs::write(&files.hostname, format!("{}\n", input.hostname)).context("writing hostname")?;
    let hosts = if input.host_network {
        let mut h = std::fs::read_to_string("/etc/hosts").unwrap_or_default();
        for (names, ip) in &input.extra_hosts {
            h.push_str(&format!("{ip}\t{names}\n"));
        }
        h
    } else {
        container_hosts(input)
    };
    std::fs::write(&files.hosts, hosts).context("writing hosts")?;
    let host_resolv = std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
    std::fs::write(
        &files.resolv_conf,
        container_resolv_conf(&host_resolv, input),
    )
    .context("writing resolv.conf")?;
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_resolvers_are_dropped() {
        let bridge = EtcInput::default();
        let r = container_resolv_conf("nameserver 127.0.0.53\nsearch lan\n", &bridge);
        assert!(!r.contains("127.0.0.53"));
        assert!(r.contains("search lan"));
        let r = container_resolv_conf("nameserver 10.1.2.3\n", &bridge);
        assert_eq!(r, "nameserver 10.1.2.3\n");
        let host = EtcInput {
            host_network: true,
            ..Default::default()
        };
        let r = container_resolv_conf("nameserver 127.0.0.53\n", &host);
        assert!(r.contains("127.0.0.53"));
    }

    #[test]
    fn user_networks_use_the_embedded_server_and_flags_override() {
        let dns = vec!["10.9.9.9".to_string()];
        let search = vec!["corp.test".to_string()];
        let input = EtcInput {
            embedded_dns: true,
            dns: &dns,
            dns_search: &search,
            ..Default::default()
        };
        let r = container_resolv_conf("nameserver 10.1.2.3\nsearch lan\n", &input);
        assert_eq!(
            r,
            "nameserver 127.0.0.11\nsearch corp.test\noptions ndots:0\n"
        );
        let input = EtcInput {
            dns: &dns,
            ..Default::default()
        };
        assert!(container_resolv_conf("nameserver 10.1.2.3\n", &input)
            .starts_with("nameserver 10.9.9.9\n"));
    }

    #[test]
    fn hosts_map_addresses_and_extra_hosts() {
        let input = EtcInput {
            hostname: "web",
            addresses: vec![std::net::Ipv4Addr::new(172, 18, 0, 2)],
            extra_hosts: vec![("db".into(), "10.0.0.5".into())],
            ..Default::default()
        };
        let h = container_hosts(&input);
        assert!(h.contains("172.18.0.2\tweb\n"));
        assert!(h.contains("10.0.0.5\tdb\n"));
        assert!(!h.contains("127.0.1.1"));
    }
}
