//! Blood → CSF magnesium transfer: a one-compartment CSF pool with saturable (carrier-mediated)
//! influx and first-order efflux, fitted to the public human data (see [`crate::fit`] and
//! `docs/BRAIN.md`).
//!
//! ```text
//! dC_csf/dt = J_max · C_p/(K_m + C_p) − k_out · C_csf            (saturable, default)
//! dC_csf/dt = k_in · C_p − k_out · C_csf                          (leaky-barrier alternative)
//! ```
//! With baseline steady state `C_csf,0 = R0 · C_p,0`, in relative units `x = C_p/C_p,0`,
//! `y = C_csf/C_csf,0` both become `dy/dt = k_out · (g(x) − y)` with
//! `g(x) = x(κ+1)/(κ+x)` (κ = K_m/C_p,0) or `g(x) = x` (leaky). Ionised CSF Mg = f_i · total.
//! Serum is taken as piecewise linear in g between the given times and each step is integrated
//! exactly, so the result does not depend on a solver tolerance.

use serde::{Deserialize, Serialize};

use mgiv_core::error::{invalid, MgivError};

use crate::rng::SeededRng;

/// The fitted parameter file shipped with mgiv (written by `mgiv brain fit-csf --write`).
pub const CSF_MODEL_TOML: &str = include_str!("../../../data/brain/csf-model.toml");

/// Which transfer law.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CsfVariant {
    /// saturable influx fitted jointly to Fuchs-Buder 1997 and McKee 2005 (default)
    Saturable,
    /// linear influx fitted to Fuchs-Buder 1997 alone (neurosurgical patients; over-predicts McKee)
    Leaky,
}

impl CsfVariant {
    pub fn parse(s: &str) -> Result<Self, MgivError> {
        match s.trim().to_ascii_lowercase().as_str() {
            "saturable" => Ok(CsfVariant::Saturable),
            "leaky" => Ok(CsfVariant::Leaky),
            _ => Err(invalid("csf model", s, "saturable (default) or leaky")),
        }
    }
    pub fn name(self) -> &'static str {
        match self {
            CsfVariant::Saturable => "saturable",
            CsfVariant::Leaky => "leaky",
        }
    }
}

/// One parameter set of the transfer model.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct CsfParams {
    /// efflux rate constant k_out (1/h)
    pub k_out_per_h: f64,
    /// K_m relative to the baseline serum level (κ); `None` = linear (leaky) influx
    pub km_rel: Option<f64>,
    /// baseline CSF/serum total-Mg ratio R0
    pub ratio_total: f64,
    /// ionised fraction of CSF Mg f_i
    pub ionised_fraction: f64,
}

impl CsfParams {
    /// Steady-state relative CSF level for relative serum level `x` (g(x)).
    pub fn steady_state_rel(&self, x: f64) -> f64 {
        match self.km_rel {
            Some(k) => x * (k + 1.0) / (k + x),
            None => x,
        }
    }

    /// Relative CSF level y(t) (1 = baseline) for relative serum `x_rel` at `times_h`, starting from
    /// the baseline steady state at the first time. Inputs must already be validated.
    pub fn relative_course(&self, times_h: &[f64], x_rel: &[f64]) -> Vec<f64> {
        let k = self.k_out_per_h;
        let mut out = Vec::with_capacity(times_h.len());
        let mut y = 1.0;
        let mut u_prev = f64::NAN;
        let mut t_prev = f64::NAN;
        for (i, (&t, &x)) in times_h.iter().zip(x_rel).enumerate() {
            let u = self.steady_state_rel(x);
            if i > 0 {
                let h = t - t_prev;
                if h > 0.0 {
                    y = exact_step(y, u_prev, u, h, k);
                }
            }
            out.push(y);
            u_prev = u;
            t_prev = t;
        }
        out
    }
}

/// Exact solution over a step of length `h` of `dy/dt = k (u(t) − y)` with u linear from u0 to u1.
pub fn exact_step(y0: f64, u0: f64, u1: f64, h: f64, k: f64) -> f64 {
    let b = (u1 - u0) / h;
    let one_minus_e = -(-k * h).exp_m1();
    u1 + (y0 - u0) * (1.0 - one_minus_e) - b / k * one_minus_e
}

/// Saturable fit as stored in `data/brain/csf-model.toml`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SaturableFit {
    pub k_out_per_h: f64,
    pub km_rel: f64,
    pub t_half_min: f64,
    /// posterior mode of (ln k_out [1/h], ln κ)
    pub mean_ln: [f64; 2],
    /// Laplace covariance of (ln k_out, ln κ), already multiplied by `birge_factor`
    pub covariance_ln: [[f64; 2]; 2],
    pub chi2: f64,
    pub dof: u32,
    pub birge_factor: f64,
    pub predictions: FitPredictions,
}

/// Leaky (linear influx) fit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LeakyFit {
    pub k_out_per_h: f64,
    pub t_half_min: f64,
    pub mean_ln: f64,
    pub var_ln: f64,
    pub chi2: f64,
    pub dof: u32,
    pub birge_factor: f64,
    pub predictions: FitPredictions,
}

/// What a fitted parameter set predicts for the calibration data (fit quality).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FitPredictions {
    /// Fuchs-Buder CSF total (mmol/L) at 30, 90, 240 min (observed 1.00, 1.10, 1.13)
    pub fuchs_buder_csf_mmol_l: [f64; 3],
    /// McKee: relative CSF rise at 12 h and 24 h with serum held at 2.1, 2.3, 2.5 mmol/L
    pub mckee_rise_12h_fraction: [f64; 3],
    pub mckee_rise_24h_fraction: [f64; 3],
    /// Oppelt dog check: CSF rise after 5.5 h at plasma ×3 and ×4 (observed at most +21 %)
    pub oppelt_rise_fraction: [f64; 2],
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RatioFit {
    /// baseline CSF/serum total-Mg ratio (inverse-variance mean of the human studies)
    pub ratio_total: f64,
    pub se: f64,
    pub inputs: Vec<RatioInput>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RatioInput {
    pub study: String,
    pub ratio: f64,
    pub se: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IonisedFit {
    /// ionised / total CSF Mg (McKee 2005 baseline 0.80/1.25)
    pub fraction: f64,
    pub se: f64,
    pub source: String,
}

/// The whole fitted file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CsfModelFile {
    pub description: String,
    pub generated_by: String,
    pub interval_meaning: String,
    pub data_file: String,
    pub saturable: SaturableFit,
    pub leaky: LeakyFit,
    pub ratio: RatioFit,
    pub ionised: IonisedFit,
}

impl CsfModelFile {
    /// The shipped file.
    pub fn builtin() -> Result<Self, MgivError> {
        Self::from_toml(CSF_MODEL_TOML)
    }

    pub fn from_toml(text: &str) -> Result<Self, MgivError> {
        toml::from_str(text).map_err(|e| MgivError::ModelFile {
            id: "data/brain/csf-model.toml".into(),
            message: e.to_string(),
        })
    }

    pub fn to_toml(&self) -> Result<String, MgivError> {
        let body = toml::to_string(self).map_err(|e| MgivError::Numerical(e.to_string()))?;
        Ok(format!(
            "# GENERATED by `mgiv brain fit-csf --write data/brain/csf-model.toml` from data/brain/csf-data.toml.\n\
             # Do not edit by hand: a test re-runs the fit and compares. Method: docs/BRAIN.md §2.\n{body}"
        ))
    }

    /// The point-estimate parameters of a variant.
    pub fn point(&self, variant: CsfVariant) -> CsfParams {
        match variant {
            CsfVariant::Saturable => CsfParams {
                k_out_per_h: self.saturable.k_out_per_h,
                km_rel: Some(self.saturable.km_rel),
                ratio_total: self.ratio.ratio_total,
                ionised_fraction: self.ionised.fraction,
            },
            CsfVariant::Leaky => CsfParams {
                k_out_per_h: self.leaky.k_out_per_h,
                km_rel: None,
                ratio_total: self.ratio.ratio_total,
                ionised_fraction: self.ionised.fraction,
            },
        }
    }

    /// `n` parameter sets drawn from the approximate posterior (Laplace, Birge-inflated, for the
    /// transfer constants; independent normals for R0 and f_i), reproducibly from `seed`.
    pub fn sample(&self, variant: CsfVariant, n: usize, seed: u64) -> Vec<CsfParams> {
        let mut rng = SeededRng::new(seed);
        let mut out = Vec::with_capacity(n);
        let c = &self.saturable.covariance_ln;
        // Cholesky of the 2×2 covariance
        let l11 = c[0][0].max(0.0).sqrt();
        let l21 = if l11 > 0.0 { c[1][0] / l11 } else { 0.0 };
        let l22 = (c[1][1] - l21 * l21).max(0.0).sqrt();
        for _ in 0..n {
            let (z1, z2, z3, z4) = (rng.normal(), rng.normal(), rng.normal(), rng.normal());
            let (k_out_per_h, km_rel) = match variant {
                CsfVariant::Saturable => {
                    let a = self.saturable.mean_ln[0] + l11 * z1;
                    let b = self.saturable.mean_ln[1] + l21 * z1 + l22 * z2;
                    (a.exp(), Some(b.exp()))
                }
                CsfVariant::Leaky => (
                    (self.leaky.mean_ln + self.leaky.var_ln.max(0.0).sqrt() * z1).exp(),
                    None,
                ),
            };
            let ratio_total = (self.ratio.ratio_total + self.ratio.se * z3).max(0.05);
            let ionised_fraction = (self.ionised.fraction + self.ionised.se * z4).clamp(0.05, 1.0);
            out.push(CsfParams {
                k_out_per_h,
                km_rel,
                ratio_total,
                ionised_fraction,
            });
        }
        out
    }
}

/// Options for [`csf_from_serum`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct CsfOptions {
    pub variant: CsfVariant,
    /// parameter draws for the intervals (0 = no intervals: lo = hi = point estimate)
    pub n_samples: usize,
    pub seed: u64,
    /// central coverage of the interval (0.9 = 5th–95th percentile)
    pub coverage: f64,
}

impl Default for CsfOptions {
    fn default() -> Self {
        CsfOptions {
            variant: CsfVariant::Saturable,
            n_samples: 400,
            seed: 20260401,
            coverage: 0.9,
        }
    }
}

/// CSF magnesium at the given times, with intervals.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CsfCourse {
    pub variant: CsfVariant,
    pub times_h: Vec<f64>,
    pub serum_mmol_l: Vec<f64>,
    pub baseline_serum_mmol_l: f64,
    /// point estimate (fitted parameters)
    pub total_mmol_l: Vec<f64>,
    pub total_lo_mmol_l: Vec<f64>,
    pub total_hi_mmol_l: Vec<f64>,
    pub ionised_mmol_l: Vec<f64>,
    pub ionised_lo_mmol_l: Vec<f64>,
    pub ionised_hi_mmol_l: Vec<f64>,
    pub baseline_total_mmol_l: f64,
    pub baseline_ionised_mmol_l: f64,
    pub params: CsfParams,
    pub coverage: f64,
    pub n_samples: usize,
    pub seed: u64,
    /// ionised CSF Mg of every draw (`[draw][time]`), for propagating the uncertainty further
    #[serde(skip)]
    pub ionised_draws_mmol_l: Vec<Vec<f64>>,
    /// baseline ionised CSF Mg of every draw
    #[serde(skip)]
    pub ionised_draw_baselines_mmol_l: Vec<f64>,
}

/// What the interval covers (shown with every output and written into data/brain/csf-model.toml),
/// with the between-patient SD of baseline CSF total Mg (McKee 2005) from data/brain/csf-data.toml.
pub fn interval_meaning(baseline_csf_total_sd_mmol_l: f64) -> String {
    format!(
        "interval = central range of the typical-patient prediction over the fitted parameter uncertainty \
(Laplace approximation of the transfer constants, inflated by the fit's chi2/dof; baseline CSF/serum ratio and ionised fraction \
from their standard errors). It is not the spread between individual patients (baseline CSF total Mg SD ±{baseline_csf_total_sd_mmol_l} mmol/L, McKee 2005) \
and it does not cover the structural disagreement between the Fuchs-Buder and McKee data (see docs/BRAIN.md §2)."
    )
}

/// **The front-end API**: CSF total and ionised Mg (with lo/hi intervals) for a total serum Mg
/// time course. `times_h` increasing (≥ 0 spacing), `serum_mmol_l` the total serum Mg at those
/// times, `baseline_serum_mmol_l` the patient's (or model's) baseline total serum Mg. The CSF is
/// assumed at its baseline steady state at `times_h[0]`; serum is treated as piecewise linear
/// between samples, so resolve boluses (a step of a few minutes around them).
pub fn csf_from_serum(
    times_h: &[f64],
    serum_mmol_l: &[f64],
    baseline_serum_mmol_l: f64,
    opts: &CsfOptions,
) -> Result<CsfCourse, MgivError> {
    let file = CsfModelFile::builtin()?;
    csf_from_serum_with(&file, times_h, serum_mmol_l, baseline_serum_mmol_l, opts)
}

/// [`csf_from_serum`] with an explicit parameter file (e.g. a fresh fit).
pub fn csf_from_serum_with(
    file: &CsfModelFile,
    times_h: &[f64],
    serum_mmol_l: &[f64],
    baseline_serum_mmol_l: f64,
    opts: &CsfOptions,
) -> Result<CsfCourse, MgivError> {
    validate_inputs(times_h, serum_mmol_l, baseline_serum_mmol_l, opts)?;
    let x: Vec<f64> = serum_mmol_l
        .iter()
        .map(|c| c / baseline_serum_mmol_l)
        .collect();
    let p = file.point(opts.variant);
    let y = p.relative_course(times_h, &x);
    let base_total = p.ratio_total * baseline_serum_mmol_l;
    let total: Vec<f64> = y.iter().map(|v| v * base_total).collect();
    let ionised: Vec<f64> = total.iter().map(|v| v * p.ionised_fraction).collect();
    let n_t = times_h.len();
    let (mut tl, mut th, mut il, mut ih) = (
        total.clone(),
        total.clone(),
        ionised.clone(),
        ionised.clone(),
    );
    let mut draws_i = Vec::new();
    let mut draws_base = Vec::new();
    if opts.n_samples > 0 {
        let draws = file.sample(opts.variant, opts.n_samples, opts.seed);
        let mut tot_draws: Vec<Vec<f64>> = Vec::with_capacity(draws.len());
        for d in &draws {
            let yd = d.relative_course(times_h, &x);
            let b = d.ratio_total * baseline_serum_mmol_l;
            let td: Vec<f64> = yd.iter().map(|v| v * b).collect();
            draws_i.push(
                td.iter()
                    .map(|v| v * d.ionised_fraction)
                    .collect::<Vec<f64>>(),
            );
            draws_base.push(b * d.ionised_fraction);
            tot_draws.push(td);
        }
        let q_lo = (1.0 - opts.coverage) / 2.0;
        let q_hi = 1.0 - q_lo;
        let mut col = vec![0.0; draws.len()];
        for j in 0..n_t {
            for (c, d) in col.iter_mut().zip(&tot_draws) {
                *c = d[j];
            }
            let (lo, hi) = quantile_pair(&mut col, q_lo, q_hi);
            tl[j] = lo.min(total[j]);
            th[j] = hi.max(total[j]);
            for (c, d) in col.iter_mut().zip(&draws_i) {
                *c = d[j];
            }
            let (lo, hi) = quantile_pair(&mut col, q_lo, q_hi);
            il[j] = lo.min(ionised[j]);
            ih[j] = hi.max(ionised[j]);
        }
    }
    Ok(CsfCourse {
        variant: opts.variant,
        times_h: times_h.to_vec(),
        serum_mmol_l: serum_mmol_l.to_vec(),
        baseline_serum_mmol_l,
        total_mmol_l: total,
        total_lo_mmol_l: tl,
        total_hi_mmol_l: th,
        ionised_mmol_l: ionised,
        ionised_lo_mmol_l: il,
        ionised_hi_mmol_l: ih,
        baseline_total_mmol_l: base_total,
        baseline_ionised_mmol_l: base_total * p.ionised_fraction,
        params: p,
        coverage: opts.coverage,
        n_samples: opts.n_samples,
        seed: opts.seed,
        ionised_draws_mmol_l: draws_i,
        ionised_draw_baselines_mmol_l: draws_base,
    })
}

fn validate_inputs(
    times_h: &[f64],
    serum: &[f64],
    baseline: f64,
    opts: &CsfOptions,
) -> Result<(), MgivError> {
    if times_h.is_empty() {
        return Err(invalid("times_h", "an empty list", "at least one time"));
    }
    if times_h.len() != serum.len() {
        return Err(invalid(
            "serum_mmol_l",
            format!("{} values for {} times", serum.len(), times_h.len()),
            "one serum value per time",
        ));
    }
    if times_h.len() > 5_000_000 {
        return Err(invalid(
            "times_h",
            format!("{} times", times_h.len()),
            "at most 5 000 000 times",
        ));
    }
    for (i, &t) in times_h.iter().enumerate() {
        if !t.is_finite() || t < 0.0 {
            return Err(invalid("times_h", t, "finite times of 0 h or more"));
        }
        if i > 0 && t < times_h[i - 1] {
            return Err(invalid(
                "times_h",
                format!("{t} after {}", times_h[i - 1]),
                "non-decreasing times",
            ));
        }
    }
    for &c in serum {
        if !c.is_finite() || !(0.0..=20.0).contains(&c) {
            return Err(invalid(
                "serum_mmol_l",
                c,
                "total serum Mg from 0 to 20 mmol/L",
            ));
        }
    }
    if !(baseline.is_finite() && (0.2..=3.0).contains(&baseline)) {
        return Err(invalid(
            "baseline_serum_mmol_l",
            baseline,
            "a baseline total serum Mg from 0.2 to 3.0 mmol/L",
        ));
    }
    if opts.n_samples > 100_000 {
        return Err(invalid("n_samples", opts.n_samples, "0 to 100000 draws"));
    }
    if opts.n_samples > 0 && opts.n_samples < 20 {
        return Err(invalid(
            "n_samples",
            opts.n_samples,
            "0 (no intervals) or 20 to 100000 draws",
        ));
    }
    if !(opts.coverage.is_finite() && opts.coverage > 0.0 && opts.coverage < 1.0) {
        return Err(invalid(
            "coverage",
            opts.coverage,
            "a central coverage strictly between 0 and 1 (e.g. 0.9)",
        ));
    }
    Ok(())
}

/// The sample quantiles of mgiv (type 7), from `mgiv_core::numerics`.
pub use mgiv_core::numerics::{quantile_pair, quantile_sorted};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_step_matches_closed_forms() {
        // constant forcing: y → u with e^{-kh}
        let y = exact_step(1.0, 2.0, 2.0, 1.0, 0.5);
        assert!((y - (2.0 - (-0.5f64).exp())).abs() < 1e-14);
        // ramp u = t from y(0)=0, k=1: y(t) = t − 1 + e^{−t}
        let y = exact_step(0.0, 0.0, 2.0, 2.0, 1.0);
        assert!((y - (2.0 - 1.0 + (-2.0f64).exp())).abs() < 1e-13);
    }

    #[test]
    fn saturable_steady_state() {
        let p = CsfParams {
            k_out_per_h: 0.5,
            km_rel: Some(0.335),
            ratio_total: 1.34,
            ionised_fraction: 0.64,
        };
        // brain-2.md §3.3: K_m 0.335 × baseline, serum ×2.5 → +17.7 %
        assert!((p.steady_state_rel(2.5) - 1.177).abs() < 0.001);
        assert_eq!(p.steady_state_rel(1.0), 1.0);
    }
}
