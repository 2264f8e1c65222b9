//! NMDA-receptor magnesium block `B(V, [Mg]o)`: the fraction of NMDA conductance that is unblocked.
//!
//! General (Woodhull 1973) form, brain.md §1.2:
//! `B(V) = 1 / (1 + [Mg]o/K0 · exp(−γ·V))`, with `γ = z·δ·F/(R·T)` (z = 2 for Mg²⁺).
//! \[Mg\]o is always an *input* (an argument of every call); no preset bakes a concentration in
//! (brain.md §1.3 "hard-coded-Mg warning").
//!
//! Presets (brain.md §1.1, §1.3, §1.5; brain-2.md §7.1):
//! * Jahr & Stevens 1990 (default): K0 = 3.57 mM, γ = 0.062 mV⁻¹ (Brian2 `Wang_2002.py`, NEST `iaf_bw_2001`).
//! * Vargas-Caballero & Robinson 2003: K0 = 2.552 mM, γ = 0.072 mV⁻¹ (BBP `GluSynapse.mod`).
//! * Evans et al. (striatal GENESIS model): K0 = 18 mM, γ = 0.099 mV⁻¹.
//! * "GluN2C/2D-like": Jahr–Stevens with K0 × 4 (Qian et al. 2005 "≥ 4-fold weaker"); approximate.
use crate::error::{check_range, NeuroError, Result};
use serde::Serialize;

/// Faraday constant (C/mol), CODATA 2018.
pub const FARADAY_C_PER_MOL: f64 = 96_485.332_12;
/// Molar gas constant (J/(mol·K)), CODATA 2018.
pub const GAS_CONSTANT_J_PER_MOL_K: f64 = 8.314_462_618;

/// Named parameter sets for the steady-state block.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum MgBlockPreset {
    /// Jahr & Stevens 1990, K0 3.57 mM, γ 0.062 /mV (default everywhere).
    JahrStevens1990,
    /// Vargas-Caballero & Robinson 2003, K0 2.552 mM, γ 0.072 /mV.
    VargasCaballeroRobinson2003,
    /// Evans et al. striatal model, K0 18 mM, γ 0.099 /mV.
    EvansStriatal,
    /// Jahr–Stevens γ with K0 × 4 (GluN2C/2D-like, approximate).
    GluN2CDLike,
}

impl MgBlockPreset {
    /// All presets, in documentation order.
    pub const ALL: [MgBlockPreset; 4] = [
        MgBlockPreset::JahrStevens1990,
        MgBlockPreset::VargasCaballeroRobinson2003,
        MgBlockPreset::EvansStriatal,
        MgBlockPreset::GluN2CDLike,
    ];

    /// Command-line name of the preset.
    pub fn name(self) -> &'static str {
        match self {
            MgBlockPreset::JahrStevens1990 => "jahr-stevens",
            MgBlockPreset::VargasCaballeroRobinson2003 => "vcr2003",
            MgBlockPreset::EvansStriatal => "evans",
            MgBlockPreset::GluN2CDLike => "glun2cd",
        }
    }

    /// Parse a preset name (see [`MgBlockPreset::name`]).
    pub fn parse(s: &str) -> Result<Self> {
        Self::ALL
            .into_iter()
            .find(|p| p.name().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| NeuroError::InvalidParameter {
                field: "block",
                value: s.to_string(),
                allowed: "jahr-stevens, vcr2003, evans, glun2cd",
            })
    }
}

/// Steady-state (instantaneous) Mg²⁺ block of the NMDA receptor.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct MgBlock {
    /// Apparent dissociation constant at 0 mV (mM).
    pub k0_mm: f64,
    /// Voltage sensitivity γ (1/mV).
    pub gamma_per_mv: f64,
    /// Where the parameters come from.
    pub source: &'static str,
}

impl Default for MgBlock {
    fn default() -> Self {
        Self::preset(MgBlockPreset::JahrStevens1990)
    }
}

impl MgBlock {
    /// Parameters of a named preset.
    pub fn preset(p: MgBlockPreset) -> Self {
        match p {
            MgBlockPreset::JahrStevens1990 => MgBlock {
                k0_mm: 3.57,
                gamma_per_mv: 0.062,
                source: "Jahr & Stevens 1990 J Neurosci 10:3178 (constants as in Brian2 Wang_2002.py, NEST iaf_bw_2001; brain.md §1.1, brain-2.md §7.1)",
            },
            MgBlockPreset::VargasCaballeroRobinson2003 => MgBlock {
                k0_mm: 2.552,
                gamma_per_mv: 0.072,
                source: "Vargas-Caballero & Robinson 2003 (BBP GluSynapse.mod; brain.md §1.3)",
            },
            MgBlockPreset::EvansStriatal => MgBlock {
                k0_mm: 18.0,
                gamma_per_mv: 0.099,
                source: "Evans et al. striatal GENESIS model, fitted by eye to Monyer 1994 (brain.md §1.3)",
            },
            MgBlockPreset::GluN2CDLike => MgBlock {
                k0_mm: 3.57 * 4.0,
                gamma_per_mv: 0.062,
                source: "Jahr-Stevens with K0 x4 after Qian et al. 2005 (>= 4-fold weaker block); approximate (brain.md §1.5)",
            },
        }
    }

    /// Woodhull (1973) form: `γ = z·δ·F/(R·T)` with z = 2, electrical distance `delta`
    /// (0 < δ ≤ 1) and temperature `temp_c` (°C).
    pub fn woodhull(k0_mm: f64, delta: f64, temp_c: f64) -> Result<Self> {
        check_range("k0_mm", k0_mm, 1e-6, 1e6, "0 < K0 <= 1e6 mM")?;
        check_range("delta", delta, 1e-6, 1.0, "0 < delta <= 1")?;
        check_range("temp_c", temp_c, -20.0, 60.0, "-20..60 degC")?;
        let t_k = temp_c + 273.15;
        let gamma_per_v = 2.0 * delta * FARADAY_C_PER_MOL / (GAS_CONSTANT_J_PER_MOL_K * t_k);
        Ok(MgBlock {
            k0_mm,
            gamma_per_mv: gamma_per_v / 1000.0,
            source: "Woodhull 1973 J Gen Physiol (gamma = 2 delta F / RT; brain.md §1.2)",
        })
    }

    /// Fraction of NMDA conductance unblocked at membrane potential `v_mv` and extracellular Mg `mg_mm`.
    #[inline(always)]
    pub fn unblocked_fraction(&self, v_mv: f64, mg_mm: f64) -> f64 {
        1.0 / (1.0 + (-self.gamma_per_mv * v_mv).exp() * (mg_mm / self.k0_mm))
    }

    /// Voltage at which half of the conductance is unblocked: `V½ = ln([Mg]/K0)/γ` (mV).
    pub fn v_half_mv(&self, mg_mm: f64) -> f64 {
        (mg_mm / self.k0_mm).ln() / self.gamma_per_mv
    }

    /// Validate a magnesium concentration for use with the block (0 ≤ Mg ≤ 20 mM).
    pub fn check_mg(mg_mm: f64) -> Result<f64> {
        check_range(
            "mg_mm",
            mg_mm,
            0.0,
            20.0,
            "0 <= Mg <= 20 mM (therapeutic CSF range is about 0.6-1.5 mM)",
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn woodhull_delta_maps_to_js_gamma() {
        // brain.md §1.2: gamma = 0.062/mV  <=> delta ≈ 0.79 at 22 °C.
        let b = MgBlock::woodhull(3.57, 0.79, 22.0).unwrap();
        assert!(
            (b.gamma_per_mv - 0.062).abs() < 0.0005,
            "{}",
            b.gamma_per_mv
        );
        assert!(MgBlock::woodhull(3.57, 1.5, 22.0).is_err());
    }

    #[test]
    fn preset_names_round_trip() {
        for p in MgBlockPreset::ALL {
            assert_eq!(MgBlockPreset::parse(p.name()).unwrap(), p);
        }
        let e = MgBlockPreset::parse("foo").unwrap_err();
        assert!(e.to_string().contains("block"));
    }
}
