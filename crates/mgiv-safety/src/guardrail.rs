//! Dose-error guardrails. Each phase of the ordered regimen is compared with the matching phase of
//! a reference protocol (the one named with `--protocol`, or for free text the closest standard
//! protocol); a ratio that a known slip explains is flagged with the likely intended value:
//! about 10, 100 or 1000 (slipped decimal, mg/g), 4.057 (grams written for mmol), 2 (mmol written
//! for mEq), or the bag's mL per g (the pump's mL/h written as g/h). Ratios match within the
//! tolerance in `data/rules/guardrails.toml`.

use mgiv_core::regimen::{PhaseKind, RegimenSpec, Route};
use mgiv_core::units::{fmt_num, AmountUnit, Bag, MgAmount, Salt};
use serde::Serialize;

use crate::alert::Alert;
use crate::error::SafetyError;
use crate::protocol::Protocol;
use crate::rules::RuleBook;

/// mmol of Mg per g of MgSO4·7H2O (the salt every protocol and rule is written in).
pub fn mmol_per_g() -> f64 {
    mgiv_core::units::Salt::MgSo4Heptahydrate.mmol_mg_per_g()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum PhaseClass {
    /// an IV dose given at once or over a short time (a load)
    IvDose,
    /// an IM injection
    ImDose,
    /// a continuous IV infusion (a rate, or a dose over 6 h or more)
    IvRate,
}

/// What the guardrail compares for one phase.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PhaseFeatures {
    pub index: usize,
    pub class: PhaseClass,
    /// per-dose amount (doses)
    pub amount_mmol: Option<f64>,
    pub over_h: Option<f64>,
    pub rate_mmol_per_h: Option<f64>,
    /// the unit the amount was written in
    pub unit: AmountUnit,
    pub value: f64,
    pub per_kg: bool,
    pub written_rate: bool,
}

/// Features of every phase (per-kg doses resolved with the weight; unresolved ones are skipped).
pub fn features(spec: &RegimenSpec, weight_kg: Option<f64>) -> Vec<PhaseFeatures> {
    let mut out = Vec::new();
    for (i, p) in spec.phases.iter().enumerate() {
        match &p.kind {
            PhaseKind::Dose {
                dose, route, over, ..
            } => {
                let Ok(a) = dose.resolve(weight_kg) else {
                    continue;
                };
                let over_h = over.map(|o| o.hours().h());
                let class = match (route, over_h) {
                    (Route::Im, _) => PhaseClass::ImDose,
                    (Route::Iv, Some(h)) if h >= crate::order::LOAD_MAX_DURATION_H => {
                        PhaseClass::IvRate
                    }
                    _ => PhaseClass::IvDose,
                };
                out.push(PhaseFeatures {
                    index: i,
                    class,
                    amount_mmol: Some(a.mmol()),
                    over_h,
                    rate_mmol_per_h: over_h.map(|h| a.mmol() / h),
                    unit: dose.unit,
                    value: dose.value,
                    per_kg: dose.per_kg,
                    written_rate: false,
                });
            }
            PhaseKind::Rate { dose, per, .. } => {
                let Ok(a) = dose.resolve(weight_kg) else {
                    continue;
                };
                out.push(PhaseFeatures {
                    index: i,
                    class: PhaseClass::IvRate,
                    amount_mmol: None,
                    over_h: None,
                    rate_mmol_per_h: Some(a.mmol() / per.hours(1.0).h()),
                    unit: dose.unit,
                    value: dose.value,
                    per_kg: dose.per_kg,
                    written_rate: true,
                });
            }
        }
    }
    out
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Item {
    Dose,
    Rate,
    Time,
}

/// One explained mismatch.
#[derive(Debug, Clone, PartialEq)]
struct Finding {
    code: &'static str,
    explanation: String,
}

struct Compared {
    score: f64,
    findings: Vec<Finding>,
}

fn g(mmol: f64) -> String {
    fmt_num(MgAmount::from_mmol(mmol).salt_g(Salt::MgSo4Heptahydrate))
}

/// Candidate explanations of a ratio: (factor, code, what happened).
fn candidates(item: Item, u: &PhaseFeatures, bag: Option<Bag>) -> Vec<(f64, &'static str, String)> {
    let mut c: Vec<(f64, &'static str, String)> = Vec::new();
    for f in [10.0, 100.0, 1000.0] {
        match item {
            Item::Time => {
                c.push((
                    1.0 / f,
                    "GUARD-DECIMAL",
                    format!("a slipped decimal ({}x too short)", f),
                ));
                c.push((
                    f,
                    "GUARD-DECIMAL-LOW",
                    format!("a slipped decimal ({}x too long)", f),
                ));
            }
            _ => {
                c.push((
                    f,
                    "GUARD-DECIMAL",
                    format!("a slipped decimal or mg/g mix-up ({}x)", f),
                ));
                c.push((
                    1.0 / f,
                    "GUARD-DECIMAL-LOW",
                    format!("a slipped decimal (1/{})", f),
                ));
            }
        }
    }
    if item != Item::Time {
        match u.unit {
            AmountUnit::GramsSalt(Salt::MgSo4Heptahydrate) => {
                c.push((
                    mmol_per_g(),
                    "GUARD-G-FOR-MMOL",
                    format!("grams written where mmol were meant (x{:.3})", mmol_per_g()),
                ));
                if let (Item::Rate, Some(b)) = (item, bag) {
                    let ml_per_g = b.volume_ml / b.salt_g;
                    // heuristic: a bag far from 1 mL per g makes mL/h-for-g/h a distinct slip (not data)
                    if b.salt == Salt::MgSo4Heptahydrate && (ml_per_g - 1.0).abs() > 0.3 {
                        c.push((
                            ml_per_g,
                            "GUARD-MLH-AS-GH",
                            format!(
                                "the pump rate in mL/h of {} g in {} mL written as g/h",
                                fmt_num(b.salt_g),
                                fmt_num(b.volume_ml)
                            ),
                        ));
                    }
                }
            }
            AmountUnit::Mmol => {
                c.push((
                    1.0 / mmol_per_g(),
                    "GUARD-MMOL-FOR-G",
                    format!(
                        "mmol written where grams were meant (1/{:.3})",
                        mmol_per_g()
                    ),
                ));
                c.push((
                    2.0,
                    "GUARD-MMOL-FOR-MEQ",
                    "mmol written where mEq were meant (x2)".into(),
                ));
            }
            AmountUnit::Meq => {
                c.push((
                    0.5,
                    "GUARD-MEQ-FOR-MMOL",
                    "mEq written where mmol were meant (1/2)".into(),
                ));
            }
            _ => {}
        }
    }
    c
}

fn compare(
    user: &[PhaseFeatures],
    reference: &[PhaseFeatures],
    bag: Option<Bag>,
    tol: f64,
) -> Option<Compared> {
    let tol_ln = (1.0 + tol).ln();
    let mut score = 0.0;
    let mut findings = Vec::new();
    let mut aligned = 0;
    for (u, r) in user.iter().zip(reference) {
        if u.class != r.class {
            break;
        }
        aligned += 1;
        let mut items: Vec<(Item, f64)> = Vec::new();
        match u.class {
            PhaseClass::IvDose | PhaseClass::ImDose => {
                if let (Some(a), Some(b)) = (u.amount_mmol, r.amount_mmol) {
                    items.push((Item::Dose, a / b));
                }
                if let (Some(a), Some(b)) = (u.over_h, r.over_h) {
                    items.push((Item::Time, a / b));
                }
            }
            PhaseClass::IvRate => {
                if let (Some(a), Some(b)) = (u.rate_mmol_per_h, r.rate_mmol_per_h) {
                    items.push((Item::Rate, a / b));
                }
            }
        }
        for (item, ratio) in items {
            let direct = ratio.ln().abs();
            // matching-score weights (heuristic penalties of the order matcher, not data)
            let mut best = direct + if direct > tol_ln { 0.3 } else { 0.0 };
            let mut best_finding = None;
            for (f, code, what) in candidates(item, u, bag) {
                let res = (ratio / f).ln().abs();
                let cost = res + 0.1 + if res > tol_ln { 0.3 } else { 0.0 };
                if cost < best {
                    best = cost;
                    best_finding = (res <= tol_ln).then(|| Finding {
                        code,
                        explanation: explain(item, u, r, ratio, f, &what),
                    });
                }
            }
            score += best;
            if let Some(f) = best_finding {
                findings.push(f);
            }
        }
    }
    if aligned == 0 {
        return None;
    }
    // heuristic penalty per missing or extra phase (not data)
    score += 0.15 * (user.len() as f64 - reference.len() as f64).abs();
    Some(Compared { score, findings })
}

fn explain(
    item: Item,
    u: &PhaseFeatures,
    r: &PhaseFeatures,
    ratio: f64,
    f: f64,
    what: &str,
) -> String {
    let n = u.index + 1;
    match item {
        Item::Time => format!(
            "phase {n} infusion time {} min is {} times the reference's {} min — {what}; likely intended: over {} min",
            fmt_num(u.over_h.unwrap_or(0.0) * 60.0),
            fmt_num(ratio),
            fmt_num(r.over_h.unwrap_or(0.0) * 60.0),
            fmt_num(u.over_h.unwrap_or(0.0) * 60.0 / f)
        ),
        Item::Dose | Item::Rate => {
            let unit = u.unit.symbol();
            let per = if item == Item::Rate && u.written_rate { "/h" } else { "" };
            let kg = if u.per_kg { "/kg" } else { "" };
            let (ref_mmol, label) = if item == Item::Dose {
                (r.amount_mmol.unwrap_or(0.0), "dose")
            } else {
                (r.rate_mmol_per_h.unwrap_or(0.0), "rate")
            };
            let shown_u = if item == Item::Rate && !u.written_rate {
                // a dose over >= 6 h compared as a rate
                format!(
                    "{} mmol/h ({} g/h)",
                    fmt_num(u.rate_mmol_per_h.unwrap_or(0.0)),
                    g(u.rate_mmol_per_h.unwrap_or(0.0))
                )
            } else {
                format!("{} {unit}{kg}{per}", fmt_num(u.value))
            };
            let intended = if item == Item::Rate && !u.written_rate {
                format!("{} g/h", g(u.rate_mmol_per_h.unwrap_or(0.0) / f))
            } else {
                format!("{} {unit}{kg}{per}", fmt_num(u.value / f))
            };
            let per_ref = if item == Item::Rate { "/h" } else { "" };
            format!(
                "phase {n} {label} {shown_u} is {} times the reference's {} g{per_ref} ({} mmol{per_ref}) — {what}; likely intended: {intended}",
                fmt_num(ratio),
                g(ref_mmol),
                fmt_num(ref_mmol)
            )
        }
    }
}

/// Result of the guardrail: the protocol compared with and the alerts.
#[derive(Debug, Clone, PartialEq)]
pub struct GuardResult {
    pub reference_id: Option<String>,
    pub alerts: Vec<Alert>,
}

/// Compare a regimen with `reference` (if given) or with the closest protocol in `library`.
/// `pregnant` prefers obstetric protocols for free text; `bag` is the bag actually hung (else the
/// reference protocol's default).
pub fn check(
    book: &RuleBook,
    spec: &RegimenSpec,
    weight_kg: Option<f64>,
    reference: Option<&Protocol>,
    library: &[Protocol],
    pregnant: bool,
    bag: Option<Bag>,
) -> Result<GuardResult, SafetyError> {
    let tol = book.limit("GUARD-REFERENCE", "%")? / 100.0;
    let user = features(spec, weight_kg);
    let bag_for = |p: &Protocol| -> Option<Bag> {
        bag.or_else(|| p.bag.as_deref().and_then(|b| crate::bag::parse_bag(b).ok()))
    };
    let mut best: Option<(&Protocol, Compared)> = None;
    let pool: Vec<&Protocol> = match reference {
        Some(p) => vec![p],
        None => library.iter().collect(),
    };
    for p in pool {
        let rspec = p.spec()?;
        let rf = features(&rspec, weight_kg);
        let Some(mut c) = compare(&user, &rf, bag_for(p), tol) else {
            continue;
        };
        if reference.is_none() && p.is_obstetric() != pregnant {
            // heuristic penalty: a protocol of the other population matches less well (not data)
            c.score += 0.2;
        }
        if best
            .as_ref()
            .map(|(_, b)| c.score < b.score - 1e-12)
            .unwrap_or(true)
        {
            best = Some((p, c));
        }
    }
    let mut alerts = Vec::new();
    let Some((p, c)) = best else {
        return Ok(GuardResult {
            reference_id: None,
            alerts,
        });
    };
    let how = if reference.is_some() {
        format!("reference: protocol '{}' ({})", p.id, p.regimen)
    } else {
        format!(
            "reference: the closest standard protocol, '{}' ({}); name one with --protocol to compare with another",
            p.id, p.regimen
        )
    };
    let detail = if c.findings.is_empty() {
        format!("{how}; no dose, rate or time differs from it by a known error factor")
    } else {
        how
    };
    alerts.push(book.alert("GUARD-REFERENCE", &detail)?);
    for f in &c.findings {
        alerts.push(book.alert(f.code, &f.explanation)?);
    }
    Ok(GuardResult {
        reference_id: Some(p.id.clone()),
        alerts,
    })
}
