//! Criterion benchmarks of the serum magnesium solvers (issue: 72 h at 1-min output < 50 µs).
use criterion::{criterion_group, criterion_main, Criterion};
use mgiv_core::model::builtin_model;
use mgiv_core::patient::PatientInput;
use mgiv_core::regimen::Regimen;
use mgiv_core::solver::{modal, ode, superposition, Modes};
use std::hint::black_box;

fn bench(c: &mut Criterion) {
    let patient = PatientInput {
        weight_kg: Some(70.0),
        pregnant: true,
        pre_eclampsia: true,
        ..Default::default()
    }
    .validate()
    .unwrap();
    let model = builtin_model("du-2019").unwrap();
    let ind = model.individualise(&patient).unwrap();
    let modes = Modes::from_params(&ind.params).unwrap();
    let regimen = Regimen::from_text("4 g over 20 min, then 1 g/h for 24 h", None).unwrap();
    let times: Vec<f64> = (0..=72 * 60).map(|k| k as f64 / 60.0).collect();
    let sched = modal::Schedule::new(&regimen.events);
    let mut out = vec![0.0; times.len()];

    let mut g = c.benchmark_group("one_patient_2cmt_72h_1min");
    g.bench_function("modal_closed_form", |b| {
        b.iter(|| {
            modal::ModalSolver::new(black_box(&modes))
                .run(&sched, black_box(&times), &mut out)
                .unwrap();
            black_box(out[100])
        })
    });
    g.bench_function("superposition_closed_form", |b| {
        b.iter(|| {
            black_box(superposition::concentrations(
                black_box(&modes),
                &regimen.events,
                &times,
            ))
        })
    });
    let named = mgiv_core::simulate::ModelChoice::named(model.clone());
    g.bench_function("simulate_api_end_to_end", |b| {
        b.iter(|| {
            black_box(
                mgiv_core::simulate::simulate(&named, &patient, &regimen, black_box(&times))
                    .unwrap(),
            )
        })
    });
    g.sample_size(10);
    g.bench_function("ode_dop853", |b| {
        b.iter(|| {
            black_box(
                ode::solve(
                    &ind.params,
                    ind.elimination,
                    None,
                    &regimen.events,
                    &times,
                    1e-8,
                )
                .unwrap(),
            )
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
