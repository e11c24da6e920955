//! `network ls|create|rm|inspect|connect|disconnect|prune`.

use anyhow::Result;
use bollard::models::{
    EndpointIpamConfig, EndpointSettings, Ipam, IpamConfig, NetworkConnectRequest,
    NetworkCreateRequest, NetworkDisconnectRequest,
};
use bollard::query_parameters::{ListNetworksOptions, PruneNetworksOptions};
use bollard::Docker;
use clap::{Args, Subcommand};
use serde_json::Value as Json;

use crate::containers::{for_each, parse_filters};
use crate::format::{self, Listing, Row};
use crate::i18n::tr;
use crate::inspect::print_inspected;
use crate::volume::key_values;

#[derive(Subcommand, Debug)]
pub enum NetworkCmd {
    /// List networks
    #[command(alias = "list")]
    Ls {
        #[arg(short, long)]
        quiet: bool,
        #[arg(short, long = "filter")]
        filter: Vec<String>,
        #[arg(long)]
        format: Option<String>,
        #[arg(long)]
        no_trunc: bool,
    },
    /// Create a network
    Create(CreateArgs),
    /// Remove one or more networks
    #[command(alias = "remove")]
    Rm {
        #[arg(required = true)]
        networks: Vec<String>,
    },
    /// Display detailed information on one or more networks
    Inspect {
        #[arg(short, long)]
        format: Option<String>,
        #[arg(required = true)]
        networks: Vec<String>,
    },
    /// Connect a container to a network
    Connect {
        /// IPv4 address (e.g., "172.30.100.104")
        #[arg(long)]
        ip: Option<String>,
        /// Add network-scoped alias for the container
        #[arg(long = "alias")]
        aliases: Vec<String>,
        network: String,
        container: String,
    },
    /// Disconnect a container from a network
    Disconnect {
        #[arg(short, long)]
        force: bool,
        network: String,
        container: String,
    },
    /// Remove all unused networks
    Prune {
        #[arg(short, long)]
        force: bool,
    },
}

#[derive(Args, Debug)]
pub struct CreateArgs {
    /// Driver to manage the Network
    #[arg(short, long, default_value = "bridge")]
    pub driver: String,
    /// Subnet in CIDR format that represents a network segment
    #[arg(long)]
    pub subnet: Option<String>,
    /// IPv4 or IPv6 Gateway for the master subnet
    #[arg(long)]
    pub gateway: Option<String>,
    /// Allocate container ip from a sub-range
    #[arg(long)]
    pub ip_range: Option<String>,
    /// Restrict external access to the network
    #[arg(long)]
    pub internal: bool,
    /// Enable manual container attachment
    #[arg(long)]
    pub attachable: bool,
    /// Enable IPv6 networking
    #[arg(long)]
    pub ipv6: bool,
    /// Set metadata on a network
    #[arg(long = "label")]
    pub labels: Vec<String>,
    /// Set driver specific options
    #[arg(short, long = "opt")]
    pub opts: Vec<String>,
    pub name: String,
}

const HEADERS: &[(&str, &str)] = &[
    ("ID", "NETWORK ID"),
    ("Name", "NAME"),
    ("Driver", "DRIVER"),
    ("Scope", "SCOPE"),
    ("IPv6", "IPV6"),
    ("Internal", "INTERNAL"),
    ("Labels", "LABELS"),
    ("CreatedAt", "CREATED AT"),
];

pub async fn run(docker: &Docker, cmd: NetworkCmd) -> Result<()> {
    match cmd {
        NetworkCmd::Ls {
            quiet,
            filter,
            format,
            no_trunc,
        } => {
            let opts = ListNetworksOptions {
                filters: parse_filters(&filter)?,
            };
            let mut nets = docker.list_networks(Some(opts)).await?;
            nets.sort_by(|a, b| a.name.cmp(&b.name));
            let rows: Vec<Row> = nets
                .iter()
                .map(|n| {
                    let id = n.id.clone().unwrap_or_default();
                    let mut labels: Vec<String> = n
                        .labels
                        .iter()
                        .flatten()
                        .map(|(k, v)| format!("{k}={v}"))
                        .collect();
                    labels.sort();
                    let mut r = Row::new();
                    let mut put = |k: &str, v: String| {
                        r.insert(k.to_string(), Json::String(v));
                    };
                    put("ID", if no_trunc { id } else { format::short_id(&id) });
                    put("Name", n.name.clone().unwrap_or_default());
                    put("Driver", n.driver.clone().unwrap_or_default());
                    put("Scope", n.scope.clone().unwrap_or_default());
                    put("IPv6", n.enable_ipv6.unwrap_or(false).to_string());
                    put("Internal", n.internal.unwrap_or(false).to_string());
                    put("Labels", labels.join(","));
                    put(
                        "CreatedAt",
                        n.created
                            .as_ref()
                            .map(|c| c.to_string())
                            .unwrap_or_default(),
                    );
                    r
                })
                .collect();
            let format = if quiet {
                Some("{{.ID}}")
            } else {
                format.as_deref()
            };
            Listing {
                headers: HEADERS,
                default_table: "table {{.ID}}\t{{.Name}}\t{{.Driver}}\t{{.Scope}}",
            }
            .print(format, &rows)
        }
        NetworkCmd::Create(args) => {
            let ipam = (args.subnet.is_some() || args.gateway.is_some() || args.ip_range.is_some())
                .then(|| Ipam {
                    driver: Some("default".into()),
                    config: Some(vec![IpamConfig {
                        subnet: args.subnet.clone(),
                        gateway: args.gateway.clone(),
                        ip_range: args.ip_range.clone(),
                        ..Default::default()
                    }]),
                    ..Default::default()
                });
            let req = NetworkCreateRequest {
                name: args.name.clone(),
                driver: Some(args.driver.clone()),
                internal: Some(args.internal),
                attachable: Some(args.attachable),
                enable_ipv6: args.ipv6.then_some(true),
                ipam,
                options: (!args.opts.is_empty()).then(|| key_values(&args.opts)),
                labels: (!args.labels.is_empty()).then(|| key_values(&args.labels)),
                ..Default::default()
            };
            let r = docker.create_network(req).await?;
            println!("{}", r.id);
            Ok(())
        }
        NetworkCmd::Rm { networks } => for_each(&networks, |n| docker.remove_network(n)).await,
        NetworkCmd::Inspect { format, networks } => {
            print_inspected(&networks, format.as_deref(), |n| async move {
                Ok(serde_json::to_value(
                    docker.inspect_network(&n, None).await?,
                )?)
            })
            .await
        }
        NetworkCmd::Connect {
            ip,
            aliases,
            network,
            container,
        } => {
            let endpoint = EndpointSettings {
                ipam_config: ip.map(|ip| EndpointIpamConfig {
                    ipv4_address: Some(ip),
                    ..Default::default()
                }),
                aliases: (!aliases.is_empty()).then_some(aliases),
                ..Default::default()
            };
            let req = NetworkConnectRequest {
                container,
                endpoint_config: Some(endpoint),
            };
            docker.connect_network(&network, req).await?;
            Ok(())
        }
        NetworkCmd::Disconnect {
            force,
            network,
            container,
        } => {
            let req = NetworkDisconnectRequest {
                container,
                force: Some(force),
            };
            docker.disconnect_network(&network, req).await?;
            Ok(())
        }
        NetworkCmd::Prune { force } => {
            if !force {
                eprintln!(
                    "{}",
                    tr(
                        "WARNING! This will remove all custom networks not used by at least one container.",
                        "¡ATENCIÓN! Esto eliminará todas las redes propias que no use al menos un contenedor.",
                    )
                );
                if !format::confirm(tr(
                    "Are you sure you want to continue?",
                    "¿Seguro que quiere continuar?",
                )) {
                    return Ok(());
                }
            }
            let r = docker.prune_networks(None::<PruneNetworksOptions>).await?;
            let deleted = r.networks_deleted.unwrap_or_default();
            if !deleted.is_empty() {
                println!("Deleted Networks:");
                for n in deleted {
                    println!("{n}");
                }
            }
            Ok(())
        }
    }
}
