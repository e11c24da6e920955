//! `--change` of `docker commit` and `docker import`: Dockerfile instructions applied to an image
//! config, as dockerd's `dockerfile.BuildFromConfig` does (CMD, ENTRYPOINT, ENV, EXPOSE,
//! HEALTHCHECK, LABEL, ONBUILD, STOPSIGNAL, USER, VOLUME, WORKDIR). Parsed by the builder's
//! Dockerfile parser and applied by the builder's `metadata::apply`, so both read instructions
//! the same way (JSON and shell forms, `$VAR` expansion where the Dockerfile reference says).

use crate::api::types::ContainerConfig;
use crate::build::dockerfile::{instruction, lines, shell::Lexer};
use crate::error::{EngineError, Result};

const VALID: &[&str] = &[
    "cmd",
    "entrypoint",
    "healthcheck",
    "env",
    "expose",
    "label",
    "onbuild",
    "stopsignal",
    "user",
    "volume",
    "workdir",
];

/// Applies the changes, in order, to `config`.
pub fn apply(config: &mut ContainerConfig, changes: &[String]) -> Result<()> {
    let (directives, lines) =
        lines::split(&changes.join("\n")).map_err(|e| EngineError::invalid(e.message))?;
    let lx = Lexer::new(directives.escape);
    let mut cmd_set = false;
    for line in lines {
        let word = line.word.to_ascii_lowercase();
        if !VALID.contains(&word.as_str()) {
            return Err(EngineError::invalid(format!(
                "{word} is not a valid change command"
            )));
        }
        let step = instruction::parse_line(&line, directives.escape)
            .map_err(|e| EngineError::invalid(e.message))?;
        // Variables expand from the config as it is before this instruction.
        let env = config.env.clone();
        crate::build::metadata::apply(config, &step.instruction, &lx, &env, &mut cmd_set)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn applied(base: ContainerConfig, changes: &[&str]) -> Result<ContainerConfig> {
        let mut c = base;
        let changes: Vec<String> = changes.iter().map(|s| s.to_string()).collect();
        apply(&mut c, &changes)?;
        Ok(c)
    }

    #[test]
    fn cmd_and_entrypoint_forms() {
        let c = applied(ContainerConfig::default(), &[r#"CMD ["cat","/hello"]"#]).unwrap();
        assert_eq!(c.cmd, Some(vec!["cat".into(), "/hello".into()]));
        let c = applied(ContainerConfig::default(), &["cmd echo $HOME hi"]).unwrap();
        assert_eq!(
            c.cmd,
            Some(vec!["/bin/sh".into(), "-c".into(), "echo $HOME hi".into()])
        );
        // ENTRYPOINT resets an inherited CMD, but not one set in the same changes.
        let base = ContainerConfig {
            cmd: Some(vec!["sh".into()]),
            ..Default::default()
        };
        let c = applied(base.clone(), &[r#"ENTRYPOINT ["/bin/tool"]"#]).unwrap();
        assert_eq!(c.cmd, None);
        let c = applied(base, &["CMD [\"x\"]", r#"ENTRYPOINT ["/bin/tool"]"#]).unwrap();
        assert_eq!(c.cmd, Some(vec!["x".into()]));
        assert_eq!(c.entrypoint, Some(vec!["/bin/tool".into()]));
    }

    #[test]
    fn env_label_expose_volume_user_workdir() {
        let base = ContainerConfig {
            env: vec!["PATH=/bin".into(), "X=0".into()],
            working_dir: "/app".into(),
            ..Default::default()
        };
        let c = applied(
            base,
            &[
                "ENV X=1 Y=\"two words\" Z=${X:-none}",
                "ENV LEGACY some value",
                "LABEL a=b \"c d\"=e",
                "EXPOSE 80 53/udp 8000-8001",
                "VOLUME [\"/data\", \"/logs\"]",
                "VOLUME /cache",
                "USER berth:users",
                "WORKDIR sub/../dir",
                "STOPSIGNAL SIGUSR1",
                "ONBUILD RUN echo hi",
            ],
        )
        .unwrap();
        assert_eq!(
            c.env,
            [
                "PATH=/bin",
                "X=1",
                "Y=two words",
                "Z=0",
                "LEGACY=some value"
            ]
        );
        assert_eq!(c.labels.get("a").map(String::as_str), Some("b"));
        assert_eq!(c.labels.get("c d").map(String::as_str), Some("e"));
        let ports: Vec<&String> = c.exposed_ports.as_ref().unwrap().keys().collect();
        assert_eq!(ports, ["53/udp", "80/tcp", "8000/tcp", "8001/tcp"]);
        let vols: Vec<&String> = c.volumes.as_ref().unwrap().keys().collect();
        assert_eq!(vols, ["/cache", "/data", "/logs"]);
        assert_eq!(c.user, "berth:users");
        assert_eq!(c.working_dir, "/app/dir");
        assert_eq!(c.stop_signal.as_deref(), Some("SIGUSR1"));
        assert_eq!(c.on_build, Some(vec!["RUN echo hi".to_string()]));
    }

    #[test]
    fn refusals() {
        let err = |ch: &str| {
            applied(ContainerConfig::default(), &[ch])
                .unwrap_err()
                .to_string()
        };
        assert_eq!(err("RUN echo hi"), "run is not a valid change command");
        assert_eq!(err("FROM busybox"), "from is not a valid change command");
        assert!(err("EXPOSE 80/xyz").contains("invalid proto"));
        assert!(err("EXPOSE abc").contains("invalid containerPort"));
        assert!(err("STOPSIGNAL NOPE").to_lowercase().contains("signal"));
        assert!(err("ONBUILD ONBUILD RUN x").contains("Chaining ONBUILD"));
        assert!(err("ENV A=\"unterminated").contains("double-quote"));
        assert!(err("CMD").contains("requires at least one argument"));
    }

    #[test]
    fn healthcheck() {
        let c = applied(
            ContainerConfig::default(),
            &["HEALTHCHECK --interval=10s CMD [\"true\"]"],
        )
        .unwrap();
        assert_eq!(
            c.healthcheck,
            Some(serde_json::json!({"Test": ["CMD", "true"], "Interval": 10_000_000_000i64}))
        );
    }
}
