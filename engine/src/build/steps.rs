//! The steps that make an image: `#(nop)` commits of config changes, `RUN` in a container,
//! `COPY`/`ADD` and `WORKDIR` into a created (never started) container's filesystem. Containers
//! are made, started and removed by the container service, and layers written by the code
//! `docker commit` uses (`ContainerService::write_layer`); the builder has no other way.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use sha2::{Digest, Sha256};

use super::cache;
use super::cache_from::Hit;
use super::context::{self, CopyAttrs, CopyEntry, SourceTree};
use super::dockerfile::{CommandLine, CopySpec};
use super::download;
use super::executor::{scratch_config, Build, BuildError, StageState, PREDEFINED_ARGS};
use super::metadata::{argv, shell_of};
use crate::api::types::{ContainerConfig, ContainerCreateRequest, HostConfig};
use crate::container::archive::read_small_file;
use crate::container::io::Output as IoOutput;
use crate::container::Container;
use crate::error::EngineError;
use crate::fs::extract::{extract, ExtractOptions};
use crate::fs::rootpath::{ContainerFs, Target};
use crate::image::commit::{child_config, CommitInfo};
use crate::image::pull::short_id;
use crate::image::store::ImageRecord;

/// A file in a container's directory while a build step uses it.
pub const STEP_MARKER: &str = "build-step";

/// Removes the containers of build steps that a killed berthd left behind (at start-up, before
/// the API serves).
pub async fn remove_leftover_step_containers(containers: &Arc<crate::container::ContainerService>) {
    for c in containers.all() {
        if !c.dir.join(STEP_MARKER).exists() {
            continue;
        }
        tracing::info!(id = %c.id, "removing the container of an interrupted build step");
        if let Err(e) = containers.remove(&c, true, true).await {
            tracing::warn!(id = %c.id, error = %e, "removing a leftover build container");
        }
    }
}

/// How a step's result is made, once the cache has missed.
enum Made {
    /// A config change only.
    Nop,
    /// A container's changes.
    Container(Arc<Container>),
}

fn go_err(e: impl std::fmt::Display) -> BuildError {
    BuildError::msg(e.to_string())
}

impl Build {
    /// The stored image of a state: `scratch` is stored (an empty image) once a container
    /// needs it.
    async fn stored_parent(&self, state: &mut StageState) -> Result<(), BuildError> {
        if state.image.id.is_empty() {
            state.image = self
                .engine
                .images
                .add_built_image(scratch_config(), vec![], None)?;
        }
        Ok(())
    }

    /// Looks the step up in the cache, then in the `--cache-from` images; on a hit the state
    /// moves to the cached image. `created_by` is the step's history line.
    async fn cached(
        &mut self,
        state: &mut StageState,
        key: &str,
        created_by: &str,
    ) -> Result<bool, BuildError> {
        if self.req.no_cache {
            return Ok(false);
        }
        let store = &self.engine.images.store;
        let local = self
            .cache
            .get(key, |id| store.get(id).is_some())
            .and_then(|id| store.get(&id));
        let rec = match local {
            Some(rec) => rec,
            None => match self.cache_from_hit(state, key, created_by)? {
                Some(rec) => rec,
                None => return Ok(false),
            },
        };
        tracing::debug!(id = %rec.id, "build step cache hit");
        self.out.line(" ---> Using cache").await?;
        self.out
            .line(format!(" ---> {}", short_id(&rec.id)))
            .await?;
        state.config = rec.config.config.clone().unwrap_or_default();
        state.image = rec;
        Ok(true)
    }

    /// A step taken from a `--cache-from` image: the source itself at its last step, else an
    /// image made from the source's step on the current one (recorded in the local cache).
    fn cache_from_hit(
        &mut self,
        state: &StageState,
        key: &str,
        created_by: &str,
    ) -> Result<Option<ImageRecord>, BuildError> {
        if self.cache_from.is_empty() {
            return Ok(None);
        }
        let store = &self.engine.images.store;
        let rec = match self
            .cache_from
            .probe(&state.image, created_by, &state.config)
        {
            None => return Ok(None),
            Some(Hit::Whole(id)) => match store.get(&id) {
                Some(rec) => rec,
                None => return Ok(None),
            },
            Some(Hit::Step { config, layers }) => {
                self.engine.images.add_built_image(*config, layers, None)?
            }
        };
        if let Err(e) = self.cache.put(key, &rec.id) {
            tracing::warn!(error = %e, "recording a build cache entry");
        }
        Ok(Some(rec))
    }

    /// Records the step's image: its layer (from the container, if any), its config and
    /// history, the cache entry. `container_cmd` is what the history shows (`created_by`).
    async fn commit_step(
        &mut self,
        state: &mut StageState,
        key: &str,
        made: Made,
        container_cmd: Vec<String>,
    ) -> Result<(), BuildError> {
        let (layer, container_id) = match &made {
            Made::Nop => (None, String::new()),
            Made::Container(c) => (
                self.engine.containers.write_layer(c, &state.image).await?,
                c.id.clone(),
            ),
        };
        let container_config = ContainerConfig {
            cmd: Some(container_cmd),
            image: state.image.id.clone(),
            ..state.config.clone()
        };
        let blob = child_config(
            &state.image,
            layer.as_ref(),
            CommitInfo {
                container_id: &container_id,
                container_config: &container_config,
                config: state.config.clone(),
                author: state.author.as_deref().unwrap_or(""),
                comment: "",
            },
        );
        let mut layers = state.image.layers.clone();
        layers.extend(layer);
        let rec = self.engine.images.add_built_image(blob, layers, None)?;
        if let Err(e) = self.cache.put(key, &rec.id) {
            tracing::warn!(error = %e, "recording a build cache entry");
        }
        if let Made::Container(c) = made {
            if self.req.remove || self.req.force_remove {
                self.out
                    .line(format!("Removing intermediate container {}", &c.id[..12]))
                    .await?;
                self.remove_container(&c.id).await;
            }
        }
        self.out
            .line(format!(" ---> {}", short_id(&rec.id)))
            .await?;
        state.config = rec.config.config.clone().unwrap_or_default();
        state.image = rec;
        Ok(())
    }

    /// A config-only step: `/bin/sh -c #(nop)  CMD ["sh"]` in the history, no layer.
    pub(super) async fn commit_nop(
        &mut self,
        state: &mut StageState,
        comment: &str,
    ) -> Result<(), BuildError> {
        let mut cmd = shell_of(&state.config);
        cmd.push("#(nop) ".into());
        cmd.push(comment.into());
        let key = cache::key(&state.image.id, &cmd.join(" "));
        if self.cached(state, &key, &cmd.join(" ")).await? {
            return Ok(());
        }
        self.commit_step(state, &key, Made::Nop, cmd).await
    }

    /// A container from the state's image, for a step; `cmd` is its command.
    async fn step_container(
        &mut self,
        state: &mut StageState,
        cmd: Vec<String>,
        env: Vec<String>,
    ) -> Result<Arc<Container>, BuildError> {
        self.stored_parent(state).await?;
        let config = ContainerConfig {
            image: state.image.id.clone(),
            cmd: Some(cmd),
            entrypoint: Some(vec![]),
            env,
            // No health checks in a build step.
            healthcheck: Some(serde_json::json!({"Test": ["NONE"]})),
            on_build: None,
            ..state.config.clone()
        };
        let host_config = HostConfig {
            network_mode: self.req.network_mode.clone(),
            extra_hosts: self.req.extra_hosts.clone(),
            resources: self.req.resources.clone(),
            shm_size: self.req.shm_size,
            ..Default::default()
        };
        let created = self
            .engine
            .containers
            .create(
                None,
                ContainerCreateRequest {
                    config,
                    host_config,
                    networking_config: Default::default(),
                },
            )
            .await?;
        let c = self.engine.containers.get(&created.id)?;
        // Marks the container as a build step's until the build is done with it: if berthd dies
        // mid-build, the next start removes it (`remove_leftover_step_containers`).
        if let Err(e) = std::fs::write(c.dir.join(STEP_MARKER), b"") {
            self.remove_container(&c.id).await;
            return Err(e.into());
        }
        Ok(c)
    }

    /// `RUN`: a container from the current image runs the command; its changes become the layer.
    pub(super) async fn run_step(
        &mut self,
        state: &mut StageState,
        cmd: &CommandLine,
    ) -> Result<(), BuildError> {
        let run_argv = argv(cmd, &state.config);
        // Build args in scope with a value, and not shadowed by ENV, go into the environment;
        // declared ones also into the history and the cache key (`|2 A=1 B=2 /bin/sh -c …`).
        let shadowed = |k: &str| {
            state
                .config
                .env
                .iter()
                .any(|e| e.split_once('=').map(|(n, _)| n).unwrap_or(e) == k)
        };
        let declared: BTreeMap<String, String> = state
            .args
            .iter()
            .filter_map(|(k, v)| v.clone().map(|v| (k.clone(), v)))
            .filter(|(k, _)| !shadowed(k))
            .collect();
        let mut env = state.config.env.clone();
        env.extend(declared.iter().map(|(k, v)| format!("{k}={v}")));
        for p in PREDEFINED_ARGS {
            if let Some(Some(v)) = self.req.build_args.get(*p) {
                if !declared.contains_key(*p) && !shadowed(p) {
                    env.push(format!("{p}={v}"));
                    self.used_args.insert(p.to_string());
                }
            }
        }
        let mut saved = Vec::new();
        if !declared.is_empty() {
            saved.push(format!("|{}", declared.len()));
            saved.extend(declared.iter().map(|(k, v)| format!("{k}={v}")));
        }
        saved.extend(run_argv.iter().cloned());
        let key = cache::key(&state.image.id, &saved.join(" "));
        if self.cached(state, &key, &saved.join(" ")).await? {
            return Ok(());
        }
        let c = self.step_container(state, run_argv.clone(), env).await?;
        self.leftovers.push(c.id.clone());
        self.out
            .line(format!(" ---> Running in {}", &c.id[..12]))
            .await?;
        let mut output = c.io.subscribe();
        if let Err(e) = self.engine.containers.start(&c).await {
            return Err(e.into());
        }
        let client = self.out.client_gone();
        tokio::pin!(client);
        loop {
            let next = tokio::select! {
                o = output.recv() => o,
                _ = &mut client => {
                    // The client hung up: stop the step, leave nothing behind.
                    let _ = self.engine.containers.kill(&c, None).await;
                    self.remove_container(&c.id).await;
                    self.leftovers.retain(|id| *id != c.id);
                    return Err(BuildError::msg("the client went away: build canceled"));
                }
            };
            match next {
                Ok(IoOutput::Stdout(b)) | Ok(IoOutput::Stderr(b)) => {
                    if let Err(e) = self.out.text(String::from_utf8_lossy(&b)).await {
                        let _ = self.engine.containers.kill(&c, None).await;
                        self.remove_container(&c.id).await;
                        self.leftovers.retain(|id| *id != c.id);
                        return Err(e);
                    }
                }
                Ok(IoOutput::Closed) | Err(tokio::sync::broadcast::error::RecvError::Closed) => {
                    break
                }
                Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => {
                    tracing::warn!(skipped = n, "build output too fast; some lines dropped");
                }
            }
        }
        let code = c.lock().st.state.exit_code();
        if code != 0 {
            // Kept for inspection as dockerd does (removed at the end with --force-rm): no longer
            // a step in progress.
            let _ = std::fs::remove_file(c.dir.join(STEP_MARKER));
            return Err(BuildError {
                message: format!(
                    "The command '{}' returned a non-zero code: {code}",
                    run_argv.join(" ")
                ),
                code: Some(code),
            });
        }
        self.leftovers.retain(|id| *id != c.id);
        self.commit_step(state, &key, Made::Container(c), saved)
            .await
    }

    /// `WORKDIR`: the config changed already; the directory is made in the image, as dockerd
    /// does, so that it exists for the steps after (and in the image).
    pub(super) async fn workdir_step(
        &mut self,
        state: &mut StageState,
        comment: &str,
    ) -> Result<(), BuildError> {
        // One comment word (`#(nop) WORKDIR /app`), as dockerd writes it for WORKDIR.
        let mut cmd = shell_of(&state.config);
        cmd.push(format!("#(nop) {comment}"));
        let key = cache::key(&state.image.id, &cmd.join(" "));
        if self.cached(state, &key, &cmd.join(" ")).await? {
            return Ok(());
        }
        let dir = PathBuf::from(&state.config.working_dir);
        let env = state.config.env.clone();
        let c = self.step_container(state, cmd.clone(), env).await?;
        let made = self
            .with_container_fs(&c, move |fs| {
                fs.mkdir_all(vec![fs.root().clone()], &dir, None)
                    .map(|_| ())
                    .map_err(|e| BuildError::msg(format!("mkdir {}: {e}", dir.display())))
            })
            .await;
        if let Err(e) = made {
            self.remove_container(&c.id).await;
            return Err(e);
        }
        let r = self
            .commit_step(state, &key, Made::Container(c.clone()), cmd)
            .await;
        // Never started: nothing to show as an intermediate container.
        self.remove_container(&c.id).await;
        r
    }

    /// Runs `f` on a created container's filesystem (mounted for the call).
    async fn with_container_fs<F>(&self, c: &Arc<Container>, f: F) -> Result<(), BuildError>
    where
        F: FnOnce(&ContainerFs) -> Result<(), BuildError> + Send + 'static,
    {
        let _op = c.op.lock().await;
        let session = self.engine.containers.open_fs(c, false).await?;
        tokio::task::spawn_blocking(move || f(&session.fs))
            .await
            .map_err(|e| BuildError::msg(format!("build step task: {e}")))?
    }

    /// `COPY`/`ADD` from the context, an earlier stage or an image.
    pub(super) async fn copy_step(
        &mut self,
        state: &mut StageState,
        spec: &CopySpec,
        is_add: bool,
        built: &[(Option<String>, String)],
    ) -> Result<(), BuildError> {
        let name = if is_add { "ADD" } else { "COPY" };
        let lx = self.req.dockerfile.lexer();
        let scope = state.scope();
        let mut sources = Vec::new();
        for s in &spec.sources {
            sources.push(lx.word(s, &scope).map_err(go_err)?);
        }
        let dest = lx.word(&spec.dest, &scope).map_err(go_err)?;
        let chown = match &spec.chown {
            Some(c) => Some(lx.word(c, &scope).map_err(go_err)?),
            None => None,
        };
        let mode = match &spec.chmod {
            Some(m) => Some(
                u32::from_str_radix(m, 8)
                    .ok()
                    .filter(|m| *m <= 0o7777)
                    .ok_or_else(|| BuildError::msg(format!("invalid chmod parameter: {m}")))?,
            ),
            None => None,
        };
        // `ADD <url>`: fetched by the engine before the step, on every build (the cache key is
        // the content's checksum, as for a context file).
        if !is_add && sources.iter().any(|s| download::is_url(s)) {
            return Err(BuildError::msg("source can't be a URL for COPY"));
        }
        let mut fetched = Vec::new();
        let _downloads = if is_add && sources.iter().any(|s| download::is_url(s)) {
            let d = download::Downloads::new(&self.engine.scratch_dir())?;
            for url in sources.iter().filter(|s| download::is_url(s)) {
                let (file, path) = d.fetch(url).await?;
                fetched.push((url.clone(), file, path));
            }
            Some(d)
        } else {
            None
        };
        // The tree the sources come from; an image's is mounted for the step.
        let mut view: Option<ViewMount> = None;
        let tree = match &spec.from {
            None => self.req.context.tree(),
            Some(from) => {
                let from = lx.word(from, &scope).map_err(go_err)?;
                let id = self.copy_source_image(&from, built).await?;
                let rec = self
                    .engine
                    .images
                    .store
                    .get(&id)
                    .ok_or_else(|| BuildError::msg(format!("No such image: {id}")))?;
                let target = self
                    .engine
                    .scratch_dir()
                    .join(format!("build-from-{:016x}", rand::random::<u64>()));
                std::fs::create_dir_all(&target)?;
                let m = ViewMount(target.clone());
                self.engine
                    .images
                    .snapshots
                    .mount_view(&rec.chain_ids(), &target)?;
                view = Some(m);
                SourceTree {
                    root: target,
                    scoped: true,
                }
            }
        };
        let plan = {
            let tree = tree.clone();
            let sources = sources.clone();
            tokio::task::spawn_blocking(move || plan_copy(&tree, &sources, is_add, &fetched))
                .await
                .map_err(|e| BuildError::msg(format!("build step task: {e}")))??
        };
        let many = plan.units.len() > 1;
        if many && !dest.ends_with('/') {
            return Err(BuildError::msg(format!(
                "When using {name} with more than one source file, the destination must be a directory and end with a /"
            )));
        }
        let abs_dest = if dest.starts_with('/') {
            dest.clone()
        } else {
            let wd = if state.config.working_dir.is_empty() {
                "/".to_string()
            } else {
                state.config.working_dir.clone()
            };
            format!("{}/{dest}", wd.trim_end_matches('/'))
        };
        // One comment word here (`#(nop) COPY …`), as dockerd writes it for COPY/ADD.
        let mut cmd = shell_of(&state.config);
        cmd.push(format!("#(nop) {name} {} in {dest} ", plan.checksum));
        let key = cache::key(
            &state.image.id,
            &format!(
                "{}\nchown={}\nchmod={:?}",
                cmd.join(" "),
                chown.as_deref().unwrap_or(""),
                mode
            ),
        );
        if self.cached(state, &key, &cmd.join(" ")).await? {
            return Ok(());
        }
        let env = state.config.env.clone();
        let c = self.step_container(state, cmd.clone(), env).await?;
        let dir_dest = dest.ends_with('/') || dest == "." || many;
        let units = plan.units;
        let copied = self
            .with_container_fs(&c, move |fs| {
                let owner = match &chown {
                    Some(spec) => {
                        let passwd = read_small_file(fs, "/etc/passwd");
                        let group = read_small_file(fs, "/etc/group");
                        let u = crate::container::user::resolve_in(&passwd, &group, spec).map_err(
                            |e| {
                                BuildError::msg(format!(
                                    "unable to convert uid/gid chown string to host mapping: {e}"
                                ))
                            },
                        )?;
                        (u.uid, u.gid)
                    }
                    None => (0, 0),
                };
                let attrs = CopyAttrs {
                    uid: owner.0,
                    gid: owner.1,
                    mode,
                };
                for unit in units {
                    copy_unit(fs, unit, &abs_dest, dir_dest, attrs, chown.is_some())?;
                }
                Ok(())
            })
            .await;
        drop(view);
        if let Err(e) = copied {
            self.remove_container(&c.id).await;
            return Err(e);
        }
        let r = self
            .commit_step(state, &key, Made::Container(c.clone()), cmd)
            .await;
        self.remove_container(&c.id).await;
        r
    }

    /// The image `COPY --from` names: an earlier stage (name or index), or an image.
    async fn copy_source_image(
        &mut self,
        from: &str,
        built: &[(Option<String>, String)],
    ) -> Result<String, BuildError> {
        let lower = from.to_ascii_lowercase();
        let stage = built
            .iter()
            .position(|(n, _)| n.as_deref() == Some(lower.as_str()))
            .or_else(|| from.parse::<usize>().ok().filter(|i| *i < built.len()));
        if let Some(i) = stage {
            let id = built[i].1.clone();
            if id.is_empty() {
                return Err(BuildError::msg(format!(
                    "stage {from} has no content to copy from"
                )));
            }
            return Ok(id);
        }
        if self.req.dockerfile.stage_index(from).is_some() {
            return Err(BuildError::msg(format!(
                "invalid from flag value {from}: refers to a stage that is not built before this one"
            )));
        }
        Ok(self.image(from, false).await?.id)
    }
}

/// An image's layers mounted read-only for `COPY --from`; unmounted on drop.
struct ViewMount(PathBuf);

impl Drop for ViewMount {
    fn drop(&mut self) {
        if let Err(e) = crate::snapshot::unmount(&self.0) {
            tracing::warn!(path = %self.0.display(), error = %e, "unmounting a build source view");
        }
        let _ = std::fs::remove_dir(&self.0);
    }
}

/// One source of a copy: a directory's contents, or one file.
struct CopyUnit {
    /// The source's name as given, for a file's name at the destination.
    rel: String,
    is_dir: bool,
    /// `ADD` of a local (plain or gzip) tar: its contents go into the destination directory.
    archive: bool,
    entries: Vec<CopyEntry>,
}

struct CopyPlan {
    units: Vec<CopyUnit>,
    /// `file:<sha256>`, `dir:<sha256>` or `multi:<sha256>`, as dockerd shows it in history.
    checksum: String,
}

/// `fetched`: the URL sources of an `ADD`, already downloaded (URL, file name, path).
fn plan_copy(
    tree: &SourceTree,
    sources: &[String],
    is_add: bool,
    fetched: &[(String, String, PathBuf)],
) -> Result<CopyPlan, BuildError> {
    let mut units = Vec::new();
    for s in sources {
        if let Some((_, name, path)) = fetched.iter().find(|(url, ..)| url == s) {
            // A download is copied as it is, never extracted.
            let meta = std::fs::metadata(path)?;
            units.push(CopyUnit {
                rel: name.clone(),
                is_dir: false,
                archive: false,
                entries: vec![CopyEntry {
                    name: name.clone(),
                    path: path.clone(),
                    meta,
                }],
            });
            continue;
        }
        for (rel, path) in tree.expand(s).map_err(go_err)? {
            let meta = std::fs::metadata(&path).map_err(|e| {
                BuildError::msg(format!(
                    "file not found in build context or excluded by .dockerignore: stat {rel}: {e}"
                ))
            })?;
            if meta.is_dir() {
                let mut entries = Vec::new();
                context::walk_dir(&path, "", &mut entries).map_err(go_err)?;
                units.push(CopyUnit {
                    rel,
                    is_dir: true,
                    archive: false,
                    entries,
                });
            } else {
                let archive = is_add && looks_like_archive(&path)?;
                let name = Path::new(&rel)
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_else(|| rel.clone());
                units.push(CopyUnit {
                    rel,
                    is_dir: false,
                    archive,
                    entries: vec![CopyEntry { name, path, meta }],
                });
            }
        }
    }
    if units.is_empty() {
        return Err(BuildError::msg("no source files were specified"));
    }
    let mut h = Sha256::new();
    for u in &units {
        h.update(format!("{}\0{}\n", u.rel, u.is_dir));
        context::hash_entries(&u.entries, CopyAttrs::default(), &mut h).map_err(go_err)?;
    }
    let kind = match units.as_slice() {
        [u] if u.is_dir => "dir",
        [_] => "file",
        _ => "multi",
    };
    Ok(CopyPlan {
        units,
        checksum: format!("{kind}:{}", hex::encode(h.finalize())),
    })
}

/// Whether `ADD` extracts the file: a tar, plain or compressed (gzip, bzip2, xz, zstd); a
/// compressed file that is not a tar is copied as it is, as dockerd does.
fn looks_like_archive(path: &Path) -> Result<bool, BuildError> {
    use std::io::Read;
    // A tar header's magic sits at offset 257 of the (decompressed) stream.
    let mut block = [0u8; 512];
    let read = std::fs::File::open(path).and_then(|f| {
        let mut r = crate::image::unpack::decompress(f).map_err(std::io::Error::other)?;
        let mut got = 0;
        while got < block.len() {
            match r.read(&mut block[got..])? {
                0 => break,
                k => got += k,
            }
        }
        Ok(got)
    });
    Ok(matches!(read, Ok(512)) && &block[257..262] == b"ustar")
}

/// Writes one unit into the container: a directory's contents into the destination
/// directory, a file into it (or as it, when the destination names a file).
fn copy_unit(
    fs: &ContainerFs,
    unit: CopyUnit,
    dest: &str,
    dir_dest: bool,
    attrs: CopyAttrs,
    chown_dirs: bool,
) -> Result<(), BuildError> {
    let dest_path = crate::fs::rootpath::clean_abs(Path::new(dest));
    if unit.archive {
        // Extracted into the destination directory, entries' owners kept unless --chown.
        let stack = fs
            .mkdir_all(vec![fs.root().clone()], &dest_path, None)
            .map_err(|e| BuildError::msg(format!("mkdir {}: {e}", dest_path.display())))?;
        let path = &unit.entries[0].path;
        let file = std::fs::File::open(path)?;
        let input = crate::image::unpack::decompress(file)
            .map_err(|e| BuildError::msg(format!("reading {}: {e}", unit.rel)))?;
        let opts = ExtractOptions {
            owner: chown_dirs.then_some((attrs.uid, attrs.gid)),
            ..Default::default()
        };
        return extract(fs, stack, false, input, opts)
            .map_err(|e| BuildError::from(EngineError::from(e)));
    }
    let mut entries = unit.entries;
    let base = if unit.is_dir || dir_dest {
        dest_path.clone()
    } else {
        // A single file: into the destination if it is an existing directory, else as it.
        let is_dir = matches!(
            fs.resolve(&dest_path, true).map(|r| r.target),
            Ok(Target::Dir(_))
        );
        if is_dir {
            dest_path.clone()
        } else {
            if let (Some(e), Some(name)) = (entries.first_mut(), dest_path.file_name()) {
                e.name = name.to_string_lossy().into_owned();
            }
            dest_path
                .parent()
                .map(Path::to_path_buf)
                .unwrap_or_else(|| PathBuf::from("/"))
        }
    };
    let owner = chown_dirs.then_some((attrs.uid, attrs.gid));
    let stack = fs
        .mkdir_all(vec![fs.root().clone()], &base, owner)
        .map_err(|e| BuildError::msg(format!("mkdir {}: {e}", base.display())))?;
    let (reader, writer) = std::io::pipe()?;
    let producer =
        std::thread::spawn(move || context::write_tar(&entries, attrs, writer).map(drop));
    let extracted = extract(fs, stack, false, reader, ExtractOptions::default());
    let produced = producer
        .join()
        .map_err(|_| BuildError::msg("copy task panicked"))?;
    extracted.map_err(|e| BuildError::from(EngineError::from(e)))?;
    produced?;
    Ok(())
}
