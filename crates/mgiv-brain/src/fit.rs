//! Reproducible calibration of the blood–CSF transfer model (`mgiv brain fit-csf`).
//!
//! Data: `data/brain/csf-data.toml` (Fuchs-Buder 1997 bolus time course; McKee 2005 24-h clamp,
//! 10–19 % rise; baseline ratios; a prior on k_out from Oppelt 1963 and CSF turnover).
//!
//! Saturable model: minimise χ²(ln k_out, ln κ) =
//! Σ_FB ((y_pred − y_obs)/SE)² + ((rise_24h − 0.145)/0.0225)² + ((ln k_out − μ)/σ)²,
//! where the Fuchs-Buder CSF means are taken relative to their baseline with SE = SD/√n, the McKee
//! band 10–19 % is read as midpoint ± 2 SE, and the prior spans the human k_out range at ±2 SD.
//! Nelder–Mead from a fixed grid of starts, then a finite-difference Hessian → Laplace covariance,
//! multiplied by max(1, χ²/dof) (Birge factor), because the two data sets disagree.
//! Leaky model: linear influx, k_out fitted to Fuchs-Buder alone.

use serde::Deserialize;

use mgiv_core::error::MgivError;
use mgiv_core::numerics::nelder_mead;

use crate::csf::{
    CsfModelFile, CsfParams, FitPredictions, IonisedFit, LeakyFit, RatioFit, RatioInput,
    SaturableFit,
};

/// The calibration data file.
pub const CSF_DATA_TOML: &str = include_str!("../../../data/brain/csf-data.toml");

#[derive(Debug, Clone, Deserialize)]
pub struct CsfData {
    pub fuchs_buder_1997: FuchsBuder,
    pub mckee_2005: McKee,
    pub k_out_prior: KOutPrior,
    pub oppelt_1963_check: Oppelt,
}

#[derive(Debug, Clone, Deserialize)]
pub struct FuchsBuder {
    pub citation: String,
    pub n: u32,
    pub plasma_times_min: Vec<f64>,
    pub plasma_mmol_l: Vec<f64>,
    pub plasma_sd_mmol_l: Vec<f64>,
    pub csf_times_min: Vec<f64>,
    pub csf_mmol_l: Vec<f64>,
    pub csf_sd_mmol_l: Vec<f64>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct McKee {
    pub citation: String,
    pub n: u32,
    pub baseline_serum_total_mmol_l: f64,
    pub baseline_serum_total_sd_mmol_l: f64,
    pub baseline_csf_total_mmol_l: f64,
    pub baseline_csf_total_sd_mmol_l: f64,
    pub baseline_csf_ionised_mmol_l: f64,
    pub baseline_csf_ionised_sd_mmol_l: f64,
    pub clamp_serum_lo_mmol_l: f64,
    pub clamp_serum_hi_mmol_l: f64,
    pub clamp_hours: f64,
    /// the CSF sampling times of the primary paper (h into the clamp)
    pub csf_sample_hours: [f64; 2],
    pub csf_rise_lo_fraction: f64,
    pub csf_rise_hi_fraction: f64,
}

#[derive(Debug, Clone, Deserialize)]
pub struct KOutPrior {
    pub lo_per_min: f64,
    pub hi_per_min: f64,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Oppelt {
    pub baseline_ratio: f64,
    pub plasma_fold_lo: f64,
    pub plasma_fold_hi: f64,
    pub hours: f64,
    pub csf_rise_max_fraction: f64,
}

pub fn csf_data() -> Result<CsfData, MgivError> {
    let d: CsfData = toml::from_str(CSF_DATA_TOML).map_err(|e| MgivError::ModelFile {
        id: "data/brain/csf-data.toml".into(),
        message: e.to_string(),
    })?;
    // the interpolation rule (plasma_interpolation in the file) needs the pre-dose sample and
    // three later ones, the same times in plasma and CSF
    let fb = &d.fuchs_buder_1997;
    let t = &fb.plasma_times_min;
    let shape_ok = t.len() == 4 && t[0] == 0.0 && t.windows(2).all(|w| w[0] < w[1]);
    if !shape_ok || fb.csf_times_min != *t {
        return Err(MgivError::ModelFile {
            id: "data/brain/csf-data.toml".into(),
            message: format!(
                "Fuchs-Buder times must be 0 and three increasing times (min), the same for plasma and CSF; got {t:?}"
            ),
        });
    }
    Ok(d)
}

impl FuchsBuder {
    /// Interpolated plasma total Mg (mmol/L) at `t_min` (see the data file for the rule).
    pub fn plasma_mmol_l(&self, t_min: f64) -> f64 {
        let b = self.plasma_mmol_l[0];
        let e1 = self.plasma_mmol_l[1] - b;
        let e2 = self.plasma_mmol_l[2] - b;
        let e3 = self.plasma_mmol_l[3] - b;
        let (t1, t2, t3) = (
            self.plasma_times_min[1],
            self.plasma_times_min[2],
            self.plasma_times_min[3],
        );
        let k1 = (e1 / e2).ln() / (t2 - t1);
        let k2 = (e2 / e3).ln() / (t3 - t2);
        let e = if t_min <= t2 {
            e1 * (-k1 * (t_min - t1)).exp()
        } else {
            e2 * (-k2 * (t_min - t2)).exp()
        };
        b + e
    }

    /// The time grid (h) and relative plasma used for the fit: from 0 to the last sample (240 min)
    /// every 0.5 min (a numerical step).
    pub fn grid(&self) -> (Vec<f64>, Vec<f64>) {
        let b = self.plasma_mmol_l[0];
        let n = (self.plasma_times_min[3] / 0.5).round() as usize;
        let t: Vec<f64> = (0..=n).map(|i| i as f64 * 0.5 / 60.0).collect();
        let x: Vec<f64> = t
            .iter()
            .map(|&h| self.plasma_mmol_l(h * 60.0) / b)
            .collect();
        (t, x)
    }
}

/// Relative CSF rise after `hours` of serum held at `fold` × baseline.
pub fn clamp_rise(p: &CsfParams, fold: f64, hours: f64) -> f64 {
    let g = p.steady_state_rel(fold);
    g + (1.0 - g) * (-p.k_out_per_h * hours).exp() - 1.0
}

struct Objective {
    fb_t: Vec<f64>,
    fb_x: Vec<f64>,
    fb_idx: [usize; 3],
    fb_obs_rel: [f64; 3],
    fb_se_rel: [f64; 3],
    mk_fold: f64,
    mk_hours: f64,
    mk_target: f64,
    mk_se: f64,
    prior_mu: f64,
    prior_sd: f64,
}

impl Objective {
    fn new(d: &CsfData) -> Self {
        let fb = &d.fuchs_buder_1997;
        let (fb_t, fb_x) = fb.grid();
        let c0 = fb.csf_mmol_l[0];
        let sqrt_n = (fb.n as f64).sqrt();
        let mut fb_obs_rel = [0.0; 3];
        let mut fb_se_rel = [0.0; 3];
        let mut fb_idx = [0; 3];
        for i in 0..3 {
            fb_obs_rel[i] = fb.csf_mmol_l[i + 1] / c0;
            fb_se_rel[i] = fb.csf_sd_mmol_l[i + 1] / sqrt_n / c0;
            fb_idx[i] = (fb.csf_times_min[i + 1] / 0.5).round() as usize;
        }
        let mk = &d.mckee_2005;
        let mk_fold = 0.5 * (mk.clamp_serum_lo_mmol_l + mk.clamp_serum_hi_mmol_l)
            / mk.baseline_serum_total_mmol_l;
        let pr = &d.k_out_prior;
        Objective {
            fb_t,
            fb_x,
            fb_idx,
            fb_obs_rel,
            fb_se_rel,
            mk_fold,
            mk_hours: mk.clamp_hours,
            mk_target: 0.5 * (mk.csf_rise_lo_fraction + mk.csf_rise_hi_fraction),
            mk_se: (mk.csf_rise_hi_fraction - mk.csf_rise_lo_fraction) / 4.0,
            prior_mu: (60.0 * (pr.lo_per_min * pr.hi_per_min).sqrt()).ln(),
            prior_sd: (pr.hi_per_min / pr.lo_per_min).ln() / 4.0,
        }
    }

    fn fb_pred(&self, p: &CsfParams) -> [f64; 3] {
        let y = p.relative_course(&self.fb_t, &self.fb_x);
        [y[self.fb_idx[0]], y[self.fb_idx[1]], y[self.fb_idx[2]]]
    }

    fn fb_chi2(&self, p: &CsfParams) -> f64 {
        let y = self.fb_pred(p);
        (0..3)
            .map(|i| ((y[i] - self.fb_obs_rel[i]) / self.fb_se_rel[i]).powi(2))
            .sum()
    }

    fn saturable_chi2(&self, phi: &[f64]) -> f64 {
        if !(phi[0].abs() < 20.0 && phi[1].abs() < 20.0) {
            return 1e30;
        }
        let p = params(phi[0].exp(), Some(phi[1].exp()));
        let mk = (clamp_rise(&p, self.mk_fold, self.mk_hours) - self.mk_target) / self.mk_se;
        let pr = (phi[0] - self.prior_mu) / self.prior_sd;
        self.fb_chi2(&p) + mk * mk + pr * pr
    }

    fn leaky_chi2(&self, phi: &[f64]) -> f64 {
        if phi[0].abs() >= 20.0 {
            return 1e30;
        }
        self.fb_chi2(&params(phi[0].exp(), None))
    }
}

fn params(k_out_per_h: f64, km_rel: Option<f64>) -> CsfParams {
    CsfParams {
        k_out_per_h,
        km_rel,
        ratio_total: 1.0,
        ionised_fraction: 1.0,
    }
}

/// Central finite-difference Hessian of `f`.
/// The Hessian of `f` at `x` (step `h` in every coordinate) as rows, from the shared
/// finite-difference Hessian of mgiv-core.
fn hessian(f: &dyn Fn(&[f64]) -> f64, x: &[f64], h: f64) -> Vec<Vec<f64>> {
    let n = x.len();
    let (_, flat, _) =
        mgiv_core::numerics::gradient_and_hessian(&mut |v: &[f64]| f(v), x, &vec![h; n]);
    flat.chunks(n).map(|r| r.to_vec()).collect()
}

fn predictions(o: &Objective, d: &CsfData, p: &CsfParams) -> FitPredictions {
    let fb = o.fb_pred(p);
    let c0 = d.fuchs_buder_1997.csf_mmol_l[0];
    let mk = &d.mckee_2005;
    // serum held at the low end, the middle and the high end of McKee's clamp
    let (lo, hi) = (mk.clamp_serum_lo_mmol_l, mk.clamp_serum_hi_mmol_l);
    let folds = [lo, 0.5 * (lo + hi), hi].map(|s| s / mk.baseline_serum_total_mmol_l);
    let op = &d.oppelt_1963_check;
    FitPredictions {
        fuchs_buder_csf_mmol_l: fb.map(|y| y * c0),
        mckee_rise_12h_fraction: folds.map(|f| clamp_rise(p, f, mk.csf_sample_hours[0])),
        mckee_rise_24h_fraction: folds.map(|f| clamp_rise(p, f, mk.csf_sample_hours[1])),
        oppelt_rise_fraction: [op.plasma_fold_lo, op.plasma_fold_hi]
            .map(|f| clamp_rise(p, f, op.hours)),
    }
}

/// The best of Nelder–Mead runs (argmin, via mgiv-core) from each start, each restarted once
/// from its optimum with a smaller simplex (a collapsed simplex stops early).
fn best_of(f: &dyn Fn(&[f64]) -> f64, starts: &[Vec<f64>]) -> Result<Vec<f64>, MgivError> {
    let mut best: Option<(f64, Vec<f64>)> = None;
    for s in starts {
        let (x, _) = nelder_mead(f, s, 0.5, 4000, NM_SD_TOLERANCE)?;
        let (x, v) = nelder_mead(f, &x, 0.05, 4000, NM_SD_TOLERANCE)?;
        if best.as_ref().is_none_or(|b| v < b.0) {
            best = Some((v, x));
        }
    }
    Ok(best.map(|b| b.1).unwrap_or_else(|| starts[0].clone()))
}

/// Nelder–Mead stops when the costs of its simplex differ by less than this (SD).
const NM_SD_TOLERANCE: f64 = 1e-15;

/// Run the whole calibration and return the file content mgiv ships.
pub fn fit_csf() -> Result<CsfModelFile, MgivError> {
    let d = csf_data()?;
    let o = Objective::new(&d);
    let saturable = fit_saturable(&o, &d)?;
    let leaky = fit_leaky(&o, &d)?;
    let ratio = fit_ratio(&d);
    let ionised = fit_ionised(&d);
    Ok(CsfModelFile {
        description: "Blood-CSF magnesium transfer: dC/dt = Jmax*Cp/(Km+Cp) - k_out*C (saturable) or k_in*Cp - k_out*C (leaky); \
relative form dy/dt = k_out*(g(x) - y). Fitted to Fuchs-Buder 1997, McKee 2005 and a k_out prior (data/brain/csf-data.toml)."
            .into(),
        generated_by: "mgiv brain fit-csf (crates/mgiv-brain/src/fit.rs)".into(),
        interval_meaning: crate::csf::interval_meaning(d.mckee_2005.baseline_csf_total_sd_mmol_l),
        data_file: "data/brain/csf-data.toml".into(),
        saturable,
        leaky,
        ratio,
        ionised,
    })
}

/// The saturable transfer model: best of 9 starts, Laplace covariance scaled by the Birge factor.
fn fit_saturable(o: &Objective, d: &CsfData) -> Result<SaturableFit, MgivError> {
    let fs = |phi: &[f64]| o.saturable_chi2(phi);
    let mut starts = Vec::new();
    for lk in [0.1f64, 0.4, 1.0] {
        for lkap in [-2.0, 0.0, 2.0] {
            starts.push(vec![lk.ln(), lkap]);
        }
    }
    let xs = best_of(&fs, &starts)?;
    let chi2 = fs(&xs);
    let dof = 3u32; // 4 data + 1 prior pseudo-observation − 2 parameters
    let birge = (chi2 / dof as f64).max(1.0);
    let h = hessian(&|v: &[f64]| 0.5 * fs(v), &xs, 1e-3);
    let det = h[0][0] * h[1][1] - h[0][1] * h[1][0];
    if !(det.is_finite() && det > 0.0 && h[0][0] > 0.0) {
        return Err(MgivError::Numerical(format!(
            "CSF fit: the Hessian at the optimum is not positive definite ({h:?})"
        )));
    }
    let cov = [
        [h[1][1] / det * birge, -h[0][1] / det * birge],
        [-h[1][0] / det * birge, h[0][0] / det * birge],
    ];
    let ps = params(xs[0].exp(), Some(xs[1].exp()));
    Ok(SaturableFit {
        k_out_per_h: ps.k_out_per_h,
        km_rel: xs[1].exp(),
        t_half_min: 60.0 * std::f64::consts::LN_2 / ps.k_out_per_h,
        mean_ln: [xs[0], xs[1]],
        covariance_ln: cov,
        chi2,
        dof,
        birge_factor: birge,
        predictions: predictions(o, d, &ps),
    })
}

/// The leaky (linear) transfer model, fitted the same way.
fn fit_leaky(o: &Objective, d: &CsfData) -> Result<LeakyFit, MgivError> {
    let fl = |phi: &[f64]| o.leaky_chi2(phi);
    let xl = best_of(&fl, &[vec![0.1f64.ln()], vec![1.0f64.ln()]])?;
    let chi2_l = fl(&xl);
    let dof_l = 2u32;
    let birge_l = (chi2_l / dof_l as f64).max(1.0);
    let hl = hessian(&|v: &[f64]| 0.5 * fl(v), &xl, 1e-3);
    if !(hl[0][0].is_finite() && hl[0][0] > 0.0) {
        return Err(MgivError::Numerical(
            "CSF fit (leaky): non-positive curvature at the optimum".into(),
        ));
    }
    let pl = params(xl[0].exp(), None);
    Ok(LeakyFit {
        k_out_per_h: pl.k_out_per_h,
        t_half_min: 60.0 * std::f64::consts::LN_2 / pl.k_out_per_h,
        mean_ln: xl[0],
        var_ln: birge_l / hl[0][0],
        chi2: chi2_l,
        dof: dof_l,
        birge_factor: birge_l,
        predictions: predictions(o, d, &pl),
    })
}

/// The baseline CSF/serum total ratio: inverse-variance mean of the two human studies
/// (delta-method SEs, scaled by their disagreement).
fn fit_ratio(d: &CsfData) -> RatioFit {
    let mk = &d.mckee_2005;
    let fb = &d.fuchs_buder_1997;
    let ratio_of = |c: f64, sc: f64, s: f64, ss: f64, n: u32| {
        let r = c / s;
        let sn = (n as f64).sqrt();
        (
            r,
            r * ((sc / sn / c).powi(2) + (ss / sn / s).powi(2)).sqrt(),
        )
    };
    let (r1, s1) = ratio_of(
        mk.baseline_csf_total_mmol_l,
        mk.baseline_csf_total_sd_mmol_l,
        mk.baseline_serum_total_mmol_l,
        mk.baseline_serum_total_sd_mmol_l,
        mk.n,
    );
    let (r2, s2) = ratio_of(
        fb.csf_mmol_l[0],
        fb.csf_sd_mmol_l[0],
        fb.plasma_mmol_l[0],
        fb.plasma_sd_mmol_l[0],
        fb.n,
    );
    let (w1, w2) = (1.0 / (s1 * s1), 1.0 / (s2 * s2));
    let r = (w1 * r1 + w2 * r2) / (w1 + w2);
    let chi2_r = w1 * (r1 - r).powi(2) + w2 * (r2 - r).powi(2);
    let se_r = (1.0 / (w1 + w2)).sqrt() * chi2_r.max(1.0).sqrt();
    RatioFit {
        ratio_total: r,
        se: se_r,
        inputs: vec![
            RatioInput {
                study: format!(
                    "McKee 2005 (CSF {:.2} ± {:.2} / serum {:.2} ± {:.2} mmol/L, n = {})",
                    mk.baseline_csf_total_mmol_l,
                    mk.baseline_csf_total_sd_mmol_l,
                    mk.baseline_serum_total_mmol_l,
                    mk.baseline_serum_total_sd_mmol_l,
                    mk.n
                ),
                ratio: r1,
                se: s1,
            },
            RatioInput {
                study: format!(
                    "Fuchs-Buder 1997 (CSF {:.2} ± {:.2} / plasma {:.2} ± {:.2} mmol/L, n = {})",
                    fb.csf_mmol_l[0],
                    fb.csf_sd_mmol_l[0],
                    fb.plasma_mmol_l[0],
                    fb.plasma_sd_mmol_l[0],
                    fb.n
                ),
                ratio: r2,
                se: s2,
            },
        ],
    }
}

/// The ionised fraction of CSF Mg (McKee 2005 baseline), with its delta-method SE.
fn fit_ionised(d: &CsfData) -> IonisedFit {
    let mk = &d.mckee_2005;
    let fi = mk.baseline_csf_ionised_mmol_l / mk.baseline_csf_total_mmol_l;
    let sn = (mk.n as f64).sqrt();
    let se_fi = fi
        * ((mk.baseline_csf_ionised_sd_mmol_l / sn / mk.baseline_csf_ionised_mmol_l).powi(2)
            + (mk.baseline_csf_total_sd_mmol_l / sn / mk.baseline_csf_total_mmol_l).powi(2))
        .sqrt();
    IonisedFit {
        fraction: fi,
        se: se_fi,
        source: format!(
            "McKee 2005 baseline CSF ionised {:.2} ± {:.2} / total {:.2} ± {:.2} mmol/L (n = {}); assumed constant under hypermagnesaemia (the 12/24-h ionised values were not retrievable)",
            mk.baseline_csf_ionised_mmol_l,
            mk.baseline_csf_ionised_sd_mmol_l,
            mk.baseline_csf_total_mmol_l,
            mk.baseline_csf_total_sd_mmol_l,
            mk.n
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plasma_interpolation_hits_the_means() {
        let d = csf_data().unwrap();
        let fb = &d.fuchs_buder_1997;
        for (t, c) in fb.plasma_times_min[1..].iter().zip(&fb.plasma_mmol_l[1..]) {
            assert!((fb.plasma_mmol_l(*t) - c).abs() < 1e-12);
        }
        // brain-2.md §3.3: extrapolated 1.51 mmol/L at t = 0
        assert!((fb.plasma_mmol_l(0.0) - 1.51).abs() < 0.01);
    }

    #[test]
    fn published_csf_values_are_read_from_the_data_file() {
        let d = csf_data().unwrap();
        let fb = &d.fuchs_buder_1997;
        assert_eq!(fb.plasma_times_min, vec![0.0, 30.0, 90.0, 240.0]);
        assert_eq!(fb.grid().0.len(), 481);
        let mk = &d.mckee_2005;
        assert_eq!(mk.csf_sample_hours, [12.0, 24.0]);
        assert_eq!(mk.baseline_csf_total_sd_mmol_l, 0.14);
        // the interval text is built from the file and is the one shipped in csf-model.toml
        let text = crate::csf::interval_meaning(mk.baseline_csf_total_sd_mmol_l);
        assert!(text.contains("SD ±0.14 mmol/L, McKee 2005"));
        assert_eq!(
            text,
            crate::csf::CsfModelFile::builtin()
                .unwrap()
                .interval_meaning
        );
        assert_eq!(crate::effects::default_voltage_mv().unwrap(), -65.0);
    }

    #[test]
    fn best_of_finds_a_quadratic_minimum() {
        let f = |x: &[f64]| (x[0] - 1.0).powi(2) + 3.0 * (x[1] + 2.0).powi(2);
        let x = best_of(&f, &[vec![0.0, 0.0], vec![5.0, 5.0]]).unwrap();
        assert!((x[0] - 1.0).abs() < 1e-6 && (x[1] + 2.0).abs() < 1e-6);
    }
}
