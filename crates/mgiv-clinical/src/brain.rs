//! The serum → CSF → brain-effects pipeline on the clinical context, shared by `mgiv brain`,
//! Python and the service: the serum curve on a fine grid (so a 20-minute loading peak is never
//! cut), then `mgiv_brain::brain_report` at the report times.

use mgiv_brain::{brain_report, BrainOptions, BrainReport};
use mgiv_core::regimen::Regimen;
use mgiv_core::simulate::{simulate, uniform_times, Simulation};
use mgiv_safety::SafetyError;

use crate::context::ClinicalContext;

/// The serum simulation on the fine grid and the report times it serves.
pub struct BrainRun {
    pub regimen: Regimen,
    pub serum: Simulation,
    pub report_times_h: Vec<f64>,
    pub report: BrainReport,
}

/// Default report times: hourly to the regimen's end + 12 h (at least 24 h, at most 14 days).
pub fn default_report_times(
    regimen: &Regimen,
    hours: Option<f64>,
) -> Result<Vec<f64>, SafetyError> {
    let default_h = (regimen.last_finite_time_h() + 12.0).clamp(24.0, 24.0 * 14.0);
    Ok(uniform_times(hours.unwrap_or(default_h.ceil()), 1.0)?)
}

/// Run the pipeline for a regimen on the context.
pub fn brain_for_regimen(
    ctx: &ClinicalContext,
    regimen_text: &str,
    report_times_h: Option<Vec<f64>>,
    hours: Option<f64>,
    opts: &BrainOptions,
) -> Result<BrainRun, SafetyError> {
    // what the effect models need to know about the patient comes from the context, so every
    // front end gets the same report (status bands only from a measured baseline; blood pressure
    // only in pre-eclampsia)
    let mut opts = opts.clone();
    opts.baseline_measured = ctx.patient.baseline.is_some();
    opts.pre_eclampsia = ctx.patient.pre_eclampsia;
    let opts = &opts;
    let regimen = Regimen::from_text(regimen_text, ctx.patient.weight_kg)?;
    let report_times_h = match report_times_h {
        Some(t) => t,
        None => default_report_times(&regimen, hours)?,
    };
    let horizon = report_times_h
        .last()
        .copied()
        .unwrap_or(24.0)
        .max(1.0 / 60.0);
    let step = (horizon / 5000.0).max(1.0 / 60.0);
    let grid = uniform_times(horizon, step)?;
    let serum = simulate(
        &ctx.model,
        Some(ctx.model_why.clone()),
        &ctx.patient,
        &regimen,
        &grid,
    )?;
    let report = brain_report(
        &serum.times_h,
        &serum.serum_mmol_l,
        serum.params.baseline_mmol_l,
        &report_times_h,
        opts,
    )?;
    Ok(BrainRun {
        regimen,
        serum,
        report_times_h,
        report,
    })
}
