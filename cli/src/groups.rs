//! docker's management commands (`container …`, `image …`): the same verbs as the top-level
//! ones, mapped onto them so each verb has one implementation.

use clap::{Args, Subcommand};

use crate::containers::{self, cp, create, logs, more, run, stats};
use crate::{exec, image, image_archive, inspect, Cmd};

#[derive(Args, Debug)]
pub struct InspectOne {
    /// Format output using a custom template
    #[arg(short, long)]
    pub format: Option<String>,
    /// Display total file sizes (containers)
    #[arg(short, long)]
    pub size: bool,
    #[arg(required = true)]
    pub names: Vec<String>,
}

impl InspectOne {
    fn of(self, kind: &str) -> inspect::InspectArgs {
        inspect::InspectArgs {
            format: self.format,
            kind: Some(kind.to_string()),
            size: self.size,
            names: self.names,
        }
    }
}

#[derive(Args, Debug)]
pub struct PruneArgs {
    /// Do not prompt for confirmation
    #[arg(short, long)]
    pub force: bool,
    /// Remove all unused images, not just dangling ones (images only)
    #[arg(short, long)]
    pub all: bool,
}

#[derive(Subcommand, Debug)]
pub enum ContainerCmd {
    /// List containers
    #[command(visible_aliases = ["ps", "list"])]
    Ls(containers::PsArgs),
    /// Create and run a new container from an image
    Run(run::RunArgs),
    /// Create a new container
    Create(create::CreateArgs),
    /// Start one or more stopped containers
    Start(containers::StartArgs),
    /// Stop one or more running containers
    Stop(containers::StopArgs),
    /// Restart one or more containers
    Restart(containers::StopArgs),
    /// Kill one or more running containers
    Kill(containers::KillArgs),
    /// Remove one or more containers
    #[command(visible_alias = "remove")]
    Rm(containers::RmArgs),
    /// Fetch the logs of a container
    Logs(logs::LogsArgs),
    /// Execute a command in a running container
    Exec(exec::ExecArgs),
    /// Display detailed information on one or more containers
    Inspect(InspectOne),
    /// Display the running processes of a container
    Top(containers::TopArgs),
    /// Copy files/folders between a container and the local filesystem
    Cp(cp::CpArgs),
    /// Display container(s) resource usage statistics
    Stats(stats::StatsArgs),
    /// Attach to a running container
    Attach(more::AttachArgs),
    /// Rename a container
    Rename(more::RenameArgs),
    /// Pause all processes within one or more containers
    Pause(more::TargetsArgs),
    /// Unpause all processes within one or more containers
    Unpause(more::TargetsArgs),
    /// Block until one or more containers stop, then print their exit codes
    Wait(more::TargetsArgs),
    /// List port mappings or a specific mapping for the container
    Port(more::PortArgs),
    /// Update configuration of one or more containers
    Update(more::UpdateArgs),
    /// Inspect changes to files or directories on a container's filesystem
    Diff(crate::containers::files::DiffArgs),
    /// Export a container's filesystem as a tar archive
    Export(crate::containers::files::ExportArgs),
    /// Create a new image from a container's changes
    Commit(crate::containers::files::CommitArgs),
    /// Remove all stopped containers
    Prune(PruneArgs),
}

#[derive(Subcommand, Debug)]
pub enum ImageCmd {
    /// List images
    #[command(visible_alias = "list")]
    Ls(image::ImagesArgs),
    /// Download an image from a registry
    Pull(image::PullArgs),
    /// Upload an image to a registry
    Push(image::PushArgs),
    /// Build an image from a Dockerfile
    Build(crate::image_build::BuildArgs),
    /// Remove one or more images
    #[command(visible_aliases = ["rmi", "remove"])]
    Rm(image::RmiArgs),
    /// Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE
    Tag(image::TagArgs),
    /// Show the history of an image
    History(image::HistoryArgs),
    /// Display detailed information on one or more images
    Inspect(InspectOne),
    /// Save one or more images to a tar archive
    Save(image_archive::SaveArgs),
    /// Load an image from a tar archive or STDIN
    Load(image_archive::LoadArgs),
    /// Import the contents from a tarball to create a filesystem image
    Import(image_archive::ImportArgs),
    /// Remove unused images
    Prune(PruneArgs),
}

/// What a management command stands for: a top-level verb, or a prune of its own.
pub enum Verb {
    Top(Box<Cmd>),
    PruneContainers(PruneArgs),
    PruneImages(PruneArgs),
}

pub fn container(c: ContainerCmd) -> Verb {
    let cmd = match c {
        ContainerCmd::Ls(a) => Cmd::Ps(a),
        ContainerCmd::Run(a) => Cmd::Run(a),
        ContainerCmd::Create(a) => Cmd::Create(a),
        ContainerCmd::Start(a) => Cmd::Start(a),
        ContainerCmd::Stop(a) => Cmd::Stop(a),
        ContainerCmd::Restart(a) => Cmd::Restart(a),
        ContainerCmd::Kill(a) => Cmd::Kill(a),
        ContainerCmd::Rm(a) => Cmd::Rm(a),
        ContainerCmd::Logs(a) => Cmd::Logs(a),
        ContainerCmd::Exec(a) => Cmd::Exec(a),
        ContainerCmd::Inspect(a) => Cmd::Inspect(a.of("container")),
        ContainerCmd::Top(a) => Cmd::Top(a),
        ContainerCmd::Cp(a) => Cmd::Cp(a),
        ContainerCmd::Stats(a) => Cmd::Stats(a),
        ContainerCmd::Attach(a) => Cmd::Attach(a),
        ContainerCmd::Rename(a) => Cmd::Rename(a),
        ContainerCmd::Pause(a) => Cmd::Pause(a),
        ContainerCmd::Unpause(a) => Cmd::Unpause(a),
        ContainerCmd::Wait(a) => Cmd::Wait(a),
        ContainerCmd::Port(a) => Cmd::Port(a),
        ContainerCmd::Update(a) => Cmd::Update(a),
        ContainerCmd::Diff(a) => Cmd::Diff(a),
        ContainerCmd::Export(a) => Cmd::Export(a),
        ContainerCmd::Commit(a) => Cmd::Commit(a),
        ContainerCmd::Prune(a) => return Verb::PruneContainers(a),
    };
    Verb::Top(Box::new(cmd))
}

pub fn image(c: ImageCmd) -> Verb {
    let cmd = match c {
        ImageCmd::Ls(a) => Cmd::Images(a),
        ImageCmd::Pull(a) => Cmd::Pull(a),
        ImageCmd::Push(a) => Cmd::Push(a),
        ImageCmd::Build(a) => Cmd::Build(a),
        ImageCmd::Rm(a) => Cmd::Rmi(a),
        ImageCmd::Tag(a) => Cmd::Tag(a),
        ImageCmd::History(a) => Cmd::History(a),
        ImageCmd::Inspect(a) => Cmd::Inspect(a.of("image")),
        ImageCmd::Save(a) => Cmd::Save(a),
        ImageCmd::Load(a) => Cmd::Load(a),
        ImageCmd::Import(a) => Cmd::Import(a),
        ImageCmd::Prune(a) => return Verb::PruneImages(a),
    };
    Verb::Top(Box::new(cmd))
}
