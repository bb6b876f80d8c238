//! Indices per parcel, sector and H3 cell ("índices municipales por predio"), computed with
//! Polars lazy queries over the geocoded reports.
//!
//! Every table is long: one row per feature (parcel, sector or cell), time window and
//! dimension (`all`, or one `category` or `department` value). A window `30d` holds the reports
//! created in the 30 days up to the as-of time; `all` holds every report up to it. Open,
//! overdue and stages are as of that time. Every parcel and every sector has a row per window
//! for `all`, with zeros when it had no reports; the reports that have no parcel (or no sector,
//! or no cell) are counted in a row whose key is empty, never dropped.

pub mod config;
mod export;
mod facts;
mod quantiles;

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};
use polars::prelude::*;
use serde::{Deserialize, Serialize};

use crate::model::{ParcelLayer, SectorLayer};
use crate::reports::Report;

pub use config::{ConfigSource, IndexConfig, Rule, Weights};
pub use export::{cell_polygon, export_indices, select, Selection};
pub use facts::{fact, Fact, FactCounts, Stage};

/// The three levels of the indices.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    /// Per cadastral parcel.
    Parcel,
    /// Per sector (barrio, district).
    Sector,
    /// Per H3 cell, at each computed resolution.
    H3,
    /// Per report: its deadline, verdict and stage.
    Report,
}

impl Level {
    /// All levels.
    pub const ALL: [Level; 4] = [Level::Parcel, Level::Sector, Level::H3, Level::Report];

    /// `parcel`, `sector`, `h3`.
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Parcel => "parcel",
            Level::Sector => "sector",
            Level::H3 => "h3",
            Level::Report => "report",
        }
    }

    /// The table's file in a catalog version.
    pub fn file_name(self) -> &'static str {
        match self {
            Level::Parcel => "indices-parcels.parquet",
            Level::Sector => "indices-sectors.parquet",
            Level::H3 => "indices-h3.parquet",
            Level::Report => "indices-reports.parquet",
        }
    }

    /// The columns naming the feature of a row.
    pub fn key_columns(self) -> &'static [&'static str] {
        match self {
            Level::Parcel => &["parcel_id"],
            Level::Sector => &["sector_id", "name"],
            Level::H3 => &["res", "cell"],
            Level::Report => &["id"],
        }
    }
}

impl std::fmt::Display for Level {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A time window: the reports created in the `days` days up to the as-of time, or all.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Window {
    /// As written (`30d`, `12w`, `all`).
    pub label: String,
    /// Length in days; `None` for `all`.
    pub days: Option<u32>,
}

impl std::str::FromStr for Window {
    type Err = String;

    fn from_str(s: &str) -> Result<Window, String> {
        let t = s.trim();
        if t.eq_ignore_ascii_case("all") {
            return Ok(Window {
                label: "all".into(),
                days: None,
            });
        }
        let (n, unit) = t.split_at(t.len().saturating_sub(1));
        let mult = match unit {
            "d" => 1,
            "w" => 7,
            _ => {
                return Err(format!(
                    "window {s:?}: write it as Nd (days), Nw (weeks) or all"
                ))
            }
        };
        match n.parse::<u32>() {
            Ok(n) if n > 0 => Ok(Window {
                label: t.to_owned(),
                days: Some(n * mult),
            }),
            _ => Err(format!(
                "window {s:?}: write it as Nd (days), Nw (weeks) or all"
            )),
        }
    }
}

/// The three tables.
#[derive(Debug, Clone)]
pub struct IndexTables {
    /// Per parcel.
    pub parcels: DataFrame,
    /// Per sector.
    pub sectors: DataFrame,
    /// Per H3 cell.
    pub h3: DataFrame,
    /// Per report.
    pub reports: DataFrame,
}

impl IndexTables {
    /// The table of a level.
    pub fn get(&self, level: Level) -> &DataFrame {
        match level {
            Level::Parcel => &self.parcels,
            Level::Sector => &self.sectors,
            Level::H3 => &self.h3,
            Level::Report => &self.reports,
        }
    }
}

/// What a manifest records about the indices of its version.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IndicesMeta {
    /// Reports counted as of this time.
    pub as_of: DateTime<Utc>,
    /// When the computation ran.
    pub computed_at: DateTime<Utc>,
    /// Windows, as given.
    pub windows: Vec<String>,
    /// H3 resolutions of the cell table.
    pub h3_resolutions: Vec<u8>,
    /// Reports counted (created up to the as-of time).
    pub reports: usize,
    /// Reports created after the as-of time, left out.
    pub after_as_of: usize,
    /// Reports closed before they were created: counted, left out of times and compliance.
    pub closed_before_created: usize,
    /// Reports with no parcel (counted in the parcel table's row without an id).
    pub without_parcel: usize,
    /// Reports with no sector.
    pub without_sector: usize,
    /// Reports with no location, hence no cell.
    pub without_cell: usize,
    /// Rows per table.
    pub rows: BTreeMap<Level, usize>,
    /// The default deadline rule.
    pub default_rule: Rule,
    /// Categories with their own rule.
    pub category_rules: usize,
    /// Holidays in the calendar.
    pub holidays: usize,
    /// Recurrence interval, days.
    pub recurrence_days: u32,
    /// Minimum reports for an attention index.
    pub min_reports: u32,
    /// Attention weights.
    pub weights: Weights,
    /// Files the rules came from.
    pub config: ConfigSource,
    /// SHA-256 of the reports table the indices were computed from (to tell when they are
    /// stale).
    pub reports_sha256: Option<String>,
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

/// Aggregates `cur` (and the counts of `prev`, the window before) by `group` and dimension,
/// with the medians and 90th percentiles of `quantiles` (keyed alike; see [`quantiles`]).
fn by_group(
    cur: &LazyFrame,
    prev: Option<&LazyFrame>,
    quantiles: LazyFrame,
    group: &Group,
    window: &str,
    dimension: &str,
) -> LazyFrame {
    let mut keys = group.keys.clone();
    let mut names: Vec<Expr> = group.names.iter().map(|n| col(*n)).collect();
    if dimension != "all" {
        keys.push(col(dimension).alias("value"));
        names.push(col("value"));
    }
    let mut out = cur.clone().group_by(&keys).agg(aggregations());
    let mut args = JoinArgs::new(JoinType::Left);
    args.nulls_equal = true;
    out = out.join(quantiles, &names, &names, args);
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
    order.extend(AGGREGATED.map(col));
    order.push(col("prev_received"));
    out.with_columns(group.extra.clone())
        .with_columns([
            lit(window.to_owned()).alias("window"),
            lit(dimension.to_owned()).alias("dimension"),
        ])
        .select(order)
}

/// The columns [`aggregations`] makes, in order.
const AGGREGATED: [&str; 25] = [
    "received",
    "open",
    "resolved",
    "rejected_duplicate",
    "resolved_not_fixed",
    "answered",
    "answered_on_time",
    "open_on_time",
    "open_warning",
    "open_alert",
    "overdue",
    "overdue_0_5",
    "overdue_6_10",
    "overdue_11_20",
    "overdue_over_20",
    "oldest_open_bd",
    "resolution_median_h",
    "resolution_p90_h",
    "resolution_median_bd",
    "resolution_p90_bd",
    "ack_median_h",
    "ack_p90_h",
    "reopened",
    "with_history",
    "recurrent",
];

/// The columns of every table after its key, in order: the aggregates with the ratios made of
/// them beside them.
fn metric_columns() -> Vec<&'static str> {
    let mut v = vec!["window", "dimension", "value"];
    for c in AGGREGATED {
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

/// The count columns among [`AGGREGATED`] (filled with 0 where a feature had no reports).
fn counts() -> impl Iterator<Item = &'static str> {
    AGGREGATED
        .into_iter()
        .filter(|c| !(c.contains("median") || c.contains("p90") || *c == "oldest_open_bd"))
}

/// What to compute: the as-of time, the windows and the H3 resolutions.
#[derive(Debug, Clone, Copy)]
pub struct Scope<'a> {
    /// Reports created up to this time count; open, overdue and stages are as of it.
    pub as_of: DateTime<Utc>,
    /// The windows.
    pub windows: &'a [Window],
    /// Resolutions of the cell table.
    pub h3_res: &'a [h3o::Resolution],
}

/// Computes the three tables from the geocoded reports.
///
/// `history_lens` holds the number of status changes of each report (its `history` may be left
/// unread). `parcels` and `sectors` give the features that get a row even without reports, with their
/// areas (and the sectors' population).
///
/// # Errors
/// Polars errors.
pub fn compute(
    reports: &[Report],
    history_lens: &[u32],
    parcels: Option<&ParcelLayer>,
    sectors: Option<&SectorLayer>,
    scope: Scope<'_>,
    cfg: &IndexConfig,
) -> PolarsResult<(IndexTables, FactCounts)> {
    let Scope {
        as_of,
        windows,
        h3_res,
    } = scope;
    let t0 = std::time::Instant::now();
    let (facts, report_table, fact_counts) =
        facts::facts_frame(reports, history_lens, as_of, cfg, h3_res)?;
    // Parcels and sectors are grouped by their position in the layer (an integer key, cheaper
    // than the id strings), and given their ids, areas and populations back at the end.
    let parcel_ids: Vec<&str> = parcels.map_or(Vec::new(), |p| {
        p.parcels.iter().map(|x| x.id.as_str()).collect()
    });
    let sector_ids: Vec<&str> = sectors.map_or(Vec::new(), |s| {
        s.sectors.iter().map(|x| x.id.as_str()).collect()
    });
    let facts = with_index(facts, "parcel_id", "pidx", &parcel_ids)?;
    let facts = with_index(facts, "sector_id", "sidx", &sector_ids)?;

    let as_of_ms = as_of.timestamp_millis();
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
    tracing::info!(
        seconds = t0.elapsed().as_secs_f64(),
        "indices: facts and recurrence"
    );
    let quantile_parts = quantile_frames(&facts, windows, as_of_ms, h3_res)?;
    tracing::info!(seconds = t0.elapsed().as_secs_f64(), "indices: quantiles");
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
    let mut quantile_parts = quantile_parts.into_iter();
    let mut next_quantiles = || {
        quantile_parts
            .next()
            .ok_or_else(|| polars_err!(ComputeError: "quantile tables out of step"))
    };
    for w in windows {
        let (cur, prev) = match w.days {
            Some(days) => {
                let len = i64::from(days) * 86_400_000;
                let cur = facts.clone().filter(col("created").gt(lit(as_of_ms - len)));
                let prev = facts.clone().filter(
                    col("created")
                        .gt(lit(as_of_ms - 2 * len))
                        .and(col("created").lt_eq(lit(as_of_ms - len))),
                );
                (cur, Some(prev))
            }
            None => (facts.clone(), None),
        };
        for dim in DIMENSIONS {
            let (q, pr) = (next_quantiles()?, prev.as_ref());
            let mut p = by_group(&cur, pr, q, &parcel_group, &w.label, dim);
            let mut s = by_group(&cur, pr, next_quantiles()?, &sector_group, &w.label, dim);
            if dim == "all" {
                // Every parcel and sector gets a row, with zeros when it had no reports; the
                // row without a feature (reports with no parcel or sector) is kept.
                p = complete(p, "pidx", parcel_ids.len(), &w.label)?;
                s = complete(s, "sidx", sector_ids.len(), &w.label)?;
            }
            parcel_parts.push(p);
            sector_parts.push(s);
            for g in &cell_groups {
                let q = next_quantiles()?;
                cell_parts.push(by_group(&cur, prev.as_ref(), q, g, &w.label, dim));
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
        order.extend(AGGREGATED.map(col));
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
        "area_km2" => parcels.map_or(Vec::new(), |p| p.parcels.iter().map(|x| x.area_m2 / 1e6).collect::<Vec<_>>()),
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
    tracing::info!(seconds = t0.elapsed().as_secs_f64(), "indices: aggregated");
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
    tracing::info!(seconds = t0.elapsed().as_secs_f64(), "indices: finished");
    Ok((
        IndexTables {
            parcels: parcels_df,
            sectors: sectors_df,
            h3: cells_df,
            reports: report_table,
        },
        fact_counts,
    ))
}

/// The quantile tables [`by_group`] joins, in the order it takes them: per window, per
/// dimension, parcels, sectors, then the cells of each resolution. Each level and dimension is
/// grouped once (in parallel) and cut by every window.
fn quantile_frames(
    facts: &DataFrame,
    windows: &[Window],
    as_of_ms: i64,
    h3_res: &[h3o::Resolution],
) -> PolarsResult<Vec<LazyFrame>> {
    use rayon::prelude::*;
    let created = facts.column("created")?.i64()?;
    let metric = |m: usize| -> PolarsResult<&Float64Chunked> {
        facts.column(quantiles::METRICS[m].0)?.f64()
    };
    let (m0, m1, m2) = (metric(0)?, metric(1)?, metric(2)?);
    let nan = |v: Option<f64>| v.unwrap_or(f64::NAN);
    let rows: Vec<quantiles::RowValues> = created
        .iter()
        .zip(m0.iter().zip(m1.iter()).zip(m2.iter()))
        .map(|(c, ((a, b), d))| (c.unwrap_or(i64::MIN), [nan(a), nan(b), nan(d)]))
        .collect();
    let index = |name: &str| -> PolarsResult<Vec<Option<u64>>> {
        Ok(facts
            .column(name)?
            .u32()?
            .iter()
            .map(|v| v.map(u64::from))
            .collect())
    };
    // (key column in the group-by, wide key, the keys)
    let mut levels = vec![
        ("pidx", false, index("pidx")?),
        ("sidx", false, index("sidx")?),
    ];
    for r in h3_res {
        let cells = facts.column(&format!("h3_{}", u8::from(*r)))?.u64()?;
        levels.push(("cell", true, cells.iter().collect()));
    }
    // Dimension values as codes, with their names.
    let coded = |name: &str| -> PolarsResult<(Vec<Option<u32>>, Vec<String>)> {
        let mut names: Vec<String> = Vec::new();
        let mut lookup: HashMap<&str, u32> = HashMap::new();
        let col = facts.column(name)?.str()?;
        let codes = col
            .iter()
            .map(|v| {
                v.map(|v| {
                    *lookup.entry(v).or_insert_with(|| {
                        names.push(v.to_owned());
                        names.len() as u32 - 1
                    })
                })
            })
            .collect();
        Ok((codes, names))
    };
    let dims = [None, Some(coded("category")?), Some(coded("department")?)];
    let tasks: Vec<(usize, usize)> = (0..DIMENSIONS.len())
        .flat_map(|d| (0..levels.len()).map(move |l| (d, l)))
        .collect();
    let after: Vec<Option<i64>> = windows
        .iter()
        .map(|w| w.days.map(|d| as_of_ms - i64::from(d) * 86_400_000))
        .collect();
    let mut done: Vec<((usize, usize), Vec<DataFrame>)> = tasks
        .par_iter()
        .map(|&(d, l)| {
            let (key, wide, keys) = &levels[l];
            let dim = dims[d].as_ref();
            let grouped = quantiles::Grouped::new(&rows, keys, dim.map(|(c, _)| c.as_slice()));
            let frames = after
                .iter()
                .map(|a| {
                    let rows = grouped.quantiles(*a);
                    quantiles::frame(rows, key, *wide, dim.map(|(_, n)| n.as_slice()))
                })
                .collect::<PolarsResult<Vec<_>>>()?;
            Ok(((d, l), frames))
        })
        .collect::<PolarsResult<_>>()?;
    done.sort_by_key(|(t, _)| *t);
    // Reordered to window, then dimension, then level.
    let mut out = Vec::with_capacity(windows.len() * tasks.len());
    for w in 0..windows.len() {
        for (_, frames) in &done {
            out.push(frames[w].clone().lazy());
        }
    }
    Ok(out)
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

/// Gives every feature `0..n` of `key` a row (zeros) in an `all` aggregation, keeping the row
/// of reports without a feature.
fn complete(agg: LazyFrame, key: &str, n: usize, window: &str) -> PolarsResult<LazyFrame> {
    let ids = df!(key => (0..n as u32).collect::<Vec<_>>())?.lazy();
    let full = ids
        .join(
            agg.clone(),
            [col(key)],
            [col(key)],
            JoinArgs::new(JoinType::Left),
        )
        .with_columns([
            lit(window.to_owned()).alias("window"),
            lit("all").alias("dimension"),
        ]);
    let none = agg.filter(col(key).is_null());
    concat([full, none], UnionArgs::default())
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
    let w = &cfg.weights;
    let total = w.density + w.backlog + w.overdue + w.late + w.recurrence + w.trend;
    let frac = |a: u32, b: u32| {
        if b > 0 {
            f64::from(a) / f64::from(b)
        } else {
            0.0
        }
    };
    let values: Vec<Option<f64>> = (0..n)
        .map(|i| {
            if !eligible[i] {
                return None;
            }
            let s = w.density * percentile[i]
                + w.backlog * frac(open[i], received[i])
                + w.overdue * frac(overdue[i], open[i])
                + w.late
                    * (1.0 - frac(on_time[i], answered[i]).min(1.0))
                    * f64::from(u8::from(answered[i] > 0))
                + w.recurrence * frac(recurrent[i], received[i])
                + w.trend * trend[i].map_or(0.0, |t| (t - 1.0).clamp(0.0, 1.0));
            Some((1000.0 * s / total).round() / 10.0)
        })
        .collect();
    df.with_column(Series::new("attention".into(), values).into_column())?;
    Ok(df)
}
