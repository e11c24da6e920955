//! Tauri commands, one file per Docker object, exactly as `docs/desktop-contract.md` lists them.
//! Each command is a thin wrapper over a [`crate::backend::Backend`] method (or the settings
//! store) so the logic runs without a window in tests.

pub mod build;
pub mod containers;
pub mod disk;
pub mod engine;
pub mod exec;
pub mod files;
pub mod images;
pub mod networks;
pub mod reset;
pub mod settings;
pub mod vm;
pub mod volumes;
