//! `mgiv plan` and `mgiv protocols` as a user runs them.

mod common;
use common::mgiv;

const ZUSPAN: &[&str] = &[
    "plan",
    "--protocol",
    "zuspan",
    "--weight",
    "70",
    "--creatinine",
    "0.8",
    "--pregnant",
    "--pre-eclampsia",
];

fn stdout_of(args: &[&str], code: i32) -> String {
    let out = mgiv().args(args).output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(code),
        "{args:?}\nstdout:\n{}\nstderr:\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn zuspan_plan_reads_at_the_bedside() {
    let s = stdout_of(ZUSPAN, 0);
    assert!(!s.contains("DO NOT GIVE"), "{s}");
    // the regimen in g, mmol and pump mL/h from the protocol's KEMH bag (8 g/100 mL)
    assert!(s.contains("dose 4 g MgSO4·7H2O = 16.2 mmol"), "{s}");
    assert!(s.contains("PUMP 150 mL/h"), "{s}");
    assert!(
        s.contains("rate 1 g/h MgSO4·7H2O = 4.1 mmol/h") && s.contains("PUMP 12.5 mL/h"),
        "{s}"
    );
    // curve summary, model and target attainment
    assert!(s.contains("Model: du-2019"), "{s}");
    assert!(s.contains("Levels: 1 h") && s.contains("| 24 h"), "{s}");
    assert!(
        s.contains("Time to reach target:") && s.contains("Target attainment:"),
        "{s}"
    );
    // monitoring and toxicity management
    assert!(
        s.contains("MONITORING") && s.contains("IF TOXICITY APPEARS"),
        "{s}"
    );
    assert!(s.contains("calcium gluconate 1 g"), "{s}");
    assert!(s.contains("[INFO] RATE-EXEMPT"), "{s}");
}

#[test]
fn renal_failure_with_myasthenia_is_a_stop_that_still_prints_the_plan() {
    let mut args = ZUSPAN.to_vec();
    args.extend(["--conditions", "renal-failure,myasthenia-gravis"]);
    let s = stdout_of(&args, 3);
    assert!(s.starts_with("!!!"), "banner first: {s}");
    assert!(s.contains("STOP — DO NOT GIVE AS WRITTEN"));
    assert!(s.contains("[STOP] CI-MYASTHENIA"));
    assert!(s.contains("[STOP] RENAL-48H-20G"));
    assert!(s.contains("[WARNING] CI-RENAL-FAILURE"));
    // the full plan is still there
    assert!(s.contains("PUMP 12.5 mL/h") && s.contains("IF TOXICITY APPEARS"));
    // stop alerts come before warnings
    assert!(s.find("[STOP]").unwrap() < s.find("[WARNING]").unwrap());
}

#[test]
fn forty_grams_over_twenty_minutes_is_stopped_with_the_intended_dose() {
    let s = stdout_of(
        &[
            "plan",
            "--regimen",
            "40 g over 20 min",
            "--weight",
            "70",
            "--creatinine",
            "0.8",
            "--pre-eclampsia",
        ],
        3,
    );
    assert!(s.contains("[STOP] GUARD-DECIMAL"), "{s}");
    assert!(s.contains("likely intended: 4 g"), "{s}");
    assert!(s.contains("[STOP] LEVEL-5.0"), "{s}");
    assert!(s.contains("closest standard protocol: zuspan"), "{s}");
}

#[test]
fn json_has_regimen_alerts_and_predicted_points() {
    let mut args = ZUSPAN.to_vec();
    args.extend(["--format", "json", "--medications", "nifedipine"]);
    let s = stdout_of(&args, 0);
    let v: serde_json::Value = serde_json::from_str(&s).unwrap();
    assert!(v["regimen"]
        .as_str()
        .unwrap()
        .contains("4 g MgSO4·7H2O IV over 20 min"));
    let alerts = v["alerts"].as_array().unwrap();
    assert!(alerts
        .iter()
        .any(|a| a["code"] == "INT-CCB" && a["severity"] == "caution"));
    for a in alerts {
        for k in ["severity", "code", "message", "source"] {
            assert!(a[k].is_string(), "{k} in {a}");
        }
    }
    let pts = v["predicted"].as_array().unwrap();
    assert!(pts.len() > 100);
    assert!(
        pts[12]["time_h"].as_f64().unwrap() > 0.9
            && pts[12]["serum_mg_mmol_l"].as_f64().unwrap() > 1.2
    );
    assert_eq!(v["model"]["id"], "du-2019");
    assert_eq!(v["stop"], false);
}

#[test]
fn html_report_is_self_contained_with_the_plot() {
    let dir = std::env::temp_dir().join(format!("mgiv-plan-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("plan.html");
    let mut args = ZUSPAN.to_vec();
    let p = path.to_str().unwrap().to_string();
    args.extend(["--format", "html", "--out", &p]);
    stdout_of(&args, 0);
    let html = std::fs::read_to_string(&path).unwrap();
    assert!(html.starts_with("<!DOCTYPE html>"));
    assert!(html.contains("<svg") && html.contains("</svg>"));
    assert!(html.contains("RATE-EXEMPT") && html.contains("du-2019"));
    assert!(!html.contains("<script"));
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn bad_input_gets_clear_errors() {
    let out = mgiv()
        .args([
            "plan",
            "--protocol",
            "zuspan",
            "--weight",
            "70",
            "--conditions",
            "asthma",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let e = String::from_utf8_lossy(&out.stderr);
    assert!(
        e.contains("unknown condition 'asthma'")
            && e.contains("myasthenia-gravis")
            && e.contains("oliguria"),
        "{e}"
    );

    let out = mgiv()
        .args(["plan", "--protocol", "zuspan", "--medications", "warfarin"])
        .output()
        .unwrap();
    let e = String::from_utf8_lossy(&out.stderr);
    assert!(
        e.contains("unknown medication 'warfarin'") && e.contains("rocuronium"),
        "{e}"
    );

    let out = mgiv()
        .args(["plan", "--protocol", "zusp"])
        .output()
        .unwrap();
    let e = String::from_utf8_lossy(&out.stderr);
    assert!(
        e.contains("unknown protocol 'zusp'") && e.contains("zuspan"),
        "{e}"
    );

    let out = mgiv()
        .args(["plan", "--regimen", "60 mg/kg over 15 min"])
        .output()
        .unwrap();
    let e = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2));
    assert!(e.contains("weight"), "{e}");

    let out = mgiv()
        .args(["plan", "--protocol", "zuspan", "--bag", "40 g in a bag"])
        .output()
        .unwrap();
    let e = String::from_utf8_lossy(&out.stderr);
    assert!(
        e.contains("invalid bag") && e.contains("40 g in 1000 mL"),
        "{e}"
    );

    let out = mgiv().args(["plan"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn pump_settings_from_a_named_bag() {
    let s = stdout_of(
        &[
            "plan",
            "--protocol",
            "sibai",
            "--weight",
            "70",
            "--creatinine",
            "0.8",
            "--pre-eclampsia",
            "--bag",
            "40 g in 1000 mL",
        ],
        0,
    );
    // 2 g/h of 40 g/1000 mL = 50 mL/h; 6 g over 20 min = 450 mL/h
    assert!(s.contains("PUMP 50 mL/h"), "{s}");
    assert!(s.contains("PUMP 450 mL/h"), "{s}");
    assert!(s.contains("[WARNING] DOSE-24H-40G"), "{s}");
}

#[test]
fn protocols_lists_and_shows() {
    let s = stdout_of(&["protocols"], 0);
    for id in ["zuspan", "pritchard", "mash-2", "temkin-tbi", "myers-push"] {
        assert!(s.contains(id), "{id}");
    }
    let s = stdout_of(&["protocols", "zuspan"], 0);
    assert!(s.contains("Target:") && s.contains("1.25-2.5") && s.contains("Citation:"));
    let s = stdout_of(&["protocols", "--format", "json"], 0);
    let v: serde_json::Value = serde_json::from_str(&s).unwrap();
    assert_eq!(v.as_array().unwrap().len(), 18);
}
