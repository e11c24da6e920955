//! `create` and the container options `run` shares with it: flags → `ContainerCreateBody`.

use std::collections::HashMap;

use anyhow::{Context, Result};
use bollard::models::{
    ContainerCreateBody, EndpointSettings, HostConfig, Mount, MountTmpfsOptions, MountType,
    NetworkingConfig, PortBinding, RestartPolicy, RestartPolicyNameEnum,
};
use bollard::query_parameters::CreateContainerOptions;
use bollard::Docker;
use clap::Args;

use crate::errors::{from_engine, CliError};
use crate::i18n::tr;

#[derive(Args, Debug, Clone)]
pub struct ContainerOpts {
    /// Keep STDIN open even if not attached
    #[arg(short, long)]
    pub interactive: bool,
    /// Allocate a pseudo-TTY
    #[arg(short, long)]
    pub tty: bool,
    /// Assign a name to the container
    #[arg(long)]
    pub name: Option<String>,
    /// Publish a container's port(s) to the host ([ip:][hostPort:]containerPort[/proto])
    #[arg(short = 'p', long = "publish")]
    pub publish: Vec<String>,
    /// Publish all exposed ports to random ports
    #[arg(short = 'P', long = "publish-all")]
    pub publish_all: bool,
    /// Bind mount a volume (source:target[:options])
    #[arg(short = 'v', long = "volume")]
    pub volumes: Vec<String>,
    /// Attach a filesystem mount (type=bind|volume|tmpfs,source=…,target=…[,readonly])
    #[arg(long = "mount")]
    pub mounts: Vec<String>,
    /// Set environment variables
    #[arg(short = 'e', long = "env")]
    pub env: Vec<String>,
    /// Read in a file of environment variables
    #[arg(long = "env-file")]
    pub env_file: Vec<String>,
    /// Connect a container to a network
    #[arg(long, visible_alias = "net")]
    pub network: Option<String>,
    /// Working directory inside the container
    #[arg(short = 'w', long = "workdir")]
    pub workdir: Option<String>,
    /// Username or UID (format: <name|uid>[:<group|gid>])
    #[arg(short = 'u', long)]
    pub user: Option<String>,
    /// Overwrite the default ENTRYPOINT of the image
    #[arg(long)]
    pub entrypoint: Option<String>,
    /// Restart policy to apply when a container exits (no, always, unless-stopped, on-failure[:N])
    #[arg(long, default_value = "no")]
    pub restart: String,
    /// Set meta data on a container
    #[arg(short = 'l', long = "label")]
    pub labels: Vec<String>,
    /// Memory limit (e.g. 512m, 1g)
    #[arg(short = 'm', long)]
    pub memory: Option<String>,
    /// Number of CPUs
    #[arg(long)]
    pub cpus: Option<f64>,
    /// Container host name
    #[arg(long)]
    pub hostname: Option<String>,
    /// Automatically remove the container and its anonymous volumes when it exits
    #[arg(long)]
    pub rm: bool,
    /// Add a custom host-to-IP mapping (host:ip)
    #[arg(long = "add-host")]
    pub add_host: Vec<String>,
    /// Add link to another container (name[:alias])
    #[arg(long = "link")]
    pub links: Vec<String>,
    /// Container MAC address (e.g., 92:d0:c6:0a:29:33)
    #[arg(long = "mac-address")]
    pub mac_address: Option<String>,
    #[command(flatten)]
    pub confine: super::confine::ConfineOpts,
    #[command(flatten)]
    pub health: super::health::HealthOpts,
    /// The image, then the command and its arguments
    #[arg(
        required = true,
        trailing_var_arg = true,
        allow_hyphen_values = true,
        value_name = "IMAGE [COMMAND] [ARG...]"
    )]
    pub image_and_command: Vec<String>,
}

impl ContainerOpts {
    pub fn image(&self) -> &str {
        self.image_and_command
            .first()
            .map(String::as_str)
            .unwrap_or_default()
    }

    /// The request body; `attach` says whether the client will attach stdio (run without -d).
    pub fn to_body(&self, attach: bool) -> Result<ContainerCreateBody> {
        let command: Vec<String> = self.image_and_command.iter().skip(1).cloned().collect();
        let (exposed, bindings) = parse_publish(&self.publish)?;
        let mut env = Vec::new();
        for file in &self.env_file {
            env.extend(read_env_file(file)?);
        }
        env.extend(self.env.iter().filter_map(|e| env_entry(e)));
        let labels: HashMap<String, String> = self
            .labels
            .iter()
            .map(|l| match l.split_once('=') {
                Some((k, v)) => (k.to_string(), v.to_string()),
                None => (l.clone(), String::new()),
            })
            .collect();
        // docker: an empty --entrypoint clears the image's.
        let entrypoint = self.entrypoint.as_ref().map(|e| vec![e.clone()]);
        // As the docker CLI: on a user-defined network, links and the MAC address belong to
        // the network's endpoint; on the default bridge, links are the legacy HostConfig.Links.
        let network = self.network.clone().unwrap_or_else(|| "default".into());
        let user_network = !matches!(network.as_str(), "default" | "bridge" | "host" | "none")
            && !network.starts_with("container:");
        let endpoint_links = user_network && !self.links.is_empty();
        let mut host_config = HostConfig {
            binds: (!self.volumes.is_empty()).then(|| self.volumes.clone()),
            mounts: (!self.mounts.is_empty())
                .then(|| {
                    self.mounts
                        .iter()
                        .map(|m| parse_mount(m))
                        .collect::<Result<Vec<_>>>()
                })
                .transpose()?,
            port_bindings: (!bindings.is_empty()).then_some(bindings),
            publish_all_ports: self.publish_all.then_some(true),
            // As the docker CLI: "default" when not given (the engine's default bridge).
            network_mode: Some(network.clone()),
            restart_policy: Some(parse_restart(&self.restart)?),
            auto_remove: self.rm.then_some(true),
            memory: self.memory.as_deref().map(parse_bytes).transpose()?,
            nano_cpus: self.cpus.map(|c| (c * 1e9) as i64),
            extra_hosts: (!self.add_host.is_empty()).then(|| self.add_host.clone()),
            links: (!self.links.is_empty() && !endpoint_links).then(|| self.links.clone()),
            ..Default::default()
        };
        self.confine.apply(&mut host_config)?;
        let networking_config =
            (endpoint_links || self.mac_address.is_some()).then(|| NetworkingConfig {
                endpoints_config: Some(HashMap::from([(
                    network.clone(),
                    EndpointSettings {
                        links: endpoint_links.then(|| self.links.clone()),
                        mac_address: self.mac_address.clone(),
                        ..Default::default()
                    },
                )])),
            });
        Ok(ContainerCreateBody {
            image: Some(self.image().to_string()),
            cmd: (!command.is_empty()).then_some(command),
            entrypoint,
            env: (!env.is_empty()).then_some(env),
            labels: (!labels.is_empty()).then_some(labels),
            working_dir: self.workdir.clone(),
            user: self.user.clone(),
            hostname: self.hostname.clone(),
            tty: Some(self.tty),
            open_stdin: Some(self.interactive),
            stdin_once: Some(self.interactive && attach),
            attach_stdin: Some(self.interactive && attach),
            attach_stdout: Some(attach),
            attach_stderr: Some(attach),
            exposed_ports: (!exposed.is_empty()).then_some(exposed),
            host_config: Some(host_config),
            networking_config,
            healthcheck: self.health.config()?,
            ..Default::default()
        })
    }
}

/// `KEY=VALUE` as is; a bare `KEY` takes the value from our environment, or is dropped.
fn env_entry(e: &str) -> Option<String> {
    if e.contains('=') {
        Some(e.to_string())
    } else {
        std::env::var(e).ok().map(|v| format!("{e}={v}"))
    }
}

fn read_env_file(path: &str) -> Result<Vec<String>> {
    let text = std::fs::read_to_string(path).with_context(|| format!("open {path}"))?;
    Ok(text
        .lines()
        .map(str::trim_start)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(env_entry)
        .collect())
}

pub type PortMap = HashMap<String, Option<Vec<PortBinding>>>;

/// `-p` values: `[ip:][hostPort[-end]:]containerPort[-end][/proto]`, ranges as docker's (a
/// host range of the same length maps port to port; a single host port with a container
/// range is refused, as docker does).
pub fn parse_publish(specs: &[String]) -> Result<(Vec<String>, PortMap)> {
    let mut exposed = Vec::new();
    let mut map: PortMap = HashMap::new();
    for spec in specs {
        let (addr, proto) = match spec.rsplit_once('/') {
            Some((a, p)) => (a, p),
            None => (spec.as_str(), "tcp"),
        };
        // An IPv6 address is bracketed: [::1]:8080:80.
        let (ip, rest) = match addr.strip_prefix('[') {
            Some(s) => match s.split_once("]:") {
                Some((ip, rest)) => (Some(ip), rest),
                None => return Err(invalid_port(spec)),
            },
            None => (None, addr),
        };
        let parts: Vec<&str> = rest.split(':').collect();
        let (ip, host, container) = match (ip, parts.as_slice()) {
            (None, [c]) => (None, None, *c),
            (None, [h, c]) => (None, Some(*h), *c),
            (None, [i, h, c]) => (Some(*i), Some(*h), *c),
            (Some(ip), [h, c]) => (Some(ip), Some(*h), *c),
            _ => return Err(invalid_port(spec)),
        };
        let containers = port_range(container).ok_or_else(|| invalid_port(spec))?;
        let hosts = match host.filter(|h| !h.is_empty()) {
            Some(h) => Some(port_range(h).ok_or_else(|| invalid_port(spec))?),
            None => None,
        };
        if let Some(h) = &hosts {
            let one_to_one = h.len() == containers.len();
            let range_for_one = h.len() > 1 && containers.len() == 1;
            if !(one_to_one || range_for_one) {
                return Err(invalid_port(spec));
            }
        }
        for (i, port) in containers.iter().enumerate() {
            let key = format!("{port}/{proto}");
            if !exposed.contains(&key) {
                exposed.push(key.clone());
            }
            // A host range for one container port: the engine picks a free one of them.
            let host_port = match &hosts {
                Some(h) if h.len() == containers.len() => h[i].to_string(),
                Some(h) => format!("{}-{}", h[0], h[h.len() - 1]),
                None => String::new(),
            };
            map.entry(key)
                .or_insert_with(|| Some(Vec::new()))
                .get_or_insert_with(Vec::new)
                .push(PortBinding {
                    host_ip: Some(ip.unwrap_or_default().to_string()),
                    host_port: Some(host_port),
                });
        }
    }
    Ok((exposed, map))
}

/// `80` or `8000-8010` → the ports.
fn port_range(s: &str) -> Option<Vec<u16>> {
    match s.split_once('-') {
        Some((a, b)) => {
            let (a, b): (u16, u16) = (a.parse().ok()?, b.parse().ok()?);
            (a <= b).then(|| (a..=b).collect())
        }
        None => s.parse().ok().map(|p| vec![p]),
    }
}

/// `--mount` CSV: `type=bind|volume|tmpfs`, `source|src`, `target|destination|dst`,
/// `readonly|ro[=true|false]`, `tmpfs-size`, `tmpfs-mode`.
pub fn parse_mount(spec: &str) -> Result<Mount> {
    let bad = |why: &str| -> anyhow::Error {
        CliError::usage(format!(
            "invalid argument \"{spec}\" for \"--mount\" flag: {why}"
        ))
        .into()
    };
    let mut m = Mount {
        typ: Some(MountType::VOLUME),
        ..Default::default()
    };
    let mut tmpfs = MountTmpfsOptions::default();
    for field in spec.split(',') {
        let (k, v) = match field.split_once('=') {
            Some((k, v)) => (k.trim().to_ascii_lowercase(), Some(v)),
            None => (field.trim().to_ascii_lowercase(), None),
        };
        match (k.as_str(), v) {
            ("type", Some(t)) => {
                m.typ = Some(match t {
                    "bind" => MountType::BIND,
                    "volume" => MountType::VOLUME,
                    "tmpfs" => MountType::TMPFS,
                    other => return Err(bad(&format!("unsupported mount type {other}"))),
                })
            }
            ("source" | "src", Some(s)) => m.source = Some(s.to_string()),
            ("target" | "destination" | "dst", Some(t)) => m.target = Some(t.to_string()),
            ("readonly" | "ro", None) => m.read_only = Some(true),
            ("readonly" | "ro", Some(b)) => {
                m.read_only = Some(matches!(b, "true" | "1"));
            }
            ("tmpfs-size", Some(sz)) => tmpfs.size_bytes = Some(parse_bytes(sz)?),
            ("tmpfs-mode", Some(mode)) => {
                tmpfs.mode = Some(i64::from_str_radix(mode, 8).map_err(|_| bad("bad tmpfs-mode"))?)
            }
            _ => return Err(bad(&format!("unexpected key '{k}'"))),
        }
    }
    if m.target.is_none() {
        return Err(bad("target is required"));
    }
    if m.typ == Some(MountType::TMPFS) && tmpfs != MountTmpfsOptions::default() {
        m.tmpfs_options = Some(tmpfs);
    }
    Ok(m)
}

fn invalid_port(spec: &str) -> anyhow::Error {
    CliError::usage(format!("invalid port format: {spec}")).into()
}

pub fn parse_restart(s: &str) -> Result<RestartPolicy> {
    let (name, count) = match s.split_once(':') {
        Some((n, c)) => (n, Some(c)),
        None => (s, None),
    };
    let name = match name {
        "" | "no" => RestartPolicyNameEnum::NO,
        "always" => RestartPolicyNameEnum::ALWAYS,
        "unless-stopped" => RestartPolicyNameEnum::UNLESS_STOPPED,
        "on-failure" => RestartPolicyNameEnum::ON_FAILURE,
        _ => return Err(CliError::usage(format!("invalid restart policy format: {s}")).into()),
    };
    let maximum_retry_count = count
        .map(|c| c.parse::<i64>())
        .transpose()
        .map_err(|_| CliError::usage(format!("invalid restart policy format: {s}")))?;
    Ok(RestartPolicy {
        name: Some(name),
        maximum_retry_count,
    })
}

/// `512m`, `1g`, `100k`, `1024` (bytes) → bytes, binary multiples as docker's `RAMInBytes`.
pub fn parse_bytes(s: &str) -> Result<i64> {
    let lower = s.trim().to_ascii_lowercase();
    let lower = lower.strip_suffix('b').unwrap_or(&lower);
    let (num, mult) = match lower.chars().last() {
        Some('k') => (&lower[..lower.len() - 1], 1i64 << 10),
        Some('m') => (&lower[..lower.len() - 1], 1 << 20),
        Some('g') => (&lower[..lower.len() - 1], 1 << 30),
        Some('t') => (&lower[..lower.len() - 1], 1 << 40),
        _ => (lower, 1),
    };
    let n: f64 = num
        .parse()
        .map_err(|_| CliError::usage(format!("invalid size: '{s}'")))?;
    Ok((n * mult as f64) as i64)
}

/// Creates the container; pulls the image first when the engine does not have it (as docker
/// does, saying so on stderr). Returns the container ID.
pub async fn create_container(
    docker: &Docker,
    opts: &ContainerOpts,
    attach: bool,
) -> Result<String> {
    let body = opts.to_body(attach)?;
    let options = CreateContainerOptions {
        name: opts.name.clone(),
        platform: String::new(),
    };
    match docker
        .create_container(Some(options.clone()), body.clone())
        .await
    {
        Ok(r) => return Ok(r.id),
        Err(bollard::errors::Error::DockerResponseServerError {
            status_code: 404,
            message,
        }) if message.starts_with("No such image") => {
            eprintln!("Unable to find image '{}' locally", qualified(opts.image()));
        }
        Err(e) => return Err(from_engine(&e).with_code(125).into()),
    }
    crate::image::pull_quietly_to_stderr(docker, opts.image())
        .await
        .map_err(|e| match e.downcast::<CliError>() {
            Ok(c) => c.with_code(125).into(),
            Err(e) => e,
        })?;
    let r = docker
        .create_container(Some(options), body)
        .await
        .map_err(|e| from_engine(&e).with_code(125))?;
    Ok(r.id)
}

/// `busybox` → `busybox:latest`, as docker prints references.
pub fn qualified(image: &str) -> String {
    let last = image.rsplit('/').next().unwrap_or(image);
    if last.contains(':') || image.contains('@') {
        image.to_string()
    } else {
        format!("{image}:latest")
    }
}

#[derive(Args, Debug)]
pub struct CreateArgs {
    #[command(flatten)]
    pub opts: ContainerOpts,
}

pub async fn create(docker: &Docker, args: CreateArgs) -> Result<()> {
    if args.opts.image().is_empty() {
        return Err(CliError::usage(tr("an image is required", "hace falta una imagen")).into());
    }
    let id = create_container(docker, &args.opts, false).await?;
    println!("{id}");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn publish_forms() {
        let (exposed, map) = parse_publish(&[
            "8080:80".into(),
            "127.0.0.1:5353:53/udp".into(),
            "443".into(),
        ])
        .unwrap();
        assert_eq!(exposed, ["80/tcp", "53/udp", "443/tcp"]);
        let b = &map["53/udp"].as_ref().unwrap()[0];
        assert_eq!(b.host_ip.as_deref(), Some("127.0.0.1"));
        assert_eq!(b.host_port.as_deref(), Some("5353"));
        assert_eq!(
            map["443/tcp"].as_ref().unwrap()[0].host_port.as_deref(),
            Some("")
        );
        assert!(parse_publish(&["x:80".into()]).is_err());
        let (exposed, map) = parse_publish(&["9000-9001:80-81".into()]).unwrap();
        assert_eq!(exposed, ["80/tcp", "81/tcp"]);
        assert_eq!(
            map["81/tcp"].as_ref().unwrap()[0].host_port.as_deref(),
            Some("9001")
        );
        let (_, map) = parse_publish(&["9000-9009:80".into()]).unwrap();
        assert_eq!(
            map["80/tcp"].as_ref().unwrap()[0].host_port.as_deref(),
            Some("9000-9009")
        );
        assert!(parse_publish(&["9000:80-81".into()]).is_err());
    }

    #[test]
    fn mounts() {
        let m = parse_mount("type=bind,source=/a,target=/b,readonly").unwrap();
        assert_eq!(m.typ, Some(MountType::BIND));
        assert_eq!(
            (m.source.as_deref(), m.target.as_deref()),
            (Some("/a"), Some("/b"))
        );
        assert_eq!(m.read_only, Some(true));
        let t = parse_mount("type=tmpfs,dst=/t,tmpfs-size=1m,tmpfs-mode=1777").unwrap();
        let opts = t.tmpfs_options.unwrap();
        assert_eq!((opts.size_bytes, opts.mode), (Some(1 << 20), Some(0o1777)));
        assert!(parse_mount("type=bind,source=/a").is_err());
        assert!(parse_mount("type=weird,target=/a").is_err());
    }

    #[test]
    fn sizes_and_restart() {
        assert_eq!(parse_bytes("512m").unwrap(), 512 << 20);
        assert_eq!(parse_bytes("1g").unwrap(), 1 << 30);
        assert_eq!(parse_bytes("100").unwrap(), 100);
        assert!(parse_bytes("lots").is_err());
        let p = parse_restart("on-failure:3").unwrap();
        assert_eq!(p.maximum_retry_count, Some(3));
        assert!(parse_restart("sometimes").is_err());
    }

    #[test]
    fn references_get_latest() {
        assert_eq!(qualified("busybox"), "busybox:latest");
        assert_eq!(
            qualified("127.0.0.1:5000/busybox"),
            "127.0.0.1:5000/busybox:latest"
        );
        assert_eq!(qualified("busybox:1"), "busybox:1");
    }
}
