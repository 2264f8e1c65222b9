//! # mgiv-clinical
//!
//! The clinical layer every front end shares (CLI, web service, Python):
//!
//! - one [`context::ClinicalContext`]: patient, indication, model, population, target,
//!   thresholds and horizon, each with why it was chosen;
//! - [`adjust::safe_adjust`]: Bayesian TDM behind the safety engine (toxic measured levels first,
//!   implausible levels flagged, the recommendation run through the whole-order checks);
//! - [`trial::trial_setup`]: a virtual-population trial on the context, as a serialisable
//!   [`trial::TrialSpec`] whose shards merge exactly (distributed runs);
//! - the clinical scenario suite (`data/scenarios/*.toml`, [`scenario`]).
//!
//! No I/O.
//!
//! Exit codes shared by every clinical front end: [`EXIT_OK`] checked with no STOP,
//! [`EXIT_BAD_INPUT`] bad input, [`EXIT_STOP`] a STOP alert.

pub mod adjust;
pub mod brain;
pub mod context;
pub mod scenario;
pub mod trial;

/// Checked, no STOP alert (warnings may be present).
pub const EXIT_OK: i32 = 0;
/// Bad input (the error names the field, the value and what is allowed).
pub const EXIT_BAD_INPUT: i32 = 2;
/// A STOP alert: do not give as written / hold.
pub const EXIT_STOP: i32 = 3;
