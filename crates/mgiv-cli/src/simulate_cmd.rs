//! `mgiv simulate`: the serum magnesium curve for one patient and one regimen.

use std::io::Write;

use anyhow::{bail, Result};
use clap::{Args, ValueEnum};
use mgiv_core::regimen::Regimen;
use mgiv_core::simulate::{simulate, uniform_times, Simulation};
use mgiv_core::units::{fmt_num, ConcUnit, MgConc, Salt};
use mgiv_core::Warning;
use serde_json::json;

use crate::common::{parse_times, PatientArgs, UnitsArg};

/// The documented example run by `mgiv simulate` with no options (README, first command).
pub const EXAMPLE_REGIMEN: &str = "4 g over 20 min, then 1 g/h for 24 h";
pub const EXAMPLE_DESCRIPTION: &str = "Example (no options given): Zuspan regimen 4 g over 20 min, then 1 g/h for 24 h, \
for a 70-kg woman with pre-eclampsia and serum creatinine 0.8 mg/dL, 36 h. Run `mgiv simulate --help` for your own patient.";

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum SimFormat {
    Table,
    Csv,
    Json,
}

#[derive(Debug, Args)]
pub struct SimulateArgs {
    /// Regimen as written clinically, e.g. "4 g over 20 min, then 1 g/h for 24 h" (or JSON/TOML)
    #[arg(long, value_name = "TEXT")]
    pub regimen: Option<String>,
    /// Model id (see `mgiv models`); default: chosen from the patient, and the reason is printed
    #[arg(long, value_name = "ID")]
    pub model: Option<String>,
    /// A model file of your own (TOML, same schema as data/models/*.toml) instead of a built-in one
    #[arg(long = "model-file", value_name = "FILE", conflicts_with = "model")]
    pub model_file: Option<std::path::PathBuf>,
    /// Indication (see `mgiv plan --help`): sets the default model and the context; default: assumed from the patient and reported
    #[arg(long, value_name = "ID")]
    pub indication: Option<String>,
    #[command(flatten)]
    pub patient: PatientArgs,
    /// Hours to simulate (default: the regimen's end + 12 h, at least 24 h, at most 21 days; hourly output unless --at or --step-min is given)
    #[arg(long, value_name = "H", allow_negative_numbers = true)]
    pub hours: Option<f64>,
    /// Output step in minutes (with --hours)
    #[arg(long = "step-min", value_name = "MIN", allow_negative_numbers = true)]
    pub step_min: Option<f64>,
    /// Output times in hours, comma-separated, e.g. 0.5,1,6,12,24
    #[arg(long, value_name = "T1,T2,...")]
    pub at: Option<String>,
    /// Concentration unit of the output
    #[arg(long, value_enum, default_value = "mmol/L")]
    pub units: UnitsArg,
    /// Output format
    #[arg(long, value_enum, default_value = "table")]
    pub format: SimFormat,
    /// Write a plot of the curve with normal, therapeutic and toxic bands (.svg or .png)
    #[arg(long, value_name = "FILE")]
    pub plot: Option<std::path::PathBuf>,
    /// A NONMEM-format dataset: instead of a curve, the goodness-of-fit table (sdtab: ID, ROW,
    /// TIME, DV, PRED, IPRED, RES, IWRES, CWRES, NPDE) of --model/--model-file on its design
    #[arg(long, value_name = "DATA.csv", conflicts_with_all = ["regimen", "plot", "at", "hours"])]
    pub data: Option<std::path::PathBuf>,
    /// With --data: population estimates, the JSON of `mgiv fit --json` (default: the model's own values)
    #[arg(long, value_name = "FIT.json", requires = "data")]
    pub estimates: Option<std::path::PathBuf>,
    #[command(flatten)]
    pub data_opts: crate::check_cmd::DataArgs,
    /// With --data: write the sdtab CSV here instead of stdout
    #[arg(long, value_name = "FILE", requires = "data")]
    pub sdtab: Option<std::path::PathBuf>,
    /// With --data: also draw the goodness-of-fit plot (DV vs PRED, DV vs IPRED, CWRES vs TIME,
    /// CWRES vs PRED) of the sdtab here (.png or .svg)
    #[arg(long, value_name = "FILE", requires = "data")]
    pub gof: Option<std::path::PathBuf>,
    /// With --data: replicates per subject for NPDE
    #[arg(long, value_name = "N", default_value_t = 1000)]
    pub npde_replicates: usize,
    /// With --data: seed of the NPDE replicates (same table on any number of threads)
    #[arg(long, value_name = "SEED", default_value_t = 1)]
    pub seed: u64,
}

/// `mgiv simulate --data`: the sdtab of a model (fitted estimates or its own values) on a
/// dataset's design; η̂ are the empirical Bayes estimates at those values.
fn run_data(a: &SimulateArgs, data: &std::path::Path) -> Result<()> {
    let model_arg = match (&a.model, &a.model_file) {
        (Some(id), None) => id.clone(),
        (None, Some(p)) => p.display().to_string(),
        _ => bail!(
            "--data needs --model ID or --model-file FILE (the model to evaluate on the dataset)"
        ),
    };
    if let Some(p) = &a.sdtab {
        crate::output::check_out_path(p, "--sdtab")?;
    }
    if let Some(p) = &a.gof {
        crate::plot::check_plot_path_for(p, "--gof")?;
    }
    if a.npde_replicates < 20 {
        bail!(
            "invalid --npde-replicates {} (allowed: 20 or more)",
            a.npde_replicates
        );
    }
    let model = crate::fit_cmd::load_model(&model_arg)?;
    // the estimation method named in the fit's JSON (`"method"`), for the GOF plot's caption
    let mut fit_method = None;
    let est = match &a.estimates {
        Some(p) => {
            let text = std::fs::read_to_string(p)
                .map_err(|e| anyhow::anyhow!("cannot read --estimates '{}': {e}", p.display()))?;
            fit_method = serde_json::from_str::<serde_json::Value>(&text)
                .ok()
                .and_then(|v| v.get("method")?.as_str().map(str::to_string));
            serde_json::from_str::<mgiv_fit::vpc::Estimates>(&text).map_err(|e| {
                anyhow::anyhow!(
                    "invalid --estimates '{}' (allowed: the JSON of `mgiv fit --json`): {e}",
                    p.display()
                )
            })?
        }
        None => mgiv_fit::vpc::Estimates::initial(&model),
    };
    let p = est.params(&model)?;
    let text = crate::check_cmd::read_text(data)?;
    let (ds, _) = mgiv_data::read(&text, &a.data_opts.options()?);
    let ds = ds.ok_or_else(|| {
        anyhow::anyhow!(
            "the dataset '{}' has errors (run `mgiv check` on it)",
            data.display()
        )
    })?;
    let rows = mgiv_fit::diagnostics::sdtab_at(&model, &p, &ds, a.npde_replicates, a.seed)?;
    let csv = mgiv_fit::diagnostics::sdtab_csv(&rows);
    crate::note!(
        "sdtab of model {} ({}) on {}: {} observations",
        model.id,
        if a.estimates.is_some() {
            "fitted estimates"
        } else {
            "its own values"
        },
        data.display(),
        rows.len()
    );
    if let Some(path) = &a.gof {
        let g = mgiv_fit::diagnostics::gof_series(&rows);
        let estimates = match (&a.estimates, &fit_method) {
            (Some(p), Some(m)) => format!("{} estimates from {}", method_name(m), p.display()),
            (Some(p), None) => format!("estimates from {}", p.display()),
            (None, _) => "the model's own values".to_string(),
        };
        let sub = format!(
            "model {model_arg} · data {} · {estimates} · EBEs and CWRES by FOCE-I at these values · {} observations",
            data.display(),
            rows.len()
        );
        crate::plot::gof::write_gof(path, &g, &sub)?;
        if g.n_not_finite > 0 {
            crate::note!(
                "{} observations with a non-finite value left out of the GOF plot",
                g.n_not_finite
            );
        }
        crate::note!("GOF plot written to {}", path.display());
    }
    match &a.sdtab {
        Some(path) => {
            std::fs::write(path, csv)
                .map_err(|e| anyhow::anyhow!("cannot write --sdtab '{}': {e}", path.display()))?;
            crate::note!("sdtab written to {}", path.display());
        }
        None => print!("{csv}"),
    }
    Ok(())
}

/// The method of a fit's JSON as written in a caption.
fn method_name(m: &str) -> String {
    match m {
        "focei" => "FOCE-I".to_string(),
        "saem" => "SAEM".to_string(),
        other => other.to_string(),
    }
}

impl SimulateArgs {
    fn is_empty(&self) -> bool {
        self.regimen.is_none()
            && self.model.is_none()
            && self.hours.is_none()
            && self.at.is_none()
            && self.plot.is_none()
            && self.step_min.is_none()
            && self.patient.weight.is_none()
            && self.patient.creatinine.is_none()
            && self.patient.creatinine_umol.is_none()
            && self.patient.age.is_none()
            && self.patient.sex.is_none()
            && !self.patient.pregnant
            && !self.patient.pre_eclampsia
            && self.patient.baseline.is_none()
            && self.patient.crcl.is_none()
            && self.patient.egfr.is_none()
            && self.patient.height.is_none()
    }
}

pub fn run(mut a: SimulateArgs) -> Result<()> {
    if let Some(data) = a.data.clone() {
        return run_data(&a, &data);
    }
    let mut banner = None;
    if a.is_empty() {
        a.regimen = Some(EXAMPLE_REGIMEN.into());
        // the demo patient of `mgiv simulate` with no arguments (an example, not data)
        a.patient.weight = Some(70.0);
        a.patient.creatinine = Some(0.8);
        a.patient.pre_eclampsia = true;
        a.hours = Some(36.0);
        banner = Some(EXAMPLE_DESCRIPTION);
    }
    let Some(regimen_text) = a.regimen.clone() else {
        bail!("--regimen is required (e.g. --regimen \"4 g over 20 min, then 1 g/h for 24 h\"); run `mgiv simulate` with no options for a worked example");
    };
    let regimen = Regimen::from_text(&regimen_text, a.patient.weight)?;
    let model_file = match &a.model_file {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .map_err(|e| anyhow::anyhow!("cannot read --model-file {}: {e}", path.display()))?;
            let m = mgiv_core::model::ModelSpec::from_toml(&text)
                .map_err(|e| anyhow::anyhow!("invalid --model-file {}: {e}", path.display()))?;
            Some(m)
        }
        None => None,
    };
    let ctx =
        mgiv_clinical::context::ClinicalContext::build(&mgiv_clinical::context::ContextInput {
            indication: a.indication.clone(),
            model_id: a.model.clone(),
            model_file,
            patient: a.patient.to_input()?,
            ..Default::default()
        })?;
    let patient = ctx.patient.clone();
    let plot_target = (ctx.target.lo_mmol_l, ctx.target.hi_mmol_l);
    let plot_target_why = format!("{}: {}", ctx.indication.id, ctx.target_why);
    let model = ctx.model_choice();
    let context_notes: Vec<Warning> = ctx
        .alerts
        .iter()
        .filter(|x| x.code != "CTX-INDICATION")
        .map(|x| Warning::new(&x.code, format!("[{}] {}", x.code, x.message), &x.source))
        .chain(std::iter::once(Warning::new(
            "CTX-INDICATION",
            format!("indication {} ({})", ctx.indication.id, ctx.indication_why),
            format!("data/indications/{}.toml", ctx.indication.id),
        )))
        .collect();
    let times = match (&a.at, a.hours) {
        (Some(at), _) => parse_times(at)?,
        (None, hours) => {
            let h = hours.unwrap_or_else(|| mgiv_core::simulate::default_horizon_h(&regimen));
            let step_h = a.step_min.map(|m| m / 60.0).unwrap_or(1.0);
            uniform_times(h, step_h)?
        }
    };
    if let Some(path) = &a.plot {
        crate::plot::check_plot_path(path)?;
    }
    let mut sim = simulate(&model, &patient, &regimen, &times)?;
    if sim.serum_mmol_l.iter().any(|c| !c.is_finite()) {
        bail!(
            "model {} gave a non-finite level for this patient (parameters {:?}): check the model file",
            model.spec.id,
            sim.params
        );
    }
    sim.warnings.extend(context_notes);
    let unit = a.units.conc_unit();
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    match a.format {
        SimFormat::Table => print_table(&mut out, banner, &regimen, &sim, unit)?,
        SimFormat::Csv => print_csv(&mut out, &sim, unit)?,
        SimFormat::Json => {
            let v = to_json(&regimen, &sim, unit, &patient);
            writeln!(out, "{}", serde_json::to_string_pretty(&v)?)?;
        }
    }
    if let Some(path) = &a.plot {
        // plot on a fine grid so peaks at the end of short infusions are drawn
        let span = times.last().copied().unwrap_or(24.0).max(0.5);
        // plot grid: at least 2000 steps, at most 1 min (numerical)
        let fine = uniform_times(span, (span / 2000.0).min(1.0 / 60.0))?;
        let fine_sim = simulate(&model, &patient, &regimen, &fine)?;
        crate::plot::serum_plot(
            path,
            &fine_sim,
            &regimen.canonical(),
            unit,
            &crate::plot::SerumPlotContext {
                target_mmol_l: Some(plot_target),
                target_why: &plot_target_why,
                patient: mgiv_safety::report::patient_words(&patient),
            },
        )?;
        crate::note!("plot written to {}", path.display());
    }
    Ok(())
}

pub fn to_json(
    regimen: &Regimen,
    sim: &Simulation,
    unit: ConcUnit,
    patient: &mgiv_core::patient::Patient,
) -> serde_json::Value {
    let unit_key = match unit {
        ConcUnit::MmolPerL => "serum_mg_mmol_l",
        ConcUnit::MgPerDl => "serum_mg_mg_dl",
        ConcUnit::MeqPerL => "serum_mg_meq_l",
    };
    let points: Vec<serde_json::Value> = sim
        .times_h
        .iter()
        .zip(&sim.serum_mmol_l)
        .map(|(&t, &c)| {
            let mut p = json!({"time_h": t, "serum_mg_mmol_l": c});
            if unit != ConcUnit::MmolPerL {
                p[unit_key] = json!(MgConc::from_mmol_l(c).in_unit(unit));
            }
            p
        })
        .collect();
    let peak = sim.peak().map(|(t, c)| {
        let mut p = json!({"time_h": t, "serum_mg_mmol_l": c});
        if unit != ConcUnit::MmolPerL {
            p[unit_key] = json!(MgConc::from_mmol_l(c).in_unit(unit));
        }
        p
    });
    json!({
        "mgiv_version": env!("CARGO_PKG_VERSION"),
        "model": {
            "id": sim.model.id,
            "name": sim.model.name,
            "citation": sim.model.citation,
            "evidence": sim.model.evidence,
            "chosen_because": sim.model.chosen_because,
        },
        "regimen": regimen.canonical(),
        "regimen_note": "g = grams of MgSO4·7H2O unless another salt is named",
        "regimen_events": regimen.events,
        "total_mg_mmol": regimen.amount_given_by_mmol(*sim.times_h.last().unwrap_or(&0.0)),
        "patient": patient,
        "parameters": sim.params,
        "solver": sim.solver,
        "units": unit.symbol(),
        "quantity": "total serum magnesium",
        "peak": peak,
        "points": points,
        "warnings": sim.warnings,
        "warnings_in_units": sim.warnings.iter().map(|w| Warning { message: crate::output::in_unit(&w.message, unit), ..w.clone() }).collect::<Vec<_>>(),
    })
}

fn print_table(
    out: &mut impl Write,
    banner: Option<&str>,
    regimen: &Regimen,
    sim: &Simulation,
    unit: ConcUnit,
) -> Result<()> {
    if let Some(b) = banner {
        writeln!(out, "{b}\n")?;
    }
    writeln!(out, "Regimen: {}", regimen.canonical())?;
    let total = regimen.amount_given_by_mmol(*sim.times_h.last().unwrap_or(&0.0));
    writeln!(
        out,
        "         (g = grams of MgSO4·7H2O; {} mmol Mg = {} g MgSO4·7H2O given by the last time shown)",
        fmt_num(total),
        fmt_num(mgiv_core::units::MgAmount::from_mmol(total).salt_g(Salt::MgSo4Heptahydrate))
    )?;
    writeln!(out, "Model:   {} — {}", sim.model.id, sim.model.name)?;
    writeln!(out, "Source:  {}", sim.model.citation)?;
    writeln!(out, "Evidence: {}", sim.model.evidence)?;
    if let Some(why) = &sim.model.chosen_because {
        writeln!(out, "Chosen because: {why} (override with --model)")?;
    }
    let p = &sim.params;
    write!(
        out,
        "Parameters: CL {:.2} L/h, V1 {:.1} L",
        p.cl_l_h, p.v1_l
    )?;
    if let Some(pp) = p.peripheral {
        write!(out, ", Q {:.2} L/h, V2 {:.1} L", pp.q_l_h, pp.v2_l)?;
    }
    writeln!(
        out,
        ", baseline {:.2} mmol/L; solver: {:?}",
        p.baseline_mmol_l, sim.solver
    )?;
    writeln!(out)?;
    writeln!(
        out,
        "{:>8}  {:>12}",
        "time (h)",
        format!("serum Mg ({})", unit.symbol())
    )?;
    for (t, c) in sim.times_h.iter().zip(&sim.serum_mmol_l) {
        writeln!(
            out,
            "{:>8}  {:>12.3}",
            fmt_num(*t),
            MgConc::from_mmol_l(*c).in_unit(unit)
        )?;
    }
    if let Some((tp, cp)) = sim.peak() {
        writeln!(
            out,
            "\nPeak {} {} at {} h (total serum Mg; searched on a 1-minute grid).",
            crate::output::sig3(MgConc::from_mmol_l(cp).in_unit(unit)),
            unit.symbol(),
            fmt_num(tp)
        )?;
    }
    if !sim.warnings.is_empty() {
        writeln!(out, "\nWarnings:")?;
        for w in &sim.warnings {
            writeln!(out, "  - {}", crate::output::in_unit(&w.message, unit))?;
        }
    }
    Ok(())
}

fn print_csv(out: &mut impl Write, sim: &Simulation, unit: ConcUnit) -> Result<()> {
    let col = match unit {
        ConcUnit::MmolPerL => "serum_mg_mmol_l",
        ConcUnit::MgPerDl => "serum_mg_mg_dl",
        ConcUnit::MeqPerL => "serum_mg_meq_l",
    };
    // the model, its source and every warning travel with the numbers, as `#` comment lines
    writeln!(out, "# mgiv {} simulate", env!("CARGO_PKG_VERSION"))?;
    writeln!(out, "# model: {} — {}", sim.model.id, sim.model.citation)?;
    writeln!(out, "# evidence: {}", sim.model.evidence)?;
    writeln!(out, "# unit: {}", unit.symbol())?;
    for w in &sim.warnings {
        writeln!(
            out,
            "# warning: {}",
            crate::output::in_unit(&w.message, unit)
        )?;
    }
    writeln!(out, "time_h,{col},model_id")?;
    for (t, c) in sim.times_h.iter().zip(&sim.serum_mmol_l) {
        writeln!(
            out,
            "{},{:.6},{}",
            t,
            MgConc::from_mmol_l(*c).in_unit(unit),
            sim.model.id
        )?;
    }
    Ok(())
}
