//! Indications as cited data (`data/indications/*.toml`, compiled in): who the patients are, the
//! default model and virtual population, the serum target, the toxicity thresholds, the default
//! horizon, the reference protocols, the loading and fluid limits, monitoring, and how the
//! indication changes a safety rule (heart block is a STOP unless paced or the indication is an
//! arrhythmia). Every protocol belongs to one indication (`indication_id` in its file).

use serde::{Deserialize, Serialize};
use std::sync::OnceLock;

use crate::alert::Severity;
use crate::error::SafetyError;
use crate::protocol::{protocols, Target};

/// The indication files, compiled in, in the order `mgiv indications` lists them.
pub const INDICATION_FILES: [(&str, &str); 13] = [
    (
        "pre-eclampsia",
        include_str!("../../../data/indications/pre-eclampsia.toml"),
    ),
    (
        "eclampsia",
        include_str!("../../../data/indications/eclampsia.toml"),
    ),
    (
        "fetal-neuroprotection",
        include_str!("../../../data/indications/fetal-neuroprotection.toml"),
    ),
    ("sah", include_str!("../../../data/indications/sah.toml")),
    ("tbi", include_str!("../../../data/indications/tbi.toml")),
    (
        "stroke",
        include_str!("../../../data/indications/stroke.toml"),
    ),
    (
        "migraine",
        include_str!("../../../data/indications/migraine.toml"),
    ),
    (
        "asthma",
        include_str!("../../../data/indications/asthma.toml"),
    ),
    (
        "torsades",
        include_str!("../../../data/indications/torsades.toml"),
    ),
    (
        "cardiac-arrest",
        include_str!("../../../data/indications/cardiac-arrest.toml"),
    ),
    (
        "hypomag-ward",
        include_str!("../../../data/indications/hypomag-ward.toml"),
    ),
    (
        "hypomag-icu",
        include_str!("../../../data/indications/hypomag-icu.toml"),
    ),
    (
        "wellness",
        include_str!("../../../data/indications/wellness.toml"),
    ),
];

/// Whether the indication requires, excludes or does not care about a patient feature.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Requirement {
    Required,
    Excluded,
    Any,
}

impl Requirement {
    /// Whether a patient with (`true`) or without (`false`) the feature fits.
    pub fn admits(self, has: bool) -> bool {
        match self {
            Requirement::Required => has,
            Requirement::Excluded => !has,
            Requirement::Any => true,
        }
    }
}

/// What kind of course the indication uses; `adjust` never adds a maintenance infusion to a
/// single-dose or replacement course unless asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Course {
    SingleDose,
    Maintenance,
    Replacement,
}

impl Course {
    pub fn as_str(self) -> &'static str {
        match self {
            Course::SingleDose => "single-dose",
            Course::Maintenance => "maintenance",
            Course::Replacement => "replacement",
        }
    }
}

/// The serum target of an indication.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IndicationTarget {
    pub lo_mmol_l: f64,
    pub hi_mmol_l: f64,
    /// false: no serum target is established for the indication; the range is for display
    pub established: bool,
    pub source: String,
}

impl IndicationTarget {
    pub fn to_target(&self) -> Target {
        Target {
            lo_mmol_l: self.lo_mmol_l,
            hi_mmol_l: self.hi_mmol_l,
            source: self.source.clone(),
        }
    }
}

/// Measured or predicted levels that call for action.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Thresholds {
    /// at or above: potentially toxic (stop the infusion, check reflexes and breathing)
    pub toxic_mmol_l: f64,
    pub toxic_source: String,
    /// at or above: emergency (respiratory paralysis, heart block: antidote)
    pub emergency_mmol_l: f64,
    pub emergency_source: String,
}

/// The standard loading amount, and the most any cited protocol of the indication gives.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Loading {
    /// g MgSO4·7H2O
    pub reference_iv_g: f64,
    pub max_iv_g: f64,
    #[serde(default)]
    pub max_im_g: Option<f64>,
    pub source: String,
}

/// A fluid-volume limit for the indication's patients.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FluidLimit {
    pub max_ml_per_h: f64,
    #[serde(default)]
    pub max_ml_per_24h: Option<f64>,
    pub source: String,
}

/// How the indication changes a rule's severity.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleAdjustment {
    pub rule: String,
    pub severity: Severity,
    pub reason: String,
    pub source: String,
}

/// One indication, as written in its data file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Indication {
    pub id: String,
    pub name: String,
    pub description: String,
    pub pregnancy: Requirement,
    pub pre_eclampsia: Requirement,
    /// virtual population ids (data/populations); the first is the default
    pub populations: Vec<String>,
    pub default_model: String,
    pub default_model_reason: String,
    pub course: Course,
    pub uspi_rate_limit_applies: bool,
    pub horizon_h: f64,
    pub horizon_source: String,
    /// protocol ids; the first is the reference for the dose-error and loading checks
    pub reference_protocols: Vec<String>,
    pub monitoring: Vec<String>,
    pub source: String,
    #[serde(default)]
    pub notes: Vec<String>,
    pub target: IndicationTarget,
    pub thresholds: Thresholds,
    #[serde(default)]
    pub loading: Option<Loading>,
    #[serde(default)]
    pub fluid: Option<FluidLimit>,
    #[serde(default)]
    pub rule_adjustments: Vec<RuleAdjustment>,
}

impl Indication {
    fn check(&self, file: &str) -> Result<(), SafetyError> {
        let bad = |m: String| SafetyError::Data {
            file: format!("data/indications/{file}.toml"),
            message: m,
        };
        if self.id != file {
            return Err(bad(format!("id '{}' differs from the file name", self.id)));
        }
        let t = &self.target;
        let th = &self.thresholds;
        if !(t.lo_mmol_l > 0.0
            && t.lo_mmol_l < t.hi_mmol_l
            && t.hi_mmol_l < th.toxic_mmol_l
            && th.toxic_mmol_l < th.emergency_mmol_l
            && th.emergency_mmol_l <= 10.0)
        {
            return Err(bad(format!(
                "needs 0 < target lo < hi < toxic < emergency <= 10 mmol/L, found {}-{}, {}, {}",
                t.lo_mmol_l, t.hi_mmol_l, th.toxic_mmol_l, th.emergency_mmol_l
            )));
        }
        for (what, s) in [
            ("target.source", &t.source),
            ("thresholds.toxic_source", &th.toxic_source),
            ("thresholds.emergency_source", &th.emergency_source),
            ("horizon_source", &self.horizon_source),
            ("default_model_reason", &self.default_model_reason),
            ("source", &self.source),
        ] {
            if s.trim().is_empty() {
                return Err(bad(format!(
                    "{what} is empty: every value needs its source"
                )));
            }
        }
        // file-consistency guards (90 days; 40 g), not clinical limits
        if !(self.horizon_h.is_finite() && self.horizon_h >= 1.0 && self.horizon_h <= 2160.0) {
            return Err(bad(format!(
                "horizon_h {} (allowed: 1 to 2160 h)",
                self.horizon_h
            )));
        }
        if self.populations.is_empty() || self.monitoring.is_empty() {
            return Err(bad(
                "needs at least one population and one monitoring entry".into(),
            ));
        }
        if let Some(l) = &self.loading {
            if !(l.reference_iv_g > 0.0 && l.max_iv_g >= l.reference_iv_g && l.max_iv_g <= 40.0)
                || l.max_im_g.is_some_and(|m| !(m > 0.0 && m <= 40.0))
                || l.source.trim().is_empty()
            {
                return Err(bad(
                    "loading needs 0 < reference_iv_g <= max_iv_g <= 40 g, max_im_g in (0, 40] and a source".into(),
                ));
            }
        }
        if let Some(f) = &self.fluid {
            if !(f.max_ml_per_h > 0.0 && f.max_ml_per_h.is_finite())
                || f.max_ml_per_24h
                    .is_some_and(|v| !(v > 0.0 && v.is_finite()))
                || f.source.trim().is_empty()
            {
                return Err(bad("fluid needs positive limits and a source".into()));
            }
        }
        Ok(())
    }

    /// The adjustment this indication makes to a rule, if any.
    pub fn adjustment(&self, rule: &str) -> Option<&RuleAdjustment> {
        self.rule_adjustments.iter().find(|a| a.rule == rule)
    }

    /// Whether a patient fits the indication (pregnancy and pre-eclampsia requirements).
    pub fn admits(&self, pregnant: bool, pre_eclampsia: bool) -> bool {
        self.pregnancy.admits(pregnant || pre_eclampsia) && self.pre_eclampsia.admits(pre_eclampsia)
    }
}

/// Parse and check every indication file, and the links between indications and protocols:
/// each protocol names an existing indication and appears in its reference list, and each
/// reference protocol exists and points back.
pub fn load_indications() -> Result<Vec<Indication>, SafetyError> {
    let mut out: Vec<Indication> = Vec::new();
    for (file, text) in INDICATION_FILES {
        out.push(parse_indication(file, text)?);
    }
    let all_protocols = protocols()?;
    for p in all_protocols {
        let Some(ind) = out.iter().find(|i| i.id == p.indication_id) else {
            return Err(SafetyError::Data {
                file: format!("data/protocols/{}.toml", p.id),
                message: format!(
                    "indication_id '{}' is not a known indication",
                    p.indication_id
                ),
            });
        };
        if !ind.reference_protocols.contains(&p.id) {
            return Err(SafetyError::Data {
                file: format!("data/indications/{}.toml", ind.id),
                message: format!(
                    "protocol {} belongs to this indication but is not in reference_protocols",
                    p.id
                ),
            });
        }
    }
    for ind in &out {
        for r in &ind.reference_protocols {
            if !all_protocols
                .iter()
                .any(|p| &p.id == r && (p.indication_id == ind.id || p.also_for.contains(&ind.id)))
            {
                return Err(SafetyError::Data {
                    file: format!("data/indications/{}.toml", ind.id),
                    message: format!(
                        "reference protocol '{r}' does not exist, or neither belongs to this indication nor lists it in also_for"
                    ),
                });
            }
        }
    }
    Ok(out)
}

/// The built-in indications (parsed once).
pub fn indications() -> Result<&'static [Indication], SafetyError> {
    static ALL: OnceLock<Result<Vec<Indication>, SafetyError>> = OnceLock::new();
    ALL.get_or_init(load_indications)
        .as_ref()
        .map(|v| v.as_slice())
        .map_err(|e| e.clone())
}

/// An indication by id (case-insensitive; spaces and underscores count as hyphens); unknown ids
/// list the known ones. Only that indication's file is parsed and checked (once), not the whole
/// set: the links between indications and protocols are checked by [`indications`], which the
/// tests and the listings load.
pub fn find_indication(id: &str) -> Result<&'static Indication, SafetyError> {
    static ONE: [OnceLock<Result<Indication, SafetyError>>; INDICATION_FILES.len()] =
        [const { OnceLock::new() }; INDICATION_FILES.len()];
    let key = id.trim().to_lowercase().replace([' ', '_'], "-");
    let Some(k) = INDICATION_FILES.iter().position(|(file, _)| *file == key) else {
        return Err(SafetyError::Unknown {
            field: "indication".into(),
            value: id.into(),
            known: INDICATION_FILES
                .iter()
                .map(|(file, _)| *file)
                .collect::<Vec<_>>()
                .join(", "),
        });
    };
    ONE[k]
        .get_or_init(|| parse_indication(INDICATION_FILES[k].0, INDICATION_FILES[k].1))
        .as_ref()
        .map_err(|e| e.clone())
}

/// One indication file, parsed and checked on its own.
fn parse_indication(file: &str, text: &str) -> Result<Indication, SafetyError> {
    let i: Indication = toml::from_str(text).map_err(|e| SafetyError::Data {
        file: format!("data/indications/{file}.toml"),
        message: e.to_string(),
    })?;
    i.check(file)?;
    Ok(i)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_indication_loads_and_links_to_its_protocols() {
        let all = indications().unwrap();
        assert_eq!(all.len(), INDICATION_FILES.len());
        for p in protocols().unwrap() {
            let i = find_indication(&p.indication_id).unwrap();
            assert!(i.reference_protocols.contains(&p.id), "{}", p.id);
        }
    }

    #[test]
    fn arrhythmia_indications_relax_the_heart_block_rule_and_others_do_not() {
        for id in ["torsades", "cardiac-arrest"] {
            let a = find_indication(id).unwrap().adjustment("CI-HEART-BLOCK");
            assert!(a.is_some_and(|a| a.severity < Severity::Stop), "{id}");
        }
        for id in ["pre-eclampsia", "sah", "wellness", "migraine"] {
            assert!(find_indication(id)
                .unwrap()
                .adjustment("CI-HEART-BLOCK")
                .is_none());
        }
    }

    #[test]
    fn one_indication_parsed_alone_equals_the_checked_set() {
        for i in indications().unwrap() {
            assert_eq!(
                format!("{:?}", find_indication(&i.id).unwrap()),
                format!("{i:?}")
            );
        }
    }

    #[test]
    fn one_protocol_parsed_alone_equals_the_checked_set() {
        for p in protocols().unwrap() {
            let one = crate::protocol::find_protocol(&p.id).unwrap();
            assert_eq!(format!("{one:?}"), format!("{p:?}"));
            for a in &p.aliases {
                assert_eq!(crate::protocol::find_protocol(a).unwrap().id, p.id);
            }
        }
    }

    #[test]
    fn unknown_indication_lists_the_known_ones() {
        let e = find_indication("gout").unwrap_err().to_string();
        assert!(e.contains("gout") && e.contains("pre-eclampsia") && e.contains("wellness"));
        assert_eq!(
            find_indication("Pre eclampsia").unwrap().id,
            "pre-eclampsia"
        );
    }
}
