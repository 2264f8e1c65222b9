//! 1000 virtual pre-eclampsia patients (du-2019 two-compartment model with IIV and covariates,
//! drawn by mgiv-pop), 4 g MgSO4 over 20 min then 1 g/h for 24 h, predictions at 1..48 h.
//! The same individual parameters go to mgiv-pop's modal kernel and to pharmsol's analytical
//! two-compartment solution (and its ODE solver); times are medians of repeated runs.

use std::time::Instant;

use mgiv_core::model::builtin_model;
use mgiv_core::regimen::Regimen;
use mgiv_core::solver::Modes;
use mgiv_pop::kernel::{Kernel, Plan};
use mgiv_pop::popmodel::PopModel;
use mgiv_pop::population::builtin_population;
use mgiv_pop::rng::{Stream, SubjectRng};
use pharmsol::{prelude::*, Parameters};

const N: u64 = 1000;
const REPS: usize = 15;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let pm = PopModel::new(&builtin_model("du-2019").unwrap()).unwrap();
    let pop = builtin_population("pre-eclampsia").unwrap();
    let mut params = Vec::new();
    for i in 0..N {
        let c = pop.draw(&mut SubjectRng::new(1, i, Stream::Covariates));
        let (mut z, mut eta) = (vec![0.0; pm.n_eta()], vec![0.0; pm.n_eta()]);
        pm.draw_eta(&mut SubjectRng::new(1, i, Stream::Etas), &mut z, &mut eta);
        params.push(pm.individual(&pm.typical(&c), &eta, c.baseline_mmol_l));
    }
    let regimen = Regimen::from_text("4 g over 20 min, then 1 g/h for 24 h", None).unwrap();
    let load_mmol = 4.0 * 1000.0 / 246.47;
    let rate_mmol_h = 1000.0 / 246.47;
    let times: Vec<f64> = (1..=48).map(|h| h as f64).collect();

    // mgiv-pop
    let plan = Plan::new(&regimen.events);
    let mut mgiv_out = vec![vec![0.0; times.len()]; N as usize];
    let mut t_mgiv = Vec::new();
    for _ in 0..REPS {
        let t0 = Instant::now();
        for (p, out) in params.iter().zip(mgiv_out.iter_mut()) {
            let m = Modes::from_params(p).unwrap();
            Kernel::new(&m).run(&plan, &times, out, None);
        }
        t_mgiv.push(t0.elapsed().as_secs_f64());
    }

    // pharmsol: analytical two-compartment and ODE, same subjects
    let analytical = analytical! {
        name: "two_cmt_iv",
        params: [ke, kcp, kpc, v],
        states: [central, peripheral],
        outputs: [cp],
        routes: [
            infusion(iv) -> central,
        ],
        structure: two_compartments,
        out: |x, _p, _t, _cov, y| {
            y[cp] = x[central] / v;
        },
    };
    let ode = ode! {
        name: "two_cmt_iv",
        params: [ke, kcp, kpc, v],
        states: [central, peripheral],
        outputs: [cp],
        diffeq: |x, _p, _t, dx, _cov| {
            dx[central] = infusion[iv] - ke * x[central] - kcp * x[central] + kpc * x[peripheral];
            dx[peripheral] = kcp * x[central] - kpc * x[peripheral];
        },
        out: |x, _p, _t, _cov, y| {
            y[cp] = x[central] / v;
        },
    };
    let mut subject = Subject::builder("s")
        .infusion(0.0, load_mmol, "iv", 1.0 / 3.0)
        .infusion(1.0 / 3.0, rate_mmol_h * 24.0, "iv", 24.0);
    for &t in &times {
        subject = subject.missing_observation(t, "cp");
    }
    let subject = subject.build();
    let ps: Vec<Parameters> = params
        .iter()
        .map(|p| {
            let pp = p.peripheral.expect("a two-compartment model");
            Parameters::with_model(
                &analytical,
                [("ke", p.cl_l_h / p.v1_l), ("kcp", pp.q_l_h / p.v1_l), ("kpc", pp.q_l_h / pp.v2_l), ("v", p.v1_l)],
            )
            .unwrap()
        })
        .collect();
    let mut max_diff: f64 = 0.0;
    let mut t_an = Vec::new();
    for rep in 0..REPS {
        let t0 = Instant::now();
        for (k, pp) in ps.iter().enumerate() {
            let pred = analytical.estimate_predictions(&subject, pp).unwrap();
            if rep == 0 {
                for (j, pr) in pred.predictions().iter().enumerate() {
                    let d = (pr.prediction() + params[k].baseline_mmol_l - mgiv_out[k][j]).abs();
                    max_diff = max_diff.max(d);
                }
            }
        }
        t_an.push(t0.elapsed().as_secs_f64());
    }
    let mut t_ode = Vec::new();
    let mut max_diff_ode: f64 = 0.0;
    for rep in 0..3 {
        let t0 = Instant::now();
        for (k, pp) in ps.iter().enumerate() {
            let pred = ode.estimate_predictions(&subject, pp).unwrap();
            if rep == 0 {
                for (j, pr) in pred.predictions().iter().enumerate() {
                    let d = (pr.prediction() + params[k].baseline_mmol_l - mgiv_out[k][j]).abs();
                    max_diff_ode = max_diff_ode.max(d);
                }
            }
        }
        t_ode.push(t0.elapsed().as_secs_f64());
    }
    let (m, a, o) = (median(t_mgiv), median(t_an), median(t_ode));
    println!("job: {N} subjects (du-2019 IIV + covariates), 4 g/20 min + 1 g/h x 24 h, 48 hourly outputs, 1 thread");
    println!("mgiv-pop modal kernel      {:>10.3} ms  (median of {REPS})", m * 1e3);
    println!("pharmsol 0.29.4 analytical {:>10.3} ms  (median of {REPS})  ratio pharmsol/mgiv = {:.1}", a * 1e3, a / m);
    println!("pharmsol 0.29.4 ODE        {:>10.3} ms  (median of 3)   ratio pharmsol/mgiv = {:.1}", o * 1e3, o / m);
    println!("max |difference| mgiv vs pharmsol analytical: {max_diff:.2e} mmol/L; vs ODE: {max_diff_ode:.2e} mmol/L");
}
