//! The effect models driven by CSF (ionised) or serum magnesium, with constants from
//! `data/brain/effects.toml`. Every function validates its input and returns an error that names
//! the field, the value and what is allowed.

use serde::{Deserialize, Serialize};

use mgiv_core::error::{invalid, MgivError};
use mgiv_neuro::mg_block::{MgBlock, MgBlockPreset};
use mgiv_neuro::plasticity::{gb, shouval, standard_protocols, Protocol};
use mgiv_neuro::NeuroError;

pub const EFFECTS_TOML: &str = include_str!("../../../data/brain/effects.toml");

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct EffectConstants {
    pub conditions: Conditions,
    pub nmda: NmdaConsts,
    pub release: ReleaseConsts,
    pub excitability: ExcitabilityConsts,
    pub blood_pressure: BpConsts,
    pub cerebral_blood_flow: CbfConsts,
    pub plasticity: PlasticityConsts,
    pub inflammation: InflammationConsts,
    pub status_bands: Vec<StatusBand>,
    /// what mgiv deliberately does not model, and why (shown with every brain report)
    pub not_modelled: Vec<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct Conditions {
    pub ca_o_mmol_l: f64,
    pub ca_o_source: String,
    pub default_voltage_mv: f64,
    pub default_voltage_source: String,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct NmdaConsts {
    pub woodhull_default_delta: f64,
    pub woodhull_default_temp_c: f64,
    pub woodhull_source: String,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct ReleaseConsts {
    pub exponent: f64,
    pub exponent_source: String,
    pub k1_ca_mmol_l: f64,
    pub k2_mg_mmol_l: f64,
    pub k_source: String,
    pub validity_max_mg_mmol_l: f64,
    pub validity_source: String,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct ExcitabilityConsts {
    pub slope_mv_per_decade: f64,
    pub slope_source: String,
    pub mg_weight: f64,
    pub mg_weight_source: String,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct BpConsts {
    pub sbp_emax_mmhg: f64,
    pub sbp_ec50_mmol_l: f64,
    pub sbp_ke0_per_h: f64,
    pub dbp_emax_mmhg: f64,
    pub dbp_ec50_mmol_l: f64,
    pub dbp_ke0_per_h: f64,
    pub source: String,
    pub population_caveat: String,
    /// relative standard error assumed for Emax, EC50 and ke0 (Lu 2002 reports none)
    pub assumed_parameter_rse: f64,
    pub assumed_parameter_rse_source: String,
    /// what is said in words where the model does not apply (no pre-eclampsia)
    pub outside_pre_eclampsia: String,
    /// the study the model comes from, as the report names it
    pub model_study: String,
    /// the measured recovery of blood pressure the model cannot reproduce (no tolerance term)
    pub map_recovery_observation: String,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct CbfConsts {
    pub human_finding: String,
    pub ec50_source: String,
    pub poiseuille_exponent: f64,
    /// serum peak / baseline up to which the human measurements ("serum doubled") cover a
    /// regimen: below it, "no change expected"; above it, no prediction either way
    pub measured_serum_fold: f64,
    pub measured_serum_fold_source: String,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct PlasticityConsts {
    /// where the induction protocol comes from: mgiv-neuro's standard pairing
    /// ([`standard_protocol`])
    pub protocol_source: String,
    pub gb_set: String,
    pub gb_source: String,
    pub shouval_source: String,
    pub chronic_not_modelled: String,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct InflammationConsts {
    pub crp_threshold_mg_l: f64,
    pub crp_shift_mg_l: f64,
    pub crp_shift_lo_mg_l: f64,
    pub crp_shift_hi_mg_l: f64,
    pub crp_source: String,
    pub crp_below_threshold_mg_l: f64,
    pub association_source: String,
    pub cellular_source: String,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct StatusBand {
    pub id: String,
    pub lo_mmol_l: f64,
    pub hi_mmol_l: f64,
    pub label: String,
    pub source: String,
}

/// The shipped constants.
pub fn constants() -> Result<EffectConstants, MgivError> {
    toml::from_str(EFFECTS_TOML).map_err(|e| MgivError::ModelFile {
        id: "data/brain/effects.toml".into(),
        message: e.to_string(),
    })
}

/// The membrane potential reported when none is asked for (mV, near rest; data/brain/effects.toml).
pub fn default_voltage_mv() -> Result<f64, MgivError> {
    Ok(constants()?.conditions.default_voltage_mv)
}

pub(crate) fn from_neuro(e: NeuroError) -> MgivError {
    match e {
        NeuroError::InvalidParameter {
            field,
            value,
            allowed,
        } => invalid(field, value, allowed),
        other => MgivError::Numerical(other.to_string()),
    }
}

fn check(field: &str, v: f64, lo: f64, hi: f64, allowed: &str) -> Result<f64, MgivError> {
    if v.is_finite() && v >= lo && v <= hi {
        Ok(v)
    } else {
        Err(invalid(field, v, allowed))
    }
}

// ---------------------------------------------------------------- NMDA block

/// Which steady-state block law.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub enum BlockSpec {
    /// a named preset of mgiv-neuro (Jahr–Stevens default, VCR 2003, GluN2C/D-like, Evans)
    Preset(MgBlockPreset),
    /// Woodhull form with explicit K0 (mM), electrical distance δ and temperature (°C)
    Woodhull { k0_mm: f64, delta: f64, temp_c: f64 },
}

impl Default for BlockSpec {
    fn default() -> Self {
        BlockSpec::Preset(MgBlockPreset::JahrStevens1990)
    }
}

impl BlockSpec {
    /// Parse a name: `jahr-stevens`, `vcr2003`, `glun2cd`, `evans`, or `woodhull` (with the
    /// given δ, temperature and K0; defaults: δ and temperature from data/brain/effects.toml, K0
    /// the Jahr & Stevens 1990 preset's, mgiv-neuro's `MgBlockPreset::JahrStevens1990`).
    pub fn parse(
        name: &str,
        delta: Option<f64>,
        temp_c: Option<f64>,
        k0_mm: Option<f64>,
    ) -> Result<Self, MgivError> {
        let c = constants()?;
        if name.trim().eq_ignore_ascii_case("woodhull") {
            let spec = BlockSpec::Woodhull {
                k0_mm: k0_mm
                    .unwrap_or_else(|| MgBlock::preset(MgBlockPreset::JahrStevens1990).k0_mm),
                delta: delta.unwrap_or(c.nmda.woodhull_default_delta),
                temp_c: temp_c.unwrap_or(c.nmda.woodhull_default_temp_c),
            };
            spec.block()?;
            return Ok(spec);
        }
        if delta.is_some() || temp_c.is_some() || k0_mm.is_some() {
            return Err(invalid(
                "block",
                name,
                "woodhull when --delta, --temp-c or --k0 is given (the presets have fixed constants)",
            ));
        }
        let allowed = "jahr-stevens (default), vcr2003, glun2cd, evans, woodhull";
        MgBlockPreset::parse(name)
            .map(BlockSpec::Preset)
            .map_err(|_| invalid("block", name, allowed))
    }

    pub fn block(&self) -> Result<MgBlock, MgivError> {
        match *self {
            BlockSpec::Preset(p) => Ok(MgBlock::preset(p)),
            BlockSpec::Woodhull {
                k0_mm,
                delta,
                temp_c,
            } => MgBlock::woodhull(k0_mm, delta, temp_c).map_err(from_neuro),
        }
    }

    pub fn name(&self) -> String {
        match self {
            BlockSpec::Preset(p) => p.name().to_string(),
            BlockSpec::Woodhull {
                k0_mm,
                delta,
                temp_c,
            } => format!("woodhull (K0 {k0_mm} mM, delta {delta}, {temp_c} degC)"),
        }
    }
}

/// Validate a membrane potential (mV).
pub fn check_voltage(v_mv: f64) -> Result<f64, MgivError> {
    check(
        "voltage",
        v_mv,
        -120.0,
        60.0,
        "a membrane potential from -120 to +60 mV",
    )
}

/// Validate an extracellular Mg concentration (mM) for the block law.
pub fn check_mg(mg_mm: f64) -> Result<f64, MgivError> {
    check(
        "mg",
        mg_mm,
        0.0,
        20.0,
        "an extracellular Mg concentration from 0 to 20 mM (therapeutic CSF is about 0.6-1.5 mM)",
    )
}

/// Fraction of NMDA conductance unblocked at `v_mv` and extracellular Mg `mg_mm`.
pub fn unblocked_fraction(spec: &BlockSpec, v_mv: f64, mg_mm: f64) -> Result<f64, MgivError> {
    let b = spec.block()?;
    Ok(b.unblocked_fraction(check_voltage(v_mv)?, check_mg(mg_mm)?))
}

// ---------------------------------------------------------------- release

/// Relative transmitter release (Dodge–Rahamimoff, competitive Mg), 1 at `mg_ref_mm`.
pub fn release_relative(
    c: &ReleaseConsts,
    ca_mm: f64,
    mg_mm: f64,
    mg_ref_mm: f64,
) -> Result<f64, MgivError> {
    check("calcium", ca_mm, 0.0, 20.0, "0 to 20 mM")?;
    check_mg(mg_mm)?;
    check_mg(mg_ref_mm)?;
    let occ = |mg: f64| ca_mm / (1.0 + ca_mm / c.k1_ca_mmol_l + mg / c.k2_mg_mmol_l);
    Ok((occ(mg_mm) / occ(mg_ref_mm)).powf(c.exponent))
}

// ---------------------------------------------------------------- excitability

/// Shift of voltage-gated channel activation (mV, positive = less excitable) from surface-charge
/// screening, relative to `mg_ref_mm`.
pub fn excitability_shift_mv(
    c: &ExcitabilityConsts,
    ca_mm: f64,
    mg_mm: f64,
    mg_ref_mm: f64,
) -> Result<f64, MgivError> {
    check("calcium", ca_mm, 1e-6, 20.0, "above 0 and at most 20 mM")?;
    check_mg(mg_mm)?;
    check_mg(mg_ref_mm)?;
    Ok(c.slope_mv_per_decade
        * ((ca_mm + c.mg_weight * mg_mm) / (ca_mm + c.mg_weight * mg_ref_mm)).log10())
}

// ---------------------------------------------------------------- blood pressure

/// Lu 2002 effect-compartment Emax model: SBP and DBP change (mmHg, negative = fall) at `times_h`
/// for total serum Mg `serum_mmol_l` above `baseline_mmol_l` (effect compartment at 0 at the first
/// time; serum piecewise linear).
pub fn blood_pressure_change(
    c: &BpConsts,
    times_h: &[f64],
    serum_mmol_l: &[f64],
    baseline_mmol_l: f64,
) -> (Vec<f64>, Vec<f64>) {
    let course = |ke0: f64, emax: f64, ec50: f64| {
        let mut ce = 0.0;
        let mut out = Vec::with_capacity(times_h.len());
        for i in 0..times_h.len() {
            let d1 = (serum_mmol_l[i] - baseline_mmol_l).max(0.0);
            if i > 0 {
                let h = times_h[i] - times_h[i - 1];
                let d0 = (serum_mmol_l[i - 1] - baseline_mmol_l).max(0.0);
                if h > 0.0 {
                    ce = crate::csf::exact_step(ce, d0, d1, h, ke0);
                }
            }
            let ce_pos = ce.max(0.0);
            out.push(-emax * ce_pos / (ec50 + ce_pos));
        }
        out
    };
    (
        course(c.sbp_ke0_per_h, c.sbp_emax_mmhg, c.sbp_ec50_mmol_l),
        course(c.dbp_ke0_per_h, c.dbp_emax_mmhg, c.dbp_ec50_mmol_l),
    )
}

/// Lu 2002 blood-pressure course with an interval for the uncertainty of its parameters.
#[derive(Debug, Clone, PartialEq)]
pub struct BpCourse {
    pub sbp: Vec<f64>,
    pub sbp_lo: Vec<f64>,
    pub sbp_hi: Vec<f64>,
    pub dbp: Vec<f64>,
    pub dbp_lo: Vec<f64>,
    pub dbp_hi: Vec<f64>,
    /// quantiles of each draw's largest fall (mmHg): (SBP lo, hi), (DBP lo, hi)
    pub sbp_nadir_interval: (f64, f64),
    pub dbp_nadir_interval: (f64, f64),
}

/// [`blood_pressure_change`] with a central `coverage` interval from `n_draws` log-normal draws of
/// Emax, EC50 and ke0 with the file's relative standard error (an ASSUMPTION: Lu 2002's abstract
/// reports point estimates only). Deterministic for a given seed.
pub fn blood_pressure_course(
    c: &BpConsts,
    times_h: &[f64],
    serum_mmol_l: &[f64],
    baseline_mmol_l: f64,
    coverage: f64,
    n_draws: usize,
    seed: u64,
) -> BpCourse {
    let (sbp, dbp) = blood_pressure_change(c, times_h, serum_mmol_l, baseline_mmol_l);
    let omega = (1.0 + c.assumed_parameter_rse.powi(2)).ln().sqrt();
    let mut rng = crate::rng::SeededRng::new(seed);
    let n = n_draws.max(1);
    let mut s_draws = Vec::with_capacity(n);
    let mut d_draws = Vec::with_capacity(n);
    for _ in 0..n {
        let mut f = || (omega * rng.normal()).exp();
        let cd = BpConsts {
            sbp_emax_mmhg: c.sbp_emax_mmhg * f(),
            sbp_ec50_mmol_l: c.sbp_ec50_mmol_l * f(),
            sbp_ke0_per_h: c.sbp_ke0_per_h * f(),
            dbp_emax_mmhg: c.dbp_emax_mmhg * f(),
            dbp_ec50_mmol_l: c.dbp_ec50_mmol_l * f(),
            dbp_ke0_per_h: c.dbp_ke0_per_h * f(),
            ..c.clone()
        };
        let (a, b) = blood_pressure_change(&cd, times_h, serum_mmol_l, baseline_mmol_l);
        s_draws.push(a);
        d_draws.push(b);
    }
    let q_lo = (1.0 - coverage) / 2.0;
    let q_hi = 1.0 - q_lo;
    let band = |draws: &[Vec<f64>], mid: &[f64]| {
        let mut lo = Vec::with_capacity(mid.len());
        let mut hi = Vec::with_capacity(mid.len());
        let mut col = vec![0.0; draws.len()];
        for (j, &m) in mid.iter().enumerate() {
            for (v, d) in col.iter_mut().zip(draws) {
                *v = d[j];
            }
            let (a, b) = crate::csf::quantile_pair(&mut col, q_lo, q_hi);
            lo.push(a.min(m));
            hi.push(b.max(m));
        }
        (lo, hi)
    };
    let nadir = |draws: &[Vec<f64>]| {
        let mut v: Vec<f64> = draws
            .iter()
            .map(|d| d.iter().copied().fold(0.0, f64::min))
            .collect();
        crate::csf::quantile_pair(&mut v, q_lo, q_hi)
    };
    let (sbp_lo, sbp_hi) = band(&s_draws, &sbp);
    let (dbp_lo, dbp_hi) = band(&d_draws, &dbp);
    BpCourse {
        sbp_nadir_interval: nadir(&s_draws),
        dbp_nadir_interval: nadir(&d_draws),
        sbp,
        sbp_lo,
        sbp_hi,
        dbp,
        dbp_lo,
        dbp_hi,
    }
}

// ---------------------------------------------------------------- hypothetical vascular

/// User-supplied parameters of the hypothetical cerebral-vessel module (no published values).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct VascularHypothesis {
    /// CSF ionised Mg rise above baseline giving half the maximal dilation (mM)
    pub ec50_mm: f64,
    /// maximal diameter increase (%)
    pub emax_percent: f64,
}

impl VascularHypothesis {
    pub fn new(ec50_mm: f64, emax_percent: f64) -> Result<Self, MgivError> {
        check(
            "vascular ec50",
            ec50_mm,
            1e-3,
            20.0,
            "a hypothetical EC50 from 0.001 to 20 mM above baseline",
        )?;
        check(
            "vascular emax",
            emax_percent,
            0.0,
            100.0,
            "a hypothetical maximal diameter increase from 0 to 100 %",
        )?;
        Ok(VascularHypothesis {
            ec50_mm,
            emax_percent,
        })
    }

    /// (diameter change %, flow change % by Poiseuille r^4) for a CSF ionised Mg rise `d_mg_mm`.
    pub fn response(&self, d_mg_mm: f64, exponent: f64) -> (f64, f64) {
        let d = d_mg_mm.max(0.0);
        let dd = self.emax_percent * d / (self.ec50_mm + d);
        let flow = ((1.0 + dd / 100.0).powf(exponent) - 1.0) * 100.0;
        (dd, flow)
    }
}

// ---------------------------------------------------------------- plasticity

/// Acute plasticity readout at one extracellular Mg.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct PlasticityReadout {
    pub mg_mm: f64,
    /// Graupner–Brunel synaptic change (after/before) for the standard protocol
    pub gb_synaptic_change: f64,
    /// Shouval synaptic change (w_final/w_init) for the standard protocol (None when not computed)
    pub shouval_synaptic_change: Option<f64>,
    pub shouval_ca_peak_um: Option<f64>,
}

/// The induction protocol of every plasticity readout: mgiv-neuro's standard STDP pairing
/// (`data/neuro/stimulation-protocols.toml` `[pairing]`).
pub fn standard_protocol() -> Result<Protocol, MgivError> {
    standard_protocols().pairing().map_err(from_neuro)
}

/// The standard protocol in words, from the data values: "STDP pairing, post 10 ms after pre,
/// 60 pairs at 1 Hz".
pub fn standard_protocol_description() -> String {
    let p = &standard_protocols().pairing;
    format!(
        "STDP pairing, post {} ms after pre, {} pairs at {} Hz",
        p.dt_ms, p.pairs, p.hz
    )
}

/// Graupner–Brunel (DP set, analytic) and optionally Shouval readouts at `mg_mm`
/// (mgiv-neuro engines).
pub fn plasticity_at(
    c: &PlasticityConsts,
    proto: &Protocol,
    mg_mm: f64,
    with_shouval: bool,
) -> Result<PlasticityReadout, MgivError> {
    check_mg(mg_mm)?;
    let set = gb::GbParams::by_name(&c.gb_set).map_err(from_neuro)?;
    let mg = gb::GbMg::new(mg_mm).map_err(from_neuro)?;
    let r = gb::analytic(&set, proto, &mg);
    let (sc, peak) = if with_shouval {
        let p = shouval::ShouvalParams::pairing();
        let s = shouval::simulate(&p, proto, &MgBlock::default(), mg_mm).map_err(from_neuro)?;
        (Some(s.synaptic_change), Some(s.ca_peak_um))
    } else {
        (None, None)
    };
    Ok(PlasticityReadout {
        mg_mm,
        gb_synaptic_change: r.synaptic_change,
        shouval_synaptic_change: sc,
        shouval_ca_peak_um: peak,
    })
}

// ---------------------------------------------------------------- status and inflammation

/// The status band of a baseline serum total Mg.
pub fn status_band(c: &EffectConstants, serum_mmol_l: f64) -> Result<StatusBand, MgivError> {
    check(
        "baseline serum Mg",
        serum_mmol_l,
        0.0,
        20.0,
        "0 to 20 mmol/L",
    )?;
    c.status_bands
        .iter()
        .find(|b| serum_mmol_l >= b.lo_mmol_l && serum_mmol_l < b.hi_mmol_l)
        .cloned()
        .ok_or_else(|| MgivError::Numerical(format!("no status band for {serum_mmol_l} mmol/L")))
}

/// Associative CRP relation: (shift mg/L, lo, hi, statement). Only applies above the threshold.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CrpAssessment {
    pub baseline_crp_mg_l: f64,
    pub shift_mg_l: f64,
    pub shift_lo_mg_l: Option<f64>,
    pub shift_hi_mg_l: Option<f64>,
    pub statement: String,
}

pub fn crp_assessment(c: &InflammationConsts, crp_mg_l: f64) -> Result<CrpAssessment, MgivError> {
    check(
        "crp",
        crp_mg_l,
        0.0,
        500.0,
        "a baseline C-reactive protein from 0 to 500 mg/L",
    )?;
    Ok(if crp_mg_l > c.crp_threshold_mg_l {
        CrpAssessment {
            baseline_crp_mg_l: crp_mg_l,
            shift_mg_l: c.crp_shift_mg_l,
            shift_lo_mg_l: Some(c.crp_shift_lo_mg_l),
            shift_hi_mg_l: Some(c.crp_shift_hi_mg_l),
            statement: format!(
                "associative: in trials of ORAL magnesium over weeks, people with CRP above {} mg/L saw CRP fall by about {} mg/L \
(95 % CI {} to {}); this is not a prediction for a single IV course",
                c.crp_threshold_mg_l, -c.crp_shift_mg_l, c.crp_shift_lo_mg_l, c.crp_shift_hi_mg_l
            ),
        }
    } else {
        CrpAssessment {
            baseline_crp_mg_l: crp_mg_l,
            shift_mg_l: 0.0,
            shift_lo_mg_l: None,
            shift_hi_mg_l: None,
            statement: format!(
                "associative: with CRP at or below {} mg/L, trials of oral magnesium found no CRP change (pooled {} mg/L, not significant)",
                c.crp_threshold_mg_l, c.crp_below_threshold_mg_l
            ),
        }
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn published_effect_values_are_read_from_the_data_file() {
        let c = super::constants().unwrap();
        assert_eq!(c.conditions.default_voltage_mv, -65.0);
        let bp = &c.blood_pressure;
        assert_eq!(bp.model_study, "Lu 2002, 51 women");
        assert_eq!(bp.assumed_parameter_rse, 0.3);
        assert!(bp
            .map_recovery_observation
            .starts_with("5 women with severe PIH"));
        // the observation carries its primary source (brain.md §5.3)
        assert!(bp
            .map_recovery_observation
            .contains("doi 10.1016/S0002-9378(84)80169-6"));
        // the protocol is mgiv-neuro's standard pairing (data/neuro/stimulation-protocols.toml)
        assert_eq!(
            super::standard_protocol_description(),
            "STDP pairing, post 10 ms after pre, 60 pairs at 1 Hz"
        );
        let proto = super::standard_protocol().unwrap();
        assert_eq!(proto.name, "pairing dt=10 ms, 60 pairs at 1 Hz");
        assert!(c
            .plasticity
            .protocol_source
            .contains("stimulation-protocols.toml"));
        assert_eq!(c.not_modelled.len(), 6);
        assert!(c.not_modelled[2].contains("cellular effects need 5-10 mmol/L"));
    }
}
