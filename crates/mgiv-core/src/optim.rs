//! The one gradient-based minimiser of mgiv: BFGS (inverse-Hessian update, Armijo backtracking).
//!
//! mgiv minimises in two ways, each implemented once:
//! - **derivative-free**: argmin's Nelder–Mead ([`crate::numerics::nelder_mead`] for a plain
//!   closure; core's calibration and mgiv-fit's FOCE-I option call argmin directly with their
//!   own cost types);
//! - **with a gradient**: this module. FOCE-I's inner η step (exact dual gradient, warm-started
//!   from a given inverse Hessian and f(x₀)), FOCE-I's outer step (its own loop over
//!   [`descent_direction`], [`armijo`] and [`bfgs_update`], because it carries every subject's
//!   η̂ from one point to the next and switches a σ's scale at its bound), SAEM's M-step and the
//!   TDM posterior mode ([`bfgs_central`]: central-difference gradients, the TDM started from the
//!   inverse of the finite-difference Hessian at the prior mode).
//!
//! argmin's own BFGS is not used for these: the inner η step runs once per subject per
//! objective evaluation (millions of times in a fit), where argmin's per-iteration state and
//! executor cost more than the few-dimensional step itself, and it has no way to hand over
//! f(x₀) and ∇f(x₀) that the caller already computed.
//!
//! Matrices are dense, row-major n×n (n ≤ ~20 here).

use crate::numerics::central_gradient;

/// The n×n identity (row-major).
pub fn identity(n: usize) -> Vec<f64> {
    let mut h = vec![0.0; n * n];
    for i in 0..n {
        h[i * n + i] = 1.0;
    }
    h
}

/// The quasi-Newton direction d = −H g and its slope dᵀg. When that is not a descent direction,
/// `h` is reset to the identity and d = −g; the third value says so (the caller then usually
/// lets the next update rescale the identity).
pub fn descent_direction(h: &mut [f64], g: &[f64], n: usize) -> (Vec<f64>, f64, bool) {
    let d: Vec<f64> = (0..n)
        .map(|i| -(0..n).map(|j| h[i * n + j] * g[j]).sum::<f64>())
        .collect();
    let slope: f64 = d.iter().zip(g).map(|(a, b)| a * b).sum();
    if slope < 0.0 {
        return (d, slope, false);
    }
    h.copy_from_slice(&identity(n));
    let d: Vec<f64> = g.iter().map(|v| -v).collect();
    let slope = -g.iter().map(|v| v * v).sum::<f64>();
    (d, slope, true)
}

/// Armijo backtracking from `x` along `d` (slope `slope` < 0, objective `fx`): the first step,
/// from `first_step` and halved up to `halvings` times, whose objective (from `value`, `None`
/// where undefined) satisfies f ≤ fx + 1e-4·step·slope. Returns that point, its objective and
/// what `value` gave with it (a gradient, per-subject results).
pub fn armijo<T>(
    x: &[f64],
    d: &[f64],
    fx: f64,
    slope: f64,
    first_step: f64,
    halvings: usize,
    mut value: impl FnMut(&[f64]) -> Option<(f64, T)>,
) -> Option<(Vec<f64>, f64, T)> {
    let mut step = first_step;
    for _ in 0..halvings {
        let xn: Vec<f64> = x.iter().zip(d).map(|(a, b)| a + step * b).collect();
        if let Some((fn_, t)) = value(&xn) {
            if fn_.is_finite() && fn_ <= fx + 1e-4 * step * slope {
                return Some((xn, fn_, t));
            }
        }
        step *= 0.5;
    }
    None
}

/// The BFGS update of the inverse-Hessian approximation `h` from the step `sv`, the gradient
/// change `yv` and sy = svᵀyv > 0. On the first update (`first`) `h` is first set to
/// (sy / yᵀy)·I, the usual scaling of the initial matrix (Nocedal & Wright 2006, eq. 6.20).
pub fn bfgs_update(h: &mut [f64], n: usize, sv: &[f64], yv: &[f64], sy: f64, first: &mut bool) {
    if *first {
        let yy: f64 = yv.iter().map(|v| v * v).sum();
        let scale = sy / yy;
        for i in 0..n {
            for j in 0..n {
                h[i * n + j] = if i == j { scale } else { 0.0 };
            }
        }
        *first = false;
    }
    let rho = 1.0 / sy;
    let hy: Vec<f64> = (0..n)
        .map(|i| (0..n).map(|j| h[i * n + j] * yv[j]).sum())
        .collect();
    let yhy: f64 = yv.iter().zip(&hy).map(|(a, b)| a * b).sum();
    for i in 0..n {
        for j in 0..n {
            h[i * n + j] +=
                -rho * (hy[i] * sv[j] + sv[i] * hy[j]) + (rho * rho * yhy + rho) * sv[i] * sv[j];
        }
    }
}

/// Minimise with BFGS from `x0`; `f` gives the objective and its gradient. Returns (x, f(x),
/// converged): every |∂f/∂xᵢ| < `gtol`, or no further decrease possible with every
/// |∂f/∂xᵢ| < √gtol.
pub fn bfgs(
    f: impl FnMut(&[f64]) -> (f64, Vec<f64>),
    x0: &[f64],
    max_iter: usize,
    gtol: f64,
) -> (Vec<f64>, f64, bool) {
    bfgs_from(f, x0, None, None, max_iter, gtol)
}

/// As [`bfgs`], starting from the inverse-Hessian approximation `h0` (n×n) when given (else the
/// identity, rescaled after the first step), and from `f0` = (f(x0), ∇f(x0)) when the caller
/// has it.
pub fn bfgs_from(
    mut f: impl FnMut(&[f64]) -> (f64, Vec<f64>),
    x0: &[f64],
    f0: Option<(f64, Vec<f64>)>,
    h0: Option<Vec<f64>>,
    max_iter: usize,
    gtol: f64,
) -> (Vec<f64>, f64, bool) {
    let n = x0.len();
    let mut x = x0.to_vec();
    let (mut fx, mut g) = match f0 {
        Some(v) if v.1.len() == n => v,
        _ => f(&x),
    };
    if n == 0 {
        return (x, fx, true);
    }
    if !fx.is_finite() {
        return (x, fx, false);
    }
    let mut first = h0.is_none();
    let mut h = h0
        .filter(|h| h.len() == n * n)
        .unwrap_or_else(|| identity(n));
    for _ in 0..max_iter {
        if g.iter().all(|v| v.abs() < gtol) {
            return (x, fx, true);
        }
        let (d, slope, _) = descent_direction(&mut h, &g, n);
        let Some((xn, fn_, gn)) = armijo(&x, &d, fx, slope, 1.0, 60, |xn| Some(f(xn))) else {
            // no decrease possible along d: at the precision limit
            return (x, fx, g.iter().all(|v| v.abs() < gtol.sqrt()));
        };
        let s: Vec<f64> = xn.iter().zip(&x).map(|(a, b)| a - b).collect();
        let yv: Vec<f64> = gn.iter().zip(&g).map(|(a, b)| a - b).collect();
        let sy: f64 = s.iter().zip(&yv).map(|(a, b)| a * b).sum();
        let df = fx - fn_;
        x = xn;
        fx = fn_;
        g = gn;
        if sy > 1e-300 {
            bfgs_update(&mut h, n, &s, &yv, sy, &mut first);
        }
        if df.abs() <= 1e-15 * (1.0 + fx.abs()) && g.iter().all(|v| v.abs() < gtol.sqrt()) {
            return (x, fx, true);
        }
    }
    let ok = g.iter().all(|v| v.abs() < gtol);
    (x, fx, ok)
}

/// [`bfgs_from`] on a function without a gradient: central differences
/// ([`crate::numerics::central_gradient`]) with the step
/// `step(x, i)` in coordinate i at x. A point where f is not finite has no gradient (the line
/// search steps back from it).
pub fn bfgs_central(
    f: &mut dyn FnMut(&[f64]) -> f64,
    step: &dyn Fn(&[f64], usize) -> f64,
    x0: &[f64],
    h0: Option<Vec<f64>>,
    max_iter: usize,
    gtol: f64,
) -> (Vec<f64>, f64, bool) {
    let with_gradient = |x: &[f64]| -> (f64, Vec<f64>) {
        let fx = f(x);
        if !fx.is_finite() {
            return (fx, vec![f64::NAN; x.len()]);
        }
        let steps: Vec<f64> = (0..x.len()).map(|i| step(x, i)).collect();
        (fx, central_gradient(f, x, &steps))
    };
    bfgs_from(with_gradient, x0, None, h0, max_iter, gtol)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rosenbrock(x: &[f64]) -> (f64, Vec<f64>) {
        let (a, b) = (x[0], x[1]);
        (
            (1.0 - a).powi(2) + 100.0 * (b - a * a).powi(2),
            vec![
                -2.0 * (1.0 - a) - 400.0 * a * (b - a * a),
                200.0 * (b - a * a),
            ],
        )
    }

    #[test]
    fn bfgs_finds_the_rosenbrock_minimum() {
        let (x, fx, ok) = bfgs(rosenbrock, &[-1.2, 1.0], 500, 1e-10);
        assert!(ok);
        assert!(
            (x[0] - 1.0).abs() < 1e-7 && (x[1] - 1.0).abs() < 1e-7,
            "{x:?}"
        );
        assert!(fx < 1e-14);
    }

    #[test]
    fn bfgs_with_central_differences_finds_the_rosenbrock_minimum() {
        let mut f = |x: &[f64]| rosenbrock(x).0;
        let step = |x: &[f64], i: usize| 1e-6 * x[i].abs().max(1.0);
        let (x, _, ok) = bfgs_central(&mut f, &step, &[-1.2, 1.0], None, 500, 1e-7);
        assert!(ok);
        assert!(
            (x[0] - 1.0).abs() < 1e-5 && (x[1] - 1.0).abs() < 1e-5,
            "{x:?}"
        );
    }

    #[test]
    fn bfgs_started_from_the_exact_inverse_hessian_solves_a_quadratic_in_one_step() {
        // f = ½ xᵀAx − bᵀx, minimum A⁻¹b; A = [[4, 1], [1, 3]], A⁻¹ = [[3, −1], [−1, 4]]/11
        let a = [4.0, 1.0, 1.0, 3.0];
        let b = [1.0, 2.0];
        let mut calls = 0;
        let f = |x: &[f64]| {
            calls += 1;
            let ax = [a[0] * x[0] + a[1] * x[1], a[2] * x[0] + a[3] * x[1]];
            (
                0.5 * (x[0] * ax[0] + x[1] * ax[1]) - b[0] * x[0] - b[1] * x[1],
                vec![ax[0] - b[0], ax[1] - b[1]],
            )
        };
        let h0 = vec![3.0 / 11.0, -1.0 / 11.0, -1.0 / 11.0, 4.0 / 11.0];
        let (x, _, ok) = bfgs_from(f, &[0.0, 0.0], None, Some(h0), 50, 1e-12);
        assert!(ok);
        assert!((x[0] - 1.0 / 11.0).abs() < 1e-15 && (x[1] - 7.0 / 11.0).abs() < 1e-15);
        // f(x0), then the full Newton step is accepted and has zero gradient
        assert_eq!(calls, 2);
    }

    #[test]
    fn a_point_without_a_value_is_stepped_back_from() {
        // f = (x − 3)² defined only for x < 4: the first trial from 0 (x = 6) is refused
        let mut f = |x: &[f64]| {
            if x[0] < 4.0 {
                (x[0] - 3.0).powi(2)
            } else {
                f64::INFINITY
            }
        };
        let step = |_: &[f64], _: usize| 1e-6;
        let (x, fx, ok) = bfgs_central(&mut f, &step, &[0.0], None, 100, 1e-8);
        assert!(ok, "{x:?} {fx}");
        assert!((x[0] - 3.0).abs() < 1e-7, "{x:?}");
    }

    #[test]
    fn an_undefined_start_is_reported_not_converged() {
        let f = |_: &[f64]| (f64::NAN, vec![0.0]);
        let (_, fx, ok) = bfgs(f, &[1.0], 10, 1e-8);
        assert!(fx.is_nan() && !ok);
    }

    #[test]
    fn a_direction_that_does_not_descend_resets_to_steepest_descent() {
        let mut h = vec![-1.0, 0.0, 0.0, -1.0];
        let (d, slope, reset) = descent_direction(&mut h, &[1.0, 2.0], 2);
        assert!(reset);
        assert_eq!(d, vec![-1.0, -2.0]);
        assert_eq!(slope, -5.0);
        assert_eq!(h, identity(2));
    }
}
