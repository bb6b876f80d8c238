//! The aggregates of every level, window and dimension in one sorted pass per level and
//! dimension.
//!
//! The first formulation of the indices was a Polars lazy query per level, window and
//! dimension (45 group-bys, each joined to the counts of the window before); it is kept as the
//! tests' oracle (`reference.rs`). Here the reports, in order of creation, are sorted once per
//! level and dimension by their group (a stable radix sort, so each group's run stays in order
//! of creation), and each run is walked once from its newest report back: the windows are
//! nested, so each is a snapshot of the running counts taken where the walk passes its start,
//! and the reports of the window before are counted on the way. Medians and 90th percentiles
//! are order statistics of the values gathered so far (a selection, not a sort).

use polars::prelude::*;
use polars_arrow::bitmap::Bitmap;

use super::config::Weights;

/// Flags of a [`Row`].
pub(super) mod flag {
    /// Not closed at the as-of time.
    pub const OPEN: u16 = 1;
    /// Closed as resolved.
    pub const RESOLVED: u16 = 1 << 1;
    /// Closed as rejected or duplicate.
    pub const REJECTED_DUPLICATE: u16 = 1 << 2;
    /// Closed as resolved with a closed-not-fixed label.
    pub const NOT_FIXED: u16 = 1 << 3;
    /// Closed with a verdict against a deadline.
    pub const ANSWERED: u16 = 1 << 4;
    /// ... answered by the deadline.
    pub const ON_TIME: u16 = 1 << 5;
    /// The source has a history of its own for it.
    pub const HISTORY: u16 = 1 << 6;
    /// ... and it was reopened.
    pub const REOPENED: u16 = 1 << 7;
    /// It repeats a category on its parcel within the recurrence interval.
    pub const RECURRENT: u16 = 1 << 8;
}

/// What one report brings to the aggregates.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Row {
    /// Creation time, UTC milliseconds.
    pub created: i64,
    /// Resolution hours, resolution business days, hours to acknowledge (NaN where none).
    pub metrics: [f64; 3],
    /// Business days since receipt of an open report (`i64::MIN` when closed).
    pub age_bd: i64,
    /// [`flag`]s.
    pub flags: u16,
    /// Stage code of an open report with a deadline (1–4, 0 when none).
    pub stage: u8,
    /// Past-due bucket of an overdue report (1–4, 0 when none).
    pub past_due: u8,
}

/// The count columns, in the order of the tables.
pub(super) const COUNTS: [&str; 18] = [
    "received",
    "open",
    "resolved",
    "rejected_duplicate",
    "resolved_not_fixed",
    "answered",
    "answered_on_time",
    "open_on_time",
    "open_warning",
    "open_alert",
    "overdue",
    "overdue_0_5",
    "overdue_6_10",
    "overdue_11_20",
    "overdue_over_20",
    "reopened",
    "with_history",
    "recurrent",
];

/// The flags counted, with their column in [`COUNTS`].
const FLAG_COUNTS: [(u16, usize); 9] = [
    (flag::OPEN, 1),
    (flag::RESOLVED, 2),
    (flag::REJECTED_DUPLICATE, 3),
    (flag::NOT_FIXED, 4),
    (flag::ANSWERED, 5),
    (flag::ON_TIME, 6),
    (flag::REOPENED, 15),
    (flag::HISTORY, 16),
    (flag::RECURRENT, 17),
];

/// Running counts of a group.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
struct Acc {
    counts: [u32; COUNTS.len()],
    oldest_open_bd: Option<i64>,
}

impl Acc {
    fn add(&mut self, r: &Row) {
        let c = &mut self.counts;
        c[0] += 1;
        for (f, i) in FLAG_COUNTS {
            c[i] += u32::from(r.flags & f != 0);
        }
        if r.stage > 0 {
            c[6 + usize::from(r.stage)] += 1;
        }
        if r.past_due > 0 {
            c[10 + usize::from(r.past_due)] += 1;
        }
        if r.age_bd != i64::MIN {
            self.oldest_open_bd = Some(self.oldest_open_bd.map_or(r.age_bd, |o| o.max(r.age_bd)));
        }
    }
}

/// The quantile `q` of `values` (linear interpolation between the closest ranks, as Polars'
/// `QuantileMethod::Linear` and `median`), found by selection; `values` is reordered.
#[cfg(test)]
fn quantile(values: &mut [f64], q: f64) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    let idx = q * (values.len() - 1) as f64;
    let (lo, hi) = (idx.floor() as usize, idx.ceil() as usize);
    let (_, a, above) = values.select_nth_unstable_by(lo, f64::total_cmp);
    let a = *a;
    if lo == hi {
        return Some(a);
    }
    let b = above.iter().copied().min_by(f64::total_cmp).unwrap_or(a);
    Some(a + (b - a) * (idx - lo as f64))
}

/// `v` as an integer whose order is `f64::total_cmp`'s: selections compare integers.
fn ordered(v: f64) -> u64 {
    let b = v.to_bits();
    if b >> 63 == 1 {
        !b
    } else {
        b | 1 << 63
    }
}

/// The inverse of [`ordered`].
fn from_ordered(k: u64) -> f64 {
    f64::from_bits(if k >> 63 == 1 { k & !(1 << 63) } else { !k })
}

/// A window as the pass cuts it.
#[derive(Debug, Clone, Copy)]
pub(super) struct Cut {
    /// Reports created after this time (milliseconds) are in it; `None`: all.
    pub after: Option<i64>,
    /// The window of the same length before: created in `(lo, hi]`.
    pub prev: Option<(i64, i64)>,
}

impl Cut {
    /// The cut of a window of `days` (all when `None`) up to `as_of_ms`.
    pub fn new(days: Option<u32>, as_of_ms: i64) -> Cut {
        match days {
            Some(d) => {
                let len = i64::from(d) * 86_400_000;
                Cut {
                    after: Some(as_of_ms - len),
                    prev: Some((as_of_ms - 2 * len, as_of_ms - len)),
                }
            }
            None => Cut {
                after: None,
                prev: None,
            },
        }
    }
}

/// The aggregated rows of one level, window and dimension, in columns: the group's key
/// (0: no feature), its dimension code (0: none) and its aggregates.
///
/// What may be missing is stored in place, not as `Option`s (twice the memory for the
/// floats): the columns become the table's buffers as they are, with a validity mask.
#[derive(Debug, Default)]
pub(super) struct Part {
    pub key: Vec<u32>,
    pub code: Vec<u32>,
    pub counts: [Vec<u32>; COUNTS.len()],
    /// [`NO_OPEN`] where nothing is open.
    pub oldest_open_bd: Vec<i64>,
    /// Median and p90 of each metric, in the order of [`QUANTILES`]; NaN where nothing was
    /// measured (the values measured are never NaN).
    pub quantiles: [Vec<f64>; 6],
    /// Reports of the window before (`None` for `all`).
    pub prev: Option<Vec<u32>>,
}

/// [`Part::oldest_open_bd`] of a group with nothing open.
pub(super) const NO_OPEN: i64 = i64::MIN;

/// The quantile columns, in the order of [`Part::quantiles`].
pub(super) const QUANTILES: [&str; 6] = [
    "resolution_median_h",
    "resolution_p90_h",
    "resolution_median_bd",
    "resolution_p90_bd",
    "ack_median_h",
    "ack_p90_h",
];

impl Part {
    /// Room for `n` rows, with the counts of the window before when `cut` has one.
    fn with_capacity(n: usize, cut: &Cut) -> Part {
        Part {
            key: Vec::with_capacity(n),
            code: Vec::with_capacity(n),
            counts: std::array::from_fn(|_| Vec::with_capacity(n)),
            oldest_open_bd: Vec::with_capacity(n),
            quantiles: std::array::from_fn(|_| Vec::with_capacity(n)),
            prev: cut.prev.map(|_| Vec::with_capacity(n)),
        }
    }

    fn push(&mut self, key: u32, code: u32, acc: &Acc, q: &[Option<f64>; 6], prev: u32) {
        self.key.push(key);
        self.code.push(code);
        for (v, c) in self.counts.iter_mut().zip(acc.counts) {
            v.push(c);
        }
        self.oldest_open_bd
            .push(acc.oldest_open_bd.unwrap_or(NO_OPEN));
        for (v, x) in self.quantiles.iter_mut().zip(q) {
            v.push(x.unwrap_or(f64::NAN));
        }
        if let Some(p) = &mut self.prev {
            p.push(prev);
        }
    }

    pub fn len(&self) -> usize {
        self.key.len()
    }
}

/// How one level groups the rows.
pub(super) struct Grouping<'a> {
    /// Each row's feature (1-based; 0: none).
    pub keys: &'a [u32],
    /// The dimensions: `None` for `all`, else each row's 1-based code (0: none).
    pub dims: &'a [Option<&'a [u32]>],
    /// Give every feature `1..=n` a row in every window of `all`, zeros included (parcels and
    /// sectors).
    pub complete: Option<u32>,
}

/// Below this many values, [`quantiles`] sorts them (most parcels' groups hold one to three
/// reports, where a selection costs more than an insertion sort).
const SORT_BELOW: usize = 16;

/// The quantiles `q` of `values` ([`ordered`] keys; linear interpolation between the closest
/// ranks, as Polars' `QuantileMethod::Linear` and `median`), `q` ascending, found by
/// selection; `values` is reordered. Each quantile is selected among the values above the one
/// before.
fn quantiles<const N: usize>(values: &mut [u64], q: [f64; N]) -> [Option<f64>; N] {
    let mut out = [None; N];
    let n = values.len();
    if n == 0 {
        return out;
    }
    // Between the values of rank `lo` and `lo + 1` (the next one is read only when needed).
    let interpolate = |idx: f64, lo: usize, a: u64, next: &dyn Fn() -> Option<u64>| {
        let a = from_ordered(a);
        if idx.ceil() as usize == lo {
            a
        } else {
            let b = next().map_or(a, from_ordered);
            a + (b - a) * (idx - lo as f64)
        }
    };
    if n < SORT_BELOW {
        insertion_sort(values);
        for (o, q) in out.iter_mut().zip(q) {
            let idx = q * (n - 1) as f64;
            let lo = idx.floor() as usize;
            *o = Some(interpolate(idx, lo, values[lo], &|| {
                values.get(lo + 1).copied()
            }));
        }
        return out;
    }
    let mut from = 0;
    for (o, q) in out.iter_mut().zip(q) {
        let idx = q * (n - 1) as f64;
        let lo = idx.floor() as usize;
        // Ascending quantiles: `lo` is never below the one before.
        let from_here = from.min(lo);
        let (_, a, above) = values[from_here..].select_nth_unstable(lo - from_here);
        *o = Some(interpolate(idx, lo, *a, &|| above.iter().copied().min()));
        from = lo;
    }
    out
}

fn insertion_sort(v: &mut [u64]) {
    for i in 1..v.len() {
        let x = v[i];
        let mut j = i;
        while j > 0 && v[j - 1] > x {
            v[j] = v[j - 1];
            j -= 1;
        }
        v[j] = x;
    }
}

/// One walk's scratch: the values gathered, the snapshots of each cut and the window-before
/// counts.
struct Walk<'c> {
    cuts: &'c [Cut],
    /// Cut indices from the newest start back (`all` last), as the walk meets them.
    order: Vec<usize>,
    values: [Vec<u64>; 3],
    snaps: Vec<(Acc, [Option<f64>; 6])>,
    prev: Vec<u32>,
}

impl<'c> Walk<'c> {
    fn new(cuts: &'c [Cut]) -> Self {
        let mut order: Vec<usize> = (0..cuts.len()).collect();
        order.sort_by_key(|&w| std::cmp::Reverse(cuts[w].after.unwrap_or(i64::MIN)));
        Walk {
            cuts,
            order,
            values: Default::default(),
            snaps: vec![(Acc::default(), [None; 6]); cuts.len()],
            prev: vec![0; cuts.len()],
        }
    }

    fn snap(&mut self, w: usize, last: Option<usize>, acc: &Acc) {
        // The window before, when it held the same reports: most parcels' windows do.
        if let Some(l) = last.filter(|l| self.snaps[*l].0.counts[0] == acc.counts[0]) {
            self.snaps[w] = self.snaps[l];
            return;
        }
        let mut q = [None; 6];
        for (m, v) in self.values.iter_mut().enumerate() {
            [q[2 * m], q[2 * m + 1]] = quantiles(v, [0.5, 0.9]);
        }
        self.snaps[w] = (*acc, q);
    }

    /// Walks `run` (one group's rows, in order of creation) from its newest row back, and
    /// pushes a row per cut into `parts` (empty ones only when `keep_empty`).
    fn run(&mut self, run: &[Row], key: u32, code: u32, keep_empty: bool, parts: &mut [Part]) {
        if let [r] = run {
            return self.one(r, key, code, keep_empty, parts);
        }
        let mut acc = Acc::default();
        self.values.iter_mut().for_each(Vec::clear);
        self.prev.iter_mut().for_each(|p| *p = 0);
        let (mut next, mut last) = (0, None);
        for r in run.iter().rev() {
            while next < self.order.len()
                && self.cuts[self.order[next]]
                    .after
                    .is_some_and(|a| r.created <= a)
            {
                let w = self.order[next];
                self.snap(w, last, &acc);
                (last, next) = (Some(w), next + 1);
            }
            acc.add(r);
            for (v, x) in self.values.iter_mut().zip(r.metrics) {
                if !x.is_nan() {
                    v.push(ordered(x));
                }
            }
            for (p, cut) in self.prev.iter_mut().zip(self.cuts) {
                if let Some((lo, hi)) = cut.prev {
                    *p += u32::from(r.created > lo && r.created <= hi);
                }
            }
        }
        while next < self.order.len() {
            let w = self.order[next];
            self.snap(w, last, &acc);
            (last, next) = (Some(w), next + 1);
        }
        for (w, part) in parts.iter_mut().enumerate() {
            let (acc, q) = &self.snaps[w];
            if acc.counts[0] > 0 || keep_empty {
                part.push(key, code, acc, q, self.prev[w]);
            }
        }
    }

    /// [`Walk::run`] of a group of one row (most groups of a parcel and a category or
    /// department): the row is in the cuts it was created after, its values are its own
    /// quantiles.
    fn one(&self, r: &Row, key: u32, code: u32, keep_empty: bool, parts: &mut [Part]) {
        let mut acc = Acc::default();
        acc.add(r);
        let mut q = [None; 6];
        for (m, x) in r.metrics.iter().enumerate() {
            if !x.is_nan() {
                [q[2 * m], q[2 * m + 1]] = [Some(*x); 2];
            }
        }
        for (part, cut) in parts.iter_mut().zip(self.cuts) {
            let prev = cut
                .prev
                .map_or(0, |(lo, hi)| u32::from(r.created > lo && r.created <= hi));
            if cut.after.is_none_or(|a| r.created > a) {
                part.push(key, code, &acc, &q, prev);
            } else if keep_empty {
                part.push(key, code, &Acc::default(), &[None; 6], prev);
            }
        }
    }
}

/// Runs of a feature's rows up to this long are put in order of code by a comparison sort
/// (an insertion sort, for most parcels' few reports); longer ones by a counting sort.
const SMALL_RUN: usize = 32;

/// The aggregates of `rows` (in order of creation) grouped by `g`'s feature and each of its
/// dimensions: one [`Part`] per dimension and cut.
///
/// The rows are sorted once by feature (a stable radix sort keeps each feature's run in
/// order of creation) and gathered in that order; a dimension's groups are then the runs of
/// each code within a feature's run, sorted apart (stably) in a scratch buffer.
pub(super) fn aggregate(rows: &[Row], g: &Grouping<'_>, cuts: &[Cut]) -> Vec<Vec<Part>> {
    let items: Vec<(u32, u32)> = g
        .keys
        .iter()
        .enumerate()
        .map(|(i, k)| (*k, i as u32))
        .collect();
    let items = crate::radix::sort_by_key(items, |o| u64::from(o.0));
    // The rows in feature order, gathered in one tight loop (whose reads overlap) rather than
    // read at random by the walk, where each waited on its cache miss.
    let keys: Vec<u32> = items.iter().map(|o| o.0).collect();
    let rows: Vec<Row> = items.iter().map(|o| rows[o.1 as usize]).collect();
    let codes: Vec<Option<Vec<u32>>> = g
        .dims
        .iter()
        .map(|d| d.map(|c| items.iter().map(|o| c[o.1 as usize]).collect()))
        .collect();
    drop(items);
    let features = keys.windows(2).filter(|w| w[0] != w[1]).count() + 1;
    let mut parts: Vec<Vec<Part>> = g
        .dims
        .iter()
        .map(|d| {
            let n = features
                + if d.is_none() {
                    g.complete.unwrap_or(0) as usize
                } else {
                    0
                };
            cuts.iter().map(|c| Part::with_capacity(n, c)).collect()
        })
        .collect();
    let mut walk = Walk::new(cuts);
    let zero = (Acc::default(), [None; 6]);
    // Rows of features without reports, when complete.
    let fill = |parts: &mut [Part], from: u32, to: u32| {
        for key in from..to {
            for part in parts.iter_mut() {
                part.push(key, 0, &zero.0, &zero.1, 0);
            }
        }
    };
    // The number of codes of each dimension (0 for none).
    let widths: Vec<usize> = codes
        .iter()
        .map(|c| {
            c.as_ref()
                .and_then(|c| c.iter().copied().max())
                .map_or(0, |m| m as usize + 1)
        })
        .collect();
    let mut starts: Vec<usize> = Vec::new();
    let mut scratch: Vec<(u32, Row)> = Vec::new();
    let mut sub: Vec<Row> = Vec::new();
    let mut next_feature = 1u32;
    let mut start = 0;
    while start < keys.len() {
        let key = keys[start];
        let mut end = start + 1;
        while end < keys.len() && keys[end] == key {
            end += 1;
        }
        for (d, coded) in codes.iter().enumerate() {
            let parts = &mut parts[d];
            let Some(coded) = coded else {
                if let Some(n) = g.complete.filter(|_| key > 0) {
                    fill(parts, next_feature, key.min(n + 1));
                    next_feature = key + 1;
                }
                let keep_empty = g.complete.is_some() && key > 0;
                walk.run(&rows[start..end], key, 0, keep_empty, parts);
                continue;
            };
            let codes = &coded[start..end];
            if codes.iter().all(|c| *c == codes[0]) {
                walk.run(&rows[start..end], key, codes[0], false, parts);
                continue;
            }
            if end - start > SMALL_RUN {
                // A long run (a sector's, a cell's) is put in order of code by a counting
                // sort: the codes are few (a dimension's values), and a comparison sort of
                // its rows moved each some dozen times.
                let at = &mut starts;
                at.clear();
                at.resize(widths[d] + 1, 0);
                for &c in codes {
                    at[c as usize + 1] += 1;
                }
                for k in 1..at.len() {
                    at[k] += at[k - 1];
                }
                sub.clear();
                sub.resize(end - start, rows[start]);
                for (&c, row) in codes.iter().zip(&rows[start..end]) {
                    sub[at[c as usize]] = *row;
                    at[c as usize] += 1;
                }
                // Each code's rows now end where the next code's begin.
                let mut from = 0;
                for (code, &to) in at.iter().enumerate().take(widths[d]) {
                    if to > from {
                        walk.run(&sub[from..to], key, code as u32, false, parts);
                    }
                    from = to;
                }
                continue;
            }
            scratch.clear();
            scratch.extend(codes.iter().copied().zip(rows[start..end].iter().copied()));
            scratch.sort_by_key(|o| o.0);
            let mut s = 0;
            while s < scratch.len() {
                let code = scratch[s].0;
                let mut e = s + 1;
                while e < scratch.len() && scratch[e].0 == code {
                    e += 1;
                }
                sub.clear();
                sub.extend(scratch[s..e].iter().map(|o| o.1));
                walk.run(&sub, key, code, false, parts);
                s = e;
            }
        }
        start = end;
    }
    if let Some(n) = g.complete {
        for (d, coded) in codes.iter().enumerate() {
            if coded.is_none() {
                fill(&mut parts[d], next_feature, n + 1);
            }
        }
    }
    parts
}

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
fn attention_score(w: &Weights, percentile: f64, counts: [u32; 6], trend: Option<f64>) -> f64 {
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

/// A column of names by 1-based key: row 0 is missing (no feature, no value), row `k` is the
/// name of key `k`. A frame's column is gathered from it by key, string views copied rather
/// than each string pushed again.
pub(super) fn by_key<'s>(name: &str, names: impl Iterator<Item = &'s str>) -> StringChunked {
    StringChunked::from_iter_options(name.into(), std::iter::once(None).chain(names.map(Some)))
}

/// The rows `keys` of a [`by_key`] column, with no validity mask when none is missing (it
/// would be written, a bit per row, for nothing).
pub(super) fn gather(names: &StringChunked, keys: &IdxCa) -> PolarsResult<Column> {
    let taken = names.take(keys)?;
    let taken = if taken.null_count() == 0 {
        let arrays: Vec<_> = taken
            .downcast_iter()
            .map(|a| a.clone().with_validity(None))
            .collect();
        StringChunked::from_chunk_iter(taken.name().clone(), arrays)
    } else {
        taken
    };
    Ok(taken.into_column())
}

/// What a level's table says of its features, by their 1-based key.
pub(super) struct Features {
    /// The key columns of the level ([`by_key`]; e.g. `parcel_id`; `sector_id` and `name`;
    /// `cell`).
    pub names: Vec<StringChunked>,
    /// Each feature's area in km² (NaN when unknown).
    pub area_km2: Vec<f64>,
    /// Each feature's population (sectors), when the level has one.
    pub population: Option<Vec<Option<f64>>>,
    /// The H3 resolution of a cell table.
    pub res: Option<i32>,
}

/// Where a [`Part`] sits: its window's label and its dimension's name and values.
pub(super) struct Place<'a> {
    pub window: &'a str,
    pub dimension: &'a str,
    /// Names of the dimension codes ([`by_key`]: code `c` is row `c`, code 0 missing).
    pub values: &'a StringChunked,
}

fn u32s(name: &str, v: Vec<u32>) -> Column {
    UInt32Chunked::from_vec(name.into(), v)
        .into_series()
        .into_column()
}

/// A nullable column from options, through a trusted-length collect (values and validity in
/// one pass) rather than a builder.
fn opt<T: PolarsNumericType>(name: &str, v: &[Option<T::Native>]) -> Column
where
    ChunkedArray<T>: IntoSeries,
{
    let ca: ChunkedArray<T> = v.iter().copied().collect_ca_trusted(name.into());
    ca.into_series().into_column()
}

/// `a / b` where `b > 0`, else `None`.
fn ratio(a: f64, b: Option<f64>) -> Option<f64> {
    b.filter(|b| *b > 0.0).map(|b| a / b)
}

/// `a / b` where `b > 0`, else NaN (missing).
fn nan_ratio(a: f64, b: f64) -> f64 {
    if b > 0.0 {
        a / b
    } else {
        f64::NAN
    }
}

/// A column of `values` that are missing where `valid` is false (no mask when none is): the
/// vector becomes the column's buffer.
fn masked<T: PolarsNumericType>(
    name: &str,
    values: Vec<T::Native>,
    valid: impl Fn(&T::Native) -> bool,
) -> Column
where
    ChunkedArray<T>: IntoSeries,
{
    let mask = (!values.iter().all(&valid))
        .then(|| polars_arrow::bitmap::Bitmap::from_iter(values.iter().map(valid)));
    ChunkedArray::<T>::from_vec_validity(name.into(), values, mask)
        .into_series()
        .into_column()
}

/// A float column whose NaNs are missing.
fn nan_null(name: &str, values: Vec<f64>) -> Column {
    masked::<Float64Type>(name, values, |v| !v.is_nan())
}

/// The finished table rows of a [`Part`]: keys, window, dimension, value, the aggregates with
/// their ratios, area, density (and population) and attention, in the tables' column order.
pub(super) fn frame(
    part: Part,
    f: &Features,
    at: &Place<'_>,
    min_reports: u32,
    weights: &Weights,
) -> PolarsResult<DataFrame> {
    let n = part.len();
    let feature = |k: u32| (k as usize).checked_sub(1);
    let mut cols: Vec<Column> = Vec::with_capacity(40);
    if let Some(res) = f.res {
        cols.push(Int32Chunked::full("res".into(), res, n).into_column());
    }
    let keys = IdxCa::from_slice(PlSmallStr::EMPTY, &part.key);
    for names in &f.names {
        cols.push(gather(names, &keys)?);
    }
    cols.push(StringChunked::full("window".into(), at.window, n).into_column());
    cols.push(StringChunked::full("dimension".into(), at.dimension, n).into_column());
    let codes = IdxCa::from_slice(PlSmallStr::EMPTY, &part.code);
    cols.push(gather(at.values, &codes)?);
    let [received, open, _, _, _, answered, on_time, _, _, _, overdue, _, _, _, _, reopened, with_history, recurrent] =
        &part.counts;
    let share = |a: &[u32], b: &[u32]| -> Vec<f64> {
        a.iter()
            .zip(b)
            .map(|(a, b)| nan_ratio(f64::from(*a), f64::from(*b)))
            .collect()
    };
    let compliance = share(on_time, answered);
    let reopen_rate = share(reopened, with_history);
    let trend: Vec<f64> = match &part.prev {
        Some(prev) => share(received, prev),
        None => vec![f64::NAN; n],
    };
    // NaN where the area is unknown (kept: it is not missing), 0 without a feature (masked).
    let area: Vec<f64> = part
        .key
        .iter()
        .map(|k| feature(*k).map_or(0.0, |i| f.area_km2[i]))
        .collect();
    let density: Vec<f64> = received
        .iter()
        .zip(&area)
        .map(|(r, a)| nan_ratio(f64::from(*r), *a))
        .collect();
    let eligible: Vec<bool> = received.iter().map(|r| *r >= min_reports.max(1)).collect();
    let percentile = density_percentiles(&density, &part.code, &eligible);
    let counts = AttentionCounts {
        received,
        open,
        overdue,
        answered,
        on_time,
        recurrent,
    };
    let attention: Vec<f64> = (0..n)
        .map(|i| {
            if !eligible[i] {
                return f64::NAN;
            }
            let trend = Some(trend[i]).filter(|t| !t.is_nan());
            counts.score(weights, i, percentile[i], trend)
        })
        .collect();
    let per_1000: Option<Vec<Option<f64>>> = f.population.as_ref().map(|pop| {
        part.key
            .iter()
            .zip(received)
            .map(|(k, r)| {
                ratio(f64::from(*r), feature(*k).and_then(|i| pop[i])).map(|x| x * 1000.0)
            })
            .collect()
    });
    let population: Option<Vec<Option<f64>>> = f.population.as_ref().map(|pop| {
        part.key
            .iter()
            .map(|k| feature(*k).and_then(|i| pop[i]))
            .collect()
    });
    let with_feature: Vec<bool> = part.key.iter().map(|k| *k > 0).collect();
    let Part {
        counts,
        mut oldest_open_bd,
        quantiles,
        prev,
        ..
    } = part;
    let mut quantiles = quantiles.into_iter();
    let (mut compliance, mut reopen_rate) = (Some(compliance), Some(reopen_rate));
    for (name, values) in COUNTS.iter().zip(counts) {
        cols.push(u32s(name, values));
        match *name {
            "answered_on_time" => {
                cols.push(nan_null(
                    "compliance",
                    compliance.take().unwrap_or_default(),
                ));
            }
            "overdue_over_20" => {
                let oldest = std::mem::take(&mut oldest_open_bd);
                cols.push(masked::<Int64Type>("oldest_open_bd", oldest, |v| {
                    *v != NO_OPEN
                }));
                for q in QUANTILES {
                    cols.push(nan_null(q, quantiles.next().unwrap_or_default()));
                }
            }
            "with_history" => {
                cols.push(nan_null(
                    "reopen_rate",
                    reopen_rate.take().unwrap_or_default(),
                ));
            }
            _ => {}
        }
    }
    cols.push(match prev {
        Some(prev) => u32s("prev_received", prev),
        None => UInt32Chunked::full_null("prev_received".into(), n)
            .into_series()
            .into_column(),
    });
    cols.push(nan_null("trend", trend));
    let with_area = Bitmap::from_iter(with_feature.iter().copied());
    let all_with_area = with_area.unset_bits() == 0;
    cols.push(
        Float64Chunked::from_vec_validity(
            "area_km2".into(),
            area,
            (!all_with_area).then_some(with_area),
        )
        .into_series()
        .into_column(),
    );
    cols.push(nan_null("density_km2", density));
    if let (Some(pop), Some(per)) = (population, per_1000) {
        cols.push(opt::<Float64Type>("population", &pop));
        cols.push(opt::<Float64Type>("per_1000", &per));
    }
    cols.push(nan_null("attention", attention));
    DataFrame::new(n, cols)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(created: i64, res_h: f64, flags: u16) -> Row {
        Row {
            created,
            metrics: [res_h, f64::NAN, res_h],
            age_bd: if flags & flag::OPEN != 0 {
                created
            } else {
                i64::MIN
            },
            flags,
            stage: 0,
            past_due: 0,
        }
    }

    #[test]
    fn quantiles_interpolate_like_polars() {
        // Polars: median of [1, 2, 3, 10] is 2.5; its linear p90 is 3 + 0.7 × 7 = 7.9.
        assert_eq!(quantile(&mut [10.0, 1.0, 3.0, 2.0], 0.5), Some(2.5));
        let p90 = quantile(&mut [3.0, 10.0, 2.0, 1.0], 0.9).expect("p90");
        assert!((p90 - 7.9).abs() < 1e-12);
        assert_eq!(quantile(&mut [4.0], 0.9), Some(4.0));
        assert_eq!(quantile(&mut [], 0.5), None);
        let v = [11.0, 1.0, 2.0, 3.0, 10.0];
        let polars = df!("v" => v)
            .expect("frame")
            .lazy()
            .select([
                col("v").median().alias("median"),
                col("v")
                    .quantile(lit(0.9), QuantileMethod::Linear)
                    .alias("p90"),
            ])
            .collect()
            .expect("quantiles");
        let get = |c: &str| polars.column(c).expect(c).f64().expect("f64").get(0);
        assert_eq!(get("median"), quantile(&mut v.clone(), 0.5));
        assert_eq!(get("p90"), quantile(&mut v.clone(), 0.9));
    }

    #[test]
    fn windows_are_tails_of_each_group_and_features_are_completed() {
        // Feature 1 has reports at 10, 20 (open), 30 and 60; feature 3 one at 50; one report
        // (at 40) has no feature. Three features: feature 2 gets zero rows.
        let rows = [
            row(10, 1.0, 0),
            row(20, f64::NAN, flag::OPEN),
            row(30, 3.0, 0),
            row(40, 7.0, 0),
            row(50, f64::NAN, flag::OPEN),
            row(60, 2.0, flag::RECURRENT),
        ];
        let keys = [1, 1, 1, 0, 3, 1];
        // Window: after 25 (the window before: (0, 25]), and all.
        let cuts = [
            Cut {
                after: Some(25),
                prev: Some((0, 25)),
            },
            Cut {
                after: None,
                prev: None,
            },
        ];
        // By feature alone (completed) and by feature and a dimension.
        let codes = [1, 2, 1, 1, 0, 1];
        let g = Grouping {
            keys: &keys,
            dims: &[None, Some(&codes)],
            complete: Some(3),
        };
        let by_dim = aggregate(&rows, &g, &cuts);
        let parts = &by_dim[0];
        let recent = &parts[0];
        assert_eq!(recent.key, [0, 1, 2, 3]);
        assert_eq!(recent.counts[0], [1, 2, 0, 1]);
        assert_eq!(recent.counts[17], [0, 1, 0, 0]);
        // Feature 1 after 25: 3 and 2 → median 2.5; the window before held 10 and 20.
        assert_eq!(recent.quantiles[0][1], 2.5);
        assert_eq!(recent.prev, Some(vec![0, 2, 0, 0]));
        let all = &parts[1];
        assert_eq!(all.counts[0], [1, 4, 0, 1]);
        assert_eq!(all.counts[1], [0, 1, 0, 1]);
        assert_eq!(all.oldest_open_bd, [NO_OPEN, 20, NO_OPEN, 50]);
        assert_eq!(all.quantiles[0][1], 2.0);
        assert!(all.quantiles[0][3].is_nan());
        assert_eq!(all.prev, None);
        // By dimension, never completed: only the groups with reports in the window, one per
        // feature and code.
        let parts = &by_dim[1];
        assert_eq!(
            (parts[0].key.clone(), parts[0].code.clone()),
            (vec![0, 1, 3], vec![1, 1, 0])
        );
        assert_eq!(parts[1].key, [0, 1, 1, 3]);
        assert_eq!(parts[1].code, [1, 1, 2, 0]);
        assert_eq!(parts[1].counts[0], [1, 3, 1, 1]);
    }

    #[test]
    fn successive_quantiles_equal_each_alone() {
        let v = [
            5.0, 1.0, 9.0, 3.0, 3.0, 8.0, 2.0, 7.0, 4.0, 6.0, 0.5, -2.5, 0.0, -0.0, 1e300,
        ];
        for x in v {
            assert_eq!(from_ordered(ordered(x)).to_bits(), x.to_bits());
            for y in v {
                assert_eq!(ordered(x).cmp(&ordered(y)), x.total_cmp(&y), "{x} {y}");
            }
        }
        // Short runs (sorted) and long ones (selected), every length up to three times the
        // sort's limit, repeated values included.
        let long: Vec<f64> = (0..3 * SORT_BELOW)
            .map(|i| v[(i * 7) % v.len()] + (i / v.len()) as f64 * 0.25)
            .collect();
        for values in [&v[..], &long[..]] {
            for n in 0..=values.len() {
                let mut keys: Vec<u64> = values[..n].iter().map(|x| ordered(*x)).collect();
                let both = quantiles(&mut keys, [0.5, 0.9]);
                let alone = [0.5, 0.9].map(|q| quantile(&mut values[..n].to_vec(), q));
                assert_eq!(both, alone, "{n} values");
            }
        }
    }

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
