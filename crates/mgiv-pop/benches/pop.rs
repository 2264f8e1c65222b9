//! Criterion benches of mgiv-pop: a 100,000-patient × 49-time trial of three regimens, one
//! Bayesian adjustment, and the per-subject kernel.

use criterion::{criterion_group, criterion_main, Criterion};
use mgiv_core::model::builtin_model;
use mgiv_core::patient::{Creatinine, PatientInput};
use mgiv_core::regimen::Regimen;
use mgiv_core::solver::Modes;
use mgiv_pop::grid::{Batch, FixedGrid};
use mgiv_pop::kernel::{Kernel, Plan};
use mgiv_pop::population::builtin_population;
use mgiv_pop::tdm::{adjust, parse_levels, BaselinePrior, DecisionSettings, PosteriorSettings};
use mgiv_pop::trial::{default_thresholds_mmol_l, Trial, TrialConfig, TrialRegimen};
use std::hint::black_box;

fn trial(n: u64) -> Trial {
    let regimens: Vec<TrialRegimen> = [
        ("zuspan", "4 g over 20 min, then 1 g/h for 24 h"),
        ("6+2", "6 g over 20 min, then 2 g/h for 24 h"),
        ("mash-2", "64 mmol/day for 14 days"),
    ]
    .iter()
    .map(|(l, t)| TrialRegimen {
        label: l.to_string(),
        text: t.to_string(),
    })
    .collect();
    Trial::new(
        &builtin_model("du-2019").unwrap(),
        &builtin_population("pre-eclampsia").unwrap(),
        &regimens,
        TrialConfig {
            n_subjects: n,
            seed: 1,
            times_h: (0..=48).map(|h| h as f64).collect(),
            target_mmol_l: (2.0, 3.5),
            thresholds_mmol_l: default_thresholds_mmol_l().unwrap(),
        },
    )
    .unwrap()
}

fn benches(c: &mut Criterion) {
    let t = trial(100_000);
    let mut g = c.benchmark_group("trial");
    g.sample_size(10);
    g.bench_function("100k patients x 3 regimens x 49 times", |b| {
        b.iter(|| black_box(t.run(None).unwrap()))
    });
    g.finish();

    let model = builtin_model("du-2019").unwrap();
    let patient = PatientInput {
        weight_kg: Some(70.0),
        creatinine: Some(Creatinine::MgPerDl(0.8)),
        pregnant: true,
        pre_eclampsia: true,
        ..Default::default()
    }
    .validate()
    .unwrap();
    let given = Regimen::from_text("4 g over 20 min, then 1 g/h", Some(70.0)).unwrap();
    let levels = parse_levels("1.4 mmol/L at 6 h; 1.9 mmol/L at 12 h").unwrap();
    let prior = BaselinePrior {
        mean_mmol_l: 0.75,
        sd_mmol_l: 0.13,
    };
    // the pre-eclampsia target and the toxic threshold the clinical layer passes (loss of
    // reflexes reported, data/ranges/serum-mg.toml)
    let toxic = mgiv_core::ranges::serum_levels()
        .unwrap()
        .thresholds
        .into_iter()
        .find(|t| t.id == "dtr-loss-reported")
        .unwrap()
        .mmol_l;
    let ds = DecisionSettings::new(12.0, (2.0, 3.5), toxic);
    c.bench_function(
        "adjust (2 levels, MAP + IS 1000 + up to 68 candidates)",
        |b| {
            b.iter(|| {
                black_box(
                    adjust(
                        &model,
                        &patient,
                        &given,
                        &levels,
                        prior,
                        &ds,
                        PosteriorSettings::default(),
                    )
                    .unwrap(),
                )
            })
        },
    );

    let p = model.individualise(&patient).unwrap().params;
    let m = Modes::from_params(&p).unwrap();
    let r = Regimen::from_text("4 g over 20 min, then 1 g/h for 24 h", None).unwrap();
    let plan = Plan::new(&r.events);
    let times: Vec<f64> = (0..=48).map(|h| h as f64).collect();
    let mut out = vec![0.0; times.len()];
    c.bench_function(
        "kernel: one subject, 49 outputs, peak + time to target",
        |b| b.iter(|| black_box(Kernel::new(&m).run(&plan, &times, &mut out, Some(2.0)))),
    );
    // the fixed-grid batch path: 256 subjects (the same subject, so the time is per 256)
    let grid = FixedGrid::new(&plan, &times).unwrap();
    let mut batch = Batch::new();
    while batch.push(&m) {}
    c.bench_function(
        "batch kernel: 256 subjects, 49 outputs, peak + time to target",
        |b| {
            b.iter(|| {
                batch.run(&grid, 2.0);
                black_box(batch.summary(255))
            })
        },
    );
}

/// The seeded generator of the trial: per subject two stream seedings (covariates, etas) and
/// six standard normals (`rand_distr`'s `StandardNormal` on `rand_xoshiro`), per 1000 subjects.
fn rng_benches(c: &mut Criterion) {
    use mgiv_pop::rng::{Stream, SubjectRng};
    let mut g = c.benchmark_group("rng");
    g.bench_function("1000 subjects x (2 seedings + 6 normals)", |b| {
        b.iter(|| {
            let mut s = 0.0;
            for i in 0..1000u64 {
                let mut rc = SubjectRng::new(1, i, Stream::Covariates);
                let mut re = SubjectRng::new(1, i, Stream::Etas);
                for _ in 0..3 {
                    s += rc.normal() + re.normal();
                }
            }
            black_box(s)
        })
    });
    g.finish();
}

criterion_group!(pop, benches, rng_benches);
criterion_main!(pop);
