//! A tiny deterministic PRNG (SplitMix64) and integer-only sampling helpers.
//!
//! Own implementation so generated files never change with a dependency's
//! algorithm, and integer math so they are identical on every platform.

/// SplitMix64: fast, 64-bit state, good enough for test data.
#[derive(Debug, Clone)]
pub struct SplitMix64(u64);

impl SplitMix64 {
    /// A generator seeded with `seed`.
    #[must_use]
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        mix(self.0)
    }

    /// Uniform in `0..n` (multiply-shift; bias below 2^-32 for our n). `n > 0`.
    pub fn below(&mut self, n: u64) -> u64 {
        scale(self.next_u64(), n)
    }

    /// In `0..n`, skewed to small values: `floor(n * u^3)`, so the first 1%
    /// of indices gets ~22% of picks and the first 10% ~46%. `n > 0`.
    pub fn skewed(&mut self, n: u64) -> u64 {
        let u = self.next_u64() >> 43; // 21 bits, so u^3 fits in 63 bits
        let cube = u * u * u;
        let index = (u128::from(n) * u128::from(cube)) >> 63;
        u64::try_from(index).unwrap_or(0).min(n.saturating_sub(1))
    }
}

/// The SplitMix64 finalizer: a stateless 64-bit hash, for per-entity values.
#[must_use]
pub fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Maps 64 random bits to `0..n`.
#[must_use]
pub fn scale(bits: u64, n: u64) -> u64 {
    u64::try_from((u128::from(bits) * u128::from(n)) >> 64).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_sequence() {
        let a: Vec<u64> = (0..5)
            .scan(SplitMix64::new(7), |r, _| Some(r.next_u64()))
            .collect();
        let b: Vec<u64> = (0..5)
            .scan(SplitMix64::new(7), |r, _| Some(r.next_u64()))
            .collect();
        let c: Vec<u64> = (0..5)
            .scan(SplitMix64::new(8), |r, _| Some(r.next_u64()))
            .collect();
        assert_eq!(a, b);
        assert_ne!(a, c);
        // Reference value of SplitMix64 seeded with 0.
        assert_eq!(SplitMix64::new(0).next_u64(), 0xE220_A839_7B1D_CDAF);
    }

    #[test]
    fn ranges_and_skew() {
        let mut rng = SplitMix64::new(1);
        let mut low = 0;
        for _ in 0..10_000 {
            assert!(rng.below(5) < 5);
            let pick = rng.skewed(100);
            assert!(pick < 100);
            if pick < 10 {
                low += 1;
            }
        }
        // Expected share of the first 10%: 0.1^(1/3) ≈ 46%.
        assert!((4_200..5_000).contains(&low), "{low}");
        assert_eq!(SplitMix64::new(3).skewed(1), 0);
    }
}
