//! Restart policies as dockerd checks them (moby's `ValidateRestartPolicy`), at create and at
//! update. `restart.rs` carries them out.

use crate::api::types::RestartPolicy;
use crate::error::{EngineError, Result};

pub fn validate(p: &RestartPolicy) -> Result<()> {
    let msg = match p.name.as_str() {
        "always" | "unless-stopped" | "no" if p.maximum_retry_count != 0 => {
            let mut m = "invalid restart policy: maximum retry count can only be used with 'on-failure'"
                .to_string();
            if p.maximum_retry_count < 0 {
                m.push_str(" and cannot be negative");
            }
            m
        }
        "on-failure" if p.maximum_retry_count < 0 => {
            "invalid restart policy: maximum retry count cannot be negative".to_string()
        }
        // Daemons before 25.0 stored an empty name as the default.
        "always" | "unless-stopped" | "no" | "on-failure" | "" => return Ok(()),
        other => format!(
            "invalid restart policy: unknown policy '{other}'; use one of 'no', 'always', 'on-failure', or 'unless-stopped'"
        ),
    };
    Err(EngineError::invalid(msg))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(name: &str, count: i64) -> std::result::Result<(), String> {
        validate(&RestartPolicy {
            name: name.into(),
            maximum_retry_count: count,
        })
        .map_err(|e| e.to_string())
    }

    #[test]
    fn policies_checked_like_dockerd() {
        for ok in [
            ("", 0),
            ("", 3),
            ("no", 0),
            ("always", 0),
            ("on-failure", 5),
        ] {
            assert!(check(ok.0, ok.1).is_ok(), "{ok:?}");
        }
        assert_eq!(
            check("always", 2).unwrap_err(),
            "invalid restart policy: maximum retry count can only be used with 'on-failure'"
        );
        assert_eq!(
            check("no", -1).unwrap_err(),
            "invalid restart policy: maximum retry count can only be used with 'on-failure' and cannot be negative"
        );
        assert_eq!(
            check("on-failure", -1).unwrap_err(),
            "invalid restart policy: maximum retry count cannot be negative"
        );
        assert_eq!(
            check("sometimes", 0).unwrap_err(),
            "invalid restart policy: unknown policy 'sometimes'; use one of 'no', 'always', 'on-failure', or 'unless-stopped'"
        );
    }
}
