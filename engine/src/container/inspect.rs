//! `docker inspect` of a container: the record and state in the API's shape.

use std::collections::BTreeMap;

use super::{Container, ContainerService};
use crate::api::types::{ContainerInspectResponse, GraphDriverData};

impl ContainerService {
    pub fn inspect(&self, c: &Container) -> ContainerInspectResponse {
        let d = c.snapshot();
        let r = &d.rec;
        let upper = self.images.snapshots.container_upper(&c.id);
        ContainerInspectResponse {
            id: r.id.clone(),
            created: r.created.clone(),
            path: r.path.clone(),
            args: r.args.clone(),
            state: crate::api::types::ContainerState {
                health: d.st.health.clone(),
                ..d.st.state.to_api()
            },
            image: r.image_id.clone(),
            resolv_conf_path: c.dir.join("resolv.conf"),
            hostname_path: c.dir.join("hostname"),
            hosts_path: c.dir.join("hosts"),
            // dockerd shows no path for a driver that writes no file.
            log_path: if r.host_config.log_config.kind == "none" {
                std::path::PathBuf::new()
            } else {
                c.log_path()
            },
            name: r.name.clone(),
            restart_count: d.st.restart_count,
            driver: "overlay2",
            platform: "linux",
            mount_label: String::new(),
            process_label: String::new(),
            app_armor_profile: String::new(),
            exec_ids: None,
            host_config: r.host_config.clone(),
            graph_driver: GraphDriverData {
                name: "overlay2",
                data: BTreeMap::from([
                    ("MergedDir", c.rootfs()),
                    ("WorkDir", upper.with_file_name("work")),
                    ("UpperDir", upper),
                ]),
            },
            mounts: self.mount_points(&r.mount_points),
            config: r.config.clone(),
            network_settings: self.network_settings(c, &d),
        }
    }
}
