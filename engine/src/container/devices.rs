//! Devices of a container: dockerd's device-cgroup allowlist for an ordinary container, for
//! `--privileged` every device node of the host with access to all of them, and `--device`
//! mappings (a node, or a directory of nodes, with its permissions) on top of either.

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

/// A `--device-cgroup-rule` (`TYPE MAJOR:MINOR ACCESS`, `*` for any number), checked with
/// dockerd's pattern `^([acb]) ([0-9]+|\*):([0-9]+|\*) ([rwm]{1,3})$` and error.
pub fn cgroup_rule(s: &str) -> Result<LinuxDeviceCgroup, String> {
    let bad = || format!("invalid device cgroup rule format: '{s}'");
    let mut parts = s.split(' ');
    let (Some(typ), Some(numbers), Some(access), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(bad());
    };
    let typ = match typ {
        "a" => LinuxDeviceType::A,
        "b" => LinuxDeviceType::B,
        "c" => LinuxDeviceType::C,
        _ => return Err(bad()),
    };
    let number = |n: &str| -> Result<Option<i64>, String> {
        if n == "*" {
            Ok(None)
        } else if !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) {
            n.parse().map(Some).map_err(|_| bad())
        } else {
            Err(bad())
        }
    };
    let (major, minor) = numbers.split_once(':').ok_or_else(bad)?;
    let (major, minor) = (number(major)?, number(minor)?);
    if access.is_empty() || access.len() > 3 || !access.bytes().all(|b| b"rwm".contains(&b)) {
        return Err(bad());
    }
    let mut b = LinuxDeviceCgroupBuilder::default()
        .allow(true)
        .typ(typ)
        .access(access);
    if let Some(m) = major {
        b = b.major(m);
    }
    if let Some(m) = minor {
        b = b.minor(m);
    }
    b.build().map_err(|_| bad())
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
        if let Some(d) = device_of(&path, &md) {
            out.push(d);
        }
    }
}

/// Checks `--device` mappings at create (dockerd's words) and fills in their defaults: the
/// same path in the container, `rwm`.
pub fn settle(mappings: &mut [crate::api::types::DeviceMapping]) -> Result<(), String> {
    for m in mappings {
        if m.path_in_container.is_empty() {
            m.path_in_container = m.path_on_host.clone();
        }
        if m.cgroup_permissions.is_empty() {
            m.cgroup_permissions = "rwm".into();
        }
        if m.cgroup_permissions.chars().any(|c| !"rwm".contains(c)) {
            return Err(format!("invalid device mode: {}", m.cgroup_permissions));
        }
        if !m.path_in_container.starts_with('/') {
            return Err(format!("{} is not an absolute path", m.path_in_container));
        }
        nodes(m)?;
    }
    Ok(())
}

/// The device nodes of one mapping, with the cgroup rules that let the container use them.
pub fn nodes(
    m: &crate::api::types::DeviceMapping,
) -> Result<(Vec<LinuxDevice>, Vec<LinuxDeviceCgroup>), String> {
    let gather = |e: &dyn std::fmt::Display| {
        format!(
            "error gathering device information while adding custom device \"{}\": {e}",
            m.path_on_host
        )
    };
    let host = Path::new(&m.path_on_host);
    let md = std::fs::metadata(host).map_err(|e| gather(&e))?;
    let mut found = Vec::new();
    if md.is_dir() {
        // A directory: every node below it, at the same place under PATH_IN_CONTAINER.
        walk(host, &mut found);
    } else {
        let one = node(host).ok_or_else(|| gather(&"not a device node"))?;
        found.push(one);
    }
    let mut devices = Vec::new();
    let mut rules = Vec::new();
    for d in found {
        let rel = d.path().strip_prefix(host).unwrap_or(Path::new(""));
        let inside = if rel.as_os_str().is_empty() {
            Path::new(&m.path_in_container).to_path_buf()
        } else {
            Path::new(&m.path_in_container).join(rel)
        };
        let mut r = rule(true, Some((d.typ(), d.major(), d.minor())));
        r.set_access(Some(m.cgroup_permissions.clone()));
        rules.push(r);
        let mut d = d;
        d.set_path(inside);
        devices.push(d);
    }
    Ok((devices, rules))
}

/// A device node at `path` (following a symlink, as dockerd does for `--device`).
fn node(path: &Path) -> Option<LinuxDevice> {
    device_of(path, &std::fs::metadata(path).ok()?)
}

/// The OCI device for `path` with metadata `md`; None when it is no char or block device.
fn device_of(path: &Path, md: &std::fs::Metadata) -> Option<LinuxDevice> {
    let ft = md.file_type();
    let typ = if ft.is_char_device() {
        LinuxDeviceType::C
    } else if ft.is_block_device() {
        LinuxDeviceType::B
    } else {
        return None;
    };
    let rdev = md.rdev();
    LinuxDeviceBuilder::default()
        .path(path.to_path_buf())
        .typ(typ)
        .major(i64::from(libc::major(rdev)))
        .minor(i64::from(libc::minor(rdev)))
        .file_mode(md.mode() & 0o7777)
        .uid(md.uid())
        .gid(md.gid())
        .build()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::types::DeviceMapping;

    fn mapping(host: &str, inside: &str, perms: &str) -> DeviceMapping {
        DeviceMapping {
            path_on_host: host.into(),
            path_in_container: inside.into(),
            cgroup_permissions: perms.into(),
        }
    }

    #[test]
    fn mappings_get_dockerds_defaults_and_errors() {
        let mut ok = vec![mapping("/dev/null", "", "")];
        settle(&mut ok).expect("null");
        assert_eq!(ok[0], mapping("/dev/null", "/dev/null", "rwm"));
        let (devs, rules) = nodes(&mapping("/dev/null", "/dev/mine", "r")).expect("nodes");
        assert_eq!(devs[0].path(), Path::new("/dev/mine"));
        assert_eq!((devs[0].major(), devs[0].minor()), (1, 3));
        assert_eq!(rules[0].access().as_deref(), Some("r"));
        for (m, want) in [
            (
                mapping("/dev/nope", "", ""),
                "error gathering device information",
            ),
            (mapping("/etc/hostname", "", ""), "not a device node"),
            (mapping("/dev/null", "", "rx"), "invalid device mode: rx"),
            (mapping("/dev/null", "rel", ""), "not an absolute path"),
        ] {
            let err = settle(&mut [m]).expect_err(want);
            assert!(err.contains(want), "{err}");
        }
    }

    #[test]
    fn cgroup_rules_as_dockerd() {
        let r = cgroup_rule("b 7:* rw").unwrap();
        assert_eq!(r.typ(), Some(LinuxDeviceType::B));
        assert_eq!((r.major(), r.minor()), (Some(7), None));
        assert_eq!(r.access().as_deref(), Some("rw"));
        assert!(r.allow());
        let all = cgroup_rule("a *:* m").unwrap();
        assert_eq!((all.major(), all.minor()), (None, None));
        for bad in [
            "",
            "c 1:3",
            "x 1:3 r",
            "c 1 r",
            "c a:3 r",
            "c 1:3 rwmr",
            "c 1:3 q",
            "c  1:3 r",
        ] {
            assert_eq!(
                cgroup_rule(bad).unwrap_err(),
                format!("invalid device cgroup rule format: '{bad}'")
            );
        }
    }

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
