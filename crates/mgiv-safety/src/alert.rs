//! Alerts: what the plan tells the clinician, each with a severity, a rule code and a source.

use serde::{Deserialize, Serialize};
use std::fmt;

/// Severity, ordered: `Info < Caution < Warning < Stop`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// for the record; no action beyond the plan
    Info,
    /// act on it: monitor more closely or adjust
    Caution,
    /// a likely harm or a limit exceeded: change the plan or justify it
    Warning,
    /// do not give as written
    Stop,
}

impl Severity {
    pub const ALL: [Severity; 4] = [
        Severity::Info,
        Severity::Caution,
        Severity::Warning,
        Severity::Stop,
    ];
    pub fn label(self) -> &'static str {
        match self {
            Severity::Info => "INFO",
            Severity::Caution => "CAUTION",
            Severity::Warning => "WARNING",
            Severity::Stop => "STOP",
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Caution => "caution",
            Severity::Warning => "warning",
            Severity::Stop => "stop",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One alert.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Alert {
    pub severity: Severity,
    /// rule code (see data/rules/ and docs/SAFETY.md)
    pub code: String,
    pub title: String,
    /// the rule's message with the values for this plan, and where sources disagree, how
    pub message: String,
    pub source: String,
    /// predicted time (h from the start) the condition first holds, for level rules
    #[serde(skip_serializing_if = "Option::is_none")]
    pub time_h: Option<f64>,
}

/// Sort by severity, most severe first, keeping the order of equal ones.
pub fn sort_alerts(alerts: &mut [Alert]) {
    alerts.sort_by_key(|a| std::cmp::Reverse(a.severity));
}
