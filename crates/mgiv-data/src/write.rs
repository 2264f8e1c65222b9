//! Writing a dataset back out as canonical NONMEM CSV, in its declared units.

use crate::read::{Censoring, Dataset, DoseInput};
use mgiv_core::regimen::Route;
use mgiv_core::units::fmt_num;

fn num(v: f64) -> String {
    // enough digits that reading back gives the same value to 1e-12 relative
    let s = format!("{v:.12}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "-0" {
        "0".into()
    } else {
        s.to_string()
    }
}

/// The column name of a covariate: as read, unless the NONMEM reader would take it for a data
/// item (a Monolix dataset's `BLQ` covariate would become the BLQ flag), it would make the reader
/// detect another dialect (`Y`, `OUT`, ...), or it is already taken; then with `_COV` appended
/// (as often as needed).
fn covariate_column(name: &str, taken: &[String]) -> String {
    let clashes = |n: &str| {
        let up = n.to_ascii_uppercase();
        crate::read::item_for(&up, crate::read::Dialect::Nonmem).is_some()
            || matches!(
                up.as_str(),
                "#ID" | "OUT" | "DOSE" | "Y" | "AMOUNT" | "TINF" | "ADM" | "YTYPE"
            )
            || taken.contains(&up)
    };
    let mut out = name.to_string();
    while clashes(&out) {
        out.push_str("_COV");
    }
    out
}

/// Canonical NONMEM CSV: `ID,TIME,EVID,MDV,CMT,AMT,RATE,ADDL,II,SS,DV,CENS,LLOQ,OCC,<covariates>`,
/// TIME/II in the dataset's time unit, AMT/RATE in its AMT unit, DV/LLOQ in its DV unit, with
/// `# DV_UNIT`, `# AMT_UNIT` and `# TIME_UNIT` lines so that [`crate::read()`] reads it back as is
/// (covariate columns renamed where their name would be read as something else: see
/// `covariate_column`).
pub fn write_nonmem(ds: &Dataset) -> String {
    let tf = ds.time_unit.hours();
    let mut s = String::new();
    if let Some(u) = ds.dv_unit {
        s.push_str(&format!("# DV_UNIT={}\n", u.symbol()));
    }
    if let Some(u) = ds.amt_unit {
        s.push_str(&format!("# AMT_UNIT={}\n", u.symbol()));
    }
    s.push_str(&format!("# TIME_UNIT={}\n", ds.time_unit.symbol()));
    let mut head = "ID,TIME,EVID,MDV,CMT,AMT,RATE,ADDL,II,SS,DV,CENS,LLOQ,OCC".to_string();
    let mut taken: Vec<String> = head.split(',').map(String::from).collect();
    for c in &ds.covariates {
        let name = covariate_column(c, &taken);
        head.push(',');
        head.push_str(&name);
        taken.push(name.to_ascii_uppercase());
    }
    s.push_str(&head);
    s.push('\n');
    let depot = ds.depot_cmt.unwrap_or(ds.central_cmt);
    for subj in &ds.subjects {
        for r in &subj.records {
            let mut f: Vec<String> = vec![subj.id.clone(), num(r.time_h / tf)];
            f.push(r.evid.to_string());
            f.push(if r.mdv { "1" } else { "0" }.into());
            let cmt = match &r.dose {
                Some(d) if d.route == Route::Im => Some(depot),
                Some(_) => Some(ds.central_cmt),
                None => r.cmt,
            };
            f.push(cmt.map(|c| c.to_string()).unwrap_or_else(|| ".".into()));
            match (&r.dose, ds.amt_unit) {
                (Some(d), Some(u)) => {
                    f.push(num(u.value_of(d.amount)));
                    f.push(match d.input {
                        DoseInput::Bolus => "0".into(),
                        DoseInput::Rate { rate } => num(u
                            .value_of(mgiv_core::units::MgAmount::from_mmol(rate.mmol_per_h()))
                            * tf),
                        DoseInput::Duration { hours } => num(u.value_of(d.amount) / (hours / tf)),
                        DoseInput::ModelledRate => "-1".into(),
                        DoseInput::ModelledDuration => "-2".into(),
                    });
                    f.push(d.addl.to_string());
                    f.push(num(d.ii_h / tf));
                    f.push(d.ss.code().to_string());
                }
                _ => f.extend([".", "0", "0", "0", "0"].map(String::from)),
            }
            match (&r.observation, ds.dv_unit) {
                (Some(o), Some(u)) => {
                    f.push(num(o.dv.in_unit(u)));
                    f.push(
                        match o.censoring {
                            Censoring::None => "0",
                            Censoring::Below => "1",
                            Censoring::Above => "-1",
                        }
                        .into(),
                    );
                    f.push(
                        o.lloq
                            .map(|l| num(l.in_unit(u)))
                            .unwrap_or_else(|| ".".into()),
                    );
                }
                _ => f.extend([".", "0", "."].map(String::from)),
            }
            f.push(
                r.occasion
                    .map(|o| o.to_string())
                    .unwrap_or_else(|| ".".into()),
            );
            for c in &r.covariates {
                f.push(c.map(fmt_num_exact).unwrap_or_else(|| ".".into()));
            }
            s.push_str(&f.join(","));
            s.push('\n');
        }
    }
    s
}

fn fmt_num_exact(v: f64) -> String {
    let n = num(v);
    if n.parse::<f64>().ok() == Some(v) {
        n
    } else {
        fmt_num(v)
    }
}
