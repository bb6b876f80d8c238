//! What the commands that read the indices tables share: the window and H3 resolution asked
//! for (checked against what `predio compute` made), columns as plain vectors, CSV text, and
//! `--out` files with their outlines in the format their extension names.

use std::collections::HashMap;
use std::path::Path;

use anyhow::{bail, Context as _};
use predio_engine::indices::{export_indices, IndicesMeta, Level};
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
