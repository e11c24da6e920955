//! Times as the API writes them. dockerd writes RFC 3339 in UTC with nanoseconds (`Created`,
//! `StartedAt`, log lines), with whole seconds for volumes, and `0001-01-01T00:00:00Z` (Go's zero
//! time) for a time that never happened.

use chrono::{DateTime, SecondsFormat, Utc};

/// Go's zero `time.Time`, as dockerd writes a time that has not happened (`FinishedAt` of a
/// container that never ran).
pub const ZERO_TIME: &str = "0001-01-01T00:00:00Z";

/// RFC 3339 with 9 fractional digits, UTC, `Z`.
pub fn rfc3339_nano(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Nanos, true)
}

/// Now, as [`rfc3339_nano`].
pub fn now_rfc3339() -> String {
    rfc3339_nano(Utc::now())
}

/// Whole seconds (`CreatedAt` of volumes).
pub fn rfc3339_secs(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// As few fractional digits as the value needs (Go's `time.RFC3339Nano`; `docker cp`'s stat).
pub fn rfc3339_auto(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

/// A Unix time in seconds and nanoseconds; out-of-range values read as the epoch.
pub fn from_unix(secs: i64, nanos: u32) -> DateTime<Utc> {
    DateTime::from_timestamp(secs, nanos.min(999_999_999)).unwrap_or_default()
}

/// dockerd's `units.HumanDuration`, used in `docker ps` STATUS.
pub fn human_duration(secs: i64) -> String {
    let s = secs.max(0);
    let minutes = s / 60;
    let hours = minutes / 60;
    match s {
        0 => "Less than a second".into(),
        1 => "1 second".into(),
        2..=59 => format!("{s} seconds"),
        _ if minutes == 1 => "About a minute".into(),
        _ if minutes < 60 => format!("{minutes} minutes"),
        _ if hours == 1 => "About an hour".into(),
        _ if hours < 48 => format!("{hours} hours"),
        _ if hours < 24 * 7 * 2 => format!("{} days", hours / 24),
        _ if hours < 24 * 30 * 2 => format!("{} weeks", hours / 24 / 7),
        _ if hours < 24 * 365 * 2 => format!("{} months", hours / 24 / 30),
        _ => format!("{} years", hours / 24 / 365),
    }
}

/// Go's `time.Duration.String()` for a non-negative duration: `500ms`, `30s`, `1.5s`, `1m30s`,
/// `1h0m0s` (dockerd puts durations this way into messages users read).
pub fn go_duration(d: std::time::Duration) -> String {
    let ns = d.as_nanos();
    // Digits of `value / 10^scale` without trailing zeros in the fraction.
    let decimal = |value: u128, scale: u32| {
        let unit = 10u128.pow(scale);
        let frac = format!("{:0width$}", value % unit, width = scale as usize);
        let frac = frac.trim_end_matches('0');
        if frac.is_empty() {
            format!("{}", value / unit)
        } else {
            format!("{}.{frac}", value / unit)
        }
    };
    match ns {
        0 => "0s".into(),
        1..=999 => format!("{ns}ns"),
        1_000..=999_999 => format!("{}µs", decimal(ns, 3)),
        1_000_000..=999_999_999 => format!("{}ms", decimal(ns, 6)),
        _ => {
            let secs = ns / 1_000_000_000;
            let (h, m) = (secs / 3600, secs / 60 % 60);
            let s = decimal(ns % 60_000_000_000, 9);
            match (h, m) {
                (0, 0) => format!("{s}s"),
                (0, _) => format!("{m}m{s}s"),
                _ => format!("{h}h{m}m{s}s"),
            }
        }
    }
}

/// Whole seconds from `t` to now (0 for a time in the future).
pub fn secs_since(t: DateTime<Utc>) -> i64 {
    (Utc::now() - t).num_seconds().max(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_durations_read_like_go() {
        use std::time::Duration;
        assert_eq!(go_duration(Duration::ZERO), "0s");
        assert_eq!(go_duration(Duration::from_millis(500)), "500ms");
        assert_eq!(go_duration(Duration::from_micros(1500)), "1.5ms");
        assert_eq!(go_duration(Duration::from_secs(30)), "30s");
        assert_eq!(go_duration(Duration::from_millis(1500)), "1.5s");
        assert_eq!(go_duration(Duration::from_secs(90)), "1m30s");
        assert_eq!(go_duration(Duration::from_secs(3600)), "1h0m0s");
    }

    #[test]
    fn durations_read_like_docker() {
        assert_eq!(human_duration(0), "Less than a second");
        assert_eq!(human_duration(5), "5 seconds");
        assert_eq!(human_duration(90), "About a minute");
        assert_eq!(human_duration(3 * 3600), "3 hours");
    }

    #[test]
    fn formats_match_dockerd() {
        let t = from_unix(1_700_000_000, 5_000);
        assert_eq!(rfc3339_nano(t), "2023-11-14T22:13:20.000005000Z");
        assert_eq!(rfc3339_auto(t), "2023-11-14T22:13:20.000005Z");
        assert_eq!(rfc3339_secs(t), "2023-11-14T22:13:20Z");
        assert_eq!(rfc3339_auto(from_unix(0, 0)), "1970-01-01T00:00:00Z");
    }
}
