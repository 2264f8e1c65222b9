//! # mgiv-pop
//!
//! Virtual populations, target attainment and Bayesian dose individualisation for IV magnesium.
//!
//! - [`population`]: covariate distributions of the populations mgiv serves (`pre-eclampsia`,
//!   `pregnant`, `adult` (in hospital), `icu`, `community`), each sourced, from `data/populations/`.
//! - [`popmodel`]: a model file's typical values, covariates, log-normal IIV (with correlations)
//!   and residual error, compiled for speed.
//! - [`rng`]: per-(seed, subject) random streams: results do not depend on threads or sharding.
//! - [`kernel`]: the per-subject exact modal solver with exact peak and time-to-target.
//! - [`grid`]: the same algebra on a fixed grid, batched over subjects (structure of arrays),
//!   used by trials whose schedule is the same for every subject.
//! - [`trial`]: `mgiv trial` — percentiles, target attainment and toxicity risk per regimen.
//! - [`tdm`]: `mgiv adjust` — MAP Bayesian estimation from measured levels with a Laplace
//!   posterior checked by importance sampling, forecasts and a recommended rate.
//!
//! No I/O: data files are compiled in; inputs and outputs are values.

pub mod grid;
pub mod kernel;
pub mod linalg;
pub mod popmodel;
pub mod population;
pub mod rng;
mod simd;
pub mod tdm;
pub mod trial;

/// Shorthand used by modules that report invalid input.
pub(crate) fn tdm_invalid(
    field: &str,
    value: impl std::fmt::Display,
    allowed: impl Into<String>,
) -> mgiv_core::MgivError {
    mgiv_core::error::invalid(field, value, allowed)
}
