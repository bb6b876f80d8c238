//! The cutting against hand-made cases: clipping, dropping, cleaning, rounding, shared edges.

use super::*;
use geo::polygon;

fn frame_of(z: u8, x: u32, y: u32) -> TileFrame {
    TileFrame::new(TileCoord::new_checked(z, x, y).expect("tile"))
}

/// A square in normalised Mercator spanning tile units [a, b]² of `frame`.
fn square(frame: &TileFrame, a: f64, b: f64) -> MultiPolygon<f64> {
    let p = |x: f64, y: f64| frame.from_tile(x, y);
    let (p1, p2, p3, p4) = (p(a, a), p(b, a), p(b, b), p(a, b));
    MultiPolygon(vec![polygon![
        (x: p1.x, y: p1.y), (x: p2.x, y: p2.y), (x: p3.x, y: p3.y), (x: p4.x, y: p4.y), (x: p1.x, y: p1.y)
    ]])
}

#[test]
fn mercator_round_trips_and_matches_tile_bounds() {
    let m = mercator(-84.0907, 9.9281);
    let back = lonlat(m);
    assert!((back.x + 84.0907).abs() < 1e-9 && (back.y - 9.9281).abs() < 1e-9);
    // The z15 tile of San José (coord.rs's reference) contains it.
    let f = frame_of(15, 8729, 15475);
    let t = f.to_tile(m);
    assert!(
        (0.0..4096.0).contains(&t.x) && (0.0..4096.0).contains(&t.y),
        "{t:?}"
    );
}

#[test]
fn a_square_larger_than_the_tile_is_clipped_to_the_buffer() {
    let f = frame_of(10, 300, 400);
    let mut out = TilePolygons::default();
    Cutter::default().cut(&square(&f, -1000.0, 5000.0), &f, 1, &mut out);
    assert_eq!(out.len(), 1);
    let ring = out.ring(0);
    assert_eq!(ring.len(), 4, "{ring:?}");
    for c in ring {
        assert!(c.x == -BUFFER || c.x == 4096 + BUFFER, "{c:?}");
        assert!(c.y == -BUFFER || c.y == 4096 + BUFFER, "{c:?}");
    }
    let side = i64::from(4096 + 2 * BUFFER);
    assert_eq!(out.area, side * side);
}

#[test]
fn features_below_a_pixel_and_outside_the_tile_are_dropped() {
    let f = frame_of(14, 100, 100);
    let mut out = TilePolygons::default();
    let mut cutter = Cutter::default();
    cutter.cut(&square(&f, 10.0, 20.0), &f, 256, &mut out);
    assert!(out.is_empty(), "10×10 units < 1 px²");
    cutter.cut(&square(&f, 10.0, 30.0), &f, 256, &mut out);
    assert!(!out.is_empty(), "20×20 units > 1 px²");
    cutter.cut(&square(&f, 5000.0, 6000.0), &f, 1, &mut out);
    assert!(out.is_empty(), "beyond the buffer");
}

#[test]
fn round_is_std_round() {
    let mut x = -5000.0_f64;
    while x < 5000.0 {
        for v in [
            x,
            x + 0.5,
            x - 0.5,
            (x + 0.5).next_down(),
            (x + 0.5).next_up(),
        ] {
            assert_eq!(round(v), v.round() as i32, "{v:?}");
        }
        x += 0.25;
    }
    for v in [
        0.499_999_999_999_999_94,
        -0.499_999_999_999_999_94,
        0.0,
        -0.0,
        f64::NAN,
        4160.0,
        -64.0,
    ] {
        assert_eq!(round(v), v.round() as i32, "{v:?}");
    }
}

#[test]
fn cleaning_removes_duplicates_collinear_points_and_spikes() {
    let c = |x, y| Coord { x, y };
    let ring = clean_ring([
        c(0, 0),
        c(5, 0),
        c(5, 0),
        c(10, 0),
        c(10, 10),
        c(10, 20),
        c(10, 10),
        c(0, 10),
        c(0, 0),
    ]);
    assert_eq!(ring, vec![c(0, 0), c(10, 0), c(10, 10), c(0, 10)]);
    assert!(clean_ring([c(0, 0), c(5, 5), c(10, 10)]).len() < 3);
}

#[test]
fn neighbours_keep_their_shared_edge() {
    // Two lots sharing a slanted edge with a vertex in its middle, cut at z17 and z11.
    let lon = |dx: f64| -84.0 + dx * 1e-5;
    let lat = |dy: f64| 9.9 + dy * 1e-5;
    let shared = [
        (lon(10.0), lat(0.0)),
        (lon(11.3), lat(5.1)),
        (lon(12.7), lat(10.0)),
    ];
    let a = polygon![
        (x: lon(0.0), y: lat(0.0)), (x: shared[0].0, y: shared[0].1), (x: shared[1].0, y: shared[1].1),
        (x: shared[2].0, y: shared[2].1), (x: lon(0.0), y: lat(10.0)), (x: lon(0.0), y: lat(0.0))
    ];
    let b = polygon![
        (x: shared[0].0, y: shared[0].1), (x: lon(25.0), y: lat(0.0)), (x: lon(25.0), y: lat(10.0)),
        (x: shared[2].0, y: shared[2].1), (x: shared[1].0, y: shared[1].1), (x: shared[0].0, y: shared[0].1)
    ];
    for z in [17u8, 11] {
        let m = mercator(lon(10.0), lat(5.0));
        let n = f64::from(1u32 << z);
        let t = TileCoord::new_checked(z, (m.x * n) as u32, (m.y * n) as u32).expect("tile");
        let f = TileFrame::new(t);
        let mut cutter = Cutter::default();
        let (mut pa, mut pb) = (TilePolygons::default(), TilePolygons::default());
        cutter.cut(&to_mercator(&MultiPolygon(vec![a.clone()])), &f, 1, &mut pa);
        cutter.cut(&to_mercator(&MultiPolygon(vec![b.clone()])), &f, 1, &mut pb);
        let snapped: Vec<Coord<i32>> = shared
            .iter()
            .map(|&(x, y)| {
                let t = f.to_tile(mercator(x, y));
                let s = f64::from(f.step);
                Coord {
                    x: ((t.x / s).round() * s) as i32,
                    y: ((t.y / s).round() * s) as i32,
                }
            })
            .collect();
        // The shared edge's end points are vertices of both cut lots.
        for end in [snapped[0], snapped[2]] {
            for p in [&pa, &pb] {
                if !p.is_empty() {
                    assert!(p.ring(0).contains(&end), "z{z}: {end:?} not in {p:?}");
                }
            }
        }
        if z == 17 {
            assert!(pa.ring(0).contains(&snapped[1]) && pb.ring(0).contains(&snapped[1]));
        }
    }
}
