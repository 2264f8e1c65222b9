//! General spiking-network engine: conductance-based LIF and adaptive-exponential (AdEx)
//! neurons; AMPA, NMDA and GABA-A synapses; all-to-all, random (probability p), fixed in-degree
//! or one-to-one connectivity with per-synapse delays, and aggregated all-to-all projections
//! ([`Connectivity::Aggregate`]: one weight, evaluated per presynaptic population); Poisson
//! inputs, Poisson groups with scheduled rates ([`PoissonGroupSpec`]) and spike-train inputs.
//! The Wang (2002) decision network is one such specification (`wang2002::decision_spec`).
//!
//! Integration: forward Euler at `dt_ms` for every state variable, with the per-step order of
//! Brian2 (`method='euler'`): NMDA summed conductance → state update → threshold → synaptic
//! arrivals and Poisson input → reset; refractory neurons keep V clamped at the reset value.
//!
//! NMDA (Mg block `B(V, [Mg])` evaluated in every neuron at its own V, \[Mg\] an input):
//! * [`NmdaModel::Saturating`] — Wang (2002) gating per presynaptic neuron,
//!   `ds/dt = −s/τ_decay + α x (1 − s)`, `dx/dt = −x/τ_rise`, x += 1 per spike after the
//!   projection delay; postsynaptic conductance `Σ_i w_ij s_i` summed every step over every NMDA
//!   synapse (exact; no aggregation shortcut; cost ∝ number of NMDA synapses per step, like a
//!   Brian2 `(summed)` variable). How the sum is evaluated is chosen by [`NmdaSum`]: by default
//!   ([`NmdaSum::Blocked`]) the gates of the next `b` steps (`b` ≤ 4, at most the gate delay + 1
//!   steps) are computed ahead — they depend only on spikes already emitted, because a spike
//!   reaches the presynaptic gate after the projection delay — and each synapse then adds a
//!   4-wide vector of gate values once per `b` steps instead of one value per step. Every
//!   per-step sum is accumulated in exactly the order of [`NmdaSum::Direct`] (the per-step
//!   gather), so both give bit-identical results (tested).
//! * [`NmdaModel::Linear`] — the same kinetics without saturation (1 − s → 1), which are linear and
//!   can therefore be summed on the postsynaptic side: `x_post += w` per spike, `ds/dt = −s/τ_decay + α x`.
//!   Cost ∝ number of spikes.
//!
//! Reproducibility: connectivity is drawn per postsynaptic neuron from stream (seed, neuron),
//! Poisson counts per neuron from stream (seed, neuron), Poisson-group events per target neuron
//! from stream (seed, neuron); every postsynaptic sum is accumulated in presynaptic-index order
//! whatever the thread count, and the population sums of aggregated projections (spike counts,
//! gate sums with four fixed partial sums) are taken once per step outside the shards, so
//! results are bit-identical on any number of threads.
use crate::error::{check_range, NeuroError, Result};
use crate::mg_block::MgBlock;
use crate::mg_drive::MgDrive;
use crate::rng::{CountSampler, Rng, StreamKind};
use crate::wang2002::WangParams;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use std::sync::LazyLock;
use std::time::Instant;

/// Conductance-based leaky integrate-and-fire neuron (units in names; pF·mV/ms = pA).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct LifParams {
    pub c_m_pf: f64,
    pub g_l_ns: f64,
    pub e_l_mv: f64,
    pub v_th_mv: f64,
    pub v_reset_mv: f64,
    pub t_ref_ms: f64,
}

/// Adaptive exponential integrate-and-fire neuron (Brette & Gerstner 2005).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct AdExParams {
    pub c_m_pf: f64,
    pub g_l_ns: f64,
    pub e_l_mv: f64,
    /// V_T, the exponential threshold
    pub v_t_mv: f64,
    pub delta_t_mv: f64,
    pub a_ns: f64,
    pub b_pa: f64,
    pub tau_w_ms: f64,
    pub v_reset_mv: f64,
    pub v_peak_mv: f64,
    pub t_ref_ms: f64,
}

/// The engine's presets with their sources (`data/neuro/network-presets.toml`): AdEx
/// Brette–Gerstner 2005 and the sparse benchmark's own choices. The Wang (2002) constants it
/// shares are in `data/neuro/wang-2002.toml` ([`WangParams`]).
pub const NETWORK_PRESETS_FILE: &str = include_str!("../../../data/neuro/network-presets.toml");

#[derive(Debug, Clone, Copy, Deserialize)]
struct AdExTable {
    c_m_pf: f64,
    g_l_ns: f64,
    e_l_mv: f64,
    v_t_mv: f64,
    delta_t_mv: f64,
    a_ns: f64,
    b_pa: f64,
    tau_w_ms: f64,
    v_reset_mv: f64,
    v_peak_mv: f64,
    refractory: RefractoryTable,
}

#[derive(Debug, Clone, Copy, Deserialize)]
struct RefractoryTable {
    t_ref_ms: f64,
}

#[derive(Debug, Clone, Copy, Deserialize)]
struct SparseTable {
    v_init_lo_mv: f64,
    v_init_hi_mv: f64,
    dt_ms: f64,
    #[serde(rename = "linear-nmda")]
    linear_nmda: LinearNmdaTable,
}

#[derive(Debug, Clone, Copy, Deserialize)]
struct LinearNmdaTable {
    nmda_weight_scale: f64,
}

#[derive(Debug, Clone, Copy, Deserialize)]
struct PresetsFile {
    #[serde(rename = "adex-brette-gerstner-2005")]
    adex_brette_gerstner_2005: AdExTable,
    #[serde(rename = "sparse-benchmark")]
    sparse_benchmark: SparseTable,
}

/// The presets file, parsed once (a test parses it, so a failure here is a build defect).
fn presets_file() -> &'static PresetsFile {
    static F: LazyLock<PresetsFile> = LazyLock::new(|| {
        crate::data_file::parse("data/neuro/network-presets.toml", NETWORK_PRESETS_FILE)
    });
    &F
}

impl AdExParams {
    /// Brette & Gerstner 2005 regular-spiking parameters (C 281 pF, g_L 30 nS, E_L −70.6 mV,
    /// V_T −50.4 mV, Δ_T 2 mV, a 4 nS, b 80.5 pA, τ_w 144 ms; reset to E_L, peak 20 mV; no
    /// refractory period), from `data/neuro/network-presets.toml`.
    pub fn brette_gerstner_2005() -> Self {
        let a = presets_file().adex_brette_gerstner_2005;
        AdExParams {
            c_m_pf: a.c_m_pf,
            g_l_ns: a.g_l_ns,
            e_l_mv: a.e_l_mv,
            v_t_mv: a.v_t_mv,
            delta_t_mv: a.delta_t_mv,
            a_ns: a.a_ns,
            b_pa: a.b_pa,
            tau_w_ms: a.tau_w_ms,
            v_reset_mv: a.v_reset_mv,
            v_peak_mv: a.v_peak_mv,
            t_ref_ms: a.refractory.t_ref_ms,
        }
    }
}

/// Neuron model of a population.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub enum NeuronModel {
    Lif(LifParams),
    AdEx(AdExParams),
}

/// Synaptic receptor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Receptor {
    Ampa,
    Nmda,
    GabaA,
}

/// NMDA kinetics (see module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum NmdaModel {
    Saturating,
    Linear,
}

/// How the per-step saturating-NMDA sum `Σ_i w_ij s_i` is evaluated (same result either way).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub enum NmdaSum {
    /// one gather of every presynaptic gate per synapse per step
    Direct,
    /// gates forecast for up to [`NMDA_BLOCK`] steps (limited by the gate delay), then one
    /// 4-wide gather per synapse per block; bit-identical to `Direct`
    #[default]
    Blocked,
}

/// Largest number of steps one blocked NMDA gather covers.
pub const NMDA_BLOCK: usize = 4;

/// Reversal potentials, time constants and the Mg block shared by all synapses.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct SynapseKinetics {
    pub e_exc_mv: f64,
    pub e_inh_mv: f64,
    pub tau_ampa_ms: f64,
    pub tau_gaba_ms: f64,
    pub tau_nmda_rise_ms: f64,
    pub tau_nmda_decay_ms: f64,
    pub alpha_nmda_per_ms: f64,
    pub nmda: NmdaModel,
    pub block: MgBlock,
}

impl Default for SynapseKinetics {
    /// Wang (2002) / Brian2 `Wang_2002.py` values (`data/neuro/wang-2002.toml`), saturating
    /// NMDA, Jahr–Stevens block.
    fn default() -> Self {
        let w = WangParams::default();
        SynapseKinetics {
            e_exc_mv: w.v_e_mv,
            e_inh_mv: w.v_i_mv,
            tau_ampa_ms: w.tau_ampa_ms,
            tau_gaba_ms: w.tau_gaba_ms,
            tau_nmda_rise_ms: w.tau_nmda_rise_ms,
            tau_nmda_decay_ms: w.tau_nmda_decay_ms,
            alpha_nmda_per_ms: w.alpha_per_ms,
            nmda: NmdaModel::Saturating,
            block: MgBlock::default(),
        }
    }
}

/// A population of identical neurons.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PopulationSpec {
    pub name: String,
    pub n: usize,
    pub model: NeuronModel,
    /// initial V drawn uniformly from [lo, hi] (mV)
    pub v_init_mv: (f64, f64),
}

/// How a projection's synapses are drawn.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub enum Connectivity {
    AllToAll {
        autapses: bool,
    },
    Random {
        p: f64,
        autapses: bool,
    },
    FixedInDegree {
        k: usize,
        autapses: bool,
    },
    OneToOne,
    /// All-to-all with autapses and one weight, evaluated per presynaptic population: each step
    /// the engine takes the spike count of the presynaptic population (emitted one delay ago) and,
    /// for saturating NMDA, the sum of its gates, once, and adds `w × count` (`w × Σ s`) to every
    /// target. The same model as `AllToAll { autapses: true }` (tested against it) at a cost per
    /// step of one population sum instead of one term per synapse; no synapses are stored. Needs
    /// a single delay (`delay_ms.0 == delay_ms.1`). Population sums are taken in a fixed order,
    /// so results do not depend on the thread count.
    Aggregate,
}

/// Synapses from one population onto another.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProjectionSpec {
    pub pre: usize,
    pub post: usize,
    pub receptor: Receptor,
    pub connectivity: Connectivity,
    /// AMPA/GABA/linear NMDA: conductance jump (nS); saturating NMDA: weight of s (nS)
    pub weight_ns: f64,
    /// per-synapse delay drawn uniformly from [lo, hi] (ms), rounded to steps, ≥ 1 step
    pub delay_ms: (f64, f64),
}

/// Independent Poisson sources onto every neuron of a population (Brian2 `PoissonInput`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PoissonInputSpec {
    pub target: usize,
    pub receptor: Receptor,
    pub n_sources: u64,
    pub rate_hz: f64,
    pub weight_ns: f64,
}

/// When the rates of a [`PoissonGroupSpec`] change: at every step `t_k = k × redraw_every_ms`
/// each generator draws its rate anew, `mean_hz + sd_hz × z` (z standard normal, one draw per
/// generator whether or not the window is open) if `on_ms < t_k < off_ms`, else 0 (Brian2's
/// `run_regularly` with `(t > on) * (t < off) * (mean + sd * randn())`). A rate ≤ 0 gives no
/// events. Before the first redraw (t = 0) every rate is 0.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct RateSchedule {
    pub mean_hz: f64,
    pub sd_hz: f64,
    pub redraw_every_ms: f64,
    pub on_ms: f64,
    pub off_ms: f64,
}

/// A Poisson group connected one-to-one onto a population (Brian2 `PoissonGroup` + one-to-one
/// `Synapses`): one generator per target neuron with its own scheduled rate ([`RateSchedule`]);
/// each step one Bernoulli draw per generator whose rate r is positive, an event with
/// probability `r × dt` (capped at 1), each event a conductance jump of `weight_ns` in the same
/// step. Generator streams are keyed by (seed, target neuron), so a run does not depend on the
/// thread count.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PoissonGroupSpec {
    pub target: usize,
    pub receptor: Receptor,
    pub weight_ns: f64,
    pub rate: RateSchedule,
}

/// Given spike times delivered to one neuron (Brian2 `SpikeGeneratorGroup` + synapse).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SpikeTrainSpec {
    pub target: usize,
    pub neuron: usize,
    pub receptor: Receptor,
    pub times_ms: Vec<f64>,
    pub weight_ns: f64,
}

/// Everything that defines a network.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NetworkSpec {
    pub dt_ms: f64,
    pub populations: Vec<PopulationSpec>,
    pub projections: Vec<ProjectionSpec>,
    pub poisson: Vec<PoissonInputSpec>,
    /// Poisson groups with scheduled rates, one-to-one onto their target
    pub poisson_groups: Vec<PoissonGroupSpec>,
    pub spike_trains: Vec<SpikeTrainSpec>,
    pub synapses: SynapseKinetics,
}

/// Compact synapse: local target, projection index, delay in steps.
#[derive(Debug, Clone, Copy)]
struct Syn {
    target: u32,
    proj: u16,
    delay: u16,
}

/// A run of incoming saturating-NMDA synapses of one target from one projection.
#[derive(Debug, Clone, Copy)]
struct NmdaSeg {
    end: u32,
    proj: u16,
}

#[derive(Debug, Clone, Copy)]
struct PopStep {
    first: usize,
    end: usize,
    model: NeuronModel,
    ref_steps: i64,
    /// x increment applied to this population's own saturating gate (1 if it has NMDA output)
    x_delay: i64,
    has_x: bool,
    /// some stored synapse or spike train delivers AMPA / GABA-A / (linear) NMDA into this
    /// population's delay buffers; otherwise they stay zero and are not read
    buf_in: [bool; 3],
}

/// Largest run of neurons one pass of the per-step update covers, so that the state it touches
/// stays in the first-level cache (results do not depend on it: every pass is per neuron).
const CHUNK: usize = 256;

fn receptor_index(r: Receptor) -> usize {
    match r {
        Receptor::Ampa => 0,
        Receptor::GabaA => 1,
        Receptor::Nmda => 2,
    }
}

/// A contiguous range of neurons with their state, incoming connectivity and input buffers.
struct Shard {
    first: usize,
    n: usize,
    v: Vec<f64>,
    w_ad: Vec<f64>,
    g_ampa: Vec<f64>,
    g_gaba: Vec<f64>,
    x_lin: Vec<f64>,
    s_lin: Vec<f64>,
    g_nmda_sat: Vec<f64>,
    x_pre: Vec<f64>,
    s_pre: Vec<f64>,
    last_spike: Vec<i64>,
    /// background-input generators, xoshiro256++ state as four arrays (one stream per neuron)
    bg_s: [Vec<u64>; 4],
    bg_bits: Vec<u64>,
    /// ring buffers [slot * n + local]
    buf_ampa: Vec<f64>,
    buf_gaba: Vec<f64>,
    buf_nmda: Vec<f64>,
    /// CSR by presynaptic (global) index over this shard's targets
    out_ptr: Vec<u32>,
    out_syn: Vec<Syn>,
    /// incoming saturating NMDA synapses: per local target, segments (one per projection) of
    /// presynaptic indices in ascending order
    nmda_seg_ptr: Vec<u32>,
    nmda_seg: Vec<NmdaSeg>,
    nmda_pre: Vec<u32>,
    /// blocked NMDA sums: conductance for the steps of the current block, per local target
    g_blk: Vec<[f64; NMDA_BLOCK]>,
    /// local indices that spiked, per step slot (for the delayed own-gate increment)
    spike_ring: Vec<Vec<u32>>,
    spikes: Vec<u32>,
    spiked: Vec<bool>,
    /// scratch: Mg-block factors of this step, and the 3 intermediate values per neuron of
    /// their two-pass computation (`fastmath::block_factors`)
    mg_b: Vec<f64>,
    exp_scratch: Vec<f64>,
    /// generators of the Poisson groups onto this shard's neurons
    groups: Vec<GroupGen>,
}

/// The generators of one Poisson group that target this shard's local neurons `l0..l1`.
struct GroupGen {
    /// index into `NetworkSpec::poisson_groups`
    spec: usize,
    pop: usize,
    l0: usize,
    l1: usize,
    rng: Vec<Rng>,
    rate_hz: Vec<f64>,
    /// some rate is positive (events must be drawn)
    any_on: bool,
    /// events delivered during the current run
    events: u64,
}

/// What a step needs of one Poisson group (from its spec, in steps).
#[derive(Debug, Clone, Copy)]
struct GroupConsts {
    receptor: Receptor,
    weight_ns: f64,
    mean_hz: f64,
    sd_hz: f64,
    redraw_steps: i64,
    on_steps: i64,
    off_steps: i64,
    /// event probability per Hz and step (dt in s)
    p_per_hz: f64,
}

/// An aggregated projection ([`Connectivity::Aggregate`]) as a step needs it.
#[derive(Debug, Clone, Copy)]
struct AggProj {
    pre: usize,
    post: usize,
    receptor: Receptor,
    weight_ns: f64,
    delay_steps: i64,
}

/// This step's aggregated input to every neuron of one population.
#[derive(Debug, Clone, Copy, Default)]
struct PopAgg {
    ampa: f64,
    gaba: f64,
    /// saturating NMDA: conductance before the Mg block; linear NMDA: jump of x
    nmda: f64,
    has_ampa: bool,
    has_gaba: bool,
    has_nmda: bool,
}

/// A built network, ready to run.
pub struct Network {
    spec: NetworkSpec,
    shards: Vec<Shard>,
    pops: Vec<PopStep>,
    ring: usize,
    n: usize,
    n_synapses: u64,
    proj_w: Vec<f64>,
    poisson: Vec<(usize, Receptor, CountSampler, f64)>,
    /// (step, global neuron, receptor, weight), sorted by step
    train_events: Vec<(i64, u32, Receptor, f64)>,
    pool: Option<rayon::ThreadPool>,
    s_global: Vec<f64>,
    nmda_sum: NmdaSum,
    /// steps per NMDA block (min over gated populations of the gate delay + 1, ≤ NMDA_BLOCK)
    blk_lanes: usize,
    /// forecast gates: lane t = s after step (block start − 1 + t), per global neuron
    s_blk: Vec<[f64; NMDA_BLOCK]>,
    /// scratch for the forecast of x and s
    x_fc: Vec<f64>,
    s_fc: Vec<f64>,
    step: i64,
    /// aggregated projections, in spec order
    agg: Vec<AggProj>,
    /// aggregated input per population for the current step
    pop_agg: Vec<PopAgg>,
    /// spike count per population of the last `ring` steps, `[slot * n_pops + pop]`
    count_ring: Vec<u32>,
    /// gate sum per population (saturating NMDA of aggregated projections), and which are needed
    gate_sum: Vec<f64>,
    gate_sum_needed: Vec<bool>,
    /// some saturating-NMDA synapse is stored (not aggregated): the per-synapse sums run
    nmda_csr: bool,
    groups: Vec<GroupConsts>,
}

/// Instantaneous state of one neuron.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct NeuronState {
    pub v_mv: f64,
    pub w_pa: f64,
    pub g_ampa_ns: f64,
    pub g_gaba_ns: f64,
    /// NMDA conductance before the Mg block (nS)
    pub g_nmda_ns: f64,
}

/// Spike output and timing of a run.
#[derive(Debug, Clone, Serialize)]
pub struct RunResult {
    pub seconds: f64,
    pub n_neurons: usize,
    pub n_synapses: u64,
    pub spikes_per_population: Vec<u64>,
    pub rates_hz: Vec<f64>,
    /// (time ms, global neuron index), if recorded
    pub spikes: Vec<(f64, u32)>,
    /// events delivered by each Poisson group (`NetworkSpec::poisson_groups`) during this run
    pub poisson_group_events: Vec<u64>,
    pub wall_s: f64,
}

fn bad(field: &'static str, value: impl std::fmt::Display, allowed: &'static str) -> NeuroError {
    NeuroError::InvalidParameter {
        field,
        value: value.to_string(),
        allowed,
    }
}

// The bounds in the `validate*` functions and in `Network::run*` are sanity limits on user
// input (mgiv choices), not model parameters.
impl NetworkSpec {
    fn validate(&self) -> Result<()> {
        check_range("dt_ms", self.dt_ms, 1e-3, 1.0, "0.001..1 ms")?;
        if self.populations.is_empty() {
            return Err(NeuroError::InvalidNetwork("no populations".into()));
        }
        let total: usize = self.populations.iter().map(|p| p.n).sum();
        if total == 0 || total > 50_000_000 {
            return Err(bad("n_neurons", total, "1..=50000000"));
        }
        for p in &self.populations {
            p.validate()?;
        }
        let mut nmda_delay: Vec<Option<f64>> = vec![None; self.populations.len()];
        for pr in &self.projections {
            self.validate_projection(pr, &mut nmda_delay)?;
        }
        self.validate_inputs()?;
        let k = &self.synapses;
        for (f, v) in [
            ("tau_ampa_ms", k.tau_ampa_ms),
            ("tau_gaba_ms", k.tau_gaba_ms),
            ("tau_nmda_rise_ms", k.tau_nmda_rise_ms),
            ("tau_nmda_decay_ms", k.tau_nmda_decay_ms),
        ] {
            check_range(f, v, self.dt_ms, 1e6, ">= dt_ms")?;
        }
        Ok(())
    }

    /// One projection; `nmda_delay` collects the saturating-NMDA delay of each presynaptic
    /// population (one per population: the gate is presynaptic).
    fn validate_projection(
        &self,
        pr: &ProjectionSpec,
        nmda_delay: &mut [Option<f64>],
    ) -> Result<()> {
        let np = self.populations.len();
        if pr.pre >= np || pr.post >= np {
            return Err(NeuroError::InvalidNetwork(format!(
                "projection {}->{} refers to a missing population",
                pr.pre, pr.post
            )));
        }
        check_range("weight_ns", pr.weight_ns, 0.0, 1e6, ">= 0 nS")?;
        let (lo, hi) = pr.delay_ms;
        check_range(
            "delay_ms",
            lo,
            self.dt_ms * 0.5,
            1000.0,
            "at least one time step, at most 1000 ms",
        )?;
        check_range("delay_ms", hi, lo, 1000.0, "lo <= hi <= 1000 ms")?;
        if pr.connectivity == Connectivity::Aggregate && lo != hi {
            return Err(bad(
                "delay_ms",
                format!("({lo}, {hi})"),
                "a single delay for an aggregated projection",
            ));
        }
        self.validate_connectivity(pr)?;
        if pr.receptor == Receptor::Nmda && self.synapses.nmda == NmdaModel::Saturating {
            if lo != hi {
                return Err(bad(
                    "delay_ms",
                    format!("({lo}, {hi})"),
                    "a single delay for saturating NMDA (the gate is presynaptic)",
                ));
            }
            match nmda_delay[pr.pre] {
                Some(d) if d != lo => {
                    return Err(bad(
                        "delay_ms",
                        lo,
                        "the same NMDA delay for every projection of one presynaptic population",
                    ));
                }
                _ => nmda_delay[pr.pre] = Some(lo),
            }
        }
        Ok(())
    }

    fn validate_connectivity(&self, pr: &ProjectionSpec) -> Result<()> {
        match pr.connectivity {
            Connectivity::Random { p, .. } => {
                check_range("connection_probability", p, 0.0, 1.0, "0..1")?;
            }
            Connectivity::FixedInDegree { k, .. } => {
                if k > self.populations[pr.pre].n {
                    return Err(bad("in_degree", k, "<= size of the presynaptic population"));
                }
            }
            Connectivity::OneToOne => {
                if self.populations[pr.pre].n != self.populations[pr.post].n {
                    return Err(NeuroError::InvalidNetwork(
                        "one-to-one projection between populations of different sizes".into(),
                    ));
                }
            }
            Connectivity::AllToAll { .. } | Connectivity::Aggregate => {}
        }
        Ok(())
    }

    /// Poisson inputs and spike trains.
    fn validate_inputs(&self) -> Result<()> {
        let np = self.populations.len();
        let sat = self.synapses.nmda == NmdaModel::Saturating;
        for pi in &self.poisson {
            if pi.target >= np {
                return Err(NeuroError::InvalidNetwork(
                    "Poisson input to a missing population".into(),
                ));
            }
            check_range("rate_hz", pi.rate_hz, 0.0, 1e5, "0..100000 Hz")?;
            check_range("weight_ns", pi.weight_ns, 0.0, 1e6, ">= 0 nS")?;
            if pi.rate_hz * self.dt_ms * 1e-3 > 1.0 {
                return Err(bad("rate_hz", pi.rate_hz, "rate * dt <= 1"));
            }
            if pi.receptor == Receptor::Nmda && sat {
                return Err(bad(
                    "receptor",
                    "Nmda",
                    "AMPA or GABA-A for Poisson input (saturating NMDA gates are presynaptic)",
                ));
            }
        }
        for pg in &self.poisson_groups {
            self.validate_group(pg)?;
        }
        for st in &self.spike_trains {
            if st.target >= np || st.neuron >= self.populations[st.target].n {
                return Err(NeuroError::InvalidNetwork(
                    "spike train to a missing neuron".into(),
                ));
            }
            if st.receptor == Receptor::Nmda && sat {
                return Err(bad(
                    "receptor",
                    "Nmda",
                    "AMPA or GABA-A for spike trains with saturating NMDA",
                ));
            }
            for &t in &st.times_ms {
                check_range("times_ms", t, 0.0, 1e9, "finite, >= 0 ms")?;
            }
        }
        Ok(())
    }
}

impl NetworkSpec {
    /// One Poisson group with scheduled rates.
    fn validate_group(&self, pg: &PoissonGroupSpec) -> Result<()> {
        if pg.target >= self.populations.len() {
            return Err(NeuroError::InvalidNetwork(
                "Poisson group onto a missing population".into(),
            ));
        }
        check_range("weight_ns", pg.weight_ns, 0.0, 1e6, ">= 0 nS")?;
        let r = &pg.rate;
        check_range("mean_hz", r.mean_hz, -1e5, 1e5, "-100000..100000 Hz")?;
        check_range("sd_hz", r.sd_hz, 0.0, 1e5, "0..100000 Hz")?;
        check_range(
            "redraw_every_ms",
            r.redraw_every_ms,
            self.dt_ms,
            1e9,
            ">= dt_ms",
        )?;
        check_range("on_ms", r.on_ms, -1e9, 1e9, "finite ms")?;
        check_range("off_ms", r.off_ms, r.on_ms, 1e9, ">= on_ms, finite")?;
        if r.mean_hz * self.dt_ms * 1e-3 > 1.0 {
            return Err(bad("mean_hz", r.mean_hz, "mean_hz * dt <= 1"));
        }
        if pg.receptor == Receptor::Nmda && self.synapses.nmda == NmdaModel::Saturating {
            return Err(bad(
                "receptor",
                "Nmda",
                "AMPA or GABA-A for a Poisson group (saturating NMDA gates are presynaptic)",
            ));
        }
        Ok(())
    }
}

impl PopulationSpec {
    fn validate(&self) -> Result<()> {
        let (lo, hi) = self.v_init_mv;
        if !(lo.is_finite() && hi.is_finite() && lo <= hi) {
            return Err(bad("v_init_mv", format!("({lo}, {hi})"), "finite lo <= hi"));
        }
        match self.model {
            NeuronModel::Lif(l) => {
                check_range("c_m_pf", l.c_m_pf, 1e-3, 1e9, "> 0")?;
                check_range("g_l_ns", l.g_l_ns, 0.0, 1e9, ">= 0")?;
                check_range("t_ref_ms", l.t_ref_ms, 0.0, 1e4, "0..10000 ms")?;
            }
            NeuronModel::AdEx(a) => {
                check_range("c_m_pf", a.c_m_pf, 1e-3, 1e9, "> 0")?;
                check_range("delta_t_mv", a.delta_t_mv, 1e-3, 100.0, "> 0")?;
                check_range("tau_w_ms", a.tau_w_ms, 1e-3, 1e9, "> 0")?;
                check_range("t_ref_ms", a.t_ref_ms, 0.0, 1e4, "0..10000 ms")?;
            }
        }
        Ok(())
    }
}

impl Network {
    /// Draw the connectivity and allocate the state. `threads` ≥ 1 (results do not depend on it).
    pub fn build(spec: NetworkSpec, seed: u64, threads: usize) -> Result<Network> {
        spec.validate()?;
        if threads == 0 || threads > 1024 {
            return Err(bad("threads", threads, "1..1024"));
        }
        let lay = Layout::new(&spec)?;
        let n = lay.n;
        let sat = spec.synapses.nmda == NmdaModel::Saturating;
        // shards: about 4 per thread, split at arbitrary indices
        let n_shards = if threads == 1 {
            1
        } else {
            (threads * 4).min(n)
        };
        let bounds: Vec<usize> = (0..=n_shards).map(|s| s * n / n_shards).collect();
        let pool = thread_pool(threads)?;
        let build_shard = |s: usize| Shard::build(&spec, &lay, seed, bounds[s], bounds[s + 1]);
        let shards: Vec<Shard> = match &pool {
            Some(pl) => pl.install(|| (0..n_shards).into_par_iter().map(build_shard).collect()),
            None => (0..n_shards).map(build_shard).collect(),
        };
        if shards
            .iter()
            .any(|sh| sh.nmda_pre.iter().any(|&i| i as usize >= n))
        {
            return Err(NeuroError::InvalidNetwork(
                "internal: NMDA presynaptic index out of range".into(),
            ));
        }
        let agg = aggregated_projections(&spec);
        let n_synapses = shards
            .iter()
            .map(|s| (s.out_syn.len() + s.nmda_pre.len()) as u64)
            .sum::<u64>()
            + agg
                .iter()
                .map(|a| (spec.populations[a.pre].n * spec.populations[a.post].n) as u64)
                .sum::<u64>();
        let np = spec.populations.len();
        let mut pop_agg = vec![PopAgg::default(); np];
        let mut gate_sum_needed = vec![false; np];
        for a in &agg {
            let t = &mut pop_agg[a.post];
            match a.receptor {
                Receptor::Ampa => t.has_ampa = true,
                Receptor::GabaA => t.has_gaba = true,
                Receptor::Nmda => {
                    t.has_nmda = true;
                    gate_sum_needed[a.pre] |= sat;
                }
            }
        }
        let nmda_csr = shards.iter().any(|sh| !sh.nmda_pre.is_empty());
        let groups = group_consts(&spec);
        let proj_w = spec.projections.iter().map(|p| p.weight_ns).collect();
        let poisson = poisson_samplers(&spec);
        let train_events = train_events(&spec, &lay.offsets);
        let blk_lanes = block_lanes(&lay.pops);
        Ok(Network {
            agg,
            pop_agg,
            count_ring: vec![0; lay.ring * np],
            gate_sum: vec![0.0; np],
            gate_sum_needed,
            nmda_csr,
            groups,
            spec,
            shards,
            pops: lay.pops,
            ring: lay.ring,
            n,
            n_synapses,
            proj_w,
            poisson,
            train_events,
            pool,
            s_global: vec![0.0; if sat { n } else { 0 }],
            nmda_sum: NmdaSum::default(),
            blk_lanes,
            s_blk: vec![[0.0; NMDA_BLOCK]; if sat { n } else { 0 }],
            x_fc: vec![0.0; if sat { n } else { 0 }],
            s_fc: vec![0.0; if sat { n } else { 0 }],
            step: 0,
        })
    }

    /// Number of neurons.
    pub fn n_neurons(&self) -> usize {
        self.n
    }

    /// State of one neuron (global index), for inspection and tests.
    pub fn neuron_state(&self, global: usize) -> Option<NeuronState> {
        let si = self.shards.partition_point(|s| s.first + s.n <= global);
        let sh = self.shards.get(si)?;
        let l = global.checked_sub(sh.first)?;
        if l >= sh.n {
            return None;
        }
        Some(NeuronState {
            v_mv: sh.v[l],
            w_pa: sh.w_ad[l],
            g_ampa_ns: sh.g_ampa[l],
            g_gaba_ns: sh.g_gaba[l],
            g_nmda_ns: if self.spec.synapses.nmda == NmdaModel::Saturating {
                sh.g_nmda_sat[l]
            } else {
                sh.s_lin[l]
            },
        })
    }

    /// Choose how the saturating-NMDA sum is evaluated (results are identical; see [`NmdaSum`]).
    pub fn set_nmda_sum(&mut self, how: NmdaSum) {
        self.nmda_sum = how;
    }

    /// How the saturating-NMDA sum is evaluated.
    pub fn nmda_sum(&self) -> NmdaSum {
        self.nmda_sum
    }

    /// Number of steps one blocked NMDA gather covers in this network (1 = no blocking).
    pub fn nmda_block_steps(&self) -> usize {
        self.blk_lanes
    }

    /// Number of synapses drawn.
    pub fn n_synapses(&self) -> u64 {
        self.n_synapses
    }

    /// Advance by `seconds` at the given \[Mg\] drive (a time course is read at `t_offset_h + t`).
    pub fn run(
        &mut self,
        seconds: f64,
        mg: &MgDrive,
        t_offset_h: f64,
        record_spikes: bool,
    ) -> Result<RunResult> {
        check_range("seconds", seconds, 0.0, 1e5, "0..100000 s")?;
        let n_steps = (seconds * 1000.0 / self.spec.dt_ms).round() as u64;
        self.run_for_steps(n_steps, mg, t_offset_h, record_spikes)
    }

    /// As [`Network::run`], for exactly `n_steps` time steps (at most 10⁹).
    pub fn run_for_steps(
        &mut self,
        n_steps: u64,
        mg: &MgDrive,
        t_offset_h: f64,
        record_spikes: bool,
    ) -> Result<RunResult> {
        if n_steps > 1_000_000_000 {
            return Err(bad("n_steps", n_steps, "at most 1000000000"));
        }
        let n_steps = n_steps as i64;
        // with several threads the whole time loop runs inside the pool: each step's parallel
        // loop then starts on a worker that takes part in it, instead of being sent to the pool
        // from outside and waited for (one wake-up and one hand-back less per step)
        match self.pool.take() {
            Some(pool) => {
                let r =
                    pool.install(|| self.run_steps(n_steps, mg, t_offset_h, record_spikes, true));
                self.pool = Some(pool);
                r
            }
            None => self.run_steps(n_steps, mg, t_offset_h, record_spikes, false),
        }
    }

    /// The time loop of [`Network::run`]; `parallel`: called inside the thread pool.
    fn run_steps(
        &mut self,
        n_steps: i64,
        mg: &MgDrive,
        t_offset_h: f64,
        record_spikes: bool,
        parallel: bool,
    ) -> Result<RunResult> {
        let dt = self.spec.dt_ms;
        let consts = Consts::new(dt, &self.spec.synapses);
        let inv_k0 = 1.0 / self.spec.synapses.block.k0_mm;
        let mut pop_counts = vec![0u64; self.pops.len()];
        let mut spikes_out = Vec::new();
        let mut ev_ptr = self.train_events.partition_point(|e| e.0 < self.step);
        let t0 = Instant::now();
        let mut global_spikes: Vec<u32> = Vec::new();
        let lanes = self.blk_lanes;
        let blocked = consts.sat && self.nmda_csr && self.nmda_sum == NmdaSum::Blocked && lanes > 1;
        for sh in &mut self.shards {
            for gg in &mut sh.groups {
                gg.events = 0;
            }
        }
        let np = self.pops.len();
        // position in the current NMDA block; a run always starts a new block
        let mut lane = lanes;
        for _ in 0..n_steps {
            let m = self.step;
            let new_block = blocked && lane == lanes;
            if new_block {
                self.forecast(m, &consts);
                lane = 0;
            }
            let t_h = t_offset_h + m as f64 * dt / 3.6e6; // 3.6e6 ms per hour
            let mg_factor = MgBlock::check_mg(mg.mg_mm_at_h(t_h))? * inv_k0;
            ev_ptr = self.deliver_train_events(m, ev_ptr);
            self.aggregate_inputs(m);
            let nmda = NmdaStep {
                blocked,
                new_block,
                lane,
            };
            self.step_shards(m, mg_factor, nmda, &global_spikes, &consts, parallel);
            self.collect_spikes(&mut global_spikes);
            let slot = (m as usize % self.ring) * np;
            let step_counts = &mut self.count_ring[slot..slot + np];
            step_counts.fill(0);
            for &g in &global_spikes {
                let p = self.pops.partition_point(|ps| ps.end <= g as usize);
                pop_counts[p] += 1;
                step_counts[p] += 1;
                if record_spikes {
                    spikes_out.push((m as f64 * dt, g));
                }
            }
            self.step += 1;
            lane += 1;
        }
        // deliver the last step's spikes into the buffers so a later run continues exactly
        if !global_spikes.is_empty() {
            self.flush_spikes(&global_spikes, &consts);
        }
        let wall_s = t0.elapsed().as_secs_f64();
        let secs = n_steps as f64 * dt * 1e-3;
        let rates = pop_counts
            .iter()
            .zip(&self.spec.populations)
            .map(|(&c, p)| {
                if secs > 0.0 {
                    c as f64 / p.n as f64 / secs
                } else {
                    0.0
                }
            })
            .collect();
        let mut poisson_group_events = vec![0u64; self.groups.len()];
        for sh in &self.shards {
            for gg in &sh.groups {
                poisson_group_events[gg.spec] += gg.events;
            }
        }
        Ok(RunResult {
            seconds: secs,
            n_neurons: self.n,
            n_synapses: self.n_synapses,
            spikes_per_population: pop_counts,
            rates_hz: rates,
            spikes: spikes_out,
            poisson_group_events,
            wall_s,
        })
    }

    /// This step's input of the aggregated projections to each population: spike counts of the
    /// presynaptic populations emitted one delay ago, and the gate sums after the previous step,
    /// each taken once in a fixed order and weighted in the order of the projections.
    fn aggregate_inputs(&mut self, m: i64) {
        if self.agg.is_empty() {
            return;
        }
        let np = self.pops.len();
        for (p, ps) in self.pops.iter().enumerate() {
            if self.gate_sum_needed[p] {
                self.gate_sum[p] = fixed_order_sum(&self.s_global[ps.first..ps.end]);
            }
        }
        for a in &mut self.pop_agg {
            a.ampa = 0.0;
            a.gaba = 0.0;
            a.nmda = 0.0;
        }
        let sat = self.spec.synapses.nmda == NmdaModel::Saturating;
        for a in &self.agg {
            let count = || {
                if m >= a.delay_steps {
                    let slot = ((m - a.delay_steps) as usize) % self.ring;
                    self.count_ring[slot * np + a.pre] as f64
                } else {
                    0.0
                }
            };
            let t = &mut self.pop_agg[a.post];
            match a.receptor {
                Receptor::Ampa => t.ampa += a.weight_ns * count(),
                Receptor::GabaA => t.gaba += a.weight_ns * count(),
                Receptor::Nmda if sat => t.nmda += a.weight_ns * self.gate_sum[a.pre],
                Receptor::Nmda => t.nmda += a.weight_ns * count(),
            }
        }
    }

    /// Forecast the gates of the NMDA block starting at step `m` (see [`forecast_gates`]).
    fn forecast(&mut self, m: i64, consts: &Consts) {
        forecast_gates(
            m,
            self.blk_lanes,
            self.ring,
            &self.pops,
            &self.shards,
            &self.s_global,
            &mut self.s_blk,
            &mut self.x_fc,
            &mut self.s_fc,
            consts,
        );
    }

    /// Put the spike-train events of step `m` straight into this step's slot; returns the index
    /// of the first later event.
    fn deliver_train_events(&mut self, m: i64, mut ev_ptr: usize) -> usize {
        let ring = self.ring;
        while ev_ptr < self.train_events.len() && self.train_events[ev_ptr].0 <= m {
            let (st, g, rec, w) = self.train_events[ev_ptr];
            if st == m {
                let si = self.shards.partition_point(|s| s.first + s.n <= g as usize);
                let sh = &mut self.shards[si];
                let idx = (m as usize % ring) * sh.n + (g as usize - sh.first);
                match rec {
                    Receptor::Ampa => sh.buf_ampa[idx] += w,
                    Receptor::GabaA => sh.buf_gaba[idx] += w,
                    Receptor::Nmda => sh.buf_nmda[idx] += w,
                }
            }
            ev_ptr += 1;
        }
        ev_ptr
    }

    /// The data every shard reads during a step, beside the shards themselves.
    fn parts(&mut self) -> (StepInputs<'_>, &mut [Shard]) {
        let inputs = StepInputs {
            pops: &self.pops,
            proj_w: &self.proj_w,
            projections: &self.spec.projections,
            poisson: &self.poisson,
            s_global: &self.s_global,
            s_blk: &self.s_blk,
            agg: &self.pop_agg,
            nmda_csr: self.nmda_csr,
            groups: &self.groups,
        };
        (inputs, &mut self.shards)
    }

    /// Advance every shard by step `m`; `parallel`: on the current rayon pool.
    fn step_shards(
        &mut self,
        m: i64,
        mg_factor: f64,
        nmda: NmdaStep,
        prev_spikes: &[u32],
        c: &Consts,
        parallel: bool,
    ) {
        let ring = self.ring;
        let (inputs, shards) = self.parts();
        let ctx = step_ctx(inputs, ring, m, mg_factor, nmda, prev_spikes, c);
        if parallel {
            shards.par_iter_mut().for_each(|sh| shard_step(sh, &ctx));
        } else {
            for sh in shards.iter_mut() {
                shard_step(sh, &ctx);
            }
        }
    }

    /// Deliver the spikes of the last step run into the delay buffers, so that a later run
    /// continues exactly.
    fn flush_spikes(&mut self, prev_spikes: &[u32], c: &Consts) {
        let (ring, m) = (self.ring, self.step);
        let (inputs, shards) = self.parts();
        let ctx = step_ctx(inputs, ring, m, 0.0, NmdaStep::default(), prev_spikes, c);
        for sh in shards.iter_mut() {
            propagate(sh, &ctx);
        }
    }

    /// This step's spikes of all shards in ascending global order, and (saturating NMDA) the
    /// presynaptic gates gathered into one array.
    fn collect_spikes(&mut self, global_spikes: &mut Vec<u32>) {
        global_spikes.clear();
        for sh in &self.shards {
            global_spikes.extend_from_slice(&sh.spikes);
        }
        if !self.s_global.is_empty() {
            let mut off = 0;
            for sh in &self.shards {
                self.s_global[off..off + sh.n].copy_from_slice(&sh.s_pre);
                off += sh.n;
            }
        }
    }
}

/// How this step evaluates the saturating-NMDA sum.
#[derive(Clone, Copy, Default)]
struct NmdaStep {
    /// blocked sum in use
    blocked: bool,
    /// this step starts a block: compute the block's sums
    new_block: bool,
    /// position of this step in its block
    lane: usize,
}

/// The network data every shard reads during a step.
struct StepInputs<'a> {
    pops: &'a [PopStep],
    proj_w: &'a [f64],
    projections: &'a [ProjectionSpec],
    poisson: &'a [(usize, Receptor, CountSampler, f64)],
    s_global: &'a [f64],
    s_blk: &'a [[f64; NMDA_BLOCK]],
    agg: &'a [PopAgg],
    nmda_csr: bool,
    groups: &'a [GroupConsts],
}

fn step_ctx<'a>(
    inp: StepInputs<'a>,
    ring: usize,
    m: i64,
    mg_factor: f64,
    nmda: NmdaStep,
    prev_spikes: &'a [u32],
    c: &'a Consts,
) -> StepCtx<'a> {
    StepCtx {
        m,
        ring,
        mg_factor,
        pops: inp.pops,
        proj_w: inp.proj_w,
        projections: inp.projections,
        poisson: inp.poisson,
        s_global: inp.s_global,
        s_blk: inp.s_blk,
        agg: inp.agg,
        nmda_csr: inp.nmda_csr,
        groups: inp.groups,
        nmda_blocked: nmda.blocked,
        new_block: nmda.new_block,
        lane: nmda.lane,
        prev_spikes,
        c,
    }
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

/// Where the populations lie in the global index and what each needs per step.
struct Layout {
    /// first global index of each population, then the total
    offsets: Vec<usize>,
    n: usize,
    /// slots of the delay rings (longest delay in steps + 1)
    ring: usize,
    pops: Vec<PopStep>,
}

impl Layout {
    fn new(spec: &NetworkSpec) -> Result<Layout> {
        let dt = spec.dt_ms;
        let np = spec.populations.len();
        let mut offsets = vec![0usize; np + 1];
        for (i, p) in spec.populations.iter().enumerate() {
            offsets[i + 1] = offsets[i] + p.n;
        }
        if spec.projections.len() > u16::MAX as usize {
            return Err(bad("projections", spec.projections.len(), "at most 65535"));
        }
        let sat = spec.synapses.nmda == NmdaModel::Saturating;
        // own-gate delay per population (saturating NMDA)
        let mut x_delay = vec![None::<i64>; np];
        let mut max_delay = 1i64;
        for pr in &spec.projections {
            let d_hi = (pr.delay_ms.1 / dt).round().max(1.0) as i64;
            max_delay = max_delay.max(d_hi);
            if sat && pr.receptor == Receptor::Nmda {
                x_delay[pr.pre] = Some((pr.delay_ms.0 / dt).round().max(1.0) as i64);
            }
        }
        if max_delay > u16::MAX as i64 {
            return Err(bad(
                "delay_ms",
                max_delay as f64 * dt,
                "at most 65535 steps",
            ));
        }
        let mut buf_in = vec![[false; 3]; np];
        for pr in &spec.projections {
            if pr.connectivity != Connectivity::Aggregate {
                buf_in[pr.post][receptor_index(pr.receptor)] = true;
            }
        }
        for st in &spec.spike_trains {
            buf_in[st.target][receptor_index(st.receptor)] = true;
        }
        let pops = spec
            .populations
            .iter()
            .enumerate()
            .map(|(i, p)| {
                let t_ref = match p.model {
                    NeuronModel::Lif(l) => l.t_ref_ms,
                    NeuronModel::AdEx(a) => a.t_ref_ms,
                };
                PopStep {
                    first: offsets[i],
                    end: offsets[i + 1],
                    model: p.model,
                    ref_steps: (t_ref / dt).round() as i64,
                    x_delay: x_delay[i].unwrap_or(1),
                    has_x: x_delay[i].is_some(),
                    buf_in: buf_in[i],
                }
            })
            .collect();
        Ok(Layout {
            n: offsets[np],
            offsets,
            ring: (max_delay + 1) as usize,
            pops,
        })
    }

    /// Population of global neuron `g`.
    fn pop_of(&self, g: usize) -> usize {
        self.offsets.partition_point(|&o| o <= g) - 1
    }
}

/// One incoming synapse as drawn: presynaptic global index, projection, delay in steps.
struct Incoming {
    pre: u32,
    proj: u16,
    delay: u16,
}

/// The presynaptic side of one projection as seen from one postsynaptic neuron.
struct Source {
    /// first global index and size of the presynaptic population
    pre_lo: usize,
    pre_n: usize,
    /// the projection connects a population to itself
    same: bool,
    /// index of the postsynaptic neuron within its population
    jl: usize,
    proj: u16,
    /// delay range in steps
    dlo: u64,
    dhi: u64,
}

impl Source {
    /// Whether presynaptic neuron `il` may connect (no autapse unless allowed).
    fn allowed(&self, il: usize, autapses: bool) -> bool {
        autapses || !self.same || il != self.jl
    }

    /// Add the synapse from presynaptic neuron `il`, drawing its delay if the range is wide.
    fn push(&self, il: usize, rng: &mut Rng, v: &mut Vec<Incoming>) {
        let d = if self.dhi > self.dlo {
            self.dlo + rng.below(self.dhi - self.dlo + 1)
        } else {
            self.dlo
        };
        v.push(Incoming {
            pre: (self.pre_lo + il) as u32,
            proj: self.proj,
            delay: d as u16,
        });
    }
}

/// Incoming synapses of postsynaptic neuron `j`, drawn from that neuron's connectivity stream,
/// grouped by projection, presynaptic index ascending within each.
fn draw_incoming(spec: &NetworkSpec, lay: &Layout, seed: u64, j: usize) -> Vec<Incoming> {
    let dt = spec.dt_ms;
    let pj = lay.pop_of(j);
    let mut rng = Rng::stream(seed, StreamKind::Connectivity, j as u64);
    let mut v = Vec::new();
    for (pi, pr) in spec.projections.iter().enumerate() {
        if pr.post != pj {
            continue;
        }
        let src = Source {
            pre_lo: lay.offsets[pr.pre],
            pre_n: spec.populations[pr.pre].n,
            same: pr.pre == pr.post,
            jl: j - lay.offsets[pj],
            proj: pi as u16,
            dlo: (pr.delay_ms.0 / dt).round().max(1.0) as u64,
            dhi: (pr.delay_ms.1 / dt).round().max(1.0) as u64,
        };
        match pr.connectivity {
            Connectivity::AllToAll { autapses } => draw_all(&src, autapses, &mut rng, &mut v),
            Connectivity::Aggregate => {}
            Connectivity::OneToOne => src.push(src.jl, &mut rng, &mut v),
            Connectivity::Random { p, autapses } => {
                if p >= 1.0 {
                    draw_all(&src, autapses, &mut rng, &mut v);
                } else if p > 0.0 {
                    draw_bernoulli(&src, p, autapses, &mut rng, &mut v);
                }
            }
            Connectivity::FixedInDegree { k, autapses } => {
                draw_fixed_in_degree(&src, k, autapses, &mut rng, &mut v)
            }
        }
    }
    v
}

/// Every allowed presynaptic neuron.
fn draw_all(src: &Source, autapses: bool, rng: &mut Rng, v: &mut Vec<Incoming>) {
    for il in 0..src.pre_n {
        if src.allowed(il, autapses) {
            src.push(il, rng, v);
        }
    }
}

/// Each pair independently with probability `p` (0 < p < 1), by geometric skipping: exact
/// Bernoulli(p) per pair at a cost proportional to the synapses drawn.
fn draw_bernoulli(src: &Source, p: f64, autapses: bool, rng: &mut Rng, v: &mut Vec<Incoming>) {
    let ln_q = (1.0 - p).ln();
    let mut il: usize = 0;
    loop {
        let u = 1.0 - rng.uniform();
        let skip = (u.ln() / ln_q).floor();
        if !skip.is_finite() || il as f64 + skip >= src.pre_n as f64 {
            break;
        }
        il += skip as usize;
        if src.allowed(il, autapses) {
            src.push(il, rng, v);
        }
        il += 1;
        if il >= src.pre_n {
            break;
        }
    }
}

/// Exactly `k` distinct presynaptic neurons (at most the allowed ones): Floyd's sampling, then
/// sorted.
fn draw_fixed_in_degree(
    src: &Source,
    k: usize,
    autapses: bool,
    rng: &mut Rng,
    v: &mut Vec<Incoming>,
) {
    let no_self = src.same && !autapses;
    let avail = if no_self {
        src.pre_n.saturating_sub(1)
    } else {
        src.pre_n
    };
    let k = k.min(avail);
    let mut chosen: Vec<usize> = Vec::with_capacity(k);
    let mut set = std::collections::HashSet::with_capacity(k * 2);
    for t in (avail - k)..avail {
        let r = rng.below(t as u64 + 1) as usize;
        let pick = if set.contains(&r) { t } else { r };
        set.insert(pick);
        chosen.push(pick);
    }
    chosen.sort_unstable();
    for c in chosen {
        // skip over the autapse position
        let il = if no_self && c >= src.jl { c + 1 } else { c };
        src.push(il, rng, v);
    }
}

/// Incoming connectivity of one shard: outgoing CSR by presynaptic index (AMPA, GABA-A, linear
/// NMDA) and per-target segments of saturating-NMDA presynaptic indices.
struct ShardSynapses {
    out_ptr: Vec<u32>,
    out_syn: Vec<Syn>,
    nmda_seg_ptr: Vec<u32>,
    nmda_seg: Vec<NmdaSeg>,
    nmda_pre: Vec<u32>,
}

impl ShardSynapses {
    /// Draw the incoming synapses of targets `lo..hi`.
    fn draw(spec: &NetworkSpec, lay: &Layout, seed: u64, lo: usize, hi: usize) -> ShardSynapses {
        let sat = spec.synapses.nmda == NmdaModel::Saturating;
        let n = lay.n;
        let nl = hi - lo;
        let mut per_pre: Vec<(u32, Syn)> = Vec::new();
        let mut nmda_seg_ptr = vec![0u32; nl + 1];
        let mut nmda_seg: Vec<NmdaSeg> = Vec::new();
        let mut nmda_pre: Vec<u32> = Vec::new();
        for j in lo..hi {
            // draw_incoming yields synapses grouped by projection, presynaptic index ascending
            for inc in draw_incoming(spec, lay, seed, j) {
                let pr = &spec.projections[inc.proj as usize];
                if sat && pr.receptor == Receptor::Nmda {
                    let first_of_target = nmda_seg.len() == nmda_seg_ptr[j - lo] as usize;
                    if first_of_target || nmda_seg.last().map(|g| g.proj) != Some(inc.proj) {
                        nmda_seg.push(NmdaSeg {
                            end: nmda_pre.len() as u32,
                            proj: inc.proj,
                        });
                    }
                    nmda_pre.push(inc.pre);
                    if let Some(g) = nmda_seg.last_mut() {
                        g.end = nmda_pre.len() as u32;
                    }
                } else {
                    let syn = Syn {
                        target: (j - lo) as u32,
                        proj: inc.proj,
                        delay: inc.delay,
                    };
                    per_pre.push((inc.pre, syn));
                }
            }
            nmda_seg_ptr[j - lo + 1] = nmda_seg.len() as u32;
        }
        // stable sort by presynaptic index keeps target order within a row
        per_pre.sort_by_key(|e| e.0);
        let mut out_ptr = vec![0u32; n + 1];
        for e in &per_pre {
            out_ptr[e.0 as usize + 1] += 1;
        }
        for i in 0..n {
            out_ptr[i + 1] += out_ptr[i];
        }
        ShardSynapses {
            out_ptr,
            out_syn: per_pre.into_iter().map(|e| e.1).collect(),
            nmda_seg_ptr,
            nmda_seg,
            nmda_pre,
        }
    }
}

impl Shard {
    /// Neurons `lo..hi`: their incoming synapses, initial state and random streams.
    fn build(spec: &NetworkSpec, lay: &Layout, seed: u64, lo: usize, hi: usize) -> Shard {
        let sat = spec.synapses.nmda == NmdaModel::Saturating;
        let syn = ShardSynapses::draw(spec, lay, seed, lo, hi);
        let groups = group_generators(spec, lay, seed, lo, hi);
        let (nl, ring) = (hi - lo, lay.ring);
        let v: Vec<f64> = (lo..hi)
            .map(|g| {
                let (a, b) = spec.populations[lay.pop_of(g)].v_init_mv;
                let mut r = Rng::stream(seed, StreamKind::Init, g as u64);
                a + (b - a) * r.uniform()
            })
            .collect();
        Shard {
            first: lo,
            n: nl,
            v,
            w_ad: vec![0.0; nl],
            g_ampa: vec![0.0; nl],
            g_gaba: vec![0.0; nl],
            x_lin: vec![0.0; nl],
            s_lin: vec![0.0; nl],
            g_nmda_sat: vec![0.0; nl],
            x_pre: vec![0.0; nl],
            s_pre: vec![0.0; nl],
            last_spike: vec![i64::MIN / 2; nl],
            bg_s: {
                let st: Vec<[u64; 4]> = (lo..hi)
                    .map(|g| Rng::stream(seed, StreamKind::Background, g as u64).state())
                    .collect();
                std::array::from_fn(|w| st.iter().map(|x| x[w]).collect())
            },
            bg_bits: vec![0; nl],
            buf_ampa: vec![0.0; ring * nl],
            buf_gaba: vec![0.0; ring * nl],
            buf_nmda: vec![0.0; ring * nl],
            out_ptr: syn.out_ptr,
            out_syn: syn.out_syn,
            nmda_seg_ptr: syn.nmda_seg_ptr,
            nmda_seg: syn.nmda_seg,
            nmda_pre: syn.nmda_pre,
            g_blk: vec![[0.0; NMDA_BLOCK]; if sat { nl } else { 0 }],
            spike_ring: vec![Vec::new(); ring],
            spikes: Vec::new(),
            spiked: vec![false; nl],
            mg_b: vec![0.0; nl],
            exp_scratch: vec![0.0; 3 * nl],
            groups,
        }
    }
}

/// Generators of every Poisson group for the local neurons `lo..hi`. Streams are keyed by
/// (seed, global target neuron + 2³² × number of earlier groups onto the same population).
fn group_generators(
    spec: &NetworkSpec,
    lay: &Layout,
    seed: u64,
    lo: usize,
    hi: usize,
) -> Vec<GroupGen> {
    let mut out = Vec::new();
    for (k, pg) in spec.poisson_groups.iter().enumerate() {
        let earlier = spec.poisson_groups[..k]
            .iter()
            .filter(|q| q.target == pg.target)
            .count() as u64;
        let (a, b) = (
            lay.offsets[pg.target].max(lo),
            lay.offsets[pg.target + 1].min(hi),
        );
        if a >= b {
            continue;
        }
        out.push(GroupGen {
            spec: k,
            pop: pg.target,
            l0: a - lo,
            l1: b - lo,
            rng: (a..b)
                .map(|g| Rng::stream(seed, StreamKind::Stimulus, g as u64 + (earlier << 32)))
                .collect(),
            rate_hz: vec![0.0; b - a],
            any_on: false,
            events: 0,
        });
    }
    out
}

/// The step constants of every Poisson group.
fn group_consts(spec: &NetworkSpec) -> Vec<GroupConsts> {
    let dt = spec.dt_ms;
    spec.poisson_groups
        .iter()
        .map(|pg| GroupConsts {
            receptor: pg.receptor,
            weight_ns: pg.weight_ns,
            mean_hz: pg.rate.mean_hz,
            sd_hz: pg.rate.sd_hz,
            redraw_steps: (pg.rate.redraw_every_ms / dt).round().max(1.0) as i64,
            on_steps: (pg.rate.on_ms / dt).round() as i64,
            off_steps: (pg.rate.off_ms / dt).round() as i64,
            p_per_hz: dt * 1e-3,
        })
        .collect()
}

/// The aggregated projections of `spec`, in spec order.
fn aggregated_projections(spec: &NetworkSpec) -> Vec<AggProj> {
    spec.projections
        .iter()
        .filter(|p| p.connectivity == Connectivity::Aggregate)
        .map(|p| AggProj {
            pre: p.pre,
            post: p.post,
            receptor: p.receptor,
            weight_ns: p.weight_ns,
            delay_steps: (p.delay_ms.0 / spec.dt_ms).round().max(1.0) as i64,
        })
        .collect()
}

/// Σ x in a fixed order: four partial sums (element 4c + k into sum k), combined as
/// (s0 + s1) + (s2 + s3), then the remainder left to right.
fn fixed_order_sum(x: &[f64]) -> f64 {
    let mut acc = [0.0f64; 4];
    let chunks = x.chunks_exact(4);
    let rem = chunks.remainder();
    for c in chunks {
        acc[0] += c[0];
        acc[1] += c[1];
        acc[2] += c[2];
        acc[3] += c[3];
    }
    let mut t = (acc[0] + acc[1]) + (acc[2] + acc[3]);
    for &r in rem {
        t += r;
    }
    t
}

/// Binomial count samplers of the Poisson inputs: (target population, receptor, sampler, weight).
fn poisson_samplers(spec: &NetworkSpec) -> Vec<(usize, Receptor, CountSampler, f64)> {
    let dt = spec.dt_ms;
    spec.poisson
        .iter()
        .map(|p| {
            (
                p.target,
                p.receptor,
                CountSampler::binomial(p.n_sources, p.rate_hz * dt * 1e-3),
                p.weight_ns,
            )
        })
        .collect()
}

/// Spike-train events as (step, global neuron, receptor, weight), sorted by step and neuron.
fn train_events(spec: &NetworkSpec, offsets: &[usize]) -> Vec<(i64, u32, Receptor, f64)> {
    let dt = spec.dt_ms;
    let mut ev: Vec<(i64, u32, Receptor, f64)> = spec
        .spike_trains
        .iter()
        .flat_map(|st| {
            let g = (offsets[st.target] + st.neuron) as u32;
            st.times_ms
                .iter()
                .map(move |&t| ((t / dt).round() as i64, g, st.receptor, st.weight_ns))
        })
        .collect();
    ev.sort_by_key(|e| (e.0, e.1));
    ev
}

/// Steps per blocked NMDA gather. A gate after step m + k depends on spikes up to step
/// m + k − x_delay, all known at the start of step m while k ≤ x_delay − 1: lanes s(m − 1), …,
/// s(m + x_delay − 1).
fn block_lanes(pops: &[PopStep]) -> usize {
    pops.iter()
        .filter(|p| p.has_x)
        .map(|p| (p.x_delay + 1) as usize)
        .min()
        .unwrap_or(1)
        .min(NMDA_BLOCK)
}

struct Consts {
    dt: f64,
    a_ampa: f64,
    a_gaba: f64,
    a_rise: f64,
    a_decay: f64,
    dt_alpha: f64,
    e_exc: f64,
    e_inh: f64,
    gamma: f64,
    sat: bool,
}

impl Consts {
    fn new(dt: f64, k: &SynapseKinetics) -> Consts {
        Consts {
            dt,
            a_ampa: dt / k.tau_ampa_ms,
            a_gaba: dt / k.tau_gaba_ms,
            a_rise: dt / k.tau_nmda_rise_ms,
            a_decay: dt / k.tau_nmda_decay_ms,
            dt_alpha: dt * k.alpha_nmda_per_ms,
            e_exc: k.e_exc_mv,
            e_inh: k.e_inh_mv,
            gamma: k.block.gamma_per_mv,
            sat: k.nmda == NmdaModel::Saturating,
        }
    }
}

struct StepCtx<'a> {
    m: i64,
    ring: usize,
    mg_factor: f64,
    pops: &'a [PopStep],
    proj_w: &'a [f64],
    projections: &'a [ProjectionSpec],
    poisson: &'a [(usize, Receptor, CountSampler, f64)],
    s_global: &'a [f64],
    /// forecast gates of the current block (blocked NMDA sum)
    s_blk: &'a [[f64; NMDA_BLOCK]],
    /// aggregated input per population for this step
    agg: &'a [PopAgg],
    /// stored (not aggregated) saturating-NMDA synapses exist
    nmda_csr: bool,
    groups: &'a [GroupConsts],
    nmda_blocked: bool,
    /// this step starts a block: compute the block's sums
    new_block: bool,
    /// position of this step in its block
    lane: usize,
    /// spikes emitted at step m − 1 (global indices, ascending)
    prev_spikes: &'a [u32],
    c: &'a Consts,
}

/// Σ sg[i] over `pre` in a fixed order: eight partial sums (element 8c + k into sum k), combined
/// as ((s0+s4) + (s1+s5)) + ((s2+s6) + (s3+s7)), then the remainder left to right. (Hardware
/// gathers were measured slower than these scalar loads on the benchmark machine.)
#[inline(always)]
fn gather_sum(sg: &[f64], pre: &[u32]) -> f64 {
    let full = pre.len() / 8 * 8;
    let mut a = [0.0f64; 8];
    for q in pre[..full].chunks_exact(8) {
        for k in 0..8 {
            // SAFETY: every presynaptic index was drawn below n = sg.len() at build time
            // (checked once per shard in `Network::build`).
            a[k] += unsafe { *sg.get_unchecked(q[k] as usize) };
        }
    }
    let mut t = ((a[0] + a[4]) + (a[1] + a[5])) + ((a[2] + a[6]) + (a[3] + a[7]));
    for &i in &pre[full..] {
        t += sg[i as usize];
    }
    t
}

/// One Euler step of a presynaptic saturating gate (the single definition used by the shard
/// update and by the forecast of [`NmdaSum::Blocked`], so both produce the same bits).
#[inline(always)]
fn gate_step(x: f64, s: f64, c: &Consts) -> (f64, f64) {
    let s_new = s + (-c.a_decay * s + c.dt_alpha * x * (1.0 - s));
    (x - c.a_rise * x, s_new)
}

/// The 4-lane version of [`gather_sum`]: lane t of the result is `gather_sum` over lane t of
/// the gates, with the same eight partial sums and the same combination order.
#[inline(always)]
fn gather_sum_blk(sb: &[[f64; NMDA_BLOCK]], pre: &[u32]) -> [f64; NMDA_BLOCK] {
    let full = pre.len() / 8 * 8;
    let mut a = [[0.0f64; NMDA_BLOCK]; 8];
    for q in pre[..full].chunks_exact(8) {
        for k in 0..8 {
            // SAFETY: every presynaptic index was drawn below n = sb.len() at build time
            // (checked once per shard in `Network::build`).
            let v = unsafe { sb.get_unchecked(q[k] as usize) };
            for t in 0..NMDA_BLOCK {
                a[k][t] += v[t];
            }
        }
    }
    let mut r = [0.0f64; NMDA_BLOCK];
    for t in 0..NMDA_BLOCK {
        r[t] = ((a[0][t] + a[4][t]) + (a[1][t] + a[5][t]))
            + ((a[2][t] + a[6][t]) + (a[3][t] + a[7][t]));
    }
    for &i in &pre[full..] {
        let v = &sb[i as usize];
        for t in 0..NMDA_BLOCK {
            r[t] += v[t];
        }
    }
    r
}

/// Forecast the presynaptic gates for the NMDA block starting at step `m` (see [`NmdaSum`]):
/// lane 0 is the current s (after step m − 1), lane k + 1 the s after step m + k, with the
/// arithmetic ([`gate_step`]) and the delayed x increments of the shard update. Needs spikes up
/// to step m + lanes − 2 − x_delay ≤ m − 1 only (`lanes` ≤ x_delay + 1).
#[allow(clippy::too_many_arguments)]
fn forecast_gates(
    m: i64,
    lanes: usize,
    ring: usize,
    pops: &[PopStep],
    shards: &[Shard],
    s_global: &[f64],
    s_blk: &mut [[f64; NMDA_BLOCK]],
    x_fc: &mut [f64],
    s_fc: &mut [f64],
    c: &Consts,
) {
    let mut off = 0;
    for sh in shards {
        x_fc[off..off + sh.n].copy_from_slice(&sh.x_pre);
        off += sh.n;
    }
    s_fc.copy_from_slice(s_global);
    for (b, &s) in s_blk.iter_mut().zip(s_global) {
        *b = [s; NMDA_BLOCK];
    }
    for ps in pops {
        if !ps.has_x {
            continue;
        }
        debug_assert!(lanes as i64 <= ps.x_delay + 1);
        let (lo, hi) = (ps.first, ps.end);
        let xs = &mut x_fc[lo..hi];
        let ss = &mut s_fc[lo..hi];
        let sb = &mut s_blk[lo..hi];
        for k in 0..lanes - 1 {
            for l in 0..xs.len() {
                let (x, s) = gate_step(xs[l], ss[l], c);
                xs[l] = x;
                ss[l] = s;
            }
            let mk = m + k as i64;
            if mk >= ps.x_delay {
                let r = ((mk - ps.x_delay) as usize) % ring;
                for sh in shards {
                    for &l in &sh.spike_ring[r] {
                        let g = sh.first + l as usize;
                        if g >= lo && g < hi {
                            xs[g - lo] += 1.0;
                        }
                    }
                }
            }
            for (b, &s) in sb.iter_mut().zip(ss.iter()) {
                b[k + 1] = s;
            }
        }
    }
}

/// Put the spikes of step m − 1 into the delay buffers of this shard's targets.
fn propagate(sh: &mut Shard, ctx: &StepCtx) {
    let n = sh.n;
    let emit = ctx.m - 1;
    for &i in ctx.prev_spikes {
        let (a, b) = (
            sh.out_ptr[i as usize] as usize,
            sh.out_ptr[i as usize + 1] as usize,
        );
        for s in &sh.out_syn[a..b] {
            let slot = ((emit + s.delay as i64) as usize) % ctx.ring;
            let idx = slot * n + s.target as usize;
            let w = ctx.proj_w[s.proj as usize];
            match ctx.projections[s.proj as usize].receptor {
                Receptor::Ampa => sh.buf_ampa[idx] += w,
                Receptor::GabaA => sh.buf_gaba[idx] += w,
                Receptor::Nmda => sh.buf_nmda[idx] += w,
            }
        }
    }
}

fn shard_step(sh: &mut Shard, ctx: &StepCtx) {
    #[cfg(target_arch = "x86_64")]
    {
        if std::is_x86_feature_detected!("avx2") {
            // SAFETY: only called when the CPU reports AVX2; same arithmetic (no FMA) as the
            // portable path, so results do not depend on which one runs.
            unsafe { shard_step_avx2(sh, ctx) };
            return;
        }
    }
    shard_step_impl(sh, ctx)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn shard_step_avx2(sh: &mut Shard, ctx: &StepCtx) {
    shard_step_impl(sh, ctx)
}

#[inline(always)]
fn shard_step_impl(sh: &mut Shard, ctx: &StepCtx) {
    propagate(sh, ctx);
    // saturating NMDA: postsynaptic sum over every incoming synapse (presynaptic-index order)
    if ctx.c.sat && ctx.nmda_csr && ctx.nmda_blocked {
        if ctx.new_block {
            nmda_block_sums(sh, ctx);
        }
        let t = ctx.lane;
        for (g, b) in sh.g_nmda_sat.iter_mut().zip(&sh.g_blk) {
            *g = b[t];
        }
    } else if ctx.c.sat && ctx.nmda_csr {
        nmda_direct_sums(sh, ctx);
    }
    sh.spikes.clear();
    redraw_group_rates(sh, ctx);
    // per population segment of this shard, in runs of at most CHUNK neurons
    for (pi, ps) in ctx.pops.iter().enumerate() {
        let lo = ps.first.max(sh.first) - sh.first;
        let hi = ps.end.min(sh.first + sh.n).saturating_sub(sh.first);
        let mut a = lo;
        while a < hi {
            let b = (a + CHUNK).min(hi);
            step_segment(sh, ctx, pi, ps, a, b);
            a = b;
        }
    }
    // remember local spikes of this step for the own-gate delay
    let r = ctx.m as usize % ctx.ring;
    let first = sh.first as u32;
    let mut ring_v = std::mem::take(&mut sh.spike_ring[r]);
    ring_v.clear();
    ring_v.extend(sh.spikes.iter().map(|g| g - first));
    sh.spike_ring[r] = ring_v;
}

/// Blocked saturating-NMDA sums: the conductances of every step of the new block, per target.
#[inline(always)]
fn nmda_block_sums(sh: &mut Shard, ctx: &StepCtx) {
    let sb = ctx.s_blk;
    for j in 0..sh.n {
        let (a, b) = (sh.nmda_seg_ptr[j] as usize, sh.nmda_seg_ptr[j + 1] as usize);
        let mut start = if a > 0 {
            sh.nmda_seg[a - 1].end as usize
        } else {
            0
        };
        let mut g = [0.0f64; NMDA_BLOCK];
        for seg in &sh.nmda_seg[a..b] {
            let pre = &sh.nmda_pre[start..seg.end as usize];
            let sum = gather_sum_blk(sb, pre);
            let w = ctx.proj_w[seg.proj as usize];
            for t in 0..NMDA_BLOCK {
                g[t] += w * sum[t];
            }
            start = seg.end as usize;
        }
        sh.g_blk[j] = g;
    }
}

/// Per-step saturating-NMDA sums ([`NmdaSum::Direct`]).
#[inline(always)]
fn nmda_direct_sums(sh: &mut Shard, ctx: &StepCtx) {
    let sg = ctx.s_global;
    for j in 0..sh.n {
        let (a, b) = (sh.nmda_seg_ptr[j] as usize, sh.nmda_seg_ptr[j + 1] as usize);
        let mut start = if a > 0 {
            sh.nmda_seg[a - 1].end as usize
        } else {
            0
        };
        let mut g = 0.0;
        for seg in &sh.nmda_seg[a..b] {
            let pre = &sh.nmda_pre[start..seg.end as usize];
            let sum = gather_sum(sg, pre);
            g += ctx.proj_w[seg.proj as usize] * sum;
            start = seg.end as usize;
        }
        sh.g_nmda_sat[j] = g;
    }
}

/// One step of the local neurons `l0..l1` of population `pi`: neuron update and threshold,
/// synaptic variables and arrivals, Poisson input, reset.
#[inline(always)]
fn step_segment(sh: &mut Shard, ctx: &StepCtx, pi: usize, ps: &PopStep, l0: usize, l1: usize) {
    let (c, m) = (ctx.c, ctx.m);
    let slot = (m as usize % ctx.ring) * sh.n;
    let agg = &ctx.agg[pi];
    if c.sat {
        // aggregated saturating NMDA: the same conductance for every neuron of the population
        let g = &mut sh.g_nmda_sat[l0..l1];
        if !ctx.nmda_csr {
            g.fill(agg.nmda);
        } else if agg.has_nmda {
            for x in g.iter_mut() {
                *x += agg.nmda;
            }
        }
    }
    let any_spike = match ps.model {
        NeuronModel::Lif(p) => update_lif(sh, l0, l1, &p, ps.ref_steps, m, ctx.mg_factor, c),
        NeuronModel::AdEx(p) => update_adex(sh, l0, l1, &p, ps.ref_steps, m, ctx.mg_factor, c),
    };
    // synaptic variables, arrivals (slot 'synapses')
    decay_and_arrive(
        &mut sh.g_ampa[l0..l1],
        ps.buf_in[0].then_some(&mut sh.buf_ampa[slot + l0..slot + l1]),
        c.a_ampa,
        agg.has_ampa.then_some(agg.ampa),
    );
    decay_and_arrive(
        &mut sh.g_gaba[l0..l1],
        ps.buf_in[1].then_some(&mut sh.buf_gaba[slot + l0..slot + l1]),
        c.a_gaba,
        agg.has_gaba.then_some(agg.gaba),
    );
    if !c.sat {
        let xs = &mut sh.x_lin[l0..l1];
        let ss = &mut sh.s_lin[l0..l1];
        let bn = &mut sh.buf_nmda[slot + l0..slot + l1];
        for l in 0..xs.len() {
            let (x, s) = (xs[l], ss[l]);
            ss[l] = s + (-c.a_decay * s + c.dt_alpha * x);
            xs[l] = (x - c.a_rise * x) + bn[l];
            bn[l] = 0.0;
        }
        if agg.has_nmda {
            for x in xs.iter_mut() {
                *x += agg.nmda;
            }
        }
    } else if ps.has_x {
        let xs = &mut sh.x_pre[l0..l1];
        let ss = &mut sh.s_pre[l0..l1];
        for l in 0..xs.len() {
            let (x, s) = gate_step(xs[l], ss[l], c);
            xs[l] = x;
            ss[l] = s;
        }
        // delayed own-gate increments
        if m >= ps.x_delay {
            let r = ((m - ps.x_delay) as usize) % ctx.ring;
            for k in 0..sh.spike_ring[r].len() {
                let l = sh.spike_ring[r][k] as usize;
                if l >= l0 && l < l1 {
                    sh.x_pre[l] += 1.0;
                }
            }
        }
    }
    for (tgt, rec, sampler, w) in ctx.poisson {
        if *tgt == pi {
            poisson_input(sh, l0, l1, *rec, sampler, *w);
        }
    }
    if !sh.groups.is_empty() {
        let mut groups = std::mem::take(&mut sh.groups);
        for gg in groups.iter_mut().filter(|gg| gg.pop == pi && gg.any_on) {
            let (a, b) = (gg.l0.max(l0), gg.l1.min(l1));
            if a >= b {
                continue;
            }
            let gc = &ctx.groups[gg.spec];
            let target = match gc.receptor {
                Receptor::Ampa => &mut sh.g_ampa[a..b],
                Receptor::GabaA => &mut sh.g_gaba[a..b],
                Receptor::Nmda => &mut sh.x_lin[a..b],
            };
            poisson_group_events(gg, gc, target, a - gg.l0);
        }
        sh.groups = groups;
    }
    if any_spike {
        reset_segment(sh, ps, l0, l1, m);
    }
}

/// Poisson input into `l0..l1`: one uniform per neuron; the count by inversion, branch-free
/// below 4 events per step (the rare tail is finished separately).
#[inline(always)]
fn poisson_input(
    sh: &mut Shard,
    l0: usize,
    l1: usize,
    rec: Receptor,
    sampler: &CountSampler,
    w: f64,
) {
    let [s0, s1, s2, s3] = &mut sh.bg_s;
    let bits = &mut sh.bg_bits[l0..l1];
    crate::rng::xoshiro_step_soa(
        &mut s0[l0..l1],
        &mut s1[l0..l1],
        &mut s2[l0..l1],
        &mut s3[l0..l1],
        bits,
    );
    let h = sampler.head();
    let target = match rec {
        Receptor::Ampa => &mut sh.g_ampa[l0..l1],
        Receptor::GabaA => &mut sh.g_gaba[l0..l1],
        Receptor::Nmda => &mut sh.x_lin[l0..l1],
    };
    let bits = &sh.bg_bits[l0..l1];
    let n_seg = target.len().min(bits.len());
    let mut tail = 0u64;
    for l in 0..n_seg {
        let u = crate::rng::bits_to_uniform(bits[l]);
        let cnt = (u >= h[0]) as u32 + (u >= h[1]) as u32 + (u >= h[2]) as u32 + (u >= h[3]) as u32;
        tail |= (u >= h[3]) as u64;
        target[l] += cnt as f64 * w;
    }
    if tail == 0 {
        return;
    }
    for l in 0..n_seg {
        let u = crate::rng::bits_to_uniform(bits[l]);
        if u >= h[3] {
            target[l] += (sampler.sample_from_uniform(u) - 4) as f64 * w;
        }
    }
}

/// New rates of the Poisson groups of this shard at a redraw step ([`RateSchedule`]).
fn redraw_group_rates(sh: &mut Shard, ctx: &StepCtx) {
    let m = ctx.m;
    for gg in &mut sh.groups {
        let gc = &ctx.groups[gg.spec];
        if m % gc.redraw_steps == 0 {
            let active = m > gc.on_steps && m < gc.off_steps;
            for (r, rate) in gg.rng.iter_mut().zip(gg.rate_hz.iter_mut()) {
                let z = r.normal();
                *rate = if active {
                    gc.mean_hz + gc.sd_hz * z
                } else {
                    0.0
                };
            }
            gg.any_on = gg.rate_hz.iter().any(|&r| r > 0.0);
        }
    }
}

/// One Bernoulli draw per generator with a positive rate, for the generators from `off` on
/// (`target` holds their neurons' conductances).
#[inline(always)]
fn poisson_group_events(gg: &mut GroupGen, gc: &GroupConsts, target: &mut [f64], off: usize) {
    let n = target.len();
    let rng = &mut gg.rng[off..off + n];
    let rates = &gg.rate_hz[off..off + n];
    for ((r, &rate), t) in rng.iter_mut().zip(rates).zip(target.iter_mut()) {
        if rate > 0.0 && r.uniform() < rate * gc.p_per_hz {
            *t += gc.weight_ns;
            gg.events += 1;
        }
    }
}

/// Reset of the neurons of `l0..l1` that crossed threshold; their indices go to `sh.spikes`.
#[inline(always)]
fn reset_segment(sh: &mut Shard, ps: &PopStep, l0: usize, l1: usize, m: i64) {
    let (v_reset, b_pa) = match ps.model {
        NeuronModel::Lif(p) => (p.v_reset_mv, 0.0),
        NeuronModel::AdEx(p) => (p.v_reset_mv, p.b_pa),
    };
    for l in l0..l1 {
        if sh.spiked[l] {
            sh.v[l] = v_reset;
            sh.w_ad[l] += b_pa;
            sh.last_spike[l] = m;
            sh.spikes.push((sh.first + l) as u32);
        }
    }
}

/// Euler decay of a conductance, then this step's arrivals from the delay ring (slot cleared;
/// `None` when nothing is ever delivered there) and, if any, the aggregated arrival `agg`
/// common to all.
#[inline(always)]
fn decay_and_arrive(g: &mut [f64], buf: Option<&mut [f64]>, a: f64, agg: Option<f64>) {
    let Some(buf) = buf else {
        let d = agg.unwrap_or(0.0);
        for x in g.iter_mut() {
            *x = (*x - a * *x) + d;
        }
        return;
    };
    let n = g.len().min(buf.len());
    let (g, buf) = (&mut g[..n], &mut buf[..n]);
    match agg {
        None => {
            for l in 0..n {
                let x = g[l];
                g[l] = (x - a * x) + buf[l];
                buf[l] = 0.0;
            }
        }
        Some(d) => {
            for l in 0..n {
                let x = g[l];
                g[l] = ((x - a * x) + buf[l]) + d;
                buf[l] = 0.0;
            }
        }
    }
}

#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn update_lif(
    sh: &mut Shard,
    l0: usize,
    l1: usize,
    p: &LifParams,
    ref_steps: i64,
    m: i64,
    mg_factor: f64,
    c: &Consts,
) -> bool {
    let inv_c = 1.0 / p.c_m_pf;
    let n = l1 - l0;
    crate::fastmath::block_factors(
        &sh.v[l0..l1],
        &mut sh.mg_b[l0..l1],
        &mut sh.exp_scratch[3 * l0..3 * l1],
        c.gamma,
        mg_factor,
    );
    let mg_b = &sh.mg_b[l0..l1];
    let v = &mut sh.v[l0..l1];
    let ls = &sh.last_spike[l0..l0 + n];
    let gn = if c.sat {
        &sh.g_nmda_sat[l0..l0 + n]
    } else {
        &sh.s_lin[l0..l0 + n]
    };
    let ga = &sh.g_ampa[l0..l0 + n];
    let gg = &sh.g_gaba[l0..l0 + n];
    let sp = &mut sh.spiked[l0..l0 + n];
    let mut any = 0u64;
    for l in 0..n {
        let vl = v[l];
        let nr = m - ls[l] >= ref_steps;
        let block = mg_b[l];
        let i_syn = p.g_l_ns * (vl - p.e_l_mv)
            + ga[l] * (vl - c.e_exc)
            + gn[l] * block * (vl - c.e_exc)
            + gg[l] * (vl - c.e_inh);
        let vn = vl - c.dt * i_syn * inv_c;
        let vn = if nr { vn } else { vl };
        v[l] = vn;
        let spk = nr & (vn > p.v_th_mv);
        any |= spk as u64;
        sp[l] = spk;
    }
    any != 0
}

#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn update_adex(
    sh: &mut Shard,
    l0: usize,
    l1: usize,
    p: &AdExParams,
    ref_steps: i64,
    m: i64,
    mg_factor: f64,
    c: &Consts,
) -> bool {
    let inv_c = 1.0 / p.c_m_pf;
    let n = l1 - l0;
    let v = &mut sh.v[l0..l1];
    let wa = &mut sh.w_ad[l0..l0 + n];
    let ls = &sh.last_spike[l0..l0 + n];
    let gn = if c.sat {
        &sh.g_nmda_sat[l0..l0 + n]
    } else {
        &sh.s_lin[l0..l0 + n]
    };
    let ga = &sh.g_ampa[l0..l0 + n];
    let gg = &sh.g_gaba[l0..l0 + n];
    let sp = &mut sh.spiked[l0..l0 + n];
    for l in 0..n {
        let vl = v[l];
        let w = wa[l];
        let nr = m - ls[l] >= ref_steps;
        let block = 1.0 / (1.0 + crate::fastmath::exp(-c.gamma * vl) * mg_factor);
        let i_syn =
            ga[l] * (vl - c.e_exc) + gn[l] * block * (vl - c.e_exc) + gg[l] * (vl - c.e_inh);
        let i_exp = p.g_l_ns
            * p.delta_t_mv
            // exponent capped at 50 (numerical guard against overflow once V runs away towards
            // the peak, not a model parameter)
            * crate::fastmath::exp(((vl - p.v_t_mv) / p.delta_t_mv).min(50.0));
        let dv = (-p.g_l_ns * (vl - p.e_l_mv) + i_exp - w - i_syn) * inv_c;
        let vn = if nr { vl + c.dt * dv } else { vl };
        wa[l] = w + c.dt * (p.a_ns * (vl - p.e_l_mv) - w) / p.tau_w_ms;
        v[l] = vn;
        sp[l] = nr & (vn > p.v_peak_mv);
    }
    sp.iter().any(|&x| x)
}

/// The sparse benchmark network of issue 5: `n_e` E + `n_i` I conductance LIF neurons (Wang 2002
/// neuron parameters), connection probability `p`, AMPA + NMDA (with Mg block) from E, GABA-A
/// from I, `n_ext` Poisson inputs per neuron. Weights are Wang's totals divided by the expected
/// in-degree, so the mean recurrent drive matches the decision network's. Wang's constants come
/// from `data/neuro/wang-2002.toml` ([`WangParams::default`]), the benchmark's own choices
/// (initial V, step, linear-NMDA weight scale) from `data/neuro/network-presets.toml`.
pub fn sparse_benchmark_spec(
    n_e: usize,
    n_i: usize,
    p: f64,
    n_ext: u64,
    nmda: NmdaModel,
) -> NetworkSpec {
    let w = WangParams::default();
    let sb = presets_file().sparse_benchmark;
    let k_e = (p * n_e as f64).max(1.0);
    let k_i = (p * n_i as f64).max(1.0);
    let lif_e = LifParams {
        c_m_pf: w.cm_e_pf,
        g_l_ns: w.g_leak_e_ns,
        e_l_mv: w.e_l_mv,
        v_th_mv: w.v_t_mv,
        v_reset_mv: w.v_r_mv,
        t_ref_ms: w.ref_e_ms,
    };
    let lif_i = LifParams {
        c_m_pf: w.cm_i_pf,
        g_l_ns: w.g_leak_i_ns,
        e_l_mv: w.e_l_mv,
        v_th_mv: w.v_t_mv,
        v_reset_mv: w.v_r_mv,
        t_ref_ms: w.ref_i_ms,
    };
    let random = Connectivity::Random { p, autapses: false };
    // totals of Wang 2002 (1600 E, 400 I): AMPA 0.05/0.04 nS x 1600, NMDA 0.165/0.13 x 1600, GABA 1.3/1.0 x 400
    let (ne_ref, ni_ref) = (w.n_e as f64, w.n_i as f64);
    let proj = |pre, post, receptor, weight_ns: f64| ProjectionSpec {
        pre,
        post,
        receptor,
        connectivity: random,
        weight_ns,
        delay_ms: (w.delay_ms, w.delay_ms),
    };
    let nmda_scale = match nmda {
        NmdaModel::Saturating => 1.0,
        // the linear gate is not capped at 1, so recurrent excitation is stronger; a fraction of
        // Wang's weight puts the network in the same low-rate asynchronous regime (data file)
        NmdaModel::Linear => sb.linear_nmda.nmda_weight_scale,
    };
    // Wang's total external rate (N_ext x rate_ext = 2400 Hz) shared by `n_ext` sources
    let rate_ext_hz = w.rate_ext_hz * w.n_ext as f64 / n_ext as f64;
    let v_init_mv = (sb.v_init_lo_mv, sb.v_init_hi_mv);
    NetworkSpec {
        dt_ms: sb.dt_ms,
        populations: vec![
            PopulationSpec {
                name: "E".into(),
                n: n_e,
                model: NeuronModel::Lif(lif_e),
                v_init_mv,
            },
            PopulationSpec {
                name: "I".into(),
                n: n_i,
                model: NeuronModel::Lif(lif_i),
                v_init_mv,
            },
        ],
        projections: vec![
            proj(0, 0, Receptor::Ampa, w.g_eea_ns * ne_ref / k_e),
            proj(0, 1, Receptor::Ampa, w.g_eia_ns * ne_ref / k_e),
            proj(0, 0, Receptor::Nmda, nmda_scale * w.g_een_ns * ne_ref / k_e),
            proj(0, 1, Receptor::Nmda, nmda_scale * w.g_ein_ns * ne_ref / k_e),
            proj(1, 0, Receptor::GabaA, w.g_ie_ns * ni_ref / k_i),
            proj(1, 1, Receptor::GabaA, w.g_ii_ns * ni_ref / k_i),
        ],
        poisson_groups: Vec::new(),
        poisson: vec![
            PoissonInputSpec {
                target: 0,
                receptor: Receptor::Ampa,
                n_sources: n_ext,
                rate_hz: rate_ext_hz,
                weight_ns: w.g_ext_e_ns,
            },
            PoissonInputSpec {
                target: 1,
                receptor: Receptor::Ampa,
                n_sources: n_ext,
                rate_hz: rate_ext_hz,
                weight_ns: w.g_ext_i_ns,
            },
        ],
        spike_trains: Vec::new(),
        synapses: SynapseKinetics {
            nmda,
            ..SynapseKinetics::default()
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The presets file parses, cites every table and holds Brette & Gerstner's regular-spiking
    /// parameters and the sparse benchmark's choices (docs/NEURO.md §3, §7).
    #[test]
    fn presets_file_holds_the_published_values() {
        crate::data_file::assert_every_table_cited(
            "data/neuro/network-presets.toml",
            NETWORK_PRESETS_FILE,
        );
        let a = AdExParams::brette_gerstner_2005();
        assert_eq!(
            a,
            AdExParams {
                c_m_pf: 281.0,
                g_l_ns: 30.0,
                e_l_mv: -70.6,
                v_t_mv: -50.4,
                delta_t_mv: 2.0,
                a_ns: 4.0,
                b_pa: 80.5,
                tau_w_ms: 144.0,
                v_reset_mv: -70.6,
                v_peak_mv: 20.0,
                t_ref_ms: 0.0,
            }
        );
        let sb = presets_file().sparse_benchmark;
        assert_eq!(
            (sb.v_init_lo_mv, sb.v_init_hi_mv, sb.dt_ms),
            (-60.0, -50.0, 0.1)
        );
        assert_eq!(sb.linear_nmda.nmda_weight_scale, 0.2);
    }

    /// The engine's synapse defaults are Wang's, and the sparse benchmark's weights are Wang's
    /// totals over the expected in-degree (docs/NEURO.md §7: AMPA E→E 1.0 nS, NMDA E→I 2.6 nS,
    /// GABA I→E 26 nS at p = 0.1, 800 E + 200 I; external rate 2400 Hz over the sources).
    #[test]
    fn sparse_benchmark_uses_wangs_constants() {
        let k = SynapseKinetics::default();
        assert_eq!(
            (k.e_exc_mv, k.e_inh_mv, k.tau_ampa_ms, k.tau_gaba_ms),
            (0.0, -70.0, 2.0, 5.0)
        );
        assert_eq!(
            (k.tau_nmda_rise_ms, k.tau_nmda_decay_ms, k.alpha_nmda_per_ms),
            (2.0, 100.0, 0.5)
        );
        let s = sparse_benchmark_spec(800, 200, 0.1, 200, NmdaModel::Saturating);
        let w: Vec<f64> = s.projections.iter().map(|p| p.weight_ns).collect();
        let want = [1.0, 0.8, 3.3, 2.6, 26.0, 20.0];
        for (got, want) in w.iter().zip(want) {
            assert!((got - want).abs() < 1e-12, "{got} vs {want}");
        }
        assert!(s.projections.iter().all(|p| p.delay_ms == (0.5, 0.5)));
        assert_eq!(s.poisson[0].rate_hz, 12.0);
        assert_eq!(
            (s.poisson[0].weight_ns, s.poisson[1].weight_ns),
            (2.1, 1.62)
        );
        assert_eq!(s.dt_ms, 0.1);
        assert_eq!(s.populations[0].v_init_mv, (-60.0, -50.0));
        let NeuronModel::Lif(e) = s.populations[0].model else {
            panic!("E is LIF")
        };
        assert_eq!((e.c_m_pf, e.g_l_ns, e.t_ref_ms), (500.0, 25.0, 2.0));
        let lin = sparse_benchmark_spec(800, 200, 0.1, 200, NmdaModel::Linear);
        assert!((lin.projections[2].weight_ns - 0.2 * 3.3).abs() < 1e-12);
    }
}
