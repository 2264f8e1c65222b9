//! The plan as bedside text (no I/O: returns a String).

use std::fmt::Write;

use mgiv_core::units::fmt_num;

use crate::alert::Severity;
use crate::plan::Plan;
use crate::protocol::Protocol;

fn n(v: f64) -> String {
    fmt_num(v)
}

fn n1(v: f64) -> String {
    fmt_num((v * 10.0).round() / 10.0)
}

/// Render a plan for a clinician. A plan with a `stop` alert starts and ends with a STOP banner.
pub fn text(plan: &Plan) -> String {
    let mut o = String::new();
    let _ = write_text(&mut o, plan);
    o
}

fn banner(o: &mut String, plan: &Plan) -> std::fmt::Result {
    let stops: Vec<_> = plan
        .alerts
        .iter()
        .filter(|a| a.severity == Severity::Stop)
        .collect();
    if stops.is_empty() {
        return Ok(());
    }
    let line = "!".repeat(78);
    writeln!(o, "{line}")?;
    writeln!(
        o,
        "!! STOP — DO NOT GIVE AS WRITTEN: {} stop alert(s)",
        stops.len()
    )?;
    for a in stops {
        writeln!(o, "!!   [{}] {}", a.code, a.title)?;
    }
    writeln!(o, "{line}")?;
    Ok(())
}

/// Whether a phase was ordered in grams of MgSO4·7H2O (otherwise its grams are an equivalent).
fn ordered_as_sulfate(written: &str) -> bool {
    written.contains("MgSO4·7H2O")
}

/// The salt named after an amount in grams: the heptahydrate as ordered, or its equivalent of
/// another salt or an elemental amount.
fn sulfate_words(written: &str) -> &'static str {
    if ordered_as_sulfate(written) {
        "MgSO4·7H2O"
    } else {
        "MgSO4·7H2O-equivalent"
    }
}

fn write_text(o: &mut String, plan: &Plan) -> std::fmt::Result {
    banner(o, plan)?;
    write_header(o, plan)?;
    write_regimen(o, plan)?;
    write_prediction(o, plan)?;
    write_alerts_and_monitoring(o, plan)?;
    writeln!(
        o,
        "Predictions are for a typical patient of the model's population, not a measurement: measure serum Mg. mgiv is decision support; the prescriber decides."
    )?;
    banner(o, plan)?;
    Ok(())
}

/// Title, protocol, patient, conditions and medications.
fn write_header(o: &mut String, plan: &Plan) -> std::fmt::Result {
    writeln!(o, "MAGNESIUM SULFATE PLAN (mgiv)")?;
    if plan.phases.iter().any(|r| !ordered_as_sulfate(&r.written)) {
        writeln!(
            o,
            "            (amounts in g below are the MgSO4·7H2O equivalent of the magnesium ordered; the order as written is on each phase line)"
        )?;
    }
    if let Some(p) = &plan.protocol {
        writeln!(o, "Protocol:   {} — {}", p.id, p.name)?;
        writeln!(o, "Indication: {}", p.indication)?;
        writeln!(o, "Source:     {}", p.citation)?;
    } else if let Some(r) = &plan.reference_protocol {
        writeln!(
            o,
            "Protocol:   none named (written regimen); closest standard protocol: {r}"
        )?;
    }
    writeln!(o, "Patient:    {}", patient_line(plan))?;
    if !plan.conditions.is_empty() || !plan.medications.is_empty() {
        let c: Vec<_> = plan.conditions.iter().map(|c| c.name.as_str()).collect();
        let m: Vec<_> = plan.medications.iter().map(|c| c.name.as_str()).collect();
        writeln!(
            o,
            "Conditions: {}; medications: {}",
            if c.is_empty() {
                "none entered".into()
            } else {
                c.join(", ")
            },
            if m.is_empty() {
                "none entered".into()
            } else {
                m.join(", ")
            }
        )?;
    }
    writeln!(o)?;
    Ok(())
}

/// The regimen as written, the bag and each phase in g, mmol, mEq and pump mL/h; the totals.
fn write_regimen(o: &mut String, plan: &Plan) -> std::fmt::Result {
    // 1 g of MgSO4·7H2O in mmol and mEq, from data/units/conversions.toml
    let g = mgiv_core::units::MgAmount::from_mmol(crate::guardrail::mmol_per_g());
    writeln!(
        o,
        "REGIMEN  (g = grams of MgSO4·7H2O; 1 g = {:.3} mmol = {:.1} mEq Mg)",
        g.mmol(),
        g.meq()
    )?;
    writeln!(o, "  {}", plan.regimen)?;
    match (&plan.bag, &plan.bag_source) {
        (Some(b), src) => writeln!(
            o,
            "  Bag: {b}{}",
            src.as_deref().map(|s| format!(" — {s}")).unwrap_or_default()
        )?,
        (None, _) => writeln!(
            o,
            "  Bag: none named — give --bag \"40 g in 1000 mL\" (for example) to get pump settings in mL/h"
        )?,
    }
    for r in &plan.phases {
        let when = match r.end_h {
            Some(e) if (e - r.start_h).abs() > 1e-9 => {
                format!("{} h → {} h", n(r.start_h), n(e))
            }
            Some(_) => format!("at {} h", n(r.start_h)),
            None => format!("from {} h, NO STATED END", n(r.start_h)),
        };
        writeln!(o, "  {}. {} [{}]: {}", r.phase, r.role, when, r.written)?;
        if let (Some(gd), Some(mm), Some(me)) = (r.dose_g, r.dose_mmol, r.dose_meq) {
            let reps = if r.doses > 1 {
                format!(" × {} doses", r.doses)
            } else {
                String::new()
            };
            writeln!(
                o,
                "       dose {} g {} = {} mmol = {} mEq {}{reps}",
                n(gd),
                sulfate_words(&r.written),
                n1(mm),
                n1(me),
                r.route
            )?;
        }
        if let (Some(gh), Some(mh), Some(mgm)) =
            (r.rate_g_per_h, r.rate_mmol_per_h, r.rate_mg_per_min)
        {
            let pump = r
                .pump_ml_per_h
                .map(|p| format!(" → PUMP {} mL/h", n1(p)))
                .unwrap_or_else(|| " → pump mL/h: name a bag (--bag)".into());
            writeln!(
                o,
                "       rate {} g/h {} = {} mmol/h ({} mg/min){pump}",
                n(gh),
                sulfate_words(&r.written),
                n1(mh),
                n(mgm.round())
            )?;
        }
        if let (Some(v), Some(of)) = (r.volume_ml, &r.volume_of) {
            writeln!(o, "       volume {} mL of {of}", n1(v))?;
        }
    }
    let t = &plan.totals;
    writeln!(
        o,
        "  Total {} g {} ({} mmol) within the predicted {} h; most in any 24 h: {} g; duration: {}",
        n1(t.total_g),
        if plan.phases.iter().all(|r| ordered_as_sulfate(&r.written)) {
            "MgSO4·7H2O"
        } else {
            "MgSO4·7H2O-equivalent"
        },
        n1(t.total_mmol),
        n(plan.simulation.times_h.last().copied().unwrap_or(0.0)),
        n1(t.max_24h_g),
        t.duration_h
            .map(|d| format!("{} h", n(d)))
            .unwrap_or_else(|| "no stated end".into())
    )?;
    writeln!(o)?;

    Ok(())
}

/// The predicted serum course of a typical patient: model, levels, peak, target attainment.
fn write_prediction(o: &mut String, plan: &Plan) -> std::fmt::Result {
    let s = &plan.summary;
    let m = &plan.simulation.model;
    writeln!(o, "PREDICTED TOTAL SERUM Mg (typical patient; mmol/L)")?;
    writeln!(o, "  Model: {} — {}", m.id, m.name)?;
    writeln!(o, "  Source: {}", m.citation)?;
    if let Some(w) = &m.chosen_because {
        writeln!(o, "  Chosen because: {w}")?;
    }
    let lv: Vec<String> = s
        .levels
        .iter()
        .map(|l| format!("{} h {:.2}", n(l.time_h), l.serum_mg_mmol_l))
        .collect();
    writeln!(o, "  Levels: {}", lv.join(" | "))?;
    writeln!(
        o,
        "  Peak {:.2} mmol/L ({:.2} mg/dL) at {} h",
        s.peak_mmol_l,
        mgiv_core::units::MgConc::from_mmol_l(s.peak_mmol_l).mg_dl(),
        n(s.peak_time_h)
    )?;
    match &s.target {
        Some(tg) => {
            writeln!(
                o,
                "  Target {}-{} mmol/L — {}",
                n(tg.lo_mmol_l),
                n(tg.hi_mmol_l),
                tg.source
            )?;
            writeln!(
                o,
                "  Time to reach target: {}",
                s.time_to_target_h
                    .map(|t| format!("{} h", n(t)))
                    .unwrap_or_else(|| "NOT REACHED".into())
            )?;
            writeln!(
                o,
                "  Target attainment: {} h of the first {} h in range ({:.0} %); {} h above it",
                n1(s.time_in_target_h.unwrap_or(0.0)),
                n(s.window_h),
                100.0 * s.fraction_in_target.unwrap_or(0.0),
                n1(s.time_above_target_h.unwrap_or(0.0))
            )?;
        }
        None => writeln!(
            o,
            "  Target: no serum target is established for this indication (see the protocol notes)"
        )?,
    }
    writeln!(o)?;

    Ok(())
}

/// Alerts (most severe first), monitoring, toxicity steps and the protocol's notes.
fn write_alerts_and_monitoring(o: &mut String, plan: &Plan) -> std::fmt::Result {
    writeln!(o, "ALERTS ({}, most severe first)", plan.alerts.len())?;
    for a in &plan.alerts {
        writeln!(o, "  [{}] {} — {}", a.severity.label(), a.code, a.title)?;
        writeln!(o, "      {}", a.message)?;
        writeln!(o, "      Source: {}", a.source)?;
    }
    writeln!(o)?;
    writeln!(o, "MONITORING")?;
    for m in &plan.monitoring {
        writeln!(o, "  - {m}")?;
    }
    writeln!(o, "  Levels: {}", plan.levels_schedule)?;
    writeln!(o)?;
    writeln!(o, "IF TOXICITY APPEARS")?;
    for (i, st) in plan.toxicity_steps.iter().enumerate() {
        writeln!(o, "  {}. {st}", i + 1)?;
    }
    if let Some(p) = &plan.protocol {
        if !p.notes.is_empty() {
            writeln!(o)?;
            writeln!(o, "PROTOCOL NOTES")?;
            for note in &p.notes {
                writeln!(o, "  - {note}")?;
            }
        }
        writeln!(
            o,
            "  Maximum duration: {} ({})",
            p.max_duration_text, p.max_duration_source
        )?;
    }
    writeln!(o)?;
    Ok(())
}

fn patient_line(plan: &Plan) -> String {
    patient_words(&plan.patient)
}

/// The patient in a few words ("70 kg, female, creatinine 0.8 mg/dL, pregnant, pre-eclampsia"),
/// for reports and plot subtitles.
pub fn patient_words(p: &mgiv_core::patient::Patient) -> String {
    let mut parts = Vec::new();
    if let Some(w) = p.weight_kg {
        parts.push(format!("{} kg", n(w)));
    }
    if let Some(a) = p.age_y {
        parts.push(format!("{} y", n(a)));
    }
    if let Some(s) = p.sex {
        parts.push(format!("{s:?}").to_lowercase());
    }
    if let Some(c) = p.scr_mg_dl {
        parts.push(format!("creatinine {} mg/dL", n(c)));
    }
    if let Some(c) = p.crcl_ml_min() {
        parts.push(format!("CrCl {c:.0} mL/min"));
    }
    if p.pre_eclampsia {
        parts.push("pregnant, pre-eclampsia".into());
    } else if p.pregnant {
        parts.push("pregnant".into());
    }
    if let Some(b) = p.baseline {
        parts.push(format!("baseline Mg {:.2} mmol/L", b.mmol_l()));
    }
    if parts.is_empty() {
        "no covariates given (model reference values used)".into()
    } else {
        parts.join(", ")
    }
}

/// One protocol in full, for `mgiv protocols ID`.
pub fn protocol_text(p: &Protocol) -> String {
    let mut o = String::new();
    let _ = (|| -> std::fmt::Result {
        writeln!(o, "{} — {}", p.id, p.name)?;
        if !p.aliases.is_empty() {
            writeln!(o, "Also: {}", p.aliases.join(", "))?;
        }
        writeln!(o, "Indication: {}", p.indication)?;
        writeln!(o, "Regimen:    {}", p.regimen)?;
        writeln!(
            o,
            "            source{}: {}",
            if p.regimen_verified {
                ""
            } else {
                " (PARTLY UNVERIFIED)"
            },
            p.regimen_source
        )?;
        match &p.target {
            Some(t) => writeln!(
                o,
                "Target:     {}-{} mmol/L — {}",
                n(t.lo_mmol_l),
                n(t.hi_mmol_l),
                t.source
            )?,
            None => writeln!(o, "Target:     none established")?,
        }
        writeln!(
            o,
            "Maximum:    {} ({})",
            p.max_duration_text, p.max_duration_source
        )?;
        if let Some(b) = &p.bag {
            writeln!(
                o,
                "Bag:        {b}{}",
                p.bag_source
                    .as_deref()
                    .map(|s| format!(" — {s}"))
                    .unwrap_or_default()
            )?;
        }
        writeln!(
            o,
            "Rate limit: USPI 150 mg/min {}",
            if p.uspi_rate_limit_applies {
                "applies"
            } else {
                "does not apply (see note)"
            }
        )?;
        if let Some(r) = &p.rate_note {
            writeln!(o, "            {r}")?;
        }
        writeln!(o, "Levels:     {}", p.levels)?;
        writeln!(o, "Monitoring:")?;
        for m in &p.monitoring {
            writeln!(o, "  - {m}")?;
        }
        if !p.notes.is_empty() {
            writeln!(o, "Notes:")?;
            for m in &p.notes {
                writeln!(o, "  - {m}")?;
            }
        }
        writeln!(o, "Citation:   {}", p.citation)?;
        Ok(())
    })();
    o
}
