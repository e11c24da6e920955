//! The container file API through the docker CLI: `docker cp` both ways on running and stopped
//! containers (and what it must never reach), `docker diff`, `export`, `commit` and `import`.

use std::os::unix::fs::{symlink, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use berth_tests::*;

fn started() -> (Berthd, String) {
    engine_with_busybox()
}

/// A host tree with a subdir, a symlink, odd modes and owners.
fn host_tree(root: &Path) -> PathBuf {
    let src = root.join("src");
    std::fs::create_dir_all(src.join("sub")).unwrap();
    std::fs::write(src.join("a.txt"), "alpha\n").unwrap();
    std::fs::write(src.join("sub/b.txt"), "beta\n").unwrap();
    std::fs::write(src.join("sub/suid"), "#!/bin/sh\n").unwrap();
    std::os::unix::fs::lchown(src.join("a.txt"), Some(1234), Some(5678)).unwrap();
    std::fs::set_permissions(src.join("a.txt"), std::fs::Permissions::from_mode(0o640)).unwrap();
    std::fs::set_permissions(
        src.join("sub/suid"),
        std::fs::Permissions::from_mode(0o4755),
    )
    .unwrap();
    std::fs::set_permissions(src.join("sub"), std::fs::Permissions::from_mode(0o750)).unwrap();
    symlink("sub/b.txt", src.join("link")).unwrap();
    src
}

/// Modes, owners and link targets of a tree, as `docker exec ... stat` prints them in a container.
const STAT_SCRIPT: &str = "cd \"$1\" && for f in a.txt sub sub/b.txt sub/suid link; do \
     echo \"$f $(stat -c '%a %u:%g %F' $f) $(readlink $f) $(cat $f 2>/dev/null | head -1)\"; done";

fn expected_stat(owner_a: &str) -> String {
    [
        format!("a.txt 640 {owner_a} regular file  alpha"),
        "sub 750 0:0 directory  ".to_string(),
        "sub/b.txt 644 0:0 regular file  beta".to_string(),
        "sub/suid 4755 0:0 regular file  #!/bin/sh".to_string(),
        "link 777 0:0 symbolic link sub/b.txt beta".to_string(),
    ]
    .join("\n")
        + "\n"
}

fn check_host_copy(dir: &Path) {
    assert_eq!(
        std::fs::read_to_string(dir.join("a.txt")).unwrap(),
        "alpha\n"
    );
    assert_eq!(
        std::fs::read_to_string(dir.join("sub/b.txt")).unwrap(),
        "beta\n"
    );
    let mode = |p: &str| std::fs::symlink_metadata(dir.join(p)).unwrap().mode() & 0o7777;
    assert_eq!(mode("a.txt"), 0o640);
    assert_eq!(mode("sub"), 0o750);
    assert_eq!(mode("sub/suid"), 0o4755);
    assert_eq!(
        std::fs::read_link(dir.join("link")).unwrap(),
        PathBuf::from("sub/b.txt")
    );
}

fn mounts_of(d: &Berthd) -> Vec<String> {
    let root = d.data_root().display().to_string();
    std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap()
        .lines()
        .filter(|l| l.contains(&root))
        .map(str::to_string)
        .collect()
}

#[test]
fn cp_round_trips_on_running_and_stopped_containers() {
    let (d, img) = started();
    let src = host_tree(d.dir());

    // Running container.
    d.docker_ok(&["run", "-d", "--name", "run", &img, "sleep", "1000"]);
    d.docker_ok(&["cp", src.to_str().unwrap(), "run:/tmp/"]);
    let got = d.docker_ok(&["exec", "run", "sh", "-c", STAT_SCRIPT, "sh", "/tmp/src"]);
    // Owners come from the archive, as with dockerd (the host's 1234:5678 on a.txt).
    assert_eq!(got, expected_stat("1234:5678"));
    let back = d.dir().join("back-running");
    d.docker_ok(&["cp", "run:/tmp/src", back.to_str().unwrap()]);
    check_host_copy(&back);

    // Copying a file onto a new name and reading it back through a stdout tar.
    d.docker_ok(&[
        "cp",
        src.join("a.txt").to_str().unwrap(),
        "run:/renamed.txt",
    ]);
    let out = d
        .docker_command(&["cp", "run:/renamed.txt", "-"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let mut tar = tar::Archive::new(&out.stdout[..]);
    let entries: Vec<(String, u32, u64, u64)> = tar
        .entries()
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            let h = e.header();
            (
                e.path().unwrap().display().to_string(),
                h.mode().unwrap(),
                h.uid().unwrap(),
                h.gid().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        entries,
        vec![("renamed.txt".to_string(), 0o640, 1234, 5678)]
    );

    // -a gives the files to the container's user when it has one.
    d.docker_ok(&[
        "run", "-d", "--name", "user", "-u", "berth", &img, "sleep", "1000",
    ]);
    d.docker_ok(&["cp", "-a", src.to_str().unwrap(), "user:/tmp/"]);
    let owners = d.docker_ok(&[
        "exec",
        "user",
        "stat",
        "-c",
        "%u:%g",
        "/tmp/src/a.txt",
        "/tmp/src/sub",
    ]);
    assert_eq!(owners, "1000:1000\n1000:1000\n");

    // A created (never started) container: its rootfs is mounted for the copy, then unmounted.
    d.docker_ok(&[
        "create",
        "--name",
        "created",
        &img,
        "cat",
        "/hello.txt",
        "/tmp/src/sub/b.txt",
    ]);
    let hello = d.dir().join("hello.txt");
    std::fs::write(&hello, "hello from the host\n").unwrap();
    d.docker_ok(&["cp", hello.to_str().unwrap(), "created:/hello.txt"]);
    d.docker_ok(&["cp", src.to_str().unwrap(), "created:/tmp"]);
    let back = d.dir().join("back-created");
    d.docker_ok(&["cp", "created:/tmp/src", back.to_str().unwrap()]);
    check_host_copy(&back);
    let id = d.docker_ok(&["inspect", "-f", "{{.Id}}", "created"]);
    let rootfs = format!("containers/{}/rootfs", id.trim());
    assert!(
        !mounts_of(&d).iter().any(|m| m.contains(&rootfs)),
        "temporary mount left: {:?}",
        mounts_of(&d)
    );
    let out = d.docker_ok(&["start", "-a", "created"]);
    assert_eq!(out, "hello from the host\nbeta\n");

    // An exited container.
    d.docker_ok(&[
        "run",
        "--name",
        "exited",
        &img,
        "sh",
        "-c",
        "echo bye > /bye.txt",
    ]);
    let out = d
        .docker_command(&["cp", "exited:/bye.txt", "-"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let mut tar = tar::Archive::new(&out.stdout[..]);
    let mut e = tar.entries().unwrap().next().unwrap().unwrap();
    let mut s = String::new();
    std::io::Read::read_to_string(&mut e, &mut s).unwrap();
    assert_eq!(s, "bye\n");
    d.docker_ok(&["cp", hello.to_str().unwrap(), "exited:/bye.txt"]);
    let out = d.docker_ok(&["start", "-a", "exited"]);
    assert_eq!(out, "");
    let back = d.dir().join("bye-back");
    d.docker_ok(&["cp", "exited:/bye.txt", back.to_str().unwrap()]);
    assert_eq!(std::fs::read_to_string(&back).unwrap(), "bye\n");

    // Errors: a missing path, a file as the extraction point of a stream.
    let out = d.docker(&[
        "cp",
        "run:/no/such/file",
        d.dir().join("x").to_str().unwrap(),
    ]);
    assert_ne!(out.status, 0);
    assert!(
        out.stderr
            .contains("Could not find the file /no/such/file in container run")
            || out
                .stderr
                .contains("No such container:path: run:/no/such/file"),
        "{out}"
    );
    let out = d.docker_with_stdin(&["cp", "-", "run:/etc/passwd"], "");
    assert_ne!(out.status, 0);
    assert!(out.stderr.contains("must be a directory"), "{out}");
    let out = d.docker(&["cp", hello.to_str().unwrap(), "nosuch:/tmp"]);
    assert!(out.stderr.contains("No such container"), "{out}");
}

fn tar_with_raw_names(entries: &[(&str, tar::EntryType, &str)]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (name, kind, link) in entries {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(*kind);
        h.set_mode(0o644);
        h.set_uid(0);
        h.set_gid(0);
        h.set_mtime(1_700_000_000);
        let data: &[u8] = if *kind == tar::EntryType::Regular {
            b"pwned\n"
        } else {
            b""
        };
        h.set_size(data.len() as u64);
        h.as_old_mut().name[..name.len()].copy_from_slice(name.as_bytes());
        h.as_old_mut().linkname[..link.len()].copy_from_slice(link.as_bytes());
        h.set_cksum();
        b.append(&h, data).unwrap();
    }
    b.into_inner().unwrap()
}

/// Every file under `dir` (recursively), with its content, to compare before and after.
fn snapshot_tree(dir: &Path, skip: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(p) = stack.pop() {
        if p.starts_with(skip) {
            continue;
        }
        let Ok(rd) = std::fs::read_dir(&p) else {
            continue;
        };
        for e in rd.flatten() {
            let path = e.path();
            let Ok(m) = std::fs::symlink_metadata(&path) else {
                continue;
            };
            if m.is_dir() {
                stack.push(path);
            } else if m.is_file() {
                out.push((path.clone(), std::fs::read(&path).unwrap_or_default()));
            }
        }
    }
    out.sort();
    out
}

#[test]
fn cp_never_leaves_the_container_root() {
    let (d, img) = started();
    // A sentinel beside the data root, and its path as the container would have to name it.
    let sentinel = d.dir().join("sentinel");
    std::fs::write(&sentinel, "host secret\n").unwrap();
    let host_dir = d.dir().display().to_string();
    let rel_from_root = host_dir.trim_start_matches('/');
    let before = snapshot_tree(d.dir(), &d.data_root());

    d.docker_ok(&["run", "-d", "--name", "victim", &img, "sleep", "1000"]);
    let setup = format!(
        "ln -s / /rootlink && ln -s ../../../../../../../.. /tmp/up && ln -s {host_dir} /hostlink \
         && mkdir -p /dst && ln -s {host_dir}/sentinel /dst/sentinel-link"
    );
    d.docker_ok(&["exec", "victim", "sh", "-c", &setup]);
    d.docker_ok(&["stop", "-t", "0", "victim"]);
    d.docker_ok(&["start", "victim"]);

    let out_dir = d.dir().join("out");
    std::fs::create_dir_all(&out_dir).unwrap();
    let to = out_dir.join("got");
    // Reads: every way of naming the sentinel from inside finds nothing.
    for p in [
        "../../../../../../../../sentinel".to_string(),
        format!("/../../../../../../..{host_dir}/sentinel"),
        format!("/tmp/up/{rel_from_root}/sentinel"),
        format!("/rootlink/../../{rel_from_root}/sentinel"),
        "/hostlink/sentinel".to_string(),
        "/dst/sentinel-link/".to_string(),
    ] {
        let out = d.docker(&["cp", &format!("victim:{p}"), to.to_str().unwrap()]);
        assert_ne!(out.status, 0, "{p}: {out}");
        assert!(!to.exists(), "{p} was read from the host");
    }
    // Following a symlink to an absolute host path reads the container's own file.
    d.docker_ok(&[
        "exec",
        "victim",
        "sh",
        "-c",
        &format!("mkdir -p {host_dir} && echo decoy > {host_dir}/sentinel"),
    ]);
    d.docker_ok(&[
        "cp",
        "-L",
        "victim:/dst/sentinel-link",
        to.to_str().unwrap(),
    ]);
    assert_eq!(std::fs::read_to_string(&to).unwrap(), "decoy\n");
    std::fs::remove_file(&to).unwrap();

    // Writes: through the same links, and with hostile tar entries.
    let payload = d.dir().join("pwned");
    std::fs::write(&payload, "pwned\n").unwrap();
    for dst in [
        "/hostlink".to_string(),
        "/tmp/up/".to_string(),
        format!("/tmp/up/{rel_from_root}"),
        "/rootlink/../../..".to_string(),
    ] {
        let _ = d.docker(&["cp", payload.to_str().unwrap(), &format!("victim:{dst}")]);
    }
    // Each hostile entry alone, so each is refused on its own merits.
    let dotdot = format!("../../../../../../../..{host_dir}/pwned-dotdot");
    let hard_target = format!("../../../../../../..{host_dir}/sentinel");
    let evil: Vec<Vec<u8>> = vec![
        tar_with_raw_names(&[(&dotdot, tar::EntryType::Regular, "")]),
        tar_with_raw_names(&[("out-link", tar::EntryType::Symlink, "../../../../../../..")]),
        tar_with_raw_names(&[("hard", tar::EntryType::Link, &hard_target)]),
    ];
    for t in &evil {
        let out = d.docker_with_stdin(&["cp", "-", "victim:/tmp"], t);
        assert_ne!(out.status, 0, "{out}");
        assert!(
            out.stderr.contains("outside of")
                || out.stderr.contains("invalid symlink")
                || out.stderr.contains("invalid hardlink"),
            "{out}"
        );
    }
    // Through a symlinked parent planted in the container.
    let via_link = tar_with_raw_names(&[(
        &format!("up/{rel_from_root}/pwned-via-link"),
        tar::EntryType::Regular,
        "",
    )]);
    let _ = d.docker_with_stdin(&["cp", "-", "victim:/tmp"], via_link);
    let via_abs = tar_with_raw_names(&[(
        &format!("rootlink/{rel_from_root}/pwned-via-abs"),
        tar::EntryType::Regular,
        "",
    )]);
    d.docker_with_stdin(&["cp", "-", "victim:/"], via_abs);
    // What landed, landed in the container.
    let inside = d.docker_ok(&[
        "exec",
        "victim",
        "cat",
        &format!("{host_dir}/pwned-via-abs"),
    ]);
    assert_eq!(inside, "pwned\n");

    // A working directory through the same link is made in the container, not on the host.
    d.docker_ok(&["commit", "victim", "escape:img"]);
    d.docker_ok(&[
        "run",
        "--rm",
        "-w",
        "/hostlink/wd-created",
        "escape:img",
        "true",
    ]);
    assert!(
        !d.dir().join("wd-created").exists(),
        "working dir made on the host"
    );

    // Stopped container too (its rootfs is mounted by us for the copy).
    d.docker_ok(&["stop", "-t", "0", "victim"]);
    // The link's target exists in the container now (the decoy): that is what is read.
    d.docker_ok(&["cp", "victim:/hostlink/sentinel", to.to_str().unwrap()]);
    assert_eq!(std::fs::read_to_string(&to).unwrap(), "decoy\n");
    std::fs::remove_file(&to).unwrap();
    let _ = d.docker(&["cp", payload.to_str().unwrap(), "victim:/hostlink/"]);
    for t in &evil {
        let out = d.docker_with_stdin(&["cp", "-", "victim:/tmp"], t);
        assert_ne!(out.status, 0, "{out}");
    }

    std::fs::remove_file(&payload).unwrap();
    let _ = std::fs::remove_dir_all(&out_dir);
    let after = snapshot_tree(d.dir(), &d.data_root());
    let changed: Vec<_> = after
        .iter()
        .filter(|(p, _)| !p.ends_with("berthd.log") && !p.starts_with(d.docker_config_dir()))
        .filter(|e| !before.contains(e))
        .map(|(p, _)| p.clone())
        .collect();
    assert!(changed.is_empty(), "host files written: {changed:?}");
    assert_eq!(std::fs::read_to_string(&sentinel).unwrap(), "host secret\n");
    assert_eq!(std::fs::metadata(&sentinel).unwrap().nlink(), 1);
}

#[test]
fn diff_export_commit_import() {
    let (d, img) = started();
    d.docker_ok(&[
        "run",
        "--name",
        "changed",
        &img,
        "sh",
        "-c",
        "echo committed > /hello && mkdir -p /newdir/sub && echo more >> /etc/passwd && rm /bin/vi",
    ]);
    let diff = d.docker_ok(&["diff", "changed"]);
    assert_eq!(
        diff, "C /bin\nD /bin/vi\nC /etc\nC /etc/passwd\nA /hello\nA /newdir\nA /newdir/sub\n",
        "mount points runc made (/proc, /etc/hosts, ...) are not changes"
    );

    // export: the whole merged rootfs as a tar, streamed.
    let out = d.docker_command(&["export", "changed"]).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut names = Vec::new();
    let mut hello = String::new();
    for e in tar::Archive::new(&out.stdout[..]).entries().unwrap() {
        let mut e = e.unwrap();
        let name = e.path().unwrap().display().to_string();
        if name == "hello" {
            std::io::Read::read_to_string(&mut e, &mut hello).unwrap();
        }
        names.push(name);
    }
    for want in [
        "bin/busybox",
        "bin/sh",
        "etc/passwd",
        "hello",
        "newdir/sub",
        "tmp",
    ] {
        assert!(
            names.iter().any(|n| n.trim_end_matches('/') == want),
            "{want} missing"
        );
    }
    assert!(
        !names.iter().any(|n| n == "bin/vi"),
        "deleted file exported"
    );
    assert_eq!(hello, "committed\n");
    let export = d.dir().join("export.tar");
    std::fs::write(&export, &out.stdout).unwrap();

    // commit with changes; the image runs, shows its history, saves and loads.
    let id = d.docker_ok(&[
        "commit",
        "--change",
        r#"CMD ["cat","/hello"]"#,
        "--change",
        "ENV X=1",
        "-m",
        "a message",
        "-a",
        "Tester <t@example.com>",
        "changed",
        "committed:v1",
    ]);
    assert!(id.trim().starts_with("sha256:"), "{id}");
    // dockerd records the container's image as the committed image's parent.
    assert_eq!(
        d.inspect_format("committed:v1", "{{.Parent}}"),
        d.inspect_format(&img, "{{.Id}}")
    );
    assert_eq!(d.docker_ok(&["run", "--rm", "committed:v1"]), "committed\n");
    assert_eq!(
        d.docker_ok(&[
            "run",
            "--rm",
            "committed:v1",
            "sh",
            "-c",
            "echo $X; test -e /bin/vi || echo no-vi; tail -1 /etc/passwd"
        ]),
        "1\nno-vi\nmore\n"
    );
    let images = d.docker_ok(&["images", "--format", "{{.Repository}}:{{.Tag}}"]);
    assert!(images.lines().any(|l| l == "committed:v1"), "{images}");
    let inspect = d.docker_ok(&[
        "image",
        "inspect",
        "-f",
        "{{json .Config.Cmd}} {{.Author}} {{.Comment}} {{len .RootFS.Layers}}",
        "committed:v1",
    ]);
    assert_eq!(
        inspect.trim(),
        r#"["cat","/hello"] Tester <t@example.com> a message 2"#
    );
    let history = d.docker_ok(&[
        "history",
        "--no-trunc",
        "--format",
        "{{.CreatedBy}}|{{.Comment}}",
        "committed:v1",
    ]);
    let first = history.lines().next().unwrap_or_default();
    assert!(first.starts_with("sh -c echo committed"), "{history}");
    assert!(first.ends_with("|a message"), "{history}");
    // An unchanged container commits to an empty layer: no new layer, an empty_layer entry.
    d.docker_ok(&["create", "--name", "pristine", &img]);
    d.docker_ok(&["commit", "pristine", "pristine:same"]);
    let layers = d.docker_ok(&[
        "image",
        "inspect",
        "-f",
        "{{len .RootFS.Layers}}",
        "pristine:same",
    ]);
    assert_eq!(layers.trim(), "1");
    // A running container is committed (paused meanwhile) and keeps running.
    d.docker_ok(&[
        "run",
        "-d",
        "--name",
        "live",
        &img,
        "sh",
        "-c",
        "echo live > /live; sleep 1000",
    ]);
    wait_until(
        "the container to write /live",
        std::time::Duration::from_secs(10),
        || {
            let out = d.docker(&["exec", "live", "cat", "/live"]);
            if out.stdout == "live\n" {
                Ok(())
            } else {
                Err(out.to_string())
            }
        },
    );
    d.docker_ok(&["commit", "live", "live:snap"]);
    assert_eq!(
        d.docker_ok(&["inspect", "-f", "{{.State.Status}}", "live"])
            .trim(),
        "running"
    );
    assert_eq!(
        d.docker_ok(&["run", "--rm", "live:snap", "cat", "/live"]),
        "live\n"
    );
    // Saved and loaded back elsewhere, it still runs.
    let saved = d.dir().join("committed.tar");
    d.docker_ok(&["save", "-o", saved.to_str().unwrap(), "committed:v1"]);
    d.docker_ok(&["rmi", "-f", "committed:v1"]);
    d.docker_ok(&["load", "-i", saved.to_str().unwrap()]);
    assert_eq!(d.docker_ok(&["run", "--rm", "committed:v1"]), "committed\n");
    let out = d.docker(&["commit", "--change", "RUN echo", "changed"]);
    assert!(
        out.stderr.contains("run is not a valid change command"),
        "{out}"
    );

    // import of the export, with changes, plain and gzip.
    let out = d.docker(&[
        "import",
        "--change",
        "CMD cat /hello",
        "--change",
        "ENV Y=2",
        "-m",
        "imported",
        export.to_str().unwrap(),
        "imported:v1",
    ]);
    assert!(out.success(), "{out}");
    assert!(out.stdout.trim().starts_with("sha256:"), "{out}");
    assert_eq!(d.docker_ok(&["run", "--rm", "imported:v1"]), "committed\n");
    assert_eq!(
        d.docker_ok(&["run", "--rm", "imported:v1", "sh", "-c", "echo $Y"]),
        "2\n"
    );
    let h = d.docker_ok(&["history", "--format", "{{.Comment}}", "imported:v1"]);
    assert_eq!(h.trim(), "imported");
    let gz = d.dir().join("export.tar.gz");
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    std::io::Write::write_all(&mut enc, &std::fs::read(&export).unwrap()).unwrap();
    std::fs::write(&gz, enc.finish().unwrap()).unwrap();
    let data = std::fs::read(&gz).unwrap();
    let out = d.docker_with_stdin(&["import", "-", "imported:gz"], data);
    assert!(out.success(), "{out}");
    assert_eq!(
        d.docker_ok(&["run", "--rm", "imported:gz", "cat", "/hello"]),
        "committed\n"
    );
    let out = d.docker(&["import", "http://example.com/rootfs.tar"]);
    assert!(!out.success());
    assert!(out.stderr.contains("not supported"), "{out}");
}

#[test]
fn cp_goes_through_volumes_and_binds() {
    let (d, img) = started();
    let bind = d.dir().join("bindsrc");
    std::fs::create_dir_all(&bind).unwrap();
    let file = d.dir().join("note.txt");
    std::fs::write(&file, "in-the-volume\n").unwrap();
    let bind_arg = format!("{}:/b", bind.display());
    // Never started: no OCI spec yet, the record's mounts route the copy.
    d.docker_ok(&[
        "create",
        "--name",
        "fresh",
        "-v",
        "cpvol:/data",
        "-v",
        &bind_arg,
        &img,
        "true",
    ]);
    d.docker_ok(&["cp", file.to_str().unwrap(), "fresh:/data/"]);
    d.docker_ok(&["cp", file.to_str().unwrap(), "fresh:/b/"]);
    assert_eq!(
        std::fs::read_to_string(bind.join("note.txt")).unwrap(),
        "in-the-volume\n"
    );
    let out = d.docker_ok(&[
        "run",
        "--rm",
        "-v",
        "cpvol:/data",
        &img,
        "cat",
        "/data/note.txt",
    ]);
    assert_eq!(out, "in-the-volume\n");
    // Running: the same paths, read back out.
    d.docker_ok(&[
        "run",
        "-d",
        "--name",
        "live",
        "-v",
        "cpvol:/data",
        &img,
        "sleep",
        "60",
    ]);
    let out = d.docker_ok(&["cp", "live:/data/note.txt", "-"]);
    assert!(out.contains("in-the-volume"), "{out}");
    d.docker_ok(&["rm", "-f", "live", "fresh"]);
}
