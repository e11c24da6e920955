//! Wiring the user's terminal to a container's or exec's streams: raw mode for `-t`, stdin
//! copied in for `-i`, output written out (demultiplexed unless a TTY), resize on SIGWINCH.

use std::io::Write;
use std::pin::Pin;

use anyhow::Result;
use bollard::container::LogOutput;
use futures_util::{Stream, StreamExt};
use tokio::io::{AsyncReadExt, AsyncWrite, AsyncWriteExt};

pub type Output = Pin<Box<dyn Stream<Item = Result<LogOutput, bollard::errors::Error>> + Send>>;
pub type Input = Pin<Box<dyn AsyncWrite + Send>>;

/// Puts the terminal in raw mode while alive (so keys like Ctrl-C reach the container).
pub struct RawTerminal {
    active: bool,
}

impl RawTerminal {
    pub fn enable(want: bool) -> RawTerminal {
        let active = want
            && std::io::IsTerminal::is_terminal(&std::io::stdin())
            && crossterm::terminal::enable_raw_mode().is_ok();
        RawTerminal { active }
    }
}

impl Drop for RawTerminal {
    fn drop(&mut self) {
        if self.active {
            let _ = crossterm::terminal::disable_raw_mode();
        }
    }
}

/// The terminal's size as (rows, columns), if stdout is one.
pub fn terminal_size() -> Option<(u16, u16)> {
    if !std::io::IsTerminal::is_terminal(&std::io::stdout()) {
        return None;
    }
    crossterm::terminal::size().ok().map(|(w, h)| (h, w))
}

/// Copies our stdin into `input` until EOF, then closes the write side (so the process sees
/// EOF too). Runs as a task: a read blocked on stdin must not hold the exit.
pub fn spawn_stdin(mut input: Input) {
    tokio::spawn(async move {
        let mut stdin = tokio::io::stdin();
        let mut buf = vec![0u8; 8192];
        loop {
            match stdin.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    if input.write_all(&buf[..n]).await.is_err() || input.flush().await.is_err() {
                        break;
                    }
                }
            }
        }
        let _ = input.shutdown().await;
    });
}

/// Writes the output stream to our stdout/stderr until it ends.
pub async fn pump_output(mut output: Output) -> Result<()> {
    while let Some(item) = output.next().await {
        match item? {
            LogOutput::StdErr { message } => {
                let mut err = std::io::stderr().lock();
                err.write_all(&message)?;
                err.flush()?;
            }
            LogOutput::StdOut { message } | LogOutput::Console { message } => {
                let mut out = std::io::stdout().lock();
                out.write_all(&message)?;
                out.flush()?;
            }
            LogOutput::StdIn { .. } => {}
        }
    }
    Ok(())
}

/// Calls `resize(rows, cols)` now and on every SIGWINCH, until the task is dropped.
pub fn spawn_resizer<F, Fut>(resize: F) -> Option<tokio::task::JoinHandle<()>>
where
    F: Fn(u16, u16) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    terminal_size()?;
    Some(tokio::spawn(async move {
        let Ok(mut winch) =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::window_change())
        else {
            return;
        };
        loop {
            if let Some((h, w)) = terminal_size() {
                resize(h, w).await;
            }
            if winch.recv().await.is_none() {
                break;
            }
        }
    }))
}
