//! The Linux package as a user gets it: the .deb that Tauri's bundler makes
//! (`scripts/package.sh`), installed with `dpkg -i`, its berthd started from its socket unit as
//! systemd would, a container run through it with the docker CLI and the installed `berth`, then
//! purged, leaving nothing behind.
//!
//! It installs a system package (the `berth` group, `/usr/bin/berthd`, `/run/berth.sock`,
//! `/var/lib/berth`): it refuses to run where Berth is already installed or running.
//! `scripts/test.sh` builds the package and sets `BERTH_DEB`.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use berth_tests::*;

const PACKAGE: &str = "berth";
const SERVICE: &str = "/lib/systemd/system/berthd.service";
const SOCKET_UNIT: &str = "/lib/systemd/system/berthd.socket";
const DATA_ROOT: &str = "/var/lib/berth";

/// The .deb: `BERTH_DEB`, else the newest one the bundler left under target/.
fn deb_path() -> PathBuf {
    if let Some(p) = std::env::var_os("BERTH_DEB") {
        return PathBuf::from(p);
    }
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("target"));
    let mut debs: Vec<(std::time::SystemTime, PathBuf)> = ["debug", "release"]
        .iter()
        .filter_map(|p| std::fs::read_dir(target.join(p).join("bundle/deb")).ok())
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "deb"))
        .filter_map(|p| Some((std::fs::metadata(&p).ok()?.modified().ok()?, p)))
        .collect();
    debs.sort();
    debs.pop().map(|(_, p)| p).unwrap_or_else(|| {
        panic!(
            "no .deb under {}/*/bundle/deb: build it with scripts/package.sh --debug \
             (or set BERTH_DEB)",
            target.display()
        )
    })
}

fn run(program: &str, args: &[&str]) -> std::process::Output {
    Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("run {program}: {e}"))
}

fn run_ok(program: &str, args: &[&str]) -> String {
    let out = run(program, args);
    assert!(
        out.status.success(),
        "{program} {args:?} failed ({}):\n{}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// dpkg's status of the package (`install ok installed`), or None when dpkg knows nothing of it.
fn package_status() -> Option<String> {
    let out = run("dpkg-query", &["-W", "-f=${Status}", PACKAGE]);
    let status = String::from_utf8_lossy(&out.stdout).trim().to_string();
    (out.status.success() && !status.is_empty() && status != "unknown ok not-installed")
        .then_some(status)
}

fn group_exists(name: &str) -> bool {
    run("getent", &["group", name]).status.success()
}

/// `Key=value` lines of a systemd unit file.
fn unit_values(path: &str, key: &str) -> Vec<String> {
    let text =
        std::fs::read_to_string(path).unwrap_or_else(|e| panic!("read installed {path}: {e}"));
    text.lines()
        .filter_map(|l| l.trim().strip_prefix(key)?.strip_prefix('='))
        .map(|v| v.trim().to_string())
        .collect()
}

fn unit_value(path: &str, key: &str) -> String {
    unit_values(path, key)
        .pop()
        .unwrap_or_else(|| panic!("{path} has no {key}="))
}

/// Purges the package and what its engine left on the host if the test ends early.
struct Installed {
    engine: Option<std::process::Child>,
}

impl Installed {
    fn stop_engine(&mut self) {
        if let Some(mut child) = self.engine.take() {
            // SAFETY: kill(2) has no memory-safety preconditions.
            unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGTERM) };
            let status = wait_child_or_kill(&mut child, Duration::from_secs(30));
            eprintln!("[deb] berthd ended: {status:?}");
        }
    }

    /// The bridges and nftables table the installed engine made (read before the purge removes
    /// its data root; it keeps them on purpose, as dockerd keeps docker0).
    fn host_leftovers() -> Vec<String> {
        let mut bridges = netenv::recorded_bridges(Path::new(DATA_ROOT));
        if !bridges.iter().any(|b| b == "berth0") {
            bridges.push("berth0".into());
        }
        bridges
    }
}

impl Drop for Installed {
    fn drop(&mut self) {
        self.stop_engine();
        if package_status().is_some() {
            let bridges = Installed::host_leftovers();
            let _ = run("dpkg", &["--purge", PACKAGE]);
            netenv::cleanup(&bridges, "berth");
        }
    }
}

#[test]
fn deb_installs_runs_a_container_from_its_socket_unit_and_purges_cleanly() {
    let deb = deb_path();
    let deb_str = deb.to_str().expect("utf-8 path");
    assert!(
        package_status().is_none(),
        "package {PACKAGE} is already known to dpkg here: this test installs and purges it, so it \
         runs only where Berth is not installed"
    );
    for p in ["/run/berth.sock", DATA_ROOT] {
        assert!(
            !Path::new(p).exists(),
            "{p} exists: a Berth engine is set up on this machine outside the package; this test \
             needs the package's own paths free"
        );
    }
    assert!(
        !group_exists("berth"),
        "a `berth` group exists: the package must create it"
    );

    // What the package holds, before dpkg puts it in place.
    let contents = run_ok("dpkg-deb", &["--contents", deb_str]);
    for f in [
        "usr/bin/berth-desktop",
        "usr/bin/berthd",
        "usr/bin/berth",
        "usr/bin/berth-vm",
        "lib/systemd/system/berthd.service",
        "lib/systemd/system/berthd.socket",
        "usr/lib/Berth/vm-guest/vmlinuz",
        "usr/lib/Berth/vm-guest/initramfs.img",
        "usr/share/applications/Berth.desktop",
    ] {
        assert!(
            contents.lines().any(|l| l
                .split_whitespace()
                .last()
                .is_some_and(|p| p.trim_start_matches("./") == f)),
            "{f} missing from {deb_str}:\n{contents}"
        );
    }
    let depends = run_ok("dpkg-deb", &["--field", deb_str, "Depends"]);
    assert!(depends.contains("runc | crun"), "Depends: {depends}");

    let mut installed = Installed { engine: None };
    run_ok("dpkg", &["-i", deb_str]);
    assert_eq!(
        package_status().as_deref(),
        Some("install ok installed"),
        "dpkg's status after dpkg -i"
    );
    assert!(group_exists("berth"), "postinst made no `berth` group");
    for link in [
        "/etc/systemd/system/sockets.target.wants/berthd.socket",
        "/etc/systemd/system/multi-user.target.wants/berthd.service",
    ] {
        assert!(
            std::fs::symlink_metadata(link).is_ok(),
            "{link}: the units are not enabled"
        );
    }
    // The units as systemd will read them (this machine's systemd, offline).
    run_ok("systemd-analyze", &["verify", SOCKET_UNIT, SERVICE]);

    // Start the engine as systemd does on the first connection to berthd.socket: the socket is
    // listened on by someone else and handed to `ExecStart` as fd 3 (systemd-socket-activate
    // does that part; SocketMode/SocketGroup are applied from the unit below).
    let socket = unit_value(SOCKET_UNIT, "ListenStream");
    assert_eq!(socket, "/run/berth.sock");
    let exec = unit_value(SERVICE, "ExecStart");
    let argv: Vec<&str> = exec.split_whitespace().collect();
    assert_eq!(argv.first(), Some(&"/usr/bin/berthd"), "ExecStart={exec}");
    assert!(argv.contains(&"fd://"), "ExecStart={exec} takes no socket");
    let log_dir = make_temp_dir("berth-deb-");
    let log = std::fs::File::create(log_dir.join("berthd.log")).expect("create log");
    let mut cmd = Command::new("systemd-socket-activate");
    cmd.args(["--listen", &socket, "--"])
        .args(&argv)
        .stdin(Stdio::null())
        .stdout(log.try_clone().expect("dup log"))
        .stderr(log);
    installed.engine = Some(spawn_tied(cmd).expect("start systemd-socket-activate"));
    wait_until(
        "the socket to be listened on",
        Duration::from_secs(30),
        || {
            Path::new(&socket)
                .exists()
                .then_some(())
                .ok_or_else(|| "no socket yet".to_string())
        },
    );
    let mode = u32::from_str_radix(&unit_value(SOCKET_UNIT, "SocketMode"), 8).expect("mode");
    std::fs::set_permissions(&socket, std::fs::Permissions::from_mode(mode)).expect("chmod");
    let group = unit_value(SOCKET_UNIT, "SocketGroup");
    run_ok("chgrp", &[&group, &socket]);
    let gid = std::fs::metadata(&socket).expect("stat socket").gid();
    assert_eq!(
        gid.to_string(),
        run_ok("getent", &["group", &group])
            .split(':')
            .nth(2)
            .unwrap_or("")
    );

    // The first connection starts the installed berthd on that socket.
    let host = format!("unix://{socket}");
    let out = Command::new(docker_bin())
        .args(["-H", &host, "run", "--rm", "berth/welcome", "sh", "-c"])
        .arg("echo deb-$((6*7))")
        .output()
        .expect("run docker");
    let berthd_log = std::fs::read_to_string(log_dir.join("berthd.log")).unwrap_or_default();
    assert!(
        out.status.success(),
        "docker run through the installed engine failed: {}\n--- berthd log\n{berthd_log}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "deb-42");
    let pid = installed
        .engine
        .as_ref()
        .map(|c| c.id())
        .unwrap_or_default();
    assert_eq!(
        std::fs::read_link(format!("/proc/{pid}/exe")).expect("exe of the engine"),
        PathBuf::from("/usr/bin/berthd"),
        "the engine serving the socket is not the installed berthd"
    );

    // The installed CLI finds the engine by itself (/run/berth.sock) and says what docker says.
    let out = run_ok(
        "/usr/bin/berth",
        &["run", "--rm", "berth/welcome", "sh", "-c", "echo cli-ok"],
    );
    assert_eq!(out.trim(), "cli-ok");
    // `berth vm` runs the installed berth-vm (beside it in /usr/bin).
    let vm_home = make_temp_dir("berth-deb-");
    let out = Command::new("/usr/bin/berth")
        .args(["vm", "status"])
        .env("XDG_DATA_HOME", &vm_home)
        .output()
        .expect("run berth vm status");
    assert!(
        out.status.success() && String::from_utf8_lossy(&out.stdout).contains("state: stopped"),
        "berth vm status: {out:?}"
    );
    cleanup_dir(&vm_home);

    // A member of the `berth` group may use the socket; another user may not.
    let as_user = |groups: &str| {
        Command::new("setpriv")
            .args(["--reuid=65534", "--regid=65534", groups, "--"])
            .args([
                "curl",
                "-sS",
                "--unix-socket",
                &socket,
                "http://berth/_ping",
            ])
            .output()
            .expect("run setpriv")
    };
    let member = as_user(&format!("--groups={gid}"));
    assert_eq!(
        String::from_utf8_lossy(&member.stdout),
        "OK",
        "a member of `berth`: {}",
        String::from_utf8_lossy(&member.stderr)
    );
    let other = as_user("--clear-groups");
    assert!(
        !other.status.success() && !String::from_utf8_lossy(&other.stdout).contains("OK"),
        "a user outside `berth` reached the socket: {:?}",
        other
    );

    installed.stop_engine();
    let bridges = Installed::host_leftovers();
    run_ok("dpkg", &["--purge", PACKAGE]);
    netenv::cleanup(&bridges, "berth");
    assert_eq!(package_status(), None, "dpkg still knows the package");
    for p in [
        "/usr/bin/berthd",
        "/usr/bin/berth",
        "/usr/bin/berth-vm",
        "/usr/bin/berth-desktop",
        SERVICE,
        SOCKET_UNIT,
        "/usr/lib/Berth",
        "/etc/systemd/system/sockets.target.wants/berthd.socket",
        "/etc/systemd/system/multi-user.target.wants/berthd.service",
        "/run/berth.sock",
        DATA_ROOT,
    ] {
        assert!(
            std::fs::symlink_metadata(p).is_err(),
            "{p} is left after dpkg --purge"
        );
    }
    assert!(
        !group_exists("berth"),
        "the `berth` group is left after purge"
    );
    cleanup_dir(&log_dir);
}
