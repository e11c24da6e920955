//! `berth-vm-agent`: the guest end of the host link. Serves the virtio-serial port until the
//! host asks for a poweroff (exit 0: the guest's init then stops the engine and powers off).

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use berth_vm::agent::{self, AgentConfig, AgentExit};
use berth_vm::vport;
use clap::Parser;

#[derive(Parser, Debug)]
#[command(name = "berth-vm-agent", about = "Berth's guest agent")]
struct Args {
    /// The guest engine's API socket.
    #[arg(long, default_value = "/run/berth.sock")]
    engine_socket: PathBuf,
    /// The virtio-serial port's name.
    #[arg(long, default_value = vport::PORT_NAME)]
    port: String,
}

fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let args = Args::parse();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("tokio runtime")?;
    let served: anyhow::Result<()> = rt.block_on(async move {
        let cfg = AgentConfig::new(args.engine_socket);
        loop {
            let Some(path) = vport::find_port(&args.port) else {
                // The port's driver may still be probing.
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            };
            let io = vport::open(&path).with_context(|| format!("opening {}", path.display()))?;
            tracing::info!("serving the host on {}", path.display());
            match agent::serve(io, cfg.clone()).await {
                AgentExit::Poweroff => return Ok(()),
                // Reads see EOF while the host end is closed: wait for it to reconnect.
                AgentExit::HostGone => tokio::time::sleep(Duration::from_millis(200)).await,
            }
        }
    });
    served?;
    // A blocking read on the port may still be pending in tokio's pool: do not wait for it.
    std::process::exit(0)
}
