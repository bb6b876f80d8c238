//! Monthly series per sector and for the whole city: what an auditor's trend
//! chart and a planner's "is it getting better here" need, computed by `predio compute` beside
//! the indices and stored as one table (`series.parquet`).
//!
//! Each row is one feature (`level` `city` or `sector`, and its `id`; the city's is empty), one dimension value (`all`, or one `category` or `department`) and one month
//! (`2025-03`, a month of the catalog's time zone), with:
//! - `received`: reports created in the month;
//! - `closed`: reports closed in the month, by their closing time (a report closed without
//!   one is in no month's `closed`, and never open: the indices read it closed from the start);
//! - `answered`, `answered_on_time`: those of them with a deadline verdict, and on time;
//! - `open_end`, `overdue_end`: reports open, and open past their deadline, at the month's
//!   last instant — for the as-of month, at the as-of time, so that its point equals the
//!   indices' `open` and `overdue` of window `all`.
//!
//! A report counts as the indices count it at each of those instants (the same closing and
//! deadline rules as [`super::fact`]). Rows where every count is zero are left out.

use polars::prelude::PlHashMap;

use chrono::{DateTime, Datelike, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;
use rayon::prelude::*;

use crate::error::Result;
use crate::report::columns::{ReportColumns, Text};
use crate::table::{Table, Values};

use super::config::IndexConfig;
use super::fact::{local, verdict, Zones};
use super::facts::Coded;

/// The file of the monthly series in a catalog version.
pub const SERIES_FILE: &str = "series.parquet";

/// The counts of one row, in the order of [`COUNTS`].
pub type Counts = [u32; 6];

/// The count columns, in their order.
pub const COUNTS: [&str; 6] = [
    "received",
    "closed",
    "answered",
    "answered_on_time",
    "open_end",
    "overdue_end",
];

/// A series' key: level (2 bits), dimension (2 bits), feature code (30 bits: 0 for the city,
/// else the sector's code) and value code (0 for `all`).
type Key = u64;

fn key(level: usize, dim: usize, feature: u32, value: u32) -> Key {
    ((level as u64) << 62) | ((dim as u64) << 60) | (u64::from(feature) << 30) | u64::from(value)
}

/// Each series' months, from the first month on.
type Rows = PlHashMap<Key, Vec<Counts>>;

/// The reports' sectors, categories and departments as 1-based codes (0: none), with the
/// names.
struct Codes {
    sector: Coded,
    category: Coded,
    department: Coded,
}

const LEVELS: [&str; 2] = ["city", "sector"];
const DIMENSIONS: [&str; 3] = ["all", "category", "department"];

/// A month as months since year 0.
fn month_of(t: DateTime<Utc>, zone: Tz) -> i32 {
    let d = local(t, zone).date();
    d.year() * 12 + d.month0() as i32
}

/// The month's label, `YYYY-MM`.
pub fn month_label(month: i32) -> String {
    format!(
        "{:04}-{:02}",
        month.div_euclid(12),
        month.rem_euclid(12) + 1
    )
}

/// The month's last instant in `zone` (a millisecond before the next month starts).
fn month_end(month: i32, zone: Tz) -> DateTime<Utc> {
    let next = month + 1;
    let first = NaiveDate::from_ymd_opt(next.div_euclid(12), next.rem_euclid(12) as u32 + 1, 1)
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .expect("a month's first day");
    let start = zone
        .from_local_datetime(&first)
        .earliest()
        // midnight skipped by a clock change: the hour after
        .or_else(|| {
            zone.from_local_datetime(&(first + chrono::Duration::hours(1)))
                .earliest()
        })
        .map_or_else(|| first.and_utc(), |t| t.with_timezone(&Utc));
    start - chrono::Duration::milliseconds(1)
}

/// The monthly series of `reports` created up to `as_of`, months of `zone`, each report's
/// deadline verdict found from the report alone. `predio compute` takes the verdicts from the
/// facts it has found ([`super::Found::monthly_series`]); this is what that is checked against.
///
/// # Errors
/// [`crate::Error::Indices`] when the table cannot be built.
pub fn monthly(
    reports: &ReportColumns,
    as_of: DateTime<Utc>,
    zone: Tz,
    cfg: &IndexConfig,
) -> Result<Table> {
    let as_of_ms = as_of.timestamp_millis();
    let span = Span::of(reports, as_of, zone);
    let first = span.first;
    let ((sector, category), department) = rayon::join(
        || {
            rayon::join(
                || reports.codes(Text::Sector, 0..reports.len()),
                || reports.codes(Text::Category, 0..reports.len()),
            )
        },
        || reports.codes(Text::Department, 0..reports.len()),
    );
    let coded = Codes {
        sector,
        category,
        department,
    };
    // Each report's months are added once, to its group (sector, category and department);
    // each group's months then to the six series it belongs to.
    let groups: ByGroup = (0..reports.len())
        .into_par_iter()
        // pieces of many reports: each piece's groups are summed into the others'
        .with_min_len(1 << 15)
        .filter(|&i| reports.created_ms()[i] <= as_of_ms)
        .fold(
            || (Zones::default(), ByGroup::default(), Vec::new()),
            |(mut zones, mut groups, mut counts), i| {
                let tz = zones.get(reports.source_tz(i));
                contributions(reports, i, tz, &span, cfg, &mut counts);
                let group = [
                    coded.sector.0[i],
                    coded.category.0[i],
                    coded.department.0[i],
                ];
                add(&mut groups, group, &counts, &span);
                (zones, groups, counts)
            },
        )
        .map(|(_, groups, _)| groups)
        .reduce(ByGroup::default, larger_first);
    table(series_of(groups), first, &coded)
}

/// [`monthly`] of the reports `used` (their positions in `reports`: those created up to
/// `as_of`, in order) from their `facts`, as `predio compute` finds them: each report's
/// deadline verdict is its fact's, not found again, and the end of each deadline day is found
/// once per day and zone.
///
/// # Errors
/// [`crate::Error::Indices`] when the table cannot be built.
pub(super) fn monthly_of_facts(
    reports: &ReportColumns,
    used: &[u32],
    facts: &[super::fact::Fact],
    as_of: DateTime<Utc>,
    zone: Tz,
) -> Result<Table> {
    let span = Span::of(reports, as_of, zone);
    let first = span.first;
    let rows = || used.iter().map(|&i| i as usize);
    let ((sector, category), department) = rayon::join(
        || {
            rayon::join(
                || reports.codes(Text::Sector, rows()),
                || reports.codes(Text::Category, rows()),
            )
        },
        || reports.codes(Text::Department, rows()),
    );
    let coded = Codes {
        sector,
        category,
        department,
    };
    type DayEnds = PlHashMap<(Tz, NaiveDate), Option<DateTime<Utc>>>;
    let groups: ByGroup = (0..used.len())
        .into_par_iter()
        .with_min_len(1 << 15)
        .fold(
            || {
                (
                    Zones::default(),
                    DayEnds::default(),
                    ByGroup::default(),
                    Vec::new(),
                )
            },
            |(mut zones, mut ends, mut groups, mut counts), k| {
                let (i, fact) = (used[k] as usize, &facts[k]);
                let (created, closed_at, deadline_at) = reports.created_closed_due(i);
                // A deadline of the source's own wins over the rule's day.
                let due_end = match (deadline_at, fact.due) {
                    (None, Some(due)) => {
                        let tz = zones.get(reports.source_tz(i));
                        *ends.entry((tz, due)).or_insert_with(|| day_end(due, tz))
                    }
                    _ => None,
                };
                let closing = Closing {
                    created,
                    closed_at,
                    deadline_at,
                    closed: fact.closed,
                    on_time: fact.on_time,
                    due_end,
                };
                closing.contributions(&span, &mut counts);
                let group = [
                    coded.sector.0[k],
                    coded.category.0[k],
                    coded.department.0[k],
                ];
                add(&mut groups, group, &counts, &span);
                (zones, ends, groups, counts)
            },
        )
        .map(|(_, _, groups, _)| groups)
        .reduce(ByGroup::default, larger_first);
    table(series_of(groups), first, &coded)
}

/// Adds a report's `counts` (month, count) to its group's months.
fn add(groups: &mut ByGroup, group: [u32; 3], counts: &[(i32, usize)], span: &Span) {
    let months = groups
        .entry(group)
        .or_insert_with(|| vec![[0; 6]; span.months()]);
    for &(month, what) in counts {
        months[(month - span.first) as usize][what] += 1;
    }
}

/// The sum of two partial tables, the smaller added into the larger.
fn larger_first(a: ByGroup, b: ByGroup) -> ByGroup {
    if a.len() < b.len() {
        merge(b, a)
    } else {
        merge(a, b)
    }
}

/// The months of each group: the reports of one sector, category and department (codes, 0:
/// none).
type ByGroup = PlHashMap<[u32; 3], Vec<Counts>>;

/// The series of the groups' months: each group's added to the city's and its sector's
/// series, all and by its category and its department.
fn series_of(groups: ByGroup) -> Rows {
    let mut rows = Rows::default();
    for ([sector, category, department], months) in groups {
        let values = [0, category, department];
        for (level, feature) in [(0, 0), (1, sector)] {
            if level > 0 && feature == 0 {
                continue;
            }
            for (dim, &value) in values.iter().enumerate() {
                if dim > 0 && value == 0 {
                    continue;
                }
                let series = rows
                    .entry(key(level, dim, feature, value))
                    .or_insert_with(|| vec![[0; 6]; months.len()]);
                for (a, b) in series.iter_mut().zip(&months) {
                    for (x, y) in a.iter_mut().zip(b) {
                        *x += y;
                    }
                }
            }
        }
    }
    rows
}

/// One month's counts of a series, in the order of [`COUNTS`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Month {
    /// `YYYY-MM`.
    pub month: String,
    /// Received, closed, answered, answered on time, open and overdue at its end.
    pub counts: Counts,
}

/// The monthly series of the reports at `rows` (an area's, a filter's), every month from the
/// first report of all `reports` to the as-of month, zeros included — the months of the
/// stored series, so a chart's axis is the same.
pub fn monthly_for(
    reports: &ReportColumns,
    rows: &[usize],
    as_of: DateTime<Utc>,
    zone: Tz,
    cfg: &IndexConfig,
) -> Vec<Month> {
    let span = Span::of(reports, as_of, zone);
    let mut months = vec![[0u32; 6]; span.months()];
    let (mut zones, mut counts) = (Zones::default(), Vec::new());
    let as_of_ms = as_of.timestamp_millis();
    for &i in rows {
        if reports.created_ms()[i] > as_of_ms {
            continue;
        }
        let tz = zones.get(reports.source_tz(i));
        contributions(reports, i, tz, &span, cfg, &mut counts);
        for &(m, what) in &counts {
            months[(m - span.first) as usize][what] += 1;
        }
    }
    months
        .into_iter()
        .enumerate()
        .map(|(m, counts)| Month {
            month: month_label(span.first + m as i32),
            counts,
        })
        .collect()
}

/// The months a series covers, and where its last point is taken.
struct Span {
    first: i32,
    last: i32,
    as_of: DateTime<Utc>,
    /// The first instant (UTC ms) of each month from `first` to `last + 1`.
    starts: Vec<i64>,
}

impl Span {
    /// The months of `reports` created up to `as_of` (their first to the as-of month).
    fn of(reports: &ReportColumns, as_of: DateTime<Utc>, zone: Tz) -> Span {
        let as_of_ms = as_of.timestamp_millis();
        // an as-of time at midnight (`--as-of 2025-12-31` is the end of that day) closes its month
        let last = month_of(as_of - chrono::Duration::milliseconds(1), zone);
        let first = reports
            .created_ms()
            .iter()
            .filter(|&&c| c <= as_of_ms)
            .min()
            .and_then(|&c| DateTime::from_timestamp_millis(c))
            .map_or(last, |c| month_of(c, zone).min(last));
        // each month's first instant, and the one after the last: a report's month is found among
        // them without a time-zone conversion
        let starts: Vec<i64> = (first..=last + 1)
            .map(|m| month_end(m - 1, zone).timestamp_millis() + 1)
            .collect();
        Span {
            first,
            last,
            as_of,
            starts,
        }
    }

    /// The number of months, the first to the last.
    fn months(&self) -> usize {
        (self.last - self.first + 1).max(0) as usize
    }

    /// The month of `t` (those before the first or after the last: the first or the last).
    fn month(&self, t: DateTime<Utc>) -> i32 {
        let after = self.starts.partition_point(|&s| s <= t.timestamp_millis());
        self.first + (after.max(1) as i32 - 1).min(self.last - self.first)
    }

    /// The month's last instant.
    fn end(&self, month: i32) -> DateTime<Utc> {
        let next = self.starts[(month - self.first + 1) as usize];
        DateTime::from_timestamp_millis(next - 1).unwrap_or(self.as_of)
    }
}

/// The sum of two partial tables.
fn merge<K: std::hash::Hash + Eq>(
    mut into: PlHashMap<K, Vec<Counts>>,
    from: PlHashMap<K, Vec<Counts>>,
) -> PlHashMap<K, Vec<Counts>> {
    for (k, v) in from {
        if let Some(a) = into.get_mut(&k) {
            for (a, b) in a.iter_mut().zip(v) {
                for (x, y) in a.iter_mut().zip(b) {
                    *x += y;
                }
            }
        } else {
            into.insert(k, v);
        }
    }
    into
}

/// What report `i` adds, as (month, count) pairs, into `counts` (cleared first).
fn contributions(
    reports: &ReportColumns,
    i: usize,
    tz: Tz,
    span: &Span,
    cfg: &IndexConfig,
    counts: &mut Vec<(i32, usize)>,
) {
    let times = reports.times(i);
    let f = verdict(&times, tz, span.as_of, cfg);
    let closing = Closing {
        created: times.created_at,
        closed_at: times.closed_at,
        deadline_at: times.deadline_at,
        closed: f.closed,
        on_time: f.on_time,
        due_end: f.due.and_then(|d| day_end(d, tz)),
    };
    closing.contributions(span, counts);
}

/// A report's times and deadline verdict: what its months count.
struct Closing {
    created: DateTime<Utc>,
    closed_at: Option<DateTime<Utc>>,
    deadline_at: Option<DateTime<Utc>>,
    /// Closed at the as-of time.
    closed: bool,
    on_time: Option<bool>,
    /// The first instant after its rule's deadline day.
    due_end: Option<DateTime<Utc>>,
}

/// The first instant of the local day after `due` in `tz`: a rule's deadline is the end of its
/// local day, overdue from the next day's first instant.
fn day_end(due: NaiveDate, tz: Tz) -> Option<DateTime<Utc>> {
    let midnight = due.succ_opt()?.and_hms_opt(0, 0, 0).expect("midnight");
    Some(
        tz.from_local_datetime(&midnight)
            .earliest()
            .map_or_else(|| midnight.and_utc(), |t| t.with_timezone(&Utc)),
    )
}

impl Closing {
    /// What the report adds, as (month, count) pairs, into `counts` (cleared first).
    fn contributions(&self, span: &Span, counts: &mut Vec<(i32, usize)>) {
        counts.clear();
        let (last, as_of) = (span.last, span.as_of);
        let created = self.created;
        // closed at the as-of time: when (a report closed without a time, from its creation)
        let closed_at = self
            .closed
            .then(|| self.closed_at.map_or(created, |c| c.max(created)));
        let month = |t: DateTime<Utc>| span.month(t);
        counts.push((month(created), 0));
        if let (true, Some(c)) = (self.closed, self.closed_at) {
            let m = month(c.max(created));
            counts.push((m, 1));
            if let Some(on_time) = self.on_time {
                counts.push((m, 2));
                if on_time {
                    counts.push((m, 3));
                }
            }
        }
        let mut m = month(created);
        while m <= last {
            let at = if m == last { as_of } else { span.end(m) };
            if closed_at.is_some_and(|c| c <= at) {
                break;
            }
            counts.push((m, 4));
            let overdue = match (self.deadline_at, self.due_end) {
                (Some(d), _) => at > d,
                (None, Some(end)) => at >= end,
                (None, None) => false,
            };
            if overdue {
                counts.push((m, 5));
            }
            m += 1;
        }
    }
}

/// A series by name: level, feature id, dimension, value.
type Named = (usize, String, usize, String);

/// The rows in order of level, id, dimension, value and month; months with no count left out.
fn table(rows: Rows, first: i32, coded: &Codes) -> Result<Table> {
    let name = |names: &Coded, code: u32| -> String {
        code.checked_sub(1)
            .and_then(|c| names.1.get(c as usize))
            .cloned()
            .unwrap_or_default()
    };
    // (level, id, dimension, value) of each series, and its months
    let mut series: Vec<(Named, Vec<Counts>)> = rows
        .into_iter()
        .map(|(k, months)| {
            let level = (k >> 62) as usize;
            let dim = ((k >> 60) & 3) as usize;
            let feature = ((k >> 30) & ((1 << 30) - 1)) as u32;
            let value = (k & ((1 << 30) - 1)) as u32;
            let values = [&coded.category, &coded.category, &coded.department];
            (
                (
                    level,
                    name(&coded.sector, feature),
                    dim,
                    name(values[dim], value),
                ),
                months,
            )
        })
        .collect();
    series.sort_unstable_by(|a, b| a.0.cmp(&b.0));
    let rows: Vec<(&Named, i32, &Counts)> = series
        .iter()
        .flat_map(|(k, months)| {
            months
                .iter()
                .enumerate()
                .filter(|(_, c)| c.iter().any(|n| *n > 0))
                .map(move |(m, c)| (k, first + m as i32, c))
        })
        .collect();
    let text = |f: &dyn Fn(&Named, i32) -> String| -> Values {
        Values::Texts(rows.iter().map(|(k, m, _)| Some(f(k, *m))).collect())
    };
    let mut columns = vec![
        ("level".to_owned(), text(&|k, _| LEVELS[k.0].to_owned())),
        ("id".to_owned(), text(&|k, _| k.1.clone())),
        (
            "dimension".to_owned(),
            text(&|k, _| DIMENSIONS[k.2].to_owned()),
        ),
        ("value".to_owned(), text(&|k, _| k.3.clone())),
        ("month".to_owned(), text(&|_, m| month_label(m))),
    ];
    for (at, name) in COUNTS.iter().enumerate() {
        columns.push((
            (*name).to_owned(),
            Values::Integers(
                rows.iter()
                    .map(|(_, _, c)| Some(i64::from(c[at])))
                    .collect(),
            ),
        ));
    }
    Table::from_columns(columns)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn months_and_their_ends_follow_the_zone() {
        let zone: Tz = "America/Costa_Rica".parse().expect("zone");
        // 2025-03-31 23:30 in Costa Rica is 2025-04-01 05:30 UTC: still March there
        let t = Utc.with_ymd_and_hms(2025, 4, 1, 5, 30, 0).unwrap();
        assert_eq!(month_label(month_of(t, zone)), "2025-03");
        let end = month_end(month_of(t, zone), zone);
        assert_eq!(
            end,
            Utc.with_ymd_and_hms(2025, 4, 1, 5, 59, 59).unwrap()
                + chrono::Duration::milliseconds(999)
        );
        assert_eq!(month_label(2025 * 12 + 11), "2025-12");
    }
}
