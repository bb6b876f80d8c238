//! The viewer's files: `/`, `/app.js`, `/app.css`, `/messages.json` (its words in es, pt and
//! en) and MapLibre GL JS under `/vendor/`.

use axum::body::Body;
use axum::extract::{Path as UrlPath, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::Response;

use super::error::ApiError;
use super::state::Shared;

pub(super) fn static_response(content_type: &'static str, body: Vec<u8>) -> Response {
    let mut r = Response::new(Body::from(body));
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    r
}

pub(super) async fn index() -> Response {
    static_response(
        "text/html; charset=utf-8",
        include_str!("../../../web/index.html").as_bytes().to_vec(),
    )
}

pub(super) async fn app_js() -> Response {
    static_response(
        "text/javascript; charset=utf-8",
        include_str!("../../../web/app.js").as_bytes().to_vec(),
    )
}

pub(super) async fn messages() -> Response {
    static_response(
        "application/json; charset=utf-8",
        include_str!("../../../web/messages.json")
            .as_bytes()
            .to_vec(),
    )
}

pub(super) async fn app_css() -> Response {
    static_response(
        "text/css; charset=utf-8",
        include_str!("../../../web/app.css").as_bytes().to_vec(),
    )
}

pub(super) async fn vendor(
    State(state): State<Shared>,
    UrlPath(file): UrlPath<String>,
) -> Result<Response, ApiError> {
    let (body, kind) = match file.as_str() {
        "maplibre-gl.js" => (&state.vendor.js, "text/javascript; charset=utf-8"),
        "maplibre-gl.css" => (&state.vendor.css, "text/css; charset=utf-8"),
        _ => return Err(ApiError(StatusCode::NOT_FOUND, format!("no {file}"))),
    };
    body.clone()
        .map(|b| static_response(kind, b))
        .ok_or_else(|| {
            ApiError(
                StatusCode::SERVICE_UNAVAILABLE,
                "MapLibre GL JS is not installed: run `make web` (npm) or give --web-dir".into(),
            )
        })
}
