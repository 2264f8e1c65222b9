//! The brain chain's seeded generator: xoshiro256++ from `rand_xoshiro` (seeded through SplitMix64
//! by `seed_from_u64`), the generator mgiv-pop and mgiv-neuro also use, with `rand_distr`'s
//! ziggurat standard normal. The same seed gives the same intervals on every machine.
//! (Until 2026-12 this was a hand-written SplitMix64 + Box–Muller; the streams changed once then.)

use rand_distr::{Distribution, StandardNormal};
use rand_xoshiro::rand_core::SeedableRng;
use rand_xoshiro::Xoshiro256PlusPlus;

/// Seeded standard-normal draws.
#[derive(Debug, Clone)]
pub struct SeededRng(Xoshiro256PlusPlus);

impl SeededRng {
    pub fn new(seed: u64) -> Self {
        SeededRng(Xoshiro256PlusPlus::seed_from_u64(seed))
    }

    /// Standard normal.
    pub fn normal(&mut self) -> f64 {
        StandardNormal.sample(&mut self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reproducible_and_standard() {
        let mut a = SeededRng::new(7);
        let mut b = SeededRng::new(7);
        for _ in 0..10 {
            assert_eq!(a.normal().to_bits(), b.normal().to_bits());
        }
        let mut r = SeededRng::new(1);
        let n = 20_000;
        let xs: Vec<f64> = (0..n).map(|_| r.normal()).collect();
        let mean = xs.iter().sum::<f64>() / n as f64;
        let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n as f64;
        // 5 standard errors: mean SE 1/sqrt(n) = 0.007, variance SE sqrt(2/n) = 0.01
        assert!(mean.abs() < 0.035, "{mean}");
        assert!((var - 1.0).abs() < 0.05, "{var}");
        let tail = xs.iter().filter(|x| x.abs() > 1.959_964).count() as f64 / n as f64;
        assert!((tail - 0.05).abs() < 0.008, "{tail}");
    }
}
