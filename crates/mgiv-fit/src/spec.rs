//! What estimation needs from a model TOML: fixed effects (θ) with initial values and bounds,
//! covariate relations, IIV (diagonal or full/block Ω), residual error (additive, proportional,
//! combined; on the total or on the change from baseline) and how the baseline is handled
//! (fixed, estimated, or per subject from pre-dose samples).
//!
//! Two shapes are read:
//! - a published model file (`data/models/*.toml`, loaded unchanged): without an `[estimation]`
//!   table its values become the initial estimates (typical values as θ, IIV CV % as Ω,
//!   published covariate relations as fixed effects, residual error as σ);
//! - any model TOML with an `[estimation]` table (a published one, or a short file with `id`,
//!   `name`, `structure`, `source` and `[estimation]`), which then says everything.
//!
//! Individual parameter P = θ_P · Π covariate factors · exp(η_P).

use std::collections::BTreeMap;

use mgiv_core::error::invalid;
use mgiv_core::model::{
    CovariateForm, CovariateName, ModelSpec, ParamName, ResidualScale, Structure,
};
use mgiv_core::MgivError;
use mgiv_data::CovariateFill;
use serde::{Deserialize, Serialize};

/// Structural parameter names, in index order.
pub const PARAMS: [&str; 5] = ["cl_l_h", "v1_l", "q_l_h", "v2_l", "baseline_mmol_l"];
pub const BASE: usize = 4;

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ThetaSpec {
    pub init: f64,
    #[serde(default)]
    pub lower: Option<f64>,
    #[serde(default)]
    pub upper: Option<f64>,
    #[serde(default)]
    pub fixed: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum BaselineMode {
    /// the θ `baseline_mmol_l` is fixed
    Fixed,
    /// the θ `baseline_mmol_l` is estimated (with an η if Ω names it)
    #[default]
    Estimated,
    /// each subject's baseline is the mean of its pre-dose samples (θ for subjects without one)
    PerSubject,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RelationForm {
    /// P × (x / reference)^e
    Power,
    /// P × (1 + e·(x / reference − 1))
    Linear,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct CovariateRelation {
    /// structural parameter (cl_l_h, v1_l, q_l_h, v2_l, baseline_mmol_l)
    pub parameter: String,
    /// dataset column; a value that changes within a subject changes the parameter from then on
    /// (see [`EstimationSection::covariate_fill`])
    pub column: String,
    pub form: RelationForm,
    pub reference: f64,
    /// name of an estimated θ for the exponent/coefficient ...
    #[serde(default)]
    pub theta: Option<String>,
    /// ... or its fixed value
    #[serde(default)]
    pub value: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(untagged)]
pub enum OmegaInit {
    /// variances: a diagonal Ω
    Diagonal(Vec<f64>),
    /// the full matrix: a block Ω (all covariances estimated)
    Full(Vec<Vec<f64>>),
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct OmegaSpec {
    pub parameters: Vec<String>,
    pub init: OmegaInit,
}

/// `[estimation.iov]`: a random effect κ ~ N(0, ω²) per occasion (OCC) on each named parameter,
/// P = θ_P · covariates · exp(η_P + κ_P,occ).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct IovSpec {
    pub parameters: Vec<String>,
    /// initial variances ω²_IOV, one per parameter
    pub init: Vec<f64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorModel {
    Additive,
    Proportional,
    Combined,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ResidualSpec {
    pub model: ErrorModel,
    #[serde(default)]
    pub on: ResidualScale,
    #[serde(default)]
    pub additive_mmol_l: Option<f64>,
    #[serde(default)]
    pub proportional: Option<f64>,
}

/// How a covariate is read between the records that give it (`covariate_fill` in
/// `[estimation]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum FillSpec {
    /// next observation carried backward (NONMEM's default)
    #[default]
    Nocb,
    /// last observation carried forward
    Locf,
}

impl From<FillSpec> for CovariateFill {
    fn from(f: FillSpec) -> Self {
        match f {
            FillSpec::Nocb => CovariateFill::Nocb,
            FillSpec::Locf => CovariateFill::Locf,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct EstimationSection {
    #[serde(default)]
    pub baseline: BaselineMode,
    /// time-varying covariates between records: "nocb" (default) or "locf"
    #[serde(default)]
    pub covariate_fill: FillSpec,
    pub theta: BTreeMap<String, ThetaSpec>,
    #[serde(default)]
    pub covariates: Vec<CovariateRelation>,
    #[serde(default)]
    pub omega: Option<OmegaSpec>,
    pub residual: ResidualSpec,
    /// between-occasion variability (FOCE-I): occasions from the dataset's OCC column
    #[serde(default)]
    pub iov: Option<IovSpec>,
}

#[derive(Debug, Clone, Deserialize)]
struct Standalone {
    id: String,
    name: String,
    structure: Structure,
    #[serde(default)]
    source: String,
    #[serde(default)]
    ka_h: Option<f64>,
    #[serde(default)]
    f_im: Option<f64>,
    estimation: EstimationSection,
}

#[derive(Debug, Clone, Deserialize)]
struct WithEstimation {
    estimation: Option<EstimationSection>,
}

/// One θ of the compiled model.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Theta {
    pub name: String,
    pub init: f64,
    pub lower: f64,
    pub upper: f64,
    pub fixed: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub enum Effect {
    Theta(usize),
    Fixed(f64),
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CompiledRelation {
    pub param: usize,
    pub column: String,
    pub form: RelationForm,
    pub reference: f64,
    pub effect: Effect,
}

/// A model ready for estimation.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EstimationModel {
    pub id: String,
    pub name: String,
    /// citation / where the structure and initial values come from
    pub source: String,
    pub evidence: String,
    pub two_cmt: bool,
    pub ka_h: Option<f64>,
    pub f_im: Option<f64>,
    pub thetas: Vec<Theta>,
    /// θ index of each structural parameter (None: q/v2 of a one-compartment model)
    pub param_theta: [Option<usize>; 5],
    pub baseline: BaselineMode,
    pub relations: Vec<CompiledRelation>,
    /// structural parameter of each η
    pub eta_params: Vec<usize>,
    /// initial Ω (k×k row-major)
    pub omega_init: Vec<f64>,
    /// whether off-diagonal elements are estimated
    pub omega_block: bool,
    pub error_model: ErrorModel,
    pub residual_on: ResidualScale,
    pub sigma_add_init: f64,
    pub sigma_prop_init: f64,
    /// how time-varying covariates are read between records (NOCB unless the model says LOCF)
    pub covariate_fill: CovariateFill,
    /// structural parameter of each between-occasion random effect (empty: no IOV)
    pub iov_params: Vec<usize>,
    /// initial ω²_IOV of each
    pub iov_init: Vec<f64>,
}

fn param_index(name: &str) -> Result<usize, MgivError> {
    PARAMS
        .iter()
        .position(|p| *p == name)
        .ok_or_else(|| invalid("parameter", name, PARAMS.join(", ")))
}

fn column_of(c: CovariateName) -> &'static str {
    match c {
        CovariateName::WeightKg => "WT",
        CovariateName::ScrMgDl => "SCR",
        CovariateName::CrclMlMin => "CRCL",
        CovariateName::PreEclampsia => "PE",
    }
}

fn core_param(p: ParamName) -> usize {
    match p {
        ParamName::ClLH => 0,
        ParamName::V1L => 1,
        ParamName::QLH => 2,
        ParamName::V2L => 3,
    }
}

impl EstimationModel {
    /// Read a model TOML (see the module docs for the two shapes).
    pub fn from_toml(text: &str) -> Result<Self, MgivError> {
        match ModelSpec::from_toml(text) {
            Ok(spec) => {
                let extra: WithEstimation =
                    toml::from_str(text).map_err(|e| MgivError::ModelFile {
                        id: spec.id.clone(),
                        message: format!("[estimation]: {e}"),
                    })?;
                match extra.estimation {
                    Some(est) => Self::compile(
                        &spec.id,
                        &spec.name,
                        &spec.citation,
                        &spec.evidence,
                        spec.structure,
                        spec.parameters.ka_h,
                        spec.parameters.f_im,
                        est,
                    ),
                    None => Self::from_published(&spec),
                }
            }
            Err(published_err) => {
                let s: Standalone = toml::from_str(text).map_err(|e| MgivError::ModelFile {
                    id: "(file)".into(),
                    message: format!(
                        "neither a published model ({published_err}) nor an estimation model: {e}"
                    ),
                })?;
                Self::compile(
                    &s.id,
                    &s.name,
                    &s.source,
                    "user model for estimation: evidence is the fit to the data given",
                    s.structure,
                    s.ka_h,
                    s.f_im,
                    s.estimation,
                )
            }
        }
    }

    /// Initial estimates from a published model: typical values, fixed published covariate
    /// relations, IIV CV % → ω² = ln(1 + CV²) (with its correlations), residual error.
    pub fn from_published(spec: &ModelSpec) -> Result<Self, MgivError> {
        let p = &spec.parameters;
        let peripheral = spec.typical_peripheral()?;
        let mut theta = BTreeMap::new();
        let mut add = |n: &str, v: f64| {
            theta.insert(
                n.to_string(),
                ThetaSpec {
                    init: v,
                    lower: Some(v / 100.0),
                    upper: Some(v * 100.0),
                    fixed: false,
                },
            );
        };
        add("cl_l_h", p.cl_l_h);
        add("v1_l", p.v1_l);
        if let Some(pp) = peripheral {
            add("q_l_h", pp.q_l_h);
            add("v2_l", pp.v2_l);
        }
        add("baseline_mmol_l", spec.baseline.mmol_l);
        let mut covariates = Vec::new();
        for c in &spec.covariates {
            let (form, value) = match c.form {
                CovariateForm::Power => (RelationForm::Power, c.exponent),
                CovariateForm::Linear => (RelationForm::Linear, c.coefficient),
                CovariateForm::Categorical => {
                    return Err(MgivError::ModelFile {
                        id: spec.id.clone(),
                        message: format!(
                            "the categorical covariate {:?} cannot be estimated yet; add an [estimation] table without it",
                            c.covariate
                        ),
                    })
                }
            };
            covariates.push(CovariateRelation {
                parameter: PARAMS[core_param(c.parameter)].to_string(),
                column: column_of(c.covariate).to_string(),
                form,
                reference: c.reference.unwrap_or(1.0),
                theta: None,
                value,
            });
        }
        let var = spec.variability.clone().unwrap_or_default();
        let params: Vec<String> = var.iiv_cv_percent.keys().cloned().collect();
        let k = params.len();
        let omega = if k == 0 {
            None
        } else {
            let w: Vec<f64> = params
                .iter()
                .map(|n| (1.0 + (var.iiv_cv_percent[n] / 100.0).powi(2)).ln())
                .collect();
            if var.correlations.is_empty() {
                Some(OmegaSpec {
                    parameters: params.clone(),
                    init: OmegaInit::Diagonal(w),
                })
            } else {
                let mut m = vec![vec![0.0; k]; k];
                for i in 0..k {
                    m[i][i] = w[i];
                }
                for (a, b, r) in &var.correlations {
                    if let (Some(i), Some(j)) = (
                        params.iter().position(|x| x == a),
                        params.iter().position(|x| x == b),
                    ) {
                        m[i][j] = r * (w[i] * w[j]).sqrt();
                        m[j][i] = m[i][j];
                    }
                }
                Some(OmegaSpec {
                    parameters: params.clone(),
                    init: OmegaInit::Full(m),
                })
            }
        };
        let (a, pr) = (var.residual_additive_mmol_l, var.residual_proportional);
        let model = match (a > 0.0, pr > 0.0) {
            (true, true) => ErrorModel::Combined,
            (false, true) => ErrorModel::Proportional,
            _ => ErrorModel::Additive,
        };
        let est = EstimationSection {
            baseline: BaselineMode::Estimated,
            theta,
            covariates,
            omega,
            residual: ResidualSpec {
                model,
                on: var.residual_on,
                additive_mmol_l: Some(if a > 0.0 { a } else { 0.05 }),
                proportional: Some(pr),
            },
            iov: None,
            covariate_fill: FillSpec::Nocb,
        };
        Self::compile(
            &spec.id,
            &spec.name,
            &spec.citation,
            &spec.evidence,
            spec.structure,
            p.ka_h,
            p.f_im,
            est,
        )
    }

    #[allow(clippy::too_many_arguments)]
    fn compile(
        id: &str,
        name: &str,
        source: &str,
        evidence: &str,
        structure: Structure,
        ka_h: Option<f64>,
        f_im: Option<f64>,
        est: EstimationSection,
    ) -> Result<Self, MgivError> {
        let bad = |m: String| MgivError::ModelFile {
            id: id.to_string(),
            message: m,
        };
        let two = matches!(structure, Structure::TwoCompartment);
        let (mut thetas, param_theta) = compile_thetas(&est, two, &bad)?;
        match est.baseline {
            BaselineMode::Fixed => {
                let i = param_theta[BASE].expect("checked");
                thetas[i].fixed = true;
            }
            BaselineMode::Estimated | BaselineMode::PerSubject => {}
        }
        let relations = compile_relations(&est, &thetas, &param_theta, &bad)?;
        let (eta_params, omega_init, omega_block) = compile_omega(&est, &param_theta, &bad)?;
        let (iov_params, iov_init) = compile_iov(&est, &param_theta, &bad)?;
        let r = &est.residual;
        let (add, prop) = residual_inits(r, &bad)?;
        Ok(EstimationModel {
            id: id.into(),
            name: name.into(),
            source: source.into(),
            evidence: evidence.into(),
            two_cmt: two,
            ka_h,
            f_im,
            thetas,
            param_theta,
            baseline: est.baseline,
            relations,
            eta_params,
            omega_init,
            omega_block,
            error_model: r.model,
            residual_on: r.on,
            sigma_add_init: add,
            sigma_prop_init: prop,
            covariate_fill: est.covariate_fill.into(),
            iov_params,
            iov_init,
        })
    }

    pub fn n_eta(&self) -> usize {
        self.eta_params.len()
    }

    /// Number of between-occasion random effects per occasion.
    pub fn n_iov(&self) -> usize {
        self.iov_params.len()
    }

    /// Names of the σ parameters estimated, in order.
    pub fn sigma_names(&self) -> Vec<&'static str> {
        match self.error_model {
            ErrorModel::Additive => vec!["additive_mmol_l"],
            ErrorModel::Proportional => vec!["proportional"],
            ErrorModel::Combined => vec!["proportional", "additive_mmol_l"],
        }
    }
}

type Bad<'a> = &'a dyn Fn(String) -> MgivError;

/// θ with their bounds (a structural θ's lower bound defaults to 0), and which θ each
/// structural parameter is; every parameter of the structure must have one.
fn compile_thetas(
    est: &EstimationSection,
    two: bool,
    bad: Bad,
) -> Result<(Vec<Theta>, [Option<usize>; 5]), MgivError> {
    let needed: Vec<&str> = if two {
        PARAMS.to_vec()
    } else {
        vec!["cl_l_h", "v1_l", "baseline_mmol_l"]
    };
    let mut thetas = Vec::new();
    let mut param_theta = [None; 5];
    for n in &needed {
        if !est.theta.contains_key(*n) {
            return Err(bad(format!(
                "[estimation.theta] has no '{n}' (a {} model needs {})",
                if two {
                    "two-compartment"
                } else {
                    "one-compartment"
                },
                needed.join(", ")
            )));
        }
    }
    for (n, t) in &est.theta {
        let structural = PARAMS.iter().position(|p| p == n);
        // structural parameters are positive: their lower bound defaults to 0
        let lower = t.lower.unwrap_or(if structural.is_some() {
            0.0
        } else {
            f64::NEG_INFINITY
        });
        let upper = t.upper.unwrap_or(f64::INFINITY);
        if !(t.init.is_finite() && lower < upper && t.init > lower && t.init < upper) {
            return Err(bad(format!(
                "theta {n}: init {} must lie strictly between lower {lower} and upper {upper}",
                t.init
            )));
        }
        if let Some(i) = structural {
            if !needed.contains(&PARAMS[i]) {
                return Err(bad(format!(
                    "theta {n} is not a parameter of a one-compartment model"
                )));
            }
            if lower < 0.0 || t.init <= 0.0 {
                return Err(bad(format!(
                    "theta {n}: a structural parameter needs init > 0 and lower >= 0 (given init {}, lower {lower})",
                    t.init
                )));
            }
            param_theta[i] = Some(thetas.len());
        }
        thetas.push(Theta {
            name: n.clone(),
            init: t.init,
            lower,
            upper,
            fixed: t.fixed,
        });
    }
    Ok((thetas, param_theta))
}

/// Covariate relations: on a parameter of the model, positive reference, an estimated θ or a
/// fixed value.
fn compile_relations(
    est: &EstimationSection,
    thetas: &[Theta],
    param_theta: &[Option<usize>; 5],
    bad: Bad,
) -> Result<Vec<CompiledRelation>, MgivError> {
    let mut relations = Vec::new();
    for r in &est.covariates {
        let param = param_index(&r.parameter)?;
        if param_theta[param].is_none() {
            return Err(bad(format!(
                "covariate on {}: not a parameter of this model",
                r.parameter
            )));
        }
        if !(r.reference.is_finite() && r.reference > 0.0) {
            return Err(bad(format!(
                "covariate {} on {}: reference {} must be > 0",
                r.column, r.parameter, r.reference
            )));
        }
        let effect = match (&r.theta, r.value) {
            (Some(t), None) => {
                Effect::Theta(thetas.iter().position(|x| &x.name == t).ok_or_else(|| {
                    bad(format!(
                        "covariate {} on {}: no theta '{t}'",
                        r.column, r.parameter
                    ))
                })?)
            }
            (None, Some(v)) => Effect::Fixed(v),
            _ => {
                return Err(bad(format!(
                    "covariate {} on {}: give either theta (estimated) or value (fixed)",
                    r.column, r.parameter
                )))
            }
        };
        relations.push(CompiledRelation {
            param,
            column: r.column.to_ascii_uppercase(),
            form: r.form,
            reference: r.reference,
            effect,
        });
    }
    Ok(relations)
}

/// Ω: the parameters with a random effect, the initial k×k matrix (row-major) and whether it is
/// a full block; checked symmetric and positive definite.
/// `[estimation.iov]`: the parameters (each with a θ, named once) and positive initial variances.
fn compile_iov(
    est: &EstimationSection,
    param_theta: &[Option<usize>; 5],
    bad: Bad,
) -> Result<(Vec<usize>, Vec<f64>), MgivError> {
    let Some(iov) = &est.iov else {
        return Ok((Vec::new(), Vec::new()));
    };
    if iov.parameters.is_empty() || iov.parameters.len() != iov.init.len() {
        return Err(bad(format!(
            "[estimation.iov]: {} parameters and {} initial variances (allowed: one positive variance per parameter, at least one)",
            iov.parameters.len(),
            iov.init.len()
        )));
    }
    let mut idx = Vec::new();
    for (p, v) in iov.parameters.iter().zip(&iov.init) {
        let i = param_index(p)?;
        if param_theta[i].is_none() || idx.contains(&i) {
            return Err(bad(format!(
                "[estimation.iov] parameters: {p} (allowed: each parameter of this model at most once)"
            )));
        }
        if i == BASE && est.baseline != BaselineMode::Estimated {
            return Err(bad(
                "[estimation.iov] on baseline_mmol_l needs baseline = \"estimated\"".into(),
            ));
        }
        if !(v.is_finite() && *v > 0.0) {
            return Err(bad(format!(
                "[estimation.iov] init for {p}: {v} (allowed: a positive variance)"
            )));
        }
        idx.push(i);
    }
    Ok((idx, iov.init.clone()))
}

fn compile_omega(
    est: &EstimationSection,
    param_theta: &[Option<usize>; 5],
    bad: Bad,
) -> Result<(Vec<usize>, Vec<f64>, bool), MgivError> {
    let Some(o) = &est.omega else {
        return Ok((Vec::new(), Vec::new(), false));
    };
    let k = o.parameters.len();
    if k > crate::dual::NE {
        return Err(bad(format!(
            "{k} random effects: at most {}",
            crate::dual::NE
        )));
    }
    let mut idx = Vec::new();
    for p in &o.parameters {
        let i = param_index(p)?;
        if param_theta[i].is_none() {
            return Err(bad(format!("omega on {p}: not a parameter of this model")));
        }
        if idx.contains(&i) {
            return Err(bad(format!("omega names {p} twice")));
        }
        if i == BASE && est.baseline != BaselineMode::Estimated {
            return Err(bad(
                "omega on baseline_mmol_l needs baseline = \"estimated\"".into(),
            ));
        }
        idx.push(i);
    }
    let mut m = vec![0.0; k * k];
    let block = match &o.init {
        OmegaInit::Diagonal(v) => {
            if v.len() != k {
                return Err(bad(format!(
                    "omega init has {} variances for {k} parameters",
                    v.len()
                )));
            }
            for i in 0..k {
                m[i * k + i] = v[i];
            }
            false
        }
        OmegaInit::Full(rows) => {
            if rows.len() != k || rows.iter().any(|r| r.len() != k) {
                return Err(bad(format!("omega init must be a {k}×{k} matrix")));
            }
            for i in 0..k {
                for j in 0..k {
                    m[i * k + j] = rows[i][j];
                    if (rows[i][j] - rows[j][i]).abs() > 1e-12 {
                        return Err(bad("omega init must be symmetric".into()));
                    }
                }
            }
            true
        }
    };
    if mgiv_pop::linalg::cholesky(&m, k).is_none() {
        return Err(bad("omega init must be positive definite".into()));
    }
    Ok((idx, m, block))
}

/// Initial residual SDs (additive mmol/L, proportional fraction); those the model uses must be
/// > 0.
fn residual_inits(r: &ResidualSpec, bad: Bad) -> Result<(f64, f64), MgivError> {
    let add = r.additive_mmol_l.unwrap_or(0.0);
    let prop = r.proportional.unwrap_or(0.0);
    let need_add = matches!(r.model, ErrorModel::Additive | ErrorModel::Combined);
    let need_prop = matches!(r.model, ErrorModel::Proportional | ErrorModel::Combined);
    let positive = |v: f64| v.is_finite() && v > 0.0;
    if (need_add && !positive(add)) || (need_prop && !positive(prop)) {
        return Err(bad(format!(
            "residual model {} needs initial values > 0 for {}",
            format!("{:?}", r.model).to_ascii_lowercase(),
            match r.model {
                ErrorModel::Additive => "additive_mmol_l",
                ErrorModel::Proportional => "proportional",
                ErrorModel::Combined => "additive_mmol_l and proportional",
            }
        )));
    }
    Ok((add, prop))
}
