//! Reports from a point layer of any format GDAL reads (GeoJSON, Shapefile, GeoPackage, a WFS
//! capture...), in any CRS PROJ knows, with the same TOML mapping as CSV: `[columns]` name the
//! layer's attributes; the geometry gives the point (reprojected to WGS 84), so `lat`/`lon` are
//! not needed; a layer without an id attribute uses the feature number.

use geozero::wkb::Wkb;
use geozero::ToGeo;

use super::csv::CsvMapping;
use super::{Coords, Raw, ReadOptions, ReportRows};
use crate::crs::with_to_wgs84;
use crate::error::{Error, Result};
use crate::progress::Progress;
use crate::vector::{read, Expect, RawLayer, VectorSource};

/// The point of a WKB geometry (a multipoint's first point), in the layer's CRS.
fn point(wkb: &[u8]) -> std::result::Result<(f64, f64), String> {
    match Wkb(wkb).to_geo().map_err(|e| e.to_string())? {
        geo::Geometry::Point(p) => Ok((p.x(), p.y())),
        geo::Geometry::MultiPoint(m) => {
            m.0.first()
                .map(|p| (p.x(), p.y()))
                .ok_or_else(|| "empty multipoint".to_owned())
        }
        other => Err(format!("not a point: {other:?}")),
    }
}

/// Reads the point layer of `source` as reports with `mapping`.
///
/// # Errors
/// As for parcels: a missing file, no CRS (give `--srs`), a non-point layer, an empty layer, a
/// mapped attribute the layer lacks; a mapping without a time zone or status vocabulary.
/// Features that cannot be read are listed with their number.
pub fn read_vector_reports(
    source: &VectorSource,
    mapping: &CsvMapping,
    options: ReadOptions,
    progress: &dyn Progress,
) -> Result<ReportRows> {
    let layer = read(source, Expect::Points("reports"), progress)?;
    let path = &source.path;
    let col = |name: &Option<String>| field_position(&layer, path, name.as_deref());
    let c = &mapping.columns;
    let (id, created, status) = (col(&c.id)?, col(&c.created_at)?, col(&c.status)?);
    let o = c.optional(&col)?;
    let keep_private = options.keep_private;
    let private: Vec<(usize, &str)> = mapping
        .private
        .columns
        .iter()
        .filter_map(|name| {
            Some((
                layer.fields.iter().position(|f| &f.name == name)?,
                name.as_str(),
            ))
        })
        .collect();
    let mut n = mapping
        .normalizer("vector", options)
        .map_err(|message| Error::Mapping {
            path: path.clone(),
            message,
        })?;
    for (field, column) in [
        ("id", &c.id),
        ("created_at", &c.created_at),
        ("status", &c.status),
    ] {
        if let Some(column) = column {
            n.names.insert(field, format!("attribute {column}"));
        }
    }
    let crs = layer.crs.clone();
    for f in &layer.features {
        n.out.read += 1;
        let text: Vec<Option<String>> = f
            .attributes
            .iter()
            .map(|v| Some(v.to_string()).filter(|s| !s.trim().is_empty()))
            .collect();
        let field = |i: Option<usize>| i.and_then(|i| text[i].as_deref()).map(str::trim);
        let or_default = |i: Option<usize>, name: &str| field(i).or_else(|| mapping.default(name));
        let number = f.number.to_string();
        let coords = match f.wkb.as_deref().map(point) {
            None => Coords::Point(None),
            Some(Err(e)) => {
                n.refuse(f.number, field(id), format!("feature {}: {e}", f.number));
                continue;
            }
            Some(Ok(xy)) => {
                let lonlat = with_to_wgs84(&crs, |p| p.convert(xy)).map_err(|message| {
                    Error::UnknownCrs {
                        path: path.clone(),
                        crs: crs.code.clone(),
                        message,
                    }
                })?;
                match lonlat {
                    Ok(ll) => Coords::Point(Some(ll)),
                    Err(e) => {
                        n.refuse(
                            f.number,
                            field(id),
                            format!(
                                "cannot reproject ({}, {}) from {}: {e}",
                                xy.0, xy.1, crs.code
                            ),
                        );
                        continue;
                    }
                }
            }
        };
        n.push(Raw {
            line: f.number,
            id: field(id).or(if c.id.is_none() { Some(&number) } else { None }),
            created_at: or_default(created, "created_at"),
            acknowledged_at: field(o.ack),
            closed_at: field(o.closed),
            deadline_at: field(o.deadline),
            status: or_default(status, "status"),
            on_time: field(o.on_time),
            category: or_default(o.category, "category"),
            department: or_default(o.department, "department"),
            channel: or_default(o.channel, "channel"),
            area: field(o.area),
            address: field(o.address),
            parcel_ref: field(o.parcel_ref),
            coords: Some(coords),
            private: if keep_private {
                private
                    .iter()
                    .filter_map(|&(i, name)| Some((name, text[i].as_deref()?)))
                    .collect()
            } else {
                Vec::new()
            },
            ..Default::default()
        });
    }
    Ok(n.out)
}

/// The position of the attribute `name` of `layer` (none asked, none given), or an error naming
/// the file, the layer and the attributes there are.
fn field_position(layer: &RawLayer, path: &str, name: Option<&str>) -> Result<Option<usize>> {
    name.map(|name| {
        layer
            .fields
            .iter()
            .position(|f| f.name == name)
            .ok_or_else(|| Error::NoSuchField {
                path: path.to_owned(),
                layer: layer.source.layer.clone(),
                field: name.to_owned(),
                available: layer
                    .fields
                    .iter()
                    .map(|f| f.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
            })
    })
    .transpose()
}
