//! `mgiv brain`: the documented run (table, JSON, plot), `block`, `fit-csf` and bad input.
mod common;
use common::mgiv;

const ZUSPAN: &str = "4 g over 20 min, then 1 g/h for 24 h";

#[test]
fn json_has_points_with_intervals_and_graded_effects() {
    let out = mgiv()
        .args([
            "brain",
            "--regimen",
            ZUSPAN,
            "--weight",
            "70",
            "--at",
            "0,1,6,24,30",
        ])
        .args([
            "--samples",
            "60",
            "--voltage",
            "-65,-40",
            "--format",
            "json",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let pts = v["points"].as_array().unwrap();
    assert_eq!(pts.len(), 5);
    for p in pts {
        for k in [
            "time_h",
            "serum_mg_mmol_l",
            "csf_total_mg_mmol_l",
            "csf_total_mg_mmol_l_lo",
            "csf_total_mg_mmol_l_hi",
            "csf_ionised_mg_mmol_l",
            "csf_ionised_mg_mmol_l_lo",
            "csf_ionised_mg_mmol_l_hi",
            "nmda_relative_conductance",
        ] {
            assert!(p[k].is_number(), "{k} missing in {p}");
        }
        for e in p["effects"].as_array().unwrap() {
            for k in ["name", "unit", "evidence", "source"] {
                assert!(e[k].is_string(), "{k} in {e}");
            }
            assert!(e.get("value").is_some());
        }
    }
    // CSF rises only modestly (McKee: 10-19 % with serum doubled) and lags serum
    let base = pts[0]["csf_total_mg_mmol_l"].as_f64().unwrap();
    let at24 = pts[3]["csf_total_mg_mmol_l"].as_f64().unwrap();
    assert!(at24 / base > 1.03 && at24 / base < 1.25, "{}", at24 / base);
    assert!(pts[3]["nmda_relative_conductance"].as_f64().unwrap() < 1.0);
    assert!(v["plain_language"]
        .as_str()
        .unwrap()
        .contains("not medical advice"));
    assert!(v["claims"].as_array().unwrap().len() >= 4);
}

#[test]
fn table_and_plot() {
    let dir = std::env::temp_dir().join(format!("mgiv-brain-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let png = dir.join("brain.svg");
    let out = mgiv()
        .args([
            "brain",
            "--regimen",
            ZUSPAN,
            "--weight",
            "70",
            "--hours",
            "30",
            "--samples",
            "40",
        ])
        .arg("--plot")
        .arg(&png)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let s = String::from_utf8_lossy(&out.stdout);
    assert!(s.contains("CSF total") && s.contains("In plain language"));
    assert!(s.contains("[D] claim examined: 'more cerebral blood flow'"));
    assert!(std::fs::metadata(&png).unwrap().len() > 10_000);
}

#[test]
fn block_subcommand() {
    let out = mgiv()
        .args(["brain", "block", "--mg", "1", "--voltage", "-60"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let s = String::from_utf8_lossy(&out.stdout);
    assert!(s.contains("0.0796"), "{s}");
    assert!(s.contains("-20.53"), "{s}");
    let out = mgiv()
        .args([
            "brain",
            "block",
            "--mg",
            "1",
            "--voltage",
            "-60",
            "--block",
            "vcr2003",
        ])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains("0.0328"));
}

#[test]
fn fit_csf_matches_shipped() {
    let out = mgiv().args(["brain", "fit-csf"]).output().unwrap();
    assert!(out.status.success());
    let s = String::from_utf8_lossy(&out.stdout);
    assert!(s.contains("equals this fit"), "{s}");
}

#[test]
fn bad_input_names_the_field() {
    let cases: [(&[&str], &str); 5] = [
        (&["brain", "block", "--mg", "-1", "--voltage", "-60"], "mg"),
        (
            &["brain", "block", "--mg", "1", "--voltage", "abc"],
            "voltage",
        ),
        (
            &[
                "brain",
                "--regimen",
                ZUSPAN,
                "--weight",
                "70",
                "--voltage",
                "-400",
            ],
            "voltage",
        ),
        (
            &[
                "brain",
                "--regimen",
                ZUSPAN,
                "--weight",
                "70",
                "--csf-model",
                "magic",
            ],
            "csf model",
        ),
        (&["brain", "--weight", "70"], "--regimen"),
    ];
    for (args, field) in cases {
        let out = mgiv().args(args).output().unwrap();
        assert!(!out.status.success(), "{args:?}");
        let e = String::from_utf8_lossy(&out.stderr);
        assert!(e.contains(field), "{args:?}: {e}");
    }
}
