//! `predio import parcels|sectors`.

use anyhow::Context;
use predio_engine::{CatalogStore, Change, IssueAction, LayerKind, Manifest};
use predio_importers::{
    import_parcels, import_sectors, DuplicateIds, ParcelOptions, SectorOptions, VectorSource,
};

use super::thousands;
use crate::cli::{ImportParcels, ImportSectors, OnDuplicate, SourceArgs};
use crate::progress::Bar;

fn source(args: &SourceArgs) -> VectorSource {
    VectorSource {
        path: args.path.clone(),
        layer: args.layer.clone(),
        srs: args.srs.clone(),
    }
}

fn policy(p: OnDuplicate) -> DuplicateIds {
    match p {
        OnDuplicate::Fail => DuplicateIds::Fail,
        OnDuplicate::Suffix => DuplicateIds::Suffix,
        OnDuplicate::Skip => DuplicateIds::Skip,
    }
}

/// How many issue lines to echo on stderr; the rest are in import-report.csv.
const SHOWN_ISSUES: usize = 10;

fn commit_and_report(
    catalog: &dyn CatalogStore,
    change: Change,
    kind: LayerKind,
) -> anyhow::Result<Manifest> {
    let issues: Vec<String> = change
        .report
        .issues
        .iter()
        .take(SHOWN_ISSUES)
        .map(|i| {
            format!(
                "  {} feature {} ({}): {} [{}]",
                i.layer,
                i.feature,
                i.id.as_deref().unwrap_or("-"),
                i.problem,
                i.action
            )
        })
        .collect();
    let total_issues = change.report.issues.len();
    let manifest = catalog
        .commit(change)
        .with_context(|| format!("committing to {}", catalog.location()))?;
    let meta = &manifest.layers[&kind];
    eprintln!(
        "imported {} {} of {} read from {} ({}, {}) into version {}",
        thousands(meta.count),
        kind,
        thousands(meta.read),
        meta.source.path,
        meta.source.driver,
        meta.source.crs,
        manifest.version
    );
    eprintln!(
        "  invalid geometries: {} ({} repaired), skipped: {}{}",
        thousands(meta.invalid),
        thousands(meta.repaired),
        thousands(meta.skipped),
        meta.without_sector
            .map(|n| format!(", parcels in no sector: {}", thousands(n)))
            .unwrap_or_default()
    );
    if let Some(parcels) = manifest
        .layers
        .get(&LayerKind::Parcels)
        .filter(|_| kind == LayerKind::Sectors)
    {
        if let Some(n) = parcels.without_sector {
            eprintln!(
                "  re-assigned {} parcels to the new sectors ({} in none)",
                thousands(parcels.count),
                thousands(n)
            );
        }
    }
    if total_issues > 0 {
        let counts: Vec<String> = [
            IssueAction::Repaired,
            IssueAction::Skipped,
            IssueAction::Flagged,
        ]
        .iter()
        .filter_map(|a| {
            manifest
                .issues
                .get(a)
                .map(|n| format!("{} {a}", thousands(*n)))
        })
        .collect();
        eprintln!(
            "  {} issues ({}):",
            thousands(total_issues),
            counts.join(", ")
        );
        for line in issues {
            eprintln!("{line}");
        }
        if total_issues > SHOWN_ISSUES {
            eprintln!("  ... {} more", thousands(total_issues - SHOWN_ISSUES));
        }
    }
    eprintln!(
        "  report: {}",
        catalog.file_location(&manifest, "import-report.csv")
    );
    Ok(manifest)
}

/// `predio import parcels`.
pub fn parcels(catalog: &dyn CatalogStore, args: &ImportParcels) -> anyhow::Result<()> {
    let current = catalog.current()?;
    let sectors = match &current {
        Some(m) => catalog.sectors(m)?,
        None => None,
    };
    let options = ParcelOptions {
        id_field: args.source.id_field.clone(),
        on_duplicate_id: policy(args.source.on_duplicate_id),
    };
    let bar = Bar::new();
    let change = import_parcels(&source(&args.source), &options, sectors.as_ref(), &bar);
    bar.finish();
    commit_and_report(catalog, change?, LayerKind::Parcels)?;
    Ok(())
}

/// `predio import sectors`.
pub fn sectors(catalog: &dyn CatalogStore, args: &ImportSectors) -> anyhow::Result<()> {
    let current = catalog.current()?;
    let parcels = match &current {
        Some(m) => match (catalog.parcels(m)?, m.layers.get(&LayerKind::Parcels)) {
            (Some(layer), Some(meta)) => Some((layer, meta.clone())),
            _ => None,
        },
        None => None,
    };
    let options = SectorOptions {
        id_field: args.source.id_field.clone(),
        name_field: args.name_field.clone(),
        population_field: args.population_field.clone(),
        on_duplicate_id: policy(args.source.on_duplicate_id),
    };
    let bar = Bar::new();
    let change = import_sectors(&source(&args.source), &options, parcels, &bar);
    bar.finish();
    commit_and_report(catalog, change?, LayerKind::Sectors)?;
    Ok(())
}
