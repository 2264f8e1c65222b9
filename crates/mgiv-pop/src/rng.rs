//! Reproducible randomness: one independent stream per (seed, subject index).
//!
//! Subject `i` of a run seeded `s` draws from a xoshiro256++ generator (the `rand_xoshiro`
//! crate's `Xoshiro256PlusPlus`) whose state is derived by the crate's SplitMix64 from
//! `(s, i, stream)` only. Nothing depends on which thread simulates the subject
//! or how the subjects are split into shards, so a trial gives bit-identical results on 1 or N
//! threads and for any sharding (tested in `tests/reproducibility.rs`).
//!
//! References: Blackman D, Vigna S. Scrambled linear pseudorandom number generators. ACM TOMS
//! 2021;47(4):36 (xoshiro256++); Steele GL et al. Fast splittable pseudorandom number generators.
//! OOPSLA 2014 (SplitMix64).
//!
//! Normals come from `rand_distr`'s `StandardNormal` (a ziggurat), the sampler mgiv-brain and
//! mgiv-neuro use too. Issue 14 allowed the seeded streams to change once: until commit 85ab1f3
//! mgiv-pop drew its normals from a hand-written 256-layer ziggurat (Marsaglia & Tsang 2000),
//! which maps the generator's bits to normals differently, so every seeded draw of mgiv-pop and
//! mgiv-fit (trials, TDM importance sampling, simulated datasets) changed with this switch, once.
//! The uniform stream itself is unchanged (tested against the reference xoshiro256++ below).

use rand_distr::{Distribution, StandardNormal};
use rand_xoshiro::rand_core::{Rng, SeedableRng};
use rand_xoshiro::{SplitMix64, Xoshiro256PlusPlus};

/// One SplitMix64 output of the state `x` (the crate's generator seeded with `x`).
#[inline]
fn mix(x: u64) -> u64 {
    SplitMix64::seed_from_u64(x).next_u64()
}

/// Streams a subject can draw from independently (so adding a draw to one never shifts another).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u64)]
pub enum Stream {
    /// covariates (weight, creatinine, baseline)
    Covariates = 1,
    /// inter-individual random effects (etas)
    Etas = 2,
    /// residual (assay) error
    Residual = 3,
    /// anything else a caller needs (validation studies)
    Other = 4,
}

/// A per-subject xoshiro256++ generator.
#[derive(Debug, Clone)]
pub struct SubjectRng {
    x: Xoshiro256PlusPlus,
}

/// The part of every stream's state that depends on the seed only (one SplitMix64 step),
/// computed once per run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RunKey(u64);

/// The part shared by the streams of one subject (one more SplitMix64 step, of the index).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SubjectKey(u64);

impl RunKey {
    pub fn new(seed: u64) -> Self {
        RunKey(mix(seed ^ 0x6A09_E667_F3BC_C908))
    }

    #[inline]
    pub fn subject(self, index: u64) -> SubjectKey {
        SubjectKey(mix(self.0 ^ index.wrapping_mul(0xD1B5_4A32_D192_ED03)))
    }
}

impl SubjectRng {
    /// The stream of subject `index` in a run seeded `seed`.
    pub fn new(seed: u64, index: u64, stream: Stream) -> Self {
        Self::from_key(RunKey::new(seed).subject(index), stream)
    }

    /// [`Self::new`] from the subject's key (the same stream; the seed and index steps done
    /// once for all of a subject's streams).
    #[inline]
    pub fn from_key(key: SubjectKey, stream: Stream) -> Self {
        // four SplitMix64 outputs as the little-endian state words (never all zero)
        let mut sm =
            SplitMix64::seed_from_u64(key.0 ^ (stream as u64).wrapping_mul(0xA076_1D64_78BD_642F));
        let mut bytes = [0u8; 32];
        sm.fill_bytes(&mut bytes);
        if bytes == [0; 32] {
            bytes[0] = 1;
        }
        SubjectRng {
            x: Xoshiro256PlusPlus::from_seed(bytes),
        }
    }

    #[inline]
    pub fn next_u64(&mut self) -> u64 {
        self.x.next_u64()
    }

    /// Uniform in the open interval (0, 1) (53 random bits, never 0).
    #[inline]
    pub fn uniform(&mut self) -> f64 {
        ((self.next_u64() >> 11) as f64 + 0.5) * (1.0 / (1u64 << 53) as f64)
    }

    /// Standard normal (`rand_distr::StandardNormal`).
    #[inline]
    pub fn normal(&mut self) -> f64 {
        StandardNormal.sample(&mut self.x)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// SplitMix64 as in Steele et al.'s reference (independent of the crate's type).
    fn splitmix64(state: &mut u64) -> u64 {
        *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = *state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// xoshiro256++ as in Blackman & Vigna's reference C code (the generator mgiv-pop carried
    /// before issue 14), seeded like `SubjectRng::new`.
    fn reference_stream(seed: u64, index: u64, stream: Stream, n: usize) -> Vec<u64> {
        let mut sm = seed ^ 0x6A09_E667_F3BC_C908;
        let a = splitmix64(&mut sm);
        let mut sm2 = a ^ index.wrapping_mul(0xD1B5_4A32_D192_ED03);
        let b = splitmix64(&mut sm2);
        let mut st = b ^ (stream as u64).wrapping_mul(0xA076_1D64_78BD_642F);
        let mut s = [0u64; 4];
        for x in s.iter_mut() {
            *x = splitmix64(&mut st);
        }
        (0..n)
            .map(|_| {
                let result = s[0].wrapping_add(s[3]).rotate_left(23).wrapping_add(s[0]);
                let t = s[1] << 17;
                s[2] ^= s[0];
                s[3] ^= s[1];
                s[1] ^= s[2];
                s[0] ^= s[3];
                s[2] ^= t;
                s[3] = s[3].rotate_left(45);
                result
            })
            .collect()
    }

    #[test]
    fn crate_generator_reproduces_the_previous_stream_bit_for_bit() {
        for (seed, index, stream) in [
            (1, 0, Stream::Covariates),
            (1, 999_999, Stream::Etas),
            (2026, 17, Stream::Residual),
            (u64::MAX, u64::MAX, Stream::Other),
        ] {
            let mut r = SubjectRng::new(seed, index, stream);
            let got: Vec<u64> = (0..1000).map(|_| r.next_u64()).collect();
            assert_eq!(got, reference_stream(seed, index, stream, 1000));
        }
    }

    #[test]
    fn streams_depend_only_on_seed_index_stream() {
        let mut a = SubjectRng::new(7, 123, Stream::Etas);
        let mut b = SubjectRng::new(7, 123, Stream::Etas);
        for _ in 0..100 {
            assert_eq!(a.next_u64(), b.next_u64());
        }
        let x = SubjectRng::new(7, 124, Stream::Etas).next_u64();
        let y = SubjectRng::new(8, 123, Stream::Etas).next_u64();
        let z = SubjectRng::new(7, 123, Stream::Covariates).next_u64();
        let w = SubjectRng::new(7, 123, Stream::Etas).next_u64();
        assert!(x != w && y != w && z != w);
    }

    #[test]
    fn subject_keys_give_the_same_streams_as_new() {
        let key = RunKey::new(5).subject(77);
        for stream in [
            Stream::Covariates,
            Stream::Etas,
            Stream::Residual,
            Stream::Other,
        ] {
            let (mut x, mut y) = (
                SubjectRng::new(5, 77, stream),
                SubjectRng::from_key(key, stream),
            );
            assert!((0..100).all(|_| x.next_u64() == y.next_u64()));
            assert!((0..100).all(|_| x.normal().to_bits() == y.normal().to_bits()));
        }
    }

    #[test]
    fn normal_moments() {
        // mean 0, variance 1, P(|z| > 1.96) ≈ 0.05 over many subjects' first draws
        let n = 200_000;
        let (mut s1, mut s2, mut tail) = (0.0, 0.0, 0usize);
        for i in 0..n {
            let z = SubjectRng::new(42, i, Stream::Other).normal();
            s1 += z;
            s2 += z * z;
            if z.abs() > 1.959964 {
                tail += 1;
            }
        }
        let mean = s1 / n as f64;
        let var = s2 / n as f64 - mean * mean;
        assert!(mean.abs() < 0.01, "mean {mean}");
        assert!((var - 1.0).abs() < 0.015, "var {var}");
        let p = tail as f64 / n as f64;
        assert!((p - 0.05).abs() < 0.003, "tail {p}");
    }

    #[test]
    fn normal_distribution_against_phi() {
        // the CDF at several points against Φ (erf by its series: independent of the sampler),
        // over 400,000 draws: binomial SD ≤ 0.0008
        let phi = |x: f64| {
            // Φ(x) = 1/2 + φ(x)·Σ x^(2k+1)/(1·3·…·(2k+1))
            let (mut term, mut sum) = (x, x);
            for k in 1..200 {
                term *= x * x / (2 * k + 1) as f64;
                sum += term;
            }
            0.5 + sum * (-0.5 * x * x).exp() / (2.0 * std::f64::consts::PI).sqrt()
        };
        let mut r = SubjectRng::new(99, 0, Stream::Other);
        let n = 400_000;
        let draws: Vec<f64> = (0..n).map(|_| r.normal()).collect();
        for x in [-3.0, -1.96, -1.0, -0.3, 0.0, 0.5, 1.2, 2.5, 3.0] {
            let p = draws.iter().filter(|&&d| d <= x).count() as f64 / n as f64;
            assert!((p - phi(x)).abs() < 0.004, "x {x}: {p} vs {}", phi(x));
        }
        // the tails are sampled: P(|z| > 3.7) = 2.16e-4 → about 86 of 400,000
        let tail = draws.iter().filter(|d| d.abs() > 3.7).count();
        assert!((50..=130).contains(&tail), "{tail}");
        assert!(draws.iter().all(|d| d.is_finite()));
    }

    #[test]
    fn uniform_in_open_unit_interval() {
        let mut r = SubjectRng::new(0, 0, Stream::Other);
        let mut sum = 0.0;
        for _ in 0..100_000 {
            let u = r.uniform();
            assert!(u > 0.0 && u < 1.0);
            sum += u;
        }
        assert!((sum / 100_000.0 - 0.5).abs() < 0.005);
    }
}
