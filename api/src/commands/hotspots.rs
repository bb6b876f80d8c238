//! `predio hotspots`: Getis–Ord Gi* over the H3 cell table of the current version, each cell
//! named by the sector holding its centre (where the catalog has sectors).

use anyhow::{bail, Context as _};
use polars::prelude::*;
use predio_engine::hotspots::{h3_hot_spots, SpotClass};
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
    let spots = h3_hot_spots(&input, args.ring, args.alpha);
    let hot = spots.iter().filter(|s| s.class == SpotClass::Hot).count();
    let cold = spots.iter().filter(|s| s.class == SpotClass::Cold).count();
    println!(
        "Gi* of {} at H3 resolution {} (window {window}, {dim}{}), {} cells, ring {}: \
         {hot} hot and {cold} cold spots at FDR {}",
        args.field,
        args.res,
        value.map(|v| format!(" {v}")).unwrap_or_default(),
        spots.len(),
        args.ring,
        args.alpha
    );
    // The place of each cell: the sector holding its centre.
    let sectors = catalog.sectors(&manifest)?.unwrap_or_default();
    let index = predio_engine::SectorIndex::new(&sectors);
    let names: std::collections::HashMap<&str, &str> = sectors
        .sectors
        .iter()
        .map(|s| (s.id.as_str(), s.name.as_str()))
        .collect();
    let place = |cell: h3o::CellIndex| -> String {
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
    };
    let mut order: Vec<&_> = spots.iter().collect();
    order.sort_by(|a, b| b.gi.z.total_cmp(&a.gi.z));
    println!(
        "{:<17} {:>8} {:>4} {:>8} {:>10} {:>10}  {:<5}  sector",
        "cell", "value", "nbrs", "z", "p", "q", "class"
    );
    for s in order.iter().take(args.top) {
        println!(
            "{:<17} {:>8} {:>4} {:>8.3} {:>10.2e} {:>10.2e}  {:<5}  {}",
            s.cell.to_string(),
            s.value,
            s.neighbours,
            s.gi.z,
            s.gi.p,
            s.q,
            s.class.as_str(),
            place(s.cell)
        );
    }
    if let Some(out) = &args.out {
        let table = Table::from_frame(df!(
            "cell" => spots.iter().map(|s| s.cell.to_string()).collect::<Vec<_>>(),
            "res" => vec![u32::from(args.res); spots.len()],
            "value" => spots.iter().map(|s| s.value).collect::<Vec<_>>(),
            "neighbours" => spots.iter().map(|s| s.neighbours as u32).collect::<Vec<_>>(),
            "g" => spots.iter().map(|s| s.gi.g).collect::<Vec<_>>(),
            "z" => spots.iter().map(|s| s.gi.z).collect::<Vec<_>>(),
            "p" => spots.iter().map(|s| s.gi.p).collect::<Vec<_>>(),
            "q" => spots.iter().map(|s| s.q).collect::<Vec<_>>(),
            "class" => spots.iter().map(|s| s.class.as_str()).collect::<Vec<_>>(),
            "sector" => spots.iter().map(|s| place(s.cell)).collect::<Vec<_>>(),
        )?);
        let n = write_out(catalog, &manifest, &table, Level::H3, out)?;
        eprintln!("wrote {n} cells to {}", out.display());
    }
    Ok(())
}
