//! Solvers for total serum magnesium under a regimen.
//!
//! - [`superposition`]: exact closed-form sum of each dosing event's response (reference path).
//! - [`modal`]: the same closed form stepped through time in modal coordinates, O(1) work per
//!   output point — the fast path used by `simulate`, populations and benchmarks.
//! - [`ode`]: numerical integration (Dormand–Prince 8(5,3) from the `ode_solvers` crate) of the
//!   compartment ODEs, for nonlinear elimination (renal threshold) and as an independent check.
//!
//! All three model the increment above the endogenous baseline and add the baseline back.

pub mod modal;
pub mod ode;
pub mod superposition;

use crate::error::MgivError;
use crate::model::IndividualParams;

/// Disposition of a linear 1- or 2-compartment model as a sum of exponentials: a unit amount
/// (1 mmol) put into the central compartment at t = 0 gives ΔC(t) = Σ coef_per_l\[i\]·e^(−lambda_h\[i\]·t).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Modes {
    pub n: usize,
    pub lambda_h: [f64; 2],
    pub coef_per_l: [f64; 2],
    /// IM absorption: (ka 1/h, F)
    pub ka_h: Option<f64>,
    pub f_im: f64,
    pub baseline_mmol_l: f64,
}

impl Modes {
    /// Inlined (the trial builds one per virtual subject, across the crate boundary), with the
    /// error messages out of line.
    #[inline(always)]
    pub fn from_params(p: &IndividualParams) -> Result<Self, MgivError> {
        let ok = |v: f64| v.is_finite() && v > 0.0;
        if !(ok(p.cl_l_h) && ok(p.v1_l)) {
            return Err(not_positive(
                "clearance",
                p.cl_l_h,
                "L/h",
                "volume",
                p.v1_l,
                "L",
            ));
        }
        let k10 = p.cl_l_h / p.v1_l;
        let (n, lambda_h, coef_per_l) = if let Some((k12, k21)) = peripheral_rates(p)? {
            let sum = k10 + k12 + k21;
            let prod = k10 * k21;
            let disc = (sum * sum - 4.0 * prod).max(0.0).sqrt();
            let alpha = 0.5 * (sum + disc);
            // β = prod/α avoids cancellation when β ≪ α
            let beta = prod / alpha;
            let a = (alpha - k21) / (alpha - beta) / p.v1_l;
            let b = (k21 - beta) / (alpha - beta) / p.v1_l;
            (2, [alpha, beta], [a, b])
        } else {
            (1, [k10, 0.0], [1.0 / p.v1_l, 0.0])
        };
        Ok(Modes {
            n,
            lambda_h,
            coef_per_l,
            ka_h: p.ka_h,
            f_im: p.f_im.unwrap_or(1.0),
            baseline_mmol_l: p.baseline_mmol_l,
        })
    }

    /// Terminal half-life (h).
    pub fn terminal_half_life_h(&self) -> f64 {
        std::f64::consts::LN_2 / self.lambda_h[self.n - 1]
    }
}

/// Distribution rate constants (k12, k21) in 1/h of a two-compartment model, None for a
/// one-compartment one; an error unless Q and V2 are finite and positive.
#[inline(always)]
pub(crate) fn peripheral_rates(p: &IndividualParams) -> Result<Option<(f64, f64)>, MgivError> {
    let Some(pp) = p.peripheral else {
        return Ok(None);
    };
    let ok = |v: f64| v.is_finite() && v > 0.0;
    if !(ok(pp.q_l_h) && ok(pp.v2_l)) {
        return Err(not_positive(
            "intercompartmental clearance",
            pp.q_l_h,
            "L/h",
            "peripheral volume",
            pp.v2_l,
            "L",
        ));
    }
    Ok(Some((pp.q_l_h / p.v1_l, pp.q_l_h / pp.v2_l)))
}

/// The error for two parameters that must be finite and positive (out of line: the checks
/// above are inlined into per-subject loops).
#[cold]
#[inline(never)]
fn not_positive(a: &str, va: f64, ua: &str, b: &str, vb: f64, ub: &str) -> MgivError {
    MgivError::Numerical(format!("{a} {va} {ua} and {b} {vb} {ub} must be positive"))
}

/// Check output times: finite, non-negative, non-decreasing.
pub fn check_times(times_h: &[f64]) -> Result<(), MgivError> {
    for (i, &t) in times_h.iter().enumerate() {
        if !(t.is_finite() && t >= 0.0) {
            return Err(crate::error::invalid(
                "output time",
                format!("{t} h"),
                "finite times of 0 h or later",
            ));
        }
        if i > 0 && t < times_h[i - 1] {
            return Err(crate::error::invalid(
                "output times",
                format!("{} h after {} h", t, times_h[i - 1]),
                "times in increasing order",
            ));
        }
    }
    Ok(())
}
