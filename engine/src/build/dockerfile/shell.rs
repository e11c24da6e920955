//! Variable substitution and quote removal in instruction arguments, as dockerd's shell lexer
//! (buildkit `frontend/dockerfile/shell`): `$VAR`, `${VAR}`, `${VAR:-x}`, `${VAR-x}`,
//! `${VAR:+x}`, `${VAR+x}`, `${VAR:?msg}`, single quotes (literal), double quotes (variables
//! expand, the escape char escapes `"`, `$` and itself), and the escape char outside quotes.
//! This is not a shell: no globbing, no command substitution.

use super::ParseError;

/// Variables visible to an instruction: build args in scope and the image's `ENV`.
pub trait Env {
    fn lookup(&self, name: &str) -> Option<String>;
}

/// `KEY=value` entries, the last one of a key winning (an image config's `Env`).
impl Env for [String] {
    fn lookup(&self, name: &str) -> Option<String> {
        self.iter().rev().find_map(|e| {
            e.strip_prefix(name)
                .and_then(|r| r.strip_prefix('='))
                .map(str::to_string)
        })
    }
}

impl Env for Vec<String> {
    fn lookup(&self, name: &str) -> Option<String> {
        self.as_slice().lookup(name)
    }
}

/// The lexer for one Dockerfile: only the escape character differs between files.
#[derive(Clone, Copy, Debug)]
pub struct Lexer {
    pub escape: char,
}

struct Scan<'a> {
    chars: Vec<char>,
    pos: usize,
    escape: char,
    env: &'a dyn Env,
}

impl Lexer {
    pub fn new(escape: char) -> Self {
        Lexer { escape }
    }

    /// One word: quotes removed, variables substituted, whitespace kept as it is.
    pub fn word(&self, s: &str, env: &dyn Env) -> Result<String, ParseError> {
        let mut scan = Scan::new(s, self.escape, env);
        let mut w = String::new();
        scan.run(None, &mut w)?;
        Ok(w)
    }
}

impl<'a> Scan<'a> {
    fn new(s: &str, escape: char, env: &'a dyn Env) -> Self {
        Scan {
            chars: s.chars().collect(),
            pos: 0,
            escape,
            env,
        }
    }

    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn next(&mut self) -> Option<char> {
        let c = self.peek();
        if c.is_some() {
            self.pos += 1;
        }
        c
    }

    /// Processes until `stop` (consumed) or the end; with a `stop`, the end is an error.
    fn run(&mut self, stop: Option<char>, w: &mut String) -> Result<(), ParseError> {
        while let Some(c) = self.peek() {
            if Some(c) == stop {
                self.pos += 1;
                return Ok(());
            }
            if c == '\'' {
                self.pos += 1;
                let s = self.single_quoted()?;
                w.push_str(&s);
            } else if c == '"' {
                self.pos += 1;
                let s = self.double_quoted()?;
                w.push_str(&s);
            } else if c == '$' {
                self.pos += 1;
                let s = self.dollar()?;
                w.push_str(&s);
            } else if c == self.escape {
                self.pos += 1;
                // A trailing escape char is dropped.
                if let Some(n) = self.next() {
                    w.push(n);
                }
            } else {
                self.pos += 1;
                w.push(c);
            }
        }
        match stop {
            Some(s) => Err(ParseError::msg(format!(
                "unexpected end of statement while looking for matching {s}"
            ))),
            None => Ok(()),
        }
    }

    fn single_quoted(&mut self) -> Result<String, ParseError> {
        let mut s = String::new();
        loop {
            match self.next() {
                None => {
                    return Err(ParseError::msg(
                        "unexpected end of statement while looking for matching single-quote",
                    ))
                }
                Some('\'') => return Ok(s),
                Some(c) => s.push(c),
            }
        }
    }

    fn double_quoted(&mut self) -> Result<String, ParseError> {
        let mut s = String::new();
        loop {
            match self.next() {
                None => {
                    return Err(ParseError::msg(
                        "unexpected end of statement while looking for matching double-quote",
                    ))
                }
                Some('"') => return Ok(s),
                Some('$') => s.push_str(&self.dollar()?),
                Some(c) if c == self.escape => match self.peek() {
                    Some(n) if n == '"' || n == '$' || n == self.escape => {
                        self.pos += 1;
                        s.push(n);
                    }
                    _ => s.push(c),
                },
                Some(c) => s.push(c),
            }
        }
    }

    /// A name after `$`: one digit or special parameter, or letters, digits and `_`.
    fn name(&mut self) -> String {
        match self.peek() {
            Some(c) if c.is_ascii_digit() || "@*#?-$!".contains(c) => {
                self.pos += 1;
                c.to_string()
            }
            _ => {
                let mut n = String::new();
                while let Some(c) = self.peek() {
                    if c.is_alphanumeric() || c == '_' {
                        n.push(c);
                        self.pos += 1;
                    } else {
                        break;
                    }
                }
                n
            }
        }
    }

    /// After a `$`: the substitution's value (`$` itself when no name follows).
    fn dollar(&mut self) -> Result<String, ParseError> {
        if self.peek() != Some('{') {
            let name = self.name();
            if name.is_empty() {
                return Ok("$".into());
            }
            return Ok(self.env.lookup(&name).unwrap_or_default());
        }
        self.pos += 1;
        let name = self.name();
        let Some(c) = self.next() else {
            return Err(ParseError::msg(
                "unexpected end of statement while looking for matching }",
            ));
        };
        if c == '}' {
            return Ok(self.env.lookup(&name).unwrap_or_default());
        }
        let (colon, op) = if c == ':' {
            (true, self.next())
        } else {
            (false, Some(c))
        };
        let op = match op {
            Some(op @ ('-' | '+' | '?')) => op,
            other => {
                let shown: String = if colon { ":" } else { "" }.chars().chain(other).collect();
                return Err(ParseError::msg(format!(
                    "unsupported modifier ({shown}) in substitution"
                )));
            }
        };
        // The operand is a word of its own: quotes and variables inside it are processed.
        let mut inner = String::new();
        self.run(Some('}'), &mut inner)?;
        let word = inner;
        let value = self.env.lookup(&name);
        // With a colon, an empty value counts as unset.
        let set = match &value {
            Some(v) => !(colon && v.is_empty()),
            None => false,
        };
        Ok(match op {
            '-' => {
                if set {
                    value.unwrap_or_default()
                } else {
                    word
                }
            }
            '+' => {
                if set {
                    word
                } else {
                    String::new()
                }
            }
            _ => {
                if set {
                    value.unwrap_or_default()
                } else if !word.is_empty() {
                    return Err(ParseError::msg(format!("{name}: {word}")));
                } else if colon && value.is_some() {
                    return Err(ParseError::msg(format!(
                        "{name}: is not allowed to be empty"
                    )));
                } else {
                    return Err(ParseError::msg(format!(
                        "{name}: is not allowed to be unset"
                    )));
                }
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env() -> Vec<String> {
        vec![
            "A=apple".into(),
            "EMPTY=".into(),
            "SP=two words".into(),
            "A_B=ab".into(),
        ]
    }

    #[test]
    fn word_table() {
        let lx = Lexer::new('\\');
        let cases: &[(&str, &str)] = &[
            ("plain", "plain"),
            ("$A", "apple"),
            ("${A}", "apple"),
            ("x$A.y", "xapple.y"),
            ("$A_B", "ab"),
            ("${A}_B", "apple_B"),
            ("$NOPE", ""),
            ("${NOPE:-def}", "def"),
            ("${EMPTY:-def}", "def"),
            ("${EMPTY-def}", ""),
            ("${NOPE-def}", "def"),
            ("${A:-def}", "apple"),
            ("${A:+alt}", "alt"),
            ("${EMPTY:+alt}", ""),
            ("${EMPTY+alt}", "alt"),
            ("${NOPE+alt}", ""),
            ("${NOPE:-$A}", "apple"),
            ("${NOPE:-\"q $A\"}", "q apple"),
            ("'$A'", "$A"),
            ("\"$A\"", "apple"),
            ("\"a\\\"b\"", "a\"b"),
            ("\"a\\nb\"", "a\\nb"),
            ("\\$A", "$A"),
            ("a\\ b", "a b"),
            ("$", "$"),
            ("a$", "a$"),
            ("$1", ""),
            ("two  spaces", "two  spaces"),
            ("trailing\\", "trailing"),
        ];
        for (input, want) in cases {
            assert_eq!(lx.word(input, &env()).unwrap(), *want, "word({input:?})");
        }
    }

    #[test]
    fn backtick_escape() {
        let lx = Lexer::new('`');
        assert_eq!(lx.word("C:`\\x `$A", &env()).unwrap(), "C:\\x $A");
        assert_eq!(lx.word("a\\b", &env()).unwrap(), "a\\b");
    }

    #[test]
    fn errors() {
        let lx = Lexer::new('\\');
        let err = |s: &str| lx.word(s, &env()).unwrap_err().to_string();
        assert!(err("'open").contains("matching single-quote"));
        assert!(err("\"open").contains("matching double-quote"));
        assert!(err("${A").contains("matching }"));
        assert!(err("${A:-x").contains("matching }"));
        assert_eq!(err("${A*x}"), "unsupported modifier (*) in substitution");
        assert_eq!(err("${NOPE:?must be set}"), "NOPE: must be set");
        assert_eq!(err("${EMPTY:?}"), "EMPTY: is not allowed to be empty");
    }
}
