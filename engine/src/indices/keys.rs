//! The keys of the reports an index groups them by: each one's parcel, sector, category,
//! department and cells, and the order of their creation.

use polars::prelude::PlHashMap;
use rayon::prelude::*;

use crate::report::columns::{ReportColumns, Text};

use super::cells::coded_cells;
use super::facts::Coded;

/// What the indices group reports by, one value per report, as 1-based codes (0: none).
pub(super) struct Keys {
    /// Each report's parcel: its position in the parcel ids given, plus one.
    pub parcel: Vec<u32>,
    /// Each report's sector: its position in the sector ids given, plus one.
    pub sector: Vec<u32>,
    /// Each report's category code, and the categories.
    pub category: Coded,
    /// Each report's department code, and the departments.
    pub department: Coded,
    /// Per H3 resolution: each report's cell code, and the cells (ascending).
    pub cells: Vec<(Vec<u32>, Vec<u64>)>,
}

impl Keys {
    /// The keys of the reports at `order` (positions), in that order.
    pub(super) fn permuted(self, order: &[usize]) -> Keys {
        let permute = |v: &[u32]| -> Vec<u32> { order.par_iter().map(|&i| v[i]).collect() };
        Keys {
            parcel: permute(&self.parcel),
            sector: permute(&self.sector),
            category: (permute(&self.category.0), self.category.1),
            department: (permute(&self.department.0), self.department.1),
            cells: self
                .cells
                .into_iter()
                .map(|(c, d)| (permute(&c), d))
                .collect(),
        }
    }
}

/// [`Keys`] of the reports `used`, created at `created`, in their order, and the order of their
/// creation (positions in `used`; ties in the reports' order). Everything is read in the
/// reports' order (a random read of a report costs a cache miss), to be put in order of
/// creation.
pub(super) fn keys_of(
    reports: &ReportColumns,
    used: &[u32],
    created: &[i64],
    h3_res: &[h3o::Resolution],
    parcel_ids: &[&str],
    sector_ids: &[&str],
) -> (Vec<usize>, Keys) {
    let rows = || used.iter().map(|&i| i as usize);
    let ((order, (parcel, sector)), ((category, department), cells)) = rayon::join(
        || {
            rayon::join(
                || creation_order(created),
                || {
                    rayon::join(
                        || position(used, parcel_ids, |i| reports.parcel_id(i)),
                        || position(used, sector_ids, |i| reports.sector_id(i)),
                    )
                },
            )
        },
        || {
            rayon::join(
                || {
                    rayon::join(
                        || reports.codes(Text::Category, rows()),
                        || reports.codes(Text::Department, rows()),
                    )
                },
                || {
                    h3_res
                        .par_iter()
                        .map(|res| coded_cells(reports, used, *res))
                        .collect::<Vec<_>>()
                },
            )
        },
    );
    let keys = Keys {
        parcel,
        sector,
        category,
        department,
        cells,
    };
    (order, keys)
}

/// Each of the reports `used`: the position of its `key` in `ids`, plus one (0: none).
fn position<'a>(
    used: &[u32],
    ids: &[&str],
    key: impl Fn(usize) -> Option<&'a str> + Sync,
) -> Vec<u32> {
    let lookup: PlHashMap<&str, u32> = ids
        .iter()
        .enumerate()
        .map(|(i, id)| (*id, i as u32 + 1))
        .collect();
    used.par_iter()
        .map(|&i| {
            key(i as usize)
                .and_then(|k| lookup.get(k).copied())
                .unwrap_or(0)
        })
        .collect()
}

/// The rows in order of creation: a stable radix sort, so that ties keep the reports' order.
fn creation_order(created: &[i64]) -> Vec<usize> {
    let first = created.iter().copied().min().unwrap_or(0);
    let order: Vec<(u64, u32)> = created
        .iter()
        .enumerate()
        .map(|(i, c)| ((c - first) as u64, i as u32))
        .collect();
    crate::radix::sort_by_key(order, |o| o.0)
        .into_iter()
        .map(|o| o.1 as usize)
        .collect()
}
