//! Resource usage and housekeeping through the docker CLI and the raw API: `docker stats`
//! (one-shot, two-sample and streamed), `docker top`, `docker container prune` and
//! `docker image prune`. Network traffic stays on the test engine's own bridge.

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

use berth_tests::*;
use serde_json::Value;

const ZERO_TIME: &str = "0001-01-01T00:00:00Z";

/// A streamed GET on the engine socket, read one JSON line at a time (chunked encoding decoded
/// by hand, since the stream does not end on its own).
struct JsonStream {
    reader: BufReader<UnixStream>,
    pending: Vec<u8>,
    ended: bool,
}

impl JsonStream {
    fn get(d: &Berthd, path: &str) -> (u16, JsonStream) {
        let mut s = UnixStream::connect(d.socket_path()).expect("connect to the engine socket");
        s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        write!(s, "GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n").unwrap();
        let mut reader = BufReader::new(s);
        let mut status_line = String::new();
        reader.read_line(&mut status_line).expect("status line");
        let status: u16 = status_line
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("bad status line {status_line:?}"));
        let mut chunked = false;
        loop {
            let mut line = String::new();
            reader.read_line(&mut line).expect("header line");
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            if line.eq_ignore_ascii_case("transfer-encoding: chunked") {
                chunked = true;
            }
        }
        assert!(chunked, "{path}: expected a chunked (streamed) body");
        (
            status,
            JsonStream {
                reader,
                pending: Vec::new(),
                ended: false,
            },
        )
    }

    /// The next JSON line, or None when the stream ends.
    fn next(&mut self) -> Option<Value> {
        loop {
            if let Some(pos) = self.pending.iter().position(|b| *b == b'\n') {
                let line: Vec<u8> = self.pending.drain(..=pos).collect();
                return Some(serde_json::from_slice(&line).unwrap_or_else(|e| {
                    panic!("not JSON ({e}): {}", String::from_utf8_lossy(&line))
                }));
            }
            if self.ended {
                return None;
            }
            let mut size_line = String::new();
            if self.reader.read_line(&mut size_line).unwrap_or(0) == 0 {
                self.ended = true;
                continue;
            }
            let size = usize::from_str_radix(size_line.trim(), 16)
                .unwrap_or_else(|_| panic!("bad chunk size {size_line:?}"));
            if size == 0 {
                self.ended = true;
                continue;
            }
            let mut chunk = vec![0; size + 2];
            self.reader.read_exact(&mut chunk).expect("chunk");
            chunk.truncate(size);
            self.pending.extend_from_slice(&chunk);
        }
    }
}

fn api(d: &Berthd, method: &str, path: &str) -> HttpResponse {
    unix_http_request(&d.socket_path(), method, path, &[], b"").expect("API request")
}

/// Percent-encodes a query value (filters are JSON).
fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Bytes of a size the CLI printed (`1.5MiB`, `12.3kB`, `0B`).
fn bytes_of(s: &str) -> f64 {
    let s = s.trim();
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (n, unit) = s.split_at(split);
    let n: f64 = n.parse().unwrap_or_else(|_| panic!("not a size: {s:?}"));
    let mult = match unit {
        "B" => 1.0,
        "kB" => 1e3,
        "MB" => 1e6,
        "GB" => 1e9,
        "KiB" => 1024.0,
        "MiB" => 1024.0 * 1024.0,
        "GiB" => 1024.0 * 1024.0 * 1024.0,
        other => panic!("unknown unit {other:?} in {s:?}"),
    };
    n * mult
}

/// `docker stats --no-stream --format '{{json .}}'` rows, by container name.
fn cli_stats(d: &Berthd, names: &[&str]) -> Vec<Value> {
    let mut args = vec!["stats", "--no-stream", "--format", "{{json .}}"];
    args.extend_from_slice(names);
    d.docker_ok(&args)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

fn percent(v: &Value) -> f64 {
    v.as_str()
        .and_then(|s| s.trim_end_matches('%').parse().ok())
        .unwrap_or_else(|| panic!("not a percentage: {v}"))
}

/// `burner`: a container that keeps one CPU busy.
fn run_burner(d: &Berthd, img: &str) {
    d.docker_ok(&[
        "run",
        "-d",
        "--name",
        "burner",
        img,
        "sh",
        "-c",
        "while :; do :; done",
    ]);
}

fn wait_for_log(d: &Berthd, name: &str, needle: &str) {
    wait_until(
        &format!("{name} logging {needle:?}"),
        Duration::from_secs(30),
        || {
            let out = d.docker(&["logs", name]);
            if out.stdout.contains(needle) || out.stderr.contains(needle) {
                Ok(())
            } else {
                Err(out.to_string())
            }
        },
    )
}

#[test]
fn cli_stats_show_cpu_memory_pids_and_network() {
    let (d, img) = engine_with_busybox();
    run_burner(&d, &img);
    // 8 MiB written to a file in the container: page cache charged to its cgroup.
    d.docker_ok(&[
        "run",
        "-d",
        "--name",
        "writer",
        &img,
        "sh",
        "-c",
        "dd if=/dev/zero of=/tmp/fill bs=1M count=8 && echo written && exec sleep 300",
    ]);
    // Traffic to the test engine's own bridge address and nothing else.
    let gw = d.net().gateway();
    d.docker_ok(&[
        "run",
        "-d",
        "--name",
        "pinger",
        &img,
        "sh",
        "-c",
        &format!("ping -c 3 -W 2 {gw}; echo pinged; exec sleep 300"),
    ]);
    wait_for_log(&d, "writer", "written");
    wait_for_log(&d, "pinger", "pinged");

    // Two samples a second apart (CPU % needs both), within the CLI's 2 s patience: a slower
    // answer leaves the CLI's columns empty and the checks below fail.
    let rows = cli_stats(&d, &["burner", "writer", "pinger"]);
    assert_eq!(rows.len(), 3, "{rows:?}");
    let row = |name: &str| {
        rows.iter()
            .find(|r| r["Name"] == name)
            .unwrap_or_else(|| panic!("no row for {name}: {rows:?}"))
    };
    let burner = row("burner");
    assert!(percent(&burner["CPUPerc"]) > 5.0, "{burner}");
    let (used, limit) = burner["MemUsage"]
        .as_str()
        .and_then(|s| s.split_once(" / "))
        .unwrap_or_else(|| panic!("{burner}"));
    assert!(bytes_of(used) > 0.0, "{burner}");
    assert!(
        bytes_of(limit) > 100e6,
        "unlimited reads as the host's memory: {burner}"
    );
    // A busy loop holds a few hundred KiB: 0.00% of the host, but a number.
    assert!(percent(&burner["MemPerc"]) >= 0.0, "{burner}");
    assert_eq!(burner["PIDs"], "1", "{burner}");
    assert_eq!(burner["ID"].as_str().map(str::len), Some(12), "{burner}");

    let writer = row("writer");
    let used = writer["MemUsage"]
        .as_str()
        .unwrap()
        .split(" / ")
        .next()
        .unwrap();
    assert!(bytes_of(used) > 0.0, "{writer}");
    assert!(
        percent(&writer["CPUPerc"]) < 50.0,
        "an idle container: {writer}"
    );

    let pinger = row("pinger");
    let (rx, tx) = pinger["NetIO"]
        .as_str()
        .and_then(|s| s.split_once(" / "))
        .unwrap_or_else(|| panic!("{pinger}"));
    assert!(
        bytes_of(rx) > 0.0 && bytes_of(tx) >= 3.0 * 84.0,
        "three pings out, answers back: {pinger}"
    );

    // The raw objects behind those numbers.
    let r = api(
        &d,
        "GET",
        "/containers/writer/stats?stream=false&one-shot=true",
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.header("content-type"), Some("application/json"));
    let v = r.json();
    assert_eq!(v["name"], "/writer");
    assert_eq!(v["preread"], ZERO_TIME, "one-shot has no previous sample");
    assert!(v["precpu_stats"]["system_cpu_usage"].is_null());
    let usage = v["memory_stats"]["usage"].as_u64().unwrap_or(0);
    assert!(usage >= 8 << 20, "the written file counts: {v}");
    let stats = &v["memory_stats"]["stats"];
    assert!(
        stats.get("total_inactive_file").is_some() || stats.get("inactive_file").is_some(),
        "{v}"
    );
    assert!(
        v["cpu_stats"]["system_cpu_usage"].as_u64().unwrap_or(0) > 0,
        "{v}"
    );
    assert!(
        v["cpu_stats"]["online_cpus"].as_u64().unwrap_or(0) >= 1,
        "{v}"
    );
    assert!(v["pids_stats"]["current"].as_u64().unwrap_or(0) >= 1, "{v}");
    assert!(
        v["blkio_stats"]["io_service_bytes_recursive"].is_array(),
        "{v}"
    );
    let net = v["networks"].as_object().expect("networks");
    assert!(net.contains_key("eth0") && !net.contains_key("lo"), "{v}");

    let v = api(
        &d,
        "GET",
        "/containers/pinger/stats?stream=false&one-shot=true",
    )
    .json();
    let eth0 = &v["networks"]["eth0"];
    assert!(eth0["rx_packets"].as_u64().unwrap_or(0) >= 3, "{v}");
    assert!(eth0["tx_packets"].as_u64().unwrap_or(0) >= 3, "{v}");
    for key in ["rx_errors", "rx_dropped", "tx_errors", "tx_dropped"] {
        assert!(eth0[key].is_u64(), "{key} in {v}");
    }

    // No interfaces of its own: no `networks` at all, as dockerd.
    d.docker_ok(&[
        "run",
        "-d",
        "--name",
        "offline",
        "--network",
        "none",
        &img,
        "sleep",
        "300",
    ]);
    let v = api(
        &d,
        "GET",
        "/containers/offline/stats?stream=false&one-shot=true",
    )
    .json();
    assert!(v.get("networks").is_none(), "{v}");
    assert!(v["memory_stats"]["usage"].as_u64().unwrap_or(0) > 0, "{v}");
}

#[test]
fn stats_stream_two_samples_and_stopped_containers() {
    let (d, img) = engine_with_busybox();
    run_burner(&d, &img);

    // Streamed: one object per line, about a second apart, each carrying the previous one.
    let (status, mut stream) = JsonStream::get(&d, "/containers/burner/stats");
    assert_eq!(status, 200);
    let t0 = Instant::now();
    let first = stream.next().expect("first sample");
    let second = stream.next().expect("second sample");
    let third = stream.next().expect("third sample");
    let spent = t0.elapsed();
    assert!(
        spent >= Duration::from_millis(1800) && spent < Duration::from_secs(6),
        "two intervals took {spent:?}"
    );
    assert_eq!(first["preread"], ZERO_TIME);
    assert_eq!(first["precpu_stats"]["cpu_usage"]["total_usage"], 0);
    let read = |v: &Value| v["read"].as_str().unwrap_or_default().to_string();
    assert!(read(&second) > read(&first), "{first}\n{second}");
    assert!(read(&third) > read(&second));
    assert_eq!(second["preread"], first["read"]);
    assert_eq!(second["precpu_stats"], first["cpu_stats"]);
    let pre = second["precpu_stats"]["cpu_usage"]["total_usage"]
        .as_u64()
        .unwrap();
    let now = second["cpu_stats"]["cpu_usage"]["total_usage"]
        .as_u64()
        .unwrap();
    assert!(pre > 0 && now > pre, "{second}");
    assert!(second["precpu_stats"]["system_cpu_usage"].as_u64().unwrap() > 0);
    drop(stream);

    // The same through bollard (the desktop app's client).
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        use futures_util::StreamExt;
        let docker = d.bollard();
        let opts = bollard::query_parameters::StatsOptionsBuilder::default()
            .stream(true)
            .build();
        let samples: Vec<_> = docker
            .stats("burner", Some(opts))
            .take(2)
            .map(|s| s.expect("bollard stats"))
            .collect()
            .await;
        assert!(samples[1].read > samples[0].read);
        let pre = samples[1]
            .precpu_stats
            .as_ref()
            .and_then(|c| c.cpu_usage.as_ref())
            .and_then(|u| u.total_usage)
            .unwrap_or(0);
        assert!(pre > 0, "{:?}", samples[1]);
        let one = docker
            .stats(
                "burner",
                Some(
                    bollard::query_parameters::StatsOptionsBuilder::default()
                        .stream(false)
                        .build(),
                ),
            )
            .next()
            .await
            .expect("one answer")
            .expect("bollard stats");
        assert_eq!(one.name.as_deref(), Some("/burner"));
        assert!(one.cpu_stats.and_then(|c| c.online_cpus).unwrap_or(0) >= 1);
    });

    // Not streamed, not one-shot: two samples taken a second apart, in one answer.
    let t0 = Instant::now();
    let v = api(&d, "GET", "/containers/burner/stats?stream=0").json();
    assert!(
        t0.elapsed() >= Duration::from_millis(900),
        "{:?}",
        t0.elapsed()
    );
    assert_ne!(v["preread"], ZERO_TIME);
    assert!(v["read"].as_str() > v["preread"].as_str(), "{v}");
    assert!(
        v["cpu_stats"]["cpu_usage"]["total_usage"].as_u64()
            > v["precpu_stats"]["cpu_usage"]["total_usage"].as_u64(),
        "{v}"
    );

    // A stream ends when its container stops, with dockerd's empty object last.
    let (_, mut stream) = JsonStream::get(&d, "/containers/burner/stats");
    stream.next().expect("a sample while running");
    let t0 = Instant::now();
    d.docker_ok(&["kill", "burner"]);
    let mut last = None;
    while let Some(v) = stream.next() {
        last = Some(v);
    }
    assert!(t0.elapsed() < Duration::from_secs(10), "{:?}", t0.elapsed());
    let last = last.expect("a last object");
    assert_eq!(last["read"], ZERO_TIME, "{last}");
    assert_eq!(last["name"], "/burner");

    // A stopped container: the empty object, and a stream of just that.
    let v = api(&d, "GET", "/containers/burner/stats?stream=false").json();
    let id = d.docker_ok(&["inspect", "-f", "{{.Id}}", "burner"]);
    assert_eq!(v["id"], id.trim());
    assert_eq!(v["read"], ZERO_TIME);
    assert_eq!(v["memory_stats"], serde_json::json!({}));
    assert_eq!(v["cpu_stats"]["cpu_usage"]["total_usage"], 0);
    let (status, mut stream) = JsonStream::get(&d, "/containers/burner/stats?stream=1");
    assert_eq!(status, 200);
    assert_eq!(stream.next().expect("one object")["read"], ZERO_TIME);
    assert!(stream.next().is_none(), "the stream ends");
    let rows = cli_stats(&d, &["burner"]);
    assert_eq!(rows[0]["CPUPerc"], "0.00%", "{rows:?}");

    // Unknown containers.
    let r = api(&d, "GET", "/containers/nope/stats?stream=false");
    assert_eq!(r.status, 404);
    assert_eq!(r.json()["message"], "No such container: nope");
    let out = d.docker(&["stats", "--no-stream", "nope"]);
    assert_ne!(out.status, 0);
    assert!(out.stderr.contains("No such container: nope"), "{out}");
}

#[test]
fn top_lists_only_the_container_processes() {
    let (d, img) = engine_with_busybox();
    d.docker_ok(&[
        "run",
        "-d",
        "--name",
        "pair",
        &img,
        "sh",
        "-c",
        "sleep 301 & exec sleep 302",
    ]);
    let pid = d.docker_ok(&["inspect", "-f", "{{.State.Pid}}", "pair"]);
    let pid = pid.trim();
    // The background sleep may need a moment to appear.
    let deadline = Instant::now() + Duration::from_secs(10);
    let out = loop {
        let out = d.docker_ok(&["top", "pair"]);
        if out.contains("sleep 301") || Instant::now() > deadline {
            break out;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let mut lines = out.lines();
    let header = lines.next().unwrap_or_default();
    for col in ["UID", "PID", "PPID", "CMD"] {
        assert!(header.split_whitespace().any(|c| c == col), "{out}");
    }
    let rows: Vec<&str> = lines.collect();
    assert_eq!(rows.len(), 2, "only the container's two processes: {out}");
    assert!(
        rows.iter()
            .any(|r| r.contains("sleep 302") && r.contains(pid)),
        "{out}"
    );
    assert!(rows.iter().any(|r| r.contains("sleep 301")), "{out}");

    let out = d.docker_ok(&["top", "pair", "-o", "pid,comm"]);
    let mut lines = out.lines();
    assert_eq!(
        lines
            .next()
            .map(|l| l.split_whitespace().collect::<Vec<_>>()),
        Some(vec!["PID", "COMMAND"]),
        "{out}"
    );
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split_whitespace().collect()).collect();
    assert!(rows.contains(&vec![pid, "sleep"]), "{out}");
    assert_eq!(rows.len(), 2, "{out}");

    // The raw answer, and dockerd's errors.
    let v = api(&d, "GET", "/containers/pair/top?ps_args=-o%20pid,args").json();
    assert_eq!(v["Titles"], serde_json::json!(["PID", "COMMAND"]));
    assert!(
        v["Processes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p[1] == "sleep 302"),
        "{v}"
    );
    let r = api(&d, "GET", "/containers/pair/top?ps_args=-o%20nosuchcolumn");
    assert_eq!(r.status, 500, "{}", r.text());
    let msg = r.json()["message"].as_str().unwrap_or_default().to_string();
    assert!(msg.starts_with("ps: "), "{msg}");
    let r = api(&d, "GET", "/containers/pair/top?ps_args=-o%20user=PID");
    assert_eq!(r.status, 500);
    assert_eq!(
        r.json()["message"],
        "specifying \"user=PID\" is not allowed"
    );

    d.docker_ok(&["create", "--name", "idle", &img, "sleep", "1"]);
    let id = d.docker_ok(&["inspect", "-f", "{{.Id}}", "idle"]);
    let r = api(&d, "GET", "/containers/idle/top");
    assert_eq!(r.status, 409);
    assert_eq!(
        r.json()["message"],
        format!("Container {} is not running", id.trim())
    );
    let out = d.docker(&["top", "idle"]);
    assert_ne!(out.status, 0);
    assert!(out.stderr.contains("is not running"), "{out}");
    let r = api(&d, "GET", "/containers/nope/top");
    assert_eq!(r.status, 404);
    assert_eq!(r.json()["message"], "No such container: nope");
}

#[test]
fn container_prune_removes_stopped_containers_only() {
    let (d, img) = engine_with_busybox();
    let created = d.docker_ok(&["create", "--name", "fresh", &img, "true"]);
    d.docker_ok(&[
        "run",
        "--name",
        "done",
        &img,
        "sh",
        "-c",
        "echo data > /file",
    ]);
    d.docker_ok(&[
        "run",
        "--name",
        "withvol",
        "-v",
        "keepsake:/data",
        &img,
        "true",
    ]);
    d.docker_ok(&[
        "create", "--name", "labelled", "--label", "keep=yes", &img, "true",
    ]);
    d.docker_ok(&["run", "-d", "--name", "alive", &img, "sleep", "300"]);
    let id_of = |n: &str| {
        d.docker_ok(&["inspect", "-f", "{{.Id}}", n])
            .trim()
            .to_string()
    };
    let (done, withvol, labelled) = (id_of("done"), id_of("withvol"), id_of("labelled"));
    // The volume is held by its stopped container.
    assert_ne!(d.docker(&["volume", "rm", "keepsake"]).status, 0);

    // Nothing is older than an hour.
    let out = d.docker_ok(&["container", "prune", "-f", "--filter", "until=1h"]);
    assert_eq!(out.trim(), "Total reclaimed space: 0B", "{out}");

    let (status, mut events) = JsonStream::get(
        &d,
        &format!(
            "/events?filters={}",
            enc(r#"{"type":["container"],"event":["prune","destroy"]}"#)
        ),
    );
    assert_eq!(status, 200);
    let out = d.docker_ok(&["container", "prune", "-f", "--filter", "label!=keep"]);
    assert!(out.starts_with("Deleted Containers:\n"), "{out}");
    for id in [created.trim(), &done, &withvol] {
        assert!(out.contains(id), "{id} in {out}");
    }
    assert!(!out.contains(&labelled), "{out}");
    assert!(out.contains("Total reclaimed space: "), "{out}");
    let left = d.docker_ok(&["ps", "-a", "--format", "{{.Names}}"]);
    let mut left: Vec<&str> = left.lines().collect();
    left.sort();
    assert_eq!(left, ["alive", "labelled"]);
    // Released through the ordinary removal: the volume is free, the files are gone.
    d.docker_ok(&["volume", "rm", "keepsake"]);
    // The files follow the removal in the background.
    let dir = d.data_root().join("containers").join(&done);
    wait_until(
        "the pruned container's files gone",
        Duration::from_secs(10),
        || {
            (!dir.exists())
                .then_some(())
                .ok_or_else(|| "still there".to_string())
        },
    );
    let mut actions = Vec::new();
    while actions.len() < 4 {
        let ev = events.next().expect("events");
        actions.push(ev["Action"].as_str().unwrap_or_default().to_string());
        if ev["Action"] == "prune" {
            let reclaimed: u64 = ev["Actor"]["Attributes"]["reclaimed"]
                .as_str()
                .and_then(|s| s.parse().ok())
                .expect("reclaimed attribute");
            assert!(reclaimed >= 5, "done's /file was written: {ev}");
        }
    }
    assert_eq!(actions, ["destroy", "destroy", "destroy", "prune"]);

    let out = d.docker_ok(&["container", "prune", "-f"]);
    assert!(out.contains(&labelled), "{out}");
    assert_eq!(
        d.docker_ok(&["ps", "-aq"]).lines().count(),
        1,
        "alive stays"
    );

    // Filters dockerd refuses.
    let r = api(
        &d,
        "POST",
        &format!(
            "/containers/prune?filters={}",
            enc(r#"{"dangling":["true"]}"#)
        ),
    );
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["message"], "invalid filter 'dangling'");
    let r = api(
        &d,
        "POST",
        &format!(
            "/containers/prune?filters={}",
            enc(r#"{"until":["someday"]}"#)
        ),
    );
    assert_eq!(r.status, 400, "{}", r.text());
    // Nothing to do is still an answer.
    let v = api(&d, "POST", "/containers/prune").json();
    assert_eq!(
        v,
        serde_json::json!({"ContainersDeleted": null, "SpaceReclaimed": 0})
    );

    // A container called `prune` is still a container.
    d.docker_ok(&["create", "--name", "prune", &img, "true"]);
    d.docker_ok(&["rm", "prune"]);
}

#[test]
fn image_prune_spares_images_containers_use() {
    let (d, img) = engine_with_busybox();
    let commit = |container: &str, content: &str, tag: &str| -> String {
        d.docker_ok(&[
            "run",
            "--name",
            container,
            &img,
            "sh",
            "-c",
            &format!("echo {content} > /f"),
        ]);
        d.docker_ok(&["commit", container, tag]).trim().to_string()
    };
    let inspect = |what: &str, format: &str| {
        d.docker_ok(&["image", "inspect", "-f", format, what])
            .trim()
            .to_string()
    };
    // x:1 committed twice: the first image loses its name and dangles.
    let x_old = commit("c1", "one", "x:1");
    let x_old_layer = inspect(&x_old, "{{.GraphDriver.Data.UpperDir}}");
    let x_new = commit("c2", "two", "x:1");
    assert_ne!(x_old, x_new);
    // y:1 likewise, but its old image is what a (never started) container was created from.
    let y_old = commit("c3", "three", "y:1");
    d.docker_ok(&["create", "--name", "user", "y:1", "true"]);
    let y_new = commit("c4", "four", "y:1");
    let dangling = || {
        let mut v: Vec<String> = d
            .docker_ok(&["images", "-q", "--no-trunc", "--filter", "dangling=true"])
            .lines()
            .map(str::to_string)
            .collect();
        v.sort();
        v
    };
    let mut both = vec![x_old.clone(), y_old.clone()];
    both.sort();
    assert_eq!(dangling(), both);
    let blob = |id: &str| {
        d.data_root()
            .join("content/sha256")
            .join(id.trim_start_matches("sha256:"))
    };
    assert!(blob(&x_old).exists() && std::path::Path::new(&x_old_layer).exists());

    let out = d.docker_ok(&["image", "prune", "-f"]);
    assert!(out.starts_with("Deleted Images:\n"), "{out}");
    assert!(out.contains(&format!("deleted: {x_old}")), "{out}");
    assert!(!out.contains(&y_old), "used by a stopped container: {out}");
    assert!(out.contains("Total reclaimed space: "), "{out}");
    assert_eq!(dangling(), vec![y_old.clone()]);
    // Its blob and its own layer went with it.
    assert!(!blob(&x_old).exists(), "config blob removed");
    assert!(
        !std::path::Path::new(&x_old_layer).exists(),
        "layer removed"
    );
    // Nothing left to prune.
    let out = d.docker_ok(&["image", "prune", "-f"]);
    assert_eq!(out.trim(), "Total reclaimed space: 0B");

    // -a: every image no container uses, tagged or not; labels filter.
    d.docker_ok(&["rm", "c1", "c2"]);
    d.docker_ok(&["commit", "--change", "LABEL keep=1", "c3", "kept:1"]);
    let out = d.docker_ok(&["image", "prune", "-a", "-f", "--filter", "label!=keep"]);
    assert!(out.contains("untagged: x:1"), "{out}");
    assert!(out.contains(&format!("deleted: {x_new}")), "{out}");
    assert!(out.contains("untagged: y:1"), "{out}");
    assert!(out.contains(&format!("deleted: {y_new}")), "{out}");
    let mut left: Vec<String> = d
        .docker_ok(&["images", "--format", "{{.Repository}}:{{.Tag}}"])
        .lines()
        .map(str::to_string)
        .collect();
    left.sort();
    // busybox (c3, c4 and user were made from it or its children), the one user holds, kept:1.
    let mut want = vec!["<none>:<none>".to_string(), img.clone(), "kept:1".into()];
    want.sort();
    assert_eq!(left, want);
    assert_eq!(dangling(), vec![y_old.clone()]);
    // The stopped container still runs from its image.
    d.docker_ok(&["start", "-a", "user"]);

    let r = api(
        &d,
        "POST",
        &format!("/images/prune?filters={}", enc(r#"{"until":["someday"]}"#)),
    );
    assert_eq!(r.status, 400);
    assert!(
        r.json()["message"]
            .as_str()
            .unwrap_or_default()
            .starts_with("invalid value for 'until' filter"),
        "{}",
        r.text()
    );
    let r = api(
        &d,
        "POST",
        &format!("/images/prune?filters={}", enc(r#"{"reference":["x"]}"#)),
    );
    assert_eq!(r.status, 400);
    let v = api(&d, "POST", "/images/prune").json();
    assert_eq!(
        v,
        serde_json::json!({"ImagesDeleted": null, "SpaceReclaimed": 0})
    );

    // An image called `prune` is still an image.
    d.docker_ok(&["tag", &img, "prune"]);
    d.docker_ok(&["image", "inspect", "prune"]);
    d.docker_ok(&["rmi", "prune"]);
}
