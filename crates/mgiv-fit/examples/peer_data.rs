//! Writes the ferx-peer job of bench/ferx-peer (the same model and `mgiv_fit::sim` data, pre-dose
//! samples dropped) as files for timing `mgiv fit` from the command line:
//! `cargo run -p mgiv-fit --example peer_data -- OUT_DIR 2026 1 2 3` writes OUT_DIR/peer.toml and
//! OUT_DIR/peer-SEED.csv.

const MODEL: &str = r#"id = "ferx-peer"
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

fn main() {
    let mut args = std::env::args().skip(1);
    let dir = std::path::PathBuf::from(args.next().expect("OUT_DIR SEED..."));
    std::fs::create_dir_all(&dir).expect("output directory");
    std::fs::write(dir.join("peer.toml"), MODEL).expect("write the model");
    let model = mgiv_fit::EstimationModel::from_toml(MODEL).expect("model");
    for seed in args {
        let seed: u64 = seed.parse().expect("a seed");
        let sim = mgiv_fit::sim::simulate_nonmem(&model, &mgiv_fit::sim::Design::default(), seed)
            .expect("simulate");
        let mut csv = String::new();
        for line in sim.lines() {
            if line.starts_with('#') {
                csv.push_str(line);
                csv.push('\n');
                continue;
            }
            let f: Vec<&str> = line.split(',').collect();
            if f[0] == "ID" {
                csv.push_str("ID,TIME,EVID,MDV,AMT,RATE,DV\n");
                continue;
            }
            // ID,TIME,EVID,MDV,AMT,RATE,DV,WT: drop the pre-dose samples and WT
            if f[1] == "0" && f[2] == "0" {
                continue;
            }
            csv.push_str(&f[..7].join(","));
            csv.push('\n');
        }
        std::fs::write(dir.join(format!("peer-{seed}.csv")), csv).expect("write the data");
    }
}
