//! The three solvers agree; closed forms match hand-derived values; mass is conserved.

use mgiv_core::model::{builtin_model, builtin_models, Elimination, IndividualParams, Peripheral};
use mgiv_core::patient::{Creatinine, Patient, PatientInput};
use mgiv_core::regimen::Regimen;
use mgiv_core::solver::{modal, ode, superposition, Modes};
use mgiv_core::units::MgConc;

fn patient() -> Patient {
    PatientInput {
        weight_kg: Some(70.0),
        pregnant: true,
        pre_eclampsia: true,
        ..Default::default()
    }
    .validate()
    .unwrap()
}

fn grid(hours: f64, n: usize) -> Vec<f64> {
    (0..=n).map(|k| hours * k as f64 / n as f64).collect()
}

const REGIMENS: &[&str] = &[
    "4 g over 20 min, then 1 g/h for 24 h",
    "6 g over 30 min then 2 g/h for 12 h",
    "4 g IV over 15 min + 10 g IM, then 5 g IM every 4 h for 24 h",
    "2 g IV, then 1 g IV over 10 min every 6 h x 4",
    "64 mmol/day for 2 days",
];

#[test]
fn closed_form_modal_and_ode_agree_to_1e6_on_every_linear_model() {
    let p = patient();
    for model in builtin_models().unwrap() {
        if model.elimination != Elimination::Linear {
            continue;
        }
        let ind = model.individualise(&p).unwrap();
        let modes = Modes::from_params(&ind.params).unwrap();
        for text in REGIMENS {
            let r = Regimen::from_text(text, Some(70.0)).unwrap();
            if r.has_im() && !model.supports_im() {
                continue;
            }
            let times = grid(60.0, 600);
            let a = superposition::concentrations(&modes, &r.events, &times);
            let b = modal::concentrations(&modes, &r.events, &times);
            let c = ode::solve(&ind.params, ind.elimination, None, &r.events, &times, 1e-11)
                .unwrap()
                .serum_mmol_l;
            for k in 0..times.len() {
                let rel_ab = (a[k] - b[k]).abs() / a[k];
                let rel_ac = (a[k] - c[k]).abs() / a[k];
                assert!(
                    rel_ab < 1e-9,
                    "{} {text} t={} superposition {} modal {}",
                    model.id,
                    times[k],
                    a[k],
                    b[k]
                );
                assert!(
                    rel_ac < 1e-6,
                    "{} {text} t={} closed form {} ode {}",
                    model.id,
                    times[k],
                    a[k],
                    c[k]
                );
            }
        }
    }
}

#[test]
fn one_compartment_infusion_matches_textbook_formula() {
    // C(t) = BL + R/CL (1 - e^{-kt}) during; decays with e^{-k(t-T)} after.
    let p = IndividualParams {
        cl_l_h: 4.81,
        v1_l: 15.6,
        peripheral: None,
        ka_h: None,
        f_im: None,
        baseline_mmol_l: 0.85,
    };
    let m = Modes::from_params(&p).unwrap();
    let r = Regimen::from_text("10 mmol over 2 h", None).unwrap();
    let k: f64 = 4.81 / 15.6;
    let rate = 5.0;
    for t in [0.5, 1.0, 2.0, 3.0, 10.0] {
        let expect = if t <= 2.0 {
            0.85 + rate / 4.81 * (1.0 - (-k * t).exp())
        } else {
            0.85 + rate / 4.81 * (1.0 - (-k * 2.0f64).exp()) * (-k * (t - 2.0)).exp()
        };
        let got = modal::concentrations(&m, &r.events, &[t])[0];
        assert!((got - expect).abs() < 1e-12, "t={t}: {got} vs {expect}");
    }
}

#[test]
fn one_compartment_spec_has_no_peripheral_and_matches_the_bolus_closed_form() {
    // Salinger 2013 at its reference subject (55 kg, SCr 0.8 mg/dL): CL 4.81 L/h, V 15.6 L
    let spec = builtin_model("salinger-2013").unwrap();
    let patient = PatientInput {
        weight_kg: Some(55.0),
        creatinine: Some(Creatinine::MgPerDl(0.8)),
        pregnant: true,
        pre_eclampsia: true,
        baseline: Some(MgConc::from_mmol_l(0.85)),
        ..Default::default()
    }
    .validate()
    .unwrap();
    let ind = spec.individualise(&patient).unwrap();
    let p = ind.params;
    assert_eq!(p.peripheral, None);
    assert!(!p.is_two_compartment());
    let (cl, v, baseline, dose) = (4.81, 15.6, 0.85, 16.0);
    assert!((p.cl_l_h - cl).abs() < 1e-12 && (p.v1_l - v).abs() < 1e-12);
    let r = Regimen::from_text("16 mmol IV", None).unwrap();
    let times = grid(24.0, 96);
    let m = Modes::from_params(&p).unwrap();
    assert_eq!(m.n, 1);
    let fast = modal::concentrations(&m, &r.events, &times);
    let exact = superposition::concentrations(&m, &r.events, &times);
    let num = ode::solve(&p, ind.elimination, None, &r.events, &times, 1e-10)
        .unwrap()
        .serum_mmol_l;
    for (k, &t) in times.iter().enumerate() {
        // C(t) = baseline + Dose/V·exp(−CL/V·t)
        let expect = baseline + dose / v * (-cl / v * t).exp();
        assert!(
            (fast[k] - expect).abs() < 1e-12,
            "modal t={t}: {} vs {expect}",
            fast[k]
        );
        assert!(
            (exact[k] - expect).abs() < 1e-12,
            "closed form t={t}: {} vs {expect}",
            exact[k]
        );
        assert!(
            (num[k] - expect).abs() < 1e-7,
            "ode t={t}: {} vs {expect}",
            num[k]
        );
    }
}

#[test]
fn peripheral_compartment_with_a_zero_rate_is_refused_by_the_solvers() {
    let p = IndividualParams {
        cl_l_h: 3.72,
        v1_l: 15.4,
        peripheral: Some(Peripheral {
            q_l_h: 3.66,
            v2_l: 0.0,
        }),
        ka_h: None,
        f_im: None,
        baseline_mmol_l: 0.8,
    };
    let e = Modes::from_params(&p).unwrap_err().to_string();
    assert!(e.contains("peripheral volume 0 L"), "{e}");
    let r = Regimen::from_text("16 mmol IV", None).unwrap();
    assert!(ode::solve(&p, Elimination::Linear, None, &r.events, &[1.0], 1e-8).is_err());
}

#[test]
fn two_compartment_bolus_matches_biexponential_and_auc() {
    // AUC of ΔC after an IV bolus D is D/CL exactly.
    let p = IndividualParams {
        cl_l_h: 3.72,
        v1_l: 15.4,
        peripheral: Some(Peripheral {
            q_l_h: 3.66,
            v2_l: 17.0,
        }),
        ka_h: None,
        f_im: None,
        baseline_mmol_l: 0.0,
    };
    let m = Modes::from_params(&p).unwrap();
    let auc: f64 = (0..2).map(|i| m.coef_per_l[i] / m.lambda_h[i]).sum::<f64>() * 16.0;
    assert!((auc - 16.0 / 3.72).abs() < 1e-12);
    // at t=0 ΔC = D/V1
    let r = Regimen::from_text("16 mmol IV", None).unwrap();
    let c0 = modal::concentrations(&m, &r.events, &[0.0])[0];
    assert!((c0 - 16.0 / 15.4).abs() < 1e-12);
    // Du 2019 derived half-lives (magnesium-pk-2.md §1.1): t½α 1.14 h, t½β 8.1 h
    assert!((std::f64::consts::LN_2 / m.lambda_h[0] - 1.14).abs() < 0.01);
    assert!((m.terminal_half_life_h() - 8.1).abs() < 0.05);
}

#[test]
fn im_dose_matches_bateman_function() {
    let p = IndividualParams {
        cl_l_h: 4.81,
        v1_l: 15.6,
        peripheral: None,
        ka_h: Some(0.317),
        f_im: Some(0.862),
        baseline_mmol_l: 0.0,
    };
    let m = Modes::from_params(&p).unwrap();
    let r = Regimen::from_text("10 g IM", None).unwrap();
    let d = 10.0 * 1000.0 / 246.47 * 0.862;
    let (ka, k, v): (f64, f64, f64) = (0.317, 4.81 / 15.6, 15.6);
    for t in [0.5, 2.0, 8.0] {
        let expect = d * ka / (v * (ka - k)) * ((-k * t).exp() - (-ka * t).exp());
        let got = modal::concentrations(&m, &r.events, &[t])[0];
        assert!((got - expect).abs() < 1e-12, "{got} vs {expect}");
    }
}

#[test]
fn mass_is_conserved_in_the_ode() {
    let model = builtin_model("du-2019").unwrap();
    let ind = model.individualise(&patient()).unwrap();
    let r = Regimen::from_text(
        "4 g IV over 15 min + 10 g IM, then 5 g IM every 4 h for 24 h",
        None,
    )
    .unwrap();
    let times = grid(48.0, 96);
    let out = ode::solve(&ind.params, ind.elimination, None, &r.events, &times, 1e-10).unwrap();
    let f = ind.params.f_im.unwrap();
    for (k, &t) in times.iter().enumerate() {
        // given (IM scaled by F) = central + peripheral + depot + eliminated
        let given_bioavailable: f64 = r
            .events
            .iter()
            .map(|e| match *e {
                mgiv_core::regimen::DoseEvent::Bolus {
                    route: mgiv_core::regimen::Route::Im,
                    ..
                } => e.amount_given_by_mmol(t) * f,
                _ => e.amount_given_by_mmol(t),
            })
            .sum();
        let held = out.central_excess_mmol[k]
            + out.peripheral_excess_mmol[k]
            + out.depot_mmol[k]
            + out.eliminated_excess_mmol[k];
        assert!(
            (held - given_bioavailable).abs() < 1e-6 * given_bioavailable.max(1.0),
            "t={t}: {held} vs {given_bioavailable}"
        );
    }
}

#[test]
fn renal_threshold_equals_linear_above_threshold_and_retains_below() {
    let tm = builtin_model("mgiv-adult-tm-2026").unwrap();
    // baseline above Tm/f_uf = 0.823 mmol/L: identical to linear CL = f_uf × GFR
    let p = PatientInput {
        weight_kg: Some(70.0),
        crcl_ml_min: Some(100.0),
        baseline: Some(mgiv_core::units::MgConc::from_mmol_l(0.9)),
        ..Default::default()
    }
    .validate()
    .unwrap();
    let ind = tm.individualise(&p).unwrap();
    assert!((ind.params.cl_l_h - 0.7 * 100.0 * 0.06).abs() < 1e-12);
    let r = Regimen::from_text("4 g over 20 min, then 1 g/h for 12 h", None).unwrap();
    let times = grid(24.0, 48);
    let nonlin = ode::solve(
        &ind.params,
        ind.elimination,
        ind.gfr_ml_min,
        &r.events,
        &times,
        1e-10,
    )
    .unwrap();
    let lin = modal::concentrations(&Modes::from_params(&ind.params).unwrap(), &r.events, &times);
    for (a, b) in nonlin.serum_mmol_l.iter().zip(&lin) {
        assert!((a - b).abs() < 1e-6 * b);
    }
    // deficiency (baseline 0.6 < 0.823): the first ~0.22 mmol/L of increment is not excreted
    let p_low = PatientInput {
        weight_kg: Some(70.0),
        crcl_ml_min: Some(100.0),
        baseline: Some(mgiv_core::units::MgConc::from_mmol_l(0.6)),
        ..Default::default()
    }
    .validate()
    .unwrap();
    let ind_low = tm.individualise(&p_low).unwrap();
    // a small, slow dose: the central level stays below the threshold throughout
    let small = Regimen::from_text("0.5 g over 2 h", None).unwrap();
    let out = ode::solve(
        &ind_low.params,
        ind_low.elimination,
        ind_low.gfr_ml_min,
        &small.events,
        &[48.0],
        1e-10,
    )
    .unwrap();
    let given = small.amount_given_by_mmol(48.0);
    // 2.03 mmol over 2 h into V1 + V2 (~36 L at 70 kg) raises C by well under 0.22: nothing is
    // excreted
    assert!(
        out.eliminated_excess_mmol[0] < 1e-6 * given,
        "{}",
        out.eliminated_excess_mmol[0]
    );
}

#[test]
fn bad_times_are_rejected() {
    let m = builtin_model("du-2019").unwrap();
    let ind = m.individualise(&patient()).unwrap();
    let r = Regimen::from_text("4 g over 20 min", None).unwrap();
    let e = ode::solve(
        &ind.params,
        ind.elimination,
        None,
        &r.events,
        &[2.0, 1.0],
        1e-8,
    )
    .unwrap_err();
    assert!(e.to_string().contains("increasing"));
    let e = ode::solve(
        &ind.params,
        ind.elimination,
        None,
        &r.events,
        &[f64::NAN],
        1e-8,
    )
    .unwrap_err();
    assert!(e.to_string().contains("time"));
}
