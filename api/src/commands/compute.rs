//! `predio compute`, `predio indices` and `predio export indices`.

use std::collections::HashMap;
use std::io::Write;

use anyhow::{bail, Context};
use chrono::{DateTime, NaiveDate, Utc};
use predio_engine::indices::schema;
use predio_engine::indices::{
    self, export_indices, ConfigSource, IndexConfig, IndicesMeta, Level, Selection, Window,
};
use predio_engine::{
    compute_version, CatalogStore, ComputeRequest, Computed, ExportFormat, Manifest, Table,
};

use super::thousands;
use crate::cli::{self, ComputeArgs, ExportIndices, IndexLevel, IndicesArgs};

/// `--as-of`: an RFC 3339 instant as it is, or a day: the end of that local day in the
/// catalog's time zone (`2025-12-31` is 2025-12-31 24:00 there).
pub(crate) fn parse_as_of(s: &str, zone: chrono_tz::Tz) -> anyhow::Result<DateTime<Utc>> {
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Ok(t.with_timezone(&Utc));
    }
    let d = NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .with_context(|| format!("--as-of {s:?}: write YYYY-MM-DD or an RFC 3339 time"))?;
    d.succ_opt().context("--as-of: date out of range")?;
    Ok(predio_engine::indices::end_of_local_day(d, zone))
}

/// An instant on the catalog's local clock, as users read it: a local midnight as the end of
/// the day before (`2025-12-31 24:00 America/Costa_Rica`), else `2025-12-31 18:30 …`.
pub(crate) fn local_text(t: DateTime<Utc>, zone: chrono_tz::Tz) -> String {
    let local = t.with_timezone(&zone).naive_local();
    if local.time() == chrono::NaiveTime::MIN {
        let day = local.date().pred_opt().unwrap_or(local.date());
        format!("{day} 24:00 {zone}")
    } else {
        format!("{} {zone}", local.format("%Y-%m-%d %H:%M"))
    }
}

/// The catalog's current version; an empty catalog is an error naming its directory and what
/// to import first.
pub(super) fn current(catalog: &dyn CatalogStore) -> anyhow::Result<Manifest> {
    Ok(catalog
        .current()?
        .ok_or_else(|| predio_engine::Error::Empty {
            path: catalog.location().into(),
        })?)
}

/// `predio compute`.
pub fn run(catalog: &dyn CatalogStore, args: &ComputeArgs) -> anyhow::Result<()> {
    let windows: Vec<Window> = args
        .windows
        .iter()
        .map(|w| w.parse().map_err(anyhow::Error::msg))
        .collect::<anyhow::Result<_>>()?;
    if windows.is_empty() {
        bail!("--windows: give at least one window");
    }
    let mut res: Vec<h3o::Resolution> = Vec::new();
    for r in &args.h3_res {
        res.push(h3o::Resolution::try_from(*r).with_context(|| format!("H3 resolution {r}"))?);
    }
    let mut cfg = IndexConfig::new();
    if let Some(p) = &args.deadlines {
        cfg.read_deadlines(p)?;
    }
    if let Some(p) = &args.holidays {
        cfg.read_holidays(p)?;
    }
    let (zone, _) = current(catalog)?.zone();
    let as_of = match &args.as_of {
        Some(s) => parse_as_of(s, zone)?,
        None => Utc::now(),
    };
    let request = ComputeRequest {
        zone,
        windows,
        h3_res: res,
        as_of,
        config: cfg,
        // Absolute, so that `predio audit` finds them from any directory.
        config_source: ConfigSource {
            deadlines: args
                .deadlines
                .as_deref()
                .map(std::path::absolute)
                .transpose()?,
            holidays: args
                .holidays
                .as_deref()
                .map(std::path::absolute)
                .transpose()?,
        },
    };
    let computed = compute_version(catalog, &request).map_err(|e| match e {
        predio_engine::Error::NoReports { .. } => {
            anyhow::anyhow!("{e}: run `predio import reports` first")
        }
        e => e.into(),
    })?;
    print_summary(&computed)?;
    // The process ends with this command: half a million parcel ids, each a string, are left to
    // the operating system rather than freed one allocation at a time.
    std::mem::forget(computed.cadastre);
    Ok(())
}

/// What `predio compute` says of the version it committed.
fn print_summary(computed: &Computed) -> anyhow::Result<()> {
    let committed = &computed.manifest;
    let seconds = computed.compute_seconds;
    let m = committed
        .indices
        .as_ref()
        .context("indices missing from the new version")?;
    eprintln!(
        "computed and wrote the indices of {} reports as of {} in {seconds:.2} s → version {}",
        thousands(m.reports),
        local_text(m.as_of, committed.zone().0),
        committed.version
    );
    eprintln!(
        "  rows: {} parcel, {} sector, {} h3 (windows {}; H3 resolutions {:?})",
        thousands(m.rows[&Level::Parcel]),
        thousands(m.rows[&Level::Sector]),
        thousands(m.rows[&Level::H3]),
        m.windows.join(", "),
        m.h3_resolutions
    );
    eprintln!(
        "  counted without a parcel: {}, without a sector: {}, without a location: {}; created after --as-of (left out): {}; closed before created (left out of times): {}",
        thousands(m.without_parcel),
        thousands(m.without_sector),
        thousands(m.without_cell),
        thousands(m.after_as_of),
        thousands(m.closed_before_created)
    );
    eprintln!(
        "  deadline {} business days (warning {}, alert {}), {} category rules, {} holidays; attention index from {} reports",
        m.default_rule.days,
        m.default_rule.warning_days,
        m.default_rule.alert_days,
        m.category_rules,
        m.holidays,
        m.min_reports
    );
    Ok(())
}

pub(super) fn indices_meta(manifest: &Manifest) -> anyhow::Result<&IndicesMeta> {
    manifest
        .indices
        .as_ref()
        .context("the current version has no indices: run `predio compute` first")
}

fn level(l: IndexLevel) -> Level {
    match l {
        IndexLevel::Parcel => Level::Parcel,
        IndexLevel::Sector => Level::Sector,
        IndexLevel::H3 => Level::H3,
        IndexLevel::Report => Level::Report,
    }
}

/// `predio export indices`.
pub fn export(catalog: &dyn CatalogStore, args: &ExportIndices) -> anyhow::Result<()> {
    let manifest = current(catalog)?;
    let meta = indices_meta(&manifest)?;
    let level = level(args.level);
    let window = super::table::pick_window(meta, args.window.as_deref())?;
    let res = match level {
        Level::H3 => args
            .res
            .or_else(|| meta.h3_resolutions.first().copied())
            .map(|r| super::table::check_res(meta, r))
            .transpose()?,
        _ => None,
    };
    let table = catalog
        .indices(&manifest, level)?
        .context("indices table missing")?;
    let sel = Selection {
        window,
        dimension: super::table::resolve_dimension(catalog, &manifest, args.dimension.dimension())?,
        res,
    };
    let format = match args.format {
        cli::ExportFormat::Csv => ExportFormat::Csv,
        cli::ExportFormat::Geojson => ExportFormat::GeoJson,
        cli::ExportFormat::Parquet => ExportFormat::Parquet,
        cli::ExportFormat::Fgb => ExportFormat::Fgb,
    };
    let rows = if level == Level::Report {
        if matches!(format, ExportFormat::GeoJson | ExportFormat::Fgb) {
            bail!("--level report exports CSV or Parquet; for points use `predio export reports`");
        }
        table
    } else {
        indices::select(&table, &sel)?
    };
    let parcels;
    let sectors;
    let mut outlines: HashMap<&str, &geo_types::MultiPolygon<f64>> = HashMap::new();
    match level {
        Level::Parcel => {
            parcels = catalog.parcels(&manifest)?.unwrap_or_default();
            outlines.extend(parcels.parcels.iter().map(|p| (p.id.as_str(), &p.geometry)));
        }
        Level::Sector => {
            sectors = catalog.sectors(&manifest)?.unwrap_or_default();
            outlines.extend(sectors.sectors.iter().map(|s| (s.id.as_str(), &s.geometry)));
        }
        Level::H3 | Level::Report => {}
    }
    let written = export_indices(&rows, level, &outlines, format, &args.out)
        .with_context(|| format!("exporting to {}", args.out.display()))?;
    if rows.is_empty() {
        eprintln!(
            "warning: no rows for window {} and {} {}",
            sel.window,
            sel.dimension.name(),
            sel.dimension.value().unwrap_or("")
        );
    }
    eprintln!(
        "wrote {} {level} rows (window {}, {}{}) of version {} to {}",
        thousands(written),
        sel.window,
        sel.dimension.name(),
        sel.dimension
            .value()
            .map(|v| format!(" {v:?}"))
            .unwrap_or_default(),
        manifest.version,
        args.out.display()
    );
    Ok(())
}

/// `predio indices --sector`.
pub fn show(catalog: &dyn CatalogStore, args: &IndicesArgs) -> anyhow::Result<()> {
    use polars::prelude::*;
    let manifest = current(catalog)?;
    let meta = indices_meta(&manifest)?;
    let table = catalog
        .indices(&manifest, Level::Sector)?
        .context("indices table missing")?;
    let (id, name) = find_sector(&table, &args.sector)?;
    let dimension =
        super::table::resolve_dimension(catalog, &manifest, args.dimension.dimension())?;
    let (dim, value) = (dimension.name(), dimension.value());
    let mut pred = col(schema::key::SECTOR_ID)
        .eq(lit(id.clone()))
        .and(col(schema::key::DIMENSION).eq(lit(dim)));
    if let Some(v) = value {
        pred = pred.and(col(schema::key::VALUE).eq(lit(v.to_owned())));
    }
    let rows = table.frame().clone().lazy().filter(pred).collect()?;
    if rows.height() == 0 {
        bail!(
            "sector {id} ({name}) has no reports of {dim} {:?} in any window",
            value.unwrap_or_default()
        );
    }
    let windows: Vec<String> = rows
        .column("window")?
        .str()?
        .iter()
        .map(|w| w.unwrap_or("").to_owned())
        .collect();
    let order: Vec<usize> = meta
        .windows
        .iter()
        .filter_map(|w| windows.iter().position(|x| x == w))
        .collect();
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "sector {id} {name} — {}{} — as of {} (version {})",
        dim,
        value.map(|v| format!(" {v:?}")).unwrap_or_default(),
        local_text(meta.as_of, manifest.zone().0),
        manifest.version
    )?;
    write!(out, "{:<28}", "")?;
    for i in &order {
        write!(out, "{:>12}", windows[*i])?;
    }
    writeln!(out)?;
    for (column, label) in METRICS {
        let Ok(c) = rows.column(column) else { continue };
        let s = c.as_materialized_series().cast(&DataType::Float64)?;
        let v = s.f64()?;
        write!(out, "{label:<28}")?;
        for i in &order {
            let cell = match v.get(*i) {
                None => "–".to_owned(),
                Some(x) if column == "compliance" || column == "reopen_rate" => {
                    format!("{:.1} %", 100.0 * x)
                }
                Some(x) if x.fract() == 0.0 && x.abs() < 1e12 => format!("{x:.0}"),
                Some(x) => format!("{x:.2}"),
            };
            write!(out, "{cell:>12}")?;
        }
        writeln!(out)?;
    }
    writeln!(
        out,
        "bd = business days; – = nothing to measure. Attention index only from {} reports.",
        meta.min_reports
    )?;
    Ok(())
}

/// The rows `predio indices` prints: each index column with its label.
const METRICS: [(&str, &str); 27] = [
    (schema::RECEIVED, "reports received"),
    (schema::OPEN, "open now (not closed: open or in progress)"),
    (schema::RESOLVED, "resolved"),
    (schema::REJECTED_DUPLICATE, "rejected or duplicate"),
    (schema::RESOLVED_NOT_FIXED, "resolved, not fixed"),
    (schema::COMPLIANCE, "answered within deadline"),
    (schema::ANSWERED, "answered (with a time)"),
    (schema::OPEN_WARNING, "open: warning"),
    (schema::OPEN_ALERT, "open: alert"),
    (schema::OVERDUE, "open: overdue"),
    (schema::OVERDUE_0_5, "  0-5 bd past due"),
    (schema::OVERDUE_6_10, "  6-10 bd past due"),
    (schema::OVERDUE_11_20, "  11-20 bd past due"),
    (schema::OVERDUE_OVER_20, "  >20 bd past due"),
    (schema::OLDEST_OPEN_BD, "oldest open (bd)"),
    (schema::RESOLUTION_MEDIAN_H, "resolution median (h)"),
    (schema::RESOLUTION_P90_H, "resolution p90 (h)"),
    (schema::RESOLUTION_MEDIAN_BD, "resolution median (bd)"),
    (schema::RESOLUTION_P90_BD, "resolution p90 (bd)"),
    (schema::ACK_MEDIAN_H, "acknowledge median (h)"),
    (schema::REOPEN_RATE, "reopen rate"),
    (schema::RECURRENT, "recurrent reports"),
    (schema::DENSITY_KM2, "reports per km²"),
    (schema::PER_1000, "per 1,000 inhabitants"),
    (schema::PREV_RECEIVED, "previous window"),
    (schema::TREND, "trend (this / previous)"),
    (schema::ATTENTION, "attention index (0-100)"),
];

/// The sector whose id or name is `sought` (case and accents aside) in a sector indices table,
/// else the one sector whose name contains it: its id and name.
fn find_sector(table: &Table, sought: &str) -> anyhow::Result<(String, String)> {
    use super::table::fold;
    let (ids, names) = (table.texts("sector_id")?, table.texts("name")?);
    let wanted = fold(sought);
    let mut sectors: Vec<(String, String)> = ids
        .iter()
        .zip(names.iter())
        .filter_map(|(id, name)| Some((id.clone()?, name.clone().unwrap_or_default())))
        .collect();
    sectors.sort();
    sectors.dedup();
    let exact = sectors
        .iter()
        .find(|(id, name)| fold(id) == wanted || fold(name) == wanted);
    let partial: Vec<&(String, String)> = sectors
        .iter()
        .filter(|(_, name)| !wanted.is_empty() && fold(name).contains(&wanted))
        .collect();
    let sector = match (exact, partial.as_slice()) {
        (Some(s), _) => Some(s.clone()),
        (None, [s]) => Some((*s).clone()),
        (None, [_, _, ..]) => bail!(
            "{sought:?} names several sectors: {}; give more of the name or the id",
            partial
                .iter()
                .map(|(id, name)| format!("{name} ({id})"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        (None, []) => None,
    };
    let Some(found) = sector else {
        let mut known: Vec<String> = names.into_iter().flatten().collect();
        known.sort();
        known.dedup();
        known.truncate(12);
        bail!(
            "no sector {:?} (by id or name); some sectors: {}",
            sought,
            known.join(", ")
        );
    };
    Ok(found)
}
