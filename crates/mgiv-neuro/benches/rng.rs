//! The network's random hot path (issue 14 item 2): one background-input draw per neuron and step,
//! for 1000 neurons (the sparse benchmark network's size), with
//!
//! * `own_soa` — mgiv-neuro's generator as the engine uses it: xoshiro256++ state held as four
//!   arrays (structure of arrays) stepped by [`xoshiro_step_soa`] (vectorised), 52-bit uniforms
//!   from the bits, binomial count by branch-free inversion of the cumulative table;
//! * `crate_xoshiro_inversion` — the same inversion, with one `rand_xoshiro::Xoshiro256PlusPlus`
//!   per neuron (array of generators) and `rand_distr::StandardUniform` uniforms;
//! * `crate_xoshiro_binomial` — the same generators with `rand_distr::Binomial` (the plain
//!   crate way);
//!
//! `cargo bench -p mgiv-neuro --bench rng`. (The stimulus normal draw is `rand_distr`'s
//! `StandardNormal` since December 2026; the Box–Muller it replaced is no longer benchmarked.)
use criterion::{criterion_group, criterion_main, Criterion};
use mgiv_neuro::rng::{bits_to_uniform, xoshiro_step_soa, CountSampler, Rng, StreamKind};
use rand_distr::{Binomial, Distribution, StandardUniform};
use rand_xoshiro::rand_core::SeedableRng;
use rand_xoshiro::Xoshiro256PlusPlus;
use std::hint::black_box;

const N: usize = 1000;
/// 200 sources at 12 Hz, dt = 0.1 ms (the sparse benchmark's background input)
const SOURCES: u64 = 200;
const P: f64 = 12.0 * 0.1e-3;
const W: f64 = 2.1;

fn count_by_inversion(u: f64, h: &[f64; 4], sampler: &CountSampler) -> u32 {
    let cnt = (u >= h[0]) as u32 + (u >= h[1]) as u32 + (u >= h[2]) as u32 + (u >= h[3]) as u32;
    if u >= h[3] {
        sampler.sample_from_uniform(u)
    } else {
        cnt
    }
}

fn benches(c: &mut Criterion) {
    let mut g = c.benchmark_group("rng_network_hot_path_1000_neurons");
    let sampler = CountSampler::binomial(SOURCES, P);
    let h = sampler.head();

    // own: four state arrays, stepped together
    let st: Vec<[u64; 4]> = (0..N)
        .map(|i| Rng::stream(1, StreamKind::Background, i as u64).state())
        .collect();
    let mut s: [Vec<u64>; 4] = std::array::from_fn(|w| st.iter().map(|x| x[w]).collect());
    let mut bits = vec![0u64; N];
    let mut g_in = vec![0.0f64; N];
    g.bench_function("own_soa", |b| {
        b.iter(|| {
            let [s0, s1, s2, s3] = &mut s;
            xoshiro_step_soa(s0, s1, s2, s3, &mut bits);
            for (gi, &x) in g_in.iter_mut().zip(&bits) {
                let u = bits_to_uniform(x);
                let cnt = (u >= h[0]) as u32
                    + (u >= h[1]) as u32
                    + (u >= h[2]) as u32
                    + (u >= h[3]) as u32;
                *gi += cnt as f64 * W;
            }
            for (gi, &x) in g_in.iter_mut().zip(&bits) {
                let u = bits_to_uniform(x);
                if u >= h[3] {
                    *gi += (sampler.sample_from_uniform(u) - 4) as f64 * W;
                }
            }
            black_box(&g_in);
        })
    });

    let mut gens: Vec<Xoshiro256PlusPlus> = (0..N as u64)
        .map(Xoshiro256PlusPlus::seed_from_u64)
        .collect();
    g.bench_function("crate_xoshiro_inversion", |b| {
        b.iter(|| {
            for (gi, r) in g_in.iter_mut().zip(gens.iter_mut()) {
                let u: f64 = StandardUniform.sample(r);
                *gi += count_by_inversion(u, &h, &sampler) as f64 * W;
            }
            black_box(&g_in);
        })
    });
    let binom = Binomial::new(SOURCES, P).expect("valid binomial");
    g.bench_function("crate_xoshiro_binomial", |b| {
        b.iter(|| {
            for (gi, r) in g_in.iter_mut().zip(gens.iter_mut()) {
                *gi += binom.sample(r) as f64 * W;
            }
            black_box(&g_in);
        })
    });
    g.finish();
}

criterion_group!(rng, benches);
criterion_main!(rng);
