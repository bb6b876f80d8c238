//! The plan of a catalog version (what `predio plan` and `GET /plan` show): the evidence of
//! every place × category read from the version's indices of one window, with the Gi* hot spots
//! of each category's H3 cells, ranked by [`rank`](super::rank). The places are the sectors;
//! a city without sectors yet gets its parcels ranked, and one without a cadastre its H3 cells.

use std::collections::HashMap;

use super::{rank, Action, Evidence};
use crate::error::{Error, Result};
use crate::geocoder::Geocoder;
use crate::hotspots::{h3_hot_spots, SpotClass};
use crate::indices::schema::{self, key};
use crate::indices::{self, Dimension, IndicesMeta, Level, Selection};
use crate::sector_index::SectorIndex;
use crate::store::{CatalogStore, Manifest};
use crate::table::Table;

/// The window a plan reads when none is asked for: 90 days where computed (a season, long
/// enough for a trend), else the first computed.
pub const PREFERRED_WINDOW: &str = "90d";

/// A version's plan: its actions, best first, the window they come from and the level of their
/// places.
#[derive(Debug, Clone)]
pub struct Plan {
    /// The window of the indices read.
    pub window: String,
    /// What the places are: sectors, else parcels, else H3 cells.
    pub level: Level,
    /// The ranked actions.
    pub actions: Vec<Action>,
}

/// The plan of `manifest`'s version, from the indices of `window` (default
/// [`PREFERRED_WINDOW`]) and the hot spots of the H3 cells at resolution `res`.
///
/// # Errors
/// [`Error::NotComputed`] when the version has no indices, or not that window or resolution;
/// the store's errors reading its tables.
pub fn plan_of(
    catalog: &dyn CatalogStore,
    manifest: &Manifest,
    window: Option<&str>,
    res: u8,
) -> Result<Plan> {
    let meta = manifest
        .indices
        .as_ref()
        .ok_or_else(|| Error::NotComputed {
            what: "indices in the current version".into(),
        })?;
    let window = window_of(meta, window)?;
    if !meta.h3_resolutions.contains(&res) {
        return Err(Error::NotComputed {
            what: format!(
                "H3 resolution {res} (the computed ones are {:?})",
                meta.h3_resolutions
            ),
        });
    }
    let by_category = |level: Level, res: Option<u8>| -> Result<Table> {
        let table = catalog
            .indices(manifest, level)?
            .ok_or_else(|| Error::NotComputed {
                what: format!("the {} table", level.file_name()),
            })?;
        let selection = Selection {
            window: window.clone(),
            dimension: Dimension::Category(None),
            res,
        };
        indices::select(&table, &selection)
    };
    let cells = by_category(Level::H3, Some(res))?;
    let (level, rows, names, hot) = if let Some(sectors) = catalog.sectors(manifest)? {
        let names = sectors
            .sectors
            .iter()
            .map(|s| (s.id.as_str().to_owned(), s.name.clone()))
            .collect();
        let index = SectorIndex::new(&sectors);
        let hot = hot_cells(&cells, |_, p| {
            index.sector_at(p).map(|s| s.as_str().to_owned())
        })?;
        (Level::Sector, by_category(Level::Sector, None)?, names, hot)
    } else if let Some(parcels) = catalog.parcels(manifest)? {
        let geocoder = Geocoder::new(&parcels, None, 0.0);
        let hot = hot_cells(&cells, |_, p| {
            let m = geocoder.locate(p.x(), p.y());
            m.parcel.map(|i| parcels.parcels[i].id.as_str().to_owned())
        })?;
        (
            Level::Parcel,
            by_category(Level::Parcel, None)?,
            HashMap::new(),
            hot,
        )
    } else {
        let hot = hot_cells(&cells, |cell, _| Some(cell.to_string()))?;
        (Level::H3, cells, HashMap::new(), hot)
    };
    let evidence = evidence(&rows, level, &names, &hot)?;
    Ok(Plan {
        window,
        level,
        actions: rank(evidence),
    })
}

/// The window asked for, else [`PREFERRED_WINDOW`] where computed, else the first computed.
fn window_of(meta: &IndicesMeta, asked: Option<&str>) -> Result<String> {
    let window = asked
        .filter(|w| !w.is_empty())
        .or_else(|| {
            meta.windows
                .iter()
                .map(String::as_str)
                .find(|w| *w == PREFERRED_WINDOW)
        })
        .or_else(|| meta.windows.first().map(String::as_str))
        .map(str::to_owned);
    match window {
        Some(w) if meta.windows.contains(&w) => Ok(w),
        w => Err(Error::NotComputed {
            what: format!(
                "window {} (the computed ones are {})",
                w.unwrap_or_default(),
                meta.windows.join(", ")
            ),
        }),
    }
}

/// Hot H3 cells per (place, category): how many, and the largest z-score. Gi* with the
/// neighbours one step away and the Benjamini–Hochberg FDR at 5 %, per category among its
/// cells (at least 3); a cell counts in the place `place_of` gives it (from the cell and its
/// centre).
fn hot_cells(
    cells: &Table,
    place_of: impl Fn(h3o::CellIndex, geo::Point<f64>) -> Option<String>,
) -> Result<HashMap<(String, String), (f64, f64)>> {
    let (cell_ids, cats, received) = (
        cells.texts(key::CELL)?,
        cells.texts(key::VALUE)?,
        cells.numbers(schema::RECEIVED)?,
    );
    let mut by_category: HashMap<String, Vec<(h3o::CellIndex, f64)>> = HashMap::new();
    for ((c, k), v) in cell_ids.iter().zip(&cats).zip(&received) {
        if let (Some(c), Some(k)) = (c, k) {
            if let Ok(cell) = c.parse::<h3o::CellIndex>() {
                by_category
                    .entry(k.clone())
                    .or_default()
                    .push((cell, v.unwrap_or(0.0)));
            }
        }
    }
    let mut hot: HashMap<(String, String), (f64, f64)> = HashMap::new();
    for (category, cells) in &by_category {
        if cells.len() < 3 {
            continue;
        }
        for s in h3_hot_spots(cells, 1, 0.05) {
            if s.class != SpotClass::Hot {
                continue;
            }
            let c = h3o::LatLng::from(s.cell);
            if let Some(place) = place_of(s.cell, geo::Point::new(c.lng(), c.lat())) {
                let e = hot.entry((place, category.clone())).or_default();
                e.0 += 1.0;
                e.1 = e.1.max(s.gi.z);
            }
        }
    }
    Ok(hot)
}

/// The evidence of each place × category row of the indices of `level` (by category).
fn evidence(
    rows: &Table,
    level: Level,
    names: &HashMap<String, String>,
    hot: &HashMap<(String, String), (f64, f64)>,
) -> Result<Vec<Evidence>> {
    let id_column = match level {
        Level::Sector => key::SECTOR_ID,
        Level::Parcel => key::PARCEL_ID,
        _ => key::CELL,
    };
    let (ids, cats) = (rows.texts(id_column)?, rows.texts(key::VALUE)?);
    let (rec, prev, open, recurrent) = (
        rows.numbers(schema::RECEIVED)?,
        rows.numbers(schema::PREV_RECEIVED)?,
        rows.numbers(schema::OPEN)?,
        rows.numbers(schema::RECURRENT)?,
    );
    // only where the places have a population
    let per_1000 = rows
        .numbers(schema::PER_1000)
        .unwrap_or_else(|_| vec![None; rows.len()]);
    let mut evidence = Vec::new();
    for i in 0..rows.len() {
        let (Some(id), Some(category)) = (&ids[i], &cats[i]) else {
            continue;
        };
        let (hot_cells, max_z) = hot
            .get(&(id.clone(), category.clone()))
            .copied()
            .unwrap_or_default();
        evidence.push(Evidence {
            place_id: id.clone(),
            place: names.get(id).cloned().unwrap_or_else(|| id.clone()),
            category: category.clone(),
            received: rec[i].unwrap_or(0.0),
            previous: prev[i].unwrap_or(0.0),
            hot_cells,
            max_z,
            open: open[i].unwrap_or(0.0),
            recurrent: recurrent[i].unwrap_or(0.0),
            per_1000: per_1000[i].filter(|v| v.is_finite()),
        });
    }
    Ok(evidence)
}
