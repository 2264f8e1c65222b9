//! The protocol library: one cited data file per protocol in `data/protocols/` (compiled in).

use serde::{Deserialize, Serialize};
use std::sync::OnceLock;

use mgiv_core::patient::{Creatinine, PatientInput, Sex};
use mgiv_core::regimen::RegimenSpec;
use mgiv_core::units::MgConc;

use crate::error::SafetyError;

/// The protocol files, compiled in, in the order `mgiv protocols` lists them.
pub const PROTOCOL_FILES: [(&str, &str); 18] = [
    (
        "zuspan",
        include_str!("../../../data/protocols/zuspan.toml"),
    ),
    (
        "pritchard",
        include_str!("../../../data/protocols/pritchard.toml"),
    ),
    ("sibai", include_str!("../../../data/protocols/sibai.toml")),
    (
        "magpie",
        include_str!("../../../data/protocols/magpie.toml"),
    ),
    (
        "actomgso4",
        include_str!("../../../data/protocols/actomgso4.toml"),
    ),
    ("beam", include_str!("../../../data/protocols/beam.toml")),
    (
        "premag",
        include_str!("../../../data/protocols/premag.toml"),
    ),
    (
        "fast-mag",
        include_str!("../../../data/protocols/fast-mag.toml"),
    ),
    (
        "images",
        include_str!("../../../data/protocols/images.toml"),
    ),
    (
        "mash-2",
        include_str!("../../../data/protocols/mash-2.toml"),
    ),
    (
        "temkin-tbi",
        include_str!("../../../data/protocols/temkin-tbi.toml"),
    ),
    (
        "migraine-1g",
        include_str!("../../../data/protocols/migraine-1g.toml"),
    ),
    (
        "migraine-2g",
        include_str!("../../../data/protocols/migraine-2g.toml"),
    ),
    (
        "asthma",
        include_str!("../../../data/protocols/asthma.toml"),
    ),
    (
        "torsades",
        include_str!("../../../data/protocols/torsades.toml"),
    ),
    (
        "cardiac-arrest",
        include_str!("../../../data/protocols/cardiac-arrest.toml"),
    ),
    (
        "hypomag-uspi",
        include_str!("../../../data/protocols/hypomag-uspi.toml"),
    ),
    (
        "myers-push",
        include_str!("../../../data/protocols/myers-push.toml"),
    ),
];

/// A serum target range with its source.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Target {
    pub lo_mmol_l: f64,
    pub hi_mmol_l: f64,
    pub source: String,
}

/// The typical patient a protocol is simulated for in the tests and in `mgiv protocols`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct ExamplePatient {
    pub weight_kg: Option<f64>,
    pub age_y: Option<f64>,
    pub sex: Option<String>,
    pub scr_mg_dl: Option<f64>,
    #[serde(default)]
    pub pregnant: bool,
    #[serde(default)]
    pub pre_eclampsia: bool,
    pub baseline_mmol_l: Option<f64>,
}

impl ExamplePatient {
    pub fn to_input(&self) -> Result<PatientInput, SafetyError> {
        Ok(PatientInput {
            weight_kg: self.weight_kg,
            age_y: self.age_y,
            sex: self.sex.as_deref().map(Sex::parse).transpose()?,
            creatinine: self.scr_mg_dl.map(Creatinine::MgPerDl),
            pregnant: self.pregnant,
            pre_eclampsia: self.pre_eclampsia,
            baseline: self.baseline_mmol_l.map(MgConc::from_mmol_l),
            ..Default::default()
        })
    }
}

/// One protocol, as written in its data file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Protocol {
    pub id: String,
    #[serde(default)]
    pub aliases: Vec<String>,
    pub name: String,
    pub indication: String,
    /// the indication this protocol belongs to (`data/indications/<id>.toml`)
    pub indication_id: String,
    /// other indications the protocol is also standard for (e.g. Zuspan for eclampsia)
    #[serde(default)]
    pub also_for: Vec<String>,
    /// "obstetric" or "adult"
    pub population: String,
    /// the regimen in mgiv's regimen language ("g" = g of MgSO4·7H2O)
    pub regimen: String,
    pub regimen_source: String,
    /// false when part of the regimen (a duration, an infusion time) is not from a primary source
    pub regimen_verified: bool,
    /// preferred PK model id; default: chosen from the patient
    #[serde(default)]
    pub model: Option<String>,
    /// default bag for pump settings, e.g. "8 g in 100 mL"
    #[serde(default)]
    pub bag: Option<String>,
    #[serde(default)]
    pub bag_source: Option<String>,
    /// whether the USPI 150 mg/min limit applies (false for eclampsia and arrest)
    pub uspi_rate_limit_applies: bool,
    /// whether an IV push (no infusion time) is part of the protocol
    #[serde(default)]
    pub iv_push_allowed: bool,
    #[serde(default)]
    pub rate_note: Option<String>,
    pub max_duration_h: f64,
    pub max_duration_text: String,
    pub max_duration_source: String,
    /// when to draw levels
    pub levels: String,
    pub monitoring: Vec<String>,
    pub citation: String,
    #[serde(default)]
    pub notes: Vec<String>,
    #[serde(default)]
    pub target: Option<Target>,
    pub example_patient: ExamplePatient,
}

impl Protocol {
    pub fn spec(&self) -> Result<RegimenSpec, SafetyError> {
        Ok(RegimenSpec::parse_any(&self.regimen)?)
    }
    pub fn is_obstetric(&self) -> bool {
        self.population == "obstetric"
    }
    fn check(&self, file: &str) -> Result<(), SafetyError> {
        let bad = |m: String| SafetyError::Data {
            file: format!("data/protocols/{file}.toml"),
            message: m,
        };
        if self.id != file {
            return Err(bad(format!("id '{}' differs from the file name", self.id)));
        }
        if !matches!(self.population.as_str(), "obstetric" | "adult") {
            return Err(bad(format!(
                "population '{}' (allowed: obstetric, adult)",
                self.population
            )));
        }
        self.spec().map_err(|e| bad(e.to_string()))?;
        if let Some(b) = &self.bag {
            crate::bag::parse_bag(b).map_err(|e| bad(e.to_string()))?;
        }
        if let Some(t) = &self.target {
            if !(t.lo_mmol_l > 0.0 && t.lo_mmol_l < t.hi_mmol_l && !t.source.is_empty()) {
                return Err(bad("target needs 0 < lo < hi and a source".into()));
            }
        }
        if self.max_duration_h.is_nan()
            || self.max_duration_h <= 0.0
            || self.monitoring.is_empty()
            || self.citation.is_empty()
        {
            return Err(bad(
                "needs a positive max_duration_h, monitoring and a citation".into(),
            ));
        }
        Ok(())
    }
}

/// Parse and check every protocol file.
pub fn load_protocols() -> Result<Vec<Protocol>, SafetyError> {
    let mut out: Vec<Protocol> = Vec::new();
    for (file, text) in PROTOCOL_FILES {
        let p = parse_protocol(file, text)?;
        for key in std::iter::once(&p.id).chain(&p.aliases) {
            if out
                .iter()
                .any(|o| o.id == *key || o.aliases.iter().any(|a| a == key))
            {
                return Err(SafetyError::Data {
                    file: format!("data/protocols/{file}.toml"),
                    message: format!("id or alias '{key}' is used twice"),
                });
            }
        }
        out.push(p);
    }
    Ok(out)
}

/// The built-in protocols (parsed once).
pub fn protocols() -> Result<&'static [Protocol], SafetyError> {
    static ALL: OnceLock<Result<Vec<Protocol>, SafetyError>> = OnceLock::new();
    ALL.get_or_init(load_protocols)
        .as_ref()
        .map(|v| v.as_slice())
        .map_err(|e| e.clone())
}

/// One protocol file, parsed and checked on its own.
fn parse_protocol(file: &str, text: &str) -> Result<Protocol, SafetyError> {
    let p: Protocol = toml::from_str(text).map_err(|e| SafetyError::Data {
        file: format!("data/protocols/{file}.toml"),
        message: e.to_string(),
    })?;
    p.check(file)?;
    Ok(p)
}

/// A protocol by id or alias (case-insensitive); unknown ids list the known ones. An id (the
/// file name) parses and checks only that file (once); an alias or an unknown name loads the
/// whole set, which also checks that no id or alias is used twice (as the tests do).
pub fn find_protocol(id: &str) -> Result<&'static Protocol, SafetyError> {
    static ONE: [OnceLock<Result<Protocol, SafetyError>>; PROTOCOL_FILES.len()] =
        [const { OnceLock::new() }; PROTOCOL_FILES.len()];
    let key = id.trim().to_lowercase().replace([' ', '_'], "-");
    if let Some(k) = PROTOCOL_FILES.iter().position(|(file, _)| *file == key) {
        return ONE[k]
            .get_or_init(|| parse_protocol(PROTOCOL_FILES[k].0, PROTOCOL_FILES[k].1))
            .as_ref()
            .map_err(|e| e.clone());
    }
    let all = protocols()?;
    all.iter()
        .find(|p| p.id == key || p.aliases.contains(&key))
        .ok_or_else(|| SafetyError::Unknown {
            field: "protocol".into(),
            value: id.into(),
            known: all
                .iter()
                .map(|p| p.id.as_str())
                .collect::<Vec<_>>()
                .join(", "),
        })
}
