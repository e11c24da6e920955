//! A container's resource limits (`HostConfig` `Resources`: memory, CPU, cpuset, pids, blkio,
//! ulimits): what the machine's cgroups support ([`features`]), dockerd's checks and defaults
//! ([`validate`]), and the OCI spec and `runtime update` input they become ([`oci`]).

pub mod cpuset;
pub mod features;
pub mod oci;
pub mod ulimit;
pub mod validate;

pub use features::CgroupFeatures;

use super::ContainerService;

impl ContainerService {
    /// This machine's cgroup features and CPU count, for validation.
    pub fn resource_host(&self) -> validate::Host<'static> {
        validate::Host {
            features: CgroupFeatures::host(&self.cfg.runtimes.cgroup),
            ncpu: online_cpus(),
        }
    }
}

/// CPUs this process may run on (Go's `runtime.NumCPU`, the limit dockerd checks `--cpus`
/// against): the affinity mask, not a cgroup quota.
pub fn online_cpus() -> usize {
    match nix::sched::sched_getaffinity(nix::unistd::Pid::from_raw(0)) {
        Ok(set) => (0..nix::sched::CpuSet::count())
            .filter(|i| set.is_set(*i).unwrap_or(false))
            .count()
            .max(1),
        Err(_) => std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn this_machine_has_cpus() {
        assert!(super::online_cpus() >= 1);
    }
}
