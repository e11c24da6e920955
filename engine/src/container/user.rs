//! `-u user[:group]` resolved against the container's own /etc/passwd and /etc/group, as dockerd does.

use std::path::Path;

use crate::error::{EngineError, Result};

pub struct ResolvedUser {
    pub uid: u32,
    pub gid: u32,
    pub additional_gids: Vec<u32>,
    pub home: String,
}

/// `/etc/<file>` of the container, resolved inside its root (a symlinked `/etc` or
/// `/etc/passwd` never leads onto the host) and read up to `docker cp`'s small-file cap, so a
/// huge planted file cannot exhaust the engine's memory.
fn read_db(rootfs: &Path, file: &str) -> String {
    let Ok(root) = crate::fs::rootpath::open_host_dir(rootfs) else {
        return String::new();
    };
    let Ok(fs) = crate::fs::rootpath::ContainerFs::open(root, Vec::new()) else {
        return String::new();
    };
    crate::container::archive::read_small_file(&fs, &format!("/etc/{file}"))
}

fn parse_db(text: &str) -> Vec<Vec<String>> {
    text.lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|l| l.split(':').map(str::to_string).collect())
        .collect()
}

pub fn resolve(rootfs: &Path, spec: &str) -> Result<ResolvedUser> {
    resolve_in(&read_db(rootfs, "passwd"), &read_db(rootfs, "group"), spec)
}

/// [`resolve`], plus `HostConfig.GroupAdd`: group IDs or names of the container's group file.
pub fn resolve_with_groups(
    rootfs: &Path,
    spec: &str,
    group_add: &[String],
) -> Result<ResolvedUser> {
    let mut u = resolve(rootfs, spec)?;
    if !group_add.is_empty() {
        add_groups(&mut u, &read_db(rootfs, "group"), group_add)?;
    }
    Ok(u)
}

/// Adds `--group-add` groups as dockerd does: a number as it is, a name looked up.
pub fn add_groups(u: &mut ResolvedUser, group_file: &str, group_add: &[String]) -> Result<()> {
    let groups = parse_db(group_file);
    for g in group_add {
        let gid = match g.parse::<u32>() {
            Ok(n) => n,
            Err(_) => groups
                .iter()
                .find(|e| e.first().map(String::as_str) == Some(g.as_str()))
                .and_then(|e| e.get(2).and_then(|v| v.parse().ok()))
                .ok_or_else(|| {
                    EngineError::invalid(format!(
                        "Unable to find group {g}: no matching entries in group file"
                    ))
                })?,
        };
        if !u.additional_gids.contains(&gid) {
            u.additional_gids.push(gid);
        }
    }
    Ok(())
}

/// Resolves `user[:group]` against the text of a passwd and a group file.
pub fn resolve_in(passwd: &str, group_file: &str, spec: &str) -> Result<ResolvedUser> {
    let (user, group) = match spec.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (spec, None),
    };
    let passwd = parse_db(passwd);
    let groups = parse_db(group_file);
    let user = if user.is_empty() { "0" } else { user };
    let entry = passwd
        .iter()
        .find(|e| e.first().map(String::as_str) == Some(user));
    let (uid, mut gid, home, name) = match (entry, user.parse::<u32>()) {
        (Some(e), _) => (
            e.get(2).and_then(|v| v.parse().ok()).unwrap_or(0),
            e.get(3).and_then(|v| v.parse().ok()).unwrap_or(0),
            e.get(5).cloned().unwrap_or_else(|| "/".into()),
            e.first().cloned(),
        ),
        (None, Ok(uid)) => {
            let by_uid = passwd
                .iter()
                .find(|e| e.get(2).and_then(|v| v.parse::<u32>().ok()) == Some(uid));
            match by_uid {
                Some(e) => (
                    uid,
                    e.get(3).and_then(|v| v.parse().ok()).unwrap_or(0),
                    e.get(5).cloned().unwrap_or_else(|| "/".into()),
                    e.first().cloned(),
                ),
                None => (uid, 0, "/".into(), None),
            }
        }
        (None, Err(_)) => {
            return Err(EngineError::invalid(format!(
                "unable to find user {user}: no matching entries in passwd file"
            )))
        }
    };
    if let Some(g) = group {
        gid = match g.parse::<u32>() {
            Ok(n) => n,
            Err(_) => groups
                .iter()
                .find(|e| e.first().map(String::as_str) == Some(g))
                .and_then(|e| e.get(2).and_then(|v| v.parse().ok()))
                .ok_or_else(|| {
                    EngineError::invalid(format!(
                        "unable to find group {g}: no matching entries in group file"
                    ))
                })?,
        };
    }
    let additional_gids = match &name {
        Some(n) => groups
            .iter()
            .filter(|e| {
                e.get(3)
                    .is_some_and(|members| members.split(',').any(|m| m == n))
            })
            .filter_map(|e| e.get(2).and_then(|v| v.parse().ok()))
            .filter(|g| *g != gid)
            .collect(),
        None => vec![],
    };
    Ok(ResolvedUser {
        uid,
        gid,
        additional_gids,
        home,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_names_and_numbers() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("etc")).unwrap();
        std::fs::write(
            dir.path().join("etc/passwd"),
            "root:x:0:0:root:/root:/bin/sh\nberth:x:1000:1000::/home/berth:/bin/sh\n",
        )
        .unwrap();
        std::fs::write(
            dir.path().join("etc/group"),
            "root:x:0:\nberth:x:1000:\nwheel:x:10:berth\n",
        )
        .unwrap();
        let u = resolve(dir.path(), "berth").unwrap();
        assert_eq!((u.uid, u.gid, u.home.as_str()), (1000, 1000, "/home/berth"));
        assert_eq!(u.additional_gids, vec![10]);
        let u = resolve(dir.path(), "1234:wheel").unwrap();
        assert_eq!((u.uid, u.gid), (1234, 10));
        assert!(resolve(dir.path(), "nobody-here").is_err());
    }

    #[test]
    fn group_add_takes_ids_and_names() {
        let group = "root:x:0:\naudio:x:29:\nstaff:x:50:me\n";
        let mut u = resolve_in("me:x:1000:1000::/home/me:/bin/sh\n", group, "me").unwrap();
        assert_eq!(u.additional_gids, vec![50]);
        add_groups(&mut u, group, &["audio".into(), "4242".into(), "50".into()]).unwrap();
        assert_eq!(u.additional_gids, vec![50, 29, 4242]);
        assert_eq!(
            add_groups(&mut u, group, &["nope".into()])
                .unwrap_err()
                .to_string(),
            "Unable to find group nope: no matching entries in group file"
        );
    }
}
