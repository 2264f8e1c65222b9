//! The exact outer gradient of FOCE-I ([`mgiv_fit::grad`]) against central differences of the
//! whole objective (every η̂ re-optimised from η = 0 at each point, Richardson-extrapolated), for
//! the example model and its variants (error models, residual on the change from baseline, no
//! baseline, own baseline, block Ω, estimated covariate effects); and BFGS on it against
//! Nelder–Mead on the example data and the ferx-peer simulations.

use mgiv_data::{read, ReadOptions};
mod gradcheck;

use gradcheck::check_gradient;
use mgiv_fit::focei::{initial_coordinates, prepare, Outer, SubjectData};
use mgiv_fit::sim::{simulate_nonmem, Design};
use mgiv_fit::{fit, EstimationModel, FitSettings};

const TRUTH: &str = include_str!("../../../data/examples/fit/mg-2cmt-baseline.toml");
const DATA: &str = include_str!("../../../data/examples/fit/mg-sim-50.csv");

fn dataset(text: &str) -> mgiv_data::Dataset {
    let (ds, d) = read(text, &ReadOptions::default());
    ds.unwrap_or_else(|| panic!("{d:#?}"))
}

fn example_subjects(m: &EstimationModel, n: usize) -> Vec<SubjectData> {
    let (mut s, _) = prepare(m, &dataset(DATA)).unwrap();
    s.truncate(n);
    s
}

/// The optimiser's coordinates moved off the initial values (so no component is special).
fn moved(m: &EstimationModel) -> Vec<f64> {
    initial_coordinates(m)
        .iter()
        .enumerate()
        .map(|(i, v)| v + 0.05 * ((i % 3) as f64 - 1.0))
        .collect()
}

fn natural_initial(m: &EstimationModel) -> Vec<f64> {
    // free θ, Ω diagonal (then the block's covariances), σ: the model's initial values
    let mut x: Vec<f64> = m
        .thetas
        .iter()
        .filter(|t| !t.fixed)
        .map(|t| t.init)
        .collect();
    let k = m.n_eta();
    for i in 0..k {
        x.push(m.omega_init[i * k + i]);
    }
    if m.omega_block {
        for i in 0..k {
            for j in 0..i {
                x.push(m.omega_init[i * k + j]);
            }
        }
    }
    x.extend(m.iov_init.iter());
    for n in m.sigma_names() {
        x.push(if n == "proportional" {
            m.sigma_prop_init
        } else {
            m.sigma_add_init
        });
    }
    x
}

#[test]
fn gradient_of_the_example_model_matches_central_differences() {
    let m = EstimationModel::from_toml(TRUTH).unwrap();
    let subjects = example_subjects(&m, 10);
    eprintln!("optimiser coordinates at the initial values");
    check_gradient(&m, &subjects, &initial_coordinates(&m), false);
    eprintln!("optimiser coordinates moved");
    check_gradient(&m, &subjects, &moved(&m), false);
    eprintln!("natural parameters");
    check_gradient(&m, &subjects, &natural_initial(&m), true);
}

#[test]
fn gradient_matches_central_differences_for_each_error_model_and_scale() {
    for (name, text) in [
        (
            "additive",
            TRUTH.replace("model = \"combined\"", "model = \"additive\""),
        ),
        (
            "proportional",
            TRUTH.replace("model = \"combined\"", "model = \"proportional\""),
        ),
        (
            "combined on the change from baseline",
            TRUTH.replace("on = \"total\"", "on = \"change_from_baseline\""),
        ),
    ] {
        eprintln!("{name}");
        let m = EstimationModel::from_toml(&text).unwrap();
        let subjects = example_subjects(&m, 8);
        check_gradient(&m, &subjects, &moved(&m), false);
    }
}

#[test]
fn gradient_matches_central_differences_without_baseline_with_own_baseline_and_block_omega() {
    let variants = [
        (
            "baseline fixed (no baseline random effect)",
            TRUTH
                .replace("baseline = \"estimated\"", "baseline = \"fixed\"")
                .replace(
                    "parameters = [\"cl_l_h\", \"v1_l\", \"baseline_mmol_l\"]\ninit = [0.09, 0.04, 0.01]",
                    "parameters = [\"cl_l_h\", \"v1_l\"]\ninit = [0.09, 0.04]",
                ),
        ),
        (
            "own (per-subject) baseline",
            TRUTH
                .replace("baseline = \"estimated\"", "baseline = \"per_subject\"")
                .replace(
                    "parameters = [\"cl_l_h\", \"v1_l\", \"baseline_mmol_l\"]\ninit = [0.09, 0.04, 0.01]",
                    "parameters = [\"cl_l_h\", \"v1_l\"]\ninit = [0.09, 0.04]",
                ),
        ),
        (
            "block Ω and an estimated power weight exponent",
            TRUTH
                .replace(
                    "init = [0.09, 0.04, 0.01]",
                    "init = [[0.09, 0.02, 0.0], [0.02, 0.04, 0.003], [0.0, 0.003, 0.01]]",
                )
                .replace("value = 0.75", "theta = \"wt_exp\"")
                .replace(
                    "[estimation.theta]\n",
                    "[estimation.theta]\nwt_exp = { init = 0.75, lower = -2.0, upper = 3.0 }\n",
                ),
        ),
        (
            "linear weight effect, estimated",
            TRUTH
                .replace("form = \"power\"", "form = \"linear\"")
                .replace("value = 0.75", "theta = \"wt_slope\"")
                .replace(
                    "[estimation.theta]\n",
                    "[estimation.theta]\nwt_slope = { init = 0.4 }\n",
                ),
        ),
    ];
    for (name, text) in variants {
        eprintln!("{name}");
        let m = EstimationModel::from_toml(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
        let subjects = example_subjects(&m, 8);
        check_gradient(&m, &subjects, &moved(&m), false);
    }
}

/// The ferx-peer model and data (bench/ferx-peer): 2-cmt IV, IIV on CL and V1, combined error,
/// baseline fixed at 1e-9 mmol/L, the pre-dose samples dropped.
const PEER: &str = r#"
id = "ferx-peer"
name = "Two-compartment IV, IIV on CL and V1, combined error (ferx peer)"
structure = "two-compartment"
source = "bench/ferx-peer"
[estimation]
baseline = "fixed"
[estimation.theta]
cl_l_h = { init = 4.0, lower = 0.1, upper = 100.0 }
v1_l = { init = 15.0, lower = 1.0, upper = 300.0 }
q_l_h = { init = 4.0, lower = 0.05, upper = 100.0 }
v2_l = { init = 20.0, lower = 1.0, upper = 500.0 }
baseline_mmol_l = { init = 1e-9, lower = 0.0, upper = 1.0 }
[estimation.omega]
parameters = ["cl_l_h", "v1_l"]
init = [0.09, 0.04]
[estimation.residual]
model = "combined"
additive_mmol_l = 0.08
proportional = 0.06
"#;

fn peer_data(m: &EstimationModel, seed: u64) -> mgiv_data::Dataset {
    let sim = simulate_nonmem(m, &Design::default(), seed).unwrap();
    let mut csv = String::new();
    for line in sim.lines() {
        if line.starts_with('#') {
            csv.push_str(line);
            csv.push('\n');
            continue;
        }
        let f: Vec<&str> = line.split(',').collect();
        if f[0] == "ID" {
            csv.push_str("ID,TIME,EVID,MDV,AMT,RATE,DV\n");
            continue;
        }
        if f[1] == "0" && f[2] == "0" {
            continue;
        }
        csv.push_str(&f[..7].join(","));
        csv.push('\n');
    }
    dataset(&csv)
}

fn settings(outer: Outer) -> FitSettings {
    FitSettings {
        covariance: false,
        outer,
        ..Default::default()
    }
}

/// Same optimum: OFV equal within 0.01 (or lower) and every θ, ω², σ within 0.5 % (a σ that
/// both put near its bound 0 aside).
fn same_optimum(a: &mgiv_fit::FitResult, b: &mgiv_fit::FitResult, what: &str) {
    eprintln!(
        "{what}: BFGS OFV {:.5} ({} objective, {} gradient evaluations), Nelder–Mead {:.5} ({})",
        a.ofv, a.objective_evaluations, a.gradient_evaluations, b.ofv, b.objective_evaluations
    );
    assert!(a.converged, "{what}");
    assert!(a.ofv <= b.ofv + 0.01, "{what}: {} vs {}", a.ofv, b.ofv);
    let pairs = a
        .theta
        .iter()
        .map(|(k, v)| (k, *v, b.theta[k]))
        .chain(a.omega.iter().map(|(k, v)| (k, *v, b.omega[k])))
        .chain(a.sigma.iter().map(|(k, v)| (k, *v, b.sigma[k])));
    for (k, x, y) in pairs {
        eprintln!("  {k}: {x:.6} vs {y:.6}");
        if x.abs() < 1e-3 && y.abs() < 1e-3 {
            continue; // at the bound 0 (σ proportional of seed 2026)
        }
        assert!((x / y - 1.0).abs() < 5e-3, "{what} {k}: {x} vs {y}");
    }
}

#[test]
fn bfgs_on_the_exact_gradient_reaches_the_nelder_mead_optimum_on_the_example_data() {
    let m = EstimationModel::from_toml(TRUTH).unwrap();
    let ds = dataset(DATA);
    let a = fit(&m, &ds, &settings(Outer::Bfgs), &|_| {}).unwrap();
    let b = fit(&m, &ds, &settings(Outer::NelderMead), &|_| {}).unwrap();
    same_optimum(&a, &b, "example data");
    assert!(a.objective_evaluations < b.objective_evaluations / 4);
}

#[test]
fn bfgs_reaches_the_nelder_mead_optimum_on_the_ferx_peer_simulations() {
    let m = EstimationModel::from_toml(PEER).unwrap();
    for seed in [2026, 1, 2, 3] {
        let ds = peer_data(&m, seed);
        let a = fit(&m, &ds, &settings(Outer::Bfgs), &|_| {}).unwrap();
        let b = fit(&m, &ds, &settings(Outer::NelderMead), &|_| {}).unwrap();
        same_optimum(&a, &b, &format!("seed {seed}"));
    }
}

/// Seed 2026 puts σ proportional at its bound 0: on the log scale BFGS crawled there (34
/// objective and 33 gradient evaluations, σ 3.8e-5); switched to the linear scale it gets there
/// in about as many steps as the other seeds, and the covariance step still has its R (the OFV
/// is even in σ, so the difference across σ = 0 is taken at |σ|).
#[test]
fn a_sigma_at_its_bound_costs_no_extra_iterations_and_keeps_the_covariance_step() {
    let m = EstimationModel::from_toml(PEER).unwrap();
    let ds = peer_data(&m, 2026);
    let r = fit(&m, &ds, &FitSettings::default(), &|_| {}).unwrap();
    eprintln!(
        "OFV {:.5}, {} objective and {} gradient evaluations, σ {:?}, RSE {:?}",
        r.ofv, r.objective_evaluations, r.gradient_evaluations, r.sigma, r.rse_percent
    );
    assert!(r.converged);
    assert!((r.ofv - (-721.0949)).abs() < 1e-4, "{}", r.ofv);
    assert!(r.sigma["proportional"] < 1e-5);
    assert!(r.objective_evaluations <= 24 && r.gradient_evaluations <= 23);
    for (k, v) in &r.rse_percent {
        assert!(v.is_finite() && *v > 0.0, "{k}: {v}");
    }
    // the RSE of the other parameters as before the switch (σ 3.8e-5, on the log scale)
    for (k, before) in [
        ("theta.cl_l_h", 5.572),
        ("theta.v2_l", 15.503),
        ("sigma.additive_mmol_l", 6.228),
    ] {
        assert!(
            (r.rse_percent[k] - before).abs() < 1e-3,
            "{k}: {}",
            r.rse_percent[k]
        );
    }
}

#[test]
fn bfgs_fit_and_covariance_step_are_independent_of_the_thread_count() {
    let m = EstimationModel::from_toml(PEER).unwrap();
    let ds = peer_data(&m, 1);
    let run = |threads| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap()
            .install(|| fit(&m, &ds, &FitSettings::default(), &|_| {}).unwrap())
    };
    let (a, b) = (run(1), run(3));
    assert_eq!(a.ofv.to_bits(), b.ofv.to_bits());
    assert_eq!(a.theta, b.theta);
    assert_eq!(a.omega, b.omega);
    assert_eq!(a.sigma, b.sigma);
    assert_eq!(a.rse_percent, b.rse_percent);
    assert_eq!(a.objective_evaluations, b.objective_evaluations);
    assert!(!a.rse_percent.is_empty());
}

/// The second-order predictions through the modes (`predict_hdual`, used by the gradient) equal
/// the generic superposition on second-order duals, value, gradient and Hessian.
#[test]
fn modal_second_order_predictions_equal_the_generic_superposition() {
    use mgiv_fit::dual::HDual;
    use mgiv_fit::pred::{predict_dual, predict_hdual, DParams};
    let m = EstimationModel::from_toml(TRUTH).unwrap();
    let subjects = example_subjects(&m, 5);
    let v = |x: f64, i: usize| {
        let mut d = HDual::<5>::cst(x);
        d.g[i] = x;
        d.h[i][i] = x;
        d
    };
    let (mut a, mut b) = (Vec::new(), Vec::new());
    let mut n = 0;
    for two_cmt in [true, false] {
        let p = DParams {
            cl: v(3.1, 0),
            v1: v(14.0, 1),
            q: v(4.4, 2),
            v2: v(22.0, 3),
            base: v(0.77, 4),
            two_cmt,
            ka_h: None,
            f_im: 1.0,
        };
        for s in &subjects {
            for seg in &s.segments {
                predict_dual(&p, seg, &mut a);
                predict_hdual(&p, seg, &mut b);
                assert_eq!(a.len(), b.len());
                for (x, y) in a.iter().zip(&b) {
                    let close = |p: f64, q: f64| (p - q).abs() <= 1e-12 * p.abs().max(1e-3);
                    assert!(close(x.v, y.v), "{} {}", x.v, y.v);
                    for i in 0..5 {
                        assert!(close(x.g[i], y.g[i]), "{i}: {} {}", x.g[i], y.g[i]);
                        for j in 0..5 {
                            assert!(
                                close(x.h[i][j], y.h[i][j]),
                                "{i}{j}: {} {}",
                                x.h[i][j],
                                y.h[i][j]
                            );
                        }
                    }
                    n += 1;
                }
            }
        }
    }
    assert!(n > 20);
}
