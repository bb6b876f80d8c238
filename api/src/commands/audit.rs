//! `predio audit --period 2025-H1 --out report.html`: the printable accountability report.
//!
//! The period's numbers are the sector indices of one window that is the period: the reports
//! created in it, counted as of its end (`predio compute --as-of LAST --windows Nd` gives the
//! same tables), with the deadline rules and holidays of the current indices. Per department
//! and per sector: received, answered on time, answered late, pending at the end, compliance;
//! a map of the sectors coloured by compliance; the worst sectors. One self-contained HTML
//! file (no scripts, no network), laid out for A4.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::PathBuf;

use anyhow::{bail, Context as _};
use chrono::{NaiveDate, Utc};
use geo::InteriorPoint as _;
use predio_engine::indices::{self, IndexConfig, Scope, Selection, Window};
use predio_engine::{CatalogStore, DirCatalog, Manifest, SectorLayer};

use super::compute::{current, parse_as_of};
use super::escape_markup as esc;
use super::table::{f64_column, string_column};
use super::thousands;
use crate::cli::AuditArgs;

/// A reporting period: whole UTC days from `first` to `last`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Period {
    pub label: String,
    pub first: NaiveDate,
    pub last: NaiveDate,
}

impl Period {
    /// Days in the period.
    pub fn days(&self) -> u32 {
        u32::try_from((self.last - self.first).num_days() + 1).unwrap_or(0)
    }
}

/// `2025`, `2025-H1`, `2025-Q3`, `2025-03` or `2025-01-01..2025-06-30`.
pub(crate) fn parse_period(s: &str) -> anyhow::Result<Period> {
    let t = s.trim();
    let bad = || {
        anyhow::anyhow!(
            "--period {s:?}: write YYYY, YYYY-H1, YYYY-Q1 to Q4, YYYY-MM or FIRST..LAST (dates)"
        )
    };
    let date = |d: &str| NaiveDate::parse_from_str(d.trim(), "%Y-%m-%d").map_err(|_| bad());
    let month_start = |y: i32, m: u32| NaiveDate::from_ymd_opt(y, m, 1).ok_or_else(bad);
    // the day before the first day of month `m` (13 = next January) of year `y`
    let month_end = |y: i32, m: u32| -> anyhow::Result<NaiveDate> {
        let next = if m > 12 {
            NaiveDate::from_ymd_opt(y + 1, 1, 1)
        } else {
            NaiveDate::from_ymd_opt(y, m, 1)
        };
        next.and_then(|d| d.pred_opt()).ok_or_else(bad)
    };
    let (first, last) = if let Some((a, b)) = t.split_once("..") {
        (date(a)?, date(b)?)
    } else {
        let (year, part) = t.split_once('-').map_or((t, ""), |(y, p)| (y, p));
        let y: i32 = year.parse().map_err(|_| bad())?;
        if !(1900..=9999).contains(&y) {
            return Err(bad());
        }
        let months = |from: u32, to: u32| -> anyhow::Result<(NaiveDate, NaiveDate)> {
            Ok((month_start(y, from)?, month_end(y, to + 1)?))
        };
        match part.to_ascii_uppercase().as_str() {
            "" => months(1, 12)?,
            "H1" => months(1, 6)?,
            "H2" => months(7, 12)?,
            "Q1" => months(1, 3)?,
            "Q2" => months(4, 6)?,
            "Q3" => months(7, 9)?,
            "Q4" => months(10, 12)?,
            m => {
                let m: u32 = m.parse().map_err(|_| bad())?;
                if !(1..=12).contains(&m) || part.len() != 2 {
                    return Err(bad());
                }
                months(m, m)?
            }
        }
    };
    if last < first {
        bail!("--period {s:?}: it ends before it starts");
    }
    Ok(Period {
        label: t.to_owned(),
        first,
        last,
    })
}

/// The overdue age buckets of the sector table, in business days past the deadline.
pub(crate) const OVERDUE_BUCKETS: [&str; 4] = [
    "overdue_0_5",
    "overdue_6_10",
    "overdue_11_20",
    "overdue_over_20",
];

/// One sector (or department) against the deadlines: what `/audit/sectors` serves and what the
/// report prints, read from the sector indices table.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Row {
    pub id: String,
    pub name: String,
    pub received: u64,
    pub answered: u64,
    pub on_time: u64,
    /// Open at the as-of time.
    pub pending: u64,
    pub overdue: u64,
    /// Overdue by [`OVERDUE_BUCKETS`].
    pub overdue_by_age: [u64; 4],
    /// Age of the oldest open report, business days.
    pub oldest_open_bd: Option<f64>,
}

impl Row {
    pub fn late(&self) -> u64 {
        self.answered.saturating_sub(self.on_time)
    }

    /// Answered on time over answered, as the indices' `compliance`; `None` without answers.
    pub fn compliance(&self) -> Option<f64> {
        (self.answered > 0).then(|| self.on_time as f64 / self.answered as f64)
    }

    fn add(&mut self, o: &Row) {
        self.received += o.received;
        self.answered += o.answered;
        self.on_time += o.on_time;
        self.pending += o.pending;
        self.overdue += o.overdue;
        for (a, b) in self.overdue_by_age.iter_mut().zip(o.overdue_by_age) {
            *a += b;
        }
        self.oldest_open_bd = match (self.oldest_open_bd, o.oldest_open_bd) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
    }
}

/// The rows of a selection of the sector table, each with its sector id (`None` for the row
/// of the reports without a sector); `name` holds the dimension's value (a department).
pub(crate) fn rows(df: &polars::prelude::DataFrame) -> anyhow::Result<Vec<(Option<String>, Row)>> {
    let ids = string_column(df, "sector_id")?;
    let values = string_column(df, "value")?;
    let n = |c: &str| -> anyhow::Result<Vec<u64>> {
        Ok(f64_column(df, c)?
            .into_iter()
            .map(|v| v.unwrap_or(0.0) as u64)
            .collect())
    };
    let (received, answered, on_time, open, overdue) = (
        n("received")?,
        n("answered")?,
        n("answered_on_time")?,
        n("open")?,
        n("overdue")?,
    );
    let buckets = OVERDUE_BUCKETS
        .iter()
        .map(|c| n(c))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let oldest = f64_column(df, "oldest_open_bd")?;
    Ok((0..df.height())
        .map(|i| {
            (
                ids[i].clone(),
                Row {
                    id: ids[i].clone().unwrap_or_default(),
                    name: values[i].clone().unwrap_or_default(),
                    received: received[i],
                    answered: answered[i],
                    on_time: on_time[i],
                    pending: open[i],
                    overdue: overdue[i],
                    overdue_by_age: [0, 1, 2, 3].map(|b| buckets[b][i]),
                    oldest_open_bd: oldest[i],
                },
            )
        })
        .collect())
}

/// What the report shows.
struct Report {
    title: String,
    period: Period,
    version: String,
    rules: String,
    totals: Row,
    departments: Vec<Row>,
    sectors: Vec<Row>,
    without_sector: Row,
    worst: Vec<usize>,
    min_answered: u64,
}

/// `predio audit`.
#[allow(clippy::print_stdout)] // the summary is this command's output
pub fn run(catalog: &DirCatalog, args: &AuditArgs) -> anyhow::Result<()> {
    let period = parse_period(&args.period)?;
    let manifest = current(catalog)?;
    let sectors = catalog
        .sectors(&manifest)?
        .context("the catalog has no sectors: run `predio import sectors` first")?;
    let (cfg, rules) = rules(&manifest, args)?;
    let Some(reports) = catalog.report_columns(&manifest)? else {
        bail!("the catalog has no reports: run `predio import reports` first")
    };
    let as_of = parse_as_of(&period.last.to_string())?;
    let window = Window {
        label: period.label.clone(),
        days: Some(period.days()),
    };
    let (tables, _) = indices::compute(
        reports,
        None,
        Some(&sectors),
        Scope {
            as_of,
            windows: std::slice::from_ref(&window),
            // the report shows sectors only: no cell table
            h3_res: &[],
        },
        &cfg,
    )
    .context("computing the period's indices")?;
    let select = |dimension: &str| {
        indices::select(
            &tables.sectors,
            &Selection {
                window: window.label.clone(),
                dimension: dimension.into(),
                value: None,
                res: None,
            },
        )
    };
    let names: BTreeMap<&str, &str> = sectors
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
    let mut departments: BTreeMap<String, Row> = BTreeMap::new();
    for (_, row) in rows(&select("department")?)? {
        let d = departments.entry(row.name.clone()).or_insert_with(|| Row {
            id: row.name.clone(),
            name: row.name.clone(),
            ..Row::default()
        });
        d.add(&row);
    }
    // sectors in layer order
    let sector_rows: Vec<Row> = sectors
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
    let mut worst: Vec<usize> = (0..sector_rows.len())
        .filter(|i| sector_rows[*i].answered >= min_answered)
        .collect();
    worst.sort_by(|a, b| {
        let (ra, rb) = (&sector_rows[*a], &sector_rows[*b]);
        ra.compliance()
            .unwrap_or(1.0)
            .total_cmp(&rb.compliance().unwrap_or(1.0))
            .then(rb.pending.cmp(&ra.pending))
            .then(ra.id.cmp(&rb.id))
    });
    worst.truncate(args.worst);
    let mut departments: Vec<Row> = departments.into_values().collect();
    departments.sort_by(|a, b| b.received.cmp(&a.received).then(a.id.cmp(&b.id)));
    let report = Report {
        title: args.title.clone(),
        period,
        version: manifest.version.to_string(),
        rules,
        totals,
        departments,
        sectors: sector_rows,
        without_sector,
        worst,
        min_answered,
    };
    let html = render(&report, &sectors);
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

/// The deadline rules and holidays: the files given, else those the current indices were
/// computed with, else the defaults; with a line saying which.
fn rules(manifest: &Manifest, args: &AuditArgs) -> anyhow::Result<(IndexConfig, String)> {
    let recorded = manifest.indices.as_ref().map(|m| m.config.clone());
    let pick = |given: &Option<PathBuf>, recorded: Option<PathBuf>| -> anyhow::Result<_> {
        match (given, recorded) {
            (Some(p), _) => Ok(Some(p.clone())),
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
        &args.deadlines,
        recorded.as_ref().and_then(|c| c.deadlines.clone()),
    )?;
    let holidays = pick(
        &args.holidays,
        recorded.as_ref().and_then(|c| c.holidays.clone()),
    )?;
    let mut cfg = IndexConfig::new();
    if let Some(p) = &deadlines {
        cfg.read_deadlines(p)?;
    }
    if let Some(p) = &holidays {
        cfg.read_holidays(p)?;
    }
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

/// `12345` → `12 345` (thin spaces, as Spanish and SI style write thousands).
fn int(n: u64) -> String {
    thousands(n as usize).replace(',', "\u{2009}")
}

fn percent(v: Option<f64>) -> String {
    v.map_or_else(
        || "—".to_owned(),
        |v| format!("{:.1} %", v * 100.0).replace('.', ","),
    )
}

/// Compliance classes: below 50 %, 70 %, 85 %, 95 %, and above.
const BREAKS: [f64; 4] = [0.50, 0.70, 0.85, 0.95];
const COLOURS: [&str; 5] = ["#d7191c", "#fdae61", "#ffffbf", "#a6d96a", "#1a9641"];
const NO_ANSWERS: &str = "#d0d0d0";

fn colour(c: Option<f64>) -> &'static str {
    c.map_or(NO_ANSWERS, |c| {
        COLOURS[BREAKS.iter().filter(|b| c >= **b).count()]
    })
}

const MAP_WIDTH: f64 = 720.0;
const MAP_MAX_HEIGHT: f64 = 620.0;

fn mercator(lon: f64, lat: f64) -> (f64, f64) {
    let lat = lat.clamp(-85.0511, 85.0511).to_radians();
    (
        lon.to_radians(),
        (std::f64::consts::FRAC_PI_4 + lat / 2.0).tan().ln(),
    )
}

/// The sectors as SVG paths coloured by compliance, numbered markers on the worst.
fn map_svg(report: &Report, layer: &SectorLayer) -> String {
    let mut b = [
        f64::INFINITY,
        f64::INFINITY,
        f64::NEG_INFINITY,
        f64::NEG_INFINITY,
    ];
    for s in &layer.sectors {
        for p in &s.geometry.0 {
            for c in &p.exterior().0 {
                let (x, y) = mercator(c.x, c.y);
                b = [b[0].min(x), b[1].min(y), b[2].max(x), b[3].max(y)];
            }
        }
    }
    if b[0] > b[2] {
        return String::new();
    }
    let (dx, dy) = ((b[2] - b[0]).max(1e-12), (b[3] - b[1]).max(1e-12));
    let scale = (MAP_WIDTH / dx).min(MAP_MAX_HEIGHT / dy);
    let (w, h) = (dx * scale, dy * scale);
    let px = |lon: f64, lat: f64| {
        let (x, y) = mercator(lon, lat);
        ((x - b[0]) * scale, (b[3] - y) * scale)
    };
    let mut svg = format!(
        "<svg id=\"mapa-svg\" xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {w:.0} {h:.0}\" \
         width=\"{w:.0}\" height=\"{h:.0}\" role=\"img\" aria-label=\"Mapa de sectores por \
         cumplimiento\">\n"
    );
    for (s, row) in layer.sectors.iter().zip(&report.sectors) {
        let mut d = String::new();
        for p in &s.geometry.0 {
            for ring in std::iter::once(p.exterior()).chain(p.interiors()) {
                let mut last: Option<(f64, f64)> = None;
                for (i, c) in ring.0.iter().enumerate() {
                    let (x, y) = px(c.x, c.y);
                    // drop points within a third of a pixel of the last one drawn
                    if let Some((lx, ly)) = last {
                        if i + 1 < ring.0.len() && (x - lx).hypot(y - ly) < 0.33 {
                            continue;
                        }
                    }
                    let _ = write!(d, "{}{x:.1},{y:.1}", if last.is_none() { "M" } else { "L" });
                    last = Some((x, y));
                }
                d.push('Z');
            }
        }
        let c = row.compliance();
        let _ = writeln!(
            svg,
            "<path data-sector-id=\"{}\" d=\"{d}\" fill=\"{}\" fill-rule=\"evenodd\" \
             stroke=\"#ffffff\" stroke-width=\"0.8\"><title>{}: {} ({} respondidas)</title></path>",
            esc(&row.id),
            colour(c),
            esc(&row.name),
            percent(c),
            int(row.answered)
        );
    }
    for (rank, i) in report.worst.iter().enumerate() {
        let Some(p) = layer.sectors[*i].geometry.interior_point() else {
            continue;
        };
        let (x, y) = px(p.x(), p.y());
        let _ = writeln!(
            svg,
            "<g class=\"marca\"><circle cx=\"{x:.1}\" cy=\"{y:.1}\" r=\"9\" fill=\"#222\" \
             stroke=\"#fff\" stroke-width=\"1.5\"/><text x=\"{x:.1}\" y=\"{:.1}\" \
             text-anchor=\"middle\" font-size=\"11\" font-weight=\"bold\" fill=\"#fff\">{}</text></g>",
            y + 4.0,
            rank + 1
        );
    }
    svg.push_str("</svg>");
    svg
}

fn legend() -> String {
    let mut items = vec![(NO_ANSWERS, "sin respuestas".to_owned())];
    let pct = |v: f64| format!("{:.0} %", v * 100.0);
    items.push((COLOURS[0], format!("menos de {}", pct(BREAKS[0]))));
    for i in 1..BREAKS.len() {
        items.push((
            COLOURS[i],
            format!("{} – {}", pct(BREAKS[i - 1]), pct(BREAKS[i])),
        ));
    }
    items.push((COLOURS[4], format!("{} o más", pct(BREAKS[3]))));
    let mut out = String::from("<ul class=\"leyenda\">");
    for (c, t) in items {
        let _ = write!(
            out,
            "<li><span class=\"muestra\" style=\"background:{c}\"></span>{}</li>",
            esc(&t)
        );
    }
    out.push_str("</ul>");
    out
}

/// A table of rows: the name column, then the counts and the compliance.
fn table(id: &str, first: &str, rows: &[&Row], numbered: bool, total: Option<&Row>) -> String {
    let mut t = format!(
        "<table id=\"{id}\"><thead><tr>{}<th>{first}</th><th class=\"n\">Recibidas</th>\
         <th class=\"n\">Resp. a tiempo</th><th class=\"n\">Resp. tarde</th>\
         <th class=\"n\">Pendientes</th><th class=\"n\">Vencidas</th>\
         <th class=\"n\">Cumplimiento</th></tr></thead><tbody>\n",
        if numbered { "<th>#</th>" } else { "" }
    );
    let line = |t: &mut String, r: &Row, rank: Option<usize>, class: &str| {
        let c = r.compliance();
        let _ = writeln!(
            t,
            "<tr data-id=\"{}\"{class}>{}<td>{}</td>\
             <td class=\"n\" data-field=\"received\" data-value=\"{}\">{}</td>\
             <td class=\"n\" data-field=\"on_time\" data-value=\"{}\">{}</td>\
             <td class=\"n\" data-field=\"late\" data-value=\"{}\">{}</td>\
             <td class=\"n\" data-field=\"pending\" data-value=\"{}\">{}</td>\
             <td class=\"n\" data-field=\"overdue\" data-value=\"{}\">{}</td>\
             <td class=\"n\" data-field=\"compliance\" data-value=\"{}\">\
             <span class=\"punto\" style=\"background:{}\"></span>{}</td></tr>",
            esc(&r.id),
            rank.map(|k| format!("<td>{k}</td>")).unwrap_or_default(),
            esc(if r.name.is_empty() { &r.id } else { &r.name }),
            r.received,
            int(r.received),
            r.on_time,
            int(r.on_time),
            r.late(),
            int(r.late()),
            r.pending,
            int(r.pending),
            r.overdue,
            int(r.overdue),
            c.map(|c| c.to_string()).unwrap_or_default(),
            colour(c),
            percent(c)
        );
    };
    for (k, r) in rows.iter().enumerate() {
        line(&mut t, r, numbered.then_some(k + 1), "");
    }
    t.push_str("</tbody>");
    if let Some(total) = total {
        t.push_str("<tfoot>");
        line(&mut t, total, None, " class=\"total\"");
        t.push_str("</tfoot>");
    }
    t.push_str("</table>");
    t
}

const CSS: &str = r#"
@page { size: A4; margin: 14mm 12mm; }
* { box-sizing: border-box; }
body { font: 10.5pt/1.4 "DejaVu Sans", "Liberation Sans", Arial, sans-serif; color: #1d1d1d;
  max-width: 190mm; margin: 0 auto; padding: 8mm 0; }
h1 { font-size: 18pt; margin: 0 0 2mm; }
h2 { font-size: 13pt; margin: 7mm 0 2mm; border-bottom: 1.5px solid #1d1d1d; padding-bottom: 1mm; }
p.sub { margin: 0; color: #555; }
.kpis { display: grid; grid-template-columns: repeat(5, 1fr); gap: 3mm; }
.kpi { border: 1px solid #bbb; border-radius: 2mm; padding: 2.5mm; }
.kpi .v { display: block; font-size: 16pt; font-weight: bold; }
.kpi .l { color: #555; font-size: 9pt; }
figure { margin: 0; }
svg { display: block; max-width: 100%; height: auto; margin: 0 auto; background: #f4f1ea; }
figcaption { font-size: 9pt; color: #444; margin-top: 2mm; }
ul.leyenda { list-style: none; padding: 0; margin: 1mm 0; display: flex; flex-wrap: wrap; gap: 2mm 5mm; }
.muestra, .punto { display: inline-block; width: 3.2mm; height: 3.2mm; border: 1px solid #888;
  margin-right: 1.5mm; vertical-align: -0.4mm; }
.punto { border-radius: 50%; width: 2.6mm; height: 2.6mm; }
table { border-collapse: collapse; width: 100%; font-size: 9pt; }
th, td { border-bottom: 1px solid #ddd; padding: 1mm 1.5mm; text-align: left; }
th { background: #eee; }
.n { text-align: right; white-space: nowrap; }
tfoot td { font-weight: bold; border-top: 1.5px solid #1d1d1d; }
thead { display: table-header-group; }
tr { break-inside: avoid; }
#resumen, #mapa, #peores { break-inside: avoid; }
.nota { font-size: 9pt; color: #555; }
dl { font-size: 9.5pt; } dt { font-weight: bold; } dd { margin: 0 0 1.5mm 4mm; }
@media print { body { padding: 0; } a { color: inherit; text-decoration: none; } }
"#;

fn render(r: &Report, layer: &SectorLayer) -> String {
    let p = &r.period;
    let t = &r.totals;
    let mut h = String::with_capacity(64 * 1024);
    let _ = writeln!(
        h,
        "<!doctype html>\n<html lang=\"es\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{} — {}</title>\n<style>{CSS}</style>\n</head>\n<body>",
        esc(&r.title),
        esc(&p.label)
    );
    let _ = writeln!(
        h,
        "<header><h1>{}</h1><p class=\"sub\">Período <strong id=\"periodo\">{}</strong>: del {} \
         al {} (días UTC) · datos de la versión {} del catálogo · generado el {}</p></header>",
        esc(&r.title),
        esc(&p.label),
        p.first.format("%d/%m/%Y"),
        p.last.format("%d/%m/%Y"),
        esc(&r.version),
        Utc::now().format("%d/%m/%Y %H:%M UTC")
    );
    // summary
    let kpi = |field: &str, v: String, label: &str| {
        format!(
            "<div class=\"kpi\" data-field=\"{field}\"><span class=\"v\">{v}</span>\
             <span class=\"l\">{label}</span></div>"
        )
    };
    let _ = writeln!(
        h,
        "<section id=\"resumen\"><h2>Resumen</h2><div class=\"kpis\">{}{}{}{}{}</div>\
         <p class=\"nota\">Solicitudes recibidas en el período; respondidas (resueltas, \
         rechazadas o duplicadas) hasta su cierre, a tiempo o tarde según el plazo legal en \
         días hábiles; pendientes: abiertas al final del período. {} {} recibidas no tienen \
         sector (sin ubicación o fuera de los sectores): cuentan en el total y por departamento, \
         no en la tabla por sector.</p></section>",
        kpi("received", int(t.received), "recibidas"),
        kpi("on_time", int(t.on_time), "respondidas a tiempo"),
        kpi("late", int(t.late()), "respondidas tarde"),
        kpi("pending", int(t.pending), "pendientes al cierre"),
        kpi("compliance", percent(t.compliance()), "cumplimiento"),
        esc(&r.rules),
        int(r.without_sector.received)
    );
    // map
    let _ = writeln!(
        h,
        "<section id=\"mapa\"><h2>Cumplimiento por sector</h2><figure>{}<figcaption>{}\
         Cumplimiento: respondidas a tiempo sobre respondidas. Los números marcan los sectores \
         de la tabla siguiente.</figcaption></figure></section>",
        map_svg(r, layer),
        legend()
    );
    // worst sectors
    let worst: Vec<&Row> = r.worst.iter().map(|i| &r.sectors[*i]).collect();
    let _ = writeln!(
        h,
        "<section id=\"peores\"><h2>Sectores con menor cumplimiento</h2>{}<p class=\"nota\">Entre \
         los sectores con al menos {} solicitudes respondidas en el período (con menos, la tasa \
         dice poco); a igual cumplimiento, primero el de más pendientes.</p></section>",
        if worst.is_empty() {
            "<p>Ningún sector llega al mínimo de respuestas.</p>".to_owned()
        } else {
            table("tabla-peores", "Sector", &worst, true, None)
        },
        r.min_answered
    );
    let departments: Vec<&Row> = r.departments.iter().collect();
    let _ = writeln!(
        h,
        "<section id=\"departamentos\"><h2>Por departamento</h2>{}</section>",
        table(
            "tabla-departamentos",
            "Departamento",
            &departments,
            false,
            Some(&Row {
                id: "total".into(),
                name: "Total".into(),
                ..t.clone()
            })
        )
    );
    let sectors: Vec<&Row> = r.sectors.iter().collect();
    let mut in_sectors = Row::default();
    for s in &r.sectors {
        in_sectors.add(s);
    }
    in_sectors.id = "total".into();
    in_sectors.name = "Total en sectores".into();
    let _ = writeln!(
        h,
        "<section id=\"sectores\"><h2>Por sector</h2>{}</section>",
        table(
            "tabla-sectores",
            "Sector",
            &sectors,
            false,
            Some(&in_sectors)
        )
    );
    let _ = writeln!(
        h,
        "<section id=\"metodo\"><h2>Método</h2><dl>\
         <dt>Período</dt><dd>Solicitudes creadas después del {} a las 00:00 UTC y hasta el {} a \
         las 24:00 UTC, contadas en su estado a esa hora.</dd>\
         <dt>Respondida a tiempo</dt><dd>Cerrada a más tardar al final del último día hábil de su \
         plazo, contado desde el día de recepción; se descuentan fines de semana y feriados. El \
         plazo es el que trae la solicitud cuando lo trae (Open311 <code>expected_datetime</code>, \
         el <code>TARGET_DT</code> de Boston), si no el de su categoría. {}</dd>\
         <dt>Vencida</dt><dd>Abierta al final del período y con el plazo ya \
         cumplido.</dd>\
         <dt>Cumplimiento</dt><dd>Respondidas a tiempo ÷ respondidas; «—» cuando no hubo \
         respuestas.</dd>\
         <dt>Fuente</dt><dd>Índices por sector de predio (<code>predio compute --as-of {} \
         --windows {}d</code> da las mismas cifras). Sin datos personales.</dd></dl></section>",
        p.first.format("%d/%m/%Y"),
        p.last.format("%d/%m/%Y"),
        esc(&r.rules),
        p.last,
        p.days()
    );
    h.push_str("</body>\n</html>\n");
    h
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Datelike as _;

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
        assert_eq!(colour(None), NO_ANSWERS);
        assert_eq!(colour(Some(0.2)), COLOURS[0]);
        assert_eq!(colour(Some(0.5)), COLOURS[1]);
        assert_eq!(colour(Some(0.96)), COLOURS[4]);
        assert_eq!(
            esc("<a href='x'>&\u{7}"),
            "&lt;a href=&apos;x&apos;&gt;&amp;"
        );
        assert_eq!(percent(Some(0.8534)), "85,3 %");
        assert_eq!(int(1_234_567), "1\u{2009}234\u{2009}567");
    }
}
