//! `docker export`: a tar of a container's whole filesystem (its rootfs overlay, without the
//! volumes and binds, as dockerd does), streamed as it is walked.

use std::io::{self, Write};
use std::sync::Arc;

use bytes::Bytes;
use tokio::sync::mpsc;

use super::{Container, ContainerService};
use crate::error::{EngineError, Result};
use crate::fs::channel::ChannelWriter;
use crate::fs::tar_write::Archiver;

impl ContainerService {
    /// The tar stream of the container's rootfs. The container stays locked (and a stopped one
    /// mounted) until the stream ends or the client goes away.
    pub async fn export(
        self: &Arc<Self>,
        c: &Arc<Container>,
    ) -> Result<mpsc::Receiver<io::Result<Bytes>>> {
        let (ready_tx, ready_rx) = tokio::sync::oneshot::channel::<Result<()>>();
        let (tx, rx) = mpsc::channel(8);
        let (svc, c2) = (Arc::clone(self), Arc::clone(c));
        tokio::spawn(async move {
            let _op = c2.op.lock().await;
            let session = match svc.open_fs(&c2, false).await {
                Ok(s) => s,
                Err(e) => {
                    let _ = ready_tx.send(Err(e));
                    return;
                }
            };
            let _ = ready_tx.send(Ok(()));
            let id = c2.id.clone();
            let job = tokio::task::spawn_blocking(move || {
                let mut a = Archiver::new(ChannelWriter::new(tx.clone()));
                let result = a
                    .append_children(None, session.fs.root(), b"")
                    .and_then(|()| a.finish())
                    .and_then(|mut w| w.flush());
                if let Err(e) = result {
                    tracing::warn!(id, error = %e, "container export cut short");
                    ChannelWriter::new(tx).fail(e);
                }
            });
            let _ = job.await;
        });
        ready_rx
            .await
            .map_err(|_| EngineError::internal("export task ended early"))??;
        self.emit(c, "export", &[]);
        Ok(rx)
    }
}
