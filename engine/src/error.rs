//! The engine's one error type. Every variant maps to the HTTP status dockerd uses for it, and the
//! message is rendered as Docker's `{"message": "..."}` body, because clients (the docker CLI among
//! them) match on both.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// 404: `No such container: x`, `No such image: x`, …
    #[error("{0}")]
    NotFound(String),
    /// 400: malformed input, invalid options.
    #[error("{0}")]
    InvalidParameter(String),
    /// 409: name in use, image in use, container running, …
    #[error("{0}")]
    Conflict(String),
    /// 403: an operation the object does not allow (removing a pre-defined network).
    #[error("{0}")]
    Forbidden(String),
    /// 304: already started / already stopped.
    #[error("{0}")]
    NotModified(String),
    /// 401/403 from a registry.
    #[error("{0}")]
    Unauthorized(String),
    /// 501
    #[error("{0}")]
    NotImplemented(String),
    /// 503: a service this node does not run (swarm mode on a standalone engine).
    #[error("{0}")]
    Unavailable(String),
    /// 500 with the full context chain.
    #[error("{0:#}")]
    Internal(#[from] anyhow::Error),
}

pub type Result<T, E = EngineError> = std::result::Result<T, E>;

impl EngineError {
    pub fn status(&self) -> StatusCode {
        match self {
            EngineError::NotFound(_) => StatusCode::NOT_FOUND,
            EngineError::InvalidParameter(_) => StatusCode::BAD_REQUEST,
            EngineError::Conflict(_) => StatusCode::CONFLICT,
            EngineError::Forbidden(_) => StatusCode::FORBIDDEN,
            EngineError::NotModified(_) => StatusCode::NOT_MODIFIED,
            EngineError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            EngineError::NotImplemented(_) => StatusCode::NOT_IMPLEMENTED,
            EngineError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            EngineError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    pub fn invalid(msg: impl Into<String>) -> Self {
        EngineError::InvalidParameter(msg.into())
    }

    pub fn internal(msg: impl std::fmt::Display) -> Self {
        EngineError::Internal(anyhow::anyhow!("{msg}"))
    }

    /// Whether the filesystem under the engine was full (ENOSPC, EDQUOT).
    pub fn is_no_space(&self) -> bool {
        let EngineError::Internal(e) = self else {
            return false;
        };
        e.chain().any(|c| {
            c.downcast_ref::<std::io::Error>()
                .and_then(std::io::Error::raw_os_error)
                .is_some_and(|n| n == libc::ENOSPC || n == libc::EDQUOT)
        })
    }
}

impl From<std::io::Error> for EngineError {
    fn from(e: std::io::Error) -> Self {
        EngineError::Internal(e.into())
    }
}

impl IntoResponse for EngineError {
    fn into_response(self) -> Response {
        let status = self.status();
        if status.is_server_error() {
            tracing::error!(error = %self, "request failed");
        } else {
            tracing::debug!(error = %self, %status, "request refused");
        }
        if status == StatusCode::NOT_MODIFIED {
            // 304 carries no body.
            return status.into_response();
        }
        let body = serde_json::json!({ "message": self.to_string() });
        (status, axum::Json(body)).into_response()
    }
}

/// An error with its causes, as Go prints a wrapped error (`a: b: c`); a cause already part
/// of the text is not repeated. HTTP clients hide the useful part (a refused connection, a
/// certificate) in the causes.
pub fn with_causes(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        let m = c.to_string();
        if !s.contains(&m) {
            s.push_str(": ");
            s.push_str(&m);
        }
        cur = c.source();
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use anyhow::Context;

    #[test]
    fn no_space_is_found_under_context() {
        let full: anyhow::Result<()> =
            Err(std::io::Error::from_raw_os_error(libc::ENOSPC)).context("writing state.json");
        let e = EngineError::from(full.unwrap_err());
        assert!(e.is_no_space());
        assert!(e.to_string().contains("writing state.json"));
        let other: anyhow::Result<()> =
            Err(std::io::Error::from_raw_os_error(libc::EACCES)).context("writing state.json");
        assert!(!EngineError::from(other.unwrap_err()).is_no_space());
        assert!(!EngineError::Conflict("no space left on device".into()).is_no_space());
    }
}
