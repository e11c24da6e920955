//! The one error type every command returns, serialized for the UI as
//! `{"kind": "...", "message": "...", "field"?: "..."}` (see `docs/desktop-contract.md`).

use serde::Serialize;
use ts_rs::TS;

/// What went wrong, in terms the UI can act on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// The engine answered with an error the other kinds do not cover.
    Engine,
    /// The object (container, image, volume, network) does not exist.
    NotFound,
    /// The request clashes with what exists (a taken name, an object in use).
    Conflict,
    /// The input is wrong; `field` says which form field.
    Invalid,
    /// The engine is not reachable (not running, restarting, too slow) or does not serve this.
    Unavailable,
}

/// The error of every Tauri command.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS, thiserror::Error)]
#[error("{kind:?}: {message}")]
pub struct CommandError {
    pub kind: ErrorKind,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub field: Option<String>,
}

pub type CommandResult<T> = Result<T, CommandError>;

impl CommandError {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        CommandError {
            kind,
            message: message.into(),
            field: None,
        }
    }

    pub fn invalid(field: &str, message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Invalid, message).with_field(field)
    }

    pub fn unavailable(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Unavailable, message)
    }

    pub fn engine(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Engine, message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::NotFound, message)
    }

    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Conflict, message)
    }

    /// The form field this error belongs to.
    pub fn with_field(mut self, field: &str) -> Self {
        self.field = Some(field.to_string());
        self
    }

    /// Sets `field` when the error is of `kind` (e.g. a 409 on create is about the name).
    pub fn field_if(self, kind: ErrorKind, field: &str) -> Self {
        if self.kind == kind {
            self.with_field(field)
        } else {
            self
        }
    }

    /// A call that did not finish within `secs`.
    pub fn timed_out(what: &str, secs: u64) -> Self {
        Self::unavailable(format!("The engine did not answer {what} within {secs} s"))
    }
}

impl From<bollard::errors::Error> for CommandError {
    fn from(err: bollard::errors::Error) -> Self {
        from_bollard(&err)
    }
}

/// Maps a bollard error: the engine's HTTP status picks the kind and its `message` is kept
/// (dockerd's wording, e.g. `No such container: x`); transport failures mean the engine is not
/// reachable.
pub fn from_bollard(err: &bollard::errors::Error) -> CommandError {
    use bollard::errors::Error as E;
    match err {
        E::DockerResponseServerError {
            status_code,
            message,
        } => {
            let message = if message.is_empty() {
                format!("The engine answered HTTP {status_code}")
            } else {
                message.clone()
            };
            CommandError::new(kind_for_status(*status_code), message)
        }
        E::RequestTimeoutError => CommandError::unavailable("The engine did not answer in time"),
        E::DockerStreamError { error } => CommandError::engine(error.clone()),
        E::JsonDataError { .. } | E::JsonSerdeError { .. } | E::APIVersionParseError {} => {
            CommandError::engine(format!("Unexpected answer from the engine: {err}"))
        }
        other => CommandError::unavailable(format!("The engine is not reachable: {other}")),
    }
}

/// HTTP status of a Docker API error → kind.
pub fn kind_for_status(status: u16) -> ErrorKind {
    match status {
        404 => ErrorKind::NotFound,
        409 => ErrorKind::Conflict,
        400 => ErrorKind::Invalid,
        501 | 503 => ErrorKind::Unavailable,
        _ => ErrorKind::Engine,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serializes_as_the_contract_says() {
        let e = CommandError::invalid("ports", "Port 0 is out of range");
        let v = serde_json::to_value(&e).expect("serialize");
        assert_eq!(
            v,
            serde_json::json!({"kind": "invalid", "message": "Port 0 is out of range", "field": "ports"})
        );
        let v = serde_json::to_value(CommandError::not_found("No such image: x")).expect("json");
        assert_eq!(
            v,
            serde_json::json!({"kind": "not_found", "message": "No such image: x"})
        );
    }

    #[test]
    fn maps_engine_statuses() {
        let e = from_bollard(&bollard::errors::Error::DockerResponseServerError {
            status_code: 409,
            message: "Conflict. The container name \"/web\" is already in use".into(),
        });
        assert_eq!(e.kind, ErrorKind::Conflict);
        assert!(e.message.contains("already in use"));
        assert_eq!(kind_for_status(404), ErrorKind::NotFound);
        assert_eq!(kind_for_status(400), ErrorKind::Invalid);
        assert_eq!(kind_for_status(501), ErrorKind::Unavailable);
        assert_eq!(kind_for_status(500), ErrorKind::Engine);
        let e = from_bollard(&bollard::errors::Error::DockerResponseServerError {
            status_code: 500,
            message: String::new(),
        });
        assert_eq!(e.message, "The engine answered HTTP 500");
    }

    #[test]
    fn transport_errors_mean_unavailable() {
        let io = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "refused");
        let e = from_bollard(&bollard::errors::Error::IOError { err: io });
        assert_eq!(e.kind, ErrorKind::Unavailable);
        let e = from_bollard(&bollard::errors::Error::RequestTimeoutError);
        assert_eq!(e.kind, ErrorKind::Unavailable);
    }

    #[test]
    fn field_only_for_matching_kind() {
        let e = CommandError::conflict("taken").field_if(ErrorKind::Conflict, "name");
        assert_eq!(e.field.as_deref(), Some("name"));
        let e = CommandError::engine("boom").field_if(ErrorKind::Conflict, "name");
        assert_eq!(e.field, None);
    }
}
