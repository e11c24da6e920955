//! Shared harness for Berth's end-to-end tests (`tests/tests/*.rs`).
//!
//! Every test owns real processes on loopback and cleans up after itself:
//! - [`Registry`]: a `docker-registry` (distribution 2.x) on `127.0.0.1:<free port>` with storage in
//!   a temp dir, optionally behind htpasswd basic auth or bearer token auth (with
//!   `tests/fixtures/token-server.py` as the token realm).
//! - [`fixture_registry`]: one registry per test process, filled once by
//!   `tests/fixtures/build-images.sh` (busybox, layers, oci images; see that script's header).
//! - [`Berthd`]: the engine on a temp data root and socket, driven with the real docker CLI
//!   ([`Berthd::docker`]) or bollard ([`Berthd::bollard`]); on drop it stops the engine, kills
//!   leftover container processes, unmounts and removes everything under its temp dir.
//!
//! Environment knobs: `BERTHD_BIN` (engine binary), `DOCKER_BIN` (docker CLI, default `docker`
//! on PATH), `BERTH_TEST_TMPDIR` (where temp dirs go, default the system temp dir),
//! `BERTH_DOCKER_TIMEOUT_SECS` (per docker CLI call, default 120), `BERTH_FIXTURE_REGISTRY`
//! (use a registry already running at that address instead of starting one).

mod berthd;
pub mod engine_vm;
mod http;
pub mod netenv;
mod process;
mod registry;
pub mod vm;

pub use berthd::{berthd_bin, docker_bin, Berthd, Output};
pub use http::{basic_auth, http_request, unix_http_request, HttpResponse};
pub use process::{cleanup_dir, process_alive, spawn_tied, wait_child_or_kill, wait_until_dead};
pub use registry::{
    build_images_script, fixture_registry, push_fixture_images, push_fixture_images_as,
    token_server_script, FixtureRegistry, Registry,
};

use std::path::PathBuf;

/// Media types the fixtures use, for `Accept` headers and assertions.
pub mod media {
    pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
    pub const DOCKER_MANIFEST_LIST: &str =
        "application/vnd.docker.distribution.manifest.list.v2+json";
    pub const DOCKER_CONFIG: &str = "application/vnd.docker.container.image.v1+json";
    pub const DOCKER_LAYER: &str = "application/vnd.docker.image.rootfs.diff.tar.gzip";
    pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
    pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
    pub const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
    pub const OCI_LAYER: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
    /// Every manifest type, as a registry client would send it.
    pub const ACCEPT_ALL: &str = "application/vnd.docker.distribution.manifest.v2+json, \
        application/vnd.docker.distribution.manifest.list.v2+json, \
        application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json";
}

/// A TCP port on 127.0.0.1 that was free a moment ago (bind to port 0, read it, close).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("bind 127.0.0.1:0")
        .port()
}

/// `sha256:<hex>` of `data`.
pub fn sha256_digest(data: &[u8]) -> String {
    use sha2::Digest;
    let hash = sha2::Sha256::digest(data);
    let mut s = String::with_capacity(71);
    s.push_str("sha256:");
    for b in hash {
        s.push_str(&format!("{b:02x}"));
    }
    s
}

/// The workspace root (parent of the `tests` crate).
pub fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests crate has a parent")
        .to_path_buf()
}

/// Prefixes of the temp dirs the harness makes (swept when their owner process is gone).
const TEMP_PREFIXES: &[&str] = &[
    "berth-e2e-",
    "berth-registry-",
    "berth-harness-selftest-",
    "berth-vm-",
    "berth-deb-",
];

fn temp_base() -> PathBuf {
    std::env::var_os("BERTH_TEST_TMPDIR")
        .map(PathBuf::from)
        .unwrap_or_else(std::env::temp_dir)
}

/// `<pid> <start time>` of this process, written to `.owner` in every harness temp dir.
fn owner_stamp(pid: u32) -> Option<String> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let start = stat[stat.rfind(')')? + 2..].split_whitespace().nth(19)?;
    Some(format!("{pid} {start}"))
}

/// Removes harness temp dirs (and their processes and mounts) left by test processes that were
/// killed before they could clean up. Dirs whose owner still runs are left alone.
fn sweep_stale_temp_dirs(base: &std::path::Path) {
    let Ok(entries) = std::fs::read_dir(base) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if !TEMP_PREFIXES.iter().any(|p| name.starts_with(p)) {
            continue;
        }
        let Ok(stamp) = std::fs::read_to_string(entry.path().join(".owner")) else {
            continue;
        };
        let owner_alive = stamp
            .split_whitespace()
            .next()
            .and_then(|pid| pid.parse().ok())
            .and_then(owner_stamp)
            .is_some_and(|now| now == stamp.trim());
        if !owner_alive {
            eprintln!("[harness] removing stale {}", entry.path().display());
            // What its engine kept on the host (bridges, rules) goes too; read before the dir.
            let root = entry.path().join("root");
            let bridges = netenv::recorded_bridges(&root);
            let table = netenv::nft_table(&root);
            cleanup_dir(&entry.path());
            netenv::cleanup(&bridges, &table);
        }
    }
}

/// A fresh temp dir (canonical path) under `BERTH_TEST_TMPDIR` or the system temp dir; `prefix`
/// must be one of the harness's. The caller owns its removal (see [`cleanup_dir`]); dirs of test
/// processes that died without cleaning up are swept the first time a later process calls this.
pub fn make_temp_dir(prefix: &str) -> PathBuf {
    static SWEPT: std::sync::Once = std::sync::Once::new();
    assert!(
        TEMP_PREFIXES.contains(&prefix),
        "unknown temp dir prefix {prefix}"
    );
    let base = temp_base();
    std::fs::create_dir_all(&base).expect("create temp base dir");
    SWEPT.call_once(|| sweep_stale_temp_dirs(&base));
    let dir = tempfile::Builder::new()
        .prefix(prefix)
        .tempdir_in(&base)
        .expect("create temp dir")
        .keep();
    if let Some(stamp) = owner_stamp(std::process::id()) {
        std::fs::write(dir.join(".owner"), stamp).expect("write .owner");
    }
    dir.canonicalize().expect("canonicalize temp dir")
}

/// Polls `probe` every 50 ms until it gives a value; panics after `timeout`, saying `what` was
/// awaited and what the last probe saw. For states reached asynchronously (restarts, logs).
pub fn wait_until<T>(
    what: &str,
    timeout: std::time::Duration,
    mut probe: impl FnMut() -> Result<T, String>,
) -> T {
    let deadline = std::time::Instant::now() + timeout;
    loop {
        match probe() {
            Ok(v) => return v,
            Err(seen) if std::time::Instant::now() >= deadline => {
                panic!("{what}: not after {timeout:?} (last seen: {seen})")
            }
            Err(_) => std::thread::sleep(std::time::Duration::from_millis(50)),
        }
    }
}

/// A fresh engine with the fixture registry's `busybox:latest` already pulled; returns the engine
/// and the image reference (the start of most end-to-end tests).
pub fn engine_with_busybox() -> (Berthd, String) {
    let reg = fixture_registry();
    let d = Berthd::start();
    let img = reg.image("busybox:latest");
    d.docker_ok(&["pull", "-q", &img]);
    (d, img)
}
