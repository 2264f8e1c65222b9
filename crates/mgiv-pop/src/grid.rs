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
use wide::{f64x4, CmpGe, CmpGt, CmpLt};

use crate::kernel::{mode_factors, Kind, Lane, Plan, SubjectSummary, Track};

/// Subjects per batch (structure-of-arrays width).
pub const BATCH: usize = 256;
/// Lanes processed together in the step loop (a batch is padded to a multiple of this).
const W: usize = 4;

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
    /// lanes of each group of W that need the scalar step (bit k: lane k)
    flags: Vec<u8>,
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
            flags: vec![0; BATCH / W],
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
        if self.out.len() < grid.n_out * BATCH {
            self.out.resize(grid.n_out * BATCH, 0.0);
        }
        let mut out = std::mem::take(&mut self.out);
        self.run_with(grid, lo, |k, v| {
            out[k * BATCH..][..v.len()].copy_from_slice(v)
        });
        self.out = out;
    }

    /// [`Self::run`] handing each output time's levels (`sink(k, levels of the batch)`) to the
    /// caller as soon as they are known, instead of storing them: a trial accumulates them
    /// while they are in cache.
    pub fn run_with(&mut self, grid: &FixedGrid, lo: f64, mut sink: impl FnMut(usize, &[f64])) {
        if self.n == 0 {
            return;
        }
        // pad to a multiple of W lanes with copies of the first subject (results unused)
        let n = self.n.next_multiple_of(W);
        let mut row = [0.0; BATCH];
        for s in self.n..n {
            for i in 0..2 {
                self.lam[i][s] = self.lam[i][0];
                self.coef[i][s] = self.coef[i][0];
                self.ss[i][s] = self.ss[i][0];
            }
            self.base[s] = self.base[0];
        }
        let ns = grid.steps.len();
        for i in 0..2 {
            self.e[i].resize(ns * BATCH, 1.0);
            self.g[i].resize(ns * BATCH, 0.0);
        }
        // step factors: once per subject, mode and distinct step length
        for (j, &h) in grid.steps.iter().enumerate() {
            for s in 0..n {
                let l = &self.lanes[if s < self.n { s } else { 0 }];
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
            if !p.outputs.is_empty() {
                let (m0, m1, base) = (&self.m[0][..n], &self.m[1][..n], &self.base[..n]);
                let o = &mut row[..n];
                for s in 0..n {
                    o[s] = base[s] + m0[s] + m1[s];
                }
                for k in p.outputs.clone() {
                    sink(k, &row[..self.n]);
                }
            }
            t_prev = p.t;
        }
    }

    /// One step of length h (step factors `j`) from t0 to t1 at rate `rate` for every lane.
    #[inline]
    fn step(&mut self, j: usize, rate: f64, t0: f64, t1: f64, h: f64, lo: f64) {
        let np = self.n.next_multiple_of(W);
        let e0 = &self.e[0][j * BATCH..][..np];
        let e1 = &self.e[1][j * BATCH..][..np];
        let g0 = &self.g[0][j * BATCH..][..np];
        let g1 = &self.g[1][j * BATCH..][..np];
        let (m0, m1) = (&self.m[0][..np], &self.m[1][..np]);
        let (l0, l1) = (&self.lam[0][..np], &self.lam[1][..np]);
        let (s0, s1) = (&self.ss[0][..np], &self.ss[1][..np]);
        let base = &self.base[..np];
        let [nm0, nm1] = &mut self.nm;
        let (nm0, nm1) = (&mut nm0[..np], &mut nm1[..np]);
        let (pk, pt) = (&mut self.peak_mmol_l[..np], &mut self.peak_time_h[..np]);
        let lo_eff = &self.lo_eff[..np];
        let flags = &mut self.flags[..np / W];
        let mut any = f64x4::splat(0.0);
        let (rate_v, t1_v) = (f64x4::splat(rate), f64x4::splat(t1));
        let zero = f64x4::splat(0.0);
        // W = 4 lanes at a time in explicit SIMD (wide: two SSE2 or one AVX register)
        for q in (0..np).step_by(W) {
            let ld = |x: &[f64]| f64x4::new(x[q..q + W].try_into().expect("W lanes"));
            let (m0v, m1v, e0v, e1v) = (ld(m0), ld(m1), ld(e0), ld(e1));
            let a = m0v * e0v + rate_v * ld(g0);
            let b = m1v * e1v + rate_v * ld(g1);
            let c1 = ld(base) + a + b;
            nm0[q..q + W].copy_from_slice(&a.to_array());
            nm1[q..q + W].copy_from_slice(&b.to_array());
            // C′ at both ends: an interior maximum when it goes from + to −
            let d0 = m0v - rate_v * ld(s0);
            let d1 = m1v - rate_v * ld(s1);
            let (l0v, l1v) = (ld(l0), ld(l1));
            let der0 = zero - (l0v * d0 + l1v * d1);
            let der1 = zero - (l0v * d0 * e0v + l1v * d1 * e1v);
            // lo_eff is lo until the target is reached, then +∞
            let f = (der0.cmp_gt(zero) & der1.cmp_lt(zero)) | c1.cmp_ge(ld(lo_eff));
            flags[q / W] = f.move_mask() as u8;
            any |= f;
            let pkv = ld(pk);
            let up = c1.cmp_gt(pkv);
            let ptv = ld(pt);
            pk[q..q + W].copy_from_slice(&up.blend(c1, pkv).to_array());
            pt[q..q + W].copy_from_slice(&up.blend(t1_v, ptv).to_array());
        }
        let any = any.any();
        if any {
            for s in 0..self.n {
                if self.flags[s / W] & (1 << (s % W)) == 0 {
                    continue;
                }
                let e = [self.e[0][j * BATCH + s], self.e[1][j * BATCH + s]];
                let c1 = self.base[s] + self.nm[0][s] + self.nm[1][s];
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
