//! What the indices read of the reports, as columns: straight from `reports.parquet` for
//! `predio compute` and `predio audit`, or from [`Report`]s.
//!
//! A million reports read into [`Report`]s took twice as long as decoding their Parquet file,
//! and a gigabyte: a dozen strings allocated per report, read once by the indices and freed.
//! Here the columns stay Polars arrays (the strings in their buffers), read by position.

use chrono::{DateTime, Utc};
use polars::prelude::*;
use polars_arrow::array::{Array, PrimitiveArray, Utf8ViewArray};
use rayon::prelude::*;

use crate::report::{Location, Report, Status, StatusType};

/// The columns of `reports.parquet` the indices read.
pub(crate) const INDEX_COLUMNS: [&str; 17] = [
    "id",
    "category",
    "department",
    "status",
    "status_type",
    "created_at",
    "acknowledged_at",
    "closed_at",
    "reopened_at",
    "deadline_at",
    "source_tz",
    "lon",
    "lat",
    "location",
    "parcel_id",
    "sector_id",
    "h3",
];

/// The reports' fields the indices use, one column each, in the reports' order, with the
/// number of status changes of each report.
#[derive(Debug, Clone)]
pub struct ReportColumns {
    id: Utf8ViewArray,
    category: Utf8ViewArray,
    department: Utf8ViewArray,
    parcel_id: Utf8ViewArray,
    sector_id: Utf8ViewArray,
    source_tz: Utf8ViewArray,
    status: Vec<Status>,
    status_type: Vec<StatusType>,
    location: Vec<Location>,
    /// UTC milliseconds.
    created: Vec<i64>,
    acknowledged: PrimitiveArray<i64>,
    closed: PrimitiveArray<i64>,
    reopened: PrimitiveArray<i64>,
    deadline: PrimitiveArray<i64>,
    lon: PrimitiveArray<f64>,
    lat: PrimitiveArray<f64>,
    h3: PrimitiveArray<u64>,
    history_lens: Vec<u32>,
}

/// The times of a report as the indices' `fact` reads them, with its status and
/// category.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Times<'a> {
    pub status: Status,
    pub category: Option<&'a str>,
    pub created_at: DateTime<Utc>,
    pub acknowledged_at: Option<DateTime<Utc>>,
    pub closed_at: Option<DateTime<Utc>>,
    pub reopened_at: Option<DateTime<Utc>>,
    pub deadline_at: Option<DateTime<Utc>>,
}

impl<'a> Times<'a> {
    /// The times of `r`.
    pub fn of(r: &'a Report) -> Times<'a> {
        Times {
            status: r.status,
            category: r.category.as_deref(),
            created_at: r.created_at,
            acknowledged_at: r.acknowledged_at,
            closed_at: r.closed_at,
            reopened_at: r.reopened_at,
            deadline_at: r.deadline_at,
        }
    }
}

fn utc(ms: Option<i64>) -> Option<DateTime<Utc>> {
    ms.and_then(DateTime::from_timestamp_millis)
}

fn column<'a>(df: &'a DataFrame, name: &str) -> PolarsResult<&'a Series> {
    Ok(df.column(name)?.as_materialized_series())
}

fn text(df: &DataFrame, name: &str) -> PolarsResult<Utf8ViewArray> {
    Ok(column(df, name)?
        .str()?
        .rechunk()
        .downcast_as_array()
        .clone())
}

fn numbers<T: PolarsNumericType>(
    df: &DataFrame,
    name: &str,
    dtype: &DataType,
) -> PolarsResult<PrimitiveArray<T::Native>> {
    let s = column(df, name)?.cast(dtype)?;
    let ca: &ChunkedArray<T> = s.as_ref().as_ref();
    Ok(ca.rechunk().downcast_as_array().clone())
}

/// Each row's `T`, parsed from the column's text (null as empty).
fn parsed<T: std::str::FromStr<Err = String> + Send>(
    df: &DataFrame,
    name: &str,
) -> PolarsResult<Vec<T>> {
    let values = text(df, name)?;
    (0..values.len())
        .into_par_iter()
        .map(|i| {
            values
                .get(i)
                .unwrap_or_default()
                .parse()
                .map_err(|e| polars_err!(ComputeError: "column {name}, row {}: {e}", i + 1))
        })
        .collect()
}

impl ReportColumns {
    /// The columns of a frame with predio's report schema (at least the columns the indices
    /// read; times as UTC datetimes or milliseconds), with the number of status changes of each
    /// report (missing ones count 0).
    ///
    /// # Errors
    /// A missing column, one of another type, or a status, status type or location that is not
    /// one of predio's (naming the column and row).
    pub fn from_frame(df: &DataFrame, mut history_lens: Vec<u32>) -> PolarsResult<ReportColumns> {
        let n = df.height();
        history_lens.resize(n, 0);
        let ms = |name: &str| numbers::<Int64Type>(df, name, &DataType::Int64);
        let created = ms("created_at")?;
        if created.null_count() > 0 {
            polars_bail!(ComputeError: "column created_at: {} reports without a time", created.null_count());
        }
        Ok(ReportColumns {
            id: text(df, "id")?,
            category: text(df, "category")?,
            department: text(df, "department")?,
            parcel_id: text(df, "parcel_id")?,
            sector_id: text(df, "sector_id")?,
            source_tz: text(df, "source_tz")?,
            status: parsed(df, "status")?,
            status_type: parsed(df, "status_type")?,
            location: parsed(df, "location")?,
            created: created.values().as_slice().to_vec(),
            acknowledged: ms("acknowledged_at")?,
            closed: ms("closed_at")?,
            reopened: ms("reopened_at")?,
            deadline: ms("deadline_at")?,
            lon: numbers::<Float64Type>(df, "lon", &DataType::Float64)?,
            lat: numbers::<Float64Type>(df, "lat", &DataType::Float64)?,
            h3: numbers::<UInt64Type>(df, "h3", &DataType::UInt64)?,
            history_lens,
        })
    }

    /// The same columns with these numbers of status changes (missing ones count 0).
    pub(crate) fn with_history_lens(mut self, mut history_lens: Vec<u32>) -> ReportColumns {
        history_lens.resize(self.len(), 0);
        self.history_lens = history_lens;
        self
    }

    /// The columns of `reports`, with the number of status changes of each (missing ones
    /// count 0).
    ///
    /// # Errors
    /// Polars errors building the columns.
    pub fn from_reports(reports: &[Report], history_lens: &[u32]) -> PolarsResult<ReportColumns> {
        let df = crate::report::frame::reports_frame(reports)?;
        ReportColumns::from_frame(&df, history_lens.to_vec())
    }

    /// Number of reports.
    pub fn len(&self) -> usize {
        self.created.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.created.is_empty()
    }

    /// Creation times, UTC milliseconds.
    pub fn created_ms(&self) -> &[i64] {
        &self.created
    }

    /// Report `i`'s id.
    pub fn id(&self, i: usize) -> &str {
        self.id.get(i).unwrap_or_default()
    }

    /// Report `i`'s category.
    pub fn category(&self, i: usize) -> Option<&str> {
        self.category.get(i)
    }

    /// Report `i`'s department.
    pub fn department(&self, i: usize) -> Option<&str> {
        self.department.get(i)
    }

    /// Report `i`'s parcel.
    pub fn parcel_id(&self, i: usize) -> Option<&str> {
        self.parcel_id.get(i)
    }

    /// Report `i`'s sector.
    pub fn sector_id(&self, i: usize) -> Option<&str> {
        self.sector_id.get(i)
    }

    /// Report `i`'s time zone (IANA name; empty when none).
    pub fn source_tz(&self, i: usize) -> &str {
        self.source_tz.get(i).unwrap_or_default()
    }

    /// Report `i`'s status.
    pub fn status(&self, i: usize) -> Status {
        self.status[i]
    }

    /// Report `i`'s status type.
    pub fn status_type(&self, i: usize) -> StatusType {
        self.status_type[i]
    }

    /// Report `i`'s location kind.
    pub fn location(&self, i: usize) -> Location {
        self.location[i]
    }

    /// Report `i`'s point (longitude, latitude), when it has both.
    pub fn lon_lat(&self, i: usize) -> Option<(f64, f64)> {
        self.lon.get(i).zip(self.lat.get(i))
    }

    /// Report `i`'s stored H3 cell.
    pub fn h3(&self, i: usize) -> Option<u64> {
        self.h3.get(i)
    }

    /// Report `i`'s number of status changes.
    pub fn history_len(&self, i: usize) -> u32 {
        self.history_lens[i]
    }

    /// Report `i`'s status, category and times.
    pub(crate) fn times(&self, i: usize) -> Times<'_> {
        Times {
            status: self.status[i],
            category: self.category.get(i),
            created_at: utc(Some(self.created[i])).unwrap_or_default(),
            acknowledged_at: utc(self.acknowledged.get(i)),
            closed_at: utc(self.closed.get(i)),
            reopened_at: utc(self.reopened.get(i)),
            deadline_at: utc(self.deadline.get(i)),
        }
    }

    /// Report `i`'s creation, closing and deadline times: what the monthly series read of it
    /// beside its fact.
    pub(crate) fn created_closed_due(
        &self,
        i: usize,
    ) -> (DateTime<Utc>, Option<DateTime<Utc>>, Option<DateTime<Utc>>) {
        (
            utc(Some(self.created[i])).unwrap_or_default(),
            utc(self.closed.get(i)),
            utc(self.deadline.get(i)),
        )
    }

    /// Whether report `i` was closed before it was created.
    pub fn closed_before_created(&self, i: usize) -> bool {
        self.closed.get(i).is_some_and(|c| c < self.created[i])
    }

    /// Whether report `i` has a deadline of its source's own.
    pub fn has_source_deadline(&self, i: usize) -> bool {
        self.deadline.is_valid(i)
    }

    /// A text column of the reports at `rows` (all, in order, when `None`), named as in
    /// `reports.parquet`.
    ///
    /// # Errors
    /// A row out of bounds.
    pub(crate) fn text_column(&self, which: Text, rows: Option<&[u32]>) -> PolarsResult<Column> {
        let (name, array) = self.text(which);
        let all = StringChunked::with_chunk(name.into(), array.clone());
        let taken = match rows {
            None => all,
            Some(rows) => all.take(rows)?,
        };
        Ok(taken.into_series().into_column())
    }
}

impl ReportColumns {
    /// The name and the array of a text column.
    fn text(&self, which: Text) -> (&'static str, &Utf8ViewArray) {
        match which {
            Text::Id => ("id", &self.id),
            Text::Category => ("category", &self.category),
            Text::Department => ("department", &self.department),
            Text::Parcel => ("parcel_id", &self.parcel_id),
            Text::Sector => ("sector_id", &self.sector_id),
        }
    }

    /// The values of text column `which` at `rows` as 1-based codes in order of first
    /// appearance (0: none), with the values (each once).
    ///
    /// A column read from a dictionary-encoded Parquet column (a category, a department, a
    /// sector) repeats the same few string views, each pointing at its value's one copy: a
    /// row's view is looked up first, and a string compared only the first time its view is
    /// met. Equal strings under different views (a column written PLAIN) still get one code.
    pub(crate) fn codes(
        &self,
        which: Text,
        rows: impl Iterator<Item = usize>,
    ) -> (Vec<u32>, Vec<String>) {
        let array = self.text(which).1;
        let views = array.views();
        let validity = array.validity();
        let mut names: Vec<String> = Vec::new();
        let mut by_name: PlHashMap<&str, u32> = PlHashMap::new();
        let mut by_view: PlHashMap<u128, u32> = PlHashMap::new();
        let codes = rows
            .map(|i| {
                if validity.is_some_and(|v| !v.get_bit(i)) {
                    return 0;
                }
                let view = views[i].as_u128();
                if let Some(code) = by_view.get(&view) {
                    return *code;
                }
                let value = array.value(i);
                let code = *by_name.entry(value).or_insert_with(|| {
                    names.push(value.to_owned());
                    names.len() as u32
                });
                by_view.insert(view, code);
                code
            })
            .collect();
        (codes, names)
    }
}

/// The text columns [`ReportColumns::text_column`] and [`ReportColumns::codes`] give.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Text {
    Id,
    Category,
    Department,
    Parcel,
    Sector,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 1-based codes of `values` in order of first appearance, with the values: the oracle of
    /// [`ReportColumns::codes`].
    fn first_appearance<'a>(
        values: impl Iterator<Item = Option<&'a str>>,
    ) -> (Vec<u32>, Vec<String>) {
        let mut names: Vec<String> = Vec::new();
        let codes = values
            .map(|v| {
                v.map_or(0, |v| match names.iter().position(|n| n == v) {
                    Some(p) => p as u32 + 1,
                    None => {
                        names.push(v.to_owned());
                        names.len() as u32
                    }
                })
            })
            .collect();
        (codes, names)
    }

    #[test]
    fn codes_from_string_views_equal_codes_from_the_strings() {
        let values = [
            Some("Alumbrado público deficiente"),
            None,
            Some("Baches"),
            Some("Alumbrado público deficiente"),
            Some("Recolección de residuos sólidos"),
            Some("Baches"),
            None,
            Some("Recolección de residuos sólidos"),
            Some("Alumbrado público deficiente"),
        ];
        let created = Utc::now();
        let reports: Vec<Report> = values
            .iter()
            .enumerate()
            .map(|(i, v)| {
                let mut r = Report::new(format!("r{i}"), "csv", Status::Open, "x", created);
                r.category = v.map(str::to_owned);
                // the values in another order of first appearance
                r.department = values[values.len() - 1 - i].map(str::to_owned);
                r
            })
            .collect();
        // Built from the strings (a view each), and read back from a Parquet file whose
        // columns are dictionary-encoded (the views of a value shared).
        let built = ReportColumns::from_reports(&reports, &[]).expect("columns");
        let mut df = crate::report::frame::reports_frame(&reports).expect("frame");
        let mut file = Vec::new();
        ParquetWriter::new(&mut file)
            .finish(&mut df)
            .expect("write");
        let back = ParquetReader::new(std::io::Cursor::new(file))
            .finish()
            .expect("read");
        let read = ReportColumns::from_frame(&back, Vec::new()).expect("columns");
        for columns in [&built, &read] {
            for which in [Text::Category, Text::Department] {
                let value = |i: usize| match which {
                    Text::Category => columns.category(i),
                    _ => columns.department(i),
                };
                let rows = [8, 0, 1, 2, 3, 4, 5, 6, 7, 3];
                assert_eq!(
                    columns.codes(which, rows.iter().copied()),
                    first_appearance(rows.iter().map(|&i| value(i))),
                    "{which:?}"
                );
            }
        }
    }
}
