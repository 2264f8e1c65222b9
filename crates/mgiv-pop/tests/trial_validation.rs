//! Population-level statements of magnesium-pk.md §8 (case 5, Okusanya 2016; case 2, Vo 2025)
//! reproduced by virtual trials, and internal consistency of the trial summary.

use mgiv_core::model::builtin_model;
use mgiv_pop::population::builtin_population;
use mgiv_pop::trial::{default_thresholds_mmol_l, Trial, TrialConfig, TrialRegimen, TrialResult};

fn run(pop: &str, model: &str, regimens: &[(&str, &str)], times: Vec<f64>, n: u64) -> TrialResult {
    let regimens: Vec<TrialRegimen> = regimens
        .iter()
        .map(|(l, t)| TrialRegimen {
            label: l.to_string(),
            text: t.to_string(),
        })
        .collect();
    Trial::new(
        &builtin_model(model).unwrap(),
        &builtin_population(pop).unwrap(),
        &regimens,
        TrialConfig {
            n_subjects: n,
            seed: 2026,
            times_h: times,
            target_mmol_l: (2.0, 3.5),
            thresholds_mmol_l: default_thresholds_mmol_l().unwrap(),
        },
    )
    .unwrap()
    .run(None)
    .unwrap()
}

#[test]
fn case5_load_doubles_baseline_and_1g_h_keeps_most_under_2() {
    let r = run(
        "pre-eclampsia",
        "du-2019",
        &[
            ("4 g + 1 g/h", "4 g over 20 min, then 1 g/h for 24 h"),
            ("6 g + 1 g/h", "6 g over 20 min, then 1 g/h for 24 h"),
        ],
        vec![0.0, 0.5, 6.0, 12.0, 24.0],
        40_000,
    );
    let baseline = r.regimens[0].points[0].p50_mmol_l; // t = 0: the endogenous baseline
    assert!((baseline - 0.75).abs() < 0.01, "{baseline}");
    // Okusanya 2016: a 4-6 g load doubles the baseline at 30 min
    let r4 = r.regimens[0].points[1].p50_mmol_l / baseline;
    let r6 = r.regimens[1].points[1].p50_mmol_l / baseline;
    eprintln!("median C(30 min)/baseline: 4 g {r4:.2}, 6 g {r6:.2}");
    assert!((1.7..=2.6).contains(&r4), "4 g: {r4}");
    assert!((2.0..=3.2).contains(&r6), "6 g: {r6}");
    // 1 g/h keeps most patients under 2 mmol/L (at every time after the load)
    for p in &r.regimens[0].points[2..] {
        eprintln!(
            "4 g + 1 g/h at {} h: P(>2.0) = {:.3}",
            p.time_h, p.p_above[0]
        );
        assert!(p.p_above[0] < 0.5, "{} h: {}", p.time_h, p.p_above[0]);
    }
}

#[test]
fn vo_2025_fraction_above_2_at_6_h() {
    // Vo 2025 (severe PE, n = 64, 4.5 g/20 min + 1 g/h): 30 min 1.65 ± 0.32, 6 h 1.60 ± 0.34,
    // 17.2 % ≥ 2.0 mmol/L at 6 h. Du 2019's US cohort is heavier (90 kg) than a Vietnamese one,
    // so the model is expected to predict somewhat lower levels; the check is loose and the
    // figures are reported in docs/POPULATION.md.
    let r = run(
        "pre-eclampsia",
        "du-2019",
        &[("vo", "4.5 g over 20 min, then 1 g/h for 24 h")],
        vec![0.5, 6.0],
        40_000,
    );
    let p30 = &r.regimens[0].points[0];
    let p6 = &r.regimens[0].points[1];
    eprintln!(
        "Vo 2025 check: 30 min median {:.2} (p05-p95 {:.2}-{:.2}); 6 h median {:.2}; P(>2.0 at 6 h) = {:.3}",
        p30.p50_mmol_l, p30.p05_mmol_l, p30.p95_mmol_l, p6.p50_mmol_l, p6.p_above[0]
    );
    assert!((p30.p50_mmol_l - 1.65).abs() < 0.32, "{}", p30.p50_mmol_l);
    assert!((p6.p50_mmol_l - 1.60).abs() < 0.34, "{}", p6.p50_mmol_l);
    assert!((0.03..=0.35).contains(&p6.p_above[0]), "{}", p6.p_above[0]);
}

#[test]
fn summary_is_internally_consistent() {
    let r = run(
        "pre-eclampsia",
        "du-2019",
        &[("6+2", "6 g over 20 min, then 2 g/h for 24 h")],
        (0..=48).map(|h| h as f64).collect(),
        20_000,
    );
    let g = &r.regimens[0];
    for p in &g.points {
        assert!(p.p05_mmol_l <= p.p25_mmol_l && p.p25_mmol_l <= p.p50_mmol_l);
        assert!(p.p50_mmol_l <= p.p75_mmol_l && p.p75_mmol_l <= p.p95_mmol_l);
        assert!(p.p_above[0] >= p.p_above[1] && p.p_above[1] >= p.p_above[2]);
        // the peak can only exceed a threshold if some time point... the converse holds:
        for (k, pa) in p.p_above.iter().enumerate() {
            assert!(g.p_cmax_above[k] + 1e-12 >= *pa);
        }
    }
    // reaching the lower bound of the target is implied by the peak exceeding it
    assert!((g.p_reach_target - g.p_cmax_above[0]).abs() < 1e-3);
    let t = g.time_to_target_percentiles_h;
    assert!(t[0].unwrap() <= t[2].unwrap() && t[2].unwrap() <= t[4].unwrap());
    // steady state of 2 g/h: 0.74 + 8.11/3.72 ≈ 2.92 for the typical woman (Du 2019)
    let p24 = &g.points[24];
    assert!((p24.p50_mmol_l - 2.8).abs() < 0.4, "{}", p24.p50_mmol_l);
}

/// Mean and SD of the true level at `times` over `n` virtual patients of `pop` (no assay error).
fn mean_sd(
    spec: &mgiv_core::model::ModelSpec,
    pop: &str,
    regimen: &str,
    times: &[f64],
    n: u64,
) -> Vec<(f64, f64)> {
    use mgiv_core::regimen::Regimen;
    use mgiv_core::solver::Modes;
    use mgiv_pop::kernel::{Kernel, Plan};
    use mgiv_pop::popmodel::PopModel;
    use mgiv_pop::rng::{Stream, SubjectRng};
    let pm = PopModel::new(spec).unwrap();
    let pop = builtin_population(pop).unwrap();
    let reg = Regimen::from_text(regimen, None).unwrap();
    let plan = Plan::new(&reg.events);
    let k = pm.n_eta();
    let (mut z, mut eta) = (vec![0.0; k], vec![0.0; k]);
    let mut out = vec![0.0; times.len()];
    let mut s1 = vec![0.0; times.len()];
    let mut s2 = vec![0.0; times.len()];
    for i in 0..n {
        let cov = pop.draw(&mut SubjectRng::new(7, i, Stream::Covariates));
        pm.draw_eta(&mut SubjectRng::new(7, i, Stream::Etas), &mut z, &mut eta);
        let p = pm.individual(&pm.typical(&cov), &eta, cov.baseline_mmol_l);
        Kernel::new(&Modes::from_params(&p).unwrap()).run(&plan, times, &mut out, None);
        for (j, &c) in out.iter().enumerate() {
            s1[j] += c;
            s2[j] += c * c;
        }
    }
    let nf = n as f64;
    s1.iter()
        .zip(&s2)
        .map(|(a, b)| {
            let m = a / nf;
            (m, (b / nf - m * m).max(0.0).sqrt())
        })
        .collect()
}

/// Issue 10 item 2: the spread of levels after a 4-6 g load against public data, as a function of
/// the Vc variability. Run with `cargo test -p mgiv-pop --test trial_validation -- --ignored
/// --nocapture vc_variability_table`.
#[test]
#[ignore]
fn vc_variability_table() {
    eprintln!("| Vc CV % | Vo 30 min mean ± SD (CV) | Vo 6 h mean ± SD (CV) | P(peak > 3.5), 6 g/20 min | P(peak > 3.5), 6 g + 2 g/h 24 h | P(peak > 3.5), 4 g + 1 g/h 24 h |");
    for cv in [52.2, 40.0, 30.0, 25.0, 20.0, 15.0] {
        let mut spec = builtin_model("du-2019").unwrap();
        spec.variability
            .as_mut()
            .unwrap()
            .iiv_cv_percent
            .insert("v1_l".into(), cv);
        let ms = mean_sd(
            &spec,
            "pre-eclampsia",
            "4.5 g over 20 min, then 1 g/h for 24 h",
            &[0.5, 6.0],
            20_000,
        );
        let regimens: Vec<TrialRegimen> = [
            "6 g over 20 min",
            "6 g over 20 min, then 2 g/h for 24 h",
            "4 g over 20 min, then 1 g/h for 24 h",
        ]
        .iter()
        .map(|t| TrialRegimen {
            label: t.to_string(),
            text: t.to_string(),
        })
        .collect();
        let r = Trial::new(
            &spec,
            &builtin_population("pre-eclampsia").unwrap(),
            &regimens,
            TrialConfig {
                n_subjects: 40_000,
                seed: 2026,
                times_h: vec![0.25, 0.5, 1.0, 2.0, 24.0],
                target_mmol_l: (2.0, 3.5),
                thresholds_mmol_l: default_thresholds_mmol_l().unwrap(),
            },
        )
        .unwrap()
        .run(None)
        .unwrap();
        let i35 = r.thresholds_mmol_l.iter().position(|&t| t == 3.5).unwrap();
        eprintln!(
            "| {cv} | {:.2} ± {:.2} ({:.0} %) | {:.2} ± {:.2} ({:.0} %) | {:.1} % | {:.1} % | {:.1} % |",
            ms[0].0,
            ms[0].1,
            100.0 * ms[0].1 / ms[0].0,
            ms[1].0,
            ms[1].1,
            100.0 * ms[1].1 / ms[1].0,
            100.0 * r.regimens[0].p_cmax_above[i35],
            100.0 * r.regimens[1].p_cmax_above[i35],
            100.0 * r.regimens[2].p_cmax_above[i35],
        );
    }
}

/// Issue 10 item 2: with the shipped (calibrated) Vc variability, the spread 30 min after a 4.5 g
/// load matches Vo 2025 (CV 19.4 %, n = 64; its 95 % range about 16-23 %), and a single 6 g/20
/// min load rarely peaks above 3.5 mmol/L.
#[test]
fn spread_after_a_load_matches_vo_2025() {
    let spec = builtin_model("du-2019").unwrap();
    let ms = mean_sd(
        &spec,
        "pre-eclampsia",
        "4.5 g over 20 min, then 1 g/h for 24 h",
        &[0.5],
        10_000,
    );
    let cv = ms[0].1 / ms[0].0;
    eprintln!(
        "30 min after 4.5 g: {:.2} ± {:.2} (CV {:.3})",
        ms[0].0, ms[0].1, cv
    );
    assert!((0.16..=0.23).contains(&cv), "{cv}");
    let r = run(
        "pre-eclampsia",
        "du-2019",
        &[("6 g", "6 g over 20 min")],
        vec![0.25, 0.5, 1.0, 2.0],
        20_000,
    );
    let i35 = r.thresholds_mmol_l.iter().position(|&t| t == 3.5).unwrap();
    let p = r.regimens[0].p_cmax_above[i35];
    eprintln!("P(peak > 3.5) after 6 g/20 min: {p:.3}");
    assert!(p < 0.04, "{p}");
}
