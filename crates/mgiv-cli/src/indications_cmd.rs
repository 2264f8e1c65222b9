//! `mgiv indications`: the built-in indications (data/indications/*.toml) with their target,
//! thresholds, course, default model and population, and reference protocols.

use anyhow::Result;
use clap::{Args, ValueEnum};
use mgiv_core::units::fmt_num;
use mgiv_safety::indication::{find_indication, indications, Indication};

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum IndicationsFormat {
    Table,
    Json,
}

#[derive(Debug, Args)]
pub struct IndicationsArgs {
    /// Show one indication in full (every value with its source)
    pub id: Option<String>,
    #[arg(long, value_enum, default_value = "table")]
    pub format: IndicationsFormat,
}

pub fn run(a: IndicationsArgs) -> Result<()> {
    let list: Vec<&Indication> = match &a.id {
        Some(id) => vec![find_indication(id)?],
        None => indications()?.iter().collect(),
    };
    if a.format == IndicationsFormat::Json {
        println!("{}", serde_json::to_string_pretty(&list)?);
        return Ok(());
    }
    if a.id.is_none() {
        print_table(&list);
        return Ok(());
    }
    print_one(list[0]);
    Ok(())
}

/// Every indication, one a row: id, course, populations, default model, target, protocols.
fn print_table(list: &[&Indication]) {
    let rows: Vec<Vec<String>> = list
        .iter()
        .map(|i| {
            vec![
                i.id.clone(),
                i.course.as_str().to_string(),
                i.populations.join(", "),
                i.default_model.clone(),
                format!(
                    "{}-{}{}",
                    fmt_num(i.target.lo_mmol_l),
                    fmt_num(i.target.hi_mmol_l),
                    if i.target.established { "" } else { "*" }
                ),
                if i.reference_protocols.is_empty() {
                    "-".to_string()
                } else {
                    i.reference_protocols.join(", ")
                },
            ]
        })
        .collect();
    print!(
        "{}",
        crate::output::table(
            &[
                "id",
                "course",
                "population",
                "model",
                "target mmol/L",
                "protocols"
            ],
            &[21, 11, 13, 15, 11, 19],
            &rows
        )
    );
    println!("\n* no serum target is established: display range only.\n`mgiv indications ID` shows one in full with sources.");
}

/// One indication in full, every value with its source.
fn print_one(i: &Indication) {
    println!("{} — {}\n{}\n", i.id, i.name, i.description);
    println!(
        "Patients:    pregnancy {:?}, pre-eclampsia {:?}; populations {}",
        i.pregnancy,
        i.pre_eclampsia,
        i.populations.join(", ")
    );
    println!(
        "Model:       {} ({})",
        i.default_model, i.default_model_reason
    );
    println!("Course:      {}", i.course.as_str());
    println!(
        "Target:      {}-{} mmol/L{} ({})",
        fmt_num(i.target.lo_mmol_l),
        fmt_num(i.target.hi_mmol_l),
        if i.target.established {
            ""
        } else {
            " — not established, display only"
        },
        i.target.source
    );
    println!(
        "Toxic:       {} mmol/L ({})",
        fmt_num(i.thresholds.toxic_mmol_l),
        i.thresholds.toxic_source
    );
    println!(
        "Emergency:   {} mmol/L ({})",
        fmt_num(i.thresholds.emergency_mmol_l),
        i.thresholds.emergency_source
    );
    println!(
        "Horizon:     {} h ({})",
        fmt_num(i.horizon_h),
        i.horizon_source
    );
    if let Some(l) = &i.loading {
        println!(
            "Loading:     standard {} g IV, at most {} g IV{} ({})",
            fmt_num(l.reference_iv_g),
            fmt_num(l.max_iv_g),
            l.max_im_g
                .map(|m| format!(", {} g IM", fmt_num(m)))
                .unwrap_or_default(),
            l.source
        );
    }
    if let Some(f) = &i.fluid {
        println!(
            "Fluid:       at most {} mL/h ({})",
            fmt_num(f.max_ml_per_h),
            f.source
        );
    }
    for r in &i.rule_adjustments {
        println!(
            "Rule:        {} -> {} ({}; {})",
            r.rule, r.severity, r.reason, r.source
        );
    }
    println!("Protocols:   {}", i.reference_protocols.join(", "));
    println!("Monitoring:");
    for m in &i.monitoring {
        println!("  - {m}");
    }
    println!("Source:      {}", i.source);
}
