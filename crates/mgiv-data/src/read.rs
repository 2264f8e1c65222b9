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

mod record;

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

/// The lines of a file sorted into unit declarations, the header and the data rows.
struct Lines {
    declared: BTreeMap<String, (usize, String)>,
    header: Option<(usize, Vec<String>, bool)>,
    rows: Vec<Row>,
}

fn sort_lines(text: &str) -> Lines {
    let mut declared = BTreeMap::new();
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
    Lines {
        declared,
        header,
        rows,
    }
}

/// The column convention a header suggests when the caller names none.
fn detect_dialect(names: &[String]) -> Dialect {
    let has = |n: &str| names.iter().any(|c| c == n);
    if has("#ID") || (has("OUT") && has("DOSE")) {
        Dialect::Pmetrics
    } else if has("Y") || has("AMOUNT") || has("TINF") || has("ADM") || has("YTYPE") {
        Dialect::Monolix
    } else {
        Dialect::Nonmem
    }
}

/// How each column is read: a data item, a numeric covariate, or ignored.
struct Columns {
    header_line: usize,
    names: Vec<String>,
    roles: Vec<Role>,
    covariates: Vec<String>,
}

impl Columns {
    fn classify(
        header_line: usize,
        names: Vec<String>,
        rows: &[Row],
        dialect: Dialect,
        d: &mut Vec<Diagnostic>,
    ) -> Columns {
        let mut roles: Vec<Role> = Vec::new();
        let mut covariates: Vec<String> = Vec::new();
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
        Columns {
            header_line,
            names,
            roles,
            covariates,
        }
    }

    fn has(&self, it: Item) -> bool {
        self.roles.contains(&Role::Item(it))
    }

    /// E-COLUMN-MISSING for ID, TIME and DV.
    fn require(&self, dialect: Dialect, d: &mut Vec<Diagnostic>) {
        for (it, what) in [(Item::Id, "ID"), (Item::Time, "TIME")] {
            if !self.has(it) {
                d.push(Diagnostic::new(
                    "E-COLUMN-MISSING",
                    Severity::Error,
                    Some(self.header_line),
                    Some(what),
                    format!("no {what} column"),
                    format!("a {what} column ({} convention)", dialect.name()),
                ));
            }
        }
        if !self.has(Item::Dv) {
            d.push(Diagnostic::new(
                "E-COLUMN-MISSING",
                Severity::Error,
                Some(self.header_line),
                Some("DV"),
                "no DV column",
                match dialect {
                    Dialect::Nonmem => "a DV column",
                    Dialect::Pmetrics => "an OUT column",
                    Dialect::Monolix => "a Y or DV column",
                },
            ));
        }
    }
}

/// The units of DV, AMT and TIME: the caller's, else the file's declarations.
struct Units {
    dv: Option<ConcUnit>,
    amt: Option<AmountUnit>,
    time: TimeUnit,
}

fn resolve_units(
    opts: &ReadOptions,
    declared: &BTreeMap<String, (usize, String)>,
    d: &mut Vec<Diagnostic>,
) -> Units {
    let unit_text = |opt: &Option<String>, key: &str| -> Option<(Option<usize>, String)> {
        opt.as_ref()
            .map(|u| (None, u.clone()))
            .or_else(|| declared.get(key).map(|(l, u)| (Some(*l), u.clone())))
    };
    let mut unknown = |line: Option<usize>, column: &str, message: String, expected: &str| {
        d.push(Diagnostic::new(
            "E-UNIT-UNKNOWN",
            Severity::Error,
            line,
            Some(column),
            message,
            expected,
        ))
    };
    let dv = unit_text(&opts.dv_unit, "DV_UNIT").and_then(|(line, u)| {
        ConcUnit::parse(&u)
            .map_err(|_| {
                unknown(
                    line,
                    "DV",
                    format!("unknown DV unit '{u}'"),
                    "mmol/L, mg/dL or mEq/L",
                )
            })
            .ok()
    });
    let amt = unit_text(&opts.amt_unit, "AMT_UNIT").and_then(|(line, u)| {
        AmountUnit::parse(&u)
            .map_err(|_| {
                unknown(
                    line,
                    "AMT",
                    format!("unknown AMT unit '{u}'"),
                    "g or mg of a salt (MgSO4·7H2O unless named: 'g MgCl2', 'g MgSO4-anhydrous'), mmol, mEq, mg-elemental",
                )
            })
            .ok()
    });
    let time = match unit_text(&opts.time_unit, "TIME_UNIT") {
        None => TimeUnit::Hour,
        Some((line, u)) => TimeUnit::parse(&u).unwrap_or_else(|_| {
            unknown(
                line,
                "TIME",
                format!("unknown TIME unit '{u}'"),
                "h, min or day",
            );
            TimeUnit::Hour
        }),
    };
    Units { dv, amt, time }
}

/// Read a dataset. Returns the dataset when there is no error, and every diagnostic found
/// (errors, warnings, infos) in row order.
pub fn read(text: &str, opts: &ReadOptions) -> (Option<Dataset>, Vec<Diagnostic>) {
    let mut d: Vec<Diagnostic> = Vec::new();
    let Lines {
        declared,
        header,
        rows,
    } = sort_lines(text);
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
    let dialect = opts.dialect.unwrap_or_else(|| detect_dialect(&names));
    d.push(Diagnostic::new(
        "I-DIALECT",
        Severity::Info,
        Some(header_line),
        None,
        format!("read with the {} column convention", dialect.name()),
        "",
    ));
    let cols = Columns::classify(header_line, names, &rows, dialect, &mut d);
    cols.require(dialect, &mut d);
    if d.iter().any(|x| x.severity == Severity::Error) {
        return (None, d);
    }
    let units = resolve_units(opts, &declared, &mut d);
    let central = opts.central_cmt.unwrap_or(1);
    let mut reader = record::Reader::new(&cols, dialect, &units, central, opts.depot_cmt, &mut d);
    for row in &rows {
        reader.read_row(row, &mut d);
    }
    let subjects = reader.finish(&mut d);
    let any_error = d.iter().any(|x| x.severity == Severity::Error);
    note_subjects(&subjects, &mut d);
    let ds = Dataset {
        dialect,
        dv_unit: units.dv,
        amt_unit: units.amt,
        time_unit: units.time,
        central_cmt: central,
        depot_cmt: opts.depot_cmt,
        covariates: cols.covariates,
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

/// W-NO-OBS for an individual without observations, I-NO-BASELINE for one without a pre-dose sample.
fn note_subjects(subjects: &[Subject], d: &mut Vec<Diagnostic>) {
    for s in subjects {
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
