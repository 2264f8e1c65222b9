//! Issue 10: candidate adult models fitted to *every* public adult study by an aggregate-data
//! likelihood, and chosen by leave-one-study-out cross-validation rather than by fit.
//!
//! Data: the cases of `data/validation/pk-cases.toml` whose model is `mgiv-adult-2026` (role
//! calibration or prediction), each with `n_patients` and a between-patient SD per level
//! (`sd_mmol_l`; assumed where a study does not report it, and said so in the file). A reported
//! mean ȳ of n patients with SD s is modelled as
//!
//! ȳ ~ Normal(f(θ), s²/n + (τ·f(θ))²),
//!
//! where f is the typical-patient prediction and τ a relative between-study (structural) error
//! estimated with θ: a study weighs by its n and its spread, and no study can dominate through a
//! misfit the model cannot remove. The objective is −2 log posterior (up to a constant) with the
//! weak log-normal priors of `data/calibration/mgiv-adult-2026.toml` (a Tm prior for the
//! renal-threshold candidate); the fit is Nelder–Mead on log parameters (argmin), and the
//! uncertainty is the Laplace approximation at the optimum (shared Hessian of `numerics`).
//!
//! Candidates:
//! - `linear`: the shipped structure (two compartments, linear clearance of the increment above
//!   baseline; CL, V1, Q, V2 with Du 2019's allometry);
//! - `renal-threshold`: glomerular filtration of ultrafilterable Mg with tubular reabsorption up to
//!   a maximum, excretion = GFR·max(0, f_uf·C − Tm) (f_uf 0.7, GFR 100 mL/min as the studies give
//!   no creatinine; Tm, V1, Q, V2 fitted). Nonlinear: solved by the ODE path.
//!
//! `mgiv calibrate adult --compare` prints the table that `docs/MODELS.md` reports.

use argmin::core::{CostFunction, Error as ArgminError, Executor, State};
use argmin::solver::neldermead::NelderMead;
use serde::Serialize;

use crate::error::MgivError;
use crate::model::Elimination;
use crate::regimen::Regimen;
use crate::solver::{modal, ode, Modes};

use super::{eliminated_excess_mmol, scaled, settings, Priors, WeightScaling};

/// The plasma ultrafilterable fraction of the renal-threshold candidate (Boron, Medical
/// Physiology 3e: ionised 62 % + complexed 7 %), as in `mgiv-adult-tm-2026`.
/// With it, the GFR used when a patient gives none (the studies report no creatinine).
fn f_uf() -> Result<(f64, f64), MgivError> {
    match crate::model::builtin_model("mgiv-adult-tm-2026")?.elimination {
        Elimination::RenalThreshold {
            f_uf,
            default_gfr_ml_min,
            ..
        } => Ok((f_uf, default_gfr_ml_min)),
        Elimination::Linear => Err(MgivError::Numerical(
            "mgiv-adult-tm-2026 is expected to have renal-threshold elimination".into(),
        )),
    }
}

/// Which structure a candidate has.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Candidate {
    Linear,
    RenalThreshold,
}

impl Candidate {
    pub fn name(self) -> &'static str {
        match self {
            Candidate::Linear => "linear",
            Candidate::RenalThreshold => "renal-threshold",
        }
    }
    /// Names of θ (the last is τ).
    pub fn parameter_names(self) -> [&'static str; 5] {
        match self {
            Candidate::Linear => ["cl_l_h", "v1_l", "q_l_h", "v2_l", "tau"],
            Candidate::RenalThreshold => ["tm_mmol_l", "v1_l", "q_l_h", "v2_l", "tau"],
        }
    }
}

/// One adult study as the aggregate likelihood sees it.
#[derive(Debug, Clone)]
pub(super) struct AdultStudy {
    pub(super) id: String,
    n: f64,
    weight_kg: f64,
    baseline: f64,
    regimen: Regimen,
    /// (time h, mean, between-patient SD)
    levels: Vec<(f64, f64, f64)>,
    /// (by h, dose-related mmol, SD)
    urine: Option<(f64, f64, f64)>,
}

pub(super) fn adult_studies() -> Result<Vec<AdultStudy>, MgivError> {
    let mut out = Vec::new();
    for c in crate::validation::cases()?
        .into_iter()
        .filter(|c| c.model == "mgiv-adult-2026")
    {
        let need = |what: &str| {
            crate::error::invalid(
                format!("adult case {} {what}", c.id),
                "missing",
                "a value (assumed, and said so, where the study does not report it)",
            )
        };
        let weight_kg = c.weight_kg.ok_or_else(|| need("weight_kg"))?;
        let n = c.n_patients.ok_or_else(|| need("n_patients"))? as f64;
        let mut levels = Vec::new();
        for o in &c.observations {
            let sd = o.sd_mmol_l.ok_or_else(|| need("sd_mmol_l"))?;
            levels.push((o.time_h, o.observed, sd));
        }
        out.push(AdultStudy {
            id: c.id.clone(),
            n,
            weight_kg,
            baseline: c.baseline_mmol_l,
            regimen: Regimen::from_text(&c.regimen, Some(weight_kg))?,
            levels,
            urine: c.urine.as_ref().map(|u| {
                (
                    u.by_h,
                    u.recovered_mmol - u.baseline_excretion_mmol,
                    u.sd_mmol,
                )
            }),
        });
    }
    Ok(out)
}

/// One study's observations with the predictions of θ, for reports.
pub(super) fn points(
    cand: Candidate,
    theta: &[f64],
    s: &AdultStudy,
) -> Result<Vec<super::CalibrationPoint>, MgivError> {
    let exps = super::weight_exponents(&settings()?.model);
    let (c, u) = predict(cand, theta, s, &exps, f_uf()?)?;
    let n = s.n as u32;
    let mut out: Vec<super::CalibrationPoint> = s
        .levels
        .iter()
        .zip(c)
        .map(|(l, f)| super::CalibrationPoint {
            study: s.id.clone(),
            what: format!("serum Mg at {} h", l.0),
            observed: l.1,
            sd: l.2,
            predicted: f,
            unit: "mmol/L",
            n,
        })
        .collect();
    if let (Some((t, y, sd)), Some(f)) = (s.urine, u) {
        out.push(super::CalibrationPoint {
            study: s.id.clone(),
            what: format!("dose-related urinary Mg by {t} h"),
            observed: y,
            sd,
            predicted: f,
            unit: "mmol",
            n,
        });
    }
    Ok(out)
}

/// Predicted levels and urinary excess of one study under θ (natural units, τ excluded).
fn predict(
    cand: Candidate,
    theta: &[f64],
    s: &AdultStudy,
    exps: &[WeightScaling; 4],
    (f_uf, default_gfr_ml_min): (f64, f64),
) -> Result<(Vec<f64>, Option<f64>), MgivError> {
    let times: Vec<f64> = s.levels.iter().map(|l| l.0).collect();
    match cand {
        Candidate::Linear => {
            let p = scaled(theta, s.weight_kg, s.baseline, exps);
            let m = Modes::from_params(&p)?;
            let c = modal::concentrations(&m, &s.regimen.events, &times);
            let u = s
                .urine
                .map(|(t, _, _)| eliminated_excess_mmol(&m, p.cl_l_h, &s.regimen, t));
            Ok((c, u))
        }
        Candidate::RenalThreshold => {
            // CL is not used by the threshold path; V1, Q, V2 are θ[1..4]
            let p = scaled(
                &[1.0, theta[1], theta[2], theta[3]],
                s.weight_kg,
                s.baseline,
                exps,
            );
            let elim = Elimination::RenalThreshold {
                f_uf,
                tm_mmol_l: theta[0],
                default_gfr_ml_min,
            };
            let mut all = times.clone();
            if let Some((t, _, _)) = s.urine {
                all.push(t);
            }
            let mut order: Vec<usize> = (0..all.len()).collect();
            order.sort_by(|a, b| all[*a].total_cmp(&all[*b]));
            let sorted: Vec<f64> = order.iter().map(|&i| all[i]).collect();
            let out = ode::solve(&p, elim, None, &s.regimen.events, &sorted, 1e-8)?;
            let mut c = vec![0.0; all.len()];
            let mut e = vec![0.0; all.len()];
            for (k, &i) in order.iter().enumerate() {
                c[i] = out.serum_mmol_l[k];
                e[i] = out.eliminated_excess_mmol[k];
            }
            let u = s.urine.map(|_| e[times.len()]);
            c.truncate(times.len());
            Ok((c, u))
        }
    }
}

struct Setup {
    cand: Candidate,
    studies: Vec<AdultStudy>,
    priors: Priors,
    exps: [WeightScaling; 4],
    /// (f_uf, default GFR mL/min) of the renal-threshold model file
    f_uf: (f64, f64),
}

/// −2 log posterior (up to a constant) at log θ.
fn objective(su: &Setup, log_theta: &[f64]) -> Result<f64, MgivError> {
    let theta: Vec<f64> = log_theta.iter().map(|x| x.exp()).collect();
    let tau = theta[4];
    let mut obj = 0.0;
    let mut term = |y: f64, f: f64, sd: f64, n: f64| {
        let var = sd * sd / n + (tau * f) * (tau * f);
        obj += (y - f) * (y - f) / var + var.ln();
    };
    for s in &su.studies {
        let (c, u) = predict(su.cand, &theta, s, &su.exps, su.f_uf)?;
        for (l, f) in s.levels.iter().zip(&c) {
            term(l.1, *f, l.2, s.n);
        }
        if let (Some((_, y, sd)), Some(f)) = (s.urine, u) {
            term(y, f, sd, s.n);
        }
    }
    let pr = &su.priors;
    let mut priors: Vec<(f64, f64, f64)> = vec![
        (theta[1] + theta[3], pr.vss_l.median, pr.vss_l.cv),
        (theta[1], pr.v1_l.median, pr.v1_l.cv),
    ];
    match su.cand {
        Candidate::Linear => priors.push((theta[0], pr.cl_l_h.median, pr.cl_l_h.cv)),
        Candidate::RenalThreshold => {
            let tm = tm_prior(pr)?;
            priors.push((theta[0], tm.median, tm.cv));
        }
    }
    for (v, median, cv) in priors {
        obj += ((v / median).ln() / cv).powi(2);
    }
    Ok(obj)
}

struct Problem<'a> {
    su: &'a Setup,
}

impl CostFunction for Problem<'_> {
    type Param = Vec<f64>;
    type Output = f64;
    fn cost(&self, x: &Vec<f64>) -> Result<f64, ArgminError> {
        match objective(self.su, x) {
            Ok(o) if o.is_finite() => Ok(o),
            // a large finite cost where the objective is undefined (optimiser guard)
            _ => Ok(1e12),
        }
    }
}

/// A candidate fitted to a set of studies.
#[derive(Debug, Clone, Serialize)]
pub struct AggregateFit {
    pub candidate: Candidate,
    pub studies: Vec<String>,
    /// θ in natural units, named by `Candidate::parameter_names` (τ last)
    pub theta: Vec<f64>,
    /// SE of log θ from the Laplace approximation (≈ CV); `None` if not positive definite
    pub rse: Option<Vec<f64>>,
    pub objective: f64,
    pub iterations: u64,
}

fn setup(cand: Candidate, exclude: Option<&str>) -> Result<Setup, MgivError> {
    let st = settings()?;
    let exps = super::weight_exponents(&st.model);
    Ok(Setup {
        cand,
        studies: adult_studies()?
            .into_iter()
            .filter(|s| Some(s.id.as_str()) != exclude)
            .collect(),
        priors: st.priors,
        exps,
        f_uf: f_uf()?,
    })
}

/// The renal-threshold candidate's Tm prior (data/calibration/mgiv-adult-2026.toml).
fn tm_prior(pr: &Priors) -> Result<&super::Prior, MgivError> {
    pr.tm_mmol_l.as_ref().ok_or_else(|| {
        crate::error::invalid(
            "priors.tm_mmol_l",
            "missing",
            "a Tm prior in data/calibration/mgiv-adult-2026.toml",
        )
    })
}

fn fit_setup(su: &Setup) -> Result<AggregateFit, MgivError> {
    let st = settings()?.start;
    let first = match su.cand {
        Candidate::Linear => st.cl_l_h,
        // the threshold candidate starts at its prior median (Rude ~1980, in the calibration file)
        Candidate::RenalThreshold => tm_prior(&su.priors)?.median,
    };
    // the last start, τ = 0.1 (between-study error, log units), is an optimiser start, not data
    let mut x0: Vec<f64> = [first, st.v1_l, st.q_l_h, st.v2_l, 0.1]
        .iter()
        .map(|v| v.ln())
        .collect();
    let mut iterations = 0;
    let mut last = f64::INFINITY;
    for _restart in 0..8 {
        let mut simplex = vec![x0.clone()];
        for i in 0..x0.len() {
            let mut x = x0.clone();
            // simplex step 0.3 in log units (optimiser setting, stated in the calibration file)
            x[i] += 0.3;
            simplex.push(x);
        }
        let solver = NelderMead::new(simplex)
            .with_sd_tolerance(1e-11)
            .map_err(|e| MgivError::Numerical(e.to_string()))?;
        let res = Executor::new(Problem { su }, solver)
            .configure(|s| s.max_iters(4000))
            .run()
            .map_err(|e| MgivError::Numerical(format!("aggregate fit failed: {e}")))?;
        iterations += res.state().get_iter();
        let best = res.state().get_best_cost();
        x0 = res
            .state()
            .get_best_param()
            .cloned()
            .ok_or_else(|| MgivError::Numerical("aggregate fit found no parameters".into()))?;
        if last - best < 1e-9 {
            break;
        }
        last = best;
    }
    let objective_value = objective(su, &x0)?;
    let mut f = |x: &[f64]| objective(su, x).unwrap_or(f64::INFINITY);
    let (_, h, _) = crate::numerics::gradient_and_hessian(&mut f, &x0, &[1e-4; 5]);
    let rse = crate::numerics::cholesky(&h, 5).map(|l| {
        let inv = crate::numerics::cholesky_inverse(&l, 5);
        (0..5).map(|i| (2.0 * inv[i * 5 + i]).sqrt()).collect()
    });
    Ok(AggregateFit {
        candidate: su.cand,
        studies: su.studies.iter().map(|s| s.id.clone()).collect(),
        theta: x0.iter().map(|x| x.exp()).collect(),
        rse,
        objective: objective_value,
        iterations,
    })
}

/// Fit a candidate to every adult study (or all but `exclude`).
pub fn fit_candidate(cand: Candidate, exclude: Option<&str>) -> Result<AggregateFit, MgivError> {
    fit_setup(&setup(cand, exclude)?)
}

/// One left-out study's prediction error.
#[derive(Debug, Clone, Serialize)]
pub struct LosoRow {
    pub study: String,
    pub n_levels: usize,
    /// mean absolute percentage error of the left-out study's levels
    pub mape_percent: f64,
    /// mean signed percentage error
    pub bias_percent: f64,
}

/// A candidate under leave-one-study-out cross-validation.
#[derive(Debug, Clone, Serialize)]
pub struct CrossValidation {
    pub candidate: Candidate,
    pub rows: Vec<LosoRow>,
    /// mean over studies of the per-study MAPE (each study counts once)
    pub mean_study_mape_percent: f64,
    /// over all left-out levels
    pub pooled_mape_percent: f64,
    /// the fit to all studies
    pub full_fit: AggregateFit,
}

/// Leave-one-study-out: refit without each study and predict its levels.
pub fn cross_validate(cand: Candidate) -> Result<CrossValidation, MgivError> {
    let all = setup(cand, None)?;
    let mut rows = Vec::new();
    let mut pooled = Vec::new();
    for s in &all.studies {
        let fit = fit_candidate(cand, Some(&s.id))?;
        let (c, _) = predict(cand, &fit.theta, s, &all.exps, all.f_uf)?;
        let e: Vec<f64> = s
            .levels
            .iter()
            .zip(&c)
            .map(|(l, f)| (f - l.1) / l.1)
            .collect();
        let n = e.len() as f64;
        rows.push(LosoRow {
            study: s.id.clone(),
            n_levels: e.len(),
            mape_percent: 100.0 * e.iter().map(|v| v.abs()).sum::<f64>() / n,
            bias_percent: 100.0 * e.iter().sum::<f64>() / n,
        });
        pooled.extend(e);
    }
    let mean_study = rows.iter().map(|r| r.mape_percent).sum::<f64>() / rows.len() as f64;
    let pooled_mape = 100.0 * pooled.iter().map(|v| v.abs()).sum::<f64>() / pooled.len() as f64;
    Ok(CrossValidation {
        candidate: cand,
        rows,
        mean_study_mape_percent: mean_study,
        pooled_mape_percent: pooled_mape,
        full_fit: fit_setup(&all)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn published_calibration_values_come_from_the_calibration_file() {
        let su = setup(Candidate::RenalThreshold, None).unwrap();
        // allometry of the template: reference 70 kg, exponents 0.75 (CL, Q) and 1 (V1, V2)
        let refs = su.exps.map(|e| e.reference_kg);
        let exps = su.exps.map(|e| e.exponent);
        assert_eq!(refs, [70.0; 4]);
        assert_eq!(exps, [0.75, 1.0, 0.75, 1.0]);
        assert_eq!(su.exps[0].factor(70.0), 1.0);
        // the threshold candidate starts at the Tm prior (Rude ~1980: 1.4 mg/100 mL = 0.576 mmol/L)
        assert_eq!(tm_prior(&su.priors).unwrap().median, 0.576);
    }

    /// The aggregate likelihood recovers θ from data made by the model itself: replace every
    /// study's means by the linear candidate's predictions at a known θ, fit, and find θ again
    /// (τ goes to its floor: the data have no structural error).
    #[test]
    fn the_linear_candidate_recovers_its_own_parameters() {
        let mut su = setup(Candidate::Linear, None).unwrap();
        let truth = [6.5, 11.0, 18.0, 20.0];
        let exps = su.exps;
        for s in su.studies.iter_mut() {
            let (c, u) = predict(Candidate::Linear, &truth, s, &exps, (0.7, 100.0)).unwrap();
            for (l, f) in s.levels.iter_mut().zip(c) {
                l.1 = f;
            }
            if let (Some(urine), Some(f)) = (s.urine.as_mut(), u) {
                urine.1 = f;
            }
        }
        // priors centred on the truth, so the posterior mode is the truth
        su.priors.cl_l_h.median = truth[0];
        su.priors.v1_l.median = truth[1];
        su.priors.vss_l.median = truth[1] + truth[3];
        let fit = fit_setup(&su).unwrap();
        for (k, t) in truth.iter().enumerate() {
            assert!(
                (fit.theta[k] / t - 1.0).abs() < 2e-3,
                "{}: {} vs {t}",
                Candidate::Linear.parameter_names()[k],
                fit.theta[k]
            );
        }
        assert!(fit.theta[4] < 0.01, "tau {}", fit.theta[4]);
    }

    /// Every adult study enters with its n and SD, and the weights follow them: Osawa 2020
    /// (n = 99) has a smaller variance than Fuchs-Buder (n = 20) for the same SD.
    #[test]
    fn every_adult_study_is_weighted_by_its_n_and_spread() {
        let st = adult_studies().unwrap();
        let ids: Vec<&str> = st.iter().map(|s| s.id.as_str()).collect();
        assert_eq!(
            ids,
            [
                "biesenbach-icu",
                "fuchs-buder-plasma",
                "osawa-2018-icu-load",
                "osawa-2020-cardiac-infusion",
                "ann-thorac-surg-1995"
            ]
        );
        let osawa = st
            .iter()
            .find(|s| s.id == "osawa-2020-cardiac-infusion")
            .unwrap();
        assert_eq!(osawa.n, 99.0);
        assert_eq!(osawa.levels[0].2, 0.34);
    }
}

#[cfg(test)]
mod comparison {
    use super::*;

    /// The comparison of docs/MODELS.md (slow in debug builds):
    /// `cargo test --release -p mgiv-core compare_adult_candidates -- --ignored --nocapture`
    #[test]
    #[ignore]
    fn compare_adult_candidates() {
        let shipped = crate::calibrate::shipped_cross_validation().unwrap();
        eprintln!("shipped: mean {:.1} % pooled {:.1} %", shipped.0, shipped.1);
        for r in &shipped.2 {
            eprintln!("  {:?}", r);
        }
        for cand in [Candidate::Linear, Candidate::RenalThreshold] {
            let t0 = std::time::Instant::now();
            let cv = cross_validate(cand).unwrap();
            eprintln!(
                "{}: mean {:.1} % pooled {:.1} % ({:.1} s)",
                cand.name(),
                cv.mean_study_mape_percent,
                cv.pooled_mape_percent,
                t0.elapsed().as_secs_f64()
            );
            for r in &cv.rows {
                eprintln!("  {:?}", r);
            }
            eprintln!("  full fit {:?}", cv.full_fit);
        }
    }
}
