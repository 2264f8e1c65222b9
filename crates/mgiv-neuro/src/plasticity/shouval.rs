//! Shouval, Bear & Cooper 2002 calcium-control rule, as implemented in folmez/CaDP-MatLab
//! (`Omega_calcium.m`, `eta_calcium.m`, `NMDAr_calcium_current.m`, `update_Ca.m`, `update_w.m`,
//! `BPAP.m`, `EPSP.m`; brain.md §4.1). Forward Euler at dt = 0.1 ms as in `CaDP.m`.
//!
//! ```text
//! dw/dt = η(Ca)·(Ω(Ca) − λ w)
//! Ω(Ca) = 0.25 + sig(Ca − α2, β2) − 0.25·sig(Ca − α1, β1)
//! η(Ca) = 1/(P1/(P2 + Ca^P3) + P4)          (1/s)
//! dCa/dt = I_NMDA,Ca − Ca/τ_Ca
//! I_NMDA,Ca = P0·G_NMDA·(I_f e^{−t/τ_f} + I_s e^{−t/τ_s})·B(V, [Mg])·(V − V_r)   (most recent pre spike)
//! V = V_rest + EPSP + BPAP(2-ms delay; 'BPAP + ADP': 100 mV·(0.75 e^{−t/3} + 0.25 e^{−t/25}))
//! ```
//! Magnesium enters only through B(V, \[Mg\]) — the mechanistic \[Mg\]o → Ca²⁺ → Δw link.
use super::protocol::Protocol;
use crate::error::{check_range, Result};
use crate::mg_block::MgBlock;
use serde::Serialize;

/// Parameters (names as in the MATLAB code; Ca in µM above rest, times in ms unless stated).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct ShouvalParams {
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
    /// EPSP = s/norm · Σ (e^{−t/50} − e^{−t/5})
    pub epsp_s_mv: f64,
    pub epsp_norm: f64,
    pub w_init: f64,
    pub dt_ms: f64,
}

impl ShouvalParams {
    /// Pairing protocols (Shouval 2002 Figs 2, 5: EPSP parameter set 1, s = 1, norm = 1).
    pub fn pairing() -> Self {
        ShouvalParams {
            alpha1: 0.35,
            alpha2: 0.55,
            beta1: 80.0,
            beta2: 80.0,
            p1_s: 0.1,
            p2: 0.1 * 1e-4,
            p3: 3.0,
            p4_s: 1.0,
            lambda: 1.0,
            tau_ca_ms: 50.0,
            p0: 0.5,
            g_nmda: -1.0 / 500.0,
            v_r_mv: 130.0,
            i_f: 0.5,
            tau_f_ms: 50.0,
            tau_s_ms: 200.0,
            v_rest_mv: -65.0,
            bpap_delay_ms: 2.0,
            bpap_amp_mv: 100.0,
            bpap_i_f: 0.75,
            bpap_tau_f_ms: 3.0,
            bpap_tau_s_ms: 25.0,
            epsp_s_mv: 1.0,
            epsp_norm: 1.0,
            w_init: 0.25,
            dt_ms: 0.1,
        }
    }

    /// Rate protocols (tetanus, theta burst; Shouval 2002 Fig 3B: s = 10, norm = 0.6968).
    pub fn rate() -> Self {
        ShouvalParams {
            epsp_s_mv: 10.0,
            epsp_norm: 0.6968,
            ..Self::pairing()
        }
    }
}

fn sig(x: f64, beta: f64) -> f64 {
    1.0 / (1.0 + (-beta * x).exp())
}

/// Ω(Ca): the calcium-dependent fixed point of w.
pub fn omega(p: &ShouvalParams, ca_um: f64) -> f64 {
    0.25 + sig(ca_um - p.alpha2, p.beta2) - 0.25 * sig(ca_um - p.alpha1, p.beta1)
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
    check_range("dt_ms", p.dt_ms, 1e-3, 1.0, "0.001..1 ms")?;
    let t_end = proto.last_event_ms() + 1000.0;
    let n = (t_end / p.dt_ms).ceil() as usize;
    let mut ca = 0.0f64;
    let mut w = p.w_init;
    let mut peak = 0.0f64;
    // running sums of the EPSP double exponential and pointers into the spike lists
    let (mut e_slow, mut e_fast) = (0.0f64, 0.0f64);
    let (dec_slow, dec_fast) = ((-p.dt_ms / 50.0).exp(), (-p.dt_ms / 5.0).exp());
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
            e_slow += (-age / 50.0).exp();
            e_fast += (-age / 5.0).exp();
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
}
