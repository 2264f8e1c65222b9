//! # mgiv-core
//!
//! The spine of mgiv: units and salts, regimens (parsed from clinician text, JSON or TOML),
//! patients, published magnesium population-PK models (as cited data files), exact and ODE
//! solvers, and one-patient simulation. No I/O: every input arrives as values or strings, every
//! output leaves as values; data files are compiled in.
//!
//! ```
//! use mgiv_core::{patient::PatientInput, regimen::Regimen, simulate};
//! let patient = PatientInput { weight_kg: Some(70.0), pregnant: true, pre_eclampsia: true, ..Default::default() }
//!     .validate().unwrap();
//! let regimen = Regimen::from_text("4 g over 20 min, then 1 g/h for 24 h", patient.weight_kg).unwrap();
//! let model = simulate::choose_model(None, &patient).unwrap();
//! let times = simulate::uniform_times(24.0, 1.0).unwrap();
//! let sim = simulate::simulate(&model, &patient, &regimen, &times).unwrap();
//! assert_eq!(sim.model.id, "du-2019");
//! assert!(sim.model.chosen_because.is_some()); // mgiv chose it, and says why
//! assert!(sim.serum_mmol_l[6] > 1.3 && sim.serum_mmol_l[6] < 2.2);
//! ```

pub mod calendar;
pub mod calibrate;
pub mod error;
pub mod model;
pub mod numerics;
pub mod optim;
pub mod patient;
pub mod ranges;
pub mod regimen;
pub mod simulate;
pub mod solver;
pub mod units;
pub mod validation;
pub mod warning;

pub use error::MgivError;
pub use warning::Warning;
