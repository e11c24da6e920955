//! The guest's end of the virtio-serial port that carries the multiplexed streams.

use std::fs::File;
use std::io::{Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use tokio::io::unix::AsyncFd;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// The port's name, as QEMU's `-device virtserialport,name=…` gives it.
pub const PORT_NAME: &str = "berth.mux";

/// The device node of the virtio-serial port named `name`: udev's `/dev/virtio-ports/NAME`
/// when it exists, else found through sysfs (the initramfs has no udev).
pub fn find_port(name: &str) -> Option<PathBuf> {
    let by_name = Path::new("/dev/virtio-ports").join(name);
    if by_name.exists() {
        return Some(by_name);
    }
    let entries = std::fs::read_dir("/sys/class/virtio-ports").ok()?;
    for e in entries.flatten() {
        let Ok(n) = std::fs::read_to_string(e.path().join("name")) else {
            continue;
        };
        if n.trim() == name {
            return Some(Path::new("/dev").join(e.file_name()));
        }
    }
    None
}

/// Opens the port as one async byte stream: non-blocking, driven by epoll (the port's driver
/// supports poll), so a burst of small reads (the driver hands out one 4 KiB buffer per read)
/// costs no thread hand-offs.
pub fn open(path: &Path) -> std::io::Result<Port> {
    let file = File::options()
        .read(true)
        .write(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)?;
    // SAFETY: `File` owns its descriptor and always returns the same one; the AsyncFd owns
    // the File until it is dropped.
    let fd = unsafe { AsyncFd::register(file) }.map_err(|e| e.into_parts().1)?;
    Ok(Port { fd })
}

/// The open port.
pub struct Port {
    fd: AsyncFd<File>,
}

impl AsyncRead for Port {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        loop {
            let mut guard = ready!(self.fd.poll_read_ready(cx))?;
            let unfilled = buf.initialize_unfilled();
            match guard.try_io(|f| f.get_ref().read(unfilled)) {
                Ok(Ok(n)) => {
                    buf.advance(n);
                    return Poll::Ready(Ok(()));
                }
                Ok(Err(e)) => return Poll::Ready(Err(e)),
                Err(_would_block) => continue,
            }
        }
    }
}

impl AsyncWrite for Port {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        loop {
            let mut guard = ready!(self.fd.poll_write_ready(cx))?;
            match guard.try_io(|f| f.get_ref().write(data)) {
                Ok(result) => return Poll::Ready(result),
                Err(_would_block) => continue,
            }
        }
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        // Writes go straight to the device.
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// A FIFO opened read-write loops back what is written: the same non-blocking, epoll-driven
    /// paths as the port, without a VM. More than the FIFO's 64 KiB buffer goes through, so
    /// writes must wait for readiness.
    #[tokio::test]
    async fn reads_and_writes_wait_for_readiness() {
        let dir = tempfile::tempdir().expect("tempdir");
        let fifo = dir.path().join("port");
        let c = std::ffi::CString::new(fifo.to_string_lossy().as_bytes()).expect("path");
        // SAFETY: a valid NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        let port = open(&fifo).expect("open fifo");
        let (mut r, mut w) = tokio::io::split(port);
        let data: Vec<u8> = (0..1_000_000u32).map(|i| (i % 253) as u8).collect();
        let expected = data.clone();
        let writer = tokio::spawn(async move {
            w.write_all(&data).await.expect("write");
        });
        let mut got = vec![0u8; expected.len()];
        r.read_exact(&mut got).await.expect("read");
        writer.await.expect("writer");
        assert!(got == expected, "bytes changed on the way");
    }
}
