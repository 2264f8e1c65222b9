//! `mgiv adjust`: Bayesian dose individualisation from measured levels (mgiv-pop::tdm).

use std::io::Write;
use std::path::PathBuf;

use anyhow::{bail, Result};
use clap::{Args, ValueEnum};
use mgiv_clinical::adjust::{safe_adjust, AdjustRequest, Recommendation, SafeAdjustment};
use mgiv_clinical::context::{ClinicalContext, ContextInput};
use mgiv_core::regimen::Regimen;
use mgiv_pop::tdm::{parse_levels, Adjustment, BandPoint, Decision};
use mgiv_safety::bag::parse_bag;
use mgiv_safety::names::{parse_conditions, parse_medications};
use mgiv_safety::Severity;
use plotters::coord::Shift;
use plotters::prelude::*;

use crate::common::PatientArgs;
use crate::output::sig3;
use crate::plot::{
    e, layout, target_band, time_chart, Legend, Swatch, OI_BLACK, OI_BLUE, OI_GREY, OI_VERMILLION,
};

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum AdjustFormat {
    Text,
    Json,
}

#[derive(Debug, Args)]
pub struct AdjustArgs {
    /// What was given, as written clinically, e.g. "4 g over 20 min, then 1 g/h"
    #[arg(long, value_name = "TEXT")]
    pub regimen: String,
    /// Measured total serum Mg with its unit, e.g. "1.4 mmol/L at 6 h; 1.9 mmol/L at 12 h" (mmol/L, mg/dL or mEq/L; times from the start of the regimen). A number without a unit is accepted only when one unit alone is plausible, and the inferred unit is reported
    #[arg(long, value_name = "LEVELS")]
    pub levels: String,
    /// Model id (see `mgiv models`); default: the indication's, if the patient fits it
    #[arg(long, value_name = "ID")]
    pub model: Option<String>,
    /// Indication (default: from --protocol; else assumed and reported): see `mgiv plan --help`
    #[arg(long, value_name = "ID")]
    pub indication: Option<String>,
    /// Protocol the regimen follows (gives the indication)
    #[arg(long, value_name = "ID")]
    pub protocol: Option<String>,
    /// Allow a maintenance infusion for a single-dose or replacement indication
    #[arg(long = "allow-maintenance")]
    pub allow_maintenance: bool,
    /// The bag hung (fluid check of the recommendation), e.g. "8 g in 100 mL"
    #[arg(long, value_name = "TEXT")]
    pub bag: Option<String>,
    /// Comma-separated conditions (see `mgiv plan --help`)
    #[arg(long, value_name = "LIST")]
    pub conditions: Option<String>,
    /// Comma-separated medications
    #[arg(long, value_name = "LIST")]
    pub medications: Option<String>,
    #[command(flatten)]
    pub patient: PatientArgs,
    /// Target range LO-HI in mmol/L (or with a unit); default: the indication's
    #[arg(long, value_name = "LO-HI")]
    pub target: Option<String>,
    /// Decision time in hours from the start (default: the time of the last level)
    #[arg(long, value_name = "H")]
    pub now: Option<f64>,
    /// Forecast horizon after the decision, hours
    #[arg(long, value_name = "H", default_value_t = mgiv_pop::tdm::DEFAULT_HORIZON_H)]
    pub hours: f64,
    /// Largest acceptable probability of exceeding --toxic during the horizon
    // mgiv's default decision limit (as DecisionSettings::new), not a published value
    #[arg(
        long = "max-p-toxic",
        value_name = "P",
        default_value_t = mgiv_pop::tdm::DEFAULT_MAX_P_TOXIC
    )]
    pub max_p_toxic: f64,
    /// Population whose baseline distribution is the prior when --baseline is not given (pre-eclampsia, pregnant, adult, icu, community); default: the indication's population that matches the patient
    #[arg(long, value_name = "ID")]
    pub population: Option<String>,
    /// Output format
    #[arg(long, value_enum, default_value = "text")]
    pub format: AdjustFormat,
    /// Plot the levels, the forecast band if nothing changes and with the recommended rate (.svg/.png)
    #[arg(long, value_name = "FILE")]
    pub plot: Option<PathBuf>,
}

pub fn run(a: AdjustArgs) -> Result<()> {
    mgiv_pop::tdm::check_horizon("--hours", a.hours)?;
    let levels = parse_levels(&a.levels)?;
    let conditions = a
        .conditions
        .as_deref()
        .map(parse_conditions)
        .transpose()?
        .unwrap_or_default();
    let ci = ContextInput {
        conditions: conditions.clone(),
        indication: a.indication.clone(),
        protocol: a.protocol.clone(),
        model_id: a.model.clone(),
        population: a.population.clone(),
        target_mmol_l: a
            .target
            .as_deref()
            .map(crate::trial_cmd::parse_target)
            .transpose()?,
        patient: a.patient.to_input()?,
        unit_notes: a.patient.unit_notes(),
        ..Default::default()
    };
    let ctx = ClinicalContext::build(&ci)?;
    let regimen = Regimen::from_text(&a.regimen, ctx.patient.weight_kg)?;
    let last = levels.last().map(|l| l.time_h).unwrap_or(0.0);
    let now = a.now.unwrap_or(last);
    if now < last {
        bail!("invalid --now {now} h (allowed: at or after the last level, {last} h)");
    }
    let req = AdjustRequest {
        given: regimen.clone(),
        levels,
        now_h: Some(now),
        horizon_h: a.hours,
        max_p_toxic: a.max_p_toxic,
        allow_maintenance: a.allow_maintenance,
        // the bag hung, else the protocol's default bag (as `plan` does)
        bag: match (&a.bag, ctx.protocol.and_then(|p| p.bag.as_deref())) {
            (Some(b), _) => Some(parse_bag(b)?),
            (None, Some(b)) => Some(parse_bag(b)?),
            (None, None) => None,
        },
        conditions,
        medications: a
            .medications
            .as_deref()
            .map(parse_medications)
            .transpose()?
            .unwrap_or_default(),
    };
    if let Some(path) = &a.plot {
        crate::plot::check_plot_path(path)?;
    }
    let t0 = std::time::Instant::now();
    let adj = safe_adjust(&ctx, &req)?;
    let elapsed_ms = t0.elapsed().as_secs_f64() * 1e3;
    let out = std::io::stdout();
    let mut out = out.lock();
    match a.format {
        AdjustFormat::Json => {
            let mut v = serde_json::to_value(&adj)?;
            v["context"] = ctx.to_json();
            v["regimen_given"] = serde_json::json!(regimen.canonical());
            v["stop"] = serde_json::json!(adj.has_stop());
            v["exit_status"] = serde_json::json!(if adj.has_stop() {
                mgiv_clinical::EXIT_STOP
            } else {
                mgiv_clinical::EXIT_OK
            });
            v["elapsed_ms"] = serde_json::json!(elapsed_ms);
            v["mgiv_version"] = serde_json::json!(env!("CARGO_PKG_VERSION"));
            v["units"] = serde_json::json!({"concentration": "mmol/L (total serum Mg)", "time": "h", "rate": "g/h MgSO4·7H2O"});
            writeln!(out, "{}", serde_json::to_string_pretty(&v)?)?;
        }
        AdjustFormat::Text => {
            // severities coloured on a terminal (NO_COLOR honoured), plain in a pipe
            let mut buf = Vec::new();
            print_safe(&mut buf, &adj, &ctx, &regimen, elapsed_ms)?;
            let text = String::from_utf8(buf)?;
            if crate::output::color_enabled() {
                out.write_all(crate::output::color_severities(&text).as_bytes())?;
            } else {
                out.write_all(text.as_bytes())?;
            }
        }
    }
    if let Some(path) = &a.plot {
        crate::plot::ensure_font();
        let patient = mgiv_safety::report::patient_words(&ctx.patient);
        // image size (pixels): plot layout
        crate::plot_to_file!(path, (1100, 650), draw_forecast, &adj.fit, &patient)?;
        crate::note!("plot written to {}", path.display());
    }
    out.flush()?;
    if adj.has_stop() {
        eprintln!(
            "STOP: {} stop alert(s); exit status {}",
            adj.alerts
                .iter()
                .filter(|x| x.severity == Severity::Stop)
                .count(),
            mgiv_clinical::EXIT_STOP
        );
        std::process::exit(mgiv_clinical::EXIT_STOP);
    }
    Ok(())
}

fn print_safe(
    out: &mut impl Write,
    s: &SafeAdjustment,
    ctx: &ClinicalContext,
    regimen: &Regimen,
    elapsed_ms: f64,
) -> Result<()> {
    if s.has_stop() {
        writeln!(out, "=== STOP ===")?;
    }
    writeln!(out, "CLINICAL CONTEXT")?;
    for l in ctx.describe() {
        writeln!(out, "  {l}")?;
    }
    writeln!(out)?;
    match &s.recommendation {
        Recommendation::Hold { reason } => {
            writeln!(
                out,
                "RECOMMENDATION: HOLD the magnesium infusion now ({reason})."
            )?;
            writeln!(
                out,
                "  No rate is proposed while a measured level is toxic: check reflexes, respiratory rate, SpO2 and consciousness, recheck the level, and see the alerts below."
            )?;
        }
        Recommendation::Recheck {
            reason,
            current_rate_g_per_h,
        } => {
            writeln!(
                out,
                "RECOMMENDATION: REPEAT THE LEVEL before changing the order ({reason}). No change is proposed on this level; the order as given runs at {} g/h meanwhile if the patient is well.",
                mgiv_core::units::fmt_num(*current_rate_g_per_h)
            )?;
        }
        Recommendation::Order { text, .. } => {
            writeln!(
                out,
                "RECOMMENDATION: {text} (checked by the whole-order rules below)"
            )?;
        }
    }
    writeln!(out, "\nALERTS (most severe first)")?;
    for a in &s.alerts {
        writeln!(out, "  [{}] {} — {}", a.severity.label(), a.code, a.title)?;
        writeln!(out, "      {}", a.message)?;
        writeln!(out, "      source: {}", a.source)?;
    }
    if !s.implausible_levels.is_empty() {
        writeln!(
            out,
            "\nFit WITHOUT the implausible level(s) (used for the recommendation):"
        )?;
    } else {
        writeln!(out)?;
    }
    print_text(
        out,
        &s.fit,
        regimen,
        Some(ctx.model_why.as_str()),
        &ctx.population.id,
        elapsed_ms,
        !matches!(s.recommendation, Recommendation::Order { .. }),
    )?;
    if let Some(all) = &s.fit_with_all_levels {
        writeln!(out, "\nFit WITH every level (for comparison):")?;
        print_text(
            out,
            all,
            regimen,
            None,
            &ctx.population.id,
            elapsed_ms,
            !matches!(s.recommendation, Recommendation::Order { .. }),
        )?;
    }
    if s.has_stop() {
        writeln!(out, "=== STOP ===")?;
    }
    Ok(())
}

/// One fit as text: what was given and the model, the posterior, then either the forecast if the
/// order continued (`hold`: no rate offered) or the options, the forecast and the explanation.
fn print_text(
    out: &mut impl Write,
    a: &Adjustment,
    regimen: &Regimen,
    why: Option<&str>,
    pop: &str,
    elapsed_ms: f64,
    hold: bool,
) -> Result<()> {
    writeln!(
        out,
        "Bayesian dose adjustment (MAP + Laplace, checked by importance sampling)"
    )?;
    print_setting(out, a, regimen, why, pop)?;
    print_posterior(out, a)?;
    let d = &a.decision;
    if hold {
        print_hold_forecast(out, d)?;
        print_footer(out, elapsed_ms)?;
        return Ok(());
    }
    print_options(out, d)?;
    print_forecast(out, a)?;
    print_explanation(out, a)?;
    print_footer(out, elapsed_ms)?;
    Ok(())
}

/// The regimen given, the model (and why it was chosen), the target and decision window, and
/// the baseline prior when the baseline was not measured.
fn print_setting(
    out: &mut impl Write,
    a: &Adjustment,
    regimen: &Regimen,
    why: Option<&str>,
    pop: &str,
) -> Result<()> {
    writeln!(out, "Given:   {}", regimen.canonical())?;
    writeln!(out, "Model:   {} — {}", a.model_id, a.model_citation)?;
    if let Some(w) = why {
        writeln!(out, "         chosen because {w} (override with --model)")?;
    }
    writeln!(
        out,
        "Target:  {}–{} mmol/L; keep P(level > {} mmol/L) ≤ {:.0} %; decision at {} h for {} h",
        a.target_mmol_l.0,
        a.target_mmol_l.1,
        a.toxic_mmol_l,
        100.0 * a.max_p_toxic,
        mgiv_core::units::fmt_num(a.settings_now_h),
        mgiv_core::units::fmt_num(a.settings_horizon_h)
    )?;
    if !a.baseline_measured {
        writeln!(out, "Baseline prior: population '{pop}'")?;
    }
    Ok(())
}

/// The posterior table: typical value, MAP, Laplace and importance-sampling 90 % intervals.
fn print_posterior(out: &mut impl Write, a: &Adjustment) -> Result<()> {
    writeln!(
        out,
        "\nPosterior (90 % intervals; Laplace vs importance sampling, ESS {:.0} of {}):",
        a.importance_sampling_ess, a.importance_sampling_draws
    )?;
    writeln!(
        out,
        "{:<16} {:>9} {:>9} {:>19} {:>9} {:>19}",
        "parameter", "typical", "MAP", "Laplace 90 %", "IS p50", "IS 90 %"
    )?;
    for p in &a.parameters {
        writeln!(
            out,
            "{:<16} {:>9.3} {:>9.3} {:>19} {:>9.3} {:>19}",
            p.name,
            p.typical,
            p.map,
            format!("{:.3}–{:.3}", p.laplace_p05, p.laplace_p95),
            p.is_p50,
            format!("{:.3}–{:.3}", p.is_p05, p.is_p95)
        )?;
    }
    Ok(())
}

/// A forecast point as "median [p5–p95]" (mmol/L).
fn band_words(p: &BandPoint) -> String {
    format!(
        "{:.2} [{:.2}–{:.2}]",
        p.p50_mmol_l, p.p05_mmol_l, p.p95_mmol_l
    )
}

/// On HOLD: the forecast if the order continued as given, every 4 h; no rate is offered.
fn print_hold_forecast(out: &mut impl Write, d: &Decision) -> Result<()> {
    writeln!(
        out,
        "\nForecast if the order continued as given (mmol/L, median [90 % band]); no new rate is offered:"
    )?;
    for c in d
        .forecast_continue
        .iter()
        .filter(|c| (c.time_h - c.time_h.round()).abs() < 1e-9 && (c.time_h as i64) % 4 == 0)
    {
        writeln!(
            out,
            "{:>7} {:>22}",
            mgiv_core::units::fmt_num(c.time_h),
            band_words(c)
        )?;
    }
    Ok(())
}

/// The options scored over the posterior: continue as given, the best rate without a bolus and
/// the recommendation (not printed on HOLD).
fn print_options(out: &mut impl Write, d: &Decision) -> Result<()> {
    writeln!(out, "\nOptions scored over the posterior:")?;
    writeln!(
        out,
        "{:<34} {:>10} {:>11} {:>11} {:>12}",
        "option", "time in T", "P(T) +6 h", "P(T) end", "P(>toxic)"
    )?;
    for (name, c) in [
        ("continue as given", &d.continue_as_given),
        ("best rate without bolus", &d.best_without_bolus),
        ("RECOMMENDED", &d.recommended),
    ] {
        let what = if name == "continue as given" {
            format!("{name} ({} g/h)", mgiv_core::units::fmt_num(c.rate_g_per_h))
        } else {
            format!(
                "{name}: {}{} g/h",
                if c.bolus_g > 0.0 {
                    format!("{} g + ", c.bolus_g)
                } else {
                    String::new()
                },
                c.rate_g_per_h
            )
        };
        writeln!(
            out,
            "{:<34} {:>9.0}% {:>10.0}% {:>10.0}% {:>11.1}%",
            what,
            100.0 * c.time_in_target,
            100.0 * c.p_in_target_6h,
            100.0 * c.p_in_target_end,
            100.0 * c.p_above_toxic
        )?;
    }
    Ok(())
}

/// The forecast of continuing as given beside the recommended one, every 2 h and at the end of
/// the horizon (not printed on HOLD).
fn print_forecast(out: &mut impl Write, a: &Adjustment) -> Result<()> {
    let d = &a.decision;
    writeln!(out, "\nForecast (mmol/L, median [90 % band]):")?;
    writeln!(
        out,
        "{:>7} {:>22} {:>22}",
        "time h", "continue as given", "recommended"
    )?;
    for (c, r) in d.forecast_continue.iter().zip(&d.forecast_recommended) {
        let t = c.time_h;
        if (t - t.round()).abs() < 1e-9 && (t as i64) % 2 == 0
            || t == a.settings_now_h + a.settings_horizon_h
        {
            writeln!(
                out,
                "{:>7} {:>22} {:>22}",
                mgiv_core::units::fmt_num(t),
                band_words(c),
                band_words(r)
            )?;
        }
    }
    Ok(())
}

/// The fit in words, then its warnings.
fn print_explanation(out: &mut impl Write, a: &Adjustment) -> Result<()> {
    writeln!(out, "\nIn words:")?;
    for line in &a.explanation {
        writeln!(out, "  - {line}")?;
    }
    if !a.warnings.is_empty() {
        writeln!(out, "\nWarnings:")?;
        for w in &a.warnings {
            writeln!(out, "  - {w}")?;
        }
    }
    Ok(())
}

/// The computing time and the reminder that this is decision support only.
fn print_footer(out: &mut impl Write, elapsed_ms: f64) -> Result<()> {
    writeln!(out, "\n(computed in {elapsed_ms:.1} ms; decision support only — check the patient: reflexes, respiration, urine output)")?;
    Ok(())
}

fn draw_forecast<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    a: &Adjustment,
    patient: &str,
) -> Result<()> {
    let d = &a.decision;
    let tmax = d.forecast_continue.last().map(|p| p.time_h).unwrap_or(24.0);
    let top = d
        .forecast_continue
        .iter()
        .chain(&d.forecast_recommended)
        .map(|p| p.p95_mmol_l)
        .chain(a.levels.iter().map(|l| l.mmol_l))
        .fold(a.toxic_mmol_l, f64::max)
        * 1.1;
    let layout = layout(
        root,
        "Bayesian forecast from the measured levels: median and 90 % band",
        &format!(
            "model {} · patient: {patient} · {} measured level(s) · this patient's individual curve, drawn every 10 min",
            a.model_id,
            a.levels.len()
        ),
        4,
    )?;
    let mut chart = time_chart(&layout.plot, tmax, top, "total serum Mg (mmol/L)")?;
    let mut legend = Legend::default();
    let (lo, hi) = a.target_mmol_l;
    target_band(
        &mut chart,
        &mut legend,
        lo,
        hi,
        tmax,
        format!("target {}–{} mmol/L", sig3(lo), sig3(hi)),
    )?;
    legend.threshold(
        &mut chart,
        a.toxic_mmol_l,
        tmax,
        format!("{} mmol/L: toxic threshold", sig3(a.toxic_mmol_l)),
        OI_VERMILLION,
    )?;
    for (band, c, label) in [
        (&d.forecast_continue, OI_GREY, "continue as given"),
        (&d.forecast_recommended, OI_BLUE, "recommended"),
    ] {
        let poly: Vec<(f64, f64)> = band
            .iter()
            .map(|p| (p.time_h, p.p95_mmol_l))
            .chain(band.iter().rev().map(|p| (p.time_h, p.p05_mmol_l)))
            .collect();
        chart
            .draw_series(std::iter::once(Polygon::new(poly, c.mix(0.15).filled())))
            .map_err(e)?;
        chart
            .draw_series(LineSeries::new(
                band.iter().map(|p| (p.time_h, p.p50_mmol_l)),
                c.stroke_width(3),
            ))
            .map_err(e)?;
        legend.add(Swatch::Line(c, 3), format!("{label} (median, 90 % band)"));
    }
    chart
        .draw_series(
            a.levels
                .iter()
                .map(|l| Circle::new((l.time_h, l.mmol_l), 6, OI_BLACK.filled())),
        )
        .map_err(e)?;
    legend.add(Swatch::Dot(OI_BLACK), "measured level");
    legend.draw(&layout)?;
    Ok(())
}
