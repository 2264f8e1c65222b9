//! Reference, therapeutic and toxicity levels of serum magnesium, and renal function categories,
//! as cited data (`data/ranges/serum-mg.toml`, `data/ranges/renal.toml`).

use serde::{Deserialize, Serialize};

use crate::error::MgivError;

pub const SERUM_RANGES_FILE: &str = include_str!("../../../data/ranges/serum-mg.toml");
pub const RENAL_FILE: &str = include_str!("../../../data/ranges/renal.toml");

/// A renal function category by creatinine clearance, with its source.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RenalCategory {
    pub id: String,
    pub label: String,
    pub crcl_below_ml_min: f64,
    /// what the category means for magnesium dosing, as a user reads it
    pub note: String,
    pub source: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct RenalFile {
    categories: Vec<RenalCategory>,
}

/// A renal category of the built-in table by id ("severe-impairment"). The table is parsed once;
/// only the category asked for is cloned.
pub fn renal_category(id: &str) -> Result<RenalCategory, MgivError> {
    static FILE: std::sync::OnceLock<Result<RenalFile, MgivError>> = std::sync::OnceLock::new();
    let file = FILE
        .get_or_init(|| {
            toml::from_str(RENAL_FILE).map_err(|e| MgivError::ModelFile {
                id: "data/ranges/renal.toml".into(),
                message: e.to_string(),
            })
        })
        .as_ref()
        .map_err(Clone::clone)?;
    file.categories
        .iter()
        .find(|c| c.id == id)
        .cloned()
        .ok_or_else(|| MgivError::ModelFile {
            id: "data/ranges/renal.toml".into(),
            message: format!("no renal category '{id}'"),
        })
}

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

    #[test]
    fn severe_renal_impairment_is_crcl_below_30() {
        let c = super::renal_category("severe-impairment").unwrap();
        assert_eq!(c.crcl_below_ml_min, 30.0);
        assert!(c.source.contains("FDA") && c.note.contains("20 g per 48 h"));
        assert!(super::renal_category("moderate").is_err());
    }
}
