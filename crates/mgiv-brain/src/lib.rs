//! # mgiv-brain: from serum to brain
//!
//! How much IV magnesium reaches the cerebrospinal fluid (CSF), and what that concentration does
//! to the four claimed brain effects, each with an evidence grade and its source. No I/O: the
//! fitted parameters, effect constants and grades are compiled in from `data/brain/*.toml`.
//!
//! ## The front-end API
//!
//! * [`csf::csf_from_serum`]`(times_h, serum_mmol_l, baseline_serum_mmol_l, &CsfOptions)` →
//!   [`csf::CsfCourse`]: CSF **total** and **ionised** Mg (mmol/L) at the same times, each with
//!   `_lo_`/`_hi_` interval vectors (default 90 %, 400 seeded parameter draws), plus the draws of
//!   ionised Mg for further propagation. Serum is total serum Mg; the series should resolve the
//!   regimen (a few minutes per step around boluses); the CSF starts at its baseline steady state.
//! * [`report::brain_report`]`(times_h, serum_mmol_l, baseline, report_times_h, &BrainOptions)` →
//!   [`report::BrainReport`]: points (serum, CSF with intervals, NMDA relative conductance, every
//!   effect as `{name, value, unit, evidence, source}`), summary, graded claims, what is not
//!   modelled, and a plain-language paragraph.
//! * [`effects`]: the individual laws (NMDA block presets and Woodhull form via `mgiv-neuro`,
//!   Dodge–Rahamimoff release, surface-charge shift, Lu 2002 BP, hypothetical vessel module,
//!   Graupner–Brunel/Shouval plasticity via `mgiv-neuro`, status bands, associative CRP).
//! * [`fit::fit_csf`]: the reproducible calibration behind `data/brain/csf-model.toml`.
//!
//! Model, fit and evidence: `docs/BRAIN.md`.
pub mod csf;
pub mod effects;
pub mod evidence;
pub mod fit;
pub mod report;
pub mod rng;

pub use csf::{csf_from_serum, CsfCourse, CsfOptions, CsfVariant};
pub use report::{brain_report, BrainOptions, BrainReport};
