//! Vector tiles and TileJSON: `/tiles/{layer}/{z}/{x}/{y}.mvt` (cached, gzip, ETag) and
//! `/tiles/{layer}.json`; the filter (window, category or department) every layer request takes.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Path as UrlPath, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use predio_engine::indices::{Dimension, Selection};
use predio_engine::VersionId;
use predio_tiles::{kind_name, EncodedTile, TileKey, TileProvider};
use serde_json::Value;

use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

use super::error::{bad_request, ApiError};
use super::state::Served;
use super::state::Shared;

/// The query of a tile, TileJSON, style or legend request: `window`, and `category` or
/// `department`.
pub(super) fn filter_of(
    q: &HashMap<String, String>,
    served: &Served,
) -> Result<Selection, ApiError> {
    let window = q.get("window").filter(|v| !v.is_empty()).cloned();
    Ok(filter_from(window, dimension_of(q)?, served))
}

/// The `category=` or `department=` of a query, or all reports.
pub(super) fn dimension_of(q: &HashMap<String, String>) -> Result<Dimension, ApiError> {
    Ok(match crate::params::dimension(q).map_err(bad_request)? {
        None => Dimension::All,
        Some((d, v)) => Dimension::new(&d, Some(v))
            .ok_or_else(|| bad_request(format!("unknown dimension {d:?}")))?,
    })
}

/// A filter with the served version's default window when none is given.
pub(crate) fn filter_from(
    window: Option<String>,
    dimension: Dimension,
    served: &Served,
) -> Selection {
    Selection {
        window: window
            .filter(|w| !w.is_empty())
            .unwrap_or_else(|| served.default_window.clone()),
        dimension,
        res: None,
    }
}

/// The query string that selects `filter` in URLs we hand out.
pub(crate) fn filter_query(filter: &Selection) -> String {
    let mut q = format!("window={}", encode(&filter.window));
    if let Some(v) = filter.dimension.value() {
        q += &format!("&{}={}", filter.dimension.name(), encode(v));
    }
    q
}

/// The characters a query value keeps as they are (RFC 3986's unreserved set).
const QUERY_VALUE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// Percent-encoding of a query value.
fn encode(s: &str) -> String {
    utf8_percent_encode(s, QUERY_VALUE).to_string()
}

pub(super) fn base_url(headers: &HeaderMap) -> String {
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .filter(|h| {
            h.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-.:[]".contains(&b))
        })
        .unwrap_or("localhost");
    // under /m/<slug> in a deployment of many (set by the guard, never by a client)
    let prefix = headers
        .get(super::guard::PREFIX_HEADER)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("");
    format!("http://{host}{prefix}")
}

pub(super) async fn tile(
    State(state): State<Shared>,
    UrlPath((layer, z, x, file)): UrlPath<(String, String, String, String)>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let coord = crate::params::tile_path(&z, &x, &file).map_err(bad_request)?;
    let (served, cached) = {
        let _g = state
            .switch
            .read()
            .map_err(|_| ApiError::internal("lock poisoned"))?;
        let served = state.current.load_full();
        let filter = filter_of(&q, &served)?;
        let key = TileKey {
            layer: layer.clone(),
            tile: coord,
            filter,
        };
        let cached = state.cache.get(&key);
        (served, (key, cached))
    };
    let (key, cached) = cached;
    let provider = served.layers.get(&layer).cloned().ok_or_else(|| {
        ApiError(
            StatusCode::NOT_FOUND,
            format!(
                "no layer {layer:?}; this version has {}",
                served.layers.keys().cloned().collect::<Vec<_>>().join(", ")
            ),
        )
    })?;
    let (encoded, hit) = match cached {
        Some(t) => (t, true),
        None => {
            let st = Arc::clone(&state);
            let filter = key.filter.clone();
            let version = served.manifest.version;
            let t = tokio::task::spawn_blocking(move || -> Result<Arc<EncodedTile>, ApiError> {
                let raw = provider.tile(coord, &filter)?.unwrap_or_default();
                let t = Arc::new(EncodedTile::new(raw).map_err(ApiError::internal)?);
                if let Ok(_g) = st.switch.read() {
                    if st.current.load().manifest.version == version {
                        st.cache.insert(key, Arc::clone(&t));
                    }
                }
                Ok(t)
            })
            .await
            .map_err(ApiError::internal)??;
            (t, false)
        }
    };
    Ok(tile_response(
        &encoded,
        hit,
        served.manifest.version,
        &headers,
    ))
}

pub(super) fn tile_response(
    t: &EncodedTile,
    hit: bool,
    version: VersionId,
    headers: &HeaderMap,
) -> Response {
    let gzip = headers
        .get(header::ACCEPT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|e| e.trim().starts_with("gzip")));
    let not_modified = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|e| e.trim() == t.etag));
    let (status, body, encoding) = if not_modified {
        (StatusCode::NOT_MODIFIED, Vec::new(), None)
    } else if t.raw.is_empty() {
        (StatusCode::NO_CONTENT, Vec::new(), None)
    } else if gzip {
        (StatusCode::OK, t.gzip.clone(), Some("gzip"))
    } else {
        (StatusCode::OK, t.raw.clone(), None)
    };
    let mut r = Response::new(Body::from(body));
    *r.status_mut() = status;
    let h = r.headers_mut();
    let set = |h: &mut HeaderMap, k: header::HeaderName, v: &str| {
        if let Ok(v) = HeaderValue::from_str(v) {
            h.insert(k, v);
        }
    };
    if status == StatusCode::OK {
        set(
            h,
            header::CONTENT_TYPE,
            "application/vnd.mapbox-vector-tile",
        );
    }
    if let Some(e) = encoding {
        set(h, header::CONTENT_ENCODING, e);
    }
    set(h, header::ETAG, &t.etag);
    set(
        h,
        header::CACHE_CONTROL,
        "public, max-age=60, must-revalidate",
    );
    set(h, header::VARY, "Accept-Encoding");
    set(
        h,
        header::HeaderName::from_static("x-cache"),
        if hit { "hit" } else { "miss" },
    );
    set(
        h,
        header::HeaderName::from_static("x-predio-version"),
        &version.to_string(),
    );
    r
}

pub(super) fn json_response(v: Value) -> Response {
    let mut r = Json(v).into_response();
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    r
}

/// `/tiles/{layer}.json`: TileJSON 3.0.0.
pub(super) async fn tilejson(
    State(state): State<Shared>,
    UrlPath(file): UrlPath<String>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let layer = file
        .strip_suffix(".json")
        .ok_or_else(|| ApiError(StatusCode::NOT_FOUND, format!("no {file}: try {file}.json")))?;
    let served = state.current.load_full();
    let p = served
        .layers
        .get(layer)
        .ok_or_else(|| ApiError(StatusCode::NOT_FOUND, format!("no layer {layer:?}")))?;
    let filter = filter_of(&q, &served)?;
    p.check(&filter)?;
    Ok(json_response(tilejson_of(
        p.as_ref(),
        &base_url(&headers),
        &filter,
        served.manifest.version,
    )))
}

pub(super) fn tilejson_of(
    p: &dyn TileProvider,
    base: &str,
    filter: &Selection,
    version: VersionId,
) -> Value {
    let (minzoom, maxzoom) = p.zoom_range();
    let mut fields = BTreeMap::new();
    let mut types = serde_json::Map::new();
    for (n, k, d) in p.fields() {
        types.insert(n.clone(), Value::from(kind_name(k)));
        fields.insert(n, format!("{}: {d}", kind_name(k)));
    }
    let mut layer = tilejson::VectorLayer::new(p.name().to_owned(), fields);
    layer.description = Some(p.description().to_owned());
    layer.minzoom = Some(minzoom);
    layer.maxzoom = Some(maxzoom);
    layer
        .other
        .insert("field_types".into(), Value::Object(types));
    let layers = p
        .tilejson_layers()
        .and_then(|v| serde_json::from_value::<Vec<tilejson::VectorLayer>>(v).ok())
        .unwrap_or_else(|| vec![layer]);
    let mut tj = tilejson::tilejson! {
        tiles: vec![format!("{base}/tiles/{}/{{z}}/{{x}}/{{y}}.mvt?{}", p.name(), filter_query(filter))],
        name: p.name().to_owned(),
        description: p.description().to_owned(),
        minzoom: minzoom,
        maxzoom: maxzoom,
        version: version.to_string(),
        vector_layers: layers,
        attribution: "predio".to_owned(),
    };
    if let Some([w, s, e, n]) = p.bounds() {
        tj.bounds = Some(tilejson::Bounds::new(w, s, e, n));
        tj.center = Some(tilejson::Center::new((w + e) / 2.0, (s + n) / 2.0, 14));
    }
    serde_json::to_value(&tj).unwrap_or(Value::Null)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_values_are_percent_encoded() {
        let f = Selection {
            window: "90d".into(),
            dimension: Dimension::Category(Some("Alumbrado público & más".into())),
            res: None,
        };
        assert_eq!(
            filter_query(&f),
            "window=90d&category=Alumbrado%20p%C3%BAblico%20%26%20m%C3%A1s"
        );
    }
}
