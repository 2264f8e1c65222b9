//! Validation against public data: the cases in `data/validation/pk-cases.toml` plus computed
//! checks (Du 2019 Table 4 dosing, Biesenbach urinary recovery). `mgiv validate` renders the
//! result as VALIDATION.md; the tests assert that every case passes.

use serde::{Deserialize, Serialize};

use crate::error::{invalid, MgivError};
use crate::model::builtin_model;
use crate::patient::{Creatinine, PatientInput};
use crate::regimen::Regimen;
use crate::simulate::{simulate, uniform_times, ModelChoice};
use crate::solver::ode;
use crate::units::MgConc;

pub const PK_CASES_FILE: &str = include_str!("../../../data/validation/pk-cases.toml");
pub const DU_TABLE4_FILE: &str = include_str!("../../../data/validation/du-2019-table4.toml");

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct CaseFile {
    pub(crate) cases: Vec<Case>,
}

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Observation {
    pub(crate) time_h: f64,
    pub(crate) observed: f64,
    /// the spread a calibration weights this observation by (calibration cases)
    #[serde(default)]
    pub(crate) sd_mmol_l: Option<f64>,
    #[serde(default)]
    tolerance_abs: Option<f64>,
    #[serde(default)]
    tolerance_rel: Option<f64>,
    pub(crate) what: String,
    #[serde(default)]
    known_miss: Option<String>,
}

/// Urine collected during a case's infusion.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Urine {
    /// collected from 0 to this time (h)
    pub(crate) by_h: f64,
    pub(crate) recovered_mmol: f64,
    /// the endogenous excretion over the same time, subtracted
    pub(crate) baseline_excretion_mmol: f64,
    /// the spread a calibration weights it by
    pub(crate) sd_mmol: f64,
    /// validation tolerance on the dose-related recovery, percentage points of the dose
    tolerance_percent_points: f64,
    source: String,
}

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Case {
    pub(crate) id: String,
    title: String,
    source: String,
    pub(crate) role: String,
    pub(crate) model: String,
    pub(crate) regimen: String,
    #[serde(default)]
    pub(crate) weight_kg: Option<f64>,
    #[serde(default)]
    scr_mg_dl: Option<f64>,
    #[serde(default)]
    pregnant: bool,
    #[serde(default)]
    pre_eclampsia: bool,
    pub(crate) baseline_mmol_l: f64,
    /// compare the time-average from 0 to this time instead of the level at time_h
    #[serde(default)]
    mean_over_h: Option<f64>,
    pub(crate) observations: Vec<Observation>,
    #[serde(default)]
    pub(crate) urine: Option<Urine>,
    /// patients behind the reported means (aggregate-data weighting)
    #[serde(default)]
    pub(crate) n_patients: Option<u32>,
}

/// The cases of `data/validation/pk-cases.toml`.
pub(crate) fn cases() -> Result<Vec<Case>, MgivError> {
    let file: CaseFile = toml::from_str(PK_CASES_FILE).map_err(|e| MgivError::ModelFile {
        id: "data/validation/pk-cases.toml".into(),
        message: e.to_string(),
    })?;
    Ok(file.cases)
}

/// One predicted-vs-observed comparison.
#[derive(Debug, Clone, Serialize)]
pub struct ValidationRow {
    pub case_id: String,
    pub title: String,
    pub source: String,
    pub role: String,
    pub model: String,
    pub what: String,
    pub observed: f64,
    pub predicted: f64,
    pub tolerance: f64,
    pub unit: String,
    pub pass: bool,
    /// documented reason when this comparison is known to fall outside tolerance
    pub known_miss: Option<String>,
}

#[allow(clippy::too_many_arguments)]
fn row(
    case_id: &str,
    title: &str,
    source: &str,
    role: &str,
    model: &str,
    what: String,
    observed: f64,
    predicted: f64,
    tolerance: f64,
    unit: &str,
) -> ValidationRow {
    ValidationRow {
        case_id: case_id.into(),
        title: title.into(),
        source: source.into(),
        role: role.into(),
        model: model.into(),
        what,
        observed,
        predicted,
        tolerance,
        unit: unit.into(),
        pass: (predicted - observed).abs() <= tolerance + 1e-12,
        known_miss: None,
    }
}

/// Run every validation case.
pub fn run_all() -> Result<Vec<ValidationRow>, MgivError> {
    let mut rows = Vec::new();
    for c in &cases()? {
        let patient = PatientInput {
            weight_kg: c.weight_kg,
            creatinine: c.scr_mg_dl.map(Creatinine::MgPerDl),
            pregnant: c.pregnant,
            pre_eclampsia: c.pre_eclampsia,
            baseline: Some(MgConc::from_mmol_l(c.baseline_mmol_l)),
            ..Default::default()
        }
        .validate()?;
        let model = ModelChoice::named(builtin_model(&c.model)?);
        let regimen = Regimen::from_text(&c.regimen, c.weight_kg)?;
        for o in &c.observations {
            let predicted = match c.mean_over_h {
                Some(h) => {
                    // a 2000-step grid for the time average (numerical)
                    let times = uniform_times(h, h / 2000.0)?;
                    let s = simulate(&model, &patient, &regimen, &times)?;
                    time_average(&times, &s.serum_mmol_l)?
                }
                None => {
                    let s = simulate(&model, &patient, &regimen, &[o.time_h])?;
                    s.serum_mmol_l[0]
                }
            };
            let tol = o
                .tolerance_abs
                .unwrap_or_else(|| o.tolerance_rel.unwrap_or(0.0) * o.observed);
            let mut r = row(
                &c.id,
                &c.title,
                &c.source,
                &c.role,
                &c.model,
                o.what.clone(),
                o.observed,
                predicted,
                tol,
                "mmol/L",
            );
            r.known_miss = o.known_miss.clone();
            rows.push(r);
        }
        if let Some(u) = &c.urine {
            rows.push(urine_row(c, u, &model.spec, &patient, &regimen)?);
        }
    }
    rows.extend(du_table4()?);
    Ok(rows)
}

/// Trapezoidal time-average of `c` over the times `t` (as many values as times, at least two
/// times, a positive span).
pub fn time_average(t: &[f64], c: &[f64]) -> Result<f64, MgivError> {
    if t.len() != c.len() || t.len() < 2 {
        return Err(invalid(
            "time average",
            format!("{} times, {} values", t.len(), c.len()),
            "as many values as times, at least two",
        ));
    }
    let span = t[t.len() - 1] - t[0];
    if span.is_nan() || span <= 0.0 {
        return Err(invalid(
            "time average span",
            format!("{span} h"),
            "a last time after the first",
        ));
    }
    let auc: f64 = t
        .windows(2)
        .zip(c.windows(2))
        .map(|(tw, cw)| 0.5 * (cw[0] + cw[1]) * (tw[1] - tw[0]))
        .sum();
    Ok(auc / span)
}

/// Urinary recovery during an infusion (Biesenbach 2018: 60.9 % of the dose in 12 h): the
/// model's cumulative excess elimination (ODE path) against the recovery minus the endogenous
/// excretion, as a percentage of the dose.
fn urine_row(
    c: &Case,
    u: &Urine,
    model: &crate::model::ModelSpec,
    patient: &crate::patient::Patient,
    regimen: &Regimen,
) -> Result<ValidationRow, MgivError> {
    let ind = model.individualise(patient)?;
    let out = ode::solve(
        &ind.params,
        ind.elimination,
        None,
        &regimen.events,
        &[u.by_h],
        1e-9,
    )?;
    // all of the dose: "by" a time past any regimen
    let dose = regimen.amount_given_by_mmol(1e9);
    let predicted = 100.0 * out.eliminated_excess_mmol[0] / dose;
    let observed = 100.0 * (u.recovered_mmol - u.baseline_excretion_mmol) / dose;
    Ok(row(
        &format!("{}-urine", c.id),
        &format!("{}: urinary recovery", c.title),
        &u.source,
        &c.role,
        &c.model,
        format!("excess Mg excreted by {} h, % of dose", u.by_h),
        observed,
        predicted,
        u.tolerance_percent_points,
        "%",
    ))
}

#[derive(Debug, Deserialize)]
struct DuTable4 {
    model: String,
    source: String,
    tolerance_g_h: f64,
    load: String,
    average_over_h: f64,
    baseline_mmol_l: f64,
    reference: DuReference,
    scr_mg_dl: Vec<f64>,
    rows: Vec<DuRow>,
}

#[derive(Debug, Deserialize)]
struct DuReference {
    weight_kg: f64,
    scr_mg_dl: f64,
    rate_g_h: f64,
}

#[derive(Debug, Deserialize)]
struct DuRow {
    weight_kg: f64,
    rate_g_h: Vec<f64>,
}

/// Du 2019 Table 4: the Zuspan maintenance rate (g/h, after a 4 g/20 min load) that gives the
/// 24-h average total Mg of the typical 85-kg woman with SCr 0.8 on 1 g/h. The table is printed
/// to 0.1 g/h, so the exact (unrounded) rate must lie within 0.05 g/h of each cell.
pub fn du_table4() -> Result<Vec<ValidationRow>, MgivError> {
    let t: DuTable4 = toml::from_str(DU_TABLE4_FILE).map_err(|e| MgivError::ModelFile {
        id: "data/validation/du-2019-table4.toml".into(),
        message: e.to_string(),
    })?;
    let model = ModelChoice::named(builtin_model(&t.model)?);
    // a 2880-step grid for the time average (numerical)
    let times = uniform_times(t.average_over_h, t.average_over_h / 2880.0)?;
    let avg = |w: f64, scr: f64, rate_g_h: f64| -> Result<f64, MgivError> {
        let p = PatientInput {
            weight_kg: Some(w),
            creatinine: Some(Creatinine::MgPerDl(scr)),
            pregnant: true,
            pre_eclampsia: true,
            baseline: Some(MgConc::from_mmol_l(t.baseline_mmol_l)),
            ..Default::default()
        }
        .validate()?;
        let text = if rate_g_h > 0.0 {
            format!("{}, then {rate_g_h} g/h", t.load)
        } else {
            t.load.clone()
        };
        let r = Regimen::from_text(&text, Some(w))?;
        let s = simulate(&model, &p, &r, &times)?;
        time_average(&times, &s.serum_mmol_l)
    };
    let target = avg(
        t.reference.weight_kg,
        t.reference.scr_mg_dl,
        t.reference.rate_g_h,
    )?;
    // the reference patient's average, as the model computes it
    let title = format!(
        "Du 2019 Table 4: Zuspan maintenance rate matching the typical {}-h average ({target:.1} mmol/L)",
        t.average_over_h
    );
    let mut rows = Vec::new();
    for r in &t.rows {
        if r.rate_g_h.len() != t.scr_mg_dl.len() {
            return Err(crate::error::invalid(
                "du-2019-table4 row",
                format!("{} kg: {} rates", r.weight_kg, r.rate_g_h.len()),
                format!("one rate per SCr ({} values)", t.scr_mg_dl.len()),
            ));
        }
        for (scr, published) in t.scr_mg_dl.iter().zip(&r.rate_g_h) {
            // the 24-h average is linear in the maintenance rate: solve exactly
            let a0 = avg(r.weight_kg, *scr, 0.0)?;
            let a1 = avg(r.weight_kg, *scr, 1.0)?;
            let rate = (target - a0) / (a1 - a0);
            rows.push(row(
                "du-2019-table4",
                &title,
                &t.source,
                "reproduction",
                &t.model,
                format!("{} kg, SCr {scr} mg/dL", r.weight_kg),
                *published,
                rate,
                t.tolerance_g_h,
                "g/h",
            ));
        }
    }
    Ok(rows)
}

pub fn render_markdown(rows: &[ValidationRow]) -> String {
    let mut s = String::new();
    s.push_str("# Validation: predicted against observed\n\n");
    s.push_str("Generated by `cargo run -p mgiv-cli --release -- validate --write VALIDATION.md`; do not edit by hand.\n");
    s.push_str("Cases: `data/validation/pk-cases.toml` and `crates/mgiv-core/src/validation.rs`; the test suite asserts every row.\n\n");
    s.push_str("Role: *reproduction* = the model's own published numbers; *prediction* = data the model was not fitted to; ");
    s.push_str(
        "*calibration* = data mgiv fitted the model to (agreement expected, not evidence).\n\n",
    );
    let passed = rows.iter().filter(|r| r.pass).count();
    let known = rows
        .iter()
        .filter(|r| !r.pass && r.known_miss.is_some())
        .count();
    s.push_str(&format!(
        "**{passed} of {} comparisons within tolerance; {known} documented miss(es).**\n\n",
        rows.len()
    ));
    s.push_str(&error_summary_markdown(rows));
    let mut current = String::new();
    for r in rows {
        if r.case_id != current {
            current = r.case_id.clone();
            s.push_str(&format!(
                "\n## {}\n\n`{}` · model `{}` · role: {}\n\nSource: {}\n\n| what | observed | predicted | tolerance | within |\n|---|---|---|---|---|\n",
                r.title, r.case_id, r.model, r.role, r.source
            ));
        }
        s.push_str(&format!(
            "| {} | {:.3} {} | {:.3} {} | ± {:.3} | {} |\n",
            r.what,
            r.observed,
            r.unit,
            r.predicted,
            r.unit,
            r.tolerance,
            match (r.pass, &r.known_miss) {
                (true, _) => "yes".to_string(),
                (false, Some(why)) => format!("**no** (known: {why})"),
                (false, None) => "**no**".to_string(),
            }
        ));
    }
    s
}

/// Mean absolute percentage error and bias (mean signed percentage error) of a set of rows.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct ErrorSummary {
    pub n: usize,
    /// mean |predicted − observed| / observed, %
    pub mape_percent: f64,
    /// mean (predicted − observed) / observed, % (positive = over-prediction)
    pub bias_percent: f64,
}

/// MAPE and bias over the serum-concentration rows (mmol/L) of `rows`; None when there are none.
pub fn error_summary<'a>(
    rows: impl IntoIterator<Item = &'a ValidationRow>,
) -> Option<ErrorSummary> {
    let errs: Vec<f64> = rows
        .into_iter()
        .filter(|r| r.unit == "mmol/L" && r.observed > 0.0)
        .map(|r| (r.predicted - r.observed) / r.observed)
        .collect();
    if errs.is_empty() {
        return None;
    }
    let n = errs.len() as f64;
    Some(ErrorSummary {
        n: errs.len(),
        mape_percent: 100.0 * errs.iter().map(|e| e.abs()).sum::<f64>() / n,
        bias_percent: 100.0 * errs.iter().sum::<f64>() / n,
    })
}

/// Per study (case) and per role: MAPE and bias of the serum levels, calibration and prediction
/// cases apart (issue 10).
pub fn error_summary_markdown(rows: &[ValidationRow]) -> String {
    let mut s = String::from(
        "## Error summary: MAPE and bias of serum levels, per study and per role

MAPE = mean |predicted − observed| / observed; bias = mean (predicted − observed) / observed (positive = over-prediction); serum concentrations only (urine and dose rows excluded). Calibration cases measure fit, not predictive skill; prediction cases are data the model was not fitted to.

| role | study (case) | model | levels | MAPE % | bias % |\n|---|---|---|---|---|---|\n",
    );
    let mut roles: Vec<&str> = Vec::new();
    for r in rows {
        if !roles.contains(&r.role.as_str()) {
            roles.push(&r.role);
        }
    }
    roles.sort();
    for role in &roles {
        let mut cases: Vec<&str> = Vec::new();
        for r in rows.iter().filter(|r| r.role == *role) {
            if !cases.contains(&r.case_id.as_str()) {
                cases.push(&r.case_id);
            }
        }
        let mut n_cases = 0;
        let mut models: Vec<&str> = Vec::new();
        for c in &cases {
            let sub: Vec<&ValidationRow> = rows.iter().filter(|r| r.case_id == *c).collect();
            if let Some(e) = error_summary(sub.iter().copied()) {
                n_cases += 1;
                if !models.contains(&sub[0].model.as_str()) {
                    models.push(&sub[0].model);
                }
                s.push_str(&format!(
                    "| {role} | {c} | {} | {} | {:.1} | {:+.1} |\n",
                    sub[0].model, e.n, e.mape_percent, e.bias_percent
                ));
            }
        }
        if models.len() > 1 {
            for m in &models {
                let sub = rows.iter().filter(|r| r.role == *role && r.model == *m);
                let n_m = cases
                    .iter()
                    .filter(|c| {
                        rows.iter()
                            .any(|r| r.case_id == **c && r.model == *m && r.unit == "mmol/L")
                    })
                    .count();
                if let Some(e) = error_summary(sub) {
                    s.push_str(&format!(
                        "| {role}, {m} | {n_m} studies | {m} | {} | {:.1} | {:+.1} |\n",
                        e.n, e.mape_percent, e.bias_percent
                    ));
                }
            }
        }
        if let Some(e) = error_summary(rows.iter().filter(|r| r.role == *role)) {
            s.push_str(&format!(
                "| **{role}, all** | {n_cases} studies | | {} | **{:.1}** | **{:+.1}** |\n",
                e.n, e.mape_percent, e.bias_percent
            ));
        }
    }
    s.push('\n');
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_average_is_the_mean_of_a_line_and_refuses_too_few_points() {
        // c = 1 + t on [0, 4]: mean 3 (trapezoids are exact on a line)
        let t = [0.0, 1.0, 2.5, 4.0];
        let c: Vec<f64> = t.iter().map(|x| 1.0 + x).collect();
        assert!((time_average(&t, &c).unwrap() - 3.0).abs() < 1e-12);
        assert!(time_average(&[], &[]).is_err());
        assert!(time_average(&[1.0], &[2.0]).is_err());
        assert!(time_average(&[0.0, 1.0], &[2.0]).is_err());
        assert!(time_average(&[1.0, 1.0], &[2.0, 2.0]).is_err());
    }

    #[test]
    fn every_validation_case_is_within_tolerance() {
        let rows = run_all().unwrap();
        assert!(rows.len() >= 30);
        let failed: Vec<String> = rows
            .iter()
            .filter(|r| match &r.known_miss {
                None => !r.pass,
                // a documented miss may not drift further than twice the tolerance
                Some(_) => (r.predicted - r.observed).abs() > 2.0 * r.tolerance,
            })
            .map(|r| {
                format!(
                    "{} {}: predicted {:.3} observed {:.3} ± {:.3}",
                    r.case_id, r.what, r.predicted, r.observed, r.tolerance
                )
            })
            .collect();
        assert!(failed.is_empty(), "{failed:#?}");
    }

    #[test]
    fn error_summary_by_role_and_study() {
        let rows = run_all().unwrap();
        let md = error_summary_markdown(&rows);
        // the adult model is fitted to all five adult studies (issue 10), and the renal-threshold
        // variant takes its volumes from that fit: all calibration; their out-of-sample evidence
        // is the leave-one-study-out table (calibrate::loso_markdown)
        assert!(md.contains("| **calibration, all** | 8 studies"), "{md}");
        assert!(!md.contains("| prediction, mgiv-adult"), "{md}");
        assert!(md.contains("| **prediction, all** | 5 studies"), "{md}");
        let adult = error_summary(
            rows.iter()
                .filter(|r| r.role == "calibration" && r.model == "mgiv-adult-2026"),
        )
        .unwrap();
        assert_eq!(adult.n, 12);
        assert!(adult.mape_percent < 10.0, "{adult:?}");
        let e = error_summary(rows.iter().filter(|r| r.case_id == "osawa-2018-icu-load")).unwrap();
        assert!(e.mape_percent < 5.0, "{e:?}");
    }

    #[test]
    fn salinger_reproduction_to_one_percent() {
        let rows = run_all().unwrap();
        let r = rows
            .iter()
            .find(|r| r.case_id == "salinger-reproduction")
            .unwrap();
        assert!((r.predicted - 1.70).abs() / 1.70 < 0.01, "{}", r.predicted);
    }
}
