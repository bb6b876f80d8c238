//! `predio plan`: the proactive plan of the current version (`engine::plan::plan_of`: its
//! indices by category of its sectors, else its parcels, else its H3 cells, and the Gi* hot
//! spots of each category's H3 cells), printed or written; `action_json` is shared with
//! `GET /plan`.

use polars::prelude::*;
use predio_engine::indices::Level;
use predio_engine::plan::{plan_of, Action, Evidence, Plan};
use predio_engine::{CatalogStore, Table};
use serde_json::{json, Value};

use super::compute::current;
use super::table::{format_of, write_out};
use crate::cli::PlanArgs;

/// The column that names a plan's places at `level`: what `export_indices` joins outlines on.
pub(crate) fn place_column(level: Level) -> &'static str {
    match level {
        Level::Sector => "sector_id",
        Level::Parcel => "parcel_id",
        _ => "cell",
    }
}

/// What a plan's places are, in words.
fn places(level: Level) -> &'static str {
    match level {
        Level::Sector => "sectors",
        Level::Parcel => "parcels (this version has no sectors)",
        _ => "H3 cells (this version has no cadastre)",
    }
}

/// An action as JSON: its place under the level's own key (`sector_id` and `sector`,
/// `parcel_id`, or `cell`).
pub(crate) fn action_json(rank: usize, a: &Action, level: Level) -> Value {
    let e = &a.evidence;
    let mut v = json!({
        "rank": rank,
        "level": level.as_str(),
        "category": e.category,
        "action": a.action,
        "chosen_by": a.chosen_by,
        "score": (a.score * 10.0).round() / 10.0,
        "reason": a.reason,
        "terms": {
            "rise": a.terms[0], "hot": a.terms[1], "backlog": a.terms[2],
            "recurrence": a.terms[3], "rate": a.terms[4],
        },
        "received": e.received, "previous": e.previous, "hot_cells": e.hot_cells,
        "max_z": e.max_z, "open": e.open, "recurrent": e.recurrent, "per_1000": e.per_1000,
    });
    v[place_column(level)] = json!(e.place_id);
    if level == Level::Sector {
        v["sector"] = json!(e.place);
    }
    v
}

/// `predio plan`.
#[allow(clippy::print_stdout)] // the plan is this command's output
pub fn run(catalog: &dyn CatalogStore, args: &PlanArgs) -> anyhow::Result<()> {
    // a bad --out is refused before any work
    if let Some(out) = &args.out {
        format_of(out)?;
    }
    let manifest = current(catalog)?;
    let Plan {
        window,
        level,
        actions: ranked,
    } = plan_of(catalog, &manifest, args.window.as_deref(), args.res).map_err(|e| match e {
        predio_engine::Error::NotComputed { .. } => {
            anyhow::anyhow!("{e}: give --window/--res of those, or run `predio compute`")
        }
        e => e.into(),
    })?;
    if args.json {
        let rows: Vec<Value> = ranked
            .iter()
            .take(args.top)
            .enumerate()
            .map(|(i, a)| action_json(i + 1, a, level))
            .collect();
        println!("{}", serde_json::to_string_pretty(&rows)?);
    } else {
        println!(
            "proactive plan, window {window} (version {}): {} place x category rows; places: {}",
            manifest.version,
            ranked.len(),
            places(level)
        );
        println!(
            "{:>4} {:>5}  {:<22} {:<10}  place — category\n{:>11}reason",
            "rank", "score", "action", "chosen by", ""
        );
        for (i, a) in ranked.iter().take(args.top).enumerate() {
            let e = &a.evidence;
            let place = if e.place == e.place_id {
                e.place_id.clone()
            } else {
                format!("{} ({})", e.place, e.place_id)
            };
            println!(
                "{:>3}. {:>5.1}  {:<22} {:<10}  {place} — {}\n           {}",
                i + 1,
                a.score,
                a.action,
                a.chosen_by.unwrap_or("-"),
                e.category,
                a.reason
            );
        }
    }
    if let Some(out) = &args.out {
        let ev =
            |f: fn(&Evidence) -> f64| ranked.iter().map(|a| f(&a.evidence)).collect::<Vec<_>>();
        let term = |t: usize| ranked.iter().map(|a| a.terms[t]).collect::<Vec<_>>();
        let mut frame = df!(
            "rank" => (1..=ranked.len() as u32).collect::<Vec<_>>(),
            place_column(level) => ranked.iter().map(|a| a.evidence.place_id.as_str()).collect::<Vec<_>>(),
            "category" => ranked.iter().map(|a| a.evidence.category.as_str()).collect::<Vec<_>>(),
            "action" => ranked.iter().map(|a| a.action).collect::<Vec<_>>(),
            "chosen_by" => ranked.iter().map(|a| a.chosen_by).collect::<Vec<_>>(),
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
        if level == Level::Sector {
            let names: Vec<&str> = ranked.iter().map(|a| a.evidence.place.as_str()).collect();
            frame.insert_column(2, Column::new("sector".into(), names))?;
        }
        let table = Table::from_frame(frame);
        let n = write_out(catalog, &manifest, &table, level, out)?;
        eprintln!("wrote {n} actions to {}", out.display());
    }
    Ok(())
}
