//! `predio import reports` and `predio geocode`.

use std::collections::BTreeMap;

use anyhow::{bail, Context};
use chrono::Utc;
use clap::ValueEnum;
use predio_engine::{
    geocode_reports, upsert, CatalogStore, Change, Geocoder, ImportReport, IssueAction, Manifest,
    Report, ReportImport, ReportsMeta,
};
use predio_importers::{
    read_csv_reports, read_fixmystreet, read_open311, read_vector_reports, CsvMapping, ReadOptions,
    ReportRows, VectorSource,
};

use super::thousands;
use crate::cli::{GeocodeArgs, ImportReports, ReportFormat};

fn resolution(res: u8) -> anyhow::Result<h3o::Resolution> {
    h3o::Resolution::try_from(res).with_context(|| format!("H3 resolution {res}"))
}

/// Geocodes `reports` against the current cadastre (their points; then, for those without,
/// their parcel reference or address) and builds the manifest's summary; returns with it one
/// flagged issue per report left unlocated that had a reference or an address.
fn geocode(
    catalog: &dyn CatalogStore,
    current: Option<&Manifest>,
    reports: &mut [Report],
    args: &GeocodeArgs,
    imports: Vec<ReportImport>,
) -> anyhow::Result<(ReportsMeta, Vec<predio_engine::Issue>)> {
    // A city may have sectors but no parcels yet (Boston's neighbourhoods): reports then get
    // their sector and H3 cell, and match `none` for the parcel.
    // Without a cadastre yet, reports still get their H3 cell; `predio geocode` after an
    // import of parcels or sectors places them.
    let (parcels, sectors) = match current {
        Some(m) => (catalog.parcels(m)?.unwrap_or_default(), catalog.sectors(m)?),
        None => (Default::default(), None),
    };
    if parcels.parcels.is_empty() && sectors.is_none() {
        eprintln!("note: the catalog has neither parcels nor sectors yet: reports match none; run `predio geocode` after importing them");
    }
    let start = std::time::Instant::now();
    let geocoder = Geocoder::new(&parcels, sectors.as_ref(), args.tolerance_m);
    let mut matches = geocode_reports(reports, &geocoder, resolution(args.h3_res)?);
    let secs = start.elapsed().as_secs_f64();
    let mut issues = Vec::new();
    let by_text = reports
        .iter()
        .any(|r| r.address.is_some() || r.parcel_ref.is_some());
    if by_text && !parcels.parcels.is_empty() {
        let start = std::time::Instant::now();
        let source = current
            .and_then(|m| m.layers.get(&predio_engine::LayerKind::Parcels))
            .map(predio_engine::LayerMeta::address_source)
            .unwrap_or_default();
        let thresholds = predio_engine::address::Thresholds {
            near_numbers: args.near_numbers,
            fuzzy_edits: args.fuzzy_edits,
        };
        let book = predio_engine::address::ParcelBook::new(&parcels, &source, thresholds);
        let built = start.elapsed().as_secs_f64();
        let (placed, unlocated) = predio_engine::address::locate_without_point(
            reports,
            &parcels,
            &book,
            resolution(args.h3_res)?,
        );
        let n = placed.parcel_ref + placed.address + placed.address_near + placed.address_fuzzy;
        matches.unlocated -= n;
        matches = matches
            + predio_engine::MatchCounts {
                unlocated: 0,
                ..placed
            };
        let (addresses, refs) = book.book.len();
        tracing::info!(
            addresses,
            refs,
            build_seconds = built,
            seconds = start.elapsed().as_secs_f64() - built,
            placed = n,
            "located by reference or address"
        );
        issues = unlocated;
    }
    tracing::info!(
        reports = reports.len(),
        seconds = secs,
        per_second = reports.len() as f64 / secs.max(1e-9),
        "geocoded"
    );
    let (mut by_status, mut time_zones) = (BTreeMap::new(), BTreeMap::new());
    for r in reports.iter() {
        *by_status.entry(r.status.as_str().to_owned()).or_insert(0) += 1;
        *time_zones.entry(r.source_tz.clone()).or_insert(0) += 1;
    }
    Ok((
        ReportsMeta {
            count: reports.len(),
            imports,
            matches,
            tolerance_m: args.tolerance_m,
            h3_resolution: args.h3_res,
            by_status,
            time_zones,
        },
        issues,
    ))
}

fn summary(catalog: &dyn CatalogStore, m: &Manifest) {
    if let Some(r) = &m.reports {
        let x = &r.matches;
        eprintln!(
            "  geocoded {} reports (tolerance {} m): parcel inside {}, nearest {}, none {}, unlocated {}; in a sector {}",
            thousands(r.count),
            r.tolerance_m,
            thousands(x.inside),
            thousands(x.nearest),
            thousands(x.none),
            thousands(x.unlocated),
            thousands(x.in_sector)
        );
        let by_text = x.parcel_ref + x.address + x.address_near + x.address_fuzzy;
        if by_text > 0 {
            eprintln!(
                "  without coordinates, placed on their parcel by reference {}, address {}, \
                 nearest number {}, similar street {} (location derived)",
                thousands(x.parcel_ref),
                thousands(x.address),
                thousands(x.address_near),
                thousands(x.address_fuzzy)
            );
        }
    }
    eprintln!(
        "  version {}; report: {}",
        m.version,
        catalog.file_location(m, "import-report.csv")
    );
}

fn extent(current: Option<&Manifest>) -> Option<predio_engine::Bbox> {
    current?
        .layers
        .values()
        .filter_map(|l| l.bbox)
        .reduce(|a, b| predio_engine::Bbox {
            west: a.west.min(b.west),
            south: a.south.min(b.south),
            east: a.east.max(b.east),
            north: a.north.max(b.north),
        })
}

fn read(args: &ImportReports, current: Option<&Manifest>) -> anyhow::Result<ReportRows> {
    let options = ReadOptions {
        extent: extent(current),
        keep_private: args.keep_private,
        timezone: args.timezone.clone(),
    };
    let path = std::path::Path::new(&args.path);
    let mapping = || -> anyhow::Result<CsvMapping> {
        let file = args
            .mapping
            .as_ref()
            .context("--mapping FILE is required for this format")?;
        Ok(CsvMapping::from_file(file)?)
    };
    if args.updates.is_some() && args.format != ReportFormat::Fixmystreet {
        bail!("--updates is for --format fixmystreet");
    }
    Ok(match args.format {
        ReportFormat::Csv => read_csv_reports(path, &mapping()?, options)?,
        ReportFormat::Open311 => read_open311(path, options)?,
        ReportFormat::Fixmystreet => read_fixmystreet(path, args.updates.as_deref(), options)?,
        ReportFormat::Vector => {
            let source = VectorSource {
                path: args.path.clone(),
                layer: args.layer.clone(),
                srs: args.srs.clone(),
            };
            let bar = crate::progress::Bar::new();
            read_vector_reports(&source, &mapping()?, options, &bar)?
        }
    })
}

/// `predio import reports`.
pub fn import_reports(catalog: &dyn CatalogStore, args: &ImportReports) -> anyhow::Result<()> {
    let current = catalog.current()?;
    let rows = read(args, current.as_ref())?;
    let refused = rows.report.count(IssueAction::Skipped);
    if rows.reports.is_empty() {
        let first = rows
            .report
            .issues
            .iter()
            .find(|i| i.action == IssueAction::Skipped)
            .map(|i| {
                let hint = if i.problem.contains(predio_importers::NO_TIME_ZONE) {
                    " (give it with --timezone ZONE, e.g. America/Costa_Rica)"
                } else {
                    ""
                };
                format!("; first: line {}: {}{hint}", i.feature, i.problem)
            })
            .unwrap_or_default();
        bail!(
            "{}: no report could be read ({} rows, {refused} refused{first})",
            args.path,
            rows.read
        );
    }
    let existing = match &current {
        Some(m) => catalog.reports(m)?.unwrap_or_default(),
        None => Vec::new(),
    };
    let (mut merged, counts) = upsert(existing, rows.reports);
    let private = if args.keep_private {
        let mut kept = match &current {
            Some(m) => catalog.private_fields(m)?,
            None => Vec::new(),
        };
        let fresh: std::collections::HashSet<&str> =
            rows.private.iter().map(|p| p.id.as_str()).collect();
        kept.retain(|p| !fresh.contains(p.id.as_str()));
        kept.extend(rows.private);
        Some(kept)
    } else {
        None
    };
    let mut imports = current
        .as_ref()
        .and_then(|m| m.reports.as_ref())
        .map(|r| r.imports.clone())
        .unwrap_or_default();
    let format = args
        .format
        .to_possible_value()
        .map(|v| v.get_name().to_owned())
        .unwrap_or_default();
    imports.push(ReportImport {
        path: args.path.clone(),
        format,
        read: rows.read,
        added: counts.added,
        updated: counts.updated,
        unchanged: counts.unchanged,
        refused,
        imported_at: Utc::now(),
    });
    let (meta, unlocated) = geocode(
        catalog,
        current.as_ref(),
        &mut merged,
        &args.geocode,
        imports,
    )?;
    let mut import_report = rows.report;
    import_report.issues.extend(unlocated);
    eprintln!(
        "read {} rows from {}: {} new, {} updated, {} unchanged, {} refused, {} flagged",
        thousands(rows.read),
        args.path,
        thousands(counts.added),
        thousands(counts.updated),
        thousands(counts.unchanged),
        thousands(refused),
        thousands(import_report.count(IssueAction::Flagged))
    );
    for i in import_report
        .issues
        .iter()
        .filter(|i| i.action == IssueAction::Skipped)
        .take(10)
    {
        eprintln!(
            "  {} {} ({}): {}",
            match args.format {
                ReportFormat::Vector => "feature",
                ReportFormat::Open311 => "request",
                ReportFormat::Csv | ReportFormat::Fixmystreet => "line",
            },
            i.feature,
            i.id.as_deref().unwrap_or("-"),
            i.problem
        );
    }
    if let Some(p) = &private {
        eprintln!(
            "  kept personal fields of {} reports in {} (owner-only; never served or exported)",
            thousands(p.len()),
            predio_engine::PRIVATE_FILE
        );
    }
    let change = Change {
        operation: "import reports".into(),
        reports: Some((merged, meta)),
        private,
        report: import_report,
        ..Default::default()
    };
    let manifest = catalog.commit(change)?;
    summary(catalog, &manifest);
    Ok(())
}

/// `predio geocode`.
pub fn regeocode(catalog: &dyn CatalogStore, args: &GeocodeArgs) -> anyhow::Result<()> {
    let current = super::compute::current(catalog)?;
    let Some(mut reports) = catalog.reports(&current)? else {
        bail!("the catalog has no reports: run `predio import reports` first")
    };
    let imports = current
        .reports
        .as_ref()
        .map(|r| r.imports.clone())
        .unwrap_or_default();
    // addresses and references kept with --keep-private locate again against a new cadastre
    let kept: std::collections::HashMap<String, (Option<String>, Option<String>)> = catalog
        .private_fields(&current)?
        .into_iter()
        .map(|p| {
            let get = |k: &str| {
                p.values
                    .iter()
                    .find(|(n, _)| n == k)
                    .map(|(_, v)| v.clone())
            };
            (p.id.to_string(), (get("address"), get("parcel_ref")))
        })
        .filter(|(_, (a, r))| a.is_some() || r.is_some())
        .collect();
    for r in &mut reports {
        if let Some((a, p)) = kept.get(r.id.as_str()) {
            r.address.clone_from(a);
            r.parcel_ref.clone_from(p);
        }
    }
    let (meta, unlocated) = geocode(catalog, Some(&current), &mut reports, args, imports)?;
    let change = Change {
        operation: "geocode".into(),
        reports: Some((reports, meta)),
        report: ImportReport { issues: unlocated },
        ..Default::default()
    };
    let manifest = catalog.commit(change)?;
    summary(catalog, &manifest);
    Ok(())
}
