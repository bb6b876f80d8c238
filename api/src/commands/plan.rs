//! `predio plan`: the proactive plan of the current version (`engine::plan::plan_of`: its
//! sector indices by category and the Gi* hot spots of each category's H3 cells), printed or
//! written; `action_json` is shared with `GET /plan`.

use polars::prelude::*;
use predio_engine::indices::Level;
use predio_engine::plan::{plan_of, Action, Evidence, Plan};
use predio_engine::{CatalogStore, Table};
use serde_json::{json, Value};

use super::compute::current;
use super::table::{format_of, write_out};
use crate::cli::PlanArgs;

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
pub fn run(catalog: &dyn CatalogStore, args: &PlanArgs) -> anyhow::Result<()> {
    // a bad --out is refused before any work
    if let Some(out) = &args.out {
        format_of(out)?;
    }
    let manifest = current(catalog)?;
    let Plan {
        window,
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
        let table = Table::from_frame(df!(
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
        )?);
        let n = write_out(catalog, &manifest, &table, Level::Sector, out)?;
        eprintln!("wrote {n} actions to {}", out.display());
    }
    Ok(())
}
