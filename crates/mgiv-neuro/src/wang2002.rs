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
//!
//! The example's parameters, with their sources, are in `data/neuro/wang-2002.toml`
//! ([`WangParams::default`]).
use crate::error::{check_range, NeuroError, Result};
use crate::mg_block::MgBlock;
use crate::mg_drive::MgDrive;
use crate::network::{
    Connectivity, LifParams, Network, NetworkSpec, NeuronModel, NmdaModel, PoissonGroupSpec,
    PoissonInputSpec, PopulationSpec, ProjectionSpec, RateSchedule, Receptor, SynapseKinetics,
};
use serde::{Deserialize, Serialize};
use std::sync::LazyLock;

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
    /// initial V = V_t − this (mV)
    pub v_init_below_vt_mv: f64,
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

/// The example's parameters with their sources (`data/neuro/wang-2002.toml`).
pub const WANG_FILE: &str = include_str!("../../../data/neuro/wang-2002.toml");

#[derive(Debug, Clone, Copy, Deserialize)]
struct NetworkTable {
    n_e: usize,
    n_i: usize,
    f_e: f64,
    jp: f64,
}

#[derive(Debug, Clone, Copy, Deserialize)]
struct NeuronTable {
    e_l_mv: f64,
    v_t_mv: f64,
    v_r_mv: f64,
    cm_e_pf: f64,
    cm_i_pf: f64,
    g_leak_e_ns: f64,
    g_leak_i_ns: f64,
    ref_e_ms: f64,
    ref_i_ms: f64,
    v_init_below_vt_mv: f64,
}

#[derive(Debug, Clone, Copy, Deserialize)]
struct SynapseTable {
    v_e_mv: f64,
    v_i_mv: f64,
    tau_ampa_ms: f64,
    tau_nmda_rise_ms: f64,
    tau_nmda_decay_ms: f64,
    tau_gaba_ms: f64,
    alpha_per_ms: f64,
    delay_ms: f64,
}

#[derive(Debug, Clone, Copy, Deserialize)]
struct ConductanceTable {
    g_ext_e_ns: f64,
    g_ext_i_ns: f64,
    g_eea_ns: f64,
    g_eia_ns: f64,
    g_een_ns: f64,
    g_ein_ns: f64,
    g_ie_ns: f64,
    g_ii_ns: f64,
}

#[derive(Debug, Clone, Copy, Deserialize)]
struct BackgroundTable {
    n_ext: u64,
    total_rate_hz: f64,
}

#[derive(Debug, Clone, Copy, Deserialize)]
struct StimulusTable {
    coherence_pct: f64,
    mu0_hz: f64,
    mu1_hz: f64,
    sigma_hz: f64,
    interval_ms: f64,
    on_ms: f64,
    off_ms: f64,
}

#[derive(Debug, Clone, Copy, Deserialize)]
struct SimulationTable {
    dt_ms: f64,
    runtime_ms: f64,
}

#[derive(Debug, Clone, Copy, Deserialize)]
struct WangFile {
    network: NetworkTable,
    neuron: NeuronTable,
    synapse: SynapseTable,
    conductance: ConductanceTable,
    background: BackgroundTable,
    stimulus: StimulusTable,
    simulation: SimulationTable,
}

/// The data file, parsed once (a test parses it, so a failure here is a build defect).
fn wang_file() -> &'static WangFile {
    static F: LazyLock<WangFile> =
        LazyLock::new(|| crate::data_file::parse("data/neuro/wang-2002.toml", WANG_FILE));
    &F
}

impl Default for WangParams {
    /// The Brian2 example's values (`data/neuro/wang-2002.toml`). The recurrent conductances
    /// are the file's values for NE = 1600, NI = 400, as Brian2's `g / NE * 1600` at the
    /// default sizes.
    fn default() -> Self {
        let f = wang_file();
        let (net, neu, syn, g) = (f.network, f.neuron, f.synapse, f.conductance);
        let (bg, st) = (f.background, f.stimulus);
        WangParams {
            n_e: net.n_e,
            n_i: net.n_i,
            f_e: net.f_e,
            e_l_mv: neu.e_l_mv,
            v_t_mv: neu.v_t_mv,
            v_r_mv: neu.v_r_mv,
            v_init_below_vt_mv: neu.v_init_below_vt_mv,
            cm_e_pf: neu.cm_e_pf,
            cm_i_pf: neu.cm_i_pf,
            g_leak_e_ns: neu.g_leak_e_ns,
            g_leak_i_ns: neu.g_leak_i_ns,
            ref_e_ms: neu.ref_e_ms,
            ref_i_ms: neu.ref_i_ms,
            v_e_mv: syn.v_e_mv,
            v_i_mv: syn.v_i_mv,
            tau_ampa_ms: syn.tau_ampa_ms,
            tau_nmda_rise_ms: syn.tau_nmda_rise_ms,
            tau_nmda_decay_ms: syn.tau_nmda_decay_ms,
            tau_gaba_ms: syn.tau_gaba_ms,
            alpha_per_ms: syn.alpha_per_ms,
            g_ext_e_ns: g.g_ext_e_ns,
            g_ext_i_ns: g.g_ext_i_ns,
            g_eea_ns: g.g_eea_ns,
            g_eia_ns: g.g_eia_ns,
            g_een_ns: g.g_een_ns,
            g_ein_ns: g.g_ein_ns,
            g_ie_ns: g.g_ie_ns,
            g_ii_ns: g.g_ii_ns,
            jp: net.jp,
            n_ext: bg.n_ext,
            rate_ext_hz: bg.total_rate_hz / bg.n_ext as f64,
            delay_ms: syn.delay_ms,
            coherence_pct: st.coherence_pct,
            mu0_hz: st.mu0_hz,
            mu1_hz: st.mu1_hz,
            sigma_hz: st.sigma_hz,
            stim_interval_ms: st.interval_ms,
            stim_on_ms: st.on_ms,
            stim_off_ms: st.off_ms,
        }
    }
}

impl WangParams {
    /// Integration step of the Brian2 example (ms; its default clock).
    pub fn reference_dt_ms() -> f64 {
        wang_file().simulation.dt_ms
    }

    /// Run length of the Brian2 example (s; its `runtime = 4000 * ms`): the default biological
    /// time of `mgiv neuro decision` and `mgiv neuro sweep decision`.
    pub fn reference_seconds() -> f64 {
        wang_file().simulation.runtime_ms / 1000.0
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
    /// AMPA and GABA-A delivered synapse by synapse from 3.2 M + 0.8 M stored synapses
    /// (`Connectivity::AllToAll { autapses: true }`, as Brian2 does) instead of as per-population
    /// spike counts × weight (`Connectivity::Aggregate`). Both are the same model (the all-to-all
    /// weights are block-constant); this mode exists to show that the speed does not rest on
    /// that reformulation.
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
            dt_ms: WangParams::reference_dt_ms(),
            seed,
            threads: 1,
            record_selective_spikes: false,
            // readout choice (mgiv): rate traces in 50-ms bins
            rate_bin_ms: 50.0,
            per_synapse: false,
        }
    }

    fn validate(&self) -> Result<()> {
        // validation bounds below are mgiv choices, not model parameters
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
    let v0 = (
        p.v_t_mv - p.v_init_below_vt_mv,
        p.v_t_mv - p.v_init_below_vt_mv,
    );
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
    let pieces = n_steps.clamp(1, 100); // progress granularity (about 1 % per call)
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

/// Step counts and population sizes of the readouts, derived once from a validated configuration.
struct Plan {
    dt: f64,
    n_e: usize,
    n_i: usize,
    /// size of each selective population
    sub_n: usize,
    n_steps: i64,
    bin_steps: i64,
    n_bins: usize,
    stim_off_steps: i64,
}

impl Plan {
    fn new(cfg: &DecisionConfig) -> Result<Plan> {
        let p = &cfg.params;
        let dt = cfg.dt_ms;
        let [sub_n, ..] = population_sizes(p)?;
        let n_steps = (cfg.seconds * 1000.0 / dt).round() as i64;
        let bin_steps = (cfg.rate_bin_ms / dt).round().max(1.0) as i64;
        Ok(Plan {
            dt,
            n_e: p.n_e,
            n_i: p.n_i,
            sub_n,
            n_steps,
            bin_steps,
            n_bins: ((n_steps + bin_steps - 1) / bin_steps) as usize,
            stim_off_steps: (p.stim_off_ms / dt).round() as i64,
        })
    }

    /// Sizes of the groups E1, E2, E3, I.
    fn group_sizes(&self) -> [f64; 4] {
        let s = self.sub_n as f64;
        [s, s, (self.n_e - 2 * self.sub_n) as f64, self.n_i as f64]
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
        // readout choice (mgiv, `winner_rule`): the last 500 ms of the stimulus, a winner at
        // >= 10 Hz and >= 2x the other population's rate
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
        // validation bound (mgiv choice)
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The data file parses, cites every table and holds the values of Brian2's `Wang_2002.py`.
    #[test]
    fn data_file_holds_the_brian2_example_values() {
        crate::data_file::assert_every_table_cited("data/neuro/wang-2002.toml", WANG_FILE);
        let p = WangParams::default();
        assert_eq!((p.n_e, p.n_i, p.f_e, p.jp), (1600, 400, 0.15, 1.7));
        assert_eq!(
            (p.e_l_mv, p.v_t_mv, p.v_r_mv, p.v_init_below_vt_mv),
            (-70.0, -50.0, -55.0, 2.0)
        );
        assert_eq!(
            (p.cm_e_pf, p.cm_i_pf, p.g_leak_e_ns, p.g_leak_i_ns),
            (500.0, 200.0, 25.0, 20.0)
        );
        assert_eq!((p.ref_e_ms, p.ref_i_ms), (2.0, 1.0));
        assert_eq!(
            (p.v_e_mv, p.v_i_mv, p.tau_ampa_ms, p.tau_gaba_ms),
            (0.0, -70.0, 2.0, 5.0)
        );
        assert_eq!(
            (
                p.tau_nmda_rise_ms,
                p.tau_nmda_decay_ms,
                p.alpha_per_ms,
                p.delay_ms
            ),
            (2.0, 100.0, 0.5, 0.5)
        );
        assert_eq!((p.g_ext_e_ns, p.g_ext_i_ns), (2.1, 1.62));
        // Brian2: g / NE * 1600 (g / NI * 400) at NE = 1600, NI = 400
        assert_eq!(
            (p.g_eea_ns, p.g_eia_ns, p.g_een_ns, p.g_ein_ns),
            (
                0.05 / 1600.0 * 1600.0,
                0.04 / 1600.0 * 1600.0,
                0.165 / 1600.0 * 1600.0,
                0.13 / 1600.0 * 1600.0
            )
        );
        assert_eq!((p.g_ie_ns, p.g_ii_ns), (1.3 / 400.0 * 400.0, 1.0));
        assert_eq!((p.n_ext, p.rate_ext_hz), (1000, 2400.0 / 1000.0));
        assert_eq!(
            (p.coherence_pct, p.mu0_hz, p.mu1_hz, p.sigma_hz),
            (12.8, 40.0, 40.0, 4.0)
        );
        assert_eq!(
            (p.stim_interval_ms, p.stim_on_ms, p.stim_off_ms),
            (50.0, 1000.0, 3000.0)
        );
        assert_eq!(WangParams::reference_dt_ms(), 0.1);
        assert_eq!(WangParams::reference_seconds(), 4.0);
        assert_eq!(DecisionConfig::reference(1.0, 1.0, 1).dt_ms, 0.1);
    }
}
