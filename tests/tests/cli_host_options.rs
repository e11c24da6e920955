//! Host options of `docker run` as dockerd implements them, checked from inside containers with
//! the docker CLI: `--shm-size`, `--sysctl`, `--oom-score-adj`, `--init`, `--pid` and `--ipc`,
//! with what inspect shows for each and dockerd's errors.

use berth_tests::*;

/// A refused `docker run`: the CLI's 125 with `message` on stderr, and no container left.
fn assert_refused(d: &Berthd, img: &str, flags: &[&str], message: &str) {
    let before = d.docker_ok(&["ps", "-aq"]);
    let out = d.run_sh(img, flags, "true");
    assert_eq!(out.status, 125, "{flags:?}: {out}");
    assert!(out.stderr.contains(message), "{flags:?}: {out}");
    assert_eq!(
        d.docker_ok(&["ps", "-aq"]),
        before,
        "{flags:?} left nothing"
    );
}

/// `POST /containers/create` with a raw body: what the docker CLI would never send.
fn create_raw(d: &Berthd, body: serde_json::Value) -> HttpResponse {
    unix_http_request(
        &d.socket_path(),
        "POST",
        "/v1.47/containers/create",
        &[("Content-Type", "application/json")],
        body.to_string().as_bytes(),
    )
    .expect("create request")
}

/// The `df -k` size (KiB) of the filesystem at `path` in a container.
fn df_kib(d: &Berthd, img: &str, flags: &[&str], path: &str) -> String {
    let out = d.run_sh_ok(img, flags, &format!("df -k {path} | tail -n 1"));
    out.split_whitespace()
        .nth(1)
        .unwrap_or_default()
        .to_string()
}

#[test]
fn shm_size_sizes_dev_shm_and_inspect_shows_dockerds_default() {
    let (d, img) = engine_with_busybox();
    assert_eq!(df_kib(&d, &img, &[], "/dev/shm"), "65536", "dockerd's 64m");
    assert_eq!(df_kib(&d, &img, &["--shm-size", "8m"], "/dev/shm"), "8192");
    d.docker_ok(&["create", "--name", "dflt", &img, "true"]);
    d.docker_ok(&[
        "create",
        "--name",
        "sized",
        "--shm-size",
        "8m",
        &img,
        "true",
    ]);
    assert_eq!(
        d.inspect_format("dflt", "{{.HostConfig.ShmSize}}"),
        "67108864"
    );
    assert_eq!(
        d.inspect_format("sized", "{{.HostConfig.ShmSize}}"),
        "8388608"
    );
    assert_eq!(
        d.inspect_format("dflt", "{{.HostConfig.IpcMode}}"),
        "private"
    );

    let resp = create_raw(
        &d,
        serde_json::json!({"Image": img, "Cmd": ["true"], "HostConfig": {"ShmSize": -1}}),
    );
    assert_eq!(resp.status, 400, "{}", resp.text());
    assert_eq!(
        resp.json()["message"],
        "SHM size can not be less than 0",
        "dockerd's words"
    );
}

#[test]
fn sysctls_are_set_in_the_containers_namespaces_and_others_refused() {
    let (d, img) = engine_with_busybox();
    let out = d.run_sh_ok(
        &img,
        &[
            "--sysctl",
            "net.ipv4.ip_forward=1",
            "--sysctl",
            "kernel.shmmax=1000000",
        ],
        "cat /proc/sys/net/ipv4/ip_forward /proc/sys/kernel/shmmax",
    );
    assert_eq!(out, "1\n1000000");
    d.docker_ok(&[
        "create",
        "--name",
        "sy",
        "--sysctl",
        "net.ipv4.ip_forward=1",
        &img,
        "true",
    ]);
    assert_eq!(
        d.inspect_format("sy", "{{json .HostConfig.Sysctls}}"),
        r#"{"net.ipv4.ip_forward":"1"}"#
    );
    d.docker_ok(&["create", "--name", "none", &img, "true"]);
    assert_eq!(
        d.inspect_format("none", "{{json .HostConfig.Sysctls}}"),
        "null",
        "absent unless set, as dockerd"
    );

    // The host's namespaces are not the container's to change.
    assert_refused(
        &d,
        &img,
        &["--network", "host", "--sysctl", "net.ipv4.ip_forward=1"],
        "sysctl \"net.ipv4.ip_forward\" not allowed in host network namespace",
    );
    assert_refused(
        &d,
        &img,
        &["--ipc", "host", "--sysctl", "kernel.shmmax=1000000"],
        "sysctl \"kernel.shmmax\" is not allowed in the hosts ipc namespace",
    );
    // The docker CLI refuses a sysctl no namespace holds itself; berthd does too for others.
    let resp = create_raw(
        &d,
        serde_json::json!({"Image": img, "Cmd": ["true"],
            "HostConfig": {"Sysctls": {"kernel.foobar": "1"}}}),
    );
    assert_eq!(resp.status, 400, "{}", resp.text());
    assert_eq!(
        resp.json()["message"],
        "sysctl 'kernel.foobar=1' is not allowed"
    );
}

#[test]
fn oom_score_adj_reaches_the_process_and_is_range_checked() {
    let (d, img) = engine_with_busybox();
    let read = "cat /proc/self/oom_score_adj";
    assert_eq!(d.run_sh_ok(&img, &["--oom-score-adj", "500"], read), "500");
    assert_eq!(d.run_sh_ok(&img, &[], read), "0", "dockerd's 0");
    d.docker_ok(&[
        "create",
        "--name",
        "oom",
        "--oom-score-adj",
        "500",
        &img,
        "true",
    ]);
    assert_eq!(
        d.inspect_format("oom", "{{.HostConfig.OomScoreAdj}}"),
        "500"
    );
    assert_refused(
        &d,
        &img,
        &["--oom-score-adj", "1001"],
        "Invalid value 1001, range for oom score adj is [-1000, 1000]",
    );
}

#[test]
fn init_runs_as_pid_1_with_the_command_as_its_child() {
    let (d, img) = engine_with_busybox();
    let out = d.run_sh_ok(
        &img,
        &["--init"],
        "tr '\\0' ' ' < /proc/1/cmdline; echo; echo $$ $PPID",
    );
    let mut lines = out.lines();
    let init = lines.next().unwrap_or_default();
    assert!(init.starts_with("/sbin/docker-init -- sh -c"), "{out}");
    let ids: Vec<&str> = lines.next().unwrap_or_default().split(' ').collect();
    assert_ne!(ids.first(), Some(&"1"), "the command is not PID 1: {out}");
    assert_eq!(ids.get(1), Some(&"1"), "the init is its parent: {out}");
    // Without --init the command is PID 1, as before.
    assert_eq!(d.run_sh_ok(&img, &[], "echo $$"), "1");

    // The init forwards docker stop's SIGTERM: sleep dies of it (143), rather than being
    // killed after the timeout (137) as a PID 1 without a handler would be.
    d.docker_ok(&[
        "run", "-d", "--name", "tini", "--init", &img, "sleep", "300",
    ]);
    assert_eq!(d.inspect_format("tini", "{{.HostConfig.Init}}"), "true");
    assert_eq!(
        d.inspect_format("tini", "{{.Path}}"),
        "sleep",
        "as dockerd shows it"
    );
    d.docker_ok(&["stop", "tini"]);
    let code = d.inspect_format("tini", "{{.State.ExitCode}}");
    assert!(code == "143" || code == "0", "exit code {code}");
    d.docker_ok(&["create", "--name", "plain", &img, "true"]);
    assert_eq!(d.inspect_format("plain", "{{.HostConfig.Init}}"), "<nil>");
}

#[test]
fn init_without_a_binary_is_refused_clearly() {
    let reg = fixture_registry();
    let d = Berthd::start_with_args(&["--init-path", "/nonexistent/docker-init"]);
    let img = reg.image("busybox:latest");
    d.docker_ok(&["pull", "-q", &img]);
    assert_refused(&d, &img, &["--init"], "--init-path");
    assert_eq!(
        d.run_sh_ok(&img, &[], "echo ok"),
        "ok",
        "no --init, no binary needed"
    );
}

#[test]
fn pid_host_and_pid_container_join_those_namespaces() {
    let (d, img) = engine_with_busybox();
    let host_init = std::fs::read_to_string("/proc/1/comm").expect("host /proc/1/comm");
    assert_eq!(
        d.run_sh_ok(&img, &["--pid", "host"], "cat /proc/1/comm"),
        host_init.trim()
    );
    d.docker_ok(&["create", "--name", "ph", "--pid", "host", &img, "true"]);
    assert_eq!(d.inspect_format("ph", "{{.HostConfig.PidMode}}"), "host");
    d.docker_ok(&["create", "--name", "pp", &img, "true"]);
    assert_eq!(d.inspect_format("pp", "{{.HostConfig.PidMode}}"), "");

    d.docker_ok(&["run", "-d", "--name", "target", &img, "sleep", "300"]);
    let out = d.run_sh_ok(
        &img,
        &["--pid", "container:target"],
        "tr '\\0' ' ' < /proc/1/cmdline",
    );
    assert_eq!(out, "sleep 300", "PID 1 is the target's command");
    let id = d.inspect_format("target", "{{.Id}}");
    d.docker_ok(&[
        "create",
        "--name",
        "joiner",
        "--pid",
        "container:target",
        &img,
        "true",
    ]);
    assert_eq!(
        d.inspect_format("joiner", "{{.HostConfig.PidMode}}"),
        format!("container:{id}"),
        "stored by ID, as dockerd"
    );

    d.docker_ok(&["create", "--name", "idle", &img, "true"]);
    let idle = d.inspect_format("idle", "{{.Id}}");
    assert_refused(
        &d,
        &img,
        &["--pid", "container:idle"],
        &format!("failed to join PID namespace: container {idle} is not running"),
    );
}

#[test]
fn ipc_host_shareable_container_and_none() {
    let (d, img) = engine_with_busybox();
    let host_ns = std::fs::read_link("/proc/self/ns/ipc").expect("host ipc ns");
    assert_eq!(
        d.run_sh_ok(&img, &["--ipc", "host"], "readlink /proc/self/ns/ipc"),
        host_ns.to_string_lossy()
    );
    assert_ne!(
        d.run_sh_ok(&img, &[], "readlink /proc/self/ns/ipc"),
        host_ns.to_string_lossy(),
        "private by default"
    );

    d.docker_ok(&[
        "run",
        "-d",
        "--name",
        "donor",
        "--ipc",
        "shareable",
        "--shm-size",
        "8m",
        &img,
        "sleep",
        "300",
    ]);
    assert_eq!(
        d.inspect_format("donor", "{{.HostConfig.IpcMode}}"),
        "shareable"
    );
    let donor_ns = d.docker_ok(&["exec", "donor", "readlink", "/proc/self/ns/ipc"]);
    d.docker_ok(&["exec", "donor", "sh", "-c", "echo shared > /dev/shm/x"]);
    let out = d.run_sh_ok(
        &img,
        &["--ipc", "container:donor"],
        "readlink /proc/self/ns/ipc; cat /dev/shm/x; df -k /dev/shm | tail -n 1",
    );
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines.first().copied(),
        Some(donor_ns.trim()),
        "its namespace"
    );
    assert_eq!(lines.get(1).copied(), Some("shared"), "its /dev/shm");
    let size = lines.get(2).and_then(|l| l.split_whitespace().nth(1));
    assert_eq!(size, Some("8192"), "the donor's --shm-size: {out}");
    let id = d.inspect_format("donor", "{{.Id}}");
    d.docker_ok(&[
        "create",
        "--name",
        "joiner",
        "--ipc",
        "container:donor",
        &img,
        "true",
    ]);
    assert_eq!(
        d.inspect_format("joiner", "{{.HostConfig.IpcMode}}"),
        format!("container:{id}")
    );

    // The donor's /dev/shm is a tmpfs on the host while it runs, and gone once it stops.
    let shm_mounted = || {
        let info = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
        info.contains(&format!("{id}/shm "))
    };
    assert!(shm_mounted(), "a host tmpfs for the shareable /dev/shm");
    d.docker_ok(&["stop", "-t", "0", "donor"]);
    wait_until(
        "the donor's /dev/shm unmounted",
        std::time::Duration::from_secs(30),
        || {
            if shm_mounted() {
                Err("still mounted".to_string())
            } else {
                Ok(())
            }
        },
    );

    // A private container's namespace is not for sharing (dockerd's hint), nor a stopped one's.
    d.docker_ok(&["run", "-d", "--name", "private", &img, "sleep", "300"]);
    assert_refused(
        &d,
        &img,
        &["--ipc", "container:private"],
        "non-shareable IPC (hint: use IpcMode:shareable for the donor container)",
    );
    d.docker_ok(&[
        "create",
        "--name",
        "idle",
        "--ipc",
        "shareable",
        &img,
        "true",
    ]);
    let idle = d.inspect_format("idle", "{{.Id}}");
    assert_refused(
        &d,
        &img,
        &["--ipc", "container:idle"],
        &format!("failed to join IPC namespace: container {idle} is not running"),
    );

    // none: an IPC namespace of its own and no /dev/shm.
    assert_eq!(
        d.run_sh_ok(
            &img,
            &["--ipc", "none"],
            "grep -c ' /dev/shm ' /proc/mounts || true"
        ),
        "0"
    );
}

#[test]
fn cgroupns_private_host_and_dockerds_default() {
    let (d, img) = engine_with_busybox();
    let host_ns = std::fs::read_link("/proc/self/ns/cgroup").expect("host cgroup ns");
    let host_ns = host_ns.to_string_lossy().into_owned();
    let ns = |flags: &[&str]| d.run_sh_ok(&img, flags, "readlink /proc/self/ns/cgroup");
    assert_eq!(ns(&["--cgroupns", "host"]), host_ns);
    assert_ne!(ns(&["--cgroupns", "private"]), host_ns);
    // In a private namespace the container's own cgroup is its root.
    let own = d.run_sh_ok(&img, &["--cgroupns", "private"], "cat /proc/self/cgroup");
    assert!(own.lines().all(|l| l.ends_with(":/")), "{own}");
    // Unset: dockerd's default for the host's cgroup version, stored so inspect shows it.
    let v2 = d
        .docker_ok(&["info", "--format", "{{.CgroupVersion}}"])
        .trim()
        == "2";
    let want = if v2 { "private" } else { "host" };
    d.docker_ok(&["create", "--name", "plain", &img, "true"]);
    assert_eq!(
        d.inspect_format("plain", "{{.HostConfig.CgroupnsMode}}"),
        want
    );
    assert_eq!(ns(&[]) == host_ns, !v2, "the default is {want}");
    // The docker CLI checks the value itself; the API answers as dockerd.
    let body = format!(r#"{{"Image":"{img}","HostConfig":{{"CgroupnsMode":"bogus"}}}}"#);
    let resp = unix_http_request(
        &d.socket_path(),
        "POST",
        "/containers/create",
        &[("Content-Type", "application/json")],
        body.as_bytes(),
    )
    .expect("create request");
    assert_eq!(resp.status, 400);
    assert!(
        String::from_utf8_lossy(&resp.body).contains("invalid cgroup namespace mode: bogus"),
        "{}",
        String::from_utf8_lossy(&resp.body)
    );
}

#[test]
fn uts_host_shares_the_hosts_hostname() {
    let (d, img) = engine_with_busybox();
    let host_ns = std::fs::read_link("/proc/self/ns/uts").expect("host uts ns");
    let host_name = hostname_of_host();
    let out = d.run_sh_ok(
        &img,
        &["--uts", "host"],
        "readlink /proc/self/ns/uts; hostname",
    );
    assert_eq!(
        out,
        format!("{}\n{host_name}", host_ns.to_string_lossy()),
        "the host's UTS namespace and name"
    );
    let own = d.run_sh_ok(&img, &[], "readlink /proc/self/ns/uts");
    assert_ne!(own, host_ns.to_string_lossy());
    d.docker_ok(&["create", "--name", "uts", "--uts", "host", &img, "true"]);
    assert_eq!(d.inspect_format("uts", "{{.HostConfig.UTSMode}}"), "host");
    let out = d.docker(&[
        "run",
        "--rm",
        "--uts",
        "host",
        "--hostname",
        "x",
        &img,
        "true",
    ]);
    assert!(
        !out.success()
            && out
                .stderr
                .contains("conflicting options: hostname and the UTS mode"),
        "{out}"
    );
}

fn hostname_of_host() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .expect("hostname")
        .trim()
        .to_string()
}

#[test]
fn devices_are_mapped_with_their_permissions() {
    let (d, img) = engine_with_busybox();
    // /dev/null under another name, usable as the host's.
    let out = d.run_sh_ok(
        &img,
        &["--device", "/dev/null:/dev/mine"],
        "ls -l /dev/mine; echo x > /dev/mine && echo written",
    );
    assert!(out.contains("1,   3") || out.contains("1, 3"), "{out}");
    assert!(out.ends_with("written"), "{out}");
    // A node outside the default allowlist, read-only: opened for reading, refused for writing
    // by the device cgroup; without the mapping it is not there at all.
    let out = d.run_sh(
        &img,
        &["--device", "/dev/loop-control:/dev/lc:r"],
        "(: < /dev/lc) && echo read-ok; (: > /dev/lc) || echo write-refused",
    );
    assert!(
        out.stdout.contains("read-ok") && out.stdout.contains("write-refused"),
        "{out}"
    );
    assert!(
        out.stderr.contains("Operation not permitted"),
        "the cgroup's EPERM: {out}"
    );
    let out = d.run_sh(&img, &[], "ls /dev/loop-control || echo absent");
    assert!(out.stdout.contains("absent"), "{out}");
    d.docker_ok(&[
        "create",
        "--name",
        "dev",
        "--device",
        "/dev/zero",
        &img,
        "true",
    ]);
    assert_eq!(
        d.inspect_format("dev", "{{json .HostConfig.Devices}}"),
        r#"[{"PathOnHost":"/dev/zero","PathInContainer":"/dev/zero","CgroupPermissions":"rwm"}]"#
    );
    let out = d.docker(&["create", "--device", "/dev/nope", &img, "true"]);
    assert!(
        !out.success()
            && out
                .stderr
                .contains("error gathering device information while adding custom device"),
        "{out}"
    );
}

#[test]
fn device_cgroup_rules_extend_the_allowlist() {
    let (d, img) = engine_with_busybox();
    // A node the container makes for loop0: the default allowlist refuses to open it.
    let read = "mknod /tmp/loop b 7 0 && (exec 3</tmp/loop) && echo opened";
    let write = "mknod /tmp/loop b 7 0 && (exec 3>/tmp/loop) && echo opened";
    let denied = d.run_sh(&img, &[], read);
    assert!(
        denied.stderr.contains("Operation not permitted"),
        "{denied}"
    );
    // Allowed for reading by a rule: the open reaches the driver (opened, or ENXIO when no
    // loop device 0 exists on this host), and writing is still refused.
    let rule = ["--device-cgroup-rule", "b 7:* r"];
    let allowed = d.run_sh(&img, &rule, read);
    assert!(
        !allowed.stderr.contains("Operation not permitted")
            && (allowed.stdout.contains("opened") || allowed.stderr.contains("No such device")),
        "{allowed}"
    );
    let written = d.run_sh(&img, &rule, write);
    assert!(
        written.stderr.contains("Operation not permitted"),
        "{written}"
    );

    d.docker_ok(&[
        "create",
        "--name",
        "ruled",
        "--device-cgroup-rule",
        "b 7:* r",
        &img,
    ]);
    assert_eq!(
        d.inspect_format("ruled", "{{json .HostConfig.DeviceCgroupRules}}"),
        r#"["b 7:* r"]"#
    );
    d.docker_ok(&["create", "--name", "plain", &img]);
    assert_eq!(
        d.inspect_format("plain", "{{json .HostConfig.DeviceCgroupRules}}"),
        "null"
    );
    // A malformed rule (the CLI checks its own flag; an API client gets dockerd's error).
    let bad = create_raw(
        &d,
        serde_json::json!({"Image": img, "HostConfig": {"DeviceCgroupRules": ["c 1 r"]}}),
    );
    assert_eq!(bad.status, 400, "{}", bad.text());
    assert!(
        bad.text()
            .contains("invalid device cgroup rule format: 'c 1 r'"),
        "{}",
        bad.text()
    );
}
