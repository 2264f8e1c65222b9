//! Beal's M3 for censored observations (CENS/BLQ): the likelihood term against a hand
//! computation, the FOCE-I objective against a brute-force integral, and recovery of the
//! baseline from data censored below a limit near it (where leaving them out biases it up).

use mgiv_core::model::IndividualParams;
use mgiv_core::solver::Modes;
use mgiv_data::{read, ReadOptions};
use mgiv_fit::focei::{evaluate, ln_norm_cdf, prepare, PopParams};
use mgiv_fit::sim::{simulate_nonmem, Design};
use mgiv_fit::{fit, EstimationModel, FitSettings};

fn dataset(text: &str) -> mgiv_data::Dataset {
    let (ds, d) = read(text, &ReadOptions::default());
    ds.unwrap_or_else(|| panic!("{d:#?}"))
}

fn one_cmt(omega: bool) -> EstimationModel {
    let mut t = r#"
id = "one-eta"
name = "1-cmt, eta on CL"
structure = "one-compartment"
[estimation]
baseline = "fixed"
[estimation.theta]
cl_l_h = { init = 3.0, lower = 0.1, upper = 50.0 }
v1_l = { init = 20.0, lower = 1.0, upper = 200.0 }
baseline_mmol_l = { init = 0.8, lower = 0.1, upper = 3.0 }
[estimation.residual]
model = "combined"
additive_mmol_l = 0.05
proportional = 0.1
"#
    .to_string();
    if omega {
        t.push_str("[estimation.omega]\nparameters = [\"cl_l_h\"]\ninit = [0.04]\n");
    }
    EstimationModel::from_toml(&t).unwrap()
}

// a BLQ sample at 20 h (limit 1.0 mmol/L) and one above an upper limit at 1 h (CENS -1, 1.5)
const DATA: &str = "# DV_UNIT=mmol/L\n# AMT_UNIT=mmol\nID,TIME,EVID,MDV,AMT,RATE,DV,CENS\n\
    1,0,1,1,40,20,.,0\n1,1,0,0,.,.,1.5,-1\n1,2,0,0,.,.,2.3,0\n1,6,0,0,.,.,1.6,0\n1,12,0,0,.,.,1.1,0\n1,20,0,0,.,.,1.0,1\n";

fn conc(cl: f64, t: f64) -> f64 {
    // 40 mmol at 20 mmol/h (2 h) into V = 20 L, k = CL/V, on a baseline of 0.8
    let k = cl / 20.0;
    let a = 20.0 / cl;
    if t <= 2.0 {
        0.8 + a * (1.0 - (-k * t).exp())
    } else {
        0.8 + a * (1.0 - (-k * 2.0).exp()) * (-k * (t - 2.0)).exp()
    }
}

/// Without random effects the OFV is the likelihood itself: Σ [ln R + e²/R] over the quantified
/// samples − 2 ln Φ((1.0 − f)/√R) − 2 ln Φ(−(1.5 − f)/√R) for the censored ones (closed form).
#[test]
fn m3_term_matches_a_hand_computation() {
    let m = one_cmt(false);
    let ds = dataset(DATA);
    let (subjects, notes) = prepare(&m, &ds).unwrap();
    assert!(
        notes
            .iter()
            .any(|n| n.contains("2 censored") && n.contains("M3")),
        "{notes:?}"
    );
    assert_eq!(subjects[0].y.len(), 3);
    let ofv: f64 = evaluate(&m, &PopParams::initial(&m), &subjects).unwrap()[0].0;
    let r = |f: f64| (0.1 * f).powi(2) + 0.05f64.powi(2);
    let mut want = 0.0;
    for (t, y) in [(2.0, 2.3), (6.0, 1.6), (12.0, 1.1)] {
        let f = conc(3.0, t);
        want += r(f).ln() + (y - f).powi(2) / r(f);
    }
    let (f20, f1) = (conc(3.0, 20.0), conc(3.0, 1.0));
    let below = -2.0 * ln_norm_cdf((1.0 - f20) / r(f20).sqrt());
    let above = -2.0 * ln_norm_cdf(-(1.5 - f1) / r(f1).sqrt());
    want += below + above;
    eprintln!("OFV {ofv:.10} hand {want:.10}; M3 terms {below:.4} {above:.4}");
    assert!((ofv - want).abs() < 1e-9, "{ofv} vs {want}");
    // the censored terms matter here
    assert!(below > 0.1 && above > 0.1);
}

/// One η: FOCE-I with M3 against −2 ln ∫ p(y|η) p(η) dη by brute-force quadrature (censored
/// samples as Φ of the limit).
#[test]
fn m3_focei_objective_matches_a_brute_force_integral() {
    let m = one_cmt(true);
    let ds = dataset(DATA);
    let (subjects, _) = prepare(&m, &ds).unwrap();
    let focei: f64 = evaluate(&m, &PopParams::initial(&m), &subjects).unwrap()[0].0;
    let omega: f64 = 0.04;
    let (lo, hi, n) = (-8.0 * omega.sqrt(), 8.0 * omega.sqrt(), 20001);
    let dx = (hi - lo) / (n - 1) as f64;
    let two_pi = 2.0 * std::f64::consts::PI;
    let mut integral = 0.0;
    for i in 0..n {
        let eta = lo + i as f64 * dx;
        let cl = 3.0 * eta.exp();
        // the modal solver for the quantified samples, the closed form for the censored ones
        let modes = Modes::from_params(&IndividualParams {
            cl_l_h: cl,
            v1_l: 20.0,
            peripheral: None,
            ka_h: None,
            f_im: None,
            baseline_mmol_l: 0.8,
        })
        .unwrap();
        let f = mgiv_data::predict(&modes, &subjects[0].segments[0]);
        let mut lik = (-0.5 * eta * eta / omega).exp() / (two_pi * omega).sqrt();
        for (fj, yj) in f.iter().zip(&subjects[0].y) {
            let r = (0.1 * fj).powi(2) + 0.0025;
            lik *= (-0.5 * (yj - fj).powi(2) / r).exp() / (two_pi * r).sqrt();
        }
        for (t, lim, sign) in [(20.0, 1.0, 1.0), (1.0, 1.5, -1.0)] {
            let fj = conc(cl, t);
            let r = (0.1 * fj).powi(2) + 0.0025;
            lik *= ln_norm_cdf(sign * (lim - fj) / r.sqrt()).exp();
        }
        let w = if i == 0 || i == n - 1 { 0.5 } else { 1.0 };
        integral += w * lik * dx;
    }
    let exact = -2.0 * integral.ln() - 3.0 * two_pi.ln();
    eprintln!("FOCE-I (M3) {focei:.6}, integral {exact:.6}");
    assert!((focei - exact).abs() < 0.1, "FOCE-I {focei} vs {exact}");
}

/// 50 simulated subjects; every sample below 0.8 mmol/L (about the baseline) reported as
/// CENS=1 with the limit as DV. With M3 the baseline estimate stays near the full data's; leaving
/// the censored samples out (M1) biases it up.
#[test]
fn m3_recovers_the_baseline_from_censored_data() {
    let truth_text = include_str!("../../../data/examples/fit/mg-2cmt-baseline.toml");
    let truth = EstimationModel::from_toml(truth_text).unwrap();
    let full = simulate_nonmem(&truth, &Design::default(), 2026).unwrap();
    let lim = 0.8;
    let mut m3 = String::new();
    let mut m1 = String::new();
    let mut n_cens = 0;
    for l in full.lines() {
        if l.starts_with('#') {
            m3.push_str(l);
            m3.push('\n');
            m1.push_str(l);
            m1.push('\n');
            continue;
        }
        if l.starts_with("ID") {
            m3.push_str(&format!("{l},CENS\n"));
            m1.push_str(&format!("{l}\n"));
            continue;
        }
        let f: Vec<&str> = l.split(',').collect();
        // ID,TIME,EVID,MDV,AMT,RATE,DV,WT
        let dv: Option<f64> = f[6].parse().ok();
        if f[2] == "0" && dv.is_some_and(|v| v < lim) {
            n_cens += 1;
            let mut g = f.clone();
            let limit = format!("{lim}");
            g[6] = &limit;
            m3.push_str(&format!("{},1\n", g.join(",")));
        } else {
            m3.push_str(&format!("{l},0\n"));
            m1.push_str(&format!("{l}\n"));
        }
    }
    eprintln!("{n_cens} censored samples");
    assert!(n_cens >= 20, "{n_cens}");
    let settings = FitSettings {
        covariance: false,
        ..Default::default()
    };
    let r_full = fit(&truth, &dataset(&full), &settings, &|_| {}).unwrap();
    let r_m3 = fit(&truth, &dataset(&m3), &settings, &|_| {}).unwrap();
    let r_m1 = fit(&truth, &dataset(&m1), &settings, &|_| {}).unwrap();
    let b = |r: &mgiv_fit::FitResult| r.theta["baseline_mmol_l"];
    eprintln!(
        "baseline: full {:.4}, M3 {:.4}, M1 {:.4}; CL full {:.3} M3 {:.3} M1 {:.3}; omega base full {:.4} M3 {:.4} M1 {:.4}",
        b(&r_full),
        b(&r_m3),
        b(&r_m1),
        r_full.theta["cl_l_h"],
        r_m3.theta["cl_l_h"],
        r_m1.theta["cl_l_h"],
        r_full.omega["baseline_mmol_l"],
        r_m3.omega["baseline_mmol_l"],
        r_m1.omega["baseline_mmol_l"]
    );
    assert!(r_m3.converged);
    // seed 2026: full 0.808, M3 0.785, M1 0.901 (truth 0.8); 26 samples censored
    assert!((b(&r_m3) - 0.8).abs() < 0.04, "M3 {}", b(&r_m3));
    assert!(
        (b(&r_m3) - b(&r_full)).abs() < 0.03,
        "{} vs {}",
        b(&r_m3),
        b(&r_full)
    );
    assert!(b(&r_m1) - b(&r_full) > 3.0 * (b(&r_m3) - b(&r_full)).abs());
    assert!(b(&r_m1) > 0.88, "M1 {}", b(&r_m1));
    assert!((r_m3.theta["cl_l_h"] / r_full.theta["cl_l_h"] - 1.0).abs() < 0.1);
}

mod gradcheck;

/// The exact outer gradient with censored observations (M3, both directions) against central
/// differences: one subject with an η, and without random effects.
#[test]
fn exact_gradient_with_m3_matches_central_differences() {
    for omega in [true, false] {
        let m = one_cmt(omega);
        let (subjects, _) = prepare(&m, &dataset(DATA)).unwrap();
        assert_eq!(subjects[0].limits.len(), 2);
        let x: Vec<f64> = mgiv_fit::focei::initial_coordinates(&m)
            .iter()
            .enumerate()
            .map(|(i, v)| v + 0.05 * ((i % 3) as f64 - 1.0))
            .collect();
        gradcheck::check_gradient(&m, &subjects, &x, false);
    }
}
