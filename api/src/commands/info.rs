//! `predio info`.

use predio_engine::indices::Level;
use predio_engine::{Bbox, CatalogStore, LayerMeta, ZoneSource};

use super::thousands;
use crate::cli::InfoArgs;

fn bbox(b: Option<Bbox>) -> String {
    b.map_or_else(
        || "-".into(),
        |b| {
            format!(
                "{:.6},{:.6} .. {:.6},{:.6}",
                b.west, b.south, b.east, b.north
            )
        },
    )
}

fn layer_lines(name: &str, m: &LayerMeta) -> String {
    let mut s = format!(
        "{name:<9} {} from {} (layer {}, {}, {} {})\n",
        thousands(m.count),
        m.source.path,
        m.source.layer,
        m.source.driver,
        m.source.crs,
        if m.source.crs_from_option {
            "given with --srs".to_owned()
        } else {
            format!("\"{}\"", m.source.crs_name)
        },
    );
    s += &format!(
        "          read {} · invalid {} · repaired {} · skipped {}{}\n",
        thousands(m.read),
        thousands(m.invalid),
        thousands(m.repaired),
        thousands(m.skipped),
        m.without_sector
            .map(|n| format!(" · in no sector {}", thousands(n)))
            .unwrap_or_default()
    );
    s += &format!(
        "          bbox {} · area {:.3} km²\n",
        bbox(m.bbox),
        m.total_area_m2 / 1e6
    );
    if !m.address_fields.is_empty() || m.ref_field.is_some() {
        s += &format!(
            "          reports without coordinates located by reference ({}){}\n",
            m.ref_field.as_deref().unwrap_or("the parcel id"),
            if m.address_fields.is_empty() {
                String::new()
            } else {
                format!(" and address ({})", m.address_fields.join(", "))
            }
        );
    }
    s
}

/// The line of `predio info` that says the catalog's time zone and where it comes from.
fn zone_line(m: &predio_engine::Manifest) -> String {
    let (zone, source) = m.zone();
    let from = match source {
        ZoneSource::Set => "set with `predio config set timezone`",
        ZoneSource::Reports => {
            "the zone most reports were recorded in; set another with `predio config set timezone`"
        }
        ZoneSource::Default => "no reports yet; set one with `predio config set timezone`",
    };
    format!("time zone {zone} ({from}): dates given as days are its local days\n")
}

/// The lines about the reports: counts, statuses, and how they were placed.
fn reports_lines(r: &predio_engine::ReportsMeta) -> String {
    let mut out = String::new();
    let x = &r.matches;
    let statuses: Vec<String> = r
        .by_status
        .iter()
        .map(|(s, n)| format!("{s} {}", thousands(*n)))
        .collect();
    // "open" as the indices count it: not closed, whether acted on or not
    let not_closed: usize = r
        .by_status
        .iter()
        .filter(|(s, _)| ["open", "in_progress"].contains(&s.as_str()))
        .map(|(_, n)| *n)
        .sum();
    out += &format!(
        "reports   {} from {} import(s) · open (not closed: open or in progress) {} · by status: {}\n",
        thousands(r.count),
        r.imports.len(),
        thousands(not_closed),
        statuses.join(" · ")
    );
    out += &format!(
        "          parcel: inside {} · nearest {} (≤ {} m) · none {} · unlocated {} · in a sector {} · H3 res {}\n",
        thousands(x.inside),
        thousands(x.nearest),
        r.tolerance_m,
        thousands(x.none),
        thousands(x.unlocated),
        thousands(x.in_sector),
        r.h3_resolution
    );
    if x.parcel_ref + x.address + x.address_near + x.address_fuzzy > 0 {
        out += &format!(
            "          without coordinates (location derived): by reference {} · address {} · nearest number {} · similar street {}\n",
            thousands(x.parcel_ref),
            thousands(x.address),
            thousands(x.address_near),
            thousands(x.address_fuzzy)
        );
    }
    out
}

/// `predio info`.
#[allow(clippy::print_stdout)] // printing is this command's job
pub fn run(catalog: &dyn CatalogStore, args: &InfoArgs) -> anyhow::Result<()> {
    let current = catalog.current()?;
    if args.verify {
        if let Some(m) = &current {
            catalog.verify(m)?;
        }
    }
    if args.json {
        let mut value = match &current {
            Some(m) => serde_json::to_value(m)?,
            None => serde_json::json!({ "version": null }),
        };
        value["catalog"] = catalog.location().into();
        if let Some(m) = &current {
            value["time_zone"] = m.zone().0.name().into();
        }
        if args.verify {
            value["verified"] = true.into();
        }
        println!("{}", serde_json::to_string_pretty(&value)?);
        return Ok(());
    }
    let Some(m) = current else {
        println!(
            "catalog   {} is empty: run `predio import parcels PATH` first",
            catalog.location()
        );
        return Ok(());
    };
    let mut out = format!("catalog   {}\n", catalog.location());
    out += &format!(
        "version   {} ({}, {}{}, predio {})\n",
        m.version,
        m.operation,
        m.created_at.format("%Y-%m-%d %H:%M:%S UTC"),
        m.parent
            .map(|p| format!(", parent {p}"))
            .unwrap_or_default(),
        m.predio_version
    );
    let zone = m.zone().0;
    out += &zone_line(&m);
    for (kind, meta) in &m.layers {
        out += &layer_lines(kind.as_str(), meta);
    }
    if let Some(r) = &m.reports {
        out += &reports_lines(r);
    }
    if let Some(ix) = &m.indices {
        let stale = ix.reports_sha256.as_ref() != m.files.get("reports.parquet").map(|f| &f.sha256);
        out += &format!(
            "indices   as of {} · windows {} · H3 res {:?} · rows: parcel {} · sector {} · h3 {} · report {}{}\n",
            super::compute::local_text(ix.as_of, zone),
            ix.windows.join(", "),
            ix.h3_resolutions,
            thousands(ix.rows.get(&Level::Parcel).copied().unwrap_or(0)),
            thousands(ix.rows.get(&Level::Sector).copied().unwrap_or(0)),
            thousands(ix.rows.get(&Level::H3).copied().unwrap_or(0)),
            thousands(ix.rows.get(&Level::Report).copied().unwrap_or(0)),
            if stale {
                " · STALE: the reports changed since; run `predio compute`"
            } else {
                ""
            }
        );
    }
    for (level, seg) in &m.segments {
        out += &format!(
            "segments  {}: k {} of {} ({} features) · window {} · seed {} · silhouette {:.3} · {}\n",
            level.as_str(),
            seg.k,
            seg.fields.join(", "),
            thousands(seg.sizes.iter().sum()),
            seg.window,
            seg.seed,
            seg.silhouette,
            seg.descriptions
                .iter()
                .enumerate()
                .map(|(i, d)| format!("{i}: {d}"))
                .collect::<Vec<_>>()
                .join(" · ")
        );
    }
    if !m.issues.is_empty() {
        let list: Vec<String> = m
            .issues
            .iter()
            .map(|(a, n)| format!("{a} {}", thousands(*n)))
            .collect();
        out += &format!("issues    {} (see import-report.csv)\n", list.join(" · "));
    }
    if args.verify {
        out += "verified  every file matches its SHA-256\n";
    }
    print!("{out}");
    Ok(())
}

/// `predio config set KEY VALUE`.
pub fn config_set(catalog: &dyn CatalogStore, args: &crate::cli::ConfigSet) -> anyhow::Result<()> {
    anyhow::ensure!(
        args.key == "timezone",
        "no setting {:?}: the settings are: timezone",
        args.key
    );
    let zone: chrono_tz::Tz = args.value.parse().map_err(|_| {
        anyhow::anyhow!(
            "timezone {:?} is not an IANA time zone name (e.g. America/Costa_Rica, Europe/Lisbon)",
            args.value
        )
    })?;
    anyhow::ensure!(
        catalog.current()?.is_some(),
        "the catalog at {} is empty: import sectors, parcels or reports first",
        catalog.location()
    );
    let m = catalog.commit(predio_engine::Change {
        operation: "config timezone".into(),
        timezone: Some(zone.name().to_owned()),
        ..Default::default()
    })?;
    eprintln!(
        "the catalog's time zone is {zone} (version {}): dates given as days are its local days; run `predio compute` again for indices on its days",
        m.version
    );
    Ok(())
}
