//! Cgroups, shared by the containers (limits, stats) and the monitor (the runtime's cgroup):
//! where the hierarchies are mounted, which cgroups a process is in, and the migration lock.

pub mod lock;
pub mod procfs;

use std::path::Path;
use std::sync::OnceLock;

pub use procfs::{cgroup_memberships, parse_cgroup_mounts, CgroupMounts};

/// The cgroup mounts, read once: they do not move while berthd runs.
pub fn mounts() -> &'static CgroupMounts {
    static MOUNTS: OnceLock<CgroupMounts> = OnceLock::new();
    MOUNTS.get_or_init(|| {
        std::fs::read_to_string(Path::new("/proc/self/mountinfo"))
            .map(|t| parse_cgroup_mounts(&t))
            .unwrap_or_default()
    })
}
