//! Published UDP ports: datagrams carried over mux streams.
//!
//! A stream carries one flow: the datagrams of one host client (address and port) to one guest
//! port and the replies back, each framed as a big-endian u16 length and the payload, so
//! datagram boundaries survive the byte stream. The host keeps a flow while it is used and ends
//! it after [`IDLE`] without traffic either way (UDP has no close; Docker's userland proxy and
//! conntrack forget flows the same way); the guest's socket for it goes with the stream.

use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::UdpSocket;
use tokio::sync::mpsc;

use crate::header::Target;
use crate::mux::{MuxHandle, MuxStream};

/// A flow without a datagram either way for this long is closed.
pub const IDLE: Duration = Duration::from_secs(60);
/// Flows one published port keeps at once; datagrams of further clients are dropped.
const MAX_FLOWS: usize = 512;
/// Datagrams queued for one flow while its stream opens or is slow; more are dropped, as a
/// full socket buffer drops them.
const QUEUE: usize = 64;
/// The largest UDP payload (IPv4).
const MAX_DATAGRAM: usize = 65_507;

/// Writes one framed datagram.
pub async fn write_datagram<W: AsyncWrite + Unpin>(w: &mut W, data: &[u8]) -> std::io::Result<()> {
    let len = u16::try_from(data.len())
        .map_err(|_| std::io::Error::other(format!("a {}-byte datagram", data.len())))?;
    let mut frame = Vec::with_capacity(2 + data.len());
    frame.extend_from_slice(&len.to_be_bytes());
    frame.extend_from_slice(data);
    w.write_all(&frame).await?;
    w.flush().await
}

/// Reads one framed datagram; `None` at a clean end of the stream (between frames).
pub async fn read_datagram<R: AsyncRead + Unpin>(r: &mut R) -> std::io::Result<Option<Vec<u8>>> {
    let mut len = [0u8; 2];
    match r.read_exact(&mut len[..1]).await {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e),
    }
    r.read_exact(&mut len[1..]).await?;
    let mut data = vec![0u8; u16::from_be_bytes(len) as usize];
    r.read_exact(&mut data).await?;
    Ok(Some(data))
}

/// Guest side of one flow: a UDP socket connected to `target`, datagrams relayed both ways
/// until the host ends the stream.
pub async fn relay_guest(stream: MuxStream, target: SocketAddr) -> std::io::Result<()> {
    let sock = UdpSocket::bind((Ipv4Addr::UNSPECIFIED, 0)).await?;
    sock.connect(target).await?;
    let (mut from_host, mut to_host) = tokio::io::split(stream);
    // Two whole loops, never a read cancelled halfway through a frame.
    let up = async {
        while let Some(d) = read_datagram(&mut from_host).await? {
            // A datagram nobody takes (ECONNREFUSED from an earlier ICMP) is lost, as UDP
            // loses it; the flow goes on.
            let _ = sock.send(&d).await;
        }
        Ok(())
    };
    let down = async {
        let mut buf = vec![0u8; MAX_DATAGRAM];
        loop {
            match sock.recv(&mut buf).await {
                Ok(n) => write_datagram(&mut to_host, &buf[..n]).await?,
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => {}
                Err(e) => return Err(e),
            }
        }
    };
    tokio::select! {
        r = up => r,
        r = down => r,
    }
}

/// Host side of a published UDP port: each client gets its own flow (stream) to `guest_port`
/// on the guest's loopback. Runs until the task is aborted (the container stops).
pub async fn serve_host(socket: UdpSocket, mux: MuxHandle, guest_port: u16, idle: Duration) {
    let socket = Arc::new(socket);
    let mut flows: HashMap<SocketAddr, mpsc::Sender<Vec<u8>>> = HashMap::new();
    let mut buf = vec![0u8; MAX_DATAGRAM];
    loop {
        let (n, client) = match socket.recv_from(&mut buf).await {
            Ok(r) => r,
            // An ICMP error for an earlier reply to some client: not this socket's end.
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => continue,
            Err(e) => {
                tracing::warn!("receiving on forwarded UDP port {guest_port}: {e}");
                return;
            }
        };
        let datagram = buf[..n].to_vec();
        flows.retain(|_, tx| !tx.is_closed());
        let tx = match flows.get(&client) {
            Some(tx) => tx.clone(),
            None if flows.len() >= MAX_FLOWS => {
                tracing::debug!("UDP port {guest_port}: {MAX_FLOWS} flows; dropping {client}");
                continue;
            }
            None => {
                let (tx, rx) = mpsc::channel(QUEUE);
                let (socket, mux) = (Arc::clone(&socket), mux.clone());
                tokio::spawn(async move {
                    if let Err(e) = host_flow(socket, mux, guest_port, client, rx, idle).await {
                        tracing::debug!("UDP flow {client} → {guest_port}: {e}");
                    }
                });
                flows.insert(client, tx.clone());
                tx
            }
        };
        // A full queue drops the datagram, as UDP may.
        let _ = tx.try_send(datagram);
    }
}

/// One client's flow: its datagrams to the guest, the guest's replies back to it, until
/// `idle` passes without either.
async fn host_flow(
    socket: Arc<UdpSocket>,
    mux: MuxHandle,
    guest_port: u16,
    client: SocketAddr,
    mut datagrams: mpsc::Receiver<Vec<u8>>,
    idle: Duration,
) -> std::io::Result<()> {
    let mut stream = mux.open().await.map_err(std::io::Error::other)?;
    Target::Udp(guest_port).write_to(&mut stream).await?;
    let (mut from_guest, mut to_guest) = tokio::io::split(stream);
    let start = Instant::now();
    // Milliseconds since `start` of the last datagram either way.
    let last = AtomicU64::new(0);
    let touch = || last.store(start.elapsed().as_millis() as u64, Ordering::Relaxed);
    let up = async {
        while let Some(d) = datagrams.recv().await {
            touch();
            write_datagram(&mut to_guest, &d).await?;
        }
        Ok(())
    };
    let down = async {
        while let Some(d) = read_datagram(&mut from_guest).await? {
            touch();
            socket.send_to(&d, client).await?;
        }
        Ok(())
    };
    let expiry = async {
        loop {
            let since = Duration::from_millis(last.load(Ordering::Relaxed));
            let quiet = start.elapsed().saturating_sub(since);
            if quiet >= idle {
                return Ok(());
            }
            tokio::time::sleep(idle - quiet).await;
        }
    };
    tokio::select! {
        r = up => r,
        r = down => r,
        r = expiry => r,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::agent::{self, AgentConfig};
    use crate::mux::{self, Side};

    #[tokio::test]
    async fn a_flow_ends_on_its_own_once_idle_and_its_sender_sees_it() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (a, b) = tokio::io::duplex(8192);
        let guest_lo = Ipv4Addr::new(127, 0, 0, 2);
        tokio::spawn(agent::serve(
            b,
            AgentConfig {
                engine_socket: dir.path().join("none.sock"),
                tcp_host: guest_lo,
            },
        ));
        let mux = mux::start(a, Side::Host).handle;
        let service = UdpSocket::bind((guest_lo, 0)).await.expect("service");
        let port = service.local_addr().expect("addr").port();
        tokio::spawn(async move {
            let mut buf = [0u8; 64];
            while let Ok((n, from)) = service.recv_from(&mut buf).await {
                let _ = service.send_to(&buf[..n], from).await;
            }
        });
        let host = Arc::new(UdpSocket::bind("127.0.0.1:0").await.expect("host socket"));
        let client = UdpSocket::bind("127.0.0.1:0").await.expect("client");
        let client_addr = client.local_addr().expect("addr");
        let (tx, rx) = mpsc::channel(QUEUE);
        let flow = tokio::spawn(host_flow(
            host,
            mux,
            port,
            client_addr,
            rx,
            Duration::from_millis(200),
        ));
        tx.send(b"echo".to_vec()).await.expect("queue");
        let mut buf = [0u8; 64];
        let n = client.recv(&mut buf).await.expect("the reply");
        assert_eq!(&buf[..n], b"echo");
        // Nothing more either way: the flow ends by itself, and its queue is closed, which is
        // how `serve_host` knows to open a new flow for this client's next datagram.
        flow.await.expect("flow task").expect("a clean end");
        assert!(tx.is_closed());
    }

    #[tokio::test]
    async fn datagrams_keep_their_boundaries() {
        let (mut a, mut b) = tokio::io::duplex(1 << 20);
        let sent: Vec<Vec<u8>> = vec![b"one".to_vec(), Vec::new(), vec![7u8; MAX_DATAGRAM]];
        for d in &sent {
            write_datagram(&mut a, d).await.expect("write");
        }
        drop(a);
        for d in &sent {
            assert_eq!(read_datagram(&mut b).await.expect("read").as_ref(), Some(d));
        }
        assert_eq!(read_datagram(&mut b).await.expect("clean end"), None);
    }

    #[tokio::test]
    async fn a_truncated_frame_is_an_error_and_oversized_datagrams_are_refused() {
        let mut r: &[u8] = &[0, 5, b'a', b'b'];
        assert!(read_datagram(&mut r).await.is_err());
        let mut r: &[u8] = &[0];
        assert!(read_datagram(&mut r).await.is_err());
        let mut sink = Vec::new();
        assert!(write_datagram(&mut sink, &vec![0u8; 70_000]).await.is_err());
        assert!(sink.is_empty());
    }
}
