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
    remove_iptables_chains(table);
}

/// The iptables chains an engine on `--firewall-backend iptables` made (named after its table).
pub fn iptables_chains(table: &str) -> [(&'static str, String); 3] {
    let base = table.to_ascii_uppercase();
    [
        ("nat", format!("{base}-DNAT")),
        ("nat", format!("{base}-POST")),
        ("filter", format!("{base}-FWD")),
    ]
}

/// `iptables-save` output, or empty when iptables is not there.
pub fn iptables_save() -> String {
    Command::new("iptables-save")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default()
}

fn remove_iptables_chains(table: &str) {
    let chains = iptables_chains(table);
    let saved = iptables_save();
    if !chains.iter().any(|(_, c)| saved.contains(c.as_str())) {
        return;
    }
    // Jumps from the built-in chains first (`-A CHAIN ... -j OURS` turned into `-D`).
    let mut table_of_line = "";
    for line in saved.lines() {
        if let Some(t) = line.strip_prefix('*') {
            table_of_line = if t == "nat" {
                "nat"
            } else if t == "filter" {
                "filter"
            } else {
                ""
            };
            continue;
        }
        let Some(rule) = line.strip_prefix("-A ") else {
            continue;
        };
        let jumps_to_ours = chains
            .iter()
            .any(|(_, c)| rule.ends_with(&format!("-j {c}")) && !rule.starts_with(c.as_str()));
        if jumps_to_ours && !table_of_line.is_empty() {
            let args: Vec<&str> = rule.split_whitespace().collect();
            quiet(
                Command::new("iptables")
                    .args(["-w", "-t", table_of_line, "-D"])
                    .args(&args),
            );
        }
    }
    for (t, c) in &chains {
        quiet(Command::new("iptables").args(["-w", "-t", t, "-F", c]));
        quiet(Command::new("iptables").args(["-w", "-t", t, "-X", c]));
    }
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

/// A network namespace of the test's own, joined to the host by a veth pair: "the outside
/// world" for a container, without sending a packet off the machine. Dropping it deletes it.
pub struct OutsideNs {
    pub name: String,
    /// The host's end of the link.
    pub host_ip: String,
    /// The namespace's address: a server here is "on the internet" for containers.
    pub ip: String,
    server: Option<std::process::Child>,
    log: std::path::PathBuf,
}

fn run_ok(args: &[&str]) {
    let out = Command::new(args[0])
        .args(&args[1..])
        .output()
        .unwrap_or_else(|e| panic!("{}: {e}", args.join(" ")));
    assert!(
        out.status.success(),
        "{} failed: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
}

impl OutsideNs {
    /// Uses the /24 right after the identity's `--bip` subnet (unused by the engine).
    pub fn new(id: &NetIdentity, dir: &Path) -> OutsideNs {
        let gw = id.gateway();
        let o: Vec<u8> = gw.split('.').filter_map(|x| x.parse().ok()).collect();
        let (a, c) = (o[1], o[2] + 1);
        let name = format!("bo{}", &id.bridge[2..]);
        let host_if = format!("{name}h");
        let host_ip = format!("10.{a}.{c}.1");
        let ip = format!("10.{a}.{c}.2");
        run_ok(&["ip", "netns", "add", &name]);
        run_ok(&[
            "ip", "link", "add", &host_if, "type", "veth", "peer", "name", "eth0", "netns", &name,
        ]);
        run_ok(&[
            "ip",
            "addr",
            "add",
            &format!("{host_ip}/24"),
            "dev",
            &host_if,
        ]);
        run_ok(&["ip", "link", "set", &host_if, "up"]);
        run_ok(&[
            "ip",
            "-n",
            &name,
            "addr",
            "add",
            &format!("{ip}/24"),
            "dev",
            "eth0",
        ]);
        run_ok(&["ip", "-n", &name, "link", "set", "eth0", "up"]);
        run_ok(&["ip", "-n", &name, "link", "set", "lo", "up"]);
        OutsideNs {
            name,
            host_ip,
            ip,
            server: None,
            log: dir.join("outside-http.log"),
        }
    }

    /// Starts an HTTP server (python3's http.server, which logs each client's address) on
    /// `ip:port` inside the namespace, serving `root`.
    pub fn serve_http(&mut self, port: u16, root: &Path) {
        let log = std::fs::File::create(&self.log).expect("create server log");
        let child = Command::new("ip")
            .args(["netns", "exec", &self.name, "python3", "-m", "http.server"])
            .arg(port.to_string())
            .args(["--bind", &self.ip, "--directory"])
            .arg(root)
            .stdout(log.try_clone().expect("dup log"))
            .stderr(log)
            .spawn()
            .expect("start python3 http.server");
        self.server = Some(child);
        // Ready when it accepts a connection from the host.
        let addr: std::net::SocketAddr = format!("{}:{port}", self.ip).parse().expect("addr");
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while std::net::TcpStream::connect_timeout(&addr, std::time::Duration::from_millis(200))
            .is_err()
        {
            assert!(
                std::time::Instant::now() < deadline,
                "outside server did not start"
            );
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    }

    pub fn server_log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for OutsideNs {
    fn drop(&mut self) {
        if let Some(mut c) = self.server.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        quiet(Command::new("ip").args(["netns", "del", &self.name]));
        quiet(Command::new("ip").args(["link", "del", &format!("{}h", self.name)]));
    }
}

/// A DNS server of the test's own on a loopback address, port 53, answering A records from a
/// fixed table (NXDOMAIN otherwise): the "host's resolver" that berthd forwards to.
pub struct LoopbackDns {
    pub ip: String,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl LoopbackDns {
    pub fn start(records: &[(&str, &str)]) -> LoopbackDns {
        use hickory_proto::op::{Message, ResponseCode};
        use hickory_proto::rr::{rdata::A, RData, Record};
        let table: Vec<(String, std::net::Ipv4Addr)> = records
            .iter()
            .map(|(n, ip)| (n.trim_end_matches('.').to_string(), ip.parse().expect("ip")))
            .collect();
        // A free 127.x address: port 53 on it must be ours alone.
        let sock = (0..200u32)
            .find_map(|i| {
                let n = (std::process::id() + i) % 200 + 20;
                std::net::UdpSocket::bind(format!("127.0.53.{n}:53")).ok()
            })
            .expect("bind a loopback DNS port");
        sock.set_read_timeout(Some(std::time::Duration::from_millis(100)))
            .expect("timeout");
        let ip = sock.local_addr().expect("addr").ip().to_string();
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let stop2 = stop.clone();
        let thread = std::thread::spawn(move || {
            let mut buf = [0u8; 2048];
            while !stop2.load(Ordering::Relaxed) {
                let Ok((n, peer)) = sock.recv_from(&mut buf) else {
                    continue;
                };
                let Ok(q) = Message::from_vec(&buf[..n]) else {
                    continue;
                };
                let Some(query) = q.queries.first().cloned() else {
                    continue;
                };
                let name = query.name().to_ascii();
                let name = name.trim_end_matches('.').to_string();
                let mut r = Message::response(q.metadata.id, q.metadata.op_code);
                r.metadata.recursion_available = true;
                r.add_query(query.clone());
                match table.iter().find(|(n, _)| *n == name) {
                    Some((_, ip)) if query.query_type() == hickory_proto::rr::RecordType::A => {
                        r.add_answer(Record::from_rdata(
                            query.name().clone(),
                            60,
                            RData::A(A(*ip)),
                        ));
                    }
                    Some(_) => {}
                    None => r.metadata.response_code = ResponseCode::NXDomain,
                }
                if let Ok(bytes) = r.to_vec() {
                    let _ = sock.send_to(&bytes, peer);
                }
            }
        });
        LoopbackDns {
            ip,
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for LoopbackDns {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
