//! `predio hotspots`: Getis–Ord Gi* over the H3 cell table of the current version on a fixed
//! study area (the cells whose centre lies in a sector; without sectors, in the convex hull of
//! the parcels, else of the reports' cells), each cell named by the sector holding its centre,
//! or without sectors by the area its reports were filed under in the source (the mapping's
//! `area` column: a neighbourhood, ward or barrio), the most frequent one.

use anyhow::{bail, Context as _};
use polars::prelude::*;
use predio_engine::hotspots::{study_area, study_area_hot_spots, SpotClass, StudyOptions};
use predio_engine::indices::{self, Level, Selection};
use predio_engine::{CatalogStore, Table};

use super::compute::{current, indices_meta};
use super::table::{check_res, f64_column, format_of, pick_window, string_column, write_out};
use crate::cli::HotspotsArgs;

/// `predio hotspots`.
#[allow(clippy::print_stdout)] // the table is this command's output
pub fn run(catalog: &dyn CatalogStore, args: &HotspotsArgs) -> anyhow::Result<()> {
    anyhow::ensure!(
        args.alpha > 0.0 && args.alpha < 1.0,
        "--alpha {}: a rate between 0 and 1",
        args.alpha
    );
    anyhow::ensure!(args.ring >= 1, "--ring: at least 1");
    // a bad --out is refused before any work
    if let Some(out) = &args.out {
        format_of(out)?;
    }
    let manifest = current(catalog)?;
    let meta = indices_meta(&manifest)?;
    check_res(meta, args.res)?;
    // The viewer's and the plan's window unless another is asked for.
    let preferred = meta
        .windows
        .iter()
        .any(|w| w == predio_engine::plan::PREFERRED_WINDOW)
        .then_some(predio_engine::plan::PREFERRED_WINDOW);
    let window = pick_window(meta, args.window.as_deref().or(preferred))?;
    let dimension =
        super::table::resolve_dimension(catalog, &manifest, args.dimension.dimension())?;
    let (dim, value) = (dimension.name(), dimension.value());
    let table = catalog
        .indices(&manifest, Level::H3)?
        .context("the H3 cell table is missing: run predio compute")?;
    let rows = indices::select(
        &table,
        &Selection {
            window: window.clone(),
            dimension: dimension.clone(),
            res: Some(args.res),
        },
    )?;
    if rows.is_empty() {
        bail!(
            "no cells for window {window}, {dim} {}: none of its reports in that window has a \
             location",
            value.unwrap_or("")
        );
    }
    let cells = string_column(&rows, "cell")?;
    let values = f64_column(&rows, &args.field)
        .with_context(|| format!("--field {}: a numeric column of the cell table", args.field))?;
    let mut input = Vec::with_capacity(rows.len());
    for (c, v) in cells.iter().zip(&values) {
        let (Some(c), Some(v)) = (c, v) else { continue };
        let cell: h3o::CellIndex = c
            .parse()
            .map_err(|e| anyhow::anyhow!("cell {c:?} in the cell table: {e}"))?;
        input.push((cell, *v));
    }
    // the parcels give the study area only where there are no sectors
    let sectors = catalog.sectors(&manifest)?;
    let parcels = match sectors {
        Some(_) => None,
        None => catalog.parcels(&manifest)?,
    };
    let spots = spots_of(&table, sectors.as_ref(), parcels.as_ref(), &input, args)?;
    let hot = spots.iter().filter(|s| s.class == SpotClass::Hot).count();
    let cold = spots.iter().filter(|s| s.class == SpotClass::Cold).count();
    println!(
        "Gi* of {} at H3 resolution {} (window {window}, {dim}{}), {} cells of the study area \
         ({} with reports), ring {}: {hot} hot and {cold} cold spots at FDR {} ({}; hot only \
         with at least {} in the cell and its ring)",
        args.field,
        args.res,
        value.map(|v| format!(" {v}")).unwrap_or_default(),
        spots.len(),
        input.len(),
        args.ring,
        args.alpha,
        if args.permutations > 0 {
            format!("{} permutations, seed {}", args.permutations, args.seed)
        } else {
            "normal p-values".to_owned()
        },
        args.min_count
    );
    // The place of each cell: the sector holding its centre, else its reports' own area.
    let by_sector = sectors.is_some();
    let sectors = sectors.unwrap_or_default();
    let (label, place) = place_names(catalog, &manifest, args.res, by_sector, &sectors)?;
    let mut order: Vec<&_> = spots.iter().collect();
    order.sort_by(|a, b| b.gi.z.total_cmp(&a.gi.z));
    println!(
        "{:<17} {:>8} {:>4} {:>8} {:>10} {:>8}  {:<5}  {label}",
        "cell", "value", "nbrs", "z", "p", "p_sim", "class"
    );
    for s in order.iter().take(args.top) {
        println!(
            "{:<17} {:>8} {:>4} {:>8.3} {:>10.2e} {:>8}  {:<5}  {}",
            s.cell.to_string(),
            s.value,
            s.neighbours,
            s.gi.z,
            s.gi.p,
            s.p_sim
                .map_or_else(|| "-".to_owned(), |p| format!("{p:.3}")),
            s.class.as_str(),
            place(s.cell)
        );
    }
    if let Some(out) = &args.out {
        let table = spots_table(&spots, args.res, label, &place)?;
        let n = write_out(catalog, &manifest, &table, Level::H3, out)?;
        eprintln!("wrote {n} cells to {}", out.display());
    }
    Ok(())
}

/// How the cells are named, and each cell's name: by the sector holding its centre; without
/// sectors (said on stdout), by the area most of its reports were filed under.
#[allow(clippy::print_stdout)] // part of the command's table
fn place_names<'a>(
    catalog: &dyn CatalogStore,
    manifest: &predio_engine::Manifest,
    res: u8,
    by_sector: bool,
    sectors: &'a predio_engine::SectorLayer,
) -> anyhow::Result<(&'static str, impl Fn(h3o::CellIndex) -> String + 'a)> {
    let areas = if by_sector {
        std::collections::HashMap::new()
    } else {
        source_areas(catalog, manifest, res)?
    };
    if !by_sector {
        println!(
            "place: no sector map; the area most of a cell's reports were filed under in the \
             source (its mapping's `area`){}",
            if areas.is_empty() {
                " (none: the reports have no area)"
            } else {
                ""
            }
        );
    }
    let in_sector = places(sectors);
    let place = move |cell: h3o::CellIndex| {
        if by_sector {
            in_sector(cell)
        } else {
            areas.get(&cell).cloned().unwrap_or_default()
        }
    };
    Ok((if by_sector { "sector" } else { "place" }, place))
}

/// The name of the sector holding a cell's centre ("" outside every sector).
fn places(sectors: &predio_engine::SectorLayer) -> impl Fn(h3o::CellIndex) -> String + '_ {
    let index = predio_engine::SectorIndex::new(sectors);
    let names: std::collections::HashMap<&str, &str> = sectors
        .sectors
        .iter()
        .map(|s| (s.id.as_str(), s.name.as_str()))
        .collect();
    move |cell| {
        let c = h3o::LatLng::from(cell);
        index
            .sector_at(geo::Point::new(c.lng(), c.lat()))
            .map(|id| {
                names
                    .get(id.as_str())
                    .copied()
                    .unwrap_or(id.as_str())
                    .to_owned()
            })
            .unwrap_or_default()
    }
}

/// The area (the source's `area`) most of each cell's located reports were filed under; ties
/// go to the first name in alphabetical order.
fn source_areas(
    catalog: &dyn CatalogStore,
    manifest: &predio_engine::Manifest,
    res: u8,
) -> anyhow::Result<std::collections::HashMap<h3o::CellIndex, String>> {
    use std::collections::{BTreeMap, HashMap};
    let res = h3o::Resolution::try_from(res)?;
    let mut counts: HashMap<h3o::CellIndex, BTreeMap<String, usize>> = HashMap::new();
    for r in catalog.reports(manifest)?.unwrap_or_default() {
        let (Some(lat), Some(lon), predio_engine::Location::Located, Some(area)) =
            (r.lat, r.lon, r.location, r.source_area)
        else {
            continue;
        };
        let Ok(p) = h3o::LatLng::new(lat, lon) else {
            continue;
        };
        *counts
            .entry(p.to_cell(res))
            .or_default()
            .entry(area)
            .or_default() += 1;
    }
    Ok(counts
        .into_iter()
        .filter_map(|(cell, names)| {
            // the largest count; among equals the first name (max_by keeps the last maximum)
            let best = names
                .into_iter()
                .rev()
                .max_by_key(|(_, n)| *n)
                .map(|(name, _)| name)?;
            Some((cell, best))
        })
        .collect())
}

/// Every cell of the study area as a table: what `--out` writes (its place column named
/// `label`: `sector` or `place`).
fn spots_table(
    spots: &[predio_engine::hotspots::HotSpot],
    res: u8,
    label: &str,
    place: &dyn Fn(h3o::CellIndex) -> String,
) -> anyhow::Result<Table> {
    let places: Vec<String> = spots.iter().map(|s| place(s.cell)).collect();
    let mut frame = df!(
        "cell" => spots.iter().map(|s| s.cell.to_string()).collect::<Vec<_>>(),
        "res" => vec![u32::from(res); spots.len()],
        "value" => spots.iter().map(|s| s.value).collect::<Vec<_>>(),
        "neighbours" => spots.iter().map(|s| s.neighbours as u32).collect::<Vec<_>>(),
        "g" => spots.iter().map(|s| s.gi.g).collect::<Vec<_>>(),
        "z" => spots.iter().map(|s| s.gi.z).collect::<Vec<_>>(),
        "p" => spots.iter().map(|s| s.gi.p).collect::<Vec<_>>(),
        "q" => spots.iter().map(|s| s.q).collect::<Vec<_>>(),
        "p_sim" => spots.iter().map(|s| s.p_sim).collect::<Vec<_>>(),
        "q_sim" => spots.iter().map(|s| s.q_sim).collect::<Vec<_>>(),
        "class" => spots.iter().map(|s| s.class.as_str()).collect::<Vec<_>>(),
    )?;
    frame.with_column(Column::new(label.into(), places))?;
    Ok(Table::from_frame(frame))
}

/// Gi* over the study area at `--res` (of the sectors, else the parcels, else the cells of
/// `table`) with the command's options.
fn spots_of(
    table: &Table,
    sectors: Option<&predio_engine::SectorLayer>,
    parcels: Option<&predio_engine::ParcelLayer>,
    input: &[(h3o::CellIndex, f64)],
    args: &HotspotsArgs,
) -> anyhow::Result<Vec<predio_engine::hotspots::HotSpot>> {
    let res = h3o::Resolution::try_from(args.res)
        .map_err(|e| anyhow::anyhow!("--res {}: {e}", args.res))?;
    let all_cells: Vec<h3o::CellIndex> = string_column(table, "cell")?
        .into_iter()
        .flatten()
        .filter_map(|c| c.parse().ok())
        .collect();
    let study = study_area(sectors, parcels, &all_cells, res);
    Ok(study_area_hot_spots(
        &study,
        input,
        &StudyOptions {
            ring: args.ring,
            alpha: args.alpha,
            permutations: args.permutations,
            seed: args.seed,
            min_count: args.min_count,
        },
    ))
}
