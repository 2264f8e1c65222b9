//! pcVPC: under the model that simulated the data the observed percentiles sit inside their
//! simulated 90 % ranges; under a wrong clearance they do not; reproducible from the seed.

use mgiv_data::{read, ReadOptions};
use mgiv_fit::sim::{simulate_nonmem, Design};
use mgiv_fit::vpc::{pcvpc, Estimates};
use mgiv_fit::EstimationModel;

#[test]
fn pcvpc_separates_the_right_model_from_a_wrong_one() {
    let truth = EstimationModel::from_toml(include_str!(
        "../../../data/examples/fit/mg-2cmt-baseline.toml"
    ))
    .unwrap();
    let text = simulate_nonmem(
        &truth,
        &Design {
            n_subjects: 60,
            ..Default::default()
        },
        77,
    )
    .unwrap();
    let (ds, _) = read(&text, &ReadOptions::default());
    let ds = ds.unwrap();
    let est = Estimates::initial(&truth);
    let v = pcvpc(&truth, &est, &ds, 200, 6, 3).unwrap();
    assert_eq!(v.bins.len(), 6);
    assert_eq!(
        v.bins.iter().map(|b| b.n_obs).sum::<usize>(),
        ds.n_observations()
    );
    for b in &v.bins {
        assert!(b.t_lo_h <= b.t_mid_h && b.t_mid_h <= b.t_hi_h);
        for q in 0..3 {
            assert!(
                b.simulated[q][0] <= b.simulated[q][1] && b.simulated[q][1] <= b.simulated[q][2]
            );
        }
        assert!(b.observed[0] < b.observed[1] && b.observed[1] < b.observed[2]);
    }
    // 18 percentiles, each outside its 90 % range with probability ~0.1
    assert!(
        v.outside <= 5,
        "{} of 18 outside under the true model",
        v.outside
    );
    let mut wrong = est.clone();
    *wrong.theta.get_mut("cl_l_h").unwrap() *= 0.5;
    let w = pcvpc(&truth, &wrong, &ds, 200, 6, 3).unwrap();
    assert!(
        w.outside >= 8,
        "only {} of 18 outside with CL halved",
        w.outside
    );
    // same seed, same bins
    let again = pcvpc(&truth, &est, &ds, 200, 6, 3).unwrap();
    assert_eq!(format!("{:?}", v.bins), format!("{:?}", again.bins));
    // missing names are an error naming them
    let mut bad = est.clone();
    bad.theta.remove("v1_l");
    let e = pcvpc(&truth, &bad, &ds, 200, 6, 3).unwrap_err().to_string();
    assert!(e.contains("v1_l"), "{e}");
}
