//! Contexts: named engine endpoints (`berth context ls|create|use|rm|inspect|show`), kept in
//! `$BERTH_CONFIG_DIR/contexts.json` (default `$XDG_CONFIG_HOME/berth`, else
//! `~/.config/berth`). Berth keeps its own store so that switching berth's engine never
//! switches the docker CLI's.

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::{Context as _, Result};
use clap::{Args, Subcommand};
use serde::{Deserialize, Serialize};
use serde_json::Value as Json;

use crate::engine::DEFAULT_HOST;
use crate::errors::CliError;
use crate::format::{Listing, Row};
use crate::i18n::tr;

pub const DEFAULT: &str = "default";
/// Built in too: the engine VM's host socket (`berth vm start`).
pub const VM: &str = "vm";

/// The VM context's endpoint.
fn vm_host() -> Result<String> {
    crate::vm::socket()
        .map(|p| format!("unix://{}", p.display()))
        .ok_or_else(|| {
            CliError::new("no HOME or XDG_DATA_HOME: the VM's socket is unknown", 1).into()
        })
}

fn is_builtin(name: &str) -> bool {
    name == DEFAULT || name == VM
}

#[derive(Serialize, Deserialize, Default, Debug)]
pub struct Store {
    #[serde(default)]
    pub current: Option<String>,
    #[serde(default)]
    pub contexts: BTreeMap<String, Endpoint>,
}

#[derive(Serialize, Deserialize, Clone, Debug)]
pub struct Endpoint {
    pub host: String,
    #[serde(default)]
    pub description: String,
}

fn store_path() -> Option<PathBuf> {
    let dir = std::env::var_os("BERTH_CONFIG_DIR")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("XDG_CONFIG_HOME").map(|d| PathBuf::from(d).join("berth")))
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config/berth")))?;
    Some(dir.join("contexts.json"))
}

/// The store, or an empty one when there is none yet (a missing file is not an error; an
/// unreadable one is, so a typo in it is not silently ignored).
pub fn load() -> Result<Store> {
    let Some(path) = store_path() else {
        return Ok(Store::default());
    };
    match std::fs::read(&path) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .with_context(|| format!("read contexts from {}", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Store::default()),
        Err(e) => Err(e).with_context(|| format!("read {}", path.display())),
    }
}

/// Written as temp file + rename, so a crash never leaves half a store.
fn save(store: &Store) -> Result<()> {
    let path = store_path().context("no HOME, XDG_CONFIG_HOME or BERTH_CONFIG_DIR for contexts")?;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("create {}", dir.display()))?;
    }
    let tmp = path.with_extension("json.tmp");
    std::fs::write(&tmp, serde_json::to_vec_pretty(store)?)
        .with_context(|| format!("write {}", tmp.display()))?;
    std::fs::rename(&tmp, &path).with_context(|| format!("replace {}", path.display()))?;
    Ok(())
}

/// The host of context `name` (`default` is the built-in engine socket).
pub fn host_of(store: &Store, name: &str) -> Result<String> {
    if name == DEFAULT {
        return Ok(DEFAULT_HOST.to_string());
    }
    if name == VM {
        return vm_host();
    }
    store
        .contexts
        .get(name)
        .map(|e| e.host.clone())
        .ok_or_else(|| CliError::new(format!("context \"{name}\" does not exist"), 1).into())
}

#[derive(Subcommand, Debug)]
pub enum ContextCmd {
    /// List contexts
    #[command(visible_alias = "list")]
    Ls {
        #[arg(short, long)]
        quiet: bool,
        #[arg(long)]
        format: Option<String>,
    },
    /// Create a context
    Create(CreateArgs),
    /// Set the current context
    Use { name: String },
    /// Remove one or more contexts
    #[command(visible_alias = "remove")]
    Rm {
        #[arg(required = true)]
        names: Vec<String>,
    },
    /// Display detailed information on one or more contexts
    Inspect {
        #[arg(short, long)]
        format: Option<String>,
        names: Vec<String>,
    },
    /// Print the name of the current context
    Show,
}

#[derive(Args, Debug)]
pub struct CreateArgs {
    /// Description of the context
    #[arg(long, default_value = "")]
    pub description: String,
    /// The engine endpoint, as docker's: host=unix:///path or host=tcp://host:port
    #[arg(long = "docker")]
    pub docker: String,
    pub name: String,
}

fn current_name(store: &Store) -> String {
    std::env::var("BERTH_CONTEXT")
        .ok()
        .filter(|c| !c.is_empty())
        .or_else(|| store.current.clone())
        .unwrap_or_else(|| DEFAULT.to_string())
}

fn describe(name: &str, e: &Endpoint) -> Json {
    serde_json::json!({
        "Name": name,
        "Metadata": {"Description": e.description},
        "Endpoints": {"docker": {"Host": e.host}},
    })
}

fn all(store: &Store) -> Vec<(String, Endpoint)> {
    let default = Endpoint {
        host: DEFAULT_HOST.to_string(),
        description: tr(
            "The Berth engine on this machine",
            "El motor Berth de esta máquina",
        )
        .to_string(),
    };
    let vm = vm_host().ok().map(|host| {
        let description = tr(
            "Berth's engine in a VM (berth vm start)",
            "El motor de Berth en una VM (berth vm start)",
        );
        (
            VM.to_string(),
            Endpoint {
                host,
                description: description.to_string(),
            },
        )
    });
    std::iter::once((DEFAULT.to_string(), default))
        .chain(vm)
        .chain(store.contexts.iter().map(|(n, e)| (n.clone(), e.clone())))
        .collect()
}

pub fn run(cmd: ContextCmd) -> Result<()> {
    let mut store = load()?;
    match cmd {
        ContextCmd::Ls { quiet, format } => {
            let current = current_name(&store);
            let rows: Vec<Row> = all(&store)
                .into_iter()
                .map(|(name, e)| {
                    let mut r = Row::new();
                    let shown = if name == current && format.is_none() && !quiet {
                        format!("{name} *")
                    } else {
                        name
                    };
                    r.insert("Name".into(), Json::String(shown));
                    r.insert("Description".into(), Json::String(e.description));
                    r.insert("DockerEndpoint".into(), Json::String(e.host));
                    r.insert("Error".into(), Json::String(String::new()));
                    r
                })
                .collect();
            let format = if quiet {
                Some("{{.Name}}")
            } else {
                format.as_deref()
            };
            Listing {
                headers: &[
                    ("Name", "NAME"),
                    ("Description", "DESCRIPTION"),
                    ("DockerEndpoint", "DOCKER ENDPOINT"),
                    ("Error", "ERROR"),
                ],
                default_table: "table {{.Name}}\t{{.Description}}\t{{.DockerEndpoint}}\t{{.Error}}",
            }
            .print(format, &rows)
        }
        ContextCmd::Create(args) => {
            if is_builtin(&args.name) || store.contexts.contains_key(&args.name) {
                return Err(
                    CliError::new(format!("context \"{}\" already exists", args.name), 1).into(),
                );
            }
            let host = args
                .docker
                .split(',')
                .find_map(|kv| kv.strip_prefix("host="))
                .ok_or_else(|| {
                    CliError::usage("--docker needs host=unix:///path or host=tcp://host:port")
                })?;
            store.contexts.insert(
                args.name.clone(),
                Endpoint {
                    host: host.to_string(),
                    description: args.description,
                },
            );
            save(&store)?;
            println!("{}", args.name);
            eprintln!("Successfully created context \"{}\"", args.name);
            Ok(())
        }
        ContextCmd::Use { name } => {
            host_of(&store, &name)?;
            store.current = (name != DEFAULT).then(|| name.clone());
            save(&store)?;
            println!("{name}");
            eprintln!("Current context is now \"{name}\"");
            Ok(())
        }
        ContextCmd::Rm { names } => {
            for name in &names {
                if is_builtin(name) {
                    return Err(CliError::new(
                        format!("context \"{name}\" is built in and cannot be removed"),
                        1,
                    )
                    .into());
                }
                if store.contexts.remove(name).is_none() {
                    return Err(
                        CliError::new(format!("context \"{name}\" does not exist"), 1).into(),
                    );
                }
                if store.current.as_deref() == Some(name) {
                    store.current = None;
                }
            }
            save(&store)?;
            for name in names {
                println!("{name}");
            }
            Ok(())
        }
        ContextCmd::Inspect { format, names } => {
            let names = if names.is_empty() {
                vec![current_name(&store)]
            } else {
                names
            };
            let everything = all(&store);
            let mut docs = Vec::new();
            for n in &names {
                let e = everything
                    .iter()
                    .find(|(name, _)| name == n)
                    .ok_or_else(|| CliError::new(format!("context \"{n}\" does not exist"), 1))?;
                docs.push(describe(n, &e.1));
            }
            match format.as_deref() {
                Some(f) => {
                    for d in &docs {
                        println!("{}", crate::format::render_json(f, d)?);
                    }
                    Ok(())
                }
                None => crate::format::print_json_indented(&Json::Array(docs)),
            }
        }
        ContextCmd::Show => {
            println!("{}", current_name(&store));
            Ok(())
        }
    }
}

/// The host of the context in use (`--context`, then `BERTH_CONTEXT`, then `context use`), or
/// None when that is the default context.
pub fn selected_host(flag: Option<&str>) -> Result<Option<String>> {
    let store = load()?;
    let name = flag
        .map(str::to_string)
        .unwrap_or_else(|| current_name(&store));
    if name == DEFAULT {
        return Ok(None);
    }
    host_of(&store, &name).map(Some)
}
