//! `predio import parcels|sectors`.

use anyhow::{bail, Context};
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
    let mut change = change?;
    if let Some((layer, meta)) = &mut change.parcels {
        for f in args.address_fields.iter().chain(&args.ref_field) {
            if !layer.fields.iter().any(|x| &x.name == f) {
                bail!(
                    "{}: the parcels have no field {f:?} (fields: {}); nothing imported",
                    args.source.path,
                    layer
                        .fields
                        .iter()
                        .map(|x| x.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                );
            }
        }
        meta.address_fields.clone_from(&args.address_fields);
        meta.ref_field.clone_from(&args.ref_field);
    }
    commit_and_report(catalog, change, LayerKind::Parcels)?;
    Ok(())
}

/// `predio import parcel-table`.
pub fn parcel_table(
    catalog: &dyn CatalogStore,
    args: &crate::cli::ImportParcelTable,
) -> anyhow::Result<()> {
    let current = catalog.current()?;
    let (Some(manifest), Some(meta)) = (
        current.as_ref(),
        current
            .as_ref()
            .and_then(|m| m.layers.get(&LayerKind::Parcels)),
    ) else {
        bail!("the catalog has no parcels: import them first (predio import parcels)");
    };
    let layer = catalog
        .parcels(manifest)?
        .context("the current version's parcels")?;
    let join = predio_importers::TableJoin {
        key: args.key.clone(),
        parcel_key: args.parcel_key.clone(),
        address_fields: args.address_fields.clone(),
        fields: args.fields.clone(),
    };
    let (layer, meta, s, report) =
        predio_importers::join_parcel_table(&args.path, &layer, meta, &join)?;
    let manifest = catalog.commit(Change {
        operation: "import parcel-table".into(),
        parcels: Some((layer, meta)),
        report,
        ..Default::default()
    })?;
    eprintln!(
        "joined {} rows ({} keys) of {} to the parcels on {} into version {}: {} keys matched, \
         {} matched no parcel; {} parcels with rows, {} without; {} addresses",
        thousands(s.rows),
        thousands(s.keys),
        args.path.display(),
        args.key,
        manifest.version,
        thousands(s.matched_keys),
        thousands(s.unmatched_keys),
        thousands(s.parcels_with_rows),
        thousands(s.parcels_without_rows),
        thousands(s.addresses)
    );
    eprintln!(
        "  unmatched keys and parcels without rows: {}",
        catalog.file_location(&manifest, "import-report.csv")
    );
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
