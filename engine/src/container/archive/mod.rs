//! `docker cp`: stat, tar and untar paths of a container's filesystem (running or stopped).
//!
//! Everything goes through [`ContainerFs`], which resolves paths as if chrooted into the container
//! and switches into bind mount sources. Reading walks directory fds with `O_NOFOLLOW` opens;
//! writing creates every entry relative to an fd of its resolved parent, so neither a `..` in a
//! tar entry nor a symlink planted by the container can reach outside its root.
//!
//! Semantics follow dockerd's (moby `daemon/archive_unix.go` and go-archive): the archive of a
//! path is rebased on the path's base name; extraction refuses entries and symlinks that leave
//! the destination, keeps the archive's owners unless `copyUIDGID` asks for the container user,
//! and with `noOverwriteDirNonDir` refuses to swap a directory for a file or back.

mod session;
mod stat;

use std::io::{self, Read, Write};
use std::path::Path;
use std::sync::Arc;

use bytes::Bytes;
use tokio::sync::mpsc;

use super::{Container, ContainerService};
use crate::error::{EngineError, Result};
use crate::fs::channel::ChannelWriter;
use crate::fs::extract::{check_writable, extract, ExtractOptions};
use crate::fs::rootpath::{Resolved, Target};
use crate::image::unpack;
pub use session::all_mount_destinations;
pub(crate) use session::read_small_file;
use stat::{not_found, request_path, resolve_error};
pub use stat::{stat_path, write_path_tar, PathStat};

impl ContainerService {
    /// `HEAD /containers/{id}/archive`.
    pub async fn stat_path(&self, c: &Arc<Container>, name: &str, path: &str) -> Result<PathStat> {
        let _op = c.op.lock().await;
        let session = self.open_fs(c, true).await?;
        let (path, name) = (path.to_string(), name.to_string());
        tokio::task::spawn_blocking(move || stat_path(&session.fs, &path, &name).map(|(s, _)| s))
            .await
            .map_err(|e| EngineError::internal(format!("stat task: {e}")))?
    }

    /// `GET /containers/{id}/archive`: the stat at once, the tar as a stream. The container
    /// stays locked (and a stopped one mounted) until the stream ends.
    pub async fn archive_path(
        self: &Arc<Self>,
        c: &Arc<Container>,
        name: &str,
        path: &str,
    ) -> Result<(PathStat, mpsc::Receiver<io::Result<Bytes>>)> {
        let (ready_tx, ready_rx) = tokio::sync::oneshot::channel::<Result<PathStat>>();
        let (tx, rx) = mpsc::channel(8);
        let (svc, c2) = (Arc::clone(self), Arc::clone(c));
        let shown = path.to_string();
        let (path, name) = (path.to_string(), name.to_string());
        tokio::spawn(async move {
            let _op = c2.op.lock().await;
            let session = match svc.open_fs(&c2, true).await {
                Ok(s) => s,
                Err(e) => {
                    let _ = ready_tx.send(Err(e));
                    return;
                }
            };
            let job = tokio::task::spawn_blocking(move || {
                let resolved = match stat_path(&session.fs, &path, &name) {
                    Ok((stat, r)) => {
                        let _ = ready_tx.send(Ok(stat));
                        r
                    }
                    Err(e) => {
                        let _ = ready_tx.send(Err(e));
                        return;
                    }
                };
                let out = ChannelWriter::new(tx.clone());
                match write_path_tar(&session.fs, &resolved, &path, out) {
                    Ok(mut w) => {
                        let _ = w.flush();
                    }
                    Err(e) => {
                        tracing::warn!(path, error = %e, "archive of a container path cut short");
                        ChannelWriter::new(tx).fail(e);
                    }
                }
            });
            let _ = job.await;
        });
        let stat = ready_rx
            .await
            .map_err(|_| EngineError::internal("archive task ended early"))??;
        self.emit(c, "archive-path", &[("path", shown)]);
        Ok((stat, rx))
    }

    /// `PUT /containers/{id}/archive`: extracts a (plain or gzip) tar into a directory.
    pub async fn extract_to_dir(
        &self,
        c: &Arc<Container>,
        name: &str,
        path: &str,
        copy_uid_gid: bool,
        no_overwrite_dir_non_dir: bool,
        body: Box<dyn Read + Send>,
    ) -> Result<()> {
        let _op = c.op.lock().await;
        let session = self.open_fs(c, true).await?;
        let (user, readonly_rootfs) = {
            let d = c.lock();
            (d.rec.config.user.clone(), d.rec.host_config.readonly_rootfs)
        };
        // With -a, dockerd gives the files to the container's user when it has one.
        let owner = if copy_uid_gid && !user.is_empty() {
            let passwd = read_small_file(&session.fs, "/etc/passwd");
            let group = read_small_file(&session.fs, "/etc/group");
            let u = super::user::resolve_in(&passwd, &group, &user)?;
            Some((u.uid, u.gid))
        } else {
            None
        };
        let shown = path.to_string();
        let (path, name) = (path.to_string(), name.to_string());
        tokio::task::spawn_blocking(move || -> Result<()> {
            let fs = &session.fs;
            let abs = request_path(&path);
            // The destination is followed to the end: extracting "into a symlink to a dir" works.
            let r = fs
                .resolve(Path::new(&abs), true)
                .map_err(|e| resolve_error(e, &path, &name))?;
            let Resolved {
                mut parents,
                target,
            } = r;
            let dir = match target {
                Target::Dir(d) => d,
                Target::Node { .. } => {
                    return Err(EngineError::invalid("extraction point is not a directory"))
                }
                Target::Missing { .. } => return Err(not_found(&path, &name)),
            };
            check_writable(fs, dir.mount, readonly_rootfs)?;
            parents.push(dir);
            let input = unpack::decompress(body)
                .map_err(|e| EngineError::invalid(format!("reading archive: {e}")))?;
            extract(
                fs,
                parents,
                readonly_rootfs,
                input,
                ExtractOptions {
                    no_overwrite_dir_non_dir,
                    owner,
                },
            )?;
            Ok(())
        })
        .await
        .map_err(|e| EngineError::internal(format!("extract task: {e}")))??;
        self.emit(c, "extract-to-dir", &[("path", shown)]);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fs::extract::ExtractError;
    use crate::fs::rootpath::{self, ContainerFs};
    use std::os::unix::fs::{symlink, MetadataExt, PermissionsExt};
    use std::path::PathBuf;

    fn fs_of(root: &Path) -> ContainerFs {
        ContainerFs::open(rootpath::open_host_dir(root).unwrap(), vec![]).unwrap()
    }

    fn raw_tar(entries: &[(&str, tar::EntryType, &[u8], Option<&str>)]) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        for (name, kind, data, link) in entries {
            let mut h = tar::Header::new_gnu();
            h.set_entry_type(*kind);
            h.set_mode(0o644);
            h.set_uid(0);
            h.set_gid(0);
            h.set_size(data.len() as u64);
            h.set_mtime(1_600_000_000);
            h.as_old_mut().name[..name.len()].copy_from_slice(name.as_bytes());
            if let Some(l) = link {
                h.as_old_mut().linkname[..l.len()].copy_from_slice(l.as_bytes());
            }
            h.set_cksum();
            b.append(&h, *data).unwrap();
        }
        b.into_inner().unwrap()
    }

    fn extract_into(
        fs: &ContainerFs,
        dir: &str,
        tar: &[u8],
    ) -> std::result::Result<(), ExtractError> {
        let r = fs.resolve(Path::new(dir), true).unwrap();
        let Resolved {
            mut parents,
            target,
        } = r;
        let Target::Dir(d) = target else { panic!() };
        parents.push(d);
        extract(fs, parents, false, tar, ExtractOptions::default())
    }

    #[test]
    fn extraction_cannot_leave_the_root() {
        let t = tempfile::tempdir().unwrap();
        let root = t.path().join("root");
        std::fs::create_dir_all(root.join("dst")).unwrap();
        std::fs::create_dir_all(root.join("etc")).unwrap();
        symlink("/", root.join("dst/to-root")).unwrap();
        symlink("../../../..", root.join("dst/up")).unwrap();
        let fs = fs_of(&root);
        use tar::EntryType as E;
        // `..` out of the destination.
        let err = extract_into(
            &fs,
            "/dst",
            &raw_tar(&[("../../evil", E::Regular, b"x", None)]),
        )
        .unwrap_err();
        assert!(err.to_string().contains("outside of"), "{err}");
        // Through symlinks planted in the container: lands inside the root.
        extract_into(
            &fs,
            "/dst",
            &raw_tar(&[
                ("up/escaped-rel", E::Regular, b"1", None),
                ("to-root/escaped-abs", E::Regular, b"2", None),
            ]),
        )
        .unwrap();
        assert!(root.join("escaped-rel").exists());
        assert!(root.join("escaped-abs").exists());
        assert!(!t.path().join("escaped-rel").exists());
        // A symlink entry climbing out is refused; a hardlink to a host file is impossible.
        let err = extract_into(
            &fs,
            "/dst",
            &raw_tar(&[("l", E::Symlink, b"", Some("../../x"))]),
        )
        .unwrap_err();
        assert!(err.to_string().contains("invalid symlink"), "{err}");
        std::fs::write(t.path().join("host-secret"), "s").unwrap();
        let err = extract_into(
            &fs,
            "/dst",
            &raw_tar(&[("h", E::Link, b"", Some("../../host-secret"))]),
        )
        .unwrap_err();
        assert!(err.to_string().contains("invalid hardlink"), "{err}");
        let err = extract_into(
            &fs,
            "/dst",
            &raw_tar(&[("h", E::Link, b"", Some("up/host-secret"))]),
        )
        .unwrap_err();
        assert!(matches!(err, ExtractError::Io { .. }), "{err}");
        assert_eq!(
            std::fs::metadata(t.path().join("host-secret"))
                .unwrap()
                .nlink(),
            1
        );
        // A symlink entry then a file through it: still inside.
        extract_into(
            &fs,
            "/dst",
            &raw_tar(&[
                ("etc-link", E::Symlink, b"", Some("/etc")),
                ("etc-link/written", E::Regular, b"in", None),
            ]),
        )
        .unwrap();
        assert_eq!(std::fs::read(root.join("etc/written")).unwrap(), b"in");
    }

    #[test]
    fn extraction_replaces_and_refuses_like_dockerd() {
        let t = tempfile::tempdir().unwrap();
        let root = t.path().to_path_buf();
        std::fs::create_dir_all(root.join("d/sub")).unwrap();
        std::fs::write(root.join("d/sub/f"), "old").unwrap();
        let fs = fs_of(&root);
        use tar::EntryType as E;
        let tar = raw_tar(&[("sub", E::Regular, b"now a file", None)]);
        let r = fs.resolve(Path::new("/d"), true).unwrap();
        let Resolved {
            mut parents,
            target,
        } = r;
        let Target::Dir(d) = target else { panic!() };
        parents.push(d);
        let err = extract(
            &fs,
            parents.clone(),
            false,
            &tar[..],
            ExtractOptions {
                no_overwrite_dir_non_dir: true,
                owner: None,
            },
        )
        .unwrap_err();
        assert!(
            err.to_string().contains("cannot overwrite directory"),
            "{err}"
        );
        extract(&fs, parents, false, &tar[..], ExtractOptions::default()).unwrap();
        assert_eq!(std::fs::read(root.join("d/sub")).unwrap(), b"now a file");
    }

    #[test]
    fn tar_round_trip_keeps_modes_owners_links() {
        let t = tempfile::tempdir().unwrap();
        let src = t.path().join("src");
        std::fs::create_dir_all(src.join("dir/sub")).unwrap();
        std::fs::write(src.join("dir/sub/suid"), "x").unwrap();
        std::os::unix::fs::lchown(src.join("dir/sub/suid"), Some(1234), Some(5678)).unwrap();
        std::fs::set_permissions(
            src.join("dir/sub/suid"),
            std::fs::Permissions::from_mode(0o4755),
        )
        .unwrap();
        std::fs::set_permissions(src.join("dir/sub"), std::fs::Permissions::from_mode(0o750))
            .unwrap();
        symlink("sub/suid", src.join("dir/link")).unwrap();
        std::fs::hard_link(src.join("dir/sub/suid"), src.join("dir/hard")).unwrap();
        let long = "n".repeat(150);
        std::fs::write(src.join("dir").join(&long), "long").unwrap();
        let fs = fs_of(&src);
        let (stat, r) = stat_path(&fs, "/dir", "c").unwrap();
        assert_eq!(stat.name, "dir");
        assert_eq!(stat.mode & (1 << 31), 1 << 31);
        let tar = write_path_tar(&fs, &r, "/dir", Vec::new()).unwrap();
        let dst = t.path().join("dst");
        std::fs::create_dir_all(&dst).unwrap();
        let dfs = fs_of(&dst);
        extract_into(&dfs, "/", &tar).unwrap();
        let m = std::fs::symlink_metadata(dst.join("dir/sub/suid")).unwrap();
        assert_eq!(m.mode() & 0o7777, 0o4755);
        assert_eq!((m.uid(), m.gid()), (1234, 5678));
        assert_eq!(
            std::fs::metadata(dst.join("dir/sub")).unwrap().mode() & 0o7777,
            0o750
        );
        assert_eq!(
            std::fs::read_link(dst.join("dir/link")).unwrap(),
            PathBuf::from("sub/suid")
        );
        assert_eq!(
            std::fs::metadata(dst.join("dir/hard")).unwrap().ino(),
            m.ino()
        );
        assert_eq!(std::fs::read(dst.join("dir").join(&long)).unwrap(), b"long");
        // A missing path is Docker's 404.
        let err = stat_path(&fs, "/nope", "c").unwrap_err();
        assert_eq!(
            err.to_string(),
            "Could not find the file /nope in container c"
        );
    }
}
