//! `POST /containers/create`: validation, merging the image's config, naming, the writable layer.

use std::sync::Arc;

use super::model::{ContainerRecord, PersistedState};
use super::{names, Container, ContainerService};
use crate::api::types::{ContainerConfig, ContainerCreateRequest, ContainerCreateResponse};
use crate::error::{EngineError, Result};
use crate::timestamp::now_rfc3339;

fn merge_env(image: &[String], user: &[String]) -> Vec<String> {
    let key = |e: &String| {
        e.split_once('=')
            .map(|(k, _)| k.to_string())
            .unwrap_or_else(|| e.clone())
    };
    let mut out: Vec<String> = image.to_vec();
    for e in user {
        let k = key(e);
        if let Some(slot) = out.iter_mut().find(|x| key(x) == k) {
            *slot = e.clone();
        } else {
            out.push(e.clone());
        }
    }
    out
}

/// dockerd's merge of the image config into the container config (daemon `merge`).
pub fn merge_image_config(user: &mut ContainerConfig, image: &ContainerConfig) {
    if user.user.is_empty() {
        user.user = image.user.clone();
    }
    if user.exposed_ports.is_none() {
        user.exposed_ports = image.exposed_ports.clone();
    } else if let (Some(u), Some(i)) = (user.exposed_ports.as_mut(), image.exposed_ports.as_ref()) {
        for (k, v) in i {
            u.entry(k.clone()).or_insert_with(|| v.clone());
        }
    }
    user.env = merge_env(&image.env, &user.env);
    for (k, v) in &image.labels {
        user.labels.entry(k.clone()).or_insert_with(|| v.clone());
    }
    let no_entrypoint = user.entrypoint.as_ref().is_none_or(|e| e.is_empty());
    if no_entrypoint {
        if user.cmd.as_ref().is_none_or(|c| c.is_empty()) {
            user.cmd = image.cmd.clone();
        }
        if user.entrypoint.is_none() {
            user.entrypoint = image.entrypoint.clone();
        }
    }
    if user.working_dir.is_empty() {
        user.working_dir = image.working_dir.clone();
    }
    // dockerd adds the image's volumes to the user's (the CLI always sends a map, often empty).
    if let Some(iv) = &image.volumes {
        let uv = user.volumes.get_or_insert_with(Default::default);
        for (k, v) in iv {
            uv.entry(k.clone()).or_insert_with(|| v.clone());
        }
    }
    if user.stop_signal.is_none() {
        user.stop_signal = image.stop_signal.clone();
    }
    super::health::merge(&mut user.healthcheck, image.healthcheck.as_ref());
    if user.on_build.is_none() {
        user.on_build = image.on_build.clone();
    }
    if user.shell.is_none() {
        user.shell = image.shell.clone();
    }
}

impl ContainerService {
    /// `--cgroupns`, `--pid`, `--ipc`, `--shm-size`, `--sysctl`, `--oom-score-adj` and `--init`, checked (in
    /// dockerd's words) and given their defaults before anything is made.
    fn check_host_options(&self, hc: &mut crate::api::types::HostConfig) -> Result<()> {
        // dockerd's default: a private cgroup namespace on cgroup v2, the host's on v1.
        super::devices::settle(&mut hc.devices).map_err(EngineError::invalid)?;
        for r in hc.device_cgroup_rules.iter().flatten() {
            super::devices::cgroup_rule(r).map_err(EngineError::invalid)?;
        }
        if !matches!(hc.uts_mode.as_str(), "" | "host") {
            return Err(EngineError::invalid(format!(
                "invalid UTS mode: {}",
                hc.uts_mode
            )));
        }
        let v2 = self.cfg.runtimes.cgroup == super::runtime::CgroupMode::V2;
        match hc.cgroupns_mode.as_str() {
            "" => hc.cgroupns_mode = if v2 { "private" } else { "host" }.into(),
            "private" | "host" => {}
            other => {
                return Err(EngineError::invalid(format!(
                    "invalid cgroup namespace mode: {other}"
                )))
            }
        }
        if !(-1000..=1000).contains(&hc.oom_score_adj) {
            return Err(EngineError::invalid(format!(
                "Invalid value {}, range for oom score adj is [-1000, 1000]",
                hc.oom_score_adj
            )));
        }
        // A missing `container:` target is a bad request here (dockerd's 400), not a 404 on
        // which the docker CLI would go and pull the image.
        self.settle_namespace_modes(hc).map_err(|e| match e {
            EngineError::NotFound(m) => EngineError::InvalidParameter(m),
            e => e,
        })?;
        super::sysctl::validate(
            &hc.sysctls,
            hc.network_mode == "host",
            hc.ipc_mode == "host",
        )
        .map_err(EngineError::invalid)?;
        let own_pid_ns = hc.pid_mode.is_empty();
        if hc.init == Some(true) && own_pid_ns {
            super::init_binary::lookup(self.cfg.init_path.as_deref())
                .map_err(EngineError::invalid)?;
        }
        Ok(())
    }

    pub async fn create(
        self: &Arc<Self>,
        name: Option<&str>,
        req: ContainerCreateRequest,
    ) -> Result<ContainerCreateResponse> {
        let ContainerCreateRequest {
            mut config,
            mut host_config,
            networking_config,
        } = req;
        if let Some(n) = name {
            if !names::valid(n.trim_start_matches('/')) {
                return Err(EngineError::invalid(format!(
                    "Invalid container name ({n}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed"
                )));
            }
        }
        if config.image.is_empty() {
            return Err(EngineError::invalid(
                "Config cannot be empty in order to create a container",
            ));
        }
        // Before the image lookup: the docker CLI pulls on a 404, which would be wasted.
        super::unsupported::check_create(&host_config)?;
        self.check_host_options(&mut host_config)?;
        super::health::validate(config.healthcheck.as_ref())?;
        let image = self.images.store.resolve(&config.image)?;
        super::restart_policy::validate(&host_config.restart_policy)?;
        if host_config.auto_remove && !matches!(host_config.restart_policy.name.as_str(), "" | "no")
        {
            return Err(EngineError::invalid(
                "can't create 'AutoRemove' container with restart policy",
            ));
        }
        if !host_config.runtime.is_empty() && self.cfg.runtimes.path(&host_config.runtime).is_none()
        {
            return Err(EngineError::invalid(format!(
                "unknown or invalid runtime name: {}",
                host_config.runtime
            )));
        }
        super::log_driver::LogDriver::from_config(&host_config.log_config)?;
        if let Some(sig) = &config.stop_signal {
            crate::signal::parse_signal(sig)?;
        }
        for e in &config.env {
            if e.is_empty() || e.starts_with('=') {
                return Err(EngineError::invalid(format!(
                    "invalid environment variable: {e}"
                )));
            }
        }
        for c in host_config
            .cap_add
            .iter()
            .chain(host_config.cap_drop.iter())
        {
            if !c.eq_ignore_ascii_case("ALL") {
                super::spec::parse_capability(c).map_err(EngineError::invalid)?;
            }
        }
        let security =
            super::security_opt::parse(host_config.security_opt.as_deref().unwrap_or_default())
                .map_err(EngineError::invalid)?;
        let caps = super::spec::capabilities(
            host_config.privileged,
            &host_config.cap_add,
            &host_config.cap_drop,
        )
        .map_err(EngineError::invalid)?;
        security
            .check(
                super::security_opt::HostSupport::probe(),
                &super::spec::cap_names(&caps),
            )
            .map_err(EngineError::invalid)?;
        // dockerd records that a privileged container, or one in the host's PID or IPC
        // namespace, runs without an SELinux label.
        let unlabeled = host_config.privileged
            || host_config.pid_mode == "host"
            || host_config.ipc_mode == "host";
        let opts = host_config.security_opt.get_or_insert_with(Vec::new);
        if unlabeled && !opts.iter().any(|o| o.split('=').next() == Some("label")) {
            opts.push("label=disable".into());
        }
        if opts.is_empty() {
            host_config.security_opt = None;
        }
        // Checked before anything is reserved or written: bad limits leave nothing behind.
        let warnings = super::resources::validate::for_create(
            &mut host_config.resources,
            &self.resource_host(),
        )
        .map_err(EngineError::invalid)?;
        if let Some(img_cfg) = &image.config.config {
            merge_image_config(&mut config, img_cfg);
        }
        let mut networks = self.plan_networks(&host_config, &config, &networking_config)?;
        let mut argv: Vec<String> = config.entrypoint.clone().unwrap_or_default();
        argv.extend(config.cmd.clone().unwrap_or_default());
        if argv.is_empty() {
            return Err(EngineError::invalid("No command specified"));
        }

        let id = hex::encode(rand::random::<[u8; 32]>());
        let name = match name {
            Some(n) => {
                let n = n.trim_start_matches('/').to_string();
                self.reserve_name(&n, &id)?;
                n
            }
            None => {
                let mut attempt = 0;
                loop {
                    let n = names::generate(attempt);
                    if self.reserve_name(&n, &id).is_ok() {
                        break n;
                    }
                    attempt += 1;
                }
            }
        };
        if let Err(e) = self.check_links(&mut host_config, &mut networks, &name) {
            self.release_name(&name);
            return Err(e);
        }
        if host_config.uts_mode == "host" && !config.hostname.is_empty() {
            self.release_name(&name);
            return Err(EngineError::invalid(
                "conflicting options: hostname and the UTS mode",
            ));
        }
        if config.hostname.is_empty() {
            config.hostname =
                if host_config.network_mode == "host" || host_config.uts_mode == "host" {
                    nix::unistd::gethostname()
                        .map(|h| h.to_string_lossy().into_owned())
                        .unwrap_or_default()
                } else {
                    id[..12].to_string()
                };
        }
        if host_config.network_mode.is_empty() {
            host_config.network_mode = "bridge".into();
        }
        if host_config.runtime.is_empty() {
            host_config.runtime = self.cfg.runtimes.default.clone();
        }
        if host_config.log_config.kind.is_empty() {
            host_config.log_config.kind = "json-file".into();
        }
        let mount_points = match self.plan_mounts(&id, &config, &host_config) {
            Ok(m) => m,
            Err(e) => {
                self.release_name(&name);
                return Err(e);
            }
        };
        let rec = ContainerRecord {
            id: id.clone(),
            name: format!("/{name}"),
            created: now_rfc3339(),
            path: argv[0].clone(),
            args: argv[1..].to_vec(),
            image_id: image.id.clone(),
            config,
            host_config,
            layers: image.chain_ids(),
            networks,
            mount_points: mount_points.clone(),
        };
        let st = PersistedState::default();
        let dir = self.container_dir(&id);
        let made: Result<Arc<Container>> = (|| {
            std::fs::create_dir_all(&dir)?;
            self.images.snapshots.prepare_container(&id)?;
            let c = Container::new(dir.clone(), rec, st);
            c.save_state()?;
            // The record is written last: its presence marks a complete create.
            c.save_record()?;
            Ok(c)
        })();
        let c = match made {
            Ok(c) => c,
            Err(e) => {
                let _ = std::fs::remove_dir_all(&dir);
                let _ = self.images.snapshots.remove(&id);
                self.drop_volume_refs(&id, &mount_points, true);
                self.release_name(&name);
                return Err(e);
            }
        };
        self.insert(Arc::clone(&c));
        self.emit(&c, "create", &[]);
        Ok(ContainerCreateResponse { id, warnings })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merge_follows_dockerd() {
        let image = ContainerConfig {
            cmd: Some(vec!["sh".into()]),
            entrypoint: Some(vec!["/entry".into()]),
            env: vec!["PATH=/bin".into(), "A=1".into()],
            working_dir: "/work".into(),
            ..Default::default()
        };
        let mut user = ContainerConfig {
            env: vec!["A=2".into()],
            ..Default::default()
        };
        merge_image_config(&mut user, &image);
        assert_eq!(user.cmd.as_deref(), Some(&["sh".to_string()][..]));
        assert_eq!(
            user.entrypoint.as_deref(),
            Some(&["/entry".to_string()][..])
        );
        assert_eq!(user.env, vec!["PATH=/bin", "A=2"]);
        assert_eq!(user.working_dir, "/work");

        // An explicit entrypoint drops the image's Cmd.
        let mut user = ContainerConfig {
            entrypoint: Some(vec!["echo".into()]),
            ..Default::default()
        };
        merge_image_config(&mut user, &image);
        assert!(user.cmd.is_none());
    }
}
