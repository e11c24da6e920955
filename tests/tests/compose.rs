//! docker-compose (Debian's 1.29, the Python client built on docker-py) against berthd: a
//! build through the classic `/build` API, `up` that waits for a `service_healthy` dependency,
//! logs, and `down` leaving nothing behind.

use std::path::Path;
use std::process::Command;

use berth_tests::*;

/// `docker-compose -p PROJECT ARGS` in `dir`, against `d`.
fn compose(d: &Berthd, dir: &Path, project: &str, args: &[&str]) -> std::process::Output {
    Command::new("docker-compose")
        .args(["-p", project])
        .args(args)
        .current_dir(dir)
        .env("DOCKER_HOST", d.host())
        // docker-py's own build (the classic API), not a `docker build` subprocess.
        .env("COMPOSE_DOCKER_CLI_BUILD", "0")
        .env("DOCKER_BUILDKIT", "0")
        .output()
        .expect("run docker-compose (apt: docker-compose)")
}

fn compose_ok(d: &Berthd, dir: &Path, project: &str, args: &[&str]) -> String {
    let out = compose(d, dir, project, args);
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success(),
        "docker-compose {args:?}: {text}\n--- berthd.log ---\n{}",
        d.log()
    );
    text
}

#[test]
fn compose_builds_and_starts_after_a_healthy_dependency() {
    let (d, img) = engine_with_busybox();
    let dir = d.dir().join("project");
    std::fs::create_dir_all(&dir).expect("project dir");
    std::fs::write(
        dir.join("Dockerfile"),
        format!(
            "FROM {img}\n\
             COPY page.txt /page.txt\n\
             HEALTHCHECK --interval=200ms --retries=3 CMD test -e /tmp/ready\n\
             CMD [\"sh\", \"-c\", \"touch /tmp/ready && exec sleep 1000\"]\n"
        ),
    )
    .expect("Dockerfile");
    std::fs::write(dir.join("page.txt"), "built by compose\n").expect("page");
    std::fs::write(
        dir.join("docker-compose.yml"),
        format!(
            "version: \"2.4\"\n\
             services:\n\
             \x20 db:\n\
             \x20   build: .\n\
             \x20   image: proj-db:1\n\
             \x20 app:\n\
             \x20   image: {img}\n\
             \x20   command: [\"sh\", \"-c\", \"echo app-started && exec sleep 1000\"]\n\
             \x20   depends_on:\n\
             \x20     db:\n\
             \x20       condition: service_healthy\n"
        ),
    )
    .expect("compose file");

    let out = compose_ok(&d, &dir, "proj", &["build"]);
    assert!(out.contains("Successfully built"), "{out}");
    assert_eq!(
        d.docker_ok(&["run", "--rm", "proj-db:1", "cat", "/page.txt"])
            .trim(),
        "built by compose"
    );

    // `up` starts app only once db's health check passed.
    compose_ok(&d, &dir, "proj", &["up", "-d"]);
    let db = d.docker_ok(&[
        "ps",
        "-q",
        "--filter",
        "label=com.docker.compose.project=proj",
        "--filter",
        "label=com.docker.compose.service=db",
    ]);
    assert_eq!(
        d.inspect_format(db.trim(), "{{.State.Health.Status}}")
            .trim(),
        "healthy"
    );
    let logs = wait_until(
        "app logs its start",
        std::time::Duration::from_secs(30),
        || {
            let out = compose(&d, &dir, "proj", &["logs", "--no-color", "app"]);
            let text = String::from_utf8_lossy(&out.stdout).into_owned();
            if text.contains("app-started") {
                Ok(text)
            } else {
                Err(text)
            }
        },
    );
    assert!(logs.contains("app-started"), "{logs}");

    compose_ok(&d, &dir, "proj", &["down"]);
    assert_eq!(
        d.docker_ok(&[
            "ps",
            "-aq",
            "--filter",
            "label=com.docker.compose.project=proj"
        ])
        .trim(),
        ""
    );
    assert!(!d
        .docker_ok(&["network", "ls", "--format", "{{.Name}}"])
        .contains("proj_default"));

    // `up --build` after a change: rebuilt from the COPY, started with the new image.
    std::fs::write(dir.join("page.txt"), "rebuilt by up\n").expect("page");
    let out = compose_ok(&d, &dir, "proj", &["up", "-d", "--build", "db"]);
    assert!(out.contains("Successfully built"), "{out}");
    assert_eq!(compose_exec_cat(&d), "rebuilt by up");
    // And again with the container still there, so compose recreates it. compose 1.29 reads
    // the old image's `ContainerConfig`, which dockerd (and berthd) give only to API < 1.45
    // clients: against dockerd 25+ it fails the same way unless COMPOSE_API_VERSION is older.
    std::fs::write(dir.join("page.txt"), "recreated by up\n").expect("page");
    let out = Command::new("docker-compose")
        .args(["-p", "proj", "up", "-d", "--build", "db"])
        .current_dir(&dir)
        .env("DOCKER_HOST", d.host())
        .env("COMPOSE_DOCKER_CLI_BUILD", "0")
        .env("COMPOSE_API_VERSION", "1.44")
        .output()
        .expect("run docker-compose");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(compose_exec_cat(&d), "recreated by up");
    compose_ok(&d, &dir, "proj", &["down"]);
}

/// /page.txt in the project's running db container.
fn compose_exec_cat(d: &Berthd) -> String {
    let db = d.docker_ok(&[
        "ps",
        "-q",
        "--filter",
        "label=com.docker.compose.service=db",
    ]);
    d.docker_ok(&["exec", db.trim(), "cat", "/page.txt"])
        .trim()
        .to_string()
}
