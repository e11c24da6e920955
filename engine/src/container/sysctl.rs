//! `--sysctl`: which kernel parameters a container may set. Only those the kernel namespaces can
//! be set, so that a container cannot change the host's: the IPC ones need the container's own
//! IPC namespace, `net.*` its own network namespace.
//!
//! The names allowed and the first message are the docker CLI's (`opts.ValidateSysctl`, which
//! dockerd's own clients rely on); the namespace messages are runc's (`validate.sysctl`), which
//! dockerd reports at start. berthd checks all of them at create, before anything is made.

use std::collections::BTreeMap;

/// The IPC namespace's sysctls besides `fs.mqueue.*`.
const IPC_SYSCTLS: &[&str] = &[
    "kernel.msgmax",
    "kernel.msgmnb",
    "kernel.msgmni",
    "kernel.sem",
    "kernel.shmall",
    "kernel.shmmax",
    "kernel.shmmni",
    "kernel.shm_rmid_forced",
];

fn is_ipc(key: &str) -> bool {
    IPC_SYSCTLS.contains(&key) || key.starts_with("fs.mqueue.")
}

/// Checks a container's sysctls against the namespaces it gets: `host_network` and `host_ipc`
/// when it shares the host's.
pub fn validate(
    sysctls: &BTreeMap<String, String>,
    host_network: bool,
    host_ipc: bool,
) -> Result<(), String> {
    for (key, value) in sysctls {
        if is_ipc(key) {
            if host_ipc {
                return Err(format!(
                    "sysctl \"{key}\" is not allowed in the hosts ipc namespace"
                ));
            }
        } else if key.starts_with("net.") {
            if host_network {
                return Err(format!(
                    "sysctl \"{key}\" not allowed in host network namespace"
                ));
            }
        } else {
            return Err(format!("sysctl '{key}={value}' is not allowed"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(kv: &[(&str, &str)]) -> BTreeMap<String, String> {
        kv.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn namespaced_sysctls_pass() {
        let s = map(&[
            ("net.ipv4.ip_forward", "1"),
            ("kernel.shmmax", "1000000"),
            ("fs.mqueue.msg_max", "20"),
        ]);
        validate(&s, false, false).expect("namespaced");
    }

    #[test]
    fn others_are_refused_in_the_docker_cli_words() {
        for k in [
            "kernel.hostname",
            "vm.swappiness",
            "kernel.foobar",
            "fs.file-max",
        ] {
            let err = validate(&map(&[(k, "1")]), false, false).expect_err(k);
            assert_eq!(err, format!("sysctl '{k}=1' is not allowed"));
        }
    }

    #[test]
    fn the_hosts_namespaces_refuse_theirs() {
        let net = map(&[("net.ipv4.ip_forward", "1")]);
        assert_eq!(
            validate(&net, true, false).expect_err("host net"),
            "sysctl \"net.ipv4.ip_forward\" not allowed in host network namespace"
        );
        validate(&net, false, true).expect("net is fine with the host's IPC");
        let ipc = map(&[("fs.mqueue.msg_max", "20")]);
        assert_eq!(
            validate(&ipc, false, true).expect_err("host ipc"),
            "sysctl \"fs.mqueue.msg_max\" is not allowed in the hosts ipc namespace"
        );
        validate(&ipc, true, false).expect("ipc is fine with the host's network");
    }
}
