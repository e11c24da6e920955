//! A container's streams inside berthd: output fanned out to attach/log followers, stdin queued for
//! the monitor. Attach clients subscribe before start, so nothing the container prints is missed.

use std::sync::Arc;

use bytes::Bytes;
use tokio::net::unix::OwnedWriteHalf;
use tokio::sync::{broadcast, mpsc, oneshot, Mutex, Notify};

use crate::monitor::protocol::{write_frame, Frame};

#[derive(Clone, Debug)]
pub enum Output {
    Stdout(Bytes),
    Stderr(Bytes),
    /// The process exited and all its output has been delivered.
    Closed,
}

pub struct IoHub {
    out: broadcast::Sender<Output>,
    stdin_tx: mpsc::UnboundedSender<Frame>,
    /// Taken by the connection to the running monitor for as long as it lives.
    pub(crate) stdin_rx: Mutex<mpsc::UnboundedReceiver<Frame>>,
    /// Fired whenever the log file may have grown (for `logs --follow`).
    pub log_grew: Notify,
}

impl Default for IoHub {
    fn default() -> Self {
        let (out, _) = broadcast::channel(4096);
        let (stdin_tx, stdin_rx) = mpsc::unbounded_channel();
        IoHub {
            out,
            stdin_tx,
            stdin_rx: Mutex::new(stdin_rx),
            log_grew: Notify::new(),
        }
    }
}

impl IoHub {
    pub fn subscribe(&self) -> broadcast::Receiver<Output> {
        self.out.subscribe()
    }

    pub fn publish(&self, o: Output) {
        // No subscriber is fine: the log file has everything.
        let _ = self.out.send(o);
        self.log_grew.notify_waiters();
    }

    /// Queues a frame for the monitor (stdin data, EOF, resize).
    pub fn send(&self, f: Frame) {
        let _ = self.stdin_tx.send(f);
    }
}

/// Forwards queued stdin/resize frames to a monitor connection until `stop` fires or the
/// connection breaks. Holding the receiver lock for the connection's life keeps one writer.
pub fn spawn_frame_writer(
    io: Arc<IoHub>,
    mut w: OwnedWriteHalf,
) -> (oneshot::Sender<()>, tokio::task::JoinHandle<()>) {
    let (stop_tx, mut stop_rx) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        let mut rx = io.stdin_rx.lock().await;
        loop {
            tokio::select! {
                f = rx.recv() => match f {
                    Some(f) => if write_frame(&mut w, &f).await.is_err() { break },
                    None => break,
                },
                _ = &mut stop_rx => break,
            }
        }
    });
    (stop_tx, task)
}
