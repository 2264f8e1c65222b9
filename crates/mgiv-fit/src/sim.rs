//! Reproducible simulated datasets for recovery checks and benchmarks: a loading infusion and a
//! maintenance infusion (the standard magnesium sulfate schedule), a pre-dose sample and 3-7
//! more at random log-stratified times (early and late samples in every subject), weight as a covariate; the truth is the model's initial estimates.
//! Draws depend only on (seed, subject index): the same seed gives the same file anywhere.

use mgiv_core::regimen::DoseEvent;
use mgiv_core::solver::{modal, Modes};
use mgiv_core::MgivError;
use mgiv_pop::rng::{Stream, SubjectRng};

use crate::focei::PopParams;
use crate::spec::{BaselineMode, ErrorModel, EstimationModel, RelationForm, BASE};

#[derive(Debug, Clone, Copy)]
pub struct Design {
    pub n_subjects: usize,
    /// samples per subject, pre-dose sample included (drawn uniformly in min..=max)
    pub min_samples: usize,
    pub max_samples: usize,
    /// loading dose 16 mmol (≈ 4 g MgSO4·7H2O) over 15 min, then 4 mmol/h (≈ 1 g/h) for this long
    pub maintenance_h: f64,
    /// samples fall in (0.25 h, horizon_h)
    pub horizon_h: f64,
    /// when set, the last sample of every subject falls in the washout after the maintenance
    /// infusion (uniform between its end and `horizon_h`), the others log-stratified over the
    /// infusion (0.25 h to its end); otherwise all are log-stratified over (0.25 h, horizon_h)
    pub washout_sample: bool,
}

impl Default for Design {
    fn default() -> Self {
        Design {
            n_subjects: 50,
            min_samples: 4,
            max_samples: 8,
            maintenance_h: 24.0,
            horizon_h: 36.0,
            washout_sample: false,
        }
    }
}

/// A NONMEM-format CSV (DV mmol/L, AMT mmol, TIME h; column WT) simulated from `truth`'s initial
/// estimates.
pub fn simulate_nonmem(
    truth: &EstimationModel,
    design: &Design,
    seed: u64,
) -> Result<String, MgivError> {
    if truth.baseline == BaselineMode::PerSubject {
        return Err(mgiv_core::error::invalid(
            "baseline",
            "per_subject",
            "fixed or estimated for simulation (the truth needs a population baseline)",
        ));
    }
    let p = PopParams::initial(truth);
    let k = truth.n_eta();
    let l = if k > 0 {
        mgiv_pop::linalg::cholesky(&p.omega, k).ok_or_else(|| MgivError::Numerical("Ω".into()))?
    } else {
        Vec::new()
    };
    let mut out = String::from(
        "# simulated by mgiv-fit (sim::simulate_nonmem)\n# DV_UNIT=mmol/L\n# AMT_UNIT=mmol\n# TIME_UNIT=h\nID,TIME,EVID,MDV,AMT,RATE,DV,WT\n",
    );
    for i in 0..design.n_subjects {
        let id = i + 1;
        let mut rc = SubjectRng::new(seed, i as u64, Stream::Covariates);
        let mut re = SubjectRng::new(seed, i as u64, Stream::Etas);
        let mut rr = SubjectRng::new(seed, i as u64, Stream::Residual);
        let mut ro = SubjectRng::new(seed, i as u64, Stream::Other);
        let wt = (75.0 * (0.18 * rc.normal()).exp() * 10.0).round() / 10.0;
        let z: Vec<f64> = (0..k).map(|_| re.normal()).collect();
        let mut eta = vec![0.0; k];
        mgiv_pop::linalg::lower_mul(&l, k, &z, &mut eta);
        let params = individual_params(truth, &p, wt, &eta);
        let modes = Modes::from_params(&params)?;
        let events = schedule(design);
        let times = sample_times(design, &mut ro);
        let mut all = vec![0.0];
        all.extend(&times);
        let pred = modal::concentrations(&modes, &events, &all);
        let dv = observe(truth, &p, &pred, params.baseline_mmol_l, &mut rr);
        out.push_str(&format!("{id},0,0,0,.,.,{:.6},{wt}\n", dv[0]));
        out.push_str(&format!("{id},0,1,1,16,{},.,{wt}\n", 16.0 / LOAD_H));
        out.push_str(&format!(
            "{id},{LOAD_H},1,1,{},4,.,{wt}\n",
            4.0 * design.maintenance_h
        ));
        for (t, y) in times.iter().zip(&dv[1..]) {
            out.push_str(&format!("{id},{t},0,0,.,.,{y:.6},{wt}\n"));
        }
    }
    Ok(out)
}

/// Duration of the loading infusion, h.
const LOAD_H: f64 = 0.25;

/// One subject's parameters: typical values × covariate factors (weight `wt_kg`; other columns at
/// their reference) × exp(η).
fn individual_params(
    truth: &EstimationModel,
    p: &PopParams,
    wt_kg: f64,
    eta: &[f64],
) -> mgiv_core::model::IndividualParams {
    let mut vals = [0.0; 5];
    for (j, v) in vals.iter_mut().enumerate() {
        let Some(ti) = truth.param_theta[j] else {
            continue;
        };
        let mut x = p.theta[ti];
        for r in truth.relations.iter().filter(|r| r.param == j) {
            let e = match r.effect {
                crate::spec::Effect::Theta(t) => p.theta[t],
                crate::spec::Effect::Fixed(f) => f,
            };
            let c = if r.column == "WT" { wt_kg } else { r.reference };
            x *= match r.form {
                RelationForm::Power => (c / r.reference).powf(e),
                RelationForm::Linear => 1.0 + e * (c / r.reference - 1.0),
            };
        }
        if let Some(q) = truth.eta_params.iter().position(|&e| e == j) {
            x *= eta[q].exp();
        }
        *v = x;
    }
    mgiv_core::model::IndividualParams {
        cl_l_h: vals[0],
        v1_l: vals[1],
        peripheral: truth.two_cmt.then_some(mgiv_core::model::Peripheral {
            q_l_h: vals[2],
            v2_l: vals[3],
        }),
        ka_h: truth.ka_h,
        f_im: truth.f_im,
        baseline_mmol_l: vals[BASE],
    }
}

/// The loading infusion (16 mmol over 15 min) and the maintenance infusion (4 mmol/h).
fn schedule(design: &Design) -> [DoseEvent; 2] {
    [
        DoseEvent::Infusion {
            start_h: 0.0,
            end_h: Some(LOAD_H),
            rate_mmol_per_h: 16.0 / LOAD_H,
            phase: 0,
        },
        DoseEvent::Infusion {
            start_h: LOAD_H,
            end_h: Some(LOAD_H + design.maintenance_h),
            rate_mmol_per_h: 4.0,
            phase: 1,
        },
    ]
}

/// The post-dose sample times of one subject (h, rounded to 0.01 h, sorted, distinct); their
/// number is drawn so that with the pre-dose sample there are min..=max samples.
fn sample_times(design: &Design, ro: &mut SubjectRng) -> Vec<f64> {
    let span = design.max_samples - design.min_samples + 1;
    let n = design.min_samples + (ro.next_u64() % span as u64) as usize;
    let end_h = LOAD_H + design.maintenance_h;
    let washout = design.washout_sample && n >= 3 && design.horizon_h > end_h;
    // log-stratified times: one sample in each of n−1 (n−2 with a washout sample) equal
    // slices of ln t over (0.25 h, horizon or the end of the maintenance infusion)
    let n_strat = if washout { n - 2 } else { n - 1 };
    let top_h = if washout { end_h } else { design.horizon_h };
    let (a, b) = (0.25f64.ln(), top_h.ln());
    let m = n_strat as f64;
    let mut times: Vec<f64> = (0..n_strat)
        .map(|k| (a + (b - a) * (k as f64 + ro.uniform()) / m).exp())
        .map(|t| (t * 100.0).round() / 100.0)
        .collect();
    if washout {
        let t = end_h + (design.horizon_h - end_h) * ro.uniform();
        times.push((t * 100.0).round() / 100.0);
    }
    times.sort_by(f64::total_cmp);
    times.dedup();
    times
}

/// Observed values (mmol/L): predictions `pred` plus residual error of the truth's model.
fn observe(
    truth: &EstimationModel,
    p: &PopParams,
    pred: &[f64],
    base: f64,
    rr: &mut SubjectRng,
) -> Vec<f64> {
    let (mut prop, mut add) = (0.0, 0.0);
    for (n, v) in truth.sigma_names().iter().zip(&p.sigma) {
        if *n == "proportional" {
            prop = *v;
        } else {
            add = *v;
        }
    }
    pred.iter()
        .map(|c| {
            let x = match truth.residual_on {
                mgiv_core::model::ResidualScale::Total => *c,
                mgiv_core::model::ResidualScale::ChangeFromBaseline => c - base,
            };
            let sd = match truth.error_model {
                ErrorModel::Additive => add,
                ErrorModel::Proportional => prop * x.abs(),
                ErrorModel::Combined => ((prop * x).powi(2) + add * add).sqrt(),
            };
            c + sd * rr.normal()
        })
        .collect()
}
