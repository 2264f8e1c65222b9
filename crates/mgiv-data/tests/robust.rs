//! Bad input never panics: every corpus file, mutated many ways (characters replaced, deleted,
//! duplicated; fields swapped), goes through `read`, `segments` and `predict` without a panic,
//! and a dataset is only returned when no error was reported.

use mgiv_core::model::{IndividualParams, Peripheral};
use mgiv_core::solver::Modes;
use mgiv_data::{predict, read, EventOptions, ReadOptions, Severity};

const FILES: [&str; 6] = [
    include_str!("../../../data/nonmem-corpus/bolus_addl.csv"),
    include_str!("../../../data/nonmem-corpus/reset.csv"),
    include_str!("../../../data/nonmem-corpus/ss1_infusion_repeated.csv"),
    include_str!("../../../data/nonmem-corpus/date_time_dur.csv"),
    include_str!("../../../data/nonmem-corpus/pmetrics.csv"),
    include_str!("../../../data/nonmem-corpus/monolix.csv"),
];

const ALPHABET: &[u8] = b"0123456789.,-:# \nEeADLT/\t+x";

#[test]
fn mutated_datasets_never_panic() {
    let modes = Modes::from_params(&IndividualParams {
        cl_l_h: 2.0,
        v1_l: 20.0,
        peripheral: Some(Peripheral {
            q_l_h: 3.0,
            v2_l: 30.0,
        }),
        ka_h: Some(1.0),
        f_im: Some(1.0),
        baseline_mmol_l: 0.8,
    })
    .unwrap();
    let opts = EventOptions {
        ss_history_h: 500.0,
        modelled: Default::default(),
    };
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = |n: usize| {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((state >> 33) as usize) % n.max(1)
    };
    let mut accepted = 0;
    for i in 0..3000 {
        let mut b: Vec<u8> = FILES[i % FILES.len()].as_bytes().to_vec();
        for _ in 0..1 + next(4) {
            let at = next(b.len());
            match next(4) {
                0 => b[at] = ALPHABET[next(ALPHABET.len())],
                1 => {
                    b.remove(at);
                }
                2 => {
                    let c = b[at];
                    b.insert(at, c);
                }
                _ => {
                    let j = next(b.len());
                    b.swap(at, j);
                }
            }
        }
        let text = String::from_utf8_lossy(&b);
        let (ds, diags) = read(&text, &ReadOptions::default());
        let errors = diags.iter().any(|d| d.severity == Severity::Error);
        assert_eq!(ds.is_some(), !errors);
        if let Some(ds) = ds {
            accepted += 1;
            for s in &ds.subjects {
                if let Ok(segs) = s.segments(&opts) {
                    for seg in &segs {
                        let p = predict(&modes, seg);
                        assert_eq!(p.len(), seg.observations.len());
                    }
                }
            }
        }
    }
    // some mutations leave a valid dataset (e.g. a changed DV digit), most do not
    assert!(accepted > 100 && accepted < 2900, "{accepted}");
}
