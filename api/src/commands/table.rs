//! What the commands that read the indices tables share: the window and H3 resolution asked
//! for (checked against what `predio compute` made), columns as plain vectors, CSV text, and
//! `--out` files with their outlines in the format their extension names.

use std::collections::HashMap;
use std::path::Path;

use anyhow::{bail, Context as _};
use predio_engine::indices::{export_indices, Dimension, IndicesMeta, Level};
use predio_engine::{CatalogStore, ExportFormat, Manifest, Table};

/// The format of an `--out` file, by its extension.
pub(crate) fn format_of(path: &Path) -> anyhow::Result<ExportFormat> {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    Ok(match ext.as_deref() {
        Some("csv") => ExportFormat::Csv,
        Some("geojson" | "json") => ExportFormat::GeoJson,
        Some("parquet") => ExportFormat::Parquet,
        Some("fgb") => ExportFormat::Fgb,
        _ => bail!(
            "--out {}: name a .csv, .geojson, .parquet (GeoParquet) or .fgb file",
            path.display()
        ),
    })
}

/// Writes `rows` (keyed by `parcel_id`, `sector_id` or `cell` as `level` says) with each
/// feature's outline to `path`, in the format of its extension, atomically. Returns the rows
/// written.
pub(crate) fn write_out(
    catalog: &dyn CatalogStore,
    manifest: &Manifest,
    rows: &Table,
    level: Level,
    path: &Path,
) -> anyhow::Result<usize> {
    let format = format_of(path)?;
    let parcels;
    let sectors;
    let mut outlines: HashMap<&str, &geo_types::MultiPolygon<f64>> = HashMap::new();
    if format != ExportFormat::Csv {
        match level {
            Level::Parcel => {
                parcels = catalog.parcels(manifest)?.unwrap_or_default();
                outlines.extend(parcels.parcels.iter().map(|p| (p.id.as_str(), &p.geometry)));
            }
            Level::Sector => {
                sectors = catalog.sectors(manifest)?.unwrap_or_default();
                outlines.extend(sectors.sectors.iter().map(|s| (s.id.as_str(), &s.geometry)));
            }
            Level::H3 | Level::Report => {}
        }
    }
    export_indices(rows, level, &outlines, format, path)
        .with_context(|| format!("writing {}", path.display()))
}

/// The window asked for, else the first computed; refused when it was not computed.
pub(crate) fn pick_window(meta: &IndicesMeta, given: Option<&str>) -> anyhow::Result<String> {
    let window = given
        .filter(|w| !w.is_empty())
        .map(str::to_owned)
        .or_else(|| meta.windows.first().cloned())
        .context("no window computed")?;
    if !meta.windows.contains(&window) {
        bail!(
            "--window {window}: computed windows are {} (run `predio compute --windows ...`)",
            meta.windows.join(", ")
        );
    }
    Ok(window)
}

/// The H3 resolution asked for; refused when the cell table does not have it.
pub(crate) fn check_res(meta: &IndicesMeta, res: u8) -> anyhow::Result<u8> {
    if !meta.h3_resolutions.contains(&res) {
        bail!(
            "--res {res}: computed H3 resolutions are {:?}",
            meta.h3_resolutions
        );
    }
    Ok(res)
}

/// A column as numbers (`None` where null).
pub(crate) fn f64_column(table: &Table, name: &str) -> anyhow::Result<Vec<Option<f64>>> {
    Ok(table.numbers(name)?)
}

/// A column as text (`None` where null).
pub(crate) fn string_column(table: &Table, name: &str) -> anyhow::Result<Vec<Option<String>>> {
    Ok(table.texts(name)?)
}

/// CSV text (RFC 4180 quoting) of a header and rows.
pub(crate) fn csv_text(
    header: &[&str],
    rows: impl IntoIterator<Item = Vec<String>>,
) -> anyhow::Result<String> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(header)?;
    for r in rows {
        w.write_record(&r)?;
    }
    Ok(String::from_utf8(
        w.into_inner().map_err(|e| e.into_error())?,
    )?)
}

/// A name folded for matching: lower case, the accents of Spanish, Portuguese and French
/// letters removed (`Señalización` → `senalizacion`).
pub(crate) fn fold(s: &str) -> String {
    s.trim()
        .to_lowercase()
        .chars()
        .map(|c| match c {
            'á' | 'à' | 'â' | 'ä' | 'ã' | 'å' => 'a',
            'é' | 'è' | 'ê' | 'ë' => 'e',
            'í' | 'ì' | 'î' | 'ï' => 'i',
            'ó' | 'ò' | 'ô' | 'ö' | 'õ' => 'o',
            'ú' | 'ù' | 'û' | 'ü' => 'u',
            'ñ' => 'n',
            'ç' => 'c',
            c => c,
        })
        .collect()
}

/// The category or department `dimension` names, as the indices write it: the value given, else
/// the one equal to it without case and accents. An unknown value is refused, listing the
/// known ones (read from the sector table, else the cell table, which hold every value).
pub(crate) fn resolve_dimension(
    catalog: &dyn CatalogStore,
    manifest: &Manifest,
    dimension: Dimension,
) -> anyhow::Result<Dimension> {
    let (Some(given), name) = (dimension.value(), dimension.name()) else {
        return Ok(dimension);
    };
    let table = match catalog.indices(manifest, Level::Sector)? {
        Some(t) => t,
        None => catalog
            .indices(manifest, Level::H3)?
            .context("the indices are missing: run predio compute")?,
    };
    let (dims, values) = (table.texts("dimension")?, table.texts("value")?);
    let known: std::collections::BTreeSet<String> = dims
        .into_iter()
        .zip(values)
        .filter_map(|(d, v)| (d.as_deref() == Some(name)).then_some(v).flatten())
        .collect();
    if known.contains(given) {
        return Ok(dimension);
    }
    let wanted = fold(given);
    let same: Vec<&String> = known.iter().filter(|k| fold(k) == wanted).collect();
    match same.as_slice() {
        [one] => Ok(Dimension::new(name, Some((*one).clone())).unwrap_or(dimension)),
        _ => bail!(
            "no such {name} {given:?}; the {name} values are: {}",
            known.into_iter().collect::<Vec<_>>().join(", ")
        ),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn names_fold_without_case_or_accents() {
        assert_eq!(super::fold(" Señalización Vial "), "senalizacion vial");
        assert_eq!(super::fold("ALUMBRADO PÚBLICO"), "alumbrado publico");
        assert_eq!(super::fold("Construção"), "construcao");
    }
}
