//! `/images/...` handlers.

use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::json;

use super::AppState;
use crate::error::{EngineError, Result};
use crate::filters::Filters;
use crate::image::{auth, reference};

#[derive(Deserialize, Default)]
pub struct ListQuery {
    #[serde(default)]
    filters: Option<String>,
    #[serde(rename = "shared-size")]
    shared_size: Option<String>,
    all: Option<String>,
}

pub async fn list(
    State(e): State<AppState>,
    Query(q): Query<ListQuery>,
) -> Result<Json<serde_json::Value>> {
    let f = Filters::parse(q.filters.as_deref())?;
    let users = e.containers.image_users();
    let mut items = e.images.list(&f, &users, flag(q.all.as_deref()))?;
    if flag(q.shared_size.as_deref()) {
        e.images.add_shared_sizes(&mut items);
    }
    Ok(Json(json!(items)))
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct CreateQuery {
    from_image: Option<String>,
    from_src: Option<String>,
    tag: Option<String>,
    platform: Option<String>,
}

/// `docker pull`: resolve first (errors get a status code), then stream progress.
pub async fn create(
    State(e): State<AppState>,
    Query(q): Query<CreateQuery>,
    axum::extract::RawQuery(raw): axum::extract::RawQuery,
    headers: HeaderMap,
    body: Body,
) -> Result<Response> {
    if q.from_src.is_some() {
        return super::archive::import(e, raw, body).await;
    }
    let from = q
        .from_image
        .filter(|s| !s.is_empty())
        .ok_or_else(|| EngineError::invalid("fromImage or fromSrc is required"))?;
    if let Some(p) = q.platform.as_deref().filter(|p| !p.is_empty()) {
        if !p.starts_with("linux/amd64") && p != "linux" {
            return Err(EngineError::invalid(format!(
                "image platform {p} is not supported on this engine (linux/amd64)"
            )));
        }
    }
    let name = match q.tag.as_deref().filter(|t| !t.is_empty()) {
        Some(t) if t.starts_with("sha256:") => format!("{from}@{t}"),
        Some(t) => format!("{from}:{t}"),
        None => from,
    };
    let r = reference::parse(&name)?;
    let r = if r.tag().is_none() && r.digest().is_none() {
        reference::parse(&format!("{name}:latest"))?
    } else {
        r
    };
    let creds = auth::decode_header(headers.get("X-Registry-Auth").and_then(|v| v.to_str().ok()))?;
    let resolved = e
        .images
        .resolve_remote(r, auth::registry_auth(&creds))
        .await?;
    Ok(progress_response(move |tx| async move {
        let shown = reference::familiar(&resolved.reference.whole());
        e.images.fetch_layers(resolved, &tx).await?;
        let attrs = std::collections::HashMap::from([("name".to_string(), shown.clone())]);
        e.events.emit("image", "pull", &shown, attrs);
        Ok(())
    }))
}

/// Writes the archive to a temp file first, so a bad name fails with a status, not a cut stream.
async fn save_response(e: AppState, names: Vec<String>) -> Result<Response> {
    if names.is_empty() {
        return Err(EngineError::invalid("no images named"));
    }
    let scratch = e.scratch_dir();
    let images = std::sync::Arc::clone(&e.images);
    let file = tokio::task::spawn_blocking(move || -> Result<std::fs::File> {
        let tmp = tempfile_in(&scratch)?;
        images.save(&names, &scratch, &tmp)?;
        Ok(tmp)
    })
    .await
    .map_err(|err| EngineError::internal(format!("save task: {err}")))??;
    use std::io::Seek;
    let mut file = file;
    file.seek(std::io::SeekFrom::Start(0))?;
    let stream = tokio_util::io::ReaderStream::new(tokio::fs::File::from_std(file));
    Ok((
        [("Content-Type", "application/x-tar")],
        Body::from_stream(stream),
    )
        .into_response())
}

/// An unnamed temp file (unlinked at once, so it never outlives the request).
fn tempfile_in(dir: &std::path::Path) -> Result<std::fs::File> {
    let p = dir.join(format!("save-{:x}", rand::random::<u64>()));
    let f = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .open(&p)?;
    std::fs::remove_file(&p)?;
    Ok(f)
}

pub async fn save_many(
    State(e): State<AppState>,
    axum::extract::RawQuery(q): axum::extract::RawQuery,
) -> Result<Response> {
    let names: Vec<String> =
        serde_urlencoded::from_str::<Vec<(String, String)>>(q.as_deref().unwrap_or(""))
            .map_err(|err| EngineError::invalid(format!("invalid query: {err}")))?
            .into_iter()
            .filter(|(k, _)| k == "names")
            .map(|(_, v)| v)
            .collect();
    save_response(e, names).await
}

#[derive(Deserialize, Default)]
pub struct LoadQuery {
    quiet: Option<String>,
}

/// `docker load`: the archive is spooled to disk (it can be large), then read and imported.
pub async fn load(
    State(e): State<AppState>,
    Query(q): Query<LoadQuery>,
    body: Body,
) -> Result<Response> {
    use futures_util::StreamExt;
    use tokio::io::AsyncWriteExt;
    let scratch = e
        .scratch_dir()
        .join(format!("load-{:x}", rand::random::<u64>()));
    std::fs::create_dir_all(&scratch)?;
    let result: Result<Vec<String>> = async {
        let spool = scratch.join("archive.tar");
        let mut f = tokio::fs::File::create(&spool).await?;
        let mut s = body.into_data_stream();
        while let Some(chunk) = s.next().await {
            let chunk =
                chunk.map_err(|err| EngineError::invalid(format!("reading upload: {err}")))?;
            f.write_all(&chunk).await?;
        }
        f.flush().await?;
        drop(f);
        let dir = scratch.clone();
        let loaded = tokio::task::spawn_blocking(move || {
            let input = std::fs::File::open(dir.join("archive.tar"))?;
            let blobs = dir.join("blobs");
            std::fs::create_dir_all(&blobs)?;
            crate::image::archive::read_archive(std::io::BufReader::new(input), &blobs).map_err(
                |err| match err {
                    // A broken tar stream: Go's archive/tar words, as dockerd answers.
                    crate::image::archive::ArchiveError::Tar(m) => EngineError::invalid(m),
                    other => EngineError::invalid(format!("invalid image archive: {other}")),
                },
            )
        })
        .await
        .map_err(|err| EngineError::internal(format!("load task: {err}")))??;
        e.images.load(loaded).await
    }
    .await;
    let _ = std::fs::remove_dir_all(&scratch);
    let lines = result?;
    for l in &lines {
        e.events.emit("image", "load", l, Default::default());
    }
    let _ = q.quiet;
    let body: String = lines
        .iter()
        .map(|l| format!("{}\r\n", json!({"stream": format!("{l}\n")})))
        .collect();
    Ok(([("Content-Type", "application/json")], body).into_response())
}

/// `/images/{name}/json|history|get` — names contain slashes, so the tail is matched by hand.
pub async fn get_dispatch(
    State(e): State<AppState>,
    Path(rest): Path<String>,
    version: Option<axum::Extension<super::server::ApiVersion>>,
) -> Result<Response> {
    if let Some(name) = rest.strip_suffix("/json") {
        let mut v = e.images.inspect(name)?;
        // dockerd drops `Container` and `ContainerConfig` from API 1.45 on; older clients
        // (docker-compose 1.29 reads `ContainerConfig` when it recreates a container) get them.
        let old = version.is_some_and(|axum::Extension(v)| v < super::server::ApiVersion(1, 45));
        if !old {
            if let Some(o) = v.as_object_mut() {
                o.remove("Container");
                o.remove("ContainerConfig");
            }
        }
        return Ok(Json(v).into_response());
    }
    if let Some(name) = rest.strip_suffix("/history") {
        return Ok(Json(json!(e.images.history(name)?)).into_response());
    }
    if let Some(name) = rest.strip_suffix("/get") {
        return save_response(e, vec![name.to_string()]).await;
    }
    Err(EngineError::NotFound(format!(
        "page not found: /images/{rest}"
    )))
}

#[derive(Deserialize, Default)]
pub struct PostQuery {
    repo: Option<String>,
    tag: Option<String>,
    filters: Option<String>,
}

pub async fn post_dispatch(
    State(e): State<AppState>,
    Path(rest): Path<String>,
    Query(q): Query<PostQuery>,
    headers: HeaderMap,
) -> Result<Response> {
    // Matched here rather than as its own route, so that GET/DELETE of an image named `prune`
    // keep working.
    if rest == "prune" {
        return prune(&e, q.filters.as_deref()).map(IntoResponse::into_response);
    }
    if let Some(name) = rest.strip_suffix("/tag") {
        let repo = q.repo.filter(|r| !r.is_empty()).ok_or_else(|| {
            EngineError::invalid("repository name must have at least one component")
        })?;
        e.images.tag(name, &repo, q.tag.as_deref())?;
        return Ok(StatusCode::CREATED.into_response());
    }
    if let Some(name) = rest.strip_suffix("/push") {
        return push(e, name, q.tag, &headers);
    }
    Err(EngineError::NotFound(format!(
        "page not found: /images/{rest}"
    )))
}

/// `docker push`: the name is checked up front (400); everything after the first progress
/// message, errors included, goes into the stream as dockerd does.
fn push(e: AppState, name: &str, tag: Option<String>, headers: &HeaderMap) -> Result<Response> {
    // Old clients put the tag in the path.
    let (name, tag) = match reference::parse(name)?.tag() {
        Some(t) if tag.as_deref().is_none_or(str::is_empty) && name.ends_with(&format!(":{t}")) => {
            (
                name[..name.len() - t.len() - 1].to_string(),
                Some(t.to_string()),
            )
        }
        _ => (name.to_string(), tag),
    };
    let creds = auth::decode_header(headers.get("X-Registry-Auth").and_then(|v| v.to_str().ok()))?;
    Ok(progress_response(move |tx| async move {
        let auth = auth::registry_auth(&creds);
        for p in e.images.push(&name, tag.as_deref(), auth, &tx).await? {
            let attrs = std::collections::HashMap::from([("name".to_string(), p.clone())]);
            e.events.emit("image", "push", &p, attrs);
        }
        Ok(())
    }))
}

/// Runs `work` in its own task and answers with the progress it sends, as the newline-separated
/// JSON stream of pulls and pushes. The status is already sent by then, so an error goes into
/// the stream as dockerd's `errorDetail` message.
fn progress_response<F, Fut>(work: F) -> Response
where
    F: FnOnce(crate::image::pull::Progress) -> Fut,
    Fut: std::future::Future<Output = Result<()>> + Send + 'static,
{
    let (tx, rx) = tokio::sync::mpsc::channel::<serde_json::Value>(256);
    let errors = tx.clone();
    let work = work(tx);
    tokio::spawn(async move {
        if let Err(err) = work.await {
            let msg = err.to_string();
            let _ = errors
                .send(json!({"errorDetail": {"message": msg}, "error": msg}))
                .await;
        }
    });
    let stream = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv()
            .await
            .map(|v| (Ok::<_, std::io::Error>(format!("{v}\r\n")), rx))
    });
    (
        [("Content-Type", "application/json")],
        Body::from_stream(stream),
    )
        .into_response()
}

/// `docker image prune`: never an image a container (in any state) was created from.
fn prune(
    e: &AppState,
    filters: Option<&str>,
) -> Result<Json<crate::api::types::ImagePruneResponse>> {
    let f = Filters::parse(filters)?;
    let report = e.images.prune(&f, || e.containers.image_users())?;
    for d in report.images_deleted.iter().flatten() {
        if let Some(id) = &d.deleted {
            e.events.emit("image", "delete", id, Default::default());
        }
    }
    e.events.emit(
        "image",
        "prune",
        "",
        std::collections::HashMap::from([(
            "reclaimed".to_string(),
            report.space_reclaimed.to_string(),
        )]),
    );
    Ok(Json(report))
}

#[derive(Deserialize, Default)]
pub struct DeleteQuery {
    #[serde(default)]
    force: Option<String>,
    #[serde(default)]
    noprune: Option<String>,
}

fn truthy(v: Option<&str>) -> bool {
    matches!(v, Some("1") | Some("true") | Some("True"))
}

pub async fn delete(
    State(e): State<AppState>,
    Path(name): Path<String>,
    Query(q): Query<DeleteQuery>,
) -> Result<Json<serde_json::Value>> {
    let users = e.containers.image_users();
    let items = e.images.remove(
        &name,
        truthy(q.force.as_deref()),
        truthy(q.noprune.as_deref()),
        &users,
    )?;
    for i in &items {
        if let Some(d) = &i.deleted {
            e.events.emit("image", "delete", d, Default::default());
        }
    }
    Ok(Json(json!(items)))
}

pub fn flag(v: Option<&str>) -> bool {
    truthy(v)
}
