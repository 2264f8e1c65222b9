//! Issue 10, calibrated variability for the non-pregnant adult and ICU populations: the spread of
//! levels the virtual population predicts (interquartile range / 1.349, a normal SD) at each
//! adult study's design, against the between-patient SD the study reports. The population
//! includes what the studies' patients differ in: weight, creatinine, the endogenous baseline and
//! the model's IIV. Run with `--nocapture` for the table in docs/POPULATION.md.

use mgiv_clinical::trial::{trial_setup, TrialRequest};

/// (study, population, regimen, [(time h, reported SD mmol/L)], n)
type Study = (
    &'static str,
    &'static str,
    &'static str,
    &'static [(f64, f64)],
    u32,
);

const STUDIES: &[Study] = &[
    (
        "Biesenbach 2018 (IQR/1.349)",
        "icu",
        "10 mmol over 15 min, then 3 mmol/h for 12 h",
        &[(1.0, 0.222), (6.0, 0.222), (12.0, 0.222)],
        20,
    ),
    (
        "Fuchs-Buder 1997",
        "adult",
        "60 mg/kg over 15 min",
        &[(0.75, 0.10), (1.75, 0.15), (4.25, 0.14)],
        20,
    ),
    (
        "Osawa 2020",
        "icu",
        "10 mmol over 1 h, then 3 mmol/h for 28 h",
        &[(24.0, 0.34)],
        99,
    ),
    (
        "Ann Thorac Surg 1995",
        "icu",
        "2.4 g over 30 min every 4 h for 24 h",
        &[(24.0, 0.34), (48.0, 0.19)],
        46,
    ),
];

#[test]
fn predicted_spread_of_adult_levels_matches_the_reported_sd() {
    let mut ratios = Vec::new();
    let mut icu = Vec::new();
    eprintln!("| study | population | time h | reported SD | predicted IQR/1.349 | ratio |");
    eprintln!("|---|---|---|---|---|---|");
    for (study, pop, regimen, obs, _n) in STUDIES {
        let times: Vec<f64> = obs.iter().map(|o| o.0).collect();
        let setup = trial_setup(&TrialRequest {
            regimens: vec![regimen.to_string()],
            population: Some(pop.to_string()),
            model_id: Some("mgiv-adult-2026".into()),
            times_h: Some(times),
            n: 20_000,
            seed: 1,
            ..Default::default()
        })
        .unwrap();
        let r = setup.spec.trial().unwrap().run(None).unwrap();
        for (p, (t, sd)) in r.regimens[0].points.iter().zip(obs.iter()) {
            let pred = (p.p75_mmol_l - p.p25_mmol_l) / 1.349;
            let ratio = pred / sd;
            eprintln!("| {study} | {pop} | {t} | {sd:.3} | {pred:.3} | {ratio:.2} |");
            ratios.push(ratio);
            if *pop == "icu" {
                icu.push(ratio);
            }
        }
    }
    let gmean = |v: &[f64]| (v.iter().map(|r| r.ln()).sum::<f64>() / v.len() as f64).exp();
    let gm = gmean(&ratios);
    let gm_icu = gmean(&icu);
    eprintln!(
        "geometric mean ratio predicted/reported: {gm:.2} over {} levels; ICU cohorts {gm_icu:.2} over {}",
        ratios.len(),
        icu.len()
    );
    // The cardiac-surgery ICU cohorts (the model's IIV with the ICU population's covariates and
    // baseline spread) and the neurosurgical cohort under the hospital adult population (baseline
    // N(0.81, 0.12) mmol/L from three hospital cohorts, data/populations/adult.toml): right on
    // average within 20 %, no level off by more than 1.5x. With the healthy-adult baseline SD
    // (0.055) the neurosurgical cohort was under-predicted about 2x late after the bolus
    // (ratios 0.47 and 0.53, docs/POPULATION.md), which these bounds reject.
    assert!(
        (0.75..=1.25).contains(&gm_icu),
        "ICU geometric mean ratio {gm_icu}"
    );
    assert!(
        ratios.iter().all(|r| (0.67..=1.5).contains(r)),
        "{ratios:?}"
    );
    assert!(
        (0.8..=1.25).contains(&gm),
        "overall geometric mean ratio {gm}"
    );
}

/// Exploration (issue 10): the geometric-mean ratio as the model's IIV CVs are scaled.
#[test]
#[ignore]
fn scan_iiv_scale() {
    for k in [1.0, 1.25, 1.5, 1.75, 2.0] {
        let mut ratios = Vec::new();
        for (_study, pop, regimen, obs, _n) in STUDIES {
            let times: Vec<f64> = obs.iter().map(|o| o.0).collect();
            let mut setup = trial_setup(&TrialRequest {
                regimens: vec![regimen.to_string()],
                population: Some(pop.to_string()),
                model_id: Some("mgiv-adult-2026".into()),
                times_h: Some(times),
                n: 20_000,
                seed: 1,
                ..Default::default()
            })
            .unwrap();
            if let Some(v) = setup.spec.model.variability.as_mut() {
                for cv in v.iiv_cv_percent.values_mut() {
                    *cv *= k;
                }
            }
            let r = setup.spec.trial().unwrap().run(None).unwrap();
            for (p, (_t, sd)) in r.regimens[0].points.iter().zip(obs.iter()) {
                ratios.push((p.p75_mmol_l - p.p25_mmol_l) / 1.349 / sd);
            }
        }
        let gm = (ratios.iter().map(|r| r.ln()).sum::<f64>() / ratios.len() as f64).exp();
        let r: Vec<String> = ratios.iter().map(|x| format!("{x:.2}")).collect();
        eprintln!("k {k}: GM {gm:.2}: {}", r.join(" "));
    }
}
