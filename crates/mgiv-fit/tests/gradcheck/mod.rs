//! Shared by the test files: the exact FOCE-I gradient against central differences.

use mgiv_fit::focei::{objective_and_gradient, SubjectData};
use mgiv_fit::EstimationModel;

/// The exact gradient at `x` against central differences of the objective with steps h and h/2
/// combined by Richardson extrapolation (error O(h⁴)): relative error below 1e-5 per component
/// (relative to max(|∂|, 1e-3·max|∂|)).
pub fn check_gradient(m: &EstimationModel, subjects: &[SubjectData], x: &[f64], natural: bool) {
    let (f0, g) = objective_and_gradient(m, subjects, x, natural).unwrap();
    let f = |x: &[f64]| objective_and_gradient(m, subjects, x, natural).unwrap().0;
    let gmax = g.iter().fold(0.0f64, |a, v| a.max(v.abs()));
    for i in 0..x.len() {
        // h = 0.01 (relative for the natural parameters): smaller steps meet the inner step's
        // tolerance (η̂ to ~1e-9 in the gradient of L) as noise of ~1e-6 in the differences
        let h = if natural {
            1e-2 * x[i].abs().max(1e-3)
        } else {
            1e-2
        };
        let d = |h: f64| {
            let mut a = x.to_vec();
            let mut b = x.to_vec();
            a[i] += h;
            b[i] -= h;
            (f(&a) - f(&b)) / (2.0 * h)
        };
        let fd = (4.0 * d(h / 2.0) - d(h)) / 3.0;
        let scale = g[i].abs().max(1e-3 * gmax);
        let rel = (g[i] - fd).abs() / scale;
        eprintln!("  {i}: exact {:+.9e} fd {fd:+.9e} rel {rel:.1e}", g[i]);
        assert!(
            rel < 1e-5,
            "component {i}: exact {} vs fd {fd} (OFV {f0})",
            g[i]
        );
    }
}
