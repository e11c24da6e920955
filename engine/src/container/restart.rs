//! Restart policies carried out (`--restart no|always|unless-stopped|on-failure[:N]`), with
//! dockerd's rules (moby's `restartmanager`): after an exit the container is started again
//! after a delay that starts at 100 ms, doubles with each restart up to a minute, and goes back
//! to 100 ms once a run lasted 10 s. `docker stop`/`kill` mark the container manually stopped,
//! which cancels a pending restart; a manual start or restart clears the mark and the count.
//! When berthd itself starts, `always` containers start again even if they were stopped by
//! hand, `unless-stopped` ones only if they were not.

use std::sync::Arc;
use std::time::Duration;

use super::{Container, ContainerData, ContainerService};
use crate::api::types::RestartPolicy;

const FIRST_DELAY: Duration = Duration::from_millis(100);
const MAX_DELAY: Duration = Duration::from_secs(60);
/// A run at least this long resets the delay.
const STEADY_RUN: Duration = Duration::from_secs(10);

/// Whether an exit (`code`) calls for a restart under `policy`.
pub fn wants_restart(
    policy: &RestartPolicy,
    code: i64,
    manually_stopped: bool,
    restart_count: i64,
) -> bool {
    match policy.name.as_str() {
        "always" => true,
        "unless-stopped" => !manually_stopped,
        "on-failure" => {
            let max = policy.maximum_retry_count;
            code != 0 && (max == 0 || restart_count < max)
        }
        _ => false,
    }
}

/// The delay before the next restart, given the last one (zero before the first) and how long
/// the run that just ended lasted.
pub fn next_delay(last: Duration, ran_for: Duration) -> Duration {
    if last.is_zero() || ran_for >= STEADY_RUN {
        FIRST_DELAY
    } else {
        (last * 2).min(MAX_DELAY)
    }
}

/// Drops a pending restart (the container stays exited); true if there was one.
pub(super) fn drop_pending(d: &mut ContainerData) -> bool {
    d.st.state.cancel_restart()
}

/// At an exit, in the same state write that records it: marks the container restarting when
/// its policy asks for a restart, as dockerd's monitor decides before it reports the exit, so
/// no client ever sees `exited` for a container that will come back. True if marked.
pub(super) fn decide(d: &mut ContainerData) -> Result<bool, super::state::TransitionError> {
    let hc = &d.rec.host_config;
    if hc.auto_remove
        || d.st.manually_stopped
        || !wants_restart(
            &hc.restart_policy,
            d.st.state.exit_code(),
            d.st.manually_stopped,
            d.st.restart_count,
        )
    {
        return Ok(false);
    }
    d.st.state.set_restarting()?;
    d.st.restart_count += 1;
    Ok(true)
}

/// `docker stop`, `kill`, `rm -f`: the policy no longer applies (dockerd's manual stop) and a
/// pending restart is dropped, in one state write. True if a restart was pending.
pub(super) fn stop_by_hand(c: &Container) -> crate::error::Result<bool> {
    let mut pending = false;
    // In memory even when the write fails (a full disk), so waiters are released either way.
    let saved = c.update(|d| {
        d.st.manually_stopped = true;
        pending = drop_pending(d);
    });
    if pending {
        // It stops for good without another exit: release `docker wait` as dockerd does.
        c.exits.send_modify(|n| *n += 1);
    }
    saved.map(|()| pending)
}

impl ContainerService {
    /// Once the monitor of an exited container is gone: carries out the restart [`decide`]
    /// marked, after the policy's delay.
    pub(super) fn schedule_restart(self: &Arc<Self>, c: &Arc<Container>) {
        let ran_for = {
            let d = c.lock();
            if !d.st.state.is_restarting() {
                return;
            }
            d.st.state.last_run_length()
        };
        let delay = {
            let mut last = c.restart_delay.lock().unwrap_or_else(|e| e.into_inner());
            *last = next_delay(*last, ran_for);
            *last
        };
        tracing::debug!(id = %c.id, ?delay, "restarting after exit");
        let svc = Arc::clone(self);
        let c = Arc::clone(c);
        tokio::spawn(async move {
            tokio::time::sleep(delay).await;
            // Stopped, killed or removed while waiting: nothing to do.
            if !c.lock().st.state.is_restarting() || *c.removed().borrow() {
                return;
            }
            if let Err(e) = svc.start(&c).await {
                tracing::warn!(id = %c.id, error = %e, "restart failed");
                if let Err(e) = c.update(|d| {
                    drop_pending(d);
                }) {
                    tracing::warn!(id = %c.id, error = %e, "dropping the failed restart");
                }
            }
        });
    }

    /// At berthd's start, for a container that is not running: is it one the policy brings back
    /// (dockerd's daemon-start rule: `always` regardless of a manual stop)?
    pub(super) fn restarts_with_engine(&self, c: &Container) -> bool {
        let d = c.lock();
        let s = &d.st.state;
        if s.status() == super::state::Status::Created {
            return false;
        }
        let policy = &d.rec.host_config.restart_policy;
        wants_restart(
            policy,
            s.exit_code(),
            d.st.manually_stopped,
            d.st.restart_count,
        ) || (s.is_restarting() && policy.name != "no" && !policy.name.is_empty())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(name: &str, max: i64) -> RestartPolicy {
        RestartPolicy {
            name: name.into(),
            maximum_retry_count: max,
        }
    }

    #[test]
    fn policies_decide_like_dockerd() {
        assert!(!wants_restart(&policy("no", 0), 1, false, 0));
        assert!(!wants_restart(&policy("", 0), 1, false, 0));
        assert!(wants_restart(&policy("always", 0), 0, false, 7));
        assert!(wants_restart(&policy("always", 0), 0, true, 0));
        assert!(wants_restart(&policy("unless-stopped", 0), 0, false, 0));
        assert!(!wants_restart(&policy("unless-stopped", 0), 0, true, 0));
        assert!(!wants_restart(&policy("on-failure", 0), 0, false, 0));
        assert!(wants_restart(&policy("on-failure", 0), 2, false, 99));
        assert!(wants_restart(&policy("on-failure", 3), 2, false, 2));
        assert!(!wants_restart(&policy("on-failure", 3), 2, false, 3));
    }

    #[test]
    fn delay_doubles_to_a_minute_and_resets_after_a_steady_run() {
        let short = Duration::from_secs(1);
        let mut d = Duration::ZERO;
        let mut seen = Vec::new();
        for _ in 0..12 {
            d = next_delay(d, short);
            seen.push(d.as_millis());
        }
        assert_eq!(&seen[..4], &[100, 200, 400, 800]);
        assert_eq!(*seen.last().unwrap(), 60_000);
        assert_eq!(next_delay(d, Duration::from_secs(10)).as_millis(), 100);
    }
}
