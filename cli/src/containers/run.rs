//! `run`: create (pulling if needed), attach, start, and wait for the exit code unless `-d`.

use anyhow::Result;
use bollard::query_parameters::{
    AttachContainerOptions, ResizeContainerTTYOptions, WaitContainerOptions,
};
use bollard::Docker;
use clap::Args;
use futures_util::StreamExt;

use super::create::{create_container, ContainerOpts};
use crate::errors::{from_engine, CliError};
use crate::stdio;

#[derive(Args, Debug)]
pub struct RunArgs {
    /// Run container in background and print container ID
    #[arg(short, long)]
    pub detach: bool,
    /// Override the key sequence for detaching a container (the engine's default: ctrl-p,ctrl-q)
    #[arg(long)]
    pub detach_keys: Option<String>,
    #[command(flatten)]
    pub opts: ContainerOpts,
}

/// docker's mapping of start failures: the command could not be found (127) or run (126).
fn start_failure_code(message: &str) -> i32 {
    if message.contains("executable file not found")
        || message.contains("no such file or directory")
    {
        127
    } else if message.contains("permission denied") || message.contains("exec format error") {
        126
    } else {
        125
    }
}

pub async fn run(docker: &Docker, args: RunArgs) -> Result<()> {
    let opts = &args.opts;
    if args.detach {
        let id = create_container(docker, opts, false).await?;
        start(docker, &id).await?;
        println!("{id}");
        return Ok(());
    }
    let id = create_container(docker, opts, true).await?;
    let attach = docker
        .attach_container(
            &id,
            Some(AttachContainerOptions {
                stream: true,
                stdin: opts.interactive,
                stdout: true,
                stderr: true,
                logs: false,
                detach_keys: args.detach_keys.clone(),
            }),
        )
        .await
        .map_err(|e| from_engine(&e).with_code(125))?;
    // With --rm the container may be gone before a later wait: wait for its removal, asked
    // before the start. Otherwise ask after the start, for "not-running" (a created container
    // is not running either).
    let removed_wait = opts.rm.then(|| {
        let (docker, id) = (docker.clone(), id.clone());
        tokio::spawn(async move {
            let condition = Some(WaitContainerOptions {
                condition: "removed".into(),
            });
            docker.wait_container(&id, condition).next().await
        })
    });
    // Lets the spawned wait send its request before the start.
    tokio::task::yield_now().await;
    let raw = stdio::RawTerminal::enable(opts.tty && opts.interactive);
    start(docker, &id).await?;
    let resizer = if opts.tty {
        let (docker, id) = (docker.clone(), id.clone());
        stdio::spawn_resizer(move |h, w| {
            let (docker, id) = (docker.clone(), id.clone());
            async move {
                let _ = docker
                    .resize_container_tty(
                        &id,
                        ResizeContainerTTYOptions {
                            h: h.into(),
                            w: w.into(),
                        },
                    )
                    .await;
            }
        })
    } else {
        None
    };
    if opts.interactive {
        stdio::spawn_stdin(attach.input);
    }
    let pumped = stdio::pump_output(attach.output).await;
    let waited = match removed_wait {
        Some(task) => task.await.ok().flatten(),
        None => {
            let condition = Some(WaitContainerOptions {
                condition: "not-running".into(),
            });
            docker.wait_container(&id, condition).next().await
        }
    };
    let code = match waited {
        Some(Ok(r)) => r.status_code,
        Some(Err(bollard::errors::Error::DockerContainerWaitError { code, .. })) => code,
        Some(Err(e)) => return Err(from_engine(&e).with_code(125).into()),
        None => 125,
    };
    if let Some(r) = resizer {
        r.abort();
    }
    drop(raw);
    pumped?;
    if code != 0 {
        return Err(CliError::exit(code as i32).into());
    }
    Ok(())
}

async fn start(docker: &Docker, id: &str) -> Result<()> {
    docker.start_container(id, None).await.map_err(|e| {
        let cli = from_engine(&e);
        let code = start_failure_code(&cli.message);
        cli.with_code(code).into()
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn start_failures_map_to_docker_codes() {
        use super::start_failure_code as f;
        assert_eq!(f("exec: \"nope\": executable file not found in $PATH"), 127);
        assert_eq!(f("exec /etc/passwd: permission denied"), 126);
        assert_eq!(f("something else"), 125);
    }
}
