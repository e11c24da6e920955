//! Runs a parsed Dockerfile: the stages up to the target, each step on the image the previous
//! one made, with dockerd's classic-builder output (`Step 2/5 : RUN …`, ` ---> Using cache`,
//! `Successfully built …`). Steps themselves are in `steps.rs`.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use serde_json::{json, Value};

use super::cache::BuildCache;
use super::context::BuildContext;
use super::dockerfile::shell::Env;
use super::dockerfile::{Dockerfile, Instruction, Step};
use crate::api::types::{ContainerConfig, ImageConfigBlob, RootFs};
use crate::engine::Engine;
use crate::error::EngineError;
use crate::image::pull::{short_id, Progress};
use crate::image::reference;
use crate::image::store::ImageRecord;

/// Build args dockerd passes to `RUN` without an `ARG` (and leaves out of the history).
pub const PREDEFINED_ARGS: &[&str] = &[
    "HTTP_PROXY",
    "http_proxy",
    "HTTPS_PROXY",
    "https_proxy",
    "FTP_PROXY",
    "ftp_proxy",
    "NO_PROXY",
    "no_proxy",
    "ALL_PROXY",
    "all_proxy",
];

/// What `POST /build` asks for, parsed and checked.
pub struct BuildRequest {
    pub dockerfile: Dockerfile,
    pub context: BuildContext,
    /// Canonical `registry/repo:tag` names.
    pub tags: Vec<String>,
    /// `--build-arg`: a value, or none (unset in the client's environment).
    pub build_args: BTreeMap<String, Option<String>>,
    pub labels: BTreeMap<String, String>,
    /// Index of the last stage to build.
    pub target: usize,
    pub no_cache: bool,
    pub quiet: bool,
    pub remove: bool,
    pub force_remove: bool,
    pub pull: bool,
    pub network_mode: String,
    pub extra_hosts: Vec<String>,
    /// Limits of the RUN containers (`--memory`, `--cpu-shares`, …).
    pub resources: crate::api::types::resources::Resources,
    /// `--shm-size` of the RUN containers (0: dockerd's 64 MiB).
    pub shm_size: i64,
    /// Registry credentials for pulls (`X-Registry-Config`), by registry.
    pub registry_auth: std::collections::HashMap<String, crate::api::types::AuthConfig>,
}

/// A build's failure: the message of the stream's `errorDetail`, and the exit code of a failed
/// `RUN` (the CLI exits with it, as with dockerd).
#[derive(Debug)]
pub struct BuildError {
    pub message: String,
    pub code: Option<i64>,
}

impl<E: Into<EngineError>> From<E> for BuildError {
    fn from(e: E) -> Self {
        BuildError {
            message: e.into().to_string(),
            code: None,
        }
    }
}

impl BuildError {
    pub fn msg(m: impl Into<String>) -> Self {
        BuildError {
            message: m.into(),
            code: None,
        }
    }

    pub fn to_json(&self) -> Value {
        let mut detail = json!({ "message": self.message });
        if let Some(c) = self.code {
            detail["code"] = json!(c);
        }
        json!({ "errorDetail": detail, "error": self.message })
    }
}

/// The JSON stream to the client. In quiet mode the step output is held back and only shown
/// if the build fails (dockerd's `q`).
pub struct Output {
    tx: Progress,
    quiet: bool,
    held: Vec<Value>,
}

impl Output {
    pub fn new(tx: Progress, quiet: bool) -> Self {
        Output {
            tx,
            quiet,
            held: Vec::new(),
        }
    }

    pub async fn send(&mut self, v: Value) -> Result<(), BuildError> {
        self.tx
            .send(v)
            .await
            .map_err(|_| BuildError::msg("the client went away: build canceled"))
    }

    /// A `stream` message (the text as is).
    pub async fn text(&mut self, s: impl Into<String>) -> Result<(), BuildError> {
        let v = json!({ "stream": s.into() });
        if self.quiet {
            self.held.push(v);
            return Ok(());
        }
        self.send(v).await
    }

    pub async fn line(&mut self, s: impl std::fmt::Display) -> Result<(), BuildError> {
        self.text(format!("{s}\n")).await
    }

    /// Resolves when the client is gone (the response stream was dropped).
    pub fn client_gone(&self) -> impl std::future::Future<Output = ()> + use<> {
        let tx = self.tx.clone();
        async move { tx.closed().await }
    }

    /// The progress channel, for pulls of base images.
    pub fn progress(&self) -> &Progress {
        &self.tx
    }

    /// On failure: what quiet mode held back, then the error.
    pub async fn fail(&mut self, e: &BuildError) {
        for v in std::mem::take(&mut self.held) {
            let _ = self.tx.send(v).await;
        }
        let _ = self.tx.send(e.to_json()).await;
    }
}

/// Variables a step sees: the config's `ENV` first (it wins over an `ARG` of the same name),
/// then the stage's build args.
pub struct Scope<'a> {
    pub env: &'a [String],
    pub args: &'a BTreeMap<String, Option<String>>,
}

impl Env for Scope<'_> {
    fn lookup(&self, name: &str) -> Option<String> {
        self.env
            .lookup(name)
            .or_else(|| self.args.get(name).cloned().flatten())
    }
}

/// One stage being built.
pub struct StageState {
    /// The image so far (`scratch`: an empty record with an empty ID, not stored).
    pub image: ImageRecord,
    pub config: ContainerConfig,
    /// `ARG`s declared in this stage, with their values (None: declared, no value).
    pub args: BTreeMap<String, Option<String>>,
    pub author: Option<String>,
    /// A `CMD` was given in this stage (a later `ENTRYPOINT` keeps it).
    pub cmd_set: bool,
}

impl StageState {
    pub fn scope(&self) -> Scope<'_> {
        Scope {
            env: &self.config.env,
            args: &self.args,
        }
    }

    fn from_image(image: ImageRecord) -> Self {
        let config = image.config.config.clone().unwrap_or_default();
        let author = image.config.author.clone();
        StageState {
            image,
            config,
            args: BTreeMap::new(),
            author,
            cmd_set: false,
        }
    }
}

/// The config of an image with no layers (`FROM scratch`); the same blob every time, so its
/// ID is stable.
pub fn scratch_config() -> ImageConfigBlob {
    ImageConfigBlob {
        created: None,
        author: None,
        architecture: "amd64".into(),
        variant: None,
        os: "linux".into(),
        config: Some(ContainerConfig::default()),
        rootfs: RootFs {
            kind: "layers".into(),
            diff_ids: vec![],
        },
        history: vec![],
        extra: Default::default(),
    }
}

pub fn scratch_record() -> ImageRecord {
    ImageRecord {
        id: String::new(),
        config: scratch_config(),
        layers: vec![],
        repo_digests: vec![],
        created: 0,
        size: 0,
    }
}

/// One build: the request, the engine, the output.
pub struct Build {
    pub engine: Arc<Engine>,
    pub cache: Arc<BuildCache>,
    pub req: BuildRequest,
    pub out: Output,
    /// Build args an `ARG` (or the predefined list) consumed.
    pub used_args: BTreeSet<String>,
    /// Intermediate containers of failed steps, removed with `--force-rm`.
    pub leftovers: Vec<String>,
    /// `--cache-from` images (those that exist locally, as dockerd).
    pub cache_from: super::cache_from::CacheSources,
}

impl Build {
    /// Runs the build; on failure the error is in the stream and the result is None.
    pub async fn run(mut self) -> Option<String> {
        match self.run_stages().await {
            Ok(id) => Some(id),
            Err(e) => {
                tracing::debug!(error = %e.message, "build failed");
                if self.req.force_remove {
                    for id in std::mem::take(&mut self.leftovers) {
                        self.remove_container(&id).await;
                    }
                }
                self.out.fail(&e).await;
                None
            }
        }
    }

    pub async fn remove_container(&self, id: &str) {
        let Ok(c) = self.engine.containers.get(id) else {
            return;
        };
        if let Err(e) = self.engine.containers.remove(&c, true, true).await {
            tracing::warn!(id, error = %e, "removing an intermediate container");
        }
    }

    fn meta_scope(&mut self) -> Result<BTreeMap<String, Option<String>>, BuildError> {
        let lx = self.req.dockerfile.lexer();
        let mut meta: BTreeMap<String, Option<String>> = BTreeMap::new();
        for a in self.req.dockerfile.meta_args.clone() {
            let value = match self.req.build_args.get(&a.name) {
                Some(Some(v)) => Some(v.clone()),
                _ => match &a.default {
                    Some(d) => {
                        let scope = Scope {
                            env: &[],
                            args: &meta,
                        };
                        Some(
                            lx.word(d, &scope)
                                .map_err(|e| BuildError::msg(e.to_string()))?,
                        )
                    }
                    None => None,
                },
            };
            self.used_args.insert(a.name.clone());
            meta.insert(a.name, value);
        }
        Ok(meta)
    }

    async fn run_stages(&mut self) -> Result<String, BuildError> {
        let meta = self.meta_scope()?;
        let mut stages = self.req.dockerfile.stages[..=self.req.target].to_vec();
        if !self.req.labels.is_empty() {
            // dockerd adds `--label`s as a last LABEL instruction.
            let mut text = String::from("LABEL");
            for (k, v) in &self.req.labels {
                text.push_str(&format!(
                    " {}='{v}'",
                    serde_json::to_string(k).unwrap_or_default()
                ));
            }
            let parsed = super::dockerfile::parse(&format!("FROM scratch\n{text}"))
                .map_err(|e| BuildError::msg(format!("invalid --label: {e}")))?;
            if let Some(s) = parsed.stages[0].steps.first() {
                let mut s = s.clone();
                s.original = text;
                if let Some(last) = stages.last_mut() {
                    last.steps.push(s);
                }
            }
        }
        let total: usize = stages.iter().map(|s| 1 + s.steps.len()).sum();
        let mut n = 0;
        let mut built: Vec<(Option<String>, String)> = Vec::new();
        let mut last: Option<StageState> = None;
        for stage in &stages {
            n += 1;
            self.out
                .line(format!("Step {n}/{total} : {}", stage.from.original))
                .await?;
            let lx = self.req.dockerfile.lexer();
            let base = lx
                .word(
                    &stage.base,
                    &Scope {
                        env: &[],
                        args: &meta,
                    },
                )
                .map_err(|e| BuildError::msg(e.to_string()))?;
            let mut state = self.from(&base, &built).await?;
            self.run_triggers(&mut state, &built, &meta).await?;
            for step in &stage.steps {
                n += 1;
                self.out
                    .line(format!("Step {n}/{total} : {}", step.original))
                    .await?;
                self.dispatch(&mut state, step, &built, &meta).await?;
            }
            built.push((stage.name.clone(), state.image.id.clone()));
            last = Some(state);
        }
        let state = last.ok_or_else(|| BuildError::msg("no build stage"))?;
        if state.image.id.is_empty() {
            return Err(BuildError::msg(
                "No image was generated. Is your Dockerfile empty?",
            ));
        }
        self.finish(&state.image.id).await?;
        Ok(state.image.id)
    }

    async fn finish(&mut self, id: &str) -> Result<(), BuildError> {
        let unused: Vec<&String> = self
            .req
            .build_args
            .keys()
            .filter(|k| !self.used_args.contains(*k) && !PREDEFINED_ARGS.contains(&k.as_str()))
            .collect();
        if !unused.is_empty() {
            let names: Vec<&str> = unused.iter().map(|s| s.as_str()).collect();
            self.out
                .line(format!(
                    "[Warning] One or more build-args [{}] were not consumed",
                    names.join(" ")
                ))
                .await?;
        }
        self.out.send(json!({"aux": {"ID": id}})).await?;
        self.out
            .line(format!("Successfully built {}", short_id(id)))
            .await?;
        for tag in self.req.tags.clone() {
            self.engine.images.store.tag(id, &tag)?;
            let shown = reference::familiar(&tag);
            let attrs = HashMap::from([("name".to_string(), shown.clone())]);
            self.engine.events.emit("image", "tag", id, attrs);
            self.out
                .line(format!("Successfully tagged {shown}"))
                .await?;
        }
        if self.req.quiet {
            self.out.send(json!({"stream": format!("{id}\n")})).await?;
        }
        Ok(())
    }

    /// `FROM`: `scratch`, an earlier stage by name, or an image (pulled when missing, or with
    /// `--pull`).
    async fn from(
        &mut self,
        base: &str,
        built: &[(Option<String>, String)],
    ) -> Result<StageState, BuildError> {
        if base.eq_ignore_ascii_case("scratch") {
            return Ok(StageState::from_image(scratch_record()));
        }
        let lower = base.to_ascii_lowercase();
        if let Some((_, id)) = built.iter().find(|(n, _)| n.as_deref() == Some(&lower)) {
            let rec = if id.is_empty() {
                scratch_record()
            } else {
                self.engine
                    .images
                    .store
                    .get(id)
                    .ok_or_else(|| BuildError::msg(format!("No such image: {id}")))?
            };
            self.out
                .line(format!(" ---> {}", short_id(&rec.id)))
                .await?;
            return Ok(StageState::from_image(rec));
        }
        let rec = self.image(base, self.req.pull).await?;
        self.out
            .line(format!(" ---> {}", short_id(&rec.id)))
            .await?;
        Ok(StageState::from_image(rec))
    }

    /// An image by name: the local one, or pulled (progress in the build's stream).
    pub async fn image(&mut self, name: &str, pull: bool) -> Result<ImageRecord, BuildError> {
        if !pull {
            if let Ok(rec) = self.engine.images.store.resolve(name) {
                return Ok(rec);
            }
        }
        let r = reference::parse(name)?;
        let r = if r.tag().is_none() && r.digest().is_none() {
            reference::parse(&format!("{name}:latest"))?
        } else {
            r
        };
        let auth = crate::image::auth::auth_for(&self.req.registry_auth, r.registry());
        let resolved = self.engine.images.resolve_remote(r, auth).await?;
        let shown = reference::familiar(&resolved.reference.whole());
        let (rec, _) = self
            .engine
            .images
            .fetch_layers(resolved, self.out.progress())
            .await?;
        let attrs = HashMap::from([("name".to_string(), shown.clone())]);
        self.engine.events.emit("image", "pull", &shown, attrs);
        Ok(rec)
    }

    /// The base image's `ONBUILD` triggers, run first (and not passed on to this image).
    async fn run_triggers(
        &mut self,
        state: &mut StageState,
        built: &[(Option<String>, String)],
        meta: &BTreeMap<String, Option<String>>,
    ) -> Result<(), BuildError> {
        let triggers = state.config.on_build.take().unwrap_or_default();
        if triggers.is_empty() {
            return Ok(());
        }
        let plural = if triggers.len() > 1 { "s" } else { "" };
        self.out
            .line(format!(
                "# Executing {} build trigger{plural}",
                triggers.len()
            ))
            .await?;
        for t in triggers {
            let parsed = super::dockerfile::parse(&format!("FROM scratch\n{t}")).map_err(|e| {
                BuildError::msg(format!("invalid ONBUILD trigger {t:?}: {}", e.message))
            })?;
            for step in &parsed.stages[0].steps {
                self.dispatch(state, step, built, meta).await?;
            }
        }
        Ok(())
    }

    async fn dispatch(
        &mut self,
        state: &mut StageState,
        step: &Step,
        built: &[(Option<String>, String)],
        meta: &BTreeMap<String, Option<String>>,
    ) -> Result<(), BuildError> {
        let lx = self.req.dockerfile.lexer();
        match &step.instruction {
            Instruction::From { .. } => Err(BuildError::msg("FROM inside a stage")),
            Instruction::Arg(decls) => {
                let mut comment = String::from("ARG");
                for d in decls {
                    let default = match &d.default {
                        Some(v) => Some(
                            lx.word(v, &state.scope())
                                .map_err(|e| BuildError::msg(e.to_string()))?,
                        ),
                        None => None,
                    };
                    comment.push_str(&format!(" {}", d.name));
                    if let Some(v) = &default {
                        comment.push_str(&format!("={v}"));
                    }
                    let value = match self.req.build_args.get(&d.name) {
                        Some(Some(v)) => Some(v.clone()),
                        // A global ARG's value flows into a stage that declares it again.
                        _ => default.or_else(|| meta.get(&d.name).cloned().flatten()),
                    };
                    self.used_args.insert(d.name.clone());
                    state.args.insert(d.name.clone(), value);
                }
                self.commit_nop(state, &comment).await
            }
            Instruction::Run(cmd) => self.run_step(state, cmd).await,
            Instruction::Copy(spec) => self.copy_step(state, spec, false, built).await,
            Instruction::Add(spec) => self.copy_step(state, spec, true, built).await,
            Instruction::Workdir(_) => {
                let scope_env = state.config.env.clone();
                let args = state.args.clone();
                let scope = Scope {
                    env: &scope_env,
                    args: &args,
                };
                let comment = super::metadata::apply(
                    &mut state.config,
                    &step.instruction,
                    &lx,
                    &scope,
                    &mut state.cmd_set,
                )?;
                self.workdir_step(state, &comment).await
            }
            Instruction::Maintainer(m) => {
                state.author = Some(m.clone());
                self.commit_nop(state, &format!("MAINTAINER {m}")).await
            }
            other => {
                let scope_env = state.config.env.clone();
                let args = state.args.clone();
                let scope = Scope {
                    env: &scope_env,
                    args: &args,
                };
                let comment = super::metadata::apply(
                    &mut state.config,
                    other,
                    &lx,
                    &scope,
                    &mut state.cmd_set,
                )?;
                self.commit_nop(state, &comment).await
            }
        }
    }
}
