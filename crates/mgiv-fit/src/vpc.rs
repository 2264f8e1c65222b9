//! Prediction-corrected visual predictive check (pcVPC; Bergstrand et al., AAPS J 2011).
//!
//! The dataset's design is simulated `n_rep` times under the estimates (η ~ N(0, Ω), residual
//! error); every observation and replicate is prediction-corrected, pcY = Y · PRED_bin / PRED
//! (PRED_bin the median PRED of its time bin); per bin, the 5th, 50th and 95th percentiles of the
//! observed pcDV are set against the 90 % range (5th-95th percentile over replicates) of the same
//! percentiles of the replicates. Time bins hold equal numbers of observations. Draws depend only
//! on (seed, subject index), so the result does not depend on the thread count.

use std::collections::BTreeMap;

use mgiv_core::error::invalid;
use mgiv_core::MgivError;
use mgiv_data::Dataset;
use mgiv_pop::linalg;
use mgiv_pop::rng::{Stream, SubjectRng};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::diagnostics::subject_omega_factor;
use crate::focei::{
    prepare, resid_var_at, subject_params, Buffers, FitResult, PopParams, SubjectData,
};
use crate::spec::{EstimationModel, PARAMS};

/// Population estimates by name (the `theta`, `omega`, `omega_iov`, `sigma` maps of
/// `mgiv fit --json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Estimates {
    pub theta: BTreeMap<String, f64>,
    pub omega: BTreeMap<String, f64>,
    /// between-occasion variances by parameter; required for a model with IOV
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub omega_iov: BTreeMap<String, f64>,
    pub sigma: BTreeMap<String, f64>,
}

impl Estimates {
    pub fn from_fit(r: &FitResult) -> Self {
        Estimates {
            theta: r.theta.clone(),
            omega: r.omega.clone(),
            omega_iov: r.omega_iov.clone(),
            sigma: r.sigma.clone(),
        }
    }
    /// The model's initial estimates (a published model as it is).
    pub fn initial(m: &EstimationModel) -> Self {
        let p = PopParams::initial(m);
        let k = m.n_eta();
        let mut omega = BTreeMap::new();
        for i in 0..k {
            omega.insert(PARAMS[m.eta_params[i]].to_string(), p.omega[i * k + i]);
            if m.omega_block {
                for j in 0..i {
                    omega.insert(
                        format!("{},{}", PARAMS[m.eta_params[j]], PARAMS[m.eta_params[i]]),
                        p.omega[i * k + j],
                    );
                }
            }
        }
        Estimates {
            theta: m.thetas.iter().map(|t| (t.name.clone(), t.init)).collect(),
            omega,
            omega_iov: m
                .iov_params
                .iter()
                .zip(&m.iov_init)
                .map(|(&i, v)| (PARAMS[i].to_string(), *v))
                .collect(),
            sigma: m
                .sigma_names()
                .iter()
                .zip(&p.sigma)
                .map(|(n, v)| (n.to_string(), *v))
                .collect(),
        }
    }
    /// As parameters of `m`; every name `m` needs must be present.
    pub fn params(&self, m: &EstimationModel) -> Result<PopParams, MgivError> {
        let get = |map: &BTreeMap<String, f64>, what: &str, key: &str| {
            map.get(key).copied().ok_or_else(|| {
                invalid(
                    format!("{what} in the estimates"),
                    key,
                    format!(
                        "the names of model {}: {}",
                        m.id,
                        map.keys().cloned().collect::<Vec<_>>().join(", ")
                    ),
                )
            })
        };
        let k = m.n_eta();
        let mut omega = vec![0.0; k * k];
        for i in 0..k {
            omega[i * k + i] = get(&self.omega, "omega", PARAMS[m.eta_params[i]])?;
            for j in 0..i {
                let key = format!("{},{}", PARAMS[m.eta_params[j]], PARAMS[m.eta_params[i]]);
                if let Some(c) = self.omega.get(&key) {
                    omega[i * k + j] = *c;
                    omega[j * k + i] = *c;
                }
            }
        }
        if k > 0 && linalg::cholesky(&omega, k).is_none() {
            return Err(invalid(
                "omega in the estimates",
                "not positive definite",
                "a valid Ω",
            ));
        }
        Ok(PopParams {
            theta: m
                .thetas
                .iter()
                .map(|t| get(&self.theta, "theta", &t.name))
                .collect::<Result<_, _>>()?,
            omega,
            sigma: m
                .sigma_names()
                .iter()
                .map(|n| get(&self.sigma, "sigma", n))
                .collect::<Result<_, _>>()?,
            omega_iov: m
                .iov_params
                .iter()
                .map(|&i| get(&self.omega_iov, "omega_iov", PARAMS[i]))
                .collect::<Result<_, _>>()?,
        })
    }
}

/// One time bin of a pcVPC (concentrations in mmol/L, prediction-corrected).
#[derive(Debug, Clone, Serialize)]
pub struct VpcBin {
    pub t_lo_h: f64,
    pub t_hi_h: f64,
    /// median observation time in the bin
    pub t_mid_h: f64,
    pub n_obs: usize,
    /// observed 5th, 50th, 95th percentiles
    pub observed: [f64; 3],
    /// for each of those percentiles: the 5th, 50th and 95th percentile over replicates
    pub simulated: [[f64; 3]; 3],
}

#[derive(Debug, Clone, Serialize)]
pub struct Vpc {
    pub model_id: String,
    pub n_replicates: usize,
    pub seed: u64,
    pub bins: Vec<VpcBin>,
    /// observed percentiles outside their simulated 90 % range, of 3 × bins
    pub outside: usize,
    /// what the check does not cover (e.g. a model's between-occasion variability, which is not
    /// simulated); empty when it covers the whole model
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

use mgiv_core::numerics::quantile;

/// Per subject: the population prediction (η = 0) and `n_rep` simulated replicates of every
/// observation (η from Ω, each occasion's κ from Ω_IOV, residual error from σ), each subject on
/// its own seeded streams.
type Replicates = Vec<(Vec<f64>, Vec<Vec<f64>>)>;

fn simulate_replicates(
    m: &EstimationModel,
    p: &PopParams,
    subjects: &[SubjectData],
    n_rep: usize,
    seed: u64,
) -> Result<Replicates, MgivError> {
    let k = m.n_eta();
    subjects
        .par_iter()
        .enumerate()
        .map(|(si, s)| {
            let (lo, dim) = subject_omega_factor(m, p, s)?;
            let predict = |e: &[f64]| {
                let sp = subject_params(m, p, s, e);
                let mut all = Vec::new();
                let mut bases = Vec::new();
                let mut buf = Buffers::default();
                for seg in &s.segments {
                    sp.predict(seg, &mut buf.f, &mut buf.base);
                    all.extend(buf.f.iter().map(|d| d.v));
                    bases.extend(buf.base.iter().map(|d| d.v));
                }
                (all, bases)
            };
            let (pred, _) = predict(&vec![0.0; k]);
            let mut re = SubjectRng::new(seed, si as u64, Stream::Etas);
            let mut rr = SubjectRng::new(seed, si as u64, Stream::Residual);
            let mut z = vec![0.0; dim];
            let mut e = vec![0.0; dim];
            let reps = (0..n_rep)
                .map(|_| {
                    for zi in z.iter_mut() {
                        *zi = re.normal();
                    }
                    linalg::lower_mul(&lo, dim, &z, &mut e);
                    let (f, b) = predict(&e);
                    f.iter()
                        .zip(&b)
                        .map(|(fi, bi)| fi + resid_var_at(m, p, *fi, *bi).sqrt() * rr.normal())
                        .collect()
                })
                .collect();
            Ok((pred, reps))
        })
        .collect()
}

/// One observation for binning: (time h, DV, PRED, subject, index within the subject).
type Obs = (f64, f64, f64, usize, usize);

/// One bin of observations: observed and simulated 5th/50th/95th percentiles after prediction
/// correction (Bergstrand 2011: y · PRED_bin / PRED), and how many observed percentiles fall
/// outside their simulated 90 % range.
fn vpc_bin(chunk: &[Obs], per: &Replicates, n_rep: usize) -> (VpcBin, usize) {
    let mut preds: Vec<f64> = chunk.iter().map(|o| o.2).collect();
    let pbin = quantile(&mut preds, 0.5);
    let pc = |y: f64, pred: f64| y * pbin / pred;
    let mut o: Vec<f64> = chunk.iter().map(|x| pc(x.1, x.2)).collect();
    let observed = [
        quantile(&mut o, 0.05),
        quantile(&mut o, 0.5),
        quantile(&mut o, 0.95),
    ];
    let mut sims: [Vec<f64>; 3] = [Vec::new(), Vec::new(), Vec::new()];
    for r in 0..n_rep {
        let mut v: Vec<f64> = chunk.iter().map(|x| pc(per[x.3].1[r][x.4], x.2)).collect();
        for (q, s) in [0.05, 0.5, 0.95].iter().zip(sims.iter_mut()) {
            s.push(quantile(&mut v, *q));
        }
    }
    let mut outside = 0;
    let mut simulated = [[0.0; 3]; 3];
    for (q, s) in sims.iter_mut().enumerate() {
        simulated[q] = [quantile(s, 0.05), quantile(s, 0.5), quantile(s, 0.95)];
        if observed[q] < simulated[q][0] || observed[q] > simulated[q][2] {
            outside += 1;
        }
    }
    let mut times: Vec<f64> = chunk.iter().map(|x| x.0).collect();
    let bin = VpcBin {
        t_lo_h: chunk[0].0,
        t_hi_h: chunk[chunk.len() - 1].0,
        t_mid_h: quantile(&mut times, 0.5),
        n_obs: chunk.len(),
        observed,
        simulated,
    };
    (bin, outside)
}

/// Prediction-corrected VPC of `m` at `est` on the design of `ds`: `n_rep` replicates, `n_bins`
/// bins of equal observation count, reproducible from `seed` on any number of threads.
pub fn pcvpc(
    m: &EstimationModel,
    est: &Estimates,
    ds: &Dataset,
    n_rep: usize,
    n_bins: usize,
    seed: u64,
) -> Result<Vpc, MgivError> {
    if n_rep < 20 {
        return Err(invalid("replicates", n_rep, "20 or more"));
    }
    let p = est.params(m)?;
    let (subjects, _) = prepare(m, ds)?;
    let n_obs: usize = subjects.iter().map(|s| s.y.len()).sum();
    if n_bins == 0 || n_bins > n_obs {
        return Err(invalid(
            "bins",
            n_bins,
            format!("1 to {n_obs} (the number of observations)"),
        ));
    }
    let per = simulate_replicates(m, &p, &subjects, n_rep, seed)?;
    let mut obs: Vec<Obs> = Vec::with_capacity(n_obs);
    for (si, s) in subjects.iter().enumerate() {
        for j in 0..s.y.len() {
            obs.push((s.times_h[j], s.y[j], per[si].0[j], si, j));
        }
    }
    obs.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut bins = Vec::new();
    let mut outside = 0;
    for b in 0..n_bins {
        let (i0, i1) = (b * n_obs / n_bins, (b + 1) * n_obs / n_bins);
        let chunk = &obs[i0..i1];
        if chunk.is_empty() {
            continue;
        }
        let (bin, out) = vpc_bin(chunk, &per, n_rep);
        outside += out;
        bins.push(bin);
    }
    Ok(Vpc {
        model_id: m.id.clone(),
        n_replicates: n_rep,
        seed,
        bins,
        outside,
        notes: Vec::new(),
    })
}
