//! Criterion bench of tile generation: a cold (uncached) z15 `parcels` tile with its index
//! attributes, cut and encoded, on a computed catalog — by default the 500,000-parcel,
//! 1,000,000-report sample town that `benches/compare/compute.sh` builds
//! (`PREDIO_BENCH_CATALOG` names another data directory). Also the `sectors` and `heat` tiles of
//! the same area and the per-filter attribute table (built once per version and filter).
//!
//! `cargo bench -p predio --bench tiles`. Under `cargo test --all-targets` it runs once on a small
//! generated town without indices.

// criterion_group! generates an undocumented function.
#![allow(missing_docs)]

#[path = "support.rs"]
mod support;

use std::hint::black_box;
use std::path::PathBuf;

use criterion::{criterion_group, criterion_main, Criterion};
use predio_engine::indices::{Level, Selection};
use predio_engine::{CatalogStore, DirCatalog, ParcelLayer};
use predio_importers::{generate_sample, SampleOptions};
use predio_tiles::{HeatLayer, PolygonLayer, TileCoord, TileProvider};

fn catalog() -> Option<PathBuf> {
    if !std::env::args().any(|a| a == "--bench") {
        return None;
    }
    let dir = std::env::var_os("PREDIO_BENCH_CATALOG").map_or_else(
        || {
            PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("../target/bench-data/compute/data-500000-1000000")
        },
        PathBuf::from,
    );
    if dir.join("CURRENT").exists() {
        Some(dir)
    } else {
        eprintln!(
            "{} has no catalog: run benches/compare/compute.sh first (or set \
             PREDIO_BENCH_CATALOG); benching a small town without indices",
            dir.display()
        );
        None
    }
}

/// The z15 tiles of a 5 × 5 block around the layer's centre.
fn tiles(bounds: [f64; 4]) -> Vec<TileCoord> {
    let [w, s, e, n] = bounds;
    let c = TileCoord::containing(15, (w + e) / 2.0, (s + n) / 2.0).expect("tile");
    let mut v = Vec::new();
    for dx in 0..5u32 {
        for dy in 0..5u32 {
            v.push(
                TileCoord::new_checked(15, c.x() + dx - 2, c.y() + dy - 2).expect("tile in range"),
            );
        }
    }
    v
}

fn small_town() -> ParcelLayer {
    let dir = tempfile::tempdir().expect("tempdir");
    generate_sample(&SampleOptions {
        out: dir.path().to_path_buf(),
        parcels: 5_000,
        reports: Some(0),
        seed: 3,
    })
    .expect("sample town");
    support::parcels_of(&dir.path().join("parcels.shp"))
}

fn bench(c: &mut Criterion) {
    let mut layers: Vec<Box<dyn TileProvider>> = Vec::new();
    let mut filter = Selection::window("90d");
    if let Some(dir) = catalog() {
        let cat = DirCatalog::new(&dir);
        let m = cat.current().expect("manifest").expect("a version");
        let parcels = cat.parcels(&m).expect("parcels").expect("parcels layer");
        let table = cat.indices(&m, Level::Parcel).expect("indices");
        // The attribute table of one filter: built on the first tile of a filter per version,
        // for every parcel of the layer (a fresh layer each time, made untimed).
        let mut group = c.benchmark_group("tiles");
        group.sample_size(10);
        group.bench_function("parcels attribute table (per version and filter)", |b| {
            b.iter_batched(
                || PolygonLayer::parcels(&parcels, table.clone()).expect("layer"),
                |l| l.values("received", &filter).expect("values").len(),
                criterion::BatchSize::PerIteration,
            )
        });
        group.finish();
        layers.push(Box::new(
            PolygonLayer::parcels(&parcels, table).expect("parcels"),
        ));
        if let Some(s) = cat.sectors(&m).expect("sectors") {
            layers.push(Box::new(
                PolygonLayer::sectors(&s, cat.indices(&m, Level::Sector).expect("indices"))
                    .expect("sectors"),
            ));
        }
        if let Some(h3) = cat.indices(&m, Level::H3).expect("indices") {
            layers.push(Box::new(HeatLayer::new(h3, 3).expect("heat")));
        }
    } else {
        layers.push(Box::new(
            PolygonLayer::parcels(&small_town(), None).expect("parcels"),
        ));
        filter = Selection::window("");
    }
    let block = tiles(layers[0].bounds().expect("bounds"));
    let mut group = c.benchmark_group("tiles/z15 cold");
    for layer in &layers {
        // Warm the attribute table: what is measured is one tile not in the tile cache.
        let _ = layer.tile(block[0], &filter).expect("tile");
        let sizes: Vec<usize> = block
            .iter()
            .map(|t| {
                layer
                    .tile(*t, &filter)
                    .expect("tile")
                    .map_or(0, |b| b.len())
            })
            .collect();
        eprintln!(
            "{}: z15 tiles of the block: {} non-empty, median {} bytes",
            layer.name(),
            sizes.iter().filter(|s| **s > 0).count(),
            {
                let mut s = sizes.clone();
                s.sort_unstable();
                s[s.len() / 2]
            }
        );
        let mut i = 0usize;
        group.bench_function(layer.name(), |b| {
            b.iter(|| {
                i = (i + 1) % block.len();
                layer.tile(black_box(block[i]), &filter).expect("tile")
            })
        });
    }
    group.finish();
    big_polygons(c);
}

/// Cold z16 parcel tiles over Cambridge's longest ROAD parcel (18,604 vertices): 16 tiles,
/// each holding one of its vertices (spread along its rings), so that every tile cuts it.
fn big_polygons(c: &mut Criterion) {
    let shp = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/data/cambridge-parcels/cambridge_parcels_FY2014_epsg2249.shp");
    if !shp.exists() {
        eprintln!("SKIPPED Cambridge: {} not found", shp.display());
        return;
    }
    let layer = support::parcels_of(&shp);
    let rings = |p: &predio_engine::Parcel| -> Vec<geo::Coord<f64>> {
        p.geometry
            .iter()
            .flat_map(|g| std::iter::once(g.exterior()).chain(g.interiors()))
            .flat_map(|r| r.0.iter().copied())
            .collect()
    };
    let road = layer
        .parcels
        .iter()
        .max_by_key(|p| rings(p).len())
        .expect("a parcel");
    let vertices = rings(road);
    let mut block: Vec<TileCoord> = (0..16)
        .map(|k| {
            let v = vertices[k * vertices.len() / 16];
            TileCoord::containing(16, v.x, v.y).expect("tile")
        })
        .collect();
    block.dedup();
    let tiles = PolygonLayer::parcels(&layer, None).expect("parcels");
    let filter = Selection::window("");
    let mut group = c.benchmark_group("tiles/cambridge z16 cold");
    let mut i = 0usize;
    group.bench_function(
        format!(
            "{} tiles over the {}-vertex road",
            block.len(),
            vertices.len()
        ),
        |b| {
            b.iter(|| {
                i = (i + 1) % block.len();
                tiles.tile(black_box(block[i]), &filter).expect("tile")
            })
        },
    );
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
