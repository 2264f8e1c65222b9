//! NMDA-receptor magnesium block `B(V, [Mg]o)`: the fraction of NMDA conductance that is unblocked.
//!
//! General (Woodhull 1973) form, brain.md §1.2:
//! `B(V) = 1 / (1 + [Mg]o/K0 · exp(−γ·V))`, with `γ = z·δ·F/(R·T)` (z = 2 for Mg²⁺).
//! \[Mg\]o is always an *input* (an argument of every call); no preset bakes a concentration in
//! (brain.md §1.3 "hard-coded-Mg warning").
//!
//! Presets (brain.md §1.1, §1.3, §1.5; brain-2.md §7.1), with their constants and sources in
//! `data/neuro/mg-block.toml`: Jahr & Stevens 1990 (the default; Brian2 `Wang_2002.py`, NEST
//! `iaf_bw_2001`), Vargas-Caballero & Robinson 2003 (BBP `GluSynapse.mod`), Evans et al.
//! (striatal GENESIS model), and "GluN2C/2D-like" (Jahr–Stevens with K0 × 4, after Qian et al.
//! 2005 "≥ 4-fold weaker"; approximate).
use crate::error::{check_range, NeuroError, Result};
use serde::Serialize;

/// Faraday constant (C/mol), CODATA 2018.
pub const FARADAY_C_PER_MOL: f64 = 96_485.332_12;
/// Molar gas constant (J/(mol·K)), CODATA 2018.
pub const GAS_CONSTANT_J_PER_MOL_K: f64 = 8.314_462_618;

/// Named parameter sets for the steady-state block.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum MgBlockPreset {
    /// Jahr & Stevens 1990 (default everywhere).
    JahrStevens1990,
    /// Vargas-Caballero & Robinson 2003.
    VargasCaballeroRobinson2003,
    /// Evans et al. striatal model.
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

/// The block presets as published (`data/neuro/mg-block.toml`).
pub const MG_BLOCK_FILE: &str = include_str!("../../../data/neuro/mg-block.toml");

#[derive(Debug, Clone, serde::Deserialize)]
struct PresetConstants {
    k0_mm: f64,
    gamma_per_mv: f64,
    source: String,
}

/// The preset table, parsed once; the file is part of the build and a test checks that it holds
/// every preset, so a failure here is a build defect, not bad input.
fn presets() -> &'static std::collections::BTreeMap<String, PresetConstants> {
    static P: std::sync::LazyLock<std::collections::BTreeMap<String, PresetConstants>> =
        std::sync::LazyLock::new(|| {
            toml::from_str(MG_BLOCK_FILE).expect("data/neuro/mg-block.toml is valid (tested)")
        });
    &P
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
    /// Parameters of a named preset (`data/neuro/mg-block.toml`).
    pub fn preset(p: MgBlockPreset) -> Self {
        let c = &presets()[p.name()];
        MgBlock {
            k0_mm: c.k0_mm,
            gamma_per_mv: c.gamma_per_mv,
            source: c.source.as_str(),
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

    /// Every preset is in the data file, with the published constants (brain.md §1.1, §1.3,
    /// §1.5) and a source.
    #[test]
    fn every_preset_is_in_the_data_file_with_its_published_constants() {
        let want = [
            (MgBlockPreset::JahrStevens1990, 3.57, 0.062),
            (MgBlockPreset::VargasCaballeroRobinson2003, 2.552, 0.072),
            (MgBlockPreset::EvansStriatal, 18.0, 0.099),
            (MgBlockPreset::GluN2CDLike, 3.57 * 4.0, 0.062),
        ];
        for (p, k0, g) in want {
            let b = MgBlock::preset(p);
            assert_eq!((b.k0_mm, b.gamma_per_mv), (k0, g), "{}", p.name());
            assert!(!b.source.is_empty());
        }
        assert_eq!(presets().len(), MgBlockPreset::ALL.len());
    }

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
