//! `.dockerignore`, as the docker CLI and dockerd read and apply it (moby/patternmatcher):
//! one Go `filepath.Match` pattern a line, `**` for any number of directories, `!` re-includes,
//! `#` lines are comments, each pattern cleaned like Go's `filepath.Clean` with a leading `/`
//! dropped. A path is excluded when the last pattern that matches it, or one of its parent
//! directories, is not a `!` pattern.

use regex::Regex;

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum IgnoreError {
    #[error("illegal exclusion pattern: \"!\"")]
    BareExclusion,
    #[error("syntax error in pattern {0:?}")]
    BadPattern(String),
}

#[derive(Debug)]
struct Pattern {
    exclusion: bool,
    re: Regex,
}

/// The patterns of one `.dockerignore`.
#[derive(Debug, Default)]
pub struct Ignore {
    patterns: Vec<Pattern>,
}

/// Go's `filepath.Clean` on a slash-separated path.
pub fn clean(p: &str) -> String {
    let rooted = p.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for part in p.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                if parts.last().is_some_and(|l| *l != "..") {
                    parts.pop();
                } else if !rooted {
                    parts.push("..");
                }
            }
            other => parts.push(other),
        }
    }
    let joined = parts.join("/");
    match (rooted, joined.is_empty()) {
        (true, _) => format!("/{joined}"),
        (false, true) => ".".into(),
        (false, false) => joined,
    }
}

/// A Go `filepath.Match` pattern (no `**`: two stars are two `*`) as a regular expression, for
/// `COPY` sources with wildcards.
pub fn glob_regex(pattern: &str) -> Result<Regex, IgnoreError> {
    compile(pattern, false)
}

/// The regular expression of a cleaned pattern (patternmatcher's `compile`; `double_star`
/// gives `**` its `.dockerignore` meaning).
fn compile(pattern: &str, double_star: bool) -> Result<Regex, IgnoreError> {
    let bad = || IgnoreError::BadPattern(pattern.to_string());
    let mut re = String::from("^");
    let chars: Vec<char> = pattern.chars().collect();
    let mut i = 0;
    let mut in_class = false;
    while i < chars.len() {
        let c = chars[i];
        i += 1;
        if in_class {
            match c {
                ']' => {
                    in_class = false;
                    re.push(']');
                }
                '\\' => {
                    let n = chars.get(i).copied().ok_or_else(bad)?;
                    i += 1;
                    re.push_str(&regex::escape(&n.to_string()));
                }
                '[' | '&' | '~' | '-' | '^' => {
                    // `-` ranges and a leading `^` keep their meaning; the rest is literal.
                    if c == '[' || c == '&' || c == '~' {
                        re.push('\\');
                    }
                    re.push(c);
                }
                c => re.push(c),
            }
            continue;
        }
        match c {
            '*' if double_star && chars.get(i) == Some(&'*') => {
                i += 1;
                // `**/` is `**`.
                if chars.get(i) == Some(&'/') {
                    i += 1;
                }
                if i == chars.len() {
                    re.push_str(".*");
                } else {
                    re.push_str("(.*/)?");
                }
            }
            '*' => re.push_str("[^/]*"),
            '?' => re.push_str("[^/]"),
            '\\' => match chars.get(i) {
                Some(n) => {
                    i += 1;
                    re.push_str(&regex::escape(&n.to_string()));
                }
                None => re.push_str("\\\\"),
            },
            '[' => {
                in_class = true;
                re.push('[');
                if chars.get(i) == Some(&'^') {
                    i += 1;
                    re.push('^');
                }
                // A class of nothing (`[]`) is a syntax error in Go.
                if chars.get(i) == Some(&']') {
                    return Err(bad());
                }
            }
            ']' => return Err(bad()),
            c => re.push_str(&regex::escape(&c.to_string())),
        }
    }
    if in_class {
        return Err(bad());
    }
    re.push('$');
    Regex::new(&re).map_err(|_| bad())
}

impl Ignore {
    /// Reads a `.dockerignore` (the CLI's `ignorefile.ReadAll`, then `NewPatternMatcher`).
    pub fn parse(text: &str) -> Result<Ignore, IgnoreError> {
        let mut patterns = Vec::new();
        for (n, raw) in text.lines().enumerate() {
            let line = if n == 0 {
                raw.strip_prefix('\u{feff}').unwrap_or(raw)
            } else {
                raw
            };
            if line.starts_with('#') {
                continue;
            }
            let mut p = line.trim();
            if p.is_empty() {
                continue;
            }
            let exclusion = p.starts_with('!');
            if exclusion {
                p = p[1..].trim();
                if p.is_empty() {
                    return Err(IgnoreError::BareExclusion);
                }
            }
            let mut cleaned = clean(p);
            if cleaned.len() > 1 && cleaned.starts_with('/') {
                cleaned.remove(0);
            }
            patterns.push(Pattern {
                exclusion,
                re: compile(&cleaned, true)?,
            });
        }
        Ok(Ignore { patterns })
    }

    pub fn is_empty(&self) -> bool {
        self.patterns.is_empty()
    }

    /// Whether some `!` pattern exists (then an excluded directory may still hold included files).
    pub fn has_exclusions(&self) -> bool {
        self.patterns.iter().any(|p| p.exclusion)
    }

    /// `MatchesOrParentMatches`: `path` is relative to the context, `/`-separated.
    pub fn matches(&self, path: &str) -> bool {
        let file = clean(path);
        let parent = match file.rfind('/') {
            Some(i) => &file[..i],
            None => ".",
        };
        let parent_dirs: Vec<&str> = parent.split('/').collect();
        let mut matched = false;
        for p in &self.patterns {
            // An inclusion cannot change a match, nor an exclusion a non-match.
            if p.exclusion != matched {
                continue;
            }
            let mut hit = p.re.is_match(&file);
            if !hit && parent != "." {
                hit = (1..=parent_dirs.len()).any(|k| p.re.is_match(&parent_dirs[..k].join("/")));
            }
            if hit {
                matched = !p.exclusion;
            }
        }
        matched
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clean_like_go() {
        for (input, want) in [
            ("a/b/../c", "a/c"),
            ("./a//b/", "a/b"),
            ("/a/../../b", "/b"),
            ("../a", "../a"),
            ("", "."),
            ("./", "."),
        ] {
            assert_eq!(clean(input), want, "{input}");
        }
    }

    #[test]
    fn matching_table() {
        // (patterns, path, excluded)
        let cases: &[(&str, &str, bool)] = &[
            ("*.log", "a.log", true),
            ("*.log", "dir/a.log", false),
            ("*/*.log", "dir/a.log", true),
            ("**/*.log", "dir/sub/a.log", true),
            ("**/*.log", "a.log", true),
            ("dir", "dir/sub/file", true),
            ("dir/**", "dir/sub/file", true),
            ("dir/**", "dirx/file", false),
            ("/dir", "dir/file", true),
            ("./dir/", "dir/file", true),
            ("a?c", "abc", true),
            ("a?c", "a/c", false),
            ("[a-c].txt", "b.txt", true),
            ("[^a-c].txt", "b.txt", false),
            ("[^a-c].txt", "d.txt", true),
            ("x.txt", "x-txt", false),
            ("a\\*b", "a*b", true),
            ("a\\*b", "axb", false),
            ("*\n!keep.log", "keep.log", false),
            ("*\n!keep.log", "other.log", true),
            (
                "*.md\n!README*.md\nREADME-secret.md",
                "README-secret.md",
                true,
            ),
            ("*.md\n!README*.md\nREADME-secret.md", "README.md", false),
            ("# comment\n\n  \nnode_modules", "node_modules/x/y.js", true),
            ("#*.log", "a.log", false),
            ("**", "anything/at/all", true),
            ("dir\n!dir/keep", "dir/keep", false),
            ("dir\n!dir/keep", "dir/drop", true),
        ];
        for (patterns, path, want) in cases {
            let ig = Ignore::parse(patterns).unwrap();
            assert_eq!(ig.matches(path), *want, "patterns {patterns:?} path {path}");
        }
    }

    #[test]
    fn bad_patterns() {
        assert_eq!(Ignore::parse("!").unwrap_err(), IgnoreError::BareExclusion);
        assert!(matches!(
            Ignore::parse("[a").unwrap_err(),
            IgnoreError::BadPattern(_)
        ));
    }
}
