//! Operations: `/health`, `/metrics` (Prometheus, admin) and `/admin/reload`,
//! `/admin/cache/clear`.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderValue};
use axum::response::Response;
use serde_json::json;

use super::error::ApiError;
use super::state::{switch, Shared};
use super::tiles::json_response;

/// `/metrics`: Prometheus text (admin).
pub(super) async fn metrics(State(state): State<Shared>) -> Response {
    let (tiles, bytes) = state.cache.usage();
    let served = state.current.load();
    let text = state.guard.metrics.render(&[
        (
            "predio_tile_cache_tiles",
            "Tiles in the cache.",
            tiles as f64,
        ),
        (
            "predio_tile_cache_bytes",
            "Bytes of the tiles in the cache (plain and gzip).",
            bytes as f64,
        ),
        (
            "predio_catalog_version",
            "The catalog version served.",
            served.manifest.version.number() as f64,
        ),
    ]);
    let mut r = Response::new(Body::from(text));
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    r
}

/// `POST /admin/reload`: looks for a new version now (admin).
pub(super) async fn admin_reload(State(state): State<Shared>) -> Result<Response, ApiError> {
    let st = Arc::clone(&state);
    tokio::task::spawn_blocking(move || switch(&st))
        .await
        .map_err(ApiError::internal)?
        .map_err(|e| ApiError::internal(format!("{e:#}")))?;
    Ok(json_response(
        json!({ "version": state.current.load().manifest.version.to_string() }),
    ))
}

/// `POST /admin/cache/clear`: empties the tile cache (admin).
pub(super) async fn admin_clear(State(state): State<Shared>) -> Response {
    let (tiles, _) = state.cache.usage();
    state.cache.clear();
    json_response(json!({ "evicted": tiles }))
}

pub(super) async fn health(State(state): State<Shared>) -> Response {
    let (tiles, bytes) = state.cache.usage();
    json_response(json!({
        "status": "ok",
        "version": state.current.load().manifest.version.to_string(),
        "cache": { "tiles": tiles, "bytes": bytes },
    }))
}
