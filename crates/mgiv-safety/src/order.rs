//! Whole-order checks on the resolved event timeline: the amount given in rolling 1-h, 24-h and
//! 48-h windows with concurrent phases summed, the total loading amount against the indication's
//! reference (duplicated or tripled loads are caught, with the likely intended order), the fluid
//! volume from the bag against the indication's limit, and the renal gate (CrCl when it can be
//! computed, else creatinine alone, else an alert that it could not run). A check that cannot run
//! never passes silently: it raises an alert naming what is missing.
//!
//! The checks take the event list, not the written phases, so a load written as three phases, a
//! dose given by two concurrent infusions, or a TDM recommendation appended to what was already
//! given (`mgiv adjust`) is judged as the patient receives it.

use serde::Serialize;

use mgiv_core::patient::{cockcroft_gault_ml_min, Patient, Sex};
use mgiv_core::regimen::{DoseEvent, Route};
use mgiv_core::units::{fmt_num, Bag, MgAmount, Salt};

use crate::alert::Alert;
use crate::error::SafetyError;
use crate::indication::Indication;
use crate::names::Named;
use crate::protocol::Protocol;
use crate::rules::RuleBook;

/// A dose given at once or over less than this is a loading-type dose; longer infusions are
/// maintenance (the same boundary the dose-error guardrail uses).
pub const LOAD_MAX_DURATION_H: f64 = 6.0;
/// The window in which doses add up to one loading amount.
pub const LOAD_WINDOW_H: f64 = 1.0;

fn g(mmol: f64) -> f64 {
    MgAmount::from_mmol(mmol).salt_g(Salt::MgSo4Heptahydrate)
}

fn is_iv(e: &DoseEvent) -> bool {
    !matches!(
        e,
        DoseEvent::Bolus {
            route: Route::Im,
            ..
        }
    )
}

/// A bolus or an infusion shorter than [`LOAD_MAX_DURATION_H`].
fn is_load_type(e: &DoseEvent) -> bool {
    match e {
        DoseEvent::Bolus { .. } => true,
        DoseEvent::Infusion { start_h, end_h, .. } => {
            end_h.is_some_and(|end| end - start_h < LOAD_MAX_DURATION_H)
        }
    }
}

fn phase_of(e: &DoseEvent) -> usize {
    match *e {
        DoseEvent::Bolus { phase, .. } | DoseEvent::Infusion { phase, .. } => phase,
    }
}

/// Amount (mmol) the events matching `keep` deliver in [a, b), with open infusions cut at the
/// horizon.
fn amount_between(
    events: &[DoseEvent],
    a: f64,
    b: f64,
    horizon_h: f64,
    keep: impl Fn(&DoseEvent) -> bool,
) -> f64 {
    // open infusions end at the horizon: the window never reaches past it
    let b = b.min(horizon_h.max(a));
    events
        .iter()
        .filter(|e| keep(e))
        .map(|e| e.amount_in_window_mmol(a, b))
        .sum()
}

/// The most (mmol) the events matching `keep` deliver in any window of `width_h` hours within
/// the horizon. The maximum of a piecewise-linear window sum lies where a window edge meets an
/// event boundary, so those starts are enough.
pub fn max_window_mmol(
    events: &[DoseEvent],
    width_h: f64,
    horizon_h: f64,
    keep: impl Fn(&DoseEvent) -> bool + Copy,
) -> f64 {
    let mut starts = vec![0.0];
    for e in events.iter().filter(|e| keep(e)) {
        let (s, end) = (e.start_h(), e.end_h().min(horizon_h));
        starts.extend([s, end - width_h, s - width_h, end]);
    }
    starts
        .into_iter()
        .filter(|&s| s >= 0.0 && s <= horizon_h)
        .map(|s| amount_between(events, s, s + width_h, horizon_h, keep))
        .fold(0.0, f64::max)
}

/// The largest loading amount: load-type doses of one route that start within one
/// [`LOAD_WINDOW_H`] window.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LoadFacts {
    pub g: f64,
    pub mmol: f64,
    /// start of the window (h)
    pub start_h: f64,
    /// 1-based phases that contribute
    pub phases: Vec<usize>,
    /// the per-dose amounts (g) that add up to it, in time order
    pub doses_g: Vec<f64>,
}

fn largest_load(events: &[DoseEvent], iv: bool) -> Option<LoadFacts> {
    let loads: Vec<(f64, f64, usize)> = events
        .iter()
        .filter(|e| is_load_type(e) && is_iv(e) == iv)
        .map(|e| {
            (
                e.start_h(),
                e.amount_given_by_mmol(f64::INFINITY),
                phase_of(e),
            )
        })
        .collect();
    let mut best: Option<LoadFacts> = None;
    for &(t0, _, _) in &loads {
        let inside: Vec<&(f64, f64, usize)> = loads
            .iter()
            .filter(|(t, _, _)| *t >= t0 - 1e-9 && *t < t0 + LOAD_WINDOW_H - 1e-9)
            .collect();
        let mmol: f64 = inside.iter().map(|x| x.1).sum();
        if best.as_ref().is_none_or(|b| mmol > b.mmol + 1e-9) {
            let mut phases: Vec<usize> = inside.iter().map(|x| x.2 + 1).collect();
            phases.dedup();
            best = Some(LoadFacts {
                g: g(mmol),
                mmol,
                start_h: t0,
                phases,
                doses_g: inside.iter().map(|x| g(x.1)).collect(),
            });
        }
    }
    best
}

/// Fluid given with the magnesium, from the bag (IV events only).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FluidFacts {
    /// most volume in any 1-h window (loads included)
    pub max_ml_in_1h: f64,
    /// the highest pump rate of the maintenance infusions running at one time (mL/h): what
    /// fluid restriction limits (NICE NG133 limits maintenance fluids; a short load is excluded)
    pub max_maintenance_ml_per_h: f64,
    /// most volume in any 24-h window
    pub max_ml_in_24h: f64,
}

/// Everything the whole-order checks measure.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OrderFacts {
    /// most given in any 1-h window, all routes / IV only (g MgSO4·7H2O)
    pub max_1h_g: f64,
    pub max_1h_iv_g: f64,
    pub max_24h_g: f64,
    pub max_48h_g: f64,
    pub iv_load: Option<LoadFacts>,
    pub im_load: Option<LoadFacts>,
    /// None when no bag is known
    pub fluid: Option<FluidFacts>,
    /// whether any infusion lasts 6 h or more (or has no end), or doses repeat
    pub has_maintenance: bool,
    pub horizon_h: f64,
}

/// The highest summed rate (mmol/h) of maintenance infusions running at the same time.
fn max_maintenance_rate_mmol_h(events: &[DoseEvent]) -> f64 {
    let maint: Vec<(f64, f64, f64)> = events
        .iter()
        .filter(|e| !is_load_type(e))
        .filter_map(|e| match *e {
            DoseEvent::Infusion {
                start_h,
                end_h,
                rate_mmol_per_h,
                ..
            } => Some((start_h, end_h.unwrap_or(f64::INFINITY), rate_mmol_per_h)),
            DoseEvent::Bolus { .. } => None,
        })
        .collect();
    maint
        .iter()
        .map(|&(t, _, _)| {
            maint
                .iter()
                .filter(|(s, e, _)| *s <= t + 1e-9 && *e > t + 1e-9)
                .map(|x| x.2)
                .sum::<f64>()
        })
        .fold(0.0, f64::max)
}

/// Measure the order.
pub fn order_facts(events: &[DoseEvent], bag: Option<Bag>, horizon_h: f64) -> OrderFacts {
    let all = |_: &DoseEvent| true;
    let mmol_1h_iv = max_window_mmol(events, 1.0, horizon_h, is_iv);
    let mmol_24h_iv = max_window_mmol(events, 24.0, horizon_h, is_iv);
    let fluid = bag.map(|b| {
        let per_ml = b.strength().mmol_per_ml();
        FluidFacts {
            max_ml_in_1h: mmol_1h_iv / per_ml,
            max_maintenance_ml_per_h: max_maintenance_rate_mmol_h(events) / per_ml,
            max_ml_in_24h: mmol_24h_iv / per_ml,
        }
    });
    let n_load = events.iter().filter(|e| is_load_type(e)).count();
    OrderFacts {
        max_1h_g: g(max_window_mmol(events, 1.0, horizon_h, all)),
        max_1h_iv_g: g(mmol_1h_iv),
        // the windows of the g/24 h and g/48 h rules (their limit_unit is checked where they are used)
        max_24h_g: g(max_window_mmol(events, 24.0, horizon_h, all)),
        max_48h_g: g(max_window_mmol(events, 48.0, horizon_h, all)),
        iv_load: largest_load(events, true),
        im_load: largest_load(events, false),
        fluid,
        has_maintenance: n_load > 1 || events.iter().any(|e| !is_load_type(e)),
        horizon_h,
    }
}

/// What the whole-order checks need besides the timeline.
pub struct OrderContext<'a> {
    pub book: &'a RuleBook,
    pub indication: Option<&'a Indication>,
    pub patient: &'a Patient,
    pub conditions: &'a [Named],
    /// the indication's reference protocol (for the likely intended order)
    pub reference: Option<&'a Protocol>,
    /// whether a bag was given or taken from a protocol (else the fluid check cannot run)
    pub bag_known: bool,
}

/// Renal function as the renal gate sees it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub enum RenalBasis {
    /// CrCl (measured or Cockcroft–Gault), mL/min
    Crcl(f64),
    /// creatinine alone (CrCl could not be computed), mg/dL
    CreatinineOnly(f64),
    /// nothing given
    Unknown,
}

/// CrCl if it can be computed (a pregnant patient is taken as female), else creatinine alone.
pub fn renal_basis(p: &Patient) -> RenalBasis {
    if let Some(c) = p.crcl_ml_min() {
        return RenalBasis::Crcl(c);
    }
    let sex = p.sex.or(if p.pregnant || p.pre_eclampsia {
        Some(Sex::Female)
    } else {
        None
    });
    if let (Some(w), Some(a), Some(s), Some(scr)) = (p.weight_kg, p.age_y, sex, p.scr_mg_dl) {
        return RenalBasis::Crcl(cockcroft_gault_ml_min(a, w, scr, s));
    }
    match p.scr_mg_dl {
        Some(s) => RenalBasis::CreatinineOnly(s),
        None => RenalBasis::Unknown,
    }
}

impl OrderContext<'_> {
    fn has_condition(&self, name: &str) -> bool {
        self.conditions.iter().any(|c| c.name == name)
    }

    /// Every whole-order alert.
    pub fn alerts(&self, f: &OrderFacts) -> Result<Vec<Alert>, SafetyError> {
        let mut out = Vec::new();
        self.window_alerts(f, &mut out)?;
        self.load_alerts(f, &mut out)?;
        self.fluid_alerts(f, &mut out)?;
        self.renal_alerts(f, &mut out)?;
        Ok(out)
    }

    fn window_alerts(&self, f: &OrderFacts, out: &mut Vec<Alert>) -> Result<(), SafetyError> {
        let b = self.book;
        let d24 = format!(
            "most in any 24 h: {} g ({} mmol), concurrent phases summed",
            fmt_num(f.max_24h_g),
            fmt_num(f.max_24h_g * crate::guardrail::mmol_per_g())
        );
        for code in ["DOSE-24H-60G", "DOSE-24H-40G", "DOSE-24H-30G"] {
            if f.max_24h_g > b.limit(code, "g/24 h")? + 1e-9 {
                out.push(b.alert(code, &d24)?);
                break;
            }
        }
        let l1 = b.limit("DOSE-1H-IV", "g/h")?;
        if f.max_1h_iv_g > l1 + 1e-9 {
            out.push(b.alert(
                "DOSE-1H-IV",
                &format!(
                    "most given IV in any 1 h: {} g, concurrent phases summed",
                    fmt_num(f.max_1h_iv_g)
                ),
            )?);
        }
        Ok(())
    }

    fn load_alerts(&self, f: &OrderFacts, out: &mut Vec<Alert>) -> Result<(), SafetyError> {
        let Some(ind) = self.indication else {
            return Ok(());
        };
        let Some(ref_load) = &ind.loading else {
            return Ok(());
        };
        let tol = 1.0 + self.book.limit("LOAD-EXCESS", "%")? / 100.0;
        let intended = self
            .reference
            .map(|p| format!(" Likely intended order: {} (protocol {}).", p.regimen, p.id))
            .unwrap_or_default();
        if let Some(l) = &f.iv_load {
            if l.g > ref_load.max_iv_g * tol {
                let ratio = l.g / ref_load.reference_iv_g;
                let mut why = String::new();
                let same = l.doses_g.len() >= 2
                    && l.doses_g
                        .iter()
                        // equal within 1 % (a comparison tolerance)
                        .all(|d| (d - l.doses_g[0]).abs() <= 0.01 * l.doses_g[0]);
                if same {
                    why.push_str(&format!(
                        " The same {} g dose is written {} times (phases {}): a duplicated order?",
                        fmt_num(l.doses_g[0]),
                        l.doses_g.len(),
                        join(&l.phases)
                    ));
                // heuristic: within 15 % of a whole multiple of at least 2 (a wording rule, not data)
                } else if (ratio - ratio.round()).abs() <= 0.15 * ratio.round() && ratio >= 1.85 {
                    why.push_str(&format!(
                        " It is {}x the standard {} g load.",
                        ratio.round(),
                        fmt_num(ref_load.reference_iv_g)
                    ));
                }
                out.push(self.book.alert(
                    "LOAD-EXCESS",
                    &format!(
                        "IV loading amount {} g within {} h from {} h (phases {}); the standard {} load is {} g and no cited protocol gives more than {} g ({}).{why}{intended}",
                        fmt_num(l.g),
                        fmt_num(LOAD_WINDOW_H),
                        fmt_num(l.start_h),
                        join(&l.phases),
                        ind.id,
                        fmt_num(ref_load.reference_iv_g),
                        fmt_num(ref_load.max_iv_g),
                        ref_load.source
                    ),
                )?);
            }
        }
        if let (Some(l), Some(max_im)) = (&f.im_load, ref_load.max_im_g) {
            if l.g > max_im * tol {
                out.push(self.book.alert(
                    "LOAD-EXCESS",
                    &format!(
                        "IM loading amount {} g within {} h (phases {}); no cited {} protocol gives more than {} g IM ({}).{intended}",
                        fmt_num(l.g),
                        fmt_num(LOAD_WINDOW_H),
                        join(&l.phases),
                        ind.id,
                        fmt_num(max_im),
                        ref_load.source
                    ),
                )?);
            }
        }
        if f.im_load.is_some() && ref_load.max_im_g.is_none() {
            out.push(self.book.alert(
                "LOAD-ROUTE",
                &format!("no cited {} protocol gives an IM load", ind.id),
            )?);
        }
        Ok(())
    }

    fn fluid_alerts(&self, f: &OrderFacts, out: &mut Vec<Alert>) -> Result<(), SafetyError> {
        // a pre-eclamptic patient is fluid-restricted whatever the indication
        let pe_limit = if self.patient.pre_eclampsia {
            crate::indication::find_indication("pre-eclampsia")
                .ok()
                .and_then(|i| i.fluid.as_ref())
        } else {
            None
        };
        let limit = self.indication.and_then(|i| i.fluid.as_ref()).or(pe_limit);
        let has_iv = f.max_1h_iv_g > 0.0;
        match (&f.fluid, limit) {
            (_, _) if !has_iv => {}
            (None, Some(l)) => out.push(self.book.alert(
                "CHECK-FLUID-SKIPPED",
                &format!(
                    "no bag was given (--bag), so the volume could not be checked against the {} limit of {} mL/h ({})",
                    self.indication.map(|i| i.id.as_str()).unwrap_or(""),
                    fmt_num(l.max_ml_per_h),
                    l.source
                ),
            )?),
            (None, None) => {}
            (Some(v), Some(l)) => {
                // a 0.1 % rounding allowance (numerical)
                if v.max_maintenance_ml_per_h > l.max_ml_per_h * 1.001 {
                    out.push(self.book.alert(
                        "FLUID-RATE",
                        &format!(
                            "the maintenance infusion runs at {} mL/h from this bag (the load adds {} mL in its first hour); the {} limit is {} mL/h ({})",
                            fmt_num(v.max_maintenance_ml_per_h.round()),
                            fmt_num(v.max_ml_in_1h.round()),
                            self.indication.map(|i| i.id.as_str()).unwrap_or(""),
                            fmt_num(l.max_ml_per_h),
                            l.source
                        ),
                    )?);
                }
                if let Some(l24) = l.max_ml_per_24h {
                    // a 0.1 % rounding allowance (numerical)
                    if v.max_ml_in_24h > l24 * 1.001 {
                        out.push(self.book.alert(
                            "FLUID-24H",
                            &format!(
                                "up to {} mL in 24 h from the bag; limit {} mL/24 h ({})",
                                fmt_num(v.max_ml_in_24h.round()),
                                fmt_num(l24),
                                l.source
                            ),
                        )?);
                    }
                }
            }
            (Some(_), None) => {}
        }
        Ok(())
    }

    fn renal_alerts(&self, f: &OrderFacts, out: &mut Vec<Alert>) -> Result<(), SafetyError> {
        let b = self.book;
        let l48 = b.limit("RENAL-48H-20G", "g/48 h")?;
        let scr_only = b.limit("CHECK-RENAL-PARTIAL", "mg/dL")?;
        let severe_below_ml_min =
            mgiv_core::ranges::renal_category("severe-impairment")?.crcl_below_ml_min;
        let basis = renal_basis(self.patient);
        let failure = self.has_condition("renal-failure");
        let over = f.max_48h_g > l48 + 1e-9;
        let most = format!(
            "most in any 48 h: {} g ({} mmol)",
            fmt_num(f.max_48h_g),
            fmt_num(f.max_48h_g * crate::guardrail::mmol_per_g())
        );
        match basis {
            RenalBasis::Crcl(c) => {
                if over && (failure || c < severe_below_ml_min) {
                    let why = if failure {
                        "renal failure entered".to_string()
                    } else {
                        format!("CrCl {c:.0} mL/min")
                    };
                    out.push(b.alert("RENAL-48H-20G", &format!("{why}; {most}"))?);
                }
            }
            RenalBasis::CreatinineOnly(s) => {
                if over && (failure || s >= scr_only) {
                    out.push(b.alert(
                        "RENAL-48H-20G",
                        &format!(
                            "creatinine {} mg/dL{} (CrCl could not be computed: the gate used creatinine alone); {most}",
                            fmt_num(s),
                            if failure { ", renal failure entered" } else { "" }
                        ),
                    )?);
                }
                out.push(b.alert(
                    "CHECK-RENAL-PARTIAL",
                    &format!(
                        "CrCl needs weight, age and sex (given: {}); the renal gate used creatinine {} mg/dL alone (severe impairment assumed from {} mg/dL)",
                        given_list(self.patient),
                        fmt_num(s),
                        fmt_num(scr_only)
                    ),
                )?);
            }
            RenalBasis::Unknown => {
                if over && failure {
                    out.push(b.alert("RENAL-48H-20G", &format!("renal failure entered; {most}"))?);
                }
                if f.has_maintenance || over {
                    out.push(b.alert(
                        "CHECK-RENAL-MISSING",
                        "no creatinine, CrCl or eGFR was given",
                    )?);
                }
            }
        }
        Ok(())
    }
}

fn given_list(p: &Patient) -> String {
    let mut v = Vec::new();
    if p.weight_kg.is_some() {
        v.push("weight");
    }
    if p.age_y.is_some() {
        v.push("age");
    }
    if p.sex.is_some() || p.pregnant || p.pre_eclampsia {
        v.push("sex");
    }
    if p.scr_mg_dl.is_some() {
        v.push("creatinine");
    }
    if v.is_empty() {
        "none".into()
    } else {
        v.join(", ")
    }
}

fn join(v: &[usize]) -> String {
    v.iter()
        .map(|x| x.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use mgiv_core::regimen::Regimen;

    fn events(text: &str) -> Vec<DoseEvent> {
        Regimen::from_text(text, Some(70.0)).unwrap().events
    }

    #[test]
    fn windows_sum_concurrent_phases_and_match_hand_arithmetic() {
        // Zuspan: 4 g over 20 min then 1 g/h for 24 h: 28 g in all, 28 g in any 24 h window
        // starting at 0 (4 + 1 g/h × 23.67 h = 27.67 g) — computed by hand
        let e = events("4 g over 20 min, then 1 g/h for 24 h");
        let f = order_facts(&e, None, 48.0);
        assert!(
            (f.max_24h_g - (4.0 + 23.0 + 2.0 / 3.0)).abs() < 1e-6,
            "{}",
            f.max_24h_g
        );
        assert!((f.max_48h_g - 28.0).abs() < 1e-6);
        assert!((f.max_1h_iv_g - (4.0 + 2.0 / 3.0)).abs() < 1e-6);
        let l = f.iv_load.unwrap();
        assert!((l.g - 4.0).abs() < 1e-9 && l.phases == vec![1]);
        assert!(f.has_maintenance);
    }

    #[test]
    fn a_load_written_three_times_is_one_12_g_load() {
        let e = events(
            "4 g over 20 min, then 4 g over 20 min, then 4 g over 20 min, then 1 g/h for 24 h",
        );
        let l = order_facts(&e, None, 48.0).iv_load.unwrap();
        assert!((l.g - 12.0).abs() < 1e-6, "{}", l.g);
        assert_eq!(l.phases, vec![1, 2, 3]);
        assert_eq!(l.doses_g.len(), 3);
    }

    #[test]
    fn fluid_volume_follows_the_bag() {
        // 40 mEq in 1000 mL = 20 mmol/L; a 4 g (16.2 mmol) load over 20 min is 811 mL
        let bag = crate::bag::parse_bag("40 mEq in 1000 mL").unwrap();
        let e = events("4 g over 20 min, then 1 g/h for 24 h");
        let f = order_facts(&e, Some(bag), 48.0).fluid.unwrap();
        let mmol_per_ml = 20.0 / 1000.0;
        let expect_1h = (4.0 + 2.0 / 3.0) * crate::guardrail::mmol_per_g() / mmol_per_ml;
        assert!((f.max_ml_in_1h - expect_1h).abs() < 1e-6 * expect_1h);
        assert!(f.max_ml_in_1h > 900.0);
        // 1 g/h = 4.057 mmol/h at 0.02 mmol/mL = 203 mL/h (the observation)
        assert!(
            (f.max_maintenance_ml_per_h - crate::guardrail::mmol_per_g() / mmol_per_ml).abs()
                < 1e-6
        );
    }

    #[test]
    fn renal_basis_falls_back_to_creatinine() {
        let p = mgiv_core::patient::PatientInput {
            weight_kg: Some(70.0),
            creatinine: Some(mgiv_core::patient::Creatinine::MgPerDl(3.5)),
            pregnant: true,
            ..Default::default()
        }
        .validate()
        .unwrap();
        assert_eq!(renal_basis(&p), RenalBasis::CreatinineOnly(3.5));
        let mut p2 = p.clone();
        p2.age_y = Some(30.0);
        // pregnant → female for Cockcroft–Gault: (140-30)·70·0.85/(72·3.5)
        let expect = (140.0 - 30.0) * 70.0 * 0.85 / (72.0 * 3.5);
        match renal_basis(&p2) {
            RenalBasis::Crcl(c) => assert!((c - expect).abs() < 1e-6, "{c} vs {expect}"),
            other => panic!("{other:?}"),
        }
    }
}
