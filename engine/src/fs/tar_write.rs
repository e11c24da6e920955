//! Writing filesystem objects into a tar stream the way go-archive does (`docker cp` out,
//! `export`, `diff`-based commits).

use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::os::fd::OwnedFd;

use std::os::unix::ffi::OsStrExt;

use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::sys::stat::FileStat;

use super::fd::{reopen_dir, sorted_names};
use super::rootpath::{self, is_dir, lookup_at, ContainerFs, DirHandle};
use super::{errno_io, xattr};

/// Writes filesystem objects into a tar stream the way go-archive does: GNU long names, owners
/// and modes as on disk, mtimes in whole seconds, hardlinks detected by inode, xattrs as PAX.
pub struct Archiver<W: Write> {
    tar: tar::Builder<W>,
    links: HashMap<(u64, u64), Vec<u8>>,
}

fn tar_kind(st: &FileStat) -> Option<tar::EntryType> {
    Some(match st.st_mode & libc::S_IFMT {
        libc::S_IFDIR => tar::EntryType::Directory,
        libc::S_IFREG => tar::EntryType::Regular,
        libc::S_IFLNK => tar::EntryType::Symlink,
        libc::S_IFCHR => tar::EntryType::Char,
        libc::S_IFBLK => tar::EntryType::Block,
        libc::S_IFIFO => tar::EntryType::Fifo,
        // Sockets cannot be archived (Go's tar refuses them too).
        _ => return None,
    })
}

fn long_name_entry<W: Write>(tar: &mut tar::Builder<W>, kind: u8, data: &[u8]) -> io::Result<()> {
    let mut h = tar::Header::new_gnu();
    h.as_old_mut().name[..13].copy_from_slice(b"././@LongLink");
    h.set_mode(0o644);
    h.set_uid(0);
    h.set_gid(0);
    h.set_mtime(0);
    h.set_size(data.len() as u64 + 1);
    h.set_entry_type(tar::EntryType::new(kind));
    h.set_cksum();
    tar.append(&h, data.chain(&[0u8][..]))
}

impl<W: Write> Archiver<W> {
    pub fn new(w: W) -> Self {
        Archiver {
            tar: tar::Builder::new(w),
            links: HashMap::new(),
        }
    }

    pub fn finish(self) -> io::Result<W> {
        self.tar.into_inner()
    }

    /// Writes one header with a name of any length (and an optional link target), then `data`.
    /// Names are written byte for byte: `./x` and `/x` mean something to the CLI's rebasing.
    pub fn append_raw(
        &mut self,
        mut h: tar::Header,
        name: &[u8],
        link: Option<&[u8]>,
        data: impl Read,
    ) -> io::Result<()> {
        if name.len() > 100 {
            long_name_entry(&mut self.tar, b'L', name)?;
        }
        let n = name.len().min(100);
        h.as_old_mut().name = [0; 100];
        h.as_old_mut().name[..n].copy_from_slice(&name[..n]);
        if let Some(link) = link {
            if link.len() > 100 {
                long_name_entry(&mut self.tar, b'K', link)?;
            }
            let n = link.len().min(100);
            h.as_old_mut().linkname = [0; 100];
            h.as_old_mut().linkname[..n].copy_from_slice(&link[..n]);
        }
        h.set_cksum();
        self.tar.append(&h, data)
    }

    fn header(st: &FileStat, kind: tar::EntryType) -> tar::Header {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(kind);
        h.set_mode(st.st_mode & 0o7777);
        h.set_uid(st.st_uid as u64);
        h.set_gid(st.st_gid as u64);
        h.set_mtime(st.st_mtime.max(0) as u64);
        h.set_size(0);
        if matches!(kind, tar::EntryType::Char | tar::EntryType::Block) {
            let _ = h.set_device_major(libc::major(st.st_rdev));
            let _ = h.set_device_minor(libc::minor(st.st_rdev));
        }
        h
    }

    /// An empty regular file entry (whiteout markers of a layer).
    pub fn append_marker(&mut self, name: &[u8], st: &FileStat) -> io::Result<()> {
        let mut h = Self::header(st, tar::EntryType::Regular);
        h.set_mode(0o600);
        self.append_raw(h, name, None, io::empty())
    }

    /// Appends one object (not recursing) given an `O_PATH` fd of it and its stat. Regular file
    /// contents are read through a fresh read-only open of that very inode.
    pub fn append_node(&mut self, name: &[u8], fd: &OwnedFd, st: &FileStat) -> io::Result<()> {
        let Some(kind) = tar_kind(st) else {
            tracing::debug!(name = %String::from_utf8_lossy(name), "skipping socket");
            return Ok(());
        };
        let mut name = name.to_vec();
        if kind == tar::EntryType::Directory && !name.ends_with(b"/") {
            name.push(b'/');
        }
        if kind != tar::EntryType::Symlink {
            let xattrs = xattr::read_fd(fd);
            if !xattrs.is_empty() {
                let keys: Vec<(String, &[u8])> = xattrs
                    .iter()
                    .map(|(k, v)| (format!("SCHILY.xattr.{k}"), v.as_slice()))
                    .collect();
                self.tar
                    .append_pax_extensions(keys.iter().map(|(k, v)| (k.as_str(), *v)))?;
            }
        }
        let mut h = Self::header(st, kind);
        match kind {
            tar::EntryType::Regular => {
                if st.st_nlink > 1 {
                    let key = (st.st_dev, st.st_ino);
                    if let Some(first) = self.links.get(&key).cloned() {
                        h.set_entry_type(tar::EntryType::Link);
                        return self.append_raw(h, &name, Some(&first), io::empty());
                    }
                    self.links.insert(key, name.clone());
                }
                // (No O_NOFOLLOW: the magic link itself is a symlink; it names a regular file.)
                let file = rootpath::reopen(fd, OFlag::O_RDONLY)?;
                let file = std::fs::File::from(file);
                let size = st.st_size.max(0) as u64;
                h.set_size(size);
                // A running container may change the file while we read: the header's size
                // rules, padding with zeros when it shrank.
                let data = file.take(size).chain(io::repeat(0)).take(size);
                self.append_raw(h, &name, None, data)
            }
            tar::EntryType::Symlink => {
                let target = nix::fcntl::readlinkat(fd, "").map_err(errno_io)?;
                self.append_raw(h, &name, Some(target.as_bytes()), io::empty())
            }
            _ => self.append_raw(h, &name, None, io::empty()),
        }
    }

    /// Appends a directory and everything below it. `fs` switches into bind mounts on the way
    /// (None walks the plain tree, as `export` does).
    pub fn append_tree(
        &mut self,
        fs: Option<&ContainerFs>,
        dir: &DirHandle,
        name: &[u8],
    ) -> io::Result<()> {
        let st = nix::sys::stat::fstat(dir.fd.as_ref()).map_err(errno_io)?;
        let pfd = rootpath::reopen(dir.fd.as_ref(), OFlag::O_PATH)?;
        self.append_node(name, &pfd, &st)?;
        self.append_children(fs, dir, name)
    }

    /// Appends what is below a directory, named under `prefix` (bare names when it is empty).
    pub fn append_children(
        &mut self,
        fs: Option<&ContainerFs>,
        dir: &DirHandle,
        name: &[u8],
    ) -> io::Result<()> {
        for child in sorted_names(dir.fd.as_ref())? {
            let mut child_name = name.to_vec();
            if !child_name.is_empty() && !child_name.ends_with(b"/") {
                child_name.push(b'/');
            }
            child_name.extend_from_slice(child.as_bytes());
            let looked = match fs {
                Some(fs) => fs.child(dir, &child),
                None => lookup_at(dir.fd.as_ref(), &child).map(|(fd, st)| (fd, st, None)),
            };
            let (fd, st, mount) = match looked {
                Ok(x) => x,
                // Removed by the running container since we listed it.
                Err(Errno::ENOENT) => continue,
                Err(e) => return Err(errno_io(e)),
            };
            if is_dir(&st) {
                let sub = match fs {
                    Some(fs) => fs.enter(dir, &child, fd, mount),
                    None => reopen_dir(dir, &child, fd),
                }
                .map_err(errno_io)?;
                self.append_tree(fs, &sub, &child_name)?;
            } else {
                self.append_node(&child_name, &fd, &st)?;
            }
        }
        Ok(())
    }
}
