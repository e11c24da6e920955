//! `docker build` with the classic builder (`DOCKER_BUILDKIT=0`, the `POST /build` API) against
//! berthd: instructions, the layer cache, multi-stage builds, `.dockerignore`, build args and
//! the errors of bad input. Base images come from the fixture registry's busybox.

use std::path::{Path, PathBuf};

use berth_tests::*;

/// `docker build ARGS` with the classic builder.
fn build(d: &Berthd, args: &[&str]) -> Output {
    build_with_stdin(d, args, None)
}

/// `docker build ARGS` with `input` on stdin (for `-f -` and `-`).
fn build_with_stdin(d: &Berthd, args: &[&str], input: Option<&[u8]>) -> Output {
    use std::io::Write;
    use std::process::Stdio;
    let mut full = vec!["build"];
    full.extend_from_slice(args);
    let mut child = d
        .docker_command(&full)
        .env("DOCKER_BUILDKIT", "0")
        .stdin(if input.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run docker build");
    if let Some(data) = input {
        let mut stdin = child.stdin.take().expect("piped stdin");
        stdin.write_all(data).expect("write stdin");
    }
    let out = child.wait_with_output().expect("wait for docker build");
    use std::os::unix::process::ExitStatusExt;
    Output {
        status: out
            .status
            .code()
            .unwrap_or_else(|| 128 + out.status.signal().unwrap_or(0)),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn build_ok(d: &Berthd, args: &[&str]) -> String {
    let out = build(d, args);
    assert!(
        out.success(),
        "docker build {} failed: {out}\n--- berthd.log ---\n{}",
        args.join(" "),
        d.log()
    );
    out.stdout
}

/// A context directory with these files (path, content).
fn context(d: &Berthd, name: &str, files: &[(&str, &str)]) -> PathBuf {
    let dir = d.dir().join(name);
    for (path, content) in files {
        let p = dir.join(path);
        std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
        std::fs::write(&p, content).expect("write");
    }
    dir
}

fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

/// The image ID `Successfully built <id>` names.
fn built_id(out: &str) -> String {
    out.lines()
        .find_map(|l| l.strip_prefix("Successfully built "))
        .unwrap_or_else(|| panic!("no 'Successfully built' in {out}"))
        .trim()
        .to_string()
}

#[test]
fn instructions_cache_and_rebuild_from_the_changed_copy() {
    let reg = fixture_registry();
    let d = Berthd::start();
    let base = reg.image("busybox:latest");
    let dockerfile = format!(
        "FROM {base}\n\
         ENV GREETING=hola\n\
         WORKDIR /app\n\
         COPY app.txt ./\n\
         COPY conf/ /etc/app/\n\
         RUN echo \"built $GREETING\" > /built.txt && cat /app/app.txt\n\
         LABEL org.berth.test=build\n\
         EXPOSE 8080\n\
         USER berth\n\
         CMD [\"sh\", \"-c\", \"cat /built.txt /app/app.txt /etc/app/a.conf; id -u\"]\n"
    );
    let ctx = context(
        &d,
        "ctx",
        &[
            ("Dockerfile", &dockerfile),
            ("app.txt", "version one\n"),
            ("conf/a.conf", "conf a\n"),
        ],
    );
    let first = build_ok(&d, &["-t", "built:1", "-t", "built:alias", s(&ctx)]);
    for want in [
        "Step 1/10 : FROM ",
        "Step 6/10 : RUN echo \"built $GREETING\" > /built.txt && cat /app/app.txt",
        " ---> Running in ",
        "version one",
        "Removing intermediate container ",
        "Successfully tagged built:1",
        "Successfully tagged built:alias",
    ] {
        assert!(first.contains(want), "missing {want:?} in:\n{first}");
    }
    assert!(!first.contains("Using cache"), "{first}");
    let id = built_id(&first);

    let run = d.docker_ok(&["run", "--rm", "built:1"]);
    assert_eq!(run, "built hola\nversion one\nconf a\n1000\n");
    // Intermediate images are listed with -a only, and each step's image has its parent.
    let listed = d.docker_ok(&["images", "--format", "{{.Repository}}:{{.Tag}}"]);
    assert!(!listed.contains("<none>"), "{listed}");
    assert_eq!(listed.lines().count(), 3, "{listed}");
    let all = d.docker_ok(&["images", "-a", "--format", "{{.Repository}}:{{.Tag}}"]);
    assert_eq!(all.matches("<none>:<none>").count(), 8, "{all}");
    let parent = d.inspect_format("built:1", "{{.Parent}}");
    assert!(parent.starts_with("sha256:"), "{parent}");
    assert_eq!(
        d.inspect_format(&parent, "{{json .Config.User}}"),
        "\"berth\"",
        "the parent is the USER step's image"
    );
    assert_eq!(
        d.inspect_format("built:1", "{{.Config.WorkingDir}} {{index .Config.Labels \"org.berth.test\"}} {{json .Config.ExposedPorts}} {{.Config.User}}"),
        "/app build {\"8080/tcp\":{}} berth"
    );
    let history = d.docker_ok(&[
        "history",
        "--no-trunc",
        "--format",
        "{{.CreatedBy}}",
        "built:1",
    ]);
    assert!(
        history.contains("/bin/sh -c #(nop)  CMD [\"sh\" \"-c\" \"cat /built.txt /app/app.txt /etc/app/a.conf; id -u\"]"),
        "{history}"
    );
    assert!(
        history.contains("/bin/sh -c #(nop)  ENV GREETING=hola"),
        "{history}"
    );
    assert!(
        history.contains("/bin/sh -c #(nop) COPY file:"),
        "{history}"
    );
    assert!(
        history.contains("/bin/sh -c #(nop) WORKDIR /app\n"),
        "{history}"
    );
    assert!(
        history.contains("/bin/sh -c echo \"built $GREETING\" > /built.txt && cat /app/app.txt\n"),
        "{history}"
    );

    // Unchanged: every step from the cache, the same image.
    let again = build_ok(&d, &["-t", "built:1", s(&ctx)]);
    assert_eq!(again.matches(" ---> Using cache").count(), 9, "{again}");
    assert!(!again.contains("Running in"), "{again}");
    assert_eq!(built_id(&again), id);

    // The cache survives a restart of the engine.
    let mut d = d;
    d.restart();
    let after_restart = build_ok(&d, &["-t", "built:1", s(&ctx)]);
    assert_eq!(
        after_restart.matches(" ---> Using cache").count(),
        9,
        "{after_restart}"
    );

    // One copied file changed: cached up to its COPY, rebuilt from there on.
    std::fs::write(ctx.join("app.txt"), "version two\n").expect("write");
    let changed = build_ok(&d, &["-t", "built:2", s(&ctx)]);
    assert_eq!(changed.matches(" ---> Using cache").count(), 2, "{changed}");
    assert!(changed.contains("version two"), "{changed}");
    let run = d.docker_ok(&["run", "--rm", "built:2"]);
    assert_eq!(run, "built hola\nversion two\nconf a\n1000\n");

    // --no-cache runs everything again.
    let fresh = build_ok(&d, &["--no-cache", "-t", "built:3", s(&ctx)]);
    assert!(!fresh.contains("Using cache"), "{fresh}");

    // No intermediate containers are left behind.
    assert_eq!(d.docker_ok(&["ps", "-aq"]).trim(), "");
}

#[test]
fn multi_stage_with_target_and_copy_from() {
    let reg = fixture_registry();
    let d = Berthd::start();
    let base = reg.image("busybox:latest");
    let dockerfile = format!(
        "FROM {base} AS Builder\n\
         RUN mkdir /out && echo compiled > /out/bin.txt\n\
         FROM {base} AS tests\n\
         RUN echo tests-ran > /tests.txt\n\
         FROM {base}\n\
         COPY --from=builder /out/bin.txt /final.txt\n\
         COPY --from=0 /out /outdir\n\
         CMD [\"sh\", \"-c\", \"cat /final.txt /outdir/bin.txt; ls /tests.txt 2>&1 || true\"]\n"
    );
    let ctx = context(&d, "ms", &[("Dockerfile", &dockerfile)]);

    let only_builder = build_ok(&d, &["--target", "builder", "-t", "ms:builder", s(&ctx)]);
    assert!(
        only_builder.contains("Step 2/2 : RUN mkdir"),
        "{only_builder}"
    );
    assert!(!only_builder.contains("tests-ran"), "{only_builder}");
    let out = d.docker_ok(&["run", "--rm", "ms:builder", "cat", "/out/bin.txt"]);
    assert_eq!(out, "compiled\n");

    let all = build_ok(&d, &["-t", "ms:final", s(&ctx)]);
    assert!(all.contains("Step 8/8 : CMD"), "{all}");
    // The builder stage is cached from the --target build.
    assert!(all.contains(" ---> Using cache"), "{all}");
    let out = d.docker_ok(&["run", "--rm", "ms:final"]);
    assert!(out.starts_with("compiled\ncompiled\n"), "{out}");
    assert!(
        out.contains("No such file"),
        "the tests stage's file is not in the final image: {out}"
    );

    // An unknown target is refused before anything runs.
    let before = d.docker_ok(&["images", "-aq"]);
    let bad = build(&d, &["--target", "nope", s(&ctx)]);
    assert_eq!(bad.status, 1, "{bad}");
    assert!(
        bad.stderr
            .contains("failed to reach build target nope in Dockerfile"),
        "{bad}"
    );
    assert!(!bad.stdout.contains("Step 1/"), "{bad}");
    assert_eq!(d.docker_ok(&["images", "-aq"]), before);
    assert_eq!(d.docker_ok(&["ps", "-aq"]).trim(), "");
}

#[test]
fn dockerignore_build_args_dockerfile_paths_and_quiet() {
    let reg = fixture_registry();
    let d = Berthd::start();
    let base = reg.image("busybox:latest");
    let dockerfile = "ARG BASE\n\
         FROM ${BASE}\n\
         ARG WHO=world\n\
         ENV SHOWN=${WHO:-nobody}\n\
         COPY . /ctx/\n\
         RUN echo \"hello $WHO\" > /hello.txt && find /ctx | sort > /ctx.txt\n\
         CMD [\"sh\", \"-c\", \"cat /hello.txt /ctx.txt; echo $SHOWN\"]\n";
    let ctx = context(
        &d,
        "ignore",
        &[
            ("build/Custom.dockerfile", dockerfile),
            ("app.py", "print()\n"),
            ("debug.log", "noise\n"),
            ("sub/trace.log", "kept: *.log is top-level only\n"),
            ("secret/key.pem", "private\n"),
            ("secret/keep.txt", "public\n"),
            (".dockerignore", "*.log\nsecret\n!secret/keep.txt\nbuild\n"),
        ],
    );
    let base_arg = format!("BASE={base}");
    // The CLI resolves -f against its working directory; the file is inside the context.
    let df_path = ctx.join("build/Custom.dockerfile");
    let out = build_ok(
        &d,
        &[
            "-f",
            s(&df_path),
            "--build-arg",
            &base_arg,
            "--build-arg",
            "WHO=berth",
            "--build-arg",
            "NOT_DECLARED=1",
            "-t",
            "args:1",
            s(&ctx),
        ],
    );
    assert!(
        out.contains("[Warning] One or more build-args [NOT_DECLARED] were not consumed"),
        "{out}"
    );
    let run = d.docker_ok(&["run", "--rm", "args:1"]);
    assert_eq!(
        run,
        "hello berth\n/ctx\n/ctx/.dockerignore\n/ctx/app.py\n/ctx/secret\n/ctx/secret/keep.txt\n/ctx/sub\n/ctx/sub/trace.log\nberth\n"
    );
    let history = d.docker_ok(&[
        "history",
        "--no-trunc",
        "--format",
        "{{.CreatedBy}}",
        "args:1",
    ]);
    assert!(
        history.contains("|1 WHO=berth /bin/sh -c echo \"hello $WHO\""),
        "{history}"
    );

    // Another value of the arg: RUN is not taken from the cache.
    let other = build_ok(
        &d,
        &[
            "-f",
            s(&df_path),
            "--build-arg",
            &base_arg,
            "--build-arg",
            "WHO=other",
            "-t",
            "args:2",
            s(&ctx),
        ],
    );
    assert!(other.contains(" ---> Running in "), "{other}");
    assert_eq!(
        d.docker_ok(&["run", "--rm", "args:2", "cat", "/hello.txt"]),
        "hello other\n"
    );

    // The Dockerfile from stdin, the context from the directory; -q prints only the ID.
    let stdin_df = format!("FROM {base}\nRUN echo from-stdin > /s.txt\n");
    let quiet = build_with_stdin(
        &d,
        &["-q", "-f", "-", "-t", "stdin:1", s(&ctx)],
        Some(stdin_df.as_bytes()),
    );
    assert!(quiet.success(), "{quiet}\n{}", d.log());
    let id = quiet.stdout.trim();
    assert!(
        id.starts_with("sha256:") && !quiet.stdout.contains("Step"),
        "{quiet}"
    );
    assert_eq!(d.inspect_format("stdin:1", "{{.Id}}"), id);
    assert_eq!(
        d.docker_ok(&["run", "--rm", "stdin:1", "cat", "/s.txt"]),
        "from-stdin\n"
    );
}

#[test]
fn bad_input_is_refused_and_leaves_nothing_behind() {
    let reg = fixture_registry();
    let d = Berthd::start();
    let base = reg.image("busybox:latest");

    // The engine advertises the classic builder, and refuses options it does not honour yet.
    let ping = unix_http_request(&d.socket_path(), "GET", "/_ping", &[], b"").expect("ping");
    assert_eq!(ping.header("builder-version"), Some("1"));
    let refused = unix_http_request(&d.socket_path(), "POST", "/build?cgroupparent=x", &[], b"")
        .expect("POST /build");
    assert_eq!(refused.status, 501, "{}", refused.text());
    assert!(
        refused.text().contains("--cgroup-parent is not supported"),
        "{}",
        refused.text()
    );
    // What dockerd without experimental mode answers on Linux.
    for (query, message) in [
        (
            "squash=1",
            "squash is only supported with experimental mode",
        ),
        ("isolation=hyperv", "Unsupported isolation: \\\"hyperv\\\""),
    ] {
        let r = unix_http_request(
            &d.socket_path(),
            "POST",
            &format!("/build?{query}"),
            &[],
            b"",
        )
        .expect("POST /build");
        assert_eq!(r.status, 400, "{query}: {}", r.text());
        assert!(r.text().contains(message), "{query}: {}", r.text());
    }
    // A context that says it is bzip2 and is not: dockerd's error, nothing unpacked.
    let bz = unix_http_request(
        &d.socket_path(),
        "POST",
        "/build",
        &[("Content-Type", "application/x-tar")],
        b"BZh91AY&SY",
    )
    .expect("POST /build");
    assert_eq!(bz.status, 400, "{}", bz.text());
    assert!(
        bz.text().contains("failed to read build context"),
        "{}",
        bz.text()
    );

    // A syntax error names its line; nothing runs.
    let ctx = context(
        &d,
        "syntax",
        &[("Dockerfile", &format!("FROM {base}\nRUN true\nRUUN echo\n"))],
    );
    let out = build(&d, &[s(&ctx)]);
    assert_eq!(out.status, 1, "{out}");
    assert!(
        out.stderr
            .contains("dockerfile parse error on line 3: unknown instruction: RUUN"),
        "{out}"
    );
    assert_eq!(d.docker_ok(&["images", "-aq"]).trim(), "");

    // A failing RUN: its output, dockerd's message and exit code; with --force-rm no container.
    let ctx = context(
        &d,
        "failing",
        &[(
            "Dockerfile",
            &format!("FROM {base}\nRUN echo before-failing && exit 7\nRUN echo never\n"),
        )],
    );
    let out = build(&d, &["--force-rm", "-t", "failed:1", s(&ctx)]);
    assert_eq!(out.status, 7, "{out}");
    assert!(out.stdout.contains("before-failing"), "{out}");
    assert!(!out.stdout.contains("never"), "{out}");
    assert!(
        out.stderr.contains(
            "The command '/bin/sh -c echo before-failing && exit 7' returned a non-zero code: 7"
        ),
        "{out}"
    );
    assert_eq!(d.docker_ok(&["ps", "-aq"]).trim(), "");
    assert!(d.docker(&["image", "inspect", "failed:1"]).status != 0);
    // Without --force-rm dockerd keeps the failed step's container for inspection.
    let out = build(&d, &[s(&ctx)]);
    assert_eq!(out.status, 7, "{out}");
    let left = d.docker_ok(&["ps", "-aq"]);
    assert_eq!(left.lines().count(), 1, "{left}");
    d.docker_ok(&["rm", left.trim()]);

    // Sources outside the context: by path, and by a symlink that points out of it.
    std::fs::write(d.dir().join("outside.txt"), "outside\n").expect("write");
    let ctx = context(
        &d,
        "escape",
        &[(
            "Dockerfile",
            &format!("FROM {base}\nCOPY ../outside.txt /\n"),
        )],
    );
    let out = build(&d, &[s(&ctx)]);
    assert_eq!(out.status, 1, "{out}");
    assert!(
        out.stderr
            .contains("forbidden path outside the build context: ../outside.txt"),
        "{out}"
    );
    let ctx = context(
        &d,
        "symlink",
        &[("Dockerfile", &format!("FROM {base}\nCOPY link /\n"))],
    );
    std::os::unix::fs::symlink("../outside.txt", ctx.join("link")).expect("symlink");
    let out = build(&d, &[s(&ctx)]);
    assert_eq!(out.status, 1, "{out}");
    assert!(
        out.stderr
            .contains("forbidden path outside the build context: link"),
        "{out}"
    );

    // A base image the registry does not have: the registry's error.
    let ctx = context(
        &d,
        "missing",
        &[(
            "Dockerfile",
            &format!("FROM {}\n", reg.image("nope:latest")),
        )],
    );
    let out = build(&d, &[s(&ctx)]);
    assert_eq!(out.status, 1, "{out}");
    assert!(
        out.stderr.contains("not found") || out.stderr.contains("unknown"),
        "{out}"
    );
    assert_eq!(d.docker_ok(&["ps", "-aq"]).trim(), "");
}

#[test]
fn onbuild_triggers_run_in_the_child_build() {
    let reg = fixture_registry();
    let d = Berthd::start();
    let base = reg.image("busybox:latest");
    let parent = context(
        &d,
        "parent",
        &[(
            "Dockerfile",
            &format!("FROM {base}\nONBUILD COPY note.txt /note.txt\nONBUILD RUN echo triggered > /onbuild.txt\n"),
        )],
    );
    build_ok(&d, &["-t", "onbuild:parent", s(&parent)]);
    assert_eq!(
        d.inspect_format("onbuild:parent", "{{json .Config.OnBuild}}"),
        r#"["COPY note.txt /note.txt","RUN echo triggered > /onbuild.txt"]"#
    );
    let child = context(
        &d,
        "child",
        &[
            (
                "Dockerfile",
                "FROM onbuild:parent\nCMD [\"cat\", \"/note.txt\", \"/onbuild.txt\"]\n",
            ),
            ("note.txt", "from the child's context\n"),
        ],
    );
    let out = build_ok(&d, &["-t", "onbuild:child", s(&child)]);
    assert!(out.contains("# Executing 2 build triggers"), "{out}");
    assert_eq!(
        d.docker_ok(&["run", "--rm", "onbuild:child"]),
        "from the child's context\ntriggered\n"
    );
    // Triggers are not passed on to the child image.
    assert_eq!(
        d.inspect_format("onbuild:child", "{{json .Config.OnBuild}}"),
        "null"
    );
}

/// Starts `docker build` of `ctx` in the background and waits until its RUN step's container
/// runs; returns the CLI process.
fn build_until_running(d: &Berthd, ctx: &Path) -> std::process::Child {
    let child = d
        .docker_command(&["build", s(ctx)])
        .env("DOCKER_BUILDKIT", "0")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("start docker build");
    wait_until(
        "the RUN step's container runs",
        std::time::Duration::from_secs(60),
        || {
            let ps = d.docker_ok(&["ps", "-q"]);
            if ps.trim().is_empty() {
                Err("no running container".into())
            } else {
                Ok(())
            }
        },
    );
    child
}

#[test]
fn a_client_hanging_up_or_a_killed_engine_leaves_no_step_container() {
    let reg = fixture_registry();
    let d = Berthd::start();
    let base = reg.image("busybox:latest");
    let ctx = context(
        &d,
        "long",
        &[("Dockerfile", &format!("FROM {base}\nRUN sleep 300\n"))],
    );
    // The client goes away: the step's container is stopped and removed.
    let mut cli = build_until_running(&d, &ctx);
    cli.kill().expect("kill the docker CLI");
    let _ = cli.wait();
    wait_until(
        "the canceled build's container is removed",
        std::time::Duration::from_secs(60),
        || {
            let ps = d.docker_ok(&["ps", "-aq"]);
            if ps.trim().is_empty() {
                Ok(())
            } else {
                Err(ps)
            }
        },
    );

    // The engine is killed mid-build: the next start removes the step's container.
    let mut cli = build_until_running(&d, &ctx);
    let mut d = d;
    d.kill9();
    let _ = cli.wait();
    d.restart();
    assert_eq!(d.docker_ok(&["ps", "-aq"]).trim(), "");
    assert!(d
        .log()
        .contains("removing the container of an interrupted build step"));
}

#[test]
fn run_steps_get_the_builds_resource_limits() {
    let reg = fixture_registry();
    let d = Berthd::start();
    let base = reg.image("busybox:latest");
    let ctx = context(
        &d,
        "limits",
        &[(
            "Dockerfile",
            &format!(
                "FROM {base}\nRUN cat /sys/fs/cgroup/memory.max /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null > /limit.txt; true\n"
            ),
        )],
    );
    build_ok(&d, &["--memory", "64m", "-t", "limits:1", s(&ctx)]);
    assert_eq!(
        d.docker_ok(&["run", "--rm", "limits:1", "cat", "/limit.txt"])
            .trim(),
        "67108864"
    );

    // --ulimit reaches the RUN containers, as for `docker run`.
    let ctx = context(
        &d,
        "ulimit",
        &[(
            "Dockerfile",
            &format!("FROM {base}\nRUN echo $(ulimit -n) $(ulimit -Hn) > /nofile.txt\n"),
        )],
    );
    build_ok(
        &d,
        &["--ulimit", "nofile=512:1024", "-t", "ulimit:1", s(&ctx)],
    );
    assert_eq!(
        d.docker_ok(&["run", "--rm", "ulimit:1", "cat", "/nofile.txt"]),
        "512 1024\n"
    );

    // --shm-size sizes the RUN containers' /dev/shm.
    let ctx = context(
        &d,
        "shm",
        &[(
            "Dockerfile",
            &format!("FROM {base}\nRUN grep ' /dev/shm ' /proc/mounts > /shm.txt\n"),
        )],
    );
    build_ok(&d, &["--shm-size", "16m", "-t", "shm:1", s(&ctx)]);
    let shm = d.docker_ok(&["run", "--rm", "shm:1", "cat", "/shm.txt"]);
    assert!(shm.contains("size=16384k"), "{shm}");
}

/// A gzip tar with `files` (path, content), as `ADD` would get it.
fn tar_gz(files: &[(&str, &str)]) -> Vec<u8> {
    let mut b = tar::Builder::new(flate2::write::GzEncoder::new(
        Vec::new(),
        flate2::Compression::fast(),
    ));
    for (path, content) in files {
        let mut h = tar::Header::new_gnu();
        h.set_size(content.len() as u64);
        h.set_mode(0o640);
        h.set_uid(1000);
        h.set_gid(1000);
        h.set_mtime(1_700_000_000);
        b.append_data(&mut h, path, content.as_bytes())
            .expect("tar entry");
    }
    b.into_inner().expect("tar").finish().expect("gzip")
}

#[test]
fn add_extracts_local_archives() {
    let reg = fixture_registry();
    let d = Berthd::start();
    let base = reg.image("busybox:latest");
    let ctx = context(
        &d,
        "add",
        &[
            (
                "Dockerfile",
                &format!(
                    "FROM {base}\nADD bundle.tar.gz /opt/bundle\nADD --chown=berth plain.txt /opt/\n\
                     CMD [\"sh\", \"-c\", \"cat /opt/bundle/dir/a.txt; stat -c '%u %a' /opt/bundle/dir/a.txt /opt/plain.txt\"]\n"
                ),
            ),
            ("plain.txt", "plain\n"),
        ],
    );
    std::fs::write(
        ctx.join("bundle.tar.gz"),
        tar_gz(&[("dir/a.txt", "from the archive\n")]),
    )
    .expect("write archive");
    build_ok(&d, &["-t", "add:1", s(&ctx)]);
    assert_eq!(
        d.docker_ok(&["run", "--rm", "add:1"]),
        "from the archive\n1000 640\n1000 644\n"
    );
}

/// A small HTTP/1.0 file server on 127.0.0.1 for `ADD <url>`: `/files/NAME` serves `files`
/// (with a fixed `Last-Modified`), `/dl/` answers with a `Content-Disposition` name, anything
/// else is a 404. Counts the requests it served; stops on drop.
struct WebServer {
    port: u16,
    files: std::sync::Arc<std::sync::Mutex<std::collections::HashMap<String, Vec<u8>>>>,
    hits: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl WebServer {
    fn start() -> WebServer {
        use std::io::{BufRead, BufReader, Write};
        use std::sync::atomic::Ordering;
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let port = listener.local_addr().expect("local addr").port();
        let server = WebServer {
            port,
            files: Default::default(),
            hits: Default::default(),
            stop: Default::default(),
        };
        let (files, hits, stop) = (
            server.files.clone(),
            server.hits.clone(),
            server.stop.clone(),
        );
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                if stop.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(mut conn) = conn else { continue };
                let mut line = String::new();
                let mut reader = BufReader::new(conn.try_clone().expect("clone stream"));
                if reader.read_line(&mut line).is_err() {
                    continue;
                }
                // The rest of the request head.
                let mut header = String::new();
                while reader.read_line(&mut header).is_ok_and(|n| n > 2) {
                    header.clear();
                }
                let path = line.split(' ').nth(1).unwrap_or("").to_string();
                hits.fetch_add(1, Ordering::SeqCst);
                let found = path
                    .strip_prefix("/files/")
                    .and_then(|name| files.lock().expect("files").get(name).cloned());
                let (head, body) = match (path.as_str(), found) {
                    (_, Some(body)) => (
                        "200 OK\r\nLast-Modified: Wed, 21 Oct 2015 07:28:00 GMT".to_string(),
                        body,
                    ),
                    ("/dl/", _) => (
                        "200 OK\r\nContent-Disposition: attachment; filename=\"named.txt\""
                            .to_string(),
                        b"named by the server\n".to_vec(),
                    ),
                    _ => ("404 Not Found".to_string(), b"no such file".to_vec()),
                };
                let _ = write!(
                    conn,
                    "HTTP/1.0 {head}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    body.len()
                );
                let _ = conn.write_all(&body);
            }
        });
        server
    }

    fn put(&self, name: &str, body: &[u8]) {
        self.files
            .lock()
            .expect("files")
            .insert(name.to_string(), body.to_vec());
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    fn hits(&self) -> usize {
        self.hits.load(std::sync::atomic::Ordering::SeqCst)
    }
}

impl Drop for WebServer {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::SeqCst);
        // Wake the accept loop so that it sees the flag.
        let _ = std::net::TcpStream::connect(("127.0.0.1", self.port));
    }
}

#[test]
fn add_downloads_urls_and_contexts_may_be_bzip2_or_xz() {
    let reg = fixture_registry();
    let d = Berthd::start();
    let base = reg.image("busybox:latest");
    let web = WebServer::start();
    web.put("hello.txt", b"hello from the web\n");
    web.put("bundle.tar.gz", &tar_gz(&[("inside.txt", "x\n")]));
    let dockerfile = format!(
        "FROM {base}\nADD {} /web/b.tgz\nADD {} /web/\nADD {} /web/\n\
         CMD [\"sh\", \"-c\", \"cat /web/hello.txt /web/named.txt; stat -c '%a %Y' /web/hello.txt; ls /web\"]\n",
        web.url("/files/bundle.tar.gz"),
        web.url("/dl/"),
        web.url("/files/hello.txt"),
    );
    let ctx = context(&d, "add-url", &[("Dockerfile", &dockerfile)]);
    build_ok(&d, &["-t", "url:1", s(&ctx)]);
    // dockerd's rules: mode 0600, the mtime of Last-Modified, an archive not extracted, the
    // name from the URL or else from Content-Disposition.
    assert_eq!(
        d.docker_ok(&["run", "--rm", "url:1"]),
        "hello from the web\nnamed by the server\n600 1445412480\nb.tgz\nhello.txt\nnamed.txt\n"
    );

    // Every build downloads again; the same content is a cache hit, new content is not.
    let before = web.hits();
    let again = build_ok(&d, &["-t", "url:2", s(&ctx)]);
    assert_eq!(web.hits(), before + 3, "each URL fetched again");
    assert_eq!(again.matches(" ---> Using cache").count(), 4, "{again}");
    web.put("hello.txt", b"changed\n");
    let changed = build_ok(&d, &["-t", "url:3", s(&ctx)]);
    // Cached up to the changed download (steps 2 and 3), made again from it (4 and 5).
    assert_eq!(changed.matches(" ---> Using cache").count(), 2, "{changed}");
    assert!(
        changed
            .split("Step 4/5")
            .nth(1)
            .is_some_and(|rest| !rest.contains("Using cache")),
        "{changed}"
    );
    assert_eq!(
        d.docker_ok(&["run", "--rm", "url:3", "cat", "/web/hello.txt"]),
        "changed\n"
    );

    // A 404 fails the build with dockerd's message; COPY takes no URL.
    let missing = context(
        &d,
        "add-404",
        &[(
            "Dockerfile",
            &format!("FROM {base}\nADD {} /x\n", web.url("/missing")),
        )],
    );
    let out = build(&d, &[s(&missing)]);
    assert_eq!(out.status, 1, "{out}");
    let want = format!(
        "failed to GET {} with status 404 Not Found: no such file",
        web.url("/missing")
    );
    assert!(out.stderr.contains(&want), "{out}");
    let copy = context(
        &d,
        "copy-url",
        &[(
            "Dockerfile",
            &format!("FROM {base}\nCOPY {} /x\n", web.url("/dl/")),
        )],
    );
    let out = build(&d, &[s(&copy)]);
    assert_eq!(out.status, 1, "{out}");
    assert!(
        out.stderr.contains("source can't be a URL for COPY"),
        "{out}"
    );

    // A context on stdin compressed with bzip2 or xz (the CLI sends it as it is).
    let ctx = context(
        &d,
        "packed",
        &[
            ("Dockerfile", &format!("FROM {base}\nCOPY note.txt /\n")),
            ("note.txt", "packed context\n"),
        ],
    );
    for (flag, tag) in [("-j", "packed:bz2"), ("-J", "packed:xz")] {
        let tar = std::process::Command::new("tar")
            .args(["-c", flag, "-f", "-", "-C", s(&ctx), "."])
            .output()
            .expect("run tar");
        assert!(tar.status.success(), "tar {flag}");
        let out = build_with_stdin(&d, &["-t", tag, "-"], Some(&tar.stdout));
        assert!(out.success(), "{out}\n{}", d.log());
        assert_eq!(
            d.docker_ok(&["run", "--rm", tag, "cat", "/note.txt"]),
            "packed context\n"
        );
    }
}

#[test]
fn system_df_counts_and_builder_prune_frees_the_build_cache() {
    let reg = fixture_registry();
    let d = Berthd::start();
    let base = reg.image("busybox:latest");
    let ctx = context(
        &d,
        "cache",
        &[(
            "Dockerfile",
            &format!("FROM {base}\nRUN head -c 100000 /dev/zero > /blob\nENV DONE=1\nCMD [\"ls\", \"-l\", \"/blob\"]\n"),
        )],
    );
    build_ok(&d, &["-t", "cached:1", s(&ctx)]);
    let df = || {
        d.docker_ok(&["system", "df", "--format", "{{.Type}}|{{.TotalCount}}"])
            .lines()
            .find_map(|l| l.strip_prefix("Build Cache|").map(str::to_string))
            .expect("a Build Cache row")
    };
    // The RUN and ENV steps' images; the CMD step's is tagged, so it is no cache record.
    assert_eq!(df(), "2");
    let verbose = d.docker_ok(&["system", "df", "-v"]);
    // The RUN step's own layer is the cache's size.
    assert!(verbose.contains("Build cache usage: 100kB"), "{verbose}");

    let pruned = d.docker_ok(&["builder", "prune", "-f"]);
    assert!(pruned.contains("Total reclaimed space:"), "{pruned}");
    assert_eq!(df(), "0");
    // The tagged image still works; its steps are no longer cached.
    assert!(d.docker_ok(&["run", "--rm", "cached:1"]).contains("100000"));
    let again = build_ok(&d, &["-t", "cached:2", s(&ctx)]);
    assert!(again.contains(" ---> Running in "), "{again}");
    let refused = d.docker(&["builder", "prune", "-f", "--filter", "until=1h"]);
    assert!(!refused.success(), "{refused}");
    assert!(refused.stderr.contains("not supported"), "{refused}");
}

#[test]
fn from_a_private_registry_with_the_clis_credentials() {
    let reg = Registry::start_with_htpasswd("berth", "s3cret-pass");
    push_fixture_images_as(reg.addr(), reg.credentials());
    let d = Berthd::start();
    let ctx = context(
        &d,
        "private",
        &[(
            "Dockerfile",
            &format!(
                "FROM {}\nRUN echo private > /p.txt\n",
                reg.image("busybox:latest")
            ),
        )],
    );
    let denied = build(&d, &[s(&ctx)]);
    assert_eq!(denied.status, 1, "{denied}");
    let ok = d.docker_with_stdin(
        &["login", "-u", "berth", "--password-stdin", reg.addr()],
        "s3cret-pass\n",
    );
    assert_eq!(ok.status, 0, "{ok}");
    // The CLI sends its credentials in X-Registry-Config; the pull of FROM uses them.
    let out = build_ok(&d, &["-t", "private:1", s(&ctx)]);
    assert!(out.contains("Pull complete"), "{out}");
    assert_eq!(
        d.docker_ok(&["run", "--rm", "private:1", "cat", "/p.txt"]),
        "private\n"
    );
}

/// `docker rmi` of a built image also deletes its untagged intermediate images (dockerd's
/// prune of parents), unless `--no-prune`; a tagged base image stays.
#[test]
fn rmi_takes_the_builds_intermediate_images_unless_no_prune() {
    let (d, img) = engine_with_busybox();
    let ctx = context(
        &d,
        "layers",
        &[
            (
                "Dockerfile",
                &format!("FROM {img}\nCOPY a /a\nRUN echo two > /b\nCMD [\"cat\", \"/a\"]\n"),
            ),
            ("a", "one\n"),
        ],
    );
    let all = |d: &Berthd| {
        d.docker_ok(&["images", "-a", "-q", "--no-trunc"])
            .lines()
            .count()
    };
    let before = all(&d);
    build_ok(&d, &["-t", "layered:1", s(&ctx)]);
    assert_eq!(all(&d), before + 3, "three steps, three images");
    let out = d.docker_ok(&["rmi", "layered:1"]);
    assert_eq!(
        out.lines().filter(|l| l.starts_with("Deleted:")).count(),
        3,
        "{out}"
    );
    assert_eq!(all(&d), before, "only the base image is left");
    assert!(d.docker_ok(&["images", "-q", &img]).trim().len() >= 12);

    build_ok(&d, &["-t", "layered:2", s(&ctx)]);
    let out = d.docker_ok(&["rmi", "--no-prune", "layered:2"]);
    assert_eq!(
        out.lines().filter(|l| l.starts_with("Deleted:")).count(),
        1,
        "{out}"
    );
    assert_eq!(all(&d), before + 2, "the intermediate images stay");
}

/// `--cache-from`: an image pulled from a registry stands in for the local cache on an engine
/// that never built it (CI's `docker pull app || true; docker build --cache-from app`), as
/// dockerd's classic builder does: every step from it, the pulled image itself as the result;
/// a changed file rebuilds from its COPY; images that do not exist are skipped.
#[test]
fn cache_from_takes_steps_from_a_pulled_image() {
    let fixtures = fixture_registry();
    let base = fixtures.image("busybox:latest");
    let reg = Registry::start();
    let app = reg.image("app:1");
    let files = |d: &Berthd, name: &str, note: &str| {
        context(
            d,
            name,
            &[
                (
                    "Dockerfile",
                    &format!(
                        "FROM {base}\nENV STAGE=one\nRUN echo built > /built.txt\nCOPY note.txt /\nRUN cat /note.txt >> /built.txt\nCMD [\"cat\", \"/built.txt\"]\n"
                    ),
                ),
                ("note.txt", note),
            ],
        )
    };

    let first = Berthd::start();
    build_ok(&first, &["-t", &app, s(&files(&first, "ctx", "note\n"))]);
    first.docker_ok(&["push", &app]);
    drop(first);

    // A fresh engine without --cache-from runs every RUN.
    let plain = Berthd::start();
    let out = build_ok(
        &plain,
        &["-t", "plain:1", s(&files(&plain, "ctx", "note\n"))],
    );
    assert!(!out.contains("Using cache"), "{out}");
    drop(plain);

    let d = Berthd::start();
    d.docker_ok(&["pull", &app]);
    let pulled = d.inspect_format(&app, "{{.Id}}");
    let ctx = files(&d, "ctx", "note\n");
    let out = build_ok(
        &d,
        &[
            "--cache-from",
            "missing:never",
            "--cache-from",
            &app,
            "-t",
            "again:1",
            s(&ctx),
        ],
    );
    assert_eq!(out.matches(" ---> Using cache").count(), 5, "{out}");
    assert!(!out.contains("Running in"), "{out}");
    assert_eq!(d.inspect_format("again:1", "{{.Id}}"), pulled);
    assert_eq!(d.docker_ok(&["run", "--rm", "again:1"]), "built\nnote\n");

    // One copied file changed: cached up to the COPY, run again from it.
    std::fs::write(ctx.join("note.txt"), "changed\n").expect("write");
    let out = build_ok(&d, &["--cache-from", &app, "-t", "again:2", s(&ctx)]);
    assert_eq!(out.matches(" ---> Using cache").count(), 2, "{out}");
    assert_eq!(out.matches("Running in").count(), 1, "{out}");
    assert_eq!(d.docker_ok(&["run", "--rm", "again:2"]), "built\nchanged\n");
}

/// Builds at the same time on one engine: each gets its own steps and result, and a rebuild
/// leaves the replaced image dangling for `docker image prune`, which removes it with the
/// intermediate images only it used.
#[test]
fn concurrent_builds_and_pruning_their_dangling_results() {
    let reg = fixture_registry();
    let d = Berthd::start();
    let base = reg.image("busybox:latest");
    d.docker_ok(&["pull", &base]);
    let dirs: Vec<PathBuf> = (0..3)
        .map(|i| {
            context(
                &d,
                &format!("par{i}"),
                &[
                    (
                        "Dockerfile",
                        &format!(
                            "FROM {base}\nCOPY n.txt /\nRUN cat /n.txt > /copy.txt && echo {i} >> /copy.txt\n"
                        ),
                    ),
                    ("n.txt", &format!("build {i}\n")),
                ],
            )
        })
        .collect();
    let handles: Vec<_> = dirs
        .iter()
        .enumerate()
        .map(|(i, dir)| {
            let dir = dir.clone();
            let host = d.host();
            std::thread::spawn(move || {
                let out = std::process::Command::new("docker")
                    .args(["build", "-t", &format!("par:{i}"), s(&dir)])
                    .env("DOCKER_HOST", host)
                    .env("DOCKER_BUILDKIT", "0")
                    .output()
                    .expect("docker build");
                assert!(
                    out.status.success(),
                    "{}",
                    String::from_utf8_lossy(&out.stderr)
                );
            })
        })
        .collect();
    for h in handles {
        h.join().expect("build thread");
    }
    for i in 0..3 {
        assert_eq!(
            d.docker_ok(&["run", "--rm", &format!("par:{i}"), "cat", "/copy.txt"]),
            format!("build {i}\n{i}\n")
        );
    }

    // A rebuild after a change: the old result loses its tag and is dangling.
    let old = d.inspect_format("par:0", "{{.Id}}");
    std::fs::write(dirs[0].join("n.txt"), "changed\n").expect("write");
    build_ok(&d, &["-t", "par:0", s(&dirs[0])]);
    let dangling = d.docker_ok(&["images", "-q", "--no-trunc", "--filter", "dangling=true"]);
    assert!(dangling.contains(&old), "{dangling}");
    let pruned = d.docker_ok(&["image", "prune", "-f"]);
    assert!(pruned.contains(&format!("deleted: {old}")), "{pruned}");
    assert!(d.docker(&["image", "inspect", &old]).status != 0);
    // The other builds' images and their steps are untouched.
    for i in 1..3 {
        assert_eq!(
            d.docker_ok(&["run", "--rm", &format!("par:{i}"), "cat", "/copy.txt"]),
            format!("build {i}\n{i}\n")
        );
    }
    let again = build_ok(&d, &["-t", "par:1", s(&dirs[1])]);
    assert_eq!(again.matches(" ---> Using cache").count(), 2, "{again}");
}

/// Image inspect as dockerd 26+ answers it: `Container` and `ContainerConfig` (the step's
/// container) only for API versions before 1.45, which docker-compose 1.29 reads.
#[test]
fn inspect_shows_container_config_to_older_api_versions_only() {
    let reg = fixture_registry();
    let d = Berthd::start();
    let base = reg.image("busybox:latest");
    let ctx = context(
        &d,
        "cc",
        &[("Dockerfile", &format!("FROM {base}\nENV A=1\n"))],
    );
    build_ok(&d, &["-t", "cc:1", s(&ctx)]);
    let get = |v: &str| -> serde_json::Value {
        let r = unix_http_request(
            &d.socket_path(),
            "GET",
            &format!("/{v}/images/cc:1/json"),
            &[],
            b"",
        )
        .expect("inspect");
        assert_eq!(r.status, 200, "{}", r.text());
        serde_json::from_str(&r.text()).expect("json")
    };
    let old = get("v1.44");
    let cmd = old["ContainerConfig"]["Cmd"].to_string();
    assert!(cmd.contains("#(nop) ") && cmd.contains("ENV A=1"), "{old}");
    assert!(old["Container"].is_string(), "{old}");
    let new = get("v1.47");
    assert!(
        new.get("ContainerConfig").is_none() && new.get("Container").is_none(),
        "{new}"
    );
}
