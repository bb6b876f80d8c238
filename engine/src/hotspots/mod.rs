//! Hot spots: the Getis–Ord Gi* statistic (Getis & Ord 1992; Ord & Getis 1995) with binary
//! weights that include the cell itself, its normal-approximation p-values, and the
//! Benjamini–Hochberg false-discovery-rate correction. The formulas are those of PySAL esda's
//! `G_Local(y, w, transform="B", star=True)`, which the tests reproduce.
//!
//! For H3 cells ([`h3_hot_spots`]) a cell's neighbours are the study cells of its `grid_disk`;
//! [`study_area_hot_spots`] takes a fixed study area (empty cells as zeros) and esda's
//! permutation p-values.

mod permutations;
mod study;

use std::collections::HashMap;

pub use permutations::p_sim;
pub use study::{study_area, study_area_hot_spots, StudyOptions};

use h3o::CellIndex;

/// Gi* of one observation.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GiStar {
    /// The statistic: the share of the total in the cell and its neighbours.
    pub g: f64,
    /// Its z-score under the normality assumption (0 where the variance is 0).
    pub z: f64,
    /// Two-sided p-value of `z` (esda's `p_norm` is the one-sided half of it).
    pub p: f64,
}

/// Gi* of every observation, `neighbours[i]` listing the others that neighbour `i` (binary
/// weights; `i` itself weighs 1).
///
/// # Panics
/// When a neighbour index is out of range.
pub fn gi_star(values: &[f64], neighbours: &[Vec<usize>]) -> Vec<GiStar> {
    let n = values.len() as f64;
    let sum: f64 = values.iter().sum();
    let mean = sum / n;
    let variance = values.iter().map(|v| v * v).sum::<f64>() / n - mean * mean;
    values
        .iter()
        .zip(neighbours)
        .map(|(y, near)| {
            let w = 1.0 + near.len() as f64;
            let lag = y + near.iter().map(|j| values[*j]).sum::<f64>();
            let g = if sum == 0.0 { 0.0 } else { lag / sum };
            let expected = w / n;
            let var_g = w * (n - w) / (n - 1.0) / (n * n) * variance / (mean * mean);
            let z = if var_g > 0.0 && var_g.is_finite() {
                (g - expected) / var_g.sqrt()
            } else {
                0.0
            };
            GiStar {
                g,
                z,
                p: erfc(z.abs() / std::f64::consts::SQRT_2),
            }
        })
        .collect()
}

/// Benjamini–Hochberg adjusted p-values (q-values), in the order given.
pub fn fdr_q_values(p: &[f64]) -> Vec<f64> {
    let m = p.len();
    let mut order: Vec<usize> = (0..m).collect();
    order.sort_by(|a, b| p[*a].total_cmp(&p[*b]));
    let mut q = vec![1.0; m];
    let mut running = 1.0f64;
    for (rank, i) in order.iter().enumerate().rev() {
        running = running.min(p[*i] * m as f64 / (rank + 1) as f64);
        q[*i] = running.min(1.0);
    }
    q
}

/// The complementary error function (W. J. Cody's rational approximations as in Numerical
/// Recipes' `erfcc`, relative error under 1.2e-7: p-values, not z-scores).
fn erfc(x: f64) -> f64 {
    let z = x.abs();
    let t = 1.0 / (1.0 + 0.5 * z);
    let r = t
        * (-z * z - 1.265_512_23
            + t * (1.000_023_68
                + t * (0.374_091_96
                    + t * (0.096_784_18
                        + t * (-0.186_288_06
                            + t * (0.278_868_07
                                + t * (-1.135_203_98
                                    + t * (1.488_515_87
                                        + t * (-0.822_152_23 + t * 0.170_872_77)))))))))
            .exp();
    if x >= 0.0 {
        r
    } else {
        2.0 - r
    }
}

/// A hot or cold spot class.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpotClass {
    /// Significantly high values around the cell.
    Hot,
    /// Significantly low values around the cell.
    Cold,
    /// Neither, after the FDR correction.
    None,
}

impl SpotClass {
    /// Its name in tables and tiles.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Hot => "hot",
            Self::Cold => "cold",
            Self::None => "none",
        }
    }
}

/// Gi* of one H3 cell.
#[derive(Debug, Clone, PartialEq)]
pub struct HotSpot {
    /// The cell.
    pub cell: CellIndex,
    /// Its value (e.g. reports received).
    pub value: f64,
    /// How many study cells are its neighbours (the cell itself not counted).
    pub neighbours: usize,
    /// Gi*, its z-score and two-sided p-value.
    pub gi: GiStar,
    /// Benjamini–Hochberg q-value over all the cells.
    pub q: f64,
    /// The permutation pseudo p-value (esda's `p_sim`), where computed.
    pub p_sim: Option<f64>,
    /// Its Benjamini–Hochberg q-value.
    pub q_sim: Option<f64>,
    /// Hot or cold where the q-value (of `p_sim` where computed) is below `alpha`.
    pub class: SpotClass,
}

/// Each cell's neighbours among `cells`: those within `ring` steps (`grid_disk`), itself not
/// counted, by position, ascending.
pub(crate) fn neighbours_within(cells: &[CellIndex], ring: u32) -> Vec<Vec<usize>> {
    let index: HashMap<CellIndex, usize> = cells.iter().enumerate().map(|(i, c)| (*c, i)).collect();
    cells
        .iter()
        .map(|c| {
            let mut near: Vec<usize> = c
                .grid_disk::<Vec<_>>(ring)
                .into_iter()
                .filter(|d| d != c)
                .filter_map(|d| index.get(&d).copied())
                .collect();
            near.sort_unstable();
            near
        })
        .collect()
}

/// Gi* over H3 cells of one resolution: neighbours within `ring` steps (`grid_disk`) that are
/// study cells; significance with the FDR at `alpha`.
pub fn h3_hot_spots(cells: &[(CellIndex, f64)], ring: u32, alpha: f64) -> Vec<HotSpot> {
    let ids: Vec<CellIndex> = cells.iter().map(|(c, _)| *c).collect();
    let neighbours = neighbours_within(&ids, ring);
    let values: Vec<f64> = cells.iter().map(|(_, v)| *v).collect();
    let gi = gi_star(&values, &neighbours);
    let q = fdr_q_values(&gi.iter().map(|g| g.p).collect::<Vec<_>>());
    cells
        .iter()
        .zip(neighbours)
        .zip(gi)
        .zip(q)
        .map(|((((cell, value), near), gi), q)| HotSpot {
            cell: *cell,
            value: *value,
            neighbours: near.len(),
            class: match (q < alpha, gi.z > 0.0) {
                (true, true) => SpotClass::Hot,
                (true, false) => SpotClass::Cold,
                (false, _) => SpotClass::None,
            },
            gi,
            q,
            p_sim: None,
            q_sim: None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// esda's documented example (`G_Local(y, DistanceBand(points, 15), transform="B",
    /// star=True).Zs`), printed there to 8 decimals.
    #[test]
    fn equals_esdas_documented_gi_star() {
        let points = [
            (10.0, 10.0),
            (20.0, 10.0),
            (40.0, 10.0),
            (15.0, 20.0),
            (30.0, 20.0),
            (30.0, 30.0),
        ];
        let y = [2.0, 3.0, 3.2, 5.0, 8.0, 7.0];
        let neighbours: Vec<Vec<usize>> = (0..points.len())
            .map(|i| {
                (0..points.len())
                    .filter(|j| {
                        let (a, b): ((f64, f64), (f64, f64)) = (points[i], points[*j]);
                        *j != i && ((a.0 - b.0).powi(2) + (a.1 - b.1).powi(2)).sqrt() <= 15.0
                    })
                    .collect()
            })
            .collect();
        let z: Vec<f64> = gi_star(&y, &neighbours).iter().map(|g| g.z).collect();
        let esda = [
            -1.397_276_26,
            -0.289_177_62,
            0.650_649_64,
            -0.289_177_62,
            1.234_520_88,
            2.024_243_31,
        ];
        for (a, b) in z.iter().zip(esda) {
            assert!((a - b).abs() < 1e-8, "{z:?}");
        }
    }

    #[test]
    fn p_values_and_the_fdr() {
        assert!((erfc(0.0) - 1.0).abs() < 1e-7);
        // two-sided p of z = 1.959964 is 0.05
        assert!((erfc(1.959_964 / std::f64::consts::SQRT_2) - 0.05).abs() < 1e-6);
        assert!((erfc(-1.0) - 1.842_700_79).abs() < 1e-6);
        // Benjamini–Hochberg by hand: p sorted 0.01 0.02 0.03 0.5 → q 0.04 0.04 0.04 0.5
        let q = fdr_q_values(&[0.5, 0.01, 0.03, 0.02]);
        let want = [0.5, 0.04, 0.04, 0.04];
        for (a, b) in q.iter().zip(want) {
            assert!((a - b).abs() < 1e-12, "{q:?}");
        }
    }

    #[test]
    fn a_planted_cluster_is_hot_and_its_ring_is_neighbours() {
        let centre = CellIndex::try_from(0x08a2_a107_2b59_ffff).expect("cell");
        let study: Vec<CellIndex> = centre.grid_disk::<Vec<_>>(6);
        let hot: Vec<CellIndex> = centre.grid_disk::<Vec<_>>(1);
        let cells: Vec<(CellIndex, f64)> = study
            .iter()
            .enumerate()
            .map(|(i, c)| {
                (
                    *c,
                    if hot.contains(c) {
                        40.0
                    } else {
                        (i % 3) as f64
                    },
                )
            })
            .collect();
        let spots = h3_hot_spots(&cells, 1, 0.05);
        let at = |c: CellIndex| spots.iter().find(|s| s.cell == c).expect("cell");
        assert_eq!(at(centre).neighbours, 6);
        assert_eq!(at(centre).class, SpotClass::Hot);
        let far = centre
            .grid_disk::<Vec<_>>(6)
            .into_iter()
            .find(|c| c.grid_distance(centre) == Ok(6))
            .expect("far");
        assert!(
            at(far).neighbours < 6,
            "an edge cell has fewer study neighbours"
        );
        assert_ne!(at(far).class, SpotClass::Hot);
        assert!(spots.iter().filter(|s| s.class == SpotClass::Hot).count() >= 7);
    }
}
