//! `mgiv neuro`: spiking networks and synaptic plasticity driven by extracellular magnesium
//! (issue 5; engine in the `mgiv-neuro` crate, equations and validation in docs/NEURO.md).
//!
//! * `mgiv neuro decision` — the Wang (2002) decision network exactly as in Brian2's example.
//! * `mgiv neuro plasticity` — Graupner–Brunel (nine sets) or Shouval rule under a protocol.
//! * `mgiv neuro sweep` — curves (Mg, Δt, number of pairs, frequency) with a plot.
//!
//! `--mg` takes a fixed concentration (mM) or a sweep `START:STOP:STEP`; `--regimen` drives Mg by
//! the ionised CSF time course predicted for an infusion (see [`csf_ionised_time_course`]).
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context, Result};
use clap::{Args, Subcommand, ValueEnum};
use mgiv_neuro::plasticity::gb::{self, GbMg, GbParams};
use mgiv_neuro::plasticity::shouval::{self, ShouvalParams};
use mgiv_neuro::plasticity::{standard_protocols, Protocol};
use mgiv_neuro::wang2002::{
    decision_sweep, run_decision_with_progress, winner_rule, DecisionConfig, DecisionResult,
    SweepObserver, WangParams, DECISION_CITATION, MAX_DECISION_SECONDS, MAX_DECISION_THREADS,
};
use mgiv_neuro::{MgBlock, MgBlockPreset, MgDrive, MgSpec, SCOPE_NOTE};
use plotters::coord::Shift;
use plotters::prelude::*;
use serde_json::{json, Value};

/// `mgiv neuro` arguments.
#[derive(Debug, Args)]
pub struct NeuroArgs {
    #[command(subcommand)]
    cmd: NeuroCmd,
}

#[derive(Debug, Subcommand)]
enum NeuroCmd {
    /// Wang (2002) decision network (1600 E + 400 I LIF, NMDA with Mg block), as Brian2's example
    Decision(DecisionArgs),
    /// Synaptic change under a plasticity protocol (Graupner–Brunel 2012 or Shouval 2002)
    Plasticity(PlasticityArgs),
    /// Curves over Mg, Δt, number of pairs or frequency, with a plot
    Sweep(SweepArgs),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Format {
    Table,
    Json,
}

/// How magnesium is given (shared by every `neuro` subcommand).
#[derive(Debug, Clone, Args)]
struct MgArgs {
    /// Extracellular (ionised CSF) Mg in mM, or a sweep START:STOP:STEP (e.g. 0.8:2.0:0.1).
    /// Default 1.0 mM (the Brian2 reference); ionised human CSF is about 0.8 mM (brain.md §7).
    #[arg(long, value_name = "MM|START:STOP:STEP", conflicts_with = "regimen")]
    mg: Option<String>,
    /// NMDA Mg-block preset: jahr-stevens (default), vcr2003, evans, glun2cd
    #[arg(long, default_value = "jahr-stevens", value_name = "PRESET")]
    block: String,
    /// Drive Mg by the ionised CSF time course predicted for this IV regimen (same syntax as
    /// `mgiv simulate --regimen`), evaluated at the hours given by --at-h
    #[arg(long, value_name = "TEXT")]
    regimen: Option<String>,
    /// Hours after the start of the regimen at which to run (comma list); default 0,1,2,4,8,12,24
    #[arg(long = "at-h", value_name = "H,H,...", requires = "regimen")]
    at_h: Option<String>,
    #[command(flatten)]
    patient: crate::common::PatientArgs,
}

#[derive(Debug, Args)]
struct DecisionArgs {
    #[command(flatten)]
    mg: MgArgs,
    #[arg(
        long,
        default_value_t = WangParams::reference_seconds(),
        value_name = "S",
        help = decision_seconds_help()
    )]
    seconds: f64,
    /// Random seed (same seed ⇒ identical result on any number of threads)
    #[arg(long, default_value_t = 1, value_name = "N")]
    seed: u64,
    /// Worker threads
    #[arg(long, default_value_t = 1, value_name = "T")]
    threads: usize,
    /// Output format
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
    /// Write a spike raster of the two selective populations with their rates (.png or .svg)
    #[arg(long, value_name = "FILE")]
    raster: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum ProtocolKind {
    Pairing,
    Tetanus,
    ThetaBurst,
}

#[derive(Debug, Clone, Args)]
struct ProtocolArgs {
    /// gb-dp, gb-dpd, gb-dpd-prime, gb-p, gb-d, gb-d-prime, gb-hippocampal-slices,
    /// gb-hippocampal-cultures, gb-cortical-slices, or shouval
    #[arg(long, default_value = "gb-dp", value_name = "RULE")]
    rule: String,
    /// Stimulation protocol
    #[arg(long, value_enum, default_value_t = ProtocolKind::Pairing)]
    protocol: ProtocolKind,
    /// Pairing: t_post − t_pre (ms)
    #[arg(
        long = "dt-ms",
        default_value_t = standard_protocols().pairing.dt_ms,
        value_name = "X",
        allow_hyphen_values = true
    )]
    dt_ms: f64,
    /// Pairing: number of pairs
    #[arg(long, default_value_t = standard_protocols().pairing.pairs, value_name = "N")]
    pairs: u32,
    #[arg(long, value_name = "F", help = hz_help())]
    hz: Option<f64>,
    /// Tetanus: number of pulses
    #[arg(long, default_value_t = standard_protocols().tetanus.pulses, value_name = "N")]
    pulses: u32,
    /// Theta burst: number of bursts
    #[arg(long, default_value_t = standard_protocols().theta_burst.bursts, value_name = "N")]
    bursts: u32,
    #[arg(
        long = "spikes-per-burst",
        default_value_t = standard_protocols().theta_burst.spikes_per_burst,
        value_name = "N",
        help = spikes_per_burst_help()
    )]
    spikes_per_burst: u32,
    /// Theta burst: burst frequency (Hz)
    #[arg(
        long = "burst-hz",
        default_value_t = standard_protocols().theta_burst.burst_hz,
        value_name = "F"
    )]
    burst_hz: f64,
}

/// `--seconds` help of `neuro decision`: the stimulus window of Brian2's example (`stim_on`,
/// `stim_off` in data/neuro/wang-2002.toml, read by [`WangParams`]).
fn decision_seconds_help() -> String {
    let p = WangParams::default();
    let ms_per_s = 1000.0;
    format!(
        "Biological time to simulate (s); the stimulus is on from {} to {} s as in Brian2's example",
        p.stim_on_ms / ms_per_s,
        p.stim_off_ms / ms_per_s
    )
}

/// `--hz` help: its two defaults, from the standard protocols (data/neuro/stimulation-protocols.toml).
fn hz_help() -> String {
    let s = standard_protocols();
    format!(
        "Pairing frequency (default {} Hz) or tetanus frequency (default {} Hz)",
        s.pairing.hz, s.tetanus.hz
    )
}

/// `--spikes-per-burst` help: the intra-burst frequency of the standard theta burst.
fn spikes_per_burst_help() -> String {
    format!(
        "Theta burst: spikes per burst (at {} Hz)",
        standard_protocols().theta_burst.intra_hz
    )
}

#[derive(Debug, Args)]
struct PlasticityArgs {
    #[command(flatten)]
    mg: MgArgs,
    #[command(flatten)]
    protocol: ProtocolArgs,
    /// GB only: also simulate N stochastic synapses per initial state and report the result
    #[arg(long, value_name = "N")]
    simulate: Option<usize>,
    /// Seed for --simulate
    #[arg(long, default_value_t = 1, value_name = "N")]
    seed: u64,
    /// Output format
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum SweepTarget {
    Plasticity,
    Decision,
}

#[derive(Debug, Args)]
struct SweepArgs {
    /// What to sweep: plasticity (synaptic change) or decision (network rates)
    #[arg(value_enum)]
    target: SweepTarget,
    #[command(flatten)]
    mg: MgArgs,
    #[command(flatten)]
    protocol: ProtocolArgs,
    /// Plasticity: x axis NAME=START:STOP:STEP with NAME dt-ms, pairs or hz (one curve per Mg);
    /// without it the x axis is Mg
    #[arg(long, value_name = "NAME=START:STOP:STEP", allow_hyphen_values = true)]
    x: Option<String>,
    /// Decision: biological seconds per run
    #[arg(long, default_value_t = WangParams::reference_seconds(), value_name = "S")]
    seconds: f64,
    /// Decision: seeds 1..=N at every Mg
    #[arg(long, default_value_t = 1, value_name = "N")]
    seeds: u64,
    /// Decision: worker threads
    #[arg(long, default_value_t = 1, value_name = "T")]
    threads: usize,
    /// Output format
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
    /// Plot file (.png or .svg)
    #[arg(long, value_name = "FILE")]
    plot: Option<PathBuf>,
}

/// Run `mgiv neuro`.
pub fn run(args: NeuroArgs) -> Result<()> {
    match args.cmd {
        NeuroCmd::Decision(a) => decision(a),
        NeuroCmd::Plasticity(a) => plasticity(a),
        NeuroCmd::Sweep(a) => sweep(a),
    }
}

/// The cited reference figures printed with every decision result (Brian2's runs and mgiv's seed
/// spread at 1.0 mM, 4 s): data/neuro/decision-reference.toml.
const DECISION_REFERENCE_FILE: &str = include_str!("../../../data/neuro/decision-reference.toml");

#[derive(Debug, serde::Deserialize)]
struct DecisionReference {
    brian2: Brian2Runs,
    mgiv_seed_spread: SeedSpread,
}

#[derive(Debug, serde::Deserialize)]
struct Brian2Runs {
    version: String,
    mg_mmol_l: f64,
    seconds: f64,
    runs: u32,
    population_1_won: u32,
    e_rate_hz: [f64; 2],
    i_rate_hz: [f64; 2],
}

#[derive(Debug, serde::Deserialize)]
struct SeedSpread {
    seeds: u32,
    e_single_seed_hz: [f64; 2],
    i_single_seed_hz: [f64; 2],
    e_seed1_hz: f64,
    e_mean_hz: f64,
    i_mean_hz: f64,
}

static DECISION_REFERENCE: std::sync::LazyLock<Result<DecisionReference, String>> =
    std::sync::LazyLock::new(|| {
        toml::from_str(DECISION_REFERENCE_FILE)
            .map_err(|e| format!("data/neuro/decision-reference.toml: {e}"))
    });

fn decision_reference() -> Result<&'static DecisionReference> {
    DECISION_REFERENCE.as_ref().map_err(|e| anyhow!("{e}"))
}

/// Brian2's runs at 1.0 mM, 4 s, as one line: (JSON form, table form).
fn brian2_reference() -> Result<(String, String)> {
    let b = &decision_reference()?.brian2;
    let rates = format!(
        "E {:.2}-{:.2} Hz, I {:.2}-{:.2} Hz",
        b.e_rate_hz[0], b.e_rate_hz[1], b.i_rate_hz[0], b.i_rate_hz[1]
    );
    let won = if b.population_1_won == b.runs {
        "wins".to_string()
    } else {
        format!("won {}/{}", b.population_1_won, b.runs)
    };
    Ok((
        format!(
            "Brian2 {}, {:.1} mM, {} s: {rates}, population 1 won in {}/{} runs (brain.md §8.2)",
            b.version, b.mg_mmol_l, b.seconds, b.population_1_won, b.runs
        ),
        format!(
            "Brian2 reference at {:.1} mM, {} s: {rates}, population 1 {won} (brain.md §8.2).",
            b.mg_mmol_l, b.seconds
        ),
    ))
}

/// What one seed's rates mean beside the Brian2 band (docs/NEURO.md §6: 10 seeds).
pub fn seed_spread_note() -> Result<String> {
    let r = decision_reference()?;
    let (b, s) = (&r.brian2, &r.mgiv_seed_spread);
    Ok(format!(
        "One seed is one sample: at {:.1} mM single seeds give E {:.2}-{:.2} Hz and I {:.2}-{:.2} Hz \
(mgiv seeds 1-{}, {} s; seed 1: E {:.2} Hz), a spread that covers the Brian2 band; the {}-seed mean (E {:.2}, I {:.2} Hz) lies \
inside it. Compare means over seeds (--seeds N), not one run (docs/NEURO.md).",
        b.mg_mmol_l,
        s.e_single_seed_hz[0],
        s.e_single_seed_hz[1],
        s.i_single_seed_hz[0],
        s.i_single_seed_hz[1],
        s.seeds,
        b.seconds,
        s.e_seed1_hz,
        s.seeds,
        s.e_mean_hz,
        s.i_mean_hz
    ))
}

// ---------------------------------------------------------------------------------------------
// Magnesium input

/// Ionised CSF magnesium time course `(t_h, mg_mm)` predicted for `regimen` in `patient`, over
/// `[0, horizon_h]` hours: `mgiv_clinical::brain::csf_ionised_drive` on the patient's context.
fn csf_ionised_time_course(
    regimen: &str,
    patient: &crate::common::PatientArgs,
    horizon_h: f64,
) -> Result<Vec<(f64, f64)>> {
    let ctx = crate::common::context_for(patient, None, None)?;
    let (sim, drive) = mgiv_clinical::brain::csf_ionised_drive(&ctx, regimen, horizon_h)?;
    crate::note!(
        "Mg drive: ionised CSF Mg predicted from serum model {} ({}) through the mgiv-brain blood-CSF model (point estimate; intervals in `mgiv brain`)",
        sim.model.id, sim.model.citation
    );
    Ok(drive)
}

/// One Mg condition to run: the concentration and, for a regimen, the hour it belongs to.
#[derive(Debug, Clone, Copy)]
struct MgPoint {
    mg_mm: f64,
    t_h: Option<f64>,
}

fn parse_hours(text: &str) -> Result<Vec<f64>> {
    let mut v = Vec::new();
    for part in text.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let h: f64 = part
            .parse()
            .map_err(|_| anyhow!("invalid value for `at-h`: '{part}' (allowed: comma-separated hours >= 0, e.g. 0,1,2,4)"))?;
        if !(h.is_finite() && h >= 0.0) {
            bail!("invalid value for `at-h`: {h} (allowed: hours >= 0)");
        }
        v.push(h);
    }
    if v.is_empty() {
        bail!("invalid value for `at-h`: '{text}' (allowed: at least one hour)");
    }
    Ok(v)
}

impl MgArgs {
    fn block(&self) -> Result<MgBlock> {
        Ok(MgBlock::preset(MgBlockPreset::parse(&self.block)?))
    }

    fn points(&self) -> Result<Vec<MgPoint>> {
        if let Some(regimen) = &self.regimen {
            let hours = match &self.at_h {
                Some(t) => parse_hours(t)?,
                None => vec![0.0, 1.0, 2.0, 4.0, 8.0, 12.0, 24.0],
            };
            let horizon = hours.iter().cloned().fold(1.0, f64::max);
            let tc = csf_ionised_time_course(regimen, &self.patient, horizon)?;
            let drive = MgDrive::time_course(tc)?;
            return Ok(hours
                .into_iter()
                .map(|t| MgPoint {
                    mg_mm: drive.mg_mm_at_h(t),
                    t_h: Some(t),
                })
                .collect());
        }
        let spec = MgSpec::parse(self.mg.as_deref().unwrap_or("1.0"))?;
        Ok(spec
            .values()
            .into_iter()
            .map(|mg_mm| MgPoint { mg_mm, t_h: None })
            .collect())
    }
}

fn provenance(model: &str, source: &str, evidence: &str) -> Value {
    json!({ "model": model, "source": source, "evidence": evidence, "scope_note": SCOPE_NOTE, "mgiv_version": env!("CARGO_PKG_VERSION"), })
}

const DECISION_MODEL: &str = DECISION_CITATION.model;
const DECISION_SOURCE: &str = DECISION_CITATION.source;
const DECISION_EVIDENCE: &str = DECISION_CITATION.evidence;

// ---------------------------------------------------------------------------------------------
// decision

fn progress_printer(label: String) -> impl FnMut(f64) {
    let tty = std::io::stderr().is_terminal();
    let mut last = -1i64;
    move |f: f64| {
        if !tty {
            return;
        }
        let pct = (f * 100.0).floor() as i64;
        if pct != last && (pct % 5 == 0 || pct == 100) {
            last = pct;
            let mut e = std::io::stderr();
            let _ = write!(e, "\r{label}: {pct:3}%");
            if pct >= 100 {
                let _ = writeln!(e);
            }
            let _ = e.flush();
        }
    }
}

/// The reference decision configuration with the front end's limits on seconds and threads
/// checked (\[Mg\] 1.0 mM and seed 1 until set).
fn decision_config(block: MgBlock, seconds: f64, threads: usize) -> Result<DecisionConfig> {
    if !(seconds.is_finite() && seconds > 0.0 && seconds <= MAX_DECISION_SECONDS) {
        anyhow::bail!(
            "invalid --seconds {seconds} (allowed: above 0 and at most {MAX_DECISION_SECONDS} biological seconds per run; the reference runs are 3-4 s)"
        );
    }
    if !(1..=MAX_DECISION_THREADS).contains(&threads) {
        anyhow::bail!("invalid --threads {threads} (allowed: 1 to {MAX_DECISION_THREADS})");
    }
    let mut cfg = DecisionConfig::reference(1.0, seconds, 1);
    cfg.block = block;
    cfg.threads = threads;
    Ok(cfg)
}

/// A progress bar of one run, keyed by (\[Mg\] bits, seed).
type RunProgress = ((u64, u64), Box<dyn FnMut(f64)>);

/// Progress bar per run and, when stderr is not a terminal, one line per finished run.
struct SweepPrinter {
    log_runs: bool,
    current: Option<RunProgress>,
}

impl SweepObserver for SweepPrinter {
    fn progress(&mut self, mg_mm: f64, seed: u64, fraction: f64) {
        let key = (mg_mm.to_bits(), seed);
        if self.current.as_ref().map(|c| c.0) != Some(key) {
            let label = format!("decision Mg {mg_mm:.3} mM seed {seed}");
            self.current = Some((key, Box::new(progress_printer(label))));
        }
        if let Some((_, p)) = &mut self.current {
            p(fraction);
        }
    }

    fn finished(&mut self, mg_mm: f64, seed: u64, r: &DecisionResult) {
        self.current = None;
        if self.log_runs {
            eprintln!(
                "decision Mg {mg_mm:.3} mM seed {seed}: E {:.3} Hz, I {:.3} Hz",
                r.rate_e_hz, r.rate_i_hz
            );
        }
    }
}

fn run_one_decision(
    mg: MgPoint,
    block: MgBlock,
    seconds: f64,
    seed: u64,
    threads: usize,
    record: bool,
) -> Result<DecisionResult> {
    let mut cfg = decision_config(block, seconds, threads)?;
    cfg.mg = MgDrive::Fixed(mg.mg_mm);
    cfg.seed = seed;
    cfg.record_selective_spikes = record;
    let label = format!("decision Mg {:.3} mM seed {seed}", mg.mg_mm);
    let mut prog = progress_printer(label);
    Ok(run_decision_with_progress(&cfg, &mut prog)?)
}

fn decision_json(r: &DecisionResult, mg: MgPoint, block: &MgBlock) -> Value {
    json!({
        "mg_mm": mg.mg_mm,
        "t_h": mg.t_h,
        "block": block.source,
        "seconds": r.seconds,
        "seed": r.seed,
        "threads": r.threads,
        "rate_e_hz": r.rate_e_hz,
        "rate_i_hz": r.rate_i_hz,
        "pop_spikes": r.pop_spikes,
        "nonselective_spikes": r.nonselective_spikes,
        "inh_spikes": r.inh_spikes,
        "late_stim_rate_hz": r.late_stim_rate_hz,
        "winner": r.winner,
        "winner_rule": winner_rule(),
        "wall_s": r.wall_s,
    })
}

fn decision(a: DecisionArgs) -> Result<()> {
    let block = a.mg.block()?;
    let points = a.mg.points()?;
    if a.raster.is_some() && points.len() > 1 {
        bail!(
            "invalid use of `raster`: give a single --mg value with --raster (got {} conditions)",
            points.len()
        );
    }
    if let Some(p) = &a.raster {
        check_plot_path(p, "raster")?;
    }
    let mut runs = Vec::new();
    for &mg in &points {
        let r = run_one_decision(mg, block, a.seconds, a.seed, a.threads, a.raster.is_some())?;
        if let Some(path) = &a.raster {
            write_raster(path, &r).with_context(|| format!("writing raster {}", path.display()))?;
        }
        runs.push((mg, r));
    }
    match a.format {
        Format::Json => {
            let mut out = if runs.len() == 1 {
                decision_json(&runs[0].1, runs[0].0, &block)
            } else {
                json!({ "runs": runs.iter().map(|(m, r)| decision_json(r, *m, &block)).collect::<Vec<_>>() })
            };
            if let (Some(o), Value::Object(p)) = (
                out.as_object_mut(),
                provenance(DECISION_MODEL, DECISION_SOURCE, DECISION_EVIDENCE),
            ) {
                o.extend(p);
                o.insert("seed_spread_note".into(), json!(seed_spread_note()?));
                o.insert("brian2_reference".into(), json!(brian2_reference()?.0));
            }
            println!("{}", serde_json::to_string_pretty(&out)?);
        }
        Format::Table => {
            println!("model:    {DECISION_MODEL}");
            println!("source:   {DECISION_SOURCE}");
            println!("evidence: {DECISION_EVIDENCE}");
            println!("note:     {SCOPE_NOTE}");
            println!("winner:   {}", winner_rule());
            println!();
            println!(
                "{:>7} {:>8} {:>5} {:>9} {:>9} {:>8} {:>8} {:>7} {:>8}",
                "t_h",
                "mg_mm",
                "seed",
                "rate_e_hz",
                "rate_i_hz",
                "pop1",
                "pop2",
                "winner",
                "wall_s"
            );
            for (mg, r) in &runs {
                println!(
                    "{:>7} {:>8.3} {:>5} {:>9.3} {:>9.3} {:>8} {:>8} {:>7} {:>8.3}",
                    mg.t_h.map(|t| format!("{t}")).unwrap_or_else(|| "-".into()),
                    mg.mg_mm,
                    r.seed,
                    r.rate_e_hz,
                    r.rate_i_hz,
                    r.pop_spikes[0],
                    r.pop_spikes[1],
                    r.winner
                        .map(|w| (w + 1).to_string())
                        .unwrap_or_else(|| "none".into()),
                    r.wall_s
                );
            }
            println!();
            println!("{}", brian2_reference()?.1);
            println!("{}", seed_spread_note()?);
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// plasticity

enum Rule {
    Gb(GbParams),
    Shouval,
}

fn parse_rule(s: &str) -> Result<Rule> {
    if s.trim().eq_ignore_ascii_case("shouval") {
        Ok(Rule::Shouval)
    } else {
        Ok(Rule::Gb(GbParams::by_name(s)?))
    }
}

impl ProtocolArgs {
    /// The protocol with these arguments; what they leave unset (`--hz`, the intra-burst
    /// frequency) is the standard protocol's (data/neuro/stimulation-protocols.toml).
    fn build(&self, dt_ms: f64, pairs: u32, hz: Option<f64>) -> Result<Protocol> {
        let std = standard_protocols();
        Ok(match self.protocol {
            ProtocolKind::Pairing => Protocol::pairing(dt_ms, pairs, hz.unwrap_or(std.pairing.hz))?,
            ProtocolKind::Tetanus => Protocol::tetanus(hz.unwrap_or(std.tetanus.hz), self.pulses)?,
            ProtocolKind::ThetaBurst => Protocol::theta_burst(
                self.bursts,
                self.spikes_per_burst,
                std.theta_burst.intra_hz,
                self.burst_hz,
            )?,
        })
    }
}

fn rule_provenance(rule: &Rule) -> Value {
    match rule {
        Rule::Gb(p) => provenance(
            &format!("Graupner-Brunel 2012 calcium-based rule, parameter set {} (exact calcium trace, analytic readout)", p.name),
            "Graupner & Brunel 2012 PNAS 109:3991 (+ correction 10.1073/pnas.1220044110); parameters from the authors' code \
mgraupe/CalciumBasedPlasticityModel synapticChange.py (brain.md §4.2, brain-2.md §7.2)",
            "Rule fitted to slice/culture STDP data (theoretical). Mg enters by scaling the NMDA-mediated C_pre with the \
Jahr-Stevens block ratio at -65 mV relative to 1.0 mM: a modelling assumption (mechanism strong, magnitude model-derived). \
Acute block only: more Mg predicts less NMDA Ca and less LTP; chronic Slutsky-type enhancement is not modelled.",
        ),
        Rule::Shouval => provenance(
            "Shouval, Bear & Cooper 2002 calcium-control rule (NMDA Ca current with Mg block, BPAP + ADP, Euler dt 0.1 ms)",
            "Shouval HZ, Bear MF, Cooper LN 2002 PNAS 99:10831; implementation folmez/CaDP-MatLab (brain.md §4.1)",
            "Theoretical rule; Mg enters mechanistically through the Jahr-Stevens block of the NMDA Ca current. Acute block \
only; chronic Slutsky-type effects are not modelled.",
        ),
    }
}

fn plasticity_point(
    rule: &Rule,
    proto: &Protocol,
    mg_mm: f64,
    block: MgBlock,
) -> Result<(f64, Value)> {
    Ok(match rule {
        Rule::Gb(p) => {
            let mut m = GbMg::new(mg_mm)?;
            m.block = block;
            let r = gb::analytic(p, proto, &m);
            let v = json!({
                "synaptic_change": r.synaptic_change,
                "p_up": r.p_up, "p_down": r.p_down,
                "alpha_d": r.alpha_d, "alpha_p": r.alpha_p,
                "rho_bar": if r.rho_bar.is_finite() { json!(r.rho_bar) } else { Value::Null },
                "tau_eff_s": if r.tau_eff_s.is_finite() { json!(r.tau_eff_s) } else { Value::Null },
                "c_pre_eff": r.c_pre_eff,
                "time_above_theta_d_s": r.time_above_d_s,
                "time_above_theta_p_s": r.time_above_p_s,
            });
            (r.synaptic_change, v)
        }
        Rule::Shouval => {
            let params = match proto.post_ms.is_empty() {
                true => ShouvalParams::rate(),
                false => ShouvalParams::pairing(),
            };
            let r = shouval::simulate(&params, proto, &block, mg_mm)?;
            (
                r.synaptic_change,
                json!({ "synaptic_change": r.synaptic_change, "w_final": r.w_final, "w_init": params.w_init, "ca_peak_um": r.ca_peak_um }),
            )
        }
    })
}

fn plasticity(a: PlasticityArgs) -> Result<()> {
    let rule = parse_rule(&a.protocol.rule)?;
    let block = a.mg.block()?;
    let proto = a
        .protocol
        .build(a.protocol.dt_ms, a.protocol.pairs, a.protocol.hz)?;
    let points = a.mg.points()?;
    if a.simulate.is_some() && !matches!(rule, Rule::Gb(_)) {
        bail!(
            "invalid use of `simulate`: only for Graupner-Brunel rules (got rule '{}')",
            a.protocol.rule
        );
    }
    let mut rows = Vec::new();
    for mg in &points {
        let (change, mut v) = plasticity_point(&rule, &proto, mg.mg_mm, block)?;
        if let (Some(n), Rule::Gb(p)) = (a.simulate, &rule) {
            let mut m = GbMg::new(mg.mg_mm)?;
            m.block = block;
            let s = gb::simulate(p, &proto, &m, n, a.seed, 0.5)?;
            v["simulated"] = json!({ "n_per_state": n, "seed": a.seed, "synaptic_change": s.synaptic_change, "p_up": s.p_up, "p_down": s.p_down });
        }
        v["mg_mm"] = json!(mg.mg_mm);
        v["t_h"] = json!(mg.t_h);
        rows.push((mg, change, v));
    }
    let prov = rule_provenance(&rule);
    match a.format {
        Format::Json => {
            let mut out = if rows.len() == 1 {
                rows[0].2.clone()
            } else {
                json!({ "runs": rows.iter().map(|r| r.2.clone()).collect::<Vec<_>>() })
            };
            if let (Some(o), Value::Object(p)) = (out.as_object_mut(), prov) {
                o.insert("rule".into(), json!(a.protocol.rule.to_ascii_lowercase()));
                o.insert("protocol".into(), json!(proto.name));
                o.insert("block".into(), json!(block.source));
                o.extend(p);
            }
            println!("{}", serde_json::to_string_pretty(&out)?);
        }
        Format::Table => {
            for key in ["model", "source", "evidence", "scope_note"] {
                println!("{key:<10} {}", prov[key].as_str().unwrap_or(""));
            }
            println!("{:<10} {}", "protocol", proto.name);
            println!();
            println!(
                "{:>7} {:>8} {:>16} {:>12}",
                "t_h", "mg_mm", "synaptic_change", "simulated"
            );
            for (mg, change, v) in &rows {
                println!(
                    "{:>7} {:>8.3} {:>16.4} {:>12}",
                    mg.t_h.map(|t| format!("{t}")).unwrap_or_else(|| "-".into()),
                    mg.mg_mm,
                    change,
                    v.get("simulated")
                        .and_then(|s| s["synaptic_change"].as_f64())
                        .map(|x| format!("{x:.4}"))
                        .unwrap_or_else(|| "-".into())
                );
            }
            println!();
            println!("synaptic_change = synaptic strength after / before (1 = no change).");
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// sweep

fn parse_range(text: &str, field: &str) -> Result<Vec<f64>> {
    let p: Vec<&str> = text.split(':').map(str::trim).collect();
    let nums: Result<Vec<f64>, _> = p.iter().map(|s| s.parse::<f64>()).collect();
    match (p.len(), nums) {
        (3, Ok(n)) if n.iter().all(|x| x.is_finite()) && n[2] > 0.0 && n[1] >= n[0] => {
            let count = ((n[1] - n[0]) / n[2] + 1e-9).floor() as usize + 1;
            if count > 10_000 {
                bail!("invalid value for `{field}`: '{text}' (allowed: at most 10000 points)");
            }
            Ok((0..count).map(|k| ((n[0] + k as f64 * n[2]) * 1e9).round() / 1e9).collect())
        }
        _ => bail!("invalid value for `{field}`: '{text}' (allowed: START:STOP:STEP with STEP > 0 and START <= STOP, e.g. -100:100:5)"),
    }
}

/// One curve of a sweep: its legend label and its points.
struct Curve {
    label: String,
    x: Vec<f64>,
    y: Vec<f64>,
}

impl Curve {
    fn new(label: impl Into<String>) -> Curve {
        Curve {
            label: label.into(),
            x: vec![],
            y: vec![],
        }
    }
}

/// What a sweep computed: the curves, the short names of their axes (the JSON keys; see
/// [`axis_label`] for the plot) and the model's provenance.
struct SweepResult {
    x_name: String,
    y_name: String,
    curves: Vec<Curve>,
    prov: Value,
}

/// The plasticity x axis given by `--x NAME=START:STOP:STEP`.
#[derive(Debug, Clone, Copy)]
enum SweepX {
    DtMs,
    Pairs,
    Hz,
}

impl SweepX {
    /// The short name of the axis (JSON `x_name`, table header).
    fn name(self) -> &'static str {
        match self {
            SweepX::DtMs => "dt_ms",
            SweepX::Pairs => "pairs",
            SweepX::Hz => "hz",
        }
    }

    /// The axis and its values from `--x NAME=START:STOP:STEP` (the range is checked before
    /// the name).
    fn parse(spec: &str) -> Result<(SweepX, Vec<f64>)> {
        let (name, range) = spec
            .split_once('=')
            .ok_or_else(|| anyhow!("invalid value for `x`: '{spec}' (allowed: NAME=START:STOP:STEP with NAME dt-ms, pairs or hz)"))?;
        let xs = parse_range(range, "x")?;
        let axis = match name.trim() {
            "dt-ms" => SweepX::DtMs,
            "pairs" => SweepX::Pairs,
            "hz" => SweepX::Hz,
            other => bail!("invalid value for `x`: '{other}' (allowed: dt-ms, pairs, hz)"),
        };
        Ok((axis, xs))
    }

    /// The protocol of `p` with this axis set to `x` (the number of pairs must be whole, >= 1).
    fn protocol(self, p: &ProtocolArgs, x: f64) -> Result<Protocol> {
        match self {
            SweepX::DtMs => p.build(x, p.pairs, p.hz),
            SweepX::Pairs => {
                if x < 1.0 || x.fract() != 0.0 {
                    bail!("invalid value for `x` pairs: {x} (allowed: whole numbers >= 1)");
                }
                p.build(p.dt_ms, x as u32, p.hz)
            }
            SweepX::Hz => p.build(p.dt_ms, p.pairs, Some(x)),
        }
    }
}

/// Run `mgiv neuro sweep`: check the plot path, compute the curves, plot them, print them.
fn sweep(a: SweepArgs) -> Result<()> {
    if let Some(p) = &a.plot {
        check_plot_path(p, "plot")?;
    }
    let block = a.mg.block()?;
    let points = a.mg.points()?;
    let result = match a.target {
        SweepTarget::Plasticity => plasticity_curves(&a, &points, block)?,
        SweepTarget::Decision => decision_curves(&a, &points, block)?,
    };
    if let Some(path) = &a.plot {
        write_sweep_plot(path, &a, &result)?;
    }
    print_sweep(result, a.format)
}

/// `sweep plasticity`: synaptic change against Mg (one curve; for a regimen the x values are its
/// hours) or, with `--x`, against that variable (one curve per Mg point).
fn plasticity_curves(a: &SweepArgs, points: &[MgPoint], block: MgBlock) -> Result<SweepResult> {
    let rule = parse_rule(&a.protocol.rule)?;
    let mut curves = Vec::new();
    let x_name = match &a.x {
        None => {
            let mut c = Curve::new(a.protocol.rule.clone());
            let p = &a.protocol;
            let proto = p.build(p.dt_ms, p.pairs, p.hz)?;
            for mg in points {
                c.x.push(mg.t_h.unwrap_or(mg.mg_mm));
                c.y.push(plasticity_point(&rule, &proto, mg.mg_mm, block)?.0);
            }
            curves.push(c);
            sweep_x_name(points)
        }
        Some(spec) => {
            let (axis, xs) = SweepX::parse(spec)?;
            for mg in points {
                let mut c = Curve::new(match mg.t_h {
                    Some(t) => format!("t = {t} h (Mg {:.3} mM)", mg.mg_mm),
                    None => format!("Mg {:.3} mM", mg.mg_mm),
                });
                for &x in &xs {
                    let proto = axis.protocol(&a.protocol, x)?;
                    c.x.push(x);
                    c.y.push(plasticity_point(&rule, &proto, mg.mg_mm, block)?.0);
                }
                curves.push(c);
            }
            axis.name()
        }
    };
    Ok(SweepResult {
        x_name: x_name.to_string(),
        y_name: "synaptic_change".to_string(),
        curves,
        prov: rule_provenance(&rule),
    })
}

/// The x axis of a sweep over Mg points: the regimen's hours when the points come from a
/// regimen, else the Mg concentration.
fn sweep_x_name(points: &[MgPoint]) -> &'static str {
    if points.iter().any(|p| p.t_h.is_some()) {
        "t_h"
    } else {
        "mg_mm"
    }
}

/// `sweep decision`: E and I rates and the winner fraction (× 10) of the Wang network against
/// Mg (or the regimen's hours), each the mean over seeds 1..=`--seeds`.
fn decision_curves(a: &SweepArgs, points: &[MgPoint], block: MgBlock) -> Result<SweepResult> {
    if a.x.is_some() {
        bail!("invalid use of `x` with `sweep decision`: the x axis is Mg (give --mg START:STOP:STEP)");
    }
    if a.seeds == 0 || a.seeds > 1000 {
        bail!("invalid value for `seeds`: {} (allowed: 1..=1000)", a.seeds);
    }
    let mut e = Curve::new("E rate (Hz)");
    let mut i = Curve::new("I rate (Hz)");
    let mut w = Curve::new("winner fraction x 10");
    let template = decision_config(block, a.seconds, a.threads)?;
    let mg_mm: Vec<f64> = points.iter().map(|p| p.mg_mm).collect();
    let mut obs = SweepPrinter {
        log_runs: !std::io::stderr().is_terminal() && points.len() * a.seeds as usize > 1,
        current: None,
    };
    let sweep = decision_sweep(&template, &mg_mm, a.seeds, &mut obs)?;
    for (mg, sp) in points.iter().zip(&sweep) {
        let n = sp.runs as f64;
        let x = mg.t_h.unwrap_or(mg.mg_mm);
        let sw = sp.winners as f64;
        for (c, v) in [
            (&mut e, sp.rate_e_hz),
            (&mut i, sp.rate_i_hz),
            (&mut w, 10.0 * sw / n),
        ] {
            c.x.push(x);
            c.y.push(v);
        }
    }
    Ok(SweepResult {
        x_name: sweep_x_name(points).to_string(),
        y_name: "rate_hz".to_string(),
        curves: vec![e, i, w],
        prov: provenance(DECISION_MODEL, DECISION_SOURCE, DECISION_EVIDENCE),
    })
}

/// The `--plot` file of a sweep: its curves under a title naming the rule or the network and a
/// subtitle naming the model.
fn write_sweep_plot(path: &Path, a: &SweepArgs, s: &SweepResult) -> Result<()> {
    let title = match a.target {
        SweepTarget::Plasticity => format!(
            "Plasticity rule {} under magnesium: {}",
            a.protocol.rule,
            axis_label(&s.y_name)
        ),
        SweepTarget::Decision => format!(
            "Wang 2002 decision network under magnesium (mean of {} seed(s))",
            a.seeds
        ),
    };
    let subtitle = format!(
        "model: {} · a theoretical model: Mg effects are predictions, not observations",
        short(s.prov["model"].as_str().unwrap_or(""), 70)
    );
    write_curves(path, &title, &subtitle, &s.x_name, &s.y_name, &s.curves)
        .with_context(|| format!("writing plot {}", path.display()))
}

/// A sweep on standard output: JSON (axis names, curves, provenance) or a table (provenance,
/// then one block of x, y rows per curve).
fn print_sweep(s: SweepResult, format: Format) -> Result<()> {
    match format {
        Format::Json => {
            let mut out = json!({
                "x_name": s.x_name,
                "y_name": s.y_name,
                "curves": s.curves.iter().map(|c| json!({"label": c.label, "x": c.x, "y": c.y})).collect::<Vec<_>>(),
            });
            if let (Some(o), Value::Object(p)) = (out.as_object_mut(), s.prov) {
                o.extend(p);
            }
            println!("{}", serde_json::to_string_pretty(&out)?);
        }
        Format::Table => {
            for key in ["model", "source", "evidence", "scope_note"] {
                println!("{key:<10} {}", s.prov[key].as_str().unwrap_or(""));
            }
            for c in &s.curves {
                println!();
                println!("# {}", c.label);
                println!("{:>12} {:>16}", s.x_name, s.y_name);
                for (x, y) in c.x.iter().zip(&c.y) {
                    println!("{x:>12.4} {y:>16.4}");
                }
            }
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// plots

fn check_plot_path(path: &Path, field: &str) -> Result<()> {
    match path
        .extension()
        .and_then(|e| e.to_str())
        .map(|e| e.to_ascii_lowercase())
        .as_deref()
    {
        // the folder must exist too (checked before any computation)
        Some("png") | Some("svg") => {
            let dir = match path.parent() {
                Some(d) if !d.as_os_str().is_empty() => d,
                _ => Path::new("."),
            };
            if !dir.is_dir() {
                bail!(
                    "invalid value for `{field}`: '{}' (the folder '{}' does not exist)",
                    path.display(),
                    dir.display()
                );
            }
            Ok(())
        }
        _ => bail!(
            "invalid value for `{field}`: '{}' (allowed: a file name ending in .png or .svg)",
            path.display()
        ),
    }
}

fn perr<E: std::fmt::Debug>(e: E) -> anyhow::Error {
    anyhow!("plot error: {e:?}")
}

/// A readable axis name for a sweep variable (the JSON keeps the short machine names).
fn axis_label(name: &str) -> &str {
    match name {
        "mg_mm" => "extracellular Mg (mM)",
        "t_h" => "time since start of the regimen (h)",
        "dt_ms" => "spike timing Δt, post − pre (ms)",
        "pairs" => "number of pre/post pairings",
        "hz" => "pairing frequency (Hz)",
        "synaptic_change" => "synaptic change (model readout)",
        "rate_hz" => "rate (Hz); winner fraction × 10",
        other => other,
    }
}

/// The first clause of a provenance text, for a one-line subtitle.
fn short(text: &str, max_chars: usize) -> String {
    let first = text.split(" (").next().unwrap_or(text);
    if first.chars().count() <= max_chars {
        first.to_string()
    } else {
        let cut: String = first.chars().take(max_chars - 1).collect();
        format!("{}…", cut.trim_end())
    }
}

fn draw_raster<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    r: &DecisionResult,
) -> Result<()> {
    use crate::plot::{Legend, Swatch, OI_BLACK, OI_BLUE, OI_GREEN, OI_VERMILLION};
    let layout = crate::plot::layout_with_side(
        root,
        &format!(
            "Wang 2002 decision network at Mg {} mM (seed {})",
            crate::output::sig3(r.mg_mm_start),
            r.seed
        ),
        &format!(
            "model: Wang 2002 decision network (1600 E + 400 I LIF, NMDA with Jahr–Stevens Mg block) · {}",
            "a theoretical network: Mg effects are model predictions, not observations"
        ),
        4,
        40,
    )?;
    let (top, bottom) = layout
        .plot
        .split_vertically((layout.plot.dim_in_pixel().1 as f64 * 0.58) as u32);
    let t_ms = r.seconds * 1000.0;
    // both selective populations, fE·NE neurons each (Wang 2002, data/neuro/wang-2002.toml)
    let w = WangParams::default();
    let n_sel = 2.0 * ((w.f_e * w.n_e as f64) as usize) as f64;
    let mut c = ChartBuilder::on(&top)
        .caption(
            "spikes of the two selective populations",
            ("sans-serif", 14),
        )
        .margin(8)
        .x_label_area_size(25)
        .y_label_area_size(68)
        .build_cartesian_2d(0.0..t_ms, 0.0..n_sel)
        .map_err(perr)?;
    c.configure_mesh()
        .y_desc("neuron (pop 1 | pop 2)")
        .disable_mesh()
        .x_label_formatter(&|v| crate::output::sig3(*v))
        .y_label_formatter(&|v| crate::output::sig3(*v))
        .label_style(("sans-serif", 12))
        .draw()
        .map_err(perr)?;
    c.draw_series(r.selective_spikes.iter().map(|&(t, i)| {
        let col = if (i as f64) < n_sel / 2.0 {
            OI_VERMILLION
        } else {
            OI_BLUE
        };
        Circle::new((t, i as f64), 1, col.filled())
    }))
    .map_err(perr)?;
    let max_rate = r.rates_hz.iter().flatten().cloned().fold(5.0, f64::max) * 1.1;
    let mut c2 = ChartBuilder::on(&bottom)
        .caption("population rates", ("sans-serif", 14))
        .margin(8)
        .x_label_area_size(40)
        .y_label_area_size(68)
        .build_cartesian_2d(0.0..t_ms, 0.0..max_rate)
        .map_err(perr)?;
    c2.configure_mesh()
        .x_desc("time (ms)")
        .y_desc("rate (Hz)")
        .bold_line_style(RGBColor(228, 228, 228))
        .light_line_style(WHITE.mix(0.0))
        .x_label_formatter(&|v| crate::output::sig3(*v))
        .y_label_formatter(&|v| crate::output::sig3(*v))
        .label_style(("sans-serif", 12))
        .draw()
        .map_err(perr)?;
    let mut legend = Legend::default();
    for (g, col, label) in [
        (0usize, OI_VERMILLION, "selective pop 1"),
        (1, OI_BLUE, "selective pop 2"),
        (2, OI_BLACK, "non-selective E"),
        (3, OI_GREEN, "inhibitory"),
    ] {
        let pts: Vec<(f64, f64)> = r.rates_hz[g]
            .iter()
            .enumerate()
            .map(|(b, &v)| ((b as f64 + 0.5) * r.rate_bin_ms, v))
            .collect();
        c2.draw_series(LineSeries::new(pts, col.stroke_width(2)))
            .map_err(perr)?;
        legend.add(Swatch::Line(col, 2), label);
    }
    legend.draw(&layout)
}

fn write_raster(path: &Path, r: &DecisionResult) -> Result<()> {
    crate::plot_to_file!(path, (1100, 760), draw_raster, r)
}

fn draw_curves<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    title: &str,
    subtitle: &str,
    x_name: &str,
    y_name: &str,
    curves: &[Curve],
) -> Result<()> {
    use crate::plot::{Legend, Swatch, PALETTE};
    let xs = curves.iter().flat_map(|c| c.x.iter().cloned());
    let ys = curves
        .iter()
        .flat_map(|c| c.y.iter().cloned())
        .filter(|y| y.is_finite());
    let (x0, x1) = xs.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), x| {
        (a.min(x), b.max(x))
    });
    let (y0, y1) = ys.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), y| {
        (a.min(y), b.max(y))
    });
    if !(x0.is_finite() && y0.is_finite()) {
        bail!("nothing to plot");
    }
    let (x0, x1) = if x1 > x0 {
        (x0, x1)
    } else {
        (x0 - 1.0, x1 + 1.0)
    };
    let pad = ((y1 - y0) * 0.08).max(0.02);
    let layout = crate::plot::layout_with_side(root, title, subtitle, curves.len(), 40)?;
    let mut c = ChartBuilder::on(&layout.plot)
        .margin(10)
        .margin_right(16)
        .x_label_area_size(48)
        .y_label_area_size(68)
        .build_cartesian_2d(x0..x1, (y0 - pad)..(y1 + pad))
        .map_err(perr)?;
    c.configure_mesh()
        .x_desc(axis_label(x_name))
        .y_desc(axis_label(y_name))
        .bold_line_style(RGBColor(228, 228, 228))
        .light_line_style(WHITE.mix(0.0))
        .x_label_formatter(&|v| crate::output::sig3(*v))
        .y_label_formatter(&|v| crate::output::sig3(*v))
        .label_style(("sans-serif", 13))
        .draw()
        .map_err(perr)?;
    let mut legend = Legend::default();
    for (k, cv) in curves.iter().enumerate() {
        let col = PALETTE[k % PALETTE.len()];
        let pts: Vec<(f64, f64)> =
            cv.x.iter()
                .cloned()
                .zip(cv.y.iter().cloned())
                .filter(|p| p.1.is_finite())
                .collect();
        c.draw_series(LineSeries::new(pts.clone(), col.stroke_width(3)))
            .map_err(perr)?;
        c.draw_series(pts.into_iter().map(|p| Circle::new(p, 4, col.filled())))
            .map_err(perr)?;
        legend.add(Swatch::Line(col, 3), cv.label.clone());
    }
    legend.draw(&layout)
}

fn write_curves(
    path: &Path,
    title: &str,
    subtitle: &str,
    x_name: &str,
    y_name: &str,
    curves: &[Curve],
) -> Result<()> {
    crate::plot_to_file!(
        path,
        (1100, 700),
        draw_curves,
        title,
        subtitle,
        x_name,
        y_name,
        curves
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decision_reference_figures_are_read_from_their_data_file() {
        assert_eq!(
            seed_spread_note().unwrap(),
            "One seed is one sample: at 1.0 mM single seeds give E 4.27-5.41 Hz and I 10.50-11.38 Hz \
(mgiv seeds 1-10, 4 s; seed 1: E 5.00 Hz), a spread that covers the Brian2 band; the 10-seed mean (E 4.89, I 10.99 Hz) lies \
inside it. Compare means over seeds (--seeds N), not one run (docs/NEURO.md)."
        );
        let (json_form, table_form) = brian2_reference().unwrap();
        assert_eq!(
            json_form,
            "Brian2 2.9.0 cpp_standalone, 1.0 mM, 4 s: E 4.64-4.92 Hz, I 10.69-11.07 Hz, population 1 won in 4/4 runs (brain.md §8.2)"
        );
        assert_eq!(
            table_form,
            "Brian2 reference at 1.0 mM, 4 s: E 4.64-4.92 Hz, I 10.69-11.07 Hz, population 1 wins (brain.md §8.2)."
        );
    }

    fn mg_args(mg: Option<&str>, regimen: Option<&str>) -> MgArgs {
        MgArgs {
            mg: mg.map(String::from),
            block: "jahr-stevens".into(),
            regimen: regimen.map(String::from),
            at_h: None,
            patient: crate::common::PatientArgs::default(),
        }
    }

    #[test]
    fn mg_fixed_and_sweep() {
        let p = mg_args(Some("1.2"), None).points().unwrap();
        assert_eq!(p.len(), 1);
        assert_eq!(p[0].mg_mm, 1.2);
        let p = mg_args(Some("0.8:2.0:0.1"), None).points().unwrap();
        assert_eq!(p.len(), 13);
        assert_eq!(p[12].mg_mm, 2.0);
        assert_eq!(mg_args(None, None).points().unwrap()[0].mg_mm, 1.0);
        let e = mg_args(Some("0.8:2.0"), None)
            .points()
            .unwrap_err()
            .to_string();
        assert!(e.contains("`mg`"), "{e}");
    }

    #[test]
    fn regimen_drives_ionised_csf_mg() {
        // serum PK -> CSF model: at 0 h the baseline ionised CSF Mg (below 1 mM: ionised is
        // ~64 % of total CSF Mg), later a small rise (CSF changes by ~10-20 %, not 2x)
        let pts = mg_args(None, Some("4 g over 20 min, then 1 g/h for 24 h"))
            .points()
            .unwrap();
        assert!(pts.len() >= 2);
        let first = pts[0].mg_mm;
        let last = pts.last().unwrap().mg_mm;
        assert!(first > 0.5 && first < 1.0, "{first}");
        assert!(last > first && last < first * 1.3, "{first} -> {last}");
        // a regimen needing weight without it is a clear error
        let e = mg_args(None, Some("60 mg/kg over 15 min"))
            .points()
            .unwrap_err()
            .to_string();
        assert!(e.contains("weight"), "{e}");
    }

    #[test]
    fn hours_and_ranges_are_validated() {
        assert_eq!(parse_hours("0, 1,2.5").unwrap(), vec![0.0, 1.0, 2.5]);
        assert!(parse_hours("-1").unwrap_err().to_string().contains("at-h"));
        assert!(parse_hours("x").is_err());
        assert_eq!(
            parse_range("-10:10:5", "x").unwrap(),
            vec![-10.0, -5.0, 0.0, 5.0, 10.0]
        );
        assert!(parse_range("10:-10:5", "x")
            .unwrap_err()
            .to_string()
            .contains("`x`"));
        assert!(parse_range("0:1:0", "x").is_err());
    }

    #[test]
    fn plasticity_point_reproduces_gb_anchor() {
        // brain.md §10 case 9
        let rule = parse_rule("gb-dp").unwrap();
        let pr = Protocol::pairing(10.0, 60, 1.0).unwrap();
        let (c, v) = plasticity_point(&rule, &pr, 1.0, MgBlock::default()).unwrap();
        assert!((c - 1.22).abs() < 0.005);
        assert_eq!(v["synaptic_change"].as_f64(), Some(c));
        assert!(parse_rule("nope").is_err());
        assert!(matches!(parse_rule("Shouval").unwrap(), Rule::Shouval));
    }

    #[test]
    fn plot_paths_need_png_or_svg() {
        assert!(check_plot_path(Path::new("a.png"), "plot").is_ok());
        let e = check_plot_path(Path::new("no-such-folder-xyz/a.png"), "plot")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("no-such-folder-xyz") && e.contains("does not exist"),
            "{e}"
        );
        assert!(check_plot_path(Path::new("a.SVG"), "plot").is_ok());
        assert!(check_plot_path(Path::new("a.pdf"), "plot")
            .unwrap_err()
            .to_string()
            .contains("`plot`"));
    }
}
