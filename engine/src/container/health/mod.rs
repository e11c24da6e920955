//! Health checks, as dockerd runs them: `Config.Healthcheck` (from `HEALTHCHECK` or the
//! `--health-*` flags) is probed by an exec in the running container every interval; its results
//! make `State.Health`, the `(healthy)` of `docker ps`, the `health` filter and the
//! `health_status: …` events.
//!
//! This module holds the pure parts (configuration, the state machine of one result); the
//! [`monitor`] runs the probes.

pub mod monitor;

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::api::types::{Health, HealthConfig, HealthcheckResult};
use crate::error::{EngineError, Result};

pub const STARTING: &str = "starting";
pub const HEALTHY: &str = "healthy";
pub const UNHEALTHY: &str = "unhealthy";

/// dockerd's defaults for a zero field.
const DEFAULT_INTERVAL: Duration = Duration::from_secs(30);
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
const DEFAULT_START_INTERVAL: Duration = Duration::from_secs(5);
const DEFAULT_RETRIES: i64 = 3;
/// Results kept in `State.Health.Log`.
const LOG_ENTRIES: usize = 5;
/// Probe output kept per result; more is cut and marked with `...`.
pub const MAX_OUTPUT: usize = 4096;

fn parse(v: &Value) -> Result<HealthConfig> {
    serde_json::from_value(v.clone())
        .map_err(|e| EngineError::invalid(format!("invalid Healthcheck: {e}")))
}

/// Checks `Config.Healthcheck` at create, with dockerd's messages.
pub fn validate(v: Option<&Value>) -> Result<()> {
    let Some(v) = v.filter(|v| !v.is_null()) else {
        return Ok(());
    };
    let c = parse(v)?;
    const MIN: i64 = 1_000_000; // 1ms
    for (name, value) in [
        ("Interval", c.interval),
        ("Timeout", c.timeout),
        ("StartPeriod", c.start_period),
        ("StartInterval", c.start_interval),
    ] {
        if value != 0 && value < MIN {
            return Err(EngineError::invalid(format!(
                "{name} in Healthcheck cannot be less than 1ms"
            )));
        }
    }
    if c.retries < 0 {
        return Err(EngineError::invalid(
            "Retries in Healthcheck cannot be negative",
        ));
    }
    Ok(())
}

/// dockerd's merge of the image's health check into the container's: a missing check is the
/// image's, and each zero field of a given one takes the image's value.
pub fn merge(user: &mut Option<Value>, image: Option<&Value>) {
    let Some(image) = image.filter(|v| !v.is_null()) else {
        return;
    };
    let Some(Value::Object(u)) = user.as_mut() else {
        *user = Some(image.clone());
        return;
    };
    let Value::Object(i) = image else { return };
    for key in [
        "Test",
        "Interval",
        "Timeout",
        "StartPeriod",
        "StartInterval",
        "Retries",
    ] {
        let unset = match u.get(key) {
            None | Some(Value::Null) => true,
            Some(Value::Array(a)) => a.is_empty(),
            Some(Value::Number(n)) => n.as_i64() == Some(0),
            Some(_) => false,
        };
        if unset {
            if let Some(v) = i.get(key) {
                u.insert(key.into(), v.clone());
            }
        }
    }
}

/// What one container's health monitor runs, from its `Config`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Probe {
    /// The command of the exec (for `CMD-SHELL`, with the container's shell in front).
    pub cmd: Vec<String>,
    pub interval: Duration,
    pub timeout: Duration,
    pub start_period: Duration,
    pub start_interval: Duration,
    pub retries: i64,
}

fn nanos_or(n: i64, default: Duration) -> Duration {
    if n <= 0 {
        default
    } else {
        Duration::from_nanos(n as u64)
    }
}

impl Probe {
    /// The probe of a config; None without a check, with `NONE`, or an unknown test type (which
    /// dockerd also skips).
    pub fn of(healthcheck: Option<&Value>, shell: Option<&[String]>) -> Option<Probe> {
        let c = parse(healthcheck.filter(|v| !v.is_null())?).ok()?;
        let (kind, args) = c.test.split_first()?;
        let cmd = match kind.as_str() {
            "CMD" => args.to_vec(),
            "CMD-SHELL" => {
                let mut cmd = match shell.filter(|s| !s.is_empty()) {
                    Some(s) => s.to_vec(),
                    None => vec!["/bin/sh".into(), "-c".into()],
                };
                cmd.extend(args.iter().cloned());
                cmd
            }
            "NONE" => return None,
            other => {
                tracing::warn!(kind = other, "unknown health check type: no health check");
                return None;
            }
        };
        if cmd.is_empty() {
            return None;
        }
        Some(Probe {
            cmd,
            interval: nanos_or(c.interval, DEFAULT_INTERVAL),
            timeout: nanos_or(c.timeout, DEFAULT_TIMEOUT),
            start_period: nanos_or(c.start_period, Duration::ZERO),
            start_interval: nanos_or(c.start_interval, DEFAULT_START_INTERVAL),
            retries: if c.retries <= 0 {
                DEFAULT_RETRIES
            } else {
                c.retries
            },
        })
    }

    /// The wait before the next probe, `since_start` after the container started: the start
    /// interval while still starting inside the start period, and never past that period's end.
    pub fn next_wait(&self, since_start: Duration, starting: bool) -> Duration {
        if since_start >= self.start_period {
            return self.interval;
        }
        let left = self.start_period - since_start;
        if left < self.interval {
            left
        } else if starting {
            self.start_interval
        } else {
            self.interval
        }
    }
}

/// The health of a container as it (re)starts: `starting`, no failures, the old log kept.
pub fn restart(h: &mut Option<Health>) {
    let h = h.get_or_insert_with(Health::default);
    h.status = STARTING.into();
    h.failing_streak = 0;
}

/// Applies one probe result (dockerd's `handleProbeResult`); returns the new status when it
/// changed. A failure inside the start period does not count while the container is starting.
pub fn record(
    h: &mut Health,
    probe: &Probe,
    result: HealthcheckResult,
    since_start: Duration,
) -> Option<String> {
    let old = h.status.clone();
    let healthy = result.exit_code == 0;
    h.log.push(result);
    if h.log.len() > LOG_ENTRIES {
        h.log.drain(..h.log.len() - LOG_ENTRIES);
    }
    if healthy {
        h.failing_streak = 0;
        h.status = HEALTHY.into();
    } else if !(h.status == STARTING && since_start < probe.start_period) {
        h.failing_streak += 1;
        if h.failing_streak >= probe.retries {
            h.status = UNHEALTHY.into();
        }
    }
    (h.status != old).then(|| h.status.clone())
}

/// What `docker ps` puts after `Up 3 minutes`.
pub fn ps_suffix(h: &Health) -> String {
    if h.status == STARTING {
        " (health: starting)".into()
    } else {
        format!(" ({})", h.status)
    }
}

/// A result's time as dockerd writes it.
pub fn stamp(t: DateTime<Utc>) -> String {
    crate::timestamp::rfc3339_nano(t)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn probe(v: Value) -> Probe {
        Probe::of(Some(&v), None).expect("a probe")
    }

    fn result(code: i64) -> HealthcheckResult {
        HealthcheckResult {
            exit_code: code,
            ..Default::default()
        }
    }

    #[test]
    fn probes_follow_the_test_type_and_take_the_defaults() {
        let p = probe(json!({"Test": ["CMD-SHELL", "curl -f localhost"]}));
        assert_eq!(p.cmd, ["/bin/sh", "-c", "curl -f localhost"]);
        assert_eq!(p.interval, Duration::from_secs(30));
        assert_eq!(p.timeout, Duration::from_secs(30));
        assert_eq!(p.retries, 3);
        let p = probe(
            json!({"Test": ["CMD", "true", "x"], "Interval": 1_000_000_000i64, "Retries": 1}),
        );
        assert_eq!(p.cmd, ["true", "x"]);
        assert_eq!(p.interval, Duration::from_secs(1));
        assert_eq!(p.retries, 1);
        let shell = ["/bin/ash".to_string(), "-ec".to_string()];
        let p = Probe::of(Some(&json!({"Test": ["CMD-SHELL", "x"]})), Some(&shell)).unwrap();
        assert_eq!(p.cmd, ["/bin/ash", "-ec", "x"]);
        for none in [
            json!({"Test": ["NONE"]}),
            json!({"Test": []}),
            json!({"Test": ["WHAT", "x"]}),
            json!({"Test": ["CMD"]}),
            Value::Null,
        ] {
            assert_eq!(Probe::of(Some(&none), None), None, "{none}");
        }
    }

    #[test]
    fn validation_uses_dockerds_messages() {
        validate(Some(
            &json!({"Test": ["CMD", "true"], "Interval": 1_000_000}),
        ))
        .unwrap();
        let err = validate(Some(&json!({"Interval": 999_999}))).unwrap_err();
        assert_eq!(
            err.to_string(),
            "Interval in Healthcheck cannot be less than 1ms"
        );
        let err = validate(Some(&json!({"Retries": -1}))).unwrap_err();
        assert_eq!(err.to_string(), "Retries in Healthcheck cannot be negative");
        assert!(validate(Some(&json!({"Test": "not a list"}))).is_err());
    }

    #[test]
    fn the_image_check_fills_what_the_user_left_unset() {
        let image = json!({"Test": ["CMD", "probe"], "Interval": 5, "Retries": 2});
        let mut user = None;
        merge(&mut user, Some(&image));
        assert_eq!(user, Some(image.clone()));
        let mut user = Some(json!({"Test": [], "Interval": 7, "Retries": 0}));
        merge(&mut user, Some(&image));
        assert_eq!(
            user,
            Some(json!({"Test": ["CMD", "probe"], "Interval": 7, "Retries": 2}))
        );
        let mut user = Some(json!({"Test": ["NONE"]}));
        merge(&mut user, Some(&image));
        assert_eq!(user.unwrap()["Test"], json!(["NONE"]));
    }

    #[test]
    fn failures_turn_unhealthy_after_the_retries_and_a_success_heals() {
        let p = probe(json!({"Test": ["CMD", "x"], "Retries": 2}));
        let mut h = None;
        restart(&mut h);
        let mut h = h.unwrap();
        let late = Duration::from_secs(100);
        assert_eq!(record(&mut h, &p, result(1), late), None);
        assert_eq!((h.status.as_str(), h.failing_streak), (STARTING, 1));
        assert_eq!(
            record(&mut h, &p, result(1), late).as_deref(),
            Some(UNHEALTHY)
        );
        assert_eq!(
            record(&mut h, &p, result(0), late).as_deref(),
            Some(HEALTHY)
        );
        assert_eq!(h.failing_streak, 0);
        for _ in 0..10 {
            record(&mut h, &p, result(0), late);
        }
        assert_eq!(h.log.len(), 5, "only the last five results are kept");
    }

    #[test]
    fn failures_inside_the_start_period_do_not_count_while_starting() {
        let p =
            probe(json!({"Test": ["CMD", "x"], "Retries": 1, "StartPeriod": 60_000_000_000i64}));
        let mut h = None;
        restart(&mut h);
        let mut h = h.unwrap();
        assert_eq!(record(&mut h, &p, result(1), Duration::from_secs(5)), None);
        assert_eq!((h.status.as_str(), h.failing_streak), (STARTING, 0));
        assert_eq!(
            record(&mut h, &p, result(0), Duration::from_secs(6)).as_deref(),
            Some(HEALTHY)
        );
        // Once healthy, a failure counts even inside the period.
        assert_eq!(
            record(&mut h, &p, result(1), Duration::from_secs(7)).as_deref(),
            Some(UNHEALTHY)
        );
    }

    #[test]
    fn waits_use_the_start_interval_and_stop_at_the_start_periods_end() {
        let p = probe(json!({
            "Test": ["CMD", "x"],
            "Interval": 30_000_000_000i64,
            "StartPeriod": 60_000_000_000i64,
            "StartInterval": 2_000_000_000i64
        }));
        let s = Duration::from_secs;
        assert_eq!(p.next_wait(s(0), true), s(2));
        assert_eq!(p.next_wait(s(0), false), s(30));
        assert_eq!(p.next_wait(s(50), true), s(10));
        assert_eq!(p.next_wait(s(70), true), s(30));
    }

    #[test]
    fn ps_shows_the_status_as_dockerd() {
        let mut h = Health {
            status: STARTING.into(),
            ..Default::default()
        };
        assert_eq!(ps_suffix(&h), " (health: starting)");
        h.status = HEALTHY.into();
        assert_eq!(ps_suffix(&h), " (healthy)");
    }
}
