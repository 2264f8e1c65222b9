//! Predictions of a segment with exact derivatives (dual numbers) through the closed-form
//! superposition of 1- and 2-compartment responses. Cross-checked against mgiv-core's modal
//! solver (through `mgiv_data::predict`) in the tests.

use mgiv_core::regimen::{DoseEvent, Route};
use mgiv_data::Segment;

use crate::dual::Dual;

/// Individual parameters as duals (derivatives with respect to the random effects).
#[derive(Debug, Clone, Copy)]
pub struct DParams {
    pub cl: Dual,
    pub v1: Dual,
    pub q: Dual,
    pub v2: Dual,
    pub base: Dual,
    pub two_cmt: bool,
    pub ka_h: Option<f64>,
    pub f_im: f64,
}

struct DModes {
    n: usize,
    lambda: [Dual; 2],
    coef: [Dual; 2],
}

fn modes(p: &DParams) -> DModes {
    let k10 = p.cl / p.v1;
    if p.two_cmt {
        let k12 = p.q / p.v1;
        let k21 = p.q / p.v2;
        let sum = k10 + k12 + k21;
        let prod = k10 * k21;
        let disc = (sum * sum - prod * 4.0).sqrt();
        let alpha = (sum + disc) * 0.5;
        let beta = prod / alpha;
        let a = (alpha - k21) / (alpha - beta) / p.v1;
        let b = (k21 - beta) / (alpha - beta) / p.v1;
        DModes {
            n: 2,
            lambda: [alpha, beta],
            coef: [a, b],
        }
    } else {
        DModes {
            n: 1,
            lambda: [k10, Dual::cst(0.0)],
            coef: [Dual::cst(1.0) / p.v1, Dual::cst(0.0)],
        }
    }
}

fn response(m: &DModes, p: &DParams, e: &DoseEvent, t: f64) -> Dual {
    let mut c = Dual::cst(0.0);
    match *e {
        DoseEvent::Bolus {
            time_h,
            amount_mmol,
            route,
            ..
        } => {
            let tau = t - time_h;
            if tau < 0.0 {
                return c;
            }
            match route {
                Route::Iv => {
                    for i in 0..m.n {
                        c = c + m.coef[i] * (m.lambda[i] * -tau).exp() * amount_mmol;
                    }
                }
                Route::Im => {
                    let ka = p.ka_h.unwrap_or(f64::NAN);
                    let dose = amount_mmol * p.f_im;
                    for i in 0..m.n {
                        let l = m.lambda[i];
                        let term = if ((ka - l.v) / ka).abs() < 1e-9 {
                            Dual::cst(ka * tau * (-ka * tau).exp())
                        } else {
                            ((l * -tau).exp() - (-ka * tau).exp()) * ka / (Dual::cst(ka) - l)
                        };
                        c = c + m.coef[i] * term * dose;
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
            let tau = t - start_h;
            if tau <= 0.0 {
                return c;
            }
            let dur = end_h.map(|e| e - start_h).unwrap_or(f64::INFINITY);
            for i in 0..m.n {
                let l = m.lambda[i];
                let a = m.coef[i] / l * rate_mmol_per_h;
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

/// Total serum Mg (mmol/L) at each observation of `seg`, as duals; same-time order as in
/// `mgiv_data::predict`.
pub fn predict_dual(p: &DParams, seg: &Segment, out: &mut Vec<Dual>) {
    let m = modes(p);
    out.clear();
    for o in &seg.observations {
        let mut c = p.base;
        for (i, e) in seg.events.iter().enumerate() {
            if e.start_h() > o.clock_h || o.after_same_time.contains(&i) {
                continue;
            }
            c = c + response(&m, p, e, o.clock_h);
        }
        out.push(c);
    }
}
