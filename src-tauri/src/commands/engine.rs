//! The engine itself: state, start, stop, restart, and its log for the Troubleshoot view.

use tauri::State;
use tracing::info;

use crate::backend::Backend;
use crate::engine_host::native::without_ansi;
use crate::engine_host::EngineStatus;
use crate::error::{CommandError, CommandResult};

/// Most lines `engine_log` returns.
const MAX_LOG_LINES: usize = 5000;

/// The last `lines` lines of `text`, without terminal colour sequences (tracing writes them
/// even into files and onto the VM's console).
pub fn tail_lines(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    without_ansi(&all[all.len().saturating_sub(lines)..].join("\n"))
}

impl Backend {
    /// The supervisor's latest status, or a fresh probe when there is none yet.
    pub async fn engine_status(&self) -> EngineStatus {
        if let Some(s) = self.cached_status() {
            return s;
        }
        self.host().status().await
    }

    pub async fn engine_start(&self) -> CommandResult<EngineStatus> {
        info!("engine start requested");
        let r = self.host().start().await;
        self.engine_changed().await;
        Ok(r?)
    }

    pub async fn engine_stop(&self) -> CommandResult<EngineStatus> {
        info!("engine stop requested");
        self.streams().close_all();
        let r = self.host().stop().await;
        self.engine_changed().await;
        Ok(r?)
    }

    pub async fn engine_restart(&self) -> CommandResult<EngineStatus> {
        info!("engine restart requested");
        self.streams().close_all();
        let r = self.host().restart().await;
        self.engine_changed().await;
        Ok(r?)
    }

    /// The tail of the log of the engine this app started (empty when it found one running).
    pub fn engine_log(&self, lines: Option<usize>) -> CommandResult<String> {
        let Some(path) = self.host().log_path() else {
            return Ok(String::new());
        };
        match std::fs::read(&path) {
            Ok(bytes) => Ok(tail_lines(
                &String::from_utf8_lossy(&bytes),
                lines.unwrap_or(500).min(MAX_LOG_LINES),
            )),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(String::new()),
            Err(e) => Err(CommandError::engine(format!(
                "Cannot read {}: {e}",
                path.display()
            ))),
        }
    }
}

#[tauri::command]
pub async fn engine_status(
    backend: State<'_, std::sync::Arc<Backend>>,
) -> CommandResult<EngineStatus> {
    Ok(backend.engine_status().await)
}

#[tauri::command]
pub async fn engine_start(
    backend: State<'_, std::sync::Arc<Backend>>,
) -> CommandResult<EngineStatus> {
    backend.engine_start().await
}

#[tauri::command]
pub async fn engine_stop(
    backend: State<'_, std::sync::Arc<Backend>>,
) -> CommandResult<EngineStatus> {
    backend.engine_stop().await
}

#[tauri::command]
pub async fn engine_restart(
    backend: State<'_, std::sync::Arc<Backend>>,
) -> CommandResult<EngineStatus> {
    backend.engine_restart().await
}

/// Not in the original contract: the engine log's tail for the Troubleshoot view.
#[tauri::command]
pub async fn engine_log(
    backend: State<'_, std::sync::Arc<Backend>>,
    lines: Option<usize>,
) -> CommandResult<String> {
    backend.engine_log(lines)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tails() {
        assert_eq!(tail_lines("a\nb\nc\n", 2), "b\nc");
        assert_eq!(tail_lines("a", 10), "a");
        assert_eq!(tail_lines("", 3), "");
        assert_eq!(
            tail_lines(
                "\u{1b}[2m2026\u{1b}[0m \u{1b}[32m INFO\u{1b}[0m up\nnext",
                5
            ),
            "2026  INFO up\nnext"
        );
    }
}
