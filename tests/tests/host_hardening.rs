//! The host side of confinement: the data root keeps other local users out of container
//! records, logs and layers, and a damaged record is set aside, never deleted.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;

use berth_tests::*;

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p)
        .unwrap_or_else(|e| panic!("stat {}: {e}", p.display()))
        .permissions()
        .mode()
        & 0o7777
}

/// Runs `argv` as the unprivileged user `nobody`; returns (success, stderr).
fn as_nobody(argv: &[&str]) -> (bool, String) {
    // Through a shell: setpriv itself still holds root's capabilities when it execs its
    // command, which would let it walk into any directory.
    let out = Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
        .args(["/bin/sh", "-c", "exec \"$@\"", "sh"])
        .args(argv)
        .output()
        .expect("run setpriv");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn other_users_cannot_read_records_or_logs_nor_run_setuid_files_from_layers() {
    let (d, img) = engine_with_busybox();
    // The harness makes its dirs 0700; open the test's own dir so that only the data root's
    // mode stands between another user and the engine's files.
    std::fs::set_permissions(d.dir(), std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let id = d.docker_ok(&[
        "run",
        "-d",
        "--name",
        "secretive",
        "-e",
        "SECRET=hunter2",
        &img,
        "sh",
        "-c",
        "cp /bin/busybox /tmp/rootshell && chmod 4755 /tmp/rootshell && echo printed-secret && sleep 1000",
    ]);
    let id = id.trim();
    wait_until(
        "the container printed",
        std::time::Duration::from_secs(30),
        || {
            let logs = d.docker_ok(&["logs", "secretive"]);
            if logs.contains("printed-secret") {
                Ok(())
            } else {
                Err(logs)
            }
        },
    );
    let root = d.data_root();
    assert_eq!(mode(&root), 0o710, "the data root is dockerd's 0710");
    let record = root.join("containers").join(id).join("config.json");
    let state = root.join("containers").join(id).join("state.json");
    let log = std::path::PathBuf::from(d.inspect_format("secretive", "{{.LogPath}}").trim());
    let upper = std::path::PathBuf::from(
        d.inspect_format("secretive", "{{.GraphDriver.Data.UpperDir}}")
            .trim(),
    );
    let setuid = upper.join("tmp/rootshell");
    assert_eq!(mode(&record), 0o600);
    assert_eq!(mode(&state), 0o600);
    assert_eq!(mode(&log), 0o640);
    assert_eq!(mode(&setuid) & 0o4000, 0o4000, "the file really is setuid");
    assert!(std::fs::read_to_string(&record)
        .expect("root reads the record")
        .contains("hunter2"));

    for path in [&record, &log] {
        let (ok, err) = as_nobody(&["cat", path.to_str().expect("utf-8")]);
        assert!(
            !ok && err.contains("Permission denied"),
            "{}: {err}",
            path.display()
        );
    }
    let (ok, err) = as_nobody(&[setuid.to_str().expect("utf-8"), "id"]);
    assert!(
        !ok && err.contains("Permission denied"),
        "setuid file {} ran: {err}",
        setuid.display()
    );
    let (ok, err) = as_nobody(&["ls", root.to_str().expect("utf-8")]);
    assert!(!ok && err.contains("Permission denied"), "{err}");
    d.docker_ok(&["rm", "-f", "secretive"]);
}

#[test]
fn an_unreadable_record_is_set_aside_and_reported_not_deleted() {
    let (mut d, img) = engine_with_busybox();
    let id = d.docker_ok(&["create", "--name", "damaged", &img, "true"]);
    let id = id.trim().to_string();
    d.docker_ok(&["create", "--name", "fine", &img, "true"]);
    d.stop();
    let dir = d.data_root().join("containers").join(&id);
    std::fs::write(dir.join("config.json"), b"{\"ID\": \"truncated").expect("damage the record");
    d.restart();
    assert_eq!(
        d.docker_ok(&["ps", "-a", "--format", "{{.Names}}"]).trim(),
        "fine",
        "the other containers are still there"
    );
    let aside = d.data_root().join("damaged/containers").join(&id);
    assert!(
        aside.join("config.json").exists(),
        "the record is kept at {}",
        aside.display()
    );
    assert!(!dir.exists());
    let warnings = d.docker_ok(&["info", "--format", "{{json .Warnings}}"]);
    assert!(
        warnings.contains(&id) && warnings.contains("could not be read"),
        "{warnings}"
    );
    // The name is free again, as the damaged container is not loaded.
    d.docker_ok(&["create", "--name", "damaged", &img, "true"]);
}

/// `-u NAME` reads the container's /etc/passwd inside its root: a symlink within the container
/// works, one aimed at a host path finds the container's file (not the host's), and a huge
/// planted file is read only up to docker cp's small-file cap.
#[test]
fn user_names_resolve_inside_the_container_with_a_bounded_read() {
    let (d, img) = engine_with_busybox();
    d.docker_ok(&["run", "-d", "--name", "users", &img, "sleep", "1000"]);
    d.docker_ok(&[
        "exec",
        "users",
        "sh",
        "-c",
        "cp /etc/passwd /etc/passwd.real && echo 'inner:x:4242:4242::/:/bin/sh' >> /etc/passwd.real \
         && rm /etc/passwd && ln -s /etc/passwd.real /etc/passwd",
    ]);
    assert_eq!(
        d.docker_ok(&["exec", "-u", "inner", "users", "id", "-u"])
            .trim(),
        "4242"
    );

    // A link to a host path: resolved inside the container, where it does not exist.
    let host_etc = d.dir().join("host-etc");
    std::fs::create_dir_all(&host_etc).expect("host dir");
    std::fs::write(host_etc.join("passwd"), "hostonly:x:4343:4343::/:/bin/sh\n").expect("passwd");
    let link = format!(
        "rm /etc/passwd && ln -s {}/passwd /etc/passwd",
        host_etc.display()
    );
    d.docker_ok(&["exec", "users", "sh", "-c", &link]);
    let out = d.docker(&["exec", "-u", "hostonly", "users", "id"]);
    // dockerd's answer to an exec that cannot start: its error in the stream, exit code 126.
    assert_eq!(out.status, 126, "{out}");
    assert!(out.stdout.contains("unable to find user hostonly"), "{out}");

    // A 4 GiB (sparse) passwd: the engine reads its first 4 MiB, finds no such user, and
    // keeps answering (runc itself then refuses any exec in this container).
    d.docker_ok(&[
        "exec",
        "users",
        "sh",
        "-c",
        "rm /etc/passwd && dd if=/dev/zero of=/etc/passwd bs=1M count=0 seek=4096 2>/dev/null",
    ]);
    let out = d.docker(&["exec", "-u", "inner", "users", "id"]);
    assert!(out.stdout.contains("unable to find user inner"), "{out}");
    assert_eq!(
        d.inspect_format("users", "{{.State.Running}}").trim(),
        "true"
    );
    d.docker_ok(&["rm", "-f", "users"]);
}
