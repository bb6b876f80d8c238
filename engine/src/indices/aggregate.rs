//! The aggregates of every level, window and dimension in one sorted pass per level and
//! dimension.
//!
//! The first formulation of the indices was a Polars lazy query per level, window and
//! dimension (45 group-bys, each joined to the counts of the window before); it is kept as the
//! tests' oracle (`reference.rs`). Here the reports, in order of creation, are sorted once per
//! level by their feature (a stable radix sort, so each feature's run stays in order of
//! creation, [`Sorted`]), each dimension's groups are then put in order within the feature's
//! run, and each group's run is walked once from its newest report back: the windows are
//! nested, so each is a snapshot of the running counts taken where the walk passes its start,
//! and the reports of the window before are counted on the way. Medians and 90th percentiles
//! are order statistics of the values gathered so far (a selection, not a sort).

use super::quantiles::*;
pub(super) use super::sorted::Sorted;

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
pub(super) use super::schema::COUNTS;

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

/// A window as the pass cuts it.
#[derive(Debug, Clone, Copy)]
pub(super) struct Cut {
    /// Reports created after this time (milliseconds) are in it; `None`: all.
    pub after: Option<i64>,
    /// The window of the same length before: created in `(lo, hi]`.
    pub prev: Option<(i64, i64)>,
}

impl Cut {
    /// The cuts of `windows` up to `as_of`, their days local days of `zone`.
    pub fn of_windows(
        windows: &[super::Window],
        as_of: chrono::DateTime<chrono::Utc>,
        zone: chrono_tz::Tz,
    ) -> Vec<Cut> {
        windows
            .iter()
            .map(|w| Cut::new(w.days, as_of, zone))
            .collect()
    }

    /// The cut of a window of `days` local days in `zone` (all when `None`) up to `as_of`.
    pub fn new(
        days: Option<u32>,
        as_of: chrono::DateTime<chrono::Utc>,
        zone: chrono_tz::Tz,
    ) -> Cut {
        match days {
            Some(d) => {
                let start = super::days_before(as_of, d, zone).timestamp_millis();
                let before = super::days_before(as_of, 2 * d, zone).timestamp_millis();
                Cut {
                    after: Some(start),
                    prev: Some((before, start)),
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
pub(super) use super::schema::QUANTILES;

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
#[cfg(test)]
pub(super) struct Grouping<'a> {
    /// Each row's feature (1-based; 0: none).
    pub keys: &'a [u32],
    /// The dimensions: `None` for `all`, else each row's 1-based code (0: none).
    pub dims: &'a [Option<&'a [u32]>],
    /// Give every feature `1..=n` a row in every window of `all`, zeros included (parcels and
    /// sectors).
    pub complete: Option<u32>,
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
#[cfg(test)]
pub(super) fn aggregate(rows: &[Row], g: &Grouping<'_>, cuts: &[Cut]) -> Vec<Vec<Part>> {
    let sorted = Sorted::new(rows, g.keys, g.dims);
    let dims: Vec<usize> = (0..g.dims.len()).collect();
    aggregate_sorted(&sorted, &dims, g.complete, cuts)
}

/// The aggregates of the rows `sorted` by feature, grouped by feature and each of its
/// dimensions `dims`: one [`Part`] per dimension and cut. Every feature `1..=n` gets a row in
/// every window of `all` when `complete` is `Some(n)`, zeros included (parcels and sectors).
///
/// A dimension's groups are the runs of each code within a feature's run, sorted apart
/// (stably) in a scratch buffer.
pub(super) fn aggregate_sorted(
    sorted: &Sorted,
    dims: &[usize],
    complete: Option<u32>,
    cuts: &[Cut],
) -> Vec<Vec<Part>> {
    let Sorted {
        keys,
        rows,
        features,
        ..
    } = sorted;
    let codes: Vec<Option<&[u32]>> = dims.iter().map(|d| sorted.codes[*d].as_deref()).collect();
    let widths: Vec<usize> = dims.iter().map(|d| sorted.widths[*d]).collect();
    // Room for every row a part can get, so that none is moved to a larger buffer as it
    // grows: a feature's row per window (and one per feature without reports, when complete);
    // a dimension's groups, at most one per report of the window. What a buffer does not fill
    // is never touched, so it costs no memory.
    let in_cut: Vec<usize> = cuts
        .iter()
        .map(|c| match c.after {
            Some(a) => rows.iter().filter(|r| r.created > a).count(),
            None => rows.len(),
        })
        .collect();
    let mut parts: Vec<Vec<Part>> = codes
        .iter()
        .map(|d| {
            cuts.iter()
                .zip(&in_cut)
                .map(|(c, in_cut)| {
                    let n = match d {
                        None => *features + complete.unwrap_or(0) as usize,
                        Some(_) => *in_cut,
                    };
                    Part::with_capacity(n, c)
                })
                .collect()
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
                if let Some(n) = complete.filter(|_| key > 0) {
                    fill(parts, next_feature, key.min(n + 1));
                    next_feature = key + 1;
                }
                let keep_empty = complete.is_some() && key > 0;
                walk.run(&rows[start..end], key, 0, keep_empty, parts);
                continue;
            };
            let codes = &coded[start..end];
            if codes.iter().all(|c| *c == codes[0]) {
                walk.run(&rows[start..end], key, codes[0], false, parts);
                continue;
            }
            if end - start > SMALL_RUN {
                let run = (&rows[start..end], codes);
                walk_counting_sorted(
                    &mut walk,
                    run,
                    key,
                    widths[d],
                    (&mut starts, &mut sub),
                    parts,
                );
            } else {
                walk_sorted(
                    &mut walk,
                    &rows[start..end],
                    codes,
                    key,
                    (&mut scratch, &mut sub),
                    parts,
                );
            }
        }
        start = end;
    }
    if let Some(n) = complete {
        for (d, coded) in codes.iter().enumerate() {
            if coded.is_none() {
                fill(&mut parts[d], next_feature, n + 1);
            }
        }
    }
    parts
}

/// Walks a long run of one feature's rows (a sector's, a cell's) code by code, put in order of
/// code by a counting sort: the codes are few (a dimension's values), and a comparison sort of
/// its rows moved each some dozen times. `starts` and `sub` are reused buffers.
fn walk_counting_sorted(
    walk: &mut Walk<'_>,
    (rows, codes): (&[Row], &[u32]),
    key: u32,
    width: usize,
    (starts, sub): (&mut Vec<usize>, &mut Vec<Row>),
    parts: &mut [Part],
) {
    let at = starts;
    at.clear();
    at.resize(width + 1, 0);
    for &c in codes {
        at[c as usize + 1] += 1;
    }
    for k in 1..at.len() {
        at[k] += at[k - 1];
    }
    sub.clear();
    sub.resize(rows.len(), rows[0]);
    for (&c, row) in codes.iter().zip(rows) {
        sub[at[c as usize]] = *row;
        at[c as usize] += 1;
    }
    // Each code's rows now end where the next code's begin.
    let mut from = 0;
    for (code, &to) in at.iter().enumerate().take(width) {
        if to > from {
            walk.run(&sub[from..to], key, code as u32, false, parts);
        }
        from = to;
    }
}

/// Walks a short run of one feature's rows code by code, sorted by code. `scratch` and `sub`
/// are reused buffers.
fn walk_sorted(
    walk: &mut Walk<'_>,
    rows: &[Row],
    codes: &[u32],
    key: u32,
    (scratch, sub): (&mut Vec<(u32, Row)>, &mut Vec<Row>),
    parts: &mut [Part],
) {
    scratch.clear();
    scratch.extend(codes.iter().copied().zip(rows.iter().copied()));
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
        walk.run(sub, key, code, false, parts);
        s = e;
    }
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
}
