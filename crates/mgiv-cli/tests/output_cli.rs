//! What the user sees (issue 16): errors printed once and before any work, the asked unit
//! everywhere, numbers rounded for reading, the salt named, tables that fit 100 columns,
//! `--quiet`, and the version on machine-readable output. Golden text where the words matter.

mod common;
use common::{json, mgiv};

fn run(args: &[&str]) -> (i32, String, String) {
    let out = mgiv().args(args).env("NO_COLOR", "1").output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

#[test]
fn a_regimen_parse_error_is_printed_once() {
    let (code, stdout, stderr) =
        run(&["simulate", "--regimen", "4 q over 20 min", "--weight", "70"]);
    assert_eq!(code, 2);
    assert_eq!(stdout, "");
    assert_eq!(
        stderr,
        "error: invalid regimen: expected an amount unit after 4 at 'q' (character 3)\n  4 q over 20 min\n    ^\naccepted here: g, mg, mmol, mEq, mg-elemental, mg/kg, mmol/kg\n"
    );
}

#[test]
fn at_is_capped_like_hours() {
    let (code, stdout, stderr) = run(&[
        "simulate",
        "--regimen",
        "4 g over 20 min",
        "--weight",
        "70",
        "--at",
        "1e308",
    ]);
    assert_eq!(code, 2);
    assert_eq!(stdout, "");
    assert_eq!(
        stderr,
        "error: invalid --at time '1e308' (allowed: hours from 0 to 2160 (90 days), as for --hours)\n"
    );
}

#[test]
fn output_files_in_missing_folders_are_refused_before_any_work() {
    let (code, stdout, stderr) = run(&["validate", "--write", "/no/such/dir/VALIDATION.md"]);
    assert_eq!(code, 2);
    assert_eq!(stdout, "");
    assert_eq!(
        stderr,
        "error: invalid --write '/no/such/dir/VALIDATION.md': the folder '/no/such/dir' does not exist\n"
    );
    let (code, stdout, stderr) = run(&[
        "plan",
        "--protocol",
        "zuspan",
        "--weight",
        "70",
        "--pre-eclampsia",
        "--out",
        "/no/such/dir/plan.html",
        "--format",
        "html",
    ]);
    assert_eq!(code, 2);
    assert_eq!(stdout, "");
    assert_eq!(
        stderr,
        "error: invalid --out '/no/such/dir/plan.html': the folder '/no/such/dir' does not exist\n"
    );
    let (code, _, stderr) = run(&[
        "trial",
        "--regimen",
        "zuspan",
        "--n",
        "10",
        "--seed",
        "1",
        "--format",
        "csv",
        "--out",
        "/no/such/dir/t.csv",
    ]);
    assert_eq!(code, 2);
    assert!(
        stderr.starts_with("error: invalid --out '/no/such/dir/t.csv'"),
        "{stderr}"
    );
}

#[test]
fn warnings_follow_the_asked_unit() {
    let (code, stdout, _) = run(&[
        "simulate",
        "--regimen",
        "4 g over 20 min",
        "--weight",
        "70",
        "--hours",
        "2",
        "--units",
        "mg/dL",
    ]);
    assert_eq!(code, 0);
    let warnings = stdout.split("Warnings:").nth(1).unwrap();
    assert!(
        warnings.contains("2.07 mg/dL (0.85 mmol/L)"),
        "the baseline warning in mg/dL first: {warnings}"
    );
    assert!(stdout.contains("mg/dL at"), "{stdout}");
    // the CSV comments too, and JSON keeps the library text and adds the converted one
    let (_, csv, _) = run(&[
        "simulate",
        "--regimen",
        "4 g over 20 min",
        "--weight",
        "70",
        "--hours",
        "2",
        "--units",
        "mg/dL",
        "--format",
        "csv",
    ]);
    assert!(csv.contains("# warning: ") && csv.contains("2.07 mg/dL (0.85 mmol/L)"));
    let v = json(&[
        "simulate",
        "--regimen",
        "4 g over 20 min",
        "--weight",
        "70",
        "--hours",
        "2",
        "--units",
        "mg/dL",
        "--format",
        "json",
    ]);
    assert!(v["peak"]["serum_mg_mg_dl"].as_f64().unwrap() > 4.0);
    assert!(v["warnings_in_units"][1]["message"]
        .as_str()
        .unwrap()
        .contains("mg/dL (0.85 mmol/L)"));
    assert_eq!(v["mgiv_version"], env!("CARGO_PKG_VERSION"));
}

#[test]
fn a_target_in_mg_dl_is_echoed_rounded() {
    let (_, stdout, _) = run(&[
        "plan",
        "--protocol",
        "zuspan",
        "--weight",
        "70",
        "--pre-eclampsia",
        "--creatinine",
        "0.8",
        "--target",
        "4.8-8.4 mg/dL",
    ]);
    assert!(
        stdout.contains("Target:     1.97-3.46 mmol/L (given with --target)"),
        "{stdout}"
    );
    assert!(!stdout.contains("1.9749"), "{stdout}");
}

#[test]
fn a_tiny_amount_keeps_its_digits() {
    let (_, stdout, _) = run(&[
        "simulate",
        "--regimen",
        "0.000001 g over 20 min",
        "--weight",
        "70",
        "--hours",
        "1",
    ]);
    assert!(
        stdout.starts_with("Regimen: 0.000001 g MgSO4·7H2O IV over 20 min\n"),
        "{stdout}"
    );
}

#[test]
fn another_salt_is_shown_as_its_sulfate_equivalent() {
    let (_, stdout, _) = run(&[
        "plan",
        "--protocol",
        "myers-push",
        "--weight",
        "70",
        "--age",
        "40",
        "--sex",
        "f",
        "--creatinine",
        "0.8",
    ]);
    assert!(stdout.contains("(amounts in g below are the MgSO4·7H2O equivalent of the magnesium ordered; the order as written is on each phase line)"), "{stdout}");
    assert!(
        stdout.contains("       dose 1.212 g MgSO4·7H2O-equivalent = 4.9 mmol = 9.8 mEq IV\n"),
        "{stdout}"
    );
}

#[test]
fn the_protocol_table_fits_100_columns_without_cutting_words() {
    let (code, stdout, _) = run(&["protocols"]);
    assert_eq!(code, 0);
    for line in stdout.lines() {
        assert!(line.chars().count() <= 100, "too wide: {line}");
    }
    let head: Vec<&str> = stdout.lines().take(5).collect();
    assert_eq!(
        head,
        vec![
            "ID              INDICATION                            TARGET mmol/L  REGIMEN (g = g MgSO4·7H2O)",
            "zuspan          Seizure prophylaxis in severe         1.25-2.5       4 g over 20 min, then 1 g/h for",
            "                pre-eclampsia; treatment and                         24 h",
            "                prevention of recurrence of",
            "                eclampsia",
        ]
    );
}

#[test]
fn the_indication_table_fits_100_columns() {
    let (code, stdout, _) = run(&["indications"]);
    assert_eq!(code, 0);
    for line in stdout.lines() {
        assert!(line.chars().count() <= 100, "too wide: {line}");
    }
    assert!(stdout.contains("zuspan, pritchard,"), "{stdout}");
}

#[test]
fn quiet_keeps_stderr_empty_and_no_color_keeps_text_plain() {
    let dir = std::env::temp_dir().join(format!("mgiv-quiet-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let plot = dir.join("q.svg");
    let (code, _, stderr) = run(&[
        "simulate",
        "--quiet",
        "--regimen",
        "4 g over 20 min",
        "--weight",
        "70",
        "--hours",
        "2",
        "--plot",
        plot.to_str().unwrap(),
    ]);
    assert_eq!(code, 0);
    assert_eq!(stderr, "");
    assert!(plot.exists());
    let (_, stdout, _) = run(&[
        "plan",
        "--protocol",
        "zuspan",
        "--weight",
        "70",
        "--pre-eclampsia",
    ]);
    assert!(
        !stdout.contains('\x1b'),
        "no escape codes when not a terminal"
    );
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn machine_readable_outputs_carry_version_model_and_units() {
    let plan = json(&[
        "plan",
        "--protocol",
        "zuspan",
        "--weight",
        "70",
        "--pre-eclampsia",
        "--format",
        "json",
    ]);
    assert_eq!(plan["mgiv_version"], env!("CARGO_PKG_VERSION"));
    assert!(plan["units"]["concentration"]
        .as_str()
        .unwrap()
        .starts_with("mmol/L"));
    assert!(plan["regimen"].is_string() && plan["alerts"].is_array());
    let (_, csv, _) = run(&[
        "trial",
        "--regimen",
        "zuspan",
        "--n",
        "20",
        "--seed",
        "1",
        "--threads",
        "1",
        "--format",
        "csv",
    ]);
    let first: Vec<&str> = csv.lines().take(4).collect();
    assert!(first[0].starts_with(&format!("# mgiv {} trial", env!("CARGO_PKG_VERSION"))));
    assert!(first[1].starts_with("# model: du-2019"));
    assert!(csv.lines().any(|l| l.starts_with("# warning: ")));
}

#[test]
fn one_seed_of_the_decision_network_is_put_beside_its_spread() {
    let (code, stdout, _) = run(&[
        "neuro",
        "decision",
        "--mg",
        "1.0",
        "--seed",
        "1",
        "--seconds",
        "0.05",
    ]);
    assert_eq!(code, 0);
    assert!(stdout.ends_with(
        "Brian2 reference at 1.0 mM, 4 s: E 4.64-4.92 Hz, I 10.69-11.07 Hz, population 1 wins (brain.md §8.2).\n\
One seed is one sample: at 1.0 mM single seeds give E 4.27-5.41 Hz and I 10.50-11.38 Hz (mgiv seeds 1-10, 4 s; seed 1: E 5.00 Hz), \
a spread that covers the Brian2 band; the 10-seed mean (E 4.89, I 10.99 Hz) lies inside it. Compare means over seeds (--seeds N), \
not one run (docs/NEURO.md).\n"
    ), "{stdout}");
}

/// The protocol defaults of `mgiv neuro` are the published standard protocols
/// (data/neuro/stimulation-protocols.toml) and the run length of Brian2's Wang_2002.py
/// (data/neuro/wang-2002.toml [simulation] runtime_ms), shown in `--help`.
#[test]
fn neuro_defaults_are_the_standard_protocols() {
    let (code, help, _) = run(&["neuro", "plasticity", "--help"]);
    assert_eq!(code, 0);
    let line = |flag: &str| {
        help.lines()
            .find(|l| l.trim_start().starts_with(flag))
            .unwrap_or_else(|| panic!("{flag} in {help}"))
            .to_string()
    };
    assert!(line("--dt-ms").ends_with("[default: 10]"));
    assert!(line("--pairs").ends_with("[default: 60]"));
    assert!(line("--hz")
        .ends_with("Pairing frequency (default 1 Hz) or tetanus frequency (default 100 Hz)"));
    assert!(line("--pulses").ends_with("[default: 100]"));
    assert!(line("--bursts").ends_with("[default: 10]"));
    assert!(line("--spikes-per-burst").ends_with("(at 100 Hz) [default: 4]"));
    assert!(line("--burst-hz").ends_with("[default: 5]"));
    for (protocol, name) in [
        ("pairing", "pairing dt=10 ms, 60 pairs at 1 Hz"),
        ("tetanus", "tetanus 100 pulses at 100 Hz"),
        (
            "theta-burst",
            "theta burst 10 x 4 at 100 Hz, bursts at 5 Hz",
        ),
    ] {
        let v = json(&[
            "neuro",
            "plasticity",
            "--protocol",
            protocol,
            "--format",
            "json",
        ]);
        assert_eq!(v["protocol"], name);
    }
    for sub in ["decision", "sweep"] {
        let (code, help, _) = run(&["neuro", sub, "--help"]);
        assert_eq!(code, 0);
        let seconds = help
            .lines()
            .find(|l| l.trim_start().starts_with("--seconds"));
        assert!(seconds.unwrap().ends_with("[default: 4]"), "{help}");
    }
}

/// A plasticity sweep driven by a regimen has the regimen's hours on its x axis, and says so
/// (it was labelled `mg_mm`, so the hours read as Mg concentrations).
#[test]
fn regimen_sweep_labels_its_x_axis_in_hours() {
    let v = json(&[
        "neuro",
        "sweep",
        "plasticity",
        "--regimen",
        "4 g over 20 min",
        "--at-h",
        "0,1,6",
        "--format",
        "json",
    ]);
    assert_eq!(v["x_name"], "t_h", "{v}");
    let xs: Vec<f64> = v["curves"][0]["x"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect();
    assert_eq!(xs, vec![0.0, 1.0, 6.0]);
    // without a regimen the axis is Mg
    let v = json(&[
        "neuro",
        "sweep",
        "plasticity",
        "--mg",
        "0.8:1.2:0.2",
        "--format",
        "json",
    ]);
    assert_eq!(v["x_name"], "mg_mm");
}
