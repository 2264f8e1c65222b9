//! Shared numerics of the mgiv libraries: small dense linear algebra (dimension ≤ ~8: Cholesky
//! factor, solves, inverse; row-major), the one finite-difference gradient and Hessian and the one sample
//! quantile (linear interpolation between order statistics, Hyndman–Fan type 7, as R's default
//! and numpy's `linear`). mgiv-pop re-exports the linear algebra as `mgiv_pop::linalg`.
//! Derivative-free minimisation is argmin's Nelder–Mead everywhere: [`nelder_mead`] wraps it for
//! a plain closure (mgiv-brain's CSF fit); core's calibration and mgiv-fit's FOCE-I outer step
//! call argmin directly with their own cost types. Minimisation with a gradient is
//! [`crate::optim`]'s BFGS everywhere.

use crate::error::MgivError;

/// Lower Cholesky factor L of a symmetric positive-definite matrix A (n×n, row-major), A = L·Lᵀ.
/// `None` when A is not positive definite.
pub fn cholesky(a: &[f64], n: usize) -> Option<Vec<f64>> {
    let mut l = vec![0.0; n * n];
    for i in 0..n {
        for j in 0..=i {
            let mut s = a[i * n + j];
            for k in 0..j {
                s -= l[i * n + k] * l[j * n + k];
            }
            if i == j {
                if !(s > 0.0 && s.is_finite()) {
                    return None;
                }
                l[i * n + i] = s.sqrt();
            } else {
                l[i * n + j] = s / l[j * n + j];
            }
        }
    }
    Some(l)
}

/// Solve A·x = b given the Cholesky factor L of A.
pub fn cholesky_solve(l: &[f64], n: usize, b: &[f64]) -> Vec<f64> {
    let mut y = vec![0.0; n];
    for i in 0..n {
        let mut s = b[i];
        for k in 0..i {
            s -= l[i * n + k] * y[k];
        }
        y[i] = s / l[i * n + i];
    }
    let mut x = vec![0.0; n];
    for i in (0..n).rev() {
        let mut s = y[i];
        for k in i + 1..n {
            s -= l[k * n + i] * x[k];
        }
        x[i] = s / l[i * n + i];
    }
    x
}

/// Inverse of A from its Cholesky factor.
pub fn cholesky_inverse(l: &[f64], n: usize) -> Vec<f64> {
    let mut inv = vec![0.0; n * n];
    let mut e = vec![0.0; n];
    for j in 0..n {
        e.iter_mut().for_each(|v| *v = 0.0);
        e[j] = 1.0;
        let col = cholesky_solve(l, n, &e);
        for i in 0..n {
            inv[i * n + j] = col[i];
        }
    }
    inv
}

/// ln det A from its Cholesky factor.
pub fn cholesky_logdet(l: &[f64], n: usize) -> f64 {
    (0..n).map(|i| 2.0 * l[i * n + i].ln()).sum()
}

/// y = L·z for lower-triangular L.
pub fn lower_mul(l: &[f64], n: usize, z: &[f64], y: &mut [f64]) {
    for i in 0..n {
        let mut s = 0.0;
        for k in 0..=i {
            s += l[i * n + k] * z[k];
        }
        y[i] = s;
    }
}

/// Central-difference gradient of `f` at `x` with step `steps[i]` in coordinate i (2n
/// evaluations): the gradient part of [`gradient_and_hessian`] alone (the same differences), for
/// BFGS on a function without an analytic gradient ([`crate::optim::bfgs_central`]).
pub fn central_gradient(f: &mut dyn FnMut(&[f64]) -> f64, x: &[f64], steps: &[f64]) -> Vec<f64> {
    let mut xp = x.to_vec();
    (0..x.len())
        .map(|i| {
            xp[i] = x[i] + steps[i];
            let fp = f(&xp);
            xp[i] = x[i] - steps[i];
            let fm = f(&xp);
            xp[i] = x[i];
            (fp - fm) / (2.0 * steps[i])
        })
        .collect()
}

/// Central finite-difference gradient and Hessian (row-major, d×d) of `f` at `x`, with step
/// `h[i]` in coordinate i, and f(x). Costs 2d² + 1 evaluations. The one Hessian of mgiv: the
/// Laplace approximation of TDM, the CSF fit and the adult calibration's parameter uncertainty
/// use it.
pub fn gradient_and_hessian(
    f: &mut dyn FnMut(&[f64]) -> f64,
    x: &[f64],
    h: &[f64],
) -> (Vec<f64>, Vec<f64>, f64) {
    let d = x.len();
    let f0 = f(x);
    let mut g = vec![0.0; d];
    let mut hess = vec![0.0; d * d];
    let mut xp = x.to_vec();
    let mut fp = vec![0.0; d];
    let mut fm = vec![0.0; d];
    for i in 0..d {
        xp[i] = x[i] + h[i];
        fp[i] = f(&xp);
        xp[i] = x[i] - h[i];
        fm[i] = f(&xp);
        xp[i] = x[i];
        g[i] = (fp[i] - fm[i]) / (2.0 * h[i]);
        hess[i * d + i] = (fp[i] - 2.0 * f0 + fm[i]) / (h[i] * h[i]);
    }
    for i in 0..d {
        for j in i + 1..d {
            let mut v = 0.0;
            for (si, sj, w) in [
                (1.0, 1.0, 1.0),
                (1.0, -1.0, -1.0),
                (-1.0, 1.0, -1.0),
                (-1.0, -1.0, 1.0),
            ] {
                xp[i] = x[i] + si * h[i];
                xp[j] = x[j] + sj * h[j];
                v += w * f(&xp);
            }
            xp[i] = x[i];
            xp[j] = x[j];
            let hij = v / (4.0 * h[i] * h[j]);
            hess[i * d + j] = hij;
            hess[j * d + i] = hij;
        }
    }
    (g, hess, f0)
}

/// The `q` quantile of sorted values (type 7: position q·(n − 1), linear interpolation between
/// the neighbouring order statistics); `q` outside [0, 1] is taken as 0 or 1; NaN for no values.
pub fn quantile_sorted(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let pos = q.clamp(0.0, 1.0) * (sorted.len() - 1) as f64;
    let i = pos.floor() as usize;
    let f = pos - i as f64;
    if i + 1 < sorted.len() {
        sorted[i] * (1.0 - f) + sorted[i + 1] * f
    } else {
        sorted[i]
    }
}

/// The `q` quantile of `v` (type 7); sorts `v` in place (NaN sorted last).
pub fn quantile(v: &mut [f64], q: f64) -> f64 {
    v.sort_by(f64::total_cmp);
    quantile_sorted(v, q)
}

/// Two quantiles of `v` (type 7), e.g. the ends of a central interval; sorts `v` once.
pub fn quantile_pair(v: &mut [f64], q_lo: f64, q_hi: f64) -> (f64, f64) {
    v.sort_by(f64::total_cmp);
    (quantile_sorted(v, q_lo), quantile_sorted(v, q_hi))
}

/// A closure as an argmin cost function.
struct ClosureCost<'a> {
    f: &'a dyn Fn(&[f64]) -> f64,
}

impl argmin::core::CostFunction for ClosureCost<'_> {
    type Param = Vec<f64>;
    type Output = f64;
    fn cost(&self, x: &Vec<f64>) -> Result<f64, argmin::core::Error> {
        Ok((self.f)(x))
    }
}

/// Minimise `f` with argmin's Nelder–Mead (standard coefficients) from the simplex `x0`,
/// `x0 + step·e_i`; it stops when the standard deviation of the simplex's costs is below
/// `sd_tolerance` or after `max_iters` iterations. Returns the best point and its cost.
pub fn nelder_mead(
    f: &dyn Fn(&[f64]) -> f64,
    x0: &[f64],
    step: f64,
    max_iters: u64,
    sd_tolerance: f64,
) -> Result<(Vec<f64>, f64), MgivError> {
    use argmin::core::{Executor, State};
    let mut simplex = vec![x0.to_vec()];
    for i in 0..x0.len() {
        let mut v = x0.to_vec();
        v[i] += step;
        simplex.push(v);
    }
    let solver = argmin::solver::neldermead::NelderMead::new(simplex)
        .with_sd_tolerance(sd_tolerance)
        .map_err(|e| MgivError::Numerical(e.to_string()))?;
    let res = Executor::new(ClosureCost { f }, solver)
        .configure(|s| s.max_iters(max_iters))
        .run()
        .map_err(|e| MgivError::Numerical(format!("Nelder-Mead failed: {e}")))?;
    let best = res.state().get_best_cost();
    let x = res
        .state()
        .get_best_param()
        .cloned()
        .ok_or_else(|| MgivError::Numerical("Nelder-Mead found no point".into()))?;
    Ok((x, best))
}

#[cfg(test)]
mod tests {
    #[test]
    fn nelder_mead_finds_the_minimum_of_rosenbrock() {
        let f = |x: &[f64]| (1.0 - x[0]).powi(2) + 100.0 * (x[1] - x[0] * x[0]).powi(2);
        let (x, fx) = super::nelder_mead(&f, &[-1.2, 1.0], 0.5, 5000, 1e-16).unwrap();
        assert!(
            (x[0] - 1.0).abs() < 1e-5 && (x[1] - 1.0).abs() < 1e-5,
            "{x:?}"
        );
        assert!(fx < 1e-10);
    }

    use super::*;

    #[test]
    fn cholesky_round_trip() {
        let a = [4.0, 2.0, 0.4, 2.0, 5.0, 1.0, 0.4, 1.0, 3.0];
        let l = cholesky(&a, 3).unwrap();
        for i in 0..3 {
            for j in 0..3 {
                let s: f64 = (0..3).map(|k| l[i * 3 + k] * l[j * 3 + k]).sum();
                assert!((s - a[i * 3 + j]).abs() < 1e-12);
            }
        }
        let inv = cholesky_inverse(&l, 3);
        for i in 0..3 {
            for j in 0..3 {
                let s: f64 = (0..3).map(|k| a[i * 3 + k] * inv[k * 3 + j]).sum();
                assert!((s - if i == j { 1.0 } else { 0.0 }).abs() < 1e-12);
            }
        }
        // det = 4(15-1) - 2(6-0.4) + 0.4(2-2) = 56 - 11.2 = 44.8
        assert!((cholesky_logdet(&l, 3) - 44.8f64.ln()).abs() < 1e-12);
        assert!(cholesky(&[1.0, 2.0, 2.0, 1.0], 2).is_none());
    }

    #[test]
    fn hessian_of_a_quadratic_is_exact() {
        // f = 0.5 xᵀAx + bᵀx: gradient Ax + b, Hessian A (central differences are exact here)
        let a = [4.0, 1.0, 0.5, 1.0, 3.0, -0.2, 0.5, -0.2, 2.0];
        let b = [1.0, -2.0, 0.5];
        let mut f = |x: &[f64]| {
            let mut s = 0.0;
            for i in 0..3 {
                s += b[i] * x[i];
                for j in 0..3 {
                    s += 0.5 * x[i] * a[i * 3 + j] * x[j];
                }
            }
            s
        };
        let x = [0.3, -0.7, 1.1];
        let (g, h, f0) = gradient_and_hessian(&mut f, &x, &[1e-3, 2e-3, 5e-4]);
        for i in 0..3 {
            let gi: f64 = b[i] + (0..3).map(|j| a[i * 3 + j] * x[j]).sum::<f64>();
            assert!((g[i] - gi).abs() < 1e-8, "{} vs {gi}", g[i]);
            for j in 0..3 {
                assert!((h[i * 3 + j] - a[i * 3 + j]).abs() < 1e-5);
            }
        }
        assert!((f0 - f(&x)).abs() < 1e-15);
    }

    /// Type 7 against values computed by hand (and numpy.quantile's default `linear` method:
    /// numpy.quantile([3, 1, 4, 1, 5], [0, 0.1, 0.25, 0.5, 0.9, 1]) = 1, 1, 1, 3, 4.6, 5).
    #[test]
    fn quantile_is_type_7() {
        let mut v = vec![3.0, 1.0, 4.0, 1.0, 5.0];
        let want = [
            (0.0, 1.0),
            (0.1, 1.0),
            (0.25, 1.0),
            (0.5, 3.0),
            (0.9, 4.6),
            (1.0, 5.0),
        ];
        for (q, w) in want {
            assert!((quantile(&mut v, q) - w).abs() < 1e-12, "q {q}");
        }
        assert_eq!(v, vec![1.0, 1.0, 3.0, 4.0, 5.0]);
        let mut u = vec![10.0, 0.0, 20.0, 30.0];
        // positions 0.15 and 2.85 of 0..3
        let (lo, hi) = quantile_pair(&mut u, 0.05, 0.95);
        assert!((lo - 1.5).abs() < 1e-12 && (hi - 28.5).abs() < 1e-12);
        assert!(quantile_sorted(&[], 0.5).is_nan());
        assert_eq!(quantile_sorted(&[2.0], 0.7), 2.0);
        assert_eq!(quantile_sorted(&[1.0, 2.0], 7.0), 2.0);
    }
}
