//! The serum → CSF → brain-effects pipeline on the clinical context, shared by `mgiv brain`,
//! Python and the service: the serum curve on a fine grid (so a 20-minute loading peak is never
//! cut), then `mgiv_brain::brain_report` at the report times.

use mgiv_brain::{brain_report, csf_from_serum, BrainOptions, BrainReport, CsfCourse, CsfOptions};
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

/// Default report times: hourly to `hours`, else to the regimen's default horizon
/// (`mgiv_core::simulate::default_horizon_h`).
pub fn default_report_times(
    regimen: &Regimen,
    hours: Option<f64>,
) -> Result<Vec<f64>, SafetyError> {
    let h = hours.unwrap_or_else(|| mgiv_core::simulate::default_horizon_h(regimen));
    Ok(uniform_times(h, 1.0)?)
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
    let serum = serum_on_grid(
        ctx,
        &regimen,
        report_times_h.last().copied().unwrap_or(24.0),
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

/// The context's serum curve on the fine grid of a horizon (1-minute steps, or horizon/5000 for
/// long horizons), so a 20-minute loading peak is never cut.
fn serum_on_grid(
    ctx: &ClinicalContext,
    regimen: &Regimen,
    horizon_h: f64,
) -> Result<Simulation, SafetyError> {
    let horizon = horizon_h.max(1.0 / 60.0);
    // output grid: at most 5000 steps, at least 1 min (numerical)
    let step = (horizon / 5000.0).max(1.0 / 60.0);
    let grid = uniform_times(horizon, step)?;
    Ok(simulate(&ctx.model_choice(), &ctx.patient, regimen, &grid)?)
}

/// Serum curve (fine grid) and the CSF course for a regimen on the context, from 0 to
/// `horizon_h`: the serum model is the context's, the blood–CSF transfer mgiv-brain's
/// (`csf_from_serum` with `opts`).
pub fn serum_and_csf(
    ctx: &ClinicalContext,
    regimen_text: &str,
    horizon_h: f64,
    opts: &CsfOptions,
) -> Result<(Simulation, CsfCourse), SafetyError> {
    let regimen = Regimen::from_text(regimen_text, ctx.patient.weight_kg)?;
    let sim = serum_on_grid(ctx, &regimen, horizon_h)?;
    let course = csf_from_serum(
        &sim.times_h,
        &sim.serum_mmol_l,
        sim.params.baseline_mmol_l,
        opts,
    )?;
    Ok((sim, course))
}

/// The magnesium drive of a network for a regimen: ionised CSF Mg (mM) over `[0, horizon_h]`,
/// as strictly increasing `(t_h, mg_mm)` points for `mgiv_neuro::MgDrive::time_course`
/// (serum model of the context → mgiv-brain blood–CSF transfer, point estimate → ionised
/// fraction). Returns the serum simulation too, so the caller can name the model it came from.
pub fn csf_ionised_drive(
    ctx: &ClinicalContext,
    regimen_text: &str,
    horizon_h: f64,
) -> Result<(Simulation, Vec<(f64, f64)>), SafetyError> {
    let (sim, course) = serum_and_csf(ctx, regimen_text, horizon_h, &CsfOptions::default())?;
    let mut out: Vec<(f64, f64)> = Vec::with_capacity(course.times_h.len());
    for (&t, &c) in course.times_h.iter().zip(&course.ionised_mmol_l) {
        if out.last().is_none_or(|&(t0, _)| t > t0) {
            out.push((t, c));
        }
    }
    Ok((sim, out))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::context::ContextInput;
    use mgiv_core::patient::PatientInput;

    fn ctx() -> ClinicalContext {
        ClinicalContext::build(&ContextInput {
            indication: Some("pre-eclampsia".into()),
            patient: PatientInput {
                weight_kg: Some(70.0),
                pregnant: true,
                pre_eclampsia: true,
                ..Default::default()
            },
            ..Default::default()
        })
        .unwrap()
    }

    /// The network drive is the CSF course's ionised Mg on strictly increasing times: it starts at
    /// the baseline ionised CSF level and equals `csf_from_serum` on the same serum curve.
    #[test]
    fn ionised_drive_is_the_csf_course_on_increasing_times() {
        let ctx = ctx();
        let text = "4 g over 20 min, then 1 g/h for 24 h";
        let (sim, drive) = csf_ionised_drive(&ctx, text, 24.0).unwrap();
        assert_eq!(sim.model.id, "du-2019");
        assert!(drive.windows(2).all(|w| w[1].0 > w[0].0));
        assert_eq!(drive.first().unwrap().0, 0.0);
        assert!((drive.last().unwrap().0 - 24.0).abs() < 1e-9);
        let (_, course) = serum_and_csf(&ctx, text, 24.0, &CsfOptions::default()).unwrap();
        assert!((drive[0].1 - course.baseline_ionised_mmol_l).abs() < 1e-12);
        for (i, (t, c)) in drive.iter().enumerate() {
            assert_eq!(*t, course.times_h[i]);
            assert_eq!(*c, course.ionised_mmol_l[i]);
        }
        // little and slowly: after 24 h of 1 g/h the ionised CSF Mg has risen, by well under half
        // of the serum rise in relative terms
        let rise_csf = drive.last().unwrap().1 / drive[0].1 - 1.0;
        let rise_serum = sim.serum_mmol_l.last().unwrap() / sim.serum_mmol_l[0] - 1.0;
        assert!(
            rise_csf > 0.0 && rise_csf < 0.5 * rise_serum,
            "{rise_csf} {rise_serum}"
        );
        // a bad regimen is an error naming it, not a panic
        assert!(csf_ionised_drive(&ctx, "4 g over banana", 24.0).is_err());
    }
}
