//! `mgiv vpc`: prediction-corrected visual predictive check of a model (its fitted estimates from
//! `mgiv fit --json`, or its own initial/published values) against a dataset; PNG/SVG and JSON.
//! The computation is `mgiv_fit::vpc`; this reads, prints and draws with the shared plot frame.

use anyhow::{Context, Result};
use clap::Args;
use mgiv_fit::vpc::{pcvpc, Estimates, Vpc};
use plotters::coord::Shift;
use plotters::prelude::*;

use crate::check_cmd::{read_text, DataArgs};
use crate::plot::{self, e, Legend, Swatch};

#[derive(Debug, Args)]
pub struct VpcArgs {
    /// NONMEM-format dataset
    #[arg(long, value_name = "DATA.csv")]
    pub data: std::path::PathBuf,
    /// Model: a TOML file with an `[estimation]` table, or a built-in model id
    #[arg(long, value_name = "MODEL.toml|ID")]
    pub model: String,
    /// Estimates: the JSON of `mgiv fit --json` (default: the model's own initial values)
    #[arg(long, value_name = "FIT.json")]
    pub estimates: Option<std::path::PathBuf>,
    #[command(flatten)]
    pub data_opts: DataArgs,
    /// Simulated replicates of the dataset
    #[arg(long, value_name = "N", default_value_t = 500)]
    pub replicates: usize,
    /// Time bins (equal numbers of observations)
    #[arg(long, value_name = "N", default_value_t = 8)]
    pub bins: usize,
    /// Seed (same seed, same result on any number of threads)
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Write the plot (.png or .svg)
    #[arg(long, value_name = "FILE")]
    pub plot: Option<std::path::PathBuf>,
    /// Print the bins as JSON
    #[arg(long)]
    pub json: bool,
}

pub fn run(a: VpcArgs) -> Result<()> {
    if let Some(p) = &a.plot {
        plot::check_plot_path(p)?;
    }
    let model = crate::fit_cmd::load_model(&a.model)?;
    let est = match &a.estimates {
        Some(p) => {
            let text = std::fs::read_to_string(p)
                .with_context(|| format!("cannot read --estimates '{}'", p.display()))?;
            serde_json::from_str::<Estimates>(&text).with_context(|| {
                format!(
                    "invalid --estimates '{}' (allowed: the JSON of `mgiv fit --json`)",
                    p.display()
                )
            })?
        }
        None => Estimates::initial(&model),
    };
    let text = read_text(&a.data)?;
    let (ds, _) = mgiv_data::read(&text, &a.data_opts.options()?);
    let ds = ds.ok_or_else(|| {
        anyhow::anyhow!(
            "the dataset '{}' has errors (run `mgiv check` on it)",
            a.data.display()
        )
    })?;
    let v = pcvpc(&model, &est, &ds, a.replicates, a.bins, a.seed)?;
    // caveats about what the check covers: printed even with --quiet (and in the JSON)
    for w in &v.notes {
        eprintln!("warning: {w}");
    }
    if let Some(p) = &a.plot {
        let sub = format!(
            "model {} · {} · {} replicates, seed {} · {} of {} percentiles outside their simulated 90 % range",
            model.id,
            if a.estimates.is_some() { "fitted estimates" } else { "the model's own values" },
            v.n_replicates,
            v.seed,
            v.outside,
            3 * v.bins.len()
        );
        // image size (pixels): plot layout
        crate::plot_to_file!(p, (1100, 650), draw_vpc, &v, &sub)?;
        crate::note!("plot written to {}", p.display());
    }
    if a.json {
        println!("{}", serde_json::to_string_pretty(&v)?);
    } else {
        let rows: Vec<Vec<String>> = v
            .bins
            .iter()
            .map(|b| {
                let cell = |q: usize| {
                    format!(
                        "{} ({}–{})",
                        crate::output::sig3(b.observed[q]),
                        crate::output::sig3(b.simulated[q][0]),
                        crate::output::sig3(b.simulated[q][2])
                    )
                };
                vec![
                    format!(
                        "{}–{}",
                        crate::output::sig3(b.t_lo_h),
                        crate::output::sig3(b.t_hi_h)
                    ),
                    b.n_obs.to_string(),
                    cell(0),
                    cell(1),
                    cell(2),
                ]
            })
            .collect();
        println!(
            "pcVPC of model {} ({} replicates): observed percentile (simulated 90 % range), mmol/L",
            v.model_id, v.n_replicates
        );
        print!(
            "{}",
            crate::output::table(
                &["time (h)", "n", "5th", "50th", "95th"],
                &[12, 5, 24, 24, 24],
                &rows
            )
        );
        println!(
            "{} of {} observed percentiles outside their simulated 90 % range",
            v.outside,
            3 * v.bins.len()
        );
    }
    Ok(())
}

fn draw_vpc<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, v: &Vpc, sub: &str) -> Result<()> {
    let layout = plot::layout(root, "Prediction-corrected VPC", sub, 4)?;
    let tmax = v.bins.iter().map(|b| b.t_hi_h).fold(1.0, f64::max);
    let ytop = v
        .bins
        .iter()
        .map(|b| b.simulated[2][2].max(b.observed[2]))
        .fold(0.0, f64::max)
        * 1.1;
    let mut chart = plot::time_chart(
        &layout.plot,
        tmax,
        ytop,
        "prediction-corrected serum Mg (mmol/L)",
    )?;
    let mut legend = Legend::default();
    let colors = [plot::OI_BLUE, plot::OI_VERMILLION, plot::OI_BLUE];
    for (q, color) in colors.iter().enumerate() {
        let mut poly: Vec<(f64, f64)> = v
            .bins
            .iter()
            .map(|b| (b.t_mid_h, b.simulated[q][0]))
            .collect();
        poly.extend(v.bins.iter().rev().map(|b| (b.t_mid_h, b.simulated[q][2])));
        chart
            .draw_series(std::iter::once(Polygon::new(
                poly,
                color.mix(0.18).filled(),
            )))
            .map_err(e)?;
    }
    for q in 0..3 {
        chart
            .draw_series(LineSeries::new(
                v.bins.iter().map(|b| (b.t_mid_h, b.observed[q])),
                plot::OI_BLACK.stroke_width(if q == 1 { 3 } else { 2 }),
            ))
            .map_err(e)?;
    }
    legend.add(
        Swatch::Band(plot::OI_BLUE, 0.3),
        "simulated 90 % range of the 5th / 95th percentile",
    );
    legend.add(
        Swatch::Band(plot::OI_VERMILLION, 0.3),
        "simulated 90 % range of the median",
    );
    legend.add(Swatch::Line(plot::OI_BLACK, 3), "observed median");
    legend.add(
        Swatch::Line(plot::OI_BLACK, 2),
        "observed 5th / 95th percentiles",
    );
    legend.draw(&layout)
}
