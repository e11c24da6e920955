//! `berth vm …`: the engine VM (QEMU with Berth's guest), for machines where the engine cannot
//! run natively or users who want it apart. The VM is `berth-vm`'s: this runs it with the same
//! arguments (as docker runs its CLI plugins), found next to `berth` or on PATH, so `berth`
//! stays a pure API client and the VM code lives in one place. The built-in `vm` context
//! (`context.rs`) points at the socket it serves.

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;

use crate::errors::CliError;
use crate::i18n::tr;

#[derive(Args, Debug)]
pub struct VmArgs {
    /// start [--foreground] | stop | status | env, with berth-vm's flags (`berth vm start --help`)
    #[arg(trailing_var_arg = true, allow_hyphen_values = true, required = true)]
    pub args: Vec<String>,
}

/// The VM's dir, as berth-vm and the desktop default it: `$XDG_DATA_HOME/berth/vm`, else
/// `~/.local/share/berth/vm`.
pub fn default_dir() -> Option<PathBuf> {
    if let Some(d) = std::env::var_os("XDG_DATA_HOME").filter(|d| !d.is_empty()) {
        return Some(PathBuf::from(d).join("berth/vm"));
    }
    std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/share/berth/vm"))
}

/// The host socket of the VM: the one its last start recorded, else the default.
pub fn socket() -> Option<PathBuf> {
    let dir = default_dir()?;
    let recorded = std::fs::read_to_string(dir.join("socket-path"))
        .ok()
        .map(|s| PathBuf::from(s.trim()))
        .filter(|p| p.is_absolute());
    Some(recorded.unwrap_or_else(|| dir.join("docker.sock")))
}

fn find_berth_vm() -> Option<PathBuf> {
    let sibling = std::env::current_exe()
        .ok()
        .and_then(|e| e.parent().map(|d| d.join("berth-vm")))
        .filter(|p| p.is_file());
    sibling.or_else(|| {
        std::env::split_paths(&std::env::var_os("PATH")?)
            .map(|d| d.join("berth-vm"))
            .find(|p| p.is_file())
    })
}

/// Runs `berth-vm ARGS` and exits with its status.
pub fn run(args: VmArgs) -> Result<()> {
    let Some(bin) = find_berth_vm() else {
        return Err(CliError::new(
            tr(
                "berth-vm was not found next to berth or on PATH: it comes with Berth's package \
                 (or `cargo build -p berth-vm`)",
                "No se encontró berth-vm junto a berth ni en el PATH: viene con el paquete de \
                 Berth (o `cargo build -p berth-vm`)",
            ),
            1,
        )
        .into());
    };
    let status = std::process::Command::new(&bin)
        .args(&args.args)
        .status()
        .map_err(|e| CliError::new(format!("{}: {e}", bin.display()), 1))?;
    match status.code() {
        Some(0) => Ok(()),
        Some(code) => Err(CliError::exit(code).into()),
        None => Err(CliError::exit(1).into()),
    }
}
