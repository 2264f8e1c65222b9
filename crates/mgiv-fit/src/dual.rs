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
}
