//! A container's mounts, dockerd's way: `HostConfig.VolumesFrom`, `Binds` (`-v`), `Mounts`
//! (`--mount`), the image's and `-v /path`'s `Config.Volumes` (anonymous volumes) and
//! `HostConfig.Tmpfs`. At create they are parsed, validated and resolved into [`MountRecord`]s kept
//! in the container record (volumes created and referenced then); at start they become OCI mounts,
//! with copy-up of the image's content into a new volume; at exit volumes are released, at removal
//! anonymous ones go with `-v`.

mod parse;
mod setup;

use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MountKind {
    Volume,
    Bind,
    Tmpfs,
}

impl MountKind {
    fn as_str(self) -> &'static str {
        match self {
            MountKind::Volume => "volume",
            MountKind::Bind => "bind",
            MountKind::Tmpfs => "tmpfs",
        }
    }
}

/// One resolved mount point of a container (dockerd's `MountPoint` in `config.v2.json`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MountRecord {
    pub kind: MountKind,
    /// The volume's name (volumes only).
    #[serde(default)]
    pub name: String,
    /// The host path (binds only; a volume's comes from the volume service).
    #[serde(default)]
    pub source: String,
    pub destination: String,
    #[serde(default)]
    pub driver: String,
    /// The mode as `inspect` shows it: `-v`'s third field, `z` for local volumes without one.
    #[serde(default)]
    pub mode: String,
    pub rw: bool,
    #[serde(default)]
    pub propagation: String,
    /// The spec named its volume (`-v name:/x`): `rm -v` and `--rm` keep it.
    #[serde(default)]
    pub named: bool,
    /// Copy the image's content into the volume at the first start (unless it holds data).
    #[serde(default)]
    pub copy_data: bool,
    /// A missing bind source is created (`-v`) rather than refused (`--mount`).
    #[serde(default)]
    pub create_source: bool,
    #[serde(default)]
    pub non_recursive: bool,
    /// tmpfs mount data, `size=64m,mode=1777`.
    #[serde(default)]
    pub tmpfs_data: String,
    /// A volume mount of a directory (or file) inside the volume (`VolumeOptions.Subpath`).
    #[serde(default)]
    pub subpath: String,
}

impl MountRecord {
    fn new(kind: MountKind, destination: String) -> Self {
        MountRecord {
            kind,
            name: String::new(),
            source: String::new(),
            destination,
            driver: String::new(),
            mode: String::new(),
            rw: true,
            propagation: String::new(),
            named: false,
            copy_data: false,
            create_source: false,
            non_recursive: false,
            tmpfs_data: String::new(),
            subpath: String::new(),
        }
    }
}

/// The `docker ps --filter volume=` test: a volume name, a bind source or a destination.
pub fn mounts_match(mounts: &[MountRecord], wanted: &[String]) -> bool {
    mounts.iter().any(|m| {
        let key = if m.name.is_empty() {
            &m.source
        } else {
            &m.name
        };
        wanted.iter().any(|w| *w == m.destination || w == key)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ps_volume_filter() {
        let mut v = MountRecord::new(MountKind::Volume, "/data".into());
        v.name = "db".into();
        let mut b = MountRecord::new(MountKind::Bind, "/src".into());
        b.source = "/home/me".into();
        let ms = [v, b];
        assert!(mounts_match(&ms, &["db".into()]));
        assert!(mounts_match(&ms, &["/src".into()]));
        assert!(mounts_match(&ms, &["/home/me".into()]));
        assert!(!mounts_match(&ms, &["other".into()]));
    }
}
