//! Swarm mode, as a standalone dockerd answers it: berthd is never part of a swarm. Clients call
//! these routes (`docker swarm leave --force` in clean-up scripts, `docker service ls`, the SDKs'
//! `swarm.leave(force=True)`) and accept only dockerd's answers for a node outside a swarm: 503
//! with "not part of a swarm" or "not a swarm manager".

use axum::http::{Method, Uri};
use axum::routing::{any, MethodRouter};
use axum::Router;

use super::AppState;
use crate::error::EngineError;

const NO_SWARM: &str = "This node is not part of a swarm";
const NOT_MANAGER: &str = "This node is not a swarm manager. Use \"docker swarm init\" or \"docker swarm join\" to connect this node to swarm and try again.";

/// What a standalone dockerd says to a swarm-mode request.
fn answer(method: &Method, path: &str) -> EngineError {
    match path {
        // Leaving or unlocking needs a swarm to leave or unlock.
        "/swarm/leave" | "/swarm/unlock" => EngineError::Unavailable(NO_SWARM.into()),
        // Creating or joining one would make berthd a swarm node, which it cannot be.
        "/swarm/init" | "/swarm/join" if method == Method::POST => EngineError::NotImplemented(
            "swarm mode is not supported by berthd: it runs standalone containers only".into(),
        ),
        _ => EngineError::Unavailable(NOT_MANAGER.into()),
    }
}

async fn handle(method: Method, uri: Uri) -> EngineError {
    answer(&method, uri.path())
}

/// Every swarm-mode route of dockerd's API.
pub fn routes() -> Router<AppState> {
    let h = || -> MethodRouter<AppState> { any(handle) };
    let mut r = Router::new();
    for path in [
        "/swarm",
        "/swarm/init",
        "/swarm/join",
        "/swarm/leave",
        "/swarm/update",
        "/swarm/unlockkey",
        "/swarm/unlock",
        "/services",
        "/services/create",
        "/services/{id}",
        "/services/{id}/update",
        "/services/{id}/logs",
        "/nodes",
        "/nodes/{id}",
        "/nodes/{id}/update",
        "/tasks",
        "/tasks/{id}",
        "/tasks/{id}/logs",
        "/secrets",
        "/secrets/create",
        "/secrets/{id}",
        "/secrets/{id}/update",
        "/configs",
        "/configs/create",
        "/configs/{id}",
        "/configs/{id}/update",
    ] {
        r = r.route(path, h());
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_as_a_node_outside_a_swarm() {
        let leave = answer(&Method::POST, "/swarm/leave");
        assert_eq!(leave.status(), axum::http::StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(leave.to_string(), NO_SWARM);
        let ls = answer(&Method::GET, "/services");
        assert_eq!(ls.status(), axum::http::StatusCode::SERVICE_UNAVAILABLE);
        assert!(ls
            .to_string()
            .starts_with("This node is not a swarm manager."));
        assert_eq!(answer(&Method::GET, "/swarm").to_string(), ls.to_string());
        assert_eq!(
            answer(&Method::POST, "/swarm/init").status(),
            axum::http::StatusCode::NOT_IMPLEMENTED
        );
    }
}
