//! Virtual trials: simulate N virtual patients from a population under one or more regimens and
//! summarise, per regimen and output time, the percentiles of total serum Mg, the probability of
//! being in the target range and above each toxicity threshold, the distribution of the peak and
//! of the time to reach the target.
//!
//! Streaming and exact where it matters:
//! - probabilities (in target, above a threshold, peak above a threshold) are exact counts;
//! - percentiles come from per-time histograms of 0.001 mmol/L bins on [0, 12) mmol/L with
//!   linear interpolation inside the bin, so they are within one bin (0.001 mmol/L) of the exact
//!   order statistic (tested against sorting); values ≥ 12 mmol/L go to an overflow bin and a
//!   percentile falling there is reported as the largest value seen;
//! - every subject draws from its own generator seeded by (seed, subject index), and histogram
//!   counts are integers, so the result is bit-identical for any number of threads and any
//!   sharding (tested).
//!
//! Levels are the subjects' true levels (inter-individual variability, covariates and baseline);
//! assay/residual error is not added.

use std::sync::atomic::{AtomicU64, Ordering};

use mgiv_core::error::{invalid, MgivError};
use mgiv_core::model::ModelSpec;
use mgiv_core::regimen::{PhaseKind, Regimen, RegimenSpec};
use mgiv_core::solver::Modes;
use mgiv_core::Warning;
use rayon::prelude::*;
use serde::Serialize;

use crate::grid::{Batch, FixedGrid};
use crate::kernel::{Kernel, Plan, SubjectSummary};
use crate::popmodel::PopModel;
use crate::population::{Covariates, RawCovariates};
use crate::population::{PopulationSampler, PopulationSpec};
use crate::rng::{RunKey, Stream, SubjectRng};
use crate::simd::V4;

/// Histogram bin width for concentrations (mmol/L).
pub const CONC_BIN_MMOL_L: f64 = 0.001;
/// Number of concentration bins (the last one also holds everything ≥ 12 mmol/L).
pub const CONC_BINS: usize = 12_000;
const TTT_BINS: usize = 4096;
/// Subjects per work unit.
pub const BLOCK_SUBJECTS: u64 = 4096;
/// The toxicity thresholds reported by default, by their id in data/ranges/serum-mg.toml: USPI
/// DTR decrease, reported loss of DTRs, USPI areflexia/respiratory paralysis.
pub const DEFAULT_THRESHOLD_IDS: [&str; 3] =
    ["dtr-decrease", "dtr-loss-reported", "areflexia-respiratory"];

/// The levels (mmol/L) of [`DEFAULT_THRESHOLD_IDS`], read from data/ranges/serum-mg.toml.
pub fn default_thresholds_mmol_l() -> Result<Vec<f64>, MgivError> {
    let levels = mgiv_core::ranges::serum_levels()?;
    DEFAULT_THRESHOLD_IDS
        .iter()
        .map(|id| {
            levels
                .thresholds
                .iter()
                .find(|t| t.id == *id)
                .map(|t| t.mmol_l)
                .ok_or_else(|| MgivError::ModelFile {
                    id: "data/ranges/serum-mg.toml".into(),
                    message: format!("threshold {id} missing"),
                })
        })
        .collect()
}

/// Percentiles reported (statistics of the output, not data).
pub const PERCENTILES: [f64; 5] = [0.05, 0.25, 0.50, 0.75, 0.95];

/// A regimen in a trial: a label and its text.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct TrialRegimen {
    pub label: String,
    pub text: String,
}

/// What to run.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct TrialConfig {
    pub n_subjects: u64,
    pub seed: u64,
    /// output times (h), non-decreasing, ≥ 0
    pub times_h: Vec<f64>,
    pub target_mmol_l: (f64, f64),
    pub thresholds_mmol_l: Vec<f64>,
}

/// One subject as drawn: covariates and modes (None: parameters the solver cannot use).
type Drawn = (RawCovariates, Option<Modes>);

struct Prepared {
    label: String,
    spec: RegimenSpec,
    canonical: String,
    fixed: Option<Plan>,
    /// the fixed plan merged with the output times (None: per-kg or IM, event-driven path)
    grid: Option<FixedGrid>,
}

/// Everything a trial needs, validated once.
pub struct Trial {
    model: PopModel,
    population: PopulationSpec,
    sampler: PopulationSampler,
    regimens: Vec<Prepared>,
    cfg: TrialConfig,
    /// the seed's part of every subject's generator state
    key: RunKey,
    warnings: Vec<Warning>,
}

fn is_per_kg(spec: &RegimenSpec) -> bool {
    spec.phases.iter().any(|p| match p.kind {
        PhaseKind::Dose { dose, .. } | PhaseKind::Rate { dose, .. } => dose.per_kg,
    })
}

impl Trial {
    pub fn new(
        model: &ModelSpec,
        population: &PopulationSpec,
        regimens: &[TrialRegimen],
        cfg: TrialConfig,
    ) -> Result<Self, MgivError> {
        let pm = PopModel::new(model)?;
        if regimens.is_empty() {
            return Err(invalid("regimen", "none", "at least one --regimen"));
        }
        if regimens.len() > 16 {
            return Err(invalid(
                "regimen",
                format!("{} regimens", regimens.len()),
                "at most 16 regimens",
            ));
        }
        if cfg.n_subjects == 0 || cfg.n_subjects > 100_000_000 {
            return Err(invalid(
                "n",
                cfg.n_subjects,
                "1 to 100 000 000 virtual patients",
            ));
        }
        mgiv_core::solver::check_times(&cfg.times_h)?;
        if cfg.times_h.is_empty() || cfg.times_h.len() > 10_000 {
            return Err(invalid(
                "output times",
                cfg.times_h.len(),
                "1 to 10 000 times",
            ));
        }
        let (lo, hi) = cfg.target_mmol_l;
        if !(lo.is_finite() && hi.is_finite() && lo > 0.0 && lo < hi && hi <= 10.0) {
            return Err(invalid(
                "target",
                format!("{lo}-{hi} mmol/L"),
                "LO-HI with 0 < LO < HI ≤ 10 mmol/L",
            ));
        }
        for &t in &cfg.thresholds_mmol_l {
            // input guard: inside the concentration histogram (CONC_BINS)
            if !(t.is_finite() && t > 0.0 && t < 12.0) {
                return Err(invalid(
                    "threshold",
                    format!("{t} mmol/L"),
                    "above 0 and below 12 mmol/L",
                ));
            }
        }
        let mut warnings = Vec::new();
        if pm.n_eta() == 0 {
            warnings.push(Warning::new(
                "TRIAL-NO-IIV",
                format!(
                    "model {} has no inter-individual variability; the spread shows covariates and baseline only",
                    model.id
                ),
                format!("model {} ({})", model.id, model.citation),
            ));
        }
        let t_end = *cfg.times_h.last().unwrap_or(&0.0);
        let mut prepared = Vec::new();
        for r in regimens {
            let spec = RegimenSpec::parse_any(&r.text)?;
            // resolving at the population's weight bounds validates every subject's regimen
            let lo_w = spec.resolve(Some(population.weight_kg.min))?;
            let hi_w = spec.resolve(Some(population.weight_kg.max))?;
            if lo_w.has_im() && !pm.spec.supports_im() {
                return Err(invalid(
                    "model",
                    &model.id,
                    format!("a model with IM absorption for regimen '{}' (du-2019, brookfield-2016, salinger-2013)", r.label),
                ));
            }
            if hi_w.has_open_infusion() {
                warnings.push(Warning::new(
                    "SIM-OPEN-INFUSION",
                    format!(
                        "regimen '{}' has an infusion with no stated end: simulated as running to {t_end} h",
                        r.label
                    ),
                    "mgiv (the regimen as written)",
                ));
            }
            let fixed = if is_per_kg(&spec) {
                None
            } else {
                Some(Plan::new(&lo_w.events))
            };
            let grid = fixed.as_ref().and_then(|p| FixedGrid::new(p, &cfg.times_h));
            prepared.push(Prepared {
                label: r.label.clone(),
                canonical: spec.canonical(),
                spec,
                fixed,
                grid,
            });
        }
        Ok(Trial {
            model: pm,
            population: population.clone(),
            sampler: population.sampler(),
            regimens: prepared,
            key: RunKey::new(cfg.seed),
            cfg,
            warnings,
        })
    }

    fn shape(&self) -> Shape {
        Shape {
            n_reg: self.regimens.len(),
            n_t: self.cfg.times_h.len(),
            n_th: self.cfg.thresholds_mmol_l.len(),
            t_end: self.cfg.times_h.last().copied().unwrap_or(0.0),
        }
    }

    /// Simulate subjects [start, end) into a fresh accumulator. Accumulators of disjoint ranges
    /// can be merged in any order with the same result.
    pub fn run_range(&self, start: u64, end: u64, progress: Option<&AtomicU64>) -> Accumulator {
        let shape = self.shape();
        let n_blocks = (end.saturating_sub(start)).div_ceil(BLOCK_SUBJECTS);
        let min_len = (n_blocks as usize / (4 * rayon::current_num_threads())).max(1);
        (0..n_blocks as usize)
            .into_par_iter()
            .with_min_len(min_len)
            .fold(
                || Accumulator::new(shape),
                |mut acc, b| {
                    let s = start + b as u64 * BLOCK_SUBJECTS;
                    let e = (s + BLOCK_SUBJECTS).min(end);
                    self.simulate_block(s, e, &mut acc);
                    if let Some(p) = progress {
                        p.fetch_add(e - s, Ordering::Relaxed);
                    }
                    acc
                },
            )
            // reduce_with: no empty identity accumulator (2.4 MB of fresh pages per leaf for
            // the 1 M × 48 trial) to merge each partial result into
            .reduce_with(Accumulator::merge)
            .unwrap_or_else(|| Accumulator::new(shape))
    }

    fn simulate_block(&self, start: u64, end: u64, acc: &mut Accumulator) {
        if self.regimens.iter().all(|r| r.grid.is_some()) {
            self.simulate_block_grid(start, end, acc);
        } else {
            self.simulate_block_with(start, end, acc, |_, _, _, _| {});
        }
    }

    /// Whether every regimen runs on the fixed-grid batch path.
    pub fn uses_fixed_grid(&self) -> bool {
        self.regimens.iter().all(|r| r.grid.is_some())
    }

    /// Subjects [i, i + n) (n ≤ 4) into `out`: covariates (weight and creatinine on their
    /// drawing scales) and modes (None: parameters the solver cannot use). Where the model has a
    /// log-linear form ([`PopModel::log_params`]: the log-normal covariates' logarithms as
    /// drawn, no `powf`) the parameters come from one 4-lane `exp` per parameter
    /// ([`crate::simd::exp`], each lane on its own, so a subject's parameters do not depend on
    /// its neighbours); else from typical values × e^η. Both paths of the trial draw here.
    fn subjects4(&self, i: u64, n: usize, z: &mut [f64], eta: &mut [f64], out: &mut Vec<Drawn>) {
        out.clear();
        let mut lp = [[0.0; 4]; 4]; // [parameter][lane]
        for k in 0..n.min(4) {
            let key = self.key.subject(i + k as u64);
            let raw = self
                .sampler
                .draw_raw(&mut SubjectRng::from_key(key, Stream::Covariates));
            self.model
                .draw_eta(&mut SubjectRng::from_key(key, Stream::Etas), z, eta);
            let ln = self.model.log_params(
                raw.weight_kg.ln(),
                raw.scr_mg_dl.ln(),
                raw.pre_eclampsia,
                eta,
            );
            let modes = match ln {
                Some(l) => {
                    for (row, x) in lp.iter_mut().zip(l) {
                        row[k] = x;
                    }
                    None // replaced below by the 4-lane parameters
                }
                None => {
                    let cov = raw.covariates();
                    let tv = self.model.typical(&cov);
                    Modes::from_params(&self.model.individual(&tv, eta, cov.baseline_mmol_l)).ok()
                }
            };
            out.push((raw, modes));
        }
        if self.model.is_log_linear() {
            let mut p = [[0.0; 4]; 4];
            for (q, row) in p.iter_mut().zip(&lp) {
                *q = crate::simd::exp(wide::f64x4::new(*row)).to_array();
            }
            for (k, (raw, modes)) in out.iter_mut().enumerate() {
                let params = [p[0][k], p[1][k], p[2][k], p[3][k]];
                *modes =
                    Modes::from_params(&self.model.params_from(params, raw.baseline_mmol_l)).ok();
            }
        }
    }

    /// The fixed-grid path: subjects in structure-of-arrays batches (same draws, same
    /// summaries as the event-driven path).
    fn simulate_block_grid(&self, start: u64, end: u64, acc: &mut Accumulator) {
        self.simulate_block_grid_with(start, end, acc, None);
    }

    /// [`Self::simulate_block_grid`], also calling `sink(subject, regimen, covariates, summary)`
    /// for each subject and regimen when given.
    #[allow(clippy::type_complexity)]
    fn simulate_block_grid_with(
        &self,
        start: u64,
        end: u64,
        acc: &mut Accumulator,
        mut sink: Option<&mut dyn FnMut(u64, usize, &Covariates, &SubjectSummary)>,
    ) {
        let cfg = &self.cfg;
        let mut who: Vec<(u64, Covariates)> = Vec::with_capacity(crate::grid::BATCH);
        let k = self.model.n_eta();
        let (mut z, mut eta) = (vec![0.0; k], vec![0.0; k]);
        let (lo, hi) = cfg.target_mmol_l;
        let mut batch = Batch::new();
        let mut drawn = Vec::with_capacity(4);
        let mut i = start;
        while i < end {
            batch.clear();
            who.clear();
            let mut room = crate::grid::BATCH;
            while i < end && room > 0 {
                let n = (end - i).min(4).min(room as u64) as usize;
                self.subjects4(i, n, &mut z, &mut eta, &mut drawn);
                for (k, (raw, modes)) in drawn.iter().enumerate() {
                    match modes {
                        Some(m) => {
                            batch.push(m);
                            if sink.is_some() {
                                who.push((i + k as u64, raw.covariates()));
                            }
                        }
                        None => acc.failed += 1,
                    }
                }
                i += n as u64;
                room -= n;
            }
            for (r, reg) in self.regimens.iter().enumerate() {
                if let Some(g) = &reg.grid {
                    let th = &cfg.thresholds_mmol_l;
                    batch.run(g, lo);
                    acc.add_rows(r, &batch, lo, hi, th);
                    acc.add_summaries(r, &batch, th);
                    if let Some(f) = sink.as_mut() {
                        for (k, (id, cov)) in who.iter().enumerate() {
                            f(*id, r, cov, &batch.summary(k));
                        }
                    }
                }
            }
        }
        acc.n += end - start;
    }

    /// Simulate subjects [start, end) into `acc`, calling `sink(subject, regimen, covariates,
    /// summary)` for each subject and regimen (the per-subject output uses the same draws).
    fn simulate_block_with(
        &self,
        start: u64,
        end: u64,
        acc: &mut Accumulator,
        mut sink: impl FnMut(u64, usize, &crate::population::Covariates, &SubjectSummary),
    ) {
        let cfg = &self.cfg;
        let n_t = cfg.times_h.len();
        let mut buf = vec![0.0; n_t];
        let k = self.model.n_eta();
        let mut z = vec![0.0; k];
        let mut eta = vec![0.0; k];
        let (lo, hi) = cfg.target_mmol_l;
        let mut drawn = Vec::with_capacity(4);
        for i in start..end {
            if (i - start).is_multiple_of(4) {
                self.subjects4(i, (end - i).min(4) as usize, &mut z, &mut eta, &mut drawn);
            }
            let (raw, modes) = &drawn[((i - start) % 4) as usize];
            let Some(modes) = modes else {
                acc.failed += 1;
                continue;
            };
            let cov = raw.covariates();
            let mut kernel = Kernel::new(modes);
            for (r, reg) in self.regimens.iter().enumerate() {
                let own;
                let plan = match &reg.fixed {
                    Some(p) => p,
                    None => match reg.spec.resolve(Some(cov.weight_kg)) {
                        Ok(Regimen { events, .. }) => {
                            own = Plan::new(&events);
                            &own
                        }
                        Err(_) => {
                            acc.failed += 1;
                            continue;
                        }
                    },
                };
                let s = kernel.run(plan, &cfg.times_h, &mut buf, Some(lo));
                acc.add(
                    r,
                    &buf,
                    lo,
                    hi,
                    &cfg.thresholds_mmol_l,
                    s.peak_mmol_l,
                    s.time_to_target_h,
                );
                sink(i, r, &cov, &s);
            }
        }
        acc.n += end - start;
    }

    /// Per-subject results for subjects [start, end): covariates, peak and time to target per
    /// regimen, from the same draws as the summaries (so a shard's rows and its accumulator
    /// describe the same virtual patients). One row per subject and regimen.
    pub fn per_subject(&self, start: u64, end: u64) -> Result<SubjectTable, MgivError> {
        let mut t = SubjectTable::default();
        let mut acc = Accumulator::new(self.shape());
        let mut row = |i: u64, r: usize, cov: &Covariates, s: &SubjectSummary| {
            t.subject.push(i);
            t.regimen.push(r as u32);
            t.weight_kg.push(cov.weight_kg);
            t.scr_mg_dl.push(cov.scr_mg_dl);
            t.baseline_mmol_l.push(cov.baseline_mmol_l);
            t.cmax_mmol_l.push(s.peak_mmol_l);
            t.time_to_target_h
                .push(s.time_to_target_h.unwrap_or(f64::NAN));
        };
        // the same path as the summaries, so the rows reproduce their counts exactly
        if self.uses_fixed_grid() {
            self.simulate_block_grid_with(start, end, &mut acc, Some(&mut row));
            // one row per subject and regimen, in subject order within each batch: sort by
            // subject, then regimen, as the event-driven path writes them
            let mut order: Vec<usize> = (0..t.subject.len()).collect();
            order.sort_by_key(|&k| (t.subject[k], t.regimen[k]));
            t = t.permuted(&order);
        } else {
            self.simulate_block_with(start, end, &mut acc, row);
        }
        if acc.failed > 0 {
            return Err(MgivError::Numerical(format!(
                "{} virtual-patient simulations failed",
                acc.failed
            )));
        }
        Ok(t)
    }

    /// An accumulator sent as bytes (e.g. from a distributed worker), checked against this
    /// trial's shape.
    pub fn accumulator_from_bytes(&self, bytes: &[u8]) -> Result<Accumulator, MgivError> {
        Accumulator::from_bytes(bytes, self.shape())
    }

    /// An empty accumulator of this trial's shape (the identity of [`Accumulator::merge`]).
    pub fn empty_accumulator(&self) -> Accumulator {
        Accumulator::new(self.shape())
    }

    /// Run the whole trial on the current rayon pool.
    pub fn run(&self, progress: Option<&AtomicU64>) -> Result<TrialResult, MgivError> {
        let acc = self.run_range(0, self.cfg.n_subjects, progress);
        self.summarise(&acc)
    }

    /// Turn an accumulator into the reported summary.
    pub fn summarise(&self, acc: &Accumulator) -> Result<TrialResult, MgivError> {
        if acc.failed > 0 {
            return Err(MgivError::Numerical(format!(
                "{} virtual-patient simulations failed (non-positive parameters or an unresolvable regimen)",
                acc.failed
            )));
        }
        let sh = acc.shape;
        let n = acc.n as f64;
        let cfg = &self.cfg;
        let mut regimens = Vec::new();
        for (r, reg) in self.regimens.iter().enumerate() {
            let mut points = Vec::with_capacity(sh.n_t);
            for j in 0..sh.n_t {
                let h = acc.hist(r, j);
                let q = PERCENTILES
                    .map(|p| hist_quantile(h, acc.n, p, CONC_BIN_MMOL_L, acc.max[r * sh.n_t + j]));
                let c = &acc.counts[(r * sh.n_t + j) * (1 + sh.n_th)..][..1 + sh.n_th];
                points.push(PointSummary {
                    time_h: cfg.times_h[j],
                    p05_mmol_l: q[0],
                    p25_mmol_l: q[1],
                    p50_mmol_l: q[2],
                    p75_mmol_l: q[3],
                    p95_mmol_l: q[4],
                    p_in_target: c[0] as f64 / n,
                    p_above: c[1..].iter().map(|&x| x as f64 / n).collect(),
                });
            }
            let ph = &acc.peak_hist[r * CONC_BINS..][..CONC_BINS];
            let peak =
                PERCENTILES.map(|p| hist_quantile(ph, acc.n, p, CONC_BIN_MMOL_L, acc.peak_max[r]));
            let pc = &acc.peak_counts[r * sh.n_th..][..sh.n_th];
            let th = &acc.ttt_hist[r * TTT_BINS..][..TTT_BINS];
            let reached = acc.ttt_reached[r];
            let w = (sh.t_end / TTT_BINS as f64).max(1e-9);
            let ttt = if reached > 0 {
                PERCENTILES.map(|p| Some(hist_quantile(th, reached, p, w, sh.t_end)))
            } else {
                [None; 5]
            };
            regimens.push(RegimenResult {
                label: reg.label.clone(),
                canonical: reg.canonical.clone(),
                points,
                p_cmax_above: pc.iter().map(|&x| x as f64 / n).collect(),
                peak_percentiles_mmol_l: peak,
                p_reach_target: reached as f64 / n,
                time_to_target_percentiles_h: ttt,
            });
        }
        Ok(TrialResult {
            model_id: self.model.spec.id.clone(),
            model_name: self.model.spec.name.clone(),
            model_citation: self.model.spec.citation.clone(),
            variability_source: self
                .model
                .spec
                .variability
                .as_ref()
                .map(|v| v.source.clone())
                .unwrap_or_else(|| "none".into()),
            population_id: self.population.id.clone(),
            population_name: self.population.name.clone(),
            n_subjects: acc.n,
            seed: cfg.seed,
            target_mmol_l: cfg.target_mmol_l,
            thresholds_mmol_l: cfg.thresholds_mmol_l.clone(),
            times_h: cfg.times_h.clone(),
            regimens,
            warnings: self.warnings.clone(),
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
struct Shape {
    n_reg: usize,
    n_t: usize,
    n_th: usize,
    t_end: f64,
}

const ACC_MAGIC: &[u8] = b"MGIVACC1";

/// Per-subject results (one row per subject and regimen), as columns.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct SubjectTable {
    pub subject: Vec<u64>,
    /// index into the trial's regimens
    pub regimen: Vec<u32>,
    pub weight_kg: Vec<f64>,
    pub scr_mg_dl: Vec<f64>,
    pub baseline_mmol_l: Vec<f64>,
    /// peak total serum Mg over [0, last output time]
    pub cmax_mmol_l: Vec<f64>,
    /// first time at or above the target's lower bound (NaN: not reached)
    pub time_to_target_h: Vec<f64>,
}

impl SubjectTable {
    /// The rows in the order `order` (indices into the current rows).
    fn permuted(&self, order: &[usize]) -> SubjectTable {
        fn pick<T: Copy>(v: &[T], order: &[usize]) -> Vec<T> {
            order.iter().map(|&k| v[k]).collect()
        }
        SubjectTable {
            subject: pick(&self.subject, order),
            regimen: pick(&self.regimen, order),
            weight_kg: pick(&self.weight_kg, order),
            scr_mg_dl: pick(&self.scr_mg_dl, order),
            baseline_mmol_l: pick(&self.baseline_mmol_l, order),
            cmax_mmol_l: pick(&self.cmax_mmol_l, order),
            time_to_target_h: pick(&self.time_to_target_h, order),
        }
    }
}

/// Streaming, mergeable trial counts (integer histograms and counters).
#[derive(Debug, Clone, PartialEq)]
pub struct Accumulator {
    shape: Shape,
    pub n: u64,
    failed: u64,
    /// [reg][time][bin]
    conc_hist: Vec<u32>,
    /// [reg][time][in_target, above th...]
    counts: Vec<u64>,
    /// [reg][time] largest value seen
    max: Vec<f64>,
    peak_hist: Vec<u32>,
    peak_counts: Vec<u64>,
    peak_max: Vec<f64>,
    ttt_hist: Vec<u32>,
    ttt_reached: Vec<u64>,
}

impl Accumulator {
    fn new(s: Shape) -> Self {
        Accumulator {
            shape: s,
            n: 0,
            failed: 0,
            conc_hist: vec![0; s.n_reg * s.n_t * CONC_BINS],
            counts: vec![0; s.n_reg * s.n_t * (1 + s.n_th)],
            max: vec![f64::MIN; s.n_reg * s.n_t],
            peak_hist: vec![0; s.n_reg * CONC_BINS],
            peak_counts: vec![0; s.n_reg * s.n_th],
            peak_max: vec![f64::MIN; s.n_reg],
            ttt_hist: vec![0; s.n_reg * TTT_BINS],
            ttt_reached: vec![0; s.n_reg],
        }
    }

    fn hist(&self, r: usize, j: usize) -> &[u32] {
        &self.conc_hist[(r * self.shape.n_t + j) * CONC_BINS..][..CONC_BINS]
    }

    /// Bin of a concentration: truncation is the floor for c ≥ 0, and the saturating cast
    /// sends negative values and NaN to bin 0 (no libm `floor`).
    #[inline]
    fn bin(c: f64) -> usize {
        ((c * (1.0 / CONC_BIN_MMOL_L)) as usize).min(CONC_BINS - 1)
    }

    /// [`Self::bin`] in a form that vectorises: clamp to [0, last bin] (NaN stays NaN), then
    /// truncate (NaN → 0); the same bin for every input.
    #[inline]
    fn bin_clamped(c: f64) -> u32 {
        // `max` sends NaN to 0, so the value is in [0, last bin] and the conversion is exact
        let x = (c * (1.0 / CONC_BIN_MMOL_L))
            .max(0.0)
            .min((CONC_BINS - 1) as f64);
        // SAFETY: x is finite and in [0, CONC_BINS − 1], which fits an i32
        (unsafe { x.to_int_unchecked::<i32>() }) as u32
    }

    /// Add the levels of a batch of subjects at every output time of regimen `r`.
    fn add_rows(&mut self, r: usize, b: &Batch, lo: f64, hi: f64, th: &[f64]) {
        #[cfg(target_arch = "x86_64")]
        {
            if std::arch::is_x86_feature_detected!("avx2") {
                // SAFETY: the CPU has AVX2 (checked just above)
                unsafe { self.add_rows_avx2(r, b, lo, hi, th) };
                return;
            }
        }
        self.add_rows_with::<wide::f64x4>(r, b, lo, hi, th);
    }

    /// [`Self::add_rows`] in AVX registers (integer counts and exact maxima: the same result
    /// as the baseline build).
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    unsafe fn add_rows_avx2(&mut self, r: usize, b: &Batch, lo: f64, hi: f64, th: &[f64]) {
        self.add_rows_with::<crate::simd::Avx>(r, b, lo, hi, th)
    }

    #[inline(always)]
    fn add_rows_with<V: V4>(&mut self, r: usize, b: &Batch, lo: f64, hi: f64, th: &[f64]) {
        for j in 0..self.shape.n_t {
            self.add_row::<V>(r, j, b.output(j), lo, hi, th);
        }
    }

    /// Add the levels `vals` (at most [`crate::grid::BATCH`]) of a batch of subjects at output
    /// time `j` of regimen `r`.
    #[inline(always)]
    fn add_row<V: V4>(&mut self, r: usize, j: usize, vals: &[f64], lo: f64, hi: f64, th: &[f64]) {
        let s = self.shape;
        let n_th = s.n_th;
        let row = r * s.n_t + j;
        let hist = &mut self.conc_hist[row * CONC_BINS..][..CONC_BINS];
        let cnt = &mut self.counts[row * (1 + n_th)..][..1 + n_th];
        let mut bins = [0i32; crate::grid::BATCH];
        let (scale, top) = (
            V::splat(1.0 / CONC_BIN_MMOL_L),
            V::splat((CONC_BINS - 1) as f64),
        );
        let zero = V::splat(0.0);
        let (lo_v, hi_v) = (V::splat(lo), V::splat(hi));
        let mut mx = V::splat(self.max[row]);
        let mut inside = 0u32;
        let mut above = [0u32; 8];
        let chunks = vals.chunks_exact(4);
        let rest = chunks.remainder();
        // 4 subjects at a time: bins (clamped to [0, last bin], NaN to 0: `bin_clamped`), the
        // target and threshold counts and the maximum in packed SIMD
        for (q, ch) in chunks.enumerate() {
            let c = V::load(ch);
            let x = c.mul(scale);
            let x = x.gt(zero).select(x, zero);
            let x = x.lt(top).select(x, top);
            bins[4 * q..4 * q + 4].copy_from_slice(&x.trunc_i32());
            inside += c.ge(lo_v).and(c.le(hi_v)).bits().count_ones();
            for (k, &t) in th.iter().enumerate().take(8) {
                above[k] += c.gt(V::splat(t)).bits().count_ones();
            }
            mx = c.gt(mx).select(c, mx);
        }
        let nv = vals.len() - rest.len();
        for (x, &c) in bins[nv..vals.len()].iter_mut().zip(rest) {
            *x = Self::bin_clamped(c) as i32;
        }
        // then the (scattered) histogram increments
        for &x in &bins[..vals.len()] {
            hist[x as usize] += 1;
        }
        let mut m = self.max[row];
        for x in mx.to_array().into_iter().chain(rest.iter().copied()) {
            if x > m {
                m = x;
            }
        }
        self.max[row] = m;
        cnt[0] += inside as u64 + rest.iter().filter(|&&c| (c >= lo) & (c <= hi)).count() as u64;
        for (k, &t) in th.iter().enumerate() {
            let a = if k < 8 {
                above[k] as u64
            } else {
                vals[..nv].iter().filter(|&&c| c > t).count() as u64
            };
            cnt[1 + k] += a + rest.iter().filter(|&&c| c > t).count() as u64;
        }
    }

    /// Add the peaks and times to target of a batch of subjects for regimen `r`.
    fn add_summaries(&mut self, r: usize, b: &Batch, th: &[f64]) {
        let s = self.shape;
        let n_th = s.n_th;
        let w = (s.t_end / TTT_BINS as f64).max(1e-9);
        for i in 0..b.len() {
            let sm = b.summary(i);
            let peak = sm.peak_mmol_l;
            self.peak_hist[r * CONC_BINS + Self::bin(peak)] += 1;
            for (k, &t) in th.iter().enumerate() {
                self.peak_counts[r * n_th + k] += (peak > t) as u64;
            }
            if peak > self.peak_max[r] {
                self.peak_max[r] = peak;
            }
            if let Some(t) = sm.time_to_target_h {
                let bi = ((t / w) as usize).min(TTT_BINS - 1);
                self.ttt_hist[r * TTT_BINS + bi] += 1;
                self.ttt_reached[r] += 1;
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    #[inline]
    fn add(
        &mut self,
        r: usize,
        conc: &[f64],
        lo: f64,
        hi: f64,
        th: &[f64],
        peak: f64,
        ttt: Option<f64>,
    ) {
        let s = self.shape;
        let n_th = s.n_th;
        for (j, &c) in conc.iter().enumerate() {
            let row = r * s.n_t + j;
            self.conc_hist[row * CONC_BINS + Self::bin(c)] += 1;
            let cnt = &mut self.counts[row * (1 + n_th)..][..1 + n_th];
            cnt[0] += (c >= lo && c <= hi) as u64;
            for (k, &t) in th.iter().enumerate() {
                cnt[1 + k] += (c > t) as u64;
            }
            if c > self.max[row] {
                self.max[row] = c;
            }
        }
        self.peak_hist[r * CONC_BINS + Self::bin(peak)] += 1;
        for (k, &t) in th.iter().enumerate() {
            self.peak_counts[r * n_th + k] += (peak > t) as u64;
        }
        if peak > self.peak_max[r] {
            self.peak_max[r] = peak;
        }
        if let Some(t) = ttt {
            let w = (s.t_end / TTT_BINS as f64).max(1e-9);
            let b = ((t / w) as usize).min(TTT_BINS - 1);
            self.ttt_hist[r * TTT_BINS + b] += 1;
            self.ttt_reached[r] += 1;
        }
    }

    /// A compact little-endian encoding (exact: integers and the f64 maxima's bits).
    pub fn to_bytes(&self) -> Vec<u8> {
        let s = self.shape;
        let mut out = Vec::with_capacity(64 + 4 * self.conc_hist.len());
        out.extend_from_slice(ACC_MAGIC);
        for v in [
            s.n_reg as u64,
            s.n_t as u64,
            s.n_th as u64,
            s.t_end.to_bits(),
            self.n,
            self.failed,
        ] {
            out.extend_from_slice(&v.to_le_bytes());
        }
        for v in [&self.conc_hist, &self.peak_hist, &self.ttt_hist] {
            out.extend_from_slice(&(v.len() as u64).to_le_bytes());
            v.iter()
                .for_each(|x| out.extend_from_slice(&x.to_le_bytes()));
        }
        for v in [&self.counts, &self.peak_counts, &self.ttt_reached] {
            out.extend_from_slice(&(v.len() as u64).to_le_bytes());
            v.iter()
                .for_each(|x| out.extend_from_slice(&x.to_le_bytes()));
        }
        for v in [&self.max, &self.peak_max] {
            out.extend_from_slice(&(v.len() as u64).to_le_bytes());
            v.iter()
                .for_each(|x| out.extend_from_slice(&x.to_bits().to_le_bytes()));
        }
        out
    }

    fn from_bytes(b: &[u8], expect: Shape) -> Result<Accumulator, MgivError> {
        let bad = |m: &str| {
            crate::tdm_invalid(
                "trial shard",
                format!("{} bytes", b.len()),
                format!("an accumulator written by Accumulator::to_bytes for this trial ({m})"),
            )
        };
        let mut pos = 0usize;
        let mut take = |n: usize| -> Result<&[u8], MgivError> {
            let s = b.get(pos..pos + n).ok_or_else(|| bad("truncated"))?;
            pos += n;
            Ok(s)
        };
        if take(ACC_MAGIC.len())? != ACC_MAGIC {
            return Err(bad("wrong header"));
        }
        let mut u = || -> Result<u64, MgivError> {
            Ok(u64::from_le_bytes(
                take(8)?.try_into().map_err(|_| bad("truncated"))?,
            ))
        };
        let (n_reg, n_t, n_th, t_end_bits, n, failed) = (u()?, u()?, u()?, u()?, u()?, u()?);
        if (n_reg as usize, n_t as usize, n_th as usize, t_end_bits)
            != (
                expect.n_reg,
                expect.n_t,
                expect.n_th,
                expect.t_end.to_bits(),
            )
        {
            return Err(bad("a different trial shape"));
        }
        let mut acc = Accumulator::new(expect);
        acc.n = n;
        acc.failed = failed;
        for v in [&mut acc.conc_hist, &mut acc.peak_hist, &mut acc.ttt_hist] {
            let len = u64::from_le_bytes(take(8)?.try_into().map_err(|_| bad("truncated"))?);
            if len as usize != v.len() {
                return Err(bad("a different histogram size"));
            }
            for x in v.iter_mut() {
                *x = u32::from_le_bytes(take(4)?.try_into().map_err(|_| bad("truncated"))?);
            }
        }
        for v in [&mut acc.counts, &mut acc.peak_counts, &mut acc.ttt_reached] {
            let len = u64::from_le_bytes(take(8)?.try_into().map_err(|_| bad("truncated"))?);
            if len as usize != v.len() {
                return Err(bad("a different counter size"));
            }
            for x in v.iter_mut() {
                *x = u64::from_le_bytes(take(8)?.try_into().map_err(|_| bad("truncated"))?);
            }
        }
        for v in [&mut acc.max, &mut acc.peak_max] {
            let len = u64::from_le_bytes(take(8)?.try_into().map_err(|_| bad("truncated"))?);
            if len as usize != v.len() {
                return Err(bad("a different maxima size"));
            }
            for x in v.iter_mut() {
                *x = f64::from_bits(u64::from_le_bytes(
                    take(8)?.try_into().map_err(|_| bad("truncated"))?,
                ));
            }
        }
        if pos != b.len() {
            return Err(bad("trailing bytes"));
        }
        Ok(acc)
    }

    /// Add another accumulator's counts (commutative and associative: integers and maxima).
    pub fn merge(mut self, o: Accumulator) -> Accumulator {
        self.n += o.n;
        self.failed += o.failed;
        add_u32(&mut self.conc_hist, &o.conc_hist);
        add_u64(&mut self.counts, &o.counts);
        max_f64(&mut self.max, &o.max);
        add_u32(&mut self.peak_hist, &o.peak_hist);
        add_u64(&mut self.peak_counts, &o.peak_counts);
        max_f64(&mut self.peak_max, &o.peak_max);
        add_u32(&mut self.ttt_hist, &o.ttt_hist);
        add_u64(&mut self.ttt_reached, &o.ttt_reached);
        self
    }
}

fn add_u32(a: &mut [u32], b: &[u32]) {
    a.iter_mut().zip(b).for_each(|(x, y)| *x += y);
}
fn add_u64(a: &mut [u64], b: &[u64]) {
    a.iter_mut().zip(b).for_each(|(x, y)| *x += y);
}
fn max_f64(a: &mut [f64], b: &[f64]) {
    a.iter_mut().zip(b).for_each(|(x, y)| *x = x.max(*y));
}

/// Quantile p (type 7: rank p·(n−1)) from a histogram of width-`w` bins starting at 0, with the
/// values of a bin spread evenly inside it. The last bin is open (overflow): a quantile there is
/// `overflow_value`.
pub fn hist_quantile(h: &[u32], n: u64, p: f64, w: f64, overflow_value: f64) -> f64 {
    if n == 0 {
        return f64::NAN;
    }
    let rank = p * (n - 1) as f64; // 0-based
    let mut cum = 0u64;
    for (b, &k) in h.iter().enumerate() {
        if k == 0 {
            continue;
        }
        let k = k as u64;
        if (cum + k) as f64 > rank {
            if b == h.len() - 1 {
                return overflow_value;
            }
            let within = (rank - cum as f64 + 0.5) / k as f64;
            return (b as f64 + within) * w;
        }
        cum += k;
    }
    overflow_value
}

/// Summary at one output time.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PointSummary {
    pub time_h: f64,
    pub p05_mmol_l: f64,
    pub p25_mmol_l: f64,
    pub p50_mmol_l: f64,
    pub p75_mmol_l: f64,
    pub p95_mmol_l: f64,
    /// P(lo ≤ C ≤ hi)
    pub p_in_target: f64,
    /// P(C > threshold), in the order of [`TrialResult::thresholds_mmol_l`]
    pub p_above: Vec<f64>,
}

/// One regimen's results.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RegimenResult {
    pub label: String,
    pub canonical: String,
    pub points: Vec<PointSummary>,
    /// P(peak > threshold) over [0, last output time], per threshold
    pub p_cmax_above: Vec<f64>,
    pub peak_percentiles_mmol_l: [f64; 5],
    /// fraction of subjects whose level reaches the target's lower bound by the last output time
    pub p_reach_target: f64,
    /// 5/25/50/75/95th percentiles of the time to reach the target, among those who reach it (h)
    pub time_to_target_percentiles_h: [Option<f64>; 5],
}

/// A trial's full summary.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TrialResult {
    pub model_id: String,
    pub model_name: String,
    pub model_citation: String,
    pub variability_source: String,
    pub population_id: String,
    pub population_name: String,
    pub n_subjects: u64,
    pub seed: u64,
    pub target_mmol_l: (f64, f64),
    pub thresholds_mmol_l: Vec<f64>,
    pub times_h: Vec<f64>,
    pub regimens: Vec<RegimenResult>,
    pub warnings: Vec<Warning>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::grid::BATCH;
    use mgiv_core::regimen::Regimen;

    #[test]
    fn default_thresholds_are_the_published_levels() {
        // USPI DTR decrease 2.0, reported loss of DTRs 3.5, USPI areflexia 5.0 mmol/L
        assert_eq!(default_thresholds_mmol_l().unwrap(), vec![2.0, 3.5, 5.0]);
    }

    #[test]
    fn baseline_and_avx_accumulation_are_identical() {
        // the dispatching `add_rows` (AVX where the CPU has AVX2) against the baseline lanes,
        // on a batch of 203 levels (a partial SIMD chunk) with values outside [0, 12) mmol/L
        let shape = Shape {
            n_reg: 1,
            n_t: 3,
            n_th: 3,
            t_end: 2.0,
        };
        let r = Regimen::from_text("4 g over 20 min, then 1 g/h for 24 h", None).unwrap();
        let grid = FixedGrid::new(&Plan::new(&r.events), &[0.0, 1.0, 2.0]).unwrap();
        let mut b = Batch::new();
        for i in 0..203 {
            let f = 1.0 + 0.9 * ((i as f64) * 0.77).sin();
            let m = Modes::from_params(&mgiv_core::model::IndividualParams {
                cl_l_h: 3.7 * f,
                v1_l: 15.0 * f * f,
                peripheral: Some(mgiv_core::model::Peripheral {
                    q_l_h: 3.0,
                    v2_l: 17.0,
                }),
                ka_h: None,
                f_im: None,
                baseline_mmol_l: 0.7,
            })
            .unwrap();
            b.push(&m);
        }
        b.run(&grid, 2.0);
        b.out[3] = -1.0;
        b.out[BATCH + 5] = 12.5;
        b.out[2 * BATCH + 202] = 13.0;
        let mut x = Accumulator::new(shape);
        let mut y = Accumulator::new(shape);
        let th = [2.0, 3.5, 5.0];
        for _ in 0..2 {
            x.add_rows(0, &b, 1.25, 2.5, &th);
            y.add_rows_with::<wide::f64x4>(0, &b, 1.25, 2.5, &th);
        }
        assert_eq!(x, y);
        assert_eq!(x.conc_hist.iter().sum::<u32>(), 2 * 3 * 203);
        assert_eq!(x.max[2], 13.0);
    }

    #[test]
    fn fixed_grid_and_event_driven_paths_give_the_same_counts() {
        let regimens: Vec<TrialRegimen> = [
            "4 g over 20 min, then 1 g/h for 24 h",
            "6 g over 20 min, then 2 g/h for 24 h",
            "2 g, then 8 g over 4 h, then 0.5 g/h for 6 h, then 3 g/h for 2 h",
        ]
        .iter()
        .map(|t| TrialRegimen {
            label: t.to_string(),
            text: t.to_string(),
        })
        .collect();
        let t = Trial::new(
            &mgiv_core::model::builtin_model("du-2019").unwrap(),
            &crate::population::builtin_population("pre-eclampsia").unwrap(),
            &regimens,
            TrialConfig {
                n_subjects: 3000,
                seed: 9,
                times_h: (0..=36).map(|h| 0.75 * h as f64).collect(),
                target_mmol_l: (2.0, 3.5),
                thresholds_mmol_l: default_thresholds_mmol_l().unwrap(),
            },
        )
        .unwrap();
        assert!(t.uses_fixed_grid());
        let mut grid = Accumulator::new(t.shape());
        t.simulate_block_grid(0, 3000, &mut grid);
        let mut ev = Accumulator::new(t.shape());
        t.simulate_block_with(0, 3000, &mut ev, |_, _, _, _| {});
        // outputs agree to 1e-13 relative, so a value may (very rarely) sit on the other side
        // of a bin edge or threshold: the counts agree to a few subjects in 3000 × 37 × 3
        assert_eq!(grid.n, ev.n);
        let diff = |a: &[u32], b: &[u32]| {
            a.iter()
                .zip(b)
                .map(|(x, y)| (*x as i64 - *y as i64).unsigned_abs())
                .sum::<u64>()
        };
        assert!(diff(&grid.conc_hist, &ev.conc_hist) <= 4);
        assert!(diff(&grid.peak_hist, &ev.peak_hist) <= 2);
        assert!(diff(&grid.ttt_hist, &ev.ttt_hist) <= 2);
        assert_eq!(grid.ttt_reached, ev.ttt_reached);
        for (a, b) in grid.max.iter().zip(&ev.max) {
            assert!((a - b).abs() <= 1e-13 * a, "{a} vs {b}");
        }
        for (a, b) in grid.peak_max.iter().zip(&ev.peak_max) {
            assert!((a - b).abs() <= 1e-12 * a, "{a} vs {b}");
        }
        assert!(grid.ttt_reached.iter().all(|&r| r > 1000));
    }

    #[test]
    fn per_subject_rows_reproduce_the_summary_counts_exactly() {
        let regimens: Vec<TrialRegimen> = ["zuspan-like", "6+2"]
            .iter()
            .zip([
                "4 g over 20 min, then 1 g/h for 24 h",
                "6 g over 20 min, then 2 g/h for 24 h",
            ])
            .map(|(l, t)| TrialRegimen {
                label: l.to_string(),
                text: t.to_string(),
            })
            .collect();
        let t = Trial::new(
            &mgiv_core::model::builtin_model("du-2019").unwrap(),
            &crate::population::builtin_population("pre-eclampsia").unwrap(),
            &regimens,
            TrialConfig {
                n_subjects: 700,
                seed: 4,
                times_h: (0..=30).map(f64::from).collect(),
                target_mmol_l: (2.0, 3.5),
                thresholds_mmol_l: default_thresholds_mmol_l().unwrap(),
            },
        )
        .unwrap();
        assert!(t.uses_fixed_grid());
        let res = t.run(None).unwrap();
        let rows = t.per_subject(0, 700).unwrap();
        assert_eq!(rows.subject.len(), 1400);
        // subject order, then regimen
        assert_eq!((rows.subject[0], rows.regimen[0]), (0, 0));
        assert_eq!((rows.subject[1], rows.regimen[1]), (0, 1));
        assert_eq!((rows.subject[1399], rows.regimen[1399]), (699, 1));
        for (r, reg) in res.regimens.iter().enumerate() {
            let mine = |f: &dyn Fn(usize) -> bool| {
                (0..rows.subject.len())
                    .filter(|&k| rows.regimen[k] as usize == r && f(k))
                    .count() as f64
                    / 700.0
            };
            for (i, &th) in default_thresholds_mmol_l().unwrap().iter().enumerate() {
                assert_eq!(mine(&|k| rows.cmax_mmol_l[k] > th), reg.p_cmax_above[i]);
            }
            assert_eq!(
                mine(&|k| !rows.time_to_target_h[k].is_nan()),
                reg.p_reach_target
            );
            assert!(reg.p_cmax_above[0] > 0.0);
        }
    }

    #[test]
    fn both_bin_forms_agree() {
        for c in [
            -1.0,
            -0.0,
            0.0,
            0.0004,
            0.001,
            0.0019999,
            0.75,
            0.7505,
            1.9999999,
            2.0,
            11.9989,
            11.999,
            11.9999,
            12.0,
            13.5,
            1e300,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::NAN,
        ] {
            assert_eq!(
                Accumulator::bin(c),
                Accumulator::bin_clamped(c) as usize,
                "{c}"
            );
        }
        assert_eq!(Accumulator::bin(0.7505), 750);
        assert_eq!(Accumulator::bin(12.5), CONC_BINS - 1);
    }

    #[test]
    fn histogram_quantiles_are_within_one_bin_of_exact() {
        let mut vals: Vec<f64> = (0..20_001u64)
            .map(|i| {
                let mut r = SubjectRng::new(11, i, Stream::Other);
                (0.75 + 0.9 * (0.3 * r.normal()).exp()).max(0.0)
            })
            .collect();
        let mut h = vec![0u32; CONC_BINS];
        for &v in &vals {
            h[Accumulator::bin(v)] += 1;
        }
        vals.sort_by(f64::total_cmp);
        for p in [0.0, 0.05, 0.25, 0.5, 0.75, 0.95, 1.0] {
            let rank = p * (vals.len() - 1) as f64;
            let (i, f) = (rank.floor() as usize, rank.fract());
            let exact = vals[i] + f * (vals[(i + 1).min(vals.len() - 1)] - vals[i]);
            let approx = hist_quantile(&h, vals.len() as u64, p, CONC_BIN_MMOL_L, f64::NAN);
            assert!(
                (approx - exact).abs() <= CONC_BIN_MMOL_L,
                "p {p}: {approx} vs {exact}"
            );
        }
    }
}
