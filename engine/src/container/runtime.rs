//! OCI runtimes (runc, crun, `--add-runtime`): which exist, which work on this host, which is default.
//!
//! Whether a runtime works is found by running it: crun 1.8 refuses hybrid cgroup hierarchies while
//! runc copes, and only a real start shows that. The probe container has an empty rootfs and a missing
//! executable, so a runtime that gets as far as exec'ing it (and fails there) is one that works.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Context};

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CgroupMode {
    V1,
    Hybrid,
    V2,
}

impl CgroupMode {
    pub fn detect() -> Self {
        let is_cg2 = |p: &str| {
            nix::sys::statfs::statfs(p)
                .map(|s| s.filesystem_type() == nix::sys::statfs::CGROUP2_SUPER_MAGIC)
                .unwrap_or(false)
        };
        if is_cg2("/sys/fs/cgroup") {
            CgroupMode::V2
        } else if is_cg2("/sys/fs/cgroup/unified") {
            CgroupMode::Hybrid
        } else {
            CgroupMode::V1
        }
    }

    /// The `CgroupVersion` of `docker info`.
    pub fn version(&self) -> &'static str {
        match self {
            CgroupMode::V2 => "2",
            _ => "1",
        }
    }
}

#[derive(Clone, Debug)]
pub struct Runtimes {
    pub default: String,
    /// `--version` of the default runtime, read once at start (for `docker version`).
    pub default_version: String,
    pub paths: BTreeMap<String, PathBuf>,
    pub cgroup: CgroupMode,
}

impl Runtimes {
    pub fn path(&self, name: &str) -> Option<&Path> {
        self.paths.get(name).map(PathBuf::as_path)
    }

    /// The runtime a container was created with (`HostConfig.Runtime`; records from before it
    /// was stored use the default): its name and binary.
    pub fn of(&self, host_config_runtime: &str) -> crate::error::Result<(String, PathBuf)> {
        let name = if host_config_runtime.is_empty() {
            self.default.as_str()
        } else {
            host_config_runtime
        };
        self.path(name)
            .map(|p| (name.to_string(), p.to_path_buf()))
            .ok_or_else(|| {
                crate::error::EngineError::invalid(format!(
                    "unknown or invalid runtime name: {name}"
                ))
            })
    }
}

fn which(name: &str) -> Option<PathBuf> {
    if name.contains('/') {
        let p = PathBuf::from(name);
        return p.is_file().then_some(p);
    }
    let path = std::env::var_os("PATH")
        .unwrap_or_else(|| "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".into());
    std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

/// Runs a throwaway container to see whether `runtime` works here. Returns the failure reason.
pub fn probe(runtime: &Path, scratch: &Path) -> anyhow::Result<()> {
    let dir = scratch.join(format!("probe-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("rootfs"))?;
    let mut spec = oci_spec::runtime::Spec::default();
    let mut process = oci_spec::runtime::Process::default();
    process.set_args(Some(vec!["/.berth-probe".into()]));
    process.set_terminal(Some(false));
    spec.set_process(Some(process));
    let mut root = oci_spec::runtime::Root::default();
    root.set_path(dir.join("rootfs"));
    spec.set_root(Some(root));
    if let Some(linux) = spec.linux_mut() {
        linux.set_cgroups_path(Some(format!("/berth-probe-{}", std::process::id()).into()));
    }
    spec.save(dir.join("config.json"))
        .context("writing probe bundle")?;
    let id = format!("berth-probe-{}", std::process::id());
    let state_root = dir.join("state");
    let mut child = std::process::Command::new(runtime)
        .arg("--root")
        .arg(&state_root)
        .args(["run", "--bundle"])
        .arg(&dir)
        .arg(&id)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .with_context(|| format!("running {}", runtime.display()))?;
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while child.try_wait()?.is_none() {
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            let _ = std::fs::remove_dir_all(&dir);
            bail!("timed out");
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let out = child.wait_with_output()?;
    let _ = std::process::Command::new(runtime)
        .arg("--root")
        .arg(&state_root)
        .args(["delete", "-f", &id])
        .output();
    let _ = std::fs::remove_dir_all(&dir);
    let msg = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    if msg.contains(".berth-probe") && !msg.contains("cgroup") {
        Ok(())
    } else {
        bail!("{}", msg.trim())
    }
}

/// The version number a runtime prints first (`runc version 1.1.5` → `1.1.5`).
fn version_of(runtime: &Path) -> String {
    std::process::Command::new(runtime)
        .arg("--version")
        .output()
        .ok()
        .and_then(|o| {
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .next()
                .and_then(|l| l.split_whitespace().last().map(str::to_string))
        })
        .unwrap_or_default()
}

/// Finds runc/crun and `--add-runtime` entries, probes them, and picks the default.
pub fn discover(
    requested_default: Option<&str>,
    added: &[(String, PathBuf)],
    scratch: &Path,
) -> anyhow::Result<Runtimes> {
    let cgroup = CgroupMode::detect();
    let mut paths = BTreeMap::new();
    for name in ["crun", "runc"] {
        if let Some(p) = which(name) {
            paths.insert(name.to_string(), p);
        }
    }
    for (name, p) in added {
        let found = which(&p.to_string_lossy())
            .with_context(|| format!("runtime {name}: {} not found", p.display()))?;
        paths.insert(name.clone(), found);
    }
    if paths.is_empty() {
        bail!("no OCI runtime found: install runc or crun");
    }
    let candidates: Vec<String> = match requested_default {
        Some(d) => {
            if !paths.contains_key(d) {
                bail!("default runtime {d} is not a known runtime");
            }
            vec![d.to_string()]
        }
        // crun starts containers faster; prefer it where it works.
        None => ["crun", "runc"]
            .iter()
            .map(|s| s.to_string())
            .chain(added.iter().map(|(n, _)| n.clone()))
            .filter(|n| paths.contains_key(n))
            .collect(),
    };
    let mut reasons = Vec::new();
    for c in &candidates {
        let Some(p) = paths.get(c) else { continue };
        match probe(p, scratch) {
            Ok(()) => {
                tracing::info!(runtime = %c, path = %p.display(), cgroup = ?cgroup, "default OCI runtime");
                return Ok(Runtimes {
                    default_version: version_of(p),
                    default: c.clone(),
                    paths,
                    cgroup,
                });
            }
            Err(e) => {
                tracing::warn!(runtime = %c, error = %e, "runtime does not work on this host");
                reasons.push(format!("{c}: {e}"));
            }
        }
    }
    bail!("no working OCI runtime: {}", reasons.join("; "))
}
