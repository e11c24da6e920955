//! The pure parsers of mount specs (`-v`, `--mount`, `--tmpfs`, `--volumes-from`), as moby's
//! `volume/mounts/linux_parser.go`: text in, a [`MountRecord`] or dockerd's error message out.

use std::collections::HashSet;

use super::{MountKind, MountRecord};
use crate::api::types::Mount;

const PROPAGATIONS: &[&str] = &[
    "private", "rprivate", "slave", "rslave", "shared", "rshared",
];
const DEFAULT_PROPAGATION: &str = "rprivate";

/// Go's `path.Clean` for slash paths.
pub fn clean_path(p: &str) -> String {
    let abs = p.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for c in p.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                if parts.last().is_some_and(|l| *l != "..") {
                    parts.pop();
                } else if !abs {
                    parts.push("..");
                }
            }
            c => parts.push(c),
        }
    }
    let joined = parts.join("/");
    match (abs, joined.is_empty()) {
        (true, _) => format!("/{joined}"),
        (false, true) => ".".into(),
        (false, false) => joined,
    }
}

/// dockerd's `linuxValidMountMode`: comma-separated, at most one of each kind.
fn valid_mode(mode: &str) -> bool {
    if mode.is_empty() {
        return true;
    }
    let mut counts = [0u8; 5];
    for o in mode.split(',') {
        let kind = match o {
            "rw" | "ro" => 0,
            "z" | "Z" => 1,
            o if PROPAGATIONS.contains(&o) => 2,
            "nocopy" => 3,
            "consistent" | "cached" | "delegated" => 4,
            _ => return false,
        };
        counts[kind] += 1;
    }
    counts.iter().all(|c| *c <= 1)
}

fn mode_propagation(mode: &str) -> Option<&str> {
    mode.split(',').find(|o| PROPAGATIONS.contains(o))
}

pub(super) fn read_write(mode: &str) -> bool {
    valid_mode(mode) && !mode.split(',').any(|o| o == "ro")
}

/// The checks every mount target gets: present, absolute, not `/`.
/// Go's `filepath.IsLocal`: relative, not empty, and never above its start.
fn is_local(p: &str) -> bool {
    if p.is_empty() || p.starts_with('/') {
        return false;
    }
    let mut depth = 0i32;
    for c in p.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                depth -= 1;
                if depth < 0 {
                    return false;
                }
            }
            _ => depth += 1,
        }
    }
    true
}

pub(super) fn check_target(target: &str) -> Result<(), String> {
    if target.is_empty() {
        return Err("field Target must not be empty".into());
    }
    if clean_path(target) == "/" {
        return Err("invalid specification: destination can't be '/'".into());
    }
    if !target.starts_with('/') {
        return Err(format!(
            "invalid mount path: '{target}' mount path must be absolute"
        ));
    }
    Ok(())
}

/// One `-v` / `HostConfig.Binds` entry: `[source:]target[:mode]` (dockerd's `ParseMountRaw`).
pub fn parse_bind(raw: &str) -> Result<MountRecord, String> {
    let bad_spec = || format!("invalid volume specification: '{raw}'");
    let arr: Vec<&str> = raw.splitn(4, ':').collect();
    if arr[0].is_empty() {
        return Err(bad_spec());
    }
    let (source, target, mode) = match arr.as_slice() {
        [t] => ("", *t, ""),
        [s, t] => {
            // `/foo:rw` would be a destination with a mode: volumes cannot have one.
            if valid_mode(t) {
                return Err(bad_spec());
            }
            (*s, *t, "")
        }
        [s, t, m] => (*s, *t, *m),
        _ => return Err(bad_spec()),
    };
    if !valid_mode(mode) {
        return Err(format!("invalid mode: {mode}"));
    }
    let kind = if source.starts_with('/') {
        MountKind::Bind
    } else {
        MountKind::Volume
    };
    check_target(target).map_err(|e| {
        format!(
            "{}: invalid mount config for type \"{}\": {e}",
            bad_spec(),
            kind.as_str()
        )
    })?;
    let mut m = MountRecord::new(kind, clean_path(target));
    m.rw = read_write(mode);
    m.mode = mode.to_string();
    match kind {
        MountKind::Bind => {
            m.source = clean_path(source);
            m.propagation = mode_propagation(mode)
                .unwrap_or(DEFAULT_PROPAGATION)
                .to_string();
            m.create_source = true;
        }
        _ => {
            m.name = source.to_string();
            m.named = !source.is_empty();
            m.copy_data = !mode.split(',').any(|o| o == "nocopy");
            if m.mode.is_empty() {
                m.mode = "z".into();
            }
        }
    }
    Ok(m)
}

/// dockerd's `ConvertTmpfsOptions`: `ro`, `mode=` in octal, `size=` with the largest whole unit.
fn tmpfs_data(m: &Mount) -> Result<String, String> {
    let mut out = Vec::new();
    if m.read_only {
        out.push("ro".to_string());
    }
    if let Some(t) = &m.tmpfs_options {
        if t.mode != 0 {
            out.push(format!("mode={:o}", t.mode));
        }
        if t.size_bytes != 0 {
            let mut size = t.size_bytes;
            let mut suffix = "";
            for (s, div) in [("g", 1i64 << 30), ("m", 1 << 20), ("k", 1 << 10)] {
                if size % div == 0 {
                    size /= div;
                    suffix = s;
                    break;
                }
            }
            out.push(format!("size={size}{suffix}"));
        }
        for o in &t.options {
            match o.as_slice() {
                [k] if k == "exec" || k == "noexec" => out.push(k.clone()),
                [k, v] if k == "exec" || k == "noexec" => out.push(format!("{k}={v}")),
                [] | [_, _, _, ..] => return Err("invalid option array length".into()),
                [k, ..] => return Err(format!("invalid option: {k}")),
            }
        }
    }
    Ok(out.join(","))
}

/// One `--mount` / `HostConfig.Mounts` entry (dockerd's `ParseMountSpec` and its validation).
pub fn parse_mount(m: &Mount) -> Result<MountRecord, String> {
    let fail = |e: String| format!("invalid mount config for type \"{}\": {e}", m.kind);
    let has = |k: &str| m.extra.get(k).is_some_and(|v| !v.is_null());
    let extra_field = if m.kind != "bind" && m.bind_options.is_some() {
        Some("BindOptions")
    } else if m.kind != "volume" && m.volume_options.is_some() {
        Some("VolumeOptions")
    } else if m.kind != "image" && has("ImageOptions") {
        Some("ImageOptions")
    } else if m.kind != "tmpfs" && m.tmpfs_options.is_some() {
        Some("TmpfsOptions")
    } else if m.kind != "cluster" && has("ClusterOptions") {
        Some("ClusterOptions")
    } else {
        None
    };
    if let Some(f) = extra_field {
        return Err(fail(format!("field {f} must not be specified")));
    }
    check_target(&m.target).map_err(fail)?;
    let mut r;
    match m.kind.as_str() {
        "bind" => {
            if m.source.is_empty() {
                return Err(fail("field Source must not be empty".into()));
            }
            let bo = m.bind_options.clone().unwrap_or_default();
            if !bo.propagation.is_empty() && !PROPAGATIONS.contains(&bo.propagation.as_str()) {
                return Err(fail(format!(
                    "invalid propagation mode: {}",
                    bo.propagation
                )));
            }
            if !m.source.starts_with('/') {
                return Err(fail(format!(
                    "invalid mount path: '{}' mount path must be absolute",
                    m.source
                )));
            }
            // Without following a final symlink: a dangling link still "exists" for dockerd.
            if std::fs::symlink_metadata(&m.source).is_err() && !bo.create_mountpoint {
                return Err(fail(format!(
                    "bind source path does not exist: {}",
                    m.source
                )));
            }
            r = MountRecord::new(MountKind::Bind, clean_path(&m.target));
            r.source = clean_path(&m.source);
            r.propagation = if bo.propagation.is_empty() {
                DEFAULT_PROPAGATION.into()
            } else {
                bo.propagation.clone()
            };
            r.create_source = bo.create_mountpoint;
            r.non_recursive = bo.non_recursive;
        }
        "volume" => {
            let vo = m.volume_options.clone().unwrap_or_default();
            if !vo.subpath.is_empty() {
                if m.source.is_empty() {
                    return Err(fail(
                        "must not set Subpath when using anonymous volumes".into(),
                    ));
                }
                if !is_local(&vo.subpath) {
                    return Err(fail(
                        "subpath must be a relative path within the volume".into(),
                    ));
                }
            }
            r = MountRecord::new(MountKind::Volume, clean_path(&m.target));
            r.name = m.source.clone();
            r.named = !m.source.is_empty();
            r.subpath = clean_path(&vo.subpath);
            // The image's content is copied into a whole volume, never into a part of one.
            r.copy_data = !vo.no_copy && vo.subpath.is_empty();
            r.driver = vo.driver_config.map(|d| d.name).unwrap_or_default();
            r.mode = "z".into();
        }
        "tmpfs" => {
            if !m.source.is_empty() {
                return Err(fail("field Source must not be specified".into()));
            }
            r = MountRecord::new(MountKind::Tmpfs, clean_path(&m.target));
            r.tmpfs_data = tmpfs_data(m).map_err(fail)?;
        }
        "image" | "npipe" | "cluster" => {
            return Err(fail("mount type is not supported".into()));
        }
        _ => return Err(fail("mount type unknown".into())),
    }
    r.rw = !m.read_only;
    Ok(r)
}

/// dockerd's `ParseVolumesFrom`: `container[:ro|:rw]` → (container, mode).
pub fn parse_volumes_from(spec: &str) -> Result<(&str, &str), String> {
    if spec.is_empty() {
        return Err("volumes-from specification cannot be an empty string".into());
    }
    let (id, mode) = spec.split_once(':').unwrap_or((spec, ""));
    if mode.is_empty() {
        return Ok((id, "rw"));
    }
    if !valid_mode(mode)
        || mode_propagation(mode).is_some()
        || mode.split(',').any(|o| o == "nocopy")
    {
        return Err(format!("invalid mode: {mode}"));
    }
    Ok((id, mode))
}

/// moby's `MergeTmpfsOptions`: the last of conflicting flags wins, data keys are kept once.
pub fn merge_tmpfs_options(opts: &[&str]) -> Result<Vec<String>, String> {
    const VALID_DATA: &[&str] = &[
        "size",
        "mode",
        "uid",
        "gid",
        "nr_inodes",
        "nr_blocks",
        "mpol",
    ];
    let mut seen_flags: HashSet<&str> = HashSet::new();
    let mut seen_data: HashSet<&str> = HashSet::new();
    let mut out: Vec<String> = Vec::new();
    for o in opts.iter().rev().filter(|o| !o.is_empty()) {
        let key = match *o {
            "defaults" => continue,
            "ro" | "rw" => Some("ro"),
            "suid" | "nosuid" => Some("suid"),
            "dev" | "nodev" => Some("dev"),
            "exec" | "noexec" => Some("exec"),
            "sync" | "async" => Some("sync"),
            "dirsync" => Some("dirsync"),
            "mand" | "nomand" => Some("mand"),
            "atime" | "noatime" => Some("atime"),
            "diratime" | "nodiratime" => Some("diratime"),
            "relatime" | "norelatime" => Some("relatime"),
            "strictatime" | "nostrictatime" => Some("strictatime"),
            p if PROPAGATIONS.contains(&p) || p == "unbindable" || p == "runbindable" => {
                Some("propagation")
            }
            _ => None,
        };
        if let Some(k) = key {
            if seen_flags.insert(k) {
                out.insert(0, o.to_string());
            }
            continue;
        }
        match o.split_once('=') {
            Some((k, _)) if VALID_DATA.contains(&k) => {
                if seen_data.insert(k) {
                    out.insert(0, o.to_string());
                }
            }
            _ => return Err(format!("invalid tmpfs option [\"{o}\"]")),
        }
    }
    Ok(out)
}

pub(super) fn tmpfs_options(data: &str) -> Result<Vec<String>, String> {
    let mut all = vec!["noexec", "nosuid", "nodev", DEFAULT_PROPAGATION];
    all.extend(data.split(','));
    merge_tmpfs_options(&all)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_clean_like_go() {
        assert_eq!(clean_path("/a/b/../c/"), "/a/c");
        assert_eq!(clean_path("/../x"), "/x");
        assert_eq!(clean_path("//data/."), "/data");
        assert_eq!(clean_path("rel/../.."), "..");
    }

    #[test]
    fn binds_parse_like_dockerd() {
        let b = parse_bind("/host/dir:/ctr:ro,rshared").unwrap();
        assert_eq!(b.kind, MountKind::Bind);
        assert_eq!(
            (b.source.as_str(), b.destination.as_str()),
            ("/host/dir", "/ctr")
        );
        assert!(!b.rw);
        assert_eq!(b.mode, "ro,rshared");
        assert_eq!(b.propagation, "rshared");
        assert!(b.create_source);

        let b = parse_bind("/h:/c").unwrap();
        assert_eq!(
            (b.mode.as_str(), b.propagation.as_str(), b.rw),
            ("", "rprivate", true)
        );

        let v = parse_bind("data:/var/lib/data").unwrap();
        assert_eq!(v.kind, MountKind::Volume);
        assert_eq!((v.name.as_str(), v.mode.as_str()), ("data", "z"));
        assert!(v.named && v.copy_data);
        let v = parse_bind("data:/d:nocopy").unwrap();
        assert!(!v.copy_data);
        assert_eq!(v.mode, "nocopy");
        let anon = parse_bind("/only/target").unwrap();
        assert_eq!(anon.kind, MountKind::Volume);
        assert!(!anon.named);

        assert_eq!(
            parse_bind("data:rel").unwrap_err(),
            "invalid volume specification: 'data:rel': invalid mount config for type \"volume\": invalid mount path: 'rel' mount path must be absolute"
        );
        assert_eq!(
            parse_bind("/h:/").unwrap_err(),
            "invalid volume specification: '/h:/': invalid mount config for type \"bind\": invalid specification: destination can't be '/'"
        );
        assert_eq!(
            parse_bind("/x:rw").unwrap_err(),
            "invalid volume specification: '/x:rw'"
        );
        assert_eq!(parse_bind("/a:/b:xx").unwrap_err(), "invalid mode: xx");
        assert_eq!(
            parse_bind("/a:/b:ro,rw").unwrap_err(),
            "invalid mode: ro,rw"
        );
        assert!(parse_bind("a:b:c:d").is_err());
        assert!(parse_bind(":/x").is_err());
    }

    #[test]
    fn mounts_validate_like_dockerd() {
        let tmp = tempfile::tempdir().unwrap();
        let src = tmp.path().to_str().unwrap().to_string();
        let bind = |source: &str| Mount {
            kind: "bind".into(),
            source: source.into(),
            target: "/t".into(),
            ..Default::default()
        };
        let r = parse_mount(&bind(&src)).unwrap();
        assert_eq!(
            (r.kind, r.propagation.as_str(), r.mode.as_str()),
            (MountKind::Bind, "rprivate", "")
        );
        assert_eq!(
            parse_mount(&bind("/no/such/dir")).unwrap_err(),
            "invalid mount config for type \"bind\": bind source path does not exist: /no/such/dir"
        );
        assert_eq!(
            parse_mount(&bind("")).unwrap_err(),
            "invalid mount config for type \"bind\": field Source must not be empty"
        );
        let mut rel = bind(&src);
        rel.target = "rel".into();
        assert_eq!(
            parse_mount(&rel).unwrap_err(),
            "invalid mount config for type \"bind\": invalid mount path: 'rel' mount path must be absolute"
        );
        let tmpfs = Mount {
            kind: "tmpfs".into(),
            target: "/t".into(),
            tmpfs_options: Some(crate::api::types::TmpfsOptions {
                size_bytes: 64 << 20,
                mode: 0o1777,
                options: vec![],
            }),
            ..Default::default()
        };
        assert_eq!(
            parse_mount(&tmpfs).unwrap().tmpfs_data,
            "mode=1777,size=64m"
        );
        let mut bad = tmpfs.clone();
        bad.source = "x".into();
        assert_eq!(
            parse_mount(&bad).unwrap_err(),
            "invalid mount config for type \"tmpfs\": field Source must not be specified"
        );
        let mut bad = tmpfs;
        bad.bind_options = Some(Default::default());
        assert_eq!(
            parse_mount(&bad).unwrap_err(),
            "invalid mount config for type \"tmpfs\": field BindOptions must not be specified"
        );
        let vol = Mount {
            kind: "volume".into(),
            target: "/v".into(),
            read_only: true,
            ..Default::default()
        };
        let r = parse_mount(&vol).unwrap();
        assert_eq!((r.named, r.rw, r.mode.as_str()), (false, false, "z"));
        let odd = Mount {
            kind: "weird".into(),
            target: "/v".into(),
            ..Default::default()
        };
        assert_eq!(
            parse_mount(&odd).unwrap_err(),
            "invalid mount config for type \"weird\": mount type unknown"
        );
    }

    #[test]
    fn volumes_from_modes() {
        assert_eq!(parse_volumes_from("web").unwrap(), ("web", "rw"));
        assert_eq!(parse_volumes_from("web:ro").unwrap(), ("web", "ro"));
        assert_eq!(
            parse_volumes_from("web:rshared").unwrap_err(),
            "invalid mode: rshared"
        );
        assert_eq!(
            parse_volumes_from("web:bogus").unwrap_err(),
            "invalid mode: bogus"
        );
        assert!(parse_volumes_from("").is_err());
    }

    #[test]
    fn tmpfs_options_merge_like_moby() {
        assert_eq!(
            tmpfs_options("size=64m,exec").unwrap(),
            ["nosuid", "nodev", "rprivate", "size=64m", "exec"]
        );
        assert_eq!(
            tmpfs_options("").unwrap(),
            ["noexec", "nosuid", "nodev", "rprivate"]
        );
        assert_eq!(
            tmpfs_options("bogus").unwrap_err(),
            "invalid tmpfs option [\"bogus\"]"
        );
    }

    #[test]
    fn subpaths_stay_inside_the_volume() {
        assert!(is_local("a/b"));
        assert!(is_local("a/../b"));
        assert!(!is_local("../x"));
        assert!(!is_local("a/../../x"));
        assert!(!is_local("/abs"));
        assert!(!is_local(""));
    }
}
