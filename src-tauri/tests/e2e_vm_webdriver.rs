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

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use berth_tests::{
    berthd_bin, cleanup_dir, docker_bin, free_port, make_temp_dir, spawn_tied, workspace_root,
};
use fantoccini::{Client, ClientBuilder, Locator};
use support::{wait_for, Session};

mod support;

/// Booting under TCG takes 15–40 s; the first boot also formats the disk and loads the
/// welcome image.
const BOOT_LIMIT: Duration = Duration::from_secs(300);

struct Ui {
    c: Client,
    log: PathBuf,
}

impl Ui {
    async fn shot(&self, name: &str) {
        // Let the last change reach the screen (WebKitGTK without animation frames unexposed).
        tokio::time::sleep(Duration::from_millis(150)).await;
        let dir = workspace_root().join("tests/artifacts/desktop");
        let _ = std::fs::create_dir_all(&dir);
        match self.c.screenshot().await {
            Ok(png) => {
                let _ = std::fs::write(dir.join(format!("{name}.png")), png);
            }
            Err(e) => eprintln!("screenshot {name}: {e}"),
        }
    }

    async fn fail(&self, what: &str) -> ! {
        self.shot("vm-failure").await;
        let log = std::fs::read_to_string(&self.log).unwrap_or_default();
        let tail: Vec<&str> = log.lines().rev().take(60).collect();
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        panic!("{what}\n--- app log (tail) ---\n{}", tail.join("\n"));
    }

    async fn click(&self, css: &str) {
        let found = self
            .c
            .wait()
            .at_most(Duration::from_secs(30))
            .for_element(Locator::Css(css))
            .await;
        match found {
            Ok(e) => {
                if let Err(err) = e.click().await {
                    self.fail(&format!("click {css}: {err}")).await;
                }
            }
            Err(e) => self.fail(&format!("no element {css}: {e}")).await,
        }
    }

    async fn text(&self, css: &str) -> String {
        match self.c.find(Locator::Css(css)).await {
            Ok(e) => e.text().await.unwrap_or_default(),
            Err(_) => String::new(),
        }
    }

    async fn wait_text(&self, css: &str, limit: Duration, ok: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + limit;
        loop {
            let t = self.text(css).await;
            if ok(&t) {
                return t;
            }
            if Instant::now() > deadline {
                self.fail(&format!("text of {css} never matched; last: {t:?}"))
                    .await;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

/// A binary cargo built beside this test (`target/<profile>/NAME`).
fn sibling_bin(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("test exe");
    let profile = exe
        .parent()
        .and_then(Path::parent)
        .expect("target/<profile>/deps/<test>");
    profile.join(name)
}

fn guest_image() -> PathBuf {
    let script = workspace_root().join("scripts/vm-guest.sh");
    let out = Command::new(&script)
        .arg(berthd_bin())
        .arg(sibling_bin("berth-vm-agent"))
        .stderr(Stdio::inherit())
        .output()
        .unwrap_or_else(|e| panic!("run {}: {e}", script.display()));
    assert!(out.status.success(), "{} failed", script.display());
    PathBuf::from(String::from_utf8_lossy(&out.stdout).trim())
}

fn tauri_driver_bin() -> PathBuf {
    let mut dirs: Vec<PathBuf> = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect())
        .unwrap_or_default();
    if let Some(home) = std::env::var_os("HOME") {
        dirs.push(PathBuf::from(home).join(".cargo/bin"));
    }
    dirs.into_iter()
        .map(|d| d.join("tauri-driver"))
        .find(|p| p.is_file())
        .expect("tauri-driver not found: `cargo install tauri-driver --locked`")
}

fn http_get(port: u16) -> Option<String> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(20))).ok()?;
    s.write_all(b"GET / HTTP/1.0\r\nHost: localhost\r\n\r\n")
        .ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).ok()?;
    out.contains(" 200 ").then_some(out)
}

/// Processes whose command line names `dir` (QEMU).
fn processes_naming(dir: &Path) -> Vec<String> {
    let needle = dir.to_string_lossy();
    let mut found = Vec::new();
    for e in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(cmdline) = std::fs::read(e.path().join("cmdline")) else {
            continue;
        };
        let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
        if cmdline.contains(needle.as_ref()) {
            found.push(format!("{}: {cmdline}", e.file_name().to_string_lossy()));
        }
    }
    found
}

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
    let ui = Ui { c, log };

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
    if let Err(e) =
        ui.c.execute(
            "document.querySelector('[data-testid=vm-ports]').scrollIntoView()",
            vec![],
        )
        .await
    {
        ui.fail(&format!("scroll to the VM's ports: {e}")).await;
    }
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
