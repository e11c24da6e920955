//! `--ulimit name=soft:hard` as process rlimits: the names docker knows (go-units), `-1` as
//! unlimited.

use oci_spec::runtime::{PosixRlimit, PosixRlimitBuilder, PosixRlimitType};

use crate::api::types::Ulimit;

/// The names `docker run --ulimit` accepts, and the rlimit each sets.
const NAMES: &[(&str, PosixRlimitType)] = &[
    ("core", PosixRlimitType::RlimitCore),
    ("cpu", PosixRlimitType::RlimitCpu),
    ("data", PosixRlimitType::RlimitData),
    ("fsize", PosixRlimitType::RlimitFsize),
    ("locks", PosixRlimitType::RlimitLocks),
    ("memlock", PosixRlimitType::RlimitMemlock),
    ("msgqueue", PosixRlimitType::RlimitMsgqueue),
    ("nice", PosixRlimitType::RlimitNice),
    ("nofile", PosixRlimitType::RlimitNofile),
    ("nproc", PosixRlimitType::RlimitNproc),
    ("rss", PosixRlimitType::RlimitRss),
    ("rtprio", PosixRlimitType::RlimitRtprio),
    ("rttime", PosixRlimitType::RlimitRttime),
    ("sigpending", PosixRlimitType::RlimitSigpending),
    ("stack", PosixRlimitType::RlimitStack),
];

fn kind(name: &str) -> Result<PosixRlimitType, String> {
    NAMES
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, t)| *t)
        .ok_or_else(|| format!("invalid ulimit name {name}"))
}

/// A limit as the kernel takes it: -1 is RLIM_INFINITY (all ones).
fn raw(v: i64) -> u64 {
    if v == -1 {
        u64::MAX
    } else {
        v as u64
    }
}

/// The checks go-units makes when the CLI parses `--ulimit`, for clients that skip the CLI.
pub fn check(u: &Ulimit) -> Result<(), String> {
    kind(&u.name)?;
    if u.soft < -1 || u.hard < -1 {
        return Err(format!(
            "invalid ulimit {}: limits must be -1 (unlimited) or positive",
            u.name
        ));
    }
    if u.hard != -1 {
        if u.soft == -1 {
            return Err(format!(
                "ulimit soft limit must be less than or equal to hard limit: soft: -1 (unlimited), hard: {}",
                u.hard
            ));
        }
        if u.soft > u.hard {
            return Err(format!(
                "ulimit soft limit must be less than or equal to hard limit: {} > {}",
                u.soft, u.hard
            ));
        }
    }
    Ok(())
}

/// The process rlimits for a container's ulimits (checked at create).
pub fn rlimits(ulimits: &[Ulimit]) -> Result<Vec<PosixRlimit>, String> {
    ulimits
        .iter()
        .map(|u| {
            check(u)?;
            PosixRlimitBuilder::default()
                .typ(kind(&u.name)?)
                .soft(raw(u.soft))
                .hard(raw(u.hard))
                .build()
                .map_err(|e| e.to_string())
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn u(name: &str, soft: i64, hard: i64) -> Ulimit {
        Ulimit {
            name: name.into(),
            soft,
            hard,
        }
    }

    #[test]
    fn ulimits_become_rlimits() {
        let r = rlimits(&[u("nofile", 1024, 2048), u("core", -1, -1)]).unwrap();
        assert_eq!(r[0].typ(), PosixRlimitType::RlimitNofile);
        assert_eq!((r[0].soft(), r[0].hard()), (1024, 2048));
        assert_eq!(r[1].typ(), PosixRlimitType::RlimitCore);
        assert_eq!((r[1].soft(), r[1].hard()), (u64::MAX, u64::MAX));
        let json = serde_json::to_value(r[0]).unwrap();
        assert_eq!(json["type"], "RLIMIT_NOFILE");
        assert!(rlimits(&[]).unwrap().is_empty());
    }

    #[test]
    fn bad_ulimits_are_refused() {
        assert_eq!(check(&u("as", 1, 1)).unwrap_err(), "invalid ulimit name as");
        assert_eq!(
            check(&u("nofile", 20, 10)).unwrap_err(),
            "ulimit soft limit must be less than or equal to hard limit: 20 > 10"
        );
        assert_eq!(
            check(&u("nofile", -1, 10)).unwrap_err(),
            "ulimit soft limit must be less than or equal to hard limit: soft: -1 (unlimited), hard: 10"
        );
        assert!(check(&u("nproc", -5, -1)).is_err());
        assert!(
            check(&u("nproc", 5, -1)).is_ok(),
            "any soft under an unlimited hard"
        );
    }
}
