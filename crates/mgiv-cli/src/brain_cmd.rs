//! `mgiv brain`: serum → CSF magnesium (fitted transfer model, with intervals) and the four claimed
//! brain effects, each with its evidence grade and source (library: `mgiv-brain`; docs/BRAIN.md).
//!
//! * `mgiv brain --regimen TEXT [patient options] [--hours H] [--at LIST] [--voltage MV] [--format table|json] [--plot FILE]`
//! * `mgiv brain block --mg MM --voltage MV` — fraction of NMDA conductance unblocked
//! * `mgiv brain fit-csf [--write data/brain/csf-model.toml]` — re-run the CSF calibration

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand, ValueEnum};
use mgiv_brain::csf::{CsfModelFile, CsfOptions, CsfVariant};
use mgiv_brain::effects::{check_mg, BlockSpec, VascularHypothesis};
use mgiv_brain::report::{block_table, brain_report, BrainOptions, BrainPoint, BrainReport};
use mgiv_clinical::context::ClinicalContext;
use mgiv_core::patient::Patient;
use mgiv_core::regimen::Regimen;
use mgiv_core::simulate::Simulation;
use mgiv_core::units::fmt_num;
use plotters::coord::Shift;
use plotters::prelude::*;
use serde_json::json;

use crate::common::{parse_times, PatientArgs};
use crate::plot::{e, Swatch, OI_BLACK, OI_BLUE, OI_GREEN, OI_GREY, OI_PURPLE, OI_VERMILLION};

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum BrainFormat {
    Table,
    Json,
}

/// `mgiv brain` arguments: a run (top-level options) or a subcommand.
#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct BrainArgs {
    #[command(subcommand)]
    pub command: Option<BrainCommand>,
    #[command(flatten)]
    pub run: BrainRunArgs,
}

#[derive(Debug, Subcommand)]
pub enum BrainCommand {
    /// Fraction of NMDA conductance unblocked at a Mg concentration and membrane potential(s)
    Block(BlockArgs),
    /// Re-run the blood-CSF calibration (Fuchs-Buder 1997, McKee 2005) and print or write it
    FitCsf(FitCsfArgs),
}

/// NMDA block-law options shared by the run and `block`.
#[derive(Debug, Clone, Args)]
pub struct BlockLawArgs {
    /// Block law: jahr-stevens (default), vcr2003, glun2cd, evans, woodhull
    #[arg(long, value_name = "NAME", default_value = "jahr-stevens")]
    pub block: String,
    /// Woodhull electrical distance δ (0-1; default 0.8; only with --block woodhull)
    #[arg(long, value_name = "DELTA")]
    pub delta: Option<f64>,
    /// Woodhull temperature, °C (default 37; only with --block woodhull)
    #[arg(long = "temp-c", value_name = "DEGC", allow_hyphen_values = true)]
    pub temp_c: Option<f64>,
    /// Woodhull K0 at 0 mV, mM (default 3.57; only with --block woodhull)
    #[arg(long, value_name = "MM", allow_negative_numbers = true)]
    pub k0: Option<f64>,
}

impl BlockLawArgs {
    fn spec(&self) -> Result<BlockSpec> {
        Ok(BlockSpec::parse(
            &self.block,
            self.delta,
            self.temp_c,
            self.k0,
        )?)
    }
}

#[derive(Debug, Args)]
pub struct BlockArgs {
    /// Extracellular (ionised) Mg, mM
    #[arg(long, value_name = "MM", allow_negative_numbers = true)]
    pub mg: f64,
    /// Membrane potential(s), mV, comma-separated (e.g. -60 or -80,-60,-40)
    #[arg(
        long,
        value_name = "MV",
        allow_hyphen_values = true,
        default_value = "-60"
    )]
    pub voltage: String,
    #[command(flatten)]
    pub law: BlockLawArgs,
    #[arg(long, value_enum, default_value = "table")]
    pub format: BrainFormat,
}

#[derive(Debug, Args)]
pub struct FitCsfArgs {
    /// Write the fitted parameter file here (normally data/brain/csf-model.toml)
    #[arg(long, value_name = "FILE")]
    pub write: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct BrainRunArgs {
    /// Regimen as written clinically, e.g. "4 g over 20 min, then 1 g/h for 24 h"
    #[arg(long, value_name = "TEXT")]
    pub regimen: Option<String>,
    /// Serum PK model id (see `mgiv models`); default: the indication's, if the patient fits it
    #[arg(long, value_name = "ID")]
    pub model: Option<String>,
    /// Indication (see `mgiv plan --help`); default: assumed from the patient and reported
    #[arg(long, value_name = "ID")]
    pub indication: Option<String>,
    #[command(flatten)]
    pub patient: PatientArgs,
    /// Hours to show (default: the regimen's end + 12 h, at least 24 h, at most 21 days)
    #[arg(long, value_name = "H")]
    pub hours: Option<f64>,
    /// Output times in hours, comma-separated (default: hourly)
    #[arg(long, value_name = "T1,T2,...")]
    pub at: Option<String>,
    /// Membrane potential(s) for the NMDA block, mV, comma-separated; the first is reported as
    /// nmda_relative_conductance (default -65)
    #[arg(long, value_name = "MV", allow_hyphen_values = true)]
    pub voltage: Option<String>,
    #[command(flatten)]
    pub law: BlockLawArgs,
    /// CSF transfer model: saturable (default, joint fit) or leaky (Fuchs-Buder only; upper bound)
    #[arg(long = "csf-model", value_name = "NAME", default_value = "saturable")]
    pub csf_model: String,
    /// Parameter draws for the intervals (0 = none)
    // interval sampling defaults (as CsfOptions::default): numerical settings and a fixed seed
    #[arg(long, value_name = "N", default_value_t = 400)]
    pub samples: usize,
    /// Random seed for the parameter draws (same seed, same numbers)
    #[arg(long, value_name = "SEED", default_value_t = 20260401)]
    pub seed: u64,
    /// Central coverage of the intervals (0-1)
    #[arg(long, value_name = "P", default_value_t = 0.9)]
    pub coverage: f64,
    /// HYPOTHETICAL cerebral-vessel module: EC50 (mM rise of ionised CSF Mg); needs --vascular-emax
    #[arg(long = "vascular-ec50", value_name = "MM", requires = "vascular_emax")]
    pub vascular_ec50: Option<f64>,
    /// HYPOTHETICAL cerebral-vessel module: maximal diameter increase (%); needs --vascular-ec50
    #[arg(long = "vascular-emax", value_name = "PCT", requires = "vascular_ec50")]
    pub vascular_emax: Option<f64>,
    /// Baseline C-reactive protein, mg/L (for the associative inflammation statement)
    #[arg(long, value_name = "MG_L")]
    pub crp: Option<f64>,
    /// Output format
    #[arg(long, value_enum, default_value = "table")]
    pub format: BrainFormat,
    /// Write a multi-panel plot (.svg or .png)
    #[arg(long, value_name = "FILE")]
    pub plot: Option<PathBuf>,
}

pub fn run(args: BrainArgs) -> Result<()> {
    match args.command {
        Some(BrainCommand::Block(a)) => run_block(a),
        Some(BrainCommand::FitCsf(a)) => run_fit(a),
        None => run_brain(args.run),
    }
}

fn parse_voltages(text: &str) -> Result<Vec<f64>> {
    let mut out = Vec::new();
    for part in text.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let v: f64 = part.trim_end_matches("mV").trim().parse().with_context(|| {
            format!("invalid --voltage '{part}' (allowed: membrane potentials in mV, e.g. -65 or -80,-60,-40)")
        })?;
        mgiv_brain::effects::check_voltage(v)?;
        out.push(v);
    }
    if out.is_empty() {
        bail!("invalid --voltage '{text}' (allowed: membrane potentials in mV, e.g. -65)");
    }
    Ok(out)
}

fn run_block(a: BlockArgs) -> Result<()> {
    let spec = a.law.spec()?;
    let mg = check_mg(a.mg)?;
    let volts = parse_voltages(&a.voltage)?;
    let rows = block_table(&spec, mg, &volts)?;
    let b = spec.block()?;
    let v_half = b.v_half_mv(mg);
    let mut out = std::io::stdout().lock();
    match a.format {
        BrainFormat::Json => {
            let v = json!({
                "mgiv_version": env!("CARGO_PKG_VERSION"),
                "block": spec.name(),
                "source": b.source,
                "k0_mm": b.k0_mm,
                "gamma_per_mv": b.gamma_per_mv,
                "mg_mm": mg,
                "v_half_mv": if mg > 0.0 { Some(v_half) } else { None },
                "rows": rows.iter().map(|(v, f)| json!({"voltage_mv": v, "unblocked_fraction": f})).collect::<Vec<_>>(),
            });
            writeln!(out, "{}", serde_json::to_string_pretty(&v)?)?;
        }
        BrainFormat::Table => {
            writeln!(
                out,
                "NMDA Mg block: {} (K0 {} mM, gamma {:.4} /mV)",
                spec.name(),
                fmt_num(b.k0_mm),
                b.gamma_per_mv
            )?;
            writeln!(out, "Source: {}", b.source)?;
            for (v, f) in &rows {
                writeln!(
                    out,
                    "B(V = {} mV, Mg = {} mM) = {:.4}  (fraction of NMDA conductance unblocked)",
                    fmt_num(*v),
                    fmt_num(mg),
                    f
                )?;
            }
            if mg > 0.0 {
                writeln!(
                    out,
                    "Half-unblock voltage V1/2 = {:.2} mV at {} mM",
                    v_half,
                    fmt_num(mg)
                )?;
            }
        }
    }
    Ok(())
}

fn run_fit(a: FitCsfArgs) -> Result<()> {
    let f = mgiv_brain::fit::fit_csf()?;
    let mut out = std::io::stdout().lock();
    print_fit(&mut out, &f)?;
    if let Some(path) = &a.write {
        std::fs::write(path, f.to_toml()?)
            .with_context(|| format!("writing {}", path.display()))?;
        writeln!(out, "\nwritten to {}", path.display())?;
    } else {
        let shipped = CsfModelFile::builtin()?;
        let same = (shipped.saturable.k_out_per_h / f.saturable.k_out_per_h - 1.0).abs() < 1e-9
            && (shipped.saturable.km_rel / f.saturable.km_rel - 1.0).abs() < 1e-9
            && (shipped.leaky.k_out_per_h / f.leaky.k_out_per_h - 1.0).abs() < 1e-9;
        writeln!(
            out,
            "\nShipped data/brain/csf-model.toml {} this fit.{}",
            if same { "equals" } else { "DIFFERS FROM" },
            if same {
                ""
            } else {
                " Re-run with --write data/brain/csf-model.toml"
            }
        )?;
    }
    Ok(())
}

fn print_fit(out: &mut impl Write, f: &CsfModelFile) -> Result<()> {
    let s = &f.saturable;
    let sd = |v: f64| v.max(0.0).sqrt();
    writeln!(
        out,
        "Blood-CSF magnesium transfer: calibration (data: {})",
        f.data_file
    )?;
    writeln!(
        out,
        "\nSaturable model (default): dy/dt = k_out·(g(x) − y), g(x) = x(κ+1)/(κ+x)"
    )?;
    writeln!(
        out,
        "  k_out = {:.4} /h (t½ {:.0} min; ln-SD {:.2}), κ = Km/Cp0 = {:.3} (ln-SD {:.2}), corr {:.2}",
        s.k_out_per_h,
        s.t_half_min,
        sd(s.covariance_ln[0][0]),
        s.km_rel,
        sd(s.covariance_ln[1][1]),
        s.covariance_ln[0][1] / (sd(s.covariance_ln[0][0]) * sd(s.covariance_ln[1][1]))
    )?;
    writeln!(
        out,
        "  chi2 = {:.2} on {} dof; covariance inflated by the Birge factor {:.2} (the data sets disagree)",
        s.chi2, s.dof, s.birge_factor
    )?;
    let p = &s.predictions;
    // the published values beside the predictions, from data/brain/csf-data.toml
    let d = mgiv_brain::fit::csf_data()?;
    let (fb, mk, op) = (&d.fuchs_buder_1997, &d.mckee_2005, &d.oppelt_1963_check);
    let (t, c, csd) = (&fb.csf_times_min, &fb.csf_mmol_l, &fb.csf_sd_mmol_l);
    if t.len() != 4 || c.len() != 4 || csd.len() != 4 {
        bail!("data/brain/csf-data.toml: Fuchs-Buder needs 4 CSF samples");
    }
    let (lo, hi) = (mk.clamp_serum_lo_mmol_l, mk.clamp_serum_hi_mmol_l);
    let (rise_lo, rise_hi) = (
        100.0 * mk.csf_rise_lo_fraction,
        100.0 * mk.csf_rise_hi_fraction,
    );
    let [h12, h24] = mk.csf_sample_hours;
    writeln!(out, "  Fuchs-Buder 1997 CSF at {}/{}/{} min: predicted {:.3} / {:.3} / {:.3}, observed {:.2} ± {:.2} / {:.2} ± {:.2} / {:.2} ± {:.2} mmol/L",
        t[1], t[2], t[3],
        p.fuchs_buder_csf_mmol_l[0], p.fuchs_buder_csf_mmol_l[1], p.fuchs_buder_csf_mmol_l[2],
        c[1], csd[1], c[2], csd[2], c[3], csd[3])?;
    writeln!(out, "  McKee 2005 CSF rise after {h24} h at serum {lo:.1}/{:.1}/{hi:.1} mmol/L: {:+.1} / {:+.1} / {:+.1} % (reported {rise_lo:.0}-{rise_hi:.0} %); at {h12} h {:+.1} / {:+.1} / {:+.1} %",
        0.5 * (lo + hi),
        100.0 * p.mckee_rise_24h_fraction[0], 100.0 * p.mckee_rise_24h_fraction[1], 100.0 * p.mckee_rise_24h_fraction[2],
        100.0 * p.mckee_rise_12h_fraction[0], 100.0 * p.mckee_rise_12h_fraction[1], 100.0 * p.mckee_rise_12h_fraction[2])?;
    writeln!(out, "  Out-of-sample check, Oppelt 1963 (dog, plasma ×{}-{} for {} h, at most +{:.0} %): {:+.1} to {:+.1} %",
        op.plasma_fold_lo, op.plasma_fold_hi, op.hours, 100.0 * op.csf_rise_max_fraction,
        100.0 * p.oppelt_rise_fraction[0], 100.0 * p.oppelt_rise_fraction[1])?;
    let l = &f.leaky;
    writeln!(out, "\nLeaky alternative (linear influx, Fuchs-Buder only): k_out = {:.4} /h (t½ {:.0} min; ln-SD {:.2}), chi2 {:.2} on {} dof",
        l.k_out_per_h, l.t_half_min, sd(l.var_ln), l.chi2, l.dof)?;
    let q = &l.predictions;
    writeln!(out, "  Fuchs-Buder predicted {:.3} / {:.3} / {:.3} mmol/L; McKee {h24}-h rise {:+.0} % (reported {rise_lo:.0}-{rise_hi:.0} %: over-predicts)",
        q.fuchs_buder_csf_mmol_l[0], q.fuchs_buder_csf_mmol_l[1], q.fuchs_buder_csf_mmol_l[2], 100.0 * q.mckee_rise_24h_fraction[1])?;
    writeln!(
        out,
        "\nBaseline CSF/serum total ratio R0 = {:.3} ± {:.3}; ionised fraction of CSF Mg = {:.3} ± {:.3}",
        f.ratio.ratio_total, f.ratio.se, f.ionised.fraction, f.ionised.se
    )?;
    Ok(())
}

fn run_brain(a: BrainRunArgs) -> Result<()> {
    let Some(regimen_text) = a.regimen.clone() else {
        bail!("--regimen is required (e.g. mgiv brain --regimen \"4 g over 20 min, then 1 g/h for 24 h\" --weight 70), or use `mgiv brain block --mg 1 --voltage -60` / `mgiv brain fit-csf`");
    };
    if let Some(path) = &a.plot {
        crate::plot::check_plot_path(path)?;
    }
    let ctx = crate::common::context_for(&a.patient, a.indication.as_deref(), a.model.as_deref())?;
    let patient = ctx.patient.clone();
    let opts = brain_options(&a, &patient)?;
    let run = mgiv_clinical::brain::brain_for_regimen(
        &ctx,
        &regimen_text,
        a.at.as_deref().map(parse_times).transpose()?,
        a.hours,
        &opts,
    )?;
    let (regimen, sim, rep) = (run.regimen, run.serum, run.report);
    let horizon = run
        .report_times_h
        .last()
        .copied()
        .unwrap_or(24.0)
        .max(1.0 / 60.0);
    let mut out = std::io::stdout().lock();
    match a.format {
        BrainFormat::Json => print_json(&mut out, &ctx, &regimen, &sim, &rep)?,
        BrainFormat::Table => {
            print_context(&mut out, &ctx)?;
            print_table(&mut out, &regimen, &sim, &rep)?
        }
    }
    out.flush()?;
    drop(out);
    if let Some(path) = &a.plot {
        write_plot(path, &sim, horizon, &opts, &patient, &regimen)?;
    }
    Ok(())
}

/// The report's options from the run's arguments: CSF model and intervals, block law and
/// voltages, the hypothetical vascular module, CRP, and what is known of the patient.
fn brain_options(a: &BrainRunArgs, patient: &Patient) -> Result<BrainOptions> {
    let vascular = match (a.vascular_ec50, a.vascular_emax) {
        (Some(ec), Some(em)) => Some(VascularHypothesis::new(ec, em)?),
        _ => None,
    };
    Ok(BrainOptions {
        csf: CsfOptions {
            variant: CsfVariant::parse(&a.csf_model)?,
            n_samples: a.samples,
            seed: a.seed,
            coverage: a.coverage,
        },
        block: a.law.spec()?,
        voltages_mv: match &a.voltage {
            Some(v) => parse_voltages(v)?,
            None => vec![mgiv_brain::effects::default_voltage_mv()?],
        },
        vascular,
        crp_mg_l: a.crp,
        baseline_measured: patient.baseline.is_some(),
        pre_eclampsia: patient.pre_eclampsia,
    })
}

/// The run as JSON: context, regimen, patient, serum model, CSF model, points, summary, claims.
fn print_json(
    out: &mut impl Write,
    ctx: &ClinicalContext,
    regimen: &Regimen,
    sim: &Simulation,
    rep: &BrainReport,
) -> Result<()> {
    let v = json!({
        "mgiv_version": env!("CARGO_PKG_VERSION"),
        "units": {"serum_and_csf": "mmol/L", "time": "h", "blood_pressure": "mmHg", "voltage": "mV"},
        "context": ctx.to_json(),
        "context_alerts": ctx.alerts,
        "regimen": regimen.canonical(),
        "regimen_note": "g = grams of MgSO4·7H2O unless another salt is named",
        "patient": ctx.patient,
        "serum_model": sim.model,
        "serum_warnings": sim.warnings,
        "csf_model": rep.csf_model,
        "block": rep.block,
        "voltages_mv": rep.voltages_mv,
        "points": rep.points,
        "summary": rep.summary,
        "claims": rep.claims,
        "not_modelled": rep.not_modelled,
        "plain_language": rep.plain_language,
        "warnings": rep.warnings,
    });
    writeln!(out, "{}", serde_json::to_string_pretty(&v)?)?;
    Ok(())
}

/// The clinical context and its alerts (but the assumed indication, already in the context).
fn print_context(out: &mut impl Write, ctx: &ClinicalContext) -> Result<()> {
    writeln!(out, "CLINICAL CONTEXT")?;
    for l in ctx.describe() {
        writeln!(out, "  {l}")?;
    }
    for al in ctx.alerts.iter().filter(|x| x.code != "CTX-INDICATION") {
        writeln!(
            out,
            "  [{}] {}: {}",
            al.severity.label(),
            al.code,
            al.message
        )?;
    }
    writeln!(out)?;
    Ok(())
}

/// The `--plot` of the run: the report again on the simulation's own fine grid up to `horizon`
/// (h), drawn in four panels.
fn write_plot(
    path: &Path,
    sim: &Simulation,
    horizon: f64,
    opts: &BrainOptions,
    patient: &Patient,
    regimen: &Regimen,
) -> Result<()> {
    // a denser set of report times for smooth curves
    // the simulation's own fine grid (1 minute or finer up to 5000 points), so the
    // loading peak is drawn at its height
    let plot_times: Vec<f64> = sim
        .times_h
        .iter()
        .copied()
        .filter(|t| *t <= horizon)
        .collect();
    let prep = brain_report(
        &sim.times_h,
        &sim.serum_mmol_l,
        sim.params.baseline_mmol_l,
        &plot_times,
        opts,
    )?;
    // text layout needs the bundled font for SVG as well as PNG
    crate::plot::ensure_font();
    let subtitle = format!(
        "serum model {} · CSF model: {} · patient: {}",
        sim.model.id,
        match prep.csf_model.variant {
            mgiv_brain::csf::CsfVariant::Saturable => {
                "saturable influx (Fuchs-Buder 1997, McKee 2005)"
            }
            mgiv_brain::csf::CsfVariant::Leaky => "linear influx (Fuchs-Buder 1997)",
        },
        mgiv_safety::report::patient_words(patient)
    );
    crate::plot_to_file!(
        path,
        // image size (pixels): plot layout
        (1400, 1000),
        draw_brain,
        &prep,
        &regimen.canonical(),
        &subtitle
    )?;
    crate::note!("plot written to {}", path.display());
    Ok(())
}

fn effect_value(p: &mgiv_brain::report::BrainPoint, name: &str) -> Option<f64> {
    p.effects
        .iter()
        .find(|e| e.name == name)
        .and_then(|e| e.value)
}

/// The regimen, the serum model (and why it was chosen), the CSF model with its intervals, the
/// NMDA block law.
fn print_models(
    out: &mut impl Write,
    regimen: &Regimen,
    sim: &Simulation,
    rep: &BrainReport,
) -> Result<()> {
    writeln!(
        out,
        "Regimen: {} (g = grams of MgSO4·7H2O)",
        regimen.canonical()
    )?;
    writeln!(
        out,
        "Serum model: {} — {}",
        sim.model.id, sim.model.citation
    )?;
    if let Some(why) = &sim.model.chosen_because {
        writeln!(out, "  chosen because: {why}")?;
    }
    let m = &rep.csf_model;
    writeln!(
        out,
        "CSF model: {} (k_out {:.3} /h{}, CSF/serum ratio {:.3}, ionised fraction {:.2}); {:.0} % intervals from {} parameter draws, seed {}",
        m.variant.name(),
        m.k_out_per_h,
        m.km_rel.map(|k| format!(", Km {k:.3} × baseline serum")).unwrap_or_default(),
        m.ratio_total,
        m.ionised_fraction,
        100.0 * m.interval_coverage,
        m.n_samples,
        m.seed
    )?;
    writeln!(out, "  {}", m.interval_meaning)?;
    writeln!(out, "NMDA block: {}", rep.block)?;
    Ok(())
}

/// One row per report time: serum, CSF total and ionised, NMDA conductance (each with its
/// interval), release, systolic BP change and plasticity change.
fn print_points(out: &mut impl Write, rep: &BrainReport) -> Result<()> {
    let v0 = fmt_num(rep.voltages_mv[0]);
    writeln!(out)?;
    writeln!(
        out,
        "{:>6}  {:>7}  {:>21}  {:>21}  {:>19}  {:>8}  {:>7}  {:>8}",
        "time",
        "serum",
        "CSF total [interval]",
        "CSF ionised [interv.]",
        format!("NMDA g@{v0}mV [int.]"),
        "release",
        "SBP Δ",
        "LTP Δ(GB)"
    )?;
    writeln!(
        out,
        "{:>6}  {:>7}  {:>21}  {:>21}  {:>19}  {:>8}  {:>7}  {:>8}",
        "h", "mmol/L", "mmol/L", "mmol/L", "× baseline", "× base", "mmHg", "vs base"
    )?;
    for p in &rep.points {
        writeln!(
            out,
            "{:>6}  {:>7.3}  {:>6.3} [{:.3}-{:.3}]  {:>6.3} [{:.3}-{:.3}]  {:>5.3} [{:.3}-{:.3}]  {:>8.3}  {:>7}  {:>+8.3}",
            fmt_num(p.time_h),
            p.serum_mg_mmol_l,
            p.csf_total_mg_mmol_l,
            p.csf_total_mg_mmol_l_lo,
            p.csf_total_mg_mmol_l_hi,
            p.csf_ionised_mg_mmol_l,
            p.csf_ionised_mg_mmol_l_lo,
            p.csf_ionised_mg_mmol_l_hi,
            p.nmda_relative_conductance,
            p.nmda_relative_conductance_lo,
            p.nmda_relative_conductance_hi,
            effect_value(p, "presynaptic_release_relative").unwrap_or(f64::NAN),
            effect_value(p, "systolic_bp_change_mmhg").map_or("–".to_string(), |v| format!("{v:.1}")),
            effect_value(p, "plasticity_gb_change_vs_baseline").unwrap_or(f64::NAN),
        )?;
    }
    Ok(())
}

/// The table of a run: the models, the points, the summary (peaks, NMDA block at the peak,
/// plasticity, magnesium status) and the graded claims.
fn print_table(
    out: &mut impl Write,
    regimen: &Regimen,
    sim: &Simulation,
    rep: &BrainReport,
) -> Result<()> {
    let s = &rep.summary;
    print_models(out, regimen, sim, rep)?;
    print_points(out, rep)?;
    writeln!(out)?;
    writeln!(
        out,
        "Peaks: serum {:.2} mmol/L at {} h; CSF total {:.3} mmol/L [{:.3}-{:.3}] at {} h ({:+.1} %, interval {:+.1} to {:+.1} %); CSF ionised {:.3} [{:.3}-{:.3}] at {} h",
        s.serum_peak.value, fmt_num(s.serum_peak.time_h),
        s.csf_total_peak.value, s.csf_total_peak.lo, s.csf_total_peak.hi, fmt_num(s.csf_total_peak.time_h),
        100.0 * s.csf_rise_fraction, 100.0 * s.csf_rise_fraction_lo, 100.0 * s.csf_rise_fraction_hi,
        s.csf_ionised_peak.value, s.csf_ionised_peak.lo, s.csf_ionised_peak.hi, fmt_num(s.csf_ionised_peak.time_h)
    )?;
    for n in &s.nmda_at_peak {
        writeln!(
            out,
            "NMDA at {} mV: unblocked fraction {:.4} at baseline → {:.4} at peak CSF ionised Mg; conductance × {:.3} [{:.3}-{:.3}]",
            fmt_num(n.voltage_mv), n.unblocked_fraction_baseline, n.unblocked_fraction_at_peak,
            n.relative_conductance, n.relative_conductance_lo, n.relative_conductance_hi
        )?;
    }
    let pl = &s.plasticity;
    writeln!(
        out,
        "Plasticity ({}): Graupner-Brunel DP synaptic change {:.3} at baseline → {:.3} at peak ({:+.3}); Shouval {} → {}",
        pl.protocol,
        pl.baseline.gb_synaptic_change,
        pl.at_peak_csf.gb_synaptic_change,
        pl.gb_change_vs_baseline,
        pl.baseline.shouval_synaptic_change.map(|v| format!("{v:.3}")).unwrap_or_default(),
        pl.at_peak_csf.shouval_synaptic_change.map(|v| format!("{v:.3}")).unwrap_or_default(),
    )?;
    writeln!(
        out,
        "Magnesium status (baseline serum {:.2} mmol/L): {} — {}",
        s.baseline_serum_mmol_l, s.status.label, s.status.source
    )?;
    print_claims(out, sim, rep)
}

/// The graded claims, what is not modelled, the warnings and the plain-language summary.
fn print_claims(out: &mut impl Write, sim: &Simulation, rep: &BrainReport) -> Result<()> {
    writeln!(out, "\nThe claimed effects, graded (A direct human data … D hypothetical/associative/not modelled):")?;
    for c in &rep.claims {
        writeln!(
            out,
            "  [{}] {}: {}",
            c.claim.grade, c.claim.claim, c.this_run
        )?;
        writeln!(out, "      evidence: {}", c.claim.verdict)?;
        writeln!(out, "      sources: {}", c.claim.sources)?;
    }
    writeln!(out, "\nNot modelled:")?;
    for n in &rep.not_modelled {
        writeln!(out, "  - {n}")?;
    }
    if !sim.warnings.is_empty() || !rep.warnings.is_empty() {
        writeln!(out, "\nWarnings:")?;
        for w in sim.warnings.iter().chain(&rep.warnings) {
            writeln!(out, "  - {w}")?;
        }
    }
    writeln!(out, "\nIn plain language:\n{}", rep.plain_language)?;
    Ok(())
}

/// The four-panel plot of a run: Mg in serum and CSF, nerve transmission, blood pressure and
/// plasticity, under a title naming the regimen.
fn draw_brain<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    rep: &BrainReport,
    regimen: &str,
    subtitle: &str,
) -> Result<()> {
    root.fill(&WHITE).map_err(e)?;
    let (title, body) = root.split_vertically(58);
    title
        .draw(&Text::new(
            format!("Serum → CSF → brain — {regimen}"),
            (14, 8),
            ("sans-serif", 18).into_font(),
        ))
        .map_err(e)?;
    title
        .draw(&Text::new(
            subtitle.to_string(),
            (14, 34),
            ("sans-serif", 13).into_font().color(&RGBColor(70, 70, 70)),
        ))
        .map_err(e)?;
    let panels = body.split_evenly((2, 2));
    let pts = &rep.points;
    let tmax = pts.last().map(|p| p.time_h).unwrap_or(1.0).max(1e-3);
    let purple = OI_PURPLE;
    draw_mg_panel(&panels[0], pts, tmax)?;
    draw_transmission_panel(&panels[1], rep, tmax)?;
    draw_blood_pressure_panel(&panels[2], pts, tmax)?;
    // D: plasticity
    {
        let (chart_area, leg_area) = split_panel(&panels[3], 1);
        let mut entries = Vec::new();
        let gb: Vec<f64> = pts
            .iter()
            .map(|p| effect_value(p, "plasticity_gb_change_vs_baseline").unwrap_or(0.0))
            .collect();
        let lo = gb.iter().copied().fold(-0.01, f64::min) * 1.2;
        let hi = gb.iter().copied().fold(0.01, f64::max) * 1.2;
        let caption = "Synaptic plasticity, acute model (B); chronic NOT modelled; inflammation associative (D)";
        let mut ch = crate::plot::time_chart_range(
            &chart_area,
            Some(caption),
            tmax,
            lo,
            hi,
            "Δ synaptic change vs baseline",
        )?;
        ch.draw_series(LineSeries::new(
            pts.iter().zip(&gb).map(|(p, v)| (p.time_h, *v)),
            purple.stroke_width(2),
        ))
        .map_err(e)?;
        entries.push((Swatch::Line(purple, 2), {
            // the standard protocol of the report: mgiv-neuro's standard pairing
            // (data/neuro/stimulation-protocols.toml [pairing])
            let pl = &mgiv_neuro::plasticity::standard_protocols().pairing;
            format!(
                "Graupner-Brunel DP, {} pairs at {} Hz, +{} ms (below 0 = less LTP)",
                pl.pairs, pl.hz, pl.dt_ms
            )
        }));
        crate::plot::draw_entries(&leg_area, &entries, 1)?;
    }
    Ok(())
}

/// The polygon of an interval band: the lower ends forward in time, the upper ends back.
fn band(a: &[(f64, f64, f64)]) -> Vec<(f64, f64)> {
    let mut v: Vec<(f64, f64)> = a.iter().map(|&(t, lo, _)| (t, lo)).collect();
    v.extend(a.iter().rev().map(|&(t, _, hi)| (t, hi)));
    v
}

/// A panel's data area and, below it, its legend area (one entry a line, `entries` lines).
fn split_panel<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    entries: usize,
) -> (DrawingArea<DB, Shift>, DrawingArea<DB, Shift>) {
    let (_, h) = area.dim_in_pixel();
    area.split_vertically(h as i32 - 20 * entries as i32 - 8)
}

/// Panel A: total serum Mg, CSF total and CSF ionised Mg with their interval bands.
fn draw_mg_panel<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    pts: &[BrainPoint],
    tmax: f64,
) -> Result<()> {
    let (blue, green) = (OI_BLUE, OI_GREEN);
    let (chart_area, leg_area) = split_panel(area, 3);
    let mut entries = Vec::new();
    let ymax = pts
        .iter()
        .map(|p| p.serum_mg_mmol_l.max(p.csf_total_mg_mmol_l_hi))
        .fold(0.0, f64::max)
        * 1.1;
    let caption = "Mg: serum and CSF (grade A-/C: measured; time course fitted)";
    let mut ch = crate::plot::time_chart_range(
        &chart_area,
        Some(caption),
        tmax,
        0f64,
        ymax.max(0.5),
        "Mg (mmol/L)",
    )?;
    let tot: Vec<_> = pts
        .iter()
        .map(|p| (p.time_h, p.csf_total_mg_mmol_l_lo, p.csf_total_mg_mmol_l_hi))
        .collect();
    let ion: Vec<_> = pts
        .iter()
        .map(|p| {
            (
                p.time_h,
                p.csf_ionised_mg_mmol_l_lo,
                p.csf_ionised_mg_mmol_l_hi,
            )
        })
        .collect();
    ch.draw_series(std::iter::once(Polygon::new(
        band(&tot),
        blue.mix(0.25).filled(),
    )))
    .map_err(e)?;
    ch.draw_series(std::iter::once(Polygon::new(
        band(&ion),
        green.mix(0.25).filled(),
    )))
    .map_err(e)?;
    ch.draw_series(LineSeries::new(
        pts.iter().map(|p| (p.time_h, p.serum_mg_mmol_l)),
        OI_BLACK.stroke_width(2),
    ))
    .map_err(e)?;
    entries.push((
        Swatch::Line(OI_BLACK, 2),
        String::from("total serum Mg (PK model)"),
    ));
    ch.draw_series(LineSeries::new(
        pts.iter().map(|p| (p.time_h, p.csf_total_mg_mmol_l)),
        blue.stroke_width(2),
    ))
    .map_err(e)?;
    entries.push((
        Swatch::Line(blue, 2),
        String::from("CSF total Mg (band: parameter interval)"),
    ));
    ch.draw_series(LineSeries::new(
        pts.iter().map(|p| (p.time_h, p.csf_ionised_mg_mmol_l)),
        green.stroke_width(2),
    ))
    .map_err(e)?;
    entries.push((
        Swatch::Line(green, 2),
        String::from("CSF ionised Mg (drives NMDA block)"),
    ));
    crate::plot::draw_entries(&leg_area, &entries, 1)?;
    Ok(())
}

/// Panel B: NMDA conductance (with its interval) at the first voltage, and transmitter release,
/// relative to baseline.
fn draw_transmission_panel<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    rep: &BrainReport,
    tmax: f64,
) -> Result<()> {
    let pts = &rep.points;
    let red = OI_VERMILLION;
    let (chart_area, leg_area) = split_panel(area, 2);
    let mut entries = Vec::new();
    let rel: Vec<f64> = pts
        .iter()
        .map(|p| effect_value(p, "presynaptic_release_relative").unwrap_or(1.0))
        .collect();
    let lo = pts
        .iter()
        .map(|p| p.nmda_relative_conductance_lo)
        .chain(rel.iter().copied())
        .fold(1.0, f64::min);
    let caption = format!(
        "Nerve transmission (grade B): NMDA conductance at {} mV",
        fmt_num(rep.voltages_mv[0])
    );
    let mut ch = crate::plot::time_chart_range(
        &chart_area,
        Some(&caption),
        tmax,
        (lo - 0.05).max(0.0),
        1.02f64,
        "× baseline",
    )?;
    let nm: Vec<_> = pts
        .iter()
        .map(|p| {
            (
                p.time_h,
                p.nmda_relative_conductance_lo,
                p.nmda_relative_conductance_hi,
            )
        })
        .collect();
    ch.draw_series(std::iter::once(Polygon::new(
        band(&nm),
        red.mix(0.2).filled(),
    )))
    .map_err(e)?;
    ch.draw_series(LineSeries::new(
        pts.iter().map(|p| (p.time_h, p.nmda_relative_conductance)),
        red.stroke_width(2),
    ))
    .map_err(e)?;
    entries.push((
        Swatch::Line(red, 2),
        String::from("NMDA conductance vs baseline (B: strong law)"),
    ));
    let grey = OI_GREY;
    ch.draw_series(LineSeries::new(
        pts.iter().zip(&rel).map(|(p, r)| (p.time_h, *r)),
        grey.stroke_width(2),
    ))
    .map_err(e)?;
    entries.push((
        Swatch::Line(grey, 2),
        String::from("transmitter release vs baseline (C: unverified constants, illustrative)"),
    ));
    crate::plot::draw_entries(&leg_area, &entries, 1)?;
    Ok(())
}

/// Panel C: systolic and diastolic blood pressure change (predicted in pre-eclampsia only).
fn draw_blood_pressure_panel<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    pts: &[BrainPoint],
    tmax: f64,
) -> Result<()> {
    let (blue, green) = (OI_BLUE, OI_GREEN);
    let (chart_area, leg_area) = split_panel(area, 2);
    let mut entries = Vec::new();
    let sbp: Vec<f64> = pts
        .iter()
        .map(|p| effect_value(p, "systolic_bp_change_mmhg").unwrap_or(0.0))
        .collect();
    let dbp: Vec<f64> = pts
        .iter()
        .map(|p| effect_value(p, "diastolic_bp_change_mmhg").unwrap_or(0.0))
        .collect();
    let lo = sbp.iter().chain(&dbp).copied().fold(-1.0, f64::min) * 1.15;
    let predicted = pts
        .iter()
        .any(|p| effect_value(p, "systolic_bp_change_mmhg").is_some());
    let caption = if predicted {
        "Blood pressure (grade C, Lu 2002 pre-eclampsia); brain blood flow NOT predicted (D)"
    } else {
        "Blood pressure NOT predicted outside pre-eclampsia (volunteers: no change); brain blood flow NOT predicted (D)"
    };
    let mut ch = crate::plot::time_chart_range(
        &chart_area,
        Some(caption),
        tmax,
        lo,
        1.0f64,
        "change (mmHg)",
    )?;
    ch.draw_series(LineSeries::new(
        pts.iter().zip(&sbp).map(|(p, v)| (p.time_h, *v)),
        blue.stroke_width(2),
    ))
    .map_err(e)?;
    entries.push((Swatch::Line(blue, 2), String::from("systolic")));
    ch.draw_series(LineSeries::new(
        pts.iter().zip(&dbp).map(|(p, v)| (p.time_h, *v)),
        green.stroke_width(2),
    ))
    .map_err(e)?;
    entries.push((Swatch::Line(green, 2), String::from("diastolic")));
    crate::plot::draw_entries(&leg_area, &entries, 1)?;
    Ok(())
}
