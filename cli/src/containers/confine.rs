//! `run`/`create` flags for what a container may do: `--privileged`, `--cap-add/--cap-drop`,
//! `--security-opt` (a `seccomp=FILE` is read here and sent as its JSON, as docker does),
//! `--read-only`.

use anyhow::{Context, Result};
use bollard::models::HostConfig;
use clap::Args;

#[derive(Args, Debug, Clone, Default)]
pub struct ConfineOpts {
    /// Give extended privileges to this container
    #[arg(long)]
    pub privileged: bool,
    /// Add Linux capabilities
    #[arg(long = "cap-add")]
    pub cap_add: Vec<String>,
    /// Drop Linux capabilities
    #[arg(long = "cap-drop")]
    pub cap_drop: Vec<String>,
    /// Security Options
    #[arg(long = "security-opt")]
    pub security_opt: Vec<String>,
    /// Mount the container's root filesystem as read only
    #[arg(long = "read-only")]
    pub read_only: bool,
}

/// A `--security-opt` as the engine takes it: `seccomp=PATH` becomes `seccomp=<the file's JSON>`.
fn security_opt(opt: &str) -> Result<String> {
    let Some(value) = opt
        .strip_prefix("seccomp=")
        .or_else(|| opt.strip_prefix("seccomp:"))
    else {
        return Ok(opt.to_string());
    };
    if matches!(value, "unconfined" | "builtin") {
        return Ok(format!("seccomp={value}"));
    }
    let json = std::fs::read_to_string(value)
        .with_context(|| format!("opening seccomp profile ({value}) failed"))?;
    // docker compacts the profile; the engine reads it as JSON either way.
    let compact: serde_json::Value = serde_json::from_str(&json)
        .with_context(|| format!("compacting json for seccomp profile ({value}) failed"))?;
    Ok(format!("seccomp={compact}"))
}

impl ConfineOpts {
    pub fn apply(&self, hc: &mut HostConfig) -> Result<()> {
        hc.privileged = self.privileged.then_some(true);
        hc.cap_add = (!self.cap_add.is_empty()).then(|| self.cap_add.clone());
        hc.cap_drop = (!self.cap_drop.is_empty()).then(|| self.cap_drop.clone());
        hc.readonly_rootfs = self.read_only.then_some(true);
        if !self.security_opt.is_empty() {
            hc.security_opt = Some(
                self.security_opt
                    .iter()
                    .map(|o| security_opt(o))
                    .collect::<Result<_>>()?,
            );
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seccomp_files_are_sent_as_their_json() {
        let dir = std::env::temp_dir().join(format!("berth-seccomp-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("profile.json");
        std::fs::write(&file, "{\n  \"defaultAction\": \"SCMP_ACT_ALLOW\"\n}\n").unwrap();
        let opt = security_opt(&format!("seccomp={}", file.display())).unwrap();
        assert_eq!(opt, "seccomp={\"defaultAction\":\"SCMP_ACT_ALLOW\"}");
        assert_eq!(
            security_opt("seccomp=unconfined").unwrap(),
            "seccomp=unconfined"
        );
        assert_eq!(
            security_opt("no-new-privileges").unwrap(),
            "no-new-privileges"
        );
        assert!(security_opt("seccomp=/no/such/file").is_err());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
