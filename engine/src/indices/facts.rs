//! One row per report with everything the indices aggregate: its state at the as-of time,
//! its times in hours and business days, its deadline verdict and its stage.

use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;
use polars::prelude::*;
use rayon::prelude::*;

use crate::report::columns::ReportColumns;
use crate::report::{Status, StatusType};

use super::aggregate::{flag, Row};
use super::config::IndexConfig;
use super::fact::*;
use super::keys::{keys_of, Keys};
use super::report_table::*;
use super::stage::*;

/// Counts of what the facts left out or could not place.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FactCounts {
    /// Reports created up to the as-of time.
    pub used: usize,
    /// Reports created after it (left out).
    pub after_as_of: usize,
    /// Closed before they were created: counted, excluded from times and compliance.
    pub closed_before_created: usize,
    /// Reports used without a parcel (counted in the parcel table's row without an id).
    pub without_parcel: usize,
    /// Reports used without a sector.
    pub without_sector: usize,
    /// Reports used without a location, hence without a cell.
    pub without_cell: usize,
}

/// Each row's 1-based code of a dimension (0: none), and the values coded.
pub(super) type Coded = (Vec<u32>, Vec<String>);

/// The reports of the indices, ready to aggregate: one [`Row`] per report created up to the
/// as-of time, in order of creation, with its groups as 1-based codes (0: none).
pub(super) struct Facts {
    /// The rows, in order of creation (ties in the reports' order).
    pub rows: Vec<Row>,
    /// Each row's groups, in the same order.
    pub keys: Keys,
    /// One row per report: deadline, verdict, stage and times (`indices-reports.parquet`).
    pub report_table: DataFrame,
    /// What was left out.
    pub counts: FactCounts,
}

/// The reports created up to `as_of`: their positions in `reports`.
fn used_of(reports: &ReportColumns, as_of: DateTime<Utc>) -> Vec<u32> {
    let as_of_ms = as_of.timestamp_millis();
    (0..reports.len() as u32)
        .filter(|&i| reports.created_ms()[i as usize] <= as_of_ms)
        .collect()
}

/// The facts of the reports `used`, and the counts of what was left out.
fn facts_of(
    reports: &ReportColumns,
    used: &[u32],
    as_of: DateTime<Utc>,
    cfg: &IndexConfig,
) -> (Vec<Fact>, FactCounts) {
    // The as-of day of the zone last met, found again only when the zone changes.
    let day = |tz: Tz| local(as_of, tz).date();
    let facts: Vec<Fact> = used
        .par_iter()
        .map_init(
            || (Zones::default(), None::<(Tz, NaiveDate)>),
            |(zones, as_of_day), &i| {
                let i = i as usize;
                let tz = zones.get(reports.source_tz(i));
                let today = match *as_of_day {
                    Some((zone, today)) if zone == tz => today,
                    _ => as_of_day.insert((tz, day(tz))).1,
                };
                let n = reports.history_len(i) as usize;
                fact_at(&reports.times(i), n, (tz, as_of, today), cfg)
            },
        )
        .collect();
    let count = |f: &dyn Fn(usize) -> bool| used.iter().filter(|&&i| f(i as usize)).count();
    let counts = FactCounts {
        used: used.len(),
        after_as_of: reports.len() - used.len(),
        closed_before_created: count(&|i| reports.closed_before_created(i)),
        without_parcel: count(&|i| reports.parcel_id(i).is_none()),
        without_sector: count(&|i| reports.sector_id(i).is_none()),
        without_cell: count(&|i| !reports.location(i).has_point()),
    };
    (facts, counts)
}

/// The facts of the reports created up to `as_of`, their parcels and sectors coded by their
/// position in `parcel_ids` and `sector_ids` (a report whose parcel is not there has none),
/// their cells at each of `h3_res` (the stored cell's parent when it is as fine, else from the
/// point); with what `beside` made of the reports and their facts, once these were found,
/// beside the per-report table and the keys.
///
/// # Errors
/// Polars errors building the per-report table.
pub(super) fn facts<R: Send>(
    reports: &ReportColumns,
    as_of: DateTime<Utc>,
    cfg: &IndexConfig,
    (h3_res, parcel_ids, sector_ids): (&[h3o::Resolution], &[&str], &[&str]),
    beside: impl FnOnce(&Found<'_>) -> R + Send,
) -> PolarsResult<(Facts, R)> {
    let started = std::time::Instant::now();
    let phase = |what: &str| {
        tracing::debug!(seconds = started.elapsed().as_secs_f64(), "facts: {what}");
    };
    let used = used_of(reports, as_of);
    let created: Vec<i64> = used
        .iter()
        .map(|&i| reports.created_ms()[i as usize])
        .collect();
    // The facts (then the per-report table) and the rows' keys side by side: the keys do not
    // need the facts, and each of them has a part that runs on one core (a hash map built, a
    // sort, a coding loop) while the other side keeps the cores busy.
    let ((facts, counts, table, beside), keys) = rayon::join(
        || {
            let (facts, counts) = facts_of(reports, &used, as_of, cfg);
            phase("facts");
            let found = Found {
                reports,
                used: &used,
                facts: &facts,
            };
            let (table, beside) = rayon::join(
                || report_table(reports, &used, &created, &facts),
                || beside(&found),
            );
            phase("report table");
            (facts, counts, table, beside)
        },
        || {
            let keys = keys_of(reports, &used, &created, h3_res, parcel_ids, sector_ids);
            phase("keys");
            keys
        },
    );
    let report_table = table?;
    let (order, keys) = keys;
    let rows: Vec<Row> = used
        .par_iter()
        .zip(facts.par_iter())
        .zip(created.par_iter())
        .map(|((&i, x), &created)| {
            let i = i as usize;
            row_of(x, reports.status(i), reports.status_type(i), created)
        })
        .collect();
    drop(facts);
    // In order of creation.
    let mut rows: Vec<Row> = order.par_iter().map(|&i| rows[i]).collect();
    let keys = keys.permuted(&order);
    mark_recurrent(
        &mut rows,
        &keys.parcel,
        &keys.category.0,
        keys.category.1.len(),
        cfg.recurrence_days,
    );
    phase("rows");
    let facts = Facts {
        rows,
        keys,
        report_table,
        counts,
    };
    Ok((facts, beside))
}

/// The reports whose facts were found, for what is computed beside the indices from them
/// ([`super::compute_into`]'s `beside`).
pub struct Found<'a> {
    reports: &'a ReportColumns,
    /// The reports created up to the as-of time (positions in `reports`, in order).
    used: &'a [u32],
    /// Their facts, in the same order.
    facts: &'a [Fact],
}

impl Found<'_> {
    /// The monthly series of the reports, months of `zone`, as [`super::series::monthly`]
    /// finds them, each report's deadline verdict taken from its fact.
    ///
    /// # Errors
    /// [`crate::Error::Indices`] when the table cannot be built.
    pub fn monthly_series(
        &self,
        as_of: DateTime<Utc>,
        zone: chrono_tz::Tz,
    ) -> crate::error::Result<crate::table::Table> {
        super::series::monthly_of_facts(self.reports, self.used, self.facts, as_of, zone)
    }
}

/// The aggregation row of a report's fact: its flags, times, age, stage and bucket.
fn row_of(x: &Fact, status: Status, status_type: StatusType, created: i64) -> Row {
    let closed_as = |s: &[Status]| x.closed && s.contains(&status);
    let flags = [
        (!x.closed, flag::OPEN),
        (closed_as(&[Status::Resolved]), flag::RESOLVED),
        (
            closed_as(&[Status::Rejected, Status::Duplicate]),
            flag::REJECTED_DUPLICATE,
        ),
        (
            closed_as(&[Status::Resolved]) && status_type == StatusType::ClosedNotFixed,
            flag::NOT_FIXED,
        ),
        (x.on_time.is_some(), flag::ANSWERED),
        (x.on_time == Some(true), flag::ON_TIME),
        (x.reopened.is_some(), flag::HISTORY),
        (x.reopened == Some(true), flag::REOPENED),
    ]
    .iter()
    .filter(|(on, _)| *on)
    .fold(0, |a, (_, f)| a | f);
    let nan = |v: Option<f64>| v.unwrap_or(f64::NAN);
    Row {
        created,
        metrics: [nan(x.res_h), nan(x.res_bd), nan(x.ack_h)],
        age_bd: x.age_bd.unwrap_or(i64::MIN),
        flags,
        stage: x.stage.map_or(0, |s| s as u8),
        past_due: x.past_due.map_or(0, past_due_bucket),
    }
}

/// Recurrence: a report of a category on a parcel within `recurrence_days` after the one before
/// it. The rows (in order of creation) of each parcel and category, in order of creation (a
/// stable radix sort), each against the one before.
fn mark_recurrent(
    rows: &mut [Row],
    parcel: &[u32],
    category: &[u32],
    categories: usize,
    recurrence_days: u32,
) {
    let within = i64::from(recurrence_days) * 86_400_000;
    let width = categories as u64 + 1;
    let on_parcels: Vec<(u64, u32)> = (0..rows.len())
        .filter(|&at| parcel[at] > 0)
        .map(|at| {
            let group = u64::from(parcel[at]) * width + u64::from(category[at]);
            (group, at as u32)
        })
        .collect();
    let on_parcels = crate::radix::sort_by_key(on_parcels, |o| o.0);
    for pair in on_parcels.windows(2) {
        let [(g0, a), (g1, b)] = [pair[0], pair[1]];
        if g0 == g1 && rows[b as usize].created - rows[a as usize].created <= within {
            rows[b as usize].flags |= flag::RECURRENT;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::cells::{cell_at, cells_of};
    use super::*;
    use crate::calendar::Calendar;
    use crate::report::Report;

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s)
            .expect("time")
            .with_timezone(&Utc)
    }

    fn report(created: &str, closed: Option<&str>) -> Report {
        let mut r = Report::new(
            "1",
            "csv",
            if closed.is_some() {
                Status::Resolved
            } else {
                Status::Open
            },
            "x",
            utc(created),
        );
        r.closed_at = closed.map(utc);
        r.source_tz = "America/Costa_Rica".into();
        r
    }

    fn cfg() -> IndexConfig {
        let mut c = IndexConfig::new();
        // Jueves y Viernes Santo 2025.
        c.calendar = Calendar::new([
            NaiveDate::from_ymd_opt(2025, 4, 17).expect("date"),
            NaiveDate::from_ymd_opt(2025, 4, 18).expect("date"),
        ]);
        c
    }

    #[test]
    fn stages_are_listed_in_the_order_of_their_codes() {
        // The per-report table names a stage by its code as a place in Stage::ALL.
        for (i, s) in Stage::ALL.iter().enumerate() {
            assert_eq!(*s as usize, i + 1, "{}", s.as_str());
        }
    }

    #[test]
    fn dates_are_written_as_chrono_writes_them() {
        let dates = [
            NaiveDate::from_ymd_opt(2025, 1, 9),
            None,
            NaiveDate::from_ymd_opt(987, 12, 31),
            NaiveDate::from_ymd_opt(12_345, 6, 7),
            NaiveDate::from_ymd_opt(-44, 3, 15),
            NaiveDate::from_ymd_opt(987, 12, 31),
            None,
            NaiveDate::from_ymd_opt(2025, 1, 9),
        ];
        let column = iso_dates("d", dates.iter().copied()).expect("dates");
        assert_eq!(column.name().as_str(), "d");
        let written: Vec<Option<String>> = column
            .str()
            .expect("text")
            .iter()
            .map(|s| s.map(str::to_owned))
            .collect();
        let chrono: Vec<Option<String>> = dates.iter().map(|d| d.map(|d| d.to_string())).collect();
        assert_eq!(written, chrono);
        assert_eq!(written[0].as_deref(), Some("2025-01-09"));
    }

    #[test]
    fn local_day_decides_the_deadline() {
        let tz: Tz = "America/Costa_Rica".parse().expect("tz");
        // Friday 7 March 2025, 23:30 in San José is Saturday 05:30 UTC: the local Friday counts,
        // so the 10th business day is Friday 21 March.
        let r = report("2025-03-08T05:30:00Z", Some("2025-03-22T05:59:00Z"));
        let f = fact(&r, r.history.len(), tz, utc("2025-06-01T00:00:00Z"), &cfg());
        assert_eq!(f.due, NaiveDate::from_ymd_opt(2025, 3, 21));
        // Closed 21 March 23:59 local: on time. One minute later it is late.
        assert_eq!(f.on_time, Some(true));
        let late = report("2025-03-08T05:30:00Z", Some("2025-03-22T06:00:00Z"));
        assert_eq!(
            fact(
                &late,
                late.history.len(),
                tz,
                utc("2025-06-01T00:00:00Z"),
                &cfg()
            )
            .on_time,
            Some(false)
        );
        // Read in UTC it was made on a Saturday, which is due with the Friday before. A report
        // made on Sunday 23:30 local (Monday in UTC) is due a business day earlier locally.
        let f = fact(
            &r,
            r.history.len(),
            Tz::UTC,
            utc("2025-06-01T00:00:00Z"),
            &cfg(),
        );
        assert_eq!(f.due, NaiveDate::from_ymd_opt(2025, 3, 21));
        let monday = report("2025-03-10T05:30:00Z", None);
        let f = fact(
            &monday,
            monday.history.len(),
            Tz::UTC,
            utc("2025-03-10T06:00:00Z"),
            &cfg(),
        );
        assert_eq!(f.due, NaiveDate::from_ymd_opt(2025, 3, 24));
        let f = fact(
            &monday,
            monday.history.len(),
            tz,
            utc("2025-03-10T06:00:00Z"),
            &cfg(),
        );
        assert_eq!(f.due, NaiveDate::from_ymd_opt(2025, 3, 21));
    }

    #[test]
    fn open_reports_are_staged_and_bucketed_in_business_days() {
        let tz: Tz = "America/Costa_Rica".parse().expect("tz");
        // Received Wednesday 9 April 2025; Holy Thursday and Friday are holidays.
        let r = report("2025-04-09T15:00:00Z", None);
        let at = |d: &str| {
            fact(
                &r,
                r.history.len(),
                tz,
                utc(&format!("{d}T18:00:00Z")),
                &cfg(),
            )
        };
        // 10, 11, 14, 15, 16 April: five business days old, still on time.
        assert_eq!(at("2025-04-16").age_bd, Some(5));
        assert_eq!(at("2025-04-16").stage, Some(Stage::OnTime));
        assert_eq!(at("2025-04-15").stage, Some(Stage::OnTime));
        assert_eq!(at("2025-04-21").age_bd, Some(6));
        assert_eq!(at("2025-04-21").stage, Some(Stage::Warning));
        assert_eq!(at("2025-04-23").stage, Some(Stage::Alert));
        assert_eq!(at("2025-04-25").stage, Some(Stage::Alert)); // day 10: still due today
        assert_eq!(at("2025-04-25").due, NaiveDate::from_ymd_opt(2025, 4, 25));
        let overdue = at("2025-04-28");
        assert_eq!(
            (overdue.stage, overdue.past_due),
            (Some(Stage::Overdue), Some(1))
        );
        // 28–30 April, 1–2 and 5–7 May: 8 business days past due; by 12 May, 11.
        assert_eq!(at("2025-05-07").past_due, Some(8));
        assert_eq!(past_due_bucket(8), 2);
        assert_eq!(at("2025-05-12").past_due, Some(11));
        assert_eq!(past_due_bucket(11), 3);
        assert_eq!(at("2025-06-30").past_due.map(past_due_bucket), Some(4));
    }

    #[test]
    fn closed_before_created_is_excluded_from_times() {
        let tz = Tz::UTC;
        let r = report("2025-03-10T10:00:00Z", Some("2025-03-09T10:00:00Z"));
        let f = fact(&r, r.history.len(), tz, utc("2025-06-01T00:00:00Z"), &cfg());
        assert!(f.closed);
        assert_eq!((f.res_h, f.res_bd, f.on_time), (None, None, Some(true)));
        // Closed after the as-of time: still open then.
        let r = report("2025-03-10T10:00:00Z", Some("2025-03-12T10:00:00Z"));
        let f = fact(&r, r.history.len(), tz, utc("2025-03-11T00:00:00Z"), &cfg());
        assert!(!f.closed);
        assert_eq!(f.stage, Some(Stage::OnTime));
        let f = fact(&r, r.history.len(), tz, utc("2025-03-13T00:00:00Z"), &cfg());
        assert_eq!(f.res_h, Some(48.0));
        assert_eq!(f.res_bd, Some(2.0));
    }

    #[test]
    fn cells_from_points_in_spatial_order_equal_h3o() {
        // Dense clusters (a few hundred metres, as a town's reports) at Montevideo, Seoul, by the
        // antimeridian, at a pentagon and at 79.9° N, in a scrambled order; a third without a
        // stored cell, a few not located or with an unusable point. Every cell at every
        // resolution must be h3o's own.
        let pentagon = crate::geocoder::pentagon_centre();
        let places = [
            (-56.16, -34.90),
            (127.08, 37.51),
            (179.998, -16.5),
            (pentagon.lng(), pentagon.lat()),
            (20.0, 79.9),
        ];
        let n = 30_000usize;
        let reports: Vec<Report> = (0..n)
            .map(|k| {
                let i = k * 7919 % n;
                let mut r = Report::new(
                    format!("r{i}"),
                    "test",
                    Status::Open,
                    "x",
                    utc("2025-03-01T12:00:00Z"),
                );
                let (lon0, lat0) = places[i % places.len()];
                let (u, v) = (
                    (i as f64 * 0.618_033_988_7).fract(),
                    (i as f64 * 0.414_213_562_4).fract(),
                );
                let (lon, lat) = (lon0 + (u - 0.5) * 0.008, lat0 + (v - 0.5) * 0.006);
                if i.is_multiple_of(97) {
                    r.location = crate::report::Location::Missing;
                    return r;
                }
                r.location = crate::report::Location::Located;
                r.lon = Some(if i.is_multiple_of(89) { f64::NAN } else { lon });
                r.lat = Some(lat);
                if !i.is_multiple_of(3) {
                    if let Ok(ll) = h3o::LatLng::new(lat, lon) {
                        r.h3 = Some(ll.to_cell(h3o::Resolution::Nine).into());
                    }
                }
                r
            })
            .collect();
        let columns = ReportColumns::from_reports(&reports, &[]).expect("columns");
        let used: Vec<u32> = (0..n as u32).collect();
        for res in [7u8, 9, 10, 11, 13] {
            let res = h3o::Resolution::try_from(res).expect("res");
            let cells = cells_of(&columns, &used, res);
            for (r, cell) in reports.iter().zip(&cells) {
                assert_eq!(
                    cell_at(r, res).unwrap_or(0),
                    *cell,
                    "res {res}, report {} at {:?},{:?}",
                    r.id,
                    r.lon,
                    r.lat
                );
            }
            assert!(
                cells.iter().filter(|c| **c != 0).count() > n * 9 / 10,
                "res {res}"
            );
        }
    }
}
