//! `docker build` with the classic builder (`DOCKER_BUILDKIT=0`, the `POST /build` API) against
//! berthd: instructions, the layer cache, multi-stage builds, `.dockerignore`, build args and
//! the errors of bad input. Base images come from the fixture registry's busybox.

use std::path::{Path, PathBuf};

use berth_tests::*;

/// `docker build ARGS` with the classic builder.
fn build(d: &Berthd, args: &[&str]) -> Output {
    let mut full = vec!["build"];
    full.extend_from_slice(args);
    let out = d
        .docker_command(&full)
        .env("DOCKER_BUILDKIT", "0")
        .stdin(std::process::Stdio::null())
        .output()
        .expect("run docker build");
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
