//! The real app with its engine in a VM: `berth-desktop` in a WebKitGTK window under Xvfb
//! (tauri-driver + WebKitWebDriver), its settings saying "Run the engine in a VM", the guest
//! image of `scripts/vm-guest.sh` booted under QEMU (TCG here). The app boots the VM by itself;
//! the docker CLI on the host socket runs a container publishing a free port and one a host
//! program already holds; Troubleshoot shows the VM running, the forwarded and the failed
//! port and the boot log; quitting the app powers the VM off. Screenshots land in
//! `tests/artifacts/desktop/` as `vm-*.png`.
//!
//! Its own test binary, so its one VM never shares the 2 cores with the other WebDriver test.
//! The guest's network is restricted (no route out).

use std::net::{TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use berth_tests::engine_vm::{guest_image, processes_naming};
use berth_tests::{cleanup_dir, docker_bin, free_port, make_temp_dir, spawn_tied, workspace_root};
use fantoccini::ClientBuilder;
use support::ui::{http_get, tauri_driver_bin, Ui};
use support::{wait_for, Session};

mod support;

/// Booting under TCG takes 15–40 s; the first boot also formats the disk and loads the
/// welcome image.
const BOOT_LIMIT: Duration = Duration::from_secs(300);

struct Cleanup(PathBuf);

impl Drop for Cleanup {
    fn drop(&mut self) {
        cleanup_dir(&self.0);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_app_runs_its_engine_in_a_vm() {
    let root = make_temp_dir("berth-vm-");
    let _cleanup = Cleanup(root.clone());
    let guest = guest_image();
    let mut session = Session::start(&root);
    let home = root.join("home");
    let vm_dir = home.join(".local/share/berth/vm");
    let socket = vm_dir.join("docker.sock");
    // A returning user who chose the VM (small, to boot fast under emulation).
    let config = home.join(".config/dev.berth.desktop");
    std::fs::create_dir_all(&config).expect("mkdir");
    std::fs::write(
        config.join("settings.json"),
        br#"{"onboardingDone": true, "engineInVm": true, "vmCpus": 2, "vmMemoryMib": 1024, "vmDiskGib": 8}"#,
    )
    .expect("settings");

    let port = free_port();
    let native = free_port();
    let log = root.join("driver-and-app.log");
    let out = std::fs::File::create(&log).expect("log");
    let mut cmd = Command::new(tauri_driver_bin());
    cmd.args([
        "--port",
        &port.to_string(),
        "--native-port",
        &native.to_string(),
    ])
    .stdin(Stdio::null())
    .stdout(out.try_clone().expect("dup"))
    .stderr(out);
    session.app_env(
        &mut cmd,
        &format!("unix://{}", root.join("no-native.sock").display()),
    );
    cmd.env("BERTH_VM_GUEST", &guest)
        .env("BERTH_VM_NETWORK", "restricted")
        .env("WEBKIT_DISABLE_COMPOSITING_MODE", "0")
        .process_group(0);
    session
        .procs
        .push_group(spawn_tied(cmd).expect("tauri-driver"));
    wait_for("tauri-driver to listen", Duration::from_secs(20), || {
        TcpStream::connect(("127.0.0.1", port)).is_ok()
    });
    wait_for("WebKitWebDriver to listen", Duration::from_secs(30), || {
        TcpStream::connect(("127.0.0.1", native)).is_ok()
    });
    let mut caps = serde_json::Map::new();
    caps.insert(
        "tauri:options".into(),
        serde_json::json!({ "application": env!("CARGO_BIN_EXE_berth-desktop") }),
    );
    let connector = hyper_util::client::legacy::connect::HttpConnector::new();
    let c = ClientBuilder::new(connector)
        .capabilities(caps)
        .connect(&format!("http://127.0.0.1:{port}"))
        .await
        .expect("a WebDriver session with the app");
    let shots = workspace_root().join("tests/artifacts/desktop");
    let _ = std::fs::create_dir_all(&shots);
    let ui = Ui { c, shots, log };

    // The app boots its VM by itself; the badge says so, then the engine answers.
    let launched = Instant::now();
    ui.wait_text(
        "[data-testid=engine-badge][data-state=starting]",
        Duration::from_secs(30),
        |t| t.contains("Engine starting"),
    )
    .await;
    ui.shot("vm-booting").await;
    ui.wait_text(
        "[data-testid=engine-badge][data-state=running]",
        BOOT_LIMIT,
        |t| t.contains("Engine running"),
    )
    .await;
    eprintln!("[vm] app launch → engine running: {:?}", launched.elapsed());
    let mode = std::fs::metadata(&socket)
        .map(|m| std::os::unix::fs::PermissionsExt::mode(&m.permissions()))
        .expect("host socket");
    assert_eq!(mode & 0o777, 0o600);

    // The docker CLI on the host socket: a published port, and one a host program holds.
    let docker = |args: &[&str]| {
        let out = Command::new(docker_bin())
            .arg("-H")
            .arg(format!("unix://{}", socket.display()))
            .args(args)
            .env("DOCKER_CONFIG", root.join("docker-config"))
            .output()
            .expect("docker");
        assert!(
            out.status.success(),
            "docker {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };
    let web_port = free_port();
    let held = TcpListener::bind("127.0.0.1:0").expect("bind");
    let held_port = held.local_addr().expect("addr").port();
    let serve =
        "mkdir -p /www && echo hola-desde-la-vm > /www/index.html && exec httpd -f -p 80 -h /www";
    for (name, p) in [("web", web_port), ("clash", held_port)] {
        docker(&[
            "run",
            "-d",
            "--name",
            name,
            "-p",
            &format!("{p}:80"),
            "berth/welcome:latest",
            "sh",
            "-c",
            serve,
        ]);
    }
    wait_for(
        "the published port answers on the host",
        Duration::from_secs(120),
        || http_get(web_port).is_some_and(|b| b.contains("hola-desde-la-vm")),
    );

    // Troubleshoot: the VM, its ports (the held one not forwarded), its boot log.
    ui.click("[data-testid=nav-troubleshoot]").await;
    ui.wait_text("[data-testid=vm-state]", Duration::from_secs(30), |t| {
        t == "running"
    })
    .await;
    let ports = ui
        .wait_text("[data-testid=vm-ports]", Duration::from_secs(60), |t| {
            t.contains(&format!("127.0.0.1:{held_port} — could not be opened"))
                && t.contains(&format!("127.0.0.1:{web_port} — open at"))
        })
        .await;
    eprintln!("[vm] ports: {ports}");
    ui.wait_text("[data-testid=vm-log]", Duration::from_secs(10), |t| {
        t.contains("engine socket up")
    })
    .await;
    assert!(!ui.text("[data-testid=vm-accel]").await.is_empty());
    ui.shot("vm-troubleshoot").await;
    ui.scroll_to("[data-testid=vm-ports]").await;
    ui.shot("vm-troubleshoot-ports").await;
    ui.click("[data-testid=nav-settings]").await;
    ui.wait_text(
        "[data-testid=settings-vm-state]",
        Duration::from_secs(30),
        |t| t.contains("running"),
    )
    .await;
    ui.shot("vm-settings").await;
    drop(held);

    // Quitting the app (SIGTERM, as at logout) powers the VM off: no QEMU, socket or port left.
    let app = app_pid().expect("the app's pid");
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(app),
        nix::sys::signal::Signal::SIGTERM,
    )
    .expect("SIGTERM to the app");
    wait_for("the app to exit", Duration::from_secs(90), || {
        !Path::new(&format!("/proc/{app}")).exists()
            || std::fs::read_to_string(format!("/proc/{app}/stat"))
                .is_ok_and(|s| s.contains(") Z "))
    });
    wait_for("QEMU to be gone", Duration::from_secs(30), || {
        processes_naming(&vm_dir).is_empty()
    });
    let _ = ui.c.close().await;
    drop(session);
    assert!(!socket.exists(), "the host socket is removed");
    assert!(http_get(web_port).is_none());
    let console = std::fs::read_to_string(vm_dir.join("console.log")).unwrap_or_default();
    assert!(
        console.contains("powering off"),
        "the guest powered off cleanly:\n{console}"
    );
}

/// The app this test launched (its binary's path is in its command line).
fn app_pid() -> Option<i32> {
    let exe = env!("CARGO_BIN_EXE_berth-desktop");
    std::fs::read_dir("/proc")
        .ok()?
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .find(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline"))
                .is_ok_and(|c| c.split(|b| *b == 0).next() == Some(exe.as_bytes()))
        })
}
