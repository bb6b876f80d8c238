//! The indices as Polars lazy queries: the first formulation, a group-by per level, window and
//! dimension joined to the counts of the window before, kept as the oracle the single pass of
//! `aggregate.rs` is checked against (every column of every table, on reports with every kind
//! of status, history, deadline and key).

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use polars::prelude::*;
use rayon::prelude::*;

use super::cells::cell_at;
use super::fact::{fact, Fact, Zones};
use super::report_table::column;
use super::stage::past_due_bucket;
use super::*;
use crate::model::{ParcelId, SectorId};
use crate::report::{Status, StatusType};

/// The reports created up to `as_of` (with the number of status changes of each in
/// `history_lens`), their facts, and the counts of what was left out.
fn used_facts<'r>(
    reports: &'r [Report],
    history_lens: &[u32],
    as_of: DateTime<Utc>,
    cfg: &IndexConfig,
) -> (Vec<&'r Report>, Vec<Fact>, FactCounts) {
    let (used, lens): (Vec<&Report>, Vec<usize>) = reports
        .iter()
        .zip(history_lens.iter().copied().chain(std::iter::repeat(0)))
        .filter(|(r, _)| r.created_at <= as_of)
        .map(|(r, n)| (r, n as usize))
        .unzip();
    let counts = FactCounts {
        used: used.len(),
        after_as_of: reports.len() - used.len(),
        closed_before_created: used
            .iter()
            .filter(|r| r.closed_at.is_some_and(|c| c < r.created_at))
            .count(),
        without_parcel: used.iter().filter(|r| r.parcel_id.is_none()).count(),
        without_sector: used.iter().filter(|r| r.sector_id.is_none()).count(),
        without_cell: used.iter().filter(|r| !r.location.has_point()).count(),
    };
    let facts: Vec<Fact> = used
        .par_iter()
        .zip(lens.par_iter())
        .map_init(Zones::default, |zones, (r, n)| {
            fact(r, *n, zones.get(&r.source_tz), as_of, cfg)
        })
        .collect();
    (used, facts, counts)
}

/// The `category`, `department`, `parcel_id` and `sector_id` columns of `used`.
fn key_columns(used: &[&Report]) -> [Column; 4] {
    let text = |name: &str, v: Vec<Option<&str>>| Series::new(name.into(), v).into_column();
    [
        text(
            "category",
            used.iter().map(|r| r.category.as_deref()).collect(),
        ),
        text(
            "department",
            used.iter().map(|r| r.department.as_deref()).collect(),
        ),
        text(
            "parcel_id",
            used.iter()
                .map(|r| r.parcel_id.as_ref().map(ParcelId::as_str))
                .collect(),
        ),
        text(
            "sector_id",
            used.iter()
                .map(|r| r.sector_id.as_ref().map(SectorId::as_str))
                .collect(),
        ),
    ]
}

/// The facts frame: one row per report created up to `as_of`. H3 cells at each of
/// `h3_res` (`h3_<res>` columns) come from the stored cell when it is as fine, else from the
/// point.
///
/// # Errors
/// Polars errors building the frame.
pub fn facts_frame(
    reports: &[Report],
    history_lens: &[u32],
    as_of: DateTime<Utc>,
    cfg: &IndexConfig,
    h3_res: &[h3o::Resolution],
) -> PolarsResult<(DataFrame, FactCounts)> {
    let (used, facts, counts) = used_facts(reports, history_lens, as_of, cfg);
    let n = used.len();
    // Built once, shared (cheaply cloned) by the facts and the per-report table.
    let created = column(
        "created",
        used.iter()
            .map(|r| r.created_at.timestamp_millis())
            .collect::<Vec<_>>(),
    );
    let [category, department, parcel, sector] = key_columns(&used);
    let mut columns = vec![created, parcel, sector, category, department];
    for res in h3_res {
        let cells: Vec<Option<u64>> = used.par_iter().map(|r| cell_at(r, *res)).collect();
        columns.push(Series::new(format!("h3_{}", u8::from(*res)).into(), cells).into_column());
    }
    let flag = |name: &str, f: &dyn Fn(&Report, &Fact) -> bool| {
        Series::new(
            name.into(),
            used.iter()
                .zip(&facts)
                .map(|(r, x)| f(r, x))
                .collect::<Vec<bool>>(),
        )
        .into_column()
    };
    columns.push(flag("open", &|_, x| !x.closed));
    columns.push(flag("resolved", &|r, x| {
        x.closed && r.status == Status::Resolved
    }));
    columns.push(flag("rejected_duplicate", &|r, x| {
        x.closed && matches!(r.status, Status::Rejected | Status::Duplicate)
    }));
    columns.push(flag("resolved_not_fixed", &|r, x| {
        x.closed && r.status == Status::Resolved && r.status_type == StatusType::ClosedNotFixed
    }));
    let opt_f = |name: &str, f: &dyn Fn(&Fact) -> Option<f64>| {
        Series::new(name.into(), facts.iter().map(f).collect::<Vec<_>>()).into_column()
    };
    columns.push(opt_f("ack_h", &|x| x.ack_h));
    columns.push(opt_f("res_h", &|x| x.res_h));
    columns.push(opt_f("res_bd", &|x| x.res_bd));
    columns.push(column(
        "reopened",
        facts.iter().map(|x| x.reopened).collect::<Vec<_>>(),
    ));
    columns.push(column(
        "on_time",
        facts.iter().map(|x| x.on_time).collect::<Vec<_>>(),
    ));
    columns.push(column(
        "stage",
        facts
            .iter()
            .map(|x| x.stage.map(|s| s as u32))
            .collect::<Vec<_>>(),
    ));
    columns.push(column(
        "past_due",
        facts
            .iter()
            .map(|x| x.past_due.map(|d| u32::from(past_due_bucket(d))))
            .collect::<Vec<_>>(),
    ));
    columns.push(column(
        "age_bd",
        facts.iter().map(|x| x.age_bd).collect::<Vec<_>>(),
    ));
    Ok((DataFrame::new(n, columns)?, counts))
}

fn aggregations() -> Vec<Expr> {
    let sum = |c: &str, name: &str| col(c).sum().cast(DataType::UInt32).alias(name);
    let eq_sum = |c: &str, v: u8, name: &str| {
        col(c)
            .eq(lit(u32::from(v)))
            .sum()
            .cast(DataType::UInt32)
            .alias(name)
    };
    vec![
        len().cast(DataType::UInt32).alias("received"),
        sum("open", "open"),
        sum("resolved", "resolved"),
        sum("rejected_duplicate", "rejected_duplicate"),
        sum("resolved_not_fixed", "resolved_not_fixed"),
        col("on_time")
            .count()
            .cast(DataType::UInt32)
            .alias("answered"),
        sum("on_time", "answered_on_time"),
        eq_sum("stage", Stage::OnTime as u8, "open_on_time"),
        eq_sum("stage", Stage::Warning as u8, "open_warning"),
        eq_sum("stage", Stage::Alert as u8, "open_alert"),
        eq_sum("stage", Stage::Overdue as u8, "overdue"),
        eq_sum("past_due", 1, "overdue_0_5"),
        eq_sum("past_due", 2, "overdue_6_10"),
        eq_sum("past_due", 3, "overdue_11_20"),
        eq_sum("past_due", 4, "overdue_over_20"),
        col("age_bd").max().alias("oldest_open_bd"),
        col("res_h").median().alias("resolution_median_h"),
        col("res_h")
            .quantile(lit(0.9), QuantileMethod::Linear)
            .alias("resolution_p90_h"),
        col("res_bd").median().alias("resolution_median_bd"),
        col("res_bd")
            .quantile(lit(0.9), QuantileMethod::Linear)
            .alias("resolution_p90_bd"),
        col("ack_h").median().alias("ack_median_h"),
        col("ack_h")
            .quantile(lit(0.9), QuantileMethod::Linear)
            .alias("ack_p90_h"),
        sum("reopened", "reopened"),
        col("reopened")
            .count()
            .cast(DataType::UInt32)
            .alias("with_history"),
        sum("recurrent", "recurrent"),
    ]
}

/// `a / b` as a float where `b > 0`, else null.
fn ratio(a: Expr, b: &str) -> Expr {
    when(col(b).gt(lit(0)))
        .then(a.cast(DataType::Float64) / col(b).cast(DataType::Float64))
        .otherwise(lit(NULL).cast(DataType::Float64))
}

/// The group key of a level: the feature column(s) and, for a dimension, its value.
struct Group {
    /// Feature key expressions (already aliased).
    keys: Vec<Expr>,
    /// Names of the feature key columns.
    names: Vec<&'static str>,
    /// Literal columns added after the group-by (`res` of a cell table).
    extra: Vec<Expr>,
}

const DIMENSIONS: [&str; 3] = ["all", "category", "department"];

/// Aggregates `cur` (and the counts of `prev`, the window before) by `group` and dimension;
/// with `complete`, every feature `0..n` of the group's key gets a row.
fn by_group(
    cur: &LazyFrame,
    prev: Option<&LazyFrame>,
    group: &Group,
    window: &str,
    dimension: &str,
    complete: Option<usize>,
) -> PolarsResult<LazyFrame> {
    let mut keys = group.keys.clone();
    let mut names: Vec<Expr> = group.names.iter().map(|n| col(*n)).collect();
    if dimension != "all" {
        keys.push(col(dimension).alias("value"));
        names.push(col("value"));
    }
    let mut out = cur.clone().group_by(&keys).agg(aggregations());
    if let Some(n) = complete {
        let key = group.names[0];
        let ids = df!(key => (0..n as u32).collect::<Vec<_>>())?.lazy();
        let full = ids.join(
            out.clone(),
            [col(key)],
            [col(key)],
            JoinArgs::new(JoinType::Left),
        );
        let none = out.filter(col(key).is_null());
        out = concat([full, none], UnionArgs::default())?;
    }
    out = match prev {
        Some(prev) => {
            let counts = prev
                .clone()
                .group_by(&keys)
                .agg([len().cast(DataType::UInt32).alias("prev_received")]);
            let mut args = JoinArgs::new(JoinType::Left);
            args.nulls_equal = true;
            out.join(counts, &names, &names, args)
        }
        None => out.with_column(lit(NULL).cast(DataType::UInt32).alias("prev_received")),
    };
    if dimension == "all" {
        out = out.with_column(lit(NULL).cast(DataType::String).alias("value"));
    }
    // One column order for every part, so that they can be concatenated.
    let extra_names = group.extra.iter().filter_map(|e| match e {
        Expr::Alias(_, name) => Some(col(name.clone())),
        _ => None,
    });
    let mut order: Vec<Expr> = group.names.iter().map(|n| col(*n)).collect();
    order.extend(extra_names);
    order.extend(["window", "dimension", "value"].map(col));
    order.extend(aggregated().into_iter().map(col));
    order.push(col("prev_received"));
    Ok(out
        .with_columns(group.extra.clone())
        .with_columns([
            lit(window.to_owned()).alias("window"),
            lit(dimension.to_owned()).alias("dimension"),
        ])
        .select(order))
}

/// The columns [`aggregations`] makes, in order: the counts to `overdue_over_20`, the oldest
/// open report, the quantiles, then the history's counts and recurrence.
fn aggregated() -> Vec<&'static str> {
    use super::aggregate::{COUNTS, QUANTILES};
    let mut v = COUNTS[..15].to_vec();
    v.push("oldest_open_bd");
    v.extend(QUANTILES);
    v.extend(&COUNTS[15..]);
    v
}

/// The columns of every table after its key, in order: the aggregates with the ratios made of
/// them beside them.
fn metric_columns() -> Vec<&'static str> {
    let mut v = vec!["window", "dimension", "value"];
    for c in aggregated() {
        v.push(c);
        match c {
            "answered_on_time" => v.push("compliance"),
            "with_history" => v.push("reopen_rate"),
            _ => {}
        }
    }
    v.extend(["prev_received", "trend", "area_km2", "density_km2"]);
    v
}

/// The count columns among [`aggregated`] (filled with 0 where a feature had no reports).
fn counts() -> impl Iterator<Item = &'static str> {
    aggregated()
        .into_iter()
        .filter(|c| !(c.contains("median") || c.contains("p90") || *c == "oldest_open_bd"))
}

/// [`super::compute`] as Polars lazy queries (the per-report table left empty).
pub fn compute(
    reports: &[Report],
    history_lens: &[u32],
    parcels: Option<&[ParcelKey]>,
    sectors: Option<&SectorLayer>,
    scope: Scope<'_>,
    cfg: &IndexConfig,
) -> PolarsResult<(IndexTables, FactCounts)> {
    let Scope {
        as_of,
        windows,
        h3_res,
        zone,
    } = scope;
    let (facts, fact_counts) = facts_frame(reports, history_lens, as_of, cfg, h3_res)?;
    // Parcels and sectors are grouped by their position in the layer (an integer key, cheaper
    // than the id strings), and given their ids, areas and populations back at the end.
    let parcel_ids: Vec<&str> =
        parcels.map_or(Vec::new(), |p| p.iter().map(|x| x.id.as_str()).collect());
    let sector_ids: Vec<&str> = sectors.map_or(Vec::new(), |s| {
        s.sectors.iter().map(|x| x.id.as_str()).collect()
    });
    let facts = with_index(facts, "parcel_id", "pidx", &parcel_ids)?;
    let facts = with_index(facts, "sector_id", "sidx", &sector_ids)?;

    let recurrence_ms = i64::from(cfg.recurrence_days) * 86_400_000;
    let facts = facts
        .lazy()
        .sort(["created"], SortMultipleOptions::default())
        .with_column(
            (col("created")
                - col("created")
                    .shift(lit(1))
                    .over([col("pidx"), col("category")])?)
            .lt_eq(lit(recurrence_ms))
            .and(col("pidx").is_not_null())
            .fill_null(lit(false))
            .alias("recurrent"),
        )
        .collect()?;
    let facts = facts.lazy();

    let parcel_group = Group {
        keys: vec![col("pidx")],
        names: vec!["pidx"],
        extra: vec![],
    };
    let sector_group = Group {
        keys: vec![col("sidx")],
        names: vec!["sidx"],
        extra: vec![],
    };
    let cell_groups: Vec<Group> = h3_res
        .iter()
        .map(|r| Group {
            keys: vec![col(format!("h3_{}", u8::from(*r))).alias("cell")],
            names: vec!["cell"],
            extra: vec![lit(i32::from(u8::from(*r))).alias("res")],
        })
        .collect();

    let (mut parcel_parts, mut sector_parts, mut cell_parts) = (vec![], vec![], vec![]);
    for w in windows {
        let (cur, prev) = match w.days {
            Some(days) => {
                let start = super::days_before(as_of, days, zone).timestamp_millis();
                let before = super::days_before(as_of, 2 * days, zone).timestamp_millis();
                let cur = facts.clone().filter(col("created").gt(lit(start)));
                let prev = facts.clone().filter(
                    col("created")
                        .gt(lit(before))
                        .and(col("created").lt_eq(lit(start))),
                );
                (cur, Some(prev))
            }
            None => (facts.clone(), None),
        };
        for dim in DIMENSIONS {
            // Every parcel and sector gets a row in `all`, with zeros when it had no reports;
            // the row without a feature (reports with no parcel or sector) is kept.
            let all = |n: usize| (dim == "all").then_some(n);
            let pr = prev.as_ref();
            let (l, d) = (&w.label, dim);
            parcel_parts.push(by_group(
                &cur,
                pr,
                &parcel_group,
                l,
                d,
                all(parcel_ids.len()),
            )?);
            sector_parts.push(by_group(
                &cur,
                pr,
                &sector_group,
                l,
                d,
                all(sector_ids.len()),
            )?);
            for g in &cell_groups {
                cell_parts.push(by_group(&cur, pr, g, l, d, None)?);
            }
        }
    }
    let union = UnionArgs {
        parallel: true,
        ..UnionArgs::default()
    };
    let parcel_table = concat(&parcel_parts, union)?;
    let sector_table = concat(&sector_parts, union)?;
    let cell_table = if cell_parts.is_empty() {
        // No H3 resolution asked for: an empty cell table with the columns of one.
        let mut order = vec![col("cell"), col("res")];
        order.extend(["window", "dimension", "value"].map(col));
        order.extend(aggregated().into_iter().map(col));
        order.push(col("prev_received"));
        sector_table
            .clone()
            .filter(lit(false))
            .with_columns([
                lit(NULL).cast(DataType::UInt64).alias("cell"),
                lit(NULL).cast(DataType::Int32).alias("res"),
            ])
            .select(order)
    } else {
        concat(&cell_parts, union)?
    };

    // Ids, areas (km²) and populations back on the rows.
    let parcel_attrs = df!(
        "pidx" => (0..parcel_ids.len() as u32).collect::<Vec<_>>(),
        "parcel_id" => &parcel_ids,
        "area_km2" => parcels.map_or(Vec::new(), |p| p.iter().map(|x| x.area_m2 / 1e6).collect::<Vec<_>>()),
    )?;
    let sector_attrs = df!(
        "sidx" => (0..sector_ids.len() as u32).collect::<Vec<_>>(),
        "sector_id" => &sector_ids,
        "name" => sectors.map_or(Vec::new(), |s| s.sectors.iter().map(|x| x.name.as_str()).collect::<Vec<_>>()),
        "area_km2" => sectors.map_or(Vec::new(), |s| s.sectors.iter().map(|x| x.area_m2 / 1e6).collect::<Vec<_>>()),
        "population" => sectors.map_or(Vec::new(), |s| s.sectors.iter().map(|x| x.population).collect::<Vec<_>>()),
    )?;
    let parcel_table = parcel_table.join(
        parcel_attrs.lazy(),
        [col("pidx")],
        [col("pidx")],
        JoinArgs::new(JoinType::Left),
    );
    let sector_table = sector_table.join(
        sector_attrs.lazy(),
        [col("sidx")],
        [col("sidx")],
        JoinArgs::new(JoinType::Left),
    );

    let [parcels_df, sectors_df, cells_df]: [DataFrame; 3] = {
        let mut v = collect_all([parcel_table, sector_table, cell_table])?;
        let c = v
            .pop()
            .ok_or_else(|| polars_err!(ComputeError: "no cell table"))?;
        let s = v
            .pop()
            .ok_or_else(|| polars_err!(ComputeError: "no sector table"))?;
        let p = v
            .pop()
            .ok_or_else(|| polars_err!(ComputeError: "no parcel table"))?;
        [p, s, c]
    };
    let cells_df = with_cell_areas(cells_df)?;

    let finish = |df: DataFrame, keys: &[&str], extra: &[&str]| -> PolarsResult<DataFrame> {
        let mut cols: Vec<Expr> = keys.iter().map(|k| col(*k)).collect();
        cols.extend(metric_columns().into_iter().map(col));
        cols.extend(extra.iter().map(|k| col(*k)));
        let mut fills: Vec<Expr> = counts().map(|c| col(c).fill_null(lit(0u32))).collect();
        // The window before had no reports: 0, not unknown (except for `all`, which has none).
        fills.push(
            when(col("window").eq(lit("all")))
                .then(lit(NULL).cast(DataType::UInt32))
                .otherwise(col("prev_received").fill_null(lit(0u32)))
                .alias("prev_received"),
        );
        let mut lf = df.lazy().with_columns(fills);
        lf = lf.with_columns([
            ratio(col("answered_on_time"), "answered").alias("compliance"),
            ratio(col("reopened"), "with_history").alias("reopen_rate"),
            ratio(col("received"), "prev_received").alias("trend"),
            ratio(col("received"), "area_km2").alias("density_km2"),
        ]);
        if extra.contains(&"per_1000") {
            lf = lf.with_column(
                (ratio(col("received"), "population") * lit(1000.0)).alias("per_1000"),
            );
        }
        let df = lf.select(cols).collect()?;
        attention(df, cfg)
    };
    let parcels_df = finish(parcels_df, &["parcel_id"], &[])?;
    let sectors_df = finish(
        sectors_df,
        &["sector_id", "name"],
        &["population", "per_1000"],
    )?;
    let cells_df = finish(cells_df, &["res", "cell"], &[])?;
    Ok((
        IndexTables {
            parcels: parcels_df,
            sectors: sectors_df,
            h3: cells_df,
            reports: DataFrame::empty(),
        },
        fact_counts,
    ))
}

fn collect_all<const N: usize>(frames: [LazyFrame; N]) -> PolarsResult<Vec<DataFrame>> {
    LazyFrame::collect_all_with_engine(
        frames.into_iter().map(|f| f.logical_plan).collect(),
        Engine::Auto,
        OptFlags::default(),
    )
}

/// Adds `idx` (u32: position of the row's `key` in `ids`, null when absent) to `facts`.
fn with_index(mut facts: DataFrame, key: &str, idx: &str, ids: &[&str]) -> PolarsResult<DataFrame> {
    let lookup: HashMap<&str, u32> = ids
        .iter()
        .enumerate()
        .map(|(i, id)| (*id, i as u32))
        .collect();
    let values: Vec<Option<u32>> = facts
        .column(key)?
        .str()?
        .iter()
        .map(|k| k.and_then(|k| lookup.get(k).copied()))
        .collect();
    facts.with_column(Series::new(idx.into(), values).into_column())?;
    Ok(facts)
}

/// Replaces the `cell` column (u64) with its hexadecimal name and adds each cell's own area.
fn with_cell_areas(mut df: DataFrame) -> PolarsResult<DataFrame> {
    let cells: Vec<Option<h3o::CellIndex>> = df
        .column("cell")?
        .u64()?
        .iter()
        .map(|c| c.and_then(|c| h3o::CellIndex::try_from(c).ok()))
        .collect();
    let mut areas: HashMap<h3o::CellIndex, f64> = HashMap::new();
    let area: Vec<Option<f64>> = cells
        .iter()
        .map(|c| c.map(|c| *areas.entry(c).or_insert_with(|| c.area_km2())))
        .collect();
    let names: Vec<Option<String>> = cells.iter().map(|c| c.map(|c| c.to_string())).collect();
    df.with_column(Series::new("cell".into(), names).into_column())?;
    df.with_column(Series::new("area_km2".into(), area).into_column())?;
    Ok(df)
}

/// The attention index, 0–100, of each row with at least `min_reports` reports:
/// `100 × Σ wᵢ·sᵢ / Σ wᵢ` over the components `sᵢ` ∈ [0, 1] (see the README).
fn attention(mut df: DataFrame, cfg: &IndexConfig) -> PolarsResult<DataFrame> {
    let n = df.height();
    let get_u = |c: &str| -> PolarsResult<Vec<u32>> {
        Ok(df
            .column(c)?
            .u32()?
            .iter()
            .map(|v| v.unwrap_or(0))
            .collect())
    };
    let get_f =
        |c: &str| -> PolarsResult<Vec<Option<f64>>> { Ok(df.column(c)?.f64()?.iter().collect()) };
    let received = get_u("received")?;
    let open = get_u("open")?;
    let overdue = get_u("overdue")?;
    let answered = get_u("answered")?;
    let on_time = get_u("answered_on_time")?;
    let recurrent = get_u("recurrent")?;
    let density = get_f("density_km2")?;
    let trend = get_f("trend")?;
    // Density as a percentile among the eligible rows of the same window and dimension value.
    let w = df.column("window")?.str()?;
    let d = df.column("dimension")?.str()?;
    let v = df.column("value")?.str()?;
    let res: Option<Vec<Option<i32>>> = match df.column("res") {
        Ok(r) => Some(r.i32()?.iter().collect()),
        Err(_) => None,
    };
    let min = cfg.min_reports.max(1);
    let eligible: Vec<bool> = received.iter().map(|r| *r >= min).collect();
    type Part<'a> = (
        Option<&'a str>,
        Option<&'a str>,
        Option<&'a str>,
        Option<i32>,
    );
    let mut groups: HashMap<Part<'_>, Vec<usize>> = HashMap::new();
    for (i, ((w, d), v)) in w.iter().zip(d.iter()).zip(v.iter()).enumerate() {
        if eligible[i] && density[i].is_some() {
            let r = res.as_ref().and_then(|r| r[i]);
            groups.entry((w, d, v, r)).or_default().push(i);
        }
    }
    let mut percentile = vec![0.0; n];
    for rows in groups.values_mut() {
        rows.sort_by(|a, b| {
            density[*a]
                .partial_cmp(&density[*b])
                .unwrap_or(std::cmp::Ordering::Equal)
        });
        let m = rows.len() as f64;
        let mut i = 0;
        while i < rows.len() {
            let mut j = i;
            while j + 1 < rows.len() && density[rows[j + 1]] == density[rows[i]] {
                j += 1;
            }
            // Ties share the mean rank; the densest row scores 1.
            let rank = (i + j) as f64 / 2.0 + 1.0;
            for r in &rows[i..=j] {
                percentile[*r] = rank / m;
            }
            i = j + 1;
        }
    }
    // The formula is shared (it is the README's); the percentiles above are this module's.
    let counts = super::attention::AttentionCounts {
        received: &received,
        open: &open,
        overdue: &overdue,
        answered: &answered,
        on_time: &on_time,
        recurrent: &recurrent,
    };
    let values: Vec<Option<f64>> = (0..n)
        .map(|i| eligible[i].then(|| counts.score(&cfg.weights, i, percentile[i], trend[i])))
        .collect();
    df.with_column(Series::new("attention".into(), values).into_column())?;
    Ok(df)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Sector;
    use crate::report::Location;
    use chrono::{Duration, NaiveDate, TimeZone};
    use geo::MultiPolygon;

    /// A reproducible stream of numbers (a Weyl sequence, scrambled).
    fn pick(i: usize, salt: u64, n: u64) -> u64 {
        let mut x = (i as u64 + 1)
            .wrapping_mul(0x9e37_79b9_7f4a_7c15)
            .wrapping_add(salt.wrapping_mul(0xbf58_476d_1ce4_e5b9));
        x ^= x >> 31;
        x = x.wrapping_mul(0x94d0_49bb_1331_11eb);
        (x ^ (x >> 29)) % n
    }

    /// Reports of every kind: every status, closings before creation and after the as-of
    /// time, the source's own deadlines, acknowledgements, reopenings, histories, reports
    /// without category, department, parcel (or with one not in the layer), sector or
    /// location, in three time zones, created in no particular order.
    fn town() -> (
        Vec<Report>,
        Vec<u32>,
        Vec<ParcelKey>,
        SectorLayer,
        DateTime<Utc>,
    ) {
        let n = 6000;
        let base = Utc
            .with_ymd_and_hms(2025, 1, 1, 0, 0, 0)
            .single()
            .expect("time");
        let as_of = base + Duration::days(330);
        let parcels: Vec<ParcelKey> = (0..300)
            .map(|p| ParcelKey {
                id: ParcelId::new(format!("P{p}")),
                area_m2: 100.0 + (p % 17) as f64 * 50.0,
            })
            .collect();
        let sectors: Vec<Sector> = (0..12)
            .map(|s| Sector {
                id: SectorId::new(format!("S{s}")),
                name: format!("Barrio {s}"),
                population: (s != 3).then_some(1000.0 + s as f64 * 10.0),
                area_m2: if s == 5 { 0.0 } else { 1e6 + s as f64 * 1e5 },
                geometry: MultiPolygon(vec![]),
                attributes: vec![],
            })
            .collect();
        let statuses = [
            Status::Open,
            Status::InProgress,
            Status::Resolved,
            Status::Resolved,
            Status::Resolved,
            Status::Rejected,
            Status::Duplicate,
        ];
        let zones = ["America/Montevideo", "America/Costa_Rica", "UTC"];
        let mut lens = Vec::with_capacity(n);
        let reports = (0..n)
            .map(|i| {
                // Distinct creation times, 80 minutes apart, in a scrambled order.
                let created = base + Duration::minutes((i * 4099 % n) as i64 * 80);
                let status = statuses[pick(i, 1, 7) as usize];
                let mut r = Report::new(format!("r{i}"), "test", status, "x", created);
                r.category = (pick(i, 2, 8) < 7).then(|| format!("cat{}", pick(i, 3, 6)));
                r.department = (pick(i, 4, 9) < 8).then(|| format!("dep{}", pick(i, 5, 4)));
                r.source_tz = zones[pick(i, 6, 3) as usize].into();
                if status.is_closed() {
                    // Some closed before they were created; some after the as-of time.
                    let hours = pick(i, 7, 900) as i64 - 30;
                    r.closed_at = Some(created + Duration::hours(hours));
                    if status == Status::Resolved && pick(i, 8, 5) == 0 {
                        r.status_type = StatusType::ClosedNotFixed;
                    }
                }
                if pick(i, 9, 4) == 0 {
                    r.acknowledged_at = Some(created + Duration::minutes(pick(i, 10, 3000) as i64));
                }
                if pick(i, 11, 10) == 0 {
                    r.reopened_at = Some(created + Duration::hours(pick(i, 12, 400) as i64));
                }
                if pick(i, 13, 6) == 0 {
                    r.deadline_at = Some(created + Duration::hours(pick(i, 14, 600) as i64));
                }
                lens.push(pick(i, 15, 5) as u32);
                if pick(i, 16, 40) > 0 {
                    r.location = Location::Located;
                    // Near Montevideo: reports cluster on a few hundred metres.
                    r.lat = Some(-34.90 + pick(i, 17, 2000) as f64 * 2e-5);
                    r.lon = Some(-56.16 + pick(i, 18, 2000) as f64 * 2e-5);
                    let ll = h3o::LatLng::new(r.lat.unwrap_or(0.0), r.lon.unwrap_or(0.0))
                        .expect("point");
                    if pick(i, 19, 3) > 0 {
                        r.h3 = Some(ll.to_cell(h3o::Resolution::Nine).into());
                    }
                    let p = pick(i, 20, 320);
                    r.parcel_id = (p < 310).then(|| ParcelId::new(format!("P{p}")));
                    // Sector 7 has no reports.
                    let s = pick(i, 21, 11);
                    r.sector_id = Some(SectorId::new(format!("S{}", if s == 7 { 11 } else { s })));
                }
                r
            })
            .collect();
        (
            reports,
            lens,
            parcels,
            SectorLayer {
                fields: vec![],
                sectors,
            },
            as_of,
        )
    }

    fn sorted(df: &DataFrame, keys: &[&str]) -> DataFrame {
        let mut by: Vec<&str> = keys.to_vec();
        by.extend(["window", "dimension", "value"]);
        df.sort(by, SortMultipleOptions::default().with_nulls_last(false))
            .expect("sort")
    }

    fn assert_same(level: Level, fast: &DataFrame, oracle: &DataFrame) {
        assert_eq!(
            fast.get_column_names(),
            oracle.get_column_names(),
            "{level}"
        );
        assert_eq!(fast.height(), oracle.height(), "{level}: rows");
        let (a, b) = (
            sorted(fast, level.key_columns()),
            sorted(oracle, level.key_columns()),
        );
        for name in a.get_column_names() {
            let (x, y) = (
                a.column(name).expect("column"),
                b.column(name).expect("column"),
            );
            assert_eq!(x.dtype(), y.dtype(), "{level} {name}");
            if let (Ok(x), Ok(y)) = (x.f64(), y.f64()) {
                for (i, (p, q)) in x.iter().zip(y.iter()).enumerate() {
                    let same = match (p, q) {
                        (Some(p), Some(q)) => {
                            (p - q).abs() <= 1e-9 * p.abs().max(1.0) || (p.is_nan() && q.is_nan())
                        }
                        (p, q) => p == q,
                    };
                    assert!(
                        same,
                        "{level} {name} row {i}: {p:?} against {q:?}\n{:?}",
                        a.slice(i as i64, 1)
                    );
                }
            } else {
                assert!(x.equals_missing(y), "{level} {name}:\n{x:?}\n{y:?}");
            }
        }
    }

    /// The per-report table (built from the reports' columns) against each report's own
    /// [`fact`](super::super::fact).
    fn check_report_table(
        table: &DataFrame,
        reports: &[Report],
        lens: &[u32],
        as_of: DateTime<Utc>,
        cfg: &IndexConfig,
    ) {
        let used: Vec<(&Report, u32)> = reports
            .iter()
            .zip(lens.iter().copied())
            .filter(|(r, _)| r.created_at <= as_of)
            .collect();
        assert_eq!(table.height(), used.len());
        let text = |c: &str| table.column(c).expect(c).str().expect(c).clone();
        let float = |c: &str| table.column(c).expect(c).f64().expect(c).clone();
        let (id, parcel, category, status, stage, due, from) = (
            text("id"),
            text("parcel_id"),
            text("category"),
            text("status"),
            text("stage"),
            text("due_date"),
            text("deadline_from"),
        );
        let (res_h, res_bd, ack_h) = (
            float("resolution_h"),
            float("resolution_bd"),
            float("ack_h"),
        );
        let on_time = table
            .column("on_time")
            .expect("on_time")
            .bool()
            .expect("bool");
        let created = table
            .column("created_at")
            .expect("created_at")
            .cast(&DataType::Int64)
            .expect("ms");
        let created = created.i64().expect("ms");
        for (k, (r, n)) in used.iter().enumerate() {
            let tz = r.source_tz.parse().unwrap_or(chrono_tz::Tz::UTC);
            let x = super::super::fact(r, *n as usize, tz, as_of, cfg);
            assert_eq!(id.get(k), Some(r.id.as_str()), "row {k}");
            assert_eq!(parcel.get(k), r.parcel_id.as_ref().map(ParcelId::as_str));
            assert_eq!(category.get(k), r.category.as_deref());
            assert_eq!(status.get(k), Some(r.status.as_str()));
            assert_eq!(created.get(k), Some(r.created_at.timestamp_millis()));
            assert_eq!(stage.get(k), x.stage.map(super::super::Stage::as_str));
            assert_eq!(due.get(k).map(str::to_owned), x.due.map(|d| d.to_string()));
            let source = r.deadline_at.map(|_| "source");
            assert_eq!(from.get(k), source.or(x.due.map(|_| "rule")), "row {k}");
            assert_eq!(on_time.get(k), x.on_time);
            assert_eq!(
                (res_h.get(k), res_bd.get(k), ack_h.get(k)),
                (x.res_h, x.res_bd, x.ack_h),
                "row {k}"
            );
        }
    }

    /// A rule of its own for one category (3 business days), two holidays, attention from 3
    /// reports.
    fn rules() -> IndexConfig {
        let mut cfg = IndexConfig::new();
        cfg.min_reports = 3;
        cfg.categories.insert(
            "cat1".into(),
            Rule {
                days: 3,
                warning_days: 1,
                alert_days: 2,
            },
        );
        cfg.calendar = crate::calendar::Calendar::new([
            NaiveDate::from_ymd_opt(2025, 5, 1).expect("date"),
            NaiveDate::from_ymd_opt(2025, 12, 1).expect("date"),
        ]);
        cfg
    }

    /// The monthly series `predio compute` finds from the reports' facts equal the series
    /// found from the reports alone, each deadline verdict found again: reports of every kind
    /// (some closed without a closing time), in three zones, months of two catalog zones.
    #[test]
    fn series_from_the_facts_equal_the_series_found_again() {
        let (mut reports, lens, parcels, sectors, as_of) = town();
        for r in reports
            .iter_mut()
            .filter(|r| r.status.is_closed())
            .step_by(9)
        {
            r.closed_at = None;
        }
        let cfg = rules();
        let parcel_ids: Vec<&str> = parcels.iter().map(|p| p.id.as_str()).collect();
        let sector_ids: Vec<&str> = sectors.sectors.iter().map(|s| s.id.as_str()).collect();
        for zone in [chrono_tz::Europe::Lisbon, chrono_tz::America::Montevideo] {
            let columns = ReportColumns::from_reports(&reports, &lens).expect("columns");
            let again = super::super::series::monthly(&columns, as_of, zone, &cfg).expect("series");
            let keys = (&[][..], &parcel_ids[..], &sector_ids[..]);
            let (_, found) = super::super::facts::facts(&columns, as_of, &cfg, keys, |found| {
                found.monthly_series(as_of, zone)
            })
            .expect("facts");
            let found = found.expect("series");
            assert!(again.len() > 500, "{} rows", again.len());
            assert_eq!(found, again, "{zone}");
        }
    }

    #[test]
    fn single_pass_equals_the_polars_queries() {
        let (reports, lens, parcels, sectors, as_of) = town();
        let windows: Vec<super::super::Window> = ["30d", "all", "90d", "7d"]
            .iter()
            .map(|w| w.parse().expect("window"))
            .collect();
        let res = [
            h3o::Resolution::Eight,
            h3o::Resolution::Nine,
            h3o::Resolution::Ten,
        ];
        let cfg = rules();
        // A catalog zone with daylight saving: windows across the changes of clock.
        let scope = Scope {
            as_of,
            windows: &windows,
            h3_res: &res,
            zone: chrono_tz::Europe::Lisbon,
        };
        // Both computations, checked equal table by table; the single pass's.
        let both = |scope: Scope<'_>| -> (IndexTables, FactCounts) {
            let layers = (Some(parcels.as_slice()), Some(&sectors));
            let columns = ReportColumns::from_reports(&reports, &lens).expect("columns");
            let (fast, counts) = super::super::compute(columns, layers.0, layers.1, scope, &cfg)
                .expect("single pass");
            let (oracle, oracle_counts) =
                compute(&reports, &lens, layers.0, layers.1, scope, &cfg).expect("polars");
            assert_eq!(counts, oracle_counts);
            for level in [Level::Parcel, Level::Sector, Level::H3] {
                assert_same(level, fast.get(level), oracle.get(level));
            }
            (fast, counts)
        };
        let (fast, fast_counts) = both(scope);
        // On one thread (the frames made one after the other, none waiting for another): the
        // same tables, row for row.
        let one = rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .build()
            .expect("a pool of one thread");
        let (alone, _) = one
            .install(|| {
                let columns = ReportColumns::from_reports(&reports, &lens).expect("columns");
                super::super::compute(
                    columns,
                    Some(parcels.as_slice()),
                    Some(&sectors),
                    scope,
                    &cfg,
                )
            })
            .expect("on one thread");
        for level in [Level::Parcel, Level::Sector, Level::H3, Level::Report] {
            assert!(alone.get(level).equals_missing(fast.get(level)), "{level}");
        }
        assert!(fast_counts.after_as_of > 0 && fast_counts.closed_before_created > 0);
        check_report_table(&fast.reports, &reports, &lens, as_of, &cfg);
        // Every report used: the table's text columns are the columns read.
        let later = as_of + chrono::Duration::days(1000);
        let columns = ReportColumns::from_reports(&reports, &lens).expect("columns");
        let (all, _) = super::super::compute(
            columns,
            None,
            None,
            Scope {
                as_of: later,
                ..scope
            },
            &cfg,
        )
        .expect("compute");
        check_report_table(&all.reports, &reports, &lens, later, &cfg);
        // The data exercise what they should: zero rows, rows without a feature, attention,
        // trends, quantiles, stages and recurrence.
        let s = fast.get(Level::Sector);
        let sum = |df: &DataFrame, c: &str| -> u64 {
            df.column(c)
                .expect(c)
                .cast(&DataType::UInt64)
                .expect("u64")
                .u64()
                .expect("u64")
                .sum()
                .unwrap_or(0)
        };
        for c in [
            "recurrent",
            "reopened",
            "overdue_over_20",
            "open_warning",
            "resolved_not_fixed",
        ] {
            assert!(sum(fast.get(Level::Parcel), c) > 0, "{c}");
        }
        assert!(s.column("attention").expect("attention").null_count() < s.height());
        let p = fast.get(Level::Parcel);
        let zero_received = p
            .column("received")
            .expect("received")
            .u32()
            .expect("u32")
            .iter()
            .filter(|r| *r == Some(0))
            .count();
        assert!(zero_received > 0);
        // Before any report: zero rows for every parcel and sector, nothing else.
        let before = Scope {
            as_of: as_of - chrono::Duration::days(400),
            ..scope
        };
        let (fast, counts) = both(before);
        assert_eq!((counts.used, counts.after_as_of), (0, reports.len()));
        assert_eq!(fast.parcels.height(), parcels.len() * windows.len());
        // Without H3 resolutions, an empty cell table with the columns of one.
        let none = Scope {
            h3_res: &[],
            ..scope
        };
        let (fast, _) = both(none);
        assert_eq!(fast.h3.height(), 0);
        assert!(fast.h3.get_column_names().len() > 30);
    }
}
