//! The fixed-grid batch path of the population kernel: for a schedule that is the same for every
//! subject (no per-kg dose, no IM depot) the output times and dosing breakpoints merge into one
//! grid of points with a handful of distinct step lengths. Each subject then needs the step
//! factors e^(−λ_i h) and c_i(1 − e^(−λ_i h))/λ_i once per mode and distinct step length, and
//! every output follows by the exact modal recurrence m_i ← m_i·e_i + R·g_i (a multiply-add per
//! mode, no `exp`).
//!
//! Subjects are processed in batches laid out as structure of arrays (one array per quantity,
//! indexed by subject), so the recurrence, the peak and the target checks of a step are a loop
//! over subjects that the compiler turns into packed SIMD. The rare steps that need more (an
//! interior maximum, the step in which the level first reaches the target) are handed lane by
//! lane to the same scalar modal algebra as the event-driven [`crate::kernel::Kernel`]
//! ([`Lane::step_events`]), so both paths give the same peak, the same time to target and
//! outputs equal to the superposition reference within 1e-12 (tested).

use mgiv_core::solver::Modes;

use crate::kernel::{mode_factors, Kind, Lane, Plan, SubjectSummary, Track};

/// Subjects per batch (structure-of-arrays width).
pub const BATCH: usize = 128;

#[derive(Debug, Clone, PartialEq)]
struct Point {
    t: f64,
    /// index into `FixedGrid::steps` of the step that arrives at this point (None for t = 0)
    step: Option<usize>,
    /// infusion rate during the arriving step (mmol/h)
    rate_in: f64,
    /// IV boluses applied at this point, in order (range into `FixedGrid::boluses`)
    boluses: std::ops::Range<usize>,
    /// any dosing event at this point (level checked after applying it)
    events: bool,
    /// output indices recorded at this point
    outputs: std::ops::Range<usize>,
}

/// A fixed schedule merged with the output times: built once per trial regimen.
#[derive(Debug, Clone, PartialEq)]
pub struct FixedGrid {
    steps: Vec<f64>,
    boluses: Vec<f64>,
    points: Vec<Point>,
    n_out: usize,
}

impl FixedGrid {
    /// The grid of `plan` at `times_h` (non-decreasing, ≥ 0), or None when the plan has an IM
    /// dose (a depot adds a third exponential: the event-driven kernel handles it).
    pub fn new(plan: &Plan, times_h: &[f64]) -> Option<Self> {
        if plan
            .points
            .iter()
            .any(|(_, k)| matches!(k, Kind::ImDose(_)))
        {
            return None;
        }
        let mut g = FixedGrid {
            steps: Vec::new(),
            boluses: Vec::new(),
            points: vec![Point {
                t: 0.0,
                step: None,
                rate_in: 0.0,
                boluses: 0..0,
                events: false,
                outputs: 0..0,
            }],
            n_out: times_h.len(),
        };
        // the same walk (and the same floating-point rate bookkeeping) as `Kernel::run`
        let (mut rate, mut active) = (0.0_f64, 0i32);
        let mut t = 0.0_f64;
        let mut bi = 0;
        let pts = &plan.points;
        for (k, &tk) in times_h.iter().enumerate() {
            while bi < pts.len() && pts[bi].0 <= tk {
                let (tb, kind) = pts[bi];
                if tb > t {
                    g.push_step(tb - t, tb, rate);
                    t = tb;
                }
                let p = g.points.last_mut().expect("grid starts with a point");
                p.events = true;
                match kind {
                    Kind::IvBolus(a) => {
                        g.boluses.push(a);
                        let n = g.boluses.len();
                        let p = g.points.last_mut().expect("grid starts with a point");
                        if p.boluses.is_empty() {
                            p.boluses = n - 1..n;
                        } else {
                            p.boluses.end = n;
                        }
                    }
                    Kind::ImDose(_) => unreachable!("IM plans are refused above"),
                    Kind::RateOn(r) => {
                        rate += r;
                        active += 1;
                    }
                    Kind::RateOff(r) => {
                        rate -= r;
                        active -= 1;
                        if active == 0 {
                            rate = 0.0;
                        }
                    }
                }
                bi += 1;
            }
            if tk > t {
                g.push_step(tk - t, tk, rate);
                t = tk;
            }
            let p = g.points.last_mut().expect("grid starts with a point");
            if p.outputs.is_empty() {
                p.outputs = k..k + 1;
            } else {
                p.outputs.end = k + 1;
            }
        }
        Some(g)
    }

    fn push_step(&mut self, h: f64, t: f64, rate: f64) {
        // step lengths equal to 1e-13 (relative) share their factors: 24⅓ − 24 h and 1/3 h
        // differ by 2e-15 h (the rounding of 24⅓), and the factors then differ by λ·Δh < 1e-14,
        // relative, far inside the 1e-12 agreement with the reference (tested)
        let i = match self.steps.iter().position(|&x| (x - h).abs() <= 1e-13 * h) {
            Some(i) => i,
            None => {
                self.steps.push(h);
                self.steps.len() - 1
            }
        };
        let b = self.boluses.len();
        self.points.push(Point {
            t,
            step: Some(i),
            rate_in: rate,
            boluses: b..b,
            events: false,
            outputs: 0..0,
        });
    }

    /// Distinct step lengths (h): the per-subject cost in `exp` is 2 × modes × this.
    pub fn n_step_lengths(&self) -> usize {
        self.steps.len()
    }

    pub fn n_outputs(&self) -> usize {
        self.n_out
    }
}

/// Reusable structure-of-arrays workspace for batches of up to [`BATCH`] subjects.
pub struct Batch {
    n: usize,
    lanes: Vec<Lane>,
    lam: [Vec<f64>; 2],
    coef: [Vec<f64>; 2],
    ss: [Vec<f64>; 2],
    base: Vec<f64>,
    /// step factors [step][lane]
    e: [Vec<f64>; 2],
    g: [Vec<f64>; 2],
    m: [Vec<f64>; 2],
    nm: [Vec<f64>; 2],
    /// lo until the lane reaches the target, then +∞
    lo_eff: Vec<f64>,
    /// outputs [time][lane] (mmol/L)
    pub out: Vec<f64>,
    pub peak_mmol_l: Vec<f64>,
    pub peak_time_h: Vec<f64>,
    /// 1 when the target was reached (then `ttt_h` holds the time)
    pub reached: Vec<u8>,
    pub ttt_h: Vec<f64>,
}

impl Default for Batch {
    fn default() -> Self {
        Self::new()
    }
}

impl Batch {
    pub fn new() -> Self {
        let v = || vec![0.0; BATCH];
        Batch {
            n: 0,
            lanes: Vec::with_capacity(BATCH),
            lam: [v(), v()],
            coef: [v(), v()],
            ss: [v(), v()],
            base: v(),
            e: [Vec::new(), Vec::new()],
            g: [Vec::new(), Vec::new()],
            m: [v(), v()],
            nm: [v(), v()],
            lo_eff: v(),
            out: Vec::new(),
            peak_mmol_l: v(),
            peak_time_h: v(),
            reached: vec![0; BATCH],
            ttt_h: v(),
        }
    }

    /// Empty the batch.
    pub fn clear(&mut self) {
        self.n = 0;
        self.lanes.clear();
    }

    /// Number of subjects in the batch.
    pub fn len(&self) -> usize {
        self.n
    }

    pub fn is_empty(&self) -> bool {
        self.n == 0
    }

    pub fn is_full(&self) -> bool {
        self.n == BATCH
    }

    /// Add one subject (at most [`BATCH`]; returns false when full).
    pub fn push(&mut self, m: &Modes) -> bool {
        if self.n == BATCH {
            return false;
        }
        let s = self.n;
        let lane = Lane::new(m);
        for i in 0..2 {
            self.lam[i][s] = lane.lambda_h[i];
            self.coef[i][s] = lane.coef_per_l[i];
            self.ss[i][s] = lane.ss_per_rate[i];
        }
        self.base[s] = lane.baseline_mmol_l;
        self.lanes.push(lane);
        self.n += 1;
        true
    }

    /// Output `k` of every subject in the batch (mmol/L).
    pub fn output(&self, k: usize) -> &[f64] {
        &self.out[k * BATCH..][..self.n]
    }

    /// Subject `s`'s summary (peak, time to target).
    pub fn summary(&self, s: usize) -> SubjectSummary {
        SubjectSummary {
            peak_mmol_l: self.peak_mmol_l[s],
            peak_time_h: self.peak_time_h[s],
            time_to_target_h: (self.reached[s] != 0).then_some(self.ttt_h[s]),
        }
    }

    /// Run every subject of the batch through `grid`, following the peak and the first time
    /// the level reaches `lo` (mmol/L; infinity for none).
    pub fn run(&mut self, grid: &FixedGrid, lo: f64) {
        let n = self.n;
        let ns = grid.steps.len();
        if self.out.len() < grid.n_out * BATCH {
            self.out.resize(grid.n_out * BATCH, 0.0);
        }
        for i in 0..2 {
            self.e[i].resize(ns * BATCH, 1.0);
            self.g[i].resize(ns * BATCH, 0.0);
        }
        // step factors: once per subject, mode and distinct step length
        for (j, &h) in grid.steps.iter().enumerate() {
            for s in 0..n {
                let l = &self.lanes[s];
                let mut e = [1.0; 2];
                let mut g = [0.0; 2];
                for i in 0..l.n {
                    (e[i], g[i]) = mode_factors(l.lambda_h[i], l.coef_per_l[i], h);
                }
                for i in 0..2 {
                    self.e[i][j * BATCH + s] = e[i];
                    self.g[i][j * BATCH + s] = g[i];
                }
            }
        }
        // initial state
        for s in 0..n {
            self.m[0][s] = 0.0;
            self.m[1][s] = 0.0;
            let c = self.base[s];
            self.peak_mmol_l[s] = c;
            self.peak_time_h[s] = 0.0;
            let r = c >= lo;
            self.reached[s] = r as u8;
            self.ttt_h[s] = 0.0;
            self.lo_eff[s] = if r { f64::INFINITY } else { lo };
        }
        let mut t_prev = 0.0;
        for p in &grid.points {
            if let Some(j) = p.step {
                self.step(j, p.rate_in, t_prev, p.t, grid.steps[j], lo);
            }
            if p.events {
                for &a in &grid.boluses[p.boluses.clone()] {
                    for i in 0..2 {
                        let (m, c) = (&mut self.m[i][..n], &self.coef[i][..n]);
                        for s in 0..n {
                            m[s] += a * c[s];
                        }
                    }
                }
                let t = p.t;
                let (m0, m1, base) = (&self.m[0][..n], &self.m[1][..n], &self.base[..n]);
                let (pk, pt) = (&mut self.peak_mmol_l[..n], &mut self.peak_time_h[..n]);
                let (rc, tt) = (&mut self.reached[..n], &mut self.ttt_h[..n]);
                let lo_eff = &mut self.lo_eff[..n];
                for s in 0..n {
                    let c = base[s] + m0[s] + m1[s];
                    let hit = c >= lo_eff[s];
                    tt[s] = if hit { t } else { tt[s] };
                    lo_eff[s] = if hit { f64::INFINITY } else { lo_eff[s] };
                    rc[s] |= hit as u8;
                    let up = c > pk[s];
                    pk[s] = if up { c } else { pk[s] };
                    pt[s] = if up { t } else { pt[s] };
                }
            }
            for k in p.outputs.clone() {
                let (m0, m1, base) = (&self.m[0][..n], &self.m[1][..n], &self.base[..n]);
                let o = &mut self.out[k * BATCH..][..n];
                for s in 0..n {
                    o[s] = base[s] + m0[s] + m1[s];
                }
            }
            t_prev = p.t;
        }
    }

    /// One step of length h (step factors `j`) from t0 to t1 at rate `rate` for every lane.
    #[inline]
    fn step(&mut self, j: usize, rate: f64, t0: f64, t1: f64, h: f64, lo: f64) {
        let n = self.n;
        let e0 = &self.e[0][j * BATCH..][..n];
        let e1 = &self.e[1][j * BATCH..][..n];
        let g0 = &self.g[0][j * BATCH..][..n];
        let g1 = &self.g[1][j * BATCH..][..n];
        let (m0, m1) = (&self.m[0][..n], &self.m[1][..n]);
        let (l0, l1) = (&self.lam[0][..n], &self.lam[1][..n]);
        let (s0, s1) = (&self.ss[0][..n], &self.ss[1][..n]);
        let base = &self.base[..n];
        let [nm0, nm1] = &mut self.nm;
        let (nm0, nm1) = (&mut nm0[..n], &mut nm1[..n]);
        let (pk, pt) = (&mut self.peak_mmol_l[..n], &mut self.peak_time_h[..n]);
        let lo_eff = &self.lo_eff[..n];
        let mut any = false;
        for s in 0..n {
            let a = m0[s] * e0[s] + rate * g0[s];
            let b = m1[s] * e1[s] + rate * g1[s];
            let c1 = base[s] + a + b;
            nm0[s] = a;
            nm1[s] = b;
            // C′ at both ends: an interior maximum when it goes from + to −
            let d0 = m0[s] - rate * s0[s];
            let d1 = m1[s] - rate * s1[s];
            let der0 = -(l0[s] * d0 + l1[s] * d1);
            let der1 = -(l0[s] * d0 * e0[s] + l1[s] * d1 * e1[s]);
            // lo_eff is lo until the target is reached, then +∞
            any |= ((der0 > 0.0) & (der1 < 0.0)) | (c1 >= lo_eff[s]);
            let up = c1 > pk[s];
            pk[s] = if up { c1 } else { pk[s] };
            pt[s] = if up { t1 } else { pt[s] };
        }
        if any {
            for s in 0..n {
                let (l, d) = (
                    self.lanes[s].lambda_h,
                    [0, 1].map(|i| self.m[i][s] - rate * self.ss[i][s]),
                );
                let e = [self.e[0][j * BATCH + s], self.e[1][j * BATCH + s]];
                let der0 = -(l[0] * d[0] + l[1] * d[1]);
                let der1 = -(l[0] * d[0] * e[0] + l[1] * d[1] * e[1]);
                let c1 = self.base[s] + self.nm[0][s] + self.nm[1][s];
                if !((der0 > 0.0 && der1 < 0.0) || c1 >= self.lo_eff[s]) {
                    continue;
                }
                let mode = [self.m[0][s], self.m[1][s]];
                let lane = self.lanes[s];
                let c0 = lane.baseline_mmol_l + mode[0] + mode[1];
                let mut tr = Track {
                    peak: self.peak_mmol_l[s],
                    peak_t: self.peak_time_h[s],
                    ttt: (self.reached[s] != 0).then_some(self.ttt_h[s]),
                };
                lane.step_events(mode, rate, e, t0, h, c0, c1, lo, &mut tr);
                self.peak_mmol_l[s] = tr.peak;
                self.peak_time_h[s] = tr.peak_t;
                if let Some(t) = tr.ttt {
                    self.reached[s] = 1;
                    self.ttt_h[s] = t;
                    self.lo_eff[s] = f64::INFINITY;
                }
            }
        }
        std::mem::swap(&mut self.m, &mut self.nm);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernel::Kernel;
    use mgiv_core::model::IndividualParams;
    use mgiv_core::regimen::Regimen;
    use mgiv_core::solver::superposition;

    fn modes(i: usize, two: bool) -> Modes {
        // a spread of subjects: clearance, volumes and baseline vary with i
        let f = 1.0 + 0.37 * ((i as f64) * 0.91).sin();
        Modes::from_params(&IndividualParams {
            cl_l_h: 3.72 * f,
            v1_l: 15.4 / f.sqrt(),
            q_l_h: if two { 3.66 * f } else { 0.0 },
            v2_l: if two { 17.0 * (2.0 - f) } else { 0.0 },
            ka_h: Some(0.317),
            f_im: Some(0.862),
            baseline_mmol_l: 0.6 + 0.01 * (i % 30) as f64,
        })
        .unwrap()
    }

    const REGIMENS: [&str; 6] = [
        "4 g over 20 min, then 1 g/h for 24 h",
        "6 g over 20 min, then 2 g/h for 24 h",
        "64 mmol/day for 14 days",
        "2 g, then 8 g over 4 h, then 0.5 g/h for 6 h, then 3 g/h for 2 h",
        "4 g, then 4 g every 4 h for 24 h",
        "5 g over 15 min, then 1.5 g/h for 10 h",
    ];

    #[test]
    fn batch_equals_superposition_and_the_event_driven_kernel() {
        let grids: [Vec<f64>; 3] = [
            (0..=48).map(|k| k as f64).collect(),
            // irregular outputs, repeated times, an output exactly on a breakpoint
            vec![
                0.0,
                0.0,
                0.1,
                1.0 / 3.0,
                0.5,
                0.5,
                2.25,
                4.0,
                7.9,
                24.0,
                30.5,
                47.0,
            ],
            (0..=96).map(|k| 0.25 * k as f64).collect(),
        ];
        for text in REGIMENS {
            let r = Regimen::from_text(text, Some(85.0)).unwrap();
            let plan = Plan::new(&r.events);
            for times in &grids {
                let grid = FixedGrid::new(&plan, times).expect("IV plan");
                for two in [true, false] {
                    // 300 subjects: two full batches and a partial one
                    let ms: Vec<Modes> = (0..300).map(|i| modes(i, two)).collect();
                    let mut b = Batch::new();
                    let mut out = vec![0.0; times.len()];
                    for chunk in ms.chunks(BATCH) {
                        b.clear();
                        for m in chunk {
                            assert!(b.push(m));
                        }
                        for lo in [1.2, 2.0, 2.5, 9.0] {
                            b.run(&grid, lo);
                            for (s, m) in chunk.iter().enumerate() {
                                let reference = superposition::concentrations(m, &r.events, times);
                                let ev = Kernel::new(m).run(&plan, times, &mut out, Some(lo));
                                for (k, want) in reference.iter().enumerate() {
                                    let got = b.output(k)[s];
                                    assert!(
                                        (got - want).abs() < 1e-12,
                                        "{text}: t {} {got} vs {want}",
                                        times[k]
                                    );
                                    // the same modal algebra (step lengths shared within
                                    // 1e-13): equal but for the last bits
                                    assert!((got - out[k]).abs() <= 1e-13 * got, "{text}");
                                }
                                let sm = b.summary(s);
                                let close =
                                    |a: f64, b: f64| (a - b).abs() <= 1e-12 * a.abs().max(1.0);
                                assert!(close(sm.peak_mmol_l, ev.peak_mmol_l), "{text}");
                                assert!(close(sm.peak_time_h, ev.peak_time_h), "{text}");
                                match (sm.time_to_target_h, ev.time_to_target_h) {
                                    (Some(a), Some(b)) => {
                                        assert!(close(a, b), "{text}: {a} vs {b}")
                                    }
                                    (None, None) => {}
                                    other => panic!("{text} lo {lo}: {other:?}"),
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn time_to_target_and_interior_peak_in_closed_form() {
        // one compartment, constant rate R from 0: C = BL + R/CL·(1 − e^(−k t)), so
        // t(lo) = −ln(1 − (lo − BL)·CL/R)/k; after the infusion stops the level falls, so the
        // peak is at the stop (a breakpoint, not an output time)
        let m = modes(0, false);
        let (cl, v) = (
            1.0 / (m.coef_per_l[0] / m.lambda_h[0]),
            1.0 / m.coef_per_l[0],
        );
        let r = Regimen::from_text("2 g/h for 7.3 h", None).unwrap();
        let rate = 2.0 * 1000.0 / 246.47;
        let times: Vec<f64> = (0..=12).map(|k| k as f64).collect();
        let grid = FixedGrid::new(&Plan::new(&r.events), &times).unwrap();
        let mut b = Batch::new();
        b.push(&m);
        let lo = 2.0;
        b.run(&grid, lo);
        let bl = m.baseline_mmol_l;
        let k = cl / v;
        let expect = -(1.0 - (lo - bl) * cl / rate).ln() / k;
        let got = b.summary(0).time_to_target_h.unwrap();
        assert!((got - expect).abs() < 1e-11, "{got} vs {expect}");
        let peak = bl + rate / cl * (1.0 - (-k * 7.3f64).exp());
        assert!((b.summary(0).peak_mmol_l - peak).abs() < 1e-12);
        assert_eq!(b.summary(0).peak_time_h, 7.3);
        // two compartments after a bolus on top of a running infusion: C′ goes from + to −
        // inside a step when the bolus's fall and the infusion's rise cross; the exact peak
        // from the stationary point is at least the best of a 1e-4-h brute-force grid
        let m = modes(3, true);
        let r = Regimen::from_text("1 g/h for 30 h, then 2 g", None).unwrap();
        let times = vec![0.0, 12.0, 48.0];
        let grid = FixedGrid::new(&Plan::new(&r.events), &times).unwrap();
        let mut b = Batch::new();
        b.push(&m);
        b.run(&grid, 100.0);
        let fine: Vec<f64> = (0..=480_000).map(|k| k as f64 * 1e-4).collect();
        let c = superposition::concentrations(&m, &r.events, &fine);
        let best = c.iter().cloned().fold(f64::MIN, f64::max);
        let sm = b.summary(0);
        assert!(sm.peak_mmol_l >= best - 1e-12 && sm.peak_mmol_l - best < 1e-6);
        assert_eq!(sm.time_to_target_h, None);
    }

    #[test]
    fn im_plans_take_the_event_driven_path() {
        let r = Regimen::from_text("4 g IV over 15 min + 10 g IM", Some(85.0)).unwrap();
        assert!(FixedGrid::new(&Plan::new(&r.events), &[0.0, 1.0]).is_none());
        let r = Regimen::from_text("4 g over 20 min, then 1 g/h for 24 h", None).unwrap();
        let g = FixedGrid::new(
            &Plan::new(&r.events),
            &(0..=48).map(f64::from).collect::<Vec<_>>(),
        )
        .unwrap();
        // 1/3 h (0 to 20 min), 1 − 1/3 h, 1 h, 24⅓ − 24 h and 25 − 24⅓ h: the last two equal
        // the first two but for their last bits, so three step lengths (12 exponentials per
        // two-mode subject)
        assert_eq!(g.n_step_lengths(), 3);
        assert_eq!(g.n_outputs(), 49);
    }
}
