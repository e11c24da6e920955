//! Fault injection: berthd is killed with SIGKILL in the middle of a pull, create, run, stop,
//! rm, network connect, volume create, commit or build, then started again on the same data
//! root. After every restart each object is whole or gone (a listed container, image, volume
//! or network inspects and works; an absent one's name is free again), and at the end, once
//! everything is removed, nothing is left: no mount under the data root, no monitor process,
//! no veth on the engine's bridges.
//!
//! The kill points are chosen by a fixed seed and are events, not delays: the engine runs
//! with debug logging and is killed once the operation has made it write N more log lines
//! (N from the seed), or when the operation ended first.

use std::process::Stdio;
use std::time::{Duration, Instant};

use berth_tests::*;

const ROUNDS: usize = 30;
const SEED: u64 = 0x5eed_b347_2026_1201;

/// xorshift64*: reproducible kill points without a dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn log_lines(d: &Berthd) -> usize {
    d.log().lines().count()
}

/// Runs `docker ARGS` and kills the engine once it has logged `lines` more lines (or the
/// command has ended), then starts it again. Returns whether the command had finished.
fn kill_during(d: &mut Berthd, args: &[String], lines: usize) -> bool {
    let before = log_lines(d);
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut child = d
        .docker_command(&refs)
        .env("DOCKER_BUILDKIT", "0")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("run docker");
    // Polled every 2 ms: the kill should land close to the chosen line (a coarser poll moves
    // every kill point later; `wait_until` polls at 50 ms).
    let deadline = Instant::now() + Duration::from_secs(60);
    let finished = loop {
        if child.try_wait().expect("try_wait").is_some() {
            break true;
        }
        if log_lines(d) >= before + lines {
            break false;
        }
        assert!(
            Instant::now() < deadline,
            "docker {args:?} neither ended nor logged"
        );
        std::thread::sleep(Duration::from_millis(2));
    };
    d.kill9();
    let _ = child.wait();
    d.restart();
    finished
}

/// Every listed object inspects; running containers answer an exec.
fn check_whole(d: &Berthd, round: usize) {
    for id in d.docker_ok(&["ps", "-aq", "--no-trunc"]).lines() {
        let status = d.inspect_format(id, "{{.State.Status}}");
        assert!(
            ["created", "running", "exited", "restarting", "paused"].contains(&status.as_str()),
            "round {round}: container {id} is {status:?}"
        );
        if status == "running" {
            d.docker_ok(&["exec", id, "true"]);
        }
    }
    let mut images: Vec<String> = d
        .docker_ok(&["images", "-aq", "--no-trunc"])
        .lines()
        .map(str::to_string)
        .collect();
    images.dedup();
    for id in &images {
        d.docker_ok(&["image", "inspect", id]);
        d.docker_ok(&["history", "-q", id]);
    }
    for v in d.docker_ok(&["volume", "ls", "-q"]).lines() {
        d.docker_ok(&["volume", "inspect", v]);
    }
    for n in d.docker_ok(&["network", "ls", "-q"]).lines() {
        d.docker_ok(&["network", "inspect", n]);
    }
}

/// A container named `name`: whole (inspects, can be removed) or gone with its name free.
fn container_whole_or_free(d: &Berthd, img: &str, name: &str) {
    if d.docker(&["inspect", name]).success() {
        d.docker_ok(&["rm", "-f", name]);
    }
    d.docker_ok(&["create", "--name", name, img, "true"]);
    d.docker_ok(&["rm", name]);
}

fn exists(d: &Berthd, kind: &str, name: &str) -> bool {
    d.docker(&[kind, "inspect", name]).success()
}

#[test]
fn a_killed_engine_leaves_every_object_whole_or_gone() {
    let reg = fixture_registry();
    let img = reg.image("busybox:latest");
    let mut d = Berthd::start_with_args(&["--log-level", "debug"]);
    d.docker_ok(&["pull", "-q", &img]);
    // Another seed explores other kill points (`BERTH_FAULT_SEED=N`); CI uses the fixed one.
    let seed = std::env::var("BERTH_FAULT_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(SEED);
    let mut rng = Rng(seed);
    let s = |v: &[&str]| -> Vec<String> { v.iter().map(|x| x.to_string()).collect() };
    for round in 0..ROUNDS {
        let op = rng.below(9);
        let lines = 1 + rng.below(30) as usize;
        let name = format!("f{round}");
        eprintln!("round {round}: op {op}, kill after {lines} log lines");
        match op {
            0 => {
                // A pull of an image whose layers are gone: killed while it fetches or unpacks.
                let tag = reg.image("busybox:latest");
                d.docker(&["rmi", "-f", &tag]);
                kill_during(&mut d, &s(&["pull", &tag]), lines);
                check_whole(&d, round);
                if !exists(&d, "image", &tag) {
                    d.docker_ok(&["pull", "-q", &tag]);
                }
                assert_eq!(d.docker_ok(&["run", "--rm", &tag, "echo", "ok"]), "ok\n");
            }
            1 => {
                kill_during(
                    &mut d,
                    &s(&["create", "--name", &name, &img, "sleep", "1000"]),
                    lines,
                );
                check_whole(&d, round);
                container_whole_or_free(&d, &img, &name);
            }
            2 => {
                let vol = format!("{name}v:/data");
                kill_during(
                    &mut d,
                    &s(&[
                        "run", "-d", "--name", &name, "-v", &vol, &img, "sleep", "1000",
                    ]),
                    lines,
                );
                check_whole(&d, round);
                container_whole_or_free(&d, &img, &name);
            }
            3 => {
                d.docker_ok(&["run", "-d", "--name", &name, &img, "sleep", "1000"]);
                kill_during(&mut d, &s(&["stop", "-t", "1", &name]), lines);
                check_whole(&d, round);
                d.docker_ok(&["start", &name]);
                d.docker_ok(&["exec", &name, "true"]);
                d.docker_ok(&["rm", "-f", &name]);
            }
            4 => {
                d.docker_ok(&["run", "-d", "--name", &name, &img, "sleep", "1000"]);
                kill_during(&mut d, &s(&["rm", "-f", &name]), lines);
                check_whole(&d, round);
                container_whole_or_free(&d, &img, &name);
            }
            5 => {
                let net = format!("{name}n");
                d.docker_ok(&["network", "create", &net]);
                d.docker_ok(&["run", "-d", "--name", &name, &img, "sleep", "1000"]);
                kill_during(&mut d, &s(&["network", "connect", &net, &name]), lines);
                check_whole(&d, round);
                // Connected or not, the container still runs and can be (dis)connected.
                let nets = d.inspect_format(&name, "{{json .NetworkSettings.Networks}}");
                if nets.contains(&format!("\"{net}\"")) {
                    d.docker_ok(&["network", "disconnect", &net, &name]);
                }
                d.docker_ok(&["network", "connect", &net, &name]);
                d.docker_ok(&["exec", &name, "true"]);
                d.docker_ok(&["rm", "-f", &name]);
                d.docker_ok(&["network", "rm", &net]);
            }
            6 => {
                let vol = format!("{name}v");
                kill_during(&mut d, &s(&["volume", "create", &vol]), lines);
                check_whole(&d, round);
                if !exists(&d, "volume", &vol) {
                    d.docker_ok(&["volume", "create", &vol]);
                }
                let mount = format!("{vol}:/data");
                d.docker_ok(&["run", "--rm", "-v", &mount, &img, "touch", "/data/x"]);
            }
            7 => {
                let tag = format!("committed:{round}");
                d.docker_ok(&[
                    "run",
                    "-d",
                    "--name",
                    &name,
                    &img,
                    "sh",
                    "-c",
                    "echo c > /f; exec sleep 1000",
                ]);
                wait_until("the file is written", Duration::from_secs(30), || {
                    let out = d.docker(&["exec", &name, "cat", "/f"]);
                    if out.stdout == "c\n" {
                        Ok(())
                    } else {
                        Err(out.to_string())
                    }
                });
                kill_during(&mut d, &s(&["commit", &name, &tag]), lines);
                check_whole(&d, round);
                if exists(&d, "image", &tag) {
                    assert_eq!(d.docker_ok(&["run", "--rm", &tag, "cat", "/f"]), "c\n");
                }
                d.docker_ok(&["rm", "-f", &name]);
            }
            _ => {
                let tag = format!("built:{round}");
                let ctx = d.dir().join(format!("ctx{round}"));
                std::fs::create_dir_all(&ctx).expect("mkdir");
                std::fs::write(
                    ctx.join("Dockerfile"),
                    format!("FROM {img}\nRUN echo {round} > /round.txt\nCMD [\"cat\", \"/round.txt\"]\n"),
                )
                .expect("Dockerfile");
                let c = ctx.to_string_lossy().into_owned();
                kill_during(&mut d, &s(&["build", "-t", &tag, &c]), lines);
                check_whole(&d, round);
                if exists(&d, "image", &tag) {
                    assert_eq!(d.docker_ok(&["run", "--rm", &tag]), format!("{round}\n"));
                }
                // No step container is left over by the build that was cut.
                let left = d.docker_ok(&["ps", "-aq", "--filter", "status=created"]);
                assert_eq!(left, "", "round {round}: a build step's container was left");
            }
        }
    }

    // Everything removed: nothing of it stays on the host.
    let all = d.docker_ok(&["ps", "-aq"]);
    for id in all.lines() {
        d.docker_ok(&["rm", "-f", "-v", id]);
    }
    d.docker_ok(&["volume", "prune", "-af"]);
    d.docker_ok(&["network", "prune", "-f"]);
    // A removal answers before its monitor has finished unmounting (see `rm`): wait for them.
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
    for bridge in d.bridges() {
        let out = std::process::Command::new("ip")
            .args(["-br", "link", "show", "master", &bridge])
            .output()
            .expect("run ip");
        let members = String::from_utf8_lossy(&out.stdout).trim().to_string();
        assert_eq!(members, "", "veths left on {bridge}");
    }
}
