//! `mgiv validate`: predicted against observed for every public validation case.

use anyhow::{Context, Result};
use clap::Args;
use mgiv_core::validation::{render_markdown, run_all};

#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// Write the Markdown report (VALIDATION.md) to this file instead of printing it
    #[arg(long, value_name = "FILE")]
    pub write: Option<std::path::PathBuf>,
    /// Print JSON rows
    #[arg(long)]
    pub json: bool,
}

pub fn run(a: ValidateArgs) -> Result<()> {
    if let Some(p) = &a.write {
        crate::output::check_out_path(p, "--write")?;
    }
    let rows = run_all()?;
    if a.json {
        println!("{}", serde_json::to_string_pretty(&rows)?);
    } else {
        let md = render_markdown(&rows) + &mgiv_core::calibrate::loso_markdown()?;
        match &a.write {
            Some(p) => {
                std::fs::write(p, &md)
                    .with_context(|| format!("cannot write --write '{}'", p.display()))?;
                crate::note!("wrote {}", p.display());
            }
            None => print!("{md}"),
        }
    }
    let failed = rows
        .iter()
        .filter(|r| !r.pass && r.known_miss.is_none())
        .count();
    if failed > 0 {
        anyhow::bail!("{failed} validation comparison(s) outside tolerance");
    }
    Ok(())
}
