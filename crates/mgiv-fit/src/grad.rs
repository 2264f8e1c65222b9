//! The exact gradient of the FOCE-I objective with respect to the population parameters.
//!
//! Subject i's contribution is O_i(u) = L(η̂, u) + ln|Ω| + ln|H̃(η̂, u)| with η̂(u) the inner
//! minimum of L (see [`crate::focei`]). Its total derivative is
//!
//!   dO_i/du = ∂(L + ln|Ω| + ln|H̃|)/∂u − vᵀ ∂²L/∂η∂u,   v = (∂²L/∂η²)⁻¹ (∂L/∂η + ∂ln|H̃|/∂η),
//!
//! the implicit-function derivative dη̂/du = −(∂²L/∂η²)⁻¹ ∂²L/∂η∂u folded into one solve.
//!
//! Everything that η and θ move, they move through the log individual parameters ψ_s ("slots": one
//! per structural parameter, per stretch of constant covariates and per occasion where those
//! differ): ψ_s = ln tv_s(θ) + Σ_r M_sr η_r. The predictions are computed once per subject as
//! second-order duals ([`HDual`]) in q = (ψ, σ), which gives the exact gradient and Hessian of the
//! data part of L in q, and the first derivatives in q of every term of H̃ = P + Mᵀ K(q) M
//! (P the prior precision); the chain rule to η, θ, Ω, σ is then a few small matrix products.
//! ln|H̃| contributes tr(H̃⁻¹ dH̃) = Σ W_ss′ dK_ss′ with W = M H̃⁻¹ Mᵀ.
//!
//! The outer parameters are given as directions ([`Dir`]): the optimiser's transformed u (logit /
//! log / log-Cholesky) and the covariance step's natural parameters use the same code.

use mgiv_data::{CovariateFill, Segment};
use mgiv_pop::linalg;

use crate::dual::HDual;
use crate::focei::{
    inv_mills, kappa_slot, ln_norm_cdf, structural_value, Omega, PopParams, SubjectData,
};
use crate::pred::{predict_dual_pieces, predict_hdual, DParams, Pieces};
use crate::spec::{BaselineMode, Effect, ErrorModel, EstimationModel, RelationForm, BASE};
use mgiv_core::model::ResidualScale;

/// How one outer parameter moves the population parameters (its derivative).
#[derive(Debug, Clone)]
pub enum Dir {
    /// dθ_i/du = d
    Theta { i: usize, d: f64 },
    /// dΩ/du (k×k, row-major)
    Omega { d: Vec<f64> },
    /// dω²_IOV,j/du = d
    OmegaIov { j: usize, d: f64 },
    /// dσ_j/du = d (in `model.sigma_names()` order)
    Sigma { j: usize, d: f64 },
}

/// One slot: a log individual parameter of the subject.
#[derive(Debug, Clone, PartialEq)]
struct Slot {
    param: usize,
    /// the individual parameter's value at η̂
    value: f64,
    /// ∂ψ/∂θ_i for every θ (0 for an own baseline)
    a: Vec<f64>,
    /// the random effects it carries (η index, κ index)
    eta: Option<usize>,
    kappa: Option<usize>,
}

/// The slots of one parameter set (covariates `covs`) and, per structural parameter, the slot it
/// uses (None: the parameter is 0, as [`structural_value`] gives for a parameter the model lacks).
fn slots_of(
    m: &EstimationModel,
    p: &PopParams,
    s: &SubjectData,
    covs: &[f64],
    eta: &[f64],
    slots: &mut Vec<Slot>,
) -> [Option<usize>; 5] {
    let mut out = [None; 5];
    for (i, o) in out.iter_mut().enumerate() {
        let mut tv = structural_value(m, p, i, Some(covs));
        let mut own = false;
        if i == BASE && m.baseline == BaselineMode::PerSubject {
            if let Some(b) = s.own_baseline {
                tv = b;
                own = true;
            }
        }
        if tv == 0.0 {
            continue;
        }
        let mut value = tv;
        let e = m.eta_params.iter().position(|&e| e == i);
        if let Some(k) = e {
            value *= eta[k].exp();
        }
        let mut kappa = None;
        if let Some(j) = m.iov_params.iter().position(|&e| e == i) {
            let r = kappa_slot(m, s, covs, j);
            if let Some(&kp) = eta.get(r) {
                value *= kp.exp();
                kappa = Some(r);
            }
        }
        let mut a = vec![0.0; p.theta.len()];
        if !own {
            if let Some(ti) = m.param_theta[i] {
                a[ti] += 1.0 / p.theta[ti];
            }
            for (r, x) in m.relations.iter().zip(covs) {
                if r.param != i {
                    continue;
                }
                if let Effect::Theta(k) = r.effect {
                    let e = p.theta[k];
                    a[k] += match r.form {
                        RelationForm::Power => (x / r.reference).ln(),
                        RelationForm::Linear => {
                            let z = x / r.reference - 1.0;
                            z / (1.0 + e * z)
                        }
                    };
                }
            }
        }
        let slot = Slot {
            param: i,
            value,
            a,
            eta: e,
            kappa,
        };
        *o = Some(match slots.iter().position(|x| *x == slot) {
            Some(q) => q,
            None => {
                slots.push(slot);
                slots.len() - 1
            }
        });
    }
    out
}

fn hparams<const N: usize>(
    m: &EstimationModel,
    slots: &[Slot],
    which: &[Option<usize>; 5],
) -> DParams<HDual<N>> {
    let v: Vec<HDual<N>> = which
        .iter()
        .map(|w| match w {
            None => HDual::cst(0.0),
            Some(q) => {
                let x = slots[*q].value;
                let mut d = HDual::cst(x);
                d.g[*q] = x;
                d.h[*q][*q] = x;
                d
            }
        })
        .collect();
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

fn resid_var_h<const N: usize>(
    m: &EstimationModel,
    prop: HDual<N>,
    add: HDual<N>,
    f: HDual<N>,
    base: HDual<N>,
) -> HDual<N> {
    let x = match m.residual_on {
        ResidualScale::Total => f,
        ResidualScale::ChangeFromBaseline => f - base,
    };
    match m.error_model {
        ErrorModel::Additive => add * add,
        ErrorModel::Proportional => (x * prop).sq(),
        ErrorModel::Combined => (x * prop).sq() + add * add,
    }
}

/// What one observation leaves for the second pass (the ln|H̃| derivatives).
struct ObsTerm<const N: usize> {
    f: HDual<N>,
    r: HDual<N>,
}

/// What one censored observation leaves: the M3 variable z, w(z) = λ(z + λ) and w′(z).
struct CensTerm<const N: usize> {
    z: HDual<N>,
    w: f64,
    dw: f64,
}

/// Predictions of `seg` as second-order duals into `out`/`bases`.
fn predict_h<const N: usize>(
    params: &[DParams<HDual<N>>],
    changes_h: Option<&[f64]>,
    nocb: bool,
    seg: &Segment,
    out: &mut Vec<HDual<N>>,
    bases: &mut Vec<HDual<N>>,
) {
    match changes_h {
        None => {
            predict_hdual(&params[0], seg, out);
            bases.clear();
            bases.resize(out.len(), params[0].base);
        }
        Some(ch) => {
            let pc = Pieces {
                changes_h: ch,
                params,
                nocb,
            };
            predict_dual_pieces(&pc, seg, out, bases);
        }
    }
}

/// The data part of one subject's Laplace objective, from the first pass over its records.
struct DataPass<const N: usize> {
    /// the data part of L (value, q-gradient, q-Hessian)
    ldat: HDual<N>,
    /// K (ns×ns): the ψ-block of H̃'s data terms, before Mᵀ·M
    kmat: Vec<f64>,
    obs: Vec<ObsTerm<N>>,
    cens: Vec<CensTerm<N>>,
}

/// First pass: the second-order predictions of every observed and censored record, summed into
/// the data part of L and K, keeping what the second pass needs.
#[allow(clippy::too_many_arguments)]
fn data_pass<const N: usize>(
    m: &EstimationModel,
    s: &SubjectData,
    params: &[DParams<HDual<N>>],
    changes: Option<&[f64]>,
    nocb: bool,
    prop: HDual<N>,
    add: HDual<N>,
    ns: usize,
) -> DataPass<N> {
    let mut ldat = HDual::<N>::cst(0.0);
    let mut kmat = vec![0.0; ns * ns];
    let mut obs: Vec<ObsTerm<N>> = Vec::with_capacity(s.y.len());
    let mut cens: Vec<CensTerm<N>> = Vec::with_capacity(s.limits.len());
    let (mut fb, mut bb) = (Vec::new(), Vec::new());
    let mut j = 0;
    for seg in &s.segments {
        predict_h(params, changes, nocb, seg, &mut fb, &mut bb);
        for (f, b) in fb.iter().zip(&bb) {
            let r = resid_var_h(m, prop, add, *f, *b);
            let e = HDual::cst(s.y[j]) - *f;
            ldat = ldat + r.ln() + e.sq() / r;
            for a in 0..ns {
                for c in 0..ns {
                    kmat[a * ns + c] += f.g[a] * f.g[c] / r.v + 0.5 * r.g[a] * r.g[c] / (r.v * r.v);
                }
            }
            obs.push(ObsTerm { f: *f, r });
            j += 1;
        }
    }
    let mut j = 0;
    for seg in &s.censored {
        predict_h(params, changes, nocb, seg, &mut fb, &mut bb);
        for (f, b) in fb.iter().zip(&bb) {
            let r = resid_var_h(m, prop, add, *f, *b);
            let (limit, sign) = s.limits[j];
            let z = (HDual::cst(limit) - *f) / r.sqrt() * sign;
            let lam = inv_mills(z.v);
            let w = lam * (z.v + lam);
            // λ′ = −w, w′ = λ′(z + λ) + λ(1 + λ′)
            let dw = -w * (z.v + lam) + lam * (1.0 - w);
            ldat = ldat + z.chain(-2.0 * ln_norm_cdf(z.v), -2.0 * lam, 2.0 * w);
            for a in 0..ns {
                for c in 0..ns {
                    kmat[a * ns + c] += w * z.g[a] * z.g[c];
                }
            }
            cens.push(CensTerm { z, w, dw });
            j += 1;
        }
    }
    DataPass {
        ldat,
        kmat,
        obs,
        cens,
    }
}

/// M (ns×k): which random effects each slot carries.
fn slot_effects(slots: &[Slot], k: usize) -> Vec<f64> {
    let mut mm = vec![0.0; slots.len() * k];
    for (q, sl) in slots.iter().enumerate() {
        if let Some(e) = sl.eta {
            if e < k {
                mm[q * k + e] = 1.0;
            }
        }
        if let Some(r) = sl.kappa {
            if r < k {
                mm[q * k + r] = 1.0;
            }
        }
    }
    mm
}

/// The prior precision P (k×k): Ω⁻¹ on the η block, the IOV precisions on the κ diagonal.
fn prior_precision(om: &Omega, k: usize) -> Vec<f64> {
    let mut pp = vec![0.0; k * k];
    for a in 0..om.k.min(k) {
        for b in 0..om.k.min(k) {
            pp[a * k + b] = om.inv[a * om.k + b];
        }
    }
    let n_iov = om.iov_inv.len();
    for r in om.k..k {
        pp[r * k + r] = om.iov_inv[(r - om.k) % n_iov];
    }
    pp
}

/// L's η-gradient (k) and η-Hessian (k×k) from its data part, M and P.
fn eta_derivatives<const N: usize>(
    ldat: &HDual<N>,
    mm: &[f64],
    pp: &[f64],
    eta: &[f64],
    ns: usize,
    k: usize,
) -> (Vec<f64>, Vec<f64>) {
    let mut le = vec![0.0; k];
    let mut lee = vec![0.0; k * k];
    for a in 0..k {
        le[a] = (0..ns).map(|q| mm[q * k + a] * ldat.g[q]).sum::<f64>()
            + 2.0 * (0..k).map(|b| pp[a * k + b] * eta[b]).sum::<f64>();
        for b in 0..k {
            let mut v = 2.0 * pp[a * k + b];
            for q in 0..ns {
                if mm[q * k + a] == 0.0 {
                    continue;
                }
                for t in 0..ns {
                    v += mm[q * k + a] * ldat.h[q][t] * mm[t * k + b];
                }
            }
            lee[a * k + b] = v;
        }
    }
    (le, lee)
}

/// The Laplace-term derivative (k > 0): H̃ = P + Mᵀ K M, W = M H̃⁻¹ Mᵀ and D_c = ∂ln|H̃|/∂q_c.
/// Returns (D, H̃⁻¹); None when H̃ is not positive definite.
fn logdet_derivative<const N: usize>(
    dp: &DataPass<N>,
    mm: &[f64],
    pp: &[f64],
    ns: usize,
    nq: usize,
    k: usize,
) -> Option<(Vec<f64>, Vec<f64>)> {
    let mut dq = vec![0.0; nq];
    let mut ht = pp.to_vec();
    for a in 0..k {
        for b in 0..k {
            let mut v = 0.0;
            for q in 0..ns {
                for t in 0..ns {
                    v += mm[q * k + a] * dp.kmat[q * ns + t] * mm[t * k + b];
                }
            }
            ht[a * k + b] += v;
        }
    }
    let lh = linalg::cholesky(&ht, k)?;
    let hinv = linalg::cholesky_inverse(&lh, k);
    let mut w = vec![0.0; ns * ns];
    for q in 0..ns {
        for t in 0..ns {
            let mut v = 0.0;
            for a in 0..k {
                for b in 0..k {
                    v += mm[q * k + a] * hinv[a * k + b] * mm[t * k + b];
                }
            }
            w[q * ns + t] = v;
        }
    }
    let wmul = |x: &[f64; N]| -> Vec<f64> {
        (0..ns)
            .map(|q| (0..ns).map(|t| w[q * ns + t] * x[t]).sum())
            .collect()
    };
    for o in &dp.obs {
        let (f, r) = (&o.f, &o.r);
        let wa = wmul(&f.g);
        let wb = wmul(&r.g);
        let awa: f64 = (0..ns).map(|q| f.g[q] * wa[q]).sum();
        let bwb: f64 = (0..ns).map(|q| r.g[q] * wb[q]).sum();
        let (r1, r2, r3) = (1.0 / r.v, 1.0 / (r.v * r.v), 1.0 / (r.v * r.v * r.v));
        for (c, d) in dq.iter_mut().enumerate() {
            let fc: f64 = (0..ns).map(|q| f.h[q][c] * wa[q]).sum();
            let rc: f64 = (0..ns).map(|q| r.h[q][c] * wb[q]).sum();
            *d += 2.0 * fc * r1 - awa * r.g[c] * r2 + rc * r2 - bwb * r.g[c] * r3;
        }
    }
    for o in &dp.cens {
        let z = &o.z;
        let wz = wmul(&z.g);
        let zwz: f64 = (0..ns).map(|q| z.g[q] * wz[q]).sum();
        for (c, d) in dq.iter_mut().enumerate() {
            let zc: f64 = (0..ns).map(|q| z.h[q][c] * wz[q]).sum();
            *d += o.dw * z.g[c] * zwz + 2.0 * o.w * zc;
        }
    }
    Some((dq, hinv))
}

/// What the total derivative of one subject's objective along a direction needs: L's data part,
/// D = ∂ln|H̃|/∂q, the implicit-η̂ vector v = L_ηη⁻¹ (∂L/∂η + ∂ln|H̃|/∂η), M, H̃⁻¹ and η̂.
struct Along<'a, const N: usize> {
    ldat: &'a HDual<N>,
    dq: &'a [f64],
    v: &'a [f64],
    mm: &'a [f64],
    hinv: &'a [f64],
    eta: &'a [f64],
    ns: usize,
    nq: usize,
    k: usize,
}

impl<const N: usize> Along<'_, N> {
    /// ∂²L/∂η∂u · v for a q-direction α (∂q/∂u): vᵀ Mᵀ L_qq α
    #[inline]
    fn eta_cross(&self, alpha: &[f64]) -> f64 {
        let (k, ns, nq, mm) = (self.k, self.ns, self.nq, self.mm);
        let mut tot = 0.0;
        for a in 0..k {
            if self.v[a] == 0.0 {
                continue;
            }
            for q in 0..ns {
                if mm[q * k + a] == 0.0 {
                    continue;
                }
                let row: f64 = (0..nq).map(|c| self.ldat.h[q][c] * alpha[c]).sum();
                tot += self.v[a] * mm[q * k + a] * row;
            }
        }
        tot
    }

    /// The derivative along a q-direction α (θ or σ).
    #[inline]
    fn along_q(&self, alpha: &[f64]) -> f64 {
        let nq = self.nq;
        let dl: f64 = (0..nq).map(|c| self.ldat.g[c] * alpha[c]).sum();
        let dld: f64 = if self.k > 0 {
            (0..nq).map(|c| self.dq[c] * alpha[c]).sum()
        } else {
            0.0
        };
        dl + dld - self.eta_cross(alpha)
    }

    /// The derivative along a change dP of the prior precision (k×k) and d ln|prior| of the
    /// prior log-det.
    #[inline]
    fn along_prior(&self, dp: &[f64], dlogdet: f64) -> f64 {
        let (k, eta) = (self.k, self.eta);
        if k == 0 {
            return 0.0;
        }
        let mut quad = 0.0;
        let mut tr = 0.0;
        let mut cross = 0.0;
        for a in 0..k {
            let row: f64 = (0..k).map(|b| dp[a * k + b] * eta[b]).sum();
            quad += eta[a] * row;
            cross += self.v[a] * 2.0 * row;
            tr += (0..k)
                .map(|b| self.hinv[a * k + b] * dp[b * k + a])
                .sum::<f64>();
        }
        quad + dlogdet + tr - cross
    }
}

/// The prior change for an Ω direction dΩ: dP = −Ω⁻¹ dΩ Ω⁻¹ on the η block (k×k) and
/// d ln|Ω| = tr(Ω⁻¹ dΩ).
fn omega_prior_change(om: &Omega, d: &[f64], k: usize) -> (Vec<f64>, f64) {
    let kk = om.k;
    let t = matmul(&om.inv, d, kk);
    let dpk = matmul(&t, &om.inv, kk);
    let dlogdet: f64 = (0..kk).map(|a| t[a * kk + a]).sum();
    let mut dp = vec![0.0; k * k];
    for a in 0..kk.min(k) {
        for b in 0..kk.min(k) {
            dp[a * k + b] = -dpk[a * kk + b];
        }
    }
    (dp, dlogdet)
}

/// The prior change for a change `d` of the IOV variance `w2` of occasion effect `j`: dP on the
/// κ diagonal (k×k) and d ln|prior|.
fn iov_prior_change(om: &Omega, j: usize, d: f64, w2: f64, k: usize) -> (Vec<f64>, f64) {
    let n_iov = om.iov_inv.len();
    let mut dp = vec![0.0; k * k];
    let mut n = 0.0;
    for r in om.k..k {
        if (r - om.k) % n_iov == j {
            dp[r * k + r] = -d / (w2 * w2);
            n += 1.0;
        }
    }
    (dp, n * d / w2)
}

/// σ as second-order variables ns.., in sigma_names order: (proportional, additive), 0 for
/// the one the error model lacks.
fn sigma_vars<const N: usize>(
    m: &EstimationModel,
    p: &PopParams,
    ns: usize,
) -> (HDual<N>, HDual<N>) {
    let (mut prop, mut add) = (HDual::<N>::cst(0.0), HDual::<N>::cst(0.0));
    for (j, (n, v)) in m.sigma_names().iter().zip(&p.sigma).enumerate() {
        if *n == "proportional" {
            prop = HDual::var(*v, ns + j);
        } else {
            add = HDual::var(*v, ns + j);
        }
    }
    (prop, add)
}

/// The implicit dη̂/du vector v = L_ηη⁻¹ (∂L/∂η + ∂ln|H̃|/∂η) (empty when k = 0); None when
/// L_ηη is not positive definite.
fn implicit_eta(
    le: &[f64],
    lee: &[f64],
    mm: &[f64],
    dq: &[f64],
    ns: usize,
    k: usize,
) -> Option<Vec<f64>> {
    if k > 0 {
        let rhs: Vec<f64> = (0..k)
            .map(|a| le[a] + (0..ns).map(|q| mm[q * k + a] * dq[q]).sum::<f64>())
            .collect();
        let ll = linalg::cholesky(lee, k)?;
        Some(linalg::cholesky_solve(&ll, k, &rhs))
    } else {
        Some(Vec::new())
    }
}

/// dO_i/du along each of `dirs` for subject `s` at its inner optimum `eta` (η̂), with N ≥ the
/// number of slots + σ's. None when N is too small or the objective is not differentiable there
/// (a singular Hessian).
fn subject_gradient_n<const N: usize>(
    m: &EstimationModel,
    p: &PopParams,
    om: &Omega,
    s: &SubjectData,
    eta: &[f64],
    dirs: &[Dir],
) -> Option<Vec<f64>> {
    let k = om.dim(s);
    let mut slots = Vec::new();
    // one parameter set, or one per stretch of constant covariates (then the first record's
    // set is not used)
    let pieces: Option<Vec<[Option<usize>; 5]>> = s.time_varying.as_ref().map(|tv| {
        tv.values
            .iter()
            .map(|c| slots_of(m, p, s, c, eta, &mut slots))
            .collect()
    });
    let first = match &pieces {
        None => slots_of(m, p, s, &s.covariates, eta, &mut slots),
        Some(_) => [None; 5],
    };
    let ns = slots.len();
    let nsig = p.sigma.len();
    let nq = ns + nsig;
    if nq > N {
        return None;
    }
    let params: Vec<DParams<HDual<N>>> = match &pieces {
        None => vec![hparams(m, &slots, &first)],
        Some(w) => w.iter().map(|w| hparams(m, &slots, w)).collect(),
    };
    let changes = s.time_varying.as_ref().map(|tv| tv.changes_h.as_slice());
    let nocb = m.covariate_fill == CovariateFill::Nocb;
    let (prop, add) = sigma_vars::<N>(m, p, ns);
    let data = data_pass(m, s, &params, changes, nocb, prop, add, ns);
    if !data.ldat.v.is_finite() {
        return None;
    }
    let mm = slot_effects(&slots, k);
    let pp = prior_precision(om, k);
    let (le, lee) = eta_derivatives(&data.ldat, &mm, &pp, eta, ns, k);
    let (dq, hinv) = if k > 0 {
        logdet_derivative(&data, &mm, &pp, ns, nq, k)?
    } else {
        (vec![0.0; nq], Vec::new())
    };

    let v = implicit_eta(&le, &lee, &mm, &dq, ns, k)?;
    let along = Along {
        ldat: &data.ldat,
        dq: &dq,
        v: &v,
        mm: &mm,
        hinv: &hinv,
        eta,
        ns,
        nq,
        k,
    };

    let mut out = Vec::with_capacity(dirs.len());
    let mut alpha = vec![0.0; nq];
    for d in dirs {
        alpha.iter_mut().for_each(|x| *x = 0.0);
        let g = match d {
            Dir::Theta { i, d } => {
                for (q, sl) in slots.iter().enumerate() {
                    alpha[q] = sl.a[*i] * d;
                }
                along.along_q(&alpha)
            }
            Dir::Sigma { j, d } => {
                alpha[ns + j] = *d;
                along.along_q(&alpha)
            }
            Dir::Omega { d } => {
                if om.k == 0 {
                    0.0
                } else {
                    let (dp, dlogdet) = omega_prior_change(om, d, k);
                    along.along_prior(&dp, dlogdet)
                }
            }
            Dir::OmegaIov { j, d } => {
                let (dp, dlogdet) = iov_prior_change(om, *j, *d, p.omega_iov[*j], k);
                along.along_prior(&dp, dlogdet)
            }
        };
        out.push(g);
    }
    if out.iter().all(|x| x.is_finite()) {
        Some(out)
    } else {
        None
    }
}

fn matmul(a: &[f64], b: &[f64], n: usize) -> Vec<f64> {
    let mut c = vec![0.0; n * n];
    for i in 0..n {
        for j in 0..n {
            c[i * n + j] = (0..n).map(|t| a[i * n + t] * b[t * n + j]).sum();
        }
    }
    c
}

/// Largest number of slots + σ's the exact gradient handles (beyond it the fit falls back to
/// Nelder–Mead).
pub const MAX_DIRECTIONS: usize = 16;

/// dO_i/du along `dirs` for subject `s` at its η̂ (`eta`); None when it has more than
/// [`MAX_DIRECTIONS`] slots and σ's or the objective is not differentiable there.
pub(crate) fn subject_gradient(
    m: &EstimationModel,
    p: &PopParams,
    om: &Omega,
    s: &SubjectData,
    eta: &[f64],
    dirs: &[Dir],
) -> Option<Vec<f64>> {
    subject_gradient_n::<7>(m, p, om, s, eta, dirs)
        .or_else(|| subject_gradient_n::<10>(m, p, om, s, eta, dirs))
        .or_else(|| subject_gradient_n::<MAX_DIRECTIONS>(m, p, om, s, eta, dirs))
}
