//! Coded diagnostics: what `mgiv check` prints.

use serde::Serialize;
use std::fmt;

/// How bad a finding is. Errors stop the dataset from being used; warnings and infos do not.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
    Info,
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Info => "info",
        })
    }
}

/// One finding about a dataset. `row` is the 1-based line number in the file (None: the whole
/// file); `column` the column name as written in the header.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Diagnostic {
    pub code: &'static str,
    pub severity: Severity,
    pub row: Option<usize>,
    pub column: Option<String>,
    pub message: String,
    pub expected: String,
}

impl Diagnostic {
    pub fn new(
        code: &'static str,
        severity: Severity,
        row: Option<usize>,
        column: Option<&str>,
        message: impl Into<String>,
        expected: impl Into<String>,
    ) -> Self {
        Diagnostic {
            code,
            severity,
            row,
            column: column.map(str::to_string),
            message: message.into(),
            expected: expected.into(),
        }
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.severity, self.code)?;
        if let Some(r) = self.row {
            write!(f, " row {r}")?;
        }
        if let Some(c) = &self.column {
            write!(f, " column {c}")?;
        }
        write!(f, ": {}", self.message)?;
        if !self.expected.is_empty() {
            write!(f, " (expected: {})", self.expected)?;
        }
        Ok(())
    }
}

/// Every code [`crate::read()`] can emit, with its severity and a one-line meaning (for docs and
/// `mgiv check --codes`).
pub const CODES: &[(&str, Severity, &str)] = &[
    ("E-EMPTY", Severity::Error, "no header or no data rows"),
    (
        "E-COLUMN-MISSING",
        Severity::Error,
        "a required column (ID, TIME, DV; AMT when doses) is absent",
    ),
    (
        "E-COLUMN-DUPLICATE",
        Severity::Error,
        "two columns with the same name",
    ),
    (
        "E-FIELD-COUNT",
        Severity::Error,
        "a row with more or fewer fields than the header",
    ),
    (
        "E-NUMBER",
        Severity::Error,
        "a value that is not a number in a numeric column",
    ),
    ("E-ID-MISSING", Severity::Error, "a row without an ID"),
    ("E-TIME-MISSING", Severity::Error, "a row without a TIME"),
    ("E-TIME-NEGATIVE", Severity::Error, "a negative TIME"),
    (
        "E-TIME-ORDER",
        Severity::Error,
        "TIME decreases within an ID (other than at a reset)",
    ),
    (
        "E-DATE",
        Severity::Error,
        "a DATE or clock TIME that cannot be read",
    ),
    ("E-EVID", Severity::Error, "EVID not in 0-4"),
    (
        "E-EVID-MDV",
        Severity::Error,
        "EVID and MDV contradict each other",
    ),
    (
        "E-DOSE-AMT",
        Severity::Error,
        "a dose record without a positive AMT",
    ),
    ("E-AMT-NEGATIVE", Severity::Error, "a negative AMT"),
    (
        "E-RATE",
        Severity::Error,
        "RATE negative other than -1 (modelled rate) or -2 (modelled duration)",
    ),
    (
        "E-RATE-DUR",
        Severity::Error,
        "both RATE and DUR given, or DUR negative",
    ),
    (
        "E-ADDL-II",
        Severity::Error,
        "ADDL without II, II without ADDL or SS, or a negative/fractional ADDL or II",
    ),
    (
        "E-SS",
        Severity::Error,
        "SS not in 0-3, or a steady-state record without II (except a constant SS infusion)",
    ),
    (
        "E-DV-MISSING",
        Severity::Error,
        "an observation (EVID 0, MDV 0) without DV",
    ),
    ("E-DV-NEGATIVE", Severity::Error, "a negative concentration"),
    (
        "E-OCC",
        Severity::Error,
        "OCC not a non-negative whole number",
    ),
    (
        "E-UNIT-UNKNOWN",
        Severity::Error,
        "a declared unit that mgiv does not know",
    ),
    (
        "E-UNIT-MISSING",
        Severity::Error,
        "the unit of DV or AMT is not declared",
    ),
    (
        "E-CMT",
        Severity::Error,
        "a compartment mgiv cannot map (doses: central or depot; observations: central)",
    ),
    (
        "E-CENS",
        Severity::Error,
        "CENS not in -1/0/1, BLQ not 0/1, or LLOQ negative",
    ),
    (
        "E-DUPLICATE-ROW",
        Severity::Error,
        "a row identical to an earlier row of the same ID",
    ),
    (
        "E-OUTPUT",
        Severity::Error,
        "more than one output type (DVID/YTYPE/OUTEQ); mgiv fits serum Mg only",
    ),
    (
        "W-OBS-SAME-TIME",
        Severity::Warning,
        "two observations of one ID at the same time with different DV",
    ),
    (
        "W-DV-IMPLAUSIBLE",
        Severity::Warning,
        "a serum Mg outside 0.1-10 mmol/L after unit conversion: check the declared unit",
    ),
    (
        "W-DV-ON-DOSE",
        Severity::Warning,
        "a DV on a dose or other non-observation record (ignored)",
    ),
    (
        "W-AMT-ON-OBS",
        Severity::Warning,
        "an AMT on an observation record (ignored)",
    ),
    (
        "W-ID-NONCONTIGUOUS",
        Severity::Warning,
        "an ID that reappears after another ID (a new individual, as NONMEM reads it)",
    ),
    (
        "W-NO-OBS",
        Severity::Warning,
        "an individual without observations",
    ),
    (
        "W-COVARIATE-MISSING",
        Severity::Warning,
        "a covariate missing on a row (filled by NOCB or LOCF)",
    ),
    (
        "W-BELOW-LLOQ",
        Severity::Warning,
        "DV below LLOQ but not flagged as censored",
    ),
    (
        "I-DIALECT",
        Severity::Info,
        "the column convention read (NONMEM, Pmetrics, Monolix)",
    ),
    (
        "I-EVID-INFERRED",
        Severity::Info,
        "no EVID column: EVID taken from AMT and MDV",
    ),
    (
        "I-COLUMN-IGNORED",
        Severity::Info,
        "a column that is neither a data item nor a numeric covariate",
    ),
    (
        "I-NO-BASELINE",
        Severity::Info,
        "an individual without a pre-dose sample (no per-subject baseline)",
    ),
    (
        "I-SUMMARY",
        Severity::Info,
        "individuals, observations, doses, covariates",
    ),
];
