//! Exact closed-form superposition: the concentration is the baseline plus the sum over dosing
//! events of each event's analytic response (bolus, zero-order infusion, first-order IM depot).

use super::Modes;
use crate::regimen::{DoseEvent, Route};

/// ΔC at time `t_h` from one event.
pub fn event_response(m: &Modes, e: &DoseEvent, t_h: f64) -> f64 {
    let mut c = 0.0;
    match *e {
        DoseEvent::Bolus {
            time_h,
            amount_mmol,
            route,
            ..
        } => {
            let tau = t_h - time_h;
            if tau < 0.0 {
                return 0.0;
            }
            match route {
                Route::Iv => {
                    for i in 0..m.n {
                        c += amount_mmol * m.coef_per_l[i] * (-m.lambda_h[i] * tau).exp();
                    }
                }
                Route::Im => {
                    let ka = m.ka_h.unwrap_or(f64::NAN);
                    let dose = amount_mmol * m.f_im;
                    for i in 0..m.n {
                        let l = m.lambda_h[i];
                        let term = if ((ka - l) / ka).abs() < 1e-9 {
                            ka * tau * (-ka * tau).exp()
                        } else {
                            ka / (ka - l) * ((-l * tau).exp() - (-ka * tau).exp())
                        };
                        c += dose * m.coef_per_l[i] * term;
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
                return 0.0;
            }
            let dur = end_h.map(|e| e - start_h).unwrap_or(f64::INFINITY);
            for i in 0..m.n {
                let l = m.lambda_h[i];
                let a = rate_mmol_per_h * m.coef_per_l[i] / l;
                if tau <= dur {
                    c += a * (-(-l * tau).exp_m1());
                } else {
                    c += a * (-(-l * dur).exp_m1()) * (-l * (tau - dur)).exp();
                }
            }
        }
    }
    c
}

/// Total serum Mg (mmol/L) at each time: baseline + Σ event responses.
pub fn concentrations(m: &Modes, events: &[DoseEvent], times_h: &[f64]) -> Vec<f64> {
    times_h
        .iter()
        .map(|&t| m.baseline_mmol_l + events.iter().map(|e| event_response(m, e, t)).sum::<f64>())
        .collect()
}
