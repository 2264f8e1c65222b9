//! FOCE-I checks: dual predictions against mgiv-core's modal solver, the objective against a
//! brute-force integral of the likelihood, thread independence, and recovery of a known truth.

use mgiv_core::model::{IndividualParams, Peripheral};
use mgiv_core::solver::Modes;
use mgiv_data::{read, ReadOptions};
use mgiv_fit::dual::Dual;
use mgiv_fit::focei::{evaluate, prepare, PopParams};
use mgiv_fit::pred::{predict_dual, DParams};
use mgiv_fit::sim::{simulate_nonmem, Design};
use mgiv_fit::{fit, EstimationModel, FitSettings};

const TRUTH: &str = include_str!("../../../data/examples/fit/mg-2cmt-baseline.toml");

fn dataset(text: &str) -> mgiv_data::Dataset {
    let (ds, d) = read(text, &ReadOptions::default());
    ds.unwrap_or_else(|| panic!("{d:#?}"))
}

#[test]
fn dual_predictions_match_the_modal_solver_and_finite_differences() {
    let truth = EstimationModel::from_toml(TRUTH).unwrap();
    let text = simulate_nonmem(
        &truth,
        &Design {
            n_subjects: 3,
            ..Default::default()
        },
        5,
    )
    .unwrap();
    let ds = dataset(&text);
    let (subjects, _) = prepare(&truth, &ds).unwrap();
    let (cl, v1, q, v2, base) = (3.1, 14.0, 4.4, 22.0, 0.77);
    let dp = |d: f64| DParams {
        cl: Dual::var(cl + d, 0),
        v1: Dual::var(v1, 1),
        q: Dual::cst(q),
        v2: Dual::cst(v2),
        base: Dual::cst(base),
        two_cmt: true,
        ka_h: None,
        f_im: 1.0,
    };
    let modes = |d: f64| {
        Modes::from_params(&IndividualParams {
            cl_l_h: cl + d,
            v1_l: v1,
            peripheral: Some(Peripheral { q_l_h: q, v2_l: v2 }),
            ka_h: None,
            f_im: None,
            baseline_mmol_l: base,
        })
        .unwrap()
    };
    let mut buf = Vec::new();
    let mut n = 0;
    for s in &subjects {
        for seg in &s.segments {
            predict_dual(&dp(0.0), seg, &mut buf);
            let modal = mgiv_data::predict(&modes(0.0), seg);
            let h = 1e-5;
            let up = mgiv_data::predict(&modes(h), seg);
            let dn = mgiv_data::predict(&modes(-h), seg);
            for (j, d) in buf.iter().enumerate() {
                assert!((d.v - modal[j]).abs() < 1e-10, "{} vs {}", d.v, modal[j]);
                let fd = (up[j] - dn[j]) / (2.0 * h);
                assert!(
                    (d.g[0] - fd).abs() < 1e-7 * fd.abs().max(1.0),
                    "{} vs {fd}",
                    d.g[0]
                );
                n += 1;
            }
        }
    }
    assert!(n >= 12);
}

/// One subject, one η (on CL), one-compartment: FOCE-I against −2 ln ∫ p(y|η) p(η) dη computed
/// by brute-force quadrature with mgiv-core's modal solver.
#[test]
fn ofv_matches_a_brute_force_integral_for_one_subject_and_one_eta() {
    let model_text = r#"
id = "one-eta"
name = "1-cmt, eta on CL"
structure = "one-compartment"
[estimation]
baseline = "fixed"
[estimation.theta]
cl_l_h = { init = 3.0, lower = 0.1, upper = 50.0 }
v1_l = { init = 20.0, lower = 1.0, upper = 200.0 }
baseline_mmol_l = { init = 0.8, lower = 0.1, upper = 3.0 }
[estimation.omega]
parameters = ["cl_l_h"]
init = [0.04]
[estimation.residual]
model = "combined"
additive_mmol_l = 0.05
proportional = 0.1
"#;
    let m = EstimationModel::from_toml(model_text).unwrap();
    let data = "# DV_UNIT=mmol/L\n# AMT_UNIT=mmol\nID,TIME,EVID,MDV,AMT,RATE,DV\n\
                1,0,1,1,40,20,.\n1,2,0,0,.,.,2.3\n1,6,0,0,.,.,1.6\n1,12,0,0,.,.,1.1\n";
    let ds = dataset(data);
    let (subjects, _) = prepare(&m, &ds).unwrap();
    let p = PopParams::initial(&m);
    let focei: f64 = evaluate(&m, &p, &subjects)
        .unwrap()
        .iter()
        .map(|x| x.0)
        .sum();
    // brute force
    let seg = &subjects[0].segments[0];
    let y = &subjects[0].y;
    let omega: f64 = 0.04;
    let (lo, hi, n) = (-8.0 * omega.sqrt(), 8.0 * omega.sqrt(), 20001);
    let dx = (hi - lo) / (n - 1) as f64;
    let mut integral = 0.0;
    for i in 0..n {
        let eta = lo + i as f64 * dx;
        let modes = Modes::from_params(&IndividualParams {
            cl_l_h: 3.0 * eta.exp(),
            v1_l: 20.0,
            peripheral: None,
            ka_h: None,
            f_im: None,
            baseline_mmol_l: 0.8,
        })
        .unwrap();
        let f = mgiv_data::predict(&modes, seg);
        let mut lik =
            (-0.5 * eta * eta / omega).exp() / (2.0 * std::f64::consts::PI * omega).sqrt();
        for (fj, yj) in f.iter().zip(y) {
            let r = (0.1 * fj).powi(2) + 0.05f64.powi(2);
            lik *= (-0.5 * (yj - fj).powi(2) / r).exp() / (2.0 * std::f64::consts::PI * r).sqrt();
        }
        let w = if i == 0 || i == n - 1 { 0.5 } else { 1.0 };
        integral += w * lik * dx;
    }
    let exact = -2.0 * integral.ln() - y.len() as f64 * (2.0 * std::f64::consts::PI).ln();
    eprintln!(
        "FOCE-I {focei:.6}, integral {exact:.6}, difference {:.2e}",
        focei - exact
    );
    // FOCE-I is an approximation (Laplace with the first-order Hessian): close, not equal
    assert!((focei - exact).abs() < 0.1, "FOCE-I {focei} vs {exact}");
}

/// Additive error, one η: the OFV equals NONMEM's FOCE form ln|Ṽ| + ỹᵀṼ⁻¹ỹ, Ṽ = GωGᵀ + σ²I,
/// ỹ = y − f(η̂) + Gη̂, computed here independently: η̂ by golden-section search, G by central
/// differences, f by mgiv-core's modal solver.
#[test]
fn ofv_equals_the_nonmem_foce_form_computed_independently() {
    let model_text = r#"
id = "one-eta-add"
name = "1-cmt, eta on CL, additive error"
structure = "one-compartment"
[estimation]
baseline = "fixed"
[estimation.theta]
cl_l_h = { init = 3.0, lower = 0.1, upper = 50.0 }
v1_l = { init = 20.0, lower = 1.0, upper = 200.0 }
baseline_mmol_l = { init = 0.8, lower = 0.1, upper = 3.0 }
[estimation.omega]
parameters = ["cl_l_h"]
init = [0.09]
[estimation.residual]
model = "additive"
additive_mmol_l = 0.1
"#;
    let m = EstimationModel::from_toml(model_text).unwrap();
    let data = "# DV_UNIT=mmol/L\n# AMT_UNIT=mmol\nID,TIME,EVID,MDV,AMT,RATE,DV\n\
                1,0,1,1,40,20,.\n1,2,0,0,.,.,2.5\n1,6,0,0,.,.,1.9\n1,12,0,0,.,.,1.2\n1,24,0,0,.,.,0.9\n";
    let ds = dataset(data);
    let (subjects, _) = prepare(&m, &ds).unwrap();
    let focei: f64 = evaluate(&m, &PopParams::initial(&m), &subjects).unwrap()[0].0;
    let seg = &subjects[0].segments[0];
    let y = &subjects[0].y;
    let (omega, s2) = (0.09, 0.01);
    let f = |eta: f64| {
        let modes = Modes::from_params(&IndividualParams {
            cl_l_h: 3.0 * eta.exp(),
            v1_l: 20.0,
            peripheral: None,
            ka_h: None,
            f_im: None,
            baseline_mmol_l: 0.8,
        })
        .unwrap();
        mgiv_data::predict(&modes, seg)
    };
    let l = |eta: f64| {
        f(eta)
            .iter()
            .zip(y)
            .map(|(a, b)| (b - a).powi(2) / s2)
            .sum::<f64>()
            + eta * eta / omega
    };
    // golden-section search for η̂
    let (mut a, mut b) = (-2.0, 2.0);
    let g = (5f64.sqrt() - 1.0) / 2.0;
    for _ in 0..200 {
        let (c, d) = (b - g * (b - a), a + g * (b - a));
        if l(c) < l(d) {
            b = d;
        } else {
            a = c;
        }
    }
    let eta = 0.5 * (a + b);
    let h = 1e-6;
    let (fp, fm, f0) = (f(eta + h), f(eta - h), f(eta));
    let gv: Vec<f64> = fp
        .iter()
        .zip(&fm)
        .map(|(p, q)| (p - q) / (2.0 * h))
        .collect();
    let n = y.len();
    // Ṽ = ω g gᵀ + σ² I: inverse and determinant by Sherman–Morrison / the determinant lemma
    let gg: f64 = gv.iter().map(|x| x * x).sum();
    let logdet = n as f64 * s2.ln() + (1.0 + omega * gg / s2).ln();
    let yt: Vec<f64> = (0..n).map(|j| y[j] - f0[j] + gv[j] * eta).collect();
    let gy: f64 = gv.iter().zip(&yt).map(|(a, b)| a * b).sum();
    let yy: f64 = yt.iter().map(|x| x * x).sum();
    let quad = yy / s2 - omega * gy * gy / (s2 * s2 * (1.0 + omega * gg / s2));
    let nonmem = logdet + quad;
    eprintln!("mgiv {focei:.9} NONMEM form {nonmem:.9}");
    assert!((focei - nonmem).abs() < 1e-6, "{focei} vs {nonmem}");
}

/// Combined error, one η: the OFV equals NONMEM's METHOD=1 INTER objective (Almquist et al. 2015,
/// eq. 15) computed here independently: L(η̂) + ln ω + ln H̃ with H̃ = Σ G²/R + ½ Σ (R′/R)² + 1/ω,
/// η̂ by golden-section search, G = ∂f/∂η and R′ = ∂R/∂η by central differences, f by mgiv-core's
/// modal solver. Leaving out the ½ Σ (R′/R)² term (the "interaction" in the Hessian) moves the OFV
/// by more than the tolerance, so the check sees it.
#[test]
fn ofv_equals_the_nonmem_focei_inter_form_computed_independently() {
    let model_text = r#"
id = "one-eta-combined"
name = "1-cmt, eta on CL, combined error"
structure = "one-compartment"
[estimation]
baseline = "fixed"
[estimation.theta]
cl_l_h = { init = 3.0, lower = 0.1, upper = 50.0 }
v1_l = { init = 20.0, lower = 1.0, upper = 200.0 }
baseline_mmol_l = { init = 0.8, lower = 0.1, upper = 3.0 }
[estimation.omega]
parameters = ["cl_l_h"]
init = [0.09]
[estimation.residual]
model = "combined"
additive_mmol_l = 0.02
proportional = 0.15
"#;
    let m = EstimationModel::from_toml(model_text).unwrap();
    let data = "# DV_UNIT=mmol/L\n# AMT_UNIT=mmol\nID,TIME,EVID,MDV,AMT,RATE,DV\n\
                1,0,1,1,40,20,.\n1,2,0,0,.,.,2.5\n1,6,0,0,.,.,1.9\n1,12,0,0,.,.,1.2\n1,24,0,0,.,.,0.9\n";
    let ds = dataset(data);
    let (subjects, _) = prepare(&m, &ds).unwrap();
    let focei: f64 = evaluate(&m, &PopParams::initial(&m), &subjects).unwrap()[0].0;
    let seg = &subjects[0].segments[0];
    let y = &subjects[0].y;
    let (omega, prop, add): (f64, f64, f64) = (0.09, 0.15, 0.02);
    let f = |eta: f64| {
        let modes = Modes::from_params(&IndividualParams {
            cl_l_h: 3.0 * eta.exp(),
            v1_l: 20.0,
            peripheral: None,
            ka_h: None,
            f_im: None,
            baseline_mmol_l: 0.8,
        })
        .unwrap();
        mgiv_data::predict(&modes, seg)
    };
    let var = |fj: f64| (prop * fj).powi(2) + add * add;
    let l = |eta: f64| {
        f(eta)
            .iter()
            .zip(y)
            .map(|(a, b)| var(*a).ln() + (b - a).powi(2) / var(*a))
            .sum::<f64>()
            + eta * eta / omega
    };
    let (mut a, mut b) = (-2.0, 2.0);
    let g = (5f64.sqrt() - 1.0) / 2.0;
    for _ in 0..200 {
        let (c, d) = (b - g * (b - a), a + g * (b - a));
        if l(c) < l(d) {
            b = d;
        } else {
            a = c;
        }
    }
    let eta = 0.5 * (a + b);
    let h = 1e-6;
    let (fp, fm, f0) = (f(eta + h), f(eta - h), f(eta));
    let mut gauss_newton = 1.0 / omega;
    let mut interaction = 0.0;
    for j in 0..y.len() {
        let gj = (fp[j] - fm[j]) / (2.0 * h);
        let dr = (var(fp[j]) - var(fm[j])) / (2.0 * h);
        gauss_newton += gj * gj / var(f0[j]);
        interaction += 0.5 * (dr / var(f0[j])).powi(2);
    }
    let inter = l(eta) + omega.ln() + (gauss_newton + interaction).ln();
    let without = l(eta) + omega.ln() + gauss_newton.ln();
    eprintln!("mgiv {focei:.9} INTER form {inter:.9} (without the interaction term {without:.9})");
    assert!(
        (inter - without).abs() > 1e-3,
        "the check must separate the two forms"
    );
    assert!((focei - inter).abs() < 1e-6, "{focei} vs {inter}");
}

#[test]
fn objective_is_independent_of_the_thread_count() {
    let truth = EstimationModel::from_toml(TRUTH).unwrap();
    let text = simulate_nonmem(
        &truth,
        &Design {
            n_subjects: 12,
            ..Default::default()
        },
        9,
    )
    .unwrap();
    let ds = dataset(&text);
    let (subjects, _) = prepare(&truth, &ds).unwrap();
    let p = PopParams::initial(&truth);
    let run = |threads| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap()
            .install(|| evaluate(&truth, &p, &subjects).unwrap())
    };
    let a = run(1);
    let b = run(3);
    assert_eq!(a, b);
    // and simulation is reproducible from the seed
    assert_eq!(
        text,
        simulate_nonmem(
            &truth,
            &Design {
                n_subjects: 12,
                ..Default::default()
            },
            9
        )
        .unwrap()
    );
}

/// 50 simulated subjects (4-8 samples each) from a known magnesium-like 2-compartment model with
/// a baseline; the fit starts 25-40 % away from the truth and must recover it.
#[test]
fn focei_recovers_a_known_truth() {
    let truth = EstimationModel::from_toml(TRUTH).unwrap();
    let text = simulate_nonmem(&truth, &Design::default(), 2026).unwrap();
    let ds = dataset(&text);
    let start = TRUTH
        .replace("cl_l_h = { init = 4.0", "cl_l_h = { init = 5.2")
        .replace("v1_l = { init = 15.0", "v1_l = { init = 10.0")
        .replace("q_l_h = { init = 4.0", "q_l_h = { init = 2.8")
        .replace("v2_l = { init = 20.0", "v2_l = { init = 27.0")
        .replace("init = 0.8,", "init = 1.0,")
        .replace("init = [0.09, 0.04, 0.01]", "init = [0.2, 0.1, 0.03]")
        .replace("additive_mmol_l = 0.08", "additive_mmol_l = 0.12")
        .replace("proportional = 0.06", "proportional = 0.1");
    let m = EstimationModel::from_toml(&start).unwrap();
    assert_ne!(m.thetas[0].init, truth.thetas[0].init);
    let r = fit(&m, &ds, &FitSettings::default(), &|_| {}).unwrap();
    eprintln!("{}", serde_json_lite(&r));
    let (subjects, _) = prepare(&truth, &ds).unwrap();
    let at_truth: f64 = evaluate(&truth, &PopParams::initial(&truth), &subjects)
        .unwrap()
        .iter()
        .map(|x| x.0)
        .sum();
    eprintln!("OFV at the truth {at_truth:.3}");
    assert_eq!(r.n_subjects, 50);
    assert!(r.converged);
    let truth_theta = [
        ("cl_l_h", 4.0),
        ("v1_l", 15.0),
        ("q_l_h", 4.0),
        ("v2_l", 20.0),
        ("baseline_mmol_l", 0.8),
    ];
    for (n, t) in truth_theta {
        let est = r.theta[n];
        let rse = r.rse_percent[&format!("theta.{n}")];
        let se = rse / 100.0 * est;
        // within 3 standard errors; and within 35 % for CL, V1 and the baseline, within a factor
        // 1.5 for Q and V2, the least informed by 4-8 samples (RSE ~ 40 % for V2 here: with the
        // ziggurat normals of mgiv-pop this seed's V2 is 27.6 L, 0.9 SE from the truth)
        assert!((est - t).abs() < 3.0 * se, "{n}: {est} vs {t} (SE {se})");
        let bound = if n == "q_l_h" || n == "v2_l" {
            0.5
        } else {
            0.35
        };
        assert!((est / t - 1.0).abs() < bound, "{n}: {est} vs {t}");
    }
    // variances and residual SDs: within 3 standard errors (and a factor of 3) of the truth;
    // with 50 subjects the additive SD has an RSE near 70 %
    let within = |key: &str, est: f64, t: f64| {
        let se = r.rse_percent[key] / 100.0 * est;
        assert!((est - t).abs() < 3.0 * se, "{key}: {est} vs {t} (SE {se})");
        assert!(est / t > 1.0 / 3.0 && est / t < 3.0, "{key}: {est} vs {t}");
    };
    for (n, t) in [("cl_l_h", 0.09), ("v1_l", 0.04), ("baseline_mmol_l", 0.01)] {
        within(&format!("omega.{n}"), r.omega[n], t);
    }
    within("sigma.proportional", r.sigma["proportional"], 0.06);
    within("sigma.additive_mmol_l", r.sigma["additive_mmol_l"], 0.08);
    // the OFV at the estimates is below the OFV at the truth (the optimum of this data set)
    assert!(r.ofv <= at_truth + 1e-6, "{} vs {at_truth}", r.ofv);
    assert_eq!(r.individuals.len(), 50);
    assert!(r.shrinkage_percent["cl_l_h"] < 40.0);
}

fn serde_json_lite(r: &mgiv_fit::FitResult) -> String {
    format!(
        "ofv {:.3} conv {} evals {} theta {:?} omega {:?} sigma {:?} rse {:?} shrink {:?}",
        r.ofv,
        r.converged,
        r.objective_evaluations,
        r.theta,
        r.omega,
        r.sigma,
        r.rse_percent,
        r.shrinkage_percent
    )
}
