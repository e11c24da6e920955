//! Berth desktop: the Tauri shell around a Docker-API engine.
//!
//! - [`engine_host`]: where the engine lives (one trait; `NativeHost` on Linux) and the
//!   supervisor that keeps `engine-status` / `engine-event` flowing to the UI.
//! - [`backend::Backend`]: the bollard client and everything the commands do, Tauri-free.
//! - [`commands`]: the `#[tauri::command]` wrappers, one file per Docker object, exactly as
//!   `docs/desktop-contract.md` says.
//! - [`tray_model`] / [`tray`]: the tray menu as data, and its rendering.
//! - `bindings`: the UI's TypeScript types for the contract, generated from these types.

pub mod backend;
#[cfg(test)]
mod bindings;
pub mod commands;
pub mod engine_host;
pub mod error;
pub mod tray;
pub mod tray_model;

use std::path::PathBuf;
use std::sync::Arc;

use tauri::{Emitter, Manager, RunEvent, WindowEvent};
use tokio_util::sync::CancellationToken;
use tracing::{error, info, warn};

pub use backend::Backend;
pub use engine_host::{
    EngineHost, EngineState, EngineStatus, HostChoice, NativeConfig, NativeHost, VmHost,
    VmHostConfig,
};
pub use error::{CommandError, ErrorKind};

use commands::settings::SettingsStore;
use engine_host::supervisor::{self, SupervisorOutput};

/// The app's Tauri events.
pub const EVENT_ENGINE_STATUS: &str = "engine-status";
pub const EVENT_ENGINE_EVENT: &str = "engine-event";

/// Supervisor output → Tauri events (and tray refreshes).
struct TauriOutput {
    app: tauri::AppHandle,
}

impl SupervisorOutput for TauriOutput {
    fn status(&self, status: &EngineStatus) {
        if let Err(e) = self.app.emit(EVENT_ENGINE_STATUS, status) {
            warn!("emit {EVENT_ENGINE_STATUS}: {e}");
        }
        tray::refresh(&self.app);
    }

    fn event(&self, event: &bollard::models::EventMessage) {
        if let Err(e) = self.app.emit(EVENT_ENGINE_EVENT, event) {
            warn!("emit {EVENT_ENGINE_EVENT}: {e}");
        }
        if event.typ == Some(bollard::models::EventMessageTypeEnum::CONTAINER) {
            tray::refresh(&self.app);
        }
    }
}

fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt().with_env_filter(filter).try_init();
}

/// Starts the app. `--hidden` starts it in the tray (start at login).
pub fn run() {
    init_tracing();
    let hidden = std::env::args().any(|a| a == "--hidden");
    let stop = CancellationToken::new();
    let stop_supervisor = stop.clone();

    let app = tauri::Builder::default()
        // First, so a second launch exits before it sets anything up.
        .plugin(tauri_plugin_single_instance::init(|app, argv, _cwd| {
            info!("second launch: showing the window");
            if !argv.iter().any(|a| a == "--hidden") {
                tray::show_main_window(app);
            }
        }))
        .plugin(tauri_plugin_opener::init())
        .plugin(tauri_plugin_dialog::init())
        .plugin(tauri_plugin_notification::init())
        .setup(move |app| {
            let log_dir = app.path().app_log_dir()?;
            let config_dir = app.path().app_config_dir()?;
            let exe = std::env::current_exe().unwrap_or_else(|_| PathBuf::from("berth-desktop"));
            let autostart = SettingsStore::default_autostart_dir()
                .unwrap_or_else(|| config_dir.join("autostart"));
            let settings = SettingsStore::new(&config_dir, &autostart, &exe);
            // The settings choose the engine: this machine's berthd, or the one in the VM.
            let choice = HostChoice::new(&log_dir, app.path().resource_dir().ok().as_deref());
            let host = choice.host_for(&settings.get());
            info!(host = %host.host(), "Berth desktop starting");
            let backend = Arc::new(Backend::new(host));
            app.manage(backend.clone());
            app.manage(settings);
            app.manage(choice);

            if let Err(e) = tray::create(app.handle()) {
                // No tray (no StatusNotifier host): the window still works.
                warn!("no system tray: {e}");
            }

            let out = TauriOutput {
                app: app.handle().clone(),
            };
            tauri::async_runtime::spawn(async move {
                // The supervisor runs meanwhile: a VM's boot shows as "starting".
                let starter = backend.clone();
                tauri::async_runtime::spawn(async move { starter.start_if_stopped().await });
                supervisor::run(backend, out, stop_supervisor).await;
            });

            // A session logout or system shutdown sends SIGTERM: quit as the tray's Quit does,
            // so a VM powers off cleanly instead of dying with the app.
            let quitter = app.handle().clone();
            tauri::async_runtime::spawn(async move {
                use tokio::signal::unix::{signal, SignalKind};
                let (Ok(mut term), Ok(mut int)) = (
                    signal(SignalKind::terminate()),
                    signal(SignalKind::interrupt()),
                ) else {
                    warn!("cannot listen for SIGTERM/SIGINT");
                    return;
                };
                tokio::select! {
                    _ = term.recv() => info!("SIGTERM: quitting"),
                    _ = int.recv() => info!("SIGINT: quitting"),
                }
                quitter.exit(0);
            });

            // The window is created hidden (tauri.conf.json) so `--hidden` never flashes it.
            if !hidden {
                tray::show_main_window(app.handle());
            }
            Ok(())
        })
        .on_window_event(|window, event| {
            // Closing the window keeps the app in the tray.
            if let WindowEvent::CloseRequested { api, .. } = event {
                if window.app_handle().tray_by_id(tray::TRAY_ID).is_some() {
                    api.prevent_close();
                    let _ = window.hide();
                }
            }
        })
        .invoke_handler(tauri::generate_handler![
            commands::engine::engine_status,
            commands::engine::engine_start,
            commands::engine::engine_stop,
            commands::engine::engine_restart,
            commands::engine::engine_log,
            commands::vm::vm_info,
            commands::vm::vm_platform,
            commands::vm::vm_reset,
            commands::vm::vm_log,
            commands::containers::list_containers,
            commands::containers::container_action,
            commands::containers::inspect_container,
            commands::containers::container_logs,
            commands::containers::container_stats,
            commands::containers::close_container_streams,
            commands::containers::run_container,
            commands::files::list_container_dir,
            commands::files::read_container_file,
            commands::exec::exec_start,
            commands::exec::exec_input,
            commands::exec::exec_resize,
            commands::exec::exec_close,
            commands::images::list_images,
            commands::images::pull_image,
            commands::images::remove_image,
            commands::images::prune_images,
            commands::images::inspect_image,
            commands::images::image_history,
            commands::build::build_image,
            commands::build::prepare_build_sample,
            commands::volumes::list_volumes,
            commands::volumes::create_volume,
            commands::volumes::remove_volume,
            commands::volumes::prune_volumes,
            commands::volumes::inspect_volume,
            commands::networks::list_networks,
            commands::networks::create_network,
            commands::networks::remove_network,
            commands::networks::prune_networks,
            commands::networks::inspect_network,
            commands::disk::disk_usage,
            commands::disk::disk_prune_containers,
            commands::disk::disk_prune_images,
            commands::disk::disk_prune_volumes,
            commands::disk::disk_prune_build_cache,
            commands::reset::reset_engine_data,
            commands::settings::get_settings,
            commands::settings::set_settings,
            commands::settings::system_locale,
        ])
        .build(tauri::generate_context!());

    let app = match app {
        Ok(app) => app,
        Err(e) => {
            error!("cannot start the app: {e}");
            eprintln!("berth-desktop: cannot start: {e}");
            std::process::exit(1);
        }
    };
    app.run(move |handle, event| {
        if let RunEvent::Exit = event {
            stop.cancel();
            // A VM powers off cleanly (QEMU would otherwise die with the app: a power loss).
            if let Some(backend) = handle.try_state::<Arc<Backend>>() {
                let host = backend.host();
                tauri::async_runtime::block_on(host.shutdown());
            }
        }
    });
}
