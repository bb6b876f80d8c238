//! The report as one self-contained HTML page: its tables, styles and sections.

use std::fmt::Write as _;

use chrono::Utc;
use predio_engine::SectorLayer;

use super::map::*;
use super::numbers::*;
use super::Report;
use super::Row;
use crate::commands::escape_markup as esc;

/// A table of rows: the name column, then the counts and the compliance.
pub(super) fn table(
    classes: &Classes,
    id: &str,
    first: &str,
    rows: &[&Row],
    numbered: bool,
    total: Option<&Row>,
) -> String {
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
            classes.colour(c),
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

pub(super) const CSS: &str = r#"
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

/// The map of compliance by sector and the table of the worst sectors.
fn by_sector_head(h: &mut String, r: &Report, layer: &SectorLayer) {
    let _ = writeln!(
        h,
        "<section id=\"mapa\"><h2>Cumplimiento por sector</h2><figure>{}<figcaption>{}\
         Cumplimiento: respondidas a tiempo sobre respondidas. Los números marcan los sectores \
         de la tabla siguiente.</figcaption></figure></section>",
        map_svg(r, layer),
        legend(&r.classes)
    );
    let worst: Vec<&Row> = r.worst.iter().map(|i| &r.sectors[*i]).collect();
    let eligible = r
        .sectors
        .iter()
        .filter(|s| s.answered >= r.min_answered)
        .count();
    // every sector that counts is in it: the full table below says the same
    if !worst.is_empty() && eligible <= worst.len() {
        return;
    }
    let _ = writeln!(
        h,
        "<section id=\"peores\"><h2>Sectores con menor cumplimiento</h2>{}<p class=\"nota\">Entre \
         los sectores con al menos {} solicitudes respondidas en el período (con menos, la tasa \
         dice poco); a igual cumplimiento, primero el de más pendientes.</p></section>",
        if worst.is_empty() {
            "<p>Ningún sector llega al mínimo de respuestas.</p>".to_owned()
        } else {
            table(&r.classes, "tabla-peores", "Sector", &worst, true, None)
        },
        r.min_answered
    );
}

/// The report as one HTML page; without a sector map (`layer` none) it goes by department and
/// says so.
pub(super) fn render(r: &Report, layer: Option<&SectorLayer>) -> String {
    let mut h = String::with_capacity(64 * 1024);
    head_and_summary(&mut h, r);
    trend(&mut h, r);
    let (p, t) = (&r.period, &r.totals);
    if let Some(layer) = layer {
        by_sector_head(&mut h, r, layer);
    } else {
        let _ = writeln!(
            h,
            "<section id=\"sin-sectores\"><p class=\"nota\">Este catálogo aún no tiene un mapa \
             de sectores (<code>predio import sectors</code>): el informe va por departamento.\
             </p></section>"
        );
    }
    let departments: Vec<&Row> = r.departments.iter().collect();
    let _ = writeln!(
        h,
        "<section id=\"departamentos\"><h2>Por departamento</h2>{}</section>",
        table(
            &r.classes,
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
    let categories: Vec<&Row> = r.categories.iter().collect();
    let _ = writeln!(
        h,
        "<section id=\"categorias\"><h2>Por categoría</h2>{}</section>",
        table(
            &r.classes,
            "tabla-categorias",
            "Categoría",
            &categories,
            false,
            None
        )
    );
    if layer.is_some() {
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
                &r.classes,
                "tabla-sectores",
                "Sector",
                &sectors,
                false,
                Some(&in_sectors)
            )
        );
    }
    let _ = writeln!(
        h,
        "<section id=\"metodo\"><h2>Cómo se cuenta</h2><dl>\
         <dt>Período</dt><dd>Las solicitudes recibidas desde el {} a las 00:00 hasta el {} a \
         las 24:00, hora de {}, en el estado en que estaban al terminar el período.</dd>\
         <dt>Respondida a tiempo</dt><dd>Cerrada a más tardar al final del último día hábil de su \
         plazo legal, contado desde el día en que se recibió; no cuentan fines de semana ni \
         feriados. Si la solicitud trae su propio plazo, vale ese; si no, el de su categoría. {}</dd>\
         <dt>Vencida</dt><dd>Todavía abierta al final del período, con el plazo ya \
         cumplido.</dd>\
         <dt>Cumplimiento</dt><dd>De las solicitudes respondidas, la parte respondida a tiempo; \
         «—» cuando no hubo respuestas.</dd>\
         <dt>Tendencia mensual</dt><dd>Las mismas solicitudes mes a mes: recibidas y respondidas \
         en cada mes, y pendientes y vencidas al cierre de cada mes.</dd>\
         <dt>Datos</dt><dd>Los registros de solicitudes del municipio, ubicados en su predio y su \
         sector. Este informe no contiene datos personales.</dd></dl></section>",
        p.first.format("%d/%m/%Y"),
        p.last.format("%d/%m/%Y"),
        esc(&r.zone),
        esc(&r.rules),
    );
    h.push_str("</body>\n</html>\n");
    h
}

/// The page's head, its title block and the summary section.
fn head_and_summary(h: &mut String, r: &Report) {
    let p = &r.period;
    let t = &r.totals;
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
         al {} (días de {}) · datos de la versión {} del catálogo · generado el {}</p></header>",
        esc(&r.title),
        esc(&p.label),
        p.first.format("%d/%m/%Y"),
        p.last.format("%d/%m/%Y"),
        esc(&r.zone),
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
}

/// The period month by month: received and answered in each month, pending and overdue at its
/// end, compliance of the month's answers.
fn trend(h: &mut String, r: &Report) {
    if r.months.len() < 2 {
        return;
    }
    let mut t = String::from(
        "<table id=\"tabla-tendencia\"><thead><tr><th>Mes</th><th class=\"n\">Recibidas</th>\
         <th class=\"n\">Respondidas</th><th class=\"n\">A tiempo</th>\
         <th class=\"n\">Pendientes al cierre</th><th class=\"n\">Vencidas al cierre</th>\
         <th class=\"n\">Cumplimiento</th></tr></thead><tbody>",
    );
    for (month, [received, _, answered, on_time, open, overdue]) in &r.months {
        let c = (*answered > 0).then(|| f64::from(*on_time) / f64::from(*answered));
        let cell = |field: &str, v: u32| {
            format!(
                "<td class=\"n\" data-field=\"{field}\" data-value=\"{v}\">{}</td>",
                int(u64::from(v))
            )
        };
        let _ = write!(
            t,
            "<tr data-id=\"{month}\"><td>{month}</td>{}{}{}{}{}<td class=\"n\">{}</td></tr>",
            cell("received", *received),
            cell("answered", *answered),
            cell("on_time", *on_time),
            cell("pending", *open),
            cell("overdue", *overdue),
            percent(c)
        );
    }
    t.push_str("</tbody></table>");
    let _ = writeln!(
        h,
        "<section id=\"tendencia\"><h2>Tendencia mensual</h2>{t}<p class=\"nota\">Solicitudes \
         recibidas en el período, mes a mes; pendientes y vencidas al último instante de cada \
         mes (el último, al cierre del período).</p></section>"
    );
}
