//! The cgroup hierarchies as the kernel shows them: which cgroups a process is in
//! (`/proc/<pid>/cgroup`) and where each hierarchy is mounted (`/proc/self/mountinfo`).

use std::collections::BTreeMap;
use std::path::PathBuf;

/// The memberships listed in `/proc/<pid>/cgroup` (`id:controllers:path` lines) as
/// `(controllers, path)`; empty controllers is the unified hierarchy, `name=…` a named one.
pub fn cgroup_memberships(proc_cgroup: &str) -> impl Iterator<Item = (&str, &str)> {
    proc_cgroup.lines().filter_map(|line| {
        let mut parts = line.splitn(3, ':');
        let (_, controllers, path) = (parts.next()?, parts.next()?, parts.next()?);
        Some((controllers, path))
    })
}

/// Where each cgroup v1 controller and the v2 hierarchy are mounted.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct CgroupMounts {
    /// controller (`memory`, `cpuacct`, …) → mount point; co-mounted controllers share one.
    pub v1: BTreeMap<String, PathBuf>,
    pub unified: Option<PathBuf>,
}

/// Parses `/proc/self/mountinfo` for cgroup and cgroup2 mounts.
pub fn parse_cgroup_mounts(mountinfo: &str) -> CgroupMounts {
    let mut m = CgroupMounts::default();
    for line in mountinfo.lines() {
        // `id parent maj:min root mountpoint options [optional…] - fstype source superoptions`
        let Some((left, right)) = line.split_once(" - ") else {
            continue;
        };
        let Some(mount_point) = left.split(' ').nth(4).map(unescape_octal) else {
            continue;
        };
        let mut r = right.split(' ');
        let (Some(fstype), Some(_source), Some(opts)) = (r.next(), r.next(), r.next()) else {
            continue;
        };
        match fstype {
            "cgroup2" => {
                m.unified.get_or_insert_with(|| PathBuf::from(&mount_point));
            }
            "cgroup" => {
                for opt in opts.split(',') {
                    // Mount flags and hierarchy options, not controllers.
                    const NOT_CONTROLLERS: &[&str] = &[
                        "rw",
                        "ro",
                        "xattr",
                        "noprefix",
                        "clone_children",
                        "cpuset_v2_mode",
                    ];
                    if NOT_CONTROLLERS.contains(&opt) || opt.contains('=') {
                        continue;
                    }
                    m.v1.entry(opt.to_string())
                        .or_insert_with(|| PathBuf::from(&mount_point));
                }
            }
            _ => {}
        }
    }
    m
}

/// mountinfo writes space, tab, newline and backslash in paths as `\ooo`.
fn unescape_octal(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let escaped = b
            .get(i + 1..i + 4)
            .filter(|d| b[i] == b'\\' && d.iter().all(|c| (b'0'..=b'7').contains(c)))
            .and_then(|d| {
                let v = d.iter().fold(0u16, |acc, c| acc * 8 + u16::from(c - b'0'));
                u8::try_from(v).ok()
            });
        match escaped {
            Some(v) => {
                out.push(v);
                i += 4;
            }
            None => {
                out.push(b[i]);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mountinfo_finds_v1_controllers_and_unified() {
        let text = "\
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,relatime shared:9 - cgroup cgroup rw,cpu,cpuacct
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,xattr,name=systemd
41 31 0:38 / /sys/fs/cgroup/un\\040ified rw,relatime - cgroup2 cgroup2 rw
";
        let m = parse_cgroup_mounts(text);
        assert_eq!(m.v1["cpu"], PathBuf::from("/sys/fs/cgroup/cpu,cpuacct"));
        assert_eq!(m.v1["cpuacct"], PathBuf::from("/sys/fs/cgroup/cpu,cpuacct"));
        assert_eq!(m.v1["memory"], PathBuf::from("/sys/fs/cgroup/memory"));
        assert!(!m.v1.contains_key("name=systemd"));
        assert!(!m.v1.contains_key("xattr"));
        assert_eq!(m.unified, Some(PathBuf::from("/sys/fs/cgroup/un ified")));
    }
}
