//! Parcels and sectors as FlatGeobuf files (EPSG:4326, with the packed Hilbert R-tree index).
//!
//! Each file starts with predio's own columns (ids, sector, area) followed by the source
//! attributes with their original names and types, so GDAL, QGIS and ogr2ogr open it as is.

use std::fs::File;
use std::io::{BufReader, BufWriter};
use std::path::Path;

use flatgeobuf::{
    ColumnType, FallibleStreamingIterator, FgbCrs, FgbReader, FgbWriter, FgbWriterOptions,
    GeometryType,
};
use geo::{Geometry, MultiPolygon};
use geozero::{
    ColumnValue, FeatureProperties, GeomProcessor, GeozeroGeometry, PropertyProcessor, ToGeo,
};

use crate::error::{Error, Result};
use crate::model::{
    Field, FieldType, Parcel, ParcelId, ParcelKey, ParcelLayer, Sector, SectorId, SectorLayer,
    Value,
};

/// predio's own leading columns of `parcels.fgb`.
const PARCEL_COLUMNS: [(&str, FieldType); 3] = [
    ("parcel_id", FieldType::String),
    ("sector_id", FieldType::String),
    ("area_m2", FieldType::Double),
];

/// predio's own leading columns of `sectors.fgb`.
const SECTOR_COLUMNS: [(&str, FieldType); 4] = [
    ("sector_id", FieldType::String),
    ("name", FieldType::String),
    ("population", FieldType::Double),
    ("area_m2", FieldType::Double),
];

/// Names predio reserves in parcel and sector files; importers rename source attributes that
/// collide with them.
pub const RESERVED_COLUMNS: [&str; 5] = ["parcel_id", "sector_id", "area_m2", "name", "population"];

fn fgb_err(path: &Path) -> impl Fn(flatgeobuf::Error) -> Error + '_ {
    move |e| Error::FlatGeobuf {
        path: path.to_path_buf(),
        message: e.to_string(),
    }
}

fn geozero_err(path: &Path) -> impl Fn(geozero::error::GeozeroError) -> Error + '_ {
    move |e| Error::FlatGeobuf {
        path: path.to_path_buf(),
        message: e.to_string(),
    }
}

fn column_type(kind: FieldType) -> ColumnType {
    match kind {
        FieldType::Bool => ColumnType::Bool,
        FieldType::Int => ColumnType::Int,
        FieldType::Long => ColumnType::Long,
        FieldType::Double => ColumnType::Double,
        FieldType::String => ColumnType::String,
        FieldType::DateTime => ColumnType::DateTime,
    }
}

fn field_type(kind: ColumnType) -> FieldType {
    match kind {
        ColumnType::Bool => FieldType::Bool,
        ColumnType::Byte | ColumnType::UByte | ColumnType::Short | ColumnType::UShort => {
            FieldType::Int
        }
        ColumnType::Int => FieldType::Int,
        ColumnType::UInt | ColumnType::Long | ColumnType::ULong => FieldType::Long,
        ColumnType::Float | ColumnType::Double => FieldType::Double,
        ColumnType::DateTime => FieldType::DateTime,
        _ => FieldType::String,
    }
}

fn column_value<'a>(value: &'a Value, kind: FieldType) -> Option<ColumnValue<'a>> {
    Some(match value {
        Value::Null => return None,
        Value::Bool(b) => ColumnValue::Bool(*b),
        Value::Int(i) => ColumnValue::Int(*i),
        Value::Long(i) => ColumnValue::Long(*i),
        Value::Double(x) => ColumnValue::Double(*x),
        Value::String(s) if kind == FieldType::DateTime => ColumnValue::DateTime(s),
        Value::String(s) => ColumnValue::String(s),
    })
}

/// A borrowed geometry handed to the FlatGeobuf writer without copying it.
struct Borrowed<'a>(&'a MultiPolygon<f64>);

impl GeozeroGeometry for Borrowed<'_> {
    fn process_geom<P: GeomProcessor>(&self, p: &mut P) -> geozero::error::Result<()> {
        p.multipolygon_begin(self.0 .0.len(), 0)?;
        for (i, polygon) in self.0.iter().enumerate() {
            p.polygon_begin(false, polygon.interiors().len() + 1, i)?;
            for (r, ring) in std::iter::once(polygon.exterior())
                .chain(polygon.interiors())
                .enumerate()
            {
                p.linestring_begin(false, ring.0.len(), r)?;
                for (k, c) in ring.0.iter().enumerate() {
                    p.xy(c.x, c.y, k)?;
                }
                p.linestring_end(false, r)?;
            }
            p.polygon_end(false, i)?;
        }
        p.multipolygon_end(0)
    }
}

/// One row to write: geometry, predio's leading values, then source attributes.
pub(crate) struct Row<'a, G> {
    pub geometry: G,
    pub leading: Vec<Value>,
    pub attributes: &'a [Value],
}

/// Writes a FlatGeobuf layer (EPSG:4326, with its spatial index) to `path` and fsyncs it.
pub(crate) fn write_layer<'a, G: GeozeroGeometry>(
    path: &Path,
    name: &str,
    geometry_type: GeometryType,
    leading: &[(&str, FieldType)],
    fields: &[Field],
    rows: impl Iterator<Item = Row<'a, G>>,
) -> Result<()> {
    let options = FgbWriterOptions {
        write_index: true,
        detect_type: false,
        promote_to_multi: true,
        crs: FgbCrs {
            code: 4326,
            ..Default::default()
        },
        ..Default::default()
    };
    let mut fgb =
        FgbWriter::create_with_options(name, geometry_type, options).map_err(fgb_err(path))?;
    let columns: Vec<(String, FieldType)> = leading
        .iter()
        .map(|(n, k)| (n.to_string(), *k))
        .chain(fields.iter().map(|f| (f.name.clone(), f.kind)))
        .collect();
    for (i, (col, kind)) in columns.iter().enumerate() {
        fgb.add_column(col, column_type(*kind), |_, c| c.nullable = i != 0);
    }
    for row in rows {
        let mut property_err = None;
        fgb.add_feature_geom(row.geometry, |feat| {
            let values = row.leading.iter().chain(row.attributes.iter());
            for (i, (value, (col, kind))) in values.zip(&columns).enumerate() {
                if let Some(v) = column_value(value, *kind) {
                    if let Err(e) = feat.property(i, col, &v) {
                        property_err = Some(e);
                    }
                }
            }
        })
        .map_err(geozero_err(path))?;
        if let Some(e) = property_err {
            return Err(geozero_err(path)(e));
        }
    }
    let file = File::create(path).map_err(Error::io(path))?;
    let mut out = BufWriter::new(file);
    fgb.write(&mut out).map_err(fgb_err(path))?;
    let file = out.into_inner().map_err(|e| Error::Io {
        path: path.into(),
        source: e.into_error(),
    })?;
    file.sync_all().map_err(Error::io(path))?;
    Ok(())
}

/// Writes parcels to a FlatGeobuf file at `path` (and fsyncs it).
///
/// # Errors
/// I/O errors and encoding errors, naming `path`.
pub fn write_parcels(path: &Path, layer: &ParcelLayer) -> Result<()> {
    let rows = layer.parcels.iter().map(|p| Row {
        geometry: Borrowed(&p.geometry),
        leading: vec![
            Value::String(p.id.to_string()),
            p.sector_id
                .as_ref()
                .map_or(Value::Null, |s| Value::String(s.to_string())),
            Value::Double(p.area_m2),
        ],
        attributes: &p.attributes,
    });
    write_layer(
        path,
        "parcels",
        GeometryType::MultiPolygon,
        &PARCEL_COLUMNS,
        &layer.fields,
        rows,
    )
}

/// Writes sectors to a FlatGeobuf file at `path` (and fsyncs it).
///
/// # Errors
/// I/O errors and encoding errors, naming `path`.
pub fn write_sectors(path: &Path, layer: &SectorLayer) -> Result<()> {
    let rows = layer.sectors.iter().map(|s| Row {
        geometry: Borrowed(&s.geometry),
        leading: vec![
            Value::String(s.id.to_string()),
            Value::String(s.name.clone()),
            s.population.map_or(Value::Null, Value::Double),
            Value::Double(s.area_m2),
        ],
        attributes: &s.attributes,
    });
    write_layer(
        path,
        "sectors",
        GeometryType::MultiPolygon,
        &SECTOR_COLUMNS,
        &layer.fields,
        rows,
    )
}

/// Collects one feature's properties by column index (the first `values.len()`).
struct Collector {
    values: Vec<Value>,
}

impl PropertyProcessor for Collector {
    fn property(&mut self, i: usize, _name: &str, v: &ColumnValue) -> geozero::error::Result<bool> {
        let value = match *v {
            ColumnValue::Byte(x) => Value::Int(x.into()),
            ColumnValue::UByte(x) => Value::Int(x.into()),
            ColumnValue::Bool(x) => Value::Bool(x),
            ColumnValue::Short(x) => Value::Int(x.into()),
            ColumnValue::UShort(x) => Value::Int(x.into()),
            ColumnValue::Int(x) => Value::Int(x),
            ColumnValue::UInt(x) => Value::Long(x.into()),
            ColumnValue::Long(x) => Value::Long(x),
            ColumnValue::ULong(x) => i64::try_from(x).map_or(Value::Double(x as f64), Value::Long),
            ColumnValue::Float(x) => Value::Double(x.into()),
            ColumnValue::Double(x) => Value::Double(x),
            ColumnValue::String(s) | ColumnValue::Json(s) | ColumnValue::DateTime(s) => {
                Value::String(s.to_owned())
            }
            ColumnValue::Binary(_) => Value::Null,
        };
        if let Some(slot) = self.values.get_mut(i) {
            *slot = value;
        }
        // Stop once the columns wanted are read.
        Ok(i + 1 >= self.values.len())
    }
}

/// A whole layer file: its columns and every feature's geometry and values.
struct RawLayer {
    columns: Vec<Field>,
    features: Vec<(MultiPolygon<f64>, Vec<Value>)>,
}

/// Reads a layer file; with `outlines` false, only the `leading` columns of each feature and
/// no geometry (empty outlines).
fn read_layer(
    path: &Path,
    leading: &[(&'static str, FieldType)],
    outlines: bool,
) -> Result<RawLayer> {
    let file = File::open(path).map_err(Error::io(path))?;
    let reader = FgbReader::open(BufReader::new(file)).map_err(fgb_err(path))?;
    let columns: Vec<Field> = reader
        .header()
        .columns()
        .map(|cols| {
            cols.iter()
                .map(|c| Field::new(c.name(), field_type(c.type_())))
                .collect()
        })
        .unwrap_or_default();
    for (i, (name, _)) in leading.iter().enumerate() {
        if columns.get(i).map(|c| c.name.as_str()) != Some(*name) {
            return Err(Error::MissingColumn {
                path: path.into(),
                column: name,
            });
        }
    }
    let count = usize::try_from(reader.header().features_count()).unwrap_or(0);
    let mut iter = reader.select_all().map_err(fgb_err(path))?;
    let mut features = Vec::with_capacity(count);
    while let Some(feature) = iter.next().map_err(fgb_err(path))? {
        let wanted = if outlines {
            columns.len()
        } else {
            leading.len()
        };
        let mut collector = Collector {
            values: vec![Value::Null; wanted],
        };
        feature
            .process_properties(&mut collector)
            .map_err(geozero_err(path))?;
        if !outlines {
            features.push((MultiPolygon(Vec::new()), collector.values));
            continue;
        }
        let geometry = match feature.to_geo().map_err(geozero_err(path))? {
            Geometry::MultiPolygon(mp) => mp,
            Geometry::Polygon(p) => MultiPolygon(vec![p]),
            other => {
                return Err(Error::FlatGeobuf {
                    path: path.into(),
                    message: format!("expected polygons, found {other:?}"),
                })
            }
        };
        features.push((geometry, collector.values));
    }
    Ok(RawLayer { columns, features })
}

fn text(v: &Value) -> Option<String> {
    match v {
        Value::Null => None,
        other => Some(other.to_string()),
    }
}

fn number(v: &Value) -> Option<f64> {
    match *v {
        Value::Double(x) => Some(x),
        Value::Int(i) => Some(i.into()),
        Value::Long(i) => Some(i as f64),
        _ => None,
    }
}

/// Reads a parcels file written by [`write_parcels`].
///
/// # Errors
/// I/O and decoding errors, or a file that lacks predio's columns; each names `path`.
pub fn read_parcels(path: &Path) -> Result<ParcelLayer> {
    let raw = read_layer(path, &PARCEL_COLUMNS, true)?;
    let n = PARCEL_COLUMNS.len();
    let parcels = raw
        .features
        .into_iter()
        .map(|(geometry, mut values)| {
            let attributes = values.split_off(n);
            Parcel {
                id: ParcelId::new(text(&values[0]).unwrap_or_default()),
                sector_id: text(&values[1]).map(SectorId::new),
                area_m2: number(&values[2]).unwrap_or(f64::NAN),
                geometry,
                attributes,
            }
        })
        .collect();
    Ok(ParcelLayer {
        fields: raw.columns[n..].to_vec(),
        parcels,
    })
}

/// Reads the ids and areas of a parcels file written by [`write_parcels`], without the
/// outlines and the source attributes (what the indices need, several times faster).
///
/// # Errors
/// I/O and decoding errors, or a file that lacks predio's columns; each names `path`.
pub fn read_parcel_keys(path: &Path) -> Result<Vec<ParcelKey>> {
    let raw = read_layer(path, &PARCEL_COLUMNS, false)?;
    Ok(raw
        .features
        .into_iter()
        .map(|(_, values)| ParcelKey {
            id: ParcelId::new(text(&values[0]).unwrap_or_default()),
            area_m2: number(&values[2]).unwrap_or(f64::NAN),
        })
        .collect())
}

/// Reads a sectors file written by [`write_sectors`].
///
/// # Errors
/// I/O and decoding errors, or a file that lacks predio's columns; each names `path`.
pub fn read_sectors(path: &Path) -> Result<SectorLayer> {
    let raw = read_layer(path, &SECTOR_COLUMNS, true)?;
    let n = SECTOR_COLUMNS.len();
    let sectors = raw
        .features
        .into_iter()
        .map(|(geometry, mut values)| {
            let attributes = values.split_off(n);
            Sector {
                id: SectorId::new(text(&values[0]).unwrap_or_default()),
                name: text(&values[1]).unwrap_or_default(),
                population: number(&values[2]),
                area_m2: number(&values[3]).unwrap_or(f64::NAN),
                geometry,
                attributes,
            }
        })
        .collect();
    Ok(SectorLayer {
        fields: raw.columns[n..].to_vec(),
        sectors,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use geo::{polygon, MultiPolygon};

    fn square(x: f64, y: f64) -> MultiPolygon<f64> {
        MultiPolygon(vec![
            polygon![(x: x, y: y), (x: x + 1.0, y: y), (x: x + 1.0, y: y + 1.0), (x: x, y: y + 1.0), (x: x, y: y)],
        ])
    }

    #[test]
    fn parcels_round_trip_with_types_nulls_and_utf8_names() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("parcels.fgb");
        let layer = ParcelLayer {
            fields: vec![
                Field::new("고유번호", FieldType::String),
                Field::new("토지면적", FieldType::Double),
                Field::new("año", FieldType::Int),
                Field::new("fecha", FieldType::DateTime),
            ],
            parcels: (0..50)
                .map(|i| Parcel {
                    id: ParcelId::new(format!("P{i}")),
                    sector_id: (i % 2 == 0).then(|| SectorId::new("S1")),
                    area_m2: 100.0 + f64::from(i),
                    geometry: square(f64::from(i), 0.0),
                    attributes: vec![
                        Value::String(format!("번호{i}")),
                        if i == 3 {
                            Value::Null
                        } else {
                            Value::Double(f64::from(i) * 1.5)
                        },
                        Value::Int(i),
                        Value::String("2014-07-01".into()),
                    ],
                })
                .collect(),
        };
        write_parcels(&path, &layer).expect("write");
        let mut back = read_parcels(&path).expect("read");
        assert_eq!(back.fields, layer.fields);
        // The spatial index sorts features along a Hilbert curve: compare by id.
        back.parcels
            .sort_by_key(|p| p.id.as_str()[1..].parse::<u32>().expect("numeric id"));
        assert_eq!(back.parcels, layer.parcels);
        // Ids and areas alone (null sectors included), in the file's order.
        let keys = read_parcel_keys(&path).expect("keys");
        let full = read_parcels(&path).expect("read");
        assert_eq!(keys.len(), full.parcels.len());
        for (k, p) in keys.iter().zip(&full.parcels) {
            assert_eq!((&k.id, k.area_m2), (&p.id, p.area_m2));
        }
    }

    #[test]
    fn a_file_without_predio_columns_is_rejected_with_its_path() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("sectors.fgb");
        let layer = ParcelLayer {
            fields: vec![],
            parcels: vec![Parcel {
                id: ParcelId::new("a"),
                sector_id: None,
                area_m2: 1.0,
                geometry: square(0.0, 0.0),
                attributes: vec![],
            }],
        };
        write_parcels(&path, &layer).expect("write");
        let err = read_sectors(&path).expect_err("parcels are not sectors");
        assert!(err.to_string().contains("sectors.fgb"), "{err}");
    }
}
