//! The engine under test: one `berthd` per test on its own temp data root and socket.

use std::fmt;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::http::unix_http_request;
use crate::process::{cleanup_dir, signal, spawn_tied, terminate};

/// Generous: under the cgroup v2 test VM's software emulation a first start takes ~25 s.
const READY_TIMEOUT: Duration = Duration::from_secs(90);
const STOP_GRACE: Duration = Duration::from_secs(10);
const DEFAULT_DOCKER_TIMEOUT_SECS: u64 = 120;

/// What a docker CLI invocation did.
#[derive(Debug, Clone)]
pub struct Output {
    /// Exit code; 128+N when killed by signal N; -1 when the harness timed it out.
    pub status: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Output {
    pub fn success(&self) -> bool {
        self.status == 0
    }
}

impl fmt::Display for Output {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "exit status {}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.status, self.stdout, self.stderr
        )
    }
}

/// A running `berthd --data-root <tmp>/root -H unix://<tmp>/docker.sock`, logging to
/// `<tmp>/berthd.log`. Drop stops it (SIGTERM, then SIGKILL after 10 s), kills any process left
/// under the temp dir (monitors, containers), unmounts everything below it and removes it.
pub struct Berthd {
    dir: PathBuf,
    bin: PathBuf,
    extra_args: Vec<String>,
    child: Option<Child>,
    net: crate::netenv::NetIdentity,
}

impl Berthd {
    /// Starts the engine and waits until `GET /_ping` answers `OK`; panics with the log otherwise.
    pub fn start() -> Berthd {
        Self::start_with_args(&[])
    }

    /// Like [`Berthd::start`], with extra daemon flags (kept for [`Berthd::restart`]).
    pub fn start_with_args(extra_args: &[&str]) -> Berthd {
        Self::start_prepared(extra_args, |_| {})
    }

    /// Like [`Berthd::start_with_args`], with the data root on a tmpfs of `size` (e.g. `64m`):
    /// an engine whose disk can be filled. Drop unmounts it with the rest.
    pub fn start_with_small_root(size: &str, extra_args: &[&str]) -> Berthd {
        Self::start_prepared(extra_args, |root| {
            std::fs::create_dir_all(root).expect("create data root");
            let st = Command::new("mount")
                .args(["-t", "tmpfs", "-o", &format!("size={size},mode=0710")])
                .arg("berth-test-root")
                .arg(root)
                .status()
                .expect("run mount");
            assert!(st.success(), "mount a tmpfs on {}", root.display());
        })
    }

    /// Starts the engine after `prepare` has been given its data root.
    fn start_prepared(extra_args: &[&str], prepare: impl FnOnce(&Path)) -> Berthd {
        let dir = crate::make_temp_dir("berth-e2e-");
        let net = crate::netenv::NetIdentity::new();
        let mut args: Vec<String> = extra_args.iter().map(|s| s.to_string()).collect();
        // A test's own networking flags win; the rest come from this engine's identity.
        let mut ours = net.args().into_iter();
        while let (Some(flag), Some(value)) = (ours.next(), ours.next()) {
            let given = args
                .iter()
                .any(|a| *a == flag || a.starts_with(&format!("{flag}=")));
            let short_bridge = flag == "--bridge" && args.iter().any(|a| a == "-b");
            if !given && !short_bridge {
                args.push(flag);
                args.push(value);
            }
        }
        // The built-in welcome image would be in every `docker images`; tests that want it ask.
        if !args.iter().any(|a| a.starts_with("--welcome-image")) {
            args.push("--welcome-image=false".into());
        }
        let mut berthd = Berthd {
            bin: berthd_bin(),
            extra_args: args,
            child: None,
            dir,
            net,
        };
        std::fs::create_dir_all(berthd.docker_config_dir()).expect("create docker config dir");
        prepare(&berthd.data_root());
        berthd.launch();
        berthd
    }

    fn launch(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log_path())
            .expect("open berthd.log");
        let mut cmd = Command::new(&self.bin);
        cmd.arg("--data-root")
            .arg(self.data_root())
            .arg("-H")
            .arg(self.host())
            .args(&self.extra_args)
            .current_dir(&self.dir)
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("dup log"))
            .stderr(log);
        let child = spawn_tied(cmd).unwrap_or_else(|e| panic!("start {}: {e}", self.bin.display()));
        // Stored before waiting so a failed start is still cleaned up by Drop.
        self.child = Some(child);
        self.wait_ready();
    }

    fn wait_ready(&mut self) {
        let deadline = Instant::now() + READY_TIMEOUT;
        let socket = self.socket_path();
        loop {
            if let Some(Ok(Some(status))) = self.child.as_mut().map(Child::try_wait) {
                self.child = None;
                panic!(
                    "berthd exited with {status} before it was ready\n--- berthd.log ---\n{}",
                    self.log()
                );
            }
            if let Ok(r) = unix_http_request(&socket, "GET", "/_ping", &[], b"") {
                if r.status == 200 && r.text() == "OK" {
                    return;
                }
            }
            if Instant::now() > deadline {
                panic!(
                    "berthd did not answer GET /_ping with OK on {} within {READY_TIMEOUT:?}\n\
                     --- berthd.log ---\n{}",
                    socket.display(),
                    self.log()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// SIGKILL the engine (containers and their monitors keep running), for crash tests.
    pub fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            signal(child.id(), libc::SIGKILL);
            let _ = child.wait();
        }
    }

    /// Stops the engine gracefully (SIGTERM, SIGKILL after 10 s) without touching its state.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            terminate(&mut child, STOP_GRACE);
        }
    }

    /// Stops the engine if it runs, then starts it again on the same data root, socket and flags,
    /// and waits until it is ready.
    pub fn restart(&mut self) {
        self.stop();
        self.launch();
    }

    /// This engine's networking flags (bridge name, subnets).
    pub fn net(&self) -> &crate::netenv::NetIdentity {
        &self.net
    }

    /// Every bridge this engine made: the default one and those of its networks.
    pub fn bridges(&self) -> Vec<String> {
        let mut b = crate::netenv::recorded_bridges(&self.data_root());
        if !b.contains(&self.net.bridge) {
            b.push(self.net.bridge.clone());
        }
        b
    }

    /// The nftables table holding this engine's rules.
    pub fn nft_table(&self) -> String {
        crate::netenv::nft_table(&self.data_root())
    }

    /// The engine's pid while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// The temp dir owning everything of this engine.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn socket_path(&self) -> PathBuf {
        self.dir.join("docker.sock")
    }

    /// `unix:///…/docker.sock`, the value for `DOCKER_HOST`.
    pub fn host(&self) -> String {
        format!("unix://{}", self.socket_path().display())
    }

    pub fn data_root(&self) -> PathBuf {
        self.dir.join("root")
    }

    /// The `DOCKER_CONFIG` dir the CLI runs with (so tests never touch `~/.docker`).
    pub fn docker_config_dir(&self) -> PathBuf {
        self.dir.join("docker-config")
    }

    fn log_path(&self) -> PathBuf {
        self.dir.join("berthd.log")
    }

    /// Everything the engine wrote to stdout/stderr so far (across restarts).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.log_path()).unwrap_or_default()
    }

    /// A docker CLI command aimed at this engine (`DOCKER_HOST`, `DOCKER_CONFIG` set; other
    /// `DOCKER_*` variables removed), for tests that need pipes or background clients.
    pub fn docker_command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(docker_bin());
        for (key, _) in std::env::vars_os() {
            if key.to_string_lossy().starts_with("DOCKER_") {
                cmd.env_remove(key);
            }
        }
        cmd.args(args)
            .env("DOCKER_HOST", self.host())
            .env("DOCKER_CONFIG", self.docker_config_dir())
            .env("DOCKER_CLI_HINTS", "false")
            .current_dir(&self.dir);
        cmd
    }

    /// Runs `docker ARGS` with stdin null.
    pub fn docker(&self, args: &[&str]) -> Output {
        self.run_docker(args, None)
    }

    /// Runs `docker ARGS` with `input` on stdin (then EOF).
    pub fn docker_with_stdin(&self, args: &[&str], input: impl AsRef<[u8]>) -> Output {
        self.run_docker(args, Some(input.as_ref().to_vec()))
    }

    /// `docker inspect -f FORMAT TARGET`, trimmed (panics like [`Self::docker_ok`]).
    pub fn inspect_format(&self, target: &str, format: &str) -> String {
        self.docker_ok(&["inspect", "-f", format, target])
            .trim()
            .to_string()
    }

    /// `docker run --rm FLAGS IMG sh -c SCRIPT`, whatever the status (tests that look at a
    /// container from inside it).
    pub fn run_sh(&self, img: &str, flags: &[&str], script: &str) -> Output {
        let mut args = vec!["run", "--rm"];
        args.extend_from_slice(flags);
        args.extend_from_slice(&[img, "sh", "-c", script]);
        self.docker(&args)
    }

    /// [`Berthd::run_sh`] that must succeed; its stdout, trimmed.
    pub fn run_sh_ok(&self, img: &str, flags: &[&str], script: &str) -> String {
        let out = self.run_sh(img, flags, script);
        assert!(out.success(), "{flags:?} {script}: {out}");
        out.stdout.trim().to_string()
    }

    /// Runs `docker ARGS`; returns stdout, or panics with the full output (and the engine log's
    /// tail) if it fails.
    pub fn docker_ok(&self, args: &[&str]) -> String {
        let out = self.docker(args);
        if !out.success() {
            panic!(
                "docker {} failed: {out}\n--- berthd.log (tail) ---\n{}",
                args.join(" "),
                tail(&self.log(), 60)
            );
        }
        out.stdout
    }

    fn run_docker(&self, args: &[&str], input: Option<Vec<u8>>) -> Output {
        let timeout = Duration::from_secs(
            std::env::var("BERTH_DOCKER_TIMEOUT_SECS")
                .ok()
                .and_then(|v| v.parse().ok())
                .unwrap_or(DEFAULT_DOCKER_TIMEOUT_SECS),
        );
        let mut cmd = self.docker_command(args);
        cmd.stdin(if input.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
        let mut child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("run {}: {e}", docker_bin().display()));
        let writer = input.map(|data| {
            let mut stdin = child.stdin.take().expect("piped stdin");
            std::thread::spawn(move || {
                let _ = stdin.write_all(&data);
            })
        });
        let readers = [
            read_all(child.stdout.take().expect("piped stdout")),
            read_all(child.stderr.take().expect("piped stderr")),
        ];
        let deadline = Instant::now() + timeout;
        let mut timed_out = false;
        let status = loop {
            match child.try_wait().expect("wait for docker") {
                Some(status) => break status,
                None if Instant::now() > deadline => {
                    timed_out = true;
                    let _ = child.kill();
                    break child.wait().expect("wait for docker");
                }
                None => std::thread::sleep(Duration::from_millis(10)),
            }
        };
        if let Some(writer) = writer {
            let _ = writer.join();
        }
        let [stdout, stderr] = readers.map(|r| r.join().unwrap_or_default());
        let mut stderr = String::from_utf8_lossy(&stderr).into_owned();
        let code = if timed_out {
            stderr.push_str(&format!(
                "\n[harness] docker {} timed out after {timeout:?}",
                args.join(" ")
            ));
            -1
        } else {
            use std::os::unix::process::ExitStatusExt;
            status
                .code()
                .unwrap_or_else(|| 128 + status.signal().unwrap_or(0))
        };
        Output {
            status: code,
            stdout: String::from_utf8_lossy(&stdout).into_owned(),
            stderr,
        }
    }

    /// A bollard client on this engine's socket (API version = bollard's default).
    pub fn bollard(&self) -> bollard::Docker {
        bollard::Docker::connect_with_unix(
            self.socket_path().to_str().expect("utf-8 socket path"),
            120,
            bollard::API_DEFAULT_VERSION,
        )
        .expect("connect bollard to the berthd socket")
    }
}

impl Drop for Berthd {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!(
                "--- berthd.log of the failed test ({}) ---\n{}",
                self.dir.display(),
                tail(&self.log(), 200)
            );
        }
        let bridges = self.bridges();
        let table = self.nft_table();
        self.stop();
        cleanup_dir(&self.dir);
        crate::netenv::cleanup(&bridges, &table);
    }
}

fn read_all(mut r: impl Read + Send + 'static) -> std::thread::JoinHandle<Vec<u8>> {
    std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = r.read_to_end(&mut buf);
        buf
    })
}

fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// The docker CLI: `DOCKER_BIN`, else `docker` on PATH.
pub fn docker_bin() -> PathBuf {
    std::env::var_os("DOCKER_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("docker"))
}

/// The engine binary: `BERTHD_BIN`; else `berthd` in the profile dir of the running test binary
/// (`target/<profile>/deps/<test>` → `target/<profile>/berthd`); else
/// `$CARGO_TARGET_DIR|<workspace>/target/{debug,release}/berthd`. Build it first with
/// `cargo build -j2 --workspace --bins`.
pub fn berthd_bin() -> PathBuf {
    if let Some(bin) = std::env::var_os("BERTHD_BIN") {
        return PathBuf::from(bin);
    }
    let mut candidates = Vec::new();
    if let Some(profile_dir) = std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent()?.parent().map(Path::to_path_buf))
    {
        candidates.push(profile_dir.join("berthd"));
    }
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| crate::workspace_root().join("target"));
    candidates.push(target.join("debug/berthd"));
    candidates.push(target.join("release/berthd"));
    candidates
        .iter()
        .find(|c| c.is_file())
        .cloned()
        .unwrap_or_else(|| {
            panic!(
                "berthd not found (looked at {candidates:?}); build it with \
                 `cargo build -j2 --workspace --bins` or set BERTHD_BIN"
            )
        })
}
