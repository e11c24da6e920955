//! The `local` driver's options (`type`, `device`, `o`, `size`), validated like dockerd's, and the
//! mount they describe: `type=none,o=bind,device=/path` binds a host directory onto the volume's
//! `_data`, `type=tmpfs,device=tmpfs,o=size=64m` mounts a tmpfs there, any other type is passed to
//! mount(2) as is (nfs, ext4 on a block device, …).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use nix::mount::MsFlags;

/// dockerd's `validateOpts`: known keys, the keys each one needs, no quota without quota support.
pub fn validate_opts(opts: &BTreeMap<String, String>) -> Result<(), String> {
    for k in opts.keys() {
        if !matches!(k.as_str(), "type" | "o" | "device" | "size") {
            return Err(format!("invalid option: {k:?}"));
        }
    }
    if let Some(size) = opts.get("size") {
        if ram_in_bytes(size)? > 0 {
            return Err("quota size requested but no quota support".into());
        }
    }
    // Checked in dockerd's (map) order is random; a fixed order keeps the message stable.
    for (opt, needs) in [
        ("device", &["type"][..]),
        ("o", &["device", "type"][..]),
        ("type", &["device"][..]),
    ] {
        if opts.contains_key(opt) {
            for n in needs {
                if !opts.contains_key(*n) {
                    return Err(format!("missing required option: {n:?}"));
                }
            }
        }
    }
    Ok(())
}

/// What a volume with options mounts on its `_data`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalMount {
    pub fs_type: String,
    pub device: String,
    pub options: String,
}

impl LocalMount {
    /// None for a plain directory volume.
    pub fn from_opts(opts: Option<&BTreeMap<String, String>>) -> Option<LocalMount> {
        let opts = opts?;
        let fs_type = opts.get("type").cloned().unwrap_or_default();
        let device = opts.get("device").cloned().unwrap_or_default();
        if fs_type.is_empty() && device.is_empty() {
            return None;
        }
        Some(LocalMount {
            fs_type,
            device,
            options: opts.get("o").cloned().unwrap_or_default(),
        })
    }

    pub fn mount(&self, target: &Path) -> Result<(), String> {
        if self.device.is_empty() {
            return Err("missing device in volume options".into());
        }
        let (flags, propagation, data) = parse_mount_options(&self.options);
        let fs_type = if flags.contains(MsFlags::MS_BIND) {
            None
        } else {
            Some(self.fs_type.as_str())
        };
        let fail = |f: MsFlags, e: nix::errno::Errno| {
            format!(
                "failed to mount local volume: mount {}:{}, flags: {:#x}, data: {}: {}",
                self.device,
                target.display(),
                f.bits(),
                data,
                e.desc().to_lowercase()
            )
        };
        let data_arg = (!data.is_empty()).then_some(data.as_str());
        // A bind ignores MS_RDONLY and friends on the first call; they take a remount.
        let first = if flags.contains(MsFlags::MS_BIND) {
            flags & (MsFlags::MS_BIND | MsFlags::MS_REC)
        } else {
            flags
        };
        nix::mount::mount(Some(self.device.as_str()), target, fs_type, first, data_arg)
            .map_err(|e| fail(first, e))?;
        let rest = flags - (MsFlags::MS_BIND | MsFlags::MS_REC);
        if flags.contains(MsFlags::MS_BIND) && !rest.is_empty() {
            let f = rest | MsFlags::MS_REMOUNT | MsFlags::MS_BIND;
            if let Err(e) = nix::mount::mount(None::<&str>, target, None::<&str>, f, None::<&str>) {
                let _ = unmount(target);
                return Err(fail(f, e));
            }
        }
        if !propagation.is_empty() {
            if let Err(e) = nix::mount::mount(
                None::<&str>,
                target,
                None::<&str>,
                propagation,
                None::<&str>,
            ) {
                let _ = unmount(target);
                return Err(fail(propagation, e));
            }
        }
        Ok(())
    }
}

pub fn unmount(target: &Path) -> Result<(), String> {
    match nix::mount::umount2(target, nix::mount::MntFlags::MNT_DETACH) {
        Ok(()) => Ok(()),
        Err(_) if !is_mountpoint(target) => Ok(()),
        Err(e) => Err(format!("unmounting {}: {e}", target.display())),
    }
}

/// Splits `o=` into mount flags, propagation flags and filesystem data, like moby's `parseOptions`.
pub fn parse_mount_options(o: &str) -> (MsFlags, MsFlags, String) {
    let mut flags = MsFlags::empty();
    let mut prop = MsFlags::empty();
    let mut data: Vec<&str> = Vec::new();
    for opt in o.split(',').filter(|s| !s.is_empty()) {
        let (clear, f) = match opt {
            "defaults" => (false, MsFlags::empty()),
            "ro" => (false, MsFlags::MS_RDONLY),
            "rw" => (true, MsFlags::MS_RDONLY),
            "suid" => (true, MsFlags::MS_NOSUID),
            "nosuid" => (false, MsFlags::MS_NOSUID),
            "dev" => (true, MsFlags::MS_NODEV),
            "nodev" => (false, MsFlags::MS_NODEV),
            "exec" => (true, MsFlags::MS_NOEXEC),
            "noexec" => (false, MsFlags::MS_NOEXEC),
            "sync" => (false, MsFlags::MS_SYNCHRONOUS),
            "async" => (true, MsFlags::MS_SYNCHRONOUS),
            "dirsync" => (false, MsFlags::MS_DIRSYNC),
            "mand" => (false, MsFlags::MS_MANDLOCK),
            "nomand" => (true, MsFlags::MS_MANDLOCK),
            "atime" => (true, MsFlags::MS_NOATIME),
            "noatime" => (false, MsFlags::MS_NOATIME),
            "diratime" => (true, MsFlags::MS_NODIRATIME),
            "nodiratime" => (false, MsFlags::MS_NODIRATIME),
            "relatime" => (false, MsFlags::MS_RELATIME),
            "norelatime" => (true, MsFlags::MS_RELATIME),
            "strictatime" => (false, MsFlags::MS_STRICTATIME),
            "nostrictatime" => (true, MsFlags::MS_STRICTATIME),
            "bind" => (false, MsFlags::MS_BIND),
            "rbind" => (false, MsFlags::MS_BIND | MsFlags::MS_REC),
            "private" | "rprivate" | "shared" | "rshared" | "slave" | "rslave" | "unbindable"
            | "runbindable" => {
                let base = match opt.trim_start_matches('r') {
                    "private" => MsFlags::MS_PRIVATE,
                    "shared" => MsFlags::MS_SHARED,
                    "slave" => MsFlags::MS_SLAVE,
                    _ => MsFlags::MS_UNBINDABLE,
                };
                prop = if opt.starts_with('r') {
                    base | MsFlags::MS_REC
                } else {
                    base
                };
                continue;
            }
            other => {
                data.push(other);
                continue;
            }
        };
        if clear {
            flags.remove(f);
        } else {
            flags.insert(f);
        }
    }
    (flags, prop, data.join(","))
}

/// go-units' `RAMInBytes`: `64m`, `1.5g`, `1024`, `10MiB` (binary multiples, case-insensitive).
pub fn ram_in_bytes(s: &str) -> Result<i64, String> {
    let bad = || format!("invalid size: '{s}'");
    let t = s.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: f64 = num.parse().map_err(|_| bad())?;
    let unit = unit.trim().to_ascii_lowercase();
    let unit = unit
        .strip_suffix("ib")
        .or_else(|| unit.strip_suffix('b'))
        .unwrap_or(&unit);
    let mult: f64 = match unit {
        "" => 1.0,
        "k" => 1024.0,
        "m" => 1024.0 * 1024.0,
        "g" => 1024.0 * 1024.0 * 1024.0,
        "t" => 1024f64.powi(4),
        "p" => 1024f64.powi(5),
        _ => return Err(bad()),
    };
    Ok((n * mult) as i64)
}

/// Mount points at or below `dir`, deepest first (from /proc/self/mountinfo).
pub fn mounts_under(dir: &Path) -> Vec<PathBuf> {
    let Ok(info) = std::fs::read_to_string("/proc/self/mountinfo") else {
        return vec![];
    };
    let mut out: Vec<PathBuf> = info
        .lines()
        .filter_map(|l| l.split(' ').nth(4))
        .map(|p| PathBuf::from(unescape_mountinfo(p)))
        .filter(|p| p.starts_with(dir))
        .collect();
    out.sort_by_key(|p| std::cmp::Reverse(p.components().count()));
    out.dedup();
    out
}

pub fn is_mountpoint(p: &Path) -> bool {
    mounts_under(p).iter().any(|m| m == p)
}

/// mountinfo escapes space, tab, newline and backslash as `\ooo`.
fn unescape_mountinfo(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\'
            && i + 3 < b.len()
            && b[i + 1..i + 4].iter().all(|c| (b'0'..=b'7').contains(c))
        {
            let v = u32::from(b[i + 1] - b'0') * 64
                + u32::from(b[i + 2] - b'0') * 8
                + u32::from(b[i + 3] - b'0');
            out.push(v as u8);
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(kv: &[(&str, &str)]) -> BTreeMap<String, String> {
        kv.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn options_validate_like_dockerd() {
        assert!(validate_opts(&opts(&[])).is_ok());
        assert!(validate_opts(&opts(&[("type", "none"), ("o", "bind"), ("device", "/x")])).is_ok());
        assert_eq!(
            validate_opts(&opts(&[("foo", "bar")])).unwrap_err(),
            "invalid option: \"foo\""
        );
        assert_eq!(
            validate_opts(&opts(&[("type", "tmpfs")])).unwrap_err(),
            "missing required option: \"device\""
        );
        assert_eq!(
            validate_opts(&opts(&[("o", "size=1m"), ("device", "tmpfs")])).unwrap_err(),
            "missing required option: \"type\""
        );
        assert_eq!(
            validate_opts(&opts(&[("size", "10m")])).unwrap_err(),
            "quota size requested but no quota support"
        );
        assert_eq!(
            validate_opts(&opts(&[("size", "lots")])).unwrap_err(),
            "invalid size: 'lots'"
        );
    }

    #[test]
    fn mount_options_split_into_flags_and_data() {
        let (f, p, d) = parse_mount_options("bind,ro,rshared");
        assert!(f.contains(MsFlags::MS_BIND | MsFlags::MS_RDONLY));
        assert_eq!(p, MsFlags::MS_SHARED | MsFlags::MS_REC);
        assert_eq!(d, "");
        let (f, p, d) = parse_mount_options("size=64m,uid=1000,noexec,exec,nosuid");
        assert_eq!(f, MsFlags::MS_NOSUID);
        assert!(p.is_empty());
        assert_eq!(d, "size=64m,uid=1000");
    }

    #[test]
    fn sizes_parse_like_go_units() {
        assert_eq!(ram_in_bytes("64m").unwrap(), 64 << 20);
        assert_eq!(ram_in_bytes("1.5g").unwrap(), 3 << 29);
        assert_eq!(ram_in_bytes("100").unwrap(), 100);
        assert_eq!(ram_in_bytes("10KiB").unwrap(), 10 << 10);
        assert!(ram_in_bytes("m").is_err());
        assert!(ram_in_bytes("5x").is_err());
    }

    #[test]
    fn local_mount_from_options() {
        assert_eq!(LocalMount::from_opts(None), None);
        assert_eq!(LocalMount::from_opts(Some(&opts(&[]))), None);
        let m = LocalMount::from_opts(Some(&opts(&[
            ("type", "tmpfs"),
            ("device", "tmpfs"),
            ("o", "size=1m"),
        ])))
        .unwrap();
        assert_eq!(m.fs_type, "tmpfs");
        assert_eq!(m.options, "size=1m");
    }

    #[test]
    fn mountinfo_paths_unescape() {
        assert_eq!(unescape_mountinfo("/a\\040b"), "/a b");
        assert_eq!(unescape_mountinfo("/plain"), "/plain");
        assert_eq!(unescape_mountinfo("/x\\"), "/x\\");
    }
}
