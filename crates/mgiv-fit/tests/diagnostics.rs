//! The sdtab: CWRES and NPDE of data simulated from the fitted model are close to N(0, 1);
//! IPRED fits better than PRED; Φ⁻¹ is right.

use mgiv_data::{read, ReadOptions};
use mgiv_fit::diagnostics::{inv_norm, sdtab, sdtab_csv};
use mgiv_fit::sim::{simulate_nonmem, Design};
use mgiv_fit::{fit, EstimationModel, FitSettings};

#[test]
fn inverse_normal_cdf() {
    assert!((inv_norm(0.975) - 1.959963985).abs() < 1e-8);
    assert!(inv_norm(0.5).abs() < 1e-12);
    assert!((inv_norm(0.01) + 2.326347874).abs() < 1e-8);
    assert!((inv_norm(0.2) + inv_norm(0.8)).abs() < 1e-12);
}

#[test]
fn cwres_and_npde_are_standard_normal_under_the_right_model() {
    let truth = EstimationModel::from_toml(include_str!(
        "../../../data/examples/fit/mg-2cmt-baseline.toml"
    ))
    .unwrap();
    let text = simulate_nonmem(
        &truth,
        &Design {
            n_subjects: 40,
            ..Default::default()
        },
        31,
    )
    .unwrap();
    let (ds, _) = read(&text, &ReadOptions::default());
    let ds = ds.unwrap();
    let r = fit(
        &truth,
        &ds,
        &FitSettings {
            covariance: false,
            ..Default::default()
        },
        &|_| {},
    )
    .unwrap();
    let rows = sdtab(&truth, &r, &ds, 500, 1).unwrap();
    assert_eq!(rows.len(), r.n_observations);
    let stats = |v: Vec<f64>| {
        let n = v.len() as f64;
        let m = v.iter().sum::<f64>() / n;
        let sd = (v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (n - 1.0)).sqrt();
        (m, sd)
    };
    let (cm, csd) = stats(rows.iter().map(|x| x.cwres).collect());
    let (nm, nsd) = stats(rows.iter().map(|x| x.npde).collect());
    eprintln!("CWRES mean {cm:.3} sd {csd:.3}; NPDE mean {nm:.3} sd {nsd:.3}");
    assert!(
        cm.abs() < 0.2 && (csd - 1.0).abs() < 0.2,
        "CWRES {cm} {csd}"
    );
    assert!(nm.abs() < 0.2 && (nsd - 1.0).abs() < 0.2, "NPDE {nm} {nsd}");
    // individual predictions fit better than population predictions
    let mae = |f: &dyn Fn(&mgiv_fit::diagnostics::SdtabRow) -> f64| {
        rows.iter().map(|x| (x.dv_mmol_l - f(x)).abs()).sum::<f64>() / rows.len() as f64
    };
    assert!(mae(&|x| x.ipred_mmol_l) < 0.8 * mae(&|x| x.pred_mmol_l));
    // the same seed gives the same table
    let again = sdtab(&truth, &r, &ds, 500, 1).unwrap();
    assert_eq!(sdtab_csv(&rows), sdtab_csv(&again));
    // under a wrong model (CL halved in the estimates) CWRES are biased
    let mut wrong = r.clone();
    *wrong.theta.get_mut("cl_l_h").unwrap() *= 0.5;
    let bad = sdtab(&truth, &wrong, &ds, 200, 1).unwrap();
    let (bm, _) = stats(bad.iter().map(|x| x.npde).collect());
    assert!(bm.abs() > 0.3, "NPDE mean under a wrong CL: {bm}");
}
