//! Predictions of a segment with exact derivatives (dual numbers) through the closed-form
//! superposition of 1- and 2-compartment responses ([`predict_dual`], one parameter set), or,
//! when a time-varying covariate changes the parameters within a subject, through the amounts
//! carried analytically from one change to the next ([`predict_dual_pieces`]). Cross-checked
//! against mgiv-core's modal solver (through `mgiv_data::predict`) and, piecewise, against a
//! matrix exponential in the tests.

use mgiv_core::regimen::{DoseEvent, Route};
use mgiv_core::solver::superposition::{self, ModeSet};
use mgiv_data::Segment;

use crate::dual::{Dual, HDual, Num};

/// Individual parameters as duals (derivatives with respect to the random effects), or any other
/// [`Num`] (second-order duals for the exact outer gradient).
#[derive(Debug, Clone, Copy)]
pub struct DParams<S = Dual> {
    pub cl: S,
    pub v1: S,
    pub q: S,
    pub v2: S,
    pub base: S,
    pub two_cmt: bool,
    pub ka_h: Option<f64>,
    pub f_im: f64,
}

/// The modes as duals; the responses are mgiv-core's ([`superposition::response`], generic
/// over the scalar).
type DModes<S> = ModeSet<S>;

/// The micro-constants k12, k21 (1/h) and the eigenvalues α ≥ β of a 2-compartment model with
/// elimination rate `k10`, as duals; one computation for [`modes`] and [`propagator`].
fn two_cmt_rates<S: Num>(p: &DParams<S>, k10: S) -> (S, S, S, S) {
    let k12 = p.q / p.v1;
    let k21 = p.q / p.v2;
    let sum = k10 + k12 + k21;
    let prod = k10 * k21;
    let disc = (sum * sum - prod * 4.0).sqrt();
    let alpha = (sum + disc) * 0.5;
    let beta = prod / alpha;
    (k12, k21, alpha, beta)
}

fn modes<S: Num>(p: &DParams<S>) -> DModes<S> {
    let k10 = p.cl / p.v1;
    if p.two_cmt {
        let (_, k21, alpha, beta) = two_cmt_rates(p, k10);
        let a = (alpha - k21) / (alpha - beta) / p.v1;
        let b = (k21 - beta) / (alpha - beta) / p.v1;
        DModes {
            n: 2,
            lambda_h: [alpha, beta],
            coef_per_l: [a, b],
            ka_h: p.ka_h,
            f_im: p.f_im,
        }
    } else {
        DModes {
            n: 1,
            lambda_h: [k10, S::cst(0.0)],
            coef_per_l: [S::cst(1.0) / p.v1, S::cst(0.0)],
            ka_h: p.ka_h,
            f_im: p.f_im,
        }
    }
}

/// Total serum Mg (mmol/L) at each observation of `seg`, as duals; same-time order as in
/// `mgiv_data::predict`.
pub fn predict_dual<S: Num>(p: &DParams<S>, seg: &Segment, out: &mut Vec<S>) {
    let m = modes(p);
    out.clear();
    for o in &seg.observations {
        let mut c = p.base;
        for (i, e) in seg.events.iter().enumerate() {
            if e.start_h() > o.clock_h || o.after_same_time.contains(&i) {
                continue;
            }
            c = c + superposition::response(&m, e, o.clock_h);
        }
        out.push(c);
    }
}

/// As [`predict_dual`] for second-order duals, faster: the response at an observation is
/// Σᵢ cᵢ Φᵢ(λᵢ) (linear in each mode's coefficient), so each Φᵢ is summed over the doses as a
/// one-direction second-order number in λᵢ and only then composed with λᵢ's N-direction
/// derivatives. Equal to `predict_dual` on the same duals up to rounding (tested).
pub fn predict_hdual<const N: usize>(
    p: &DParams<HDual<N>>,
    seg: &Segment,
    out: &mut Vec<HDual<N>>,
) {
    let m = modes(p);
    let unit = |i: usize| ModeSet::<HDual<1>> {
        n: 1,
        lambda_h: [HDual::var(m.lambda_h[i].v, 0), HDual::cst(0.0)],
        coef_per_l: [HDual::cst(1.0), HDual::cst(0.0)],
        ka_h: m.ka_h,
        f_im: m.f_im,
    };
    let units = [unit(0), unit(1)];
    out.clear();
    for o in &seg.observations {
        let mut phi = [HDual::<1>::cst(0.0); 2];
        for (i, e) in seg.events.iter().enumerate() {
            if e.start_h() > o.clock_h || o.after_same_time.contains(&i) {
                continue;
            }
            for (f, u) in phi.iter_mut().zip(&units).take(m.n) {
                *f = *f + superposition::response(u, e, o.clock_h);
            }
        }
        let mut c = p.base;
        for (i, f) in phi.iter().enumerate().take(m.n) {
            c = c + m.coef_per_l[i] * m.lambda_h[i].chain(f.v, f.g[0], f.h[0][0]);
        }
        out.push(c);
    }
}

/// Piecewise-constant individual parameters: what a time-varying covariate gives.
#[derive(Debug, Clone, Copy)]
pub struct Pieces<'a, S = Dual> {
    /// the times (individual's clock, h, increasing) at which the parameters change
    pub changes_h: &'a [f64],
    /// the parameters before the first change, between changes and after the last
    /// (`changes_h.len() + 1` sets)
    pub params: &'a [DParams<S>],
    /// which set holds at a change time itself: NOCB the one before it (a record's value holds
    /// up to and including its time), LOCF the one after it
    pub nocb: bool,
}

impl<S> Pieces<'_, S> {
    /// Index of the set that holds at `time_h` (individual's clock).
    pub fn index_at(&self, time_h: f64) -> usize {
        if self.nocb {
            self.changes_h.iter().take_while(|&&c| c < time_h).count()
        } else {
            self.changes_h.iter().take_while(|&&c| c <= time_h).count()
        }
    }
}

/// A linear 1- or 2-compartment system in its modes: the amounts above baseline evolve as
/// x(h) = Σᵢ e^(−μᵢh) Pᵢ x(0) (Pᵢ the spectral projectors of the rate matrix, row-major 2×2:
/// central, peripheral).
struct Propagator<S> {
    n: usize,
    mu: [S; 2],
    proj: [[S; 4]; 2],
    ka: f64,
}

fn propagator<S: Num>(p: &DParams<S>) -> Propagator<S> {
    let zero = S::cst(0.0);
    let k10 = p.cl / p.v1;
    let ka = p.ka_h.unwrap_or(f64::NAN);
    if p.two_cmt {
        // the same eigenvalues as `modes`
        let (k12, k21, alpha, beta) = two_cmt_rates(p, k10);
        let d = alpha - beta;
        // P_α = (M + βI)/(β − α), P_β = (M + αI)/(α − β), M = [[−k10−k12, k21], [k12, −k21]]
        let pa = [(alpha - k21) / d, -k21 / d, -k12 / d, (k21 - beta) / d];
        let pb = [(k21 - beta) / d, k21 / d, k12 / d, (alpha - k21) / d];
        Propagator {
            n: 2,
            mu: [alpha, beta],
            proj: [pa, pb],
            ka,
        }
    } else {
        Propagator {
            n: 1,
            mu: [k10, zero],
            proj: [[S::cst(1.0), zero, zero, zero], [zero; 4]],
            ka,
        }
    }
}

/// Amounts above baseline (mmol): central, peripheral (duals) and IM depot (no random effect
/// acts on ka or F, so a plain number).
#[derive(Debug, Clone, Copy)]
struct Amounts<S> {
    a1: S,
    a2: S,
    depot: f64,
}

impl<S: Num> Amounts<S> {
    fn zero() -> Self {
        Amounts {
            a1: S::cst(0.0),
            a2: S::cst(0.0),
            depot: 0.0,
        }
    }
}

impl<S: Num> Propagator<S> {
    /// The amounts `h` hours after `x`, with no input in between.
    fn advance(&self, x: Amounts<S>, h: f64) -> Amounts<S> {
        let mut a1 = S::cst(0.0);
        let mut a2 = S::cst(0.0);
        for i in 0..self.n {
            let e = (self.mu[i] * -h).exp();
            let p = &self.proj[i];
            a1 = a1 + e * (p[0] * x.a1 + p[1] * x.a2);
            a2 = a2 + e * (p[2] * x.a1 + p[3] * x.a2);
        }
        let mut depot = 0.0;
        if x.depot != 0.0 {
            let ka = self.ka;
            let ek = (-ka * h).exp();
            for i in 0..self.n {
                let l = self.mu[i];
                // ∫₀ʰ e^(−μ(h−s)) ka e^(−ka s) ds
                let term = if ((ka - l.value()) / ka).abs() < 1e-9 {
                    S::cst(ka * h * ek)
                } else {
                    ((l * -h).exp() - ek) * ka / (S::cst(ka) - l)
                };
                let p = &self.proj[i];
                a1 = a1 + p[0] * term * x.depot;
                a2 = a2 + p[2] * term * x.depot;
            }
            depot = x.depot * ek;
        }
        Amounts { a1, a2, depot }
    }

    /// The amounts after an infusion of `rate` mmol/h into the central compartment for `dur` h
    /// from empty compartments.
    fn infuse(&self, rate: f64, dur: f64) -> Amounts<S> {
        let mut a1 = S::cst(0.0);
        let mut a2 = S::cst(0.0);
        for i in 0..self.n {
            let l = self.mu[i];
            let g = -(l * -dur).exp_m1() / l * rate;
            a1 = a1 + self.proj[i][0] * g;
            a2 = a2 + self.proj[i][2] * g;
        }
        Amounts { a1, a2, depot: 0.0 }
    }
}

fn add<S: Num>(a: Amounts<S>, b: Amounts<S>) -> Amounts<S> {
    Amounts {
        a1: a.a1 + b.a1,
        a2: a.a2 + b.a2,
        depot: a.depot + b.depot,
    }
}

/// The amounts at `hi` (segment clock) from the inputs of `events` in [`lo`, `hi`] under `pr`,
/// starting from `x` at `lo`: boluses at `lo` ≤ t < `hi` (at t = `hi` too when `upto` is set,
/// except those in `skip`), infusions over their part of the interval.
#[allow(clippy::too_many_arguments)]
fn step<S: Num>(
    pr: &Propagator<S>,
    p: &DParams<S>,
    events: &[DoseEvent],
    x: Amounts<S>,
    lo: f64,
    hi: f64,
    upto: bool,
    skip: &[usize],
) -> Amounts<S> {
    let mut out = pr.advance(x, hi - lo);
    for (i, e) in events.iter().enumerate() {
        match *e {
            DoseEvent::Bolus {
                time_h,
                amount_mmol,
                route,
                ..
            } => {
                let inside = time_h >= lo && (time_h < hi || (upto && time_h <= hi));
                if !inside || skip.contains(&i) {
                    continue;
                }
                let dose = match route {
                    Route::Iv => Amounts {
                        a1: S::cst(amount_mmol),
                        ..Amounts::zero()
                    },
                    Route::Im => Amounts {
                        depot: amount_mmol * p.f_im,
                        ..Amounts::zero()
                    },
                };
                out = add(out, pr.advance(dose, hi - time_h));
            }
            DoseEvent::Infusion {
                start_h,
                end_h,
                rate_mmol_per_h,
                ..
            } => {
                let s = start_h.max(lo);
                let e = end_h.unwrap_or(f64::INFINITY).min(hi);
                if e > s {
                    out = add(out, pr.advance(pr.infuse(rate_mmol_per_h, e - s), hi - e));
                }
            }
        }
    }
    out
}

/// As [`predict_dual`] with parameters that change at `pc.changes_h`: the amounts in the central,
/// peripheral and depot compartments are carried across each change analytically (superposition
/// does not hold across a change of parameters). `bases` gets the baseline in force at each
/// observation. A change before the segment's start acts from its start.
pub fn predict_dual_pieces<S: Num>(
    pc: &Pieces<S>,
    seg: &Segment,
    out: &mut Vec<S>,
    bases: &mut Vec<S>,
) {
    out.clear();
    bases.clear();
    let props: Vec<Propagator<S>> = pc.params.iter().map(propagator).collect();
    // the changes after the segment's start, on its clock; the set in force from its start
    let first = pc
        .changes_h
        .iter()
        .take_while(|&&c| c - seg.origin_h <= 0.0)
        .count();
    let bounds: Vec<f64> = pc.changes_h[first..]
        .iter()
        .map(|c| c - seg.origin_h)
        .collect();
    let last_obs = seg
        .observations
        .iter()
        .map(|o| o.clock_h)
        .fold(f64::NEG_INFINITY, f64::max);
    // the amounts at each change (inputs strictly before it)
    let mut states = Vec::with_capacity(bounds.len());
    let (mut x, mut lo) = (Amounts::zero(), 0.0);
    for (j, &b) in bounds.iter().enumerate() {
        if b > last_obs {
            break;
        }
        let q = first + j;
        x = step(&props[q], &pc.params[q], &seg.events, x, lo, b, false, &[]);
        states.push(x);
        lo = b;
    }
    for o in &seg.observations {
        let t = o.clock_h;
        let j = bounds.iter().take_while(|&&b| b <= t).count();
        let (x0, lo) = if j == 0 {
            (Amounts::zero(), 0.0)
        } else {
            (states[j - 1], bounds[j - 1])
        };
        let q = first + j;
        let x = step(
            &props[q],
            &pc.params[q],
            &seg.events,
            x0,
            lo,
            t,
            true,
            &o.after_same_time,
        );
        let r = &pc.params[pc.index_at(o.time_h)];
        out.push(r.base + x.a1 / r.v1);
        bases.push(r.base);
    }
}
