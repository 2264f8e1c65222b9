//! `mgiv fit` from the command line (a small data set and a bounded outer step, to stay fast).

mod common;
use common::mgiv;

fn repo(p: &str) -> String {
    format!("{}/../../{p}", env!("CARGO_MANIFEST_DIR"))
}

/// The subjects with ID ≤ `max_id` of the README's example dataset, written to `small.csv` in a
/// fresh temporary folder named after `tag`; returns (folder, file).
fn example_subset(max_id: u32, tag: &str) -> (std::path::PathBuf, std::path::PathBuf) {
    let full = std::fs::read_to_string(repo("data/examples/fit/mg-sim-50.csv")).unwrap();
    let small: String = full
        .lines()
        .filter(|l| {
            l.starts_with('#')
                || l.starts_with("ID")
                || l.split(',')
                    .next()
                    .and_then(|v| v.parse::<u32>().ok())
                    .is_some_and(|id| id <= max_id)
        })
        .map(|l| format!("{l}\n"))
        .collect();
    let dir = std::env::temp_dir().join(format!("{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let f = dir.join("small.csv");
    std::fs::write(&f, small).unwrap();
    (dir, f)
}

#[test]
fn fit_json_has_the_issue_keys_and_does_not_depend_on_threads() {
    // the first 10 subjects of the README example
    let (dir, f) = example_subset(10, "mgiv-fit-cli");
    let run = |threads: &str| {
        let out = mgiv()
            .args([
                "fit",
                "--data",
                f.to_str().unwrap(),
                "--model",
                &repo("data/examples/fit/mg-2cmt-baseline.toml"),
                "--method",
                "focei",
                "--json",
                "--no-covariance",
                "--max-iterations",
                "150",
                "--threads",
                threads,
            ])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(String::from_utf8_lossy(&out.stderr).contains("OFV"));
        serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap()
    };
    let v = run("1");
    for key in [
        "ofv",
        "method",
        "converged",
        "theta",
        "omega",
        "sigma",
        "rse_percent",
        "individuals",
    ] {
        assert!(v.get(key).is_some(), "no {key} in {v}");
    }
    assert_eq!(v["method"], "focei");
    assert!(v["ofv"].as_f64().unwrap().is_finite());
    assert_eq!(v["individuals"].as_array().unwrap().len(), 10);
    assert!(v["individuals"][0]["eta"]["cl_l_h"].is_f64());
    let cl = v["theta"]["cl_l_h"].as_f64().unwrap();
    assert!(cl > 1.0 && cl < 10.0, "{cl}");
    assert_eq!(v["model"]["id"], "mg-2cmt-baseline");
    let v2 = run("2");
    assert_eq!(v["ofv"], v2["ofv"]);
    assert_eq!(v["theta"], v2["theta"]);
    // the fitted model as a model file that `mgiv simulate --model-file` runs
    let model_file = dir.join("fitted.toml");
    let out = mgiv()
        .args([
            "fit",
            "--data",
            f.to_str().unwrap(),
            "--model",
            &repo("data/examples/fit/mg-2cmt-baseline.toml"),
            "--no-covariance",
            "--max-iterations",
            "150",
            "--write-model",
            model_file.to_str().unwrap(),
            "--population",
            "pre-eclampsia",
            "--sdtab",
            dir.join("sdtab.csv").to_str().unwrap(),
            "--npde-replicates",
            "100",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let sd = std::fs::read_to_string(dir.join("sdtab.csv")).unwrap();
    assert!(sd.starts_with(
        "ID,ROW,TIME_H,DV_MMOL_L,PRED_MMOL_L,IPRED_MMOL_L,RES_MMOL_L,IWRES,CWRES,NPDE"
    ));
    assert_eq!(
        sd.lines().count(),
        1 + v["n_observations"].as_u64().unwrap() as usize
    );
    let text = std::fs::read_to_string(&model_file).unwrap();
    assert!(
        text.contains("mg-2cmt-baseline-fit") && text.contains("FOCE-I"),
        "{text}"
    );
    let sim = mgiv()
        .args([
            "simulate",
            "--model-file",
            model_file.to_str().unwrap(),
            "--regimen",
            "4 g over 20 min, then 1 g/h for 24 h",
            "--weight",
            "75",
            "--pregnant",
            "--pre-eclampsia",
            "--format",
            "json",
        ])
        .output()
        .unwrap();
    assert!(
        sim.status.success(),
        "{}",
        String::from_utf8_lossy(&sim.stderr)
    );
    let sv: serde_json::Value = serde_json::from_slice(&sim.stdout).unwrap();
    assert_eq!(sv["model"]["id"], "mg-2cmt-baseline-fit");
    // the written typical CL is the fitted θ (at the reference weight 75 kg)
    let cl_sim = sv["parameters"]["cl_l_h"].as_f64().unwrap();
    assert!((cl_sim - cl).abs() < 1e-9 * cl, "{cl_sim} vs {cl}");
    // SAEM (a short run: the wiring; its estimation is tested in mgiv-fit/tests/saem.rs), the
    // same on 1 and 2 threads
    let saem = |threads: &str| {
        let out = mgiv()
            .args([
                "fit",
                "--data",
                f.to_str().unwrap(),
                "--model",
                &repo("data/examples/fit/mg-2cmt-baseline.toml"),
                "--method",
                "saem",
                "--saem-burn-in",
                "30",
                "--saem-iterations",
                "10",
                "--seed",
                "3",
                "--no-covariance",
                "--json",
                "--threads",
                threads,
            ])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(String::from_utf8_lossy(&out.stderr).contains("SAEM iteration 40/40"));
        serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap()
    };
    let s1 = saem("1");
    assert_eq!(s1["method"], "saem");
    assert!(s1["ofv"].as_f64().unwrap().is_finite());
    let s2 = saem("2");
    assert_eq!(s1["theta"], s2["theta"]);
    assert_eq!(s1["ofv"], s2["ofv"]);
    // an unknown method is refused with the allowed ones
    let out = mgiv()
        .args([
            "fit",
            "--data",
            f.to_str().unwrap(),
            "--model",
            "du-2019",
            "--method",
            "imp",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("allowed: focei, saem"));
}

#[test]
fn vpc_json_and_plot() {
    let dir = std::env::temp_dir().join(format!("mgiv-vpc-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let svg = dir.join("vpc.svg");
    let out = mgiv()
        .args([
            "vpc",
            "--data",
            &repo("data/examples/fit/mg-sim-50.csv"),
            "--model",
            &repo("data/examples/fit/mg-2cmt-baseline.toml"),
            "--replicates",
            "50",
            "--bins",
            "5",
            "--json",
            "--plot",
            svg.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let bins = v["bins"].as_array().unwrap();
    assert_eq!(bins.len(), 5);
    assert_eq!(
        bins.iter()
            .map(|b| b["n_obs"].as_u64().unwrap())
            .sum::<u64>(),
        297
    );
    let plot = std::fs::read_to_string(&svg).unwrap();
    assert!(plot.contains("Prediction-corrected VPC") && plot.contains("mg-2cmt-baseline"));
    // estimates with a missing name are refused, naming it
    let est = dir.join("est.json");
    std::fs::write(
        &est,
        r#"{"theta": {"cl_l_h": 4.0}, "omega": {}, "sigma": {}}"#,
    )
    .unwrap();
    let out = mgiv()
        .args([
            "vpc",
            "--data",
            &repo("data/examples/fit/mg-sim-50.csv"),
            "--model",
            &repo("data/examples/fit/mg-2cmt-baseline.toml"),
            "--estimates",
            est.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("omega") || err.contains("v1_l"), "{err}");
}

#[test]
fn export_nonmem_control_stream_and_sbml() {
    let out = mgiv()
        .args([
            "export",
            "--model",
            &repo("data/examples/fit/mg-2cmt-baseline.toml"),
            "--format",
            "nonmem",
            "--data-file",
            "mg-sim-50.csv",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let cs = String::from_utf8_lossy(&out.stdout);
    assert!(cs.contains("$ESTIMATION METHOD=1 INTERACTION") && cs.contains("$DATA mg-sim-50.csv"));
    // SBML: without a regimen, refused with what is needed
    let out = mgiv()
        .args(["export", "--model", "du-2019", "--format", "sbml"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("needs --regimen"));
    // with one: the individual's parameters and one event per later dose time (the loading
    // infusion's end and the maintenance start at 20 min merged; the maintenance end at 24h20)
    let out = mgiv()
        .args([
            "export",
            "--model",
            "du-2019",
            "--format",
            "sbml",
            "--regimen",
            "4 g over 20 min, then 1 g/h for 24 h",
            "--weight",
            "75",
            "--pregnant",
            "--pre-eclampsia",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let x = String::from_utf8_lossy(&out.stdout);
    assert!(x.contains("level3/version2/core"));
    assert_eq!(x.matches("<event ").count(), 2, "{x}");
    assert!(x.contains("<compartment id=\"peripheral\""));
    // the loading rate 4 g MgSO4·7H2O = 16.23 mmol over 1/3 h runs from time 0
    let rate0: f64 = x
        .split("id=\"infusion_rate_mmol_h\" value=\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .and_then(|v| v.parse().ok())
        .unwrap();
    assert!((rate0 - 3.0 * 4.0 / 0.24647).abs() < 0.01, "{rate0}");
    // the nonlinear renal-threshold model is refused
    let out = mgiv()
        .args([
            "export",
            "--model",
            "mgiv-adult-tm-2026",
            "--format",
            "sbml",
            "--regimen",
            "4 g over 20 min",
            "--weight",
            "75",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("nonlinear"));
}

/// `mgiv simulate --data` writes the sdtab of a model on a dataset; at a fit's estimates it is
/// the table `mgiv fit --sdtab` wrote (same EBEs, same NPDE seed); at the model's own values
/// (the truth that simulated the data) CWRES are centred with unit spread.
#[test]
fn simulate_data_writes_the_sdtab() {
    let (dir, f) = example_subset(12, "mgiv-simdata-cli");
    let model = repo("data/examples/fit/mg-2cmt-baseline.toml");
    let fit_sdtab = dir.join("fit-sdtab.csv");
    let out = mgiv()
        .args([
            "fit",
            "--data",
            f.to_str().unwrap(),
            "--model",
            &model,
            "--json",
            "--no-covariance",
            "--max-iterations",
            "150",
            "--sdtab",
            fit_sdtab.to_str().unwrap(),
            "--npde-replicates",
            "100",
            "--seed",
            "4",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let fit_json = dir.join("fit.json");
    std::fs::write(&fit_json, &out.stdout).unwrap();
    let sim = |extra: &[&str]| {
        let mut args = vec![
            "simulate",
            "--data",
            f.to_str().unwrap(),
            "--model-file",
            &model,
            "--npde-replicates",
            "100",
            "--seed",
            "4",
        ];
        args.extend_from_slice(extra);
        let out = mgiv().args(&args).output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    let gof_fit = dir.join("gof-fit.svg");
    let at_fit = sim(&[
        "--estimates",
        fit_json.to_str().unwrap(),
        "--gof",
        gof_fit.to_str().unwrap(),
    ]);
    // the GOF caption names the model file, the dataset and the method of the fit
    let svg = std::fs::read_to_string(&gof_fit).unwrap();
    assert!(svg.contains("FOCE-I estimates from") && svg.contains("fit.json"));
    assert!(svg.contains("mg-2cmt-baseline.toml") && svg.contains("small.csv"));
    let want = std::fs::read_to_string(&fit_sdtab).unwrap();
    let parse = |t: &str| -> Vec<Vec<f64>> {
        t.lines()
            .skip(1)
            .map(|l| l.split(',').skip(2).map(|v| v.parse().unwrap()).collect())
            .collect()
    };
    assert!(at_fit.starts_with("ID,ROW,TIME_H,DV_MMOL_L,PRED_MMOL_L,IPRED_MMOL_L"));
    let (a, b) = (parse(&at_fit), parse(&want));
    assert_eq!(a.len(), b.len());
    assert!(a.len() > 40);
    for (ra, rb) in a.iter().zip(&b) {
        for (x, y) in ra.iter().zip(rb) {
            assert!((x - y).abs() < 2e-5, "{ra:?} vs {rb:?}");
        }
    }
    // at the template's own values (the model that simulated the example data)
    let own = parse(&sim(&[]));
    let cw: Vec<f64> = own.iter().map(|r| r[6]).collect();
    let n = cw.len() as f64;
    let mean = cw.iter().sum::<f64>() / n;
    let sd = (cw.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt();
    assert!(
        mean.abs() < 0.3 && (sd - 1.0).abs() < 0.3,
        "CWRES mean {mean} sd {sd}"
    );
    // PRED differs from IPRED (random effects estimated), and the curve is not flat
    assert!(own.iter().any(|r| (r[2] - r[3]).abs() > 0.01));
    // without a model: refused with what is needed
    let out = mgiv()
        .args(["simulate", "--data", f.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--data needs --model"));
}

/// `mgiv simulate --data ... --gof FILE`: the four-panel goodness-of-fit plot of the sdtab, PNG
/// or SVG; one marker per observation and panel (plus the legend's); a bad path is refused
/// before the dataset is read.
#[test]
fn simulate_data_draws_the_gof_plot() {
    let (dir, f) = example_subset(8, "mgiv-gof-cli");
    let model = repo("data/examples/fit/mg-2cmt-baseline.toml");
    let run = |extra: &[&str]| {
        let mut args = vec![
            "simulate",
            "--data",
            f.to_str().unwrap(),
            "--model-file",
            &model,
            "--npde-replicates",
            "50",
        ];
        args.extend_from_slice(extra);
        mgiv().args(&args).output().unwrap()
    };
    let (svg, png, sd) = (dir.join("gof.svg"), dir.join("gof.png"), dir.join("sd.csv"));
    for plot in [&svg, &png] {
        let out = run(&[
            "--gof",
            plot.to_str().unwrap(),
            "--sdtab",
            sd.to_str().unwrap(),
        ]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(String::from_utf8_lossy(&out.stderr).contains("GOF plot written to"));
        assert!(std::fs::metadata(plot).unwrap().len() > 5000);
    }
    assert_eq!(
        &std::fs::read(&png).unwrap()[..8],
        b"\x89PNG\r\n\x1a\n",
        "a PNG file"
    );
    let n_obs = std::fs::read_to_string(&sd).unwrap().lines().count() - 1;
    assert!(n_obs > 20, "{n_obs} observations");
    let text = std::fs::read_to_string(&svg).unwrap();
    // 4 panels × one marker per observation, and the legend's marker
    assert_eq!(text.matches("<circle").count(), 4 * n_obs + 1);
    for want in [
        "Goodness of fit",
        "mg-2cmt-baseline.toml",
        "small.csv",
        "the model&apos;s own values",
        "DV vs PRED",
        "DV vs IPRED",
        "CWRES vs TIME",
        "CWRES vs PRED",
        "PRED (mmol/L)",
        "IPRED (mmol/L)",
        "DV (mmol/L)",
        "TIME (h)",
    ] {
        assert!(text.contains(want), "SVG lacks {want:?}");
    }
    // a bad path is refused before anything is read: the dataset here does not exist
    for (bad, msg) in [
        ("gof.pdf", "allowed: a file name ending in .svg or .png"),
        ("no-such-folder/gof.png", "does not exist"),
    ] {
        let bad = dir.join(bad);
        let out = mgiv()
            .args([
                "simulate",
                "--data",
                dir.join("missing.csv").to_str().unwrap(),
                "--model-file",
                &model,
                "--gof",
                bad.to_str().unwrap(),
            ])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("invalid --gof") && err.contains(msg), "{err}");
        assert!(!bad.exists());
    }
    // --gof needs --data
    let out = mgiv()
        .args(["simulate", "--gof", svg.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}
