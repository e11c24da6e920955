//! The monitor's life: start the runtime, pump streams, serve clients, reap, record the exit,
//! clean up.

use std::collections::HashMap;
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use tokio::io::unix::AsyncFd;
use tokio::io::AsyncWriteExt;
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::config::{write_atomic, ExitRecord, MonitorConfig};
use super::error::{IoContext, MonitorError, Result};
use super::fdio;
use super::logfile::{LogWriter, Stream};
use super::protocol::{encode, read_frame, Frame};
use super::runtime::{self, Reaper};

/// After the process is reaped, how long its output may keep arriving. The container's own pipes
/// close at once (the pid namespace dies with its init); only a stray holder (a background child
/// of an exec) can keep them open, and it must not keep the monitor alive.
const DRAIN_TIMEOUT: Duration = Duration::from_millis(300);
/// How long the runtime may take to hand over the pty after it exited successfully.
const CONSOLE_TIMEOUT: Duration = Duration::from_secs(2);
/// Bound on `runtime delete -f`, so a wedged runtime cannot keep the monitor alive forever.
const DELETE_TIMEOUT: Duration = Duration::from_secs(10);
/// How long clients get to take their last frames before the monitor exits.
const FLUSH_TIMEOUT: Duration = Duration::from_secs(2);
/// A client this far behind is disconnected rather than buffered without limit.
const MAX_CLIENT_BACKLOG: usize = 64 << 20;
const READ_BUF: usize = 32 * 1024;

pub fn run_monitor_with(cfg: MonitorConfig, control: Option<OwnedFd>) -> Result<i32> {
    // SAFETY: prctl(2) and signal(2) with constant arguments. Ignoring SIGPIPE makes writes to a
    // vanished client fail with EPIPE instead of killing the monitor.
    unsafe {
        if libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0 {
            return Err(std::io::Error::last_os_error())
                .ctx(|| "becoming a child subreaper".into());
        }
        libc::signal(libc::SIGPIPE, libc::SIG_IGN);
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .ctx(|| "building the tokio runtime".into())?;
    rt.block_on(async move {
        let control = match control {
            Some(fd) => {
                let s = std::os::unix::net::UnixStream::from(fd);
                s.set_nonblocking(true).ctx(|| "control socket".into())?;
                Some(UnixStream::from_std(s).ctx(|| "control socket".into())?)
            }
            None => None,
        };
        Monitor::new(cfg)?.run(control).await
    })
}

enum Event {
    /// A frame from a client.
    Input(Frame),
    Output(Stream, Bytes),
    /// One output source reached end of stream.
    OutputEof,
}

struct Client {
    tx: mpsc::UnboundedSender<Bytes>,
    /// Bytes queued for this client and not yet written.
    backlog: Arc<AtomicUsize>,
    writer: JoinHandle<()>,
    reader: JoinHandle<()>,
}

/// What a successful start leaves us with.
struct Running {
    pid: i32,
    /// Non-tty: our ends of the stdio pipes. Tty: the pty master as `stdout`, stdin written to it.
    stdout: Option<AsyncFd<OwnedFd>>,
    stderr: Option<AsyncFd<OwnedFd>>,
    stdin: Option<AsyncFd<OwnedFd>>,
    pty: Option<Arc<AsyncFd<OwnedFd>>>,
}

struct Monitor {
    cfg: MonitorConfig,
    reaper: Reaper,
    clients: HashMap<u64, Client>,
    next_client: u64,
    events_tx: mpsc::Sender<Event>,
    events_rx: mpsc::Receiver<Event>,
    log: Option<LogWriter>,
    /// Set after the first failed log write, so a full disk is reported once, not per chunk.
    log_failed: bool,
}

impl Monitor {
    fn new(cfg: MonitorConfig) -> Result<Self> {
        let (events_tx, events_rx) = mpsc::channel(64);
        Ok(Monitor {
            cfg,
            reaper: Reaper::new()?,
            clients: HashMap::new(),
            next_client: 0,
            events_tx,
            events_rx,
            log: None,
            log_failed: false,
        })
    }

    async fn run(mut self, control: Option<UnixStream>) -> Result<i32> {
        if let Some(c) = control {
            self.add_client(c, None);
        }
        let started = match self.start().await {
            Ok(r) => r,
            Err((msg, code)) => return self.fail(msg, code).await,
        };
        self.supervise(started).await
    }

    // ---- clients ----

    fn add_client(&mut self, stream: UnixStream, greeting: Option<&Frame>) {
        let id = self.next_client;
        self.next_client += 1;
        let (mut r, mut w) = stream.into_split();
        let (tx, mut rx) = mpsc::unbounded_channel::<Bytes>();
        let backlog = Arc::new(AtomicUsize::new(0));
        let bl = Arc::clone(&backlog);
        let writer = tokio::spawn(async move {
            while let Some(b) = rx.recv().await {
                if w.write_all(&b).await.is_err() {
                    // The client is gone; our sender notices on its next send.
                    break;
                }
                bl.fetch_sub(b.len(), Ordering::Relaxed);
            }
        });
        let ev = self.events_tx.clone();
        let reader = tokio::spawn(async move {
            // A client that stops sending (or half-closes) keeps receiving output.
            while let Ok(Some(f)) = read_frame(&mut r).await {
                if ev.send(Event::Input(f)).await.is_err() {
                    break;
                }
            }
        });
        let client = Client {
            tx,
            backlog,
            writer,
            reader,
        };
        if let Some(f) = greeting {
            Self::send_to(&client, Bytes::from(encode(f)));
        }
        self.clients.insert(id, client);
    }

    /// Queues `b`; false when the client is gone or hopelessly behind.
    fn send_to(c: &Client, b: Bytes) -> bool {
        let len = b.len();
        if c.backlog.fetch_add(len, Ordering::Relaxed) + len > MAX_CLIENT_BACKLOG {
            tracing::warn!("disconnecting a client that stopped reading");
            return false;
        }
        c.tx.send(b).is_ok()
    }

    fn broadcast(&mut self, f: &Frame) {
        let b = Bytes::from(encode(f));
        self.clients.retain(|_, c| {
            let keep = Self::send_to(c, b.clone());
            if !keep {
                c.writer.abort();
                c.reader.abort();
            }
            keep
        });
    }

    /// Lets every client write out what is queued (bounded), then drops them.
    async fn flush_clients(&mut self, deadline: Instant) {
        for (_, c) in self.clients.drain() {
            c.reader.abort();
            drop(c.tx);
            if tokio::time::timeout_at(deadline, c.writer).await.is_err() {
                tracing::warn!("a client did not take its last frames in time");
            }
        }
    }

    // ---- start ----

    /// Runs `runtime run -d` (or `exec -d`). Err carries the message and exit code to report.
    async fn start(&mut self) -> std::result::Result<Running, (String, i32)> {
        let internal = |e: MonitorError| (e.to_string(), 128);
        let _ = std::fs::remove_file(self.cfg.runtime_log());
        let pid_file = self.cfg.runtime_pid_file();
        let _ = std::fs::remove_file(&pid_file);
        if let Some(p) = &self.cfg.log_path {
            self.log = Some(
                LogWriter::open(p, self.cfg.log_rotation)
                    .ctx(|| format!("opening log {}", p.display()))
                    .map_err(internal)?,
            );
        }

        let console_path = self.cfg.tty.then(|| console_socket_path(&self.cfg));
        let console_listener = match &console_path {
            Some(p) => {
                let _ = std::fs::remove_file(p);
                Some(
                    UnixListener::bind(p)
                        .ctx(|| format!("binding console socket {}", p.display()))
                        .map_err(internal)?,
                )
            }
            None => None,
        };
        if self.cfg.exec.is_none() {
            // Again, as the runtime starts: the grace period berthd started may be over by now.
            crate::cgroup::lock::warm_up();
        }
        let mut cmd = runtime::start_command(&self.cfg, console_path.as_deref());
        let (mut stdin, mut stdout, mut stderr) = (None, None, None);
        if self.cfg.tty {
            // The container's stdio is the pty; the runtime itself gets nothing of ours.
            cmd.stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null());
        } else {
            let pipes = (|| -> std::io::Result<_> {
                if self.cfg.open_stdin {
                    let (r, w) = fdio::pipe()?;
                    cmd.stdin(Stdio::from(r));
                    stdin = Some(fdio::async_fd(w)?);
                } else {
                    cmd.stdin(Stdio::null());
                }
                let (r, w) = fdio::pipe()?;
                cmd.stdout(Stdio::from(w));
                stdout = Some(fdio::async_fd(r)?);
                let (r, w) = fdio::pipe()?;
                cmd.stderr(Stdio::from(w));
                stderr = Some(fdio::async_fd(r)?);
                Ok(())
            })();
            pipes
                .ctx(|| "creating stdio pipes".into())
                .map_err(internal)?;
        }
        let child = cmd
            .spawn()
            .ctx(|| format!("starting OCI runtime {}", self.cfg.runtime.display()))
            .map_err(internal)?;
        let runtime_pid = child.id() as i32;
        // Closes our copies of the container's ends of the pipes, so EOF means the container's
        // are closed.
        drop(cmd);
        drop(child);

        // The pty master arrives on the console socket while the runtime is still running.
        let mut console: Option<std::io::Result<OwnedFd>> = None;
        let status = match &console_listener {
            None => self.reaper.wait(runtime_pid).await,
            Some(l) => {
                let recv = async {
                    let (s, _) = l.accept().await?;
                    fdio::recv_fd(&s).await
                };
                tokio::pin!(recv);
                let status = {
                    let wait = self.reaper.wait(runtime_pid);
                    tokio::pin!(wait);
                    loop {
                        tokio::select! {
                            r = &mut recv, if console.is_none() => console = Some(r),
                            s = &mut wait => break s,
                        }
                    }
                };
                if status == 0 && console.is_none() {
                    // Sent before the runtime exited, so it is already queued on the socket.
                    console = Some(
                        tokio::time::timeout(CONSOLE_TIMEOUT, recv)
                            .await
                            .unwrap_or_else(|_| {
                                Err(std::io::Error::new(
                                    std::io::ErrorKind::TimedOut,
                                    "the runtime did not send the console",
                                ))
                            }),
                    );
                }
                status
            }
        };
        drop(console_listener);
        if let Some(p) = &console_path {
            let _ = std::fs::remove_file(p);
        }
        if status != 0 {
            let msg = runtime::runtime_error(&self.cfg.runtime_log(), status);
            let code = runtime::start_failure_code(&msg);
            return Err((msg, code));
        }

        let pid = std::fs::read_to_string(&pid_file)
            .ctx(|| format!("reading the container pid from {}", pid_file.display()))
            .map_err(internal)
            .and_then(|s| {
                s.trim()
                    .parse::<i32>()
                    .ok()
                    .filter(|p| *p > 0)
                    .ok_or_else(|| (format!("bad pid file {}: {s:?}", pid_file.display()), 128))
            })?;
        let pty = match console {
            None => None,
            Some(r) => {
                let fd = r
                    .and_then(fdio::async_fd)
                    .ctx(|| "receiving the container's pty".into());
                match fd {
                    Ok(fd) => Some(Arc::new(fd)),
                    Err(e) => {
                        // The process runs but we cannot serve its terminal: stop it.
                        // SAFETY: kill(2) on the process the runtime just started for us.
                        unsafe { libc::kill(pid, libc::SIGKILL) };
                        return Err(internal(e));
                    }
                }
            }
        };
        Ok(Running {
            pid,
            stdout,
            stderr,
            stdin,
            pty,
        })
    }

    /// Start failed: record it, tell the clients, clean up.
    async fn fail(mut self, msg: String, code: i32) -> Result<i32> {
        tracing::warn!(id = %self.cfg.id, code, error = %msg, "container failed to start");
        if let Err(e) = ExitRecord::now(code, Some(msg.clone()), false).write(&self.cfg.exit_path) {
            tracing::error!(error = %e, "writing the exit record");
        }
        self.broadcast(&Frame::Error(msg));
        let deadline = Instant::now() + FLUSH_TIMEOUT;
        self.cleanup().await;
        self.flush_clients(deadline).await;
        Ok(code)
    }

    // ---- running ----

    async fn supervise(mut self, r: Running) -> Result<i32> {
        let pid = r.pid;
        let listener = self.listen();
        if let Err(e) = write_atomic(&self.cfg.pid_path, pid.to_string().as_bytes()) {
            tracing::warn!(error = %e, "writing the pid file");
        }
        // Looked up now: the process (and its /proc entry) may be gone at exit.
        let oom_counter = match self.cfg.exec {
            None => runtime::oom_counter_from_proc(pid),
            Some(_) => None,
        };
        self.broadcast(&Frame::Started { pid });

        let mut pumps = Vec::new();
        let mut open_streams = 0usize;
        for (stream, fd) in [(Stream::Stdout, r.stdout), (Stream::Stderr, r.stderr)] {
            if let Some(fd) = fd {
                pumps.push(self.pump(stream, Arc::new(fd)));
                open_streams += 1;
            }
        }
        if let Some(pty) = &r.pty {
            pumps.push(self.pump(Stream::Stdout, Arc::clone(pty)));
            open_streams += 1;
        }
        // Stdin goes through its own task so a container that does not read cannot stall output.
        let mut stdin_tx = None;
        let mut stdin_task = None;
        if self.cfg.open_stdin {
            let target = match (r.stdin, &r.pty) {
                (Some(p), _) => Some(Arc::new(p)),
                (None, Some(pty)) => Some(Arc::clone(pty)),
                (None, None) => None,
            };
            if let Some(t) = target {
                let (tx, task) = stdin_writer(t);
                stdin_tx = Some(tx);
                stdin_task = Some(task);
            }
        }

        let mut code = self.reaper.take(pid);
        let mut drain_deadline = code.map(|_| Instant::now() + DRAIN_TIMEOUT);
        loop {
            if code.is_some() && open_streams == 0 {
                break;
            }
            tokio::select! {
                _ = self.reaper.changed(), if code.is_none() => {
                    code = self.reaper.take(pid);
                    if code.is_some() {
                        drain_deadline = Some(Instant::now() + DRAIN_TIMEOUT);
                    }
                }
                _ = sleep_until_opt(drain_deadline) => {
                    tracing::warn!(id = %self.cfg.id, "output still open after the process exited; not waiting longer");
                    break;
                }
                acc = accept_opt(listener.as_ref()) => match acc {
                    Ok(s) => self.add_client(s, Some(&Frame::Started { pid })),
                    Err(e) => tracing::warn!(error = %e, "accepting a client"),
                },
                ev = self.events_rx.recv() => match ev {
                    Some(Event::Output(stream, data)) => self.output(stream, data),
                    Some(Event::OutputEof) => open_streams = open_streams.saturating_sub(1),
                    Some(Event::Input(f)) => {
                        self.input(f, pid, code.is_some(), &mut stdin_tx, r.pty.as_deref());
                    }
                    None => {}
                },
            }
        }
        let code = match code {
            Some(c) => c,
            None => self.reaper.wait(pid).await,
        };
        for p in pumps {
            p.abort();
        }
        // Output that raced the exit still belongs in the log and to the clients.
        while let Ok(ev) = self.events_rx.try_recv() {
            if let Event::Output(stream, data) = ev {
                self.output(stream, data);
            }
        }
        if let Some(l) = self.log.as_mut() {
            if let Err(e) = l.flush() {
                tracing::warn!(error = %e, "writing the container log");
            }
        }
        drop(stdin_tx);
        if let Some(t) = stdin_task {
            t.abort();
        }
        drop(r.pty);
        let oom = self.cfg.exec.is_none()
            && oom_counter
                .or_else(|| runtime::oom_counter_from_bundle(&self.cfg.bundle))
                .is_some_and(|p| runtime::oom_killed(&p));
        tracing::debug!(id = %self.cfg.id, pid, code, oom, "container exited");
        if let Err(e) = ExitRecord::now(code, None, oom).write(&self.cfg.exit_path) {
            tracing::error!(error = %e, "writing the exit record");
        }
        self.broadcast(&Frame::Exited { code });
        let deadline = Instant::now() + FLUSH_TIMEOUT;
        drop(listener);
        self.cleanup().await;
        self.flush_clients(deadline).await;
        Ok(code)
    }

    /// Binds `socket_path` for later clients. Without it the container still runs; only a
    /// restarted berthd cannot find it, which berthd treats as a dead monitor.
    fn listen(&self) -> Option<UnixListener> {
        let p = &self.cfg.socket_path;
        let _ = std::fs::remove_file(p);
        let bound = UnixListener::bind(p).and_then(|l| {
            std::fs::set_permissions(p, std::os::unix::fs::PermissionsExt::from_mode(0o600))?;
            Ok(l)
        });
        match bound {
            Ok(l) => Some(l),
            Err(e) => {
                tracing::error!(path = %p.display(), error = %e, "binding the monitor socket");
                None
            }
        }
    }

    /// A task copying one output source into events until end of stream.
    fn pump(&self, stream: Stream, fd: Arc<AsyncFd<OwnedFd>>) -> JoinHandle<()> {
        let tx = self.events_tx.clone();
        tokio::spawn(async move {
            let mut buf = vec![0u8; READ_BUF];
            loop {
                match fdio::read(&fd, &mut buf).await {
                    Ok(0) => break,
                    Ok(n) => {
                        let data = Bytes::copy_from_slice(&buf[..n]);
                        if tx.send(Event::Output(stream, data)).await.is_err() {
                            return;
                        }
                    }
                    Err(e) => {
                        tracing::warn!(stream = stream.as_str(), error = %e, "reading container output");
                        break;
                    }
                }
            }
            let _ = tx.send(Event::OutputEof).await;
        })
    }

    fn output(&mut self, stream: Stream, data: Bytes) {
        if let Some(l) = self.log.as_mut() {
            match l.write(stream, &data) {
                Ok(()) => self.log_failed = false,
                Err(e) if !self.log_failed => {
                    self.log_failed = true;
                    tracing::warn!(error = %e, "writing the container log");
                }
                Err(_) => {}
            }
        }
        let f = match stream {
            Stream::Stdout => Frame::Stdout(data),
            Stream::Stderr => Frame::Stderr(data),
        };
        self.broadcast(&f);
    }

    fn input(
        &mut self,
        f: Frame,
        pid: i32,
        exited: bool,
        stdin: &mut Option<mpsc::UnboundedSender<Bytes>>,
        pty: Option<&AsyncFd<OwnedFd>>,
    ) {
        match f {
            Frame::Stdin(b) => {
                if let Some(tx) = stdin.as_ref() {
                    let _ = tx.send(b);
                }
            }
            Frame::StdinEof => {
                // A pipe is closed so the container reads EOF. A terminal has no half-close;
                // dockerd leaves a tty's input open when the attach's stdin ends, and so do we.
                if pty.is_none() {
                    *stdin = None;
                }
            }
            Frame::Resize { height, width } => {
                if let Some(pty) = pty {
                    let ws = libc::winsize {
                        ws_row: height,
                        ws_col: width,
                        ws_xpixel: 0,
                        ws_ypixel: 0,
                    };
                    // SAFETY: TIOCSWINSZ on the pty master with a valid winsize; the kernel
                    // signals SIGWINCH to the terminal's foreground process group.
                    if unsafe { libc::ioctl(pty.as_raw_fd(), libc::TIOCSWINSZ, &ws) } != 0 {
                        tracing::warn!(error = %std::io::Error::last_os_error(), "resizing the tty");
                    }
                }
            }
            Frame::Kill { signal } => {
                // Once reaped the pid may belong to someone else.
                if !exited {
                    // SAFETY: kill(2) on our (unreaped) child.
                    if unsafe { libc::kill(pid, signal) } != 0 {
                        tracing::warn!(pid, signal, error = %std::io::Error::last_os_error(), "kill");
                    }
                }
            }
            Frame::Stdout(_)
            | Frame::Stderr(_)
            | Frame::Started { .. }
            | Frame::Exited { .. }
            | Frame::Error(_) => {
                tracing::debug!(kind = f.kind(), "ignoring a frame only the monitor sends");
            }
        }
    }

    // ---- exit ----

    /// `runtime delete -f` (not for execs), unmount the rootfs, remove the socket.
    async fn cleanup(&mut self) {
        if self.cfg.exec.is_none() {
            match runtime::delete_command(&self.cfg).spawn() {
                Ok(child) => {
                    let pid = child.id() as i32;
                    drop(child);
                    match tokio::time::timeout(DELETE_TIMEOUT, self.reaper.wait(pid)).await {
                        Ok(0) => {}
                        Ok(status) => {
                            let msg = runtime::runtime_error(&self.cfg.runtime_log(), status);
                            tracing::warn!(id = %self.cfg.id, error = %msg, "runtime delete failed");
                        }
                        Err(_) => tracing::warn!(id = %self.cfg.id, "runtime delete timed out"),
                    }
                }
                Err(e) => tracing::warn!(error = %e, "starting runtime delete"),
            }
        }
        if let Some(m) = &self.cfg.unmount_on_exit {
            match nix::mount::umount2(m, nix::mount::MntFlags::MNT_DETACH) {
                Ok(()) | Err(nix::errno::Errno::EINVAL) | Err(nix::errno::Errno::ENOENT) => {}
                Err(e) => tracing::warn!(path = %m.display(), error = %e, "unmounting the rootfs"),
            }
        }
        let _ = std::fs::remove_file(&self.cfg.socket_path);
    }
}

/// Writes stdin data in order; dropping the sender closes the target when it is a pipe (the
/// task owns the last reference to it).
fn stdin_writer(target: Arc<AsyncFd<OwnedFd>>) -> (mpsc::UnboundedSender<Bytes>, JoinHandle<()>) {
    let (tx, mut rx) = mpsc::unbounded_channel::<Bytes>();
    let task = tokio::spawn(async move {
        while let Some(b) = rx.recv().await {
            if let Err(e) = fdio::write_all(&target, &b).await {
                // The container closed its stdin: later input has nowhere to go.
                tracing::debug!(error = %e, "writing container stdin");
                while rx.recv().await.is_some() {}
                break;
            }
        }
    });
    (tx, task)
}

/// The console socket lives beside the monitor socket, unless that path would not fit in a
/// sockaddr_un (108 bytes).
fn console_socket_path(cfg: &MonitorConfig) -> PathBuf {
    let p = cfg.socket_path.with_extension("console");
    if p.as_os_str().len() < 100 {
        p
    } else {
        std::env::temp_dir().join(format!("berth-console-{}.sock", std::process::id()))
    }
}

async fn sleep_until_opt(deadline: Option<Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}

/// The next client of the monitor socket. Only berthd's user may drive a container (the socket
/// is 0600 too; the check holds even if someone loosens the file's mode).
async fn accept_opt(l: Option<&UnixListener>) -> std::io::Result<UnixStream> {
    let Some(l) = l else {
        return std::future::pending().await;
    };
    loop {
        let (s, _) = l.accept().await?;
        let me = nix::unistd::geteuid().as_raw();
        match s.peer_cred() {
            Ok(cred) if cred.uid() == me => return Ok(s),
            Ok(cred) => {
                tracing::warn!(uid = cred.uid(), "refused a monitor client of another user")
            }
            Err(e) => tracing::warn!(error = %e, "refused a monitor client without credentials"),
        }
    }
}

/// True when `fd` is an open socket (berthd's end of the control socketpair).
pub(super) fn is_socket(fd: i32) -> bool {
    // SAFETY: fstat(2) into a zeroed local; a closed fd just fails.
    unsafe {
        let mut st: libc::stat = std::mem::zeroed();
        libc::fstat(fd, &mut st) == 0 && (st.st_mode & libc::S_IFMT) == libc::S_IFSOCK
    }
}

/// Used by `run_monitor` when even the config is unreadable: tell berthd on fd 3 directly.
pub(super) fn report_early_error(control: Option<&OwnedFd>, msg: &str) {
    if let Some(fd) = control {
        let b = encode(&Frame::Error(msg.to_string()));
        // SAFETY: write(2) of a buffer we own to a socket we own.
        unsafe { libc::write(fd.as_raw_fd(), b.as_ptr().cast(), b.len()) };
    }
}
