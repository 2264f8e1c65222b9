//! Reproducible randomness: one independent stream per (seed, subject index).
//!
//! Subject `i` of a run seeded `s` draws from a xoshiro256++ generator whose state is derived by
//! SplitMix64 from `(s, i, stream)` only. Nothing depends on which thread simulates the subject
//! or how the subjects are split into shards, so a trial gives bit-identical results on 1 or N
//! threads and for any sharding (tested in `tests/reproducibility.rs`).
//!
//! References: Blackman D, Vigna S. Scrambled linear pseudorandom number generators. ACM TOMS
//! 2021;47(4):36 (xoshiro256++); Steele GL et al. Fast splittable pseudorandom number generators.
//! OOPSLA 2014 (SplitMix64). Normals by the Box–Muller transform (two per pair of uniforms).

/// SplitMix64 step: a bijective 64-bit mixer.
#[inline]
pub fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
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
    s: [u64; 4],
    cached_normal: Option<f64>,
}

impl SubjectRng {
    /// The stream of subject `index` in a run seeded `seed`.
    pub fn new(seed: u64, index: u64, stream: Stream) -> Self {
        let mut sm = seed ^ 0x6A09_E667_F3BC_C908;
        let a = splitmix64(&mut sm);
        let mut sm2 = a ^ index.wrapping_mul(0xD1B5_4A32_D192_ED03);
        let b = splitmix64(&mut sm2);
        let mut st = b ^ (stream as u64).wrapping_mul(0xA076_1D64_78BD_642F);
        let mut s = [0u64; 4];
        for x in s.iter_mut() {
            *x = splitmix64(&mut st);
        }
        if s == [0; 4] {
            s[0] = 1;
        }
        SubjectRng {
            s,
            cached_normal: None,
        }
    }

    #[inline]
    pub fn next_u64(&mut self) -> u64 {
        let s = &mut self.s;
        let result = s[0].wrapping_add(s[3]).rotate_left(23).wrapping_add(s[0]);
        let t = s[1] << 17;
        s[2] ^= s[0];
        s[3] ^= s[1];
        s[1] ^= s[2];
        s[0] ^= s[3];
        s[2] ^= t;
        s[3] = s[3].rotate_left(45);
        result
    }

    /// Uniform in the open interval (0, 1) (53 random bits, never 0).
    #[inline]
    pub fn uniform(&mut self) -> f64 {
        ((self.next_u64() >> 11) as f64 + 0.5) * (1.0 / (1u64 << 53) as f64)
    }

    /// Standard normal (Box–Muller; the second value of each pair is cached).
    #[inline]
    pub fn normal(&mut self) -> f64 {
        if let Some(z) = self.cached_normal.take() {
            return z;
        }
        let u1 = self.uniform();
        let u2 = self.uniform();
        let r = (-2.0 * u1.ln()).sqrt();
        let (s, c) = (std::f64::consts::TAU * u2).sin_cos();
        self.cached_normal = Some(r * s);
        r * c
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
