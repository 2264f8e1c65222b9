//! Between-occasion variability (FOCE-I): recovery of a known ω²_IOV from simulated data with
//! two occasions per subject by FOCE-I and SAEM, the refusals (OCC missing, non-integer, too many
//! occasions), and the diagnostics' simulation of κ.

use mgiv_data::{read, ReadOptions};
use mgiv_fit::{fit, fit_saem, EstimationModel, FitSettings, SaemSettings};
use mgiv_pop::rng::{Stream, SubjectRng};

const MODEL: &str = r#"
id = "iov-cl"
name = "1-cmt, IIV on CL and V, IOV on CL"
structure = "one-compartment"
source = "test"
[estimation]
baseline = "fixed"
[estimation.theta]
cl_l_h = { init = 3.0, lower = 0.1, upper = 50.0 }
v1_l = { init = 12.0, lower = 1.0, upper = 200.0 }
baseline_mmol_l = { init = 0.8, lower = 0.1, upper = 3.0 }
[estimation.omega]
parameters = ["cl_l_h", "v1_l"]
init = [0.1, 0.05]
@IOV@
[estimation.residual]
model = "combined"
additive_mmol_l = 0.05
proportional = 0.1
"#;

const IOV: &str = "[estimation.iov]\nparameters = [\"cl_l_h\"]\ninit = [0.02]\n";

fn dataset(text: &str) -> mgiv_data::Dataset {
    let (ds, d) = read(text, &ReadOptions::default());
    ds.unwrap_or_else(|| panic!("{d:#?}"))
}

/// ΔC of a 1-compartment infusion (rate mmol/h from `start` for `dur` h) at `t`.
fn infusion(cl: f64, v: f64, rate: f64, start: f64, dur: f64, t: f64) -> f64 {
    let k = cl / v;
    let tau = t - start;
    if tau <= 0.0 {
        return 0.0;
    }
    let on = tau.min(dur);
    rate / cl * (1.0 - (-k * on).exp()) * (-k * (tau - on)).exp()
}

/// 100 subjects, two occasions 200 h apart (the first's amount is gone by then: e^(−k·180) <
/// 1e-20 here), each a 16 mmol loading infusion over 15 min and 4 mmol/h for 12 h with 6
/// samples; CL = 4 e^(η + κ_occ), V = 15 e^η, ω²(CL) 0.09, ω²(V) 0.04, ω²_IOV(CL) 0.04.
fn two_occasions(seed: u64) -> String {
    let (cl, v, base) = (4.0, 15.0, 0.8);
    let (prop, add) = (0.06, 0.03);
    let mut out =
        String::from("# DV_UNIT=mmol/L\n# AMT_UNIT=mmol\nID,TIME,EVID,MDV,AMT,RATE,DV,OCC\n");
    for i in 0..100u64 {
        let mut re = SubjectRng::new(seed, i, Stream::Etas);
        let mut rr = SubjectRng::new(seed, i, Stream::Residual);
        let (e_cl, e_v) = (0.3 * re.normal(), 0.2 * re.normal());
        let id = i + 1;
        out.push_str(&format!("{id},0,0,0,.,.,{base},1\n"));
        for (occ, t0) in [(1, 0.0), (2, 200.0)] {
            let kappa = 0.2 * re.normal();
            let (c, vv) = (cl * (e_cl + kappa).exp(), v * e_v.exp());
            out.push_str(&format!("{id},{t0},1,1,16,64,.,{occ}\n"));
            out.push_str(&format!("{id},{},1,1,48,4,.,{occ}\n", t0 + 0.25));
            for dt in [1.0, 4.0, 8.0, 12.0, 14.0, 18.0] {
                let t: f64 = t0 + dt;
                let f = base
                    + infusion(c, vv, 64.0, t0, 0.25, t)
                    + infusion(c, vv, 4.0, t0 + 0.25, 12.0, t);
                let y = f + ((prop * f).powi(2) + add * add).sqrt() * rr.normal();
                out.push_str(&format!("{id},{t},0,0,.,.,{y:.5},{occ}\n"));
            }
        }
    }
    out
}

#[test]
fn focei_recovers_a_known_between_occasion_variance() {
    let m = EstimationModel::from_toml(&MODEL.replace("@IOV@", IOV)).unwrap();
    let ds = dataset(&two_occasions(7));
    let r = fit(&m, &ds, &FitSettings::default(), &|_| {}).unwrap();
    let rse = |k: &str| r.rse_percent[k];
    eprintln!(
        "OFV {:.2}, CL {:.3} ({:.1} %), V {:.3}, ω² CL {:.4} ({:.0} %), V {:.4}, ω²_IOV CL {:.4} ({:.0} %), σ {:?}",
        r.ofv,
        r.theta["cl_l_h"],
        rse("theta.cl_l_h"),
        r.theta["v1_l"],
        r.omega["cl_l_h"],
        rse("omega.cl_l_h"),
        r.omega["v1_l"],
        r.omega_iov["cl_l_h"],
        rse("omega_iov.cl_l_h"),
        r.sigma
    );
    assert!(r.converged);
    let within = |key: &str, est: f64, t: f64| {
        let se = rse(key) / 100.0 * est;
        assert!((est - t).abs() < 3.0 * se, "{key}: {est} vs {t} (SE {se})");
    };
    within("theta.cl_l_h", r.theta["cl_l_h"], 4.0);
    within("theta.v1_l", r.theta["v1_l"], 15.0);
    within("omega.cl_l_h", r.omega["cl_l_h"], 0.09);
    within("omega_iov.cl_l_h", r.omega_iov["cl_l_h"], 0.04);
    assert!((r.omega_iov["cl_l_h"] / 0.04 - 1.0).abs() < 0.5);
    assert!((r.theta["cl_l_h"] / 4.0 - 1.0).abs() < 0.1);
    // without IOV the occasion-to-occasion change of CL has nowhere to go but the residual
    let m0 = EstimationModel::from_toml(&MODEL.replace("@IOV@", "")).unwrap();
    let settings = FitSettings {
        covariance: false,
        ..Default::default()
    };
    let r0 = fit(&m0, &ds, &settings, &|_| {}).unwrap();
    eprintln!("without IOV: OFV {:.2}, σ {:?}", r0.ofv, r0.sigma);
    assert!(r0.ofv - r.ofv > 20.0, "{} vs {}", r0.ofv, r.ofv);
}

#[test]
fn iov_input_errors_name_the_field_the_value_and_what_is_allowed() {
    let m = EstimationModel::from_toml(&MODEL.replace("@IOV@", IOV)).unwrap();
    let no_occ = "# DV_UNIT=mmol/L\n# AMT_UNIT=mmol\nID,TIME,EVID,MDV,AMT,RATE,DV\n1,0,1,1,16,64,.\n1,2,0,0,.,.,1.5\n";
    let e = fit(&m, &dataset(no_occ), &FitSettings::default(), &|_| {})
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("OCC of ID 1") && e.contains("missing") && e.contains("OCC column"),
        "{e}"
    );
    let frac = "# DV_UNIT=mmol/L\n# AMT_UNIT=mmol\nID,TIME,EVID,MDV,AMT,RATE,DV,OCC\n1,0,1,1,16,64,.,1\n1,2,0,0,.,.,1.5,1.5\n";
    let (ds, d) = read(frac, &ReadOptions::default());
    assert!(ds.is_none());
    assert!(
        d.iter()
            .any(|x| x.code == "E-OCC" && x.message.contains("1.5")),
        "{d:#?}"
    );
    // 2 η + 5 occasions × 1 κ = 7 > 6
    let mut many =
        String::from("# DV_UNIT=mmol/L\n# AMT_UNIT=mmol\nID,TIME,EVID,MDV,AMT,RATE,DV,OCC\n");
    for o in 1..=5 {
        let t = 100.0 * (o - 1) as f64;
        many.push_str(&format!(
            "1,{t},1,1,16,64,.,{o}\n1,{},0,0,.,.,1.5,{o}\n",
            t + 2.0
        ));
    }
    let e = fit(&m, &dataset(&many), &FitSettings::default(), &|_| {})
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("random effects of ID 1") && e.contains("7") && e.contains("at most 6"),
        "{e}"
    );
    // the NONMEM export says what it leaves out
    let cs = mgiv_fit::nonmem::control_stream(&m, "data.csv");
    assert!(
        cs.contains("NOT WRITTEN: [estimation.iov] on CL (ω² 0.02)"),
        "{cs}"
    );
}

/// SAEM estimates the same between-occasion variance from the same data as FOCE-I (seed 7:
/// FOCE-I ω²_IOV 0.039), and a model without IOV fitted by SAEM draws exactly what it drew before
/// (the chains' κ are empty).
#[test]
fn saem_recovers_a_known_between_occasion_variance() {
    let m = EstimationModel::from_toml(&MODEL.replace("@IOV@", IOV)).unwrap();
    let ds = dataset(&two_occasions(7));
    // a shorter run than the default 300 + 200 iterations, for the test's time
    let settings = SaemSettings {
        burn_in: 200,
        iterations: 100,
        covariance: false,
        ..Default::default()
    };
    let r = fit_saem(&m, &ds, &settings, &|_| {}).unwrap();
    let f = fit(
        &m,
        &ds,
        &FitSettings {
            covariance: false,
            ..Default::default()
        },
        &|_| {},
    )
    .unwrap();
    eprintln!(
        "SAEM: OFV {:.2}, CL {:.3}, ω² CL {:.4}, ω²_IOV CL {:.4}; FOCE-I: OFV {:.2}, CL {:.3}, ω² CL {:.4}, ω²_IOV {:.4}; notes {:?}",
        r.ofv, r.theta["cl_l_h"], r.omega["cl_l_h"], r.omega_iov["cl_l_h"],
        f.ofv, f.theta["cl_l_h"], f.omega["cl_l_h"], f.omega_iov["cl_l_h"], r.notes
    );
    // truth 0.04; FOCE-I's estimate on these data is 0.039 with RSE 14 %
    assert!(
        (r.omega_iov["cl_l_h"] / 0.04 - 1.0).abs() < 0.3,
        "{}",
        r.omega_iov["cl_l_h"]
    );
    assert!((r.omega_iov["cl_l_h"] / f.omega_iov["cl_l_h"] - 1.0).abs() < 0.25);
    assert!((r.theta["cl_l_h"] / f.theta["cl_l_h"] - 1.0).abs() < 0.03);
    assert!(
        (r.omega["cl_l_h"] / 0.09 - 1.0).abs() < 0.4,
        "{}",
        r.omega["cl_l_h"]
    );
    // the FOCE-I objective at SAEM's estimates is within a few points of FOCE-I's own minimum
    assert!(
        r.ofv - f.ofv < 5.0 && r.ofv - f.ofv > -0.01,
        "{} vs {}",
        r.ofv,
        f.ofv
    );
}

/// The sdtab and the VPC simulate Ω_IOV: on data drawn from the model itself (two occasions,
/// ω²_IOV(CL) 0.04), NPDE and CWRES at the true parameters have variance ≈ 1; simulating Ω
/// without Ω_IOV (ω²_IOV → 1e-8, what mgiv did before) leaves the occasion-to-occasion spread of
/// CL unexplained and inflates both.
#[test]
fn diagnostics_of_an_iov_model_simulate_between_occasion_variability() {
    let truth = r#"
[theta]
cl_l_h = 4.0
v1_l = 15.0
baseline_mmol_l = 0.8
[omega]
cl_l_h = 0.09
v1_l = 0.04
[omega_iov]
cl_l_h = 0.04
[sigma]
proportional = 0.06
additive_mmol_l = 0.03
"#;
    let with = EstimationModel::from_toml(&MODEL.replace("@IOV@", IOV)).unwrap();
    let ds = dataset(&two_occasions(11));
    let est: mgiv_fit::vpc::Estimates = toml::from_str(truth).unwrap();
    let p = est.params(&with).unwrap();
    let moments = |rows: &[mgiv_fit::diagnostics::SdtabRow],
                   f: fn(&mgiv_fit::diagnostics::SdtabRow) -> f64| {
        let n = rows.len() as f64;
        let mean = rows.iter().map(f).sum::<f64>() / n;
        let var = rows.iter().map(|r| (f(r) - mean).powi(2)).sum::<f64>() / (n - 1.0);
        (mean, var)
    };
    let rows = mgiv_fit::diagnostics::sdtab_at(&with, &p, &ds, 300, 5).unwrap();
    assert_eq!(rows.len(), 100 * 13); // a pre-dose sample and 2 × 6
    let (m_npde, v_npde) = moments(&rows, |r| r.npde);
    let (m_cw, v_cw) = moments(&rows, |r| r.cwres);
    eprintln!(
        "with Ω_IOV: NPDE mean {m_npde:.3} var {v_npde:.3}; CWRES mean {m_cw:.3} var {v_cw:.3}"
    );
    // 1300 values, 13 per subject: the variance of a N(0,1) sample is 1 ± ~0.1
    assert!(
        (v_npde - 1.0).abs() < 0.15 && m_npde.abs() < 0.15,
        "{m_npde} {v_npde}"
    );
    assert!(
        (v_cw - 1.0).abs() < 0.15 && m_cw.abs() < 0.15,
        "{m_cw} {v_cw}"
    );
    let mut q = p.clone();
    q.omega_iov = vec![1e-8];
    let rows0 = mgiv_fit::diagnostics::sdtab_at(&with, &q, &ds, 300, 5).unwrap();
    let (_, v_npde0) = moments(&rows0, |r| r.npde);
    let (_, v_cw0) = moments(&rows0, |r| r.cwres);
    eprintln!("without: NPDE var {v_npde0:.3}; CWRES var {v_cw0:.3}");
    assert!(v_npde0 > v_npde + 0.2, "{v_npde0} vs {v_npde}");
    assert!(v_cw0 > v_cw + 0.2, "{v_cw0} vs {v_cw}");
    // the VPC: estimates need ω²_IOV for an IOV model, and its simulated 90 % ranges are wider
    // with it than with ω²_IOV → 0
    let mut no_iov = est.clone();
    no_iov.omega_iov.clear();
    let e = mgiv_fit::vpc::pcvpc(&with, &no_iov, &ds, 20, 4, 1)
        .unwrap_err()
        .to_string();
    assert!(e.contains("omega_iov") && e.contains("cl_l_h"), "{e}");
    let width = |v: &mgiv_fit::vpc::Vpc| -> f64 {
        v.bins
            .iter()
            .map(|b| b.simulated[2][1] - b.simulated[0][1])
            .sum()
    };
    let v = mgiv_fit::vpc::pcvpc(&with, &est, &ds, 100, 4, 1).unwrap();
    no_iov.omega_iov.insert("cl_l_h".into(), 1e-8);
    let v0 = mgiv_fit::vpc::pcvpc(&with, &no_iov, &ds, 100, 4, 1).unwrap();
    eprintln!(
        "VPC 5-95 % spread: with {:.4}, without {:.4}",
        width(&v),
        width(&v0)
    );
    assert!(
        width(&v) > 1.05 * width(&v0),
        "{} vs {}",
        width(&v),
        width(&v0)
    );
    assert!(v.notes.is_empty());
}

mod gradcheck;

/// The exact outer gradient with IOV (κ per occasion, ω²_IOV) against central differences.
#[test]
fn exact_gradient_with_iov_matches_central_differences() {
    let m = EstimationModel::from_toml(&MODEL.replace("@IOV@", IOV)).unwrap();
    let (mut subjects, _) = mgiv_fit::focei::prepare(&m, &dataset(&two_occasions(3))).unwrap();
    subjects.truncate(6);
    assert!(subjects.iter().all(|s| s.occasions.len() == 2));
    let x: Vec<f64> = mgiv_fit::focei::initial_coordinates(&m)
        .iter()
        .enumerate()
        .map(|(i, v)| v + 0.05 * ((i % 3) as f64 - 1.0))
        .collect();
    gradcheck::check_gradient(&m, &subjects, &x, false);
}
