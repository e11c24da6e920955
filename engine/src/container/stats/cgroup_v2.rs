//! cgroup v2: one directory per container (`/sys/fs/cgroup/berth/<id>`) holding every
//! controller's files. Mapped to the API the way dockerd maps containerd's `cgroup2` metrics:
//! microseconds become nanoseconds, `io.stat` becomes read/write entries, no per-CPU usage.

use std::collections::BTreeMap;
use std::path::Path;

use super::{parse_flat_keyed, parse_limit, read_text, read_u64};
use crate::api::types::stats::{BlkioStatEntry, ContainerStats, CpuUsage, ThrottlingData};

/// The `memory.stat` keys dockerd reports on cgroup v2.
const MEMORY_KEYS: &[&str] = &[
    "anon",
    "file",
    "kernel_stack",
    "slab",
    "sock",
    "shmem",
    "file_mapped",
    "file_dirty",
    "file_writeback",
    "anon_thp",
    "inactive_anon",
    "active_anon",
    "inactive_file",
    "active_file",
    "unevictable",
    "slab_reclaimable",
    "slab_unreclaimable",
    "pgfault",
    "pgmajfault",
    "workingset_refault",
    "workingset_activate",
    "workingset_nodereclaim",
    "pgrefill",
    "pgscan",
    "pgsteal",
    "pgactivate",
    "pgdeactivate",
    "pglazyfree",
    "pglazyfreed",
    "thp_fault_alloc",
    "thp_collapse_alloc",
];

/// Fills the cgroup parts of `out` from the container's unified directory.
pub fn read(dir: &Path, out: &mut ContainerStats) {
    let cpu = read_text(&dir.join("cpu.stat")).map(|t| parse_flat_keyed(&t));
    let usec = |key: &str| {
        cpu.as_ref()
            .and_then(|m| m.get(key).copied())
            .map(|us| us.saturating_mul(1000))
    };
    out.cpu_stats.cpu_usage = CpuUsage {
        total_usage: usec("usage_usec"),
        percpu_usage: None,
        usage_in_kernelmode: usec("system_usec"),
        usage_in_usermode: usec("user_usec"),
    };
    out.cpu_stats.throttling_data = ThrottlingData {
        periods: cpu.as_ref().and_then(|m| m.get("nr_periods").copied()),
        throttled_periods: cpu.as_ref().and_then(|m| m.get("nr_throttled").copied()),
        throttled_time: usec("throttled_usec"),
    };

    let m = &mut out.memory_stats;
    m.usage = read_u64(&dir.join("memory.current"));
    m.limit = read_text(&dir.join("memory.max")).and_then(|t| parse_limit(&t));
    m.stats = read_text(&dir.join("memory.stat"))
        .map(|t| memory_stats(&parse_flat_keyed(&t)))
        .unwrap_or_default();
    // dockerd reports the OOM count of `memory.events` as the failure count.
    m.failcnt = read_text(&dir.join("memory.events"))
        .and_then(|t| parse_flat_keyed(&t).get("oom").copied());

    out.pids_stats.current = read_u64(&dir.join("pids.current"));
    out.pids_stats.limit = read_text(&dir.join("pids.max")).and_then(|t| parse_limit(&t));

    out.blkio_stats.io_service_bytes_recursive =
        read_text(&dir.join("io.stat")).map(|t| parse_io_stat(&t));
}

/// The keys dockerd reports, taken from a parsed `memory.stat`.
pub fn memory_stats(stat: &BTreeMap<String, u64>) -> BTreeMap<String, u64> {
    MEMORY_KEYS
        .iter()
        .filter_map(|k| stat.get(*k).map(|v| (k.to_string(), *v)))
        .collect()
}

/// `io.stat`: `MAJ:MIN rbytes=N wbytes=N rios=N wios=N dbytes=N dios=N` per device, as a `read`
/// and a `write` entry each (dockerd's shape for `io_service_bytes_recursive` on v2).
pub fn parse_io_stat(text: &str) -> Vec<BlkioStatEntry> {
    let mut out = Vec::new();
    for line in text.lines() {
        let mut f = line.split_whitespace();
        let Some((major, minor)) = f.next().and_then(|d| d.split_once(':')) else {
            continue;
        };
        let (Ok(major), Ok(minor)) = (major.parse::<u64>(), minor.parse::<u64>()) else {
            continue;
        };
        let mut rbytes = None;
        let mut wbytes = None;
        for kv in f {
            match kv.split_once('=') {
                Some(("rbytes", v)) => rbytes = v.parse::<u64>().ok(),
                Some(("wbytes", v)) => wbytes = v.parse::<u64>().ok(),
                _ => {}
            }
        }
        for (op, value) in [("read", rbytes), ("write", wbytes)] {
            if let Some(value) = value {
                out.push(BlkioStatEntry {
                    major,
                    minor,
                    op: op.into(),
                    value,
                });
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_stat_keys_of_v2() {
        let text = "\
anon 1339392
file 8192000
kernel_stack 16384
inactive_anon 1331200
active_anon 8192
inactive_file 8175616
active_file 16384
pgfault 1234
zswap 0
";
        let m = memory_stats(&parse_flat_keyed(text));
        assert_eq!(m["anon"], 1339392);
        assert_eq!(m["inactive_file"], 8175616);
        assert_eq!(m["pgfault"], 1234);
        assert!(!m.contains_key("zswap"));
    }

    #[test]
    fn cpu_stat_is_flat_keyed_microseconds() {
        let m = parse_flat_keyed(
            "usage_usec 2500000\nuser_usec 2000000\nsystem_usec 500000\nnr_periods 10\nnr_throttled 2\nthrottled_usec 7\ncore_sched.force_idle_usec 0\n",
        );
        assert_eq!(m["usage_usec"], 2_500_000);
        assert_eq!(m["nr_throttled"], 2);
        assert_eq!(m["throttled_usec"], 7);
    }

    #[test]
    fn io_stat_gives_read_and_write_per_device() {
        let text = "\
8:0 rbytes=1073152 wbytes=4096 rios=31 wios=1 dbytes=0 dios=0
253:1 rbytes=x wbytes=512 rios=0 wios=1 dbytes=0 dios=0
junk
";
        let e = parse_io_stat(text);
        assert_eq!(e.len(), 3, "{e:?}");
        assert_eq!(
            (e[0].major, e[0].minor, e[0].op.as_str(), e[0].value),
            (8, 0, "read", 1073152)
        );
        assert_eq!((e[1].op.as_str(), e[1].value), ("write", 4096));
        assert_eq!(
            (e[2].major, e[2].minor, e[2].op.as_str(), e[2].value),
            (253, 1, "write", 512)
        );
    }

    #[test]
    fn pids_and_limits() {
        assert_eq!(parse_limit("max\n"), None);
        assert_eq!(parse_limit("4096\n"), Some(4096));
        assert_eq!(parse_limit("lots\n"), None);
    }

    #[test]
    fn a_missing_directory_leaves_fields_out() {
        let mut s = ContainerStats::empty("id", "/n");
        read(Path::new("/nonexistent/berth/cgroup"), &mut s);
        assert_eq!(s.cpu_stats.cpu_usage.total_usage, None);
        assert_eq!(s.memory_stats.usage, None);
        assert!(s.memory_stats.stats.is_empty());
        assert_eq!(s.blkio_stats.io_service_bytes_recursive, None);
    }
}
