//! Errors. Bad input names the field, the value and what is allowed (or the known names).

use mgiv_core::MgivError;
use thiserror::Error;

#[derive(Debug, Clone, PartialEq, Error)]
pub enum SafetyError {
    /// An error from the core engine (invalid patient, regimen text, model).
    #[error(transparent)]
    Core(#[from] MgivError),
    /// A name mgiv does not know (protocol, condition, medication).
    #[error("unknown {field} '{value}' (known: {known})")]
    Unknown {
        field: String,
        value: String,
        known: String,
    },
    /// A value outside what is allowed.
    #[error("invalid {field}: {value} (allowed: {allowed})")]
    Invalid {
        field: String,
        value: String,
        allowed: String,
    },
    /// A built-in data file that does not parse or is inconsistent (a bug in the data, found by tests).
    #[error("data file {file}: {message}")]
    Data { file: String, message: String },
}

pub(crate) fn invalid(
    field: impl Into<String>,
    value: impl std::fmt::Display,
    allowed: impl Into<String>,
) -> SafetyError {
    SafetyError::Invalid {
        field: field.into(),
        value: value.to_string(),
        allowed: allowed.into(),
    }
}
