//! Calcium-based synaptic plasticity with the magnesium dependence carried by NMDA-mediated Ca²⁺.
//!
//! * [`gb`]: Graupner & Brunel 2012 *PNAS* 109:3991 — all nine published parameter sets
//!   (brain.md §4.2), exact calcium trace, analytic readout and stochastic simulation.
//! * [`shouval`]: Shouval, Bear & Cooper 2002 *PNAS* 99:10831 — as implemented in
//!   folmez/CaDP-MatLab (brain.md §4.1), with the Jahr–Stevens block evaluated at the Mg input.
//! * [`protocol`]: pairing (Δt, number of pairs, frequency), 100 Hz tetanus, theta burst, and the
//!   standard published protocols ([`protocol::standard_protocols`],
//!   `data/neuro/stimulation-protocols.toml`).
pub mod gb;
pub mod protocol;
pub mod shouval;

pub use protocol::{standard_protocols, Protocol, StandardProtocols};
