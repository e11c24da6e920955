//! `berth`, Berth's own command line, against a real berthd: for the same commands, its output
//! and exit code are compared with the real docker CLI's (tables by shape: the same header
//! columns and row count; JSON and plain values by value).
//!
//! The binary: `BERTH_CLI_BIN`, else `berth` beside the berthd the harness found (built by
//! `cargo build --workspace --bins`, as scripts/test.sh does).

use std::io::Read;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use berth_tests::*;
use serde_json::Value;

fn berth_bin() -> PathBuf {
    if let Some(bin) = std::env::var_os("BERTH_CLI_BIN") {
        return PathBuf::from(bin);
    }
    let beside_engine = berthd_bin().with_file_name("berth");
    assert!(
        beside_engine.is_file(),
        "berth not found at {}: build it with `cargo build -j2 --workspace --bins` or set \
         BERTH_CLI_BIN",
        beside_engine.display()
    );
    beside_engine
}

/// Runs `berth ARGS` against `host` with a clean environment (English, no other engine).
fn berth_env(host: &str, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(berth_bin());
    for (key, _) in std::env::vars_os() {
        let k = key.to_string_lossy();
        if k.starts_with("DOCKER_")
            || k.starts_with("BERTH_")
            || k.starts_with("LC_")
            || k == "LANG"
        {
            cmd.env_remove(&key);
        }
    }
    cmd.args(args)
        .env("BERTH_HOST", host)
        .env("LANG", "C")
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("spawn berth");
    let mut out = child.stdout.take().expect("stdout");
    let mut err = child.stderr.take().expect("stderr");
    let readers = (
        std::thread::spawn(move || {
            let mut s = String::new();
            let _ = out.read_to_string(&mut s);
            s
        }),
        std::thread::spawn(move || {
            let mut s = String::new();
            let _ = err.read_to_string(&mut s);
            s
        }),
    );
    let status = wait_child_or_kill(&mut child, Duration::from_secs(120));
    use std::os::unix::process::ExitStatusExt;
    Output {
        status: status
            .code()
            .unwrap_or_else(|| 128 + status.signal().unwrap_or(0)),
        stdout: readers.0.join().unwrap_or_default(),
        stderr: readers.1.join().unwrap_or_default(),
    }
}

fn berth(d: &Berthd, args: &[&str]) -> Output {
    berth_env(&d.host(), args, &[])
}

fn berth_ok(d: &Berthd, args: &[&str]) -> String {
    let out = berth(d, args);
    assert!(out.success(), "berth {} failed: {out}", args.join(" "));
    out.stdout
}

/// The header line's column names: cells separated by 2+ spaces.
fn columns(table: &str) -> Vec<String> {
    let header = table.lines().next().unwrap_or_default();
    header
        .split("  ")
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .map(str::to_string)
        .collect()
}

/// Both print tables of the same shape: equal headers (names and offsets) and row counts.
fn same_table(d: &Berthd, args: &[&str]) -> (String, String) {
    let ours = berth(d, args);
    let theirs = d.docker(args);
    assert_eq!(
        ours.status, theirs.status,
        "exit of {args:?}: berth {ours}\ndocker {theirs}"
    );
    let (o, t) = (ours.stdout, theirs.stdout);
    assert_eq!(
        columns(&o),
        columns(&t),
        "headers of {args:?}:\n{o}\nvs docker:\n{t}"
    );
    assert_eq!(
        o.lines().count(),
        t.lines().count(),
        "rows of {args:?}:\n{o}\nvs docker:\n{t}"
    );
    (o, t)
}

/// Both print the same text and exit the same way.
fn same_output(d: &Berthd, args: &[&str]) -> String {
    let ours = berth(d, args);
    let theirs = d.docker(args);
    assert_eq!(
        ours.status, theirs.status,
        "exit of {args:?}: berth {ours}\ndocker {theirs}"
    );
    assert_eq!(ours.stdout, theirs.stdout, "stdout of {args:?}");
    ours.stdout
}

/// Both fail with the same exit code; returns berth's stderr.
fn same_failure(d: &Berthd, args: &[&str]) -> String {
    let ours = berth(d, args);
    let theirs = d.docker(args);
    assert!(
        !theirs.success(),
        "docker {args:?} was expected to fail: {theirs}"
    );
    assert_eq!(
        ours.status, theirs.status,
        "exit of {args:?}: berth {ours}\ndocker {theirs}"
    );
    ours.stderr
}

fn json_lines(text: &str) -> Vec<Value> {
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect()
}

fn without(mut v: Value, keys: &[&str]) -> Value {
    if let Some(o) = v.as_object_mut() {
        for k in keys {
            o.remove(*k);
        }
    }
    v
}

/// `null` and absent are the same value here: bollard's typed models leave nulls out.
fn strip_nulls(v: &Value) -> Value {
    match v {
        Value::Object(o) => Value::Object(
            o.iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (k.clone(), strip_nulls(v)))
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.iter().map(strip_nulls).collect()),
        other => other.clone(),
    }
}

fn wait_running(d: &Berthd, name: &str) {
    wait_until("container running", Duration::from_secs(60), || {
        let s = d.inspect_format(name, "{{.State.Status}}");
        if s == "running" {
            Ok(())
        } else {
            Err(s)
        }
    });
}

#[test]
fn listings_match_docker() {
    let (d, img) = engine_with_busybox();
    d.docker_ok(&[
        "run",
        "-d",
        "--name",
        "up",
        "-p",
        "127.0.0.1::80",
        "--label",
        "k=v",
        &img,
        "sleep",
        "300",
    ]);
    d.docker_ok(&["run", "--name", "done", &img, "true"]);
    wait_running(&d, "up");

    same_table(&d, &["ps"]);
    same_table(&d, &["ps", "-a"]);
    same_table(&d, &["ps", "-a", "-s"]);
    same_table(&d, &["ps", "-a", "--no-trunc"]);
    same_output(&d, &["ps", "-a", "-q"]);
    same_output(&d, &["ps", "-q", "--no-trunc"]);
    same_output(&d, &["ps", "-a", "-n", "1", "-q"]);
    same_output(
        &d,
        &[
            "ps",
            "-a",
            "--filter",
            "status=exited",
            "--format",
            "{{.Names}} {{.State}}",
        ],
    );
    same_output(
        &d,
        &[
            "ps",
            "--format",
            "{{.ID}}\t{{.Image}}\t{{.Ports}}\t{{.Labels}}",
        ],
    );
    same_table(
        &d,
        &[
            "ps",
            "-a",
            "--format",
            "table {{.Names}}\t{{.Image}}\t{{.State}}",
        ],
    );
    let ours = json_lines(&berth_ok(&d, &["ps", "-a", "--format", "{{json .}}"]));
    let theirs = json_lines(&d.docker_ok(&["ps", "-a", "--format", "{{json .}}"]));
    let moving = ["RunningFor", "Status", "Size"];
    assert_eq!(
        ours.into_iter()
            .map(|v| without(v, &moving))
            .collect::<Vec<_>>(),
        theirs
            .into_iter()
            .map(|v| without(v, &moving))
            .collect::<Vec<_>>()
    );

    same_table(&d, &["images"]);
    same_output(&d, &["images", "-q"]);
    same_output(
        &d,
        &[
            "images",
            "--format",
            "{{.Repository}}:{{.Tag}} {{.ID}} {{.Size}}",
        ],
    );
    same_table(&d, &["volume", "ls"]);
    same_table(&d, &["network", "ls"]);
    same_output(
        &d,
        &[
            "network",
            "ls",
            "--format",
            "{{.Name}} {{.Driver}} {{.Scope}}",
        ],
    );
    same_table(&d, &["system", "df"]);
    same_output(
        &d,
        &[
            "version",
            "--format",
            "{{.Server.Version}} {{.Server.APIVersion}}",
        ],
    );
    same_output(
        &d,
        &[
            "info",
            "--format",
            "{{.Containers}} {{.ContainersRunning}} {{.Images}}",
        ],
    );
    same_table(&d, &["top", "up"]);
    same_table(&d, &["stats", "--no-stream"]);

    // inspect: the same object by value, where the fields are the API's own.
    let ours: Value = serde_json::from_str(&berth_ok(&d, &["inspect", "up"])).expect("JSON");
    let theirs: Value = serde_json::from_str(&d.docker_ok(&["inspect", "up"])).expect("JSON");
    for key in ["Id", "Name", "Image", "State", "Config", "Mounts"] {
        assert_eq!(
            strip_nulls(&ours[0][key]),
            strip_nulls(&theirs[0][key]),
            "inspect .{key}"
        );
    }
    same_output(
        &d,
        &[
            "inspect",
            "-f",
            "{{.State.Status}} {{.Config.Labels.k}} {{json .Config.Cmd}}",
            "up",
        ],
    );
    same_output(&d, &["inspect", "--format", "{{.Id}}", &img]);
    let e = same_failure(&d, &["inspect", "nothing-here"]);
    assert!(e.contains("No such object: nothing-here"), "{e}");
}

#[test]
fn run_exit_codes_and_errors_match_docker() {
    let (d, img) = engine_with_busybox();
    // Output and exit code of a foreground run, stdout and stderr apart.
    let args = [
        "run",
        "--rm",
        &img,
        "sh",
        "-c",
        "echo out; echo err >&2; exit 3",
    ];
    let ours = berth(&d, &args);
    let theirs = d.docker(&args);
    assert_eq!(
        (ours.status, theirs.status),
        (3, 3),
        "berth {ours}\ndocker {theirs}"
    );
    assert_eq!(ours.stdout, "out\n");
    assert!(ours.stderr.contains("err\n"), "{ours}");
    // Options reach the container: env, env-file, workdir, user, entrypoint, labels.
    let env_file = d.dir().join("env.list");
    std::fs::write(&env_file, "# comment\nFROM_FILE=yes\n").expect("write env file");
    let env_file = env_file.to_string_lossy().into_owned();
    same_output(
        &d,
        &[
            "run",
            "--rm",
            "-e",
            "A=1",
            "--env-file",
            &env_file,
            "-w",
            "/tmp",
            "-u",
            "1000:1000",
            &img,
            "sh",
            "-c",
            "echo $A $FROM_FILE $(pwd) $(id -u):$(id -g)",
        ],
    );
    same_output(
        &d,
        &[
            "run",
            "--rm",
            "--entrypoint",
            "echo",
            &img,
            "from",
            "entrypoint",
        ],
    );
    // The engine's start errors: 127 (no such command), 126 (not executable).
    same_failure(&d, &["run", "--rm", &img, "no-such-command"]);
    same_failure(&d, &["run", "--rm", &img, "/etc/passwd"]);
    // Create errors are 125; a name conflict says whose name it is and what to do.
    berth_ok(&d, &["run", "-d", "--name", "taken", &img, "sleep", "300"]);
    let e = same_failure(&d, &["run", "-d", "--name", "taken", &img, "true"]);
    assert!(e.contains("is already in use"), "{e}");
    assert!(e.contains("berth rm -f taken"), "{e}");
    let reg = fixture_registry();
    let e = same_failure(
        &d,
        &["run", "--rm", &reg.image("no-such-image:latest"), "true"],
    );
    assert!(e.contains("Unable to find image"), "{e}");
    // Plain engine errors are 1; usage errors 125.
    let e = same_failure(&d, &["rm", "no-such-container"]);
    assert!(e.contains("No such container: no-such-container"), "{e}");
    assert!(e.contains("berth ps -a"), "{e}");
    same_failure(&d, &["start", "no-such-container"]);
    same_failure(&d, &["ps", "--no-such-flag"]);
    // -d prints the full ID; --rm containers are gone once they exit.
    let id = berth_ok(&d, &["run", "-d", "--rm", "--name", "brief", &img, "true"]);
    assert_eq!(id.trim().len(), 64, "{id}");
    wait_until("--rm container removed", Duration::from_secs(60), || {
        let out = d.docker(&["ps", "-a", "-q", "--filter", "name=brief"]);
        if out.stdout.trim().is_empty() {
            Ok(())
        } else {
            Err(out.stdout)
        }
    });
}

#[test]
fn lifecycle_logs_exec_and_cp_match_docker() {
    let (d, img) = engine_with_busybox();
    for name in ["ours", "theirs"] {
        d.docker_ok(&[
            "run",
            "-d",
            "--name",
            name,
            &img,
            "sh",
            "-c",
            "echo one; echo two; sleep 300",
        ]);
        wait_running(&d, name);
    }
    wait_until("logs written", Duration::from_secs(60), || {
        let l = d.docker_ok(&["logs", "ours"]);
        if l.contains("two") {
            Ok(())
        } else {
            Err(l)
        }
    });
    assert_eq!(
        berth_ok(&d, &["logs", "ours"]),
        d.docker_ok(&["logs", "ours"])
    );
    assert_eq!(berth_ok(&d, &["logs", "--tail", "1", "ours"]), "two\n");
    let stamped = berth_ok(&d, &["logs", "-t", "ours"]);
    assert_eq!(stamped, d.docker_ok(&["logs", "-t", "ours"]));
    assert!(berth_ok(&d, &["logs", "--since", "1h", "ours"]).contains("one"));

    // exec: output, exit code, -e -w -u.
    for args in [
        vec!["exec", "ours", "sh", "-c", "echo hi; exit 4"],
        vec![
            "exec",
            "-e",
            "X=y",
            "-w",
            "/etc",
            "-u",
            "1000",
            "ours",
            "sh",
            "-c",
            "echo $X $(pwd) $(id -u)",
        ],
    ] {
        let o = berth(&d, &args);
        let t = d.docker(&args);
        assert_eq!(
            (o.status, &o.stdout),
            (t.status, &t.stdout),
            "{args:?}: {o}\n{t}"
        );
    }
    let o = berth(&d, &["exec", "ours", "no-such-command"]);
    let t = d.docker(&["exec", "ours", "no-such-command"]);
    assert_eq!(o.status, t.status, "berth {o}\ndocker {t}");

    // cp both ways: a file in, renamed; a directory out.
    let src = d.dir().join("hello.txt");
    std::fs::write(&src, "hello from the host\n").expect("write");
    let src = src.to_string_lossy().into_owned();
    berth_ok(&d, &["cp", &src, "ours:/tmp/renamed.txt"]);
    berth_ok(&d, &["cp", &src, "ours:/tmp/"]);
    assert_eq!(
        d.docker_ok(&["exec", "ours", "cat", "/tmp/renamed.txt", "/tmp/hello.txt"]),
        "hello from the host\nhello from the host\n"
    );
    let out_dir = d.dir().join("out");
    berth_ok(&d, &["cp", "ours:/tmp", &out_dir.to_string_lossy()]);
    assert_eq!(
        std::fs::read_to_string(out_dir.join("renamed.txt")).expect("copied out"),
        "hello from the host\n"
    );

    // stop, start, restart, kill, rm print the names given, as docker's.
    for verb in [
        &["stop", "-t", "1"][..],
        &["start"],
        &["restart", "-t", "1"],
        &["kill"],
        &["rm", "-f"],
    ] {
        let mut o_args = verb.to_vec();
        o_args.push("ours");
        let mut t_args = verb.to_vec();
        t_args.push("theirs");
        let o = berth(&d, &o_args);
        let t = d.docker(&t_args);
        assert_eq!(o.status, t.status, "{verb:?}: {o}\n{t}");
        assert_eq!(o.stdout, "ours\n");
        assert_eq!(t.stdout, "theirs\n");
        let (os, ts) = if verb[0] == "rm" {
            (
                d.docker_ok(&["ps", "-a", "-q", "--filter", "name=^ours$"]),
                d.docker_ok(&["ps", "-a", "-q", "--filter", "name=^theirs$"]),
            )
        } else {
            (
                d.inspect_format("ours", "{{.State.Running}}"),
                d.inspect_format("theirs", "{{.State.Running}}"),
            )
        };
        assert_eq!(os, ts, "state after {verb:?}");
    }
}

#[test]
fn images_volumes_networks_and_system_match_docker() {
    let reg = fixture_registry();
    let d = Berthd::start();
    let img = reg.image("busybox:latest");
    // pull: -q prints the reference; without it, docker's plain lines end with it too.
    assert_eq!(berth_ok(&d, &["pull", "-q", &img]), format!("{img}\n"));
    let out = berth_ok(&d, &["pull", &img]);
    assert!(out.ends_with(&format!("{img}\n")), "{out}");
    assert!(out.contains("Status: Image is up to date"), "{out}");
    // tag and rmi.
    let tagged = reg.image("busybox:berth-tag");
    berth_ok(&d, &["tag", &img, &tagged]);
    assert!(d
        .docker_ok(&["images", "--format", "{{.Tag}}"])
        .contains("berth-tag"));
    assert_eq!(
        berth_ok(&d, &["rmi", &tagged]),
        format!("Untagged: {tagged}\n")
    );
    same_failure(&d, &["rmi", "no-such-image"]);

    // volumes.
    assert_eq!(
        berth_ok(&d, &["volume", "create", "--label", "a=b", "data"]),
        "data\n"
    );
    d.docker_ok(&["volume", "create", "other"]);
    same_table(&d, &["volume", "ls"]);
    same_output(&d, &["volume", "ls", "-q"]);
    same_output(
        &d,
        &[
            "volume",
            "ls",
            "--format",
            "{{.Name}} {{.Driver}} {{.Labels}}",
        ],
    );
    let ours: Value =
        serde_json::from_str(&berth_ok(&d, &["volume", "inspect", "data"])).expect("JSON");
    let theirs: Value =
        serde_json::from_str(&d.docker_ok(&["volume", "inspect", "data"])).expect("JSON");
    for key in ["Name", "Driver", "Mountpoint", "Labels", "Scope"] {
        assert_eq!(
            strip_nulls(&ours[0][key]),
            strip_nulls(&theirs[0][key]),
            "volume inspect .{key}"
        );
    }
    assert_eq!(berth_ok(&d, &["volume", "rm", "data"]), "data\n");
    same_failure(&d, &["volume", "rm", "data"]);

    // networks.
    let id = berth_ok(&d, &["network", "create", "--label", "x=y", "berthnet"]);
    assert_eq!(id.trim().len(), 64, "{id}");
    same_table(&d, &["network", "ls"]);
    same_output(&d, &["network", "ls", "-q"]);
    same_output(
        &d,
        &[
            "network",
            "inspect",
            "-f",
            "{{.Name}} {{.Driver}} {{.Labels}}",
            "berthnet",
        ],
    );
    d.docker_ok(&["run", "-d", "--name", "c1", &img, "sleep", "300"]);
    berth_ok(&d, &["network", "connect", "berthnet", "c1"]);
    assert!(d
        .inspect_format("c1", "{{json .NetworkSettings.Networks}}")
        .contains("berthnet"));
    berth_ok(&d, &["network", "disconnect", "berthnet", "c1"]);
    assert!(!d
        .inspect_format("c1", "{{json .NetworkSettings.Networks}}")
        .contains("berthnet"));
    assert_eq!(berth_ok(&d, &["network", "rm", "berthnet"]), "berthnet\n");

    // system: df's table; prune removes stopped containers and says so.
    same_table(&d, &["system", "df"]);
    d.docker_ok(&["rm", "-f", "c1"]);
    d.docker_ok(&["run", "--name", "stopped", &img, "true"]);
    let out = berth_ok(&d, &["system", "prune", "-f"]);
    assert!(out.contains("Deleted Containers:"), "{out}");
    assert!(out.contains("Total reclaimed space:"), "{out}");
    assert!(d.docker_ok(&["ps", "-a", "-q"]).trim().is_empty());
}

#[test]
fn engine_selection_language_and_completions() {
    let d = Berthd::start();
    let missing = format!("unix://{}/nothing.sock", d.dir().display());
    // No engine: exit 1 and how to start one.
    let out = berth_env(&missing, &["ps"], &[]);
    assert_eq!(out.status, 1, "{out}");
    assert!(out.stderr.contains("scripts/run.sh --engine-only"), "{out}");
    // In Spanish when the locale says so.
    let out = berth_env(&missing, &["ps"], &[("LANG", "es_ES.UTF-8")]);
    assert!(out.stderr.contains("Arránquelo"), "{out}");
    // BERTH_HOST wins over DOCKER_HOST; -H wins over both.
    let out = berth_env(&missing, &["ps", "-q"], &[("DOCKER_HOST", &d.host())]);
    assert_eq!(out.status, 1, "{out}");
    let out = berth_env(&missing, &["-H", &d.host(), "ps", "-q"], &[]);
    assert!(out.success(), "{out}");
    let out = berth_env(&missing, &["version"], &[]);
    assert_eq!(out.status, 1, "{out}");
    assert!(out.stdout.contains("Client: Berth"), "{out}");
    // Contexts: named engines in berth's own store; --context beats DOCKER_HOST, -H beats
    // the context, and the current one (context use) serves when nothing else is said.
    let cfg = d.dir().join("berth-config");
    let cfg = cfg.to_string_lossy().into_owned();
    let no_env = [("BERTH_HOST", ""), ("BERTH_CONFIG_DIR", cfg.as_str())];
    let endpoint = format!("host={}", d.host());
    let out = berth_env(
        "",
        &["context", "create", "e2e", "--docker", &endpoint],
        &no_env,
    );
    assert!(out.success() && out.stdout == "e2e\n", "{out}");
    let out = berth_env("", &["context", "ls", "-q"], &no_env);
    assert_eq!(out.stdout, "default\nvm\ne2e\n", "{out}");
    let with_docker_host = [no_env[0], no_env[1], ("DOCKER_HOST", missing.as_str())];
    let out = berth_env("", &["--context", "e2e", "ps", "-q"], &with_docker_host);
    assert!(out.success(), "{out}");
    let out = berth_env("", &["context", "use", "e2e"], &no_env);
    assert!(out.success(), "{out}");
    assert!(berth_env("", &["ps", "-q"], &no_env).success());
    assert_eq!(berth_env("", &["context", "show"], &no_env).stdout, "e2e\n");
    assert_eq!(berth_env("", &["-H", &missing, "ps"], &no_env).status, 1);
    assert_eq!(berth_env("", &["ps"], &with_docker_host).status, 1);
    assert!(berth_env("", &["context", "rm", "e2e"], &no_env).success());
    assert_eq!(
        berth_env("", &["context", "show"], &no_env).stdout,
        "default\n"
    );
    // The built-in `vm` context is the engine VM's socket; `berth vm` runs berth-vm.
    let data = d.dir().join("data-home");
    let data = data.to_string_lossy().into_owned();
    let vm_env = [no_env[0], no_env[1], ("XDG_DATA_HOME", data.as_str())];
    let out = berth_env(
        "",
        &[
            "context",
            "inspect",
            "vm",
            "--format",
            "{{.Endpoints.docker.Host}}",
        ],
        &vm_env,
    );
    assert_eq!(
        out.stdout.trim(),
        format!("unix://{data}/berth/vm/docker.sock"),
        "{out}"
    );
    let out = berth_env("", &["--context", "vm", "ps"], &vm_env);
    assert_eq!(out.status, 1, "{out}");
    assert!(out.stderr.contains("berth vm start"), "{out}");
    let out = berth_env("", &["vm", "status"], &vm_env);
    assert!(
        out.success() && out.stdout.contains("state: stopped"),
        "{out}"
    );
    let out = berth_env("", &["context", "rm", "vm"], &vm_env);
    assert!(!out.success() && out.stderr.contains("built in"), "{out}");
    // Completions come from the command definitions.
    for shell in ["bash", "zsh", "fish", "powershell"] {
        let out = berth_env(&missing, &["completion", shell], &[]);
        assert!(
            out.success() && out.stdout.contains("berth"),
            "{shell}: {out}"
        );
    }
    let help = berth_env(&missing, &["--help"], &[("LANG", "es_ES.UTF-8")]);
    assert!(help.stdout.contains("Lista los contenedores"), "{help}");
}

#[test]
fn more_verbs_match_docker() {
    let (d, img) = engine_with_busybox();
    same_table(&d, &["history", &img]);
    same_output(&d, &["history", "-q", &img]);
    d.docker_ok(&[
        "run",
        "-d",
        "--name",
        "web",
        "-p",
        "127.0.0.1::80",
        &img,
        "sleep",
        "300",
    ]);
    wait_running(&d, "web");
    same_output(&d, &["port", "web"]);
    same_output(&d, &["port", "web", "80"]);
    same_failure(&d, &["port", "web", "81"]);
    // rename, pause, unpause.
    berth_ok(&d, &["rename", "web", "site"]);
    assert_eq!(d.inspect_format("site", "{{.Name}}"), "/site");
    assert_eq!(berth_ok(&d, &["pause", "site"]), "site\n");
    assert_eq!(d.inspect_format("site", "{{.State.Status}}"), "paused");
    assert_eq!(berth_ok(&d, &["unpause", "site"]), "site\n");
    assert_eq!(d.inspect_format("site", "{{.State.Status}}"), "running");
    // update: the same limits and restart policy as docker's update.
    d.docker_ok(&["run", "-d", "--name", "twin", &img, "sleep", "300"]);
    // (--memory-swap too: berthd refuses a first memory limit without one, where dockerd
    // accepts it; an engine matter, the same for both CLIs.)
    let limits = [
        "update",
        "--memory",
        "64m",
        "--memory-swap",
        "128m",
        "--cpus",
        "0.5",
        "--restart",
        "on-failure:2",
    ];
    let mut ours = limits.to_vec();
    ours.push("site");
    assert_eq!(berth_ok(&d, &ours), "site\n");
    let mut theirs = limits.to_vec();
    theirs.push("twin");
    d.docker_ok(&theirs);
    let shape =
        "{{.HostConfig.Memory}} {{.HostConfig.MemorySwap}} {{.HostConfig.NanoCpus}} {{json .HostConfig.RestartPolicy}}";
    assert_eq!(
        d.inspect_format("site", shape),
        d.inspect_format("twin", shape)
    );
    d.docker_ok(&["rm", "-f", "twin"]);
    // wait prints the exit code once the container stops.
    d.docker_ok(&[
        "run",
        "-d",
        "--name",
        "short",
        &img,
        "sh",
        "-c",
        "sleep 1; exit 7",
    ]);
    assert_eq!(berth_ok(&d, &["wait", "short"]), "7\n");
    // --mount reaches the engine as docker's does.
    let args = |name: &'static str| {
        vec![
            "run",
            "-d",
            "--name",
            name,
            "--mount",
            "type=tmpfs,target=/scratch,tmpfs-size=1m",
            "--mount",
            "type=volume,source=vol1,target=/data,readonly",
            &img,
            "sleep",
            "300",
        ]
    };
    berth_ok(&d, &args("m1"));
    d.docker_ok(&args("m2"));
    let mounts = |c: &str| -> Value {
        strip_nulls(
            &serde_json::from_str(&d.inspect_format(c, "{{json .HostConfig.Mounts}}"))
                .expect("JSON"),
        )
    };
    assert_eq!(mounts("m1"), mounts("m2"));
    // Port ranges reach the engine as docker's do.
    let ranged =
        |name: &'static str| vec!["create", "--name", name, "-p", "127.0.0.1::80-81/udp", &img];
    berth_ok(&d, &ranged("r1"));
    d.docker_ok(&ranged("r2"));
    let bindings = |c: &str| d.inspect_format(c, "{{json .HostConfig.PortBindings}}");
    assert_eq!(bindings("r1"), bindings("r2"));
    d.docker_ok(&["rm", "r1", "r2"]);
    // diff, export, commit of a container's filesystem.
    d.docker_ok(&["run", "-d", "--name", "files", &img, "sleep", "300"]);
    wait_running(&d, "files");
    d.docker_ok(&[
        "exec",
        "files",
        "sh",
        "-c",
        "echo x > /new.txt && rm /etc/hostname.bak 2>/dev/null; mkdir -p /srv/a",
    ]);
    same_output(&d, &["diff", "files"]);
    let (ours_tar, theirs_tar) = (d.dir().join("ours.tar"), d.dir().join("theirs.tar"));
    berth_ok(&d, &["export", "-o", &ours_tar.to_string_lossy(), "files"]);
    d.docker_ok(&["export", "-o", &theirs_tar.to_string_lossy(), "files"]);
    let names = |p: &std::path::Path| -> Vec<String> {
        let data = std::fs::read(p).expect("read export");
        let mut n: Vec<String> = tar::Archive::new(data.as_slice())
            .entries()
            .expect("tar")
            .map(|e| {
                e.expect("entry")
                    .path()
                    .expect("path")
                    .to_string_lossy()
                    .into_owned()
            })
            .collect();
        n.sort();
        n
    };
    let ours_names = names(&ours_tar);
    assert!(ours_names.iter().any(|n| n == "new.txt"), "{ours_names:?}");
    assert_eq!(ours_names, names(&theirs_tar));
    let commit = |who: &str| {
        vec![
            "commit".to_string(),
            "-m".into(),
            "saved".into(),
            "-c".into(),
            "ENV A=b".into(),
            "files".into(),
            format!("{who}:1"),
        ]
    };
    let ours_id = berth_ok(
        &d,
        &commit("ours")
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>(),
    );
    assert!(ours_id.trim().starts_with("sha256:"), "{ours_id}");
    d.docker_ok(
        &commit("theirs")
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>(),
    );
    // The same comment and environment (berthd orders Env differently when the commit
    // request carries a config object, as bollard always sends, rather than docker's null).
    let committed = |image: &str| {
        let mut env: Vec<String> =
            serde_json::from_str(&d.inspect_format(image, "{{json .Config.Env}}")).expect("JSON");
        env.sort();
        (d.inspect_format(image, "{{.Comment}}"), env)
    };
    assert_eq!(committed("ours:1"), committed("theirs:1"));
    d.docker_ok(&["rm", "-f", "files"]);
    d.docker_ok(&["rmi", "ours:1", "theirs:1"]);
    // save | load round trip through a file.
    let tar = d.dir().join("img.tar");
    let tar = tar.to_string_lossy().into_owned();
    berth_ok(&d, &["save", "-o", &tar, &img]);
    d.docker_ok(&["rm", "-f", "m1", "m2", "site", "short"]);
    d.docker_ok(&["rmi", &img]);
    let out = berth_ok(&d, &["load", "-i", &tar]);
    assert!(out.contains(&format!("Loaded image: {img}")), "{out}");
    // events between two times: the same lines as docker's.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs()
        .to_string();
    let window = [
        "events",
        "--since",
        "10m",
        "--until",
        &now,
        "--filter",
        "type=container",
    ];
    same_output(&d, &window);
    same_output(
        &d,
        &[
            "events",
            "--since",
            "10m",
            "--until",
            &now,
            "--format",
            "{{.Type}} {{.Action}}",
        ],
    );
}

/// Runs `PROGRAM ARGS` under a pseudo-terminal of 33 rows × 91 columns (util-linux `script`),
/// with `input` typed in; returns what the terminal showed and the exit code.
fn on_a_terminal(program: &str, args: &[&str], env: &[(&str, &str)], input: &str) -> Output {
    let quoted: Vec<String> = std::iter::once(program)
        .chain(args.iter().copied())
        .map(|a| format!("'{}'", a.replace('\'', "'\\''")))
        .collect();
    let inner = format!("stty cols 91 rows 33; exec {}", quoted.join(" "));
    let mut cmd = Command::new("script");
    cmd.args(["-qec", &inner, "/dev/null"])
        .envs(env.iter().copied())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("spawn script");
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().expect("stdin");
        stdin.write_all(input.as_bytes()).expect("type input");
    }
    let out = child.wait_with_output().expect("wait script");
    Output {
        status: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).replace('\r', ""),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Like [`on_a_terminal`], typing `first`, then `then` once the terminal shows `shown` (keys
/// typed before the program's raw mode would go to the terminal's line discipline instead).
fn on_a_terminal_after(
    program: &str,
    args: &[&str],
    env: &[(&str, &str)],
    first: &str,
    shown: &str,
    then: &str,
) -> Output {
    use std::io::Write;
    use std::sync::{Arc, Mutex};
    let quoted: Vec<String> = std::iter::once(program)
        .chain(args.iter().copied())
        .map(|a| format!("'{}'", a.replace('\'', "'\\''")))
        .collect();
    let inner = format!("stty cols 91 rows 33; exec {}", quoted.join(" "));
    let mut child = Command::new("script")
        .args(["-qec", &inner, "/dev/null"])
        .envs(env.iter().copied())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn script");
    let seen = Arc::new(Mutex::new(Vec::new()));
    let mut stdout = child.stdout.take().expect("stdout");
    let reader = {
        let seen = Arc::clone(&seen);
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = stdout.read(&mut buf) {
                if n == 0 {
                    break;
                }
                seen.lock().expect("lock").extend_from_slice(&buf[..n]);
            }
        })
    };
    let mut stdin = child.stdin.take().expect("stdin");
    stdin.write_all(first.as_bytes()).expect("type");
    wait_until(
        "the terminal to show the answer",
        Duration::from_secs(60),
        || {
            let text = String::from_utf8_lossy(&seen.lock().expect("lock")).into_owned();
            if text.contains(shown) {
                Ok(())
            } else {
                Err(text)
            }
        },
    );
    stdin.write_all(then.as_bytes()).expect("type");
    let status = wait_child_or_kill(&mut child, Duration::from_secs(60))
        .code()
        .unwrap_or(-1);
    drop(stdin);
    let _ = reader.join();
    let stdout = String::from_utf8_lossy(&seen.lock().expect("lock")).replace('\r', "");
    Output {
        status,
        stdout,
        stderr: String::new(),
    }
}

#[test]
fn terminals_stdin_and_management_commands_match_docker() {
    let (d, img) = engine_with_busybox();
    let host = d.host();
    let env = [
        ("BERTH_HOST", host.as_str()),
        ("DOCKER_HOST", host.as_str()),
        ("LANG", "C"),
    ];
    // run -it: a raw terminal of the user's size, and the shell's exit code.
    let typed = "stty size; echo typed-$((6*7)); exit 5\n";
    for program in [
        berth_bin().to_string_lossy().into_owned(),
        docker_bin().to_string_lossy().into_owned(),
    ] {
        let out = on_a_terminal(&program, &["run", "-it", "--rm", &img, "sh"], &env, typed);
        assert_eq!(out.status, 5, "{program}: {out}");
        assert!(out.stdout.contains("33 91"), "{program}: {out}");
        assert!(out.stdout.contains("typed-42"), "{program}: {out}");
    }
    // exec -it the same way.
    d.docker_ok(&["run", "-d", "--name", "box", &img, "sleep", "300"]);
    wait_running(&d, "box");
    let out = on_a_terminal(
        &berth_bin().to_string_lossy(),
        &["exec", "-it", "box", "sh"],
        &env,
        "stty size; exit 3\n",
    );
    assert_eq!(out.status, 3, "{out}");
    assert!(out.stdout.contains("33 91"), "{out}");
    // attach, then the detach keys (ctrl-p ctrl-q): berth leaves, the container runs on.
    d.docker_ok(&["run", "-dit", "--name", "shell", &img, "sh"]);
    wait_running(&d, "shell");
    let out = on_a_terminal_after(
        &berth_bin().to_string_lossy(),
        &["attach", "shell"],
        &env,
        "echo attached-$((1+1))\n",
        "attached-2",
        "\x10\x11",
    );
    assert_eq!(out.status, 0, "{out}");
    assert_eq!(d.inspect_format("shell", "{{.State.Running}}"), "true");
    // -i without a terminal: stdin reaches the process and closes.
    for args in [
        vec!["run", "-i", "--rm", &img, "wc", "-l"],
        vec!["exec", "-i", "box", "wc", "-l"],
    ] {
        let ours = {
            let mut cmd = Command::new(berth_bin());
            cmd.args(&args)
                .env("BERTH_HOST", &host)
                .stdin(Stdio::piped())
                .stdout(Stdio::piped());
            let mut child = cmd.spawn().expect("spawn berth");
            {
                use std::io::Write;
                let mut stdin = child.stdin.take().expect("stdin");
                stdin.write_all(b"a\nb\nc\n").expect("write stdin");
            }
            child.wait_with_output().expect("wait berth")
        };
        let theirs = d.docker_with_stdin(&args, "a\nb\nc\n");
        assert_eq!(
            String::from_utf8_lossy(&ours.stdout).trim(),
            "3",
            "{args:?}"
        );
        assert_eq!(theirs.stdout.trim(), "3", "{args:?}");
    }
    // Management commands are the same verbs.
    same_output(&d, &["container", "ls", "-a", "-q"]);
    same_table(&d, &["container", "ls"]);
    same_table(&d, &["image", "ls"]);
    same_output(&d, &["image", "inspect", "-f", "{{.Id}}", &img]);
    same_output(&d, &["container", "inspect", "-f", "{{.Name}}", "box"]);
    d.docker_ok(&["run", "--name", "gone", &img, "true"]);
    let out = berth_ok(&d, &["container", "prune", "-f"]);
    assert!(out.contains("Deleted Containers:"), "{out}");
    assert!(d.docker(&["inspect", "gone"]).status != 0);
}

#[test]
fn login_pull_push_and_logout_share_docker_credentials() {
    let reg = Registry::start_with_htpasswd("berth", "s3cret-pass");
    push_fixture_images_as(reg.addr(), reg.credentials());
    let d = Berthd::start();
    let img = reg.image("busybox:latest");
    let config = d.docker_config_dir();
    let config = config.to_string_lossy().into_owned();
    let env = [("DOCKER_CONFIG", config.as_str())];
    let with_stdin = |args: &[&str], input: &str| {
        let mut cmd = Command::new(berth_bin());
        cmd.args(args)
            .env("BERTH_HOST", d.host())
            .env("DOCKER_CONFIG", &config)
            .env("LANG", "C")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("spawn berth");
        {
            use std::io::Write;
            let mut stdin = child.stdin.take().expect("stdin");
            stdin.write_all(input.as_bytes()).expect("write stdin");
        }
        let out = child.wait_with_output().expect("wait berth");
        Output {
            status: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    };
    let login = ["login", "-u", "berth", "--password-stdin", reg.addr()];
    // A wrong password fails as docker's does; a right one is stored in docker's file.
    let ours = with_stdin(&login, "wrong\n");
    let theirs = d.docker_with_stdin(&login, "wrong\n");
    assert_eq!(ours.status, theirs.status, "berth {ours}\ndocker {theirs}");
    assert!(ours.stderr.contains("unauthorized"), "{ours}");
    assert_eq!(berth_env(&d.host(), &["pull", "-q", &img], &env).status, 1);
    let ok = with_stdin(&login, "s3cret-pass\n");
    assert!(
        ok.success() && ok.stdout.contains("Login Succeeded"),
        "{ok}"
    );
    // Both CLIs pull and push with it.
    let out = berth_env(&d.host(), &["pull", "-q", &img], &env);
    assert!(out.success(), "{out}");
    assert_eq!(
        d.docker_ok(&["run", "--rm", &img, "echo", "authed"]).trim(),
        "authed"
    );
    let mine = reg.image("mine:1");
    d.docker_ok(&["tag", &img, &mine]);
    let out = berth_env(&d.host(), &["push", &mine], &env);
    assert!(out.success(), "{out}");
    assert!(out.stdout.contains("1: digest: sha256:"), "{out}");
    // logout removes it for docker too.
    let out = berth_env(&d.host(), &["logout", reg.addr()], &env);
    assert!(out.stdout.contains("Removing login credentials"), "{out}");
    let refused = d.docker(&["push", &mine]);
    assert_ne!(refused.status, 0, "{refused}");
}

/// The confinement, health and networking flags of `run`/`create` do what docker's do.
#[test]
fn confinement_health_and_network_flags_match_docker() {
    let (d, img) = engine_with_busybox();
    let run = |flags: &[&str], script: &str| -> Vec<String> {
        let mut args: Vec<String> = vec!["run".into(), "--rm".into()];
        args.extend(flags.iter().map(|s| s.to_string()));
        args.extend([img.clone(), "sh".into(), "-c".into(), script.into()]);
        args
    };
    let seccomp = "grep Seccomp: /proc/self/status";
    let caps = "grep CapEff /proc/self/status";
    let profile = d.dir().join("allow.json");
    std::fs::write(&profile, "{\n  \"defaultAction\": \"SCMP_ACT_ALLOW\"\n}\n").expect("profile");
    let profile_opt = format!("seccomp={}", profile.display());
    for (flags, script) in [
        (vec![], seccomp),
        (vec!["--security-opt", "seccomp=unconfined"], seccomp),
        (vec!["--security-opt", profile_opt.as_str()], seccomp),
        (vec!["--privileged"], caps),
        (vec!["--cap-drop", "ALL"], caps),
        (vec!["--cap-add", "SYS_ADMIN"], caps),
        (
            vec!["--read-only"],
            "touch /x 2>/dev/null || echo read-only",
        ),
        (
            vec!["--add-host", "db.local:10.1.2.3"],
            "grep db.local /etc/hosts",
        ),
        (
            vec!["--mac-address", "02:42:ac:11:00:77"],
            "cat /sys/class/net/eth0/address",
        ),
    ] {
        let args = run(&flags, script);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = same_output(&d, &args);
        assert!(!out.trim().is_empty(), "{flags:?}: nothing printed");
    }

    d.docker_ok(&["run", "-d", "--name", "linked-db", &img, "sleep", "1000"]);
    // Named, so that both runs (one after the other, each removed) get the same link name.
    let args = run(
        &["--name", "linker", "--link", "linked-db:db"],
        "env | grep ^DB_NAME",
    );
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    assert_eq!(same_output(&d, &args).trim(), "DB_NAME=/linker/db");

    // The health check each CLI sends is the same.
    let health = [
        "--health-cmd",
        "test -e /tmp",
        "--health-interval",
        "1m30s",
        "--health-timeout",
        "200ms",
        "--health-retries",
        "2",
    ];
    let mut ours = vec!["create", "--name", "hc-berth"];
    ours.extend(health);
    ours.extend([img.as_str(), "true"]);
    berth_ok(&d, &ours);
    let mut theirs = vec!["create", "--name", "hc-docker"];
    theirs.extend(health);
    theirs.extend([img.as_str(), "true"]);
    d.docker_ok(&theirs);
    let hc = |name: &str| d.inspect_format(name, "{{json .Config.Healthcheck}}");
    assert_eq!(hc("hc-berth"), hc("hc-docker"));
    berth_ok(
        &d,
        &[
            "create",
            "--name",
            "hc-off",
            "--no-healthcheck",
            &img,
            "true",
        ],
    );
    assert_eq!(hc("hc-off").trim(), "{\"Test\":[\"NONE\"]}");
    same_failure(
        &d,
        &[
            "create",
            "--no-healthcheck",
            "--health-cmd",
            "true",
            &img,
            "true",
        ],
    );
    d.docker_ok(&["rm", "-f", "linked-db", "hc-berth", "hc-docker", "hc-off"]);
}

/// `docker build` with the classic builder, for comparison with `berth build`.
fn docker_build(d: &Berthd, args: &[&str]) -> Output {
    let mut full = vec!["build"];
    full.extend_from_slice(args);
    let out = d
        .docker_command(&full)
        .env("DOCKER_BUILDKIT", "0")
        .stdin(std::process::Stdio::null())
        .output()
        .expect("run docker build");
    Output {
        status: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// The `Step n/m : …` lines of a build's output.
fn steps(out: &str) -> Vec<&str> {
    out.lines().filter(|l| l.starts_with("Step ")).collect()
}

#[test]
fn build_matches_docker() {
    let (d, img) = engine_with_busybox();
    let ctx = d.dir().join("berth-build");
    std::fs::create_dir_all(&ctx).expect("mkdir");
    std::fs::write(
        ctx.join("Dockerfile"),
        format!(
            "FROM {img}\nARG WHO=nobody\nRUN echo \"hi $WHO\" > /hi\nCOPY . /ctx/\nCMD [\"sh\", \"-c\", \"cat /hi; ls /ctx\"]\n"
        ),
    )
    .expect("Dockerfile");
    std::fs::write(ctx.join("a.txt"), "a\n").expect("a.txt");
    std::fs::write(ctx.join("secret.txt"), "s\n").expect("secret.txt");
    std::fs::write(ctx.join(".dockerignore"), "secret.txt\n").expect(".dockerignore");
    let c = ctx.to_str().expect("utf-8");

    let theirs = docker_build(&d, &["--build-arg", "WHO=docker", "-t", "by-docker", c]);
    let ours = berth(
        &d,
        &[
            "build",
            "--build-arg",
            "WHO=docker",
            "-t",
            "by-berth",
            "-t",
            "also-berth",
            c,
        ],
    );
    assert!(theirs.success() && ours.success(), "{theirs}\n{ours}");
    assert_eq!(steps(&ours.stdout), steps(&theirs.stdout));
    // The same inputs on the same engine: berth's build is all cache hits of docker's.
    assert_eq!(
        ours.stdout.matches(" ---> Using cache").count(),
        4,
        "{ours}"
    );
    assert!(ours.stdout.contains("Successfully built "), "{ours}");
    let run = d.docker_ok(&["run", "--rm", "also-berth"]);
    assert_eq!(
        run, "hi docker\nDockerfile\na.txt\n",
        ".dockerignore leaves secret.txt out"
    );
    assert_eq!(
        d.inspect_format("by-berth", "{{.Id}}"),
        d.inspect_format("by-docker", "{{.Id}}")
    );

    // --cache-from, --network, --force-rm reach the engine; -q prints only the ID.
    let quiet = berth_ok(
        &d,
        &[
            "build",
            "-q",
            "--cache-from",
            "by-docker",
            "--network",
            "none",
            "--force-rm",
            "--no-cache",
            c,
        ],
    );
    assert!(
        quiet.trim().starts_with("sha256:") && quiet.lines().count() == 1,
        "{quiet}"
    );

    // A failing RUN: the same exit code and dockerd's message from both.
    std::fs::write(ctx.join("Dockerfile"), format!("FROM {img}\nRUN exit 7\n"))
        .expect("Dockerfile");
    let theirs = docker_build(&d, &[c]);
    let ours = berth(&d, &["build", c]);
    assert_eq!(ours.status, theirs.status, "berth {ours}\ndocker {theirs}");
    assert_eq!(ours.status, 7, "the docker CLI exits with the RUN's code");
    let msg = "The command '/bin/sh -c exit 7' returned a non-zero code: 7";
    assert!(
        theirs.stderr.contains(msg) && ours.stderr.contains(msg),
        "berth {ours}\ndocker {theirs}"
    );
}

#[test]
fn import_matches_docker() {
    let (d, img) = engine_with_busybox();
    d.docker_ok(&[
        "run",
        "--name",
        "src",
        &img,
        "sh",
        "-c",
        "echo imported > /marker",
    ]);
    let tar = d.dir().join("fs.tar");
    d.docker_ok(&["export", "-o", tar.to_str().expect("utf-8"), "src"]);
    let t = tar.to_str().expect("utf-8");

    let ours = berth_ok(
        &d,
        &[
            "import",
            "-c",
            "CMD [\"cat\", \"/marker\"]",
            "-m",
            "from berth",
            t,
            "imp:berth",
        ],
    );
    let theirs = d.docker_ok(&[
        "import",
        "-c",
        "CMD [\"cat\", \"/marker\"]",
        "-m",
        "from berth",
        t,
        "imp:docker",
    ]);
    for out in [&ours, &theirs] {
        let id = out.trim();
        assert!(id.starts_with("sha256:") && id.len() == 71, "{out}");
    }
    assert_eq!(ours.trim(), d.inspect_format("imp:berth", "{{.Id}}"));
    assert_eq!(d.docker_ok(&["run", "--rm", "imp:berth"]), "imported\n");
    assert_eq!(
        d.inspect_format("imp:berth", "{{.Comment}}"),
        d.inspect_format("imp:docker", "{{.Comment}}")
    );

    // From stdin, untagged.
    let out = std::process::Command::new(berth_bin())
        .args(["import", "-"])
        .env("DOCKER_HOST", d.host())
        .stdin(std::fs::File::open(&tar).expect("open tar"))
        .output()
        .expect("run berth import -");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let id = String::from_utf8_lossy(&out.stdout).trim().to_string();
    assert_eq!(d.inspect_format(&id, "{{.RepoTags}}"), "[]");

    let missing = d.dir().join("missing.tar");
    let err = same_failure(&d, &["import", missing.to_str().expect("utf-8")]);
    assert!(err.contains("no such file or directory"), "{err}");
}
