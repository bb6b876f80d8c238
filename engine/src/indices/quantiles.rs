//! Medians and 90th percentiles as order statistics of values kept as ordered integer keys:
//! a selection, or an insertion sort below a few values.

/// The quantile `q` of `values` (linear interpolation between the closest ranks, as Polars'
/// `QuantileMethod::Linear` and `median`), found by selection; `values` is reordered.
#[cfg(test)]
pub(super) fn quantile(values: &mut [f64], q: f64) -> Option<f64> {
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
pub(super) fn ordered(v: f64) -> u64 {
    let b = v.to_bits();
    if b >> 63 == 1 {
        !b
    } else {
        b | 1 << 63
    }
}

/// The inverse of [`ordered`].
pub(super) fn from_ordered(k: u64) -> f64 {
    f64::from_bits(if k >> 63 == 1 { k & !(1 << 63) } else { !k })
}

/// Below this many values, [`quantiles`] sorts them (most parcels' groups hold one to three
/// reports, where a selection costs more than an insertion sort).
pub(super) const SORT_BELOW: usize = 16;

/// The quantiles `q` of `values` ([`ordered`] keys; linear interpolation between the closest
/// ranks, as Polars' `QuantileMethod::Linear` and `median`), `q` ascending, found by
/// selection; `values` is reordered. Each quantile is selected among the values above the one
/// before.
pub(super) fn quantiles<const N: usize>(values: &mut [u64], q: [f64; N]) -> [Option<f64>; N] {
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

pub(super) fn insertion_sort(v: &mut [u64]) {
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

#[cfg(test)]
mod tests {
    use super::*;
    use polars::prelude::{col, df, lit, IntoLazy, QuantileMethod};

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
}
