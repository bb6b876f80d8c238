//! Criterion bench of the geocoder: points per second on one core and on every core, against
//! the sample town (500,000 parcels by default; `PREDIO_BENCH_PARCELS` to change) and, when
//! ../shared/data is beside the checkout, Seoul's parcels.
//!
//! `cargo bench -p predio --bench geocoder` (or `make bench`). Throughput is reported in
//! points per second (criterion's "elem/s").

// criterion_group! generates an undocumented function.
#![allow(missing_docs)]

#[path = "support.rs"]
mod support;

use std::hint::black_box;
use std::path::Path;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use predio_engine::{geocode_reports, Geocoder, Location, MatchKind, ParcelLayer, Report, Status};
use predio_importers::{generate_sample, SampleOptions};

/// Points per run; `cargo test --all-targets` runs the bench once on a small town and few points.
fn sizes() -> (usize, usize) {
    if std::env::args().any(|a| a == "--bench") {
        let parcels = std::env::var("PREDIO_BENCH_PARCELS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(500_000);
        (parcels, 1_000_000)
    } else {
        (5_000, 10_000)
    }
}

/// `n` points from a fixed LCG over the layer's bbox.
fn points(layer: &ParcelLayer, n: usize) -> Vec<(f64, f64)> {
    let b = layer.bbox().expect("bbox");
    let mut state = 0x9e37_79b9_7f4a_7c15_u64;
    let mut next = || {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (state >> 11) as f64 / (1u64 << 53) as f64
    };
    (0..n)
        .map(|_| {
            (
                b.west + next() * (b.east - b.west),
                b.south + next() * (b.north - b.south),
            )
        })
        .collect()
}

fn reports(points: &[(f64, f64)]) -> Vec<Report> {
    let t = chrono::DateTime::from_timestamp(1_700_000_000, 0).expect("time");
    points
        .iter()
        .enumerate()
        .map(|(i, &(lon, lat))| Report {
            lon: Some(lon),
            lat: Some(lat),
            location: Location::Located,
            ..Report::new(i.to_string(), "bench", Status::Open, "open", t)
        })
        .collect()
}

fn bench_layer(c: &mut Criterion, name: &str, layer: &ParcelLayer) {
    let n = sizes().1;
    let pts = points(layer, n);
    let geocoder = Geocoder::new(layer, None, Geocoder::DEFAULT_TOLERANCE_M);
    // How the points fall, and what each kind costs: printed once, for the record.
    let mut per_kind: std::collections::BTreeMap<&str, (usize, f64)> = Default::default();
    for &(lon, lat) in pts.iter().take(200_000) {
        let t = std::time::Instant::now();
        let kind = geocoder.locate(lon, lat).kind;
        let e = per_kind.entry(kind.as_str()).or_default();
        e.0 += 1;
        e.1 += t.elapsed().as_secs_f64();
    }
    for (kind, (n, secs)) in &per_kind {
        eprintln!(
            "{name}: {kind}: {n} points, {:.2} µs each",
            secs / *n as f64 * 1e6
        );
    }
    let mut group = c.benchmark_group(format!("geocode/{name}"));
    group.sample_size(10);
    group.throughput(Throughput::Elements(n as u64));
    // The geocoder alone (point-in-polygon, else nearest within 25 m), one core.
    group.bench_function("locate/1 core", |b| {
        b.iter(|| {
            let mut inside = 0usize;
            for &(lon, lat) in &pts {
                inside += usize::from(
                    geocoder.locate(black_box(lon), black_box(lat)).kind == MatchKind::Inside,
                );
            }
            inside
        })
    });
    // What `predio geocode` runs: parcel, sector, match, distance and H3 cell, with rayon.
    let mut rs = reports(&pts);
    let res = h3o::Resolution::Nine;
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut threads = vec![1, 2];
    if cores > 2 {
        threads.push(cores);
    }
    for n in threads.into_iter().filter(|&n| n <= cores) {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(n)
            .build()
            .expect("pool");
        group.bench_with_input(
            BenchmarkId::new("geocode_reports", format!("{n} threads")),
            &n,
            |b, _| b.iter(|| pool.install(|| geocode_reports(black_box(&mut rs), &geocoder, res))),
        );
    }
    group.finish();
}

fn geocoder(c: &mut Criterion) {
    let parcels = sizes().0;
    let dir = tempfile::tempdir().expect("tempdir");
    generate_sample(&SampleOptions {
        out: dir.path().to_path_buf(),
        parcels,
        reports: Some(0),
        seed: 42,
    })
    .expect("sample town");
    let town = support::parcels_of(&dir.path().join("parcels.shp"));
    bench_layer(c, &format!("sample town {parcels} parcels"), &town);
    let shared = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/data");
    let seoul = shared.join("seoul-parcels/parcels.geojson");
    if seoul.exists() {
        bench_layer(c, "seoul 2382 parcels", &support::parcels_of(&seoul));
    } else {
        eprintln!("SKIPPED Seoul: {} not found", seoul.display());
    }
    let cambridge = shared.join("cambridge-parcels/cambridge_parcels_FY2014_epsg2249.shp");
    if cambridge.exists() {
        let layer = support::parcels_of(&cambridge);
        bench_layer(c, "cambridge", &layer);
        big_polygons(c, &layer);
    } else {
        eprintln!("SKIPPED Cambridge: {} not found", cambridge.display());
    }
}

/// What the edge index of parcels with many vertices costs and saves on Cambridge, whose four
/// ROAD parcels have 4,248 to 18,604 vertices: the geocoder's build (grid and edge index), and
/// a probe of points over the envelope of the largest of them (most near its edges).
fn big_polygons(c: &mut Criterion, layer: &ParcelLayer) {
    let mut group = c.benchmark_group("geocode/cambridge big polygons");
    group.sample_size(20);
    group.bench_function("build", |b| {
        b.iter(|| Geocoder::new(black_box(layer), None, Geocoder::DEFAULT_TOLERANCE_M))
    });
    let vertices = |p: &predio_engine::Parcel| {
        p.geometry
            .iter()
            .map(|g| g.exterior().0.len() + g.interiors().iter().map(|r| r.0.len()).sum::<usize>())
            .sum::<usize>()
    };
    let road = layer
        .parcels
        .iter()
        .max_by_key(|p| vertices(p))
        .expect("a parcel");
    let one = ParcelLayer {
        fields: vec![],
        parcels: vec![road.clone()],
    };
    let pts = points(&one, sizes().1 / 10);
    let geocoder = Geocoder::new(layer, None, Geocoder::DEFAULT_TOLERANCE_M);
    group.throughput(Throughput::Elements(pts.len() as u64));
    group.bench_function(
        format!("probe over a {}-vertex road", vertices(road)),
        |b| {
            b.iter(|| {
                pts.iter()
                    .filter(|&&(lon, lat)| {
                        geocoder
                            .locate(black_box(lon), black_box(lat))
                            .parcel
                            .is_some()
                    })
                    .count()
            })
        },
    );
    group.finish();
}

criterion_group!(benches, geocoder);
criterion_main!(benches);
