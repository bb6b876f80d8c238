//! The reports as a Polars frame with predio's public report schema: the one place that lists
//! the columns of `reports.parquet` in order (the store writes it, exports read it).

use chrono::{DateTime, Utc};
use polars::prelude::*;

use super::Report;
use crate::model::{ParcelId, SectorId};

pub(crate) fn utc_ms() -> DataType {
    DataType::Datetime(TimeUnit::Milliseconds, Some(TimeZone::UTC))
}

pub(crate) fn ms(t: Option<DateTime<Utc>>) -> Option<i64> {
    t.map(|t| t.timestamp_millis())
}

pub(crate) fn from_ms(v: Option<i64>) -> Option<DateTime<Utc>> {
    v.and_then(DateTime::from_timestamp_millis)
}

pub(crate) fn times(name: &str, values: Vec<Option<i64>>) -> PolarsResult<Column> {
    Ok(Series::new(name.into(), values)
        .cast(&utc_ms())?
        .into_column())
}

pub(crate) fn text<'a>(name: &str, values: impl Iterator<Item = Option<&'a str>>) -> Column {
    Series::new(name.into(), values.collect::<Vec<_>>()).into_column()
}

/// The reports as a DataFrame with predio's public report schema.
///
/// # Errors
/// Polars errors building the columns.
pub fn reports_frame(reports: &[Report]) -> PolarsResult<DataFrame> {
    let r = reports;
    DataFrame::new(
        r.len(),
        vec![
            text("id", r.iter().map(|x| Some(x.id.as_str()))),
            text("source", r.iter().map(|x| Some(x.source.as_str()))),
            text("category", r.iter().map(|x| x.category.as_deref())),
            text("department", r.iter().map(|x| x.department.as_deref())),
            text("channel", r.iter().map(|x| x.channel.as_deref())),
            text("status", r.iter().map(|x| Some(x.status.as_str()))),
            text(
                "status_label",
                r.iter().map(|x| Some(x.status_label.as_str())),
            ),
            text(
                "status_type",
                r.iter().map(|x| Some(x.status_type.as_str())),
            ),
            times(
                "created_at",
                r.iter()
                    .map(|x| Some(x.created_at.timestamp_millis()))
                    .collect(),
            )?,
            times(
                "acknowledged_at",
                r.iter().map(|x| ms(x.acknowledged_at)).collect(),
            )?,
            times("closed_at", r.iter().map(|x| ms(x.closed_at)).collect())?,
            times("reopened_at", r.iter().map(|x| ms(x.reopened_at)).collect())?,
            times("deadline_at", r.iter().map(|x| ms(x.deadline_at)).collect())?,
            Series::new(
                "source_on_time".into(),
                r.iter().map(|x| x.source_on_time).collect::<Vec<_>>(),
            )
            .into_column(),
            text("source_tz", r.iter().map(|x| Some(x.source_tz.as_str()))),
            Series::new("lon".into(), r.iter().map(|x| x.lon).collect::<Vec<_>>()).into_column(),
            Series::new("lat".into(), r.iter().map(|x| x.lat).collect::<Vec<_>>()).into_column(),
            text("location", r.iter().map(|x| Some(x.location.as_str()))),
            text(
                "parcel_id",
                r.iter().map(|x| x.parcel_id.as_ref().map(ParcelId::as_str)),
            ),
            text(
                "sector_id",
                r.iter().map(|x| x.sector_id.as_ref().map(SectorId::as_str)),
            ),
            text("match", r.iter().map(|x| Some(x.match_kind.as_str()))),
            Series::new(
                "distance_m".into(),
                r.iter().map(|x| x.distance_m).collect::<Vec<_>>(),
            )
            .into_column(),
            Series::new(
                "match_score".into(),
                r.iter().map(|x| x.match_score).collect::<Vec<_>>(),
            )
            .into_column(),
            Series::new(
                "h3".into(),
                r.iter().map(|x| x.h3.map(u64::from)).collect::<Vec<_>>(),
            )
            .into_column(),
            text("source_area", r.iter().map(|x| x.source_area.as_deref())),
            text("parent_id", r.iter().map(|x| x.parent_id.as_deref())),
        ],
    )
}
