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
