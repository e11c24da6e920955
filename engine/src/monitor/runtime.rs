//! Talking to the OCI runtime binary (runc/crun command lines and their error log) and to the
//! kernel about the container (reaping, OOM kills).

use std::collections::HashMap;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use tokio::signal::unix::{signal, Signal, SignalKind};

use super::config::MonitorConfig;
use super::error::{IoContext, Result};

/// `RUNTIME [--root R] --log L --log-format json`, the common prefix of every invocation.
pub fn base_command(cfg: &MonitorConfig) -> Command {
    let mut cmd = Command::new(&cfg.runtime);
    if let Some(root) = &cfg.runtime_root {
        cmd.arg("--root").arg(root);
    }
    cmd.arg("--log")
        .arg(cfg.runtime_log())
        .args(["--log-format", "json"]);
    cmd
}

/// `run -d` (or `exec -d`) for the container, detached so the process ends up as our child.
pub fn start_command(cfg: &MonitorConfig, console_socket: Option<&Path>) -> Command {
    let mut cmd = base_command(cfg);
    match &cfg.exec {
        None => cmd.args(["run", "-d"]),
        Some(_) => cmd.args(["exec", "-d"]),
    };
    cmd.arg("--pid-file").arg(cfg.runtime_pid_file());
    if let Some(s) = console_socket {
        cmd.arg("--console-socket").arg(s);
    }
    match &cfg.exec {
        None => cmd.arg("--bundle").arg(&cfg.bundle),
        Some(e) => cmd.arg("--process").arg(&e.process_json),
    };
    cmd.arg(&cfg.id);
    // SAFETY: the hook only makes raw rt_sigaction syscalls, which are async-signal-safe.
    unsafe {
        cmd.pre_exec(|| {
            reset_signal_dispositions();
            Ok(())
        });
    }
    cmd
}

/// Sets every signal to its default action in a freshly forked child. Ignored signals survive
/// exec, through the runtime into the container: we ignore SIGPIPE, a shell may have started
/// berthd with SIGINT/SIGQUIT ignored, and glibc's posix_spawn leaves its internal signals (32,
/// 33) ignored in whatever it starts, so they are inherited from any such ancestor. The raw
/// syscall is needed because glibc's sigaction refuses to touch signals 32 and 33.
fn reset_signal_dispositions() {
    // The kernel's struct sigaction (handler, flags, restorer, mask) all zero: SIG_DFL.
    let default = [0u64; 4];
    for sig in 1..=64 {
        if sig == libc::SIGKILL || sig == libc::SIGSTOP {
            continue;
        }
        // SAFETY: rt_sigaction(2) with a valid kernel sigaction and no old-action pointer.
        unsafe {
            libc::syscall(
                libc::SYS_rt_sigaction,
                sig,
                default.as_ptr(),
                std::ptr::null_mut::<u64>(),
                8usize,
            );
        }
    }
}

/// `delete -f`, which also kills whatever is left in the container.
pub fn delete_command(cfg: &MonitorConfig) -> Command {
    let mut cmd = base_command(cfg);
    cmd.args(["delete", "-f", &cfg.id])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    cmd
}

/// The last `"level":"error"` message the runtime wrote to its `--log` (JSON lines).
pub fn runtime_error(log: &Path, status: i32) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let msg = text
        .lines()
        .rev()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|v| v["level"] == "error")
        .and_then(|v| v["msg"].as_str().map(str::to_string));
    msg.unwrap_or_else(|| format!("OCI runtime exited with status {status}"))
}

/// The exit code dockerd reports for a process the runtime could not start.
pub fn start_failure_code(msg: &str) -> i32 {
    let m = msg.to_ascii_lowercase();
    if m.contains("executable file not found") || m.contains("no such file or directory") {
        127
    } else if m.contains("permission denied") {
        126
    } else {
        128
    }
}

/// Exit code as the shell reports it: the status, or 128 + the killing signal.
pub fn exit_code(status: i32) -> i32 {
    if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status)
    } else if libc::WIFSIGNALED(status) {
        128 + libc::WTERMSIG(status)
    } else {
        255
    }
}

/// Reaps every child (we are a subreaper, so orphans of the container land here too) and keeps
/// their exit codes: the container may be reaped before its pid file is read.
pub struct Reaper {
    sigchld: Signal,
    codes: HashMap<i32, i32>,
}

impl Reaper {
    /// Must exist before the first child is spawned so no SIGCHLD is missed.
    pub fn new() -> Result<Self> {
        Ok(Reaper {
            sigchld: signal(SignalKind::child()).ctx(|| "watching SIGCHLD".into())?,
            codes: HashMap::new(),
        })
    }

    pub fn reap(&mut self) {
        loop {
            let mut status = 0;
            // SAFETY: waitpid(2) for any child, non-blocking, into a local.
            let pid = unsafe { libc::waitpid(-1, &mut status, libc::WNOHANG) };
            if pid <= 0 {
                break;
            }
            self.codes.insert(pid, exit_code(status));
        }
    }

    pub fn take(&mut self, pid: i32) -> Option<i32> {
        self.codes.remove(&pid)
    }

    /// Waits for the next SIGCHLD, then reaps. Cancel-safe.
    pub async fn changed(&mut self) {
        self.sigchld.recv().await;
        self.reap();
    }

    /// Waits until `pid` has exited; returns its exit code. Cancel-safe.
    pub async fn wait(&mut self, pid: i32) -> i32 {
        loop {
            self.reap();
            if let Some(c) = self.take(pid) {
                return c;
            }
            self.sigchld.recv().await;
        }
    }
}

/// The cgroup file that counts OOM kills for the container's memory cgroup (v1
/// `memory.oom_control`, v2 `memory.events`), found through `/proc/<pid>/cgroup` while the
/// process lives.
pub fn oom_counter_from_proc(pid: i32) -> Option<PathBuf> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).ok()?;
    let mut unified = None;
    for (controllers, path) in crate::cgroup::cgroup_memberships(&text) {
        if controllers.split(',').any(|c| c == "memory") {
            return Some(memory_v1_file(path));
        }
        if controllers.is_empty() {
            unified = Some(memory_v2_file(path));
        }
    }
    unified.filter(|p| p.exists())
}

/// The same file found through the bundle's absolute `linux.cgroupsPath`: a process that dies at
/// once is gone before we look, but its cgroup stays until `runtime delete`.
pub fn oom_counter_from_bundle(bundle: &Path) -> Option<PathBuf> {
    let data = std::fs::read(bundle.join("config.json")).ok()?;
    let spec: serde_json::Value = serde_json::from_slice(&data).ok()?;
    let path = spec["linux"]["cgroupsPath"].as_str()?;
    if !path.starts_with('/') {
        return None; // systemd-style slice:prefix:name, resolved only through /proc
    }
    let v1 = memory_v1_file(path);
    if v1.exists() {
        return Some(v1);
    }
    Some(memory_v2_file(path)).filter(|p| p.exists())
}

fn memory_v1_file(cgroup: &str) -> PathBuf {
    Path::new("/sys/fs/cgroup/memory")
        .join(cgroup.trim_start_matches('/'))
        .join("memory.oom_control")
}

fn memory_v2_file(cgroup: &str) -> PathBuf {
    Path::new("/sys/fs/cgroup")
        .join(cgroup.trim_start_matches('/'))
        .join("memory.events")
}

/// True when the kernel OOM-killed something in the container's cgroup.
pub fn oom_killed(counter: &Path) -> bool {
    let Ok(text) = std::fs::read_to_string(counter) else {
        return false;
    };
    text.lines()
        .filter_map(|l| l.strip_prefix("oom_kill "))
        .any(|n| n.trim().parse::<u64>().is_ok_and(|n| n > 0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failure_codes_like_dockerd() {
        assert_eq!(
            start_failure_code(
                "runc run failed: unable to start container process: exec: \"/nope\": stat /nope: no such file or directory"
            ),
            127
        );
        assert_eq!(
            start_failure_code("exec: \"x\": executable file not found in $PATH"),
            127
        );
        assert_eq!(start_failure_code("exec /etc: permission denied"), 126);
        assert_eq!(start_failure_code("cgroup setup failed"), 128);
    }

    #[test]
    fn runtime_error_prefers_last_error_line() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("runtime.log");
        std::fs::write(
            &log,
            "{\"level\":\"error\",\"msg\":\"first\"}\n{\"level\":\"warning\",\"msg\":\"w\"}\n{\"level\":\"error\",\"msg\":\"second\"}\n{\"level\":\"info\",\"msg\":\"i\"}\n",
        )
        .unwrap();
        assert_eq!(runtime_error(&log, 1), "second");
        assert_eq!(
            runtime_error(&dir.path().join("none"), 2),
            "OCI runtime exited with status 2"
        );
    }

    #[test]
    fn oom_counter_parsing() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("memory.oom_control");
        std::fs::write(&f, "oom_kill_disable 0\nunder_oom 0\noom_kill 0\n").unwrap();
        assert!(!oom_killed(&f));
        std::fs::write(&f, "oom_kill_disable 0\nunder_oom 0\noom_kill 2\n").unwrap();
        assert!(oom_killed(&f));
        // Our own process has a cgroup; the lookup must not panic whatever the layout.
        let _ = oom_counter_from_proc(std::process::id() as i32);
        assert_eq!(oom_counter_from_bundle(dir.path()), None);
        // The root cgroup always exists: a bundle naming it resolves to a real file.
        std::fs::write(
            dir.path().join("config.json"),
            r#"{"linux":{"cgroupsPath":"/"}}"#,
        )
        .unwrap();
        if let Some(p) = oom_counter_from_bundle(dir.path()) {
            assert!(p.exists(), "{}", p.display());
        }
        std::fs::write(
            dir.path().join("config.json"),
            r#"{"linux":{"cgroupsPath":"system.slice:berth:x"}}"#,
        )
        .unwrap();
        assert_eq!(oom_counter_from_bundle(dir.path()), None);
    }
}
