//! Statistics of the Wang (2002) network: general engine ([`run_decision`], the
//! `decision_spec` run by `network::Network`) against the former dedicated engine
//! (`run_decision_dedicated`), seeds 1..=SEEDS at each Mg, 4 s each, one thread.
//!
//! `cargo run --release -p mgiv-neuro --example wang_compare -- [SEEDS] [MG,MG,...]`
//!
//! Per Mg and engine: mean ± sd of the E and I rates, winner count, and the decision time
//! (first 50-ms bin after stimulus onset in which a selective population's rate reaches 15 Hz,
//! end of that bin minus onset; runs that never reach it are left out); Welch's t and its
//! Welch–Satterthwaite degrees of freedom for each difference of means.
use mgiv_neuro::wang2002::{run_decision, run_decision_dedicated, DecisionConfig, DecisionResult};

fn mean_sd(x: &[f64]) -> (f64, f64) {
    let n = x.len() as f64;
    let m = x.iter().sum::<f64>() / n;
    let v = x.iter().map(|v| (v - m) * (v - m)).sum::<f64>() / (n - 1.0);
    (m, v.sqrt())
}

/// Welch's t and degrees of freedom.
fn welch(a: &[f64], b: &[f64]) -> (f64, f64) {
    let (ma, sa) = mean_sd(a);
    let (mb, sb) = mean_sd(b);
    let (va, vb) = (sa * sa / a.len() as f64, sb * sb / b.len() as f64);
    if va + vb == 0.0 {
        return (0.0, f64::NAN);
    }
    let t = (ma - mb) / (va + vb).sqrt();
    let df =
        (va + vb).powi(2) / (va * va / (a.len() as f64 - 1.0) + vb * vb / (b.len() as f64 - 1.0));
    (t, df)
}

fn decision_time_ms(r: &DecisionResult, onset_ms: f64) -> Option<f64> {
    let b = r.rate_bin_ms;
    let first = (onset_ms / b).round() as usize;
    (first..r.rates_hz[0].len())
        .find(|&k| r.rates_hz[0][k] >= 15.0 || r.rates_hz[1][k] >= 15.0)
        .map(|k| (k + 1) as f64 * b - onset_ms)
}

fn main() {
    let a: Vec<String> = std::env::args().collect();
    let seeds: u64 = a.get(1).and_then(|s| s.parse().ok()).unwrap_or(20);
    let mgs: Vec<f64> = a
        .get(2)
        .map(|s| s.split(',').filter_map(|x| x.parse().ok()).collect())
        .unwrap_or_else(|| vec![1.0, 2.0]);
    println!("engine mg_mm seed rate_e_hz rate_i_hz pop1 pop2 winner decision_ms wall_s");
    for &mg in &mgs {
        // [engine][quantity] samples
        let mut e = [vec![], vec![]];
        let mut i = [vec![], vec![]];
        let mut dtm = [vec![], vec![]];
        let mut wins = [0u64; 2];
        let mut wall = [0.0f64; 2];
        for seed in 1..=seeds {
            for (k, name) in ["general", "dedicated"].iter().enumerate() {
                let cfg = DecisionConfig::reference(mg, 4.0, seed);
                let r = if k == 0 {
                    run_decision(&cfg)
                } else {
                    run_decision_dedicated(&cfg)
                }
                .expect("run");
                let d = decision_time_ms(&r, cfg.params.stim_on_ms);
                println!(
                    "{name} {mg} {seed} {:.4} {:.4} {} {} {:?} {:?} {:.3}",
                    r.rate_e_hz,
                    r.rate_i_hz,
                    r.pop_spikes[0],
                    r.pop_spikes[1],
                    r.winner,
                    d,
                    r.wall_s
                );
                e[k].push(r.rate_e_hz);
                i[k].push(r.rate_i_hz);
                if let Some(d) = d {
                    dtm[k].push(d);
                }
                wins[k] += r.winner.is_some() as u64;
                wall[k] += r.wall_s;
            }
        }
        println!("# summary mg {mg} mM, {seeds} seeds per engine (general | dedicated)");
        for (name, x) in [("rate_e_hz", &e), ("rate_i_hz", &i), ("decision_ms", &dtm)] {
            let (m0, s0) = mean_sd(&x[0]);
            let (m1, s1) = mean_sd(&x[1]);
            let (t, df) = welch(&x[0], &x[1]);
            println!(
                "# {name}: {m0:.4} ± {s0:.4} (n {}) | {m1:.4} ± {s1:.4} (n {}); Welch t {t:.3}, df {df:.1}",
                x[0].len(),
                x[1].len()
            );
        }
        println!(
            "# winners: {}/{seeds} | {}/{seeds}; total wall_s {:.2} | {:.2}",
            wins[0], wins[1], wall[0], wall[1]
        );
    }
}
