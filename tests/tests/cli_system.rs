//! `docker version`, `info`, ping, API versions and Docker's error format, with the real CLI.

use berth_tests::*;

#[test]
fn version_and_info_through_the_cli() {
    let d = Berthd::start();
    let v = d.docker_ok(&[
        "version",
        "--format",
        "{{.Server.APIVersion}} {{.Server.Os}}",
    ]);
    assert_eq!(v.trim(), "1.47 linux");
    let info = d.docker_ok(&[
        "info",
        "--format",
        "{{.DefaultRuntime}} {{.OSType}} {{.Driver}}",
    ]);
    let parts: Vec<&str> = info.split_whitespace().collect();
    assert!(["runc", "crun"].contains(&parts[0]), "{info}");
    assert_eq!(&parts[1..], ["linux", "overlay2"]);
    let sys = d.docker_ok(&["system", "info", "--format", "{{.Containers}} {{.Images}}"]);
    assert_eq!(sys.trim(), "0 0");
}

#[test]
fn ping_versions_and_errors() {
    let d = Berthd::start();
    let sock = d.socket_path();
    let r = unix_http_request(&sock, "GET", "/_ping", &[], b"").unwrap();
    assert_eq!((r.status, r.text().as_str()), (200, "OK"));
    assert_eq!(r.header("api-version"), Some("1.47"));
    let r = unix_http_request(&sock, "HEAD", "/_ping", &[], b"").unwrap();
    assert_eq!(r.status, 200);
    for prefix in ["", "/v1.24", "/v1.41", "/v1.47"] {
        let r = unix_http_request(&sock, "GET", &format!("{prefix}/containers/json"), &[], b"")
            .unwrap();
        assert_eq!(r.status, 200, "{prefix}");
        assert_eq!(r.json(), serde_json::json!([]));
    }
    let r = unix_http_request(&sock, "GET", "/v1.99/info", &[], b"").unwrap();
    assert_eq!(r.status, 400);
    assert!(r.json()["message"].as_str().unwrap().contains("too new"));
    let r = unix_http_request(&sock, "GET", "/v1.12/info", &[], b"").unwrap();
    assert_eq!(r.status, 400);
    let r = unix_http_request(&sock, "GET", "/containers/nope/json", &[], b"").unwrap();
    assert_eq!(r.status, 404);
    assert_eq!(r.json()["message"], "No such container: nope");
    let r = unix_http_request(&sock, "GET", "/images/nope:1/json", &[], b"").unwrap();
    assert_eq!(r.status, 404);
    assert_eq!(r.json()["message"], "No such image: nope:1");
    let r = unix_http_request(
        &sock,
        "POST",
        "/containers/create",
        &[("Content-Type", "application/json")],
        b"{not json",
    )
    .unwrap();
    assert_eq!(r.status, 400);
    let r = unix_http_request(
        &sock,
        "POST",
        "/containers/create",
        &[("Content-Type", "application/json")],
        br#"{"Image":"Bad Ref!"}"#,
    )
    .unwrap();
    assert_eq!(r.status, 400, "{}", r.text());
    // Nothing half-made is left behind by refused requests.
    assert_eq!(d.docker_ok(&["ps", "-aq"]).trim(), "");
}

#[test]
fn a_second_engine_on_the_same_data_root_refuses() {
    let d = Berthd::start();
    let out = std::process::Command::new(berthd_bin())
        .arg("--data-root")
        .arg(d.data_root())
        .arg("-H")
        .arg(format!("unix://{}/other.sock", d.dir().display()))
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("already using data root"), "{err}");
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(d.socket_path())
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o660);
}

#[test]
fn endpoints_not_built_yet_answer_501() {
    let d = Berthd::start();
    let sock = d.socket_path();
    let r = unix_http_request(&sock, "POST", "/build", &[], b"").unwrap();
    assert_eq!(r.status, 501);
    assert!(
        r.json()["message"]
            .as_str()
            .unwrap()
            .contains("not implemented"),
        "{}",
        r.text()
    );
    let r = unix_http_request(&sock, "GET", "/no/such/endpoint", &[], b"").unwrap();
    assert_eq!(r.status, 404);
    // Built since: stats and top (tested in cli_stats) know the container is missing.
    for path in ["/containers/x/stats", "/containers/x/top"] {
        let r = unix_http_request(&sock, "GET", path, &[], b"").unwrap();
        assert_eq!(r.status, 404, "{path}");
        assert_eq!(r.json()["message"], "No such container: x");
    }
}

/// `docker system df` (summary and `-v`), `docker ps -s`, and `docker system prune`: sizes are
/// checked exactly through the API, the CLI's rendering of them by shape.
#[test]
fn disk_usage_and_system_prune() {
    let (d, img) = engine_with_busybox();
    let df = |query: &str| {
        let r = unix_http_request(
            &d.socket_path(),
            "GET",
            &format!("/system/df{query}"),
            &[],
            b"",
        )
        .unwrap();
        assert_eq!(r.status, 200, "{}", r.text());
        r.json()
    };
    // A second image on top of the first: every layer of busybox is shared.
    d.docker_ok(&[
        "run",
        "--name",
        "maker",
        &img,
        "sh",
        "-c",
        "echo hi > /made",
    ]);
    d.docker_ok(&["commit", "maker", "derived:1"]);
    d.docker_ok(&["volume", "create", "filled"]);
    d.docker_ok(&["volume", "create", "idle"]);
    d.docker_ok(&[
        "run", "-d", "--name", "writer", "-v", "filled:/vol", &img, "sh", "-c",
        "head -c 300000 /dev/zero > /vol/f; head -c 1000000 /dev/zero > /big; touch /ready; sleep 300",
    ]);
    wait_until(
        "the writer's files",
        std::time::Duration::from_secs(10),
        || {
            d.docker(&["exec", "writer", "test", "-e", "/ready"])
                .success()
                .then_some(())
                .ok_or_else(|| "not yet".to_string())
        },
    );

    let v = df("");
    let images = v["Images"].as_array().unwrap();
    assert_eq!(images.len(), 2, "{v}");
    let by_tag = |tag: &str| {
        images
            .iter()
            .find(|i| {
                i["RepoTags"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|t| t.as_str().unwrap().ends_with(tag))
            })
            .unwrap_or_else(|| panic!("{tag} in {v}"))
    };
    let (base, derived) = (by_tag("busybox:latest"), by_tag("derived:1"));
    let base_size = base["Size"].as_i64().unwrap();
    assert!(base_size > 0);
    assert_eq!(base["SharedSize"], base_size, "all of busybox is shared");
    assert_eq!(derived["SharedSize"], base_size);
    assert!(derived["Size"].as_i64().unwrap() > base_size);
    assert_eq!(v["LayersSize"], derived["Size"], "each layer counted once");
    // `maker` (exited) and `writer` (running) use busybox; nothing uses derived:1.
    assert_eq!(
        (base["Containers"].as_i64(), derived["Containers"].as_i64()),
        (Some(2), Some(0))
    );

    let containers = v["Containers"].as_array().unwrap();
    assert_eq!(containers.len(), 2, "{v}");
    let writer = containers
        .iter()
        .find(|c| c["Names"][0] == "/writer")
        .unwrap();
    let rw = writer["SizeRw"].as_i64().unwrap();
    assert!((1_000_000..1_100_000).contains(&rw), "SizeRw {rw}");
    assert_eq!(writer["SizeRootFs"].as_i64().unwrap(), rw + base_size);
    assert_eq!(writer["State"], "running");

    let volumes = v["Volumes"].as_array().unwrap();
    let usage = |name: &str| {
        let vol = volumes.iter().find(|x| x["Name"] == name).unwrap();
        (
            vol["UsageData"]["Size"].as_i64(),
            vol["UsageData"]["RefCount"].as_i64(),
        )
    };
    assert_eq!(usage("filled"), (Some(300_000), Some(1)));
    assert_eq!(usage("idle"), (Some(0), Some(0)));
    assert_eq!(
        v["BuildCache"],
        serde_json::json!([]),
        "berthd keeps no build cache"
    );

    // Only the kinds asked for; an unknown kind is Docker's 400.
    let v = df("?type=volume&type=container");
    assert!(v["Images"].is_null() && v["BuildCache"].is_null(), "{v}");
    assert_eq!(v["Volumes"].as_array().map(Vec::len), Some(2));
    assert_eq!(v["Containers"].as_array().map(Vec::len), Some(2));
    let r = unix_http_request(&d.socket_path(), "GET", "/system/df?type=bogus", &[], b"").unwrap();
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["message"], "unknown object type: bogus");
    // `docker images` computes shared sizes only when asked.
    let r = unix_http_request(
        &d.socket_path(),
        "GET",
        "/images/json?shared-size=1",
        &[],
        b"",
    )
    .unwrap();
    assert!(
        r.json()
            .as_array()
            .unwrap()
            .iter()
            .all(|i| i["SharedSize"] == base_size),
        "{}",
        r.text()
    );
    let r = unix_http_request(&d.socket_path(), "GET", "/images/json", &[], b"").unwrap();
    assert!(
        r.json()
            .as_array()
            .unwrap()
            .iter()
            .all(|i| i["SharedSize"] == -1),
        "{}",
        r.text()
    );

    // The CLI's tables.
    let df_rows = || {
        d.docker_ok(&[
            "system",
            "df",
            "--format",
            "{{.Type}}|{{.TotalCount}}|{{.Active}}",
        ])
    };
    let out = df_rows();
    assert_eq!(
        out.lines().collect::<Vec<_>>(),
        [
            "Images|2|1",
            "Containers|2|1",
            "Local Volumes|2|1",
            "Build Cache|0|0"
        ],
        "{out}"
    );
    let out = d.docker_ok(&["system", "df", "-v"]);
    for section in [
        "Images space usage:",
        "Containers space usage:",
        "Local Volumes space usage:",
        "Build cache usage: 0B",
    ] {
        assert!(out.contains(section), "{out}");
    }
    assert!(
        out.lines()
            .any(|l| l.starts_with("filled ") && l.ends_with("300kB")),
        "{out}"
    );
    let out = d.docker_ok(&["ps", "-s", "--format", "{{.Names}} {{.Size}}"]);
    assert!(out.starts_with("writer 1MB (virtual "), "{out}");

    // `system prune`: the exited container and the now unused image go; the running container,
    // its image and the volumes stay. The build-cache step has nothing to free.
    let out = d.docker_ok(&["system", "prune", "-f", "-a"]);
    assert!(out.contains("Deleted Containers:"), "{out}");
    assert!(out.contains("untagged: derived:1"), "{out}");
    assert!(
        out.trim_end()
            .lines()
            .last()
            .unwrap()
            .starts_with("Total reclaimed space: "),
        "{out}"
    );
    let out = df_rows();
    assert_eq!(
        out.lines().collect::<Vec<_>>(),
        [
            "Images|1|1",
            "Containers|1|1",
            "Local Volumes|2|1",
            "Build Cache|0|0"
        ],
        "{out}"
    );
    let out = d.docker(&["builder", "prune", "-f", "--filter", "bogus=1"]);
    assert!(
        !out.success() && out.stderr.contains("invalid filter 'bogus'"),
        "{out}"
    );
    d.docker_ok(&["rm", "-f", "writer"]);
}

/// `docker events --since/--until`: remembered events replay in their window; a past `until`
/// ends the stream at once, a future one when it comes, with live events in between.
#[test]
fn events_replay_since_and_until() {
    use std::time::{Duration, SystemTime, UNIX_EPOCH};
    let stamp = || {
        let t = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
        format!("{}.{:09}", t.as_secs(), t.subsec_nanos())
    };
    let d = Berthd::start();
    let start = stamp();
    d.docker_ok(&["volume", "create", "first"]);
    d.docker_ok(&["volume", "create", "second"]);
    // Each docker call is a process that runs to its end between two nanosecond stamps, so
    // `middle` lies strictly after the second event and before the third.
    let middle = stamp();
    d.docker_ok(&["volume", "create", "third"]);
    d.docker_ok(&["network", "create", "other"]);
    let end = stamp();
    let events = |window: &[&str]| {
        let mut args = vec![
            "events",
            "--filter",
            "type=volume",
            "--format",
            "{{.Action}} {{.Actor.ID}}",
        ];
        args.extend_from_slice(window);
        d.docker_ok(&args)
            .lines()
            .map(str::to_string)
            .collect::<Vec<_>>()
    };
    assert_eq!(
        events(&["--since", &start, "--until", &end]),
        ["create first", "create second", "create third"]
    );
    assert_eq!(
        events(&["--since", &middle, "--until", &end]),
        ["create third"]
    );
    assert_eq!(
        events(&["--until", &middle]),
        ["create first", "create second"]
    );
    // Durations are relative to now (the CLI turns them into whole seconds).
    assert_eq!(events(&["--since", "1h", "--until", &end]).len(), 3);

    // A window reaching into the future: past events, then live ones, then the stream ends.
    let until = {
        let t = SystemTime::now().duration_since(UNIX_EPOCH).unwrap() + Duration::from_secs(3);
        format!("{}.{:09}", t.as_secs(), t.subsec_nanos())
    };
    let mut cmd = d.docker_command(&[
        "events",
        "--since",
        &middle,
        "--until",
        &until,
        "--filter",
        "type=volume",
        "--format",
        "{{.Action}} {{.Actor.ID}}",
    ]);
    cmd.stdout(std::process::Stdio::piped());
    let mut child = spawn_tied(cmd).expect("docker events");
    let stdout = child.stdout.take().expect("events stdout");
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    let reader = std::thread::spawn(move || {
        use std::io::BufRead;
        for line in std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
        {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    // The engine replays the past events and subscribes the stream to new ones in one step:
    // once the replay shows, a new event cannot be missed.
    let mut out = vec![rx
        .recv_timeout(Duration::from_secs(20))
        .expect("the replayed event")];
    d.docker_ok(&["volume", "rm", "first"]);
    let status = wait_until(
        "docker events to end at --until",
        Duration::from_secs(20),
        || {
            child
                .try_wait()
                .map_err(|e| e.to_string())?
                .ok_or_else(|| "running".to_string())
        },
    );
    assert!(status.success());
    reader.join().expect("events reader");
    out.extend(rx.try_iter());
    assert_eq!(out, ["create third", "destroy first"]);

    let r = unix_http_request(
        &d.socket_path(),
        "GET",
        "/events?since=yesterday-ish",
        &[],
        b"",
    )
    .unwrap();
    assert_eq!(r.status, 400, "{}", r.text());
}
