//! Seccomp profiles in moby's format (the builtin default and `--security-opt seccomp=<json>`)
//! and their conversion to the OCI `linux.seccomp` runc applies: rules are kept or dropped by
//! the container's capabilities, the machine's architecture and kernel, as dockerd does.

mod builtin;

use std::str::FromStr;

use oci_spec::runtime::{
    Arch, LinuxSeccomp, LinuxSeccompAction, LinuxSeccompArgBuilder, LinuxSeccompBuilder,
    LinuxSeccompFilterFlag, LinuxSeccompOperator, LinuxSyscallBuilder,
};
use serde::Deserialize;

pub use builtin::profile as builtin;

/// A profile as moby's JSON writes it: OCI's `LinuxSeccomp` plus `archMap` and conditional rules.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Profile {
    pub default_action: String,
    pub default_errno_ret: Option<u32>,
    #[serde(deserialize_with = "null_as_default")]
    pub architectures: Vec<String>,
    #[serde(deserialize_with = "null_as_default")]
    pub arch_map: Vec<ArchMap>,
    #[serde(deserialize_with = "null_as_default")]
    pub flags: Vec<String>,
    pub listener_path: Option<String>,
    pub listener_metadata: Option<String>,
    #[serde(deserialize_with = "null_as_default")]
    pub syscalls: Vec<Rule>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ArchMap {
    pub architecture: String,
    #[serde(deserialize_with = "null_as_default")]
    pub sub_architectures: Vec<String>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Rule {
    #[serde(deserialize_with = "null_as_default")]
    pub names: Vec<String>,
    /// The older single-name form.
    pub name: String,
    pub action: String,
    pub errno_ret: Option<u32>,
    #[serde(deserialize_with = "null_as_default")]
    pub args: Vec<Arg>,
    pub includes: Option<Filter>,
    pub excludes: Option<Filter>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Arg {
    pub index: u32,
    pub value: u64,
    pub value_two: u64,
    pub op: String,
}

/// When a rule applies: all of `caps` held, the machine one of `arches`, the kernel at least
/// `min_kernel` (includes); any of them (excludes).
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Filter {
    #[serde(deserialize_with = "null_as_default")]
    pub caps: Vec<String>,
    #[serde(deserialize_with = "null_as_default")]
    pub arches: Vec<String>,
    pub min_kernel: Option<String>,
}

fn null_as_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// What the rules are evaluated against.
pub struct Target<'a> {
    /// libseccomp's name of the machine (`amd64`, `arm64`, …), as in `arches` filters.
    pub arch: &'a str,
    /// `(major, minor)` of the running kernel.
    pub kernel: (u64, u64),
    /// The container's bounding set, `CAP_*` names.
    pub caps: &'a [String],
}

impl Target<'_> {
    /// The machine this engine runs on.
    pub fn host(caps: &[String]) -> Target<'_> {
        Target {
            arch: native_arch(),
            kernel: host_kernel(),
            caps,
        }
    }
}

/// libseccomp's name for the machine, from Rust's (moby maps Go's GOARCH the same way).
pub fn native_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "x86" => "x86",
        "aarch64" => "arm64",
        "arm" => "arm",
        "riscv64" => "riscv64",
        "s390x" => "s390x",
        "powerpc64" => "ppc64le",
        "loongarch64" => "loongarch64",
        other => other,
    }
}

/// The SCMP_ARCH_ name of a libseccomp machine name.
fn scmp_arch(native: &str) -> Option<&'static str> {
    Some(match native {
        "x86" => "SCMP_ARCH_X86",
        "amd64" => "SCMP_ARCH_X86_64",
        "arm" => "SCMP_ARCH_ARM",
        "arm64" => "SCMP_ARCH_AARCH64",
        "loongarch64" => "SCMP_ARCH_LOONGARCH64",
        "ppc64le" => "SCMP_ARCH_PPC64LE",
        "riscv64" => "SCMP_ARCH_RISCV64",
        "s390" => "SCMP_ARCH_S390",
        "s390x" => "SCMP_ARCH_S390X",
        _ => return None,
    })
}

fn host_kernel() -> (u64, u64) {
    nix::sys::utsname::uname()
        .ok()
        .and_then(|u| parse_kernel(&u.release().to_string_lossy()))
        .unwrap_or((0, 0))
}

/// `6.1.0-13-amd64` → (6, 1).
fn parse_kernel(release: &str) -> Option<(u64, u64)> {
    let mut it = release.split(['.', '-']);
    let major = it.next()?.parse().ok()?;
    let minor = it.next()?.parse().ok()?;
    Some((major, minor))
}

/// A `minKernel` value: `"<kernel>.<major>"`, in moby's words when it is not.
fn parse_min_kernel(v: &str) -> Result<(u64, u64), String> {
    let bad = || format!("invalid kernel version: \"{v}\", expected \"<kernel>.<major>\"");
    let (a, b) = v.split_once('.').ok_or_else(bad)?;
    let a: u8 = a.parse().map_err(|_| bad())?;
    let b: u8 = b.parse().map_err(|_| bad())?;
    if a == 0 && b == 0 {
        return Err(bad());
    }
    Ok((a.into(), b.into()))
}

/// The error of a profile that cannot be read, in dockerd's words.
fn decoding(e: impl std::fmt::Display) -> String {
    format!("Decoding seccomp profile failed: {e}")
}

/// `seccomp=<json>`: the profile the docker CLI read from the user's file.
pub fn parse(json: &str) -> Result<Profile, String> {
    serde_json::from_str(json).map_err(decoding)
}

fn parse_enum<T: FromStr>(what: &str, v: &str) -> Result<T, String> {
    T::from_str(v).map_err(|_| decoding(format!("unknown {what} \"{v}\"")))
}

impl Filter {
    fn kernel_at_least(&self, t: &Target) -> Result<Option<bool>, String> {
        Ok(match &self.min_kernel {
            Some(v) if !v.is_empty() => Some(t.kernel >= parse_min_kernel(v)?),
            _ => None,
        })
    }
}

impl Rule {
    /// Whether the rule applies to the target (moby's includes/excludes semantics).
    fn applies(&self, t: &Target) -> Result<bool, String> {
        if let Some(ex) = &self.excludes {
            if ex.arches.iter().any(|a| a == t.arch)
                || ex.caps.iter().any(|c| t.caps.contains(c))
                || ex.kernel_at_least(t)? == Some(true)
            {
                return Ok(false);
            }
        }
        if let Some(inc) = &self.includes {
            if (!inc.arches.is_empty() && !inc.arches.iter().any(|a| a == t.arch))
                || !inc.caps.iter().all(|c| t.caps.contains(c))
                || inc.kernel_at_least(t)? == Some(false)
            {
                return Ok(false);
            }
        }
        Ok(true)
    }
}

impl Profile {
    /// The OCI filter for a container; None when the profile sets nothing (moby: no default
    /// action and no rules means no filter).
    pub fn to_oci(&self, t: &Target) -> Result<Option<LinuxSeccomp>, String> {
        if self.default_action.is_empty() && self.syscalls.is_empty() {
            return Ok(None);
        }
        if !self.architectures.is_empty() && !self.arch_map.is_empty() {
            return Err("both 'architectures' and 'archMap' are specified in the seccomp profile, use either 'architectures' or 'archMap'".into());
        }
        let mut arches: Vec<Arch> = self
            .architectures
            .iter()
            .map(|a| parse_enum("architecture", a))
            .collect::<Result<_, _>>()?;
        if let Some(native) = scmp_arch(t.arch) {
            if let Some(m) = self.arch_map.iter().find(|m| m.architecture == native) {
                for a in std::iter::once(&m.architecture).chain(&m.sub_architectures) {
                    arches.push(parse_enum("architecture", a)?);
                }
            }
        }
        let mut syscalls = Vec::new();
        for rule in &self.syscalls {
            if !rule.name.is_empty() && !rule.names.is_empty() {
                return Err("both 'name' and 'names' are specified in the seccomp profile, use either 'name' or 'names'".into());
            }
            if !rule.applies(t)? {
                continue;
            }
            let names = if rule.name.is_empty() {
                rule.names.clone()
            } else {
                vec![rule.name.clone()]
            };
            let args = rule
                .args
                .iter()
                .map(|a| {
                    LinuxSeccompArgBuilder::default()
                        .index(a.index as usize)
                        .value(a.value)
                        .value_two(a.value_two)
                        .op(parse_enum::<LinuxSeccompOperator>("operator", &a.op)?)
                        .build()
                        .map_err(decoding)
                })
                .collect::<Result<Vec<_>, _>>()?;
            let mut b = LinuxSyscallBuilder::default()
                .names(names)
                .action(parse_enum::<LinuxSeccompAction>("action", &rule.action)?);
            if let Some(e) = rule.errno_ret {
                b = b.errno_ret(e);
            }
            if !args.is_empty() {
                b = b.args(args);
            }
            syscalls.push(b.build().map_err(decoding)?);
        }
        let default_action = if self.default_action.is_empty() {
            LinuxSeccompAction::ScmpActAllow
        } else {
            parse_enum("action", &self.default_action)?
        };
        let flags = self
            .flags
            .iter()
            .map(|f| parse_enum::<LinuxSeccompFilterFlag>("flag", f))
            .collect::<Result<Vec<_>, _>>()?;
        let mut b = LinuxSeccompBuilder::default()
            .default_action(default_action)
            .syscalls(syscalls);
        if let Some(e) = self.default_errno_ret {
            b = b.default_errno_ret(e);
        }
        if !arches.is_empty() {
            b = b.architectures(arches);
        }
        if !flags.is_empty() {
            b = b.flags(flags);
        }
        if let Some(p) = &self.listener_path {
            b = b.listener_path(p);
        }
        if let Some(m) = &self.listener_metadata {
            b = b.listener_metadata(m.clone());
        }
        b.build().map(Some).map_err(decoding)
    }
}

#[cfg(test)]
mod tests;
