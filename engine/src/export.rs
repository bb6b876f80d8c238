//! Exports of the geocoded reports: CSV, GeoJSON (RFC 7946), Parquet and FlatGeobuf. Public
//! columns only; the personal fields kept with `--keep-private` are never exported. Each file is
//! written beside its target, fsynced and renamed over it, so a reader never sees half a file.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use chrono::{DateTime, SecondsFormat, Utc};
use flatgeobuf::GeometryType;
use polars::prelude::*;

use crate::error::{Error, Result};
use crate::format::layer_file::{write_layer, Row};
use crate::model::{CellId, FieldType, Value};
use crate::report::Report;

/// Export formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportFormat {
    /// CSV with a header, times in RFC 3339 UTC.
    Csv,
    /// GeoJSON FeatureCollection of points (unlocated reports with a null geometry).
    GeoJson,
    /// Parquet (UTC millisecond timestamps).
    Parquet,
    /// FlatGeobuf points with a spatial index (located reports only).
    Fgb,
}

/// The exported columns, in order, with their types.
pub const EXPORT_COLUMNS: [(&str, FieldType); 25] = [
    ("id", FieldType::String),
    ("source", FieldType::String),
    ("category", FieldType::String),
    ("department", FieldType::String),
    ("channel", FieldType::String),
    ("status", FieldType::String),
    ("status_label", FieldType::String),
    ("status_type", FieldType::String),
    ("created_at", FieldType::DateTime),
    ("acknowledged_at", FieldType::DateTime),
    ("closed_at", FieldType::DateTime),
    ("reopened_at", FieldType::DateTime),
    ("deadline_at", FieldType::DateTime),
    ("source_on_time", FieldType::Bool),
    ("source_tz", FieldType::String),
    ("source_area", FieldType::String),
    ("lon", FieldType::Double),
    ("lat", FieldType::Double),
    ("location", FieldType::String),
    ("parcel_id", FieldType::String),
    ("sector_id", FieldType::String),
    ("match", FieldType::String),
    ("distance_m", FieldType::Double),
    ("match_score", FieldType::Double),
    ("h3", FieldType::String),
];

fn time(t: Option<DateTime<Utc>>) -> Value {
    t.map_or(Value::Null, |t| {
        Value::String(t.to_rfc3339_opts(SecondsFormat::AutoSi, true))
    })
}

fn text(s: Option<&str>) -> Value {
    s.map_or(Value::Null, |s| Value::String(s.to_owned()))
}

/// An H3 cell as its canonical hexadecimal string.
fn h3_text(cell: Option<CellId>) -> Option<String> {
    cell.map(|c| c.to_string())
}

/// One report's values in [`EXPORT_COLUMNS`] order.
pub fn export_row(r: &Report) -> Vec<Value> {
    let num = |x: Option<f64>| x.map_or(Value::Null, Value::Double);
    vec![
        Value::String(r.id.to_string()),
        Value::String(r.source.clone()),
        text(r.category.as_deref()),
        text(r.department.as_deref()),
        text(r.channel.as_deref()),
        Value::String(r.status.as_str().into()),
        Value::String(r.status_label.clone()),
        Value::String(r.status_type.as_str().into()),
        time(Some(r.created_at)),
        time(r.acknowledged_at),
        time(r.closed_at),
        time(r.reopened_at),
        time(r.deadline_at),
        r.source_on_time.map_or(Value::Null, Value::Bool),
        Value::String(r.source_tz.clone()),
        text(r.source_area.as_deref()),
        num(r.lon),
        num(r.lat),
        Value::String(r.location.as_str().into()),
        text(r.parcel_id.as_ref().map(|p| p.as_str())),
        text(r.sector_id.as_ref().map(|s| s.as_str())),
        Value::String(r.match_kind.as_str().into()),
        num(r.distance_m),
        num(r.match_score),
        text(h3_text(r.h3).as_deref()),
    ]
}

/// Writes `reports` to `path` in `format`, atomically. Returns the number of features written
/// (FlatGeobuf holds located reports only).
///
/// # Errors
/// I/O or encoding errors naming the file.
pub fn export_reports(reports: &[Report], format: ExportFormat, path: &Path) -> Result<usize> {
    write_atomically(path, |tmp| write(reports, format, tmp))
}

/// Runs `write` on a temporary file beside `path`, then renames it over `path`; on error the
/// temporary file is removed and `path` is untouched.
pub(crate) fn write_atomically(
    path: &Path,
    write: impl FnOnce(&Path) -> Result<usize>,
) -> Result<usize> {
    let tmp = tmp_path(path);
    match write(&tmp) {
        Ok(n) => {
            std::fs::rename(&tmp, path).map_err(Error::io(path))?;
            Ok(n)
        }
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            Err(e)
        }
    }
}

/// Writes `bytes` to `path`: a temporary file beside it, fsynced, renamed over it; a reader sees
/// the old file or the new one, never half of one.
///
/// # Errors
/// I/O errors naming the file.
pub fn write_file_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    use std::io::Write as _;
    write_atomically(path, |tmp| {
        let mut f = File::create(tmp).map_err(Error::io(tmp))?;
        f.write_all(bytes).map_err(Error::io(tmp))?;
        f.sync_all().map_err(Error::io(tmp))?;
        Ok(bytes.len())
    })
    .map(|_| ())
}

fn tmp_path(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    path.with_file_name(format!(".{name}.tmp"))
}

fn write(reports: &[Report], format: ExportFormat, path: &Path) -> Result<usize> {
    match format {
        ExportFormat::Csv => write_csv(reports, path).map(|()| reports.len()),
        ExportFormat::GeoJson => write_geojson(reports, path).map(|()| reports.len()),
        ExportFormat::Parquet => write_parquet(reports, path).map(|()| reports.len()),
        ExportFormat::Fgb => write_fgb(reports, path),
    }
}

pub(crate) fn finish(path: &Path, out: BufWriter<File>) -> Result<()> {
    let file = out.into_inner().map_err(|e| Error::Io {
        path: path.into(),
        source: e.into_error(),
    })?;
    file.sync_all().map_err(Error::io(path))
}

fn write_csv(reports: &[Report], path: &Path) -> Result<()> {
    let file = File::create(path).map_err(Error::io(path))?;
    let mut w = csv::Writer::from_writer(BufWriter::new(file));
    let csv_err = |e: csv::Error| Error::Io {
        path: path.into(),
        source: std::io::Error::other(e),
    };
    w.write_record(EXPORT_COLUMNS.iter().map(|(n, _)| *n))
        .map_err(csv_err)?;
    for r in reports {
        w.write_record(export_row(r).iter().map(ToString::to_string))
            .map_err(csv_err)?;
    }
    let out = w.into_inner().map_err(|e| Error::Io {
        path: path.into(),
        source: e.into_error(),
    })?;
    finish(path, out)
}

fn write_geojson(reports: &[Report], path: &Path) -> Result<()> {
    write_feature_collection(
        path,
        reports.iter().map(|r| {
            let properties: serde_json::Map<String, serde_json::Value> = EXPORT_COLUMNS
                .iter()
                .zip(export_row(r))
                .filter(|((name, _), _)| !matches!(*name, "lon" | "lat"))
                .map(|((name, _), v)| ((*name).to_owned(), v.to_json()))
                .collect();
            let geometry = match (r.lon, r.lat) {
                (Some(lon), Some(lat)) => {
                    serde_json::json!({"type": "Point", "coordinates": [lon, lat]})
                }
                _ => serde_json::Value::Null,
            };
            serde_json::json!({
                "type": "Feature",
                "id": r.id,
                "geometry": geometry,
                "properties": properties,
            })
        }),
    )
}

/// Writes a GeoJSON FeatureCollection of `features` to `path` (fsynced), a feature per line.
pub(crate) fn write_feature_collection(
    path: &Path,
    features: impl Iterator<Item = serde_json::Value>,
) -> Result<()> {
    let file = File::create(path).map_err(Error::io(path))?;
    let mut out = BufWriter::new(file);
    let io = |e: std::io::Error| Error::Io {
        path: path.into(),
        source: e,
    };
    out.write_all(b"{\"type\":\"FeatureCollection\",\"features\":[\n")
        .map_err(io)?;
    for (i, feature) in features.enumerate() {
        if i > 0 {
            out.write_all(b",\n").map_err(io)?;
        }
        serde_json::to_writer(&mut out, &feature).map_err(|e| io(e.into()))?;
    }
    out.write_all(b"\n]}\n").map_err(io)?;
    finish(path, out)
}

fn write_parquet(reports: &[Report], path: &Path) -> Result<()> {
    let pl = |e: PolarsError| Error::Parquet {
        path: path.into(),
        message: e.to_string(),
    };
    let mut df = crate::report::frame::reports_frame(reports).map_err(pl)?;
    let h3: Vec<Option<String>> = reports.iter().map(|r| h3_text(r.h3)).collect();
    df.with_column(Series::new("h3".into(), h3).into_column())
        .map_err(pl)?;
    df = df.drop("parent_id").map_err(pl)?;
    let file = File::create(path).map_err(Error::io(path))?;
    ParquetWriter::new(&file)
        .with_compression(ParquetCompression::Zstd(None))
        .finish(&mut df)
        .map_err(pl)?;
    file.sync_all().map_err(Error::io(path))
}

fn write_fgb(reports: &[Report], path: &Path) -> Result<usize> {
    let rows: Vec<(geo::Point<f64>, Vec<Value>)> = reports
        .iter()
        .filter_map(|r| Some((geo::Point::new(r.lon?, r.lat?), export_row(r))))
        .collect();
    write_layer(
        path,
        "reports",
        GeometryType::Point,
        &EXPORT_COLUMNS,
        &[],
        rows.iter().map(|(p, values)| Row {
            geometry: geo::Geometry::Point(*p),
            leading: values.clone(),
            attributes: &[],
        }),
    )?;
    Ok(rows.len())
}
