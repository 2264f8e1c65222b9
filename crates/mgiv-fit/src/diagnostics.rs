//! Goodness-of-fit table at the final estimates (an sdtab): PRED, IPRED, RES, IWRES, CWRES, NPDE
//! per observation.
//!
//! - PRED = f(η = 0); IPRED = f(η̂); IWRES = (DV − IPRED)/√R(IPRED).
//! - CWRES (Hooker et al., Pharm Res 2007): the FOCE-I linearisation at η̂,
//!   E = f(η̂) − Gη̂, C = GΩGᵀ + diag R(η̂), CWRES = L⁻¹(DV − E) with C = LLᵀ.
//! - NPDE (Brendel et al., Pharm Res 2006): `n_sim` replicates of each subject's design under the
//!   estimates; observations and replicates decorrelated with the replicates' mean and covariance
//!   (Cholesky), pde = share of replicates below the observation, NPDE = Φ⁻¹(pde) with pde kept
//!   inside [1/(2K), 1 − 1/(2K)]. Draws depend only on (seed, subject index).

use mgiv_core::MgivError;
use mgiv_data::Dataset;
use mgiv_pop::linalg;
use mgiv_pop::rng::{Stream, SubjectRng};
use rayon::prelude::*;
use serde::Serialize;

use crate::dual::Dual;
use crate::focei::{prepare, resid_var_at, FitResult, PopParams};
use crate::spec::{EstimationModel, PARAMS};

#[derive(Debug, Clone, Serialize)]
pub struct SdtabRow {
    pub id: String,
    pub row: usize,
    pub time_h: f64,
    pub dv_mmol_l: f64,
    pub pred_mmol_l: f64,
    pub ipred_mmol_l: f64,
    pub res_mmol_l: f64,
    pub iwres: f64,
    pub cwres: f64,
    pub npde: f64,
}

/// Φ⁻¹(p) (Acklam's rational approximation, relative error < 1.2e-9).
pub fn inv_norm(p: f64) -> f64 {
    const A: [f64; 6] = [
        -3.969683028665376e1,
        2.209460984245205e2,
        -2.759285104469687e2,
        1.38357751867269e2,
        -3.066479806614716e1,
        2.506628277459239,
    ];
    const B: [f64; 5] = [
        -5.447609879822406e1,
        1.615858368580409e2,
        -1.556989798598866e2,
        6.680131188771972e1,
        -1.328068155288572e1,
    ];
    const C: [f64; 6] = [
        -7.784894002430293e-3,
        -3.223964580411365e-1,
        -2.400758277161838,
        -2.549732539343734,
        4.374664141464968,
        2.938163982698783,
    ];
    const D: [f64; 4] = [
        7.784695709041462e-3,
        3.224671290700398e-1,
        2.445134137142996,
        3.754408661907416,
    ];
    let pl = 0.02425;
    if p < pl {
        let q = (-2.0 * p.ln()).sqrt();
        (((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5])
            / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1.0)
    } else if p <= 1.0 - pl {
        let q = p - 0.5;
        let r = q * q;
        (((((A[0] * r + A[1]) * r + A[2]) * r + A[3]) * r + A[4]) * r + A[5]) * q
            / (((((B[0] * r + B[1]) * r + B[2]) * r + B[3]) * r + B[4]) * r + 1.0)
    } else {
        -inv_norm(1.0 - p)
    }
}

fn pop_from_result(m: &EstimationModel, r: &FitResult) -> PopParams {
    let k = m.n_eta();
    let mut omega = vec![0.0; k * k];
    for i in 0..k {
        omega[i * k + i] = r.omega[PARAMS[m.eta_params[i]]];
        for j in 0..i {
            let key = format!("{},{}", PARAMS[m.eta_params[j]], PARAMS[m.eta_params[i]]);
            if let Some(c) = r.omega.get(&key) {
                omega[i * k + j] = *c;
                omega[j * k + i] = *c;
            }
        }
    }
    PopParams {
        theta: m.thetas.iter().map(|t| r.theta[&t.name]).collect(),
        omega,
        sigma: m.sigma_names().iter().map(|n| r.sigma[*n]).collect(),
        omega_iov: m
            .iov_params
            .iter()
            .map(|&i| r.omega_iov.get(PARAMS[i]).copied().unwrap_or(0.0))
            .collect(),
    }
}

/// Ω of every random effect of subject `s`, block-diagonal and row-major: Ω for the k η, then
/// ω²_IOV for each κ of each of the subject's occasions, in the FOCE-I order (η, then occasion by
/// occasion the IOV parameters); its dimension. Without IOV this is Ω itself.
pub(crate) fn subject_omega(
    m: &EstimationModel,
    p: &PopParams,
    s: &crate::focei::SubjectData,
) -> (Vec<f64>, usize) {
    let k = m.n_eta();
    let n_iov = m.n_iov();
    let dim = k + s.occasions.len() * n_iov;
    let mut om = vec![0.0; dim * dim];
    for i in 0..k {
        om[i * dim..i * dim + k].copy_from_slice(&p.omega[i * k..(i + 1) * k]);
    }
    for o in 0..s.occasions.len() {
        for (j, v) in p.omega_iov.iter().enumerate() {
            let r = k + o * n_iov + j;
            om[r * dim + r] = *v;
        }
    }
    (om, dim)
}

/// The Cholesky factor of [`subject_omega`] (empty when the subject has no random effects) and
/// its dimension: η and κ are drawn as L·z.
pub(crate) fn subject_omega_factor(
    m: &EstimationModel,
    p: &PopParams,
    s: &crate::focei::SubjectData,
) -> Result<(Vec<f64>, usize), MgivError> {
    let (om, dim) = subject_omega(m, p, s);
    if dim == 0 {
        return Ok((Vec::new(), 0));
    }
    let lo = linalg::cholesky(&om, dim).ok_or_else(|| {
        MgivError::Numerical(format!(
            "Ω (with Ω_IOV) of ID {} is not positive definite",
            s.id
        ))
    })?;
    Ok((lo, dim))
}

/// The sdtab of a fit (`n_sim` replicates per subject for NPDE).
pub fn sdtab(
    m: &EstimationModel,
    r: &FitResult,
    ds: &Dataset,
    n_sim: usize,
    seed: u64,
) -> Result<Vec<SdtabRow>, MgivError> {
    let p = pop_from_result(m, r);
    if !m.iov_params.is_empty() {
        // the fit's individuals report η̂ only; the occasions' κ̂ come from the inner step again
        return sdtab_at(m, &p, ds, n_sim, seed);
    }
    let (subjects, _) = prepare(m, ds)?;
    let k = m.n_eta();
    let etas = subjects
        .iter()
        .map(|s| {
            let ind = r
                .individuals
                .iter()
                .find(|x| x.id == s.id)
                .ok_or_else(|| MgivError::Numerical(format!("no EBE for ID {}", s.id)))?;
            Ok((0..k).map(|i| ind.eta[PARAMS[m.eta_params[i]]]).collect())
        })
        .collect::<Result<Vec<Vec<f64>>, MgivError>>()?;
    table(m, &p, &subjects, &etas, n_sim, seed)
}

/// The sdtab at given population parameters (`mgiv simulate --data`): η̂ are the empirical Bayes
/// estimates at `p` (the FOCE-I inner step), then as [`sdtab`].
pub fn sdtab_at(
    m: &EstimationModel,
    p: &PopParams,
    ds: &Dataset,
    n_sim: usize,
    seed: u64,
) -> Result<Vec<SdtabRow>, MgivError> {
    let (subjects, _) = prepare(m, ds)?;
    let per = crate::focei::evaluate(m, p, &subjects)
        .ok_or_else(|| MgivError::Numerical("Ω or σ not valid at the estimates".into()))?;
    let etas: Vec<Vec<f64>> = per.into_iter().map(|x| x.1).collect();
    table(m, p, &subjects, &etas, n_sim, seed)
}

fn table(
    m: &EstimationModel,
    p: &PopParams,
    subjects: &[crate::focei::SubjectData],
    etas: &[Vec<f64>],
    n_sim: usize,
    seed: u64,
) -> Result<Vec<SdtabRow>, MgivError> {
    let k = m.n_eta();
    let rows: Vec<Result<Vec<SdtabRow>, MgivError>> = subjects
        .par_iter()
        .enumerate()
        .map(|(si, s)| {
            let eta = &etas[si];
            let (om, dim) = subject_omega(m, p, s);
            let (lo, _) = subject_omega_factor(m, p, s)?;
            let (pred, _) = predict_subject(m, p, s, &vec![0.0; k]);
            let (ipred, base) = predict_subject(m, p, s, eta);
            let cwres = cwres(s, &ipred, &base, eta, (&om, dim), |f, b| {
                resid_var_at(m, p, f, b)
            })?;
            let npde = npde(
                m,
                p,
                s,
                (&lo, dim),
                SubjectRng::new(seed, si as u64, Stream::Etas),
                SubjectRng::new(seed, si as u64, Stream::Residual),
                n_sim,
            )?;
            Ok((0..s.y.len())
                .map(|a| {
                    let rv = resid_var_at(m, p, ipred[a].v, base[a]);
                    SdtabRow {
                        id: s.id.clone(),
                        row: s.rows[a],
                        time_h: s.times_h[a],
                        dv_mmol_l: s.y[a],
                        pred_mmol_l: pred[a].v,
                        ipred_mmol_l: ipred[a].v,
                        res_mmol_l: s.y[a] - pred[a].v,
                        iwres: (s.y[a] - ipred[a].v) / rv.sqrt(),
                        cwres: cwres[a],
                        npde: npde[a],
                    }
                })
                .collect())
        })
        .collect();
    let mut out = Vec::new();
    for r in rows {
        out.extend(r?);
    }
    Ok(out)
}

/// Predictions (mmol/L, duals in η) of a subject's quantified observations at `eta`, and the
/// baseline in force at each (time-varying covariates included).
fn predict_subject(
    m: &EstimationModel,
    p: &PopParams,
    s: &crate::focei::SubjectData,
    eta: &[f64],
) -> (Vec<Dual>, Vec<f64>) {
    let sp = crate::focei::subject_params(m, p, s, eta);
    let mut all = Vec::new();
    let mut bases = Vec::new();
    let mut buf = crate::focei::Buffers::default();
    for seg in &s.segments {
        sp.predict(seg, &mut buf.f, &mut buf.base);
        all.extend(buf.f.iter().copied());
        bases.extend(buf.base.iter().map(|b| b.v));
    }
    (all, bases)
}

/// CWRES: the observations' deviation from the first-order prediction at η̂, decorrelated by
/// the Cholesky factor of G Ω Gᵀ + R (Ω of all the subject's random effects, κ included; `eta`
/// shorter than Ω's dimension counts the missing effects as 0).
fn cwres(
    s: &crate::focei::SubjectData,
    ipred: &[Dual],
    base_mmol_l: &[f64],
    eta: &[f64],
    (omega, dim): (&[f64], usize),
    resid_var: impl Fn(f64, f64) -> f64,
) -> Result<Vec<f64>, MgivError> {
    let n = s.y.len();
    let mut cov = vec![0.0; n * n];
    for a in 0..n {
        for b in 0..n {
            let mut v = 0.0;
            for i in 0..dim {
                for j in 0..dim {
                    v += ipred[a].g[i] * omega[i * dim + j] * ipred[b].g[j];
                }
            }
            cov[a * n + b] = v;
        }
        cov[a * n + a] += resid_var(ipred[a].v, base_mmol_l[a]);
    }
    let lc = linalg::cholesky(&cov, n)
        .ok_or_else(|| MgivError::Numerical(format!("CWRES covariance of ID {}", s.id)))?;
    let dev: Vec<f64> = (0..n)
        .map(|a| {
            let ge: f64 = (0..dim)
                .map(|i| ipred[a].g[i] * eta.get(i).copied().unwrap_or(0.0))
                .sum();
            s.y[a] - (ipred[a].v - ge)
        })
        .collect();
    Ok(forward_solve(&lc, n, &dev))
}

/// NPDE from `n_sim` replicates of the subject (η and every occasion's κ from `re` through the
/// Cholesky factor `lo` of the subject's Ω, residuals from `rr`), decorrelated by the
/// replicates' covariance.
fn npde(
    m: &EstimationModel,
    p: &PopParams,
    s: &crate::focei::SubjectData,
    (lo, dim): (&[f64], usize),
    mut re: SubjectRng,
    mut rr: SubjectRng,
    n_sim: usize,
) -> Result<Vec<f64>, MgivError> {
    let n = s.y.len();
    let mut sims = Vec::with_capacity(n_sim);
    let mut z = vec![0.0; dim];
    let mut e = vec![0.0; dim];
    for _ in 0..n_sim {
        for zi in z.iter_mut() {
            *zi = re.normal();
        }
        linalg::lower_mul(lo, dim, &z, &mut e);
        let (f, b) = predict_subject(m, p, s, &e);
        let y: Vec<f64> = f
            .iter()
            .zip(&b)
            .map(|(fi, bi)| fi.v + resid_var_at(m, p, fi.v, *bi).sqrt() * rr.normal())
            .collect();
        sims.push(y);
    }
    let mean: Vec<f64> = (0..n)
        .map(|a| sims.iter().map(|y| y[a]).sum::<f64>() / n_sim as f64)
        .collect();
    let mut vs = vec![0.0; n * n];
    for y in &sims {
        for a in 0..n {
            for b in 0..n {
                vs[a * n + b] += (y[a] - mean[a]) * (y[b] - mean[b]) / (n_sim - 1) as f64;
            }
        }
    }
    let lv = linalg::cholesky(&vs, n)
        .ok_or_else(|| MgivError::Numerical(format!("NPDE covariance of ID {}", s.id)))?;
    let dec = |y: &[f64]| {
        let d: Vec<f64> = y.iter().zip(&mean).map(|(a, b)| a - b).collect();
        forward_solve(&lv, n, &d)
    };
    let obs_d = dec(&s.y);
    let sim_d: Vec<Vec<f64>> = sims.iter().map(|y| dec(y)).collect();
    let kk = n_sim as f64;
    Ok((0..n)
        .map(|a| {
            let below = sim_d.iter().filter(|d| d[a] < obs_d[a]).count() as f64;
            let pde = (below / kk).clamp(0.5 / kk, 1.0 - 0.5 / kk);
            inv_norm(pde)
        })
        .collect())
}

fn forward_solve(l: &[f64], n: usize, b: &[f64]) -> Vec<f64> {
    let mut x = vec![0.0; n];
    for i in 0..n {
        let s: f64 = (0..i).map(|j| l[i * n + j] * x[j]).sum();
        x[i] = (b[i] - s) / l[i * n + i];
    }
    x
}

/// The sdtab as CSV (concentrations in mmol/L).
pub fn sdtab_csv(rows: &[SdtabRow]) -> String {
    let mut s = String::from(
        "ID,ROW,TIME_H,DV_MMOL_L,PRED_MMOL_L,IPRED_MMOL_L,RES_MMOL_L,IWRES,CWRES,NPDE\n",
    );
    for r in rows {
        s.push_str(&format!(
            "{},{},{},{:.6},{:.6},{:.6},{:.6},{:.5},{:.5},{:.5}\n",
            r.id,
            r.row,
            r.time_h,
            r.dv_mmol_l,
            r.pred_mmol_l,
            r.ipred_mmol_l,
            r.res_mmol_l,
            r.iwres,
            r.cwres,
            r.npde
        ));
    }
    s
}

/// One panel of the goodness-of-fit plot: the points as drawn (x, y) and a smoother through
/// them.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GofPanel {
    /// sdtab column on x, e.g. `PRED_MMOL_L`
    pub x_column: &'static str,
    /// sdtab column on y, e.g. `DV_MMOL_L`
    pub y_column: &'static str,
    /// one point per observation with finite x and y, in sdtab order
    pub points: Vec<(f64, f64)>,
    /// the smoother: (mean x, mean y) of consecutive groups of equal numbers of points sorted
    /// by x ([`binned_smooth`])
    pub smooth: Vec<(f64, f64)>,
}

/// The four standard goodness-of-fit panels of an sdtab: DV vs PRED, DV vs IPRED (with the
/// identity line), CWRES vs TIME and CWRES vs PRED (with 0 and ±2 lines).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Gof {
    pub dv_vs_pred: GofPanel,
    pub dv_vs_ipred: GofPanel,
    pub cwres_vs_time: GofPanel,
    pub cwres_vs_pred: GofPanel,
    /// observations left out of a panel because a value was not finite
    pub n_not_finite: usize,
}

impl Gof {
    pub fn panels(&self) -> [&GofPanel; 4] {
        [
            &self.dv_vs_pred,
            &self.dv_vs_ipred,
            &self.cwres_vs_time,
            &self.cwres_vs_pred,
        ]
    }
}

/// A smoother of a scatter: the points sorted by x, cut into `n_groups` consecutive groups of
/// (as nearly as possible) equal size, and the mean x and mean y of each group. Non-finite
/// points are ignored; fewer points than groups give one group per point; no points, no line.
pub fn binned_smooth(points: &[(f64, f64)], n_groups: usize) -> Vec<(f64, f64)> {
    let mut p: Vec<(f64, f64)> = points
        .iter()
        .copied()
        .filter(|(x, y)| x.is_finite() && y.is_finite())
        .collect();
    if p.is_empty() || n_groups == 0 {
        return Vec::new();
    }
    p.sort_by(|a, b| a.0.total_cmp(&b.0));
    let g = n_groups.min(p.len());
    (0..g)
        .map(|i| {
            let (lo, hi) = (i * p.len() / g, (i + 1) * p.len() / g);
            let n = (hi - lo) as f64;
            let sx: f64 = p[lo..hi].iter().map(|q| q.0).sum();
            let sy: f64 = p[lo..hi].iter().map(|q| q.1).sum();
            (sx / n, sy / n)
        })
        .collect()
}

/// The goodness-of-fit panels of an sdtab (the values of [`sdtab`] / [`sdtab_at`] as they
/// are, no recomputation); the smoother has one group per 10 observations, 3 to 12 groups.
pub fn gof_series(rows: &[SdtabRow]) -> Gof {
    let mut n_not_finite = 0;
    let mut panel = |x_column, y_column, f: &dyn Fn(&SdtabRow) -> (f64, f64)| {
        let all: Vec<(f64, f64)> = rows.iter().map(f).collect();
        let points: Vec<(f64, f64)> = all
            .iter()
            .copied()
            .filter(|(x, y)| x.is_finite() && y.is_finite())
            .collect();
        n_not_finite = n_not_finite.max(all.len() - points.len());
        let smooth = binned_smooth(&points, (points.len() / 10).clamp(3, 12));
        GofPanel {
            x_column,
            y_column,
            points,
            smooth,
        }
    };
    let dv_vs_pred = panel("PRED_MMOL_L", "DV_MMOL_L", &|r| {
        (r.pred_mmol_l, r.dv_mmol_l)
    });
    let dv_vs_ipred = panel("IPRED_MMOL_L", "DV_MMOL_L", &|r| {
        (r.ipred_mmol_l, r.dv_mmol_l)
    });
    let cwres_vs_time = panel("TIME_H", "CWRES", &|r| (r.time_h, r.cwres));
    let cwres_vs_pred = panel("PRED_MMOL_L", "CWRES", &|r| (r.pred_mmol_l, r.cwres));
    Gof {
        dv_vs_pred,
        dv_vs_ipred,
        cwres_vs_time,
        cwres_vs_pred,
        n_not_finite,
    }
}
