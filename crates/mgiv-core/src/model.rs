//! Published PK models as data. A model file (`data/models/*.toml`) holds the typical parameters,
//! covariate relations, baseline, variability and the citation of every value; this module reads
//! it and computes one patient's individual parameters. The built-in files are compiled in, so
//! the core still does no I/O; front ends may load others with [`ModelSpec::from_toml`].

use serde::{Deserialize, Serialize};

use crate::error::{invalid, MgivError};
use crate::patient::Patient;
use crate::warning::Warning;

/// Built-in model files, compiled in from `data/models/`.
pub const BUILTIN_MODEL_FILES: &[(&str, &str)] = &[
    ("du-2019", include_str!("../../../data/models/du-2019.toml")),
    (
        "brookfield-2016",
        include_str!("../../../data/models/brookfield-2016.toml"),
    ),
    (
        "salinger-2013",
        include_str!("../../../data/models/salinger-2013.toml"),
    ),
    ("lu-2002", include_str!("../../../data/models/lu-2002.toml")),
    (
        "mgiv-adult-2026",
        include_str!("../../../data/models/mgiv-adult-2026.toml"),
    ),
    (
        "mgiv-adult-tm-2026",
        include_str!("../../../data/models/mgiv-adult-tm-2026.toml"),
    ),
];

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Structure {
    OneCompartment,
    TwoCompartment,
}

/// How the excess magnesium is eliminated.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, Default)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Elimination {
    /// Linear clearance of the increment above the endogenous baseline (every published pop-PK model).
    #[default]
    Linear,
    /// Renal tubular maximum (magnesium-pk.md §1.4, magnesium-pk-2.md §5): excretion =
    /// GFR·max(0, f_uf·C − Tm), balanced at baseline by a constant endogenous input. Nonlinear;
    /// solved by the ODE path. CL parameters of the file are ignored; GFR comes from the patient.
    RenalThreshold {
        f_uf: f64,
        tm_mmol_l: f64,
        default_gfr_ml_min: f64,
    },
}

/// Typical (reference-subject) parameter values.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct TypicalParams {
    pub cl_l_h: f64,
    pub v1_l: f64,
    #[serde(default)]
    pub q_l_h: Option<f64>,
    #[serde(default)]
    pub v2_l: Option<f64>,
    /// first-order IM absorption rate constant, 1/h
    #[serde(default)]
    pub ka_h: Option<f64>,
    /// IM bioavailability (fraction)
    #[serde(default)]
    pub f_im: Option<f64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ParamName {
    ClLH,
    V1L,
    QLH,
    V2L,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CovariateName {
    WeightKg,
    ScrMgDl,
    CrclMlMin,
    PreEclampsia,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CovariateForm {
    /// P × (x / reference)^exponent
    Power,
    /// P × (1 + coefficient·(x / reference − 1))
    Linear,
    /// P × if_true or P × if_false for a yes/no covariate
    Categorical,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Covariate {
    pub parameter: ParamName,
    pub covariate: CovariateName,
    pub form: CovariateForm,
    #[serde(default)]
    pub reference: Option<f64>,
    #[serde(default)]
    pub exponent: Option<f64>,
    #[serde(default)]
    pub coefficient: Option<f64>,
    #[serde(default)]
    pub if_true: Option<f64>,
    #[serde(default)]
    pub if_false: Option<f64>,
    pub source: String,
}

/// Endogenous baseline used when the patient's own is not measured.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BaselineSpec {
    pub mmol_l: f64,
    pub source: String,
}

/// The quantity a model's residual error was estimated on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum ResidualScale {
    /// SD = √((prop·C)² + add²) on the total serum level C
    #[default]
    Total,
    /// SD = √((prop·(C − baseline))² + add²): the model was fitted on the rise above the
    /// patient's own baseline (Du 2019), so the proportional part scales with ΔMg, not C
    ChangeFromBaseline,
}

impl ResidualScale {
    /// Words for reports.
    pub fn describe(self) -> &'static str {
        match self {
            ResidualScale::Total => "on the total level",
            ResidualScale::ChangeFromBaseline => "on the rise above baseline (ΔMg)",
        }
    }
}

/// Inter-individual variability and residual error (used by population simulation and TDM).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct Variability {
    /// log-normal IIV as CV % per parameter (omega² = ln(1 + CV²))
    #[serde(default)]
    pub iiv_cv_percent: std::collections::BTreeMap<String, f64>,
    /// correlations between etas, as `[["cl_l_h", "v1_l", 0.3]]`
    #[serde(default)]
    pub correlations: Vec<(String, String, f64)>,
    #[serde(default)]
    pub residual_proportional: f64,
    #[serde(default)]
    pub residual_additive_mmol_l: f64,
    /// what the residual error applies to (the source's error model; default: the total level)
    #[serde(default)]
    pub residual_on: ResidualScale,
    /// between-occasion variability, log-normal CV % per parameter. One MgSO4 course is one
    /// occasion: a trial subject and a TDM patient see a single occasion, whose parameter varies
    /// with ω²_IIV + ω²_IOV around the typical value (the IOV part is not carried to a later course)
    #[serde(default)]
    pub iov_cv_percent: std::collections::BTreeMap<String, f64>,
    /// the source's own IIV (CV %) where mgiv ships a documented, data-driven adjustment in
    /// `iiv_cv_percent` (issue 10: Vc spread re-estimated from public level data); for records
    #[serde(default)]
    pub published_iiv_cv_percent: std::collections::BTreeMap<String, f64>,
    pub source: String,
}

/// How many of the subjects a model was fitted in had a feature.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Presence {
    All,
    Some,
    None,
}

/// Who a model was fitted in, machine-readable (`[fitted_in]` in the model file). Every decision
/// about a model's fit to a patient or a population is made from these fields, never from the
/// free-text `population` or `description`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FittedIn {
    /// fitted in pregnant women
    pub pregnant: bool,
    pub pre_eclampsia: Presence,
    pub critically_ill: Presence,
    /// ids of the virtual populations (data/populations) the model describes
    pub populations: Vec<String>,
    /// covariate ranges of the fitted data, [min, max]; absent where the source does not report them
    #[serde(default)]
    pub weight_kg: Option<[f64; 2]>,
    #[serde(default)]
    pub scr_mg_dl: Option<[f64; 2]>,
    #[serde(default)]
    pub age_y: Option<[f64; 2]>,
    pub source: String,
}

/// Plausibility limits of a derived (individual) magnesium PK parameter. They are not published
/// values but engineering guards: a human magnesium model outside them is a wrong file or a wrong
/// covariate (Mg clearance is at most about the GFR, ~8 L/h; volumes are a fraction of body water).
pub const PLAUSIBLE_PARAMS: [(&str, f64, f64); 5] = [
    ("CL (L/h)", 0.01, 100.0),
    ("V1 (L)", 0.1, 1000.0),
    ("Q (L/h)", 0.0, 1000.0),
    ("V2 (L)", 0.0, 5000.0),
    ("ka (1/h)", 0.001, 100.0),
];

fn check_plausible(id: &str, values: [f64; 5]) -> Result<(), MgivError> {
    for ((name, lo, hi), v) in PLAUSIBLE_PARAMS.iter().zip(values) {
        if !(v.is_finite() && v >= *lo && v <= *hi) {
            return Err(invalid(
                "model parameter",
                format!("{name} = {v:e} (model {id})"),
                format!("a finite value from {lo} to {hi} for a human magnesium model"),
            ));
        }
    }
    Ok(())
}

/// A population PK model of total serum magnesium.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelSpec {
    pub id: String,
    pub name: String,
    pub citation: String,
    #[serde(default)]
    pub doi: Option<String>,
    /// who the model was fitted in, in words (for people; decisions use `fitted_in`)
    pub population: String,
    /// who the model was fitted in, machine-readable
    pub fitted_in: FittedIn,
    /// how strong the evidence behind this model is, in one sentence
    pub evidence: String,
    pub structure: Structure,
    pub parameters: TypicalParams,
    /// where each typical value comes from
    pub parameter_sources: String,
    #[serde(default)]
    pub covariates: Vec<Covariate>,
    pub baseline: BaselineSpec,
    #[serde(default)]
    pub elimination: Elimination,
    #[serde(default)]
    pub variability: Option<Variability>,
    #[serde(default)]
    pub notes: Vec<String>,
}

/// The peripheral compartment of a two-compartment model.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Peripheral {
    /// intercompartmental clearance, L/h
    pub q_l_h: f64,
    /// peripheral volume, L
    pub v2_l: f64,
}

/// One patient's parameters under a model.
///
/// Serialised with the peripheral compartment flattened: a two-compartment model writes
/// `"q_l_h"` and `"v2_l"` between `"v1_l"` and `"ka_h"`; a one-compartment model omits both.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct IndividualParams {
    pub cl_l_h: f64,
    pub v1_l: f64,
    /// Q and V2 of a two-compartment model; None for a one-compartment model
    #[serde(flatten)]
    pub peripheral: Option<Peripheral>,
    pub ka_h: Option<f64>,
    pub f_im: Option<f64>,
    pub baseline_mmol_l: f64,
}

impl IndividualParams {
    /// Whether the model has a peripheral compartment.
    pub fn is_two_compartment(&self) -> bool {
        self.peripheral.is_some()
    }
}

/// Code of the warning that the model's typical baseline stood in for a measured one.
pub const BASELINE_NOT_MEASURED: &str = "BASELINE-NOT-MEASURED";

/// Individual parameters plus the notes a user must see about how they were obtained.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Individualised {
    pub params: IndividualParams,
    pub elimination: Elimination,
    /// GFR used by a renal-threshold model (mL/min)
    pub gfr_ml_min: Option<f64>,
    pub warnings: Vec<Warning>,
}

impl ModelSpec {
    pub fn from_toml(text: &str) -> Result<Self, MgivError> {
        let spec: ModelSpec = toml::from_str(text).map_err(|e| MgivError::ModelFile {
            id: "(file)".into(),
            message: e.to_string(),
        })?;
        spec.check()?;
        Ok(spec)
    }

    /// Structural sanity of a model file.
    pub fn check(&self) -> Result<(), MgivError> {
        let bad = |m: String| MgivError::ModelFile {
            id: self.id.clone(),
            message: m,
        };
        let p = &self.parameters;
        for (name, v) in [
            ("cl_l_h", Some(p.cl_l_h)),
            ("v1_l", Some(p.v1_l)),
            ("q_l_h", p.q_l_h),
            ("v2_l", p.v2_l),
            ("ka_h", p.ka_h),
        ] {
            if let Some(v) = v {
                if !(v.is_finite() && v > 0.0) {
                    return Err(bad(format!("parameter {name} = {v} must be positive")));
                }
            }
        }
        if let Some(f) = p.f_im {
            if !(f > 0.0 && f <= 1.0) {
                return Err(bad(format!("f_im = {f} must be in (0, 1]")));
            }
        }
        check_plausible(
            &self.id,
            [
                p.cl_l_h,
                p.v1_l,
                p.q_l_h.unwrap_or(0.0),
                p.v2_l.unwrap_or(0.0),
                p.ka_h.unwrap_or(1.0),
            ],
        )
        .map_err(|e| bad(e.to_string()))?;
        let f = &self.fitted_in;
        if f.populations.is_empty() || f.source.trim().is_empty() {
            return Err(bad(
                "[fitted_in] needs at least one population id and a source".into(),
            ));
        }
        for (name, r) in [
            ("weight_kg", f.weight_kg),
            ("scr_mg_dl", f.scr_mg_dl),
            ("age_y", f.age_y),
        ] {
            if let Some([lo, hi]) = r {
                if !(lo.is_finite() && hi.is_finite() && 0.0 < lo && lo < hi) {
                    return Err(bad(format!(
                        "[fitted_in] {name} = [{lo}, {hi}] must be [min, max] with 0 < min < max"
                    )));
                }
            }
        }
        self.typical_peripheral()?;
        // file-consistency guard (same kind as PLAUSIBLE_PARAMS), not a clinical range
        if !(self.baseline.mmol_l > 0.0 && self.baseline.mmol_l < 3.0) {
            return Err(bad(format!(
                "baseline {} mmol/L is implausible",
                self.baseline.mmol_l
            )));
        }
        for c in &self.covariates {
            let ok = match c.form {
                CovariateForm::Power => {
                    c.reference.is_some_and(|r| r > 0.0) && c.exponent.is_some()
                }
                CovariateForm::Linear => {
                    c.reference.is_some_and(|r| r > 0.0) && c.coefficient.is_some()
                }
                CovariateForm::Categorical => c.if_true.is_some() && c.if_false.is_some(),
            };
            if !ok {
                return Err(bad(format!(
                    "covariate {:?} on {:?} ({:?}) lacks its reference/exponent/coefficient/factors",
                    c.covariate, c.parameter, c.form
                )));
            }
            if matches!(c.parameter, ParamName::QLH | ParamName::V2L)
                && self.structure == Structure::OneCompartment
            {
                return Err(bad(
                    "a one-compartment model cannot have covariates on Q or V2".into(),
                ));
            }
        }
        Ok(())
    }

    /// The typical peripheral compartment: Some for a two-compartment model (which must give both
    /// `q_l_h` and `v2_l`, finite and positive), None for a one-compartment model (which must give
    /// neither). Anything else is refused, naming the field.
    pub fn typical_peripheral(&self) -> Result<Option<Peripheral>, MgivError> {
        let bad = |m: String| MgivError::ModelFile {
            id: self.id.clone(),
            message: m,
        };
        let p = &self.parameters;
        let fields = [("q_l_h", p.q_l_h), ("v2_l", p.v2_l)];
        match self.structure {
            Structure::OneCompartment => match fields.iter().find_map(|(n, v)| Some((n, (*v)?))) {
                Some((name, v)) => Err(bad(format!(
                    "parameter {name} = {v} given for a one-compartment model (no peripheral compartment); remove it or declare structure = \"two-compartment\""
                ))),
                None => Ok(None),
            },
            Structure::TwoCompartment => {
                let [q_l_h, v2_l] = fields.map(|(name, v)| match v {
                    None => Err(bad(format!(
                        "parameter {name} missing: a two-compartment model needs q_l_h and v2_l"
                    ))),
                    Some(v) if !(v.is_finite() && v > 0.0) => Err(bad(format!(
                        "parameter {name} = {v} must be positive (a two-compartment model needs q_l_h > 0 and v2_l > 0)"
                    ))),
                    Some(v) => Ok(v),
                });
                Ok(Some(Peripheral {
                    q_l_h: q_l_h?,
                    v2_l: v2_l?,
                }))
            }
        }
    }

    /// Whether the model can absorb IM doses.
    pub fn supports_im(&self) -> bool {
        self.parameters.ka_h.is_some() && self.parameters.f_im.is_some()
    }

    /// The factor one covariate relation applies to its parameter for this patient; a missing
    /// value is taken at the reference and recorded in `missing` (covariate, reference,
    /// parameters) for one warning per covariate.
    fn covariate_factor(
        &self,
        c: &Covariate,
        patient: &Patient,
        missing: &mut Vec<(CovariateName, f64, Vec<&'static str>)>,
    ) -> Result<f64, MgivError> {
        let value: Option<f64> = match c.covariate {
            CovariateName::WeightKg => patient.weight_kg,
            CovariateName::ScrMgDl => patient.scr_mg_dl,
            CovariateName::CrclMlMin => patient.crcl_ml_min(),
            CovariateName::PreEclampsia => Some(if patient.pre_eclampsia { 1.0 } else { 0.0 }),
        };
        let factor = match c.form {
            CovariateForm::Categorical => {
                let yes = value.unwrap_or(0.0) > 0.5;
                if yes {
                    c.if_true.unwrap_or(1.0)
                } else {
                    c.if_false.unwrap_or(1.0)
                }
            }
            CovariateForm::Power | CovariateForm::Linear => {
                let reference = c.reference.unwrap_or(1.0);
                let x = match value {
                    Some(x) => x,
                    None => {
                        match missing.iter_mut().find(|m| m.0 == c.covariate) {
                            Some(m) => m.2.push(param_label(c.parameter)),
                            None => missing.push((
                                c.covariate,
                                reference,
                                vec![param_label(c.parameter)],
                            )),
                        }
                        reference
                    }
                };
                if c.form == CovariateForm::Power {
                    (x / reference).powf(c.exponent.unwrap_or(0.0))
                } else {
                    1.0 + c.coefficient.unwrap_or(0.0) * (x / reference - 1.0)
                }
            }
        };
        if !(factor.is_finite() && factor > 0.0) {
            return Err(invalid(
                covariate_label(c.covariate),
                format!("{value:?}"),
                format!(
                    "a value for which model {} gives a positive {}",
                    self.id,
                    param_label(c.parameter)
                ),
            ));
        }
        Ok(factor)
    }

    /// Compute one patient's parameters.
    pub fn individualise(&self, patient: &Patient) -> Result<Individualised, MgivError> {
        let p = &self.parameters;
        let mut cl = p.cl_l_h;
        let mut v1 = p.v1_l;
        let mut peripheral = self.typical_peripheral()?;
        let mut warnings = Vec::new();
        // covariate → (reference, parameters it was used for), reported once per covariate
        let mut missing: Vec<(CovariateName, f64, Vec<&'static str>)> = Vec::new();
        for c in &self.covariates {
            let factor = self.covariate_factor(c, patient, &mut missing)?;
            match c.parameter {
                ParamName::ClLH => cl *= factor,
                ParamName::V1L => v1 *= factor,
                ParamName::QLH | ParamName::V2L => {
                    let Some(pp) = peripheral.as_mut() else {
                        return Err(MgivError::ModelFile {
                            id: self.id.clone(),
                            message: "a one-compartment model cannot have covariates on Q or V2"
                                .into(),
                        });
                    };
                    if c.parameter == ParamName::QLH {
                        pp.q_l_h *= factor;
                    } else {
                        pp.v2_l *= factor;
                    }
                }
            }
        }
        for (cov, reference, params) in &missing {
            warnings.push(Warning::new(
                "COVARIATE-NOT-GIVEN",
                format!(
                    "{} not given: model {} used its reference {} {} (for {})",
                    covariate_label(*cov),
                    self.id,
                    reference,
                    covariate_unit(*cov),
                    params.join(", ")
                ),
                format!("model {} ({})", self.id, self.citation),
            ));
        }
        let mut gfr_ml_min = None;
        if let Elimination::RenalThreshold {
            f_uf,
            default_gfr_ml_min,
            ..
        } = self.elimination
        {
            let gfr = match patient.gfr_ml_min() {
                Some(g) => g,
                None => {
                    warnings.push(Warning::new(
                        "RENAL-FUNCTION-NOT-GIVEN",
                        format!(
                            "renal function not given (creatinine with age and sex, CrCl or eGFR): model {} assumed GFR {} mL/min",
                            self.id, default_gfr_ml_min
                        ),
                        format!("model {} ({})", self.id, self.citation),
                    ));
                    default_gfr_ml_min
                }
            };
            gfr_ml_min = Some(gfr);
            // the linearised clearance above threshold, reported for comparison
            // mL/min to L/h: × 60 / 1000 (unit arithmetic)
            cl = f_uf * gfr * 0.06;
        }
        let (q, v2) = peripheral.map_or((0.0, 0.0), |pp| (pp.q_l_h, pp.v2_l));
        check_plausible(&self.id, [cl, v1, q, v2, p.ka_h.unwrap_or(1.0)])?;
        let baseline_mmol_l = match patient.baseline {
            Some(b) => b.mmol_l(),
            None => {
                warnings.push(Warning::new(
                    BASELINE_NOT_MEASURED,
                    format!(
                        "baseline serum Mg not measured: used model {}'s {} mmol/L ({}); give --baseline for a better prediction",
                        self.id, self.baseline.mmol_l, self.baseline.source
                    ),
                    self.baseline.source.clone(),
                ));
                self.baseline.mmol_l
            }
        };
        Ok(Individualised {
            params: IndividualParams {
                cl_l_h: cl,
                v1_l: v1,
                peripheral,
                ka_h: p.ka_h,
                f_im: p.f_im,
                baseline_mmol_l,
            },
            elimination: self.elimination,
            gfr_ml_min,
            warnings,
        })
    }
}

fn covariate_label(c: CovariateName) -> &'static str {
    match c {
        CovariateName::WeightKg => "weight",
        CovariateName::ScrMgDl => "serum creatinine",
        CovariateName::CrclMlMin => "creatinine clearance",
        CovariateName::PreEclampsia => "pre-eclampsia",
    }
}

fn covariate_unit(c: CovariateName) -> &'static str {
    match c {
        CovariateName::WeightKg => "kg",
        CovariateName::ScrMgDl => "mg/dL",
        CovariateName::CrclMlMin => "mL/min",
        CovariateName::PreEclampsia => "",
    }
}

fn param_label(p: ParamName) -> &'static str {
    match p {
        ParamName::ClLH => "CL",
        ParamName::V1L => "V1",
        ParamName::QLH => "Q",
        ParamName::V2L => "V2",
    }
}

/// All built-in models, parsed.
pub fn builtin_models() -> Result<Vec<ModelSpec>, MgivError> {
    BUILTIN_MODEL_FILES
        .iter()
        .map(|(id, text)| {
            let m = ModelSpec::from_toml(text).map_err(|e| MgivError::ModelFile {
                id: id.to_string(),
                message: e.to_string(),
            })?;
            if m.id != *id {
                return Err(MgivError::ModelFile {
                    id: id.to_string(),
                    message: format!("file declares id '{}'", m.id),
                });
            }
            Ok(m)
        })
        .collect()
}

/// A built-in model by id.
pub fn builtin_model(id: &str) -> Result<ModelSpec, MgivError> {
    let known: Vec<&str> = BUILTIN_MODEL_FILES.iter().map(|(k, _)| *k).collect();
    match BUILTIN_MODEL_FILES
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(id.trim()))
    {
        Some((_, text)) => ModelSpec::from_toml(text),
        None => Err(MgivError::UnknownModel {
            id: id.to_string(),
            known: known.join(", "),
        }),
    }
}

/// The model mgiv uses for a patient when none is named, and why.
pub fn default_model_for(patient: &Patient) -> (&'static str, String) {
    if patient.pre_eclampsia {
        (
            "du-2019",
            "pre-eclampsia: Du 2019 refits the dense Brookfield 2016 pre-eclampsia cohort with weight and creatinine covariates and IM absorption; it reproduces the reported steady state and Vo 2025 (magnesium-pk-2.md §1)".into(),
        )
    } else if patient.pregnant {
        // the clearance is the model file's (data/models/brookfield-2016.toml)
        let cl = builtin_model("brookfield-2016")
            .map(|m| format!(" ({} L/h)", m.parameters.cl_l_h))
            .unwrap_or_default();
        (
            "brookfield-2016",
            format!("pregnant without pre-eclampsia: Brookfield 2016 is the only model with a clearance for non-pre-eclamptic pregnancy{cl}"),
        )
    } else {
        (
            "mgiv-adult-2026",
            "not pregnant: no published non-pregnant adult population model exists; mgiv-adult-2026 is calibrated to adult ICU and neurosurgical data (docs/MODELS.md)".into(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::patient::PatientInput;

    #[test]
    fn all_builtin_models_load() {
        let models = builtin_models().unwrap();
        assert_eq!(models.len(), BUILTIN_MODEL_FILES.len());
        for m in &models {
            assert!(!m.citation.is_empty() && !m.evidence.is_empty(), "{}", m.id);
        }
    }

    #[test]
    fn unknown_model_lists_known() {
        let e = builtin_model("nonsense").unwrap_err().to_string();
        assert!(
            e.contains("nonsense") && e.contains("du-2019") && e.contains("salinger-2013"),
            "{e}"
        );
    }

    #[test]
    fn salinger_covariates() {
        let m = builtin_model("salinger-2013").unwrap();
        let p = PatientInput {
            weight_kg: Some(55.0),
            creatinine: Some(crate::patient::Creatinine::MgPerDl(0.8)),
            ..Default::default()
        }
        .validate()
        .unwrap();
        let ind = m.individualise(&p).unwrap().params;
        assert!((ind.cl_l_h - 4.81).abs() < 1e-12 && (ind.v1_l - 15.6).abs() < 1e-12);
        let p2 = PatientInput {
            weight_kg: Some(110.0),
            creatinine: Some(crate::patient::Creatinine::MgPerDl(1.6)),
            ..Default::default()
        }
        .validate()
        .unwrap();
        let ind2 = m.individualise(&p2).unwrap().params;
        assert!((ind2.v1_l - 15.6 * 2f64.powf(0.692)).abs() < 1e-9);
        assert!((ind2.cl_l_h - 4.81 * 0.5f64.powf(1.48)).abs() < 1e-9);
    }

    #[test]
    fn brookfield_pe_switch() {
        let m = builtin_model("brookfield-2016").unwrap();
        let pe = PatientInput {
            pregnant: true,
            pre_eclampsia: true,
            ..Default::default()
        }
        .validate()
        .unwrap();
        let non = PatientInput {
            pregnant: true,
            ..Default::default()
        }
        .validate()
        .unwrap();
        assert!((m.individualise(&pe).unwrap().params.cl_l_h - 3.98).abs() < 1e-9);
        assert!((m.individualise(&non).unwrap().params.cl_l_h - 5.88).abs() < 1e-9);
    }

    #[test]
    fn missing_covariates_are_reported() {
        let m = builtin_model("du-2019").unwrap();
        let ind = m.individualise(&Patient::default()).unwrap();
        assert!(ind.warnings.iter().any(|w| w.message.contains("weight")));
        assert!(ind
            .warnings
            .iter()
            .any(|w| w.message.contains("creatinine")));
        assert!(ind.warnings.iter().any(|w| w.is(BASELINE_NOT_MEASURED)));
    }

    #[test]
    fn default_model_choice() {
        let pe = PatientInput {
            pre_eclampsia: true,
            ..Default::default()
        }
        .validate()
        .unwrap();
        assert_eq!(default_model_for(&pe).0, "du-2019");
        let preg = PatientInput {
            pregnant: true,
            ..Default::default()
        }
        .validate()
        .unwrap();
        assert_eq!(default_model_for(&preg).0, "brookfield-2016");
        // the clearance quoted in the reason is the model file's (Brookfield 2016: 5.88 L/h)
        assert!(default_model_for(&preg).1.ends_with("(5.88 L/h)"));
        assert_eq!(default_model_for(&Patient::default()).0, "mgiv-adult-2026");
    }

    #[test]
    fn implausible_parameters_are_errors_naming_the_parameter() {
        let base = BUILTIN_MODEL_FILES[0].1;
        for (from, to, name) in [
            ("cl_l_h = 3.72", "cl_l_h = 1e300", "CL"),
            ("v1_l = 15.4", "v1_l = 1e-300", "V1"),
            ("cl_l_h = 3.72", "cl_l_h = nan", "cl_l_h"),
        ] {
            let e = ModelSpec::from_toml(&base.replace(from, to))
                .unwrap_err()
                .to_string();
            assert!(e.contains(name), "{e}");
        }
        // a covariate that drives a derived parameter out of range is caught at individualisation
        let m =
            ModelSpec::from_toml(&base.replace("exponent = -0.731", "exponent = -40.0")).unwrap();
        let p = PatientInput {
            weight_kg: Some(70.0),
            creatinine: Some(crate::patient::Creatinine::MgPerDl(0.3)),
            ..Default::default()
        }
        .validate()
        .unwrap();
        let e = m.individualise(&p).unwrap_err().to_string();
        assert!(e.contains("CL (L/h)"), "{e}");
    }

    #[test]
    fn model_files_need_fitted_in_metadata() {
        let base = BUILTIN_MODEL_FILES[0].1;
        let i = base.find("[fitted_in]").unwrap();
        let j = base[i..].find("\n[parameters]").unwrap() + i;
        let stripped = format!("{}{}", &base[..i], &base[j..]);
        let e = ModelSpec::from_toml(&stripped).unwrap_err().to_string();
        assert!(e.contains("fitted_in"), "{e}");
    }

    #[test]
    fn peripheral_compartment_follows_the_structure() {
        // every shipped model but Salinger's is two-compartment
        for m in builtin_models().unwrap() {
            let ind = m.individualise(&Patient::default()).unwrap().params;
            let two = m.structure == Structure::TwoCompartment;
            assert_eq!(ind.is_two_compartment(), two, "{}", m.id);
            assert_eq!(m.typical_peripheral().unwrap().is_some(), two, "{}", m.id);
        }
        let sal = builtin_model("salinger-2013").unwrap();
        assert_eq!(sal.typical_peripheral().unwrap(), None);
        assert_eq!(
            sal.individualise(&Patient::default())
                .unwrap()
                .params
                .peripheral,
            None
        );
        let du = builtin_model("du-2019").unwrap();
        assert_eq!(
            du.typical_peripheral().unwrap(),
            Some(Peripheral {
                q_l_h: 3.66,
                v2_l: 17.0
            })
        );
    }

    #[test]
    fn half_a_peripheral_compartment_is_refused_naming_the_field() {
        let du = BUILTIN_MODEL_FILES[0].1;
        assert!(du.contains("q_l_h = 3.66\nv2_l = 17.0\n"));
        // a two-compartment file: Q > 0 with V2 = 0 or missing, and the reverse
        for (text, field) in [
            (du.replace("v2_l = 17.0\n", "v2_l = 0.0\n"), "v2_l"),
            (du.replace("v2_l = 17.0\n", ""), "v2_l"),
            (du.replace("q_l_h = 3.66\n", "q_l_h = 0.0\n"), "q_l_h"),
            (du.replace("q_l_h = 3.66\n", ""), "q_l_h"),
        ] {
            let e = ModelSpec::from_toml(&text).unwrap_err();
            assert!(matches!(e, MgivError::ModelFile { .. }), "{e:?}");
            let e = e.to_string();
            assert!(e.contains(field) && e.contains("du-2019"), "{e}");
        }
        // a one-compartment file that gives Q or V2
        let sal = BUILTIN_MODEL_FILES[2].1;
        assert!(sal.contains("v1_l = 15.6\n"));
        for (add, field) in [("q_l_h = 3.0\n", "q_l_h"), ("v2_l = 20.0\n", "v2_l")] {
            let text = sal.replace("v1_l = 15.6\n", &format!("v1_l = 15.6\n{add}"));
            let e = ModelSpec::from_toml(&text).unwrap_err().to_string();
            assert!(
                e.contains(field) && e.contains("one-compartment") && e.contains("salinger-2013"),
                "{e}"
            );
        }
        // a spec built in code (not checked by from_toml) is refused when individualised
        let mut m = builtin_model("du-2019").unwrap();
        m.parameters.v2_l = Some(0.0);
        let e = m
            .individualise(&Patient::default())
            .unwrap_err()
            .to_string();
        assert!(e.contains("v2_l = 0"), "{e}");
        m.parameters.v2_l = None;
        let e = m
            .individualise(&Patient::default())
            .unwrap_err()
            .to_string();
        assert!(e.contains("v2_l missing"), "{e}");
        let mut s = builtin_model("salinger-2013").unwrap();
        s.parameters.q_l_h = Some(3.0);
        let e = s
            .individualise(&Patient::default())
            .unwrap_err()
            .to_string();
        assert!(e.contains("q_l_h = 3"), "{e}");
    }

    #[test]
    fn individual_params_json_flattens_the_peripheral_compartment() {
        let mut p = IndividualParams {
            cl_l_h: 3.5,
            v1_l: 15.0,
            peripheral: Some(Peripheral {
                q_l_h: 3.66,
                v2_l: 17.0,
            }),
            ka_h: Some(0.317),
            f_im: None,
            baseline_mmol_l: 0.75,
        };
        // the field order and names of the former flat struct
        assert_eq!(
            serde_json::to_string(&p).unwrap(),
            r#"{"cl_l_h":3.5,"v1_l":15.0,"q_l_h":3.66,"v2_l":17.0,"ka_h":0.317,"f_im":null,"baseline_mmol_l":0.75}"#
        );
        p.peripheral = None;
        assert_eq!(
            serde_json::to_string(&p).unwrap(),
            r#"{"cl_l_h":3.5,"v1_l":15.0,"ka_h":0.317,"f_im":null,"baseline_mmol_l":0.75}"#
        );
    }

    #[test]
    fn bad_model_file_is_rejected() {
        let text = BUILTIN_MODEL_FILES[0]
            .1
            .replace("cl_l_h = 3.72", "cl_l_h = -3.72");
        assert!(ModelSpec::from_toml(&text).is_err());
    }
}
