//! What the server holds: the served catalog version (`Served`), the state shared by every
//! handler (`AppState`), and the watcher that loads and swaps in a newly committed version.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use predio_engine::hotspots::{study_area, StudyOptions};
use predio_engine::indices::Level;
use predio_engine::{CatalogStore, Manifest};
use predio_tiles::{changes, ExternalLayer, HeatLayer, PolygonLayer, TileCache, TileProvider};

use super::guard::Guard;
use super::requests::Requests;

/// One catalog version's layers, as served.
pub(crate) struct Served {
    pub(crate) manifest: Manifest,
    /// Its reports for Open311, read on first use.
    pub(crate) open311: std::sync::OnceLock<Result<Arc<Requests>, String>>,
    /// Its Open311 services alone (the reports read and let go), for `services.json` before
    /// anyone asked for requests: `(code, name, group)`.
    pub(crate) services: std::sync::OnceLock<Result<Arc<Vec<super::requests::Service>>, String>>,
    /// Its monthly series for `/series`, read on first use (`Err("")`: none stored).
    pub(crate) series: std::sync::OnceLock<Result<Arc<super::series::Series>, String>>,
    /// Its open reports for `/reports.*`, read on first use (`Err("")`: no indices).
    pub(crate) backlog: std::sync::OnceLock<Result<Arc<Vec<super::backlog::Open>>, String>>,
    /// Its reports and their facts for `/area/stats`, read on first use.
    pub(crate) area: std::sync::OnceLock<Result<Arc<super::area::AreaData>, String>>,
    /// Its places for `/search`, indexed on first use.
    pub(crate) search: std::sync::OnceLock<Result<Arc<predio_engine::search::SearchIndex>, String>>,
    pub(crate) layers: BTreeMap<String, Arc<dyn TileProvider>>,
    pub(crate) windows: Vec<String>,
    pub(crate) default_window: String,
    pub(crate) categories: Vec<String>,
    pub(crate) departments: Vec<String>,
    pub(crate) bounds: Option<[f64; 4]>,
    /// One label point per sector (its interior point) with its id and name, GeoJSON: the map
    /// names each sector once, not once per tile.
    pub(crate) sector_labels: serde_json::Value,
}

/// What every version's layers are loaded with.
#[derive(Default)]
pub(crate) struct LoadOptions {
    /// Heat cells with fewer reports are left out.
    pub(crate) min_heat: u32,
    /// Layers from `--source`: the same across versions.
    pub(crate) externals: Vec<Arc<ExternalLayer>>,
    /// Parcel source attributes the parcel tiles carry (`--parcel-attributes`).
    pub(crate) parcel_attributes: Vec<String>,
}

impl Served {
    /// The category or the department a request filters on (`category=` or `department=`,
    /// not both), each checked against this version's: `(category, department)`.
    ///
    /// # Errors
    /// A 400 for both, or for a value the data does not have.
    pub(super) fn chosen(
        &self,
        q: &std::collections::HashMap<String, String>,
    ) -> Result<(Option<String>, Option<String>), super::error::ApiError> {
        use super::error::bad_request;
        let given = |k: &str| q.get(k).filter(|v| !v.is_empty()).cloned();
        let (category, department) = (given("category"), given("department"));
        if category.is_some() && department.is_some() {
            return Err(bad_request("category= or department=, not both"));
        }
        if let Some(c) = category.as_ref().filter(|c| !self.categories.contains(c)) {
            return Err(bad_request(format!("category={c:?}: not in the data")));
        }
        if let Some(d) = department
            .as_ref()
            .filter(|d| !self.departments.contains(d))
        {
            return Err(bad_request(format!("department={d:?}: not in the data")));
        }
        Ok((category, department))
    }
}

/// Loads the layers of `manifest`'s version, and adds the external ones.
pub(crate) fn load(
    catalog: &dyn CatalogStore,
    manifest: &Manifest,
    options: &LoadOptions,
) -> anyhow::Result<Served> {
    let mut layers: BTreeMap<String, Arc<dyn TileProvider>> = BTreeMap::new();
    let mut filters = None;
    let sectors = catalog.sectors(manifest)?;
    let parcels = catalog.parcels(manifest)?;
    if let Some(sectors) = &sectors {
        let l = PolygonLayer::sectors(sectors, catalog.indices(manifest, Level::Sector)?)?
            .with_segments(catalog.segments(manifest, Level::Sector)?)?;
        filters = Some(l.filters());
        layers.insert("sectors".into(), Arc::new(l));
    }
    if let Some(parcels) = &parcels {
        let l = PolygonLayer::parcels(parcels, catalog.indices(manifest, Level::Parcel)?)?
            .with_segments(catalog.segments(manifest, Level::Parcel)?)?
            .with_attributes(parcels, &options.parcel_attributes)?;
        if filters.as_ref().is_none_or(|f| f.0.is_empty()) {
            filters = Some(l.filters());
        }
        layers.insert("parcels".into(), Arc::new(l));
    }
    if let Some(h3) = catalog.indices(manifest, Level::H3)? {
        let heat = HeatLayer::new(h3, options.min_heat)?;
        // Reports without a cadastre yet: the pickers come from the cell table.
        if filters.as_ref().is_none_or(|f| f.0.is_empty()) {
            filters = Some(heat.filters());
        }
        // `predio hotspots` with its defaults, on the same study areas
        let study = heat
            .resolutions()
            .into_iter()
            .filter_map(|r| {
                let res = h3o::Resolution::try_from(r).ok()?;
                let area = study_area(sectors.as_ref(), parcels.as_ref(), &heat.cells(r), res);
                Some((r, area))
            })
            .collect();
        let hotspots = heat.hotspots(study, StudyOptions::default())?;
        layers.insert("hotspots".into(), Arc::new(hotspots));
        layers.insert("heat".into(), Arc::new(heat));
    }
    for e in &options.externals {
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
    let sector_labels = serde_json::json!({
        "type": "FeatureCollection",
        "features": sectors.iter().flat_map(|l| &l.sectors).filter_map(|s| {
            let p = predio_engine::interior_point(&s.geometry)?;
            Some(serde_json::json!({
                "type": "Feature",
                "geometry": { "type": "Point", "coordinates": [p.x(), p.y()] },
                "properties": { "sector_id": s.id.as_str(), "name": s.name },
            }))
        }).collect::<Vec<_>>(),
    });
    // The cadastre's extent, else the reports' (their cells').
    let bounds = ["sectors", "parcels", "heat"]
        .iter()
        .find_map(|l| layers.get(*l).and_then(|p| p.bounds()));
    Ok(Served {
        manifest: manifest.clone(),
        open311: std::sync::OnceLock::new(),
        services: std::sync::OnceLock::new(),
        series: std::sync::OnceLock::new(),
        search: std::sync::OnceLock::new(),
        backlog: std::sync::OnceLock::new(),
        area: std::sync::OnceLock::new(),
        layers,
        windows,
        default_window,
        categories,
        departments,
        bounds,
        sector_labels,
    })
}

/// The MapLibre GL JS files of the viewer.
#[derive(Default)]
pub(super) struct Vendor {
    pub(super) js: Option<Vec<u8>>,
    pub(super) css: Option<Vec<u8>>,
}

pub(crate) struct AppState {
    pub(super) catalog: Box<dyn CatalogStore>,
    pub(super) current: ArcSwap<Served>,
    /// Held for reading around cache reads and writes, for writing around a version switch, so
    /// no tile of the old version is cached after the switch evicted its bounds.
    pub(super) switch: RwLock<()>,
    pub(super) cache: TileCache,
    /// What each version is loaded with.
    pub(super) options: LoadOptions,
    pub(super) guard: Arc<Guard>,
    pub(super) vendor: Arc<Vendor>,
    /// Glyphs for the labels (`--fonts`), if any font was found.
    pub(super) glyphs: Option<Arc<predio_tiles::Glyphs>>,
    /// How Open311 requests are placed for callers without an auditor key, where
    /// `--public-requests` opens them.
    pub(super) public_location: Option<crate::cli::PublicLocation>,
}

pub(crate) type Shared = Arc<AppState>;

pub(super) fn read_vendor(dir: Option<&Path>) -> Vendor {
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

/// Polls the catalog's current version and switches to a new one when one is committed.
pub(super) async fn watch(state: Shared, every: Duration) {
    let mut failed: Option<String> = None;
    loop {
        tokio::time::sleep(every).await;
        state.guard.refresh_keys();
        let st = Arc::clone(&state);
        let name = match tokio::task::spawn_blocking(move || st.catalog.current_version()).await {
            Ok(Ok(Some(version))) => version.to_string(),
            Ok(Ok(None)) | Err(_) => continue,
            Ok(Err(e)) => {
                let e = e.to_string();
                if failed.as_ref() != Some(&e) {
                    tracing::error!("the catalog's current version is unreadable: {e}");
                    failed = Some(e);
                }
                continue;
            }
        };
        if name == state.current.load().manifest.version.to_string()
            || failed.as_deref() == Some(&name)
        {
            continue;
        }
        let st = Arc::clone(&state);
        let result = tokio::task::spawn_blocking(move || switch(&st)).await;
        match result {
            Ok(Ok(())) => {
                failed = None;
                warm(&state);
            }
            Ok(Err(e)) => {
                tracing::error!("version {name} not served: {e:#}");
                failed = Some(name);
            }
            Err(e) => tracing::error!("version switch panicked: {e}"),
        }
    }
}

/// Reads what the workbench's endpoints use of the current version (the search index, the
/// series) on a thread of its own, so the first user does not wait for it.
pub(super) fn warm(state: &Shared) {
    let st = Arc::clone(state);
    std::thread::spawn(move || {
        let served = st.current.load_full();
        let t = Instant::now();
        let _ = super::search::index_of(&st, &served);
        let _ = super::series::series_of(&st, &served);
        tracing::info!(version = %served.manifest.version, secs = t.elapsed().as_secs_f64(), "search index and series ready");
    });
}

/// Loads the current version, swaps it in and evicts the tiles it changed.
pub(super) fn switch(state: &AppState) -> anyhow::Result<()> {
    let t = Instant::now();
    let Some(manifest) = state.catalog.current()? else {
        return Ok(());
    };
    let new = load(&*state.catalog, &manifest, &state.options)?;
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
