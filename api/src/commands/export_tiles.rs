//! `predio export tiles`: a layer pyramid of the current version written as one PMTiles or
//! MBTiles archive, the same tiles `predio serve` answers.

use std::time::Instant;

use anyhow::Context as _;
use predio_engine::CatalogStore;
use predio_tiles::TileProvider;

use super::serve;
use crate::cli::{ExportTiles, TileArchiveFormat};

/// `predio export tiles`.
#[allow(clippy::print_stdout)] // the summary is this command's output
pub fn run(catalog: &dyn CatalogStore, args: &ExportTiles) -> anyhow::Result<()> {
    anyhow::ensure!(
        args.minzoom <= args.maxzoom,
        "--minzoom {} is above --maxzoom {}",
        args.minzoom,
        args.maxzoom
    );
    let manifest = catalog
        .current()?
        .with_context(|| format!("the catalog at {} is empty", catalog.location()))?;
    let t = Instant::now();
    let options = serve::LoadOptions {
        min_heat: args.min_heat_reports,
        parcel_attributes: args.parcel_attributes.clone(),
        ..serve::LoadOptions::default()
    };
    let served = serve::load(catalog, &manifest, &options)?;
    let mut layers: Vec<&dyn TileProvider> = Vec::new();
    for name in &args.layers {
        let l = served.layers.get(name).with_context(|| {
            format!(
                "no layer {name:?} in version {}; it has {}",
                served.manifest.version,
                served.layers.keys().cloned().collect::<Vec<_>>().join(", ")
            )
        })?;
        layers.push(l.as_ref());
    }
    let filter = serve::filter_from(args.window.clone(), args.dimension.dimension(), &served);
    for l in &layers {
        l.check(&filter)?;
    }
    let format = match args.format {
        TileArchiveFormat::Pmtiles => predio_tiles::ArchiveFormat::Pmtiles,
        TileArchiveFormat::Mbtiles => predio_tiles::ArchiveFormat::Mbtiles,
    };
    let stats = predio_tiles::write_archive(
        &args.out,
        format,
        &layers,
        &filter,
        (args.minzoom, args.maxzoom),
        &format!(
            "predio {} ({})",
            served.manifest.version,
            serve::filter_query(&filter)
        ),
    )
    .with_context(|| format!("writing {}", args.out.display()))?;
    let total: u64 = stats.per_zoom.values().sum();
    println!(
        "wrote {} tiles (z{}-z{}, {} empty skipped), {:.1} MB, to {} in {:.2} s",
        super::thousands(total as usize),
        args.minzoom,
        args.maxzoom,
        super::thousands(stats.empty as usize),
        stats.bytes as f64 / 1e6,
        args.out.display(),
        t.elapsed().as_secs_f64()
    );
    for (z, n) in &stats.per_zoom {
        println!("  z{z}: {}", super::thousands(*n as usize));
    }
    Ok(())
}
