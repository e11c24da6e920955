//! The Docker Engine API over HTTP: routing, version prefixes, error format and streams.
//! Handlers parse, call the engine, and serialize; the logic lives in the object modules.

pub mod archive;
pub mod build;
pub mod container;
pub mod exec;
pub mod image;
pub mod network;
pub mod server;
pub mod stats;
pub mod stream;
pub mod swarm;
pub mod system;
pub mod types;
pub mod volume;

use std::sync::Arc;

use axum::routing::{delete, get, head, post};
use axum::Router;

use crate::engine::Engine;

pub type AppState = Arc<Engine>;

/// A JSON request body, or Docker's 400 for one that does not parse.
pub fn parse_json<T: serde::de::DeserializeOwned>(body: &[u8]) -> crate::error::Result<T> {
    serde_json::from_slice(body)
        .map_err(|e| crate::error::EngineError::invalid(format!("invalid JSON: {e}")))
}

/// Versions this engine speaks (dockerd 28 speaks 1.24 to 1.50; our surface matches 1.47).
pub const MIN_API_VERSION: (u32, u32) = (1, 24);
pub const MAX_API_VERSION: (u32, u32) = (1, 47);

pub fn router(engine: Arc<Engine>) -> Router {
    Router::new()
        .route("/_ping", get(system::ping).head(system::ping_head))
        .route("/version", get(system::version))
        .route("/info", get(system::info))
        .route("/auth", post(system::auth))
        .route("/events", get(system::events))
        .route("/images/json", get(image::list))
        .route("/images/create", post(image::create))
        .route("/images/get", get(image::save_many))
        .route("/images/load", post(image::load))
        .route(
            "/images/{*rest}",
            get(image::get_dispatch)
                .post(image::post_dispatch)
                .delete(image::delete),
        )
        .route("/containers/json", get(container::list))
        .route("/containers/create", post(container::create))
        .route("/containers/{id}/json", get(container::inspect))
        .route("/containers/{id}/start", post(container::start))
        .route("/containers/{id}/stop", post(container::stop))
        .route("/containers/{id}/restart", post(container::restart))
        .route("/containers/{id}/kill", post(container::kill))
        .route("/containers/{id}/pause", post(container::pause))
        .route("/containers/{id}/unpause", post(container::unpause))
        .route("/containers/{id}/wait", post(container::wait))
        .route("/containers/{id}/rename", post(container::rename))
        .route("/containers/{id}/resize", post(container::resize))
        .route("/containers/{id}/attach", post(container::attach))
        .route("/containers/{id}/logs", get(container::logs))
        .route("/containers/{id}/update", post(container::update))
        .route(
            "/containers/{id}",
            delete(container::remove).post(container::post_bare),
        )
        .route("/containers/{id}/exec", post(exec::create))
        // `docker rm --link /PARENT/ALIAS` sends the link's name unescaped.
        .route("/containers/{id}/{alias}", delete(container::remove_link))
        .route("/networks", get(network::list))
        .route("/networks/create", post(network::create))
        .route("/networks/prune", post(network::prune))
        .route(
            "/networks/{id}",
            get(network::inspect).delete(network::remove),
        )
        .route("/networks/{id}/connect", post(network::connect))
        .route("/networks/{id}/disconnect", post(network::disconnect))
        .route("/exec/{id}/start", post(exec::start))
        .route("/exec/{id}/resize", post(exec::resize))
        .route("/exec/{id}/json", get(exec::inspect))
        .route("/volumes", get(volume::list))
        .route("/volumes/create", post(volume::create))
        .route("/volumes/prune", post(volume::prune))
        .route(
            "/volumes/{name}",
            get(volume::inspect).delete(volume::remove),
        )
        .route(
            "/containers/{id}/archive",
            head(archive::stat).get(archive::get).put(archive::put),
        )
        .route("/containers/{id}/changes", get(archive::changes))
        .route("/containers/{id}/export", get(archive::export))
        .route("/commit", post(archive::commit))
        .route("/containers/{id}/top", get(container::top))
        .route("/containers/{id}/stats", get(stats::stats))
        .route("/system/df", get(system::disk_usage))
        .route("/build/prune", post(system::build_prune))
        .route("/build", post(build::build))
        .merge(swarm::routes())
        .fallback(system::not_found)
        .with_state(engine)
}
