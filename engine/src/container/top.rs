//! `docker top`: the host's `ps` with the caller's arguments, keeping the rows of processes in the
//! container's cgroup (dockerd's way, so every `ps` format option works).

use std::sync::OnceLock;

use super::{Container, ContainerService};
use crate::api::types::stats::ContainerTopResponse;
use crate::error::{EngineError, Result};

impl ContainerService {
    pub async fn top(&self, c: &Container, ps_args: Option<&str>) -> Result<ContainerTopResponse> {
        let ps_args = ps_args.filter(|a| !a.is_empty()).unwrap_or("-ef");
        validate_ps_args(ps_args)?;
        {
            let d = c.lock();
            if !d.st.state.is_running() {
                return Err(EngineError::Conflict(format!(
                    "Container {} is not running",
                    c.id
                )));
            }
            if d.st.state.is_restarting() {
                return Err(EngineError::Conflict(format!(
                    "Container {} is restarting, wait until the container is running",
                    c.id
                )));
            }
        }
        let cgroup = self.cgroup_dir(&c.id);
        let pids = tokio::task::spawn_blocking(move || cgroup.procs())
            .await
            .map_err(|e| EngineError::internal(format!("listing the container's processes: {e}")))?
            .map_err(|e| {
                EngineError::internal(format!("listing the container's processes: {e}"))
            })?;
        let args: Vec<&str> = ps_args.split(' ').filter(|a| !a.is_empty()).collect();
        let output = run_ps(&args, &pids).await?;
        let resp = parse_ps_output(&output, &pids)?;
        self.emit(c, "top", &[]);
        Ok(resp)
    }
}

/// Runs `ps ARGS -qPIDS` (only the container's processes, cheap on a busy host), or plain
/// `ps ARGS` when the arguments do not combine with `-q` (e.g. `f`, BSD-style `aux`).
async fn run_ps(args: &[&str], pids: &[u32]) -> Result<String> {
    let list: Vec<String> = pids.iter().map(u32::to_string).collect();
    let with_q = format!("-q{}", list.join(","));
    let first = ps(args.iter().copied().chain([with_q.as_str()])).await?;
    let out = if first.status.success() {
        first
    } else {
        ps(args.iter().copied()).await?
    };
    if !out.status.success() {
        // Like dockerd: the first line of ps's complaint is the error.
        let stderr = String::from_utf8_lossy(&out.stderr);
        let why = stderr
            .lines()
            .next()
            .filter(|l| !l.is_empty())
            .map(str::to_string)
            .unwrap_or_else(|| out.status.to_string());
        return Err(EngineError::internal(format!("ps: {why}")));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

async fn ps<'a>(args: impl Iterator<Item = &'a str>) -> Result<std::process::Output> {
    tokio::process::Command::new("ps")
        .args(args)
        .stdin(std::process::Stdio::null())
        .output()
        .await
        .map_err(|e| EngineError::internal(format!("ps: {e}")))
}

/// dockerd refuses renaming a column to `PID` (`-o user=PID`): the PID column must be the pid.
pub fn validate_ps_args(args: &str) -> Result<()> {
    static RE: OnceLock<Option<regex::Regex>> = OnceLock::new();
    let re = RE.get_or_init(|| regex::Regex::new(r"\s+([^\s]*)=\s*(PID[^\s]*)").ok());
    let Some(re) = re else {
        return Ok(());
    };
    for cap in re.captures_iter(args) {
        let (k, v) = (&cap[1], &cap[2]);
        if k != "pid" {
            return Err(EngineError::internal(format!(
                "specifying \"{k}={v}\" is not allowed"
            )));
        }
    }
    Ok(())
}

/// Splits on ASCII whitespace only, as dockerd does (a command line may hold other spaces).
fn fields(line: &str) -> Vec<&str> {
    line.split(['\t', '\n', '\x0c', '\r', ' '])
        .filter(|f| !f.is_empty())
        .collect()
}

/// Keeps the rows whose PID is one of `pids`; thread rows (`-` as PID, from `ps -L`/`m`) go with
/// the process above them. Columns past the titles are joined into the last one (the command).
pub fn parse_ps_output(output: &str, pids: &[u32]) -> Result<ContainerTopResponse> {
    let mut lines = output.lines();
    let titles: Vec<String> = lines
        .next()
        .map(fields)
        .unwrap_or_default()
        .into_iter()
        .map(str::to_string)
        .collect();
    let pid_col = titles
        .iter()
        .position(|t| t == "PID")
        .ok_or_else(|| EngineError::internal("Couldn't find PID field in ps output"))?;
    let mut processes = Vec::new();
    let mut in_container = false;
    for line in lines.filter(|l| !l.is_empty()) {
        let f = fields(line);
        let Some(pid) = f.get(pid_col) else {
            continue;
        };
        if *pid == "-" {
            if in_container {
                processes.push(row(&f, titles.len()));
            }
            continue;
        }
        let pid: u32 = pid
            .parse()
            .map_err(|e| EngineError::internal(format!("Unexpected pid '{pid}': {e}")))?;
        in_container = pids.contains(&pid);
        if in_container {
            processes.push(row(&f, titles.len()));
        }
    }
    Ok(ContainerTopResponse { titles, processes })
}

fn row(f: &[&str], columns: usize) -> Vec<String> {
    let last = columns.saturating_sub(1).min(f.len());
    let mut r: Vec<String> = f[..last].iter().map(|s| s.to_string()).collect();
    r.push(f[last..].join(" "));
    // A row with empty trailing columns still has one cell per title.
    r.resize(columns.max(1), String::new());
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    const PS_EF: &str = "\
UID          PID    PPID  C STIME TTY          TIME CMD
root           1       0  0 10:00 ?        00:00:01 /sbin/init
root        4242    4200  0 10:01 ?        00:00:00 sleep 300
root        4243    4242  0 10:01 ?        00:00:00 sh -c while :; do :; done
";

    #[test]
    fn keeps_container_rows_and_joins_the_command() {
        let r = parse_ps_output(PS_EF, &[4242, 4243]).unwrap();
        assert_eq!(r.titles.len(), 8);
        assert_eq!(r.processes.len(), 2);
        assert_eq!(r.processes[0][1], "4242");
        assert_eq!(r.processes[0][7], "sleep 300");
        assert_eq!(r.processes[1][7], "sh -c while :; do :; done");
    }

    #[test]
    fn thread_rows_follow_their_process() {
        let out = "\
  PID   LWP CMD
    9     - other
    -     9 -
   10     - app
    -    10 -
    -    11 -
";
        let r = parse_ps_output(out, &[10]).unwrap();
        assert_eq!(r.processes.len(), 3);
        assert_eq!(r.processes[0], vec!["10", "-", "app"]);
    }

    #[test]
    fn no_pid_column_or_bad_pid_is_an_error() {
        assert!(parse_ps_output("USER CMD\nroot x\n", &[1]).is_err());
        assert!(parse_ps_output("PID CMD\nabc x\n", &[1]).is_err());
        assert!(parse_ps_output("", &[1]).is_err());
    }

    #[test]
    fn renaming_a_column_to_pid_is_refused() {
        assert!(validate_ps_args("-o pid=PID").is_ok());
        assert!(validate_ps_args("-ef").is_ok());
        let e = validate_ps_args("-o user=PID").unwrap_err();
        assert_eq!(e.to_string(), "specifying \"user=PID\" is not allowed");
    }
}
