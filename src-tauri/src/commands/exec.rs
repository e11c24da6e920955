//! A terminal into a container: an exec with a TTY whose output streams to the UI as base64
//! chunks and whose input and size come from the UI (xterm.js).

use std::collections::HashMap;
use std::pin::Pin;
use std::sync::{Arc, Mutex};

use base64::Engine as _;
use bollard::exec::{ResizeExecOptions, StartExecOptions, StartExecResults};
use bollard::models::ExecConfig;
use futures_util::StreamExt;
use tauri::ipc::Channel;
use tauri::State;
use tokio::io::{AsyncWrite, AsyncWriteExt};
use tokio_util::sync::CancellationToken;
use tracing::{debug, info};

use crate::backend::{limits, lock, timed, Backend, Sink};
use crate::error::{CommandError, CommandResult};

/// The shell an exec session runs: bash when the image has it, else sh.
pub const SHELL: [&str; 3] = [
    "/bin/sh",
    "-c",
    "if command -v bash >/dev/null 2>&1; then exec bash; else exec sh; fi",
];

type Input = Pin<Box<dyn AsyncWrite + Send>>;

struct ExecSession {
    input: Arc<tokio::sync::Mutex<Input>>,
    done: CancellationToken,
}

/// Open exec sessions by id (the engine's exec id).
#[derive(Default)]
pub struct ExecSessions {
    open: Mutex<HashMap<String, ExecSession>>,
}

impl ExecSessions {
    fn input(&self, session: &str) -> CommandResult<Arc<tokio::sync::Mutex<Input>>> {
        lock(&self.open)
            .get(session)
            .map(|s| s.input.clone())
            .ok_or_else(|| CommandError::not_found(format!("No such terminal session: {session}")))
    }

    fn remove(&self, session: &str) {
        if let Some(s) = lock(&self.open).remove(session) {
            s.done.cancel();
        }
    }

    pub fn count(&self) -> usize {
        lock(&self.open).len()
    }
}

/// Terminal size check: xterm.js never reports 0, so 0 means a bug in the caller.
fn check_size(cols: u16, rows: u16) -> CommandResult<()> {
    if cols == 0 || rows == 0 {
        return Err(CommandError::invalid(
            "size",
            format!("Terminal size {cols}x{rows} is empty"),
        ));
    }
    Ok(())
}

pub fn decode_input(data_base64: &str) -> CommandResult<Vec<u8>> {
    base64::engine::general_purpose::STANDARD
        .decode(data_base64)
        .map_err(|e| CommandError::invalid("data", format!("Terminal input is not base64: {e}")))
}

impl Backend {
    /// Starts a shell in the container with a TTY of `cols`×`rows`; output goes to `sink` as
    /// base64 until the shell exits. Returns the session id.
    pub async fn exec_start(
        &self,
        id: &str,
        cols: u16,
        rows: u16,
        sink: impl Sink<String>,
    ) -> CommandResult<String> {
        check_size(cols, rows)?;
        let docker = self.docker().await?;
        let created = timed(
            "exec create",
            limits::QUICK,
            docker.create_exec(
                id,
                ExecConfig {
                    attach_stdin: Some(true),
                    attach_stdout: Some(true),
                    attach_stderr: Some(true),
                    tty: Some(true),
                    console_size: Some(vec![usize::from(rows), usize::from(cols)]),
                    env: Some(vec!["TERM=xterm-256color".into()]),
                    cmd: Some(SHELL.iter().map(|s| s.to_string()).collect()),
                    ..Default::default()
                },
            ),
        )
        .await?;
        let session = created.id;
        let started = timed(
            "exec start",
            limits::QUICK,
            docker.start_exec(
                &session,
                Some(StartExecOptions {
                    detach: false,
                    tty: true,
                    output_capacity: None,
                }),
            ),
        )
        .await?;
        let StartExecResults::Attached { mut output, input } = started else {
            return Err(CommandError::engine(
                "The engine did not attach the terminal",
            ));
        };
        let done = CancellationToken::new();
        lock(&self.exec.open).insert(
            session.clone(),
            ExecSession {
                input: Arc::new(tokio::sync::Mutex::new(input)),
                done: done.clone(),
            },
        );
        info!(container = id, %session, "terminal opened");
        // Some engines ignore ConsoleSize: set it explicitly too.
        let _ = self.exec_resize(&session, cols, rows).await;

        let sessions = self.exec_sessions_handle();
        let reader_session = session.clone();
        tokio::spawn(async move {
            let b64 = base64::engine::general_purpose::STANDARD;
            loop {
                let item = tokio::select! {
                    _ = done.cancelled() => break,
                    item = output.next() => item,
                };
                match item {
                    Some(Ok(chunk)) => {
                        if !sink(b64.encode(chunk.into_bytes())) {
                            break;
                        }
                    }
                    Some(Err(e)) => {
                        debug!(session = %reader_session, "terminal output ended: {e}");
                        break;
                    }
                    None => break,
                }
            }
            sessions.remove(&reader_session);
            info!(session = %reader_session, "terminal closed");
        });
        Ok(session)
    }

    fn exec_sessions_handle(&self) -> Arc<ExecSessions> {
        self.exec.clone()
    }

    pub async fn exec_input(&self, session: &str, data_base64: &str) -> CommandResult<()> {
        let data = decode_input(data_base64)?;
        let input = self.exec.input(session)?;
        let write = async move {
            let mut w = input.lock().await;
            w.write_all(&data).await?;
            w.flush().await
        };
        match tokio::time::timeout(limits::QUICK, write).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => {
                self.exec.remove(session);
                Err(CommandError::engine(format!("The terminal is closed: {e}")))
            }
            Err(_) => Err(CommandError::timed_out(
                "terminal input",
                limits::QUICK.as_secs(),
            )),
        }
    }

    pub async fn exec_resize(&self, session: &str, cols: u16, rows: u16) -> CommandResult<()> {
        check_size(cols, rows)?;
        let docker = self.docker().await?;
        timed(
            "terminal resize",
            limits::QUICK,
            docker.resize_exec(
                session,
                ResizeExecOptions {
                    height: rows,
                    width: cols,
                },
            ),
        )
        .await
    }

    /// Ends a terminal session from the app's side (its view closed).
    pub async fn exec_close(&self, session: &str) -> CommandResult<()> {
        if let Ok(input) = self.exec.input(session) {
            let _ =
                tokio::time::timeout(
                    limits::QUICK,
                    async move { input.lock().await.shutdown().await },
                )
                .await;
        }
        self.exec.remove(session);
        Ok(())
    }
}

#[tauri::command]
pub async fn exec_start(
    backend: State<'_, std::sync::Arc<Backend>>,
    id: String,
    cols: u16,
    rows: u16,
    on_output: Channel<String>,
) -> CommandResult<String> {
    backend
        .exec_start(&id, cols, rows, move |chunk| on_output.send(chunk).is_ok())
        .await
}

#[tauri::command]
pub async fn exec_input(
    backend: State<'_, std::sync::Arc<Backend>>,
    session: String,
    data_base64: String,
) -> CommandResult<()> {
    backend.exec_input(&session, &data_base64).await
}

#[tauri::command]
pub async fn exec_resize(
    backend: State<'_, std::sync::Arc<Backend>>,
    session: String,
    cols: u16,
    rows: u16,
) -> CommandResult<()> {
    backend.exec_resize(&session, cols, rows).await
}

/// Not in the original contract: closes a terminal session (the view closed).
#[tauri::command]
pub async fn exec_close(
    backend: State<'_, std::sync::Arc<Backend>>,
    session: String,
) -> CommandResult<()> {
    backend.exec_close(&session).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn input_is_base64() {
        assert_eq!(decode_input("bHMK").as_deref(), Ok(&b"ls\n"[..]));
        let e = decode_input("***").expect_err("bad");
        assert_eq!(e.field.as_deref(), Some("data"));
    }

    #[test]
    fn sizes() {
        assert!(check_size(80, 24).is_ok());
        assert!(check_size(0, 24).is_err());
    }

    #[test]
    fn unknown_session() {
        let s = ExecSessions::default();
        let e = s.input("nope").err().expect("missing");
        assert_eq!(e.kind, crate::error::ErrorKind::NotFound);
    }
}
