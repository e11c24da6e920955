//! Errors the user sees: the engine's message as docker prints it, a short explanation for
//! beginners when we recognise the case, and docker's exit code.

use std::fmt;

use crate::i18n::tr;

#[derive(Debug)]
pub struct CliError {
    pub message: String,
    pub hint: Option<String>,
    pub code: i32,
}

impl CliError {
    pub fn new(message: impl Into<String>, code: i32) -> CliError {
        CliError {
            message: message.into(),
            hint: None,
            code,
        }
    }

    /// Bad flags or arguments: docker exits 125 for these.
    pub fn usage(message: impl Into<String>) -> CliError {
        CliError::new(message, 125)
    }

    /// A command's own exit status passed through (`run`, `exec`), printed as nothing.
    pub fn exit(code: i32) -> CliError {
        CliError::new(String::new(), code)
    }

    pub fn unreachable(host: &str, cause: &bollard::errors::Error) -> CliError {
        let message = format!(
            "{} {host}: {cause}",
            tr(
                "Cannot connect to the container engine at",
                "No se puede conectar con el motor de contenedores en"
            )
        );
        let hint = tr(
            "Is the engine running? Start it with `scripts/run.sh --engine-only` (as root), open \
             the Berth desktop app, or run it in a VM with `berth vm start` and `berth context \
             use vm`; or point -H, BERTH_HOST, DOCKER_HOST or a context (`berth context use \
             NAME`) at a running engine.",
            "¿Está en marcha el motor? Arránquelo con `scripts/run.sh --engine-only` (como root), \
             abra la aplicación de escritorio Berth, o póngalo en una VM con `berth vm start` y \
             `berth context use vm`; o indique un motor en marcha con -H, BERTH_HOST, \
             DOCKER_HOST o un contexto (`berth context use NOMBRE`).",
        );
        CliError {
            message,
            hint: Some(hint.to_string()),
            code: 1,
        }
    }

    pub fn with_code(mut self, code: i32) -> CliError {
        self.code = code;
        self
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for CliError {}

/// The engine's answer as docker words it, with an explanation when we know the case.
/// An error in the middle of a progress stream (push, load, import): the engine's message as
/// it is (exit 1), else what [`from_engine`] makes of a transport or HTTP error.
pub fn from_stream(err: bollard::errors::Error) -> CliError {
    match err {
        bollard::errors::Error::DockerStreamError { error } => CliError::new(error, 1),
        e => from_engine(&e),
    }
}

pub fn from_engine(err: &bollard::errors::Error) -> CliError {
    use bollard::errors::Error as E;
    match err {
        E::DockerResponseServerError { message, .. } => CliError {
            message: format!("Error response from daemon: {message}"),
            hint: explain(message),
            code: 1,
        },
        other => CliError::new(other.to_string(), 1),
    }
}

/// A beginner's explanation of an engine message, when it is one we recognise.
pub fn explain(message: &str) -> Option<String> {
    if let Some(rest) = message.strip_prefix("No such container: ") {
        return Some(format!(
            "{} `berth ps -a`. ({rest})",
            tr(
                "There is no container with that name or ID. List them all with",
                "No hay ningún contenedor con ese nombre o ID. Véalos todos con"
            )
        ));
    }
    if let Some(image) = no_such_image(message) {
        return Some(format!(
            "{} `berth pull {image}` {} `berth images`.",
            tr(
                "The image is not on this engine. Download it with",
                "La imagen no está en este motor. Descárguela con"
            ),
            tr("and see what is here with", "y vea cuáles hay con")
        ));
    }
    if message.contains("is already in use by container") {
        let name = quoted(message, 0).unwrap_or_default();
        let name = name.trim_start_matches('/');
        let owner = quoted(message, 1).unwrap_or_default();
        let short = &owner[..owner.len().min(12)];
        return Some(match crate::i18n::lang() {
            crate::i18n::Lang::En => format!(
                "The name \"{name}\" belongs to container {short}. Remove that container with \
                 `berth rm -f {name}`, rename it with `berth rename {name} NEW`, or choose \
                 another --name."
            ),
            crate::i18n::Lang::Es => format!(
                "El nombre \"{name}\" es del contenedor {short}. Elimine ese contenedor con \
                 `berth rm -f {name}`, cámbiele el nombre con `berth rename {name} NUEVO` o \
                 elija otro --name."
            ),
        });
    }
    if message.contains("container is running") || message.contains("You cannot remove a running") {
        return Some(
            tr(
                "Stop it first with `berth stop NAME`, or remove it anyway with `berth rm -f NAME`.",
                "Deténgalo antes con `berth stop NOMBRE`, o elimínelo igualmente con `berth rm -f NOMBRE`.",
            )
            .to_string(),
        );
    }
    if message.contains("port is already allocated") || message.contains("address already in use") {
        return Some(
            tr(
                "Another program or container already uses that host port: pick another with -p HOST:CONTAINER.",
                "Otro programa o contenedor ya usa ese puerto del anfitrión: elija otro con -p ANFITRIÓN:CONTENEDOR.",
            )
            .to_string(),
        );
    }
    None
}

/// The image named in "No such image: X" or "pull access denied for X".
fn no_such_image(message: &str) -> Option<&str> {
    if let Some(rest) = message.strip_prefix("No such image: ") {
        return Some(rest.trim());
    }
    message
        .strip_prefix("pull access denied for ")
        .and_then(|rest| rest.split([',', ' ']).next())
}

/// The `n`th double-quoted string of `s`.
fn quoted(s: &str, n: usize) -> Option<String> {
    s.split('"').skip(1).step_by(2).nth(n).map(str::to_string)
}

/// Prints an error as docker does (on stderr), then the hint.
pub fn report(err: &anyhow::Error) -> i32 {
    if let Some(cli) = err.downcast_ref::<CliError>() {
        if !cli.message.is_empty() {
            eprintln!("{}", cli.message);
        }
        if let Some(hint) = &cli.hint {
            eprintln!("{} {hint}", tr("Hint:", "Ayuda:"));
        }
        return cli.code;
    }
    if let Some(engine) = err.downcast_ref::<bollard::errors::Error>() {
        let cli = from_engine(engine);
        eprintln!("{}", cli.message);
        if let Some(hint) = &cli.hint {
            eprintln!("{} {hint}", tr("Hint:", "Ayuda:"));
        }
        return cli.code;
    }
    eprintln!("{}: {err:#}", tr("error", "error"));
    1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn name_conflict_names_the_owner() {
        let msg = "Conflict. The container name \"/web\" is already in use by container \
                   \"0123456789abcdef0123\". You have to remove (or rename) that container to be \
                   able to reuse that name.";
        let hint = explain(msg).expect("a hint");
        assert!(hint.contains("\"web\""), "{hint}");
        assert!(hint.contains("0123456789ab"), "{hint}");
        assert!(hint.contains("berth rm -f web"), "{hint}");
    }

    #[test]
    fn missing_image_says_how_to_pull() {
        let hint = explain("No such image: busybox:latest").expect("a hint");
        assert!(hint.contains("berth pull busybox:latest"), "{hint}");
        assert!(explain("something else").is_none());
    }
}
