//! The engine's packet filtering and NAT, as one nftables table that is rebuilt whole and
//! replaced atomically (`nft -f`) whenever networks or published ports change. The table is a
//! pure function of the engine's state, so a restart (or a kill -9 mid-change) converges by
//! simply applying it again.

use std::fmt::Write as _;
use std::net::Ipv4Addr;

use anyhow::{anyhow, Context};
use ipnet::Ipv4Net;

/// A bridge network as the firewall sees it.
#[derive(Clone, Debug)]
pub struct BridgeRules {
    pub bridge: String,
    pub subnet: Ipv4Net,
    pub internal: bool,
}

/// One published port: traffic to the host's `host_ip:host_port` goes to `ip:port`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Forward {
    pub proto: String,
    /// None: every address of the host.
    pub host_ip: Option<Ipv4Addr>,
    pub host_port: u16,
    pub ip: Ipv4Addr,
    pub port: u16,
}

#[derive(Clone, Debug, Default)]
pub struct Ruleset {
    pub bridges: Vec<BridgeRules>,
    pub forwards: Vec<Forward>,
}

impl Ruleset {
    /// nft script that replaces table `ip <table>` with this ruleset in one transaction.
    pub fn script(&self, table: &str) -> String {
        let mut s = String::new();
        // Declaring first makes the delete valid whether or not the table exists.
        let _ = writeln!(
            s,
            "table ip {table}\ndelete table ip {table}\ntable ip {table} {{"
        );

        s.push_str("  chain published {\n");
        for f in &self.forwards {
            let daddr = f
                .host_ip
                .map(|ip| format!("ip daddr {ip} "))
                .unwrap_or_default();
            let _ = writeln!(
                s,
                "    {daddr}{} dport {} dnat to {}:{}",
                f.proto, f.host_port, f.ip, f.port
            );
        }
        s.push_str("  }\n");

        s.push_str(
            "  chain prerouting {\n    type nat hook prerouting priority dstnat; policy accept;\n    fib daddr type local jump published\n  }\n",
        );
        s.push_str(
            "  chain output {\n    type nat hook output priority -100; policy accept;\n    fib daddr type local jump published\n  }\n",
        );

        s.push_str("  chain postrouting {\n    type nat hook postrouting priority srcnat; policy accept;\n");
        for b in &self.bridges {
            if !b.internal {
                // Outbound traffic leaves with the host's address.
                let _ = writeln!(
                    s,
                    "    ip saddr {} oifname != \"{}\" masquerade",
                    b.subnet, b.bridge
                );
            }
            // Published ports reached from the host's loopback or from a container on the same
            // bridge (hairpin) must come back through the host.
            let _ = writeln!(
                s,
                "    oifname \"{}\" ip saddr 127.0.0.0/8 masquerade",
                b.bridge
            );
            let _ = writeln!(
                s,
                "    oifname \"{}\" ip saddr {} ct status dnat masquerade",
                b.bridge, b.subnet
            );
        }
        s.push_str("  }\n");

        s.push_str(
            "  chain forward {\n    type filter hook forward priority filter; policy accept;\n",
        );
        for b in &self.bridges {
            if b.internal {
                let _ = writeln!(
                    s,
                    "    iifname \"{0}\" oifname != \"{0}\" drop\n    oifname \"{0}\" iifname != \"{0}\" drop",
                    b.bridge
                );
            }
            let others: Vec<String> = self
                .bridges
                .iter()
                .filter(|o| o.bridge != b.bridge)
                .map(|o| format!("\"{}\"", o.bridge))
                .collect();
            if !others.is_empty() {
                // Networks are isolated from each other, as dockerd's DOCKER-ISOLATION chains do.
                let _ = writeln!(
                    s,
                    "    iifname \"{}\" oifname {{ {} }} drop",
                    b.bridge,
                    others.join(", ")
                );
            }
        }
        s.push_str("  }\n}\n");
        s
    }
}

/// Applies `script` with `nft -f -`. nftables has no maintained Rust netlink binding that covers
/// NAT, and nft's own parser makes the whole replacement one kernel transaction.
pub async fn apply(script: &str) -> anyhow::Result<()> {
    run_nft(script).await
}

/// Removes the table (used when the engine is reset; leaving it in place is the normal case).
pub async fn delete_table(table: &str) -> anyhow::Result<()> {
    run_nft(&format!("table ip {table}\ndelete table ip {table}\n")).await
}

async fn run_nft(script: &str) -> anyhow::Result<()> {
    use tokio::io::AsyncWriteExt;
    let mut child = tokio::process::Command::new(nft_binary())
        .args(["-f", "-"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .context("running nft (is the nftables package installed?)")?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin.write_all(script.as_bytes()).await?;
    }
    let out = child.wait_with_output().await.context("waiting for nft")?;
    if !out.status.success() {
        return Err(anyhow!(
            "nft failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(())
}

fn nft_binary() -> &'static str {
    for p in ["/usr/sbin/nft", "/sbin/nft", "/usr/bin/nft"] {
        if std::path::Path::new(p).exists() {
            return p;
        }
    }
    "nft"
}

/// The table name for a data root: `berth` for the default one, otherwise suffixed with a hash of
/// the path so that engines on different data roots never touch each other's rules.
pub fn table_name(data_root: &std::path::Path, default_root: &std::path::Path) -> String {
    if data_root == default_root {
        return "berth".into();
    }
    use sha2::Digest;
    let h = sha2::Sha256::digest(data_root.to_string_lossy().as_bytes());
    format!("berth_{}", &hex::encode(h)[..8])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Ruleset {
        Ruleset {
            bridges: vec![
                BridgeRules {
                    bridge: "berth0".into(),
                    subnet: "172.17.0.0/16".parse().unwrap(),
                    internal: false,
                },
                BridgeRules {
                    bridge: "br-abc".into(),
                    subnet: "172.18.0.0/16".parse().unwrap(),
                    internal: true,
                },
            ],
            forwards: vec![Forward {
                proto: "tcp".into(),
                host_ip: None,
                host_port: 8080,
                ip: "172.17.0.2".parse().unwrap(),
                port: 80,
            }],
        }
    }

    #[test]
    fn script_has_nat_isolation_and_ports() {
        let s = sample().script("berth_t");
        assert!(s.starts_with("table ip berth_t\ndelete table ip berth_t\n"));
        assert!(s.contains("tcp dport 8080 dnat to 172.17.0.2:80"));
        assert!(s.contains("ip saddr 172.17.0.0/16 oifname != \"berth0\" masquerade"));
        // Internal networks get no masquerade and are fenced in.
        assert!(!s.contains("ip saddr 172.18.0.0/16 oifname != \"br-abc\" masquerade"));
        assert!(s.contains("iifname \"br-abc\" oifname != \"br-abc\" drop"));
        assert!(s.contains("iifname \"berth0\" oifname { \"br-abc\" } drop"));
    }

    #[tokio::test]
    async fn nft_accepts_the_script() {
        if !nix::unistd::Uid::effective().is_root() || !std::path::Path::new(nft_binary()).exists()
        {
            return;
        }
        let table = format!("berth_unit{}", std::process::id());
        apply(&sample().script(&table)).await.unwrap();
        // Applying twice replaces rather than duplicates.
        apply(&sample().script(&table)).await.unwrap();
        let out = std::process::Command::new(nft_binary())
            .args(["list", "table", "ip", &table])
            .output()
            .unwrap();
        let listed = String::from_utf8_lossy(&out.stdout);
        assert_eq!(listed.matches("dnat to 172.17.0.2:80").count(), 1);
        delete_table(&table).await.unwrap();
    }
}
