//! The desktop's VM engine host driven through its command layer against a real VM: the guest
//! image of `scripts/vm-guest.sh` booted under QEMU (TCG here), no mocks. The backend starts on
//! a native host with no engine and is switched to the VM at runtime, as Settings does; then the
//! same `Backend` methods the Tauri commands call run a container with a published port (and
//! one whose host port is taken), reset the VM (a second boot, on a new disk) and stop it.
//! Needs `cargo build -j2 --workspace --bins` (berthd, berth-vm-agent) and QEMU.
//!
//! One test, so one VM at a time; the guest's network is restricted (no route out).

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use berth_desktop::commands::containers::RunRequest;
use berth_desktop::engine_host::vm::VmPhase;
use berth_desktop::engine_host::vm_config::{find_qemu, Platform, VmSize};
use berth_desktop::{Backend, EngineState, NativeConfig, NativeHost, VmHost, VmHostConfig};
use berth_tests::engine_vm::{guest_image, processes_naming};
use berth_tests::{cleanup_dir, free_port, make_temp_dir};
use support::wait_until_async;

mod support;
use berth_vm::qemu::Network;

/// GET / on 127.0.0.1:port: the response, or why not.
fn http_get(port: u16) -> Result<String, String> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).map_err(|e| e.to_string())?;
    s.set_read_timeout(Some(Duration::from_secs(20)))
        .map_err(|e| e.to_string())?;
    s.write_all(b"GET / HTTP/1.0\r\nHost: localhost\r\n\r\n")
        .map_err(|e| e.to_string())?;
    let mut out = String::new();
    s.read_to_string(&mut out).map_err(|e| e.to_string())?;
    if out.contains("200 OK") {
        Ok(out)
    } else {
        Err(out)
    }
}

fn httpd_req(name: &str, host_port: u16, body: &str) -> RunRequest {
    serde_json::from_value(serde_json::json!({
        "image": "berth/welcome:latest",
        "name": name,
        "ports": [{"hostPort": host_port, "containerPort": 80, "proto": "tcp"}],
        "env": [],
        "volumes": [],
        "command": ["sh", "-c", format!("mkdir -p /www && echo {body} > /www/index.html && exec httpd -f -p 80 -h /www")],
        "restartPolicy": "no"
    }))
    .expect("run request")
}

/// Removes the test's dir (and anything still running from it) whatever happens.
struct Cleanup(PathBuf);

impl Drop for Cleanup {
    fn drop(&mut self) {
        cleanup_dir(&self.0);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_desktop_runs_its_engine_in_a_vm() {
    let root = make_temp_dir("berth-vm-");
    let _cleanup = Cleanup(root.clone());
    let guest = guest_image();
    let share = root.join("share");
    std::fs::create_dir_all(&share).expect("share");
    let (qemu, qemu_img) = find_qemu(Platform::Linux, None, std::env::var_os("PATH").as_deref());
    let vm_dir = root.join("vm");
    let config = VmHostConfig {
        socket: vm_dir.join("docker.sock"),
        dir: vm_dir.clone(),
        guest: Ok(guest),
        qemu: Ok(qemu.expect("QEMU installed (apt install qemu-system-x86)")),
        qemu_img: Ok(qemu_img.expect("qemu-img installed (apt install qemu-utils)")),
        size: VmSize {
            cpus: 2,
            memory_mib: 1024,
            disk_gib: 8,
        },
        shares: vec![share],
        network: Network::Restricted {
            host_ports: vec![],
            relay: PathBuf::new(),
        },
        insecure_registries: vec![],
        // Probed: KVM when it boots the guest, else TCG (here).
        accel: None,
    };

    // The app started on a native engine that is not there …
    let native = NativeHost::new(NativeConfig::for_socket(
        &root.join("none.sock"),
        &root.join("native.log"),
    ));
    let b = Backend::new(Arc::new(native));
    assert_eq!(b.engine_status().await.state, EngineState::Stopped);
    assert!(b.vm_info().is_none());

    // … and Settings switched it to the VM: the backend follows the new host and starts it.
    let host_changes = b.host_changes();
    b.switch_host(Arc::new(VmHost::new(config))).await;
    assert!(host_changes.has_changed().expect("sender alive"));
    let info = b.vm_info().expect("a VM host now");
    assert_eq!(info.phase, VmPhase::Stopped);

    // A stop while the VM boots does not wait for the boot: it cancels it.
    let b = Arc::new(b);
    let starting = tokio::spawn({
        let b = b.clone();
        async move { b.engine_start().await }
    });
    let qemu_up = Instant::now() + Duration::from_secs(60);
    while processes_naming(&vm_dir).is_empty()
        || b.vm_info().map(|i| i.phase) != Some(VmPhase::Starting)
    {
        assert!(
            Instant::now() < qemu_up,
            "QEMU never started: {:?}",
            b.vm_info()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let status = b.engine_stop().await.expect("stop while booting");
    assert_eq!(status.state, EngineState::Stopped, "{status:?}");
    let start = starting.await.expect("start task");
    let e = start.expect_err("the start was cancelled");
    assert!(e.message.contains("cancelled"), "{e:?}");
    assert!(
        processes_naming(&vm_dir).is_empty(),
        "{:?}",
        processes_naming(&vm_dir)
    );
    assert!(!vm_dir.join("docker.sock").exists());

    let booted = Instant::now();
    b.start_if_stopped().await;
    eprintln!(
        "[vm] first boot: engine answered after {:?}",
        booted.elapsed()
    );
    let status = b.engine_status().await;
    let info = b.vm_info().expect("vm");
    assert_eq!(status.state, EngineState::Running, "{status:?} {info:?}");
    assert!(status.version.is_some());
    assert_eq!(
        status.host,
        format!("unix://{}", vm_dir.join("docker.sock").display())
    );
    assert_eq!(info.phase, VmPhase::Running);
    let accel = info.accel.clone().expect("accel known");
    assert_eq!(info.slow, accel == "tcg");
    let mode = std::fs::metadata(vm_dir.join("docker.sock"))
        .map(|m| std::os::unix::fs::PermissionsExt::mode(&m.permissions()))
        .expect("host socket");
    assert_eq!(mode & 0o777, 0o600, "the host socket is private");

    // The commands work as against a native engine: the built-in image is there …
    let images = b.list_images().await.expect("images");
    assert!(
        images.iter().any(|i| i.repository == "berth/welcome"),
        "{images:?}"
    );
    // … a published port is forwarded to the host's loopback …
    let port = free_port();
    b.run_container(&httpd_req("web", port, "hola-vm"))
        .await
        .expect("run web");
    let page = wait_until_async(
        "the published port answers on the host",
        Duration::from_secs(120),
        || http_get(port),
    )
    .await;
    assert!(page.contains("hola-vm"), "{page}");
    // … and a host port already taken leaves the container running and is reported.
    let taken = TcpListener::bind("127.0.0.1:0").expect("bind");
    let taken_port = taken.local_addr().expect("addr").port();
    b.run_container(&httpd_req("clash", taken_port, "never"))
        .await
        .expect("the container runs though its host port is taken");
    let failed = wait_until_async(
        "the taken port is reported",
        Duration::from_secs(60),
        || {
            let ports = b.vm_info().map(|i| i.ports).unwrap_or_default();
            ports
                .iter()
                .find(|p| p.host_port == taken_port && p.error.is_some())
                .cloned()
                .ok_or_else(|| format!("{ports:?}"))
        },
    )
    .await;
    assert!(!failed.error.unwrap_or_default().is_empty());
    let list = b.list_containers().await.expect("list");
    assert!(
        list.iter()
            .any(|c| c.name == "clash" && c.state == "running"),
        "{list:?}"
    );
    let forwarded = b.vm_info().expect("vm").ports;
    assert!(
        forwarded
            .iter()
            .any(|p| p.host_port == port && p.error.is_none()),
        "{forwarded:?}"
    );
    drop(taken);

    // The logs the Troubleshoot view shows.
    let boot = b
        .vm_log(berth_desktop::commands::vm::VmLog::Boot, 500)
        .expect("boot log");
    assert!(boot.contains("engine socket up"), "{boot}");
    let host_log = b
        .vm_log(berth_desktop::commands::vm::VmLog::Host, 50)
        .expect("host log");
    assert!(host_log.contains("the engine answers"), "{host_log}");

    // QEMU killed (a power loss for the guest): the app shows the VM failed and a restart
    // brings the engine back with its containers. The guest's disk is synced first: container
    // records are written without fsync by design (docs/vm.md).
    let synced = Command::new(berth_tests::docker_bin())
        .arg("-H")
        .arg(format!("unix://{}", vm_dir.join("docker.sock").display()))
        .args(["exec", "web", "busybox", "sync"])
        .env("DOCKER_CONFIG", root.join("docker-config"))
        .output()
        .expect("docker exec");
    assert!(synced.status.success(), "{synced:?}");
    let qemu_pid: i32 = std::fs::read_to_string(vm_dir.join("qemu.pid"))
        .expect("qemu.pid")
        .trim()
        .parse()
        .expect("pid");
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(qemu_pid),
        nix::sys::signal::Signal::SIGKILL,
    )
    .expect("kill -9 QEMU");
    let failed_at = Instant::now() + Duration::from_secs(30);
    while b.vm_info().map(|i| i.phase) != Some(VmPhase::Failed) {
        assert!(Instant::now() < failed_at, "{:?}", b.vm_info());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let status = b.host().status().await;
    assert_eq!(status.state, EngineState::Error, "{status:?}");
    assert!(
        status
            .reason
            .as_deref()
            .unwrap_or("")
            .contains("restart it"),
        "{status:?}"
    );
    let booted = Instant::now();
    let status = b.engine_restart().await.expect("restart after the kill");
    eprintln!(
        "[vm] restart after kill -9: engine answered after {:?}",
        booted.elapsed()
    );
    assert_eq!(status.state, EngineState::Running, "{status:?}");
    let list = b.list_containers().await.expect("list");
    assert!(list.iter().any(|c| c.name == "web"), "{list:?}");
    assert!(b
        .list_images()
        .await
        .expect("images")
        .iter()
        .any(|i| i.repository == "berth/welcome"));

    // Reset: stop, a new empty disk, a fresh boot.
    let booted = Instant::now();
    let status = b.vm_reset().await.expect("reset");
    eprintln!("[vm] reset: engine answered after {:?}", booted.elapsed());
    assert_eq!(status.state, EngineState::Running, "{status:?}");
    assert!(b.list_containers().await.expect("list").is_empty());
    assert!(http_get(port).is_err(), "the old port is closed");
    let host_log = b
        .vm_log(berth_desktop::commands::vm::VmLog::Host, 50)
        .expect("host log");
    assert!(
        host_log.contains("reset: deleted the data disk"),
        "{host_log}"
    );

    // Stop: nothing is left behind.
    let status = b.engine_stop().await.expect("stop");
    assert_eq!(status.state, EngineState::Stopped, "{status:?}");
    assert_eq!(b.vm_info().expect("vm").phase, VmPhase::Stopped);
    assert!(!vm_dir.join("docker.sock").exists());
    assert!(!vm_dir.join("mux.sock").exists());
    assert!(
        processes_naming(&vm_dir).is_empty(),
        "{:?}",
        processes_naming(&vm_dir)
    );
    assert!(TcpStream::connect(("127.0.0.1", port)).is_err());
    let console = std::fs::read_to_string(vm_dir.join("console.log")).unwrap_or_default();
    assert!(console.contains("powering off"), "{console}");
}
