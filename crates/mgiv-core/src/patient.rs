//! Patients: the covariates the published magnesium models use, validated at the edge.
//!
//! Renal function formulas, with their published coefficients in
//! `data/equations/renal-function.toml`:
//! - Cockcroft DW, Gault MH. Prediction of creatinine clearance from serum creatinine.
//!   Nephron 1976;16:31-41: CrCl (mL/min) = (a − age) × weight / (d × SCr mg/dL), × f if female.
//! - Inker LA et al. New creatinine- and cystatin C-based equations to estimate GFR without race.
//!   N Engl J Med 2021;385:1737-49 (CKD-EPI 2021): eGFR = s × min(SCr/κ, 1)^α × max(SCr/κ, 1)^β
//!   × c^age × f \[female\], κ and α by sex.
//!   Neither is validated in pregnancy (hyperfiltration); mgiv says so when it uses them there.

use serde::{Deserialize, Serialize};

use crate::error::{check_range, invalid, MgivError};
use crate::units::{creatinine_umol_l_per_mg_dl, MgConc};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Sex {
    Female,
    Male,
}

impl Sex {
    pub fn parse(text: &str) -> Result<Self, MgivError> {
        match text.trim().to_ascii_lowercase().as_str() {
            "f" | "female" | "w" | "woman" => Ok(Sex::Female),
            "m" | "male" | "man" => Ok(Sex::Male),
            _ => Err(invalid("sex", text, "f or m")),
        }
    }
}

/// Serum creatinine as entered.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub enum Creatinine {
    MgPerDl(f64),
    UmolPerL(f64),
}

/// A validated patient. Unknown covariates stay `None`; models fall back to their reference
/// values and say so in warnings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct Patient {
    pub weight_kg: Option<f64>,
    pub height_cm: Option<f64>,
    pub age_y: Option<f64>,
    pub sex: Option<Sex>,
    pub scr_mg_dl: Option<f64>,
    /// measured creatinine clearance (mL/min), overriding Cockcroft–Gault
    pub crcl_ml_min: Option<f64>,
    /// eGFR (mL/min/1.73 m²) as entered, overriding CKD-EPI 2021
    pub egfr_ml_min_1_73m2: Option<f64>,
    pub pregnant: bool,
    pub pre_eclampsia: bool,
    /// measured pre-treatment total serum Mg
    pub baseline: Option<MgConc>,
}

/// Raw patient input, as a front end collects it.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct PatientInput {
    pub weight_kg: Option<f64>,
    pub height_cm: Option<f64>,
    pub age_y: Option<f64>,
    pub sex: Option<Sex>,
    pub creatinine: Option<Creatinine>,
    pub crcl_ml_min: Option<f64>,
    pub egfr_ml_min_1_73m2: Option<f64>,
    pub pregnant: bool,
    pub pre_eclampsia: bool,
    pub baseline: Option<MgConc>,
}

impl PatientInput {
    /// Validate every field; the first bad one is reported with its value and allowed range.
    pub fn validate(self) -> Result<Patient, MgivError> {
        let weight_kg = self
            .weight_kg
            // input guards below: physical and typo bounds of each field, not clinical thresholds
            .map(|w| check_range("weight", w, 0.4, 350.0, "kg"))
            .transpose()?;
        let height_cm = self
            .height_cm
            .map(|h| check_range("height", h, 30.0, 250.0, "cm"))
            .transpose()?;
        let age_y = self
            .age_y
            .map(|a| check_range("age", a, 0.0, 120.0, "years"))
            .transpose()?;
        let scr_mg_dl = match self.creatinine {
            None => None,
            Some(Creatinine::MgPerDl(v)) => {
                // a value in the µmol/L range given as mg/dL (unit-slip detection)
                if v.is_finite() && v > 20.0 && v <= 2000.0 {
                    return Err(invalid(
                        "creatinine",
                        format!("{v} mg/dL"),
                        format!(
                            "0.1 to 20 mg/dL; {v} looks like µmol/L ({:.2} mg/dL): use --creatinine-umol",
                            v / creatinine_umol_l_per_mg_dl()
                        ),
                    ));
                }
                Some(check_range("creatinine", v, 0.1, 20.0, "mg/dL")?)
            }
            Some(Creatinine::UmolPerL(v)) => {
                // a value in the mg/dL range given as µmol/L (unit-slip detection)
                if v.is_finite() && v > 0.0 && v < 9.0 {
                    return Err(invalid(
                        "creatinine",
                        format!("{v} µmol/L"),
                        format!(
                            "9 to 1770 µmol/L; {v} looks like mg/dL ({:.0} µmol/L): use --creatinine",
                            v * creatinine_umol_l_per_mg_dl()
                        ),
                    ));
                }
                let v = check_range("creatinine", v, 9.0, 1770.0, "µmol/L")?;
                Some(v / creatinine_umol_l_per_mg_dl())
            }
        };
        let crcl_ml_min = self
            .crcl_ml_min
            .map(|c| check_range("creatinine clearance", c, 1.0, 300.0, "mL/min"))
            .transpose()?;
        let egfr = self
            .egfr_ml_min_1_73m2
            .map(|c| check_range("eGFR", c, 1.0, 200.0, "mL/min/1.73 m²"))
            .transpose()?;
        let baseline = match self.baseline {
            None => None,
            Some(c) => {
                let v = c.mmol_l();
                // a value in the mg/dL or mEq/L range given as mmol/L (unit-slip detection)
                if v.is_finite() && v > 4.0 && v <= 20.0 {
                    return Err(invalid(
                        "baseline serum Mg",
                        format!("{v} mmol/L"),
                        "0.2 to 4.0 mmol/L; if the value is in mg/dL or mEq/L, give the unit (e.g. '2.1 mg/dL')",
                    ));
                }
                Some(MgConc::from_mmol_l(check_range(
                    "baseline serum Mg",
                    v,
                    0.2,
                    4.0,
                    "mmol/L",
                )?))
            }
        };
        if self.pre_eclampsia && self.sex == Some(Sex::Male) {
            return Err(invalid(
                "pre-eclampsia",
                "with sex m",
                "pre-eclampsia only with sex f",
            ));
        }
        if self.pregnant && self.sex == Some(Sex::Male) {
            return Err(invalid(
                "pregnant",
                "with sex m",
                "pregnancy only with sex f",
            ));
        }
        let pregnant = self.pregnant || self.pre_eclampsia;
        Ok(Patient {
            weight_kg,
            height_cm,
            age_y,
            sex: if pregnant {
                Some(Sex::Female)
            } else {
                self.sex
            },
            scr_mg_dl,
            crcl_ml_min,
            egfr_ml_min_1_73m2: egfr,
            pregnant,
            pre_eclampsia: self.pre_eclampsia,
            baseline,
        })
    }
}

impl Patient {
    /// Creatinine clearance (mL/min): measured if given, else Cockcroft–Gault when weight, age,
    /// sex and SCr are known.
    pub fn crcl_ml_min(&self) -> Option<f64> {
        if let Some(c) = self.crcl_ml_min {
            return Some(c);
        }
        let (w, a, s, scr) = (self.weight_kg?, self.age_y?, self.sex?, self.scr_mg_dl?);
        Some(cockcroft_gault_ml_min(a, w, scr, s))
    }

    /// eGFR (mL/min/1.73 m²): as entered, else CKD-EPI 2021 from SCr, age and sex.
    pub fn egfr_ml_min_1_73m2(&self) -> Option<f64> {
        if let Some(e) = self.egfr_ml_min_1_73m2 {
            return Some(e);
        }
        Some(ckd_epi_2021(self.scr_mg_dl?, self.age_y?, self.sex?))
    }

    /// GFR estimate for mechanistic renal models (mL/min): CrCl, else eGFR, else None.
    pub fn gfr_ml_min(&self) -> Option<f64> {
        self.crcl_ml_min().or_else(|| self.egfr_ml_min_1_73m2())
    }

    /// Body surface area (m², Mosteller), when height and weight are known.
    pub fn bsa_m2(&self) -> Option<f64> {
        Some((self.height_cm? * self.weight_kg? / 3600.0).sqrt())
    }
}

/// The renal function equations' coefficients, as published
/// (`data/equations/renal-function.toml`).
pub const RENAL_EQUATIONS_FILE: &str = include_str!("../../../data/equations/renal-function.toml");

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct CockcroftGault {
    pub age_offset_y: f64,
    pub divisor: f64,
    pub female_factor: f64,
    pub source: String,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct CkdEpi2021 {
    pub scale: f64,
    pub kappa_female_mg_dl: f64,
    pub kappa_male_mg_dl: f64,
    pub alpha_female: f64,
    pub alpha_male: f64,
    pub exponent_above_kappa: f64,
    pub age_factor_per_year: f64,
    pub female_factor: f64,
    pub source: String,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct RenalEquations {
    pub cockcroft_gault: CockcroftGault,
    pub ckd_epi_2021: CkdEpi2021,
}

/// The built-in renal equations (parsed once; the file is part of the build and its parse is
/// tested, so a failure here is a build defect, not bad input).
pub fn renal_equations() -> &'static RenalEquations {
    static EQ: std::sync::LazyLock<RenalEquations> = std::sync::LazyLock::new(|| {
        toml::from_str(RENAL_EQUATIONS_FILE)
            .expect("data/equations/renal-function.toml is valid (tested)")
    });
    &EQ
}

pub fn cockcroft_gault_ml_min(age_y: f64, weight_kg: f64, scr_mg_dl: f64, sex: Sex) -> f64 {
    let c = &renal_equations().cockcroft_gault;
    let base = (c.age_offset_y - age_y) * weight_kg / (c.divisor * scr_mg_dl);
    match sex {
        Sex::Female => c.female_factor * base,
        Sex::Male => base,
    }
}

pub fn ckd_epi_2021(scr_mg_dl: f64, age_y: f64, sex: Sex) -> f64 {
    let c = &renal_equations().ckd_epi_2021;
    let (kappa, alpha, f) = match sex {
        Sex::Female => (c.kappa_female_mg_dl, c.alpha_female, c.female_factor),
        Sex::Male => (c.kappa_male_mg_dl, c.alpha_male, 1.0),
    };
    let r = scr_mg_dl / kappa;
    c.scale
        * r.min(1.0).powf(alpha)
        * r.max(1.0).powf(c.exponent_above_kappa)
        * c.age_factor_per_year.powf(age_y)
        * f
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cockcroft_gault_worked_example() {
        // 60-year-old 72 kg man, SCr 1.0: (140-60)*72/72 = 80 mL/min; woman ×0.85 = 68
        assert!((cockcroft_gault_ml_min(60.0, 72.0, 1.0, Sex::Male) - 80.0).abs() < 1e-12);
        assert!((cockcroft_gault_ml_min(60.0, 72.0, 1.0, Sex::Female) - 68.0).abs() < 1e-12);
    }

    #[test]
    fn ckd_epi_2021_reference_values() {
        // At SCr = κ the ratio terms are 1: 142 × 0.9938^age (× 1.012 for women).
        let m = ckd_epi_2021(0.9, 50.0, Sex::Male);
        assert!((m - 142.0 * 0.9938_f64.powf(50.0)).abs() < 1e-9);
        // 50-year-old man, SCr 1.2 mg/dL: 142 × (1.2/0.9)^-1.2 × 0.9938^50
        // = 142 × 0.70807 × 0.73275 = 73.67 (evaluated by hand, independently of the code path)
        let m = ckd_epi_2021(1.2, 50.0, Sex::Male);
        assert!((m - 73.67).abs() < 0.02, "{m}");
        // 30-year-old woman, SCr 0.5: 142 × (0.5/0.7)^-0.241 × 0.9938^30 × 1.012
        // = 142 × 1.08446 × 0.82987 × 1.012 = 129.3
        let f = ckd_epi_2021(0.5, 30.0, Sex::Female);
        assert!((f - 129.3).abs() < 0.1, "{f}");
    }

    #[test]
    fn creatinine_unit_hints() {
        let e = PatientInput {
            creatinine: Some(Creatinine::MgPerDl(80.0)),
            ..Default::default()
        }
        .validate()
        .unwrap_err()
        .to_string();
        assert!(e.contains("µmol/L") && e.contains("80"), "{e}");
        let e = PatientInput {
            creatinine: Some(Creatinine::UmolPerL(0.9)),
            ..Default::default()
        }
        .validate()
        .unwrap_err()
        .to_string();
        assert!(e.contains("mg/dL"), "{e}");
        let p = PatientInput {
            creatinine: Some(Creatinine::UmolPerL(70.736)),
            ..Default::default()
        }
        .validate()
        .unwrap();
        assert!((p.scr_mg_dl.unwrap() - 0.8).abs() < 1e-9);
    }

    #[test]
    fn implausible_values_are_rejected() {
        for (input, field) in [
            (
                PatientInput {
                    weight_kg: Some(-70.0),
                    ..Default::default()
                },
                "weight",
            ),
            (
                PatientInput {
                    weight_kg: Some(f64::NAN),
                    ..Default::default()
                },
                "weight",
            ),
            (
                PatientInput {
                    weight_kg: Some(700.0),
                    ..Default::default()
                },
                "weight",
            ),
            (
                PatientInput {
                    age_y: Some(150.0),
                    ..Default::default()
                },
                "age",
            ),
            (
                PatientInput {
                    baseline: Some(MgConc::from_mmol_l(7.0)),
                    ..Default::default()
                },
                "baseline",
            ),
            (
                PatientInput {
                    sex: Some(Sex::Male),
                    pre_eclampsia: true,
                    ..Default::default()
                },
                "pre-eclampsia",
            ),
        ] {
            let e = input.validate().unwrap_err().to_string();
            assert!(e.contains(field), "{e}");
        }
    }

    #[test]
    fn pre_eclampsia_implies_pregnancy() {
        let p = PatientInput {
            pre_eclampsia: true,
            ..Default::default()
        }
        .validate()
        .unwrap();
        assert!(p.pregnant && p.sex == Some(Sex::Female));
    }
}
