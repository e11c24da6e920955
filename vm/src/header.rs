//! The first bytes the host writes on each stream it opens: what the stream is for.
//!
//! `E` the guest engine's API socket · `T` + port (u16, big-endian): TCP to `127.0.0.1:port`
//! inside the guest (where the engine's NAT publishes container ports) · `U` + port: UDP
//! datagrams to `127.0.0.1:port`, framed ([`crate::udp`]) · `C` + command: a
//! control request, answered with one byte ([`CONTROL_OK`]).

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// The guest's answer to a control request it will carry out.
pub const CONTROL_OK: u8 = 0;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    /// The guest engine's API socket.
    Engine,
    /// TCP to this port on the guest's loopback.
    Tcp(u16),
    /// UDP datagrams (one host client's flow) to this port on the guest's loopback.
    Udp(u16),
    Control(Control),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Control {
    /// Stop the engine, sync the disks and power the VM off.
    Poweroff,
}

#[derive(Debug, thiserror::Error)]
pub enum HeaderError {
    #[error("reading the stream header: {0}")]
    Io(#[from] std::io::Error),
    #[error("unknown stream kind {0:#04x}")]
    UnknownKind(u8),
    #[error("unknown control command {0:#04x}")]
    UnknownControl(u8),
}

impl Target {
    pub fn encode(&self) -> Vec<u8> {
        match self {
            Target::Engine => vec![b'E'],
            Target::Tcp(port) => {
                let p = port.to_be_bytes();
                vec![b'T', p[0], p[1]]
            }
            Target::Udp(port) => {
                let p = port.to_be_bytes();
                vec![b'U', p[0], p[1]]
            }
            Target::Control(Control::Poweroff) => vec![b'C', b'P'],
        }
    }

    pub async fn write_to<W: AsyncWrite + Unpin>(&self, w: &mut W) -> std::io::Result<()> {
        w.write_all(&self.encode()).await
    }

    pub async fn read_from<R: AsyncRead + Unpin>(r: &mut R) -> Result<Target, HeaderError> {
        match r.read_u8().await? {
            b'E' => Ok(Target::Engine),
            b'T' => Ok(Target::Tcp(r.read_u16().await?)),
            b'U' => Ok(Target::Udp(r.read_u16().await?)),
            b'C' => match r.read_u8().await? {
                b'P' => Ok(Target::Control(Control::Poweroff)),
                other => Err(HeaderError::UnknownControl(other)),
            },
            other => Err(HeaderError::UnknownKind(other)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn every_target_reads_back_as_written() {
        for t in [
            Target::Engine,
            Target::Tcp(0),
            Target::Tcp(8080),
            Target::Tcp(u16::MAX),
            Target::Udp(53),
            Target::Control(Control::Poweroff),
        ] {
            let bytes = t.encode();
            let mut r = &bytes[..];
            assert_eq!(Target::read_from(&mut r).await.expect("decode"), t);
            assert!(r.is_empty(), "{t:?} left bytes unread");
        }
    }

    #[tokio::test]
    async fn garbage_and_short_headers_are_errors() {
        let mut r: &[u8] = b"X";
        assert!(matches!(
            Target::read_from(&mut r).await,
            Err(HeaderError::UnknownKind(b'X'))
        ));
        let mut r: &[u8] = b"T\x01";
        assert!(matches!(
            Target::read_from(&mut r).await,
            Err(HeaderError::Io(_))
        ));
        let mut r: &[u8] = b"CZ";
        assert!(matches!(
            Target::read_from(&mut r).await,
            Err(HeaderError::UnknownControl(b'Z'))
        ));
    }
}
