//! Bayesian therapeutic drug monitoring for IV magnesium (`mgiv adjust`).
//!
//! Unknowns θ: the model's random effects η (log-normal IIV, prior N(0, Ω)) and, unless the
//! patient's pre-treatment level was measured, the **endogenous baseline** (prior: the patient's
//! population distribution, e.g. N(0.75, 0.13²) mmol/L in pre-eclampsia). A measured baseline fixes
//! it. Other TDM tools treat the baseline as zero or as a known constant; for magnesium it is
//! a third to a half of a therapeutic level, so mgiv estimates it from the levels with its prior.
//!
//! 1. **MAP**: minimise J(θ) = ½ηᵀΩ⁻¹η + ½((BL − μ)/σ)² + Σ_j [½(y_j − f_j)²/s_j² + ln s_j],
//!    s_j = √((prop·x_j)² + add²) (the model file's residual error), x_j = f_j on the total level
//!    or x_j = f_j − BL when the source fitted the rise above baseline (Du 2019: 12 % of ΔMg),
//!    by BFGS ([`mgiv_core::optim`]) on central-difference gradients, started from the inverse
//!    of the finite-difference Hessian at the prior mode. η includes the source's
//!    between-occasion variability where it has one (Du 2019: 23.9 % on CL): all levels and
//!    the forecast belong to one course, so the course's CL varies with ω²_IIV + ω²_IOV.
//! 2. **Laplace**: posterior ≈ N(θ̂, H⁻¹) with H the Hessian of J at θ̂.
//! 3. **Check by importance sampling**: 1000 draws from a multivariate t (5 d.f.) centred on θ̂ with
//!    scale H⁻¹, weighted by exp(−J)/q; the effective sample size and the IS posterior intervals
//!    are reported next to the Laplace ones, and every forecast and probability uses the IS
//!    weights (so it does not rely on the Laplace approximation).
//! 4. **Recommendation**: from the decision time `now`, the given regimen stops and a new
//!    maintenance rate r (0–4 g/h in 0.25 g/h steps, optionally after a bolus of 1, 2 or 4 g over
//!    20 min) runs for the horizon. Because the model is linear, each posterior draw's level is
//!    C = C_stop + r·U + b·B (U, B: its responses to a unit rate and a unit bolus), so every
//!    candidate is scored over all draws cheaply. Among candidates with P(level > toxic threshold
//!    at any time in the horizon) ≤ the limit, the one with the largest expected fraction of
//!    time in the target range (from `now` + 2 h) wins; a bolus is proposed only if it adds at
//!    least 5 percentage points of time in target.

use mgiv_core::error::{invalid, MgivError};
use mgiv_core::model::{IndividualParams, ModelSpec};
use mgiv_core::optim::bfgs_central;
use mgiv_core::patient::Patient;
use mgiv_core::regimen::{DoseEvent, Regimen};
use mgiv_core::solver::Modes;
use mgiv_core::units::{ConcUnit, MgAmount, MgConc, Salt};
use mgiv_core::Warning;
use rayon::prelude::*;
use serde::Serialize;

use crate::grid::{Batch, FixedGrid, BATCH};
use crate::kernel::{Kernel, Plan};
use crate::linalg;
use crate::popmodel::{PopModel, PARAM_KEYS};
use crate::rng::{Stream, SubjectRng};

/// One measured total serum Mg level.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Level {
    pub time_h: f64,
    pub mmol_l: f64,
    /// the unit the value was read in
    pub unit: ConcUnit,
    /// true when the unit was not written and was inferred (only one unit is plausible)
    pub unit_inferred: bool,
}

impl Level {
    /// A level given in mmol/L.
    pub fn mmol_l(time_h: f64, mmol_l: f64) -> Level {
        Level {
            time_h,
            mmol_l,
            unit: ConcUnit::MmolPerL,
            unit_inferred: false,
        }
    }
}

/// Plausible total serum Mg (mmol/L) for inferring a missing unit: from severe deficiency to
/// above the emergency range (data/ranges/serum-mg.toml: normal 0.65-1.05, heart block 7.5). A
/// unit-inference guard of mgiv's choosing around those published levels, not a published range.
pub const PLAUSIBLE_LEVEL_MMOL_L: (f64, f64) = (0.3, 10.0);

/// Parse "1.4 mmol/L at 6 h; 1.9 mmol/L at 12 h" (also mg/dL, mEq/L; times in h or min). A number
/// without a unit is accepted only when exactly one unit makes it a plausible level (and the
/// level says so); otherwise it is an error. Levels are returned sorted by time.
pub fn parse_levels(text: &str) -> Result<Vec<Level>, MgivError> {
    let allowed = "levels like '1.4 mmol/L at 6 h; 1.9 mmol/L at 12 h' (units mmol/L, mg/dL or mEq/L; times in h or min)";
    let mut out = Vec::new();
    for part in text.split([';', '\n']) {
        let part = part.trim();
        if part.is_empty() {
            continue;
        }
        let lower = part.to_ascii_lowercase();
        let Some(at) = lower.find(" at ") else {
            return Err(invalid("levels", part, allowed));
        };
        let (conc_txt, time_txt) = (part[..at].trim(), part[at + 4..].trim());
        let split = conc_txt
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(conc_txt.len());
        let v: f64 = conc_txt[..split]
            .trim()
            .parse()
            .map_err(|_| invalid("level value", conc_txt, allowed))?;
        let unit_txt = conc_txt[split..].trim();
        let (unit, unit_inferred) = if unit_txt.is_empty() {
            (
                ConcUnit::infer(&format!("level '{part}'"), v, PLAUSIBLE_LEVEL_MMOL_L)?,
                true,
            )
        } else {
            (ConcUnit::parse(unit_txt)?, false)
        };
        let mmol_l = MgConc::from_unit(v, unit).mmol_l();
        if !(mmol_l.is_finite() && (0.2..=10.0).contains(&mmol_l)) {
            return Err(invalid(
                "level value",
                format!("{conc_txt} ({mmol_l:.3} mmol/L)"),
                "0.2 to 10 mmol/L total serum Mg (give the unit if it is mg/dL or mEq/L)",
            ));
        }
        let tl = time_txt.to_ascii_lowercase();
        let tsplit = tl
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(tl.len());
        let tv: f64 = tl[..tsplit]
            .trim()
            .parse()
            .map_err(|_| invalid("level time", time_txt, allowed))?;
        let tunit = tl[tsplit..].trim();
        let time_h = match tunit {
            "" | "h" | "hr" | "hrs" | "hour" | "hours" => tv,
            "min" | "mins" | "minute" | "minutes" => tv / 60.0,
            _ => return Err(invalid("level time unit", time_txt, "h or min")),
        };
        // input guard: within 90 days of the start
        if !(time_h.is_finite() && (0.0..=24.0 * 90.0).contains(&time_h)) {
            return Err(invalid(
                "level time",
                time_txt,
                "0 to 2160 h after the start of the regimen",
            ));
        }
        out.push(Level {
            time_h,
            mmol_l,
            unit,
            unit_inferred,
        });
    }
    if out.is_empty() {
        return Err(invalid("levels", text, allowed));
    }
    if out.len() > 50 {
        return Err(invalid(
            "levels",
            format!("{} levels", out.len()),
            "at most 50 levels",
        ));
    }
    out.sort_by(|a, b| a.time_h.total_cmp(&b.time_h));
    Ok(out)
}

/// Prior of the endogenous baseline when it was not measured (normal, mmol/L).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct BaselinePrior {
    pub mean_mmol_l: f64,
    pub sd_mmol_l: f64,
}

/// The unknowns' posterior for one patient.
#[derive(Debug, Clone)]
pub struct Posterior {
    pub model: PopModel,
    /// covariate-adjusted typical parameters [CL, V1, Q, V2]
    pub typical: [f64; 4],
    /// measured baseline, or None when estimated
    pub baseline_fixed: Option<f64>,
    pub baseline_prior: Option<BaselinePrior>,
    /// MAP of θ = (η..., baseline?)
    pub map: Vec<f64>,
    /// Laplace covariance H⁻¹ (d×d)
    pub cov: Vec<f64>,
    /// importance-sampling draws (θ vectors) and normalised weights
    pub draws: Vec<Vec<f64>>,
    pub weights: Vec<f64>,
    pub ess: f64,
    pub levels: Vec<Level>,
    /// how the search for the MAP ended
    pub map_search: MapSearch,
}

struct Problem<'a> {
    pm: &'a PopModel,
    typical: [f64; 4],
    baseline_fixed: Option<f64>,
    prior: Option<BaselinePrior>,
    omega_inv: Vec<f64>,
    plan: Plan,
    times: Vec<f64>,
    obs: Vec<f64>,
}

impl<'a> Problem<'a> {
    fn new(
        pm: &'a PopModel,
        typical: [f64; 4],
        baseline_fixed: Option<f64>,
        baseline_prior: Option<BaselinePrior>,
        events: &[DoseEvent],
        levels: &[Level],
    ) -> Self {
        let k = pm.n_eta();
        let omega_inv = if k > 0 {
            linalg::cholesky_inverse(pm.omega_chol(), k)
        } else {
            Vec::new()
        };
        Problem {
            pm,
            typical,
            baseline_fixed,
            prior: if baseline_fixed.is_some() {
                None
            } else {
                baseline_prior
            },
            omega_inv,
            plan: Plan::new(events),
            times: levels.iter().map(|l| l.time_h).collect(),
            obs: levels.iter().map(|l| l.mmol_l).collect(),
        }
    }

    fn dim(&self) -> usize {
        self.pm.n_eta() + usize::from(self.baseline_fixed.is_none())
    }

    fn params(&self, theta: &[f64]) -> IndividualParams {
        let k = self.pm.n_eta();
        let bl = self.baseline_fixed.unwrap_or_else(|| theta[k]);
        self.pm.individual(&self.typical, &theta[..k], bl)
    }

    /// J(θ) (negative log posterior up to a constant); +∞ where undefined.
    fn objective(&self, theta: &[f64], pred: &mut [f64]) -> f64 {
        let k = self.pm.n_eta();
        let p = self.params(theta);
        // numerical guard: a baseline near zero is outside the posterior support
        if p.baseline_mmol_l.is_nan() || p.baseline_mmol_l <= 0.05 {
            return f64::INFINITY;
        }
        let Ok(m) = Modes::from_params(&p) else {
            return f64::INFINITY;
        };
        Kernel::new(&m).run(&self.plan, &self.times, pred, None);
        let mut j = 0.0;
        for a in 0..k {
            for b in 0..k {
                j += 0.5 * theta[a] * self.omega_inv[a * k + b] * theta[b];
            }
        }
        if let Some(pr) = self.prior {
            let z = (theta[k] - pr.mean_mmol_l) / pr.sd_mmol_l;
            j += 0.5 * z * z;
        }
        for (y, f) in self.obs.iter().zip(pred.iter()) {
            let s = self.pm.residual.sd_mmol_l(*f, p.baseline_mmol_l).max(1e-6);
            let r = (y - f) / s;
            j += 0.5 * r * r + s.ln();
        }
        if j.is_finite() {
            j
        } else {
            f64::INFINITY
        }
    }
}

/// The one finite-difference gradient and Hessian of mgiv (`mgiv_core::numerics`).
use mgiv_core::numerics::gradient_and_hessian as numeric_hessian;

/// Settings of the posterior computation.
#[derive(Debug, Clone, Copy)]
pub struct PosteriorSettings {
    /// importance-sampling draws
    pub n_draws: usize,
    pub seed: u64,
}

impl Default for PosteriorSettings {
    fn default() -> Self {
        PosteriorSettings {
            // sampling settings and a fixed default seed (numerical, not data)
            n_draws: 1000,
            seed: 20260101,
        }
    }
}

/// Fit the posterior of one patient: `typical` are the covariate-adjusted typical parameters
/// [CL, V1, Q, V2] (from [`ModelSpec::individualise`]); `baseline_fixed` a measured baseline,
/// else `baseline_prior` must be given.
pub fn fit_posterior(
    pm: &PopModel,
    typical: [f64; 4],
    baseline_fixed: Option<f64>,
    baseline_prior: Option<BaselinePrior>,
    events: &[DoseEvent],
    levels: &[Level],
    settings: PosteriorSettings,
) -> Result<Posterior, MgivError> {
    if levels.is_empty() {
        return Err(invalid("levels", "none", "at least one measured level"));
    }
    if baseline_fixed.is_none() && baseline_prior.is_none() {
        return Err(invalid(
            "baseline",
            "neither measured nor given a prior",
            "a measured baseline or a population prior",
        ));
    }
    if let Some(p) = baseline_prior {
        if !(p.mean_mmol_l > 0.0 && p.sd_mmol_l > 0.0) {
            return Err(invalid(
                "baseline prior",
                format!("{p:?}"),
                "positive mean and SD",
            ));
        }
    }
    let k = pm.n_eta();
    let prob = Problem::new(pm, typical, baseline_fixed, baseline_prior, events, levels);
    let d = prob.dim();
    if d == 0 {
        return Err(invalid(
            "model",
            &pm.spec.id,
            "a model with inter-individual variability (or an unmeasured baseline) to individualise",
        ));
    }
    let mut pred = vec![0.0; levels.len()];
    let mut x = vec![0.0; d];
    if let Some(p) = prob.prior {
        x[k] = p.mean_mmol_l;
    }
    let mut steps = vec![0.0; d];
    for (i, s) in steps.iter_mut().enumerate() {
        // finite-difference steps (numerical)
        *s = if i < k { 1e-4 } else { 1e-5 };
    }
    let mut evaluations = 0usize;
    let mut f = |t: &[f64]| {
        evaluations += 1;
        prob.objective(t, &mut pred)
    };
    // BFGS (mgiv's one gradient-based minimiser) on central-difference gradients, started from
    // the inverse of the finite-difference Hessian at the prior mode: the Newton step there
    let (_, h, f0) = numeric_hessian(&mut f, &x, &steps);
    if !f0.is_finite() {
        return Err(MgivError::Numerical(
            "the prior mode gives an undefined likelihood".into(),
        ));
    }
    let h0 = linalg::cholesky(&h, d).map(|l| linalg::cholesky_inverse(&l, d));
    let step = |_: &[f64], i: usize| steps[i];
    let (x, _, converged) = bfgs_central(&mut f, &step, &x, h0, MAP_MAX_ITERATIONS, MAP_GTOL);
    let map = MapSearch {
        evaluations,
        converged,
    };
    finish(&prob, x, &steps, settings, map)
}

/// BFGS iterations allowed for the posterior mode (numerical).
const MAP_MAX_ITERATIONS: usize = 200;
/// Gradient tolerance of the posterior mode, on J (numerical; the central differences are
/// accurate to about 1e-9 at the mode).
const MAP_GTOL: f64 = 1e-7;

/// How the search for the posterior mode ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MapSearch {
    /// objective evaluations (including the finite differences)
    pub evaluations: usize,
    /// every |∂J/∂θᵢ| below the tolerance (or no further decrease with every one below its
    /// square root)
    pub converged: bool,
}

fn finish(
    prob: &Problem,
    x: Vec<f64>,
    steps: &[f64],
    settings: PosteriorSettings,
    map: MapSearch,
) -> Result<Posterior, MgivError> {
    let d = x.len();
    let mut pred = vec![0.0; prob.obs.len()];
    let mut f = |t: &[f64]| prob.objective(t, &mut pred);
    let big: Vec<f64> = steps.iter().map(|s| s * 10.0).collect();
    let (_, mut h, f0) = numeric_hessian(&mut f, &x, &big);
    let mut l = linalg::cholesky(&h, d);
    let mut jitter = 1e-8;
    while l.is_none() && jitter < 1e3 {
        for i in 0..d {
            h[i * d + i] += jitter;
        }
        l = linalg::cholesky(&h, d);
        jitter *= 10.0;
    }
    let Some(lh) = l else {
        return Err(MgivError::Numerical(
            "the posterior curvature is not positive definite".into(),
        ));
    };
    let cov = linalg::cholesky_inverse(&lh, d);
    let lc = linalg::cholesky(&cov, d).ok_or_else(|| {
        MgivError::Numerical("the Laplace covariance is not positive definite".into())
    })?;
    // importance sampling with a multivariate t (ν = 5) proposal
    let nu = 5.0;
    let n = settings.n_draws.max(50);
    let mut draws = Vec::with_capacity(n);
    let mut logw = Vec::with_capacity(n);
    let mut z = vec![0.0; d];
    let mut y = vec![0.0; d];
    for i in 0..n {
        let mut rng = SubjectRng::new(settings.seed, i as u64, Stream::Other);
        for v in z.iter_mut() {
            *v = rng.normal();
        }
        let mut chi2 = 0.0;
        for _ in 0..5 {
            let g = rng.normal();
            chi2 += g * g;
        }
        let scale = (nu / chi2).sqrt();
        linalg::lower_mul(&lc, d, &z, &mut y);
        let th: Vec<f64> = x.iter().zip(&y).map(|(m, v)| m + scale * v).collect();
        // Mahalanobis distance of the draw: |z|²·scale²
        let q2: f64 = z.iter().map(|v| v * v).sum::<f64>() * scale * scale;
        let log_q = -0.5 * (nu + d as f64) * (1.0 + q2 / nu).ln();
        let j = f(&th);
        logw.push(if j.is_finite() {
            -(j - f0) - log_q
        } else {
            f64::NEG_INFINITY
        });
        draws.push(th);
    }
    let mx = logw.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    let mut w: Vec<f64> = logw.iter().map(|l| (l - mx).exp()).collect();
    let s: f64 = w.iter().sum();
    if !(s > 0.0 && s.is_finite()) {
        return Err(MgivError::Numerical(
            "importance sampling failed (no finite weight)".into(),
        ));
    }
    w.iter_mut().for_each(|v| *v /= s);
    let ess = 1.0 / w.iter().map(|v| v * v).sum::<f64>();
    Ok(Posterior {
        model: prob.pm.clone(),
        typical: prob.typical,
        baseline_fixed: prob.baseline_fixed,
        baseline_prior: prob.prior,
        map: x,
        cov,
        draws,
        weights: w,
        ess,
        levels: prob
            .times
            .iter()
            .zip(&prob.obs)
            .map(|(&t, &y)| Level::mmol_l(t, y))
            .collect(),
        map_search: map,
    })
}

/// Weighted quantile of (value, weight) pairs.
pub fn weighted_quantile(pairs: &mut [(f64, f64)], p: f64) -> f64 {
    pairs.sort_by(|a, b| a.0.total_cmp(&b.0));
    let total: f64 = pairs.iter().map(|x| x.1).sum();
    let mut cum = 0.0;
    for &(v, w) in pairs.iter() {
        cum += w;
        if cum >= p * total {
            return v;
        }
    }
    pairs.last().map(|x| x.0).unwrap_or(f64::NAN)
}

/// Posterior summary of one parameter.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ParamSummary {
    /// "cl_l_h", "v1_l", "q_l_h", "v2_l" or "baseline_mmol_l"
    pub name: String,
    /// population typical value for this patient's covariates (prior median)
    pub typical: f64,
    pub map: f64,
    /// Laplace 90 % interval
    pub laplace_p05: f64,
    pub laplace_p95: f64,
    /// importance-sampling 5/50/95th percentiles
    pub is_p05: f64,
    pub is_p50: f64,
    pub is_p95: f64,
    /// false when the parameter is fixed (a measured baseline)
    pub estimated: bool,
}

impl Posterior {
    pub fn dim(&self) -> usize {
        self.map.len()
    }

    /// Individual parameters of a θ vector.
    pub fn params(&self, theta: &[f64]) -> IndividualParams {
        let k = self.model.n_eta();
        let bl = self.baseline_fixed.unwrap_or_else(|| theta[k]);
        self.model.individual(&self.typical, &theta[..k], bl)
    }

    /// MAP individual parameters.
    pub fn map_params(&self) -> IndividualParams {
        self.params(&self.map)
    }

    /// Per-parameter summaries (Laplace and importance sampling side by side).
    pub fn summaries(&self) -> Vec<ParamSummary> {
        let k = self.model.n_eta();
        let d = self.dim();
        let mut out = Vec::new();
        for (a, &pk) in self.model.eta_params.iter().enumerate() {
            let tv = self.typical[pk];
            let sd = self.cov[a * d + a].sqrt();
            let mut pairs: Vec<(f64, f64)> = self
                .draws
                .iter()
                .zip(&self.weights)
                .map(|(t, &w)| (tv * t[a].exp(), w))
                .collect();
            out.push(ParamSummary {
                name: PARAM_KEYS[pk].into(),
                typical: tv,
                map: tv * self.map[a].exp(),
                // 1.6449 = z(0.95), the standard-normal quantile of a 90 % interval
                laplace_p05: tv * (self.map[a] - 1.6449 * sd).exp(),
                laplace_p95: tv * (self.map[a] + 1.6449 * sd).exp(),
                is_p05: weighted_quantile(&mut pairs, 0.05),
                is_p50: weighted_quantile(&mut pairs, 0.5),
                is_p95: weighted_quantile(&mut pairs, 0.95),
                estimated: true,
            });
        }
        match self.baseline_fixed {
            Some(b) => out.push(ParamSummary {
                name: "baseline_mmol_l".into(),
                typical: b,
                map: b,
                laplace_p05: b,
                laplace_p95: b,
                is_p05: b,
                is_p50: b,
                is_p95: b,
                estimated: false,
            }),
            None => {
                let sd = self.cov[k * d + k].sqrt();
                let mut pairs: Vec<(f64, f64)> = self
                    .draws
                    .iter()
                    .zip(&self.weights)
                    .map(|(t, &w)| (t[k], w))
                    .collect();
                out.push(ParamSummary {
                    name: "baseline_mmol_l".into(),
                    typical: self
                        .baseline_prior
                        .map(|p| p.mean_mmol_l)
                        .unwrap_or(f64::NAN),
                    map: self.map[k],
                    // 1.6449 = z(0.95), the standard-normal quantile of a 90 % interval
                    laplace_p05: self.map[k] - 1.6449 * sd,
                    laplace_p95: self.map[k] + 1.6449 * sd,
                    is_p05: weighted_quantile(&mut pairs, 0.05),
                    is_p50: weighted_quantile(&mut pairs, 0.5),
                    is_p95: weighted_quantile(&mut pairs, 0.95),
                    estimated: true,
                });
            }
        }
        out
    }

    /// Weighted posterior draws resampled to `n` equally weighted ones (systematic resampling;
    /// deterministic).
    pub fn resample(&self, n: usize) -> Vec<IndividualParams> {
        let mut out = Vec::with_capacity(n);
        let mut cum = 0.0;
        let mut i = 0;
        for j in 0..n {
            let u = (j as f64 + 0.5) / n as f64;
            while i + 1 < self.weights.len() && cum + self.weights[i] < u {
                cum += self.weights[i];
                i += 1;
            }
            out.push(self.params(&self.draws[i]));
        }
        out
    }
}

/// The largest of c_i = base_i + r·unit_rate_i + b·unit_bolus_i and how many c_i lie in
/// [lo, hi], four points at a time in packed SIMD (the same sums as the scalar loop; AVX
/// registers where the CPU has AVX2, with the same results).
#[inline]
fn peak_and_inside(
    base: &[f64],
    unit_rate: &[f64],
    unit_bolus: &[f64],
    r: f64,
    b: f64,
    lo: f64,
    hi: f64,
) -> (f64, usize) {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU has AVX2 (checked just above)
            return unsafe { peak_and_inside_avx2(base, unit_rate, unit_bolus, r, b, lo, hi) };
        }
    }
    peak_and_inside_with::<wide::f64x4>(base, unit_rate, unit_bolus, r, b, lo, hi)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn peak_and_inside_avx2(
    base: &[f64],
    unit_rate: &[f64],
    unit_bolus: &[f64],
    r: f64,
    b: f64,
    lo: f64,
    hi: f64,
) -> (f64, usize) {
    peak_and_inside_with::<crate::simd::Avx>(base, unit_rate, unit_bolus, r, b, lo, hi)
}

#[inline(always)]
fn peak_and_inside_with<V: crate::simd::V4>(
    base: &[f64],
    unit_rate: &[f64],
    unit_bolus: &[f64],
    r: f64,
    b: f64,
    lo: f64,
    hi: f64,
) -> (f64, usize) {
    let (rv, bv, lov, hiv) = (V::splat(r), V::splat(b), V::splat(lo), V::splat(hi));
    let mut pk = V::splat(f64::MIN);
    let mut inside = 0usize;
    let n4 = base.len() / 4 * 4;
    for i in (0..n4).step_by(4) {
        let c = V::load(&base[i..])
            .add(rv.mul(V::load(&unit_rate[i..])))
            .add(bv.mul(V::load(&unit_bolus[i..])));
        pk = c.gt(pk).select(c, pk);
        inside += c.ge(lov).and(c.le(hiv)).bits().count_ones() as usize;
    }
    let mut peak = pk.to_array().into_iter().fold(f64::MIN, f64::max);
    for i in n4..base.len() {
        let c = base[i] + r * unit_rate[i] + b * unit_bolus[i];
        peak = peak.max(c);
        inside += (c >= lo && c <= hi) as usize;
    }
    (peak, inside)
}

/// [`peak_and_inside`] of `R` rates at once over one draw's curves: for each rate r_k the
/// largest c_i = base_i + r_k·unit_rate_i + b·unit_bolus_i over all points, and how many c_i
/// lie in [lo, hi] from point `from` on. Each c_i is the same sum as in [`peak_and_inside`]
/// (b·unit_bolus_i is computed once and added last, as there), and a maximum or a count does
/// not depend on the grouping, so the results are identical; the curves are read once for the
/// `R` rates instead of once per rate.
#[allow(clippy::too_many_arguments)]
#[inline]
fn peaks_and_insides<const R: usize>(
    base: &[f64],
    unit_rate: &[f64],
    unit_bolus: &[f64],
    rates: &[f64; R],
    b: f64,
    lo: f64,
    hi: f64,
    from: usize,
) -> ([f64; R], [usize; R]) {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU has AVX2 (checked just above)
            return unsafe {
                peaks_and_insides_avx2(base, unit_rate, unit_bolus, rates, b, lo, hi, from)
            };
        }
    }
    peaks_and_insides_with::<wide::f64x4, R>(base, unit_rate, unit_bolus, rates, b, lo, hi, from)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
#[allow(clippy::too_many_arguments)]
unsafe fn peaks_and_insides_avx2<const R: usize>(
    base: &[f64],
    unit_rate: &[f64],
    unit_bolus: &[f64],
    rates: &[f64; R],
    b: f64,
    lo: f64,
    hi: f64,
    from: usize,
) -> ([f64; R], [usize; R]) {
    peaks_and_insides_with::<crate::simd::Avx, R>(
        base, unit_rate, unit_bolus, rates, b, lo, hi, from,
    )
}

#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn peaks_and_insides_with<V: crate::simd::V4, const R: usize>(
    base: &[f64],
    unit_rate: &[f64],
    unit_bolus: &[f64],
    rates: &[f64; R],
    b: f64,
    lo: f64,
    hi: f64,
    from: usize,
) -> ([f64; R], [usize; R]) {
    let m = base.len().min(unit_rate.len()).min(unit_bolus.len());
    let from = from.min(m);
    let (bv, lov, hiv) = (V::splat(b), V::splat(lo), V::splat(hi));
    let rv = rates.map(V::splat);
    let mut pk = [V::splat(f64::MIN); R];
    let mut tail = [f64::MIN; R];
    let mut inside = [0usize; R];
    // the points before `from` (peak only), then from `from` on (peak and count), 4 at a time
    for (start, end, count) in [(0, from, false), (from, m, true)] {
        let n4 = start + (end - start) / 4 * 4;
        for i in (start..n4).step_by(4) {
            let (bs, ur) = (V::load(&base[i..]), V::load(&unit_rate[i..]));
            let bb = bv.mul(V::load(&unit_bolus[i..]));
            for k in 0..R {
                let c = bs.add(rv[k].mul(ur)).add(bb);
                pk[k] = c.gt(pk[k]).select(c, pk[k]);
                if count {
                    inside[k] += c.ge(lov).and(c.le(hiv)).bits().count_ones() as usize;
                }
            }
        }
        for i in n4..end {
            for k in 0..R {
                let c = base[i] + rates[k] * unit_rate[i] + b * unit_bolus[i];
                tail[k] = tail[k].max(c);
                if count {
                    inside[k] += (c >= lo && c <= hi) as usize;
                }
            }
        }
    }
    let peaks = std::array::from_fn(|k| pk[k].to_array().into_iter().fold(tail[k], f64::max));
    (peaks, inside)
}

/// Prior predictive range of measured levels at `times_h` (before any level is seen): the model's
/// inter-individual variability, the baseline (measured, or its population prior) and the
/// residual error, by Monte Carlo with a fixed seed. Returns (p_lo, p_hi) per time for the
/// central `coverage` interval (e.g. 0.999).
#[allow(clippy::too_many_arguments)]
pub fn prior_predictive_range(
    pm: &PopModel,
    typical: [f64; 4],
    baseline_fixed: Option<f64>,
    baseline_prior: BaselinePrior,
    events: &[DoseEvent],
    times_h: &[f64],
    coverage: f64,
    n_draws: usize,
) -> Result<Vec<(f64, f64)>, MgivError> {
    prior_predictive_range_via(
        pm,
        typical,
        baseline_fixed,
        baseline_prior,
        events,
        times_h,
        coverage,
        n_draws,
        true,
    )
}

/// [`prior_predictive_range`], on the fixed-grid batch path when `use_grid` and the order
/// allows it, else on the event-driven kernel (the two are compared in the tests).
#[allow(clippy::too_many_arguments)]
fn prior_predictive_range_via(
    pm: &PopModel,
    typical: [f64; 4],
    baseline_fixed: Option<f64>,
    baseline_prior: BaselinePrior,
    events: &[DoseEvent],
    times_h: &[f64],
    coverage: f64,
    n_draws: usize,
    use_grid: bool,
) -> Result<Vec<(f64, f64)>, MgivError> {
    // input guard: a range needs at least 100 draws (numerical)
    if !(coverage > 0.0 && coverage < 1.0) || n_draws < 100 || times_h.is_empty() {
        return Err(invalid(
            "prior predictive settings",
            format!(
                "coverage {coverage}, {n_draws} draws, {} times",
                times_h.len()
            ),
            "coverage in (0, 1), at least 100 draws and one time",
        ));
    }
    let plan = Plan::new(events);
    let k = pm.n_eta();
    let mut cols: Vec<Vec<f64>> = vec![Vec::with_capacity(n_draws); times_h.len()];
    let mut z = vec![0.0; k];
    let mut eta = vec![0.0; k];
    let mut out = vec![0.0; times_h.len()];
    let draw = |d: usize, z: &mut [f64], eta: &mut [f64]| {
        let mut rng = SubjectRng::new(0x9d1f_2026, d as u64, Stream::Etas);
        pm.draw_eta(&mut rng, z, eta);
        let bl = match baseline_fixed {
            Some(b) => b,
            None => {
                // numerical floor of a drawn baseline
                (baseline_prior.mean_mmol_l + baseline_prior.sd_mmol_l * rng.normal()).max(0.05)
            }
        };
        (pm.individual(&typical, eta, bl), bl)
    };
    let grid = if use_grid {
        crate::grid::FixedGrid::new(&plan, times_h)
    } else {
        None
    };
    if let Some(grid) = grid {
        // an IV order: the fixed-grid batch path (same draws; levels equal to 1e-13)
        let mut batch = crate::grid::Batch::new();
        let mut bls = Vec::with_capacity(crate::grid::BATCH);
        let mut d = 0;
        while d < n_draws {
            let d0 = d;
            batch.clear();
            bls.clear();
            while d < n_draws && !batch.is_full() {
                let (p, bl) = draw(d, &mut z, &mut eta);
                batch.push(&Modes::from_params(&p)?);
                bls.push(bl);
                d += 1;
            }
            batch.run(&grid, f64::INFINITY);
            for (s, &bl) in bls.iter().enumerate() {
                let mut res = SubjectRng::new(0x9d1f_2026, (d0 + s) as u64, Stream::Residual);
                for (j, col) in cols.iter_mut().enumerate() {
                    let c = batch.output(j)[s];
                    col.push(c + pm.residual.sd_mmol_l(c, bl) * res.normal());
                }
            }
        }
        return Ok(central_range(cols, coverage));
    }
    for d in 0..n_draws {
        let (p, bl) = draw(d, &mut z, &mut eta);
        Kernel::new(&Modes::from_params(&p)?).run(&plan, times_h, &mut out, None);
        let mut res = SubjectRng::new(0x9d1f_2026, d as u64, Stream::Residual);
        for (c, col) in out.iter().zip(cols.iter_mut()) {
            col.push(c + pm.residual.sd_mmol_l(*c, bl) * res.normal());
        }
    }
    Ok(central_range(cols, coverage))
}

/// The order statistics at ranks round(p·(n − 1)) for p = (1 ± coverage)/2 of each column,
/// by selection (O(n)) rather than a full sort.
fn central_range(cols: Vec<Vec<f64>>, coverage: f64) -> Vec<(f64, f64)> {
    let a = (1.0 - coverage) / 2.0;
    cols.into_iter()
        .map(|mut c| {
            let rank = |p: f64| ((p * (c.len() - 1) as f64).round() as usize).min(c.len() - 1);
            let (i_lo, i_hi) = (rank(a), rank(1.0 - a));
            let (left, hi, _) = c.select_nth_unstable_by(i_hi, f64::total_cmp);
            let hi = *hi;
            let lo = if i_lo < i_hi {
                *left.select_nth_unstable_by(i_lo, f64::total_cmp).1
            } else {
                hi
            };
            (lo, hi)
        })
        .collect()
}

/// Band of a forecast at one time.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct BandPoint {
    pub time_h: f64,
    pub p05_mmol_l: f64,
    pub p50_mmol_l: f64,
    pub p95_mmol_l: f64,
}

/// mgiv's default decision horizon after `now`, h. Like the other `DEFAULT_*` values below it is
/// mgiv's design choice, not a published number; it lives here once and every front end (CLI,
/// service, Python, the clinical scenarios) reads it from here.
pub const DEFAULT_HORIZON_H: f64 = 24.0;
/// mgiv's default largest acceptable P(level above the toxic threshold at any time in the horizon).
pub const DEFAULT_MAX_P_TOXIC: f64 = 0.05;
/// mgiv's default candidate boluses at `now`, g MgSO4·7H2O over 20 min (0 = no bolus).
pub const DEFAULT_BOLUSES_G: [f64; 4] = [0.0, 1.0, 2.0, 4.0];
/// Step of mgiv's default grid of candidate maintenance rates, g/h MgSO4·7H2O.
pub const DEFAULT_RATE_STEP_G_PER_H: f64 = 0.25;
/// Number of steps of that grid above 0 (0 to 16 × 0.25 = 4 g/h).
pub const DEFAULT_RATE_STEPS: usize = 16;
/// mgiv's default smallest gain in the expected fraction of time in target (0.05 = 5 points)
/// for which a load is proposed on top of the best rate without one.
pub const DEFAULT_MIN_BOLUS_GAIN: f64 = 0.05;
/// mgiv's default number of posterior draws behind a decision.
pub const DEFAULT_DECISION_DRAWS: usize = 400;

/// The decision horizons mgiv accepts, h: from 2 h (time in target is scored from `now` + 2 h)
/// to a week (mgiv's limit: the courses it models last hours to days). Checked once, here, under
/// each front end's own name for the field ([`check_horizon`]).
pub const HORIZON_RANGE_H: (f64, f64) = (2.0, 168.0);

/// Check a decision horizon against [`HORIZON_RANGE_H`]; the error names `field` (the front
/// end's name: `--hours`, `horizon_h`, `hours`).
pub fn check_horizon(field: &str, horizon_h: f64) -> Result<(), MgivError> {
    let (lo, hi) = HORIZON_RANGE_H;
    if horizon_h >= lo && horizon_h <= hi {
        Ok(())
    } else {
        Err(invalid(
            field,
            format!("{horizon_h} h"),
            format!("{lo} to {hi} h"),
        ))
    }
}

/// mgiv's default candidate maintenance rates, g/h MgSO4·7H2O: 0 to
/// `DEFAULT_RATE_STEPS × DEFAULT_RATE_STEP_G_PER_H` (4 g/h) in steps of 0.25 g/h.
pub fn default_rates_g_per_h() -> Vec<f64> {
    (0..=DEFAULT_RATE_STEPS)
        .map(|i| i as f64 * DEFAULT_RATE_STEP_G_PER_H)
        .collect()
}

/// What to decide.
#[derive(Debug, Clone)]
pub struct DecisionSettings {
    /// decision time (h on the regimen clock); the given regimen stops here
    pub now_h: f64,
    pub horizon_h: f64,
    pub target_mmol_l: (f64, f64),
    pub toxic_mmol_l: f64,
    /// largest acceptable P(level > toxic at any time in the horizon)
    pub max_p_toxic: f64,
    /// candidate maintenance rates, g/h MgSO4·7H2O
    pub rates_g_per_h: Vec<f64>,
    /// candidate boluses at `now`, g MgSO4·7H2O over 20 min
    pub boluses_g: Vec<f64>,
    /// posterior draws used for the decision
    pub n_draws: usize,
}

impl DecisionSettings {
    /// Settings for a decision at `now_h` toward `target_mmol_l`, with the indication's toxic
    /// threshold `toxic_mmol_l` (the caller's, from its clinical context: this library holds no
    /// threshold of its own). The horizon, the toxicity limit and the candidate grid are mgiv's
    /// defaults ([`DEFAULT_HORIZON_H`] 24 h, [`DEFAULT_MAX_P_TOXIC`] P ≤ 5 %,
    /// [`default_rates_g_per_h`] 0–4 g/h in 0.25 g/h steps, [`DEFAULT_BOLUSES_G`] 1, 2 or 4 g).
    pub fn new(now_h: f64, target_mmol_l: (f64, f64), toxic_mmol_l: f64) -> Self {
        DecisionSettings {
            now_h,
            horizon_h: DEFAULT_HORIZON_H,
            target_mmol_l,
            toxic_mmol_l,
            max_p_toxic: DEFAULT_MAX_P_TOXIC,
            rates_g_per_h: default_rates_g_per_h(),
            boluses_g: DEFAULT_BOLUSES_G.to_vec(),
            n_draws: DEFAULT_DECISION_DRAWS,
        }
    }
}

/// One scored candidate.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Candidate {
    pub rate_g_per_h: f64,
    pub rate_mmol_per_h: f64,
    pub bolus_g: f64,
    /// expected fraction of time in the target range from now + 2 h to now + horizon
    pub time_in_target: f64,
    /// P(in target at now + 6 h) and at the end of the horizon
    pub p_in_target_6h: f64,
    pub p_in_target_end: f64,
    pub p_below_target_end: f64,
    /// P(level above the toxic threshold at any time in the horizon)
    pub p_above_toxic: f64,
    pub p50_end_mmol_l: f64,
}

/// The decision and its justification.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Decision {
    pub recommended: Candidate,
    /// the same scores if the given regimen simply continued
    pub continue_as_given: Candidate,
    /// the best candidate without a bolus (equal to `recommended` when no bolus is proposed)
    pub best_without_bolus: Candidate,
    /// whether any candidate met the toxicity limit
    pub feasible: bool,
    pub forecast_continue: Vec<BandPoint>,
    pub forecast_recommended: Vec<BandPoint>,
}

fn g_to_mmol(g: f64) -> f64 {
    MgAmount::from_salt_g(Salt::MgSo4Heptahydrate, g).mmol()
}

/// The summed rate (mmol/h) of the infusions running at `now_h`.
pub fn running_rate_mmol_per_h(events: &[DoseEvent], now_h: f64) -> f64 {
    events
        .iter()
        .map(|e| match *e {
            DoseEvent::Infusion {
                start_h,
                end_h,
                rate_mmol_per_h,
                ..
            } if start_h <= now_h + 1e-9 && end_h.is_none_or(|e| e > now_h + 1e-9) => {
                rate_mmol_per_h
            }
            _ => 0.0,
        })
        .sum()
}

/// The given regimen stopped at `now_h` (infusions cut, later doses dropped).
pub fn stop_at(events: &[DoseEvent], now_h: f64) -> Vec<DoseEvent> {
    let mut out = Vec::new();
    for e in events {
        match *e {
            DoseEvent::Bolus { time_h, .. } if time_h <= now_h => out.push(*e),
            DoseEvent::Infusion {
                start_h,
                end_h,
                rate_mmol_per_h,
                phase,
            } if start_h < now_h => out.push(DoseEvent::Infusion {
                start_h,
                end_h: Some(end_h.map_or(now_h, |e| e.min(now_h))),
                rate_mmol_per_h,
                phase,
            }),
            _ => {}
        }
    }
    out
}

/// The 5th, 50th and 95th centiles of the draws at each time (see [`BandSorter`]).
#[cfg(test)]
fn band(draws: &[Vec<f64>], times: &[f64]) -> Vec<BandPoint> {
    let mut sorter = BandSorter::new(draws.len());
    times
        .iter()
        .enumerate()
        .map(|(j, &t)| sorter.point(t, |d| draws[d][j]))
        .collect()
}

/// The integer whose order is that of `f64::total_cmp` (the same transform; an involution).
#[inline(always)]
fn total_key(v: f64) -> i64 {
    let b = v.to_bits() as i64;
    b ^ (((b >> 63) as u64) >> 1) as i64
}

/// The value of a [`total_key`].
#[inline(always)]
fn from_total_key(k: i64) -> f64 {
    f64::from_bits((k ^ (((k >> 63) as u64) >> 1) as i64) as u64)
}

/// The 5th, 50th and 95th centiles of `n` draws, time after time: the order statistics at ranks
/// i and i + 1 (i = ⌊p(n − 1)⌋), interpolated. Neighbouring times (10 min apart) reorder few
/// curves, so each centile is found between two pivot draws: the draws `RANK_MARGIN` ranks
/// below and above it at the previous time, at their current levels. One pass counts the levels
/// below the lower pivot and collects those between the pivots; when the ranks fall inside that
/// bracket it is sorted alone (a few dozen levels), else (the first time, or curves that cross a
/// lot) the whole column is sorted. Levels are compared by `f64::total_cmp` (as integer keys),
/// so either way the centiles are exactly those of a full sort.
#[derive(Clone)]
struct BandSorter {
    /// ranks i of the three centiles, and the margin of the brackets around them
    ranks: [usize; 3],
    margin: usize,
    /// per centile, the draws bracketing it at the previous time (None: sort the whole column)
    pivots: Option<[(u32, u32); 3]>,
    /// keys of the current time, in draw order
    keys: Vec<i64>,
    buckets: [Vec<(i64, u32)>; 3],
    full: Vec<(i64, u32)>,
}

impl BandSorter {
    fn new(n: usize) -> Self {
        let rank = |p: f64| (p * (n.max(1) - 1) as f64).floor() as usize;
        BandSorter {
            ranks: [rank(0.05), rank(0.5), rank(0.95)],
            margin: (n / 64).max(4),
            pivots: None,
            keys: vec![0; n],
            buckets: Default::default(),
            full: Vec::new(),
        }
    }

    /// The centiles at time `t` of `value(draw)`.
    #[inline]
    fn point(&mut self, t: f64, value: impl Fn(usize) -> f64) -> BandPoint {
        let n = self.keys.len();
        for (d, k) in self.keys.iter_mut().enumerate() {
            *k = total_key(value(d));
        }
        let x = self.bracketed().unwrap_or_else(|| self.sorted_fully());
        let q = |p: f64, (x, y): (f64, f64)| {
            let r = p * (n.max(1) - 1) as f64;
            x + r.fract() * (y - x)
        };
        BandPoint {
            time_h: t,
            p05_mmol_l: q(0.05, x[0]),
            p50_mmol_l: q(0.5, x[1]),
            p95_mmol_l: q(0.95, x[2]),
        }
    }

    /// The levels at ranks (i, i + 1) of each centile from the brackets of the previous
    /// pivots, or None when a rank falls outside its bracket (or there are no pivots).
    fn bracketed(&mut self) -> Option<[(f64, f64); 3]> {
        let pivots = self.pivots?;
        let n = self.keys.len();
        let keys = &self.keys;
        let lo = pivots.map(|(a, b)| keys[a as usize].min(keys[b as usize]));
        let hi = pivots.map(|(a, b)| keys[a as usize].max(keys[b as usize]));
        let mut below = [0usize; 3];
        for bucket in self.buckets.iter_mut() {
            bucket.clear();
        }
        for (d, &k) in keys.iter().enumerate() {
            for c in 0..3 {
                below[c] += (k < lo[c]) as usize;
                if k >= lo[c] && k <= hi[c] {
                    self.buckets[c].push((k, d as u32));
                }
            }
        }
        let mut out = [(0.0, 0.0); 3];
        let mut next = [(0u32, 0u32); 3];
        for c in 0..3 {
            let i = self.ranks[c];
            let i1 = (i + 1).min(n - 1);
            let bucket = &mut self.buckets[c];
            if below[c] > i || below[c] + bucket.len() <= i1 {
                self.pivots = None;
                return None;
            }
            bucket.sort_unstable_by_key(|e| e.0);
            let at = |r: usize| bucket[r.clamp(below[c], below[c] + bucket.len() - 1) - below[c]];
            out[c] = (from_total_key(at(i).0), from_total_key(at(i1).0));
            next[c] = (at(i.saturating_sub(self.margin)).1, at(i1 + self.margin).1);
        }
        self.pivots = Some(next);
        Some(out)
    }

    /// The levels at ranks (i, i + 1) of each centile from a full sort of the column (and the
    /// pivots for the next time).
    fn sorted_fully(&mut self) -> [(f64, f64); 3] {
        let n = self.keys.len();
        self.full.clear();
        self.full
            .extend(self.keys.iter().enumerate().map(|(d, &k)| (k, d as u32)));
        self.full.sort_unstable_by_key(|e| e.0);
        if n == 0 {
            return [(f64::NAN, f64::NAN); 3];
        }
        let full = &self.full;
        let at = |r: usize| full[r.min(n - 1)];
        let m = self.margin;
        self.pivots = Some(
            self.ranks
                .map(|i| (at(i.saturating_sub(m)).1, at(i + 1 + m).1)),
        );
        self.ranks
            .map(|i| (from_total_key(at(i).0), from_total_key(at(i + 1).0)))
    }
}

/// Score every candidate over the posterior and choose (see the module documentation).
pub fn decide(
    post: &Posterior,
    given: &Regimen,
    s: &DecisionSettings,
) -> Result<Decision, MgivError> {
    check_decision_settings(post, s)?;
    let now = s.now_h;
    let params = post.resample(s.n_draws.max(50));
    let dc = DecisionCurves::new(&params, given, s)?;
    // the rate running at `now` under the given regimen (what "continue as given" means)
    let current_mmol_h = running_rate_mmol_per_h(&given.events, now);
    let mut continue_as_given = dc.score(s, 0.0, 0.0, true);
    continue_as_given.rate_mmol_per_h = current_mmol_h;
    continue_as_given.rate_g_per_h =
        MgAmount::from_mmol(current_mmol_h).salt_g(Salt::MgSo4Heptahydrate);
    let (recommended, best_without_bolus, feasible) = dc.choose(s, continue_as_given)?;
    let (forecast_continue, forecast_recommended) = dc.bands(
        g_to_mmol(recommended.rate_g_per_h),
        g_to_mmol(recommended.bolus_g),
    );
    Ok(Decision {
        recommended,
        continue_as_given,
        best_without_bolus,
        feasible,
        forecast_continue,
        forecast_recommended,
    })
}

/// The decision time, horizon, target and risk limit, each checked with a message naming it.
fn check_decision_settings(post: &Posterior, s: &DecisionSettings) -> Result<(), MgivError> {
    let last_level = post.levels.iter().map(|l| l.time_h).fold(0.0, f64::max);
    if !(s.now_h.is_finite() && s.now_h >= last_level && s.now_h <= 24.0 * 90.0) {
        return Err(invalid(
            "now",
            format!("{} h", s.now_h),
            format!("a decision time at or after the last level ({last_level} h)"),
        ));
    }
    check_horizon("horizon", s.horizon_h)?;
    let (lo, hi) = s.target_mmol_l;
    if !(lo > 0.0 && lo < hi && hi <= 10.0) {
        return Err(invalid(
            "target",
            format!("{lo}-{hi} mmol/L"),
            "LO-HI with 0 < LO < HI ≤ 10 mmol/L",
        ));
    }
    if !(s.max_p_toxic > 0.0 && s.max_p_toxic < 1.0) {
        return Err(invalid(
            "max P(toxic)",
            s.max_p_toxic,
            "a probability strictly between 0 and 1",
        ));
    }
    Ok(())
}

/// Per posterior draw, on the decision grid (every 10 min from `now` to `now + horizon`): the
/// level with the given regimen continued (`cont`) and stopped at `now` (`base`), and the unit
/// responses to 1 mmol/h from `now` (`ur`) and to a 1-mmol load over 20 min (`ub`); any
/// candidate's curve is `base + rate·ur + bolus·ub`. Before them, the continued curve every 10
/// min before `now` (`past`), for the forecast bands. Each draw's curves lie together in one
/// record of `np + 4 m` levels (`past`, `cont`, `base`, `ur`, `ub`), the records one after the
/// other in draw order, so scoring a draw and building its forecast read one contiguous block.
struct DecisionCurves {
    grid: Vec<f64>,
    /// index of now + 2 h (time in target counts from there) and of now + 6 h
    i2: usize,
    i6: usize,
    forecast_times: Vec<f64>,
    /// number of draws, and of forecast times before `now`
    n: usize,
    np: usize,
    records: Vec<f64>,
}

impl DecisionCurves {
    fn new(
        params: &[IndividualParams],
        given: &Regimen,
        s: &DecisionSettings,
    ) -> Result<Self, MgivError> {
        let now = s.now_h;
        // decision grid every 10 min from now to now + horizon (10 min hits the end of a 20-min bolus)
        let steps = (s.horizon_h * 6.0).round() as usize;
        let grid: Vec<f64> = (0..=steps).map(|i| now + i as f64 / 6.0).collect();
        let i6 = grid
            .iter()
            .position(|&t| t >= now + 6.0 - 1e-9)
            .unwrap_or(steps);
        let i2 = grid
            .iter()
            .position(|&t| t >= now + 2.0 - 1e-9)
            .unwrap_or(0);
        let stopped = Plan::new(&stop_at(&given.events, now));
        let continued = Plan::new(&given.events);
        let unit_rate = Plan::new(&[DoseEvent::Infusion {
            start_h: now,
            end_h: Some(now + s.horizon_h + 1.0),
            rate_mmol_per_h: 1.0,
            phase: 0,
        }]);
        let unit_bolus = Plan::new(&[DoseEvent::Infusion {
            start_h: now,
            end_h: Some(now + 1.0 / 3.0),
            rate_mmol_per_h: 3.0,
            phase: 0,
        }]);
        // the forecast bands every 10 minutes from 0 to the end of the horizon, so a 20-minute
        // load's peak is drawn at its height (the text report prints whole hours): the past on
        // its own grid, the future on the decision grid (no extra curves)
        let past: Vec<f64> = (0..)
            .map(|i| i as f64 / 6.0)
            .take_while(|t| *t < now - 1e-9)
            .collect();
        let forecast_times: Vec<f64> = past.iter().chain(&grid).copied().collect();
        // in record order; 0: the draw's own baseline, 1: baseline 0 (unit responses)
        let runs: [(u8, &Plan, &[f64]); 5] = [
            (0, &continued, &past),
            (0, &continued, &grid),
            (0, &stopped, &grid),
            (1, &unit_rate, &grid),
            (1, &unit_bolus, &grid),
        ];
        let parallel = params.len() >= PARALLEL_MIN_DRAWS;
        let records = per_draw_curves(params, &runs, parallel)?;
        Ok(DecisionCurves {
            i2,
            i6,
            forecast_times,
            n: params.len(),
            np: past.len(),
            grid,
            records,
        })
    }

    /// Levels per draw record.
    fn stride(&self) -> usize {
        self.np + 4 * self.grid.len()
    }

    /// Draw `d`'s continued curve at every forecast time (before `now`, then on the grid).
    #[inline]
    fn continued_all(&self, d: usize) -> &[f64] {
        let st = self.stride();
        &self.records[d * st..][..self.np + self.grid.len()]
    }

    /// Draw `d`'s curve number `k` on the decision grid (0 continued, 1 stopped, 2 unit rate,
    /// 3 unit bolus).
    #[inline]
    fn on_grid(&self, d: usize, k: usize) -> &[f64] {
        let (st, m) = (self.stride(), self.grid.len());
        &self.records[d * st + self.np + k * m..][..m]
    }

    /// The forecast bands if the order continued as given, and with `rate` mmol/h (after a load
    /// of `bolus` mmol over 20 min) from `now`. Up to and including `now` the new order has not
    /// acted, so the two bands share those points (computed once).
    fn bands(&self, rate: f64, bolus: f64) -> (Vec<BandPoint>, Vec<BandPoint>) {
        let (np, m) = (self.np, self.grid.len());
        let mut sorter = BandSorter::new(self.n);
        let mut at_now = None;
        let mut cont = Vec::with_capacity(np + m);
        for (j, &t) in self.forecast_times.iter().enumerate() {
            cont.push(sorter.point(t, |d| self.continued_all(d)[j]));
            if j == np {
                at_now = Some(sorter.clone());
            }
        }
        let mut rec = cont[..(np + 1).min(cont.len())].to_vec();
        if let Some(mut sorter) = at_now {
            for (i, &t) in self.grid.iter().enumerate().skip(1) {
                rec.push(sorter.point(t, |d| {
                    let (b, u, ub) = (self.on_grid(d, 1), self.on_grid(d, 2), self.on_grid(d, 3));
                    b[i] + rate * u[i] + bolus * ub[i]
                }));
            }
        }
        (cont, rec)
    }

    /// A candidate (`rate_g` g/h from now, `bolus_g` g over 20 min at now) over the draws: its
    /// curves are the continued ones when `continued`, else built from the unit responses.
    fn score(&self, s: &DecisionSettings, rate_g: f64, bolus_g: f64, continued: bool) -> Candidate {
        let (lo, hi) = s.target_mmol_l;
        let (m, i2, i6) = (self.grid.len(), self.i2, self.i6);
        let n = self.n;
        let nd = n as f64;
        let r = g_to_mmol(rate_g);
        let b = g_to_mmol(bolus_g);
        let (mut tit, mut p6, mut pend, mut pbelow, mut ptox) = (0.0, 0.0, 0.0, 0.0, 0.0);
        let mut ends = Vec::with_capacity(n);
        for d in 0..n {
            let (mut peak, mut inside) = (f64::MIN, 0usize);
            let (c6, cend) = if continued {
                let v = self.on_grid(d, 0);
                // `if c > peak` rather than `f64::max` (which the compiler does not keep in a
                // register here): the same maximum (NaN skipped either way; only a signed zero
                // could differ, and the peak is only compared with the toxic threshold)
                for &c in &v[..i2.min(m)] {
                    if c > peak {
                        peak = c;
                    }
                }
                for &c in &v[i2.min(m)..] {
                    if c > peak {
                        peak = c;
                    }
                    inside += (c >= lo && c <= hi) as usize;
                }
                (v[i6], v[m - 1])
            } else {
                let (bd, ud, bb) = (self.on_grid(d, 1), self.on_grid(d, 2), self.on_grid(d, 3));
                let (p1, _) = peak_and_inside(&bd[..i2], &ud[..i2], &bb[..i2], r, b, lo, hi);
                let (p2, n2) = peak_and_inside(&bd[i2..], &ud[i2..], &bb[i2..], r, b, lo, hi);
                peak = peak.max(p1).max(p2);
                inside += n2;
                let at = |i: usize| bd[i] + r * ud[i] + b * bb[i];
                (at(i6), at(m - 1))
            };
            tit += inside as f64 / (m - i2).max(1) as f64;
            p6 += (c6 >= lo && c6 <= hi) as u8 as f64;
            pend += (cend >= lo && cend <= hi) as u8 as f64;
            pbelow += (cend < lo) as u8 as f64;
            ptox += (peak > s.toxic_mmol_l) as u8 as f64;
            ends.push(cend);
        }
        let mid = ends.len() / 2;
        let p50_end = *ends.select_nth_unstable_by(mid, f64::total_cmp).1;
        Candidate {
            rate_g_per_h: rate_g,
            rate_mmol_per_h: r,
            bolus_g,
            time_in_target: tit / nd,
            p_in_target_6h: p6 / nd,
            p_in_target_end: pend / nd,
            p_below_target_end: pbelow / nd,
            p_above_toxic: ptox / nd,
            p50_end_mmol_l: p50_end,
        }
    }

    /// The candidates `rates_g` (g/h) after a load of `bolus_g` (g over 20 min), scored as
    /// [`Self::score`] does but without their median end level (NaN here; see
    /// [`Self::with_p50_end`]). Draw by draw, every rate reads the draw's record while it is in
    /// the L1 cache (one pass over the records for the block instead of one per rate); each
    /// candidate's sums still run over the draws in order, so the results are identical.
    fn score_rates(&self, s: &DecisionSettings, bolus_g: f64, rates_g: &[f64]) -> Vec<Candidate> {
        let (lo, hi) = s.target_mmol_l;
        let (m, i2, i6) = (self.grid.len(), self.i2, self.i6);
        let nd = self.n as f64;
        let b = g_to_mmol(bolus_g);
        let rs: Vec<f64> = rates_g.iter().map(|&g| g_to_mmol(g)).collect();
        // per rate: time in target, P6, Pend, Pbelow, Ptox (sums over the draws)
        let mut acc = vec![[0.0f64; 5]; rs.len()];
        for d in 0..self.n {
            let (bd, ud, bb) = (self.on_grid(d, 1), self.on_grid(d, 2), self.on_grid(d, 3));
            let tally = |r: f64, a: &mut [f64; 5], peak: f64, n2: usize| {
                let at = |i: usize| bd[i] + r * ud[i] + b * bb[i];
                let (c6, cend) = (at(i6), at(m - 1));
                a[0] += n2 as f64 / (m - i2).max(1) as f64;
                a[1] += (c6 >= lo && c6 <= hi) as u8 as f64;
                a[2] += (cend >= lo && cend <= hi) as u8 as f64;
                a[3] += (cend < lo) as u8 as f64;
                a[4] += (peak > s.toxic_mmol_l) as u8 as f64;
            };
            for (r4, a4) in rs.chunks(4).zip(acc.chunks_mut(4)) {
                if let Ok(r4) = <&[f64; 4]>::try_from(r4) {
                    let (pk, ins) = peaks_and_insides(bd, ud, bb, r4, b, lo, hi, i2);
                    for k in 0..4 {
                        tally(r4[k], &mut a4[k], pk[k], ins[k]);
                    }
                } else {
                    for (&r, a) in r4.iter().zip(a4.iter_mut()) {
                        let (pk, ins) = peaks_and_insides(bd, ud, bb, &[r], b, lo, hi, i2);
                        tally(r, a, pk[0], ins[0]);
                    }
                }
            }
        }
        rates_g
            .iter()
            .zip(&rs)
            .zip(&acc)
            .map(|((&rate_g, &r), a)| Candidate {
                rate_g_per_h: rate_g,
                rate_mmol_per_h: r,
                bolus_g,
                time_in_target: a[0] / nd,
                p_in_target_6h: a[1] / nd,
                p_in_target_end: a[2] / nd,
                p_below_target_end: a[3] / nd,
                p_above_toxic: a[4] / nd,
                p50_end_mmol_l: f64::NAN,
            })
            .collect()
    }

    /// `c` (scored by [`Self::score_rates`]) with its median level at the end of the horizon.
    fn with_p50_end(&self, mut c: Candidate) -> Candidate {
        let m = self.grid.len();
        let (r, b) = (g_to_mmol(c.rate_g_per_h), g_to_mmol(c.bolus_g));
        let mut ends: Vec<f64> = (0..self.n)
            .map(|d| {
                let (bd, ud, bb) = (self.on_grid(d, 1), self.on_grid(d, 2), self.on_grid(d, 3));
                bd[m - 1] + r * ud[m - 1] + b * bb[m - 1]
            })
            .collect();
        let mid = ends.len() / 2;
        c.p50_end_mmol_l = *ends.select_nth_unstable_by(mid, f64::total_cmp).1;
        c
    }

    /// The best candidate without a load and with one (most time in target within the risk
    /// limit; ties to the smaller dose), then the recommendation: a load only when it adds at
    /// least 5 points of time in target. Returns (recommended, best without a load, feasible).
    fn choose(
        &self,
        s: &DecisionSettings,
        continue_as_given: Candidate,
    ) -> Result<(Candidate, Candidate, bool), MgivError> {
        let mut best_nb: Option<Candidate> = None;
        let mut best_b: Option<Candidate> = None;
        let mut least_toxic: Option<Candidate> = None;
        let mut rates = s.rates_g_per_h.clone();
        rates.sort_by(f64::total_cmp);
        for &bg in &s.boluses_g {
            // the rates of a row in blocks of RATE_BLOCK, scored together (a block may score a
            // few rates past the row's first too toxic one: unused)
            'row: for block in rates.chunks(RATE_BLOCK) {
                let valid = |g: f64| g.is_finite() && g >= 0.0;
                let n_valid = if valid(bg) {
                    block.iter().position(|&g| !valid(g)).unwrap_or(block.len())
                } else {
                    0
                };
                let scored = self.score_rates(s, bg, &block[..n_valid]);
                for (j, &rg) in block.iter().enumerate() {
                    if j >= n_valid {
                        return Err(invalid(
                            "candidate dose",
                            format!("{bg} g + {rg} g/h"),
                            "non-negative doses",
                        ));
                    }
                    let c = scored[j];
                    if least_toxic.is_none_or(|l| c.p_above_toxic < l.p_above_toxic) {
                        least_toxic = Some(c);
                    }
                    if c.p_above_toxic > s.max_p_toxic {
                        // every level rises with the rate (unit responses are ≥ 0), so a higher
                        // rate with the same bolus cannot be less toxic: stop this row
                        break 'row;
                    }
                    let slot = if bg == 0.0 { &mut best_nb } else { &mut best_b };
                    let better = match slot {
                        None => true,
                        Some(b) => {
                            c.time_in_target > b.time_in_target + 0.005
                                || ((c.time_in_target - b.time_in_target).abs() <= 0.005
                                    && (c.bolus_g, c.rate_g_per_h) < (b.bolus_g, b.rate_g_per_h)
                                    && c.p_above_toxic <= b.p_above_toxic)
                        }
                    };
                    if better {
                        *slot = Some(c);
                    }
                }
            }
        }
        // the median end level of the candidates that can be reported
        let [best_nb, best_b, least_toxic] =
            [best_nb, best_b, least_toxic].map(|c| c.map(|c| self.with_p50_end(c)));
        let feasible = best_nb.is_some() || best_b.is_some();
        let best_without_bolus = best_nb.or(least_toxic).unwrap_or(continue_as_given);
        let recommended = match (best_nb, best_b) {
            (Some(nb), Some(b))
                if b.time_in_target >= nb.time_in_target + DEFAULT_MIN_BOLUS_GAIN =>
            {
                b
            }
            (Some(nb), _) => nb,
            (None, Some(b)) => b,
            (None, None) => least_toxic.unwrap_or(continue_as_given),
        };
        Ok((recommended, best_without_bolus, feasible))
    }
}

/// Draws from which the decision curves are computed on the rayon pool; below, on the calling
/// thread (400 draws take about a millisecond, less than starting the pool's threads costs).
const PARALLEL_MIN_DRAWS: usize = 4096;

/// Candidate rates scored in one pass over the draws' records (see `DecisionCurves::choose`).
const RATE_BLOCK: usize = 4;

/// Per-draw curves of each run, as one record per draw (the runs' levels one after the other),
/// in draw order (each draw is independent, so the levels do not depend on the thread count or
/// on how the draws are batched): the fixed-grid batch path for IV orders, [`BATCH`] draws per
/// batch (levels equal to 1e-13), else the event-driven kernel; on the rayon pool when
/// `parallel`.
fn per_draw_curves(
    params: &[IndividualParams],
    runs: &[(u8, &Plan, &[f64]); 5],
    parallel: bool,
) -> Result<Vec<f64>, MgivError> {
    let stride: usize = runs.iter().map(|r| r.2.len()).sum::<usize>().max(1);
    let mut offsets = [0usize; 5];
    for v in 1..runs.len() {
        offsets[v] = offsets[v - 1] + runs[v - 1].2.len();
    }
    let mut records = vec![0.0; params.len() * stride];
    let fixed: Vec<_> = runs
        .iter()
        .zip(offsets)
        .filter_map(|((k, plan, times), off)| {
            FixedGrid::new(plan, times).map(|g| (*k, g, times.len(), off))
        })
        .collect();
    if fixed.len() == runs.len() {
        // IV orders: the fixed-grid batch path
        let fill = |chunk: &[IndividualParams],
                    recs: &mut [f64],
                    (b, bz): &mut (Batch, Batch)|
         -> Result<(), MgivError> {
            b.clear();
            bz.clear();
            for p in chunk {
                let modes = Modes::from_params(p)?;
                let mut zero = modes;
                zero.baseline_mmol_l = 0.0;
                b.push(&modes);
                bz.push(&zero);
            }
            for (kernel, g, nt, off) in &fixed {
                let bt = if *kernel == 0 { &mut *b } else { &mut *bz };
                bt.run(g, f64::INFINITY);
                // the batch's outputs are [time][lane]: each record's run written in one go
                for (s, rec) in recs.chunks_exact_mut(stride).enumerate() {
                    for (k, r) in rec[*off..off + nt].iter_mut().enumerate() {
                        *r = bt.out[k * BATCH + s];
                    }
                }
            }
            Ok(())
        };
        if parallel {
            // the first error in draw order, whatever the thread count
            params
                .par_chunks(BATCH)
                .zip(records.par_chunks_mut(BATCH * stride))
                .map_init(
                    || (Batch::new(), Batch::new()),
                    |bs, (chunk, recs)| fill(chunk, recs, bs),
                )
                .collect::<Vec<_>>()
                .into_iter()
                .collect::<Result<(), _>>()?;
        } else {
            let mut bs = (Batch::new(), Batch::new());
            for (chunk, recs) in params.chunks(BATCH).zip(records.chunks_mut(BATCH * stride)) {
                fill(chunk, recs, &mut bs)?;
            }
        }
    } else {
        let fill = |p: &IndividualParams, rec: &mut [f64]| -> Result<(), MgivError> {
            let modes = Modes::from_params(p)?;
            let mut zero = modes;
            zero.baseline_mmol_l = 0.0;
            let mut k = Kernel::new(&modes);
            let mut kz = Kernel::new(&zero);
            for (&(kernel, plan, times), off) in runs.iter().zip(offsets) {
                let out = &mut rec[off..off + times.len()];
                if kernel == 0 {
                    k.run(plan, times, out, None);
                } else {
                    kz.run(plan, times, out, None);
                }
            }
            Ok(())
        };
        if parallel {
            params
                .par_iter()
                .zip(records.par_chunks_mut(stride))
                .map(|(p, rec)| fill(p, rec))
                .collect::<Vec<_>>()
                .into_iter()
                .collect::<Result<(), _>>()?;
        } else {
            for (p, rec) in params.iter().zip(records.chunks_mut(stride)) {
                fill(p, rec)?;
            }
        }
    }
    Ok(records)
}

/// Everything `mgiv adjust` reports.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Adjustment {
    pub model_id: String,
    pub model_citation: String,
    pub residual_proportional: f64,
    pub residual_additive_mmol_l: f64,
    /// "total" or "change_from_baseline": what the residual error applies to
    pub residual_on: mgiv_core::model::ResidualScale,
    /// parameters whose prior includes between-occasion variability ("cl_l_h")
    pub iov_parameters: Vec<String>,
    pub levels: Vec<Level>,
    /// MAP prediction at each level time
    pub predicted_map_mmol_l: Vec<f64>,
    /// prediction for a typical patient with these covariates
    pub predicted_typical_mmol_l: Vec<f64>,
    pub parameters: Vec<ParamSummary>,
    pub baseline_measured: bool,
    pub baseline_prior: Option<BaselinePrior>,
    pub importance_sampling_ess: f64,
    pub importance_sampling_draws: usize,
    /// largest |IS median − MAP| across parameters, in Laplace SDs
    pub laplace_is_max_shift_sd: f64,
    pub decision: Decision,
    pub settings_now_h: f64,
    pub settings_horizon_h: f64,
    pub target_mmol_l: (f64, f64),
    pub toxic_mmol_l: f64,
    pub max_p_toxic: f64,
    pub explanation: Vec<String>,
    pub warnings: Vec<Warning>,
}

/// Full TDM: posterior from the levels, forecast, recommendation and its explanation.
#[allow(clippy::too_many_arguments)]
pub fn adjust(
    model: &ModelSpec,
    patient: &Patient,
    given: &Regimen,
    levels: &[Level],
    baseline_prior: BaselinePrior,
    decision: &DecisionSettings,
    settings: PosteriorSettings,
) -> Result<Adjustment, MgivError> {
    let pm = PopModel::new(model)?;
    if given.has_im() && !model.supports_im() {
        return Err(invalid(
            "model",
            &model.id,
            "a model with IM absorption for a regimen with IM doses",
        ));
    }
    let ind = model.individualise(patient)?;
    // the baseline is estimated from the levels here, not taken from the model
    let mut warnings: Vec<Warning> = ind
        .warnings
        .iter()
        .filter(|w| !w.is(mgiv_core::model::BASELINE_NOT_MEASURED))
        .cloned()
        .collect();
    let p = ind.params;
    let typical = crate::popmodel::param_vector(&p);
    let baseline_fixed = patient.baseline.map(|b| b.mmol_l());
    let post = fit_posterior(
        &pm,
        typical,
        baseline_fixed,
        Some(baseline_prior),
        &given.events,
        levels,
        settings,
    )?;
    let dec = decide(&post, given, decision)?;
    let times: Vec<f64> = post.levels.iter().map(|l| l.time_h).collect();
    let mut pred_map = vec![0.0; times.len()];
    let plan = Plan::new(&given.events);
    Kernel::new(&Modes::from_params(&post.map_params())?).run(&plan, &times, &mut pred_map, None);
    let typ_params = pm.individual(
        &typical,
        &vec![0.0; pm.n_eta()],
        baseline_fixed.unwrap_or(baseline_prior.mean_mmol_l),
    );
    let mut pred_typ = vec![0.0; times.len()];
    Kernel::new(&Modes::from_params(&typ_params)?).run(&plan, &times, &mut pred_typ, None);
    let params = post.summaries();
    let max_shift = laplace_is_max_shift_sd(&post, &params, pm.n_eta());
    warnings.extend(posterior_warnings(&post, decision));
    let explanation = explain(
        &post,
        &params,
        &pred_map,
        &pred_typ,
        &dec,
        decision,
        baseline_prior,
        given,
    );
    Ok(Adjustment {
        model_id: model.id.clone(),
        model_citation: model.citation.clone(),
        residual_proportional: pm.residual.proportional,
        residual_additive_mmol_l: pm.residual.additive_mmol_l,
        residual_on: pm.residual.on,
        iov_parameters: pm
            .iov_params
            .iter()
            .map(|&k| PARAM_KEYS[k].to_string())
            .collect(),
        levels: post.levels.clone(),
        predicted_map_mmol_l: pred_map,
        predicted_typical_mmol_l: pred_typ,
        parameters: params,
        baseline_measured: baseline_fixed.is_some(),
        baseline_prior: if baseline_fixed.is_some() {
            None
        } else {
            Some(baseline_prior)
        },
        importance_sampling_ess: post.ess,
        importance_sampling_draws: post.weights.len(),
        laplace_is_max_shift_sd: max_shift,
        decision: dec,
        settings_now_h: decision.now_h,
        settings_horizon_h: decision.horizon_h,
        target_mmol_l: decision.target_mmol_l,
        toxic_mmol_l: decision.toxic_mmol_l,
        max_p_toxic: decision.max_p_toxic,
        explanation,
        warnings,
    })
}

/// Largest |importance-sampling median − MAP| over the estimated parameters, in Laplace SDs
/// (on the log scale for the first `n_eta` parameters).
fn laplace_is_max_shift_sd(post: &Posterior, params: &[ParamSummary], n_eta: usize) -> f64 {
    let d = post.dim();
    let mut max_shift = 0.0f64;
    for (a, ps) in params.iter().enumerate().filter(|(_, p)| p.estimated) {
        let sd = post.cov[a * d + a].sqrt();
        let shift = if a < n_eta {
            ((ps.is_p50 / ps.typical).ln() - post.map[a]).abs() / sd
        } else {
            (ps.is_p50 - post.map[a]).abs() / sd
        };
        max_shift = max_shift.max(shift);
    }
    max_shift
}

/// TDM-IS-INEFFICIENT (effective sample size under 10 % of the draws), TDM-MAP-NOT-CONVERGED
/// and TDM-LEVELS-OLD (the decision more than 12 h after the last level).
fn posterior_warnings(post: &Posterior, decision: &DecisionSettings) -> Vec<Warning> {
    let mut warnings = Vec::new();
    if post.ess < 0.1 * post.weights.len() as f64 {
        warnings.push(Warning::new(
            "TDM-IS-INEFFICIENT",
            format!(
                "importance sampling is inefficient (effective sample size {:.0} of {}): the posterior is far from Gaussian; treat the intervals as rough",
                post.ess,
                post.weights.len()
            ),
            "mgiv TDM (Laplace posterior checked by importance sampling; docs/POPULATION.md)",
        ));
    }
    if !post.map_search.converged {
        warnings.push(Warning::new(
            "TDM-MAP-NOT-CONVERGED",
            format!(
                "the search for the most probable parameters stopped before it converged ({} evaluations): the posterior is centred on an approximate mode; the importance-sampling weights correct for it, but treat the intervals as rough",
                post.map_search.evaluations
            ),
            "mgiv TDM (BFGS posterior mode, mgiv_core::optim; docs/POPULATION.md)",
        ));
    }
    let last = post.levels.last().map(|l| l.time_h).unwrap_or(0.0);
    if decision.now_h - last > 12.0 {
        warnings.push(Warning::new(
            "TDM-LEVELS-OLD",
            format!(
                "the decision time is {:.0} h after the last level: the forecast rests on the model more than on the patient",
                decision.now_h - last
            ),
            "mgiv TDM (docs/POPULATION.md)",
        ));
    }
    warnings
}

fn pct(p: f64) -> String {
    format!("{:.0} %", 100.0 * p)
}

#[allow(clippy::too_many_arguments)]
fn explain(
    post: &Posterior,
    params: &[ParamSummary],
    pred_map: &[f64],
    pred_typ: &[f64],
    dec: &Decision,
    s: &DecisionSettings,
    prior: BaselinePrior,
    given: &Regimen,
) -> Vec<String> {
    let mut out = explain_fit(post, pred_map, pred_typ);
    out.extend(params.iter().map(|p| explain_param(p, prior)));
    out.push(explain_continue(dec, s, given));
    out.extend(explain_recommendation(dec, s));
    out.push(format!(
        "Check: measure again about 4–6 h after the change (at {} h); the posterior and this advice update with every level.",
        fmt_h(s.now_h + 6.0)
    ));
    out
}

/// The measured levels, the MAP fit at those times, the residual error and the IOV in the prior.
fn explain_fit(post: &Posterior, pred_map: &[f64], pred_typ: &[f64]) -> Vec<String> {
    let mut out = Vec::new();
    let lv: Vec<String> = post
        .levels
        .iter()
        .zip(pred_typ)
        .map(|(l, t)| {
            format!(
                "{:.2} mmol/L at {} h (typical patient: {:.2})",
                l.mmol_l,
                fmt_h(l.time_h),
                t
            )
        })
        .collect();
    out.push(format!("Measured: {}.", lv.join("; ")));
    let fitted: Vec<String> = pred_map.iter().map(|v| format!("{v:.2}")).collect();
    out.push(format!(
        "The individual (MAP) fit gives {} mmol/L at those times; the model's residual error (±{:.0} % and ±{:.2} mmol/L, {}) is allowed for.",
        fitted.join(", "),
        100.0 * post.model.residual.proportional,
        post.model.residual.additive_mmol_l,
        post.model.residual.on.describe()
    ));
    if !post.model.iov_params.is_empty() {
        out.push(format!(
            "The source's between-occasion variability on {} is part of the prior: this course's value may differ from the patient's usual one.",
            post.model
                .iov_params
                .iter()
                .map(|&k| PARAM_KEYS[k])
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    out
}

/// One parameter's posterior against the typical value (or the baseline, measured or estimated).
fn explain_param(p: &ParamSummary, prior: BaselinePrior) -> String {
    let (label, unit) = match p.name.as_str() {
        "cl_l_h" => ("clearance", "L/h"),
        "v1_l" => ("central volume", "L"),
        "q_l_h" => ("intercompartmental clearance", "L/h"),
        "v2_l" => ("peripheral volume", "L"),
        _ => ("endogenous baseline", "mmol/L"),
    };
    if p.name == "baseline_mmol_l" {
        if p.estimated {
            return format!(
                "Endogenous baseline (not measured): estimated {:.2} mmol/L (90 % credible interval {:.2}–{:.2}) from the population prior {:.2} ± {:.2} mmol/L and the levels; a pre-treatment level would fix it.",
                p.is_p50, p.is_p05, p.is_p95, prior.mean_mmol_l, prior.sd_mmol_l
            );
        }
        return format!("Endogenous baseline: measured {:.2} mmol/L (fixed).", p.map);
    }
    let ratio = p.is_p50 / p.typical;
    let word = if ratio > 1.1 {
        "higher than"
    } else if ratio < 0.9 {
        "lower than"
    } else {
        "close to"
    };
    format!(
        "Individual {label}: {:.2} {unit} (90 % credible interval {:.2}–{:.2}), {word} the typical {:.2} {unit} for this patient's covariates.",
        p.is_p50, p.is_p05, p.is_p95, p.typical
    )
}

/// What continuing the given regimen is predicted to do.
fn explain_continue(dec: &Decision, s: &DecisionSettings, given: &Regimen) -> String {
    let (lo, hi) = s.target_mmol_l;
    let end = s.now_h + s.horizon_h;
    let c = &dec.continue_as_given;
    format!(
        "If '{}' simply continues: at {} h the level is predicted {:.2} mmol/L (median); P(in target {lo}–{hi} mmol/L) = {}, P(below) = {}; P(above {} mmol/L at any time in the next {} h) = {}.",
        given.canonical(),
        fmt_h(end),
        c.p50_end_mmol_l,
        pct(c.p_in_target_end),
        pct(c.p_below_target_end),
        s.toxic_mmol_l,
        fmt_h(s.horizon_h),
        pct(c.p_above_toxic)
    )
}

/// The recommendation (or why none is safe), with why a bolus is proposed.
fn explain_recommendation(dec: &Decision, s: &DecisionSettings) -> Vec<String> {
    let mut out = Vec::new();
    let (lo, hi) = s.target_mmol_l;
    let end = s.now_h + s.horizon_h;
    let r = &dec.recommended;
    let salt = "g MgSO4·7H2O";
    let bolus = if r.bolus_g > 0.0 {
        format!("give {} {salt} over 20 min, then ", fmt_h(r.bolus_g))
    } else {
        String::new()
    };
    if dec.feasible {
        out.push(format!(
            "Recommended at {} h: {bolus}run the maintenance at {} g/h ({:.2} mmol/h) for the next {} h. Predicted: P(in target at {} h) = {} and at {} h = {}; expected time in target {}; P(above {} mmol/L at any time) = {} (limit {}).",
            fmt_h(s.now_h),
            fmt_h(r.rate_g_per_h),
            r.rate_mmol_per_h,
            fmt_h(s.horizon_h),
            fmt_h(s.now_h + 6.0),
            pct(r.p_in_target_6h),
            fmt_h(end),
            pct(r.p_in_target_end),
            pct(r.time_in_target),
            s.toxic_mmol_l,
            pct(r.p_above_toxic),
            pct(s.max_p_toxic)
        ));
        if r.bolus_g > 0.0 {
            let nb = &dec.best_without_bolus;
            out.push(format!(
                "The bolus is proposed because it raises the expected time in target from {} (best rate alone: {} g/h) to {}.",
                pct(nb.time_in_target),
                fmt_h(nb.rate_g_per_h),
                pct(r.time_in_target)
            ));
        }
        if r.p_in_target_end < 0.5 {
            out.push(format!(
                "Even the best rate reaches the target with probability below 50 % within the toxicity limit: the target {lo}–{hi} mmol/L is narrow relative to this patient's uncertainty; measure again and re-run."
            ));
        }
    } else {
        out.push(format!(
            "No candidate keeps P(above {} mmol/L) under {}: stop the infusion (least risky choice: {} g/h, P = {}), check reflexes, respiration and urine output, and measure again; consider calcium gluconate if toxicity is suspected (magnesium-pk.md §4.4).",
            s.toxic_mmol_l,
            pct(s.max_p_toxic),
            fmt_h(r.rate_g_per_h),
            pct(r.p_above_toxic)
        ));
    }
    out
}

fn fmt_h(v: f64) -> String {
    mgiv_core::units::fmt_num(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prior_predictive_range_batch_path_equals_event_driven() {
        let pm = PopModel::new(&mgiv_core::model::builtin_model("du-2019").unwrap()).unwrap();
        let r = Regimen::from_text("4 g over 20 min, then 1 g/h", Some(70.0)).unwrap();
        let times = [0.5, 2.0, 6.0, 12.0];
        let prior = BaselinePrior {
            mean_mmol_l: 0.75,
            sd_mmol_l: 0.13,
        };
        let typ = [3.3, 12.7, 3.2, 14.0];
        for fixed in [None, Some(0.8)] {
            let run = |g| {
                prior_predictive_range_via(
                    &pm, typ, fixed, prior, &r.events, &times, 0.999, 1500, g,
                )
                .unwrap()
            };
            let (a, b) = (run(true), run(false));
            for ((lo1, hi1), (lo2, hi2)) in a.iter().zip(&b) {
                assert!((lo1 - lo2).abs() < 1e-12 && (hi1 - hi2).abs() < 1e-12);
                // a real interval around a plausible level
                assert!(*lo1 > 0.3 && hi1 > lo1 && *hi1 < 6.0, "{lo1} {hi1}");
            }
        }
    }
    use mgiv_core::regimen::Route;

    #[test]
    fn band_equals_a_full_sort_and_both_lane_kinds_agree() {
        let draws: Vec<Vec<f64>> = (0..401)
            .map(|i| {
                (0..5)
                    .map(|j| ((i * 7919 + j * 31) % 1000) as f64 * 1e-3 + (i as f64).sin())
                    .collect()
            })
            .collect();
        // and smooth curves that cross a little from one time to the next (the insertion path)
        let smooth: Vec<Vec<f64>> = (0..401)
            .map(|i| {
                let k = 0.1 + (i as f64 * 0.618).fract();
                (0..5)
                    .map(|j| (j as f64 * k).sin() + 1e-3 * i as f64)
                    .collect()
            })
            .collect();
        let times = [0.0, 1.0, 2.0, 3.0, 4.0];
        // repeated draws (as after resampling), ties, and a time at which a block of curves
        // jumps across the median (the bracket misses: a full sort)
        let repeated: Vec<Vec<f64>> = (0..400)
            .map(|i| {
                let i = i / 3;
                let (a, b) = ((i as f64 * 0.618).fract(), (i as f64 * 0.37).fract() - 0.5);
                (0..9)
                    .map(|j| {
                        let jump = if j == 5 && i % 7 == 0 { 0.5 } else { 0.0 };
                        ((a + 0.02 * j as f64 * b) * 1000.0).round() / 1000.0 + jump
                    })
                    .collect()
            })
            .collect();
        let times9: Vec<f64> = (0..9).map(|j| j as f64).collect();
        for (draws, times) in [
            (&draws, &times[..]),
            (&smooth, &times[..]),
            (&repeated, &times9[..]),
        ] {
            let b = band(draws, times);
            assert_eq!(b.len(), times.len());
            for (j, bp) in b.iter().enumerate() {
                let mut c: Vec<f64> = draws.iter().map(|d| d[j]).collect();
                c.sort_by(f64::total_cmp);
                let n = c.len();
                let q = |p: f64| {
                    let r = p * (n - 1) as f64;
                    let (i, f) = (r.floor() as usize, r.fract());
                    c[i] + f * (c[(i + 1).min(n - 1)] - c[i])
                };
                assert_eq!(bp.p05_mmol_l, q(0.05));
                assert_eq!(bp.p50_mmol_l, q(0.5));
                assert_eq!(bp.p95_mmol_l, q(0.95));
            }
        }
        // both paths are taken: the bracket on smooth curves, a full sort at the jump
        let mut sorter = BandSorter::new(400);
        let mut bracketed = vec![];
        for j in 0..9 {
            let keys: Vec<i64> = repeated.iter().map(|d| total_key(d[j])).collect();
            sorter.keys.copy_from_slice(&keys);
            let got = sorter.bracketed();
            bracketed.push(got.is_some());
            if got.is_none() {
                sorter.sorted_fully();
            }
        }
        // the first time has no pivots; the jump at time 5 leaves its brackets
        assert!(!bracketed[0] && !bracketed[5], "{bracketed:?}");
        assert!(
            bracketed.iter().filter(|b| **b).count() >= 5,
            "{bracketed:?}"
        );
        let (x, y, z): (Vec<f64>, Vec<f64>, Vec<f64>) = (0..147)
            .map(|i| {
                let t = i as f64;
                (0.7 + 0.01 * t.sin(), 0.3 * t.cos().abs(), 0.2 / (1.0 + t))
            })
            .fold((vec![], vec![], vec![]), |mut a, (p, q, r)| {
                a.0.push(p);
                a.1.push(q);
                a.2.push(r);
                a
            });
        for (r, bo) in [(0.0, 0.0), (2.5, 1.0), (4.0, 8.0)] {
            let a = peak_and_inside(&x, &y, &z, r, bo, 1.0, 2.0);
            let w = peak_and_inside_with::<wide::f64x4>(&x, &y, &z, r, bo, 1.0, 2.0);
            assert_eq!(a.0.to_bits(), w.0.to_bits());
            assert_eq!(a.1, w.1);
            // several rates at once: the same peaks and counts, on either lane kind
            let rates = [r, r + 0.5, r * 2.0, 0.25];
            let many = peaks_and_insides(&x, &y, &z, &rates, bo, 0.75, 1.5, 7);
            let wide4 =
                peaks_and_insides_with::<wide::f64x4, 4>(&x, &y, &z, &rates, bo, 0.75, 1.5, 7);
            assert_eq!(many, wide4);
            for (k, &rk) in rates.iter().enumerate() {
                let (p1, _) = peak_and_inside(&x[..7], &y[..7], &z[..7], rk, bo, 0.75, 1.5);
                let (p2, n2) = peak_and_inside(&x[7..], &y[7..], &z[7..], rk, bo, 0.75, 1.5);
                assert_eq!(many.0[k], p1.max(p2));
                assert_eq!(many.1[k], n2);
            }
            assert!(many.1.iter().any(|&c| c > 0 && c < 140), "{many:?}");
        }
    }

    #[test]
    fn decision_curves_do_not_depend_on_threads_or_batching() {
        let pm = PopModel::new(&mgiv_core::model::builtin_model("du-2019").unwrap()).unwrap();
        let typical = [4.5, 14.0, 6.0, 20.0];
        let params: Vec<IndividualParams> = (0..300)
            .map(|d| {
                let mut rng = SubjectRng::new(7, d, Stream::Etas);
                let k = pm.n_eta();
                let (mut z, mut eta) = (vec![0.0; k], vec![0.0; k]);
                pm.draw_eta(&mut rng, &mut z, &mut eta);
                pm.individual(&typical, &eta, 0.8)
            })
            .collect();
        let grid: Vec<f64> = (0..=30).map(|i| 6.0 + i as f64 / 6.0).collect();
        let past: Vec<f64> = (0..36).map(|i| i as f64 / 6.0).collect();
        for text in [
            "4 g over 20 min, then 1 g/h",
            "4 g IV over 20 min, then 5 g IM every 4 h x 3",
        ] {
            let r = Regimen::from_text(text, Some(70.0)).unwrap();
            let (plan, stopped) = (Plan::new(&r.events), Plan::new(&stop_at(&r.events, 6.0)));
            let runs: [(u8, &Plan, &[f64]); 5] = [
                (0, &plan, &past),
                (0, &plan, &grid),
                (0, &stopped, &grid),
                (1, &plan, &grid),
                (1, &stopped, &grid),
            ];
            let serial = per_draw_curves(&params, &runs, false).unwrap();
            let parallel = per_draw_curves(&params, &runs, true).unwrap();
            assert_eq!(serial.len(), 300 * (36 + 4 * 31));
            assert!(serial
                .iter()
                .zip(&parallel)
                .all(|(a, b)| a.to_bits() == b.to_bits()));
            // one draw alone (a batch of one) gives its record in the batch of 300 bit for bit
            let alone = per_draw_curves(&params[257..258], &runs, false).unwrap();
            let st = alone.len();
            assert!(alone
                .iter()
                .zip(&serial[257 * st..258 * st])
                .all(|(a, b)| a.to_bits() == b.to_bits()));
            // and the levels are those of the event-driven kernel (1e-12)
            let modes = Modes::from_params(&params[257]).unwrap();
            let mut out = vec![0.0; grid.len()];
            Kernel::new(&modes).run(&stopped, &grid, &mut out, None);
            let rec = &alone[36 + 31..36 + 62];
            for (a, b) in rec.iter().zip(&out) {
                assert!((a - b).abs() < 1e-12, "{a} vs {b}");
            }
            // levels rise after the dose (not an all-zero record)
            assert!(rec[0] > 0.8 && serial.iter().all(|v| v.is_finite()));
        }
    }

    /// The posterior mode (BFGS on central differences from the Newton start) is the minimum
    /// argmin's Nelder–Mead finds for the same J from the prior mode, an independent
    /// derivative-free search: for an estimated and a measured baseline, 1 to 5 levels.
    #[test]
    fn the_map_is_the_minimum_nelder_mead_finds() {
        let pm = PopModel::new(&mgiv_core::model::builtin_model("du-2019").unwrap()).unwrap();
        let given = Regimen::from_text("4 g over 20 min, then 2 g/h for 24 h", Some(70.0)).unwrap();
        let prior = BaselinePrior {
            mean_mmol_l: 0.75,
            sd_mmol_l: 0.13,
        };
        let typical = [4.5, 14.0, 6.0, 20.0];
        let cases: [(&[Level], Option<f64>); 4] = [
            (&[Level::mmol_l(6.0, 1.4)], None),
            (&[Level::mmol_l(6.0, 1.4), Level::mmol_l(12.0, 1.9)], None),
            (
                &[Level::mmol_l(6.0, 2.9), Level::mmol_l(12.0, 3.6)],
                Some(0.8),
            ),
            (
                &[
                    Level::mmol_l(1.0, 2.0),
                    Level::mmol_l(4.0, 1.7),
                    Level::mmol_l(8.0, 2.2),
                    Level::mmol_l(12.0, 2.4),
                    Level::mmol_l(18.0, 2.5),
                ],
                None,
            ),
        ];
        for (levels, bl) in cases {
            let prior = bl.is_none().then_some(prior);
            let settings = PosteriorSettings {
                n_draws: 50,
                seed: 1,
            };
            let post =
                fit_posterior(&pm, typical, bl, prior, &given.events, levels, settings).unwrap();
            assert!(post.map_search.converged, "{:?}", post.map_search);
            let prob = Problem::new(&pm, typical, bl, prior, &given.events, levels);
            let mut pred = vec![0.0; levels.len()];
            let j = |t: &[f64]| prob.objective(t, &mut pred.clone());
            let mut x0 = vec![0.0; prob.dim()];
            if bl.is_none() {
                x0[pm.n_eta()] = 0.75;
            }
            let (nm, j_nm) = mgiv_core::numerics::nelder_mead(&j, &x0, 0.1, 20_000, 1e-15).unwrap();
            let j_map = prob.objective(&post.map, &mut pred);
            assert!(j_map <= j_nm + 1e-9, "J(MAP) {j_map} vs Nelder–Mead {j_nm}");
            for (a, b) in post.map.iter().zip(&nm) {
                assert!(
                    (a - b).abs() < 2e-4,
                    "MAP {:?} vs Nelder–Mead {nm:?}",
                    post.map
                );
            }
        }
    }

    /// A posterior mode that did not converge is said (TDM-MAP-NOT-CONVERGED), a converged one
    /// is not.
    #[test]
    fn an_unconverged_posterior_mode_is_a_warning() {
        let pm = PopModel::new(&mgiv_core::model::builtin_model("du-2019").unwrap()).unwrap();
        let given = Regimen::from_text("4 g over 20 min, then 1 g/h", Some(70.0)).unwrap();
        let levels = [Level::mmol_l(6.0, 1.4), Level::mmol_l(12.0, 1.9)];
        let prior = BaselinePrior {
            mean_mmol_l: 0.75,
            sd_mmol_l: 0.13,
        };
        let settings = PosteriorSettings {
            n_draws: 50,
            seed: 1,
        };
        let mut post = fit_posterior(
            &pm,
            [4.5, 14.0, 6.0, 20.0],
            None,
            Some(prior),
            &given.events,
            &levels,
            settings,
        )
        .unwrap();
        let s = DecisionSettings::new(12.0, (1.8, 3.0), 3.5);
        let code = "TDM-MAP-NOT-CONVERGED";
        assert!(post.map_search.converged && post.map_search.evaluations > 0);
        assert!(!posterior_warnings(&post, &s).iter().any(|w| w.code == code));
        post.map_search.converged = false;
        let w = posterior_warnings(&post, &s);
        let w = w.iter().find(|w| w.code == code).expect("the warning");
        assert!(w.message.contains("evaluations") && w.source.contains("BFGS"));
    }

    #[test]
    fn the_horizon_is_checked_once_under_the_front_ends_name() {
        assert!(check_horizon("--hours", 2.0).is_ok());
        assert!(check_horizon("--hours", 168.0).is_ok());
        for bad in [1.99, 168.01, f64::NAN, f64::INFINITY, -24.0] {
            let e = check_horizon("horizon_h", bad).unwrap_err().to_string();
            assert!(
                e.starts_with("invalid horizon_h: ") && e.contains("(allowed: 2 to 168 h)"),
                "{e}"
            );
        }
    }

    #[test]
    fn rates_scored_together_equal_each_scored_alone() {
        let pm = PopModel::new(&mgiv_core::model::builtin_model("du-2019").unwrap()).unwrap();
        let given = Regimen::from_text("4 g over 20 min, then 1 g/h", Some(70.0)).unwrap();
        let levels = [Level::mmol_l(6.0, 1.4), Level::mmol_l(12.0, 1.9)];
        let prior = BaselinePrior {
            mean_mmol_l: 0.75,
            sd_mmol_l: 0.13,
        };
        let post = fit_posterior(
            &pm,
            [4.5, 14.0, 6.0, 20.0],
            None,
            Some(prior),
            &given.events,
            &levels,
            PosteriorSettings::default(),
        )
        .unwrap();
        let mut s = DecisionSettings::new(12.0, (1.8, 3.0), 3.5);
        s.toxic_mmol_l = 2.6;
        let dc = DecisionCurves::new(&post.resample(400), &given, &s).unwrap();
        let rates = [0.0, 0.5, 1.0, 1.75, 2.5, 4.0];
        let mut seen_toxic = false;
        for bolus in [0.0, 2.0, 4.0] {
            let together = dc.score_rates(&s, bolus, &rates);
            assert_eq!(together.len(), rates.len());
            for (c, &r) in together.iter().zip(&rates) {
                assert!(c.p50_end_mmol_l.is_nan());
                let alone = dc.score(&s, r, bolus, false);
                assert_eq!(dc.with_p50_end(*c), alone);
                seen_toxic |= alone.p_above_toxic > 0.0 && alone.p_above_toxic < 1.0;
            }
        }
        // the scores are not trivial: some candidates are partly too toxic
        assert!(seen_toxic);
    }

    #[test]
    fn levels_parse_units_and_times() {
        let l = parse_levels("1.9 mmol/L at 12 h; 3.4 mg/dL at 6h; 2.8 mEq/L at 90 min").unwrap();
        assert_eq!(l.len(), 3);
        assert!((l[0].time_h - 1.5).abs() < 1e-12 && (l[0].mmol_l - 1.4).abs() < 1e-12);
        assert!((l[1].time_h - 6.0).abs() < 1e-12 && (l[1].mmol_l - 3.4 / 2.4305).abs() < 1e-9);
        assert!((l[2].mmol_l - 1.9).abs() < 1e-12);
        for bad in [
            "",
            "1.4 at",
            "1.4 mmol/L at six h",
            "40 at 6 h",
            "1.4 mmol/L at 6 weeks",
            "1.4 furlongs at 6 h",
        ] {
            let e = parse_levels(bad).unwrap_err().to_string();
            assert!(e.contains("level") || e.contains("unit"), "{bad}: {e}");
        }
    }

    #[test]
    fn a_level_without_a_unit_is_an_error_unless_only_one_unit_is_plausible() {
        // 1.4 is plausible as mmol/L (1.4), mg/dL (0.58) and mEq/L (0.7): ambiguous
        let e = parse_levels("1.4 at 6 h").unwrap_err().to_string();
        assert!(
            e.contains("no unit") && e.contains("mg/dL") && e.contains("1.4 at 6 h"),
            "{e}"
        );
        // 22 is plausible as mg/dL (9.05 mmol/L) but also as mg/L (0.91 mmol/L): ambiguous
        let e = parse_levels("22 at 6 h").unwrap_err().to_string();
        assert!(e.contains("mg/L"), "{e}");
        // 4.5 mmol/L is plausible as mmol/L, mg/dL and mEq/L; 150 only as mg/L (6.2): error
        assert!(parse_levels("150 at 6 h").is_err());
        assert!(!parse_levels("1.4 mmol/L at 6 h").unwrap()[0].unit_inferred);
    }

    #[test]
    fn stop_at_cuts_infusions_and_drops_later_doses() {
        let r = Regimen::from_text("4 g over 20 min, then 1 g/h", None).unwrap();
        let s = stop_at(&r.events, 12.0);
        assert_eq!(s.len(), 2);
        match s[1] {
            DoseEvent::Infusion { end_h, .. } => assert_eq!(end_h, Some(12.0)),
            _ => panic!(),
        }
        let b = Regimen::from_text(
            "4 g IV over 15 min + 10 g IM, then 5 g IM every 4 h for 24 h",
            None,
        )
        .unwrap();
        let s = stop_at(&b.events, 5.0);
        assert!(s.iter().all(|e| e.start_h() <= 5.0));
        assert!(s.iter().any(
            |e| matches!(e, DoseEvent::Bolus { route: Route::Im, time_h, .. } if *time_h == 4.0)
        ));
    }
}
