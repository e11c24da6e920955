//! Load: 50 `docker run --rm` at once, then 200 live containers on one engine, all answering;
//! afterwards, with everything removed, nothing is left on the host (no mount under the data
//! root, no monitor process, no veth on the engine's bridge, no container cgroup). Latency
//! under load is measured by `bench/load.sh`, not asserted here.

use std::time::Duration;

use berth_tests::*;

const CONCURRENT_RUNS: usize = 50;
const LIVE: usize = 200;

#[test]
fn fifty_concurrent_runs_and_two_hundred_live_containers_leave_nothing_behind() {
    let (d, img) = engine_with_busybox();
    let host = d.host();

    // 50 `docker run --rm` at the same time, each printing its own number.
    let runs: Vec<_> = (0..CONCURRENT_RUNS)
        .map(|i| {
            let (host, img) = (host.clone(), img.clone());
            let config = d.docker_config_dir();
            std::thread::spawn(move || {
                let out = std::process::Command::new(docker_bin())
                    .args(["run", "--rm", &img, "echo", &format!("run {i}")])
                    .env("DOCKER_HOST", &host)
                    .env("DOCKER_CONFIG", &config)
                    .output()
                    .expect("docker run");
                (
                    i,
                    out.status.code(),
                    String::from_utf8_lossy(&out.stdout).into_owned(),
                    String::from_utf8_lossy(&out.stderr).into_owned(),
                )
            })
        })
        .collect();
    for r in runs {
        let (i, code, stdout, stderr) = r.join().expect("run thread");
        assert_eq!(code, Some(0), "run {i}: {stderr}");
        assert_eq!(stdout, format!("run {i}\n"));
    }
    wait_until(
        "the --rm containers are gone",
        Duration::from_secs(60),
        || {
            let left = d.docker_ok(&["ps", "-aq"]);
            if left.is_empty() {
                Ok(())
            } else {
                Err(left)
            }
        },
    );

    // 200 live containers, started four at a time, each with its own address.
    let starters: Vec<_> = (0..4)
        .map(|t| {
            let (host, img) = (host.clone(), img.clone());
            let config = d.docker_config_dir();
            std::thread::spawn(move || {
                for i in (t..LIVE).step_by(4) {
                    let out = std::process::Command::new(docker_bin())
                        .args([
                            "run",
                            "-d",
                            "--name",
                            &format!("live{i}"),
                            &img,
                            "sleep",
                            "100000",
                        ])
                        .env("DOCKER_HOST", &host)
                        .env("DOCKER_CONFIG", &config)
                        .output()
                        .expect("docker run -d");
                    assert!(
                        out.status.success(),
                        "live{i}: {}",
                        String::from_utf8_lossy(&out.stderr)
                    );
                }
            })
        })
        .collect();
    for s in starters {
        s.join().expect("starter thread");
    }
    let running = d.docker_ok(&["ps", "-q", "--filter", "status=running"]);
    assert_eq!(running.lines().count(), LIVE);
    let mut ips: Vec<String> = d
        .docker_ok(&["ps", "-q"])
        .lines()
        .map(|id| d.inspect_format(id, "{{.NetworkSettings.IPAddress}}"))
        .collect();
    ips.sort();
    ips.dedup();
    assert_eq!(ips.len(), LIVE, "every container has its own address");
    // The first and the last still answer an exec and reach each other.
    let last_ip = d.inspect_format(
        &format!("live{}", LIVE - 1),
        "{{.NetworkSettings.IPAddress}}",
    );
    d.docker_ok(&["exec", "live0", "ping", "-c", "1", "-W", "5", &last_ip]);

    // All removed at once: nothing stays.
    let ids = d.docker_ok(&["ps", "-aq", "--no-trunc"]);
    let mut args = vec!["rm", "-f"];
    args.extend(ids.lines());
    d.docker_ok(&args);
    assert_eq!(d.docker_ok(&["ps", "-aq"]), "");
    let root = d.data_root();
    wait_until(
        "mounts and monitors are gone",
        Duration::from_secs(60),
        || {
            let mounts = std::fs::read_to_string("/proc/mounts").map_err(|e| e.to_string())?;
            let left: Vec<&str> = mounts
                .lines()
                .filter(|l| l.contains(root.to_string_lossy().as_ref()))
                .collect();
            let monitors: Vec<String> = engine_vm::processes_naming(&root)
                .into_iter()
                .filter(|p| p.contains("__monitor"))
                .collect();
            if left.is_empty() && monitors.is_empty() {
                Ok(())
            } else {
                Err(format!("mounts {left:?}, monitors {monitors:?}"))
            }
        },
    );
    // Container cgroups (`/berth/<id>` in each hierarchy, v1 or v2) are gone too.
    let hierarchies: Vec<std::path::PathBuf> = std::fs::read_dir("/sys/fs/cgroup")
        .map(|rd| rd.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    for id in ids.lines() {
        for h in hierarchies
            .iter()
            .chain([std::path::PathBuf::from("/sys/fs/cgroup")].iter())
        {
            let dir = h.join("berth").join(id);
            assert!(!dir.exists(), "cgroup left: {}", dir.display());
        }
    }
    for bridge in d.bridges() {
        let out = std::process::Command::new("ip")
            .args(["-br", "link", "show", "master", &bridge])
            .output()
            .expect("run ip");
        assert_eq!(
            String::from_utf8_lossy(&out.stdout).trim(),
            "",
            "veths left on {bridge}"
        );
    }
}
