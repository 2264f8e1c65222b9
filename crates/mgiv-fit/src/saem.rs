//! SAEM: stochastic approximation expectation–maximisation (Delyon, Lavielle & Moulines 1999;
//! Kuhn & Lavielle 2005), the algorithm of Monolix and of NONMEM's `METHOD=SAEM`.
//!
//! The individual parameters with a random effect are sampled as φ_i = ln P_i ~ N(μ_i(θ), Ω),
//! μ_i = ln(θ_P · Π covariate factors); P_i = exp(φ_i). Each iteration:
//!
//! 1. **Simulation**: a Metropolis–Hastings chain per subject moves φ_i under p(φ_i | y_i; θ, Ω, σ)
//!    with Monolix's three kernels: 2 proposals from the prior N(μ_i, Ω), 2 block random-walk
//!    proposals φ + δ·L z (Ω = LLᵀ) and 2 component-wise random-walk sweeps; δ adapts towards
//!    an acceptance rate of 0.4. The likelihood is the FOCE-I code's (`focei::data_m2ll`: the
//!    same closed-form predictions and residual model).
//! 2. **Stochastic approximation** of the sufficient statistics s1_i = φ_i, s2_i = φ_iφ_iᵀ with
//!    step γ_k = 1 for the first `burn_in` iterations, then γ_k = 1/(k − burn_in + 1).
//! 3. **Maximisation**: typical values of the parameters with a random effect in closed form
//!    (ln θ_P = mean_i(s1_i − c_i), c_i the log covariate factor), covariate θs acting on them by
//!    BFGS on the profiled ln|Ω|, Ω = (1/N) Σ_i E[(φ_i − μ_i)(φ_i − μ_i)ᵀ] (its diagonal for a
//!    diagonal Ω). The other fixed effects (parameters without a random effect, their covariate
//!    θs) and σ have no sufficient statistic: their complete-data maximiser given the current
//!    samples is found by a few BFGS steps (central-difference gradient of that cheap
//!    function) and stochastically averaged with the same γ_k (as nlmixr2's SAEM does).
//!    In the first half of the burn-in each variance may shrink by at most 5 % per iteration
//!    (simulated annealing, as Monolix), which keeps the chains exploring.
//!
//! **Between-occasion variability** (`[estimation.iov]`): each occasion o of subject i has its
//! own κ_io ~ N(0, Ω_IOV) on the named parameters (P_io = exp(φ_i + κ_io)). The chain samples κ
//! given φ by two component-wise random-walk sweeps (scale adapted towards 40 % acceptance, as
//! for φ), the statistic s3_i = Σ_o κ_io² is approximated like s1 and s2, and the M-step is
//! ω²_IOV = Σ_i s3_i / Σ_i n_occ,i (with the same annealing as Ω). Without IOV the chains draw
//! exactly what they drew before.
//!
//! The result is reported like a FOCE-I fit (`focei::finish`): the OFV is the FOCE-I objective
//! at the SAEM estimates, η̂ are re-optimised modes, and the covariance step is FOCE-I's.
//!
//! Each subject has its own random stream (seed, subject index) and the M-step sums subjects in
//! order: the same seed gives the same estimates on any number of threads.

use mgiv_core::optim::bfgs_central;
use mgiv_core::MgivError;
use mgiv_data::Dataset;
use mgiv_pop::linalg;
use mgiv_pop::rng::{Stream, SubjectRng};
use rayon::prelude::*;

use crate::focei::{
    data_m2ll, finish, prepare, structural_value, Finish, FitResult, PopParams, Progress,
    SubjectData,
};
use crate::spec::{Effect, EstimationModel};

#[derive(Debug, Clone)]
pub struct SaemSettings {
    /// iterations with γ = 1 (exploration)
    pub burn_in: usize,
    /// iterations with γ = 1/k (averaging)
    pub iterations: usize,
    pub seed: u64,
    pub covariance: bool,
}

impl Default for SaemSettings {
    fn default() -> Self {
        SaemSettings {
            burn_in: 300,
            iterations: 200,
            seed: 1,
            covariance: true,
        }
    }
}

/// One subject's Markov chain.
struct Chain {
    phi: Vec<f64>,
    /// with IOV: κ of every occasion, occasion by occasion (the FOCE-I order); else empty
    kappa: Vec<f64>,
    /// random-walk scales of κ, by IOV parameter
    d_kappa: Vec<f64>,
    /// −2 ln p(y | φ) at the current population parameters
    ll: f64,
    rng: SubjectRng,
    /// block and component-wise random-walk scales
    d_block: f64,
    d_comp: Vec<f64>,
}

/// μ_i: ln of the typical individual value of each parameter with a random effect.
fn mu(m: &EstimationModel, p: &PopParams, s: &SubjectData) -> Vec<f64> {
    m.eta_params
        .iter()
        .map(|&i| structural_value(m, p, i, Some(&s.covariates)).ln())
        .collect()
}

fn eta_of(phi: &[f64], mu: &[f64]) -> Vec<f64> {
    phi.iter().zip(mu).map(|(a, b)| a - b).collect()
}

/// All the subject's random effects as the likelihood takes them: η = φ − μ, then every
/// occasion's κ.
fn effects_of(phi: &[f64], mu: &[f64], kappa: &[f64]) -> Vec<f64> {
    let mut e = eta_of(phi, mu);
    e.extend_from_slice(kappa);
    e
}

/// (φ − μ)ᵀ Ω⁻¹ (φ − μ)
fn quad(inv: &[f64], k: usize, phi: &[f64], mu: &[f64]) -> f64 {
    let d = eta_of(phi, mu);
    let mut q = 0.0;
    for a in 0..k {
        for b in 0..k {
            q += d[a] * inv[a * k + b] * d[b];
        }
    }
    q
}

fn to_unit(lower: f64, upper: f64, x: f64) -> f64 {
    match (lower.is_finite(), upper.is_finite()) {
        (true, true) => {
            let r = (x - lower) / (upper - lower);
            (r / (1.0 - r)).ln()
        }
        (true, false) => (x - lower).ln(),
        (false, true) => (upper - x).ln(),
        (false, false) => x,
    }
}

fn from_unit(lower: f64, upper: f64, u: f64) -> f64 {
    match (lower.is_finite(), upper.is_finite()) {
        (true, true) => lower + (upper - lower) / (1.0 + (-u).exp()),
        (true, false) => lower + u.exp(),
        (false, true) => upper - u.exp(),
        (false, false) => u,
    }
}

/// Minimise `f` by BFGS with a central-difference gradient (for the small M-step problems).
fn bfgs_fd(f: &dyn Fn(&[f64]) -> f64, x0: &[f64], max_iter: usize) -> Vec<f64> {
    let step = |x: &[f64], i: usize| 1e-5 * x[i].abs().max(1.0);
    let (x, fx, _) = bfgs_central(&mut |x| f(x), &step, x0, None, max_iter, 1e-6);
    if fx.is_finite() {
        x
    } else {
        x0.to_vec()
    }
}

/// Fit `model` to `ds` by SAEM.
pub fn fit_saem(
    model: &EstimationModel,
    ds: &Dataset,
    settings: &SaemSettings,
    progress: &(dyn Fn(Progress) + Sync),
) -> Result<FitResult, MgivError> {
    let (subjects, mut notes) = prepare(model, ds)?;
    let k = model.n_eta();
    let n_iov = model.n_iov();
    let n = subjects.len();
    if settings.iterations == 0 {
        return Err(mgiv_core::error::invalid(
            "SAEM iterations",
            0,
            "at least 1 averaging iteration",
        ));
    }
    let classes = theta_classes(model, &subjects)?;
    if classes.moved {
        notes.push(
            "SAEM: covariate θ on a parameter with a random effect whose covariate changes within a subject are estimated with the other fixed effects (complete-data likelihood at the sampled η), not from the between-subject relation alone".into(),
        );
    }
    let mut p = PopParams::initial(model);
    let mut chains: Vec<Chain> = subjects
        .iter()
        .enumerate()
        .map(|(i, s)| Chain {
            phi: mu(model, &p, s),
            kappa: vec![0.0; s.occasions.len() * n_iov],
            d_kappa: vec![0.4; n_iov],
            ll: f64::INFINITY,
            rng: SubjectRng::new(settings.seed, i as u64, Stream::Other),
            d_block: 0.4,
            d_comp: vec![0.4; k],
        })
        .collect();
    let mut stats = Stats {
        s1: vec![vec![0.0; k]; n],
        s2: vec![vec![0.0; k * k]; n],
        s3: vec![vec![0.0; n_iov]; n],
    };
    let total_iter = settings.burn_in + settings.iterations;
    let mut trace: Vec<Vec<f64>> = Vec::new();
    let mut evals: u64 = 0;

    for iter in 0..total_iter {
        let gamma = if iter < settings.burn_in {
            1.0
        } else {
            1.0 / (iter - settings.burn_in + 1) as f64
        };
        evals += simulation_step(model, &p, &subjects, &mut chains, iter)?;
        stats.update(&chains, gamma);
        if k > 0 {
            let anneal = iter < settings.burn_in / 2;
            population_step(model, &mut p, &subjects, &stats, &classes, anneal);
        }
        if n_iov > 0 {
            iov_step(&mut p, &subjects, &stats, iter < settings.burn_in / 2);
        }
        other_step(model, &mut p, &subjects, &chains, &classes.other, gamma);

        let mut point: Vec<f64> = p.theta.clone();
        point.extend((0..k).map(|a| p.omega[a * k + a]));
        point.extend(p.sigma.iter().copied());
        point.extend(p.omega_iov.iter().copied());
        trace.push(point);
        if iter % 25 == 0 || iter + 1 == total_iter {
            let m2ll: f64 = chains.iter().map(|c| c.ll).sum();
            progress(Progress::Saem {
                iteration: iter + 1,
                total: total_iter,
                burn_in: iter < settings.burn_in,
                m2ll,
            });
        }
    }

    let converged = stationary(model, &trace, settings.burn_in, &mut notes);
    notes.push(format!(
        "SAEM: {} burn-in + {} averaging iterations, seed {}; the OFV is the FOCE-I objective at the SAEM estimates",
        settings.burn_in, settings.iterations, settings.seed
    ));
    finish(
        model,
        p,
        &subjects,
        notes,
        settings.covariance,
        progress,
        Finish {
            method: "saem",
            converged,
            evaluations: evals,
            gradients: 0,
            ofv_note:
                "FOCE-I -2 log-likelihood at the SAEM estimates, without the constant N·ln(2π)",
        },
    )
}

/// The free θ in three classes: the typical value of each parameter with η (`typ`, by η), the
/// covariate θ acting on those (`cov_mu`), and the rest (`other`). A covariate θ whose column
/// changes within a subject also acts within that subject's data, which the between-subject
/// M-step of `cov_mu` does not see: such a θ goes to `other` (`moved`).
struct ThetaClasses {
    typ: Vec<Option<usize>>,
    cov_mu: Vec<usize>,
    other: Vec<usize>,
    moved: bool,
}

/// Whether covariate relation `r` (index) changes within some subject.
fn varies_within(subjects: &[SubjectData], r: usize) -> bool {
    subjects.iter().any(|s| {
        s.time_varying
            .as_ref()
            .is_some_and(|tv| tv.values.iter().any(|v| v[r] != tv.values[0][r]))
    })
}

fn theta_classes(
    model: &EstimationModel,
    subjects: &[SubjectData],
) -> Result<ThetaClasses, MgivError> {
    let typ: Vec<Option<usize>> = model
        .eta_params
        .iter()
        .map(|&i| model.param_theta[i].filter(|&t| !model.thetas[t].fixed))
        .collect();
    let mut cov_mu = Vec::new();
    let mut cov_other = Vec::new();
    let mut moved = false;
    for (ri, r) in model.relations.iter().enumerate() {
        if let Effect::Theta(t) = r.effect {
            if model.thetas[t].fixed {
                continue;
            }
            if model.eta_params.contains(&r.param) && varies_within(subjects, ri) {
                moved = true;
                if !cov_other.contains(&t) {
                    cov_other.push(t);
                }
            } else if model.eta_params.contains(&r.param) {
                if !cov_mu.contains(&t) {
                    cov_mu.push(t);
                }
            } else if !cov_other.contains(&t) {
                cov_other.push(t);
            }
        }
    }
    if let Some(t) = cov_mu.iter().find(|t| cov_other.contains(t)) {
        return Err(mgiv_core::error::invalid(
            "theta",
            &model.thetas[*t].name,
            "for SAEM, a covariate θ acting either on parameters with a random effect or on parameters without one, not both (or use --method focei)",
        ));
    }
    let other: Vec<usize> = (0..model.thetas.len())
        .filter(|t| !model.thetas[*t].fixed && !typ.contains(&Some(*t)) && !cov_mu.contains(t))
        .collect();
    Ok(ThetaClasses {
        typ,
        cov_mu,
        other,
        moved,
    })
}

/// Per subject, the stochastic approximations of φᵢ (s1), φᵢφᵢᵀ (s2) and, with IOV, Σ_o κ_io²
/// by IOV parameter (s3).
struct Stats {
    s1: Vec<Vec<f64>>,
    s2: Vec<Vec<f64>>,
    s3: Vec<Vec<f64>>,
}

impl Stats {
    fn update(&mut self, chains: &[Chain], gamma: f64) {
        for (i, c) in chains.iter().enumerate() {
            let k = c.phi.len();
            for a in 0..k {
                self.s1[i][a] += gamma * (c.phi[a] - self.s1[i][a]);
                for b in 0..k {
                    self.s2[i][a * k + b] += gamma * (c.phi[a] * c.phi[b] - self.s2[i][a * k + b]);
                }
            }
            let n_iov = self.s3[i].len();
            for j in 0..n_iov {
                let sq: f64 = c.kappa.iter().skip(j).step_by(n_iov).map(|x| x * x).sum();
                self.s3[i][j] += gamma * (sq - self.s3[i][j]);
            }
        }
    }
}

/// The M-step for Ω_IOV: ω²_j = Σ_i s3_ij / Σ_i n_occ,i (early in the burn-in a variance shrinks
/// by at most 5 % an iteration, as Ω's).
fn iov_step(p: &mut PopParams, subjects: &[SubjectData], stats: &Stats, anneal: bool) {
    let n_occ: usize = subjects.iter().map(|s| s.occasions.len()).sum();
    if n_occ == 0 {
        return;
    }
    for (j, w) in p.omega_iov.iter_mut().enumerate() {
        let v = stats.s3.iter().map(|s| s[j]).sum::<f64>() / n_occ as f64;
        let v = if anneal { v.max(0.95 * *w) } else { v };
        if v.is_finite() && v > 0.0 {
            *w = v;
        }
    }
}

/// The simulation step: every subject's chain through the three Metropolis–Hastings kernels
/// (parallel over subjects); returns the number of likelihood evaluations.
fn simulation_step(
    model: &EstimationModel,
    p: &PopParams,
    subjects: &[SubjectData],
    chains: &mut [Chain],
    iter: usize,
) -> Result<u64, MgivError> {
    let k = model.n_eta();
    let (l, inv) = if k > 0 {
        let l = linalg::cholesky(&p.omega, k).ok_or_else(|| {
            MgivError::Numerical(format!("SAEM: Ω not positive definite at iteration {iter}"))
        })?;
        let inv = linalg::cholesky_inverse(&l, k);
        (l, inv)
    } else {
        (Vec::new(), Vec::new())
    };
    let counts: Vec<u64> = chains
        .par_iter_mut()
        .zip(subjects)
        .map(|(c, s)| {
            let mut buf = crate::focei::Buffers::default();
            let mut count = 0u64;
            let mu_i = mu(model, p, s);
            let mut lik = |phi: &[f64], kappa: &[f64], buf: &mut crate::focei::Buffers| {
                count += 1;
                let v = data_m2ll(model, p, s, &effects_of(phi, &mu_i, kappa), buf);
                if v.is_finite() {
                    v
                } else {
                    f64::INFINITY
                }
            };
            c.ll = lik(&c.phi, &c.kappa, &mut buf);
            if k > 0 {
                let kappa = c.kappa.clone();
                mh_kernels(c, p, &l, &inv, &mu_i, &mut |phi: &[f64]| {
                    lik(phi, &kappa, &mut buf)
                });
            }
            if !c.kappa.is_empty() {
                let phi = c.phi.clone();
                kappa_kernel(c, &p.omega_iov, &mut |kappa: &[f64]| {
                    lik(&phi, kappa, &mut buf)
                });
            }
            count
        })
        .collect();
    Ok(counts.iter().sum())
}

/// Monolix's kernels on one chain: 2 independent proposals from the prior, 2 block random-walk
/// proposals, 2 component-wise sweeps; the random-walk scales adapted towards 40 % acceptance.
fn mh_kernels(
    c: &mut Chain,
    pr: &PopParams,
    l: &[f64],
    inv: &[f64],
    mu_i: &[f64],
    lik: &mut dyn FnMut(&[f64]) -> f64,
) {
    let k = mu_i.len();
    let mut q = quad(inv, k, &c.phi, mu_i);
    // kernel 1: independent proposals from the prior
    for _ in 0..2 {
        let z: Vec<f64> = (0..k).map(|_| c.rng.normal()).collect();
        let mut prop = vec![0.0; k];
        linalg::lower_mul(l, k, &z, &mut prop);
        for (x, m) in prop.iter_mut().zip(mu_i) {
            *x += m;
        }
        let llp = lik(&prop);
        if c.rng.uniform().ln() < -0.5 * (llp - c.ll) {
            q = quad(inv, k, &prop, mu_i);
            c.phi = prop;
            c.ll = llp;
        }
    }
    // kernel 2: block random walk
    let mut acc = 0.0;
    for _ in 0..2 {
        let z: Vec<f64> = (0..k).map(|_| c.rng.normal()).collect();
        let mut step = vec![0.0; k];
        linalg::lower_mul(l, k, &z, &mut step);
        let prop: Vec<f64> = c
            .phi
            .iter()
            .zip(&step)
            .map(|(a, b)| a + c.d_block * b)
            .collect();
        let llp = lik(&prop);
        let qp = quad(inv, k, &prop, mu_i);
        if c.rng.uniform().ln() < -0.5 * ((llp + qp) - (c.ll + q)) {
            c.phi = prop;
            c.ll = llp;
            q = qp;
            acc += 0.5;
        }
    }
    c.d_block = (c.d_block * (1.0 + 0.4 * (acc - 0.4))).clamp(0.01, 5.0);
    // kernel 3: component-wise random walk
    let mut acc_c = vec![0.0; k];
    for _ in 0..2 {
        for j in 0..k {
            let mut prop = c.phi.clone();
            prop[j] += c.d_comp[j] * pr.omega[j * k + j].sqrt() * c.rng.normal();
            let llp = lik(&prop);
            let qp = quad(inv, k, &prop, mu_i);
            if c.rng.uniform().ln() < -0.5 * ((llp + qp) - (c.ll + q)) {
                c.phi = prop;
                c.ll = llp;
                q = qp;
                acc_c[j] += 0.5;
            }
        }
    }
    for (d, a) in c.d_comp.iter_mut().zip(&acc_c) {
        *d = (*d * (1.0 + 0.4 * (a - 0.4))).clamp(0.01, 5.0);
    }
}

/// κ given φ: two component-wise random-walk sweeps under p(y | φ, κ)·N(κ; 0, Ω_IOV), the
/// scales adapted towards 40 % acceptance.
fn kappa_kernel(c: &mut Chain, omega_iov: &[f64], lik: &mut dyn FnMut(&[f64]) -> f64) {
    let n_iov = omega_iov.len();
    let prior = |kappa: &[f64]| -> f64 {
        kappa
            .iter()
            .enumerate()
            .map(|(r, x)| x * x / omega_iov[r % n_iov])
            .sum()
    };
    let mut q = prior(&c.kappa);
    let mut acc = vec![0.0; n_iov];
    let n_per = c.kappa.len() / n_iov;
    for _ in 0..2 {
        for r in 0..c.kappa.len() {
            let j = r % n_iov;
            let mut prop = c.kappa.clone();
            prop[r] += c.d_kappa[j] * omega_iov[j].sqrt() * c.rng.normal();
            let llp = lik(&prop);
            let qp = prior(&prop);
            if c.rng.uniform().ln() < -0.5 * ((llp + qp) - (c.ll + q)) {
                c.kappa = prop;
                c.ll = llp;
                q = qp;
                acc[j] += 0.5 / n_per as f64;
            }
        }
    }
    for (d, a) in c.d_kappa.iter_mut().zip(&acc) {
        *d = (*d * (1.0 + 0.4 * (a - 0.4))).clamp(0.01, 5.0);
    }
}

/// The M-step for the population part: typical values of the parameters with η in closed form,
/// covariate θ on them by minimising ln|Ω|, then Ω (early in the burn-in, variances shrink by at
/// most 5 % an iteration: simulated annealing).
fn population_step(
    model: &EstimationModel,
    p: &mut PopParams,
    subjects: &[SubjectData],
    stats: &Stats,
    classes: &ThetaClasses,
    anneal: bool,
) {
    let k = model.n_eta();
    let n = subjects.len();
    let (s1, s2) = (&stats.s1, &stats.s2);
    let (typ, cov_mu) = (&classes.typ, &classes.cov_mu);
    let old_omega = p.omega.clone();
    // given the covariate θs: typical values in closed form, then Ω
    let pop_given = |p: &PopParams| -> Option<(Vec<f64>, Vec<f64>)> {
        let mut theta = p.theta.clone();
        let mut sum = vec![0.0; k];
        for (i, s) in subjects.iter().enumerate() {
            let m_i = mu(model, p, s);
            for a in 0..k {
                // c_ia = μ_ia − ln θ_P
                let ti = model.param_theta[model.eta_params[a]]?;
                sum[a] += s1[i][a] - (m_i[a] - p.theta[ti].ln());
            }
        }
        for a in 0..k {
            if let Some(t) = typ[a] {
                let th = &model.thetas[t];
                let v = (sum[a] / n as f64).exp();
                let eps = 1e-9 * (th.upper - th.lower).abs().min(v.abs().max(1e-9));
                theta[t] = v.clamp(th.lower + eps, th.upper - eps);
            }
        }
        let pt = PopParams {
            theta: theta.clone(),
            omega: p.omega.clone(),
            sigma: p.sigma.clone(),
            omega_iov: p.omega_iov.clone(),
        };
        let mut om = vec![0.0; k * k];
        for (i, s) in subjects.iter().enumerate() {
            let m_i = mu(model, &pt, s);
            if m_i.iter().any(|v| !v.is_finite()) {
                return None;
            }
            for a in 0..k {
                for b in 0..k {
                    om[a * k + b] +=
                        s2[i][a * k + b] - s1[i][a] * m_i[b] - m_i[a] * s1[i][b] + m_i[a] * m_i[b];
                }
            }
        }
        for v in om.iter_mut() {
            *v /= n as f64;
        }
        if !model.omega_block {
            for a in 0..k {
                for b in 0..k {
                    if a != b {
                        om[a * k + b] = 0.0;
                    }
                }
            }
        }
        Some((theta, om))
    };
    if !cov_mu.is_empty() {
        let objective = |u: &[f64]| -> f64 {
            let mut q = p.clone();
            for (t, x) in cov_mu.iter().zip(u) {
                let th = &model.thetas[*t];
                q.theta[*t] = from_unit(th.lower, th.upper, *x);
            }
            match pop_given(&q) {
                Some((_, om)) => match linalg::cholesky(&om, k) {
                    Some(l) => linalg::cholesky_logdet(&l, k),
                    None => f64::INFINITY,
                },
                None => f64::INFINITY,
            }
        };
        let u0: Vec<f64> = cov_mu
            .iter()
            .map(|t| {
                let th = &model.thetas[*t];
                to_unit(th.lower, th.upper, p.theta[*t])
            })
            .collect();
        let u = bfgs_fd(&objective, &u0, 20);
        for (t, x) in cov_mu.iter().zip(&u) {
            let th = &model.thetas[*t];
            p.theta[*t] = from_unit(th.lower, th.upper, *x);
        }
    }
    if let Some((theta, mut om)) = pop_given(p) {
        // simulated annealing: variances shrink by at most 5 % per iteration early on
        if anneal {
            let mut scale = vec![1.0; k];
            for a in 0..k {
                let floor = 0.95 * old_omega[a * k + a];
                if om[a * k + a] < floor {
                    scale[a] = (floor / om[a * k + a]).sqrt();
                }
            }
            for a in 0..k {
                for b in 0..k {
                    om[a * k + b] *= scale[a] * scale[b];
                }
            }
        }
        if linalg::cholesky(&om, k).is_some() {
            p.theta = theta;
            p.omega = om;
        }
    }
}

/// The M-step for the other fixed effects and σ: the complete-data maximiser at the chains'
/// current η, averaged with step γ.
fn other_step(
    model: &EstimationModel,
    p: &mut PopParams,
    subjects: &[SubjectData],
    chains: &[Chain],
    other: &[usize],
    gamma: f64,
) {
    let etas: Vec<Vec<f64>> = chains
        .iter()
        .zip(subjects)
        .map(|(c, s)| effects_of(&c.phi, &mu(model, p, s), &c.kappa))
        .collect();
    let n_other = other.len();
    let u0: Vec<f64> = other
        .iter()
        .map(|t| {
            let th = &model.thetas[*t];
            to_unit(th.lower, th.upper, p.theta[*t])
        })
        .chain(p.sigma.iter().map(|s| s.ln()))
        .collect();
    let decode = |u: &[f64]| -> PopParams {
        let mut q = p.clone();
        for (t, x) in other.iter().zip(u) {
            let th = &model.thetas[*t];
            q.theta[*t] = from_unit(th.lower, th.upper, *x);
        }
        for (s, x) in q.sigma.iter_mut().zip(&u[n_other..]) {
            *s = x.exp();
        }
        q
    };
    let complete = |u: &[f64]| -> f64 {
        let q = decode(u);
        let parts: Vec<f64> = subjects
            .par_iter()
            .zip(&etas)
            .map(|(s, e)| data_m2ll(model, &q, s, e, &mut Default::default()))
            .collect();
        let v: f64 = parts.iter().sum();
        if v.is_finite() {
            v
        } else {
            f64::INFINITY
        }
    };
    let u = bfgs_fd(&complete, &u0, 6);
    let target = decode(&u);
    for t in other {
        p.theta[*t] += gamma * (target.theta[*t] - p.theta[*t]);
    }
    for (s, t) in p.sigma.iter_mut().zip(&target.sigma) {
        *s += gamma * (t - *s);
    }
}

/// Stationarity of the burn-in: the means of its last two fifths agree, within a tolerance (5 %
/// for θ, 20 % for ω², σ) or within the iterates' own fluctuation (the mean of the two windows'
/// SDs: with step 1 each iterate carries the noise of one sample per subject).
fn stationary(
    model: &EstimationModel,
    trace: &[Vec<f64>],
    burn_in: usize,
    notes: &mut Vec<String>,
) -> bool {
    let k = model.n_eta();
    let b = burn_in;
    let w = b / 5;
    if w < 5 {
        notes.push("SAEM burn-in too short to judge stationarity (converged = false)".into());
        false
    } else {
        let stats = |r: std::ops::Range<usize>| -> (Vec<f64>, Vec<f64>) {
            let len = r.len() as f64;
            let dim = trace[0].len();
            let mut m = vec![0.0; dim];
            for t in &trace[r.clone()] {
                for (a, v) in m.iter_mut().zip(t) {
                    *a += v / len;
                }
            }
            let mut sd = vec![0.0; dim];
            for t in &trace[r] {
                for ((s, v), mu) in sd.iter_mut().zip(t).zip(&m) {
                    *s += (v - mu).powi(2) / (len - 1.0);
                }
            }
            (m, sd.into_iter().map(f64::sqrt).collect())
        };
        let ((a, sa), (c, sc)) = (stats(b - 2 * w..b - w), stats(b - w..b));
        let n_theta = model.thetas.len();
        let bad: Vec<String> = (0..a.len())
            .filter(|&i| {
                let tol = if i < n_theta { 0.05 } else { 0.2 };
                let d = (a[i] - c[i]).abs();
                d > tol * a[i].abs().max(1e-12) && d > 0.5 * (sa[i] + sc[i])
            })
            .map(|i| {
                let name = if i < n_theta {
                    format!("theta.{}", model.thetas[i].name)
                } else if i < n_theta + k {
                    format!(
                        "omega.{}",
                        crate::spec::PARAMS[model.eta_params[i - n_theta]]
                    )
                } else if i < n_theta + k + model.sigma_names().len() {
                    format!("sigma.{}", model.sigma_names()[i - n_theta - k])
                } else {
                    let j = i - n_theta - k - model.sigma_names().len();
                    format!("omega_iov.{}", crate::spec::PARAMS[model.iov_params[j]])
                };
                format!(
                    "{name} ({:+.1} %)",
                    100.0 * (c[i] - a[i]) / a[i].abs().max(1e-12)
                )
            })
            .collect();
        if !bad.is_empty() {
            notes.push(format!(
                "SAEM burn-in not stationary for {}: the means of its last two fifths differ by more than 5 % (θ) or 20 % (ω², σ) and by more than the iterates' fluctuation; increase --saem-burn-in",
                bad.join(", ")
            ));
        }
        bad.is_empty()
    }
}
