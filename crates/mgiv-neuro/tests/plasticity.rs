//! Plasticity rules: brain.md §10 cases 7–9, exact calcium, GB analytic readout vs simulation,
//! Mg dependence, bad input.
use mgiv_neuro::plasticity::gb::{self, gb_sets, GbMg, GbParams};
use mgiv_neuro::plasticity::shouval::{self, ShouvalParams};
use mgiv_neuro::plasticity::Protocol;
use mgiv_neuro::MgBlock;

#[test]
fn case8_rho_bar_equal_alphas() {
    let dp = GbParams::by_name("gb-dp").unwrap();
    let r = gb::rho_bar(&dp, 0.1, 0.1);
    assert!((r - 321.808 / (321.808 + 200.0)).abs() < 1e-12);
    assert!((r - 0.6167).abs() < 1e-4);
}

#[test]
fn case9_dp_pairing_regression_anchor() {
    // brain.md §10 case 9: 60 pairs at 1 Hz, Mg 1 mM: Δt = +10 ms ≈ 1.22, Δt = −10 ms ≈ 0.88
    let dp = GbParams::by_name("gb-dp").unwrap();
    let mg = GbMg::new(1.0).unwrap();
    let ltp = gb::analytic(&dp, &Protocol::pairing(10.0, 60, 1.0).unwrap(), &mg);
    let ltd = gb::analytic(&dp, &Protocol::pairing(-10.0, 60, 1.0).unwrap(), &mg);
    assert!(
        (ltp.synaptic_change - 1.22).abs() < 0.005,
        "{}",
        ltp.synaptic_change
    );
    assert!(
        (ltd.synaptic_change - 0.88).abs() < 0.005,
        "{}",
        ltd.synaptic_change
    );
}

#[test]
fn exact_time_above_threshold_single_post_spike() {
    // one post spike: c = C_post e^{-t/τ}; time above θ = τ ln(C_post/θ)
    let dp = GbParams::by_name("gb-dp").unwrap();
    let pr = Protocol {
        name: "post".into(),
        pre_ms: vec![],
        post_ms: vec![0.0],
        duration_ms: 1000.0,
    };
    let (td, tp) = gb::time_above(&dp, &pr, &GbMg::new(1.0).unwrap());
    assert!((td - 0.02 * 2f64.ln()).abs() < 1e-12);
    assert!((tp - 0.02 * (2.0f64 / 1.3).ln()).abs() < 1e-12);
    // two transients summing: pre at 0 (arrives at D = 13.7 ms, C_pre = 1), post at 13.7 ms
    let pr = Protocol {
        name: "pair".into(),
        pre_ms: vec![0.0],
        post_ms: vec![13.7],
        duration_ms: 1000.0,
    };
    let (td, _) = gb::time_above(&dp, &pr, &GbMg::new(1.0).unwrap());
    assert!((td - 0.02 * 3f64.ln()).abs() < 1e-9, "{td}");
}

#[test]
fn gb_analytic_readout_matches_stochastic_simulation() {
    // 1000 synapses per initial state: standard error of the change ≈ 0.015; tolerance 4 SE.
    for (name, dt) in [
        ("gb-dp", 10.0),
        ("gb-dp", -10.0),
        ("gb-hippocampal-cultures", 10.0),
        ("gb-cortical-slices", -10.0),
    ] {
        let p = GbParams::by_name(name).unwrap();
        let pr = Protocol::pairing(dt, 60, 1.0).unwrap();
        let mg = GbMg::new(1.0).unwrap();
        let a = gb::analytic(&p, &pr, &mg);
        let s = gb::simulate(&p, &pr, &mg, 1000, 42, 1.0).unwrap();
        assert!(
            (a.synaptic_change - s.synaptic_change).abs() < 0.06,
            "{name} dt={dt}: analytic {} vs simulated {}",
            a.synaptic_change,
            s.synaptic_change
        );
        assert!((a.p_up - s.p_up).abs() < 0.07 && (a.p_down - s.p_down).abs() < 0.07);
    }
}

#[test]
fn all_nine_sets_give_finite_readouts() {
    assert_eq!(gb_sets().len(), 9);
    for p in gb_sets() {
        let r = gb::analytic(
            p,
            &Protocol::pairing(10.0, 60, 1.0).unwrap(),
            &GbMg::new(1.0).unwrap(),
        );
        assert!(
            r.synaptic_change.is_finite() && r.synaptic_change > 0.0,
            "{}",
            p.name
        );
    }
}

#[test]
fn magnesium_scales_presynaptic_calcium_by_block_ratio() {
    let m = GbMg::new(1.2).unwrap();
    let want = MgBlock::default().unblocked_fraction(-65.0, 1.2)
        / MgBlock::default().unblocked_fraction(-65.0, 1.0);
    assert!((m.c_pre_scale() - want).abs() < 1e-15);
    assert!((GbMg::new(1.0).unwrap().c_pre_scale() - 1.0).abs() < 1e-15);
    // DP tetanus: LTP at 1 mM, less at 2 mM (acute block lowers NMDA Ca)
    let dp = GbParams::by_name("gb-dp").unwrap();
    let tet = Protocol::tetanus(100.0, 100).unwrap();
    let lo = gb::analytic(&dp, &tet, &GbMg::new(1.0).unwrap()).synaptic_change;
    let hi = gb::analytic(&dp, &tet, &GbMg::new(2.0).unwrap()).synaptic_change;
    assert!(lo > 1.0 && hi < lo, "{lo} {hi}");
}

#[test]
fn shouval_stdp_signs_and_mg_dependence() {
    let p = ShouvalParams::pairing();
    let b = MgBlock::default();
    let ltp = shouval::simulate(&p, &Protocol::pairing(10.0, 60, 1.0).unwrap(), &b, 1.0).unwrap();
    let ltd = shouval::simulate(&p, &Protocol::pairing(-10.0, 60, 1.0).unwrap(), &b, 1.0).unwrap();
    assert!(ltp.synaptic_change > 1.2, "{}", ltp.synaptic_change);
    assert!(ltd.synaptic_change < 0.9, "{}", ltd.synaptic_change);
    // peak NMDA Ca falls monotonically with Mg
    let mut last = f64::INFINITY;
    for mg in [0.8, 1.0, 1.2, 1.5] {
        let r = shouval::simulate(&p, &Protocol::pairing(10.0, 5, 1.0).unwrap(), &b, mg).unwrap();
        assert!(r.ca_peak_um < last);
        last = r.ca_peak_um;
    }
}

#[test]
fn bad_plasticity_input() {
    assert!(GbMg::new(-0.5).unwrap_err().to_string().contains("mg_mm"));
    assert!(Protocol::tetanus(0.0, 100)
        .unwrap_err()
        .to_string()
        .contains("hz"));
    let dp = GbParams::by_name("gb-dp").unwrap();
    let pr = Protocol::pairing(10.0, 5, 1.0).unwrap();
    assert!(gb::simulate(&dp, &pr, &GbMg::new(1.0).unwrap(), 0, 1, 1.0)
        .unwrap_err()
        .to_string()
        .contains("n_per_state"));
    assert!(shouval::simulate(&ShouvalParams::pairing(), &pr, &MgBlock::default(), 25.0).is_err());
}
