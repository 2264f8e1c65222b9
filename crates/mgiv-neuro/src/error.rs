//! Error type for mgiv-neuro. Library code never panics on user input: every
//! invalid value is reported with the field name, the value and what is allowed.
use thiserror::Error;

/// Errors raised by the spiking-network and plasticity engines.
#[derive(Debug, Error, Clone, PartialEq)]
pub enum NeuroError {
    /// A numeric or textual parameter is outside its allowed set.
    #[error("invalid value for `{field}`: {value} (allowed: {allowed})")]
    InvalidParameter {
        field: &'static str,
        value: String,
        allowed: &'static str,
    },
    /// A network specification refers to something that does not exist or is inconsistent.
    #[error("invalid network specification: {0}")]
    InvalidNetwork(String),
    /// A requested resource (e.g. a thread pool) could not be created.
    #[error("runtime error: {0}")]
    Runtime(String),
}

/// Result alias used throughout the crate.
pub type Result<T> = std::result::Result<T, NeuroError>;

/// Check that `value` is finite and inside `[lo, hi]`; name the field otherwise.
pub(crate) fn check_range(
    field: &'static str,
    value: f64,
    lo: f64,
    hi: f64,
    allowed: &'static str,
) -> Result<f64> {
    if value.is_finite() && value >= lo && value <= hi {
        Ok(value)
    } else {
        Err(NeuroError::InvalidParameter {
            field,
            value: format!("{value}"),
            allowed,
        })
    }
}
