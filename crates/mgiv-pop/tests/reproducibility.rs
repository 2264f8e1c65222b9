//! Subject i's draws depend only on (seed, i): identical results on 1 or N threads and for any
//! sharding.

use mgiv_core::model::builtin_model;
use mgiv_pop::population::builtin_population;
use mgiv_pop::trial::{default_thresholds_mmol_l, Trial, TrialConfig, TrialRegimen};

fn trial(n: u64, seed: u64) -> Trial {
    let model = builtin_model("du-2019").unwrap();
    let pop = builtin_population("pre-eclampsia").unwrap();
    let regimens = vec![
        TrialRegimen {
            label: "zuspan".into(),
            text: "4 g over 20 min, then 1 g/h for 24 h".into(),
        },
        TrialRegimen {
            label: "6+2".into(),
            text: "6 g over 20 min, then 2 g/h for 24 h".into(),
        },
        // a per-kg regimen exercises the per-subject resolution path
        TrialRegimen {
            label: "lu".into(),
            text: "120 mg/kg over 1 h, then 24 mg/kg/h for 5 h".into(),
        },
    ];
    Trial::new(
        &model,
        &pop,
        &regimens,
        TrialConfig {
            n_subjects: n,
            seed,
            times_h: (0..=24).map(|h| h as f64).collect(),
            target_mmol_l: (2.0, 3.5),
            thresholds_mmol_l: default_thresholds_mmol_l().unwrap(),
        },
    )
    .unwrap()
}

#[test]
fn same_result_on_1_and_4_threads_and_any_sharding() {
    let n = 10_007; // not a multiple of the block size
    let t = trial(n, 42);
    let one = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .unwrap();
    let four = rayon::ThreadPoolBuilder::new()
        .num_threads(4)
        .build()
        .unwrap();
    let r1 = one.install(|| t.run(None)).unwrap();
    let r4 = four.install(|| t.run(None)).unwrap();
    assert_eq!(r1, r4);
    // shards [0, 3001) + [3001, 7777) + [7777, n), merged in a different order
    let a = four.install(|| t.run_range(0, 3001, None));
    let b = one.install(|| t.run_range(3001, 7777, None));
    let c = four.install(|| t.run_range(7777, n, None));
    let merged = c.merge(a).merge(b);
    assert_eq!(t.summarise(&merged).unwrap(), r1);
    // a different seed changes the result; the same seed in a new Trial does not
    assert_ne!(trial(n, 43).run(None).unwrap(), r1);
    assert_eq!(trial(n, 42).run(None).unwrap(), r1);
}

#[test]
fn subject_results_do_not_depend_on_n() {
    // the first 5000 subjects of a 5000-subject and of a 9000-subject run are the same people:
    // the 9000-run restricted to [0, 5000) equals the 5000-run
    let small = trial(5000, 7).run(None).unwrap();
    let big = trial(9000, 7);
    let first = big.run_range(0, 5000, None);
    let mut s = big.summarise(&first).unwrap();
    s.n_subjects = 5000;
    assert_eq!(s, small);
}

#[test]
fn fixed_grid_path_is_bit_identical_on_1_2_and_4_threads() {
    // fixed IV regimens only: the trial runs on the structure-of-arrays batch path
    let model = builtin_model("du-2019").unwrap();
    let pop = builtin_population("pre-eclampsia").unwrap();
    let regimens = vec![
        TrialRegimen {
            label: "zuspan".into(),
            text: "4 g over 20 min, then 1 g/h for 24 h".into(),
        },
        TrialRegimen {
            label: "bolus".into(),
            text: "4 g, then 4 g every 4 h for 24 h".into(),
        },
    ];
    let t = Trial::new(
        &model,
        &pop,
        &regimens,
        TrialConfig {
            n_subjects: 9_001, // not a multiple of the block or the batch size
            seed: 3,
            times_h: (0..=47).map(|h| h as f64).collect(),
            target_mmol_l: (2.0, 3.5),
            thresholds_mmol_l: default_thresholds_mmol_l().unwrap(),
        },
    )
    .unwrap();
    assert!(t.uses_fixed_grid());
    let run = |k: usize| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(k)
            .build()
            .unwrap()
            .install(|| t.run(None))
            .unwrap()
    };
    let r1 = run(1);
    assert_eq!(r1, run(2));
    assert_eq!(r1, run(4));
    // shards whose edges cut batches anywhere give the same counts
    let merged = t
        .run_range(5_000, 9_001, None)
        .merge(t.run_range(0, 129, None))
        .merge(t.run_range(129, 5_000, None));
    assert_eq!(t.summarise(&merged).unwrap(), r1);
    // and the numbers are real: the loading dose reaches 2 mmol/L in most patients
    assert!(r1.regimens[0].p_reach_target > 0.3 && r1.regimens[0].p_reach_target < 1.0);
}
