//! # mgiv-fit
//!
//! Population estimation for mgiv: FOCE-I (first-order conditional estimation with interaction)
//! of a linear 1- or 2-compartment magnesium model with an endogenous baseline, from a
//! NONMEM-format dataset read by `mgiv-data`. No I/O.
//!
//! - [`spec::EstimationModel`]: what a model TOML says about θ, Ω, σ, covariates and baseline.
//! - [`focei::fit`]: inner empirical-Bayes estimates with exact gradients (dual numbers,
//!   [`dual`]), outer BFGS on the exact gradient ([`grad`]; Nelder–Mead as option and fallback)
//!   on transformed parameters, covariance step (R, S, sandwich),
//!   RSE %, η-shrinkage; parallel over subjects with thread-independent results.
//! - [`saem::fit_saem`]: SAEM (Metropolis–Hastings chains per subject, stochastic approximation,
//!   closed-form M-step for Ω and the typical values with a random effect), sharing the
//!   likelihood with FOCE-I and reported at its FOCE-I objective.
//! - [`sim`]: reproducible simulated datasets (for recovery checks and benchmarks).

pub mod diagnostics;
pub mod dual;
pub mod export;
pub mod focei;
pub mod grad;
pub mod nonmem;
pub mod pred;
pub mod saem;
pub mod sbml;
pub mod sim;
pub mod spec;
pub mod vpc;

pub use focei::{fit, FitResult, FitSettings, Progress};
pub use saem::{fit_saem, SaemSettings};
pub use spec::EstimationModel;
