//! End-to-end tests of `mgiv simulate`, `mgiv models`, `mgiv validate`.

mod common;
use common::{json, mgiv};

#[test]
fn no_options_runs_the_documented_example() {
    let out = mgiv().arg("simulate").output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("Example (no options given)"));
    assert!(text.contains("du-2019") && text.contains("J Clin Pharmacol"));
    assert!(text.contains("MgSO4·7H2O"));
}

#[test]
fn json_has_the_stable_fields() {
    let v = json(&[
        "simulate",
        "--regimen",
        "4 g over 20 min, then 1 g/h for 24 h",
        "--weight",
        "70",
        "--creatinine",
        "0.8",
        "--pre-eclampsia",
        "--at",
        "0,0.5,6,12,24",
        "--format",
        "json",
    ]);
    assert_eq!(v["model"]["id"], "du-2019");
    assert!(v["model"]["citation"].as_str().unwrap().contains("Du"));
    assert_eq!(
        v["regimen"],
        "4 g MgSO4·7H2O IV over 20 min, then 1 g/h MgSO4·7H2O IV for 24 h"
    );
    let pts = v["points"].as_array().unwrap();
    assert_eq!(pts.len(), 5);
    assert_eq!(pts[0]["time_h"], 0.0);
    // at t = 0 only the baseline (Du 2019: 0.74 mmol/L)
    assert!((pts[0]["serum_mg_mmol_l"].as_f64().unwrap() - 0.74).abs() < 1e-12);
    let c6 = pts[2]["serum_mg_mmol_l"].as_f64().unwrap();
    assert!(c6 > 1.3 && c6 < 2.2, "{c6}");
    assert!(v["warnings"].is_array());
}

#[test]
fn units_convert_at_the_edge() {
    let a = json(&[
        "simulate",
        "--regimen",
        "4 g over 20 min",
        "--weight",
        "70",
        "--at",
        "1",
        "--format",
        "json",
    ]);
    let b = json(&[
        "simulate",
        "--regimen",
        "4 g over 20 min",
        "--weight",
        "70",
        "--at",
        "1",
        "--format",
        "json",
        "--units",
        "mg/dL",
    ]);
    let mmol = a["points"][0]["serum_mg_mmol_l"].as_f64().unwrap();
    let mgdl = b["points"][0]["serum_mg_mg_dl"].as_f64().unwrap();
    assert!((mgdl - mmol * 2.4305).abs() < 1e-9);
    // the same regimen in mmol gives the same curve
    let c = json(&[
        "simulate",
        "--regimen",
        "16.229 mmol over 20 min",
        "--weight",
        "70",
        "--at",
        "1",
        "--format",
        "json",
    ]);
    let mmol_c = c["points"][0]["serum_mg_mmol_l"].as_f64().unwrap();
    assert!((mmol_c - mmol).abs() < 1e-4, "{mmol_c} vs {mmol}");
}

#[test]
fn measured_baseline_with_unit_is_used() {
    let v = json(&[
        "simulate",
        "--regimen",
        "1 g over 1 h",
        "--baseline",
        "2.0 mg/dL",
        "--at",
        "0",
        "--format",
        "json",
    ]);
    let c0 = v["points"][0]["serum_mg_mmol_l"].as_f64().unwrap();
    assert!((c0 - 2.0 / 2.4305).abs() < 1e-9);
}

#[test]
fn csv_and_plots() {
    let out = mgiv()
        .args([
            "simulate",
            "--regimen",
            "2 g over 15 min",
            "--hours",
            "4",
            "--format",
            "csv",
        ])
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    // comment lines first: version, model, evidence, unit and every warning
    assert!(text.starts_with("# mgiv "), "{text}");
    assert!(
        text.contains("# warning: ") && text.contains("# model: "),
        "{text}"
    );
    let data: Vec<&str> = text.lines().filter(|l| !l.starts_with('#')).collect();
    assert_eq!(data[0], "time_h,serum_mg_mmol_l,model_id");
    assert_eq!(data.len(), 6);
    let dir = std::env::temp_dir().join(format!("mgiv-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for name in ["curve.svg", "curve.png"] {
        let p = dir.join(name);
        mgiv()
            .args([
                "simulate",
                "--regimen",
                "4 g over 20 min, then 1 g/h for 24 h",
                "--hours",
                "30",
                "--plot",
            ])
            .arg(&p)
            .assert()
            .success();
        let bytes = std::fs::read(&p).unwrap();
        assert!(bytes.len() > 5_000, "{name} is {} bytes", bytes.len());
    }
    let svg = std::fs::read_to_string(dir.join("curve.svg")).unwrap();
    assert!(svg.contains("deep tendon reflexes decrease"));
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn bad_input_is_named() {
    let cases: &[(&[&str], &str)] = &[
        (&["simulate", "--regimen", "4 gr over 20 min"], "'gr'"),
        (
            &["simulate", "--regimen", "4 g over 20 min", "--weight", "-3"],
            "weight",
        ),
        (
            &[
                "simulate",
                "--regimen",
                "4 g over 20 min",
                "--creatinine",
                "80",
            ],
            "µmol/L",
        ),
        (
            &[
                "simulate",
                "--regimen",
                "4 g over 20 min",
                "--model",
                "nope",
            ],
            "du-2019",
        ),
        (&["simulate", "--regimen", "60 mg/kg over 15 min"], "weight"),
        (
            &["simulate", "--regimen", "4 g over 20 min", "--at", "6,1"],
            "increasing",
        ),
        (
            &[
                "simulate",
                "--regimen",
                "4 g over 20 min",
                "--baseline",
                "1.0 mg/L",
            ],
            "units",
        ),
        (
            &["simulate", "--regimen", "4 g over 20 min", "--hours", "0"],
            "hours",
        ),
        (
            &["simulate", "--regimen", "4 g IM", "--model", "lu-2002"],
            "IM",
        ),
        (&["simulate", "--weight", "70"], "--regimen"),
        (
            &[
                "simulate",
                "--regimen",
                "4 g over 20 min",
                "--plot",
                "x.pdf",
            ],
            ".svg or .png",
        ),
    ];
    for (args, want) in cases {
        let out = mgiv().args(*args).output().unwrap();
        assert!(!out.status.success(), "{args:?} should fail");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(want), "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{args:?}: {err}");
    }
}

#[test]
fn models_lists_citations() {
    let out = mgiv().arg("models").output().unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    for id in [
        "du-2019",
        "brookfield-2016",
        "salinger-2013",
        "lu-2002",
        "mgiv-adult-2026",
        "mgiv-adult-tm-2026",
    ] {
        assert!(text.contains(id), "{id}");
    }
    assert!(text.contains("BJOG") && text.contains("Clin Pharmacokinet"));
}

#[test]
fn validate_passes_and_matches_the_committed_report() {
    let out = mgiv().arg("validate").output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report = String::from_utf8(out.stdout).unwrap();
    let committed =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../VALIDATION.md"))
            .unwrap();
    assert_eq!(
        report, committed,
        "VALIDATION.md is stale: run `mgiv validate --write VALIDATION.md`"
    );
}

#[test]
fn a_model_file_of_ones_own_is_used_and_checked() {
    let dir = std::env::temp_dir().join(format!("mgiv-model-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    // the shipped Salinger file under another id must give the same curve as the built-in
    let shipped = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../data/models/salinger-2013.toml"
    ))
    .unwrap();
    let mine = dir.join("mine.toml");
    std::fs::write(
        &mine,
        shipped.replace("id = \"salinger-2013\"", "id = \"my-salinger\""),
    )
    .unwrap();
    let args = [
        "simulate",
        "--regimen",
        "4 g over 20 min, then 1 g/h",
        "--weight",
        "55",
        "--at",
        "12",
        "--format",
        "json",
    ];
    let built_in = json(&[&args[..], &["--model", "salinger-2013"]].concat());
    let out = mgiv()
        .args(args)
        .arg("--model-file")
        .arg(&mine)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let own: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(own["model"]["id"], "my-salinger");
    assert_eq!(
        own["points"][0]["serum_mg_mmol_l"],
        built_in["points"][0]["serum_mg_mmol_l"]
    );
    // a broken file is refused with the reason
    let bad = dir.join("bad.toml");
    std::fs::write(&bad, shipped.replace("cl_l_h = 4.81", "cl_l_h = -4.81")).unwrap();
    let out = mgiv()
        .args(args)
        .arg("--model-file")
        .arg(&bad)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("model-file") && err.contains("cl_l_h"),
        "{err}"
    );
    std::fs::remove_dir_all(&dir).ok();
}
