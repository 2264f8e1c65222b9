//! From records to mgiv-core dosing events and observations, one [`Segment`] per reset.
//!
//! Rules (each has a dataset with an analytic expectation in `data/nonmem-corpus/`):
//! - A reset (EVID 3, EVID 4, or a dose with SS 1/3) starts a new segment: the amounts above the
//!   endogenous baseline return to zero, and nothing given before it (pending ADDL doses and
//!   running infusions included) acts after it.
//! - ADDL gives `ADDL` more doses like the initiating one every II. An implied dose falls after
//!   any data record at the same time, so a sample recorded at a dose time is a trough.
//! - Data records at the same time act in file order: a sample before a dose record at the same
//!   time does not see that dose, a sample after it does.
//! - SS 1/2/3 with II > 0: the steady state reached by doses every II, the one on the record
//!   included, built from past doses reaching back `ss_history_h` (choose ≥ 50 terminal half-lives:
//!   [`EventOptions::for_modes`]; the residual is then below 2⁻⁵⁰ of the steady state). SS with
//!   II = 0, AMT = 0 and RATE > 0: a constant infusion at steady state that runs until the next
//!   reset.
//! - RATE -1 / -2: the rate / duration comes from the model ([`ModelledInput`]).

use mgiv_core::error::invalid;
use mgiv_core::regimen::{DoseEvent, Route};
use mgiv_core::solver::{modal, superposition, Modes};
use mgiv_core::units::{Hours, MgConc, MgRate};
use mgiv_core::MgivError;
use serde::Serialize;

use crate::read::{Censoring, Dose, DoseInput, Record, Subject};

/// Most doses one record may imply (ADDL, or the history of a steady state).
pub const MAX_IMPLIED: u32 = 100_000;

/// Modelled input for RATE = -1 (rate R1) and RATE = -2 (duration D1).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ModelledInput {
    pub rate: Option<MgRate>,
    pub duration: Option<Hours>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EventOptions {
    /// how far back the dose history of a steady-state record reaches, h
    pub ss_history_h: f64,
    pub modelled: ModelledInput,
}

impl EventOptions {
    /// 50 terminal half-lives of `modes`: the steady state is then exact to ~1e-15 relative.
    pub fn for_modes(modes: &Modes) -> Self {
        EventOptions {
            ss_history_h: 50.0 * modes.terminal_half_life_h(),
            modelled: ModelledInput::default(),
        }
    }
}

/// An observation inside a segment.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SegmentObservation {
    pub row: usize,
    /// on the individual's clock, h
    pub time_h: f64,
    /// on the segment's clock (time_h − origin_h), h
    pub clock_h: f64,
    pub dv: MgConc,
    pub censoring: Censoring,
    pub lloq: Option<MgConc>,
    pub occasion: Option<u32>,
    /// indices into `events` of doses at this very time that come after this record (file order,
    /// or implied ADDL doses): the solver counts them at this time, [`predict`] takes them out
    pub after_same_time: Vec<usize>,
}

/// Records between two resets, as solver input: events on the segment clock (which starts at
/// `origin_h` on the individual's clock, early enough for any steady-state history).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Segment {
    /// time of the reset (or the first record) on the individual's clock, h
    pub start_h: f64,
    pub origin_h: f64,
    pub events: Vec<DoseEvent>,
    pub observations: Vec<SegmentObservation>,
}

struct Pending {
    /// (event on the individual's clock, order key at equal times)
    events: Vec<(DoseEvent, f64)>,
    obs: Vec<(SegmentObservation, f64)>,
    start_h: f64,
}

impl Pending {
    fn new(start_h: f64) -> Self {
        Pending {
            events: Vec::new(),
            obs: Vec::new(),
            start_h,
        }
    }
    fn finish(self) -> Segment {
        let origin = self
            .events
            .iter()
            .map(|(e, _)| e.start_h())
            .fold(self.start_h, f64::min);
        let shift = |e: DoseEvent| match e {
            DoseEvent::Bolus {
                time_h,
                amount_mmol,
                route,
                phase,
            } => DoseEvent::Bolus {
                time_h: time_h - origin,
                amount_mmol,
                route,
                phase,
            },
            DoseEvent::Infusion {
                start_h,
                end_h,
                rate_mmol_per_h,
                phase,
            } => DoseEvent::Infusion {
                start_h: start_h - origin,
                end_h: end_h.map(|x| x - origin),
                rate_mmol_per_h,
                phase,
            },
        };
        let events: Vec<DoseEvent> = self.events.iter().map(|(e, _)| shift(*e)).collect();
        let observations = self
            .obs
            .into_iter()
            .map(|(mut o, key)| {
                o.clock_h = o.time_h - origin;
                o.after_same_time = self
                    .events
                    .iter()
                    .enumerate()
                    .filter(|(_, (e, k))| {
                        let t = e.start_h();
                        *k > key
                            && t <= o.time_h
                            && (t - o.time_h).abs() <= 1e-9 * o.time_h.abs().max(1.0)
                    })
                    .map(|(i, _)| i)
                    .collect();
                o
            })
            .collect();
        Segment {
            start_h: self.start_h,
            origin_h: origin,
            events,
            observations,
        }
    }
}

impl Subject {
    /// The individual's records as solver segments (see the module rules).
    pub fn segments(&self, opts: &EventOptions) -> Result<Vec<Segment>, MgivError> {
        if !(opts.ss_history_h.is_finite() && opts.ss_history_h > 0.0) {
            return Err(invalid(
                "ss_history_h",
                opts.ss_history_h,
                "a positive number of hours",
            ));
        }
        let mut out = Vec::new();
        let mut cur = Pending::new(self.records.first().map(|r| r.time_h).unwrap_or(0.0));
        for (seq, r) in self.records.iter().enumerate() {
            let key = seq as f64;
            if r.resets() && (!cur.events.is_empty() || !cur.obs.is_empty() || seq > 0) {
                let done = std::mem::replace(&mut cur, Pending::new(r.time_h));
                out.push(done.finish());
            }
            if let Some(d) = &r.dose {
                cur.push_dose(d, r, seq, opts)?;
            }
            if r.evid == 0 && !r.mdv {
                if let Some(o) = &r.observation {
                    cur.obs.push((
                        SegmentObservation {
                            row: r.row,
                            time_h: r.time_h,
                            clock_h: 0.0,
                            dv: o.dv,
                            censoring: o.censoring,
                            lloq: o.lloq,
                            occasion: r.occasion,
                            after_same_time: Vec::new(),
                        },
                        key,
                    ));
                }
            }
        }
        out.push(cur.finish());
        Ok(out)
    }
}

impl Pending {
    /// The events of one dose record (record `seq`): a constant steady-state infusion, the
    /// steady-state history (SS > 0), the dose itself and its ADDL repeats.
    fn push_dose(
        &mut self,
        d: &Dose,
        r: &Record,
        seq: usize,
        opts: &EventOptions,
    ) -> Result<(), MgivError> {
        let key = seq as f64;
        if d.route == Route::Im && !matches!(d.input, DoseInput::Bolus) {
            return Err(invalid(
                format!("CMT on row {}", r.row),
                "an infusion into the depot",
                "boluses into the depot",
            ));
        }
        if let (true, DoseInput::Rate { rate }) = (d.is_steady_infusion(), d.input) {
            self.events.push((
                DoseEvent::Infusion {
                    start_h: r.time_h - opts.ss_history_h,
                    end_h: None,
                    rate_mmol_per_h: rate.mmol_per_h(),
                    phase: seq,
                },
                key,
            ));
            return Ok(());
        }
        if d.ss != crate::read::SteadyState::No {
            let n_past = (opts.ss_history_h / d.ii_h).ceil();
            if n_past > MAX_IMPLIED as f64 {
                return Err(invalid(
                    format!("II on row {}", r.row),
                    format!("{} h", d.ii_h),
                    format!(
                        "an interval that reaches the steady state ({} h of history) in at most {MAX_IMPLIED} doses",
                        opts.ss_history_h
                    ),
                ));
            }
            for k in (1..=n_past as usize).rev() {
                let t = r.time_h - k as f64 * d.ii_h;
                self.events.push((administration(d, r, t, seq, opts)?, key));
            }
        }
        self.events
            .push((administration(d, r, r.time_h, seq, opts)?, key));
        for k in 1..=d.addl {
            // implied doses fall after every record at the same time
            let t = r.time_h + k as f64 * d.ii_h;
            self.events
                .push((administration(d, r, t, seq, opts)?, f64::INFINITY));
        }
        Ok(())
    }
}

/// One administration of the dose of record `r` (event phase `phase`) starting at `t` (h):
/// a bolus, or an infusion at the record's rate, over its duration, or by the model's rate or
/// duration (RATE -1 / -2).
fn administration(
    d: &Dose,
    r: &Record,
    t: f64,
    phase: usize,
    opts: &EventOptions,
) -> Result<DoseEvent, MgivError> {
    let amount = d.amount.mmol();
    let inf = |dur_h: f64| DoseEvent::Infusion {
        start_h: t,
        end_h: Some(t + dur_h),
        rate_mmol_per_h: amount / dur_h,
        phase,
    };
    Ok(match d.input {
        DoseInput::Bolus => DoseEvent::Bolus {
            time_h: t,
            amount_mmol: amount,
            route: d.route,
            phase,
        },
        DoseInput::Rate { rate } => DoseEvent::Infusion {
            start_h: t,
            end_h: Some(t + amount / rate.mmol_per_h()),
            rate_mmol_per_h: rate.mmol_per_h(),
            phase,
        },
        DoseInput::Duration { hours } => inf(hours),
        DoseInput::ModelledDuration => match opts.modelled.duration {
            Some(h) if h.h() > 0.0 => inf(h.h()),
            _ => {
                return Err(invalid(
                    format!("RATE on row {}", r.row),
                    "-2 (duration from the model)",
                    "a model with an infusion duration D1 > 0 h",
                ))
            }
        },
        DoseInput::ModelledRate => match opts.modelled.rate {
            Some(rt) if rt.mmol_per_h() > 0.0 => inf(amount / rt.mmol_per_h()),
            _ => {
                return Err(invalid(
                    format!("RATE on row {}", r.row),
                    "-1 (rate from the model)",
                    "a model with an infusion rate R1 > 0 mmol/h",
                ))
            }
        },
    })
}

/// Predicted total serum Mg (mmol/L) at each observation of a segment, with mgiv-core's modal
/// solver (baseline from `modes`).
pub fn predict(modes: &Modes, seg: &Segment) -> Vec<f64> {
    let times: Vec<f64> = seg.observations.iter().map(|o| o.clock_h).collect();
    let mut out = modal::concentrations(modes, &seg.events, &times);
    for (k, o) in seg.observations.iter().enumerate() {
        for &i in &o.after_same_time {
            out[k] -= superposition::event_response(modes, &seg.events[i], o.clock_h);
        }
    }
    out
}
