//! A fitted model as a model file in the schema of `data/models/` (a "TDM-ready" file): `mgiv
//! simulate --model-file` reads it, and mgiv-pop's population and TDM code takes the resulting
//! `ModelSpec` as it takes a published model. The typical
//! values, covariate relations, IIV (CV %, with correlations) and residual error are the
//! estimates; `[fitted_in]` comes from the population named by the caller and the dataset's
//! covariate ranges; the evidence line says it is a fit to that dataset, not a published model.

use mgiv_core::error::invalid;
use mgiv_core::model::{
    BaselineSpec, Covariate, CovariateForm, CovariateName, FittedIn, ModelSpec, ParamName,
    Presence, Structure, TypicalParams, Variability,
};
use mgiv_core::MgivError;
use mgiv_data::Dataset;

use crate::focei::FitResult;
use crate::spec::{Effect, EstimationModel, RelationForm, BASE, PARAMS};

fn column_range(ds: &Dataset, column: &str) -> Option<[f64; 2]> {
    let i = ds.covariate_index(column)?;
    let vals: Vec<f64> = ds
        .subjects
        .iter()
        .flat_map(|s| s.records.iter().filter_map(move |r| r.covariates[i]))
        .collect();
    let lo = vals.iter().cloned().fold(f64::INFINITY, f64::min);
    let hi = vals.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    (lo.is_finite() && hi.is_finite()).then_some([lo, hi])
}

/// The model file text (TOML), checked by reading it back with [`ModelSpec::from_toml`].
pub fn fitted_model_toml(
    model: &EstimationModel,
    r: &FitResult,
    ds: &Dataset,
    data_name: &str,
    population_id: &str,
    new_id: &str,
) -> Result<String, MgivError> {
    let pop = mgiv_pop::population::builtin_population(population_id)?;
    let theta = |name: &str| r.theta.get(name).copied();
    let what = format!(
        "mgiv fit (FOCE-I, OFV {:.3}) of model {} to {data_name}: {} subjects, {} observations",
        r.ofv, model.id, r.n_subjects, r.n_observations
    );
    let rse = |k: &str| {
        r.rse_percent
            .get(k)
            .map(|v| format!("RSE {v:.1} %"))
            .unwrap_or_else(|| "no RSE".into())
    };
    let covariates = model_file_covariates(model, r, &what, &rse)?;
    let (iiv, correlations, skipped) = model_file_iiv(model, r);
    let spec = ModelSpec {
        id: new_id.to_string(),
        name: format!("{} fitted to {data_name}", model.name),
        citation: what.clone(),
        doi: None,
        population: format!(
            "{} subjects of {data_name} (declared population: {})",
            r.n_subjects, pop.name
        ),
        fitted_in: fitted_in(&pop, ds, &what),
        evidence: format!(
            "Local fit: {what}. As strong as that dataset; not a published model{}.",
            if r.converged {
                ""
            } else {
                " (the estimation did NOT converge)"
            }
        ),
        structure: if model.two_cmt {
            Structure::TwoCompartment
        } else {
            Structure::OneCompartment
        },
        parameters: TypicalParams {
            cl_l_h: theta("cl_l_h").unwrap_or(0.0),
            v1_l: theta("v1_l").unwrap_or(0.0),
            q_l_h: theta("q_l_h"),
            v2_l: theta("v2_l"),
            ka_h: model.ka_h,
            f_im: model.f_im,
        },
        parameter_sources: format!(
            "{what}: CL {}, V1 {}{}",
            rse("theta.cl_l_h"),
            rse("theta.v1_l"),
            if model.two_cmt {
                format!(", Q {}, V2 {}", rse("theta.q_l_h"), rse("theta.v2_l"))
            } else {
                String::new()
            }
        ),
        covariates,
        baseline: BaselineSpec {
            mmol_l: theta("baseline_mmol_l").unwrap_or(0.0),
            source: format!("{what}: baseline θ ({})", rse("theta.baseline_mmol_l")),
        },
        elimination: Default::default(),
        variability: Some(Variability {
            iiv_cv_percent: iiv,
            correlations,
            residual_proportional: r.sigma.get("proportional").copied().unwrap_or(0.0),
            residual_additive_mmol_l: r.sigma.get("additive_mmol_l").copied().unwrap_or(0.0),
            residual_on: model.residual_on,
            // fitted between-occasion variability, as CV % (√(e^ω² − 1)); the baseline's is left out
            iov_cv_percent: r
                .omega_iov
                .iter()
                .filter(|(k, _)| k.as_str() != PARAMS[BASE])
                .map(|(k, w)| (k.clone(), 100.0 * (w.exp() - 1.0).sqrt()))
                .collect(),
            published_iiv_cv_percent: Default::default(),
            source: format!(
                "{what}: Ω and σ estimates{}",
                if skipped.is_empty() {
                    String::new()
                } else {
                    format!("; {}", skipped.join("; "))
                }
            ),
        }),
        notes: skipped,
    };
    let text =
        toml::to_string(&spec).map_err(|e| MgivError::Numerical(format!("model file: {e}")))?;
    let text = format!("# Written by `mgiv fit --write-model`: {what}.\n{text}");
    ModelSpec::from_toml(&text)?;
    Ok(text)
}

/// The covariate relations of the model file: estimated or fixed effects with their source.
fn model_file_covariates(
    model: &EstimationModel,
    r: &FitResult,
    what: &str,
    rse: &dyn Fn(&str) -> String,
) -> Result<Vec<Covariate>, MgivError> {
    let mut covariates = Vec::new();
    for rel in &model.relations {
        let covariate = match rel.column.as_str() {
            "WT" => CovariateName::WeightKg,
            "SCR" => CovariateName::ScrMgDl,
            "CRCL" => CovariateName::CrclMlMin,
            other => {
                return Err(invalid(
                    "covariate column for a model file",
                    other,
                    "WT (weight_kg), SCR (scr_mg_dl) or CRCL (crcl_ml_min)",
                ))
            }
        };
        let parameter = match rel.param {
            0 => ParamName::ClLH,
            1 => ParamName::V1L,
            2 => ParamName::QLH,
            3 => ParamName::V2L,
            _ => {
                return Err(invalid(
                    "covariate relation for a model file",
                    PARAMS[rel.param],
                    "relations on cl_l_h, v1_l, q_l_h or v2_l",
                ))
            }
        };
        let (value, source) = match rel.effect {
            Effect::Theta(i) => (
                r.theta[&model.thetas[i].name],
                format!(
                    "{what}: estimated ({})",
                    rse(&format!("theta.{}", model.thetas[i].name))
                ),
            ),
            Effect::Fixed(v) => (v, format!("{what}: fixed in the estimation model")),
        };
        let (form, exponent, coefficient) = match rel.form {
            RelationForm::Power => (CovariateForm::Power, Some(value), None),
            RelationForm::Linear => (CovariateForm::Linear, None, Some(value)),
        };
        covariates.push(Covariate {
            parameter,
            covariate,
            form,
            reference: Some(rel.reference),
            exponent,
            coefficient,
            if_true: None,
            if_false: None,
            source,
        });
    }
    Ok(covariates)
}

/// IIV (CV %) by parameter, correlations, and notes on what the schema cannot hold (baseline
/// IIV).
#[allow(clippy::type_complexity)]
fn model_file_iiv(
    model: &EstimationModel,
    r: &FitResult,
) -> (
    std::collections::BTreeMap<String, f64>,
    Vec<(String, String, f64)>,
    Vec<String>,
) {
    let mut iiv = std::collections::BTreeMap::new();
    let mut correlations = Vec::new();
    let k = model.n_eta();
    let mut skipped = Vec::new();
    for i in 0..k {
        let p = model.eta_params[i];
        let w = r.omega[PARAMS[p]];
        if p == BASE {
            skipped.push(format!(
                "baseline IIV ω² {w:.4} (CV {:.1} %) is not part of the model-file schema",
                100.0 * (w.exp() - 1.0).sqrt()
            ));
            continue;
        }
        iiv.insert(PARAMS[p].to_string(), 100.0 * (w.exp() - 1.0).sqrt());
        for j in 0..i {
            let q = model.eta_params[j];
            if let Some(c) = r.omega.get(&format!("{},{}", PARAMS[q], PARAMS[p])) {
                if q != BASE {
                    let rho = c / (r.omega[PARAMS[q]] * w).sqrt();
                    correlations.push((PARAMS[q].to_string(), PARAMS[p].to_string(), rho));
                }
            }
        }
    }
    (iiv, correlations, skipped)
}

/// `[fitted_in]`: the declared population and the dataset's covariate ranges.
fn fitted_in(pop: &mgiv_pop::population::PopulationSpec, ds: &Dataset, what: &str) -> FittedIn {
    FittedIn {
        pregnant: pop.pregnant,
        pre_eclampsia: if pop.pre_eclampsia {
            Presence::All
        } else {
            Presence::None
        },
        critically_ill: if pop.id == "icu" {
            Presence::All
        } else {
            Presence::None
        },
        populations: vec![pop.id.clone()],
        weight_kg: column_range(ds, "WT"),
        scr_mg_dl: column_range(ds, "SCR"),
        age_y: column_range(ds, "AGE"),
        source: format!("{what}; population declared by the user as '{}'", pop.id),
    }
}
