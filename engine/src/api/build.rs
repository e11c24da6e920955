//! `POST /build`: the classic builder's API. The handler parses the query, receives the context
//! (to disk), parses the Dockerfile (errors answer with a status, before anything runs) and
//! streams the build's JSON messages; the work is in `crate::build`.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{RawQuery, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use super::AppState;
use crate::build::context::{BuildContext, ContextError};
use crate::build::executor::{Build, BuildRequest, Output};
use crate::error::{EngineError, Result};
use crate::image::reference;

/// The query, as dockerd reads it (`t` and `extrahosts` may repeat).
#[derive(Default, Debug)]
struct BuildQuery {
    pairs: Vec<(String, String)>,
}

impl BuildQuery {
    fn parse(raw: Option<&str>) -> Result<Self> {
        let pairs = serde_urlencoded::from_str::<Vec<(String, String)>>(raw.unwrap_or(""))
            .map_err(|e| EngineError::invalid(format!("invalid query: {e}")))?;
        Ok(BuildQuery { pairs })
    }

    fn get(&self, k: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.as_str())
    }

    fn all(&self, k: &str) -> Vec<String> {
        self.pairs
            .iter()
            .filter(|(key, _)| key == k)
            .map(|(_, v)| v.clone())
            .filter(|v| !v.is_empty())
            .collect()
    }

    fn flag(&self, k: &str) -> bool {
        matches!(self.get(k), Some("1" | "true" | "True"))
    }

    fn int(&self, k: &str) -> Result<i64> {
        match self.get(k).filter(|v| !v.is_empty()) {
            None => Ok(0),
            Some(v) => v
                .parse()
                .map_err(|_| EngineError::invalid(format!("invalid value for {k}: {v}"))),
        }
    }

    /// A JSON map (`buildargs`, `labels`); `null` or absent is empty.
    fn json_map<T: serde::de::DeserializeOwned>(&self, k: &str) -> Result<BTreeMap<String, T>> {
        match self.get(k).filter(|v| !v.is_empty()) {
            None => Ok(BTreeMap::new()),
            Some(v) => serde_json::from_str::<Option<BTreeMap<String, T>>>(v)
                .map(Option::unwrap_or_default)
                .map_err(|e| EngineError::invalid(format!("invalid {k}: {e}"))),
        }
    }

    /// The resource limits of RUN containers (`--memory`, `--cpu-shares`, …), checked by the
    /// container service when a step's container is created, as for `docker run`.
    fn resources(&self) -> Result<crate::api::types::resources::Resources> {
        Ok(crate::api::types::resources::Resources {
            memory: self.int("memory")?,
            memory_swap: self.int("memswap")?,
            cpu_shares: self.int("cpushares")?,
            cpu_quota: self.int("cpuquota")?,
            cpu_period: self.int("cpuperiod")?,
            cpuset_cpus: self.get("cpusetcpus").unwrap_or("").to_string(),
            cpuset_mems: self.get("cpusetmems").unwrap_or("").to_string(),
            // `--ulimit`: a JSON list of {Name, Soft, Hard}, checked like `docker run`'s.
            ulimits: match self.get("ulimits").filter(|v| !v.is_empty()) {
                None => None,
                Some(v) => serde_json::from_str::<Option<Vec<crate::api::types::Ulimit>>>(v)
                    .map_err(|e| EngineError::invalid(format!("invalid ulimits: {e}")))?
                    .filter(|u| !u.is_empty()),
            },
            ..Default::default()
        })
    }

    /// Options this engine does not honour yet: refused when set, never ignored.
    fn refuse_unsupported(&self) -> Result<()> {
        let not_yet = |what: &str| {
            Err(EngineError::NotImplemented(format!(
                "{what} is not supported by this engine's builder yet"
            )))
        };
        if self.get("version") == Some("2") {
            return not_yet("BuildKit (version=2)");
        }
        for (k, what) in [
            ("cgroupparent", "--cgroup-parent"),
            ("remote", "a remote build context"),
        ] {
            if self.get(k).is_some_and(|v| !v.is_empty()) {
                return not_yet(what);
            }
        }
        // dockerd's answers on Linux without experimental mode.
        if self.flag("squash") {
            return Err(EngineError::invalid(
                "squash is only supported with experimental mode",
            ));
        }
        if let Some(i) = self
            .get("isolation")
            .filter(|i| !i.is_empty() && *i != "default")
        {
            return Err(EngineError::invalid(format!(
                "Unsupported isolation: \"{i}\""
            )));
        }
        if !self.all("securityopt").is_empty() {
            return Err(EngineError::invalid(
                "The daemon on this platform does not support setting security options on build",
            ));
        }
        for (k, what) in [("outputs", "--output")] {
            if let Some(v) = self.get(k).filter(|v| !v.is_empty()) {
                let parsed: Value = serde_json::from_str(v)
                    .map_err(|e| EngineError::invalid(format!("invalid {k}: {e}")))?;
                let empty = match &parsed {
                    Value::Null => true,
                    Value::Array(a) => a.is_empty(),
                    Value::Object(o) => o.is_empty(),
                    _ => false,
                };
                if !empty {
                    return not_yet(what);
                }
            }
        }
        if let Some(p) = self.get("platform").filter(|p| !p.is_empty()) {
            if !p.starts_with("linux/amd64") && p != "linux" {
                return Err(EngineError::invalid(format!(
                    "image platform {p} is not supported on this engine (linux/amd64)"
                )));
            }
        }
        Ok(())
    }
}

impl From<ContextError> for EngineError {
    fn from(e: ContextError) -> Self {
        match e {
            // A missing Dockerfile or source is the request's fault: 400, not 404.
            ContextError::NotFound(m) | ContextError::Refused(m) | ContextError::Invalid(m) => {
                EngineError::InvalidParameter(m)
            }
            other @ ContextError::Io { .. } => EngineError::internal(other),
        }
    }
}

pub async fn build(
    State(e): State<AppState>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
    body: Body,
) -> Result<Response> {
    let q = BuildQuery::parse(raw.as_deref())?;
    q.refuse_unsupported()?;
    let registry_auth = crate::image::auth::decode_config_header(
        headers
            .get("X-Registry-Config")
            .and_then(|v| v.to_str().ok()),
    )?;
    let mut tags = Vec::new();
    for t in q.all("t") {
        let r = reference::parse(&t)?;
        let r = if r.tag().is_none() && r.digest().is_none() {
            reference::parse(&format!("{t}:latest"))?
        } else {
            r
        };
        let canonical = reference::canonical_tag(&r)
            .ok_or_else(|| EngineError::invalid(format!("invalid tag {t}: no digests allowed")))?;
        tags.push(canonical);
    }
    let network_mode = match q.get("networkmode").unwrap_or("") {
        "" | "default" => "bridge".to_string(),
        m @ ("bridge" | "host" | "none") => m.to_string(),
        other => {
            return Err(EngineError::NotImplemented(format!(
                "--network {other} is not supported by this engine's builder yet (default, bridge, host, none)"
            )))
        }
    };
    let build_args: BTreeMap<String, Option<String>> = q.json_map("buildargs")?;
    let labels: BTreeMap<String, String> = q.json_map("labels")?;
    // `rm` defaults to true; `forcerm` implies it.
    let force_remove = q.flag("forcerm");
    let remove = force_remove || q.get("rm").is_none_or(|v| v.is_empty()) || q.flag("rm");

    // The context goes to disk as it arrives.
    let (reader, feeder) = super::archive::body_reader(body);
    let scratch = e.scratch_dir();
    let received =
        tokio::task::spawn_blocking(move || BuildContext::receive(reader, &scratch)).await;
    // The rest of the body (the tar's trailing blocks) is read before we answer: a refusal sent
    // while the client still writes would reach it as a broken pipe, not as our error.
    let _ = feeder.await;
    let context =
        received.map_err(|err| EngineError::internal(format!("context task: {err}")))??;
    let name = q.get("dockerfile").unwrap_or("").to_string();
    let (context, dockerfile) = tokio::task::spawn_blocking(move || {
        let (_, text) = context.read_dockerfile(&name)?;
        context.apply_dockerignore()?;
        Ok::<_, ContextError>((context, text))
    })
    .await
    .map_err(|err| EngineError::internal(format!("context task: {err}")))??;
    let dockerfile = crate::build::dockerfile::parse(&dockerfile)
        .map_err(|err| EngineError::invalid(err.to_string()))?;
    let target = match q.get("target").filter(|t| !t.is_empty()) {
        None => dockerfile.stages.len() - 1,
        Some(t) => dockerfile.stage_index(t).ok_or_else(|| {
            EngineError::invalid(format!("failed to reach build target {t} in Dockerfile"))
        })?,
    };
    // `--cache-from`: the images that exist here (dockerd skips the others; the classic builder
    // pulls nothing for them).
    let mut cache_from = Vec::new();
    if let Some(v) = q.get("cachefrom").filter(|v| !v.is_empty()) {
        let refs: Vec<String> = serde_json::from_str::<Option<Vec<String>>>(v)
            .map_err(|err| EngineError::invalid(format!("invalid cachefrom: {err}")))?
            .unwrap_or_default();
        for r in refs {
            match e.images.store.resolve(&r) {
                Ok(rec) => cache_from.push(rec),
                Err(EngineError::NotFound(_)) => {}
                Err(err) => return Err(err),
            }
        }
    }
    let cache_from = crate::build::cache_from::CacheSources::new(cache_from);
    let req = BuildRequest {
        dockerfile,
        context,
        tags,
        build_args,
        labels,
        target,
        no_cache: q.flag("nocache"),
        quiet: q.flag("q"),
        remove,
        force_remove,
        pull: q.flag("pull"),
        network_mode,
        extra_hosts: q.all("extrahosts"),
        resources: q.resources()?,
        shm_size: q.int("shmsize")?,
        registry_auth,
    };
    let (tx, rx) = tokio::sync::mpsc::channel::<Value>(256);
    let build = Build {
        engine: Arc::clone(&e),
        cache: Arc::clone(&e.build_cache),
        out: Output::new(tx, req.quiet),
        req,
        used_args: Default::default(),
        cache_from,
        leftovers: Vec::new(),
    };
    tokio::spawn(build.run());
    let stream = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv()
            .await
            .map(|v| (Ok::<_, std::io::Error>(format!("{v}\r\n")), rx))
    });
    Ok((
        [("Content-Type", "application/json")],
        Body::from_stream(stream),
    )
        .into_response())
}
