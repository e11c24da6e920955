//! `run`/`create` health-check flags → `Config.Healthcheck`, checked as the docker CLI checks them.

use anyhow::Result;
use bollard::models::HealthConfig;
use clap::Args;

use crate::errors::CliError;

#[derive(Args, Debug, Clone, Default)]
pub struct HealthOpts {
    /// Command to run to check health
    #[arg(long = "health-cmd")]
    pub cmd: Option<String>,
    /// Time between running the check (ms|s|m|h)
    #[arg(long = "health-interval")]
    pub interval: Option<String>,
    /// Maximum time to allow one check to run (ms|s|m|h)
    #[arg(long = "health-timeout")]
    pub timeout: Option<String>,
    /// Start period for the container to initialize before starting health-retries countdown (ms|s|m|h)
    #[arg(long = "health-start-period")]
    pub start_period: Option<String>,
    /// Time between running the check during the start period (ms|s|m|h)
    #[arg(long = "health-start-interval")]
    pub start_interval: Option<String>,
    /// Consecutive failures needed to report unhealthy
    #[arg(long = "health-retries", allow_hyphen_values = true)]
    pub retries: Option<i64>,
    /// Disable any container-specified HEALTHCHECK
    #[arg(long = "no-healthcheck")]
    pub disabled: bool,
}

/// Go's `time.ParseDuration` in nanoseconds (`1m30s`, `200ms`, `1.5h`).
pub fn go_duration(s: &str) -> Option<i64> {
    let (neg, mut rest) = match s.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    if rest == "0" {
        return Some(0);
    }
    if rest.is_empty() {
        return None;
    }
    let mut total = 0f64;
    while !rest.is_empty() {
        let n = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let value: f64 = rest[..n].parse().ok()?;
        rest = &rest[n..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let scale = match &rest[..unit_len] {
            "ns" => 1.0,
            "us" | "µs" | "μs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            _ => return None,
        };
        rest = &rest[unit_len..];
        total += value * scale;
    }
    let ns = total.round() as i64;
    Some(if neg { -ns } else { ns })
}

fn duration(flag: &str, value: Option<&String>) -> Result<Option<i64>> {
    let Some(v) = value else { return Ok(None) };
    let ns = go_duration(v).ok_or_else(|| {
        CliError::usage(format!(
            "invalid argument \"{v}\" for \"--{flag}\" flag: time: invalid duration \"{v}\""
        ))
    })?;
    if ns < 0 {
        return Err(CliError::usage(format!("--{flag} cannot be negative")).into());
    }
    Ok(Some(ns))
}

impl HealthOpts {
    /// The `Healthcheck` to send, if any flag asks for one.
    pub fn config(&self) -> Result<Option<HealthConfig>> {
        let interval = duration("health-interval", self.interval.as_ref())?;
        let timeout = duration("health-timeout", self.timeout.as_ref())?;
        let start_period = duration("health-start-period", self.start_period.as_ref())?;
        let start_interval = duration("health-start-interval", self.start_interval.as_ref())?;
        let any = self.cmd.is_some()
            || interval.is_some()
            || timeout.is_some()
            || start_period.is_some()
            || start_interval.is_some()
            || self.retries.is_some();
        if self.disabled {
            if any {
                return Err(
                    CliError::usage("--no-healthcheck conflicts with --health-* options").into(),
                );
            }
            return Ok(Some(HealthConfig {
                test: Some(vec!["NONE".into()]),
                ..Default::default()
            }));
        }
        if !any {
            return Ok(None);
        }
        if self.retries.is_some_and(|r| r < 0) {
            return Err(CliError::usage("--health-retries cannot be negative").into());
        }
        Ok(Some(HealthConfig {
            test: self
                .cmd
                .as_ref()
                .map(|c| vec!["CMD-SHELL".to_string(), c.clone()]),
            interval,
            timeout,
            start_period,
            start_interval,
            retries: self.retries,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_like_go() {
        assert_eq!(go_duration("200ms"), Some(200_000_000));
        assert_eq!(go_duration("1m30s"), Some(90_000_000_000));
        assert_eq!(go_duration("1.5h"), Some(5_400_000_000_000));
        assert_eq!(go_duration("0"), Some(0));
        assert_eq!(go_duration("5"), None);
        assert_eq!(go_duration("5x"), None);
    }

    #[test]
    fn flags_make_the_clis_healthcheck() {
        let h = HealthOpts {
            cmd: Some("curl -f localhost".into()),
            interval: Some("2s".into()),
            retries: Some(4),
            ..Default::default()
        };
        let c = h.config().unwrap().unwrap();
        assert_eq!(c.test.unwrap(), ["CMD-SHELL", "curl -f localhost"]);
        assert_eq!(c.interval, Some(2_000_000_000));
        assert_eq!(c.retries, Some(4));
        let none = HealthOpts {
            disabled: true,
            ..Default::default()
        };
        assert_eq!(none.config().unwrap().unwrap().test.unwrap(), ["NONE"]);
        let both = HealthOpts {
            disabled: true,
            cmd: Some("true".into()),
            ..Default::default()
        };
        assert!(both.config().is_err());
        assert!(HealthOpts::default().config().unwrap().is_none());
        let negative = HealthOpts {
            retries: Some(-1),
            ..Default::default()
        };
        assert!(negative.config().is_err());
    }
}
