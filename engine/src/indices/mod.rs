//! Indices per parcel, sector and H3 cell ("índices municipales por predio"), computed over
//! the geocoded reports in one sorted pass per level (`aggregate.rs`) into Polars tables, and
//! checked in the tests against the same indices as Polars lazy queries (`reference.rs`).
//!
//! Every table is long: one row per feature (parcel, sector or cell), time window and
//! dimension (`all`, or one `category` or `department` value), ordered by dimension, then window
//! (the cells by resolution first). Each table is handed on ([`TableSink`]) frame by frame as
//! they are made (a parcel frame per dimension and window, a frame per sector or cell task),
//! each made ready (encoded, for `predio compute`) by the task that made it, so that the new
//! version's tables are written without ever being held whole. A window `30d` holds the reports
//! created in the 30 days up to the as-of time; `all` holds every report up to it. Open,
//! overdue and stages are as of that time. Every parcel and every sector has a row per window
//! for `all`, with zeros when it had no reports; the reports that have no parcel (or no sector,
//! or no cell) are counted in a row whose key is empty, never dropped.

mod aggregate;
mod attention;
mod cells;
pub mod config;
pub(crate) mod export;
mod fact;
mod facts;
mod framer;
mod frames;
mod keys;
mod quantiles;
#[cfg(test)]
mod reference;
mod report_table;
pub mod schema;
mod selection;
pub mod series;
mod sink;
mod sorted;
mod stage;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use polars::prelude::*;
use serde::{Deserialize, Serialize};

use crate::model::{ParcelKey, SectorLayer};
use crate::report::columns::ReportColumns;
#[cfg(test)]
use crate::report::Report;

pub use config::{ConfigSource, IndexConfig, Rule, Weights};
pub use export::{cell_polygon, export_indices};
pub use fact::{fact, Fact};
pub use facts::{FactCounts, Found};
use framer::Framer;
pub use selection::{select, Dimension, Selection};
pub use sink::TableSink;
use sink::{InOrder, Stacked};
pub use stage::Stage;

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

/// What to compute: the as-of time, the windows and the H3 resolutions.
#[derive(Debug, Clone, Copy)]
pub struct Scope<'a> {
    /// Reports created up to this time count; open, overdue and stages are as of it.
    pub as_of: DateTime<Utc>,
    /// The windows.
    pub windows: &'a [Window],
    /// Resolutions of the cell table.
    pub h3_res: &'a [h3o::Resolution],
    /// The catalog's time zone: a window of N days starts N local days before the as-of time
    /// (the same wall-clock time; a day of a daylight-saving change is 23 or 25 hours).
    pub zone: chrono_tz::Tz,
}

/// The instant `days` local days before `at` in `zone`: the same wall-clock time that many
/// calendar days earlier (the start of a window of `days` days ending at `at`). A wall-clock
/// time the clock skipped resolves to the instant after the gap; one it repeated, to the first.
#[must_use]
pub fn days_before(at: DateTime<Utc>, days: u32, zone: chrono_tz::Tz) -> DateTime<Utc> {
    use chrono::TimeZone as _;
    let local = at.with_timezone(&zone).naive_local() - chrono::Days::new(u64::from(days));
    match zone.from_local_datetime(&local) {
        chrono::LocalResult::Single(t) | chrono::LocalResult::Ambiguous(t, _) => {
            t.with_timezone(&Utc)
        }
        // In a gap (clocks moved forward): the wall time after it, an hour on.
        chrono::LocalResult::None => zone
            .from_local_datetime(&(local + chrono::Duration::hours(1)))
            .earliest()
            .map_or(at - chrono::Duration::days(i64::from(days)), |t| {
                t.with_timezone(&Utc)
            }),
    }
}

/// The end of a local day in `zone`: the first instant of the next day (`--as-of 2025-12-31`
/// is 2025-12-31 24:00 local).
#[must_use]
pub fn end_of_local_day(day: chrono::NaiveDate, zone: chrono_tz::Tz) -> DateTime<Utc> {
    use chrono::TimeZone as _;
    let next = day
        .succ_opt()
        .unwrap_or(day)
        .and_time(chrono::NaiveTime::MIN);
    zone.from_local_datetime(&next)
        .earliest()
        .or_else(|| {
            zone.from_local_datetime(&(next + chrono::Duration::hours(1)))
                .earliest()
        })
        .map_or_else(|| next.and_utc(), |t| t.with_timezone(&Utc))
}

/// Computes the four tables from the geocoded reports, held whole (see [`compute_into`]).
///
/// # Errors
/// Polars errors.
pub fn compute(
    reports: ReportColumns,
    parcels: Option<&[ParcelKey]>,
    sectors: Option<&SectorLayer>,
    scope: Scope<'_>,
    cfg: &IndexConfig,
) -> PolarsResult<(IndexTables, FactCounts)> {
    let stacked = Stacked::default();
    let (counts, ()) = compute_into(reports, parcels, sectors, scope, cfg, &stacked, |_| ())?;
    let [parcels, sectors, h3, reports] = stacked
        .0
        .into_inner()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .map(Option::unwrap_or_default);
    Ok((
        IndexTables {
            parcels,
            sectors,
            h3,
            reports,
        },
        counts,
    ))
}

/// Computes the tables from the geocoded reports into `sink`, each level's table frame by
/// frame as they are made: the per-report table first, then each level's by dimension (then
/// window; the cells by resolution first).
///
/// `parcels` and `sectors` give the features that get a row even without reports, with their
/// areas (and the sectors' population). `beside` runs on the reports and their facts, once
/// they are found, beside the rest (the monthly series, for `predio compute`), and its result
/// is handed back with the counts of what was left out.
///
/// # Errors
/// Polars errors, and the sink's.
pub fn compute_into<R: Send, S: TableSink>(
    reports: ReportColumns,
    parcels: Option<&[ParcelKey]>,
    sectors: Option<&SectorLayer>,
    scope: Scope<'_>,
    cfg: &IndexConfig,
    sink: &S,
    beside: impl FnOnce(&Found<'_>) -> R + Send,
) -> PolarsResult<(FactCounts, R)> {
    use aggregate::{Cut, Sorted};
    use rayon::prelude::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    let Scope {
        as_of,
        windows,
        h3_res,
        zone,
    } = scope;
    let t0 = std::time::Instant::now();
    let parcel_ids: Vec<&str> =
        parcels.map_or(Vec::new(), |p| p.iter().map(|x| x.id.as_str()).collect());
    let sector_ids: Vec<&str> = sectors.map_or(Vec::new(), |s| {
        s.sectors.iter().map(|x| x.id.as_str()).collect()
    });
    let out = InOrder::new(sink);
    let keys = (h3_res, &parcel_ids[..], &sector_ids[..]);
    let (mut facts, beside) = facts::facts(&reports, as_of, cfg, keys, beside)?;
    // What the tables keep of the reports' columns, the per-report table shares; the rest goes
    // now, for the aggregates to reuse.
    drop(reports);
    tracing::debug!(seconds = t0.elapsed().as_secs_f64(), "indices: facts");

    let (dims, coded, values) = dimensions(&facts.keys.category, &facts.keys.department);
    // The parcels' rows are sorted once for the tasks of their dimensions.
    let (levels, parcel_rows) = rayon::join(
        || {
            level_features(
                (parcels, &parcel_ids, &facts.keys.parcel),
                (sectors, &sector_ids, &facts.keys.sector),
                (h3_res, &facts.keys.cells),
            )
        },
        || Sorted::new(&facts.rows, &facts.keys.parcel, &coded),
    );
    tracing::debug!(seconds = t0.elapsed().as_secs_f64(), "indices: features");

    let cuts = Cut::of_windows(windows, as_of, zone);
    // A task per level with all its dimensions in one pass, but the parcels' dimensions apart:
    // a pass costs mostly its groups there (a few reports each), and apart they run side by
    // side. The tasks are taken in this order, the longest first (the parcels', then the cells'
    // from the finest), so that the last to end is a short one; each then passes on a frame
    // per dimension and window, in parallel too, as it is made.
    let tasks: Vec<(usize, Vec<usize>)> = (0..dims.len())
        .map(|d| (0, vec![d]))
        .chain(
            (1..levels.len())
                .rev()
                .map(|l| (l, (0..dims.len()).collect())),
        )
        .collect();
    let taken = AtomicUsize::new(0);
    let framer = Framer {
        windows,
        dims,
        values: &values,
        cfg,
        out: &out,
    };
    let aggregated = || {
        (0..tasks.len())
            .into_par_iter()
            .with_max_len(1)
            .try_for_each(|_| {
                // Whichever task of the loop this is, it takes the next in the order above.
                let (l, ds) = &tasks[taken.fetch_add(1, Ordering::Relaxed)];
                let (features, keys, n) = &levels[*l];
                let t = std::time::Instant::now();
                let sorted_here;
                let sorted = if *l == 0 {
                    &parcel_rows
                } else {
                    sorted_here = Sorted::new(&facts.rows, keys, &coded);
                    &sorted_here
                };
                let parts = aggregate::aggregate_sorted(sorted, ds, *n, &cuts);
                let pass = t.elapsed().as_secs_f64();
                framer.pass(*l, features, ds, parts)?;
                tracing::debug!(
                    level = l,
                    pass,
                    frames = t.elapsed().as_secs_f64() - pass,
                    "indices: level"
                );
                PolarsResult::Ok(())
            })
    };
    // The per-report table is passed on while the levels are aggregated.
    let report_table = std::mem::take(&mut facts.report_table);
    let (reported, aggregated) =
        rayon::join(|| out.put(Level::Report, 0, report_table), aggregated);
    reported?;
    aggregated?;
    if h3_res.is_empty() {
        // No H3 resolution asked for: an empty cell table with the columns of one.
        let empty = empty_cell_table(cfg)?;
        out.put(Level::H3, 0, empty)?;
    }
    if out.left() > 0 {
        polars_bail!(ComputeError: "indices: {} frames never passed on", out.left());
    }
    tracing::debug!(seconds = t0.elapsed().as_secs_f64(), "indices: aggregated");
    Ok((facts.counts, beside))
}

/// The dimensions' names, each report's value code in each (none for `all`), and the names of
/// their values.
type Dimensions<'a> = (
    [&'static str; 3],
    [Option<&'a [u32]>; 3],
    Vec<StringChunked>,
);

/// The dimensions (`all`, `category`, `department`) with each report's value code (none for
/// `all`) and the names of their values.
fn dimensions<'a>(category: &'a facts::Coded, department: &'a facts::Coded) -> Dimensions<'a> {
    let coded: [Option<&facts::Coded>; 3] = [None, Some(category), Some(department)];
    let values = coded
        .iter()
        .map(|c| {
            frames::by_key(
                "value",
                c.iter().flat_map(|c| c.1.iter().map(String::as_str)),
            )
        })
        .collect();
    (
        ["all", "category", "department"],
        coded.map(|c| c.map(|c| c.0.as_slice())),
        values,
    )
}

/// A level's features, its reports' feature codes, and its number of features when every
/// feature gets a row (parcels and sectors; cells only where they have reports).
type LevelFeatures<'a> = (frames::Features, &'a [u32], Option<u32>);

/// A polygon level as [`level_features`] takes it: its layer, its ids, its reports' codes.
type PolygonLevel<'l, 'a, L> = (Option<L>, &'l [&'l str], &'a [u32]);

/// The cell levels as [`level_features`] takes them: the resolutions and, per resolution, the
/// reports' cell codes and the cells.
type CellLevels<'l, 'a> = (&'l [h3o::Resolution], &'a [(Vec<u32>, Vec<u64>)]);

/// The features of each level: parcels, sectors, then the cells of each resolution.
/// Each level comes with its reports' codes ([`facts::Facts`]' `parcel`, `sector`, `cells`).
fn level_features<'a>(
    (parcels, parcel_ids, parcel_codes): PolygonLevel<'_, 'a, &[ParcelKey]>,
    (sectors, sector_ids, sector_codes): PolygonLevel<'_, 'a, &SectorLayer>,
    (h3_res, cells): CellLevels<'_, 'a>,
) -> Vec<LevelFeatures<'a>> {
    use frames::{by_key, Features};
    use rayon::prelude::*;

    let cell_names: Vec<StringChunked> = cells
        .par_iter()
        .map(|(_, cells)| {
            let names: Vec<String> = cells
                .iter()
                .map(|c| {
                    h3o::CellIndex::try_from(*c)
                        .map_or_else(|_| format!("{c:x}"), |c| c.to_string())
                })
                .collect();
            by_key("cell", names.iter().map(String::as_str))
        })
        .collect();
    let mut levels: Vec<LevelFeatures<'a>> = vec![
        (
            Features {
                names: vec![by_key("parcel_id", parcel_ids.iter().copied())],
                area_km2: parcels
                    .map_or(Vec::new(), |p| p.iter().map(|x| x.area_m2 / 1e6).collect()),
                population: None,
                res: None,
            },
            parcel_codes,
            Some(parcel_ids.len() as u32),
        ),
        (
            Features {
                names: vec![
                    by_key("sector_id", sector_ids.iter().copied()),
                    by_key(
                        "name",
                        sectors
                            .iter()
                            .flat_map(|s| s.sectors.iter().map(|x| x.name.as_str())),
                    ),
                ],
                area_km2: sectors.map_or(Vec::new(), |s| {
                    s.sectors.iter().map(|x| x.area_m2 / 1e6).collect()
                }),
                population: Some(sectors.map_or(Vec::new(), |s| {
                    s.sectors.iter().map(|x| x.population).collect()
                })),
                res: None,
            },
            sector_codes,
            Some(sector_ids.len() as u32),
        ),
    ];
    for ((res, (codes, cells)), names) in h3_res.iter().zip(cells).zip(&cell_names) {
        levels.push((
            Features {
                names: vec![names.clone()],
                // Each cell's own area: H3 cells vary in area.
                area_km2: cells
                    .par_iter()
                    .map(|c| h3o::CellIndex::try_from(*c).map_or(f64::NAN, |c| c.area_km2()))
                    .collect(),
                population: None,
                res: Some(i32::from(u8::from(*res))),
            },
            codes,
            None,
        ));
    }
    levels
}

/// The cell table when no H3 resolution is asked for: no rows, the columns of one.
fn empty_cell_table(cfg: &IndexConfig) -> PolarsResult<DataFrame> {
    use frames::{by_key, Features, Place};
    frames::frame(
        aggregate::Part::default(),
        &Features {
            names: vec![by_key("cell", std::iter::empty())],
            area_km2: Vec::new(),
            population: None,
            res: Some(0),
        },
        &Place {
            window: "all",
            dimension: "all",
            values: &by_key("value", std::iter::empty()),
        },
        cfg.min_reports,
        &cfg.weights,
    )
}
