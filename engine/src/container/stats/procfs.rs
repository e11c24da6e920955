//! What stats read from `/proc`: the host's CPU time (`/proc/stat`), a container's interfaces
//! (`/proc/<pid>/net/dev`, which shows the network namespace of that process) and where the
//! cgroup hierarchies are mounted (`/proc/self/mountinfo`).

use std::collections::BTreeMap;

use crate::api::types::stats::NetworkStats;

/// The `cpu` line of `/proc/stat` and how many CPUs it lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SystemCpu {
    /// user + nice + system + idle + iowait + irq + softirq, in clock ticks (what moby sums).
    pub total_ticks: u64,
    /// The `cpuN` lines: CPUs online now.
    pub online_cpus: u32,
}

impl SystemCpu {
    /// The total in nanoseconds, as `system_cpu_usage` reports it.
    pub fn total_ns(&self, clk_tck: u64) -> u64 {
        let ns = u128::from(self.total_ticks) * 1_000_000_000 / u128::from(clk_tck.max(1));
        u64::try_from(ns).unwrap_or(u64::MAX)
    }
}

/// Parses `/proc/stat`. None when the aggregate `cpu` line is missing or malformed.
pub fn parse_proc_stat(text: &str) -> Option<SystemCpu> {
    let mut total = None;
    let mut online = 0u32;
    // The cpu lines come first (glibc relies on that too); stop at the first other line.
    for line in text.lines() {
        let Some(rest) = line.strip_prefix("cpu") else {
            break;
        };
        if rest.starts_with(' ') {
            let fields: Vec<&str> = rest.split_whitespace().collect();
            if fields.len() < 7 {
                return None;
            }
            let mut sum = 0u64;
            for f in &fields[..7] {
                sum = sum.checked_add(f.parse::<u64>().ok()?)?;
            }
            total = Some(sum);
        } else if rest.starts_with(|c: char| c.is_ascii_digit()) {
            online += 1;
        }
    }
    total.map(|total_ticks| SystemCpu {
        total_ticks,
        online_cpus: online,
    })
}

/// Parses `/proc/net/dev`: every interface but the loopback. Lines that do not parse are skipped.
pub fn parse_net_dev(text: &str) -> BTreeMap<String, NetworkStats> {
    let mut out = BTreeMap::new();
    for line in text.lines() {
        // The two header lines have no ':' before their '|' columns; data lines are `name: n n …`
        // (the counter can touch the colon when it is wide, so split on it, not on spaces).
        let Some((name, counters)) = line.split_once(':') else {
            continue;
        };
        let name = name.trim();
        if name.is_empty() || name == "lo" || name.contains('|') {
            continue;
        }
        let nums: Option<Vec<u64>> = counters
            .split_whitespace()
            .map(|n| n.parse::<u64>().ok())
            .collect();
        let Some(n) = nums.filter(|n| n.len() >= 16) else {
            tracing::debug!(line, "unparsable /proc/net/dev line");
            continue;
        };
        // Receive: bytes packets errs drop fifo frame compressed multicast; transmit: bytes
        // packets errs drop fifo colls carrier compressed.
        out.insert(
            name.to_string(),
            NetworkStats {
                rx_bytes: n[0],
                rx_packets: n[1],
                rx_errors: n[2],
                rx_dropped: n[3],
                tx_bytes: n[8],
                tx_packets: n[9],
                tx_errors: n[10],
                tx_dropped: n[11],
            },
        );
    }
    out
}

/// Clock ticks per second, for converting `/proc/stat` and `cpuacct.stat` ticks.
pub fn clock_ticks() -> u64 {
    // SAFETY: sysconf only reads a system constant.
    let v = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if v > 0 {
        v as u64
    } else {
        100
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PROC_STAT: &str = "\
cpu  10132153 290696 3084719 46828483 16683 0 25195 0 175628 0
cpu0 1393280 32966 572056 13343292 6130 0 17875 0 23933 0
cpu1 1335887 34567 485283 13526145 5131 0 1940 0 21744 0
intr 1462898 22 9 0 0 0 0 3 0 1 0 0 0 0 0 0 0 0
ctxt 2318452
btime 1700000000
";

    #[test]
    fn proc_stat_sums_seven_fields_and_counts_cpus() {
        let s = parse_proc_stat(PROC_STAT).unwrap();
        assert_eq!(
            s.total_ticks,
            10132153 + 290696 + 3084719 + 46828483 + 16683 + 25195
        );
        assert_eq!(s.online_cpus, 2);
        assert_eq!(s.total_ns(100), s.total_ticks * 10_000_000);
    }

    #[test]
    fn proc_stat_garbage_is_absent_not_a_panic() {
        assert_eq!(parse_proc_stat(""), None);
        assert_eq!(parse_proc_stat("cpu  1 2 3\n"), None);
        assert_eq!(parse_proc_stat("cpu  1 2 x 4 5 6 7\n"), None);
        assert_eq!(parse_proc_stat("intr 1 2\n"), None);
    }

    const NET_DEV: &str = "\
Inter-|   Receive                                                |  Transmit
 face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed
    lo:     840      10    0    0    0     0          0         0      840      10    0    0    0     0       0          0
  eth0:12345678901     105    1    2    0     0          0         0     4242      42    3    4    0     0       0          0
  eth1: 1 2 3
";

    #[test]
    fn net_dev_skips_loopback_and_short_lines() {
        let n = parse_net_dev(NET_DEV);
        assert_eq!(n.len(), 1, "{n:?}");
        let e = &n["eth0"];
        assert_eq!(e.rx_bytes, 12345678901);
        assert_eq!(e.rx_packets, 105);
        assert_eq!(e.rx_errors, 1);
        assert_eq!(e.rx_dropped, 2);
        assert_eq!(e.tx_bytes, 4242);
        assert_eq!(e.tx_packets, 42);
        assert_eq!(e.tx_errors, 3);
        assert_eq!(e.tx_dropped, 4);
    }
}
