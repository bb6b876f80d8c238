//! Opening any vector source GDAL reads and pulling its features out as WKB and typed values.

use std::path::Path;

use gdal::vector::{
    geometry_type_flatten, geometry_type_has_z, geometry_type_to_name, FieldValue, Layer,
    LayerAccess, OGRFieldType, OGRwkbGeometryType,
};
use gdal::{Dataset, DatasetOptions, GdalOpenFlags};
use predio_engine::{Field, FieldType, SourceInfo, Value};

use crate::crs::Crs;
use crate::error::{Error, Result};
use crate::gdal_log;
use crate::progress::Progress;

/// A vector source to import: a path GDAL opens, an optional layer name and CRS override.
#[derive(Debug, Clone, Default)]
pub struct VectorSource {
    /// File path, a `.zip` holding a shapefile, or any GDAL `/vsi…/` path.
    pub path: String,
    /// Layer name; the first layer when `None`.
    pub layer: Option<String>,
    /// CRS of the coordinates (`EPSG:N`, WKT, PROJ string), overriding what the source says.
    /// Needed where the source has none, e.g. a shapefile without `.prj`.
    pub srs: Option<String>,
}

impl VectorSource {
    /// A source at `path`, first layer, CRS from the file.
    pub fn new(path: impl Into<String>) -> Self {
        Self {
            path: path.into(),
            ..Default::default()
        }
    }
}

/// One feature as read: its 1-based number in the source, attributes and geometry as WKB.
pub(crate) struct RawFeature {
    pub number: u64,
    pub attributes: Vec<Value>,
    pub wkb: Option<Vec<u8>>,
}

/// Everything read from one layer.
pub(crate) struct RawLayer {
    pub fields: Vec<Field>,
    pub features: Vec<RawFeature>,
    pub source: SourceInfo,
    pub crs: Crs,
}

/// What kind of geometry a layer must hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Expect {
    /// Parcels or sectors.
    Polygons(&'static str),
    /// Reports.
    Points(&'static str),
}

fn gdal_path(path: &str) -> Result<String> {
    if path.starts_with("/vsi") {
        return Ok(path.to_owned());
    }
    let p = Path::new(path);
    if !p.exists() {
        return Err(Error::NotFound {
            path: path.to_owned(),
        });
    }
    let ext = p
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    match ext.as_deref() {
        Some("zip") => Ok(format!("/vsizip/{path}")),
        Some("shp") => {
            for companion in ["shx", "dbf"] {
                let lower = p.with_extension(companion);
                let upper = p.with_extension(companion.to_ascii_uppercase());
                if !lower.exists() && !upper.exists() {
                    return Err(Error::MissingCompanion {
                        path: path.to_owned(),
                        missing: lower
                            .file_name()
                            .map(|n| n.to_string_lossy().into_owned())
                            .unwrap_or_default(),
                    });
                }
            }
            Ok(path.to_owned())
        }
        _ => Ok(path.to_owned()),
    }
}

fn field_type(kind: OGRFieldType::Type) -> FieldType {
    match kind {
        OGRFieldType::OFTInteger => FieldType::Int,
        OGRFieldType::OFTInteger64 => FieldType::Long,
        OGRFieldType::OFTReal => FieldType::Double,
        OGRFieldType::OFTDate | OGRFieldType::OFTDateTime | OGRFieldType::OFTTime => {
            FieldType::DateTime
        }
        _ => FieldType::String,
    }
}

fn value(v: Option<FieldValue>) -> Value {
    fn join<T: ToString>(xs: &[T]) -> Value {
        Value::String(
            xs.iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(","),
        )
    }
    match v {
        None => Value::Null,
        Some(FieldValue::IntegerValue(i)) => Value::Int(i),
        Some(FieldValue::Integer64Value(i)) => Value::Long(i),
        Some(FieldValue::RealValue(x)) => Value::Double(x),
        Some(FieldValue::StringValue(s)) => Value::String(s),
        Some(FieldValue::DateValue(d)) => Value::String(d.format("%Y-%m-%d").to_string()),
        Some(FieldValue::DateTimeValue(d)) => Value::String(d.to_rfc3339()),
        Some(FieldValue::IntegerListValue(v)) => join(&v),
        Some(FieldValue::Integer64ListValue(v)) => join(&v),
        Some(FieldValue::RealListValue(v)) => join(&v),
        Some(FieldValue::StringListValue(v)) => join(&v),
    }
}

fn is_expected_or_unknown(t: OGRwkbGeometryType::Type, expect: Expect) -> bool {
    use OGRwkbGeometryType as T;
    let t = geometry_type_flatten(t);
    match expect {
        Expect::Polygons(_) => [
            T::wkbUnknown,
            T::wkbPolygon,
            T::wkbMultiPolygon,
            T::wkbGeometryCollection,
            T::wkbCurvePolygon,
            T::wkbMultiSurface,
        ]
        .contains(&t),
        Expect::Points(_) => [T::wkbUnknown, T::wkbPoint, T::wkbMultiPoint].contains(&t),
    }
}

/// Opens `source`, checks its layer, CRS and geometry type, and reads every feature.
pub(crate) fn read(
    source: &VectorSource,
    expect: Expect,
    progress: &dyn Progress,
) -> Result<RawLayer> {
    gdal_log::install();
    let path = &source.path;
    let gpath = gdal_path(path)?;
    let options = DatasetOptions {
        open_flags: GdalOpenFlags::GDAL_OF_VECTOR | GdalOpenFlags::GDAL_OF_READONLY,
        ..Default::default()
    };
    tracing::info!(path = %gpath, "opening");
    gdal_log::clear();
    let dataset = Dataset::open_ex(&gpath, options).map_err(|e| Error::Open {
        path: path.clone(),
        message: gdal_log::take().pop().unwrap_or_else(|| e.to_string()),
    })?;
    let driver = dataset.driver().short_name();
    let mut layer = match &source.layer {
        Some(name) => dataset
            .layer_by_name(name)
            .map_err(|_| Error::NoSuchLayer {
                path: path.clone(),
                layer: name.clone(),
                available: dataset
                    .layers()
                    .map(|l| l.name())
                    .collect::<Vec<_>>()
                    .join(", "),
            })?,
        None => dataset.layer(0).map_err(|_| Error::EmptyLayer {
            path: path.clone(),
            layer: "(none)".into(),
        })?,
    };
    let layer_name = layer.name();

    let declared_type = layer.defn().geometry_type();
    if !is_expected_or_unknown(declared_type, expect) {
        let (Expect::Polygons(what) | Expect::Points(what)) = expect;
        return Err(Error::WrongGeometry {
            path: path.clone(),
            layer: layer_name,
            found: geometry_type_to_name(declared_type),
            what,
            kind: match expect {
                Expect::Polygons(_) => "polygons",
                Expect::Points(_) => "points",
            },
        });
    }

    let (crs, crs_from_option) = layer_crs(source, &layer)?;

    let fields: Vec<Field> = layer
        .defn()
        .fields()
        .map(|f| Field::new(f.name(), field_type(f.field_type())))
        .collect();
    let declared = layer.try_feature_count();
    if declared == Some(0) {
        return Err(Error::EmptyLayer {
            path: path.clone(),
            layer: layer_name,
        });
    }
    progress.stage("reading", declared.unwrap_or(0));

    gdal_log::clear();
    let (features, number) = read_features(&mut layer, fields.len(), declared, progress);
    if let Some(message) = gdal_log::take().into_iter().next() {
        return Err(Error::Read {
            path: path.clone(),
            feature: number,
            message,
        });
    }
    if let Some(declared) = declared.filter(|d| number < *d) {
        return Err(Error::Truncated {
            path: path.clone(),
            read: number,
            declared,
        });
    }
    if number == 0 {
        return Err(Error::EmptyLayer {
            path: path.clone(),
            layer: layer_name,
        });
    }
    tracing::info!(features = number, driver = %driver, crs = %crs.code, "read");
    let source_info = SourceInfo {
        path: path.clone(),
        layer: layer_name,
        driver,
        crs: crs.code.clone(),
        crs_name: crs.name.clone(),
        crs_from_option,
    };
    Ok(RawLayer {
        fields,
        features,
        source: source_info,
        crs,
    })
}

/// The layer's CRS: `source.srs` when given (`true`), else the layer's own, which must reach
/// EPSG:4326.
fn layer_crs(source: &VectorSource, layer: &Layer<'_>) -> Result<(Crs, bool)> {
    let path = &source.path;
    Ok(match (&source.srs, layer.spatial_ref()) {
        (Some(s), _) => (
            Crs::from_user_input(s).map_err(|message| Error::UnknownCrs {
                path: path.clone(),
                crs: s.clone(),
                message,
            })?,
            true,
        ),
        (None, Some(srs)) => {
            let crs = Crs::from_spatial_ref(&srs).map_err(|message| Error::UnknownCrs {
                path: path.clone(),
                crs: srs.name().unwrap_or_default(),
                message,
            })?;
            crs.to_wgs84().map_err(|message| Error::UnknownCrs {
                path: path.clone(),
                crs: crs.code.clone(),
                message,
            })?;
            (crs, false)
        }
        (None, None) => return Err(Error::NoCrs { path: path.clone() }),
    })
}

/// Every feature of the layer with its attributes (`fields` of them) and its 2D WKB, and how
/// many were read.
fn read_features(
    layer: &mut Layer<'_>,
    fields: usize,
    declared: Option<u64>,
    progress: &dyn Progress,
) -> (Vec<RawFeature>, u64) {
    let mut features = Vec::with_capacity(declared.unwrap_or(0) as usize);
    let mut number = 0u64;
    for feature in layer.features() {
        number += 1;
        let attributes = (0..fields)
            .map(|i| value(feature.field(i).ok().flatten()))
            .collect();
        // `geometry_by_index` answers None for a feature without geometry before any GDAL call
        // on it (`geometry()` hands out a null handle, and GDAL reports each call on that as
        // an error); such a feature is skipped and listed in the import log ("empty geometry").
        let wkb = feature.geometry_by_index(0).ok().and_then(|g| {
            if g.is_empty() {
                None
            } else if geometry_type_has_z(g.geometry_type()) {
                let mut flat = g.clone();
                flat.flatten_to_2d();
                flat.wkb().ok()
            } else {
                g.wkb().ok()
            }
        });
        features.push(RawFeature {
            number,
            attributes,
            wkb,
        });
        if number.is_multiple_of(4096) {
            progress.advance(4096);
        }
    }
    progress.advance(number % 4096);
    (features, number)
}
