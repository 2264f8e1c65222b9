//! Reference scenario: the Wang (2002) decision network exactly as in Brian2's
//! `examples/frompapers/Wang_2002.py` (Klaus Wimmer & Marcel Stimberg; read at
//! brian-team/brian2 commit de0ee35f), with \[Mg\]o an input instead of the constant `C = 1 mmole`.
//!
//! 1600 E + 400 I conductance-based LIF neurons; all-to-all AMPA (E→E, E→I) and GABA-A (I→E, I→I)
//! with 0.5 ms delay; NMDA with saturating gating `ds/dt = −s/τ_decay + α·x·(1 − s)`,
//! `dx/dt = −x/τ_rise` per presynaptic E neuron, summed per selective population and broadcast to
//! every neuron with the block-structured weights Jp/Jm (the example's "aggregated" scheme, exact for
//! these weights); Jahr–Stevens Mg block evaluated in every neuron at its own V; background
//! `PoissonInput` (1000 sources × 2.4 Hz, binomial count per step); two stimulus `PoissonGroup`s of
//! 240 neurons whose rates are redrawn every 50 ms between 1 and 3 s.
//!
//! Integration: forward Euler at dt = 0.1 ms for every state variable (Brian2 `method='euler'`),
//! with Brian2's per-step order — summed variables, state update, threshold, synaptic
//! propagation (+ Poisson input), reset — and Brian2's refractoriness (`V` clamped while
//! `timestep(t − lastspike) < timestep(refractory)`).
//!
//! The network is a [`NetworkSpec`] ([`decision_spec`]) run by the general engine
//! ([`Network`]); this module adds the readouts (rate bins, late-stimulus window, winner) over
//! its spikes. One difference from Brian2's schedule: the summed NMDA conductance of step m uses
//! the gates after step m − 1; Brian2's two summed stages (`NMDA_set_total_*` runs before
//! `NMDA_sum` in the `groups` slot) use those after step m − 2 (0.1 ms more lag on a 100 ms
//! decay; statistics unchanged, docs/NEURO.md §6).
use crate::error::{check_range, NeuroError, Result};
use crate::mg_block::MgBlock;
use crate::mg_drive::MgDrive;
use crate::network::{
    Connectivity, LifParams, Network, NetworkSpec, NeuronModel, NmdaModel, PoissonGroupSpec,
    PoissonInputSpec, PopulationSpec, ProjectionSpec, RateSchedule, Receptor, SynapseKinetics,
};
use crate::rng::{CountSampler, Rng, StreamKind};
use rayon::prelude::*;
use serde::Serialize;
use std::time::Instant;

/// Parameters of the Brian2 example (names as in `Wang_2002.py`; units in the names).
#[derive(Debug, Clone, Serialize)]
pub struct WangParams {
    pub n_e: usize,
    pub n_i: usize,
    /// coding fraction fE (selective population size = fE·NE)
    pub f_e: f64,
    pub e_l_mv: f64,
    pub v_t_mv: f64,
    pub v_r_mv: f64,
    pub cm_e_pf: f64,
    pub cm_i_pf: f64,
    pub g_leak_e_ns: f64,
    pub g_leak_i_ns: f64,
    pub ref_e_ms: f64,
    pub ref_i_ms: f64,
    pub v_e_mv: f64,
    pub v_i_mv: f64,
    pub tau_ampa_ms: f64,
    pub tau_nmda_rise_ms: f64,
    pub tau_nmda_decay_ms: f64,
    pub tau_gaba_ms: f64,
    /// NMDA saturation rate alpha (1/ms)
    pub alpha_per_ms: f64,
    pub g_ext_e_ns: f64,
    pub g_ext_i_ns: f64,
    pub g_eea_ns: f64,
    pub g_eia_ns: f64,
    pub g_een_ns: f64,
    pub g_ein_ns: f64,
    pub g_ie_ns: f64,
    pub g_ii_ns: f64,
    /// relative strength inside a selective population
    pub jp: f64,
    pub n_ext: u64,
    pub rate_ext_hz: f64,
    pub delay_ms: f64,
    pub coherence_pct: f64,
    pub mu0_hz: f64,
    pub mu1_hz: f64,
    pub sigma_hz: f64,
    pub stim_interval_ms: f64,
    pub stim_on_ms: f64,
    pub stim_off_ms: f64,
}

impl Default for WangParams {
    fn default() -> Self {
        let ne = 1600.0;
        let ni = 400.0;
        WangParams {
            n_e: 1600,
            n_i: 400,
            f_e: 0.15,
            e_l_mv: -70.0,
            v_t_mv: -50.0,
            v_r_mv: -55.0,
            cm_e_pf: 500.0,
            cm_i_pf: 200.0,
            g_leak_e_ns: 25.0,
            g_leak_i_ns: 20.0,
            ref_e_ms: 2.0,
            ref_i_ms: 1.0,
            v_e_mv: 0.0,
            v_i_mv: -70.0,
            tau_ampa_ms: 2.0,
            tau_nmda_rise_ms: 2.0,
            tau_nmda_decay_ms: 100.0,
            tau_gaba_ms: 5.0,
            alpha_per_ms: 0.5,
            g_ext_e_ns: 2.1,
            g_ext_i_ns: 1.62,
            g_eea_ns: 0.05 / ne * 1600.0,
            g_eia_ns: 0.04 / ne * 1600.0,
            g_een_ns: 0.165 / ne * 1600.0,
            g_ein_ns: 0.13 / ne * 1600.0,
            g_ie_ns: 1.3 / ni * 400.0,
            g_ii_ns: 1.0 / ni * 400.0,
            jp: 1.7,
            n_ext: 1000,
            rate_ext_hz: 2400.0 / 1000.0,
            delay_ms: 0.5,
            coherence_pct: 12.8,
            mu0_hz: 40.0,
            mu1_hz: 40.0,
            sigma_hz: 4.0,
            stim_interval_ms: 50.0,
            stim_on_ms: 1000.0,
            stim_off_ms: 3000.0,
        }
    }
}

/// Run configuration.
#[derive(Debug, Clone)]
pub struct DecisionConfig {
    pub params: WangParams,
    pub block: MgBlock,
    /// Extracellular \[Mg\]; a time course is read at `t_offset_h + t`.
    pub mg: MgDrive,
    /// Time (h) on the Mg time course at which the simulation starts.
    pub t_offset_h: f64,
    pub seconds: f64,
    pub dt_ms: f64,
    pub seed: u64,
    /// Worker threads (≥ 1). Results are identical for every value.
    pub threads: usize,
    /// Record every spike of the two selective populations (for a raster).
    pub record_selective_spikes: bool,
    /// Bin width of the population-rate traces (ms).
    pub rate_bin_ms: f64,
    /// AMPA and GABA-A delivered synapse by synapse from a dense weight matrix (3.2 M + 0.8 M
    /// weights, as Brian2 does) instead of as per-population spike counts × weight. Both are the
    /// same model (the all-to-all weights are block-constant); this mode exists to show that the
    /// speed does not rest on that reformulation.
    pub per_synapse: bool,
}

impl DecisionConfig {
    /// The Brian2 reference scenario at a fixed \[Mg\] (mM).
    pub fn reference(mg_mm: f64, seconds: f64, seed: u64) -> Self {
        DecisionConfig {
            params: WangParams::default(),
            block: MgBlock::default(),
            mg: MgDrive::Fixed(mg_mm),
            t_offset_h: 0.0,
            seconds,
            dt_ms: 0.1,
            seed,
            threads: 1,
            record_selective_spikes: false,
            rate_bin_ms: 50.0,
            per_synapse: false,
        }
    }

    fn validate(&self) -> Result<()> {
        check_range("seconds", self.seconds, 1e-3, 3600.0, "0.001..3600 s")?;
        check_range("dt_ms", self.dt_ms, 1e-3, 1.0, "0.001..1 ms")?;
        check_range("rate_bin_ms", self.rate_bin_ms, self.dt_ms, 1e6, ">= dt_ms")?;
        check_range("t_offset_h", self.t_offset_h, -1e6, 1e6, "finite hours")?;
        if self.threads == 0 || self.threads > 1024 {
            return Err(NeuroError::InvalidParameter {
                field: "threads",
                value: self.threads.to_string(),
                allowed: "1..1024",
            });
        }
        match &self.mg {
            MgDrive::Fixed(m) => {
                MgBlock::check_mg(*m)?;
            }
            MgDrive::TimeCourse(_) => {}
        }
        let p = &self.params;
        if p.n_e < 3 || p.n_i < 1 || p.n_e > 10_000_000 || p.n_i > 10_000_000 {
            return Err(NeuroError::InvalidParameter {
                field: "n_e/n_i",
                value: format!("{}/{}", p.n_e, p.n_i),
                allowed: "n_e >= 3, n_i >= 1",
            });
        }
        check_range("f_e", p.f_e, 1e-6, 0.5, "0 < fE <= 0.5")?;
        let d = (p.delay_ms / self.dt_ms).round();
        if !(1.0..=1000.0).contains(&d) {
            return Err(NeuroError::InvalidParameter {
                field: "delay_ms",
                value: format!("{}", p.delay_ms),
                allowed: "at least one time step and at most 1000 steps",
            });
        }
        Ok(())
    }
}

/// Outcome of one decision-network run.
#[derive(Debug, Clone, Serialize)]
pub struct DecisionResult {
    pub mg_mm_start: f64,
    pub mg_mm_end: f64,
    pub seconds: f64,
    pub seed: u64,
    pub threads: usize,
    pub rate_e_hz: f64,
    pub rate_i_hz: f64,
    /// Spikes of selective populations 1 and 2 over the whole run.
    pub pop_spikes: [u64; 2],
    /// Spikes of the non-selective E population.
    pub nonselective_spikes: u64,
    pub inh_spikes: u64,
    /// Mean rate (Hz) of populations 1 and 2 in the last 500 ms of the stimulus.
    pub late_stim_rate_hz: [f64; 2],
    /// Index (0 or 1) of the winning selective population, if one won (see [`winner_rule`]).
    pub winner: Option<usize>,
    /// Population-rate traces (Hz) per bin: pop 1, pop 2, non-selective E, I.
    pub rate_bin_ms: f64,
    pub rates_hz: [Vec<f64>; 4],
    /// (time ms, neuron index within E) of every spike of pops 1 and 2, if recorded.
    pub selective_spikes: Vec<(f64, u32)>,
    pub wall_s: f64,
}

/// Description of the winner criterion used in [`DecisionResult::winner`].
pub fn winner_rule() -> &'static str {
    "winner = selective population whose mean rate over the last 500 ms of the stimulus is >= 10 Hz and >= 2x the other's; null otherwise (or when the run does not cover that window)"
}

/// A block of neurons of one group, stored as structure-of-arrays so the update vectorises.
struct Block {
    group: usize,
    first: usize,
    v: Vec<f64>,
    s_ampa: Vec<f64>,
    s_gaba: Vec<f64>,
    s_ext: Vec<f64>,
    x: Vec<f64>,
    s_nmda: Vec<f64>,
    last_spike: Vec<i64>,
    spiked: Vec<bool>,
    /// scratch: Mg-block factor of this step, per neuron
    mg_b: Vec<f64>,
    /// scratch of the two-pass Mg block (3 values per neuron)
    exp_scratch: Vec<f64>,
    /// set by the vector pass: some neuron spiked or drew 4+ background events this step
    any_event: bool,
    /// some stimulus rate of this block is positive (stimulus spikes must be drawn)
    stim_on: bool,
    bg_s: [Vec<u64>; 4],
    bg_bits: Vec<u64>,
    rng_stim: Vec<Rng>,
    stim_rate_hz: Vec<f64>,
    // per-step outputs
    spikes: Vec<u32>,
    count: u32,
    s_nmda_sum: f64,
}

/// Per-step values shared by all neurons of one group (E1, E2, E3, I).
#[derive(Clone, Copy, Default)]
struct GroupStep {
    inv_c: f64,
    g_l: f64,
    g_nmda: f64,
    d_ampa: f64,
    d_gaba: f64,
    ref_steps: i64,
    g_ext: f64,
    x_inc: f64,
}

/// Largest block (neurons); blocks never straddle two groups.
const BLOCK: usize = 256;

/// Most biological seconds one decision run may simulate through the front ends (a 2000-neuron
/// network runs at roughly real time per thread; longer runs belong in a batch job).
pub const MAX_DECISION_SECONDS: f64 = 600.0;
/// Most worker threads the front ends accept.
pub const MAX_DECISION_THREADS: usize = 256;

/// Simulate the decision network (the [`decision_spec`] run by the general engine).
pub fn run_decision(cfg: &DecisionConfig) -> Result<DecisionResult> {
    run_decision_with_progress(cfg, &mut |_| {})
}

/// The decision network as a [`NetworkSpec`] for the general engine: populations E1, E2 (the
/// selective ones, fE·NE each), E3 (the rest of E) and I, in that order (global indices as in
/// [`DecisionResult::selective_spikes`]); AMPA, saturating NMDA and GABA-A projections between
/// every pair as [`Connectivity::Aggregate`] (all-to-all with autapses, one weight each: Jp
/// inside a selective population, Jm from the other E populations onto a selective one, 1
/// onto E3 and I), all with `delay_ms`; background Poisson input onto every population; the two
/// stimuli as Poisson groups onto E1 and E2 with rates μ0 ± coherence·μ1 and sd σ redrawn every
/// `stim_interval_ms` for `stim_on_ms < t < stim_off_ms`; V starts at V_t − 2 mV. With
/// `cfg.per_synapse` the AMPA and GABA-A projections are stored synapse by synapse
/// (`AllToAll { autapses: true }`) instead.
pub fn decision_spec(cfg: &DecisionConfig) -> Result<NetworkSpec> {
    cfg.validate()?;
    let p = &cfg.params;
    let [s, _, n_e3, _] = population_sizes(p)?;
    let jm = 1.0 - p.f_e * (p.jp - 1.0) / (1.0 - p.f_e);
    // W[k][l]: weight factor from E population k onto E population l (Brian2's table)
    let w = |k: usize, l: usize| {
        if l == 2 {
            1.0
        } else if k == l {
            p.jp
        } else {
            jm
        }
    };
    let lif = |c_m_pf, g_l_ns, t_ref_ms| {
        NeuronModel::Lif(LifParams {
            c_m_pf,
            g_l_ns,
            e_l_mv: p.e_l_mv,
            v_th_mv: p.v_t_mv,
            v_reset_mv: p.v_r_mv,
            t_ref_ms,
        })
    };
    let v0 = (p.v_t_mv - 2.0, p.v_t_mv - 2.0);
    let pop = |name: &str, n, model| PopulationSpec {
        name: name.into(),
        n,
        model,
        v_init_mv: v0,
    };
    let e = lif(p.cm_e_pf, p.g_leak_e_ns, p.ref_e_ms);
    let populations = vec![
        pop("E1", s, e),
        pop("E2", s, e),
        pop("E3", n_e3, e),
        pop("I", p.n_i, lif(p.cm_i_pf, p.g_leak_i_ns, p.ref_i_ms)),
    ];
    let fast = if cfg.per_synapse {
        Connectivity::AllToAll { autapses: true }
    } else {
        Connectivity::Aggregate
    };
    let proj = |pre, post, receptor, weight_ns, connectivity| ProjectionSpec {
        pre,
        post,
        receptor,
        connectivity,
        weight_ns,
        delay_ms: (p.delay_ms, p.delay_ms),
    };
    let mut projections = Vec::with_capacity(28);
    for l in 0..4 {
        for k in 0..3 {
            let (ampa, nmda) = if l < 3 {
                (p.g_eea_ns * w(k, l), p.g_een_ns * w(k, l))
            } else {
                (p.g_eia_ns, p.g_ein_ns)
            };
            projections.push(proj(k, l, Receptor::Ampa, ampa, fast));
            projections.push(proj(k, l, Receptor::Nmda, nmda, Connectivity::Aggregate));
        }
        let gaba = if l < 3 { p.g_ie_ns } else { p.g_ii_ns };
        projections.push(proj(3, l, Receptor::GabaA, gaba, fast));
    }
    let poisson = (0..4)
        .map(|l| PoissonInputSpec {
            target: l,
            receptor: Receptor::Ampa,
            n_sources: p.n_ext,
            rate_hz: p.rate_ext_hz,
            weight_ns: if l < 3 { p.g_ext_e_ns } else { p.g_ext_i_ns },
        })
        .collect();
    let c = p.coherence_pct / 100.0;
    let poisson_groups = [p.mu0_hz + c * p.mu1_hz, p.mu0_hz - c * p.mu1_hz]
        .iter()
        .enumerate()
        .map(|(l, &mean_hz)| PoissonGroupSpec {
            target: l,
            receptor: Receptor::Ampa,
            weight_ns: p.g_ext_e_ns,
            rate: RateSchedule {
                mean_hz,
                sd_hz: p.sigma_hz,
                redraw_every_ms: p.stim_interval_ms,
                on_ms: p.stim_on_ms,
                off_ms: p.stim_off_ms,
            },
        })
        .collect();
    Ok(NetworkSpec {
        dt_ms: cfg.dt_ms,
        populations,
        projections,
        poisson,
        poisson_groups,
        spike_trains: Vec::new(),
        synapses: SynapseKinetics {
            e_exc_mv: p.v_e_mv,
            e_inh_mv: p.v_i_mv,
            tau_ampa_ms: p.tau_ampa_ms,
            tau_gaba_ms: p.tau_gaba_ms,
            tau_nmda_rise_ms: p.tau_nmda_rise_ms,
            tau_nmda_decay_ms: p.tau_nmda_decay_ms,
            alpha_nmda_per_ms: p.alpha_per_ms,
            nmda: NmdaModel::Saturating,
            block: cfg.block,
        },
    })
}

/// Sizes of E1, E2, E3 and I.
fn population_sizes(p: &WangParams) -> Result<[usize; 4]> {
    let sub_n = (p.f_e * p.n_e as f64) as usize;
    if 2 * sub_n >= p.n_e || sub_n == 0 {
        return Err(NeuroError::InvalidParameter {
            field: "f_e",
            value: format!("{}", p.f_e),
            allowed: "0 < 2 fE NE < NE",
        });
    }
    Ok([sub_n, sub_n, p.n_e - 2 * sub_n, p.n_i])
}

/// As [`run_decision`], calling `progress(fraction_done)` about every 1 % of the run. The
/// network runs in about 100 pieces; the readouts (rate bins, late window, winner) are computed
/// from the spikes of each piece.
pub fn run_decision_with_progress(
    cfg: &DecisionConfig,
    progress: &mut dyn FnMut(f64),
) -> Result<DecisionResult> {
    let spec = decision_spec(cfg)?;
    let plan = Plan::new(cfg)?;
    let mut net = Network::build(spec, cfg.seed, cfg.threads)?;
    let mut rec = Recorder::new(plan.n_bins);
    let mg_start = cfg.mg.mg_mm_at_h(cfg.t_offset_h);
    let n_steps = plan.n_steps.max(0) as u64;
    let pieces = n_steps.clamp(1, 100);
    let mut wall_s = 0.0;
    let mut done = 0u64;
    progress(0.0);
    for k in 0..pieces {
        let steps = (k + 1) * n_steps / pieces - done;
        let r = net.run_for_steps(steps, &cfg.mg, cfg.t_offset_h, true)?;
        wall_s += r.wall_s;
        rec.record_spikes(&plan, &r.spikes, cfg.record_selective_spikes);
        done += steps;
        progress(done as f64 / n_steps.max(1) as f64);
    }
    Ok(plan.result(cfg, rec, mg_start, wall_s))
}

/// The dedicated engine that ran the decision network before it became a [`NetworkSpec`]; kept
/// only to compare statistics and speed with [`run_decision`] (same model and readouts;
/// different float-addition order, see docs/NEURO.md).
#[doc(hidden)]
pub fn run_decision_dedicated(cfg: &DecisionConfig) -> Result<DecisionResult> {
    cfg.validate()?;
    let plan = Plan::new(cfg)?;
    let mut blocks = plan.build_blocks(cfg);
    let pool = thread_pool(cfg.threads.min(blocks.len()))?;
    let use_avx2 = avx2_available();
    let mut dense = if cfg.per_synapse {
        Some(DenseSynapses::new(&plan, &cfg.params))
    } else {
        None
    };
    let mut rec = Recorder::new(plan.n_bins);
    // ring of per-group spike counts (E1, E2, E3, I) emitted at each step
    let mut count_ring = vec![[0u32; 4]; plan.ring];
    // NMDA summed variables (Brian2 order: totals from the previous sum, then the new sum)
    let mut s_sum = [0.0f64; 3];
    let mg_start = cfg.mg.mg_mm_at_h(cfg.t_offset_h);
    let fixed_mg = matches!(cfg.mg, MgDrive::Fixed(_));
    let mut mg_factor = mg_start * plan.inv_k0;
    let empty: [f64; 0] = [];

    let t0 = Instant::now();
    for m in 0..plan.n_steps {
        if !fixed_mg {
            let t_h = cfg.t_offset_h + m as f64 * plan.dt / 3.6e6;
            mg_factor = MgBlock::check_mg(cfg.mg.mg_mm_at_h(t_h))? * plan.inv_k0;
        }
        // summed variables (slot 'groups', before the state update): the totals use the sums
        // of the previous step
        let gs = plan.group_steps(&s_sum, plan.arrivals(&count_ring, m));
        s_sum = nmda_sums(&blocks);
        let consts = plan.step_consts(m, mg_factor);
        let (arr_a, arr_g): (&[f64], &[f64]) = match &dense {
            Some(d) => d.arrivals(m),
            None => (&empty, &empty),
        };
        let step = |blk: &mut Block| {
            step_block(
                blk,
                &gs[blk.group],
                &consts,
                &plan.bg,
                use_avx2,
                arr_a,
                arr_g,
            )
        };
        match &pool {
            Some(pool) => pool.install(|| blocks.par_iter_mut().for_each(step)),
            None => blocks.iter_mut().for_each(step),
        }
        if let Some(d) = &mut dense {
            d.deliver(m, &blocks);
        }
        let t_ms = m as f64 * plan.dt;
        let counts = rec.record(
            m / plan.bin_steps,
            &blocks,
            cfg.record_selective_spikes,
            t_ms,
        );
        count_ring[(m as usize) % plan.ring] = counts;
    }
    let wall_s = t0.elapsed().as_secs_f64();
    Ok(plan.result(cfg, rec, mg_start, wall_s))
}

/// A rayon pool of `threads` workers, or none for one thread.
fn thread_pool(threads: usize) -> Result<Option<rayon::ThreadPool>> {
    if threads <= 1 {
        return Ok(None);
    }
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .map(Some)
        .map_err(|e| NeuroError::Runtime(e.to_string()))
}

/// Sum of the NMDA gates of each excitatory group (E1, E2, E3), block by block in a fixed order.
fn nmda_sums(blocks: &[Block]) -> [f64; 3] {
    let mut new_sum = [0.0f64; 3];
    for blk in blocks {
        if blk.group < 3 {
            new_sum[blk.group] += blk.s_nmda_sum;
        }
    }
    new_sum
}

/// Step counts and constants derived once from a validated configuration.
struct Plan {
    p: WangParams,
    dt: f64,
    n_e: usize,
    n_i: usize,
    n: usize,
    /// size of each selective population
    sub_n: usize,
    /// weight factor onto a selective population from any other E population (Brian2's `w_minus`)
    jm: f64,
    n_steps: i64,
    delay_steps: i64,
    ring: usize,
    ref_e_steps: i64,
    ref_i_steps: i64,
    stim_every: i64,
    bin_steps: i64,
    n_bins: usize,
    stim_on_steps: i64,
    stim_off_steps: i64,
    stim_mu: [f64; 2],
    bg: CountSampler,
    gamma: f64,
    inv_k0: f64,
    seed: u64,
}

impl Plan {
    fn new(cfg: &DecisionConfig) -> Result<Plan> {
        let p = &cfg.params;
        let dt = cfg.dt_ms;
        let sub_n = (p.f_e * p.n_e as f64) as usize;
        if 2 * sub_n >= p.n_e || sub_n == 0 {
            return Err(NeuroError::InvalidParameter {
                field: "f_e",
                value: format!("{}", p.f_e),
                allowed: "0 < 2 fE NE < NE",
            });
        }
        let n_steps = (cfg.seconds * 1000.0 / dt).round() as i64;
        let delay_steps = (p.delay_ms / dt).round() as i64;
        let bin_steps = (cfg.rate_bin_ms / dt).round().max(1.0) as i64;
        Ok(Plan {
            p: p.clone(),
            dt,
            n_e: p.n_e,
            n_i: p.n_i,
            n: p.n_e + p.n_i,
            sub_n,
            jm: 1.0 - p.f_e * (p.jp - 1.0) / (1.0 - p.f_e),
            n_steps,
            delay_steps,
            ring: (delay_steps + 1) as usize,
            ref_e_steps: (p.ref_e_ms / dt).round() as i64,
            ref_i_steps: (p.ref_i_ms / dt).round() as i64,
            stim_every: (p.stim_interval_ms / dt).round().max(1.0) as i64,
            bin_steps,
            n_bins: ((n_steps + bin_steps - 1) / bin_steps) as usize,
            stim_on_steps: (p.stim_on_ms / dt).round() as i64,
            stim_off_steps: (p.stim_off_ms / dt).round() as i64,
            stim_mu: [
                p.mu0_hz + p.coherence_pct / 100.0 * p.mu1_hz,
                p.mu0_hz - p.coherence_pct / 100.0 * p.mu1_hz,
            ],
            bg: CountSampler::binomial(p.n_ext, p.rate_ext_hz * dt * 1e-3),
            gamma: cfg.block.gamma_per_mv,
            inv_k0: 1.0 / cfg.block.k0_mm,
            seed: cfg.seed,
        })
    }

    /// W\[k\]\[l\]: weight factor from E population k to E population l (Brian2 table).
    fn w(&self, k: usize, l: usize) -> f64 {
        if l == 2 {
            1.0
        } else if k == l {
            self.p.jp
        } else {
            self.jm
        }
    }

    /// Group (E1, E2, E3 = 0, 1, 2) of excitatory neuron `j`.
    fn label(&self, j: usize) -> usize {
        if j < self.sub_n {
            0
        } else if j < 2 * self.sub_n {
            1
        } else {
            2
        }
    }

    /// Neuron ranges of the groups E1, E2, E3, I.
    fn group_ranges(&self) -> [(usize, usize); 4] {
        let (s, n_e) = (self.sub_n, self.n_e);
        [(0, s), (s, 2 * s), (2 * s, n_e), (n_e, self.n)]
    }

    /// Sizes of the groups E1, E2, E3, I.
    fn group_sizes(&self) -> [f64; 4] {
        let s = self.sub_n as f64;
        [s, s, (self.n_e - 2 * self.sub_n) as f64, self.n_i as f64]
    }

    /// The neurons in blocks of at most [`BLOCK`], none straddling two groups.
    fn build_blocks(&self, cfg: &DecisionConfig) -> Vec<Block> {
        let mut blocks = Vec::new();
        for (group, &(lo, hi)) in self.group_ranges().iter().enumerate() {
            let nb = (hi - lo).div_ceil(BLOCK);
            for bi in 0..nb {
                let first = lo + bi * (hi - lo) / nb;
                let last = lo + (bi + 1) * (hi - lo) / nb;
                blocks.push(Block::new(group, first, last, &cfg.params, self.seed));
            }
        }
        blocks
    }

    /// Per-group spike counts arriving at step `m` (emitted `delay_steps` earlier).
    fn arrivals(&self, count_ring: &[[u32; 4]], m: i64) -> [u32; 4] {
        if m >= self.delay_steps {
            count_ring[((m - self.delay_steps) as usize) % self.ring]
        } else {
            [0; 4]
        }
    }

    /// Per-group values of one step from the previous NMDA sums and this step's arrivals.
    fn group_steps(&self, s_sum: &[f64; 3], arr: [u32; 4]) -> [GroupStep; 4] {
        let p = &self.p;
        let w = |k, l| self.w(k, l);
        let tot_e = [
            w(0, 0) * s_sum[0] + w(1, 0) * s_sum[1] + w(2, 0) * s_sum[2],
            w(0, 1) * s_sum[0] + w(1, 1) * s_sum[1] + w(2, 1) * s_sum[2],
            w(0, 2) * s_sum[0] + w(1, 2) * s_sum[1] + w(2, 2) * s_sum[2],
        ];
        let tot_i = s_sum[0] + s_sum[1] + s_sum[2];
        let ne_k = [arr[0] as f64, arr[1] as f64, arr[2] as f64];
        let ni_arr = arr[3] as f64;
        let gext = [p.g_ext_e_ns, p.g_ext_e_ns, p.g_ext_e_ns, p.g_ext_i_ns];
        let mut gs = [GroupStep::default(); 4];
        for (l, g) in gs.iter_mut().enumerate() {
            if l < 3 {
                g.inv_c = 1.0 / p.cm_e_pf;
                g.g_l = p.g_leak_e_ns;
                g.g_nmda = p.g_een_ns * tot_e[l];
                g.d_ampa = p.g_eea_ns * (w(0, l) * ne_k[0] + w(1, l) * ne_k[1] + w(2, l) * ne_k[2]);
                g.d_gaba = p.g_ie_ns * ni_arr;
                g.ref_steps = self.ref_e_steps;
            } else {
                g.inv_c = 1.0 / p.cm_i_pf;
                g.g_l = p.g_leak_i_ns;
                g.g_nmda = p.g_ein_ns * tot_i;
                g.d_ampa = p.g_eia_ns * (ne_k[0] + ne_k[1] + ne_k[2]);
                g.d_gaba = p.g_ii_ns * ni_arr;
                g.ref_steps = self.ref_i_steps;
            }
            g.g_ext = gext[l];
            g.x_inc = if l < 3 { 1.0 } else { 0.0 };
        }
        gs
    }

    /// Constants of step `m` shared by every block.
    fn step_consts(&self, m: i64, mg_factor: f64) -> StepConsts {
        let p = &self.p;
        let dt = self.dt;
        StepConsts {
            m,
            dt,
            delay_steps: self.delay_steps,
            e_l: p.e_l_mv,
            v_t: p.v_t_mv,
            v_r: p.v_r_mv,
            v_e: p.v_e_mv,
            v_i: p.v_i_mv,
            gamma: self.gamma,
            mg_factor,
            a_ampa: dt / p.tau_ampa_ms,
            a_gaba: dt / p.tau_gaba_ms,
            a_rise: dt / p.tau_nmda_rise_ms,
            a_decay: dt / p.tau_nmda_decay_ms,
            dt_alpha: dt * p.alpha_per_ms,
            // run_regularly (slot 'start'): stimulus rates, one draw per stimulus neuron
            redraw: m % self.stim_every == 0,
            stim_active: m > self.stim_on_steps && m < self.stim_off_steps,
            stim_mu: self.stim_mu,
            sigma: p.sigma_hz,
            p_stim_scale: dt * 1e-3,
            g_ext_stim: p.g_ext_e_ns,
            bg_head: self.bg.head(),
        }
    }

    /// Rates, late-stimulus window and winner from the recorded counts.
    fn result(
        &self,
        cfg: &DecisionConfig,
        rec: Recorder,
        mg_start: f64,
        wall_s: f64,
    ) -> DecisionResult {
        let (dt, bin_steps, n_steps) = (self.dt, self.bin_steps, self.n_steps);
        let sizes = self.group_sizes();
        let rates_hz: [Vec<f64>; 4] = std::array::from_fn(|g| {
            rec.rate_counts[g]
                .iter()
                .enumerate()
                .map(|(b, &c)| {
                    let steps = bin_steps.min(n_steps - b as i64 * bin_steps) as f64;
                    c as f64 / sizes[g] / (steps * dt * 1e-3)
                })
                .collect()
        });
        let (late, winner) = self.late_window(&rec.rate_counts);
        let totals = rec.totals;
        let t_s = n_steps as f64 * dt * 1e-3;
        DecisionResult {
            mg_mm_start: mg_start,
            mg_mm_end: cfg.mg.mg_mm_at_h(cfg.t_offset_h + cfg.seconds / 3600.0),
            seconds: t_s,
            seed: cfg.seed,
            threads: cfg.threads,
            rate_e_hz: (totals[0] + totals[1] + totals[2]) as f64 / self.n_e as f64 / t_s,
            rate_i_hz: totals[3] as f64 / self.n_i as f64 / t_s,
            pop_spikes: [totals[0], totals[1]],
            nonselective_spikes: totals[2],
            inh_spikes: totals[3],
            late_stim_rate_hz: late,
            winner,
            rate_bin_ms: bin_steps as f64 * dt,
            rates_hz,
            selective_spikes: rec.selective_spikes,
            wall_s,
        }
    }

    /// Mean rates of pops 1 and 2 over the last 500 ms of the stimulus and the winner
    /// ([`winner_rule`]); zeros and no winner when the run does not cover that window.
    fn late_window(&self, rate_counts: &[Vec<u32>; 4]) -> ([f64; 2], Option<usize>) {
        let (dt, bin_steps) = (self.dt, self.bin_steps);
        let sizes = self.group_sizes();
        let win_end = self.stim_off_steps.min(self.n_steps);
        let win_start = (self.stim_off_steps - (500.0 / dt).round() as i64).max(0);
        let mut late = [0.0; 2];
        let mut winner = None;
        if self.n_steps >= self.stim_off_steps && win_end > win_start {
            let (b0, b1) = (
                (win_start / bin_steps) as usize,
                (win_end / bin_steps) as usize,
            );
            for (g, l) in late.iter_mut().enumerate() {
                let c: u32 = rate_counts[g][b0..b1.min(self.n_bins)].iter().sum();
                *l = c as f64 / sizes[g] / ((b1 - b0) as f64 * bin_steps as f64 * dt * 1e-3);
            }
            let (hi, lo) = if late[0] >= late[1] { (0, 1) } else { (1, 0) };
            if late[hi] >= 10.0 && late[hi] >= 2.0 * late[lo] {
                winner = Some(hi);
            }
        }
        (late, winner)
    }
}

impl Block {
    /// Neurons `first..last` of `group` in their initial state, with their random streams.
    fn new(group: usize, first: usize, last: usize, p: &WangParams, seed: u64) -> Block {
        let len = last - first;
        let has_stim = group < 2;
        Block {
            group,
            first,
            v: vec![p.v_t_mv - 2.0; len],
            s_ampa: vec![0.0; len],
            s_gaba: vec![0.0; len],
            s_ext: vec![0.0; len],
            x: vec![0.0; len],
            s_nmda: vec![0.0; len],
            last_spike: vec![i64::MIN / 2; len],
            spiked: vec![false; len],
            mg_b: vec![0.0; len],
            exp_scratch: vec![0.0; 3 * len],
            any_event: false,
            stim_on: false,
            bg_s: {
                let st: Vec<[u64; 4]> = (first..last)
                    .map(|i| Rng::stream(seed, StreamKind::Background, i as u64).state())
                    .collect();
                std::array::from_fn(|w| st.iter().map(|s| s[w]).collect())
            },
            bg_bits: vec![0; len],
            rng_stim: if has_stim {
                (first..last)
                    .map(|i| Rng::stream(seed, StreamKind::Stimulus, i as u64))
                    .collect()
            } else {
                Vec::new()
            },
            stim_rate_hz: if has_stim { vec![0.0; len] } else { Vec::new() },
            spikes: Vec::with_capacity(len),
            count: 0,
            s_nmda_sum: 0.0,
        }
    }
}

/// Spike counts per group and rate bin, totals, and the optional raster of pops 1 and 2.
struct Recorder {
    rate_counts: [Vec<u32>; 4],
    totals: [u64; 4],
    selective_spikes: Vec<(f64, u32)>,
}

impl Recorder {
    fn new(n_bins: usize) -> Recorder {
        Recorder {
            rate_counts: std::array::from_fn(|_| vec![0u32; n_bins]),
            totals: [0; 4],
            selective_spikes: Vec::new(),
        }
    }

    /// Add the spikes `(t_ms, global neuron)` of a run of the general engine.
    fn record_spikes(&mut self, plan: &Plan, spikes: &[(f64, u32)], raster: bool) {
        let (s, n_e) = (plan.sub_n, plan.n_e);
        for &(t_ms, g) in spikes {
            let m = (t_ms / plan.dt).round() as i64;
            let bin = ((m / plan.bin_steps) as usize).min(plan.n_bins.saturating_sub(1));
            let gi = g as usize;
            let group = if gi < s {
                0
            } else if gi < 2 * s {
                1
            } else if gi < n_e {
                2
            } else {
                3
            };
            self.rate_counts[group][bin] += 1;
            self.totals[group] += 1;
            if raster && group < 2 {
                self.selective_spikes.push((t_ms, g));
            }
        }
    }

    /// Add this step's spikes (in rate bin `bin`, at `t_ms`); returns the per-group counts.
    fn record(&mut self, bin: i64, blocks: &[Block], raster: bool, t_ms: f64) -> [u32; 4] {
        let mut counts = [0u32; 4];
        let bin = bin as usize;
        for blk in blocks {
            counts[blk.group] += blk.count;
            if raster && blk.group < 2 {
                for &i in &blk.spikes {
                    self.selective_spikes.push((t_ms, i));
                }
            }
        }
        for ((rc, tot), &c) in self
            .rate_counts
            .iter_mut()
            .zip(&mut self.totals)
            .zip(&counts)
        {
            rc[bin] += c;
            *tot += c as u64;
        }
        counts
    }
}

/// Per-synapse mode: dense weight rows \[pre\]\[post\] and arrival rings \[slot\]\[post\].
struct DenseSynapses {
    n_e: usize,
    n: usize,
    ring: usize,
    delay_steps: i64,
    w_rows_e: Vec<f64>,
    w_rows_i: Vec<f64>,
    arr_ampa: Vec<f64>,
    arr_gaba: Vec<f64>,
}

impl DenseSynapses {
    fn new(plan: &Plan, p: &WangParams) -> DenseSynapses {
        let (n_e, n_i, n) = (plan.n_e, plan.n_i, plan.n);
        let mut we = vec![0.0f64; n_e * n];
        for i in 0..n_e {
            for j in 0..n {
                we[i * n + j] = if j < n_e {
                    p.g_eea_ns * plan.w(plan.label(i), plan.label(j))
                } else {
                    p.g_eia_ns
                };
            }
        }
        let mut wi = vec![0.0f64; n_i * n];
        for i in 0..n_i {
            for j in 0..n {
                wi[i * n + j] = if j < n_e { p.g_ie_ns } else { p.g_ii_ns };
            }
        }
        DenseSynapses {
            n_e,
            n,
            ring: plan.ring,
            delay_steps: plan.delay_steps,
            w_rows_e: we,
            w_rows_i: wi,
            arr_ampa: vec![0.0; plan.ring * n],
            arr_gaba: vec![0.0; plan.ring * n],
        }
    }

    /// AMPA and GABA-A arrivals of step `m`, per neuron.
    fn arrivals(&self, m: i64) -> (&[f64], &[f64]) {
        let slot = (m as usize % self.ring) * self.n;
        (
            &self.arr_ampa[slot..slot + self.n],
            &self.arr_gaba[slot..slot + self.n],
        )
    }

    /// Clear step `m`'s slot, then deliver this step's spikes synapse by synapse.
    fn deliver(&mut self, m: i64, blocks: &[Block]) {
        let (n, n_e) = (self.n, self.n_e);
        let slot = (m as usize % self.ring) * n;
        self.arr_ampa[slot..slot + n].fill(0.0);
        self.arr_gaba[slot..slot + n].fill(0.0);
        let target = (((m + self.delay_steps) as usize) % self.ring) * n;
        for blk in blocks {
            for &i in &blk.spikes {
                let i = i as usize;
                let (row, buf) = if i < n_e {
                    (
                        &self.w_rows_e[i * n..(i + 1) * n],
                        &mut self.arr_ampa[target..target + n],
                    )
                } else {
                    (
                        &self.w_rows_i[(i - n_e) * n..(i - n_e + 1) * n],
                        &mut self.arr_gaba[target..target + n],
                    )
                };
                for (b, w) in buf.iter_mut().zip(row) {
                    *b += w;
                }
            }
        }
    }
}

struct StepConsts {
    m: i64,
    dt: f64,
    delay_steps: i64,
    e_l: f64,
    v_t: f64,
    v_r: f64,
    v_e: f64,
    v_i: f64,
    gamma: f64,
    mg_factor: f64,
    a_ampa: f64,
    a_gaba: f64,
    a_rise: f64,
    a_decay: f64,
    dt_alpha: f64,
    redraw: bool,
    stim_active: bool,
    stim_mu: [f64; 2],
    sigma: f64,
    p_stim_scale: f64,
    g_ext_stim: f64,
    bg_head: [f64; 4],
}

fn avx2_available() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::is_x86_feature_detected!("avx2")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// `arr_a`/`arr_g`: per-neuron AMPA/GABA arrivals of this step (per-synapse mode; global
/// indices), or empty to use the per-group aggregated increments.
fn step_block(
    b: &mut Block,
    g: &GroupStep,
    k: &StepConsts,
    bg: &CountSampler,
    use_avx2: bool,
    arr_a: &[f64],
    arr_g: &[f64],
) {
    let per_syn = !arr_a.is_empty();
    let n = b.v.len();
    let (aa, ag) = if per_syn {
        (&arr_a[b.first..b.first + n], &arr_g[b.first..b.first + n])
    } else {
        (arr_a, arr_g)
    };
    #[cfg(target_arch = "x86_64")]
    {
        if use_avx2 {
            // SAFETY: only called when the CPU reports AVX2.
            unsafe {
                if per_syn {
                    step_block_avx2::<true>(b, g, k, aa, ag)
                } else {
                    step_block_avx2::<false>(b, g, k, aa, ag)
                }
            };
            step_block_events(b, g, k, bg);
            return;
        }
    }
    let _ = use_avx2;
    if per_syn {
        step_block_arith::<true>(b, g, k, aa, ag);
    } else {
        step_block_arith::<false>(b, g, k, aa, ag);
    }
    step_block_events(b, g, k, bg);
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn step_block_avx2<const PER_SYN: bool>(
    b: &mut Block,
    g: &GroupStep,
    k: &StepConsts,
    aa: &[f64],
    ag: &[f64],
) {
    step_block_arith::<PER_SYN>(b, g, k, aa, ag)
}

/// State update, threshold test and deterministic synaptic arrivals: branch-free, vectorisable.
/// Same arithmetic on every vector width (no fused multiply-add), so results do not depend on it.
#[inline(always)]
fn step_block_arith<const PER_SYN: bool>(
    b: &mut Block,
    g: &GroupStep,
    k: &StepConsts,
    aa: &[f64],
    ag: &[f64],
) {
    let n = b.v.len();
    let (aa, ag) = if PER_SYN {
        (&aa[..n], &ag[..n])
    } else {
        (aa, ag)
    };
    let v = &mut b.v[..n];
    let sa = &mut b.s_ampa[..n];
    let sg = &mut b.s_gaba[..n];
    let se = &mut b.s_ext[..n];
    let xs = &mut b.x[..n];
    let sn = &mut b.s_nmda[..n];
    let ls = &b.last_spike[..n];
    let sp = &mut b.spiked[..n];
    let arrive = k.m - k.delay_steps;
    let h = k.bg_head;
    let [s0, s1, s2, s3] = &mut b.bg_s;
    crate::rng::xoshiro_step_soa(s0, s1, s2, s3, &mut b.bg_bits[..n]);
    let bits = &b.bg_bits[..n];
    // Mg block in its own pass: the exp is a long dependency chain, and a short loop lets the
    // processor overlap many iterations of it (same arithmetic, same bits)
    let mg_b = &mut b.mg_b[..n];
    let mut any = 0u64;
    crate::fastmath::block_factors(&v[..n], mg_b, &mut b.exp_scratch, k.gamma, k.mg_factor);
    for i in 0..n {
        // --- state update (forward Euler, all derivatives from the old state)
        let vi = v[i];
        let not_refractory = k.m - ls[i] >= g.ref_steps;
        let block = mg_b[i];
        let i_syn = g.g_l * (vi - k.e_l)
            + (sa[i] + se[i]) * (vi - k.v_e)
            + g.g_nmda * (vi - k.v_e) * block
            + sg[i] * (vi - k.v_i);
        let v_new = vi - k.dt * i_syn * g.inv_c;
        let v_new = if not_refractory { v_new } else { vi };
        v[i] = v_new;
        // --- threshold
        let spk = not_refractory & (v_new > k.v_t);
        sp[i] = spk;
        // --- synaptic variables: Euler decay, then this step's arrivals (slot 'synapses')
        let (da, dg) = if PER_SYN {
            (aa[i], ag[i])
        } else {
            (g.d_ampa, g.d_gaba)
        };
        sa[i] = (sa[i] - k.a_ampa * sa[i]) + da;
        sg[i] = (sg[i] - k.a_gaba * sg[i]) + dg;
        // background Poisson input: binomial count by inversion, branch-free for counts < 4
        let u = crate::rng::bits_to_uniform(bits[i]);
        let cnt = (u >= h[0]) as u32 + (u >= h[1]) as u32 + (u >= h[2]) as u32 + (u >= h[3]) as u32;
        any |= ((u >= h[3]) | spk) as u64;
        se[i] = (se[i] - k.a_ampa * se[i]) + cnt as f64 * g.g_ext;
        let x = xs[i];
        let s = sn[i];
        sn[i] = s + (-k.a_decay * s + k.dt_alpha * x * (1.0 - s));
        let inc = if ls[i] == arrive { g.x_inc } else { 0.0 };
        xs[i] = (x - k.a_rise * x) + inc;
    }
    b.any_event = any != 0;
    // NMDA sum for the summed variable, four fixed partial sums (deterministic order)
    let mut acc = [0.0f64; 4];
    let chunks = sn.chunks_exact(4);
    let rem = chunks.remainder();
    for c in chunks {
        acc[0] += c[0];
        acc[1] += c[1];
        acc[2] += c[2];
        acc[3] += c[3];
    }
    let mut tail = 0.0;
    for &r in rem {
        tail += r;
    }
    b.s_nmda_sum = ((acc[0] + acc[1]) + (acc[2] + acc[3])) + tail;
}

/// Random inputs, stimulus and reset (scalar: one uniform per neuron per step).
#[inline(always)]
fn step_block_events(b: &mut Block, g: &GroupStep, k: &StepConsts, bg: &CountSampler) {
    b.spikes.clear();
    b.count = 0;
    let has_stim = !b.rng_stim.is_empty();
    if has_stim && k.redraw {
        let mu = k.stim_mu[b.group];
        for (r, rate) in b.rng_stim.iter_mut().zip(b.stim_rate_hz.iter_mut()) {
            let z = r.normal();
            *rate = if k.stim_active { mu + k.sigma * z } else { 0.0 };
        }
        b.stim_on = b.stim_rate_hz.iter().any(|&r| r > 0.0);
    }
    if !(b.any_event || (has_stim && b.stim_on)) {
        return;
    }
    let n = b.v.len();
    // background counts of 4 or more (probability ~1e-4 per step here): finish the inversion
    let tail_from = k.bg_head[3];
    for i in 0..n {
        let u = crate::rng::bits_to_uniform(b.bg_bits[i]);
        if u >= tail_from {
            let nb = bg.sample_from_uniform(u);
            b.s_ext[i] += (nb - 4) as f64 * g.g_ext;
        }
        if has_stim {
            let rate = b.stim_rate_hz[i];
            if rate > 0.0 && b.rng_stim[i].uniform() < rate * k.p_stim_scale {
                b.s_ext[i] += k.g_ext_stim;
            }
        }
        if b.spiked[i] {
            b.v[i] = k.v_r;
            b.last_spike[i] = k.m;
            b.spikes.push((b.first + i) as u32);
            b.count += 1;
        }
    }
}

/// What a decision-network result rests on: the model as run, its sources and the strength of the
/// evidence (issue 14 item 3: one text for the CLI, the web service and Python).
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Citation {
    pub model: &'static str,
    pub source: &'static str,
    pub evidence: &'static str,
}

/// Citation of [`run_decision`] and [`decision_sweep`].
pub const DECISION_CITATION: Citation = Citation {
    model: "Wang (2002) decision network, 1600 E + 400 I conductance LIF, AMPA/GABA-A all-to-all, \
aggregated saturating NMDA with Mg block; forward Euler dt 0.1 ms (as Brian2 examples/frompapers/Wang_2002.py)",
    source: "Wang XJ 2002 Neuron 36:955-968; Brian2 example Wang_2002.py (Wimmer & Stimberg); \
NMDA block Jahr & Stevens 1990 J Neurosci 10:3178 (brain.md §1.1, §8.2)",
    evidence: "NMDA Mg-block law: strong (constants verified, brain-2.md §7.1). Network: a theoretical \
model; mgiv reproduces Brian2's statistics at 1.0 mM (rates, winner). Network effects of Mg are model predictions, not \
observations; no clinical or cognitive outcome is implied.",
};

/// Seed-averaged outcome of the decision network at one \[Mg\].
#[derive(Debug, Clone, Serialize)]
pub struct SweepPoint {
    pub mg_mm: f64,
    /// runs averaged (seeds 1..=runs)
    pub runs: u64,
    /// mean E and I rates over the runs (sum in seed order, divided by `runs`)
    pub rate_e_hz: f64,
    pub rate_i_hz: f64,
    /// runs with a winner (see [`winner_rule`])
    pub winners: u64,
}

/// Callbacks of [`decision_sweep`]: progress of each run and each finished run.
pub trait SweepObserver {
    /// Fraction done of the run at `mg_mm` with `seed` (as [`run_decision_with_progress`]).
    fn progress(&mut self, _mg_mm: f64, _seed: u64, _fraction: f64) {}
    /// The run at `mg_mm` with `seed` finished.
    fn finished(&mut self, _mg_mm: f64, _seed: u64, _result: &DecisionResult) {}
}

/// Runs the decision network configured as `template` at each \[Mg\] of `mg_mm` (fixed) with seeds
/// 1..=`seeds`, and averages rates and counts winners per \[Mg\].
pub fn decision_sweep(
    template: &DecisionConfig,
    mg_mm: &[f64],
    seeds: u64,
    observer: &mut dyn SweepObserver,
) -> Result<Vec<SweepPoint>> {
    if seeds == 0 || seeds > 1000 {
        return Err(NeuroError::InvalidParameter {
            field: "seeds",
            value: seeds.to_string(),
            allowed: "1..=1000",
        });
    }
    let mut out = Vec::with_capacity(mg_mm.len());
    for &mg in mg_mm {
        let (mut se, mut si, mut sw) = (0.0, 0.0, 0u64);
        for seed in 1..=seeds {
            let mut cfg = template.clone();
            cfg.mg = MgDrive::Fixed(mg);
            cfg.seed = seed;
            let r = run_decision_with_progress(&cfg, &mut |f| observer.progress(mg, seed, f))?;
            se += r.rate_e_hz;
            si += r.rate_i_hz;
            sw += r.winner.is_some() as u64;
            observer.finished(mg, seed, &r);
        }
        let n = seeds as f64;
        out.push(SweepPoint {
            mg_mm: mg,
            runs: seeds,
            rate_e_hz: se / n,
            rate_i_hz: si / n,
            winners: sw,
        });
    }
    Ok(out)
}
