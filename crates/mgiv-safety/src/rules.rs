//! The rule book: every safety rule with its code, severity, message and source, loaded from
//! `data/rules/*.toml` (compiled in). Code looks rules up by code; numbers that a rule tests
//! against (`limit`) live in the data file with their unit, which is checked on use.

use serde::Deserialize;
use std::sync::OnceLock;

use crate::alert::{Alert, Severity};
use crate::error::SafetyError;

/// The rule files, compiled in: (path, text).
pub const RULE_FILES: [(&str, &str); 6] = [
    (
        "data/rules/rates-and-limits.toml",
        include_str!("../../../data/rules/rates-and-limits.toml"),
    ),
    (
        "data/rules/levels.toml",
        include_str!("../../../data/rules/levels.toml"),
    ),
    (
        "data/rules/contraindications.toml",
        include_str!("../../../data/rules/contraindications.toml"),
    ),
    (
        "data/rules/monitoring-and-antidote.toml",
        include_str!("../../../data/rules/monitoring-and-antidote.toml"),
    ),
    (
        "data/rules/guardrails.toml",
        include_str!("../../../data/rules/guardrails.toml"),
    ),
    (
        "data/rules/order-and-context.toml",
        include_str!("../../../data/rules/order-and-context.toml"),
    ),
];

/// One rule as written in the data.
#[derive(Debug, Clone, PartialEq, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    pub code: String,
    pub severity: Severity,
    pub title: String,
    pub message: String,
    pub source: String,
    #[serde(default)]
    pub disagreement: Option<String>,
    #[serde(default)]
    pub limit: Option<f64>,
    #[serde(default)]
    pub limit_unit: Option<String>,
}

/// A condition or medication name mgiv recognises, and the rule it triggers.
#[derive(Debug, Clone, PartialEq, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct NameEntry {
    pub name: String,
    #[serde(default)]
    pub synonyms: Vec<String>,
    #[serde(default)]
    pub class: Option<String>,
    pub rule: String,
    /// rules whose objection this name removes (a pacemaker removes the heart-block STOP)
    #[serde(default)]
    pub relieves: Vec<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleFile {
    #[serde(default)]
    toxicity_steps: Vec<String>,
    #[serde(default)]
    rules: Vec<Rule>,
    #[serde(default)]
    conditions: Vec<NameEntry>,
    #[serde(default)]
    medications: Vec<NameEntry>,
}

/// All rules, names and toxicity steps.
#[derive(Debug, Clone, PartialEq)]
pub struct RuleBook {
    pub rules: Vec<Rule>,
    pub conditions: Vec<NameEntry>,
    pub medications: Vec<NameEntry>,
    /// what to do if toxicity appears, in order, with sources in the text
    pub toxicity_steps: Vec<String>,
}

/// Parse and check the rule files (each code unique, each name pointing to a known rule).
pub fn load_rulebook() -> Result<RuleBook, SafetyError> {
    let mut book = RuleBook {
        rules: Vec::new(),
        conditions: Vec::new(),
        medications: Vec::new(),
        toxicity_steps: Vec::new(),
    };
    for (path, text) in RULE_FILES {
        let f: RuleFile = toml::from_str(text).map_err(|e| SafetyError::Data {
            file: path.into(),
            message: e.to_string(),
        })?;
        book.rules.extend(f.rules);
        book.conditions.extend(f.conditions);
        book.medications.extend(f.medications);
        book.toxicity_steps.extend(f.toxicity_steps);
    }
    let data_err = |m: String| SafetyError::Data {
        file: "data/rules".into(),
        message: m,
    };
    for (i, r) in book.rules.iter().enumerate() {
        if book.rules[..i].iter().any(|o| o.code == r.code) {
            return Err(data_err(format!("rule code {} is defined twice", r.code)));
        }
        if r.source.trim().is_empty() || r.message.trim().is_empty() {
            return Err(data_err(format!(
                "rule {} has no message or source",
                r.code
            )));
        }
        if r.limit.is_some() != r.limit_unit.is_some() {
            return Err(data_err(format!(
                "rule {}: give both limit and limit_unit",
                r.code
            )));
        }
    }
    for n in book.conditions.iter().chain(&book.medications) {
        if !book.rules.iter().any(|r| r.code == n.rule) {
            return Err(data_err(format!(
                "name {} points to unknown rule {}",
                n.name, n.rule
            )));
        }
    }
    Ok(book)
}

/// The built-in rule book (parsed once).
pub fn rulebook() -> Result<&'static RuleBook, SafetyError> {
    static BOOK: OnceLock<Result<RuleBook, SafetyError>> = OnceLock::new();
    BOOK.get_or_init(load_rulebook)
        .as_ref()
        .map_err(|e| e.clone())
}

impl RuleBook {
    pub fn get(&self, code: &str) -> Result<&Rule, SafetyError> {
        self.rules
            .iter()
            .find(|r| r.code == code)
            .ok_or_else(|| SafetyError::Data {
                file: "data/rules".into(),
                message: format!("rule {code} is used by mgiv but missing from the data"),
            })
    }

    /// A rule's number, checking that the data gives it in the unit the code expects.
    pub fn limit(&self, code: &str, unit: &str) -> Result<f64, SafetyError> {
        let r = self.get(code)?;
        match (r.limit, r.limit_unit.as_deref()) {
            (Some(v), Some(u)) if u == unit && v.is_finite() => Ok(v),
            _ => Err(SafetyError::Data {
                file: "data/rules".into(),
                message: format!(
                    "rule {code} needs limit in {unit}, found {:?} {:?}",
                    r.limit, r.limit_unit
                ),
            }),
        }
    }

    /// An alert from a rule: its message, then this plan's details, then any disagreement.
    pub fn alert(&self, code: &str, detail: &str) -> Result<Alert, SafetyError> {
        let r = self.get(code)?;
        let mut message = r.message.clone();
        if !detail.is_empty() {
            message.push_str(". ");
            let mut c = detail.chars();
            if let Some(first) = c.next() {
                message.extend(first.to_uppercase());
                message.push_str(c.as_str());
            }
        }
        if !message.ends_with('.') {
            message.push('.');
        }
        if let Some(d) = &r.disagreement {
            message.push_str(" Sources disagree: ");
            message.push_str(d);
        }
        Ok(Alert {
            severity: r.severity,
            code: r.code.clone(),
            title: r.title.clone(),
            message,
            source: r.source.clone(),
            time_h: None,
        })
    }
}
