//! Starting the wait for the kernel's cgroup migration lock early.
//!
//! Moving a process into a cgroup, which runc does for every container start (crun on
//! cgroup v2 clones straight into the cgroup instead), takes the kernel's global
//! `cgroup_threadgroup_rwsem` for writing. The first writer after a quiet spell waits a whole
//! RCU grace period for it (7–30 ms measured here); writers within a grace period of another
//! do not. So a start asks for the lock itself, through a no-op move of the asking process
//! (berthd as the start begins, the monitor as it starts the runtime) into the cgroup it is
//! already in, in the background: the grace period then passes during the network and bundle
//! setup and the runtime's own start-up rather than after them (`runc run -d` alone,
//! interleaved: 42 → 30 ms median here). The lock's quick phase lasts only about one grace
//! period after its last writer, hence twice.
//!
//! A pid that does not exist would not do: the kernel looks the task up before taking the lock.
//!
//! Not for execs: for those runc (1.1, built with Go ≥ 1.19) sets the rlimits from outside
//! while the new process's Go runtime raises its own NOFILE soft limit, and only the slow
//! cgroup join kept the outside write last (an exec saw `ulimit -n` 2048 instead of 1024).

use std::path::PathBuf;

use super::{cgroup_memberships, CgroupMounts};

/// Asks for the lock in the background. Never blocks the caller and never fails: nothing
/// depends on it but speed.
pub fn warm_up() {
    tokio::task::spawn_blocking(|| {
        let Some(path) = own_procs_file() else {
            return;
        };
        if let Err(e) = std::fs::write(&path, std::process::id().to_string()) {
            // A cgroup v2 parent with controllers refuses with EBUSY, after taking the lock.
            tracing::trace!(path = %path.display(), error = %e, "no-op cgroup move");
        }
    });
}

/// `cgroup.procs` of the cgroup this process is in, read afresh so the move is always to where
/// it is.
fn own_procs_file() -> Option<PathBuf> {
    let cgroups = std::fs::read_to_string("/proc/self/cgroup").ok()?;
    procs_files(super::mounts(), &cgroups)
        .into_iter()
        .find(|p| p.exists())
}

/// Every hierarchy's `cgroup.procs` for the memberships of `/proc/<pid>/cgroup`. Any one will
/// do: the lock is global.
fn procs_files(mounts: &CgroupMounts, proc_cgroup: &str) -> Vec<PathBuf> {
    cgroup_memberships(proc_cgroup)
        .filter_map(|(controllers, path)| {
            let mount = if controllers.is_empty() {
                mounts.unified.as_ref()
            } else {
                controllers.split(',').find_map(|c| mounts.v1.get(c))
            }?;
            Some(
                mount
                    .join(path.trim_start_matches('/'))
                    .join("cgroup.procs"),
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_follow_membership_and_mounts() {
        let mut mounts = CgroupMounts::default();
        mounts
            .v1
            .insert("pids".into(), PathBuf::from("/sys/fs/cgroup/pids"));
        mounts
            .v1
            .insert("cpu".into(), PathBuf::from("/sys/fs/cgroup/cpu,cpuacct"));
        mounts.unified = Some(PathBuf::from("/sys/fs/cgroup/unified"));
        let text = "9:name=systemd:/user.slice\n4:cpu,cpuacct:/a/b\n3:pids:/\n0::/user.slice\n";
        assert_eq!(
            procs_files(&mounts, text),
            [
                PathBuf::from("/sys/fs/cgroup/cpu,cpuacct/a/b/cgroup.procs"),
                PathBuf::from("/sys/fs/cgroup/pids/cgroup.procs"),
                PathBuf::from("/sys/fs/cgroup/unified/user.slice/cgroup.procs"),
            ]
        );
        assert!(procs_files(&CgroupMounts::default(), text).is_empty());
    }

    #[test]
    fn our_own_cgroup_is_found() {
        // Wherever cgroups are mounted, this process is in one of them.
        let mounts = crate::cgroup::mounts();
        if !mounts.v1.is_empty() || mounts.unified.is_some() {
            assert!(own_procs_file().is_some(), "{mounts:?}");
        }
    }
}
