//! Shouval, Bear & Cooper 2002 calcium-control rule, as implemented in folmez/CaDP-MatLab
//! (`Omega_calcium.m`, `eta_calcium.m`, `NMDAr_calcium_current.m`, `update_Ca.m`, `update_w.m`,
//! `BPAP.m`, `EPSP.m`; brain.md §4.1). Forward Euler at dt = 0.1 ms as in `CaDP.m`.
//!
//! ```text
//! dw/dt = η(Ca)·(Ω(Ca) − λ w)
//! Ω(Ca) = Ω_base + sig(Ca − α2, β2) − Ω_dip·sig(Ca − α1, β1)        (Ω_base = Ω_dip = 0.25)
//! η(Ca) = 1/(P1/(P2 + Ca^P3) + P4)          (1/s)
//! dCa/dt = I_NMDA,Ca − Ca/τ_Ca
//! I_NMDA,Ca = P0·G_NMDA·(I_f e^{−t/τ_f} + I_s e^{−t/τ_s})·B(V, [Mg])·(V − V_r)   (most recent pre spike)
//! V = V_rest + EPSP + BPAP(2-ms delay; 'BPAP + ADP': 100 mV·(0.75 e^{−t/3} + 0.25 e^{−t/25}))
//! EPSP = s/norm · Σ (e^{−t/τ_slow} − e^{−t/τ_fast})                      (τ_slow 50 ms, τ_fast 5 ms)
//! ```
//! Magnesium enters only through B(V, \[Mg\]) — the mechanistic \[Mg\]o → Ca²⁺ → Δw link.
//!
//! The parameters, with their sources, are in `data/neuro/shouval-2002.toml`.
use super::protocol::Protocol;
use crate::error::{check_range, Result};
use crate::mg_block::MgBlock;
use serde::{Deserialize, Serialize};
use std::sync::LazyLock;

/// Parameters (names as in the MATLAB code; Ca in µM above rest, times in ms unless stated).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct ShouvalParams {
    /// Ω(Ca) = omega_base + sig(Ca − α2, β2) − omega_dip·sig(Ca − α1, β1)
    pub omega_base: f64,
    pub omega_dip: f64,
    pub alpha1: f64,
    pub alpha2: f64,
    pub beta1: f64,
    pub beta2: f64,
    pub p1_s: f64,
    pub p2: f64,
    pub p3: f64,
    pub p4_s: f64,
    pub lambda: f64,
    pub tau_ca_ms: f64,
    pub p0: f64,
    /// µM/(ms·mV)
    pub g_nmda: f64,
    pub v_r_mv: f64,
    pub i_f: f64,
    pub tau_f_ms: f64,
    pub tau_s_ms: f64,
    pub v_rest_mv: f64,
    pub bpap_delay_ms: f64,
    pub bpap_amp_mv: f64,
    pub bpap_i_f: f64,
    pub bpap_tau_f_ms: f64,
    pub bpap_tau_s_ms: f64,
    /// EPSP = s/norm · Σ (e^{−t/τ_slow} − e^{−t/τ_fast})
    pub epsp_s_mv: f64,
    pub epsp_norm: f64,
    pub epsp_tau_slow_ms: f64,
    pub epsp_tau_fast_ms: f64,
    pub w_init: f64,
    pub dt_ms: f64,
}

/// The parameters with their sources (`data/neuro/shouval-2002.toml`).
pub const SHOUVAL_FILE: &str = include_str!("../../../../data/neuro/shouval-2002.toml");

#[derive(Debug, Clone, Copy, Deserialize)]
struct OmegaTable {
    alpha1: f64,
    alpha2: f64,
    beta1: f64,
    beta2: f64,
    omega_base: f64,
    omega_dip: f64,
}

#[derive(Debug, Clone, Copy, Deserialize)]
struct EtaTable {
    p1_s: f64,
    p2: f64,
    p3: f64,
    p4_s: f64,
}

#[derive(Debug, Clone, Copy, Deserialize)]
struct WeightTable {
    lambda: f64,
    w_init: f64,
}

#[derive(Debug, Clone, Copy, Deserialize)]
struct CalciumTable {
    tau_ca_ms: f64,
    p0: f64,
    g_nmda: f64,
    v_r_mv: f64,
    i_f: f64,
    tau_f_ms: f64,
    tau_s_ms: f64,
}

#[derive(Debug, Clone, Copy, Deserialize)]
struct VoltageTable {
    v_rest_mv: f64,
    bpap_delay_ms: f64,
    bpap_amp_mv: f64,
    bpap_i_f: f64,
    bpap_tau_f_ms: f64,
    bpap_tau_s_ms: f64,
}

#[derive(Debug, Clone, Copy, Deserialize)]
struct EpspTable {
    tau_slow_ms: f64,
    tau_fast_ms: f64,
}

#[derive(Debug, Clone, Copy, Deserialize)]
struct EpspScale {
    epsp_s_mv: f64,
    epsp_norm: f64,
}

#[derive(Debug, Clone, Copy, Deserialize)]
struct IntegrationTable {
    dt_ms: f64,
}

#[derive(Debug, Clone, Copy, Deserialize)]
struct ShouvalFile {
    omega: OmegaTable,
    eta: EtaTable,
    weight: WeightTable,
    calcium: CalciumTable,
    voltage: VoltageTable,
    epsp: EpspTable,
    pairing: EpspScale,
    rate: EpspScale,
    integration: IntegrationTable,
}

/// The data file, parsed once (a test parses it, so a failure here is a build defect).
fn shouval_file() -> &'static ShouvalFile {
    static F: LazyLock<ShouvalFile> =
        LazyLock::new(|| crate::data_file::parse("data/neuro/shouval-2002.toml", SHOUVAL_FILE));
    &F
}

impl ShouvalParams {
    /// The published parameters with the EPSP scale `e` (pairing or rate protocols).
    fn from_file(f: &ShouvalFile, e: EpspScale) -> Self {
        let (o, eta, c, v) = (f.omega, f.eta, f.calcium, f.voltage);
        ShouvalParams {
            omega_base: o.omega_base,
            omega_dip: o.omega_dip,
            alpha1: o.alpha1,
            alpha2: o.alpha2,
            beta1: o.beta1,
            beta2: o.beta2,
            p1_s: eta.p1_s,
            p2: eta.p2,
            p3: eta.p3,
            p4_s: eta.p4_s,
            lambda: f.weight.lambda,
            tau_ca_ms: c.tau_ca_ms,
            p0: c.p0,
            g_nmda: c.g_nmda,
            v_r_mv: c.v_r_mv,
            i_f: c.i_f,
            tau_f_ms: c.tau_f_ms,
            tau_s_ms: c.tau_s_ms,
            v_rest_mv: v.v_rest_mv,
            bpap_delay_ms: v.bpap_delay_ms,
            bpap_amp_mv: v.bpap_amp_mv,
            bpap_i_f: v.bpap_i_f,
            bpap_tau_f_ms: v.bpap_tau_f_ms,
            bpap_tau_s_ms: v.bpap_tau_s_ms,
            epsp_s_mv: e.epsp_s_mv,
            epsp_norm: e.epsp_norm,
            epsp_tau_slow_ms: f.epsp.tau_slow_ms,
            epsp_tau_fast_ms: f.epsp.tau_fast_ms,
            w_init: f.weight.w_init,
            dt_ms: f.integration.dt_ms,
        }
    }

    /// Pairing protocols (Shouval 2002 Figs 2, 5: EPSP parameter set 1, s = 1, norm = 1).
    pub fn pairing() -> Self {
        let f = shouval_file();
        Self::from_file(f, f.pairing)
    }

    /// Rate protocols (tetanus, theta burst; Shouval 2002 Fig 3B: s = 10, norm = 0.6968).
    pub fn rate() -> Self {
        let f = shouval_file();
        Self::from_file(f, f.rate)
    }
}

fn sig(x: f64, beta: f64) -> f64 {
    1.0 / (1.0 + (-beta * x).exp())
}

/// Ω(Ca): the calcium-dependent fixed point of w.
pub fn omega(p: &ShouvalParams, ca_um: f64) -> f64 {
    p.omega_base + sig(ca_um - p.alpha2, p.beta2) - p.omega_dip * sig(ca_um - p.alpha1, p.beta1)
}

/// η(Ca): learning rate (1/s).
pub fn eta_per_s(p: &ShouvalParams, ca_um: f64) -> f64 {
    1.0 / (p.p1_s / (p.p2 + ca_um.max(0.0).powf(p.p3)) + p.p4_s)
}

/// Outcome of a Shouval simulation.
#[derive(Debug, Clone, Serialize)]
pub struct ShouvalResult {
    pub mg_mm: f64,
    pub w_final: f64,
    /// w_final / w_init
    pub synaptic_change: f64,
    pub ca_peak_um: f64,
}

/// Run a protocol at a given \[Mg\] and return the weight change (simulated until 1 s after the
/// last event).
pub fn simulate(
    p: &ShouvalParams,
    proto: &Protocol,
    block: &MgBlock,
    mg_mm: f64,
) -> Result<ShouvalResult> {
    MgBlock::check_mg(mg_mm)?;
    check_range("dt_ms", p.dt_ms, 1e-3, 1.0, "0.001..1 ms")?; // validation bound, mgiv choice
                                                              // readout 1 s after the last event (mgiv choice, docs/NEURO.md §8)
    let t_end = proto.last_event_ms() + 1000.0;
    let n = (t_end / p.dt_ms).ceil() as usize;
    let mut ca = 0.0f64;
    let mut w = p.w_init;
    let mut peak = 0.0f64;
    // running sums of the EPSP double exponential and pointers into the spike lists
    let (mut e_slow, mut e_fast) = (0.0f64, 0.0f64);
    let (dec_slow, dec_fast) = (
        (-p.dt_ms / p.epsp_tau_slow_ms).exp(),
        (-p.dt_ms / p.epsp_tau_fast_ms).exp(),
    );
    let mut ip = 0usize;
    let mut ipost = 0usize;
    let mut last_pre = f64::NEG_INFINITY;
    let mut last_post = f64::NEG_INFINITY;
    for i in 1..=n {
        let t = i as f64 * p.dt_ms;
        // EPSP from all pre spikes strictly before t
        e_slow *= dec_slow;
        e_fast *= dec_fast;
        while ip < proto.pre_ms.len() && proto.pre_ms[ip] < t {
            let age = t - proto.pre_ms[ip];
            e_slow += (-age / p.epsp_tau_slow_ms).exp();
            e_fast += (-age / p.epsp_tau_fast_ms).exp();
            last_pre = proto.pre_ms[ip];
            ip += 1;
        }
        let epsp = p.epsp_s_mv / p.epsp_norm * (e_slow - e_fast);
        // BPAP of the latest post spike before t − delay
        let tb = t - p.bpap_delay_ms;
        while ipost < proto.post_ms.len() && proto.post_ms[ipost] < tb {
            last_post = proto.post_ms[ipost];
            ipost += 1;
        }
        let bpap = if last_post.is_finite() {
            let a = tb - last_post;
            p.bpap_amp_mv
                * (p.bpap_i_f * (-a / p.bpap_tau_f_ms).exp()
                    + (1.0 - p.bpap_i_f) * (-a / p.bpap_tau_s_ms).exp())
        } else {
            0.0
        };
        let v = p.v_rest_mv + epsp + bpap;
        let i_ca = if last_pre.is_finite() && t > last_pre {
            let ti = t - last_pre;
            p.p0 * p.g_nmda
                * (p.i_f * (-ti / p.tau_f_ms).exp() + (1.0 - p.i_f) * (-ti / p.tau_s_ms).exp())
                * block.unblocked_fraction(v, mg_mm)
                * (v - p.v_r_mv)
        } else {
            0.0
        };
        ca += (i_ca - ca / p.tau_ca_ms) * p.dt_ms;
        peak = peak.max(ca);
        // η is per second, the step in ms: / 1000 converts
        w += eta_per_s(p, ca) / 1000.0 * (omega(p, ca) - p.lambda * w) * p.dt_ms;
    }
    Ok(ShouvalResult {
        mg_mm,
        w_final: w,
        synaptic_change: w / p.w_init,
        ca_peak_um: peak,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn omega_and_eta_checkpoints() {
        // brain.md §10 case 7 and §4.1 derived checkpoints
        let p = ShouvalParams::pairing();
        for &(ca, want) in &[(0.0, 0.25), (0.35, 0.125), (0.55, 0.5), (1.0, 1.0)] {
            assert!((omega(&p, ca) - want).abs() < 1e-3, "{ca}");
        }
        assert!((eta_per_s(&p, 0.0) - 1.0e-4).abs() < 1e-6);
        assert!((eta_per_s(&p, 0.5) - 0.556).abs() < 1e-3);
        assert!((eta_per_s(&p, 1.0) - 0.909).abs() < 1e-3);
        assert!(omega(&p, 0.45) < 1e-3);
    }

    /// The data file parses, cites every table and holds the parameters of folmez/CaDP-MatLab
    /// (brain.md §4.1, docs/NEURO.md §8).
    #[test]
    fn data_file_holds_the_published_parameters() {
        crate::data_file::assert_every_table_cited("data/neuro/shouval-2002.toml", SHOUVAL_FILE);
        let p = ShouvalParams::pairing();
        assert_eq!(
            (
                p.alpha1,
                p.alpha2,
                p.beta1,
                p.beta2,
                p.omega_base,
                p.omega_dip
            ),
            (0.35, 0.55, 80.0, 80.0, 0.25, 0.25)
        );
        // P2 = P1 x 1e-4 as the MATLAB code writes it
        assert_eq!((p.p1_s, p.p2, p.p3, p.p4_s), (0.1, 0.1 * 1e-4, 3.0, 1.0));
        assert_eq!(
            (p.tau_ca_ms, p.p0, p.g_nmda, p.v_r_mv),
            (50.0, 0.5, -1.0 / 500.0, 130.0)
        );
        assert_eq!((p.i_f, p.tau_f_ms, p.tau_s_ms), (0.5, 50.0, 200.0));
        assert_eq!(
            (p.v_rest_mv, p.bpap_delay_ms, p.bpap_amp_mv, p.bpap_i_f),
            (-65.0, 2.0, 100.0, 0.75)
        );
        assert_eq!((p.bpap_tau_f_ms, p.bpap_tau_s_ms), (3.0, 25.0));
        assert_eq!((p.epsp_tau_slow_ms, p.epsp_tau_fast_ms), (50.0, 5.0));
        assert_eq!((p.lambda, p.w_init, p.dt_ms), (1.0, 0.25, 0.1));
        assert_eq!((p.epsp_s_mv, p.epsp_norm), (1.0, 1.0));
        let r = ShouvalParams::rate();
        assert_eq!((r.epsp_s_mv, r.epsp_norm), (10.0, 0.6968));
        assert_eq!(
            ShouvalParams {
                epsp_s_mv: 1.0,
                epsp_norm: 1.0,
                ..r
            },
            p
        );
    }
}
