//! `mgiv export --model M --format nonmem|sbml`: the estimation model as a NONMEM control stream
//! (mgiv-fit::nonmem), or one patient's model with a regimen as SBML (mgiv-fit::sbml) with the
//! same individual parameters as `mgiv simulate` for the same options.

use anyhow::{bail, Context, Result};
use clap::Args;
use mgiv_core::regimen::Regimen;

use crate::common::PatientArgs;

#[derive(Debug, Args)]
pub struct ExportArgs {
    /// Model: for nonmem a TOML file with an `[estimation]` table or a built-in model id; for sbml
    /// a built-in model id or a model file (the schema of data/models/)
    #[arg(long, value_name = "MODEL.toml|ID")]
    pub model: String,
    /// Output format: nonmem (a control stream for FOCE-I) or sbml (SBML L3V2, doses as events)
    #[arg(long, value_name = "FORMAT")]
    pub format: String,
    /// Dataset file named in $DATA (nonmem)
    #[arg(long, value_name = "FILE", default_value = "data.csv")]
    pub data_file: String,
    /// Regimen as written clinically (sbml), e.g. "4 g over 20 min, then 1 g/h for 24 h"
    #[arg(long, value_name = "TEXT")]
    pub regimen: Option<String>,
    #[command(flatten)]
    pub patient: PatientArgs,
    /// Write to this file instead of stdout
    #[arg(long, value_name = "FILE")]
    pub out: Option<std::path::PathBuf>,
}

fn sbml(a: &ExportArgs) -> Result<String> {
    let Some(regimen_text) = &a.regimen else {
        bail!("--format sbml needs --regimen (e.g. --regimen \"4 g over 20 min, then 1 g/h for 24 h\") and the patient (--weight ...)");
    };
    let regimen = Regimen::from_text(regimen_text, a.patient.weight)?;
    let path = std::path::Path::new(&a.model);
    let (model_id, model_file) = if path.is_file() {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read --model '{}'", a.model))?;
        let m = mgiv_core::model::ModelSpec::from_toml(&text)
            .map_err(|e| anyhow::anyhow!("invalid --model {}: {e}", a.model))?;
        (None, Some(m))
    } else {
        (Some(a.model.clone()), None)
    };
    let ctx =
        mgiv_clinical::context::ClinicalContext::build(&mgiv_clinical::context::ContextInput {
            model_id,
            model_file,
            patient: a.patient.to_input()?,
            ..Default::default()
        })?;
    let ind = ctx.model.individualise(&ctx.patient)?;
    if !matches!(ind.elimination, mgiv_core::model::Elimination::Linear) {
        bail!(
            "invalid --model '{}' for sbml: its renal-threshold elimination is nonlinear (allowed: a model with linear elimination)",
            a.model
        );
    }
    for w in &ind.warnings {
        crate::note!("note: {w}");
    }
    Ok(mgiv_fit::sbml::sbml(
        &ctx.model.id,
        &ctx.model.name,
        &ind.params,
        &regimen.events,
    )?)
}

pub fn run(a: ExportArgs) -> Result<()> {
    if let Some(p) = &a.out {
        crate::output::check_out_path(p, "--out")?;
    }
    let (text, what) = match a.format.to_ascii_lowercase().as_str() {
        "nonmem" => {
            let m = crate::fit_cmd::load_model(&a.model)?;
            (
                mgiv_fit::nonmem::control_stream(&m, &a.data_file),
                "control stream",
            )
        }
        "sbml" => (sbml(&a)?, "SBML"),
        other => bail!("invalid --format '{other}' (allowed: nonmem, sbml)"),
    };
    match &a.out {
        Some(p) => {
            std::fs::write(p, &text)
                .with_context(|| format!("cannot write --out '{}'", p.display()))?;
            crate::note!("{what} written to {}", p.display());
        }
        None => print!("{text}"),
    }
    Ok(())
}
