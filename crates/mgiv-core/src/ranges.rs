//! Reference, therapeutic and toxicity levels of serum magnesium, as cited data
//! (`data/ranges/serum-mg.toml`).

use serde::{Deserialize, Serialize};

use crate::error::MgivError;

pub const SERUM_RANGES_FILE: &str = include_str!("../../../data/ranges/serum-mg.toml");

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Range {
    pub id: String,
    pub label: String,
    pub kind: String,
    pub lo_mmol_l: f64,
    pub hi_mmol_l: f64,
    pub source: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Threshold {
    pub id: String,
    pub label: String,
    pub mmol_l: f64,
    pub source: String,
    pub strength: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SerumLevels {
    pub ranges: Vec<Range>,
    pub thresholds: Vec<Threshold>,
}

/// The built-in level table (parsed once).
pub fn serum_levels() -> Result<SerumLevels, MgivError> {
    static LEVELS: std::sync::OnceLock<Result<SerumLevels, MgivError>> = std::sync::OnceLock::new();
    LEVELS
        .get_or_init(|| {
            toml::from_str(SERUM_RANGES_FILE).map_err(|e| MgivError::ModelFile {
                id: "data/ranges/serum-mg.toml".into(),
                message: e.to_string(),
            })
        })
        .clone()
}

#[cfg(test)]
mod tests {
    #[test]
    fn levels_load_and_anchor_on_the_label() {
        let l = super::serum_levels().unwrap();
        let t = |id: &str| l.thresholds.iter().find(|t| t.id == id).unwrap().mmol_l;
        assert_eq!(t("dtr-decrease"), 2.0);
        assert_eq!(t("areflexia-respiratory"), 5.0);
        for r in &l.ranges {
            assert!(r.lo_mmol_l < r.hi_mmol_l && !r.source.is_empty());
        }
    }
}
