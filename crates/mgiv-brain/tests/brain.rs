//! Published and closed-form cases (brain.md §10, brain-2.md §8), the CSF data, reproducibility and
//! bad input.

use mgiv_brain::csf::{
    csf_from_serum, exact_step, CsfModelFile, CsfOptions, CsfParams, CsfVariant,
};
use mgiv_brain::effects::{
    self, constants, crp_assessment, excitability_shift_mv, plasticity_at, release_relative,
    standard_protocol, status_band, unblocked_fraction, BlockSpec, VascularHypothesis,
};
use mgiv_brain::fit::{csf_data, fit_csf};
use mgiv_brain::report::{brain_report, BrainOptions};
use mgiv_neuro::MgBlockPreset;

fn rel_close(a: f64, b: f64, tol: f64) -> bool {
    ((a - b) / b).abs() <= tol
}

fn js() -> BlockSpec {
    BlockSpec::default()
}

#[test]
fn jahr_stevens_cases() {
    // §10 cases 1-4
    let b = unblocked_fraction(&js(), -60.0, 1.0).unwrap();
    assert!((b - 0.0796).abs() < 1e-4, "{b}");
    let r = unblocked_fraction(&js(), -60.0, 1.2).unwrap() / b;
    assert!((r - 0.8445).abs() < 1e-4, "{r}");
    let blk = js().block().unwrap();
    assert!((blk.v_half_mv(1.0) + 20.53).abs() < 0.01);
    assert!((blk.v_half_mv(2.0) + 9.35).abs() < 0.01);
    assert!((unblocked_fraction(&js(), 0.0, 1.0).unwrap() - 1.0 / 1.28).abs() < 1e-4);
    // brain.md §1.1 table: -40 mV, 0.8 mM -> 0.2720; +20 mV, 2 mM -> 0.8605
    assert!((unblocked_fraction(&js(), -40.0, 0.8).unwrap() - 0.2720).abs() < 1e-4);
    assert!((unblocked_fraction(&js(), 20.0, 2.0).unwrap() - 0.8605).abs() < 1e-4);
}

#[test]
fn other_block_presets_and_woodhull() {
    // §10 case 5: VCR 2003 B(-60, 1 mM) = 0.0328
    let vcr = BlockSpec::parse("vcr2003", None, None, None).unwrap();
    assert!((unblocked_fraction(&vcr, -60.0, 1.0).unwrap() - 0.0328).abs() < 1e-4);
    // GluN2C/D-like: K0 x4 -> weaker block
    let cd = BlockSpec::Preset(MgBlockPreset::GluN2CDLike);
    let b_cd = unblocked_fraction(&cd, -60.0, 1.0).unwrap();
    let expect = 1.0 / (1.0 + 1.0 / (4.0 * 3.57) * (0.062f64 * 60.0).exp());
    assert!((b_cd - expect).abs() < 1e-12);
    // Woodhull: delta 0.79 at 22 degC reproduces gamma 0.062 /mV (brain.md §1.2)
    let w = BlockSpec::parse("woodhull", Some(0.79), Some(22.0), None).unwrap();
    let g = w.block().unwrap().gamma_per_mv;
    assert!((g - 0.062).abs() < 0.0005, "{g}");
    // 37 degC, delta 0.8: gamma = 2·0.8·F/(R·310.15 K)
    let w37 = BlockSpec::parse("woodhull", None, None, None).unwrap();
    let g37 = w37.block().unwrap().gamma_per_mv;
    assert!((g37 - 2.0 * 0.8 * 96485.33212 / (8.314462618 * 310.15) / 1000.0).abs() < 1e-9);
    // presets refuse Woodhull options; unknown names are named
    let e = BlockSpec::parse("vcr2003", Some(0.8), None, None).unwrap_err();
    assert!(e.to_string().contains("block"), "{e}");
    let e = BlockSpec::parse("magic", None, None, None).unwrap_err();
    assert!(e.to_string().contains("magic") && e.to_string().contains("jahr-stevens"));
    let e = BlockSpec::parse("woodhull", Some(1.5), None, None).unwrap_err();
    assert!(e.to_string().contains("delta"), "{e}");
}

#[test]
fn release_slope_and_surface_charge() {
    let c = constants().unwrap();
    // §10 case 10: log-log slope of release vs Ca at low Ca ≈ 4, unchanged by Mg
    for mg in [0.5, 1.0, 2.0] {
        let (ca1, ca2) = (0.01, 0.011);
        let r1 = release_relative(&c.release, ca1, mg, 0.8).unwrap() * ca1.powi(0);
        // slope of absolute release: ratio relative to the same Mg at two Ca
        let abs = |ca: f64| {
            (ca / (1.0 + ca / c.release.k1_ca_mmol_l + mg / c.release.k2_mg_mmol_l)).powi(4)
        };
        let slope = (abs(ca2) / abs(ca1)).ln() / (ca2 / ca1).ln();
        assert!((slope - 4.0).abs() < 0.05, "{slope}");
        assert!(r1 > 0.0);
    }
    assert!((release_relative(&c.release, 1.2, 0.8, 0.8).unwrap() - 1.0).abs() < 1e-15);
    // brain.md §2: Ca 1.2, Mg 1.0 -> 1.2 lowers release by about 10 % (illustrative constants)
    let r = release_relative(&c.release, 1.2, 1.2, 1.0).unwrap();
    assert!((0.88..0.92).contains(&r), "{r}");
    // §10 case 11: 10x divalent -> +20 to +25 mV (slope 22 mV/decade)
    let x = &c.excitability;
    let s10 = x.slope_mv_per_decade * 10f64.log10();
    assert!((20.0..=25.0).contains(&s10));
    // brain.md §3: +0.2 mM Mg on Ca 1.2 + Mg 1.0 is sub-millivolt
    let dv = excitability_shift_mv(x, 1.2, 1.2, 1.0).unwrap();
    assert!(dv > 0.0 && dv < 0.9, "{dv}");
}

#[test]
fn shipped_csf_parameters_equal_a_fresh_fit() {
    let fresh = fit_csf().unwrap();
    let shipped = CsfModelFile::builtin().unwrap();
    let close = |a: f64, b: f64| (a - b).abs() <= 1e-7 * b.abs().max(1e-12);
    assert!(close(
        fresh.saturable.k_out_per_h,
        shipped.saturable.k_out_per_h
    ));
    assert!(close(fresh.saturable.km_rel, shipped.saturable.km_rel));
    for i in 0..2 {
        for j in 0..2 {
            assert!(
                (fresh.saturable.covariance_ln[i][j] - shipped.saturable.covariance_ln[i][j]).abs()
                    < 1e-5
            );
        }
    }
    assert!(close(fresh.leaky.k_out_per_h, shipped.leaky.k_out_per_h));
    assert!(close(fresh.ratio.ratio_total, shipped.ratio.ratio_total));
    assert!(close(fresh.ionised.fraction, shipped.ionised.fraction));
    // round trip of the writer
    let back = CsfModelFile::from_toml(&fresh.to_toml().unwrap()).unwrap();
    assert_eq!(back, fresh);
}

fn fuchs_buder_series() -> (Vec<f64>, Vec<f64>) {
    let d = csf_data().unwrap();
    let fb = d.fuchs_buder_1997;
    let t: Vec<f64> = (0..=480).map(|i| i as f64 * 0.5 / 60.0).collect();
    let s: Vec<f64> = t.iter().map(|h| fb.plasma_mmol_l(h * 60.0)).collect();
    (t, s)
}

#[test]
fn fuchs_buder_within_reported_spread() {
    // Fuchs-Buder 1997: CSF 0.95 ± 0.11 -> 1.00 ± 0.15 (30) -> 1.10 ± 0.17 (90) -> 1.13 ± 0.19 (240 min)
    let (t, s) = fuchs_buder_series();
    for variant in [CsfVariant::Saturable, CsfVariant::Leaky] {
        let opts = CsfOptions {
            variant,
            ..CsfOptions::default()
        };
        let c = csf_from_serum(&t, &s, 0.74, &opts).unwrap();
        assert!((c.total_mmol_l[0] - 0.95).abs() <= 0.11);
        for (k, (obs, sd)) in [(60, (1.00, 0.15)), (180, (1.10, 0.17)), (480, (1.13, 0.19))] {
            let p = c.total_mmol_l[k];
            assert!(
                (p - obs).abs() <= sd,
                "{variant:?} t={} pred {p} obs {obs}",
                t[k]
            );
            assert!(c.total_lo_mmol_l[k] <= p && p <= c.total_hi_mmol_l[k]);
        }
        // CSF still rising while plasma falls (plasma peaks at t = 0 here)
        assert!(c.total_mmol_l[180] > c.total_mmol_l[60]);
        assert!(s[180] < s[60]);
    }
    // the leaky fit reproduces the means closely (within one SEM, SD/sqrt(20))
    let opts = CsfOptions {
        variant: CsfVariant::Leaky,
        n_samples: 0,
        ..CsfOptions::default()
    };
    let c = csf_from_serum(&t, &s, 0.74, &opts).unwrap();
    let rel = c.total_mmol_l[480] / c.total_mmol_l[0] * 0.95;
    assert!((rel - 1.13).abs() < 0.19 / 20f64.sqrt(), "{rel}");
}

#[test]
fn mckee_clamp_and_baseline() {
    // McKee 2005: baseline CSF total 1.25 ± 0.14, ionised 0.80 ± 0.10 at serum 0.92;
    // serum held at 2.1-2.5 for 24 h -> CSF +10-19 %
    let t: Vec<f64> = (0..=24 * 12).map(|i| i as f64 / 12.0).collect();
    for serum in [2.1, 2.3, 2.5] {
        let s: Vec<f64> = t
            .iter()
            .map(|&h| if h == 0.0 { 0.92 } else { serum })
            .collect();
        let c = csf_from_serum(&t, &s, 0.92, &CsfOptions::default()).unwrap();
        assert!((c.baseline_total_mmol_l - 1.25).abs() <= 0.14);
        assert!((c.baseline_ionised_mmol_l - 0.80).abs() <= 0.10);
        let rise = c.total_mmol_l.last().unwrap() / c.baseline_total_mmol_l - 1.0;
        assert!((0.10..=0.19).contains(&rise), "serum {serum}: rise {rise}");
        let rise12 = c.total_mmol_l[144] / c.baseline_total_mmol_l - 1.0;
        assert!((0.10..=0.19).contains(&rise12), "12 h: {rise12}");
        // the interval is honest about the uncertainty: it straddles the point estimate and is wide
        let lo = c.total_lo_mmol_l.last().unwrap() / c.baseline_total_mmol_l - 1.0;
        let hi = c.total_hi_mmol_l.last().unwrap() / c.baseline_total_mmol_l - 1.0;
        assert!(lo < rise && rise < hi);
    }
}

#[test]
fn transport_model_cases_from_brain2() {
    // N1: dog parameters (k_out 0.0099/min, Km 0.335 x baseline), plasma x3.5 for 330 min -> +21 % (± 1 %)
    let dog = CsfParams {
        k_out_per_h: 0.0099 * 60.0,
        km_rel: Some(0.335),
        ratio_total: 1.34,
        ionised_fraction: 0.64,
    };
    let g = dog.steady_state_rel(3.5);
    let y = g + (1.0 - g) * (-dog.k_out_per_h * 5.5).exp();
    assert!((y - 1.21).abs() < 0.01, "{y}");
    // N2: same Km, serum 0.92 -> 2.3 at steady state -> +17.7 %
    assert!((dog.steady_state_rel(2.3 / 0.92) - 1.177).abs() < 0.001);
    // N3: CSF excess 1.12 mM decays to 0.325 mM in ~120 min with k_out 0.0099/min (Mori 2011)
    let e = exact_step(1.12, 0.0, 0.0, 2.0, dog.k_out_per_h);
    assert!((e - 1.12 * (-0.0099f64 * 120.0).exp()).abs() < 1e-12);
    let t_min = (1.12f64 / 0.325).ln() / 0.0099;
    assert!((t_min - 120.0).abs() < 10.0, "{t_min}");
}

#[test]
fn intervals_are_reproducible() {
    let (t, s) = fuchs_buder_series();
    let o = CsfOptions::default();
    let a = csf_from_serum(&t, &s, 0.74, &o).unwrap();
    let b = csf_from_serum(&t, &s, 0.74, &o).unwrap();
    assert_eq!(a.total_lo_mmol_l, b.total_lo_mmol_l);
    assert_eq!(a.ionised_hi_mmol_l, b.ionised_hi_mmol_l);
    let c = csf_from_serum(&t, &s, 0.74, &CsfOptions { seed: 99, ..o }).unwrap();
    assert_ne!(a.total_hi_mmol_l[480], c.total_hi_mmol_l[480]);
    assert!((a.total_hi_mmol_l[480] - c.total_hi_mmol_l[480]).abs() < 0.03);
    for i in 0..t.len() {
        assert!(a.ionised_lo_mmol_l[i] <= a.ionised_mmol_l[i]);
        assert!(a.ionised_mmol_l[i] <= a.ionised_hi_mmol_l[i]);
    }
}

#[test]
fn bad_csf_input_is_named() {
    let o = CsfOptions::default();
    let err =
        |r: Result<mgiv_brain::CsfCourse, mgiv_core::error::MgivError>| r.unwrap_err().to_string();
    assert!(err(csf_from_serum(&[], &[], 0.9, &o)).contains("times_h"));
    assert!(err(csf_from_serum(&[0.0, 1.0], &[0.9], 0.9, &o)).contains("serum_mmol_l"));
    assert!(err(csf_from_serum(&[0.0, 1.0], &[0.9, -1.0], 0.9, &o)).contains("serum_mmol_l"));
    assert!(err(csf_from_serum(&[0.0, 1.0], &[0.9, f64::NAN], 0.9, &o)).contains("serum_mmol_l"));
    assert!(err(csf_from_serum(&[1.0, 0.0], &[0.9, 0.9], 0.9, &o)).contains("times_h"));
    assert!(err(csf_from_serum(&[0.0], &[0.9], 0.0, &o)).contains("baseline_serum_mmol_l"));
    let bad = CsfOptions { coverage: 1.5, ..o };
    assert!(err(csf_from_serum(&[0.0], &[0.9], 0.9, &bad)).contains("coverage"));
    let bad = CsfOptions { n_samples: 5, ..o };
    assert!(err(csf_from_serum(&[0.0], &[0.9], 0.9, &bad)).contains("n_samples"));
    assert!(CsfVariant::parse("fast")
        .unwrap_err()
        .to_string()
        .contains("csf model"));
}

#[test]
fn plasticity_bp_status_crp() {
    let c = constants().unwrap();
    // mgiv-neuro's standard pairing (data/neuro/stimulation-protocols.toml)
    let proto = standard_protocol().unwrap();
    assert_eq!(
        effects::standard_protocol_description(),
        "STDP pairing, post 10 ms after pre, 60 pairs at 1 Hz"
    );
    // §10 case 9: GB DP, 60 pairs at 1 Hz, +10 ms, 1 mM -> 1.22
    let p1 = plasticity_at(&c.plasticity, &proto, 1.0, false).unwrap();
    assert!((p1.gb_synaptic_change - 1.22).abs() < 0.005);
    // more Mg -> less potentiation (acute)
    let p12 = plasticity_at(&c.plasticity, &proto, 1.2, true).unwrap();
    let p08 = plasticity_at(&c.plasticity, &proto, 0.8, true).unwrap();
    assert!(p12.gb_synaptic_change < p1.gb_synaptic_change);
    assert!(p12.shouval_synaptic_change.unwrap() < p08.shouval_synaptic_change.unwrap());
    // Lu 2002 at steady state: Emax·C/(EC50+C); ΔC = EC50 -> half of Emax
    let t: Vec<f64> = (0..=400).map(|i| i as f64 * 0.1).collect();
    let s: Vec<f64> = t.iter().map(|_| 0.75 + 0.75).collect();
    let (sbp, _) = effects::blood_pressure_change(&c.blood_pressure, &t, &s, 0.75);
    assert!((sbp[400] + 36.8 / 2.0).abs() < 0.01, "{}", sbp[400]);
    assert_eq!(sbp[0], 0.0);
    // status bands
    for (v, id) in [
        (0.5, "overt-hypomagnesaemia"),
        (0.7, "hypomagnesaemia"),
        (0.8, "possible-subclinical-deficiency"),
        (0.9, "adequate"),
        (1.3, "above-normal"),
    ] {
        assert_eq!(status_band(&c, v).unwrap().id, id);
    }
    // CRP: only above 3 mg/L
    let hi = crp_assessment(&c.inflammation, 5.0).unwrap();
    assert_eq!(hi.shift_mg_l, -1.12);
    assert!(hi.statement.contains("associative"));
    assert_eq!(
        crp_assessment(&c.inflammation, 2.0).unwrap().shift_mg_l,
        0.0
    );
    assert!(crp_assessment(&c.inflammation, -1.0)
        .unwrap_err()
        .to_string()
        .contains("crp"));
    assert!(VascularHypothesis::new(0.0, 10.0)
        .unwrap_err()
        .to_string()
        .contains("ec50"));
}

#[test]
fn report_carries_grades_and_honest_words() {
    // a 4 g bolus + 1 g/h-like serum course (piecewise linear) for 30 h
    let t: Vec<f64> = (0..=30 * 12).map(|i| i as f64 / 12.0).collect();
    let s: Vec<f64> = t
        .iter()
        .map(|&h| {
            if h <= 24.0 {
                0.85 + 0.7 * (1.0 - (-h).exp())
            } else {
                1.55 - 0.1 * (h - 24.0)
            }
        })
        .collect();
    let opts = BrainOptions {
        csf: CsfOptions {
            n_samples: 100,
            ..CsfOptions::default()
        },
        voltages_mv: vec![-65.0, -40.0],
        ..BrainOptions::default()
    };
    let r = brain_report(&t, &s, 0.85, &[0.0, 6.0, 24.0, 30.0], &opts).unwrap();
    assert_eq!(r.points.len(), 4);
    let p0 = &r.points[0];
    assert!((p0.nmda_relative_conductance - 1.0).abs() < 1e-12);
    let p = &r.points[2];
    assert!(p.nmda_relative_conductance < 1.0);
    assert!(p.csf_total_mg_mmol_l_lo <= p.csf_total_mg_mmol_l);
    for e in &p.effects {
        assert!(!e.evidence.is_empty() && !e.source.is_empty() && !e.unit.is_empty());
    }
    let cbf = p
        .effects
        .iter()
        .find(|e| e.name == "cerebral_blood_flow_change_percent")
        .unwrap();
    assert!(cbf.value.is_none() && cbf.evidence.contains("off by default"));
    let crp = p
        .effects
        .iter()
        .find(|e| e.name == "crp_shift_mg_l")
        .unwrap();
    assert!(crp.evidence.contains("ASSOCIATIVE"));
    assert!(r.summary.csf_rise_fraction > 0.0 && r.summary.csf_rise_fraction < 0.25);
    assert!(r.plain_language.contains("not medical advice"));
    assert!(r.plain_language.contains("not a boost"));
    assert!(r.not_modelled.iter().any(|n| n.contains("Slutsky")));
    assert!(r.summary.plasticity.gb_change_vs_baseline < 0.0);
    // hypothetical vascular module only when asked, labelled
    let opts2 = BrainOptions {
        vascular: Some(VascularHypothesis::new(0.5, 20.0).unwrap()),
        ..opts.clone()
    };
    let r2 = brain_report(&t, &s, 0.85, &[24.0], &opts2).unwrap();
    let v = r2.points[0]
        .effects
        .iter()
        .find(|e| e.name.ends_with("_hypothetical"))
        .unwrap();
    assert!(v.value.unwrap() > 0.0 && v.evidence.contains("HYPOTHETICAL"));
    // bad input
    let e = brain_report(&t, &s, 0.85, &[40.0], &opts).unwrap_err();
    assert!(e.to_string().contains("report time"));
    let bad = BrainOptions {
        voltages_mv: vec![-500.0],
        ..opts
    };
    assert!(brain_report(&t, &s, 0.85, &[1.0], &bad)
        .unwrap_err()
        .to_string()
        .contains("voltage"));
    assert!(rel_close(r.summary.baseline_serum_mmol_l, 0.85, 1e-12));
}

/// A 4 g-bolus-like serum course (baseline 0.85) for 30 h, then falling.
fn zuspan_like() -> (Vec<f64>, Vec<f64>) {
    let t: Vec<f64> = (0..=30 * 12).map(|i| i as f64 / 12.0).collect();
    let s: Vec<f64> = t
        .iter()
        .map(|&h| {
            if h <= 24.0 {
                0.85 + 0.7 * (1.0 - (-h).exp())
            } else {
                1.55 - 0.1 * (h - 24.0)
            }
        })
        .collect();
    (t, s)
}

fn fast_opts() -> BrainOptions {
    BrainOptions {
        csf: CsfOptions {
            n_samples: 60,
            ..CsfOptions::default()
        },
        ..BrainOptions::default()
    }
}

/// Issue 10 item 4: blood pressure only for pre-eclampsia (Lu 2002), with an interval; elsewhere
/// the measured null result in words and no number.
#[test]
fn blood_pressure_only_in_pre_eclampsia_with_an_interval() {
    let (t, s) = zuspan_like();
    let plain = brain_report(&t, &s, 0.85, &[6.0, 24.0], &fast_opts()).unwrap();
    assert!(plain.summary.sbp_nadir_mmhg.is_none() && plain.summary.dbp_nadir_mmhg.is_none());
    assert!(plain.summary.bp_statement.contains("not predicted"));
    assert!(plain.summary.bp_statement.contains("no significant change"));
    for p in &plain.points {
        let e = p
            .effects
            .iter()
            .find(|e| e.name == "systolic_bp_change_mmhg")
            .unwrap();
        assert!(e.value.is_none() && e.evidence.contains("not predicted"));
    }
    assert!(plain
        .plain_language
        .contains("No blood-pressure change is predicted"));
    let bp_claim = plain
        .claims
        .iter()
        .find(|c| c.claim.id == "blood-pressure")
        .unwrap();
    assert!(bp_claim.this_run.contains("not predicted"));

    let pe = BrainOptions {
        pre_eclampsia: true,
        ..fast_opts()
    };
    // the series ends at 24 h, with serum still 0.7 mmol/L above baseline
    let (t24, s24) = (&t[..=24 * 12], &s[..=24 * 12]);
    let r = brain_report(t24, s24, 0.85, &[6.0, 24.0], &pe).unwrap();
    let n = r.summary.sbp_nadir_mmhg.unwrap();
    let (lo, hi) = r.summary.sbp_nadir_interval_mmhg.unwrap();
    assert!(lo < n && n < hi && hi < 0.0, "{lo} {n} {hi}");
    for p in &r.points {
        let e = p
            .effects
            .iter()
            .find(|e| e.name == "systolic_bp_change_mmhg")
            .unwrap();
        let (v, l, h) = (e.value.unwrap(), e.lo.unwrap(), e.hi.unwrap());
        assert!(l <= v && v <= h && v < 0.0);
    }
    // the words agree with the curve: serum is still raised at the end, so the fall has not
    // worn off and the text says so
    let end = r.summary.sbp_at_end_mmhg.unwrap();
    assert!(end.abs() > 0.5 * n.abs());
    assert!(
        r.summary.bp_statement.contains("still"),
        "{}",
        r.summary.bp_statement
    );
    assert!(!r.summary.bp_statement.contains("transient"));
    assert!(r.summary.bp_statement.contains("ASSUMED 30 %"));
    // a bolus whose serum returns to baseline: the text says the fall wore off
    let t2: Vec<f64> = (0..=24 * 12).map(|i| i as f64 / 12.0).collect();
    let s2: Vec<f64> = t2.iter().map(|&h| 0.85 + 1.2 * (-h / 1.5).exp()).collect();
    let r2 = brain_report(&t2, &s2, 0.85, &[1.0, 24.0], &pe).unwrap();
    assert!(
        r2.summary.bp_statement.contains("worn off"),
        "{}",
        r2.summary.bp_statement
    );
    assert!(r2.summary.sbp_at_end_mmhg.unwrap().abs() < 1.0);
}

/// Issue 10 item 5: each popular claim gets a verdict whose direction follows the numbers, the
/// grade of that prediction and mgiv's assumptions; status bands only from a measured baseline.
#[test]
fn verdicts_follow_the_numbers_and_status_needs_a_measured_baseline() {
    let (t, s) = zuspan_like();
    let r = brain_report(&t, &s, 0.85, &[24.0], &fast_opts()).unwrap();
    let get = |id: &str| r.claims.iter().find(|c| c.claim.id == id).unwrap().clone();
    let nerve = get("nerve-transmission");
    let rel = r.summary.nmda_at_peak[0].relative_conductance;
    assert!(rel < 0.99);
    assert_eq!(nerve.predicted_direction.as_deref(), Some("less"));
    assert!(
        nerve.this_run.contains("less NMDA current") && nerve.this_run.contains("not supported")
    );
    assert!(nerve.claim.claim.starts_with("claim examined"));
    assert_eq!(nerve.claim.grade, "C");
    assert!(!nerve.claim.mgiv_assumptions.is_empty());
    let pl = get("plasticity");
    assert!(r.summary.plasticity.gb_change_vs_baseline < 0.0);
    assert_eq!(pl.predicted_direction.as_deref(), Some("less"));
    assert!(pl.this_run.contains("mgiv's own Mg coupling"));
    assert!(pl
        .claim
        .mgiv_assumptions
        .iter()
        .any(|a| a.contains("C_pre") && a.contains("not a published law")));
    let cbf = get("cerebral-blood-flow");
    assert!(r.summary.serum_peak.value / 0.85 <= 2.1);
    assert_eq!(
        cbf.predicted_direction.as_deref(),
        Some("no change expected")
    );
    let inf = get("inflammation");
    assert_eq!(inf.predicted_direction.as_deref(), Some("not predicted"));
    // the plain words agree: less current, less strengthening
    assert!(r.plain_language.contains("% less current"));
    assert!(r.plain_language.contains("slightly less, not more"));
    assert!(r.plain_language.contains("not measured"));
    // status: not assessed without a measured baseline, even at 0.74 (Du's population default)
    let low = brain_report(&t, &s, 0.74, &[24.0], &fast_opts()).unwrap();
    assert_eq!(low.summary.status.id, "not-assessed");
    assert!(!low.summary.status.label.contains("hypomagnes"));
    let st = low.claims.iter().find(|c| c.claim.id == "status").unwrap();
    assert!(st.this_run.contains("not measured"));
    let measured = BrainOptions {
        baseline_measured: true,
        ..fast_opts()
    };
    let low = brain_report(&t, &s, 0.70, &[24.0], &measured).unwrap();
    assert_eq!(low.summary.status.id, "hypomagnesaemia");
    assert!(low.summary.status_from_measured_baseline);
    // a regimen that more than doubles serum: above the measured CBF range, no prediction
    let s3: Vec<f64> = s.iter().map(|v| 0.85 + 3.0 * (v - 0.85)).collect();
    let r3 = brain_report(&t, &s3, 0.85, &[24.0], &fast_opts()).unwrap();
    let cbf3 = r3
        .claims
        .iter()
        .find(|c| c.claim.id == "cerebral-blood-flow")
        .unwrap();
    assert_eq!(cbf3.predicted_direction.as_deref(), Some("not predicted"));
    assert!(r3.plain_language.contains("beyond the doubling"));
}
