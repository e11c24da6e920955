//! The embedded DNS server of user-defined networks. As in dockerd, each container on a user
//! network gets a resolver at 127.0.0.11 inside its own namespace: it answers the names of the
//! containers (names, aliases, short IDs) on the networks that container shares, and forwards
//! everything else to the host's resolvers.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use hickory_proto::op::{Message, MessageType, ResponseCode};
use hickory_proto::rr::rdata::A;
use hickory_proto::rr::{RData, Record, RecordType};
use tokio::net::UdpSocket;

pub const RESOLVER_IP: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 11);

/// Queries one container's resolver answers at once. A container flooding it gets SERVFAIL for
/// the rest at once instead of making berthd hold a task and an upstream socket per query
/// (dockerd's resolver bounds its concurrent queries the same way).
const MAX_IN_FLIGHT: usize = 100;

/// Answers a name for one container, or None when it is not one of ours.
pub trait Lookup: Send + Sync + 'static {
    fn lookup(&self, container_id: &str, name: &str) -> Option<Vec<Ipv4Addr>>;
    /// Whether other names may be asked of the outside (not from internal networks only).
    fn may_forward(&self, _container_id: &str) -> bool {
        true
    }
}

/// Binds 127.0.0.11:53 inside the namespace at `netns` and serves until the task is aborted.
pub fn spawn(
    netns: &Path,
    container_id: String,
    lookup: Arc<dyn Lookup>,
    upstreams: Vec<SocketAddr>,
) -> anyhow::Result<tokio::task::JoinHandle<()>> {
    let rt = tokio::runtime::Handle::current();
    let sock = super::netns::run_in(netns, move || {
        let _g = rt.enter();
        let s = std::net::UdpSocket::bind((RESOLVER_IP, 53)).context("binding 127.0.0.11:53")?;
        s.set_nonblocking(true)?;
        Ok(UdpSocket::from_std(s)?)
    })?;
    Ok(tokio::spawn(serve(
        sock,
        container_id,
        lookup,
        upstreams,
        MAX_IN_FLIGHT,
    )))
}

/// Answers queries on `sock`, at most `max_in_flight` at a time.
async fn serve(
    sock: UdpSocket,
    container_id: String,
    lookup: Arc<dyn Lookup>,
    upstreams: Vec<SocketAddr>,
    max_in_flight: usize,
) {
    let sock = Arc::new(sock);
    let slots = Arc::new(tokio::sync::Semaphore::new(max_in_flight));
    let mut buf = vec![0u8; 4096];
    loop {
        let Ok((n, peer)) = sock.recv_from(&mut buf).await else {
            return;
        };
        let query = buf[..n].to_vec();
        let Ok(slot) = Arc::clone(&slots).try_acquire_owned() else {
            tracing::debug!(container = %container_id, "DNS: {max_in_flight} queries in flight; SERVFAIL");
            if let Some(reply) = servfail(&query) {
                let _ = sock.send_to(&reply, peer).await;
            }
            continue;
        };
        let sock = Arc::clone(&sock);
        let lookup = Arc::clone(&lookup);
        let upstreams = upstreams.clone();
        let id = container_id.clone();
        tokio::spawn(async move {
            if let Some(reply) = answer(&query, &id, lookup.as_ref(), &upstreams).await {
                let _ = sock.send_to(&reply, peer).await;
            }
            drop(slot);
        });
    }
}

/// SERVFAIL for `query`, or None when it is not a DNS message.
fn servfail(query: &[u8]) -> Option<Vec<u8>> {
    let msg = Message::from_vec(query).ok()?;
    let mut reply = Message::error_msg(
        msg.metadata.id,
        msg.metadata.op_code,
        ResponseCode::ServFail,
    );
    reply.metadata.message_type = MessageType::Response;
    if let Some(q) = msg.queries.first() {
        reply.add_query(q.clone());
    }
    reply.to_vec().ok()
}

async fn answer(
    query: &[u8],
    container_id: &str,
    lookup: &dyn Lookup,
    upstreams: &[SocketAddr],
) -> Option<Vec<u8>> {
    let msg = Message::from_vec(query).ok()?;
    let q = msg.queries.first()?.clone();
    let name = q.name().to_ascii();
    let name = name.trim_end_matches('.').to_ascii_lowercase();
    if let Some(ips) = lookup.lookup(container_id, &name) {
        let mut reply = Message::response(msg.metadata.id, msg.metadata.op_code);
        reply.metadata.recursion_desired = msg.metadata.recursion_desired;
        reply.metadata.recursion_available = true;
        reply.metadata.authoritative = true;
        reply.add_query(q.clone());
        // Known names have only IPv4 addresses: other types get an empty NOERROR answer, so
        // the client does not go on to ask the outside world about a local name.
        if q.query_type() == RecordType::A {
            for ip in ips {
                reply.add_answer(Record::from_rdata(q.name().clone(), 600, RData::A(A(ip))));
            }
        }
        return reply.to_vec().ok();
    }
    let upstreams = if lookup.may_forward(container_id) {
        upstreams
    } else {
        &[]
    };
    match forward(query, upstreams).await {
        Some(r) => Some(r),
        None => servfail(query),
    }
}

/// Relays a query to the host's resolvers in turn (from berthd's namespace, where they are
/// reachable), returning the first answer.
async fn forward(query: &[u8], upstreams: &[SocketAddr]) -> Option<Vec<u8>> {
    for up in upstreams {
        let Ok(s) = UdpSocket::bind((Ipv4Addr::UNSPECIFIED, 0)).await else {
            continue;
        };
        if s.send_to(query, up).await.is_err() {
            continue;
        }
        let mut buf = vec![0u8; 4096];
        if let Ok(Ok((n, from))) =
            tokio::time::timeout(Duration::from_secs(3), s.recv_from(&mut buf)).await
        {
            if from == *up {
                buf.truncate(n);
                return Some(buf);
            }
        }
    }
    None
}

/// Nameservers of a resolv.conf text, as socket addresses on port 53.
pub fn upstreams_from(resolv_conf: &str) -> Vec<SocketAddr> {
    resolv_conf
        .lines()
        .filter_map(|l| l.trim().strip_prefix("nameserver"))
        .filter_map(|a| a.trim().parse::<std::net::IpAddr>().ok())
        .map(|ip| SocketAddr::new(ip, 53))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use hickory_proto::op::{OpCode, Query};
    use hickory_proto::rr::Name;

    struct One;
    impl Lookup for One {
        fn lookup(&self, _c: &str, name: &str) -> Option<Vec<Ipv4Addr>> {
            (name == "web").then(|| vec![Ipv4Addr::new(10, 0, 0, 2)])
        }
    }

    fn query(name: &str, ty: RecordType) -> Vec<u8> {
        let mut m = Message::new(7, MessageType::Query, OpCode::Query);
        m.add_query(Query::query(Name::from_ascii(name).unwrap(), ty));
        m.to_vec().unwrap()
    }

    #[tokio::test]
    async fn answers_known_names_and_fails_unknown_without_upstreams() {
        let r = answer(&query("web.", RecordType::A), "c", &One, &[])
            .await
            .unwrap();
        let m = Message::from_vec(&r).unwrap();
        assert_eq!(m.metadata.id, 7);
        assert_eq!(m.answers.len(), 1);
        let r = answer(&query("WEB", RecordType::AAAA), "c", &One, &[])
            .await
            .unwrap();
        let m = Message::from_vec(&r).unwrap();
        assert_eq!(m.metadata.response_code, ResponseCode::NoError);
        assert!(m.answers.is_empty());
        let r = answer(&query("other.", RecordType::A), "c", &One, &[])
            .await
            .unwrap();
        let m = Message::from_vec(&r).unwrap();
        assert_eq!(m.metadata.response_code, ResponseCode::ServFail);
    }

    #[tokio::test]
    async fn forwards_to_an_upstream() {
        // A resolver of our own on loopback stands in for the host's.
        let up = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let addr = up.local_addr().unwrap();
        tokio::spawn(async move {
            let mut buf = [0u8; 512];
            let (n, peer) = up.recv_from(&mut buf).await.unwrap();
            let q = Message::from_vec(&buf[..n]).unwrap();
            let mut r = Message::response(q.metadata.id, OpCode::Query);
            let qq = q.queries[0].clone();
            r.add_answer(Record::from_rdata(
                qq.name().clone(),
                60,
                RData::A(A(Ipv4Addr::new(10, 9, 8, 7))),
            ));
            r.add_query(qq);
            up.send_to(&r.to_vec().unwrap(), peer).await.unwrap();
        });
        let r = answer(&query("outside.test.", RecordType::A), "c", &One, &[addr])
            .await
            .unwrap();
        let m = Message::from_vec(&r).unwrap();
        assert_eq!(m.answers.len(), 1);
    }

    struct Nothing;
    impl Lookup for Nothing {
        fn lookup(&self, _c: &str, _name: &str) -> Option<Vec<Ipv4Addr>> {
            None
        }
    }

    #[tokio::test]
    async fn a_flood_gets_servfail_beyond_the_queries_in_flight() {
        // An upstream that takes queries and answers none while the test holds it.
        let up = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let up_addr = up.local_addr().unwrap();
        let resolver = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let resolver_addr = resolver.local_addr().unwrap();
        let server = tokio::spawn(serve(
            resolver,
            "c".into(),
            Arc::new(Nothing),
            vec![up_addr],
            3,
        ));
        let client = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        // Three fill the slots: the upstream sees each of them.
        let mut buf = [0u8; 512];
        for i in 0..3 {
            client
                .send_to(
                    &query(&format!("q{i}.outside."), RecordType::A),
                    resolver_addr,
                )
                .await
                .unwrap();
            up.recv_from(&mut buf).await.unwrap();
        }
        // The fourth is answered at once with SERVFAIL and never forwarded.
        client
            .send_to(&query("q3.outside.", RecordType::A), resolver_addr)
            .await
            .unwrap();
        // (The held three time out into SERVFAIL after 3 s: skip theirs if a slow run sees them.)
        let m = loop {
            let (n, _) = client.recv_from(&mut buf).await.unwrap();
            let m = Message::from_vec(&buf[..n]).unwrap();
            if m.queries[0].name().to_ascii() == "q3.outside." {
                break m;
            }
        };
        assert_eq!(m.metadata.response_code, ResponseCode::ServFail);
        while let Ok((n, _)) = up.try_recv_from(&mut buf) {
            let q = Message::from_vec(&buf[..n]).unwrap();
            assert_ne!(q.queries[0].name().to_ascii(), "q3.outside.", "forwarded");
        }
        server.abort();
    }

    #[test]
    fn upstreams_parse() {
        let u = upstreams_from("search lan\nnameserver 10.1.1.1\nnameserver ::1\n");
        assert_eq!(u.len(), 2);
    }
}
