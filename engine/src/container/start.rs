//! Starting a container: rootfs mount, /etc files, OCI bundle, the monitor process, and the
//! connection berthd keeps to it. Also re-adoption of running containers after a berthd restart.

use super::log_driver::{LogDriver, Rotation};
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use tokio::net::UnixStream;

use super::{etc_files, io::Output, spec, user, Container, ContainerService};
use crate::error::{EngineError, Result};
use crate::monitor::protocol::{read_frame, Frame};
use crate::monitor::{ExitRecord, MonitorConfig};
use crate::snapshot;

/// What ended a start attempt.
enum Handshake {
    Started(i32),
    Failed(String),
}

impl ContainerService {
    pub fn monitor_socket(&self, id: &str) -> PathBuf {
        // Short: unix socket paths are limited to 108 bytes.
        self.cfg
            .data_root
            .join("run")
            .join(format!("{}.sock", &id[..16]))
    }

    pub(crate) fn env_for(&self, d: &super::ContainerData, home: &str) -> Vec<String> {
        let cfg = &d.rec.config;
        let has = |env: &Vec<String>, k: &str| env.iter().any(|e| e.split('=').next() == Some(k));
        // Links' variables first, so the container's own settings win (dockerd's order).
        let mut env: Vec<String> = self
            .linked(d, false)
            .unwrap_or_default()
            .iter()
            .flat_map(|l| l.env())
            .filter(|e| !has(&cfg.env, e.split('=').next().unwrap_or_default()))
            .collect();
        env.extend(cfg.env.iter().cloned());
        if !has(&env, "PATH") {
            env.insert(
                0,
                "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".into(),
            );
        }
        if !has(&env, "HOSTNAME") {
            env.insert(1.min(env.len()), format!("HOSTNAME={}", cfg.hostname));
        }
        if cfg.tty && !has(&env, "TERM") {
            env.push("TERM=xterm".into());
        }
        if !has(&env, "HOME") {
            env.push(format!("HOME={home}"));
        }
        env
    }

    /// Everything up to the runtime: rootfs, /etc files, bundle. Returns the monitor config path.
    fn prepare_bundle(&self, c: &Container, plan: &super::network::NetPlan) -> Result<PathBuf> {
        let d = c.snapshot();
        let rootfs = c.rootfs();
        snapshot::unmount(&rootfs)?;
        let disposable = d.rec.host_config.auto_remove;
        self.images
            .snapshots
            .mount(&c.id, &d.rec.layers, &rootfs, disposable)?;
        let result: Result<PathBuf> = (|| {
            let u = user::resolve_with_groups(
                &rootfs,
                &d.rec.config.user,
                d.rec.host_config.group_add.as_deref().unwrap_or_default(),
            )?;
            let cwd = if d.rec.config.working_dir.is_empty() {
                "/".to_string()
            } else {
                d.rec.config.working_dir.clone()
            };
            if !cwd.starts_with('/') {
                return Err(EngineError::invalid(format!(
                    "the working directory '{cwd}' is invalid, it needs to be an absolute path"
                )));
            }
            if !super::path_is_safe(std::path::Path::new(&cwd)) {
                return Err(EngineError::invalid(format!(
                    "invalid working directory {cwd}"
                )));
            }
            // dockerd creates a missing working directory; inside the root, so that a symlink
            // of the image or the container cannot lead the mkdir onto the host.
            crate::fs::rootpath::mkdir_in_root(&rootfs, std::path::Path::new(&cwd))
                .with_context(|| format!("creating working directory {cwd}"))?;
            let host_network = plan.host_network;
            let hc = &d.rec.host_config;
            // Every linked container must run (dockerd's "Cannot link to a non running container").
            let linked = self.linked(&d, true)?;
            let etc = match &plan.shared_etc_dir {
                // `container:` mode sees the other container's names and resolvers.
                Some(dir) => etc_files::EtcFiles {
                    hostname: dir.join("hostname"),
                    hosts: dir.join("hosts"),
                    resolv_conf: dir.join("resolv.conf"),
                },
                None => etc_files::write(
                    &c.dir,
                    &etc_files::EtcInput {
                        hostname: &d.rec.config.hostname,
                        domainname: &d.rec.config.domainname,
                        host_network,
                        addresses: plan.addresses.clone(),
                        // `--add-host` entries, then the links (dockerd's order).
                        extra_hosts: super::network::parse_extra_hosts(
                            &hc.extra_hosts,
                            self.net.host_gateway(),
                        )?
                        .into_iter()
                        .chain(linked.iter().map(|l| (l.host_names(), l.ip.to_string())))
                        .collect(),
                        embedded_dns: plan.embedded_dns,
                        dns: &hc.dns,
                        dns_search: &hc.dns_search,
                        dns_options: &hc.dns_options,
                    },
                )?,
            };
            let namespaces = self.plan_namespaces(c, &d)?;
            // dockerd adds the init only in a PID namespace of the container's own: joined or
            // the host's, it already has one.
            let init = match (hc.init, &namespaces.pid) {
                (Some(true), super::namespaces::Join::Own) => Some(
                    super::init_binary::lookup(self.cfg.init_path.as_deref())
                        .map_err(EngineError::invalid)?,
                ),
                _ => None,
            };
            let input = spec::SpecInput {
                rootfs: &rootfs,
                args: std::iter::once(d.rec.path.clone())
                    .chain(d.rec.args.iter().cloned())
                    .collect(),
                env: self.env_for(&d, &u.home),
                cwd,
                uid: u.uid,
                gid: u.gid,
                additional_gids: u.additional_gids,
                tty: d.rec.config.tty,
                hostname: d.rec.config.hostname.clone(),
                host_network,
                host_uts: hc.uts_mode == "host",
                devices: hc.devices.clone(),
                device_cgroup_rules: hc.device_cgroup_rules.clone().unwrap_or_default(),
                readonly_rootfs: hc.readonly_rootfs,
                privileged: hc.privileged,
                cap_add: hc.cap_add.clone(),
                cap_drop: hc.cap_drop.clone(),
                etc_files: vec![
                    (etc.hostname, "/etc/hostname"),
                    (etc.hosts, "/etc/hosts"),
                    (etc.resolv_conf, "/etc/resolv.conf"),
                ],
                cgroups_path: format!("/berth/{}", c.id),
                // Records from before `--cgroupns` was stored have "": the old default.
                cgroup_ns: match hc.cgroupns_mode.as_str() {
                    "private" => true,
                    "host" => false,
                    _ => self.cfg.runtimes.cgroup == super::runtime::CgroupMode::V2,
                },
                mounts: self.setup_mounts(c, &rootfs)?,
                netns_path: plan.netns.clone(),
                security: super::security_opt::parse(
                    hc.security_opt.as_deref().unwrap_or_default(),
                )
                .map_err(EngineError::invalid)?,
                host_support: super::security_opt::HostSupport::probe(),
                namespaces,
                sysctls: hc.sysctls.clone(),
                oom_score_adj: i32::try_from(hc.oom_score_adj)
                    .map_err(|_| EngineError::invalid("OomScoreAdj out of range"))?,
                init,
            };
            let mut oci = spec::build(&input).map_err(EngineError::invalid)?;
            super::resources::oci::apply(&mut oci, &hc.resources).map_err(EngineError::invalid)?;
            if let (Some(size), Some(p)) = (console_size(hc), oci.process_mut().as_mut()) {
                p.set_console_size(Some(size));
            }
            let bundle = c.bundle();
            std::fs::create_dir_all(&bundle)?;
            let data = serde_json::to_vec(&oci).context("serializing OCI spec")?;
            std::fs::write(bundle.join("config.json"), data).context("writing OCI spec")?;

            let (runtime_name, runtime) = self.cfg.runtimes.of(&hc.runtime)?;
            let log_driver = LogDriver::from_config(&hc.log_config)?;
            let sock = self.monitor_socket(&c.id);
            if let Some(parent) = sock.parent() {
                std::fs::create_dir_all(parent)?;
            }
            let _ = std::fs::remove_file(&sock);
            let _ = std::fs::remove_file(c.dir.join("exit.json"));
            let mc = MonitorConfig {
                runtime,
                runtime_root: Some(self.runtime_root(&runtime_name)),
                id: c.id.clone(),
                bundle: bundle.clone(),
                tty: d.rec.config.tty,
                open_stdin: d.rec.config.open_stdin,
                log_path: matches!(log_driver, LogDriver::File(_)).then(|| c.log_path()),
                log_rotation: match log_driver {
                    LogDriver::File(r) => r,
                    LogDriver::None => Rotation::default(),
                },
                exit_path: c.dir.join("exit.json"),
                socket_path: sock,
                pid_path: c.dir.join("init.pid"),
                exec: None,
                unmount_on_exit: Some(rootfs.clone()),
            };
            let path = c.dir.join("monitor.json");
            crate::store::write_json(&path, &mc, crate::store::Durability::Process)?;
            Ok(path)
        })();
        if result.is_err() {
            self.release_mounts(c);
            let _ = snapshot::unmount(&rootfs);
        }
        result
    }

    /// `docker start`/`restart`: a start by hand clears the manual stop and the restart count
    /// (dockerd resets its restart manager) and cancels a pending policy restart.
    pub async fn start_by_user(self: &Arc<Self>, c: &Arc<Container>) -> Result<()> {
        *c.restart_delay.lock().unwrap_or_else(|e| e.into_inner()) = std::time::Duration::ZERO;
        let reset = {
            let d = c.lock();
            d.st.manually_stopped || d.st.restart_count != 0 || d.st.state.is_restarting()
        };
        // Only when there is something to reset: `docker run` comes through here, and a state
        // write is a file created on its path; start writes the state anyway.
        if reset {
            c.update(|d| {
                super::restart::drop_pending(d);
                d.st.manually_stopped = false;
                d.st.restart_count = 0;
            })?;
        }
        self.start(c).await
    }

    pub async fn start(self: &Arc<Self>, c: &Arc<Container>) -> Result<()> {
        let _op = c.op.lock().await;
        {
            let d = c.lock();
            if d.st.state.is_running() {
                return Err(EngineError::NotModified("container already started".into()));
            }
            if d.st.state.is_removal() {
                return Err(EngineError::Conflict(format!(
                    "cannot start container {}: it is being removed",
                    c.id
                )));
            }
        }
        c.monitor_gone().await?;
        let t0 = std::time::Instant::now();
        crate::cgroup::lock::warm_up();
        let prepared: Result<_> = async {
            let plan = self.setup_network(c).await?;
            tracing::debug!(id = %c.id, elapsed = ?t0.elapsed(), "network ready");
            let config_path = self.prepare_bundle(c, &plan)?;
            tracing::debug!(id = %c.id, elapsed = ?t0.elapsed(), "bundle ready");
            spawn_monitor(&self.cfg.self_exe, &config_path)
        }
        .await;
        let (mut child, stream) = match prepared {
            Ok(x) => x,
            Err(e) => {
                // Nothing runs: undo the network, release attach clients, honour --rm.
                self.teardown_network(c).await;
                if let Err(se) = c.update(|d| d.st.state.set_start_failed(None, e.to_string())) {
                    tracing::warn!(id = %c.id, error = %se, "recording a failed start");
                }
                c.io.publish(Output::Closed);
                if c.lock().rec.host_config.auto_remove {
                    drop(_op);
                    if let Err(re) = self.remove(c, true, true).await {
                        tracing::warn!(id = %c.id, error = %re, "auto-remove after failed start");
                    }
                }
                return Err(e);
            }
        };
        tracing::debug!(id = %c.id, elapsed = ?t0.elapsed(), "monitor spawned");
        let mut stream = stream;
        // Until Started (or Error) arrives nothing is running yet; output frames cannot come first.
        let hs = match handshake(&mut stream).await {
            Ok(pid) => Handshake::Started(pid),
            Err(msg) => Handshake::Failed(msg),
        };
        match hs {
            Handshake::Failed(msg) => {
                // Let the monitor finish its cleanup (runtime delete, unmount) before answering.
                drop(stream);
                let _ = child.wait().await;
                let _ = snapshot::unmount(&c.rootfs());
                self.teardown_network(c).await;
                self.release_mounts(c);
                let rec: Option<ExitRecord> =
                    crate::store::read_json(&c.dir.join("exit.json")).ok();
                let code = rec.as_ref().map(|r| r.exit_code).unwrap_or(128);
                let full = format!(
                    "failed to create task for container: failed to create shim task: OCI runtime create failed: {msg}: unknown"
                );
                let recorded = c.update(|d| {
                    d.st.state
                        .set_start_failed(Some(i64::from(code)), full.clone());
                    d.st.monitor_pid = 0;
                });
                if let Err(e) = recorded {
                    tracing::warn!(id = %c.id, error = %e, "recording a failed start");
                }
                self.emit(c, "die", &[("exitCode", code.to_string())]);
                // Attach clients of this start get nothing more.
                c.io.publish(Output::Closed);
                if c.lock().rec.host_config.auto_remove {
                    // `docker run --rm` waits for the removal even when the start failed.
                    drop(_op);
                    if let Err(e) = self.remove(c, true, true).await {
                        tracing::warn!(id = %c.id, error = %e, "auto-remove after failed start");
                    }
                }
                Err(EngineError::invalid(full))
            }
            Handshake::Started(pid) => {
                tracing::debug!(id = %c.id, elapsed = ?t0.elapsed(), "container started");
                let monitor_pid = child.id().map(|p| p as i32).unwrap_or(0);
                c.transition(|d| {
                    d.st.state
                        .set_running(u32::try_from(pid).unwrap_or(0), chrono::Utc::now())?;
                    d.st.monitor_pid = monitor_pid;
                    Ok(())
                })?;
                c.monitor_active.send_replace(true);
                let svc = Arc::clone(self);
                let c2 = Arc::clone(c);
                tokio::spawn(async move { svc.serve_monitor(c2, stream, Some(child)).await });
                self.emit(c, "start", &[]);
                Ok(())
            }
        }
    }

    /// Relays a running container's frames until its monitor goes away, then settles its state.
    async fn serve_monitor(
        self: Arc<Self>,
        c: Arc<Container>,
        stream: UnixStream,
        child: Option<tokio::process::Child>,
    ) {
        let (mut r, w) = stream.into_split();
        let (stop_tx, writer) = super::io::spawn_frame_writer(Arc::clone(&c.io), w);
        let mut exit_code: Option<i32> = None;
        let auto_remove = c.lock().rec.host_config.auto_remove;
        loop {
            match read_frame(&mut r).await {
                Ok(Some(Frame::Stdout(b))) => c.io.publish(Output::Stdout(b)),
                Ok(Some(Frame::Stderr(b))) => c.io.publish(Output::Stderr(b)),
                Ok(Some(Frame::Exited { code })) => {
                    exit_code = Some(code);
                    // The process is gone: free its ports and addresses before anyone waiting
                    // on the exit (`docker stop`, `docker wait`) goes on to reuse them.
                    self.teardown_network(&c).await;
                    self.on_exit(&c, code);
                    if auto_remove {
                        // Now, not once the monitor is gone: `remove` leaves the files to it.
                        let (svc, c) = (Arc::clone(&self), Arc::clone(&c));
                        tokio::spawn(async move { svc.auto_remove(&c).await });
                    }
                }
                Ok(Some(Frame::Started { pid })) => {
                    if let Err(e) =
                        c.transition(|d| d.st.state.set_pid(u32::try_from(pid).unwrap_or(0)))
                    {
                        tracing::warn!(id = %c.id, error = %e, "recording the re-adopted pid");
                    }
                }
                Ok(Some(_)) => {}
                Ok(None) | Err(_) => break,
            }
        }
        let _ = stop_tx.send(());
        let _ = writer.await;
        if let Some(mut ch) = child {
            let _ = ch.wait().await;
        }
        tracing::debug!(id = %c.id, "monitor gone");
        if exit_code.is_none() {
            // No exit was reported, so the network was not torn down with it.
            self.teardown_network(&c).await;
        }
        c.monitor_active.send_replace(false);
        if exit_code.is_none() {
            // The monitor died without reporting: trust its exit record if it wrote one.
            let rec: Option<ExitRecord> = crate::store::read_json(&c.dir.join("exit.json")).ok();
            let code = rec.map(|r| r.exit_code).unwrap_or(255);
            tracing::warn!(id = %c.id, code, "container monitor went away without reporting an exit");
            let _ = snapshot::unmount(&c.rootfs());
            self.on_exit(&c, code);
            self.after_exit(&c).await;
        } else if !auto_remove {
            self.schedule_restart(&c);
        }
    }

    fn on_exit(&self, c: &Arc<Container>, code: i32) {
        tracing::debug!(id = %c.id, code, "container exited");
        let rec: Option<ExitRecord> = crate::store::read_json(&c.dir.join("exit.json")).ok();
        let oom = rec.as_ref().is_some_and(|r| r.oom_killed);
        let at = rec
            .as_ref()
            .and_then(|r| chrono::DateTime::parse_from_rfc3339(&r.finished_at).ok())
            .map(|t| t.with_timezone(&chrono::Utc))
            .unwrap_or_else(chrono::Utc::now);
        let recorded = c.transition(|d| {
            d.st.state.set_exited(i64::from(code), oom, at)?;
            d.st.monitor_pid = 0;
            super::restart::decide(d)?;
            Ok(())
        });
        if let Err(e) = recorded {
            tracing::warn!(id = %c.id, error = %e, "recording an exit");
        }
        self.release_mounts(c);
        c.io.publish(Output::Closed);
        if rec.as_ref().is_some_and(|r| r.oom_killed) {
            // dockerd reports the kill before the exit it caused.
            self.emit(c, "oom", &[]);
        }
        c.exits.send_modify(|n| *n += 1);
        self.emit(c, "die", &[("exitCode", code.to_string())]);
    }

    /// After an exit: `--rm` removal, or the restart policy once the monitor is gone.
    async fn after_exit(self: &Arc<Self>, c: &Arc<Container>) {
        if c.lock().rec.host_config.auto_remove {
            self.auto_remove(c).await;
        } else {
            self.schedule_restart(c);
        }
    }

    /// `docker run --rm` waits for this removal: a transient failure gets retried rather than
    /// leaving the client waiting forever.
    async fn auto_remove(self: &Arc<Self>, c: &Arc<Container>) {
        for attempt in 1..=3u32 {
            match self.remove(c, true, true).await {
                Ok(()) => return,
                Err(e) => {
                    tracing::warn!(id = %c.id, attempt, error = %e, "auto-remove failed");
                    tokio::time::sleep(std::time::Duration::from_millis(100 * u64::from(attempt)))
                        .await;
                }
            }
        }
    }

    /// Brings containers that were running when berthd stopped back under management, and
    /// starts the stopped ones their restart policy brings back with the engine.
    pub async fn reconcile(self: &Arc<Self>) {
        for c in self.all() {
            let (running, status) = {
                let d = c.lock();
                (d.st.state.is_running(), d.st.state.status())
            };
            if status == super::state::Status::Removing {
                tracing::info!(id = %c.id, "finishing interrupted removal");
                let _ = self.remove(&c, true, false).await;
                continue;
            }
            if !running {
                // A stopped container has no rootfs mount or network; leftovers are stale.
                let _ = snapshot::unmount(&c.rootfs());
                super::namespaces::release_shm(&c);
                self.teardown_network(&c).await;
                if self.restarts_with_engine(&c) {
                    let svc = Arc::clone(self);
                    let c = Arc::clone(&c);
                    tokio::spawn(async move {
                        tracing::info!(id = %c.id, "starting again with the engine (restart policy)");
                        if let Err(e) = svc.start(&c).await {
                            tracing::warn!(id = %c.id, error = %e, "restart policy start failed");
                        }
                    });
                }
                continue;
            }
            let sock = self.monitor_socket(&c.id);
            match UnixStream::connect(&sock).await {
                Ok(stream) => {
                    tracing::info!(id = %c.id, "re-adopted running container");
                    let (net, name, mode) = {
                        let d = c.lock();
                        (
                            d.st.net.clone(),
                            d.rec.name.trim_start_matches('/').to_string(),
                            super::network::mode_of(&d.rec.host_config),
                        )
                    };
                    if let (Some(state), super::network::Mode::Bridge(primary)) = (net, mode) {
                        self.net.readopt(&c.id, &name, &primary, &state);
                        self.settle_networks(&c).await;
                    }
                    c.monitor_active.send_replace(true);
                    self.sync_paused(&c).await;
                    let svc = Arc::clone(self);
                    let c2 = Arc::clone(&c);
                    tokio::spawn(async move { svc.serve_monitor(c2, stream, None).await });
                }
                Err(e) => {
                    tracing::warn!(id = %c.id, error = %e, "container monitor is gone");
                    let rec: Option<ExitRecord> =
                        crate::store::read_json(&c.dir.join("exit.json")).ok();
                    let code = rec.map(|r| r.exit_code).unwrap_or(255);
                    self.cleanup_runtime(&c).await;
                    let _ = snapshot::unmount(&c.rootfs());
                    self.teardown_network(&c).await;
                    self.on_exit(&c, code);
                    self.after_exit(&c).await;
                }
            }
        }
    }

    /// `runtime delete -f` for a container whose monitor could not do it.
    pub async fn cleanup_runtime(&self, c: &Container) {
        let configured = c.lock().rec.host_config.runtime.clone();
        if let Ok((name, rt)) = self.cfg.runtimes.of(&configured) {
            let _ = tokio::process::Command::new(rt)
                .arg("--root")
                .arg(self.runtime_root(&name))
                .args(["delete", "-f", &c.id])
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .status()
                .await;
        }
    }
}

fn console_size(hc: &crate::api::types::HostConfig) -> Option<oci_spec::runtime::Box> {
    let v = hc.extra.get("ConsoleSize")?.as_array()?;
    spec::console_box(v.first()?.as_u64()?, v.get(1)?.as_u64()?)
}

/// Reads a new monitor's first word: the pid once the process runs, or why it could not start.
/// Nothing else can come first, so other frames are skipped.
pub async fn handshake(stream: &mut UnixStream) -> Result<i32, String> {
    loop {
        match read_frame(stream).await {
            Ok(Some(Frame::Started { pid })) => return Ok(pid),
            Ok(Some(Frame::Error(msg))) => return Err(msg),
            Ok(Some(_)) => continue,
            Ok(None) => return Err("the monitor exited during start".into()),
            Err(e) => return Err(format!("monitor: {e}")),
        }
    }
}

/// Starts `berthd __monitor CONFIG` in its own session with one end of a socketpair as fd 3.
pub fn spawn_monitor(
    self_exe: &std::path::Path,
    config: &std::path::Path,
) -> Result<(tokio::process::Child, UnixStream)> {
    let (ours, theirs) = std::os::unix::net::UnixStream::pair()?;
    ours.set_nonblocking(true)?;
    let theirs: OwnedFd = theirs.into();
    let fd = theirs.as_raw_fd();
    let mut cmd = tokio::process::Command::new(self_exe);
    cmd.arg("__monitor")
        .arg(config)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(false);
    // SAFETY: only async-signal-safe calls (setsid, dup2, fcntl) between fork and exec.
    unsafe {
        cmd.pre_exec(move || {
            libc::setsid();
            if fd == 3 {
                let flags = libc::fcntl(3, libc::F_GETFD);
                libc::fcntl(3, libc::F_SETFD, flags & !libc::FD_CLOEXEC);
            } else if libc::dup2(fd, 3) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let child = cmd.spawn().context("spawning the container monitor")?;
    drop(theirs);
    let stream = UnixStream::from_std(ours)?;
    Ok((child, stream))
}
