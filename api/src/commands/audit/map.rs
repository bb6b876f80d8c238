//! The report's map: the sectors drawn as SVG, coloured by compliance in fixed classes.

use std::fmt::Write as _;

use geo::InteriorPoint as _;
use predio_engine::SectorLayer;

use super::numbers::*;
use super::Report;
use crate::commands::escape_markup as esc;

/// Compliance classes: below 50 %, 70 %, 85 %, 95 %, and above.
pub(super) const BREAKS: [f64; 4] = [0.50, 0.70, 0.85, 0.95];
pub(super) const COLOURS: [&str; 5] = ["#d7191c", "#fdae61", "#ffffbf", "#a6d96a", "#1a9641"];
pub(super) const NO_ANSWERS: &str = "#d0d0d0";

/// The map's compliance classes: the fixed ones around the usual targets, or — when the
/// sectors' rates all lie within [`NARROW`] of each other, so that the fixed classes would paint
/// them alike — their quintiles, rounded to whole percents. The legend says which.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Classes {
    pub(super) breaks: [f64; 4],
    pub(super) quantiles: bool,
}

/// A spread of rates narrower than this takes quintile classes.
pub(super) const NARROW: f64 = 0.25;

impl Classes {
    pub(super) fn fixed() -> Classes {
        Classes {
            breaks: BREAKS,
            quantiles: false,
        }
    }

    /// The classes for the sectors' compliance `rates`.
    pub(super) fn for_rates(rates: &[f64]) -> Classes {
        let mut v: Vec<f64> = rates.iter().copied().filter(|r| r.is_finite()).collect();
        v.sort_by(f64::total_cmp);
        let (Some(lo), Some(hi)) = (v.first(), v.last()) else {
            return Classes::fixed();
        };
        if v.len() < 5 || hi - lo >= NARROW {
            return Classes::fixed();
        }
        let q = |p: f64| {
            let x = p * (v.len() - 1) as f64;
            let (i, f) = (x.floor() as usize, x.fract());
            let at = v[i] + (v[(i + 1).min(v.len() - 1)] - v[i]) * f;
            (at * 100.0).round() / 100.0
        };
        let breaks = [q(0.2), q(0.4), q(0.6), q(0.8)];
        if breaks.windows(2).all(|w| w[0] < w[1]) {
            Classes {
                breaks,
                quantiles: true,
            }
        } else {
            Classes::fixed()
        }
    }

    pub(super) fn colour(&self, c: Option<f64>) -> &'static str {
        c.map_or(NO_ANSWERS, |c| {
            COLOURS[self.breaks.iter().filter(|b| c >= **b).count()]
        })
    }
}

pub(super) const MAP_WIDTH: f64 = 720.0;
pub(super) const MAP_MAX_HEIGHT: f64 = 620.0;

/// Web Mercator of a point, north up: the tiles' projection (normalised to the unit square,
/// y south), flipped. The map is then scaled to fit, so the unit does not matter.
pub(super) fn mercator(lon: f64, lat: f64) -> (f64, f64) {
    let m = predio_tiles::geom::mercator(lon, lat);
    (m.x, -m.y)
}

/// The sectors as SVG paths coloured by compliance, numbered markers on the worst.
pub(super) fn map_svg(report: &Report, layer: &SectorLayer) -> String {
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
            report.classes.colour(c),
            esc(&row.name),
            percent(c),
            int(row.answered)
        );
    }
    // every sector's name at its interior point
    for s in &layer.sectors {
        let Some(p) = s.geometry.interior_point() else {
            continue;
        };
        let (x, y) = px(p.x(), p.y());
        let _ = writeln!(
            svg,
            "<text class=\"nombre\" x=\"{x:.1}\" y=\"{:.1}\" text-anchor=\"middle\" font-size=\"10\" \
             fill=\"#1d1d1d\" stroke=\"#ffffff\" stroke-width=\"2.5\" paint-order=\"stroke\">{}</text>",
            y - 12.0,
            esc(&s.name)
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

pub(super) fn legend(classes: &Classes) -> String {
    let breaks = classes.breaks;
    let mut items = vec![(NO_ANSWERS, "sin respuestas".to_owned())];
    let pct = |v: f64| format!("{:.0} %", v * 100.0);
    items.push((COLOURS[0], format!("menos de {}", pct(breaks[0]))));
    for i in 1..breaks.len() {
        items.push((
            COLOURS[i],
            format!("{} – {}", pct(breaks[i - 1]), pct(breaks[i])),
        ));
    }
    items.push((COLOURS[4], format!("{} o más", pct(breaks[3]))));
    let mut out = String::from("<ul class=\"leyenda\">");
    for (c, t) in items {
        let _ = write!(
            out,
            "<li><span class=\"muestra\" style=\"background:{c}\"></span>{}</li>",
            esc(&t)
        );
    }
    out.push_str("</ul>");
    if classes.quantiles {
        out.push_str(
            "<p class=\"nota\" id=\"clases\">Las tasas de los sectores son parecidas: las clases \
             son sus quintiles (cada una reúne a una quinta parte de los sectores), no las fijas.</p>",
        );
    }
    out
}
