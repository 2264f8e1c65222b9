//! Population-level statements of magnesium-pk.md §8 (case 5, Okusanya 2016; case 2, Vo 2025)
//! reproduced by virtual trials, and internal consistency of the trial summary.

use mgiv_core::model::builtin_model;
use mgiv_pop::population::builtin_population;
use mgiv_pop::trial::{Trial, TrialConfig, TrialRegimen, TrialResult, DEFAULT_THRESHOLDS_MMOL_L};

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
            thresholds_mmol_l: DEFAULT_THRESHOLDS_MMOL_L.to_vec(),
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
