//! `docker exec`: extra processes in a running container, each run by its own monitor
//! (`runtime exec -d` under a subreaper), streamed like attach, exit code kept for inspect.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use serde_json::{json, Value};
use tokio::sync::watch;

use super::io::{IoHub, Output};
use super::start::{handshake, spawn_monitor};
use super::{spec, user, Container, ContainerService};
use crate::api::types::ExecCreateRequest;
use crate::error::{EngineError, Result};
use crate::monitor::protocol::{read_frame, Frame};
use crate::monitor::{ExecProcess, ExitRecord, MonitorConfig};

#[derive(Clone, Debug, Default)]
pub struct ExecState {
    pub started: bool,
    pub running: bool,
    pub exit_code: Option<i64>,
    pub pid: i64,
}

pub struct Exec {
    pub id: String,
    pub container: Arc<Container>,
    pub cfg: ExecCreateRequest,
    pub io: Arc<IoHub>,
    state: Mutex<ExecState>,
    done: watch::Sender<bool>,
}

impl Exec {
    pub fn state(&self) -> ExecState {
        self.state.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    fn set(&self, f: impl FnOnce(&mut ExecState)) {
        f(&mut self.state.lock().unwrap_or_else(|p| p.into_inner()));
    }

    pub fn inspect(&self) -> Value {
        let s = self.state();
        json!({
            "ID": self.id,
            "Running": s.running,
            "ExitCode": s.exit_code,
            "ProcessConfig": {
                "tty": self.cfg.tty,
                "entrypoint": self.cfg.cmd.first().cloned().unwrap_or_default(),
                "arguments": self.cfg.cmd.iter().skip(1).cloned().collect::<Vec<_>>(),
                "privileged": self.cfg.privileged,
                "user": self.cfg.user,
            },
            "OpenStdin": self.cfg.attach_stdin,
            "OpenStderr": self.cfg.attach_stderr,
            "OpenStdout": self.cfg.attach_stdout,
            "CanRemove": false,
            "ContainerID": self.container.id,
            "DetachKeys": self.cfg.detach_keys,
            "Pid": s.pid,
        })
    }

    fn dir(&self) -> std::path::PathBuf {
        self.container.dir.join("execs").join(&self.id)
    }
}

pub struct ExecService {
    containers: Arc<ContainerService>,
    execs: Mutex<HashMap<String, Arc<Exec>>>,
}

impl ExecService {
    pub fn new(containers: Arc<ContainerService>) -> Arc<Self> {
        Arc::new(ExecService {
            containers,
            execs: Mutex::new(HashMap::new()),
        })
    }

    fn map(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<Exec>>> {
        self.execs.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn get(&self, id: &str) -> Result<Arc<Exec>> {
        self.map()
            .get(id)
            .cloned()
            .ok_or_else(|| EngineError::NotFound(format!("No such exec instance: {id}")))
    }

    pub fn create(&self, c: &Arc<Container>, cfg: ExecCreateRequest) -> Result<String> {
        if cfg.cmd.is_empty() {
            return Err(EngineError::invalid("No exec command specified"));
        }
        if !c.is_running() {
            return Err(EngineError::Conflict(format!(
                "Container {} is not running",
                c.id
            )));
        }
        if c.lock().st.state.is_paused() {
            return Err(EngineError::Conflict(format!(
                "Container {} is paused, unpause the container before exec",
                c.id
            )));
        }
        // Drop execs of containers that are gone, so the map does not grow forever.
        self.map()
            .retain(|_, e| !e.container.dir.as_os_str().is_empty() && e.container.dir.exists());
        let id = hex::encode(rand::random::<[u8; 32]>());
        let exec = Arc::new(Exec {
            id: id.clone(),
            container: Arc::clone(c),
            cfg,
            io: Arc::new(IoHub::default()),
            state: Mutex::new(ExecState::default()),
            done: watch::channel(false).0,
        });
        self.map().insert(id.clone(), exec);
        self.containers.emit(c, "exec_create", &[]);
        Ok(id)
    }

    /// Drops a finished exec nobody will inspect (a health probe's).
    pub fn forget(&self, id: &str) {
        self.map().remove(id);
    }

    /// What refuses a start before the process is tried: already started, container stopped.
    pub fn check_startable(&self, exec: &Exec) -> Result<()> {
        if exec.state().started {
            return Err(EngineError::Conflict(format!(
                "Error: Exec command {} has already run",
                exec.id
            )));
        }
        if !exec.container.is_running() {
            return Err(EngineError::Conflict(format!(
                "Container {} is not running",
                exec.container.id
            )));
        }
        Ok(())
    }

    /// Starts the process; returns once it runs (or failed to). Output flows to `exec.io`.
    pub async fn start(&self, exec: &Arc<Exec>) -> Result<()> {
        self.check_startable(exec)?;
        exec.set(|s| s.started = true);
        let started = self.launch(exec).await;
        if started.is_err() && exec.state().exit_code.is_none() {
            // As dockerd: an exec that could not be started (no such user, …) exited 126.
            exec.set(|s| {
                s.running = false;
                s.exit_code = Some(126);
            });
            exec.done.send_replace(true);
        }
        started
    }

    async fn launch(&self, exec: &Arc<Exec>) -> Result<()> {
        let c = &exec.container;
        let svc = &self.containers;
        let d = c.snapshot();
        let rootfs = c.rootfs();
        let user_spec = if exec.cfg.user.is_empty() {
            d.rec.config.user.clone()
        } else {
            exec.cfg.user.clone()
        };
        let u = user::resolve_with_groups(
            &rootfs,
            &user_spec,
            d.rec.host_config.group_add.as_deref().unwrap_or_default(),
        )?;
        let mut env = svc.env_for(&d, &u.home);
        for e in &exec.cfg.env {
            let k = e.split('=').next().unwrap_or_default();
            env.retain(|x| x.split('=').next() != Some(k));
            env.push(e.clone());
        }
        if exec.cfg.tty && !env.iter().any(|e| e.starts_with("TERM=")) {
            env.push("TERM=xterm".into());
        }
        let cwd = if !exec.cfg.working_dir.is_empty() {
            exec.cfg.working_dir.clone()
        } else if !d.rec.config.working_dir.is_empty() {
            d.rec.config.working_dir.clone()
        } else {
            "/".into()
        };
        let privileged = exec.cfg.privileged || d.rec.host_config.privileged;
        let caps = spec::capabilities(
            privileged,
            &d.rec.host_config.cap_add,
            &d.rec.host_config.cap_drop,
        )
        .map_err(EngineError::invalid)?;
        // The seccomp filter is the container's: runc installs it on every process it
        // starts in the container, the exec's included.
        let security = super::security_opt::parse(
            d.rec
                .host_config
                .security_opt
                .as_deref()
                .unwrap_or_default(),
        )
        .map_err(EngineError::invalid)?;
        let mut process = spec::process(
            exec.cfg.cmd.clone(),
            env,
            &cwd,
            (u.uid, u.gid, u.additional_gids),
            exec.cfg.tty,
            caps,
        );
        spec::confine_process(&mut process, &security, exec.cfg.privileged);
        super::resources::oci::set_rlimits(&mut process, &d.rec.host_config.resources)
            .map_err(EngineError::invalid)?;
        if let Some(size) = exec.cfg.console_size.as_ref().filter(|s| s.len() == 2) {
            process.set_console_size(spec::console_box(size[0] as u64, size[1] as u64));
        }
        let dir = exec.dir();
        std::fs::create_dir_all(&dir)?;
        let process_json = dir.join("process.json");
        std::fs::write(
            &process_json,
            serde_json::to_vec(&process)
                .map_err(|e| EngineError::internal(format!("process spec: {e}")))?,
        )?;
        let configured = c.lock().rec.host_config.runtime.clone();
        let (runtime_name, runtime) = svc.cfg.runtimes.of(&configured)?;
        let mc = MonitorConfig {
            runtime,
            runtime_root: Some(svc.runtime_root(&runtime_name)),
            id: c.id.clone(),
            bundle: c.bundle(),
            tty: exec.cfg.tty,
            open_stdin: exec.cfg.attach_stdin,
            log_path: None,
            log_rotation: Default::default(),
            exit_path: dir.join("exit.json"),
            socket_path: svc.monitor_socket(&exec.id),
            pid_path: dir.join("pid"),
            exec: Some(ExecProcess { process_json }),
            unmount_on_exit: None,
        };
        let cfg_path = dir.join("monitor.json");
        crate::store::write_json(&cfg_path, &mc, crate::store::Durability::Process)?;
        let (mut child, mut stream) = spawn_monitor(&svc.cfg.self_exe, &cfg_path)?;
        let started = handshake(&mut stream).await;
        match started {
            Err(msg) => {
                drop(stream);
                let _ = child.wait().await;
                let rec: Option<ExitRecord> = crate::store::read_json(&mc.exit_path).ok();
                let code = rec.map(|r| r.exit_code).unwrap_or(126);
                exec.set(|s| {
                    s.running = false;
                    s.exit_code = Some(code as i64);
                });
                exec.done.send_replace(true);
                Err(EngineError::invalid(format!(
                    "OCI runtime exec failed: {msg}: unknown"
                )))
            }
            Ok(pid) => {
                exec.set(|s| {
                    s.running = true;
                    s.pid = pid as i64;
                });
                self.containers
                    .emit(c, "exec_start", &[("execID", exec.id.clone())]);
                let exec2 = Arc::clone(exec);
                tokio::spawn(async move {
                    relay(&exec2, stream).await;
                    let _ = child.wait().await;
                    let code = exec2.state().exit_code.unwrap_or_else(|| {
                        crate::store::read_json::<ExitRecord>(&exec2.dir().join("exit.json"))
                            .map(|r| r.exit_code as i64)
                            .unwrap_or(255)
                    });
                    exec2.set(|s| {
                        s.running = false;
                        s.exit_code = Some(code);
                    });
                    exec2.io.publish(Output::Closed);
                    exec2.done.send_replace(true);
                    let _ = std::fs::remove_dir_all(exec2.dir());
                });
                Ok(())
            }
        }
    }

    /// Waits until the exec's process has exited and its record is final.
    pub async fn wait(&self, exec: &Exec) {
        let mut rx = exec.done.subscribe();
        while !*rx.borrow_and_update() {
            if rx.changed().await.is_err() {
                return;
            }
        }
    }
}

async fn relay(exec: &Arc<Exec>, stream: tokio::net::UnixStream) {
    let (mut r, w) = stream.into_split();
    let (stop_tx, writer) = super::io::spawn_frame_writer(Arc::clone(&exec.io), w);
    loop {
        match read_frame(&mut r).await {
            Ok(Some(Frame::Stdout(b))) => exec.io.publish(Output::Stdout(b)),
            Ok(Some(Frame::Stderr(b))) => exec.io.publish(Output::Stderr(b)),
            Ok(Some(Frame::Exited { code })) => exec.set(|s| {
                s.running = false;
                s.exit_code = Some(code as i64);
            }),
            Ok(Some(_)) => {}
            Ok(None) | Err(_) => break,
        }
    }
    let _ = stop_tx.send(());
    let _ = writer.await;
}
