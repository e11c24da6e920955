//! `--pid` and `--ipc` (with `--shm-size`, which sizes the IPC mode's /dev/shm): the modes as
//! dockerd parses and stores them at create, and the namespaces and /dev/shm they give at start.
//!
//! A container joins another's namespace by path (`/proc/PID/ns/…` of its init), as dockerd
//! does; `host` leaves the namespace out of the spec so the runtime keeps the host's.
//!
//! A shareable container's /dev/shm is a tmpfs berthd mounts on the host (in the container's
//! directory, as dockerd does) and binds in, so that a container joining its IPC namespace can
//! bind the same one: a mount inside another container's mount namespace cannot be bound.

use std::path::{Path, PathBuf};

use oci_spec::runtime::{LinuxNamespace, LinuxNamespaceType, Mount, Spec};

use anyhow::Context;
use nix::mount::MsFlags;

use super::{Container, ContainerData, ContainerService};
use crate::api::types::HostConfig;
use crate::error::{EngineError, Result};

/// dockerd's default `--shm-size` (its `default-shm-size`): 64 MiB.
pub const DEFAULT_SHM_SIZE: i64 = 64 << 20;

/// `HostConfig.PidMode`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PidMode {
    Private,
    Host,
    Container(String),
}

/// `HostConfig.IpcMode`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IpcMode {
    Private,
    /// Its own namespace, which others may join (`container:`).
    Shareable,
    /// Its own namespace without a /dev/shm.
    None,
    Host,
    Container(String),
}

/// moby's `PidMode.Valid`: only `""`, `host` and `container:NAME`.
pub fn parse_pid(mode: &str) -> Result<PidMode, String> {
    match mode {
        "" => Ok(PidMode::Private),
        "host" => Ok(PidMode::Host),
        m => match m.strip_prefix("container:") {
            Some(c) if !c.is_empty() => Ok(PidMode::Container(c.to_string())),
            _ => Err(format!("invalid PID mode: {mode}")),
        },
    }
}

/// moby's `IpcMode.Valid`. An empty mode is private: berthd gave every container before these
/// options its own namespace (dockerd's legacy empty mode would be shareable).
pub fn parse_ipc(mode: &str) -> Result<IpcMode, String> {
    match mode {
        "" | "private" => Ok(IpcMode::Private),
        "shareable" => Ok(IpcMode::Shareable),
        "none" => Ok(IpcMode::None),
        "host" => Ok(IpcMode::Host),
        m => match m.strip_prefix("container:") {
            Some(c) if !c.is_empty() => Ok(IpcMode::Container(c.to_string())),
            _ => Err(format!("invalid IPC mode: {mode}")),
        },
    }
}

/// A namespace of the spec: the container's own, the host's (left out), or one to join.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Join {
    Own,
    Host,
    Path(PathBuf),
}

/// What is mounted on /dev/shm.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Shm {
    /// A tmpfs of this many bytes.
    Tmpfs(i64),
    /// The host's /dev/shm, or the one of the container whose IPC namespace is joined.
    Bind(PathBuf),
    /// `--ipc none`.
    Absent,
}

/// The PID and IPC namespaces and the /dev/shm of a container about to start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamespacePlan {
    pub pid: Join,
    pub ipc: Join,
    pub shm: Shm,
}

impl Default for NamespacePlan {
    fn default() -> Self {
        NamespacePlan {
            pid: Join::Own,
            ipc: Join::Own,
            shm: Shm::Tmpfs(DEFAULT_SHM_SIZE),
        }
    }
}

/// Sets the plan's namespaces on a spec and its /dev/shm on the spec's default mounts (before
/// the user's mounts, which replace a default one at the same place).
pub fn apply(spec: &mut Spec, plan: &NamespacePlan) {
    if let Some(mounts) = spec.mounts_mut() {
        mounts.retain_mut(|m| {
            if m.destination() != Path::new("/dev/shm") {
                return true;
            }
            match &plan.shm {
                Shm::Tmpfs(size) => {
                    m.set_options(Some(vec![
                        "nosuid".into(),
                        "noexec".into(),
                        "nodev".into(),
                        "mode=1777".into(),
                        format!("size={size}"),
                    ]));
                    true
                }
                Shm::Bind(src) => {
                    *m = bind_shm(src);
                    true
                }
                Shm::Absent => false,
            }
        });
    }
    let Some(linux) = spec.linux_mut() else {
        return;
    };
    let mut namespaces = linux.namespaces().clone().unwrap_or_default();
    for (typ, join) in [
        (LinuxNamespaceType::Pid, &plan.pid),
        (LinuxNamespaceType::Ipc, &plan.ipc),
    ] {
        namespaces.retain(|n| n.typ() != typ);
        match join {
            Join::Host => {}
            Join::Own | Join::Path(_) => {
                let mut n = LinuxNamespace::default();
                n.set_typ(typ);
                if let Join::Path(p) = join {
                    n.set_path(Some(p.clone()));
                }
                namespaces.push(n);
            }
        }
    }
    linux.set_namespaces(Some(namespaces));
}

fn bind_shm(src: &Path) -> Mount {
    let mut m = Mount::default();
    m.set_destination("/dev/shm".into());
    m.set_typ(Some("bind".into()));
    m.set_source(Some(src.to_path_buf()));
    m.set_options(Some(vec!["rbind".into(), "rprivate".into()]));
    m
}

impl ContainerService {
    /// dockerd's create-time handling of the modes: checked, `IpcMode` and `ShmSize` given
    /// their defaults, and a `container:NAME` target stored by ID (it must exist now; it must
    /// run only at start).
    pub(super) fn settle_namespace_modes(&self, hc: &mut HostConfig) -> Result<()> {
        let pid = parse_pid(&hc.pid_mode).map_err(EngineError::invalid)?;
        let ipc = parse_ipc(&hc.ipc_mode).map_err(EngineError::invalid)?;
        if hc.shm_size < 0 {
            return Err(EngineError::invalid("SHM size can not be less than 0"));
        }
        if hc.shm_size == 0 {
            hc.shm_size = DEFAULT_SHM_SIZE;
        }
        if hc.ipc_mode.is_empty() {
            hc.ipc_mode = "private".into();
        }
        if let PidMode::Container(target) = pid {
            hc.pid_mode = format!("container:{}", self.get(&target)?.id);
        }
        if let IpcMode::Container(target) = ipc {
            hc.ipc_mode = format!("container:{}", self.get(&target)?.id);
        }
        Ok(())
    }

    /// The namespaces to create or join at start, with dockerd's errors for a target that is
    /// gone, not running, or (IPC) not shareable. Mounts a shareable container's /dev/shm
    /// (`release_shm` undoes it).
    pub(super) fn plan_namespaces(
        &self,
        c: &Container,
        d: &ContainerData,
    ) -> Result<NamespacePlan> {
        let hc = &d.rec.host_config;
        let pid = match parse_pid(&hc.pid_mode).map_err(EngineError::invalid)? {
            PidMode::Private => Join::Own,
            PidMode::Host => Join::Host,
            PidMode::Container(target) => {
                let (pid, _) = self
                    .running_target(&target)
                    .map_err(|e| rewrap(e, "failed to join PID namespace"))?;
                Join::Path(format!("/proc/{pid}/ns/pid").into())
            }
        };
        let size = if hc.shm_size > 0 {
            hc.shm_size
        } else {
            DEFAULT_SHM_SIZE
        };
        // The user's own /dev/shm replaces the IPC mode's (and is not shared, as with dockerd).
        let user_shm = hc.tmpfs.contains_key("/dev/shm")
            || d.rec
                .mount_points
                .iter()
                .any(|m| Path::new(&m.destination) == Path::new("/dev/shm"));
        let (ipc, shm) = match parse_ipc(&hc.ipc_mode).map_err(EngineError::invalid)? {
            IpcMode::Shareable if !user_shm => {
                let dir = shm_dir(&c.dir);
                mount_shm(&dir, size)?;
                (Join::Own, Shm::Bind(dir))
            }
            IpcMode::Private | IpcMode::Shareable => (Join::Own, Shm::Tmpfs(size)),
            IpcMode::None => (Join::Own, Shm::Absent),
            IpcMode::Host => {
                if !Path::new("/dev/shm").is_dir() {
                    return Err(EngineError::invalid(
                        "/dev/shm is not mounted, but must be for --ipc=host",
                    ));
                }
                (Join::Host, Shm::Bind("/dev/shm".into()))
            }
            IpcMode::Container(target) => {
                let joined = self.running_target(&target).and_then(|(pid, _)| {
                    let shm = self.shared_shm(&target, 0)?;
                    Ok((
                        Join::Path(format!("/proc/{pid}/ns/ipc").into()),
                        Shm::Bind(shm),
                    ))
                });
                joined.map_err(|e| rewrap(e, "failed to join IPC namespace"))?
            }
        };
        Ok(NamespacePlan { pid, ipc, shm })
    }

    /// The init pid and IPC mode of a running container whose namespaces another joins.
    fn running_target(&self, target: &str) -> Result<(u32, String)> {
        let t = self.get(target)?;
        let d = t.snapshot();
        if d.st.state.is_restarting() {
            return Err(EngineError::Conflict(format!(
                "Container {target} is restarting, wait until the container is running"
            )));
        }
        match d.st.state.pid() {
            Some(pid) => Ok((pid, d.rec.host_config.ipc_mode.clone())),
            None => Err(EngineError::Conflict(format!(
                "container {target} is not running"
            ))),
        }
    }

    /// The host directory of the /dev/shm a container shares: its own tmpfs when shareable,
    /// the host's when in the host's namespace, the one it shares itself when it joined another.
    fn shared_shm(&self, target: &str, depth: usize) -> Result<PathBuf> {
        let non_shareable = || {
            EngineError::invalid(format!(
                "container {target}: non-shareable IPC (hint: use IpcMode:shareable for the donor container)"
            ))
        };
        let (_, mode) = self.running_target(target)?;
        match parse_ipc(&mode) {
            Ok(IpcMode::Host) => Ok("/dev/shm".into()),
            Ok(IpcMode::Shareable) => {
                let dir = shm_dir(&self.get(target)?.dir);
                if dir.is_dir() {
                    Ok(dir)
                } else {
                    Err(non_shareable())
                }
            }
            // A chain of joins ends at a shareable container; a loop cannot be created (the
            // target must run first), the bound only guards against a corrupt record.
            Ok(IpcMode::Container(next)) if depth < 16 => self.shared_shm(&next, depth + 1),
            _ => Err(non_shareable()),
        }
    }
}

/// Where a shareable container's /dev/shm is mounted on the host.
fn shm_dir(container_dir: &Path) -> PathBuf {
    container_dir.join("shm")
}

/// A fresh tmpfs of `size` bytes at `dir`, with the options of Docker's /dev/shm.
fn mount_shm(dir: &Path, size: i64) -> Result<()> {
    // A leftover of a crash would keep the old contents and size.
    release_shm_dir(dir);
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    nix::mount::mount(
        Some("shm"),
        dir,
        Some("tmpfs"),
        MsFlags::MS_NOEXEC | MsFlags::MS_NOSUID | MsFlags::MS_NODEV,
        Some(format!("mode=1777,size={size}").as_str()),
    )
    .with_context(|| format!("mounting shm tmpfs at {}", dir.display()))?;
    Ok(())
}

fn release_shm_dir(dir: &Path) {
    if let Err(e) = crate::snapshot::unmount(dir) {
        tracing::warn!(dir = %dir.display(), error = %e, "unmounting a shareable /dev/shm");
        return;
    }
    let _ = std::fs::remove_dir(dir);
}

/// Unmounts a shareable container's /dev/shm once it no longer runs (nothing when it has none).
pub fn release_shm(c: &Container) {
    let dir = shm_dir(&c.dir);
    if dir.exists() {
        release_shm_dir(&dir);
    }
}

/// `context: error`, keeping the error's status (as moby's `errors.Wrap` keeps its kind).
fn rewrap(e: EngineError, context: &str) -> EngineError {
    let msg = format!("{context}: {e}");
    match e {
        EngineError::NotFound(_) => EngineError::NotFound(msg),
        EngineError::Conflict(_) => EngineError::Conflict(msg),
        EngineError::InvalidParameter(_) => EngineError::InvalidParameter(msg),
        _ => EngineError::internal(msg),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_parse_as_moby_validates_them() {
        assert_eq!(parse_pid(""), Ok(PidMode::Private));
        assert_eq!(parse_pid("host"), Ok(PidMode::Host));
        assert_eq!(
            parse_pid("container:db"),
            Ok(PidMode::Container("db".into()))
        );
        for bad in ["private", "container:", "hots"] {
            assert_eq!(
                parse_pid(bad),
                Err(format!("invalid PID mode: {bad}")),
                "{bad}"
            );
        }
        assert_eq!(parse_ipc(""), Ok(IpcMode::Private));
        assert_eq!(parse_ipc("private"), Ok(IpcMode::Private));
        assert_eq!(parse_ipc("shareable"), Ok(IpcMode::Shareable));
        assert_eq!(parse_ipc("none"), Ok(IpcMode::None));
        assert_eq!(parse_ipc("host"), Ok(IpcMode::Host));
        assert_eq!(
            parse_ipc("container:db"),
            Ok(IpcMode::Container("db".into()))
        );
        assert_eq!(
            parse_ipc("sharable"),
            Err("invalid IPC mode: sharable".to_string())
        );
    }

    fn spec() -> Spec {
        Spec::default()
    }

    fn ns(spec: &Spec, typ: LinuxNamespaceType) -> Option<LinuxNamespace> {
        let linux = spec.linux().as_ref()?;
        linux
            .namespaces()
            .as_ref()?
            .iter()
            .find(|n| n.typ() == typ)
            .cloned()
    }

    fn shm(spec: &Spec) -> Option<Mount> {
        spec.mounts()
            .as_ref()?
            .iter()
            .find(|m| m.destination() == Path::new("/dev/shm"))
            .cloned()
    }

    #[test]
    fn the_default_plan_is_own_namespaces_and_dockerds_64m_shm() {
        let mut s = spec();
        apply(&mut s, &NamespacePlan::default());
        let pid = ns(&s, LinuxNamespaceType::Pid).expect("pid ns");
        assert!(pid.path().is_none());
        assert!(ns(&s, LinuxNamespaceType::Ipc).is_some());
        let opts = shm(&s)
            .and_then(|m| m.options().clone())
            .unwrap_or_default();
        assert!(opts.contains(&"size=67108864".to_string()), "{opts:?}");
        assert!(opts.contains(&"noexec".to_string()));
    }

    #[test]
    fn host_leaves_the_namespace_out_and_container_joins_by_path() {
        let mut s = spec();
        apply(
            &mut s,
            &NamespacePlan {
                pid: Join::Host,
                ipc: Join::Path("/proc/42/ns/ipc".into()),
                shm: Shm::Bind("/proc/42/root/dev/shm".into()),
            },
        );
        assert!(ns(&s, LinuxNamespaceType::Pid).is_none());
        let ipc = ns(&s, LinuxNamespaceType::Ipc).expect("ipc ns");
        assert_eq!(ipc.path().as_deref(), Some(Path::new("/proc/42/ns/ipc")));
        let m = shm(&s).expect("/dev/shm");
        assert_eq!(m.typ().as_deref(), Some("bind"));
        assert_eq!(
            m.source().as_deref(),
            Some(Path::new("/proc/42/root/dev/shm"))
        );
        // Other namespaces are untouched.
        assert!(ns(&s, LinuxNamespaceType::Mount).is_some());
    }

    #[test]
    fn a_sized_shm_and_ipc_none() {
        let mut s = spec();
        let plan = NamespacePlan {
            shm: Shm::Tmpfs(8 << 20),
            ..Default::default()
        };
        apply(&mut s, &plan);
        let opts = shm(&s)
            .and_then(|m| m.options().clone())
            .unwrap_or_default();
        assert!(opts.contains(&"size=8388608".to_string()), "{opts:?}");
        let mut s = spec();
        let plan = NamespacePlan {
            shm: Shm::Absent,
            ..Default::default()
        };
        apply(&mut s, &plan);
        assert!(shm(&s).is_none());
        assert!(ns(&s, LinuxNamespaceType::Ipc).is_some());
    }
}
