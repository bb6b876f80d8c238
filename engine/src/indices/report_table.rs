//! The per-report table (`indices-reports.parquet`): each report's deadline, verdict, stage
//! and times, with its text columns coded.

use chrono::NaiveDate;
use polars::prelude::*;

use crate::report::columns::{ReportColumns, Text};
use crate::report::Status;

use super::fact::Fact;
use super::stage::Stage;

/// A named column from a vector of values.
pub(super) fn column<T, P: ?Sized>(name: &str, values: Vec<T>) -> Column
where
    Series: NamedFrom<Vec<T>, P>,
{
    Series::new(name.into(), values).into_column()
}

/// One row per report: its deadline, verdict, stage and times (no personal data), for
/// auditors and for checking against a source's own verdicts. `used` are the reports' positions,
/// `created` their creation times and `facts` their facts.
pub(super) fn report_table(
    reports: &ReportColumns,
    used: &[u32],
    created: &[i64],
    facts: &[Fact],
) -> PolarsResult<DataFrame> {
    let n = used.len();
    // All of them, in order (the usual case): the columns as they were read.
    let rows = (n < reports.len()).then_some(used);
    let mut columns = Vec::with_capacity(18);
    for which in [
        Text::Id,
        Text::Category,
        Text::Department,
        Text::Parcel,
        Text::Sector,
    ] {
        columns.push(reports.text_column(which, rows)?);
    }
    columns.push(
        column("created_at", created.to_vec()).cast(&DataType::Datetime(
            TimeUnit::Milliseconds,
            Some(TimeZone::UTC),
        ))?,
    );
    let statuses: Vec<&str> = Status::ALL.iter().map(|s| s.as_str()).collect();
    let stages: Vec<&str> = Stage::ALL.iter().map(|s| s.as_str()).collect();
    columns.extend([
        coded_text(
            "status",
            &statuses,
            used.iter()
                .map(|&i| {
                    let status = reports.status(i as usize);
                    Status::ALL
                        .iter()
                        .position(|s| *s == status)
                        .map_or(0, |p| p + 1)
                })
                .collect(),
        )?,
        column("closed", facts.iter().map(|f| f.closed).collect::<Vec<_>>()),
        iso_dates("due_date", facts.iter().map(|f| f.due))?,
        coded_text(
            "deadline_from",
            &["source", "rule"],
            used.iter()
                .zip(facts)
                .map(
                    |(&i, f)| match (reports.has_source_deadline(i as usize), f.due) {
                        (true, _) => 1,
                        (false, Some(_)) => 2,
                        (false, None) => 0,
                    },
                )
                .collect(),
        )?,
        column(
            "on_time",
            facts.iter().map(|f| f.on_time).collect::<Vec<_>>(),
        ),
        coded_text(
            "stage",
            &stages,
            facts
                .iter()
                .map(|f| f.stage.map_or(0, |s| s as usize))
                .collect(),
        )?,
        column("age_bd", facts.iter().map(|f| f.age_bd).collect::<Vec<_>>()),
        column(
            "past_due_bd",
            facts.iter().map(|f| f.past_due).collect::<Vec<_>>(),
        ),
        column(
            super::schema::REPORT_RESOLUTION_H,
            facts.iter().map(|f| f.res_h).collect::<Vec<_>>(),
        ),
        column(
            super::schema::REPORT_RESOLUTION_BD,
            facts.iter().map(|f| f.res_bd).collect::<Vec<_>>(),
        ),
        column(
            super::schema::REPORT_ACK_H,
            facts.iter().map(|f| f.ack_h).collect::<Vec<_>>(),
        ),
    ]);
    DataFrame::new(n, columns)
}

/// A text column of few values: each row's value is `values[code - 1]` (code 0: missing),
/// its string view copied from a column of the values rather than each string pushed again
/// (and no validity mask when none is missing). Equal values then have equal views, which the
/// Parquet writer makes a dictionary of without hashing a string.
///
/// # Errors
/// A code past the values.
pub(super) fn coded_text(name: &str, values: &[&str], codes: Vec<usize>) -> PolarsResult<Column> {
    use super::frames::{by_key, gather};
    let codes: Vec<IdxSize> = codes.into_iter().map(|c| c as IdxSize).collect();
    gather(
        &by_key(name, values.iter().copied()),
        &IdxCa::from_vec(PlSmallStr::EMPTY, codes),
    )
}

/// A text column of dates as chrono writes them (`YYYY-MM-DD`): each date written once
/// ([`coded_text`]; a million reports have their deadlines on a few hundred days).
///
/// # Errors
/// Polars errors gathering the column.
pub(super) fn iso_dates(
    name: &str,
    dates: impl ExactSizeIterator<Item = Option<NaiveDate>>,
) -> PolarsResult<Column> {
    let mut seen: PlHashMap<NaiveDate, usize> = PlHashMap::default();
    let mut written: Vec<String> = Vec::new();
    let codes: Vec<usize> = dates
        .map(|d| {
            d.map_or(0, |d| {
                *seen.entry(d).or_insert_with(|| {
                    written.push(d.to_string());
                    written.len()
                })
            })
        })
        .collect();
    let values: Vec<&str> = written.iter().map(String::as_str).collect();
    coded_text(name, &values, codes)
}
