//! The 1 M × 48 Zuspan trial on the current rayon pool (RAYON_NUM_THREADS), timed in-process:
//! `cargo run --release -p mgiv-pop --example trial_1m -- [N]`.
use mgiv_core::model::builtin_model;
use mgiv_pop::population::builtin_population;
use mgiv_pop::trial::{default_thresholds_mmol_l, Trial, TrialConfig, TrialRegimen};

fn main() {
    let n: u64 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(1_000_000);
    let t = Trial::new(
        &builtin_model("du-2019").unwrap(),
        &builtin_population("pre-eclampsia").unwrap(),
        &[TrialRegimen {
            label: "zuspan".into(),
            text: "4 g over 20 min, then 1 g/h for 24 h".into(),
        }],
        TrialConfig {
            n_subjects: n,
            seed: 1,
            times_h: (0..=47).map(|h| h as f64).collect(),
            target_mmol_l: (1.25, 2.5),
            thresholds_mmol_l: default_thresholds_mmol_l().unwrap(),
        },
    )
    .unwrap();
    let t0 = std::time::Instant::now();
    let r = t.run(None).unwrap();
    let el = t0.elapsed().as_secs_f64();
    let reg = &r.regimens[0];
    println!(
        "{n} subjects in {el:.3} s; p50 at 24 h {:.4}, P(in target) at 24 h {:.4}, peak p95 {:.4}, ttt p50 {:?}",
        reg.points[24].p50_mmol_l, reg.points[24].p_in_target, reg.peak_percentiles_mmol_l[4], reg.time_to_target_percentiles_h[2]
    );
}
