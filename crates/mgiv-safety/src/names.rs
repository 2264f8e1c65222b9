//! Condition and medication names (`--conditions`, `--medications`): plain comma-separated names
//! with synonyms; an unknown name is an error that lists the known ones.

use serde::Serialize;

use crate::error::SafetyError;
use crate::rules::{rulebook, NameEntry};

/// A recognised name: what was written, the canonical name, its class and its rule.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Named {
    pub written: String,
    pub name: String,
    pub class: Option<String>,
    pub rule: String,
    /// rules whose objection this name removes
    pub relieves: Vec<String>,
}

fn normalise(s: &str) -> String {
    s.trim()
        .to_lowercase()
        .chars()
        .map(|c| if c == ' ' || c == '_' { '-' } else { c })
        .collect()
}

fn parse(list: &str, entries: &[NameEntry], field: &str) -> Result<Vec<Named>, SafetyError> {
    let mut out: Vec<Named> = Vec::new();
    for item in list.split(',') {
        let key = normalise(item);
        if key.is_empty() {
            continue;
        }
        let hit = entries
            .iter()
            .find(|e| e.name == key || e.synonyms.contains(&key));
        match hit {
            Some(e) => {
                if !out.iter().any(|n| n.name == e.name) {
                    out.push(Named {
                        written: item.trim().to_string(),
                        name: e.name.clone(),
                        class: e.class.clone(),
                        rule: e.rule.clone(),
                        relieves: e.relieves.clone(),
                    });
                }
            }
            None => {
                return Err(SafetyError::Unknown {
                    field: field.into(),
                    value: item.trim().into(),
                    known: known_list(entries),
                })
            }
        }
    }
    Ok(out)
}

fn known_list(entries: &[NameEntry]) -> String {
    entries
        .iter()
        .map(|e| {
            if e.synonyms.is_empty() {
                e.name.clone()
            } else {
                format!("{} ({})", e.name, e.synonyms.join(", "))
            }
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// Parse `--conditions` (e.g. "myasthenia-gravis, renal failure").
pub fn parse_conditions(list: &str) -> Result<Vec<Named>, SafetyError> {
    parse(list, &rulebook()?.conditions, "condition")
}

/// Parse `--medications` (e.g. "nifedipine,gentamicin").
pub fn parse_medications(list: &str) -> Result<Vec<Named>, SafetyError> {
    parse(list, &rulebook()?.medications, "medication")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn synonyms_and_normalisation() {
        let c = parse_conditions("Myasthenia Gravis, renal_failure,  ,AKI").unwrap();
        let names: Vec<_> = c.iter().map(|n| n.name.as_str()).collect();
        assert_eq!(names, ["myasthenia-gravis", "renal-failure"]);
        let m = parse_medications("suxamethonium, Adalat").unwrap();
        assert_eq!(m[0].name, "succinylcholine");
        assert_eq!(m[0].rule, "INT-NMB");
        assert_eq!(m[1].name, "nifedipine");
    }

    #[test]
    fn unknown_name_lists_the_known_ones() {
        let e = parse_medications("nifedipine, warfarin")
            .unwrap_err()
            .to_string();
        assert!(e.contains("unknown medication 'warfarin'"), "{e}");
        for n in [
            "nifedipine",
            "rocuronium",
            "succinylcholine",
            "gentamicin",
            "digoxin",
            "morphine",
        ] {
            assert!(e.contains(n), "{n} missing from {e}");
        }
        let e = parse_conditions("asthma").unwrap_err().to_string();
        for n in [
            "myasthenia-gravis",
            "heart-block",
            "renal-failure",
            "oliguria",
            "eclampsia",
            "pre-eclampsia",
        ] {
            assert!(e.contains(n), "{n} missing from {e}");
        }
    }
}
