//! The README's example dataset is `sim::simulate_nonmem` of the estimation template with seed
//! 2026: regenerate with `MGIV_WRITE_EXAMPLE=1 cargo test -p mgiv-fit --test example_data`.

use mgiv_fit::sim::{simulate_nonmem, Design};
use mgiv_fit::EstimationModel;

#[test]
fn the_shipped_example_dataset_is_the_documented_simulation() {
    let truth = EstimationModel::from_toml(include_str!(
        "../../../data/examples/fit/mg-2cmt-baseline.toml"
    ))
    .unwrap();
    let text = simulate_nonmem(&truth, &Design::default(), 2026).unwrap();
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../data/examples/fit/mg-sim-50.csv"
    );
    if std::env::var_os("MGIV_WRITE_EXAMPLE").is_some() {
        std::fs::write(path, &text).unwrap();
    }
    assert_eq!(std::fs::read_to_string(path).unwrap(), text);
}
