//! `predio export indices`: one window and dimension of a level's table, one row per feature,
//! joined to the feature's outline (parcel, sector or H3 cell), as CSV, GeoJSON, GeoParquet
//! (WKB geometry with the `geo` metadata of GeoParquet 1.0) or FlatGeobuf.

use std::collections::HashMap;
use std::fs::File;
use std::io::BufWriter;
use std::path::Path;

use flatgeobuf::GeometryType;
use geo::{Coord, LineString, MultiPolygon, Polygon};
use polars::prelude::*;

use crate::table::Table;

use geozero::ToWkb;

use super::Level;
use crate::error::{Error, Result};
use crate::export::{finish, write_atomically, write_feature_collection, ExportFormat};
use crate::format::layer_file::{write_layer, Row};
use crate::model::{FieldType, Value};

fn pl(path: &Path) -> impl Fn(PolarsError) -> Error + '_ {
    move |e| Error::Parquet {
        path: path.to_path_buf(),
        message: e.to_string(),
    }
}

fn field_type(dtype: &DataType) -> FieldType {
    match dtype {
        DataType::Boolean => FieldType::Bool,
        DataType::Int32 => FieldType::Int,
        DataType::UInt32 | DataType::Int64 | DataType::UInt64 => FieldType::Long,
        DataType::Float64 | DataType::Float32 => FieldType::Double,
        _ => FieldType::String,
    }
}

/// The columns of `df` as predio values, column by column.
fn values(df: &DataFrame) -> PolarsResult<Vec<(String, FieldType, Vec<Value>)>> {
    let mut out = Vec::new();
    for c in df.columns() {
        let s = c.as_materialized_series();
        let kind = field_type(s.dtype());
        let v: Vec<Value> = match kind {
            FieldType::Bool => s
                .bool()?
                .iter()
                .map(|x| x.map_or(Value::Null, Value::Bool))
                .collect(),
            FieldType::Int => s
                .i32()?
                .iter()
                .map(|x| x.map_or(Value::Null, Value::Int))
                .collect(),
            FieldType::Long => s
                .cast(&DataType::Int64)?
                .i64()?
                .iter()
                .map(|x| x.map_or(Value::Null, Value::Long))
                .collect(),
            FieldType::Double => s
                .cast(&DataType::Float64)?
                .f64()?
                .iter()
                .map(|x| {
                    x.filter(|x| x.is_finite())
                        .map_or(Value::Null, Value::Double)
                })
                .collect(),
            _ => s
                .cast(&DataType::String)?
                .str()?
                .iter()
                .map(|x| x.map_or(Value::Null, |x| Value::String(x.to_owned())))
                .collect(),
        };
        out.push((s.name().to_string(), kind, v));
    }
    Ok(out)
}

/// The outline of an H3 cell given as its hexadecimal index, counter-clockwise; `None` for a
/// string that is not one.
pub fn cell_polygon(cell: &str) -> Option<MultiPolygon<f64>> {
    let cell: h3o::CellIndex = cell.parse().ok()?;
    let ring: Vec<Coord<f64>> = cell
        .boundary()
        .iter()
        .map(|ll| Coord {
            x: ll.lng(),
            y: ll.lat(),
        })
        .collect();
    let mut poly = Polygon::new(LineString::new(ring), vec![]);
    use geo::orient::{Direction, Orient};
    poly = poly.orient(Direction::Default);
    Some(MultiPolygon::new(vec![poly]))
}

/// WKB (ISO, little-endian) of a multipolygon, by geozero's writer.
pub(crate) fn wkb(
    mp: &MultiPolygon<f64>,
) -> std::result::Result<Vec<u8>, geozero::error::GeozeroError> {
    geo::Geometry::MultiPolygon(mp.clone()).to_wkb(geozero::CoordDimensions::xy())
}

/// Writes the selected rows `df` of `level` with their outlines (from `outlines` by id, or the
/// H3 cell's own) to `path` in `format`, atomically. Returns the rows written (rows without a
/// feature, such as the reports without a parcel, have no outline: FlatGeobuf leaves them out).
///
/// # Errors
/// I/O or encoding errors naming the file.
pub fn export_indices(
    table: &Table,
    level: Level,
    outlines: &HashMap<&str, &MultiPolygon<f64>>,
    format: ExportFormat,
    path: &Path,
) -> Result<usize> {
    let key = match level {
        Level::Parcel => "parcel_id",
        Level::Sector => "sector_id",
        Level::H3 => "cell",
        Level::Report => "id",
    };
    let df = table.frame();
    let keys: Vec<Option<String>> = df
        .column(key)
        .and_then(|c| {
            c.str()
                .map(|s| s.iter().map(|x| x.map(str::to_owned)).collect())
        })
        .map_err(pl(path))?;
    let geoms: Vec<Option<MultiPolygon<f64>>> = keys
        .iter()
        .map(|k| {
            let k = k.as_deref()?;
            match level {
                Level::H3 => cell_polygon(k),
                Level::Report => None,
                _ => outlines.get(k).map(|g| (*g).clone()),
            }
        })
        .collect();
    write_atomically(path, |tmp| match format {
        ExportFormat::Csv => write_csv(df, tmp),
        ExportFormat::GeoJson => write_geojson(df, &geoms, tmp),
        ExportFormat::Parquet => write_geoparquet(df, &geoms, tmp),
        ExportFormat::Fgb => write_fgb(df, level, &geoms, tmp),
    })
}

fn write_csv(df: &DataFrame, path: &Path) -> Result<usize> {
    let file = File::create(path).map_err(Error::io(path))?;
    let mut out = BufWriter::new(file);
    CsvWriter::new(&mut out)
        .finish(&mut df.clone())
        .map_err(pl(path))?;
    finish(path, out)?;
    Ok(df.height())
}

fn write_geojson(
    df: &DataFrame,
    geoms: &[Option<MultiPolygon<f64>>],
    path: &Path,
) -> Result<usize> {
    let cols = values(df).map_err(pl(path))?;
    let rings = |p: &Polygon<f64>| -> Vec<Vec<[f64; 2]>> {
        std::iter::once(p.exterior())
            .chain(p.interiors())
            .map(|r| r.0.iter().map(|c| [c.x, c.y]).collect())
            .collect()
    };
    write_feature_collection(
        path,
        geoms.iter().enumerate().map(|(i, g)| {
            let properties: serde_json::Map<String, serde_json::Value> = cols
                .iter()
                .map(|(name, _, v)| (name.clone(), v[i].to_json()))
                .collect();
            let geometry = g.as_ref().map_or(serde_json::Value::Null, |mp| {
                serde_json::json!({
                    "type": "MultiPolygon",
                    "coordinates": mp.0.iter().map(rings).collect::<Vec<_>>(),
                })
            });
            serde_json::json!({"type": "Feature", "geometry": geometry, "properties": properties})
        }),
    )?;
    Ok(geoms.len())
}

fn write_geoparquet(
    df: &DataFrame,
    geoms: &[Option<MultiPolygon<f64>>],
    path: &Path,
) -> Result<usize> {
    let blobs: Vec<Option<Vec<u8>>> = geoms
        .iter()
        .map(|g| g.as_ref().map(wkb).transpose())
        .collect::<std::result::Result<_, _>>()
        .map_err(|e| Error::Parquet {
            path: path.to_path_buf(),
            message: format!("WKB: {e}"),
        })?;
    let mut out = df.clone();
    let column = BinaryChunked::from_iter_options("geometry".into(), blobs.into_iter());
    out.with_column(column.into_series().into_column())
        .map_err(pl(path))?;
    let bbox = crate::model::Bbox::around(geoms.iter().flatten());
    let mut geometry = serde_json::json!({"encoding": "WKB", "geometry_types": ["MultiPolygon"]});
    if let Some(b) = bbox {
        geometry["bbox"] = serde_json::json!([b.west, b.south, b.east, b.north]);
    }
    // No "crs" key: GeoParquet then means OGC:CRS84 (longitude, latitude on WGS 84).
    let geo = serde_json::json!({
        "version": "1.0.0",
        "primary_column": "geometry",
        "columns": {"geometry": geometry},
    });
    let file = File::create(path).map_err(Error::io(path))?;
    ParquetWriter::new(&file)
        .with_compression(ParquetCompression::Zstd(None))
        .with_key_value_metadata(Some(KeyValueMetadata::from_static(vec![(
            "geo".to_owned(),
            geo.to_string(),
        )])))
        .finish(&mut out)
        .map_err(pl(path))?;
    file.sync_all().map_err(Error::io(path))?;
    Ok(df.height())
}

fn write_fgb(
    df: &DataFrame,
    level: Level,
    geoms: &[Option<MultiPolygon<f64>>],
    path: &Path,
) -> Result<usize> {
    let cols = values(df).map_err(pl(path))?;
    let leading: Vec<(&str, FieldType)> = cols.iter().map(|(n, k, _)| (n.as_str(), *k)).collect();
    let rows: Vec<usize> = (0..geoms.len()).filter(|i| geoms[*i].is_some()).collect();
    write_layer(
        path,
        &format!("indices_{level}"),
        GeometryType::MultiPolygon,
        &leading,
        &[],
        rows.iter().filter_map(|i| {
            Some(Row {
                geometry: geo::Geometry::MultiPolygon(geoms[*i].clone()?),
                leading: cols.iter().map(|(_, _, v)| v[*i].clone()).collect(),
                attributes: &[],
            })
        }),
    )?;
    Ok(rows.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outlines_are_iso_wkb_as_the_specification_lays_it_out() {
        // OGC 06-103r4 §8.2: byte order 1 (little-endian), type 6 (MultiPolygon), 1 polygon;
        // byte order 1, type 3 (Polygon), 1 ring of 4 points, each x then y as f64.
        let square: MultiPolygon<f64> = MultiPolygon::new(vec![Polygon::new(
            LineString::from(vec![(0.0, 0.0), (1.0, 0.0), (1.0, 1.0), (0.0, 0.0)]),
            vec![],
        )]);
        let mut want = vec![1u8];
        for v in [6u32, 1] {
            want.extend(v.to_le_bytes());
        }
        want.push(1);
        for v in [3u32, 1, 4] {
            want.extend(v.to_le_bytes());
        }
        for (x, y) in [(0.0f64, 0.0f64), (1.0, 0.0), (1.0, 1.0), (0.0, 0.0)] {
            want.extend(x.to_le_bytes());
            want.extend(y.to_le_bytes());
        }
        assert_eq!(wkb(&square).expect("WKB"), want);
    }
}
