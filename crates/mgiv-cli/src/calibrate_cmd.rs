//! `mgiv calibrate adult`: re-run the non-pregnant adult model calibration.

use anyhow::{anyhow, bail, Result};
use clap::Args;
use mgiv_core::calibrate::{adult_model_toml, fit_adult, tm_model_toml};
use mgiv_core::model::{CovariateName, ParamName};

#[derive(Debug, Args)]
pub struct CalibrateArgs {
    /// What to calibrate (only `adult`)
    pub target: String,
    /// Write the model files (mgiv-adult-2026.toml, mgiv-adult-tm-2026.toml) into this folder
    #[arg(long = "write-dir", value_name = "DIR")]
    pub write_dir: Option<std::path::PathBuf>,
    /// Also compare candidate adult models fitted to every adult study by an aggregate-data
    /// likelihood, under leave-one-study-out cross-validation (issue 10; slow: ODE fits)
    #[arg(long)]
    pub compare: bool,
}

pub fn run(a: CalibrateArgs) -> Result<()> {
    if a.target != "adult" {
        bail!("invalid calibration target '{}' (allowed: adult)", a.target);
    }
    let r = fit_adult()?;
    // the reference subject of the model's covariates (data/models/mgiv-adult-2026.toml)
    let model = mgiv_core::model::builtin_model("mgiv-adult-2026")?;
    let reference = |c: CovariateName| {
        model
            .covariates
            .iter()
            .find(|x| x.parameter == ParamName::ClLH && x.covariate == c)
            .and_then(|x| x.reference)
            .ok_or_else(|| anyhow!("mgiv-adult-2026: no CL reference for {c:?}"))
    };
    println!(
        "mgiv-adult-2026 calibration ({} kg, SCr {} mg/dL reference)",
        reference(CovariateName::WeightKg)?,
        reference(CovariateName::ScrMgDl)?
    );
    println!(
        "CL {:.4} L/h, V1 {:.4} L, Q {:.4} L/h, V2 {:.4} L; objective {:.4} after {} iterations",
        r.cl_l_h, r.v1_l, r.q_l_h, r.v2_l, r.objective, r.iterations
    );
    match r.rse {
        Some(e) => println!(
            "uncertainty (Laplace at the optimum, SE of the log parameter ≈ CV): CL {:.0} %, V1 {:.0} %, Q {:.0} %, V2 {:.0} %",
            100.0 * e[0],
            100.0 * e[1],
            100.0 * e[2],
            100.0 * e[3]
        ),
        None => println!("uncertainty: not available (the curvature at the optimum is not positive definite)"),
    }
    println!(
        "{:<18} {:<42} {:>9} {:>7} {:>9}",
        "study", "observation", "observed", "sd", "fitted"
    );
    for p in &r.points {
        println!(
            "{:<18} {:<42} {:>9.3} {:>7.3} {:>9.3} {}",
            p.study, p.what, p.observed, p.sd, p.predicted, p.unit
        );
    }
    if a.compare {
        compare()?;
    }
    if let Some(dir) = a.write_dir {
        let adult = dir.join("mgiv-adult-2026.toml");
        std::fs::write(&adult, adult_model_toml(&r)?)?;
        let tm_path = dir.join("mgiv-adult-tm-2026.toml");
        let current = std::fs::read_to_string(&tm_path)?;
        std::fs::write(&tm_path, tm_model_toml(&r, &current)?)?;
        println!("wrote {} and {}", adult.display(), tm_path.display());
    }
    Ok(())
}

fn compare() -> Result<()> {
    use mgiv_core::calibrate::aggregate::{cross_validate, Candidate};
    println!("\nCandidate adult models, leave-one-study-out (each study left out, refitted on the rest); the shipped model is the linear one");
    for cand in [Candidate::Linear, Candidate::RenalThreshold] {
        let cv = cross_validate(cand)?;
        let f = &cv.full_fit;
        println!(
            "\n{} (aggregate likelihood over all {} studies): mean per-study MAPE {:.1} %, pooled {:.1} %",
            cand.name(),
            f.studies.len(),
            cv.mean_study_mape_percent,
            cv.pooled_mape_percent
        );
        for r in &cv.rows {
            println!(
                "  {:<30} {} levels  MAPE {:5.1} %  bias {:+6.1} %",
                r.study, r.n_levels, r.mape_percent, r.bias_percent
            );
        }
        let names = cand.parameter_names();
        let parts: Vec<String> = names
            .iter()
            .zip(&f.theta)
            .enumerate()
            .map(|(k, (n, v))| match &f.rse {
                Some(r) => format!("{n} {v:.4} (±{:.0} %)", 100.0 * r[k]),
                None => format!("{n} {v:.4}"),
            })
            .collect();
        println!(
            "  fit to all: {}; objective {:.3}",
            parts.join(", "),
            f.objective
        );
    }
    Ok(())
}
