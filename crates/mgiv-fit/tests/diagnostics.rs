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

/// The goodness-of-fit panels are the sdtab's own values (same order, nothing recomputed), and
/// the smoother is the group means of the points sorted by x.
#[test]
fn gof_series_are_the_sdtab_values() {
    use mgiv_fit::diagnostics::{binned_smooth, gof_series, sdtab_at};
    let m = EstimationModel::from_toml(include_str!(
        "../../../data/examples/fit/mg-2cmt-baseline.toml"
    ))
    .unwrap();
    let text = simulate_nonmem(
        &m,
        &Design {
            n_subjects: 6,
            ..Default::default()
        },
        5,
    )
    .unwrap();
    let (ds, _) = read(&text, &ReadOptions::default());
    let ds = ds.unwrap();
    let p = mgiv_fit::vpc::Estimates::initial(&m).params(&m).unwrap();
    let rows = sdtab_at(&m, &p, &ds, 50, 2).unwrap();
    assert!(rows.len() > 20);
    let g = gof_series(&rows);
    assert_eq!(g.n_not_finite, 0);
    for panel in g.panels() {
        assert_eq!(panel.points.len(), rows.len());
        assert!(panel.smooth.len() >= 3);
        let xs: Vec<f64> = panel.points.iter().map(|q| q.0).collect();
        let (lo, hi) = (
            xs.iter().copied().fold(f64::INFINITY, f64::min),
            xs.iter().copied().fold(f64::NEG_INFINITY, f64::max),
        );
        // the smoother runs left to right inside the data
        assert!(panel.smooth.windows(2).all(|w| w[0].0 <= w[1].0));
        assert!(panel.smooth.iter().all(|s| s.0 >= lo && s.0 <= hi));
    }
    for (i, r) in rows.iter().enumerate() {
        assert_eq!(g.dv_vs_pred.points[i], (r.pred_mmol_l, r.dv_mmol_l));
        assert_eq!(g.dv_vs_ipred.points[i], (r.ipred_mmol_l, r.dv_mmol_l));
        assert_eq!(g.cwres_vs_time.points[i], (r.time_h, r.cwres));
        assert_eq!(g.cwres_vs_pred.points[i], (r.pred_mmol_l, r.cwres));
    }
    assert_eq!(g.dv_vs_pred.x_column, "PRED_MMOL_L");
    assert_eq!(g.cwres_vs_time.y_column, "CWRES");
    // PRED and IPRED differ, so the two DV panels are not the same data
    assert_ne!(g.dv_vs_pred.points, g.dv_vs_ipred.points);

    // the smoother by hand: sorted by x, groups {1,2}, {3,4}, {5,6}; a NaN is ignored
    let pts = [
        (6.0, 60.0),
        (1.0, 10.0),
        (f64::NAN, 1.0),
        (3.0, 31.0),
        (2.0, 20.0),
        (5.0, 50.0),
        (4.0, 41.0),
    ];
    assert_eq!(
        binned_smooth(&pts, 3),
        vec![(1.5, 15.0), (3.5, 36.0), (5.5, 55.0)]
    );
    assert_eq!(binned_smooth(&pts[..2], 5), vec![(1.0, 10.0), (6.0, 60.0)]);
    assert!(binned_smooth(&[], 3).is_empty());
}
