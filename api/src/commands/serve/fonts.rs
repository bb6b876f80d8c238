//! `/fonts/{fontstack}/{start}-{end}.pbf`: the glyphs of the map's labels, rendered from the
//! server's font files (`serve --fonts`, by default Debian's Noto Sans).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context as _;
use axum::extract::{Path as UrlPath, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use predio_tiles::{GlyphError, Glyphs};

use super::error::ApiError;
use super::state::Shared;

/// Where Debian puts the default fonts: Noto Sans (`fonts-noto-core`), else DejaVu Sans.
const DEFAULTS: [&[&str]; 2] = [
    &[
        "/usr/share/fonts/truetype/noto/NotoSans-Regular.ttf",
        "/usr/share/fonts/truetype/noto/NotoSans-Bold.ttf",
    ],
    &["/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"],
];

/// The fonts given, else the first default installed; `None` (and a warning) when there is
/// none: the map then has no labels.
///
/// # Errors
/// A font given that does not read, naming it.
pub(super) fn open(given: &[PathBuf]) -> anyhow::Result<Option<Arc<Glyphs>>> {
    let paths: Vec<PathBuf> = if given.is_empty() {
        let Some(found) = DEFAULTS.iter().find(|set| Path::new(set[0]).exists()) else {
            tracing::warn!("no font found (install fonts-noto-core or give --fonts): no labels");
            return Ok(None);
        };
        found
            .iter()
            .map(PathBuf::from)
            .filter(|p| p.exists())
            .collect()
    } else {
        given.to_vec()
    };
    let glyphs = Glyphs::open(&paths).context("--fonts")?;
    tracing::info!(fonts = ?glyphs.names(), "label fonts");
    Ok(Some(Arc::new(glyphs)))
}

/// `/fonts/{fontstack}/{range}`.
pub(super) async fn glyphs(
    State(state): State<Shared>,
    UrlPath((fontstack, range)): UrlPath<(String, String)>,
) -> Result<Response, ApiError> {
    let Some(glyphs) = state.glyphs.clone() else {
        return Err(ApiError(
            StatusCode::NOT_FOUND,
            "this server has no label fonts".into(),
        ));
    };
    let (start, end) = range
        .strip_suffix(".pbf")
        .and_then(|r| r.split_once('-'))
        .and_then(|(a, b)| Some((a.parse::<u32>().ok()?, b.parse::<u32>().ok()?)))
        .ok_or_else(|| {
            ApiError(
                StatusCode::NOT_FOUND,
                format!("{range:?}: a range is START-END.pbf, e.g. 0-255.pbf"),
            )
        })?;
    let pbf = tokio::task::spawn_blocking(move || glyphs.range(&fontstack, start, end))
        .await
        .map_err(ApiError::internal)?
        .map_err(|e| match e {
            GlyphError::Request(m) => ApiError(StatusCode::NOT_FOUND, m),
            other => ApiError::internal(other),
        })?;
    let mut r = pbf.as_ref().clone().into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/x-protobuf"),
    );
    r.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=86400"),
    );
    Ok(r)
}
