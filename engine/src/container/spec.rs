//! The OCI runtime bundle of a container, built with oci-spec from Docker's defaults: the default
//! capability set, seccomp filter, masked and read-only paths, the device allowlist, /dev and the
//! /etc files dockerd bind-mounts.

use std::path::Path;

use oci_spec::runtime::{
    Capability, LinuxCapabilities, LinuxNamespace, LinuxNamespaceType, Mount, Process, Spec, User,
};

use super::security_opt::{HostSupport, SecurityOptions};

/// dockerd's masked paths (moby `oci.DefaultLinuxSpec`): host information and interfaces a
/// container must not read, hidden under an empty read-only file or directory.
const MASKED_PATHS: &[&str] = &[
    "/proc/acpi",
    "/proc/asound",
    "/proc/interrupts",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/sched_debug",
    "/proc/scsi",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/sys/devices/virtual/powercap",
    "/sys/firmware",
];

/// dockerd's read-only paths.
const READONLY_PATHS: &[&str] = &[
    "/proc/bus",
    "/proc/fs",
    "/proc/irq",
    "/proc/sys",
    "/proc/sysrq-trigger",
];

/// The masked paths, with each CPU's `thermal_throttle` the host has (as dockerd adds them).
fn masked_paths() -> Vec<String> {
    let mut out: Vec<String> = MASKED_PATHS.iter().map(|p| p.to_string()).collect();
    if let Ok(entries) = std::fs::read_dir("/sys/devices/system/cpu") {
        let mut extra: Vec<String> = entries
            .flatten()
            .filter(|e| {
                let n = e.file_name();
                let n = n.to_string_lossy();
                n.strip_prefix("cpu")
                    .is_some_and(|d| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit()))
            })
            .map(|e| e.path().join("thermal_throttle"))
            .filter(|p| p.exists())
            .map(|p| p.to_string_lossy().into_owned())
            .collect();
        extra.sort();
        out.extend(extra);
    }
    out
}

/// `CAP_*` names of a capability set, as seccomp profiles name them.
pub fn cap_names(caps: &[Capability]) -> Vec<String> {
    caps.iter().map(|c| format!("CAP_{c}")).collect()
}

/// The security options on a process: the container's, or an exec's in the container (dockerd
/// gives an exec the container's no-new-privileges and AppArmor profile; `exec --privileged`
/// runs it unconfined by AppArmor).
pub fn confine_process(p: &mut Process, sec: &SecurityOptions, privileged_exec: bool) {
    p.set_no_new_privileges(Some(sec.no_new_privileges));
    p.set_apparmor_profile(if privileged_exec {
        None
    } else {
        sec.apparmor.clone()
    });
}

/// dockerd's default capabilities (moby `oci/caps/defaults.go`).
pub const DEFAULT_CAPS: &[Capability] = &[
    Capability::Chown,
    Capability::DacOverride,
    Capability::Fsetid,
    Capability::Fowner,
    Capability::Mknod,
    Capability::NetRaw,
    Capability::Setgid,
    Capability::Setuid,
    Capability::Setfcap,
    Capability::Setpcap,
    Capability::NetBindService,
    Capability::SysChroot,
    Capability::Kill,
    Capability::AuditWrite,
];

/// What the spec needs to know; the container module fills it from the container's config.
pub struct SpecInput<'a> {
    pub rootfs: &'a Path,
    pub args: Vec<String>,
    pub env: Vec<String>,
    pub cwd: String,
    pub uid: u32,
    pub gid: u32,
    pub additional_gids: Vec<u32>,
    pub tty: bool,
    pub hostname: String,
    pub host_network: bool,
    /// `--uts host`: the host's hostname and UTS namespace.
    pub host_uts: bool,
    pub readonly_rootfs: bool,
    pub privileged: bool,
    pub cap_add: Vec<String>,
    pub cap_drop: Vec<String>,
    /// (host file, container path) binds for /etc/hostname, /etc/hosts, /etc/resolv.conf.
    pub etc_files: Vec<(std::path::PathBuf, &'static str)>,
    pub cgroups_path: String,
    pub cgroup_ns: bool,
    /// Volumes, binds and tmpfs, in the order they are mounted.
    pub mounts: Vec<Mount>,
    /// A network namespace prepared by the engine (bridge) or shared (`container:`), by path.
    pub netns_path: Option<std::path::PathBuf>,
    /// `--security-opt`, checked at create.
    pub security: SecurityOptions,
    pub host_support: HostSupport,
    /// PID and IPC namespaces and /dev/shm (`--pid`, `--ipc`, `--shm-size`).
    pub namespaces: super::namespaces::NamespacePlan,
    /// `--sysctl`, checked at create.
    pub sysctls: std::collections::BTreeMap<String, String>,
    /// `--oom-score-adj`, checked at create.
    pub oom_score_adj: i32,
    /// `--init`: the host's init binary, run as PID 1 with the command as its child.
    pub init: Option<std::path::PathBuf>,
    /// `--device` mappings, settled at create.
    pub devices: Vec<crate::api::types::DeviceMapping>,
    /// `--device-cgroup-rule`s, checked at create.
    pub device_cgroup_rules: Vec<String>,
}

pub fn parse_capability(name: &str) -> Result<Capability, String> {
    let upper = name.to_ascii_uppercase();
    // oci-spec parses the bare SCREAMING_SNAKE_CASE name.
    let bare = upper.strip_prefix("CAP_").unwrap_or(&upper);
    bare.parse::<Capability>()
        .map_err(|_| format!("unknown capability: \"{name}\""))
}

/// Every capability the kernel defines, in the kernel's bit order (for `--privileged` and
/// `--cap-add ALL`).
const ALL_CAP_NAMES: &[&str] = &[
    "CHOWN",
    "DAC_OVERRIDE",
    "DAC_READ_SEARCH",
    "FOWNER",
    "FSETID",
    "KILL",
    "SETGID",
    "SETUID",
    "SETPCAP",
    "LINUX_IMMUTABLE",
    "NET_BIND_SERVICE",
    "NET_BROADCAST",
    "NET_ADMIN",
    "NET_RAW",
    "IPC_LOCK",
    "IPC_OWNER",
    "SYS_MODULE",
    "SYS_RAWIO",
    "SYS_CHROOT",
    "SYS_PTRACE",
    "SYS_PACCT",
    "SYS_ADMIN",
    "SYS_BOOT",
    "SYS_NICE",
    "SYS_RESOURCE",
    "SYS_TIME",
    "SYS_TTY_CONFIG",
    "MKNOD",
    "LEASE",
    "AUDIT_WRITE",
    "AUDIT_CONTROL",
    "SETFCAP",
    "MAC_OVERRIDE",
    "MAC_ADMIN",
    "SYSLOG",
    "WAKE_ALARM",
    "BLOCK_SUSPEND",
    "AUDIT_READ",
    "PERFMON",
    "BPF",
    "CHECKPOINT_RESTORE",
];

/// Every capability the engine itself holds in its bounding set (as moby's
/// `GetAllCapabilities`): asking runc for one beyond it fails the start ("unable to apply caps").
fn all_caps() -> Vec<Capability> {
    let bounding = own_bounding_set();
    ALL_CAP_NAMES
        .iter()
        .enumerate()
        .filter(|(bit, _)| bounding & (1u64 << bit) != 0)
        .filter_map(|(_, n)| parse_capability(n).ok())
        .collect()
}

/// `CapBnd` of /proc/self/status; all bits set when it cannot be read.
fn own_bounding_set() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("CapBnd:"))
                .and_then(|v| u64::from_str_radix(v.trim(), 16).ok())
        })
        .unwrap_or(u64::MAX)
}

pub fn capabilities(
    privileged: bool,
    cap_add: &[String],
    cap_drop: &[String],
) -> Result<Vec<Capability>, String> {
    if privileged {
        return Ok(all_caps());
    }
    let mut caps: Vec<Capability> = DEFAULT_CAPS.to_vec();
    for a in cap_add {
        if a.eq_ignore_ascii_case("ALL") {
            caps = all_caps();
            continue;
        }
        let c = parse_capability(a)?;
        if !caps.contains(&c) {
            caps.push(c);
        }
    }
    for d in cap_drop {
        if d.eq_ignore_ascii_case("ALL") {
            caps.clear();
            continue;
        }
        let c = parse_capability(d)?;
        caps.retain(|x| *x != c);
    }
    Ok(caps)
}

pub fn process(
    args: Vec<String>,
    env: Vec<String>,
    cwd: &str,
    user: (u32, u32, Vec<u32>),
    tty: bool,
    caps: Vec<Capability>,
) -> Process {
    let mut p = Process::default();
    p.set_args(Some(args));
    p.set_env(Some(env));
    p.set_cwd(if cwd.is_empty() {
        "/".into()
    } else {
        cwd.into()
    });
    p.set_terminal(Some(tty));
    let mut u = User::default();
    u.set_uid(user.0);
    u.set_gid(user.1);
    // Always set: an empty list would leave the runtime's own supplementary groups in place.
    let mut gids = vec![user.1];
    gids.extend(user.2.into_iter().filter(|g| *g != user.1));
    u.set_additional_gids(Some(gids));
    p.set_user(u);
    let set: std::collections::HashSet<Capability> = caps.into_iter().collect();
    let mut c = LinuxCapabilities::default();
    c.set_bounding(Some(set.clone()));
    c.set_effective(Some(set.clone()));
    c.set_permitted(Some(set));
    c.set_inheritable(None);
    c.set_ambient(None);
    p.set_capabilities(Some(c));
    // Docker's default: the host's limits apply, no RLIMIT_NOFILE override.
    p.set_rlimits(None);
    p
}

pub fn build(input: &SpecInput) -> Result<Spec, String> {
    let caps = capabilities(input.privileged, &input.cap_add, &input.cap_drop)?;
    let seccomp =
        input
            .security
            .seccomp_filter(input.privileged, input.host_support, &cap_names(&caps))?;
    let mut spec = Spec::default();
    let args = match &input.init {
        Some(_) => super::init_binary::wrap(input.args.clone()),
        None => input.args.clone(),
    };
    let mut p = process(
        args,
        input.env.clone(),
        &input.cwd,
        (input.uid, input.gid, input.additional_gids.clone()),
        input.tty,
        caps,
    );
    // A privileged container keeps an AppArmor profile given explicitly, as dockerd.
    confine_process(&mut p, &input.security, false);
    // Always set, as dockerd: 0 unless asked, rather than whatever the engine runs with.
    p.set_oom_score_adj(Some(input.oom_score_adj));
    spec.set_process(Some(p));
    let mut root = oci_spec::runtime::Root::default();
    root.set_path(input.rootfs.to_path_buf());
    root.set_readonly(Some(input.readonly_rootfs));
    spec.set_root(Some(root));
    spec.set_hostname(if input.host_network || input.host_uts {
        None
    } else {
        Some(input.hostname.clone())
    });

    super::namespaces::apply(&mut spec, &input.namespaces);
    let mut mounts = spec.mounts().clone().unwrap_or_default();
    // `--privileged` (or `writable-cgroups`) makes the cgroup tree writable; dockerd's default.
    let writable_cgroups = input.security.writable_cgroups.unwrap_or(input.privileged);
    // Docker mounts /sys read-only (read-write when privileged), /proc without suid, exec or
    // device files (/dev/shm is the IPC mode's: `namespaces::apply`).
    for m in mounts.iter_mut() {
        let dst = m.destination().clone();
        if dst == Path::new("/proc") {
            m.set_options(Some(vec!["nosuid".into(), "noexec".into(), "nodev".into()]));
        } else if (dst == Path::new("/sys") && input.privileged)
            || (dst == Path::new("/sys/fs/cgroup") && writable_cgroups)
        {
            let opts = m.options().clone().unwrap_or_default();
            m.set_options(Some(opts.into_iter().filter(|o| o != "ro").collect()));
        }
    }
    for (src, dst) in &input.etc_files {
        let mut m = Mount::default();
        m.set_destination(dst.into());
        m.set_typ(Some("bind".into()));
        m.set_source(Some(src.clone()));
        m.set_options(Some(vec!["rbind".into(), "rprivate".into()]));
        mounts.push(m);
    }
    // A user mount replaces a default one at the same place (dockerd drops the default).
    mounts.retain(|m| {
        input
            .mounts
            .iter()
            .all(|u| u.destination() != m.destination())
    });
    mounts.extend(input.mounts.iter().cloned());
    if let Some(init) = &input.init {
        mounts.push(super::init_binary::mount(init));
    }
    spec.set_mounts(Some(mounts));

    let linux = spec.linux_mut().get_or_insert_with(Default::default);
    let mut namespaces: Vec<LinuxNamespace> = linux.namespaces().clone().unwrap_or_default();
    namespaces.retain(|n| {
        let drop_net = input.host_network && n.typ() == LinuxNamespaceType::Network;
        let drop_cgroup = !input.cgroup_ns && n.typ() == LinuxNamespaceType::Cgroup;
        let drop_uts = input.host_uts && n.typ() == LinuxNamespaceType::Uts;
        !drop_net && !drop_cgroup && !drop_uts
    });
    if let Some(path) = &input.netns_path {
        for n in namespaces.iter_mut() {
            if n.typ() == LinuxNamespaceType::Network {
                n.set_path(Some(path.clone()));
            }
        }
    }
    linux.set_namespaces(Some(namespaces));
    linux.set_cgroups_path(Some(input.cgroups_path.clone().into()));
    linux.set_seccomp(seccomp);
    if !input.sysctls.is_empty() {
        linux.set_sysctl(Some(input.sysctls.clone().into_iter().collect()));
    }
    let resources = linux.resources_mut().get_or_insert_with(Default::default);
    if input.privileged {
        resources.set_devices(Some(super::devices::privileged_cgroup_rules()));
        linux.set_devices(Some(super::devices::host_devices()));
        linux.set_masked_paths(None);
        linux.set_readonly_paths(None);
    } else {
        resources.set_devices(Some(super::devices::default_cgroup_rules()));
        linux.set_masked_paths(Some(masked_paths()));
        linux.set_readonly_paths(Some(READONLY_PATHS.iter().map(|p| p.to_string()).collect()));
    }
    for m in &input.devices {
        let (nodes, rules) = super::devices::nodes(m)?;
        let mut all = linux.devices().clone().unwrap_or_default();
        // A mapping replaces a node of the same path (e.g. one `--privileged` already lists).
        all.retain(|d| nodes.iter().all(|n| n.path() != d.path()));
        all.extend(nodes);
        linux.set_devices(Some(all));
        let resources = linux.resources_mut().get_or_insert_with(Default::default);
        let mut allowed = resources.devices().clone().unwrap_or_default();
        allowed.extend(rules);
        resources.set_devices(Some(allowed));
    }
    if !input.device_cgroup_rules.is_empty() {
        let resources = linux.resources_mut().get_or_insert_with(Default::default);
        let mut allowed = resources.devices().clone().unwrap_or_default();
        for r in &input.device_cgroup_rules {
            allowed.push(super::devices::cgroup_rule(r)?);
        }
        resources.set_devices(Some(allowed));
    }
    Ok(spec)
}

/// A console size for the process spec; None for an unknown (0) size.
pub fn console_box(height: u64, width: u64) -> Option<oci_spec::runtime::Box> {
    if height == 0 || width == 0 {
        return None;
    }
    oci_spec::runtime::BoxBuilder::default()
        .height(height)
        .width(width)
        .build()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input() -> SpecInput<'static> {
        SpecInput {
            rootfs: Path::new("/tmp/rootfs"),
            args: vec!["sh".into()],
            env: vec![],
            cwd: String::new(),
            uid: 0,
            gid: 0,
            additional_gids: vec![],
            tty: false,
            hostname: "abc".into(),
            host_network: false,
            host_uts: false,
            devices: Vec::new(),
            device_cgroup_rules: Vec::new(),
            readonly_rootfs: false,
            privileged: false,
            cap_add: vec!["NET_ADMIN".into()],
            cap_drop: vec!["chown".into()],
            etc_files: vec![],
            cgroups_path: "/berth/x".into(),
            cgroup_ns: false,
            mounts: vec![],
            netns_path: None,
            security: SecurityOptions::default(),
            host_support: HostSupport {
                seccomp: true,
                apparmor: false,
                selinux: false,
            },
            namespaces: Default::default(),
            sysctls: Default::default(),
            oom_score_adj: 0,
            init: None,
        }
    }

    #[test]
    fn caps_follow_add_and_drop() {
        let i = input();
        let caps = capabilities(false, &i.cap_add, &i.cap_drop).unwrap();
        assert!(caps.contains(&Capability::NetAdmin));
        assert!(!caps.contains(&Capability::Chown));
        assert!(caps.contains(&Capability::Kill));
        assert!(capabilities(false, &["NOPE".into()], &[]).is_err());
    }

    #[test]
    fn defaults_confine_and_privileged_lifts() {
        let spec = build(&input()).unwrap();
        let linux = spec.linux().as_ref().unwrap();
        assert!(linux.seccomp().is_some());
        let masked = linux.masked_paths().clone().unwrap();
        for p in MASKED_PATHS {
            assert!(masked.iter().any(|m| m == p), "{p}");
        }
        let devices = linux.resources().as_ref().unwrap().devices().clone();
        assert!(!devices.unwrap()[0].allow());
        let proc = spec.mounts().as_ref().unwrap();
        let proc = proc.iter().find(|m| m.destination() == Path::new("/proc"));
        assert_eq!(
            proc.unwrap().options().clone().unwrap(),
            vec!["nosuid", "noexec", "nodev"]
        );
        let p = spec.process().as_ref().unwrap();
        assert_eq!(p.no_new_privileges(), Some(false));

        let mut i = input();
        i.privileged = true;
        i.security.no_new_privileges = true;
        let spec = build(&i).unwrap();
        let linux = spec.linux().as_ref().unwrap();
        assert!(linux.seccomp().is_none());
        assert!(linux.masked_paths().is_none() && linux.readonly_paths().is_none());
        let devices = linux.resources().as_ref().unwrap().devices().clone();
        assert!(devices.unwrap()[0].allow());
        let sys = spec.mounts().as_ref().unwrap();
        let sys = sys.iter().find(|m| m.destination() == Path::new("/sys"));
        assert!(!sys
            .unwrap()
            .options()
            .clone()
            .unwrap()
            .contains(&"ro".into()));
        let p = spec.process().as_ref().unwrap();
        assert_eq!(p.no_new_privileges(), Some(true));
    }

    #[test]
    fn host_network_drops_the_namespace() {
        let mut i = input();
        i.host_network = true;
        let spec = build(&i).unwrap();
        let ns = spec.linux().as_ref().unwrap().namespaces().clone().unwrap();
        assert!(ns.iter().all(|n| n.typ() != LinuxNamespaceType::Network));
        assert!(ns.iter().all(|n| n.typ() != LinuxNamespaceType::Cgroup));
        assert!(ns.iter().any(|n| n.typ() == LinuxNamespaceType::Pid));
    }

    #[test]
    fn init_sysctls_and_oom_score_reach_the_spec() {
        let mut i = input();
        i.args = vec!["sleep".into(), "5".into()];
        i.init = Some("/usr/bin/tini-static".into());
        i.sysctls = [("net.ipv4.ip_forward".to_string(), "1".to_string())].into();
        i.oom_score_adj = 500;
        let spec = build(&i).unwrap();
        let p = spec.process().as_ref().unwrap();
        assert_eq!(
            p.args().clone().unwrap(),
            vec!["/sbin/docker-init", "--", "sleep", "5"]
        );
        assert_eq!(p.oom_score_adj(), Some(500));
        let mounts = spec.mounts().clone().unwrap();
        let init = mounts
            .iter()
            .find(|m| m.destination() == Path::new("/sbin/docker-init"))
            .unwrap();
        assert_eq!(
            init.source().as_deref(),
            Some(Path::new("/usr/bin/tini-static"))
        );
        let sysctl = spec.linux().as_ref().unwrap().sysctl().clone().unwrap();
        assert_eq!(sysctl["net.ipv4.ip_forward"], "1");

        // Without them: the command as given, no sysctl map, a score of 0 as dockerd.
        let spec = build(&input()).unwrap();
        let p = spec.process().as_ref().unwrap();
        assert_eq!(p.args().clone().unwrap(), vec!["sh"]);
        assert_eq!(p.oom_score_adj(), Some(0));
        assert!(spec.linux().as_ref().unwrap().sysctl().is_none());
    }
}
