//! The Dockerfile parser: pure, no I/O. `parse` turns text into stages of typed instructions,
//! with dockerd's semantics and error wording (`dockerfile parse error on line 3: unknown
//! instruction: RUUN`). Arguments keep their quotes and `$VAR`s: they are expanded when a step
//! runs (`shell::Lexer`), because the variables in scope change from step to step.
//!
//! Ours rather than a crate: the crates on crates.io (e.g. `dockerfile-parser`, a pest grammar)
//! do not implement dockerd's escape directive, its word and flag splitting, its shell lexer or
//! its error messages, which clients and users see.

pub mod instruction;
pub mod lines;
pub mod shell;
#[cfg(test)]
mod tests;

pub use instruction::{ArgDecl, CommandLine, CopySpec, Healthcheck, Instruction, KeyValue, Step};

/// A parse error; with a line, shown as dockerd shows it.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub struct ParseError {
    pub line: Option<usize>,
    pub message: String,
}

impl std::fmt::Display for ParseError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.line {
            Some(n) => write!(f, "dockerfile parse error on line {n}: {}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

impl ParseError {
    pub fn msg(m: impl Into<String>) -> Self {
        ParseError {
            line: None,
            message: m.into(),
        }
    }

    pub fn at(line: usize, m: impl Into<String>) -> Self {
        ParseError {
            line: Some(line),
            message: m.into(),
        }
    }
}

/// One `FROM` and the instructions after it.
#[derive(Clone, Debug, PartialEq)]
pub struct Stage {
    /// The `AS` name, lower-cased as dockerd does.
    pub name: Option<String>,
    /// The base as written (`ARG`s before the first `FROM` expand in it).
    pub base: String,
    pub platform: Option<String>,
    /// The `FROM` line itself, for the step list.
    pub from: Step,
    pub steps: Vec<Step>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Dockerfile {
    pub escape: char,
    /// `ARG`s before the first `FROM`: usable in `FROM` lines only.
    pub meta_args: Vec<ArgDecl>,
    pub stages: Vec<Stage>,
}

impl Dockerfile {
    pub fn lexer(&self) -> shell::Lexer {
        shell::Lexer::new(self.escape)
    }

    /// The stage a `--target` or `COPY --from` names: its name, or its index.
    pub fn stage_index(&self, name: &str) -> Option<usize> {
        let lower = name.to_ascii_lowercase();
        if let Some(i) = self
            .stages
            .iter()
            .position(|s| s.name.as_deref() == Some(lower.as_str()))
        {
            return Some(i);
        }
        name.parse::<usize>()
            .ok()
            .filter(|i| *i < self.stages.len())
    }
}

/// Parses a whole Dockerfile.
pub fn parse(text: &str) -> Result<Dockerfile, ParseError> {
    let (directives, lines) = lines::split(text)?;
    if lines.is_empty() {
        return Err(ParseError::msg("file with no instructions"));
    }
    let mut meta_args = Vec::new();
    let mut stages: Vec<Stage> = Vec::new();
    for line in &lines {
        let step = instruction::parse_line(line, directives.escape)?;
        match (&step.instruction, stages.last_mut()) {
            (
                Instruction::From {
                    base,
                    name,
                    platform,
                },
                _,
            ) => {
                if let Some(n) = name {
                    if stages.iter().any(|s| s.name.as_deref() == Some(n.as_str())) {
                        return Err(ParseError::at(line.start, format!("duplicate name {n}")));
                    }
                }
                stages.push(Stage {
                    name: name.clone(),
                    base: base.clone(),
                    platform: platform.clone(),
                    from: step.clone(),
                    steps: Vec::new(),
                });
            }
            (Instruction::Arg(args), None) => meta_args.extend(args.iter().cloned()),
            (_, None) => {
                return Err(ParseError::at(
                    line.start,
                    "no build stage in current context",
                ))
            }
            (_, Some(stage)) => stage.steps.push(step),
        }
    }
    if stages.is_empty() {
        return Err(ParseError::msg("file with no instructions"));
    }
    Ok(Dockerfile {
        escape: directives.escape,
        meta_args,
        stages,
    })
}
