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

struct Texts {
    engine: &'static str,
    starting: &'static str,
    running: &'static str,
    stopped: &'static str,
    error: &'static str,
    open: &'static str,
    running_containers: &'static str,
    no_containers: &'static str,
    stop: &'static str,
    restart: &'static str,
    open_port: &'static str,
    copy_id: &'static str,
    start_engine: &'static str,
    stop_engine: &'static str,
    engine_starting: &'static str,
    quit: &'static str,
}

const EN: Texts = Texts {
    engine: "Engine",
    starting: "starting…",
    running: "running",
    stopped: "stopped",
    error: "error",
    open: "Open Berth",
    running_containers: "Running containers",
    no_containers: "No running containers",
    stop: "Stop",
    restart: "Restart",
    open_port: "Open localhost:{port} in the browser",
    copy_id: "Copy ID",
    start_engine: "Start engine",
    stop_engine: "Stop engine",
    engine_starting: "Engine is starting…",
    quit: "Quit Berth",
};

const ES: Texts = Texts {
    engine: "Motor",
    starting: "iniciando…",
    running: "en marcha",
    stopped: "detenido",
    error: "error",
    open: "Abrir Berth",
    running_containers: "Contenedores en marcha",
    no_containers: "Ningún contenedor en marcha",
    stop: "Detener",
    restart: "Reiniciar",
    open_port: "Abrir localhost:{port} en el navegador",
    copy_id: "Copiar ID",
    start_engine: "Iniciar motor",
    stop_engine: "Detener motor",
    engine_starting: "El motor se está iniciando…",
    quit: "Salir de Berth",
};

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

/// The engine's state line, e.g. `Engine: running (0.1.0)`.
pub fn engine_line(status: &EngineStatus, lang: Lang) -> String {
    let t = texts(lang);
    let state = match status.state {
        EngineState::Starting => t.starting,
        EngineState::Running => t.running,
        EngineState::Stopped => t.stopped,
        EngineState::Error => t.error,
    };
    let mut line = format!("{}: {state}", t.engine);
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
    match lang {
        Lang::En => &EN,
        Lang::Es => &ES,
    }
}

/// The whole tray menu. See the module docs.
pub fn tray_model(status: &EngineStatus, containers: &[ContainerItem], lang: Lang) -> TrayModel {
    let t = texts(lang);
    let mut items = vec![
        TrayItem::Label(engine_line(status, lang)),
        TrayItem::Separator,
        action(TrayAction::OpenWindow, t.open, true),
        TrayItem::Separator,
    ];

    if status.is_running() {
        let mut running: Vec<&ContainerItem> =
            containers.iter().filter(|c| c.is_running()).collect();
        running.sort_by(|a, b| a.name.cmp(&b.name).then(a.id.cmp(&b.id)));
        if running.is_empty() {
            items.push(TrayItem::Label(t.no_containers.into()));
        } else {
            items.push(TrayItem::Label(t.running_containers.into()));
            for c in running {
                let mut sub = vec![
                    action(TrayAction::ContainerStop(c.id.clone()), t.stop, true),
                    action(TrayAction::ContainerRestart(c.id.clone()), t.restart, true),
                ];
                let ports = c.published_tcp_ports();
                if !ports.is_empty() {
                    sub.push(TrayItem::Separator);
                    for port in ports {
                        sub.push(action(
                            TrayAction::OpenPort(c.id.clone(), port),
                            t.open_port.replace("{port}", &port.to_string()),
                            true,
                        ));
                    }
                }
                sub.push(TrayItem::Separator);
                sub.push(action(TrayAction::CopyId(c.id.clone()), t.copy_id, true));
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
        EngineState::Running => action(TrayAction::EngineStop, t.stop_engine, status.can_manage),
        EngineState::Starting => TrayItem::Label(t.engine_starting.into()),
        EngineState::Stopped | EngineState::Error => {
            action(TrayAction::EngineStart, t.start_engine, status.can_manage)
        }
    });
    items.push(TrayItem::Separator);
    items.push(action(TrayAction::Quit, t.quit, true));

    TrayModel {
        tooltip: format!("Berth — {}", engine_line(status, lang)),
        items,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::commands::containers::PortItem;

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
        let m = tray_model(&status(EngineState::Running), &cs, Lang::En);
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
        let m = tray_model(&status(EngineState::Stopped), &cs, Lang::En);
        assert_eq!(
            m.actions(),
            vec![
                TrayAction::OpenWindow,
                TrayAction::EngineStart,
                TrayAction::Quit
            ]
        );
        let m = tray_model(&status(EngineState::Error), &[], Lang::En);
        assert_eq!(
            m.items[0],
            TrayItem::Label("Engine: error — berthd exited (exit status: 1)".into())
        );
        let m = tray_model(&status(EngineState::Starting), &[], Lang::En);
        assert!(m
            .items
            .contains(&TrayItem::Label("Engine is starting…".into())));
        assert!(!m.actions().contains(&TrayAction::EngineStart));
    }

    #[test]
    fn engine_actions_disabled_when_the_app_may_not_manage() {
        let mut s = status(EngineState::Stopped);
        s.can_manage = false;
        let m = tray_model(&s, &[], Lang::En);
        assert!(m.items.contains(&TrayItem::Action {
            action: TrayAction::EngineStart,
            text: "Start engine".into(),
            enabled: false
        }));
    }

    #[test]
    fn spanish() {
        let m = tray_model(&status(EngineState::Running), &[], Lang::Es);
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
        let line = engine_line(&s, Lang::En);
        assert!(line.chars().count() < 90, "{line}");
        assert!(line.ends_with('…'));
    }
}
