//! `/volumes/...` handlers.

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;

use super::image::flag;
use super::types::{Volume, VolumeCreateRequest, VolumeListResponse, VolumePruneResponse};
use super::AppState;
use crate::error::Result;
use crate::filters::Filters;
use crate::volume::CreateOptions;

#[derive(Deserialize, Default)]
pub struct FiltersQuery {
    filters: Option<String>,
}

pub async fn list(
    State(e): State<AppState>,
    Query(q): Query<FiltersQuery>,
) -> Result<Json<VolumeListResponse>> {
    let f = Filters::parse(q.filters.as_deref())?;
    Ok(Json(VolumeListResponse {
        volumes: e.volumes.list(&f)?,
        warnings: None,
    }))
}

pub async fn create(State(e): State<AppState>, body: Bytes) -> Result<Response> {
    let req: VolumeCreateRequest = super::parse_json(&body)?;
    let v = e.volumes.create(CreateOptions {
        name: req.name,
        driver: req.driver,
        driver_opts: req.driver_opts,
        labels: req.labels,
        reference: None,
    })?;
    Ok((StatusCode::CREATED, Json(v)).into_response())
}

pub async fn inspect(State(e): State<AppState>, Path(name): Path<String>) -> Result<Json<Volume>> {
    Ok(Json(e.volumes.inspect(&name)?))
}

#[derive(Deserialize, Default)]
pub struct RemoveQuery {
    force: Option<String>,
}

pub async fn remove(
    State(e): State<AppState>,
    Path(name): Path<String>,
    Query(q): Query<RemoveQuery>,
) -> Result<StatusCode> {
    e.volumes.remove(&name, flag(q.force.as_deref()))?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn prune(
    State(e): State<AppState>,
    Query(q): Query<FiltersQuery>,
) -> Result<Json<VolumePruneResponse>> {
    let f = Filters::parse(q.filters.as_deref())?;
    Ok(Json(e.volumes.prune(&f)?))
}
