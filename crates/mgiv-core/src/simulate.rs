//! One patient, one regimen, one model: the predicted total serum magnesium curve with the model's
//! identity, the parameters used and every caveat a reader must see.

use serde::Serialize;

use crate::error::{invalid, MgivError};
use crate::model::{default_model_for, Elimination, IndividualParams, ModelSpec};
use crate::patient::Patient;
use crate::ranges::{renal_category, serum_levels};
use crate::regimen::Regimen;
use crate::solver::{self, modal, Modes};
use crate::warning::Warning;

/// Code of the warning that a predicted level crosses a threshold of `data/ranges/serum-mg.toml`.
pub const LEVEL_PREDICTED_ABOVE: &str = "LEVEL-PREDICTED-ABOVE";

/// Which solver produced the numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum SolverKind {
    /// exact closed form (modal stepping of the superposition solution)
    ClosedForm,
    /// numerical ODE integration (nonlinear elimination)
    Ode,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ModelInfo {
    pub id: String,
    pub name: String,
    pub citation: String,
    pub evidence: String,
    /// why this model was chosen (when mgiv chose it)
    pub chosen_because: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Simulation {
    pub model: ModelInfo,
    pub params: IndividualParams,
    pub solver: SolverKind,
    pub times_h: Vec<f64>,
    pub serum_mmol_l: Vec<f64>,
    /// Highest level between 0 and the last output time, found on a fine internal grid (≤ 1 min),
    /// so that the end-of-infusion peak is not missed when outputs are hourly: (time h, mmol/L).
    pub peak_time_h: f64,
    pub peak_mmol_l: f64,
    pub warnings: Vec<Warning>,
}

impl Simulation {
    /// Highest predicted level (fine grid) and its time.
    pub fn peak(&self) -> Option<(f64, f64)> {
        self.peak_mmol_l
            .is_finite()
            .then_some((self.peak_time_h, self.peak_mmol_l))
    }
}

/// The grid used for peaks and threshold crossings: the output times merged with every dosing
/// event boundary and, unless the outputs are already at most 1 min apart, a 1-min grid (at most
/// 20 000 points; coarser only beyond ~14 days). Returns the grid and, for each output time, its
/// index in the grid, so one solve serves both.
fn fine_grid(times_h: &[f64], regimen: &Regimen) -> (Vec<f64>, Vec<usize>) {
    const MINUTE_H: f64 = 1.0 / 60.0;
    let span = times_h.last().copied().unwrap_or(0.0);
    let dense = times_h.first().is_some_and(|&t0| t0 <= MINUTE_H + 1e-12)
        && times_h.windows(2).all(|w| w[1] - w[0] <= MINUTE_H + 1e-12);
    let mut extra: Vec<f64> = Vec::new();
    for e in &regimen.events {
        for t in [e.start_h(), e.end_h()] {
            if t.is_finite() && t <= span {
                extra.push(t);
            }
        }
    }
    if !dense {
        let step = (span / 20_000.0).max(MINUTE_H);
        let n = (span / step).ceil() as usize;
        extra.extend((0..=n).map(|k| (k as f64 * step).min(span)));
    }
    extra.sort_by(|a, b| a.total_cmp(b));
    extra.dedup();
    let mut grid = Vec::with_capacity(times_h.len() + extra.len());
    let mut index = Vec::with_capacity(times_h.len());
    let mut j = 0;
    for &t in times_h {
        while j < extra.len() && extra[j] < t {
            grid.push(extra[j]);
            j += 1;
        }
        index.push(grid.len());
        grid.push(t);
    }
    grid.extend_from_slice(&extra[j..]);
    (grid, index)
}

/// The default output horizon (h) for a regimen when none is asked for: its last dose or infusion
/// end + 12 h, whole hours, at least 24 h and at most 21 days. The one rule used by `simulate`,
/// the brain chain and the safety plan (a clinical context with an indication uses the indication's
/// own horizon instead: `ClinicalContext::horizon_for`).
pub fn default_horizon_h(regimen: &Regimen) -> f64 {
    // display horizon (mgiv choice): 12 h of tail, 1 to 21 days
    (regimen.last_finite_time_h() + 12.0)
        .clamp(24.0, 24.0 * 21.0)
        .ceil()
}

/// Evenly spaced output times 0, step, 2·step, ..., hours.
pub fn uniform_times(hours: f64, step_h: f64) -> Result<Vec<f64>, MgivError> {
    // input guard: at most 90 days
    if !(hours.is_finite() && hours > 0.0 && hours <= 24.0 * 90.0) {
        return Err(invalid(
            "hours",
            hours,
            "a simulation length above 0 and at most 2160 h (90 days)",
        ));
    }
    if !(step_h.is_finite() && step_h > 0.0) {
        return Err(invalid("output step", step_h, "a positive step in hours"));
    }
    let n = (hours / step_h).round() as usize;
    if n > 2_000_000 {
        return Err(invalid(
            "output step",
            step_h,
            "at most 2 000 000 output points",
        ));
    }
    Ok((0..=n).map(|k| k as f64 * step_h).collect())
}

/// The model a simulation uses and, when mgiv or a clinical context chose it for the user rather
/// than the user naming it, why: the reason travels with the model into every result
/// ([`ModelInfo::chosen_because`]).
#[derive(Debug, Clone, PartialEq)]
pub struct ModelChoice {
    pub spec: ModelSpec,
    /// `None` when the user named the model
    pub chosen_because: Option<String>,
}

impl ModelChoice {
    /// A model the user named (by id or file): there is no reason to report.
    pub fn named(spec: ModelSpec) -> Self {
        ModelChoice {
            spec,
            chosen_because: None,
        }
    }

    /// A model chosen for the user, with the reason shown beside its results.
    pub fn chosen(spec: ModelSpec, because: impl Into<String>) -> Self {
        ModelChoice {
            spec,
            chosen_because: Some(because.into()),
        }
    }
}

/// Pick a model: the named one, else the default for the patient (with the reason).
pub fn choose_model(id: Option<&str>, patient: &Patient) -> Result<ModelChoice, MgivError> {
    match id {
        Some(id) => Ok(ModelChoice::named(crate::model::builtin_model(id)?)),
        None => {
            let (id, why) = default_model_for(patient);
            Ok(ModelChoice::chosen(crate::model::builtin_model(id)?, why))
        }
    }
}

/// Simulate total serum Mg for a patient under a regimen, with the model in `choice`.
pub fn simulate(
    choice: &ModelChoice,
    patient: &Patient,
    regimen: &Regimen,
    times_h: &[f64],
) -> Result<Simulation, MgivError> {
    let model = &choice.spec;
    solver::check_times(times_h)?;
    if times_h.is_empty() {
        return Err(invalid("output times", "none", "at least one time"));
    }
    if regimen.has_im() && !model.supports_im() {
        return Err(invalid(
            "model",
            &model.id,
            "a model with IM absorption for a regimen with IM doses (du-2019, brookfield-2016, salinger-2013)",
        ));
    }
    let ind = model.individualise(patient)?;
    let mut warnings = ind.warnings.clone();
    warnings.extend(population_warnings(model, patient)?);
    let (fine, output_index) = fine_grid(times_h, regimen);
    let solve = |t: &[f64]| -> Result<Vec<f64>, MgivError> {
        match ind.elimination {
            Elimination::Linear => {
                let modes = Modes::from_params(&ind.params)?;
                Ok(modal::concentrations(&modes, &regimen.events, t))
            }
            Elimination::RenalThreshold { .. } => Ok(solver::ode::solve(
                &ind.params,
                ind.elimination,
                ind.gfr_ml_min,
                &regimen.events,
                t,
                1e-8,
            )?
            .serum_mmol_l),
        }
    };
    let solver_kind = match ind.elimination {
        Elimination::Linear => SolverKind::ClosedForm,
        Elimination::RenalThreshold { .. } => SolverKind::Ode,
    };
    let fine_serum = solve(&fine)?;
    let serum: Vec<f64> = output_index.iter().map(|&k| fine_serum[k]).collect();
    let (peak_time_h, peak_mmol_l) =
        fine.iter()
            .zip(&fine_serum)
            .fold((0.0, f64::NEG_INFINITY), |best, (&t, &c)| {
                if c > best.1 {
                    (t, c)
                } else {
                    best
                }
            });
    let last_t = *times_h.last().unwrap_or(&0.0);
    let last_dose = regimen.last_finite_time_h();
    if last_t < last_dose {
        warnings.push(Warning::new(
            "SIM-ENDS-BEFORE-LAST-DOSE",
            format!(
                "the simulation stops at {last_t} h, before the regimen's last dose or infusion end at {last_dose:.2} h"
            ),
            "mgiv (the requested output times)",
        ));
    }
    if regimen.has_open_infusion() {
        warnings.push(Warning::new(
            "SIM-OPEN-INFUSION",
            format!(
                "an infusion has no stated end: it is simulated as running to {last_t} h; write 'for <time>' to stop it"
            ),
            "mgiv (the regimen as written)",
        ));
    }
    let sim = Simulation {
        model: ModelInfo {
            id: model.id.clone(),
            name: model.name.clone(),
            citation: model.citation.clone(),
            evidence: model.evidence.clone(),
            chosen_because: choice.chosen_because.clone(),
        },
        params: ind.params,
        solver: solver_kind,
        times_h: times_h.to_vec(),
        serum_mmol_l: serum,
        peak_time_h,
        peak_mmol_l,
        warnings,
    };
    let mut sim = sim;
    sim.warnings
        .extend(level_warnings(&sim, &fine, &fine_serum)?);
    Ok(sim)
}

/// How well the model's fitted population matches the patient, from the model's machine-readable
/// `[fitted_in]` metadata (never from its id or description). Codes: MODEL-POPULATION-* for a
/// patient outside the model's population, MODEL-COVARIATE-RANGE for a covariate outside the
/// fitted range, RENAL-SEVERE and CG-PREGNANCY for renal function.
pub fn population_warnings(model: &ModelSpec, p: &Patient) -> Result<Vec<Warning>, MgivError> {
    use crate::model::Presence;
    let f = &model.fitted_in;
    let fitted = format!("model {} [fitted_in]: {}", model.id, f.source);
    let mut w = Vec::new();
    let mut push = |code: &str, message: String| w.push(Warning::new(code, message, &fitted));
    if f.pregnant && !p.pregnant && !p.pre_eclampsia {
        push(
            "MODEL-POPULATION-PREGNANT",
            format!(
                "model {} was fitted in pregnant women; this patient is not marked pregnant",
                model.id
            ),
        );
    }
    if !f.pregnant && (p.pregnant || p.pre_eclampsia) {
        push(
            "MODEL-POPULATION-NOT-PREGNANT",
            format!(
                "model {} was fitted in non-pregnant adults; this patient is pregnant",
                model.id
            ),
        );
    }
    if p.pre_eclampsia && f.pre_eclampsia == Presence::None {
        push(
            "MODEL-POPULATION-NO-PE",
            format!(
                "model {} was fitted in patients without pre-eclampsia; this patient has pre-eclampsia (lower clearance)",
                model.id
            ),
        );
    }
    if !p.pre_eclampsia && f.pre_eclampsia == Presence::All {
        push(
            "MODEL-POPULATION-PE-ONLY",
            format!(
                "model {} was fitted only in women with pre-eclampsia; this patient is not marked pre-eclamptic",
                model.id
            ),
        );
    }
    // paediatric = under 18 years (the definition, e.g. ICH E11), not a model parameter
    if p.age_y.is_some_and(|a| a < 18.0) {
        push(
            "PAEDIATRIC-EXTRAPOLATION",
            "no paediatric magnesium model is built in: adult parameters are extrapolated to a child"
                .into(),
        );
    }
    for (what, unit, v, r) in [
        ("weight", "kg", p.weight_kg, f.weight_kg),
        ("serum creatinine", "mg/dL", p.scr_mg_dl, f.scr_mg_dl),
        ("age", "years", p.age_y, f.age_y),
    ] {
        if let (Some(v), Some([lo, hi])) = (v, r) {
            if v < lo || v > hi {
                push(
                    "MODEL-COVARIATE-RANGE",
                    format!(
                        "{what} {v} {unit} is outside the {lo}-{hi} {unit} range model {} was fitted in ({}): the prediction is an extrapolation; measure levels",
                        model.id, f.source
                    ),
                );
            }
        }
    }
    if let Some(c) = p.crcl_ml_min() {
        let severe = renal_category("severe-impairment")?;
        if c < severe.crcl_below_ml_min {
            w.push(Warning::new(
                "RENAL-SEVERE",
                format!(
                    "creatinine clearance {c:.0} mL/min: {} ({})",
                    severe.label, severe.note
                ),
                severe.source,
            ));
        }
        if p.pregnant && p.crcl_ml_min.is_none() {
            w.push(Warning::new(
                "CG-PREGNANCY",
                "Cockcroft–Gault is not validated in pregnancy (hyperfiltration)",
                "Cockcroft & Gault, Nephron 1976;16:31-41 (derived in non-pregnant adults)",
            ));
        }
    }
    Ok(w)
}

fn level_warnings(
    sim: &Simulation,
    fine_t: &[f64],
    fine_c: &[f64],
) -> Result<Vec<Warning>, MgivError> {
    let levels = serum_levels()?;
    let mut w = Vec::new();
    let Some((tp, peak)) = sim.peak() else {
        return Ok(w);
    };
    for th in levels.thresholds.iter().rev() {
        if peak > th.mmol_l {
            let first = fine_t
                .iter()
                .zip(fine_c)
                .find(|(_, &c)| c > th.mmol_l)
                .map(|(&t, _)| t)
                .unwrap_or(tp);
            w.push(Warning::new(
                LEVEL_PREDICTED_ABOVE,
                format!(
                    "predicted level exceeds {} mmol/L ({}) from {:.2} h; peak {:.2} mmol/L at {:.2} h [{}; {}]",
                    th.mmol_l, th.label, first, peak, tp, th.source, th.strength
                ),
                format!("data/ranges/serum-mg.toml: {}", th.source),
            ));
            break;
        }
    }
    Ok(w)
}
