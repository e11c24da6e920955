//! Devices of a container: dockerd's device-cgroup allowlist for an ordinary container, and for
//! `--privileged` every device node of the host with access to all of them.

use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::Path;

use oci_spec::runtime::{
    LinuxDevice, LinuxDeviceBuilder, LinuxDeviceCgroup, LinuxDeviceCgroupBuilder, LinuxDeviceType,
};

fn rule(allow: bool, typ: Option<(LinuxDeviceType, i64, i64)>) -> LinuxDeviceCgroup {
    let mut b = LinuxDeviceCgroupBuilder::default()
        .allow(allow)
        .access("rwm");
    if let Some((t, major, minor)) = typ {
        b = b.typ(t).major(major).minor(minor);
    }
    // The builder only fails on missing required fields; `allow` is always set.
    b.build().unwrap_or_default()
}

/// moby's default spec: deny everything, then the standard nodes (null, zero, full, random,
/// urandom, tty, console, ptmx…), and /dev/net/tun (10:229) explicitly denied.
pub fn default_cgroup_rules() -> Vec<LinuxDeviceCgroup> {
    use LinuxDeviceType::C;
    let mut rules = vec![rule(false, None)];
    for (major, minor) in [(1, 5), (1, 3), (1, 9), (1, 8), (5, 0), (5, 1)] {
        rules.push(rule(true, Some((C, major, minor))));
    }
    rules.push(rule(false, Some((C, 10, 229))));
    rules
}

/// `--privileged`: every device allowed.
pub fn privileged_cgroup_rules() -> Vec<LinuxDeviceCgroup> {
    vec![rule(true, None)]
}

/// The host's device nodes under /dev, as containerd's `HostDevices` lists them for dockerd:
/// the per-instance directories (pts, shm, mqueue, fd) and /dev/console are left out.
pub fn host_devices() -> Vec<LinuxDevice> {
    let mut out = Vec::new();
    walk(Path::new("/dev"), &mut out);
    out
}

fn walk(dir: &Path, out: &mut Vec<LinuxDevice>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let path = e.path();
        // symlink_metadata: links (like /dev/fd) are not followed.
        let Ok(md) = std::fs::symlink_metadata(&path) else {
            continue;
        };
        let ft = md.file_type();
        if ft.is_dir() {
            let name = e.file_name();
            if !matches!(
                name.to_str(),
                Some("pts" | "shm" | "fd" | "mqueue" | ".lxc" | ".lxd-mounts" | ".udev")
            ) {
                walk(&path, out);
            }
            continue;
        }
        if path == Path::new("/dev/console") {
            continue;
        }
        let typ = if ft.is_char_device() {
            LinuxDeviceType::C
        } else if ft.is_block_device() {
            LinuxDeviceType::B
        } else {
            continue;
        };
        let rdev = md.rdev();
        let dev = LinuxDeviceBuilder::default()
            .path(path)
            .typ(typ)
            .major(i64::from(libc::major(rdev)))
            .minor(i64::from(libc::minor(rdev)))
            .file_mode(md.mode() & 0o7777)
            .uid(md.uid())
            .gid(md.gid())
            .build();
        if let Ok(d) = dev {
            out.push(d);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_rules_deny_first() {
        let rules = default_cgroup_rules();
        assert!(!rules[0].allow() && rules[0].major().is_none());
        assert!(rules
            .iter()
            .any(|r| r.allow() && r.major() == Some(1) && r.minor() == Some(3)));
        assert!(privileged_cgroup_rules()[0].allow());
    }

    #[test]
    fn host_devices_include_null() {
        let devs = host_devices();
        assert!(devs.iter().any(|d| d.path() == Path::new("/dev/null")));
        assert!(devs.iter().all(|d| !d.path().starts_with("/dev/pts")));
    }
}
