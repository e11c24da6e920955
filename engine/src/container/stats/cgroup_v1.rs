//! cgroup v1 (also hybrid hosts, whose controllers are v1): one directory per controller, e.g.
//! `/sys/fs/cgroup/memory/berth/<id>`. The files and the keys dockerd reports from them follow
//! containerd's `cgroup1` metrics, which is what dockerd serves on such hosts.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::{parse_flat_keyed, parse_limit, read_text, read_u64};
use crate::api::types::stats::{BlkioStatEntry, ContainerStats, CpuUsage, ThrottlingData};
use crate::cgroup::CgroupMounts;

/// The `memory.stat` keys dockerd reports on cgroup v1.
const MEMORY_KEYS: &[&str] = &[
    "cache",
    "rss",
    "rss_huge",
    "mapped_file",
    "dirty",
    "writeback",
    "pgpgin",
    "pgpgout",
    "pgfault",
    "pgmajfault",
    "inactive_anon",
    "active_anon",
    "inactive_file",
    "active_file",
    "unevictable",
    "hierarchical_memory_limit",
    "hierarchical_memsw_limit",
    "total_cache",
    "total_rss",
    "total_rss_huge",
    "total_mapped_file",
    "total_dirty",
    "total_writeback",
    "total_pgpgin",
    "total_pgpgout",
    "total_pgfault",
    "total_pgmajfault",
    "total_inactive_anon",
    "total_active_anon",
    "total_inactive_file",
    "total_active_file",
    "total_unevictable",
];

/// A container's directory in each controller it is read from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dirs {
    pub cpu: PathBuf,
    pub cpuacct: PathBuf,
    pub memory: PathBuf,
    pub pids: PathBuf,
    pub blkio: PathBuf,
}

impl Dirs {
    /// `cgroups_path` is the spec's absolute path (`/berth/<id>`), which runc places under each
    /// controller's mount point.
    pub fn new(mounts: &CgroupMounts, cgroups_path: &str) -> Self {
        let rel = cgroups_path.trim_start_matches('/');
        let at = |controller: &str| {
            mounts
                .v1
                .get(controller)
                .cloned()
                .unwrap_or_else(|| Path::new("/sys/fs/cgroup").join(controller))
                .join(rel)
        };
        Dirs {
            cpu: at("cpu"),
            cpuacct: at("cpuacct"),
            memory: at("memory"),
            pids: at("pids"),
            blkio: at("blkio"),
        }
    }
}

/// Fills the cgroup parts of `out` (CPU, memory, pids, block I/O) from the controllers' files.
pub fn read(dirs: &Dirs, clk_tck: u64, out: &mut ContainerStats) {
    let acct = read_text(&dirs.cpuacct.join("cpuacct.stat")).map(|t| parse_flat_keyed(&t));
    let ticks = |key: &str| {
        acct.as_ref()
            .and_then(|m| m.get(key).copied())
            .map(|t| ticks_to_ns(t, clk_tck))
    };
    out.cpu_stats.cpu_usage = CpuUsage {
        total_usage: read_u64(&dirs.cpuacct.join("cpuacct.usage")),
        percpu_usage: read_text(&dirs.cpuacct.join("cpuacct.usage_percpu"))
            .and_then(|t| parse_percpu(&t)),
        usage_in_kernelmode: ticks("system"),
        usage_in_usermode: ticks("user"),
    };
    let cpu = read_text(&dirs.cpu.join("cpu.stat")).map(|t| parse_flat_keyed(&t));
    let get = |key: &str| cpu.as_ref().and_then(|m| m.get(key).copied());
    out.cpu_stats.throttling_data = ThrottlingData {
        periods: get("nr_periods"),
        throttled_periods: get("nr_throttled"),
        throttled_time: get("throttled_time"),
    };

    let m = &mut out.memory_stats;
    m.usage = read_u64(&dirs.memory.join("memory.usage_in_bytes"));
    m.max_usage = read_u64(&dirs.memory.join("memory.max_usage_in_bytes"));
    m.limit = read_u64(&dirs.memory.join("memory.limit_in_bytes"));
    m.failcnt = read_u64(&dirs.memory.join("memory.failcnt"));
    m.stats = read_text(&dirs.memory.join("memory.stat"))
        .map(|t| memory_stats(&parse_flat_keyed(&t)))
        .unwrap_or_default();

    out.pids_stats.current = read_u64(&dirs.pids.join("pids.current"));
    out.pids_stats.limit = read_text(&dirs.pids.join("pids.max")).and_then(|t| parse_limit(&t));

    let b = &mut out.blkio_stats;
    b.io_service_bytes_recursive =
        read_text(&dirs.blkio.join("blkio.throttle.io_service_bytes")).map(|t| parse_blkio(&t));
    b.io_serviced_recursive =
        read_text(&dirs.blkio.join("blkio.throttle.io_serviced")).map(|t| parse_blkio(&t));
}

/// `cpuacct.stat` counts in clock ticks; the API wants nanoseconds.
pub fn ticks_to_ns(ticks: u64, clk_tck: u64) -> u64 {
    let ns = u128::from(ticks) * 1_000_000_000 / u128::from(clk_tck.max(1));
    u64::try_from(ns).unwrap_or(u64::MAX)
}

/// `cpuacct.usage_percpu`: one nanosecond counter per possible CPU, space separated.
pub fn parse_percpu(text: &str) -> Option<Vec<u64>> {
    text.split_whitespace().map(|n| n.parse().ok()).collect()
}

/// The keys dockerd reports, taken from a parsed `memory.stat`.
pub fn memory_stats(stat: &BTreeMap<String, u64>) -> BTreeMap<String, u64> {
    MEMORY_KEYS
        .iter()
        .filter_map(|k| stat.get(*k).map(|v| (k.to_string(), *v)))
        .collect()
}

/// `blkio.throttle.io_service_bytes` / `io_serviced`: `MAJ:MIN Op value` lines (Read, Write,
/// Sync, Async, Discard, Total) and a closing `Total value` line, which is not per device.
pub fn parse_blkio(text: &str) -> Vec<BlkioStatEntry> {
    text.lines()
        .filter_map(|line| {
            let mut f = line.split_whitespace();
            let (dev, op, value) = (f.next()?, f.next()?, f.next()?);
            let (major, minor) = dev.split_once(':')?;
            Some(BlkioStatEntry {
                major: major.parse().ok()?,
                minor: minor.parse().ok()?,
                op: op.to_string(),
                value: value.parse().ok()?,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const MEMORY_STAT: &str = "\
cache 4096000
rss 1208320
rss_huge 0
shmem 0
mapped_file 0
dirty 4096
writeback 0
pgpgin 1530
pgpgout 235
pgfault 1917
pgmajfault 0
inactive_anon 1204224
active_anon 0
inactive_file 4087808
active_file 8192
unevictable 0
hierarchical_memory_limit 9223372036854771712
hierarchical_memsw_limit 9223372036854771712
total_cache 4096000
total_rss 1208320
total_inactive_file 4087808
total_active_file 8192
total_unevictable not-a-number
";

    #[test]
    fn memory_stat_keeps_dockers_keys_and_drops_bad_values() {
        let m = memory_stats(&parse_flat_keyed(MEMORY_STAT));
        assert_eq!(m["cache"], 4096000);
        assert_eq!(m["total_inactive_file"], 4087808);
        assert_eq!(m["hierarchical_memory_limit"], 9223372036854771712);
        assert!(!m.contains_key("shmem"), "not one of dockerd's v1 keys");
        assert!(
            !m.contains_key("total_unevictable"),
            "unparsable values are left out"
        );
    }

    #[test]
    fn percpu_with_trailing_space() {
        assert_eq!(
            parse_percpu("17197410 1819259 \n"),
            Some(vec![17197410, 1819259])
        );
        assert_eq!(parse_percpu("12 x\n"), None);
    }

    #[test]
    fn cpuacct_stat_ticks_become_nanoseconds() {
        let s = parse_flat_keyed("user 250\nsystem 31\n");
        assert_eq!(ticks_to_ns(s["user"], 100), 2_500_000_000);
        assert_eq!(ticks_to_ns(s["system"], 100), 310_000_000);
    }

    #[test]
    fn blkio_entries_without_the_total_line() {
        let text = "\
8:0 Read 40960
8:0 Write 8192
8:0 Sync 49152
8:0 Async 0
8:0 Discard 0
8:0 Total 49152
bad:line Read 1
Total 49152
";
        let e = parse_blkio(text);
        assert_eq!(e.len(), 6);
        assert_eq!(
            e[0],
            BlkioStatEntry {
                major: 8,
                minor: 0,
                op: "Read".into(),
                value: 40960
            }
        );
        assert_eq!(e[1].op, "Write");
        assert_eq!(e[1].value, 8192);
        assert!(parse_blkio("Total 0\n").is_empty());
    }

    #[test]
    fn dirs_follow_the_mounts() {
        let mut mounts = CgroupMounts::default();
        mounts
            .v1
            .insert("cpu".into(), "/sys/fs/cgroup/cpu,cpuacct".into());
        mounts
            .v1
            .insert("cpuacct".into(), "/sys/fs/cgroup/cpu,cpuacct".into());
        let d = Dirs::new(&mounts, "/berth/abc");
        assert_eq!(
            d.cpuacct,
            PathBuf::from("/sys/fs/cgroup/cpu,cpuacct/berth/abc")
        );
        assert_eq!(d.memory, PathBuf::from("/sys/fs/cgroup/memory/berth/abc"));
    }
}
