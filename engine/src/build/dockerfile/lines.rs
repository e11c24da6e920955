//! From text to logical lines, as dockerd's parser reads a Dockerfile: parser directives at the
//! top (`# escape=`, `# syntax=`), comments, line continuations with the escape character
//! (comment and empty lines inside a continuation are skipped), then each line split into its
//! instruction word, leading `--flags` and the rest.

use super::ParseError;

/// One instruction as written, before its arguments are interpreted.
#[derive(Clone, Debug, PartialEq)]
pub struct Line {
    /// 1-based numbers of the first and last physical lines.
    pub start: usize,
    pub end: usize,
    /// The instruction word as written (case kept, for messages).
    pub word: String,
    /// `--name=value` flags before the arguments, quotes removed.
    pub flags: Vec<String>,
    /// The arguments after the flags, trimmed.
    pub args: String,
    /// The whole logical line.
    pub original: String,
}

/// The parser directives dockerd honours; unknown ones are comments.
#[derive(Clone, Debug, PartialEq)]
pub struct Directives {
    pub escape: char,
    pub syntax: Option<String>,
}

/// Reads directives while each top line is one; the first other line ends them.
struct DirectiveReader {
    done: bool,
    escape_seen: bool,
    syntax_seen: bool,
    found: Directives,
}

impl DirectiveReader {
    fn line(&mut self, line: &str, number: usize) -> Result<(), ParseError> {
        if self.done {
            return Ok(());
        }
        let Some((name, value)) = directive(line) else {
            self.done = true;
            return Ok(());
        };
        match name.to_ascii_lowercase().as_str() {
            "escape" => {
                if self.escape_seen {
                    return Err(ParseError::at(
                        number,
                        "only one escape parser directive can be used",
                    ));
                }
                self.escape_seen = true;
                self.found.escape = match value {
                    "\\" => '\\',
                    "`" => '`',
                    other => {
                        return Err(ParseError::at(
                            number,
                            format!("invalid escape token '{other}' does not match ` or \\"),
                        ))
                    }
                };
            }
            // Accepted and ignored: this builder has one frontend. A second one is a comment.
            "syntax" if !self.syntax_seen => {
                self.syntax_seen = true;
                self.found.syntax = Some(value.to_string());
            }
            _ => {}
        }
        Ok(())
    }
}

/// `# name = value` (name: a letter then letters or digits).
fn directive(line: &str) -> Option<(&str, &str)> {
    let rest = line.strip_prefix('#')?.trim_start_matches([' ', '\t']);
    let name_len = rest
        .char_indices()
        .find(|(i, c)| !(c.is_ascii_alphabetic() || (*i > 0 && c.is_ascii_digit())))
        .map(|(i, _)| i)
        .unwrap_or(rest.len());
    if name_len == 0 {
        return None;
    }
    let (name, rest) = rest.split_at(name_len);
    let value = rest
        .trim_start_matches([' ', '\t'])
        .strip_prefix('=')?
        .trim_matches([' ', '\t']);
    if value.is_empty() {
        return None;
    }
    Some((name, value))
}

fn is_comment(line: &str) -> bool {
    line.trim_start().starts_with('#')
}

/// The line without a trailing escape char (and blanks after it), and whether it ended there.
fn trim_continuation(line: &str, escape: char) -> (&str, bool) {
    let t = line.trim_end_matches([' ', '\t']);
    match t.strip_suffix(escape) {
        Some(body) => (body, false),
        None => (line, true),
    }
}

/// Splits a Dockerfile into its directives and logical lines.
pub fn split(text: &str) -> Result<(Directives, Vec<Line>), ParseError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut d = DirectiveReader {
        done: false,
        escape_seen: false,
        syntax_seen: false,
        found: Directives {
            escape: '\\',
            syntax: None,
        },
    };
    let physical: Vec<&str> = text
        .split('\n')
        .map(|l| l.strip_suffix('\r').unwrap_or(l))
        .collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < physical.len() {
        let number = i + 1;
        let first = physical[i].trim_start();
        i += 1;
        d.line(first, number)?;
        if is_comment(first) {
            continue;
        }
        let (body, mut ended) = trim_continuation(first, d.found.escape);
        if ended && body.trim().is_empty() {
            continue;
        }
        let mut line = body.to_string();
        let mut end = number;
        while !ended && i < physical.len() {
            let raw = physical[i];
            i += 1;
            end = i;
            if is_comment(raw) || raw.trim().is_empty() {
                continue;
            }
            let (body, e) = trim_continuation(raw, d.found.escape);
            line.push_str(body);
            ended = e;
        }
        if line.trim().is_empty() {
            continue;
        }
        out.push(split_command(&line, number, end)?);
    }
    Ok((d.found, out))
}

fn split_command(line: &str, start: usize, end: usize) -> Result<Line, ParseError> {
    let trimmed = line.trim();
    let (word, rest) = match trimmed.split_once(char::is_whitespace) {
        Some((w, r)) => (w, r),
        None => (trimmed, ""),
    };
    let (args, flags) = builder_flags(rest);
    Ok(Line {
        start,
        end,
        word: word.to_string(),
        flags,
        args: args.trim().to_string(),
        original: line.to_string(),
    })
}

/// Leading `--flag[=value]` words (quotes removed, `\` escapes) and the rest of the line. A
/// bare `--` ends the flags.
fn builder_flags(line: &str) -> (&str, Vec<String>) {
    let mut flags = Vec::new();
    let bytes: Vec<(usize, char)> = line.char_indices().collect();
    let mut k = 0;
    loop {
        while k < bytes.len() && bytes[k].1.is_whitespace() {
            k += 1;
        }
        if k >= bytes.len() {
            return ("", flags);
        }
        let start = bytes[k].0;
        if !line[start..].starts_with("--") {
            return (&line[start..], flags);
        }
        let mut word = String::new();
        let mut quote: Option<char> = None;
        while k < bytes.len() {
            let c = bytes[k].1;
            match quote {
                None if c.is_whitespace() => break,
                None if c == '"' || c == '\'' => quote = Some(c),
                Some(q) if c == q => quote = None,
                _ if c == '\\' => {
                    if k + 1 < bytes.len() {
                        k += 1;
                        word.push(bytes[k].1);
                    }
                }
                _ => word.push(c),
            }
            k += 1;
        }
        if word == "--" {
            let rest = bytes.get(k).map(|(p, _)| *p).unwrap_or(line.len());
            return (&line[rest..], flags);
        }
        flags.push(word);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(text: &str) -> Vec<(usize, String, String)> {
        split(text)
            .unwrap()
            .1
            .into_iter()
            .map(|l| (l.start, l.word, l.args))
            .collect()
    }

    #[test]
    fn continuations_and_comments() {
        let text = "# a comment\nFROM busybox\n\nRUN echo a \\\n  # inside\n\n    && echo b\n  # after\nCMD [\"sh\"]\r\n";
        assert_eq!(
            words(text),
            [
                (2, "FROM".into(), "busybox".into()),
                (4, "RUN".into(), "echo a     && echo b".into()),
                (9, "CMD".into(), "[\"sh\"]".into()),
            ]
        );
    }

    #[test]
    fn escape_directive() {
        let text = "# escape=`\nFROM x\nRUN dir C:\\ `\n  && echo\n";
        let (d, lines) = split(text).unwrap();
        assert_eq!(d.escape, '`');
        assert_eq!(lines[1].args, "dir C:\\   && echo");
        // Not a directive once an instruction was seen.
        let (d, _) = split("FROM x\n# escape=`\n").unwrap();
        assert_eq!(d.escape, '\\');
        let (d, _) = split("# syntax=docker/dockerfile:1\n# escape=`\nFROM x\n").unwrap();
        assert_eq!(d.syntax.as_deref(), Some("docker/dockerfile:1"));
        assert_eq!(d.escape, '`');
        let err = split("# escape=x\nFROM x").unwrap_err().to_string();
        assert!(err.contains("invalid escape token 'x'"), "{err}");
        let err = split("# escape=`\n# escape=\\\nFROM x")
            .unwrap_err()
            .to_string();
        assert!(err.contains("only one escape parser directive"), "{err}");
    }

    #[test]
    fn flags() {
        let (_, lines) =
            split("COPY --from=build --chown=\"1:2\" a b\nRUN -- --not-a-flag\n").unwrap();
        assert_eq!(lines[0].flags, ["--from=build", "--chown=1:2"]);
        assert_eq!(lines[0].args, "a b");
        assert!(lines[1].flags.is_empty());
        assert_eq!(lines[1].args, "--not-a-flag");
    }
}
