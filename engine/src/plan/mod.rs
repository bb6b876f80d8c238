//! The proactive plan: place × category actions ranked by a documented score. The places are
//! the sectors; without sectors, the parcels; without a cadastre, the H3 cells.
//!
//! score = 100 × (0.30·rise + 0.25·hot + 0.20·backlog + 0.15·recurrence + 0.10·rate), where
//! each term is the row's value divided by the largest over all rows (0 when that is 0):
//! - rise: reports received in the window minus the previous window of the same length (≥ 0);
//! - hot: H3 cells of the category whose centre lies in the place (or that are the place) and
//!   that Gi* finds hot;
//! - backlog: open reports now;
//! - recurrence: reports of the category on a parcel that had one within the recurrence
//!   interval;
//! - rate: reports per 1,000 inhabitants (0 where the place has no population: parcels and
//!   cells, and sectors without one).
//!
//! The action follows the largest weighted term (the term that chose it, kept with the action):
//! rise or hot → `campaign`, recurrence → `preventive maintenance`, backlog or rate →
//! `inspection`; a row whose terms are all 0 (reports fell, nothing hot, open, recurrent or
//! dense) gets `monitor`, never a campaign.

mod evidence;

pub use evidence::{plan_of, Plan, PREFERRED_WINDOW};

/// Weights of the score's terms: rise, hot, backlog, recurrence, rate.
pub const WEIGHTS: [f64; 5] = [0.30, 0.25, 0.20, 0.15, 0.10];

/// The score's terms, in the order of [`WEIGHTS`].
pub const TERMS: [&str; 5] = ["rise", "hot", "backlog", "recurrence", "rate"];

/// The numbers behind one sector × category.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Evidence {
    /// The place: a sector id, a parcel id or an H3 cell, by the plan's level.
    pub place_id: String,
    /// The place's name: a sector's name, else its id.
    pub place: String,
    /// Category.
    pub category: String,
    /// Reports received in the window.
    pub received: f64,
    /// Reports received in the previous window.
    pub previous: f64,
    /// Hot H3 cells of the category in the place.
    pub hot_cells: f64,
    /// The largest Gi* z-score of those cells (0 when none).
    pub max_z: f64,
    /// Open reports.
    pub open: f64,
    /// Recurrent reports.
    pub recurrent: f64,
    /// Reports per 1,000 inhabitants, where known.
    pub per_1000: Option<f64>,
}

/// A ranked action.
#[derive(Debug, Clone, PartialEq)]
pub struct Action {
    /// What it rests on.
    pub evidence: Evidence,
    /// 0-100.
    pub score: f64,
    /// `campaign`, `preventive maintenance`, `inspection` or `monitor`.
    pub action: &'static str,
    /// The term that chose the action (one of [`TERMS`]; none for `monitor`).
    pub chosen_by: Option<&'static str>,
    /// The score's weighted terms: rise, hot, backlog, recurrence, rate (points of the 100).
    pub terms: [f64; 5],
    /// The numbers behind the score, in words.
    pub reason: String,
}

/// Ranks the rows (received > 0), highest score first (ties: place, category).
pub fn rank(rows: Vec<Evidence>) -> Vec<Action> {
    let rows: Vec<Evidence> = rows.into_iter().filter(|r| r.received > 0.0).collect();
    let raw = |r: &Evidence| -> [f64; 5] {
        [
            (r.received - r.previous).max(0.0),
            r.hot_cells,
            r.open,
            r.recurrent,
            r.per_1000.unwrap_or(0.0),
        ]
    };
    let mut max = [0.0f64; 5];
    for r in &rows {
        for (m, v) in max.iter_mut().zip(raw(r)) {
            *m = m.max(v);
        }
    }
    let mut out: Vec<Action> = rows
        .into_iter()
        .map(|r| {
            let v = raw(&r);
            let mut terms = [0.0; 5];
            for i in 0..5 {
                terms[i] = if max[i] > 0.0 {
                    100.0 * WEIGHTS[i] * v[i] / max[i]
                } else {
                    0.0
                };
            }
            let score = terms.iter().sum();
            let top = (0..5)
                .filter(|&t| terms[t] > 0.0)
                .max_by(|a, b| terms[*a].total_cmp(&terms[*b]).then(b.cmp(a)));
            let action = match top {
                None => "monitor",
                Some(0 | 1) => "campaign",
                Some(3) => "preventive maintenance",
                Some(_) => "inspection",
            };
            let reason = format!(
                "received {} vs {} in the previous window ({:+}); {} hot H3 cell{}{}; {} open; \
                 {} recurrent; {}",
                r.received,
                r.previous,
                r.received - r.previous,
                r.hot_cells,
                if r.hot_cells == 1.0 { "" } else { "s" },
                if r.hot_cells > 0.0 {
                    format!(" (max z {:.1})", r.max_z)
                } else {
                    String::new()
                },
                r.open,
                r.recurrent,
                r.per_1000.map_or("no population".to_owned(), |p| format!(
                    "{p:.1} per 1,000 inhabitants"
                )),
            );
            Action {
                evidence: r,
                score,
                action,
                chosen_by: top.map(|t| TERMS[t]),
                terms,
                reason,
            }
        })
        .collect();
    out.sort_by(|a, b| {
        b.score
            .total_cmp(&a.score)
            .then_with(|| a.evidence.place_id.cmp(&b.evidence.place_id))
            .then_with(|| a.evidence.category.cmp(&b.evidence.category))
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(sector: &str, category: &str, received: f64, previous: f64, open: f64) -> Evidence {
        Evidence {
            place_id: sector.into(),
            place: sector.into(),
            category: category.into(),
            received,
            previous,
            open,
            ..Evidence::default()
        }
    }

    #[test]
    fn a_burst_ranks_first_as_a_campaign_and_the_score_adds_up() {
        let ranked = rank(vec![
            row("A", "Bache", 30.0, 28.0, 10.0),
            row("B", "Alumbrado", 60.0, 10.0, 5.0),
            row("C", "Ruido", 0.0, 4.0, 0.0),
        ]);
        assert_eq!(ranked.len(), 2, "rows without reports are left out");
        let top = &ranked[0];
        assert_eq!(
            (top.evidence.place_id.as_str(), top.action),
            ("B", "campaign")
        );
        assert!(top
            .reason
            .contains("received 60 vs 10 in the previous window (+50)"));
        // rise: B has the largest (50 → 30 points); backlog 5/10 of 20 → 10 points
        assert!((top.score - 40.0).abs() < 1e-9, "{}", top.score);
        assert!((top.terms.iter().sum::<f64>() - top.score).abs() < 1e-12);
        let a = &ranked[1];
        assert_eq!(a.action, "inspection", "backlog is its largest term");
        assert!((a.score - (30.0 * 2.0 / 50.0 + 20.0)).abs() < 1e-9);
        assert_eq!(
            (top.chosen_by, a.chosen_by),
            (Some("rise"), Some("backlog"))
        );
    }

    #[test]
    fn reports_that_fell_with_nothing_else_are_watched_not_campaigned() {
        let ranked = rank(vec![
            row("A", "Bache", 3.0, 9.0, 0.0),
            row("B", "Bache", 5.0, 5.0, 0.0),
        ]);
        assert!(ranked
            .iter()
            .all(|a| a.action == "monitor" && a.chosen_by.is_none() && a.score == 0.0));
    }
}
