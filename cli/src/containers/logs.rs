//! `logs`: the container's output, optionally followed, tailed, timestamped or since a time.

use anyhow::Result;
use bollard::query_parameters::LogsOptions;
use bollard::Docker;
use clap::Args;

use crate::errors::CliError;
use crate::stdio;

#[derive(Args, Debug)]
pub struct LogsArgs {
    /// Follow log output
    #[arg(short, long)]
    pub follow: bool,
    /// Number of lines to show from the end of the logs ("all" for every line)
    #[arg(short = 'n', long, default_value = "all")]
    pub tail: String,
    /// Show timestamps
    #[arg(short, long)]
    pub timestamps: bool,
    /// Show logs since a timestamp (e.g. 2013-01-02T13:23:37Z) or relative (e.g. 42m)
    #[arg(long)]
    pub since: Option<String>,
    /// Show logs before a timestamp or relative time
    #[arg(long)]
    pub until: Option<String>,
    pub container: String,
}

/// A time as docker's `--since`: unix seconds, RFC 3339, or a duration ago (`10s`, `5m`, `2h`).
pub fn parse_time(s: &str, now: i64) -> Result<i64> {
    if let Ok(n) = s.parse::<i64>() {
        return Ok(n);
    }
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(s) {
        return Ok(t.timestamp());
    }
    let (num, unit) = s.split_at(s.find(|c: char| c.is_alphabetic()).unwrap_or(s.len()));
    let secs = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        _ => 0,
    };
    match num.parse::<f64>() {
        Ok(n) if secs > 0 => Ok(now - (n * secs as f64) as i64),
        _ => Err(CliError::usage(format!("invalid value for \"since\": {s}")).into()),
    }
}

pub async fn logs(docker: &Docker, args: LogsArgs) -> Result<()> {
    let now = crate::format::now_unix();
    let opts = LogsOptions {
        follow: args.follow,
        stdout: true,
        stderr: true,
        since: args
            .since
            .as_deref()
            .map(|s| parse_time(s, now))
            .transpose()?
            .unwrap_or(0) as i32,
        until: args
            .until
            .as_deref()
            .map(|s| parse_time(s, now))
            .transpose()?
            .unwrap_or(0) as i32,
        timestamps: args.timestamps,
        tail: args.tail,
    };
    // Checks the container first, so a wrong name is a clear engine error, not a broken stream.
    docker.inspect_container(&args.container, None).await?;
    stdio::pump_output(Box::pin(docker.logs(&args.container, Some(opts)))).await
}

#[cfg(test)]
mod tests {
    #[test]
    fn since_forms() {
        use super::parse_time;
        assert_eq!(parse_time("100", 1000).unwrap(), 100);
        assert_eq!(parse_time("10m", 1000).unwrap(), 400);
        assert_eq!(parse_time("1970-01-01T00:01:00Z", 0).unwrap(), 60);
        assert!(parse_time("soon", 0).is_err());
    }
}
