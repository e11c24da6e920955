//! Times as the API writes them (`format`) and as dockerd's filters take them (`until` of the prune endpoints): a Go duration before
//! now (`24h`, `1h30m`), an RFC 3339 time (a zone-less one is local time), a date, or Unix seconds
//! with optional fraction (`1700000000.5`).

use chrono::{DateTime, Local, NaiveDate, NaiveDateTime, TimeZone, Utc};

mod format;
pub use format::*;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TimestampError {
    #[error("failed to parse value as time or duration: value is empty")]
    Empty,
    #[error("failed to parse value as time or duration: {0:?}")]
    Invalid(String),
}

/// Parses `value` against `now` (the reference for durations).
pub fn parse(value: &str, now: DateTime<Utc>) -> Result<DateTime<Utc>, TimestampError> {
    let value_t = value.trim();
    if value_t.is_empty() {
        return Err(TimestampError::Empty);
    }
    if value != "0" {
        if let Some(ns) = parse_go_duration(value) {
            return Ok(now - chrono::Duration::nanoseconds(ns));
        }
    }
    let invalid = || TimestampError::Invalid(value.to_string());
    // dockerd: a zone (`Z`, `+hh:mm`, or a third `-`) means RFC 3339; otherwise local time.
    let zoned = value.contains(['z', 'Z', '+']) || value.matches('-').count() == 3;
    if value.contains(['T', 't']) || value.contains('-') {
        if zoned {
            return DateTime::parse_from_rfc3339(&with_seconds(value))
                .map(|t| t.with_timezone(&Utc))
                .map_err(|_| invalid());
        }
        let naive = if value.contains(['T', 't']) {
            NaiveDateTime::parse_from_str(&with_seconds(value), "%Y-%m-%dT%H:%M:%S%.f").ok()
        } else {
            NaiveDate::parse_from_str(value, "%Y-%m-%d")
                .ok()
                .and_then(|d| d.and_hms_opt(0, 0, 0))
        };
        return naive
            .and_then(|n| Local.from_local_datetime(&n).earliest())
            .map(|t| t.with_timezone(&Utc))
            .ok_or_else(invalid);
    }
    unix_seconds(value).ok_or_else(invalid)
}

/// Go allows `2006-01-02T15` and `2006-01-02T15:04`; chrono wants the seconds.
fn with_seconds(value: &str) -> String {
    let Some((date, rest)) = value.split_once(['T', 't']) else {
        return value.to_string();
    };
    // The clock part ends where the zone begins.
    let zone_at = rest.find(['Z', 'z', '+', '-']).unwrap_or(rest.len());
    let (clock, zone) = rest.split_at(zone_at);
    let clock = match clock.matches(':').count() {
        0 => format!("{clock}:00:00"),
        1 => format!("{clock}:00"),
        _ => clock.to_string(),
    };
    format!("{date}T{clock}{zone}")
}

/// `seconds[.fraction]` since the epoch.
fn unix_seconds(value: &str) -> Option<DateTime<Utc>> {
    let (secs, frac) = value.split_once('.').unwrap_or((value, ""));
    let secs: i64 = secs.parse().ok()?;
    if !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let nanos: u32 = format!("{frac:0<9}").get(..9)?.parse().ok()?;
    DateTime::from_timestamp(secs, nanos)
}

/// Go's `time.ParseDuration`: `[-+]` then one or more `<decimal><unit>` (ns us µs ms s m h).
/// Returns nanoseconds; None when the text is not a duration.
pub fn parse_go_duration(s: &str) -> Option<i64> {
    let (neg, mut rest) = match s.as_bytes().first()? {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    if rest == "0" {
        return Some(0);
    }
    if rest.is_empty() {
        return None;
    }
    let mut total: f64 = 0.0;
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let num = &rest[..num_len];
        if num.is_empty() || num == "." {
            return None;
        }
        let n: f64 = num.parse().ok()?;
        rest = &rest[num_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let unit = match &rest[..unit_len] {
            "ns" => 1.0,
            "us" | "µs" | "μs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            _ => return None,
        };
        rest = &rest[unit_len..];
        total += n * unit;
    }
    if !total.is_finite() || total > i64::MAX as f64 {
        return None;
    }
    let ns = total as i64;
    Some(if neg { -ns } else { ns })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<Utc> {
        DateTime::from_timestamp(1_700_000_000, 0).unwrap()
    }

    #[test]
    fn durations() {
        assert_eq!(parse_go_duration("24h"), Some(86_400_000_000_000));
        assert_eq!(parse_go_duration("1h30m"), Some(5_400_000_000_000));
        assert_eq!(parse_go_duration("1.5s"), Some(1_500_000_000));
        assert_eq!(parse_go_duration("-2m"), Some(-120_000_000_000));
        assert_eq!(parse_go_duration("10"), None);
        assert_eq!(parse_go_duration("h"), None);
        assert_eq!(parse_go_duration("5d"), None);
        assert_eq!(
            parse("10m", now()).unwrap(),
            now() - chrono::Duration::minutes(10)
        );
    }

    #[test]
    fn absolute_times() {
        assert_eq!(
            parse("2023-11-14T22:13:20Z", now()).unwrap(),
            now(),
            "RFC 3339 in UTC"
        );
        assert_eq!(
            parse("2023-11-14T23:13:20.000+01:00", now()).unwrap(),
            now()
        );
        assert_eq!(
            parse("2023-11-14T22:13Z", now()).unwrap().timestamp(),
            1_699_999_980
        );
        assert_eq!(parse("1700000000", now()).unwrap(), now());
        assert_eq!(
            parse("1700000000.5", now())
                .unwrap()
                .timestamp_subsec_millis(),
            500
        );
        // Local forms parse (their value depends on the host's zone).
        assert!(parse("2023-11-14", now()).is_ok());
        assert!(parse("2023-11-14T22:13:20", now()).is_ok());
        assert!(parse("2023-11-14T22", now()).is_ok());
    }

    #[test]
    fn garbage_is_an_error() {
        assert_eq!(parse("", now()), Err(TimestampError::Empty));
        assert!(parse("yesterday", now()).is_err());
        assert!(parse("2023-13-45", now()).is_err());
        assert!(parse("12.x", now()).is_err());
    }
}
