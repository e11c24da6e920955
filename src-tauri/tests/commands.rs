//! The desktop's commands against a real berthd (no mocks): every test starts its own engine
//! with the workspace harness (`berth-tests`) and drives the same `Backend` methods the Tauri
//! commands call. Needs root and a built berthd (`cargo build -j2 --workspace --bins`), like the
//! other end-to-end tests.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine as _;
use berth_desktop::commands::containers::{ContainerItem, LogLine, RunRequest};
use berth_desktop::commands::images::PullProgress;
use berth_desktop::engine_host::supervisor::{self, SupervisorOutput};
use berth_desktop::{
    Backend, EngineHost, EngineState, EngineStatus, ErrorKind, NativeConfig, NativeHost,
};
use berth_tests::{fixture_registry, free_port, Berthd};
use tokio_util::sync::CancellationToken;

fn host_for(d: &Berthd) -> Arc<NativeHost> {
    Arc::new(NativeHost::new(NativeConfig::for_socket(
        &d.socket_path(),
        &d.dir().join("desktop-host.log"),
    )))
}

fn backend_for(d: &Berthd) -> Backend {
    Backend::new(host_for(d))
}

/// A collecting sink: the items and a closure that pushes into them.
fn collector<T: Send + 'static>() -> (
    Arc<Mutex<Vec<T>>>,
    impl Fn(T) -> bool + Send + Sync + 'static,
) {
    let items = Arc::new(Mutex::new(Vec::new()));
    let sink_items = items.clone();
    (items, move |x| {
        sink_items.lock().expect("lock").push(x);
        true
    })
}

fn run_req(image: &str, name: Option<&str>, ports: serde_json::Value, cmd: &[&str]) -> RunRequest {
    serde_json::from_value(serde_json::json!({
        "image": image,
        "name": name,
        "ports": ports,
        "env": ["GREETING=hola"],
        "volumes": [],
        "command": cmd,
        "restartPolicy": "no"
    }))
    .expect("run request")
}

/// A busybox httpd serving `body` at / on port 80.
fn httpd(body: &str) -> String {
    format!("mkdir -p /www && echo {body} > /www/index.html && echo started $GREETING && exec httpd -f -p 80 -h /www")
}

/// GET / on 127.0.0.1:port until it answers (httpd needs a moment), returning the response.
fn http_get_eventually(port: u16) -> String {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let attempt = (|| -> std::io::Result<String> {
            let mut s = TcpStream::connect(("127.0.0.1", port))?;
            s.set_read_timeout(Some(Duration::from_secs(3)))?;
            s.write_all(b"GET / HTTP/1.0\r\nHost: localhost\r\n\r\n")?;
            let mut out = String::new();
            s.read_to_string(&mut out)?;
            Ok(out)
        })();
        match attempt {
            Ok(body) if body.contains("200 OK") => return body,
            _ if Instant::now() > deadline => {
                panic!("127.0.0.1:{port} never answered: {attempt:?}")
            }
            _ => std::thread::sleep(Duration::from_millis(150)),
        }
    }
}

fn find<'a>(list: &'a [ContainerItem], name: &str) -> Option<&'a ContainerItem> {
    list.iter().find(|c| c.name == name)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pull_run_publish_logs_stop_remove_and_errors() {
    let reg = fixture_registry();
    let d = Berthd::start();
    let b = backend_for(&d);
    let image = reg.image("busybox:latest");

    // Pull with progress messages; the image is listed once, by repo and tag.
    let (progress, sink) = collector::<PullProgress>();
    b.pull_image(&image, sink).await.expect("pull");
    let progress = progress.lock().expect("lock").clone();
    assert!(!progress.is_empty());
    assert!(
        progress
            .iter()
            .any(|p| p.status.starts_with("Digest:") || p.status == "Pull complete"),
        "{progress:?}"
    );
    let images = b.list_images().await.expect("images");
    let (repo, _) = image.rsplit_once(':').expect("tag");
    let item = images
        .iter()
        .find(|i| i.repository == repo && i.tag == "latest")
        .unwrap_or_else(|| panic!("{images:?}"));
    assert!(!item.in_use);

    // Run with a published port; the page answers on 127.0.0.1:PORT.
    let port = free_port();
    let req = run_req(
        &image,
        Some("web"),
        serde_json::json!([{"hostPort": port, "containerPort": 80, "proto": "tcp"}]),
        &["sh", "-c", &httpd("hello-berth")],
    );
    let id = b.run_container(&req).await.expect("run");
    let page = http_get_eventually(port);
    assert!(page.contains("hello-berth"), "{page}");

    let list = b.list_containers().await.expect("list");
    let web = find(&list, "web").unwrap_or_else(|| panic!("{list:?}"));
    assert_eq!(web.id, id);
    assert_eq!(web.state, "running");
    assert!(web.status.starts_with("Up"), "{}", web.status);
    assert!(
        web.ports
            .iter()
            .any(|p| p.private_port == 80 && p.public_port == Some(port) && p.proto == "tcp"),
        "{:?}",
        web.ports
    );
    let images = b.list_images().await.expect("images");
    assert!(images.iter().any(|i| i.repository == repo && i.in_use));
    let inspect = b.inspect_container(&id).await.expect("inspect");
    assert_eq!(inspect["Name"], "/web");
    assert!(inspect["Config"]["Env"]
        .as_array()
        .is_some_and(|e| e.iter().any(|v| v == "GREETING=hola")));

    // Logs (no follow): what the container printed, with the env applied. (The engine's log
    // writer may lag the container's output a little: poll.)
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let (lines, sink) = collector::<LogLine>();
        b.container_logs(&id, None, false, false, sink)
            .await
            .expect("logs");
        let lines = lines.lock().expect("lock").clone();
        if lines
            .iter()
            .any(|l| l.stream == "stdout" && l.text == "started hola")
        {
            break;
        }
        assert!(Instant::now() < deadline, "{lines:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Timestamps and tail.
    let (lines, sink) = collector::<LogLine>();
    b.container_logs(&id, Some(1), true, false, sink)
        .await
        .expect("logs");
    let lines = lines.lock().expect("lock").clone();
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(
        lines[0].text.ends_with("started hola") && lines[0].text.contains('T'),
        "{lines:?}"
    );

    // Errors the UI shows next to a field.
    let e = b.run_container(&req).await.expect_err("taken name");
    assert_eq!(
        (e.kind, e.field.as_deref()),
        (ErrorKind::Conflict, Some("name")),
        "{e:?}"
    );
    let missing = run_req(
        &reg.image("does-not-exist:latest"),
        Some("ghost"),
        serde_json::json!([]),
        &[],
    );
    let e = b.run_container(&missing).await.expect_err("missing image");
    assert_eq!(
        (e.kind, e.field.as_deref()),
        (ErrorKind::NotFound, Some("image")),
        "{e:?}"
    );
    let bad_port = run_req(
        &image,
        Some("bad"),
        serde_json::json!([{"hostPort": 70000, "containerPort": 80, "proto": "tcp"}]),
        &[],
    );
    let e = b.run_container(&bad_port).await.expect_err("bad port");
    assert_eq!(
        (e.kind, e.field.as_deref()),
        (ErrorKind::Invalid, Some("ports")),
        "{e:?}"
    );
    // The same host port again: the engine refuses at start; nothing is left behind.
    let clash = run_req(
        &image,
        Some("clash"),
        serde_json::json!([{"hostPort": port, "containerPort": 80, "proto": "tcp"}]),
        &["sh", "-c", &httpd("second")],
    );
    let e = b.run_container(&clash).await.expect_err("port taken");
    assert_eq!(e.field.as_deref(), Some("ports"), "{e:?}");
    let list = b.list_containers().await.expect("list");
    assert!(find(&list, "clash").is_none(), "{list:?}");
    let e = b
        .container_action(&id, "explode")
        .await
        .expect_err("bad action");
    assert_eq!(e.kind, ErrorKind::Invalid);
    let e = b
        .container_action("nope", "stop")
        .await
        .expect_err("no such");
    assert_eq!(e.kind, ErrorKind::NotFound, "{e:?}");

    // Pause/unpause, stop, start, restart, remove.
    b.container_action(&id, "pause").await.expect("pause");
    let list = b.list_containers().await.expect("list");
    assert_eq!(find(&list, "web").map(|c| c.state.as_str()), Some("paused"));
    b.container_action(&id, "unpause").await.expect("unpause");
    b.container_action(&id, "stop").await.expect("stop");
    let list = b.list_containers().await.expect("list");
    assert_eq!(find(&list, "web").map(|c| c.state.as_str()), Some("exited"));
    // Following the logs of a stopped container ends at once.
    let (_, sink) = collector::<LogLine>();
    tokio::time::timeout(
        Duration::from_secs(10),
        b.container_logs(&id, None, false, true, sink),
    )
    .await
    .expect("follow of a stopped container ends")
    .expect("logs");
    b.container_action(&id, "start").await.expect("start");
    b.container_action(&id, "restart").await.expect("restart");
    assert!(http_get_eventually(port).contains("hello-berth"));
    b.container_action(&id, "remove")
        .await
        .expect("remove (force)");
    let list = b.list_containers().await.expect("list");
    assert!(find(&list, "web").is_none());

    // Remove the image by id.
    let images = b.list_images().await.expect("images");
    let img_id = images
        .iter()
        .find(|i| i.repository == repo)
        .map(|i| i.id.clone())
        .expect("image listed");
    let history = b.image_history(&img_id).await.expect("history");
    assert!(!history.is_empty());
    assert_eq!(
        b.inspect_image(&img_id).await.expect("inspect")["Id"],
        img_id.as_str()
    );
    b.remove_image(&img_id, true).await.expect("remove image");
    let images = b.list_images().await.expect("images");
    assert!(images.iter().all(|i| i.id != img_id), "{images:?}");
    let e = b.remove_image(&img_id, false).await.expect_err("gone");
    assert_eq!(e.kind, ErrorKind::NotFound);
    let pruned = b.prune_images().await.expect("prune images");
    assert_eq!(pruned.deleted, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn follow_streams_until_the_container_exits() {
    let (d, image) = berth_tests::engine_with_busybox();
    let b = backend_for(&d);
    let req = run_req(
        &image,
        Some("counter"),
        serde_json::json!([]),
        &[
            "sh",
            "-c",
            "for i in 1 2 3; do echo line$i; sleep 0.3; done; echo oops >&2",
        ],
    );
    let id = b.run_container(&req).await.expect("run");
    let (lines, sink) = collector::<LogLine>();
    tokio::time::timeout(
        Duration::from_secs(20),
        b.container_logs(&id, None, false, true, sink),
    )
    .await
    .expect("follow ends when the container exits")
    .expect("logs");
    let lines = lines.lock().expect("lock").clone();
    let texts: Vec<&str> = lines.iter().map(|l| l.text.as_str()).collect();
    assert_eq!(texts, ["line1", "line2", "line3", "oops"], "{lines:?}");
    assert_eq!(lines[3].stream, "stderr");

    // A second follow of the same container replaces the first (a view reopened).
    let req = run_req(
        &image,
        Some("sleeper"),
        serde_json::json!([]),
        &["sleep", "300"],
    );
    let id = b.run_container(&req).await.expect("run");
    let b = Arc::new(b);
    let first = {
        let b = b.clone();
        let id = id.clone();
        tokio::spawn(async move {
            b.container_logs(&id, None, false, true, |_l: LogLine| true)
                .await
        })
    };
    wait_until(
        "the first logs stream to open",
        Duration::from_secs(10),
        || b.streams().count() == 1,
    )
    .await;
    let second = {
        let b = b.clone();
        let id = id.clone();
        tokio::spawn(async move {
            b.container_logs(&id, None, false, true, |_l: LogLine| true)
                .await
        })
    };
    tokio::time::timeout(Duration::from_secs(5), first)
        .await
        .expect("replaced stream ends")
        .expect("join")
        .expect("logs");
    // The first stream ended because the second registered in its place: one is open.
    assert_eq!(b.close_container_streams(&id), 1);
    tokio::time::timeout(Duration::from_secs(5), second)
        .await
        .expect("closed stream ends")
        .expect("join")
        .expect("logs");
    b.container_action(&id, "remove").await.expect("remove");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stats_stream_cpu_memory_network() {
    let (d, image) = berth_tests::engine_with_busybox();
    let b = Arc::new(backend_for(&d));
    // Busy, and talking to the engine's own bridge gateway.
    let gateway = d.net().gateway();
    let id = b
        .run_container(&run_req(
            &image,
            Some("busy"),
            serde_json::json!([]),
            &[
                "sh",
                "-c",
                &format!("ping -c 3 -i 0.2 {gateway} >/dev/null; while :; do :; done"),
            ],
        ))
        .await
        .expect("run");
    let (samples, sink) = collector();
    let task = {
        let b = b.clone();
        let id = id.clone();
        tokio::spawn(async move { b.container_stats(&id, sink).await })
    };
    wait_until("three stats samples", Duration::from_secs(15), || {
        samples.lock().expect("lock").len() >= 3
    })
    .await;
    b.close_container_streams(&id);
    task.await.expect("join").expect("stats");
    let samples: Vec<berth_desktop::commands::containers::StatsSample> =
        samples.lock().expect("lock").clone();
    let last = samples.last().expect("a sample");
    assert!(last.cpu_percent > 5.0, "{samples:?}");
    assert!(
        last.mem_usage > 1e5 && last.mem_limit >= last.mem_usage,
        "{samples:?}"
    );
    assert!(last.net_rx > 0.0 && last.net_tx > 0.0, "{samples:?}");
    assert!(
        samples.windows(2).all(|w| w[1].time > w[0].time),
        "{samples:?}"
    );
    d.docker_ok(&["rm", "-f", "busy"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn terminal_into_a_container() {
    let (d, image) = berth_tests::engine_with_busybox();
    let b = backend_for(&d);
    let id = b
        .run_container(&run_req(
            &image,
            Some("box"),
            serde_json::json!([]),
            &["sleep", "300"],
        ))
        .await
        .expect("run");
    let (chunks, sink) = collector::<String>();
    let session = b.exec_start(&id, 100, 30, sink).await.expect("exec");
    let b64 = base64::engine::general_purpose::STANDARD;
    b.exec_input(&session, &b64.encode("echo hi-$((6*7)); stty size\n"))
        .await
        .expect("input");
    let output = || {
        let bytes: Vec<u8> = chunks
            .lock()
            .expect("lock")
            .iter()
            .flat_map(|c| b64.decode(c).expect("base64 from the app"))
            .collect();
        String::from_utf8_lossy(&bytes).into_owned()
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    while !(output().contains("hi-42") && output().contains("30 100")) {
        assert!(Instant::now() < deadline, "terminal output: {:?}", output());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    b.exec_resize(&session, 120, 40).await.expect("resize");
    b.exec_input(&session, &b64.encode("stty size\n"))
        .await
        .expect("input");
    let deadline = Instant::now() + Duration::from_secs(10);
    while !output().contains("40 120") {
        assert!(Instant::now() < deadline, "terminal output: {:?}", output());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    b.exec_input(&session, &b64.encode("exit\n"))
        .await
        .expect("exit");
    let e = b
        .exec_input("nope", "aGk=")
        .await
        .expect_err("unknown session");
    assert_eq!(e.kind, ErrorKind::NotFound);
    b.exec_close(&session).await.expect("close");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn volumes_and_networks() {
    let d = Berthd::start();
    let b = backend_for(&d);

    let v = b
        .create_volume(Some("berth-data"))
        .await
        .expect("create volume");
    assert_eq!(
        (v.name.as_str(), v.driver.as_str(), v.in_use),
        ("berth-data", "local", false)
    );
    assert!(v.created.is_some_and(|c| c > 1_600_000_000), "{v:?}");
    let anon = b.create_volume(None).await.expect("anonymous volume");
    assert_eq!(anon.name.len(), 64, "{anon:?}");
    let list = b.list_volumes().await.expect("volumes");
    assert!(list.iter().any(|x| x.name == "berth-data"));
    assert_eq!(
        b.inspect_volume("berth-data").await.expect("inspect")["Name"],
        "berth-data"
    );
    let e = b.create_volume(Some("no way")).await.expect_err("bad name");
    assert_eq!(e.field.as_deref(), Some("name"));
    b.remove_volume("berth-data").await.expect("remove volume");
    let e = b.remove_volume("berth-data").await.expect_err("gone");
    assert_eq!(e.kind, ErrorKind::NotFound);
    let pruned = b.prune_volumes().await.expect("prune volumes");
    assert_eq!(pruned.deleted, 1, "the anonymous volume");
    assert!(b.list_volumes().await.expect("volumes").is_empty());

    // A subnet from this engine's own pool (the harness keeps engines apart).
    let pool = d.net().pool.clone();
    let octets: Vec<u8> = pool
        .split('/')
        .next()
        .unwrap_or_default()
        .split('.')
        .filter_map(|o| o.parse().ok())
        .collect();
    let subnet = format!("{}.{}.{}.192/26", octets[0], octets[1], octets[2] + 3);
    let n = b
        .create_network("berth-net", Some(&subnet), true)
        .await
        .expect("create network");
    assert_eq!(n.name, "berth-net");
    assert_eq!(n.subnet.as_deref(), Some(subnet.as_str()));
    assert!(n.internal);
    let e = b
        .create_network("berth-net", None, false)
        .await
        .expect_err("taken");
    assert_eq!(
        (e.kind, e.field.as_deref()),
        (ErrorKind::Conflict, Some("name")),
        "{e:?}"
    );
    let e = b
        .create_network("other", Some("10.0.0.0/40"), false)
        .await
        .expect_err("subnet");
    assert_eq!(
        (e.kind, e.field.as_deref()),
        (ErrorKind::Invalid, Some("subnet"))
    );
    let list = b.list_networks().await.expect("networks");
    assert!(
        list.iter()
            .any(|x| x.name == "bridge" && x.driver == "bridge"),
        "{list:?}"
    );
    assert!(list
        .iter()
        .any(|x| x.name == "berth-net" && x.containers == 0));
    assert_eq!(
        b.inspect_network(&n.id).await.expect("inspect")["Name"],
        "berth-net"
    );
    b.remove_network(&n.id).await.expect("remove network");
    b.create_network("berth-spare", None, false)
        .await
        .expect("create");
    let pruned = b.prune_networks().await.expect("prune networks");
    assert_eq!(pruned.deleted, 1);
    let list = b.list_networks().await.expect("networks");
    assert!(
        list.iter().all(|x| !x.name.starts_with("berth-")),
        "{list:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn engine_missing_is_reported_quickly_and_commands_say_unavailable() {
    let dir = tempfile::tempdir().expect("tempdir");
    let host = Arc::new(NativeHost::new(NativeConfig::for_socket(
        &dir.path().join("absent.sock"),
        &dir.path().join("log"),
    )));
    let b = Backend::new(host.clone());
    let t = Instant::now();
    let s = b.engine_status().await;
    assert!(
        matches!(s.state, EngineState::Stopped | EngineState::Error),
        "{s:?}"
    );
    assert!(!s.can_manage);
    let e = b.list_containers().await.expect_err("no engine");
    assert_eq!(e.kind, ErrorKind::Unavailable, "{e:?}");
    let e = b.engine_start().await.expect_err("may not start");
    assert_eq!(e.kind, ErrorKind::Unavailable, "{e:?}");
    assert!(
        t.elapsed() < Duration::from_secs(5),
        "took {:?}",
        t.elapsed()
    );

    // A real engine: running with its version; after it stops: stopped, commands unavailable.
    let mut d = Berthd::start();
    let host = host_for(&d);
    let b = Backend::new(host.clone());
    let s = host.status().await;
    assert_eq!(s.state, EngineState::Running, "{s:?}");
    assert!(s.version.is_some());
    assert!(b.list_containers().await.expect("list").is_empty());
    d.stop();
    let t = Instant::now();
    let s = host.status().await;
    assert!(
        matches!(s.state, EngineState::Stopped | EngineState::Error),
        "{s:?}"
    );
    let e = b.list_containers().await.expect_err("engine gone");
    assert_eq!(e.kind, ErrorKind::Unavailable, "{e:?}");
    assert!(
        t.elapsed() < Duration::from_secs(8),
        "took {:?}",
        t.elapsed()
    );
}

/// Collects what the supervisor reports.
#[derive(Clone, Default)]
struct Collected {
    statuses: Arc<Mutex<Vec<EngineStatus>>>,
    events: Arc<Mutex<Vec<serde_json::Value>>>,
}

impl SupervisorOutput for Collected {
    fn status(&self, status: &EngineStatus) {
        self.statuses.lock().expect("lock").push(status.clone());
    }
    fn event(&self, event: &bollard::models::EventMessage) {
        let v = serde_json::to_value(event).expect("event json");
        self.events.lock().expect("lock").push(v);
    }
}

async fn wait_until(what: &str, limit: Duration, cond: impl Fn() -> bool) {
    let deadline = Instant::now() + limit;
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Waits until the supervisor forwards engine events. It subscribes to `/events` some time after
/// it reports running, and the engine does not replay past events to a plain subscription: so
/// make volume events (named `{tag}-N`) until one comes through.
async fn events_flow(d: &Berthd, out: &Collected, tag: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    for i in 0.. {
        let name = format!("{tag}-{i}");
        d.docker_ok(&["volume", "create", &name]);
        let seen = || {
            out.events
                .lock()
                .expect("lock")
                .iter()
                .any(|e| e["Type"] == "volume" && e["Actor"]["ID"] == name.as_str())
        };
        let probe_end = Instant::now() + Duration::from_millis(500);
        while !seen() && Instant::now() < probe_end {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        if seen() {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the supervisor forwards no events"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn supervisor_follows_events_and_recovers_when_the_engine_restarts() {
    let (mut d, image) = berth_tests::engine_with_busybox();
    let b = Arc::new(backend_for(&d));
    let out = Collected::default();
    let stop = CancellationToken::new();
    let task = tokio::spawn(supervisor::run(b.clone(), out.clone(), stop.clone()));

    let last_state = |out: &Collected| out.statuses.lock().expect("lock").last().map(|s| s.state);
    wait_until("running", Duration::from_secs(10), || {
        last_state(&out) == Some(EngineState::Running)
    })
    .await;
    events_flow(&d, &out, "before").await;
    // An event made with the docker CLI comes through.
    let has_event = |out: &Collected, name: &str, action: &str| {
        out.events.lock().expect("lock").iter().any(|e| {
            e["Type"] == "container"
                && e["Action"] == action
                && e["Actor"]["Attributes"]["name"] == name
        })
    };
    d.docker_ok(&["create", "--name", "first", &image, "true"]);
    wait_until("create event", Duration::from_secs(10), || {
        has_event(&out, "first", "create")
    })
    .await;
    let ev = out
        .events
        .lock()
        .expect("lock")
        .iter()
        .find(|e| e["Type"] == "container" && e["Action"] == "create")
        .cloned()
        .expect("event");
    assert!(
        ev["Actor"]["ID"].as_str().is_some_and(|id| !id.is_empty()),
        "{ev}"
    );
    assert!(ev["time"].as_i64().is_some(), "{ev}");

    // The engine goes away: stopped (or error), no hang, no panic.
    d.stop();
    wait_until("stopped", Duration::from_secs(20), || {
        matches!(
            last_state(&out),
            Some(EngineState::Stopped | EngineState::Error)
        )
    })
    .await;
    // It comes back: running again, and events flow again.
    d.restart();
    wait_until("running again", Duration::from_secs(25), || {
        last_state(&out) == Some(EngineState::Running)
    })
    .await;
    events_flow(&d, &out, "after").await;
    d.docker_ok(&["create", "--name", "second", &image, "true"]);
    wait_until("event after restart", Duration::from_secs(10), || {
        has_event(&out, "second", "create")
    })
    .await;

    stop.cancel();
    tokio::time::timeout(Duration::from_secs(5), task)
        .await
        .expect("supervisor stops when asked")
        .expect("join");
}

/// An engine the app starts and stops itself (what happens at launch and from the tray):
/// berthd through a wrapper that adds this test's own bridge and subnets to the app's flags.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn native_host_starts_stops_and_restarts_berthd() {
    use berth_tests::netenv::{self, NetIdentity};
    let dir = berth_tests::make_temp_dir("berth-e2e-");
    let net = NetIdentity::new();
    let wrapper = dir.join("berthd-wrapper.sh");
    std::fs::write(
        &wrapper,
        format!(
            "#!/bin/sh\nexec {} \"$@\" {}\n",
            berth_tests::berthd_bin().display(),
            net.args().join(" ")
        ),
    )
    .expect("write wrapper");
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&wrapper, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    }
    let socket = dir.join("engine.sock");
    let data_root = dir.join("root");
    let log = dir.join("logs/berthd.log");
    let host = NativeHost::new(NativeConfig {
        berthd_bin: Some(wrapper),
        data_root: data_root.clone(),
        allow_manage: true,
        ..NativeConfig::for_socket(&socket, &log)
    });

    let s = host.status().await;
    assert_eq!(s.state, EngineState::Stopped, "{s:?}");
    assert!(s.can_manage, "tests run as root");
    let s = host.start().await.expect("start");
    assert_eq!(s.state, EngineState::Running, "{s:?}");
    assert!(std::fs::read_to_string(&log)
        .expect("engine log written")
        .contains("API listening"));
    // Starting a running engine changes nothing.
    assert_eq!(
        host.start().await.expect("start again").state,
        EngineState::Running
    );

    let s = host.restart().await.expect("restart");
    assert_eq!(s.state, EngineState::Running, "{s:?}");

    let s = host.stop().await.expect("stop");
    assert_eq!(
        s.state,
        EngineState::Stopped,
        "a deliberate stop is not an error: {s:?}"
    );
    assert!(!socket.exists() || std::os::unix::net::UnixStream::connect(&socket).is_err());

    // An engine crash is an error with the reason, until it runs again.
    host.start().await.expect("start");
    let pid = String::from_utf8_lossy(
        &std::process::Command::new("pgrep")
            .args(["-f", &format!("berthd --data-root {}", data_root.display())])
            .output()
            .expect("pgrep")
            .stdout,
    )
    .lines()
    .next()
    .and_then(|p| p.trim().parse::<i32>().ok())
    .expect("engine pid");
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid),
        nix::sys::signal::Signal::SIGKILL,
    )
    .expect("kill -9");
    let deadline = Instant::now() + Duration::from_secs(10);
    let s = loop {
        let s = host.status().await;
        let exited = s.reason.as_deref().unwrap_or("").contains("berthd exited");
        if (s.state == EngineState::Error && exited) || Instant::now() > deadline {
            break s;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(s.state, EngineState::Error, "{s:?}");
    assert!(
        s.reason.as_deref().unwrap_or("").contains("berthd exited"),
        "{s:?}"
    );
    assert_eq!(
        host.start().await.expect("start after crash").state,
        EngineState::Running
    );

    // At quit the app stops the engine it started.
    host.shutdown().await;
    assert_eq!(host.status().await.state, EngineState::Stopped);

    let mut bridges = netenv::recorded_bridges(&data_root);
    bridges.push(net.bridge.clone());
    let table = netenv::nft_table(&data_root);
    berth_tests::cleanup_dir(&dir);
    netenv::cleanup(&bridges, &table);
}

/// An engine someone else started: the app finds it through the socket (SO_PEERCRED), stops
/// it, and starts the same command line again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn native_host_stops_and_restarts_an_engine_it_did_not_start() {
    let d = Berthd::start();
    let host = NativeHost::new(NativeConfig {
        allow_manage: true,
        ..NativeConfig::for_socket(&d.socket_path(), &d.dir().join("desktop/berthd.log"))
    });
    assert_eq!(host.status().await.state, EngineState::Running);
    let s = host.stop().await.expect("stop");
    assert_eq!(s.state, EngineState::Stopped, "{s:?}");
    let s = host.start().await.expect("start the same engine again");
    assert_eq!(s.state, EngineState::Running, "{s:?}");
    // Same data root and flags: the docker CLI of the harness still talks to it.
    d.docker_ok(&["info"]);
    host.shutdown().await;
    assert_eq!(host.status().await.state, EngineState::Stopped);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reset_removes_everything_but_the_built_in_image() {
    let reg = fixture_registry();
    let d = Berthd::start_with_args(&["--welcome-image=true"]);
    let b = backend_for(&d);
    let busybox = reg.image("busybox:latest");
    let layers = reg.image("layers:latest");
    d.docker_ok(&["pull", "-q", &busybox]);
    d.docker_ok(&["pull", "-q", &layers]);
    d.docker_ok(&["network", "create", "shop"]);
    d.docker_ok(&["volume", "create", "keep-me-not"]);
    // Running (on the user network, with the named volume), exited, and created-only.
    d.docker_ok(&[
        "run",
        "-d",
        "--name",
        "up",
        "--network",
        "shop",
        "-v",
        "keep-me-not:/data",
        &busybox,
        "sleep",
        "300",
    ]);
    d.docker_ok(&["run", "--name", "done", &busybox, "true"]);
    // `layers` declares VOLUME /data: an anonymous volume, removed with its container (`rm -v`).
    d.docker_ok(&["create", "--name", "later", &layers]);

    let r = b.reset_engine_data().await.expect("reset");
    assert_eq!(
        (r.containers, r.images, r.volumes, r.networks),
        (3, 2, 1, 1),
        "{r:?}"
    );
    assert_eq!(d.docker_ok(&["ps", "-aq"]).trim(), "");
    assert_eq!(d.docker_ok(&["volume", "ls", "-q"]).trim(), "");
    let nets = d.docker_ok(&["network", "ls", "--format", "{{.Name}}"]);
    let mut nets: Vec<&str> = nets.lines().collect();
    nets.sort();
    assert_eq!(nets, ["bridge", "host", "none"]);
    let images = d.docker_ok(&["images", "--format", "{{.Repository}}:{{.Tag}}"]);
    assert_eq!(images.trim(), "berth/welcome:latest");

    // Nothing left to remove: a second reset removes nothing and fails at nothing.
    let again = b.reset_engine_data().await.expect("second reset");
    assert_eq!(
        (
            again.containers,
            again.images,
            again.volumes,
            again.networks
        ),
        (0, 0, 0, 0)
    );
    // The engine still works with what it kept.
    d.docker_ok(&["create", "--name", "again", "berth/welcome:latest"]);
    d.docker_ok(&["rm", "again"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn file_browser_over_the_archive_api() {
    use berth_desktop::commands::files::EntryKind;
    let (d, busybox) = berth_tests::engine_with_busybox();
    let b = backend_for(&d);
    let id = d
        .docker_ok(&[
            "run", "-d", "--name", "files", &busybox, "sh", "-c",
            "mkdir -p /srv/sub && printf 'hola\\n' > /srv/hello.txt && ln -s hello.txt /srv/link && chmod 600 /srv/hello.txt && touch /srv/ready && sleep 300",
        ])
        .trim()
        .to_string();
    wait_until("the files", Duration::from_secs(10), || {
        d.docker(&["exec", "files", "test", "-e", "/srv/ready"])
            .success()
    })
    .await;

    let root = b.list_container_dir(&id, "/").await.expect("list /");
    assert_eq!(root.path, "/");
    let names: Vec<&str> = root.entries.iter().map(|e| e.name.as_str()).collect();
    for want in ["bin", "etc", "srv"] {
        assert!(names.contains(&want), "{names:?}");
    }
    assert!(!root.truncated);

    let srv = b.list_container_dir(&id, "/srv/").await.expect("list /srv");
    assert_eq!(srv.path, "/srv");
    let got: Vec<(&str, EntryKind)> = srv
        .entries
        .iter()
        .map(|e| (e.name.as_str(), e.kind))
        .collect();
    assert_eq!(
        got,
        [
            ("sub", EntryKind::Dir),
            ("hello.txt", EntryKind::File),
            ("link", EntryKind::Symlink),
            ("ready", EntryKind::File)
        ]
    );
    let hello = &srv.entries[1];
    assert_eq!((hello.size, hello.mode), (5, 0o600));
    assert_eq!(srv.entries[2].link_target.as_deref(), Some("hello.txt"));

    let text = b
        .read_container_file(&id, "/srv/hello.txt")
        .await
        .expect("preview");
    assert_eq!(
        (text.size, text.text.as_deref(), text.truncated),
        (5, Some("hola\n"), false)
    );
    let bin = b
        .read_container_file(&id, "/bin/busybox")
        .await
        .expect("binary");
    assert_eq!(bin.text, None);
    assert!(bin.truncated && bin.size > 500_000, "{} bytes", bin.size);

    // Errors: a missing path names the field; a missing container says so.
    let e = b
        .list_container_dir(&id, "/nope")
        .await
        .expect_err("missing path");
    assert_eq!(
        (e.kind, e.field.as_deref()),
        (ErrorKind::NotFound, Some("path")),
        "{e:?}"
    );
    let e = b
        .list_container_dir("no-such-container", "/")
        .await
        .expect_err("missing container");
    assert_eq!(e.kind, ErrorKind::NotFound, "{e:?}");
    assert_eq!(e.field, None, "{e:?}");
    let e = b
        .list_container_dir(&id, "relative")
        .await
        .expect_err("relative");
    assert_eq!(e.kind, ErrorKind::Invalid);

    // A stopped container is browsed the same way.
    d.docker_ok(&["stop", "-t", "0", "files"]);
    let srv = b
        .list_container_dir(&id, "/srv")
        .await
        .expect("list stopped");
    assert_eq!(srv.entries.len(), 4);
}
