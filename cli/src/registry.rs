//! Registry credentials shared with the docker CLI: `auths` in `$DOCKER_CONFIG/config.json`
//! (default `~/.docker/config.json`, docker's format), so a login with either CLI serves
//! pulls and pushes of both. `login` checks the credentials with the engine's `POST /auth`
//! (bollard 0.21 has no call for it: a small HTTP/1.1 request of our own) before storing.

use std::path::PathBuf;

use anyhow::{Context, Result};
use base64::Engine as _;
use bollard::auth::DockerCredentials;
use clap::Args;
use serde_json::{json, Value as Json};

pub fn config_path() -> Option<PathBuf> {
    let dir = std::env::var_os("DOCKER_CONFIG")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".docker")))?;
    Some(dir.join("config.json"))
}

fn read_config() -> Json {
    config_path()
        .and_then(|p| std::fs::read(p).ok())
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_else(|| json!({}))
}

/// The registry host of a reference (`docker.io` for Docker Hub names).
pub fn registry_of(image: &str) -> String {
    let first = image.split('/').next().unwrap_or_default();
    if image.contains('/') && (first.contains('.') || first.contains(':') || first == "localhost") {
        first.to_string()
    } else {
        "https://index.docker.io/v1/".to_string()
    }
}

/// Stored credentials for `server`, if any.
pub fn credentials_for(server: &str) -> Option<DockerCredentials> {
    let config = read_config();
    let entry = &config["auths"][server];
    let auth = entry["auth"].as_str()?;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(auth)
        .ok()?;
    let decoded = String::from_utf8(decoded).ok()?;
    let (user, pass) = decoded.split_once(':')?;
    // Every field set: bollard sends unset ones as null, which some engines (berthd among
    // them) refuse where dockerd reads an empty string.
    Some(DockerCredentials {
        username: Some(user.to_string()),
        password: Some(pass.to_string()),
        auth: Some(auth.to_string()),
        email: Some(String::new()),
        serveraddress: Some(server.to_string()),
        identitytoken: Some(String::new()),
        registrytoken: Some(String::new()),
    })
}

/// Writes `config.json` atomically (temp file + rename), mode 0600 as docker's.
fn write_config(config: &Json) -> Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let path = config_path().context("no HOME or DOCKER_CONFIG for the credentials file")?;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("create {}", dir.display()))?;
    }
    let tmp = path.with_extension("json.tmp");
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)
        .with_context(|| format!("write {}", tmp.display()))?;
    f.write_all(serde_json::to_string_pretty(config)?.as_bytes())?;
    f.sync_all()?;
    std::fs::rename(&tmp, &path).with_context(|| format!("replace {}", path.display()))?;
    Ok(())
}

#[derive(Args, Debug)]
pub struct LoginArgs {
    /// Username
    #[arg(short, long)]
    pub username: Option<String>,
    /// Password (prefer --password-stdin)
    #[arg(short, long)]
    pub password: Option<String>,
    /// Take the password from stdin
    #[arg(long)]
    pub password_stdin: bool,
    /// The registry (default: Docker Hub)
    pub server: Option<String>,
}

#[derive(Args, Debug)]
pub struct LogoutArgs {
    pub server: Option<String>,
}

const HUB: &str = "https://index.docker.io/v1/";

/// A line from stdin; with echo off when it is a terminal (for passwords).
fn read_line(prompt: &str, secret: bool) -> Result<String> {
    use std::io::{IsTerminal, Write};
    let tty = std::io::stdin().is_terminal();
    if tty {
        eprint!("{prompt}");
        let _ = std::io::stderr().flush();
    }
    if secret && tty {
        // Raw mode turns echo off; read key by key until Enter.
        let _raw = crate::stdio::RawTerminal::enable(true);
        let mut line = String::new();
        loop {
            let mut b = [0u8; 1];
            if std::io::Read::read(&mut std::io::stdin(), &mut b)? == 0 {
                break;
            }
            match b[0] {
                b'\r' | b'\n' => break,
                3 => return Err(crate::errors::CliError::exit(130).into()),
                127 | 8 => {
                    line.pop();
                }
                c => line.push(c as char),
            }
        }
        eprintln!();
        return Ok(line);
    }
    let mut line = String::new();
    std::io::stdin().read_line(&mut line)?;
    Ok(line.trim_end_matches(['\r', '\n']).to_string())
}

pub async fn login(host: &str, args: LoginArgs) -> Result<()> {
    use crate::i18n::tr;
    let server = args.server.clone().unwrap_or_else(|| HUB.to_string());
    let username = match args.username.clone() {
        Some(u) => u,
        None => read_line(tr("Username: ", "Usuario: "), false)?,
    };
    let password = match (&args.password, args.password_stdin) {
        (Some(_), true) => {
            return Err(crate::errors::CliError::usage(
                "--password and --password-stdin are mutually exclusive",
            )
            .into())
        }
        (Some(p), false) => p.clone(),
        (None, true) => {
            let mut s = String::new();
            std::io::Read::read_to_string(&mut std::io::stdin(), &mut s)?;
            s.trim_end_matches(['\r', '\n']).to_string()
        }
        (None, false) => read_line(tr("Password: ", "Contraseña: "), true)?,
    };
    let body = json!({"username": username, "password": password, "serveraddress": server});
    let (status, reply) =
        crate::engine::raw_post(host, "/auth", &serde_json::to_vec(&body)?).await?;
    let reply: Json = serde_json::from_slice(&reply).unwrap_or_default();
    if status != 200 {
        let message = reply["message"].as_str().unwrap_or("login failed");
        return Err(crate::errors::CliError::new(
            format!("Error response from daemon: {message}"),
            1,
        )
        .into());
    }
    let mut config = read_config();
    let auth = base64::engine::general_purpose::STANDARD.encode(format!("{username}:{password}"));
    if !config["auths"].is_object() {
        config["auths"] = json!({});
    }
    config["auths"][server.as_str()] = json!({ "auth": auth });
    write_config(&config)?;
    println!("Login Succeeded");
    Ok(())
}

pub fn logout(args: LogoutArgs) -> Result<()> {
    let server = args.server.unwrap_or_else(|| HUB.to_string());
    let mut config = read_config();
    let removed = config["auths"]
        .as_object_mut()
        .is_some_and(|a| a.remove(&server).is_some());
    if removed {
        write_config(&config)?;
        println!("Removing login credentials for {server}");
    } else {
        println!("Not logged in to {server}");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn registries() {
        use super::registry_of as r;
        assert_eq!(r("127.0.0.1:5000/busybox"), "127.0.0.1:5000");
        assert_eq!(r("ghcr.io/a/b:1"), "ghcr.io");
        assert_eq!(r("library/busybox"), "https://index.docker.io/v1/");
        assert_eq!(r("busybox"), "https://index.docker.io/v1/");
    }
}
