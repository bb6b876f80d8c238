//! Per-feature geometry work: parse WKB, validate (OGC rules), repair with GDAL MakeValid,
//! reproject to EPSG:4326 with PROJ, orient rings, measure geodesic area.

use gdal::cpl::CslStringList;
use geo::orient::Direction;
use geo::{GeodesicArea, Geometry, MultiPolygon, Orient, Validation};
use geozero::{wkb::Wkb, CoordDimensions, ToGeo, ToWkb};
use proj::Transform;

use crate::crs::{with_to_wgs84, Crs};

/// What became of one feature's geometry.
pub(crate) enum Outcome {
    /// Valid, reprojected to EPSG:4326 and oriented.
    Valid(MultiPolygon<f64>),
    /// Invalid by OGC rules; the geometry in the source CRS and the reason.
    Invalid {
        source: MultiPolygon<f64>,
        reason: String,
    },
    /// Cannot be used (empty, not a polygon, not reprojectable), with the reason.
    Rejected(String),
}

fn polygons_of(geometry: Geometry<f64>, out: &mut Vec<geo::Polygon<f64>>) -> Result<(), String> {
    match geometry {
        Geometry::Polygon(p) => out.push(p),
        Geometry::MultiPolygon(mp) => out.extend(mp.0),
        Geometry::GeometryCollection(gc) => {
            for g in gc.0 {
                polygons_of(g, out)?;
            }
        }
        // Lines and points left over by MakeValid on collapsed parts carry no area.
        other => return Err(format!("{} geometry, not a polygon", kind_name(&other))),
    }
    Ok(())
}

fn kind_name(g: &Geometry<f64>) -> &'static str {
    match g {
        Geometry::Point(_) => "a Point",
        Geometry::MultiPoint(_) => "a MultiPoint",
        Geometry::Line(_) | Geometry::LineString(_) => "a LineString",
        Geometry::MultiLineString(_) => "a MultiLineString",
        _ => "an unsupported",
    }
}

/// Parses polygonal WKB into a MultiPolygon.
pub(crate) fn parse_polygons(wkb: &[u8]) -> Result<MultiPolygon<f64>, String> {
    let geometry = Wkb(wkb)
        .to_geo()
        .map_err(|e| format!("unreadable geometry: {e}"))?;
    let mut polygons = Vec::new();
    polygons_of(geometry, &mut polygons)?;
    polygons.retain(|p| p.exterior().0.len() >= 4);
    if polygons.is_empty() {
        return Err("empty geometry".into());
    }
    Ok(MultiPolygon(polygons))
}

/// Reprojects to EPSG:4326 (lon/lat), orients rings OGC-style and checks the result is finite.
pub(crate) fn to_wgs84(
    mut geometry: MultiPolygon<f64>,
    crs: &Crs,
) -> Result<MultiPolygon<f64>, String> {
    with_to_wgs84(crs, |proj| geometry.transform(proj))?
        .map_err(|e| format!("reprojection failed: {e}"))?;
    let finite = geometry.iter().all(|p| {
        std::iter::once(p.exterior())
            .chain(p.interiors())
            .all(|r| r.0.iter().all(|c| c.x.is_finite() && c.y.is_finite()))
    });
    if !finite {
        return Err("reprojection failed: coordinates outside the CRS's domain".into());
    }
    Ok(geometry.orient(Direction::Default))
}

/// Parses, validates and reprojects one feature's WKB.
pub(crate) fn process(wkb: Option<&[u8]>, crs: &Crs) -> Outcome {
    let Some(wkb) = wkb else {
        return Outcome::Rejected("empty geometry".into());
    };
    let geometry = match parse_polygons(wkb) {
        Ok(g) => g,
        Err(reason) => return Outcome::Rejected(reason),
    };
    if let Some(problem) = geometry.validation_errors().into_iter().next() {
        return Outcome::Invalid {
            source: geometry,
            reason: problem.to_string(),
        };
    }
    match to_wgs84(geometry, crs) {
        Ok(g) => Outcome::Valid(g),
        Err(reason) => Outcome::Rejected(reason),
    }
}

/// Repairs an invalid geometry with GDAL's MakeValid (GEOS), keeping its polygonal parts.
pub(crate) fn repair(geometry: &MultiPolygon<f64>) -> Result<MultiPolygon<f64>, String> {
    let wkb = Geometry::MultiPolygon(geometry.clone())
        .to_wkb(CoordDimensions::xy())
        .map_err(|e| e.to_string())?;
    let ogr = gdal::vector::Geometry::from_wkb(&wkb).map_err(|e| e.to_string())?;
    let valid = ogr
        .make_valid(&CslStringList::new())
        .map_err(|e| format!("MakeValid failed: {e}"))?;
    let mut polygons = Vec::new();
    collect_polygons(valid.to_geo().map_err(|e| e.to_string())?, &mut polygons);
    polygons.retain(|p| p.exterior().0.len() >= 4);
    if polygons.is_empty() {
        return Err("MakeValid left no polygon".into());
    }
    let repaired = MultiPolygon(polygons);
    match repaired.validation_errors().into_iter().next() {
        Some(problem) => Err(format!("still invalid after MakeValid: {problem}")),
        None => Ok(repaired),
    }
}

fn collect_polygons(geometry: Geometry<f64>, out: &mut Vec<geo::Polygon<f64>>) {
    match geometry {
        Geometry::Polygon(p) => out.push(p),
        Geometry::MultiPolygon(mp) => out.extend(mp.0),
        Geometry::GeometryCollection(gc) => gc.0.into_iter().for_each(|g| collect_polygons(g, out)),
        _ => {}
    }
}

/// Geodesic area on the WGS 84 ellipsoid, m².
pub(crate) fn area_m2(geometry: &MultiPolygon<f64>) -> f64 {
    geometry.geodesic_area_unsigned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use geo::{polygon, Area};

    fn bowtie() -> MultiPolygon<f64> {
        MultiPolygon(vec![
            polygon![(x: 0.0, y: 0.0), (x: 10.0, y: 10.0), (x: 0.0, y: 10.0), (x: 10.0, y: 0.0), (x: 0.0, y: 0.0)],
        ])
    }

    #[test]
    fn bowtie_is_invalid_and_repairs_into_two_triangles() {
        let wkb = Geometry::MultiPolygon(bowtie())
            .to_wkb(CoordDimensions::xy())
            .expect("wkb");
        match process(Some(&wkb), &Crs::wgs84()) {
            Outcome::Invalid { reason, .. } => assert!(!reason.is_empty()),
            _ => panic!("a bowtie must be invalid"),
        }
        let repaired = repair(&bowtie()).expect("repairable");
        assert_eq!(repaired.0.len(), 2);
        assert!((repaired.unsigned_area() - 50.0).abs() < 1e-9);
    }

    #[test]
    fn points_and_empty_geometries_are_rejected_with_a_reason() {
        let point = Geometry::Point(geo::Point::new(1.0, 2.0))
            .to_wkb(CoordDimensions::xy())
            .expect("wkb");
        match process(Some(&point), &Crs::wgs84()) {
            Outcome::Rejected(r) => assert!(r.contains("Point"), "{r}"),
            _ => panic!("a point is not a parcel"),
        }
        assert!(matches!(process(None, &Crs::wgs84()), Outcome::Rejected(_)));
    }

    #[test]
    fn clockwise_input_comes_out_counter_clockwise() {
        let cw = MultiPolygon(vec![
            polygon![(x: 0.0, y: 0.0), (x: 0.0, y: 0.001), (x: 0.001, y: 0.001), (x: 0.001, y: 0.0), (x: 0.0, y: 0.0)],
        ]);
        let out = to_wgs84(cw, &Crs::wgs84()).expect("ok");
        assert!(out.0[0].signed_area() > 0.0);
        // ~111 m x ~110.6 m at the equator.
        let a = area_m2(&out);
        assert!((a - 12_308.0).abs() < 20.0, "{a}");
    }
}
