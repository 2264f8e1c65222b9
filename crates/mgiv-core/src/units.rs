//! Units and salts.
//!
//! Every clinical quantity is a newtype whose constructor names the unit it is given in and whose
//! accessors name the unit they return, so that `grams of MgSO4·7H2O` can never be added to `mmol`
//! or a `mg/dL` level compared with a `mmol/L` one. Internally amounts are mmol of elemental Mg,
//! concentrations mmol/L, durations hours; conversion happens only at the edges.
//!
//! Conversion factors (molar masses of Mg and of each salt, the valence of Mg²⁺, creatinine's
//! µmol/L per mg/dL) are cited data in `data/units/conversions.toml` (magnesium-pk.md §6), read
//! once by [`conversions`].

use serde::{Deserialize, Serialize};
use std::fmt;

use crate::error::{invalid, MgivError};

/// The unit conversion factors (`data/units/conversions.toml`).
pub const CONVERSIONS_FILE: &str = include_str!("../../../data/units/conversions.toml");

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct MagnesiumFactors {
    pub molar_mass_g_per_mol: f64,
    pub valence: f64,
    pub source: String,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct CreatinineFactors {
    pub umol_l_per_mg_dl: f64,
    pub source: String,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct SaltMass {
    pub molar_mass_g_per_mol: f64,
    pub source: String,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct SaltMasses {
    pub mgso4_heptahydrate: SaltMass,
    pub mgso4_anhydrous: SaltMass,
    pub mgcl2_hexahydrate: SaltMass,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct Conversions {
    pub magnesium: MagnesiumFactors,
    pub creatinine: CreatinineFactors,
    pub salts: SaltMasses,
}

/// The built-in conversion factors (parsed once; the file is part of the build and its parse is
/// tested, so a failure here is a build defect, not bad input).
pub fn conversions() -> &'static Conversions {
    static C: std::sync::LazyLock<Conversions> = std::sync::LazyLock::new(|| {
        toml::from_str(CONVERSIONS_FILE).expect("data/units/conversions.toml is valid (tested)")
    });
    &C
}

/// Molar mass of elemental magnesium, g/mol.
pub fn mg_molar_mass_g_per_mol() -> f64 {
    conversions().magnesium.molar_mass_g_per_mol
}
/// mg/dL per mmol/L of magnesium: mg/mmol ÷ 10 dL/L.
pub fn mg_dl_per_mmol_l() -> f64 {
    mg_molar_mass_g_per_mol() / 10.0
}
/// mEq per mmol of Mg²⁺ (its valence).
pub fn meq_per_mmol() -> f64 {
    conversions().magnesium.valence
}
/// µmol/L of creatinine per mg/dL.
pub fn creatinine_umol_l_per_mg_dl() -> f64 {
    conversions().creatinine.umol_l_per_mg_dl
}

/// A magnesium salt as dispensed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Salt {
    /// Magnesium sulfate heptahydrate, MgSO4·7H2O. "g" with no salt means this one.
    MgSo4Heptahydrate,
    /// Anhydrous magnesium sulfate, MgSO4.
    MgSo4Anhydrous,
    /// Magnesium chloride hexahydrate, MgCl2·6H2O.
    MgCl2Hexahydrate,
}

impl Salt {
    pub const ALL: [Salt; 3] = [
        Salt::MgSo4Heptahydrate,
        Salt::MgSo4Anhydrous,
        Salt::MgCl2Hexahydrate,
    ];

    /// Molar mass, g/mol (one Mg per formula unit; `data/units/conversions.toml`).
    pub fn molar_mass_g_per_mol(self) -> f64 {
        let s = &conversions().salts;
        match self {
            Salt::MgSo4Heptahydrate => s.mgso4_heptahydrate.molar_mass_g_per_mol,
            Salt::MgSo4Anhydrous => s.mgso4_anhydrous.molar_mass_g_per_mol,
            Salt::MgCl2Hexahydrate => s.mgcl2_hexahydrate.molar_mass_g_per_mol,
        }
    }

    /// mmol of elemental Mg per gram of salt.
    pub fn mmol_mg_per_g(self) -> f64 {
        1000.0 / self.molar_mass_g_per_mol()
    }

    /// Formula as printed in canonical output.
    pub fn formula(self) -> &'static str {
        match self {
            Salt::MgSo4Heptahydrate => "MgSO4·7H2O",
            Salt::MgSo4Anhydrous => "MgSO4 (anhydrous)",
            Salt::MgCl2Hexahydrate => "MgCl2·6H2O",
        }
    }

    /// Short token accepted by the regimen parser and printed in canonical text.
    pub fn token(self) -> &'static str {
        match self {
            Salt::MgSo4Heptahydrate => "MgSO4",
            Salt::MgSo4Anhydrous => "MgSO4-anhydrous",
            Salt::MgCl2Hexahydrate => "MgCl2",
        }
    }
}

impl fmt::Display for Salt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.formula())
    }
}

/// An amount of elemental magnesium. Stored as mmol; construct and read in any clinical unit.
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd, Serialize, Deserialize, Default)]
pub struct MgAmount {
    mmol: f64,
}

impl MgAmount {
    pub const ZERO: MgAmount = MgAmount { mmol: 0.0 };
    pub fn from_mmol(mmol: f64) -> Self {
        MgAmount { mmol }
    }
    pub fn from_meq(meq: f64) -> Self {
        MgAmount {
            mmol: meq / meq_per_mmol(),
        }
    }
    pub fn from_mg_elemental(mg: f64) -> Self {
        MgAmount {
            mmol: mg / mg_molar_mass_g_per_mol(),
        }
    }
    pub fn from_salt_g(salt: Salt, grams: f64) -> Self {
        MgAmount {
            mmol: grams * salt.mmol_mg_per_g(),
        }
    }
    pub fn mmol(self) -> f64 {
        self.mmol
    }
    pub fn meq(self) -> f64 {
        self.mmol * meq_per_mmol()
    }
    pub fn mg_elemental(self) -> f64 {
        self.mmol * mg_molar_mass_g_per_mol()
    }
    /// Grams of the given salt that contain this amount of Mg.
    pub fn salt_g(self, salt: Salt) -> f64 {
        self.mmol / salt.mmol_mg_per_g()
    }
    pub fn scaled(self, factor: f64) -> Self {
        MgAmount {
            mmol: self.mmol * factor,
        }
    }
}

impl std::ops::Add for MgAmount {
    type Output = MgAmount;
    fn add(self, o: MgAmount) -> MgAmount {
        MgAmount {
            mmol: self.mmol + o.mmol,
        }
    }
}

/// Unit of an amount as a clinician writes it. Serialised as its symbol (`g`, `g MgCl2`, `mmol`, ...).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum AmountUnit {
    /// grams of a salt
    GramsSalt(Salt),
    /// milligrams of a salt
    MilligramsSalt(Salt),
    Mmol,
    Meq,
    /// milligrams of elemental magnesium
    MgElemental,
}

impl From<AmountUnit> for String {
    fn from(u: AmountUnit) -> String {
        u.symbol()
    }
}

impl TryFrom<String> for AmountUnit {
    type Error = MgivError;
    fn try_from(s: String) -> Result<Self, MgivError> {
        AmountUnit::parse(&s)
    }
}

impl AmountUnit {
    /// Parse a unit symbol: `g`, `mg` (of MgSO4·7H2O unless a salt follows: `g MgCl2`,
    /// `g MgSO4-anhydrous`), `mmol`, `mEq`, `mg-elemental`.
    pub fn parse(text: &str) -> Result<Self, MgivError> {
        let lower = text.trim().to_ascii_lowercase();
        let mut parts = lower.split_whitespace();
        let unit = parts.next().unwrap_or("");
        let salt_txt = parts.collect::<Vec<_>>().join(" ");
        let salt = match salt_txt.as_str() {
            "" | "mgso4" | "mgso4·7h2o" | "mgso4.7h2o" => Some(Salt::MgSo4Heptahydrate),
            "mgso4-anhydrous" | "mgso4 anhydrous" | "anhydrous" => Some(Salt::MgSo4Anhydrous),
            "mgcl2" | "mgcl2·6h2o" | "mgcl2.6h2o" => Some(Salt::MgCl2Hexahydrate),
            _ => None,
        };
        let bad = || {
            invalid(
                "amount unit",
                text,
                "g, mg (of MgSO4·7H2O, or followed by MgCl2 / MgSO4-anhydrous), mmol, mEq, mg-elemental",
            )
        };
        match (unit, salt) {
            ("g", Some(s)) => Ok(AmountUnit::GramsSalt(s)),
            ("mg", Some(s)) => Ok(AmountUnit::MilligramsSalt(s)),
            ("mmol", _) if salt_txt.is_empty() => Ok(AmountUnit::Mmol),
            ("meq", _) if salt_txt.is_empty() => Ok(AmountUnit::Meq),
            ("mg-elemental", _) if salt_txt.is_empty() => Ok(AmountUnit::MgElemental),
            _ => Err(bad()),
        }
    }

    pub fn amount(self, value: f64) -> MgAmount {
        match self {
            AmountUnit::GramsSalt(s) => MgAmount::from_salt_g(s, value),
            AmountUnit::MilligramsSalt(s) => MgAmount::from_salt_g(s, value / 1000.0),
            AmountUnit::Mmol => MgAmount::from_mmol(value),
            AmountUnit::Meq => MgAmount::from_meq(value),
            AmountUnit::MgElemental => MgAmount::from_mg_elemental(value),
        }
    }
    pub fn value_of(self, amount: MgAmount) -> f64 {
        match self {
            AmountUnit::GramsSalt(s) => amount.salt_g(s),
            AmountUnit::MilligramsSalt(s) => amount.salt_g(s) * 1000.0,
            AmountUnit::Mmol => amount.mmol(),
            AmountUnit::Meq => amount.meq(),
            AmountUnit::MgElemental => amount.mg_elemental(),
        }
    }
    /// Unit symbol in canonical text, e.g. `g`, `g MgCl2`, `mmol`.
    pub fn symbol(self) -> String {
        match self {
            AmountUnit::GramsSalt(Salt::MgSo4Heptahydrate) => "g".into(),
            AmountUnit::GramsSalt(s) => format!("g {}", s.token()),
            AmountUnit::MilligramsSalt(Salt::MgSo4Heptahydrate) => "mg".into(),
            AmountUnit::MilligramsSalt(s) => format!("mg {}", s.token()),
            AmountUnit::Mmol => "mmol".into(),
            AmountUnit::Meq => "mEq".into(),
            AmountUnit::MgElemental => "mg elemental".into(),
        }
    }
}

/// A serum (or other fluid) magnesium concentration. Stored as mmol/L.
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd, Serialize, Deserialize, Default)]
pub struct MgConc {
    mmol_l: f64,
}

impl MgConc {
    /// Read "0.8 mmol/L", "2.1 mg/dL" or "1.8 mEq/L". A number without a unit is accepted only
    /// when exactly one unit makes it plausible ([`ConcUnit::infer`]); the unit used is returned
    /// with `true` when it was inferred, so the caller can say so. Never read as mmol/L by default.
    pub fn parse_needing_unit(
        field: &str,
        text: &str,
        plausible_mmol_l: (f64, f64),
    ) -> Result<(MgConc, ConcUnit, bool), MgivError> {
        let t = text.trim();
        let split = t
            .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '-' || c == '+'))
            .unwrap_or(t.len());
        let allowed = "a number with its unit: mmol/L, mg/dL or mEq/L";
        let v: f64 = t[..split]
            .trim()
            .parse()
            .map_err(|_| invalid(field, text, allowed))?;
        if !v.is_finite() {
            return Err(invalid(field, text, allowed));
        }
        let unit_txt = t[split..].trim();
        if unit_txt.is_empty() {
            let u = ConcUnit::infer(field, v, plausible_mmol_l)?;
            return Ok((MgConc::from_unit(v, u), u, true));
        }
        let u = ConcUnit::parse(unit_txt)?;
        Ok((MgConc::from_unit(v, u), u, false))
    }

    pub fn from_mmol_l(v: f64) -> Self {
        MgConc { mmol_l: v }
    }
    pub fn from_mg_dl(v: f64) -> Self {
        MgConc {
            mmol_l: v / mg_dl_per_mmol_l(),
        }
    }
    pub fn from_meq_l(v: f64) -> Self {
        MgConc {
            mmol_l: v / meq_per_mmol(),
        }
    }
    pub fn mmol_l(self) -> f64 {
        self.mmol_l
    }
    pub fn mg_dl(self) -> f64 {
        self.mmol_l * mg_dl_per_mmol_l()
    }
    pub fn meq_l(self) -> f64 {
        self.mmol_l * meq_per_mmol()
    }
    pub fn in_unit(self, unit: ConcUnit) -> f64 {
        match unit {
            ConcUnit::MmolPerL => self.mmol_l(),
            ConcUnit::MgPerDl => self.mg_dl(),
            ConcUnit::MeqPerL => self.meq_l(),
        }
    }
    pub fn from_unit(value: f64, unit: ConcUnit) -> Self {
        match unit {
            ConcUnit::MmolPerL => Self::from_mmol_l(value),
            ConcUnit::MgPerDl => Self::from_mg_dl(value),
            ConcUnit::MeqPerL => Self::from_meq_l(value),
        }
    }
}

/// Concentration units for input and output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ConcUnit {
    #[serde(rename = "mmol/L")]
    MmolPerL,
    #[serde(rename = "mg/dL")]
    MgPerDl,
    #[serde(rename = "mEq/L")]
    MeqPerL,
}

impl ConcUnit {
    pub fn symbol(self) -> &'static str {
        match self {
            ConcUnit::MmolPerL => "mmol/L",
            ConcUnit::MgPerDl => "mg/dL",
            ConcUnit::MeqPerL => "mEq/L",
        }
    }
    /// Parse `mmol/L`, `mM`, `mg/dL`, `mEq/L` (case-insensitive).
    /// The unit of a number written without one, when exactly one of mmol/L, mg/dL and mEq/L
    /// gives a value inside `plausible_mmol_l`; otherwise an error that names the field, the value
    /// and what each unit would mean. Nothing is read as mmol/L by default.
    pub fn infer(
        field: &str,
        value: f64,
        plausible_mmol_l: (f64, f64),
    ) -> Result<ConcUnit, MgivError> {
        let all = [ConcUnit::MmolPerL, ConcUnit::MgPerDl, ConcUnit::MeqPerL];
        let fits: Vec<ConcUnit> = all
            .into_iter()
            .filter(|&u| {
                let c = MgConc::from_unit(value, u).mmol_l();
                c >= plausible_mmol_l.0 && c <= plausible_mmol_l.1
            })
            .collect();
        // mg/L (used by some laboratories and in the PK literature; 1 mmol/L = the molar mass of
        // Mg in mg/L) is not accepted as a unit here, but a value plausible in mg/L makes the
        // guess ambiguous
        let mg_per_l_mmol = value / mg_molar_mass_g_per_mol();
        let mg_per_l_plausible =
            mg_per_l_mmol >= plausible_mmol_l.0 && mg_per_l_mmol <= plausible_mmol_l.1;
        if fits.len() == 1 && !mg_per_l_plausible {
            return Ok(fits[0]);
        }
        let readings: Vec<String> = all
            .iter()
            .map(|&u| {
                format!(
                    "{value} {} = {:.3} mmol/L",
                    u.symbol(),
                    MgConc::from_unit(value, u).mmol_l()
                )
            })
            .collect();
        Err(invalid(
            field,
            format!("{value} with no unit ({})", readings.join("; ")),
            format!(
                "a value with its unit, e.g. '{value} mmol/L', '{value} mg/dL' or '{value} mEq/L' ({})",
                if fits.is_empty() && !mg_per_l_plausible {
                    "no unit gives a plausible total serum Mg".to_string()
                } else if fits.len() <= 1 && mg_per_l_plausible {
                    format!(
                        "{value} mg/L would be {mg_per_l_mmol:.3} mmol/L, also plausible, so the unit cannot be inferred"
                    )
                } else {
                    format!(
                        "{} units give a plausible total serum Mg of {}-{} mmol/L, so the unit cannot be inferred",
                        fits.len(),
                        plausible_mmol_l.0,
                        plausible_mmol_l.1
                    )
                }
            ),
        ))
    }

    pub fn parse(text: &str) -> Result<Self, MgivError> {
        match text.trim().to_ascii_lowercase().as_str() {
            "mmol/l" | "mm" | "mmol" => Ok(ConcUnit::MmolPerL),
            "mg/dl" => Ok(ConcUnit::MgPerDl),
            "meq/l" => Ok(ConcUnit::MeqPerL),
            _ => Err(invalid("units", text, "one of mmol/L, mg/dL, mEq/L")),
        }
    }
}

impl fmt::Display for ConcUnit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.symbol())
    }
}

/// A magnesium input rate. Stored as mmol/h.
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd, Serialize, Deserialize, Default)]
pub struct MgRate {
    mmol_per_h: f64,
}

impl MgRate {
    pub fn from_mmol_per_h(v: f64) -> Self {
        MgRate { mmol_per_h: v }
    }
    pub fn per_hour(amount: MgAmount) -> Self {
        MgRate {
            mmol_per_h: amount.mmol(),
        }
    }
    pub fn mmol_per_h(self) -> f64 {
        self.mmol_per_h
    }
    /// Grams of salt per hour.
    pub fn salt_g_per_h(self, salt: Salt) -> f64 {
        MgAmount::from_mmol(self.mmol_per_h).salt_g(salt)
    }
    /// Milligrams of salt per minute (the USPI rate limit is written in mg/min of MgSO4·7H2O).
    pub fn salt_mg_per_min(self, salt: Salt) -> f64 {
        self.salt_g_per_h(salt) * 1000.0 / 60.0
    }
    /// Amount given over a duration.
    pub fn over(self, d: Hours) -> MgAmount {
        MgAmount::from_mmol(self.mmol_per_h * d.h())
    }
}

/// A duration or a time point on the regimen clock. Stored in hours.
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd, Serialize, Deserialize, Default)]
pub struct Hours(f64);

impl Hours {
    pub const ZERO: Hours = Hours(0.0);
    pub fn from_h(h: f64) -> Self {
        Hours(h)
    }
    pub fn from_min(min: f64) -> Self {
        Hours(min / 60.0)
    }
    pub fn from_days(d: f64) -> Self {
        Hours(d * 24.0)
    }
    pub fn h(self) -> f64 {
        self.0
    }
    pub fn min(self) -> f64 {
        self.0 * 60.0
    }
}

impl std::ops::Add for Hours {
    type Output = Hours;
    fn add(self, o: Hours) -> Hours {
        Hours(self.0 + o.0)
    }
}

/// A solution strength: grams of a named salt per 100 mL (so "50 %" = 50 g/100 mL = 500 mg/mL).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SolutionStrength {
    pub salt: Salt,
    pub g_per_100_ml: f64,
}

impl SolutionStrength {
    /// A w/v percentage of the salt (50 % MgSO4 = 500 mg/mL).
    pub fn percent(salt: Salt, percent_w_v: f64) -> Result<Self, MgivError> {
        // input guard, not a product limit (the strongest marketed product, 50 %, is a safety
        // rule in data/rules/rates-and-limits.toml)
        if !(percent_w_v.is_finite() && percent_w_v > 0.0 && percent_w_v <= 80.0) {
            return Err(invalid(
                "solution strength",
                format!("{percent_w_v} %"),
                "a w/v percentage above 0 and at most 80 % (the strongest marketed MgSO4 is 50 %)",
            ));
        }
        Ok(SolutionStrength {
            salt,
            g_per_100_ml: percent_w_v,
        })
    }
    pub fn mg_salt_per_ml(self) -> f64 {
        self.g_per_100_ml * 10.0
    }
    pub fn mmol_per_ml(self) -> f64 {
        self.g_per_100_ml / 100.0 * self.salt.mmol_mg_per_g()
    }
    pub fn meq_per_ml(self) -> f64 {
        self.mmol_per_ml() * meq_per_mmol()
    }
    pub fn percent_w_v(self) -> f64 {
        self.g_per_100_ml
    }
}

/// A named bag or syringe: so many grams of a salt in so many mL.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Bag {
    pub salt: Salt,
    pub salt_g: f64,
    pub volume_ml: f64,
}

impl Bag {
    pub fn new(salt: Salt, salt_g: f64, volume_ml: f64) -> Result<Self, MgivError> {
        if !(salt_g.is_finite() && salt_g > 0.0 && salt_g <= 100.0) {
            return Err(invalid(
                "bag content",
                format!("{salt_g} g"),
                "more than 0 and at most 100 g of salt",
            ));
        }
        // input guard (a typo check), not a clinical limit
        if !(volume_ml.is_finite() && (1.0..=5000.0).contains(&volume_ml)) {
            return Err(invalid(
                "bag volume",
                format!("{volume_ml} mL"),
                "between 1 and 5000 mL",
            ));
        }
        Ok(Bag {
            salt,
            salt_g,
            volume_ml,
        })
    }
    pub fn amount(self) -> MgAmount {
        MgAmount::from_salt_g(self.salt, self.salt_g)
    }
    pub fn strength(self) -> SolutionStrength {
        SolutionStrength {
            salt: self.salt,
            g_per_100_ml: self.salt_g / self.volume_ml * 100.0,
        }
    }
    /// Pump setting (mL/h) that delivers the given Mg rate from this bag.
    pub fn pump_ml_per_h(self, rate: MgRate) -> f64 {
        rate.mmol_per_h() / self.strength().mmol_per_ml()
    }
    /// Volume (mL) of this bag that holds the given amount.
    pub fn volume_for_ml(self, amount: MgAmount) -> f64 {
        amount.mmol() / self.strength().mmol_per_ml()
    }
}

impl fmt::Display for Bag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} g {} in {} mL ({:.3} % w/v, {:.4} mmol/mL)",
            fmt_num(self.salt_g),
            self.salt.formula(),
            fmt_num(self.volume_ml),
            self.strength().percent_w_v(),
            self.strength().mmol_per_ml()
        )
    }
}

/// Format a number with up to 3 decimals and no trailing zeros (4, 0.5, 1.25, 0.333).
pub fn fmt_num(v: f64) -> String {
    // a small amount keeps its significant figures ("0.000001 g", not "0 g"); a huge one is
    // written in scientific notation rather than hundreds of digits
    if v != 0.0 && v.is_finite() && (v.abs() < 0.0005 || v.abs() >= 1e9) {
        return fmt_sig3(v);
    }
    let s = format!("{:.3}", v);
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "-0" {
        "0".into()
    } else {
        s.to_string()
    }
}

/// `v` with 3 significant figures for reading ("1.97", "0.000001", "4.68", "1230"), trailing
/// zeros trimmed; scientific notation from a million and below 1e-9. Text only: JSON and CSV keep
/// full precision.
pub fn fmt_sig3(v: f64) -> String {
    if !v.is_finite() {
        return format!("{v}");
    }
    if v == 0.0 {
        return "0".into();
    }
    let a = v.abs();
    if !(1e-9..1e6).contains(&a) {
        return format!("{v:.2e}");
    }
    let magnitude = a.log10().floor() as i32;
    let decimals = (2 - magnitude).max(0) as usize;
    let factor = 10f64.powi(magnitude - 2);
    let rounded = (v / factor).round() * factor;
    let s = format!("{rounded:.decimals$}");
    let s = if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    };
    if s == "-0" {
        "0".into()
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The data file gives the published factors (magnesium-pk.md §6), and the derived ones are
    /// exact: 24.305 / 10 is 2.4305 in f64.
    #[test]
    fn conversion_factors_from_data_are_the_published_ones() {
        assert_eq!(mg_molar_mass_g_per_mol(), 24.305);
        assert_eq!(mg_dl_per_mmol_l(), 2.4305);
        assert_eq!(meq_per_mmol(), 2.0);
        assert_eq!(creatinine_umol_l_per_mg_dl(), 88.42);
        assert_eq!(Salt::MgSo4Heptahydrate.molar_mass_g_per_mol(), 246.47);
        assert_eq!(Salt::MgSo4Anhydrous.molar_mass_g_per_mol(), 120.37);
        assert_eq!(Salt::MgCl2Hexahydrate.molar_mass_g_per_mol(), 203.30);
        // 1 g MgSO4·7H2O = 4.06 mmol = 8.12 mEq (the USP label)
        let g = MgAmount::from_salt_g(Salt::MgSo4Heptahydrate, 1.0);
        assert!((g.mmol() - 4.057).abs() < 1e-3 && (g.meq() - 8.115).abs() < 1e-3);
        let c = conversions();
        assert!(!c.magnesium.source.is_empty() && !c.salts.mgcl2_hexahydrate.source.is_empty());
    }

    fn close(a: f64, b: f64, tol: f64) -> bool {
        (a - b).abs() <= tol
    }

    #[test]
    fn readable_numbers() {
        assert_eq!(fmt_sig3(1.9749022834807652), "1.97");
        assert_eq!(fmt_sig3(0.000001), "0.000001");
        assert_eq!(fmt_sig3(1234.5), "1230");
        assert_eq!(fmt_sig3(1e308), "1.00e308");
        assert_eq!(fmt_num(0.000001), "0.000001");
        assert_eq!(fmt_num(4.0), "4");
        assert_eq!(fmt_num(1.2125), "1.212");
    }

    // magnesium-pk.md §8 case 16.
    #[test]
    fn case16_four_grams_heptahydrate() {
        let a = MgAmount::from_salt_g(Salt::MgSo4Heptahydrate, 4.0);
        assert!(close(a.mmol(), 16.23, 0.005), "{}", a.mmol());
        assert!(close(a.meq(), 32.46, 0.01), "{}", a.meq());
        assert!(close(a.mg_elemental(), 394.4, 0.1), "{}", a.mg_elemental());
    }

    #[test]
    fn case16_other_salts_and_levels() {
        assert!(close(Salt::MgSo4Anhydrous.mmol_mg_per_g(), 8.31, 0.005));
        assert!(close(Salt::MgCl2Hexahydrate.mmol_mg_per_g(), 4.92, 0.005));
        assert!(close(
            Salt::MgSo4Heptahydrate.mmol_mg_per_g(),
            4.057,
            0.0005
        ));
        let c = MgConc::from_mmol_l(2.0);
        assert!(close(c.mg_dl(), 4.86, 0.005));
        assert!(close(c.meq_l(), 4.0, 1e-12));
        // medicalalgorithms: 1 mg/dL = 0.4114 mmol/L
        assert!(close(MgConc::from_mg_dl(1.0).mmol_l(), 0.4114, 0.0001));
    }

    #[test]
    fn solution_strengths_match_labels() {
        // 50 % MgSO4 = 500 mg/mL = 2.03 mmol/mL = 4.06 mEq/mL (magnesium-pk.md §6)
        let s = SolutionStrength::percent(Salt::MgSo4Heptahydrate, 50.0).unwrap();
        assert!(close(s.mg_salt_per_ml(), 500.0, 1e-9));
        assert!(close(s.mmol_per_ml(), 2.03, 0.005));
        assert!(close(s.meq_per_ml(), 4.06, 0.01));
        // 8 % premix 0.65 mEq/mL
        let p = SolutionStrength::percent(Salt::MgSo4Heptahydrate, 8.0).unwrap();
        assert!(close(p.meq_per_ml(), 0.65, 0.005));
        // 4 % premix 0.325 mEq/mL
        let p = SolutionStrength::percent(Salt::MgSo4Heptahydrate, 4.0).unwrap();
        assert!(close(p.meq_per_ml(), 0.325, 0.0025));
        assert!(SolutionStrength::percent(Salt::MgSo4Heptahydrate, f64::NAN).is_err());
        assert!(SolutionStrength::percent(Salt::MgSo4Heptahydrate, 0.0).is_err());
    }

    #[test]
    fn pump_rate_from_bag() {
        // KEMH: 1 g/h = 12.5 mL/h of 8 g/100 mL.
        let bag = Bag::new(Salt::MgSo4Heptahydrate, 8.0, 100.0).unwrap();
        let rate = MgRate::per_hour(MgAmount::from_salt_g(Salt::MgSo4Heptahydrate, 1.0));
        assert!(close(bag.pump_ml_per_h(rate), 12.5, 1e-9));
        // 40 g in 1000 mL at 2 g/h = 50 mL/h
        let bag = Bag::new(Salt::MgSo4Heptahydrate, 40.0, 1000.0).unwrap();
        let rate = MgRate::per_hour(MgAmount::from_salt_g(Salt::MgSo4Heptahydrate, 2.0));
        assert!(close(bag.pump_ml_per_h(rate), 50.0, 1e-9));
        assert!(Bag::new(Salt::MgSo4Heptahydrate, -1.0, 100.0).is_err());
        assert!(Bag::new(Salt::MgSo4Heptahydrate, 4.0, 0.0).is_err());
    }

    #[test]
    fn rate_in_mg_per_min() {
        // 150 mg/min of MgSO4·7H2O = 9 g/h
        let r = MgRate::per_hour(MgAmount::from_salt_g(Salt::MgSo4Heptahydrate, 9.0));
        assert!(close(
            r.salt_mg_per_min(Salt::MgSo4Heptahydrate),
            150.0,
            1e-9
        ));
    }

    #[test]
    fn conc_unit_parse() {
        assert_eq!(ConcUnit::parse("mg/dL").unwrap(), ConcUnit::MgPerDl);
        assert_eq!(ConcUnit::parse("MEQ/L").unwrap(), ConcUnit::MeqPerL);
        let e = ConcUnit::parse("mg/L").unwrap_err().to_string();
        assert!(
            e.contains("units") && e.contains("mg/L") && e.contains("mmol/L"),
            "{e}"
        );
    }

    #[test]
    fn fmt_num_trims() {
        assert_eq!(fmt_num(4.0), "4");
        assert_eq!(fmt_num(0.5), "0.5");
        assert_eq!(fmt_num(1.0 / 3.0), "0.333");
    }

    proptest::proptest! {
        #[test]
        fn amount_round_trips(v in 1e-6f64..1e4) {
            for s in Salt::ALL {
                let a = MgAmount::from_salt_g(s, v);
                proptest::prop_assert!((a.salt_g(s) - v).abs() <= 1e-12 * v.max(1.0));
            }
            let a = MgAmount::from_meq(v);
            proptest::prop_assert!((a.meq() - v).abs() <= 1e-12 * v.max(1.0));
            let a = MgAmount::from_mg_elemental(v);
            proptest::prop_assert!((a.mg_elemental() - v).abs() <= 1e-9 * v.max(1.0));
        }

        #[test]
        fn conc_round_trips(v in 1e-6f64..100.0) {
            for u in [ConcUnit::MmolPerL, ConcUnit::MgPerDl, ConcUnit::MeqPerL] {
                let c = MgConc::from_unit(v, u);
                proptest::prop_assert!((c.in_unit(u) - v).abs() <= 1e-12 * v.max(1.0));
            }
        }
    }
}
