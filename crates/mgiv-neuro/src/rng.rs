//! Counter-seeded random streams: every random quantity belongs to a stream identified by
//! `(seed, stream kind, index)` (e.g. the background Poisson input of neuron 17), so results do
//! not depend on how neurons are spread over threads. Generator: xoshiro256++ (Blackman & Vigna
//! 2018) from the `rand_xoshiro` crate, each stream's state derived through SplitMix64. The network
//! engines step the background-input generators of many neurons at once as four state arrays
//! ([`xoshiro_step_soa`], the same sequence as the crate's generator, tested): in the network's hot
//! path that is 1.3× faster than an array of crate generators (`benches/rng.rs`, docs/NEURO.md §5).

use rand_distr::{Distribution, StandardNormal};
use rand_xoshiro::rand_core::{Rng as RngCore, SeedableRng};
use rand_xoshiro::{SplitMix64, Xoshiro256PlusPlus};

/// Stream kinds, so that two uses of the same neuron index never share a stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u64)]
pub enum StreamKind {
    /// Background Poisson input of a neuron.
    Background = 1,
    /// Stimulus generator (rates and spikes).
    Stimulus = 2,
    /// Connectivity (which synapses exist, weights, delays) of one postsynaptic neuron.
    Connectivity = 3,
    /// Initial conditions.
    Init = 4,
    /// Noise in plasticity simulations.
    Plasticity = 5,
}

/// xoshiro256++ generator: `rand_xoshiro::Xoshiro256PlusPlus`, seeded per stream.
#[derive(Debug, Clone)]
pub struct Rng {
    inner: Xoshiro256PlusPlus,
}

impl Rng {
    /// A stream determined by `(seed, kind, index)` only.
    pub fn stream(seed: u64, kind: StreamKind, index: u64) -> Self {
        // SplitMix64 (Steele, Lea & Flood 2014; the crate's) of the stream's key: one output
        // dropped to decorrelate nearby seeds, the next four as the state words
        let mut sm = SplitMix64::seed_from_u64(
            seed ^ (kind as u64).wrapping_mul(0xD1B5_4A32_D192_ED03)
                ^ index.wrapping_mul(0x8CB9_2BA7_2F3D_8DD7),
        );
        sm.next_u64();
        let mut bytes = [0u8; 32];
        sm.fill_bytes(&mut bytes);
        Rng {
            inner: Xoshiro256PlusPlus::from_seed(bytes),
        }
    }

    /// The generator state as four words (for structure-of-arrays stepping with
    /// [`xoshiro_step_soa`]).
    pub fn state(&self) -> [u64; 4] {
        let b = self.inner.state();
        std::array::from_fn(|w| {
            let mut x = [0u8; 8];
            x.copy_from_slice(&b[8 * w..8 * w + 8]);
            u64::from_le_bytes(x)
        })
    }

    /// Next 64 random bits.
    #[inline(always)]
    pub fn next_u64(&mut self) -> u64 {
        RngCore::next_u64(&mut self.inner)
    }

    /// Uniform on [0, 1) with 52 random bits (see [`bits_to_uniform`]).
    #[inline(always)]
    pub fn uniform(&mut self) -> f64 {
        bits_to_uniform(self.next_u64())
    }

    /// Standard normal: `rand_distr`'s `StandardNormal` (the ziggurat mgiv-pop and mgiv-brain
    /// use). Until December 2026 this was a hand-written Box–Muller; the switch changed the seeded
    /// stimulus rates and plasticity noise once, together with the Wang network's move to the
    /// general engine (docs/NEURO.md §6).
    #[inline]
    pub fn normal(&mut self) -> f64 {
        StandardNormal.sample(&mut self.inner)
    }

    /// Uniform integer in `0..n` (n > 0), Lemire's multiply-shift (bias < 2^-32 for n < 2^32).
    #[inline]
    pub fn below(&mut self, n: u64) -> u64 {
        ((self.next_u64() as u128 * n as u128) >> 64) as u64
    }
}

/// Advance `n` xoshiro256++ generators held as four state arrays and write one output each.
/// Produces exactly the sequence of [`Rng::next_u64`] for each lane; written so it vectorises.
#[inline(always)]
pub fn xoshiro_step_soa(
    s0: &mut [u64],
    s1: &mut [u64],
    s2: &mut [u64],
    s3: &mut [u64],
    out: &mut [u64],
) {
    let n = out.len();
    let (s0, s1, s2, s3) = (&mut s0[..n], &mut s1[..n], &mut s2[..n], &mut s3[..n]);
    for i in 0..n {
        let (a, b, c, d) = (s0[i], s1[i], s2[i], s3[i]);
        let sum = a.wrapping_add(d);
        out[i] = sum.rotate_left(23).wrapping_add(a);
        let t = b << 17;
        let c = c ^ a;
        let d = d ^ b;
        let b = b ^ c;
        let a = a ^ d;
        let c = c ^ t;
        let d = d.rotate_left(45);
        s0[i] = a;
        s1[i] = b;
        s2[i] = c;
        s3[i] = d;
    }
}

/// Uniform on [0, 1) from the top 52 of 64 random bits: a double in [1, 2) built from the bits,
/// minus one (exact; vectorises, unlike an integer-to-float conversion).
#[inline(always)]
pub fn bits_to_uniform(bits: u64) -> f64 {
    f64::from_bits((bits >> 12) | 0x3FF0_0000_0000_0000) - 1.0
}

/// Exact sampler for a fixed discrete distribution on 0..K by inversion of its cumulative table.
/// Used for Binomial(n, p) background input (as Brian2's `PoissonInput`) and Poisson counts.
#[derive(Debug, Clone)]
pub struct CountSampler {
    cdf: Vec<f64>,
}

impl CountSampler {
    /// Binomial(n, p); the table stops past the mean once the pmf is below 1e-18.
    pub fn binomial(n: u64, p: f64) -> Self {
        let p = p.clamp(0.0, 1.0);
        let mut cdf = Vec::new();
        if p == 0.0 || n == 0 {
            return CountSampler { cdf: vec![1.0] };
        }
        let q = 1.0 - p;
        // pmf(0) = q^n, computed in log space for accuracy
        let mut pmf = (n as f64 * q.ln()).exp();
        let mut acc = 0.0;
        let mut k = 0u64;
        loop {
            acc += pmf;
            cdf.push(acc.min(1.0));
            if k == n || (k as f64 > n as f64 * p && pmf < 1e-18) || cdf.len() > 100_000 {
                break;
            }
            pmf *= (n - k) as f64 / (k + 1) as f64 * p / q;
            k += 1;
        }
        if let Some(last) = cdf.last_mut() {
            *last = 1.0;
        }
        CountSampler { cdf }
    }

    /// Poisson(lambda); the table stops past the mean once the pmf is below 1e-18.
    pub fn poisson(lambda: f64) -> Self {
        let lambda = lambda.max(0.0);
        let mut cdf = Vec::new();
        let mut pmf = (-lambda).exp();
        let mut acc = 0.0;
        let mut k = 0u64;
        loop {
            acc += pmf;
            cdf.push(acc.min(1.0));
            if (k as f64 > lambda && pmf < 1e-18) || cdf.len() > 100_000 {
                break;
            }
            k += 1;
            pmf *= lambda / k as f64;
        }
        if let Some(last) = cdf.last_mut() {
            *last = 1.0;
        }
        CountSampler { cdf }
    }

    /// Mean of the tabulated distribution.
    pub fn mean(&self) -> f64 {
        let mut prev = 0.0;
        let mut m = 0.0;
        for (k, &c) in self.cdf.iter().enumerate() {
            m += k as f64 * (c - prev);
            prev = c;
        }
        m
    }

    /// The first four cumulative probabilities (padded with 2.0, which no uniform reaches):
    /// `count = #{j < 4 : u >= head[j]}` is exact whenever `u < head[3]`.
    pub fn head(&self) -> [f64; 4] {
        std::array::from_fn(|j| self.cdf.get(j).copied().unwrap_or(2.0))
    }

    /// Draw one count.
    #[inline(always)]
    pub fn sample(&self, rng: &mut Rng) -> u32 {
        self.sample_from_uniform(rng.uniform())
    }

    /// The count for a given uniform variate `u` in [0, 1) (inversion).
    #[inline(always)]
    pub fn sample_from_uniform(&self, u: f64) -> u32 {
        let mut k = 0usize;
        // the first entry holds most of the mass for the small means used here
        while k + 1 < self.cdf.len() && u >= self.cdf[k] {
            k += 1;
        }
        k as u32
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The stream seeding as written before it used the crate's SplitMix64 (Steele et al.'s
    /// reference step, here independent of the crate): the streams must be the same bits.
    #[test]
    fn stream_seeding_equals_the_reference_splitmix64() {
        fn splitmix64(state: &mut u64) -> u64 {
            *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = *state;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^ (z >> 31)
        }
        for (seed, kind, index) in [
            (1, StreamKind::Background, 0),
            (42, StreamKind::Stimulus, 17),
            (u64::MAX, StreamKind::Plasticity, u64::MAX),
        ] {
            let mut sm = seed
                ^ (kind as u64).wrapping_mul(0xD1B5_4A32_D192_ED03)
                ^ index.wrapping_mul(0x8CB9_2BA7_2F3D_8DD7);
            splitmix64(&mut sm);
            let mut bytes = [0u8; 32];
            for w in bytes.chunks_exact_mut(8) {
                w.copy_from_slice(&splitmix64(&mut sm).to_le_bytes());
            }
            let mut want = Xoshiro256PlusPlus::from_seed(bytes);
            let mut got = Rng::stream(seed, kind, index);
            assert!((0..100).all(|_| got.next_u64() == want.next_u64()));
        }
    }

    #[test]
    fn streams_are_reproducible_and_distinct() {
        let mut a = Rng::stream(1, StreamKind::Background, 5);
        let mut b = Rng::stream(1, StreamKind::Background, 5);
        let mut c = Rng::stream(1, StreamKind::Background, 6);
        let mut d = Rng::stream(1, StreamKind::Stimulus, 5);
        let xa: Vec<u64> = (0..4).map(|_| a.next_u64()).collect();
        let xb: Vec<u64> = (0..4).map(|_| b.next_u64()).collect();
        assert_eq!(xa, xb);
        assert_ne!(xa[0], c.next_u64());
        assert_ne!(xa[0], d.next_u64());
    }

    #[test]
    fn binomial_sampler_matches_mean_and_variance() {
        // Brian2 Wang 2002 background: 1000 inputs at 2.4 Hz, dt 0.1 ms -> n p = 0.24
        let s = CountSampler::binomial(1000, 2.4 * 1e-4);
        assert!((s.mean() - 0.24).abs() < 1e-12);
        let mut r = Rng::stream(7, StreamKind::Background, 0);
        let n = 400_000;
        let (mut m1, mut m2) = (0.0, 0.0);
        for _ in 0..n {
            let k = s.sample(&mut r) as f64;
            m1 += k;
            m2 += k * k;
        }
        let mean = m1 / n as f64;
        let var = m2 / n as f64 - mean * mean;
        // var = n p (1-p) = 0.2399; standard error of the mean ~ 0.00077
        assert!((mean - 0.24).abs() < 0.004, "{mean}");
        assert!((var - 0.23994).abs() < 0.006, "{var}");
        let p = CountSampler::poisson(3.0);
        assert!((p.mean() - 3.0).abs() < 1e-9);
    }

    #[test]
    fn soa_stepping_matches_scalar_generator() {
        let mut r = Rng::stream(11, StreamKind::Background, 3);
        let st = r.state();
        let (mut a, mut b, mut c, mut d) = (vec![st[0]], vec![st[1]], vec![st[2]], vec![st[3]]);
        let mut out = vec![0u64];
        for _ in 0..10 {
            xoshiro_step_soa(&mut a, &mut b, &mut c, &mut d, &mut out);
            assert_eq!(out[0], r.next_u64());
        }
    }

    #[test]
    fn uniform_and_normal_moments() {
        let mut r = Rng::stream(3, StreamKind::Init, 0);
        let n = 200_000;
        let (mut su, mut sn, mut sn2) = (0.0, 0.0, 0.0);
        for _ in 0..n {
            su += r.uniform();
            let z = r.normal();
            sn += z;
            sn2 += z * z;
        }
        assert!((su / n as f64 - 0.5).abs() < 0.003);
        assert!((sn / n as f64).abs() < 0.01);
        assert!((sn2 / n as f64 - 1.0).abs() < 0.015);
    }
}
