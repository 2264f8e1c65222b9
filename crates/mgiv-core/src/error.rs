//! Errors. Every error that bad input can cause names the field, the value and what is allowed.

use thiserror::Error;

#[derive(Debug, Clone, PartialEq, Error)]
pub enum MgivError {
    /// A value outside what mgiv accepts.
    #[error("invalid {field}: {value} (allowed: {allowed})")]
    Invalid {
        field: String,
        value: String,
        allowed: String,
    },
    /// Regimen text that could not be parsed.
    #[error("{0}")]
    Parse(#[from] crate::regimen::ParseError),
    /// An unknown model id.
    #[error("unknown model '{id}' (known models: {known})")]
    UnknownModel { id: String, known: String },
    /// A model data file that does not describe a usable model.
    #[error("model file {id}: {message}")]
    ModelFile { id: String, message: String },
    /// A numerical failure (should not happen for valid input; reported rather than hidden).
    #[error("numerical error: {0}")]
    Numerical(String),
}

/// Shorthand for an [`MgivError::Invalid`].
pub fn invalid(
    field: impl Into<String>,
    value: impl std::fmt::Display,
    allowed: impl Into<String>,
) -> MgivError {
    MgivError::Invalid {
        field: field.into(),
        value: value.to_string(),
        allowed: allowed.into(),
    }
}

/// Check that `value` is finite and inside `[lo, hi]`.
pub fn check_range(
    field: &str,
    value: f64,
    lo: f64,
    hi: f64,
    unit: &str,
) -> Result<f64, MgivError> {
    if value.is_finite() && value >= lo && value <= hi {
        Ok(value)
    } else {
        Err(invalid(
            field,
            format!("{value} {unit}").trim_end(),
            format!("a number from {lo} to {hi} {unit}")
                .trim_end()
                .to_string(),
        ))
    }
}
