//! Reading a tar entry as go-archive does: its path cleaned lexically, its owner, mode, mtime
//! (PAX nanoseconds) and xattrs (`SCHILY.xattr.*`).

use std::ffi::OsStr;
use std::io::{self, Read};
use std::path::{Component, Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum EntryError {
    #[error("layer entry {path:?}: {source}")]
    Read {
        path: String,
        #[source]
        source: io::Error,
    },
    #[error("layer entry {path:?}: {what} out of range")]
    OutOfRange { path: String, what: &'static str },
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Timestamp {
    pub secs: i64,
    pub nanos: i64,
}

/// What an entry carries besides its content, read before the content is consumed.
pub struct Meta {
    pub uid: u32,
    pub gid: u32,
    pub mode: u32,
    pub mtime: Timestamp,
    pub xattrs: Vec<(String, Vec<u8>)>,
}

impl Timestamp {
    pub fn timespec(self) -> nix::sys::time::TimeSpec {
        nix::sys::time::TimeSpec::new(self.secs as _, self.nanos as _)
    }
}

pub fn read_meta<R: Read>(entry: &mut tar::Entry<'_, R>, name: &str) -> Result<Meta, EntryError> {
    let bad = |source: io::Error| EntryError::Read {
        path: name.to_string(),
        source,
    };
    let header = entry.header();
    let uid = u32::try_from(header.uid().map_err(bad)?).map_err(|_| EntryError::OutOfRange {
        path: name.to_string(),
        what: "uid",
    })?;
    let gid = u32::try_from(header.gid().map_err(bad)?).map_err(|_| EntryError::OutOfRange {
        path: name.to_string(),
        what: "gid",
    })?;
    let mode = header.mode().map_err(bad)? & 0o7777;
    let mut mtime = Timestamp {
        secs: i64::try_from(header.mtime().unwrap_or(0)).unwrap_or(0),
        nanos: 0,
    };
    let mut xattrs = Vec::new();
    if let Some(exts) = entry.pax_extensions().map_err(bad)? {
        for ext in exts {
            let ext = ext.map_err(bad)?;
            let Ok(key) = ext.key() else { continue };
            if let Some(xattr) = key.strip_prefix("SCHILY.xattr.") {
                xattrs.push((xattr.to_string(), ext.value_bytes().to_vec()));
            } else if key == "mtime" {
                if let Some(t) = ext.value().ok().and_then(parse_pax_time) {
                    mtime = t;
                }
            }
        }
    }
    Ok(Meta {
        uid,
        gid,
        mode,
        mtime,
        xattrs,
    })
}

/// Parses a PAX time value (`secs[.fraction]`, possibly negative) at nanosecond precision.
fn parse_pax_time(s: &str) -> Option<Timestamp> {
    let (neg, body) = match s.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, s),
    };
    let (int, frac) = body.split_once('.').unwrap_or((body, ""));
    if int.is_empty() || !int.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let secs: i64 = int.parse().ok()?;
    let mut digits: String = frac.chars().take(9).collect();
    while digits.len() < 9 {
        digits.push('0');
    }
    let nanos: i64 = digits.parse().ok()?;
    Some(if !neg {
        Timestamp { secs, nanos }
    } else if nanos == 0 {
        Timestamp {
            secs: -secs,
            nanos: 0,
        }
    } else {
        // timespec keeps nanoseconds positive: -1.25 is -2 s + 0.75 s.
        Timestamp {
            secs: -secs - 1,
            nanos: 1_000_000_000 - nanos,
        }
    })
}

/// Normalizes an entry path relative to the layer root: a leading `/` or `./` is dropped and `..`
/// is resolved lexically. `None` if the path climbs above the root.
pub fn clean_path(p: &Path) -> Option<PathBuf> {
    let mut parts: Vec<&OsStr> = Vec::new();
    for c in p.components() {
        match c {
            Component::Normal(x) => parts.push(x),
            Component::CurDir | Component::RootDir => {}
            Component::ParentDir => {
                parts.pop()?;
            }
            Component::Prefix(_) => return None,
        }
    }
    Some(parts.iter().collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pax_times_keep_nanoseconds() {
        assert_eq!(
            parse_pax_time("1700000000.5"),
            Some(Timestamp {
                secs: 1_700_000_000,
                nanos: 500_000_000
            })
        );
        assert_eq!(
            parse_pax_time("-1.25"),
            Some(Timestamp {
                secs: -2,
                nanos: 750_000_000
            })
        );
        assert_eq!(parse_pax_time("12"), Some(Timestamp { secs: 12, nanos: 0 }));
        assert_eq!(parse_pax_time("x.1"), None);
    }
}
