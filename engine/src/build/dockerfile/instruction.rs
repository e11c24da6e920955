//! One logical line to a typed instruction: the argument forms dockerd accepts for each
//! instruction (JSON or shell form, `key=value` or legacy pairs, words), its flags, and its
//! errors. Quotes and variables stay in the arguments; `shell::Lexer` expands them at run time.

use super::lines::Line;
use super::ParseError;

/// An instruction with the line it came from.
#[derive(Clone, Debug, PartialEq)]
pub struct Step {
    pub line: usize,
    /// The logical line as written, for `Step n/m : …` and the cache key.
    pub original: String,
    pub instruction: Instruction,
}

/// `RUN`/`CMD`/`ENTRYPOINT` arguments: the exec form (a JSON array) or the shell form.
#[derive(Clone, Debug, PartialEq)]
pub enum CommandLine {
    Exec(Vec<String>),
    Shell(String),
}

/// A `key=value` of `ENV` or `LABEL`, unexpanded.
#[derive(Clone, Debug, PartialEq)]
pub struct KeyValue {
    pub key: String,
    pub value: String,
}

/// One name of an `ARG`, with its default (unexpanded).
#[derive(Clone, Debug, PartialEq)]
pub struct ArgDecl {
    pub name: String,
    pub default: Option<String>,
}

/// `COPY`/`ADD`: sources and destination (unexpanded) and the flags the classic builder honours.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CopySpec {
    pub sources: Vec<String>,
    pub dest: String,
    pub from: Option<String>,
    pub chown: Option<String>,
    pub chmod: Option<String>,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Healthcheck {
    /// `HEALTHCHECK NONE`: disables the base image's check.
    None,
    /// Durations in nanoseconds (0: not given, the default applies).
    Check {
        test: Vec<String>,
        interval: i64,
        timeout: i64,
        start_period: i64,
        start_interval: i64,
        retries: i64,
    },
}

#[derive(Clone, Debug, PartialEq)]
pub enum Instruction {
    From {
        base: String,
        name: Option<String>,
        platform: Option<String>,
    },
    Run(CommandLine),
    Cmd(CommandLine),
    Entrypoint(CommandLine),
    Copy(CopySpec),
    Add(CopySpec),
    Env(Vec<KeyValue>),
    Label(Vec<KeyValue>),
    Arg(Vec<ArgDecl>),
    Workdir(String),
    User(String),
    Expose(Vec<String>),
    Volume(Vec<String>),
    StopSignal(String),
    Maintainer(String),
    Shell(Vec<String>),
    Healthcheck(Healthcheck),
    /// The trigger as written (`RUN echo hi`), stored in the image's `OnBuild`.
    Onbuild(String),
}

impl Instruction {
    /// The instruction's name in upper case, as `Step n/m :` lines and errors show it.
    pub fn name(&self) -> &'static str {
        match self {
            Instruction::From { .. } => "FROM",
            Instruction::Run(_) => "RUN",
            Instruction::Cmd(_) => "CMD",
            Instruction::Entrypoint(_) => "ENTRYPOINT",
            Instruction::Copy(_) => "COPY",
            Instruction::Add(_) => "ADD",
            Instruction::Env(_) => "ENV",
            Instruction::Label(_) => "LABEL",
            Instruction::Arg(_) => "ARG",
            Instruction::Workdir(_) => "WORKDIR",
            Instruction::User(_) => "USER",
            Instruction::Expose(_) => "EXPOSE",
            Instruction::Volume(_) => "VOLUME",
            Instruction::StopSignal(_) => "STOPSIGNAL",
            Instruction::Maintainer(_) => "MAINTAINER",
            Instruction::Shell(_) => "SHELL",
            Instruction::Healthcheck(_) => "HEALTHCHECK",
            Instruction::Onbuild(_) => "ONBUILD",
        }
    }
}

/// Flags given to one instruction, checked against the ones it accepts.
struct Flags {
    given: Vec<(String, Option<String>)>,
}

impl Flags {
    fn parse(raw: &[String], allowed: &[&str], buildkit_only: &[&str]) -> Result<Self, String> {
        let mut given: Vec<(String, Option<String>)> = Vec::new();
        for f in raw {
            let body = f.trim_start_matches('-');
            let (name, value) = match body.split_once('=') {
                Some((n, v)) => (n.to_string(), Some(v.to_string())),
                None => (body.to_string(), None),
            };
            if buildkit_only.contains(&name.as_str()) {
                return Err(format!(
                    "the --{name} option requires BuildKit. Refer to https://docs.docker.com/go/buildkit/ to learn how to build images with BuildKit enabled"
                ));
            }
            if !allowed.contains(&name.as_str()) {
                return Err(format!("unknown flag: {name}"));
            }
            if given.iter().any(|(n, _)| *n == name) {
                return Err(format!("Duplicate flag specified: {name}"));
            }
            given.push((name, value));
        }
        Ok(Flags { given })
    }

    /// A string flag's value; given without `=value`, an error.
    fn string(&self, name: &str) -> Result<Option<String>, String> {
        match self.given.iter().find(|(n, _)| n == name) {
            None => Ok(None),
            Some((_, Some(v))) => Ok(Some(v.clone())),
            Some((_, None)) => Err(format!("Missing a value on flag: {name}")),
        }
    }
}

fn at_least_one(name: &str) -> String {
    format!("{name} requires at least one argument")
}

fn exactly_one(name: &str) -> String {
    format!("{name} requires exactly one argument")
}

/// Words split at whitespace, quotes and escapes kept (dockerd's `parseWords`): the split of
/// `ENV`/`LABEL`/`ARG` pairs. A quoted empty string is a word.
pub fn split_words(rest: &str, escape: char) -> Vec<String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut blank_ok = false;
    let mut quote: Option<char> = None;
    let mut chars = rest.chars().peekable();
    while let Some(c) = chars.next() {
        match quote {
            None if c.is_whitespace() => {
                if in_word && (blank_ok || !word.is_empty()) {
                    words.push(std::mem::take(&mut word));
                }
                word.clear();
                in_word = false;
                blank_ok = false;
            }
            None => {
                in_word = true;
                if c == '\'' || c == '"' {
                    quote = Some(c);
                    blank_ok = true;
                }
                if c == escape {
                    match chars.next() {
                        // An escape at the very end is dropped.
                        None => continue,
                        Some(n) => {
                            word.push(c);
                            word.push(n);
                            continue;
                        }
                    }
                }
                word.push(c);
            }
            Some(q) => {
                if c == q {
                    quote = None;
                }
                if c == escape && q != '\'' {
                    match chars.next() {
                        None => {
                            quote = None;
                            continue;
                        }
                        Some(n) => {
                            word.push(c);
                            word.push(n);
                            continue;
                        }
                    }
                }
                word.push(c);
            }
        }
    }
    if in_word && (blank_ok || !word.is_empty()) {
        words.push(word);
    }
    words
}

/// A JSON array of strings, if `rest` is one (the exec form).
fn json_strings(rest: &str) -> Option<Vec<String>> {
    if !rest.starts_with('[') {
        return None;
    }
    serde_json::from_str::<Vec<String>>(rest).ok()
}

fn command_line(rest: &str) -> CommandLine {
    match json_strings(rest) {
        Some(v) => CommandLine::Exec(v),
        None => CommandLine::Shell(rest.to_string()),
    }
}

fn whitespace_list(rest: &str) -> Vec<String> {
    rest.split_whitespace().map(str::to_string).collect()
}

fn json_or_words(rest: &str) -> Vec<String> {
    json_strings(rest).unwrap_or_else(|| whitespace_list(rest))
}

/// `ENV`/`LABEL`: `k=v ...`, or the legacy `k value with spaces`.
fn name_values(rest: &str, name: &str, escape: char) -> Result<Vec<KeyValue>, String> {
    let words = split_words(rest, escape);
    let Some(first) = words.first() else {
        return Err(at_least_one(name));
    };
    if !first.contains('=') {
        let Some((k, v)) = rest.split_once(char::is_whitespace) else {
            return Err(format!("{name} must have two arguments"));
        };
        return Ok(vec![KeyValue {
            key: k.to_string(),
            value: v.trim_start().to_string(),
        }]);
    }
    let mut out = Vec::new();
    for w in &words {
        let Some((k, v)) = w.split_once('=') else {
            return Err(format!(
                "Syntax error - can't find = in {w:?}. Must be of the form: name=value"
            ));
        };
        if k.is_empty() {
            return Err(format!("{name} names can not be blank"));
        }
        out.push(KeyValue {
            key: k.to_string(),
            value: v.to_string(),
        });
    }
    Ok(out)
}

fn healthcheck(line: &Line) -> Result<Healthcheck, String> {
    let args = line.args.as_str();
    let (kind, rest) = match args.split_once(char::is_whitespace) {
        Some((k, r)) => (k, r.trim()),
        None => (args, ""),
    };
    if kind.is_empty() {
        return Err(at_least_one("HEALTHCHECK"));
    }
    match kind.to_ascii_uppercase().as_str() {
        "NONE" => {
            if !rest.is_empty() || !line.flags.is_empty() {
                return Err("HEALTHCHECK NONE takes no arguments".into());
            }
            Ok(Healthcheck::None)
        }
        "CMD" => {
            let flags = Flags::parse(
                &line.flags,
                &[
                    "interval",
                    "timeout",
                    "start-period",
                    "start-interval",
                    "retries",
                ],
                &[],
            )?;
            let test = match command_line(rest) {
                CommandLine::Exec(v) => {
                    let mut t = vec!["CMD".to_string()];
                    t.extend(v);
                    t
                }
                CommandLine::Shell(s) => vec!["CMD-SHELL".to_string(), s],
            };
            if rest.is_empty() {
                return Err("Missing command after HEALTHCHECK CMD".into());
            }
            let duration = |name: &str| -> Result<i64, String> {
                let Some(v) = flags.string(name)? else {
                    return Ok(0);
                };
                let d = crate::timestamp::parse_go_duration(&v)
                    .ok_or_else(|| format!("time: invalid duration {v:?}"))?;
                if d != 0 && d < 1_000_000 {
                    return Err(format!("Interval {name:?} cannot be less than 1ms"));
                }
                Ok(d)
            };
            let retries = match flags.string("retries")? {
                None => 0,
                Some(v) => {
                    let n: i64 = v
                        .parse()
                        .map_err(|_| format!("strconv.ParseInt: parsing {v:?}: invalid syntax"))?;
                    if n < 0 {
                        return Err(format!("--retries cannot be negative ({n})"));
                    }
                    n
                }
            };
            Ok(Healthcheck::Check {
                test,
                interval: duration("interval")?,
                timeout: duration("timeout")?,
                start_period: duration("start-period")?,
                start_interval: duration("start-interval")?,
                retries,
            })
        }
        other => Err(format!("Unknown type \"{other}\" in HEALTHCHECK (try CMD)")),
    }
}

fn copy_spec(line: &Line, name: &str, flags: &Flags) -> Result<CopySpec, String> {
    let mut list = json_or_words(&line.args);
    if list.len() < 2 {
        return Err(if list.is_empty() {
            format!("{name} requires at least two arguments, but none were provided. Destination could not be determined")
        } else {
            format!("{name} requires at least two arguments, but only one was provided. Destination could not be determined")
        });
    }
    let dest = list.pop().unwrap_or_default();
    Ok(CopySpec {
        sources: list,
        dest,
        from: flags.string("from")?,
        chown: flags.string("chown")?,
        chmod: flags.string("chmod")?,
    })
}

/// A valid `AS` name: a letter, then letters, digits, `-`, `_` and `.`.
fn valid_stage_name(n: &str) -> bool {
    let mut chars = n.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "-_.".contains(c))
}

/// Parses one logical line.
pub fn parse_line(line: &Line, escape: char) -> Result<Step, ParseError> {
    let instruction = instruction(line, escape).map_err(|m| ParseError::at(line.start, m))?;
    Ok(Step {
        line: line.start,
        original: line.original.trim().to_string(),
        instruction,
    })
}

fn no_flags(line: &Line) -> Result<(), String> {
    Flags::parse(&line.flags, &[], &[]).map(|_| ())
}

fn instruction(line: &Line, escape: char) -> Result<Instruction, String> {
    let lower = line.word.to_ascii_lowercase();
    let upper = line.word.to_ascii_uppercase();
    let args = line.args.as_str();
    Ok(match lower.as_str() {
        "from" => {
            let flags = Flags::parse(&line.flags, &["platform"], &[])?;
            let words = whitespace_list(args);
            let (base, name) = match words.as_slice() {
                [b] => (b.clone(), None),
                [b, as_, n] if as_.eq_ignore_ascii_case("as") => {
                    let n = n.to_ascii_lowercase();
                    if !valid_stage_name(&n) {
                        return Err(format!("invalid name for build stage: {n:?}, name can't start with a number or contain symbols"));
                    }
                    (b.clone(), Some(n))
                }
                _ => return Err("FROM requires either one or three arguments".into()),
            };
            Instruction::From {
                base,
                name,
                platform: flags.string("platform")?,
            }
        }
        "run" => {
            Flags::parse(&line.flags, &[], &["mount", "network", "security"])?;
            if args.is_empty() {
                return Err(at_least_one(&upper));
            }
            Instruction::Run(command_line(args))
        }
        "cmd" | "entrypoint" => {
            no_flags(line)?;
            if args.is_empty() {
                return Err(at_least_one(&upper));
            }
            let c = command_line(args);
            if lower == "cmd" {
                Instruction::Cmd(c)
            } else {
                Instruction::Entrypoint(c)
            }
        }
        "copy" => {
            let flags = Flags::parse(
                &line.flags,
                &["from", "chown", "chmod"],
                &["link", "parents", "exclude"],
            )?;
            Instruction::Copy(copy_spec(line, "COPY", &flags)?)
        }
        "add" => {
            let flags = Flags::parse(
                &line.flags,
                &["chown", "chmod"],
                &["link", "keep-git-dir", "checksum", "exclude"],
            )?;
            Instruction::Add(copy_spec(line, "ADD", &flags)?)
        }
        "env" => {
            no_flags(line)?;
            Instruction::Env(name_values(args, "ENV", escape)?)
        }
        "label" => {
            no_flags(line)?;
            Instruction::Label(name_values(args, "LABEL", escape)?)
        }
        "arg" => {
            no_flags(line)?;
            let words = split_words(args, escape);
            if words.is_empty() {
                return Err(at_least_one("ARG"));
            }
            let mut decls = Vec::new();
            for w in words {
                let (name, default) = match w.split_once('=') {
                    Some((n, d)) => (n.to_string(), Some(d.to_string())),
                    None => (w, None),
                };
                if name.is_empty() {
                    return Err("ARG names can not be blank".into());
                }
                decls.push(ArgDecl { name, default });
            }
            Instruction::Arg(decls)
        }
        "workdir" | "user" | "stopsignal" | "maintainer" => {
            no_flags(line)?;
            if args.is_empty() {
                return Err(exactly_one(&upper));
            }
            let s = args.to_string();
            match lower.as_str() {
                "workdir" => Instruction::Workdir(s),
                "user" => Instruction::User(s),
                "stopsignal" => Instruction::StopSignal(s),
                _ => Instruction::Maintainer(s),
            }
        }
        "expose" => {
            no_flags(line)?;
            let ports = whitespace_list(args);
            if ports.is_empty() {
                return Err(at_least_one("EXPOSE"));
            }
            Instruction::Expose(ports)
        }
        "volume" => {
            no_flags(line)?;
            let vols = json_or_words(args);
            if vols.is_empty() {
                return Err(at_least_one("VOLUME"));
            }
            if vols.iter().any(|v| v.trim().is_empty()) {
                return Err("VOLUME specified can not be an empty string".into());
            }
            Instruction::Volume(vols)
        }
        "shell" => {
            no_flags(line)?;
            match json_strings(args) {
                Some(v) if !v.is_empty() => Instruction::Shell(v),
                Some(_) => return Err(at_least_one("SHELL")),
                None => return Err("SHELL requires the arguments to be in JSON form".into()),
            }
        }
        "healthcheck" => Instruction::Healthcheck(healthcheck(line)?),
        "onbuild" => {
            no_flags(line)?;
            if args.is_empty() {
                return Err(at_least_one("ONBUILD"));
            }
            let inner = super::lines::split(args)
                .map_err(|e| e.message)?
                .1
                .into_iter()
                .next()
                .ok_or_else(|| at_least_one("ONBUILD"))?;
            match inner.word.to_ascii_uppercase().as_str() {
                "ONBUILD" => {
                    return Err("Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed".into())
                }
                t @ ("FROM" | "MAINTAINER") => {
                    return Err(format!("{t} isn't allowed as an ONBUILD trigger"))
                }
                _ => {}
            }
            // The trigger must itself be a valid instruction.
            instruction(&inner, escape)?;
            Instruction::Onbuild(args.to_string())
        }
        _ => return Err(format!("unknown instruction: {}", line.word)),
    })
}
