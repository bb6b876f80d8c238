//! `predio export reports` and `predio export geoparquet`.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use predio_engine::{
    export_geoparquet, export_reports, valid_slug, CatalogStore, DirCatalog, ExportFormat,
};

use super::thousands;
use crate::cli::{self, ExportReports};

/// `predio export reports`.
pub fn reports(catalog: &dyn CatalogStore, args: &ExportReports) -> anyhow::Result<()> {
    let current = super::compute::current(catalog)?;
    let Some(reports) = catalog.reports(&current)? else {
        bail!("the catalog has no reports: run `predio import reports` first")
    };
    let format = match args.format {
        cli::ExportFormat::Csv => ExportFormat::Csv,
        cli::ExportFormat::Geojson => ExportFormat::GeoJson,
        cli::ExportFormat::Parquet => ExportFormat::Parquet,
        cli::ExportFormat::Fgb => ExportFormat::Fgb,
    };
    let written = export_reports(&reports, format, &args.out)
        .with_context(|| format!("exporting to {}", args.out.display()))?;
    eprintln!(
        "wrote {} of {} reports (version {}) to {}",
        thousands(written),
        thousands(reports.len()),
        current.version,
        args.out.display()
    );
    Ok(())
}

/// `predio export geoparquet`: the `--data` catalog, or every catalog under `--catalogs`.
/// Each municipality is written whole or not at all; with `--catalogs`, one that fails is
/// reported and the others are still written (the command then fails).
pub fn geoparquet(data: &Path, args: &cli::ExportGeoparquet) -> anyhow::Result<()> {
    let mut municipalities: Vec<(String, PathBuf)> = Vec::new();
    match &args.catalogs {
        Some(dir) => {
            let entries =
                std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))?;
            for entry in entries {
                let entry = entry.with_context(|| format!("reading {}", dir.display()))?;
                let name = entry.file_name().to_string_lossy().into_owned();
                if name.starts_with('.') || !entry.path().is_dir() {
                    continue;
                }
                municipalities.push((name, entry.path()));
            }
            municipalities.sort();
            if municipalities.is_empty() {
                bail!("{}: no catalog folders in it", dir.display());
            }
        }
        None => {
            let slug = match &args.municipality {
                Some(s) => s.clone(),
                None => data
                    .canonicalize()
                    .ok()
                    .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
                    .unwrap_or_default(),
            };
            municipalities.push((slug, data.to_path_buf()));
        }
    }
    let mut failed = Vec::new();
    for (slug, path) in &municipalities {
        if !valid_slug(slug) {
            eprintln!(
                "{}: {slug:?} cannot name a municipality (lower-case letters, digits, '-' and \
                 '_'): {}",
                path.display(),
                if args.catalogs.is_some() {
                    "rename the folder"
                } else {
                    "give --municipality"
                }
            );
            failed.push(slug.clone());
            continue;
        }
        match export_geoparquet(&DirCatalog::new(path), slug, &args.out) {
            Ok(written) => {
                let parts: Vec<String> = written
                    .iter()
                    .map(|w| {
                        format!(
                            "{} {} rows in {} files",
                            w.dataset,
                            thousands(w.rows),
                            w.files
                        )
                    })
                    .collect();
                eprintln!("{slug}: {}", parts.join(", "));
            }
            Err(e) => {
                eprintln!("{slug} ({}): {e}", path.display());
                failed.push(slug.clone());
            }
        }
    }
    if !failed.is_empty() {
        bail!(
            "{} of {} municipalities not exported: {}",
            failed.len(),
            municipalities.len(),
            failed.join(", ")
        );
    }
    let n = municipalities.len();
    eprintln!(
        "wrote {n} {} to {}",
        if n == 1 {
            "municipality"
        } else {
            "municipalities"
        },
        args.out.display()
    );
    Ok(())
}
