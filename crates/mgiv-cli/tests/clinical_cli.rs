//! The clinical context through the CLI (issue 9): every command prints the same indication,
//! population and target for the same patient; dangerous orders and levels exit 3; bad input and
//! resource limits exit 2 before any work.

mod common;
use common::*;

fn run(args: &[&str]) -> (i32, String, String) {
    let out = mgiv().args(args).output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

const PE: [&str; 6] = [
    "--weight",
    "70",
    "--creatinine",
    "0.8",
    "--pre-eclampsia",
    "--age=30",
];

#[test]
fn plan_trial_and_adjust_agree_on_target_and_population() {
    let mut p = vec!["plan", "--protocol", "zuspan", "--format", "json"];
    p.extend(PE);
    let plan = json(&p);
    assert_eq!(plan["context"]["indication"]["id"], "pre-eclampsia");
    assert_eq!(plan["context"]["population"]["id"], "pre-eclampsia");
    assert_eq!(plan["context"]["target_mmol_l"]["lo"], 1.25);
    assert_eq!(plan["context"]["target_mmol_l"]["hi"], 2.5);
    let mut a = vec![
        "adjust",
        "--protocol",
        "zuspan",
        "--regimen",
        "4 g over 20 min, then 1 g/h",
        "--levels",
        "1.6 mmol/L at 6 h",
        "--format",
        "json",
    ];
    a.extend(PE);
    let adj = json(&a);
    for k in ["indication", "population"] {
        assert_eq!(adj["context"][k]["id"], plan["context"][k]["id"], "{k}");
    }
    assert_eq!(
        adj["context"]["target_mmol_l"],
        plan["context"]["target_mmol_l"]
    );
    let trial = json(&[
        "trial",
        "--regimen",
        "zuspan",
        "--n",
        "200",
        "--seed",
        "1",
        "--format",
        "json",
    ]);
    assert_eq!(trial["population"]["id"], "pre-eclampsia");
    assert_eq!(trial["target_mmol_l"][0], 1.25);
    assert_eq!(trial["target_mmol_l"][1], 2.5);
}

#[test]
fn trial_takes_population_and_horizon_from_the_indication_not_from_words() {
    // an adult model is never simulated in pregnant women
    let (code, out, err) = run(&[
        "trial",
        "--model",
        "mgiv-adult-2026",
        "--regimen",
        "2 g over 20 min",
        "--n",
        "100",
        "--seed",
        "1",
        "--format",
        "json",
    ]);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["population"]["id"], "adult");
    assert!(err.contains("CTX-INDICATION-ASSUMED"), "{err}");
    // MASH-2 is an SAH regimen of 14 days: SAH target, adult population, the whole course
    let v = json(&[
        "trial",
        "--regimen",
        "mash-2",
        "--n",
        "100",
        "--seed",
        "1",
        "--format",
        "json",
    ]);
    assert_eq!(v["population"]["id"], "adult");
    assert_eq!(v["target_mmol_l"][0], 1.0);
    let last = v["regimens"][0]["points"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()["time_h"]
        .as_f64()
        .unwrap();
    assert!(last >= 14.0 * 24.0, "horizon {last} h");
}

#[test]
fn dangerous_orders_stop() {
    let mut a = vec![
        "plan",
        "--regimen",
        "4 g over 20 min, then 4 g over 20 min, then 4 g over 20 min, then 1 g/h for 24 h",
    ];
    a.extend(&PE[..5]);
    let (code, out, _) = run(&a);
    assert_eq!(code, 3);
    assert!(
        out.contains("LOAD-EXCESS") && out.contains("Likely intended order"),
        "{out}"
    );
    let (code, out, _) = run(&[
        "plan",
        "--protocol",
        "zuspan",
        "--weight",
        "70",
        "--pregnant",
        "--pre-eclampsia",
        "--creatinine",
        "3.5",
    ]);
    assert_eq!(code, 3);
    assert!(
        out.contains("RENAL-48H-20G") && out.contains("CHECK-RENAL-PARTIAL"),
        "{out}"
    );
    // heart block: a STOP, unless paced, or the indication is the arrhythmia itself
    let base = [
        "--weight",
        "70",
        "--age",
        "60",
        "--sex",
        "m",
        "--creatinine",
        "1",
    ];
    let mut hb = vec![
        "plan",
        "--protocol",
        "migraine-1g",
        "--conditions",
        "heart-block",
    ];
    hb.extend(base);
    assert_eq!(run(&hb).0, 3);
    let mut paced = vec![
        "plan",
        "--protocol",
        "migraine-1g",
        "--conditions",
        "heart-block,pacemaker",
    ];
    paced.extend(base);
    assert_eq!(run(&paced).0, 0);
    let mut arrest = vec![
        "plan",
        "--protocol",
        "cardiac-arrest",
        "--conditions",
        "heart-block",
    ];
    arrest.extend(base);
    let (code, out, _) = run(&arrest);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("CTX-RULE-ADJUSTED"));
}

#[test]
fn a_toxic_measured_level_holds_and_never_continues() {
    let mut a = vec![
        "adjust",
        "--regimen",
        "4 g over 20 min, then 1 g/h",
        "--levels",
        "4.5 mmol/L at 6 h",
    ];
    a.extend(&PE[..5]);
    let (code, out, _) = run(&a);
    assert_eq!(code, 3);
    assert!(
        out.starts_with("=== STOP ===") && out.contains("HOLD"),
        "{out}"
    );
    assert!(!out.contains("RECOMMENDED"), "{out}");
    a.extend(["--format", "json"]);
    let (code, out, _) = run(&a);
    assert_eq!(code, 3);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["recommendation"]["action"], "hold");
    assert_eq!(v["stop"], true);
}

#[test]
fn limits_and_bad_input_are_refused_before_any_work() {
    for (args, needle) in [
        (
            vec![
                "trial",
                "--regimen",
                "zuspan",
                "--n",
                "100000000",
                "--seed",
                "1",
            ],
            "--n",
        ),
        (
            vec![
                "trial",
                "--regimen",
                "zuspan",
                "--n",
                "10",
                "--seed",
                "1",
                "--threads",
                "100000",
            ],
            "--threads",
        ),
        (
            vec![
                "trial",
                "--regimen",
                "zuspan",
                "--n",
                "10",
                "--seed",
                "1",
                "--plot",
                "/nonexistent-dir/x.png",
            ],
            "does not exist",
        ),
        (
            vec![
                "trial",
                "--regimen",
                "zuspan",
                "--n",
                "10",
                "--seed",
                "1",
                "--plot",
                "x.gif",
            ],
            ".svg or .png",
        ),
        (
            vec![
                "neuro",
                "decision",
                "--mg",
                "1",
                "--seconds",
                "3600",
                "--seed",
                "1",
            ],
            "--seconds",
        ),
        (
            vec![
                "simulate",
                "--regimen",
                "2 g over 20 min",
                "--weight",
                "70",
                "--baseline",
                "0.8",
            ],
            "no unit",
        ),
    ] {
        let (code, _, err) = run(&args);
        assert_eq!(code, 2, "{args:?}: {err}");
        assert!(err.contains(needle), "{args:?}: {err}");
    }
    // a model file with an absurd clearance is an error naming the parameter
    let dir = std::env::temp_dir().join(format!("mgiv-clin-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let f = dir.join("m.toml");
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../data/models/du-2019.toml"
    ))
    .unwrap()
    .replace("cl_l_h = 3.72", "cl_l_h = 1e300");
    std::fs::write(&f, text).unwrap();
    let (code, _, err) = run(&[
        "simulate",
        "--regimen",
        "4 g over 20 min",
        "--weight",
        "70",
        "--model-file",
        f.to_str().unwrap(),
    ]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("cl_l_h") || err.contains("CL"), "{err}");
}

#[test]
fn brain_and_simulate_print_the_context() {
    let v = json(&[
        "brain",
        "--regimen",
        "4 g over 20 min, then 1 g/h for 24 h",
        "--weight",
        "70",
        "--creatinine",
        "0.8",
        "--pre-eclampsia",
        "--format",
        "json",
        "--samples",
        "0",
    ]);
    assert_eq!(v["context"]["indication"]["id"], "pre-eclampsia");
    let v = json(&[
        "simulate",
        "--regimen",
        "64 mmol/day for 2 days",
        "--weight",
        "70",
        "--indication",
        "sah",
        "--format",
        "json",
    ]);
    assert_eq!(v["model"]["id"], "mgiv-adult-2026");
    assert!(v["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .any(|w| w["code"] == "CTX-INDICATION"
            && w["message"].as_str().unwrap().contains("indication sah")
            && w["source"] == "data/indications/sah.toml"));
    let (code, out, _) = run(&["indications"]);
    assert_eq!(code, 0);
    for id in ["pre-eclampsia", "sah", "wellness", "hypomag-icu"] {
        assert!(out.contains(id), "{id}");
    }
}
