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
        addresses(c, &layer, &shared.join("cambridge-parcels/TaxFY14.csv"));
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

/// Reports without coordinates matched by address on Cambridge, against the assessor's table
/// (`import parcel-table --key ML --address-field Location`): the book's build, and the
/// matching of the table's 27,000 addresses as written and with a typo in the street name, a
/// number moved by 2 and the unit dropped (one core; reports per second).
fn addresses(c: &mut Criterion, layer: &ParcelLayer, table: &Path) {
    use predio_engine::address::{Found, ParcelBook, Thresholds};
    let meta = predio_engine::LayerMeta {
        fields: layer.fields.clone(),
        ..Default::default()
    };
    let join = predio_importers::TableJoin {
        key: "ML".into(),
        address_fields: vec!["Location".into()],
        ..Default::default()
    };
    let (joined, meta, _, _) =
        predio_importers::join_parcel_table(table, layer, &meta, &join).expect("the join");
    let source = meta.address_source();
    let mut rdr = csv::Reader::from_path(table).expect("the table");
    let at = rdr
        .headers()
        .expect("a header")
        .iter()
        .position(|h| h == "Location")
        .expect("Location");
    let written: Vec<String> = rdr
        .records()
        .filter_map(|r| r.ok()?.get(at).map(str::to_owned))
        .filter(|a| !a.trim().is_empty())
        .collect();
    // the same addresses with noise: a letter of the street changed, the number moved, no unit
    let noisy: Vec<String> = written
        .iter()
        .enumerate()
        .map(|(i, a)| {
            let a = a.split(" #").next().unwrap_or(a);
            let mut w: Vec<String> = a.split_whitespace().map(str::to_owned).collect();
            match (i % 3, w.len()) {
                (0, n) if n > 2 => {
                    let word = &mut w[1];
                    let mid = word.len() / 2;
                    word.replace_range(mid..=mid, "X");
                }
                (1, _) => {
                    if let Some(n) = w.first().and_then(|n| n.parse::<u32>().ok()) {
                        w[0] = (n + 2).to_string();
                    }
                }
                _ => {}
            }
            w.join(" ")
        })
        .collect();
    let mut group = c.benchmark_group("address/cambridge");
    group.sample_size(10);
    group.bench_function("book build (27,000 addresses, 13,000 references)", |b| {
        b.iter(|| ParcelBook::new(black_box(&joined), &source, Thresholds::default()))
    });
    let book = ParcelBook::new(&joined, &source, Thresholds::default());
    for (name, list) in [("as written", &written), ("noisy", &noisy)] {
        let found = list
            .iter()
            .filter(|a| matches!(book.book.find(None, Some(a)), Found::Match { .. }))
            .count();
        eprintln!(
            "cambridge addresses {name}: {found} of {} matched",
            list.len()
        );
        group.throughput(Throughput::Elements(list.len() as u64));
        group.bench_function(format!("match {name}/1 core"), |b| {
            b.iter(|| {
                list.iter()
                    .filter(|a| {
                        matches!(
                            book.book.find(None, Some(black_box(a))),
                            Found::Match { .. }
                        )
                    })
                    .count()
            })
        });
    }
    group.finish();
}

criterion_group!(benches, geocoder);
criterion_main!(benches);
