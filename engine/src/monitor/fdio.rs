//! Non-blocking I/O on raw fds (pipes, pty masters) driven by tokio's reactor, and receiving the
//! pty master over the console socket.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

use tokio::io::unix::AsyncFd;
use tokio::io::Interest;

pub fn set_nonblocking(fd: RawFd) -> io::Result<()> {
    // SAFETY: fcntl(2) on a descriptor the caller keeps open.
    unsafe {
        let flags = libc::fcntl(fd, libc::F_GETFL);
        if flags < 0 || libc::fcntl(fd, libc::F_SETFL, flags | libc::O_NONBLOCK) < 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

/// Registers `fd` with the reactor (non-blocking from here on).
pub fn async_fd(fd: OwnedFd) -> io::Result<AsyncFd<OwnedFd>> {
    set_nonblocking(fd.as_raw_fd())?;
    // SAFETY: the AsyncFd takes ownership of the OwnedFd, so the fd stays open and unchanged for
    // the AsyncFd's whole life.
    Ok(unsafe { AsyncFd::register(fd) }?)
}

/// A close-on-exec pipe: (read end, write end).
pub fn pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(io::Error::from)
}

/// Reads some bytes; Ok(0) at end of stream. EIO on a pty master means every slave fd is closed,
/// which is the pty's end of stream.
pub async fn read(fd: &AsyncFd<OwnedFd>, buf: &mut [u8]) -> io::Result<usize> {
    loop {
        let mut guard = fd.readable().await?;
        // SAFETY: read(2) into a buffer we own, of the length we pass.
        let n = unsafe { libc::read(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
        if n >= 0 {
            return Ok(n as usize);
        }
        let e = io::Error::last_os_error();
        match e.raw_os_error() {
            Some(libc::EAGAIN) => guard.clear_ready(),
            Some(libc::EINTR) => {}
            Some(libc::EIO) => return Ok(0),
            _ => return Err(e),
        }
    }
}

pub async fn write_all(fd: &AsyncFd<OwnedFd>, mut data: &[u8]) -> io::Result<()> {
    while !data.is_empty() {
        let mut guard = fd.writable().await?;
        // SAFETY: write(2) from a buffer we own, of the length we pass.
        let n = unsafe { libc::write(fd.as_raw_fd(), data.as_ptr().cast(), data.len()) };
        if n >= 0 {
            data = &data[n as usize..];
            continue;
        }
        let e = io::Error::last_os_error();
        match e.raw_os_error() {
            Some(libc::EAGAIN) => guard.clear_ready(),
            Some(libc::EINTR) => {}
            _ => return Err(e),
        }
    }
    Ok(())
}

/// Receives the one fd the runtime sends over a console-socket connection (SCM_RIGHTS).
pub async fn recv_fd(stream: &tokio::net::UnixStream) -> io::Result<OwnedFd> {
    use nix::sys::socket::{recvmsg, ControlMessageOwned, MsgFlags};
    let raw = stream.as_raw_fd();
    stream
        .async_io(Interest::READABLE, || {
            let mut buf = [0u8; 4096];
            let mut iov = [io::IoSliceMut::new(&mut buf)];
            let mut space = nix::cmsg_space!([RawFd; 2]);
            let msg = recvmsg::<()>(
                raw,
                &mut iov,
                Some(&mut space),
                MsgFlags::MSG_CMSG_CLOEXEC | MsgFlags::MSG_DONTWAIT,
            )
            .map_err(io::Error::from)?;
            let mut got: Option<OwnedFd> = None;
            for c in msg.cmsgs().map_err(io::Error::from)? {
                if let ControlMessageOwned::ScmRights(fds) = c {
                    for fd in fds {
                        // SAFETY: the kernel just installed this fd for us; nothing else owns it.
                        let owned = unsafe { OwnedFd::from_raw_fd(fd) };
                        // Keep the first; any extra is closed on drop.
                        got.get_or_insert(owned);
                    }
                }
            }
            match got {
                Some(fd) => Ok(fd),
                None if msg.bytes == 0 => Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "console socket closed before the runtime sent the pty",
                )),
                None => Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    "console socket message carried no fd",
                )),
            }
        })
        .await
}
