//! `predio import reports` and `predio geocode`.

use std::collections::BTreeMap;

use anyhow::{bail, Context};
use chrono::Utc;
use predio_engine::{
    geocode_reports, upsert, CatalogStore, Change, DirCatalog, Geocoder, ImportReport, IssueAction,
    Manifest, Report, ReportImport, ReportsMeta,
};
use predio_importers::{read_csv_reports, CsvMapping};

use super::thousands;
use crate::cli::{GeocodeArgs, ImportReports, ReportFormat};

fn resolution(res: u8) -> anyhow::Result<h3o::Resolution> {
    h3o::Resolution::try_from(res).with_context(|| format!("H3 resolution {res}"))
}

/// Geocodes `reports` against the current cadastre and builds the manifest's summary.
fn geocode(
    catalog: &DirCatalog,
    current: &Manifest,
    reports: &mut [Report],
    args: &GeocodeArgs,
    imports: Vec<ReportImport>,
) -> anyhow::Result<ReportsMeta> {
    // A city may have sectors but no parcels yet (Boston's neighbourhoods): reports then get
    // their sector and H3 cell, and match `none` for the parcel.
    let parcels = catalog.parcels(current)?.unwrap_or_default();
    let sectors = catalog.sectors(current)?;
    if parcels.parcels.is_empty() && sectors.is_none() {
        bail!("the catalog has neither parcels nor sectors: import them before reports");
    }
    let geocoder = Geocoder::new(&parcels, sectors.as_ref(), args.tolerance_m);
    let matches = geocode_reports(reports, &geocoder, resolution(args.h3_res)?);
    let mut by_status = BTreeMap::new();
    for r in reports.iter() {
        *by_status.entry(r.status.as_str().to_owned()).or_insert(0) += 1;
    }
    Ok(ReportsMeta {
        count: reports.len(),
        imports,
        matches,
        tolerance_m: args.tolerance_m,
        h3_resolution: args.h3_res,
        by_status,
    })
}

fn summary(catalog: &DirCatalog, m: &Manifest) {
    if let Some(r) = &m.reports {
        let x = &r.matches;
        eprintln!(
            "  geocoded {} reports (tolerance {} m): inside {}, nearest {}, none {}, unlocated {}",
            thousands(r.count),
            r.tolerance_m,
            thousands(x.inside),
            thousands(x.nearest),
            thousands(x.none),
            thousands(x.unlocated)
        );
    }
    eprintln!(
        "  version {}; report: {}",
        m.version,
        catalog.file_path(m, "import-report.csv").display()
    );
}

/// `predio import reports`.
pub fn import_reports(catalog: &DirCatalog, args: &ImportReports) -> anyhow::Result<()> {
    let Some(current) = catalog.current()? else {
        bail!("the catalog is empty: import parcels (and sectors) before reports")
    };
    let rows = match args.format {
        ReportFormat::Csv => {
            let mapping = CsvMapping::from_file(&args.mapping)?;
            let extent = current
                .layers
                .values()
                .filter_map(|l| l.bbox)
                .reduce(|a, b| predio_engine::Bbox {
                    west: a.west.min(b.west),
                    south: a.south.min(b.south),
                    east: a.east.max(b.east),
                    north: a.north.max(b.north),
                });
            read_csv_reports(std::path::Path::new(&args.path), &mapping, extent)?
        }
    };
    let refused = rows.report.count(IssueAction::Skipped);
    if rows.reports.is_empty() {
        bail!(
            "{}: no report could be read ({} rows, {refused} refused)",
            args.path,
            rows.read
        );
    }
    let existing = catalog.reports(&current)?.unwrap_or_default();
    let (mut merged, added, updated) = upsert(existing, rows.reports);
    let mut imports = current
        .reports
        .as_ref()
        .map(|r| r.imports.clone())
        .unwrap_or_default();
    imports.push(ReportImport {
        path: args.path.clone(),
        format: "csv".into(),
        read: rows.read,
        added,
        updated,
        refused,
        imported_at: Utc::now(),
    });
    let meta = geocode(catalog, &current, &mut merged, &args.geocode, imports)?;
    eprintln!(
        "read {} rows from {}: {} new, {} updated, {} refused, {} flagged",
        thousands(rows.read),
        args.path,
        thousands(added),
        thousands(updated),
        thousands(refused),
        thousands(rows.report.count(IssueAction::Flagged))
    );
    for i in rows
        .report
        .issues
        .iter()
        .filter(|i| i.action == IssueAction::Skipped)
        .take(10)
    {
        eprintln!(
            "  line {} ({}): {}",
            i.feature,
            i.id.as_deref().unwrap_or("-"),
            i.problem
        );
    }
    let change = Change {
        operation: "import reports".into(),
        reports: Some((merged, meta)),
        report: rows.report,
        ..Default::default()
    };
    let manifest = catalog.commit(change)?;
    summary(catalog, &manifest);
    Ok(())
}

/// `predio geocode`.
pub fn regeocode(catalog: &DirCatalog, args: &GeocodeArgs) -> anyhow::Result<()> {
    let Some(current) = catalog.current()? else {
        bail!("the catalog is empty")
    };
    let Some(mut reports) = catalog.reports(&current)? else {
        bail!("the catalog has no reports: run `predio import reports` first")
    };
    let imports = current
        .reports
        .as_ref()
        .map(|r| r.imports.clone())
        .unwrap_or_default();
    let meta = geocode(catalog, &current, &mut reports, args, imports)?;
    let change = Change {
        operation: "geocode".into(),
        reports: Some((reports, meta)),
        report: ImportReport::default(),
        ..Default::default()
    };
    let manifest = catalog.commit(change)?;
    summary(catalog, &manifest);
    Ok(())
}
