//! `mgiv trial` and `mgiv adjust` from the command line.

mod common;
use common::{json, mgiv};

#[test]
fn trial_json_has_the_stable_keys_and_is_thread_independent() {
    let args = [
        "trial",
        "--regimen",
        "zuspan",
        "--regimen",
        "6 g over 20 min, then 2 g/h for 24 h",
        "--n",
        "3000",
        "--seed",
        "3",
        "--hours",
        "24",
        "--format",
        "json",
    ];
    let mut a1 = args.to_vec();
    a1.extend(["--threads", "1"]);
    let mut a2 = args.to_vec();
    a2.extend(["--threads", "2"]);
    let v1 = json(&a1);
    let v2 = json(&a2);
    assert_eq!(v1["regimens"], v2["regimens"]);
    let regs = v1["regimens"].as_array().unwrap();
    assert_eq!(regs.len(), 2);
    for r in regs {
        let pts = r["points"].as_array().unwrap();
        assert_eq!(pts.len(), 25);
        for key in [
            "time_h",
            "p05",
            "p25",
            "p50",
            "p75",
            "p95",
            "p_in_target",
            "p_above_2_0",
            "p_above_3_5",
            "p_above_5_0",
        ] {
            assert!(pts[6][key].is_number(), "{key} missing");
        }
        for k in ["2.0", "3.5", "5.0"] {
            let p = r["p_cmax_above"][k].as_f64().unwrap();
            assert!((0.0..=1.0).contains(&p));
        }
    }
    // 6 g + 2 g/h reaches higher levels than Zuspan
    assert!(
        regs[1]["points"][12]["p50"].as_f64().unwrap()
            > regs[0]["points"][12]["p50"].as_f64().unwrap() + 0.5
    );
    assert_eq!(v1["population"]["id"], "pre-eclampsia");
    assert_eq!(v1["model"]["id"], "du-2019");
}

#[test]
fn trial_table_csv_and_plot() {
    let dir = std::env::temp_dir().join(format!("mgiv-pop-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let plot = dir.join("trial.svg");
    let out = mgiv()
        .args([
            "trial",
            "--regimen",
            "mash-2",
            "--population",
            "adult",
            "--n",
            "2000",
            "--seed",
            "1",
            "--at",
            "1,6,24",
        ])
        .arg("--plot")
        .arg(&plot)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("mgiv-adult-2026") && text.contains("64 mmol/day"),
        "{text}"
    );
    assert!(std::fs::metadata(&plot).unwrap().len() > 1000);
    let csv = dir.join("t.csv");
    let out = mgiv()
        .args([
            "trial",
            "--regimen",
            "zuspan",
            "--n",
            "500",
            "--seed",
            "1",
            "--at",
            "1,6",
            "--format",
            "csv",
            "--out",
        ])
        .arg(&csv)
        .output()
        .unwrap();
    assert!(out.status.success());
    let body = std::fs::read_to_string(&csv).unwrap();
    assert!(body.starts_with("# mgiv "), "{body}");
    assert!(body.contains("# warning: Indication: "), "{body}");
    let data: Vec<&str> = body.lines().filter(|l| !l.starts_with('#')).collect();
    assert!(data[0].starts_with("regimen,time_h,p05_mmol_l"));
    assert_eq!(data.len(), 3);
}

#[test]
fn trial_bad_input_is_explained() {
    for (args, needle) in [
        (vec!["--target", "3.5-2.0"], "target"),
        (vec!["--population", "mars"], "population"),
        (vec!["--model", "mgiv-adult-tm-2026"], "linear"),
        (vec!["--format", "parquet"], "csv"),
        (vec!["--n", "0"], "n"),
    ] {
        let mut a = vec!["trial", "--regimen", "zuspan", "--n", "100", "--seed", "1"];
        a.extend(args);
        let out = mgiv().args(&a).output().unwrap();
        assert!(!out.status.success());
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(needle), "{a:?}: {err}");
    }
}

#[test]
fn adjust_recommends_a_rate_with_a_justification() {
    let base = [
        "adjust",
        "--regimen",
        "4 g over 20 min, then 1 g/h",
        "--levels",
        "1.4 mmol/L at 6 h; 1.9 mmol/L at 12 h",
        "--weight",
        "70",
        "--creatinine",
        "0.8",
        "--pre-eclampsia",
        // the classic 2.0-3.5 target (the indication's default is the USPI 1.25-2.5)
        "--target",
        "2.0-3.5",
    ];
    let out = mgiv().args(base).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("RECOMMENDED") && text.contains("In words") && text.contains("baseline"),
        "{text}"
    );
    let mut a = base.to_vec();
    a.extend(["--format", "json"]);
    let v = json(&a);
    let r = &v["fit"]["decision"]["recommended"];
    assert!(r["rate_g_per_h"].as_f64().unwrap() > 1.0);
    assert!(r["p_above_toxic"].as_f64().unwrap() <= 0.05);
    assert!(v["fit"]["importance_sampling_ess"].as_f64().unwrap() > 100.0);
    // the recommendation is the checked order, and "continue as given" reports the 1 g/h running
    assert_eq!(v["recommendation"]["action"], "order");
    assert_eq!(v["recommendation"]["rate_g_per_h"], r["rate_g_per_h"]);
    let cont = v["fit"]["decision"]["continue_as_given"]["rate_g_per_h"]
        .as_f64()
        .unwrap();
    assert!((cont - 1.0).abs() < 1e-9, "continue as given at {cont} g/h");
    assert_eq!(v["context"]["indication"]["id"], "pre-eclampsia");
    assert_eq!(v["context"]["target_mmol_l"]["lo"], 2.0);
    assert_eq!(v["context"]["target_mmol_l"]["why"], "given with --target");
    // the same levels in mg/dL give the same answer
    let mut b = base.to_vec();
    b[4] = "3.4027 mg/dL at 6 h; 4.61795 mg/dL at 12 h";
    b.extend(["--format", "json"]);
    let w = json(&b);
    assert_eq!(
        w["fit"]["decision"]["recommended"]["rate_g_per_h"],
        r["rate_g_per_h"]
    );
}

#[test]
fn adjust_bad_levels_are_explained() {
    let out = mgiv()
        .args([
            "adjust",
            "--regimen",
            "4 g over 20 min, then 1 g/h",
            "--levels",
            "1.4 mmol/L at noon",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("level time") && err.contains("noon"), "{err}");
    // a level without a unit is not read as mmol/L
    let out = mgiv()
        .args([
            "adjust",
            "--regimen",
            "4 g over 20 min, then 1 g/h",
            "--levels",
            "1.4 at 6 h",
            "--weight",
            "70",
            "--pre-eclampsia",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no unit") && err.contains("mg/dL"), "{err}");
}
