//! The engine's VM: its state, its logs, a reset, and what this platform allows (Settings and
//! Troubleshoot views). Not in the original contract.

use serde::{Deserialize, Serialize};
use tauri::State;
use tracing::info;
use ts_rs::TS;

use crate::backend::Backend;
use crate::commands::engine::tail_lines;
use crate::engine_host::vm_config::{host_resources, Platform};
use crate::engine_host::{EngineStatus, VmInfo};
use crate::error::{CommandError, CommandResult};

/// What the VM settings may be on this machine.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct VmPlatform {
    pub platform: Platform,
    /// The engine can only run in the VM here (macOS, Windows).
    pub vm_only: bool,
    pub host_cpus: u32,
    pub host_memory_mib: u32,
}

/// Which of the VM's logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, TS)]
#[serde(rename_all = "lowercase")]
pub enum VmLog {
    /// The guest's console: kernel, init and berthd.
    Boot,
    /// The host side: starts, stops, acceleration, failures.
    Host,
}

impl Backend {
    pub fn vm_info(&self) -> Option<VmInfo> {
        self.host().vm_info()
    }

    /// Stops the VM, deletes its data disk, starts it fresh (the UI confirms first).
    pub async fn vm_reset(&self) -> CommandResult<EngineStatus> {
        info!("VM reset requested");
        self.streams().close_all();
        let r = self.host().reset().await;
        self.engine_changed().await;
        Ok(r?)
    }

    /// The last `lines` lines of one of the VM's logs; empty when there is no VM or no log yet.
    pub fn vm_log(&self, which: VmLog, lines: usize) -> CommandResult<String> {
        let Some(info) = self.vm_info() else {
            return Ok(String::new());
        };
        let path = match which {
            VmLog::Boot => info.console_log,
            VmLog::Host => info.host_log,
        };
        match std::fs::read(&path) {
            Ok(bytes) => Ok(tail_lines(&String::from_utf8_lossy(&bytes), lines)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(String::new()),
            Err(e) => Err(CommandError::engine(format!("Cannot read {path}: {e}"))),
        }
    }
}

pub fn vm_platform_here() -> VmPlatform {
    let (host_cpus, host_memory_mib) = host_resources();
    let platform = Platform::current();
    VmPlatform {
        platform,
        vm_only: platform.vm_only(),
        host_cpus,
        host_memory_mib,
    }
}

#[tauri::command]
pub async fn vm_info(backend: State<'_, std::sync::Arc<Backend>>) -> CommandResult<Option<VmInfo>> {
    Ok(backend.vm_info())
}

#[tauri::command]
pub async fn vm_platform() -> CommandResult<VmPlatform> {
    Ok(vm_platform_here())
}

#[tauri::command]
pub async fn vm_reset(backend: State<'_, std::sync::Arc<Backend>>) -> CommandResult<EngineStatus> {
    backend.vm_reset().await
}

#[tauri::command]
pub async fn vm_log(
    backend: State<'_, std::sync::Arc<Backend>>,
    which: VmLog,
    lines: Option<usize>,
) -> CommandResult<String> {
    backend.vm_log(which, lines.unwrap_or(300).min(5000))
}
