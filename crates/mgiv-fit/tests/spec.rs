//! The estimation model spec: published models load unchanged and give initial estimates; bad
//! estimation tables are refused with a message naming what is wrong.

use mgiv_core::model::{builtin_models, ModelSpec};
use mgiv_fit::spec::{BaselineMode, ErrorModel};
use mgiv_fit::EstimationModel;

#[test]
fn published_models_load_unchanged_and_become_initial_estimates() {
    for spec in builtin_models().unwrap() {
        match EstimationModel::from_published(&spec) {
            Ok(m) => {
                let cl = m.param_theta[0].unwrap();
                assert_eq!(m.thetas[cl].init, spec.parameters.cl_l_h, "{}", spec.id);
                let base = m.param_theta[4].unwrap();
                assert_eq!(m.thetas[base].init, spec.baseline.mmol_l);
                if let Some(v) = &spec.variability {
                    for (name, cv) in &v.iiv_cv_percent {
                        let k = m
                            .eta_params
                            .iter()
                            .position(|&p| mgiv_fit::spec::PARAMS[p] == name)
                            .unwrap();
                        let w = m.omega_init[k * m.n_eta() + k];
                        assert!((w - (1.0 + (cv / 100.0).powi(2)).ln()).abs() < 1e-12);
                    }
                }
            }
            // the only refusal: a categorical covariate (pre-eclampsia yes/no)
            Err(e) => assert!(e.to_string().contains("categorical"), "{}: {e}", spec.id),
        }
    }
    // du-2019 in particular: residual on the change from baseline, combined
    let du = mgiv_core::model::builtin_model("du-2019").unwrap();
    let m = EstimationModel::from_published(&du).unwrap();
    assert_eq!(m.error_model, ErrorModel::Combined);
    assert_eq!(
        m.residual_on,
        mgiv_core::model::ResidualScale::ChangeFromBaseline
    );
    assert_eq!(m.relations.len(), 5);
    assert!(m.relations.iter().any(|r| r.column == "SCR"));
}

#[test]
fn the_template_reads_and_a_published_file_with_an_estimation_table_still_loads() {
    let t = include_str!("../../../data/examples/fit/mg-2cmt-baseline.toml");
    let m = EstimationModel::from_toml(t).unwrap();
    assert!(m.two_cmt);
    assert_eq!(m.baseline, BaselineMode::Estimated);
    assert_eq!(m.n_eta(), 3);
    assert!(!m.omega_block);
    // a published file plus an [estimation] table: ModelSpec still reads it
    let du = include_str!("../../../data/models/du-2019.toml");
    let with = format!(
        "{du}\n[estimation]\nbaseline = \"per_subject\"\n[estimation.theta]\ncl_l_h = {{ init = 3.7, lower = 0.1, upper = 50 }}\nv1_l = {{ init = 15, lower = 1, upper = 200 }}\nq_l_h = {{ init = 3.7, lower = 0.1, upper = 50 }}\nv2_l = {{ init = 17, lower = 1, upper = 200 }}\nbaseline_mmol_l = {{ init = 0.74, lower = 0.1, upper = 3 }}\n[estimation.omega]\nparameters = [\"cl_l_h\", \"v1_l\"]\ninit = [[0.07, 0.01], [0.01, 0.09]]\n[estimation.residual]\nmodel = \"proportional\"\non = \"change_from_baseline\"\nproportional = 0.12\n"
    );
    assert!(ModelSpec::from_toml(&with).is_ok());
    let m = EstimationModel::from_toml(&with).unwrap();
    assert_eq!(m.baseline, BaselineMode::PerSubject);
    assert!(m.omega_block);
    assert_eq!(m.id, "du-2019");
}

fn refused(body: &str, words: &[&str]) {
    let text =
        format!("id = \"x\"\nname = \"x\"\nstructure = \"one-compartment\"\n[estimation]\n{body}");
    let e = EstimationModel::from_toml(&text).unwrap_err().to_string();
    for w in words {
        assert!(e.contains(w), "'{w}' not in: {e}");
    }
}

const THETAS: &str = "[estimation.theta]\ncl_l_h = { init = 3, lower = 0.1, upper = 50 }\nv1_l = { init = 20, lower = 1, upper = 200 }\nbaseline_mmol_l = { init = 0.8, lower = 0.1, upper = 3 }\n";
const RES: &str = "[estimation.residual]\nmodel = \"additive\"\nadditive_mmol_l = 0.1\n";

#[test]
fn bad_estimation_tables_are_refused_with_the_reason() {
    refused(
        &format!("[estimation.theta]\ncl_l_h = {{ init = 3 }}\nv1_l = {{ init = 20 }}\n{RES}"),
        &["baseline_mmol_l"],
    );
    refused(
        &format!("[estimation.theta]\ncl_l_h = {{ init = 60, lower = 0.1, upper = 50 }}\nv1_l = {{ init = 20 }}\nbaseline_mmol_l = {{ init = 0.8 }}\n{RES}"),
        &["cl_l_h", "init 60", "upper 50"],
    );
    refused(
        &format!("{THETAS}[estimation.omega]\nparameters = [\"cl_l_h\", \"v1_l\"]\ninit = [[0.1, 0.2], [0.2, 0.1]]\n{RES}"),
        &["positive definite"],
    );
    refused(
        &format!("{THETAS}[estimation.iov]\ncl_l_h = 0.05\n{RES}"),
        &["unknown field `cl_l_h`", "parameters", "init"],
    );
    refused(
        &format!("{THETAS}[estimation.iov]\nparameters = [\"cl_l_h\"]\ninit = [0.0]\n{RES}"),
        &["iov", "cl_l_h", "positive variance"],
    );
    refused(
        &format!("{THETAS}[estimation.iov]\nparameters = [\"q_l_h\"]\ninit = [0.05]\n{RES}"),
        &["iov", "q_l_h", "at most once"],
    );
    refused(
        &format!("{THETAS}[estimation.residual]\nmodel = \"combined\"\nadditive_mmol_l = 0.1\n"),
        &["combined", "proportional"],
    );
    refused(
        &format!("{THETAS}[estimation.omega]\nparameters = [\"q_l_h\"]\ninit = [0.1]\n{RES}"),
        &["q_l_h"],
    );
    refused(
        &format!("{THETAS}[[estimation.covariates]]\nparameter = \"cl_l_h\"\ncolumn = \"WT\"\nform = \"power\"\nreference = 70\n{RES}"),
        &["either theta", "or value"],
    );
}

#[test]
fn nonmem_control_stream_of_the_template() {
    let m = EstimationModel::from_toml(include_str!(
        "../../../data/examples/fit/mg-2cmt-baseline.toml"
    ))
    .unwrap();
    let cs = mgiv_fit::nonmem::control_stream(&m, "mg-sim-50.csv");
    for needle in [
        "$SUBROUTINES ADVAN3 TRANS4",
        "$INPUT ID TIME EVID MDV CMT AMT RATE ADDL II SS DV CENS LLOQ OCC WT",
        "$DATA mg-sim-50.csv IGNORE=@",
        "* (WT/75)**0.75",
        "CL = TVCL * EXP(ETA(",
        "IPRED = F + BASE",
        "W = SQRT((THETA(6)*X)**2 + THETA(7)**2)",
        "$OMEGA\n",
        "$SIGMA 1 FIX",
        "$ESTIMATION METHOD=1 INTERACTION",
        "$COVARIANCE",
    ] {
        assert!(cs.contains(needle), "no '{needle}' in\n{cs}");
    }
    // one $THETA line per θ and residual SD, each (lower, init, upper) around its initial value
    let thetas: Vec<&str> = cs
        .split("$THETA\n")
        .nth(1)
        .unwrap()
        .split("$OMEGA")
        .next()
        .unwrap()
        .lines()
        .collect();
    assert_eq!(thetas.len(), m.thetas.len() + 2);
    assert!(thetas
        .iter()
        .any(|l| l.contains("(0.1, 4, 100)") && l.contains("cl_l_h")));
    // every THETA(i) and ETA(i) used is declared
    for i in 1..=12 {
        if cs.contains(&format!("THETA({i})")) {
            assert!(
                i <= thetas.len(),
                "THETA({i}) used, {} declared",
                thetas.len()
            );
        }
        if cs.contains(&format!("EXP(ETA({i}))")) {
            assert!(i <= m.n_eta());
        }
    }
    // a block Ω is written as BLOCK(k) with its lower triangle
    let block = include_str!("../../../data/examples/fit/mg-2cmt-baseline.toml").replace(
        "init = [0.09, 0.04, 0.01]",
        "init = [[0.09, 0.01, 0.0], [0.01, 0.04, 0.0], [0.0, 0.0, 0.01]]",
    );
    let mb = EstimationModel::from_toml(&block).unwrap();
    let cb = mgiv_fit::nonmem::control_stream(&mb, "d.csv");
    assert!(cb.contains("$OMEGA BLOCK(3)\n  0.09  ; cl_l_h\n  0.01 0.04  ; v1_l\n  0 0 0.01  ; baseline_mmol_l\n"), "{cb}");
}
