//! Reading NONMEM-format datasets (and the Pmetrics and Monolix column conventions).
//!
//! Semantics follow NONMEM/PREDPP as documented in the NONMEM Users Guide Part VI (PREDPP),
//! chapter V (event records): EVID 0 observation, 1 dose, 2 other, 3 reset, 4 reset and dose;
//! MDV 1 marks a record whose DV is not an observation; RATE > 0 is an infusion rate, -1 a
//! modelled rate, -2 a modelled duration; ADDL additional doses every II; SS 1 (reset, then
//! steady state), 2 (steady state added to what is there), 3 (as 1, read as 1 for linear models);
//! SS with II = 0, AMT = 0 and RATE > 0 is a constant infusion at steady state.

use std::collections::{BTreeMap, HashSet};

use mgiv_core::regimen::Route;
use mgiv_core::units::{AmountUnit, ConcUnit, MgAmount, MgConc, MgRate};
use serde::Serialize;

use crate::diag::{Diagnostic, Severity};

/// The column convention of a dataset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Dialect {
    /// NONMEM: ID TIME DV AMT EVID MDV CMT RATE DUR ADDL II SS (+ BLQ/CENS/LLOQ, DATE, OCC, DVID)
    Nonmem,
    /// Pmetrics: #ID EVID TIME DUR DOSE ADDL II INPUT OUT OUTEQ C0-C3, covariates; OUT -99 is
    /// missing; ADDL -1 with II > 0 is a steady-state dose
    Pmetrics,
    /// Monolix: ID TIME AMOUNT (or AMT) Y (or DV) TINF ADM YTYPE CENS LIMIT OCC EVID MDV SS II ADDL
    Monolix,
}

impl Dialect {
    pub fn parse(text: &str) -> Result<Self, mgiv_core::MgivError> {
        match text.trim().to_ascii_lowercase().as_str() {
            "nonmem" => Ok(Dialect::Nonmem),
            "pmetrics" => Ok(Dialect::Pmetrics),
            "monolix" => Ok(Dialect::Monolix),
            _ => Err(mgiv_core::error::invalid(
                "dataset format",
                text,
                "nonmem, pmetrics or monolix",
            )),
        }
    }
    pub fn name(self) -> &'static str {
        match self {
            Dialect::Nonmem => "NONMEM",
            Dialect::Pmetrics => "Pmetrics",
            Dialect::Monolix => "Monolix",
        }
    }
}

/// Unit of TIME, II and DUR (and the time in RATE).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum TimeUnit {
    #[serde(rename = "h")]
    Hour,
    #[serde(rename = "min")]
    Minute,
    #[serde(rename = "day")]
    Day,
}

impl TimeUnit {
    pub fn parse(text: &str) -> Result<Self, mgiv_core::MgivError> {
        match text.trim().to_ascii_lowercase().as_str() {
            "h" | "hr" | "hour" | "hours" => Ok(TimeUnit::Hour),
            "min" | "minute" | "minutes" => Ok(TimeUnit::Minute),
            "d" | "day" | "days" => Ok(TimeUnit::Day),
            _ => Err(mgiv_core::error::invalid(
                "time unit",
                text,
                "h, min or day",
            )),
        }
    }
    /// Hours per unit.
    pub fn hours(self) -> f64 {
        match self {
            TimeUnit::Hour => 1.0,
            TimeUnit::Minute => 1.0 / 60.0,
            TimeUnit::Day => 24.0,
        }
    }
    pub fn symbol(self) -> &'static str {
        match self {
            TimeUnit::Hour => "h",
            TimeUnit::Minute => "min",
            TimeUnit::Day => "day",
        }
    }
}

/// How a time-varying covariate is read between records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum CovariateFill {
    /// next observation carried backward (NONMEM's default): a record's value holds from the
    /// previous record up to and including this one
    #[default]
    Nocb,
    /// last observation carried forward: a record's value holds from this record on
    Locf,
}

/// What the caller declares about a dataset. Units given here override `# DV_UNIT=...`,
/// `# AMT_UNIT=...`, `# TIME_UNIT=...` comment lines in the file.
#[derive(Debug, Clone, Default)]
pub struct ReadOptions {
    pub dialect: Option<Dialect>,
    pub dv_unit: Option<String>,
    pub amt_unit: Option<String>,
    pub time_unit: Option<String>,
    /// CMT of the central (serum) compartment: IV doses and observations (default 1)
    pub central_cmt: Option<u32>,
    /// CMT of an absorption depot (IM doses), if the dataset has one
    pub depot_cmt: Option<u32>,
}

/// A censored observation (M3-style): DV is the limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Censoring {
    None,
    /// below the lower limit of quantification (CENS 1, BLQ 1)
    Below,
    /// above the upper limit (CENS -1)
    Above,
}

/// Steady-state flag of a dose (SS 0-3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SteadyState {
    /// SS 0
    No,
    /// SS 1: reset, then the steady state reached by doses every II, including this one
    Reset,
    /// SS 2: the steady state added to the current state (no reset)
    Add,
    /// SS 3: as SS 1 (NONMEM uses current amounts as a starting guess; the same for linear models)
    ResetInitialEstimate,
}

impl SteadyState {
    pub fn code(self) -> u8 {
        match self {
            SteadyState::No => 0,
            SteadyState::Reset => 1,
            SteadyState::Add => 2,
            SteadyState::ResetInitialEstimate => 3,
        }
    }
    pub fn resets(self) -> bool {
        matches!(self, SteadyState::Reset | SteadyState::ResetInitialEstimate)
    }
}

/// How a dose enters.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum DoseInput {
    Bolus,
    /// RATE > 0 (with SS, II = 0 and AMT = 0: a constant infusion at steady state)
    Rate {
        rate: MgRate,
    },
    /// DUR > 0 (Pmetrics DUR, Monolix TINF)
    Duration {
        hours: f64,
    },
    /// RATE = -1: the rate comes from the model (R1)
    ModelledRate,
    /// RATE = -2: the duration comes from the model (D1)
    ModelledDuration,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Dose {
    pub amount: MgAmount,
    pub route: Route,
    pub input: DoseInput,
    pub addl: u32,
    pub ii_h: f64,
    pub ss: SteadyState,
}

impl Dose {
    /// SS with II = 0, AMT = 0 and RATE > 0: a constant infusion at steady state.
    pub fn is_steady_infusion(&self) -> bool {
        self.ss != SteadyState::No
            && self.ii_h == 0.0
            && matches!(self.input, DoseInput::Rate { .. })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Observation {
    pub dv: MgConc,
    pub censoring: Censoring,
    pub lloq: Option<MgConc>,
}

/// One data record, in file order.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Record {
    /// 1-based line number in the file
    pub row: usize,
    /// hours from the individual's time origin (TIME, or DATE/TIME relative to its first record)
    pub time_h: f64,
    pub evid: u8,
    pub mdv: bool,
    pub cmt: Option<u32>,
    pub dose: Option<Dose>,
    /// an EVID 0 record's DV (with `mdv` true it is kept but not used)
    pub observation: Option<Observation>,
    pub occasion: Option<u32>,
    /// aligned with [`Dataset::covariates`]; None where the row had no value
    pub covariates: Vec<Option<f64>>,
}

impl Record {
    /// A reset: EVID 3 or 4, or a dose with SS 1 or 3.
    pub fn resets(&self) -> bool {
        self.evid == 3 || self.evid == 4 || self.dose.is_some_and(|d| d.ss.resets())
    }
}

/// One individual: a contiguous block of records with one ID.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Subject {
    pub id: String,
    pub records: Vec<Record>,
}

/// A dataset read without errors.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Dataset {
    pub dialect: Dialect,
    pub dv_unit: Option<ConcUnit>,
    pub amt_unit: Option<AmountUnit>,
    pub time_unit: TimeUnit,
    pub central_cmt: u32,
    pub depot_cmt: Option<u32>,
    pub covariates: Vec<String>,
    pub subjects: Vec<Subject>,
}

impl Dataset {
    pub fn n_observations(&self) -> usize {
        self.subjects
            .iter()
            .flat_map(|s| &s.records)
            .filter(|r| r.evid == 0 && !r.mdv && r.observation.is_some())
            .count()
    }
    pub fn n_doses(&self) -> usize {
        self.subjects
            .iter()
            .flat_map(|s| &s.records)
            .filter(|r| r.dose.is_some())
            .count()
    }
    pub fn covariate_index(&self, name: &str) -> Option<usize> {
        self.covariates
            .iter()
            .position(|c| c.eq_ignore_ascii_case(name))
    }
}

impl Subject {
    /// Value of covariate `index` at `time_h` under `fill` (see [`CovariateFill`]); missing values
    /// on records are skipped. None when no record of the subject has a value.
    pub fn covariate_at(&self, index: usize, time_h: f64, fill: CovariateFill) -> Option<f64> {
        let vals: Vec<(f64, f64)> = self
            .records
            .iter()
            .filter_map(|r| {
                r.covariates
                    .get(index)
                    .copied()
                    .flatten()
                    .map(|v| (r.time_h, v))
            })
            .collect();
        let (first, last) = (vals.first()?, vals.last()?);
        match fill {
            CovariateFill::Nocb => Some(
                vals.iter()
                    .find(|(t, _)| *t >= time_h)
                    .map(|p| p.1)
                    .unwrap_or(last.1),
            ),
            CovariateFill::Locf => Some(
                vals.iter()
                    .rev()
                    .find(|(t, _)| *t <= time_h)
                    .map(|p| p.1)
                    .unwrap_or(first.1),
            ),
        }
    }

    /// The observations used for fitting (EVID 0, MDV 0), in file order.
    pub fn observations(&self) -> impl Iterator<Item = (&Record, &Observation)> {
        self.records.iter().filter_map(|r| {
            if r.evid == 0 && !r.mdv {
                r.observation.as_ref().map(|o| (r, o))
            } else {
                None
            }
        })
    }

    /// Observations taken before the first dose (in record order): the subject's own baseline.
    pub fn pre_dose_observations(&self) -> Vec<&Observation> {
        let mut out = Vec::new();
        for r in &self.records {
            if r.dose.is_some() {
                break;
            }
            if r.evid == 0 && !r.mdv {
                if let Some(o) = &r.observation {
                    out.push(o);
                }
            }
        }
        out
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Item {
    Id,
    Time,
    Date,
    Dv,
    Evid,
    Mdv,
    Cmt,
    Amt,
    Rate,
    Dur,
    Addl,
    Ii,
    Ss,
    Blq,
    Cens,
    Lloq,
    Occ,
    Dvid,
}

#[derive(Debug, Clone, PartialEq)]
enum Role {
    Item(Item),
    Covariate(usize),
    Ignored,
}

pub(crate) fn item_for(name: &str, dialect: Dialect) -> Option<Item> {
    use Item::*;
    let common = match name {
        "ID" => Some(Id),
        "TIME" => Some(Time),
        "EVID" => Some(Evid),
        "MDV" => Some(Mdv),
        "ADDL" => Some(Addl),
        "II" => Some(Ii),
        "SS" => Some(Ss),
        "RATE" => Some(Rate),
        "DUR" => Some(Dur),
        _ => None,
    };
    if common.is_some() {
        return common;
    }
    match dialect {
        Dialect::Nonmem => match name {
            "DATE" => Some(Date),
            "DV" => Some(Dv),
            "CMT" => Some(Cmt),
            "AMT" => Some(Amt),
            "BLQ" => Some(Blq),
            "CENS" => Some(Cens),
            "LLOQ" => Some(Lloq),
            "OCC" => Some(Occ),
            "DVID" => Some(Dvid),
            _ => None,
        },
        Dialect::Pmetrics => match name {
            "#ID" => Some(Id),
            "DOSE" => Some(Amt),
            "INPUT" => Some(Cmt),
            "OUT" => Some(Dv),
            "OUTEQ" => Some(Dvid),
            _ => None,
        },
        Dialect::Monolix => match name {
            "AMOUNT" | "AMT" => Some(Amt),
            "Y" | "DV" => Some(Dv),
            "TINF" => Some(Dur),
            "ADM" | "CMT" => Some(Cmt),
            "YTYPE" | "DVID" => Some(Dvid),
            "CENS" => Some(Cens),
            "OCC" => Some(Occ),
            "DATE" => Some(Date),
            _ => None,
        },
    }
}

/// Columns that are read but carry nothing mgiv uses (not covariates either).
fn known_unused(name: &str, dialect: Dialect) -> bool {
    match dialect {
        Dialect::Pmetrics => matches!(name, "C0" | "C1" | "C2" | "C3"),
        Dialect::Monolix => matches!(name, "LIMIT"),
        Dialect::Nonmem => matches!(name, "DROP" | "SKIP"),
    }
}

fn is_missing(s: &str) -> bool {
    let t = s.trim();
    t.is_empty() || t == "." || t.eq_ignore_ascii_case("na") || t.eq_ignore_ascii_case("nan")
}

use mgiv_core::calendar::days_from_civil;

/// DATE as `yyyy-mm-dd`, `yyyy/mm/dd` or `mm/dd/yyyy` (NONMEM's DATE); days since 1970.
fn parse_date(text: &str) -> Option<i64> {
    let t = text.trim();
    let parts: Vec<&str> = t.split(['-', '/']).collect();
    if parts.len() != 3 {
        return None;
    }
    let nums: Vec<i64> = parts
        .iter()
        .map(|p| p.parse::<i64>().ok())
        .collect::<Option<Vec<_>>>()?;
    let (y, m, d) = if parts[0].len() == 4 {
        (nums[0], nums[1], nums[2])
    } else if parts[2].len() == 4 && t.contains('/') {
        (nums[2], nums[0], nums[1])
    } else {
        return None;
    };
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let mdays = [
        31,
        if leap { 29 } else { 28 },
        31,
        30,
        31,
        30,
        31,
        31,
        30,
        31,
        30,
        31,
    ];
    if !(1..=12).contains(&m) || d < 1 || d > mdays[(m - 1) as usize] {
        return None;
    }
    Some(days_from_civil(y, m, d))
}

/// A clock time `hh:mm` or `hh:mm:ss`, in hours.
fn parse_clock(text: &str) -> Option<f64> {
    let parts: Vec<&str> = text.trim().split(':').collect();
    if !(2..=3).contains(&parts.len()) {
        return None;
    }
    let h: u32 = parts[0].parse().ok()?;
    let m: u32 = parts[1].parse().ok()?;
    let s: f64 = if parts.len() == 3 {
        parts[2].parse().ok()?
    } else {
        0.0
    };
    if h > 24 || m > 59 || !(0.0..60.0).contains(&s) {
        return None;
    }
    Some(h as f64 + m as f64 / 60.0 + s / 3600.0)
}

struct Row {
    line: usize,
    fields: Vec<String>,
}

/// Split a data line: commas when the header has them, otherwise whitespace or tabs.
fn split_line(line: &str, comma: bool) -> Vec<String> {
    if comma {
        line.split(',')
            .map(|s| s.trim().trim_matches('"').to_string())
            .collect()
    } else {
        line.split_whitespace().map(str::to_string).collect()
    }
}

/// Read a dataset. Returns the dataset when there is no error, and every diagnostic found
/// (errors, warnings, infos) in row order.
pub fn read(text: &str, opts: &ReadOptions) -> (Option<Dataset>, Vec<Diagnostic>) {
    let mut d: Vec<Diagnostic> = Vec::new();
    let mut declared: BTreeMap<String, (usize, String)> = BTreeMap::new();
    let mut header: Option<(usize, Vec<String>, bool)> = None;
    let mut rows: Vec<Row> = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line_no = i + 1;
        let line = raw.trim_end_matches('\r');
        let t = line.trim();
        if t.is_empty() {
            continue;
        }
        let upper = t.to_ascii_uppercase();
        let is_pm_header = upper.starts_with("#ID");
        if (t.starts_with('#') || t.starts_with('@')) && !is_pm_header {
            // declarations: "# DV_UNIT = mg/dL", "# AMT_UNIT: g", "# TIME_UNIT=h"
            let body = t.trim_start_matches(['#', '@']).trim();
            if let Some(pos) = body.find(['=', ':']) {
                let key = body[..pos]
                    .trim()
                    .to_ascii_uppercase()
                    .replace([' ', '-'], "_");
                if matches!(key.as_str(), "DV_UNIT" | "AMT_UNIT" | "TIME_UNIT") {
                    declared.insert(key, (line_no, body[pos + 1..].trim().to_string()));
                }
            }
            continue;
        }
        if header.is_none() && upper.starts_with("POPDATA") {
            continue; // Pmetrics version line
        }
        match &header {
            None => {
                let comma = t.contains(',');
                let names: Vec<String> = split_line(t, comma)
                    .into_iter()
                    .map(|s| s.to_ascii_uppercase())
                    .collect();
                header = Some((line_no, names, comma));
            }
            Some((_, _, comma)) => rows.push(Row {
                line: line_no,
                fields: split_line(line, *comma),
            }),
        }
    }
    let Some((header_line, names, _)) = header else {
        d.push(Diagnostic::new(
            "E-EMPTY",
            Severity::Error,
            None,
            None,
            "no header line",
            "a header naming the columns (ID, TIME, DV, AMT, EVID, ...)",
        ));
        return (None, d);
    };
    if rows.is_empty() {
        d.push(Diagnostic::new(
            "E-EMPTY",
            Severity::Error,
            Some(header_line),
            None,
            "no data rows",
            "one row per record after the header",
        ));
        return (None, d);
    }

    // dialect
    let dialect = opts.dialect.unwrap_or_else(|| {
        let has = |n: &str| names.iter().any(|c| c == n);
        if has("#ID") || (has("OUT") && has("DOSE")) {
            Dialect::Pmetrics
        } else if has("Y") || has("AMOUNT") || has("TINF") || has("ADM") || has("YTYPE") {
            Dialect::Monolix
        } else {
            Dialect::Nonmem
        }
    });
    d.push(Diagnostic::new(
        "I-DIALECT",
        Severity::Info,
        Some(header_line),
        None,
        format!("read with the {} column convention", dialect.name()),
        "",
    ));

    // columns
    let mut roles: Vec<Role> = Vec::new();
    let mut covariates: Vec<String> = Vec::new();
    let mut col_of: BTreeMap<&'static str, usize> = BTreeMap::new();
    let mut seen = HashSet::new();
    for (j, n) in names.iter().enumerate() {
        if !seen.insert(n.clone()) {
            d.push(Diagnostic::new(
                "E-COLUMN-DUPLICATE",
                Severity::Error,
                Some(header_line),
                Some(n),
                format!("column {n} appears more than once"),
                "each column name once",
            ));
        }
        if let Some(it) = item_for(n, dialect) {
            if roles.contains(&Role::Item(it)) {
                d.push(Diagnostic::new(
                    "E-COLUMN-DUPLICATE",
                    Severity::Error,
                    Some(header_line),
                    Some(n),
                    format!("column {n} means the same data item as an earlier column"),
                    "each data item once",
                ));
                roles.push(Role::Ignored);
            } else {
                col_of.insert(item_name(it), j);
                roles.push(Role::Item(it));
            }
        } else if known_unused(n, dialect) {
            roles.push(Role::Ignored);
        } else {
            // a covariate if every value is numeric or missing
            let numeric = rows.iter().all(|r| {
                r.fields
                    .get(j)
                    .is_none_or(|f| is_missing(f) || f.parse::<f64>().is_ok())
            });
            if numeric {
                roles.push(Role::Covariate(covariates.len()));
                covariates.push(n.clone());
            } else {
                d.push(Diagnostic::new(
                    "I-COLUMN-IGNORED",
                    Severity::Info,
                    Some(header_line),
                    Some(n),
                    format!("column {n} is not a data item and not numeric: ignored"),
                    "",
                ));
                roles.push(Role::Ignored);
            }
        }
    }
    let has = |it: Item| roles.contains(&Role::Item(it));
    for (it, what) in [(Item::Id, "ID"), (Item::Time, "TIME")] {
        if !has(it) {
            d.push(Diagnostic::new(
                "E-COLUMN-MISSING",
                Severity::Error,
                Some(header_line),
                Some(what),
                format!("no {what} column"),
                format!("a {what} column ({} convention)", dialect.name()),
            ));
        }
    }
    if !has(Item::Dv) {
        d.push(Diagnostic::new(
            "E-COLUMN-MISSING",
            Severity::Error,
            Some(header_line),
            Some("DV"),
            "no DV column",
            match dialect {
                Dialect::Nonmem => "a DV column",
                Dialect::Pmetrics => "an OUT column",
                Dialect::Monolix => "a Y or DV column",
            },
        ));
    }
    if d.iter().any(|x| x.severity == Severity::Error) {
        return (None, d);
    }

    // units
    let unit_text = |opt: &Option<String>, key: &str| -> Option<(Option<usize>, String)> {
        opt.as_ref()
            .map(|u| (None, u.clone()))
            .or_else(|| declared.get(key).map(|(l, u)| (Some(*l), u.clone())))
    };
    let dv_unit = unit_text(&opts.dv_unit, "DV_UNIT").and_then(|(line, u)| {
        ConcUnit::parse(&u)
            .map_err(|_| {
                d.push(Diagnostic::new(
                    "E-UNIT-UNKNOWN",
                    Severity::Error,
                    line,
                    Some("DV"),
                    format!("unknown DV unit '{u}'"),
                    "mmol/L, mg/dL or mEq/L",
                ))
            })
            .ok()
    });
    let amt_unit = unit_text(&opts.amt_unit, "AMT_UNIT").and_then(|(line, u)| {
        AmountUnit::parse(&u)
            .map_err(|_| {
                d.push(Diagnostic::new(
                    "E-UNIT-UNKNOWN",
                    Severity::Error,
                    line,
                    Some("AMT"),
                    format!("unknown AMT unit '{u}'"),
                    "g or mg of a salt (MgSO4·7H2O unless named: 'g MgCl2', 'g MgSO4-anhydrous'), mmol, mEq, mg-elemental",
                ))
            })
            .ok()
    });
    let time_unit = match unit_text(&opts.time_unit, "TIME_UNIT") {
        None => TimeUnit::Hour,
        Some((line, u)) => TimeUnit::parse(&u).unwrap_or_else(|_| {
            d.push(Diagnostic::new(
                "E-UNIT-UNKNOWN",
                Severity::Error,
                line,
                Some("TIME"),
                format!("unknown TIME unit '{u}'"),
                "h, min or day",
            ));
            TimeUnit::Hour
        }),
    };
    let tf = time_unit.hours();
    let central = opts.central_cmt.unwrap_or(1);
    let depot = opts.depot_cmt;

    // records
    let mut subjects: Vec<Subject> = Vec::new();
    let mut ids_done: HashSet<String> = HashSet::new();
    let mut seen_rows: HashSet<Vec<String>> = HashSet::new();
    let mut origin_h: Option<f64> = None;
    let mut dvids: BTreeMap<String, usize> = BTreeMap::new();
    let mut unit_missing_reported = (false, false);
    let evid_inferred = !has(Item::Evid);
    if evid_inferred {
        d.push(Diagnostic::new(
            "I-EVID-INFERRED",
            Severity::Info,
            Some(header_line),
            Some("EVID"),
            "no EVID column: a record with AMT > 0 is a dose, else an observation unless MDV is 1",
            "",
        ));
    }

    for row in &rows {
        let line = row.line;
        if row.fields.len() != names.len() {
            d.push(Diagnostic::new(
                "E-FIELD-COUNT",
                Severity::Error,
                Some(line),
                None,
                format!("{} fields", row.fields.len()),
                format!("{} fields, one per header column", names.len()),
            ));
            continue;
        }
        let mut row_ok = true;
        let field = |it: Item| -> Option<(&str, &str)> {
            roles
                .iter()
                .position(|r| *r == Role::Item(it))
                .map(|j| (names[j].as_str(), row.fields[j].as_str()))
        };
        let num = |it: Item, d: &mut Vec<Diagnostic>| -> Option<f64> {
            let (col, v) = field(it)?;
            if is_missing(v) {
                return None;
            }
            match v.trim().parse::<f64>() {
                Ok(x) if x.is_finite() => Some(x),
                _ => {
                    d.push(Diagnostic::new(
                        "E-NUMBER",
                        Severity::Error,
                        Some(line),
                        Some(col),
                        format!("'{v}' is not a number"),
                        "a number, or '.' for missing",
                    ));
                    None
                }
            }
        };
        let diag_start = d.len();
        let id = match field(Item::Id) {
            Some((_, v)) if !is_missing(v) => {
                let v = v.trim();
                // "1" and "1.0" are the same individual
                v.parse::<f64>()
                    .ok()
                    .filter(|x| x.fract() == 0.0)
                    .map(|x| format!("{}", x as i64))
                    .unwrap_or_else(|| v.to_string())
            }
            _ => {
                d.push(Diagnostic::new(
                    "E-ID-MISSING",
                    Severity::Error,
                    Some(line),
                    Some("ID"),
                    "no ID",
                    "an identifier of the individual",
                ));
                continue;
            }
        };
        // new individual?
        let new_subject = subjects.last().is_none_or(|s| s.id != id);
        if new_subject {
            if ids_done.contains(&id) {
                d.push(Diagnostic::new(
                    "W-ID-NONCONTIGUOUS",
                    Severity::Warning,
                    Some(line),
                    Some("ID"),
                    format!("ID {id} appears again after other IDs: read as a new individual"),
                    "all records of an individual together",
                ));
            }
            ids_done.insert(id.clone());
            subjects.push(Subject {
                id: id.clone(),
                records: Vec::new(),
            });
            origin_h = None;
        }
        // duplicated rows: the same values in every column that is read (an ignored text column,
        // e.g. a comment, does not make two records different: it is not written back either)
        if !seen_rows.insert(
            std::iter::once(id.clone())
                .chain(
                    row.fields
                        .iter()
                        .enumerate()
                        .filter(|(j, _)| !matches!(roles.get(*j), Some(Role::Ignored)))
                        .map(|(_, f)| f.clone()),
                )
                .collect(),
        ) {
            d.push(Diagnostic::new(
                "E-DUPLICATE-ROW",
                Severity::Error,
                Some(line),
                None,
                "the same record as an earlier row",
                "each record once",
            ));
            continue;
        }

        // time
        let time_col = field(Item::Time).map(|f| f.0).unwrap_or("TIME");
        let time_raw = field(Item::Time).map(|f| f.1.trim().to_string());
        let mut time_h: Option<f64> = None;
        if let Some((dcol, dv)) = field(Item::Date) {
            match (parse_date(dv), time_raw.as_deref()) {
                (Some(day), Some(tv)) if !is_missing(tv) => {
                    let clock = parse_clock(tv).or_else(|| tv.parse::<f64>().ok().map(|x| x * tf));
                    match clock {
                        Some(c) => {
                            let abs = day as f64 * 24.0 + c;
                            let o = *origin_h.get_or_insert(abs);
                            time_h = Some(abs - o);
                        }
                        None => {
                            d.push(Diagnostic::new(
                                "E-DATE",
                                Severity::Error,
                                Some(line),
                                Some(time_col),
                                format!("'{tv}' is not a clock time"),
                                "hh:mm or hh:mm:ss",
                            ));
                            row_ok = false;
                        }
                    }
                }
                (None, _) => {
                    d.push(Diagnostic::new(
                        "E-DATE",
                        Severity::Error,
                        Some(line),
                        Some(dcol),
                        format!("'{dv}' is not a date"),
                        "yyyy-mm-dd, yyyy/mm/dd or mm/dd/yyyy",
                    ));
                    row_ok = false;
                }
                _ => {}
            }
        } else if let Some(tv) = time_raw.as_deref() {
            if tv.contains(':') {
                d.push(Diagnostic::new(
                    "E-DATE",
                    Severity::Error,
                    Some(line),
                    Some(time_col),
                    format!("clock time '{tv}' without a DATE column"),
                    "TIME as a number of hours (or the declared unit), or a DATE column with clock times",
                ));
                row_ok = false;
            } else if let Some(t) = num(Item::Time, &mut d) {
                time_h = Some(t * tf);
            }
        }
        let Some(time_h) = time_h else {
            if row_ok {
                d.push(Diagnostic::new(
                    "E-TIME-MISSING",
                    Severity::Error,
                    Some(line),
                    Some(time_col),
                    "no TIME",
                    "a time for every record",
                ));
            }
            continue;
        };
        if time_h < 0.0 {
            d.push(Diagnostic::new(
                "E-TIME-NEGATIVE",
                Severity::Error,
                Some(line),
                Some(time_col),
                format!("TIME {} is negative", time_h / tf),
                "a time of 0 or later",
            ));
            row_ok = false;
        }

        let amt = num(Item::Amt, &mut d);
        let mdv_v = num(Item::Mdv, &mut d);
        let evid_v = num(Item::Evid, &mut d);
        let mut dv_v = num(Item::Dv, &mut d);
        if dialect == Dialect::Pmetrics && dv_v == Some(-99.0) {
            dv_v = None; // Pmetrics: -99 is a missing observation
        }
        let rate_v = num(Item::Rate, &mut d);
        let dur_v = num(Item::Dur, &mut d);
        let mut addl_v = num(Item::Addl, &mut d).unwrap_or(0.0);
        let ii_v = num(Item::Ii, &mut d).unwrap_or(0.0);
        let mut ss_v = num(Item::Ss, &mut d).unwrap_or(0.0);
        let cmt_v = num(Item::Cmt, &mut d);
        let cens_v = num(Item::Cens, &mut d);
        let blq_v = num(Item::Blq, &mut d);
        let lloq_v = num(Item::Lloq, &mut d);
        let occ_v = num(Item::Occ, &mut d);
        let dvid_txt = field(Item::Dvid).map(|f| f.1.trim().to_string());
        let col = |it: Item| field(it).map(|f| f.0).unwrap_or(item_name(it));

        // covariates
        let mut covs = vec![None; covariates.len()];
        for (j, r) in roles.iter().enumerate() {
            if let Role::Covariate(k) = r {
                let v = &row.fields[j];
                if is_missing(v) {
                    d.push(Diagnostic::new(
                        "W-COVARIATE-MISSING",
                        Severity::Warning,
                        Some(line),
                        Some(&names[j]),
                        format!("{} missing", names[j]),
                        "a value on every record (filled from the neighbouring record: NOCB unless LOCF is chosen)",
                    ));
                } else {
                    covs[*k] = v.parse::<f64>().ok();
                }
            }
        }

        // EVID / MDV
        let evid: u8 = match evid_v {
            Some(e) if e.fract() == 0.0 && (0.0..=4.0).contains(&e) => e as u8,
            Some(e) => {
                d.push(Diagnostic::new(
                    "E-EVID",
                    Severity::Error,
                    Some(line),
                    Some(col(Item::Evid)),
                    format!("EVID {e}"),
                    "0 observation, 1 dose, 2 other, 3 reset, 4 reset and dose",
                ));
                continue;
            }
            None if evid_inferred => {
                if amt.is_some_and(|a| a > 0.0) {
                    1
                } else if mdv_v == Some(1.0) {
                    2
                } else {
                    0
                }
            }
            None => {
                d.push(Diagnostic::new(
                    "E-EVID",
                    Severity::Error,
                    Some(line),
                    Some(col(Item::Evid)),
                    "EVID missing",
                    "0 observation, 1 dose, 2 other, 3 reset, 4 reset and dose",
                ));
                continue;
            }
        };
        let mdv = match mdv_v {
            Some(m) if m == 0.0 || m == 1.0 => m == 1.0,
            Some(m) => {
                d.push(Diagnostic::new(
                    "E-EVID-MDV",
                    Severity::Error,
                    Some(line),
                    Some(col(Item::Mdv)),
                    format!("MDV {m}"),
                    "MDV 0 (DV is an observation) or 1 (it is not)",
                ));
                continue;
            }
            None => evid != 0 || (!has(Item::Mdv) && dv_v.is_none()),
        };
        if evid != 0 && !mdv {
            d.push(Diagnostic::new(
                "E-EVID-MDV",
                Severity::Error,
                Some(line),
                Some(col(Item::Mdv)),
                format!("EVID {evid} with MDV 0"),
                "MDV 1 on every record that is not an observation (EVID 1-4)",
            ));
            row_ok = false;
        }
        if evid == 0 && amt.is_some_and(|a| a != 0.0) {
            d.push(Diagnostic::new(
                "W-AMT-ON-OBS",
                Severity::Warning,
                Some(line),
                Some(col(Item::Amt)),
                format!(
                    "AMT {} on an observation record: ignored",
                    amt.unwrap_or(0.0)
                ),
                "AMT on dose records (EVID 1 or 4) only",
            ));
        }
        if evid != 0 && dv_v.is_some_and(|v| v != 0.0) {
            d.push(Diagnostic::new(
                "W-DV-ON-DOSE",
                Severity::Warning,
                Some(line),
                Some(col(Item::Dv)),
                format!(
                    "DV {} on an EVID {evid} record: ignored",
                    dv_v.unwrap_or(0.0)
                ),
                "DV on observation records (EVID 0) only",
            ));
        }

        // Pmetrics: ADDL -1 with II > 0 is a steady-state dose
        if dialect == Dialect::Pmetrics && addl_v == -1.0 && ii_v > 0.0 {
            addl_v = 0.0;
            ss_v = 1.0;
        }
        let is_dose = evid == 1 || evid == 4;
        if !(addl_v >= 0.0 && addl_v.fract() == 0.0 && addl_v <= crate::events::MAX_IMPLIED as f64)
            || ii_v < 0.0
        {
            d.push(Diagnostic::new(
                "E-ADDL-II",
                Severity::Error,
                Some(line),
                Some(if ii_v < 0.0 {
                    col(Item::Ii)
                } else {
                    col(Item::Addl)
                }),
                format!("ADDL {addl_v}, II {ii_v}"),
                "ADDL a whole number from 0 to 100000, II 0 or more",
            ));
            continue;
        }
        if !(ss_v.fract() == 0.0 && (0.0..=3.0).contains(&ss_v)) {
            d.push(Diagnostic::new(
                "E-SS",
                Severity::Error,
                Some(line),
                Some(col(Item::Ss)),
                format!("SS {ss_v}"),
                "0 (no), 1 (reset + steady state), 2 (steady state added), 3 (as 1)",
            ));
            continue;
        }
        let ss = match ss_v as u8 {
            0 => SteadyState::No,
            1 => SteadyState::Reset,
            2 => SteadyState::Add,
            _ => SteadyState::ResetInitialEstimate,
        };
        if !is_dose && (addl_v > 0.0 || ss != SteadyState::No) {
            d.push(Diagnostic::new(
                "E-ADDL-II",
                Severity::Error,
                Some(line),
                Some(if addl_v > 0.0 {
                    col(Item::Addl)
                } else {
                    col(Item::Ss)
                }),
                format!("ADDL {addl_v} / SS {} on an EVID {evid} record", ss.code()),
                "ADDL and SS on dose records (EVID 1 or 4) only",
            ));
            row_ok = false;
        }

        let mut dose = None;
        if is_dose {
            let rate = rate_v.unwrap_or(0.0);
            let dur = dur_v.unwrap_or(0.0);
            let steady_infusion = ss != SteadyState::No && ii_v == 0.0 && rate > 0.0;
            match amt {
                Some(a) if a < 0.0 => {
                    d.push(Diagnostic::new(
                        "E-AMT-NEGATIVE",
                        Severity::Error,
                        Some(line),
                        Some(col(Item::Amt)),
                        format!("AMT {a}"),
                        "a positive amount",
                    ));
                    row_ok = false;
                }
                Some(a) if a > 0.0 => {}
                Some(a) if a == 0.0 && steady_infusion => {}
                _ => {
                    d.push(Diagnostic::new(
                        "E-DOSE-AMT",
                        Severity::Error,
                        Some(line),
                        Some(col(Item::Amt)),
                        format!(
                            "EVID {evid} dose with AMT {}",
                            amt.map(|a| a.to_string()).unwrap_or_else(|| "missing".into())
                        ),
                        "a positive AMT on a dose record (AMT 0 only for a steady-state infusion: SS 1, II 0, RATE > 0)",
                    ));
                    row_ok = false;
                }
            }
            if steady_infusion && amt.is_some_and(|a| a > 0.0) {
                d.push(Diagnostic::new(
                    "E-SS",
                    Severity::Error,
                    Some(line),
                    Some(col(Item::Amt)),
                    "a steady-state infusion (SS > 0, II 0, RATE > 0) with AMT > 0",
                    "AMT 0 for a constant steady-state infusion, or II > 0 for repeated infusions",
                ));
                row_ok = false;
            }
            if ss != SteadyState::No && ii_v == 0.0 && !steady_infusion {
                d.push(Diagnostic::new(
                    "E-SS",
                    Severity::Error,
                    Some(line),
                    Some(col(Item::Ii)),
                    format!("SS {} without II", ss.code()),
                    "II > 0 (the dosing interval at steady state), or II 0 with RATE > 0 and AMT 0 for a constant infusion",
                ));
                row_ok = false;
            }
            if steady_infusion && addl_v > 0.0 {
                d.push(Diagnostic::new(
                    "E-SS",
                    Severity::Error,
                    Some(line),
                    Some(col(Item::Addl)),
                    "ADDL on a steady-state infusion",
                    "ADDL 0 for a steady-state infusion",
                ));
                row_ok = false;
            }
            if ss == SteadyState::No && addl_v > 0.0 && ii_v == 0.0 {
                d.push(Diagnostic::new(
                    "E-ADDL-II",
                    Severity::Error,
                    Some(line),
                    Some(col(Item::Ii)),
                    format!("ADDL {addl_v} without II"),
                    "II > 0 (time between the additional doses) when ADDL > 0",
                ));
                row_ok = false;
            }
            if ss == SteadyState::No && addl_v == 0.0 && ii_v > 0.0 {
                d.push(Diagnostic::new(
                    "E-ADDL-II",
                    Severity::Error,
                    Some(line),
                    Some(col(Item::Addl)),
                    format!("II {ii_v} without ADDL or SS"),
                    "ADDL > 0 (how many more doses) or SS > 0 when II > 0",
                ));
                row_ok = false;
            }
            if dur < 0.0 || (dur > 0.0 && rate != 0.0) {
                d.push(Diagnostic::new(
                    "E-RATE-DUR",
                    Severity::Error,
                    Some(line),
                    Some(col(Item::Dur)),
                    format!("DUR {dur} with RATE {rate}"),
                    "either RATE or DUR (a duration of 0 or more), not both",
                ));
                row_ok = false;
            }
            let input = if rate > 0.0 {
                Some(DoseInput::Rate {
                    rate: MgRate::from_mmol_per_h(0.0), // unit applied below
                })
            } else if rate == -1.0 {
                Some(DoseInput::ModelledRate)
            } else if rate == -2.0 {
                Some(DoseInput::ModelledDuration)
            } else if rate == 0.0 {
                Some(if dur > 0.0 {
                    DoseInput::Duration { hours: dur * tf }
                } else {
                    DoseInput::Bolus
                })
            } else {
                d.push(Diagnostic::new(
                    "E-RATE",
                    Severity::Error,
                    Some(line),
                    Some(col(Item::Rate)),
                    format!("RATE {rate}"),
                    "0 (bolus), > 0 (infusion rate in AMT units per time unit), -1 (rate from the model), -2 (duration from the model)",
                ));
                row_ok = false;
                None
            };
            let cmt = cmt_v.map(|c| c as i64).unwrap_or(central as i64);
            let route = if cmt == central as i64 || (cmt == 0 && cmt_v.is_some()) {
                Some(Route::Iv)
            } else if depot.is_some_and(|dp| dp as i64 == cmt) {
                if !matches!(input, Some(DoseInput::Bolus)) {
                    d.push(Diagnostic::new(
                        "E-CMT",
                        Severity::Error,
                        Some(line),
                        Some(col(Item::Cmt)),
                        format!("an infusion into the depot compartment {cmt}"),
                        "infusions into the central compartment; depot doses are boluses (IM)",
                    ));
                    row_ok = false;
                }
                Some(Route::Im)
            } else {
                d.push(Diagnostic::new(
                    "E-CMT",
                    Severity::Error,
                    Some(line),
                    Some(col(Item::Cmt)),
                    format!("dose into compartment {cmt}"),
                    format!(
                        "the central compartment {central}{}",
                        depot
                            .map(|dp| format!(" or the depot {dp}"))
                            .unwrap_or_default()
                    ),
                ));
                row_ok = false;
                None
            };
            let unit = match amt_unit {
                Some(u) => Some(u),
                None => {
                    if !unit_missing_reported.1 {
                        unit_missing_reported.1 = true;
                        d.push(Diagnostic::new(
                            "E-UNIT-MISSING",
                            Severity::Error,
                            Some(line),
                            Some(col(Item::Amt)),
                            "the dataset has doses but the unit of AMT is not declared",
                            "--amt-unit (or a '# AMT_UNIT=...' line): g or mg of a named salt, mmol, mEq",
                        ));
                    }
                    None
                }
            };
            if let (Some(mut input), Some(route), Some(unit), true) = (input, route, unit, row_ok) {
                let a = amt.unwrap_or(0.0);
                if let DoseInput::Rate { rate: r } = &mut input {
                    // RATE is in AMT units per time unit
                    *r = MgRate::from_mmol_per_h(unit.amount(rate).mmol() / tf);
                }
                dose = Some(Dose {
                    amount: unit.amount(a),
                    route,
                    input,
                    addl: addl_v as u32,
                    ii_h: ii_v * tf,
                    ss,
                });
            }
        }

        // observation
        let mut observation = None;
        if evid == 0 {
            if let Some(c) = cmt_v {
                if c != central as f64 && c != 0.0 {
                    d.push(Diagnostic::new(
                        "E-CMT",
                        Severity::Error,
                        Some(line),
                        Some(col(Item::Cmt)),
                        format!("observation in compartment {c}"),
                        format!(
                            "observations of serum Mg, in the central compartment {central} (or 0)"
                        ),
                    ));
                    row_ok = false;
                }
            }
            if let Some(t) = &dvid_txt {
                if !is_missing(t) {
                    *dvids.entry(t.clone()).or_insert(line) += 0;
                }
            }
            let censoring = match (cens_v, blq_v) {
                (Some(1.0), _) => Censoring::Below,
                (Some(-1.0), _) => Censoring::Above,
                (Some(c), _) if c != 0.0 => {
                    d.push(Diagnostic::new(
                        "E-CENS",
                        Severity::Error,
                        Some(line),
                        Some(col(Item::Cens)),
                        format!("CENS {c}"),
                        "0, 1 (below the limit in DV) or -1 (above it)",
                    ));
                    row_ok = false;
                    Censoring::None
                }
                (_, Some(1.0)) => Censoring::Below,
                (_, Some(b)) if b != 0.0 => {
                    d.push(Diagnostic::new(
                        "E-CENS",
                        Severity::Error,
                        Some(line),
                        Some(col(Item::Blq)),
                        format!("BLQ {b}"),
                        "0 or 1",
                    ));
                    row_ok = false;
                    Censoring::None
                }
                _ => Censoring::None,
            };
            if lloq_v.is_some_and(|l| l < 0.0) {
                d.push(Diagnostic::new(
                    "E-CENS",
                    Severity::Error,
                    Some(line),
                    Some(col(Item::Lloq)),
                    format!("LLOQ {}", lloq_v.unwrap_or(0.0)),
                    "a limit of 0 or more, in the DV unit",
                ));
                row_ok = false;
            }
            match dv_v {
                None if !mdv => {
                    d.push(Diagnostic::new(
                        "E-DV-MISSING",
                        Severity::Error,
                        Some(line),
                        Some(col(Item::Dv)),
                        "an observation record (EVID 0, MDV 0) without DV",
                        "a DV, or MDV 1 for a record without an observation",
                    ));
                    row_ok = false;
                }
                None => {}
                Some(v) => {
                    if v < 0.0 {
                        d.push(Diagnostic::new(
                            "E-DV-NEGATIVE",
                            Severity::Error,
                            Some(line),
                            Some(col(Item::Dv)),
                            format!("DV {v}: a negative concentration"),
                            "a concentration of 0 or more (censor values below the LLOQ with CENS/BLQ)",
                        ));
                        row_ok = false;
                    }
                    match dv_unit {
                        None => {
                            if !unit_missing_reported.0 {
                                unit_missing_reported.0 = true;
                                d.push(Diagnostic::new(
                                    "E-UNIT-MISSING",
                                    Severity::Error,
                                    Some(line),
                                    Some(col(Item::Dv)),
                                    "the unit of DV is not declared",
                                    "--dv-unit (or a '# DV_UNIT=...' line): mmol/L, mg/dL or mEq/L",
                                ));
                            }
                        }
                        Some(u) => {
                            let c = MgConc::from_unit(v, u);
                            if !mdv
                                && censoring == Censoring::None
                                && v >= 0.0
                                && !(0.1..=10.0).contains(&c.mmol_l())
                            {
                                d.push(Diagnostic::new(
                                    "W-DV-IMPLAUSIBLE",
                                    Severity::Warning,
                                    Some(line),
                                    Some(col(Item::Dv)),
                                    format!(
                                        "DV {v} {} = {:.3} mmol/L is not a plausible total serum Mg",
                                        u.symbol(),
                                        c.mmol_l()
                                    ),
                                    "0.1-10 mmol/L; check the declared DV unit",
                                ));
                            }
                            let lloq = match (censoring, lloq_v) {
                                (_, Some(l)) => Some(MgConc::from_unit(l, u)),
                                (Censoring::Below, None) => Some(c),
                                _ => None,
                            };
                            if censoring == Censoring::None && lloq_v.is_some_and(|l| v < l) && !mdv
                            {
                                d.push(Diagnostic::new(
                                    "W-BELOW-LLOQ",
                                    Severity::Warning,
                                    Some(line),
                                    Some(col(Item::Dv)),
                                    format!(
                                        "DV {v} below LLOQ {} but not censored",
                                        lloq_v.unwrap_or(0.0)
                                    ),
                                    "CENS 1 (or BLQ 1) on values below the LLOQ",
                                ));
                            }
                            if row_ok {
                                observation = Some(Observation {
                                    dv: c,
                                    censoring,
                                    lloq,
                                });
                            }
                        }
                    }
                }
            }
        }

        let subject = subjects.last_mut().expect("pushed above");
        let resets = evid == 3 || evid == 4 || ss.resets();
        if let Some(prev) = subject.records.last() {
            if time_h < prev.time_h && !resets {
                d.push(Diagnostic::new(
                    "E-TIME-ORDER",
                    Severity::Error,
                    Some(line),
                    Some(time_col),
                    format!(
                        "TIME {} before the previous record's {} (row {}) in ID {id}",
                        time_h / tf,
                        prev.time_h / tf,
                        prev.row
                    ),
                    "non-decreasing TIME within an individual (it may go back only at a reset, EVID 3 or 4)",
                ));
                row_ok = false;
            }
            if let (Some(o), Some(po), true) = (&observation, &prev.observation, evid == 0) {
                if prev.evid == 0 && prev.time_h == time_h && po.dv != o.dv && !mdv && !prev.mdv {
                    d.push(Diagnostic::new(
                        "W-OBS-SAME-TIME",
                        Severity::Warning,
                        Some(line),
                        Some(col(Item::Dv)),
                        format!(
                            "a second observation at TIME {} with another DV",
                            time_h / tf
                        ),
                        "one observation per time (or an OCC/DVID to tell them apart)",
                    ));
                }
            }
        }
        if !row_ok
            || d[diag_start..]
                .iter()
                .any(|x| x.severity == Severity::Error)
        {
            continue;
        }
        let record = Record {
            row: line,
            time_h,
            evid,
            mdv,
            cmt: cmt_v.map(|c| c as u32),
            dose,
            observation,
            occasion: occ_v.map(|o| o as u32),
            covariates: covs,
        };
        // the same record as read (rows that differ only in what a record of their kind does not
        // use, e.g. RATE on a sample, read as one record): a duplicate as well
        let same_as_read = subjects
            .iter()
            .filter(|s| s.id == id)
            .flat_map(|s| &s.records)
            .any(|r| {
                Record {
                    row: line,
                    ..r.clone()
                } == record
            });
        if same_as_read {
            d.push(Diagnostic::new(
                "E-DUPLICATE-ROW",
                Severity::Error,
                Some(line),
                None,
                "the same record as an earlier row (once read: the rows differ only in values this kind of record does not use)",
                "each record once",
            ));
            continue;
        }
        let subject = subjects.last_mut().expect("pushed above");
        subject.records.push(record);
    }
    if dvids.len() > 1 {
        d.push(Diagnostic::new(
            "E-OUTPUT",
            Severity::Error,
            None,
            Some(item_name(Item::Dvid)),
            format!(
                "{} output types ({})",
                dvids.len(),
                dvids.keys().cloned().collect::<Vec<_>>().join(", ")
            ),
            "one output: total serum Mg",
        ));
    }
    let any_error = d.iter().any(|x| x.severity == Severity::Error);
    for s in &subjects {
        let first_row = s.records.first().map(|r| r.row);
        if s.observations().next().is_none() {
            d.push(Diagnostic::new(
                "W-NO-OBS",
                Severity::Warning,
                first_row,
                Some("ID"),
                format!("ID {} has no observations", s.id),
                "at least one observation per individual (it adds nothing to a fit)",
            ));
        } else if s.pre_dose_observations().is_empty() {
            d.push(Diagnostic::new(
                "I-NO-BASELINE",
                Severity::Info,
                first_row,
                Some("ID"),
                format!("ID {} has no pre-dose sample", s.id),
                "a sample before the first dose gives a per-subject baseline",
            ));
        }
    }
    let ds = Dataset {
        dialect,
        dv_unit,
        amt_unit,
        time_unit,
        central_cmt: central,
        depot_cmt: depot,
        covariates,
        subjects,
    };
    d.push(Diagnostic::new(
        "I-SUMMARY",
        Severity::Info,
        None,
        None,
        format!(
            "{} individuals, {} observations, {} dose records, covariates: {}",
            ds.subjects.len(),
            ds.n_observations(),
            ds.n_doses(),
            if ds.covariates.is_empty() {
                "none".to_string()
            } else {
                ds.covariates.join(", ")
            }
        ),
        "",
    ));
    d.sort_by_key(|x| (x.row.unwrap_or(0), x.severity));
    if any_error {
        (None, d)
    } else {
        (Some(ds), d)
    }
}

fn item_name(it: Item) -> &'static str {
    match it {
        Item::Id => "ID",
        Item::Time => "TIME",
        Item::Date => "DATE",
        Item::Dv => "DV",
        Item::Evid => "EVID",
        Item::Mdv => "MDV",
        Item::Cmt => "CMT",
        Item::Amt => "AMT",
        Item::Rate => "RATE",
        Item::Dur => "DUR",
        Item::Addl => "ADDL",
        Item::Ii => "II",
        Item::Ss => "SS",
        Item::Blq => "BLQ",
        Item::Cens => "CENS",
        Item::Lloq => "LLOQ",
        Item::Occ => "OCC",
        Item::Dvid => "DVID",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_days_match_known_dates() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2000, 3, 1), 11017);
        assert_eq!(parse_date("2024-02-29"), Some(days_from_civil(2024, 2, 29)));
        assert_eq!(parse_date("02/29/2024"), parse_date("2024/02/29"));
        assert_eq!(parse_date("2023-02-29"), None);
        assert_eq!(parse_clock("23:30"), Some(23.5));
        assert_eq!(parse_clock("25:00"), None);
    }
}
