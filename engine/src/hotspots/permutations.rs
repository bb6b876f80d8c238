//! Pseudo p-values of Gi* by conditional randomization, as PySAL esda's `G_Local`
//! (`permutations=N`, `star=True`): for each cell, its own value stays and its `k` neighbours'
//! values are drawn, without replacement, from the other `n - 1` cells' values, `N` times; the
//! p-value is the share of draws at least as extreme as the observed sum, folded to the nearer
//! tail: `(min(larger, N - larger) + 1) / (N + 1)`. Skewed counts (a few cells with reports among
//! many without) are where the normal approximation misleads and this does not.

use rayon::prelude::*;

use crate::rng::SplitMix64;

/// Each cell's pseudo p-value (esda's `p_sim`) for the local sums `values[i] + Σ
/// values[neighbours[i]]`, with `permutations` draws seeded by `seed` (each cell its own stream,
/// so the answer does not depend on the number of threads).
pub fn p_sim(values: &[f64], neighbours: &[Vec<usize>], permutations: u32, seed: u64) -> Vec<f64> {
    let n = values.len();
    (0..n)
        .into_par_iter()
        .with_min_len(256)
        .map(|i| {
            let k = neighbours[i].len();
            if n < 2 || k == 0 || permutations == 0 {
                return 1.0;
            }
            let k = k.min(n - 1);
            let observed = values[i] + neighbours[i].iter().map(|&j| values[j]).sum::<f64>();
            let mut rng =
                SplitMix64::from_state(seed ^ (i as u64).wrapping_mul(0xd6e8_feb8_6659_fd93));
            let mut drawn: Vec<usize> = Vec::with_capacity(k);
            let mut larger = 0u32;
            for _ in 0..permutations {
                drawn.clear();
                let mut sum = values[i];
                while drawn.len() < k {
                    // one of the other n - 1 cells, each at most once
                    let mut j = rng.below(n - 1);
                    if j >= i {
                        j += 1;
                    }
                    if !drawn.contains(&j) {
                        drawn.push(j);
                        sum += values[j];
                    }
                }
                larger += u32::from(sum >= observed);
            }
            let larger = larger.min(permutations - larger);
            (f64::from(larger) + 1.0) / (f64::from(permutations) + 1.0)
        })
        .collect()
}
