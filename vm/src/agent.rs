//! The guest agent: accepts the host's streams and connects each to what its header names
//! (the engine's API socket, or a TCP port on the guest's loopback), splicing bytes both ways
//! with half-close.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpStream, UnixStream};
use tokio::sync::mpsc;

use crate::header::{Control, Target, CONTROL_OK};
use crate::mux::{self, MuxStream, Side};

#[derive(Clone, Debug)]
pub struct AgentConfig {
    /// The guest engine's API socket.
    pub engine_socket: PathBuf,
    /// Where `Tcp(port)` and `Udp(port)` streams go: the guest's loopback (127.0.0.1), where the engine's
    /// NAT publishes container ports.
    pub tcp_host: Ipv4Addr,
}

impl AgentConfig {
    pub fn new(engine_socket: PathBuf) -> AgentConfig {
        AgentConfig {
            engine_socket,
            tcp_host: Ipv4Addr::LOCALHOST,
        }
    }
}

/// Why [`serve`] returned.
#[derive(Debug, PartialEq, Eq)]
pub enum AgentExit {
    /// The host went away (EOF or error on the port): wait for it to come back.
    HostGone,
    /// The host asked for a poweroff, and has been told it will happen.
    Poweroff,
}

/// Serves one session over `io` (the virtio-serial port).
pub async fn serve<T>(io: T, cfg: AgentConfig) -> AgentExit
where
    T: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let cfg = Arc::new(cfg);
    let mut session = mux::start(io, Side::Guest);
    let (control_tx, mut control_rx) = mpsc::channel::<Control>(1);
    loop {
        tokio::select! {
            stream = session.incoming.next() => {
                let Some(stream) = stream else {
                    return AgentExit::HostGone;
                };
                tokio::spawn(handle(stream, cfg.clone(), control_tx.clone()));
            }
            Some(Control::Poweroff) = control_rx.recv() => {
                session.driver.abort();
                return AgentExit::Poweroff;
            }
        }
    }
}

async fn handle(mut stream: MuxStream, cfg: Arc<AgentConfig>, control: mpsc::Sender<Control>) {
    let target = match Target::read_from(&mut stream).await {
        Ok(t) => t,
        Err(e) => {
            tracing::warn!("dropping a stream: {e}");
            return;
        }
    };
    let result = match target {
        Target::Engine => match UnixStream::connect(&cfg.engine_socket).await {
            Ok(conn) => splice(stream, conn).await,
            Err(e) => Err(e),
        },
        Target::Tcp(port) => match TcpStream::connect((cfg.tcp_host, port)).await {
            Ok(conn) => {
                let _ = conn.set_nodelay(true);
                splice(stream, conn).await
            }
            Err(e) => Err(e),
        },
        Target::Udp(port) => {
            crate::udp::relay_guest(stream, SocketAddr::from((cfg.tcp_host, port))).await
        }
        Target::Control(c) => answer_control(stream, c, &control).await,
    };
    if let Err(e) = result {
        // Dropping the stream resets it: the host's client sees its connection end.
        tracing::debug!("stream to {target:?}: {e}");
    }
}

/// Acknowledges, then waits for the host to close the stream (so the answer has crossed the
/// port before the agent stops serving), then passes the request on.
async fn answer_control(
    mut stream: MuxStream,
    c: Control,
    control: &mpsc::Sender<Control>,
) -> std::io::Result<()> {
    stream.write_all(&[CONTROL_OK]).await?;
    stream.flush().await?;
    let mut rest = Vec::new();
    let _ = stream.read_to_end(&mut rest).await;
    let _ = control.send(c).await;
    Ok(())
}

/// Copies both ways until both directions are done; an EOF on one side becomes a half-close
/// (FIN) on the other, so request/response protocols that shut down their write side work.
pub async fn splice<A, B>(mut a: A, mut b: B) -> std::io::Result<()>
where
    A: AsyncRead + AsyncWrite + Unpin,
    B: AsyncRead + AsyncWrite + Unpin,
{
    tokio::io::copy_bidirectional(&mut a, &mut b)
        .await
        .map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mux::Session;
    use tokio::net::{TcpListener, UnixListener};

    struct Guest {
        host: Session,
        agent: tokio::task::JoinHandle<AgentExit>,
        _dir: tempfile::TempDir,
        socket: PathBuf,
    }

    fn guest() -> Guest {
        let dir = tempfile::tempdir().expect("tempdir");
        let socket = dir.path().join("engine.sock");
        let (a, b) = tokio::io::duplex(8192);
        let cfg = AgentConfig::new(socket.clone());
        let agent = tokio::spawn(serve(b, cfg));
        Guest {
            host: mux::start(a, Side::Host),
            agent,
            _dir: dir,
            socket,
        }
    }

    async fn open(g: &Guest, t: Target) -> MuxStream {
        let mut s = g.host.handle.open().await.expect("open");
        t.write_to(&mut s).await.expect("header");
        s
    }

    #[tokio::test]
    async fn engine_streams_reach_the_engine_socket_with_half_close() {
        let g = guest();
        let listener = UnixListener::bind(&g.socket).expect("bind engine socket");
        let server = tokio::spawn(async move {
            let (mut c, _) = listener.accept().await.expect("accept");
            let mut req = Vec::new();
            c.read_to_end(&mut req).await.expect("read request to EOF");
            c.write_all(&req)
                .await
                .expect("answer after the client's FIN");
        });
        let mut s = open(&g, Target::Engine).await;
        s.write_all(b"GET /_ping").await.expect("write");
        s.shutdown().await.expect("half-close");
        let mut back = Vec::new();
        s.read_to_end(&mut back).await.expect("read");
        assert_eq!(back, b"GET /_ping");
        server.await.expect("server");
    }

    #[tokio::test]
    async fn tcp_streams_reach_guest_ports() {
        let g = guest();
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let port = listener.local_addr().expect("addr").port();
        tokio::spawn(async move {
            while let Ok((mut c, _)) = listener.accept().await {
                tokio::spawn(async move {
                    let mut buf = Vec::new();
                    let _ = c.read_to_end(&mut buf).await;
                    let _ = c.write_all(format!("{} bytes", buf.len()).as_bytes()).await;
                });
            }
        });
        let mut tasks = Vec::new();
        for i in 0..100usize {
            let mut s = open(&g, Target::Tcp(port)).await;
            tasks.push(tokio::spawn(async move {
                s.write_all(&vec![1u8; i * 100]).await.expect("write");
                s.shutdown().await.expect("fin");
                let mut back = String::new();
                s.read_to_string(&mut back).await.expect("read");
                assert_eq!(back, format!("{} bytes", i * 100));
            }));
        }
        for t in tasks {
            t.await.expect("client");
        }
    }

    #[tokio::test]
    async fn a_target_that_is_not_there_ends_the_stream() {
        let g = guest();
        // Nothing listens on the engine socket yet (the engine still starting, say).
        let mut s = open(&g, Target::Engine).await;
        let mut back = Vec::new();
        let r = s.read_to_end(&mut back).await;
        assert!(r.is_err() || back.is_empty());
        // A guest port whose server dies mid-connection ends that stream only.
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let mut s = open(&g, Target::Tcp(port)).await;
        s.write_all(b"x").await.expect("write");
        let (c, _) = listener.accept().await.expect("accept");
        drop(c);
        let r = s.read_to_end(&mut back).await;
        assert!(r.is_err() || back.is_empty());
        let mut other = open(&g, Target::Tcp(port)).await;
        other.write_all(b"y").await.expect("write");
        let (mut c, _) = listener.accept().await.expect("accept again");
        let mut one = [0u8; 1];
        c.read_exact(&mut one)
            .await
            .expect("the other stream still works");
        assert_eq!(&one, b"y");
    }

    #[tokio::test]
    async fn poweroff_is_acknowledged_then_ends_the_agent() {
        let g = guest();
        let mut s = open(&g, Target::Control(Control::Poweroff)).await;
        let mut ack = [0u8; 1];
        s.read_exact(&mut ack).await.expect("ack");
        assert_eq!(ack[0], CONTROL_OK);
        s.shutdown().await.expect("close");
        assert_eq!(g.agent.await.expect("agent"), AgentExit::Poweroff);
    }

    #[tokio::test]
    async fn the_host_going_away_ends_the_session() {
        let g = guest();
        drop(g.host);
        assert_eq!(g.agent.await.expect("agent"), AgentExit::HostGone);
    }
}
