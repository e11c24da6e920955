//! The JSON of `docker inspect` for containers, and the sizes `docker ps -s` adds.

use serde_json::{json, Value};

use super::{Container, ContainerService};
use crate::api::types::ContainerSummary;

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
