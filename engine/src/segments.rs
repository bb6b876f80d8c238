//! Segmentation: k-means++ on standardised indices (a fixed seed makes it deterministic), k
//! chosen by the mean silhouette within a range or given, and each segment described in plain
//! words by its centroid (the indices it stands out on, in standard deviations).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::rng::SplitMix64;

/// A segmentation kept in a catalog version (`predio segments --save`): what it was run on and
/// with, and each segment's size and words. The table of labels is `segments-<level>s.parquet`
/// (the feature id, `segment`, `description`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SegmentsMeta {
    /// The indices window it segments.
    pub window: String,
    /// The standardised index fields.
    pub fields: Vec<String>,
    /// The k-means++ seed.
    pub seed: u64,
    /// The number of segments.
    pub k: usize,
    /// The mean silhouette.
    pub silhouette: f64,
    /// Features per segment.
    pub sizes: Vec<usize>,
    /// Each segment in words.
    pub descriptions: Vec<String>,
    /// The as-of time of the indices it was computed on (a new `predio compute` drops it).
    pub indices_as_of: DateTime<Utc>,
}

/// A segmentation.
#[derive(Debug, Clone, PartialEq)]
pub struct Segmentation {
    /// k.
    pub k: usize,
    /// Segment of each row, 0-based, numbered by decreasing size (ties: by first row).
    pub labels: Vec<usize>,
    /// Centroids in standard deviations, `k` × fields.
    pub centroids: Vec<Vec<f64>>,
    /// Rows per segment.
    pub sizes: Vec<usize>,
    /// Mean silhouette (on at most [`SILHOUETTE_SAMPLE`] rows).
    pub silhouette: f64,
    /// Silhouette of each k tried, when k was chosen.
    pub tried: Vec<(usize, f64)>,
}

/// Most rows the silhouette is computed on (an evenly spaced sample beyond it).
pub const SILHOUETTE_SAMPLE: usize = 2000;
const RESTARTS: usize = 8;
const MAX_ITERATIONS: usize = 300;

/// Each column as z-scores (population standard deviation); a constant column becomes 0.
pub fn standardise(rows: &[Vec<f64>]) -> Vec<Vec<f64>> {
    let Some(width) = rows.first().map(Vec::len) else {
        return Vec::new();
    };
    let n = rows.len() as f64;
    let mut out = rows.to_vec();
    for j in 0..width {
        let mean = rows.iter().map(|r| r[j]).sum::<f64>() / n;
        let sd = (rows.iter().map(|r| (r[j] - mean).powi(2)).sum::<f64>() / n).sqrt();
        for r in &mut out {
            r[j] = if sd > 0.0 { (r[j] - mean) / sd } else { 0.0 };
        }
    }
    out
}

fn distance2(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| (x - y).powi(2)).sum()
}

fn nearest(x: &[f64], centroids: &[Vec<f64>]) -> (usize, f64) {
    let mut best = (0, f64::INFINITY);
    for (c, m) in centroids.iter().enumerate() {
        let d = distance2(x, m);
        if d < best.1 {
            best = (c, d);
        }
    }
    best
}

/// One k-means++ run: labels, centroids, inertia.
fn run(x: &[Vec<f64>], k: usize, rng: &mut SplitMix64) -> (Vec<usize>, Vec<Vec<f64>>, f64) {
    let n = x.len();
    let mut centroids = vec![x[(rng.next_u64() % n as u64) as usize].clone()];
    let mut d2: Vec<f64> = x.iter().map(|p| distance2(p, &centroids[0])).collect();
    while centroids.len() < k {
        let total: f64 = d2.iter().sum();
        let pick = if total > 0.0 {
            let mut t = rng.unit() * total;
            let mut i = 0;
            while i + 1 < n && t >= d2[i] {
                t -= d2[i];
                i += 1;
            }
            i
        } else {
            (rng.next_u64() % n as u64) as usize
        };
        centroids.push(x[pick].clone());
        for (i, p) in x.iter().enumerate() {
            d2[i] = d2[i].min(distance2(p, &x[pick]));
        }
    }
    let mut labels = vec![usize::MAX; n];
    for _ in 0..MAX_ITERATIONS {
        let mut changed = false;
        for (i, p) in x.iter().enumerate() {
            let (c, _) = nearest(p, &centroids);
            if labels[i] != c {
                labels[i] = c;
                changed = true;
            }
        }
        if !changed {
            break;
        }
        let width = x[0].len();
        let mut sums = vec![vec![0.0; width]; k];
        let mut counts = vec![0usize; k];
        for (p, l) in x.iter().zip(&labels) {
            counts[*l] += 1;
            for (s, v) in sums[*l].iter_mut().zip(p) {
                *s += v;
            }
        }
        for c in 0..k {
            if counts[c] > 0 {
                centroids[c] = sums[c].iter().map(|s| s / counts[c] as f64).collect();
            }
        }
    }
    let inertia = x
        .iter()
        .zip(&labels)
        .map(|(p, l)| distance2(p, &centroids[*l]))
        .sum();
    (labels, centroids, inertia)
}

/// Mean silhouette of `labels` (on an evenly spaced sample of at most [`SILHOUETTE_SAMPLE`]).
pub fn silhouette(x: &[Vec<f64>], labels: &[usize], k: usize) -> f64 {
    let step = x.len().div_ceil(SILHOUETTE_SAMPLE).max(1);
    let idx: Vec<usize> = (0..x.len()).step_by(step).collect();
    let mut total = 0.0;
    for &i in &idx {
        let mut sum = vec![0.0; k];
        let mut count = vec![0usize; k];
        for &j in &idx {
            if i != j {
                sum[labels[j]] += distance2(&x[i], &x[j]).sqrt();
                count[labels[j]] += 1;
            }
        }
        let own = labels[i];
        if count[own] == 0 {
            continue; // a singleton scores 0
        }
        let a = sum[own] / count[own] as f64;
        let b = (0..k)
            .filter(|c| *c != own && count[*c] > 0)
            .map(|c| sum[c] / count[c] as f64)
            .fold(f64::INFINITY, f64::min);
        if b.is_finite() && a.max(b) > 0.0 {
            total += (b - a) / a.max(b);
        }
    }
    total / idx.len() as f64
}

/// k-means++ with `k` segments on standardised rows (best of several seeded restarts).
pub fn kmeans(x: &[Vec<f64>], k: usize, seed: u64) -> Segmentation {
    let k = k.clamp(1, x.len().max(1));
    let mut rng = SplitMix64::from_state(seed);
    let mut best: Option<(Vec<usize>, Vec<Vec<f64>>, f64)> = None;
    for _ in 0..RESTARTS {
        let r = run(x, k, &mut rng);
        if best.as_ref().is_none_or(|b| r.2 < b.2) {
            best = Some(r);
        }
    }
    let (labels, centroids, _) = best.unwrap_or_default();
    // number the segments by decreasing size, then by first row
    let mut sizes = vec![0usize; k];
    let mut first = vec![usize::MAX; k];
    for (i, l) in labels.iter().enumerate() {
        sizes[*l] += 1;
        first[*l] = first[*l].min(i);
    }
    let mut order: Vec<usize> = (0..k).collect();
    order.sort_by(|a, b| sizes[*b].cmp(&sizes[*a]).then(first[*a].cmp(&first[*b])));
    let mut rank = vec![0; k];
    for (r, c) in order.iter().enumerate() {
        rank[*c] = r;
    }
    let labels: Vec<usize> = labels.iter().map(|l| rank[*l]).collect();
    let centroids: Vec<Vec<f64>> = order.iter().map(|c| centroids[*c].clone()).collect();
    let sizes: Vec<usize> = order.iter().map(|c| sizes[*c]).collect();
    let s = if k > 1 {
        silhouette(x, &labels, k)
    } else {
        0.0
    };
    Segmentation {
        k,
        labels,
        centroids,
        sizes,
        silhouette: s,
        tried: Vec::new(),
    }
}

/// k-means++ for each k in `range`, keeping the best mean silhouette.
pub fn choose_k(x: &[Vec<f64>], range: std::ops::RangeInclusive<usize>, seed: u64) -> Segmentation {
    let mut tried = Vec::new();
    let mut best: Option<Segmentation> = None;
    for k in range {
        if k < 2 || k >= x.len() {
            continue;
        }
        let s = kmeans(x, k, seed);
        tried.push((k, s.silhouette));
        if best
            .as_ref()
            .is_none_or(|b| s.silhouette > b.silhouette + 1e-12)
        {
            best = Some(s);
        }
    }
    let mut best = best.unwrap_or_else(|| kmeans(x, 1, seed));
    best.tried = tried;
    best
}

/// A segment in words: the fields its centroid stands out on (|z| ≥ 0.5), strongest first,
/// as "high open (+1.3 sd), rising trend (+0.8 sd)"; "average" when none does.
pub fn describe(centroid: &[f64], fields: &[&str]) -> String {
    let mut parts: Vec<(f64, String)> = centroid
        .iter()
        .zip(fields)
        .filter(|(z, _)| z.abs() >= 0.5)
        .map(|(z, f)| {
            let word = match (*f, *z > 0.0) {
                ("trend", true) => "rising".to_owned(),
                ("trend", false) => "falling".to_owned(),
                (_, true) => format!("high {f}"),
                (_, false) => format!("low {f}"),
            };
            (z.abs(), format!("{word} ({z:+.1} sd)"))
        })
        .collect();
    parts.sort_by(|a, b| b.0.total_cmp(&a.0));
    if parts.is_empty() {
        "average".into()
    } else {
        parts
            .into_iter()
            .take(3)
            .map(|(_, s)| s)
            .collect::<Vec<_>>()
            .join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Three planted clusters (30, 20 and 10 points around distant centres, with noise).
    fn planted(seed: u64) -> (Vec<Vec<f64>>, Vec<usize>) {
        let mut rng = SplitMix64::from_state(seed);
        let centres = [[0.0, 0.0, 5.0], [10.0, 0.0, 0.0], [0.0, 10.0, -5.0]];
        let mut x = Vec::new();
        let mut truth = Vec::new();
        for (c, n) in [(0usize, 30usize), (1, 20), (2, 10)] {
            for _ in 0..n {
                x.push(
                    centres[c]
                        .iter()
                        .map(|v| v + rng.unit() * 2.0 - 1.0)
                        .collect(),
                );
                truth.push(c);
            }
        }
        (x, truth)
    }

    #[test]
    fn three_planted_clusters_are_recovered_and_k_is_three() {
        let (x, truth) = planted(7);
        let x = standardise(&x);
        let s = choose_k(&x, 2..=6, 42);
        assert_eq!(s.k, 3, "silhouettes {:?}", s.tried);
        // segments are numbered by size: the planted 30, 20, 10
        assert_eq!(s.labels, truth);
        assert_eq!(s.sizes, vec![30, 20, 10]);
        assert!(s.silhouette > 0.8, "{}", s.silhouette);
    }

    #[test]
    fn deterministic_per_seed() {
        let (x, _) = planted(11);
        let x = standardise(&x);
        assert_eq!(kmeans(&x, 4, 1), kmeans(&x, 4, 1));
        assert_eq!(choose_k(&x, 2..=5, 9), choose_k(&x, 2..=5, 9));
    }

    #[test]
    fn segments_in_words() {
        assert_eq!(
            describe(&[1.34, 0.1, 0.8], &["open", "compliance", "trend"]),
            "high open (+1.3 sd), rising (+0.8 sd)"
        );
        assert_eq!(
            describe(&[-0.7, 0.2], &["compliance", "open"]),
            "low compliance (-0.7 sd)"
        );
        assert_eq!(describe(&[0.1, -0.2], &["a", "b"]), "average");
        let z = standardise(&[vec![1.0, 5.0], vec![3.0, 5.0]]);
        assert_eq!(z, vec![vec![-1.0, 0.0], vec![1.0, 0.0]]);
    }
}
