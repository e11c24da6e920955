//! A full disk under the engine: what needs space fails with a clear error in Docker's format,
//! the engine keeps serving, and nothing it had is lost or damaged: after space is freed the
//! same engine and a restarted one have every container, image and volume, and work again.
//! (The VM's data disk is an ext4 in the guest that fills the same way.)

use std::time::Duration;

use berth_tests::*;

const NO_SPACE: &str = "no space left on device";

fn free_bytes(d: &Berthd) -> u64 {
    let out = std::process::Command::new("df")
        .args(["--output=avail", "-B1"])
        .arg(d.data_root())
        .output()
        .expect("run df");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .nth(1)
        .and_then(|l| l.trim().parse().ok())
        .expect("df's answer")
}

/// Tops the disk up from the host (as any other writer on it would) so that not one more page
/// fits: what the engine freed since (a failed pull's temp files) is taken again.
fn top_up(d: &Berthd, n: &mut u32) {
    use std::io::Write;
    *n += 1;
    let path = d.data_root().join(format!("test-fill-{n}"));
    let mut f = std::fs::File::create(&path).expect("create fill file");
    for chunk in [1 << 16, 1 << 12, 1] {
        let buf = vec![0u8; chunk];
        while f.write_all(&buf).and_then(|()| f.flush()).is_ok() {}
    }
    assert!(free_bytes(d) < 4096, "still {} bytes free", free_bytes(d));
}

#[test]
fn a_full_data_root_fails_writes_clearly_and_loses_nothing() {
    let reg = fixture_registry();
    let mut d = Berthd::start_with_small_root("48m", &[]);
    let busybox = reg.image("busybox:latest");
    d.docker_ok(&["pull", &busybox]);
    d.docker_ok(&["volume", "create", "data"]);
    d.docker_ok(&[
        "run",
        "-d",
        "--name",
        "keeper",
        "--restart",
        "always",
        "-v",
        "data:/data",
        &busybox,
        "sh",
        "-c",
        "echo kept > /data/f; exec sleep 3600",
    ]);
    wait_until("keeper's file", Duration::from_secs(30), || {
        let o = d.docker(&["exec", "keeper", "cat", "/data/f"]);
        (o.stdout.trim() == "kept")
            .then_some(())
            .ok_or_else(|| o.stderr.clone())
    });

    // Fill the data root through a volume (volumes live there) until the kernel says no.
    let fill = d.docker(&[
        "run",
        "--name",
        "filler",
        "-v",
        "junk:/junk",
        &busybox,
        "sh",
        "-c",
        "dd if=/dev/zero of=/junk/fill bs=1M count=100",
    ]);
    assert!(!fill.success(), "the fill did not hit the end of the disk");
    assert!(
        fill.stderr.to_lowercase().contains(NO_SPACE),
        "dd: {}",
        fill.stderr
    );
    assert!(
        free_bytes(&d) < 1 << 20,
        "still {} bytes free",
        free_bytes(&d)
    );

    // What needs space fails with the reason, in Docker's format, and the engine goes on.
    let mut fills = 0;
    top_up(&d, &mut fills);
    let pull = d.docker(&["pull", &reg.image("layers:latest")]);
    assert!(!pull.success(), "a pull onto a full disk succeeded");
    assert!(
        pull.stderr.to_lowercase().contains(NO_SPACE),
        "pull: {}",
        pull.stderr
    );
    top_up(&d, &mut fills);
    let create = d.docker(&["create", "--name", "late", &busybox, "true"]);
    assert!(!create.success(), "a create onto a full disk succeeded");
    assert!(
        create.stderr.to_lowercase().contains(NO_SPACE),
        "create: {}",
        create.stderr
    );
    let r = unix_http_request(&d.socket_path(), "GET", "/_ping", &[], b"").expect("ping");
    assert_eq!(r.text(), "OK");
    assert_eq!(d.inspect_format("keeper", "{{.State.Status}}"), "running");
    // A failed create leaves no half container behind.
    assert!(!d
        .docker_ok(&["ps", "-a", "--format", "{{.Names}}"])
        .contains("late"));

    // Freeing space works on a full disk (removing needs none), then what failed works.
    d.docker_ok(&["rm", "-f", "filler"]);
    d.docker_ok(&["volume", "rm", "junk"]);
    for n in 1..=fills {
        std::fs::remove_file(d.data_root().join(format!("test-fill-{n}"))).expect("rm fill");
    }
    d.docker_ok(&["pull", &reg.image("layers:latest")]);
    let out = d.docker_ok(&[
        "run",
        "--rm",
        &reg.image("layers:latest"),
        "sh",
        "-c",
        "echo ran",
    ]);
    assert_eq!(out.trim(), "ran");
    d.docker_ok(&["create", "--name", "late", &busybox, "true"]);

    // And after a crash of the engine: every record loads, nothing is set aside as damaged.
    d.kill9();
    d.restart();
    let names = d.docker_ok(&["ps", "-a", "--format", "{{.Names}} {{.State}}"]);
    assert!(names.contains("keeper running"), "{names}");
    assert!(names.contains("late created"), "{names}");
    assert_eq!(
        d.docker_ok(&["exec", "keeper", "cat", "/data/f"]).trim(),
        "kept"
    );
    let images = d.docker_ok(&["images", "--format", "{{.Repository}}:{{.Tag}}"]);
    assert!(
        images.contains("busybox:latest") && images.contains("layers:latest"),
        "{images}"
    );
    let warnings = d.docker_ok(&["info", "--format", "{{json .Warnings}}"]);
    assert!(!warnings.contains("damaged"), "{warnings}");
}
