//! The context directory as the tar a client sends to `/build`, as the docker CLI makes it:
//! what `.dockerignore` excludes is left out, except the Dockerfile and `.dockerignore` itself,
//! which the engine needs. Symlinks are sent as links, never followed.

use std::path::{Path, PathBuf};

use crate::ignore::{Ignore, IgnoreError};

#[derive(Debug, thiserror::Error)]
pub enum ContextError {
    #[error("unable to prepare context: path {0:?} not found")]
    NotFound(String),
    #[error("error reading .dockerignore: {0}")]
    Ignore(#[from] IgnoreError),
    #[error("{what}: {source}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },
}

fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> ContextError {
    let what = what.into();
    move |source| ContextError::Io { what, source }
}

/// The tar of `root` for a build with `dockerfile` (a path relative to `root`).
pub fn context_tar(root: &Path, dockerfile: &str) -> Result<Vec<u8>, ContextError> {
    if !root.is_dir() {
        return Err(ContextError::NotFound(root.display().to_string()));
    }
    let rules = match std::fs::read_to_string(root.join(".dockerignore")) {
        Ok(text) => Ignore::parse(&text)?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ignore::default(),
        Err(e) => return Err(io("reading .dockerignore")(e)),
    };
    let dockerfile = crate::ignore::clean(dockerfile);
    let mut builder = tar::Builder::new(Vec::new());
    builder.follow_symlinks(false);
    let mut stack: Vec<PathBuf> = vec![PathBuf::new()];
    while let Some(rel) = stack.pop() {
        let dir = root.join(&rel);
        let mut entries: Vec<_> = std::fs::read_dir(&dir)
            .and_then(|d| d.collect::<std::io::Result<Vec<_>>>())
            .map_err(io(format!("reading {}", dir.display())))?;
        entries.sort_by_key(|e| e.file_name());
        for entry in entries {
            let rel_path = rel.join(entry.file_name());
            let rel_str = rel_path.to_string_lossy().replace('\\', "/");
            let kind = entry
                .file_type()
                .map_err(io(format!("reading {}", entry.path().display())))?;
            let always = rel_str == dockerfile || rel_str == ".dockerignore";
            if !always && rules.matches(&rel_str) {
                // An excluded directory may still hold a file a `!` pattern brings back.
                if kind.is_dir() && rules.has_exclusions() {
                    stack.push(rel_path);
                }
                continue;
            }
            builder
                .append_path_with_name(entry.path(), &rel_path)
                .map_err(io(format!(
                    "adding {} to the context",
                    entry.path().display()
                )))?;
            if kind.is_dir() {
                stack.push(rel_path);
            }
        }
    }
    builder
        .into_inner()
        .map_err(io("finishing the context archive"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(tar: &[u8]) -> Vec<String> {
        let mut a = tar::Archive::new(tar);
        let mut v: Vec<String> = a
            .entries()
            .expect("entries")
            .map(|e| {
                e.expect("entry")
                    .path()
                    .expect("path")
                    .to_string_lossy()
                    .trim_end_matches('/')
                    .to_string()
            })
            .collect();
        v.sort();
        v
    }

    fn tree(files: &[(&str, &str)]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().expect("temp dir");
        for (path, content) in files {
            let p = dir.path().join(path);
            std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
            std::fs::write(p, content).expect("write");
        }
        dir
    }

    #[test]
    fn dockerignore_leaves_files_out_but_never_the_dockerfile_or_itself() {
        let dir = tree(&[
            ("Dockerfile", "FROM scratch\n"),
            (
                ".dockerignore",
                "Dockerfile\n.dockerignore\n*.log\nnode_modules\n",
            ),
            ("app/main.sh", "echo hi\n"),
            ("app/debug.log", "x"),
            ("debug.log", "x"),
            ("node_modules/a/index.js", "x"),
        ]);
        let tar = context_tar(dir.path(), "Dockerfile").expect("tar");
        assert_eq!(
            names(&tar),
            [
                ".dockerignore",
                "Dockerfile",
                "app",
                "app/debug.log",
                "app/main.sh"
            ]
        );
    }

    #[test]
    fn an_exception_reaches_into_an_excluded_directory() {
        let dir = tree(&[
            ("Dockerfile", "FROM scratch\n"),
            (".dockerignore", "docs\n!docs/keep.md\n"),
            ("docs/keep.md", "x"),
            ("docs/drop.md", "x"),
        ]);
        let tar = context_tar(dir.path(), "./Dockerfile").expect("tar");
        assert_eq!(names(&tar), [".dockerignore", "Dockerfile", "docs/keep.md"]);
    }

    #[test]
    fn symlinks_are_sent_as_links_and_a_missing_dir_is_an_error() {
        let dir = tree(&[("Dockerfile", "FROM scratch\n")]);
        std::os::unix::fs::symlink("/etc/passwd", dir.path().join("link")).expect("symlink");
        let tar = context_tar(dir.path(), "Dockerfile").expect("tar");
        let mut a = tar::Archive::new(&tar[..]);
        let link = a
            .entries()
            .expect("entries")
            .map(|e| e.expect("entry"))
            .find(|e| e.path().is_ok_and(|p| p.ends_with("link")))
            .expect("the link is in the context");
        assert_eq!(link.header().entry_type(), tar::EntryType::Symlink);
        let err = context_tar(&dir.path().join("nope"), "Dockerfile").unwrap_err();
        assert!(err
            .to_string()
            .starts_with("unable to prepare context: path"));
    }
}
