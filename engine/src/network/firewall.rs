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

/// Which kernel interface carries the rules (dockerd's `--firewall-backend`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Nftables,
    /// For hosts without the `nft` tool: the same rules as iptables chains of our own.
    Iptables,
}

impl Backend {
    /// `auto` picks nftables when `nft` is installed, else iptables.
    pub fn parse(s: &str) -> anyhow::Result<Backend> {
        match s {
            "" | "auto" => Ok(
                if find_binary(&["/usr/sbin/nft", "/sbin/nft", "/usr/bin/nft"]).is_some() {
                    Backend::Nftables
                } else {
                    Backend::Iptables
                },
            ),
            "nftables" => Ok(Backend::Nftables),
            "iptables" => Ok(Backend::Iptables),
            other => Err(anyhow!(
                "--firewall-backend {other}: expected nftables, iptables or auto"
            )),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Backend::Nftables => "nftables",
            Backend::Iptables => "iptables",
        }
    }
}

/// Replaces the engine's rules (named after `table`) with `rules` on `backend`.
pub async fn replace(backend: Backend, table: &str, rules: &Ruleset) -> anyhow::Result<()> {
    match backend {
        Backend::Nftables => apply(&rules.script(table)).await,
        Backend::Iptables => {
            let chains = IptChains::new(table);
            run_tool(
                iptables_restore_binary(),
                &["--noflush"],
                &rules.iptables_script(&chains),
            )
            .await?;
            chains.ensure_jumps().await
        }
    }
}

/// The iptables chains standing in for the nftables table `table`.
pub struct IptChains {
    pub dnat: String,
    pub post: String,
    pub forward: String,
}

impl IptChains {
    pub fn new(table: &str) -> IptChains {
        let base = table.to_ascii_uppercase();
        IptChains {
            dnat: format!("{base}-DNAT"),
            post: format!("{base}-POST"),
            forward: format!("{base}-FWD"),
        }
    }

    /// (table, built-in chain, rule) jumps into our chains, added once each.
    fn jumps(&self) -> Vec<(&'static str, &'static str, Vec<String>)> {
        let local = |chain: &str| {
            vec![
                "-m".into(),
                "addrtype".into(),
                "--dst-type".into(),
                "LOCAL".into(),
                "-j".into(),
                chain.to_string(),
            ]
        };
        vec![
            ("nat", "PREROUTING", local(&self.dnat)),
            ("nat", "OUTPUT", local(&self.dnat)),
            ("nat", "POSTROUTING", vec!["-j".into(), self.post.clone()]),
            ("filter", "FORWARD", vec!["-j".into(), self.forward.clone()]),
        ]
    }

    async fn ensure_jumps(&self) -> anyhow::Result<()> {
        let ipt = iptables_binary();
        for (table, chain, rule) in self.jumps() {
            let mut check = vec!["-w", "-t", table, "-C", chain];
            check.extend(rule.iter().map(String::as_str));
            if run_tool(ipt, &check, "").await.is_ok() {
                continue;
            }
            let mut insert = vec!["-w", "-t", table, "-I", chain, "1"];
            insert.extend(rule.iter().map(String::as_str));
            run_tool(ipt, &insert, "").await?;
        }
        Ok(())
    }

    /// Removes the jumps and the chains (the tests' clean-up; leaving them is the normal case).
    #[cfg(test)]
    pub async fn remove(&self) {
        let ipt = iptables_binary();
        for (table, chain, rule) in self.jumps() {
            let mut del = vec!["-w", "-t", table, "-D", chain];
            del.extend(rule.iter().map(String::as_str));
            while run_tool(ipt, &del, "").await.is_ok() {}
        }
        for (table, chain) in [
            ("nat", &self.dnat),
            ("nat", &self.post),
            ("filter", &self.forward),
        ] {
            let _ = run_tool(ipt, &["-w", "-t", table, "-F", chain], "").await;
            let _ = run_tool(ipt, &["-w", "-t", table, "-X", chain], "").await;
        }
    }
}

impl Ruleset {
    /// `iptables-restore --noflush` input: declaring a chain of ours empties it, so the whole
    /// set is replaced per table in one commit, and other chains are left alone.
    pub fn iptables_script(&self, c: &IptChains) -> String {
        let mut s = String::from("*nat\n");
        let _ = writeln!(s, ":{} - [0:0]\n:{} - [0:0]", c.dnat, c.post);
        for f in &self.forwards {
            let daddr = f
                .host_ip
                .map(|ip| format!(" -d {ip}/32"))
                .unwrap_or_default();
            let _ = writeln!(
                s,
                "-A {}{daddr} -p {} -m {} --dport {} -j DNAT --to-destination {}:{}",
                c.dnat, f.proto, f.proto, f.host_port, f.ip, f.port
            );
        }
        for b in &self.bridges {
            if !b.internal {
                let _ = writeln!(
                    s,
                    "-A {} -s {} ! -o {} -j MASQUERADE",
                    c.post, b.subnet, b.bridge
                );
            }
            let _ = writeln!(
                s,
                "-A {} -s 127.0.0.0/8 -o {} -j MASQUERADE",
                c.post, b.bridge
            );
            let _ = writeln!(
                s,
                "-A {} -s {} -o {} -m conntrack --ctstate DNAT -j MASQUERADE",
                c.post, b.subnet, b.bridge
            );
        }
        s.push_str("COMMIT\n*filter\n");
        let _ = writeln!(s, ":{} - [0:0]", c.forward);
        for b in &self.bridges {
            if b.internal {
                let _ = writeln!(
                    s,
                    "-A {0} -i {1} ! -o {1} -j DROP\n-A {0} -o {1} ! -i {1} -j DROP",
                    c.forward, b.bridge
                );
            }
            for o in self.bridges.iter().filter(|o| o.bridge != b.bridge) {
                let _ = writeln!(
                    s,
                    "-A {} -i {} -o {} -j DROP",
                    c.forward, b.bridge, o.bridge
                );
            }
        }
        s.push_str("COMMIT\n");
        s
    }
}

/// Applies `script` with `nft -f -`. nftables has no maintained Rust netlink binding that covers
/// NAT, and nft's own parser makes the whole replacement one kernel transaction.
pub async fn apply(script: &str) -> anyhow::Result<()> {
    run_nft(script).await
}

/// Removes the table (the tests' clean-up; leaving it in place is the normal case).
#[cfg(test)]
pub async fn delete_table(table: &str) -> anyhow::Result<()> {
    run_nft(&format!("table ip {table}\ndelete table ip {table}\n")).await
}

async fn run_nft(script: &str) -> anyhow::Result<()> {
    run_tool(nft_binary(), &["-f", "-"], script).await
}

/// Runs a firewall tool with `input` on stdin; its stderr is the error.
async fn run_tool(bin: &str, args: &[&str], input: &str) -> anyhow::Result<()> {
    use tokio::io::AsyncWriteExt;
    let mut child = tokio::process::Command::new(bin)
        .args(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .with_context(|| format!("running {bin}"))?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin.write_all(input.as_bytes()).await?;
    }
    let out = child
        .wait_with_output()
        .await
        .with_context(|| format!("waiting for {bin}"))?;
    if !out.status.success() {
        return Err(anyhow!(
            "{bin} {} failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(())
}

fn find_binary(paths: &[&'static str]) -> Option<&'static str> {
    paths
        .iter()
        .copied()
        .find(|p| std::path::Path::new(p).exists())
}

fn iptables_binary() -> &'static str {
    find_binary(&["/usr/sbin/iptables", "/sbin/iptables"]).unwrap_or("iptables")
}

fn iptables_restore_binary() -> &'static str {
    find_binary(&["/usr/sbin/iptables-restore", "/sbin/iptables-restore"])
        .unwrap_or("iptables-restore")
}

fn nft_binary() -> &'static str {
    find_binary(&["/usr/sbin/nft", "/sbin/nft", "/usr/bin/nft"]).unwrap_or("nft")
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

    #[test]
    fn iptables_script_mirrors_the_nft_rules() {
        let c = IptChains::new("berth_t");
        let s = sample().iptables_script(&c);
        assert!(s.starts_with("*nat\n:BERTH_T-DNAT - [0:0]\n:BERTH_T-POST - [0:0]\n"));
        assert!(s.contains(
            "-A BERTH_T-DNAT -p tcp -m tcp --dport 8080 -j DNAT --to-destination 172.17.0.2:80"
        ));
        assert!(s.contains("-A BERTH_T-POST -s 172.17.0.0/16 ! -o berth0 -j MASQUERADE"));
        assert!(!s.contains("-s 172.18.0.0/16 ! -o br-abc"));
        assert!(s.contains("-A BERTH_T-FWD -i br-abc ! -o br-abc -j DROP"));
        assert!(s.contains("-A BERTH_T-FWD -i berth0 -o br-abc -j DROP"));
        assert_eq!(s.matches("COMMIT").count(), 2);
    }

    #[tokio::test]
    async fn iptables_accepts_the_rules_and_replaces_them() {
        if !nix::unistd::Uid::effective().is_root()
            || find_binary(&["/usr/sbin/iptables-restore"]).is_none()
        {
            return;
        }
        let table = format!("berth_u{}", std::process::id());
        replace(Backend::Iptables, &table, &sample()).await.unwrap();
        replace(Backend::Iptables, &table, &sample()).await.unwrap();
        let out = std::process::Command::new("iptables-save")
            .args(["-t", "nat"])
            .output()
            .unwrap();
        let saved = String::from_utf8_lossy(&out.stdout).to_string();
        assert_eq!(
            saved.matches("--to-destination 172.17.0.2:80").count(),
            1,
            "{saved}"
        );
        let chains = IptChains::new(&table);
        assert_eq!(
            saved.matches(&format!("-j {}", chains.dnat)).count(),
            2,
            "{saved}"
        );
        chains.remove().await;
        let out = std::process::Command::new("iptables-save")
            .output()
            .unwrap();
        assert!(!String::from_utf8_lossy(&out.stdout).contains(&chains.dnat));
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
