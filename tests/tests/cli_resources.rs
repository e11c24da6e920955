//! Resource limits through the docker CLI: `docker run -m/--cpus/--pids-limit/--cpu-shares/
//! --ulimit`, seen from inside the container, in its cgroup files on the host (cgroup v1, hybrid
//! or v2), in inspect and in `docker stats`; `docker update` on running and stopped containers;
//! a pids limit that stops forks; an OOM kill; dockerd's refusals; `docker info`'s flags.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::mpsc;
use std::time::Duration;

use berth_tests::*;

const MIB: u64 = 1024 * 1024;

use berth_tests::vm::host_is_cgroup_v2 as unified;

/// A file of the container's cgroup, where the runtime puts it (`cgroupsPath` `/berth/<id>`):
/// under each controller's mount on cgroup v1 and hybrid hosts, in the one unified tree on v2.
/// `v1` is `(controller, file)`.
fn cgroup_file(id: &str, v1: (&str, &str), v2: &str) -> PathBuf {
    if unified() {
        PathBuf::from("/sys/fs/cgroup/berth").join(id).join(v2)
    } else {
        PathBuf::from("/sys/fs/cgroup")
            .join(v1.0)
            .join("berth")
            .join(id)
            .join(v1.1)
    }
}

fn read_cgroup(id: &str, v1: (&str, &str), v2: &str) -> String {
    let p = cgroup_file(id, v1, v2);
    std::fs::read_to_string(&p)
        .unwrap_or_else(|e| panic!("reading {}: {e}", p.display()))
        .trim()
        .to_string()
}

fn memory_limit(id: &str) -> u64 {
    let v = read_cgroup(id, ("memory", "memory.limit_in_bytes"), "memory.max");
    v.parse().unwrap_or_else(|_| panic!("memory limit {v:?}"))
}

/// `(quota, period)` in microseconds.
fn cpu_quota(id: &str) -> (String, String) {
    if unified() {
        let v = read_cgroup(id, ("cpu", ""), "cpu.max");
        let (q, p) = v.split_once(' ').unwrap_or_else(|| panic!("cpu.max {v:?}"));
        (q.to_string(), p.to_string())
    } else {
        (
            read_cgroup(id, ("cpu", "cpu.cfs_quota_us"), ""),
            read_cgroup(id, ("cpu", "cpu.cfs_period_us"), ""),
        )
    }
}

fn pids_max(id: &str) -> String {
    read_cgroup(id, ("pids", "pids.max"), "pids.max")
}

fn id_of(d: &Berthd, name: &str) -> String {
    d.docker_ok(&["inspect", "-f", "{{.Id}}", name])
        .trim()
        .to_string()
}

fn swap_limit_supported(d: &Berthd) -> bool {
    d.docker_ok(&["info", "-f", "{{.SwapLimit}}"]).trim() == "true"
}

#[test]
fn limits_reach_the_container_its_cgroup_inspect_and_stats() {
    let (d, img) = engine_with_busybox();
    d.docker_ok(&[
        "run",
        "-d",
        "--name",
        "lim",
        "-m",
        "64m",
        "--cpus",
        "0.5",
        "--pids-limit",
        "50",
        "--cpu-shares",
        "512",
        "--ulimit",
        "nofile=1024:2048",
        &img,
        "sleep",
        "1000",
    ]);
    let id = id_of(&d, "lim");

    // From inside: the process runs with the rlimits.
    let out = d.docker_ok(&["exec", "lim", "sh", "-c", "ulimit -n; ulimit -Hn"]);
    assert_eq!(out, "1024\n2048\n");

    // On the host: the runtime wrote the limits into the container's cgroup.
    assert_eq!(memory_limit(&id), 64 * MIB);
    assert_eq!(cpu_quota(&id), ("50000".into(), "100000".into()));
    assert_eq!(pids_max(&id), "50");
    if unified() {
        // runc and crun map shares to cpu.weight differently; below the default either way.
        let w: u64 = read_cgroup(&id, ("cpu", ""), "cpu.weight").parse().unwrap();
        assert!(w < 100, "cpu.weight {w} for 512 shares");
    } else {
        assert_eq!(read_cgroup(&id, ("cpu", "cpu.shares"), ""), "512");
    }
    if swap_limit_supported(&d) {
        // dockerd's default swap: as much again as the memory.
        if unified() {
            let swap = read_cgroup(&id, ("memory", ""), "memory.swap.max");
            assert_eq!(swap, (64 * MIB).to_string());
        } else {
            let memsw = read_cgroup(&id, ("memory", "memory.memsw.limit_in_bytes"), "");
            assert_eq!(memsw, (128 * MIB).to_string());
        }
    }

    // Inspect shows them as dockerd does.
    assert_eq!(
        d.inspect_format("lim",
            "{{.HostConfig.Memory}} {{.HostConfig.NanoCpus}} {{.HostConfig.PidsLimit}} {{.HostConfig.CpuShares}}"
        ),
        "67108864 500000000 50 512"
    );
    let ulimits: serde_json::Value =
        serde_json::from_str(&d.inspect_format("lim", "{{json .HostConfig.Ulimits}}")).unwrap();
    assert_eq!(
        ulimits,
        serde_json::json!([{"Name": "nofile", "Soft": 1024, "Hard": 2048}])
    );
    assert_eq!(
        d.inspect_format("lim", "{{.HostConfig.OomKillDisable}}"),
        "false"
    );

    // The LIMIT column of docker stats.
    let usage = d.docker_ok(&["stats", "--no-stream", "--format", "{{.MemUsage}}", "lim"]);
    assert!(usage.trim().ends_with("/ 64MiB"), "{usage:?}");

    // A container without limits shows dockerd's zero values, nulls and defaults.
    d.docker_ok(&["create", "--name", "plain", &img, "true"]);
    assert_eq!(
        d.inspect_format("plain",
            "{{.HostConfig.Memory}} {{.HostConfig.NanoCpus}} {{.HostConfig.MemorySwap}} {{json .HostConfig.MemorySwappiness}} {{.HostConfig.OomKillDisable}}"
        ),
        "0 0 0 null false"
    );
}

#[test]
fn update_changes_live_limits_and_survives_restart() {
    let (d, img) = engine_with_busybox();
    d.docker_ok(&[
        "run",
        "-d",
        "--name",
        "upd",
        "-m",
        "64m",
        "--pids-limit",
        "50",
        &img,
        "sleep",
        "1000",
    ]);
    let id = id_of(&d, "upd");
    let out = d.docker_ok(&[
        "update",
        "--memory",
        "128m",
        "--memory-swap",
        "256m",
        "--pids-limit",
        "80",
        "upd",
    ]);
    assert_eq!(out.trim(), "upd");
    let check = |when: &str| {
        assert_eq!(memory_limit(&id), 128 * MIB, "{when}");
        assert_eq!(pids_max(&id), "80", "{when}");
        assert_eq!(
            d.inspect_format("upd", "{{.HostConfig.Memory}} {{.HostConfig.PidsLimit}}"),
            "134217728 80",
            "{when}"
        );
        if swap_limit_supported(&d) {
            assert_eq!(
                d.inspect_format("upd", "{{.HostConfig.MemorySwap}}"),
                "268435456",
                "{when}"
            );
            let swap = if unified() {
                read_cgroup(&id, ("memory", ""), "memory.swap.max")
            } else {
                read_cgroup(&id, ("memory", "memory.memsw.limit_in_bytes"), "")
            };
            let want = if unified() { 128 * MIB } else { 256 * MIB };
            assert_eq!(swap, want.to_string(), "{when}");
        }
    };
    check("after update");
    d.docker_ok(&["restart", "-t", "0", "upd"]);
    check("after restart");

    // Swap alone: the stored memory limit still applies.
    if swap_limit_supported(&d) {
        d.docker_ok(&["update", "--memory-swap", "384m", "upd"]);
        let (file, want) = if unified() {
            (
                read_cgroup(&id, ("memory", ""), "memory.swap.max"),
                256 * MIB,
            )
        } else {
            let f = read_cgroup(&id, ("memory", "memory.memsw.limit_in_bytes"), "");
            (f, 384 * MIB)
        };
        assert_eq!(file, want.to_string());
        assert_eq!(memory_limit(&id), 128 * MIB);
        d.docker_ok(&["update", "--memory-swap", "256m", "upd"]);
    }

    // --cpus on a running container, and a restart policy.
    d.docker_ok(&[
        "update",
        "--cpus",
        "1.5",
        "--restart",
        "on-failure:3",
        "upd",
    ]);
    assert_eq!(cpu_quota(&id), ("150000".into(), "100000".into()));
    assert_eq!(
        d.inspect_format("upd",
            "{{.HostConfig.NanoCpus}} {{.HostConfig.RestartPolicy.Name}} {{.HostConfig.RestartPolicy.MaximumRetryCount}}"
        ),
        "1500000000 on-failure 3"
    );

    // dockerd's refusals: nothing changes.
    if swap_limit_supported(&d) {
        // (Without swap accounting dockerd drops the swap limit, and there is nothing to exceed.)
        let out = d.docker(&["update", "--memory", "512m", "upd"]);
        assert_eq!(out.status, 1, "{out}");
        assert!(
            out.stderr.contains(&format!("Cannot update container {id}: Memory limit should be smaller than already set memoryswap limit, update the memoryswap at the same time")),
            "{out}"
        );
    }
    let out = d.docker(&["update", "--cpu-quota", "20000", "upd"]);
    assert!(
        out.stderr.contains(
            "Conflicting options: CPU Quota cannot be updated as NanoCPUs has already been set"
        ),
        "{out}"
    );
    let out = d.docker(&["update", "--memory", "4m", "upd"]);
    assert!(
        out.stderr
            .contains("Error response from daemon: Minimum memory limit allowed is 6MB"),
        "{out}"
    );
    let out = d.docker(&["update", "--memory", "100m", "nosuch"]);
    assert!(out.stderr.contains("No such container: nosuch"), "{out}");
    assert_eq!(memory_limit(&id), 128 * MIB);
    assert_eq!(
        d.inspect_format("upd", "{{.HostConfig.Memory}}"),
        "134217728"
    );

    // A stopped container only gets the new record; its start applies it.
    d.docker_ok(&[
        "create", "--name", "later", "-m", "64m", &img, "sleep", "1000",
    ]);
    d.docker_ok(&[
        "update",
        "--memory",
        "96m",
        "--memory-swap",
        "192m",
        "--pids-limit",
        "20",
        "later",
    ]);
    assert_eq!(
        d.inspect_format("later", "{{.HostConfig.Memory}} {{.HostConfig.PidsLimit}}"),
        (96 * MIB).to_string() + " 20"
    );
    d.docker_ok(&["start", "later"]);
    let later = id_of(&d, "later");
    assert_eq!(memory_limit(&later), 96 * MIB);
    assert_eq!(pids_max(&later), "20");
    // `--pids-limit -1` lifts the limit.
    d.docker_ok(&["update", "--pids-limit", "-1", "later"]);
    assert_eq!(pids_max(&later), "max");
    assert_eq!(d.inspect_format("later", "{{.HostConfig.PidsLimit}}"), "0");

    // The record survives an engine restart too.
    let mut d = d;
    d.restart();
    assert_eq!(
        d.inspect_format("upd", "{{.HostConfig.Memory}} {{.HostConfig.PidsLimit}}"),
        "134217728 80"
    );
}

#[test]
fn pids_limit_stops_forks() {
    let (d, img) = engine_with_busybox();
    // Twenty background sleeps: more than ten processes in all.
    let script = "i=0; while [ $i -lt 20 ]; do sleep 100 & i=$((i+1)); done; echo started $i";
    let out = d.docker(&[
        "run",
        "--rm",
        "--pids-limit",
        "10",
        &img,
        "sh",
        "-c",
        script,
    ]);
    assert_ne!(out.status, 0, "{out}");
    assert!(out.stderr.contains("can't fork"), "{out}");
    assert!(!out.stdout.contains("started"), "{out}");
    // The same loop without the limit gets through.
    let out = d.docker_ok(&[
        "run",
        "--rm",
        "--pids-limit",
        "50",
        &img,
        "sh",
        "-c",
        script,
    ]);
    assert_eq!(out.trim(), "started 20");
}

/// Lines of a running `docker events`, read on a thread.
struct Events {
    child: std::process::Child,
    lines: mpsc::Receiver<String>,
}

impl Events {
    fn start(d: &Berthd, filters: &[&str]) -> Events {
        let mut args = vec![
            "events",
            "--format",
            "{{.Action}} {{.Actor.Attributes.name}}",
        ];
        for f in filters {
            args.extend(["--filter", f]);
        }
        let mut cmd = d.docker_command(&args);
        cmd.stdout(Stdio::piped()).stderr(Stdio::null());
        let mut child = spawn_tied(cmd).expect("docker events");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for l in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(l).is_err() {
                    break;
                }
            }
        });
        Events { child, lines }
    }

    /// The next line; None when none came within `wait` (a guard against hanging, not a
    /// measurement).
    fn next(&self, wait: Duration) -> Option<String> {
        self.lines.recv_timeout(wait).ok()
    }
}

impl Drop for Events {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn oom_kill_is_reported() {
    let (d, img) = engine_with_busybox();
    let events = Events::start(&d, &["event=oom", "event=create"]);
    // The subscription is live once an event shows up: create markers until one does.
    let mut n = 0;
    loop {
        n += 1;
        let marker = format!("marker{n}");
        d.docker_ok(&["create", "--name", &marker, &img, "true"]);
        if events.next(Duration::from_secs(2)).is_some() {
            break;
        }
        assert!(n < 30, "docker events never reported a create");
    }
    while events.next(Duration::from_millis(200)).is_some() {}

    // The shell holds 50 MB in a variable under an 8 MiB limit, with no swap to spill into.
    let out = d.docker(&[
        "run",
        "--name",
        "oomy",
        "-m",
        "8m",
        "--memory-swap",
        "8m",
        &img,
        "sh",
        "-c",
        r#"x=$(head -c 50000000 /dev/zero | tr "\0" a); echo ${#x}"#,
    ]);
    assert_eq!(out.status, 137, "{out}");
    assert_eq!(
        d.inspect_format("oomy", "{{.State.OOMKilled}} {{.State.ExitCode}}"),
        "true 137"
    );
    // `create oomy` comes first (the filter lets creates through too).
    let mut seen = Vec::new();
    while let Some(line) = events.next(Duration::from_secs(60)) {
        let done = line.starts_with("oom ");
        seen.push(line);
        if done {
            break;
        }
    }
    assert_eq!(
        seen.last().map(String::as_str),
        Some("oom oomy"),
        "{seen:?}"
    );

    // A plain exit is no OOM kill.
    let out = d.docker(&[
        "run", "--name", "fine", "-m", "8m", &img, "sh", "-c", "exit 3",
    ]);
    assert_eq!(out.status, 3, "{out}");
    assert_eq!(d.inspect_format("fine", "{{.State.OOMKilled}}"), "false");
}

#[test]
fn bad_limits_are_refused_with_dockerds_words() {
    let (d, img) = engine_with_busybox();
    let ncpu = d.docker_ok(&["info", "-f", "{{.NCPU}}"]).trim().to_string();
    let too_many = (ncpu.parse::<u32>().unwrap() + 1).to_string();
    let range =
        format!("range of CPUs is from 0.01 to {ncpu}.00, as there are only {ncpu} CPUs available");
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["-m", "4m"], "Minimum memory limit allowed is 6MB"),
        (
            vec!["--cpus", "0.5", "--cpu-period", "100000"],
            "Conflicting options: Nano CPUs and CPU Period cannot both be set",
        ),
        (
            vec!["--cpus", "0.5", "--cpu-quota", "50000"],
            "Conflicting options: Nano CPUs and CPU Quota cannot both be set",
        ),
        (vec!["--cpus", &too_many], &range),
        (
            vec!["-m", "64m", "--memory-swap", "32m"],
            "Minimum memoryswap limit should be larger than memory limit, see usage",
        ),
        (
            vec!["--memory-swap", "64m"],
            "You should always set the Memory limit when using Memoryswap limit, see usage",
        ),
        (
            vec!["--memory-reservation", "1m"],
            "Minimum memory reservation allowed is 6MB",
        ),
        (
            vec!["-m", "16m", "--memory-reservation", "32m"],
            "Minimum memory limit can not be less than memory reservation limit, see usage",
        ),
        (
            vec!["--cpu-period", "500"],
            "CPU cfs period can not be less than 1ms (i.e. 1000) or larger than 1s (i.e. 1000000)",
        ),
        (
            vec!["--cpu-quota", "500"],
            "CPU cfs quota can not be less than 1ms (i.e. 1000)",
        ),
        (
            vec!["--cpu-shares", "-5"],
            "invalid CPU shares (-5): value must be a positive integer",
        ),
        (
            vec!["--cpuset-cpus", "0-a"],
            "Invalid value 0-a for cpuset cpus: invalid format: 0-a",
        ),
        (
            vec!["--cpuset-cpus", "4000"],
            "Requested CPUs are not available - requested 4000, available: ",
        ),
        (
            vec!["--cpuset-mems", "4000"],
            "Requested memory nodes are not available - requested 4000, available: ",
        ),
        (
            vec!["--cpu-rt-runtime", "950000"],
            "CPU real-time scheduling",
        ),
    ];
    for (opts, want) in &cases {
        let mut args = vec!["run", "--rm"];
        args.extend(opts.iter().copied());
        args.extend([img.as_str(), "true"]);
        let out = d.docker(&args);
        assert_eq!(out.status, 125, "{opts:?}: {out}");
        assert!(
            out.stderr
                .contains(&format!("Error response from daemon: {want}")),
            "{opts:?}: {out}"
        );
    }
    // The docker CLI exits 127 on a daemon error that says "no such file or directory".
    let out = d.docker(&[
        "create",
        "--device-read-bps",
        "/dev/berth-no-disk:1mb",
        &img,
        "true",
    ]);
    assert_ne!(out.status, 0, "{out}");
    assert!(
        out.stderr
            .contains("stat /dev/berth-no-disk: no such file or directory"),
        "{out}"
    );
    assert_eq!(
        d.docker_ok(&["ps", "-aq"]).trim(),
        "",
        "nothing was created"
    );
}

#[test]
fn info_reports_what_the_cgroups_offer() {
    let d = Berthd::start();
    let info = d.docker_ok(&[
        "info",
        "-f",
        "{{.MemoryLimit}} {{.PidsLimit}} {{.CPUCfsQuota}} {{.CPUCfsPeriod}} {{.CPUShares}} {{.CPUSet}} {{.CgroupVersion}}",
    ]);
    let has = |controller: &str| {
        if unified() {
            std::fs::read_to_string("/sys/fs/cgroup/cgroup.controllers")
                .unwrap_or_default()
                .split_whitespace()
                .any(|c| c == controller)
        } else {
            Path::new("/sys/fs/cgroup").join(controller).is_dir()
        }
    };
    let want = format!(
        "{} {} {} {} {} {} {}",
        has("memory"),
        has("pids"),
        has("cpu"),
        has("cpu"),
        has("cpu"),
        has("cpuset"),
        if unified() { 2 } else { 1 }
    );
    assert_eq!(info.trim(), want);
    let swap = d.docker_ok(&["info", "-f", "{{.SwapLimit}}"]);
    let swap_file = if unified() {
        // Swap accounting shows in any non-root group with the memory controller.
        std::fs::read_dir("/sys/fs/cgroup")
            .unwrap()
            .flatten()
            .any(|e| e.path().join("memory.swap.max").exists())
    } else {
        Path::new("/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes").exists()
    };
    assert_eq!(swap.trim(), swap_file.to_string());
}

fn post_update(d: &Berthd, name: &str, body: &str) -> HttpResponse {
    unix_http_request(
        &d.socket_path(),
        "POST",
        &format!("/v1.47/containers/{name}/update"),
        &[("Content-Type", "application/json")],
        body.as_bytes(),
    )
    .expect("update request")
}

#[test]
fn update_endpoint_statuses_and_bodies() {
    let (d, img) = engine_with_busybox();
    d.docker_ok(&["create", "--name", "api", &img, "true"]);
    let r = post_update(
        &d,
        "api",
        r#"{"CpuShares": 256, "RestartPolicy": {"Name": "always"}}"#,
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json(), serde_json::json!({"Warnings": []}));
    assert_eq!(
        d.inspect_format(
            "api",
            "{{.HostConfig.CpuShares}} {{.HostConfig.RestartPolicy.Name}}"
        ),
        "256 always"
    );

    let cases = [
        (
            "api",
            r#"{"RestartPolicy": {"Name": "sometimes"}}"#,
            400,
            "invalid restart policy: unknown policy 'sometimes'; use one of 'no', 'always', 'on-failure', or 'unless-stopped'",
        ),
        (
            "api",
            r#"{"RestartPolicy": {"Name": "always", "MaximumRetryCount": 2}}"#,
            400,
            "invalid restart policy: maximum retry count can only be used with 'on-failure'",
        ),
        ("api", r#"{"Memory": 1000}"#, 400, "Minimum memory limit allowed is 6MB"),
        ("nosuch", r#"{"CpuShares": 2}"#, 404, "No such container: nosuch"),
    ];
    for (name, body, status, message) in cases {
        let r = post_update(&d, name, body);
        assert_eq!(r.status, status, "{body}: {}", r.text());
        assert_eq!(r.json()["message"], message, "{body}");
    }
    let r = post_update(&d, "api", r#"{"Memory": "lots"}"#);
    assert_eq!(r.status, 400, "{}", r.text());

    // An --rm container keeps no restart policy.
    d.docker_ok(&["run", "-d", "--rm", "--name", "gone", &img, "sleep", "1000"]);
    let id = id_of(&d, "gone");
    let r = post_update(&d, "gone", r#"{"RestartPolicy": {"Name": "always"}}"#);
    assert_eq!(r.status, 409, "{}", r.text());
    assert_eq!(
        r.json()["message"],
        format!("Cannot update container {id}: Restart policy cannot be updated because AutoRemove is enabled for the container")
    );
}
