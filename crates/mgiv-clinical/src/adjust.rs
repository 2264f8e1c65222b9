//! `adjust` behind the safety engine. Measured levels are checked against the indication's
//! thresholds first: a toxic level (≥ toxic threshold) or an emergency level is a STOP with what to
//! do, and no "continue at X g/h" is offered while a measured level is toxic. A level far outside
//! the prior predictive range (e.g. 0.2 mmol/L during an infusion) is flagged as a likely sampling
//! or unit error and the fit is shown with and without it (the recommendation uses the fit
//! without it). The recommendation follows the indication's target and course (no maintenance is
//! added to a single-dose or replacement course unless asked) and is run through the whole-order
//! checks on the timeline the patient would receive (what was given + the new order).

use serde::Serialize;

use mgiv_core::regimen::{DoseEvent, Regimen};
use mgiv_core::units::{Bag, MgAmount, Salt};
use mgiv_pop::popmodel::PopModel;
use mgiv_pop::tdm::{
    adjust, prior_predictive_range, running_rate_mmol_per_h, stop_at, Adjustment, BaselinePrior,
    DecisionSettings, Level, PosteriorSettings,
};
use mgiv_safety::indication::Course;
use mgiv_safety::names::Named;
use mgiv_safety::order::{order_facts, OrderContext};
use mgiv_safety::plan::adjust_alerts;
use mgiv_safety::protocol::find_protocol;
use mgiv_safety::rules::rulebook;
use mgiv_safety::{Alert, SafetyError, Severity};

use crate::context::ClinicalContext;

/// Coverage of the prior predictive range outside which a level is called implausible.
pub const IMPLAUSIBLE_COVERAGE: f64 = 0.999;

/// What to adjust.
#[derive(Debug, Clone)]
pub struct AdjustRequest {
    pub given: Regimen,
    pub levels: Vec<Level>,
    /// decision time (h); default the last level
    pub now_h: Option<f64>,
    pub horizon_h: f64,
    pub max_p_toxic: f64,
    /// allow a maintenance infusion for a single-dose or replacement course
    pub allow_maintenance: bool,
    pub bag: Option<Bag>,
    pub conditions: Vec<Named>,
    pub medications: Vec<Named>,
}

/// What mgiv recommends.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "action", rename_all = "kebab-case")]
pub enum Recommendation {
    /// a measured level is toxic: hold the infusion; no rate is proposed
    Hold { reason: String },
    /// every level is implausible: repeat the level before changing anything; the order as given
    /// is left unchanged meanwhile (its current rate is reported)
    Recheck {
        reason: String,
        current_rate_g_per_h: f64,
    },
    /// the new order from `now`
    Order {
        bolus_g: f64,
        rate_g_per_h: f64,
        /// the new order as regimen text, from the decision time
        text: String,
    },
}

/// The whole answer.
#[derive(Debug, Clone, Serialize)]
pub struct SafeAdjustment {
    pub indication: String,
    pub course: Course,
    pub target_mmol_l: (f64, f64),
    pub toxic_mmol_l: f64,
    pub emergency_mmol_l: f64,
    pub now_h: f64,
    pub recommendation: Recommendation,
    /// the Bayesian fit and decision used (without implausible levels, if any)
    pub fit: Adjustment,
    /// the fit with every level, when some were flagged implausible
    pub fit_with_all_levels: Option<Adjustment>,
    /// prior predictive (99.9 %) range at each level time
    pub prior_range_mmol_l: Vec<(f64, f64)>,
    pub implausible_levels: Vec<Level>,
    /// every alert: measured levels, context, whole-order checks on the recommendation
    pub alerts: Vec<Alert>,
}

impl SafeAdjustment {
    pub fn has_stop(&self) -> bool {
        self.alerts.iter().any(|a| a.severity == Severity::Stop)
    }
}

fn g_to_mmol(g: f64) -> f64 {
    MgAmount::from_salt_g(Salt::MgSo4Heptahydrate, g).mmol()
}

/// Run the TDM behind the safety engine.
pub fn safe_adjust(
    ctx: &ClinicalContext,
    req: &AdjustRequest,
) -> Result<SafeAdjustment, SafetyError> {
    let book = rulebook()?;
    let mut alerts: Vec<Alert> = ctx.alerts.clone();
    let th = &ctx.thresholds;
    let (lo, hi) = (ctx.target.lo_mmol_l, ctx.target.hi_mmol_l);
    if !(req.max_p_toxic > 0.0 && req.max_p_toxic < 1.0) {
        return Err(SafetyError::Invalid {
            field: "max P(toxic)".into(),
            value: req.max_p_toxic.to_string(),
            allowed: "a probability strictly between 0 and 1".into(),
        });
    }
    // 1. measured levels against the thresholds, first
    let hold = measured_level_alerts(ctx, req, &mut alerts)?;
    // 2. plausibility against the prior predictive range
    let prior = BaselinePrior {
        mean_mmol_l: ctx.population.baseline_mmol_l.mean,
        sd_mmol_l: ctx.population.baseline_mmol_l.sd,
    };
    let screen = screen_levels(ctx, req, prior, &mut alerts)?;
    // 3. the Bayesian fit and decision, on the indication's target and course
    let last = req.levels.iter().map(|l| l.time_h).fold(0.0, f64::max);
    let now = req.now_h.unwrap_or(last);
    let ds = decision_settings(ctx, req, now, &mut alerts)?;
    let run = |levels: &[Level]| {
        adjust(
            &ctx.model,
            &ctx.patient,
            &req.given,
            levels,
            prior,
            &ds,
            PosteriorSettings::default(),
        )
    };
    let fit_levels: &[Level] = if screen.kept.is_empty() {
        &req.levels
    } else {
        &screen.kept
    };
    let fit = run(fit_levels)?;
    let fit_with_all = if screen.implausible.is_empty() || screen.kept.is_empty() {
        None
    } else {
        Some(run(&req.levels)?)
    };
    // 4. the recommendation, through the whole-order checks
    let recommendation = recommend(ctx, req, hold, &screen, &fit, now, &mut alerts)?;
    let timeline = timeline_with(req, &recommendation, now);
    alerts.extend(whole_order_alerts(ctx, req, &timeline, now)?);
    adjust_alerts(book, &mut alerts, Some(ctx.indication), &req.conditions)?;
    mgiv_safety::alert::sort_alerts(&mut alerts);
    Ok(SafeAdjustment {
        indication: ctx.indication.id.clone(),
        course: ctx.indication.course,
        target_mmol_l: (lo, hi),
        toxic_mmol_l: th.toxic_mmol_l,
        emergency_mmol_l: th.emergency_mmol_l,
        now_h: now,
        recommendation,
        fit,
        fit_with_all_levels: fit_with_all,
        prior_range_mmol_l: screen.range,
        implausible_levels: screen.implausible,
        alerts,
    })
}

/// Alerts for levels whose unit was inferred, and for the highest measured level against the
/// toxic and emergency thresholds; returns why to hold when one is reached.
fn measured_level_alerts(
    ctx: &ClinicalContext,
    req: &AdjustRequest,
    alerts: &mut Vec<Alert>,
) -> Result<Option<String>, SafetyError> {
    let book = rulebook()?;
    let th = &ctx.thresholds;
    for l in req.levels.iter().filter(|l| l.unit_inferred) {
        alerts.push(book.alert(
            "LEVEL-UNIT-INFERRED",
            &format!(
                "{} at {} h read as {} = {:.2} mmol/L",
                fmt_level(l),
                mgiv_core::units::fmt_num(l.time_h),
                l.unit.symbol(),
                l.mmol_l
            ),
        )?);
    }
    let Some(w) = req
        .levels
        .iter()
        .copied()
        .max_by(|a, b| a.mmol_l.total_cmp(&b.mmol_l))
    else {
        return Ok(None);
    };
    let at = format!(
        "measured {:.2} mmol/L at {} h",
        w.mmol_l,
        mgiv_core::units::fmt_num(w.time_h)
    );
    if w.mmol_l >= th.emergency_mmol_l {
        alerts.push(book.alert(
            "LEVEL-MEASURED-EMERGENCY",
            &format!(
                "{at} (emergency threshold {} mmol/L: {})",
                th.emergency_mmol_l, th.emergency_source
            ),
        )?);
        return Ok(Some(format!("{at}: emergency")));
    }
    if w.mmol_l >= th.toxic_mmol_l {
        alerts.push(book.alert(
            "LEVEL-MEASURED-TOXIC",
            &format!(
                "{at} (toxic threshold {} mmol/L: {})",
                th.toxic_mmol_l, th.toxic_source
            ),
        )?);
        return Ok(Some(format!("{at}: potentially toxic")));
    }
    Ok(None)
}

/// The measured levels split by the model's 99.9 % prior predictive range for this order.
struct LevelScreen {
    range: Vec<(f64, f64)>,
    kept: Vec<Level>,
    implausible: Vec<Level>,
}

/// Screen every level against the prior predictive range (a LEVEL-IMPLAUSIBLE alert for each one
/// outside it); a toxic level is never discarded as implausible: it is acted on.
fn screen_levels(
    ctx: &ClinicalContext,
    req: &AdjustRequest,
    prior: BaselinePrior,
    alerts: &mut Vec<Alert>,
) -> Result<LevelScreen, SafetyError> {
    let book = rulebook()?;
    let (model, patient) = (&ctx.model, &ctx.patient);
    let pm = PopModel::new(model)?;
    let p = model.individualise(patient)?.params;
    let typical = mgiv_pop::popmodel::param_vector(&p);
    let times: Vec<f64> = req.levels.iter().map(|l| l.time_h).collect();
    let range = prior_predictive_range(
        &pm,
        typical,
        patient.baseline.map(|b| b.mmol_l()),
        prior,
        &req.given.events,
        &times,
        IMPLAUSIBLE_COVERAGE,
        // prior-predictive draws (numerical)
        4000,
    )?;
    let (mut kept, mut implausible) = (Vec::new(), Vec::new());
    for (l, &(a, b)) in req.levels.iter().zip(&range) {
        if (l.mmol_l < a || l.mmol_l > b) && l.mmol_l < ctx.thresholds.toxic_mmol_l {
            implausible.push(*l);
            alerts.push(book.alert(
                "LEVEL-IMPLAUSIBLE",
                &format!(
                    "{} at {} h = {:.2} mmol/L; the model predicts {:.2}-{:.2} mmol/L at that time for this order (99.9 % range, model {})",
                    fmt_level(l),
                    mgiv_core::units::fmt_num(l.time_h),
                    l.mmol_l,
                    a,
                    b,
                    model.id
                ),
            )?);
        } else {
            kept.push(*l);
        }
    }
    Ok(LevelScreen {
        range,
        kept,
        implausible,
    })
}

/// The decision grid for this indication: the label rate limit on boluses, no maintenance for a
/// single-dose or replacement course, and no dose increase where no serum target is established.
fn decision_settings(
    ctx: &ClinicalContext,
    req: &AdjustRequest,
    now: f64,
    alerts: &mut Vec<Alert>,
) -> Result<DecisionSettings, SafetyError> {
    let book = rulebook()?;
    let (lo, hi) = (ctx.target.lo_mmol_l, ctx.target.hi_mmol_l);
    let mut ds = DecisionSettings::new(now, (lo, hi), ctx.thresholds.toxic_mmol_l);
    ds.horizon_h = req.horizon_h;
    ds.max_p_toxic = req.max_p_toxic;
    if ctx.indication.uspi_rate_limit_applies {
        // a bolus over 20 min must stay within the label rate (150 mg/min: at most 3 g)
        let limit = book.limit("RATE-USPI-150", "mg/min")?;
        ds.boluses_g.retain(|b| b * 1000.0 / 20.0 <= limit + 1e-9);
    }
    let maintenance_ok = ctx.indication.course == Course::Maintenance || req.allow_maintenance;
    if !maintenance_ok {
        ds.rates_g_per_h = vec![0.0];
        // a replacement course keeps the candidate boluses of DecisionSettings::new (mgiv's
        // defaults, `DEFAULT_BOLUSES_G`) as already restricted to the label rate above; any other
        // course gets no new bolus
        if ctx.indication.course != Course::Replacement {
            ds.boluses_g = vec![0.0];
        }
        alerts.push(book.alert(
            "ADJUST-COURSE",
            &format!(
                "indication {} is a {} course",
                ctx.indication.id,
                ctx.indication.course.as_str()
            ),
        )?);
    }
    if maintenance_ok && !ctx.target_established {
        // no serum target is established: never raise the dose to reach a display range
        let current = current_rate_g_per_h(&req.given, now);
        ds.rates_g_per_h.retain(|&r| r <= current + 1e-9);
        ds.boluses_g = vec![0.0];
        alerts.push(book.alert(
            "ADJUST-NO-TARGET",
            &format!(
                "indication {}: the {}-{} mmol/L range is for display only; rates above the current {} g/h are not considered",
                ctx.indication.id,
                lo,
                hi,
                mgiv_core::units::fmt_num(current)
            ),
        )?);
    }
    Ok(ds)
}

/// Hold on a toxic level; recheck when every level is implausible; else the decision's order
/// (with an ADJUST-NO-SAFE-RATE alert when no option meets the risk limit).
fn recommend(
    ctx: &ClinicalContext,
    req: &AdjustRequest,
    hold: Option<String>,
    screen: &LevelScreen,
    fit: &Adjustment,
    now: f64,
    alerts: &mut Vec<Alert>,
) -> Result<Recommendation, SafetyError> {
    if let Some(reason) = hold {
        return Ok(Recommendation::Hold { reason });
    }
    if screen.kept.is_empty() {
        return Ok(Recommendation::Recheck {
            reason: format!(
                "every measured level is outside the model's 99.9 % range for this order ({} level(s)); a sampling or unit error is more likely than a real change",
                screen.implausible.len()
            ),
            current_rate_g_per_h: fit.decision.continue_as_given.rate_g_per_h,
        });
    }
    let r = fit.decision.recommended;
    if !fit.decision.feasible {
        alerts.push(rulebook()?.alert(
            "ADJUST-NO-SAFE-RATE",
            &format!(
                "least risky option {} g + {} g/h: P(> {} mmol/L) = {:.0} %",
                r.bolus_g,
                r.rate_g_per_h,
                ctx.thresholds.toxic_mmol_l,
                100.0 * r.p_above_toxic
            ),
        )?);
    }
    Ok(Recommendation::Order {
        bolus_g: r.bolus_g,
        rate_g_per_h: r.rate_g_per_h,
        text: order_text(r.bolus_g, r.rate_g_per_h, now, req.horizon_h),
    })
}

/// What was given (stopped at `now` unless the advice is to recheck) plus the recommended order.
fn timeline_with(req: &AdjustRequest, rec: &Recommendation, now: f64) -> Vec<DoseEvent> {
    let mut timeline = match rec {
        Recommendation::Recheck { .. } => req.given.events.clone(),
        _ => stop_at(&req.given.events, now),
    };
    if let Recommendation::Order {
        bolus_g,
        rate_g_per_h,
        ..
    } = rec
    {
        let n = req.given.events.len() + 1;
        if *bolus_g > 0.0 {
            timeline.push(DoseEvent::Infusion {
                start_h: now,
                // a candidate bolus runs over 20 min (mgiv's candidate design, as in DecisionSettings)
                end_h: Some(now + 1.0 / 3.0),
                rate_mmol_per_h: 3.0 * g_to_mmol(*bolus_g),
                phase: n,
            });
        }
        if *rate_g_per_h > 0.0 {
            timeline.push(DoseEvent::Infusion {
                start_h: now,
                end_h: Some(now + req.horizon_h),
                rate_mmol_per_h: g_to_mmol(*rate_g_per_h),
                phase: n + 1,
            });
        }
    }
    timeline
}

/// The whole-order checks of what was given plus the recommendation (window, fluid and renal
/// findings; not the loading check, which is about what was written), and the entered
/// conditions' and medications' rules.
fn whole_order_alerts(
    ctx: &ClinicalContext,
    req: &AdjustRequest,
    timeline: &[DoseEvent],
    now: f64,
) -> Result<Vec<Alert>, SafetyError> {
    let book = rulebook()?;
    let reference = ctx
        .indication
        .reference_protocols
        .first()
        .and_then(|id| find_protocol(id).ok());
    let facts = order_facts(timeline, req.bag, now + req.horizon_h);
    let octx = OrderContext {
        book,
        indication: Some(ctx.indication),
        patient: &ctx.patient,
        conditions: &req.conditions,
        reference,
        bag_known: req.bag.is_some(),
    };
    let mut alerts = octx.alerts(&facts)?;
    alerts.retain(|a| a.code != "LOAD-EXCESS" && a.code != "LOAD-ROUTE");
    for a in &mut alerts {
        a.message
            .push_str(" (whole-order check of what was given plus the recommendation)");
    }
    let mut seen: Vec<&str> = Vec::new();
    for n in req.conditions.iter().chain(&req.medications) {
        if seen.contains(&n.rule.as_str()) || n.rule == "CTX-OBSTETRIC" {
            continue;
        }
        seen.push(&n.rule);
        alerts.push(book.alert(&n.rule, &format!("entered: {}", n.name))?);
    }
    Ok(alerts)
}

/// The rate (g/h MgSO4·7H2O) running at `now` under the given regimen.
fn current_rate_g_per_h(given: &Regimen, now: f64) -> f64 {
    MgAmount::from_mmol(running_rate_mmol_per_h(&given.events, now)).salt_g(Salt::MgSo4Heptahydrate)
}

fn fmt_level(l: &Level) -> String {
    let v = mgiv_core::units::MgConc::from_mmol_l(l.mmol_l).in_unit(l.unit);
    format!(
        "{} {}",
        // round to 6 decimals for display (formatting)
        mgiv_core::units::fmt_num((v * 1e6).round() / 1e6),
        l.unit.symbol()
    )
}

fn order_text(bolus_g: f64, rate_g_per_h: f64, now_h: f64, horizon_h: f64) -> String {
    let mut parts = Vec::new();
    if bolus_g > 0.0 {
        parts.push(format!("{bolus_g} g over 20 min"));
    }
    if rate_g_per_h > 0.0 {
        parts.push(format!("{rate_g_per_h} g/h for {horizon_h} h"));
    }
    if parts.is_empty() {
        return format!(
            "no further magnesium from {} h",
            mgiv_core::units::fmt_num(now_h)
        );
    }
    format!(
        "{}, starting at {} h",
        parts.join(", then "),
        mgiv_core::units::fmt_num(now_h)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::context::ContextInput;
    use mgiv_core::patient::PatientInput;

    fn settings_for(indication: &str) -> DecisionSettings {
        let obstetric = indication.contains("eclampsia");
        let ctx = ClinicalContext::build(&ContextInput {
            indication: Some(indication.into()),
            patient: PatientInput {
                weight_kg: Some(70.0),
                pregnant: obstetric,
                pre_eclampsia: obstetric,
                ..Default::default()
            },
            ..Default::default()
        })
        .unwrap();
        let req = AdjustRequest {
            given: Regimen::from_text("2 g over 1 h", Some(70.0)).unwrap(),
            levels: Vec::new(),
            now_h: Some(6.0),
            horizon_h: mgiv_pop::tdm::DEFAULT_HORIZON_H,
            max_p_toxic: mgiv_pop::tdm::DEFAULT_MAX_P_TOXIC,
            allow_maintenance: false,
            bag: None,
            conditions: Vec::new(),
            medications: Vec::new(),
        };
        decision_settings(&ctx, &req, 6.0, &mut Vec::new()).unwrap()
    }

    /// A replacement course under the USPI 150 mg/min limit keeps the default candidate boluses
    /// as restricted to that rate: 4 g over 20 min (200 mg/min) is not offered. (It was: the
    /// replacement course reset its boluses to the unrestricted defaults.)
    #[test]
    fn replacement_course_boluses_keep_the_label_rate() {
        let limit_mg_min = rulebook()
            .unwrap()
            .limit("RATE-USPI-150", "mg/min")
            .unwrap();
        for id in ["hypomag-ward", "hypomag-icu"] {
            let ds = settings_for(id);
            assert_eq!(ds.rates_g_per_h, vec![0.0], "{id}: no maintenance");
            assert_eq!(ds.boluses_g, vec![0.0, 1.0, 2.0], "{id}");
            for b in &ds.boluses_g {
                assert!(b * 1000.0 / 20.0 <= limit_mg_min, "{id}: {b} g over 20 min");
            }
        }
        // a single-dose course gets no new bolus; a maintenance course the whole default grid
        // (the label rate limits its boluses too)
        assert_eq!(settings_for("migraine").boluses_g, vec![0.0]);
        let sah = settings_for("sah");
        assert_eq!(sah.rates_g_per_h, mgiv_pop::tdm::default_rates_g_per_h());
        assert_eq!(sah.boluses_g, vec![0.0, 1.0, 2.0]);
        // an obstetric indication outside the label limit keeps every default bolus
        assert_eq!(
            settings_for("pre-eclampsia").boluses_g,
            mgiv_pop::tdm::DEFAULT_BOLUSES_G.to_vec()
        );
    }
}
