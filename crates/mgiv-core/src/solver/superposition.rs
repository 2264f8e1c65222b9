//! Exact closed-form superposition: the concentration is the baseline plus the sum over dosing
//! events of each event's analytic response (bolus, zero-order infusion, first-order IM depot).

use std::ops::{Add, Div, Mul, Sub};

use super::Modes;
use crate::regimen::{DoseEvent, Route};

/// The arithmetic the closed-form responses need: `f64` here, and mgiv-fit's dual numbers (exact
/// derivatives with respect to the random effects for estimation), so both evaluate one
/// implementation of the responses.
pub trait Scalar:
    Copy
    + Add<Output = Self>
    + Sub<Output = Self>
    + Mul<Output = Self>
    + Div<Output = Self>
    + Mul<f64, Output = Self>
    + Sub<f64, Output = Self>
{
    /// A constant.
    fn cst(v: f64) -> Self;
    /// The value (without derivatives).
    fn value(self) -> f64;
    fn exp(self) -> Self;
    /// e^x − 1, accurate near 0.
    fn exp_m1(self) -> Self;
}

impl Scalar for f64 {
    #[inline(always)]
    fn cst(v: f64) -> Self {
        v
    }
    #[inline(always)]
    fn value(self) -> f64 {
        self
    }
    #[inline(always)]
    fn exp(self) -> Self {
        f64::exp(self)
    }
    #[inline(always)]
    fn exp_m1(self) -> Self {
        f64::exp_m1(self)
    }
}

/// The modes of a linear model over any [`Scalar`]: n ≤ 2 modes with rates λ_i (1/h) and
/// coefficients c_i (1/L; the level a unit amount adds), the IM absorption rate (1/h) and the
/// bioavailable fraction of an IM dose.
#[derive(Debug, Clone, Copy)]
pub struct ModeSet<S> {
    pub n: usize,
    pub lambda_h: [S; 2],
    pub coef_per_l: [S; 2],
    pub ka_h: Option<f64>,
    pub f_im: f64,
}

impl From<&Modes> for ModeSet<f64> {
    fn from(m: &Modes) -> Self {
        ModeSet {
            n: m.n,
            lambda_h: m.lambda_h,
            coef_per_l: m.coef_per_l,
            ka_h: m.ka_h,
            f_im: m.f_im,
        }
    }
}

/// ΔC at time `t_h` from one event: IV bolus Σ c_i e^(−λ_i τ)·D; IM dose Σ c_i·ka(e^(−λ_i τ) −
/// e^(−ka τ))/(ka − λ_i)·F·D (its limit ka·τ·e^(−ka τ) when ka ≈ λ_i); infusion at rate R
/// −Σ (c_i/λ_i)·R·(e^(−λ_i τ) − 1) while it runs and its decay afterwards.
pub fn response<S: Scalar>(m: &ModeSet<S>, e: &DoseEvent, t_h: f64) -> S {
    let mut c = S::cst(0.0);
    match *e {
        DoseEvent::Bolus {
            time_h,
            amount_mmol,
            route,
            ..
        } => {
            let tau = t_h - time_h;
            if tau < 0.0 {
                return c;
            }
            match route {
                Route::Iv => {
                    for i in 0..m.n {
                        c = c + m.coef_per_l[i] * (m.lambda_h[i] * -tau).exp() * amount_mmol;
                    }
                }
                Route::Im => {
                    let ka = m.ka_h.unwrap_or(f64::NAN);
                    let dose = amount_mmol * m.f_im;
                    for i in 0..m.n {
                        let l = m.lambda_h[i];
                        let term = if ((ka - l.value()) / ka).abs() < 1e-9 {
                            S::cst(ka * tau * (-ka * tau).exp())
                        } else {
                            ((l * -tau).exp() - (-ka * tau).exp()) * ka / (S::cst(ka) - l)
                        };
                        c = c + m.coef_per_l[i] * term * dose;
                    }
                }
            }
        }
        DoseEvent::Infusion {
            start_h,
            end_h,
            rate_mmol_per_h,
            ..
        } => {
            let tau = t_h - start_h;
            if tau <= 0.0 {
                return c;
            }
            let dur = end_h.map(|e| e - start_h).unwrap_or(f64::INFINITY);
            for i in 0..m.n {
                let l = m.lambda_h[i];
                let a = m.coef_per_l[i] / l * rate_mmol_per_h;
                if tau <= dur {
                    c = c - a * (l * -tau).exp_m1();
                } else {
                    c = c - a * (l * -dur).exp_m1() * (l * -(tau - dur)).exp();
                }
            }
        }
    }
    c
}

/// ΔC at time `t_h` from one event ([`response`] in f64).
pub fn event_response(m: &Modes, e: &DoseEvent, t_h: f64) -> f64 {
    response(&ModeSet::from(m), e, t_h)
}

/// Total serum Mg (mmol/L) at each time: baseline + Σ event responses.
pub fn concentrations(m: &Modes, events: &[DoseEvent], times_h: &[f64]) -> Vec<f64> {
    times_h
        .iter()
        .map(|&t| m.baseline_mmol_l + events.iter().map(|e| event_response(m, e, t)).sum::<f64>())
        .collect()
}
