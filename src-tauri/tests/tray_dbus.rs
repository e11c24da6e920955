//! The real app's tray, read and clicked over D-Bus as a desktop shell would.
//!
//! The test runs its own session bus and X server (Xvfb), plays the StatusNotifierWatcher (the
//! shell side of the StatusNotifierItem protocol), launches `berth-desktop` against a real
//! berthd, then reads the menu with `com.canonical.dbusmenu.GetLayout` and clicks items with
//! `Event(id, "clicked")`: the menu follows the engine's containers, and a click acts.
//! Needs root, `Xvfb`, `dbus-daemon` and a built berthd, like the other end-to-end tests.

use std::collections::HashMap;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use berth_tests::{engine_with_busybox, spawn_tied};
use support::{wait_for, Session};

mod support;
use zbus::zvariant::{OwnedObjectPath, OwnedValue, Value};

/// `(sender, object path)` of every item that registered with our watcher.
#[derive(Clone, Default)]
struct Watcher {
    items: Arc<Mutex<Vec<(String, String)>>>,
}

#[zbus::interface(name = "org.kde.StatusNotifierWatcher")]
impl Watcher {
    fn register_status_notifier_item(
        &self,
        service: &str,
        #[zbus(header)] header: zbus::message::Header<'_>,
    ) {
        let sender = header.sender().map(|s| s.to_string()).unwrap_or_default();
        // Items pass either their object path or a bus name.
        let (bus, path) = if service.starts_with('/') {
            (sender, service.to_string())
        } else {
            (service.to_string(), "/StatusNotifierItem".to_string())
        };
        self.items.lock().expect("lock").push((bus, path));
    }

    fn register_status_notifier_host(&self, _service: &str) {}

    #[zbus(property)]
    fn is_status_notifier_host_registered(&self) -> bool {
        true
    }

    #[zbus(property)]
    fn protocol_version(&self) -> i32 {
        0
    }

    #[zbus(property)]
    fn registered_status_notifier_items(&self) -> Vec<String> {
        self.items
            .lock()
            .expect("lock")
            .iter()
            .map(|(b, p)| format!("{b}{p}"))
            .collect()
    }
}

/// The shell's notification server: records (summary, body) of every `Notify`.
#[derive(Clone, Default)]
struct Notifications {
    shown: Arc<Mutex<Vec<(String, String)>>>,
}

#[zbus::interface(name = "org.freedesktop.Notifications")]
impl Notifications {
    #[allow(clippy::too_many_arguments)]
    fn notify(
        &self,
        _app_name: &str,
        _replaces_id: u32,
        _app_icon: &str,
        summary: &str,
        body: &str,
        _actions: Vec<String>,
        _hints: HashMap<String, OwnedValue>,
        _expire_timeout: i32,
    ) -> u32 {
        let mut shown = self.shown.lock().expect("lock");
        shown.push((summary.to_string(), body.to_string()));
        shown.len() as u32
    }

    fn get_capabilities(&self) -> Vec<String> {
        vec!["body".into()]
    }

    fn get_server_information(&self) -> (String, String, String, String) {
        (
            "berth-test".into(),
            "berth".into(),
            "1".into(),
            "1.2".into(),
        )
    }

    fn close_notification(&self, _id: u32) {}
}

/// `GetLayout`'s answer: revision, then the root `(id, properties, children)`.
type LayoutReply = (u32, (i32, HashMap<String, OwnedValue>, Vec<OwnedValue>));

/// One dbusmenu entry.
#[derive(Debug, Clone)]
struct Node {
    id: i32,
    label: String,
    enabled: bool,
    children: Vec<Node>,
}

impl Node {
    fn find(&self, label_part: &str) -> Option<&Node> {
        if self.label.contains(label_part) {
            return Some(self);
        }
        self.children.iter().find_map(|c| c.find(label_part))
    }

    fn labels(&self) -> Vec<String> {
        let mut out = vec![self.label.clone()];
        for c in &self.children {
            out.extend(c.labels());
        }
        out.retain(|l| !l.is_empty());
        out
    }
}

fn node(v: &Value<'_>) -> Option<Node> {
    let s = match v {
        Value::Structure(s) => s,
        Value::Value(inner) => return node(inner),
        _ => return None,
    };
    let f = s.fields();
    let id = match f.first()? {
        Value::I32(i) => *i,
        _ => return None,
    };
    let props: HashMap<String, OwnedValue> = match f.get(1)? {
        Value::Dict(d) => d.try_clone().ok()?.try_into().ok()?,
        _ => return None,
    };
    let label = props
        .get("label")
        .and_then(|v| <&str>::try_from(v).ok())
        .unwrap_or("")
        .replace("__", "_");
    let enabled = props
        .get("enabled")
        .and_then(|v| bool::try_from(v).ok())
        .unwrap_or(true);
    let children = match f.get(2)? {
        Value::Array(a) => a.iter().filter_map(node).collect(),
        _ => Vec::new(),
    };
    Some(Node {
        id,
        label,
        enabled,
        children,
    })
}

#[test]
fn tray_menu_over_dbus_follows_containers_and_clicks_act() {
    let (d, image) = engine_with_busybox();
    let port = berth_tests::free_port();
    let id = d
        .docker_ok(&[
            "run",
            "-d",
            "--name",
            "web",
            "-p",
            &format!("{port}:80"),
            &image,
            "sleep",
            "300",
        ])
        .trim()
        .to_string();

    let tmp = d.dir().join("desktop");
    // A session bus and an X server of our own.
    let mut session = Session::start(&tmp);
    let bus_addr = session.bus_addr.clone();

    // The shell side: a StatusNotifierWatcher on that bus.
    let watcher = Watcher::default();
    let notifications = Notifications::default();
    let conn = zbus::blocking::connection::Builder::address(bus_addr.as_str())
        .expect("bus address")
        .name("org.kde.StatusNotifierWatcher")
        .expect("name")
        .serve_at("/StatusNotifierWatcher", watcher.clone())
        .expect("serve")
        .build()
        .expect("connect to the test bus");
    // And its notification server, on a connection of its own (one well-known name each).
    let _notify_conn = zbus::blocking::connection::Builder::address(bus_addr.as_str())
        .expect("bus address")
        .name("org.freedesktop.Notifications")
        .expect("name")
        .serve_at("/org/freedesktop/Notifications", notifications.clone())
        .expect("serve")
        .build()
        .expect("connect to the test bus");

    // The app, against the test's engine.
    let log = std::fs::File::create(tmp.join("app.log")).expect("app log");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_berth-desktop"));
    session.app_env(&mut cmd, &d.host());
    cmd.stdout(log.try_clone().expect("dup")).stderr(log);
    session.procs.push(spawn_tied(cmd).expect("berth-desktop"));
    let app_log = || std::fs::read_to_string(tmp.join("app.log")).unwrap_or_default();

    let deadline = Instant::now() + Duration::from_secs(30);
    let (bus, item_path) = loop {
        if let Some(item) = watcher.items.lock().expect("lock").first().cloned() {
            break item;
        }
        assert!(
            Instant::now() < deadline,
            "the app never registered a tray item\n--- app log ---\n{}",
            app_log()
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    let item = zbus::blocking::Proxy::new(
        &conn,
        bus.as_str(),
        item_path.as_str(),
        "org.kde.StatusNotifierItem",
    )
    .expect("item proxy");
    let menu_path: OwnedObjectPath = item.get_property("Menu").expect("Menu property");
    let menu = zbus::blocking::Proxy::new(
        &conn,
        bus.as_str(),
        menu_path.as_str(),
        "com.canonical.dbusmenu",
    )
    .expect("menu proxy");
    let layout = || -> Node {
        let reply: LayoutReply = menu
            .call("GetLayout", &(0i32, -1i32, Vec::<String>::new()))
            .expect("GetLayout");
        let (_, (_, _, children)) = reply;
        Node {
            id: 0,
            label: String::new(),
            enabled: true,
            children: children.iter().filter_map(|c| node(c)).collect(),
        }
    };
    let click = |n: &Node| {
        let _: () = menu
            .call("Event", &(n.id, "clicked", Value::from(0i32), 0u32))
            .expect("Event clicked");
    };

    // The menu shows the running engine and the container with its actions.
    let deadline = Instant::now() + Duration::from_secs(20);
    let root = loop {
        let root = layout();
        if root.find("web — ").is_some() {
            break root;
        }
        assert!(
            Instant::now() < deadline,
            "menu never listed the container: {:?}\n--- app log ---\n{}",
            root.labels(),
            app_log()
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    assert!(
        root.find("Engine: running").is_some(),
        "{:?}",
        root.labels()
    );
    let web = root.find("web — ").expect("container submenu");
    let sub: Vec<String> = web.children.iter().map(|c| c.label.clone()).collect();
    assert!(sub.iter().any(|l| l == "Stop"), "{sub:?}");
    assert!(sub.iter().any(|l| l == "Restart"), "{sub:?}");
    assert!(
        sub.iter().any(|l| l.contains(&format!("localhost:{port}"))),
        "{sub:?}"
    );
    assert!(sub.iter().any(|l| l == "Copy ID"), "{sub:?}");
    let engine_line = root.find("Engine:").expect("engine line");
    assert!(!engine_line.enabled, "the state line is not clickable");

    // Clicking Stop stops the container; the menu follows the engine's events.
    let stop = web
        .children
        .iter()
        .find(|c| c.label == "Stop")
        .expect("Stop")
        .clone();
    click(&stop);
    wait_for("the container to stop", Duration::from_secs(30), || {
        d.docker_ok(&["inspect", "-f", "{{.State.Status}}", &id])
            .trim()
            == "exited"
    });
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let root = layout();
        if root.find("web — ").is_none() && root.find("No running containers").is_some() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "menu did not follow: {:?}",
            root.labels()
        );
        std::thread::sleep(Duration::from_millis(200));
    }

    // A container started from the CLI appears without any polling on our side.
    d.docker_ok(&["start", &id]);
    wait_for(
        "the container back in the menu",
        Duration::from_secs(15),
        || layout().find("web — ").is_some(),
    );

    // Stop engine from the tray: the state line and the engine item follow; Start brings the
    // same engine (same socket and flags) back.
    let stop_engine = layout().find("Stop engine").expect("Stop engine").clone();
    assert!(stop_engine.enabled, "root may manage the engine");
    click(&stop_engine);
    let deadline = Instant::now() + Duration::from_secs(30);
    let start_engine = loop {
        let root = layout();
        if root.find("Engine: stopped").is_some() {
            if let Some(n) = root.find("Start engine") {
                assert!(root.find("web — ").is_none(), "{:?}", root.labels());
                break n.clone();
            }
        }
        assert!(
            Instant::now() < deadline,
            "engine did not stop: {:?}\n--- app log ---\n{}",
            root.labels(),
            app_log()
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    // A start that fails (something else sits at the engine's socket path) is told in a
    // desktop notification, since the window may be hidden; the menu stays usable.
    let socket = d.socket_path();
    let _ = std::fs::remove_file(&socket);
    std::fs::create_dir(&socket).expect("block the socket path");
    click(&start_engine);
    let deadline = Instant::now() + Duration::from_secs(40);
    let (title, body) = loop {
        if let Some(n) = notifications.shown.lock().expect("lock").first().cloned() {
            break n;
        }
        assert!(
            Instant::now() < deadline,
            "no notification of the failed start\n--- app log ---\n{}",
            app_log()
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    assert_eq!(title, "Berth");
    assert!(
        body.starts_with("“Start engine” did not work:") && body.contains("Address already in use"),
        "{body}"
    );
    std::fs::remove_dir(&socket).expect("unblock the socket path");
    let start_engine = loop {
        if let Some(n) = layout().find("Start engine") {
            break n.clone();
        }
        assert!(Instant::now() < deadline, "{:?}", layout().labels());
        std::thread::sleep(Duration::from_millis(200));
    };
    click(&start_engine);
    wait_for("the engine running again", Duration::from_secs(40), || {
        layout().find("Engine: running").is_some()
    });
    assert_eq!(notifications.shown.lock().expect("lock").len(), 1);
    d.docker_ok(&["info"]);
    drop(session);
}
