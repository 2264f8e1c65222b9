//! `mgiv check DATA.csv`: coded diagnostics of a NONMEM-format (or Pmetrics / Monolix) dataset.
//! Exit 2 when there is an error. All checking is in mgiv-data.

use anyhow::{Context, Result};
use clap::Args;
use mgiv_data::{read, Dialect, ReadOptions, Severity};

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// The dataset (CSV, or whitespace-separated)
    #[arg(value_name = "DATA.csv")]
    pub data: std::path::PathBuf,
    #[command(flatten)]
    pub data_opts: DataArgs,
    /// Print the diagnostics as JSON
    #[arg(long)]
    pub json: bool,
    /// Print only errors and warnings
    #[arg(long)]
    pub no_info: bool,
}

/// How to read a dataset (shared by the pharmacometric commands).
#[derive(Debug, Clone, Args, Default)]
pub struct DataArgs {
    /// Column convention: nonmem, pmetrics or monolix (default: detected from the header)
    #[arg(long = "data-format", value_name = "FORMAT")]
    pub data_format: Option<String>,
    /// Unit of DV: mmol/L, mg/dL or mEq/L (overrides a '# DV_UNIT=' line in the file)
    #[arg(long, value_name = "UNIT")]
    pub dv_unit: Option<String>,
    /// Unit of AMT: g (MgSO4·7H2O), 'g MgCl2', 'g MgSO4-anhydrous', mg, mmol, mEq (overrides '# AMT_UNIT=')
    #[arg(long, value_name = "UNIT")]
    pub amt_unit: Option<String>,
    /// Unit of TIME, II and DUR: h (default), min, day (overrides '# TIME_UNIT=')
    #[arg(long, value_name = "UNIT")]
    pub time_unit: Option<String>,
    /// CMT of the central (serum) compartment (default 1)
    #[arg(long, value_name = "N")]
    pub central_cmt: Option<u32>,
    /// CMT of an IM absorption depot, if any
    #[arg(long, value_name = "N")]
    pub depot_cmt: Option<u32>,
}

impl DataArgs {
    pub fn options(&self) -> Result<ReadOptions> {
        Ok(ReadOptions {
            dialect: self
                .data_format
                .as_deref()
                .map(Dialect::parse)
                .transpose()?,
            dv_unit: self.dv_unit.clone(),
            amt_unit: self.amt_unit.clone(),
            time_unit: self.time_unit.clone(),
            central_cmt: self.central_cmt,
            depot_cmt: self.depot_cmt,
        })
    }
}

pub fn read_text(path: &std::path::Path) -> Result<String> {
    std::fs::read_to_string(path)
        .with_context(|| format!("cannot read dataset '{}'", path.display()))
}

pub fn run(a: CheckArgs) -> Result<()> {
    let text = read_text(&a.data)?;
    let (_, diags) = read(&text, &a.data_opts.options()?);
    let shown: Vec<_> = diags
        .iter()
        .filter(|d| !(a.no_info && d.severity == Severity::Info))
        .collect();
    let n_err = diags
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .count();
    let n_warn = diags
        .iter()
        .filter(|d| d.severity == Severity::Warning)
        .count();
    if a.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({
                "file": a.data.display().to_string(),
                "errors": n_err,
                "warnings": n_warn,
                "diagnostics": shown,
            }))?
        );
    } else {
        let color = crate::output::color_enabled();
        let rows: Vec<Vec<String>> = shown
            .iter()
            .map(|d| {
                vec![
                    crate::output::severity(&d.severity.to_string(), color),
                    d.code.to_string(),
                    d.row.map(|r| r.to_string()).unwrap_or_default(),
                    d.column.clone().unwrap_or_default(),
                    if d.expected.is_empty() {
                        d.message.clone()
                    } else {
                        format!("{} (expected: {})", d.message, d.expected)
                    },
                ]
            })
            .collect();
        print!(
            "{}",
            crate::output::table(
                &["severity", "code", "row", "column", "finding"],
                &[8, 20, 5, 7, 52],
                &rows
            )
        );
        println!(
            "{}: {n_err} error(s), {n_warn} warning(s)",
            a.data.display()
        );
    }
    if n_err > 0 {
        std::process::exit(2);
    }
    Ok(())
}
