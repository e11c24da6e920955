//! Confinement as dockerd's defaults, checked from inside containers with the docker CLI: the
//! default seccomp profile (containers and execs), `--security-opt`, masked and read-only paths,
//! the device allowlist, `--privileged`, and capabilities of a non-root user.

use berth_tests::*;

/// The value of a `/proc/self/status` field as the container's process sees it.
fn status_field(d: &Berthd, img: &str, flags: &[&str], field: &str) -> String {
    let out = d.run_sh_ok(img, flags, &format!("grep '^{field}:' /proc/self/status"));
    out.split(':').nth(1).unwrap_or_default().trim().to_string()
}

#[test]
fn default_seccomp_profile_confines_containers_and_execs() {
    let (d, img) = engine_with_busybox();
    // Mode 2: a seccomp filter is installed.
    assert_eq!(status_field(&d, &img, &[], "Seccomp"), "2");
    // unshare(2) needs CAP_SYS_ADMIN in the profile: refused with EPERM.
    let out = d.run_sh(&img, &[], "unshare -U true");
    assert_ne!(out.status, 0, "{out}");
    assert!(out.stderr.contains("Operation not permitted"), "{out}");
    // The capability-conditional part: --cap-add SYS_ADMIN adds unshare and setns.
    d.run_sh_ok(&img, &["--cap-add", "SYS_ADMIN"], "unshare -U true");
    // Without a namespace flag clone(2) is allowed: processes are created as ever.
    assert_eq!(d.run_sh_ok(&img, &[], "echo $(echo sub)"), "sub");
    // The argument-conditional personality rules: PER_LINUX32 (linux32) is one of the allowed.
    if cfg!(target_arch = "x86_64") {
        assert_eq!(d.run_sh_ok(&img, &[], "linux32 uname -m").trim(), "i686");
    }

    // unconfined and --privileged lift the filter.
    for flags in [
        &["--security-opt", "seccomp=unconfined"][..],
        &["--privileged"],
    ] {
        assert_eq!(status_field(&d, &img, flags, "Seccomp"), "0", "{flags:?}");
        d.run_sh_ok(&img, flags, "unshare -U true");
    }
    // `seccomp=builtin` names the default.
    assert_eq!(
        status_field(&d, &img, &["--security-opt", "seccomp=builtin"], "Seccomp"),
        "2"
    );

    // An exec runs under the container's filter, `exec --privileged` included.
    d.docker_ok(&["run", "-d", "--name", "confined", &img, "sleep", "600"]);
    let st = d.docker_ok(&["exec", "confined", "grep", "^Seccomp:", "/proc/self/status"]);
    assert!(st.ends_with("2\n"), "{st}");
    let st = d.docker_ok(&[
        "exec",
        "--privileged",
        "confined",
        "grep",
        "^Seccomp:",
        "/proc/self/status",
    ]);
    assert!(st.ends_with("2\n"), "{st}");
    let out = d.docker(&["exec", "confined", "unshare", "-U", "true"]);
    assert_ne!(out.status, 0, "{out}");
    d.docker_ok(&[
        "run",
        "-d",
        "--name",
        "open",
        "--security-opt",
        "seccomp=unconfined",
        &img,
        "sleep",
        "600",
    ]);
    let st = d.docker_ok(&["exec", "open", "grep", "^Seccomp:", "/proc/self/status"]);
    assert!(st.ends_with("0\n"), "{st}");
    d.docker_ok(&["rm", "-f", "confined", "open"]);

    // /info claims the profile and the private cgroup namespace of cgroup v2.
    let opts = d.docker_ok(&["info", "--format", "{{json .SecurityOptions}}"]);
    assert!(opts.contains("\"name=seccomp,profile=builtin\""), "{opts}");
    let v2 = d
        .docker_ok(&["info", "--format", "{{.CgroupVersion}}"])
        .trim()
        == "2";
    assert_eq!(opts.contains("\"name=cgroupns\""), v2, "{opts}");
}

#[test]
fn custom_seccomp_profile_from_a_file() {
    let (d, img) = engine_with_busybox();
    // moby's format: allow everything but mkdir, which gets EACCES; with an archMap.
    let profile = d.dir().join("no-mkdir.json");
    std::fs::write(
        &profile,
        r#"{
            "defaultAction": "SCMP_ACT_ALLOW",
            "archMap": [{"architecture": "SCMP_ARCH_X86_64", "subArchitectures": ["SCMP_ARCH_X86"]},
                        {"architecture": "SCMP_ARCH_AARCH64", "subArchitectures": null}],
            "syscalls": [
                {"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13},
                {"names": ["unshare"], "action": "SCMP_ACT_ERRNO", "includes": {"caps": ["CAP_SYS_ADMIN"]}}
            ]
        }"#,
    )
    .unwrap();
    let opt = format!("seccomp={}", profile.display());
    let out = d.run_sh(&img, &["--security-opt", &opt], "touch /f && mkdir /dir");
    assert_ne!(out.status, 0, "{out}");
    assert!(out.stderr.contains("Permission denied"), "{out}");
    // The rule on unshare only applies with CAP_SYS_ADMIN, which the container lacks.
    assert_eq!(
        status_field(&d, &img, &["--security-opt", &opt], "Seccomp"),
        "2"
    );

    // A profile the runtime could not apply is refused at create, nothing is left behind.
    let bad = d.dir().join("bad.json");
    std::fs::write(&bad, r#"{"defaultAction": "SCMP_ACT_NOPE"}"#).unwrap();
    let out = d.docker(&[
        "create",
        "--security-opt",
        &format!("seccomp={}", bad.display()),
        &img,
    ]);
    assert_ne!(out.status, 0, "{out}");
    assert!(
        out.stderr.contains("Decoding seccomp profile failed"),
        "{out}"
    );
    assert_eq!(d.docker_ok(&["ps", "-aq"]).trim(), "");
}

#[test]
fn security_opt_values_as_dockerd() {
    let (d, img) = engine_with_busybox();
    assert_eq!(status_field(&d, &img, &[], "NoNewPrivs"), "0");
    for opt in [
        "no-new-privileges",
        "no-new-privileges=true",
        "no-new-privileges:true",
    ] {
        assert_eq!(
            status_field(&d, &img, &["--security-opt", opt], "NoNewPrivs"),
            "1",
            "{opt}"
        );
    }
    assert_eq!(
        status_field(
            &d,
            &img,
            &["--security-opt", "no-new-privileges=false"],
            "NoNewPrivs"
        ),
        "0"
    );
    // Execs get the container's no-new-privileges.
    d.docker_ok(&[
        "run",
        "-d",
        "--name",
        "nnp",
        "--security-opt",
        "no-new-privileges",
        &img,
        "sleep",
        "600",
    ]);
    let st = d.docker_ok(&["exec", "nnp", "grep", "^NoNewPrivs:", "/proc/self/status"]);
    assert!(st.ends_with("1\n"), "{st}");
    let opts = d.inspect_format("nnp", "{{json .HostConfig.SecurityOpt}}");
    assert_eq!(opts, r#"["no-new-privileges"]"#);
    d.docker_ok(&["rm", "-f", "nnp"]);

    // dockerd's errors for values it does not know, as 400s.
    for (opt, msg) in [
        ("bogus=1", r#"invalid --security-opt 2: "bogus=1""#),
        (
            "no-new-privileges=maybe",
            r#"invalid --security-opt 2: "no-new-privileges=maybe""#,
        ),
    ] {
        let out = d.docker(&["create", "--security-opt", opt, &img]);
        assert_ne!(out.status, 0, "{out}");
        assert!(out.stderr.contains(msg), "{opt}: {out}");
    }
    let body = format!(r#"{{"Image":"{img}","HostConfig":{{"SecurityOpt":["bogus"]}}}}"#);
    let resp = unix_http_request(
        &d.socket_path(),
        "POST",
        "/v1.47/containers/create",
        &[("Content-Type", "application/json")],
        body.as_bytes(),
    )
    .unwrap();
    assert_eq!(resp.status, 400, "{}", resp.text());
    assert_eq!(
        resp.json()["message"],
        r#"invalid --security-opt 1: "bogus""#
    );

    // This host has neither AppArmor nor SELinux: a profile or label is refused rather than
    // dropped; `unconfined` and `label=disable` are what the container gets anyway.
    let apparmor = std::fs::read_to_string("/sys/module/apparmor/parameters/enabled")
        .is_ok_and(|s| s.starts_with('Y'));
    if !apparmor {
        let out = d.docker(&["create", "--security-opt", "apparmor=docker-default", &img]);
        assert_ne!(out.status, 0, "{out}");
        assert!(
            out.stderr
                .contains("apparmor: config provided but apparmor not supported"),
            "{out}"
        );
    }
    if !std::path::Path::new("/sys/fs/selinux/enforce").exists() {
        let out = d.docker(&["create", "--security-opt", "label=type:container_t", &img]);
        assert_ne!(out.status, 0, "{out}");
        assert!(out.stderr.contains("SELinux is not enabled"), "{out}");
    }
    d.run_sh_ok(
        &img,
        &[
            "--security-opt",
            "apparmor=unconfined",
            "--security-opt",
            "label=disable",
        ],
        "true",
    );
    // dockerd records that a privileged container runs unlabelled.
    d.docker_ok(&["create", "--name", "priv", "--privileged", &img]);
    assert_eq!(
        d.inspect_format("priv", "{{json .HostConfig.SecurityOpt}}"),
        r#"["label=disable"]"#
    );
    d.docker_ok(&["rm", "priv"]);
    assert_eq!(d.docker_ok(&["ps", "-aq"]).trim(), "");
}

/// For each of dockerd's masked paths the container has: `masked` when it reads as empty.
const MASK_CHECK: &str = r#"
for p in /proc/asound /proc/acpi /proc/interrupts /proc/kcore /proc/keys /proc/latency_stats \
         /proc/timer_list /proc/timer_stats /proc/sched_debug /proc/scsi /sys/firmware \
         /sys/devices/virtual/powercap; do
  if [ -d $p ]; then
    if [ -z "$(ls -A $p)" ]; then echo "$p masked"; else echo "$p open"; fi
  elif [ -e $p ]; then
    if [ -z "$(head -c 1 $p 2>/dev/null)" ]; then echo "$p masked"; else echo "$p open"; fi
  fi
done
"#;

/// The options of the mount at `dst` in the container's mountinfo.
fn mount_opts(mountinfo: &str, dst: &str) -> String {
    mountinfo
        .lines()
        .find(|l| l.split(' ').nth(4) == Some(dst))
        .map(|l| {
            let f: Vec<&str> = l.split(' ').collect();
            format!("{} {}", f[5], f.last().copied().unwrap_or_default())
        })
        .unwrap_or_default()
}

/// Whether every cgroup filesystem mounted in the container (v2's one, or v1's per-controller
/// mounts under a tmpfs) is mounted read-only.
fn cgroups_read_only(mountinfo: &str) -> Vec<bool> {
    mountinfo
        .lines()
        .filter(|l| {
            let fstype = l.split(" - ").nth(1).and_then(|t| t.split(' ').next());
            matches!(fstype, Some("cgroup" | "cgroup2"))
        })
        .map(|l| l.split(' ').nth(5).is_some_and(|o| o.starts_with("ro")))
        .collect()
}

#[test]
fn masked_paths_proc_sys_and_devices() {
    let (d, img) = engine_with_busybox();
    let out = d.run_sh_ok(&img, &[], MASK_CHECK);
    assert!(out.contains("/proc/interrupts masked"), "{out}");
    assert!(!out.contains(" open"), "{out}");
    let info = d.run_sh_ok(&img, &[], "cat /proc/self/mountinfo");
    let proc = mount_opts(&info, "/proc");
    for o in ["nosuid", "nodev", "noexec"] {
        assert!(proc.contains(o), "/proc: {proc}");
    }
    assert!(mount_opts(&info, "/proc/sys").starts_with("ro,"), "{info}");
    assert!(mount_opts(&info, "/sys").starts_with("ro,"), "{info}");
    let ro = cgroups_read_only(&info);
    assert!(!ro.is_empty() && ro.iter().all(|r| *r), "{info}");
    // The device allowlist: a node the container makes for a disk (loop0) cannot be opened.
    let dev = "mknod /tmp/loop b 7 0 && (exec 3</tmp/loop) && echo opened";
    let out = d.run_sh(&img, &[], dev);
    assert!(
        out.stderr
            .contains("can't open /tmp/loop: Operation not permitted"),
        "{out}"
    );

    // --privileged: nothing masked, /sys and the cgroup tree writable, all devices allowed.
    let out = d.run_sh_ok(&img, &["--privileged"], MASK_CHECK);
    assert!(out.contains("/proc/interrupts open"), "{out}");
    let info = d.run_sh_ok(&img, &["--privileged"], "cat /proc/self/mountinfo");
    assert!(mount_opts(&info, "/sys").starts_with("rw,"), "{info}");
    let ro = cgroups_read_only(&info);
    assert!(!ro.is_empty() && ro.iter().all(|r| !*r), "{info}");
    assert!(mount_opts(&info, "/proc/sys").is_empty(), "{info}");
    let out = d.run_sh(&img, &["--privileged"], dev);
    assert!(!out.stderr.contains("Operation not permitted"), "{out}");
    // The host's device nodes are there.
    let host_has_kmsg = std::path::Path::new("/dev/kmsg").exists();
    let ls = d.run_sh_ok(&img, &["--privileged"], "ls /dev");
    assert_eq!(ls.lines().any(|l| l == "kmsg"), host_has_kmsg, "{ls}");
    let ls = d.run_sh_ok(&img, &[], "ls /dev");
    assert!(!ls.lines().any(|l| l == "kmsg"), "{ls}");
    // writable-cgroups alone.
    let info = d.run_sh_ok(
        &img,
        &["--security-opt", "writable-cgroups=true"],
        "cat /proc/self/mountinfo",
    );
    let ro = cgroups_read_only(&info);
    assert!(!ro.is_empty() && ro.iter().all(|r| !*r), "{info}");
    assert!(mount_opts(&info, "/sys").starts_with("ro,"), "{info}");
}

#[test]
fn non_root_users_have_no_capabilities_in_containers_and_execs() {
    let (d, img) = engine_with_busybox();
    let caps = |flags: &[&str]| {
        let out = d.run_sh_ok(&img, flags, "grep -E '^Cap(Eff|Prm):' /proc/self/status");
        out.split_whitespace().collect::<Vec<_>>().join(" ")
    };
    assert_eq!(
        caps(&["-u", "1000"]),
        "CapPrm: 0000000000000000 CapEff: 0000000000000000"
    );
    // Root keeps dockerd's default set (chown … audit_write).
    assert_eq!(
        caps(&[]),
        "CapPrm: 00000000a80425fb CapEff: 00000000a80425fb"
    );
    d.docker_ok(&["run", "-d", "--name", "capc", &img, "sleep", "600"]);
    let exec_caps = |user: &[&str]| {
        let mut args = vec!["exec"];
        args.extend_from_slice(user);
        args.extend_from_slice(&["capc", "grep", "-E", "^Cap(Eff|Prm):", "/proc/self/status"]);
        let out = d.docker_ok(&args);
        out.split_whitespace().collect::<Vec<_>>().join(" ")
    };
    assert_eq!(
        exec_caps(&["-u", "1000"]),
        "CapPrm: 0000000000000000 CapEff: 0000000000000000"
    );
    assert_eq!(
        exec_caps(&["-u", "berth"]),
        "CapPrm: 0000000000000000 CapEff: 0000000000000000"
    );
    assert_eq!(
        exec_caps(&[]),
        "CapPrm: 00000000a80425fb CapEff: 00000000a80425fb"
    );
    d.docker_ok(&["rm", "-f", "capc"]);

    // `USER` in the image, from a classic `docker build` whose RUN step also ran under the
    // default seccomp profile (as dockerd's builder).
    let ctx = d.dir().join("user-ctx");
    std::fs::create_dir_all(&ctx).unwrap();
    std::fs::write(
        ctx.join("Dockerfile"),
        format!("FROM {img}\nRUN grep '^Seccomp:' /proc/self/status > /seccomp\nUSER berth\n"),
    )
    .unwrap();
    let out = d
        .docker_command(&["build", "-q", "-t", "confined-user", ctx.to_str().unwrap()])
        .env("DOCKER_BUILDKIT", "0")
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let out = d.docker_ok(&[
        "run",
        "--rm",
        "confined-user",
        "sh",
        "-c",
        "cat /seccomp; id -u; grep -E '^Cap(Eff|Prm):' /proc/self/status",
    ]);
    assert_eq!(
        out.split_whitespace().collect::<Vec<_>>().join(" "),
        "Seccomp: 2 1000 CapPrm: 0000000000000000 CapEff: 0000000000000000"
    );
    d.docker_ok(&["rmi", "confined-user"]);
}
