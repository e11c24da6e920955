//! Frames between berthd and a monitor, in both directions over one unix stream socket.
//!
//! Wire format: 1 byte kind, u32 big-endian payload length, payload. Integers in payloads are
//! big-endian.
//!
//! | kind | frame     | direction        | payload                          |
//! |------|-----------|------------------|----------------------------------|
//! | 0    | Stdin     | berthd → monitor | raw bytes                        |
//! | 1    | Stdout    | monitor → berthd | raw bytes                        |
//! | 2    | Stderr    | monitor → berthd | raw bytes                        |
//! | 3    | Started   | monitor → berthd | pid: i32                         |
//! | 4    | Exited    | monitor → berthd | code: i32                        |
//! | 5    | Error     | monitor → berthd | UTF-8 message                    |
//! | 6    | StdinEof  | berthd → monitor | empty                            |
//! | 7    | Resize    | berthd → monitor | height: u16, width: u16          |
//! | 8    | Kill      | berthd → monitor | signal: i32                      |

use std::io;

use bytes::Bytes;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Frame {
    Stdin(Bytes),
    Stdout(Bytes),
    Stderr(Bytes),
    Started { pid: i32 },
    Exited { code: i32 },
    Error(String),
    StdinEof,
    Resize { height: u16, width: u16 },
    Kill { signal: i32 },
}

/// Larger frames are refused as corrupt input rather than allocated.
pub const MAX_FRAME: u32 = 16 << 20;

pub const KIND_STDIN: u8 = 0;
pub const KIND_STDOUT: u8 = 1;
pub const KIND_STDERR: u8 = 2;
pub const KIND_STARTED: u8 = 3;
pub const KIND_EXITED: u8 = 4;
pub const KIND_ERROR: u8 = 5;
pub const KIND_STDIN_EOF: u8 = 6;
pub const KIND_RESIZE: u8 = 7;
pub const KIND_KILL: u8 = 8;

impl Frame {
    pub fn kind(&self) -> u8 {
        match self {
            Frame::Stdin(_) => KIND_STDIN,
            Frame::Stdout(_) => KIND_STDOUT,
            Frame::Stderr(_) => KIND_STDERR,
            Frame::Started { .. } => KIND_STARTED,
            Frame::Exited { .. } => KIND_EXITED,
            Frame::Error(_) => KIND_ERROR,
            Frame::StdinEof => KIND_STDIN_EOF,
            Frame::Resize { .. } => KIND_RESIZE,
            Frame::Kill { .. } => KIND_KILL,
        }
    }
}

/// The frame's bytes on the wire (header and payload).
pub fn encode(f: &Frame) -> Vec<u8> {
    let int;
    let resize;
    let payload: &[u8] = match f {
        Frame::Stdin(b) | Frame::Stdout(b) | Frame::Stderr(b) => b,
        Frame::Started { pid: v } | Frame::Exited { code: v } | Frame::Kill { signal: v } => {
            int = v.to_be_bytes();
            &int
        }
        Frame::Error(s) => s.as_bytes(),
        Frame::StdinEof => &[],
        Frame::Resize { height, width } => {
            let (h, w) = (height.to_be_bytes(), width.to_be_bytes());
            resize = [h[0], h[1], w[0], w[1]];
            &resize
        }
    };
    let mut out = Vec::with_capacity(5 + payload.len());
    out.push(f.kind());
    out.extend_from_slice(&(payload.len() as u32).to_be_bytes());
    out.extend_from_slice(payload);
    out
}

fn invalid(msg: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg)
}

fn int(kind: u8, p: &[u8]) -> io::Result<i32> {
    let a: [u8; 4] = p.try_into().map_err(|_| {
        invalid(format!(
            "frame kind {kind}: want 4 payload bytes, got {}",
            p.len()
        ))
    })?;
    Ok(i32::from_be_bytes(a))
}

/// Builds a frame from its kind and payload.
pub fn decode(kind: u8, p: Vec<u8>) -> io::Result<Frame> {
    Ok(match kind {
        KIND_STDIN => Frame::Stdin(p.into()),
        KIND_STDOUT => Frame::Stdout(p.into()),
        KIND_STDERR => Frame::Stderr(p.into()),
        KIND_STARTED => Frame::Started {
            pid: int(kind, &p)?,
        },
        KIND_EXITED => Frame::Exited {
            code: int(kind, &p)?,
        },
        KIND_ERROR => Frame::Error(String::from_utf8_lossy(&p).into_owned()),
        KIND_STDIN_EOF => Frame::StdinEof,
        KIND_RESIZE => match p[..] {
            [h0, h1, w0, w1] => Frame::Resize {
                height: u16::from_be_bytes([h0, h1]),
                width: u16::from_be_bytes([w0, w1]),
            },
            _ => {
                return Err(invalid(format!(
                    "resize frame with {} payload bytes",
                    p.len()
                )))
            }
        },
        KIND_KILL => Frame::Kill {
            signal: int(kind, &p)?,
        },
        _ => return Err(invalid(format!("unknown frame kind {kind}"))),
    })
}

/// Reads one frame; `None` at a clean end of stream (between frames).
pub async fn read_frame<R: AsyncRead + Unpin>(r: &mut R) -> io::Result<Option<Frame>> {
    let mut head = [0u8; 5];
    // A stream that ends before the first header byte ended cleanly; mid-header it is truncated.
    let n = r.read(&mut head).await?;
    if n == 0 {
        return Ok(None);
    }
    r.read_exact(&mut head[n..]).await?;
    let len = u32::from_be_bytes([head[1], head[2], head[3], head[4]]);
    if len > MAX_FRAME {
        return Err(invalid(format!("frame of {len} bytes is too large")));
    }
    let mut p = vec![0u8; len as usize];
    r.read_exact(&mut p).await?;
    decode(head[0], p).map(Some)
}

/// Writes one frame with a single write call.
pub async fn write_frame<W: AsyncWrite + Unpin>(w: &mut W, f: &Frame) -> io::Result<()> {
    w.write_all(&encode(f)).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn round_trip_every_kind() {
        let frames = vec![
            Frame::Stdin(Bytes::from_static(b"in")),
            Frame::Stdout(Bytes::from_static(b"hi")),
            Frame::Stderr(Bytes::new()),
            Frame::Started { pid: 42 },
            Frame::Exited { code: -1 },
            Frame::Error("boom".into()),
            Frame::StdinEof,
            Frame::Resize {
                height: 24,
                width: 80,
            },
            Frame::Kill { signal: 9 },
        ];
        let mut buf = Vec::new();
        for f in &frames {
            write_frame(&mut buf, f).await.unwrap();
        }
        let mut r = &buf[..];
        for f in &frames {
            assert_eq!(read_frame(&mut r).await.unwrap().as_ref(), Some(f));
        }
        assert_eq!(read_frame(&mut r).await.unwrap(), None);
    }

    #[test]
    fn wire_bytes() {
        assert_eq!(
            encode(&Frame::Started { pid: 258 }),
            [3, 0, 0, 0, 4, 0, 0, 1, 2]
        );
        assert_eq!(
            encode(&Frame::Resize {
                height: 24,
                width: 80
            }),
            [7, 0, 0, 0, 4, 0, 24, 0, 80]
        );
        assert_eq!(encode(&Frame::StdinEof), [6, 0, 0, 0, 0]);
        assert_eq!(
            encode(&Frame::Stdout(Bytes::from_static(b"ok"))),
            [1, 0, 0, 0, 2, b'o', b'k']
        );
    }

    #[tokio::test]
    async fn bad_input_is_an_error() {
        let mut truncated: &[u8] = &[1, 0, 0];
        assert!(read_frame(&mut truncated).await.is_err());
        let mut unknown: &[u8] = &[99, 0, 0, 0, 0];
        assert!(read_frame(&mut unknown).await.is_err());
        let mut short_int: &[u8] = &[3, 0, 0, 0, 1, 7];
        assert!(read_frame(&mut short_int).await.is_err());
        let mut huge: &[u8] = &[1, 0xff, 0xff, 0xff, 0xff];
        assert!(read_frame(&mut huge).await.is_err());
    }
}
