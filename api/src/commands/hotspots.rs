//! `predio hotspots`: Getis–Ord Gi* over the H3 cell table of the current version.

use std::io::Write as _;

use anyhow::{bail, Context as _};
use polars::prelude::*;
use predio_engine::hotspots::{h3_hot_spots, SpotClass};
use predio_engine::indices::{self, Level, Selection};
use predio_engine::{CatalogStore, DirCatalog};

use super::compute::{current, dimension, indices_meta};
use crate::cli::HotspotsArgs;

/// `predio hotspots`.
#[allow(clippy::print_stdout)] // the table is this command's output
pub fn run(catalog: &DirCatalog, args: &HotspotsArgs) -> anyhow::Result<()> {
    anyhow::ensure!(
        args.alpha > 0.0 && args.alpha < 1.0,
        "--alpha {}: a rate between 0 and 1",
        args.alpha
    );
    anyhow::ensure!(args.ring >= 1, "--ring: at least 1");
    let manifest = current(catalog)?;
    let meta = indices_meta(&manifest)?;
    if !meta.h3_resolutions.contains(&args.res) {
        bail!(
            "--res {}: computed H3 resolutions are {:?}",
            args.res,
            meta.h3_resolutions
        );
    }
    let window = args
        .window
        .clone()
        .or_else(|| meta.windows.first().cloned())
        .context("no window")?;
    if !meta.windows.contains(&window) {
        bail!(
            "--window {window}: computed windows are {}",
            meta.windows.join(", ")
        );
    }
    let (dim, value) = dimension(&args.dimension);
    let table = catalog
        .indices(&manifest, Level::H3)?
        .context("the H3 cell table is missing: run predio compute")?;
    let rows = indices::select(
        &table,
        &Selection {
            window: window.clone(),
            dimension: dim.clone(),
            value: value.clone(),
            res: Some(args.res),
        },
    )?;
    if rows.height() == 0 {
        bail!(
            "no cells for window {window}, {dim} {}: is the category or department spelled as in \
             `predio info`?",
            value.as_deref().unwrap_or("")
        );
    }
    let cells = rows.column("cell")?.str()?;
    let values = anyhow::Context::with_context(rows.column(&args.field), || {
        format!("--field {}: no such column in the cell table", args.field)
    })?
    .cast(&DataType::Float64)?;
    let values = values.f64()?;
    let mut input = Vec::with_capacity(rows.height());
    for (c, v) in cells.iter().zip(values.iter()) {
        let (Some(c), Some(v)) = (c, v) else { continue };
        let cell: h3o::CellIndex = c
            .parse()
            .map_err(|e| anyhow::anyhow!("cell {c:?} in the cell table: {e}"))?;
        input.push((cell, v));
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
    let mut order: Vec<&_> = spots.iter().collect();
    order.sort_by(|a, b| b.gi.z.total_cmp(&a.gi.z));
    println!(
        "{:<17} {:>8} {:>4} {:>8} {:>10} {:>10}  class",
        "cell", "value", "nbrs", "z", "p", "q"
    );
    for s in order.iter().take(args.top) {
        println!(
            "{:<17} {:>8} {:>4} {:>8.3} {:>10.2e} {:>10.2e}  {}",
            s.cell.to_string(),
            s.value,
            s.neighbours,
            s.gi.z,
            s.gi.p,
            s.q,
            s.class.as_str()
        );
    }
    if let Some(out) = &args.out {
        let mut text = String::from("cell,res,value,neighbours,g,z,p,q,class\n");
        for s in &spots {
            text += &format!(
                "{},{},{},{},{:e},{:e},{:e},{:e},{}\n",
                s.cell,
                args.res,
                s.value,
                s.neighbours,
                s.gi.g,
                s.gi.z,
                s.gi.p,
                s.q,
                s.class.as_str()
            );
        }
        predio_engine::write_file_atomically(out, text.as_bytes())
            .with_context(|| format!("writing {}", out.display()))?;
        let _ = std::io::stdout().flush();
        eprintln!("wrote {} cells to {}", spots.len(), out.display());
    }
    Ok(())
}
