//! One data row at a time: identity, time, event type, dose or observation, and the checks
//! that tie a record to the one before it. Every problem is a coded diagnostic on the row.

use std::collections::{BTreeMap, HashSet};

use mgiv_core::regimen::Route;
use mgiv_core::units::{MgConc, MgRate};

use super::{
    is_missing, item_name, parse_clock, parse_date, Censoring, Columns, Dialect, Dose, DoseInput,
    Item, Observation, Record, Role, Row, SteadyState, Subject, Units,
};
use crate::diag::{Diagnostic, Severity};

/// A row's fields looked up by data item.
struct Fields<'r> {
    cols: &'r Columns,
    fields: &'r [String],
    line: usize,
}

impl<'r> Fields<'r> {
    /// (column name, raw text) of a data item, if the dataset has it.
    fn field(&self, it: Item) -> Option<(&'r str, &'r str)> {
        self.cols
            .roles
            .iter()
            .position(|r| *r == Role::Item(it))
            .map(|j| (self.cols.names[j].as_str(), self.fields[j].as_str()))
    }

    /// The column a data item is read from (its standard name when the dataset lacks it).
    fn col(&self, it: Item) -> &'r str {
        self.field(it).map(|f| f.0).unwrap_or(item_name(it))
    }

    /// A data item as a finite number; None when missing, E-NUMBER when not a number.
    fn num(&self, it: Item, d: &mut Vec<Diagnostic>) -> Option<f64> {
        let (col, v) = self.field(it)?;
        if is_missing(v) {
            return None;
        }
        match v.trim().parse::<f64>() {
            Ok(x) if x.is_finite() => Some(x),
            _ => {
                self.push(
                    d,
                    "E-NUMBER",
                    Severity::Error,
                    Some(col),
                    format!("'{v}' is not a number"),
                    "a number, or '.' for missing",
                );
                None
            }
        }
    }

    /// A diagnostic on this row.
    fn push(
        &self,
        d: &mut Vec<Diagnostic>,
        code: &'static str,
        severity: Severity,
        column: Option<&str>,
        message: impl Into<String>,
        expected: impl Into<String>,
    ) {
        d.push(Diagnostic::new(
            code,
            severity,
            Some(self.line),
            column,
            message,
            expected,
        ));
    }

    /// An error on this row that marks the record as not read.
    fn error(
        &self,
        d: &mut Vec<Diagnostic>,
        row_ok: &mut bool,
        code: &'static str,
        column: &str,
        message: impl Into<String>,
        expected: impl Into<String>,
    ) {
        self.push(d, code, Severity::Error, Some(column), message, expected);
        *row_ok = false;
    }

    /// The individual's identifier ("1" and "1.0" are the same individual).
    fn id(&self, d: &mut Vec<Diagnostic>) -> Option<String> {
        match self.field(Item::Id) {
            Some((_, v)) if !is_missing(v) => {
                let v = v.trim();
                Some(
                    v.parse::<f64>()
                        .ok()
                        .filter(|x| x.fract() == 0.0)
                        .map(|x| format!("{}", x as i64))
                        .unwrap_or_else(|| v.to_string()),
                )
            }
            _ => {
                self.push(
                    d,
                    "E-ID-MISSING",
                    Severity::Error,
                    Some("ID"),
                    "no ID",
                    "an identifier of the individual",
                );
                None
            }
        }
    }

    /// The covariate values of the row (W-COVARIATE-MISSING for each missing one).
    fn covariates(&self, d: &mut Vec<Diagnostic>) -> Vec<Option<f64>> {
        let mut covs = vec![None; self.cols.covariates.len()];
        for (j, r) in self.cols.roles.iter().enumerate() {
            if let Role::Covariate(k) = r {
                let v = &self.fields[j];
                let name = &self.cols.names[j];
                if is_missing(v) {
                    self.push(
                        d,
                        "W-COVARIATE-MISSING",
                        Severity::Warning,
                        Some(name),
                        format!("{name} missing"),
                        "a value on every record (filled from the neighbouring record: NOCB unless LOCF is chosen)",
                    );
                } else {
                    covs[*k] = v.parse::<f64>().ok();
                }
            }
        }
        covs
    }
}

/// The numeric data items of a row, read in this order (their E-NUMBER diagnostics too).
struct Values {
    amt: Option<f64>,
    mdv: Option<f64>,
    evid: Option<f64>,
    dv: Option<f64>,
    rate: Option<f64>,
    dur: Option<f64>,
    addl: f64,
    ii: f64,
    ss: f64,
    cmt: Option<f64>,
    cens: Option<f64>,
    blq: Option<f64>,
    lloq: Option<f64>,
    occ: Option<f64>,
    dvid: Option<String>,
}

impl Values {
    fn read(f: &Fields, dialect: Dialect, d: &mut Vec<Diagnostic>) -> Values {
        let amt = f.num(Item::Amt, d);
        let mdv = f.num(Item::Mdv, d);
        let evid = f.num(Item::Evid, d);
        let mut dv = f.num(Item::Dv, d);
        if dialect == Dialect::Pmetrics && dv == Some(-99.0) {
            dv = None; // Pmetrics: -99 is a missing observation
        }
        Values {
            amt,
            mdv,
            evid,
            dv,
            rate: f.num(Item::Rate, d),
            dur: f.num(Item::Dur, d),
            addl: f.num(Item::Addl, d).unwrap_or(0.0),
            ii: f.num(Item::Ii, d).unwrap_or(0.0),
            ss: f.num(Item::Ss, d).unwrap_or(0.0),
            cmt: f.num(Item::Cmt, d),
            cens: f.num(Item::Cens, d),
            blq: f.num(Item::Blq, d),
            lloq: f.num(Item::Lloq, d),
            occ: f.num(Item::Occ, d),
            dvid: f.field(Item::Dvid).map(|x| x.1.trim().to_string()),
        }
    }
}

/// Reads rows into individuals, keeping what later rows are checked against.
pub(super) struct Reader<'a> {
    cols: &'a Columns,
    dialect: Dialect,
    units: &'a Units,
    /// hours per TIME unit
    tf: f64,
    central: u32,
    depot: Option<u32>,
    evid_inferred: bool,
    subjects: Vec<Subject>,
    ids_done: HashSet<String>,
    seen_rows: HashSet<Vec<String>>,
    /// absolute time (h) of the individual's first DATE/TIME record
    origin_h: Option<f64>,
    dvids: BTreeMap<String, usize>,
    dv_unit_missing_reported: bool,
    amt_unit_missing_reported: bool,
}

impl<'a> Reader<'a> {
    pub(super) fn new(
        cols: &'a Columns,
        dialect: Dialect,
        units: &'a Units,
        central: u32,
        depot: Option<u32>,
        d: &mut Vec<Diagnostic>,
    ) -> Reader<'a> {
        let evid_inferred = !cols.has(Item::Evid);
        if evid_inferred {
            d.push(Diagnostic::new(
                "I-EVID-INFERRED",
                Severity::Info,
                Some(cols.header_line),
                Some("EVID"),
                "no EVID column: a record with AMT > 0 is a dose, else an observation unless MDV is 1",
                "",
            ));
        }
        Reader {
            cols,
            dialect,
            units,
            tf: units.time.hours(),
            central,
            depot,
            evid_inferred,
            subjects: Vec::new(),
            ids_done: HashSet::new(),
            seen_rows: HashSet::new(),
            origin_h: None,
            dvids: BTreeMap::new(),
            dv_unit_missing_reported: false,
            amt_unit_missing_reported: false,
        }
    }

    /// Read one data row: a record of the current individual, or diagnostics saying why not.
    pub(super) fn read_row(&mut self, row: &Row, d: &mut Vec<Diagnostic>) {
        let f = Fields {
            cols: self.cols,
            fields: &row.fields,
            line: row.line,
        };
        if row.fields.len() != self.cols.names.len() {
            f.push(
                d,
                "E-FIELD-COUNT",
                Severity::Error,
                None,
                format!("{} fields", row.fields.len()),
                format!("{} fields, one per header column", self.cols.names.len()),
            );
            return;
        }
        let diag_start = d.len();
        let Some(id) = f.id(d) else { return };
        self.enter_subject(&f, &id, d);
        if !self.first_occurrence(&f, &id) {
            f.push(
                d,
                "E-DUPLICATE-ROW",
                Severity::Error,
                None,
                "the same record as an earlier row",
                "each record once",
            );
            return;
        }
        let mut row_ok = true;
        let Some(time_h) = self.time_h(&f, &mut row_ok, d) else {
            return;
        };
        if time_h < 0.0 {
            f.error(
                d,
                &mut row_ok,
                "E-TIME-NEGATIVE",
                f.col(Item::Time),
                format!("TIME {} is negative", time_h / self.tf),
                "a time of 0 or later",
            );
        }
        let mut v = Values::read(&f, self.dialect, d);
        let covariates = f.covariates(d);
        let Some((evid, mdv)) = self.evid_mdv(&f, &v, &mut row_ok, d) else {
            return;
        };
        let Some(ss) = self.addl_ss(&f, &mut v, evid, &mut row_ok, d) else {
            return;
        };
        let dose = if evid == 1 || evid == 4 {
            self.dose(&f, &v, evid, ss, &mut row_ok, d)
        } else {
            None
        };
        let observation = if evid == 0 {
            self.observation(&f, &v, mdv, &mut row_ok, d)
        } else {
            None
        };
        if let Some(o) = v.occ {
            if !(o >= 0.0 && o.fract() == 0.0 && o <= f64::from(u32::MAX)) {
                f.error(
                    d,
                    &mut row_ok,
                    "E-OCC",
                    f.col(Item::Occ),
                    format!("OCC {o}"),
                    "a non-negative whole number (the occasion)",
                );
            }
        }
        let resets = evid == 3 || evid == 4 || ss.resets();
        self.check_order(
            &f,
            &id,
            (time_h, evid, mdv, resets),
            &observation,
            &mut row_ok,
            d,
        );
        if !row_ok
            || d[diag_start..]
                .iter()
                .any(|x| x.severity == Severity::Error)
        {
            return;
        }
        let record = Record {
            row: f.line,
            time_h,
            evid,
            mdv,
            cmt: v.cmt.map(|c| c as u32),
            dose,
            observation,
            occasion: v.occ.map(|o| o as u32),
            covariates,
        };
        self.push_record(&f, &id, record, d);
    }

    /// The individuals read, after the whole-file check that there is one output type.
    pub(super) fn finish(self, d: &mut Vec<Diagnostic>) -> Vec<Subject> {
        if self.dvids.len() > 1 {
            d.push(Diagnostic::new(
                "E-OUTPUT",
                Severity::Error,
                None,
                Some(item_name(Item::Dvid)),
                format!(
                    "{} output types ({})",
                    self.dvids.len(),
                    self.dvids.keys().cloned().collect::<Vec<_>>().join(", ")
                ),
                "one output: total serum Mg",
            ));
        }
        self.subjects
    }

    /// A new individual starts when the ID changes (W-ID-NONCONTIGUOUS when it was seen before).
    fn enter_subject(&mut self, f: &Fields, id: &str, d: &mut Vec<Diagnostic>) {
        if self.subjects.last().is_some_and(|s| s.id == id) {
            return;
        }
        if self.ids_done.contains(id) {
            f.push(
                d,
                "W-ID-NONCONTIGUOUS",
                Severity::Warning,
                Some("ID"),
                format!("ID {id} appears again after other IDs: read as a new individual"),
                "all records of an individual together",
            );
        }
        self.ids_done.insert(id.to_string());
        self.subjects.push(Subject {
            id: id.to_string(),
            records: Vec::new(),
        });
        self.origin_h = None;
    }

    /// False for a row with the same values as an earlier one in every column that is read (an
    /// ignored text column, e.g. a comment, does not make two records different: it is not
    /// written back either).
    fn first_occurrence(&mut self, f: &Fields, id: &str) -> bool {
        self.seen_rows.insert(
            std::iter::once(id.to_string())
                .chain(
                    f.fields
                        .iter()
                        .enumerate()
                        .filter(|(j, _)| !matches!(self.cols.roles.get(*j), Some(Role::Ignored)))
                        .map(|(_, x)| x.clone()),
                )
                .collect(),
        )
    }

    /// The record's time in hours: TIME in the declared unit, or DATE and clock time relative
    /// to the individual's first such record.
    fn time_h(&mut self, f: &Fields, row_ok: &mut bool, d: &mut Vec<Diagnostic>) -> Option<f64> {
        let time_col = f.col(Item::Time);
        let time_raw = f.field(Item::Time).map(|x| x.1.trim().to_string());
        let mut time_h: Option<f64> = None;
        if let Some((dcol, dv)) = f.field(Item::Date) {
            match (parse_date(dv), time_raw.as_deref()) {
                (Some(day), Some(tv)) if !is_missing(tv) => {
                    let clock =
                        parse_clock(tv).or_else(|| tv.parse::<f64>().ok().map(|x| x * self.tf));
                    match clock {
                        Some(c) => {
                            let abs = day as f64 * 24.0 + c;
                            let o = *self.origin_h.get_or_insert(abs);
                            time_h = Some(abs - o);
                        }
                        None => f.error(
                            d,
                            row_ok,
                            "E-DATE",
                            time_col,
                            format!("'{tv}' is not a clock time"),
                            "hh:mm or hh:mm:ss",
                        ),
                    }
                }
                (None, _) => f.error(
                    d,
                    row_ok,
                    "E-DATE",
                    dcol,
                    format!("'{dv}' is not a date"),
                    "yyyy-mm-dd, yyyy/mm/dd or mm/dd/yyyy",
                ),
                _ => {}
            }
        } else if let Some(tv) = time_raw.as_deref() {
            if tv.contains(':') {
                f.error(
                    d,
                    row_ok,
                    "E-DATE",
                    time_col,
                    format!("clock time '{tv}' without a DATE column"),
                    "TIME as a number of hours (or the declared unit), or a DATE column with clock times",
                );
            } else if let Some(t) = f.num(Item::Time, d) {
                time_h = Some(t * self.tf);
            }
        }
        if time_h.is_none() && *row_ok {
            f.push(
                d,
                "E-TIME-MISSING",
                Severity::Error,
                Some(time_col),
                "no TIME",
                "a time for every record",
            );
        }
        time_h
    }

    /// EVID (read, or inferred without an EVID column) and MDV, with their consistency checks.
    /// None when the record cannot be read at all.
    fn evid_mdv(
        &self,
        f: &Fields,
        v: &Values,
        row_ok: &mut bool,
        d: &mut Vec<Diagnostic>,
    ) -> Option<(u8, bool)> {
        let evid_expected = "0 observation, 1 dose, 2 other, 3 reset, 4 reset and dose";
        let evid: u8 = match v.evid {
            Some(e) if e.fract() == 0.0 && (0.0..=4.0).contains(&e) => e as u8,
            Some(e) => {
                f.error(
                    d,
                    row_ok,
                    "E-EVID",
                    f.col(Item::Evid),
                    format!("EVID {e}"),
                    evid_expected,
                );
                return None;
            }
            None if self.evid_inferred => {
                if v.amt.is_some_and(|a| a > 0.0) {
                    1
                } else if v.mdv == Some(1.0) {
                    2
                } else {
                    0
                }
            }
            None => {
                f.error(
                    d,
                    row_ok,
                    "E-EVID",
                    f.col(Item::Evid),
                    "EVID missing",
                    evid_expected,
                );
                return None;
            }
        };
        let mdv = match v.mdv {
            Some(m) if m == 0.0 || m == 1.0 => m == 1.0,
            Some(m) => {
                f.error(
                    d,
                    row_ok,
                    "E-EVID-MDV",
                    f.col(Item::Mdv),
                    format!("MDV {m}"),
                    "MDV 0 (DV is an observation) or 1 (it is not)",
                );
                return None;
            }
            None => evid != 0 || (!self.cols.has(Item::Mdv) && v.dv.is_none()),
        };
        if evid != 0 && !mdv {
            f.error(
                d,
                row_ok,
                "E-EVID-MDV",
                f.col(Item::Mdv),
                format!("EVID {evid} with MDV 0"),
                "MDV 1 on every record that is not an observation (EVID 1-4)",
            );
        }
        if evid == 0 && v.amt.is_some_and(|a| a != 0.0) {
            f.push(
                d,
                "W-AMT-ON-OBS",
                Severity::Warning,
                Some(f.col(Item::Amt)),
                format!(
                    "AMT {} on an observation record: ignored",
                    v.amt.unwrap_or(0.0)
                ),
                "AMT on dose records (EVID 1 or 4) only",
            );
        }
        if evid != 0 && v.dv.is_some_and(|x| x != 0.0) {
            f.push(
                d,
                "W-DV-ON-DOSE",
                Severity::Warning,
                Some(f.col(Item::Dv)),
                format!(
                    "DV {} on an EVID {evid} record: ignored",
                    v.dv.unwrap_or(0.0)
                ),
                "DV on observation records (EVID 0) only",
            );
        }
        Some((evid, mdv))
    }

    /// ADDL, II and SS (Pmetrics' ADDL -1 read as SS 1). None when the record cannot be read.
    fn addl_ss(
        &self,
        f: &Fields,
        v: &mut Values,
        evid: u8,
        row_ok: &mut bool,
        d: &mut Vec<Diagnostic>,
    ) -> Option<SteadyState> {
        // Pmetrics: ADDL -1 with II > 0 is a steady-state dose
        if self.dialect == Dialect::Pmetrics && v.addl == -1.0 && v.ii > 0.0 {
            v.addl = 0.0;
            v.ss = 1.0;
        }
        let (addl, ii) = (v.addl, v.ii);
        let is_dose = evid == 1 || evid == 4;
        if !(addl >= 0.0 && addl.fract() == 0.0 && addl <= crate::events::MAX_IMPLIED as f64)
            || ii < 0.0
        {
            let column = f.col(if ii < 0.0 { Item::Ii } else { Item::Addl });
            f.error(
                d,
                row_ok,
                "E-ADDL-II",
                column,
                format!("ADDL {addl}, II {ii}"),
                "ADDL a whole number from 0 to 100000, II 0 or more",
            );
            return None;
        }
        if !(v.ss.fract() == 0.0 && (0.0..=3.0).contains(&v.ss)) {
            f.error(
                d,
                row_ok,
                "E-SS",
                f.col(Item::Ss),
                format!("SS {}", v.ss),
                "0 (no), 1 (reset + steady state), 2 (steady state added), 3 (as 1)",
            );
            return None;
        }
        let ss = match v.ss as u8 {
            0 => SteadyState::No,
            1 => SteadyState::Reset,
            2 => SteadyState::Add,
            _ => SteadyState::ResetInitialEstimate,
        };
        if !is_dose && (addl > 0.0 || ss != SteadyState::No) {
            let column = f.col(if addl > 0.0 { Item::Addl } else { Item::Ss });
            f.error(
                d,
                row_ok,
                "E-ADDL-II",
                column,
                format!("ADDL {addl} / SS {} on an EVID {evid} record", ss.code()),
                "ADDL and SS on dose records (EVID 1 or 4) only",
            );
        }
        Some(ss)
    }

    /// A dose record's dose, None when any check of the row failed.
    fn dose(
        &mut self,
        f: &Fields,
        v: &Values,
        evid: u8,
        ss: SteadyState,
        row_ok: &mut bool,
        d: &mut Vec<Diagnostic>,
    ) -> Option<Dose> {
        let rate = v.rate.unwrap_or(0.0);
        let steady_infusion = ss != SteadyState::No && v.ii == 0.0 && rate > 0.0;
        check_dose_amount(f, v, evid, steady_infusion, row_ok, d);
        check_dose_schedule(f, v, ss, steady_infusion, row_ok, d);
        let input = self.dose_input(f, v, row_ok, d);
        let route = self.dose_route(f, v, input, row_ok, d);
        let unit = match self.units.amt {
            Some(u) => Some(u),
            None => {
                if !self.amt_unit_missing_reported {
                    self.amt_unit_missing_reported = true;
                    f.push(
                        d,
                        "E-UNIT-MISSING",
                        Severity::Error,
                        Some(f.col(Item::Amt)),
                        "the dataset has doses but the unit of AMT is not declared",
                        "--amt-unit (or a '# AMT_UNIT=...' line): g or mg of a named salt, mmol, mEq",
                    );
                }
                None
            }
        };
        let (Some(mut input), Some(route), Some(unit), true) = (input, route, unit, *row_ok) else {
            return None;
        };
        if let DoseInput::Rate { rate: r } = &mut input {
            // RATE is in AMT units per time unit
            *r = MgRate::from_mmol_per_h(unit.amount(rate).mmol() / self.tf);
        }
        Some(Dose {
            amount: unit.amount(v.amt.unwrap_or(0.0)),
            route,
            input,
            addl: v.addl as u32,
            ii_h: v.ii * self.tf,
            ss,
        })
    }

    /// How the dose enters: bolus, infusion at a rate or over a duration, or modelled (RATE -1/-2).
    fn dose_input(
        &self,
        f: &Fields,
        v: &Values,
        row_ok: &mut bool,
        d: &mut Vec<Diagnostic>,
    ) -> Option<DoseInput> {
        let rate = v.rate.unwrap_or(0.0);
        let dur = v.dur.unwrap_or(0.0);
        if rate > 0.0 {
            Some(DoseInput::Rate {
                rate: MgRate::from_mmol_per_h(0.0), // unit applied by the caller
            })
        } else if rate == -1.0 {
            Some(DoseInput::ModelledRate)
        } else if rate == -2.0 {
            Some(DoseInput::ModelledDuration)
        } else if rate == 0.0 {
            Some(if dur > 0.0 {
                DoseInput::Duration {
                    hours: dur * self.tf,
                }
            } else {
                DoseInput::Bolus
            })
        } else {
            f.error(
                d,
                row_ok,
                "E-RATE",
                f.col(Item::Rate),
                format!("RATE {rate}"),
                "0 (bolus), > 0 (infusion rate in AMT units per time unit), -1 (rate from the model), -2 (duration from the model)",
            );
            None
        }
    }

    /// IV into the central compartment, IM into the depot; E-CMT for any other compartment.
    fn dose_route(
        &self,
        f: &Fields,
        v: &Values,
        input: Option<DoseInput>,
        row_ok: &mut bool,
        d: &mut Vec<Diagnostic>,
    ) -> Option<Route> {
        let central = self.central;
        let cmt = v.cmt.map(|c| c as i64).unwrap_or(central as i64);
        if cmt == central as i64 || (cmt == 0 && v.cmt.is_some()) {
            Some(Route::Iv)
        } else if self.depot.is_some_and(|dp| dp as i64 == cmt) {
            if !matches!(input, Some(DoseInput::Bolus)) {
                f.error(
                    d,
                    row_ok,
                    "E-CMT",
                    f.col(Item::Cmt),
                    format!("an infusion into the depot compartment {cmt}"),
                    "infusions into the central compartment; depot doses are boluses (IM)",
                );
            }
            Some(Route::Im)
        } else {
            f.error(
                d,
                row_ok,
                "E-CMT",
                f.col(Item::Cmt),
                format!("dose into compartment {cmt}"),
                format!(
                    "the central compartment {central}{}",
                    self.depot
                        .map(|dp| format!(" or the depot {dp}"))
                        .unwrap_or_default()
                ),
            );
            None
        }
    }

    /// An observation record's observation, None when any check of the row failed.
    fn observation(
        &mut self,
        f: &Fields,
        v: &Values,
        mdv: bool,
        row_ok: &mut bool,
        d: &mut Vec<Diagnostic>,
    ) -> Option<Observation> {
        let central = self.central;
        if let Some(c) = v.cmt {
            if c != central as f64 && c != 0.0 {
                f.error(
                    d,
                    row_ok,
                    "E-CMT",
                    f.col(Item::Cmt),
                    format!("observation in compartment {c}"),
                    format!(
                        "observations of serum Mg, in the central compartment {central} (or 0)"
                    ),
                );
            }
        }
        if let Some(t) = &v.dvid {
            if !is_missing(t) {
                *self.dvids.entry(t.clone()).or_insert(f.line) += 0;
            }
        }
        let censoring = censoring(f, v, row_ok, d);
        let Some(dv) = v.dv else {
            if !mdv {
                f.error(
                    d,
                    row_ok,
                    "E-DV-MISSING",
                    f.col(Item::Dv),
                    "an observation record (EVID 0, MDV 0) without DV",
                    "a DV, or MDV 1 for a record without an observation",
                );
            }
            return None;
        };
        if dv < 0.0 {
            f.error(
                d,
                row_ok,
                "E-DV-NEGATIVE",
                f.col(Item::Dv),
                format!("DV {dv}: a negative concentration"),
                "a concentration of 0 or more (censor values below the LLOQ with CENS/BLQ)",
            );
        }
        let Some(u) = self.units.dv else {
            if !self.dv_unit_missing_reported {
                self.dv_unit_missing_reported = true;
                f.push(
                    d,
                    "E-UNIT-MISSING",
                    Severity::Error,
                    Some(f.col(Item::Dv)),
                    "the unit of DV is not declared",
                    "--dv-unit (or a '# DV_UNIT=...' line): mmol/L, mg/dL or mEq/L",
                );
            }
            return None;
        };
        let c = MgConc::from_unit(dv, u);
        if !mdv && censoring == Censoring::None && dv >= 0.0 && !(0.1..=10.0).contains(&c.mmol_l())
        {
            f.push(
                d,
                "W-DV-IMPLAUSIBLE",
                Severity::Warning,
                Some(f.col(Item::Dv)),
                format!(
                    "DV {dv} {} = {:.3} mmol/L is not a plausible total serum Mg",
                    u.symbol(),
                    c.mmol_l()
                ),
                "0.1-10 mmol/L; check the declared DV unit",
            );
        }
        let lloq = match (censoring, v.lloq) {
            (_, Some(l)) => Some(MgConc::from_unit(l, u)),
            (Censoring::Below, None) => Some(c),
            _ => None,
        };
        if censoring == Censoring::None && v.lloq.is_some_and(|l| dv < l) && !mdv {
            f.push(
                d,
                "W-BELOW-LLOQ",
                Severity::Warning,
                Some(f.col(Item::Dv)),
                format!(
                    "DV {dv} below LLOQ {} but not censored",
                    v.lloq.unwrap_or(0.0)
                ),
                "CENS 1 (or BLQ 1) on values below the LLOQ",
            );
        }
        (*row_ok).then_some(Observation {
            dv: c,
            censoring,
            lloq,
        })
    }

    /// E-TIME-ORDER (time going back without a reset) and W-OBS-SAME-TIME (two different
    /// observations at one time), against the individual's previous record.
    fn check_order(
        &self,
        f: &Fields,
        id: &str,
        (time_h, evid, mdv, resets): (f64, u8, bool, bool),
        observation: &Option<Observation>,
        row_ok: &mut bool,
        d: &mut Vec<Diagnostic>,
    ) {
        let Some(prev) = self.subjects.last().and_then(|s| s.records.last()) else {
            return;
        };
        let tf = self.tf;
        if time_h < prev.time_h && !resets {
            f.error(
                d,
                row_ok,
                "E-TIME-ORDER",
                f.col(Item::Time),
                format!(
                    "TIME {} before the previous record's {} (row {}) in ID {id}",
                    time_h / tf,
                    prev.time_h / tf,
                    prev.row
                ),
                "non-decreasing TIME within an individual (it may go back only at a reset, EVID 3 or 4)",
            );
        }
        if let (Some(o), Some(po), true) = (observation, &prev.observation, evid == 0) {
            if prev.evid == 0 && prev.time_h == time_h && po.dv != o.dv && !mdv && !prev.mdv {
                f.push(
                    d,
                    "W-OBS-SAME-TIME",
                    Severity::Warning,
                    Some(f.col(Item::Dv)),
                    format!(
                        "a second observation at TIME {} with another DV",
                        time_h / tf
                    ),
                    "one observation per time (or an OCC/DVID to tell them apart)",
                );
            }
        }
    }

    /// Add the record to its individual, unless it equals an earlier record as read (rows that
    /// differ only in what a record of their kind does not use, e.g. RATE on a sample, read as
    /// one record): a duplicate as well.
    fn push_record(&mut self, f: &Fields, id: &str, record: Record, d: &mut Vec<Diagnostic>) {
        let same_as_read = self
            .subjects
            .iter()
            .filter(|s| s.id == id)
            .flat_map(|s| &s.records)
            .any(|r| {
                Record {
                    row: f.line,
                    ..r.clone()
                } == record
            });
        if same_as_read {
            f.push(
                d,
                "E-DUPLICATE-ROW",
                Severity::Error,
                None,
                "the same record as an earlier row (once read: the rows differ only in values this kind of record does not use)",
                "each record once",
            );
            return;
        }
        if let Some(subject) = self.subjects.last_mut() {
            subject.records.push(record);
        }
    }
}

/// AMT on a dose record: positive, or 0 only for a constant steady-state infusion.
fn check_dose_amount(
    f: &Fields,
    v: &Values,
    evid: u8,
    steady_infusion: bool,
    row_ok: &mut bool,
    d: &mut Vec<Diagnostic>,
) {
    let amt_col = f.col(Item::Amt);
    match v.amt {
        Some(a) if a < 0.0 => f.error(
            d,
            row_ok,
            "E-AMT-NEGATIVE",
            amt_col,
            format!("AMT {a}"),
            "a positive amount",
        ),
        Some(a) if a > 0.0 => {}
        Some(a) if a == 0.0 && steady_infusion => {}
        _ => f.error(
            d,
            row_ok,
            "E-DOSE-AMT",
            amt_col,
            format!(
                "EVID {evid} dose with AMT {}",
                v.amt
                    .map(|a| a.to_string())
                    .unwrap_or_else(|| "missing".into())
            ),
            "a positive AMT on a dose record (AMT 0 only for a steady-state infusion: SS 1, II 0, RATE > 0)",
        ),
    }
    if steady_infusion && v.amt.is_some_and(|a| a > 0.0) {
        f.error(
            d,
            row_ok,
            "E-SS",
            amt_col,
            "a steady-state infusion (SS > 0, II 0, RATE > 0) with AMT > 0",
            "AMT 0 for a constant steady-state infusion, or II > 0 for repeated infusions",
        );
    }
}

/// SS, ADDL, II, RATE and DUR on a dose record agree with each other.
fn check_dose_schedule(
    f: &Fields,
    v: &Values,
    ss: SteadyState,
    steady_infusion: bool,
    row_ok: &mut bool,
    d: &mut Vec<Diagnostic>,
) {
    let (addl, ii) = (v.addl, v.ii);
    if ss != SteadyState::No && ii == 0.0 && !steady_infusion {
        f.error(
            d,
            row_ok,
            "E-SS",
            f.col(Item::Ii),
            format!("SS {} without II", ss.code()),
            "II > 0 (the dosing interval at steady state), or II 0 with RATE > 0 and AMT 0 for a constant infusion",
        );
    }
    if steady_infusion && addl > 0.0 {
        f.error(
            d,
            row_ok,
            "E-SS",
            f.col(Item::Addl),
            "ADDL on a steady-state infusion",
            "ADDL 0 for a steady-state infusion",
        );
    }
    if ss == SteadyState::No && addl > 0.0 && ii == 0.0 {
        f.error(
            d,
            row_ok,
            "E-ADDL-II",
            f.col(Item::Ii),
            format!("ADDL {addl} without II"),
            "II > 0 (time between the additional doses) when ADDL > 0",
        );
    }
    if ss == SteadyState::No && addl == 0.0 && ii > 0.0 {
        f.error(
            d,
            row_ok,
            "E-ADDL-II",
            f.col(Item::Addl),
            format!("II {ii} without ADDL or SS"),
            "ADDL > 0 (how many more doses) or SS > 0 when II > 0",
        );
    }
    let (rate, dur) = (v.rate.unwrap_or(0.0), v.dur.unwrap_or(0.0));
    if dur < 0.0 || (dur > 0.0 && rate != 0.0) {
        f.error(
            d,
            row_ok,
            "E-RATE-DUR",
            f.col(Item::Dur),
            format!("DUR {dur} with RATE {rate}"),
            "either RATE or DUR (a duration of 0 or more), not both",
        );
    }
}

/// CENS (1 below, -1 above) or BLQ (1) read as the censoring of an observation; LLOQ ≥ 0.
fn censoring(f: &Fields, v: &Values, row_ok: &mut bool, d: &mut Vec<Diagnostic>) -> Censoring {
    let censoring = match (v.cens, v.blq) {
        (Some(1.0), _) => Censoring::Below,
        (Some(-1.0), _) => Censoring::Above,
        (Some(c), _) if c != 0.0 => {
            f.error(
                d,
                row_ok,
                "E-CENS",
                f.col(Item::Cens),
                format!("CENS {c}"),
                "0, 1 (below the limit in DV) or -1 (above it)",
            );
            Censoring::None
        }
        (_, Some(1.0)) => Censoring::Below,
        (_, Some(b)) if b != 0.0 => {
            f.error(
                d,
                row_ok,
                "E-CENS",
                f.col(Item::Blq),
                format!("BLQ {b}"),
                "0 or 1",
            );
            Censoring::None
        }
        _ => Censoring::None,
    };
    if v.lloq.is_some_and(|l| l < 0.0) {
        f.error(
            d,
            row_ok,
            "E-CENS",
            f.col(Item::Lloq),
            format!("LLOQ {}", v.lloq.unwrap_or(0.0)),
            "a limit of 0 or more, in the DV unit",
        );
    }
    censoring
}
