//! Options shared by several subcommands, and their conversion to library types.

use anyhow::{bail, Context, Result};
use clap::{Args, ValueEnum};
use mgiv_core::patient::{Creatinine, PatientInput, Sex};
use mgiv_core::units::{ConcUnit, MgConc};

/// Patient options (the same on every subcommand that takes a patient).
#[derive(Debug, Clone, Args, Default)]
pub struct PatientArgs {
    /// Body weight, kg
    #[arg(long, value_name = "KG", allow_negative_numbers = true)]
    pub weight: Option<f64>,
    /// Height, cm
    #[arg(long, value_name = "CM", allow_negative_numbers = true)]
    pub height: Option<f64>,
    /// Serum creatinine, mg/dL
    #[arg(
        long,
        value_name = "MG_DL",
        allow_negative_numbers = true,
        conflicts_with = "creatinine_umol"
    )]
    pub creatinine: Option<f64>,
    /// Serum creatinine, µmol/L
    #[arg(
        long = "creatinine-umol",
        value_name = "UMOL_L",
        allow_negative_numbers = true
    )]
    pub creatinine_umol: Option<f64>,
    /// Measured creatinine clearance, mL/min (overrides Cockcroft–Gault)
    #[arg(long, value_name = "ML_MIN", allow_negative_numbers = true)]
    pub crcl: Option<f64>,
    /// eGFR, mL/min/1.73 m² (overrides CKD-EPI 2021)
    #[arg(long, value_name = "ML_MIN_1_73M2", allow_negative_numbers = true)]
    pub egfr: Option<f64>,
    /// Age, years
    #[arg(long, value_name = "Y", allow_negative_numbers = true)]
    pub age: Option<f64>,
    /// Sex: f or m
    #[arg(long, value_name = "f|m")]
    pub sex: Option<String>,
    /// Pregnant
    #[arg(long)]
    pub pregnant: bool,
    /// Pre-eclampsia (implies pregnant)
    #[arg(long = "pre-eclampsia")]
    pub pre_eclampsia: bool,
    /// Measured baseline total serum Mg with its unit: "0.8 mmol/L", "2.1 mg/dL", "1.8 mEq/L" (a bare number is accepted only when one unit alone is plausible)
    #[arg(long, value_name = "MMOL_L")]
    pub baseline: Option<String>,
}

impl PatientArgs {
    pub fn to_input(&self) -> Result<PatientInput> {
        let sex = self.sex.as_deref().map(Sex::parse).transpose()?;
        let creatinine = match (self.creatinine, self.creatinine_umol) {
            (Some(v), None) => Some(Creatinine::MgPerDl(v)),
            (None, Some(v)) => Some(Creatinine::UmolPerL(v)),
            (None, None) => None,
            (Some(_), Some(_)) => {
                bail!("give --creatinine (mg/dL) or --creatinine-umol (µmol/L), not both")
            }
        };
        let baseline = self
            .baseline
            .as_deref()
            .map(|s| {
                parse_conc_needs_unit(
                    s,
                    "--baseline",
                    mgiv_clinical::scenario::BASELINE_PLAUSIBLE_MMOL_L,
                )
            })
            .transpose()?;
        Ok(PatientInput {
            weight_kg: self.weight,
            height_cm: self.height,
            age_y: self.age,
            sex,
            creatinine,
            crcl_ml_min: self.crcl,
            egfr_ml_min_1_73m2: self.egfr,
            pregnant: self.pregnant,
            pre_eclampsia: self.pre_eclampsia,
            baseline,
        })
    }

    /// The note for a baseline given without a unit (its unit inferred), for the context.
    pub fn unit_notes(&self) -> Vec<String> {
        match self.baseline.as_deref().map(str::trim) {
            Some(s) if s.parse::<f64>().is_ok() => self
                .to_input()
                .ok()
                .and_then(|p| p.baseline)
                .map(|b| vec![format!("--baseline '{s}' read as {:.3} mmol/L", b.mmol_l())])
                .unwrap_or_default(),
            _ => Vec::new(),
        }
    }
}

/// "1.4" (mmol/L), "1.4 mmol/L", "3.4 mg/dL", "2.8 mEq/L".
pub fn parse_conc(text: &str, field: &str) -> Result<MgConc> {
    let t = text.trim();
    let split = t
        .find(|c: char| {
            !(c.is_ascii_digit() || c == '.' || c == '-' || c == '+' || c == 'e' || c == 'E')
        })
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let v: f64 = num
        .trim()
        .parse()
        .with_context(|| format!("invalid {field}: '{text}' (allowed: a number with an optional unit mmol/L, mg/dL or mEq/L)"))?;
    let unit = if unit.trim().is_empty() {
        ConcUnit::MmolPerL
    } else {
        ConcUnit::parse(unit)?
    };
    Ok(MgConc::from_unit(v, unit))
}

/// A concentration that must carry its unit; a bare number is accepted only when exactly one unit
/// makes it plausible (`plausible_mmol_l`), and then the inferred unit is printed.
pub fn parse_conc_needs_unit(
    text: &str,
    field: &str,
    plausible_mmol_l: (f64, f64),
) -> Result<MgConc> {
    let (c, unit, inferred) = MgConc::parse_needing_unit(field, text, plausible_mmol_l)?;
    if inferred {
        crate::note!(
            "note: {field} '{text}' has no unit; read as {} (the only plausible unit); write the unit to be sure",
            unit.symbol()
        );
    }
    Ok(c)
}

/// The longest simulation, h (`mgiv_core::simulate::uniform_times` refuses more).
// input guard: 90 days
pub const MAX_HOURS: f64 = 24.0 * 90.0;

/// "0.5,1,6,12" → hours.
pub fn parse_times(text: &str) -> Result<Vec<f64>> {
    let mut out = Vec::new();
    for part in text.split(',') {
        let p = part.trim().trim_end_matches('h').trim();
        if p.is_empty() {
            continue;
        }
        let v: f64 = p.parse().with_context(|| {
            format!("invalid --at time '{part}' (allowed: comma-separated hours, e.g. 0.5,1,6,24)")
        })?;
        // the same limit as --hours (90 days)
        if !(v.is_finite() && (0.0..=MAX_HOURS).contains(&v)) {
            bail!(
                "invalid --at time '{}' (allowed: hours from 0 to {MAX_HOURS} (90 days), as for --hours)",
                part.trim()
            );
        }
        out.push(v);
    }
    if out.is_empty() {
        bail!("invalid --at '{text}' (allowed: comma-separated hours, e.g. 0.5,1,6,24)");
    }
    for w in out.windows(2) {
        if w[1] < w[0] {
            bail!(
                "invalid --at: {} h comes after {} h (allowed: increasing times)",
                mgiv_core::units::fmt_num(w[1]),
                mgiv_core::units::fmt_num(w[0])
            );
        }
    }
    Ok(out)
}

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum UnitsArg {
    #[value(name = "mmol/L")]
    MmolL,
    #[value(name = "mg/dL")]
    MgDl,
    #[value(name = "mEq/L")]
    MeqL,
}

impl UnitsArg {
    pub fn conc_unit(self) -> ConcUnit {
        match self {
            UnitsArg::MmolL => ConcUnit::MmolPerL,
            UnitsArg::MgDl => ConcUnit::MgPerDl,
            UnitsArg::MeqL => ConcUnit::MeqPerL,
        }
    }
}

/// The clinical context for a command that takes a patient, an optional indication and an
/// optional model (the same builder `plan`, `trial` and `adjust` use).
pub fn context_for(
    patient: &PatientArgs,
    indication: Option<&str>,
    model: Option<&str>,
) -> Result<mgiv_clinical::context::ClinicalContext> {
    Ok(mgiv_clinical::context::ClinicalContext::build(
        &mgiv_clinical::context::ContextInput {
            indication: indication.map(str::to_string),
            model_id: model.map(str::to_string),
            patient: patient.to_input()?,
            unit_notes: patient.unit_notes(),
            ..Default::default()
        },
    )?)
}
