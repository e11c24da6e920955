//! Networking of a test engine: each berthd gets its own bridge name and subnets, so tests that
//! run at the same time never share a bridge or an address, and everything it created on the
//! host (bridges, the nftables table) is removed when the test is over.

use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};

/// The daemon flags that give one engine its own piece of the network.
#[derive(Clone, Debug)]
pub struct NetIdentity {
    /// Default bridge (at most 15 characters).
    pub bridge: String,
    /// `--bip`: the default bridge's gateway with prefix, e.g. `10.77.40.1/24`.
    pub bip: String,
    /// `--default-address-pool` base for user networks (a /22 cut into /26s).
    pub pool: String,
}

impl NetIdentity {
    pub fn new() -> NetIdentity {
        static SEQ: AtomicU32 = AtomicU32::new(0);
        // pid, time and a counter: distinct across the test threads and test binaries that may
        // run at the same time on one machine.
        let seed = std::process::id()
            .wrapping_mul(2_654_435_761)
            .wrapping_add(SEQ.fetch_add(1, Ordering::Relaxed).wrapping_mul(40_503))
            .wrapping_add(
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.subsec_nanos())
                    .unwrap_or(0),
            );
        let a = 64 + (seed % 128); // 10.64.0.0 – 10.191.255.255
        let c = (seed / 128) % 32; // a /21 slot inside 10.a.0.0/16
        NetIdentity {
            bridge: format!("bt{:08x}", seed),
            bip: format!("10.{a}.{}.1/24", c * 8),
            pool: format!("10.{a}.{}.0/22", c * 8 + 4),
        }
    }

    pub fn args(&self) -> Vec<String> {
        vec![
            "--bridge".into(),
            self.bridge.clone(),
            "--bip".into(),
            self.bip.clone(),
            "--default-address-pool".into(),
            format!("base={},size=26", self.pool),
            // Names the embedded DNS cannot answer are forwarded here: loopback, so a test
            // never sends a query off the machine.
            "--dns".into(),
            "127.0.0.1".into(),
        ]
    }

    /// The default bridge's gateway address (the host as containers see it).
    pub fn gateway(&self) -> String {
        self.bip.split('/').next().unwrap_or_default().to_string()
    }
}

impl Default for NetIdentity {
    fn default() -> Self {
        Self::new()
    }
}

/// The nftables table of the engine on `data_root` (as berthd names it).
pub fn nft_table(data_root: &Path) -> String {
    let root = data_root
        .canonicalize()
        .unwrap_or_else(|_| data_root.to_path_buf());
    let hex = crate::sha256_digest(root.to_string_lossy().as_bytes());
    let hex = hex.trim_start_matches("sha256:");
    format!("berth_{}", &hex[..8])
}

/// Bridges of the networks the engine on `data_root` recorded (`networks/*.json`).
pub fn recorded_bridges(data_root: &Path) -> Vec<String> {
    let Ok(rd) = std::fs::read_dir(data_root.join("networks")) else {
        return vec![];
    };
    rd.flatten()
        .filter_map(|e| std::fs::read(e.path()).ok())
        .filter_map(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
        .filter_map(|v| v["bridge"].as_str().map(str::to_string))
        .filter(|b| !b.is_empty())
        .collect()
}

fn quiet(cmd: &mut Command) {
    let _ = cmd.stdout(Stdio::null()).stderr(Stdio::null()).status();
}

/// Deletes the bridges and the nftables table of a stopped engine. Veths vanish with the
/// namespaces of their containers; the bridges and rules are kept by berthd on purpose (running
/// containers outlive it), so the test removes them.
pub fn cleanup(bridges: &[String], table: &str) {
    for b in bridges {
        quiet(Command::new("ip").args(["link", "del", b]));
    }
    quiet(Command::new("nft").args(["delete", "table", "ip", table]));
}

/// Whether a link exists on the host.
pub fn link_exists(name: &str) -> bool {
    Path::new("/sys/class/net").join(name).exists()
}

/// Whether the engine's nftables table exists and, if so, its text.
pub fn nft_list(table: &str) -> Option<String> {
    let out = Command::new("nft")
        .args(["list", "table", "ip", table])
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}
