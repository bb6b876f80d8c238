//! The geocoder against hand-made parcels: inside, on boundaries, nearest, none, sectors, cells.

use super::*;
use crate::model::{Parcel, ParcelId, Sector};
use geo::{polygon, MultiPolygon};

/// Two 0.001° squares side by side at the equator (about 111 m each).
fn layer() -> ParcelLayer {
    let sq = |x0: f64| {
        MultiPolygon(vec![
            polygon![(x: x0, y: 0.0), (x: x0 + 0.001, y: 0.0), (x: x0 + 0.001, y: 0.001), (x: x0, y: 0.001), (x: x0, y: 0.0)],
        ])
    };
    ParcelLayer {
        fields: vec![],
        parcels: ["A", "B"]
            .iter()
            .enumerate()
            .map(|(i, id)| Parcel {
                id: ParcelId::new(*id),
                sector_id: Some(SectorId::new("S")),
                area_m2: 0.0,
                geometry: sq(i as f64 * 0.001),
                attributes: vec![],
            })
            .collect(),
    }
}

#[test]
fn inside_nearest_and_none() {
    let parcels = layer();
    let g = Geocoder::new(&parcels, None, 25.0);
    let m = g.locate(0.0015, 0.0005);
    assert_eq!(
        (m.parcel, m.kind, m.distance_m),
        (Some(1), MatchKind::Inside, Some(0.0))
    );
    assert_eq!(m.sector.as_ref().map(SectorId::as_str), Some("S"));
    // 0.0001° (about 11 m) south of parcel A.
    let m = g.locate(0.0005, -0.0001);
    assert_eq!((m.parcel, m.kind), (Some(0), MatchKind::Nearest));
    let d = m.distance_m.expect("distance");
    assert!((d - 11.06).abs() < 0.05, "{d}");
    // 0.0003° (about 33 m) away: beyond 25 m.
    let m = g.locate(0.0005, -0.0003);
    assert_eq!(
        (m.parcel, m.kind, m.distance_m),
        (None, MatchKind::None, None)
    );
}

#[test]
fn shared_boundary_goes_to_the_first_parcel() {
    let parcels = layer();
    let g = Geocoder::new(&parcels, None, 25.0);
    assert_eq!(g.locate(0.001, 0.0005).parcel, Some(0));
    // The outer edges of the layer are boundaries too, the north-east corner included.
    for (x, y, p) in [
        (0.002, 0.0005, 1),
        (0.0015, 0.001, 1),
        (0.002, 0.001, 1),
        (0.0, 0.0, 0),
    ] {
        let m = g.locate(x, y);
        assert_eq!((m.parcel, m.kind), (Some(p), MatchKind::Inside), "{x} {y}");
    }
}

#[test]
fn reused_h3_cells_equal_h3o() {
    // Walks of points in spatial order (as geocode_reports takes them) at several places:
    // Seoul, the equator, 60° N, Montevideo, by the antimeridian, at a pentagon and near
    // the 80° limit; steps of 3 to 60 m with jumps. Every cell must be h3o's own.
    let pentagon = pentagon_centre();
    let places = [
        (127.08, 37.51),
        (0.0, 0.0),
        (10.0, 60.0),
        (-56.19, -34.9),
        (179.999, -16.5),
        (pentagon.lng(), pentagon.lat()),
        (20.0, 79.99),
    ];
    // Steps from two Weyl sequences (fractional parts of multiples of irrationals): even,
    // deterministic, different in each axis.
    let mut k = 0u32;
    let mut next = || {
        k += 1;
        (f64::from(k)
            * if k.is_multiple_of(2) {
                0.618_033_988_7
            } else {
                0.414_213_562_4
            })
        .fract()
    };
    let mut reused = 0;
    for res in [5u8, 7, 8, 9, 10, 12, 15] {
        let res = h3o::Resolution::try_from(res).expect("res");
        for &(lon0, lat0) in &places {
            let mut cache = CellCache::new(res);
            let (mut lon, mut lat) = (lon0, lat0);
            for step in 0..4000 {
                let jump = if step % 500 == 0 { 0.01 } else { 0.0006 };
                lon += (next() - 0.5) * jump;
                lat += (next() - 0.5) * jump * 0.5;
                let direct = h3o::LatLng::new(lat, lon)
                    .ok()
                    .map(|ll| u64::from(ll.to_cell(res)));
                reused += usize::from(cache.reuse(lon, lat).is_some());
                assert_eq!(cache.cell(lon, lat), direct, "res {res} at {lon},{lat}");
            }
        }
    }
    // The disc does its work: at resolutions 7 to 9 (cells of 1.4 km to 170 m) most points
    // skip h3o.
    assert!(reused > 3 * 7 * 4000 / 2, "{reused}");
}

#[test]
fn point_in_no_parcel_still_gets_its_sector() {
    let parcels = layer();
    let sectors = SectorLayer {
        fields: vec![],
        sectors: vec![Sector {
            id: SectorId::new("Z"),
            name: "Z".into(),
            population: None,
            area_m2: 0.0,
            geometry: MultiPolygon(vec![
                polygon![(x: -1.0, y: -1.0), (x: 1.0, y: -1.0), (x: 1.0, y: 1.0), (x: -1.0, y: 1.0), (x: -1.0, y: -1.0)],
            ]),
            attributes: vec![],
        }],
    };
    let g = Geocoder::new(&parcels, Some(&sectors), 25.0);
    let m = g.locate(0.5, 0.5);
    assert_eq!(
        (m.kind, m.sector.as_ref().map(SectorId::as_str)),
        (MatchKind::None, Some("Z"))
    );
}

/// A cadastre with a road-like parcel of many vertices: a comb of 60 teeth (each tooth's tip
/// a jagged run of vertices, some edges horizontal, some vertical), with a many-sided hole
/// (a star) and a second polygon, plus small square parcels between the teeth, one of them
/// overlapping the comb, one listed before it. Coordinates about Cambridge (42.37° N).
fn comb_layer() -> ParcelLayer {
    let (x0, y0) = (-71.12, 42.36);
    let tooth = 0.0004;
    let mut ring = vec![(x0, y0)];
    for t in 0..60 {
        let x = x0 + t as f64 * tooth;
        // up the tooth's left side, a jagged tip, down its right side, along the bottom
        ring.push((x, y0 + 0.002));
        for k in 1..6 {
            let jag = if k % 2 == 0 { 0.00003 } else { 0.0 };
            ring.push((x + k as f64 * tooth / 12.0, y0 + 0.012 + jag));
        }
        ring.push((x + tooth / 2.0, y0 + 0.002));
        ring.push((x + tooth, y0 + 0.002));
    }
    ring.push((x0 + 60.0 * tooth, y0));
    ring.push((x0, y0));
    let hole: Vec<(f64, f64)> = (0..=40)
        .map(|k| {
            let a = std::f64::consts::TAU * f64::from(k % 40) / 40.0;
            let r = if k % 2 == 0 { 0.0008 } else { 0.0004 };
            (x0 + 0.012 + r * a.cos(), y0 + 0.001 + r * a.sin() * 0.9)
        })
        .collect();
    let other: Vec<(f64, f64)> = (0..=30)
        .map(|k| {
            let a = std::f64::consts::TAU * f64::from(k % 30) / 30.0;
            (x0 + 0.006 + 0.0015 * a.cos(), y0 - 0.003 + 0.0011 * a.sin())
        })
        .collect();
    let comb = MultiPolygon(vec![
        geo::Polygon::new(ring.into(), vec![hole.into()]),
        geo::Polygon::new(other.into(), vec![]),
    ]);
    let square = |x: f64, y: f64, s: f64| {
        MultiPolygon(vec![
            polygon![(x: x, y: y), (x: x + s, y: y), (x: x + s, y: y + s), (x: x, y: y + s), (x: x, y: y)],
        ])
    };
    let parcel = |id: String, geometry| Parcel {
        id: ParcelId::new(id),
        sector_id: None,
        area_m2: 0.0,
        geometry,
        attributes: vec![],
    };
    // One square before the comb in the layer, over a tooth's tip and a gap.
    let mut parcels = vec![parcel(
        "first".into(),
        square(x0 + 0.0101, y0 + 0.0105, 0.0006),
    )];
    parcels.push(parcel("comb".into(), comb));
    for t in 0..59 {
        let x = x0 + t as f64 * tooth + tooth / 2.0;
        parcels.push(parcel(
            format!("gap{t}"),
            square(x + 0.00002, y0 + 0.004, 0.00016),
        ));
    }
    ParcelLayer {
        fields: vec![],
        parcels,
    }
}

#[test]
fn edge_index_answers_as_the_whole_ring_does() {
    let parcels = comb_layer();
    let indexed = Geocoder::with_big_vertices(&parcels, 16);
    let whole = Geocoder::with_big_vertices(&parcels, usize::MAX);
    assert!(!indexed.grid.big.cells.is_empty() && whole.grid.big.cells.is_empty());
    // Every vertex, every edge's midpoint, points a hair either side of each, points on the
    // horizontal lines through the vertices, and random points over the extent and around.
    let mut points = Vec::new();
    for p in &parcels.parcels {
        for polygon in &p.geometry {
            for ring in std::iter::once(polygon.exterior()).chain(polygon.interiors()) {
                for w in ring.0.windows(2) {
                    let (a, b) = (w[0], w[1]);
                    let (mx, my) = ((a.x + b.x) / 2.0, (a.y + b.y) / 2.0);
                    points.extend([(a.x, a.y), (mx, my), (mx, a.y), (a.x + 1e-4, a.y)]);
                    for e in [1e-9, 1e-7, 2e-5] {
                        points.extend([(mx + e, my), (mx - e, my), (mx, my + e), (mx, my - e)]);
                    }
                }
            }
        }
    }
    let mut state = 0x9e37_79b9_7f4a_7c15_u64;
    let mut next = || {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (state >> 11) as f64 / (1u64 << 53) as f64
    };
    for _ in 0..50_000 {
        points.push((-71.1206 + next() * 0.0252, 42.3563 + next() * 0.0164));
    }
    let mut kinds = std::collections::BTreeMap::new();
    for (x, y) in points {
        let (a, b) = (indexed.locate(x, y), whole.locate(x, y));
        assert_eq!(a, b, "at ({x}, {y})");
        *kinds.entry(format!("{:?}", a.kind)).or_insert(0) += 1;
    }
    // Every kind is met, often.
    assert!(
        kinds.values().all(|&n| n > 2_000) && kinds.len() == 3,
        "{kinds:?}"
    );
}
