//! # mgiv-data
//!
//! Pharmacometric datasets for mgiv: NONMEM-format CSV (and the Pmetrics and Monolix column
//! conventions) read with full event semantics, checked with coded diagnostics, converted to
//! mgiv-core dosing events and observations per subject, and written back out. No I/O: text in,
//! values out.
//!
//! - [`read()`] parses text into a [`Dataset`] and a list of [`Diagnostic`]s (error / warning /
//!   info, row, column, what is expected). A dataset is returned only when there is no error.
//! - [`Dataset::subjects`] groups records into individuals; [`Subject::segments`] turns one
//!   individual's records into [`Segment`]s (one per reset) of [`mgiv_core::regimen::DoseEvent`]s
//!   and observations, with ADDL, SS, modelled rate/duration and same-time order resolved.
//! - [`predict`] evaluates a segment with mgiv-core's modal solver.
//! - [`write_nonmem`] writes a dataset back as canonical NONMEM CSV in its declared units.
//!
//! Units are declared, never guessed: DV in mmol/L, mg/dL or mEq/L; AMT in g of a named salt,
//! mmol or mEq; TIME in h, min or day. Inside, amounts are [`mgiv_core::units::MgAmount`],
//! concentrations [`mgiv_core::units::MgConc`] and times hours.

pub mod diag;
pub mod events;
pub mod read;
pub mod write;

pub use diag::{Diagnostic, Severity};
pub use events::{predict, EventOptions, ModelledInput, Segment, SegmentObservation};
pub use read::{
    read, Censoring, CovariateFill, Dataset, Dialect, Dose, DoseInput, Observation, ReadOptions,
    Record, SteadyState, Subject, TimeUnit,
};
pub use write::write_nonmem;
