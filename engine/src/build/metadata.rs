//! Instructions that only change the image config (`CMD`, `ENV`, `LABEL`, …): the new config
//! and the `#(nop)` comment dockerd records for them in the history
//! (`/bin/sh -c #(nop)  CMD ["sh"]`). Pure: used by the builder and by `--change` of
//! `docker commit`/`docker import`.

use std::collections::BTreeMap;

use serde_json::{json, Value};

use super::dockerfile::shell::{Env, Lexer};
use super::dockerfile::{CommandLine, Healthcheck, Instruction, KeyValue};
use crate::api::types::ContainerConfig;
use crate::error::{EngineError, Result};

/// Go's `%q` of a string slice (`["/bin/sh" "-c" "x"]`), as dockerd writes CMD and ENTRYPOINT
/// comments.
pub fn go_quoted_list(v: &[String]) -> String {
    let items: Vec<String> = v
        .iter()
        .map(|s| serde_json::to_string(s).unwrap_or_default())
        .collect();
    format!("[{}]", items.join(" "))
}

/// The config's shell (`SHELL`), `/bin/sh -c` by default.
pub fn shell_of(config: &ContainerConfig) -> Vec<String> {
    config
        .shell
        .clone()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| vec!["/bin/sh".into(), "-c".into()])
}

/// A command line as the argv it runs: exec form as is, shell form wrapped in the shell.
pub fn argv(c: &CommandLine, config: &ContainerConfig) -> Vec<String> {
    match c {
        CommandLine::Exec(v) => v.clone(),
        CommandLine::Shell(s) => {
            let mut v = shell_of(config);
            v.push(s.clone());
            v
        }
    }
}

fn expand(lx: &Lexer, s: &str, env: &dyn Env) -> Result<String> {
    lx.word(s, env)
        .map_err(|e| EngineError::invalid(format!("failed to process {s:?}: {e}")))
}

fn pairs(lx: &Lexer, kvs: &[KeyValue], env: &dyn Env) -> Result<Vec<(String, String)>> {
    kvs.iter()
        .map(|kv| Ok((expand(lx, &kv.key, env)?, expand(lx, &kv.value, env)?)))
        .collect()
}

/// `80`, `80/udp`, `8000-8002/tcp` → `80/tcp`, …, as keys of `ExposedPorts`.
pub fn expand_port(spec: &str) -> Result<Vec<String>> {
    let (ports, proto) = spec.split_once('/').unwrap_or((spec, "tcp"));
    let proto = proto.to_ascii_lowercase();
    if !matches!(proto.as_str(), "tcp" | "udp" | "sctp") {
        return Err(EngineError::invalid(format!("invalid proto: {proto}")));
    }
    let (lo, hi) = crate::network::ports::port_range(ports)
        .ok_or_else(|| EngineError::invalid(format!("invalid containerPort: {ports}")))?;
    Ok((lo..=hi).map(|p| format!("{p}/{proto}")).collect())
}

fn go_duration_string(ns: i64) -> String {
    if ns == 0 {
        return "0s".into();
    }
    let secs = ns as f64 / 1e9;
    if ns % 1_000_000_000 == 0 {
        let s = ns / 1_000_000_000;
        let (h, m, s) = (s / 3600, (s % 3600) / 60, s % 60);
        let mut out = String::new();
        if h > 0 {
            out.push_str(&format!("{h}h"));
        }
        if h > 0 || m > 0 {
            out.push_str(&format!("{m}m"));
        }
        out.push_str(&format!("{s}s"));
        out
    } else {
        format!("{secs}s")
    }
}

/// Applies a metadata instruction to `config` and returns the history comment dockerd writes
/// for it. `env` holds the variables in scope (build args and the config's `ENV`); `cmd_set`
/// says whether a `CMD` was given in this stage (or change set) already.
pub fn apply(
    config: &mut ContainerConfig,
    instr: &Instruction,
    lx: &Lexer,
    env: &dyn Env,
    cmd_set: &mut bool,
) -> Result<String> {
    Ok(match instr {
        Instruction::Cmd(c) => {
            let v = argv(c, config);
            config.cmd = Some(v.clone());
            *cmd_set = true;
            format!("CMD {}", go_quoted_list(&v))
        }
        Instruction::Entrypoint(c) => {
            let v = argv(c, config);
            // A new entrypoint drops an inherited CMD, not one given before it in this stage.
            config.entrypoint = Some(v.clone());
            if !*cmd_set {
                config.cmd = None;
            }
            format!("ENTRYPOINT {}", go_quoted_list(&v))
        }
        Instruction::Env(kvs) => {
            let mut comment = String::from("ENV");
            for (k, v) in pairs(lx, kvs, env)? {
                if k.is_empty() {
                    return Err(EngineError::invalid("ENV names can not be blank"));
                }
                comment.push_str(&format!(" {k}={v}"));
                let entry = format!("{k}={v}");
                match config
                    .env
                    .iter_mut()
                    .find(|e| e.split_once('=').map(|(n, _)| n).unwrap_or(e) == k)
                {
                    Some(e) => *e = entry,
                    None => config.env.push(entry),
                }
            }
            comment
        }
        Instruction::Label(kvs) => {
            let mut comment = String::from("LABEL");
            for (k, v) in pairs(lx, kvs, env)? {
                if k.is_empty() {
                    return Err(EngineError::invalid("LABEL names can not be blank"));
                }
                comment.push_str(&format!(" {k}={v}"));
                config.labels.insert(k, v);
            }
            comment
        }
        Instruction::Expose(ports) => {
            let mut words = Vec::new();
            let exposed = config.exposed_ports.get_or_insert_with(BTreeMap::new);
            for p in ports {
                let p = expand(lx, p, env)?;
                for key in expand_port(&p)? {
                    exposed.insert(key, json!({}));
                }
                words.push(p);
            }
            format!("EXPOSE {}", words.join(" "))
        }
        Instruction::Volume(vols) => {
            let mut shown = Vec::new();
            let map = config.volumes.get_or_insert_with(BTreeMap::new);
            for v in vols {
                let v = expand(lx, v, env)?;
                if v.trim().is_empty() {
                    return Err(EngineError::invalid(
                        "VOLUME specified can not be an empty string",
                    ));
                }
                map.insert(v.clone(), json!({}));
                shown.push(v);
            }
            format!("VOLUME [{}]", shown.join(" "))
        }
        Instruction::User(u) => {
            config.user = expand(lx, u, env)?;
            format!("USER {}", config.user)
        }
        Instruction::Workdir(w) => {
            let dir = expand(lx, w, env)?;
            let joined = if dir.starts_with('/') {
                dir
            } else {
                let base = if config.working_dir.is_empty() {
                    "/"
                } else {
                    config.working_dir.as_str()
                };
                format!("{}/{dir}", base.trim_end_matches('/'))
            };
            config.working_dir = crate::fs::rootpath::clean_abs(std::path::Path::new(&joined))
                .display()
                .to_string();
            format!("WORKDIR {}", config.working_dir)
        }
        Instruction::StopSignal(s) => {
            let sig = expand(lx, s, env)?;
            crate::signal::parse_signal(&sig)?;
            config.stop_signal = Some(sig.clone());
            format!("STOPSIGNAL {sig}")
        }
        Instruction::Shell(v) => {
            config.shell = Some(v.clone());
            format!("SHELL [{}]", v.join(" "))
        }
        Instruction::Healthcheck(Healthcheck::None) => {
            config.healthcheck = Some(json!({"Test": ["NONE"]}));
            "HEALTHCHECK &{[\"NONE\"] \"0s\" \"0s\" \"0s\" \"0s\" '\\x00'}".to_string()
        }
        Instruction::Healthcheck(Healthcheck::Check {
            test,
            interval,
            timeout,
            start_period,
            start_interval,
            retries,
        }) => {
            let mut hc = serde_json::Map::new();
            hc.insert("Test".into(), json!(test));
            for (k, v) in [
                ("Interval", interval),
                ("Timeout", timeout),
                ("StartPeriod", start_period),
                ("StartInterval", start_interval),
            ] {
                if *v != 0 {
                    hc.insert(k.into(), json!(v));
                }
            }
            if *retries != 0 {
                hc.insert("Retries".into(), json!(retries));
            }
            config.healthcheck = Some(Value::Object(hc));
            format!(
                "HEALTHCHECK &{{{} {:?} {:?} {:?} {:?} '\\x{:02x}'}}",
                go_quoted_list(test),
                go_duration_string(*interval),
                go_duration_string(*timeout),
                go_duration_string(*start_period),
                go_duration_string(*start_interval),
                retries
            )
        }
        Instruction::Onbuild(expr) => {
            config
                .on_build
                .get_or_insert_with(Vec::new)
                .push(expr.clone());
            format!("ONBUILD {expr}")
        }
        Instruction::Maintainer(m) => {
            // MAINTAINER sets the image's author, not the container config; the caller does.
            format!("MAINTAINER {m}")
        }
        other => {
            return Err(EngineError::internal(format!(
                "{} is not a metadata instruction",
                other.name()
            )))
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::build::dockerfile::parse;

    fn applied(lines: &str, env: &[String]) -> (ContainerConfig, Vec<String>) {
        let df = parse(&format!("FROM x\n{lines}")).unwrap();
        let lx = df.lexer();
        let mut c = ContainerConfig {
            env: env.to_vec(),
            ..Default::default()
        };
        let mut comments = Vec::new();
        let mut cmd_set = false;
        for s in &df.stages[0].steps {
            let scope: Vec<String> = c.env.clone();
            comments.push(apply(&mut c, &s.instruction, &lx, &scope, &mut cmd_set).unwrap());
        }
        (c, comments)
    }

    #[test]
    fn comments_as_dockerd_writes_them() {
        let (c, comments) = applied(
            "CMD [\"sh\"]\nENV A=1 B=\"x y\"\nENV C ${A}-$B\nLABEL k=v\nEXPOSE 80 53/udp\nVOLUME /data\nUSER app\nWORKDIR /srv\nWORKDIR sub\nSTOPSIGNAL SIGINT\nSHELL [\"/bin/bash\",\"-c\"]\nCMD echo hi\nONBUILD RUN x",
            &["PATH=/bin".into()],
        );
        assert_eq!(
            comments,
            [
                "CMD [\"sh\"]",
                "ENV A=1 B=x y",
                "ENV C=1-x y",
                "LABEL k=v",
                "EXPOSE 80 53/udp",
                "VOLUME [/data]",
                "USER app",
                "WORKDIR /srv",
                "WORKDIR /srv/sub",
                "STOPSIGNAL SIGINT",
                "SHELL [/bin/bash -c]",
                "CMD [\"/bin/bash\" \"-c\" \"echo hi\"]",
                "ONBUILD RUN x",
            ]
        );
        assert_eq!(c.env, ["PATH=/bin", "A=1", "B=x y", "C=1-x y"]);
        assert_eq!(c.working_dir, "/srv/sub");
        assert_eq!(c.on_build, Some(vec!["RUN x".to_string()]));
        let ports: Vec<&String> = c.exposed_ports.as_ref().unwrap().keys().collect();
        assert_eq!(ports, ["53/udp", "80/tcp"]);
    }

    #[test]
    fn entrypoint_drops_inherited_cmd_and_healthcheck_is_nanoseconds() {
        let (c, comments) = applied(
            "ENTRYPOINT [\"/tool\"]\nHEALTHCHECK --interval=5s --retries=2 CMD true",
            &[],
        );
        assert_eq!(c.cmd, None);
        assert_eq!(c.entrypoint, Some(vec!["/tool".to_string()]));
        assert_eq!(
            c.healthcheck,
            Some(
                json!({"Test": ["CMD-SHELL", "true"], "Interval": 5_000_000_000i64, "Retries": 2})
            )
        );
        assert_eq!(
            comments[1],
            "HEALTHCHECK &{[\"CMD-SHELL\" \"true\"] \"5s\" \"0s\" \"0s\" \"0s\" '\\x02'}"
        );
    }

    #[test]
    fn bad_values() {
        let df = parse("FROM x\nEXPOSE 80/xyz\nSTOPSIGNAL NOPE").unwrap();
        let lx = df.lexer();
        let mut c = ContainerConfig::default();
        for s in &df.stages[0].steps {
            let r = apply(
                &mut c,
                &s.instruction,
                &lx,
                &Vec::<String>::new(),
                &mut false,
            );
            assert!(r.is_err());
        }
    }
}
