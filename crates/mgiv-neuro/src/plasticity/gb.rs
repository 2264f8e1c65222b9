//! Graupner & Brunel (2012) calcium-based synaptic plasticity rule.
//!
//! ```text
//! τ dρ/dt = −ρ(1−ρ)(ρ*−ρ) + γ_p(1−ρ)Θ[c−θ_p] − γ_d ρ Θ[c−θ_d] + σ√τ √(Θ[c−θ_d]+Θ[c−θ_p]) η(t)
//! dc/dt   = −c/τ_Ca + C_pre Σ δ(t − t_pre − D) + C_post Σ δ(t − t_post)
//! ```
//! Noise term as in the PNAS correction (10.1073/pnas.1220044110) and Brian2's
//! `Graupner_Brunel_2012.py`. Parameter sets from the authors' `mgraupe/CalciumBasedPlasticityModel`
//! `synapticChange.py` (brain.md §4.2; DP set verified in brain-2.md §7.2).
//!
//! **Magnesium.** GB has no membrane potential. The presynaptically evoked Ca²⁺ is NMDA-receptor
//! mediated, so mgiv scales it by the Mg block at the resting potential relative to the
//! concentration at which the parameters were fitted:
//! `C_pre,eff = C_pre · B(V_ref, [Mg]) / B(V_ref, [Mg]_ref)` with V_ref = −65 mV and
//! \[Mg\]_ref = 1.0 mM (brain.md §4.2 "Mg entry point"). At \[Mg\]_ref the published model is
//! reproduced exactly. C_post (mostly voltage-gated Ca²⁺ entry) is not scaled. This coupling is a
//! modelling assumption (evidence: mechanism strong, magnitude model-derived).
use super::protocol::Protocol;
use crate::error::{check_range, NeuroError, Result};
use crate::mg_block::MgBlock;
use crate::rng::{Rng, StreamKind};
use serde::{Deserialize, Serialize};
use std::sync::LazyLock;

/// One GB parameter set (names as in the paper; times in seconds as in the authors' code).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct GbParams {
    pub name: &'static str,
    pub tau_ca_s: f64,
    pub c_pre: f64,
    pub c_post: f64,
    pub theta_d: f64,
    pub theta_p: f64,
    pub gamma_d: f64,
    pub gamma_p: f64,
    pub sigma: f64,
    pub tau_s: f64,
    pub rho_star: f64,
    /// delay D of the presynaptic Ca transient (s)
    pub d_s: f64,
    /// fraction of synapses initially in the DOWN state
    pub beta: f64,
    /// ratio of UP/DOWN synaptic strengths
    pub b: f64,
}

/// The nine published sets and the Mg coupling, with their sources
/// (`data/neuro/graupner-brunel-2012.toml`).
pub const GB_FILE: &str = include_str!("../../../../data/neuro/graupner-brunel-2012.toml");

/// One `[[set]]` of the data file (the fields of [`GbParams`], the name owned).
#[derive(Debug, Clone, Deserialize)]
struct GbSetRow {
    name: String,
    tau_ca_s: f64,
    c_pre: f64,
    c_post: f64,
    theta_d: f64,
    theta_p: f64,
    gamma_d: f64,
    gamma_p: f64,
    sigma: f64,
    tau_s: f64,
    rho_star: f64,
    d_s: f64,
    beta: f64,
    b: f64,
}

/// The `[mg_coupling]` table: reference concentration and potential of the C_pre scaling.
#[derive(Debug, Clone, Copy, Deserialize)]
struct MgCoupling {
    mg_ref_mm: f64,
    v_ref_mv: f64,
}

#[derive(Debug, Clone, Deserialize)]
struct GbFile {
    set: Vec<GbSetRow>,
    mg_coupling: MgCoupling,
}

/// The data file, parsed once (a test parses it, so a failure here is a build defect).
fn gb_file() -> &'static GbFile {
    static F: LazyLock<GbFile> =
        LazyLock::new(|| crate::data_file::parse("data/neuro/graupner-brunel-2012.toml", GB_FILE));
    &F
}

/// The nine published sets, in the order of the data file (`gb-dp`, `gb-dpd`, `gb-dpd-prime`,
/// `gb-p`, `gb-d`, `gb-d-prime`, `gb-hippocampal-slices`, `gb-hippocampal-cultures`,
/// `gb-cortical-slices`).
pub fn gb_sets() -> &'static [GbParams] {
    static S: LazyLock<Vec<GbParams>> = LazyLock::new(|| {
        gb_file()
            .set
            .iter()
            .map(|r| GbParams {
                name: r.name.as_str(),
                tau_ca_s: r.tau_ca_s,
                c_pre: r.c_pre,
                c_post: r.c_post,
                theta_d: r.theta_d,
                theta_p: r.theta_p,
                gamma_d: r.gamma_d,
                gamma_p: r.gamma_p,
                sigma: r.sigma,
                tau_s: r.tau_s,
                rho_star: r.rho_star,
                d_s: r.d_s,
                beta: r.beta,
                b: r.b,
            })
            .collect()
    });
    &S
}

impl GbParams {
    /// Look a set up by CLI name (`gb-dp`, `gb-cortical-slices`, ...).
    pub fn by_name(name: &str) -> Result<GbParams> {
        gb_sets()
            .iter()
            .find(|p| p.name.eq_ignore_ascii_case(name.trim()))
            .copied()
            .ok_or_else(|| NeuroError::InvalidParameter {
                field: "rule",
                value: name.to_string(),
                allowed: "gb-dp, gb-dpd, gb-dpd-prime, gb-p, gb-d, gb-d-prime, gb-hippocampal-slices, gb-hippocampal-cultures, gb-cortical-slices, shouval",
            })
    }
}

/// How magnesium enters the GB rule (see module docs).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct GbMg {
    pub block: MgBlock,
    pub mg_mm: f64,
    pub mg_ref_mm: f64,
    pub v_ref_mv: f64,
}

impl GbMg {
    /// Jahr–Stevens block, reference 1.0 mM at −65 mV (`[mg_coupling]` of the data file).
    pub fn new(mg_mm: f64) -> Result<Self> {
        let c = gb_file().mg_coupling;
        Ok(GbMg {
            block: MgBlock::default(),
            mg_mm: MgBlock::check_mg(mg_mm)?,
            mg_ref_mm: c.mg_ref_mm,
            v_ref_mv: c.v_ref_mv,
        })
    }

    /// Factor multiplying C_pre.
    pub fn c_pre_scale(&self) -> f64 {
        self.block.unblocked_fraction(self.v_ref_mv, self.mg_mm)
            / self.block.unblocked_fraction(self.v_ref_mv, self.mg_ref_mm)
    }
}

/// Calcium events (time s, amplitude), sorted by time.
fn calcium_events(p: &GbParams, proto: &Protocol, c_pre_eff: f64) -> Vec<(f64, f64)> {
    let mut ev: Vec<(f64, f64)> = proto
        .pre_ms
        .iter()
        .map(|t| (t * 1e-3 + p.d_s, c_pre_eff))
        .chain(proto.post_ms.iter().map(|t| (t * 1e-3, p.c_post)))
        .collect();
    ev.sort_by(|a, b| a.0.total_cmp(&b.0));
    ev
}

/// A piece of the calcium trace on which the threshold flags are constant.
#[derive(Debug, Clone, Copy)]
struct Piece {
    len_s: f64,
    above_d: bool,
    above_p: bool,
}

/// Exact piecewise description of the calcium trace (single-exponential decay between jumps),
/// from the first event until calcium has fallen below θ_d after the last event.
fn pieces(p: &GbParams, events: &[(f64, f64)]) -> (Vec<Piece>, f64) {
    let mut out = Vec::new();
    let mut c = 0.0;
    let mut k = 0;
    let start = events.first().map(|e| e.0).unwrap_or(0.0);
    let mut t = start;
    while k < events.len() {
        // apply all jumps at this time
        while k < events.len() && events[k].0 <= t {
            c += events[k].1;
            k += 1;
        }
        let t_next = if k < events.len() {
            events[k].0
        } else {
            f64::INFINITY
        };
        let gap = t_next - t;
        // time from t until c decays to a threshold
        let until = |theta: f64| {
            if c > theta {
                p.tau_ca_s * (c / theta).ln()
            } else {
                0.0
            }
        };
        let tp = until(p.theta_p).min(gap);
        let td = until(p.theta_d).min(gap);
        if tp > 0.0 {
            out.push(Piece {
                len_s: tp,
                above_d: true,
                above_p: true,
            });
        }
        if td > tp {
            out.push(Piece {
                len_s: td - tp,
                above_d: true,
                above_p: false,
            });
        }
        if gap.is_finite() {
            if gap > td {
                out.push(Piece {
                    len_s: gap - td,
                    above_d: false,
                    above_p: false,
                });
            }
            c *= (-gap / p.tau_ca_s).exp();
            t = t_next;
        } else {
            break;
        }
    }
    (out, start)
}

/// Analytic readout (authors' `changeInSynapticStrength`) and its ingredients.
#[derive(Debug, Clone, Serialize)]
pub struct GbReadout {
    pub set: &'static str,
    pub mg_mm: f64,
    pub c_pre_eff: f64,
    pub t_total_s: f64,
    /// time above θ_d and θ_p (s)
    pub time_above_d_s: f64,
    pub time_above_p_s: f64,
    pub alpha_d: f64,
    pub alpha_p: f64,
    pub rho_bar: f64,
    pub sigma_rho_sq: f64,
    pub tau_eff_s: f64,
    /// probability DOWN→UP and UP→DOWN
    pub p_up: f64,
    pub p_down: f64,
    /// synaptic strength after/before
    pub synaptic_change: f64,
}

/// Time above both thresholds for a protocol at a given \[Mg\].
pub fn time_above(p: &GbParams, proto: &Protocol, mg: &GbMg) -> (f64, f64) {
    let ev = calcium_events(p, proto, p.c_pre * mg.c_pre_scale());
    let (pcs, _) = pieces(p, &ev);
    let mut td = 0.0;
    let mut tp = 0.0;
    for pc in &pcs {
        if pc.above_d {
            td += pc.len_s;
        }
        if pc.above_p {
            tp += pc.len_s;
        }
    }
    (td, tp)
}

fn transition_probability(
    p: &GbParams,
    t_total: f64,
    rho0: f64,
    rho_bar: f64,
    s2: f64,
    tau_eff: f64,
) -> f64 {
    let denom = (s2 * (1.0 - (-2.0 * t_total / tau_eff).exp())).sqrt();
    if denom.is_nan() || denom <= 0.0 {
        // no time above threshold: no transition
        return 0.0;
    }
    let x1 = -(p.rho_star - rho_bar + (rho_bar - rho0) * (-t_total / tau_eff).exp()) / denom;
    if rho0 == 0.0 {
        (1.0 + erf(x1)) / 2.0
    } else {
        (1.0 - erf(x1)) / 2.0
    }
}

/// Synaptic change (after/before) from transition probabilities (authors' formula).
pub fn change_from_transitions(p: &GbParams, p_up: f64, p_down: f64) -> f64 {
    ((p.beta * (1.0 - p_up) + (1.0 - p.beta) * p_down)
        + (p.beta * p_up + (1.0 - p.beta) * (1.0 - p_down)) * p.b)
        / (p.beta + (1.0 - p.beta) * p.b)
}

/// ρ̄ = Γ_p/(Γ_p + Γ_d), Γ = γ·α: the long-protocol mean of ρ (NaN when both rates are zero).
pub fn rho_bar(p: &GbParams, alpha_d: f64, alpha_p: f64) -> f64 {
    let (g_p, g_d) = (p.gamma_p * alpha_p, p.gamma_d * alpha_d);
    g_p / (g_p + g_d)
}

/// Analytic GB readout (fraction of time above thresholds → Γ, ρ̄, σ_ρ², τ_eff → transition
/// probabilities → synaptic change), following `synapticChange.changeInSynapticStrength`.
pub fn analytic(p: &GbParams, proto: &Protocol, mg: &GbMg) -> GbReadout {
    let t_total = proto.duration_ms * 1e-3;
    let (td, tp) = time_above(p, proto, mg);
    let alpha_d = td / t_total;
    let alpha_p = tp / t_total;
    let g_p = p.gamma_p * alpha_p;
    let g_d = p.gamma_d * alpha_d;
    let (rho_bar, s2, tau_eff, up, down);
    if g_p + g_d > 0.0 {
        rho_bar = self::rho_bar(p, alpha_d, alpha_p);
        s2 = (alpha_p + alpha_d) * p.sigma * p.sigma / (g_p + g_d);
        tau_eff = p.tau_s / (g_p + g_d);
        up = transition_probability(p, t_total, 0.0, rho_bar, s2, tau_eff);
        down = transition_probability(p, t_total, 1.0, rho_bar, s2, tau_eff);
    } else {
        rho_bar = f64::NAN;
        s2 = 0.0;
        tau_eff = f64::INFINITY;
        up = 0.0;
        down = 0.0;
    }
    GbReadout {
        set: p.name,
        mg_mm: mg.mg_mm,
        c_pre_eff: p.c_pre * mg.c_pre_scale(),
        t_total_s: t_total,
        time_above_d_s: td,
        time_above_p_s: tp,
        alpha_d,
        alpha_p,
        rho_bar,
        sigma_rho_sq: s2,
        tau_eff_s: tau_eff,
        p_up: up,
        p_down: down,
        synaptic_change: change_from_transitions(p, up, down),
    }
}

/// Result of a stochastic simulation of many independent synapses.
#[derive(Debug, Clone, Serialize)]
pub struct GbSimulation {
    pub n_per_state: usize,
    pub p_up: f64,
    pub p_down: f64,
    pub synaptic_change: f64,
}

/// Simulate `n_per_state` synapses starting DOWN (ρ = 0) and as many starting UP (ρ = 1) through
/// the protocol, with the exact calcium trace; over each piece of constant threshold flags the
/// linear part of the ρ equation is integrated exactly (Ornstein–Uhlenbeck step, sub-steps
/// ≤ `max_step_ms`) and the cubic term by Euler. Transition = ending on the other side of ρ*
/// after the protocol plus `settle_s` of drift (as Brian2's example, which reads ρ after 60 s).
pub fn simulate(
    p: &GbParams,
    proto: &Protocol,
    mg: &GbMg,
    n_per_state: usize,
    seed: u64,
    max_step_ms: f64,
) -> Result<GbSimulation> {
    // validation bounds (mgiv choice, not model parameters)
    check_range("max_step_ms", max_step_ms, 1e-4, 100.0, "0.0001..100 ms")?;
    if n_per_state == 0 || n_per_state > 10_000_000 {
        return Err(NeuroError::InvalidParameter {
            field: "n_per_state",
            value: n_per_state.to_string(),
            allowed: "1..=10000000",
        });
    }
    let ev = calcium_events(p, proto, p.c_pre * mg.c_pre_scale());
    let (mut pcs, start) = pieces(p, &ev);
    // quiet time up to the end of the protocol window (T_total), as the readout assumes
    let t_end = proto.duration_ms * 1e-3;
    let used: f64 = start + pcs.iter().map(|x| x.len_s).sum::<f64>();
    if t_end > used {
        pcs.push(Piece {
            len_s: t_end - used,
            above_d: false,
            above_p: false,
        });
    }
    let h_max = max_step_ms * 1e-3; // ms -> s
                                    // numerical method, not a model parameter: with no drive (calcium below both thresholds)
                                    // only the cubic drift acts, so sub-steps may be 10x longer, and at least 10 ms
    let quiet_h = (10.0 * h_max).max(0.01);
    let mut rng = Rng::stream(seed, StreamKind::Plasticity, 0);
    let mut rho: Vec<f64> = (0..2 * n_per_state)
        .map(|i| if i < n_per_state { 0.0 } else { 1.0 })
        .collect();
    let cubic = |r: f64| -r * (1.0 - r) * (p.rho_star - r);
    for pc in &pcs {
        let (th_p, th_d) = (pc.above_p as u8 as f64, pc.above_d as u8 as f64);
        let k = p.gamma_p * th_p + p.gamma_d * th_d;
        let a = p.gamma_p * th_p;
        let h_lim = if k > 0.0 { h_max } else { quiet_h };
        let n_sub = (pc.len_s / h_lim).ceil().max(1.0) as usize;
        let h = pc.len_s / n_sub as f64;
        if k > 0.0 {
            let rho_inf = a / k;
            let decay = (-k * h / p.tau_s).exp();
            let sd = (p.sigma * p.sigma * (th_p + th_d) / (2.0 * k) * (1.0 - decay * decay)).sqrt();
            for _ in 0..n_sub {
                for r in rho.iter_mut() {
                    let c = cubic(*r) * h / p.tau_s;
                    *r = rho_inf + (*r - rho_inf) * decay + c + sd * rng.normal();
                }
            }
        } else {
            for _ in 0..n_sub {
                for r in rho.iter_mut() {
                    *r += cubic(*r) * h / p.tau_s;
                }
            }
        }
    }
    let up = rho[..n_per_state]
        .iter()
        .filter(|&&r| r > p.rho_star)
        .count() as f64
        / n_per_state as f64;
    let down = rho[n_per_state..]
        .iter()
        .filter(|&&r| r < p.rho_star)
        .count() as f64
        / n_per_state as f64;
    Ok(GbSimulation {
        n_per_state,
        p_up: up,
        p_down: down,
        synaptic_change: change_from_transitions(p, up, down),
    })
}

/// Error function (Abramowitz & Stegun 7.1.26 is too coarse; this uses the complementary
/// error function's continued-fraction-free Chebyshev fit of Numerical Recipes `erfcc`,
/// fractional error < 1.2e-7).
pub fn erf(x: f64) -> f64 {
    // Numerical Recipes `erfcc` Chebyshev coefficients: numerical method, not a model parameter.
    let z = x.abs();
    let t = 1.0 / (1.0 + 0.5 * z);
    let ans = t
        * (-z * z - 1.265_512_23
            + t * (1.000_023_68
                + t * (0.374_091_96
                    + t * (0.096_784_18
                        + t * (-0.186_288_06
                            + t * (0.278_868_07
                                + t * (-1.135_203_98
                                    + t * (1.488_515_87
                                        + t * (-0.822_152_23 + t * 0.170_872_77)))))))))
            .exp();
    if x >= 0.0 {
        1.0 - ans
    } else {
        ans - 1.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn erf_values() {
        assert!((erf(0.5) - 0.520_499_877_8).abs() < 2e-7);
        assert!((erf(-1.0) + 0.842_700_792_9).abs() < 2e-7);
        assert!(erf(0.0).abs() < 2e-7);
    }

    #[test]
    fn names_are_unique_and_found() {
        let sets = gb_sets();
        for (i, s) in sets.iter().enumerate() {
            assert_eq!(GbParams::by_name(s.name).unwrap(), *s);
            assert!(sets[..i].iter().all(|t| t.name != s.name), "{}", s.name);
        }
        assert!(GbParams::by_name("gb-x")
            .unwrap_err()
            .to_string()
            .contains("rule"));
    }

    /// The data file parses, cites every table, and holds the nine published sets in order with
    /// the authors' digits (brain.md §4.2; spot checks of every set, all of DP and of the
    /// cortical-slice fit) and the Mg coupling of the module docs.
    #[test]
    fn data_file_holds_the_published_sets() {
        crate::data_file::assert_every_table_cited("data/neuro/graupner-brunel-2012.toml", GB_FILE);
        let names: Vec<&str> = gb_sets().iter().map(|p| p.name).collect();
        assert_eq!(
            names,
            [
                "gb-dp",
                "gb-dpd",
                "gb-dpd-prime",
                "gb-p",
                "gb-d",
                "gb-d-prime",
                "gb-hippocampal-slices",
                "gb-hippocampal-cultures",
                "gb-cortical-slices"
            ]
        );
        let dp = GbParams::by_name("gb-dp").unwrap();
        assert_eq!(
            dp,
            GbParams {
                name: "gb-dp",
                tau_ca_s: 0.02,
                c_pre: 1.0,
                c_post: 2.0,
                theta_d: 1.0,
                theta_p: 1.3,
                gamma_d: 200.0,
                gamma_p: 321.808,
                sigma: 2.8284,
                tau_s: 150.0,
                rho_star: 0.5,
                d_s: 0.0137,
                beta: 0.5,
                b: 5.0,
            }
        );
        let cs = GbParams::by_name("gb-cortical-slices").unwrap();
        assert_eq!(
            (cs.tau_ca_s, cs.c_pre, cs.c_post, cs.gamma_d, cs.gamma_p),
            (0.0226936, 0.5617539, 1.23964, 331.909, 725.085)
        );
        assert_eq!(
            (cs.sigma, cs.tau_s, cs.d_s, cs.b),
            (3.3501, 346.3615, 0.0046098, 5.40988)
        );
        // one distinguishing value per remaining set (γ_p, or γ_d where γ_p repeats)
        let want = [
            ("gb-dpd", 550.0, 250.0),
            ("gb-dpd-prime", 600.0, 50.0),
            ("gb-p", 257.447, 160.0),
            ("gb-d", 550.0, 500.0),
            ("gb-d-prime", 600.0, 60.0),
            ("gb-hippocampal-slices", 1645.59, 313.0965),
            ("gb-hippocampal-cultures", 113.6545, 61.141),
        ];
        for (name, gamma_p, gamma_d) in want {
            let p = GbParams::by_name(name).unwrap();
            assert_eq!((p.gamma_p, p.gamma_d), (gamma_p, gamma_d), "{name}");
        }
        let hs = GbParams::by_name("gb-hippocampal-slices").unwrap();
        assert_eq!((hs.beta, hs.b, hs.tau_s), (0.7, 5.28145, 688.355));
        let mg = GbMg::new(1.2).unwrap();
        assert_eq!((mg.mg_ref_mm, mg.v_ref_mv), (1.0, -65.0));
    }
}
