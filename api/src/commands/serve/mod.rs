//! `predio serve`: vector tiles, TileJSON, a MapLibre style and the map viewer over HTTP (axum).
//!
//! The server holds the layers of one catalog version (`Served`) behind an `ArcSwap`. A task
//! polls `CURRENT`; when another version is committed it loads it beside the old one, swaps it
//! in (requests in flight finish on the version they started with) and evicts from the tile
//! cache only the tiles whose bounds touch a feature the new version changed.
//!
//! The server is split by area: `state` (what it holds and the version watcher), `tiles`,
//! `style` (style, legends, meta), [`open311`], `audit`, `plan`, `admin`, `assets` (the viewer);
//! `error` maps failures to answers.
//!
//! Every request passes [`guard`] first (limits, API key and role, rate limit, time limit, JSON
//! errors, access log, metrics); Open311 GeoReport v2 lives in [`open311`].

mod admin;
mod area;
mod assets;
mod audit;
mod backlog;
mod error;
mod fonts;
mod guard;
mod many;
mod open311;
mod plan;
pub(crate) mod publish;
mod requests;
mod search;
mod series;
mod state;
mod style;
#[cfg(test)]
mod tests;
mod tiles;

use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use arc_swap::ArcSwap;
use axum::http::{header, HeaderValue, StatusCode};
use axum::routing::{get, post};
use axum::Router;
use predio_engine::{CatalogStore, DirCatalog};
use predio_tiles::{ExternalLayer, TileCache, TileProvider};

use crate::cli::ServeArgs;

use admin::{admin_clear, admin_reload, health, metrics};
use assets::{app_css, app_js, index, vendor};
use error::ApiError;
use plan::plan;
pub(crate) use state::{load, LoadOptions};
use state::{read_vendor, watch, AppState, Shared};
use style::{legend, meta, style};
pub(crate) use tiles::{filter_from, filter_query};
use tiles::{tile, tilejson};

/// `predio serve`.
#[allow(clippy::print_stdout)] // the address line is how scripts find a port-0 server
pub fn run(catalog: DirCatalog, args: &ServeArgs) -> anyhow::Result<()> {
    if let Some(root) = &args.catalogs {
        return many::run(root, args);
    }
    let runtime = runtime()?;
    let mut sources = args.sources.clone();
    if let Some(file) = &args.basemap {
        let spec: predio_tiles::SourceSpec = format!("basemap={}", file.display())
            .parse()
            .map_err(|e: String| anyhow::anyhow!("--basemap: {e}"))?;
        sources.push(spec);
    }
    let externals = predio_tiles::open_all(&runtime, &sources)?;
    for e in &externals {
        tracing::info!(layer = e.name(), "{}", e.description());
    }
    let keys = args
        .keys
        .clone()
        .unwrap_or_else(|| super::keys::default_file(catalog.root()));
    let state = state(Box::new(catalog), keys, args, externals)?;
    state::warm(&state);
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

/// The server's runtime. Tiles are cut on blocking threads: CPU work, so a few per core
/// (tokio's default of 512 threads only adds per-thread allocator heaps and contention).
fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    let cores = std::thread::available_parallelism().map_or(2, usize::from);
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .max_blocking_threads((4 * cores).max(16))
        .build()
        .context("starting the async runtime")
}

/// What the server holds for `catalog`: its current version loaded with the `externals`
/// layers, the guard (with the API keys of the `keys` file), and the tile cache and viewer
/// files `args` ask for. `run` serves it; in-process tests call [`router`] on it.
pub(crate) fn state(
    catalog: Box<dyn CatalogStore>,
    keys: std::path::PathBuf,
    args: &ServeArgs,
    externals: Vec<Arc<ExternalLayer>>,
) -> anyhow::Result<Shared> {
    let shared = Assets {
        vendor: Arc::new(read_vendor(args.web_dir.as_deref())),
        glyphs: fonts::open(&args.fonts)?,
    };
    let cache = args.cache_mib.saturating_mul(1 << 20);
    build_state(catalog, keys, args, externals, &shared, None, cache)
}

/// What the catalogs of one process share: the viewer's vendored files and the glyphs.
#[derive(Clone)]
pub(crate) struct Assets {
    vendor: Arc<state::Vendor>,
    glyphs: Option<Arc<predio_tiles::Glyphs>>,
}

/// [`state`] with the shared `assets`, answering for the municipality `scope` (a deployment of
/// many), with a tile cache of `cache_bytes`.
fn build_state(
    catalog: Box<dyn CatalogStore>,
    keys: std::path::PathBuf,
    args: &ServeArgs,
    externals: Vec<Arc<ExternalLayer>>,
    assets: &Assets,
    scope: Option<&str>,
    cache_bytes: u64,
) -> anyhow::Result<Shared> {
    let manifest = catalog.current()?.with_context(|| {
        format!(
            "the catalog at {} is empty: import sectors or parcels first",
            catalog.location()
        )
    })?;
    let t = Instant::now();
    let options = LoadOptions {
        min_heat: args.min_heat_reports,
        externals,
        parcel_attributes: args.parcel_attributes.clone(),
    };
    let served = load(&*catalog, &manifest, &options)
        .with_context(|| format!("loading version {}", manifest.version))?;
    tracing::info!(version = %served.manifest.version, secs = t.elapsed().as_secs_f64(), "loaded");
    let mut guard = guard::Guard::new(
        keys,
        guard::Openness {
            parcels: args.public_parcels,
            requests: args.public_requests,
        },
        args.rate_limit,
        Duration::from_secs(args.timeout_s.max(1)),
    )?;
    if let Some(slug) = scope {
        guard = guard.scoped(slug);
    }
    Ok(Arc::new(AppState {
        catalog,
        current: ArcSwap::from_pointee(served),
        switch: RwLock::new(()),
        cache: TileCache::new(cache_bytes),
        options,
        guard: Arc::new(guard),
        vendor: Arc::clone(&assets.vendor),
        glyphs: assets.glyphs.clone(),
        public_location: args.public_requests.then_some(args.public_location),
    }))
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

/// The server's routes over `state`, with its middleware (the guard, the body limit, the
/// panic catcher, CORS): what `run` serves, and what in-process tests call.
pub(crate) fn router(state: Shared, cors: tower_http::cors::CorsLayer) -> Router {
    Router::new()
        .route("/", get(index))
        .route("/app.js", get(app_js))
        .route("/app.css", get(app_css))
        .route("/messages.json", get(assets::messages))
        .route("/vendor/{file}", get(vendor))
        .route("/health", get(health))
        .route("/favicon.ico", get(|| async { StatusCode::NO_CONTENT }))
        .route("/meta.json", get(meta))
        .route("/style.json", get(style))
        .route("/legend.json", get(legend))
        .route("/rank.json", get(style::rank))
        .route("/tiles/{file}", get(tilejson))
        .route("/tiles/{layer}/{z}/{x}/{file}", get(tile))
        .route("/open311/v2/{file}", get(open311::root))
        .route("/open311/v2/requests/{file}", get(open311::one))
        .route("/audit/{file}", get(audit::sectors))
        .route("/plan", get(plan))
        .route("/series", get(series::series))
        .route("/fonts/{fontstack}/{range}", get(fonts::glyphs))
        .route("/labels/sectors.geojson", get(style::sector_labels))
        .route("/search", get(search::search))
        .route(
            "/area/stats",
            post(area::stats).layer(axum::extract::DefaultBodyLimit::max(
                guard::MAX_AREA_BODY as usize,
            )),
        )
        .route("/reports.json", get(backlog::reports))
        .route("/reports.csv", get(backlog::reports))
        .route("/reports.geojson", get(backlog::reports))
        .route("/metrics", get(metrics))
        .route("/admin/reload", post(admin_reload))
        .route("/admin/cache/clear", post(admin_clear))
        .fallback(|| async { ApiError(StatusCode::NOT_FOUND, "no such endpoint".into()) })
        // the guard refuses a declared length over its route's limit with a JSON 413 first;
        // this stops a body streamed without one
        .layer(tower_http::limit::RequestBodyLimitLayer::new(
            guard::MAX_AREA_BODY as usize,
        ))
        .layer(axum::middleware::from_fn_with_state(
            Arc::clone(&state.guard),
            guard::guard,
        ))
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(
            guard::panicked,
        ))
        .layer(cors)
        .with_state(state)
}
