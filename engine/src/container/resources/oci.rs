//! `Resources` in OCI terms: `linux.resources` and `process.rlimits` of the spec a container
//! starts with (moby's `getMemoryResources`, `getCPUResources`, `getPidsLimit`, blkio), and the
//! `LinuxResources` an update hands to `runtime update` (moby's `toContainerdResources`).
//!
//! The runtime (runc, crun) writes these into cgroup v1 or v2 files itself.

use std::os::unix::fs::MetadataExt;

use oci_spec::runtime::{
    LinuxBlockIo, LinuxCpu, LinuxMemory, LinuxPids, LinuxResources, LinuxThrottleDevice,
    LinuxThrottleDeviceBuilder, LinuxWeightDeviceBuilder, Process, Spec,
};

use crate::api::types::{Resources, ThrottleDevice};

/// CFS period for `--cpus`: 100 ms, as dockerd uses.
const NANO_CPUS_PERIOD_US: u64 = 100_000;

/// `(period, quota)` for `NanoCpus`: `--cpus 1.5` is 150000 µs every 100000 µs.
pub fn nano_cpus_to_cfs(nano_cpus: i64) -> (u64, i64) {
    let quota = nano_cpus.saturating_mul(NANO_CPUS_PERIOD_US as i64) / 1_000_000_000;
    (NANO_CPUS_PERIOD_US, quota)
}

/// Major and minor number of a device node, for blkio limits. Err in dockerd's words.
pub fn device_numbers(path: &str) -> Result<(i64, i64), String> {
    let md = std::fs::metadata(path).map_err(|e| {
        let msg = match e.raw_os_error() {
            // Go prints errno texts in lower case.
            Some(libc::ENOENT) => "no such file or directory".to_string(),
            Some(libc::EACCES) => "permission denied".to_string(),
            _ => e.to_string(),
        };
        format!("stat {path}: {msg}")
    })?;
    let rdev = md.rdev();
    Ok((i64::from(libc::major(rdev)), i64::from(libc::minor(rdev))))
}

fn throttles(list: &[ThrottleDevice]) -> Result<Vec<LinuxThrottleDevice>, String> {
    list.iter()
        .map(|d| {
            let (major, minor) = device_numbers(&d.path)?;
            LinuxThrottleDeviceBuilder::default()
                .major(major)
                .minor(minor)
                .rate(d.rate)
                .build()
                .map_err(|e| e.to_string())
        })
        .collect()
}

fn memory(r: &Resources) -> Option<LinuxMemory> {
    let mut m = LinuxMemory::default();
    if r.memory > 0 {
        m.set_limit(Some(r.memory));
    }
    if r.memory_reservation > 0 {
        m.set_reservation(Some(r.memory_reservation));
    }
    if r.memory_swap > 0 {
        m.set_swap(Some(r.memory_swap));
    }
    if let Some(s) = r.memory_swappiness {
        m.set_swappiness(u64::try_from(s).ok());
    }
    if let Some(d) = r.oom_kill_disable {
        m.set_disable_oom_killer(Some(d));
    }
    (m != LinuxMemory::default()).then_some(m)
}

fn cpu(r: &Resources) -> Option<LinuxCpu> {
    let mut c = LinuxCpu::default();
    if r.cpu_shares > 0 {
        c.set_shares(Some(r.cpu_shares as u64));
    }
    if !r.cpuset_cpus.is_empty() {
        c.set_cpus(Some(r.cpuset_cpus.clone()));
    }
    if !r.cpuset_mems.is_empty() {
        c.set_mems(Some(r.cpuset_mems.clone()));
    }
    if r.nano_cpus > 0 {
        let (period, quota) = nano_cpus_to_cfs(r.nano_cpus);
        c.set_period(Some(period));
        c.set_quota(Some(quota));
    }
    if r.cpu_period > 0 {
        c.set_period(Some(r.cpu_period as u64));
    }
    if r.cpu_quota != 0 {
        c.set_quota(Some(r.cpu_quota));
    }
    (c != LinuxCpu::default()).then_some(c)
}

/// `0` and negative mean unlimited, which the runtime wants as -1 (an update must be able to
/// lift a limit).
fn pids(r: &Resources) -> Option<LinuxPids> {
    let limit = r.pids_limit?;
    let mut p = LinuxPids::default();
    p.set_limit(if limit <= 0 { -1 } else { limit });
    Some(p)
}

fn block_io(r: &Resources) -> Result<Option<LinuxBlockIo>, String> {
    let mut b = LinuxBlockIo::default();
    if r.blkio_weight > 0 {
        b.set_weight(Some(r.blkio_weight));
    }
    if let Some(list) = r.blkio_weight_device.as_ref().filter(|l| !l.is_empty()) {
        let devices = list
            .iter()
            .map(|d| {
                let (major, minor) = device_numbers(&d.path)?;
                LinuxWeightDeviceBuilder::default()
                    .major(major)
                    .minor(minor)
                    .weight(d.weight)
                    .build()
                    .map_err(|e| e.to_string())
            })
            .collect::<Result<Vec<_>, String>>()?;
        b.set_weight_device(Some(devices));
    }
    let lists = [
        &r.blkio_device_read_bps,
        &r.blkio_device_write_bps,
        &r.blkio_device_read_iops,
        &r.blkio_device_write_iops,
    ];
    let [rbps, wbps, riops, wiops] =
        lists.map(|l| l.as_deref().filter(|l| !l.is_empty()).map(throttles));
    if let Some(t) = rbps {
        b.set_throttle_read_bps_device(Some(t?));
    }
    if let Some(t) = wbps {
        b.set_throttle_write_bps_device(Some(t?));
    }
    if let Some(t) = riops {
        b.set_throttle_read_iops_device(Some(t?));
    }
    if let Some(t) = wiops {
        b.set_throttle_write_iops_device(Some(t?));
    }
    Ok((b != LinuxBlockIo::default()).then_some(b))
}

/// Sets the container's limits in a spec built with the engine's defaults: the resource
/// sections it already has (the device allowlist) are kept.
pub fn apply(spec: &mut Spec, r: &Resources) -> Result<(), String> {
    let block_io = block_io(r)?;
    if let Some(p) = spec.process_mut().as_mut() {
        set_rlimits(p, r)?;
    }
    let linux = spec.linux_mut().get_or_insert_with(Default::default);
    let res = linux
        .resources_mut()
        .get_or_insert_with(LinuxResources::default);
    res.set_memory(memory(r));
    res.set_cpu(cpu(r));
    res.set_pids(pids(r));
    res.set_block_io(block_io);
    Ok(())
}

/// The container's ulimits on a process: its init, or an exec (dockerd runs execs with the
/// container's process settings).
pub fn set_rlimits(p: &mut Process, r: &Resources) -> Result<(), String> {
    let rlimits = super::ulimit::rlimits(r.ulimits.as_deref().unwrap_or_default())?;
    p.set_rlimits((!rlimits.is_empty()).then_some(rlimits));
    Ok(())
}

/// What `runtime update` gets for an update request (after `validate::for_update`): only the
/// fields the request sets, so the runtime leaves the others as they are.
pub fn for_update(u: &Resources) -> LinuxResources {
    let mut res = LinuxResources::default();
    let mut c = LinuxCpu::default();
    if u.cpu_shares != 0 {
        c.set_shares(Some(u.cpu_shares as u64));
    }
    if !u.cpuset_cpus.is_empty() {
        c.set_cpus(Some(u.cpuset_cpus.clone()));
    }
    if !u.cpuset_mems.is_empty() {
        c.set_mems(Some(u.cpuset_mems.clone()));
    }
    let (mut period, mut quota) = (0u64, 0i64);
    if u.nano_cpus != 0 {
        (period, quota) = nano_cpus_to_cfs(u.nano_cpus);
    }
    if quota == 0 && u.cpu_quota != 0 {
        quota = u.cpu_quota;
    }
    if period == 0 && u.cpu_period != 0 {
        period = u.cpu_period as u64;
    }
    if period != 0 {
        c.set_period(Some(period));
    }
    if quota != 0 {
        c.set_quota(Some(quota));
    }
    if c != LinuxCpu::default() {
        res.set_cpu(Some(c));
    }
    let mut m = LinuxMemory::default();
    if u.memory != 0 {
        m.set_limit(Some(u.memory));
    }
    if u.memory_reservation != 0 {
        m.set_reservation(Some(u.memory_reservation));
    }
    if u.memory_swap > 0 {
        m.set_swap(Some(u.memory_swap));
    }
    if m != LinuxMemory::default() {
        res.set_memory(Some(m));
    }
    if u.blkio_weight != 0 {
        let mut b = LinuxBlockIo::default();
        b.set_weight(Some(u.blkio_weight));
        res.set_block_io(Some(b));
    }
    res.set_pids(pids(u));
    res
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::types::Ulimit;

    fn spec_for(r: &Resources) -> serde_json::Value {
        let mut spec = Spec::default();
        apply(&mut spec, r).unwrap();
        serde_json::to_value(&spec).unwrap()
    }

    #[test]
    fn cpus_become_a_cfs_quota() {
        assert_eq!(nano_cpus_to_cfs(1_500_000_000), (100_000, 150_000));
        assert_eq!(nano_cpus_to_cfs(500_000_000), (100_000, 50_000));
        assert_eq!(nano_cpus_to_cfs(10_000_000), (100_000, 1_000));
    }

    #[test]
    fn limits_land_in_linux_resources() {
        let r = Resources {
            memory: 64 << 20,
            memory_swap: 128 << 20,
            memory_reservation: 32 << 20,
            memory_swappiness: Some(10),
            oom_kill_disable: Some(false),
            nano_cpus: 1_500_000_000,
            cpu_shares: 512,
            cpuset_cpus: "0-1".into(),
            cpuset_mems: "0".into(),
            pids_limit: Some(50),
            blkio_weight: 300,
            ulimits: Some(vec![Ulimit {
                name: "nofile".into(),
                soft: 1024,
                hard: 2048,
            }]),
            ..Default::default()
        };
        let v = spec_for(&r);
        let res = &v["linux"]["resources"];
        assert_eq!(res["memory"]["limit"], 64 << 20);
        assert_eq!(res["memory"]["swap"], 128 << 20);
        assert_eq!(res["memory"]["reservation"], 32 << 20);
        assert_eq!(res["memory"]["swappiness"], 10);
        assert_eq!(res["memory"]["disableOOMKiller"], false);
        assert_eq!(res["cpu"]["quota"], 150_000);
        assert_eq!(res["cpu"]["period"], 100_000);
        assert_eq!(res["cpu"]["shares"], 512);
        assert_eq!(res["cpu"]["cpus"], "0-1");
        assert_eq!(res["cpu"]["mems"], "0");
        assert_eq!(res["pids"]["limit"], 50);
        assert_eq!(res["blockIO"]["weight"], 300);
        // The rest of the defaults (the device list) is still there.
        assert!(res["devices"].is_array());
        let rl = &v["process"]["rlimits"];
        assert_eq!(rl[0]["type"], "RLIMIT_NOFILE");
        assert_eq!(
            (rl[0]["soft"].as_u64(), rl[0]["hard"].as_u64()),
            (Some(1024), Some(2048))
        );
    }

    #[test]
    fn nothing_set_adds_nothing() {
        let v = spec_for(&Resources::default());
        let res = &v["linux"]["resources"];
        for k in ["memory", "cpu", "pids", "blockIO"] {
            assert!(res[k].is_null(), "{k}: {}", res[k]);
        }
        // Swap -1 (unlimited) and a zero pids limit: nothing, and the runtime's "unlimited".
        let v = spec_for(&Resources {
            memory: 64 << 20,
            memory_swap: -1,
            pids_limit: Some(0),
            cpu_period: 50_000,
            cpu_quota: 25_000,
            ..Default::default()
        });
        let res = &v["linux"]["resources"];
        assert!(res["memory"]["swap"].is_null());
        assert_eq!(res["pids"]["limit"], -1);
        assert_eq!(res["cpu"]["period"], 50_000);
        assert_eq!(res["cpu"]["quota"], 25_000);
    }

    #[test]
    fn updates_carry_only_what_changes() {
        let u = Resources {
            memory: 128 << 20,
            memory_swap: 256 << 20,
            pids_limit: Some(80),
            ..Default::default()
        };
        let v = serde_json::to_value(for_update(&u)).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"memory": {"limit": 134217728, "swap": 268435456}, "pids": {"limit": 80}})
        );
        let u = Resources {
            nano_cpus: 250_000_000,
            pids_limit: Some(0),
            ..Default::default()
        };
        let v = serde_json::to_value(for_update(&u)).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"cpu": {"period": 100000, "quota": 25000}, "pids": {"limit": -1}})
        );
        assert_eq!(
            serde_json::to_value(for_update(&Resources::default())).unwrap(),
            serde_json::json!({})
        );
    }

    #[test]
    fn devices_resolve_to_numbers() {
        // /dev/null is character device 1:3 everywhere.
        assert_eq!(device_numbers("/dev/null").unwrap(), (1, 3));
        assert_eq!(
            device_numbers("/nonexistent/disk").unwrap_err(),
            "stat /nonexistent/disk: no such file or directory"
        );
    }
}
