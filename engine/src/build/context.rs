//! The build context: the request's tar unpacked into a directory of its own under the data
//! root's scratch space (streamed, never held in memory), removed when the build ends. Sources
//! of `COPY`/`ADD` are resolved inside it and must stay inside it: `..` past its root, or a
//! symlink pointing out of it, is refused.
//!
//! Resolution is ours rather than `fs::rootpath::ContainerFs` (which scopes escapes into
//! the root, as a container's view needs, instead of refusing them) or the `vfs` crate's
//! `AltrootFS` (which has no notion of symlinks, so it cannot see one escape). The context is
//! private to this build and does not change under us, so plain path walks are safe here.

use std::io::Read;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Component, Path, PathBuf};

use super::ignore::{self, Ignore};

#[derive(Debug, thiserror::Error)]
pub enum ContextError {
    #[error("{0}")]
    Refused(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Invalid(String),
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
}

fn io_err(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> ContextError {
    let context = context.into();
    move |source| ContextError::Io { context, source }
}

/// A tar stream completed with zero padding to its last 512-byte block and the end-of-archive
/// blocks when it stops short of them. The docker CLI's `-f -` rewrites the context through
/// go-archive's `ReplaceFileTarWrapper`, which closes the pipe before the tar writer, so the last
/// entry's padding and the end marker never arrive; Go's reader in dockerd tolerates that.
struct EndPadded<R> {
    inner: R,
    read: u64,
    /// Zero bytes still to give once `inner` ended.
    tail: Option<u64>,
}

impl<R: Read> EndPadded<R> {
    fn new(inner: R) -> Self {
        EndPadded {
            inner,
            read: 0,
            tail: None,
        }
    }
}

impl<R: Read> Read for EndPadded<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.tail.is_none() {
            let n = self.inner.read(buf)?;
            if n > 0 || buf.is_empty() {
                self.read += n as u64;
                return Ok(n);
            }
            self.tail = Some((512 - self.read % 512) % 512 + 1024);
        }
        let left = self.tail.unwrap_or(0);
        let n = (buf.len() as u64).min(left) as usize;
        buf[..n].fill(0);
        self.tail = Some(left - n as u64);
        Ok(n)
    }
}

/// A build's context directory; removed on drop.
#[derive(Debug)]
pub struct BuildContext {
    root: PathBuf,
}

impl Drop for BuildContext {
    fn drop(&mut self) {
        if let Err(e) = std::fs::remove_dir_all(&self.root) {
            if e.kind() != std::io::ErrorKind::NotFound {
                tracing::warn!(dir = %self.root.display(), error = %e, "removing a build context");
            }
        }
    }
}

impl BuildContext {
    /// Unpacks a tar stream (plain, gzip, bzip2, xz or zstd) into a new directory under
    /// `scratch`. Blocking.
    pub fn receive(body: impl Read + Send + 'static, scratch: &Path) -> Result<Self, ContextError> {
        let root = scratch.join(format!("build-{:016x}", rand::random::<u64>()));
        std::fs::create_dir_all(&root).map_err(io_err("creating the context directory"))?;
        let ctx = BuildContext { root };
        let input = crate::image::unpack::decompress(body)
            .map_err(|e| ContextError::Invalid(format!("failed to read build context: {e}")))?;
        let mut archive = tar::Archive::new(EndPadded::new(input));
        archive.set_preserve_permissions(true);
        archive.set_preserve_mtime(true);
        archive.set_overwrite(true);
        let entries = archive
            .entries()
            .map_err(|e| ContextError::Invalid(format!("failed to read build context: {e}")))?;
        for entry in entries {
            let mut entry = entry
                .map_err(|e| ContextError::Invalid(format!("failed to read build context: {e}")))?;
            let kind = entry.header().entry_type();
            // Devices and fifos have no place in a context; dockerd skips them too.
            if !(kind.is_file() || kind.is_dir() || kind.is_symlink() || kind.is_hard_link()) {
                continue;
            }
            // `unpack_in` refuses names with `..` and writes through no symlink out of root.
            entry
                .unpack_in(&ctx.root)
                .map_err(|e| ContextError::Invalid(format!("failed to read build context: {e}")))?;
        }
        Ok(ctx)
    }

    #[cfg(test)]
    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn tree(&self) -> SourceTree {
        SourceTree {
            root: self.root.clone(),
            scoped: false,
        }
    }

    /// The Dockerfile named by the request (`Dockerfile` by default, then `dockerfile` as
    /// dockerd falls back to).
    pub fn read_dockerfile(&self, name: &str) -> Result<(String, String), ContextError> {
        let candidates: Vec<&str> = if name.is_empty() || name == "Dockerfile" {
            vec!["Dockerfile", "dockerfile"]
        } else {
            vec![name]
        };
        let shown = if name.is_empty() { "Dockerfile" } else { name };
        let tree = self.tree();
        for c in candidates {
            let Ok(path) = tree.resolve(c) else {
                continue;
            };
            if path.is_file() {
                let text =
                    std::fs::read_to_string(&path).map_err(io_err(format!("reading {shown}")))?;
                return Ok((c.to_string(), text));
            }
        }
        Err(ContextError::NotFound(format!(
            "Cannot locate specified Dockerfile: {shown}"
        )))
    }

    /// Applies `.dockerignore` to the context. The CLI already filtered what it sent (except the
    /// Dockerfile and `.dockerignore`, which it always sends); dockerd then removes those two when
    /// they are excluded. Applying the whole file here gives the same result for the CLI and
    /// the right one for clients that send everything.
    pub fn apply_dockerignore(&self) -> Result<(), ContextError> {
        let path = self.root.join(".dockerignore");
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(io_err("reading .dockerignore")(e)),
        };
        let ig = Ignore::parse(&text)
            .map_err(|e| ContextError::Invalid(format!("failed to parse .dockerignore: {e}")))?;
        if ig.is_empty() {
            return Ok(());
        }
        remove_ignored(&self.root, "", &ig)
    }
}

/// Removes what `ig` excludes below `dir` (named `rel` in the context).
fn remove_ignored(dir: &Path, rel: &str, ig: &Ignore) -> Result<(), ContextError> {
    let mut names: Vec<_> = std::fs::read_dir(dir)
        .map_err(io_err(format!("reading {rel}")))?
        .filter_map(|e| e.ok().map(|e| e.file_name()))
        .collect();
    names.sort();
    for name in names {
        let name = name.to_string_lossy().into_owned();
        let child_rel = if rel.is_empty() {
            name.clone()
        } else {
            format!("{rel}/{name}")
        };
        let path = dir.join(&name);
        let meta = std::fs::symlink_metadata(&path).map_err(io_err(child_rel.clone()))?;
        let excluded = ig.matches(&child_rel);
        if meta.is_dir() {
            if excluded && !ig.has_exclusions() {
                std::fs::remove_dir_all(&path).map_err(io_err(child_rel.clone()))?;
                continue;
            }
            remove_ignored(&path, &child_rel, ig)?;
            // An excluded directory stays only for what a `!` pattern brought back into it.
            if excluded
                && std::fs::read_dir(&path)
                    .map(|mut d| d.next().is_none())
                    .unwrap_or(false)
            {
                std::fs::remove_dir(&path).map_err(io_err(child_rel.clone()))?;
            }
        } else if excluded {
            std::fs::remove_file(&path).map_err(io_err(child_rel.clone()))?;
        }
    }
    Ok(())
}

/// A directory tree sources are taken from: the context (escapes refused) or an image's
/// filesystem for `COPY --from` (resolved as if it were `/`, like a container sees it).
#[derive(Clone, Debug)]
pub struct SourceTree {
    pub root: PathBuf,
    pub scoped: bool,
}

/// Linux's limit on symlinks followed in one path.
const MAX_SYMLINKS: usize = 40;

fn outside(src: &str) -> ContextError {
    ContextError::Refused(format!(
        "forbidden path outside the build context: {src} ()"
    ))
}

impl SourceTree {
    /// The host path of `rel` (relative to the tree, or absolute meaning its root) with every
    /// symlink on the way followed inside the tree.
    pub fn resolve(&self, rel: &str) -> Result<PathBuf, ContextError> {
        let mut pending: Vec<String> = components(rel, self.scoped).ok_or_else(|| outside(rel))?;
        pending.reverse();
        let mut done: Vec<String> = Vec::new();
        let mut links = 0;
        while let Some(part) = pending.pop() {
            if part == ".." {
                if done.pop().is_none() && !self.scoped {
                    return Err(outside(rel));
                }
                continue;
            }
            let mut host = self.root.clone();
            host.extend(&done);
            host.push(&part);
            match std::fs::symlink_metadata(&host) {
                Ok(m) if m.file_type().is_symlink() => {
                    links += 1;
                    if links > MAX_SYMLINKS {
                        return Err(ContextError::Invalid(format!(
                            "too many levels of symbolic links: {rel}"
                        )));
                    }
                    let target = std::fs::read_link(&host).map_err(io_err(rel))?;
                    let target = target.to_string_lossy().into_owned();
                    if target.starts_with('/') {
                        if !self.scoped {
                            return Err(outside(rel));
                        }
                        done.clear();
                    }
                    let mut parts = components(&target, true).ok_or_else(|| outside(rel))?;
                    parts.reverse();
                    pending.extend(parts);
                }
                _ => done.push(part),
            }
        }
        let mut host = self.root.clone();
        host.extend(&done);
        Ok(host)
    }

    /// The sources a `COPY` source names: itself, or every path its wildcards match (Go's
    /// `filepath.Match` on paths relative to the tree), sorted.
    pub fn expand(&self, src: &str) -> Result<Vec<(String, PathBuf)>, ContextError> {
        let cleaned = ignore::clean(src.trim_start_matches('/'));
        if cleaned == ".." || cleaned.starts_with("../") {
            return Err(outside(src));
        }
        if !src.contains(['*', '?', '[']) {
            let path = self.resolve(&cleaned)?;
            if std::fs::symlink_metadata(&path).is_err() {
                return Err(ContextError::NotFound(format!(
                    "file not found in build context or excluded by .dockerignore: stat {cleaned}: file does not exist"
                )));
            }
            return Ok(vec![(cleaned, path)]);
        }
        let re = ignore::glob_regex(&cleaned)
            .map_err(|e| ContextError::Invalid(format!("{src}: {e}")))?;
        let mut found = Vec::new();
        self.walk_matching(&self.root.clone(), "", &re, &mut found)?;
        found.sort();
        let mut out = Vec::new();
        for rel in found {
            out.push((rel.clone(), self.resolve(&rel)?));
        }
        Ok(out)
    }

    fn walk_matching(
        &self,
        dir: &Path,
        rel: &str,
        re: &regex::Regex,
        found: &mut Vec<String>,
    ) -> Result<(), ContextError> {
        let entries = std::fs::read_dir(dir).map_err(io_err(format!("reading {rel}")))?;
        for e in entries {
            let e = e.map_err(io_err(format!("reading {rel}")))?;
            let name = e.file_name().to_string_lossy().into_owned();
            let child = if rel.is_empty() {
                name
            } else {
                format!("{rel}/{name}")
            };
            if re.is_match(&child) {
                found.push(child);
            } else if e.file_type().map(|t| t.is_dir()).unwrap_or(false) {
                self.walk_matching(&e.path(), &child, re, found)?;
            }
        }
        Ok(())
    }
}

/// Path components; `None` when the path is absolute and `allow_abs` is false... (absolute
/// paths name the tree's root, so they are allowed when asked for).
fn components(p: &str, allow_abs: bool) -> Option<Vec<String>> {
    let path = Path::new(p);
    let mut out = Vec::new();
    for c in path.components() {
        match c {
            Component::RootDir => {
                if !allow_abs {
                    return None;
                }
            }
            Component::CurDir | Component::Prefix(_) => {}
            Component::ParentDir => out.push("..".to_string()),
            Component::Normal(n) => out.push(n.to_string_lossy().into_owned()),
        }
    }
    Some(out)
}

/// One object to copy: its name under the destination and where it is.
#[derive(Debug)]
pub struct CopyEntry {
    /// `/`-separated name relative to the extraction directory.
    pub name: String,
    pub path: PathBuf,
    pub meta: std::fs::Metadata,
}

/// The objects below a source directory, parents before children, names sorted.
pub fn walk_dir(dir: &Path, prefix: &str, out: &mut Vec<CopyEntry>) -> Result<(), ContextError> {
    let mut names: Vec<_> = std::fs::read_dir(dir)
        .map_err(io_err(format!("reading {prefix}")))?
        .filter_map(|e| e.ok().map(|e| e.file_name()))
        .collect();
    names.sort();
    for n in names {
        let n = n.to_string_lossy().into_owned();
        let name = if prefix.is_empty() {
            n.clone()
        } else {
            format!("{prefix}/{n}")
        };
        let path = dir.join(&n);
        let meta = std::fs::symlink_metadata(&path).map_err(io_err(name.clone()))?;
        let is_dir = meta.is_dir();
        out.push(CopyEntry {
            name: name.clone(),
            path: path.clone(),
            meta,
        });
        if is_dir {
            walk_dir(&path, &name, out)?;
        }
    }
    Ok(())
}

/// How copied files are owned and moded (`--chown`, `--chmod`; root and the source's mode
/// otherwise).
#[derive(Clone, Copy, Debug, Default)]
pub struct CopyAttrs {
    pub uid: u32,
    pub gid: u32,
    pub mode: Option<u32>,
}

/// Feeds the checksum of entries' names, types, modes, owners, sizes, link targets and content
/// (not their times, as dockerd's tarsum) into `h`.
pub fn hash_entries(
    entries: &[CopyEntry],
    attrs: CopyAttrs,
    h: &mut sha2::Sha256,
) -> Result<(), ContextError> {
    use sha2::Digest;
    for e in entries {
        let ft = e.meta.file_type();
        let mode = attrs.mode.unwrap_or(e.meta.permissions().mode() & 0o7777);
        let kind = if ft.is_dir() {
            'd'
        } else if ft.is_symlink() {
            'l'
        } else {
            'f'
        };
        h.update(format!(
            "{}\0{kind}\0{mode:o}\0{}:{}\0{}\0",
            e.name,
            attrs.uid,
            attrs.gid,
            if ft.is_file() { e.meta.size() } else { 0 }
        ));
        if ft.is_symlink() {
            let t = std::fs::read_link(&e.path).map_err(io_err(e.name.clone()))?;
            h.update(t.to_string_lossy().as_bytes());
        } else if ft.is_file() {
            let mut f = std::fs::File::open(&e.path).map_err(io_err(e.name.clone()))?;
            let mut buf = vec![0u8; 64 * 1024];
            loop {
                let n = f.read(&mut buf).map_err(io_err(e.name.clone()))?;
                if n == 0 {
                    break;
                }
                h.update(&buf[..n]);
            }
        }
        h.update(b"\n");
    }
    Ok(())
}

/// Writes entries as a tar (owners and modes from `attrs`, times kept) for the extractor.
pub fn write_tar<W: std::io::Write>(
    entries: &[CopyEntry],
    attrs: CopyAttrs,
    w: W,
) -> std::io::Result<W> {
    let mut b = tar::Builder::new(w);
    b.follow_symlinks(false);
    for e in entries {
        let ft = e.meta.file_type();
        let mut h = tar::Header::new_gnu();
        h.set_uid(attrs.uid as u64);
        h.set_gid(attrs.gid as u64);
        h.set_mode(attrs.mode.unwrap_or(e.meta.permissions().mode() & 0o7777));
        h.set_mtime(e.meta.mtime().max(0) as u64);
        if ft.is_dir() {
            h.set_entry_type(tar::EntryType::Directory);
            h.set_size(0);
            b.append_data(&mut h, format!("{}/", e.name), std::io::empty())?;
        } else if ft.is_symlink() {
            h.set_entry_type(tar::EntryType::Symlink);
            h.set_size(0);
            let target = std::fs::read_link(&e.path)?;
            b.append_link(&mut h, &e.name, target)?;
        } else if ft.is_file() {
            h.set_entry_type(tar::EntryType::Regular);
            let f = std::fs::File::open(&e.path)?;
            let size = e.meta.size();
            h.set_size(size);
            b.append_data(&mut h, &e.name, f.take(size))?;
        }
    }
    b.into_inner()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    fn tree() -> (tempfile::TempDir, SourceTree) {
        let d = tempfile::tempdir().unwrap();
        let r = d.path();
        std::fs::create_dir_all(r.join("src/sub")).unwrap();
        std::fs::write(r.join("src/a.txt"), "a").unwrap();
        std::fs::write(r.join("src/sub/b.txt"), "b").unwrap();
        std::fs::write(r.join("top.txt"), "t").unwrap();
        symlink("src/a.txt", r.join("inside")).unwrap();
        symlink("../../etc/passwd", r.join("src/escape")).unwrap();
        symlink("/etc/passwd", r.join("abs")).unwrap();
        let t = SourceTree {
            root: r.to_path_buf(),
            scoped: false,
        };
        (d, t)
    }

    #[test]
    fn sources_stay_inside() {
        let (d, t) = tree();
        assert_eq!(t.resolve("inside").unwrap(), d.path().join("src/a.txt"));
        assert_eq!(
            t.resolve("src/sub/../a.txt").unwrap(),
            d.path().join("src/a.txt")
        );
        for bad in ["../x", "src/../../x", "src/escape", "abs"] {
            let err = t.expand(bad).unwrap_err().to_string();
            assert!(
                err.starts_with("forbidden path outside the build context"),
                "{bad}: {err}"
            );
        }
        let err = t.expand("nope.txt").unwrap_err().to_string();
        assert!(err.contains("file not found in build context"), "{err}");
    }

    #[test]
    fn scoped_tree_clamps_instead() {
        let (d, t) = tree();
        let scoped = SourceTree {
            root: t.root.clone(),
            scoped: true,
        };
        assert_eq!(scoped.resolve("abs").unwrap(), d.path().join("etc/passwd"));
        assert_eq!(
            scoped.resolve("../../top.txt").unwrap(),
            d.path().join("top.txt")
        );
    }

    #[test]
    fn wildcards() {
        let (_d, t) = tree();
        let names: Vec<String> = t
            .expand("*.txt")
            .unwrap()
            .into_iter()
            .map(|x| x.0)
            .collect();
        assert_eq!(names, ["top.txt"]);
        let names: Vec<String> = t
            .expand("src/*.txt")
            .unwrap()
            .into_iter()
            .map(|x| x.0)
            .collect();
        assert_eq!(names, ["src/a.txt"]);
        assert!(t.expand("*.none").unwrap().is_empty());
    }

    #[test]
    fn checksum_sees_content_and_mode_not_time() {
        let (d, _t) = tree();
        let sum = |p: &Path| {
            use sha2::Digest;
            let mut v = Vec::new();
            walk_dir(p, "", &mut v).unwrap();
            let mut h = sha2::Sha256::new();
            hash_entries(&v, CopyAttrs::default(), &mut h).unwrap();
            hex::encode(h.finalize())
        };
        let src = d.path().join("src");
        let first = sum(&src);
        let f = std::fs::File::options()
            .append(true)
            .open(src.join("a.txt"))
            .unwrap();
        f.set_modified(std::time::SystemTime::UNIX_EPOCH).unwrap();
        drop(f);
        assert_eq!(sum(&src), first, "mtime alone changes nothing");
        std::fs::write(src.join("a.txt"), "changed").unwrap();
        let second = sum(&src);
        assert_ne!(second, first);
        std::fs::set_permissions(src.join("a.txt"), std::fs::Permissions::from_mode(0o600))
            .unwrap();
        assert_ne!(sum(&src), second);
    }

    #[test]
    fn dockerignore_removes_and_keeps_exceptions() {
        let d = tempfile::tempdir().unwrap();
        let ctx = BuildContext {
            root: d.path().join("ctx"),
        };
        let r = ctx.root().to_path_buf();
        std::fs::create_dir_all(r.join("logs/keep")).unwrap();
        std::fs::write(r.join("logs/a.log"), "").unwrap();
        std::fs::write(r.join("logs/keep/important.log"), "").unwrap();
        std::fs::write(r.join("app.py"), "").unwrap();
        std::fs::write(r.join("Dockerfile"), "FROM x").unwrap();
        std::fs::write(r.join(".dockerignore"), "logs\n!logs/keep\nDockerfile\n").unwrap();
        ctx.apply_dockerignore().unwrap();
        assert!(r.join("app.py").exists());
        assert!(!r.join("logs/a.log").exists());
        assert!(r.join("logs/keep/important.log").exists());
        assert!(!r.join("Dockerfile").exists());
    }

    #[test]
    fn receive_unpacks_bzip2_xz_and_zstd_tars_and_refuses_a_broken_one() {
        use std::io::Write;
        let mut b = tar::Builder::new(Vec::new());
        let mut h = tar::Header::new_gnu();
        h.set_size(4);
        h.set_mode(0o644);
        b.append_data(&mut h, "dir/file", &b"data"[..]).unwrap();
        let tar = b.into_inner().unwrap();
        let mut bz = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::fast());
        bz.write_all(&tar).unwrap();
        let mut xz = liblzma::write::XzEncoder::new(Vec::new(), 1);
        xz.write_all(&tar).unwrap();
        let zst = zstd::encode_all(std::io::Cursor::new(&tar), 1).unwrap();
        let d = tempfile::tempdir().unwrap();
        for blob in [bz.finish().unwrap(), xz.finish().unwrap(), zst] {
            let ctx = BuildContext::receive(std::io::Cursor::new(blob), d.path()).unwrap();
            assert_eq!(std::fs::read(ctx.root().join("dir/file")).unwrap(), b"data");
        }
        let err = BuildContext::receive(
            std::io::Cursor::new(b"BZh91AY&SYgarbage".to_vec()),
            d.path(),
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("failed to read build context"), "{err}");
        assert_eq!(
            std::fs::read_dir(d.path()).unwrap().count(),
            0,
            "nothing left"
        );
    }

    #[test]
    fn receive_takes_a_tar_cut_before_its_padding() {
        let d = tempfile::tempdir().unwrap();
        let mut b = tar::Builder::new(Vec::new());
        let mut h = tar::Header::new_gnu();
        h.set_size(5);
        h.set_mode(0o644);
        b.append_data(&mut h, ".dockerfile.abc", &b"FROM "[..])
            .unwrap();
        let mut tar = b.into_inner().unwrap();
        // Header and data only: no padding, no end blocks (what the CLI's `-f -` sends).
        tar.truncate(512 + 5);
        let ctx = BuildContext::receive(std::io::Cursor::new(tar), d.path()).unwrap();
        assert_eq!(
            std::fs::read(ctx.root().join(".dockerfile.abc")).unwrap(),
            b"FROM "
        );
    }

    #[test]
    fn receive_unpacks_a_gzip_tar() {
        let d = tempfile::tempdir().unwrap();
        let mut b = tar::Builder::new(flate2::write::GzEncoder::new(
            Vec::new(),
            flate2::Compression::fast(),
        ));
        let mut h = tar::Header::new_gnu();
        h.set_size(4);
        h.set_mode(0o644);
        b.append_data(&mut h, "dir/file", &b"data"[..]).unwrap();
        let gz = b.into_inner().unwrap().finish().unwrap();
        let ctx = BuildContext::receive(std::io::Cursor::new(gz), d.path()).unwrap();
        assert_eq!(std::fs::read(ctx.root().join("dir/file")).unwrap(), b"data");
        let root = ctx.root().to_path_buf();
        drop(ctx);
        assert!(!root.exists(), "the context goes with the build");
    }
}
