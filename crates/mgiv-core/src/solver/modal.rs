//! Exact stepping in modal coordinates. The response to every input is a sum of exponentials,
//! so the state "contribution of mode i to ΔC" evolves over a step of length h with constant
//! infusion rate R and IM depot amount A_d as
//!
//! ```text
//! m_i ← m_i·e^(−λ_i h) + R·c_i·(1 − e^(−λ_i h))/λ_i + A_d·c_i·ka·(e^(−λ_i h) − e^(−ka h))/(ka − λ_i)
//! A_d ← A_d·e^(−ka h)
//! ```
//!
//! which is the closed-form solution, not an approximation. On a uniform output grid the step
//! coefficients are computed once, so each output point costs a handful of multiply-adds.

use super::Modes;
use crate::error::{invalid, MgivError};
use crate::regimen::{DoseEvent, Route};

/// What changes at a breakpoint (amounts in mmol, rates in mmol/h).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Kind {
    IvBolus(f64),
    ImDose(f64),
    RateOn(f64),
    RateOff(f64),
}

/// One change of the dosing input at a time (h).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Breakpoint {
    pub t_h: f64,
    pub kind: Kind,
}

/// Dosing events as time-sorted breakpoints; build once per regimen, reuse for many patients.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Schedule {
    points: Vec<Breakpoint>,
}

impl Schedule {
    pub fn new(events: &[DoseEvent]) -> Self {
        let mut points = Vec::with_capacity(events.len() * 2);
        for e in events {
            match *e {
                DoseEvent::Bolus {
                    time_h,
                    amount_mmol,
                    route,
                    ..
                } => points.push(Breakpoint {
                    t_h: time_h,
                    kind: match route {
                        Route::Iv => Kind::IvBolus(amount_mmol),
                        Route::Im => Kind::ImDose(amount_mmol),
                    },
                }),
                DoseEvent::Infusion {
                    start_h,
                    end_h,
                    rate_mmol_per_h,
                    ..
                } => {
                    points.push(Breakpoint {
                        t_h: start_h,
                        kind: Kind::RateOn(rate_mmol_per_h),
                    });
                    if let Some(e) = end_h {
                        points.push(Breakpoint {
                            t_h: e,
                            kind: Kind::RateOff(rate_mmol_per_h),
                        });
                    }
                }
            }
        }
        // stable sort: at equal times, keep insertion order
        points.sort_by(|a, b| a.t_h.total_cmp(&b.t_h));
        Schedule { points }
    }

    /// The breakpoints in time order (at equal times, in the order of the events); shared by the
    /// exact modal solver and the ODE path.
    pub fn points(&self) -> &[Breakpoint] {
        &self.points
    }
}

/// The state of the modal recurrence: the contribution of each mode to ΔC (mmol/L), the IM
/// depot (mmol), the running infusion rate (mmol/h) and how many infusions run. One type for this
/// solver and mgiv-pop's population kernel, so both apply a breakpoint and take a step the same
/// way.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct ModalState {
    pub mode: [f64; 2],
    pub depot: f64,
    pub rate: f64,
    pub active: i32,
}

impl ModalState {
    /// Nothing given yet.
    pub const ZERO: ModalState = ModalState {
        mode: [0.0; 2],
        depot: 0.0,
        rate: 0.0,
        active: 0,
    };

    /// Apply one breakpoint: a bolus adds to every mode, an IM dose to the depot (times the
    /// bioavailable fraction), an infusion starts or stops (the rate is reset to exactly 0 when
    /// none runs, so rounding never leaves a phantom rate).
    #[inline]
    pub fn apply(&mut self, k: Kind, m: &Modes) {
        match k {
            Kind::IvBolus(a) => {
                for (v, c) in self.mode.iter_mut().zip(&m.coef_per_l).take(m.n) {
                    *v += a * c;
                }
            }
            Kind::ImDose(a) => self.depot += a * m.f_im,
            Kind::RateOn(r) => {
                self.rate += r;
                self.active += 1;
            }
            Kind::RateOff(r) => {
                self.rate -= r;
                self.active -= 1;
                if self.active == 0 {
                    self.rate = 0.0;
                }
            }
        }
    }

    /// The mode contributions after a step with coefficients `c` (state unchanged). Both slots
    /// are always computed: an unused second mode has e = 1, g = hk = 0 and stays 0.
    #[inline(always)]
    pub fn stepped_modes(&self, c: &StepCoef) -> [f64; 2] {
        [
            self.mode[0] * c.e[0] + self.rate * c.g[0] + self.depot * c.hk[0],
            self.mode[1] * c.e[1] + self.rate * c.g[1] + self.depot * c.hk[1],
        ]
    }

    /// Take the step: modes as [`Self::stepped_modes`], the depot absorbed by e^(−ka h).
    #[inline(always)]
    pub fn step(&mut self, c: &StepCoef) {
        self.mode = self.stepped_modes(c);
        self.depot *= c.ek;
    }

    /// Total serum Mg (mmol/L) on top of `baseline_mmol_l`.
    #[inline(always)]
    pub fn level(&self, baseline_mmol_l: f64) -> f64 {
        baseline_mmol_l + self.mode[0] + self.mode[1]
    }
}

/// The level a unit depot amount adds to mode i (coefficient `ci` 1/L, rate `l` 1/h) over a step
/// `h` with first-order absorption `ka` 1/h, given e^(−λh) (`e_l`) and e^(−ka·h) (`ek`):
/// ci·ka·(e^(−λh) − e^(−ka·h))/(ka − λ), its limit ci·ka·h·e^(−ka·h) when ka ≈ λ, 0 without a
/// depot. One implementation for this solver and the population kernel (mgiv-pop).
#[inline(always)]
pub fn depot_transfer(ci: f64, l: f64, ka: f64, h: f64, e_l: f64, ek: f64) -> f64 {
    if ka > 0.0 {
        if ((ka - l) / ka).abs() < 1e-9 {
            ci * ka * h * ek
        } else {
            ci * ka * (e_l - ek) / (ka - l)
        }
    } else {
        0.0
    }
}

/// e^(−λh) and c(1 − e^(−λh))/λ of one mode (rate λ 1/h, coefficient c 1/L) over a step h. One
/// libm call: e^x = 1 + (e^x − 1), within an ulp of `exp`, and the rate response from `expm1`
/// keeps its accuracy for small λh.
#[inline]
pub fn mode_factors(l: f64, ci: f64, h: f64) -> (f64, f64) {
    let em1 = (-l * h).exp_m1();
    (1.0 + em1, ci * (-em1) / l)
}

/// The step coefficients of one step length h: e_i = e^(−λ_i h), g_i (response of mode i to a
/// unit rate), hk_i (response of mode i to a unit IM depot), ek = e^(−ka h). Computed once per
/// step length and reused by this solver and by mgiv-pop's kernels.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct StepCoef {
    pub h: f64,
    pub e: [f64; 2],
    pub g: [f64; 2],
    pub hk: [f64; 2],
    pub ek: f64,
}

impl StepCoef {
    #[inline]
    pub fn new(m: &Modes, h: f64) -> Self {
        let ka = m.ka_h.unwrap_or(0.0);
        let mut c = StepCoef {
            h,
            e: [1.0; 2],
            g: [0.0; 2],
            hk: [0.0; 2],
            ek: (-ka * h).exp(),
        };
        for i in 0..m.n {
            let l = m.lambda_h[i];
            let ci = m.coef_per_l[i];
            (c.e[i], c.g[i]) = mode_factors(l, ci, h);
            c.hk[i] = depot_transfer(ci, l, ka, h, c.e[i], c.ek);
        }
        c
    }
}

/// Reusable solver state for one patient's modes.
pub struct ModalSolver<'a> {
    m: &'a Modes,
    state: ModalState,
    coef: StepCoef,
}

impl<'a> ModalSolver<'a> {
    pub fn new(m: &'a Modes) -> Self {
        ModalSolver {
            m,
            state: ModalState::ZERO,
            coef: StepCoef::new(m, 0.0),
        }
    }

    /// New step coefficients (at a breakpoint or a change of output spacing: rare).
    #[cold]
    #[inline(never)]
    fn coef_for(m: &Modes, h: f64) -> StepCoef {
        StepCoef::new(m, h)
    }

    /// Fill `out[k]` with total serum Mg (mmol/L) at `times_h[k]` (non-decreasing, ≥ 0; see
    /// `solver::check_times`). `out` must be as long as `times_h`: anything else is an error.
    pub fn run(
        &mut self,
        sched: &Schedule,
        times_h: &[f64],
        out: &mut [f64],
    ) -> Result<(), MgivError> {
        if out.len() != times_h.len() {
            return Err(invalid(
                "output buffer",
                format!("{} values for {} times", out.len(), times_h.len()),
                "one value per output time",
            ));
        }
        self.fill(sched, times_h, out);
        Ok(())
    }

    /// `run` without the length check (`out` is as long as `times_h`).
    #[inline(always)]
    fn fill(&mut self, sched: &Schedule, times_h: &[f64], out: &mut [f64]) {
        // the state and the step coefficients live in locals during the loop, so they stay in
        // registers whatever the optimiser decides about `self` (through `self` they were kept in
        // registers or not depending on how unrelated code of the crate fell into codegen units:
        // 16 µs vs 26 µs in `cargo bench -p mgiv-core --bench simulate -- modal`)
        let m = self.m;
        let mut st = ModalState::ZERO;
        let mut coef = self.coef;
        let mut advance = |st: &mut ModalState, h: f64| {
            if h <= 0.0 {
                return;
            }
            // uniform grids reuse the coefficients (steps equal to 1e-12 relative)
            if (coef.h - h).abs() > 1e-12 * h {
                coef = Self::coef_for(m, h);
            }
            st.step(&coef);
        };
        let mut t = 0.0_f64;
        let mut bi = 0;
        let pts = &sched.points;
        for (k, &tk) in times_h.iter().enumerate() {
            while bi < pts.len() && pts[bi].t_h <= tk {
                let bp = pts[bi];
                if bp.t_h > t {
                    advance(&mut st, bp.t_h - t);
                    t = bp.t_h;
                }
                st.apply(bp.kind, m);
                bi += 1;
            }
            if tk > t {
                advance(&mut st, tk - t);
                t = tk;
            }
            out[k] = st.level(m.baseline_mmol_l);
        }
        self.state = st;
        self.coef = coef;
    }
}

/// Convenience: total serum Mg at each time.
pub fn concentrations(m: &Modes, events: &[DoseEvent], times_h: &[f64]) -> Vec<f64> {
    let sched = Schedule::new(events);
    let mut out = vec![0.0; times_h.len()];
    ModalSolver::new(m).fill(&sched, times_h, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::IndividualParams;

    #[test]
    fn run_refuses_a_buffer_of_another_length_and_fills_one_of_the_same() {
        let m = Modes::from_params(&IndividualParams {
            cl_l_h: 5.0,
            v1_l: 15.0,
            peripheral: None,
            ka_h: None,
            f_im: None,
            baseline_mmol_l: 0.8,
        })
        .unwrap();
        let events = [DoseEvent::Infusion {
            start_h: 0.0,
            end_h: Some(1.0),
            rate_mmol_per_h: 15.0,
            phase: 0,
        }];
        let sched = Schedule::new(&events);
        let times = [0.0, 1.0, 2.0];
        let mut short = [0.0; 2];
        assert!(ModalSolver::new(&m)
            .run(&sched, &times, &mut short)
            .is_err());
        let mut out = [0.0; 3];
        ModalSolver::new(&m).run(&sched, &times, &mut out).unwrap();
        // one compartment, k = 1/3 per h: C(1) = baseline + R/CL (1 - e^{-k}), then decays
        let k: f64 = 5.0 / 15.0;
        let c1 = 15.0 / 5.0 * (1.0 - (-k).exp());
        assert!((out[0] - 0.8).abs() < 1e-12);
        assert!((out[1] - (0.8 + c1)).abs() < 1e-12);
        assert!((out[2] - (0.8 + c1 * (-k).exp())).abs() < 1e-12);
    }
}
