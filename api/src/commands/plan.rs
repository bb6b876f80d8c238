//! `predio plan` and `GET /plan`: the proactive plan (engine::plan) from the current version's
//! sector indices by category and the Gi* hot spots of each category's H3 cells.

use std::collections::HashMap;

use anyhow::Context as _;
use polars::prelude::*;
use predio_engine::hotspots::{h3_hot_spots, SpotClass};
use predio_engine::indices::{self, Level, Selection};
use predio_engine::plan::{rank, Action, Evidence};
use predio_engine::{CatalogStore, DirCatalog, Manifest, SectorIndex};
use serde_json::{json, Value};

use super::compute::{current, indices_meta};
use super::table::{check_res, f64_column, format_of, pick_window, string_column, write_out};
use crate::cli::PlanArgs;

/// The ranked actions of `manifest`'s version, and the window used.
pub(crate) fn actions(
    catalog: &DirCatalog,
    manifest: &Manifest,
    window: Option<&str>,
    res: u8,
) -> anyhow::Result<(Vec<Action>, String)> {
    let meta = indices_meta(manifest)?;
    // 90 days where computed: a season, long enough for a trend
    let preferred = window.or_else(|| {
        meta.windows
            .iter()
            .find(|w| *w == "90d")
            .map(String::as_str)
    });
    let window = pick_window(meta, preferred)?;
    check_res(meta, res)?;
    let sectors = catalog
        .sectors(manifest)?
        .context("no sectors in this version")?;
    let names: HashMap<String, String> = sectors
        .sectors
        .iter()
        .map(|s| (s.id.as_str().to_owned(), s.name.clone()))
        .collect();
    let index = SectorIndex::new(&sectors);
    let sel = |level_table: &DataFrame, res: Option<u8>| {
        indices::select(
            level_table,
            &Selection {
                window: window.clone(),
                dimension: "category".into(),
                value: None,
                res,
            },
        )
    };
    // hot cells per (sector, category)
    let cells = catalog
        .indices(manifest, Level::H3)?
        .context("the H3 cell table is missing")?;
    let cells = sel(&cells, Some(res))?;
    let (cell_ids, cats, received) = (
        string_column(&cells, "cell")?,
        string_column(&cells, "value")?,
        f64_column(&cells, "received")?,
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
            if let Some(sector) = index.sector_at(geo_types::Point::new(c.lng(), c.lat())) {
                let e = hot
                    .entry((sector.as_str().to_owned(), category.clone()))
                    .or_default();
                e.0 += 1.0;
                e.1 = e.1.max(s.gi.z);
            }
        }
    }
    let table = catalog
        .indices(manifest, Level::Sector)?
        .context("the sector table is missing")?;
    let rows = sel(&table, None)?;
    let (ids, cats) = (
        string_column(&rows, "sector_id")?,
        string_column(&rows, "value")?,
    );
    let (rec, prev, open, recurrent, per_1000) = (
        f64_column(&rows, "received")?,
        f64_column(&rows, "prev_received")?,
        f64_column(&rows, "open")?,
        f64_column(&rows, "recurrent")?,
        f64_column(&rows, "per_1000")?,
    );
    let mut evidence = Vec::new();
    for i in 0..rows.height() {
        let (Some(id), Some(category)) = (&ids[i], &cats[i]) else {
            continue;
        };
        let (hot_cells, max_z) = hot
            .get(&(id.clone(), category.clone()))
            .copied()
            .unwrap_or_default();
        evidence.push(Evidence {
            sector_id: id.clone(),
            sector: names.get(id).cloned().unwrap_or_default(),
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
    Ok((rank(evidence), window))
}

/// An action as JSON.
pub(crate) fn action_json(rank: usize, a: &Action) -> Value {
    let e = &a.evidence;
    json!({
        "rank": rank,
        "sector_id": e.sector_id,
        "sector": e.sector,
        "category": e.category,
        "action": a.action,
        "score": (a.score * 10.0).round() / 10.0,
        "reason": a.reason,
        "terms": {
            "rise": a.terms[0], "hot": a.terms[1], "backlog": a.terms[2],
            "recurrence": a.terms[3], "rate": a.terms[4],
        },
        "received": e.received, "previous": e.previous, "hot_cells": e.hot_cells,
        "max_z": e.max_z, "open": e.open, "recurrent": e.recurrent, "per_1000": e.per_1000,
    })
}

/// `predio plan`.
#[allow(clippy::print_stdout)] // the plan is this command's output
pub fn run(catalog: &DirCatalog, args: &PlanArgs) -> anyhow::Result<()> {
    // a bad --out is refused before any work
    if let Some(out) = &args.out {
        format_of(out)?;
    }
    let manifest = current(catalog)?;
    let (ranked, window) = actions(catalog, &manifest, args.window.as_deref(), args.res)?;
    if args.json {
        let rows: Vec<Value> = ranked
            .iter()
            .take(args.top)
            .enumerate()
            .map(|(i, a)| action_json(i + 1, a))
            .collect();
        println!("{}", serde_json::to_string_pretty(&rows)?);
    } else {
        println!(
            "proactive plan, window {window} (version {}): {} sector x category rows",
            manifest.version,
            ranked.len()
        );
        for (i, a) in ranked.iter().take(args.top).enumerate() {
            let e = &a.evidence;
            println!(
                "{:>3}. {:>5.1}  {:<22} {} ({}) — {}\n       {}",
                i + 1,
                a.score,
                a.action,
                e.sector,
                e.sector_id,
                e.category,
                a.reason
            );
        }
    }
    if let Some(out) = &args.out {
        let ev =
            |f: fn(&Evidence) -> f64| ranked.iter().map(|a| f(&a.evidence)).collect::<Vec<_>>();
        let term = |t: usize| ranked.iter().map(|a| a.terms[t]).collect::<Vec<_>>();
        let table = df!(
            "rank" => (1..=ranked.len() as u32).collect::<Vec<_>>(),
            "sector_id" => ranked.iter().map(|a| a.evidence.sector_id.as_str()).collect::<Vec<_>>(),
            "sector" => ranked.iter().map(|a| a.evidence.sector.as_str()).collect::<Vec<_>>(),
            "category" => ranked.iter().map(|a| a.evidence.category.as_str()).collect::<Vec<_>>(),
            "action" => ranked.iter().map(|a| a.action).collect::<Vec<_>>(),
            "score" => ranked.iter().map(|a| a.score).collect::<Vec<_>>(),
            "received" => ev(|e| e.received),
            "previous" => ev(|e| e.previous),
            "hot_cells" => ev(|e| e.hot_cells),
            "max_z" => ev(|e| e.max_z),
            "open" => ev(|e| e.open),
            "recurrent" => ev(|e| e.recurrent),
            "per_1000" => ranked.iter().map(|a| a.evidence.per_1000).collect::<Vec<_>>(),
            "points_rise" => term(0),
            "points_hot" => term(1),
            "points_backlog" => term(2),
            "points_recurrence" => term(3),
            "points_rate" => term(4),
            "reason" => ranked.iter().map(|a| a.reason.as_str()).collect::<Vec<_>>(),
        )?;
        let n = write_out(catalog, &manifest, &table, Level::Sector, out)?;
        eprintln!("wrote {n} actions to {}", out.display());
    }
    Ok(())
}
