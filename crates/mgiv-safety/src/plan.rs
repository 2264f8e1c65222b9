//! A bedside plan: one patient, one regimen (a protocol's or a written one), every alert.

use serde::Serialize;

use mgiv_core::patient::{Patient, PatientInput};
use mgiv_core::regimen::{DoseEvent, PhaseKind, Regimen, RegimenSpec, Route};
use mgiv_core::simulate::{choose_model, simulate, uniform_times, ModelChoice, Simulation};
use mgiv_core::units::{fmt_num, Bag, MgAmount, MgRate, Salt, SolutionStrength};

use crate::alert::{sort_alerts, Alert, Severity};
use crate::bag::parse_bag;
use crate::error::{invalid, SafetyError};
use crate::guardrail::{self, mmol_per_g};
use crate::indication::Indication;
use crate::names::Named;
use crate::order::{order_facts, OrderContext, OrderFacts};
use crate::protocol::{protocols, Protocol, Target};
use crate::rules::{rulebook, RuleBook};

const HEPTA: Salt = Salt::MgSo4Heptahydrate;

/// What a plan is made from.
#[derive(Debug, Clone, Default)]
pub struct PlanInput<'a> {
    /// the protocol (its regimen is used unless `regimen_text` is given; with both, the written
    /// regimen is checked against the protocol)
    pub protocol: Option<&'a Protocol>,
    /// a regimen as written ("4 g over 20 min, then 1 g/h for 24 h"), JSON or TOML
    pub regimen_text: Option<String>,
    pub patient: PatientInput,
    pub conditions: Vec<Named>,
    pub medications: Vec<Named>,
    /// the bag actually hung (else the protocol's default, else none)
    pub bag: Option<Bag>,
    /// PK model id (else the protocol's preferred one, else chosen from the patient)
    pub model_id: Option<String>,
    /// hours to predict (else the regimen's end + 12 h, at least 24 h)
    pub hours: Option<f64>,
    /// the indication (from the clinical context): loading, fluid and rule adjustments
    pub indication: Option<&'a Indication>,
    /// the target from the clinical context (else the protocol's or the reference protocol's)
    pub target: Option<Target>,
    /// the model chosen by the clinical context (or a user's model file), with why; overrides
    /// `model_id`
    pub model: Option<ModelChoice>,
}

/// One phase as the bedside needs it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PhaseRow {
    /// 1-based
    pub phase: usize,
    /// load, maintenance infusion, repeated dose, IM dose, single dose
    pub role: String,
    /// the phase in canonical regimen text
    pub written: String,
    pub route: Route,
    pub start_h: f64,
    /// end of the last dose or infusion of the phase (None: no stated end)
    pub end_h: Option<f64>,
    pub doses: usize,
    pub dose_g: Option<f64>,
    pub dose_mmol: Option<f64>,
    pub dose_meq: Option<f64>,
    pub rate_g_per_h: Option<f64>,
    pub rate_mmol_per_h: Option<f64>,
    pub rate_mg_per_min: Option<f64>,
    /// pump setting for the bag (IV phases with a rate)
    pub pump_ml_per_h: Option<f64>,
    /// volume per dose (IV: of the bag; IM: of 50 % MgSO4)
    pub volume_ml: Option<f64>,
    pub volume_of: Option<String>,
    /// amount given by this phase within the predicted time
    pub total_g: f64,
    pub total_mmol: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Totals {
    pub total_g: f64,
    pub total_mmol: f64,
    /// most given in any 1-h window (all routes), concurrent phases summed
    pub max_1h_g: f64,
    /// most given in any 24-h / 48-h window (open infusions: within the predicted time)
    pub max_24h_g: f64,
    pub max_48h_g: f64,
    /// time of the last dose or infusion end (None: an infusion has no stated end)
    pub duration_h: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LevelAt {
    pub time_h: f64,
    pub serum_mg_mmol_l: f64,
}

/// The predicted curve in the numbers a clinician asks for.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CurveSummary {
    pub levels: Vec<LevelAt>,
    pub peak_time_h: f64,
    pub peak_mmol_l: f64,
    pub target: Option<Target>,
    /// first predicted time at or above the target's lower end
    pub time_to_target_h: Option<f64>,
    /// hours within the target range during the window [0, window_h]
    pub time_in_target_h: Option<f64>,
    pub time_above_target_h: Option<f64>,
    /// the treatment window: the regimen's end, at least 6 h
    pub window_h: f64,
    pub fraction_in_target: Option<f64>,
}

/// The whole plan. Nothing is dropped: `alerts` holds every rule that fired, most severe first.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Plan {
    pub protocol: Option<Protocol>,
    /// the protocol the dose-error check compared with (free text: the closest one)
    pub reference_protocol: Option<String>,
    /// canonical regimen text ("g" = g of MgSO4·7H2O)
    pub regimen: String,
    #[serde(skip)]
    pub resolved: Regimen,
    pub phases: Vec<PhaseRow>,
    pub bag: Option<Bag>,
    pub bag_source: Option<String>,
    pub totals: Totals,
    /// the whole-order measurements (windows, loads, fluid)
    pub order: OrderFacts,
    pub indication: Option<String>,
    pub patient: Patient,
    pub conditions: Vec<Named>,
    pub medications: Vec<Named>,
    pub simulation: Simulation,
    pub summary: CurveSummary,
    pub alerts: Vec<Alert>,
    /// what to check, when (from the protocol and the rules)
    pub monitoring: Vec<String>,
    pub levels_schedule: String,
    pub toxicity_steps: Vec<String>,
}

impl Plan {
    pub fn has_stop(&self) -> bool {
        self.alerts.iter().any(|a| a.severity == Severity::Stop)
    }
    pub fn worst(&self) -> Option<Severity> {
        self.alerts.iter().map(|a| a.severity).max()
    }
}

fn g(mmol: f64) -> f64 {
    MgAmount::from_mmol(mmol).salt_g(HEPTA)
}

/// Linear interpolation of the predicted curve.
fn level_at(sim: &Simulation, t: f64) -> Option<f64> {
    let ts = &sim.times_h;
    let cs = &sim.serum_mmol_l;
    if ts.is_empty() || t < ts[0] || t > *ts.last()? {
        return None;
    }
    let i = ts.partition_point(|&x| x < t);
    if i < ts.len() && (ts[i] - t).abs() < 1e-9 {
        return Some(cs[i]);
    }
    let (t0, t1, c0, c1) = (ts[i - 1], ts[i], cs[i - 1], cs[i]);
    Some(c0 + (c1 - c0) * (t - t0) / (t1 - t0))
}

fn first_time_above(sim: &Simulation, level: f64) -> Option<f64> {
    sim.times_h
        .iter()
        .zip(&sim.serum_mmol_l)
        .find(|(_, &c)| c >= level)
        .map(|(&t, _)| t)
}

/// The volume of one dose and what it is a volume of: an IM dose as the strongest marketed
/// solution, undiluted (`im_strength`); an IV dose from the bag, when one is given.
fn dose_volume(
    a: MgAmount,
    route: Route,
    bag: Option<Bag>,
    im_strength: Option<SolutionStrength>,
) -> (Option<f64>, Option<String>) {
    match (route, bag, im_strength) {
        (Route::Im, _, Some(s)) => (
            Some(a.mmol() / s.mmol_per_ml()),
            Some(format!(
                "{} % MgSO4 ({} mg/mL), undiluted IM",
                fmt_num(s.percent_w_v()),
                fmt_num(s.percent_w_v() * 10.0)
            )),
        ),
        (Route::Im, _, None) => (None, None),
        (_, Some(b), _) => (
            Some(b.volume_for_ml(a)),
            Some(format!(
                "{} g in {} mL",
                fmt_num(b.salt_g),
                fmt_num(b.volume_ml)
            )),
        ),
        (_, None, _) => (None, None),
    }
}

fn phase_rows(
    spec: &RegimenSpec,
    regimen: &Regimen,
    bag: Option<Bag>,
    horizon_h: f64,
) -> Vec<PhaseRow> {
    // IM doses are given as the strongest marketed solution, undiluted (50 % w/v, rule
    // CONC-MAX-50PCT in data/rules/rates-and-limits.toml)
    let im_percent = rulebook()
        .ok()
        .and_then(|b| b.limit("CONC-MAX-50PCT", "% w/v").ok());
    let im_strength = im_percent.and_then(|p| SolutionStrength::percent(HEPTA, p).ok());
    let mut rows = Vec::new();
    for (i, p) in spec.phases.iter().enumerate() {
        let events: Vec<&DoseEvent> = regimen
            .events
            .iter()
            .filter(|e| match e {
                DoseEvent::Bolus { phase, .. } | DoseEvent::Infusion { phase, .. } => *phase == i,
            })
            .collect();
        let start_h = events.first().map(|e| e.start_h()).unwrap_or(0.0);
        let end = events.iter().map(|e| e.end_h()).fold(0.0, f64::max);
        let end_h = end.is_finite().then_some(end);
        let total_mmol: f64 = events
            .iter()
            .map(|e| e.amount_given_by_mmol(horizon_h))
            .sum();
        let written = RegimenSpec { phases: vec![*p] }.canonical();
        let mut row = PhaseRow {
            phase: i + 1,
            role: String::new(),
            written,
            route: Route::Iv,
            start_h,
            end_h,
            doses: events.len(),
            dose_g: None,
            dose_mmol: None,
            dose_meq: None,
            rate_g_per_h: None,
            rate_mmol_per_h: None,
            rate_mg_per_min: None,
            pump_ml_per_h: None,
            volume_ml: None,
            volume_of: None,
            total_g: g(total_mmol),
            total_mmol,
        };
        let set_rate = |row: &mut PhaseRow, mmol_h: f64| {
            let r = MgRate::from_mmol_per_h(mmol_h);
            row.rate_mmol_per_h = Some(mmol_h);
            row.rate_g_per_h = Some(r.salt_g_per_h(HEPTA));
            row.rate_mg_per_min = Some(r.salt_mg_per_min(HEPTA));
            row.pump_ml_per_h = bag.map(|b| b.pump_ml_per_h(r));
        };
        match &p.kind {
            PhaseKind::Dose {
                route, over, every, ..
            } => {
                row.route = *route;
                let per_dose = events
                    .first()
                    .map(|e| e.amount_given_by_mmol(f64::INFINITY))
                    .unwrap_or(0.0);
                let a = MgAmount::from_mmol(per_dose);
                row.dose_mmol = Some(a.mmol());
                row.dose_g = Some(a.salt_g(HEPTA));
                row.dose_meq = Some(a.meq());
                row.role = match (route, every, i) {
                    (Route::Im, _, _) => "IM dose".into(),
                    (_, Some(_), _) => "repeated dose".into(),
                    (_, None, 0) if spec.phases.len() > 1 => "loading dose".into(),
                    _ => "dose".into(),
                };
                if *route != Route::Im {
                    if let Some(o) = over {
                        set_rate(&mut row, per_dose / o.hours().h());
                        if o.hours().h() >= crate::order::LOAD_MAX_DURATION_H {
                            row.role = "maintenance infusion".into();
                        }
                    }
                }
                (row.volume_ml, row.volume_of) = dose_volume(a, *route, bag, im_strength);
            }
            PhaseKind::Rate { .. } => {
                row.role = "maintenance infusion".into();
                if let Some(DoseEvent::Infusion {
                    rate_mmol_per_h, ..
                }) = events.first()
                {
                    set_rate(&mut row, *rate_mmol_per_h);
                }
                if let Some(b) = bag {
                    row.volume_ml = Some(b.volume_for_ml(MgAmount::from_mmol(total_mmol)));
                    row.volume_of = Some(format!(
                        "{} g in {} mL (total over the phase)",
                        fmt_num(b.salt_g),
                        fmt_num(b.volume_ml)
                    ));
                }
            }
        }
        rows.push(row);
    }
    rows
}

fn curve_summary(sim: &Simulation, target: Option<&Target>, regimen: &Regimen) -> CurveSummary {
    let horizon = sim.times_h.last().copied().unwrap_or(0.0);
    // report times (h) of the curve summary: display choice, not data
    let levels = [1.0, 6.0, 12.0, 24.0]
        .into_iter()
        .filter_map(|t| {
            level_at(sim, t).map(|c| LevelAt {
                time_h: t,
                serum_mg_mmol_l: c,
            })
        })
        .collect();
    let (peak_time_h, peak_mmol_l) = sim.peak().unwrap_or((0.0, 0.0));
    let end = if regimen.has_open_infusion() {
        horizon
    } else {
        regimen.last_finite_time_h()
    };
    // time-in-target window: at least 6 h (display choice, not data)
    let window_h = end.max(6.0).min(horizon);
    let (mut inside, mut above) = (0.0, 0.0);
    if let Some(tg) = target {
        for w in sim.times_h.windows(2).zip(sim.serum_mmol_l.windows(2)) {
            let ((t0, t1), (c0, c1)) = ((w.0[0], w.0[1]), (w.1[0], w.1[1]));
            if t0 >= window_h {
                break;
            }
            let dt = t1.min(window_h) - t0;
            let c = 0.5 * (c0 + c1);
            if c >= tg.lo_mmol_l && c <= tg.hi_mmol_l {
                inside += dt;
            } else if c > tg.hi_mmol_l {
                above += dt;
            }
        }
    }
    CurveSummary {
        levels,
        peak_time_h,
        peak_mmol_l,
        target: target.cloned(),
        time_to_target_h: target.and_then(|t| first_time_above(sim, t.lo_mmol_l)),
        time_in_target_h: target.map(|_| inside),
        time_above_target_h: target.map(|_| above),
        window_h,
        fraction_in_target: target.map(|_| {
            if window_h > 0.0 {
                inside / window_h
            } else {
                0.0
            }
        }),
    }
}

/// Build the plan. Errors only for bad input (unknown model, unparseable regimen, weight missing
/// for a per-kg dose, invalid patient); every safety finding is an alert, never an error.
pub fn plan(input: &PlanInput) -> Result<Plan, SafetyError> {
    let book = rulebook()?;
    let library = protocols()?;
    let text = order_text(input)?;
    let mut pin = input.patient.clone();
    let obstetric_condition = input
        .conditions
        .iter()
        .any(|c| c.name == "eclampsia" || c.name == "pre-eclampsia");
    if obstetric_condition {
        pin.pre_eclampsia = true;
    }
    let patient = pin.validate()?;
    let spec = RegimenSpec::parse_any(&text)?;
    let regimen = spec.resolve(patient.weight_kg)?;
    let model_id = input
        .model_id
        .clone()
        .or_else(|| input.protocol.and_then(|p| p.model.clone()));
    let model = match &input.model {
        Some(m) => m.clone(),
        None => choose_model(model_id.as_deref(), &patient)?,
    };
    let horizon = input
        .hours
        .unwrap_or_else(|| mgiv_core::simulate::default_horizon_h(&regimen));
    // output grid: 5 min up to 3 days, else 15 min (numerical)
    let step = if horizon <= 72.0 { 5.0 / 60.0 } else { 0.25 };
    let times = uniform_times(horizon, step)?;
    let sim = simulate(&model, &patient, &regimen, &times)?;

    // dose-error guardrail: only for a written regimen
    let guard = if input.regimen_text.is_some() {
        Some(guardrail::check(
            book,
            &spec,
            patient.weight_kg,
            input.protocol,
            library,
            patient.pregnant,
            input.bag,
        )?)
    } else {
        None
    };
    let reference = reference_protocol(input, library, guard.as_ref());
    let (bag, bag_source) = bag_of(input)?;
    let phases = phase_rows(&spec, &regimen, bag, horizon);
    let duration_h = (!regimen.has_open_infusion()).then(|| regimen.last_finite_time_h());
    let facts = order_facts(&regimen.events, bag, horizon);
    let totals = Totals {
        total_mmol: regimen.amount_given_by_mmol(horizon),
        total_g: g(regimen.amount_given_by_mmol(horizon)),
        max_1h_g: facts.max_1h_g,
        max_24h_g: facts.max_24h_g,
        max_48h_g: facts.max_48h_g,
        duration_h,
    };
    let target = input
        .target
        .as_ref()
        .or_else(|| input.protocol.and_then(|p| p.target.as_ref()))
        .or_else(|| {
            // free text: the reference protocol's target, if it shares the indication
            reference.and_then(|p| p.target.as_ref())
        });
    let summary = curve_summary(&sim, target, &regimen);

    let ctx = Ctx {
        book,
        input,
        patient: &patient,
        spec: &spec,
        regimen: &regimen,
        sim: &sim,
        summary: &summary,
        totals: &totals,
        bag,
        horizon,
    };
    let alerts = ctx.all_alerts(&facts, target, reference, guard)?;

    let (monitoring, levels_schedule) = monitoring_of(book, input, reference, &summary)?;
    Ok(Plan {
        protocol: input.protocol.cloned(),
        reference_protocol: reference.map(|p| p.id.clone()),
        regimen: regimen.canonical(),
        resolved: regimen,
        phases,
        bag,
        bag_source,
        totals,
        order: facts,
        indication: input.indication.map(|i| i.id.clone()),
        patient,
        conditions: input.conditions.clone(),
        medications: input.medications.clone(),
        simulation: sim,
        summary,
        alerts,
        monitoring,
        levels_schedule,
        toxicity_steps: book.toxicity_steps.clone(),
    })
}

/// The regimen text of the order: the one written, else the protocol's.
fn order_text(input: &PlanInput) -> Result<String, SafetyError> {
    match (&input.regimen_text, input.protocol) {
        (Some(t), _) => Ok(t.clone()),
        (None, Some(p)) => Ok(p.regimen.clone()),
        (None, None) => Err(invalid(
            "regimen",
            "none given",
            "a protocol id (mgiv protocols) or a regimen text",
        )),
    }
}

/// The protocol the order is compared with: the one named; for free text the indication's
/// reference protocol, else the guardrail's closest one.
fn reference_protocol<'a>(
    input: &PlanInput<'a>,
    library: &'a [Protocol],
    guard: Option<&guardrail::GuardResult>,
) -> Option<&'a Protocol> {
    input
        .protocol
        .or_else(|| {
            input
                .indication
                .and_then(|i| i.reference_protocols.first())
                .and_then(|id| library.iter().find(|p| &p.id == id))
        })
        .or_else(|| {
            guard
                .and_then(|g| g.reference_id.as_deref())
                .and_then(|id| library.iter().find(|p| p.id == id))
        })
}

/// The bag hung and where it comes from: given with --bag, else the protocol's.
fn bag_of(input: &PlanInput) -> Result<(Option<Bag>, Option<String>), SafetyError> {
    Ok(
        match (input.bag, input.protocol.and_then(|p| p.bag.as_deref())) {
            (Some(b), _) => (Some(b), Some("given with --bag".to_string())),
            (None, Some(b)) => (
                Some(parse_bag(b)?),
                input.protocol.and_then(|p| p.bag_source.clone()),
            ),
            (None, None) => (None, None),
        },
    )
}

/// The monitoring list (the reference protocol's, else the general preconditions) and the level
/// schedule with the predicted peak and time to target.
fn monitoring_of(
    book: &RuleBook,
    input: &PlanInput,
    reference: Option<&Protocol>,
    summary: &CurveSummary,
) -> Result<(Vec<String>, String), SafetyError> {
    let mut monitoring = Vec::new();
    if let Some(p) = reference {
        for m in &p.monitoring {
            monitoring.push(if input.protocol.is_some() {
                m.clone()
            } else {
                format!("{m} (from protocol {})", p.id)
            });
        }
    } else {
        monitoring.push(book.get("MON-PRECONDITIONS")?.message.clone());
    }
    let mut levels_schedule = reference
        .map(|p| p.levels.clone())
        .unwrap_or_else(|| "Serum Mg 4-6 h after the start and then every 6 h while the infusion runs, and at once for any sign of toxicity".into());
    levels_schedule.push_str(&format!(
        ". Predicted peak {:.2} mmol/L at {} h",
        summary.peak_mmol_l,
        fmt_num(summary.peak_time_h)
    ));
    if let Some(t) = summary.time_to_target_h {
        levels_schedule.push_str(&format!("; target first reached at {} h", fmt_num(t)));
    }
    levels_schedule.push('.');
    Ok((monitoring, levels_schedule))
}

struct Ctx<'a> {
    book: &'a RuleBook,
    input: &'a PlanInput<'a>,
    patient: &'a Patient,
    spec: &'a RegimenSpec,
    regimen: &'a Regimen,
    sim: &'a Simulation,
    summary: &'a CurveSummary,
    totals: &'a Totals,
    bag: Option<Bag>,
    horizon: f64,
}

impl Ctx<'_> {
    /// Every alert of the order, most severe first: rate and limit rules, the whole-order rules,
    /// level, name and monitoring rules, the dose-error guardrail, protocol verification, model
    /// notes, then the indication's adjustments.
    fn all_alerts(
        &self,
        facts: &OrderFacts,
        target: Option<&Target>,
        reference: Option<&Protocol>,
        guard: Option<guardrail::GuardResult>,
    ) -> Result<Vec<Alert>, SafetyError> {
        let (book, input, sim) = (self.book, self.input, self.sim);
        let ctx = self;
        let mut alerts = Vec::new();
        ctx.rate_rules(&mut alerts)?;
        ctx.limit_rules(&mut alerts)?;
        let order_ctx = OrderContext {
            book,
            indication: input.indication,
            patient: self.patient,
            conditions: &input.conditions,
            reference,
            bag_known: self.bag.is_some(),
        };
        alerts.extend(order_ctx.alerts(facts)?);
        ctx.level_rules(&mut alerts, target, reference)?;
        ctx.name_rules(&mut alerts)?;
        ctx.monitoring_rules(&mut alerts)?;
        if let Some(gr) = guard {
            alerts.extend(gr.alerts);
        }
        if let Some(p) = input.protocol {
            if !p.regimen_verified && input.regimen_text.is_none() {
                alerts.push(book.alert(
                    "PROTOCOL-UNVERIFIED",
                    &format!("{}: {}", p.id, p.regimen_source),
                )?);
            }
        }
        for w in &sim.warnings {
            if !w.is(mgiv_core::simulate::LEVEL_PREDICTED_ABOVE) {
                // the level rules report every threshold crossing with its source
                let mut a = book.alert("MODEL-NOTE", &w.message)?;
                a.source = format!("{} ({})", a.source, sim.model.citation);
                alerts.push(a);
            }
        }
        adjust_alerts(book, &mut alerts, input.indication, &input.conditions)?;
        sort_alerts(&mut alerts);
        Ok(alerts)
    }
}

impl Ctx<'_> {
    fn has_condition(&self, name: &str) -> bool {
        self.input.conditions.iter().any(|c| c.name == name)
    }

    fn has_maintenance(&self) -> bool {
        self.regimen.events.len() > 1
            || self.regimen.events.iter().any(|e| match e {
                DoseEvent::Infusion { start_h, end_h, .. } => {
                    end_h.map(|e| e - start_h > 1.0).unwrap_or(true)
                }
                _ => false,
            })
    }

    fn rate_rules(&self, alerts: &mut Vec<Alert>) -> Result<(), SafetyError> {
        let uspi = self.book.limit("RATE-USPI-150", "mg/min")?;
        let exempt_max = self.book.limit("RATE-EXEMPT", "mg/min")?;
        // a protocol's exemption holds only under its own indication
        let protocol_exempt = self.input.protocol.is_some_and(|p| {
            !p.uspi_rate_limit_applies
                && self
                    .input
                    .indication
                    .is_none_or(|i| p.indication_id == i.id || p.also_for.contains(&i.id))
        });
        let indication_exempt = self
            .input
            .indication
            .is_some_and(|i| !i.uspi_rate_limit_applies);
        // the USPI exemption is for eclampsia: with an indication, the indication decides;
        // without one, a pre-eclamptic patient is taken as the obstetric case
        let exempt = protocol_exempt
            || match self.input.indication {
                Some(_) => indication_exempt,
                None => self.patient.pre_eclampsia,
            };
        let push_ok = self.input.protocol.is_some_and(|p| p.iv_push_allowed)
            || self.input.indication.is_some_and(|i| {
                i.reference_protocols
                    .iter()
                    .filter_map(|id| crate::protocol::find_protocol(id).ok())
                    .any(|p| p.iv_push_allowed)
            });
        for (i, p) in self.spec.phases.iter().enumerate() {
            let n = i + 1;
            let rate_mmol_h = match &p.kind {
                PhaseKind::Dose {
                    route: Route::Iv,
                    over: None,
                    ..
                } => {
                    if push_ok {
                        alerts.push(self.book.alert(
                            "RATE-EXEMPT",
                            &format!("phase {n} is an IV push, part of this protocol"),
                        )?);
                    } else {
                        alerts.push(self.book.alert(
                            "RATE-IV-PUSH",
                            &format!(
                                "phase {n} ({}) has no infusion time",
                                RegimenSpec { phases: vec![*p] }.canonical()
                            ),
                        )?);
                    }
                    continue;
                }
                PhaseKind::Dose {
                    route: Route::Iv,
                    over: Some(o),
                    dose,
                    ..
                } => dose
                    .resolve(self.patient.weight_kg)
                    .map(|a| a.mmol() / o.hours().h())
                    .unwrap_or(0.0),
                PhaseKind::Rate { dose, per, .. } => dose
                    .resolve(self.patient.weight_kg)
                    .map(|a| a.mmol() / per.hours(1.0).h())
                    .unwrap_or(0.0),
                _ => continue,
            };
            let mg_min = MgRate::from_mmol_per_h(rate_mmol_h).salt_mg_per_min(HEPTA);
            if mg_min <= uspi + 1e-9 {
                continue;
            }
            let detail = format!(
                "phase {n} runs at {} mg/min ({} g/h, {} mmol/h)",
                fmt_num(mg_min.round()),
                fmt_num(rate_mmol_h / mmol_per_g()),
                fmt_num(rate_mmol_h)
            );
            if exempt && mg_min <= exempt_max + 1e-9 {
                let mut d = detail;
                if let Some(note) = self.input.protocol.and_then(|p| p.rate_note.as_deref()) {
                    d.push_str(". ");
                    d.push_str(note);
                }
                alerts.push(self.book.alert("RATE-EXEMPT", &d)?);
            } else {
                let mut d = detail;
                if exempt {
                    d.push_str(&format!(
                        "; even for eclampsia this is faster than {} mg/min (4 g over 5 min)",
                        fmt_num(exempt_max)
                    ));
                }
                alerts.push(self.book.alert("RATE-USPI-150", &d)?);
            }
        }
        Ok(())
    }

    fn limit_rules(&self, alerts: &mut Vec<Alert>) -> Result<(), SafetyError> {
        let t = self.totals;
        let dur = t.duration_h.unwrap_or(self.horizon);
        if self.regimen.has_open_infusion() {
            alerts.push(self.book.alert(
                "OPEN-INFUSION",
                &format!("predicted to {} h", fmt_num(self.horizon)),
            )?);
        }
        let preg_limit = self.book.limit("COURSE-PREGNANCY-5D", "h")?;
        if self.patient.pregnant && dur > preg_limit + 1e-9 {
            alerts.push(self.book.alert(
                "COURSE-PREGNANCY-5D",
                &format!(
                    "the regimen runs {} h ({} days)",
                    fmt_num(dur),
                    fmt_num(dur / 24.0)
                ),
            )?);
        }
        if let Some(p) = self.input.protocol {
            // a 0.1 % rounding allowance (numerical)
            if dur > p.max_duration_h * 1.001 {
                alerts.push(self.book.alert(
                    "COURSE-PROTOCOL-MAX",
                    &format!(
                        "the regimen runs {} h; protocol {} allows {} ({}; {})",
                        fmt_num(dur),
                        p.id,
                        fmt_num(p.max_duration_h),
                        p.max_duration_text,
                        p.max_duration_source
                    ),
                )?);
            }
        }
        if let Some(b) = self.bag {
            let pct = b.strength().percent_w_v();
            let max = self.book.limit("CONC-MAX-50PCT", "% w/v")?;
            let iv = self.book.limit("CONC-IV-20PCT", "% w/v")?;
            let has_iv = self.regimen.events.iter().any(|e| {
                !matches!(
                    e,
                    DoseEvent::Bolus {
                        route: Route::Im,
                        ..
                    }
                )
            });
            let d = format!("bag {} = {} % w/v", b, fmt_num(pct));
            if pct > max + 1e-9 {
                alerts.push(self.book.alert("CONC-MAX-50PCT", &d)?);
            } else if has_iv && pct > iv + 1e-9 {
                alerts.push(self.book.alert("CONC-IV-20PCT", &d)?);
            }
        }
        Ok(())
    }

    fn level_rules(
        &self,
        alerts: &mut Vec<Alert>,
        target: Option<&Target>,
        reference: Option<&Protocol>,
    ) -> Result<(), SafetyError> {
        let s = self.summary;
        let model = format!("model {}", self.sim.model.id);
        let tsrc = reference.map(|p| p.id.as_str()).unwrap_or("protocol");
        if let Some(tg) = target {
            if s.peak_mmol_l < tg.lo_mmol_l {
                alerts.push(self.book.alert(
                    "LEVEL-BELOW-TARGET",
                    &format!(
                        "predicted peak {:.2} mmol/L at {} h is below the {tsrc} target {}-{} mmol/L ({}; {model})",
                        s.peak_mmol_l,
                        fmt_num(s.peak_time_h),
                        fmt_num(tg.lo_mmol_l),
                        fmt_num(tg.hi_mmol_l),
                        tg.source
                    ),
                )?);
            }
            if s.peak_mmol_l > tg.hi_mmol_l {
                let t = first_time_above(self.sim, tg.hi_mmol_l + 1e-12);
                let mut a = self.book.alert(
                    "LEVEL-ABOVE-TARGET",
                    &format!(
                        "above {} mmol/L (the {tsrc} target's upper end) from {} h, {} h in total within the treatment window; peak {:.2} mmol/L at {} h ({model}); target source: {}",
                        fmt_num(tg.hi_mmol_l),
                        fmt_num(t.unwrap_or(s.peak_time_h)),
                        fmt_num(s.time_above_target_h.unwrap_or(0.0)),
                        s.peak_mmol_l,
                        fmt_num(s.peak_time_h),
                        tg.source
                    ),
                )?;
                a.time_h = t;
                alerts.push(a);
            }
        }
        for code in [
            "LEVEL-7.5",
            "LEVEL-5.0",
            "LEVEL-3.5",
            "LEVEL-2.9",
            "LEVEL-2.0",
        ] {
            let lim = self.book.limit(code, "mmol/L")?;
            if s.peak_mmol_l > lim {
                let t = first_time_above(self.sim, lim + 1e-12).unwrap_or(s.peak_time_h);
                let mut a = self.book.alert(
                    code,
                    &format!(
                        "predicted to cross {} mmol/L at {} h; peak {:.2} mmol/L at {} h ({model}, typical patient: individual levels vary, measure)",
                        fmt_num(lim),
                        fmt_num(t),
                        s.peak_mmol_l,
                        fmt_num(s.peak_time_h)
                    ),
                )?;
                a.time_h = Some(t);
                alerts.push(a);
            }
        }
        let antidote = self.book.limit("ANTIDOTE-CALCIUM", "mmol/L")?;
        if s.peak_mmol_l > antidote {
            alerts.push(self.book.alert(
                "ANTIDOTE-CALCIUM",
                &format!("predicted peak {:.2} mmol/L", s.peak_mmol_l),
            )?);
        }
        Ok(())
    }

    fn name_rules(&self, alerts: &mut Vec<Alert>) -> Result<(), SafetyError> {
        let mut seen: Vec<&str> = Vec::new();
        let all: Vec<&Named> = self
            .input
            .conditions
            .iter()
            .chain(&self.input.medications)
            .collect();
        for n in &all {
            if seen.contains(&n.rule.as_str()) || n.rule == "CTX-OBSTETRIC" {
                continue;
            }
            seen.push(&n.rule);
            let names: Vec<String> = all
                .iter()
                .filter(|m| m.rule == n.rule)
                .map(|m| match &m.class {
                    Some(c) => format!("{} ({c})", m.name),
                    None => m.name.clone(),
                })
                .collect();
            let mut a = self
                .book
                .alert(&n.rule, &format!("entered: {}", names.join(", ")))?;
            if n.rule == "CI-OLIGURIA" && !self.has_maintenance() {
                // the rule itself allows a loading dose alone (eclampsia)
                a.severity = Severity::Warning;
                a.message
                    .push_str(" This order is a loading dose only, which the rule allows: no maintenance until urine output recovers.");
            }
            alerts.push(a);
        }
        if self.patient.pre_eclampsia {
            let why = if self.has_condition("eclampsia") {
                "eclampsia"
            } else {
                "pre-eclampsia"
            };
            alerts.push(
                self.book
                    .alert("CTX-OBSTETRIC", &format!("entered: {why}"))?,
            );
        }
        Ok(())
    }

    fn monitoring_rules(&self, alerts: &mut Vec<Alert>) -> Result<(), SafetyError> {
        if !self.has_maintenance() {
            return Ok(());
        }
        alerts.push(self.book.alert("MON-PRECONDITIONS", "")?);
        let scr_lim = self.book.limit("MON-LEVELS-RENAL", "mg/dL")?;
        let scr = self.patient.scr_mg_dl;
        let crcl = self.patient.crcl_ml_min();
        let mut why = Vec::new();
        if let Some(s) = scr.filter(|&s| s >= scr_lim) {
            why.push(format!("creatinine {} mg/dL", fmt_num(s)));
        }
        if let Some(c) = crcl.filter(|&c| c < 60.0) {
            why.push(format!("CrCl {c:.0} mL/min"));
        }
        if self.has_condition("renal-failure") {
            why.push("renal failure entered".into());
        }
        if !why.is_empty() {
            alerts.push(self.book.alert("MON-LEVELS-RENAL", &why.join(", "))?);
        }
        Ok(())
    }
}

/// Apply what the context changes: a condition that removes a rule's objection (a pacemaker
/// removes the heart-block STOP) and the indication's rule adjustments (heart block in torsades).
/// The alert stays, with its new severity and the reason in its message.
pub fn adjust_alerts(
    book: &RuleBook,
    alerts: &mut Vec<Alert>,
    indication: Option<&Indication>,
    conditions: &[Named],
) -> Result<(), SafetyError> {
    let mut notes = Vec::new();
    for a in alerts.iter_mut() {
        if let Some(c) = conditions.iter().find(|c| c.relieves.contains(&a.code)) {
            a.severity = Severity::Info;
            a.message.push_str(&format!(
                " Relieved: {} entered, so this is for the record only.",
                c.name
            ));
            continue;
        }
        if let Some(adj) = indication.and_then(|i| i.adjustment(&a.code)) {
            if adj.severity != a.severity {
                notes.push(format!(
                    "{}: {} -> {} for {} ({}; {})",
                    a.code,
                    a.severity,
                    adj.severity,
                    indication.map(|i| i.id.as_str()).unwrap_or(""),
                    adj.reason,
                    adj.source
                ));
                a.severity = adj.severity;
                a.message
                    .push_str(&format!(" Adjusted for the indication: {}.", adj.reason));
            }
        }
    }
    for n in notes {
        alerts.push(book.alert("CTX-RULE-ADJUSTED", &n)?);
    }
    Ok(())
}
