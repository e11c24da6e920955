//! Log drivers as dockerd offers them: `json-file` (the default), `local` (rotated by default) and
//! `none`. Options are checked at create with dockerd's messages, so a container never starts with
//! a logging setup that was silently dropped. Both file drivers write Docker's json-file lines;
//! `local`'s own on-disk format is dockerd's internal affair, and `docker logs` reads both alike.

use crate::api::types::LogConfig;
use crate::error::{EngineError, Result};
pub use crate::monitor::logfile::Rotation;

/// What a container's logging does, from its `HostConfig.LogConfig`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogDriver {
    /// A json-file log, rotated as asked.
    File(Rotation),
    /// No log: `docker logs` cannot read anything back.
    None,
}

const JSON_FILE_OPTS: &[&str] = &[
    "max-file",
    "max-size",
    "compress",
    "labels",
    "labels-regex",
    "env",
    "env-regex",
    "tag",
];
const LOCAL_OPTS: &[&str] = &["max-file", "max-size", "compress"];

/// dockerd's `local` driver defaults: 20 MB files, 5 of them, compressed.
const LOCAL_DEFAULT: Rotation = Rotation {
    max_size: Some(20 * 1000 * 1000),
    max_files: 5,
    compress: true,
};

impl LogDriver {
    /// Validates `cfg` as dockerd does at create and at start, with its messages.
    pub fn from_config(cfg: &LogConfig) -> Result<LogDriver> {
        let (name, allowed, base) = match cfg.kind.as_str() {
            "" | "json-file" => (
                "json-file",
                JSON_FILE_OPTS,
                Rotation {
                    max_size: None,
                    max_files: 1,
                    compress: false,
                },
            ),
            "local" => ("local", LOCAL_OPTS, LOCAL_DEFAULT),
            // dockerd has no option validator for `none`: options are accepted and mean nothing.
            "none" => return Ok(LogDriver::None),
            other => {
                return Err(EngineError::invalid(format!(
                    "logger: no log driver named '{other}' is registered"
                )))
            }
        };
        let mut keys: Vec<&String> = cfg.config.keys().collect();
        keys.sort();
        for key in keys {
            if !allowed.contains(&key.as_str()) {
                return Err(EngineError::invalid(format!(
                    "unknown log opt '{key}' for {name} log driver"
                )));
            }
        }
        let mut r = base;
        if let Some(v) = cfg.config.get("max-size") {
            let size = from_human_size(v).map_err(EngineError::invalid)?;
            if size <= 0 {
                return Err(EngineError::invalid("max-size must be a positive number"));
            }
            r.max_size = Some(size as u64);
        }
        if let Some(v) = cfg.config.get("max-file") {
            let n: i64 = v.parse().map_err(|_| {
                EngineError::invalid(format!("strconv.Atoi: parsing {v:?}: invalid syntax"))
            })?;
            if n < 1 {
                return Err(EngineError::invalid("max-file cannot be less than 1"));
            }
            r.max_files = u32::try_from(n).unwrap_or(u32::MAX);
        }
        if let Some(v) = cfg.config.get("compress") {
            r.compress = parse_go_bool(v).ok_or_else(|| {
                EngineError::invalid(format!("strconv.ParseBool: parsing {v:?}: invalid syntax"))
            })?;
            if r.compress && (r.max_files < 2 || r.max_size.is_none()) {
                return Err(EngineError::invalid(
                    "compress cannot be true when max-file is less than 2 or max-size is not set",
                ));
            }
        }
        if r.max_size.is_none() {
            // Nothing to rotate at: a single growing file, whatever max-file says.
            r.max_files = 1;
        }
        Ok(LogDriver::File(r))
    }
}

/// Go's `strconv.ParseBool`.
fn parse_go_bool(s: &str) -> Option<bool> {
    match s {
        "1" | "t" | "T" | "true" | "TRUE" | "True" => Some(true),
        "0" | "f" | "F" | "false" | "FALSE" | "False" => Some(false),
        _ => None,
    }
}

/// go-units' `FromHumanSize`: decimal multiples (`10m` is 10 000 000), `b`/`ib` suffixes
/// allowed, case-insensitive.
pub fn from_human_size(s: &str) -> std::result::Result<i64, String> {
    let bad = || format!("invalid size: '{s}'");
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    if num.is_empty() || num.starts_with('.') || num.ends_with('.') {
        return Err(bad());
    }
    let n: f64 = num.parse().map_err(|_| bad())?;
    let unit = unit.strip_prefix(' ').unwrap_or(unit).to_ascii_lowercase();
    let unit = unit
        .strip_suffix("ib")
        .or_else(|| unit.strip_suffix('b'))
        .or_else(|| unit.strip_suffix('i'))
        .unwrap_or(&unit);
    let mult: f64 = match unit {
        "" => 1.0,
        "k" => 1e3,
        "m" => 1e6,
        "g" => 1e9,
        "t" => 1e12,
        "p" => 1e15,
        _ => return Err(bad()),
    };
    Ok((n * mult) as i64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn cfg(kind: &str, opts: &[(&str, &str)]) -> LogConfig {
        LogConfig {
            kind: kind.into(),
            config: opts
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect::<HashMap<_, _>>(),
        }
    }

    fn err(kind: &str, opts: &[(&str, &str)]) -> String {
        LogDriver::from_config(&cfg(kind, opts))
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn drivers_and_defaults() {
        assert_eq!(
            LogDriver::from_config(&cfg("", &[])).unwrap(),
            LogDriver::File(Rotation {
                max_size: None,
                max_files: 1,
                compress: false
            })
        );
        assert_eq!(
            LogDriver::from_config(&cfg("local", &[])).unwrap(),
            LogDriver::File(LOCAL_DEFAULT)
        );
        assert_eq!(
            LogDriver::from_config(&cfg("none", &[("whatever", "x")])).unwrap(),
            LogDriver::None
        );
        assert_eq!(
            LogDriver::from_config(&cfg(
                "json-file",
                &[("max-size", "10k"), ("max-file", "3"), ("compress", "true")]
            ))
            .unwrap(),
            LogDriver::File(Rotation {
                max_size: Some(10_000),
                max_files: 3,
                compress: true
            })
        );
    }

    #[test]
    fn refusals_read_like_dockerd() {
        assert_eq!(
            err("syslog", &[]),
            "logger: no log driver named 'syslog' is registered"
        );
        assert_eq!(
            err("json-file", &[("max-bytes", "1")]),
            "unknown log opt 'max-bytes' for json-file log driver"
        );
        assert_eq!(
            err("local", &[("tag", "x")]),
            "unknown log opt 'tag' for local log driver"
        );
        assert_eq!(
            err("json-file", &[("max-file", "0"), ("max-size", "1m")]),
            "max-file cannot be less than 1"
        );
        assert_eq!(
            err("json-file", &[("max-size", "-1")]),
            "invalid size: '-1'"
        );
        assert_eq!(
            err("json-file", &[("compress", "true")]),
            "compress cannot be true when max-file is less than 2 or max-size is not set"
        );
    }

    #[test]
    fn human_sizes_are_decimal() {
        assert_eq!(from_human_size("10m"), Ok(10_000_000));
        assert_eq!(from_human_size("1.5k"), Ok(1500));
        assert_eq!(from_human_size("2MB"), Ok(2_000_000));
        assert_eq!(from_human_size("100"), Ok(100));
        assert!(from_human_size("m").is_err());
        assert!(from_human_size("5x").is_err());
    }
}
