//! The attention index (0-100) of a row, and the density percentiles it ranks rows by.

use super::config::Weights;

/// The counts the attention score reads, one value per row.
pub(super) struct AttentionCounts<'a> {
    pub received: &'a [u32],
    pub open: &'a [u32],
    pub overdue: &'a [u32],
    pub answered: &'a [u32],
    pub on_time: &'a [u32],
    pub recurrent: &'a [u32],
}

impl AttentionCounts<'_> {
    /// The attention index of every row: NaN (empty) below `min_reports` reports, else
    /// [`AttentionCounts::score`] with the row's density percentile among the eligible rows of
    /// its dimension value (`code`) and its trend.
    pub fn column(
        &self,
        w: &Weights,
        density: &[f64],
        code: &[u32],
        trend: &[f64],
        min_reports: u32,
    ) -> Vec<f64> {
        let eligible: Vec<bool> = self
            .received
            .iter()
            .map(|r| *r >= min_reports.max(1))
            .collect();
        let percentile = density_percentiles(density, code, &eligible);
        (0..eligible.len())
            .map(|i| {
                if !eligible[i] {
                    return f64::NAN;
                }
                let trend = Some(trend[i]).filter(|t| !t.is_nan());
                self.score(w, i, percentile[i], trend)
            })
            .collect()
    }

    /// The attention score of row `i`, 0–100 (see the README), from its density percentile,
    /// its counts and its trend.
    pub fn score(&self, w: &Weights, i: usize, percentile: f64, trend: Option<f64>) -> f64 {
        attention_score(
            w,
            percentile,
            [
                self.received[i],
                self.open[i],
                self.overdue[i],
                self.answered[i],
                self.on_time[i],
                self.recurrent[i],
            ],
            trend,
        )
    }
}

/// The attention score from a density percentile, the counts (received, open, overdue,
/// answered, answered on time, recurrent) and a trend.
pub(super) fn attention_score(
    w: &Weights,
    percentile: f64,
    counts: [u32; 6],
    trend: Option<f64>,
) -> f64 {
    let [received, open, overdue, answered, on_time, recurrent] = counts;
    let total = w.density + w.backlog + w.overdue + w.late + w.recurrence + w.trend;
    let frac = |a: u32, b: u32| {
        if b > 0 {
            f64::from(a) / f64::from(b)
        } else {
            0.0
        }
    };
    let s = w.density * percentile
        + w.backlog * frac(open, received)
        + w.overdue * frac(overdue, open)
        + w.late * (1.0 - frac(on_time, answered).min(1.0)) * f64::from(u8::from(answered > 0))
        + w.recurrence * frac(recurrent, received)
        + w.trend * trend.map_or(0.0, |t| (t - 1.0).clamp(0.0, 1.0));
    (1000.0 * s / total).round() / 10.0
}

/// Each row's percentile of `density` among the rows of its `group` that are `eligible` and
/// have a density (not NaN; ties share the mean rank; the densest scores 1), 0 for the others.
pub(super) fn density_percentiles(density: &[f64], group: &[u32], eligible: &[bool]) -> Vec<f64> {
    let mut rows: Vec<usize> = (0..density.len())
        .filter(|&i| eligible[i] && !density[i].is_nan())
        .collect();
    let d = |i: usize| density[i];
    rows.sort_by(|&a, &b| {
        group[a]
            .cmp(&group[b])
            .then(d(a).partial_cmp(&d(b)).unwrap_or(std::cmp::Ordering::Equal))
    });
    let mut out = vec![0.0; density.len()];
    let mut g = 0;
    while g < rows.len() {
        let mut end = g;
        while end < rows.len() && group[rows[end]] == group[rows[g]] {
            end += 1;
        }
        let m = (end - g) as f64;
        let mut i = g;
        while i < end {
            let mut j = i;
            while j + 1 < end && d(rows[j + 1]) == d(rows[i]) {
                j += 1;
            }
            let rank = (i - g + j - g) as f64 / 2.0 + 1.0;
            for r in &rows[i..=j] {
                out[*r] = rank / m;
            }
            i = j + 1;
        }
        g = end;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn density_percentiles_share_ties_within_groups() {
        let density = [1.0, 3.0, 3.0, f64::NAN, 9.0, 2.0];
        let group = [0, 0, 0, 0, 0, 1];
        let eligible = [true, true, true, true, false, true];
        let p = density_percentiles(&density, &group, &eligible);
        // Group 0: 1 (rank 1), 3 and 3 (ranks 2 and 3, sharing 2.5) of three eligible rows.
        assert_eq!(p, [1.0 / 3.0, 2.5 / 3.0, 2.5 / 3.0, 0.0, 0.0, 1.0]);
    }
}
