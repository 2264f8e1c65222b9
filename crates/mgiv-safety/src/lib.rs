//! # mgiv-safety
//!
//! The clinical safety layer of mgiv: a library of standard magnesium protocols and a book of
//! safety rules, both as cited data files a pharmacist can review without reading Rust
//! (`data/protocols/*.toml`, `data/rules/*.toml`, compiled in with `include_str!`), dose-error
//! guardrails, and [`plan::plan`], which turns a protocol or a written regimen plus a patient into a
//! bedside plan: the regimen in g, mmol and pump mL/h, the predicted serum curve, target attainment,
//! every alert with its severity and source, the monitoring schedule and what to do for toxicity.
//!
//! No I/O. Nothing is refused silently: [`plan::plan`] always returns the whole plan, and a plan
//! with a `stop` alert says so ([`plan::Plan::has_stop`]); the caller decides what to do with it.
//!
//! ```
//! use mgiv_safety::plan::{plan, PlanInput};
//! use mgiv_safety::protocol::find_protocol;
//! use mgiv_core::patient::{Creatinine, PatientInput};
//! let p = find_protocol("zuspan").unwrap();
//! let input = PlanInput {
//!     protocol: Some(p),
//!     patient: PatientInput { weight_kg: Some(70.0), creatinine: Some(Creatinine::MgPerDl(0.8)),
//!         pregnant: true, pre_eclampsia: true, ..Default::default() },
//!     ..Default::default()
//! };
//! let plan = plan(&input).unwrap();
//! assert_eq!(plan.simulation.model.id, "du-2019");
//! assert!(!plan.has_stop());
//! ```

pub mod alert;
pub mod bag;
pub mod error;
pub mod guardrail;
pub mod indication;
pub mod names;
pub mod order;
pub mod plan;
pub mod protocol;
pub mod report;
pub mod rules;

pub use alert::{Alert, Severity};
pub use error::SafetyError;
