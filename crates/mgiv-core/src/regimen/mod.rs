//! Regimens: what a clinician writes (a [`RegimenSpec`], parsed from text, JSON or TOML) and what
//! the solvers consume (a [`Regimen`]: absolute dosing events on one clock, in mmol of Mg).
//!
//! Timing rules (printed back in the canonical form so a reader can check them):
//! - phases joined by `then` start when the previous group ends (the latest end of its phases);
//! - phases joined by `+` (or `with`) start together with the previous phase;
//! - a repeated dose (`every T`) after `then` gives its first dose one interval after the previous
//!   group started, or when it ended if that is later (Pritchard: 4 g IV + 10 g IM, then 5 g IM
//!   every 4 h → IM doses at 4, 8, 12, ... h); as a first phase its first dose is at time 0;
//! - `for D` on a repeated dose counts doses whose time is strictly inside D of the first phase
//!   reference (5 g every 4 h for 24 h → 5 doses after a load, 6 as a first phase), `x N` gives N doses;
//! - `at T` / `starting at T` sets a phase's start on the absolute clock.

mod parse;
pub use parse::{parse_regimen, ParseError};

use serde::{Deserialize, Serialize};
use std::fmt;

use crate::error::{invalid, MgivError};
use crate::units::{fmt_num, AmountUnit, Hours, MgAmount, MgRate, Salt};

/// Route of administration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum Route {
    #[default]
    #[serde(rename = "IV", alias = "iv")]
    Iv,
    #[serde(rename = "IM", alias = "im")]
    Im,
}

impl fmt::Display for Route {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Route::Iv => "IV",
            Route::Im => "IM",
        })
    }
}

/// How a phase is joined to the one before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Link {
    /// after the previous group ends ("then")
    #[default]
    Then,
    /// together with the previous phase ("+")
    With,
}

/// Time unit as written, kept for canonical printing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TimeUnit {
    Min,
    H,
    Day,
}

impl TimeUnit {
    pub fn hours(self, v: f64) -> Hours {
        match self {
            TimeUnit::Min => Hours::from_min(v),
            TimeUnit::H => Hours::from_h(v),
            TimeUnit::Day => Hours::from_days(v),
        }
    }
    fn symbol(self, v: f64) -> &'static str {
        match self {
            TimeUnit::Min => "min",
            TimeUnit::H => "h",
            TimeUnit::Day => {
                if (v - 1.0).abs() < 1e-12 {
                    "day"
                } else {
                    "days"
                }
            }
        }
    }
}

/// A duration as written ("20 min", "24 h", "14 days").
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Dur {
    pub value: f64,
    pub unit: TimeUnit,
}

impl Dur {
    pub fn hours(self) -> Hours {
        self.unit.hours(self.value)
    }
}

impl fmt::Display for Dur {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {}",
            fmt_num(self.value),
            self.unit.symbol(self.value)
        )
    }
}

/// An amount as written: value, unit and whether it is per kg of body weight.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Quantity {
    pub value: f64,
    pub unit: AmountUnit,
    #[serde(default)]
    pub per_kg: bool,
}

impl Quantity {
    /// The absolute amount, given the patient's weight when the quantity is per kg.
    pub fn resolve(&self, weight_kg: Option<f64>) -> Result<MgAmount, MgivError> {
        let base = self.unit.amount(self.value);
        if self.per_kg {
            match weight_kg {
                Some(w) => Ok(base.scaled(w)),
                None => Err(invalid(
                    "weight",
                    "not given",
                    format!(
                        "a body weight in kg (the regimen doses {} {}/kg)",
                        fmt_num(self.value),
                        self.unit.symbol()
                    ),
                )),
            }
        } else {
            Ok(base)
        }
    }
    fn write(&self, f: &mut fmt::Formatter<'_>, per: Option<TimeUnit>) -> fmt::Result {
        // The salt is always named so that "g" is never ambiguous in canonical text.
        let (unit_word, salt) = match self.unit {
            AmountUnit::GramsSalt(s) => ("g", Some(s)),
            AmountUnit::MilligramsSalt(s) => ("mg", Some(s)),
            AmountUnit::Mmol => ("mmol", None),
            AmountUnit::Meq => ("mEq", None),
            AmountUnit::MgElemental => ("mg-elemental", None),
        };
        write!(f, "{} {}", fmt_num(self.value), unit_word)?;
        if self.per_kg {
            f.write_str("/kg")?;
        }
        if let Some(p) = per {
            write!(f, "/{}", p.symbol(1.0))?;
        }
        if let Some(s) = salt {
            write!(f, " {}", s.formula())?;
        }
        Ok(())
    }
}

/// What a phase gives.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum PhaseKind {
    /// A dose: an IV bolus (no `over`), a zero-order IV infusion of the dose over a duration, or
    /// an IM injection; optionally repeated.
    Dose {
        dose: Quantity,
        #[serde(default)]
        route: Route,
        #[serde(default)]
        over: Option<Dur>,
        #[serde(default)]
        every: Option<Dur>,
        #[serde(default)]
        count: Option<u32>,
        #[serde(default, rename = "for")]
        for_: Option<Dur>,
    },
    /// A continuous IV infusion at a rate (amount per time unit), for a duration or open-ended.
    Rate {
        dose: Quantity,
        per: TimeUnit,
        #[serde(default, rename = "for")]
        for_: Option<Dur>,
    },
}

/// One phase of a regimen.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct PhaseSpec {
    #[serde(default)]
    pub link: Link,
    #[serde(flatten)]
    pub kind: PhaseKind,
    /// Absolute start on the regimen clock, overriding the link rule.
    #[serde(default)]
    pub at: Option<Dur>,
}

/// A regimen as written by a clinician.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RegimenSpec {
    pub phases: Vec<PhaseSpec>,
}

/// One absolute dosing event on the regimen clock.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum DoseEvent {
    /// Instantaneous IV bolus or IM injection (IM enters an absorption depot).
    Bolus {
        time_h: f64,
        amount_mmol: f64,
        route: Route,
        phase: usize,
    },
    /// Zero-order IV infusion from `start_h` to `end_h` (`None`: until the end of any simulation).
    Infusion {
        start_h: f64,
        end_h: Option<f64>,
        rate_mmol_per_h: f64,
        phase: usize,
    },
}

impl DoseEvent {
    pub fn start_h(&self) -> f64 {
        match *self {
            DoseEvent::Bolus { time_h, .. } => time_h,
            DoseEvent::Infusion { start_h, .. } => start_h,
        }
    }
    /// End time; an open-ended infusion ends at +∞.
    pub fn end_h(&self) -> f64 {
        match *self {
            DoseEvent::Bolus { time_h, .. } => time_h,
            DoseEvent::Infusion { end_h, .. } => end_h.unwrap_or(f64::INFINITY),
        }
    }
    /// Amount (mmol) given in the window [a, b): a bolus counts when it falls in the window (to
    /// 1e-12 h, so a bolus at exactly `b` belongs to the next window), an infusion by its overlap.
    pub fn amount_in_window_mmol(&self, a: f64, b: f64) -> f64 {
        match *self {
            DoseEvent::Bolus {
                time_h,
                amount_mmol,
                ..
            } => {
                if time_h >= a - 1e-12 && time_h < b - 1e-12 {
                    amount_mmol
                } else {
                    0.0
                }
            }
            DoseEvent::Infusion {
                start_h,
                end_h,
                rate_mmol_per_h,
                ..
            } => {
                let overlap = end_h.unwrap_or(f64::INFINITY).min(b) - start_h.max(a);
                rate_mmol_per_h * overlap.max(0.0)
            }
        }
    }
    /// Amount given up to time `t_h` (mmol): a bolus at exactly `t_h` counts.
    pub fn amount_given_by_mmol(&self, t_h: f64) -> f64 {
        match *self {
            DoseEvent::Bolus {
                time_h,
                amount_mmol,
                ..
            } if t_h >= time_h => amount_mmol,
            DoseEvent::Bolus { .. } => 0.0,
            DoseEvent::Infusion { .. } => self.amount_in_window_mmol(f64::NEG_INFINITY, t_h),
        }
    }
}

/// A regimen resolved for one patient: absolute events plus the spec it came from.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Regimen {
    pub spec: RegimenSpec,
    pub events: Vec<DoseEvent>,
}

// Plausibility limits for a single regimen element. These reject nonsense (a dose of 10 kg, a
// 20-year infusion), not unsafe-but-possible doses, which the safety layer flags with a severity.
const MAX_SINGLE_DOSE_MMOL: f64 = 2000.0; // ≈ 490 g MgSO4·7H2O
const MAX_RATE_MMOL_PER_H: f64 = 500.0; // ≈ 123 g/h
const MAX_DURATION_H: f64 = 24.0 * 90.0;
const MAX_EVENTS: usize = 10_000;

impl RegimenSpec {
    /// Parse clinician text, e.g. `4 g over 20 min, then 1 g/h for 24 h`.
    pub fn parse(text: &str) -> Result<Self, MgivError> {
        // checked like the JSON and TOML forms, so every spec that parses has a canonical text
        // that parses back (an interval of 3.3e15 h used to parse, print as "3.33e15 h" and fail)
        let spec = parse_regimen(text)?;
        spec.validate()?;
        Ok(spec)
    }

    /// Parse the JSON form (`{"phases": [...]}`).
    pub fn from_json(text: &str) -> Result<Self, MgivError> {
        let spec: RegimenSpec = serde_json::from_str(text)
            .map_err(|e| invalid("regimen JSON", e, "a regimen object; see docs/REGIMENS.md"))?;
        spec.validate()?;
        Ok(spec)
    }

    /// Parse the TOML form (`[[phases]]` tables).
    pub fn from_toml(text: &str) -> Result<Self, MgivError> {
        let spec: RegimenSpec = toml::from_str(text)
            .map_err(|e| invalid("regimen TOML", e, "a regimen table; see docs/REGIMENS.md"))?;
        spec.validate()?;
        Ok(spec)
    }

    /// Parse text, JSON or TOML, recognising JSON by a leading `{` and TOML by `[[phases]]`.
    pub fn parse_any(text: &str) -> Result<Self, MgivError> {
        let t = text.trim_start();
        if t.starts_with('{') {
            Self::from_json(text)
        } else if t.starts_with("[[phases]]") || t.starts_with("phases") {
            Self::from_toml(text)
        } else {
            Self::parse(text)
        }
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default()
    }

    /// Check values that any form of input could get wrong.
    pub fn validate(&self) -> Result<(), MgivError> {
        if self.phases.is_empty() {
            return Err(invalid("regimen", "empty", "at least one dose or infusion"));
        }
        for (i, p) in self.phases.iter().enumerate() {
            let n = i + 1;
            let q = match &p.kind {
                PhaseKind::Dose { dose, .. } | PhaseKind::Rate { dose, .. } => dose,
            };
            if !(q.value.is_finite() && q.value > 0.0) {
                return Err(invalid(
                    format!("phase {n} dose"),
                    fmt_num(q.value),
                    "a positive, finite amount",
                ));
            }
            let check_dur =
                |name: &str, d: &Option<Dur>, allow_zero: bool| -> Result<(), MgivError> {
                    if let Some(d) = d {
                        let h = d.hours().h();
                        let ok = h.is_finite()
                            && (h > 0.0 || (allow_zero && h == 0.0))
                            && h <= MAX_DURATION_H;
                        if !ok {
                            return Err(invalid(
                                format!("phase {n} {name}"),
                                d,
                                format!(
                                    "a positive duration of at most {} days",
                                    MAX_DURATION_H / 24.0
                                ),
                            ));
                        }
                    }
                    Ok(())
                };
            check_dur("start time ('at')", &p.at, true)?;
            match &p.kind {
                PhaseKind::Dose {
                    route,
                    over,
                    every,
                    count,
                    for_,
                    ..
                } => {
                    check_dur("infusion time ('over')", over, false)?;
                    check_dur("interval ('every')", every, false)?;
                    check_dur("duration ('for')", for_, false)?;
                    if *route == Route::Im && over.is_some() {
                        return Err(invalid(
                            format!("phase {n} route"),
                            "IM with 'over'",
                            "an IM injection is given at once; use IV for a dose given over time",
                        ));
                    }
                    if every.is_none() && (count.is_some() || for_.is_some()) {
                        return Err(invalid(
                            format!("phase {n}"),
                            "a repeat count or duration without 'every'",
                            "'every T' with 'x N' or 'for D' (e.g. '5 g IM every 4 h for 24 h')",
                        ));
                    }
                    if every.is_some() && count.is_none() && for_.is_none() {
                        return Err(invalid(
                            format!("phase {n}"),
                            "'every' without an end",
                            "a repeated dose needs 'for D' or 'x N' so the number of doses is explicit",
                        ));
                    }
                    if let Some(c) = count {
                        // input guard: at most 1000 repeated doses
                        if *c == 0 || *c > 1000 {
                            return Err(invalid(
                                format!("phase {n} dose count"),
                                c,
                                "from 1 to 1000 doses",
                            ));
                        }
                    }
                    if let (Some(o), Some(e)) = (over, every) {
                        if o.hours().h() > e.hours().h() {
                            return Err(invalid(
                                format!("phase {n} infusion time"),
                                o,
                                format!("at most the dosing interval ({e}); doses would overlap"),
                            ));
                        }
                    }
                }
                PhaseKind::Rate { for_, .. } => {
                    check_dur("duration ('for')", for_, false)?;
                }
            }
        }
        Ok(())
    }

    /// Resolve to absolute events for a patient (weight is needed only for per-kg doses).
    pub fn resolve(&self, weight_kg: Option<f64>) -> Result<Regimen, MgivError> {
        self.validate()?;
        let mut events = Vec::new();
        // start and end of the current group (phases joined by "+")
        let mut group = Group {
            start_h: 0.0,
            end_h: 0.0,
            prev_start_h: 0.0,
        };
        for (i, p) in self.phases.iter().enumerate() {
            let first = i == 0;
            let (start, repeat_offset) = group.phase_start(p, i)?;
            let first_event = events.len();
            let end = match &p.kind {
                PhaseKind::Dose {
                    dose,
                    route,
                    over,
                    every,
                    count,
                    for_,
                } => {
                    let n = i + 1;
                    let amount = dose.resolve(weight_kg)?;
                    check_amount(n, amount)?;
                    let times = match every {
                        None => vec![start],
                        Some(every) => {
                            // one interval after the previous group started, not before it ended
                            let first_dose = if repeat_offset {
                                (start + every.hours().h()).max(group.end_h)
                            } else {
                                start
                            };
                            repeat_times(n, start, first_dose, *every, *count, *for_)?
                        }
                    };
                    push_doses(&mut events, i, &times, amount, *route, *over)?.unwrap_or(start)
                }
                PhaseKind::Rate { dose, per, for_ } => {
                    let amount = dose.resolve(weight_kg)?;
                    let rate = amount.mmol() / per.hours(1.0).h();
                    check_rate(i + 1, rate)?;
                    let end_h = for_.map(|d| start + d.hours().h());
                    events.push(DoseEvent::Infusion {
                        start_h: start,
                        end_h,
                        rate_mmol_per_h: rate,
                        phase: i,
                    });
                    end_h.unwrap_or(f64::INFINITY)
                }
            };
            let phase_start = events
                .get(first_event)
                .map(|e| e.start_h())
                .unwrap_or(start);
            if first || p.link == Link::Then {
                group.start_h = phase_start;
                group.end_h = end;
            } else {
                group.end_h = group.end_h.max(end);
            }
            group.prev_start_h = phase_start;
            if events.len() > MAX_EVENTS {
                return Err(invalid(
                    "regimen",
                    format!("{} events", events.len()),
                    "at most 10000 dosing events",
                ));
            }
        }
        check_overlaps(&events)?;
        Ok(Regimen {
            spec: self.clone(),
            events,
        })
    }

    /// Canonical text (re-parses to the same spec).
    pub fn canonical(&self) -> String {
        self.to_string()
    }
}

/// The current group of phases (joined by "with") while a regimen is resolved.
struct Group {
    start_h: f64,
    end_h: f64,
    /// start of the previous phase
    prev_start_h: f64,
}

impl Group {
    /// Start (h) of phase `i` and whether a repeated dose counts its interval from the group's
    /// start ("then 1 g every 4 h": the first repeat one interval after the previous group began).
    fn phase_start(&self, p: &PhaseSpec, i: usize) -> Result<(f64, bool), MgivError> {
        if let Some(at) = p.at {
            return Ok((at.hours().h(), false));
        }
        if i == 0 {
            return Ok((0.0, false));
        }
        match p.link {
            Link::With => Ok((self.prev_start_h, false)),
            Link::Then => {
                if self.end_h.is_infinite() {
                    return Err(invalid(
                        format!("phase {}", i + 1),
                        "follows an infusion with no end",
                        "give the earlier infusion a duration with 'for' (e.g. '1 g/h for 24 h')",
                    ));
                }
                if matches!(p.kind, PhaseKind::Dose { every: Some(_), .. }) {
                    Ok((self.start_h, true))
                } else {
                    Ok((self.end_h, false))
                }
            }
        }
    }
}

/// Times of a repeated dose of phase `n`: from `first_dose_h` every `every`, `count` times or
/// while inside `for_` from the phase start (at least one, at most 10000).
fn repeat_times(
    n: usize,
    start_h: f64,
    first_dose_h: f64,
    every: Dur,
    count: Option<u32>,
    for_: Option<Dur>,
) -> Result<Vec<f64>, MgivError> {
    let t = every.hours().h();
    let mut v = Vec::new();
    let mut k = 0u32;
    loop {
        let tk = first_dose_h + t * k as f64;
        let within = match (count, for_) {
            (Some(c), _) => k < c,
            (None, Some(d)) => tk < start_h + d.hours().h() - 1e-9,
            (None, None) => false,
        };
        if !within {
            break;
        }
        v.push(tk);
        k += 1;
        if v.len() > MAX_EVENTS {
            return Err(invalid(
                format!("phase {n}"),
                "more than 10000 doses",
                "a regimen of at most 10000 events",
            ));
        }
    }
    if v.is_empty() {
        return Err(invalid(
            format!("phase {n} duration ('for')"),
            for_.map(|d| d.to_string()).unwrap_or_default(),
            format!("long enough for at least one dose every {every}"),
        ));
    }
    Ok(v)
}

/// One dose of phase `i` at each time: an infusion when it runs `over` a duration, else a bolus.
/// Returns when the last one ends (None for no times).
fn push_doses(
    events: &mut Vec<DoseEvent>,
    i: usize,
    times_h: &[f64],
    amount: MgAmount,
    route: Route,
    over: Option<Dur>,
) -> Result<Option<f64>, MgivError> {
    let mut last_end = None;
    for &tk in times_h {
        match over {
            Some(o) => {
                let d = o.hours().h();
                let rate = amount.mmol() / d;
                check_rate(i + 1, rate)?;
                events.push(DoseEvent::Infusion {
                    start_h: tk,
                    end_h: Some(tk + d),
                    rate_mmol_per_h: rate,
                    phase: i,
                });
                last_end = Some(tk + d);
            }
            None => {
                events.push(DoseEvent::Bolus {
                    time_h: tk,
                    amount_mmol: amount.mmol(),
                    route,
                    phase: i,
                });
                last_end = Some(tk);
            }
        }
    }
    Ok(last_end)
}

fn check_amount(n: usize, amount: MgAmount) -> Result<(), MgivError> {
    if amount.mmol() > MAX_SINGLE_DOSE_MMOL || !amount.mmol().is_finite() {
        return Err(invalid(
            format!("phase {n} dose"),
            format!(
                "{} mmol ({} g MgSO4·7H2O)",
                fmt_num(amount.mmol()),
                fmt_num(amount.salt_g(Salt::MgSo4Heptahydrate))
            ),
            format!("at most {MAX_SINGLE_DOSE_MMOL} mmol in one dose; check the unit"),
        ));
    }
    Ok(())
}

fn check_rate(n: usize, rate_mmol_h: f64) -> Result<(), MgivError> {
    if !(rate_mmol_h.is_finite() && rate_mmol_h <= MAX_RATE_MMOL_PER_H) {
        let r = MgRate::from_mmol_per_h(rate_mmol_h);
        return Err(invalid(
            format!("phase {n} rate"),
            format!(
                "{} mmol/h ({} g/h MgSO4·7H2O)",
                fmt_num(rate_mmol_h),
                fmt_num(r.salt_g_per_h(Salt::MgSo4Heptahydrate))
            ),
            format!("at most {MAX_RATE_MMOL_PER_H} mmol/h; check the unit and the infusion time"),
        ));
    }
    Ok(())
}

/// Two IV infusions of the same regimen may not overlap unless written with `+` (concurrent lines
/// are legitimate: e.g. a second line); overlapping `then` phases mean an error in the times.
fn check_overlaps(events: &[DoseEvent]) -> Result<(), MgivError> {
    let mut inf: Vec<(f64, f64, usize)> = events
        .iter()
        .filter_map(|e| match *e {
            DoseEvent::Infusion {
                start_h,
                end_h,
                phase,
                ..
            } => Some((start_h, end_h.unwrap_or(f64::INFINITY), phase)),
            _ => None,
        })
        .collect();
    inf.sort_by(|a, b| a.0.total_cmp(&b.0));
    for w in inf.windows(2) {
        let (a, b) = (w[0], w[1]);
        if a.2 == b.2 && b.0 < a.1 - 1e-9 {
            return Err(invalid(
                format!("phase {}", a.2 + 1),
                format!(
                    "infusions at {} h and {} h overlap",
                    fmt_num(a.0),
                    fmt_num(b.0)
                ),
                "repeated infusions that end before the next one starts",
            ));
        }
    }
    Ok(())
}

impl fmt::Display for RegimenSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, p) in self.phases.iter().enumerate() {
            if i > 0 {
                match p.link {
                    Link::Then => f.write_str(", then ")?,
                    Link::With => f.write_str(" + ")?,
                }
            }
            match &p.kind {
                PhaseKind::Dose {
                    dose,
                    route,
                    over,
                    every,
                    count,
                    for_,
                } => {
                    dose.write(f, None)?;
                    write!(f, " {route}")?;
                    if let Some(o) = over {
                        write!(f, " over {o}")?;
                    }
                    if let Some(e) = every {
                        write!(f, " every {e}")?;
                    }
                    if let Some(c) = count {
                        write!(f, " x {c}")?;
                    }
                    if let Some(d) = for_ {
                        write!(f, " for {d}")?;
                    }
                }
                PhaseKind::Rate { dose, per, for_ } => {
                    dose.write(f, Some(*per))?;
                    f.write_str(" IV")?;
                    if let Some(d) = for_ {
                        write!(f, " for {d}")?;
                    }
                }
            }
            if let Some(at) = p.at {
                write!(f, " starting at {at}")?;
            }
        }
        Ok(())
    }
}

impl Regimen {
    /// Parse text/JSON/TOML and resolve it for a patient weight in one step.
    pub fn from_text(text: &str, weight_kg: Option<f64>) -> Result<Self, MgivError> {
        RegimenSpec::parse_any(text)?.resolve(weight_kg)
    }

    /// Total amount given by time `t_h` (mmol).
    pub fn amount_given_by_mmol(&self, t_h: f64) -> f64 {
        self.events
            .iter()
            .map(|e| e.amount_given_by_mmol(t_h))
            .sum()
    }

    /// Time of the last finite event end (h); open-ended infusions are ignored.
    pub fn last_finite_time_h(&self) -> f64 {
        self.events
            .iter()
            .map(|e| match *e {
                DoseEvent::Bolus { time_h, .. } => time_h,
                DoseEvent::Infusion { start_h, end_h, .. } => end_h.unwrap_or(start_h),
            })
            .fold(0.0, f64::max)
    }

    /// True when some infusion never stops.
    pub fn has_open_infusion(&self) -> bool {
        self.events
            .iter()
            .any(|e| matches!(e, DoseEvent::Infusion { end_h: None, .. }))
    }

    /// Whether any dose is IM.
    pub fn has_im(&self) -> bool {
        self.events.iter().any(|e| {
            matches!(
                e,
                DoseEvent::Bolus {
                    route: Route::Im,
                    ..
                }
            )
        })
    }

    /// Canonical text of the spec.
    pub fn canonical(&self) -> String {
        self.spec.canonical()
    }
}

#[cfg(test)]
mod tests;
