//! Clinical scenarios as data (`data/scenarios/*.toml`): an order, a patient, an indication and
//! measured levels, with the expected exit code and alert codes. The same functions the CLI uses
//! ([`clinical_plan`], [`crate::adjust::safe_adjust`]) run them, so a scenario's exit code is the
//! one `mgiv plan` / `mgiv adjust` returns.

use serde::{Deserialize, Serialize};

use mgiv_core::patient::{Creatinine, PatientInput, Sex};
use mgiv_core::regimen::Regimen;
use mgiv_core::units::MgConc;
use mgiv_pop::tdm::parse_levels;
use mgiv_safety::bag::parse_bag;
use mgiv_safety::names::{parse_conditions, parse_medications, Named};
use mgiv_safety::plan::{plan, Plan, PlanInput};
use mgiv_safety::{Alert, SafetyError};

use crate::adjust::{safe_adjust, AdjustRequest};
use crate::context::{ClinicalContext, ContextInput};
use crate::{EXIT_BAD_INPUT, EXIT_OK, EXIT_STOP};

/// Plausible pre-treatment total serum Mg (mmol/L) for inferring a missing baseline unit (the
/// same range the CLI uses for --baseline). A unit-inference guard of mgiv's choosing, not a
/// published range (the published normal range is in data/ranges/serum-mg.toml).
pub const BASELINE_PLAUSIBLE_MMOL_L: (f64, f64) = (0.3, 2.5);

/// The scenario files, compiled in.
pub const SCENARIO_FILES: [(&str, &str); 3] = [
    (
        "data/scenarios/obstetric.toml",
        include_str!("../../../data/scenarios/obstetric.toml"),
    ),
    (
        "data/scenarios/neuro-and-critical-care.toml",
        include_str!("../../../data/scenarios/neuro-and-critical-care.toml"),
    ),
    (
        "data/scenarios/other.toml",
        include_str!("../../../data/scenarios/other.toml"),
    ),
];

/// A plan built on the clinical context: the context's indication, model, target and alerts
/// reach the plan, whose alerts then hold both.
pub fn clinical_plan(
    ctx_input: &ContextInput,
    regimen_text: Option<String>,
    conditions: Vec<Named>,
    medications: Vec<Named>,
    bag: Option<mgiv_core::units::Bag>,
) -> Result<(ClinicalContext, Plan), SafetyError> {
    let mut ci = ctx_input.clone();
    ci.conditions = conditions.clone();
    let ctx = ClinicalContext::build(&ci)?;
    let text = regimen_text
        .clone()
        .or_else(|| ctx.protocol.map(|p| p.regimen.clone()));
    let hours = match (&text, ctx_input.hours) {
        (_, Some(h)) => Some(h),
        (Some(t), None) => {
            let r = Regimen::from_text(t, ctx.patient.weight_kg)?;
            let end = r.last_finite_time_h();
            // the plan predicts the regimen's end + 12 h (at least 24 h), as before; the
            // indication's horizon is for trials and forecasts
            // display horizon as in default_horizon_h, up to 90 days
            Some((end + 12.0).clamp(24.0, 2160.0).ceil())
        }
        (None, None) => None,
    };
    let input = PlanInput {
        protocol: ctx.protocol,
        regimen_text,
        patient: patient_input_of(&ctx),
        conditions,
        medications,
        bag,
        model_id: None,
        hours,
        indication: Some(ctx.indication),
        target: Some(ctx.target.clone()),
        model: Some(ctx.model_choice()),
    };
    let mut p = plan(&input)?;
    p.alerts.extend(ctx.alerts.iter().cloned());
    mgiv_safety::alert::sort_alerts(&mut p.alerts);
    Ok((ctx, p))
}

/// The context's patient as input again (the context may have marked pre-eclampsia).
fn patient_input_of(ctx: &ClinicalContext) -> PatientInput {
    let p = &ctx.patient;
    PatientInput {
        weight_kg: p.weight_kg,
        height_cm: p.height_cm,
        age_y: p.age_y,
        sex: p.sex,
        creatinine: p.scr_mg_dl.map(Creatinine::MgPerDl),
        crcl_ml_min: p.crcl_ml_min,
        egfr_ml_min_1_73m2: p.egfr_ml_min_1_73m2,
        pregnant: p.pregnant,
        pre_eclampsia: p.pre_eclampsia,
        baseline: p.baseline,
    }
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ScenarioPatient {
    pub weight_kg: Option<f64>,
    pub age_y: Option<f64>,
    pub sex: Option<String>,
    pub scr_mg_dl: Option<f64>,
    pub crcl_ml_min: Option<f64>,
    #[serde(default)]
    pub pregnant: bool,
    #[serde(default)]
    pub pre_eclampsia: bool,
    /// with its unit, e.g. "0.8 mmol/L"
    pub baseline: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Safe,
    Unsafe,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Command {
    Plan,
    Adjust,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Expect {
    pub exit: i32,
    /// alert codes that must be present
    #[serde(default)]
    pub alerts: Vec<String>,
    /// alert codes that must be absent
    #[serde(default)]
    pub absent: Vec<String>,
    pub target_mmol_l: Option<[f64; 2]>,
    pub population: Option<String>,
    pub model: Option<String>,
    /// adjust: "hold" or "order"
    pub recommendation: Option<String>,
    /// adjust: the recommended maintenance rate must be at most this (g/h)
    pub max_rate_g_per_h: Option<f64>,
    /// text the error message must contain (exit 2)
    pub error_contains: Option<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    pub id: String,
    /// the indication this scenario covers (for the meta-test)
    pub covers: String,
    pub kind: Kind,
    pub command: Command,
    pub description: String,
    pub indication: Option<String>,
    pub protocol: Option<String>,
    pub regimen: Option<String>,
    pub bag: Option<String>,
    pub conditions: Option<String>,
    pub medications: Option<String>,
    pub model: Option<String>,
    pub population: Option<String>,
    pub levels: Option<String>,
    pub now_h: Option<f64>,
    #[serde(default)]
    pub allow_maintenance: bool,
    #[serde(default)]
    pub patient: ScenarioPatient,
    pub expect: Expect,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ScenarioFile {
    scenarios: Vec<Scenario>,
}

/// Every built-in scenario.
pub fn scenarios() -> Result<Vec<Scenario>, SafetyError> {
    let mut out = Vec::new();
    for (path, text) in SCENARIO_FILES {
        let f: ScenarioFile = toml::from_str(text).map_err(|e| SafetyError::Data {
            file: path.into(),
            message: e.to_string(),
        })?;
        out.extend(f.scenarios);
    }
    Ok(out)
}

/// What a scenario produced.
#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    pub exit: i32,
    pub alerts: Vec<String>,
    pub error: Option<String>,
    pub target_mmol_l: Option<(f64, f64)>,
    pub population: Option<String>,
    pub model: Option<String>,
    pub recommendation: Option<String>,
    pub rate_g_per_h: Option<f64>,
}

fn patient_input(
    p: &ScenarioPatient,
    notes: &mut Vec<String>,
) -> Result<PatientInput, SafetyError> {
    let baseline = match &p.baseline {
        None => None,
        Some(s) => {
            let (c, u, inferred) =
                MgConc::parse_needing_unit("baseline", s, BASELINE_PLAUSIBLE_MMOL_L)?;
            if inferred {
                notes.push(format!(
                    "baseline '{s}' read as {} {}",
                    c.in_unit(u),
                    u.symbol()
                ));
            }
            Some(c)
        }
    };
    Ok(PatientInput {
        weight_kg: p.weight_kg,
        age_y: p.age_y,
        sex: p.sex.as_deref().map(Sex::parse).transpose()?,
        creatinine: p.scr_mg_dl.map(Creatinine::MgPerDl),
        crcl_ml_min: p.crcl_ml_min,
        pregnant: p.pregnant,
        pre_eclampsia: p.pre_eclampsia,
        baseline,
        ..Default::default()
    })
}

fn codes(alerts: &[Alert]) -> Vec<String> {
    alerts.iter().map(|a| a.code.clone()).collect()
}

/// Run one scenario as the CLI would.
pub fn run(s: &Scenario) -> Outcome {
    match run_inner(s) {
        Ok(o) => o,
        Err(e) => Outcome {
            exit: EXIT_BAD_INPUT,
            alerts: Vec::new(),
            error: Some(e.to_string()),
            target_mmol_l: None,
            population: None,
            model: None,
            recommendation: None,
            rate_g_per_h: None,
        },
    }
}

fn run_inner(s: &Scenario) -> Result<Outcome, SafetyError> {
    let mut unit_notes = Vec::new();
    let patient = patient_input(&s.patient, &mut unit_notes)?;
    let ci = ContextInput {
        unit_notes,
        indication: s.indication.clone(),
        protocol: s.protocol.clone(),
        model_id: s.model.clone(),
        population: s.population.clone(),
        patient,
        ..Default::default()
    };
    let conditions = s
        .conditions
        .as_deref()
        .map(parse_conditions)
        .transpose()?
        .unwrap_or_default();
    let medications = s
        .medications
        .as_deref()
        .map(parse_medications)
        .transpose()?
        .unwrap_or_default();
    let bag = s.bag.as_deref().map(parse_bag).transpose()?;
    match s.command {
        Command::Plan => {
            let (ctx, p) = clinical_plan(&ci, s.regimen.clone(), conditions, medications, bag)?;
            Ok(Outcome {
                exit: if p.has_stop() { EXIT_STOP } else { EXIT_OK },
                alerts: codes(&p.alerts),
                error: None,
                target_mmol_l: Some((ctx.target.lo_mmol_l, ctx.target.hi_mmol_l)),
                population: Some(ctx.population.id.clone()),
                model: Some(ctx.model.id.clone()),
                recommendation: None,
                rate_g_per_h: None,
            })
        }
        Command::Adjust => {
            let mut ci = ci;
            ci.conditions = conditions.clone();
            let ctx = ClinicalContext::build(&ci)?;
            let text = s
                .regimen
                .clone()
                .or_else(|| ctx.protocol.map(|p| p.regimen.clone()))
                .ok_or_else(|| SafetyError::Invalid {
                    field: "regimen".into(),
                    value: "none".into(),
                    allowed: "the regimen given".into(),
                })?;
            let given = Regimen::from_text(&text, ctx.patient.weight_kg)?;
            let levels = parse_levels(s.levels.as_deref().unwrap_or(""))?;
            let req = AdjustRequest {
                given,
                levels,
                now_h: s.now_h,
                horizon_h: mgiv_pop::tdm::DEFAULT_HORIZON_H,
                max_p_toxic: mgiv_pop::tdm::DEFAULT_MAX_P_TOXIC,
                allow_maintenance: s.allow_maintenance,
                bag,
                conditions,
                medications,
            };
            let a = safe_adjust(&ctx, &req)?;
            let (rec, rate) = match &a.recommendation {
                crate::adjust::Recommendation::Hold { .. } => ("hold".to_string(), None),
                crate::adjust::Recommendation::Recheck {
                    current_rate_g_per_h,
                    ..
                } => ("recheck".to_string(), Some(*current_rate_g_per_h)),
                crate::adjust::Recommendation::Order { rate_g_per_h, .. } => {
                    ("order".to_string(), Some(*rate_g_per_h))
                }
            };
            Ok(Outcome {
                exit: if a.has_stop() { EXIT_STOP } else { EXIT_OK },
                alerts: codes(&a.alerts),
                error: None,
                target_mmol_l: Some(a.target_mmol_l),
                population: Some(ctx.population.id.clone()),
                model: Some(ctx.model.id.clone()),
                recommendation: Some(rec),
                rate_g_per_h: rate,
            })
        }
    }
}

/// Compare an outcome with the expectation; the list of mismatches (empty: pass).
pub fn check(s: &Scenario, o: &Outcome) -> Vec<String> {
    let e = &s.expect;
    let mut bad = Vec::new();
    if o.exit != e.exit {
        bad.push(format!(
            "exit {} (expected {}){}",
            o.exit,
            e.exit,
            o.error
                .as_deref()
                .map(|m| format!(": {m}"))
                .unwrap_or_default()
        ));
    }
    for c in &e.alerts {
        if !o.alerts.contains(c) {
            bad.push(format!("alert {c} missing (got {:?})", o.alerts));
        }
    }
    for c in &e.absent {
        if o.alerts.contains(c) {
            bad.push(format!("alert {c} present but must not be"));
        }
    }
    if let Some([lo, hi]) = e.target_mmol_l {
        if o.target_mmol_l
            .is_none_or(|(a, b)| (a - lo).abs() > 1e-9 || (b - hi).abs() > 1e-9)
        {
            bad.push(format!("target {:?} (expected {lo}-{hi})", o.target_mmol_l));
        }
    }
    for (what, want, got) in [
        ("population", &e.population, &o.population),
        ("model", &e.model, &o.model),
        ("recommendation", &e.recommendation, &o.recommendation),
    ] {
        if want.is_some() && want != got {
            bad.push(format!("{what} {got:?} (expected {want:?})"));
        }
    }
    if let Some(m) = e.max_rate_g_per_h {
        if o.rate_g_per_h.is_none_or(|r| r > m + 1e-9) {
            bad.push(format!(
                "rate {:?} g/h (expected at most {m})",
                o.rate_g_per_h
            ));
        }
    }
    if let Some(t) = &e.error_contains {
        if !o.error.as_deref().is_some_and(|m| m.contains(t.as_str())) {
            bad.push(format!("error {:?} should contain '{t}'", o.error));
        }
    }
    bad
}
