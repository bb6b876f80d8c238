//! `predio audit --period 2025-H1 --out report.html`: the printable accountability report.
//!
//! The period's numbers are the sector indices of one window that is the period: the reports
//! created in it, counted as of its end (`predio compute --as-of LAST --windows Nd` gives the
//! same tables), with the deadline rules and holidays of the current indices. Per department
//! and per sector: received, answered on time, answered late, pending at the end, compliance;
//! a map of the sectors coloured by compliance; the worst sectors. One self-contained HTML
//! file (no scripts, no network), laid out for A4.

mod html;
mod map;
mod numbers;

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::{bail, Context as _};
use predio_engine::indices::{self, Dimension, IndexConfig, Scope, Selection, Window};
use predio_engine::{CatalogStore, Manifest, Table};

use super::compute::{current, parse_as_of};
use super::thousands;
use crate::cli::AuditArgs;

use html::render;
pub(crate) use predio_engine::audit::{parse_period, rows, Period, Row};

/// What the report shows.
struct Report {
    pub(super) title: String,
    pub(super) period: Period,
    pub(super) version: String,
    /// The catalog's time zone: the period's days are its local days.
    pub(super) zone: String,
    pub(super) rules: String,
    pub(super) totals: Row,
    pub(super) departments: Vec<Row>,
    /// Per category, most received first.
    pub(super) categories: Vec<Row>,
    /// The period's months: label and its counts (received, closed, answered, on time, open
    /// and overdue at the month's end), from `predio_engine::indices::series`.
    pub(super) months: Vec<(String, [u32; 6])>,
    pub(super) sectors: Vec<Row>,
    pub(super) without_sector: Row,
    pub(super) worst: Vec<usize>,
    pub(super) min_answered: u64,
    /// The map's (and the tables' dots') compliance classes.
    pub(super) classes: map::Classes,
}

/// `predio audit`.
#[allow(clippy::print_stdout)] // the summary is this command's output
pub fn run(catalog: &dyn CatalogStore, args: &AuditArgs) -> anyhow::Result<()> {
    let period = parse_period(&args.period)?;
    let manifest = current(catalog)?;
    // Without a sector map yet, the report goes by department.
    let sectors = catalog.sectors(&manifest)?;
    let (cfg, rules) = rules(&manifest, args)?;
    let Some(reports) = catalog.report_columns(&manifest)? else {
        bail!("the catalog has no reports: run `predio import reports` first")
    };
    // The period's days are local days of the catalog's time zone.
    let (zone, _) = manifest.zone();
    let as_of = parse_as_of(&period.last.to_string(), zone)?;
    let window = Window {
        label: period.label.clone(),
        days: Some(period.days()),
    };
    let months = period_months(&reports, &period, as_of, zone, &cfg);
    let (tables, _) = indices::compute(
        reports,
        None,
        sectors.as_ref(),
        Scope {
            as_of,
            windows: std::slice::from_ref(&window),
            // the report shows sectors only: no cell table
            h3_res: &[],
            zone,
        },
        &cfg,
    )
    .context("computing the period's indices")?;
    let sector_table = Table::from_frame(tables.sectors);
    let select = |dimension: &str| {
        indices::select(
            &sector_table,
            &Selection {
                window: window.label.clone(),
                dimension: Dimension::new(dimension, None).unwrap_or_default(),
                res: None,
            },
        )
    };
    let layer = sectors.unwrap_or_default();
    let names: BTreeMap<&str, &str> = layer
        .sectors
        .iter()
        .map(|s| (s.id.as_str(), s.name.as_str()))
        .collect();
    let mut totals = Row::default();
    let mut without_sector = Row::default();
    let mut by_sector: BTreeMap<String, Row> = BTreeMap::new();
    for (id, mut row) in rows(&select("all")?)? {
        totals.add(&row);
        match id {
            Some(id) => {
                row.name = names.get(id.as_str()).copied().unwrap_or("").to_owned();
                by_sector.insert(id, row);
            }
            None => without_sector.add(&row),
        }
    }
    // sectors in layer order
    let sector_rows: Vec<Row> = layer
        .sectors
        .iter()
        .map(|s| {
            by_sector.remove(s.id.as_str()).unwrap_or_else(|| Row {
                id: s.id.as_str().to_owned(),
                name: s.name.clone(),
                ..Row::default()
            })
        })
        .collect();
    let min_answered = u64::from(args.min_answered);
    let sector_rates: Vec<f64> = sector_rows.iter().filter_map(Row::compliance).collect();
    let worst = worst_sectors(&sector_rows, min_answered, args.worst);
    let departments = departments_of(rows(&select("department")?)?);
    let categories = departments_of(rows(&select("category")?)?);
    let report = Report {
        title: args.title.clone(),
        period,
        version: manifest.version.to_string(),
        zone: zone.to_string(),
        rules,
        totals,
        departments,
        categories,
        months,
        sectors: sector_rows,
        without_sector,
        worst,
        min_answered,
        classes: map::Classes::for_rates(&sector_rates),
    };
    let html = render(&report, (!layer.sectors.is_empty()).then_some(&layer));
    predio_engine::write_file_atomically(&args.out, html.as_bytes())
        .with_context(|| format!("writing {}", args.out.display()))?;
    let t = &report.totals;
    println!(
        "{} ({} to {}): {} received, {} answered on time, {} late, {} pending; compliance {} → {}",
        report.period.label,
        report.period.first,
        report.period.last,
        thousands(t.received as usize),
        thousands(t.on_time as usize),
        thousands(t.late() as usize),
        thousands(t.pending as usize),
        t.compliance()
            .map_or_else(|| "-".to_owned(), |c| format!("{:.1} %", c * 100.0)),
        args.out.display()
    );
    Ok(())
}

/// The `worst` sectors by compliance among those with at least `min_answered` answers (a rate
/// on a handful says little): lowest first, ties by more pending, then by id.
fn worst_sectors(sector_rows: &[Row], min_answered: u64, worst: usize) -> Vec<usize> {
    let mut picked: Vec<usize> = (0..sector_rows.len())
        .filter(|i| sector_rows[*i].answered >= min_answered)
        .collect();
    picked.sort_by(|a, b| {
        let (ra, rb) = (&sector_rows[*a], &sector_rows[*b]);
        ra.compliance()
            .unwrap_or(1.0)
            .total_cmp(&rb.compliance().unwrap_or(1.0))
            .then(rb.pending.cmp(&ra.pending))
            .then(ra.id.cmp(&rb.id))
    });
    picked.truncate(worst);
    picked
}

/// The months of the period with the counts of the reports created in it: received, closed,
/// answered (on time), open and overdue at each month's end (the last at the period's end).
fn period_months(
    reports: &predio_engine::ReportColumns,
    period: &Period,
    as_of: chrono::DateTime<chrono::Utc>,
    zone: chrono_tz::Tz,
    cfg: &IndexConfig,
) -> Vec<(String, [u32; 6])> {
    let first = period.first.format("%Y-%m").to_string();
    let start = parse_as_of(
        &period.first.pred_opt().unwrap_or(period.first).to_string(),
        zone,
    )
    .map_or(i64::MIN, |t| t.timestamp_millis());
    let rows: Vec<usize> = (0..reports.len())
        .filter(|&i| {
            let c = reports.created_ms()[i];
            c > start && c <= as_of.timestamp_millis()
        })
        .collect();
    indices::series::monthly_for(reports, &rows, as_of, zone, cfg)
        .into_iter()
        .filter(|m| m.month >= first)
        .map(|m| (m.month, m.counts))
        .collect()
}

/// The departments' (or categories') rows, summed from the sector rows of each, most received
/// first.
fn departments_of(rows: Vec<(Option<String>, Row)>) -> Vec<Row> {
    let mut departments: BTreeMap<String, Row> = BTreeMap::new();
    for (_, row) in rows {
        let d = departments.entry(row.name.clone()).or_insert_with(|| Row {
            id: row.name.clone(),
            name: row.name.clone(),
            ..Row::default()
        });
        d.add(&row);
    }
    let mut departments: Vec<Row> = departments.into_values().collect();
    departments.sort_by(|a, b| b.received.cmp(&a.received).then(a.id.cmp(&b.id)));
    departments
}

/// The deadline rules and holidays: the files given, else those the current indices were
/// computed with, else the defaults; with the files read.
///
/// # Errors
/// A recorded file that is gone, or one that does not read.
pub(crate) fn rules_of(
    manifest: &Manifest,
    deadlines: Option<&std::path::Path>,
    holidays: Option<&std::path::Path>,
) -> anyhow::Result<(IndexConfig, Option<PathBuf>, Option<PathBuf>)> {
    let recorded = manifest.indices.as_ref().map(|m| m.config.clone());
    let pick = |given: Option<&std::path::Path>, recorded: Option<PathBuf>| -> anyhow::Result<_> {
        match (given, recorded) {
            (Some(p), _) => Ok(Some(p.to_path_buf())),
            (None, Some(p)) if p.exists() => Ok(Some(p)),
            (None, Some(p)) => bail!(
                "the current indices were computed with {}, which is gone: give --deadlines \
                 and --holidays",
                p.display()
            ),
            (None, None) => Ok(None),
        }
    };
    let deadlines = pick(
        deadlines,
        recorded.as_ref().and_then(|c| c.deadlines.clone()),
    )?;
    let holidays = pick(holidays, recorded.as_ref().and_then(|c| c.holidays.clone()))?;
    let mut cfg = IndexConfig::new();
    if let Some(p) = &deadlines {
        cfg.read_deadlines(p)?;
    }
    if let Some(p) = &holidays {
        cfg.read_holidays(p)?;
    }
    Ok((cfg, deadlines, holidays))
}

/// [`rules_of`] for `predio audit`, with a line saying which rules.
fn rules(manifest: &Manifest, args: &AuditArgs) -> anyhow::Result<(IndexConfig, String)> {
    let (cfg, deadlines, holidays) = rules_of(
        manifest,
        args.deadlines.as_deref(),
        args.holidays.as_deref(),
    )?;
    let line = format!(
        "Plazo legal por defecto: {} días hábiles{}; {} feriados{}.",
        cfg.default_rule.days,
        if cfg.categories.is_empty() {
            String::new()
        } else {
            format!(", con {} categorías de plazo propio", cfg.categories.len())
        },
        cfg.calendar.holidays().count(),
        match (&deadlines, &holidays) {
            (None, None) => String::new(),
            _ => format!(
                " (reglas: {})",
                [deadlines, holidays]
                    .iter()
                    .flatten()
                    .map(|p| {
                        // the file's name: the report is public, the server's paths are not
                        p.file_name()
                            .map_or_else(|| p.display().to_string(), |n| n.to_string_lossy().into())
                    })
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        }
    );
    Ok((cfg, line))
}

#[cfg(test)]
mod tests {
    use super::map::*;
    use super::numbers::*;
    use super::*;
    use crate::commands::escape_markup as esc;
    use chrono::Datelike as _;
    use chrono::NaiveDate;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").expect("date")
    }

    #[test]
    fn periods_are_whole_days() {
        let p = parse_period("2025-H1").expect("H1");
        assert_eq!(
            (p.first, p.last, p.days()),
            (d("2025-01-01"), d("2025-06-30"), 181)
        );
        let p = parse_period("2024-H1").expect("leap H1");
        assert_eq!(p.days(), 182);
        let p = parse_period("2025-Q4").expect("Q4");
        assert_eq!((p.first, p.last), (d("2025-10-01"), d("2025-12-31")));
        let p = parse_period("2025-02").expect("month");
        assert_eq!(
            (p.first, p.last, p.days()),
            (d("2025-02-01"), d("2025-02-28"), 28)
        );
        assert_eq!(parse_period("2025").expect("year").days(), 365);
        let p = parse_period("2025-03-10..2025-03-16").expect("range");
        assert_eq!(p.days(), 7);
        assert_eq!(p.first.weekday(), chrono::Weekday::Mon);
        for bad in [
            "2025-H3",
            "2025-13",
            "2025-Q0",
            "25-H1",
            "2025-3",
            "x",
            "2025-03-16..2025-03-10",
        ] {
            assert!(parse_period(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn compliance_classes_and_text_are_escaped() {
        let fixed = Classes::fixed();
        assert_eq!(fixed.colour(None), NO_ANSWERS);
        assert_eq!(fixed.colour(Some(0.2)), COLOURS[0]);
        assert_eq!(fixed.colour(Some(0.5)), COLOURS[1]);
        assert_eq!(fixed.colour(Some(0.96)), COLOURS[4]);
        // a narrow spread takes its quintiles, rounded to whole percents; a wide one the fixed
        let narrow = [0.80, 0.82, 0.84, 0.86, 0.88, 0.90, 0.91, 0.92, 0.93, 0.95];
        let c = Classes::for_rates(&narrow);
        assert!(c.quantiles, "{c:?}");
        assert!(c.breaks.windows(2).all(|w| w[0] < w[1]));
        assert!(c
            .breaks
            .iter()
            .all(|b| ((b * 100.0).round() - b * 100.0).abs() < 1e-9));
        let classes: std::collections::BTreeSet<&str> =
            narrow.iter().map(|r| c.colour(Some(*r))).collect();
        assert_eq!(classes.len(), 5, "every class used");
        assert!(!Classes::for_rates(&[0.2, 0.5, 0.7, 0.9, 0.95]).quantiles);
        assert!(
            !Classes::for_rates(&[0.8, 0.81]).quantiles,
            "too few sectors"
        );
        assert_eq!(
            esc("<a href='x'>&\u{7}"),
            "&lt;a href=&apos;x&apos;&gt;&amp;"
        );
        assert_eq!(percent(Some(0.8534)), "85,3 %");
        assert_eq!(int(1_234_567), "1\u{2009}234\u{2009}567");
    }
}
