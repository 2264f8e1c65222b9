//! The semantics corpus (`data/nonmem-corpus/`): every NONMEM feature has a small dataset whose
//! predictions through mgiv-core's solver are checked against an analytic expectation written
//! here, independently of the event expansion.

use mgiv_core::model::{IndividualParams, Peripheral};
use mgiv_core::solver::Modes;
use mgiv_core::units::{Hours, MgRate};
use mgiv_data::{
    predict, read, Censoring, CovariateFill, Dataset, Dialect, EventOptions, ModelledInput,
    ReadOptions, Severity,
};

const BASE: f64 = 0.8; // mmol/L
const CL: f64 = 2.0; // L/h
const V: f64 = 20.0; // L
const K: f64 = CL / V; // 1/h

fn one_cmt() -> Modes {
    Modes::from_params(&IndividualParams {
        cl_l_h: CL,
        v1_l: V,
        peripheral: None,
        ka_h: Some(1.5),
        f_im: Some(0.9),
        baseline_mmol_l: BASE,
    })
    .unwrap()
}

fn two_cmt() -> Modes {
    Modes::from_params(&IndividualParams {
        cl_l_h: CL,
        v1_l: 15.0,
        peripheral: Some(Peripheral {
            q_l_h: 5.0,
            v2_l: 25.0,
        }),
        ka_h: None,
        f_im: None,
        baseline_mmol_l: BASE,
    })
    .unwrap()
}

fn load_with(text: &str, opts: &ReadOptions) -> Dataset {
    let (ds, diags) = read(text, opts);
    let errors: Vec<_> = diags
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .collect();
    assert!(errors.is_empty(), "{errors:#?}");
    ds.unwrap()
}

fn load(text: &str) -> Dataset {
    load_with(text, &ReadOptions::default())
}

/// (time_h, predicted mmol/L) of every observation of subject `i`.
fn preds_opts(ds: &Dataset, i: usize, m: &Modes, opts: &EventOptions) -> Vec<(f64, f64)> {
    let segs = ds.subjects[i].segments(opts).unwrap();
    segs.iter()
        .flat_map(|s| {
            let p = predict(m, s);
            s.observations
                .iter()
                .map(|o| o.time_h)
                .zip(p)
                .collect::<Vec<_>>()
        })
        .collect()
}

fn preds(ds: &Dataset, i: usize, m: &Modes) -> Vec<(f64, f64)> {
    preds_opts(ds, i, m, &EventOptions::for_modes(m))
}

fn close(got: f64, want: f64, tol: f64) {
    assert!(
        (got - want).abs() <= tol * want.abs().max(1.0),
        "got {got}, want {want}"
    );
}

fn bolus_1cmt(d: f64, tau: f64) -> f64 {
    if tau < 0.0 {
        0.0
    } else {
        d / V * (-K * tau).exp()
    }
}

#[test]
fn addl_gives_a_geometric_series_with_troughs_at_dose_times() {
    let ds = load(include_str!("../../../data/nonmem-corpus/bolus_addl.csv"));
    let p = preds(&ds, 0, &one_cmt());
    let expect = |t: f64| {
        // doses at 0, 12, 24, 36 h; a sample at a dose time does not see that dose, except the
        // explicit dose record at 0 h, which the baseline sample precedes in file order
        BASE + (0..4)
            .map(|j| 12.0 * j as f64)
            .filter(|&td| td < t)
            .map(|td| bolus_1cmt(10.0, t - td))
            .sum::<f64>()
    };
    let times: Vec<f64> = p.iter().map(|x| x.0).collect();
    assert_eq!(times, vec![0.0, 6.0, 12.0, 30.0, 36.0, 40.0, 60.0]);
    for (t, c) in &p {
        close(*c, expect(*t), 1e-12);
    }
    // trough at 36 h: the geometric series D/V e^{-12k}(1 + r + r^2), r = e^{-12k}
    let r = (-12.0 * K).exp();
    close(p[4].1, BASE + 10.0 / V * r * (1.0 + r + r * r), 1e-12);
}

#[test]
fn same_time_records_act_in_file_order() {
    let ds = load(include_str!("../../../data/nonmem-corpus/same_time.csv"));
    let p = preds(&ds, 0, &one_cmt());
    close(p[0].1, BASE + bolus_1cmt(10.0, 12.0), 1e-12);
    close(p[1].1 - p[0].1, 10.0 / V, 1e-12);
}

#[test]
fn ss1_bolus_is_the_closed_form_steady_state_for_one_and_two_compartments() {
    let ds = load(include_str!("../../../data/nonmem-corpus/ss1_bolus.csv"));
    for m in [one_cmt(), two_cmt()] {
        let p = preds(&ds, 0, &m);
        for (t, c) in &p {
            // within the first interval: the steady state; after 12 h no further dose is given
            let ss: f64 = (0..m.n)
                .map(|i| {
                    10.0 * m.coef_per_l[i] * (-m.lambda_h[i] * t).exp()
                        / (1.0 - (-m.lambda_h[i] * 12.0).exp())
                })
                .sum();
            close(*c, BASE + ss, 1e-10);
        }
    }
}

#[test]
fn ss1_constant_infusion_is_rate_over_clearance() {
    let ds = load(include_str!(
        "../../../data/nonmem-corpus/ss1_infusion_constant.csv"
    ));
    for m in [one_cmt(), two_cmt()] {
        for (_, c) in preds(&ds, 0, &m) {
            close(c, BASE + 5.0 / CL, 1e-10);
        }
    }
}

#[test]
fn ss1_repeated_infusion_is_the_closed_form() {
    let ds = load(include_str!(
        "../../../data/nonmem-corpus/ss1_infusion_repeated.csv"
    ));
    let (r, tinf, ii) = (5.0, 2.0, 12.0);
    let css = r / CL; // R/(kV)
    let trough =
        css * (1.0 - (-K * tinf).exp()) * (-K * (ii - tinf)).exp() / (1.0 - (-K * ii).exp());
    let at = |t: f64| {
        if t <= tinf {
            trough * (-K * t).exp() + css * (1.0 - (-K * t).exp())
        } else {
            (trough * (-K * tinf).exp() + css * (1.0 - (-K * tinf).exp())) * (-K * (t - tinf)).exp()
        }
    };
    for (t, c) in preds(&ds, 0, &one_cmt()) {
        close(c, BASE + at(t), 1e-10);
    }
}

#[test]
fn ss2_adds_the_steady_state_to_what_is_there() {
    let ds = load(include_str!("../../../data/nonmem-corpus/ss2_add.csv"));
    let p = preds(&ds, 0, &one_cmt());
    let ss = 10.0 / V * (-K * 2.0).exp() / (1.0 - (-K * 12.0).exp());
    close(p[0].1, BASE + bolus_1cmt(10.0, 8.0) + ss, 1e-10);
}

fn infusion_1cmt(rate: f64, dur: f64, tau: f64) -> f64 {
    let css = rate / CL;
    if tau <= dur {
        css * (1.0 - (-K * tau).exp())
    } else {
        css * (1.0 - (-K * dur).exp()) * (-K * (tau - dur)).exp()
    }
}

#[test]
fn modelled_duration_and_rate() {
    let ds = load(include_str!(
        "../../../data/nonmem-corpus/rate_modelled.csv"
    ));
    let m = one_cmt();
    let opts = EventOptions {
        modelled: ModelledInput {
            duration: Some(Hours::from_h(2.0)),
            rate: Some(MgRate::from_mmol_per_h(2.5)),
        },
        ..EventOptions::for_modes(&m)
    };
    let p1 = preds_opts(&ds, 0, &m, &opts);
    close(p1[0].1, BASE + infusion_1cmt(5.0, 2.0, 1.0), 1e-12);
    close(p1[1].1, BASE + infusion_1cmt(5.0, 2.0, 3.0), 1e-12);
    let p2 = preds_opts(&ds, 1, &m, &opts);
    close(p2[0].1, BASE + infusion_1cmt(2.5, 4.0, 1.0), 1e-12);
    close(p2[1].1, BASE + infusion_1cmt(2.5, 4.0, 6.0), 1e-12);
    // a steady state whose interval is too short for its history is an error, not a huge expansion
    let tiny = load("# DV_UNIT=mmol/L\n# AMT_UNIT=mmol\nID,TIME,EVID,MDV,AMT,II,SS,DV\n1,0,1,1,10,0.000001,1,.\n1,1,0,0,.,0,0,1\n");
    let err = tiny.subjects[0]
        .segments(&EventOptions::for_modes(&m))
        .unwrap_err()
        .to_string();
    assert!(err.contains("II on row 4"), "{err}");
    // without a modelled duration the record is an error naming the row
    let err = ds.subjects[0]
        .segments(&EventOptions::for_modes(&m))
        .unwrap_err()
        .to_string();
    assert!(err.contains("RATE on row") && err.contains("D1"), "{err}");
}

#[test]
fn evid3_resets_and_evid4_resets_and_doses() {
    let ds = load(include_str!("../../../data/nonmem-corpus/reset.csv"));
    let m = one_cmt();
    let p = preds(&ds, 0, &m);
    close(p[0].1, BASE + bolus_1cmt(10.0, 5.0), 1e-12);
    close(p[1].1, BASE, 1e-12);
    close(p[2].1, BASE + bolus_1cmt(10.0, 2.0), 1e-12);
    let p = preds(&ds, 1, &m);
    close(p[0].1, BASE + bolus_1cmt(10.0, 2.0), 1e-12);
    // time goes back at the EVID 4 record of ID 3
    let p = preds(&ds, 2, &m);
    close(p[0].1, BASE + bolus_1cmt(10.0, 30.0), 1e-12);
    close(p[1].1, BASE + bolus_1cmt(5.0, 2.0), 1e-12);
    assert_eq!(
        ds.subjects[2]
            .segments(&EventOptions::for_modes(&m))
            .unwrap()
            .len(),
        2
    );
}

#[test]
fn date_time_over_midnight_and_dur() {
    let ds = load(include_str!(
        "../../../data/nonmem-corpus/date_time_dur.csv"
    ));
    let times: Vec<f64> = ds.subjects[0].records.iter().map(|r| r.time_h).collect();
    assert_eq!(times, vec![0.0, 1.0, 3.5]);
    let p = preds(&ds, 0, &one_cmt());
    close(p[0].1, BASE + infusion_1cmt(5.0, 2.0, 1.0), 1e-12);
    close(p[1].1, BASE + infusion_1cmt(5.0, 2.0, 3.5), 1e-12);
}

#[test]
fn declared_units_are_converted_at_the_edge() {
    let ds = load(include_str!("../../../data/nonmem-corpus/units.csv"));
    let r = &ds.subjects[0].records;
    close(r[0].observation.unwrap().dv.mmol_l(), 0.8, 1e-4);
    close(r[2].observation.unwrap().dv.mmol_l(), 1.0, 1e-12);
    let mmol = 4000.0 / 246.47;
    close(r[1].dose.unwrap().amount.mmol(), mmol, 1e-12);
    let p = preds(&ds, 0, &one_cmt());
    close(p[1].1, BASE + bolus_1cmt(mmol, 2.0), 1e-12);
    // the same file read with AMT in mEq (an override of the file's declaration): 4 mEq = 2 mmol
    let ds = load_with(
        include_str!("../../../data/nonmem-corpus/units.csv"),
        &ReadOptions {
            amt_unit: Some("mEq".into()),
            ..Default::default()
        },
    );
    close(
        ds.subjects[0].records[1].dose.unwrap().amount.mmol(),
        2.0,
        1e-12,
    );
}

#[test]
fn covariates_nocb_by_default_and_locf_on_request() {
    let ds = load(include_str!("../../../data/nonmem-corpus/covariates.csv"));
    let s = &ds.subjects[0];
    let wt = ds.covariate_index("WT").unwrap();
    let at = |t, f| s.covariate_at(wt, t, f).unwrap();
    assert_eq!(at(5.0, CovariateFill::Nocb), 72.0);
    assert_eq!(at(5.0, CovariateFill::Locf), 70.0);
    assert_eq!(at(10.0, CovariateFill::Nocb), 72.0);
    assert_eq!(at(10.0, CovariateFill::Locf), 72.0);
    assert_eq!(at(25.0, CovariateFill::Nocb), 75.0);
    assert_eq!(at(25.0, CovariateFill::Locf), 72.0);
    assert_eq!(at(40.0, CovariateFill::Nocb), 75.0);
    assert_eq!(CovariateFill::default(), CovariateFill::Nocb);
}

#[test]
fn censoring_cens_blq_and_lloq() {
    let ds = load(include_str!("../../../data/nonmem-corpus/blq.csv"));
    let obs: Vec<_> = ds.subjects[0].observations().map(|(_, o)| *o).collect();
    assert_eq!(obs[0].censoring, Censoring::None);
    close(obs[0].lloq.unwrap().mmol_l(), 0.3, 1e-12);
    assert_eq!(obs[1].censoring, Censoring::Below);
    close(obs[1].lloq.unwrap().mmol_l(), 0.3, 1e-12);
    assert_eq!(obs[2].censoring, Censoring::Below);
    close(obs[2].lloq.unwrap().mmol_l(), 0.3, 1e-12);
}

#[test]
fn im_dose_into_a_depot() {
    let ds = load_with(
        include_str!("../../../data/nonmem-corpus/depot_im.csv"),
        &ReadOptions {
            central_cmt: Some(2),
            depot_cmt: Some(1),
            ..Default::default()
        },
    );
    let (ka, f) = (1.5, 0.9);
    for (t, c) in preds(&ds, 0, &one_cmt()) {
        let want = f * 20.0 * ka / (V * (ka - K)) * ((-K * t).exp() - (-ka * t).exp());
        close(c, BASE + want, 1e-12);
    }
    // without the depot declared, CMT 1 is the central compartment and CMT 2 is refused
    let (ds, diags) = read(
        include_str!("../../../data/nonmem-corpus/depot_im.csv"),
        &ReadOptions::default(),
    );
    assert!(ds.is_none());
    assert!(diags.iter().any(|d| d.code == "E-CMT" && d.row.is_some()));
}

#[test]
fn pmetrics_and_monolix_conventions_give_the_nonmem_predictions() {
    let m = one_cmt();
    let nm = load(include_str!("../../../data/nonmem-corpus/bolus_addl.csv"));
    let want = preds(&nm, 0, &m);
    let pm = load(include_str!("../../../data/nonmem-corpus/pmetrics.csv"));
    assert_eq!(pm.dialect, Dialect::Pmetrics);
    assert_eq!(pm.covariates, vec!["WT".to_string()]);
    let mx = load(include_str!("../../../data/nonmem-corpus/monolix.csv"));
    assert_eq!(mx.dialect, Dialect::Monolix);
    for ds in [&pm, &mx] {
        let got = preds(ds, 0, &m);
        assert_eq!(got.len(), want.len());
        for (g, w) in got.iter().zip(&want) {
            assert_eq!(g.0, w.0);
            close(g.1, w.1, 1e-12);
        }
    }
}

#[test]
fn writing_back_reads_the_same_records() {
    for text in [
        include_str!("../../../data/nonmem-corpus/bolus_addl.csv"),
        include_str!("../../../data/nonmem-corpus/ss1_infusion_repeated.csv"),
        include_str!("../../../data/nonmem-corpus/ss1_infusion_constant.csv"),
        include_str!("../../../data/nonmem-corpus/reset.csv"),
        include_str!("../../../data/nonmem-corpus/units.csv"),
        include_str!("../../../data/nonmem-corpus/covariates.csv"),
        include_str!("../../../data/nonmem-corpus/blq.csv"),
        include_str!("../../../data/nonmem-corpus/date_time_dur.csv"),
        include_str!("../../../data/nonmem-corpus/pmetrics.csv"),
        include_str!("../../../data/nonmem-corpus/rate_modelled.csv"),
    ] {
        let a = load(text);
        let out = mgiv_data::write_nonmem(&a);
        let b = load(&out);
        assert_eq!(a.subjects.len(), b.subjects.len());
        for (sa, sb) in a.subjects.iter().zip(&b.subjects) {
            assert_eq!(sa.records.len(), sb.records.len(), "{out}");
            for (ra, rb) in sa.records.iter().zip(&sb.records) {
                assert_eq!(ra.evid, rb.evid);
                assert_eq!(ra.mdv, rb.mdv);
                close(ra.time_h, rb.time_h, 1e-12);
                assert_eq!(ra.covariates, rb.covariates);
                match (&ra.dose, &rb.dose) {
                    (Some(x), Some(y)) => {
                        close(x.amount.mmol(), y.amount.mmol(), 1e-12);
                        assert_eq!((x.addl, x.ss, x.route), (y.addl, y.ss, y.route));
                        close(x.ii_h, y.ii_h, 1e-12);
                    }
                    (None, None) => {}
                    _ => panic!("dose lost in {out}"),
                }
                match (&ra.observation, &rb.observation) {
                    (Some(x), Some(y)) => {
                        close(x.dv.mmol_l(), y.dv.mmol_l(), 1e-12);
                        assert_eq!(x.censoring, y.censoring);
                    }
                    (None, None) => {}
                    _ => panic!("observation lost in {out}"),
                }
            }
        }
        // and predicts the same
        let m = one_cmt();
        let opts = EventOptions {
            modelled: ModelledInput {
                duration: Some(Hours::from_h(2.0)),
                rate: Some(MgRate::from_mmol_per_h(2.5)),
            },
            ..EventOptions::for_modes(&m)
        };
        for i in 0..a.subjects.len() {
            let pa = preds_opts(&a, i, &m, &opts);
            let pb = preds_opts(&b, i, &m, &opts);
            for (x, y) in pa.iter().zip(&pb) {
                close(x.1, y.1, 1e-10);
            }
        }
    }
}

/// Found by the `nonmem_dataset` fuzz target: a Monolix dataset whose numeric columns BLQ and LLOQ
/// are covariates there; written as NONMEM they would be read as data items (and LLOQ as a
/// duplicated column). They are written as BLQ_COV, LLOQ_COV and read back unchanged.
#[test]
fn covariates_named_like_nonmem_items_are_renamed_when_written() {
    let text = "# DV_UNIT=mmol/L\n# AMT_UNIT=mmol\nID,TIME,AMOUNT,Y,BLQ,LLOQ,WT\n\
                1,0,10,.,0,0.3,70\n1,2,.,1.2,1,0.3,70\n";
    let a = load(text);
    assert_eq!(a.covariates, vec!["BLQ", "LLOQ", "WT"]);
    let out = mgiv_data::write_nonmem(&a);
    assert!(
        out.contains(
            "ID,TIME,EVID,MDV,CMT,AMT,RATE,ADDL,II,SS,DV,CENS,LLOQ,OCC,BLQ_COV,LLOQ_COV,WT\n"
        ),
        "{out}"
    );
    let b = load(&out);
    assert_eq!(b.covariates, vec!["BLQ_COV", "LLOQ_COV", "WT"]);
    let (ra, rb) = (&a.subjects[0].records[1], &b.subjects[0].records[1]);
    assert_eq!(ra.covariates, rb.covariates);
    // the BLQ covariate did not censor the observation
    assert_eq!(
        rb.observation.as_ref().map(|o| o.censoring),
        Some(mgiv_data::Censoring::None)
    );
}
