//! What the API and the pages do, once: read the request, call mgiv-clinical (context, plan,
//! safe_adjust, brain pipeline) and store the result. No clinical decision is made here.

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use utoipa::ToSchema;

use mgiv_clinical::adjust::{safe_adjust, AdjustRequest, Recommendation};
use mgiv_clinical::context::{ClinicalContext, ContextInput};
use mgiv_clinical::scenario::{clinical_plan, BASELINE_PLAUSIBLE_MMOL_L};
use mgiv_core::patient::{Creatinine, PatientInput, Sex};
use mgiv_core::regimen::Regimen;
use mgiv_core::units::{ConcUnit, MgConc};
use mgiv_pop::tdm::Level;
use mgiv_safety::bag::parse_bag;
use mgiv_safety::names::{parse_conditions, parse_medications};
use mgiv_safety::plan::Plan;

use crate::db::{invalid, Db, Patient, Record, StoreError, User};
use crate::error::ApiError;
use crate::util::{now_rfc3339, parse_rfc3339_ms};

/// A patient as admitted: demographics, conditions, medications, indication.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PatientIn {
    /// display name
    pub name: String,
    /// medical record number
    #[serde(default)]
    pub mrn: Option<String>,
    #[serde(default)]
    pub weight_kg: Option<f64>,
    #[serde(default)]
    pub height_cm: Option<f64>,
    #[serde(default)]
    pub age_y: Option<f64>,
    /// f or m
    #[serde(default)]
    pub sex: Option<String>,
    /// serum creatinine, mg/dL
    #[serde(default)]
    pub creatinine_mg_dl: Option<f64>,
    #[serde(default)]
    pub pregnant: bool,
    #[serde(default)]
    pub pre_eclampsia: bool,
    /// measured pre-treatment total serum Mg with its unit, e.g. "0.8 mmol/L"
    #[serde(default)]
    pub baseline: Option<String>,
    /// indication id (see data/indications), e.g. pre-eclampsia
    #[serde(default)]
    pub indication: Option<String>,
    /// comma-separated conditions, e.g. "renal-failure,myasthenia-gravis"
    #[serde(default)]
    pub conditions: Option<String>,
    /// comma-separated medications, e.g. "nifedipine"
    #[serde(default)]
    pub medications: Option<String>,
}

/// A new order (or a correction of one: `supersedes`).
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OrderIn {
    /// the regimen as written, e.g. "4 g over 20 min, then 1 g/h for 24 h" (g = g MgSO4·7H2O)
    pub regimen: String,
    /// indication id (default: the patient's)
    #[serde(default)]
    pub indication: Option<String>,
    /// protocol id the regimen follows, e.g. zuspan
    #[serde(default)]
    pub protocol: Option<String>,
    /// the bag hung, e.g. "40 g in 1000 mL" (default: the protocol's)
    #[serde(default)]
    pub bag: Option<String>,
    /// when the regimen started (RFC 3339 with zone); default now
    #[serde(default)]
    pub start: Option<String>,
    /// required to store an order that has a STOP alert: why it is given anyway (audited)
    #[serde(default)]
    pub override_stop_reason: Option<String>,
    /// the order this one corrects
    #[serde(default)]
    pub supersedes: Option<String>,
    /// the patient version the client saw (409 if it changed)
    #[serde(default)]
    pub expected_version: Option<i64>,
}

/// A measured total serum magnesium level.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LevelIn {
    /// the measured value, in `unit`
    pub value: f64,
    /// mmol/L, mg/dL or mEq/L
    pub unit: String,
    /// hours since the current order started (a number), or the sampling time (RFC 3339 with zone)
    #[schema(value_type = Object)]
    pub time: Value,
    /// the level this one corrects
    #[serde(default)]
    pub supersedes: Option<String>,
    #[serde(default)]
    pub expected_version: Option<i64>,
}

/// A TDM run on the current order and levels.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AdjustIn {
    /// decision time, h from the order's start (default: the last level)
    #[serde(default)]
    pub now_h: Option<f64>,
    /// forecast horizon after the decision, h (2 to 168; default 24)
    #[serde(default)]
    pub horizon_h: Option<f64>,
    /// largest acceptable probability of a toxic level (default 0.05)
    #[serde(default)]
    pub max_p_toxic: Option<f64>,
    #[serde(default)]
    pub expected_version: Option<i64>,
}

/// Accept a proposed recommendation.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AcceptIn {
    #[serde(default)]
    pub expected_version: Option<i64>,
    #[serde(default)]
    pub note: Option<String>,
}

fn opt_nonempty(s: &Option<String>) -> Option<&str> {
    s.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

fn check_num(field: &str, v: Option<f64>, lo: f64, hi: f64, unit: &str) -> Result<(), ApiError> {
    match v {
        Some(x) if !(x.is_finite() && x >= lo && x <= hi) => {
            Err(invalid(field, x, &format!("{lo} to {hi} {unit}")).into())
        }
        _ => Ok(()),
    }
}

/// The patient as a clinical-context input (every field checked; errors name the field).
pub fn context_input(
    p: &PatientIn,
    indication: Option<&str>,
    protocol: Option<&str>,
) -> Result<ContextInput, ApiError> {
    if p.name.trim().is_empty() || p.name.chars().count() > 200 {
        return Err(invalid("name", &p.name, "1 to 200 characters").into());
    }
    // the library checks plausibility; these bounds only keep numbers finite and physical
    check_num("weight_kg", p.weight_kg, 0.3, 700.0, "kg")?;
    check_num("height_cm", p.height_cm, 20.0, 280.0, "cm")?;
    check_num("age_y", p.age_y, 0.0, 130.0, "years")?;
    check_num("creatinine_mg_dl", p.creatinine_mg_dl, 0.05, 30.0, "mg/dL")?;
    let sex = opt_nonempty(&p.sex).map(Sex::parse).transpose()?;
    let baseline = opt_nonempty(&p.baseline)
        .map(|s| MgConc::parse_needing_unit("baseline", s, BASELINE_PLAUSIBLE_MMOL_L).map(|x| x.0))
        .transpose()?;
    let conditions = opt_nonempty(&p.conditions)
        .map(parse_conditions)
        .transpose()?
        .unwrap_or_default();
    Ok(ContextInput {
        indication: indication
            .or(opt_nonempty(&p.indication))
            .map(str::to_string),
        protocol: protocol.map(str::to_string),
        patient: PatientInput {
            weight_kg: p.weight_kg,
            height_cm: p.height_cm,
            age_y: p.age_y,
            sex,
            creatinine: p.creatinine_mg_dl.map(Creatinine::MgPerDl),
            crcl_ml_min: None,
            egfr_ml_min_1_73m2: None,
            pregnant: p.pregnant || p.pre_eclampsia,
            pre_eclampsia: p.pre_eclampsia,
            baseline,
        },
        conditions,
        ..Default::default()
    })
}

pub fn patient_in(p: &Patient) -> Result<PatientIn, ApiError> {
    serde_json::from_value(p.details.clone())
        .map_err(|e| invalid("details", e, "a stored patient").into())
}

/// Admit: the clinical context must build (indication, model and target found for the patient).
pub async fn admit(db: &Db, user: &User, p: PatientIn) -> Result<Patient, ApiError> {
    let ci = context_input(&p, None, None)?;
    ClinicalContext::build(&ci)?;
    opt_nonempty(&p.medications)
        .map(parse_medications)
        .transpose()?;
    if let Some(m) = &p.mrn {
        if m.chars().count() > 64 {
            return Err(invalid("mrn", m, "at most 64 characters").into());
        }
    }
    Ok(db
        .create_patient(
            &user.team,
            serde_json::to_value(&p).map_err(|e| invalid("patient", e, "JSON"))?,
            &user.username,
        )
        .await?)
}

/// The current (not superseded) records of a kind, oldest first.
pub fn current<'a>(recs: &'a [Record], kind: &str) -> Vec<&'a Record> {
    recs.iter()
        .filter(|r| r.kind == kind && r.superseded_by.is_none())
        .collect()
}

pub fn current_order(recs: &[Record]) -> Option<&Record> {
    current(recs, "order").into_iter().last()
}

/// The plan of an order body (re-run from what was stored: the same library call).
pub fn plan_for(p: &PatientIn, order: &Value) -> Result<(ClinicalContext, Plan), ApiError> {
    let s = |k: &str| order.get(k).and_then(Value::as_str).map(str::to_string);
    let ci = context_input(p, s("indication").as_deref(), s("protocol").as_deref())?;
    let conditions = opt_nonempty(&p.conditions)
        .map(parse_conditions)
        .transpose()?
        .unwrap_or_default();
    let medications = opt_nonempty(&p.medications)
        .map(parse_medications)
        .transpose()?
        .unwrap_or_default();
    let bag = s("bag").as_deref().map(parse_bag).transpose()?;
    Ok(clinical_plan(
        &ci,
        s("regimen_written"),
        conditions,
        medications,
        bag,
    )?)
}

fn plan_json(ctx: &ClinicalContext, p: &Plan) -> Value {
    json!({
        "regimen": p.regimen,
        "indication": ctx.indication.id,
        "phases": p.phases,
        "bag": p.bag,
        "bag_source": p.bag_source,
        "totals": p.totals,
        "alerts": p.alerts,
        "stop": p.has_stop(),
        "monitoring": p.monitoring,
        "levels_schedule": p.levels_schedule,
        "toxicity_steps": p.toxicity_steps,
        "model": p.simulation.model,
        "units": {"concentration": "mmol/L (total serum Mg)", "time": "h from the order's start", "rate": "g/h MgSO4·7H2O", "pump": "mL/h"},
    })
}

fn predicted(p: &Plan) -> Value {
    json!(p
        .simulation
        .times_h
        .iter()
        .zip(&p.simulation.serum_mmol_l)
        .map(|(t, c)| json!({"time_h": t, "serum_mmol_l": c}))
        .collect::<Vec<_>>())
}

/// Enter an order: the plan from mgiv-clinical; a STOP is stored only with an override reason.
pub async fn order(db: &Db, user: &User, patient: &Patient, o: OrderIn) -> Result<Value, ApiError> {
    let p = patient_in(patient)?;
    if o.regimen.trim().is_empty() || o.regimen.len() > 500 {
        return Err(invalid(
            "regimen",
            &o.regimen,
            "regimen text, e.g. \"4 g over 20 min, then 1 g/h for 24 h\"",
        )
        .into());
    }
    let start_ms = match opt_nonempty(&o.start) {
        Some(s) => parse_rfc3339_ms(s).ok_or_else(|| {
            invalid(
                "start",
                s,
                "an RFC 3339 date-time with a zone, e.g. 2026-11-30T08:00:00Z",
            )
        })?,
        None => parse_rfc3339_ms(&now_rfc3339()).unwrap_or(0),
    };
    let mut body = json!({
        "regimen_written": o.regimen.trim(),
        "indication": opt_nonempty(&o.indication).or(opt_nonempty(&p.indication)),
        "protocol": opt_nonempty(&o.protocol),
        "bag": opt_nonempty(&o.bag),
        "start": crate::util::rfc3339_of_ms(start_ms),
        "start_unix_ms": start_ms,
    });
    let (ctx, plan) = plan_for(&p, &body)?;
    let reason = opt_nonempty(&o.override_stop_reason);
    if plan.has_stop() && reason.is_none() {
        let mut e = ApiError::new(axum::http::StatusCode::UNPROCESSABLE_ENTITY, "override_stop_reason", "absent",
            "the order has a STOP alert: it is not stored unless override_stop_reason says why it is given anyway",
            "a reason (text)");
        e.extra = Some(json!({"alerts": plan.alerts}));
        return Err(e);
    }
    body["regimen"] = json!(plan.regimen);
    body["indication"] = json!(ctx.indication.id);
    body["plan"] = plan_json(&ctx, &plan);
    body["stop_override"] = json!(if plan.has_stop() { reason } else { None });
    let (action, detail) = if plan.has_stop() {
        (
            "order.stop-override",
            json!({"regimen": plan.regimen, "reason": reason, "stop_alerts": plan.alerts.iter().filter(|a| a.severity == mgiv_safety::Severity::Stop).map(|a| a.code.clone()).collect::<Vec<_>>()}),
        )
    } else {
        ("order.add", json!({"regimen": plan.regimen}))
    };
    let action = if o.supersedes.is_some() && !plan.has_stop() {
        "order.correct"
    } else {
        action
    };
    let rec = db
        .append_record(
            patient,
            "order",
            body,
            o.supersedes.clone(),
            o.expected_version,
            &user.username,
            action,
            detail,
        )
        .await?;
    Ok(
        json!({"record": rec, "pump_settings": plan.phases, "alerts": plan.alerts, "stop": plan.has_stop(),
              "predicted": predicted(&plan), "context": ctx.to_json(), "patient_version": rec.patient_version}),
    )
}

/// Hours since the order's start of a level time (a number of hours, or a date-time).
pub fn level_time_h(time: &Value, order: Option<&Record>) -> Result<f64, ApiError> {
    let allowed = "hours since the current order started (a number from 0 to 2160), or an RFC 3339 date-time with a zone";
    let t = match time {
        Value::Number(n) => n.as_f64().ok_or_else(|| invalid("time", n, allowed))?,
        Value::String(s) => match s.trim().parse::<f64>() {
            Ok(h) => h,
            Err(_) => {
                let ms = parse_rfc3339_ms(s).ok_or_else(|| invalid("time", s, allowed))?;
                let start = order
                    .and_then(|o| o.body.get("start_unix_ms"))
                    .and_then(Value::as_i64)
                    .ok_or_else(|| {
                        invalid(
                            "time",
                            s,
                            "a level dated after an order: enter the order first",
                        )
                    })?;
                (ms - start) as f64 / 3.6e6
            }
        },
        other => return Err(invalid("time", other, allowed).into()),
    };
    if !(t.is_finite() && (0.0..=2160.0).contains(&t)) {
        return Err(invalid("time", format!("{t} h"), allowed).into());
    }
    Ok(t)
}

/// A level, converted to mmol/L with mgiv-core's units; stored as entered and as mmol/L.
pub fn level_body(value: f64, unit: &str, time_h: f64, source: Value) -> Result<Value, ApiError> {
    let u = ConcUnit::parse(unit).map_err(|_| invalid("unit", unit, "mmol/L, mg/dL or mEq/L"))?;
    if !(value.is_finite() && value > 0.0) {
        return Err(invalid("value", value, "a positive number").into());
    }
    let c = MgConc::from_unit(value, u);
    // input guard: above any survivable level, so a unit slip
    if c.mmol_l() > 20.0 {
        return Err(invalid(
            "value",
            format!("{value} {}", u.symbol()),
            "at most 20 mmol/L (48.6 mg/dL): check the unit",
        )
        .into());
    }
    Ok(
        json!({"value": value, "unit": u.symbol(), "mmol_l": c.mmol_l(), "time_h": time_h, "analyte": "total", "source": source}),
    )
}

pub async fn add_level(
    db: &Db,
    user: &User,
    patient: &Patient,
    l: LevelIn,
) -> Result<Record, ApiError> {
    let recs = db.records(&patient.id).await?;
    let t = level_time_h(&l.time, current_order(&recs))?;
    let body = level_body(l.value, &l.unit, t, json!({"kind": "manual"}))?;
    let detail =
        json!({"value": l.value, "unit": body["unit"], "mmol_l": body["mmol_l"], "time_h": t});
    let action = if l.supersedes.is_some() {
        "level.correct"
    } else {
        "level.add"
    };
    Ok(db
        .append_record(
            patient,
            "level",
            body,
            l.supersedes.clone(),
            l.expected_version,
            &user.username,
            action,
            detail,
        )
        .await?)
}

/// Total-serum levels used by the TDM (ionised ones are shown, not fitted).
pub fn tdm_levels(recs: &[Record]) -> Vec<Level> {
    let mut v: Vec<Level> = current(recs, "level")
        .into_iter()
        .filter(|r| r.body.get("analyte").and_then(Value::as_str) == Some("total"))
        .filter_map(|r| {
            let t = r.body.get("time_h")?.as_f64()?;
            let c = r.body.get("mmol_l")?.as_f64()?;
            let unit = r
                .body
                .get("unit")
                .and_then(Value::as_str)
                .and_then(|u| ConcUnit::parse(u).ok())
                .unwrap_or(ConcUnit::MmolPerL);
            let mut l = Level::mmol_l(t, c);
            l.unit = unit;
            Some(l)
        })
        .collect();
    v.sort_by(|a, b| a.time_h.total_cmp(&b.time_h));
    v
}

fn no_order() -> ApiError {
    ApiError::new(
        axum::http::StatusCode::UNPROCESSABLE_ENTITY,
        "order",
        "none",
        "the patient has no current order: enter one first",
        "an order",
    )
}

/// The forecast of the current order (the plan's prediction) with the levels and alerts.
pub async fn forecast(db: &Db, patient: &Patient) -> Result<Value, ApiError> {
    let recs = db.records(&patient.id).await?;
    let o = current_order(&recs).ok_or_else(no_order)?;
    let p = patient_in(patient)?;
    let (ctx, plan) = plan_for(&p, &o.body)?;
    let levels: Vec<Value> = current(&recs, "level").iter().map(|r| json!({"id": r.id, "time_h": r.body["time_h"], "mmol_l": r.body["mmol_l"], "analyte": r.body["analyte"]})).collect();
    Ok(json!({
        "order_id": o.id,
        "regimen": plan.regimen,
        "model": plan.simulation.model,
        "target_mmol_l": [ctx.target.lo_mmol_l, ctx.target.hi_mmol_l],
        "target_source": ctx.target.source,
        "toxic_mmol_l": ctx.thresholds.toxic_mmol_l,
        "toxic_source": ctx.thresholds.toxic_source,
        "emergency_mmol_l": ctx.thresholds.emergency_mmol_l,
        "emergency_source": ctx.thresholds.emergency_source,
        "points": predicted(&plan),
        "peak_mmol_l": plan.simulation.peak_mmol_l,
        "peak_time_h": plan.simulation.peak_time_h,
        "levels": levels,
        "alerts": plan.alerts,
        "stop": plan.has_stop(),
        "units": {"concentration": "mmol/L (total serum Mg)", "time": "h from the order's start"},
    }))
}

/// The TDM recommendation from mgiv-clinical's safe_adjust, stored as a proposed recommendation.
pub async fn adjust(
    db: &Db,
    user: &User,
    patient: &Patient,
    a: AdjustIn,
) -> Result<Value, ApiError> {
    let recs = db.records(&patient.id).await?;
    let o = current_order(&recs).ok_or_else(no_order)?;
    let levels = tdm_levels(&recs);
    if levels.is_empty() {
        return Err(ApiError::new(
            axum::http::StatusCode::UNPROCESSABLE_ENTITY,
            "levels",
            "none",
            "no measured total serum level: enter one first",
            "at least one level",
        ));
    }
    let horizon = a.horizon_h.unwrap_or(mgiv_pop::tdm::DEFAULT_HORIZON_H);
    mgiv_pop::tdm::check_horizon("horizon_h", horizon)?;
    let max_p = a.max_p_toxic.unwrap_or(mgiv_pop::tdm::DEFAULT_MAX_P_TOXIC);
    if !(max_p > 0.0 && max_p < 1.0) {
        return Err(invalid(
            "max_p_toxic",
            max_p,
            "a probability between 0 and 1 (exclusive)",
        )
        .into());
    }
    let last = levels.last().map(|l| l.time_h).unwrap_or(0.0);
    let now = a.now_h.unwrap_or(last);
    if !(now.is_finite() && now >= last && now <= 2160.0) {
        return Err(invalid(
            "now_h",
            now,
            &format!("at or after the last level ({last} h), at most 2160 h"),
        )
        .into());
    }
    let p = patient_in(patient)?;
    let s = |k: &str| o.body.get(k).and_then(Value::as_str).map(str::to_string);
    let ci = context_input(&p, s("indication").as_deref(), s("protocol").as_deref())?;
    let ctx = ClinicalContext::build(&ci)?;
    let regimen = Regimen::from_text(
        &s("regimen_written").unwrap_or_default(),
        ctx.patient.weight_kg,
    )?;
    let bag = match (s("bag"), ctx.protocol.and_then(|p| p.bag.clone())) {
        (Some(b), _) | (None, Some(b)) => Some(parse_bag(&b)?),
        (None, None) => None,
    };
    let req = AdjustRequest {
        given: regimen.clone(),
        levels,
        now_h: Some(now),
        horizon_h: horizon,
        max_p_toxic: max_p,
        allow_maintenance: false,
        bag,
        conditions: ci.conditions.clone(),
        medications: opt_nonempty(&p.medications)
            .map(parse_medications)
            .transpose()?
            .unwrap_or_default(),
    };
    let adj =
        tokio::task::spawn_blocking(move || safe_adjust(&ctx, &req).map(|a| (a, ctx.to_json())))
            .await
            .map_err(|e| ApiError::internal(&format!("TDM task failed: {e}")))??;
    let (adj, context) = adj;
    let summary = match &adj.recommendation {
        Recommendation::Order { text, .. } => format!("new order from {} h: {text}", adj.now_h),
        Recommendation::Hold { reason } => format!("HOLD the infusion: {reason}"),
        Recommendation::Recheck { reason, .. } => format!("repeat the level: {reason}"),
    };
    let body = json!({
        "status": "proposed",
        "summary": summary,
        "order_id": o.id,
        "regimen_given": regimen.canonical(),
        "stop": adj.has_stop(),
        "adjustment": adj,
        "context": context,
    });
    let rec = db
        .append_record(
            patient,
            "recommendation",
            body,
            None,
            a.expected_version,
            &user.username,
            "recommendation.propose",
            json!({"summary": summary, "order_id": o.id}),
        )
        .await?;
    Ok(json!({"record": rec, "patient_version": rec.patient_version}))
}

/// Accept a proposed recommendation: a new version (status accepted) that supersedes it.
pub async fn accept(
    db: &Db,
    user: &User,
    patient: &Patient,
    rid: &str,
    a: AcceptIn,
) -> Result<Record, ApiError> {
    let recs = db.records(&patient.id).await?;
    let r = recs
        .iter()
        .find(|r| r.id == rid && r.kind == "recommendation")
        .ok_or_else(|| ApiError::from(StoreError::NotFound(format!("recommendation '{rid}'"))))?;
    if r.body.get("status").and_then(Value::as_str) != Some("proposed") {
        return Err(invalid("recommendation", rid, "a proposed recommendation").into());
    }
    if let Some(n) = &a.note {
        if n.chars().count() > 2000 {
            return Err(invalid(
                "note",
                format!("{} characters", n.chars().count()),
                "at most 2000 characters",
            )
            .into());
        }
    }
    let mut body = r.body.clone();
    body["status"] = json!("accepted");
    body["accepted_by"] = json!(user.username);
    body["accepted_at"] = json!(now_rfc3339());
    body["note"] = json!(a.note);
    Ok(db
        .append_record(
            patient,
            "recommendation",
            body,
            Some(rid.to_string()),
            a.expected_version,
            &user.username,
            "recommendation.accept",
            json!({"summary": r.body["summary"]}),
        )
        .await?)
}

/// The brain-effects summary of the current order (mgiv-clinical's serum → CSF → brain pipeline).
pub fn brain_summary(p: &PatientIn, order: &Value) -> Result<Value, ApiError> {
    let s = |k: &str| order.get(k).and_then(Value::as_str).map(str::to_string);
    let ci = context_input(p, s("indication").as_deref(), s("protocol").as_deref())?;
    let ctx = ClinicalContext::build(&ci)?;
    let mut opts = mgiv_brain::BrainOptions::default();
    // fewer interval samples for the web page (numerical)
    opts.csf.n_samples = 200;
    let run = mgiv_clinical::brain::brain_for_regimen(
        &ctx,
        &s("regimen_written").unwrap_or_default(),
        None,
        None,
        &opts,
    )?;
    let r = &run.report;
    Ok(
        json!({"csf_model": r.csf_model, "summary": r.summary, "claims": r.claims, "plain_language": r.plain_language, "not_modelled": r.not_modelled}),
    )
}
