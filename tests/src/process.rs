//! Child processes that die with the test process, and teardown of everything a test left under
//! its temp dir: processes, mounts, cgroups, files.

use std::collections::{BTreeSet, HashMap};
use std::ffi::CString;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::sync::mpsc;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

type SpawnJob = (Command, mpsc::Sender<io::Result<Child>>);

/// Spawns `cmd` with `PR_SET_PDEATHSIG = SIGKILL`, so it dies when the test process dies even if
/// no destructor runs (statics, `abort`, a killed test binary).
///
/// The kernel sends the parent-death signal when the *thread* that forked the child exits, and
/// the test harness runs each test on a short-lived thread; so the fork happens on one spawner
/// thread that lives as long as the process.
pub fn spawn_tied(mut cmd: Command) -> io::Result<Child> {
    static SPAWNER: OnceLock<Mutex<mpsc::Sender<SpawnJob>>> = OnceLock::new();
    // SAFETY: prctl and getppid are async-signal-safe; nothing else runs between fork and exec.
    unsafe {
        cmd.pre_exec(|| {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0) != 0 {
                return Err(io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let spawner = SPAWNER.get_or_init(|| {
        let (tx, rx) = mpsc::channel::<SpawnJob>();
        std::thread::Builder::new()
            .name("berth-test-spawner".into())
            .spawn(move || {
                for (mut cmd, reply) in rx {
                    let _ = reply.send(cmd.spawn());
                }
            })
            .expect("start spawner thread");
        Mutex::new(tx)
    });
    let (reply_tx, reply_rx) = mpsc::channel();
    spawner
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .send((cmd, reply_tx))
        .map_err(|_| io::Error::other("spawner thread is gone"))?;
    reply_rx
        .recv()
        .map_err(|_| io::Error::other("spawner thread is gone"))?
}

/// Sends `sig` to `pid`; false if there is no such process.
pub(crate) fn signal(pid: u32, sig: libc::c_int) -> bool {
    // SAFETY: kill(2) has no memory-safety preconditions.
    unsafe { libc::kill(pid as libc::pid_t, sig) == 0 }
}

/// Whether `pid` runs: it exists and is not a zombie (dead, waiting for its parent to reap it).
pub fn process_alive(pid: i32) -> bool {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return false;
    };
    // The state follows the command name, which is in parentheses and may hold anything.
    let state = stat
        .rfind(')')
        .and_then(|i| stat[i + 1..].split_whitespace().next());
    !matches!(state, Some("Z" | "X") | None)
}

/// Waits (10 s at most, then panics) until `pid` has died. A zombie counts as dead: the death is
/// what callers wait for, not its reaping by whichever process adopted it.
pub fn wait_until_dead(pid: i32) {
    crate::wait_until(
        &format!("process {pid} to die"),
        Duration::from_secs(10),
        || {
            if process_alive(pid) {
                Err("still running".to_string())
            } else {
                Ok(())
            }
        },
    );
}

/// Waits for `child` to exit for up to `timeout`; true if it did (and was reaped).
pub(crate) fn wait_timeout(child: &mut Child, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        match child.try_wait() {
            Ok(Some(_)) => return true,
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(20)),
            Ok(None) => return false,
            Err(_) => return true,
        }
    }
}

/// SIGTERM, up to `grace` to exit, then SIGKILL; always reaps.
pub(crate) fn terminate(child: &mut Child, grace: Duration) {
    if let Ok(Some(_)) = child.try_wait() {
        return;
    }
    signal(child.id(), libc::SIGTERM);
    if !wait_timeout(child, grace) {
        eprintln!(
            "[harness] pid {} ignored SIGTERM for {grace:?}; SIGKILL",
            child.id()
        );
        let _ = child.kill();
        let _ = child.wait();
    }
}

/// Tears down everything under `dir` and removes it: kills every process that refers to it
/// (cmdline, cwd or root inside it, or a root on a mount under it) and their descendants,
/// removes the cgroups those processes were in once empty, unmounts every mount at or below `dir`
/// (deepest first, `MNT_DETACH`), then deletes the tree. Best effort: problems are printed.
/// Waits for `child` to exit; past `timeout` it is killed (then reaped), so a hung client never
/// holds a test up. A bounded poll of the child's state, shared by the tests that drive CLIs.
pub fn wait_child_or_kill(
    child: &mut std::process::Child,
    timeout: std::time::Duration,
) -> std::process::ExitStatus {
    let deadline = std::time::Instant::now() + timeout;
    loop {
        match child.try_wait() {
            Ok(Some(s)) => return s,
            Ok(None) if std::time::Instant::now() < deadline => {
                std::thread::sleep(std::time::Duration::from_millis(10))
            }
            _ => {
                let _ = child.kill();
                return child.wait().expect("reap the killed child");
            }
        }
    }
}

pub fn cleanup_dir(dir: &Path) {
    kill_processes_under(dir);
    unmount_all_under(dir);
    for attempt in 0..10 {
        match std::fs::remove_dir_all(dir) {
            Ok(()) => return,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return,
            Err(e) if attempt == 9 => {
                eprintln!("[harness] could not remove {}: {e}", dir.display());
            }
            Err(_) => {
                std::thread::sleep(Duration::from_millis(100));
                unmount_all_under(dir);
            }
        }
    }
}

fn under(path: &Path, dir: &Path) -> bool {
    path.starts_with(dir)
}

fn pids() -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .collect()
}

/// (ppid, state) from /proc/PID/stat.
fn stat_of(pid: u32) -> Option<(u32, char)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // "pid (comm) S ppid ..."; comm may contain spaces and parentheses.
    let rest = &stat[stat.rfind(')')? + 2..];
    let mut fields = rest.split_whitespace();
    let state = fields.next()?.chars().next()?;
    let ppid = fields.next()?.parse().ok()?;
    Some((ppid, state))
}

fn alive(pid: u32) -> bool {
    matches!(stat_of(pid), Some((_, state)) if state != 'Z' && state != 'X')
}

/// The cgroup directories of `pid` (`self` allowed), one per hierarchy (v2, and v1 in hybrid
/// setups), resolved to paths under the cgroup mounts of this mount namespace.
fn cgroup_dirs(pid: &str) -> Vec<PathBuf> {
    let Ok(text) = std::fs::read_to_string(format!("/proc/{pid}/cgroup")) else {
        return Vec::new();
    };
    let Ok(info) = std::fs::read_to_string("/proc/self/mountinfo") else {
        return Vec::new();
    };
    // (mount point, fstype, super options) of every cgroup mount.
    let mounts: Vec<(String, String, Vec<String>)> = info
        .lines()
        .filter_map(|l| {
            let (pre, post) = l.split_once(" - ")?;
            let mountpoint = unescape_mountinfo(pre.split(' ').nth(4)?);
            let mut post = post.split(' ');
            let fstype = post.next()?.to_string();
            let opts = post.nth(1)?.split(',').map(str::to_string).collect();
            fstype
                .starts_with("cgroup")
                .then_some((mountpoint, fstype, opts))
        })
        .collect();
    text.lines()
        .filter_map(|l| {
            let mut f = l.splitn(3, ':');
            let (id, controllers, path) = (f.next()?, f.next()?, f.next()?);
            let (mountpoint, _, _) = mounts.iter().find(|(_, fstype, opts)| {
                if id == "0" {
                    fstype == "cgroup2"
                } else {
                    fstype == "cgroup"
                        && controllers.split(',').all(|c| opts.iter().any(|o| o == c))
                }
            })?;
            Some(Path::new(mountpoint).join(path.trim_start_matches('/')))
        })
        .collect()
}

/// Whether `hay` mentions `dir` as a whole path (followed by `/`, NUL, space or the end).
fn mentions(hay: &[u8], dir: &[u8]) -> bool {
    hay.windows(dir.len())
        .enumerate()
        .any(|(i, w)| w == dir && matches!(hay.get(i + dir.len()), None | Some(b'/' | 0 | b' ')))
}

/// Device numbers of mounts at or below `dir` that no mount elsewhere shares (overlays, tmpfs;
/// not bind mounts of the host's own filesystems).
fn private_mount_devs(dir: &Path) -> BTreeSet<u64> {
    let mut inside = BTreeSet::new();
    let mut outside = BTreeSet::new();
    for (dev, mountpoint) in mountinfo() {
        if under(&mountpoint, dir) {
            inside.insert(dev);
        } else {
            outside.insert(dev);
        }
    }
    inside.difference(&outside).copied().collect()
}

/// Processes referring to `dir`, plus all their descendants.
fn processes_under(dir: &Path) -> BTreeSet<u32> {
    let me = std::process::id();
    let needle = dir.as_os_str().as_bytes();
    let mount_devs = private_mount_devs(dir);
    let mut matched = BTreeSet::new();
    let mut children: HashMap<u32, Vec<u32>> = HashMap::new();
    for pid in pids() {
        if pid == me {
            continue;
        }
        if let Some((ppid, _)) = stat_of(pid) {
            children.entry(ppid).or_default().push(pid);
        }
        let proc_dir = PathBuf::from(format!("/proc/{pid}"));
        let cmdline = std::fs::read(proc_dir.join("cmdline")).unwrap_or_default();
        let refers = mentions(&cmdline, needle)
            || std::fs::read_link(proc_dir.join("cwd")).is_ok_and(|p| under(&p, dir))
            || std::fs::read_link(proc_dir.join("root")).is_ok_and(|p| under(&p, dir))
            || std::fs::metadata(proc_dir.join("root"))
                .is_ok_and(|md| mount_devs.contains(&md.dev()));
        if refers {
            matched.insert(pid);
        }
    }
    let mut all = BTreeSet::new();
    let mut stack: Vec<u32> = matched.into_iter().collect();
    while let Some(pid) = stack.pop() {
        if pid != me && all.insert(pid) {
            stack.extend(children.get(&pid).into_iter().flatten().copied());
        }
    }
    all
}

fn kill_processes_under(dir: &Path) {
    let mine: BTreeSet<PathBuf> = cgroup_dirs("self").into_iter().collect();
    let mut cgroups = BTreeSet::new();
    for round in 0..5 {
        let victims: Vec<u32> = processes_under(dir)
            .into_iter()
            .filter(|&p| alive(p))
            .collect();
        if victims.is_empty() {
            break;
        }
        if round == 0 {
            eprintln!(
                "[harness] killing {} leftover process(es) under {}: {victims:?}",
                victims.len(),
                dir.display()
            );
        }
        for &pid in &victims {
            cgroups.extend(cgroup_dirs(&pid.to_string()));
            signal(pid, libc::SIGKILL);
        }
        let deadline = Instant::now() + Duration::from_secs(5);
        while victims.iter().any(|&p| alive(p)) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    // Cgroups the runtime made for containers: remove them once empty (never ours, never a
    // hierarchy's root). Deepest first, so nested ones go before their parents.
    let mut cgroups: Vec<PathBuf> = cgroups.into_iter().collect();
    cgroups.sort_by_key(|p| std::cmp::Reverse(p.components().count()));
    for path in cgroups {
        if mine.contains(&path) || !path.starts_with("/sys/fs/cgroup") {
            continue;
        }
        let is_hierarchy_root = std::fs::read_to_string("/proc/self/mountinfo").is_ok_and(|info| {
            info.lines()
                .any(|l| l.split(' ').nth(4).map(unescape_mountinfo).as_deref() == path.to_str())
        });
        if is_hierarchy_root {
            continue;
        }
        for _ in 0..50 {
            match std::fs::remove_dir(&path) {
                Err(e) if e.raw_os_error() == Some(libc::EBUSY) => {
                    std::thread::sleep(Duration::from_millis(20))
                }
                _ => break,
            }
        }
    }
}

/// (device number, mount point) of every mount in this mount namespace.
fn mountinfo() -> Vec<(u64, PathBuf)> {
    let Ok(info) = std::fs::read_to_string("/proc/self/mountinfo") else {
        return Vec::new();
    };
    info.lines()
        .filter_map(|l| {
            let mut f = l.split(' ');
            let (major, minor) = f.nth(2)?.split_once(':')?;
            let dev = libc::makedev(major.parse().ok()?, minor.parse().ok()?);
            let mountpoint = f.nth(1)?;
            Some((dev, PathBuf::from(unescape_mountinfo(mountpoint))))
        })
        .collect()
}

/// Mount points at or below `dir` in this mount namespace.
fn mounts_under(dir: &Path) -> Vec<PathBuf> {
    mountinfo()
        .into_iter()
        .map(|(_, m)| m)
        .filter(|m| under(m, dir))
        .collect()
}

/// mountinfo escapes space, tab, newline and backslash as \ooo.
fn unescape_mountinfo(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && i + 3 < b.len() && b[i + 1..i + 4].iter().all(u8::is_ascii_digit) {
            let v = (b[i + 1] - b'0') * 64 + (b[i + 2] - b'0') * 8 + (b[i + 3] - b'0');
            out.push(v);
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn unmount_all_under(dir: &Path) {
    for _ in 0..10 {
        let mut mounts = mounts_under(dir);
        if mounts.is_empty() {
            return;
        }
        mounts.sort_by_key(|m| std::cmp::Reverse(m.components().count()));
        mounts.dedup();
        for m in mounts {
            let Ok(c) = CString::new(m.as_os_str().as_bytes()) else {
                continue;
            };
            // SAFETY: c is a valid NUL-terminated path.
            if unsafe { libc::umount2(c.as_ptr(), libc::MNT_DETACH) } != 0 {
                let e = io::Error::last_os_error();
                if e.raw_os_error() != Some(libc::EINVAL) && e.raw_os_error() != Some(libc::ENOENT)
                {
                    eprintln!("[harness] umount {}: {e}", m.display());
                }
            }
        }
    }
    let left = mounts_under(dir);
    if !left.is_empty() {
        eprintln!("[harness] mounts left under {}: {left:?}", dir.display());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unescapes_mountinfo_paths() {
        assert_eq!(unescape_mountinfo(r"/tmp/a\040b\134c"), r"/tmp/a b\c");
        assert_eq!(unescape_mountinfo(r"/plain\"), r"/plain\");
    }

    #[test]
    fn mentions_whole_paths_only() {
        assert!(mentions(b"berthd\0--data-root\0/tmp/x/root\0", b"/tmp/x"));
        assert!(mentions(b"/tmp/x", b"/tmp/x"));
        assert!(!mentions(b"/tmp/xy/root", b"/tmp/x"));
    }

    #[test]
    fn finds_own_cgroups() {
        let dirs = cgroup_dirs("self");
        assert!(!dirs.is_empty());
        assert!(
            dirs.iter()
                .all(|d| d.starts_with("/sys/fs/cgroup") && d.is_dir()),
            "{dirs:?}"
        );
    }

    #[test]
    fn mountinfo_lists_root() {
        assert!(mountinfo().iter().any(|(_, m)| m == Path::new("/")));
    }

    #[test]
    fn cleanup_kills_processes_and_removes_dir() {
        let dir = crate::make_temp_dir("berth-harness-selftest-");
        let mut child = spawn_tied({
            let mut c = Command::new("/bin/busybox");
            c.args(["sleep", "600"]).current_dir(&dir);
            c
        })
        .expect("spawn sleep");
        std::fs::write(dir.join("file"), b"x").unwrap();
        cleanup_dir(&dir);
        assert!(wait_timeout(&mut child, Duration::from_secs(5)));
        assert!(!dir.exists());
    }
}
