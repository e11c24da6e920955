//! The host side of the engine socket: a unix socket (mode 0600) whose every connection is one
//! mux stream to the guest engine's API socket.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use tokio::net::UnixListener;

use crate::agent::splice;
use crate::header::Target;
use crate::mux::MuxHandle;

/// Binds the host socket at `path`: its dir is created (0700 when new), a stale socket from a
/// previous run is replaced, and the socket is made 0600 (only its owner talks to the engine).
pub fn bind_socket(path: &Path) -> std::io::Result<UnixListener> {
    if let Some(dir) = path.parent() {
        if !dir.exists() {
            std::fs::create_dir_all(dir)?;
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
        }
    }
    match std::fs::remove_file(path) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    let listener = UnixListener::bind(path)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    Ok(listener)
}

/// Accepts connections until the listener fails; each is spliced to the guest engine.
pub async fn serve_engine_socket(listener: UnixListener, mux: MuxHandle) {
    loop {
        let conn = match listener.accept().await {
            Ok((conn, _)) => conn,
            Err(e) => {
                tracing::warn!("engine socket accept: {e}");
                return;
            }
        };
        let mux = mux.clone();
        tokio::spawn(async move {
            if let Err(e) = forward(conn, &mux, Target::Engine).await {
                tracing::debug!("engine connection: {e}");
            }
        });
    }
}

/// Opens a stream to `target` and splices `conn` with it until both directions are done.
pub async fn forward<C>(conn: C, mux: &MuxHandle, target: Target) -> std::io::Result<()>
where
    C: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let mut stream = mux.open().await.map_err(std::io::Error::other)?;
    target.write_to(&mut stream).await?;
    splice(conn, stream).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::agent::{self, AgentConfig};
    use crate::mux::{self, Side};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::UnixStream;

    #[tokio::test]
    async fn the_host_socket_is_private_and_reaches_the_guest_engine() {
        let dir = tempfile::tempdir().expect("tempdir");
        let engine = dir.path().join("guest-engine.sock");
        let host_sock = dir.path().join("vm/docker.sock");
        let engine_listener = tokio::net::UnixListener::bind(&engine).expect("bind engine");
        let (a, b) = tokio::io::duplex(8192);
        tokio::spawn(agent::serve(b, AgentConfig::new(engine.clone())));
        let session = mux::start(a, Side::Host);
        // A stale socket file from a crashed run is replaced.
        std::fs::create_dir_all(host_sock.parent().expect("parent")).expect("mkdir");
        std::fs::write(&host_sock, b"stale").expect("stale file");
        let listener = bind_socket(&host_sock).expect("bind host socket");
        let mode = std::fs::metadata(&host_sock)
            .expect("stat")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        tokio::spawn(serve_engine_socket(listener, session.handle.clone()));

        let server = tokio::spawn(async move {
            for _ in 0..2 {
                let (mut c, _) = engine_listener.accept().await.expect("accept");
                let mut req = Vec::new();
                c.read_to_end(&mut req).await.expect("read");
                c.write_all(b"pong:").await.expect("write");
                c.write_all(&req).await.expect("write");
            }
        });
        for msg in [&b"one"[..], b"two"] {
            let mut c = UnixStream::connect(&host_sock).await.expect("connect");
            c.write_all(msg).await.expect("write");
            c.shutdown().await.expect("half-close");
            let mut back = Vec::new();
            c.read_to_end(&mut back).await.expect("read");
            assert_eq!(back, [&b"pong:"[..], msg].concat());
        }
        server.await.expect("server");
    }
}
