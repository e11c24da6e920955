//! `--change` of `docker commit` and `docker import`: Dockerfile instructions applied to an image
//! config, as dockerd's `dockerfile.BuildFromConfig` does (CMD, ENTRYPOINT, ENV, EXPOSE, LABEL,
//! ONBUILD, STOPSIGNAL, USER, VOLUME, WORKDIR; JSON and shell forms; `$VAR` expansion where the
//! Dockerfile reference says it applies).

use std::collections::BTreeMap;

use serde_json::Value;

use crate::api::types::ContainerConfig;
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
    let mut cmd_set = false;
    for line in logical_lines(&changes.join("\n")) {
        let (word, rest) = match line.split_once(char::is_whitespace) {
            Some((w, r)) => (w, r.trim()),
            None => (line.as_str(), ""),
        };
        let instr = word.to_ascii_lowercase();
        if !VALID.contains(&instr.as_str()) {
            return Err(EngineError::invalid(format!(
                "{instr} is not a valid change command"
            )));
        }
        let upper = instr.to_ascii_uppercase();
        let needs_args = || -> Result<()> {
            if rest.is_empty() {
                Err(EngineError::invalid(format!(
                    "{upper} requires at least one argument"
                )))
            } else {
                Ok(())
            }
        };
        match instr.as_str() {
            "cmd" => {
                needs_args()?;
                config.cmd = Some(command_line(rest, config));
                cmd_set = true;
            }
            "entrypoint" => {
                needs_args()?;
                config.entrypoint = Some(command_line(rest, config));
                // A new entrypoint drops the old CMD unless this change set gave one.
                if !cmd_set {
                    config.cmd = None;
                }
            }
            "env" => {
                needs_args()?;
                for (k, v) in name_values(rest, &config.env, "ENV")? {
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
            }
            "label" => {
                needs_args()?;
                for (k, v) in name_values(rest, &config.env, "LABEL")? {
                    config.labels.insert(k, v);
                }
            }
            "expose" => {
                needs_args()?;
                let ports = config.exposed_ports.get_or_insert_with(BTreeMap::new);
                for w in words(rest, &config.env)? {
                    for p in expand_port(&w)? {
                        ports.insert(p, Value::Object(Default::default()));
                    }
                }
            }
            "user" => {
                needs_args()?;
                config.user = words(rest, &config.env)?.join(" ");
            }
            "workdir" => {
                needs_args()?;
                let dir = words(rest, &config.env)?.join(" ");
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
            }
            "volume" => {
                needs_args()?;
                let list = match json_array(rest) {
                    Some(v) => v,
                    None => words(rest, &config.env)?,
                };
                let vols = config.volumes.get_or_insert_with(BTreeMap::new);
                for v in list {
                    if v.trim().is_empty() {
                        return Err(EngineError::invalid(
                            "VOLUME specified can not be an empty string",
                        ));
                    }
                    vols.insert(v, Value::Object(Default::default()));
                }
            }
            "stopsignal" => {
                needs_args()?;
                let sig = words(rest, &config.env)?.join(" ");
                crate::signal::parse_signal(&sig)?;
                config.stop_signal = Some(sig);
            }
            "onbuild" => {
                needs_args()?;
                let trigger = rest
                    .split_whitespace()
                    .next()
                    .unwrap_or_default()
                    .to_ascii_uppercase();
                match trigger.as_str() {
                    "ONBUILD" => {
                        return Err(EngineError::invalid(
                            "Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed",
                        ))
                    }
                    "FROM" | "MAINTAINER" => {
                        return Err(EngineError::invalid(format!(
                            "{trigger} isn't allowed as an ONBUILD trigger"
                        )))
                    }
                    _ => {}
                }
                config
                    .on_build
                    .get_or_insert_with(Vec::new)
                    .push(rest.to_string());
            }
            _ => {
                return Err(EngineError::NotImplemented(format!(
                    "{upper} is not supported in --change by this engine yet"
                )))
            }
        }
    }
    Ok(())
}

/// Joins backslash-continued lines and drops blank and comment lines.
fn logical_lines(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    for raw in text.lines() {
        let line = raw.trim_end();
        if cur.is_empty() && (line.trim().is_empty() || line.trim_start().starts_with('#')) {
            continue;
        }
        if let Some(body) = line.strip_suffix('\\') {
            cur.push_str(body);
            continue;
        }
        cur.push_str(line);
        out.push(cur.trim().to_string());
        cur.clear();
    }
    if !cur.trim().is_empty() {
        out.push(cur.trim().to_string());
    }
    out
}

/// A JSON array of strings (the exec form), if that is what `s` is.
fn json_array(s: &str) -> Option<Vec<String>> {
    if !s.starts_with('[') {
        return None;
    }
    serde_json::from_str::<Vec<String>>(s).ok()
}

/// Exec form as given; shell form wrapped in the config's SHELL (default `/bin/sh -c`).
fn command_line(rest: &str, config: &ContainerConfig) -> Vec<String> {
    if let Some(v) = json_array(rest) {
        return v;
    }
    let mut shell = config
        .shell
        .clone()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| vec!["/bin/sh".into(), "-c".into()]);
    shell.push(rest.to_string());
    shell
}

fn env_lookup<'a>(env: &'a [String], name: &str) -> Option<&'a str> {
    env.iter()
        .rev()
        .find_map(|e| e.strip_prefix(name).and_then(|r| r.strip_prefix('=')))
}

/// Splits a Dockerfile argument string into words: whitespace separates, quotes group (and are
/// removed), backslash escapes, `$VAR`, `${VAR}`, `${VAR:-default}` and `${VAR:+alt}` expand
/// from `env` except inside single quotes.
pub fn words(s: &str, env: &[String]) -> Result<Vec<String>> {
    let chars: Vec<char> = s.chars().collect();
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            c if c.is_whitespace() => {
                if in_word {
                    out.push(std::mem::take(&mut cur));
                    in_word = false;
                }
                i += 1;
            }
            '\'' => {
                in_word = true;
                i += 1;
                while i < chars.len() && chars[i] != '\'' {
                    cur.push(chars[i]);
                    i += 1;
                }
                if i == chars.len() {
                    return Err(EngineError::invalid(
                        "unexpected end of statement while looking for matching single-quote",
                    ));
                }
                i += 1;
            }
            '"' => {
                in_word = true;
                i += 1;
                while i < chars.len() && chars[i] != '"' {
                    if chars[i] == '\\'
                        && i + 1 < chars.len()
                        && matches!(chars[i + 1], '"' | '\\' | '$')
                    {
                        cur.push(chars[i + 1]);
                        i += 2;
                    } else if chars[i] == '$' {
                        i = expand(&chars, i, env, &mut cur)?;
                    } else {
                        cur.push(chars[i]);
                        i += 1;
                    }
                }
                if i == chars.len() {
                    return Err(EngineError::invalid(
                        "unexpected end of statement while looking for matching double-quote",
                    ));
                }
                i += 1;
            }
            '\\' => {
                in_word = true;
                if i + 1 < chars.len() {
                    cur.push(chars[i + 1]);
                }
                i += 2;
            }
            '$' => {
                in_word = true;
                i = expand(&chars, i, env, &mut cur)?;
            }
            c => {
                in_word = true;
                cur.push(c);
                i += 1;
            }
        }
    }
    if in_word {
        out.push(cur);
    }
    Ok(out)
}

/// Expands the variable reference starting at `chars[i]` (a `$`); returns the index after it.
fn expand(chars: &[char], i: usize, env: &[String], out: &mut String) -> Result<usize> {
    let mut j = i + 1;
    if j < chars.len() && chars[j] == '{' {
        let close = chars[j..]
            .iter()
            .position(|c| *c == '}')
            .map(|p| j + p)
            .ok_or_else(|| EngineError::invalid("missing '}' in variable substitution"))?;
        let body: String = chars[j + 1..close].iter().collect();
        let value = if let Some((name, default)) = body.split_once(":-") {
            env_lookup(env, name)
                .filter(|v| !v.is_empty())
                .map(str::to_string)
                .unwrap_or_else(|| default.to_string())
        } else if let Some((name, alt)) = body.split_once(":+") {
            match env_lookup(env, name) {
                Some(v) if !v.is_empty() => alt.to_string(),
                _ => String::new(),
            }
        } else {
            env_lookup(env, &body).unwrap_or_default().to_string()
        };
        out.push_str(&value);
        return Ok(close + 1);
    }
    let start = j;
    while j < chars.len() && (chars[j].is_ascii_alphanumeric() || chars[j] == '_') {
        j += 1;
    }
    if j == start {
        out.push('$');
        return Ok(j);
    }
    let name: String = chars[start..j].iter().collect();
    out.push_str(env_lookup(env, &name).unwrap_or_default());
    Ok(j)
}

/// `KEY=value ...` pairs, or the legacy `KEY value with spaces` form.
fn name_values(rest: &str, env: &[String], instr: &str) -> Result<Vec<(String, String)>> {
    let first = rest.split_whitespace().next().unwrap_or_default();
    if !first.contains('=') {
        let (key, value) = rest
            .split_once(char::is_whitespace)
            .ok_or_else(|| EngineError::invalid(format!("{instr} must have two arguments")))?;
        let value = words(value.trim(), env)?.join(" ");
        return Ok(vec![(key.to_string(), value)]);
    }
    let mut out = Vec::new();
    for w in words(rest, env)? {
        let (k, v) = w.split_once('=').ok_or_else(|| {
            EngineError::invalid(format!(
                "Syntax error - can't find = in {w:?}. Must be of the form: name=value"
            ))
        })?;
        if k.is_empty() {
            return Err(EngineError::invalid(format!(
                "{instr} names can not be blank"
            )));
        }
        out.push((k.to_string(), v.to_string()));
    }
    Ok(out)
}

/// `80`, `80/udp`, `8000-8002/tcp` → `80/tcp`, …, as keys of `ExposedPorts`.
fn expand_port(spec: &str) -> Result<Vec<String>> {
    let (ports, proto) = spec.split_once('/').unwrap_or((spec, "tcp"));
    let proto = proto.to_ascii_lowercase();
    if !matches!(proto.as_str(), "tcp" | "udp" | "sctp") {
        return Err(EngineError::invalid(format!("invalid proto: {proto}")));
    }
    let (lo, hi) = crate::network::ports::port_range(ports)
        .ok_or_else(|| EngineError::invalid(format!("invalid containerPort: {ports}")))?;
    Ok((lo..=hi).map(|p| format!("{p}/{proto}")).collect())
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
}
