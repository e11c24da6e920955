//! The tray menu as data: a pure function from (engine status, containers, language) to a menu
//! model, and the actions its items stand for. `tray.rs` only renders the model with Tauri and
//! dispatches the actions, so what the menu shows is tested here without a display.

use crate::commands::containers::ContainerItem;
use crate::engine_host::{EngineState, EngineStatus};

/// The tray's language (the app's setting, else the system's).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    En,
    Es,
}

impl Lang {
    /// `es`, `es-ES`, `es_AR.UTF-8` → Spanish; anything else → English.
    pub fn from_tag(tag: &str) -> Lang {
        if tag.to_ascii_lowercase().starts_with("es") {
            Lang::Es
        } else {
            Lang::En
        }
    }
}

/// What clicking an item does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TrayAction {
    OpenWindow,
    Quit,
    EngineStart,
    EngineStop,
    /// Offered for the VM engine (a reboot of the VM).
    EngineRestart,
    ContainerStop(String),
    ContainerRestart(String),
    /// Open `http://localhost:PORT` (the container id keeps menu ids unique).
    OpenPort(String, u16),
    CopyId(String),
}

impl TrayAction {
    /// The menu item id carrying this action.
    pub fn id(&self) -> String {
        match self {
            TrayAction::OpenWindow => "open".into(),
            TrayAction::Quit => "quit".into(),
            TrayAction::EngineStart => "engine:start".into(),
            TrayAction::EngineStop => "engine:stop".into(),
            TrayAction::EngineRestart => "engine:restart".into(),
            TrayAction::ContainerStop(id) => format!("container:stop:{id}"),
            TrayAction::ContainerRestart(id) => format!("container:restart:{id}"),
            TrayAction::OpenPort(id, port) => format!("container:open:{id}:{port}"),
            TrayAction::CopyId(id) => format!("container:copy:{id}"),
        }
    }

    /// The action behind a menu item id; `None` for labels and unknown ids.
    pub fn parse(id: &str) -> Option<TrayAction> {
        let parts: Vec<&str> = id.split(':').collect();
        Some(match parts.as_slice() {
            ["open"] => TrayAction::OpenWindow,
            ["quit"] => TrayAction::Quit,
            ["engine", "start"] => TrayAction::EngineStart,
            ["engine", "stop"] => TrayAction::EngineStop,
            ["engine", "restart"] => TrayAction::EngineRestart,
            ["container", "stop", c] if !c.is_empty() => TrayAction::ContainerStop(c.to_string()),
            ["container", "restart", c] if !c.is_empty() => {
                TrayAction::ContainerRestart(c.to_string())
            }
            ["container", "open", c, port] if !c.is_empty() => {
                TrayAction::OpenPort(c.to_string(), port.parse().ok().filter(|p| *p > 0)?)
            }
            ["container", "copy", c] if !c.is_empty() => TrayAction::CopyId(c.to_string()),
            _ => return None,
        })
    }
}

/// One menu entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TrayItem {
    /// Text that cannot be clicked.
    Label(String),
    Action {
        action: TrayAction,
        text: String,
        enabled: bool,
    },
    Separator,
    Submenu {
        /// Unique id for the submenu itself.
        id: String,
        text: String,
        items: Vec<TrayItem>,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrayModel {
    /// Hover text of the icon.
    pub tooltip: String,
    pub items: Vec<TrayItem>,
}

impl TrayModel {
    /// Every action in the menu, depth first (for tests and lookups).
    pub fn actions(&self) -> Vec<TrayAction> {
        fn walk(items: &[TrayItem], out: &mut Vec<TrayAction>) {
            for i in items {
                match i {
                    TrayItem::Action { action, .. } => out.push(action.clone()),
                    TrayItem::Submenu { items, .. } => walk(items, out),
                    _ => {}
                }
            }
        }
        let mut out = Vec::new();
        walk(&self.items, &mut out);
        out
    }
}

/// The tray's strings, read from the UI's locale files (`tray.*` keys) so every string the
/// user sees lives in `ui/src/locales/{en,es}.json`; compiled in, parsed once per language.
struct Texts {
    engine: String,
    starting: String,
    running: String,
    stopped: String,
    error: String,
    open: String,
    running_containers: String,
    no_containers: String,
    stop: String,
    restart: String,
    open_port: String,
    copy_id: String,
    start_engine: String,
    stop_engine: String,
    engine_starting: String,
    quit: String,
    notify_title: String,
    failed: String,
    engine_vm: String,
    start_vm: String,
    stop_vm: String,
    restart_vm: String,
}

const LOCALE_EN: &str = include_str!("../../ui/src/locales/en.json");
const LOCALE_ES: &str = include_str!("../../ui/src/locales/es.json");

/// The `tray.*` strings of one language, each locale file parsed once: the language's own
/// text, else English, else the key itself.
fn load_texts(lang: Lang) -> Texts {
    let parse = |src: &str| serde_json::from_str::<serde_json::Value>(src).unwrap_or_default();
    let own = parse(match lang {
        Lang::En => LOCALE_EN,
        Lang::Es => LOCALE_ES,
    });
    let english = parse(LOCALE_EN);
    let text = |key: &str| {
        let key = format!("tray.{key}");
        [&own, &english]
            .iter()
            .find_map(|v| v.get(&key)?.as_str().map(str::to_string))
            .unwrap_or(key)
    };
    Texts {
        engine: text("engine"),
        starting: text("starting"),
        running: text("running"),
        stopped: text("stopped"),
        error: text("error"),
        open: text("open"),
        running_containers: text("running_containers"),
        no_containers: text("no_containers"),
        stop: text("stop"),
        restart: text("restart"),
        open_port: text("open_port"),
        copy_id: text("copy_id"),
        start_engine: text("start_engine"),
        stop_engine: text("stop_engine"),
        engine_starting: text("engine_starting"),
        quit: text("quit"),
        notify_title: text("notify_title"),
        failed: text("failed"),
        engine_vm: text("engine_vm"),
        start_vm: text("start_vm"),
        stop_vm: text("stop_vm"),
        restart_vm: text("restart_vm"),
    }
}

/// Longest reason shown in the menu (the full one is in the app).
const MAX_REASON: usize = 60;

fn shorten(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
        out.push('…');
        out
    }
}

fn action(action: TrayAction, text: impl Into<String>, enabled: bool) -> TrayItem {
    TrayItem::Action {
        action,
        text: text.into(),
        enabled,
    }
}

/// Which engine the menu is about: this machine's, or the one in the VM (its own words and a
/// restart item).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EngineKind {
    Native,
    Vm,
}

/// The engine's state line, e.g. `Engine: running (0.1.0)` or `Engine (VM): starting…`.
pub fn engine_line(status: &EngineStatus, kind: EngineKind, lang: Lang) -> String {
    let t = texts(lang);
    let state = match status.state {
        EngineState::Starting => t.starting.as_str(),
        EngineState::Running => t.running.as_str(),
        EngineState::Stopped => t.stopped.as_str(),
        EngineState::Error => t.error.as_str(),
    };
    let name = match kind {
        EngineKind::Native => t.engine.as_str(),
        EngineKind::Vm => t.engine_vm.as_str(),
    };
    let mut line = format!("{name}: {state}");
    match (status.state, &status.version, &status.reason) {
        (EngineState::Running, Some(v), _) => line.push_str(&format!(" ({v})")),
        (EngineState::Error, _, Some(r)) => {
            line.push_str(&format!(" — {}", shorten(r, MAX_REASON)))
        }
        _ => {}
    }
    line
}

fn texts(lang: Lang) -> &'static Texts {
    static EN: std::sync::OnceLock<Texts> = std::sync::OnceLock::new();
    static ES: std::sync::OnceLock<Texts> = std::sync::OnceLock::new();
    match lang {
        Lang::En => EN.get_or_init(|| load_texts(Lang::En)),
        Lang::Es => ES.get_or_init(|| load_texts(Lang::Es)),
    }
}

/// The menu text of an action (for messages about it).
pub fn action_label(action: &TrayAction, lang: Lang) -> String {
    let t = texts(lang);
    match action {
        TrayAction::OpenWindow => t.open.clone(),
        TrayAction::Quit => t.quit.clone(),
        TrayAction::EngineStart => t.start_engine.clone(),
        TrayAction::EngineStop => t.stop_engine.clone(),
        TrayAction::EngineRestart => t.restart_vm.clone(),
        TrayAction::ContainerStop(id) => format!("{} {}", t.stop, short(id)),
        TrayAction::ContainerRestart(id) => format!("{} {}", t.restart, short(id)),
        TrayAction::OpenPort(_, port) => t.open_port.replace("{port}", &port.to_string()),
        TrayAction::CopyId(id) => format!("{} {}", t.copy_id, short(id)),
    }
}

fn short(id: &str) -> &str {
    id.get(..12).unwrap_or(id)
}

/// A failed action's notification: (title, body).
pub fn failure_notice(action: &TrayAction, reason: &str, lang: Lang) -> (String, String) {
    let t = texts(lang);
    let body = t
        .failed
        .replace("{action}", &action_label(action, lang))
        .replace("{reason}", reason);
    (t.notify_title.clone(), body)
}

/// The whole tray menu. See the module docs.
pub fn tray_model(
    status: &EngineStatus,
    kind: EngineKind,
    containers: &[ContainerItem],
    lang: Lang,
) -> TrayModel {
    let t = texts(lang);
    let vm = kind == EngineKind::Vm;
    let (start_text, stop_text) = if vm {
        (t.start_vm.as_str(), t.stop_vm.as_str())
    } else {
        (t.start_engine.as_str(), t.stop_engine.as_str())
    };
    let mut items = vec![
        TrayItem::Label(engine_line(status, kind, lang)),
        TrayItem::Separator,
        action(TrayAction::OpenWindow, t.open.as_str(), true),
        TrayItem::Separator,
    ];

    if status.is_running() {
        let mut running: Vec<&ContainerItem> =
            containers.iter().filter(|c| c.is_running()).collect();
        running.sort_by(|a, b| a.name.cmp(&b.name).then(a.id.cmp(&b.id)));
        if running.is_empty() {
            items.push(TrayItem::Label(t.no_containers.as_str().into()));
        } else {
            items.push(TrayItem::Label(t.running_containers.as_str().into()));
            for c in running {
                let mut sub = vec![
                    action(
                        TrayAction::ContainerStop(c.id.clone()),
                        t.stop.as_str(),
                        true,
                    ),
                    action(
                        TrayAction::ContainerRestart(c.id.clone()),
                        t.restart.as_str(),
                        true,
                    ),
                ];
                let ports = c.published_tcp_ports();
                if !ports.is_empty() {
                    sub.push(TrayItem::Separator);
                    for port in ports {
                        sub.push(action(
                            TrayAction::OpenPort(c.id.clone(), port),
                            t.open_port.as_str().replace("{port}", &port.to_string()),
                            true,
                        ));
                    }
                }
                sub.push(TrayItem::Separator);
                sub.push(action(
                    TrayAction::CopyId(c.id.clone()),
                    t.copy_id.as_str(),
                    true,
                ));
                let name = if c.name.is_empty() {
                    c.id.chars().take(12).collect()
                } else {
                    c.name.clone()
                };
                items.push(TrayItem::Submenu {
                    id: format!("container:menu:{}", c.id),
                    text: format!("{name} — {}", shorten(&c.image, 40)),
                    items: sub,
                });
            }
        }
        items.push(TrayItem::Separator);
    }

    items.push(match status.state {
        EngineState::Running => action(TrayAction::EngineStop, stop_text, status.can_manage),
        EngineState::Starting => TrayItem::Label(t.engine_starting.as_str().into()),
        EngineState::Stopped | EngineState::Error => {
            action(TrayAction::EngineStart, start_text, status.can_manage)
        }
    });
    // A VM that runs (or failed) can be rebooted in one click.
    if vm && matches!(status.state, EngineState::Running | EngineState::Error) {
        items.push(action(
            TrayAction::EngineRestart,
            t.restart_vm.as_str(),
            status.can_manage,
        ));
    }
    items.push(TrayItem::Separator);
    items.push(action(TrayAction::Quit, t.quit.as_str(), true));

    TrayModel {
        tooltip: format!("Berth — {}", engine_line(status, kind, lang)),
        items,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::commands::containers::PortItem;

    #[test]
    fn every_tray_string_is_in_both_locale_files() {
        for (name, src) in [("en", LOCALE_EN), ("es", LOCALE_ES)] {
            let v: serde_json::Value = serde_json::from_str(src).expect("locale json");
            let t = load_texts(if name == "en" { Lang::En } else { Lang::Es });
            for text in [
                &t.engine,
                &t.stop,
                &t.quit,
                &t.failed,
                &t.notify_title,
                &t.open_port,
            ] {
                assert!(!text.starts_with("tray."), "{name}: missing {text}");
            }
            let keys = v
                .as_object()
                .expect("object")
                .keys()
                .filter(|k| k.starts_with("tray."))
                .count();
            assert_eq!(keys, 22, "{name}");
        }
    }

    #[test]
    fn failure_notices_name_the_action_in_the_users_language() {
        let stop = TrayAction::ContainerStop("0123456789abcdef".into());
        let (title, body) = failure_notice(&stop, "No such container: 0123", Lang::En);
        assert_eq!(title, "Berth");
        assert_eq!(
            body,
            "“Stop 0123456789ab” did not work: No such container: 0123"
        );
        let (_, body) = failure_notice(&TrayAction::EngineStart, "socket busy", Lang::Es);
        assert_eq!(body, "«Iniciar motor» no funcionó: socket busy");
    }

    fn status(state: EngineState) -> EngineStatus {
        EngineStatus {
            state,
            reason: (state == EngineState::Error).then(|| "berthd exited (exit status: 1)".into()),
            host: "unix:///run/berth.sock".into(),
            version: (state == EngineState::Running).then(|| "0.1.0".into()),
            can_manage: true,
        }
    }

    fn container(id: &str, name: &str, state: &str, ports: &[u16]) -> ContainerItem {
        ContainerItem {
            id: id.into(),
            name: name.into(),
            image: "busybox:latest".into(),
            state: state.into(),
            status: String::new(),
            created: 0,
            ports: ports
                .iter()
                .map(|p| PortItem {
                    ip: Some("0.0.0.0".into()),
                    private_port: 80,
                    public_port: Some(*p),
                    proto: "tcp".into(),
                })
                .collect(),
            project: None,
            labels: Default::default(),
        }
    }

    #[test]
    fn running_engine_lists_running_containers_with_their_actions() {
        let cs = [
            container("bbb", "web", "running", &[8080, 8443]),
            container("aaa", "api", "running", &[]),
            container("ccc", "old", "exited", &[9000]),
        ];
        let m = tray_model(
            &status(EngineState::Running),
            EngineKind::Native,
            &cs,
            Lang::En,
        );
        assert_eq!(
            m.items[0],
            TrayItem::Label("Engine: running (0.1.0)".into())
        );
        let subs: Vec<&str> = m
            .items
            .iter()
            .filter_map(|i| match i {
                TrayItem::Submenu { text, .. } => Some(text.as_str()),
                _ => None,
            })
            .collect();
        assert_eq!(subs, ["api — busybox:latest", "web — busybox:latest"]);
        assert_eq!(
            m.actions(),
            vec![
                TrayAction::OpenWindow,
                TrayAction::ContainerStop("aaa".into()),
                TrayAction::ContainerRestart("aaa".into()),
                TrayAction::CopyId("aaa".into()),
                TrayAction::ContainerStop("bbb".into()),
                TrayAction::ContainerRestart("bbb".into()),
                TrayAction::OpenPort("bbb".into(), 8080),
                TrayAction::OpenPort("bbb".into(), 8443),
                TrayAction::CopyId("bbb".into()),
                TrayAction::EngineStop,
                TrayAction::Quit,
            ]
        );
    }

    #[test]
    fn stopped_engine_offers_start_and_no_containers() {
        let cs = [container("bbb", "web", "running", &[8080])];
        let m = tray_model(
            &status(EngineState::Stopped),
            EngineKind::Native,
            &cs,
            Lang::En,
        );
        assert_eq!(
            m.actions(),
            vec![
                TrayAction::OpenWindow,
                TrayAction::EngineStart,
                TrayAction::Quit
            ]
        );
        let m = tray_model(
            &status(EngineState::Error),
            EngineKind::Native,
            &[],
            Lang::En,
        );
        assert_eq!(
            m.items[0],
            TrayItem::Label("Engine: error — berthd exited (exit status: 1)".into())
        );
        let m = tray_model(
            &status(EngineState::Starting),
            EngineKind::Native,
            &[],
            Lang::En,
        );
        assert!(m
            .items
            .contains(&TrayItem::Label("Engine is starting…".into())));
        assert!(!m.actions().contains(&TrayAction::EngineStart));
    }

    #[test]
    fn engine_actions_disabled_when_the_app_may_not_manage() {
        let mut s = status(EngineState::Stopped);
        s.can_manage = false;
        let m = tray_model(&s, EngineKind::Native, &[], Lang::En);
        assert!(m.items.contains(&TrayItem::Action {
            action: TrayAction::EngineStart,
            text: "Start engine".into(),
            enabled: false
        }));
    }

    #[test]
    fn spanish() {
        let m = tray_model(
            &status(EngineState::Running),
            EngineKind::Native,
            &[],
            Lang::Es,
        );
        assert_eq!(
            m.items[0],
            TrayItem::Label("Motor: en marcha (0.1.0)".into())
        );
        assert!(m
            .items
            .contains(&TrayItem::Label("Ningún contenedor en marcha".into())));
        assert!(m.items.contains(&TrayItem::Action {
            action: TrayAction::Quit,
            text: "Salir de Berth".into(),
            enabled: true
        }));
        assert_eq!(Lang::from_tag("es_AR.UTF-8"), Lang::Es);
        assert_eq!(Lang::from_tag("en-US"), Lang::En);
    }

    #[test]
    fn action_ids_roundtrip() {
        let all = [
            TrayAction::OpenWindow,
            TrayAction::Quit,
            TrayAction::EngineStart,
            TrayAction::EngineStop,
            TrayAction::EngineRestart,
            TrayAction::ContainerStop("abc".into()),
            TrayAction::ContainerRestart("abc".into()),
            TrayAction::OpenPort("abc".into(), 8080),
            TrayAction::CopyId("abc".into()),
        ];
        for a in all {
            assert_eq!(TrayAction::parse(&a.id()), Some(a));
        }
        assert_eq!(TrayAction::parse("container:open:abc:0"), None);
        assert_eq!(TrayAction::parse("container:open:abc:99999"), None);
        assert_eq!(TrayAction::parse("label:0"), None);
        assert_eq!(TrayAction::parse("container:stop:"), None);
    }

    #[test]
    fn long_reasons_are_shortened() {
        let mut s = status(EngineState::Error);
        s.reason = Some("x".repeat(200));
        let line = engine_line(&s, EngineKind::Native, Lang::En);
        assert!(line.chars().count() < 90, "{line}");
        assert!(line.ends_with('…'));
    }

    #[test]
    fn the_vm_engine_has_start_stop_and_restart_in_its_own_words() {
        let cs = [container("bbb", "web", "running", &[8080])];
        let m = tray_model(&status(EngineState::Running), EngineKind::Vm, &cs, Lang::En);
        assert_eq!(
            m.items[0],
            TrayItem::Label("Engine (VM): running (0.1.0)".into())
        );
        let engine_items: Vec<(TrayAction, String)> = m
            .items
            .iter()
            .filter_map(|i| match i {
                TrayItem::Action { action, text, .. }
                    if matches!(
                        action,
                        TrayAction::EngineStart
                            | TrayAction::EngineStop
                            | TrayAction::EngineRestart
                    ) =>
                {
                    Some((action.clone(), text.clone()))
                }
                _ => None,
            })
            .collect();
        assert_eq!(
            engine_items,
            vec![
                (TrayAction::EngineStop, "Stop VM".to_string()),
                (TrayAction::EngineRestart, "Restart VM".to_string()),
            ]
        );
        // A VM that failed (QEMU killed): start it again, or restart it.
        let m = tray_model(&status(EngineState::Error), EngineKind::Vm, &[], Lang::Es);
        let actions = m.actions();
        assert!(actions.contains(&TrayAction::EngineStart));
        assert!(actions.contains(&TrayAction::EngineRestart));
        assert!(m.items.contains(&TrayItem::Action {
            action: TrayAction::EngineStart,
            text: "Iniciar VM".into(),
            enabled: true
        }));
        // Booting: nothing to click but the window and quit.
        let m = tray_model(
            &status(EngineState::Starting),
            EngineKind::Vm,
            &[],
            Lang::En,
        );
        assert_eq!(m.actions(), vec![TrayAction::OpenWindow, TrayAction::Quit]);
        let m = tray_model(&status(EngineState::Stopped), EngineKind::Vm, &[], Lang::En);
        assert!(!m.actions().contains(&TrayAction::EngineRestart));
        assert_eq!(
            action_label(&TrayAction::EngineRestart, Lang::Es),
            "Reiniciar VM"
        );
    }
}
