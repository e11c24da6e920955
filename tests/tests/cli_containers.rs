//! Running containers through runc with the docker CLI: run, ps, inspect, logs, exec, lifecycle.

use berth_tests::*;

fn started() -> (Berthd, String) {
    engine_with_busybox()
}

#[test]
fn run_exit_codes_output_and_auto_pull() {
    let reg = fixture_registry();
    let d = Berthd::start();
    let img = reg.image("busybox:latest");
    // Not local yet: docker run pulls it first.
    let out = d.docker(&["run", "--rm", &img, "echo", "hello"]);
    assert_eq!(out.status, 0, "{out}");
    assert_eq!(out.stdout.trim(), "hello");
    assert!(out.stderr.contains("Unable to find image"), "{out}");

    let out = d.docker(&[
        "run",
        "--rm",
        &img,
        "sh",
        "-c",
        "echo out; echo err >&2; exit 3",
    ]);
    assert_eq!(out.status, 3, "{out}");
    assert_eq!(out.stdout, "out\n");
    assert_eq!(out.stderr, "err\n");

    let out = d.docker(&["run", "--rm", &img, "no-such-binary"]);
    assert_eq!(out.status, 127, "{out}");
    assert_eq!(
        d.docker_ok(&["ps", "-aq"]).trim(),
        "",
        "--rm containers are gone"
    );

    let env_file = d.dir().join("env");
    std::fs::write(&env_file, "FROM_FILE=yes\n").unwrap();
    let out = d.docker_ok(&[
        "run",
        "--rm",
        "-e",
        "A=1",
        "--env-file",
        env_file.to_str().unwrap(),
        "-w",
        "/tmp",
        "-u",
        "berth",
        "--hostname",
        "boaty",
        &img,
        "sh",
        "-c",
        "echo $A $FROM_FILE $(pwd) $(id -u) $(hostname) $(cat /etc/hostname)",
    ]);
    assert_eq!(out.trim(), "1 yes /tmp 1000 boaty boaty");
    let out = d.docker_ok(&[
        "run",
        "--rm",
        "--entrypoint",
        "echo",
        &img,
        "via",
        "entrypoint",
    ]);
    assert_eq!(out.trim(), "via entrypoint");
    let out = d.docker_ok(&["run", "--rm", "-i", &img, "cat"]);
    assert_eq!(out, "");
    let piped = d.docker_with_stdin(
        &["run", "--rm", "-i", &img, "sh", "-c", "cat; echo done"],
        "piped\n",
    );
    assert_eq!(piped.stdout, "piped\ndone\n", "{piped}");
    let net = d.docker_ok(&[
        "run",
        "--rm",
        "--network",
        "none",
        &img,
        "sh",
        "-c",
        "ls /sys/class/net",
    ]);
    assert_eq!(net.trim(), "lo");
}

#[test]
fn ps_inspect_rename_and_filters() {
    let (d, img) = started();
    let id = d
        .docker_ok(&[
            "run",
            "-d",
            "--name",
            "web",
            "-l",
            "tier=front",
            &img,
            "sleep",
            "60",
        ])
        .trim()
        .to_string();
    assert_eq!(id.len(), 64);
    d.docker_ok(&["create", "--name", "idle", &img, "true"]);
    assert_eq!(
        d.docker(&["run", "--name", "failed", &img, "sh", "-c", "exit 2"])
            .status,
        2
    );
    let running = d.docker_ok(&["ps", "--format", "{{.Names}}"]);
    assert_eq!(running.trim(), "web");
    let all = d.docker_ok(&["ps", "-a", "--format", "{{.Names}} {{.Status}}"]);
    assert!(
        all.contains("idle Created") && all.contains("failed Exited (2)"),
        "{all}"
    );
    assert_eq!(d.docker_ok(&["ps", "-q", "--no-trunc"]).trim(), id);
    assert_eq!(d.docker_ok(&["ps", "-q"]).trim(), &id[..12]);
    let f = |flt: &str| {
        d.docker_ok(&["ps", "-a", "--filter", flt, "--format", "{{.Names}}"])
            .trim()
            .to_string()
    };
    assert_eq!(f("status=exited"), "failed");
    assert_eq!(f("exited=2"), "failed");
    assert_eq!(f("label=tier=front"), "web");
    assert_eq!(f("name=idl"), "idle");
    assert_eq!(f(&format!("id={}", &id[..10])), "web");
    assert_eq!(f(&format!("ancestor={img}")).lines().count(), 3);
    // Creation order is web, idle, failed; listings are newest first and before/since cut there.
    assert_eq!(f("before=failed"), "idle\nweb");
    assert_eq!(f("since=web"), "failed\nidle");
    assert_eq!(f(&format!("since={}", &id[..12])), "failed\nidle");
    let missing = d.docker(&["ps", "--filter", "before=nope"]);
    assert!(
        !missing.success() && missing.stderr.contains("No such container: nope"),
        "{missing}"
    );
    // A limit counts stopped containers too, as in dockerd.
    assert_eq!(
        d.docker_ok(&["ps", "-n", "2", "--format", "{{.Names}}"])
            .trim(),
        "failed\nidle"
    );
    // No container runs a health check here, and none is a swarm task.
    assert_eq!(f("health=none").lines().count(), 3);
    assert_eq!(f("health=healthy"), "");
    let bad = d.docker(&["ps", "--filter", "health=great"]);
    assert!(
        bad.stderr
            .contains("Unrecognised filter value for health: great"),
        "{bad}"
    );
    assert_eq!(f("is-task=false").lines().count(), 3);
    assert_eq!(f("is-task=true"), "");
    // Published and exposed ports, single or ranges; a host address is refused.
    d.docker_ok(&[
        "create",
        "--name",
        "ported",
        "-p",
        "127.0.0.1::80",
        "--expose",
        "9000-9001/udp",
        &img,
        "true",
    ]);
    assert_eq!(f("publish=80"), "ported");
    assert_eq!(f("publish=70-90/tcp"), "ported");
    assert_eq!(f("publish=80/udp"), "");
    assert_eq!(f("expose=9001/udp"), "ported");
    assert_eq!(f("expose=80"), "ported", "a published port is exposed too");
    assert_eq!(f("expose=9001"), "");
    let bad = d.docker(&["ps", "--filter", "publish=0.0.0.0:80"]);
    assert!(
        bad.stderr
            .contains("filter for 'publish' should not contain ':'"),
        "{bad}"
    );
    // Networks by name or ID prefix: the running one is on the default bridge.
    let bridge = d.docker_ok(&["network", "inspect", "-f", "{{.Id}}", "bridge"]);
    assert!(
        f("network=bridge").lines().any(|n| n == "web"),
        "{}",
        f("network=bridge")
    );
    assert!(f(&format!("network={}", &bridge.trim()[..12]))
        .lines()
        .any(|n| n == "web"));
    assert_eq!(f("network=nosuchnet"), "");
    d.docker_ok(&["rm", "ported"]);
    let st = d.docker_ok(&[
        "inspect",
        "-f",
        "{{.State.Status}} {{.State.Running}} {{.Name}} {{.Config.Image}}",
        "web",
    ]);
    assert_eq!(st.trim(), format!("running true /web {img}"));
    let env = d.docker_ok(&["inspect", "-f", "{{json .Config.Env}}", "web"]);
    assert!(env.contains("PATH="), "{env}");
    let code = d.docker_ok(&["inspect", "-f", "{{.State.ExitCode}}", "failed"]);
    assert_eq!(code.trim(), "2");
    d.docker_ok(&["rename", "web", "site"]);
    assert_eq!(
        d.docker_ok(&["inspect", "-f", "{{.Name}}", "site"]).trim(),
        "/site"
    );
    let conflict = d.docker(&["run", "-d", "--name", "site", &img, "true"]);
    assert_eq!(conflict.status, 125);
    assert!(conflict.stderr.contains("is already in use"), "{conflict}");
    // Generated names look like dockerd's.
    let gen = d.docker_ok(&["inspect", "-f", "{{.Name}}", "idle"]);
    assert_eq!(gen.trim(), "/idle");
    let anon = d.docker_ok(&["create", &img]).trim().to_string();
    let name = d.docker_ok(&["inspect", "-f", "{{.Name}}", &anon]);
    assert!(name.trim().trim_start_matches('/').contains('_'), "{name}");
    d.docker_ok(&["rm", "-f", "site"]);
}

#[test]
fn stop_kill_restart_pause_wait_and_rm() {
    let (d, img) = started();
    d.docker_ok(&[
        "run",
        "-d",
        "--name",
        "tt",
        &img,
        "sh",
        "-c",
        "trap 'exit 7' TERM; trap 'exit 10' USR1; while true; do sleep 0.1; done",
    ]);
    d.docker_ok(&["stop", "-t", "5", "tt"]);
    assert_eq!(
        d.docker_ok(&["inspect", "-f", "{{.State.ExitCode}}", "tt"])
            .trim(),
        "7"
    );
    d.docker_ok(&["start", "tt"]);
    assert_eq!(
        d.docker_ok(&["inspect", "-f", "{{.State.Status}}", "tt"])
            .trim(),
        "running"
    );
    d.docker_ok(&["pause", "tt"]);
    assert_eq!(
        d.docker_ok(&["inspect", "-f", "{{.State.Status}}", "tt"])
            .trim(),
        "paused"
    );
    d.docker_ok(&["unpause", "tt"]);
    d.docker_ok(&["restart", "-t", "5", "tt"]);
    assert_eq!(
        d.docker_ok(&["inspect", "-f", "{{.State.Running}}", "tt"])
            .trim(),
        "true"
    );
    let rm = d.docker(&["rm", "tt"]);
    assert_ne!(rm.status, 0);
    assert!(rm.stderr.contains("container is running"), "{rm}");
    d.docker_ok(&["kill", "-s", "USR1", "tt"]);
    let w = d.docker_ok(&["wait", "tt"]);
    assert_eq!(w.trim(), "10", "the USR1 trap ran");
    d.docker_ok(&["rm", "tt"]);
    let gone = d.docker(&["inspect", "tt"]);
    assert_ne!(gone.status, 0);

    d.docker_ok(&["run", "-d", "--name", "kk", &img, "sleep", "60"]);
    d.docker_ok(&["kill", "kk"]);
    assert_eq!(d.docker_ok(&["wait", "kk"]).trim(), "137");
    let again = d.docker(&["kill", "kk"]);
    assert_ne!(again.status, 0);
    d.docker_ok(&["run", "-d", "--name", "ff", &img, "sleep", "60"]);
    d.docker_ok(&["rm", "-f", "ff", "kk"]);
    assert_eq!(d.docker_ok(&["ps", "-aq"]).trim(), "");
    let missing = d.docker(&["stop", "nope"]);
    assert!(
        missing.stderr.contains("No such container: nope"),
        "{missing}"
    );
}

#[test]
fn logs_and_start_attach() {
    let (d, img) = started();
    d.docker_ok(&[
        "run",
        "--name",
        "lg",
        &img,
        "sh",
        "-c",
        "for i in 1 2 3 4 5; do echo line$i; done; echo oops >&2",
    ]);
    let all = d.docker(&["logs", "lg"]);
    assert_eq!(all.stdout, "line1\nline2\nline3\nline4\nline5\n");
    assert_eq!(all.stderr, "oops\n");
    // The tail counts lines of both streams, as dockerd's does.
    let tail = d.docker(&["logs", "--tail", "2", "lg"]);
    assert_eq!(
        (tail.stdout.as_str(), tail.stderr.as_str()),
        ("line5\n", "oops\n")
    );
    let ts = d.docker_ok(&["logs", "-t", "--tail", "2", "lg"]);
    assert!(
        ts.starts_with("20") && ts.trim_end().ends_with(" line5"),
        "{ts}"
    );
    let since = d.docker_ok(&["logs", "--since", "2000-01-01T00:00:00Z", "lg"]);
    assert_eq!(since.lines().count(), 5);
    let future = d.docker_ok(&["logs", "--since", "2999-01-01T00:00:00Z", "lg"]);
    assert_eq!(future, "");
    // The log file is Docker's json-file format.
    let path = d.docker_ok(&["inspect", "-f", "{{.LogPath}}", "lg"]);
    let first = std::fs::read_to_string(path.trim()).unwrap();
    let v: serde_json::Value = serde_json::from_str(first.lines().next().unwrap()).unwrap();
    assert_eq!(
        (v["log"].as_str(), v["stream"].as_str()),
        (Some("line1\n"), Some("stdout"))
    );
    // start -a re-runs it attached.
    let again = d.docker_ok(&["start", "-a", "lg"]);
    assert!(again.contains("line5"), "{again}");
    // logs -f ends when the container does.
    d.docker_ok(&[
        "run",
        "-d",
        "--name",
        "ff",
        &img,
        "sh",
        "-c",
        "echo a; sleep 1; echo b",
    ]);
    let follow = d.docker_ok(&["logs", "-f", "ff"]);
    assert_eq!(follow, "a\nb\n");
}

#[test]
fn exec_variants() {
    let (d, img) = started();
    d.docker_ok(&["run", "-d", "--name", "ex", &img, "sleep", "60"]);
    assert_eq!(d.docker_ok(&["exec", "ex", "echo", "hi"]), "hi\n");
    assert_eq!(d.docker(&["exec", "ex", "sh", "-c", "exit 5"]).status, 5);
    let out = d.docker_ok(&[
        "exec",
        "-e",
        "X=1",
        "-w",
        "/tmp",
        "-u",
        "berth",
        "ex",
        "sh",
        "-c",
        "echo $X $(pwd) $(id -un)",
    ]);
    assert_eq!(out.trim(), "1 /tmp berth");
    let piped = d.docker_with_stdin(&["exec", "-i", "ex", "cat"], "through stdin");
    assert_eq!(piped.stdout, "through stdin");
    d.docker_ok(&["exec", "-d", "ex", "sh", "-c", "echo detached > /tmp/d"]);
    let seen = wait_until(
        "the detached exec to write /tmp/d",
        std::time::Duration::from_secs(10),
        || {
            let out = d.docker(&["exec", "ex", "cat", "/tmp/d"]).stdout;
            if out.is_empty() {
                Err(out)
            } else {
                Ok(out)
            }
        },
    );
    assert_eq!(seen, "detached\n");
    let missing = d.docker(&["exec", "ex", "no-such-binary"]);
    assert_ne!(missing.status, 0);
    d.docker_ok(&["stop", "-t", "1", "ex"]);
    let stopped = d.docker(&["exec", "ex", "true"]);
    assert_ne!(stopped.status, 0);
    assert!(stopped.stderr.contains("is not running"), "{stopped}");
}

/// The end of busybox sh's prompt for root (`/ # `).
const PROMPT: &str = "# ";

/// Runs a docker command line under util-linux `script`, which gives the CLI a real pty, and
/// plays `steps`: for each `(expect, input)`, waits until the output since the previous step's
/// match shows `expect` (a prompt, a command's output), then types `input`.
fn in_pty(d: &Berthd, line: &str, steps: &[(&str, &[u8])]) -> (Option<i32>, String) {
    use std::io::{Read, Write};
    use std::sync::{Arc, Mutex};
    let mut cmd = std::process::Command::new("script");
    cmd.args(["-qec", line, "/dev/null"]);
    let probe = d.docker_command(&[]);
    for (k, v) in probe.get_envs() {
        match v {
            Some(v) => cmd.env(k, v),
            None => cmd.env_remove(k),
        };
    }
    cmd.current_dir(d.dir())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::inherit());
    let mut child = cmd.spawn().unwrap();
    let seen = Arc::new(Mutex::new(Vec::<u8>::new()));
    let reader = {
        let seen = Arc::clone(&seen);
        let mut stdout = child.stdout.take().unwrap();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n @ 1..) = stdout.read(&mut buf) {
                seen.lock().unwrap().extend_from_slice(&buf[..n]);
            }
        })
    };
    let text = || String::from_utf8_lossy(&seen.lock().unwrap()).into_owned();
    {
        let mut stdin = child.stdin.take().unwrap();
        let mut from = 0;
        for (expect, input) in steps {
            from = wait_until(
                &format!("{expect:?} on the terminal of `{line}`"),
                std::time::Duration::from_secs(30),
                || {
                    let t = text();
                    match t.get(from..).and_then(|rest| rest.find(expect)) {
                        Some(at) => Ok(from + at + expect.len()),
                        None => Err(t),
                    }
                },
            );
            stdin.write_all(input).unwrap();
        }
    }
    let status = child.wait().unwrap();
    reader.join().unwrap();
    (status.code(), text())
}

/// `docker run -it IMAGE sh`: a working interactive shell; its exit code is docker's.
#[test]
fn interactive_tty_shell() {
    let (d, img) = started();
    let line = format!("docker run -it --rm --name tty {img} sh");
    let (code, text) = in_pty(
        &d,
        &line,
        &[
            (PROMPT, b"tty; echo sum=$((40+2))\r"),
            ("sum=42", b"exit 9\r"),
        ],
    );
    assert!(text.contains("/dev/pts/0"), "{text}");
    assert!(text.contains("sum=42"), "{text}");
    assert_eq!(code, Some(9), "{text}");
}

/// `docker exec -it CONTAINER sh`, and Ctrl-D ending the shell.
#[test]
fn interactive_exec_shell() {
    let (d, img) = started();
    d.docker_ok(&["run", "-d", "--name", "host", &img, "sleep", "600"]);
    let (code, text) = in_pty(
        &d,
        "docker exec -it host sh",
        &[
            (PROMPT, b"echo in=$((6*7)); tty\r"),
            ("in=42", b""),
            (PROMPT, b"\x04"),
        ],
    );
    assert!(text.contains("in=42"), "{text}");
    assert!(text.contains("/dev/pts/"), "{text}");
    assert_eq!(code, Some(0), "{text}");
    d.docker_ok(&["rm", "-f", "host"]);
}

#[test]
fn host_and_none_networking() {
    let (d, img) = started();
    let host_name = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    let out = d.docker_ok(&["run", "--rm", "--network", "host", &img, "hostname"]);
    assert_eq!(out.trim(), host_name.trim());
    // The host's links (other tests add and remove theirs meanwhile, so no exact count): this
    // engine's own bridge is one of them.
    let out = d.docker_ok(&[
        "run",
        "--rm",
        "--network",
        "host",
        &img,
        "ls",
        "/sys/class/net",
    ]);
    assert!(out.split_whitespace().any(|l| l == d.net().bridge), "{out}");
    let out = d.docker_ok(&[
        "run",
        "--rm",
        "--network",
        "none",
        &img,
        "sh",
        "-c",
        "ls /sys/class/net; cat /etc/hostname",
    ]);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines[0], "lo",
        "none: a private namespace with loopback only: {out}"
    );
    assert_eq!(lines[1].len(), 12, "hostname is the short id: {out}");
    let out = d.docker_ok(&["run", "--rm", &img, "ls", "/sys/class/net"]);
    assert_eq!(
        out.split_whitespace().collect::<Vec<_>>(),
        ["eth0", "lo"],
        "default: the bridge network's endpoint and loopback"
    );
    let bad = d.docker(&["run", "--rm", "--network", "nope", &img, "true"]);
    assert_eq!(bad.status, 125, "{bad}");
    assert!(bad.stderr.contains("network nope not found"), "{bad}");
}

#[test]
fn containers_survive_a_killed_engine() {
    let (mut d, img) = started();
    d.docker_ok(&[
        "run",
        "-d",
        "--name",
        "live",
        &img,
        "sh",
        "-c",
        "trap 'echo bye; exit 4' TERM; while true; do echo beat; sleep 0.2; done",
    ]);
    d.docker_ok(&["create", "--name", "kept", &img, "true"]);
    let pid: i32 = d.inspect_format("live", "{{.State.Pid}}").parse().unwrap();
    d.kill9();
    // The engine is dead (kill9 reaps it) and the container still runs.
    assert!(process_alive(pid), "the container died with the engine");
    d.restart();
    let st = d.docker_ok(&["ps", "-a", "--format", "{{.Names}} {{.State}}"]);
    assert!(
        st.contains("live running") && st.contains("kept created"),
        "{st}"
    );
    assert_eq!(d.docker_ok(&["images", "-q"]).lines().count(), 1);
    d.docker_ok(&["stop", "-t", "5", "live"]);
    assert_eq!(
        d.docker_ok(&["inspect", "-f", "{{.State.ExitCode}}", "live"])
            .trim(),
        "4"
    );
    let logs = d.docker_ok(&["logs", "--tail", "1", "live"]);
    assert_eq!(logs, "bye\n");
}

#[test]
fn attach_to_a_running_container() {
    let (d, img) = started();
    d.docker_ok(&[
        "run",
        "-d",
        "--name",
        "at",
        &img,
        "sh",
        "-c",
        "sleep 1; echo late; exit 3",
    ]);
    let out = d.docker(&["attach", "at"]);
    assert_eq!(out.stdout, "late\n", "{out}");
    assert_eq!(out.status, 3, "{out}");
    let stopped = d.docker(&["attach", "at"]);
    assert_ne!(stopped.status, 0);
    assert!(
        stopped
            .stderr
            .contains("cannot attach to a stopped container"),
        "{stopped}"
    );
}

/// berthd and the container's monitor both die: the next berthd finds the container gone,
/// records an exit, and cleans the runtime state and the rootfs mount.
#[test]
fn a_dead_monitor_is_reconciled() {
    let (mut d, img) = started();
    d.docker_ok(&["run", "-d", "--name", "orphan", &img, "sleep", "600"]);
    let pid: i32 = d
        .docker_ok(&["inspect", "-f", "{{.State.Pid}}", "orphan"])
        .trim()
        .parse()
        .unwrap();
    d.kill9();
    // Kill the container's monitor (the parent of the container's init) and the container.
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let ppid: i32 = stat[stat.rfind(')').unwrap() + 2..]
        .split_whitespace()
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    unsafe {
        libc::kill(ppid, libc::SIGKILL);
        libc::kill(pid, libc::SIGKILL);
    }
    wait_until_dead(pid);
    wait_until_dead(ppid);
    d.restart();
    let st = d.docker_ok(&[
        "inspect",
        "-f",
        "{{.State.Status}} {{.State.Running}}",
        "orphan",
    ]);
    assert_eq!(st.trim(), "exited false");
    let rootfs = d
        .data_root()
        .join("containers")
        .join(d.docker_ok(&["inspect", "-f", "{{.Id}}", "orphan"]).trim())
        .join("rootfs");
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    assert!(
        !mounts.contains(rootfs.to_str().unwrap()),
        "stale rootfs mount left"
    );
    // It can run again.
    d.docker_ok(&["start", "orphan"]);
    d.docker_ok(&["rm", "-f", "orphan"]);
}

#[test]
fn stop_signal_and_stop_timeout_flags() {
    let (d, img) = started();
    d.docker_ok(&[
        "run",
        "-d",
        "--name",
        "sig",
        "--stop-signal",
        "USR1",
        &img,
        "sh",
        "-c",
        "trap 'exit 10' USR1; while true; do sleep 0.1; done",
    ]);
    assert_eq!(
        d.docker_ok(&["inspect", "-f", "{{.Config.StopSignal}}", "sig"])
            .trim(),
        "USR1"
    );
    d.docker_ok(&["stop", "sig"]);
    assert_eq!(
        d.docker_ok(&["inspect", "-f", "{{.State.ExitCode}}", "sig"])
            .trim(),
        "10"
    );
    // PID 1 without a TERM handler ignores it; the stop timeout ends in SIGKILL.
    d.docker_ok(&[
        "run",
        "-d",
        "--name",
        "slow",
        "--stop-timeout",
        "1",
        &img,
        "sleep",
        "600",
    ]);
    let t = std::time::Instant::now();
    d.docker_ok(&["stop", "slow"]);
    assert!(
        t.elapsed() < std::time::Duration::from_secs(8),
        "{:?}",
        t.elapsed()
    );
    assert_eq!(
        d.docker_ok(&["inspect", "-f", "{{.State.ExitCode}}", "slow"])
            .trim(),
        "137"
    );
    let bad = d.docker(&["run", "--stop-signal", "SIGNOPE", &img, "true"]);
    assert_eq!(bad.status, 125, "{bad}");
    assert!(bad.stderr.contains("Invalid signal"), "{bad}");
}

/// Options berthd does not implement yet are refused with a 400 naming the flag (the CLI exits
/// 125), never accepted and dropped; nothing is created by a refused run.
#[test]
fn unimplemented_options_are_refused_not_dropped() {
    let (d, img) = started();
    d.docker_ok(&["network", "create", "refusals"]);
    d.docker_ok(&[
        "create",
        "--name",
        "peer",
        "--network",
        "refusals",
        &img,
        "true",
    ]);
    for (flags, flag) in [
        (vec!["--storage-opt", "size=1G"], "--storage-opt"),
        (vec!["--cgroup-parent", "mine"], "--cgroup-parent"),
        (vec!["--network", "none", "--link", "peer:db"], "--link"),
    ] {
        let mut args = vec!["run", "--rm"];
        args.extend(&flags);
        args.extend([img.as_str(), "true"]);
        let out = d.docker(&args);
        assert_eq!(out.status, 125, "{flags:?}: {out}");
        assert!(
            out.stderr.contains(&format!("does not support {flag}")),
            "{flags:?}: {out}"
        );
    }
    assert_eq!(
        d.docker_ok(&["ps", "-a", "--format", "{{.Names}}"]).trim(),
        "peer",
        "refused runs create nothing"
    );
    // The values every container gets anyway are accepted.
    let out = d.docker_ok(&[
        "run", "--rm", "--ipc", "private", "--userns", "host", &img, "echo", "ok",
    ]);
    assert_eq!(out.trim(), "ok");
    // --mac-address works, on the default bridge and on a user network.
    for net in ["bridge", "refusals"] {
        let out = d.docker_ok(&[
            "run",
            "--rm",
            "--network",
            net,
            "--mac-address",
            "02:42:ac:11:00:99",
            &img,
            "cat",
            "/sys/class/net/eth0/address",
        ]);
        assert_eq!(out.trim(), "02:42:ac:11:00:99", "{net}");
    }
    d.docker_ok(&[
        "run",
        "-d",
        "--name",
        "with-mac",
        "--network",
        "refusals",
        "--mac-address",
        "02-42-AC-11-00-98",
        &img,
        "sleep",
        "1000",
    ]);
    assert_eq!(
        d.inspect_format(
            "with-mac",
            "{{.NetworkSettings.Networks.refusals.MacAddress}}"
        )
        .trim(),
        "02:42:ac:11:00:98"
    );
    d.docker_ok(&["rm", "-f", "with-mac"]);
    // network connect refuses the endpoint settings berthd drops, leaving the container as it was.
    d.docker_ok(&["network", "create", "second"]);
    let out = d.docker(&[
        "network",
        "connect",
        "--driver-opt",
        "a=b",
        "second",
        "peer",
    ]);
    assert_eq!(out.status, 1, "{out}");
    assert!(
        out.stderr.contains("does not support --driver-opt"),
        "{out}"
    );
    assert_eq!(
        d.inspect_format(
            "peer",
            "{{range $k, $v := .NetworkSettings.Networks}}{{$k}} {{end}}"
        )
        .trim(),
        "refusals"
    );
    d.docker_ok(&["rm", "peer"]);
    d.docker_ok(&["network", "rm", "refusals", "second"]);
}

/// Legacy links on the default bridge, as dockerd: the linked container's address in
/// /etc/hosts and its variables in the environment; the link is stored as /NAME:/PARENT/ALIAS,
/// needs a running target at start, and `rm --link` removes it.
#[test]
fn legacy_links_on_the_default_bridge() {
    let (d, img) = started();
    d.docker_ok(&[
        "run",
        "-d",
        "--name",
        "db",
        "-e",
        "PASSWORD=secret",
        "--expose",
        "5432",
        &img,
        "sleep",
        "1000",
    ]);
    let ip = d.inspect_format("db", "{{.NetworkSettings.IPAddress}}");
    let ip = ip.trim();
    let host = d.inspect_format("db", "{{.Config.Hostname}}");
    let out = d.docker_ok(&[
        "run",
        "--rm",
        "--name",
        "web",
        "--link",
        "db:database",
        &img,
        "sh",
        "-c",
        "env | grep ^DATABASE_ | sort; grep database /etc/hosts; ping -c1 -W5 database >/dev/null && echo reached",
    ]);
    for want in [
        format!("DATABASE_PORT=tcp://{ip}:5432"),
        format!("DATABASE_PORT_5432_TCP={ip}").replace(ip, &format!("tcp://{ip}:5432")),
        format!("DATABASE_PORT_5432_TCP_ADDR={ip}"),
        "DATABASE_PORT_5432_TCP_PORT=5432".to_string(),
        "DATABASE_PORT_5432_TCP_PROTO=tcp".to_string(),
        "DATABASE_NAME=/web/database".to_string(),
        "DATABASE_ENV_PASSWORD=secret".to_string(),
        format!("{ip}\tdatabase {} db", host.trim()),
        "reached".to_string(),
    ] {
        assert!(
            out.lines().any(|l| l == want),
            "{want:?} missing from:\n{out}"
        );
    }
    assert!(!out.contains("DATABASE_ENV_PATH"), "{out}");

    d.docker_ok(&[
        "create",
        "--name",
        "web2",
        "--link",
        "db:database",
        &img,
        "true",
    ]);
    assert_eq!(
        d.inspect_format("web2", "{{json .HostConfig.Links}}")
            .trim(),
        "[\"/db:/web2/database\"]"
    );
    d.docker_ok(&["stop", "-t", "0", "db"]);
    let out = d.docker(&["start", "web2"]);
    assert_ne!(out.status, 0, "{out}");
    assert!(
        out.stderr
            .contains("Cannot link to a non running container: /db AS /web2/database"),
        "{out}"
    );
    d.docker_ok(&["rm", "--link", "/web2/database"]);
    assert_eq!(
        d.inspect_format("web2", "{{json .HostConfig.Links}}")
            .trim(),
        "[]"
    );
    d.docker_ok(&["start", "web2"]);

    let out = d.docker(&["create", "--link", "nope:x", &img, "true"]);
    assert_eq!(out.status, 1, "{out}");
    assert!(
        out.stderr.contains("could not get container for nope"),
        "{out}"
    );
    let out = d.docker(&["create", "--network", "host", "--link", "db", &img, "true"]);
    assert!(
        out.stderr
            .contains("host type networking can't be used with links"),
        "{out}"
    );
    d.docker_ok(&["rm", "-f", "db", "web2"]);
}
