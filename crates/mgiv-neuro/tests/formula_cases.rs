//! brain.md §10 formula cases 1–5 (tolerance 1e-4 relative, as §10 states) and §1.1 table spot checks.
use mgiv_neuro::{MgBlock, MgBlockPreset};

fn rel(a: f64, b: f64) -> f64 {
    ((a - b) / b).abs()
}

#[test]
fn case1_js_block_at_minus60_1mm() {
    let b = MgBlock::preset(MgBlockPreset::JahrStevens1990);
    // brain.md §10 case 1: 0.0796 (4 significant digits given)
    assert!(rel(b.unblocked_fraction(-60.0, 1.0), 0.0796) < 1e-3);
    // closed form
    let exact = 1.0 / (1.0 + (0.062f64 * 60.0).exp() / 3.57);
    assert!(rel(b.unblocked_fraction(-60.0, 1.0), exact) < 1e-12);
}

#[test]
fn case2_ratio_12_over_10() {
    let b = MgBlock::default();
    let r = b.unblocked_fraction(-60.0, 1.2) / b.unblocked_fraction(-60.0, 1.0);
    assert!(rel(r, 0.8445) < 1e-4, "{r}");
}

#[test]
fn case3_half_unblock_voltage() {
    let b = MgBlock::default();
    assert!((b.v_half_mv(1.0) - (-20.53)).abs() < 0.01);
    assert!((b.v_half_mv(2.0) - (-9.35)).abs() < 0.01);
    assert!((b.unblocked_fraction(b.v_half_mv(1.3), 1.3) - 0.5).abs() < 1e-12);
}

#[test]
fn case4_js_at_0mv() {
    let b = MgBlock::default();
    assert!(rel(b.unblocked_fraction(0.0, 1.0), 1.0 / 1.28) < 1e-3);
    assert!(rel(b.unblocked_fraction(0.0, 1.0), 0.7812) < 1e-4);
}

#[test]
fn case5_vcr_at_minus60() {
    let b = MgBlock::preset(MgBlockPreset::VargasCaballeroRobinson2003);
    assert!(rel(b.unblocked_fraction(-60.0, 1.0), 0.0328) < 2e-3);
}

#[test]
fn table_1_1_spot_values() {
    // brain.md §1.1 derived table (4 decimals)
    let b = MgBlock::default();
    for &(v, mg, want) in &[
        (-80.0, 0.8, 0.0303),
        (-70.0, 1.5, 0.0301),
        (-40.0, 2.0, 0.1300),
        (-20.0, 1.2, 0.4626),
        (20.0, 1.0, 0.9250),
        (40.0, 2.0, 0.9552),
    ] {
        let got = b.unblocked_fraction(v, mg);
        assert!((got - want).abs() < 6e-5, "V={v} Mg={mg}: {got} vs {want}");
    }
}

#[test]
fn evans_preset_matches_table_1_3() {
    let b = MgBlock::preset(MgBlockPreset::EvansStriatal);
    assert!((b.unblocked_fraction(-60.0, 1.0) - 0.045).abs() < 5e-4);
    assert!((b.unblocked_fraction(-60.0, 1.4) - 0.033).abs() < 5e-4);
}

#[test]
fn bad_mg_is_rejected_with_field_name() {
    let e = MgBlock::check_mg(-1.0).unwrap_err().to_string();
    assert!(e.contains("mg_mm") && e.contains("-1"), "{e}");
    assert!(MgBlock::check_mg(f64::NAN).is_err());
}
