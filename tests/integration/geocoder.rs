//! The geocoder against GEOS on the cadastres where it is hardest: Cambridge's ROAD parcels
//! of thousands of vertices, which the geocoder answers through its edge index.

use std::fs;

use predio_engine::{Geocoder, MatchKind, ParcelLayer};

use crate::support::{arg, current_parcels, predio_ok, python, python_json, shared, version_dir};

/// Metres per degree at Cambridge's latitude, near enough to place test points.
const M_PER_DEG: (f64, f64) = (82_200.0, 111_080.0);

fn vertex_count(g: &geo::MultiPolygon<f64>) -> usize {
    g.iter()
        .map(|p| p.exterior().0.len() + p.interiors().iter().map(|r| r.0.len()).sum::<usize>())
        .sum()
}

/// Points on, just inside and just outside the edges and vertices of the parcels `big`
/// (every 7th edge), points 3 to 26 m off those edges on both sides, and random points.
fn probe_points(parcels: &ParcelLayer, big: &[usize]) -> Vec<(f64, f64)> {
    let mut points = Vec::new();
    for &i in big {
        for polygon in &parcels.parcels[i].geometry {
            for ring in std::iter::once(polygon.exterior()).chain(polygon.interiors()) {
                for w in ring.0.windows(2).step_by(7) {
                    let (a, b) = (w[0], w[1]);
                    let (dx, dy) = ((b.x - a.x) * M_PER_DEG.0, (b.y - a.y) * M_PER_DEG.1);
                    let len = dx.hypot(dy);
                    if len == 0.0 {
                        continue;
                    }
                    // the unit normal, in metres, then in degrees per metre
                    let (nx, ny) = (-dy / len / M_PER_DEG.0, dx / len / M_PER_DEG.1);
                    let (mx, my) = ((a.x + b.x) / 2.0, (a.y + b.y) / 2.0);
                    points.push((a.x, a.y));
                    points.push((mx, my));
                    for m in [0.0001, 0.01, 3.0, 12.0, 24.0, 26.0] {
                        points.push((mx + nx * m, my + ny * m));
                        points.push((mx - nx * m, my - ny * m));
                    }
                }
            }
        }
    }
    let bbox = parcels.bbox().expect("bbox");
    let mut next = crate::support::uniform(0x2545_f491_4f6c_dd1d);
    for _ in 0..30_000 {
        points.push((
            bbox.west + next() * (bbox.east - bbox.west),
            bbox.south + next() * (bbox.north - bbox.south),
        ));
    }
    points
}

/// Property test of the edge index on Cambridge's shapefile (EPSG:2249, imported by `predio`):
/// points on, just inside (0.1 mm, 1 cm) and just outside the edges and vertices of its four
/// largest parcels (ROAD, 4,248 to 18,604 vertices), points 3 to 26 m off them, and random
/// points, located by the geocoder and classified by GEOS (shapely). Inside or on a boundary:
/// the first parcel in catalog order that holds the point, its interior first. Elsewhere: the
/// nearest parcel within 25 m, the distance equal to PROJ-planar EPSG:26986's within 0.01 m.
#[test]
fn cambridge_road_polygons_are_located_as_geos_and_proj_locate_them() {
    let Some(shp) = shared("cambridge-parcels/cambridge_parcels_FY2014_epsg2249.shp") else {
        return;
    };
    let data = tempfile::tempdir().expect("tempdir");
    let d = data.path();
    predio_ok(d, &["import", "parcels", arg(&shp)]);
    let fgb = version_dir(d).join("parcels.fgb");
    let parcels = current_parcels(d);
    let mut by_size: Vec<usize> = (0..parcels.parcels.len()).collect();
    by_size.sort_by_key(|&i| std::cmp::Reverse(vertex_count(&parcels.parcels[i].geometry)));
    let big = &by_size[..4];
    let sizes: Vec<usize> = big
        .iter()
        .map(|&i| vertex_count(&parcels.parcels[i].geometry))
        .collect();
    assert!(sizes.iter().all(|&n| n > 4_000), "{sizes:?}");

    let points = probe_points(&parcels, big);
    let csv = d.join("points.csv");
    let text: String = points.iter().map(|(x, y)| format!("{x},{y}\n")).collect();
    fs::write(&csv, text).expect("write");
    let script = crate::support::workspace().join("tests/integration/edges_check.py");
    let geos = python_json(&python(), &[arg(&script), arg(&fgb), arg(&csv), "26986"]);
    let list = |key: &str, k: usize| -> Vec<usize> {
        geos[key][k]
            .as_array()
            .expect("list")
            .iter()
            .map(|v| v.as_u64().expect("index") as usize)
            .collect()
    };

    let geocoder = Geocoder::new(&parcels, None, Geocoder::DEFAULT_TOLERANCE_M);
    let mut seen = std::collections::BTreeMap::<&str, usize>::new();
    for (k, &(x, y)) in points.iter().enumerate() {
        let m = geocoder.locate(x, y);
        let (within, touching) = (list("within", k), list("touching", k));
        let near: Vec<(usize, f64)> = geos["near"][k]
            .as_array()
            .expect("near")
            .iter()
            .map(|p| {
                (
                    p[0].as_u64().expect("i") as usize,
                    p[1].as_f64().expect("d"),
                )
            })
            .collect();
        let at = format!("point {k} ({x}, {y})");
        if let Some(&first) = within.iter().min() {
            assert_eq!((m.kind, m.parcel), (MatchKind::Inside, Some(first)), "{at}");
            *seen.entry("inside").or_default() += 1;
        } else if let Some(&first) = touching.iter().min() {
            assert_eq!(
                (m.kind, m.parcel),
                (MatchKind::Inside, Some(first)),
                "{at}: on a boundary"
            );
            *seen.entry("on a boundary").or_default() += 1;
        } else {
            let best = near.iter().map(|n| n.1).fold(f64::INFINITY, f64::min);
            if (best - 25.0).abs() < 0.01 {
                continue; // at the tolerance itself, either answer is right
            }
            if best < 25.0 {
                assert_eq!(
                    m.kind,
                    MatchKind::Nearest,
                    "{at}: GEOS has a parcel {best} m away"
                );
                let i = m.parcel.expect("a nearest parcel");
                let geos_d = near
                    .iter()
                    .find(|n| n.0 == i)
                    .map_or(f64::INFINITY, |n| n.1);
                let d = m.distance_m.expect("distance");
                assert!(
                    (d - geos_d).abs() < 0.01,
                    "{at}: predio {d} m, PROJ {geos_d} m"
                );
                assert!(
                    geos_d - best < 0.01,
                    "{at}: a parcel at {best} m, predio's at {geos_d} m"
                );
                *seen.entry("nearest").or_default() += 1;
            } else {
                assert_eq!(m.kind, MatchKind::None, "{at}");
                *seen.entry("none").or_default() += 1;
            }
        }
    }
    // Every case is met, often: boundaries by the vertices alone.
    assert!(
        seen.len() == 4 && seen.values().all(|&n| n > 1_000),
        "{seen:?}"
    );
}
