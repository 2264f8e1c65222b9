//! mgiv-fit FOCE-I vs ferx-core FOCE-I on the same simulated data set (50 subjects of a
//! two-compartment IV model, IIV on CL and V1, combined residual error, no endogenous baseline:
//! ferx has no constant baseline term, so the peer model has a baseline fixed at 1e-9 mmol/L and
//! the pre-dose samples are dropped). Same initial estimates, same data, one run.

use std::time::Instant;

const MGIV_MODEL: &str = r#"
id = "ferx-peer"
name = "Two-compartment IV, IIV on CL and V1, combined error (ferx peer)"
structure = "two-compartment"
source = "bench/ferx-peer"
[estimation]
baseline = "fixed"
[estimation.theta]
cl_l_h = { init = 4.0, lower = 0.1, upper = 100.0 }
v1_l = { init = 15.0, lower = 1.0, upper = 300.0 }
q_l_h = { init = 4.0, lower = 0.05, upper = 100.0 }
v2_l = { init = 20.0, lower = 1.0, upper = 500.0 }
baseline_mmol_l = { init = 1e-9, lower = 0.0, upper = 1.0 }
[estimation.omega]
parameters = ["cl_l_h", "v1_l"]
init = [0.09, 0.04]
[estimation.residual]
model = "combined"
additive_mmol_l = 0.08
proportional = 0.06
"#;

const FERX_MODEL: &str = "[parameters]
  theta TVCL(4.0, 0.1, 100.0)
  theta TVV1(15.0, 1.0, 300.0)
  theta TVQ(4.0, 0.05, 100.0)
  theta TVV2(20.0, 1.0, 500.0)
  omega ETA_CL ~ 0.09
  omega ETA_V1 ~ 0.04
  sigma PROP_ERR ~ 0.06 (sd)
  sigma ADD_ERR ~ 0.08 (sd)

[individual_parameters]
  CL = TVCL * exp(ETA_CL)
  V1 = TVV1 * exp(ETA_V1)
  Q  = TVQ
  V2 = TVV2

[structural_model]
  pk two_cpt_iv(cl=CL, v1=V1, q=Q, v2=V2)

[error_model]
  DV ~ combined(PROP_ERR, ADD_ERR)

[fit_options]
  method     = focei
  maxiter    = 500
  covariance = true
";

fn main() {
    let seed: u64 = std::env::args().nth(1).and_then(|s| s.parse().ok()).unwrap_or(2026);
    let model = mgiv_fit::EstimationModel::from_toml(MGIV_MODEL).unwrap();
    let sim = mgiv_fit::sim::simulate_nonmem(&model, &mgiv_fit::sim::Design::default(), seed).unwrap();
    // drop the pre-dose samples (a baseline of ~0 makes them pure noise) and the WT column
    let mut mgiv_csv = String::new();
    let mut ferx_csv = String::from("ID,TIME,DV,EVID,AMT,CMT,RATE,MDV\n");
    for line in sim.lines() {
        if line.starts_with('#') {
            mgiv_csv.push_str(line);
            mgiv_csv.push('\n');
            continue;
        }
        let f: Vec<&str> = line.split(',').collect();
        if f[0] == "ID" {
            mgiv_csv.push_str("ID,TIME,EVID,MDV,AMT,RATE,DV\n");
            continue;
        }
        // ID,TIME,EVID,MDV,AMT,RATE,DV,WT
        if f[1] == "0" && f[2] == "0" {
            continue;
        }
        mgiv_csv.push_str(&f[..7].join(","));
        mgiv_csv.push('\n');
        let (amt, rate) = if f[2] == "1" { (f[4], f[5]) } else { (".", ".") };
        ferx_csv.push_str(&format!(
            "{},{},{},{},{},1,{},{}\n",
            f[0], f[1], f[6], f[2], amt, rate, f[3]
        ));
    }
    std::fs::create_dir_all("out").unwrap();
    std::fs::write("out/data_mgiv.csv", &mgiv_csv).unwrap();
    std::fs::write("out/data_ferx.csv", &ferx_csv).unwrap();
    std::fs::write("out/model.ferx", FERX_MODEL).unwrap();

    let (ds, _) = mgiv_data::read(&mgiv_csv, &Default::default());
    let ds = ds.expect("mgiv reads the peer data");
    let n_obs = ds.n_observations();
    let t = Instant::now();
    let m = mgiv_fit::fit(&model, &ds, &mgiv_fit::FitSettings::default(), &|_| {}).unwrap();
    let t_mgiv = t.elapsed().as_secs_f64();

    let t = Instant::now();
    let f = ferx_core::fit_from_files("out/model.ferx", Some("out/data_ferx.csv"), None, None)
        .expect("ferx fit");
    let t_ferx = t.elapsed().as_secs_f64();

    // mgiv's objective at ferx's estimates: the same definition gives the same number
    let at_ferx = {
        let idx = |n: &str| f.theta_names.iter().position(|x| x == n).unwrap();
        let sig = |n: &str| f.sigma[f.sigma_names.iter().position(|x| x == n).unwrap()];
        let p = mgiv_fit::focei::PopParams {
            theta: vec![
                f.theta[idx("TVCL")],
                f.theta[idx("TVV1")],
                f.theta[idx("TVQ")],
                f.theta[idx("TVV2")],
                1e-9,
            ],
            omega: vec![f.omega[(0, 0)], f.omega[(0, 1)], f.omega[(1, 0)], f.omega[(1, 1)]],
            sigma: vec![sig("PROP_ERR"), sig("ADD_ERR")],
            omega_iov: Vec::new(),
        };
        // thetas in the model's order (BTreeMap of names: baseline, cl, q, v1, v2)
        let order: Vec<usize> = model
            .thetas
            .iter()
            .map(|t| match t.name.as_str() {
                "cl_l_h" => 0,
                "v1_l" => 1,
                "q_l_h" => 2,
                "v2_l" => 3,
                _ => 4,
            })
            .collect();
        let p = mgiv_fit::focei::PopParams {
            theta: order.iter().map(|&i| p.theta[i]).collect(),
            ..p
        };
        let (subjects, _) = mgiv_fit::focei::prepare(&model, &ds).unwrap();
        mgiv_fit::focei::evaluate(&model, &p, &subjects)
            .map(|v| v.iter().map(|x| x.0).sum::<f64>())
            .unwrap_or(f64::NAN)
    };
    println!("mgiv's FOCE-I objective at ferx's estimates: {at_ferx:.4} (ferx reports {:.4})", f.ofv);
    let ln2pi_n = n_obs as f64 * (2.0 * std::f64::consts::PI).ln();
    println!("seed {seed}: {} subjects, {n_obs} observations", m.n_subjects);
    println!("| quantity | mgiv-fit | ferx-core | relative difference |");
    println!("|---|---|---|---|");
    println!(
        "| OFV | {:.4} | {:.4} | {:+.4} (N·ln 2π = {ln2pi_n:.4}) |",
        m.ofv,
        f.ofv,
        f.ofv - m.ofv
    );
    let names = [("cl_l_h", "TVCL"), ("v1_l", "TVV1"), ("q_l_h", "TVQ"), ("v2_l", "TVV2")];
    for (mn, fname) in names {
        let i = f.theta_names.iter().position(|n| n == fname).unwrap();
        let (a, b) = (m.theta[mn], f.theta[i]);
        println!("| θ {mn} | {a:.5} | {b:.5} | {:+.3} % |", 100.0 * (b / a - 1.0));
    }
    for (k, mn) in ["cl_l_h", "v1_l"].iter().enumerate() {
        let (a, b) = (m.omega[*mn], f.omega[(k, k)]);
        println!("| ω² {mn} | {a:.5} | {b:.5} | {:+.3} % |", 100.0 * (b / a - 1.0));
    }
    for (mn, fname) in [("proportional", "PROP_ERR"), ("additive_mmol_l", "ADD_ERR")] {
        let i = f.sigma_names.iter().position(|n| n == fname).unwrap();
        let (a, b) = (m.sigma[mn], f.sigma[i]);
        println!("| σ {mn} | {a:.5} | {b:.5} | {:+.3} % |", 100.0 * (b / a - 1.0));
    }
    println!(
        "| wall time incl. covariance step (s) | {t_mgiv:.2} | {t_ferx:.2} | ferx/mgiv = {:.2} |",
        t_ferx / t_mgiv
    );
    println!("converged: mgiv {}, ferx {}", m.converged, f.converged);
}
