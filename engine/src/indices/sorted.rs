//! The rows of one level sorted by feature, once for all the tasks that walk them.

use super::aggregate::Row;

/// The rows of one level in order of feature (each feature's run in order of creation), with
/// each dimension's codes in the same order: sorted once, then walked by as many tasks as the
/// level's dimensions are split into (`aggregate::aggregate_sorted`).
pub(super) struct Sorted {
    /// Each row's feature, ascending.
    pub keys: Vec<u32>,
    pub rows: Vec<Row>,
    /// Per dimension, its codes (`None` for `all`).
    pub codes: Vec<Option<Vec<u32>>>,
    /// Per dimension, its number of codes (0 for `all`).
    pub widths: Vec<usize>,
    /// The number of distinct features (the empty key included).
    pub features: usize,
}

impl Sorted {
    /// `rows` (in order of creation) sorted by `keys` (a stable radix sort keeps each
    /// feature's run in order of creation) and gathered in that order, with the codes of each
    /// of `dims`.
    pub fn new(rows: &[Row], keys: &[u32], dims: &[Option<&[u32]>]) -> Sorted {
        let items: Vec<(u32, u32)> = keys
            .iter()
            .enumerate()
            .map(|(i, k)| (*k, i as u32))
            .collect();
        let items = crate::radix::sort_by_key(items, |o| u64::from(o.0));
        // The rows in feature order, gathered in one tight loop (whose reads overlap) rather
        // than read at random by the walk, where each waited on its cache miss.
        let keys: Vec<u32> = items.iter().map(|o| o.0).collect();
        let rows: Vec<Row> = items.iter().map(|o| rows[o.1 as usize]).collect();
        let codes: Vec<Option<Vec<u32>>> = dims
            .iter()
            .map(|d| d.map(|c| items.iter().map(|o| c[o.1 as usize]).collect()))
            .collect();
        let widths = codes
            .iter()
            .map(|c| {
                c.as_ref()
                    .and_then(|c| c.iter().copied().max())
                    .map_or(0, |m| m as usize + 1)
            })
            .collect();
        let features = keys.windows(2).filter(|w| w[0] != w[1]).count() + 1;
        Sorted {
            keys,
            rows,
            codes,
            widths,
            features,
        }
    }
}
