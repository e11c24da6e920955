//! `exec`: a process in a running container, with docker's `-i -t -u -w -e -d` and its exit
//! code passed through.

use anyhow::Result;
use bollard::exec::{ResizeExecOptions, StartExecOptions, StartExecResults};
use bollard::models::ExecConfig;
use bollard::Docker;
use clap::Args;

use crate::errors::CliError;
use crate::stdio;

#[derive(Args, Debug)]
pub struct ExecArgs {
    /// Detached mode: run command in the background
    #[arg(short, long)]
    pub detach: bool,
    /// Keep STDIN open even if not attached
    #[arg(short, long)]
    pub interactive: bool,
    /// Allocate a pseudo-TTY
    #[arg(short, long)]
    pub tty: bool,
    /// Username or UID (format: "<name|uid>[:<group|gid>]")
    #[arg(short, long)]
    pub user: Option<String>,
    /// Working directory inside the container
    #[arg(short, long)]
    pub workdir: Option<String>,
    /// Set environment variables
    #[arg(short, long = "env")]
    pub env: Vec<String>,
    /// Give extended privileges to the command
    #[arg(long)]
    pub privileged: bool,
    /// Override the key sequence for detaching (the engine's default: ctrl-p,ctrl-q)
    #[arg(long)]
    pub detach_keys: Option<String>,
    pub container: String,
    /// The command and its arguments
    #[arg(required = true, trailing_var_arg = true, allow_hyphen_values = true)]
    pub command: Vec<String>,
}

pub async fn exec(docker: &Docker, args: ExecArgs) -> Result<()> {
    let attach = !args.detach;
    let config = ExecConfig {
        attach_stdin: Some(args.interactive && attach),
        attach_stdout: Some(attach),
        attach_stderr: Some(attach),
        tty: Some(args.tty),
        env: (!args.env.is_empty()).then(|| args.env.clone()),
        cmd: Some(args.command.clone()),
        user: args.user.clone(),
        working_dir: args.workdir.clone(),
        privileged: Some(args.privileged),
        detach_keys: args.detach_keys.clone(),
        console_size: stdio::terminal_size()
            .filter(|_| args.tty)
            .map(|(h, w)| vec![h as usize, w as usize]),
    };
    let id = docker
        .create_exec(&args.container, config)
        .await
        .map_err(|e| crate::errors::from_engine(&e))?
        .id;
    let raw = stdio::RawTerminal::enable(args.tty && args.interactive && attach);
    let started = docker
        .start_exec(
            &id,
            Some(StartExecOptions {
                detach: args.detach,
                tty: args.tty,
                output_capacity: None,
            }),
        )
        .await?;
    let StartExecResults::Attached { output, input } = started else {
        return Ok(());
    };
    let resizer = if args.tty {
        let (docker, id) = (docker.clone(), id.clone());
        stdio::spawn_resizer(move |height, width| {
            let (docker, id) = (docker.clone(), id.clone());
            async move {
                let _ = docker
                    .resize_exec(&id, ResizeExecOptions { height, width })
                    .await;
            }
        })
    } else {
        None
    };
    if args.interactive {
        stdio::spawn_stdin(input);
    }
    let pumped = stdio::pump_output(output).await;
    if let Some(r) = resizer {
        r.abort();
    }
    drop(raw);
    pumped?;
    let code = docker.inspect_exec(&id).await?.exit_code.unwrap_or(0);
    if code != 0 {
        return Err(CliError::exit(code as i32).into());
    }
    Ok(())
}
