//! `HostConfig.SecurityOpt` (`--security-opt`): parsed as dockerd's `parseSecurityOpt`, checked
//! against what this host can enforce, so that no option is accepted and then not applied.

use super::seccomp;

/// The seccomp filter a container asks for.
#[derive(Clone, Debug, Default, PartialEq)]
pub enum Seccomp {
    /// Docker's default profile (no option, `seccomp=builtin`).
    #[default]
    Builtin,
    Unconfined,
    /// A profile in moby's JSON format (the docker CLI sends the file's content).
    Custom(String),
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct SecurityOptions {
    pub no_new_privileges: bool,
    pub seccomp: Seccomp,
    /// `apparmor=<profile>`; `unconfined` is kept as None (there is nothing to apply).
    pub apparmor: Option<String>,
    /// `writable-cgroups`: None leaves it to `--privileged`.
    pub writable_cgroups: Option<bool>,
    /// `label=` options other than `disable`.
    pub labels: Vec<String>,
}

/// What the host can enforce; probed once per check.
#[derive(Clone, Copy, Debug)]
pub struct HostSupport {
    pub seccomp: bool,
    pub apparmor: bool,
    pub selinux: bool,
}

impl HostSupport {
    pub fn probe() -> HostSupport {
        HostSupport {
            seccomp: kernel_has_seccomp_filter(),
            apparmor: std::fs::read_to_string("/sys/module/apparmor/parameters/enabled")
                .is_ok_and(|s| s.starts_with('Y')),
            selinux: std::path::Path::new("/sys/fs/selinux/enforce").exists(),
        }
    }
}

/// dockerd's probe: seccomp mode 2 is compiled in when PR_SET_SECCOMP with a NULL filter fails
/// with EFAULT (EINVAL when it is not).
fn kernel_has_seccomp_filter() -> bool {
    // SAFETY: PR_GET_SECCOMP reads the caller's mode; PR_SET_SECCOMP with a NULL filter pointer
    // is refused by the kernel before anything is installed.
    unsafe {
        if libc::prctl(libc::PR_GET_SECCOMP, 0, 0, 0, 0) < 0 {
            return false;
        }
        let r = libc::prctl(
            libc::PR_SET_SECCOMP,
            libc::SECCOMP_MODE_FILTER,
            std::ptr::null::<libc::c_void>(),
            0,
            0,
        );
        r < 0 && std::io::Error::last_os_error().raw_os_error() == Some(libc::EFAULT)
    }
}

/// Go's `strconv.ParseBool`.
fn go_bool(v: &str) -> Option<bool> {
    match v {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
        _ => None,
    }
}

/// Parses the options in dockerd's order and words (`invalid --security-opt 1/2: "…"`).
pub fn parse(opts: &[String]) -> Result<SecurityOptions, String> {
    let mut out = SecurityOptions::default();
    for opt in opts {
        match opt.as_str() {
            "no-new-privileges" => {
                out.no_new_privileges = true;
                continue;
            }
            "writable-cgroups" => {
                out.writable_cgroups = Some(true);
                continue;
            }
            "disable" => continue,
            _ => {}
        }
        // `:` is dockerd's deprecated separator, still accepted.
        let cut = if opt.contains('=') {
            opt.split_once('=')
        } else {
            opt.split_once(':')
        };
        let Some((k, v)) = cut else {
            return Err(format!("invalid --security-opt 1: {opt:?}"));
        };
        let two = || format!("invalid --security-opt 2: {opt:?}");
        match k {
            "label" => {
                if v != "disable" {
                    out.labels.push(v.to_string());
                }
            }
            "apparmor" => out.apparmor = (v != "unconfined").then(|| v.to_string()),
            "seccomp" => {
                out.seccomp = match v {
                    "" | "builtin" => Seccomp::Builtin,
                    "unconfined" => Seccomp::Unconfined,
                    json => Seccomp::Custom(json.to_string()),
                }
            }
            "no-new-privileges" => out.no_new_privileges = go_bool(v).ok_or_else(two)?,
            "writable-cgroups" => out.writable_cgroups = Some(go_bool(v).ok_or_else(two)?),
            _ => return Err(two()),
        }
    }
    Ok(out)
}

impl SecurityOptions {
    /// Refuses what this host cannot apply. dockerd starts such containers without the
    /// confinement asked for (an AppArmor profile or SELinux label on a host without either);
    /// Berth refuses instead of dropping it silently. `caps` is the container's bounding set,
    /// against which a custom seccomp profile is checked.
    pub fn check(&self, host: HostSupport, caps: &[String]) -> Result<(), String> {
        if let Some(p) = &self.apparmor {
            if !host.apparmor {
                return Err(format!(
                    "apparmor: config provided but apparmor not supported (--security-opt apparmor={p})"
                ));
            }
        }
        if let Some(l) = self.labels.first() {
            return Err(if host.selinux {
                format!(
                    "SELinux labels are not supported by this engine (--security-opt label={l})"
                )
            } else {
                format!("SELinux is not enabled on this host (--security-opt label={l})")
            });
        }
        if let Seccomp::Custom(json) = &self.seccomp {
            if !host.seccomp {
                return Err(
                    "seccomp is not enabled in your kernel, cannot run a custom seccomp profile"
                        .into(),
                );
            }
            seccomp::parse(json)?.to_oci(&seccomp::Target::host(caps))?;
        }
        Ok(())
    }

    /// The OCI filter for a container with these options and bounding set; None runs it
    /// unconfined (`seccomp=unconfined`, `--privileged`, or a kernel without seccomp, where
    /// dockerd too runs the default profile's containers without one).
    pub fn seccomp_filter(
        &self,
        privileged: bool,
        host: HostSupport,
        caps: &[String],
    ) -> Result<Option<oci_spec::runtime::LinuxSeccomp>, String> {
        if privileged || self.seccomp == Seccomp::Unconfined {
            return Ok(None);
        }
        if !host.seccomp {
            // As dockerd: the default profile is skipped with a warning (a custom one was
            // refused at create).
            tracing::warn!(
                "seccomp is not enabled in your kernel, running container without default profile"
            );
            return Ok(None);
        }
        let target = seccomp::Target::host(caps);
        match &self.seccomp {
            Seccomp::Unconfined => Ok(None),
            Seccomp::Builtin => seccomp::builtin().to_oci(&target),
            Seccomp::Custom(json) => seccomp::parse(json)?.to_oci(&target),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(v: &[&str]) -> Result<SecurityOptions, String> {
        parse(&v.iter().map(|s| s.to_string()).collect::<Vec<_>>())
    }

    #[test]
    fn parses_as_dockerd() {
        let o = opts(&["no-new-privileges", "seccomp=unconfined", "label=disable"]).unwrap();
        assert!(o.no_new_privileges);
        assert_eq!(o.seccomp, Seccomp::Unconfined);
        assert!(o.labels.is_empty());
        assert!(
            !opts(&["no-new-privileges=false"])
                .unwrap()
                .no_new_privileges
        );
        assert!(opts(&["no-new-privileges:true"]).unwrap().no_new_privileges);
        assert_eq!(
            opts(&["seccomp=builtin"]).unwrap().seccomp,
            Seccomp::Builtin
        );
        assert_eq!(opts(&["apparmor=unconfined"]).unwrap().apparmor, None);
        assert_eq!(
            opts(&["unknown"]).unwrap_err(),
            r#"invalid --security-opt 1: "unknown""#
        );
        assert_eq!(
            opts(&["unknown=x"]).unwrap_err(),
            r#"invalid --security-opt 2: "unknown=x""#
        );
        assert_eq!(
            opts(&["no-new-privileges=maybe"]).unwrap_err(),
            r#"invalid --security-opt 2: "no-new-privileges=maybe""#
        );
    }

    #[test]
    fn refuses_what_the_host_cannot_apply() {
        let none = HostSupport {
            seccomp: true,
            apparmor: false,
            selinux: false,
        };
        assert!(opts(&["apparmor=docker-default"])
            .unwrap()
            .check(none, &[])
            .unwrap_err()
            .contains("apparmor not supported"));
        assert!(opts(&["label=type:svirt_lxc_net_t"])
            .unwrap()
            .check(none, &[])
            .is_err());
        assert!(opts(&["seccomp={\"defaultAction\":\"SCMP_ACT_BAD\"}"])
            .unwrap()
            .check(none, &[])
            .is_err());
        let no_seccomp = HostSupport {
            seccomp: false,
            ..none
        };
        assert!(opts(&["seccomp={}"])
            .unwrap()
            .check(no_seccomp, &[])
            .is_err());
        assert_eq!(
            opts(&[]).unwrap().seccomp_filter(false, no_seccomp, &[]),
            Ok(None)
        );
        assert!(opts(&[])
            .unwrap()
            .seccomp_filter(false, none, &[])
            .unwrap()
            .is_some());
        assert!(opts(&[])
            .unwrap()
            .seccomp_filter(true, none, &[])
            .unwrap()
            .is_none());
    }
}
