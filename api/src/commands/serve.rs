//! `predio serve`: vector tiles, TileJSON, a MapLibre style and the map viewer over HTTP (axum).
//!
//! The server holds the layers of one catalog version (`Served`) behind an `ArcSwap`. A task
//! polls `CURRENT`; when another version is committed it loads it beside the old one, swaps it
//! in (requests in flight finish on the version they started with) and evicts from the tile
//! cache only the tiles whose bounds touch a feature the new version changed.
//!
//! Every request passes [`guard`] first (limits, API key and role, rate limit, time limit, JSON
//! errors, access log, metrics); Open311 GeoReport v2 lives in [`open311`].

mod audit;
mod guard;
mod open311;

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use arc_swap::ArcSwap;
use axum::body::Body;
use axum::extract::{Extension, Path as UrlPath, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use predio_engine::indices::Level;
use predio_engine::{CatalogStore, DirCatalog, Manifest, VersionId};
use predio_tiles::{
    changes, kind_name, EncodedTile, ExternalLayer, FieldKind, HeatLayer, PolygonLayer, TileCache,
    TileFilter, TileKey, TileProvider, TileSourceError,
};
use serde_json::{json, Value};

use crate::cli::{ExportTiles, ServeArgs, TileArchiveFormat};

/// One catalog version's layers, as served.
struct Served {
    manifest: Manifest,
    /// Its reports for Open311, read on first use.
    open311: std::sync::OnceLock<Result<Arc<open311::Requests>, String>>,
    layers: BTreeMap<String, Arc<dyn TileProvider>>,
    windows: Vec<String>,
    default_window: String,
    categories: Vec<String>,
    departments: Vec<String>,
    bounds: Option<[f64; 4]>,
}

/// Loads the layers of `manifest`'s version, and adds the external ones.
fn load(
    catalog: &DirCatalog,
    manifest: &Manifest,
    min_heat: u32,
    externals: &[Arc<ExternalLayer>],
) -> anyhow::Result<Served> {
    let mut layers: BTreeMap<String, Arc<dyn TileProvider>> = BTreeMap::new();
    let mut filters = None;
    if let Some(sectors) = catalog.sectors(manifest)? {
        let l = PolygonLayer::sectors(&sectors, catalog.indices(manifest, Level::Sector)?)?
            .with_segments(catalog.segments(manifest, Level::Sector)?)?;
        filters = Some(l.filters());
        layers.insert("sectors".into(), Arc::new(l));
    }
    if let Some(parcels) = catalog.parcels(manifest)? {
        let l = PolygonLayer::parcels(&parcels, catalog.indices(manifest, Level::Parcel)?)?
            .with_segments(catalog.segments(manifest, Level::Parcel)?)?;
        if filters.as_ref().is_none_or(|f| f.0.is_empty()) {
            filters = Some(l.filters());
        }
        layers.insert("parcels".into(), Arc::new(l));
    }
    if let Some(h3) = catalog.indices(manifest, Level::H3)? {
        let heat = HeatLayer::new(h3, min_heat)?;
        // the defaults of `predio hotspots`: neighbours one step away, FDR 5 %
        layers.insert("hotspots".into(), Arc::new(heat.hotspots(1, 0.05)?));
        layers.insert("heat".into(), Arc::new(heat));
    }
    for e in externals {
        let name = e.name().to_owned();
        anyhow::ensure!(
            !layers.contains_key(&name),
            "--source {name}: the catalog has a layer of that name; choose another"
        );
        layers.insert(name, Arc::clone(e) as Arc<dyn TileProvider>);
    }
    let (windows, categories, departments) = filters.unwrap_or_default();
    let default_window = ["90d", "30d"]
        .iter()
        .find(|w| windows.iter().any(|x| x == *w))
        .map(|w| (*w).to_owned())
        .or_else(|| windows.first().cloned())
        .unwrap_or_default();
    let bounds = ["sectors", "parcels"]
        .iter()
        .find_map(|l| layers.get(*l).and_then(|p| p.bounds()));
    Ok(Served {
        manifest: manifest.clone(),
        open311: std::sync::OnceLock::new(),
        layers,
        windows,
        default_window,
        categories,
        departments,
        bounds,
    })
}

/// `predio export tiles`.
#[allow(clippy::print_stdout)] // the summary is this command's output
pub fn export_tiles(catalog: &DirCatalog, args: &ExportTiles) -> anyhow::Result<()> {
    anyhow::ensure!(
        args.minzoom <= args.maxzoom,
        "--minzoom {} is above --maxzoom {}",
        args.minzoom,
        args.maxzoom
    );
    let manifest = catalog
        .current()?
        .with_context(|| format!("the catalog at {} is empty", catalog.root().display()))?;
    let t = Instant::now();
    let served = load(catalog, &manifest, args.min_heat_reports, &[])?;
    let mut layers: Vec<&dyn TileProvider> = Vec::new();
    for name in &args.layers {
        let l = served.layers.get(name).with_context(|| {
            format!(
                "no layer {name:?} in version {}; it has {}",
                served.manifest.version,
                served.layers.keys().cloned().collect::<Vec<_>>().join(", ")
            )
        })?;
        layers.push(l.as_ref());
    }
    let filter = filter_from(args.window.clone(), args.dimension.pair(), &served);
    for l in &layers {
        l.check(&filter)?;
    }
    let format = match args.format {
        TileArchiveFormat::Pmtiles => predio_tiles::ArchiveFormat::Pmtiles,
        TileArchiveFormat::Mbtiles => predio_tiles::ArchiveFormat::Mbtiles,
    };
    let stats = predio_tiles::write_archive(
        &args.out,
        format,
        &layers,
        &filter,
        (args.minzoom, args.maxzoom),
        &format!(
            "predio {} ({})",
            served.manifest.version,
            filter_query(&filter)
        ),
    )
    .with_context(|| format!("writing {}", args.out.display()))?;
    let total: u64 = stats.per_zoom.values().sum();
    println!(
        "wrote {} tiles (z{}-z{}, {} empty skipped), {:.1} MB, to {} in {:.2} s",
        super::thousands(total as usize),
        args.minzoom,
        args.maxzoom,
        super::thousands(stats.empty as usize),
        stats.bytes as f64 / 1e6,
        args.out.display(),
        t.elapsed().as_secs_f64()
    );
    for (z, n) in &stats.per_zoom {
        println!("  z{z}: {}", super::thousands(*n as usize));
    }
    Ok(())
}

/// The MapLibre GL JS files of the viewer.
#[derive(Default)]
struct Vendor {
    js: Option<Vec<u8>>,
    css: Option<Vec<u8>>,
}

struct AppState {
    catalog: DirCatalog,
    current: ArcSwap<Served>,
    /// Held for reading around cache reads and writes, for writing around a version switch, so
    /// no tile of the old version is cached after the switch evicted its bounds.
    switch: RwLock<()>,
    cache: TileCache,
    min_heat: u32,
    /// Layers from `--source`: the same across versions.
    externals: Vec<Arc<ExternalLayer>>,
    guard: guard::Guard,
    vendor: Vendor,
}

type Shared = Arc<AppState>;

/// An HTTP error with a JSON body `{"error": ...}`.
struct ApiError(StatusCode, String);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.0, Json(json!({ "error": self.1 }))).into_response()
    }
}

fn bad_request(message: impl Into<String>) -> ApiError {
    ApiError(StatusCode::BAD_REQUEST, message.into())
}

impl From<TileSourceError> for ApiError {
    fn from(e: TileSourceError) -> Self {
        match e {
            TileSourceError::Filter(m) => bad_request(m),
            other => ApiError(StatusCode::INTERNAL_SERVER_ERROR, other.to_string()),
        }
    }
}

/// `predio serve`.
#[allow(clippy::print_stdout)] // the address line is how scripts find a port-0 server
pub fn run(catalog: DirCatalog, args: &ServeArgs) -> anyhow::Result<()> {
    let manifest = catalog.current()?.with_context(|| {
        format!(
            "the catalog at {} is empty: import sectors or parcels first",
            catalog.root().display()
        )
    })?;
    // Tiles are cut on blocking threads: CPU work, so a few per core (tokio's default of 512
    // threads only adds per-thread allocator heaps and contention).
    let cores = std::thread::available_parallelism().map_or(2, usize::from);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .max_blocking_threads((4 * cores).max(16))
        .build()
        .context("starting the async runtime")?;
    let t = Instant::now();
    let externals = predio_tiles::open_all(&runtime, &args.sources)?;
    for e in &externals {
        tracing::info!(layer = e.name(), "{}", e.description());
    }
    let served = load(&catalog, &manifest, args.min_heat_reports, &externals)
        .with_context(|| format!("loading version {}", manifest.version))?;
    tracing::info!(version = %served.manifest.version, secs = t.elapsed().as_secs_f64(), "loaded");
    let vendor = read_vendor(args.web_dir.as_deref());
    let catalog_root = &catalog.root().to_path_buf();
    let state = Arc::new(AppState {
        catalog,
        current: ArcSwap::from_pointee(served),
        switch: RwLock::new(()),
        cache: TileCache::new(args.cache_mib.saturating_mul(1 << 20)),
        min_heat: args.min_heat_reports,
        externals,
        guard: guard::Guard::new(
            args.keys
                .clone()
                .unwrap_or_else(|| super::keys::default_file(catalog_root)),
            args.public_parcels,
            args.rate_limit,
            Duration::from_secs(args.timeout_s.max(1)),
        )?,
        vendor,
    });
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(args.addr)
            .await
            .with_context(|| format!("listening on {}", args.addr))?;
        let addr = listener.local_addr()?;
        println!(
            "serving http://{addr}/ (version {}); Ctrl-C stops",
            state.current.load().manifest.version
        );
        tokio::spawn(watch(
            Arc::clone(&state),
            Duration::from_millis(args.poll_ms.max(10)),
        ));
        let cors = cors_of(&args.cors_origins)?;
        axum::serve(
            listener,
            router(state, cors).into_make_service_with_connect_info::<std::net::SocketAddr>(),
        )
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await
        .context("serving")
    })
}

fn read_vendor(dir: Option<&Path>) -> Vendor {
    let dir = dir.map_or_else(
        || {
            PathBuf::from(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/web/node_modules/maplibre-gl/dist"
            ))
        },
        Path::to_path_buf,
    );
    let read = |name: &str| std::fs::read(dir.join(name)).ok();
    let v = Vendor {
        js: read("maplibre-gl.js"),
        css: read("maplibre-gl.css"),
    };
    if v.js.is_none() {
        tracing::warn!(
            "MapLibre GL JS not found in {}: the viewer needs it (`make web`)",
            dir.display()
        );
    }
    v
}

/// CORS: any origin (`*`) unless origins are given.
fn cors_of(origins: &[String]) -> anyhow::Result<tower_http::cors::CorsLayer> {
    use tower_http::cors::{AllowOrigin, CorsLayer};
    let allow = if origins.is_empty() || origins.iter().any(|o| o == "*") {
        AllowOrigin::any()
    } else {
        let list = origins
            .iter()
            .map(|o| HeaderValue::from_str(o).with_context(|| format!("--cors-origin {o:?}")))
            .collect::<anyhow::Result<Vec<_>>>()?;
        AllowOrigin::list(list)
    };
    Ok(CorsLayer::new()
        .allow_origin(allow)
        .allow_methods([
            axum::http::Method::GET,
            axum::http::Method::HEAD,
            axum::http::Method::POST,
        ])
        .allow_headers([
            header::AUTHORIZATION,
            header::IF_NONE_MATCH,
            header::HeaderName::from_static("x-api-key"),
        ])
        .expose_headers([
            header::ETAG,
            header::HeaderName::from_static("x-cache"),
            header::HeaderName::from_static("x-predio-version"),
        ]))
}

fn router(state: Shared, cors: tower_http::cors::CorsLayer) -> Router {
    Router::new()
        .route("/", get(index))
        .route("/app.js", get(app_js))
        .route("/app.css", get(app_css))
        .route("/vendor/{file}", get(vendor))
        .route("/health", get(health))
        .route("/favicon.ico", get(|| async { StatusCode::NO_CONTENT }))
        .route("/meta.json", get(meta))
        .route("/style.json", get(style))
        .route("/legend.json", get(legend))
        .route("/tiles/{file}", get(tilejson))
        .route("/tiles/{layer}/{z}/{x}/{file}", get(tile))
        .route("/open311/v2/{file}", get(open311::root))
        .route("/open311/v2/requests/{file}", get(open311::one))
        .route("/audit/{file}", get(audit::sectors))
        .route("/plan", get(plan))
        .route("/metrics", get(metrics))
        .route("/admin/reload", post(admin_reload))
        .route("/admin/cache/clear", post(admin_clear))
        .fallback(|| async { ApiError(StatusCode::NOT_FOUND, "no such endpoint".into()) })
        .layer(axum::middleware::from_fn_with_state(
            Arc::clone(&state),
            guard::guard,
        ))
        .layer(tower_http::limit::RequestBodyLimitLayer::new(64 * 1024))
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(
            guard::panicked,
        ))
        .layer(cors)
        .with_state(state)
}

/// Polls `CURRENT` and switches to a new version when one is committed.
async fn watch(state: Shared, every: Duration) {
    let pointer = state.catalog.root().join("CURRENT");
    let mut failed: Option<String> = None;
    loop {
        tokio::time::sleep(every).await;
        state.guard.refresh_keys();
        let Ok(name) = tokio::fs::read_to_string(&pointer).await else {
            continue;
        };
        let name = name.trim().to_owned();
        if name == state.current.load().manifest.version.to_string()
            || failed.as_deref() == Some(&name)
        {
            continue;
        }
        let st = Arc::clone(&state);
        let result = tokio::task::spawn_blocking(move || switch(&st)).await;
        match result {
            Ok(Ok(())) => failed = None,
            Ok(Err(e)) => {
                tracing::error!("version {name} not served: {e:#}");
                failed = Some(name);
            }
            Err(e) => tracing::error!("version switch panicked: {e}"),
        }
    }
}

/// Loads the current version, swaps it in and evicts the tiles it changed.
fn switch(state: &AppState) -> anyhow::Result<()> {
    let t = Instant::now();
    let Some(manifest) = state.catalog.current()? else {
        return Ok(());
    };
    let new = load(&state.catalog, &manifest, state.min_heat, &state.externals)?;
    let old = state.current.load_full();
    let mut evict = Vec::new();
    for (name, layer) in &new.layers {
        let c = match old.layers.get(name) {
            Some(o) if Arc::ptr_eq(o, layer) => predio_tiles::Changed::Nothing,
            Some(o) => changes(o.as_ref(), layer.as_ref()),
            None => predio_tiles::Changed::Everything,
        };
        evict.push((name.clone(), c, layer.reach_m()));
    }
    for name in old.layers.keys().filter(|n| !new.layers.contains_key(*n)) {
        evict.push((name.clone(), predio_tiles::Changed::Everything, 0.0));
    }
    let version = new.manifest.version;
    {
        let _guard = state
            .switch
            .write()
            .map_err(|_| anyhow::anyhow!("switch lock poisoned"))?;
        state.current.store(Arc::new(new));
        for (name, c, reach) in &evict {
            state.cache.invalidate(name, c, *reach);
        }
    }
    let summary: Vec<String> = evict
        .iter()
        .map(|(n, c, _)| match c {
            predio_tiles::Changed::Nothing => format!("{n}: unchanged"),
            predio_tiles::Changed::Everything => format!("{n}: all tiles"),
            predio_tiles::Changed::Bounds(b) => format!("{n}: {} changed bounds", b.len() / 2),
        })
        .collect();
    tracing::info!(
        "switched to {version} in {:.2} s ({})",
        t.elapsed().as_secs_f64(),
        summary.join(", ")
    );
    Ok(())
}

/// The query of a tile, TileJSON, style or legend request: `window`, and `category` or
/// `department`.
fn filter_of(q: &HashMap<String, String>, served: &Served) -> Result<TileFilter, ApiError> {
    let dimension = predio::params::dimension(q).map_err(bad_request)?;
    let window = q.get("window").filter(|v| !v.is_empty()).cloned();
    Ok(filter_from(window, dimension, served))
}

/// A filter with the served version's default window when none is given.
fn filter_from(
    window: Option<String>,
    dimension: Option<(String, String)>,
    served: &Served,
) -> TileFilter {
    TileFilter {
        window: window
            .filter(|w| !w.is_empty())
            .unwrap_or_else(|| served.default_window.clone()),
        dimension,
    }
}

/// The query string that selects `filter` in URLs we hand out.
fn filter_query(filter: &TileFilter) -> String {
    let mut q = format!("window={}", encode(&filter.window));
    if let Some((d, v)) = &filter.dimension {
        q += &format!("&{d}={}", encode(v));
    }
    q
}

/// Percent-encoding of a query value.
fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out += &format!("%{b:02X}");
        }
    }
    out
}

fn base_url(headers: &HeaderMap) -> String {
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .filter(|h| {
            h.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-.:[]".contains(&b))
        })
        .unwrap_or("localhost");
    format!("http://{host}")
}

async fn tile(
    State(state): State<Shared>,
    UrlPath((layer, z, x, file)): UrlPath<(String, String, String, String)>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let coord = predio::params::tile_path(&z, &x, &file).map_err(bad_request)?;
    let (served, cached) = {
        let _g = state
            .switch
            .read()
            .map_err(|_| ApiError(StatusCode::INTERNAL_SERVER_ERROR, "lock poisoned".into()))?;
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
                let t = Arc::new(
                    EncodedTile::new(raw)
                        .map_err(|e| ApiError(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?,
                );
                if let Ok(_g) = st.switch.read() {
                    if st.current.load().manifest.version == version {
                        st.cache.insert(key, Arc::clone(&t));
                    }
                }
                Ok(t)
            })
            .await
            .map_err(|e| ApiError(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))??;
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

fn tile_response(t: &EncodedTile, hit: bool, version: VersionId, headers: &HeaderMap) -> Response {
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

fn json_response(v: Value) -> Response {
    let mut r = Json(v).into_response();
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    r
}

/// `/tiles/{layer}.json`: TileJSON 3.0.0.
async fn tilejson(
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

fn tilejson_of(p: &dyn TileProvider, base: &str, filter: &TileFilter, version: VersionId) -> Value {
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

/// Sequential ramps, low to high; `compliance` is the other way round (low is bad).
const RAMP: [&str; 5] = ["#ffffb2", "#fecc5c", "#fd8d3c", "#f03b20", "#bd0026"];
const NONE: &str = "#e8e8e8";
/// Gi* hot and cold spots.
const HOT: &str = "#d7301f";
const COLD: &str = "#2b8cbe";

/// A legend: class breaks from the quantiles of the field's values, and their colours.
fn legend_of(values: &mut [f64], field: &str) -> Value {
    values.sort_by(f64::total_cmp);
    let positive: Vec<f64> = values.iter().copied().filter(|v| *v > 0.0).collect();
    let mut stops: Vec<f64> = Vec::new();
    if !positive.is_empty() {
        for q in [0.0, 0.25, 0.5, 0.75, 0.95] {
            let i = ((positive.len() - 1) as f64 * q).round() as usize;
            let v = positive[i];
            let v = if v >= 10.0 {
                v.round()
            } else {
                (v * 100.0).round() / 100.0
            };
            if stops.last().is_none_or(|l| v > *l) {
                stops.push(v);
            }
        }
    }
    let mut colours: Vec<&str> = RAMP.to_vec();
    if field == "compliance" {
        colours.reverse();
    }
    colours.truncate(stops.len());
    json!({ "field": field, "none": NONE, "stops": stops, "colors": colours })
}

/// A MapLibre `step` expression of a legend.
fn paint_of(legend: &Value) -> Value {
    let field = legend["field"].as_str().unwrap_or("received");
    let mut e = vec![
        json!("step"),
        json!(["coalesce", ["get", field], -1]),
        json!(NONE),
    ];
    let stops = legend["stops"].as_array().cloned().unwrap_or_default();
    let colours = legend["colors"].as_array().cloned().unwrap_or_default();
    for (s, c) in stops.into_iter().zip(colours) {
        e.push(s);
        e.push(c);
    }
    if e.len() == 3 {
        return json!(NONE);
    }
    Value::Array(e)
}

/// The default field each layer is coloured by.
fn default_field(layer: &str) -> &'static str {
    match layer {
        "sectors" => "overdue",
        "heat" => "density_km2",
        _ => "received",
    }
}

fn legend_for(
    served: &Served,
    layer: &str,
    field: &str,
    filter: &TileFilter,
) -> Result<Value, ApiError> {
    let p = served
        .layers
        .get(layer)
        .ok_or_else(|| ApiError(StatusCode::NOT_FOUND, format!("no layer {layer:?}")))?;
    if !p
        .fields()
        .iter()
        .any(|(n, k, _)| n == field && *k != FieldKind::Text)
    {
        return Err(bad_request(format!(
            "layer {layer} has no index field {field:?}"
        )));
    }
    let mut values = p.values(field, filter)?;
    let mut l = legend_of(&mut values, field);
    l["layer"] = json!(layer);
    Ok(l)
}

/// `/legend.json?layer=parcels&field=received&window=...`.
async fn legend(
    State(state): State<Shared>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let served = state.current.load_full();
    let layer = q.get("layer").map_or("parcels", String::as_str);
    let field = q
        .get("field")
        .map_or_else(|| default_field(layer), String::as_str);
    let filter = filter_of(&q, &served)?;
    let mut l = legend_for(&served, layer, field, &filter)?;
    l["paint"] = paint_of(&l);
    Ok(json_response(l))
}

/// `/style.json`: a MapLibre style over the three layers (no base map: it works offline).
async fn style(
    State(state): State<Shared>,
    Extension(caller): Extension<guard::Caller>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let served = state.current.load_full();
    let seen: BTreeMap<&str, &Arc<dyn TileProvider>> = served
        .layers
        .iter()
        .filter(|(n, _)| state.guard.sees_layer(caller.role, n))
        .map(|(n, p)| (n.as_str(), p))
        .collect();
    let filter = filter_of(&q, &served)?;
    let base = base_url(&headers);
    let mut sources = serde_json::Map::new();
    let mut legends = serde_json::Map::new();
    for (name, p) in &seen {
        p.check(&filter)?;
        sources.insert(
            (*name).to_owned(),
            json!({ "type": "vector", "url": format!("{base}/tiles/{name}.json?{}", filter_query(&filter)) }),
        );
        if p.fields().iter().any(|(n, ..)| n == default_field(name)) {
            legends.insert(
                (*name).to_owned(),
                legend_for(&served, name, default_field(name), &filter)?,
            );
        }
    }
    let paint = |layer: &str| legends.get(layer).map_or(json!(NONE), paint_of);
    let mut layers = vec![json!({
        "id": "background", "type": "background", "paint": { "background-color": "#f4f1ea" }
    })];
    if seen.contains_key("sectors") {
        layers.push(json!({
            "id": "sectors-fill", "type": "fill", "source": "sectors", "source-layer": "sectors",
            "paint": { "fill-color": paint("sectors"), "fill-opacity": 0.55 }
        }));
    }
    if seen.contains_key("heat") {
        layers.push(json!({
            "id": "heat-fill", "type": "fill", "source": "heat", "source-layer": "heat",
            "layout": { "visibility": "none" },
            "paint": { "fill-color": paint("heat"), "fill-opacity": 0.75, "fill-outline-color": "rgba(255,255,255,0.4)" }
        }));
    }
    if seen.contains_key("hotspots") {
        layers.push(json!({
            "id": "hotspots-fill", "type": "fill", "source": "hotspots", "source-layer": "hotspots",
            "layout": { "visibility": "none" },
            "paint": {
                "fill-color": ["match", ["get", "class"], "hot", HOT, "cold", COLD, NONE],
                "fill-opacity": 0.75, "fill-outline-color": "rgba(255,255,255,0.6)"
            }
        }));
    }
    if seen.contains_key("parcels") {
        layers.push(json!({
            "id": "parcels-fill", "type": "fill", "source": "parcels", "source-layer": "parcels",
            "minzoom": 13,
            "layout": { "visibility": "none" },
            "paint": { "fill-color": paint("parcels"), "fill-opacity": 0.85 }
        }));
        layers.push(json!({
            "id": "parcels-line", "type": "line", "source": "parcels", "source-layer": "parcels",
            "minzoom": 15,
            "layout": { "visibility": "none" },
            "paint": { "line-color": "#7a7a7a", "line-width": 0.4 }
        }));
    }
    if seen.contains_key("sectors") {
        layers.push(json!({
            "id": "sectors-line", "type": "line", "source": "sectors", "source-layer": "sectors",
            "paint": { "line-color": "#3b3b3b", "line-width": 1.2 }
        }));
    }
    let center = served.bounds.map_or(json!([0.0, 0.0]), |[w, s, e, n]| {
        json!([(w + e) / 2.0, (s + n) / 2.0])
    });
    Ok(json_response(json!({
        "version": 8,
        "name": "predio",
        "metadata": {
            "predio:version": served.manifest.version.to_string(),
            "predio:filter": { "window": filter.window, "dimension": filter.dimension },
            "predio:legend": legends,
        },
        "center": center,
        "zoom": 13,
        "sources": sources,
        "layers": layers,
    })))
}

/// `/meta.json`: what the viewer's pickers offer.
async fn meta(
    State(state): State<Shared>,
    Extension(caller): Extension<guard::Caller>,
) -> Response {
    let served = state.current.load_full();
    let layers: Vec<Value> = served
        .layers
        .iter()
        .filter(|(n, _)| state.guard.sees_layer(caller.role, n))
        .map(|(name, p)| {
            let (minzoom, maxzoom) = p.zoom_range();
            json!({
                "name": name,
                "description": p.description(),
                "minzoom": minzoom,
                "maxzoom": maxzoom,
                "default_field": default_field(name),
                "fields": p.fields().into_iter().map(|(n, k, d)| json!({
                    "name": n, "type": kind_name(k), "description": d
                })).collect::<Vec<_>>(),
            })
        })
        .collect();
    json_response(json!({
        "version": served.manifest.version.to_string(),
        "windows": served.windows,
        "default_window": served.default_window,
        "categories": served.categories,
        "departments": served.departments,
        "bounds": served.bounds,
        "layers": layers,
    }))
}

/// `/plan?top=10&window=90d&res=9`: the proactive plan (planner).
async fn plan(
    State(state): State<Shared>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let top: usize = match q.get("top").filter(|t| !t.is_empty()) {
        None => 10,
        Some(t) => t
            .parse()
            .ok()
            .filter(|n| (1..=1000).contains(n))
            .ok_or_else(|| bad_request(format!("top={t:?}: 1 to 1000")))?,
    };
    let res: u8 = match q.get("res").filter(|t| !t.is_empty()) {
        None => 9,
        Some(r) => r
            .parse()
            .map_err(|_| bad_request(format!("res={r:?}: an H3 resolution")))?,
    };
    let window = q.get("window").filter(|w| !w.is_empty()).cloned();
    let served = state.current.load_full();
    let st = Arc::clone(&state);
    let result = tokio::task::spawn_blocking(move || {
        super::plan::actions(&st.catalog, &served.manifest, window.as_deref(), res)
    })
    .await
    .map_err(|e| ApiError(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
    let (ranked, window) = result.map_err(|e| bad_request(format!("{e:#}")))?;
    let rows: Vec<Value> = ranked
        .iter()
        .take(top)
        .enumerate()
        .map(|(i, a)| super::plan::action_json(i + 1, a))
        .collect();
    Ok(json_response(json!({ "window": window, "actions": rows })))
}

/// `/metrics`: Prometheus text (admin).
async fn metrics(State(state): State<Shared>) -> Response {
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
async fn admin_reload(State(state): State<Shared>) -> Result<Response, ApiError> {
    let st = Arc::clone(&state);
    tokio::task::spawn_blocking(move || switch(&st))
        .await
        .map_err(|e| ApiError(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?
        .map_err(|e| ApiError(StatusCode::INTERNAL_SERVER_ERROR, format!("{e:#}")))?;
    Ok(json_response(
        json!({ "version": state.current.load().manifest.version.to_string() }),
    ))
}

/// `POST /admin/cache/clear`: empties the tile cache (admin).
async fn admin_clear(State(state): State<Shared>) -> Response {
    let (tiles, _) = state.cache.usage();
    state.cache.clear();
    json_response(json!({ "evicted": tiles }))
}

async fn health(State(state): State<Shared>) -> Response {
    let (tiles, bytes) = state.cache.usage();
    json_response(json!({
        "status": "ok",
        "version": state.current.load().manifest.version.to_string(),
        "cache": { "tiles": tiles, "bytes": bytes },
    }))
}

fn static_response(content_type: &'static str, body: Vec<u8>) -> Response {
    let mut r = Response::new(Body::from(body));
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    r
}

async fn index() -> Response {
    static_response(
        "text/html; charset=utf-8",
        include_str!("../../web/index.html").as_bytes().to_vec(),
    )
}

async fn app_js() -> Response {
    static_response(
        "text/javascript; charset=utf-8",
        include_str!("../../web/app.js").as_bytes().to_vec(),
    )
}

async fn app_css() -> Response {
    static_response(
        "text/css; charset=utf-8",
        include_str!("../../web/app.css").as_bytes().to_vec(),
    )
}

async fn vendor(
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn legends_break_at_quantiles_and_skip_zeros() {
        let mut v: Vec<f64> = (0..=100).map(f64::from).collect();
        v.extend([0.0; 50]);
        let l = legend_of(&mut v, "received");
        assert_eq!(l["stops"], json!([1.0, 26.0, 51.0, 75.0, 95.0]));
        assert_eq!(l["colors"].as_array().map(Vec::len), Some(5));
        let l = legend_of(&mut [0.5, 0.5, 0.9], "compliance");
        assert_eq!(l["stops"], json!([0.5, 0.9]));
        assert_eq!(
            l["colors"][0],
            json!("#bd0026"),
            "low compliance is the red end"
        );
        let p = paint_of(&l);
        assert_eq!(p[0], json!("step"));
        assert_eq!(legend_of(&mut [], "received")["stops"], json!([]));
    }

    #[test]
    fn query_values_are_percent_encoded() {
        let f = TileFilter {
            window: "90d".into(),
            dimension: Some(("category".into(), "Alumbrado público & más".into())),
        };
        assert_eq!(
            filter_query(&f),
            "window=90d&category=Alumbrado%20p%C3%BAblico%20%26%20m%C3%A1s"
        );
    }
}
