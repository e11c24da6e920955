//! The JSON of `docker inspect` and `docker ps` for containers.

use serde_json::{json, Value};

use super::model::status_text;
use super::{Container, ContainerService};
use crate::api::types::ContainerSummary;
use crate::error::Result;
use crate::filters::Filters;

impl ContainerService {
    pub fn inspect(&self, c: &Container) -> Value {
        let d = c.snapshot();
        let r = &d.rec;
        let s = &d.st.state;
        let upper = self.images.snapshots.container_upper(&c.id);
        let mut state = json!(s);
        state["Running"] = json!(s.counts_as_running());
        json!({
            "Id": r.id,
            "Created": r.created,
            "Path": r.path,
            "Args": r.args,
            "State": state,
            "Image": r.image_id,
            "ResolvConfPath": c.dir.join("resolv.conf"),
            "HostnamePath": c.dir.join("hostname"),
            "HostsPath": c.dir.join("hosts"),
            "LogPath": c.log_path(),
            "Name": r.name,
            "RestartCount": d.st.restart_count,
            "Driver": "overlay2",
            "Platform": "linux",
            "MountLabel": "",
            "ProcessLabel": "",
            "AppArmorProfile": "",
            "ExecIDs": Value::Null,
            "HostConfig": r.host_config,
            "GraphDriver": {"Name": "overlay2", "Data": {
                "MergedDir": c.rootfs(),
                "UpperDir": upper,
                "WorkDir": upper.with_file_name("work"),
            }},
            "Mounts": self.mount_points(&r.mount_points),
            "Config": r.config,
            "NetworkSettings": self.network_settings(c, &d),
        })
    }

    pub fn list(
        &self,
        all: bool,
        limit: Option<i64>,
        filters: &Filters,
    ) -> Result<Vec<ContainerSummary>> {
        filters.only(&[
            "status", "name", "label", "ancestor", "id", "exited", "before", "since", "health",
            "network", "volume", "publish", "expose", "is-task",
        ])?;
        for st in filters.get("status") {
            if ![
                "created",
                "restarting",
                "running",
                "removing",
                "paused",
                "exited",
                "dead",
            ]
            .contains(&st.as_str())
            {
                return Err(crate::error::EngineError::invalid(format!(
                    "Invalid filter 'status={st}'"
                )));
            }
        }
        let mut exited_codes = Vec::new();
        for e in filters.get("exited") {
            exited_codes.push(e.parse::<i64>().map_err(|_| {
                crate::error::EngineError::invalid(format!("invalid filter 'exited={e}'"))
            })?);
        }
        let ancestors: Vec<String> = filters
            .get("ancestor")
            .iter()
            .filter_map(|a| self.images.store.resolve(a).ok().map(|i| i.id))
            .collect();
        let mut items: Vec<(String, ContainerSummary)> = Vec::new();
        for c in self.all() {
            let d = c.snapshot();
            let s = &d.st.state;
            let status = s.status.clone();
            let explicit_status = filters.has("status");
            let listed = s.counts_as_running();
            if !all && !listed && !explicit_status && !filters.has("exited") {
                continue;
            }
            if explicit_status && !filters.get("status").contains(&status) {
                continue;
            }
            if !exited_codes.is_empty()
                && (status != "exited" || !exited_codes.contains(&s.exit_code))
            {
                continue;
            }
            let name = d.rec.name.trim_start_matches('/').to_string();
            if filters.has("name")
                && !filters
                    .get("name")
                    .iter()
                    .any(|n| name.contains(n.trim_start_matches('/')))
            {
                continue;
            }
            if filters.has("id")
                && !filters
                    .get("id")
                    .iter()
                    .any(|i| c.id.starts_with(i.as_str()))
            {
                continue;
            }
            if !filters.labels_match(&d.rec.config.labels) {
                continue;
            }
            if filters.has("ancestor") && !ancestors.contains(&d.rec.image_id) {
                continue;
            }
            if filters.has("volume")
                && !super::mounts::mounts_match(&d.rec.mount_points, filters.get("volume"))
            {
                continue;
            }
            let command = std::iter::once(d.rec.path.clone())
                .chain(d.rec.args.iter().cloned())
                .collect::<Vec<_>>()
                .join(" ");
            let created = crate::api::types::rfc3339_unix(Some(&d.rec.created));
            let network = match d.rec.host_config.network_mode.as_str() {
                "default" => "bridge".to_string(),
                m => m.to_string(),
            };
            let (ports, network_settings) = self.summary_network(&c, &d);
            items.push((
                d.rec.created.clone(),
                ContainerSummary {
                    id: c.id.clone(),
                    names: vec![d.rec.name.clone()],
                    image: d.rec.config.image.clone(),
                    image_id: d.rec.image_id.clone(),
                    command,
                    created,
                    ports,
                    labels: d.rec.config.labels.clone(),
                    state: status,
                    status: status_text(s),
                    host_config: json!({"NetworkMode": network}),
                    network_settings,
                    mounts: self.mount_points(&d.rec.mount_points),
                    size_rw: None,
                    size_root_fs: None,
                },
            ));
        }
        // Newest first, as dockerd lists them.
        items.sort_by(|a, b| b.0.cmp(&a.0));
        let mut out: Vec<ContainerSummary> = items.into_iter().map(|(_, s)| s).collect();
        if let Some(n) = limit.filter(|n| *n > 0) {
            out.truncate(n as usize);
        }
        Ok(out)
    }

    /// Fills `SizeRw` and `SizeRootFs` by walking each container's upper dir, off the runtime's
    /// threads: dockerd too measures on demand, as the sizes change with every write.
    pub async fn add_sizes(&self, items: &mut [ContainerSummary]) {
        let work: Vec<(std::path::PathBuf, u64)> = items
            .iter()
            .map(|s| {
                let image = self.images.store.get(&s.image_id).map_or(0, |i| i.size);
                (self.images.snapshots.container_upper(&s.id), image)
            })
            .collect();
        let sizes = tokio::task::spawn_blocking(move || {
            work.into_iter()
                .map(|(upper, image)| {
                    let rw = crate::volume::copy::dir_size(&upper);
                    (rw as i64, (rw + image) as i64)
                })
                .collect::<Vec<_>>()
        })
        .await
        .unwrap_or_default();
        for (s, (rw, root)) in items.iter_mut().zip(sizes) {
            s.size_rw = Some(rw);
            s.size_root_fs = Some(root);
        }
    }
}
