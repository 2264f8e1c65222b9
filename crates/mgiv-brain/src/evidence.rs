//! Evidence grades (`data/brain/evidence.toml`; brain.md §11).

use serde::{Deserialize, Serialize};

use mgiv_core::error::{invalid, MgivError};

pub const EVIDENCE_TOML: &str = include_str!("../../../data/brain/evidence.toml");

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct Claim {
    pub id: String,
    pub claim: String,
    pub grade: String,
    pub verdict: String,
    pub sources: String,
    /// what the grade is the grade of (for the four popular claims: mgiv's prediction for the
    /// regimen, not the claim's slogan)
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub grade_of: String,
    /// the parts of the prediction that are mgiv's own assumptions, not published laws or data
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mgiv_assumptions: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct EvidenceFile {
    claims: Vec<Claim>,
}

/// All graded claims, in file order.
pub fn claims() -> Result<Vec<Claim>, MgivError> {
    let f: EvidenceFile = toml::from_str(EVIDENCE_TOML).map_err(|e| MgivError::ModelFile {
        id: "data/brain/evidence.toml".into(),
        message: e.to_string(),
    })?;
    Ok(f.claims)
}

/// One claim by id.
pub fn claim(id: &str) -> Result<Claim, MgivError> {
    claims()?.into_iter().find(|c| c.id == id).ok_or_else(|| {
        invalid(
            "evidence id",
            id,
            "an id listed in data/brain/evidence.toml",
        )
    })
}

#[cfg(test)]
mod tests {
    /// The cerebral-blood-flow claim lists, in words, the serum fold the report applies: the
    /// number in the assumption sentence is the one in `data/brain/effects.toml`.
    #[test]
    fn the_cbf_assumption_names_the_fold_the_report_uses() {
        let fold = crate::effects::constants()
            .unwrap()
            .cerebral_blood_flow
            .measured_serum_fold;
        let want = format!("serum peak <= {fold} x baseline");
        assert!(
            super::EVIDENCE_TOML.contains(&want),
            "evidence.toml lacks '{want}'"
        );
    }
}
