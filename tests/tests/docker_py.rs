//! docker-py (the Python SDK) against a real berthd: the tests in `tests/py/` are ours, written as
//! Python users drive an engine through the SDK's high- and low-level APIs. Each test here runs
//! one of those files with pytest, against its own berthd and the test registry.
//!
//! The SDK lives in a venv that `scripts/test.sh` makes from `tests/py/requirements.txt` and names
//! in `BERTH_PYTHON`; without it, these tests fail and say how to make it.

use std::path::PathBuf;
use std::process::Command;

use berth_tests::*;

fn python() -> PathBuf {
    let py = std::env::var_os("BERTH_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            std::env::var_os("CARGO_TARGET_DIR")
                .map(PathBuf::from)
                .unwrap_or_else(|| workspace_root().join("target"))
                .join("pyenv/bin/python")
        });
    assert!(
        py.exists(),
        "{} is missing: run scripts/test.sh, which makes the docker-py venv from tests/py/requirements.txt",
        py.display()
    );
    py
}

/// Runs `tests/py/<file>` with pytest against a fresh berthd; fails with pytest's report.
fn pytest(file: &str) {
    let registry = fixture_registry();
    let d = Berthd::start();
    let dir = workspace_root().join("tests/py");
    let out = Command::new(python())
        .args(["-m", "pytest", "-q", "-p", "no:cacheprovider"])
        .arg(dir.join(file))
        .current_dir(&dir)
        .env("DOCKER_HOST", d.host())
        .env("BERTH_TEST_REGISTRY", registry.addr())
        // The SDK reads credentials and config from here; keep the user's out of it.
        .env("DOCKER_CONFIG", d.docker_config_dir())
        .output()
        .expect("run pytest");
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    println!("{report}");
    assert!(
        out.status.success(),
        "pytest {file} failed:\n{report}\n--- berthd log:\n{}",
        d.log()
    );
}

#[test]
fn swarm_routes_as_a_standalone_dockerd() {
    pytest("test_swarm.py");
}

#[test]
fn container_lifecycle_through_the_sdk() {
    pytest("test_containers.py");
}

#[test]
fn networks_as_the_sdk_creates_them() {
    pytest("test_networks.py");
}

#[test]
fn log_drivers_and_rotation() {
    pytest("test_logs.py");
}

#[test]
fn exec_streams_and_options() {
    pytest("test_exec.py");
}

#[test]
fn attach_logs_stream_and_detach_keys() {
    pytest("test_attach.py");
}
