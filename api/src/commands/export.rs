//! `predio export reports`.

use anyhow::{bail, Context};
use predio_engine::{export_reports, CatalogStore, ExportFormat};

use super::thousands;
use crate::cli::{self, ExportReports};

/// `predio export reports`.
pub fn reports(catalog: &dyn CatalogStore, args: &ExportReports) -> anyhow::Result<()> {
    let Some(current) = catalog.current()? else {
        bail!("the catalog is empty")
    };
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
