//! The simulation–re-estimation study of issue 11 (a benchmark; about 2 min in release):
//! 1000 datasets of 50 subjects (4-8 samples each) from the estimation template's truth, each
//! fitted by FOCE-I from the truth, then bias of every parameter and coverage of the RSE-based
//! 90 % intervals: estimate ± 1.645·SE for θ, estimate ×/÷ exp(1.645·RSE) (the same RSE on the
//! log scale) for the variances and residual SDs, whose estimators are skewed. The table also
//! gives the median bias, the natural-scale interval for every parameter and the interval from
//! R⁻¹ instead of the sandwich.
//!
//! Why 1000 datasets (issue 11 names 100): a 90 % coverage estimated from 100 datasets has a
//! binomial SD of 3 points, so a 85-95 % band is missed by chance by a correct method about one
//! time in ten per parameter and, over ten parameters, most of the time; from 1000 datasets the SD
//! is 0.9 points. The 100 datasets the issue asks for are the first tenth of this run
//! (`MGIV_STUDY_N=100`).
//!
//! Design: a 4 g load and 24 h of 1 g/h, samples up to 48 h with the last one of every subject
//! in the washout after the infusion. At 36 h (the first design) few subjects were sampled long
//! enough after the infusion to inform V2, and V2 came out +5.8 % over 1000 datasets; at 48 h it
//! is +4.5 % (BENCHMARKS.md, "Recovery study"). The design was chosen on seeds 1-1000 and
//! confirmed on fresh seeds 1001-2000 (`MGIV_STUDY_FIRST_SEED=1001`).
//!
//! `cargo test --release -p mgiv-fit --test study -- --ignored --nocapture`
//! (`MGIV_STUDY_N=100` for the first 100 datasets; `MGIV_STUDY_FIRST_SEED=K` starts at dataset
//! seed K; `MGIV_STUDY_METHOD=saem` fits by SAEM, seed = dataset seed, instead of FOCE-I;
//! `MGIV_STUDY_WASHOUT=0` samples every subject log-stratified over (0.25 h, horizon) instead of
//! one sample in the washout after the infusion; `MGIV_STUDY_HORIZON_H=36` samples up to 36 h,
//! the first design).

use mgiv_data::{read, ReadOptions};
use mgiv_fit::sim::{simulate_nonmem, Design};
use mgiv_fit::{fit, fit_saem, EstimationModel, FitSettings, SaemSettings};

/// Samples up to 48 h: 24 h of washout after the 24-h infusion (see the module documentation).
const STUDY_HORIZON_H: f64 = 48.0;

#[test]
#[ignore]
fn simulation_reestimation_study() {
    let truth = EstimationModel::from_toml(include_str!(
        "../../../data/examples/fit/mg-2cmt-baseline.toml"
    ))
    .unwrap();
    let n: u64 = std::env::var("MGIV_STUDY_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000);
    let first_seed: u64 = std::env::var("MGIV_STUDY_FIRST_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1);
    let saem = std::env::var("MGIV_STUDY_METHOD").is_ok_and(|m| m == "saem");
    let design = Design {
        horizon_h: std::env::var("MGIV_STUDY_HORIZON_H")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(STUDY_HORIZON_H),
        washout_sample: std::env::var("MGIV_STUDY_WASHOUT").map_or(true, |v| v != "0"),
        ..Design::default()
    };
    let truths: Vec<(String, f64)> = vec![
        ("theta.cl_l_h".into(), 4.0),
        ("theta.v1_l".into(), 15.0),
        ("theta.q_l_h".into(), 4.0),
        ("theta.v2_l".into(), 20.0),
        ("theta.baseline_mmol_l".into(), 0.8),
        ("omega.cl_l_h".into(), 0.09),
        ("omega.v1_l".into(), 0.04),
        ("omega.baseline_mmol_l".into(), 0.01),
        ("sigma.proportional".into(), 0.06),
        ("sigma.additive_mmol_l".into(), 0.08),
    ];
    let mut est: Vec<Vec<f64>> = vec![Vec::new(); truths.len()];
    let mut covered = vec![0usize; truths.len()];
    // the same RSE on the log scale: estimate ×/÷ exp(1.645·RSE) (for positive parameters)
    let mut covered_log = vec![0usize; truths.len()];
    // the interval from R⁻¹ (the inverse Hessian) instead of the sandwich
    let mut covered_rinv = vec![0usize; truths.len()];
    let mut with_cov = vec![0usize; truths.len()];
    let mut converged = 0;
    let t0 = std::time::Instant::now();
    for seed in first_seed..first_seed + n {
        let text = simulate_nonmem(&truth, &design, seed).unwrap();
        let (ds, _) = read(&text, &ReadOptions::default());
        let r = if saem {
            let settings = SaemSettings {
                seed,
                ..Default::default()
            };
            fit_saem(&truth, &ds.unwrap(), &settings, &|_| {}).unwrap()
        } else {
            fit(&truth, &ds.unwrap(), &FitSettings::default(), &|_| {}).unwrap()
        };
        converged += r.converged as usize;
        for (k, (name, t)) in truths.iter().enumerate() {
            let (kind, p) = name.split_once('.').unwrap();
            let v = match kind {
                "theta" => r.theta[p],
                "omega" => r.omega[p],
                _ => r.sigma[p],
            };
            est[k].push(v);
            if let Some(rse) = r.rse_percent.get(name) {
                let se = rse / 100.0 * v.abs();
                with_cov[k] += 1;
                covered[k] += ((v - t).abs() <= 1.645 * se) as usize;
                covered_log[k] += ((v.ln() - t.ln()).abs() <= 1.645 * rse / 100.0) as usize;
                if let Some(c) = &r.covariance {
                    if let Some(i) = c.names.iter().position(|x| x == name) {
                        let se_r = c.r_inverse[i][i].max(0.0).sqrt();
                        covered_rinv[k] += ((v - t).abs() <= 1.645 * se_r) as usize;
                    }
                }
            }
        }
        eprintln!(
            "dataset {seed}: OFV {:.3}, converged {}, V2 {:.2} L (RSE {:.0} %), ω² V1 {:.4} (RSE {:.0} %), {:.0} s so far",
            r.ofv,
            r.converged,
            r.theta["v2_l"],
            r.rse_percent.get("theta.v2_l").copied().unwrap_or(f64::NAN),
            r.omega["v1_l"],
            r.rse_percent.get("omega.v1_l").copied().unwrap_or(f64::NAN),
            t0.elapsed().as_secs_f64()
        );
    }
    eprintln!(
        "\n| parameter | truth | mean estimate | bias % | median bias % | 90 % CI coverage % | log-scale CI coverage % | R⁻¹ CI coverage % | n with covariance |"
    );
    eprintln!("| --- | --- | --- | --- | --- | --- | --- | --- | --- |");
    let mut failures = Vec::new();
    for (k, (name, t)) in truths.iter().enumerate() {
        let mean = est[k].iter().sum::<f64>() / est[k].len() as f64;
        let bias = 100.0 * (mean - t) / t;
        let cov = 100.0 * covered[k] as f64 / with_cov[k].max(1) as f64;
        let cov_log = 100.0 * covered_log[k] as f64 / with_cov[k].max(1) as f64;
        let cov_rinv = 100.0 * covered_rinv[k] as f64 / with_cov[k].max(1) as f64;
        let mut sorted = est[k].clone();
        sorted.sort_by(f64::total_cmp);
        let median = 0.5 * (sorted[(sorted.len() - 1) / 2] + sorted[sorted.len() / 2]);
        let median_bias = 100.0 * (median - t) / t;
        eprintln!(
            "| {name} | {t} | {mean:.4} | {bias:+.1} | {median_bias:+.1} | {cov:.0} | {cov_log:.0} | {cov_rinv:.0} | {} |",
            with_cov[k]
        );
        let limit = if name.starts_with("theta") { 5.0 } else { 15.0 };
        if bias.abs() >= limit {
            failures.push(format!("{name}: bias {bias:.1} % (limit {limit} %)"));
        }
        let (asserted, scale) = if name.starts_with("theta") {
            (cov, "natural")
        } else {
            (cov_log, "log")
        };
        if !(85.0..=95.0).contains(&asserted) {
            failures.push(format!(
                "{name}: coverage {asserted:.0} % ({scale}-scale interval; target 85-95 %)"
            ));
        }
    }
    eprintln!(
        "\n{n} datasets (seeds {first_seed}-{}, {}, horizon {} h), {converged} converged, {:.0} s",
        first_seed + n - 1,
        if saem { "SAEM" } else { "FOCE-I" },
        design.horizon_h,
        t0.elapsed().as_secs_f64()
    );
    assert!(failures.is_empty(), "{failures:#?}");
}
