//! Criterion benchmarks of the hot loops (issue 5): `cargo bench -p mgiv-neuro`.
use criterion::{criterion_group, criterion_main, Criterion};
use mgiv_neuro::network::{sparse_benchmark_spec, Network, NmdaModel, NmdaSum};
use mgiv_neuro::plasticity::gb::{self, GbMg, GbParams};
use mgiv_neuro::plasticity::Protocol;
use mgiv_neuro::wang2002::{run_decision, DecisionConfig};
use mgiv_neuro::{MgBlock, MgDrive};
use std::hint::black_box;

fn benches(c: &mut Criterion) {
    let mut g = c.benchmark_group("neuro");
    g.sample_size(10);
    g.bench_function("wang2002_100ms_1thread", |b| {
        b.iter(|| run_decision(black_box(&DecisionConfig::reference(1.0, 0.1, 1))).unwrap())
    });
    for nmda in [NmdaModel::Saturating, NmdaModel::Linear] {
        g.bench_function(format!("sparse_1000_{nmda:?}_100ms"), |b| {
            b.iter_batched(
                || Network::build(sparse_benchmark_spec(800, 200, 0.1, 200, nmda), 1, 1).unwrap(),
                |mut net| net.run(0.1, &MgDrive::Fixed(1.0), 0.0, false).unwrap(),
                criterion::BatchSize::LargeInput,
            )
        });
    }
    g.bench_function("sparse_1000_Saturating_direct_sum_100ms", |b| {
        b.iter_batched(
            || {
                let spec = sparse_benchmark_spec(800, 200, 0.1, 200, NmdaModel::Saturating);
                let mut net = Network::build(spec, 1, 1).unwrap();
                net.set_nmda_sum(NmdaSum::Direct);
                net
            },
            |mut net| net.run(0.1, &MgDrive::Fixed(1.0), 0.0, false).unwrap(),
            criterion::BatchSize::LargeInput,
        )
    });
    let dp = GbParams::by_name("gb-dp").unwrap();
    let pr = Protocol::pairing(10.0, 60, 1.0).unwrap();
    let mg = GbMg::new(1.0).unwrap();
    g.bench_function("gb_analytic_60_pairs", |b| {
        b.iter(|| gb::analytic(black_box(&dp), &pr, &mg))
    });
    let blk = MgBlock::default();
    g.bench_function("mg_block_1000_evals", |b| {
        b.iter(|| {
            let mut s = 0.0;
            for k in 0..1000 {
                s += blk.unblocked_fraction(-80.0 + 0.08 * k as f64, black_box(1.0));
            }
            s
        })
    });
    g.finish();
}

criterion_group!(neuro, benches);
criterion_main!(neuro);
