//! `cargo run --release -p mgiv-neuro --example sparse -- [N_E] [N_I] [P] [SECONDS] [THREADS] [sat|lin] [MG] [SEED]`
//!
//! `MGIV_NMDA_SUM=direct` selects the per-step saturating-NMDA gather instead of the blocked one
//! (same results, slower).
use mgiv_neuro::network::{sparse_benchmark_spec, Network, NmdaModel, NmdaSum};
use mgiv_neuro::MgDrive;

fn main() {
    let a: Vec<String> = std::env::args().collect();
    let ne: usize = a.get(1).and_then(|s| s.parse().ok()).unwrap_or(800);
    let ni: usize = a.get(2).and_then(|s| s.parse().ok()).unwrap_or(200);
    let p: f64 = a.get(3).and_then(|s| s.parse().ok()).unwrap_or(0.1);
    let secs: f64 = a.get(4).and_then(|s| s.parse().ok()).unwrap_or(1.0);
    let threads: usize = a.get(5).and_then(|s| s.parse().ok()).unwrap_or(1);
    let nmda = if a.get(6).map(|s| s.as_str()) == Some("lin") {
        NmdaModel::Linear
    } else {
        NmdaModel::Saturating
    };
    let mg: f64 = a.get(7).and_then(|s| s.parse().ok()).unwrap_or(1.0);
    let seed: u64 = a.get(8).and_then(|s| s.parse().ok()).unwrap_or(1);
    let t = std::time::Instant::now();
    let mut net =
        Network::build(sparse_benchmark_spec(ne, ni, p, 200, nmda), seed, threads).expect("build");
    if std::env::var("MGIV_NMDA_SUM").as_deref() == Ok("direct") {
        net.set_nmda_sum(NmdaSum::Direct);
    }
    let build = t.elapsed().as_secs_f64();
    let r = net.run(secs, &MgDrive::Fixed(mg), 0.0, false).expect("run");
    println!(
        "n={} synapses={} nmda={:?} threads={} seed={seed} build_s={:.3} run_s={:.3} rate_e_hz={:.3} rate_i_hz={:.3}",
        r.n_neurons, r.n_synapses, nmda, threads, build, r.wall_s, r.rates_hz[0], r.rates_hz[1]
    );
}
