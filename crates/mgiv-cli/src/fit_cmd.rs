//! `mgiv fit --data DATA.csv --model MODEL.toml --method focei|saem`: population estimation.
//! Reading, fitting and the covariance step are in mgiv-data and mgiv-fit; this prints.

use anyhow::{bail, Context, Result};
use clap::Args;
use mgiv_fit::{fit, EstimationModel, FitResult, FitSettings, Progress};

use crate::check_cmd::{read_text, DataArgs};

#[derive(Debug, Args)]
pub struct FitArgs {
    /// NONMEM-format dataset (see `mgiv check`)
    #[arg(long, value_name = "DATA.csv")]
    pub data: std::path::PathBuf,
    /// Model: a TOML file with an `[estimation]` table, or a built-in model id (its published
    /// values become the initial estimates)
    #[arg(long, value_name = "MODEL.toml|ID")]
    pub model: String,
    /// Estimation method: focei, or saem (reported at its FOCE-I objective)
    #[arg(long, default_value = "focei")]
    pub method: String,
    /// SAEM: exploration iterations (step 1)
    #[arg(long, value_name = "N", default_value_t = 300)]
    pub saem_burn_in: usize,
    /// SAEM: averaging iterations (step 1/k)
    #[arg(long, value_name = "N", default_value_t = 200)]
    pub saem_iterations: usize,
    #[command(flatten)]
    pub data_opts: DataArgs,
    /// Print the result as JSON
    #[arg(long)]
    pub json: bool,
    /// Skip the covariance step (no RSE)
    #[arg(long)]
    pub no_covariance: bool,
    /// Worker threads (results do not depend on it; default: all cores)
    #[arg(long, value_name = "N")]
    pub threads: Option<usize>,
    /// Write the fitted model as a model file (the schema of data/models/) for `mgiv simulate
    /// --model-file`; needs --population
    #[arg(long, value_name = "FILE", requires = "population")]
    pub write_model: Option<std::path::PathBuf>,
    /// Population the data come from (adult, community, icu, pregnant, pre-eclampsia): the written model's `[fitted_in]`
    #[arg(long, value_name = "ID")]
    pub population: Option<String>,
    /// Id of the written model (default: the estimation model's id + "-fit")
    #[arg(long, value_name = "ID")]
    pub model_id: Option<String>,
    /// Write a goodness-of-fit table (ID, ROW, TIME, DV, PRED, IPRED, RES, IWRES, CWRES, NPDE) as CSV
    #[arg(long, value_name = "FILE")]
    pub sdtab: Option<std::path::PathBuf>,
    /// Replicates per subject for NPDE (with --sdtab)
    #[arg(long, value_name = "N", default_value_t = 1000)]
    pub npde_replicates: usize,
    /// Seed of the SAEM chains and the NPDE replicates (same seed, same result on any number of threads)
    #[arg(long, value_name = "SEED", default_value_t = 1)]
    pub seed: u64,
    /// Iterations of the outer optimisation: BFGS (at most 500), or Nelder–Mead per round
    #[arg(long, value_name = "N", default_value_t = 4000)]
    pub max_iterations: u64,
    /// FOCE-I outer optimiser: bfgs (on the exact gradient; Nelder–Mead takes over where it is not available) or nelder-mead (derivative-free)
    #[arg(long, value_name = "OPTIMISER", default_value = "bfgs", value_parser = ["bfgs", "nelder-mead"])]
    pub outer: String,
}

pub fn load_model(arg: &str) -> Result<EstimationModel> {
    let path = std::path::Path::new(arg);
    if path.is_file() {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read --model '{arg}'"))?;
        Ok(EstimationModel::from_toml(&text)?)
    } else if arg.ends_with(".toml") {
        bail!("invalid --model '{arg}': no such file (allowed: a model TOML file or a built-in model id)")
    } else {
        let spec = mgiv_core::model::builtin_model(arg)?;
        Ok(EstimationModel::from_published(&spec)?)
    }
}

pub fn run(a: FitArgs) -> Result<()> {
    check_args(&a)?;
    let model = load_model(&a.model)?;
    let ds = read_dataset(&a)?;
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(a.threads.unwrap_or(0))
        .build()
        .context("cannot start the worker threads")?;
    let r = estimate(&a, &model, &ds, &pool)?;
    write_files(&a, &model, &r, &ds, &pool)?;
    if a.json {
        println!("{}", serde_json::to_string_pretty(&r)?);
        return Ok(());
    }
    print_result(&r)
}

/// Refuse bad options before any work: the method, SAEM iterations, output paths, NPDE
/// replicates and the population of a written model.
fn check_args(a: &FitArgs) -> Result<()> {
    if a.method != "focei" && a.method != "saem" {
        bail!("invalid --method '{}' (allowed: focei, saem)", a.method);
    }
    if a.method == "saem" && a.saem_iterations == 0 {
        bail!("invalid --saem-iterations 0 (allowed: 1 or more)");
    }
    if let Some(p) = &a.write_model {
        crate::output::check_out_path(p, "--write-model")?;
    }
    if let Some(p) = &a.sdtab {
        crate::output::check_out_path(p, "--sdtab")?;
    }
    if a.npde_replicates < 20 {
        bail!(
            "invalid --npde-replicates {} (allowed: 20 or more)",
            a.npde_replicates
        );
    }
    if let Some(id) = &a.population {
        mgiv_pop::population::builtin_population(id)?;
    }
    Ok(())
}

/// Read `--data`; on errors, print them (stderr) and refuse.
fn read_dataset(a: &FitArgs) -> Result<mgiv_data::Dataset> {
    let text = read_text(&a.data)?;
    let (ds, diags) = mgiv_data::read(&text, &a.data_opts.options()?);
    let Some(ds) = ds else {
        for d in diags
            .iter()
            .filter(|d| d.severity == mgiv_data::Severity::Error)
        {
            eprintln!("{d}");
        }
        bail!(
            "the dataset '{}' has errors (run `mgiv check` on it)",
            a.data.display()
        );
    };
    Ok(ds)
}

/// Progress of the estimation, as notes on stderr.
fn report_progress(p: Progress) {
    match p {
        Progress::Outer {
            evaluations,
            best_ofv,
        } => crate::note!("  outer: {evaluations} objective evaluations, best OFV {best_ofv:.4}"),
        Progress::Restart { round, ofv } => {
            if round == 0 {
                crate::note!("FOCE-I: OFV {ofv:.4} at the initial estimates");
            } else {
                crate::note!("round {round}: OFV {ofv:.4}");
            }
        }
        Progress::Covariance { done, total } => {
            crate::note!("  covariance step: {done}/{total} objective evaluations")
        }
        Progress::Saem {
            iteration,
            total,
            burn_in,
            m2ll,
        } => crate::note!(
            "SAEM iteration {iteration}/{total} ({}): -2 ln p(y|phi) of the samples {m2ll:.4}",
            if burn_in { "burn-in" } else { "averaging" }
        ),
    }
}

/// Fit `model` to `ds` by the chosen method (FOCE-I or SAEM) on `pool`.
fn estimate(
    a: &FitArgs,
    model: &EstimationModel,
    ds: &mgiv_data::Dataset,
    pool: &rayon::ThreadPool,
) -> Result<FitResult> {
    let settings = FitSettings {
        max_iterations: a.max_iterations,
        covariance: !a.no_covariance,
        outer: if a.outer == "nelder-mead" {
            mgiv_fit::focei::Outer::NelderMead
        } else {
            mgiv_fit::focei::Outer::Bfgs
        },
        ..Default::default()
    };
    Ok(if a.method == "saem" {
        let saem = mgiv_fit::SaemSettings {
            burn_in: a.saem_burn_in,
            iterations: a.saem_iterations,
            seed: a.seed,
            covariance: !a.no_covariance,
        };
        pool.install(|| mgiv_fit::fit_saem(model, ds, &saem, &report_progress))?
    } else {
        pool.install(|| fit(model, ds, &settings, &report_progress))?
    })
}

/// Write what was asked for besides the result: the sdtab (`--sdtab`) and the fitted model file
/// (`--write-model` with `--population`).
fn write_files(
    a: &FitArgs,
    model: &EstimationModel,
    r: &FitResult,
    ds: &mgiv_data::Dataset,
    pool: &rayon::ThreadPool,
) -> Result<()> {
    if let Some(path) = &a.sdtab {
        let rows =
            pool.install(|| mgiv_fit::diagnostics::sdtab(model, r, ds, a.npde_replicates, a.seed))?;
        std::fs::write(path, mgiv_fit::diagnostics::sdtab_csv(&rows))
            .with_context(|| format!("cannot write --sdtab '{}'", path.display()))?;
        crate::note!("sdtab written to {}", path.display());
    }
    if let (Some(path), Some(pop)) = (&a.write_model, &a.population) {
        let id = a
            .model_id
            .clone()
            .unwrap_or_else(|| format!("{}-fit", model.id));
        let name = a
            .data
            .file_name()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_else(|| "the dataset".into());
        let text = mgiv_fit::export::fitted_model_toml(model, r, ds, &name, pop, &id)?;
        std::fs::write(path, text)
            .with_context(|| format!("cannot write --write-model '{}'", path.display()))?;
        crate::note!("model file written to {}", path.display());
    }
    Ok(())
}

/// The result as text: the model, the objective and convergence, the estimates table and notes.
fn print_result(r: &FitResult) -> Result<()> {
    println!("model    {} — {}", r.model.id, r.model.name);
    println!("source   {}", r.model.source);
    println!("evidence {}", r.model.evidence);
    println!(
        "{:<8} OFV {:.4} ({}), {} subjects, {} observations, {}converged after {} objective evaluations{}",
        if r.method == "saem" { "SAEM" } else { "FOCE-I" },
        r.ofv,
        r.ofv_note,
        r.n_subjects,
        r.n_observations,
        if r.converged { "" } else { "NOT " },
        r.objective_evaluations,
        if r.gradient_evaluations > 0 {
            format!(" and {} exact gradients", r.gradient_evaluations)
        } else {
            String::new()
        }
    );
    print!(
        "{}",
        crate::output::table(
            &["kind", "parameter", "estimate", "RSE %", "shrinkage %"],
            &[6, 18, 28, 8, 12],
            &estimate_rows(r)
        )
    );
    for n in &r.notes {
        println!("note: {n}");
    }
    Ok(())
}

/// The estimates table: θ, then ω (with CV % or "covariance", and shrinkage), then σ, each with
/// its RSE %.
fn estimate_rows(r: &FitResult) -> Vec<Vec<String>> {
    use crate::output::sig3;
    let rse = |k: String| {
        r.rse_percent
            .get(&k)
            .map(|v| format!("{v:.1}"))
            .unwrap_or_else(|| "-".into())
    };
    let mut rows = Vec::new();
    for (n, v) in &r.theta {
        rows.push(vec![
            "theta".into(),
            n.clone(),
            sig3(*v),
            rse(format!("theta.{n}")),
            String::new(),
        ]);
    }
    for (n, v) in &r.omega {
        let shr = r
            .shrinkage_percent
            .get(n)
            .map(|s| format!("{s:.1}"))
            .unwrap_or_default();
        let what = if n.contains(',') {
            format!("{} (covariance)", sig3(*v))
        } else {
            format!("{} (CV {:.1} %)", sig3(*v), 100.0 * (v.exp() - 1.0).sqrt())
        };
        rows.push(vec![
            "omega".into(),
            n.clone(),
            what,
            rse(format!("omega.{n}")),
            shr,
        ]);
    }
    for (n, v) in &r.sigma {
        rows.push(vec![
            "sigma".into(),
            n.clone(),
            sig3(*v),
            rse(format!("sigma.{n}")),
            String::new(),
        ]);
    }
    rows
}
