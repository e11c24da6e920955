//! `POST /containers/{id}/update` (`docker update`): new resource limits and restart policy for
//! an existing container. The record is written first and the running container's cgroup changed
//! after (`runtime update`); if the runtime refuses, the old record is put back, as dockerd does.
//! A stopped container only gets the new record; its next start applies it.

use std::sync::Arc;

use super::resources::{oci, validate};
use super::{Container, ContainerService};
use crate::api::types::{ContainerUpdateRequest, ContainerUpdateResponse};
use crate::error::{EngineError, Result};

impl ContainerService {
    pub async fn update(
        &self,
        name_or_id: &str,
        req: ContainerUpdateRequest,
    ) -> Result<ContainerUpdateResponse> {
        let ContainerUpdateRequest {
            mut resources,
            restart_policy,
        } = req;
        // dockerd checks the settings before it looks the container up.
        let warnings = validate::for_update(&mut resources, &self.resource_host())
            .map_err(EngineError::invalid)?;
        super::restart_policy::validate(&restart_policy)?;
        let c = self.get(name_or_id)?;
        let cannot = |msg: &str| format!("Cannot update container {}: {msg}", c.id);

        // Start, stop and removal take this lock too: the running state seen below holds.
        let _op = c.op.lock().await;
        let (old, running) = {
            let d = c.lock();
            if d.st.state.is_removal() {
                return Err(EngineError::Conflict(cannot(
                    "container is marked for removal and cannot be \"update\"",
                )));
            }
            let s = &d.st.state;
            (d.rec.host_config.clone(), s.is_running())
        };
        let mut new = old.clone();
        validate::merge_update(&mut new, &resources, &restart_policy)
            .map_err(|m| EngineError::Conflict(cannot(&m)))?;
        let mut live = resources;
        if live.memory_swap > 0 && live.memory == 0 {
            // cgroup v2 keeps swap apart from memory: the runtime needs the memory limit to
            // work out `memory.swap.max` from a memory+swap total.
            live.memory = new.resources.memory;
        }
        c.lock().rec.host_config = new;
        if let Err(e) = c.save_record() {
            c.lock().rec.host_config = old;
            return Err(e);
        }
        if running {
            if let Err(e) = self.runtime_update(&c, &oci::for_update(&live)).await {
                if c.is_running() {
                    c.lock().rec.host_config = old;
                    if let Err(se) = c.save_record() {
                        tracing::warn!(id = %c.id, error = %se, "restoring the record after a failed update");
                    }
                    return Err(EngineError::internal(cannot(&e.to_string())));
                }
                // It exited meanwhile: the new record is all there is to change.
                tracing::debug!(id = %c.id, error = %e, "container stopped during update");
            }
        }
        self.emit(&c, "update", &[]);
        Ok(ContainerUpdateResponse { warnings })
    }

    /// `runtime update --resources FILE`: runc and crun both read an OCI `LinuxResources` from a
    /// file and write it to the container's cgroup, v1 or v2.
    async fn runtime_update(
        &self,
        c: &Arc<Container>,
        res: &oci_spec::runtime::LinuxResources,
    ) -> Result<()> {
        let path = c.bundle().join("update-resources.json");
        crate::store::write_json(&path, res, crate::store::Durability::Process)?;
        let p = path.to_string_lossy().into_owned();
        let out = self.runtime_cmd(c, &["update", "--resources", &p]).await;
        let _ = std::fs::remove_file(&path);
        out
    }
}
