//! What the commands that read the indices tables share: the window and H3 resolution asked
//! for (checked against what `predio compute` made), columns as plain vectors, and CSV text.

use anyhow::{bail, Context as _};
use polars::prelude::*;
use predio_engine::indices::IndicesMeta;

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
pub(crate) fn f64_column(df: &DataFrame, name: &str) -> anyhow::Result<Vec<Option<f64>>> {
    let c = df
        .column(name)
        .map_err(|_| anyhow::anyhow!("{name}: no such column in the table"))?
        .cast(&DataType::Float64)
        .map_err(|e| anyhow::anyhow!("{name}: not a number ({e})"))?;
    Ok(c.f64()?.iter().collect())
}

/// A column as text (`None` where null).
pub(crate) fn string_column(df: &DataFrame, name: &str) -> anyhow::Result<Vec<Option<String>>> {
    let c = df
        .column(name)
        .map_err(|_| anyhow::anyhow!("{name}: no such column in the table"))?
        .cast(&DataType::String)?;
    Ok(c.str()?.iter().map(|s| s.map(str::to_owned)).collect())
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
