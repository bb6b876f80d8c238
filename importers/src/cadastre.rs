//! Importing cadastral parcels and sectors: read, validate and repair, reproject, check ids,
//! assign each parcel its sector, and describe it all in a [`Change`] for the catalog.

use std::collections::HashMap;

use chrono::Utc;
use predio_engine::{
    Change, Field, ImportReport, Issue, IssueAction, LayerKind, LayerMeta, Parcel, ParcelId,
    ParcelLayer, Sector, SectorId, SectorIndex, SectorLayer, SourceInfo, Value, RESERVED_COLUMNS,
};
use rayon::prelude::*;

use crate::error::{Error, Result};
use crate::geometry::{self, Outcome};
use crate::progress::Progress;
use crate::vector::{self, Expect, VectorSource};

/// What to do when ids repeat within a source.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum DuplicateIds {
    /// Refuse the import and list the duplicates (default: ids must identify).
    #[default]
    Fail,
    /// Keep every feature, suffixing repeats: `123-45`, `123-45~2`, `123-45~3`.
    Suffix,
    /// Keep the first feature of each id, skip (and report) the others.
    Skip,
}

/// Options of `predio import parcels`.
#[derive(Debug, Clone, Default)]
pub struct ParcelOptions {
    /// Attribute holding the parcel id; the 1-based feature number when `None`.
    pub id_field: Option<String>,
    /// Policy for repeated ids.
    pub on_duplicate_id: DuplicateIds,
}

/// Options of `predio import sectors`.
#[derive(Debug, Clone, Default)]
pub struct SectorOptions {
    /// Attribute holding the sector id; the 1-based feature number when `None`.
    pub id_field: Option<String>,
    /// Attribute holding the display name; guessed from common names when `None`.
    pub name_field: Option<String>,
    /// Attribute holding the number of inhabitants.
    pub population_field: Option<String>,
    /// Policy for repeated ids.
    pub on_duplicate_id: DuplicateIds,
}

/// Features that survived validation, in source order.
struct Imported {
    fields: Vec<Field>,
    source: SourceInfo,
    items: Vec<Item>,
    read: usize,
    invalid: usize,
    repaired: usize,
    report: ImportReport,
}

struct Item {
    number: u64,
    id: String,
    attributes: Vec<Value>,
    geometry: geo::MultiPolygon<f64>,
    area_m2: f64,
}

fn field_index(fields: &[Field], name: &str, path: &str, layer: &str) -> Result<usize> {
    fields
        .iter()
        .position(|f| f.name == name)
        .ok_or_else(|| Error::NoSuchField {
            path: path.to_owned(),
            layer: layer.to_owned(),
            field: name.to_owned(),
            available: fields
                .iter()
                .map(|f| f.name.as_str())
                .collect::<Vec<_>>()
                .join(", "),
        })
}

/// Reads, validates, repairs and reprojects the polygons of `source`.
fn import_polygons(
    source: &VectorSource,
    kind: LayerKind,
    id_field: Option<&str>,
    on_duplicate: DuplicateIds,
    progress: &dyn Progress,
) -> Result<Imported> {
    let what = kind.as_str();
    let raw = vector::read(source, Expect::Polygons(kind.as_str()), progress)?;
    let path = raw.source.path.clone();
    let id_index = id_field
        .map(|f| field_index(&raw.fields, f, &path, &raw.source.layer))
        .transpose()?;
    let id_of = |f: &vector::RawFeature| -> Option<String> {
        match id_index {
            None => Some(f.number.to_string()),
            Some(i) => match &f.attributes[i] {
                Value::Null => None,
                v => Some(v.to_string()).filter(|s| !s.trim().is_empty()),
            },
        }
    };

    progress.stage("validating and reprojecting", raw.features.len() as u64);
    let crs = &raw.crs;
    let outcomes = process_all(&raw.features, crs, progress);

    let mut report = ImportReport::default();
    let (mut invalid, mut repaired) = (0, 0);
    let mut items = Vec::with_capacity(raw.features.len());
    let mut seen: HashMap<String, (u64, usize)> = HashMap::new();
    let mut duplicates: Vec<(String, u64, u64)> = Vec::new();
    let read = raw.features.len();
    for (feature, outcome) in raw.features.into_iter().zip(outcomes) {
        let id = id_of(&feature);
        let Some(geometry) = settle(
            outcome,
            crs,
            (feature.number, id.clone()),
            (&mut report, kind),
            (&mut invalid, &mut repaired),
        ) else {
            continue;
        };
        let Some(id) = id else {
            push_issue(
                &mut report,
                kind,
                feature.number,
                None,
                format!("no value in id field {:?}", id_field.unwrap_or_default()),
                IssueAction::Skipped,
            );
            continue;
        };
        let Some(id) = dedupe(
            id,
            feature.number,
            (&mut seen, &mut duplicates),
            on_duplicate,
            (&mut report, kind),
        ) else {
            continue;
        };
        let area_m2 = crate::area::area_m2(&geometry);
        items.push(Item {
            number: feature.number,
            id,
            attributes: feature.attributes,
            geometry,
            area_m2,
        });
    }
    if on_duplicate == DuplicateIds::Fail && !duplicates.is_empty() {
        let field = id_field.unwrap_or("feature number");
        return Err(duplicate_error(path, field, &duplicates));
    }
    if items.is_empty() {
        return Err(Error::NothingImported {
            path,
            read: read as u64,
        });
    }
    tracing::info!(
        layer = what,
        read,
        kept = items.len(),
        invalid,
        repaired,
        "geometries checked"
    );

    let fields = renamed_fields(raw.fields);
    Ok(Imported {
        fields,
        source: raw.source,
        items,
        read,
        invalid,
        repaired,
        report,
    })
}

/// Records a problem of feature `number` in the import log.
fn push_issue(
    report: &mut ImportReport,
    kind: LayerKind,
    number: u64,
    id: Option<String>,
    problem: String,
    action: IssueAction,
) {
    report.issues.push(Issue {
        layer: kind,
        feature: number,
        id,
        problem,
        action,
    });
}

/// Each feature's geometry validated and reprojected, in parallel.
fn process_all(
    features: &[vector::RawFeature],
    crs: &crate::crs::Crs,
    progress: &dyn Progress,
) -> Vec<Outcome> {
    features
        .par_iter()
        .with_min_len(256)
        .map(|f| {
            let out = geometry::process(f.wkb.as_deref(), crs);
            progress.advance(1);
            out
        })
        .collect()
}

/// The geometry of feature `number` once its outcome is settled: a valid one as it is, an
/// invalid one repaired and reprojected if it can be (counted in `invalid` and `repaired`),
/// `None` when it is skipped; each problem goes to the import log.
fn settle(
    outcome: Outcome,
    crs: &crate::crs::Crs,
    (number, id): (u64, Option<String>),
    (report, kind): (&mut ImportReport, LayerKind),
    (invalid, repaired): (&mut usize, &mut usize),
) -> Option<geo::MultiPolygon<f64>> {
    match outcome {
        Outcome::Valid(g) => Some(g),
        Outcome::Rejected(reason) => {
            push_issue(report, kind, number, id, reason, IssueAction::Skipped);
            None
        }
        Outcome::Invalid { source, reason } => {
            *invalid += 1;
            match geometry::repair(&source).and_then(|g| geometry::to_wgs84(g, crs)) {
                Ok(g) => {
                    *repaired += 1;
                    push_issue(
                        report,
                        kind,
                        number,
                        id.clone(),
                        format!("invalid geometry: {reason}"),
                        IssueAction::Repaired,
                    );
                    Some(g)
                }
                Err(why) => {
                    push_issue(
                        report,
                        kind,
                        number,
                        id,
                        format!("invalid geometry: {reason}; {why}"),
                        IssueAction::Skipped,
                    );
                    None
                }
            }
        }
    }
}

/// The ids seen so far: the feature each was first seen at, and how many times.
type Seen = HashMap<String, (u64, usize)>;

/// The id feature `number` is kept under, or `None` to skip it: a repeated id (the first seen
/// and the repeats are remembered) is kept as it is (and the import fails later), skipped, or
/// suffixed `~n`, by `on_duplicate`; the last two are logged.
fn dedupe(
    mut id: String,
    number: u64,
    (seen, duplicates): (&mut Seen, &mut Vec<(String, u64, u64)>),
    on_duplicate: DuplicateIds,
    (report, kind): (&mut ImportReport, LayerKind),
) -> Option<String> {
    match seen.get_mut(&id) {
        None => {
            seen.insert(id.clone(), (number, 1));
        }
        Some((first, n)) => {
            *n += 1;
            duplicates.push((id.clone(), *first, number));
            match on_duplicate {
                DuplicateIds::Fail => {}
                DuplicateIds::Skip => {
                    push_issue(
                        report,
                        kind,
                        number,
                        Some(id),
                        format!("duplicate id (first at feature {first})"),
                        IssueAction::Skipped,
                    );
                    return None;
                }
                DuplicateIds::Suffix => {
                    let renamed = format!("{id}~{n}");
                    push_issue(
                        report,
                        kind,
                        number,
                        Some(renamed.clone()),
                        format!("duplicate id {id:?} (first at feature {first}) renamed"),
                        IssueAction::Flagged,
                    );
                    id = renamed;
                }
            }
        }
    }
    Some(id)
}

/// The error of a source whose ids repeat, with a few examples.
fn duplicate_error(path: String, field: &str, duplicates: &[(String, u64, u64)]) -> Error {
    let examples = duplicates
        .iter()
        .take(5)
        .map(|(id, first, again)| format!("{id:?} (features {first} and {again})"))
        .collect::<Vec<_>>()
        .join(", ");
    Error::DuplicateIds {
        path,
        field: field.to_owned(),
        count: duplicates.len(),
        examples,
    }
}

/// Source attributes keep their names, unless one collides with a column predio writes.
fn renamed_fields(fields: Vec<Field>) -> Vec<Field> {
    fields
        .into_iter()
        .map(|mut f| {
            if RESERVED_COLUMNS.contains(&f.name.as_str()) {
                f.name = format!("src_{}", f.name);
            }
            f
        })
        .collect()
}

fn meta(
    kind: LayerKind,
    imported: &Imported,
    count: usize,
    bbox: Option<predio_engine::Bbox>,
    total_area_m2: f64,
    id_field: Option<&str>,
) -> LayerMeta {
    LayerMeta {
        file: kind.file_name().to_owned(),
        source: imported.source.clone(),
        read: imported.read,
        count,
        invalid: imported.invalid,
        repaired: imported.repaired,
        skipped: imported.read - count,
        without_sector: None,
        bbox,
        total_area_m2,
        fields: imported.fields.clone(),
        id_field: id_field.map(str::to_owned),
        imported_at: Utc::now(),
        // The catalog names the parcels' keys file as it writes it.
        keys: None,
        address_fields: Vec::new(),
        ref_field: None,
    }
}

/// Sets each parcel's sector (the sector containing its interior point) and flags the parcels
/// that lie in none. Returns how many lie in none.
pub(crate) fn assign_sectors(
    parcels: &mut ParcelLayer,
    sectors: &SectorLayer,
    report: &mut ImportReport,
) -> usize {
    let index = SectorIndex::new(sectors);
    parcels
        .parcels
        .par_iter_mut()
        .with_min_len(256)
        .for_each(|p| {
            p.sector_id = index.sector_of(&p.geometry).cloned();
        });
    let mut without = 0;
    for (i, p) in parcels.parcels.iter().enumerate() {
        if p.sector_id.is_none() {
            without += 1;
            report.issues.push(Issue {
                layer: LayerKind::Parcels,
                feature: i as u64 + 1,
                id: Some(p.id.to_string()),
                problem: "parcel lies in no sector".into(),
                action: IssueAction::Flagged,
            });
        }
    }
    without
}

/// Imports parcels from `source`, assigning them to `sectors` when the catalog has any.
///
/// # Errors
/// An unreadable source, a missing CRS, points instead of polygons, duplicate ids (unless a
/// policy says otherwise), or no importable feature. Nothing is committed then.
#[tracing::instrument(skip_all, fields(source.path = %source.path))]
pub fn import_parcels(
    source: &VectorSource,
    options: &ParcelOptions,
    sectors: Option<&SectorLayer>,
    progress: &dyn Progress,
) -> Result<Change> {
    let id_field = options.id_field.as_deref();
    let mut imported = import_polygons(
        source,
        LayerKind::Parcels,
        id_field,
        options.on_duplicate_id,
        progress,
    )?;
    let items = std::mem::take(&mut imported.items);
    let mut layer = ParcelLayer {
        fields: imported.fields.clone(),
        parcels: items
            .into_iter()
            .map(|it| Parcel {
                id: ParcelId::new(it.id),
                sector_id: None,
                area_m2: it.area_m2,
                geometry: it.geometry,
                attributes: it.attributes,
            })
            .collect(),
    };
    let mut report = std::mem::take(&mut imported.report);
    let without_sector = sectors.map(|s| {
        progress.stage("assigning sectors", 0);
        assign_sectors(&mut layer, s, &mut report)
    });
    let mut meta = meta(
        LayerKind::Parcels,
        &imported,
        layer.parcels.len(),
        layer.bbox(),
        layer.total_area_m2(),
        id_field,
    );
    meta.without_sector = without_sector;
    Ok(Change {
        operation: "import parcels".into(),
        parcels: Some((layer, meta)),
        report,
        ..Default::default()
    })
}

const NAME_GUESSES: [&str; 14] = [
    "name",
    "nombre",
    "nom",
    "nome",
    "barrio",
    "neighborhood",
    "neighbourhood",
    "municipio",
    "distrito",
    "district",
    "sector",
    "quartier",
    "seccion",
    "sección",
];

/// Imports sectors from `source`; when the catalog has parcels, re-assigns them to the new
/// sectors (and the change then carries both layers).
///
/// # Errors
/// As [`import_parcels`], plus a `--name-field` or `--population-field` not in the source.
#[tracing::instrument(skip_all, fields(source.path = %source.path))]
pub fn import_sectors(
    source: &VectorSource,
    options: &SectorOptions,
    parcels: Option<(ParcelLayer, LayerMeta)>,
    progress: &dyn Progress,
) -> Result<Change> {
    let id_field = options.id_field.as_deref();
    let mut imported = import_polygons(
        source,
        LayerKind::Sectors,
        id_field,
        options.on_duplicate_id,
        progress,
    )?;
    let (path, layer_name) = (imported.source.path.clone(), imported.source.layer.clone());
    // Look fields up by their source names (before any renaming of reserved names).
    let find = |name: &str| -> Result<usize> {
        imported
            .fields
            .iter()
            .position(|f| f.name == name || f.name == format!("src_{name}"))
            .ok_or_else(|| Error::NoSuchField {
                path: path.clone(),
                layer: layer_name.clone(),
                field: name.to_owned(),
                available: imported
                    .fields
                    .iter()
                    .map(|f| f.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
            })
    };
    let name_index = match &options.name_field {
        Some(f) => Some(find(f)?),
        None => NAME_GUESSES.iter().find_map(|g| {
            imported.fields.iter().position(|f| {
                f.name.eq_ignore_ascii_case(g) || f.name.eq_ignore_ascii_case(&format!("src_{g}"))
            })
        }),
    };
    let population_index = options.population_field.as_deref().map(find).transpose()?;
    let items = std::mem::take(&mut imported.items);
    let mut report = std::mem::take(&mut imported.report);
    let sectors = SectorLayer {
        fields: imported.fields.clone(),
        sectors: items
            .into_iter()
            .map(|it| {
                let name = name_index
                    .map(|i| it.attributes[i].to_string())
                    .filter(|n| !n.is_empty())
                    .unwrap_or_else(|| it.id.clone());
                let population = population_index.and_then(|i| match &it.attributes[i] {
                    Value::Int(v) => Some(f64::from(*v)),
                    Value::Long(v) => Some(*v as f64),
                    Value::Double(v) => Some(*v),
                    Value::String(s) => s.trim().parse().ok(),
                    _ => None,
                });
                if population_index.is_some() && population.is_none() {
                    report.issues.push(Issue {
                        layer: LayerKind::Sectors,
                        feature: it.number,
                        id: Some(it.id.clone()),
                        problem: "no usable population value".into(),
                        action: IssueAction::Flagged,
                    });
                }
                Sector {
                    id: SectorId::new(it.id),
                    name,
                    population,
                    area_m2: it.area_m2,
                    geometry: it.geometry,
                    attributes: it.attributes,
                }
            })
            .collect(),
    };
    let total: f64 = sectors.sectors.iter().map(|s| s.area_m2).sum();
    let sector_meta = meta(
        LayerKind::Sectors,
        &imported,
        sectors.sectors.len(),
        sectors.bbox(),
        total,
        id_field,
    );
    let parcels = parcels.map(|(mut layer, mut meta)| {
        progress.stage("assigning sectors", 0);
        meta.without_sector = Some(assign_sectors(&mut layer, &sectors, &mut report));
        (layer, meta)
    });
    Ok(Change {
        operation: "import sectors".into(),
        parcels,
        sectors: Some((sectors, sector_meta)),
        report,
        ..Default::default()
    })
}
