//! `mgiv plan`: a bedside plan for one patient — the protocol or written regimen in g, mmol and
//! pump mL/h, the predicted serum curve, target attainment, every alert with its severity and
//! source, the monitoring schedule and what to do for toxicity.
//!
//! Exit status: 0 when the plan has no `stop` alert; 3 when it has one (the whole plan is still
//! printed, with a STOP banner at the top and the bottom); 2 for bad input (an error message
//! naming the field, the value and what is allowed).

use std::io::Write;
use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::{Args, ValueEnum};
use mgiv_clinical::context::{ClinicalContext, ContextInput};
use mgiv_clinical::scenario::clinical_plan;
use mgiv_core::units::ConcUnit;
use mgiv_safety::bag::parse_bag;
use mgiv_safety::names::{parse_conditions, parse_medications};
use mgiv_safety::plan::Plan;
use mgiv_safety::report;
use mgiv_safety::Severity;
use serde_json::json;

use crate::common::PatientArgs;

/// Exit status of `mgiv plan` when the plan has a `stop` alert.
pub const EXIT_STOP: i32 = 3;

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum PlanFormat {
    Text,
    Json,
    Html,
}

#[derive(Debug, Args)]
#[command(after_help = "Examples:
  mgiv plan --protocol zuspan --weight 70 --creatinine 0.8 --pregnant --pre-eclampsia
  mgiv plan --protocol zuspan --weight 70 --creatinine 0.8 --pre-eclampsia --conditions renal-failure,myasthenia-gravis
  mgiv plan --regimen \"40 g over 20 min\" --weight 70 --pre-eclampsia --bag \"40 g in 1000 mL\"
  mgiv plan --protocol mash-2 --weight 70 --age 55 --sex f --creatinine 0.8 --format html --out plan.html

Exit status: 0 no stop alert; 3 the plan has a STOP alert (the whole plan is still printed); 2 bad input.")]
pub struct PlanArgs {
    /// Protocol id or alias (see `mgiv protocols`); with --regimen, the written regimen is checked against it
    #[arg(long, value_name = "ID", required_unless_present = "regimen")]
    pub protocol: Option<String>,
    /// Indication (see data/indications): pre-eclampsia, eclampsia, fetal-neuroprotection, sah, tbi, stroke, migraine, asthma, torsades, cardiac-arrest, hypomag-ward, hypomag-icu, wellness. Default: the protocol's; else assumed and reported
    #[arg(long, value_name = "ID")]
    pub indication: Option<String>,
    /// Target range LO-HI (default: the indication's), e.g. 2.0-3.5 or "4.8-8.4 mg/dL"
    #[arg(long, value_name = "LO-HI")]
    pub target: Option<String>,
    /// Regimen as written, e.g. "4 g over 20 min, then 1 g/h for 24 h" (g = g of MgSO4·7H2O)
    #[arg(long, value_name = "TEXT")]
    pub regimen: Option<String>,
    #[command(flatten)]
    pub patient: PatientArgs,
    /// Comma-separated conditions, e.g. "myasthenia-gravis,renal-failure" (unknown names list the known ones)
    #[arg(long, value_name = "LIST")]
    pub conditions: Option<String>,
    /// Comma-separated medications, e.g. "nifedipine,gentamicin"
    #[arg(long, value_name = "LIST")]
    pub medications: Option<String>,
    /// The bag hung, for pump settings: "40 g in 1000 mL", "8 g/100 mL", "50 %"
    #[arg(long, value_name = "TEXT")]
    pub bag: Option<String>,
    /// PK model id (default: the protocol's, else chosen from the patient)
    #[arg(long, value_name = "ID")]
    pub model: Option<String>,
    /// Hours to predict (default: the regimen's end + 12 h, at least 24 h)
    #[arg(long, value_name = "H")]
    pub hours: Option<f64>,
    /// Output format
    #[arg(long, value_enum, default_value = "text")]
    pub format: PlanFormat,
    /// Write the output to this file instead of standard output
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

pub fn run(args: PlanArgs) -> Result<()> {
    if let Some(path) = &args.out {
        crate::output::check_out_path(path, "--out")?;
    }
    let conditions = args
        .conditions
        .as_deref()
        .map(parse_conditions)
        .transpose()?
        .unwrap_or_default();
    let medications = args
        .medications
        .as_deref()
        .map(parse_medications)
        .transpose()?
        .unwrap_or_default();
    let bag = args.bag.as_deref().map(parse_bag).transpose()?;
    let ci = ContextInput {
        indication: args.indication.clone(),
        protocol: args.protocol.clone(),
        model_id: args.model.clone(),
        target_mmol_l: args
            .target
            .as_deref()
            .map(crate::trial_cmd::parse_target)
            .transpose()?,
        patient: args.patient.to_input()?,
        unit_notes: args.patient.unit_notes(),
        hours: args.hours,
        ..Default::default()
    };
    let (ctx, p) = clinical_plan(&ci, args.regimen.clone(), conditions, medications, bag)?;
    let body = match args.format {
        PlanFormat::Text => {
            let mut c = String::from("CLINICAL CONTEXT\n");
            for l in ctx.describe() {
                c.push_str(&format!("  {l}\n"));
            }
            c.push('\n');
            let body = report::text(&p);
            // a STOP banner stays the first thing on the page
            match body.starts_with("!!!").then(|| body.find("\n\n")).flatten() {
                Some(i) => format!("{}\n\n{c}{}", &body[..i], &body[i + 2..]),
                None => c + &body,
            }
        }
        PlanFormat::Json => {
            let mut v = to_json(&p);
            v["context"] = context_json(&ctx);
            serde_json::to_string_pretty(&v)? + "\n"
        }
        PlanFormat::Html => html(&p, &ctx)?,
    };
    match &args.out {
        Some(path) => {
            std::fs::write(path, &body)
                .with_context(|| format!("writing the plan to {}", path.display()))?;
            crate::note!("plan written to {}", path.display());
        }
        None => {
            let body = if args.format == PlanFormat::Text && crate::output::color_enabled() {
                crate::output::color_severities(&body)
            } else {
                body
            };
            let stdout = std::io::stdout();
            let mut out = stdout.lock();
            out.write_all(body.as_bytes())?;
            out.flush()?;
        }
    }
    if p.has_stop() {
        let n = p
            .alerts
            .iter()
            .filter(|a| a.severity == Severity::Stop)
            .count();
        eprintln!("STOP: the plan has {n} stop alert(s); exit status {EXIT_STOP}");
        std::io::stderr().flush().ok();
        std::process::exit(EXIT_STOP);
    }
    Ok(())
}

/// The clinical context as JSON (every choice with why).
pub fn context_json(c: &ClinicalContext) -> serde_json::Value {
    json!({
        "indication": {"id": c.indication.id, "name": c.indication.name, "why": c.indication_why, "course": c.indication.course},
        "population": {"id": c.population.id, "why": c.population_why},
        "model": {"id": c.model.id, "why": c.model_why},
        "target_mmol_l": {"lo": c.target.lo_mmol_l, "hi": c.target.hi_mmol_l, "established": c.target_established, "why": c.target_why, "source": c.target.source},
        "thresholds_mmol_l": c.thresholds,
        "horizon_h": {"value": c.horizon_h, "why": c.horizon_why},
    })
}

/// The plan as JSON: `regimen`, `alerts` (each severity, code, message, source), `predicted`
/// (the simulate points), and everything else the text shows.
pub fn to_json(p: &Plan) -> serde_json::Value {
    let mut sim =
        crate::simulate_cmd::to_json(&p.resolved, &p.simulation, ConcUnit::MmolPerL, &p.patient);
    let points = sim
        .as_object_mut()
        .and_then(|o| o.remove("points"))
        .unwrap_or_default();
    json!({
        "mgiv_version": env!("CARGO_PKG_VERSION"),
        "regimen": p.regimen,
        "regimen_note": "g = grams of MgSO4·7H2O unless another salt is named",
        "protocol": p.protocol,
        "reference_protocol": p.reference_protocol,
        "stop": p.has_stop(),
        "worst_severity": p.worst(),
        "exit_status": if p.has_stop() { EXIT_STOP } else { 0 },
        "alerts": p.alerts,
        "phases": p.phases,
        "bag": p.bag,
        "bag_source": p.bag_source,
        "totals": p.totals,
        "patient": p.patient,
        "conditions": p.conditions,
        "medications": p.medications,
        "model": sim.get("model").cloned().unwrap_or_default(),
        "summary": p.summary,
        "monitoring": p.monitoring,
        "levels_schedule": p.levels_schedule,
        "toxicity_steps": p.toxicity_steps,
        "predicted": points,
        "simulation": sim,
    })
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A self-contained HTML report: banner, the plot (inline SVG), the alerts table and the full text.
fn html(p: &Plan, ctx: &ClinicalContext) -> Result<String> {
    let tmp = std::env::temp_dir().join(format!(
        "mgiv-plan-{}-{}.svg",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0)
    ));
    // text in the SVG is measured with the bundled font (no system fonts needed)
    crate::plot::ensure_font();
    let target_why = format!("{}: {}", ctx.indication.id, ctx.target_why);
    crate::plot::serum_plot(
        &tmp,
        &p.simulation,
        &p.regimen,
        ConcUnit::MmolPerL,
        &crate::plot::SerumPlotContext {
            target_mmol_l: Some((ctx.target.lo_mmol_l, ctx.target.hi_mmol_l)),
            target_why: &target_why,
            patient: mgiv_safety::report::patient_words(&p.patient),
        },
    )?;
    let svg = std::fs::read_to_string(&tmp).with_context(|| format!("reading {}", tmp.display()));
    let _ = std::fs::remove_file(&tmp);
    let svg = svg?;
    let svg = match svg.find("<svg") {
        Some(i) => svg[i..].to_string(),
        None => svg,
    };
    let mut rows = String::new();
    for a in &p.alerts {
        let color = match a.severity {
            Severity::Stop => "#b00020",
            Severity::Warning => "#d35400",
            Severity::Caution => "#b7950b",
            Severity::Info => "#2471a3",
        };
        rows.push_str(&format!(
            "<tr><td style=\"color:#fff;background:{color};font-weight:bold\">{}</td><td>{}</td><td><b>{}</b><br>{}</td><td>{}</td></tr>\n",
            a.severity.label(),
            esc(&a.code),
            esc(&a.title),
            esc(&a.message),
            esc(&a.source)
        ));
    }
    let banner = if p.has_stop() {
        "<div style=\"background:#b00020;color:#fff;padding:12px;font-size:1.4em;font-weight:bold\">STOP — DO NOT GIVE AS WRITTEN (see the stop alerts)</div>"
    } else {
        ""
    };
    let title = p
        .protocol
        .as_ref()
        .map(|x| format!("{} — {}", x.id, x.name))
        .unwrap_or_else(|| p.regimen.clone());
    Ok(format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>mgiv plan: {t}</title>\
<style>body{{font-family:sans-serif;max-width:1150px;margin:auto}} table{{border-collapse:collapse}} td,th{{border:1px solid #ccc;padding:4px;vertical-align:top;font-size:0.9em}} pre{{white-space:pre-wrap;background:#f7f7f7;padding:8px}}</style>\
</head><body>\n{banner}\n<h1>Magnesium sulfate plan</h1>\n<p><b>{t}</b><br>Regimen: {r}<br>Model: {m} — {c}</p>\n<h2>Clinical context</h2>\n<ul>{ctxl}</ul>\n<h2>Predicted total serum Mg</h2>\n{svg}\n<h2>Alerts ({n}, most severe first)</h2>\n<table><tr><th>Severity</th><th>Code</th><th>Alert</th><th>Source</th></tr>\n{rows}</table>\n<h2>Full plan</h2>\n<pre>{text}</pre>\n{banner}\n</body></html>\n",
        t = esc(&title),
        r = esc(&p.regimen),
        m = esc(&p.simulation.model.id),
        c = esc(&p.simulation.model.citation),
        n = p.alerts.len(),
        ctxl = ctx
            .describe()
            .iter()
            .map(|l| format!("<li>{}</li>", esc(l)))
            .collect::<String>(),
        text = esc(&report::text(p)),
    ))
}
