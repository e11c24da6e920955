//! The JSON of `docker inspect` for containers.

use serde_json::{json, Value};

use super::{Container, ContainerService};

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
}
