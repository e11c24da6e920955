use super::*;
use oci_spec::runtime::LinuxSyscall;

fn caps(names: &[&str]) -> Vec<String> {
    names.iter().map(|s| s.to_string()).collect()
}

fn filter(arch: &str, caps: &[String]) -> LinuxSeccomp {
    let t = Target {
        arch,
        kernel: (6, 1),
        caps,
    };
    builtin().to_oci(&t).unwrap().unwrap()
}

/// The rules that name a syscall.
fn rules_for<'a>(f: &'a LinuxSeccomp, name: &str) -> Vec<&'a LinuxSyscall> {
    f.syscalls()
        .iter()
        .flatten()
        .filter(|s| s.names().iter().any(|n| n == name))
        .collect()
}

fn allowed_unconditionally(f: &LinuxSeccomp, name: &str) -> bool {
    rules_for(f, name)
        .iter()
        .any(|s| s.action() == LinuxSeccompAction::ScmpActAllow && s.args().is_none())
}

#[test]
fn default_profile_denies_with_eperm_on_x86_64() {
    let f = filter("amd64", &caps(&["CAP_CHOWN", "CAP_SYS_CHROOT"]));
    assert_eq!(f.default_action(), LinuxSeccompAction::ScmpActErrno);
    assert_eq!(f.default_errno_ret(), Some(1));
    assert_eq!(
        f.architectures().clone().unwrap(),
        vec![Arch::ScmpArchX86_64, Arch::ScmpArchX86, Arch::ScmpArchX32]
    );
    for name in [
        "read",
        "openat",
        "execve",
        "arch_prctl",
        "modify_ldt",
        "chroot",
    ] {
        assert!(allowed_unconditionally(&f, name), "{name}");
    }
    for name in [
        "unshare", "mount", "setns", "keyctl", "reboot", "bpf", "set_tls",
    ] {
        assert!(!allowed_unconditionally(&f, name), "{name}");
    }
    // ptrace only from kernel 4.8 on (the seccomp bypass before it), which 6.1 is.
    assert!(allowed_unconditionally(&f, "ptrace"));
    let json = serde_json::to_value(&f).unwrap();
    assert_eq!(json["defaultAction"], "SCMP_ACT_ERRNO");
    assert_eq!(json["architectures"][0], "SCMP_ARCH_X86_64");
}

#[test]
fn clone_keeps_namespace_flags_for_cap_sys_admin() {
    let f = filter("amd64", &[]);
    let clone = rules_for(&f, "clone");
    assert_eq!(clone.len(), 1);
    let arg = &clone[0].args().clone().unwrap()[0];
    assert_eq!(
        (arg.index(), arg.value(), arg.op()),
        (0, 0x7E02_0000, LinuxSeccompOperator::ScmpCmpMaskedEq)
    );
    let clone3 = rules_for(&f, "clone3");
    assert_eq!(clone3[0].action(), LinuxSeccompAction::ScmpActErrno);
    assert_eq!(clone3[0].errno_ret(), Some(38));
    // socket: every family but AF_VSOCK.
    assert_eq!(rules_for(&f, "socket").len(), 3);
    assert_eq!(rules_for(&f, "personality").len(), 5);

    let admin = filter("amd64", &caps(&["CAP_SYS_ADMIN"]));
    for name in ["unshare", "mount", "setns", "clone", "clone3"] {
        assert!(allowed_unconditionally(&admin, name), "{name}");
    }
    assert!(rules_for(&admin, "clone3")
        .iter()
        .all(|s| s.action() == LinuxSeccompAction::ScmpActAllow));
}

#[test]
fn capabilities_add_their_syscalls() {
    for (cap, call) in [
        ("CAP_SYS_PTRACE", "kcmp"),
        ("CAP_SYS_MODULE", "init_module"),
        ("CAP_SYS_BOOT", "reboot"),
        ("CAP_SYS_TIME", "settimeofday"),
        ("CAP_SYS_RAWIO", "iopl"),
        ("CAP_DAC_READ_SEARCH", "open_by_handle_at"),
        ("CAP_SYS_PACCT", "acct"),
        ("CAP_SYSLOG", "syslog"),
    ] {
        assert!(!allowed_unconditionally(&filter("amd64", &[]), call));
        assert!(allowed_unconditionally(
            &filter("amd64", &caps(&[cap])),
            call
        ));
    }
    // Dropping CAP_SYS_CHROOT (a default capability) takes chroot(2) away.
    assert!(!allowed_unconditionally(&filter("amd64", &[]), "chroot"));
}

#[test]
fn arm64_gets_its_arches_and_rules() {
    let f = filter("arm64", &[]);
    assert_eq!(
        f.architectures().clone().unwrap(),
        vec![Arch::ScmpArchAarch64, Arch::ScmpArchArm]
    );
    assert!(allowed_unconditionally(&f, "set_tls"));
    assert!(!allowed_unconditionally(&f, "arch_prctl"));
}

#[test]
fn custom_profiles_in_moby_format() {
    let p = parse(
        r#"{"defaultAction":"SCMP_ACT_ALLOW","architectures":["SCMP_ARCH_X86_64"],
            "syscalls":[{"name":"mkdir","action":"SCMP_ACT_ERRNO","errnoRet":13},
                        {"names":["chmod"],"action":"SCMP_ACT_ERRNO","includes":{"minKernel":"99.0"}}]}"#,
    )
    .unwrap();
    let f = p.to_oci(&Target::host(&[])).unwrap().unwrap();
    assert_eq!(f.default_action(), LinuxSeccompAction::ScmpActAllow);
    assert_eq!(rules_for(&f, "mkdir")[0].errno_ret(), Some(13));
    assert!(rules_for(&f, "chmod").is_empty());

    // An empty profile sets no filter, as dockerd.
    assert!(parse("{}")
        .unwrap()
        .to_oci(&Target::host(&[]))
        .unwrap()
        .is_none());

    let both = parse(r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"name":"a","names":["b"],"action":"SCMP_ACT_ALLOW"}]}"#).unwrap();
    assert!(both
        .to_oci(&Target::host(&[]))
        .unwrap_err()
        .contains("both 'name' and 'names'"));
    let bad_action = parse(r#"{"defaultAction":"SCMP_ACT_NOPE"}"#).unwrap();
    assert!(bad_action.to_oci(&Target::host(&[])).is_err());
    let bad_kernel = parse(r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["a"],"action":"SCMP_ACT_ALLOW","includes":{"minKernel":"x"}}]}"#).unwrap();
    assert!(bad_kernel.to_oci(&Target::host(&[])).is_err());
    assert!(parse("not json")
        .unwrap_err()
        .starts_with("Decoding seccomp profile failed: "));
}

#[test]
fn kernel_releases() {
    assert_eq!(parse_kernel("6.18.44-fc-v595"), Some((6, 18)));
    assert_eq!(parse_kernel("5.10"), Some((5, 10)));
    assert_eq!(parse_kernel("garbage"), None);
}

#[test]
fn every_arch_of_the_map_converts() {
    for arch in ["amd64", "arm64", "s390x", "riscv64", "x86", "arm"] {
        let f = builtin().to_oci(&Target {
            arch,
            kernel: (6, 1),
            caps: &[],
        });
        assert!(f.is_ok(), "{arch}: {f:?}");
    }
}
