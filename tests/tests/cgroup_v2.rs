//! The engine on a pure cgroup v2 kernel, where Docker hosts are heading (and where crun works).
//!
//! This machine kind is hybrid (v1 controllers), so `engine_works_on_a_pure_cgroup_v2_kernel`
//! boots Debian's kernel in a qemu VM with only the unified hierarchy mounted (`berth_tests::vm`)
//! and runs this same test binary's `guest_*` tests inside it; on a host that is already pure v2
//! it runs them directly. The `guest_*` tests are ignored in normal runs because they need v2.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use berth_tests::vm::{host_is_cgroup_v2, run_in_cgroup_v2_vm, VmRun};
use berth_tests::*;

const GUEST_FILTER: &str = "guest_";

/// The names of this binary's guest tests (`--list --ignored`).
fn guest_tests(exe: &str) -> Vec<String> {
    let out = Command::new(exe)
        .args(["--list", "--ignored", GUEST_FILTER])
        .output()
        .expect("list guest tests");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.strip_suffix(": test"))
        .map(str::to_string)
        .collect()
}

/// Tests of other files that read or write cgroup files, run in the guest as well: resource
/// limits (`memory.max`, `cpu.max`, `pids.max`, `docker update` through crun), OOM kills
/// (`memory.events`) and `docker info`'s cgroup flags.
const OTHER_SUITES: &[(&str, &[&str])] = &[
    (
        "cli_resources",
        &[
            "limits_reach_the_container_its_cgroup_inspect_and_stats",
            "update_changes_live_limits_and_survives_restart",
            "pids_limit_stops_forks",
            "oom_kill_is_reported",
            "info_reports_what_the_cgroups_offer",
        ],
    ),
    // Confinement under crun (the default runtime on v2: its own seccomp and eBPF device
    // code) with a private cgroup namespace (`name=cgroupns` in /info).
    (
        "confinement",
        &[
            "default_seccomp_profile_confines_containers_and_execs",
            "masked_paths_proc_sys_and_devices",
        ],
    ),
];

/// The test binary `name` that cargo built beside this one (`deps/<name>-<hash>`; the newest if
/// old builds left several).
fn sibling_test_binary(exe: &Path, name: &str) -> PathBuf {
    let dir = exe.parent().expect("test binary dir");
    let prefix = format!("{name}-");
    std::fs::read_dir(dir)
        .expect("read test binary dir")
        .flatten()
        .filter(|e| {
            let n = e.file_name().to_string_lossy().into_owned();
            n.starts_with(&prefix)
                && !n.contains('.')
                && e.metadata()
                    .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
        .max_by_key(|e| e.metadata().and_then(|m| m.modified()).ok())
        .map(|e| e.path())
        .unwrap_or_else(|| {
            panic!(
                "no {name} test binary in {} (cargo test builds it)",
                dir.display()
            )
        })
}

#[test]
fn engine_works_on_a_pure_cgroup_v2_kernel() {
    let exe = std::env::current_exe().expect("current exe");
    let exe_s = exe.to_string_lossy().into_owned();
    let mut expected = guest_tests(&exe_s);
    assert!(!expected.is_empty(), "no guest_ tests listed");
    let strings = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let mut commands = vec![strings(&[
        &exe_s,
        "--ignored",
        "--test-threads=1",
        GUEST_FILTER,
    ])];
    for (suite, tests) in OTHER_SUITES {
        let bin = sibling_test_binary(&exe, suite);
        let mut argv = strings(&[&bin.to_string_lossy(), "--exact", "--test-threads=1"]);
        argv.extend(strings(tests));
        commands.push(argv);
        expected.extend(strings(tests));
    }

    let run = if host_is_cgroup_v2() {
        let mut output = String::new();
        let mut ok = true;
        for argv in &commands {
            let out = Command::new(&argv[0])
                .args(&argv[1..])
                .output()
                .expect("run guest tests");
            ok &= out.status.success();
            output.push_str(&String::from_utf8_lossy(&out.stdout));
            output.push_str(&String::from_utf8_lossy(&out.stderr));
        }
        VmRun {
            status: Some(if ok { 0 } else { 1 }),
            output,
            console: String::new(),
        }
    } else {
        let secs = std::env::var("BERTH_VM_TIMEOUT_SECS")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(1800);
        run_in_cgroup_v2_vm(&commands, &[], Duration::from_secs(secs))
    };
    eprintln!("----- guest output -----\n{}", run.output);
    if !run.success() {
        let tail: Vec<&str> = run.console.lines().rev().take(60).collect();
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        panic!(
            "guest tests exited with {:?}; console tail:\n{}",
            run.status,
            tail.join("\n")
        );
    }
    for name in &expected {
        assert!(
            run.output.contains(&format!("test {name} ... ok")),
            "guest test {name} did not pass"
        );
    }
}

/// Guest tests need v2; say so instead of failing obscurely when run on the hybrid host.
fn need_v2() {
    assert!(
        host_is_cgroup_v2(),
        "this test needs a pure cgroup v2 host; engine_works_on_a_pure_cgroup_v2_kernel runs it in a VM"
    );
}

/// The container's cgroup on the unified hierarchy (the engine's cgroups path is /berth/<id>).
fn cgroup_of(id: &str) -> PathBuf {
    PathBuf::from(format!("/sys/fs/cgroup/berth/{id}"))
}

fn read(p: PathBuf) -> String {
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("read {}: {e}", p.display()))
}

/// Child cgroups left under /sys/fs/cgroup/berth (none once every container is gone).
fn leftover_cgroups() -> Vec<String> {
    std::fs::read_dir("/sys/fs/cgroup/berth")
        .map(|d| {
            d.flatten()
                .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// The runtime's cleanup (`delete`, which removes the cgroup) finishes just after a removal.
fn no_cgroups_left(after: &str) {
    wait_until(
        &format!("no cgroup left after {after}"),
        Duration::from_secs(10),
        || {
            let left = leftover_cgroups();
            left.is_empty()
                .then_some(())
                .ok_or_else(|| format!("{left:?}"))
        },
    );
}

#[test]
#[ignore = "needs cgroup v2: engine_works_on_a_pure_cgroup_v2_kernel runs it"]
fn guest_info_reports_v2_and_picks_crun() {
    need_v2();
    let d = Berthd::start();
    let info = d.docker_ok(&[
        "info",
        "-f",
        "{{.CgroupVersion}} {{.CgroupDriver}} {{.DefaultRuntime}}",
    ]);
    // crun refuses hybrid hierarchies but works on v2, and the engine prefers it where it works.
    assert_eq!(info.trim(), "2 cgroupfs crun");
    let runtimes = d.docker_ok(&["info", "-f", "{{range $k, $v := .Runtimes}}{{$k}} {{end}}"]);
    assert_eq!(runtimes.trim(), "crun runc");
}

#[test]
#[ignore = "needs cgroup v2: engine_works_on_a_pure_cgroup_v2_kernel runs it"]
fn guest_runs_containers_with_crun_and_runc() {
    need_v2();
    let (d, img) = engine_with_busybox();
    for rt in ["crun", "runc"] {
        let out = d.docker(&["run", "--rm", "--runtime", rt, &img, "sh", "-c", "exit 3"]);
        assert_eq!(out.status, 3, "{rt}: {}", out.stderr);
        // Docker's default on v2: a private cgroup namespace rooted at the container's cgroup,
        // and the hierarchy mounted read-only.
        let out = d.docker_ok(&[
            "run",
            "--rm",
            "--runtime",
            rt,
            &img,
            "sh",
            "-c",
            "cat /proc/self/cgroup; grep ' /sys/fs/cgroup ' /proc/mounts",
        ]);
        let mut lines = out.lines();
        assert_eq!(lines.next(), Some("0::/"), "{rt}: {out}");
        // "<source> /sys/fs/cgroup cgroup2 ro,…": runc names the source cgroup, crun cgroup2.
        let mount: Vec<&str> = lines.next().unwrap_or_default().split(' ').collect();
        assert_eq!(mount.get(2), Some(&"cgroup2"), "{rt}: {out}");
        assert!(
            mount.get(3).is_some_and(|o| o.starts_with("ro,")),
            "{rt}: {out}"
        );
    }
    no_cgroups_left("--rm");
}

#[test]
#[ignore = "needs cgroup v2: engine_works_on_a_pure_cgroup_v2_kernel runs it"]
fn guest_stats_top_exec_and_pause_read_the_v2_cgroup() {
    need_v2();
    let (d, img) = engine_with_busybox();
    let id = d.docker_ok(&["run", "-d", &img, "sh", "-c", "while :; do :; done"]);
    let id = id.trim();
    let cg = cgroup_of(id);
    let procs = read(cg.join("cgroup.procs"));
    assert_eq!(procs.lines().count(), 1, "cgroup.procs: {procs}");

    let top = d.docker_ok(&["top", id]);
    assert!(top.contains("while :"), "docker top: {top}");

    let stats = d.docker_ok(&[
        "stats",
        "--no-stream",
        "--format",
        "{{.MemUsage}}|{{.PIDs}}",
        id,
    ]);
    let (mem, pids) = stats.trim().split_once('|').expect("mem|pids");
    assert_eq!(pids, "1", "stats: {stats}");
    assert!(!mem.starts_with("0B"), "stats memory: {stats}");
    // The busy loop has used CPU by now, and the engine read it from cpu.stat.
    let raw = d.docker_ok(&["stats", "--no-stream", "--format", "{{json .}}", id]);
    assert!(raw.contains(&id[..12]), "stats json: {raw}");
    let usage = http_stats_cpu_usage(&d, id);
    assert!(usage > 0, "cpu usage {usage}");

    let cg_line = d.docker_ok(&["exec", id, "cat", "/proc/self/cgroup"]);
    assert_eq!(cg_line.trim(), "0::/", "exec joins the cgroup namespace");

    d.docker_ok(&["pause", id]);
    assert_eq!(d.inspect_format(id, "{{.State.Status}}"), "paused");
    assert!(read(cg.join("cgroup.events")).contains("frozen 1"));
    d.docker_ok(&["unpause", id]);
    assert!(read(cg.join("cgroup.events")).contains("frozen 0"));

    // sh as PID 1 has no SIGTERM handler, so stop ends with SIGKILL after the timeout.
    d.docker_ok(&["stop", "-t", "1", id]);
    assert_eq!(d.inspect_format(id, "{{.State.ExitCode}}"), "137");
    // The monitor records the exit before `runtime delete` removes the cgroup: it goes soon after.
    wait_until(
        "the stopped container's cgroup is removed",
        Duration::from_secs(10),
        || {
            (!cg.exists())
                .then_some(())
                .ok_or_else(|| cg.display().to_string())
        },
    );
    d.docker_ok(&["rm", id]);
}

/// `cpu_stats.cpu_usage.total_usage` of a one-shot stats read over the API.
fn http_stats_cpu_usage(d: &Berthd, id: &str) -> u64 {
    let resp = unix_http_request(
        &d.socket_path(),
        "GET",
        &format!("/containers/{id}/stats?stream=false"),
        &[],
        b"",
    )
    .expect("stats request");
    assert_eq!(resp.status, 200, "{}", String::from_utf8_lossy(&resp.body));
    let v: serde_json::Value = serde_json::from_slice(&resp.body).expect("stats json");
    v["cpu_stats"]["cpu_usage"]["total_usage"]
        .as_u64()
        .unwrap_or_default()
}

#[test]
#[ignore = "needs cgroup v2: engine_works_on_a_pure_cgroup_v2_kernel runs it"]
fn guest_engine_crash_keeps_containers_and_readopts_them() {
    need_v2();
    let (mut d, img) = engine_with_busybox();
    let id = d.docker_ok(&["run", "-d", &img, "sleep", "1000"]);
    let id = id.trim().to_string();
    d.kill9();
    assert!(cgroup_of(&id).exists(), "container died with the engine");
    d.restart();
    assert_eq!(d.inspect_format(&id, "{{.State.Status}}"), "running");
    let top = d.docker_ok(&["top", &id]);
    assert!(top.contains("sleep 1000"), "top after restart: {top}");
    d.docker_ok(&["stop", "-t", "1", &id]);
    assert_eq!(
        d.docker_ok(&["wait", &id]).trim(),
        "137",
        "exit code after re-adoption"
    );
    d.docker_ok(&["rm", &id]);
    no_cgroups_left("rm");
}
