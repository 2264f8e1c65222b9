//! Forward-mode dual numbers with a fixed gradient of up to [`NE`] directions: exact first
//! derivatives of predictions with respect to the random effects (no finite differences).
//!
//! Own type rather than a crate: the solver needs six operations (+ − × ÷, exp, exp_m1, sqrt,
//! ln) on a stack-allocated gradient; tested against finite differences below.

use std::ops::{Add, Div, Mul, Neg, Sub};

/// Most random effects a model can have (CL, V1, Q, V2, baseline, one spare).
pub const NE: usize = 6;

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Dual {
    pub v: f64,
    pub g: [f64; NE],
}

impl Dual {
    pub const fn cst(v: f64) -> Self {
        Dual { v, g: [0.0; NE] }
    }
    /// The variable `i` with value `v` (gradient e_i).
    pub fn var(v: f64, i: usize) -> Self {
        let mut g = [0.0; NE];
        g[i] = 1.0;
        Dual { v, g }
    }
    #[inline]
    fn chain(self, v: f64, d: f64) -> Self {
        let mut g = self.g;
        for x in g.iter_mut() {
            *x *= d;
        }
        Dual { v, g }
    }
    #[inline]
    pub fn exp(self) -> Self {
        let e = self.v.exp();
        self.chain(e, e)
    }
    /// e^x − 1, accurate near 0
    #[inline]
    pub fn exp_m1(self) -> Self {
        self.chain(self.v.exp_m1(), self.v.exp())
    }
    #[inline]
    pub fn sqrt(self) -> Self {
        let s = self.v.sqrt();
        self.chain(s, 0.5 / s)
    }
    #[inline]
    pub fn ln(self) -> Self {
        self.chain(self.v.ln(), 1.0 / self.v)
    }
    #[inline]
    pub fn sq(self) -> Self {
        self * self
    }
}

impl Add for Dual {
    type Output = Dual;
    #[inline]
    fn add(self, o: Dual) -> Dual {
        let mut g = self.g;
        for (a, b) in g.iter_mut().zip(o.g) {
            *a += b;
        }
        Dual { v: self.v + o.v, g }
    }
}
impl Sub for Dual {
    type Output = Dual;
    #[inline]
    fn sub(self, o: Dual) -> Dual {
        let mut g = self.g;
        for (a, b) in g.iter_mut().zip(o.g) {
            *a -= b;
        }
        Dual { v: self.v - o.v, g }
    }
}
impl Mul for Dual {
    type Output = Dual;
    #[inline]
    fn mul(self, o: Dual) -> Dual {
        let mut g = [0.0; NE];
        for (k, x) in g.iter_mut().enumerate() {
            *x = self.g[k] * o.v + self.v * o.g[k];
        }
        Dual { v: self.v * o.v, g }
    }
}
impl Div for Dual {
    type Output = Dual;
    #[inline]
    fn div(self, o: Dual) -> Dual {
        let inv = 1.0 / o.v;
        let q = self.v * inv;
        let mut g = [0.0; NE];
        for (k, x) in g.iter_mut().enumerate() {
            *x = (self.g[k] - q * o.g[k]) * inv;
        }
        Dual { v: q, g }
    }
}
impl Neg for Dual {
    type Output = Dual;
    #[inline]
    fn neg(self) -> Dual {
        self.chain(-self.v, -1.0)
    }
}
impl Add<f64> for Dual {
    type Output = Dual;
    #[inline]
    fn add(self, o: f64) -> Dual {
        Dual {
            v: self.v + o,
            g: self.g,
        }
    }
}
impl Sub<f64> for Dual {
    type Output = Dual;
    #[inline]
    fn sub(self, o: f64) -> Dual {
        Dual {
            v: self.v - o,
            g: self.g,
        }
    }
}
impl Mul<f64> for Dual {
    type Output = Dual;
    #[inline]
    fn mul(self, o: f64) -> Dual {
        self.chain(self.v * o, o)
    }
}
impl Div<f64> for Dual {
    type Output = Dual;
    #[inline]
    fn div(self, o: f64) -> Dual {
        self.chain(self.v / o, 1.0 / o)
    }
}

/// mgiv-core's closed-form responses are generic over the scalar: duals give their exact
/// derivatives with the same code as the f64 solver.
impl mgiv_core::solver::superposition::Scalar for Dual {
    #[inline(always)]
    fn cst(v: f64) -> Self {
        Dual::cst(v)
    }
    #[inline(always)]
    fn value(self) -> f64 {
        self.v
    }
    #[inline(always)]
    fn exp(self) -> Self {
        Dual::exp(self)
    }
    #[inline(always)]
    fn exp_m1(self) -> Self {
        Dual::exp_m1(self)
    }
}

/// What the prediction code needs of a scalar beyond mgiv-core's [`Scalar`](mgiv_core::solver::superposition::Scalar): negation and the
/// square root (implemented by [`Dual`] and [`HDual`]).
pub trait Num: mgiv_core::solver::superposition::Scalar + Neg<Output = Self> {
    fn sqrt(self) -> Self;
}

impl Num for Dual {
    #[inline(always)]
    fn sqrt(self) -> Self {
        Dual::sqrt(self)
    }
}

/// Second-order forward-mode number ("hyper-dual"): value, gradient and the full symmetric
/// Hessian in `N` directions. Used for the exact outer gradient of FOCE-I, which needs second
/// derivatives of the predictions (the Laplace term's η-Hessian depends on ∂f/∂η).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HDual<const N: usize> {
    pub v: f64,
    pub g: [f64; N],
    pub h: [[f64; N]; N],
}

impl<const N: usize> HDual<N> {
    pub const fn cst(v: f64) -> Self {
        HDual {
            v,
            g: [0.0; N],
            h: [[0.0; N]; N],
        }
    }
    /// The variable `i` with value `v`.
    pub fn var(v: f64, i: usize) -> Self {
        let mut x = Self::cst(v);
        x.g[i] = 1.0;
        x
    }
    /// φ(self) from φ, φ′, φ″ at self.v.
    #[inline]
    pub fn chain(self, f0: f64, f1: f64, f2: f64) -> Self {
        let mut out = Self::cst(f0);
        for i in 0..N {
            out.g[i] = f1 * self.g[i];
            for j in 0..N {
                out.h[i][j] = f1 * self.h[i][j] + f2 * self.g[i] * self.g[j];
            }
        }
        out
    }
    #[inline]
    pub fn exp(self) -> Self {
        let e = self.v.exp();
        self.chain(e, e, e)
    }
    #[inline]
    pub fn exp_m1(self) -> Self {
        let e = self.v.exp();
        self.chain(self.v.exp_m1(), e, e)
    }
    #[inline]
    pub fn sqrt(self) -> Self {
        let s = self.v.sqrt();
        self.chain(s, 0.5 / s, -0.25 / (s * self.v))
    }
    #[inline]
    pub fn ln(self) -> Self {
        let r = 1.0 / self.v;
        self.chain(self.v.ln(), r, -r * r)
    }
    #[inline]
    pub fn recip(self) -> Self {
        let r = 1.0 / self.v;
        self.chain(r, -r * r, 2.0 * r * r * r)
    }
    #[inline]
    pub fn sq(self) -> Self {
        self * self
    }
}

impl<const N: usize> Add for HDual<N> {
    type Output = Self;
    #[inline]
    fn add(mut self, o: Self) -> Self {
        self.v += o.v;
        for i in 0..N {
            self.g[i] += o.g[i];
            for j in 0..N {
                self.h[i][j] += o.h[i][j];
            }
        }
        self
    }
}
impl<const N: usize> Sub for HDual<N> {
    type Output = Self;
    #[inline]
    fn sub(mut self, o: Self) -> Self {
        self.v -= o.v;
        for i in 0..N {
            self.g[i] -= o.g[i];
            for j in 0..N {
                self.h[i][j] -= o.h[i][j];
            }
        }
        self
    }
}
impl<const N: usize> Mul for HDual<N> {
    type Output = Self;
    #[inline]
    fn mul(self, o: Self) -> Self {
        let mut out = Self::cst(self.v * o.v);
        for i in 0..N {
            out.g[i] = self.g[i] * o.v + self.v * o.g[i];
            for j in 0..N {
                out.h[i][j] = self.h[i][j] * o.v
                    + self.v * o.h[i][j]
                    + self.g[i] * o.g[j]
                    + o.g[i] * self.g[j];
            }
        }
        out
    }
}
impl<const N: usize> Div for HDual<N> {
    type Output = Self;
    #[inline]
    #[allow(clippy::suspicious_arithmetic_impl)] // a / b = a · (1/b), the Hessian of 1/b by chain
    fn div(self, o: Self) -> Self {
        self * o.recip()
    }
}
impl<const N: usize> Neg for HDual<N> {
    type Output = Self;
    #[inline]
    fn neg(self) -> Self {
        self * -1.0
    }
}
impl<const N: usize> Add<f64> for HDual<N> {
    type Output = Self;
    #[inline]
    fn add(mut self, o: f64) -> Self {
        self.v += o;
        self
    }
}
impl<const N: usize> Sub<f64> for HDual<N> {
    type Output = Self;
    #[inline]
    fn sub(mut self, o: f64) -> Self {
        self.v -= o;
        self
    }
}
impl<const N: usize> Mul<f64> for HDual<N> {
    type Output = Self;
    #[inline]
    fn mul(mut self, o: f64) -> Self {
        self.v *= o;
        for i in 0..N {
            self.g[i] *= o;
            for j in 0..N {
                self.h[i][j] *= o;
            }
        }
        self
    }
}
impl<const N: usize> Div<f64> for HDual<N> {
    type Output = Self;
    #[inline]
    fn div(self, o: f64) -> Self {
        self * (1.0 / o)
    }
}

impl<const N: usize> mgiv_core::solver::superposition::Scalar for HDual<N> {
    #[inline(always)]
    fn cst(v: f64) -> Self {
        HDual::cst(v)
    }
    #[inline(always)]
    fn value(self) -> f64 {
        self.v
    }
    #[inline(always)]
    fn exp(self) -> Self {
        HDual::exp(self)
    }
    #[inline(always)]
    fn exp_m1(self) -> Self {
        HDual::exp_m1(self)
    }
}

impl<const N: usize> Num for HDual<N> {
    #[inline(always)]
    fn sqrt(self) -> Self {
        HDual::sqrt(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(x: Dual, y: Dual) -> Dual {
        ((x * y).exp_m1() / (y.sqrt() + 1.5) - x.ln() * 2.0 + (-y).exp()) * (x - 0.3)
    }

    #[test]
    fn gradients_match_central_differences() {
        let (x0, y0) = (0.7, 1.3);
        let d = f(Dual::var(x0, 0), Dual::var(y0, 1));
        let h = 1e-6;
        let fx = |x: f64, y: f64| f(Dual::cst(x), Dual::cst(y)).v;
        let gx = (fx(x0 + h, y0) - fx(x0 - h, y0)) / (2.0 * h);
        let gy = (fx(x0, y0 + h) - fx(x0, y0 - h)) / (2.0 * h);
        assert!((d.g[0] - gx).abs() < 1e-8, "{} {gx}", d.g[0]);
        assert!((d.g[1] - gy).abs() < 1e-8, "{} {gy}", d.g[1]);
        assert_eq!(d.g[2], 0.0);
    }

    fn g<S: Num + std::ops::Add<f64, Output = S>>(x: S, y: S) -> S {
        (((x * y).exp_m1() / (y.sqrt() + 1.5) - x * 2.0) * (x - 0.3)).exp() / y
    }

    #[test]
    fn hyper_dual_hessian_matches_central_differences() {
        let (x0, y0) = (0.7, 1.3);
        let d: HDual<3> = g(HDual::var(x0, 0), HDual::var(y0, 1));
        let fx = |x: f64, y: f64| g(Dual::cst(x), Dual::cst(y)).v;
        let grad = |x: f64, y: f64| {
            let d = g(Dual::var(x, 0), Dual::var(y, 1));
            [d.g[0], d.g[1]]
        };
        assert!((d.v - fx(x0, y0)).abs() < 1e-15);
        let g0 = grad(x0, y0);
        assert!((d.g[0] - g0[0]).abs() < 1e-14 && (d.g[1] - g0[1]).abs() < 1e-14);
        let h = 1e-5;
        for (j, (dx, dy)) in [(h, 0.0), (0.0, h)].into_iter().enumerate() {
            let gp = grad(x0 + dx, y0 + dy);
            let gm = grad(x0 - dx, y0 - dy);
            for i in 0..2 {
                let fd = (gp[i] - gm[i]) / (2.0 * h);
                assert!(
                    (d.h[i][j] - fd).abs() < 1e-7 * fd.abs().max(1.0),
                    "{i}{j}: {} {fd}",
                    d.h[i][j]
                );
            }
        }
        assert_eq!(d.h[0][1], d.h[1][0]);
        assert_eq!((d.g[2], d.h[2][2], d.h[0][2]), (0.0, 0.0, 0.0));
        // ln and sqrt
        let z: HDual<1> = (HDual::var(2.0, 0).ln() * HDual::var(2.0, 0).sqrt()).recip();
        // f = 1/(ln x √x): f″ by hand at x = 2
        let x: f64 = 2.0;
        let u = x.ln() * x.sqrt();
        let du = x.sqrt() / x + x.ln() * 0.5 / x.sqrt();
        let ddu = -x.sqrt() / (x * x) + 0.5 / (x * x.sqrt()) + 0.5 / (x * x.sqrt())
            - 0.25 * x.ln() / (x * x.sqrt());
        let f2 = 2.0 * du * du / (u * u * u) - ddu / (u * u);
        assert!((z.h[0][0] - f2).abs() < 1e-13, "{} {f2}", z.h[0][0]);
        assert!((z.g[0] + du / (u * u)).abs() < 1e-14);
    }
}
