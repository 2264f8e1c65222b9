//! One clinical context: patient + indication + model + population + target + thresholds +
//! horizon, built in one place (here) and used by `simulate`, `plan`, `brain`, `trial` and
//! `adjust` (and by the service and Python). Every choice carries why it was made; no decision is
//! made by matching words in ids or descriptions: models say who they were fitted in
//! (`[fitted_in]`), populations and indications are typed data. A mismatch between them is an
//! alert (warning), never a silent guess.

use serde::Serialize;

use mgiv_core::model::{builtin_model, default_model_for, ModelSpec, Presence};
use mgiv_core::patient::{Patient, PatientInput};
use mgiv_core::simulate::ModelChoice;
use mgiv_pop::population::{builtin_population, PopulationSpec};
use mgiv_safety::indication::{find_indication, Indication, Thresholds};
use mgiv_safety::protocol::{find_protocol, Protocol, Target};
use mgiv_safety::rules::rulebook;
use mgiv_safety::{Alert, SafetyError};

/// What the user said (all optional but the patient).
#[derive(Debug, Clone, Default)]
pub struct ContextInput {
    pub indication: Option<String>,
    pub protocol: Option<String>,
    /// protocols named some other way (e.g. `trial --regimen zuspan`); their shared indication is
    /// used when none is given
    pub named_protocols: Vec<String>,
    pub model_id: Option<String>,
    /// a user's model file (same schema and checks as the built-in ones)
    pub model_file: Option<ModelSpec>,
    pub population: Option<String>,
    /// a target the user gave (mmol/L)
    pub target_mmol_l: Option<(f64, f64)>,
    pub patient: PatientInput,
    /// hours the user asked for
    pub hours: Option<f64>,
    /// values read without a unit whose unit was inferred (each becomes a LEVEL-UNIT-INFERRED alert)
    pub unit_notes: Vec<String>,
    /// conditions entered (eclampsia or pre-eclampsia marks the patient)
    pub conditions: Vec<mgiv_safety::names::Named>,
    /// a population-level context (`trial`): the patient's pregnancy and pre-eclampsia follow the
    /// indication's requirements instead of being checked against them
    pub population_level: bool,
}

/// A value and why it was chosen.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Why<T> {
    pub value: T,
    pub why: String,
}

/// The shared clinical picture of the patient.
#[derive(Debug, Clone, Serialize)]
pub struct ClinicalContext {
    pub indication: &'static Indication,
    pub indication_why: String,
    pub protocol: Option<&'static Protocol>,
    pub patient: Patient,
    pub model: ModelSpec,
    pub model_why: String,
    pub population: PopulationSpec,
    pub population_why: String,
    pub target: Target,
    /// false: no serum target is established for the indication (display range only)
    pub target_established: bool,
    pub target_why: String,
    pub thresholds: Thresholds,
    /// the indication's default horizon (commands extend it to cover the regimen)
    pub horizon_h: f64,
    pub horizon_why: String,
    /// context alerts: an assumed indication, mismatches between patient, indication, model and
    /// population
    pub alerts: Vec<Alert>,
}

fn err_field(field: &str, value: &str, allowed: &str) -> SafetyError {
    SafetyError::Invalid {
        field: field.into(),
        value: value.into(),
        allowed: allowed.into(),
    }
}

impl ClinicalContext {
    /// The context's model with why it was chosen, as the simulation takes it.
    pub fn model_choice(&self) -> ModelChoice {
        ModelChoice::chosen(self.model.clone(), self.model_why.clone())
    }

    /// Build the context. Errors only for bad input (unknown ids, invalid patient or target).
    pub fn build(input: &ContextInput) -> Result<ClinicalContext, SafetyError> {
        let book = rulebook()?;
        let mut alerts = Vec::new();
        let args = Given::read(input)?;
        let mut pin = input.patient.clone();
        // an entered eclampsia or pre-eclampsia condition marks the patient
        pin.pre_eclampsia = args.patient_pe;
        // 1. indication
        let (indication, indication_why) = choose_indication(input, &args, &pin, &mut alerts)?;
        if input.population_level {
            use mgiv_safety::indication::Requirement;
            let pop = args.population.as_ref();
            pin.pregnant =
                indication.pregnancy == Requirement::Required || pop.is_some_and(|p| p.pregnant);
            pin.pre_eclampsia = indication.pre_eclampsia == Requirement::Required
                || pop.is_some_and(|p| p.pre_eclampsia);
        }
        if indication.pre_eclampsia == mgiv_safety::indication::Requirement::Required {
            // the indication is pre-eclampsia or eclampsia: the patient has it
            pin.pre_eclampsia = true;
        }
        let patient = pin.validate()?;
        if !indication.admits(patient.pregnant, patient.pre_eclampsia)
            || args.patient_pe
                && indication.pre_eclampsia == mgiv_safety::indication::Requirement::Excluded
        {
            alerts.push(book.alert(
                "CTX-INDICATION-PATIENT",
                &format!(
                    "indication {} requires pregnancy: {:?}, pre-eclampsia: {:?}; the patient is {}pregnant{}",
                    indication.id,
                    indication.pregnancy,
                    indication.pre_eclampsia,
                    if patient.pregnant || patient.pre_eclampsia { "" } else { "not " },
                    if patient.pre_eclampsia { ", with pre-eclampsia" } else { "" }
                ),
            )?);
        }
        for n in &input.unit_notes {
            alerts.push(book.alert("LEVEL-UNIT-INFERRED", n)?);
        }
        // 2. model
        let (model, model_why) = choose_model(input, &args, indication, &patient)?;
        for w in mgiv_core::simulate::population_warnings(&model, &patient)? {
            if w.code.starts_with("MODEL-POPULATION-") {
                alerts.push(book.alert("CTX-MODEL-PATIENT", &w.message)?);
            }
        }
        // 3. population (virtual population for trials; baseline prior for TDM)
        let (population, population_why) =
            choose_population(args.population, indication, &model, &patient)?;
        alerts.extend(population_alerts(indication, &model, &population)?);
        // 4. target, thresholds and horizon
        let (target, target_why) = choose_target(input.target_mmol_l, indication)?;
        let (horizon_h, horizon_why) = match input.hours {
            Some(h) => (h, "given with --hours".to_string()),
            None => (
                indication.horizon_h,
                format!(
                    "the {} default ({})",
                    indication.id, indication.horizon_source
                ),
            ),
        };
        alerts.push(book.alert(
            "CTX-INDICATION",
            &format!(
                "indication {} ({}); population {} ({}); model {} ({}); target {}-{} mmol/L ({}); toxic {} / emergency {} mmol/L",
                indication.id,
                indication_why,
                population.id,
                population_why,
                model.id,
                model_why,
                mgiv_core::units::fmt_sig3(target.lo_mmol_l),
                mgiv_core::units::fmt_sig3(target.hi_mmol_l),
                target_why,
                indication.thresholds.toxic_mmol_l,
                indication.thresholds.emergency_mmol_l
            ),
        )?);
        Ok(ClinicalContext {
            indication,
            indication_why,
            protocol: args.protocol,
            patient,
            model,
            model_why,
            population,
            population_why,
            target_established: input.target_mmol_l.is_some() || indication.target.established,
            target,
            target_why,
            thresholds: indication.thresholds.clone(),
            horizon_h,
            horizon_why,
            alerts,
        })
    }

    /// The horizon for a regimen whose last dose or infusion end is at `last_h`: the indication's
    /// default, extended to cover the regimen plus 12 h (at most 90 days); `--hours` wins.
    pub fn horizon_for(&self, last_h: f64, user_hours: Option<f64>) -> (f64, String) {
        if let Some(h) = user_hours {
            return (h, "given with --hours".into());
        }
        // display horizon: 12 h of tail, at most 90 days (as default_horizon_h)
        let need = (last_h + 12.0).ceil();
        if need > self.horizon_h {
            (
                need.min(2160.0),
                format!(
                    "the regimen's end ({} h) + 12 h, longer than the {} default of {} h",
                    mgiv_core::units::fmt_num(last_h),
                    self.indication.id,
                    self.horizon_h
                ),
            )
        } else {
            (self.horizon_h, self.horizon_why.clone())
        }
    }

    /// The context as JSON (every choice with why), as the CLI and Python report it.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "indication": {"id": self.indication.id, "name": self.indication.name, "why": self.indication_why, "course": self.indication.course},
            "population": {"id": self.population.id, "why": self.population_why},
            "model": {"id": self.model.id, "why": self.model_why},
            "target_mmol_l": {"lo": self.target.lo_mmol_l, "hi": self.target.hi_mmol_l, "established": self.target_established, "why": self.target_why, "source": self.target.source},
            "thresholds_mmol_l": self.thresholds,
            "horizon_h": {"value": self.horizon_h, "why": self.horizon_why},
        })
    }

    /// The context as lines for a text report.
    pub fn describe(&self) -> Vec<String> {
        vec![
            format!(
                "Indication: {} — {} ({})",
                self.indication.id, self.indication.name, self.indication_why
            ),
            format!(
                "Population: {} ({})",
                self.population.id, self.population_why
            ),
            format!("Model:      {} ({})", self.model.id, self.model_why),
            format!(
                "Target:     {}-{} mmol/L ({}); toxic at {} mmol/L, emergency at {} mmol/L ({})",
                mgiv_core::units::fmt_sig3(self.target.lo_mmol_l),
                mgiv_core::units::fmt_sig3(self.target.hi_mmol_l),
                self.target_why,
                self.thresholds.toxic_mmol_l,
                self.thresholds.emergency_mmol_l,
                self.thresholds.toxic_source
            ),
        ]
    }
}

/// Whether a model's fitted population admits the patient (pregnancy and pre-eclampsia).
pub fn fits_patient(m: &ModelSpec, p: &Patient) -> bool {
    let preg = p.pregnant || p.pre_eclampsia;
    m.fitted_in.pregnant == preg
        && match m.fitted_in.pre_eclampsia {
            Presence::All => p.pre_eclampsia,
            Presence::None => !p.pre_eclampsia,
            Presence::Some => true,
        }
}

/// The one indication shared by the named protocols (None if none are named or they differ).
fn shared_indication(ids: &[String]) -> Result<Option<&'static Indication>, SafetyError> {
    let mut found: Option<&str> = None;
    for id in ids {
        let Ok(p) = find_protocol(id) else {
            continue;
        };
        match found {
            None => found = Some(&p.indication_id),
            Some(f) if f != p.indication_id => return Ok(None),
            _ => {}
        }
    }
    found.map(find_indication).transpose()
}

/// The ids the user gave, looked up (an unknown id is an error naming it).
struct Given {
    protocol: Option<&'static Protocol>,
    indication: Option<&'static Indication>,
    population: Option<PopulationSpec>,
    model: Option<ModelSpec>,
    /// the patient has pre-eclampsia (given, or from an entered condition)
    patient_pe: bool,
}

impl Given {
    fn read(input: &ContextInput) -> Result<Self, SafetyError> {
        Ok(Given {
            protocol: input.protocol.as_deref().map(find_protocol).transpose()?,
            indication: input
                .indication
                .as_deref()
                .map(find_indication)
                .transpose()?,
            population: input
                .population
                .as_deref()
                .map(builtin_population)
                .transpose()?,
            model: match (&input.model_file, &input.model_id) {
                (Some(m), _) => Some(m.clone()),
                (None, Some(id)) => Some(builtin_model(id)?),
                (None, None) => None,
            },
            patient_pe: input.patient.pre_eclampsia
                || input
                    .conditions
                    .iter()
                    .any(|c| c.name == "eclampsia" || c.name == "pre-eclampsia"),
        })
    }
}

/// The indication and why: given; else the protocol's; else the named protocols' shared one;
/// else assumed (pre-eclampsia, the population's or the model's default, or the patient's), with
/// a CTX-INDICATION-ASSUMED alert.
fn choose_indication(
    input: &ContextInput,
    args: &Given,
    pin: &PatientInput,
    alerts: &mut Vec<Alert>,
) -> Result<(&'static Indication, String), SafetyError> {
    let book = rulebook()?;
    let assumed =
        |i: &'static Indication, why: String| -> Result<_, SafetyError> { Ok((i, why, true)) };
    let (indication, why, was_assumed) = if let Some(i) = args.indication {
        if let Some(p) = args.protocol {
            if p.indication_id != i.id && !p.also_for.contains(&i.id) {
                alerts.push(book.alert(
                    "CTX-INDICATION-PATIENT",
                    &format!(
                        "protocol {} belongs to indication {}, but --indication {} was given",
                        p.id, p.indication_id, i.id
                    ),
                )?);
            }
        }
        (i, "given with --indication".to_string(), false)
    } else if let Some(p) = args.protocol {
        (
            find_indication(&p.indication_id)?,
            format!("from protocol {}", p.id),
            false,
        )
    } else if let Some(i) = shared_indication(&input.named_protocols)? {
        let why = format!(
            "from the named protocol(s) {}",
            input.named_protocols.join(", ")
        );
        (i, why, false)
    } else if args.patient_pe {
        assumed(
            find_indication("pre-eclampsia")?,
            "not given: the patient has pre-eclampsia".to_string(),
        )?
    } else if let Some(pop) = &args.population {
        assumed(
            find_indication(&pop.default_indication)?,
            format!(
                "not given: the default indication of population {} (data/populations/{}.toml)",
                pop.id, pop.id
            ),
        )?
    } else if let Some(m) = &args.model {
        let pop = builtin_population(&m.fitted_in.populations[0])?;
        assumed(
            find_indication(&pop.default_indication)?,
            format!(
                "not given: model {} was fitted in population {}, whose default indication it is",
                m.id, pop.id
            ),
        )?
    } else {
        let pop_id = if pin.pregnant { "pregnant" } else { "adult" };
        let pop = builtin_population(pop_id)?;
        assumed(
            find_indication(&pop.default_indication)?,
            format!(
                "not given: the default indication for a {} patient (data/populations/{pop_id}.toml)",
                if pin.pregnant { "pregnant" } else { "non-pregnant adult" }
            ),
        )?
    };
    if was_assumed {
        alerts.push(book.alert(
            "CTX-INDICATION-ASSUMED",
            &format!("assumed {} ({})", indication.id, why),
        )?);
    }
    Ok((indication, why))
}

/// The model and why: given (id or file); else the protocol's; else the indication's default if
/// the patient fits it; else the default for the patient.
fn choose_model(
    input: &ContextInput,
    args: &Given,
    indication: &Indication,
    patient: &Patient,
) -> Result<(ModelSpec, String), SafetyError> {
    if let Some(m) = &args.model {
        let why = if input.model_file.is_some() {
            "from the model file given with --model-file"
        } else {
            "given with --model"
        };
        return Ok((m.clone(), why.to_string()));
    }
    if let Some(p) = args.protocol {
        if let Some(id) = &p.model {
            return Ok((builtin_model(id)?, format!("the protocol {}'s model", p.id)));
        }
    }
    let m = builtin_model(&indication.default_model)?;
    if fits_patient(&m, patient) {
        let why = format!(
            "the {} default: {}",
            indication.id, indication.default_model_reason
        );
        return Ok((m, why));
    }
    let (id, why) = default_model_for(patient);
    Ok((
        builtin_model(id)?,
        format!(
            "the {} default {} was fitted in other patients ({}); for this patient: {why}",
            indication.id, m.id, m.fitted_in.source
        ),
    ))
}

/// The virtual population and why: given; else the first of the indication's populations (in
/// the indication file's clinical order) that matches the patient, whether or not the model was
/// fitted in it (a mismatch is a CTX-MODEL-POPULATION warning, not a reason to switch to a
/// population the patient does not belong to).
fn choose_population(
    given: Option<PopulationSpec>,
    indication: &Indication,
    model: &ModelSpec,
    patient: &Patient,
) -> Result<(PopulationSpec, String), SafetyError> {
    if let Some(p) = given {
        return Ok((p, "given with --population".to_string()));
    }
    let id = indication
        .populations
        .iter()
        .find(|id| {
            builtin_population(id).is_ok_and(|p| {
                p.pregnant == (patient.pregnant || patient.pre_eclampsia)
                    && p.pre_eclampsia == patient.pre_eclampsia
            })
        })
        .unwrap_or(&indication.populations[0]);
    let and_model = if model.fitted_in.populations.iter().any(|p| p == id) {
        format!(" and model {}", model.id)
    } else {
        String::new()
    };
    Ok((
        builtin_population(id)?,
        format!(
            "the {} population that matches the patient{and_model}",
            indication.id
        ),
    ))
}

/// Warnings when the population is not one the model was fitted in, or not the indication's.
fn population_alerts(
    indication: &Indication,
    model: &ModelSpec,
    population: &PopulationSpec,
) -> Result<Vec<Alert>, SafetyError> {
    let book = rulebook()?;
    let mut alerts = Vec::new();
    if !model.fitted_in.populations.contains(&population.id) {
        alerts.push(book.alert(
            "CTX-MODEL-POPULATION",
            &format!(
                "model {} was fitted in {} ({}); population {} is not among them",
                model.id,
                model.fitted_in.populations.join(", "),
                model.fitted_in.source,
                population.id
            ),
        )?);
    }
    if !indication.populations.contains(&population.id) {
        alerts.push(book.alert(
            "CTX-INDICATION-POPULATION",
            &format!(
                "indication {}'s patients come from {}; population {} was used",
                indication.id,
                indication.populations.join(", "),
                population.id
            ),
        )?);
    }
    Ok(alerts)
}

/// The target and why: given (checked: 0 < lo < hi ≤ the toxic threshold), else the indication's.
fn choose_target(
    given: Option<(f64, f64)>,
    indication: &Indication,
) -> Result<(Target, String), SafetyError> {
    let Some((lo, hi)) = given else {
        let why = format!(
            "the {} target{}",
            indication.id,
            if indication.target.established {
                ""
            } else {
                " (no serum target is established for this indication: display range only)"
            }
        );
        return Ok((indication.target.to_target(), why));
    };
    if !(lo > 0.0 && lo < hi && hi <= indication.thresholds.toxic_mmol_l) {
        return Err(err_field(
            "target",
            &format!("{lo}-{hi} mmol/L"),
            &format!(
                "LO-HI with 0 < LO < HI at most the toxic threshold {} mmol/L",
                indication.thresholds.toxic_mmol_l
            ),
        ));
    }
    Ok((
        Target {
            lo_mmol_l: lo,
            hi_mmol_l: hi,
            source: "given with --target".into(),
        },
        "given with --target".to_string(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use mgiv_core::patient::Creatinine;

    fn pe() -> PatientInput {
        PatientInput {
            weight_kg: Some(70.0),
            creatinine: Some(Creatinine::MgPerDl(0.8)),
            pre_eclampsia: true,
            ..Default::default()
        }
    }

    #[test]
    fn protocol_gives_the_indication_and_everything_follows_it() {
        let c = ClinicalContext::build(&ContextInput {
            protocol: Some("mash-2".into()),
            patient: PatientInput {
                weight_kg: Some(70.0),
                ..Default::default()
            },
            ..Default::default()
        })
        .unwrap();
        assert_eq!(c.indication.id, "sah");
        assert_eq!(c.population.id, "adult");
        assert_eq!(c.model.id, "mgiv-adult-2026");
        assert_eq!((c.target.lo_mmol_l, c.target.hi_mmol_l), (1.0, 2.0));
        assert!(c.alerts.iter().all(|a| a.code != "CTX-INDICATION-ASSUMED"));
        // the SAH default (360 h) covers 14 days; a 20-day course extends it
        assert_eq!(c.horizon_for(336.0, None).0, 360.0);
        assert_eq!(c.horizon_for(480.0, None).0, 492.0);
    }

    #[test]
    fn an_assumed_indication_and_mismatches_are_alerts() {
        let c = ClinicalContext::build(&ContextInput {
            patient: pe(),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(c.indication.id, "pre-eclampsia");
        assert!(c.alerts.iter().any(|a| a.code == "CTX-INDICATION-ASSUMED"));
        // the adult model forced on a pre-eclamptic woman: model-patient and model-population
        let c = ClinicalContext::build(&ContextInput {
            patient: pe(),
            model_id: Some("mgiv-adult-2026".into()),
            ..Default::default()
        })
        .unwrap();
        for code in ["CTX-MODEL-PATIENT", "CTX-MODEL-POPULATION"] {
            assert!(c.alerts.iter().any(|a| a.code == code), "{code}");
        }
        // a pregnant woman without pre-eclampsia for SAH gets a pregnancy model, with why
        let c = ClinicalContext::build(&ContextInput {
            indication: Some("sah".into()),
            patient: PatientInput {
                weight_kg: Some(70.0),
                pregnant: true,
                ..Default::default()
            },
            ..Default::default()
        })
        .unwrap();
        assert_eq!(c.model.id, "brookfield-2016");
        assert!(
            c.model_why.contains("fitted in other patients"),
            "{}",
            c.model_why
        );
    }

    #[test]
    fn a_target_above_the_toxic_threshold_is_refused() {
        let e = ClinicalContext::build(&ContextInput {
            patient: pe(),
            target_mmol_l: Some((2.0, 4.0)),
            ..Default::default()
        })
        .unwrap_err()
        .to_string();
        assert!(e.contains("target") && e.contains("3.5"), "{e}");
    }
}
