//! Checking `Resources` as dockerd does, in dockerd's order and words: runconfig's decode checks,
//! `verifyPlatformContainerResources` (which also drops what the machine cannot enforce, with a
//! warning), `adaptContainerSettings` at create, and `UpdateContainer`'s merge at update.
//!
//! A few checks are ours, for values dockerd passes on for the runtime to refuse at start (a
//! negative quota, a bad ulimit): here they fail the create instead, so that nothing is left
//! behind and the message names the option.

use super::features::CgroupFeatures;
use super::{cpuset, ulimit};
use crate::api::types::{HostConfig, Resources};

/// dockerd's floor for `--memory` and `--memory-reservation`: room for the runtime to start.
pub const MIN_MEMORY: i64 = 6 * 1024 * 1024;

/// What a check needs to know about the machine.
pub struct Host<'a> {
    pub features: &'a CgroupFeatures,
    /// CPUs this process may run on (Go's `runtime.NumCPU`).
    pub ncpu: usize,
}

/// Everything a create checks; returns the warnings for the client. `r` is left as it will be
/// stored: unsupported settings dropped, dockerd's defaults filled in.
pub fn for_create(r: &mut Resources, host: &Host) -> Result<Vec<String>, String> {
    decode_checks(r)?;
    own_checks(r)?;
    for dev in device_paths(r) {
        super::oci::device_numbers(dev)?;
    }
    let warnings = verify(r, host, false)?;
    adapt_for_create(r);
    Ok(warnings)
}

/// Everything an update checks before it is merged (`merge_update`); returns the warnings.
pub fn for_update(r: &mut Resources, host: &Host) -> Result<Vec<String>, String> {
    // dockerd takes device throttles in updates only from API 1.55; ours is older.
    r.blkio_weight_device = None;
    r.blkio_device_read_bps = None;
    r.blkio_device_write_bps = None;
    r.blkio_device_read_iops = None;
    r.blkio_device_write_iops = None;
    // Both 0 and -1 mean "unlimited" in an update; stored as 0.
    if r.pids_limit.is_some_and(|p| p <= 0) {
        r.pids_limit = Some(0);
    }
    own_checks(r)?;
    verify(r, host, true)
}

fn device_paths(r: &Resources) -> impl Iterator<Item = &str> {
    let weights = r
        .blkio_weight_device
        .iter()
        .flatten()
        .map(|d| d.path.as_str());
    let throttles = [
        &r.blkio_device_read_bps,
        &r.blkio_device_write_bps,
        &r.blkio_device_read_iops,
        &r.blkio_device_write_iops,
    ]
    .into_iter()
    .flat_map(|l| l.iter().flatten().map(|d| d.path.as_str()));
    weights.chain(throttles)
}

/// runconfig's checks when dockerd decodes a create (`validateQoS`, `validateResources`).
fn decode_checks(r: &Resources) -> Result<(), String> {
    if r.io_maximum_bandwidth != 0 {
        return Err(
            "invalid option: QoS maximum bandwidth configuration is not supported on linux".into(),
        );
    }
    if r.io_maximum_iops != 0 {
        return Err(
            "invalid option: QoS maximum IOPs configuration is not supported on linux".into(),
        );
    }
    Ok(())
}

/// Values the runtime would refuse at start (or misread), refused here with dockerd's wording
/// where dockerd has some.
fn own_checks(r: &Resources) -> Result<(), String> {
    // Real-time CPU time needs a budget carved out of every parent cgroup (dockerd's
    // --cpu-rt-runtime); berthd sets none up, so the runtime could only fail.
    if r.cpu_realtime_period != 0 || r.cpu_realtime_runtime != 0 {
        return Err(
            "CPU real-time scheduling (--cpu-rt-period, --cpu-rt-runtime) is not supported by this engine"
                .into(),
        );
    }
    if r.cpu_shares < 0 {
        return Err(format!(
            "invalid CPU shares ({}): value must be a positive integer",
            r.cpu_shares
        ));
    }
    if r.memory_reservation < 0 {
        return Err("Minimum memory reservation allowed is 6MB".into());
    }
    if r.memory_swap < -1 {
        return Err(
            "Minimum memoryswap limit should be larger than memory limit, see usage".into(),
        );
    }
    // -1 is "no quota"; anything below is nothing.
    if r.cpu_quota < -1 {
        return Err("CPU cfs quota can not be less than 1ms (i.e. 1000)".into());
    }
    for u in r.ulimits.iter().flatten() {
        ulimit::check(u)?;
    }
    Ok(())
}

/// moby's `verifyPlatformContainerResources`.
pub fn verify(r: &mut Resources, host: &Host, update: bool) -> Result<Vec<String>, String> {
    let f = host.features;
    let mut warnings: Vec<String> = Vec::new();
    let mut warn = |w: &str| warnings.push(w.to_string());
    // The CLI sends -1 for "not set".
    if r.memory_swappiness == Some(-1) {
        r.memory_swappiness = None;
    }

    // memory
    if r.memory != 0 && r.memory < MIN_MEMORY {
        return Err("Minimum memory limit allowed is 6MB".into());
    }
    if r.memory > 0 && !f.memory_limit {
        warn("Your kernel does not support memory limit capabilities or the cgroup is not mounted. Limitation discarded.");
        r.memory = 0;
        r.memory_swap = -1;
    }
    if r.memory > 0 && r.memory_swap != -1 && !f.swap_limit {
        warn("Your kernel does not support swap limit capabilities or the cgroup is not mounted. Memory limited without swap.");
        r.memory_swap = -1;
    }
    if r.memory > 0 && r.memory_swap > 0 && r.memory_swap < r.memory {
        return Err(
            "Minimum memoryswap limit should be larger than memory limit, see usage".into(),
        );
    }
    if r.memory == 0 && r.memory_swap > 0 && !update {
        return Err(
            "You should always set the Memory limit when using Memoryswap limit, see usage".into(),
        );
    }
    if r.memory_swappiness.is_some() && !f.memory_swappiness {
        warn("Your kernel does not support memory swappiness capabilities or the cgroup is not mounted. Memory swappiness discarded.");
        r.memory_swappiness = None;
    }
    if let Some(s) = r.memory_swappiness {
        if !(0..=100).contains(&s) {
            return Err(format!(
                "Invalid value: {s}, valid memory swappiness range is 0-100"
            ));
        }
    }
    if r.memory_reservation > 0 && !f.memory_reservation {
        warn("Your kernel does not support memory soft limit capabilities or the cgroup is not mounted. Limitation discarded.");
        r.memory_reservation = 0;
    }
    if r.memory_reservation > 0 && r.memory_reservation < MIN_MEMORY {
        return Err("Minimum memory reservation allowed is 6MB".into());
    }
    if r.memory > 0 && r.memory_reservation > 0 && r.memory < r.memory_reservation {
        return Err(
            "Minimum memory limit can not be less than memory reservation limit, see usage".into(),
        );
    }
    if r.oom_kill_disable.is_some() && !f.oom_kill_disable {
        // Asking for the default (false) needs no warning.
        if r.oom_kill_disable == Some(true) {
            warn("Your kernel does not support OomKillDisable. OomKillDisable discarded.");
        }
        r.oom_kill_disable = None;
    }
    if r.oom_kill_disable == Some(true) && r.memory == 0 {
        warn("OOM killer is disabled for the container, but no memory limit is set, this can result in the system running out of resources.");
    }
    if r.pids_limit.is_some() && !f.pids_limit {
        if r.pids_limit.is_some_and(|p| p > 0) {
            warn("Your kernel does not support PIDs limit capabilities or the cgroup is not mounted. PIDs limit discarded.");
        }
        r.pids_limit = None;
    }

    // cpu
    if r.nano_cpus > 0 && r.cpu_period > 0 {
        return Err("Conflicting options: Nano CPUs and CPU Period cannot both be set".into());
    }
    if r.nano_cpus > 0 && r.cpu_quota > 0 {
        return Err("Conflicting options: Nano CPUs and CPU Quota cannot both be set".into());
    }
    if r.nano_cpus > 0 && !f.cpu_cfs {
        return Err("NanoCPUs can not be set, as your kernel does not support CPU CFS scheduler or the cgroup is not mounted".into());
    }
    if r.nano_cpus != 0 {
        let nc = host.ncpu as i64;
        if r.nano_cpus < 0 || r.nano_cpus > nc.saturating_mul(1_000_000_000) {
            return Err(format!(
                "range of CPUs is from 0.01 to {nc}.00, as there are only {nc} CPUs available"
            ));
        }
    }
    if r.cpu_shares > 0 && !f.cpu_shares {
        warn("Your kernel does not support CPU shares or the cgroup is not mounted. Shares discarded.");
        r.cpu_shares = 0;
    }
    if (r.cpu_period != 0 || r.cpu_quota != 0) && !f.cpu_cfs {
        warn("Your kernel does not support CPU CFS scheduler. CPU period/quota discarded.");
        r.cpu_period = 0;
        r.cpu_quota = 0;
    }
    if r.cpu_period != 0 && !(1000..=1_000_000).contains(&r.cpu_period) {
        return Err(
            "CPU cfs period can not be less than 1ms (i.e. 1000) or larger than 1s (i.e. 1000000)"
                .into(),
        );
    }
    if r.cpu_quota > 0 && r.cpu_quota < 1000 {
        return Err("CPU cfs quota can not be less than 1ms (i.e. 1000)".into());
    }
    if r.cpu_percent > 0 {
        warn("linux does not support CPU percent. Percent discarded.");
        r.cpu_percent = 0;
    }

    // cpuset
    if (!r.cpuset_cpus.is_empty() || !r.cpuset_mems.is_empty()) && !f.cpuset {
        warn("Your kernel does not support cpuset or the cgroup is not mounted. Cpuset discarded.");
        r.cpuset_cpus.clear();
        r.cpuset_mems.clear();
    }
    match cpuset::is_available(&r.cpuset_cpus, &f.cpus) {
        Err(e) => {
            return Err(format!(
                "Invalid value {} for cpuset cpus: {e}",
                r.cpuset_cpus
            ))
        }
        Ok(false) => {
            return Err(format!(
                "Requested CPUs are not available - requested {}, available: {}",
                r.cpuset_cpus, f.cpus
            ))
        }
        Ok(true) => {}
    }
    match cpuset::is_available(&r.cpuset_mems, &f.mems) {
        Err(e) => {
            return Err(format!(
                "Invalid value {} for cpuset mems: {e}",
                r.cpuset_mems
            ))
        }
        Ok(false) => {
            return Err(format!(
                "Requested memory nodes are not available - requested {}, available: {}",
                r.cpuset_mems, f.mems
            ))
        }
        Ok(true) => {}
    }

    // blkio
    if r.blkio_weight > 0 && !f.blkio_weight {
        warn("Your kernel does not support Block I/O weight or the cgroup is not mounted. Weight discarded.");
        r.blkio_weight = 0;
    }
    if r.blkio_weight > 0 && !(10..=1000).contains(&r.blkio_weight) {
        return Err("Range of blkio weight is from 10 to 1000".into());
    }
    if r.io_maximum_bandwidth != 0 || r.io_maximum_iops != 0 {
        return Err(
            "Invalid QoS settings: linux does not support Maximum IO Bandwidth or Maximum IO IOps"
                .into(),
        );
    }
    let drop_devices =
        |list: &mut Option<Vec<_>>, supported: bool, msg: &str, w: &mut Vec<String>| {
            if list.as_ref().is_some_and(|l: &Vec<_>| !l.is_empty()) && !supported {
                w.push(msg.to_string());
                *list = Some(Vec::new());
            }
        };
    if r.blkio_weight_device
        .as_ref()
        .is_some_and(|l| !l.is_empty())
        && !f.blkio_weight_device
    {
        warnings.push("Your kernel does not support Block I/O weight_device or the cgroup is not mounted. Weight-device discarded.".into());
        r.blkio_weight_device = Some(Vec::new());
    }
    drop_devices(&mut r.blkio_device_read_bps, f.blkio_read_bps_device, "Your kernel does not support BPS Block I/O read limit or the cgroup is not mounted. Block I/O BPS read limit discarded.", &mut warnings);
    drop_devices(&mut r.blkio_device_write_bps, f.blkio_write_bps_device, "Your kernel does not support BPS Block I/O write limit or the cgroup is not mounted. Block I/O BPS write limit discarded.", &mut warnings);
    drop_devices(&mut r.blkio_device_read_iops, f.blkio_read_iops_device, "Your kernel does not support IOPS Block read limit or the cgroup is not mounted. Block I/O IOPS read limit discarded.", &mut warnings);
    drop_devices(&mut r.blkio_device_write_iops, f.blkio_write_iops_device, "Your kernel does not support IOPS Block write limit or the cgroup is not mounted. Block I/O IOPS write limit discarded.", &mut warnings);
    Ok(warnings)
}

/// moby's `adaptContainerSettings`, the resource part: what a new container's record holds for
/// settings the client left out.
fn adapt_for_create(r: &mut Resources) {
    if r.memory > 0 && r.memory_swap == 0 {
        // Swap defaults to as much again as the memory limit.
        r.memory_swap = r.memory * 2;
    }
    if r.oom_kill_disable.is_none() {
        r.oom_kill_disable = Some(false);
    }
}

/// moby's `UpdateContainer`: folds an update into the stored host config. A zero (or absent)
/// field leaves the stored value alone. Err is a conflict with what is stored.
pub fn merge_update(
    hc: &mut HostConfig,
    u: &Resources,
    restart: &crate::api::types::RestartPolicy,
) -> Result<(), String> {
    let c = &mut hc.resources;
    // NanoCpus and CpuPeriod/CpuQuota both set the CFS quota: once one is in use the other
    // cannot be added.
    if u.nano_cpus > 0 && c.cpu_period > 0 {
        return Err(
            "Conflicting options: Nano CPUs cannot be updated as CPU Period has already been set"
                .into(),
        );
    }
    if u.nano_cpus > 0 && c.cpu_quota > 0 {
        return Err(
            "Conflicting options: Nano CPUs cannot be updated as CPU Quota has already been set"
                .into(),
        );
    }
    if u.cpu_period > 0 && c.nano_cpus > 0 {
        return Err(
            "Conflicting options: CPU Period cannot be updated as NanoCPUs has already been set"
                .into(),
        );
    }
    if u.cpu_quota > 0 && c.nano_cpus > 0 {
        return Err(
            "Conflicting options: CPU Quota cannot be updated as NanoCPUs has already been set"
                .into(),
        );
    }
    if u.blkio_weight != 0 {
        c.blkio_weight = u.blkio_weight;
    }
    if u.cpu_shares != 0 {
        c.cpu_shares = u.cpu_shares;
    }
    if u.nano_cpus != 0 {
        c.nano_cpus = u.nano_cpus;
    }
    if u.cpu_period != 0 {
        c.cpu_period = u.cpu_period;
    }
    if u.cpu_quota != 0 {
        c.cpu_quota = u.cpu_quota;
    }
    if !u.cpuset_cpus.is_empty() {
        c.cpuset_cpus = u.cpuset_cpus.clone();
    }
    if !u.cpuset_mems.is_empty() {
        c.cpuset_mems = u.cpuset_mems.clone();
    }
    if u.memory != 0 {
        // A limit above the stored memory+swap would be refused by the kernel (v1) unless the
        // swap limit moves with it.
        if u.memory > c.memory_swap && u.memory_swap == 0 {
            return Err("Memory limit should be smaller than already set memoryswap limit, update the memoryswap at the same time".into());
        }
        c.memory = u.memory;
    }
    if u.memory_swap != 0 {
        c.memory_swap = u.memory_swap;
    }
    if u.memory_reservation != 0 {
        c.memory_reservation = u.memory_reservation;
    }
    if u.pids_limit.is_some() {
        c.pids_limit = u.pids_limit;
    }
    if !restart.name.is_empty() {
        if hc.auto_remove && restart.name != "no" {
            return Err(
                "Restart policy cannot be updated because AutoRemove is enabled for the container"
                    .into(),
            );
        }
        hc.restart_policy = restart.clone();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::types::{RestartPolicy, ThrottleDevice, Ulimit};

    fn all() -> CgroupFeatures {
        CgroupFeatures {
            unified: false,
            memory_limit: true,
            swap_limit: true,
            memory_reservation: true,
            oom_kill_disable: true,
            memory_swappiness: true,
            cpu_shares: true,
            cpu_cfs: true,
            blkio_weight: true,
            blkio_weight_device: true,
            blkio_read_bps_device: true,
            blkio_write_bps_device: true,
            blkio_read_iops_device: true,
            blkio_write_iops_device: true,
            cpuset: true,
            cpus: "0-3".into(),
            mems: "0".into(),
            pids_limit: true,
        }
    }

    fn create(
        f: &CgroupFeatures,
        edit: impl FnOnce(&mut Resources),
    ) -> Result<(Resources, Vec<String>), String> {
        let mut r = Resources::default();
        edit(&mut r);
        let w = for_create(
            &mut r,
            &Host {
                features: f,
                ncpu: 4,
            },
        )?;
        Ok((r, w))
    }

    type Edit = Box<dyn FnOnce(&mut Resources)>;

    fn create_err(edit: impl FnOnce(&mut Resources)) -> String {
        create(&all(), edit).expect_err("should be refused")
    }

    #[test]
    fn each_refusal_has_dockerds_words() {
        const MIB: i64 = 1024 * 1024;
        let cases: Vec<(Edit, &str)> = vec![
            (Box::new(|r| r.memory = 4 * MIB), "Minimum memory limit allowed is 6MB"),
            (Box::new(|r| r.memory = -1), "Minimum memory limit allowed is 6MB"),
            (
                Box::new(|r| {
                    r.memory = 64 * MIB;
                    r.memory_swap = 32 * MIB;
                }),
                "Minimum memoryswap limit should be larger than memory limit, see usage",
            ),
            (
                Box::new(|r| r.memory_swap = 64 * MIB),
                "You should always set the Memory limit when using Memoryswap limit, see usage",
            ),
            (
                Box::new(|r| r.memory_swappiness = Some(101)),
                "Invalid value: 101, valid memory swappiness range is 0-100",
            ),
            (
                Box::new(|r| r.memory_reservation = MIB),
                "Minimum memory reservation allowed is 6MB",
            ),
            (
                Box::new(|r| {
                    r.memory = 16 * MIB;
                    r.memory_reservation = 32 * MIB;
                }),
                "Minimum memory limit can not be less than memory reservation limit, see usage",
            ),
            (
                Box::new(|r| {
                    r.nano_cpus = 500_000_000;
                    r.cpu_period = 100_000;
                }),
                "Conflicting options: Nano CPUs and CPU Period cannot both be set",
            ),
            (
                Box::new(|r| {
                    r.nano_cpus = 500_000_000;
                    r.cpu_quota = 50_000;
                }),
                "Conflicting options: Nano CPUs and CPU Quota cannot both be set",
            ),
            (
                Box::new(|r| r.nano_cpus = 5_000_000_000),
                "range of CPUs is from 0.01 to 4.00, as there are only 4 CPUs available",
            ),
            (
                Box::new(|r| r.nano_cpus = -1),
                "range of CPUs is from 0.01 to 4.00, as there are only 4 CPUs available",
            ),
            (
                Box::new(|r| r.cpu_period = 999),
                "CPU cfs period can not be less than 1ms (i.e. 1000) or larger than 1s (i.e. 1000000)",
            ),
            (
                Box::new(|r| r.cpu_quota = 999),
                "CPU cfs quota can not be less than 1ms (i.e. 1000)",
            ),
            (
                Box::new(|r| r.cpu_shares = -2),
                "invalid CPU shares (-2): value must be a positive integer",
            ),
            (
                Box::new(|r| r.cpuset_cpus = "0-a".into()),
                "Invalid value 0-a for cpuset cpus: invalid format: 0-a",
            ),
            (
                Box::new(|r| r.cpuset_cpus = "1,7".into()),
                "Requested CPUs are not available - requested 1,7, available: 0-3",
            ),
            (
                Box::new(|r| r.cpuset_mems = "1".into()),
                "Requested memory nodes are not available - requested 1, available: 0",
            ),
            (
                Box::new(|r| r.blkio_weight = 5),
                "Range of blkio weight is from 10 to 1000",
            ),
            (
                Box::new(|r| r.io_maximum_iops = 5),
                "invalid option: QoS maximum IOPs configuration is not supported on linux",
            ),
            (
                Box::new(|r| {
                    r.blkio_device_read_bps = Some(vec![ThrottleDevice {
                        path: "/dev/berth-no-such-disk".into(),
                        rate: 1,
                    }])
                }),
                "stat /dev/berth-no-such-disk: no such file or directory",
            ),
            (
                Box::new(|r| {
                    r.ulimits = Some(vec![Ulimit {
                        name: "nofile".into(),
                        soft: 20,
                        hard: 10,
                    }])
                }),
                "ulimit soft limit must be less than or equal to hard limit: 20 > 10",
            ),
        ];
        for (edit, want) in cases {
            assert_eq!(create_err(edit), want);
        }
        assert!(create_err(|r| r.cpu_realtime_runtime = 950_000).contains("not supported"));
    }

    #[test]
    fn defaults_filled_like_dockerd() {
        let (r, w) = create(&all(), |r| {
            r.memory = 64 << 20;
            r.memory_swappiness = Some(-1);
        })
        .unwrap();
        assert!(w.is_empty());
        assert_eq!(
            r.memory_swap,
            128 << 20,
            "swap defaults to twice the memory"
        );
        assert_eq!(r.memory_swappiness, None, "-1 means unset");
        assert_eq!(r.oom_kill_disable, Some(false));
        assert_eq!(r.pids_limit, None);
        let (r, _) = create(&all(), |r| {
            r.memory = 64 << 20;
            r.memory_swap = -1;
        })
        .unwrap();
        assert_eq!(r.memory_swap, -1, "unlimited swap stays so");
    }

    #[test]
    fn missing_features_are_dropped_with_a_warning() {
        let f = CgroupFeatures {
            cpus: "0-3".into(),
            mems: "0".into(),
            cpuset: true,
            memory_limit: true,
            ..Default::default()
        };
        let (r, w) = create(&f, |r| {
            r.memory = 64 << 20;
            r.pids_limit = Some(10);
            r.cpu_shares = 512;
            r.blkio_weight = 300;
            r.oom_kill_disable = Some(false);
        })
        .unwrap();
        assert_eq!(r.memory, 64 << 20);
        assert_eq!(
            r.memory_swap, -1,
            "no swap accounting: memory limited without swap"
        );
        assert_eq!((r.pids_limit, r.cpu_shares, r.blkio_weight), (None, 0, 0));
        assert_eq!(r.oom_kill_disable, Some(false));
        assert_eq!(w.len(), 4, "{w:?}");
        assert!(w[0].starts_with("Your kernel does not support swap limit"));
        let e = create(&f, |r| r.nano_cpus = 1_000_000_000).unwrap_err();
        assert!(e.starts_with("NanoCPUs can not be set"), "{e}");
    }

    #[test]
    fn updates_merge_like_dockerd() {
        let mut hc = HostConfig::default();
        let (r, _) = create(&all(), |r| {
            r.memory = 64 << 20;
            r.nano_cpus = 500_000_000;
            r.pids_limit = Some(50);
        })
        .unwrap();
        hc.resources = r;
        let host = Host {
            features: &all(),
            ncpu: 4,
        };

        let mut u = Resources {
            memory: 128 << 20,
            memory_swap: 256 << 20,
            pids_limit: Some(80),
            ..Default::default()
        };
        for_update(&mut u, &host).unwrap();
        let policy = RestartPolicy {
            name: "always".into(),
            maximum_retry_count: 0,
        };
        merge_update(&mut hc, &u, &policy).unwrap();
        let c = &hc.resources;
        assert_eq!(
            (c.memory, c.memory_swap, c.pids_limit),
            (128 << 20, 256 << 20, Some(80))
        );
        assert_eq!(c.nano_cpus, 500_000_000, "untouched");
        assert_eq!(hc.restart_policy.name, "always");

        let mut u = Resources {
            memory: 512 << 20,
            ..Default::default()
        };
        for_update(&mut u, &host).unwrap();
        assert_eq!(
            merge_update(&mut hc, &u, &RestartPolicy::default()).unwrap_err(),
            "Memory limit should be smaller than already set memoryswap limit, update the memoryswap at the same time"
        );
        let u = Resources {
            cpu_quota: 50_000,
            ..Default::default()
        };
        assert_eq!(
            merge_update(&mut hc, &u, &RestartPolicy::default()).unwrap_err(),
            "Conflicting options: CPU Quota cannot be updated as NanoCPUs has already been set"
        );
        let mut u = Resources {
            pids_limit: Some(-1),
            ..Default::default()
        };
        for_update(&mut u, &host).unwrap();
        assert_eq!(u.pids_limit, Some(0), "-1 is stored as 0 (unlimited)");
        // Swap without memory is fine in an update (the stored memory limit applies).
        let mut u = Resources {
            memory_swap: 512 << 20,
            ..Default::default()
        };
        assert!(for_update(&mut u, &host).is_ok());

        hc.auto_remove = true;
        assert_eq!(
            merge_update(&mut hc, &Resources::default(), &policy).unwrap_err(),
            "Restart policy cannot be updated because AutoRemove is enabled for the container"
        );
    }
}
