//! Create and connect options berthd does not implement yet, refused when a client sets them.
//!
//! Request bodies are decoded leniently (unknown fields land in `extra`), so without this check a
//! `--cgroup-parent x` or `--device-cgroup-rule …` would be accepted and silently dropped: the container would run
//! with less than the user asked for. Clients send most of these fields with their zero value on
//! every create (the docker CLI sends `"UTSMode": ""`, `"Links": null`, `"Cgroup": ""`, …), so
//! only a value other than the zero value (or one of the listed values berthd already gives every
//! container) is refused, with a 400 naming the flag.

use serde_json::{Map, Value};

use crate::api::types::network::EndpointRequest;
use crate::api::types::HostConfig;
use crate::error::{EngineError, Result};

/// `HostConfig` fields (by their JSON name), the flag that sets them, and the values that
/// describe what berthd does anyway (accepted as such).
const HOST_CONFIG: &[(&str, &str, &[&str])] = &[
    // No user-namespace remapping: every container is in the host's user namespace.
    ("UsernsMode", "--userns", &["host"]),
    ("Cgroup", "--cgroup", &[]),
    ("CgroupParent", "--cgroup-parent", &[]),
    ("DeviceRequests", "--gpus", &[]),
    ("StorageOpt", "--storage-opt", &[]),
    ("MaskedPaths", "HostConfig.MaskedPaths", &[]),
    ("ReadonlyPaths", "HostConfig.ReadonlyPaths", &[]),
    ("VolumeDriver", "--volume-driver", &["local"]),
    ("Isolation", "--isolation", &["default"]),
    ("Annotations", "--annotation", &[]),
];

/// Whether `v` is the zero value a client sends for an option it was not given.
fn is_zero(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Bool(b) => !b,
        Value::Number(n) => n.as_f64() == Some(0.0),
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
    }
}

fn check(extra: &Map<String, Value>, table: &[(&str, &str, &[&str])]) -> Result<()> {
    for (field, flag, accepted) in table {
        let Some(v) = extra.get(*field) else { continue };
        if is_zero(v) || v.as_str().is_some_and(|s| accepted.contains(&s)) {
            continue;
        }
        return Err(refused(flag, field, v));
    }
    Ok(())
}

fn refused(flag: &str, field: &str, v: &Value) -> EngineError {
    EngineError::invalid(format!(
        "berthd does not support {flag} yet ({field}: {v}); remove it to run the container"
    ))
}

/// Refuses a create request that sets an option berthd would otherwise drop.
pub fn check_create(host: &HostConfig) -> Result<()> {
    check(&host.extra, HOST_CONFIG)
}

/// Refuses endpoint settings (create's `EndpointsConfig`, network connect) berthd would drop.
pub fn check_endpoint(network: &str, ep: &EndpointRequest) -> Result<()> {
    let field = |name: &str| format!("EndpointsConfig[{network}].{name}");
    if !ep.links.is_empty() {
        // On user networks a link is a container-scoped DNS alias (see `links.rs`); the default
        // bridge's legacy links come from `HostConfig.Links` instead.
        if network == "bridge" {
            return Err(refused("--link", &field("Links"), &ep.links.clone().into()));
        }
        for l in &ep.links {
            super::links::parse(l)?;
        }
    }
    if !ep.driver_opts.is_empty() {
        let v = serde_json::to_value(&ep.driver_opts).unwrap_or_default();
        return Err(refused("--driver-opt", &field("DriverOpts"), &v));
    }
    if !ep.ipam_config.ipv6_address.is_empty() {
        let v = Value::String(ep.ipam_config.ipv6_address.clone());
        return Err(refused("--ip6", &field("IPAMConfig.IPv6Address"), &v));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn host(v: Value) -> HostConfig {
        serde_json::from_value(v).expect("host config")
    }

    #[test]
    fn what_the_docker_cli_sends_for_a_plain_run_passes() {
        // Captured from `docker create busybox true` (docker CLI 28.2).
        let hc = host(json!({
            "Binds": null, "ContainerIDFile": "", "NetworkMode": "default", "VolumeDriver": "",
            "ConsoleSize": [0, 0], "CgroupnsMode": "", "IpcMode": "", "Cgroup": "", "Links": null,
            "OomScoreAdj": 0, "PidMode": "", "SecurityOpt": null, "UTSMode": "", "UsernsMode": "",
            "ShmSize": 0, "Isolation": "", "CgroupParent": "", "Devices": [],
            "DeviceCgroupRules": null, "DeviceRequests": null, "MaskedPaths": null,
            "ReadonlyPaths": null
        }));
        check_create(&hc).expect("a plain run is accepted");
    }

    #[test]
    fn values_berthd_gives_every_container_pass() {
        for (k, v) in [("UsernsMode", "host"), ("VolumeDriver", "local")] {
            let hc = host(json!({ k: v }));
            check_create(&hc).expect(k);
        }
    }

    #[test]
    fn options_berthd_would_drop_are_refused_naming_the_flag() {
        for (body, flag) in [
            (json!({"StorageOpt": {"size": "1G"}}), "--storage-opt"),
            (json!({"CgroupParent": "mine"}), "--cgroup-parent"),
            (json!({"Cgroup": "other"}), "--cgroup"),
        ] {
            let err = check_create(&host(body.clone())).expect_err("refused");
            assert!(err.to_string().contains(flag), "{body}: {err}");
            assert!(matches!(err, EngineError::InvalidParameter(_)));
        }
    }

    #[test]
    fn implemented_host_options_are_no_longer_refused() {
        // Typed fields of `HostConfig` now: checked and applied by create and start.
        let hc = host(json!({
            "PidMode": "host", "IpcMode": "container:x", "ShmSize": 8_388_608,
            "Sysctls": {"net.ipv4.ip_forward": "1"}, "OomScoreAdj": 500, "Init": true
        }));
        assert!(hc.extra.is_empty(), "{:?}", hc.extra);
        check_create(&hc).expect("not refused here");
    }

    #[test]
    fn endpoint_settings_berthd_would_drop_are_refused() {
        let ep = |v: Value| -> EndpointRequest { serde_json::from_value(v).expect("endpoint") };
        check_endpoint(
            "n",
            &ep(json!({"Aliases": ["a"], "MacAddress": "", "Links": null})),
        )
        .expect("aliases work");
        check_endpoint("n", &ep(json!({"Links": ["db:database"]}))).expect("user-network links");
        let err = check_endpoint("bridge", &ep(json!({"Links": ["db"]}))).expect_err("bridge");
        assert!(err.to_string().contains("--link"), "{err}");
        assert!(check_endpoint("n", &ep(json!({"Links": [":x"]}))).is_err());
        for (body, flag) in [
            (json!({"DriverOpts": {"a": "b"}}), "--driver-opt"),
            (json!({"IPAMConfig": {"IPv6Address": "fd00::9"}}), "--ip6"),
        ] {
            let err = check_endpoint("n", &ep(body.clone())).expect_err("refused");
            assert!(err.to_string().contains(flag), "{body}: {err}");
        }
    }
}
