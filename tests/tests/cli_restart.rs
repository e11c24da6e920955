//! Restart policies carried out, through the docker CLI: `on-failure[:N]` retries failed runs up
//! to N times, `always` keeps a container up until `docker stop`, a restarting container is shown
//! by `docker ps` and refused by `docker rm` without `-f`, and when the engine starts again
//! `always` containers come back even after a manual stop while `unless-stopped` ones do not.

use std::time::Duration;

use berth_tests::*;

/// Polls `inspect -f format` until `done` holds (restarts follow delays of 100 ms, 200 ms, …).
fn wait_for(d: &Berthd, name: &str, format: &str, done: impl Fn(&str) -> bool) -> String {
    wait_until(
        &format!("{name}: {format}"),
        Duration::from_secs(60),
        || {
            let v = d.inspect_format(name, format);
            if done(&v) {
                Ok(v)
            } else {
                Err(v)
            }
        },
    )
}

#[test]
fn on_failure_retries_up_to_its_count_and_not_after_success() {
    let (d, img) = engine_with_busybox();
    d.docker_ok(&[
        "run",
        "-d",
        "--name",
        "flaky",
        "--restart",
        "on-failure:2",
        &img,
        "sh",
        "-c",
        "exit 3",
    ]);
    let end = wait_for(
        &d,
        "flaky",
        "{{.RestartCount}} {{.State.Status}} {{.State.ExitCode}}",
        |v| {
            assert!(
                !v.contains("exited") || v.starts_with("2 "),
                "seen exited while a restart was still due: {v}"
            );
            v == "2 exited 3"
        },
    );
    // No third try: as dockerd, the engine decides on a restart in the same step that records
    // the exit, so a container that will come back is never seen `exited`; seeing it exited
    // with the count at the limit means the policy has stopped.
    assert_eq!(end, "2 exited 3");

    d.docker_ok(&[
        "run",
        "-d",
        "--name",
        "fine",
        "--restart",
        "on-failure",
        &img,
        "true",
    ]);
    wait_for(&d, "fine", "{{.State.Status}}", |v| v == "exited");
    assert_eq!(
        d.inspect_format("fine", "{{.RestartCount}} {{.State.Status}}"),
        "0 exited"
    );
}

#[test]
fn always_restarts_until_stopped_and_a_restarting_container_is_listed_and_protected() {
    let (d, img) = engine_with_busybox();
    d.docker_ok(&[
        "run",
        "-d",
        "--name",
        "loop",
        "--restart",
        "always",
        &img,
        "sh",
        "-c",
        "exit 1",
    ]);
    // Delays double (100 ms, 200 ms, … 1.6 s): after five restarts it waits long enough to be
    // caught in the restarting state.
    wait_for(&d, "loop", "{{.RestartCount}} {{.State.Status}}", |v| {
        v.split(' ').next().and_then(|n| n.parse::<i64>().ok()) >= Some(5)
            && v.ends_with("restarting")
    });
    let ps = d.docker_ok(&["ps", "--format", "{{.Names}} {{.Status}}"]);
    assert!(ps.contains("loop Restarting (1)"), "docker ps: {ps}");
    let rm = d.docker(&["rm", "loop"]);
    assert_ne!(rm.status, 0);
    assert!(
        rm.stderr
            .contains("cannot remove container \"/loop\": container is restarting"),
        "{}",
        rm.stderr
    );

    // dockerd counts a restarting container as running: inspect says so, and `docker wait`
    // blocks until the next exit or, here, the stop that cancels the restart (the delay is
    // over 3 s by now).
    assert_eq!(d.inspect_format("loop", "{{.State.Running}}"), "true");
    let mut waiter = d
        .docker_command(&["wait", "loop"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("docker wait");
    assert!(
        waiter.try_wait().expect("try_wait").is_none(),
        "docker wait returned while the container was restarting"
    );
    d.docker_ok(&["stop", "loop"]);
    let out = waiter.wait_with_output().expect("docker wait");
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "1");
    assert_eq!(d.inspect_format("loop", "{{.State.Running}}"), "false");
    let count = d.inspect_format("loop", "{{.RestartCount}}");
    assert_eq!(d.inspect_format("loop", "{{.State.Status}}"), "exited");
    assert_eq!(
        d.inspect_format("loop", "{{.RestartCount}} {{.State.Status}}"),
        format!("{count} exited"),
        "a stopped container is not restarted"
    );

    // A start by hand begins a new count; rm -f also takes a restarting container.
    d.docker_ok(&["start", "loop"]);
    wait_for(&d, "loop", "{{.State.Status}}", |v| v == "restarting");
    let n: i64 = d
        .inspect_format("loop", "{{.RestartCount}}")
        .parse()
        .expect("count");
    assert!(
        n < count.parse::<i64>().expect("count"),
        "count {n} not reset"
    );
    d.docker_ok(&["rm", "-f", "loop"]);
    assert!(d.docker_ok(&["ps", "-aq"]).trim().is_empty());
}

#[test]
fn engine_start_brings_back_always_but_not_stopped_unless_stopped() {
    let (mut d, img) = engine_with_busybox();
    for (name, policy) in [
        ("always1", "always"),
        ("unless1", "unless-stopped"),
        ("unless2", "unless-stopped"),
        ("never1", "no"),
    ] {
        d.docker_ok(&[
            "run",
            "-d",
            "--name",
            name,
            "--restart",
            policy,
            &img,
            "sleep",
            "1000",
        ]);
    }
    for name in ["always1", "unless1", "never1"] {
        d.docker_ok(&["stop", "-t", "0", name]);
    }
    // unless2 keeps running through an engine restart (live restore): it is re-adopted, not started.
    d.restart();
    wait_for(&d, "always1", "{{.State.Status}}", |v| v == "running");
    assert_eq!(d.inspect_format("unless1", "{{.State.Status}}"), "exited");
    assert_eq!(d.inspect_format("never1", "{{.State.Status}}"), "exited");
    assert_eq!(d.inspect_format("unless2", "{{.State.Status}}"), "running");

    // Killed while the engine is down: the policy brings it back when the engine returns.
    let pid = d.inspect_format("unless2", "{{.State.Pid}}");
    d.stop();
    let status = std::process::Command::new("kill")
        .args(["-9", &pid])
        .status()
        .expect("kill");
    assert!(status.success());
    d.restart();
    wait_for(&d, "unless2", "{{.State.Status}} {{.RestartCount}}", |v| {
        v == "running 1"
    });
}
