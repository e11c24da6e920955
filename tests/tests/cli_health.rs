//! Health checks with the docker CLI: `--health-*` flags and an image's `HEALTHCHECK`, probed
//! as execs; `State.Health`, `(healthy)` in `docker ps`, the `health` filter and the
//! `health_status` events.

use std::time::Duration;

use berth_tests::*;

/// Waits until the container's health status is `want`; returns the `State.Health` JSON.
fn wait_health(d: &Berthd, name: &str, want: &str) -> serde_json::Value {
    wait_until(
        &format!("{name} becomes {want}"),
        Duration::from_secs(60),
        || {
            let json = d.inspect_format(name, "{{json .State.Health}}");
            let h: serde_json::Value =
                serde_json::from_str(json.trim()).map_err(|e| e.to_string())?;
            if h["Status"] == want {
                Ok(h)
            } else {
                Err(json)
            }
        },
    )
}

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default()
}

fn ps_status(d: &Berthd, name: &str) -> String {
    d.docker_ok(&[
        "ps",
        "--filter",
        &format!("name={name}"),
        "--format",
        "{{.Status}}",
    ])
    .trim()
    .to_string()
}

fn ps_health(d: &Berthd, health: &str) -> Vec<String> {
    d.docker_ok(&[
        "ps",
        "-a",
        "--filter",
        &format!("health={health}"),
        "--format",
        "{{.Names}}",
    ])
    .lines()
    .map(str::to_string)
    .collect()
}

#[test]
fn health_flags_probe_turn_unhealthy_then_healthy_with_events() {
    let (d, img) = engine_with_busybox();
    let started = unix_now().to_string();
    d.docker_ok(&[
        "run",
        "-d",
        "--name",
        "probed",
        "--health-cmd",
        "cat /tmp/ready",
        "--health-interval",
        "200ms",
        "--health-retries",
        "2",
        &img,
        "sleep",
        "1000",
    ]);
    let h = wait_health(&d, "probed", "unhealthy");
    assert!(h["FailingStreak"].as_i64().unwrap_or(0) >= 2, "{h}");
    let last = &h["Log"].as_array().expect("log")[0];
    assert_eq!(last["ExitCode"], 1, "{h}");
    assert!(
        last["Output"]
            .as_str()
            .unwrap_or_default()
            .contains("/tmp/ready"),
        "{h}"
    );
    let st = ps_status(&d, "probed");
    assert!(st.ends_with("(unhealthy)"), "{st}");
    assert_eq!(ps_health(&d, "unhealthy"), ["probed"]);
    assert!(ps_health(&d, "healthy").is_empty());

    d.docker_ok(&["exec", "probed", "sh", "-c", "echo fine > /tmp/ready"]);
    let h = wait_health(&d, "probed", "healthy");
    assert_eq!(h["FailingStreak"], 0);
    let log = h["Log"].as_array().expect("log");
    assert!(log.len() <= 5, "at most five results are kept: {h}");
    let last = log.last().expect("a result");
    assert_eq!(last["ExitCode"], 0);
    assert_eq!(last["Output"], "fine\n");
    assert!(ps_status(&d, "probed").ends_with("(healthy)"));
    assert_eq!(ps_health(&d, "healthy"), ["probed"]);

    // The transitions are events, found with dockerd's prefix match on `health_status`.
    let until = (unix_now() + 1).to_string();
    let events = d.docker_ok(&[
        "events",
        "--since",
        &started,
        "--until",
        &until,
        "--filter",
        "event=health_status",
        "--format",
        "{{.Action}} {{.Actor.Attributes.name}}",
    ]);
    let actions: Vec<&str> = events.lines().collect();
    assert!(
        actions.contains(&"health_status: unhealthy probed")
            && actions.contains(&"health_status: healthy probed"),
        "{events}"
    );

    // A new start begins again from `starting`, and the check still passes.
    d.docker_ok(&["stop", "-t", "0", "probed"]);
    d.docker_ok(&["start", "probed"]);
    let h = wait_health(&d, "probed", "healthy");
    assert_eq!(h["FailingStreak"], 0);
    d.docker_ok(&["rm", "-f", "probed"]);
}

#[test]
fn an_images_healthcheck_runs_and_no_healthcheck_turns_it_off() {
    let (d, img) = engine_with_busybox();
    d.docker_ok(&["create", "--name", "base", &img, "true"]);
    d.docker_ok(&[
        "commit",
        "--change",
        "HEALTHCHECK --interval=200ms --retries=1 CMD test -e /etc/passwd",
        "base",
        "checked:1",
    ]);
    d.docker_ok(&[
        "run",
        "-d",
        "--name",
        "from-image",
        "checked:1",
        "sleep",
        "1000",
    ]);
    wait_health(&d, "from-image", "healthy");

    d.docker_ok(&[
        "run",
        "-d",
        "--name",
        "unchecked",
        "--no-healthcheck",
        "checked:1",
        "sleep",
        "1000",
    ]);
    assert_eq!(
        d.inspect_format("unchecked", "{{json .State.Health}}")
            .trim(),
        "null"
    );
    assert!(!ps_status(&d, "unchecked").contains('('));
    assert_eq!(ps_health(&d, "none"), ["unchecked", "base"]);

    // A probe that outlives its timeout fails with dockerd's message.
    d.docker_ok(&[
        "run",
        "-d",
        "--name",
        "slow",
        "--health-cmd",
        "sleep 30",
        "--health-timeout",
        "300ms",
        "--health-interval",
        "200ms",
        "--health-retries",
        "1",
        &img,
        "sleep",
        "1000",
    ]);
    let h = wait_health(&d, "slow", "unhealthy");
    let last = &h["Log"].as_array().expect("log")[0];
    assert_eq!(last["ExitCode"], -1, "{h}");
    assert_eq!(
        last["Output"], "Health check exceeded timeout (300ms)",
        "{h}"
    );

    d.docker_ok(&["rm", "-f", "from-image", "unchecked", "slow", "base"]);
}
