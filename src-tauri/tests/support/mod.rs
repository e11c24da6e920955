//! What the desktop's end-to-end tests share: a session of their own (a D-Bus session bus and an
//! X server, Xvfb) and the environment the app runs in inside it (its own HOME, English locale,
//! the test's engine). Each test file uses the parts it needs.
#![allow(dead_code)]

pub mod ui;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use berth_tests::spawn_tied;

/// Kills and reaps the test's processes on drop, last started first; a process started as the
/// leader of its own group (`process_group(0)`) takes its whole group with it, so what it
/// launched (WebKitWebDriver, the app, WebKit's helpers) goes too.
#[derive(Default)]
pub struct Procs(pub Vec<(Child, bool)>);

impl Procs {
    pub fn push(&mut self, c: Child) {
        self.0.push((c, false));
    }

    /// `c` leads a process group of its own.
    pub fn push_group(&mut self, c: Child) {
        self.0.push((c, true));
    }
}

impl Drop for Procs {
    fn drop(&mut self) {
        for (c, group) in self.0.iter_mut().rev() {
            if *group {
                if let Ok(pid) = i32::try_from(c.id()) {
                    let _ = nix::sys::signal::killpg(
                        nix::unistd::Pid::from_raw(pid),
                        nix::sys::signal::Signal::SIGKILL,
                    );
                }
            }
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// Polls `probe` every 100 ms until it gives a value, sleeping with tokio: a test whose engine
/// host runs on the test's own runtime (the VM's port forwarder, the supervisor) must not block
/// a worker, or a task parked in that worker's LIFO slot never runs. Panics after `limit` with
/// what the last probe saw.
pub async fn wait_until_async<T>(
    what: &str,
    limit: Duration,
    mut probe: impl FnMut() -> Result<T, String>,
) -> T {
    let deadline = Instant::now() + limit;
    loop {
        match probe() {
            Ok(v) => return v,
            Err(seen) if Instant::now() >= deadline => {
                panic!("{what}: not after {limit:?} (last seen: {seen})")
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
}

/// Polls `f` every 100 ms until it holds; panics after `limit`.
pub fn wait_for(what: &str, limit: Duration, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// An X display number nobody uses (no socket, no lock file).
pub fn free_display() -> u32 {
    let base = 300 + std::process::id() % 400;
    (base..base + 200)
        .find(|n| {
            !Path::new(&format!("/tmp/.X11-unix/X{n}")).exists()
                && !Path::new(&format!("/tmp/.X{n}-lock")).exists()
        })
        .expect("a free X display")
}

/// A desktop session of the test's own: session bus, X server and a home directory.
pub struct Session {
    pub dir: PathBuf,
    pub bus_addr: String,
    pub display: u32,
    pub procs: Procs,
}

impl Session {
    /// Starts `dbus-daemon --session` and `Xvfb` (1280×800) with their files under `dir`.
    pub fn start(dir: &Path) -> Session {
        std::fs::create_dir_all(dir.join("home")).expect("mkdir home");
        let mut procs = Procs::default();
        let bus_path = dir.join("bus");
        let bus_addr = format!("unix:path={}", bus_path.display());
        let mut cmd = Command::new("dbus-daemon");
        cmd.args(["--session", "--nofork", "--nopidfile"])
            .arg(format!("--address={bus_addr}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        procs.push(spawn_tied(cmd).expect("dbus-daemon"));
        wait_for("the session bus", Duration::from_secs(10), || {
            bus_path.exists()
        });
        let display = free_display();
        let mut cmd = Command::new("Xvfb");
        cmd.arg(format!(":{display}"))
            .args(["-screen", "0", "1280x800x24", "-nolisten", "tcp"])
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        procs.push(spawn_tied(cmd).expect("Xvfb"));
        wait_for("Xvfb", Duration::from_secs(10), || {
            Path::new(&format!("/tmp/.X11-unix/X{display}")).exists()
        });
        Session {
            dir: dir.to_path_buf(),
            bus_addr,
            display,
            procs,
        }
    }

    /// The environment of an app (or of the driver that launches it) in this session, talking to
    /// the engine at `berth_host`, in English, with settings under the session's home.
    pub fn app_env(&self, cmd: &mut Command, berth_host: &str) {
        let home = self.dir.join("home");
        cmd.env("BERTH_HOST", berth_host)
            .env("DISPLAY", format!(":{}", self.display))
            .env("DBUS_SESSION_BUS_ADDRESS", &self.bus_addr)
            .env("HOME", &home)
            .env("XDG_CONFIG_HOME", home.join(".config"))
            .env("XDG_DATA_HOME", home.join(".local/share"))
            .env("XDG_CACHE_HOME", home.join(".cache"))
            .env("LANG", "en_US.UTF-8")
            .env_remove("LC_ALL")
            .env_remove("LC_MESSAGES")
            .env_remove("DOCKER_HOST")
            // No guest image: switching the engine into the VM shows what is missing and boots
            // nothing (the VM itself is driven by tests/vm_commands.rs).
            .env("BERTH_VM_GUEST", self.dir.join("no-vm-guest"))
            .env("RUST_LOG", "info");
    }
}
