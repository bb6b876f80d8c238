//! Medians and 90th percentiles per group in one sorted pass.
//!
//! Polars computes a per-group quantile by gathering and sorting each group's values apart:
//! with half a million parcels, six quantiles, three dimensions and three windows, that was
//! about 60 % of the aggregation (session 6: a window's group-by fell from 5.4 s to 2.0 s
//! without them). Here the rows are sorted once per level and dimension by their group, and
//! every window and metric of a group is read from that run of rows. The result is a table
//! keyed like the Polars group-by it is joined to.

use polars::prelude::*;

/// The metrics whose median and 90th percentile are computed, with their output columns.
pub const METRICS: [(&str, &str, &str); 3] = [
    ("res_h", "resolution_median_h", "resolution_p90_h"),
    ("res_bd", "resolution_median_bd", "resolution_p90_bd"),
    ("ack_h", "ack_median_h", "ack_p90_h"),
];

/// The quantile `q` (linear interpolation between the closest ranks, as Polars'
/// `QuantileMethod::Linear` and `median`) of sorted values.
fn quantile(sorted: &[f64], q: f64) -> f64 {
    let idx = q * (sorted.len() - 1) as f64;
    let (lo, hi) = (idx.floor() as usize, idx.ceil() as usize);
    if lo == hi {
        return sorted[lo];
    }
    let (a, b) = (sorted[lo], sorted[hi]);
    a + (b - a) * (idx - lo as f64)
}

/// A group's key, dimension code, and its six quantiles (median and p90 of each metric).
pub type GroupQuantiles = (Option<u64>, Option<u32>, [Option<f64>; 6]);

/// What a row brings to the quantiles: its creation time (milliseconds) and its three metrics
/// (NaN where it has none).
pub type RowValues = (i64, [f64; 3]);

/// The rows of one level and dimension, ready to be cut by window: their values copied in
/// group order (one read per row here, then only sequential reads).
pub struct Grouped {
    /// Row values in group order, each group's in order of creation.
    values: Vec<RowValues>,
    /// `(key, dimension code, start)` of each group's run in `values`.
    runs: Vec<(Option<u64>, Option<u32>, usize)>,
}

impl Grouped {
    /// Groups rows by `key` (and `dim`, when given; `None` values form their own group). The
    /// rows come in order of creation, which each group keeps (ties broken by row): a window
    /// is then the tail of each group's run.
    pub fn new(rows: &[RowValues], key: &[Option<u64>], dim: Option<&[Option<u32>]>) -> Self {
        let code = |i: usize| dim.and_then(|d| d[i]);
        let mut order: Vec<(u64, u32, u32)> = (0..key.len())
            .map(|i| {
                (
                    key[i].map_or(0, |k| k + 1),
                    code(i).map_or(0, |c| c + 1),
                    i as u32,
                )
            })
            .collect();
        order.sort_unstable();
        let mut runs = Vec::new();
        for (at, &(k, d, _)) in order.iter().enumerate() {
            if at == 0 || (order[at - 1].0, order[at - 1].1) != (k, d) {
                runs.push((k.checked_sub(1), d.checked_sub(1), at));
            }
        }
        let values: Vec<RowValues> = order.iter().map(|o| rows[o.2 as usize]).collect();
        debug_assert!(runs.iter().enumerate().all(|(g, r)| {
            let end = runs.get(g + 1).map_or(values.len(), |n| n.2);
            values[r.2..end].is_sorted_by_key(|v| v.0)
        }));
        Self { values, runs }
    }

    /// The medians and 90th percentiles of each metric per group, over the rows created after
    /// `after` (milliseconds; all rows when `None`): one entry per group with a row there.
    pub fn quantiles(&self, after: Option<i64>) -> Vec<GroupQuantiles> {
        let mut out = Vec::new();
        let mut buf: Vec<f64> = Vec::new();
        for (g, &(key, code, start)) in self.runs.iter().enumerate() {
            let end = self.runs.get(g + 1).map_or(self.values.len(), |r| r.2);
            let run = &self.values[start..end];
            let tail = &run[after.map_or(0, |a| run.partition_point(|v| v.0 <= a))..];
            if tail.is_empty() {
                continue;
            }
            let mut q = [None; 6];
            for m in 0..3 {
                buf.clear();
                buf.extend(tail.iter().map(|v| v.1[m]).filter(|v| !v.is_nan()));
                if buf.is_empty() {
                    continue;
                }
                buf.sort_unstable_by(f64::total_cmp);
                q[2 * m] = Some(quantile(&buf, 0.5));
                q[2 * m + 1] = Some(quantile(&buf, 0.9));
            }
            out.push((key, code, q));
        }
        out
    }
}

/// A table of [`Grouped::quantiles`]: the key column `key` (u32 for parcels and sectors, u64
/// for cells), `value` (the dimension's value) when `values` is given, and the six quantiles.
pub fn frame(
    rows: Vec<GroupQuantiles>,
    key: &str,
    wide_key: bool,
    values: Option<&[String]>,
) -> PolarsResult<DataFrame> {
    let n = rows.len();
    let mut columns = Vec::with_capacity(8);
    columns.push(if wide_key {
        Series::new(key.into(), rows.iter().map(|r| r.0).collect::<Vec<_>>()).into_column()
    } else {
        Series::new(
            key.into(),
            rows.iter()
                .map(|r| r.0.map(|k| k as u32))
                .collect::<Vec<_>>(),
        )
        .into_column()
    });
    if let Some(values) = values {
        columns.push(
            Series::new(
                "value".into(),
                rows.iter()
                    .map(|r| r.1.map(|c| values[c as usize].as_str()))
                    .collect::<Vec<_>>(),
            )
            .into_column(),
        );
    }
    for (m, (_, median, p90)) in METRICS.iter().enumerate() {
        for (j, name) in [median, p90].into_iter().enumerate() {
            columns.push(
                Series::new(
                    (*name).into(),
                    rows.iter().map(|r| r.2[2 * m + j]).collect::<Vec<_>>(),
                )
                .into_column(),
            );
        }
    }
    DataFrame::new(n, columns)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_interpolate_like_polars() {
        // Polars: median of [1, 2, 3, 10] is 2.5; its linear p90 is 3 + 0.7 × 7 = 7.9.
        assert_eq!(quantile(&[1.0, 2.0, 3.0, 10.0], 0.5), 2.5);
        assert!((quantile(&[1.0, 2.0, 3.0, 10.0], 0.9) - 7.9).abs() < 1e-12);
        assert_eq!(quantile(&[4.0], 0.9), 4.0);
        let df = df!("v" => [1.0, 2.0, 3.0, 10.0, 11.0]).expect("frame");
        let polars = df
            .lazy()
            .select([col("v")
                .quantile(lit(0.9), QuantileMethod::Linear)
                .alias("p90")])
            .collect()
            .expect("p90");
        let p90 = polars
            .column("p90")
            .expect("p90")
            .f64()
            .expect("f64")
            .get(0);
        assert_eq!(p90, Some(quantile(&[1.0, 2.0, 3.0, 10.0, 11.0], 0.9)));
    }

    #[test]
    fn groups_by_key_and_dimension_and_cut_by_window() {
        // Rows: key, dimension, created, value.
        let key = [Some(1), Some(1), Some(1), None, Some(2), Some(1)];
        let dim = [Some(0), Some(1), Some(0), Some(0), None, Some(0)];
        let created = [10, 20, 30, 40, 50, 60];
        let v = [1.0, 5.0, 3.0, 7.0, f64::NAN, 2.0];
        let rows: Vec<RowValues> = (0..6)
            .map(|i| (created[i], [v[i], f64::NAN, v[i]]))
            .collect();
        let all = Grouped::new(&rows, &key, None);
        let mut q = all.quantiles(None);
        q.sort_by_key(|r| r.0);
        // No key (null), 1 (values 1 5 3 2 → median 2.5) and 2 (only a null value).
        assert_eq!(q.len(), 3);
        assert_eq!((q[0].0, q[0].2[0]), (None, Some(7.0)));
        assert_eq!((q[1].0, q[1].2[0], q[1].2[2]), (Some(1), Some(2.5), None));
        assert_eq!(q[1].2[4], Some(2.5));
        assert_eq!((q[2].0, q[2].2[0]), (Some(2), None));
        // Created after 25: key 1 has 3 and 2.
        let recent = all.quantiles(Some(25));
        let one = recent.iter().find(|r| r.0 == Some(1)).expect("key 1");
        assert_eq!(one.2[0], Some(2.5));
        // By dimension: key 1 with code 0 has 1, 3 and 2; with code 1, 5.
        let by = Grouped::new(&rows, &key, Some(&dim)).quantiles(None);
        let find = |k, d| by.iter().find(|r| r.0 == k && r.1 == d).map(|r| r.2[0]);
        assert_eq!(find(Some(1), Some(0)), Some(Some(2.0)));
        assert_eq!(find(Some(1), Some(1)), Some(Some(5.0)));
        assert_eq!(find(Some(2), None), Some(None));
        let f = frame(by, "pidx", false, Some(&["a".into(), "b".into()])).expect("frame");
        assert_eq!(f.height(), 4);
        assert_eq!(f.column("pidx").expect("key").dtype(), &DataType::UInt32);
    }
}
