//! A small deterministic generator (SplitMix64, Steele, Lea & Flood 2014): the same seed gives
//! the same sequence on every platform and every version of predio, which no external RNG
//! promises. k-means++ seeding, Gi*'s permutations and the sample town draw from it.

/// SplitMix64 over its 64-bit state.
#[derive(Debug, Clone)]
pub struct SplitMix64(u64);

impl SplitMix64 {
    /// A generator starting from `state` as it is.
    pub fn from_state(state: u64) -> Self {
        Self(state)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// A uniform integer in `0..n` (Lemire's multiply-shift; the bias is below n / 2^64).
    pub fn below(&mut self, n: usize) -> usize {
        ((u128::from(self.next_u64()) * n as u128) >> 64) as usize
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_state_same_sequence_and_values_in_range() {
        let (mut a, mut b) = (SplitMix64::from_state(7), SplitMix64::from_state(7));
        for _ in 0..1000 {
            let x = a.unit();
            assert_eq!(x, b.unit());
            assert!((0.0..1.0).contains(&x));
            assert!(a.below(10) < 10 && b.below(10) < 10);
        }
        // the reference sequence of SplitMix64 from state 0
        assert_eq!(SplitMix64::from_state(0).next_u64(), 0xE220_A839_7B1D_CDAF);
    }
}
