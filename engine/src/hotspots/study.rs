//! Gi* over a fixed study area: every H3 cell of the area counts, those without reports as 0,
//! so the area does not shrink and grow with the data (counting only the cells that have
//! reports makes, in a sparse window, a cell of one or two reports with one neighbour "hot" at
//! z = 3.3). Significance from the permutation p-values ([`super::permutations`]) where asked,
//! else the normal ones, with the Benjamini–Hochberg FDR; a cell whose own and neighbours'
//! reports number fewer than a minimum is never called hot.

use std::collections::{BTreeSet, HashMap};

use h3o::CellIndex;

use super::{fdr_q_values, gi_star, neighbours_within, HotSpot, SpotClass};
use crate::model::{ParcelLayer, SectorLayer};

/// The options of [`study_area_hot_spots`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StudyOptions {
    /// Neighbours within this many `grid_disk` steps.
    pub ring: u32,
    /// The false discovery rate.
    pub alpha: f64,
    /// Draws for the pseudo p-values (0: the normal p-values decide).
    pub permutations: u32,
    /// The draws' seed.
    pub seed: u64,
    /// A cell is called hot only when it and its neighbours hold at least this much.
    pub min_count: f64,
}

impl Default for StudyOptions {
    fn default() -> Self {
        Self {
            ring: 1,
            alpha: 0.05,
            permutations: 999,
            seed: 42,
            min_count: 5.0,
        }
    }
}

/// The study area at `res`: the cells whose centre lies in a sector; without sectors, in the
/// convex hull of the parcels' vertices; without a cadastre, in the convex hull of the centres
/// of `cells` (the cells with reports: their extent).
pub fn study_area(
    sectors: Option<&SectorLayer>,
    parcels: Option<&ParcelLayer>,
    cells: &[CellIndex],
    res: h3o::Resolution,
) -> Vec<CellIndex> {
    use geo::ConvexHull as _;
    use h3o::geom::{ContainmentMode, TilerBuilder};
    let mut tiler = TilerBuilder::new(res)
        .containment_mode(ContainmentMode::ContainsCentroid)
        .build();
    let polygons: Vec<geo::Polygon<f64>> = match (sectors, parcels) {
        (Some(s), _) if !s.sectors.is_empty() => s
            .sectors
            .iter()
            .flat_map(|s| s.geometry.0.iter().cloned())
            .collect(),
        (_, Some(p)) if !p.parcels.is_empty() => {
            let points: geo::MultiPoint<f64> = p
                .parcels
                .iter()
                .flat_map(|p| {
                    p.geometry
                        .iter()
                        .flat_map(|g| g.exterior().0.iter().copied())
                })
                .map(geo::Point::from)
                .collect();
            vec![points.convex_hull()]
        }
        _ => {
            let points: geo::MultiPoint<f64> = cells
                .iter()
                .filter(|c| c.resolution() == res)
                .map(|c| {
                    let ll = h3o::LatLng::from(*c);
                    geo::Point::new(ll.lng(), ll.lat())
                })
                .collect();
            vec![points.convex_hull()]
        }
    };
    for p in polygons {
        // a degenerate hull (one or two cells) covers nothing: the cells with reports remain
        let _ = tiler.add(p);
    }
    tiler.into_coverage().collect()
}

/// Gi* of every cell of `study` (and of any cell of `values` outside it: no report is left
/// out), a cell without a value counted as 0. Cells in ascending index order.
pub fn study_area_hot_spots(
    study: &[CellIndex],
    values: &[(CellIndex, f64)],
    o: &StudyOptions,
) -> Vec<HotSpot> {
    let given: HashMap<CellIndex, f64> = values.iter().copied().collect();
    let cells: Vec<CellIndex> = study
        .iter()
        .copied()
        .chain(given.keys().copied())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let y: Vec<f64> = cells
        .iter()
        .map(|c| given.get(c).copied().unwrap_or(0.0))
        .collect();
    let neighbours = neighbours_within(&cells, o.ring);
    let gi = gi_star(&y, &neighbours);
    let p_normal: Vec<f64> = gi.iter().map(|g| g.p).collect();
    let q = fdr_q_values(&p_normal);
    let p_sim = (o.permutations > 0)
        .then(|| super::permutations::p_sim(&y, &neighbours, o.permutations, o.seed));
    let q_sim = p_sim.as_deref().map(fdr_q_values);
    (0..cells.len())
        .map(|i| {
            let local = y[i] + neighbours[i].iter().map(|&j| y[j]).sum::<f64>();
            let decisive = q_sim.as_ref().map_or(q[i], |qs| qs[i]);
            let class = match (decisive < o.alpha, gi[i].z > 0.0) {
                (true, true) if local >= o.min_count => SpotClass::Hot,
                (true, false) => SpotClass::Cold,
                _ => SpotClass::None,
            };
            HotSpot {
                cell: cells[i],
                value: y[i],
                neighbours: neighbours[i].len(),
                gi: gi[i],
                q: q[i],
                p_sim: p_sim.as_ref().map(|p| p[i]),
                q_sim: q_sim.as_ref().map(|q| q[i]),
                class,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A 400-cell study area around a point, with `counts` at some of its cells.
    fn area() -> Vec<CellIndex> {
        let centre = h3o::LatLng::new(9.93, -84.08)
            .expect("lat/lng")
            .to_cell(h3o::Resolution::Nine);
        let mut cells: Vec<CellIndex> = centre.grid_disk(11);
        cells.sort_unstable();
        cells
    }

    #[test]
    fn two_reports_in_a_sparse_area_are_not_hot_a_dense_cluster_is() {
        let cells = area();
        // the old fault: two neighbouring cells with 1 and 2 reports, nothing else
        let sparse = [(cells[10], 1.0), (cells[10].grid_disk::<Vec<_>>(1)[1], 2.0)];
        let spots = study_area_hot_spots(&cells, &sparse, &StudyOptions::default());
        assert_eq!(spots.len(), cells.len(), "empty cells count as zeros");
        assert!(spots.iter().all(|s| s.class != SpotClass::Hot));
        // a cluster of 7 cells with 20 reports each, and a scatter of ones elsewhere
        let centre = cells[200];
        let mut dense: Vec<(CellIndex, f64)> = centre
            .grid_disk::<Vec<_>>(1)
            .into_iter()
            .map(|c| (c, 20.0))
            .collect();
        dense.extend(cells.iter().step_by(9).map(|c| (*c, 1.0)));
        dense.sort_by_key(|d| d.0);
        dense.dedup_by_key(|d| d.0);
        let spots = study_area_hot_spots(&cells, &dense, &StudyOptions::default());
        let hot: Vec<CellIndex> = spots
            .iter()
            .filter(|s| s.class == SpotClass::Hot)
            .map(|s| s.cell)
            .collect();
        assert!(hot.contains(&centre), "{hot:?}");
        assert!(spots
            .iter()
            .all(|s| s.p_sim.is_some_and(|p| p > 0.0 && p <= 0.5 + 1e-9)));
        // the same seed, the same answer
        assert_eq!(
            spots,
            study_area_hot_spots(&cells, &dense, &StudyOptions::default())
        );
    }
}
