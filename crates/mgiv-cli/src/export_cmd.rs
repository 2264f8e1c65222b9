//! `mgiv export --model M --format nonmem`: the estimation model as a NONMEM control stream
//! (mgiv-fit::nonmem). SBML is not written yet and is refused with that message.

use anyhow::{bail, Context, Result};
use clap::Args;

#[derive(Debug, Args)]
pub struct ExportArgs {
    /// Model: a TOML file with an `[estimation]` table, or a built-in model id
    #[arg(long, value_name = "MODEL.toml|ID")]
    pub model: String,
    /// Output format: nonmem (a control stream for FOCE-I); sbml is not implemented yet
    #[arg(long, value_name = "FORMAT")]
    pub format: String,
    /// Dataset file named in $DATA
    #[arg(long, value_name = "FILE", default_value = "data.csv")]
    pub data_file: String,
    /// Write to this file instead of stdout
    #[arg(long, value_name = "FILE")]
    pub out: Option<std::path::PathBuf>,
}

pub fn run(a: ExportArgs) -> Result<()> {
    if let Some(p) = &a.out {
        crate::output::check_out_path(p, "--out")?;
    }
    let text = match a.format.to_ascii_lowercase().as_str() {
        "nonmem" => {
            let m = crate::fit_cmd::load_model(&a.model)?;
            mgiv_fit::nonmem::control_stream(&m, &a.data_file)
        }
        "sbml" => {
            bail!("invalid --format 'sbml': SBML export is not implemented yet (allowed: nonmem)")
        }
        other => bail!("invalid --format '{other}' (allowed: nonmem)"),
    };
    match &a.out {
        Some(p) => {
            std::fs::write(p, &text)
                .with_context(|| format!("cannot write --out '{}'", p.display()))?;
            crate::note!("control stream written to {}", p.display());
        }
        None => print!("{text}"),
    }
    Ok(())
}
