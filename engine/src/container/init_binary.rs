//! `--init`: a small init (tini, which dockerd ships as `docker-init`) runs as PID 1 and the
//! container's command as its child, so that signals are forwarded and zombies reaped. The
//! binary is bind-mounted read-only where dockerd puts it; it must be static, as the image may
//! have no libc.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use oci_spec::runtime::Mount;

/// Where dockerd mounts the init in the container.
pub const IN_CONTAINER_PATH: &str = "/sbin/docker-init";

/// Names looked up when berthd has no `--init-path`: dockerd's, then Debian's `tini` package
/// (`tini-static` first: the dynamic `tini` only runs in images with a compatible libc).
const CANDIDATES: &[&str] = &["docker-init", "tini-static", "tini"];

/// dockerd's "libexec" directories, searched before PATH (moby `lookupBinPath`).
const LIBEXEC_DIRS: &[&str] = &[
    "/usr/local/libexec/docker",
    "/usr/libexec/docker",
    "/usr/local/lib/docker",
    "/usr/lib/docker",
];

fn is_executable(p: &Path) -> bool {
    std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

fn search(name: &str, path_var: &str) -> Option<PathBuf> {
    LIBEXEC_DIRS
        .iter()
        .copied()
        .chain(path_var.split(':').filter(|d| !d.is_empty()))
        .map(|d| Path::new(d).join(name))
        .find(|p| is_executable(p))
}

/// The init binary on the host: berthd's `--init-path` (a path, or a name looked up as dockerd
/// does), else the first of `docker-init`, `tini-static`, `tini` found.
pub fn lookup(configured: Option<&Path>) -> Result<PathBuf, String> {
    let path_var = std::env::var("PATH")
        .unwrap_or_else(|_| "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".into());
    lookup_in(configured, &path_var)
}

fn lookup_in(configured: Option<&Path>, path_var: &str) -> Result<PathBuf, String> {
    if let Some(p) = configured {
        let found = if p.is_absolute() {
            is_executable(p).then(|| p.to_path_buf())
        } else {
            search(&p.to_string_lossy(), path_var)
        };
        return found.ok_or_else(|| {
            format!(
                "--init: the init binary {} (berthd --init-path) is not an executable file",
                p.display()
            )
        });
    }
    CANDIDATES
        .iter()
        .find_map(|n| search(n, path_var))
        .ok_or_else(|| {
            "--init: no init binary found (docker-init, tini-static or tini on PATH); \
             install Debian's tini package or start berthd with --init-path"
                .to_string()
        })
}

/// The process's arguments under the init, as dockerd runs them.
pub fn wrap(args: Vec<String>) -> Vec<String> {
    [IN_CONTAINER_PATH.to_string(), "--".to_string()]
        .into_iter()
        .chain(args)
        .collect()
}

/// The read-only bind of the init binary into the container.
pub fn mount(host_path: &Path) -> Mount {
    let mut m = Mount::default();
    m.set_destination(IN_CONTAINER_PATH.into());
    m.set_typ(Some("bind".into()));
    m.set_source(Some(host_path.to_path_buf()));
    m.set_options(Some(vec!["bind".into(), "ro".into()]));
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exe(dir: &Path, name: &str) -> PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, b"#!/bin/sh\n").expect("write");
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        p
    }

    #[test]
    fn the_first_candidate_on_path_wins() {
        let a = tempfile::tempdir().expect("tempdir");
        let b = tempfile::tempdir().expect("tempdir");
        let path_var = format!("{}:{}", a.path().display(), b.path().display());
        let tini = exe(b.path(), "tini");
        let static_tini = exe(a.path(), "tini-static");
        // Unless a docker-init is installed on this host, tini-static comes before tini.
        let found = lookup_in(None, &path_var).expect("found");
        assert!(
            found == static_tini || found.ends_with("docker-init"),
            "{found:?}"
        );
        std::fs::remove_file(&static_tini).expect("rm");
        let found = lookup_in(None, &path_var).expect("found");
        assert!(found == tini || found.ends_with("docker-init"), "{found:?}");
    }

    #[test]
    fn a_configured_path_must_be_an_executable() {
        let d = tempfile::tempdir().expect("tempdir");
        let mine = exe(d.path(), "my-init");
        assert_eq!(lookup_in(Some(&mine), ""), Ok(mine.clone()));
        let by_name = lookup_in(Some(Path::new("my-init")), &d.path().to_string_lossy());
        assert_eq!(by_name, Ok(mine));
        let err = lookup_in(Some(&d.path().join("nope")), "").expect_err("missing");
        assert!(err.contains("--init-path"), "{err}");
        let plain = d.path().join("plain");
        std::fs::write(&plain, b"x").expect("write");
        assert!(lookup_in(Some(&plain), "").is_err(), "not executable");
    }

    #[test]
    fn the_command_runs_under_the_init() {
        assert_eq!(
            wrap(vec!["sleep".into(), "5".into()]),
            vec!["/sbin/docker-init", "--", "sleep", "5"]
        );
        let m = mount(Path::new("/usr/bin/tini-static"));
        assert_eq!(m.destination(), Path::new("/sbin/docker-init"));
        assert!(m
            .options()
            .as_ref()
            .is_some_and(|o| o.contains(&"ro".to_string())));
    }
}
