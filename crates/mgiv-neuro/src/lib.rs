//! # mgiv-neuro
//!
//! Spiking-network simulator with magnesium-dependent NMDA synapses and calcium-based plasticity,
//! driven by the extracellular magnesium concentration that a real IV regimen produces.
//!
//! * [`mg_block`]: NMDA Mg²⁺ block `B(V, [Mg]o)` (Jahr–Stevens default, other presets).
//! * [`mg_drive`]: fixed, swept or time-varying \[Mg\]o.
//! * [`wang2002`]: the Wang (2002) decision network exactly as in Brian2's example.
//! * [`network`]: general engine — conductance LIF / AdEx neurons, AMPA / NMDA / GABA-A synapses,
//!   dense or sparse random connectivity with delays, Poisson and spike-train inputs.
//! * [`plasticity`]: Graupner–Brunel 2012 (nine parameter sets) and Shouval 2002 rules with
//!   NMDA-mediated calcium carrying the Mg dependence; pairing, tetanus and theta-burst protocols.
//!
//! Scope statement (shown to users): this crate models the *acute* effect of extracellular Mg on
//! NMDA receptors (more Mg ⇒ more block ⇒ less NMDA current and less NMDA-mediated Ca²⁺). Chronic,
//! Slutsky-type effects of raised brain Mg (NR2B up-regulation, synapse number) are not modelled.
//!
//! Published parameters (Mg-block presets, Wang 2002, AdEx, Graupner–Brunel, Shouval) are read
//! from cited data files under `data/neuro/` (docs/NEURO.md, "Where the numbers live").
//!
//! Reproducibility: every random number comes from a stream keyed by (seed, kind, neuron), so a run
//! gives bit-identical results for a given seed on any number of threads.
mod data_file;
pub mod error;
pub mod fastmath;
pub mod mg_block;
pub mod mg_drive;
pub mod network;
pub mod plasticity;
pub mod rng;
pub mod wang2002;

pub use error::{NeuroError, Result};
pub use mg_block::{MgBlock, MgBlockPreset};
pub use mg_drive::{MgDrive, MgSpec};

/// One-line statement of what the models cover, for every user-facing output.
pub const SCOPE_NOTE: &str = "Acute NMDA-receptor Mg block only (Jahr-Stevens 1990 law, strong mechanistic evidence; \
magnitude at IV-achievable CSF Mg is modest). More Mg => less NMDA current and less NMDA-mediated Ca2+. \
Chronic (Slutsky-type) effects of raised brain Mg on synapses are NOT modelled; no clinical outcome is implied.";
