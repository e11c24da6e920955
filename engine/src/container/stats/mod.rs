//! Resource usage of a running container, sampled from its cgroup, `/proc/stat` and the network
//! namespace of its init process, in the shape of `GET /containers/{id}/stats`.
//!
//! Nothing here fails a request: a file that cannot be read or parsed leaves its fields out
//! (logged at debug), because one odd controller must not hide the rest of the numbers.

pub mod cgroup_v1;
pub mod cgroup_v2;
pub mod procfs;
pub mod series;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::network::{mode_of, Mode};
use super::runtime::CgroupMode;
use super::{Container, ContainerService};
use crate::api::types::stats::ContainerStats;
use crate::cgroup::mounts;

/// Where a container's cgroup lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CgroupDir {
    V1(cgroup_v1::Dirs),
    V2(PathBuf),
}

impl CgroupDir {
    /// `cgroups_path` is what the OCI spec asked the runtime for (`/berth/<id>`).
    pub fn new(mode: &CgroupMode, cgroups_path: &str) -> Self {
        let m = mounts();
        match mode {
            // Hybrid hosts run containers on the v1 controllers; the unified tree has none.
            CgroupMode::V1 | CgroupMode::Hybrid => {
                CgroupDir::V1(cgroup_v1::Dirs::new(m, cgroups_path))
            }
            CgroupMode::V2 => CgroupDir::V2(
                m.unified
                    .clone()
                    .unwrap_or_else(|| PathBuf::from("/sys/fs/cgroup"))
                    .join(cgroups_path.trim_start_matches('/')),
            ),
        }
    }

    /// Every process in the cgroup and the cgroups below it (a container may make its own).
    pub fn procs(&self) -> std::io::Result<Vec<u32>> {
        let root = match self {
            // Every process is in exactly one cgroup of each v1 controller; pids is the one
            // made for counting them, memory the one that is always there.
            CgroupDir::V1(d) if d.pids.is_dir() => &d.pids,
            CgroupDir::V1(d) => &d.memory,
            CgroupDir::V2(d) => d,
        };
        let mut pids = Vec::new();
        collect_procs(root, &mut pids)?;
        pids.sort_unstable();
        pids.dedup();
        Ok(pids)
    }
}

fn collect_procs(dir: &Path, out: &mut Vec<u32>) -> std::io::Result<()> {
    let text = std::fs::read_to_string(dir.join("cgroup.procs"))?;
    out.extend(text.lines().filter_map(|l| l.trim().parse::<u32>().ok()));
    for e in std::fs::read_dir(dir)?.flatten() {
        if e.file_type().is_ok_and(|t| t.is_dir()) {
            // A child that vanished meanwhile is no error.
            if let Err(err) = collect_procs(&e.path(), out) {
                tracing::debug!(dir = %e.path().display(), error = %err, "skipping cgroup");
            }
        }
    }
    Ok(())
}

/// What one sample of a running container needs, taken from its record under the lock.
#[derive(Debug, Clone)]
pub struct Target {
    pub id: String,
    /// With the leading slash, as dockerd reports it.
    pub name: String,
    pub pid: i32,
    pub cgroup: CgroupDir,
    /// False for `host` networking (the host's interfaces are not the container's) and for
    /// disabled networking; `container:` mode reports the shared namespace, as dockerd does.
    pub networks: bool,
}

impl ContainerService {
    pub fn cgroup_dir(&self, id: &str) -> CgroupDir {
        CgroupDir::new(&self.cfg.runtimes.cgroup, &format!("/berth/{id}"))
    }

    /// None when the container is not running (nothing to sample).
    pub fn stats_target(&self, c: &Container) -> Option<Target> {
        let d = c.lock();
        let pid = d.st.state.pid()?;
        let networks = mode_of(&d.rec.host_config) != Mode::Host
            && d.rec.config.network_disabled != Some(true);
        Some(Target {
            id: c.id.clone(),
            name: d.rec.name.clone(),
            pid: i32::try_from(pid).ok()?,
            cgroup: self.cgroup_dir(&c.id),
            networks,
        })
    }
}

/// One sample (blocking file reads; call it off the async workers). The `pre*` fields are left
/// zero for the caller to fill from the previous sample.
pub fn sample(t: &Target) -> ContainerStats {
    let mut s = ContainerStats::empty(&t.id, &t.name);
    s.read = crate::timestamp::now_rfc3339();
    match &t.cgroup {
        CgroupDir::V1(d) => cgroup_v1::read(d, procfs::clock_ticks(), &mut s),
        CgroupDir::V2(d) => cgroup_v2::read(d, &mut s),
    }
    if s.memory_stats.usage.is_some() {
        // No limit, or one above the host's memory, reads as the host's memory (dockerd's rule).
        if let Some(host) = host_memory() {
            if s.memory_stats.limit.is_none_or(|l| l > host) {
                s.memory_stats.limit = Some(host);
            }
        }
    }
    // Read right after the cgroup so that the two CPU counters cover the same instant.
    if let Some(sys) = read_text(Path::new("/proc/stat")).and_then(|t| procfs::parse_proc_stat(&t))
    {
        s.cpu_stats.system_cpu_usage = Some(sys.total_ns(procfs::clock_ticks()));
        s.cpu_stats.online_cpus = Some(sys.online_cpus);
    }
    if t.networks {
        // /proc/<pid>/net/dev shows the interfaces of the namespace that process is in.
        s.networks = read_text(&PathBuf::from(format!("/proc/{}/net/dev", t.pid)))
            .map(|t| procfs::parse_net_dev(&t))
            .unwrap_or_default();
    }
    s
}

fn host_memory() -> Option<u64> {
    nix::sys::sysinfo::sysinfo()
        .ok()
        .map(|s| s.ram_total())
        .filter(|m| *m > 0)
}

/// A cgroup or proc file's text; None (logged) when it cannot be read.
pub(crate) fn read_text(path: &Path) -> Option<String> {
    match std::fs::read_to_string(path) {
        Ok(t) => Some(t),
        Err(e) => {
            tracing::debug!(path = %path.display(), error = %e, "stats file not read");
            None
        }
    }
}

/// A file holding one number (`memory.usage_in_bytes`, `pids.current`, …).
pub(crate) fn read_u64(path: &Path) -> Option<u64> {
    read_text(path).and_then(|t| t.trim().parse().ok())
}

/// A limit file: a number, or `max` for none (None either way when it does not parse).
pub(crate) fn parse_limit(text: &str) -> Option<u64> {
    match text.trim() {
        "max" => None,
        n => n.parse().ok(),
    }
}

/// The `key value` lines of `memory.stat`, `cpu.stat`, `cpuacct.stat`, `memory.events`; a line
/// whose value is not a number is skipped.
pub(crate) fn parse_flat_keyed(text: &str) -> BTreeMap<String, u64> {
    text.lines()
        .filter_map(|l| {
            let (k, v) = l.split_once(' ')?;
            Some((k.to_string(), v.trim().parse().ok()?))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flat_keyed_skips_bad_lines() {
        let m = parse_flat_keyed("a 1\nb x\nc\nd 4 \n");
        assert_eq!(m.len(), 2);
        assert_eq!(m["a"], 1);
        assert_eq!(m["d"], 4);
    }

    #[test]
    fn procs_are_collected_recursively() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("cgroup.procs"), "12\n7\n").unwrap();
        std::fs::create_dir(dir.path().join("child")).unwrap();
        std::fs::write(dir.path().join("child/cgroup.procs"), "30\n12\n").unwrap();
        let got = CgroupDir::V2(dir.path().to_path_buf()).procs().unwrap();
        assert_eq!(got, vec![7, 12, 30]);
        assert!(CgroupDir::V2(dir.path().join("gone")).procs().is_err());
    }

    #[test]
    fn sampling_a_target_without_cgroup_has_no_made_up_numbers() {
        let t = Target {
            id: "x".into(),
            name: "/x".into(),
            pid: i32::MAX,
            cgroup: CgroupDir::V2("/nonexistent".into()),
            networks: true,
        };
        let s = sample(&t);
        assert_ne!(s.read, crate::timestamp::ZERO_TIME);
        assert_eq!(s.memory_stats.usage, None);
        assert_eq!(
            s.memory_stats.limit, None,
            "no usage, so no host limit either"
        );
        assert!(s.networks.is_empty());
        // /proc/stat is real here.
        assert!(s.cpu_stats.system_cpu_usage.is_some_and(|v| v > 0));
        assert!(s.cpu_stats.online_cpus.is_some_and(|v| v > 0));
    }
}
