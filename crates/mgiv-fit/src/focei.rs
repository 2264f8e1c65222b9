//! FOCE-I: first-order conditional estimation with interaction.
//!
//! For subject i with observations y (mmol/L), predictions f(η), residual variances
//! R_j = (σ_prop·x_j)² + σ_add² (x the total level, or its rise above baseline) and η ~ N(0, Ω):
//!
//! - inner step: η̂ minimises L(η) = Σ_j [ln R_j + (y_j − f_j)²/R_j] + ηᵀΩ⁻¹η (BFGS with the exact
//!   gradient from dual numbers; R depends on η: the "interaction");
//! - objective: OFV_i = L(η̂) + ln|Ω| + ln|GᵀR⁻¹G + ½C̃ᵀC̃ + Ω⁻¹|, G = ∂f/∂η and
//!   C̃_jk = (∂R_j/∂η_k)/R_j at η̂ (exact, duals): the Laplace approximation of
//!   −2 ln ∫ p(y|η) p(η) dη with the first-order (expected-information) Hessian, NONMEM's
//!   METHOD=1 INTER form (Almquist et al. 2015, eq. 15; ½C̃ᵀC̃ vanishes for additive error).
//!   Like NONMEM's OFV it leaves out the constant N·ln(2π) (N observations);
//! - outer step: BFGS on transformed parameters (bounded θ by logit, Ω by the log Cholesky
//!   factor, ω²_IOV and σ by log) with the exact gradient of the OFV ([`crate::grad`]: implicit
//!   dη̂/du and exact ∂ln|H̃|), started from the inverse BHHH matrix; Nelder–Mead (argmin,
//!   restarted from its best point until it stops improving) as the option
//!   [`Outer::NelderMead`] and where BFGS stops short or the gradient is not available;
//! - covariance step: S = Σ_i ¼ ∇OFV_i ∇OFV_iᵀ from the per-subject exact gradients and
//!   R = ½ ∂²OFV/∂φ² by central differences of the exact gradient on the natural parameters φ
//!   (θ, ω, σ) with every η̂ re-optimised (the all-difference form as fallback); the reported
//!   covariance is the sandwich R⁻¹SR⁻¹ (NONMEM's default), with R⁻¹ alongside.
//!
//! Subjects are evaluated in parallel (rayon) and summed in subject order, so the result does not
//! depend on the number of threads.

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;

use argmin::core::{
    CostFunction, Error as ArgminError, Executor, State, TerminationReason, TerminationStatus,
};
use argmin::solver::neldermead::NelderMead;
use mgiv_core::error::invalid;
use mgiv_core::model::ResidualScale;
use mgiv_core::optim::{armijo, bfgs_from, bfgs_update, descent_direction, identity};
use mgiv_core::MgivError;
use mgiv_data::{Censoring, CovariateFill, Dataset, EventOptions, Segment};
use mgiv_pop::linalg;
use rayon::prelude::*;
use serde::Serialize;

use crate::dual::{Dual, NE};
use crate::grad::{self, Dir};
use crate::pred::{predict_dual, predict_dual_pieces, DParams, Pieces};
use crate::spec::{BaselineMode, Effect, ErrorModel, EstimationModel, RelationForm, BASE, PARAMS};

/// One subject's data, ready for the objective.
#[derive(Debug, Clone)]
pub struct SubjectData {
    pub id: String,
    pub segments: Vec<Segment>,
    /// observed total serum Mg, mmol/L, in segment order
    pub y: Vec<f64>,
    pub times_h: Vec<f64>,
    pub rows: Vec<usize>,
    /// value of each covariate relation's column at the subject's first record (the only value
    /// when `time_varying` is None)
    pub covariates: Vec<f64>,
    /// the covariate values in force between changes, when one changes within the subject;
    /// with IOV the occasion (OCC) is read as one more column, after the relations'
    pub time_varying: Option<TimeVarying>,
    /// with IOV: the subject's distinct OCC values, increasing (κ of occasion `occasions[o]`
    /// are random effects k + o·n_iov ..); empty without IOV
    pub occasions: Vec<u32>,
    /// mean of the pre-dose samples, mmol/L
    pub own_baseline: Option<f64>,
    /// the censored observations (CENS/BLQ), in segments of their own (same doses), for the M3
    /// likelihood; `segments` holds only the quantified ones
    pub censored: Vec<Segment>,
    /// per censored observation, in order: (limit mmol/L, +1 below the limit / −1 above it)
    pub limits: Vec<(f64, f64)>,
}

/// Turn a dataset into subjects for `model`. Censored observations (CENS/BLQ) enter the
/// likelihood by Beal's M3 (counted in the notes); subjects without quantified observations are
/// left out (noted).
pub fn prepare(
    model: &EstimationModel,
    ds: &Dataset,
) -> Result<(Vec<SubjectData>, Vec<String>), MgivError> {
    let mut notes = Vec::new();
    let opts = event_options(model)?;
    let cols = covariate_columns(model, ds)?;
    let mut out = Vec::new();
    let (mut censored, mut empty, mut varying) = (0, 0, 0);
    for s in &ds.subjects {
        let obs = split_censored(s.segments(&opts)?);
        censored += obs.limits.len();
        if obs.y.is_empty() {
            empty += 1;
            continue;
        }
        let (covariates, time_varying) = subject_covariates(model, s, &cols)?;
        let occasions = subject_occasions(model, s)?;
        if time_varying.is_some() {
            varying += 1;
        }
        let pre = s.pre_dose_observations();
        let own_baseline = if pre.is_empty() {
            None
        } else {
            Some(pre.iter().map(|o| o.dv.mmol_l()).sum::<f64>() / pre.len() as f64)
        };
        out.push(SubjectData {
            id: s.id.clone(),
            segments: obs.segments,
            y: obs.y,
            times_h: obs.times_h,
            rows: obs.rows,
            covariates,
            time_varying,
            occasions,
            own_baseline,
            censored: obs.censored,
            limits: obs.limits,
        });
    }
    dataset_notes(model, &out, censored, empty, &mut notes);
    if varying > 0 {
        notes.push(format!(
            "covariates change within {varying} subject(s): their parameters change at those times ({}), the amounts carried across each change",
            match model.covariate_fill {
                CovariateFill::Nocb => "NOCB: a record's value holds from the previous record up to its own time",
                CovariateFill::Locf => "LOCF: a record's value holds from its own time on",
            }
        ));
    }
    if out.is_empty() {
        return Err(invalid(
            "dataset",
            "no usable observations",
            "at least one uncensored observation",
        ));
    }
    Ok((out, notes))
}

/// Event options: a steady-state history of 100 terminal half-lives at the initial typical
/// values, at least 2000 h.
fn event_options(model: &EstimationModel) -> Result<EventOptions, MgivError> {
    let init = PopParams::initial(model);
    let t_half = {
        let p = typical_params(model, &init, None);
        let modes = mgiv_core::solver::Modes::from_params(&p)?;
        modes.terminal_half_life_h()
    };
    Ok(EventOptions {
        ss_history_h: (100.0 * t_half).max(2000.0),
        modelled: Default::default(),
    })
}

/// The dataset column of each covariate relation (refused when the dataset lacks it).
fn covariate_columns(model: &EstimationModel, ds: &Dataset) -> Result<Vec<usize>, MgivError> {
    model
        .relations
        .iter()
        .map(|r| {
            ds.covariate_index(&r.column).ok_or_else(|| {
                invalid(
                    "covariate column",
                    &r.column,
                    format!(
                        "a numeric column of the dataset (it has: {})",
                        if ds.covariates.is_empty() {
                            "none".into()
                        } else {
                            ds.covariates.join(", ")
                        }
                    ),
                )
            })
        })
        .collect()
}

/// One subject's observations split into the quantified ones (in `segments`, with y, times and
/// rows) and the censored ones (segments of their own with the same doses, and their limits).
struct SplitObservations {
    segments: Vec<Segment>,
    y: Vec<f64>,
    times_h: Vec<f64>,
    rows: Vec<usize>,
    censored: Vec<Segment>,
    limits: Vec<(f64, f64)>,
}

fn split_censored(segments: Vec<Segment>) -> SplitObservations {
    let mut out = SplitObservations {
        segments: Vec::new(),
        y: Vec::new(),
        times_h: Vec::new(),
        rows: Vec::new(),
        censored: Vec::new(),
        limits: Vec::new(),
    };
    for mut seg in segments {
        let mut c = seg.clone();
        c.observations.retain(|o| o.censoring != Censoring::None);
        if !c.observations.is_empty() {
            for o in &c.observations {
                let limit = o.lloq.unwrap_or(o.dv).mmol_l();
                let sign = if o.censoring == Censoring::Below {
                    1.0
                } else {
                    -1.0
                };
                out.limits.push((limit, sign));
            }
            out.censored.push(c);
        }
        seg.observations.retain(|o| o.censoring == Censoring::None);
        for o in &seg.observations {
            out.y.push(o.dv.mmol_l());
            out.times_h.push(o.time_h);
            out.rows.push(o.row);
        }
        out.segments.push(seg);
    }
    out
}

/// Covariate values that change within a subject: `values[0]` before `changes_h[0]`,
/// `values[k]` between `changes_h[k-1]` and `changes_h[k]`, the last after the last change
/// (one value per covariate relation). At a change time itself the earlier values hold under
/// NOCB, the later under LOCF (`EstimationModel::covariate_fill`).
#[derive(Debug, Clone, PartialEq)]
pub struct TimeVarying {
    /// individual's clock, h, increasing
    pub changes_h: Vec<f64>,
    pub values: Vec<Vec<f64>>,
}

/// The value of each covariate relation's column for subject `s` at its first record, and, when
/// one changes within the subject, the values between changes (read as
/// `model.covariate_fill` says).
fn subject_covariates(
    model: &EstimationModel,
    s: &mgiv_data::Subject,
    cols: &[usize],
) -> Result<(Vec<f64>, Option<TimeVarying>), MgivError> {
    let fill = model.covariate_fill;
    let t0 = s.records.first().map(|r| r.time_h).unwrap_or(0.0);
    let mut times: Vec<f64> = s.records.iter().map(|r| r.time_h).collect();
    times.sort_by(f64::total_cmp);
    times.dedup();
    // the values on each side of every record time: NOCB (t_{k-1}, t_k] takes t_k's value,
    // LOCF [t_{k-1}, t_k) takes t_{k-1}'s; before the first / after the last, the end values
    let probe: Vec<f64> = match fill {
        CovariateFill::Nocb => times
            .iter()
            .copied()
            .chain(std::iter::once(f64::INFINITY))
            .collect(),
        CovariateFill::Locf => std::iter::once(f64::NEG_INFINITY)
            .chain(times.iter().copied())
            .collect(),
    };
    let mut values: Vec<Vec<f64>> = vec![Vec::with_capacity(cols.len()); probe.len()];
    let mut first = Vec::with_capacity(cols.len());
    for (r, &idx) in model.relations.iter().zip(cols) {
        let field = || format!("{} of ID {}", r.column, s.id);
        let at = |t: f64| -> Result<f64, MgivError> {
            let v = s.covariate_at(idx, t, fill).ok_or_else(|| {
                invalid(
                    field(),
                    "missing on every record",
                    "a value on at least one record (the others are filled by NOCB or LOCF)",
                )
            })?;
            if !v.is_finite() || (r.form == RelationForm::Power && v <= 0.0) {
                return Err(invalid(
                    format!("{} (in force at TIME {t} h)", field()),
                    v,
                    if r.form == RelationForm::Power {
                        "a finite positive value (power covariate relation)"
                    } else {
                        "a finite value"
                    },
                ));
            }
            Ok(v)
        };
        first.push(at(t0)?);
        for (slot, &t) in values.iter_mut().zip(&probe) {
            slot.push(at(t)?);
        }
    }
    if !model.iov_params.is_empty() {
        // the occasion, read like a covariate (its values are checked by `subject_occasions`)
        let occ: Vec<(f64, f64)> = s
            .records
            .iter()
            .filter_map(|r| r.occasion.map(|o| (r.time_h, f64::from(o))))
            .collect();
        let at = |t: f64| fill_at(&occ, t, fill).unwrap_or(0.0);
        first.push(at(t0));
        for (slot, &t) in values.iter_mut().zip(&probe) {
            slot.push(at(t));
        }
    }
    // merge neighbours with the same values
    let mut changes_h = Vec::new();
    let mut merged: Vec<Vec<f64>> = vec![values[0].clone()];
    for (k, v) in values.into_iter().enumerate().skip(1) {
        if merged.last() != Some(&v) {
            changes_h.push(times[k - 1]);
            merged.push(v);
        }
    }
    if changes_h.is_empty() {
        Ok((first, None))
    } else {
        Ok((
            first,
            Some(TimeVarying {
                changes_h,
                values: merged,
            }),
        ))
    }
}

/// The value at `time_h` of a quantity given at (time, value) records, as
/// `Subject::covariate_at` reads a covariate.
fn fill_at(vals: &[(f64, f64)], time_h: f64, fill: CovariateFill) -> Option<f64> {
    let (first, last) = (vals.first()?, vals.last()?);
    Some(match fill {
        CovariateFill::Nocb => vals
            .iter()
            .find(|(t, _)| *t >= time_h)
            .map(|p| p.1)
            .unwrap_or(last.1),
        CovariateFill::Locf => vals
            .iter()
            .rev()
            .find(|(t, _)| *t <= time_h)
            .map(|p| p.1)
            .unwrap_or(first.1),
    })
}

/// With IOV: the subject's distinct occasions (OCC on every record; at most
/// `dual::NE` random effects per subject, η and κ together).
fn subject_occasions(
    model: &EstimationModel,
    s: &mgiv_data::Subject,
) -> Result<Vec<u32>, MgivError> {
    if model.iov_params.is_empty() {
        return Ok(Vec::new());
    }
    let mut occ = Vec::new();
    for r in &s.records {
        let Some(o) = r.occasion else {
            return Err(invalid(
                format!("OCC of ID {} (line {})", s.id, r.row),
                "missing",
                "an occasion number on every record when the model has [estimation.iov] (NONMEM's OCC column)",
            ));
        };
        if !occ.contains(&o) {
            occ.push(o);
        }
    }
    occ.sort_unstable();
    let n = model.n_eta() + occ.len() * model.n_iov();
    if n > NE {
        return Err(invalid(
            format!("random effects of ID {}", s.id),
            format!(
                "{} η + {} occasions × {} κ = {n}",
                model.n_eta(),
                occ.len(),
                model.n_iov()
            ),
            format!("at most {NE} per subject (fewer occasions or IOV parameters)"),
        ));
    }
    Ok(occ)
}

/// The dataset-level notes of [`prepare`]: censored observations, left-out subjects, subjects
/// without a pre-dose sample under a per-subject baseline.
fn dataset_notes(
    model: &EstimationModel,
    out: &[SubjectData],
    censored: usize,
    empty: usize,
    notes: &mut Vec<String>,
) {
    if censored > 0 {
        notes.push(format!(
            "{censored} censored observation(s) (CENS/BLQ) enter the likelihood by M3 (−2 ln P(beyond the limit)); not in the sdtab or VPC"
        ));
    }
    if empty > 0 {
        notes.push(format!("{empty} subject(s) without observations left out"));
    }
    if model.baseline == BaselineMode::PerSubject {
        let n = out.iter().filter(|s| s.own_baseline.is_none()).count();
        if n > 0 {
            notes.push(format!(
                "{n} subject(s) without a pre-dose sample use the estimated baseline θ"
            ));
        }
    }
}

/// Population parameters on the natural scale.
#[derive(Debug, Clone, PartialEq)]
pub struct PopParams {
    pub theta: Vec<f64>,
    /// k×k
    pub omega: Vec<f64>,
    /// in `model.sigma_names()` order (SDs: proportional fraction, additive mmol/L)
    pub sigma: Vec<f64>,
    /// between-occasion variances ω²_IOV, in `model.iov_params` order (empty without IOV)
    pub omega_iov: Vec<f64>,
}

impl PopParams {
    pub fn initial(m: &EstimationModel) -> Self {
        let sigma = m
            .sigma_names()
            .iter()
            .map(|n| {
                if *n == "proportional" {
                    m.sigma_prop_init
                } else {
                    m.sigma_add_init
                }
            })
            .collect();
        PopParams {
            theta: m.thetas.iter().map(|t| t.init).collect(),
            omega: m.omega_init.clone(),
            sigma,
            omega_iov: m.iov_init.clone(),
        }
    }
    fn sd(&self, m: &EstimationModel) -> (f64, f64) {
        let mut prop = 0.0;
        let mut add = 0.0;
        for (n, v) in m.sigma_names().iter().zip(&self.sigma) {
            if *n == "proportional" {
                prop = *v;
            } else {
                add = *v;
            }
        }
        (prop, add)
    }
}

pub(crate) fn structural_value(
    m: &EstimationModel,
    p: &PopParams,
    i: usize,
    covs: Option<&[f64]>,
) -> f64 {
    let Some(ti) = m.param_theta[i] else {
        return 0.0;
    };
    let mut v = p.theta[ti];
    if let Some(c) = covs {
        for (r, x) in m.relations.iter().zip(c) {
            if r.param != i {
                continue;
            }
            let e = match r.effect {
                Effect::Theta(k) => p.theta[k],
                Effect::Fixed(v) => v,
            };
            v *= match r.form {
                RelationForm::Power => (x / r.reference).powf(e),
                RelationForm::Linear => 1.0 + e * (x / r.reference - 1.0),
            };
        }
    }
    v
}

fn typical_params(
    m: &EstimationModel,
    p: &PopParams,
    covs: Option<&[f64]>,
) -> mgiv_core::model::IndividualParams {
    mgiv_core::model::IndividualParams {
        cl_l_h: structural_value(m, p, 0, covs),
        v1_l: structural_value(m, p, 1, covs),
        peripheral: m.two_cmt.then(|| mgiv_core::model::Peripheral {
            q_l_h: structural_value(m, p, 2, covs),
            v2_l: structural_value(m, p, 3, covs),
        }),
        ka_h: m.ka_h,
        f_im: m.f_im,
        baseline_mmol_l: structural_value(m, p, BASE, covs),
    }
}

fn dparams(m: &EstimationModel, p: &PopParams, s: &SubjectData, eta: &[f64]) -> DParams {
    dparams_at(m, p, s, &s.covariates, eta)
}

/// Individual parameters (duals in η) of subject `s` with covariate values `covs`.
/// Index in a subject's random-effect vector (η, then occasion by occasion the IOV parameters)
/// of the κ of IOV parameter `j` in the occasion in force at a record with covariates `covs`
/// (the occasion is read after the relations' columns).
pub(crate) fn kappa_slot(m: &EstimationModel, s: &SubjectData, covs: &[f64], j: usize) -> usize {
    let occ = covs.get(m.relations.len()).map(|&c| c as u32);
    let o = s
        .occasions
        .iter()
        .position(|&x| Some(x) == occ)
        .unwrap_or(0);
    m.n_eta() + o * m.n_iov() + j
}

fn dparams_at(
    m: &EstimationModel,
    p: &PopParams,
    s: &SubjectData,
    covs: &[f64],
    eta: &[f64],
) -> DParams {
    let mut v = [Dual::cst(0.0); 5];
    for (i, slot) in v.iter_mut().enumerate() {
        let mut x = Dual::cst(structural_value(m, p, i, Some(covs)));
        if i == BASE && m.baseline == BaselineMode::PerSubject {
            if let Some(b) = s.own_baseline {
                x = Dual::cst(b);
            }
        }
        if let Some(k) = m.eta_params.iter().position(|&e| e == i) {
            x = x * Dual::var(eta[k], k).exp();
        }
        if let Some(j) = m.iov_params.iter().position(|&e| e == i) {
            // κ of the occasion in force (0 where `eta` has none: population predictions)
            let r = kappa_slot(m, s, covs, j);
            if let Some(&kappa) = eta.get(r) {
                x = x * Dual::var(kappa, r).exp();
            }
        }
        *slot = x;
    }
    DParams {
        cl: v[0],
        v1: v[1],
        q: v[2],
        v2: v[3],
        base: v[4],
        two_cmt: m.two_cmt,
        ka_h: m.ka_h,
        f_im: m.f_im.unwrap_or(1.0),
    }
}

pub(crate) struct Omega {
    pub(crate) k: usize,
    pub(crate) inv: Vec<f64>,
    logdet: f64,
    /// 1/ω²_IOV of each IOV parameter, and Σ ln ω²_IOV (one occasion's ln|Ω_IOV|)
    pub(crate) iov_inv: Vec<f64>,
    iov_logdet: f64,
}

impl Omega {
    pub(crate) fn new(omega: &[f64], k: usize, omega_iov: &[f64]) -> Option<Self> {
        if omega_iov.iter().any(|v| !(v.is_finite() && *v > 0.0)) {
            return None;
        }
        let iov_inv = omega_iov.iter().map(|v| 1.0 / v).collect();
        let iov_logdet = omega_iov.iter().map(|v| v.ln()).sum();
        if k == 0 {
            return Some(Omega {
                k,
                inv: Vec::new(),
                logdet: 0.0,
                iov_inv,
                iov_logdet,
            });
        }
        let l = linalg::cholesky(omega, k)?;
        Some(Omega {
            k,
            inv: linalg::cholesky_inverse(&l, k),
            logdet: linalg::cholesky_logdet(&l, k),
            iov_inv,
            iov_logdet,
        })
    }
    /// Number of random effects of subject `s`: η and every occasion's κ.
    pub(crate) fn dim(&self, s: &SubjectData) -> usize {
        self.k + s.occasions.len() * self.iov_inv.len()
    }
}

/// Residual variance at prediction `f` (baseline `base`), as a dual.
fn resid_var(m: &EstimationModel, prop: f64, add: f64, f: Dual, base: Dual) -> Dual {
    let x = match m.residual_on {
        ResidualScale::Total => f,
        ResidualScale::ChangeFromBaseline => f - base,
    };
    match m.error_model {
        ErrorModel::Additive => Dual::cst(add * add),
        ErrorModel::Proportional => (x * prop).sq(),
        ErrorModel::Combined => (x * prop).sq() + add * add,
    }
}

/// Residual variance (mmol/L)² at prediction `f` for a subject with baseline `base`.
pub fn resid_var_at(m: &EstimationModel, p: &PopParams, f: f64, base: f64) -> f64 {
    let (prop, add) = p.sd(m);
    resid_var(m, prop, add, Dual::cst(f), Dual::cst(base)).v
}

/// Individual parameters (duals in η) of subject `s` at `p` and `eta`, with its covariates at
/// its first record.
pub fn dparams_pub(m: &EstimationModel, p: &PopParams, s: &SubjectData, eta: &[f64]) -> DParams {
    dparams(m, p, s, eta)
}

/// A subject's individual parameters at η: one set, or one per stretch of constant covariates.
pub struct SubjectParams {
    /// the parameters at the subject's first record (the only ones without time-varying
    /// covariates)
    pub first: DParams,
    pieces: Option<(Vec<f64>, Vec<DParams>)>,
    nocb: bool,
}

impl SubjectParams {
    /// Predictions (mmol/L) at the observations of `seg` into `out`, and the baseline in force at
    /// each into `bases`.
    pub fn predict(&self, seg: &Segment, out: &mut Vec<Dual>, bases: &mut Vec<Dual>) {
        match &self.pieces {
            None => {
                predict_dual(&self.first, seg, out);
                bases.clear();
                bases.resize(out.len(), self.first.base);
            }
            Some((changes_h, params)) => {
                let pc = Pieces {
                    changes_h,
                    params,
                    nocb: self.nocb,
                };
                predict_dual_pieces(&pc, seg, out, bases);
            }
        }
    }
}

/// Individual parameters of subject `s` at `p` and `eta`, time-varying where its covariates are.
pub fn subject_params(
    m: &EstimationModel,
    p: &PopParams,
    s: &SubjectData,
    eta: &[f64],
) -> SubjectParams {
    SubjectParams {
        first: dparams(m, p, s, eta),
        pieces: s.time_varying.as_ref().map(|tv| {
            let params = tv
                .values
                .iter()
                .map(|c| dparams_at(m, p, s, c, eta))
                .collect();
            (tv.changes_h.clone(), params)
        }),
        nocb: m.covariate_fill == CovariateFill::Nocb,
    }
}

/// Buffers for one subject's predictions: values, and the baseline in force at each.
#[derive(Debug, Default)]
pub struct Buffers {
    pub f: Vec<Dual>,
    pub base: Vec<Dual>,
}

/// −2 ln p(y | η) of subject `s` without the constant: Σ_j [ln R_j + (y_j − f_j)²/R_j] (the data
/// part of L(η), shared by SAEM). Non-finite: outside the model's domain.
pub(crate) fn data_m2ll(
    m: &EstimationModel,
    p: &PopParams,
    s: &SubjectData,
    eta: &[f64],
    buf: &mut Buffers,
) -> f64 {
    let sp = subject_params(m, p, s, eta);
    let (prop, add) = p.sd(m);
    let mut obj = 0.0;
    let mut j = 0;
    for seg in &s.segments {
        sp.predict(seg, &mut buf.f, &mut buf.base);
        for (f, b) in buf.f.iter().zip(&buf.base) {
            let r = resid_var(m, prop, add, Dual::cst(f.v), Dual::cst(b.v)).v;
            let e = s.y[j] - f.v;
            obj += r.ln() + e * e / r;
            j += 1;
        }
    }
    let mut j = 0;
    for seg in &s.censored {
        sp.predict(seg, &mut buf.f, &mut buf.base);
        for (f, b) in buf.f.iter().zip(&buf.base) {
            let r = resid_var(m, prop, add, Dual::cst(f.v), Dual::cst(b.v)).v;
            let (limit, sign) = s.limits[j];
            obj -= 2.0 * ln_norm_cdf(sign * (limit - f.v) / r.sqrt());
            j += 1;
        }
    }
    obj
}

/// ln Φ(x), accurate in both tails (erfc; the asymptotic series below −30).
pub fn ln_norm_cdf(x: f64) -> f64 {
    if x < -30.0 {
        let x2 = x * x;
        // Φ(x) = φ(x)/(−x) · (1 − 1/x² + 3/x⁴ − …)
        -0.5 * x2 - (-x).ln() - 0.5 * (2.0 * std::f64::consts::PI).ln()
            + (-1.0 / x2 + 3.0 / (x2 * x2)).ln_1p()
    } else {
        (0.5 * libm::erfc(-x / std::f64::consts::SQRT_2)).ln()
    }
}

/// λ(x) = φ(x)/Φ(x) = d ln Φ / dx.
pub fn inv_mills(x: f64) -> f64 {
    let ln_phi = -0.5 * x * x - 0.5 * (2.0 * std::f64::consts::PI).ln();
    (ln_phi - ln_norm_cdf(x)).exp()
}

/// ln Φ(z) as a dual.
fn ln_norm_cdf_dual(z: Dual) -> Dual {
    let mut g = z.g;
    let d = inv_mills(z.v);
    for x in g.iter_mut() {
        *x *= d;
    }
    Dual {
        v: ln_norm_cdf(z.v),
        g,
    }
}

/// The M3 variable of a censored observation: z = sign·(limit − f)/√R, and its −2 ln Φ(z).
fn m3_z(m: &EstimationModel, prop: f64, add: f64, f: Dual, base: Dual, lim: (f64, f64)) -> Dual {
    let r = resid_var(m, prop, add, f, base);
    (Dual::cst(lim.0) - f) / r.sqrt() * lim.1
}

/// L(η) and its gradient (exact). Non-finite values mean "outside the model's domain".
fn inner_objective(
    m: &EstimationModel,
    p: &PopParams,
    om: &Omega,
    s: &SubjectData,
    eta: &[f64],
    buf: &mut Buffers,
) -> (f64, [f64; NE]) {
    let sp = subject_params(m, p, s, eta);
    let (prop, add) = p.sd(m);
    let mut obj = Dual::cst(0.0);
    let mut j = 0;
    for seg in &s.segments {
        sp.predict(seg, &mut buf.f, &mut buf.base);
        for (f, b) in buf.f.iter().zip(&buf.base) {
            let r = resid_var(m, prop, add, *f, *b);
            let e = Dual::cst(s.y[j]) - *f;
            obj = obj + r.ln() + e.sq() / r;
            j += 1;
        }
    }
    let mut j = 0;
    for seg in &s.censored {
        sp.predict(seg, &mut buf.f, &mut buf.base);
        for (f, b) in buf.f.iter().zip(&buf.base) {
            let z = m3_z(m, prop, add, *f, *b, s.limits[j]);
            obj = obj - ln_norm_cdf_dual(z) * 2.0;
            j += 1;
        }
    }
    let k = om.k;
    let mut val = obj.v;
    let mut g = obj.g;
    for a in 0..k {
        let row: f64 = (0..k).map(|b| om.inv[a * k + b] * eta[b]).sum();
        val += eta[a] * row;
        g[a] += 2.0 * row;
    }
    let n_iov = om.iov_inv.len();
    for r in k..om.dim(s) {
        let w = om.iov_inv[(r - k) % n_iov];
        val += eta[r] * eta[r] * w;
        g[r] += 2.0 * eta[r] * w;
    }
    (val, g)
}

/// One subject's OFV contribution and its η̂ at `p`; the inner step starts from `warm` (an earlier
/// η̂ of this subject) when L is lower there than at η = 0.
fn subject_ofv(
    m: &EstimationModel,
    p: &PopParams,
    om: &Omega,
    s: &SubjectData,
    warm: Option<&[f64]>,
) -> (f64, Vec<f64>) {
    // η and, with IOV, every occasion's κ
    let k = om.dim(s);
    let mut buf = Buffers::default();
    let zero = vec![0.0; k];
    // the start, and L with its gradient there
    let (start, f0) = match warm {
        Some(w) if w.len() == k && w.iter().all(|v| v.is_finite()) => {
            let at_warm = inner_objective(m, p, om, s, w, &mut buf);
            let at_zero = inner_objective(m, p, om, s, &zero, &mut buf);
            let pick = if at_warm.0 < at_zero.0 {
                (w.to_vec(), at_warm)
            } else {
                (zero, at_zero)
            };
            (pick.0, Some((pick.1 .0, pick.1 .1[..k].to_vec())))
        }
        _ => (zero, None),
    };
    // from a warm start, BFGS starts from the inverse of 2H̃ there (the expected-information
    // Hessian of L): near η̂ it takes a few steps instead of rebuilding the curvature
    let h0 = match warm {
        Some(_) if k > 0 && start.iter().any(|v| *v != 0.0) => {
            let (h, _) = laplace_hessian(m, p, om, s, &start, &mut buf);
            let h2: Vec<f64> = h.iter().map(|v| 2.0 * v).collect();
            linalg::cholesky(&h2, k).map(|l| linalg::cholesky_inverse(&l, k))
        }
        _ => None,
    };
    // L(η̂) as BFGS last evaluated it (the same function at the same point)
    let (eta, l, _) = bfgs_from(
        |e| {
            let (v, g) = inner_objective(m, p, om, s, e, &mut buf);
            (v, g[..k].to_vec())
        },
        &start,
        f0,
        h0,
        200,
        1e-9,
    );
    if !l.is_finite() {
        return (f64::INFINITY, eta);
    }
    if k == 0 {
        return (l, eta);
    }
    let (h, prior_logdet) = laplace_hessian(m, p, om, s, &eta, &mut buf);
    match linalg::cholesky(&h, k) {
        Some(lh) => (l + prior_logdet + linalg::cholesky_logdet(&lh, k), eta),
        None => (f64::INFINITY, eta),
    }
}

/// H̃ = GᵀR⁻¹G + ½ C̃ᵀC̃ + Ω⁻¹ at `eta`, C̃_jk = (∂R_j/∂η_k)/R_j (the interaction term of
/// NONMEM's METHOD=1 INTER; Almquist et al. 2015, eq. 15), and the prior's ln-determinant.
fn laplace_hessian(
    m: &EstimationModel,
    p: &PopParams,
    om: &Omega,
    s: &SubjectData,
    eta: &[f64],
    buf: &mut Buffers,
) -> (Vec<f64>, f64) {
    let k = om.dim(s);
    let sp = subject_params(m, p, s, eta);
    let (prop, add) = p.sd(m);
    let mut h = om.inv.clone();
    let mut prior_logdet = om.logdet;
    if k > om.k {
        // block-diagonal prior precision: Ω⁻¹, then 1/ω²_IOV for each occasion's κ
        h = vec![0.0; k * k];
        for a in 0..om.k {
            for b in 0..om.k {
                h[a * k + b] = om.inv[a * om.k + b];
            }
        }
        let n_iov = om.iov_inv.len();
        for r in om.k..k {
            h[r * k + r] = om.iov_inv[(r - om.k) % n_iov];
        }
        prior_logdet += s.occasions.len() as f64 * om.iov_logdet;
    }
    for seg in &s.segments {
        sp.predict(seg, &mut buf.f, &mut buf.base);
        for (f, b) in buf.f.iter().zip(&buf.base) {
            let r = resid_var(m, prop, add, *f, *b);
            for a in 0..k {
                let ca = r.g[a] / r.v;
                for b in 0..k {
                    h[a * k + b] += f.g[a] * f.g[b] / r.v + 0.5 * ca * r.g[b] / r.v;
                }
            }
        }
    }
    // M3: ∇²(−ln Φ(z)) ≈ λ(z)(z + λ(z)) ∇z∇zᵀ (the second derivatives of z left out, as
    // Gauss–Newton does for the quantified observations)
    let mut j = 0;
    for seg in &s.censored {
        sp.predict(seg, &mut buf.f, &mut buf.base);
        for (f, b) in buf.f.iter().zip(&buf.base) {
            let z = m3_z(m, prop, add, *f, *b, s.limits[j]);
            let lam = inv_mills(z.v);
            let w = lam * (z.v + lam);
            for a in 0..k {
                for b in 0..k {
                    h[a * k + b] += w * z.g[a] * z.g[b];
                }
            }
            j += 1;
        }
    }
    (h, prior_logdet)
}

/// Per-subject OFVs and η̂ (parallel over subjects, in subject order), each inner step from η = 0.
pub fn evaluate(
    m: &EstimationModel,
    p: &PopParams,
    subjects: &[SubjectData],
) -> Option<Vec<(f64, Vec<f64>)>> {
    evaluate_from(m, p, subjects, None)
}

/// As [`evaluate`], each subject's inner step started from its η̂ in `warm` (same order) where
/// that is better than η = 0. Each subject's result depends only on its own data and start, so
/// the result does not depend on the thread count.
pub(crate) fn evaluate_from(
    m: &EstimationModel,
    p: &PopParams,
    subjects: &[SubjectData],
    warm: Option<&[(f64, Vec<f64>)]>,
) -> Option<Vec<(f64, Vec<f64>)>> {
    let om = Omega::new(&p.omega, m.n_eta(), &p.omega_iov)?;
    if p.sigma.iter().any(|s| !(*s > 0.0 && s.is_finite())) {
        return None;
    }
    Some(
        subjects
            .par_iter()
            .enumerate()
            .map(|(i, s)| {
                let w = warm.and_then(|w| w.get(i)).map(|x| x.1.as_slice());
                subject_ofv(m, p, &om, s, w)
            })
            .collect(),
    )
}

/// Per subject: OFV contribution and η̂.
pub type PerSubject = Vec<(f64, Vec<f64>)>;

fn total(v: &[(f64, Vec<f64>)]) -> f64 {
    v.iter().map(|x| x.0).sum()
}

/// Per-subject gradients of the OFV along `dirs` at `p`, each at its η̂ in `per` (same order as
/// `subjects`); None where one is not available (see [`grad::subject_gradient`]).
pub(crate) fn gradients_at(
    m: &EstimationModel,
    p: &PopParams,
    subjects: &[SubjectData],
    per: &[(f64, Vec<f64>)],
    dirs: &[Dir],
) -> Option<Vec<Vec<f64>>> {
    let om = Omega::new(&p.omega, m.n_eta(), &p.omega_iov)?;
    let g: Vec<Option<Vec<f64>>> = subjects
        .par_iter()
        .zip(per)
        .map(|(s, (o, eta))| {
            if o.is_finite() {
                grad::subject_gradient(m, p, &om, s, eta, dirs)
            } else {
                None
            }
        })
        .collect();
    g.into_iter().collect()
}

/// Σ over subjects, in subject order.
fn sum_gradients(g: &[Vec<f64>], n: usize) -> Vec<f64> {
    let mut out = vec![0.0; n];
    for gi in g {
        for (o, x) in out.iter_mut().zip(gi) {
            *o += x;
        }
    }
    out
}

/// The optimiser's coordinates of `model`'s initial estimates (free θ transformed by logit/log,
/// Ω by its log-Cholesky factor, ω²_IOV and σ by log), as [`objective_and_gradient`] takes them.
pub fn initial_coordinates(model: &EstimationModel) -> Vec<f64> {
    let init = PopParams::initial(model);
    Codec::new(model, init.clone()).encode(&init)
}

/// The FOCE-I objective and its exact gradient at `x`: the optimiser's coordinates
/// ([`initial_coordinates`]) or, with `natural`, the covariance step's natural parameters (free θ,
/// Ω variances then covariances, ω²_IOV, σ); the fixed θ at their initial values. Every inner
/// step starts from η = 0. None outside the model's domain.
pub fn objective_and_gradient(
    model: &EstimationModel,
    subjects: &[SubjectData],
    x: &[f64],
    natural: bool,
) -> Option<(f64, Vec<f64>)> {
    let codec = Codec::new(model, PopParams::initial(model));
    let (p, dirs) = if natural {
        (codec.to_params(x), codec.dirs_natural())
    } else {
        (codec.decode(x), codec.dirs_u(x))
    };
    let per = evaluate(model, &p, subjects)?;
    let g = gradients_at(model, &p, subjects, &per, &dirs)?;
    Some((total(&per), sum_gradients(&g, dirs.len())))
}

/// Maps between transformed (optimiser) and natural parameters.
#[derive(Clone)]
struct Codec<'a> {
    m: &'a EstimationModel,
    fixed: PopParams,
    /// per σ (in `sigma_names` order): None, the coordinate is ln σ; Some(σ₀), it is v with
    /// σ = σ₀|v| (the outer BFGS switches a σ that heads for its bound 0 to this scale, see
    /// [`bound_ahead`])
    sigma_linear: Vec<Option<f64>>,
}

impl<'a> Codec<'a> {
    /// Every σ on the log scale; the θ the optimiser does not move at their values in `fixed`.
    fn new(m: &'a EstimationModel, fixed: PopParams) -> Self {
        let sigma_linear = vec![None; fixed.sigma.len()];
        Codec {
            m,
            fixed,
            sigma_linear,
        }
    }
}

fn logit(x: f64) -> f64 {
    (x / (1.0 - x)).ln()
}
fn expit(u: f64) -> f64 {
    1.0 / (1.0 + (-u).exp())
}

impl Codec<'_> {
    fn free_thetas(&self) -> Vec<usize> {
        (0..self.m.thetas.len())
            .filter(|&i| !self.m.thetas[i].fixed)
            .collect()
    }
    fn encode(&self, p: &PopParams) -> Vec<f64> {
        let mut u = Vec::new();
        for i in self.free_thetas() {
            let t = &self.m.thetas[i];
            let x = p.theta[i];
            u.push(match (t.lower.is_finite(), t.upper.is_finite()) {
                (true, true) => logit((x - t.lower) / (t.upper - t.lower)),
                (true, false) => (x - t.lower).ln(),
                (false, true) => (t.upper - x).ln(),
                (false, false) => x,
            });
        }
        let k = self.m.n_eta();
        if k > 0 {
            let l = linalg::cholesky(&p.omega, k).expect("Ω positive definite");
            for i in 0..k {
                u.push(l[i * k + i].ln());
                if self.m.omega_block {
                    for j in 0..i {
                        u.push(l[i * k + j]);
                    }
                }
            }
        }
        for v in &p.omega_iov {
            u.push(v.ln());
        }
        for (s, lin) in p.sigma.iter().zip(&self.sigma_linear) {
            u.push(match lin {
                Some(s0) => s / s0,
                None => s.ln(),
            });
        }
        u
    }
    fn decode(&self, u: &[f64]) -> PopParams {
        let mut p = self.fixed.clone();
        let mut it = u.iter();
        for i in self.free_thetas() {
            let t = &self.m.thetas[i];
            let v = *it.next().expect("length");
            p.theta[i] = match (t.lower.is_finite(), t.upper.is_finite()) {
                (true, true) => t.lower + (t.upper - t.lower) * expit(v),
                (true, false) => t.lower + v.exp(),
                (false, true) => t.upper - v.exp(),
                (false, false) => v,
            };
        }
        let k = self.m.n_eta();
        if k > 0 {
            let mut l = vec![0.0; k * k];
            for i in 0..k {
                l[i * k + i] = it.next().expect("length").exp();
                if self.m.omega_block {
                    for j in 0..i {
                        l[i * k + j] = *it.next().expect("length");
                    }
                }
            }
            for i in 0..k {
                for j in 0..k {
                    p.omega[i * k + j] = (0..k).map(|a| l[i * k + a] * l[j * k + a]).sum();
                }
            }
        }
        for v in p.omega_iov.iter_mut() {
            *v = it.next().expect("length").exp();
        }
        for (s, lin) in p.sigma.iter_mut().zip(&self.sigma_linear) {
            let v = *it.next().expect("length");
            *s = match lin {
                Some(s0) => s0 * v.abs(),
                None => v.exp(),
            };
        }
        p
    }
    /// The derivative of the population parameters along each optimiser coordinate at `u`.
    fn dirs_u(&self, u: &[f64]) -> Vec<Dir> {
        let mut dirs = Vec::with_capacity(u.len());
        let mut it = u.iter();
        for i in self.free_thetas() {
            let t = &self.m.thetas[i];
            let v = *it.next().expect("length");
            let d = match (t.lower.is_finite(), t.upper.is_finite()) {
                (true, true) => {
                    let e = expit(v);
                    (t.upper - t.lower) * e * (1.0 - e)
                }
                (true, false) => v.exp(),
                (false, true) => -v.exp(),
                (false, false) => 1.0,
            };
            dirs.push(Dir::Theta { i, d });
        }
        let k = self.m.n_eta();
        if k > 0 {
            // Ω = L Lᵀ, L_ii = e^u, L_ij = u
            let p = self.decode(u);
            let l = linalg::cholesky(&p.omega, k).unwrap_or_else(|| vec![0.0; k * k]);
            let along = |i: usize, j: usize, dl: f64| {
                // dΩ = E_ij Lᵀ dl + L E_ji dl
                let mut d = vec![0.0; k * k];
                for c in 0..k {
                    d[i * k + c] += dl * l[c * k + j];
                    d[c * k + i] += dl * l[c * k + j];
                }
                Dir::Omega { d }
            };
            for i in 0..k {
                dirs.push(along(i, i, l[i * k + i]));
                if self.m.omega_block {
                    for j in 0..i {
                        dirs.push(along(i, j, 1.0));
                    }
                }
            }
        }
        let n_fixed = dirs.len();
        for (j, v) in u[n_fixed..]
            .iter()
            .take(self.fixed.omega_iov.len())
            .enumerate()
        {
            dirs.push(Dir::OmegaIov { j, d: v.exp() });
        }
        let n_fixed = dirs.len();
        for (j, (v, lin)) in u[n_fixed..].iter().zip(&self.sigma_linear).enumerate() {
            let d = match lin {
                Some(s0) if *v < 0.0 => -s0,
                Some(s0) => *s0,
                None => v.exp(),
            };
            dirs.push(Dir::Sigma { j, d });
        }
        dirs
    }
    /// The natural parameters' directions (in [`Codec::natural`] order).
    fn dirs_natural(&self) -> Vec<Dir> {
        let mut dirs = Vec::new();
        for i in self.free_thetas() {
            dirs.push(Dir::Theta { i, d: 1.0 });
        }
        let k = self.m.n_eta();
        let e = |i: usize, j: usize| {
            let mut d = vec![0.0; k * k];
            d[i * k + j] = 1.0;
            d[j * k + i] = 1.0;
            Dir::Omega { d }
        };
        for i in 0..k {
            dirs.push(e(i, i));
        }
        if self.m.omega_block {
            for i in 0..k {
                for j in 0..i {
                    dirs.push(e(i, j));
                }
            }
        }
        for j in 0..self.fixed.omega_iov.len() {
            dirs.push(Dir::OmegaIov { j, d: 1.0 });
        }
        for j in 0..self.fixed.sigma.len() {
            dirs.push(Dir::Sigma { j, d: 1.0 });
        }
        dirs
    }
    /// Natural parameters for the covariance step: free θ, Ω (diagonal, then lower
    /// off-diagonal if block), σ; with their report names.
    fn natural(&self, p: &PopParams) -> (Vec<f64>, Vec<String>) {
        let mut v = Vec::new();
        let mut n = Vec::new();
        for i in self.free_thetas() {
            v.push(p.theta[i]);
            n.push(format!("theta.{}", self.m.thetas[i].name));
        }
        let k = self.m.n_eta();
        for i in 0..k {
            v.push(p.omega[i * k + i]);
            n.push(format!("omega.{}", PARAMS[self.m.eta_params[i]]));
        }
        if self.m.omega_block {
            for i in 0..k {
                for j in 0..i {
                    v.push(p.omega[i * k + j]);
                    n.push(format!(
                        "omega.{},{}",
                        PARAMS[self.m.eta_params[j]], PARAMS[self.m.eta_params[i]]
                    ));
                }
            }
        }
        for (x, &i) in p.omega_iov.iter().zip(&self.m.iov_params) {
            v.push(*x);
            n.push(format!("omega_iov.{}", PARAMS[i]));
        }
        for (s, name) in p.sigma.iter().zip(self.m.sigma_names()) {
            v.push(*s);
            n.push(format!("sigma.{name}"));
        }
        (v, n)
    }
    fn to_params(&self, v: &[f64]) -> PopParams {
        let mut p = self.fixed.clone();
        let mut it = v.iter();
        for i in self.free_thetas() {
            p.theta[i] = *it.next().expect("length");
        }
        let k = self.m.n_eta();
        for i in 0..k {
            p.omega[i * k + i] = *it.next().expect("length");
        }
        if self.m.omega_block {
            for i in 0..k {
                for j in 0..i {
                    let x = *it.next().expect("length");
                    p.omega[i * k + j] = x;
                    p.omega[j * k + i] = x;
                }
            }
        }
        for v in p.omega_iov.iter_mut() {
            *v = *it.next().expect("length");
        }
        for s in p.sigma.iter_mut() {
            *s = *it.next().expect("length");
        }
        p
    }
}

/// What the caller sees while a fit runs.
#[derive(Debug, Clone, Copy)]
pub enum Progress {
    Outer {
        evaluations: u64,
        best_ofv: f64,
    },
    Restart {
        round: usize,
        ofv: f64,
    },
    Covariance {
        done: usize,
        total: usize,
    },
    /// SAEM iteration (1-based) of `total`; `m2ll`: Σ −2 ln p(y_i | φ_i) of the current samples
    Saem {
        iteration: usize,
        total: usize,
        burn_in: bool,
        m2ll: f64,
    },
}

/// The outer optimiser of FOCE-I.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Outer {
    /// BFGS on the exact gradient ([`crate::grad`]); Nelder–Mead takes over where the gradient
    /// is not available or BFGS stops short of a stationary point
    #[default]
    Bfgs,
    /// derivative-free Nelder–Mead only (restarted from its best point)
    NelderMead,
}

#[derive(Debug, Clone)]
pub struct FitSettings {
    /// Nelder–Mead iterations per round; BFGS iterations (at most 500)
    pub max_iterations: u64,
    /// rounds (restarts from the best point)
    pub max_rounds: usize,
    pub covariance: bool,
    pub outer: Outer,
}

impl Default for FitSettings {
    fn default() -> Self {
        FitSettings {
            max_iterations: 4000,
            max_rounds: 4,
            covariance: true,
            outer: Outer::Bfgs,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Individual {
    pub id: String,
    pub eta: BTreeMap<String, f64>,
    /// individual parameters at η̂ (typical value × covariates at the first record × exp(η̂))
    pub parameters: BTreeMap<String, f64>,
    /// −2 ln-likelihood contribution (without its share of N·ln 2π)
    pub ofv: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct ModelRef {
    pub id: String,
    pub name: String,
    pub source: String,
    pub evidence: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Covariance {
    /// "sandwich" (R⁻¹SR⁻¹)
    pub kind: &'static str,
    pub names: Vec<String>,
    pub sandwich: Vec<Vec<f64>>,
    pub r_inverse: Vec<Vec<f64>>,
}

/// A FOCE-I fit. The first eight keys are the JSON contract.
#[derive(Debug, Clone, Serialize)]
pub struct FitResult {
    pub ofv: f64,
    pub method: &'static str,
    pub converged: bool,
    pub theta: BTreeMap<String, f64>,
    /// variances (diagonal, by parameter) and covariances ("a,b")
    pub omega: BTreeMap<String, f64>,
    /// between-occasion variances ω²_IOV by parameter (absent without IOV)
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub omega_iov: BTreeMap<String, f64>,
    /// residual SDs: proportional (fraction), additive_mmol_l
    pub sigma: BTreeMap<String, f64>,
    /// keyed "theta.X", "omega.X", "sigma.X"; from the sandwich covariance; empty when the
    /// covariance step failed
    pub rse_percent: BTreeMap<String, f64>,
    pub individuals: Vec<Individual>,
    pub shrinkage_percent: BTreeMap<String, f64>,
    pub model: ModelRef,
    pub n_subjects: usize,
    pub n_observations: usize,
    pub objective_evaluations: u64,
    /// exact-gradient evaluations of the outer step (0 with Nelder–Mead)
    pub gradient_evaluations: u64,
    pub ofv_note: &'static str,
    pub covariance: Option<Covariance>,
    pub notes: Vec<String>,
}

struct OuterCost<'a> {
    m: &'a EstimationModel,
    codec: &'a Codec<'a>,
    subjects: &'a [SubjectData],
    evals: Cell<u64>,
    best: Cell<f64>,
    /// η̂ at the best point so far: the inner steps' warm start
    warm: &'a RefCell<Option<PerSubject>>,
    progress: &'a (dyn Fn(Progress) + Sync),
}

impl CostFunction for OuterCost<'_> {
    type Param = Vec<f64>;
    type Output = f64;
    fn cost(&self, u: &Vec<f64>) -> Result<f64, ArgminError> {
        let p = self.codec.decode(u);
        let per = evaluate_from(self.m, &p, self.subjects, self.warm.borrow().as_deref());
        let ofv = per
            .as_ref()
            .map(|v| total(v))
            .filter(|v| v.is_finite())
            .unwrap_or(1e20);
        let n = self.evals.get() + 1;
        self.evals.set(n);
        if ofv < self.best.get() {
            self.best.set(ofv);
            *self.warm.borrow_mut() = per;
        }
        if n.is_multiple_of(100) {
            (self.progress)(Progress::Outer {
                evaluations: n,
                best_ofv: self.best.get(),
            });
        }
        Ok(ofv)
    }
}

/// What [`outer_bfgs`] ends with.
struct OuterResult {
    u: Vec<f64>,
    /// None: the gradient was not available at the start (Nelder–Mead takes over)
    ofv: Option<f64>,
    per: Option<PerSubject>,
    converged: bool,
    evals: u64,
    grads: u64,
}

/// BFGS on the optimiser's coordinates with the exact gradient: inverse-Hessian update from the
/// inverse of the BHHH matrix ½ Σᵢ ∇OFVᵢ∇OFVᵢᵀ at the start (the per-subject gradients come
/// free; it halves the iterations against a scaled identity), Armijo backtracking on the objective alone (the gradient only at the
/// accepted point, from its η̂), steps of at most 1 in any coordinate. Every inner step starts
/// from the η̂ of the current point. A σ whose log coordinate heads for its bound 0
/// ([`bound_ahead`]) continues on the linear scale σ = σ₀|v| (σ₀ its value there, v = 1), on which
/// the bound is an ordinary minimum at v = 0 (the OFV is even in σ) instead of ln σ → −∞, where
/// each step shrinks σ² by a factor 2-3 at most. Converged: every |∂OFV/∂u| < 1e-3, or no further
/// decrease possible with every |∂OFV/∂u| < 0.05. The returned `u` is in `codec`'s coordinates.
fn outer_bfgs(
    m: &EstimationModel,
    codec: &Codec,
    subjects: &[SubjectData],
    u0: Vec<f64>,
    at_u0: Option<PerSubject>,
    max_iter: usize,
    progress: &(dyn Fn(Progress) + Sync),
) -> OuterResult {
    let n = u0.len();
    let mut evals = 0u64;
    let mut grads = 0u64;
    // the coordinates as the iterations go (σ switched to the linear scale)
    let mut moving = codec.clone();
    let value = |c: &Codec, u: &[f64], warm: Option<&PerSubject>, evals: &mut u64| {
        *evals += 1;
        let p = c.decode(u);
        let per = evaluate_from(m, &p, subjects, warm.map(|w| w.as_slice()))?;
        let f = total(&per);
        f.is_finite().then_some((f, per))
    };
    let gradient = |c: &Codec, u: &[f64], per: &PerSubject, grads: &mut u64| {
        *grads += 1;
        let p = c.decode(u);
        let g = gradients_at(m, &p, subjects, per, &c.dirs_u(u))?;
        Some((sum_gradients(&g, n), g))
    };
    let fail = |u: Vec<f64>, evals, grads| OuterResult {
        u,
        ofv: None,
        per: None,
        converged: false,
        evals,
        grads,
    };
    let mut x = u0;
    // the caller's evaluation at the start (the initial estimates) when it has one
    let first_eval = match at_u0 {
        Some(per) => Some((total(&per), per)).filter(|v| v.0.is_finite()),
        None => value(&moving, &x, None, &mut evals),
    };
    let Some((mut fx, mut per)) = first_eval else {
        return fail(x, evals, grads);
    };
    let Some((mut g, gi)) = gradient(&moving, &x, &per, &mut grads) else {
        return fail(x, evals, grads);
    };
    let (mut h, mut first) = initial_inverse_hessian(&gi, n);
    let first_sigma = n - moving.sigma_linear.len();
    let mut converged = false;
    for it in 0..max_iter {
        if gmax(&g) < 1e-3 {
            converged = true;
            break;
        }
        let (d, slope, reset) = descent_direction(&mut h, &g, n);
        // after a reset to the identity the next update rescales it
        first |= reset;
        // steps of at most 1 in any coordinate
        let dmax = gmax(&d);
        let first_step = if dmax > 1.0 { 1.0 / dmax } else { 1.0 };
        let accepted = armijo(&x, &d, fx, slope, first_step, 40, |xn| {
            value(&moving, xn, Some(&per), &mut evals)
        });
        let Some((xn, fn_, pn)) = accepted else {
            converged = gmax(&g) < 0.05;
            break;
        };
        let Some((gn, _)) = gradient(&moving, &xn, &pn, &mut grads) else {
            // the gradient failed here: stop at the last point that has one
            break;
        };
        let sv: Vec<f64> = xn.iter().zip(&x).map(|(a, b)| a - b).collect();
        let yv: Vec<f64> = gn.iter().zip(&g).map(|(a, b)| a - b).collect();
        let sy: f64 = sv.iter().zip(&yv).map(|(a, b)| a * b).sum();
        let df = fx - fn_;
        let (pold, pnew) = (moving.decode(&x), moving.decode(&xn));
        x = xn;
        fx = fn_;
        per = pn;
        if sy > 1e-12 * sv.iter().map(|v| v * v).sum::<f64>().sqrt() {
            bfgs_update(&mut h, n, &sv, &yv, sy, &mut first);
        }
        // a σ heading for its bound 0 goes on the linear scale from here: v = σ/σ₀ = 1, where
        // dσ/dv = σ₀ = dσ/d ln σ, so the gradient (and BFGS's matrix, to first order) stay
        for j in 0..moving.sigma_linear.len() {
            let c = first_sigma + j;
            if moving.sigma_linear[j].is_none()
                && bound_ahead(pold.sigma[j], g[c], pnew.sigma[j], gn[c])
            {
                moving.sigma_linear[j] = Some(pnew.sigma[j]);
                x[c] = 1.0;
            }
        }
        g = gn;
        if (it + 1) % 10 == 0 {
            (progress)(Progress::Outer {
                evaluations: evals,
                best_ofv: fx,
            });
        }
        if df.abs() <= 1e-12 * (1.0 + fx.abs()) && gmax(&g) < 0.05 {
            converged = true;
            break;
        }
    }
    if moving.sigma_linear.iter().any(|l| l.is_some()) {
        x = codec.encode(&moving.decode(&x));
    }
    OuterResult {
        u: x,
        ofv: Some(fx),
        per: Some(per),
        converged,
        evals,
        grads,
    }
}

/// Whether a σ on the log scale heads for its bound 0: σ fell from `s_old` to `s_new` with the
/// OFV still falling towards smaller σ at both points (∂OFV/∂ln σ = `g_old`, `g_new` > 0), the
/// secant model of ∂OFV/∂σ² through the two points is still > 0 at σ = 0 (a Newton step in σ²
/// would cross the bound), and by that model σ = 0 would lower the OFV by less than 1: σ is
/// practically at its bound, not far above an optimum where the OFV is concave in σ². (The OFV
/// depends on σ only through σ²; at a bound where ∂OFV/∂σ² = c > 0, ln σ → −∞ with
/// ∂OFV/∂ln σ = 2cσ².)
fn bound_ahead(s_old: f64, g_old: f64, s_new: f64, g_new: f64) -> bool {
    if !(g_old > 0.0 && g_new > 0.0 && s_new < s_old) {
        return false;
    }
    let (q_old, q_new) = (s_old * s_old, s_new * s_new);
    // ∂OFV/∂σ² at both points, and its slope in σ² between them
    let (d_old, d_new) = (g_old / (2.0 * q_old), g_new / (2.0 * q_new));
    let slope = (d_new - d_old) / (q_new - q_old);
    // the secant at σ² = 0, and the OFV from σ² = q_new down to 0 under it
    let d_zero = d_new - slope * q_new;
    let gain = q_new * (d_new - 0.5 * slope * q_new);
    d_zero > 0.0 && gain < 1.0
}

/// Largest absolute element of `g`.
fn gmax(g: &[f64]) -> f64 {
    g.iter().fold(0.0f64, |a, v| a.max(v.abs()))
}

/// The inverse of the BHHH approximation ½ Σᵢ ∇OFVᵢ∇OFVᵢᵀ of the Hessian (the outer-product
/// form of the information) from the per-subject gradients `gi`, the diagonal lifted by 1e-6 of
/// its largest element; `None` when it is not positive definite.
fn bhhh_inverse(gi: &[Vec<f64>], n: usize) -> Option<Vec<f64>> {
    let mut b = vec![0.0; n * n];
    for g in gi {
        for a in 0..n {
            for c in 0..n {
                b[a * n + c] += 0.5 * g[a] * g[c];
            }
        }
    }
    let dmax = (0..n).map(|a| b[a * n + a]).fold(0.0f64, f64::max);
    for a in 0..n {
        b[a * n + a] += 1e-6 * dmax;
    }
    linalg::cholesky(&b, n).map(|l| linalg::cholesky_inverse(&l, n))
}

/// The starting inverse-Hessian approximation: the BHHH inverse, or the identity (then `first`,
/// so that the first update rescales it) when that fails.
fn initial_inverse_hessian(gi: &[Vec<f64>], n: usize) -> (Vec<f64>, bool) {
    match bhhh_inverse(gi, n) {
        Some(h) => (h, false),
        None => (identity(n), true),
    }
}

/// Fit `model` to `ds` by FOCE-I.
pub fn fit(
    model: &EstimationModel,
    ds: &Dataset,
    settings: &FitSettings,
    progress: &(dyn Fn(Progress) + Sync),
) -> Result<FitResult, MgivError> {
    let (subjects, notes) = prepare(model, ds)?;
    let init = PopParams::initial(model);
    let codec = Codec::new(model, init.clone());
    let start_per = evaluate(model, &init, &subjects);
    let start = start_per
        .as_ref()
        .map(|v| total(v))
        .filter(|v| v.is_finite())
        .ok_or_else(|| {
            MgivError::Numerical(
                "the objective is not finite at the initial estimates: check the initial values against the data".into(),
            )
        })?;
    (progress)(Progress::Restart {
        round: 0,
        ofv: start,
    });
    let mut u = codec.encode(&init);
    let mut last = start;
    let mut evals = 0;
    let mut grads = 0;
    let mut converged = false;
    let warm = RefCell::new(None);
    let mut rounds_done = 0;
    if settings.outer == Outer::Bfgs {
        let r = outer_bfgs(
            model,
            &codec,
            &subjects,
            u.clone(),
            start_per,
            settings.max_iterations.min(500) as usize,
            progress,
        );
        evals += r.evals;
        grads += r.grads;
        if let Some(ofv) = r.ofv {
            u = r.u;
            last = ofv;
            converged = r.converged;
            rounds_done = 1;
            (progress)(Progress::Restart { round: 1, ofv });
            *warm.borrow_mut() = r.per;
        }
    }
    for round in rounds_done + 1..=settings.max_rounds {
        if converged {
            break;
        }
        let cost = OuterCost {
            m: model,
            codec: &codec,
            subjects: &subjects,
            evals: Cell::new(0),
            best: Cell::new(f64::INFINITY),
            warm: &warm,
            progress,
        };
        let (best_u, best, by_tolerance, round_evals) =
            nelder_mead_round(cost, &u, settings.max_iterations)?;
        evals += round_evals;
        u = best_u;
        (progress)(Progress::Restart { round, ofv: best });
        if last - best < 1e-4 && by_tolerance {
            converged = true;
            break;
        }
        last = best;
    }
    let est = codec.decode(&u);
    finish(
        model,
        est,
        &subjects,
        notes,
        settings.covariance,
        progress,
        Finish {
            method: "focei",
            converged,
            evaluations: evals,
            gradients: grads,
            ofv_note:
                "-2 log-likelihood (FOCE-I) without the constant N·ln(2π), as NONMEM reports it",
        },
    )
}

/// One Nelder–Mead round of the outer optimisation from `u` (initial simplex: `u` and `u` + 0.2
/// in each coordinate), at most `max_iter` iterations. Returns the best parameters, their
/// objective, whether the round stopped by its tolerance, and the number of evaluations.
fn nelder_mead_round(
    cost: OuterCost<'_>,
    u: &[f64],
    max_iter: u64,
) -> Result<(Vec<f64>, f64, bool, u64), MgivError> {
    let mut simplex = vec![u.to_vec()];
    for i in 0..u.len() {
        let mut x = u.to_vec();
        x[i] += 0.2;
        simplex.push(x);
    }
    let solver = NelderMead::new(simplex)
        .with_sd_tolerance(1e-7)
        .map_err(|e| MgivError::Numerical(e.to_string()))?;
    let res = Executor::new(cost, solver)
        .configure(|s| s.max_iters(max_iter))
        .run()
        .map_err(|e| MgivError::Numerical(format!("outer optimisation failed: {e}")))?;
    let state = res.state();
    let evals = res
        .problem
        .problem
        .as_ref()
        .map(|c| c.evals.get())
        .unwrap_or(0);
    let best = state.get_best_cost();
    let u = state
        .get_best_param()
        .cloned()
        .ok_or_else(|| MgivError::Numerical("outer optimisation found no parameters".into()))?;
    let by_tolerance = matches!(
        state.get_termination_status(),
        TerminationStatus::Terminated(TerminationReason::SolverConverged)
    );
    Ok((u, best, by_tolerance, evals))
}

/// How an estimation ended, for [`finish`].
pub(crate) struct Finish {
    pub method: &'static str,
    pub converged: bool,
    pub evaluations: u64,
    pub gradients: u64,
    pub ofv_note: &'static str,
}

/// From population estimates to a [`FitResult`]: the FOCE-I objective with re-optimised η̂,
/// the covariance step, EBEs and shrinkage (shared by FOCE-I and SAEM).
pub(crate) fn finish(
    model: &EstimationModel,
    est: PopParams,
    subjects: &[SubjectData],
    mut notes: Vec<String>,
    covariance_step_on: bool,
    progress: &(dyn Fn(Progress) + Sync),
    how: Finish,
) -> Result<FitResult, MgivError> {
    let codec = Codec::new(model, est.clone());
    let n_obs: usize = subjects.iter().map(|s| s.y.len()).sum();
    let per = evaluate(model, &est, subjects)
        .ok_or_else(|| MgivError::Numerical("Ω or σ not valid at the estimates".into()))?;
    let ofv = total(&per);

    let (rse, covariance) = if covariance_step_on {
        rse_and_covariance(model, &codec, subjects, &est, &per, &mut notes, progress)
    } else {
        (BTreeMap::new(), None)
    };
    let (theta, omega, sigma) = named_estimates(model, &est);
    let omega_iov = model
        .iov_params
        .iter()
        .zip(&est.omega_iov)
        .map(|(&i, v)| (PARAMS[i].to_string(), *v))
        .collect();
    let individuals = individuals(model, &est, subjects, &per);
    let shrinkage = shrinkage(model, &est, &per);
    Ok(FitResult {
        ofv,
        method: how.method,
        converged: how.converged,
        theta,
        omega,
        omega_iov,
        sigma,
        rse_percent: rse,
        individuals,
        shrinkage_percent: shrinkage,
        model: ModelRef {
            id: model.id.clone(),
            name: model.name.clone(),
            source: model.source.clone(),
            evidence: model.evidence.clone(),
        },
        n_subjects: subjects.len(),
        n_observations: n_obs,
        objective_evaluations: how.evaluations,
        gradient_evaluations: how.gradients,
        ofv_note: how.ofv_note,
        covariance,
        notes,
    })
}

/// The covariance step at `est` (`per`: the per-subject OFVs and η̂ there, every inner step from
/// 0): RSE % by report name and the sandwich covariance (a note and nothing when R is not
/// positive definite).
fn rse_and_covariance(
    model: &EstimationModel,
    codec: &Codec,
    subjects: &[SubjectData],
    est: &PopParams,
    per: &[(f64, Vec<f64>)],
    notes: &mut Vec<String>,
    progress: &(dyn Fn(Progress) + Sync),
) -> (BTreeMap<String, f64>, Option<Covariance>) {
    let (phi, names) = codec.natural(est);
    let mut rse = BTreeMap::new();
    let step = covariance_step_exact(model, codec, subjects, &phi, per, progress)
        .or_else(|| covariance_step(model, codec, subjects, &phi, progress));
    match step {
        Some((sand, rinv)) => {
            for (i, n) in names.iter().enumerate() {
                rse.insert(n.clone(), 100.0 * sand[i][i].max(0.0).sqrt() / phi[i].abs());
            }
            let covariance = Covariance {
                kind: "sandwich",
                names,
                sandwich: sand,
                r_inverse: rinv,
            };
            (rse, Some(covariance))
        }
        None => {
            notes.push(
                "covariance step failed: R is not positive definite at the estimates (no RSE)"
                    .into(),
            );
            (rse, None)
        }
    }
}

type Named = BTreeMap<String, f64>;

/// θ by name, Ω (variances by parameter, covariances "a,b") and σ by name.
fn named_estimates(model: &EstimationModel, est: &PopParams) -> (Named, Named, Named) {
    let k = model.n_eta();
    let mut theta = BTreeMap::new();
    for (t, v) in model.thetas.iter().zip(&est.theta) {
        theta.insert(t.name.clone(), *v);
    }
    let mut omega = BTreeMap::new();
    for i in 0..k {
        omega.insert(
            PARAMS[model.eta_params[i]].to_string(),
            est.omega[i * k + i],
        );
        if model.omega_block {
            for j in 0..i {
                omega.insert(
                    format!(
                        "{},{}",
                        PARAMS[model.eta_params[j]], PARAMS[model.eta_params[i]]
                    ),
                    est.omega[i * k + j],
                );
            }
        }
    }
    let mut sigma = BTreeMap::new();
    for (n, v) in model.sigma_names().iter().zip(&est.sigma) {
        sigma.insert(n.to_string(), *v);
    }
    (theta, omega, sigma)
}

/// EBEs, individual parameters and OFV contributions, per subject.
fn individuals(
    model: &EstimationModel,
    est: &PopParams,
    subjects: &[SubjectData],
    per: &[(f64, Vec<f64>)],
) -> Vec<Individual> {
    let k = model.n_eta();
    subjects
        .iter()
        .zip(per)
        .map(|(s, (o, eta))| {
            let dp = dparams(model, est, s, eta);
            let mut parameters = BTreeMap::new();
            for (name, d) in PARAMS.iter().zip([dp.cl, dp.v1, dp.q, dp.v2, dp.base]) {
                if model.param_theta[PARAMS.iter().position(|p| p == name).unwrap_or(0)].is_some() {
                    parameters.insert(name.to_string(), d.v);
                }
            }
            Individual {
                id: s.id.clone(),
                eta: (0..k)
                    .map(|i| (PARAMS[model.eta_params[i]].to_string(), eta[i]))
                    .collect(),
                parameters,
                ofv: *o,
            }
        })
        .collect()
}

/// η-shrinkage %, 1 − SD(η̂)/ω, by parameter.
fn shrinkage(model: &EstimationModel, est: &PopParams, per: &[(f64, Vec<f64>)]) -> Named {
    let k = model.n_eta();
    let mut shrinkage = BTreeMap::new();
    let n = per.len() as f64;
    for i in 0..k {
        let mean: f64 = per.iter().map(|x| x.1[i]).sum::<f64>() / n;
        let var: f64 = per.iter().map(|x| (x.1[i] - mean).powi(2)).sum::<f64>() / n;
        shrinkage.insert(
            PARAMS[model.eta_params[i]].to_string(),
            100.0 * (1.0 - (var / est.omega[i * k + i]).sqrt()),
        );
    }
    shrinkage
}

type Matrix = Vec<Vec<f64>>;

/// The covariance step on the exact gradient: S = Σ_i ¼ ∇OFV_i ∇OFV_iᵀ from the per-subject
/// exact gradients at the estimates, R = ½ Hessian of the OFV by central differences of the exact
/// gradient (η̂ re-optimised at each point, symmetrised): 1 + 2n objective and gradient
/// evaluations. None when a gradient is not available or R is not positive definite.
fn covariance_step_exact(
    m: &EstimationModel,
    codec: &Codec,
    subjects: &[SubjectData],
    phi: &[f64],
    per0: &[(f64, Vec<f64>)],
    progress: &(dyn Fn(Progress) + Sync),
) -> Option<(Matrix, Matrix)> {
    let n = phi.len();
    let dirs = codec.dirs_natural();
    let h: Vec<f64> = phi.iter().map(|v| 1e-3 * v.abs().max(1e-3)).collect();
    let p0 = codec.to_params(phi);
    if !total(per0).is_finite() {
        return None;
    }
    // The OFV depends on each σ only through σ², so it is even in σ: a point with σ_j < 0 (a σ
    // at its bound 0, less than one step from it) is evaluated at |σ_j|, where the gradient's
    // σ_j component has the opposite sign and the others are the same.
    let first_sigma = n - p0.sigma.len();
    let eval = |x: &[f64]| -> Option<Vec<Vec<f64>>> {
        let mirrored: Vec<usize> = (first_sigma..n).filter(|&j| x[j] < 0.0).collect();
        let mut xm = x.to_vec();
        for &j in &mirrored {
            xm[j] = -xm[j];
        }
        let p = codec.to_params(&xm);
        let per = evaluate_from(m, &p, subjects, Some(per0))?;
        if !total(&per).is_finite() {
            return None;
        }
        let mut g = gradients_at(m, &p, subjects, &per, &dirs)?;
        for gi in g.iter_mut() {
            for &j in &mirrored {
                gi[j] = -gi[j];
            }
        }
        Some(g)
    };
    let total_evals = 1 + 2 * n;
    let g0 = gradients_at(m, &p0, subjects, per0, &dirs)?;
    progress(Progress::Covariance {
        done: 1,
        total: total_evals,
    });
    let mut hess = vec![0.0; n * n];
    for j in 0..n {
        let mut x = phi.to_vec();
        x[j] += h[j];
        let gp = sum_gradients(&eval(&x)?, n);
        x[j] = phi[j] - h[j];
        let gm = sum_gradients(&eval(&x)?, n);
        for i in 0..n {
            hess[i * n + j] = (gp[i] - gm[i]) / (2.0 * h[j]);
        }
        progress(Progress::Covariance {
            done: 3 + 2 * j,
            total: total_evals,
        });
    }
    let mut r = vec![0.0; n * n];
    for i in 0..n {
        for j in 0..n {
            r[i * n + j] = 0.25 * (hess[i * n + j] + hess[j * n + i]);
        }
    }
    let mut s = vec![0.0; n * n];
    for gi in &g0 {
        for a in 0..n {
            for b in 0..n {
                s[a * n + b] += 0.25 * gi[a] * gi[b];
            }
        }
    }
    sandwich(&r, &s, n)
}

/// (R⁻¹ S R⁻¹, R⁻¹), or None when R is not positive definite.
fn sandwich(r: &[f64], s: &[f64], n: usize) -> Option<(Matrix, Matrix)> {
    let lr = linalg::cholesky(r, n)?;
    let rinv = linalg::cholesky_inverse(&lr, n);
    let mut tmp = vec![0.0; n * n];
    for a in 0..n {
        for b in 0..n {
            tmp[a * n + b] = (0..n).map(|c| rinv[a * n + c] * s[c * n + b]).sum();
        }
    }
    let mut sand = vec![vec![0.0; n]; n];
    for a in 0..n {
        for b in 0..n {
            sand[a][b] = (0..n).map(|c| tmp[a * n + c] * rinv[c * n + b]).sum();
        }
    }
    let rinv_m = (0..n).map(|a| rinv[a * n..(a + 1) * n].to_vec()).collect();
    Some((sand, rinv_m))
}

/// R = ½ Hessian of the OFV, S = Σ_i ¼ ∇OFV_i ∇OFV_iᵀ (central differences, η̂ re-optimised);
/// returns (R⁻¹ S R⁻¹, R⁻¹), or None when R is not positive definite.
fn covariance_step(
    m: &EstimationModel,
    codec: &Codec,
    subjects: &[SubjectData],
    phi: &[f64],
    progress: &(dyn Fn(Progress) + Sync),
) -> Option<(Matrix, Matrix)> {
    let n = phi.len();
    let h: Vec<f64> = phi.iter().map(|v| 1e-3 * v.abs().max(1e-3)).collect();
    let eval = |d: &[(usize, f64)]| -> Option<Vec<f64>> {
        let mut x = phi.to_vec();
        for &(i, s) in d {
            x[i] += s * h[i];
        }
        let p = codec.to_params(&x);
        evaluate(m, &p, subjects).map(|v| v.into_iter().map(|y| y.0).collect())
    };
    let total_evals = 1 + 2 * n + 2 * n * (n - 1);
    let mut done = 0;
    let mut tick = |k: usize| {
        done += k;
        if done % 20 < k {
            progress(Progress::Covariance {
                done,
                total: total_evals,
            });
        }
    };
    let f0: f64 = eval(&[])?.iter().sum();
    tick(1);
    let mut plus = Vec::new();
    let mut minus = Vec::new();
    for i in 0..n {
        plus.push(eval(&[(i, 1.0)])?);
        minus.push(eval(&[(i, -1.0)])?);
        tick(2);
    }
    let mut hess = vec![0.0; n * n];
    for i in 0..n {
        let fp: f64 = plus[i].iter().sum();
        let fm: f64 = minus[i].iter().sum();
        hess[i * n + i] = (fp - 2.0 * f0 + fm) / (h[i] * h[i]);
        for j in 0..i {
            let pp: f64 = eval(&[(i, 1.0), (j, 1.0)])?.iter().sum();
            let pm: f64 = eval(&[(i, 1.0), (j, -1.0)])?.iter().sum();
            let mp: f64 = eval(&[(i, -1.0), (j, 1.0)])?.iter().sum();
            let mm: f64 = eval(&[(i, -1.0), (j, -1.0)])?.iter().sum();
            tick(4);
            let v = (pp - pm - mp + mm) / (4.0 * h[i] * h[j]);
            hess[i * n + j] = v;
            hess[j * n + i] = v;
        }
    }
    let r: Vec<f64> = hess.iter().map(|v| 0.5 * v).collect();
    let mut s = vec![0.0; n * n];
    for subj in 0..subjects.len() {
        let g: Vec<f64> = (0..n)
            .map(|i| 0.5 * (plus[i][subj] - minus[i][subj]) / (2.0 * h[i]))
            .collect();
        for a in 0..n {
            for b in 0..n {
                s[a * n + b] += g[a] * g[b];
            }
        }
    }
    sandwich(&r, &s, n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ln_norm_cdf_and_inverse_mills_ratio() {
        // Φ at known points (tables), continuity at the switch to the asymptotic series
        assert!((ln_norm_cdf(0.0) - 0.5f64.ln()).abs() < 1e-15);
        assert!((ln_norm_cdf(1.959963984540054) - 0.975f64.ln()).abs() < 1e-14);
        assert!((ln_norm_cdf(-3.0) - 1.3498980316300946e-3f64.ln()).abs() < 1e-12);
        assert!((ln_norm_cdf(-30.0 - 1e-9) - ln_norm_cdf(-30.0)).abs() < 1e-6);
        assert!(ln_norm_cdf(-40.0).is_finite() && ln_norm_cdf(40.0) == 0.0);
        // λ = d ln Φ / dx, against central differences
        for x in [-35.0, -5.0, -1.0, 0.0, 2.0, 6.0] {
            let h = 1e-5;
            let fd = (ln_norm_cdf(x + h) - ln_norm_cdf(x - h)) / (2.0 * h);
            assert!(
                (inv_mills(x) - fd).abs() < 1e-6 * fd.abs().max(1.0),
                "{x}: {} vs {fd}",
                inv_mills(x)
            );
        }
    }

    /// ∂OFV/∂ln σ of OFV(σ²) from its derivative `d` in σ².
    fn g_ln(d: impl Fn(f64) -> f64, s: f64) -> f64 {
        2.0 * s * s * d(s * s)
    }

    #[test]
    fn bound_ahead_tells_a_bound_from_an_interior_optimum() {
        // at the bound: OFV = c σ² + e σ⁴ (c > 0), falling towards σ = 0 with about 0.3 to gain
        for e in [-50.0, 0.0, 50.0] {
            let d = |q: f64| 134.0 + 2.0 * e * q;
            let (a, b) = (0.034, 0.033);
            assert!(bound_ahead(a, g_ln(d, a), b, g_ln(d, b)), "e = {e}");
            // not while σ rises, nor with the OFV rising towards 0
            assert!(!bound_ahead(b, g_ln(d, b), a, g_ln(d, a)));
            assert!(!bound_ahead(a, -g_ln(d, a), b, -g_ln(d, b)));
        }
        // the same slope with more than 1 to gain at σ = 0.5: σ is not at its bound yet
        let d = |_q: f64| 134.0;
        assert!(!bound_ahead(0.5, g_ln(d, 0.5), 0.45, g_ln(d, 0.45)));
        // additive error, 250 samples, optimum at σ² = 0.01: OFV = N ln σ² + S/σ², S = N·0.01
        let d = |q: f64| 250.0 / q - 2.5 / (q * q);
        // far above the optimum, where the OFV is concave in σ²
        assert!(!bound_ahead(0.8, g_ln(d, 0.8), 0.7, g_ln(d, 0.7)));
        // just above it, and below it
        assert!(!bound_ahead(0.12, g_ln(d, 0.12), 0.11, g_ln(d, 0.11)));
        assert!(!bound_ahead(0.09, g_ln(d, 0.09), 0.085, g_ln(d, 0.085)));
    }
}
