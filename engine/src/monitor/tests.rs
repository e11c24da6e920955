//! End-to-end tests of the monitor against the real OCI runtime (runc), as root.
//!
//! The monitor reaps every child of its process, so it cannot run inside the (multi-threaded,
//! parallel) test process: each test re-executes this test binary to run only
//! `monitor_child_entry`, which calls `run_monitor` when `BERTH_MONITOR_TEST_CONFIG` is set, with
//! a socketpair end on fd 3 exactly as berthd passes it.

use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bytes::Bytes;
use serde_json::json;
use tokio::net::UnixStream;

use super::logfile::{read_log, Stream};
use super::protocol::{read_frame, write_frame, Frame};
use super::{run_monitor, ExecProcess, ExitRecord, MonitorConfig};

const CHILD_ENV: &str = "BERTH_MONITOR_TEST_CONFIG";
const CHILD_TEST: &str = "monitor::tests::monitor_child_entry";
const FRAME_TIMEOUT: Duration = Duration::from_secs(30);

/// Not a test of its own: the body of the monitor process the other tests start.
#[test]
fn monitor_child_entry() {
    if let Ok(p) = std::env::var(CHILD_ENV) {
        run_monitor(Path::new(&p));
    }
}

fn find_runc() -> Option<PathBuf> {
    let path = std::env::var("PATH").unwrap_or_default();
    let found = path
        .split(':')
        .chain(["/usr/sbin", "/usr/local/sbin", "/sbin", "/usr/bin"])
        .map(|d| Path::new(d).join("runc"))
        .find(|p| p.is_file());
    found
}

/// The real runtime, or None (test skipped) when not root or runc is missing.
fn runtime() -> Option<PathBuf> {
    // SAFETY: geteuid(2) has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("skipping: monitor tests need root");
        return None;
    }
    let r = find_runc();
    if r.is_none() {
        eprintln!("skipping: runc not found");
    }
    r
}

fn unique_id(name: &str) -> String {
    static N: AtomicUsize = AtomicUsize::new(0);
    format!(
        "bmt-{name}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

fn oci_process(args: &[&str], tty: bool) -> serde_json::Value {
    let caps = json!([
        "CAP_CHOWN",
        "CAP_DAC_OVERRIDE",
        "CAP_FOWNER",
        "CAP_KILL",
        "CAP_SETGID",
        "CAP_SETUID"
    ]);
    json!({
        "terminal": tty,
        "user": {"uid": 0, "gid": 0},
        "args": args,
        "env": ["PATH=/bin", "TERM=xterm"],
        "cwd": "/",
        "capabilities": {"bounding": caps, "effective": caps, "permitted": caps},
        "noNewPrivileges": true
    })
}

fn oci_config(id: &str, args: &[&str], tty: bool, memory_limit: Option<u64>) -> serde_json::Value {
    let mut resources = json!({"devices": [{"allow": false, "access": "rwm"}]});
    if let Some(limit) = memory_limit {
        resources["memory"] = json!({"limit": limit});
    }
    json!({
        "ociVersion": "1.0.2",
        "process": oci_process(args, tty),
        "root": {"path": "rootfs", "readonly": false},
        "hostname": "monitor-test",
        "mounts": [
            {"destination": "/proc", "type": "proc", "source": "proc"},
            {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
             "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
            {"destination": "/dev/pts", "type": "devpts", "source": "devpts",
             "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]},
            {"destination": "/dev/shm", "type": "tmpfs", "source": "shm",
             "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]}
        ],
        "linux": {
            // A top-level cgroup, so `runtime delete` leaves no parent directory behind.
            "cgroupsPath": format!("/{id}"),
            "resources": resources,
            "namespaces": [{"type": "pid"}, {"type": "network"}, {"type": "ipc"},
                           {"type": "uts"}, {"type": "mount"}],
            "maskedPaths": ["/proc/kcore", "/proc/keys", "/proc/timer_list", "/sys/firmware"],
            "readonlyPaths": ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"]
        }
    })
}

fn is_mounted(p: &Path) -> bool {
    let info = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let p = p.to_string_lossy();
    info.lines()
        .any(|l| l.split(' ').nth(4) == Some(p.as_ref()))
}

struct Opts<'a> {
    args: &'a [&'a str],
    tty: bool,
    open_stdin: bool,
    /// Mount a tmpfs as the rootfs and let the monitor unmount it.
    tmpfs_rootfs: bool,
    memory_limit: Option<u64>,
}

impl Default for Opts<'_> {
    fn default() -> Self {
        Opts {
            args: &["true"],
            tty: false,
            open_stdin: false,
            tmpfs_rootfs: false,
            memory_limit: None,
        }
    }
}

/// One container: bundle, runtime root and files in a tempdir, and its monitor process.
struct Harness {
    dir: tempfile::TempDir,
    cfg: MonitorConfig,
    child: Option<std::process::Child>,
}

impl Harness {
    fn new(name: &str, o: Opts) -> Option<Harness> {
        let runtime = runtime()?;
        let id = unique_id(name);
        let dir = tempfile::tempdir().unwrap();
        let bundle = dir.path().join("bundle");
        let rootfs = bundle.join("rootfs");
        std::fs::create_dir_all(&rootfs).unwrap();
        if o.tmpfs_rootfs {
            nix::mount::mount(
                Some("tmpfs"),
                &rootfs,
                Some("tmpfs"),
                nix::mount::MsFlags::empty(),
                Some("size=16m"),
            )
            .unwrap();
        }
        for d in ["bin", "proc", "dev", "sys", "tmp", "etc"] {
            std::fs::create_dir_all(rootfs.join(d)).unwrap();
        }
        std::fs::copy("/bin/busybox", rootfs.join("bin/busybox")).unwrap();
        for applet in [
            "sh", "cat", "echo", "tty", "stty", "sleep", "true", "printf", "tail", "seq",
        ] {
            std::os::unix::fs::symlink("busybox", rootfs.join("bin").join(applet)).unwrap();
        }
        let config = oci_config(&id, o.args, o.tty, o.memory_limit);
        std::fs::write(bundle.join("config.json"), config.to_string()).unwrap();
        let cfg = MonitorConfig {
            runtime,
            runtime_root: Some(dir.path().join("state")),
            id,
            bundle,
            tty: o.tty,
            open_stdin: o.open_stdin,
            log_path: Some(dir.path().join("container-json.log")),
            log_rotation: Default::default(),
            exit_path: dir.path().join("exit.json"),
            socket_path: dir.path().join("monitor.sock"),
            pid_path: dir.path().join("init.pid"),
            exec: None,
            unmount_on_exit: o.tmpfs_rootfs.then_some(rootfs),
        };
        Some(Harness {
            dir,
            cfg,
            child: None,
        })
    }

    /// An exec of `args` in this harness's (running) container, as its own harness.
    fn exec(&self, args: &[&str], tty: bool) -> Harness {
        let dir = tempfile::tempdir().unwrap();
        let process_json = dir.path().join("process.json");
        std::fs::write(&process_json, oci_process(args, tty).to_string()).unwrap();
        let cfg = MonitorConfig {
            log_path: None,
            exit_path: dir.path().join("exit.json"),
            socket_path: dir.path().join("exec.sock"),
            pid_path: dir.path().join("exec.pid"),
            exec: Some(ExecProcess { process_json }),
            unmount_on_exit: None,
            tty,
            open_stdin: tty,
            ..self.cfg.clone()
        };
        Harness {
            dir,
            cfg,
            child: None,
        }
    }

    /// Starts the monitor process; returns berthd's end of the control socket.
    fn spawn(&mut self) -> UnixStream {
        let config_path = self.dir.path().join("monitor.json");
        std::fs::write(&config_path, serde_json::to_vec(&self.cfg).unwrap()).unwrap();
        let (ours, theirs) = std::os::unix::net::UnixStream::pair().unwrap();
        let theirs: OwnedFd = theirs.into();
        let fd = theirs.as_raw_fd();
        let stderr = std::fs::File::create(self.dir.path().join("monitor.stderr")).unwrap();
        let mut cmd = Command::new(std::env::current_exe().unwrap());
        cmd.args([CHILD_TEST, "--exact", "--test-threads=1", "--nocapture"])
            .env(CHILD_ENV, &config_path)
            .env("RUST_LOG", "debug")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr);
        // SAFETY: only async-signal-safe calls between fork and exec, as berthd does.
        unsafe {
            cmd.pre_exec(move || {
                libc::setsid();
                if fd == 3 {
                    libc::fcntl(3, libc::F_SETFD, 0);
                } else if libc::dup2(fd, 3) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        self.child = Some(cmd.spawn().unwrap());
        drop(theirs);
        ours.set_nonblocking(true).unwrap();
        UnixStream::from_std(ours).unwrap()
    }

    /// Waits for the monitor process to exit; asserts it exited 0.
    async fn wait_monitor(&mut self) {
        let mut child = self.child.take().expect("monitor spawned");
        let status = tokio::task::spawn_blocking(move || child.wait())
            .await
            .unwrap()
            .unwrap();
        assert!(
            status.success(),
            "monitor exited with {status}; {}",
            self.diagnostics()
        );
    }

    fn diagnostics(&self) -> String {
        let read = |p: PathBuf| std::fs::read_to_string(p).unwrap_or_default();
        format!(
            "monitor.log:\n{}\nstderr:\n{}",
            read(self.cfg.bundle.join("monitor.log")),
            read(self.dir.path().join("monitor.stderr"))
        )
    }

    fn exit_record(&self) -> ExitRecord {
        ExitRecord::read(&self.cfg.exit_path).unwrap()
    }

    fn runc(&self) -> Command {
        let mut c = Command::new(&self.cfg.runtime);
        if let Some(r) = &self.cfg.runtime_root {
            c.arg("--root").arg(r);
        }
        c.stdout(Stdio::null()).stderr(Stdio::null());
        c
    }

    /// What every test checks after the monitor exited: nothing is left behind.
    fn assert_cleaned_up(&self, pid: Option<i32>) {
        if self.cfg.exec.is_none() {
            let st = self.runc().args(["state", &self.cfg.id]).status().unwrap();
            assert!(!st.success(), "runtime still knows {}", self.cfg.id);
        }
        assert!(!self.cfg.socket_path.exists(), "monitor socket left behind");
        if let Some(m) = &self.cfg.unmount_on_exit {
            assert!(!is_mounted(m), "rootfs still mounted");
        }
        if let Some(pid) = pid {
            // SAFETY: kill(2) with signal 0 only probes.
            let alive = unsafe { libc::kill(pid, 0) } == 0;
            assert!(!alive, "container process {pid} still exists");
        }
    }
}

impl Drop for Harness {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        if self.cfg.exec.is_none() {
            let _ = self.runc().args(["delete", "-f", &self.cfg.id]).status();
        }
        if let Some(m) = &self.cfg.unmount_on_exit {
            let _ = nix::mount::umount2(m, nix::mount::MntFlags::MNT_DETACH);
        }
    }
}

async fn next(s: &mut UnixStream) -> Option<Frame> {
    tokio::time::timeout(FRAME_TIMEOUT, read_frame(s))
        .await
        .expect("timed out waiting for a frame")
        .expect("reading a frame")
}

async fn expect_started(s: &mut UnixStream) -> i32 {
    match next(s).await {
        Some(Frame::Started { pid }) => {
            assert!(pid > 0);
            pid
        }
        other => panic!("expected Started, got {other:?}"),
    }
}

/// Output until `Exited`, which must be followed by the end of the stream.
#[derive(Default, Debug)]
struct Transcript {
    stdout: Vec<u8>,
    stderr: Vec<u8>,
}

async fn until_exit(s: &mut UnixStream, t: &mut Transcript) -> i32 {
    loop {
        match next(s).await {
            Some(Frame::Stdout(b)) => t.stdout.extend_from_slice(&b),
            Some(Frame::Stderr(b)) => t.stderr.extend_from_slice(&b),
            Some(Frame::Exited { code }) => {
                assert_eq!(next(s).await, None, "nothing after Exited");
                return code;
            }
            other => panic!("unexpected frame {other:?}"),
        }
    }
}

/// Reads stdout frames until the accumulated output contains `want`.
async fn until_output(s: &mut UnixStream, t: &mut Transcript, want: &str) {
    while !String::from_utf8_lossy(&t.stdout).contains(want) {
        match next(s).await {
            Some(Frame::Stdout(b)) => t.stdout.extend_from_slice(&b),
            Some(Frame::Stderr(b)) => t.stderr.extend_from_slice(&b),
            other => panic!("waiting for {want:?} in {t:?}: got {other:?}"),
        }
    }
}

#[tokio::test]
async fn output_log_exit_code_and_cleanup() {
    let Some(mut h) = Harness::new(
        "out",
        Opts {
            args: &["sh", "-c", "echo out; echo err >&2; printf partial; exit 3"],
            tmpfs_rootfs: true,
            ..Opts::default()
        },
    ) else {
        return;
    };
    let mut s = h.spawn();
    let pid = expect_started(&mut s).await;
    let mut t = Transcript::default();
    let code = until_exit(&mut s, &mut t).await;
    assert_eq!(code, 3);
    assert_eq!(t.stdout, b"out\npartial");
    assert_eq!(t.stderr, b"err\n");
    h.wait_monitor().await;

    let rec = h.exit_record();
    assert_eq!(rec.exit_code, 3);
    assert_eq!(rec.error, None);
    assert!(!rec.oom_killed);
    assert!(chrono::DateTime::parse_from_rfc3339(&rec.finished_at).is_ok());
    assert_eq!(
        std::fs::read_to_string(&h.cfg.pid_path).unwrap(),
        pid.to_string()
    );
    let log = read_log(h.cfg.log_path.as_ref().unwrap(), None, None, None).unwrap();
    let of = |st: Stream| -> Vec<Vec<u8>> {
        log.iter()
            .filter(|e| e.stream == st)
            .map(|e| e.line.clone())
            .collect()
    };
    assert_eq!(
        of(Stream::Stdout),
        vec![b"out\n".to_vec(), b"partial".to_vec()]
    );
    assert_eq!(of(Stream::Stderr), vec![b"err\n".to_vec()]);
    h.assert_cleaned_up(Some(pid));
}

#[tokio::test]
async fn missing_executable_is_127_with_error_frame() {
    let Some(mut h) = Harness::new(
        "missing",
        Opts {
            args: &["/no/such/binary"],
            tmpfs_rootfs: true,
            ..Opts::default()
        },
    ) else {
        return;
    };
    let mut s = h.spawn();
    match next(&mut s).await {
        Some(Frame::Error(msg)) => assert!(msg.contains("no such file or directory"), "{msg}"),
        other => panic!("expected Error, got {other:?}"),
    }
    assert_eq!(next(&mut s).await, None);
    h.wait_monitor().await;
    let rec = h.exit_record();
    assert_eq!(rec.exit_code, 127);
    assert!(rec
        .error
        .as_deref()
        .unwrap_or_default()
        .contains("/no/such/binary"));
    assert!(!h.cfg.pid_path.exists());
    h.assert_cleaned_up(None);
}

#[tokio::test]
async fn non_executable_is_126() {
    let Some(mut h) = Harness::new(
        "noexec",
        Opts {
            args: &["/etc"],
            ..Opts::default()
        },
    ) else {
        return;
    };
    let mut s = h.spawn();
    match next(&mut s).await {
        Some(Frame::Error(msg)) => assert!(msg.contains("permission denied"), "{msg}"),
        other => panic!("expected Error, got {other:?}"),
    }
    assert_eq!(next(&mut s).await, None);
    h.wait_monitor().await;
    assert_eq!(h.exit_record().exit_code, 126);
    h.assert_cleaned_up(None);
}

#[tokio::test]
async fn stdin_is_relayed_and_closed() {
    let Some(mut h) = Harness::new(
        "stdin",
        Opts {
            args: &["cat"],
            open_stdin: true,
            ..Opts::default()
        },
    ) else {
        return;
    };
    let mut s = h.spawn();
    let pid = expect_started(&mut s).await;
    let mut t = Transcript::default();
    write_frame(&mut s, &Frame::Stdin(Bytes::from_static(b"hello\n")))
        .await
        .unwrap();
    until_output(&mut s, &mut t, "hello\n").await;
    write_frame(&mut s, &Frame::Stdin(Bytes::from_static(b"bye")))
        .await
        .unwrap();
    write_frame(&mut s, &Frame::StdinEof).await.unwrap();
    assert_eq!(until_exit(&mut s, &mut t).await, 0);
    assert_eq!(t.stdout, b"hello\nbye");
    h.wait_monitor().await;
    assert_eq!(h.exit_record().exit_code, 0);
    h.assert_cleaned_up(Some(pid));
}

#[tokio::test]
async fn tty_with_resize() {
    let Some(mut h) = Harness::new(
        "tty",
        Opts {
            args: &["sh", "-c", "tty; read x; stty size"],
            tty: true,
            open_stdin: true,
            ..Opts::default()
        },
    ) else {
        return;
    };
    let mut s = h.spawn();
    let pid = expect_started(&mut s).await;
    let mut t = Transcript::default();
    until_output(&mut s, &mut t, "/dev/pts/0").await;
    write_frame(
        &mut s,
        &Frame::Resize {
            height: 30,
            width: 100,
        },
    )
    .await
    .unwrap();
    write_frame(&mut s, &Frame::Stdin(Bytes::from_static(b"go\n")))
        .await
        .unwrap();
    assert_eq!(until_exit(&mut s, &mut t).await, 0, "{t:?}");
    let out = String::from_utf8_lossy(&t.stdout);
    assert!(out.contains("30 100"), "{out:?}");
    assert!(t.stderr.is_empty(), "a tty has one stream");
    h.wait_monitor().await;
    // The log holds the terminal's output (with its \r\n line ends), all as stdout.
    let log = read_log(h.cfg.log_path.as_ref().unwrap(), None, None, None).unwrap();
    assert!(log.iter().all(|e| e.stream == Stream::Stdout));
    assert_eq!(log[0].line, b"/dev/pts/0\r\n");
    h.assert_cleaned_up(Some(pid));
}

#[tokio::test]
async fn reconnecting_client_survives_berthd_and_kills() {
    let Some(mut h) = Harness::new(
        "reconnect",
        Opts {
            args: &["sh", "-c", "while :; do echo tick; sleep 0.05; done"],
            ..Opts::default()
        },
    ) else {
        return;
    };
    let mut first = h.spawn();
    let pid = expect_started(&mut first).await;
    let mut second = UnixStream::connect(&h.cfg.socket_path).await.unwrap();
    assert_eq!(next(&mut second).await, Some(Frame::Started { pid }));
    // berthd dies: the container keeps running and output keeps flowing to the other client.
    drop(first);
    let mut t = Transcript::default();
    until_output(&mut second, &mut t, "tick\ntick\ntick\n").await;
    // SAFETY: kill(2) with signal 0 only probes.
    assert_eq!(
        unsafe { libc::kill(pid, 0) },
        0,
        "container died with its client"
    );
    write_frame(
        &mut second,
        &Frame::Kill {
            signal: libc::SIGKILL,
        },
    )
    .await
    .unwrap();
    assert_eq!(until_exit(&mut second, &mut t).await, 128 + libc::SIGKILL);
    h.wait_monitor().await;
    assert_eq!(h.exit_record().exit_code, 137);
    h.assert_cleaned_up(Some(pid));
}

#[tokio::test]
async fn exec_in_running_container() {
    let Some(mut h) = Harness::new(
        "exec",
        Opts {
            args: &["sleep", "100"],
            ..Opts::default()
        },
    ) else {
        return;
    };
    let mut main = h.spawn();
    let pid = expect_started(&mut main).await;

    let mut e = h.exec(
        &["sh", "-c", "echo from-exec; echo oops >&2; exit 5"],
        false,
    );
    let mut es = e.spawn();
    let epid = expect_started(&mut es).await;
    assert_ne!(epid, pid);
    let mut t = Transcript::default();
    assert_eq!(until_exit(&mut es, &mut t).await, 5);
    assert_eq!(t.stdout, b"from-exec\n");
    assert_eq!(t.stderr, b"oops\n");
    e.wait_monitor().await;
    assert_eq!(e.exit_record().exit_code, 5);
    e.assert_cleaned_up(Some(epid));

    // An exec with a terminal: its own pty (the container has none), input and resize.
    let mut e = h.exec(&["sh", "-c", "tty; read x; stty size; exit 6"], true);
    let mut es = e.spawn();
    let epid = expect_started(&mut es).await;
    let mut t = Transcript::default();
    until_output(&mut es, &mut t, "/dev/pts/").await;
    write_frame(
        &mut es,
        &Frame::Resize {
            height: 12,
            width: 34,
        },
    )
    .await
    .unwrap();
    write_frame(&mut es, &Frame::Stdin(Bytes::from_static(b"x\n")))
        .await
        .unwrap();
    assert_eq!(until_exit(&mut es, &mut t).await, 6);
    assert!(
        String::from_utf8_lossy(&t.stdout).contains("12 34"),
        "{t:?}"
    );
    e.wait_monitor().await;
    e.assert_cleaned_up(Some(epid));

    // The exec's end left the container alone.
    // SAFETY: kill(2) with signal 0 only probes.
    assert_eq!(unsafe { libc::kill(pid, 0) }, 0);
    write_frame(
        &mut main,
        &Frame::Kill {
            signal: libc::SIGKILL,
        },
    )
    .await
    .unwrap();
    assert_eq!(until_exit(&mut main, &mut Transcript::default()).await, 137);
    h.wait_monitor().await;
    h.assert_cleaned_up(Some(pid));
}

#[tokio::test]
async fn oom_kill_is_recorded() {
    if !Path::new("/sys/fs/cgroup/memory").exists()
        && !Path::new("/sys/fs/cgroup/memory.max").exists()
    {
        eprintln!("skipping: no memory cgroup");
        return;
    }
    let Some(mut h) = Harness::new(
        "oom",
        Opts {
            // tail keeps the whole newline-free "line" in memory until the cgroup limit hits.
            args: &["tail", "/dev/zero"],
            memory_limit: Some(16 << 20),
            ..Opts::default()
        },
    ) else {
        return;
    };
    let mut s = h.spawn();
    let pid = expect_started(&mut s).await;
    assert_eq!(until_exit(&mut s, &mut Transcript::default()).await, 137);
    h.wait_monitor().await;
    let rec = h.exit_record();
    assert_eq!(rec.exit_code, 137);
    assert!(rec.oom_killed, "{rec:?}");
    h.assert_cleaned_up(Some(pid));
}

#[tokio::test]
async fn stray_holder_of_output_does_not_keep_monitor_alive() {
    let Some(mut h) = Harness::new(
        "stray",
        Opts {
            args: &["sleep", "100"],
            ..Opts::default()
        },
    ) else {
        return;
    };
    let mut main = h.spawn();
    let pid = expect_started(&mut main).await;
    // The background sleep keeps the exec's stdout open after the exec'd shell exited.
    let mut e = h.exec(&["sh", "-c", "sleep 30 & echo hi; exit 4"], false);
    let mut es = e.spawn();
    let epid = expect_started(&mut es).await;
    let t0 = std::time::Instant::now();
    let mut t = Transcript::default();
    assert_eq!(until_exit(&mut es, &mut t).await, 4);
    assert_eq!(t.stdout, b"hi\n");
    assert!(t0.elapsed() < Duration::from_secs(5), "{:?}", t0.elapsed());
    e.wait_monitor().await;
    e.assert_cleaned_up(Some(epid));
    write_frame(
        &mut main,
        &Frame::Kill {
            signal: libc::SIGKILL,
        },
    )
    .await
    .unwrap();
    assert_eq!(until_exit(&mut main, &mut Transcript::default()).await, 137);
    h.wait_monitor().await;
    h.assert_cleaned_up(Some(pid));
}

#[tokio::test]
async fn bulk_output_and_input_flow() {
    // Output: every line reaches the client and the log, in order.
    let Some(mut h) = Harness::new(
        "bulk-out",
        Opts {
            args: &["seq", "1", "100000"],
            ..Opts::default()
        },
    ) else {
        return;
    };
    let mut s = h.spawn();
    expect_started(&mut s).await;
    let mut t = Transcript::default();
    assert_eq!(until_exit(&mut s, &mut t).await, 0);
    let want: String = (1..=100000).map(|i| format!("{i}\n")).collect();
    assert!(
        t.stdout == want.as_bytes(),
        "stdout differs ({} bytes)",
        t.stdout.len()
    );
    h.wait_monitor().await;
    let log = read_log(h.cfg.log_path.as_ref().unwrap(), None, None, Some(2)).unwrap();
    assert_eq!(log.len(), 2);
    assert_eq!(log[1].line, b"100000\n");
    let all = read_log(h.cfg.log_path.as_ref().unwrap(), None, None, None).unwrap();
    assert_eq!(all.len(), 100000);

    // Input: 4 MiB through `cat` while its output is read back; a container that is slow to
    // read its stdin must not stall its output (or the monitor).
    let Some(mut h) = Harness::new(
        "bulk-in",
        Opts {
            args: &["cat"],
            open_stdin: true,
            ..Opts::default()
        },
    ) else {
        return;
    };
    let s = h.spawn();
    let (mut r, mut w) = s.into_split();
    match tokio::time::timeout(FRAME_TIMEOUT, read_frame(&mut r)).await {
        Ok(Ok(Some(Frame::Started { .. }))) => {}
        other => panic!("expected Started, got {other:?}"),
    }
    let chunk: Vec<u8> = (0..64 * 1024).map(|i| b'a' + (i % 26) as u8).collect();
    let writer = tokio::spawn(async move {
        for _ in 0..64 {
            write_frame(&mut w, &Frame::Stdin(Bytes::from(chunk.clone())))
                .await
                .unwrap();
        }
        write_frame(&mut w, &Frame::StdinEof).await.unwrap();
        w
    });
    let mut got = 0usize;
    let code = loop {
        match tokio::time::timeout(FRAME_TIMEOUT, read_frame(&mut r))
            .await
            .expect("timed out")
            .unwrap()
        {
            Some(Frame::Stdout(b)) => got += b.len(),
            Some(Frame::Exited { code }) => break code,
            other => panic!("unexpected {other:?}"),
        }
    };
    let _w = writer.await.unwrap();
    assert_eq!(code, 0);
    assert_eq!(got, 4 << 20);
    h.wait_monitor().await;
}

#[tokio::test]
async fn container_starts_with_default_signal_dispositions() {
    // The monitor ignores SIGPIPE; ignored signals survive exec, so this checks the container
    // does not inherit that (or a blocked mask).
    let Some(mut h) = Harness::new(
        "signals",
        Opts {
            args: &["cat", "/proc/self/status"],
            ..Opts::default()
        },
    ) else {
        return;
    };
    let mut s = h.spawn();
    expect_started(&mut s).await;
    let mut t = Transcript::default();
    assert_eq!(until_exit(&mut s, &mut t).await, 0);
    let status = String::from_utf8_lossy(&t.stdout);
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .map(|v| v.trim().to_string())
            .unwrap_or_default()
    };
    assert_eq!(field("SigIgn:"), "0000000000000000", "{status}");
    assert_eq!(field("SigBlk:"), "0000000000000000", "{status}");
    h.wait_monitor().await;
}
