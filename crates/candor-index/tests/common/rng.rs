//! A small seeded generator (SplitMix64) for the index's tests and benchmarks.
#![allow(dead_code)]
use candor_index::Hash256;

pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (up to a negligible bias).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    pub fn hash(&mut self) -> Hash256 {
        Hash256([self.next(), self.next(), self.next(), self.next()])
    }

    /// `h` with `min..=max` random bits flipped (a bit may be drawn twice).
    pub fn flip(&mut self, h: Hash256, min: u64, max: u64) -> Hash256 {
        let mut x = h;
        for _ in 0..min + self.below(max - min + 1) {
            let b = self.below(256);
            x.0[(b / 64) as usize] ^= 1 << (b % 64);
        }
        x
    }
}
