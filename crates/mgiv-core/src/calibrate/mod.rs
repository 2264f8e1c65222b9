//! Calibration of mgiv's non-pregnant adult model (`mgiv-adult-2026`) to public adult data.
//!
//! No population PK model of IV magnesium in non-pregnant adults was found (magnesium-pk.md §1.1,
//! §9.8), so mgiv fits a two-compartment model with fixed allometry (WT^0.75 on CL and Q, WT^1 on
//! the volumes, reference 70 kg, as in Du 2019) and Du 2019's creatinine exponent (−0.731,
//! reference 0.9 mg/dL) to every public adult study with a usable design: the cases of
//! `data/validation/pk-cases.toml` whose model is `mgiv-adult-2026` (Biesenbach 2018, Fuchs-Buder
//! 1997, Osawa 2018, Osawa 2020, Ann Thorac Surg 1995; 215 patients), by the aggregate-data
//! likelihood of [`aggregate`] (each reported mean weighted by its n and between-patient SD, with
//! a relative between-study error τ estimated alongside), with weak log-normal priors on CL
//! (Brookfield 2016), V1 + V2 (Lu & Nightingale 2000) and V1 (Du 2019's Vc), all in
//! `data/calibration/mgiv-adult-2026.toml` with the start values and the model template.
//!
//! This structure was chosen by leave-one-study-out cross-validation among the candidates of
//! [`aggregate`] (and against the earlier two-study calibration): see docs/MODELS.md.
//!
//! No calibration number lives in Rust. The model file is written by serialising the model type;
//! parameter uncertainty is the Laplace approximation at the optimum. The fit is deterministic
//! (Nelder–Mead from `argmin`, fixed start simplex), so `mgiv calibrate adult` regenerates
//! `data/models/mgiv-adult-2026.toml` exactly.

use serde::{Deserialize, Serialize};

use crate::error::MgivError;
use crate::model::{CovariateName, IndividualParams, ModelSpec, ParamName, Peripheral};
use crate::regimen::Regimen;
use crate::solver::{modal, Modes};

/// The calibration settings file.
pub const CALIBRATION_FILE: &str =
    include_str!("../../../../data/calibration/mgiv-adult-2026.toml");

/// One calibration observation.
#[derive(Debug, Clone, Serialize)]
pub struct CalibrationPoint {
    pub study: String,
    pub what: String,
    pub observed: f64,
    pub sd: f64,
    pub predicted: f64,
    pub unit: &'static str,
    /// patients behind the reported mean
    pub n: u32,
}

#[derive(Debug, Clone, Serialize)]
pub struct CalibrationResult {
    /// typical values at 70 kg and SCr 0.9 mg/dL
    pub cl_l_h: f64,
    pub v1_l: f64,
    pub q_l_h: f64,
    pub v2_l: f64,
    pub objective: f64,
    pub iterations: u64,
    pub points: Vec<CalibrationPoint>,
    /// the relative between-study (structural) error estimated with the parameters
    pub tau: f64,
    /// approximate relative standard errors (SE of the log parameter, ≈ CV) of CL, V1, Q, V2
    /// from the Laplace approximation at the optimum; `None` when the curvature there is not
    /// positive definite
    pub rse: Option<[f64; 4]>,
}

pub mod aggregate;

#[derive(Debug, Clone, Deserialize)]
struct Prior {
    median: f64,
    cv: f64,
    #[allow(dead_code)] // for the reader of the file; printed by docs
    source: String,
}

#[derive(Debug, Clone, Deserialize)]
struct Priors {
    cl_l_h: Prior,
    vss_l: Prior,
    v1_l: Prior,
    /// the renal-threshold candidate's tubular maximum (aggregate comparison only)
    #[serde(default)]
    tm_mmol_l: Option<Prior>,
}

#[derive(Debug, Clone, Deserialize)]
struct Start {
    cl_l_h: f64,
    v1_l: f64,
    q_l_h: f64,
    v2_l: f64,
}

#[derive(Debug, Clone, Deserialize)]
struct Settings {
    priors: Priors,
    start: Start,
    model: ModelSpec,
}

fn settings() -> Result<Settings, MgivError> {
    toml::from_str(CALIBRATION_FILE).map_err(|e| MgivError::ModelFile {
        id: "data/calibration/mgiv-adult-2026.toml".into(),
        message: e.to_string(),
    })
}

/// The weight scaling of one parameter in the model template: its power covariate on weight_kg
/// (exponent and reference weight, as the template file gives them).
#[derive(Debug, Clone, Copy, PartialEq)]
struct WeightScaling {
    exponent: f64,
    reference_kg: f64,
}

impl WeightScaling {
    fn factor(self, weight_kg: f64) -> f64 {
        (weight_kg / self.reference_kg).powf(self.exponent)
    }
}

/// The weight scaling of `param` in the model template (none: exponent 0).
fn weight_scaling(model: &ModelSpec, param: ParamName) -> WeightScaling {
    let cov = model
        .covariates
        .iter()
        .find(|c| c.parameter == param && c.covariate == CovariateName::WeightKg);
    match cov {
        Some(c) => WeightScaling {
            exponent: c.exponent.unwrap_or(0.0),
            reference_kg: c.reference.unwrap_or(1.0),
        },
        None => WeightScaling {
            exponent: 0.0,
            reference_kg: 1.0,
        },
    }
}

fn scaled(
    theta: &[f64],
    weight_kg: f64,
    baseline: f64,
    exps: &[WeightScaling; 4],
) -> IndividualParams {
    IndividualParams {
        cl_l_h: theta[0] * exps[0].factor(weight_kg),
        v1_l: theta[1] * exps[1].factor(weight_kg),
        peripheral: Some(Peripheral {
            q_l_h: theta[2] * exps[2].factor(weight_kg),
            v2_l: theta[3] * exps[3].factor(weight_kg),
        }),
        ka_h: None,
        f_im: None,
        baseline_mmol_l: baseline,
    }
}

/// Excess eliminated by time t: CL × ∫ΔC (trapezoid on a 1-min grid; ΔC is smooth between events).
fn eliminated_excess_mmol(m: &Modes, cl_l_h: f64, regimen: &Regimen, t_h: f64) -> f64 {
    let n = (t_h * 60.0).ceil() as usize;
    let times: Vec<f64> = (0..=n).map(|k| t_h * k as f64 / n as f64).collect();
    let c = modal::concentrations(m, &regimen.events, &times);
    let dt = t_h / n as f64;
    let auc: f64 = c
        .windows(2)
        .map(|w| 0.5 * (w[0] + w[1] - 2.0 * m.baseline_mmol_l) * dt)
        .sum();
    cl_l_h * auc
}

/// The weight scaling (exponent, reference weight) of CL, V1, Q and V2 in the model template.
fn weight_exponents(model: &ModelSpec) -> [WeightScaling; 4] {
    [
        ParamName::ClLH,
        ParamName::V1L,
        ParamName::QLH,
        ParamName::V2L,
    ]
    .map(|p| weight_scaling(model, p))
}

/// Fit the adult model: the linear candidate of [`aggregate`] over every adult study.
/// Deterministic.
pub fn fit_adult() -> Result<CalibrationResult, MgivError> {
    result(aggregate::fit_candidate(
        aggregate::Candidate::Linear,
        None,
    )?)
}

fn result(fit: aggregate::AggregateFit) -> Result<CalibrationResult, MgivError> {
    let t = &fit.theta;
    let mut points = Vec::new();
    for s in aggregate::adult_studies()?
        .iter()
        .filter(|s| fit.studies.contains(&s.id))
    {
        points.extend(aggregate::points(aggregate::Candidate::Linear, t, s)?);
    }
    Ok(CalibrationResult {
        cl_l_h: t[0],
        v1_l: t[1],
        q_l_h: t[2],
        v2_l: t[3],
        tau: t[4],
        objective: fit.objective,
        iterations: fit.iterations,
        points,
        rse: fit.rse.as_ref().map(|r| [r[0], r[1], r[2], r[3]]),
    })
}

/// Names (case ids) of the adult studies the model is fitted to.
pub fn calibration_study_names() -> Result<Vec<String>, MgivError> {
    Ok(aggregate::adult_studies()?
        .into_iter()
        .map(|s| s.id)
        .collect())
}

/// Leave-one-study-out: refit without `study` and predict that study's serum levels.
/// Returns (refit, the left-out study's points predicted by the refit).
pub fn leave_one_study_out(
    study: &str,
) -> Result<(CalibrationResult, Vec<CalibrationPoint>), MgivError> {
    let all = aggregate::adult_studies()?;
    let Some(left) = all.iter().find(|s| s.id == study) else {
        return Err(crate::error::invalid(
            "calibration study",
            study,
            "an adult study id (calibration_study_names())",
        ));
    };
    let refit = aggregate::fit_candidate(aggregate::Candidate::Linear, Some(study))?;
    let points = aggregate::points(aggregate::Candidate::Linear, &refit.theta, left)?;
    Ok((result(refit)?, points))
}

/// The shipped model's structure under leave-one-study-out (each adult study refitted without
/// itself and predicted). Returns (mean of per-study MAPE %, pooled MAPE % over levels, rows of
/// (study, levels, MAPE %, bias %)).
#[allow(clippy::type_complexity)]
pub fn shipped_cross_validation() -> Result<(f64, f64, Vec<(String, usize, f64, f64)>), MgivError> {
    let cv = aggregate::cross_validate(aggregate::Candidate::Linear)?;
    Ok((
        cv.mean_study_mape_percent,
        cv.pooled_mape_percent,
        cv.rows
            .into_iter()
            .map(|r| (r.study, r.n_levels, r.mape_percent, r.bias_percent))
            .collect(),
    ))
}

/// The adult model's leave-one-study-out table for VALIDATION.md.
pub fn loso_markdown() -> Result<String, MgivError> {
    let (mean, pooled, rows) = shipped_cross_validation()?;
    let mut s = String::from(
        "\n## mgiv-adult-2026: leave-one-study-out prediction\n\n\
The adult model is fitted to all five adult studies of the table below, so their rows above are calibration. \
Its out-of-sample evidence is this table: each study left out, the model refitted on the other \
four by the same aggregate-data likelihood, and the left-out study's levels predicted \
(`crates/mgiv-core/src/calibrate/aggregate.rs`; the candidate comparison is in docs/MODELS.md).\n\n\
| left-out study | levels | MAPE | bias |\n|---|---|---|---|\n",
    );
    for (study, n, mape, bias) in &rows {
        s.push_str(&format!("| {study} | {n} | {mape:.1} % | {bias:+.1} % |\n"));
    }
    s.push_str(&format!(
        "\n**Mean of per-study MAPE {mean:.1} %; pooled over {} levels {pooled:.1} %.**\n",
        rows.iter().map(|r| r.1).sum::<usize>()
    ));
    Ok(s)
}

fn r4(v: f64) -> f64 {
    // round to 4 decimals for the written file (formatting)
    (v * 1e4).round() / 1e4
}

/// The adult model for a calibration result: the template of the calibration file with the
/// fitted parameters and the fit in its notes.
pub fn adult_model(r: &CalibrationResult) -> Result<ModelSpec, MgivError> {
    let mut m = settings()?.model;
    m.parameters.cl_l_h = r4(r.cl_l_h);
    m.parameters.v1_l = r4(r.v1_l);
    m.parameters.q_l_h = Some(r4(r.q_l_h));
    m.parameters.v2_l = Some(r4(r.v2_l));
    let mut notes = vec![format!(
        "Aggregate-data fit over {} levels and urinary totals of the adult studies (-2 log posterior {:.3} after {} Nelder-Mead iterations); between-study error tau {:.1} %; data, assumptions and residuals below and in docs/MODELS.md.",
        r.points.len(),
        r.objective,
        r.iterations,
        100.0 * r.tau
    )];
    if let Some(rse) = r.rse {
        notes.push(format!(
            "Parameter uncertainty (Laplace approximation at the optimum, SE of the log parameter): CL {:.0} %, V1 {:.0} %, Q {:.0} %, V2 {:.0} %.",
            100.0 * rse[0],
            100.0 * rse[1],
            100.0 * rse[2],
            100.0 * rse[3]
        ));
    }
    for p in &r.points {
        notes.push(format!(
            "{}: {} observed {} ± {:.3} {} (n = {}), fitted {:.3}",
            p.study, p.what, p.observed, p.sd, p.unit, p.n, p.predicted
        ));
    }
    notes.append(&mut m.notes);
    m.notes = notes;
    m.check()?;
    Ok(m)
}

const GENERATED: &str = "# GENERATED by `mgiv calibrate adult --write-dir data/models` from\n\
# data/calibration/mgiv-adult-2026.toml and the calibration cases of data/validation/pk-cases.toml\n\
# (crates/mgiv-core/src/calibrate.rs). Do not edit by hand: change those files and regenerate.\n";

fn to_toml(m: &ModelSpec) -> Result<String, MgivError> {
    toml::to_string_pretty(m)
        .map_err(|e| MgivError::Numerical(format!("writing model {}: {e}", m.id)))
}

/// The `data/models/mgiv-adult-2026.toml` text for a calibration result.
pub fn adult_model_toml(r: &CalibrationResult) -> Result<String, MgivError> {
    Ok(format!("{GENERATED}{}", to_toml(&adult_model(r)?)?))
}

/// The renal-threshold variant with the calibrated distribution volumes (its other values kept).
pub fn tm_model_toml(r: &CalibrationResult, current: &str) -> Result<String, MgivError> {
    let mut m = ModelSpec::from_toml(current)?;
    m.parameters.v1_l = r4(r.v1_l);
    m.parameters.q_l_h = Some(r4(r.q_l_h));
    m.parameters.v2_l = Some(r4(r.v2_l));
    m.check()?;
    Ok(format!(
        "# GENERATED in part by `mgiv calibrate adult --write-dir data/models`: V1, Q and V2 are the\n\
# calibrated ones of mgiv-adult-2026; edit the rest here.\n{}",
        to_toml(&m)?
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::builtin_model;

    #[test]
    fn shipped_adult_model_is_the_calibration_result() {
        let r = fit_adult().unwrap();
        let m = builtin_model("mgiv-adult-2026").unwrap();
        let p = m.parameters;
        for (a, b, name) in [
            (p.cl_l_h, r.cl_l_h, "CL"),
            (p.v1_l, r.v1_l, "V1"),
            (p.q_l_h.unwrap(), r.q_l_h, "Q"),
            (p.v2_l.unwrap(), r.v2_l, "V2"),
        ] {
            assert!((a - b).abs() <= 1e-3 * b, "{name}: shipped {a} vs fitted {b}; run `mgiv calibrate adult --write-dir data/models`");
        }
        let tm = builtin_model("mgiv-adult-tm-2026").unwrap();
        assert!((tm.parameters.v1_l - r.v1_l).abs() <= 1e-3 * r.v1_l);
        assert!((tm.parameters.v2_l.unwrap() - r.v2_l).abs() <= 1e-3 * r.v2_l);
    }

    /// Issue 10: leave-one-study-out over the adult studies: each is refitted without itself
    /// and predicted. Run with `--nocapture` for the table in docs/MODELS.md.
    #[test]
    fn leave_one_study_out_adult() {
        let (loso, pooled, rows) = shipped_cross_validation().unwrap();
        eprintln!("| left-out study | levels | MAPE % | bias % |");
        for (s, n, m, b) in &rows {
            eprintln!("| {s} | {n} | {m:.1} | {b:+.1} |");
        }
        eprintln!(
            "LOSO over {} adult studies: mean of per-study MAPE {loso:.1} %, pooled {pooled:.1} %",
            rows.len()
        );
        assert!(rows.len() >= 5);
        assert!(loso <= 12.0 && pooled <= 12.0, "{loso} {pooled}");
        // the refit without a study is a different fit: Fuchs-Buder's left-out prediction
        // comes from the refit, not from the shipped parameters
        let (refit, pts) = leave_one_study_out("fuchs-buder-plasma").unwrap();
        let full = fit_adult().unwrap();
        assert!((refit.cl_l_h - full.cl_l_h).abs() > 1e-3);
        assert_eq!(pts.len(), 3);
        assert!(leave_one_study_out("nope").is_err());
    }

    #[test]
    fn the_model_file_is_the_serialised_template_with_the_fit() {
        // everything but the fitted parameters and the fit's notes comes from
        // data/calibration/mgiv-adult-2026.toml, unchanged
        let r = fit_adult().unwrap();
        let made = adult_model(&r).unwrap();
        let mut shipped = builtin_model("mgiv-adult-2026").unwrap();
        assert_eq!(shipped.notes.len(), made.notes.len());
        shipped.parameters = made.parameters;
        shipped.notes = made.notes.clone();
        assert_eq!(shipped, made);
        // and the text round-trips through the model parser
        let text = adult_model_toml(&r).unwrap();
        assert_eq!(ModelSpec::from_toml(&text).unwrap(), made);
        // the calibration data come from the files: five adult studies
        assert_eq!(
            calibration_study_names().unwrap(),
            [
                "biesenbach-icu",
                "fuchs-buder-plasma",
                "osawa-2018-icu-load",
                "osawa-2020-cardiac-infusion",
                "ann-thorac-surg-1995"
            ]
        );
        // 12 levels and Biesenbach's urinary total
        assert_eq!(r.points.len(), 13);
    }

    #[test]
    fn parameter_uncertainty_says_v1_is_poorly_identified() {
        let r = fit_adult().unwrap();
        let rse = r.rse.expect("positive-definite curvature at the optimum");
        assert!(
            rse.iter().all(|v| v.is_finite() && *v > 0.0 && *v < 2.0),
            "{rse:?}"
        );
        // no sample during or right after an infusion: V1 is the least certain, and no more
        // certain than its prior (CV 52.2 %) allows; CL is held by data and its prior (30 %)
        assert!(rse[1] > rse[0], "{rse:?}");
        assert!(rse[0] < 0.30, "{rse:?}");
        assert!(rse[1] <= 0.522 * 1.05, "{rse:?}");
    }

    #[test]
    fn calibration_fits_its_data_within_two_sd() {
        // the fit is a compromise between data and priors (see the module docs); every point
        // must still be within 2 SD of what was observed
        let r = fit_adult().unwrap();
        for p in &r.points {
            assert!(
                (p.predicted - p.observed).abs() <= 2.0 * p.sd,
                "{} {}: {} vs {}",
                p.study,
                p.what,
                p.predicted,
                p.observed
            );
        }
    }
}
