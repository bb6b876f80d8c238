//! Per-feature geometry work: parse WKB, validate (OGC rules), repair with GDAL MakeValid,
//! reproject to EPSG:4326 with PROJ, orient rings (areas: [`crate::area`]).

use gdal::cpl::CslStringList;
use geo::orient::Direction;
use geo::{Geometry, LineString, MultiPolygon, Orient, Polygon, Validation};
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
    if polygons.is_empty() {
        return Err("empty geometry".into());
    }
    polygons.retain(|p| bounds_an_area(p.exterior()));
    if polygons.is_empty() {
        return Err("degenerate polygon: fewer than 3 distinct vertices, no area".into());
    }
    Ok(MultiPolygon(polygons))
}

/// Whether `ring` has at least 3 distinct vertices (bit for bit): whether it can bound an area.
/// Stops at the third, without sorting or allocating: every feature goes through it.
fn bounds_an_area(ring: &LineString<f64>) -> bool {
    let key = |c: &geo::Coord<f64>| (c.x.to_bits(), c.y.to_bits());
    let mut coords = ring.0.iter().map(key);
    let Some(a) = coords.next() else {
        return false;
    };
    let mut b = None;
    for c in coords {
        match b {
            None if c != a => b = Some(c),
            Some(b) if c != a && c != b => return true,
            _ => {}
        }
    }
    false
}

/// Drops rings with fewer than 3 distinct vertices: they bound nothing, and GEOS refuses them
/// ("point array must contain 0 or >1 elements") before MakeValid can start.
fn drop_degenerate_rings(geometry: &MultiPolygon<f64>) -> MultiPolygon<f64> {
    MultiPolygon(
        geometry
            .iter()
            .filter(|p| bounds_an_area(p.exterior()))
            .map(|p| {
                let holes = p
                    .interiors()
                    .iter()
                    .filter(|r| bounds_an_area(r))
                    .cloned()
                    .collect();
                Polygon::new(p.exterior().clone(), holes)
            })
            .collect(),
    )
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

/// Vertex count above which GEOS (through GDAL) checks validity instead of `geo`: geo's check
/// compares every pair of segments, which made one 3,300-vertex road polygon with 42 holes in
/// Cambridge cost more than the other 13,000 parcels together; GEOS indexes the segments.
const GEOS_VALIDATION_VERTICES: usize = 256;

fn vertex_count(geometry: &MultiPolygon<f64>) -> usize {
    geometry
        .iter()
        .map(|p| p.exterior().0.len() + p.interiors().iter().map(|r| r.0.len()).sum::<usize>())
        .sum()
}

/// What GEOS (through GDAL) says of a geometry with many vertices: `Ok` when valid, else its
/// reason (GEOS's words with the point, e.g. "Ring Self-intersection at or near point x y");
/// `None` for a small geometry, or one GDAL cannot read. `wkb` is its WKB when at hand.
fn geos_validity(geometry: &MultiPolygon<f64>, wkb: Option<&[u8]>) -> Option<Result<(), String>> {
    if vertex_count(geometry) <= GEOS_VALIDATION_VERTICES {
        return None;
    }
    // A GDAL geometry built and dropped in this thread: OGR/GEOS calls on separate objects are
    // thread-safe.
    let owned;
    let wkb = match wkb {
        Some(w) => w,
        None => {
            owned = Geometry::MultiPolygon(geometry.clone())
                .to_wkb(CoordDimensions::xy())
                .ok()?;
            &owned
        }
    };
    let g = gdal::vector::Geometry::from_wkb(wkb).ok()?;
    let (valid, reason) = crate::gdal_log::with_warning(|| g.is_valid());
    Some(if valid {
        Ok(())
    } else {
        Err(reason.map_or_else(
            || "invalid according to GEOS".to_owned(),
            |r| format!("{} (GEOS)", r.to_lowercase()),
        ))
    })
}

/// Whether `geometry` is OGC-valid.
fn is_valid(geometry: &MultiPolygon<f64>) -> bool {
    first_problem(geometry, None).is_none()
}

/// The first OGC validity problem of `geometry`, if any: GEOS's reason for a geometry with many
/// vertices, `geo`'s for the others. `wkb` is its WKB when at hand.
fn first_problem(geometry: &MultiPolygon<f64>, wkb: Option<&[u8]>) -> Option<String> {
    match geos_validity(geometry, wkb) {
        Some(verdict) => verdict.err(),
        None => geometry.check_validation().err().map(|p| p.to_string()),
    }
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
    if let Some(reason) = first_problem(&geometry, Some(wkb)) {
        return Outcome::Invalid {
            source: geometry,
            reason,
        };
    }
    match to_wgs84(geometry, crs) {
        Ok(g) => Outcome::Valid(g),
        Err(reason) => Outcome::Rejected(reason),
    }
}

/// Repairs an invalid geometry (one [`process`] found invalid) with GDAL's MakeValid (GEOS),
/// keeping its polygonal parts.
///
/// MakeValid's `STRUCTURE` method (GEOS 3.10+): exterior rings unioned, holes taken out, what
/// PostGIS recommends for polygons; on Cambridge's two self-touching road polygons of 17,000
/// and 18,600 vertices it takes half the time of the default `LINEWORK`, and gives the same
/// areas where a ring only touches itself.
pub(crate) fn repair(geometry: &MultiPolygon<f64>) -> Result<MultiPolygon<f64>, String> {
    let cleaned = drop_degenerate_rings(geometry);
    if cleaned.0.is_empty() {
        return Err("nothing left after dropping degenerate rings".into());
    }
    // Dropping degenerate rings may be all the repair needed; when it dropped nothing, the
    // geometry is the invalid one given, not worth a second check.
    if cleaned != *geometry && is_valid(&cleaned) {
        return Ok(cleaned);
    }
    let wkb = Geometry::MultiPolygon(cleaned)
        .to_wkb(CoordDimensions::xy())
        .map_err(|e| e.to_string())?;
    let ogr = gdal::vector::Geometry::from_wkb(&wkb).map_err(|e| e.to_string())?;
    let valid = ogr
        .make_valid(&{
            let mut options = CslStringList::new();
            options
                .set_name_value("METHOD", "STRUCTURE")
                .map_err(|e| e.to_string())?;
            options
        })
        .map_err(|e| format!("MakeValid failed: {e}"))?;
    let mut polygons = Vec::new();
    collect_polygons(valid.to_geo().map_err(|e| e.to_string())?, &mut polygons);
    polygons.retain(|p| p.exterior().0.len() >= 4);
    if polygons.is_empty() {
        return Err("MakeValid left no polygon".into());
    }
    let repaired = MultiPolygon(polygons);
    match first_problem(&repaired, None) {
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
    fn a_ring_bounds_an_area_from_its_third_distinct_vertex() {
        let ring = |pts: &[(f64, f64)]| LineString::from(pts.to_vec());
        assert!(!bounds_an_area(&ring(&[])));
        assert!(!bounds_an_area(&ring(&[
            (0.0, 0.0),
            (1.0, 1.0),
            (0.0, 0.0)
        ])));
        assert!(!bounds_an_area(&ring(&[
            (0.0, 0.0),
            (0.0, 0.0),
            (1.0, 1.0),
            (1.0, 1.0),
            (0.0, 0.0)
        ])));
        assert!(bounds_an_area(&ring(&[
            (0.0, 0.0),
            (1.0, 0.0),
            (0.0, 0.0),
            (1.0, 1.0)
        ])));
        assert!(bounds_an_area(&ring(&[
            (0.0, 0.0),
            (1.0, 0.0),
            (1.0, 1.0),
            (0.0, 0.0)
        ])));
    }

    #[test]
    fn degenerate_hole_is_dropped_rather_than_failing_make_valid() {
        let outer = polygon![(x: 0.0, y: 0.0), (x: 10.0, y: 0.0), (x: 10.0, y: 10.0), (x: 0.0, y: 10.0), (x: 0.0, y: 0.0)];
        let hole = LineString::from(vec![(2.0, 2.0), (3.0, 3.0), (2.0, 2.0)]);
        let g = MultiPolygon(vec![Polygon::new(outer.exterior().clone(), vec![hole])]);
        assert!(!g.is_valid());
        let repaired = repair(&g).expect("repairable");
        assert!((repaired.unsigned_area() - 100.0).abs() < 1e-9);
    }

    #[test]
    fn clockwise_input_comes_out_counter_clockwise() {
        let cw = MultiPolygon(vec![
            polygon![(x: 0.0, y: 0.0), (x: 0.0, y: 0.001), (x: 0.001, y: 0.001), (x: 0.001, y: 0.0), (x: 0.0, y: 0.0)],
        ]);
        let out = to_wgs84(cw, &Crs::wgs84()).expect("ok");
        assert!(out.0[0].signed_area() > 0.0);
        // ~111 m x ~110.6 m at the equator.
        let a = crate::area::area_m2(&out);
        assert!((a - 12_308.0).abs() < 20.0, "{a}");
    }
}
