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
use mgiv_safety::plan::{CurveSummary, Plan};
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
    /// Hours to predict (default: the regimen's end + 12 h, at least 24 h, at most 21 days)
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
            v["context"] = ctx.to_json();
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
        "units": {"concentration": "mmol/L (total serum Mg)", "time": "h", "amount_g": "g MgSO4·7H2O (the equivalent for another salt or an amount in mmol)", "rate": "g/h, mmol/h, mg/min", "pump": "mL/h", "volume": "mL"},
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
    let svg = inline_serum_svg(p, ctx)?;
    let rows = alert_rows(p);
    let banner = if p.has_stop() {
        "<div class=\"banner\">STOP — DO NOT GIVE AS WRITTEN (see the stop alerts)</div>"
    } else {
        ""
    };
    let title = p
        .protocol
        .as_ref()
        .map(|x| format!("{} — {}", x.id, x.name))
        .unwrap_or_else(|| p.regimen.clone());
    let salt_note = salt_note(p);
    let phases = phase_rows(p);
    let bag = bag_words(p);
    let s = &p.summary;
    let w = summary_words(s);
    let toxicity = toxicity_items(p);
    Ok(format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>mgiv plan: {t}</title>\n<style>{css}</style>\n</head><body>\n{banner}\n\
<header><h1>Magnesium plan: {t}</h1>\n<p class=\"meta\"><b>Patient:</b> {patient} · <b>Indication:</b> {ind} · <b>Model:</b> {m} — {c}</p></header>\n\
<section class=\"cols\"><div>\n<h2>Order</h2>\n<p class=\"order\">{r}</p>\n<p class=\"small\">{salt}<br><b>Bag:</b> {bag}</p>\n\
<table><tr><th>Phase (as ordered)</th><th>When</th><th>Dose</th><th>Rate</th><th>Pump</th><th>Volume</th></tr>\n{phases}</table>\n\
<p class=\"small\">Total {total} g ({total_mmol} mmol) in the predicted window; most in any 24 h: {max24} g.</p>\n</div>\n\
<div>\n<h2>Predicted total serum Mg</h2>\n<p>Peak <b>{peak} mmol/L</b> at {peak_t} h · target {target}<br>Time to target: {ttt} · in range: {attain}<br><span class=\"small\">Levels (mmol/L) {levels}; typical patient of the model's population.</span></p>\n\
</div></section>\n<div class=\"plot\">{svg}</div>\n\
<h2>Alerts ({na}, most severe first, each with its source)</h2>\n<table class=\"alerts\"><tr><th>Severity</th><th>Alert</th><th>Source</th></tr>\n{rows}</table>\n\
<section class=\"cols\"><div>\n<h2>Monitoring</h2>\n<ul>{mon}<li><b>Levels:</b> {lv}</li></ul>\n</div><div>\n<h2>If toxicity appears — antidote</h2>\n<ol>{toxicity}</ol>\n</div></section>\n\
<h2 class=\"noprint\">Clinical context</h2>\n<ul class=\"noprint small\">{ctxl}</ul>\n\
<details class=\"noprint\"><summary>Full plan (text)</summary><pre>{text}</pre></details>\n\
<footer>mgiv {version} · decision support only: check the patient (reflexes, respiration, urine output) and the order against local policy.</footer>\n{banner}\n</body></html>\n",
        css = REPORT_CSS,
        t = esc(&title),
        patient = esc(&mgiv_safety::report::patient_words(&p.patient)),
        ind = esc(&format!("{} — {}", ctx.indication.id, ctx.indication.name)),
        r = esc(&p.regimen),
        salt = esc(&salt_note),
        bag = esc(&bag),
        m = esc(&p.simulation.model.id),
        c = esc(&p.simulation.model.citation),
        total = crate::output::sig3(p.totals.total_g),
        total_mmol = crate::output::sig3(p.totals.total_mmol),
        max24 = crate::output::sig3(p.totals.max_24h_g),
        peak = crate::output::sig3(s.peak_mmol_l),
        peak_t = crate::output::sig3(s.peak_time_h),
        target = esc(&w.target),
        ttt = esc(&w.to_target),
        attain = esc(&w.attain),
        levels = esc(&w.levels.join(" · ")),
        na = p.alerts.len(),
        mon = html_list(&p.monitoring),
        lv = esc(&p.levels_schedule),
        version = env!("CARGO_PKG_VERSION"),
        ctxl = html_list(&ctx.describe()),
        text = esc(&report::text(p)),
    ))
}

/// The predicted serum curve as an inline `<svg>` element: drawn to a temporary file (removed
/// again) and returned from its `<svg` tag on.
fn inline_serum_svg(p: &Plan, ctx: &ClinicalContext) -> Result<String> {
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
    crate::plot::serum_plot_sized(
        &tmp,
        // image size (pixels): plot layout
        (1100, 520),
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
    Ok(match svg.find("<svg") {
        Some(i) => svg[i..].to_string(),
        None => svg,
    })
}

/// The rows of the alerts table: severity (coloured by its class), title, code, message, source.
fn alert_rows(p: &Plan) -> String {
    let mut rows = String::new();
    for a in &p.alerts {
        let class = match a.severity {
            Severity::Stop => "stop",
            Severity::Warning => "warning",
            Severity::Caution => "caution",
            Severity::Info => "info",
        };
        rows.push_str(&format!(
            "<tr class=\"{class}\"><td class=\"sev {class}\">{}</td><td><b>{}</b> <span class=\"code\">{}</span><span class=\"msg\"><br>{}</span></td><td class=\"src\">{}</td></tr>\n",
            a.severity.label(),
            esc(&a.title),
            esc(&a.code),
            esc(&a.message),
            esc(&a.source)
        ));
    }
    rows
}

/// What "g" means in the order: grams of MgSO4·7H2O (with mmol and mEq per g), or the
/// MgSO4·7H2O equivalent when the order names another salt.
fn salt_note(p: &Plan) -> String {
    // 1 g of MgSO4·7H2O in mmol and mEq, from data/units/conversions.toml
    let g = mgiv_core::units::MgAmount::from_mmol(
        mgiv_core::units::Salt::MgSo4Heptahydrate.mmol_mg_per_g(),
    );
    if p.regimen.contains("MgSO4·7H2O") && !p.regimen.contains("MgCl2") {
        format!(
            "g = grams of MgSO4·7H2O (1 g = {:.3} mmol = {:.1} mEq Mg)",
            g.mmol(),
            g.meq()
        )
    } else {
        format!("amounts in g are the MgSO4·7H2O equivalent of the magnesium ordered (1 g = {:.3} mmol Mg); the order as written is in the first column", g.mmol())
    }
}

/// The rows of the order table, one per phase: as ordered, when, dose, rate, pump, volume.
fn phase_rows(p: &Plan) -> String {
    let n = mgiv_core::units::fmt_num;
    let mut phases = String::new();
    for r in &p.phases {
        let when = match r.end_h {
            Some(e) if (e - r.start_h).abs() > 1e-9 => format!("{} h → {} h", n(r.start_h), n(e)),
            Some(_) => format!("at {} h", n(r.start_h)),
            None => format!("from {} h, no stated end", n(r.start_h)),
        };
        let dose = match (r.dose_g, r.dose_mmol) {
            (Some(g), Some(mm)) => format!(
                "{} g = {} mmol{}",
                n(g),
                crate::output::sig3(mm),
                if r.doses > 1 {
                    format!(" × {}", r.doses)
                } else {
                    String::new()
                }
            ),
            _ => "—".into(),
        };
        let rate = match (r.rate_g_per_h, r.rate_mg_per_min) {
            (Some(gh), Some(mgm)) => format!("{} g/h ({} mg/min)", n(gh), n(mgm.round())),
            _ => "—".into(),
        };
        let pump = r
            .pump_ml_per_h
            .map(|x| format!("<b>{} mL/h</b>", crate::output::sig3(x)))
            .unwrap_or_else(|| "name a bag".into());
        let vol = r
            .volume_ml
            .map(|v| format!("{} mL", crate::output::sig3(v)))
            .unwrap_or_else(|| "—".into());
        phases.push_str(&format!(
            "<tr><td>{}. {}<br><span class=\"small\">{}</span></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>\n",
            r.phase,
            esc(&r.role),
            esc(&r.written),
            esc(&when),
            esc(&dose),
            esc(&rate),
            pump,
            esc(&vol)
        ));
    }
    phases
}

/// The bag hung and where its strength comes from, or how to name one.
fn bag_words(p: &Plan) -> String {
    match (&p.bag, &p.bag_source) {
        (Some(b), src) => format!(
            "{b}{}",
            src.as_deref()
                .map(|s| format!(" — {s}"))
                .unwrap_or_default()
        ),
        (None, _) => {
            "none named: give --bag \"40 g in 1000 mL\" (for example) for pump settings".into()
        }
    }
}

/// The predicted curve's summary in words (not yet HTML-escaped).
struct SummaryWords {
    /// "T h: C" for each summary level (mmol/L).
    levels: Vec<String>,
    /// The target range with its source, or "none established".
    target: String,
    /// Time and fraction of the window in the target range.
    attain: String,
    /// Time to the target, "NOT REACHED" or "n/a".
    to_target: String,
}

/// [`SummaryWords`] of a plan's curve summary.
fn summary_words(s: &CurveSummary) -> SummaryWords {
    let n = mgiv_core::units::fmt_num;
    let levels: Vec<String> = s
        .levels
        .iter()
        .map(|l| {
            format!(
                "{} h: {}",
                n(l.time_h),
                crate::output::sig3(l.serum_mg_mmol_l)
            )
        })
        .collect();
    let target = s
        .target
        .as_ref()
        .map(|t| {
            format!(
                "{}–{} mmol/L ({})",
                crate::output::sig3(t.lo_mmol_l),
                crate::output::sig3(t.hi_mmol_l),
                t.source
            )
        })
        .unwrap_or_else(|| "none established".into());
    let attain = match (s.time_in_target_h, s.fraction_in_target) {
        (Some(h), Some(f)) => format!(
            "{} h of the first {} h in range ({} %)",
            crate::output::sig3(h),
            n(s.window_h),
            crate::output::sig3(f * 100.0)
        ),
        _ => "n/a".into(),
    };
    let to_target = match (&s.target, s.time_to_target_h) {
        (None, _) => "n/a".into(),
        (Some(_), None) => "NOT REACHED".into(),
        (Some(_), Some(t)) => format!("{} h", crate::output::sig3(t)),
    };
    SummaryWords {
        levels,
        target,
        attain,
        to_target,
    }
}

/// Escaped `<li>` items, one per line of `v`.
fn html_list(v: &[String]) -> String {
    v.iter()
        .map(|l| format!("<li>{}</li>", esc(l)))
        .collect::<String>()
}

/// The toxicity steps as `<li>` items, the antidote (calcium gluconate) in bold.
fn toxicity_items(p: &Plan) -> String {
    p.toxicity_steps
        .iter()
        .map(|st| {
            if st.contains("Antidote") || st.contains("calcium gluconate") {
                format!("<li class=\"antidote\">{}</li>", esc(st))
            } else {
                format!("<li>{}</li>", esc(st))
            }
        })
        .collect::<String>()
}

/// Screen and print styles of the patient report: one A4 page when printed (the clinical context,
/// the full text and the wording of INFO alerts are screen-only; their titles and sources print).
// report styling (CSS pixels and colours): layout, not science
const REPORT_CSS: &str = "body{font-family:'DejaVu Sans',sans-serif;max-width:1150px;margin:auto;color:#111;font-size:14px}\
h1{font-size:1.45em;margin:.3em 0}h2{font-size:1.1em;margin:.8em 0 .3em;border-bottom:2px solid #0072b2}\
.meta{margin:.2em 0;color:#333}.order{font-size:1.15em;font-weight:bold;margin:.2em 0}.small{font-size:.85em;color:#333}\
table{border-collapse:collapse;width:100%}td,th{border:1px solid #bbb;padding:3px 5px;vertical-align:top;text-align:left}\
th{background:#eef4fa}.cols{display:grid;grid-template-columns:1fr 1fr;gap:18px}\
.plot{text-align:center}.plot svg{width:100%;height:auto;max-width:1000px}.sev{font-weight:bold;color:#fff;white-space:nowrap}\
.sev.stop{background:#b00020}.sev.warning{background:#d55e00}.sev.caution{background:#8a6d00}.sev.info{background:#0072b2}\
.code{font-family:monospace;color:#555;font-size:.85em}.src{font-size:.8em;color:#333;width:28%}\
.antidote{font-weight:bold}.banner{background:#b00020;color:#fff;padding:10px;font-size:1.3em;font-weight:bold}\
footer{margin-top:1em;font-size:.8em;color:#444;border-top:1px solid #bbb;padding-top:.3em}\
pre{white-space:pre-wrap;background:#f7f7f7;padding:8px}\
@page{size:A4;margin:10mm}\
@media print{body{font-size:6.8pt;max-width:none}.cols{gap:10px}ul,ol{margin:.2em 0;padding-left:1.4em}.plot svg{width:auto;height:50mm}.src{width:36%;font-size:6.5pt}h1{font-size:1.3em}.noprint{display:none}h2{margin:.5em 0 .2em}\
table.alerts td{padding:2px 4px}.src{font-size:7pt}.banner,.sev,th{-webkit-print-color-adjust:exact;print-color-adjust:exact}\
tr{break-inside:avoid}tr.info .msg{display:none}}";
