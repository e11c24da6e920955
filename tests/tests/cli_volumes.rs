//! Volumes, binds and tmpfs through the docker CLI: named and anonymous volumes, copy-up of image
//! content, `rm -v`/`--rm`, in-use refusal, `volume ls/inspect/prune`, bind and tmpfs mounts,
//! `--volumes-from`, `--read-only`, the `local` driver's options, and crash safety.

use std::path::Path;

use berth_tests::*;
use serde_json::Value;

/// An engine with busybox and layers pulled.
fn started() -> (Berthd, String, String) {
    let reg = fixture_registry();
    let d = Berthd::start();
    let busybox = reg.image("busybox:latest");
    let layers = reg.image("layers:latest");
    d.docker_ok(&["pull", "-q", &busybox]);
    d.docker_ok(&["pull", "-q", &layers]);
    (d, busybox, layers)
}

fn inspect(d: &Berthd, args: &[&str]) -> Value {
    let mut all = vec!["inspect"];
    all.extend_from_slice(args);
    let v: Value = serde_json::from_str(&d.docker_ok(&all)).expect("inspect prints JSON");
    v[0].clone()
}

fn volume_names(d: &Berthd, extra: &[&str]) -> Vec<String> {
    let mut args = vec!["volume", "ls", "-q"];
    args.extend_from_slice(extra);
    let mut names: Vec<String> = d
        .docker_ok(&args)
        .lines()
        .map(str::to_string)
        .filter(|l| !l.is_empty())
        .collect();
    names.sort();
    names
}

fn is_hex64(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

fn failed(out: &Output, needle: &str) {
    assert!(!out.success(), "expected a failure: {out}");
    assert!(out.stderr.contains(needle), "wanted {needle:?} in: {out}");
}

#[test]
fn named_volume_outlives_containers_and_blocks_removal_while_used() {
    let (d, busybox, _) = started();
    let mut events = d
        .docker_command(&[
            "events",
            "--filter",
            "type=volume",
            "--format",
            "{{.Action}} {{.Actor.ID}}",
        ])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("docker events");
    // Lines arrive through a reader thread; a warm-up volume proves the stream is subscribed
    // before the events under test happen (the engine does not replay past events).
    let stdout = events.stdout.take().expect("events stdout");
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
    let mut subscribed = None;
    for i in 0..50 {
        let name = format!("warmup{i}");
        d.docker_ok(&["volume", "create", &name]);
        d.docker_ok(&["volume", "rm", &name]);
        if let Ok(line) = rx.recv_timeout(std::time::Duration::from_millis(200)) {
            if let Some(n) = line.strip_prefix("create warmup") {
                subscribed = Some(n.to_string());
                break;
            }
        }
    }
    let n = subscribed.expect("docker events never started");
    // Skip the rest of the warm-up: up to its last event, the removal of the volume seen.
    let last = format!("destroy warmup{n}");
    while rx
        .recv_timeout(std::time::Duration::from_secs(10))
        .expect("the warm-up's destroy event")
        != last
    {}

    assert_eq!(d.docker_ok(&["volume", "create", "notes"]).trim(), "notes");
    d.docker_ok(&[
        "run",
        "--rm",
        "-v",
        "notes:/notes",
        &busybox,
        "sh",
        "-c",
        "echo kept > /notes/a.txt",
    ]);
    let out = d.docker_ok(&["run", "--rm", "-v", "notes:/n", &busybox, "cat", "/n/a.txt"]);
    assert_eq!(out, "kept\n");

    // Created implicitly by -v: no labels, no options, shown as dockerd shows them.
    let id = d
        .docker_ok(&[
            "create",
            "--name",
            "user",
            "-v",
            "implicit:/data:ro",
            "-v",
            "notes:/notes",
            &busybox,
            "true",
        ])
        .trim()
        .to_string();
    let v: Value = serde_json::from_str(&d.docker_ok(&["volume", "inspect", "implicit"])).unwrap();
    let v = &v[0];
    assert_eq!(v["Name"], "implicit");
    assert_eq!(v["Driver"], "local");
    assert_eq!(v["Scope"], "local");
    assert_eq!(v["Labels"], Value::Null);
    assert_eq!(v["Options"], Value::Null);
    let mountpoint = d.data_root().join("volumes/implicit/_data");
    assert_eq!(v["Mountpoint"], mountpoint.to_str().unwrap());
    assert!(mountpoint.is_dir());
    let created = v["CreatedAt"].as_str().unwrap();
    assert!(created.ends_with('Z') && created.len() == 20, "{created}");
    // The CLI leaves out empty labels and options: kept as null, as dockerd does.
    let notes: Value = serde_json::from_str(&d.docker_ok(&["volume", "inspect", "notes"])).unwrap();
    assert_eq!(notes[0]["Labels"], Value::Null);
    assert_eq!(notes[0]["Options"], Value::Null);

    let c = inspect(&d, &["user"]);
    assert_eq!(
        c["Mounts"],
        serde_json::json!([
            {"Type": "volume", "Name": "implicit", "Source": mountpoint, "Destination": "/data",
             "Driver": "local", "Mode": "ro", "RW": false, "Propagation": ""},
            {"Type": "volume", "Name": "notes",
             "Source": d.data_root().join("volumes/notes/_data"), "Destination": "/notes",
             "Driver": "local", "Mode": "z", "RW": true, "Propagation": ""},
        ])
    );
    // Binds round-trip (in the CLI's map order, which varies).
    let mut binds: Vec<&str> = c["HostConfig"]["Binds"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    binds.sort();
    assert_eq!(binds, ["implicit:/data:ro", "notes:/notes"]);
    let ps = d.docker_ok(&[
        "ps",
        "-a",
        "--filter",
        "volume=notes",
        "--format",
        "{{.Names}} {{.Mounts}}",
    ]);
    assert_eq!(ps.trim(), "user implicit,notes");

    // In use by a container that is not even running: 409 with dockerd's wording.
    let out = d.docker(&["volume", "rm", "notes"]);
    failed(&out, &format!("remove notes: volume is in use - [{id}]"));
    let out = d.docker(&["volume", "rm", "-f", "notes"]);
    failed(&out, "volume is in use");
    // rm -v does not take named volumes.
    d.docker_ok(&["rm", "-v", "user"]);
    assert_eq!(volume_names(&d, &[]), ["implicit", "notes"]);
    d.docker_ok(&["volume", "rm", "notes", "implicit"]);
    assert!(!mountpoint.exists());
    failed(
        &d.docker(&["volume", "rm", "notes"]),
        "get notes: no such volume",
    );
    d.docker_ok(&["volume", "rm", "-f", "notes"]);
    failed(
        &d.docker(&["volume", "inspect", "nope"]),
        "get nope: no such volume",
    );

    // Read events until each one expected has come (they are all sent by now, but the stream
    // delivers them asynchronously).
    let mut lines = Vec::new();
    wait_until(
        "the volume events",
        std::time::Duration::from_secs(20),
        || {
            lines.extend(rx.try_iter());
            let missing: Vec<&str> = [
                "create notes",
                "mount notes",
                "unmount notes",
                "create implicit",
                "destroy notes",
                "destroy implicit",
            ]
            .into_iter()
            .filter(|want| !lines.iter().any(|l| l == want))
            .collect();
            if missing.is_empty() {
                Ok(())
            } else {
                Err(format!("missing {missing:?} in {lines:?}"))
            }
        },
    );
    let _ = events.kill();
    let _ = events.wait();
    let _ = reader.join();
}

#[test]
fn image_content_is_copied_into_new_volumes() {
    let (d, _, layers) = started();
    // An anonymous volume for the image's VOLUME /data, filled from the image.
    d.docker_ok(&["create", "--name", "anon", &layers, "cat", "/data/seed.txt"]);
    let c = inspect(&d, &["anon"]);
    let m = &c["Mounts"][0];
    let name = m["Name"].as_str().unwrap().to_string();
    assert!(is_hex64(&name), "{m}");
    assert_eq!(m["Destination"], "/data");
    assert_eq!(m["Mode"], "");
    assert_eq!(m["RW"], true);
    let v: Value = serde_json::from_str(&d.docker_ok(&["volume", "inspect", &name])).unwrap();
    assert_eq!(
        v[0]["Labels"],
        serde_json::json!({"com.docker.volume.anonymous": ""})
    );
    assert_eq!(d.docker_ok(&["start", "-a", "anon"]), "seed\n");

    // A new named volume over image content gets it, with owners, modes and links kept.
    let out = d.docker_ok(&[
        "run",
        "--rm",
        "-v",
        "work:/work",
        &layers,
        "sh",
        "-c",
        "stat -c '%u:%g %a' /work/owned.txt; readlink /work/links/c-relative; \
         stat -c %h /work/links/a-original; cat /work/hello.txt; echo changed > /work/hello.txt",
    ]);
    assert_eq!(out, "1000:1000 640\na-original\n2\nhello from layer 2\n");
    // Copied only while empty: the change stays.
    let out = d.docker_ok(&[
        "run",
        "--rm",
        "-v",
        "work:/work",
        &layers,
        "cat",
        "/work/hello.txt",
    ]);
    assert_eq!(out, "changed\n");
    // And on the host, in the volume's _data.
    let host = d.data_root().join("volumes/work/_data/owned.txt");
    assert_eq!(std::fs::read_to_string(host).unwrap(), "owned by berth\n");
    // nocopy: the volume stays empty.
    let out = d.docker_ok(&[
        "run",
        "--rm",
        "-v",
        "bare:/data:nocopy",
        &layers,
        "ls",
        "-A",
        "/data",
    ]);
    assert_eq!(out, "");
    let out = d.docker_ok(&[
        "run",
        "--rm",
        "--mount",
        "type=volume,source=bare2,target=/data,volume-nocopy",
        &layers,
        "ls",
        "-A",
        "/data",
    ]);
    assert_eq!(out, "");
    // Binds never get image content.
    let dir = d.dir().join("bind-empty");
    std::fs::create_dir(&dir).unwrap();
    let spec = format!("{}:/data", dir.display());
    let out = d.docker_ok(&["run", "--rm", "-v", &spec, &layers, "ls", "-A", "/data"]);
    assert_eq!(out, "");
}

#[test]
fn rm_v_and_auto_remove_take_only_anonymous_volumes() {
    let (d, busybox, layers) = started();
    d.docker_ok(&[
        "run",
        "--name",
        "c1",
        "-v",
        "keepme:/k",
        "-v",
        "/scratch",
        &layers,
        "true",
    ]);
    let anon: Vec<String> = volume_names(&d, &[])
        .into_iter()
        .filter(|n| is_hex64(n))
        .collect();
    assert_eq!(anon.len(), 2, "one for /data, one for -v /scratch");
    d.docker_ok(&["rm", "-v", "c1"]);
    assert_eq!(volume_names(&d, &[]), ["keepme"]);

    // Without -v, anonymous volumes stay (dangling).
    d.docker_ok(&["run", "--name", "c2", &layers, "true"]);
    d.docker_ok(&["rm", "c2"]);
    assert_eq!(volume_names(&d, &["--filter", "dangling=true"]).len(), 2);
    d.docker_ok(&["volume", "prune", "-f"]);
    assert_eq!(volume_names(&d, &[]), ["keepme"]);

    // --rm removes the anonymous ones too, never the named.
    let out = d.docker_ok(&[
        "run",
        "--rm",
        "-v",
        "keep2:/k",
        "--mount",
        "type=volume,target=/m",
        &layers,
        "ls",
        "/data",
    ]);
    assert_eq!(out, "seed.txt\n");
    assert_eq!(volume_names(&d, &[]), ["keep2", "keepme"]);

    // An anonymous volume shared through --volumes-from survives the rm -v of the borrower.
    d.docker_ok(&[
        "create", "--name", "owner", "-v", "/shared", &busybox, "true",
    ]);
    d.docker_ok(&[
        "run",
        "--name",
        "borrower",
        "--volumes-from",
        "owner",
        &busybox,
        "touch",
        "/shared/x",
    ]);
    d.docker_ok(&["rm", "-v", "borrower"]);
    assert_eq!(volume_names(&d, &[]).len(), 3);
    d.docker_ok(&["rm", "-v", "owner"]);
    assert_eq!(volume_names(&d, &[]), ["keep2", "keepme"]);
}

#[test]
fn volume_ls_filters_create_options_and_prune() {
    let (d, busybox, _) = started();
    d.docker_ok(&[
        "volume", "create", "--label", "tier=db", "--label", "team", "pg-data",
    ]);
    d.docker_ok(&["volume", "create", "web-cache"]);
    let anon = d.docker_ok(&["volume", "create"]).trim().to_string();
    assert!(is_hex64(&anon), "{anon}");
    d.docker_ok(&[
        "create",
        "--name",
        "app",
        "-v",
        "web-cache:/c",
        &busybox,
        "true",
    ]);

    assert_eq!(
        volume_names(&d, &["--filter", "label=tier=db"]),
        ["pg-data"]
    );
    assert_eq!(volume_names(&d, &["--filter", "label=team"]), ["pg-data"]);
    assert_eq!(volume_names(&d, &["--filter", "name=cache"]), ["web-cache"]);
    assert_eq!(volume_names(&d, &["--filter", "name=^pg"]), ["pg-data"]);
    assert_eq!(volume_names(&d, &["--filter", "driver=local"]).len(), 3);
    assert_eq!(
        volume_names(&d, &["--filter", "dangling=false"]),
        ["web-cache"]
    );
    let mut dangling = vec![anon.clone(), "pg-data".to_string()];
    dangling.sort();
    assert_eq!(volume_names(&d, &["--filter", "dangling=true"]), dangling);
    failed(
        &d.docker(&["volume", "ls", "--filter", "color=red"]),
        "invalid filter 'color'",
    );
    let fmt = d.docker_ok(&[
        "volume",
        "ls",
        "--filter",
        "name=pg",
        "--format",
        "{{.Driver}} {{.Name}} {{.Labels}}",
    ]);
    assert!(fmt.trim().starts_with("local pg-data "), "{fmt}");

    let v: Value = serde_json::from_str(&d.docker_ok(&["volume", "inspect", "pg-data"])).unwrap();
    assert_eq!(
        v[0]["Labels"],
        serde_json::json!({"tier": "db", "team": ""})
    );
    assert_eq!(v[0]["Options"], Value::Null);

    // Names and drivers dockerd refuses, with its messages.
    failed(
        &d.docker(&["volume", "create", "bad/name"]),
        "create bad/name: \"bad/name\" includes invalid characters for a local volume name, only \"[a-zA-Z0-9][a-zA-Z0-9_.-]\" are allowed. If you intended to pass a host directory, use absolute path",
    );
    failed(
        &d.docker(&["run", "--rm", "-v", "bad!:/x", &busybox, "true"]),
        "includes invalid characters for a local volume name",
    );
    failed(
        &d.docker(&["volume", "create", "-d", "nfs-plugin", "x1"]),
        "create x1: error looking up volume plugin nfs-plugin: plugin \"nfs-plugin\" not found",
    );
    failed(
        &d.docker(&["volume", "create", "-o", "colour=blue", "x2"]),
        "create x2: invalid option: \"colour\"",
    );
    failed(
        &d.docker(&["volume", "create", "-o", "type=tmpfs", "x3"]),
        "missing required option: \"device\"",
    );
    assert_eq!(
        volume_names(&d, &[]).len(),
        3,
        "nothing made by the refused creates"
    );

    // Prune: anonymous unused volumes only, unless --all; never one in use.
    let out = d.docker_ok(&["volume", "prune", "-f"]);
    assert!(out.contains(&anon), "{out}");
    assert!(out.contains("Total reclaimed space"), "{out}");
    assert_eq!(volume_names(&d, &[]), ["pg-data", "web-cache"]);
    d.docker_ok(&["volume", "prune", "-f", "--filter", "label!=tier", "--all"]);
    assert_eq!(
        volume_names(&d, &[]),
        ["pg-data", "web-cache"],
        "label!= kept pg-data"
    );
    d.docker_ok(&["volume", "prune", "-f", "--all"]);
    assert_eq!(volume_names(&d, &[]), ["web-cache"], "in use by app");
    d.docker_ok(&["rm", "app"]);
    d.docker_ok(&["volume", "prune", "-af"]);
    assert!(volume_names(&d, &[]).is_empty());
}

#[test]
fn bind_mounts_share_host_files() {
    let (d, busybox, _) = started();
    let dir = d.dir().join("shared");
    std::fs::create_dir(&dir).unwrap();
    std::fs::write(dir.join("from-host.txt"), "host wrote this\n").unwrap();
    let spec = format!("{}:/mnt", dir.display());
    let out = d.docker_ok(&[
        "run",
        "--rm",
        "-v",
        &spec,
        &busybox,
        "sh",
        "-c",
        "cat /mnt/from-host.txt; echo container wrote this > /mnt/from-ctr.txt",
    ]);
    assert_eq!(out, "host wrote this\n");
    assert_eq!(
        std::fs::read_to_string(dir.join("from-ctr.txt")).unwrap(),
        "container wrote this\n"
    );
    // While a container runs, both sides see each other's edits.
    let ro = format!("{}:/ro:ro", dir.display());
    d.docker_ok(&[
        "run", "-d", "--name", "live", "-v", &spec, "-v", &ro, &busybox, "sleep", "60",
    ]);
    std::fs::write(dir.join("late.txt"), "later\n").unwrap();
    assert_eq!(
        d.docker_ok(&["exec", "live", "cat", "/mnt/late.txt"]),
        "later\n"
    );
    let out = d.docker(&["exec", "live", "touch", "/ro/nope"]);
    failed(&out, "Read-only file system");
    assert!(!dir.join("nope").exists());
    let c = inspect(&d, &["live"]);
    assert_eq!(
        c["Mounts"],
        serde_json::json!([
            {"Type": "bind", "Source": dir, "Destination": "/mnt", "Mode": "", "RW": true,
             "Propagation": "rprivate"},
            {"Type": "bind", "Source": dir, "Destination": "/ro", "Mode": "ro", "RW": false,
             "Propagation": "rprivate"},
        ])
    );
    d.docker_ok(&["rm", "-f", "live"]);
    assert!(
        dir.join("late.txt").exists(),
        "rm -f leaves bind sources alone"
    );

    // -v creates a missing host directory, like dockerd.
    let missing = d.dir().join("made/by/run");
    let spec = format!("{}:/m", missing.display());
    d.docker_ok(&["run", "--rm", "-v", &spec, &busybox, "touch", "/m/x"]);
    assert!(missing.join("x").is_file());

    // --mount refuses a missing source and leaves no container behind.
    let gone = d.dir().join("absent");
    let m = format!("type=bind,source={},target=/x", gone.display());
    let out = d.docker(&["run", "--name", "never", "--mount", &m, &busybox, "true"]);
    failed(
        &out,
        &format!(
            "invalid mount config for type \"bind\": bind source path does not exist: {}",
            gone.display()
        ),
    );
    assert_eq!(d.docker_ok(&["ps", "-aq"]), "");
    assert!(!gone.exists());
    let m = format!(
        "type=bind,source={},target=/x,readonly,bind-propagation=rslave",
        dir.display()
    );
    d.docker_ok(&[
        "create",
        "--name",
        "viamount",
        "--mount",
        &m,
        &busybox,
        "cat",
        "/x/from-host.txt",
    ]);
    let c = inspect(&d, &["viamount"]);
    assert_eq!(c["Mounts"][0]["Propagation"], "rslave");
    assert_eq!(c["Mounts"][0]["RW"], false);
    assert_eq!(
        c["HostConfig"]["Mounts"][0]["BindOptions"]["Propagation"],
        "rslave"
    );
    assert_eq!(c["HostConfig"]["Mounts"][0]["ReadOnly"], true);
    assert_eq!(
        d.docker_ok(&["start", "-a", "viamount"]),
        "host wrote this\n"
    );

    // Mistakes dockerd refuses.
    let a = format!("{}:/same", dir.display());
    failed(
        &d.docker(&["run", "--rm", "-v", &a, "-v", "vol:/same", &busybox, "true"]),
        "Duplicate mount point: /same",
    );
    failed(
        &d.docker(&["run", "--rm", "-v", "vol:relative", &busybox, "true"]),
        "mount path must be absolute",
    );
    assert!(
        volume_names(&d, &[]).is_empty(),
        "no volume made for refused containers"
    );
}

#[test]
fn tmpfs_mounts_have_their_size() {
    let (d, busybox, _) = started();
    let out = d.docker_ok(&[
        "run",
        "--rm",
        "--tmpfs",
        "/scratch:size=1m,mode=1770",
        "--mount",
        "type=tmpfs,target=/fast,tmpfs-size=2097152,tmpfs-mode=0700",
        &busybox,
        "sh",
        "-c",
        "grep -E ' /(scratch|fast) ' /proc/mounts; stat -c %a /scratch /fast; echo hi > /fast/x && cat /fast/x",
    ]);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 5, "{out}");
    let scratch = lines.iter().find(|l| l.contains(" /scratch ")).unwrap();
    assert!(scratch.starts_with("tmpfs /scratch tmpfs "), "{scratch}");
    assert!(scratch.contains("size=1024k"), "{scratch}");
    assert!(
        scratch.contains("nosuid") && scratch.contains("noexec"),
        "{scratch}"
    );
    let fast = lines.iter().find(|l| l.contains(" /fast ")).unwrap();
    assert!(fast.contains("size=2048k"), "{fast}");
    assert_eq!(&lines[2..], ["1770", "700", "hi"]);

    d.docker_ok(&[
        "create",
        "--name",
        "tt",
        "--tmpfs",
        "/a",
        "--mount",
        "type=tmpfs,destination=/b",
        &busybox,
        "true",
    ]);
    let c = inspect(&d, &["tt"]);
    // --tmpfs is not a mount point in dockerd's inspect; --mount type=tmpfs is.
    assert_eq!(
        c["Mounts"],
        serde_json::json!([{"Type": "tmpfs", "Source": "", "Destination": "/b", "Mode": "",
                            "RW": true, "Propagation": ""}])
    );
    assert_eq!(c["HostConfig"]["Tmpfs"], serde_json::json!({"/a": ""}));
    failed(
        &d.docker(&[
            // (A one-letter name would read as a Windows drive to the CLI.)
            "run", "--rm", "--tmpfs", "/a", "-v", "vx:/a", &busybox, "true",
        ]),
        "Duplicate mount point: /a",
    );
}

#[test]
fn volumes_from_and_read_only_rootfs() {
    let (d, busybox, _) = started();
    let dir = d.dir().join("src-bind");
    std::fs::create_dir(&dir).unwrap();
    let bind = format!("{}:/b", dir.display());
    d.docker_ok(&[
        "run",
        "--name",
        "src",
        "-v",
        "data:/data",
        "-v",
        &bind,
        &busybox,
        "sh",
        "-c",
        "echo from-src > /data/f",
    ]);
    let out = d.docker_ok(&[
        "run",
        "--rm",
        "--volumes-from",
        "src",
        &busybox,
        "sh",
        "-c",
        "cat /data/f; echo more >> /data/f; echo b > /b/x",
    ]);
    assert_eq!(out, "from-src\n");
    assert_eq!(std::fs::read_to_string(dir.join("x")).unwrap(), "b\n");
    d.docker_ok(&[
        "create",
        "--name",
        "reader",
        "--volumes-from",
        "src:ro",
        &busybox,
        "sh",
        "-c",
        "cat /data/f; touch /data/g",
    ]);
    let out = d.docker(&["start", "-a", "reader"]);
    assert_eq!(out.stdout, "from-src\nmore\n", "{out}");
    assert!(out.stderr.contains("Read-only file system"), "{out}");
    let c = inspect(&d, &["reader"]);
    let mounts = c["Mounts"].as_array().unwrap();
    assert_eq!(mounts.len(), 2);
    assert!(
        mounts.iter().all(|m| m["RW"] == false && m["Mode"] == ""),
        "{mounts:?}"
    );
    failed(
        &d.docker(&["run", "--rm", "--volumes-from", "nosuch", &busybox, "true"]),
        "No such container: nosuch",
    );
    // The volume is in use by all three.
    failed(&d.docker(&["volume", "rm", "data"]), "volume is in use");

    // --read-only: the rootfs refuses writes, volumes and tmpfs take them.
    let out = d.docker(&["run", "--rm", "--read-only", &busybox, "touch", "/x"]);
    failed(&out, "Read-only file system");
    let out = d.docker_ok(&[
        "run",
        "--rm",
        "--read-only",
        "-v",
        "data:/data",
        "--tmpfs",
        "/tmp",
        &busybox,
        "sh",
        "-c",
        "echo ok > /data/ro-test && echo ok > /tmp/t && cat /data/ro-test /tmp/t",
    ]);
    assert_eq!(out, "ok\nok\n");
}

#[test]
fn local_driver_bind_and_tmpfs_volumes() {
    let (d, busybox, _) = started();
    let dir = d.dir().join("device-dir");
    std::fs::create_dir(&dir).unwrap();
    std::fs::write(dir.join("already.txt"), "there\n").unwrap();
    let device = format!("device={}", dir.display());
    d.docker_ok(&[
        "volume",
        "create",
        "-o",
        "type=none",
        "-o",
        "o=bind",
        "-o",
        &device,
        "hostdir",
    ]);
    let v: Value = serde_json::from_str(&d.docker_ok(&["volume", "inspect", "hostdir"])).unwrap();
    assert_eq!(
        v[0]["Options"],
        serde_json::json!({"type": "none", "o": "bind", "device": dir})
    );
    let out = d.docker_ok(&[
        "run",
        "--rm",
        "-v",
        "hostdir:/v",
        &busybox,
        "sh",
        "-c",
        "cat /v/already.txt; echo via-volume > /v/new.txt",
    ]);
    assert_eq!(out, "there\n");
    assert_eq!(
        std::fs::read_to_string(dir.join("new.txt")).unwrap(),
        "via-volume\n"
    );
    // Unmounted again once no container uses it: _data is an empty directory.
    let data = d.data_root().join("volumes/hostdir/_data");
    assert_eq!(std::fs::read_dir(&data).unwrap().count(), 0);
    d.docker_ok(&["volume", "rm", "hostdir"]);
    assert!(
        dir.join("new.txt").exists(),
        "removing the volume keeps the device's files"
    );

    d.docker_ok(&[
        "volume",
        "create",
        "--driver",
        "local",
        "--opt",
        "type=tmpfs",
        "--opt",
        "device=tmpfs",
        "--opt",
        "o=size=1m,uid=1000",
        "ram",
    ]);
    let out = d.docker_ok(&[
        "run",
        "--rm",
        "-v",
        "ram:/ram",
        &busybox,
        "sh",
        "-c",
        "grep ' /ram ' /proc/mounts; stat -c %u /ram",
    ]);
    assert!(out.starts_with("tmpfs /ram tmpfs "), "{out}");
    assert!(out.contains("size=1024k"), "{out}");
    assert!(out.ends_with("1000\n"), "{out}");
    // A device that does not exist fails the start, not the create.
    let bad = format!("device={}", d.dir().join("no-such-dir").display());
    d.docker_ok(&[
        "volume",
        "create",
        "-o",
        "type=none",
        "-o",
        "o=bind",
        "-o",
        &bad,
        "broken",
    ]);
    let out = d.docker(&["run", "--rm", "-v", "broken:/b", &busybox, "true"]);
    failed(&out, "failed to mount local volume");
}

#[test]
fn volumes_survive_a_killed_engine() {
    let (mut d, busybox, _) = started();
    d.docker_ok(&["volume", "create", "--label", "keep=yes", "durable"]);
    d.docker_ok(&[
        "run",
        "--name",
        "writer",
        "-v",
        "durable:/d",
        &busybox,
        "sh",
        "-c",
        "echo persisted > /d/f",
    ]);
    let before = d.docker_ok(&["volume", "inspect", "durable"]);
    // A running container keeps its tmpfs volume across the crash, and shares it afterwards.
    d.docker_ok(&[
        "volume",
        "create",
        "-o",
        "type=tmpfs",
        "-o",
        "device=tmpfs",
        "-o",
        "o=size=1m",
        "ram",
    ]);
    d.docker_ok(&[
        "run",
        "-d",
        "--name",
        "live",
        "-v",
        "ram:/r",
        &busybox,
        "sh",
        "-c",
        "echo in-memory > /r/f; sleep 600",
    ]);
    wait_until(
        "the container to write /r/f",
        std::time::Duration::from_secs(10),
        || {
            let out = d.docker(&["exec", "live", "cat", "/r/f"]);
            if out.success() {
                Ok(())
            } else {
                Err(out.to_string())
            }
        },
    );
    d.kill9();
    d.restart();
    let out = d.docker_ok(&["run", "--rm", "-v", "ram:/r", &busybox, "cat", "/r/f"]);
    assert_eq!(out, "in-memory\n");
    d.docker_ok(&["rm", "-f", "live"]);
    let ram = d.data_root().join("volumes/ram/_data");
    assert_eq!(
        std::fs::read_dir(&ram).unwrap().count(),
        0,
        "unmounted by its last user"
    );
    assert_eq!(d.docker_ok(&["volume", "inspect", "durable"]), before);
    let out = d.docker_ok(&["run", "--rm", "-v", "durable:/d", &busybox, "cat", "/d/f"]);
    assert_eq!(out, "persisted\n");
    // References are rebuilt from the containers: still in use by `writer`.
    failed(&d.docker(&["volume", "rm", "durable"]), "volume is in use");
    d.docker_ok(&["rm", "writer"]);
    d.docker_ok(&["volume", "rm", "durable"]);
    assert!(!Path::new(&d.data_root().join("volumes/durable")).exists());
}

#[test]
fn volume_subpath_mounts_part_of_a_volume_and_stays_inside_it() {
    let (d, busybox, _) = started();
    d.docker_ok(&["volume", "create", "shared"]);
    // Fill the volume: a directory, and a symlink a container planted that points out of it.
    d.docker_ok(&[
        "run",
        "--rm",
        "-v",
        "shared:/v",
        &busybox,
        "sh",
        "-c",
        "mkdir -p /v/site && echo inside > /v/site/page && ln -s /etc /v/escape",
    ]);
    let page = d.docker_ok(&[
        "run",
        "--rm",
        "--mount",
        "type=volume,src=shared,dst=/data,volume-subpath=site",
        &busybox,
        "cat",
        "/data/page",
    ]);
    assert_eq!(page, "inside\n");
    // The symlink resolves inside the volume (where no /etc exists), never to the host's /etc.
    let out = d.docker(&[
        "run",
        "--rm",
        "--mount",
        "type=volume,src=shared,dst=/data,volume-subpath=escape",
        &busybox,
        "ls",
        "/data",
    ]);
    failed(&out, "cannot access path");
    let out = d.docker(&[
        "run",
        "--rm",
        "--mount",
        "type=volume,src=shared,dst=/data,volume-subpath=../x",
        &busybox,
        "true",
    ]);
    failed(&out, "subpath must be a relative path within the volume");
    let out = d.docker(&[
        "run",
        "--rm",
        "--mount",
        "type=volume,dst=/data,volume-subpath=site",
        &busybox,
        "true",
    ]);
    failed(&out, "must not set Subpath when using anonymous volumes");
}
