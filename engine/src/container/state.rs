//! A container's run state as the engine keeps it, in the manner of moby's `container/state.go`:
//! one status and the facts that go with it, changed only through transition methods, so that a
//! combination the API could never show (running with no pid, paused but exited) cannot be
//! stored. The API's `State` object and `docker ps` STATUS are derived from it
//! ([`State::to_api`], [`State::status_text`]).
//!
//! On disk (`state.json`) it keeps the shape it has always had (the API's field names, with
//! `Running` meaning the process runs), so records written by an older berthd still load.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::api::types::ContainerState;
use crate::timestamp::{human_duration, rfc3339_nano, secs_since, ZERO_TIME};

/// `State.Status` of the API.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    /// Never started.
    Created,
    /// The process runs.
    Running,
    /// The process runs, frozen.
    Paused,
    /// Exited; the restart policy starts it again after a delay.
    Restarting,
    /// Exited (or never ran after a failed start that had run before).
    Exited,
    /// Being removed; a crash in between is finished at the next start.
    Removing,
    /// A removal failed half-way.
    Dead,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Created => "created",
            Status::Running => "running",
            Status::Paused => "paused",
            Status::Restarting => "restarting",
            Status::Exited => "exited",
            Status::Removing => "removing",
            Status::Dead => "dead",
        }
    }

    fn parse(s: &str) -> Option<Status> {
        Some(match s {
            "created" | "" => Status::Created,
            "running" => Status::Running,
            "paused" => Status::Paused,
            "restarting" => Status::Restarting,
            "exited" => Status::Exited,
            "removing" => Status::Removing,
            "dead" => Status::Dead,
            _ => return None,
        })
    }
}

/// A transition the state does not allow, e.g. pausing an exited container.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("container state {from:?} cannot become {to}")]
pub struct TransitionError {
    pub from: Status,
    pub to: &'static str,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "ContainerState", into = "ContainerState")]
pub struct State {
    status: Status,
    /// The init process while it runs (running or paused); 0 otherwise.
    pid: u32,
    exit_code: i64,
    oom_killed: bool,
    /// Why the last start failed.
    error: String,
    started_at: Option<DateTime<Utc>>,
    finished_at: Option<DateTime<Utc>>,
}

impl Default for State {
    fn default() -> Self {
        State {
            status: Status::Created,
            pid: 0,
            exit_code: 0,
            oom_killed: false,
            error: String::new(),
            started_at: None,
            finished_at: None,
        }
    }
}

impl State {
    pub fn status(&self) -> Status {
        self.status
    }

    /// The process runs (possibly paused): there is a pid, a rootfs mount and a monitor.
    pub fn is_running(&self) -> bool {
        matches!(self.status, Status::Running | Status::Paused)
    }

    pub fn is_paused(&self) -> bool {
        self.status == Status::Paused
    }

    pub fn is_restarting(&self) -> bool {
        self.status == Status::Restarting
    }

    /// dockerd's `Running`: the process runs, or the container waits for a policy restart.
    pub fn counts_as_running(&self) -> bool {
        self.is_running() || self.is_restarting()
    }

    /// Being removed or half-removed: no start, update or commit.
    pub fn is_removal(&self) -> bool {
        matches!(self.status, Status::Removing | Status::Dead)
    }

    pub fn is_dead(&self) -> bool {
        self.status == Status::Dead
    }

    /// The init process's pid while it runs.
    pub fn pid(&self) -> Option<u32> {
        (self.is_running() && self.pid > 0).then_some(self.pid)
    }

    pub fn exit_code(&self) -> i64 {
        self.exit_code
    }

    pub fn oom_killed(&self) -> bool {
        self.oom_killed
    }

    pub fn error(&self) -> &str {
        &self.error
    }

    pub fn started_at(&self) -> Option<DateTime<Utc>> {
        self.started_at
    }

    pub fn finished_at(&self) -> Option<DateTime<Utc>> {
        self.finished_at
    }

    /// How long the last run lasted (StartedAt to FinishedAt), for the restart backoff.
    pub fn last_run_length(&self) -> std::time::Duration {
        match (self.started_at, self.finished_at) {
            (Some(a), Some(b)) => (b - a).to_std().unwrap_or_default(),
            _ => std::time::Duration::ZERO,
        }
    }

    /// The process started: a start by hand or by the restart policy.
    pub fn set_running(&mut self, pid: u32, at: DateTime<Utc>) -> Result<(), TransitionError> {
        self.check(
            "running",
            matches!(
                self.status,
                Status::Created | Status::Exited | Status::Restarting
            ),
        )?;
        *self = State {
            status: Status::Running,
            pid,
            exit_code: 0,
            oom_killed: false,
            error: String::new(),
            started_at: Some(at),
            finished_at: self.finished_at,
        };
        Ok(())
    }

    /// The runtime reported the init's pid again (re-adoption after a berthd restart).
    pub fn set_pid(&mut self, pid: u32) -> Result<(), TransitionError> {
        self.check("running with a new pid", self.is_running())?;
        self.pid = pid;
        Ok(())
    }

    /// The process exited (or its monitor vanished: then `code` is what the monitor recorded).
    pub fn set_exited(
        &mut self,
        code: i64,
        oom_killed: bool,
        at: DateTime<Utc>,
    ) -> Result<(), TransitionError> {
        self.check("exited", self.is_running())?;
        self.status = Status::Exited;
        self.pid = 0;
        self.exit_code = code;
        self.oom_killed = oom_killed;
        self.finished_at = Some(at);
        Ok(())
    }

    /// A start failed before the process ran: the status stays what it was (dockerd keeps a
    /// never-started container `created`), the exit code and error say why.
    pub fn set_start_failed(&mut self, code: Option<i64>, error: String) {
        if let Some(code) = code {
            self.exit_code = code;
        }
        self.error = error;
    }

    pub fn set_paused(&mut self) -> Result<(), TransitionError> {
        self.check("paused", self.status == Status::Running)?;
        self.status = Status::Paused;
        Ok(())
    }

    pub fn set_unpaused(&mut self) -> Result<(), TransitionError> {
        self.check("running (unpaused)", self.status == Status::Paused)?;
        self.status = Status::Running;
        Ok(())
    }

    /// The restart policy will start it again.
    pub fn set_restarting(&mut self) -> Result<(), TransitionError> {
        self.check("restarting", self.status == Status::Exited)?;
        self.status = Status::Restarting;
        Ok(())
    }

    /// A pending policy restart is dropped (stop or kill by hand, a failed restart). True if
    /// there was one.
    pub fn cancel_restart(&mut self) -> bool {
        let pending = self.status == Status::Restarting;
        if pending {
            self.status = Status::Exited;
        }
        pending
    }

    pub fn set_removing(&mut self) -> Result<(), TransitionError> {
        self.check("removing", !self.is_running())?;
        self.status = Status::Removing;
        Ok(())
    }

    pub fn set_dead(&mut self) {
        self.status = Status::Dead;
        self.pid = 0;
    }

    fn check(&self, to: &'static str, allowed: bool) -> Result<(), TransitionError> {
        if allowed {
            Ok(())
        } else {
            Err(TransitionError {
                from: self.status,
                to,
            })
        }
    }

    /// `State` of `docker inspect`.
    pub fn to_api(&self) -> ContainerState {
        let mut s = ContainerState::from(self.clone());
        s.running = self.counts_as_running();
        s
    }

    /// The STATUS column of `docker ps`.
    pub fn status_text(&self) -> String {
        let since = |t: Option<DateTime<Utc>>| human_duration(t.map(secs_since).unwrap_or(0));
        match self.status {
            Status::Paused => format!("Up {} (Paused)", since(self.started_at)),
            Status::Running => format!("Up {}", since(self.started_at)),
            Status::Restarting => format!(
                "Restarting ({}) {} ago",
                self.exit_code,
                since(self.finished_at)
            ),
            Status::Exited => format!(
                "Exited ({}) {} ago",
                self.exit_code,
                since(self.finished_at)
            ),
            Status::Removing => "Removal In Progress".into(),
            Status::Dead => "Dead".into(),
            Status::Created => "Created".into(),
        }
    }
}

fn time_text(t: Option<DateTime<Utc>>) -> String {
    t.map(rfc3339_nano).unwrap_or_else(|| ZERO_TIME.to_string())
}

fn parse_time(s: &str) -> Option<DateTime<Utc>> {
    if s.is_empty() || s == ZERO_TIME {
        return None;
    }
    DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// The stored shape: `running` is whether the process runs.
impl From<State> for ContainerState {
    fn from(s: State) -> Self {
        ContainerState {
            status: s.status.as_str().into(),
            running: s.is_running(),
            paused: s.is_paused(),
            restarting: s.is_restarting(),
            oom_killed: s.oom_killed,
            dead: s.is_dead(),
            pid: i64::from(s.pid),
            exit_code: s.exit_code,
            error: s.error,
            started_at: time_text(s.started_at),
            finished_at: time_text(s.finished_at),
            health: None,
        }
    }
}

impl TryFrom<ContainerState> for State {
    type Error = String;

    fn try_from(w: ContainerState) -> Result<Self, Self::Error> {
        let status = Status::parse(&w.status)
            .ok_or_else(|| format!("unknown container status {:?}", w.status))?;
        // A record from before the status string covered pausing said `running` + `Paused`.
        let status = match status {
            Status::Running if w.paused => Status::Paused,
            s => s,
        };
        let running = matches!(status, Status::Running | Status::Paused);
        Ok(State {
            status,
            pid: if running {
                u32::try_from(w.pid).unwrap_or(0)
            } else {
                0
            },
            exit_code: w.exit_code,
            oom_killed: w.oom_killed,
            error: w.error,
            started_at: parse_time(&w.started_at),
            finished_at: parse_time(&w.finished_at),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(secs: i64) -> DateTime<Utc> {
        crate::timestamp::from_unix(1_700_000_000 + secs, 0)
    }

    fn running() -> State {
        let mut s = State::default();
        s.set_running(42, t(0)).unwrap();
        s
    }

    #[test]
    fn a_new_container_is_created_and_never_ran() {
        let s = State::default();
        assert_eq!(s.status(), Status::Created);
        assert!(!s.is_running() && !s.counts_as_running());
        assert_eq!(s.pid(), None);
        assert_eq!(s.started_at(), None);
        let api = s.to_api();
        assert_eq!(api.status, "created");
        assert_eq!(api.started_at, ZERO_TIME);
        assert_eq!(api.finished_at, ZERO_TIME);
    }

    #[test]
    fn start_sets_pid_and_clears_the_last_exit() {
        let mut s = running();
        s.set_exited(3, true, t(5)).unwrap();
        s.set_start_failed(None, "boom".into());
        s.set_running(7, t(10)).unwrap();
        assert_eq!(s.status(), Status::Running);
        assert_eq!(s.pid(), Some(7));
        assert_eq!(s.exit_code(), 0);
        assert!(!s.oom_killed());
        assert_eq!(s.error(), "");
        assert_eq!(s.started_at(), Some(t(10)));
        // FinishedAt keeps the last exit, as dockerd's does.
        assert_eq!(s.finished_at(), Some(t(5)));
    }

    #[test]
    fn start_is_refused_while_running_or_being_removed() {
        let mut s = running();
        assert!(s.set_running(1, t(1)).is_err());
        let mut r = State::default();
        r.set_removing().unwrap();
        assert_eq!(
            r.set_running(1, t(1)),
            Err(TransitionError {
                from: Status::Removing,
                to: "running"
            })
        );
        r.set_dead();
        assert!(r.set_running(1, t(1)).is_err());
        s.set_paused().unwrap();
        assert!(s.set_running(1, t(1)).is_err());
    }

    #[test]
    fn exit_records_code_oom_and_time() {
        let mut s = running();
        s.set_exited(137, true, t(9)).unwrap();
        assert_eq!(s.status(), Status::Exited);
        assert_eq!(s.pid(), None);
        assert_eq!(s.exit_code(), 137);
        assert!(s.oom_killed());
        assert_eq!(s.last_run_length(), std::time::Duration::from_secs(9));
        assert!(
            s.set_exited(1, false, t(10)).is_err(),
            "an exited container cannot exit again"
        );
        assert!(State::default().set_exited(1, false, t(1)).is_err());
    }

    #[test]
    fn a_paused_container_can_exit() {
        let mut s = running();
        s.set_paused().unwrap();
        s.set_exited(137, false, t(2)).unwrap();
        assert_eq!(s.status(), Status::Exited);
    }

    #[test]
    fn pause_and_unpause_only_from_the_other() {
        let mut s = running();
        assert!(s.set_unpaused().is_err());
        s.set_paused().unwrap();
        assert!(s.is_paused() && s.is_running());
        assert_eq!(s.pid(), Some(42));
        assert!(s.set_paused().is_err());
        s.set_unpaused().unwrap();
        assert_eq!(s.status(), Status::Running);
        let mut e = State::default();
        assert!(e.set_paused().is_err());
    }

    #[test]
    fn restarting_counts_as_running_and_can_be_cancelled() {
        let mut s = running();
        assert!(s.set_restarting().is_err(), "only after an exit");
        s.set_exited(1, false, t(1)).unwrap();
        s.set_restarting().unwrap();
        assert!(s.counts_as_running() && !s.is_running());
        assert!(s.to_api().running);
        assert!(
            !ContainerState::from(s.clone()).running,
            "stored: no process"
        );
        assert_eq!(s.status_text().split(' ').next(), Some("Restarting"));
        assert!(s.cancel_restart());
        assert_eq!(s.status(), Status::Exited);
        assert!(!s.cancel_restart());
        // The policy's restart starts it from `restarting`.
        s.set_restarting().unwrap();
        s.set_running(8, t(3)).unwrap();
        assert_eq!(s.pid(), Some(8));
    }

    #[test]
    fn removal_needs_a_stopped_container() {
        let mut s = running();
        assert!(s.set_removing().is_err());
        s.set_exited(0, false, t(1)).unwrap();
        s.set_removing().unwrap();
        assert!(s.is_removal());
        assert_eq!(s.status_text(), "Removal In Progress");
        s.set_dead();
        assert!(s.is_removal() && s.is_dead());
        assert_eq!(s.to_api().status, "dead");
        assert!(s.to_api().dead);
    }

    #[test]
    fn a_failed_start_keeps_the_status() {
        let mut s = State::default();
        s.set_start_failed(Some(127), "exec: not found".into());
        assert_eq!(s.status(), Status::Created);
        assert_eq!(s.exit_code(), 127);
        assert_eq!(s.to_api().error, "exec: not found");
    }

    #[test]
    fn pid_changes_only_while_running() {
        let mut s = running();
        s.set_pid(43).unwrap();
        assert_eq!(s.pid(), Some(43));
        s.set_exited(0, false, t(1)).unwrap();
        assert!(s.set_pid(44).is_err());
    }

    #[test]
    fn stored_shape_round_trips_and_reads_old_records() {
        let mut s = running();
        s.set_paused().unwrap();
        let json = serde_json::to_value(&s).unwrap();
        assert_eq!(json["Status"], "paused");
        assert_eq!(json["Running"], true);
        assert_eq!(json["Pid"], 42);
        let back: State = serde_json::from_value(json).unwrap();
        assert_eq!(back, s);
        // A record as berthd wrote it before this type existed.
        let old = serde_json::json!({"Status": "exited", "Running": false, "Paused": false,
            "Restarting": false, "OOMKilled": false, "Dead": false, "Pid": 0, "ExitCode": 2,
            "Error": "", "StartedAt": "2023-11-14T22:13:20.000000000Z",
            "FinishedAt": "2023-11-14T22:13:25.000000000Z"});
        let old: State = serde_json::from_value(old).unwrap();
        assert_eq!(old.status(), Status::Exited);
        assert_eq!(old.exit_code(), 2);
        assert_eq!(old.last_run_length(), std::time::Duration::from_secs(5));
        let bad = serde_json::json!({"Status": "zombie"});
        assert!(serde_json::from_value::<State>(bad).is_err());
    }

    #[test]
    fn api_state_as_dockerd() {
        let s = running();
        let api = s.to_api();
        assert_eq!(api.status, "running");
        assert!(api.running && !api.paused && !api.restarting && !api.dead);
        assert_eq!(api.pid, 42);
        assert_eq!(api.started_at, "2023-11-14T22:13:20.000000000Z");
        assert_eq!(api.finished_at, ZERO_TIME);
        assert!(s.status_text().starts_with("Up "));
    }
}
