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
//! (`Lane::step_events`), so both paths give the same peak, the same time to target and
//! outputs equal to the superposition reference within 1e-12 (tested).

use mgiv_core::solver::Modes;

use crate::kernel::{Kind, Lane, Plan, SubjectSummary, Track};
use crate::simd::V4;

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
    /// how each step's factors are computed, in this order: e^(−λh) − 1 by `expm1`, or, for a
    /// step whose length is the sum of two earlier ones (to 4 ulp), by the exact identity
    /// e^(x+y) − 1 = (e^x − 1) + (e^y − 1) + (e^x − 1)(e^y − 1), which loses no accuracy
    recipe: Vec<(usize, Option<(usize, usize)>)>,
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
            recipe: Vec::new(),
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
        g.recipe = recipes(&g.steps);
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

    /// Distinct step lengths (h).
    pub fn n_step_lengths(&self) -> usize {
        self.steps.len()
    }

    /// Step lengths whose factors need `expm1` (the others are sums of two earlier ones): the
    /// per-subject cost in `expm1` is modes × this.
    pub fn n_expm1(&self) -> usize {
        self.recipe.iter().filter(|r| r.1.is_none()).count()
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
    /// e^(−λh) − 1 of one mode for 4 lanes, per step length (scratch of `prepare`)
    em1: Vec<[f64; W]>,
    /// outputs `[time][lane]` (mmol/L)
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
            em1: Vec::new(),
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
    /// the level reaches `lo` (mmol/L; infinity for none). Outputs go to [`Self::output`].
    pub fn run(&mut self, grid: &FixedGrid, lo: f64) {
        if self.n == 0 {
            return;
        }
        if self.out.len() < grid.n_out * BATCH {
            self.out.resize(grid.n_out * BATCH, 0.0);
        }
        #[cfg(target_arch = "x86_64")]
        {
            if std::arch::is_x86_feature_detected!("avx2") {
                // SAFETY: the CPU has AVX2 (checked just above)
                unsafe { self.groups_avx2(grid, lo) };
                return;
            }
        }
        self.groups::<wide::f64x4>(grid, lo);
    }

    /// [`Self::run`], then each output time's levels handed to `sink(k, levels of the batch)`.
    pub fn run_with(&mut self, grid: &FixedGrid, lo: f64, mut sink: impl FnMut(usize, &[f64])) {
        if self.n == 0 {
            return;
        }
        self.run(grid, lo);
        for k in 0..grid.n_out {
            sink(k, &self.out[k * BATCH..][..self.n]);
        }
    }

    /// Padding and the step factors (once per subject, mode and distinct step length), 4 lanes
    /// at a time with the 4-lane `expm1` of [`crate::simd`] (2 ulp of libm's, which the
    /// event-driven kernel uses: outputs agree to 1e-13, tested).
    #[inline(always)]
    fn prepare<V: V4>(&mut self, grid: &FixedGrid) {
        // pad to a multiple of W lanes with copies of the first subject (results unused)
        let n = self.n.next_multiple_of(W);
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
        self.em1.resize(ns, [0.0; W]);
        let zero = V::splat(0.0);
        for q in (0..n).step_by(W) {
            for i in 0..2 {
                let lam = V::load(&self.lam[i][q..q + W]);
                let ci = V::load(&self.coef[i][q..q + W]);
                // lanes with mode i (the second mode of a one-compartment subject has none)
                let mut has = [0.0; W];
                for (k, h) in has.iter_mut().enumerate() {
                    let s = if q + k < self.n { q + k } else { 0 };
                    *h = f64::from_bits(if i < self.lanes[s].n { u64::MAX } else { 0 });
                }
                let has = V::load(&has);
                for &(j, how) in &grid.recipe {
                    let x = match how {
                        None => crate::simd::expm1(zero.sub(lam).mul(V::splat(grid.steps[j]))),
                        Some((a, b)) => {
                            let (xa, xb) = (V::load(&self.em1[a]), V::load(&self.em1[b]));
                            xa.add(xb).add(xa.mul(xb))
                        }
                    };
                    x.store(&mut self.em1[j]);
                    // as `mgiv_core::solver::modal::mode_factors`
                    let e = has.select(V::splat(1.0).add(x), V::splat(1.0));
                    let g = has.select(ci.mul(zero.sub(x)).div(lam), zero);
                    e.store(&mut self.e[i][j * BATCH + q..][..W]);
                    g.store(&mut self.g[i][j * BATCH + q..][..W]);
                }
            }
        }
    }

    /// [`Self::groups`] in AVX registers (no FMA, so the results are bit-identical to the
    /// baseline build's).
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    unsafe fn groups_avx2(&mut self, grid: &FixedGrid, lo: f64) {
        self.groups::<crate::simd::Avx>(grid, lo)
    }

    /// The whole grid for W lanes at a time: the modes, peak and target state stay in
    /// registers across all steps (lane-major), written out once per output time.
    #[inline(always)]
    fn groups<V: Cross>(&mut self, grid: &FixedGrid, lo: f64) {
        self.prepare::<V>(grid);
        let np = self.n.next_multiple_of(W);
        for q in (0..np).step_by(W) {
            self.group::<V>(grid, lo, q);
        }
    }

    /// Subjects q..q+W over the whole grid.
    #[inline(always)]
    fn group<V: Cross>(&mut self, grid: &FixedGrid, lo: f64, q: usize) {
        let ld = |v: &[f64], o: usize| V::load(&v[o..o + W]);
        let modal = Modal4 {
            l: [ld(&self.lam[0], q), ld(&self.lam[1], q)],
            coef: [ld(&self.coef[0], q), ld(&self.coef[1], q)],
            ss: [ld(&self.ss[0], q), ld(&self.ss[1], q)],
            base: ld(&self.base, q),
        };
        let mut st = GroupState::new(&modal, lo);
        // lanes q..q+W that hold a subject (the last group may be partial)
        let valid: u32 = if q + W <= self.n {
            (1 << W) - 1
        } else {
            (1 << (self.n - q)) - 1
        };
        let lanes = &self.lanes[q..self.n.min(q + W)];
        let mut t_prev = 0.0;
        for p in &grid.points {
            if let Some(j) = p.step {
                let o = j * BATCH + q;
                let e = [ld(&self.e[0], o), ld(&self.e[1], o)];
                let g = [ld(&self.g[0], o), ld(&self.g[1], o)];
                let step = Step {
                    e,
                    g,
                    rate_in: p.rate_in,
                    h: grid.steps[j],
                    t_start: t_prev,
                    t_end: p.t,
                };
                st.step(&modal, &step, lo, valid, lanes);
            }
            if p.events {
                st.events(&modal, &grid.boluses[p.boluses.clone()], p.t);
            }
            if !p.outputs.is_empty() {
                let c = st.level(&modal);
                for kk in p.outputs.clone() {
                    c.store(&mut self.out[kk * BATCH + q..][..W]);
                }
            }
            t_prev = p.t;
        }
        st.pk.store(&mut self.peak_mmol_l[q..q + W]);
        st.pt.store(&mut self.peak_time_h[q..q + W]);
        st.tt.store(&mut self.ttt_h[q..q + W]);
        let bits = st.rch.bits();
        for k in 0..W {
            self.reached[q + k] = (bits >> k & 1) as u8;
        }
    }
}

/// One step of the grid for a group of lanes: the step factors e^(−λh) and the unit-rate
/// responses of both modes, the constant rate, the length and the times at both ends (h).
struct Step<V> {
    e: [V; 2],
    g: [V; 2],
    rate_in: f64,
    h: f64,
    t_start: f64,
    t_end: f64,
}

/// What [`Batch::group`] carries across the grid for W lanes, in registers: the mode
/// contributions, the running peak and its time, the time to target, which lanes reached the
/// target (mask) and the effective lower bound (lo until reached, then +∞).
#[derive(Clone, Copy)]
struct GroupState<V> {
    m: [V; 2],
    pk: V,
    pt: V,
    tt: V,
    rch: V,
    lo_eff: V,
}

impl<V: Cross> GroupState<V> {
    #[inline(always)]
    fn new(modal: &Modal4<V>, lo: f64) -> Self {
        let zero = V::splat(0.0);
        let rch = modal.base.ge(V::splat(lo));
        GroupState {
            m: [zero, zero],
            pk: modal.base,
            pt: zero,
            tt: zero,
            rch,
            lo_eff: rch.select(V::splat(f64::INFINITY), V::splat(lo)),
        }
    }

    #[inline(always)]
    fn level(&self, modal: &Modal4<V>) -> V {
        modal.base.add(self.m[0]).add(self.m[1])
    }

    /// Advance over one step: new modes, the peak at the step's end, and, in the lanes where
    /// C′ changes sign from + to − inside the step or the level reaches the target, the interior
    /// peak and the crossing.
    #[inline(always)]
    fn step(&mut self, modal: &Modal4<V>, s: &Step<V>, lo: f64, valid: u32, lanes: &[Lane]) {
        let zero = V::splat(0.0);
        let [m0, m1] = self.m;
        let [e0, e1] = s.e;
        let [l0, l1] = modal.l;
        let rate = V::splat(s.rate_in);
        let a = m0.mul(e0).add(rate.mul(s.g[0]));
        let b = m1.mul(e1).add(rate.mul(s.g[1]));
        let c = modal.base.add(a).add(b);
        // C′ at both ends: an interior maximum when it goes from + to −
        let d0 = m0.sub(rate.mul(modal.ss[0]));
        let d1 = m1.sub(rate.mul(modal.ss[1]));
        let der0 = zero.sub(l0.mul(d0).add(l1.mul(d1)));
        let der1 = zero.sub(l0.mul(d0).mul(e0).add(l1.mul(d1).mul(e1)));
        let flag = der0.gt(zero).and(der1.lt(zero)).or(c.ge(self.lo_eff));
        let up = c.gt(self.pk);
        self.pk = up.select(c, self.pk);
        self.pt = up.select(V::splat(s.t_end), self.pt);
        let mut bits = flag.bits();
        if bits != 0 {
            bits = self.rising_crossings(modal, s, c, der0, der1, lo, valid, bits);
        }
        if bits != 0 {
            self.scalar_lanes(s, c, lo, bits, lanes);
        }
        self.m = [a, b];
    }

    /// Lanes that reach the target in a step where C rises throughout (C′ ≥ 0 at both ends, so
    /// at most one sign change of C′ means none) and started below it: the crossing by
    /// Halley's method on 4 lanes at once. Returns the flagged lanes still to handle.
    #[inline(always)]
    #[allow(clippy::too_many_arguments)]
    fn rising_crossings(
        &mut self,
        modal: &Modal4<V>,
        s: &Step<V>,
        c: V,
        der0: V,
        der1: V,
        lo: f64,
        valid: u32,
        bits: u32,
    ) -> u32 {
        let zero = V::splat(0.0);
        let lo_v = V::splat(lo);
        let start = self.level(modal);
        let rising = c
            .ge(self.lo_eff)
            .and(der0.ge(zero))
            .and(der1.ge(zero))
            .and(start.lt(lo_v));
        let vbits = rising.bits() & valid;
        if vbits == 0 {
            return bits;
        }
        let h = V::splat(s.h);
        let mut mk = [0.0; W];
        for (k, x) in mk.iter_mut().enumerate() {
            *x = f64::from_bits(if vbits >> k & 1 == 1 { u64::MAX } else { 0 });
        }
        let mk = V::load(&mk);
        let rate = V::splat(s.rate_in);
        let root = V::cross(modal, mk, self.m, rate, lo_v, start, h, c);
        self.tt = mk.select(V::splat(s.t_start).add(root), self.tt);
        self.lo_eff = mk.select(V::splat(f64::INFINITY), self.lo_eff);
        self.rch = self.rch.or(mk);
        bits & !vbits
    }

    /// The rare lanes with an interior maximum or another crossing: the scalar modal algebra
    /// shared with the event-driven kernel. `lanes` holds the group's subjects (fewer than W
    /// in a partial last group).
    #[inline(always)]
    fn scalar_lanes(&mut self, s: &Step<V>, c: V, lo: f64, bits: u32, lanes: &[Lane]) {
        let (m0a, m1a, ca) = (self.m[0].to_array(), self.m[1].to_array(), c.to_array());
        let (e0a, e1a) = (s.e[0].to_array(), s.e[1].to_array());
        let (mut pka, mut pta) = (self.pk.to_array(), self.pt.to_array());
        let (mut tta, mut loa) = (self.tt.to_array(), self.lo_eff.to_array());
        let mut rcha = [0.0; W];
        self.rch.store(&mut rcha);
        for (k, lane) in lanes.iter().enumerate() {
            if bits & (1 << k) == 0 {
                continue;
            }
            let mode = [m0a[k], m1a[k]];
            let cs = lane.baseline_mmol_l + mode[0] + mode[1];
            let reached = rcha[k].to_bits() != 0;
            let mut tr = Track {
                peak: pka[k],
                peak_t: pta[k],
                ttt: reached.then_some(tta[k]),
            };
            let e = [e0a[k], e1a[k]];
            lane.step_events(mode, s.rate_in, e, s.t_start, s.h, cs, ca[k], lo, &mut tr);
            pka[k] = tr.peak;
            pta[k] = tr.peak_t;
            if let Some(t) = tr.ttt {
                tta[k] = t;
                rcha[k] = f64::from_bits(u64::MAX);
                loa[k] = f64::INFINITY;
            }
        }
        (self.pk, self.pt) = (V::load(&pka), V::load(&pta));
        (self.tt, self.lo_eff, self.rch) = (V::load(&tta), V::load(&loa), V::load(&rcha));
    }

    /// Dosing breakpoint at time `t`: the boluses (mmol) add to the modes, then the level there
    /// counts for the peak and the target.
    #[inline(always)]
    fn events(&mut self, modal: &Modal4<V>, boluses: &[f64], t: f64) {
        for &a in boluses {
            let a = V::splat(a);
            self.m[0] = self.m[0].add(a.mul(modal.coef[0]));
            self.m[1] = self.m[1].add(a.mul(modal.coef[1]));
        }
        let t = V::splat(t);
        let c = self.level(modal);
        let hit = c.ge(self.lo_eff);
        self.tt = hit.select(t, self.tt);
        self.lo_eff = hit.select(V::splat(f64::INFINITY), self.lo_eff);
        self.rch = self.rch.or(hit);
        let up = c.gt(self.pk);
        self.pk = up.select(c, self.pk);
        self.pt = up.select(t, self.pt);
    }
}

/// The order and the way to compute each step's factors (see `FixedGrid::recipe`): shortest
/// first; a step is the sum of two earlier ones when the lengths agree to 4 ulp.
fn recipes(steps: &[f64]) -> Vec<(usize, Option<(usize, usize)>)> {
    let mut order: Vec<usize> = (0..steps.len()).collect();
    order.sort_by(|&a, &b| steps[a].total_cmp(&steps[b]));
    let mut out: Vec<(usize, Option<(usize, usize)>)> = Vec::with_capacity(steps.len());
    for &j in &order {
        let h = steps[j];
        let mut how = None;
        'find: for (x, &(a, _)) in out.iter().enumerate() {
            for &(b, _) in &out[x..] {
                if (steps[a] + steps[b] - h).abs() <= 4.0 * f64::EPSILON * h {
                    how = Some((a, b));
                    break 'find;
                }
            }
        }
        out.push((j, how));
    }
    out
}

/// [`Modal4::crossing`] out of line (it runs about once per 4 subjects; inlined, it would
/// take registers from the step loop), in the same registers as the caller.
pub(crate) trait Cross: V4 {
    #[allow(clippy::too_many_arguments)]
    fn cross(
        modal: &Modal4<Self>,
        lanes: Self,
        m: [Self; 2],
        rate: Self,
        lo: Self,
        fa: Self,
        h: Self,
        fb: Self,
    ) -> Self;
}

impl Cross for wide::f64x4 {
    #[inline(never)]
    fn cross(
        modal: &Modal4<Self>,
        lanes: Self,
        m: [Self; 2],
        rate: Self,
        lo: Self,
        fa: Self,
        h: Self,
        fb: Self,
    ) -> Self {
        modal.crossing(lanes, m, rate, lo, fa, h, fb)
    }
}

#[cfg(target_arch = "x86_64")]
impl Cross for crate::simd::Avx {
    #[inline(never)]
    fn cross(
        modal: &Modal4<Self>,
        lanes: Self,
        m: [Self; 2],
        rate: Self,
        lo: Self,
        fa: Self,
        h: Self,
        fb: Self,
    ) -> Self {
        #[target_feature(enable = "avx2")]
        #[allow(clippy::too_many_arguments)]
        unsafe fn avx(
            modal: &Modal4<crate::simd::Avx>,
            lanes: crate::simd::Avx,
            m: [crate::simd::Avx; 2],
            r: crate::simd::Avx,
            lo: crate::simd::Avx,
            fa: crate::simd::Avx,
            h: crate::simd::Avx,
            fb: crate::simd::Avx,
        ) -> crate::simd::Avx {
            modal.crossing(lanes, m, r, lo, fa, h, fb)
        }
        // SAFETY: `Avx` values exist only after the AVX2 check (see `crate::simd`)
        unsafe { avx(modal, lanes, m, rate, lo, fa, h, fb) }
    }
}

/// The two-mode level of 4 lanes within a step at constant rate (the vector form of
/// [`Lane::eval`] and [`Lane::crossing`], with the 4-lane `expm1` of [`crate::simd`]).
pub(crate) struct Modal4<V: V4> {
    l: [V; 2],
    coef: [V; 2],
    ss: [V; 2],
    base: V,
}

impl<V: V4> Modal4<V> {
    /// C(s), C′(s) and C″(s) for modes `m` at the start of the step and rate `rate`.
    #[inline(always)]
    #[allow(clippy::needless_range_loop)]
    fn eval(&self, m: [V; 2], rate: V, s: V) -> (V, V, V) {
        let zero = V::splat(0.0);
        let (mut c, mut d, mut d2) = (self.base, zero, zero);
        for i in 0..2 {
            let em1 = crate::simd::expm1(zero.sub(self.l[i].mul(s)));
            let e = V::splat(1.0).add(em1);
            c = c.add(m[i].mul(e)).sub(rate.mul(self.ss[i]).mul(em1));
            let di = rate.mul(self.coef[i]).sub(self.l[i].mul(m[i])).mul(e);
            d = d.add(di);
            d2 = d2.sub(self.l[i].mul(di));
        }
        (c, d, d2)
    }

    /// Per lane, the first s in [0, h] with C(s) ≥ lo, given C(0) = `fa` < lo ≤ C(h) = `fb`
    /// and C rising on [0, h]: [`Lane::crossing`]'s safeguarded Halley iteration from the
    /// secant point, on the lanes of mask `lanes` until each has converged (other lanes give
    /// values to be ignored).
    #[inline(always)]
    #[allow(clippy::too_many_arguments)]
    fn crossing(&self, lanes: V, m: [V; 2], rate: V, lo: V, fa: V, h: V, fb: V) -> V {
        let (zero, half, two) = (V::splat(0.0), V::splat(0.5), V::splat(2.0));
        let all = zero.le(zero);
        let finite = |x: V| {
            x.gt(V::splat(f64::NEG_INFINITY))
                .and(x.lt(V::splat(f64::INFINITY)))
        };
        let (fa, fb) = (fa.sub(lo), fb.sub(lo));
        let (mut a, mut b) = (zero, h);
        let x0 = zero.sub(fa.mul(h).div(fb.sub(fa)));
        let ok = finite(x0).and(x0.gt(a)).and(x0.lt(b));
        let mut x = ok.select(x0, half.mul(a.add(b)));
        let mut root = b;
        let mut active = lanes;
        let tol = V::splat(4.0 * f64::EPSILON);
        let (step_tol, small) = (V::splat(1e-6), V::splat(1e-3));
        for _ in 0..100 {
            let (c, d, d2) = self.eval(m, rate, x);
            let f = c.sub(lo);
            let up = f.ge(zero);
            b = up.select(x, b);
            a = up.select(a, x);
            // converged: f = 0 or a bracket of a few ulp
            let bmax = b.gt(small).select(b, small);
            let done = f.ge(zero).and(f.le(zero)).or(b.sub(a).le(tol.mul(bmax)));
            let newly = done.and(active);
            root = newly.select(b, root);
            active = active.and(newly.select(zero, all));
            let nx = x.sub(two.mul(f).mul(d).div(two.mul(d).mul(d).sub(f.mul(d2))));
            let ok = finite(nx).and(nx.gt(a)).and(nx.lt(b));
            let nx = ok.select(nx, half.mul(a.add(b)));
            let dx = nx.sub(x);
            let close = dx.le(step_tol).and(dx.ge(zero.sub(step_tol))).and(active);
            root = close.select(nx, root);
            active = active.and(close.select(zero, all));
            if active.bits() == 0 {
                break;
            }
            x = nx;
        }
        root
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernel::Kernel;
    use mgiv_core::model::{IndividualParams, Peripheral};
    use mgiv_core::regimen::Regimen;
    use mgiv_core::solver::superposition;

    fn modes(i: usize, two: bool) -> Modes {
        // a spread of subjects: clearance, volumes and baseline vary with i
        let f = 1.0 + 0.37 * ((i as f64) * 0.91).sin();
        Modes::from_params(&IndividualParams {
            cl_l_h: 3.72 * f,
            v1_l: 15.4 / f.sqrt(),
            peripheral: two.then_some(Peripheral {
                q_l_h: 3.66 * f,
                v2_l: 17.0 * (2.0 - f),
            }),
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
        // 2/3 h = 1/3 + 1/3 and 1 h = 1/3 + 2/3: one expm1 per mode
        assert_eq!(g.n_expm1(), 1);
        assert_eq!(g.n_outputs(), 49);
    }

    #[test]
    fn baseline_and_avx_lanes_are_bit_identical() {
        // the dispatching `run` (AVX where the CPU has AVX2) against the baseline SSE2 lanes
        let times: Vec<f64> = (0..=48).map(|k| k as f64).collect();
        for text in REGIMENS {
            let r = Regimen::from_text(text, Some(85.0)).unwrap();
            let grid = FixedGrid::new(&Plan::new(&r.events), &times).unwrap();
            for two in [true, false] {
                let (mut a, mut b) = (Batch::new(), Batch::new());
                for i in 0..203 {
                    a.push(&modes(i, two));
                    b.push(&modes(i, two));
                }
                for lo in [1.2, 2.0, f64::INFINITY] {
                    a.run(&grid, lo);
                    b.out.resize(grid.n_out * BATCH, 0.0);
                    b.groups::<wide::f64x4>(&grid, lo);
                    let bits = |v: &[f64]| v[..203].iter().map(|x| x.to_bits()).collect::<Vec<_>>();
                    for k in 0..grid.n_out {
                        assert_eq!(bits(a.output(k)), bits(b.output(k)), "{text}");
                    }
                    assert_eq!(bits(&a.peak_mmol_l), bits(&b.peak_mmol_l));
                    assert_eq!(bits(&a.peak_time_h), bits(&b.peak_time_h));
                    assert_eq!(a.reached[..203], b.reached[..203]);
                    assert_eq!(bits(&a.ttt_h), bits(&b.ttt_h));
                }
            }
        }
    }
}
