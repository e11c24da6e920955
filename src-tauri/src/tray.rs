//! The system tray: renders [`crate::tray_model`] with Tauri and carries out its actions.
//!
//! The menu is rebuilt (debounced) when the engine's status changes, when container events
//! arrive and when the language setting changes; an unchanged model is not re-rendered.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tauri::menu::{IsMenuItem, Menu, MenuEvent, MenuItem, PredefinedMenuItem, Submenu};
use tauri::tray::TrayIconBuilder;
use tauri::{AppHandle, Manager, Runtime};
use tauri_plugin_notification::NotificationExt;
use tauri_plugin_opener::OpenerExt;
use tracing::{info, warn};

use crate::backend::{lock, Backend};
use crate::commands::settings::{locale_from_env, SettingsStore};
use crate::engine_host::EngineState;
use crate::tray_model::{
    failure_notice, tray_model, EngineKind, Lang, TrayAction, TrayItem, TrayModel,
};

pub const TRAY_ID: &str = "berth";
/// Events come in bursts (create, connect, start): wait this long before rebuilding.
const DEBOUNCE: Duration = Duration::from_millis(300);

/// Managed state: wakes the rebuild task and remembers the last rendered model.
#[derive(Default)]
pub struct TrayState {
    wake: tokio::sync::Notify,
    last: Mutex<Option<TrayModel>>,
}

/// Asks for a rebuild (cheap; safe to call on every event).
pub fn refresh<R: Runtime>(app: &AppHandle<R>) {
    if let Some(state) = app.try_state::<Arc<TrayState>>() {
        state.wake.notify_one();
    }
}

/// Creates the tray icon and starts its rebuild task.
pub fn create<R: Runtime>(app: &AppHandle<R>) -> tauri::Result<()> {
    let state = Arc::new(TrayState::default());
    app.manage(state.clone());
    let mut builder = TrayIconBuilder::with_id(TRAY_ID)
        .tooltip("Berth")
        .show_menu_on_left_click(true)
        .menu(&Menu::new(app)?)
        .on_menu_event(on_menu_event);
    if let Some(icon) = app.default_window_icon() {
        builder = builder.icon(icon.clone());
    }
    builder.build(app)?;

    let app = app.clone();
    tauri::async_runtime::spawn(async move {
        loop {
            rebuild(&app, &state).await;
            state.wake.notified().await;
            tokio::time::sleep(DEBOUNCE).await;
        }
    });
    Ok(())
}

fn language<R: Runtime>(app: &AppHandle<R>) -> Lang {
    let chosen = app
        .try_state::<SettingsStore>()
        .and_then(|s| s.get().language);
    Lang::from_tag(&chosen.unwrap_or_else(|| locale_from_env(|k| std::env::var(k).ok())))
}

async fn rebuild<R: Runtime>(app: &AppHandle<R>, state: &TrayState) {
    let Some(backend) = app.try_state::<Arc<Backend>>().map(|b| b.inner().clone()) else {
        return;
    };
    let status = backend.engine_status().await;
    let containers = if status.is_running() {
        backend.list_containers().await.unwrap_or_else(|e| {
            warn!("tray: cannot list containers: {}", e.message);
            Vec::new()
        })
    } else {
        Vec::new()
    };
    let kind = if backend.vm_info().is_some() {
        EngineKind::Vm
    } else {
        EngineKind::Native
    };
    let model = tray_model(&status, kind, &containers, language(app));
    if lock(&state.last).as_ref() == Some(&model) {
        return;
    }
    let Some(tray) = app.tray_by_id(TRAY_ID) else {
        return;
    };
    match render(app, &model) {
        Ok(menu) => {
            if let Err(e) = tray.set_menu(Some(menu)) {
                warn!("tray: cannot set the menu: {e}");
                return;
            }
            let _ = tray.set_tooltip(Some(&model.tooltip));
            *lock(&state.last) = Some(model);
        }
        Err(e) => warn!("tray: cannot build the menu: {e}"),
    }
}

/// The model as a Tauri menu.
pub fn render<R: Runtime>(app: &AppHandle<R>, model: &TrayModel) -> tauri::Result<Menu<R>> {
    let menu = Menu::new(app)?;
    let mut labels = 0;
    for item in &model.items {
        let built = render_item(app, item, &mut labels)?;
        menu.append(built.as_ref())?;
    }
    Ok(menu)
}

fn render_item<R: Runtime>(
    app: &AppHandle<R>,
    item: &TrayItem,
    labels: &mut usize,
) -> tauri::Result<Box<dyn IsMenuItem<R>>> {
    Ok(match item {
        TrayItem::Label(text) => {
            *labels += 1;
            Box::new(MenuItem::with_id(
                app,
                format!("label:{labels}"),
                text,
                false,
                None::<&str>,
            )?)
        }
        TrayItem::Action {
            action,
            text,
            enabled,
        } => Box::new(MenuItem::with_id(
            app,
            action.id(),
            text,
            *enabled,
            None::<&str>,
        )?),
        TrayItem::Separator => Box::new(PredefinedMenuItem::separator(app)?),
        TrayItem::Submenu { id, text, items } => {
            let sub = Submenu::with_id(app, id.as_str(), text, true)?;
            for child in items {
                let built = render_item(app, child, labels)?;
                sub.append(built.as_ref())?;
            }
            Box::new(sub)
        }
    })
}

fn on_menu_event<R: Runtime>(app: &AppHandle<R>, event: MenuEvent) {
    let Some(action) = TrayAction::parse(event.id().as_ref()) else {
        return;
    };
    info!(?action, "tray action");
    perform(app, action);
}

/// Shows, unminimizes and focuses the main window.
pub fn show_main_window<R: Runtime>(app: &AppHandle<R>) {
    if let Some(w) = app.get_webview_window("main") {
        let _ = w.show();
        let _ = w.unminimize();
        let _ = w.set_focus();
    }
}

/// A tray action failed: the window may be hidden, so say it in a desktop notification (and the
/// log).
fn report<R: Runtime>(app: &AppHandle<R>, action: &TrayAction, reason: &str) {
    warn!(?action, "tray action failed: {reason}");
    let (title, body) = failure_notice(action, reason, language(app));
    if let Err(e) = app.notification().builder().title(title).body(body).show() {
        warn!("tray: cannot show a notification: {e}");
    }
}

fn perform<R: Runtime>(app: &AppHandle<R>, action: TrayAction) {
    let Some(backend) = app.try_state::<Arc<Backend>>().map(|b| b.inner().clone()) else {
        return;
    };
    let app = app.clone();
    match action {
        TrayAction::OpenWindow => show_main_window(&app),
        TrayAction::Quit => {
            tauri::async_runtime::spawn(async move {
                backend.host().shutdown().await;
                app.exit(0);
            });
        }
        TrayAction::EngineStart | TrayAction::EngineStop | TrayAction::EngineRestart => {
            tauri::async_runtime::spawn(async move {
                let r = match action {
                    TrayAction::EngineStart => backend.engine_start().await,
                    TrayAction::EngineStop => backend.engine_stop().await,
                    _ => backend.engine_restart().await,
                };
                match r {
                    Err(e) => report(&app, &action, &e.message),
                    // The engine started and died (bad flags, busy socket): say why.
                    Ok(s) if s.state == EngineState::Error => {
                        let reason = s.reason.unwrap_or_default();
                        report(&app, &action, &reason);
                    }
                    Ok(_) => {}
                }
                refresh(&app);
            });
        }
        TrayAction::ContainerStop(ref id) | TrayAction::ContainerRestart(ref id) => {
            let verb = if matches!(action, TrayAction::ContainerStop(_)) {
                "stop"
            } else {
                "restart"
            };
            let id = id.clone();
            tauri::async_runtime::spawn(async move {
                if let Err(e) = backend.container_action(&id, verb).await {
                    report(&app, &action, &e.message);
                }
            });
        }
        TrayAction::OpenPort(_, port) => {
            let url = format!("http://localhost:{port}");
            if let Err(e) = app.opener().open_url(&url, None::<&str>) {
                report(&app, &action, &e.to_string());
            }
        }
        TrayAction::CopyId(id) => copy_to_clipboard(&app, id),
    }
}

#[cfg(target_os = "linux")]
fn copy_to_clipboard<R: Runtime>(app: &AppHandle<R>, text: String) {
    let r = app.run_on_main_thread(move || {
        let clipboard = gtk::Clipboard::get(&gtk::gdk::SELECTION_CLIPBOARD);
        clipboard.set_text(&text);
        clipboard.store();
    });
    if let Err(e) = r {
        warn!("tray: copy to the clipboard: {e}");
    }
}

#[cfg(not(target_os = "linux"))]
fn copy_to_clipboard<R: Runtime>(_app: &AppHandle<R>, _text: String) {
    warn!("tray: copying to the clipboard is not implemented on this platform yet");
}
