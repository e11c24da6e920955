//! Many byte streams over one (the VM's virtio-serial port), with yamux.
//!
//! yamux gives what the forwarder needs without a protocol of our own: per-stream half-close
//! (FIN), per-stream flow control (a receive window: a slow reader stalls only its own
//! writer), and hundreds of concurrent streams. Its `Connection` must be polled continuously
//! to make progress, so one driver task owns it; [`MuxHandle::open`] asks that task for an
//! outbound stream and inbound streams arrive on [`Incoming`].

use std::collections::VecDeque;
use std::future::poll_fn;
use std::task::Poll;

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio_util::compat::{Compat, FuturesAsyncReadCompatExt, TokioAsyncReadCompatExt};

/// One multiplexed stream, with tokio's I/O traits. Shutting down its write half sends a FIN:
/// the peer reads EOF and may go on writing.
pub type MuxStream = Compat<yamux::Stream>;

/// Streams one session may hold open at once (yamux's default is 512; a browser hitting a
/// published port can open many).
const MAX_STREAMS: usize = 1024;

#[derive(Debug, thiserror::Error)]
pub enum MuxError {
    #[error("the multiplexed connection is closed")]
    Closed,
    #[error("multiplexed connection: {0}")]
    Connection(#[from] yamux::ConnectionError),
}

/// Which end of the byte stream this is (yamux numbers the two sides' streams apart).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    /// The host: it opens the streams.
    Host,
    /// The guest: it accepts them.
    Guest,
}

type OpenReply = oneshot::Sender<Result<MuxStream, MuxError>>;

/// Opens outbound streams; cheap to clone.
#[derive(Clone, Debug)]
pub struct MuxHandle {
    requests: mpsc::Sender<OpenReply>,
}

impl MuxHandle {
    /// A new stream to the peer.
    pub async fn open(&self) -> Result<MuxStream, MuxError> {
        let (tx, rx) = oneshot::channel();
        self.requests.send(tx).await.map_err(|_| MuxError::Closed)?;
        rx.await.map_err(|_| MuxError::Closed)?
    }
}

/// Streams the peer opened.
#[derive(Debug)]
pub struct Incoming {
    streams: mpsc::UnboundedReceiver<MuxStream>,
}

impl Incoming {
    /// The next stream the peer opened; None once the connection is gone.
    pub async fn next(&mut self) -> Option<MuxStream> {
        self.streams.recv().await
    }
}

/// A running session: the handle, the inbound streams, and the driver task (it ends with the
/// underlying connection: Ok on a clean EOF).
pub struct Session {
    pub handle: MuxHandle,
    pub incoming: Incoming,
    pub driver: JoinHandle<Result<(), MuxError>>,
}

/// Starts a session over `io` (spawns its driver on the current tokio runtime).
pub fn start<T>(io: T, side: Side) -> Session
where
    T: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let mut cfg = yamux::Config::default();
    cfg.set_max_num_streams(MAX_STREAMS);
    let mode = match side {
        Side::Host => yamux::Mode::Client,
        Side::Guest => yamux::Mode::Server,
    };
    let conn = yamux::Connection::new(io.compat(), cfg, mode);
    let (req_tx, req_rx) = mpsc::channel(64);
    let (in_tx, in_rx) = mpsc::unbounded_channel();
    let driver = tokio::spawn(drive(conn, req_rx, in_tx));
    Session {
        handle: MuxHandle { requests: req_tx },
        incoming: Incoming { streams: in_rx },
        driver,
    }
}

/// Polls the connection: serves open requests and hands inbound streams out, until the
/// connection ends, or until every [`MuxHandle`] and the [`Incoming`] are dropped. Requests
/// still waiting then see their reply dropped ([`MuxError::Closed`]).
async fn drive<T>(
    mut conn: yamux::Connection<T>,
    mut requests: mpsc::Receiver<OpenReply>,
    inbound: mpsc::UnboundedSender<MuxStream>,
) -> Result<(), MuxError>
where
    T: futures_util::AsyncRead + futures_util::AsyncWrite + Unpin,
{
    let mut waiting: VecDeque<OpenReply> = VecDeque::new();
    let mut requests_open = true;
    poll_fn(|cx| {
        while requests_open {
            match requests.poll_recv(cx) {
                Poll::Ready(Some(reply)) => waiting.push_back(reply),
                Poll::Ready(None) => requests_open = false,
                Poll::Pending => break,
            }
        }
        while !waiting.is_empty() {
            match conn.poll_new_outbound(cx) {
                Poll::Ready(result) => {
                    let result = result.map(|s| s.compat()).map_err(MuxError::from);
                    if let Some(reply) = waiting.pop_front() {
                        // The opener may have given up; the stream is then dropped (reset).
                        let _ = reply.send(result);
                    }
                }
                Poll::Pending => break,
            }
        }
        if !requests_open && waiting.is_empty() && inbound.is_closed() {
            // Nobody can open or accept streams any more: close the connection.
            return conn.poll_close(cx).map_err(MuxError::from);
        }
        loop {
            match conn.poll_next_inbound(cx) {
                Poll::Ready(Some(Ok(stream))) => {
                    // Nobody accepting (the host side): the stream is dropped, i.e. refused.
                    let _ = inbound.send(stream.compat());
                }
                Poll::Ready(Some(Err(e))) => return Poll::Ready(Err(MuxError::from(e))),
                Poll::Ready(None) => return Poll::Ready(Ok(())),
                Poll::Pending => return Poll::Pending,
            }
        }
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    fn pair() -> (Session, Session) {
        // A small pipe buffer, like the virtio-serial port's: framing must not depend on it.
        let (a, b) = tokio::io::duplex(4096);
        (start(a, Side::Host), start(b, Side::Guest))
    }

    #[tokio::test]
    async fn a_stream_carries_bytes_both_ways_and_half_closes() {
        let (host, mut guest) = pair();
        let mut s = host.handle.open().await.expect("open");
        s.write_all(b"hello").await.expect("write");
        s.shutdown().await.expect("half-close");
        let mut g = guest.incoming.next().await.expect("inbound");
        let mut got = Vec::new();
        g.read_to_end(&mut got).await.expect("read to FIN");
        assert_eq!(got, b"hello");
        // The guest still writes after the host's FIN.
        g.write_all(b"world").await.expect("write after peer FIN");
        g.shutdown().await.expect("close");
        let mut back = Vec::new();
        s.read_to_end(&mut back).await.expect("read back");
        assert_eq!(back, b"world");
    }

    #[tokio::test]
    async fn a_hundred_concurrent_streams_keep_their_bytes_apart() {
        let (host, mut guest) = pair();
        // The guest echoes every stream back, reversed per stream so a mix-up shows.
        let echo = tokio::spawn(async move {
            let mut tasks = Vec::new();
            while let Some(mut s) = guest.incoming.next().await {
                tasks.push(tokio::spawn(async move {
                    let mut buf = Vec::new();
                    s.read_to_end(&mut buf).await.expect("guest read");
                    buf.reverse();
                    s.write_all(&buf).await.expect("guest write");
                    s.shutdown().await.expect("guest close");
                }));
            }
            for t in tasks {
                t.await.expect("echo task");
            }
        });
        let mut clients = Vec::new();
        for i in 0..100u32 {
            let h = host.handle.clone();
            clients.push(tokio::spawn(async move {
                let mut s = h.open().await.expect("open");
                let payload: Vec<u8> = (0..20_000u32).map(|j| ((i * 7 + j) % 251) as u8).collect();
                s.write_all(&payload).await.expect("write");
                s.shutdown().await.expect("fin");
                let mut back = Vec::new();
                s.read_to_end(&mut back).await.expect("read");
                back.reverse();
                assert_eq!(back, payload, "stream {i}");
            }));
        }
        for c in clients {
            c.await.expect("client");
        }
        drop(host);
        echo.abort();
    }

    #[tokio::test]
    async fn a_reader_that_does_not_read_stalls_its_writer_with_bounded_buffering() {
        let (host, mut guest) = pair();
        let mut s = host.handle.open().await.expect("open");
        s.write_all(b"x")
            .await
            .expect("first byte opens the stream");
        let mut g = guest.incoming.next().await.expect("inbound");
        let total = 64 * 1024 * 1024;
        let chunk = vec![7u8; 64 * 1024];
        let mut written = 0usize;
        // Once the window is used up the writer can only go on after the reader reads, so
        // however long it is given, it stops short of the bound (a slow machine writes less,
        // never more): the assertion is on bytes, not time.
        let _ = tokio::time::timeout(Duration::from_secs(3), async {
            // `write`, not `write_all`: a write cut off by the timeout wrote nothing.
            while written < total {
                written += s.write(&chunk).await.expect("write");
            }
        })
        .await;
        assert!(
            written < 8 * 1024 * 1024,
            "{written} bytes buffered for a reader that reads nothing"
        );
        // Another stream on the same connection is not blocked by the stalled one.
        let mut other = host.handle.open().await.expect("open another");
        other.write_all(b"ping").await.expect("write other");
        other.shutdown().await.expect("fin other");
        let mut o = guest.incoming.next().await.expect("other inbound");
        let mut got = Vec::new();
        o.read_to_end(&mut got).await.expect("read other");
        assert_eq!(got, b"ping");
        // Once the reader reads, the writer finishes.
        let reader = tokio::spawn(async move {
            let mut n = 0u64;
            let mut buf = vec![0u8; 64 * 1024];
            loop {
                let k = g.read(&mut buf).await.expect("read");
                if k == 0 {
                    break n;
                }
                n += k as u64;
            }
        });
        while written < total {
            written += s.write(&chunk).await.expect("write after the reader woke");
        }
        s.shutdown().await.expect("fin");
        assert_eq!(reader.await.expect("reader"), 1 + written as u64);
    }

    #[tokio::test]
    async fn dropping_one_stream_leaves_the_others_working() {
        let (host, mut guest) = pair();
        let mut a = host.handle.open().await.expect("open a");
        let mut b = host.handle.open().await.expect("open b");
        a.write_all(b"a").await.expect("write a");
        b.write_all(b"b").await.expect("write b");
        let mut ga = guest.incoming.next().await.expect("a inbound");
        let mut gb = guest.incoming.next().await.expect("b inbound");
        let mut one = [0u8; 1];
        ga.read_exact(&mut one).await.expect("read a");
        gb.read_exact(&mut one).await.expect("read b");
        // The guest end of `a` dies without a clean close.
        drop(ga);
        let mut rest = Vec::new();
        let r = a.read_to_end(&mut rest).await;
        assert!(
            r.is_err() || rest.is_empty(),
            "a dead peer reads as EOF or reset"
        );
        b.write_all(b"still").await.expect("b still writes");
        b.shutdown().await.expect("fin b");
        let mut got = Vec::new();
        gb.read_to_end(&mut got).await.expect("read b");
        assert_eq!(got, b"still");
    }

    #[tokio::test]
    async fn the_connection_dropping_ends_streams_opens_and_the_session() {
        let (a, b) = tokio::io::duplex(4096);
        let host = start(a, Side::Host);
        let mut s = host.handle.open().await.expect("open");
        s.write_all(b"x").await.expect("write");
        // The guest's side of the byte stream vanishes (QEMU killed, say).
        drop(b);
        let mut buf = Vec::new();
        let r = s.read_to_end(&mut buf).await;
        assert!(r.is_err() || buf.is_empty());
        let end = host.driver.await.expect("driver task");
        // EOF or an I/O error: either way the session is over, and opening fails.
        let _ = end;
        assert!(host.handle.open().await.is_err());
    }
}
