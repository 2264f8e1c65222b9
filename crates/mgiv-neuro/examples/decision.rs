//! Release-mode validation of the reference scenario:
//! `cargo run --release -p mgiv-neuro --example decision -- [MG] [SECONDS] [SEEDS] [THREADS] [FIRST_SEED]`
//! runs seeds FIRST_SEED..FIRST_SEED+SEEDS-1 (default 1..=3) and prints one line per seed plus the mean.
//! Set MGIV_PER_SYNAPSE=1 to deliver AMPA/GABA synapse by synapse (stored all-to-all synapses).
use mgiv_neuro::wang2002::{run_decision, DecisionConfig};

fn main() {
    let a: Vec<String> = std::env::args().collect();
    let mg: f64 = a.get(1).and_then(|s| s.parse().ok()).unwrap_or(1.0);
    let secs: f64 = a.get(2).and_then(|s| s.parse().ok()).unwrap_or(4.0);
    let seeds: u64 = a.get(3).and_then(|s| s.parse().ok()).unwrap_or(3);
    let threads: usize = a.get(4).and_then(|s| s.parse().ok()).unwrap_or(1);
    let first: u64 = a.get(5).and_then(|s| s.parse().ok()).unwrap_or(1);
    println!(
        "mg_mm seconds seed threads rate_e_hz rate_i_hz pop1 pop2 late1_hz late2_hz winner wall_s"
    );
    let (mut se, mut si, mut sw) = (0.0, 0.0, 0.0);
    for seed in first..first + seeds {
        let mut cfg = DecisionConfig::reference(mg, secs, seed);
        cfg.threads = threads;
        cfg.per_synapse = std::env::var("MGIV_PER_SYNAPSE").is_ok_and(|v| v == "1");
        let r = run_decision(&cfg).expect("run");
        se += r.rate_e_hz;
        si += r.rate_i_hz;
        sw += r.wall_s;
        println!(
            "{mg} {secs} {seed} {threads} {:.3} {:.3} {} {} {:.1} {:.1} {:?} {:.3}",
            r.rate_e_hz,
            r.rate_i_hz,
            r.pop_spikes[0],
            r.pop_spikes[1],
            r.late_stim_rate_hz[0],
            r.late_stim_rate_hz[1],
            r.winner,
            r.wall_s
        );
    }
    let n = seeds as f64;
    eprintln!(
        "mean over {seeds} seed(s): rate_e_hz {:.3} rate_i_hz {:.3} wall_s {:.3}",
        se / n,
        si / n,
        sw / n
    );
}
