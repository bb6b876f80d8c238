//! A batch of reports located in grid-cell order, with the counts by match kind.

use serde::{Deserialize, Serialize};

use crate::model::CellId;
use crate::report::MatchKind;

use super::cells::CellCache;
use super::{Geocoder, Placed};

/// Counts of a geocoding run by match kind.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MatchCounts {
    /// Points inside a parcel.
    pub inside: usize,
    /// Points matched to the nearest parcel within the tolerance.
    pub nearest: usize,
    /// Located points with no parcel within the tolerance.
    pub none: usize,
    /// Reports without a usable location (missing or a default point) and not placed by
    /// reference or address.
    pub unlocated: usize,
    /// Reports without a point placed by their parcel reference.
    #[serde(default)]
    pub parcel_ref: usize,
    /// … by their address (equal, or inside a range).
    #[serde(default)]
    pub address: usize,
    /// … by the nearest number on the same street and side.
    #[serde(default)]
    pub address_near: usize,
    /// … by a street name within the edit distance allowed.
    #[serde(default)]
    pub address_fuzzy: usize,
    /// Located reports that fell in a sector (through their parcel, or directly).
    #[serde(default)]
    pub in_sector: usize,
}

impl MatchCounts {
    /// Counts one report matched as `kind` (an unmatched one with a point counts as `none`).
    pub fn count(&mut self, kind: MatchKind) {
        *match kind {
            MatchKind::Inside => &mut self.inside,
            MatchKind::Nearest => &mut self.nearest,
            MatchKind::ParcelRef => &mut self.parcel_ref,
            MatchKind::Address => &mut self.address,
            MatchKind::AddressNear => &mut self.address_near,
            MatchKind::AddressFuzzy => &mut self.address_fuzzy,
            MatchKind::None => &mut self.none,
        } += 1;
    }
}

impl std::ops::Add for MatchCounts {
    type Output = MatchCounts;

    fn add(self, b: MatchCounts) -> MatchCounts {
        MatchCounts {
            inside: self.inside + b.inside,
            nearest: self.nearest + b.nearest,
            none: self.none + b.none,
            unlocated: self.unlocated + b.unlocated,
            parcel_ref: self.parcel_ref + b.parcel_ref,
            address: self.address + b.address,
            address_near: self.address_near + b.address_near,
            address_fuzzy: self.address_fuzzy + b.address_fuzzy,
            in_sector: self.in_sector + b.in_sector,
        }
    }
}

/// Geocodes every located report in place (in parallel): parcel, sector, match kind, distance
/// and the H3 cell at `h3_resolution`. Unlocated reports get no parcel and match `none`.
pub fn geocode_reports(
    reports: &mut [crate::report::Report],
    geocoder: &Geocoder<'_>,
    h3_resolution: h3o::Resolution,
) -> MatchCounts {
    use crate::report::Location;
    use rayon::prelude::*;
    // Located in grid-cell order, so that neighbouring points reuse the parcels already in
    // cache (and the H3 cell of the point before); then written back in place.
    let started = std::time::Instant::now();
    let phase = |what: &str| {
        tracing::debug!(seconds = started.elapsed().as_secs_f64(), "geocode: {what}");
    };
    // With their coordinates, read once in report order: a random read of a report's point
    // in cell order would miss the cache nearly every time.
    let point = |r: &crate::report::Report| match (r.lon, r.lat, r.location) {
        (Some(lon), Some(lat), Location::Located) => Some([lon, lat]),
        _ => None,
    };
    let order: Vec<(u32, u32, [f64; 2])> = reports
        .iter()
        .enumerate()
        .filter_map(|(i, r)| {
            point(r).map(|[lon, lat]| (geocoder.grid.cell_key(lon, lat), i as u32, [lon, lat]))
        })
        .collect();
    let order = crate::radix::sort_by_key(order, |o| u64::from(o.0));
    phase("points in cell order");
    let found: Vec<Placed<'_>> = order
        .par_iter()
        .with_min_len(4096)
        .map_init(
            || (CellCache::new(h3_resolution), Vec::new()),
            |(cells, scratch), &(_, _, [lon, lat])| Placed {
                h3: cells.cell(lon, lat).unwrap_or(0),
                ..geocoder.place(lon, lat, scratch)
            },
        )
        .collect();
    phase("located");
    // Written back in blocks of reports: the results are first moved, in one pass, into the
    // block of their report, so that each block then writes to reports that lie together in
    // memory instead of one report anywhere per result.
    const BLOCK: usize = 4096;
    let blocks = reports.len().div_ceil(BLOCK);
    let mut block_start = vec![0usize; blocks + 1];
    for &(_, i, _) in &order {
        block_start[i as usize / BLOCK + 1] += 1;
    }
    for b in 0..blocks {
        block_start[b + 1] += block_start[b];
    }
    let mut next = block_start.clone();
    let mut by_block: Vec<(u32, Placed<'_>)> = vec![(0, Placed::NONE); order.len()];
    for (&(_, i, _), p) in order.iter().zip(&found) {
        let slot = &mut next[i as usize / BLOCK];
        by_block[*slot] = (i, *p);
        *slot += 1;
    }
    drop(found);
    phase("results by block");
    let parcels = &geocoder.parcels.parcels;
    let counts = reports
        .par_chunks_mut(BLOCK)
        .enumerate()
        .map(|(b, chunk)| {
            // Each report written once: the unlocated here, the located from their results.
            let mut c = MatchCounts::default();
            for r in chunk.iter_mut().filter(|r| point(r).is_none()) {
                if r.location == Location::Derived && r.address.is_none() && r.parcel_ref.is_none()
                {
                    // placed by its reference or address at an import: kept
                    c.count(r.match_kind);
                    c.in_sector += usize::from(r.sector_id.is_some());
                    continue;
                }
                r.parcel_id = None;
                r.sector_id = None;
                r.match_kind = MatchKind::None;
                r.match_score = None;
                r.distance_m = None;
                r.h3 = None;
                c.unlocated += 1;
            }
            for (i, p) in &by_block[block_start[b]..block_start[b + 1]] {
                let r = &mut chunk[*i as usize % BLOCK];
                r.parcel_id = p.parcel().map(|i| parcels[i].id.clone());
                r.sector_id = p.sector.cloned();
                r.match_kind = p.kind;
                r.distance_m = p.distance_m();
                r.match_score = None;
                r.h3 = CellId::from_index(p.h3);
                c.count(p.kind);
                c.in_sector += usize::from(p.sector.is_some());
            }
            c
        })
        .reduce(MatchCounts::default, |a, b| a + b);
    phase("written back");
    counts
}
