//! `docker ps`: the containers a listing shows, with dockerd's filters and its order (newest
//! first; `before`/`since` cut that order at a container; `limit` counts stopped ones too).

use std::sync::Arc;

use serde_json::{json, Value};

use super::{Container, ContainerData, ContainerService};
use crate::api::types::ContainerSummary;
use crate::error::{EngineError, Result};
use crate::filters::Filters;

const KNOWN: &[&str] = &[
    "status", "name", "label", "ancestor", "id", "exited", "before", "since", "health", "network",
    "volume", "publish", "expose", "is-task",
];
const STATUSES: &[&str] = &[
    "created",
    "restarting",
    "running",
    "removing",
    "paused",
    "exited",
    "dead",
];
const HEALTH: &[&str] = &["starting", "healthy", "unhealthy", "none"];

/// A filter set checked once, with the names in it resolved.
struct ListFilter<'a> {
    f: &'a Filters,
    exited: Vec<i64>,
    ancestors: Vec<String>,
    publish: Vec<String>,
    expose: Vec<String>,
    before: Option<String>,
    since: Option<String>,
    /// `is-task=true`: swarm tasks only, and berthd runs none.
    tasks_only: bool,
}

/// `80`, `80/udp` or `8000-8010/tcp` as the `port/proto` keys it covers (dockerd's `portOp`).
fn port_keys(key: &str, value: &str) -> Result<Vec<String>> {
    if value.contains(':') {
        return Err(EngineError::invalid(format!(
            "filter for '{key}' should not contain ':': {value}"
        )));
    }
    let (ports, proto) = value.split_once('/').unwrap_or((value, "tcp"));
    let (start, end) = crate::network::ports::port_range(ports).ok_or_else(|| {
        EngineError::invalid(format!(
            "error while looking up for {key} {value}: invalid port"
        ))
    })?;
    Ok((start..=end).map(|p| format!("{p}/{proto}")).collect())
}

impl<'a> ListFilter<'a> {
    fn parse(svc: &ContainerService, f: &'a Filters) -> Result<Self> {
        f.only(KNOWN)?;
        for st in f.get("status") {
            if !STATUSES.contains(&st.as_str()) {
                return Err(EngineError::invalid(format!(
                    "Invalid filter 'status={st}'"
                )));
            }
        }
        for h in f.get("health") {
            if !HEALTH.contains(&h.as_str()) {
                return Err(EngineError::invalid(format!(
                    "Unrecognised filter value for health: {h}"
                )));
            }
        }
        let mut exited = Vec::new();
        for e in f.get("exited") {
            exited.push(
                e.parse::<i64>()
                    .map_err(|_| EngineError::invalid(format!("invalid filter 'exited={e}'")))?,
            );
        }
        let mut publish = Vec::new();
        for v in f.get("publish") {
            publish.extend(port_keys("publish", v)?);
        }
        let mut expose = Vec::new();
        for v in f.get("expose") {
            expose.extend(port_keys("expose", v)?);
        }
        // A container named by before/since must exist (404), as in dockerd.
        let anchor = |key: &str| -> Result<Option<String>> {
            f.get(key)
                .first()
                .map(|n| svc.get(n).map(|c| c.id.clone()))
                .transpose()
        };
        Ok(ListFilter {
            f,
            exited,
            ancestors: f
                .get("ancestor")
                .iter()
                .filter_map(|a| svc.images.store.resolve(a).ok().map(|i| i.id))
                .collect(),
            publish,
            expose,
            before: anchor("before")?,
            since: anchor("since")?,
            tasks_only: f.bool("is-task")?.unwrap_or(false),
        })
    }

    /// Whether a container passes every filter but before/since and the running check.
    fn matches(&self, c: &Container, d: &ContainerData, networks: Option<&Value>) -> bool {
        let f = self.f;
        let s = &d.st.state;
        if self.tasks_only {
            return false;
        }
        if f.has("status") && !f.get("status").iter().any(|w| w == s.status().as_str()) {
            return false;
        }
        // dockerd: only containers that ran and stopped have an exit code to match.
        if !self.exited.is_empty()
            && (s.is_running() || s.started_at().is_none() || !self.exited.contains(&s.exit_code()))
        {
            return false;
        }
        let name = d.rec.name.trim_start_matches('/');
        if f.has("name")
            && !f
                .get("name")
                .iter()
                .any(|n| name.contains(n.trim_start_matches('/')))
        {
            return false;
        }
        if f.has("id") && !f.get("id").iter().any(|i| c.id.starts_with(i.as_str())) {
            return false;
        }
        if !f.labels_match(&d.rec.config.labels) {
            return false;
        }
        if f.has("ancestor") && !self.ancestors.contains(&d.rec.image_id) {
            return false;
        }
        if f.has("volume") && !super::mounts::mounts_match(&d.rec.mount_points, f.get("volume")) {
            return false;
        }
        if f.has("health") {
            // A container whose check never ran (or that has none) is `none`, as in dockerd.
            let health = d.st.health.as_ref().map_or("none", |h| h.status.as_str());
            if !f.get("health").iter().any(|h| h == health) {
                return false;
            }
        }
        if f.has("network") && !networks.is_some_and(|n| on_network(n, f.get("network"))) {
            return false;
        }
        if !self.publish.is_empty()
            && !self
                .publish
                .iter()
                .any(|p| d.rec.host_config.port_bindings.contains_key(p))
        {
            return false;
        }
        let exposed = d.rec.config.exposed_ports.as_ref();
        if !self.expose.is_empty()
            && !self
                .expose
                .iter()
                .any(|p| exposed.is_some_and(|e| e.contains_key(p)))
        {
            return false;
        }
        true
    }
}

/// A network named exactly, or by a prefix of its ID (dockerd's `network` filter).
fn on_network(settings: &Value, wanted: &[String]) -> bool {
    let Some(nets) = settings["Networks"].as_object() else {
        return false;
    };
    wanted.iter().any(|w| {
        nets.contains_key(w)
            || nets.values().any(|n| {
                n["NetworkID"]
                    .as_str()
                    .is_some_and(|id| !w.is_empty() && id.starts_with(w.as_str()))
            })
    })
}

impl ContainerService {
    pub fn list(
        &self,
        all: bool,
        limit: Option<i64>,
        filters: &Filters,
    ) -> Result<Vec<ContainerSummary>> {
        let lf = ListFilter::parse(self, filters)?;
        let limit = limit.filter(|n| *n > 0).map(|n| n as usize);
        // Stopped containers too when asked for all, a limit, or a status or exit code.
        let all = all || limit.is_some() || filters.has("status") || filters.has("exited");
        let mut containers: Vec<(Arc<Container>, ContainerData)> = self
            .all()
            .into_iter()
            .map(|c| {
                let d = c.snapshot();
                (c, d)
            })
            .collect();
        // Newest first, as dockerd lists them (IDs break ties so the order is stable).
        containers.sort_by(|a, b| {
            b.1.rec
                .created
                .cmp(&a.1.rec.created)
                .then(a.0.id.cmp(&b.0.id))
        });
        let mut before = lf.before.clone();
        let mut out = Vec::new();
        for (c, d) in &containers {
            if let Some(b) = &before {
                if *b == c.id {
                    before = None;
                }
                continue;
            }
            if lf.since.as_ref() == Some(&c.id) {
                break;
            }
            if !all && !d.st.state.counts_as_running() {
                continue;
            }
            // Network settings are built before the filters only when one needs them.
            let net = filters.has("network").then(|| self.summary_network(c, d));
            if !lf.matches(c, d, net.as_ref().map(|n| &n.1)) {
                continue;
            }
            if limit == Some(out.len()) {
                break;
            }
            let (ports, network_settings) = net.unwrap_or_else(|| self.summary_network(c, d));
            out.push(self.summary(c, d, ports, network_settings));
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

    fn summary(
        &self,
        c: &Container,
        d: &ContainerData,
        ports: Vec<Value>,
        network_settings: Value,
    ) -> ContainerSummary {
        let command = std::iter::once(d.rec.path.clone())
            .chain(d.rec.args.iter().cloned())
            .collect::<Vec<_>>()
            .join(" ");
        let network = match d.rec.host_config.network_mode.as_str() {
            "default" => "bridge".to_string(),
            m => m.to_string(),
        };
        ContainerSummary {
            id: c.id.clone(),
            names: vec![d.rec.name.clone()],
            image: d.rec.config.image.clone(),
            image_id: d.rec.image_id.clone(),
            command,
            created: crate::api::types::rfc3339_unix(Some(&d.rec.created)),
            ports,
            labels: d.rec.config.labels.clone(),
            state: d.st.state.status().as_str().into(),
            status: match &d.st.health {
                Some(h) if d.st.state.status() == super::state::Status::Running => {
                    d.st.state.status_text() + &super::health::ps_suffix(h)
                }
                _ => d.st.state.status_text(),
            },
            host_config: json!({"NetworkMode": network}),
            network_settings,
            mounts: self.mount_points(&d.rec.mount_points),
            size_rw: None,
            size_root_fs: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn port_filters_expand_like_dockerd() {
        assert_eq!(port_keys("publish", "80").unwrap(), ["80/tcp"]);
        assert_eq!(port_keys("expose", "53/udp").unwrap(), ["53/udp"]);
        assert_eq!(
            port_keys("publish", "8000-8002/tcp").unwrap(),
            ["8000/tcp", "8001/tcp", "8002/tcp"]
        );
        let e = port_keys("publish", "0.0.0.0:80").unwrap_err().to_string();
        assert_eq!(e, "filter for 'publish' should not contain ':': 0.0.0.0:80");
        assert!(port_keys("publish", "x").is_err());
        assert!(port_keys("publish", "9-8").is_err());
    }

    #[test]
    fn network_filter_takes_names_and_id_prefixes() {
        let s = json!({"Networks": {"web": {"NetworkID": "abc123"}}});
        assert!(on_network(&s, &["web".into()]));
        assert!(on_network(&s, &["abc".into()]));
        assert!(!on_network(&s, &["we".into()]));
        assert!(!on_network(&json!({"Networks": {}}), &["web".into()]));
    }
}
