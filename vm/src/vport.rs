//! The guest's end of the virtio-serial port that carries the multiplexed streams.

use std::fs::File;
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};

use tokio::io::{AsyncRead, AsyncWrite};

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

/// Opens the port as one async byte stream. The port can be opened only once, and a blocking
/// read would hold tokio's file in "busy" and stall writes, so reads and writes each get their
/// own file over a dup of the one descriptor.
pub fn open(path: &Path) -> std::io::Result<impl AsyncRead + AsyncWrite + Unpin + Send> {
    let file = File::options().read(true).write(true).open(path)?;
    let dup: OwnedFd = file.as_fd().try_clone_to_owned()?;
    let reader = tokio::fs::File::from_std(file);
    let writer = tokio::fs::File::from_std(File::from(dup));
    Ok(tokio::io::join(reader, writer))
}
