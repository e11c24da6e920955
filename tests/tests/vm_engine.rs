//! The engine in a VM, end to end: `berth-vm start` boots the guest image of
//! `scripts/vm-guest.sh` under QEMU (TCG here) and the docker CLI drives the guest engine
//! through the host socket. One VM, booted three times: a clean restart, and a start after
//! QEMU was killed, are part of the test.
//!
//! The guest's network is restricted (`restrict=on`): it reaches nothing but the test
//! registry's port on the host's loopback, as `host.docker.internal:PORT`.

use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use berth_tests::engine_vm::{guest_image, processes_naming, sibling_bin};
use berth_tests::*;

/// Boot under TCG takes 10-20 s; the engine's first start unpacks its welcome image too.
const START_TIMEOUT_SECS: &str = "300";

/// One VM dir, its shared dir and the CLI pointed at it; stops the VM and removes everything
/// (processes referring to the dir included) on drop.
struct TestVm {
    root: PathBuf,
    guest: PathBuf,
    registry_port: u16,
}

impl TestVm {
    fn dir(&self) -> PathBuf {
        self.root.join("vm")
    }
    fn share(&self) -> PathBuf {
        self.root.join("share")
    }
    fn socket(&self) -> PathBuf {
        self.dir().join("docker.sock")
    }

    fn berth_vm(&self, args: &[&str]) -> Output {
        Command::new(sibling_bin("berth-vm"))
            .arg("--dir")
            .arg(self.dir())
            .args(args)
            .stdin(Stdio::null())
            .output()
            .expect("run berth-vm")
    }

    fn start(&self) {
        let registry = format!("host.docker.internal:{}", self.registry_port);
        let port = self.registry_port.to_string();
        let share = self.share();
        let guest = self.guest.to_string_lossy().into_owned();
        let out = self.berth_vm(&[
            "start",
            "--guest",
            &guest,
            "--share",
            share.to_str().expect("utf-8 path"),
            "--cpus",
            "2",
            "--memory",
            "1024",
            "--disk-size",
            "8G",
            "--network",
            "restricted",
            "--host-port",
            &port,
            "--insecure-registry",
            &registry,
            "--timeout",
            START_TIMEOUT_SECS,
        ]);
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "berth-vm start failed: {}{}\n--- console ---\n{}",
            stdout,
            String::from_utf8_lossy(&out.stderr),
            self.console()
        );
        assert_eq!(
            stdout.trim(),
            format!("DOCKER_HOST=unix://{}", self.socket().display())
        );
    }

    fn stop(&self) {
        let out = self.berth_vm(&["stop", "--timeout", "60"]);
        assert!(
            out.status.success(),
            "berth-vm stop: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    fn console(&self) -> String {
        std::fs::read_to_string(self.dir().join("console.log")).unwrap_or_default()
    }

    fn docker(&self, args: &[&str]) -> Output {
        let mut cmd = Command::new(docker_bin());
        for (key, _) in std::env::vars_os() {
            if key.to_string_lossy().starts_with("DOCKER_") {
                cmd.env_remove(key);
            }
        }
        cmd.args(args)
            .env("DOCKER_HOST", format!("unix://{}", self.socket().display()))
            .env("DOCKER_CONFIG", self.root.join("docker-config"))
            .env("DOCKER_CLI_HINTS", "false")
            .stdin(Stdio::null())
            .output()
            .expect("run docker")
    }

    fn docker_ok(&self, args: &[&str]) -> String {
        let out = self.docker(args);
        assert!(
            out.status.success(),
            "docker {args:?}: {}{}\n--- console (tail) ---\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
            tail(&self.console(), 60)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    /// Processes whose command line names this VM's dir (QEMU, the supervisor).
    fn processes(&self) -> Vec<String> {
        processes_naming(&self.dir())
    }
}

impl Drop for TestVm {
    fn drop(&mut self) {
        let _ = self.berth_vm(&["stop", "--timeout", "20"]);
        cleanup_dir(&self.root);
    }
}

fn tail(s: &str, lines: usize) -> String {
    let all: Vec<&str> = s.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// `GET http://127.0.0.1:port/path` with curl: the body, or why not.
fn curl(port: u16, path: &str) -> Result<String, String> {
    let out = Command::new("curl")
        .args(["-sS", "--fail", "--max-time", "20"])
        .arg(format!("http://127.0.0.1:{port}{path}"))
        .output()
        .map_err(|e| e.to_string())?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

#[test]
fn the_engine_runs_in_a_vm_behind_the_host_socket() {
    let registry = fixture_registry();
    let registry_port: u16 = registry
        .addr()
        .rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .expect("registry port");
    let vm = TestVm {
        root: make_temp_dir("berth-vm-"),
        guest: guest_image(),
        registry_port,
    };
    std::fs::create_dir_all(vm.share().join("site")).expect("share dir");
    std::fs::create_dir_all(vm.root.join("docker-config")).expect("docker config dir");

    let booted = Instant::now();
    vm.start();
    eprintln!("[vm] engine answered after {:?}", booted.elapsed());
    let mode = std::fs::metadata(vm.socket())
        .map(|m| std::os::unix::fs::PermissionsExt::mode(&m.permissions()))
        .expect("socket");
    assert_eq!(mode & 0o777, 0o600, "the host socket is private");
    let out = vm.berth_vm(&["status"]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("state: running"));

    // A pull from the registry on the host's loopback, through host.docker.internal.
    let image = format!("host.docker.internal:{registry_port}/busybox:latest");
    vm.docker_ok(&["pull", &image]);

    // A bind mount of a host dir (inside the share) and a published port.
    let site = vm.share().join("site");
    std::fs::write(site.join("from-host.txt"), "written on the host\n").expect("host file");
    let port = free_port();
    let publish = format!("{port}:80");
    let bind = format!("{}:/www", site.display());
    vm.docker_ok(&["volume", "create", "keep"]);
    vm.docker_ok(&[
        "run",
        "-d",
        "--name",
        "web",
        "-p",
        &publish,
        "-v",
        &bind,
        "-v",
        "keep:/data",
        &image,
        "httpd",
        "-f",
        "-p",
        "80",
        "-h",
        "/www",
    ]);
    let body = wait_until(
        "the published port answers on the host",
        Duration::from_secs(120),
        || curl(port, "/from-host.txt"),
    );
    assert_eq!(body, "written on the host\n");
    vm.docker_ok(&[
        "exec",
        "web",
        "sh",
        "-c",
        "echo written in the guest > /www/from-guest.txt && echo kept > /data/mark",
    ]);
    let from_guest = std::fs::read_to_string(site.join("from-guest.txt")).expect("guest file");
    assert_eq!(from_guest, "written in the guest\n");
    assert_eq!(
        curl(port, "/from-guest.txt").expect("served"),
        "written in the guest\n"
    );

    // Stopping the container closes its forwarded port.
    vm.docker_ok(&["stop", "-t", "1", "web"]);
    wait_until(
        "the forwarded port closes with its container",
        Duration::from_secs(60),
        || match TcpStream::connect(("127.0.0.1", port)) {
            Err(_) => Ok(()),
            Ok(_) => Err("still accepting".into()),
        },
    );

    // A VM restart keeps containers, images and volumes (the data disk).
    vm.stop();
    assert!(!vm.socket().exists(), "the host socket is removed on stop");
    vm.start();
    assert_eq!(
        vm.docker_ok(&["ps", "-a", "--filter", "name=web", "--format", "{{.Names}}"]),
        "web"
    );
    assert!(vm
        .docker_ok(&["images", "--format", "{{.Repository}}:{{.Tag}}"])
        .lines()
        .any(|l| l == format!("host.docker.internal:{registry_port}/busybox:latest")));
    vm.docker_ok(&["start", "web"]);
    assert_eq!(
        vm.docker_ok(&["exec", "web", "cat", "/data/mark"]),
        "kept",
        "the volume's content survived"
    );
    let body = wait_until(
        "the published port answers again after the VM restart",
        Duration::from_secs(120),
        || curl(port, "/from-guest.txt"),
    );
    assert_eq!(body, "written in the guest\n");

    // QEMU killed outright: the supervisor notices and cleans up after it, and the next start
    // still finds the container, the image and the volume, and a container with a restart
    // policy created just before runs again by itself (the runtimes' state of the killed boot
    // is cleared by the engine, which would otherwise refuse to start it).
    vm.docker_ok(&[
        "run",
        "-d",
        "--name",
        "always",
        "--restart",
        "always",
        &image,
        "sleep",
        "100000",
    ]);
    // Killing QEMU is a power loss for the guest, right after the run: the engine fsyncs
    // container records before it answers (engine/src/store), so nothing is synced by hand.
    let qemu_pid: i32 = std::fs::read_to_string(vm.dir().join("qemu.pid"))
        .expect("qemu.pid")
        .trim()
        .parse()
        .expect("qemu pid");
    // SAFETY: a plain signal to the QEMU this test started.
    assert_eq!(unsafe { libc::kill(qemu_pid, libc::SIGKILL) }, 0);
    wait_until(
        "the supervisor cleans up after a killed QEMU",
        Duration::from_secs(60),
        || {
            let out = vm.berth_vm(&["status"]);
            let status = String::from_utf8_lossy(&out.stdout).into_owned();
            if status.contains("state: stopped") && !vm.socket().exists() {
                Ok(())
            } else {
                Err(status)
            }
        },
    );
    assert!(
        TcpStream::connect(("127.0.0.1", port)).is_err(),
        "forwarded port {port} left open after QEMU died"
    );
    vm.start();
    vm.docker_ok(&["start", "web"]);
    assert_eq!(vm.docker_ok(&["exec", "web", "cat", "/data/mark"]), "kept");
    vm.docker_ok(&["image", "inspect", &image]);
    wait_until(
        "the restart-policy container runs again after the VM was killed",
        Duration::from_secs(120),
        || {
            let out = vm.docker(&["inspect", "-f", "{{.State.Running}}", "always"]);
            let running = String::from_utf8_lossy(&out.stdout).trim().to_string();
            if running == "true" {
                Ok(())
            } else {
                Err(format!(
                    "{running} {}",
                    String::from_utf8_lossy(&out.stderr).trim()
                ))
            }
        },
    );

    // A clean stop leaves nothing behind: no QEMU, no socket, no forwarded port.
    vm.stop();
    assert!(
        vm.console().contains("berth-vm: ") && vm.console().contains("powering off"),
        "the guest powered off cleanly:\n{}",
        tail(&vm.console(), 30)
    );
    assert_eq!(vm.processes(), Vec::<String>::new(), "processes left");
    assert!(!vm.socket().exists(), "host socket left");
    assert!(!vm.dir().join("mux.sock").exists(), "mux socket left");
    assert!(
        TcpStream::connect(("127.0.0.1", port)).is_err(),
        "forwarded port {port} left open"
    );
    let out = vm.berth_vm(&["status"]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("state: stopped"));
}
