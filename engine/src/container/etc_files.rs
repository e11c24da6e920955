//! The /etc/hostname, /etc/hosts and /etc/resolv.conf that dockerd bind-mounts into each container.

use std::path::{Path, PathBuf};

use anyhow::Context;

pub struct EtcFiles {
    pub hostname: PathBuf,
    pub hosts: PathBuf,
    pub resolv_conf: PathBuf,
}

/// Host nameservers on loopback (e.g. systemd-resolved's 127.0.0.53) cannot be reached from a
/// container's own network namespace, so they are dropped, as dockerd does.
pub fn container_resolv_conf(host: &str, host_network: bool) -> String {
    if host_network {
        return host.to_string();
    }
    let mut out = String::new();
    let mut servers = 0;
    for line in host.lines() {
        let t = line.trim();
        if let Some(addr) = t.strip_prefix("nameserver") {
            let addr = addr.trim();
            let loopback = addr
                .parse::<std::net::IpAddr>()
                .map(|ip| ip.is_loopback())
                .unwrap_or(false);
            if loopback {
                continue;
            }
            servers += 1;
        }
        out.push_str(line);
        out.push('\n');
    }
    if servers == 0 {
        // dockerd's fallback when the host has no usable resolver.
        out.push_str("nameserver 8.8.8.8\nnameserver 8.8.4.4\n");
    }
    out
}

pub fn write(
    dir: &Path,
    hostname: &str,
    domainname: &str,
    host_network: bool,
) -> anyhow::Result<EtcFiles> {
    let files = EtcFiles {
        hostname: dir.join("hostname"),
        hosts: dir.join("hosts"),
        resolv_conf: dir.join("resolv.conf"),
    };
    std::fs::write(&files.hostname, format!("{hostname}\n")).context("writing hostname")?;
    let hosts = if host_network {
        std::fs::read_to_string("/etc/hosts").unwrap_or_default()
    } else {
        let fqdn = if domainname.is_empty() {
            hostname.to_string()
        } else {
            format!("{hostname}.{domainname} {hostname}")
        };
        format!(
            "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\nfe00::0\tip6-localnet\nff00::0\tip6-mcastprefix\nff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n127.0.1.1\t{fqdn}\n"
        )
    };
    std::fs::write(&files.hosts, hosts).context("writing hosts")?;
    let host_resolv = std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
    std::fs::write(
        &files.resolv_conf,
        container_resolv_conf(&host_resolv, host_network),
    )
    .context("writing resolv.conf")?;
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_resolvers_are_dropped() {
        let r = container_resolv_conf("nameserver 127.0.0.53\nsearch lan\n", false);
        assert!(!r.contains("127.0.0.53"));
        assert!(r.contains("search lan"));
        let r = container_resolv_conf("nameserver 10.1.2.3\n", false);
        assert_eq!(r, "nameserver 10.1.2.3\n");
        let r = container_resolv_conf("nameserver 127.0.0.53\n", true);
        assert!(r.contains("127.0.0.53"));
    }
}
