//! Validation against public data: the cases in `data/validation/pk-cases.toml` plus computed
//! checks (Du 2019 Table 4 dosing, Biesenbach urinary recovery). `mgiv validate` renders the
//! result as VALIDATION.md; the tests assert that every case passes.

use serde::{Deserialize, Serialize};

use crate::error::MgivError;
use crate::model::builtin_model;
use crate::patient::{Creatinine, PatientInput};
use crate::regimen::Regimen;
use crate::simulate::{simulate, uniform_times};
use crate::solver::ode;
use crate::units::MgConc;

pub const PK_CASES_FILE: &str = include_str!("../../../data/validation/pk-cases.toml");

#[derive(Debug, Clone, Deserialize)]
struct CaseFile {
    cases: Vec<Case>,
}

#[derive(Debug, Clone, Deserialize)]
struct Observation {
    time_h: f64,
    observed: f64,
    #[serde(default)]
    tolerance_abs: Option<f64>,
    #[serde(default)]
    tolerance_rel: Option<f64>,
    what: String,
    #[serde(default)]
    known_miss: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
struct Case {
    id: String,
    title: String,
    source: String,
    role: String,
    model: String,
    regimen: String,
    #[serde(default)]
    weight_kg: Option<f64>,
    #[serde(default)]
    scr_mg_dl: Option<f64>,
    #[serde(default)]
    pregnant: bool,
    #[serde(default)]
    pre_eclampsia: bool,
    baseline_mmol_l: f64,
    /// compare the time-average from 0 to this time instead of the level at time_h
    #[serde(default)]
    mean_over_h: Option<f64>,
    observations: Vec<Observation>,
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
    let file: CaseFile = toml::from_str(PK_CASES_FILE).map_err(|e| MgivError::ModelFile {
        id: "data/validation/pk-cases.toml".into(),
        message: e.to_string(),
    })?;
    let mut rows = Vec::new();
    for c in &file.cases {
        let patient = PatientInput {
            weight_kg: c.weight_kg,
            creatinine: c.scr_mg_dl.map(Creatinine::MgPerDl),
            pregnant: c.pregnant,
            pre_eclampsia: c.pre_eclampsia,
            baseline: Some(MgConc::from_mmol_l(c.baseline_mmol_l)),
            ..Default::default()
        }
        .validate()?;
        let model = builtin_model(&c.model)?;
        let regimen = Regimen::from_text(&c.regimen, c.weight_kg)?;
        for o in &c.observations {
            let predicted = match c.mean_over_h {
                Some(h) => {
                    let times = uniform_times(h, h / 2000.0)?;
                    let s = simulate(&model, None, &patient, &regimen, &times)?;
                    time_average(&times, &s.serum_mmol_l)
                }
                None => {
                    let s = simulate(&model, None, &patient, &regimen, &[o.time_h])?;
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
    }
    rows.extend(biesenbach_urine()?);
    rows.extend(du_table4()?);
    Ok(rows)
}

/// Trapezoidal time-average.
pub fn time_average(t: &[f64], c: &[f64]) -> f64 {
    let span = t[t.len() - 1] - t[0];
    let auc: f64 = t
        .windows(2)
        .zip(c.windows(2))
        .map(|(tw, cw)| 0.5 * (cw[0] + cw[1]) * (tw[1] - tw[0]))
        .sum();
    auc / span
}

/// Biesenbach 2018: 60.9 % of the dose recovered in urine during the 12-h infusion. The model's
/// excess elimination (ODE path, cumulative) is compared with the recovery minus baseline
/// excretion (≈ 2 mmol / 12 h), as a fraction of the 46-mmol dose; ±15 percentage points.
fn biesenbach_urine() -> Result<Vec<ValidationRow>, MgivError> {
    let model = builtin_model("mgiv-adult-2026")?;
    let patient = PatientInput {
        weight_kg: Some(80.0),
        baseline: Some(MgConc::from_mmol_l(1.09)),
        ..Default::default()
    }
    .validate()?;
    let ind = model.individualise(&patient)?;
    let regimen = Regimen::from_text("10 mmol over 15 min, then 3 mmol/h for 12 h", None)?;
    let out = ode::solve(
        &ind.params,
        ind.elimination,
        None,
        &regimen.events,
        &[12.25],
        1e-9,
    )?;
    let dose = regimen.amount_given_by_mmol(1e9);
    let predicted = 100.0 * out.eliminated_excess_mmol[0] / dose;
    Ok(vec![row(
        "biesenbach-urine",
        "Biesenbach 2018 urinary recovery during the 12-h infusion (case 7)",
        "Biesenbach 2018: 28 mmol recovered = 60.9 % of the 46-mmol dose; minus ≈ 2 mmol baseline excretion → 56.5 %; ±15 points",
        "calibration",
        "mgiv-adult-2026",
        "excess Mg excreted by 12.25 h, % of dose".into(),
        100.0 * 26.0 / 46.0,
        predicted,
        15.0,
        "%",
    )])
}

/// Du 2019 Table 4: the Zuspan maintenance rate (g/h, after a 4 g/20 min load) that gives the
/// 24-h average total Mg of the typical 85-kg woman with SCr 0.8 on 1 g/h. The table is printed
/// to 0.1 g/h, so the exact (unrounded) rate must lie within 0.05 g/h of each cell.
pub fn du_table4() -> Result<Vec<ValidationRow>, MgivError> {
    let table: [(f64, [f64; 3]); 5] = [
        (65.0, [1.0, 0.8, 0.6]),
        (75.0, [1.2, 0.9, 0.7]),
        (85.0, [1.3, 1.0, 0.8]),
        (95.0, [1.5, 1.1, 0.9]),
        (105.0, [1.6, 1.2, 1.0]),
    ];
    let scrs = [0.5, 0.8, 1.2];
    let model = builtin_model("du-2019")?;
    let times = uniform_times(24.0, 24.0 / 2880.0)?;
    let avg = |w: f64, scr: f64, rate_g_h: f64| -> Result<f64, MgivError> {
        let p = PatientInput {
            weight_kg: Some(w),
            creatinine: Some(Creatinine::MgPerDl(scr)),
            pregnant: true,
            pre_eclampsia: true,
            baseline: Some(MgConc::from_mmol_l(0.74)),
            ..Default::default()
        }
        .validate()?;
        let text = if rate_g_h > 0.0 {
            format!("4 g over 20 min, then {rate_g_h} g/h")
        } else {
            "4 g over 20 min".to_string()
        };
        let r = Regimen::from_text(&text, Some(w))?;
        let s = simulate(&model, None, &p, &r, &times)?;
        Ok(time_average(&times, &s.serum_mmol_l))
    };
    let target = avg(85.0, 0.8, 1.0)?;
    let mut rows = Vec::new();
    for (w, published) in table {
        for (k, scr) in scrs.iter().enumerate() {
            // the 24-h average is linear in the maintenance rate: solve exactly
            let a0 = avg(w, *scr, 0.0)?;
            let a1 = avg(w, *scr, 1.0)?;
            let rate = (target - a0) / (a1 - a0);
            rows.push(row(
                "du-2019-table4",
                "Du 2019 Table 4: Zuspan maintenance rate matching the typical 24-h average (1.6 mmol/L)",
                "Du 2019 Table 4 via nlmixr2lib vignette (magnesium-pk-2.md §1.1); the table is printed to 0.1 g/h, so the tolerance is half a unit, 0.05 g/h",
                "reproduction",
                "du-2019",
                format!("{w} kg, SCr {scr} mg/dL"),
                published[k],
                rate,
                0.05,
                "g/h",
            ));
        }
    }
    Ok(rows)
}

/// VALIDATION.md text.
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
        assert!(md.contains("| **calibration, all** | 2 studies"), "{md}");
        assert!(
            md.contains("| prediction, mgiv-adult-2026 | 3 studies"),
            "{md}"
        );
        // the adult model's external prediction error (issue 10): three studies, abstracts only
        let adult = error_summary(
            rows.iter()
                .filter(|r| r.role == "prediction" && r.model == "mgiv-adult-2026"),
        )
        .unwrap();
        assert_eq!(adult.n, 6);
        assert!(adult.mape_percent < 12.0, "{adult:?}");
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
