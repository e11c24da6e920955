//! Published ports: while a guest container runs, each of its published ports gets a host
//! listener on the same port and protocol. A TCP connection is a mux stream to that port on the
//! guest's loopback (where the guest engine's NAT sends it on to the container); UDP datagrams
//! travel as flows, one stream per host client ([`crate::udp`]).
//!
//! The guest engine is followed through its own API: `/events` for starts and stops, and
//! `/containers/{id}/json` for the bindings. A published `0.0.0.0`/`::`/empty host IP binds the
//! host's 127.0.0.1 only: a VM user asked for "reachable on this machine", and widening that to
//! every host interface would expose more than the native engine on a desktop is expected to.

use std::collections::{BTreeMap, HashSet};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use serde::Serialize;
use tokio::net::{TcpListener, UdpSocket};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::engine_api::{self, ApiError, JsonLines};
use crate::forwarder::forward;
use crate::header::Target;
use crate::mux::MuxHandle;
use crate::udp;

/// The protocol of a published port.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Proto {
    Tcp,
    Udp,
}

impl std::fmt::Display for Proto {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Proto::Tcp => "tcp",
            Proto::Udp => "udp",
        })
    }
}

/// One published port of a container, as the host should offer it.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct Binding {
    pub host_ip: IpAddr,
    pub host_port: u16,
    pub proto: Proto,
}

/// What became of one binding: the desktop shows `Failed` ones.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PortStatus {
    pub container: String,
    pub host_ip: IpAddr,
    pub host_port: u16,
    pub proto: Proto,
    /// None while forwarding; why not otherwise (e.g. the port is taken on the host).
    pub error: Option<String>,
}

/// The TCP and UDP bindings in a `/containers/{id}/json` document (`NetworkSettings.Ports`),
/// mapped to host addresses. SCTP is not forwarded (noted in the log).
pub fn bindings_of(inspect: &serde_json::Value) -> Vec<Binding> {
    let mut out = Vec::new();
    let Some(ports) = inspect
        .pointer("/NetworkSettings/Ports")
        .and_then(|p| p.as_object())
    else {
        return out;
    };
    for (spec, binds) in ports {
        let Some(list) = binds.as_array() else {
            continue;
        };
        let proto = match spec.rsplit_once('/').map(|(_, p)| p) {
            Some("tcp") => Proto::Tcp,
            Some("udp") => Proto::Udp,
            _ => {
                if !list.is_empty() {
                    tracing::warn!(
                        "published {spec} is not forwarded to the host (TCP and UDP only)"
                    );
                }
                continue;
            }
        };
        for b in list {
            let port = b
                .get("HostPort")
                .and_then(|p| p.as_str())
                .and_then(|p| p.parse::<u16>().ok());
            let Some(host_port) = port.filter(|p| *p != 0) else {
                continue;
            };
            let ip = b.get("HostIp").and_then(|i| i.as_str()).unwrap_or("");
            let host_ip = match ip.parse::<IpAddr>() {
                Ok(ip) if !ip.is_unspecified() => ip,
                _ => IpAddr::V4(Ipv4Addr::LOCALHOST),
            };
            out.push(Binding {
                host_ip,
                host_port,
                proto,
            });
        }
    }
    out.sort();
    out.dedup();
    out
}

struct Forwarding {
    binding: Binding,
    error: Option<String>,
    task: Option<JoinHandle<()>>,
}

/// The host listeners of every running container, by container id.
pub struct PortForwards {
    mux: MuxHandle,
    by_container: BTreeMap<String, Vec<Forwarding>>,
    status: watch::Sender<Vec<PortStatus>>,
}

impl PortForwards {
    pub fn new(mux: MuxHandle) -> PortForwards {
        PortForwards {
            mux,
            by_container: BTreeMap::new(),
            status: watch::Sender::new(Vec::new()),
        }
    }

    /// Every binding and what became of it, updated on each change.
    pub fn status(&self) -> watch::Receiver<Vec<PortStatus>> {
        self.status.subscribe()
    }

    /// Makes the host listeners of `container` exactly `bindings`.
    pub async fn set(&mut self, container: &str, bindings: Vec<Binding>) {
        let mut kept = Vec::new();
        let mut old = self.by_container.remove(container).unwrap_or_default();
        for b in bindings {
            if let Some(i) = old.iter().position(|f| f.binding == b && f.error.is_none()) {
                kept.push(old.swap_remove(i));
                continue;
            }
            kept.push(self.listen(container, b).await);
        }
        stop(old).await;
        if !kept.is_empty() {
            self.by_container.insert(container.to_string(), kept);
        }
        self.publish();
    }

    /// Closes the host listeners of `container`.
    pub async fn remove(&mut self, container: &str) {
        if let Some(old) = self.by_container.remove(container) {
            stop(old).await;
            self.publish();
        }
    }

    /// Closes the listeners of containers not in `running`.
    pub async fn retain(&mut self, running: &HashSet<String>) {
        let gone: Vec<String> = self
            .by_container
            .keys()
            .filter(|id| !running.contains(*id))
            .cloned()
            .collect();
        for id in gone {
            self.remove(&id).await;
        }
    }

    async fn listen(&self, container: &str, binding: Binding) -> Forwarding {
        let addr = SocketAddr::new(binding.host_ip, binding.host_port);
        let port = binding.host_port;
        let mux = self.mux.clone();
        let task = match binding.proto {
            Proto::Tcp => TcpListener::bind(addr)
                .await
                .map(|l| tokio::spawn(accept_loop(l, mux, port))),
            Proto::Udp => UdpSocket::bind(addr)
                .await
                .map(|s| tokio::spawn(udp::serve_host(s, mux, port, udp::IDLE))),
        };
        let proto = binding.proto;
        match task {
            Ok(task) => {
                tracing::info!("forwarding {addr}/{proto} to container {container}");
                Forwarding {
                    binding,
                    error: None,
                    task: Some(task),
                }
            }
            Err(e) => {
                // The container keeps running; the port is reported as not forwarded.
                tracing::warn!("cannot forward {addr}/{proto} to container {container}: {e}");
                Forwarding {
                    binding,
                    error: Some(format!("{addr}/{proto}: {e}")),
                    task: None,
                }
            }
        }
    }

    fn publish(&self) {
        let mut all = Vec::new();
        for (id, fwds) in &self.by_container {
            for f in fwds {
                all.push(PortStatus {
                    container: id.clone(),
                    host_ip: f.binding.host_ip,
                    host_port: f.binding.host_port,
                    proto: f.binding.proto,
                    error: f.error.clone(),
                });
            }
        }
        self.status.send_replace(all);
    }

    /// Closes every listener.
    pub async fn clear(&mut self) {
        for (_, fwds) in std::mem::take(&mut self.by_container) {
            stop(fwds).await;
        }
        self.publish();
    }
}

impl Drop for PortForwards {
    fn drop(&mut self) {
        for f in std::mem::take(&mut self.by_container)
            .into_values()
            .flatten()
        {
            if let Some(t) = f.task {
                t.abort();
            }
        }
    }
}

/// Closes the listeners; when this returns their host ports are free again.
async fn stop(fwds: Vec<Forwarding>) {
    for f in fwds {
        if let Some(t) = f.task {
            t.abort();
            // The listener is dropped once the aborted task is.
            let _ = t.await;
        }
    }
}

async fn accept_loop(listener: TcpListener, mux: MuxHandle, guest_port: u16) {
    loop {
        match listener.accept().await {
            Ok((conn, _)) => {
                let _ = conn.set_nodelay(true);
                let mux = mux.clone();
                tokio::spawn(async move {
                    if let Err(e) = forward(conn, &mux, Target::Tcp(guest_port)).await {
                        tracing::debug!("forwarded port {guest_port}: {e}");
                    }
                });
            }
            Err(e) => {
                tracing::warn!("accepting on forwarded port {guest_port}: {e}");
                return;
            }
        }
    }
}

/// Follows the guest engine and keeps `fwds` in step with its running containers, until the
/// mux closes. Reconnects (and re-reads the running containers) when the event stream ends,
/// e.g. when the guest engine restarts.
pub async fn follow(mux: MuxHandle, fwds: &mut PortForwards) {
    loop {
        match follow_once(&mux, fwds).await {
            Ok(()) => tracing::info!("guest engine event stream ended; reconnecting"),
            Err(ApiError::Mux(e)) => {
                tracing::info!("published ports: {e}");
                fwds.clear().await;
                return;
            }
            Err(e) => tracing::debug!("published ports: {e}"),
        }
        // The engine may be starting or restarting in the guest: try again shortly.
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

async fn follow_once(mux: &MuxHandle, fwds: &mut PortForwards) -> Result<(), ApiError> {
    // Subscribe before listing, so a container started in between is not missed.
    let filters = r#"{"type":["container"]}"#;
    let mut events =
        JsonLines::open(mux, &format!("/events?filters={}", percent_encode(filters))).await?;
    let list = engine_api::get_json(mux, "/containers/json").await?;
    let mut running = HashSet::new();
    for c in list.as_array().into_iter().flatten() {
        if let Some(id) = c.get("Id").and_then(|i| i.as_str()) {
            running.insert(id.to_string());
        }
    }
    fwds.retain(&running).await;
    for id in &running {
        sync(mux, fwds, id).await;
    }
    while let Some(ev) = events.next().await? {
        let action = ev.get("Action").and_then(|a| a.as_str()).unwrap_or("");
        let Some(id) = ev.pointer("/Actor/ID").and_then(|i| i.as_str()) else {
            continue;
        };
        match action {
            "start" | "unpause" => sync(mux, fwds, id).await,
            "die" | "stop" | "kill" | "destroy" => sync(mux, fwds, id).await,
            _ => {}
        }
    }
    Ok(())
}

/// Reads one container and sets its listeners: its bindings while it runs, none otherwise.
async fn sync(mux: &MuxHandle, fwds: &mut PortForwards, id: &str) {
    match engine_api::get_json(mux, &format!("/containers/{id}/json")).await {
        Ok(inspect) => {
            let running = inspect
                .pointer("/State/Running")
                .and_then(|r| r.as_bool())
                .unwrap_or(false);
            if running {
                fwds.set(id, bindings_of(&inspect)).await;
            } else {
                fwds.remove(id).await;
            }
        }
        Err(ApiError::Status { status, .. }) if status == hyper::StatusCode::NOT_FOUND => {
            fwds.remove(id).await
        }
        Err(e) => tracing::warn!("reading container {id}: {e}"),
    }
}

fn percent_encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::agent::{self, AgentConfig};
    use crate::mux::{self, Side};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    fn tcp(host_port: u16) -> Binding {
        Binding {
            host_ip: IpAddr::V4(Ipv4Addr::LOCALHOST),
            host_port,
            proto: Proto::Tcp,
        }
    }

    fn udp(host_port: u16) -> Binding {
        Binding {
            proto: Proto::Udp,
            ..tcp(host_port)
        }
    }

    #[test]
    fn bindings_map_wildcards_to_loopback_and_skip_sctp_and_unbound() {
        let inspect = serde_json::json!({"NetworkSettings": {"Ports": {
            "80/tcp": [{"HostIp": "0.0.0.0", "HostPort": "8080"}, {"HostIp": "::", "HostPort": "8080"}],
            "443/tcp": [{"HostIp": "127.0.0.1", "HostPort": "8443"}],
            "53/udp": [{"HostIp": "", "HostPort": "5353"}],
            "7/sctp": [{"HostIp": "", "HostPort": "7007"}],
            "9000/tcp": null,
            "22/tcp": [{"HostIp": "", "HostPort": "2222"}]
        }}});
        assert_eq!(
            bindings_of(&inspect),
            vec![tcp(2222), udp(5353), tcp(8080), tcp(8443)]
        );
        assert!(bindings_of(&serde_json::json!({})).is_empty());
    }

    /// The guest's loopback, standing in for the VM's: another address of this host's, so a
    /// guest service and its host listener can have the same port number.
    const GUEST_LO: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 2);

    /// A guest whose agent runs in-process.
    fn guest() -> (MuxHandle, tempfile::TempDir) {
        let dir = tempfile::tempdir().expect("tempdir");
        let (a, b) = tokio::io::duplex(8192);
        let cfg = AgentConfig {
            engine_socket: dir.path().join("none.sock"),
            tcp_host: GUEST_LO,
        };
        tokio::spawn(agent::serve(b, cfg));
        (mux::start(a, Side::Host).handle, dir)
    }

    fn free_port() -> u16 {
        std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("bind")
            .port()
    }

    #[tokio::test]
    async fn ports_open_while_set_report_taken_ones_and_close_on_remove() {
        let (mux, _dir) = guest();
        let mut fwds = PortForwards::new(mux);
        let status = fwds.status();
        // One free port and one already taken on the host.
        let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind taken");
        let taken_port = taken.local_addr().expect("addr").port();
        let free = free_port();
        fwds.set("c1", vec![tcp(free), tcp(taken_port)]).await;
        let st = status.borrow().clone();
        assert_eq!(st.len(), 2);
        let ok = st.iter().find(|s| s.host_port == free).expect("free port");
        assert_eq!(ok.error, None);
        let bad = st
            .iter()
            .find(|s| s.host_port == taken_port)
            .expect("taken");
        assert!(bad.error.is_some(), "a taken port is reported");

        // The host listener holds its port while the container runs.
        assert!(std::net::TcpListener::bind(("127.0.0.1", free)).is_err());
        fwds.remove("c1").await;
        assert!(status.borrow().is_empty());
        // Closed: the port is free again.
        std::net::TcpListener::bind(("127.0.0.1", free)).expect("port released");
        drop(taken);
    }

    #[tokio::test]
    async fn a_host_connection_reaches_the_guest_port_both_ways() {
        let (mux, _dir) = guest();
        // The container's published port, inside the "guest".
        let service = TcpListener::bind((GUEST_LO, 0))
            .await
            .expect("bind service");
        let port = service.local_addr().expect("addr").port();
        tokio::spawn(async move {
            while let Ok((mut c, _)) = service.accept().await {
                tokio::spawn(async move {
                    let mut req = Vec::new();
                    let _ = c.read_to_end(&mut req).await;
                    req.reverse();
                    let _ = c.write_all(&req).await;
                });
            }
        });
        let mut fwds = PortForwards::new(mux);
        fwds.set("web", vec![tcp(port)]).await;
        for msg in ["hello guest", "again"] {
            let mut c = tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .expect("connect to the host listener");
            c.write_all(msg.as_bytes()).await.expect("write");
            c.shutdown().await.expect("fin");
            let mut back = Vec::new();
            c.read_to_end(&mut back).await.expect("read");
            let want: Vec<u8> = msg.bytes().rev().collect();
            assert_eq!(back, want);
        }
        // Setting the same bindings again keeps the listener; clearing closes it.
        fwds.set("web", vec![tcp(port)]).await;
        assert_eq!(fwds.status().borrow().len(), 1);
        fwds.clear().await;
        assert!(tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_err());
    }

    #[tokio::test]
    async fn udp_clients_reach_the_guest_port_and_get_their_own_replies() {
        let (mux, _dir) = guest();
        // A UDP service in the "guest" that answers each datagram reversed, to its sender.
        let service = UdpSocket::bind((GUEST_LO, 0)).await.expect("bind service");
        let port = service.local_addr().expect("addr").port();
        tokio::spawn(async move {
            let mut buf = [0u8; 2048];
            while let Ok((n, from)) = service.recv_from(&mut buf).await {
                let mut d = buf[..n].to_vec();
                d.reverse();
                let _ = service.send_to(&d, from).await;
            }
        });
        let mut fwds = PortForwards::new(mux);
        // TCP and UDP on the same port number are two bindings.
        fwds.set("dns", vec![tcp(port), udp(port)]).await;
        let st = fwds.status().borrow().clone();
        assert_eq!(st.len(), 2);
        assert!(st.iter().all(|s| s.error.is_none()), "{st:?}");
        assert!(std::net::UdpSocket::bind(("127.0.0.1", port)).is_err());

        // Two clients at once, several datagrams each: every reply goes to its own sender.
        // UDP may drop a datagram, so each one is resent until its reply is in.
        let mut clients = Vec::new();
        for name in ["alpha", "beta"] {
            clients.push(tokio::spawn(async move {
                let c = UdpSocket::bind("127.0.0.1:0").await.expect("client");
                c.connect(("127.0.0.1", port)).await.expect("connect");
                for i in 0..5 {
                    let msg = format!("{name}-{i}");
                    let want: String = msg.chars().rev().collect();
                    let mut buf = [0u8; 64];
                    loop {
                        c.send(msg.as_bytes()).await.expect("send");
                        let r = tokio::time::timeout(Duration::from_secs(2), c.recv(&mut buf));
                        if let Ok(Ok(n)) = r.await {
                            assert_eq!(std::str::from_utf8(&buf[..n]), Ok(want.as_str()));
                            break;
                        }
                    }
                }
            }));
        }
        for c in clients {
            c.await.expect("client task");
        }

        fwds.remove("dns").await;
        std::net::UdpSocket::bind(("127.0.0.1", port)).expect("UDP port released");
    }

    #[test]
    fn event_filters_are_percent_encoded() {
        assert_eq!(
            percent_encode(r#"{"a":["b"]}"#),
            "%7B%22a%22%3A%5B%22b%22%5D%7D"
        );
    }
}
