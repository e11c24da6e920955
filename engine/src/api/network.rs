//! `/networks/...` handlers.

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use super::types::network::{
    NetworkConnectRequest, NetworkCreateRequest, NetworkCreateResponse, NetworkDisconnectRequest,
};
use super::AppState;
use crate::error::Result;
use crate::filters::Filters;

#[derive(Deserialize, Default)]
pub struct ListQuery {
    filters: Option<String>,
}

pub async fn list(State(e): State<AppState>, Query(q): Query<ListQuery>) -> Result<Json<Value>> {
    let f = Filters::parse(q.filters.as_deref())?;
    let nets = e.networks.list(&f)?;
    Ok(Json(json!(nets
        .iter()
        .map(|n| e.networks.resource(n))
        .collect::<Vec<_>>())))
}

pub async fn inspect(State(e): State<AppState>, Path(id): Path<String>) -> Result<Json<Value>> {
    let n = e.networks.resolve(&id)?;
    Ok(Json(json!(e.networks.resource(&n))))
}

pub async fn create(State(e): State<AppState>, body: Bytes) -> Result<Response> {
    let req: NetworkCreateRequest = super::parse_json(&body)?;
    let n = e.networks.create(req).await?;
    Ok((
        StatusCode::CREATED,
        Json(NetworkCreateResponse {
            id: n.id,
            warning: String::new(),
        }),
    )
        .into_response())
}

pub async fn remove(State(e): State<AppState>, Path(id): Path<String>) -> Result<StatusCode> {
    e.networks.remove(&id).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn prune(State(e): State<AppState>, Query(q): Query<ListQuery>) -> Result<Json<Value>> {
    let f = Filters::parse(q.filters.as_deref())?;
    let removed = e.networks.prune(&f).await?;
    Ok(Json(json!({ "NetworksDeleted": removed })))
}

pub async fn connect(
    State(e): State<AppState>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<StatusCode> {
    let req: NetworkConnectRequest = super::parse_json(&body)?;
    let c = e.containers.get(&req.container)?;
    e.containers
        .connect_network(&c, &id, req.endpoint_config.unwrap_or_default())
        .await?;
    Ok(StatusCode::OK)
}

pub async fn disconnect(
    State(e): State<AppState>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<StatusCode> {
    let req: NetworkDisconnectRequest = super::parse_json(&body)?;
    let c = e.containers.get(&req.container)?;
    e.containers.disconnect_network(&c, &id, req.force).await?;
    Ok(StatusCode::OK)
}
