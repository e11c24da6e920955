//! Which resource limits this machine's cgroups can enforce (moby's `pkg/sysinfo`): the flags of
//! `docker info` and what create/update validation accepts, warns about or discards.
//!
//! cgroup v1 (and hybrid hosts, whose controllers are v1): a controller is there when it is
//! mounted, a feature when its file exists at the controller's root. cgroup v2: a controller is
//! there when the root's `cgroup.controllers` lists it; a feature follows from the controller.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use crate::container::runtime::CgroupMode;

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CgroupFeatures {
    pub unified: bool,
    pub memory_limit: bool,
    pub swap_limit: bool,
    pub memory_reservation: bool,
    pub oom_kill_disable: bool,
    pub memory_swappiness: bool,
    pub cpu_shares: bool,
    pub cpu_cfs: bool,
    pub blkio_weight: bool,
    pub blkio_weight_device: bool,
    pub blkio_read_bps_device: bool,
    pub blkio_write_bps_device: bool,
    pub blkio_read_iops_device: bool,
    pub blkio_write_iops_device: bool,
    pub cpuset: bool,
    /// `cpuset.cpus` / `cpuset.mems` of the root, as the kernel prints them (`0-3`).
    pub cpus: String,
    pub mems: String,
    pub pids_limit: bool,
}

impl CgroupFeatures {
    /// This machine's, probed once: cgroup mounts do not change while berthd runs.
    pub fn host(mode: &CgroupMode) -> &'static CgroupFeatures {
        static HOST: OnceLock<CgroupFeatures> = OnceLock::new();
        HOST.get_or_init(|| {
            let f = match mode {
                CgroupMode::V2 => {
                    let root = crate::cgroup::mounts()
                        .unified
                        .clone()
                        .unwrap_or_else(|| PathBuf::from("/sys/fs/cgroup"));
                    let own = std::fs::read_to_string("/proc/self/cgroup")
                        .ok()
                        .and_then(|t| own_unified_group(&t));
                    Self::probe_v2(&root, own.as_deref())
                }
                CgroupMode::V1 | CgroupMode::Hybrid => Self::probe_v1(&crate::cgroup::mounts().v1),
            };
            tracing::debug!(features = ?f, "cgroup features");
            f
        })
    }

    /// `controllers`: controller name → mount point, as found in mountinfo.
    pub fn probe_v1(controllers: &BTreeMap<String, PathBuf>) -> Self {
        let mut f = CgroupFeatures::default();
        let has = |controller: &str, file: &str| {
            controllers
                .get(controller)
                .is_some_and(|m| m.join(file).exists())
        };
        if controllers.contains_key("memory") {
            f.memory_limit = true;
            f.swap_limit = has("memory", "memory.memsw.limit_in_bytes");
            f.memory_reservation = has("memory", "memory.soft_limit_in_bytes");
            f.oom_kill_disable = has("memory", "memory.oom_control");
            f.memory_swappiness = has("memory", "memory.swappiness");
        }
        f.cpu_shares = has("cpu", "cpu.shares");
        f.cpu_cfs = has("cpu", "cpu.cfs_quota_us");
        f.blkio_weight = has("blkio", "blkio.weight");
        f.blkio_weight_device = has("blkio", "blkio.weight_device");
        f.blkio_read_bps_device = has("blkio", "blkio.throttle.read_bps_device");
        f.blkio_write_bps_device = has("blkio", "blkio.throttle.write_bps_device");
        f.blkio_read_iops_device = has("blkio", "blkio.throttle.read_iops_device");
        f.blkio_write_iops_device = has("blkio", "blkio.throttle.write_iops_device");
        if let Some(m) = controllers.get("cpuset") {
            f.cpuset = true;
            f.cpus = read_trimmed(&m.join("cpuset.cpus"));
            f.mems = read_trimmed(&m.join("cpuset.mems"));
        }
        f.pids_limit = controllers.contains_key("pids");
        f
    }

    /// `root`: the unified mount; `own`: berthd's own group below it (`/system.slice/x`), where
    /// `memory.swap.max` shows whether swap is accounted (the root has no such file).
    pub fn probe_v2(root: &Path, own: Option<&str>) -> Self {
        let controllers: BTreeSet<String> = read_trimmed(&root.join("cgroup.controllers"))
            .split_whitespace()
            .map(str::to_string)
            .collect();
        let has = |c: &str| controllers.contains(c);
        let mut f = CgroupFeatures {
            unified: true,
            ..Default::default()
        };
        if has("memory") {
            f.memory_limit = true;
            f.swap_limit = swap_accounted_v2(root, own);
            f.memory_reservation = true;
            // Neither exists in cgroup v2.
            f.oom_kill_disable = false;
            f.memory_swappiness = false;
        }
        if has("cpu") {
            f.cpu_shares = true;
            f.cpu_cfs = true;
        }
        if has("io") {
            f.blkio_weight = true;
            f.blkio_weight_device = true;
            f.blkio_read_bps_device = true;
            f.blkio_write_bps_device = true;
            f.blkio_read_iops_device = true;
            f.blkio_write_iops_device = true;
        }
        if has("cpuset") {
            f.cpuset = true;
            f.cpus = read_trimmed(&root.join("cpuset.cpus.effective"));
            f.mems = read_trimmed(&root.join("cpuset.mems.effective"));
        }
        f.pids_limit = has("pids");
        f
    }

    /// `docker info`'s warnings for what is missing (dockerd's wording and conditions).
    pub fn info_warnings(&self) -> Vec<String> {
        let v2 = self.unified;
        let mut w = Vec::new();
        let mut add = |missing: bool, msg: &str| {
            if missing {
                w.push(format!("WARNING: {msg}"));
            }
        };
        add(!self.memory_limit, "No memory limit support");
        add(!self.swap_limit, "No swap limit support");
        // cgroup v2 has no such knob: nothing the user could do about it.
        add(!self.oom_kill_disable && !v2, "No oom kill disable support");
        add(!self.cpu_cfs, "No cpu cfs quota support");
        add(!self.cpu_cfs, "No cpu cfs period support");
        add(!self.cpu_shares, "No cpu shares support");
        add(!self.cpuset, "No cpuset support");
        // Kernels since 5.0 have no v1 blkio weight; dockerd stays quiet about it on v1.
        add(!self.blkio_weight && v2, "No io.weight support");
        add(
            !self.blkio_weight_device && v2,
            "No io.weight (per device) support",
        );
        let io = |v2_name: &str, v1_name: &str| {
            if v2 {
                format!("No io.max ({v2_name}) support")
            } else {
                format!("No blkio throttle.{v1_name} support")
            }
        };
        add(!self.blkio_read_bps_device, &io("rbps", "read_bps_device"));
        add(
            !self.blkio_write_bps_device,
            &io("wbps", "write_bps_device"),
        );
        add(
            !self.blkio_read_iops_device,
            &io("riops", "read_iops_device"),
        );
        add(
            !self.blkio_write_iops_device,
            &io("wiops", "write_iops_device"),
        );
        w
    }
}

/// The `0::/path` line of `/proc/self/cgroup`.
fn own_unified_group(proc_self_cgroup: &str) -> Option<String> {
    crate::cgroup::cgroup_memberships(proc_self_cgroup)
        .find(|(controllers, _)| controllers.is_empty())
        .map(|(_, path)| path.to_string())
}

/// Whether `memory.swap.max` exists in a non-root group: berthd's own, or, when berthd sits in
/// the root (a container without systemd), any child of the root.
fn swap_accounted_v2(root: &Path, own: Option<&str>) -> bool {
    if let Some(g) = own
        .map(|g| g.trim_start_matches('/'))
        .filter(|g| !g.is_empty())
    {
        return root.join(g).join("memory.swap.max").exists();
    }
    std::fs::read_dir(root).is_ok_and(|entries| {
        entries
            .flatten()
            .any(|e| e.path().join("memory.swap.max").exists())
    })
}

fn read_trimmed(path: &Path) -> String {
    std::fs::read_to_string(path)
        .map(|s| s.trim().to_string())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn touch(p: &Path, content: &str) {
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, content).unwrap();
    }

    #[test]
    fn v1_features_follow_the_files() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        touch(&root.join("memory/memory.limit_in_bytes"), "");
        touch(&root.join("memory/memory.oom_control"), "");
        touch(&root.join("memory/memory.soft_limit_in_bytes"), "");
        touch(&root.join("cpu/cpu.shares"), "");
        touch(&root.join("cpu/cpu.cfs_quota_us"), "");
        touch(&root.join("cpuset/cpuset.cpus"), "0-3\n");
        touch(&root.join("cpuset/cpuset.mems"), "0\n");
        touch(&root.join("blkio/blkio.throttle.read_bps_device"), "");
        let controllers: BTreeMap<String, PathBuf> = ["memory", "cpu", "cpuset", "blkio", "pids"]
            .iter()
            .map(|c| (c.to_string(), root.join(c)))
            .collect();
        let f = CgroupFeatures::probe_v1(&controllers);
        assert!(f.memory_limit && f.oom_kill_disable && f.memory_reservation);
        assert!(!f.swap_limit, "no memsw file");
        assert!(!f.memory_swappiness);
        assert!(f.cpu_shares && f.cpu_cfs && f.cpuset && f.pids_limit);
        assert_eq!((f.cpus.as_str(), f.mems.as_str()), ("0-3", "0"));
        assert!(f.blkio_read_bps_device && !f.blkio_weight);
        let w = f.info_warnings();
        assert!(w.contains(&"WARNING: No swap limit support".to_string()));
        assert!(w.contains(&"WARNING: No blkio throttle.write_bps_device support".to_string()));
        assert!(!w.iter().any(|m| m.contains("io.weight")), "{w:?}");

        let none = CgroupFeatures::probe_v1(&BTreeMap::new());
        assert_eq!(
            none,
            CgroupFeatures::default(),
            "nothing mounted, nothing supported"
        );
    }

    #[test]
    fn v2_features_follow_the_controllers() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        touch(
            &root.join("cgroup.controllers"),
            "cpuset cpu io memory pids\n",
        );
        touch(&root.join("cpuset.cpus.effective"), "0-1\n");
        touch(&root.join("cpuset.mems.effective"), "0\n");
        touch(&root.join("system.slice/memory.swap.max"), "max\n");
        touch(
            &root.join("system.slice/berth.service/memory.swap.max"),
            "max\n",
        );
        let f = CgroupFeatures::probe_v2(root, Some("/system.slice/berth.service"));
        assert!(f.unified && f.memory_limit && f.swap_limit && f.cpu_cfs && f.pids_limit);
        assert!(!f.oom_kill_disable && !f.memory_swappiness);
        assert!(f.blkio_weight && f.blkio_write_iops_device);
        assert_eq!(f.cpus, "0-1");
        // In the root group, a child shows whether swap is accounted.
        assert!(CgroupFeatures::probe_v2(root, Some("/")).swap_limit);
        assert!(!CgroupFeatures::probe_v2(root, Some("/elsewhere")).swap_limit);
        assert!(f.info_warnings().is_empty(), "{:?}", f.info_warnings());

        touch(&root.join("cgroup.controllers"), "memory\n");
        let f = CgroupFeatures::probe_v2(root, None);
        assert!(f.memory_limit && !f.cpu_cfs && !f.pids_limit);
        let w = f.info_warnings();
        assert!(w.contains(&"WARNING: No io.max (rbps) support".to_string()));
        assert!(!w.iter().any(|m| m.contains("oom kill")), "{w:?}");
    }

    #[test]
    fn own_group_is_the_unified_line() {
        assert_eq!(
            own_unified_group("12:pids:/x\n0::/system.slice/docker.service\n").as_deref(),
            Some("/system.slice/docker.service")
        );
        assert_eq!(own_unified_group("3:memory:/\n"), None);
    }
}
