//! Four f64 lanes for the batch loops, in two implementations with the same IEEE results:
//! `wide::f64x4` (the baseline build: two SSE2 registers) and one AVX register, selected at
//! run time where the CPU has AVX2 (no FMA is used, so every lane is rounded exactly as in the
//! baseline build and the results do not depend on the CPU).

use wide::{f64x4, CmpGe, CmpGt, CmpLe, CmpLt};

/// The operations the batch loops need on 4 lanes.
pub(crate) trait V4: Copy {
    fn splat(x: f64) -> Self;
    /// lanes x[0..4]
    fn load(x: &[f64]) -> Self;
    fn store(self, x: &mut [f64]);
    fn add(self, o: Self) -> Self;
    fn sub(self, o: Self) -> Self;
    fn mul(self, o: Self) -> Self;
    fn div(self, o: Self) -> Self;
    /// lane masks (all ones where true)
    fn gt(self, o: Self) -> Self;
    fn lt(self, o: Self) -> Self;
    fn ge(self, o: Self) -> Self;
    fn le(self, o: Self) -> Self;
    fn and(self, o: Self) -> Self;
    fn or(self, o: Self) -> Self;
    /// where mask `self`: t, else f
    fn select(self, t: Self, f: Self) -> Self;
    /// bit k set when lane k of the mask is true
    fn bits(self) -> u32;
    /// truncation to i32 of lanes known to be in i32 range (not NaN)
    fn trunc_i32(self) -> [i32; 4];
    fn to_array(self) -> [f64; 4] {
        let mut a = [0.0; 4];
        self.store(&mut a);
        a
    }
}

impl V4 for f64x4 {
    #[inline(always)]
    fn splat(x: f64) -> Self {
        f64x4::splat(x)
    }
    #[inline(always)]
    fn load(x: &[f64]) -> Self {
        f64x4::new(x[..4].try_into().expect("4 lanes"))
    }
    #[inline(always)]
    fn store(self, x: &mut [f64]) {
        x[..4].copy_from_slice(&f64x4::to_array(self));
    }
    #[inline(always)]
    fn add(self, o: Self) -> Self {
        self + o
    }
    #[inline(always)]
    fn sub(self, o: Self) -> Self {
        self - o
    }
    #[inline(always)]
    fn mul(self, o: Self) -> Self {
        self * o
    }
    #[inline(always)]
    fn div(self, o: Self) -> Self {
        self / o
    }
    #[inline(always)]
    fn gt(self, o: Self) -> Self {
        self.cmp_gt(o)
    }
    #[inline(always)]
    fn lt(self, o: Self) -> Self {
        self.cmp_lt(o)
    }
    #[inline(always)]
    fn ge(self, o: Self) -> Self {
        self.cmp_ge(o)
    }
    #[inline(always)]
    fn le(self, o: Self) -> Self {
        self.cmp_le(o)
    }
    #[inline(always)]
    fn and(self, o: Self) -> Self {
        self & o
    }
    #[inline(always)]
    fn or(self, o: Self) -> Self {
        self | o
    }
    #[inline(always)]
    fn select(self, t: Self, f: Self) -> Self {
        self.blend(t, f)
    }
    #[inline(always)]
    fn bits(self) -> u32 {
        self.move_mask() as u32
    }
    #[inline(always)]
    fn trunc_i32(self) -> [i32; 4] {
        f64x4::to_array(self).map(|x| x as i32)
    }
}

#[cfg(target_arch = "x86_64")]
pub(crate) use avx::Avx;

#[cfg(target_arch = "x86_64")]
mod avx {
    use super::V4;
    use std::arch::x86_64::*;

    /// One AVX register. Only to be used inside functions compiled with
    /// `#[target_feature(enable = "avx2")]` and called after checking the CPU.
    #[derive(Clone, Copy)]
    pub(crate) struct Avx(__m256d);

    // SAFETY (all methods): `Avx` values exist only in code that runs after the AVX2 check
    // (the batch loops' dispatch), and `load`/`store` check the slice length.
    impl V4 for Avx {
        #[inline(always)]
        fn splat(x: f64) -> Self {
            Avx(unsafe { _mm256_set1_pd(x) })
        }
        #[inline(always)]
        fn load(x: &[f64]) -> Self {
            assert!(x.len() >= 4);
            Avx(unsafe { _mm256_loadu_pd(x.as_ptr()) })
        }
        #[inline(always)]
        fn store(self, x: &mut [f64]) {
            assert!(x.len() >= 4);
            unsafe { _mm256_storeu_pd(x.as_mut_ptr(), self.0) }
        }
        #[inline(always)]
        fn add(self, o: Self) -> Self {
            Avx(unsafe { _mm256_add_pd(self.0, o.0) })
        }
        #[inline(always)]
        fn sub(self, o: Self) -> Self {
            Avx(unsafe { _mm256_sub_pd(self.0, o.0) })
        }
        #[inline(always)]
        fn mul(self, o: Self) -> Self {
            Avx(unsafe { _mm256_mul_pd(self.0, o.0) })
        }
        #[inline(always)]
        fn div(self, o: Self) -> Self {
            Avx(unsafe { _mm256_div_pd(self.0, o.0) })
        }
        #[inline(always)]
        fn gt(self, o: Self) -> Self {
            Avx(unsafe { _mm256_cmp_pd::<_CMP_GT_OQ>(self.0, o.0) })
        }
        #[inline(always)]
        fn lt(self, o: Self) -> Self {
            Avx(unsafe { _mm256_cmp_pd::<_CMP_LT_OQ>(self.0, o.0) })
        }
        #[inline(always)]
        fn ge(self, o: Self) -> Self {
            Avx(unsafe { _mm256_cmp_pd::<_CMP_GE_OQ>(self.0, o.0) })
        }
        #[inline(always)]
        fn le(self, o: Self) -> Self {
            Avx(unsafe { _mm256_cmp_pd::<_CMP_LE_OQ>(self.0, o.0) })
        }
        #[inline(always)]
        fn and(self, o: Self) -> Self {
            Avx(unsafe { _mm256_and_pd(self.0, o.0) })
        }
        #[inline(always)]
        fn or(self, o: Self) -> Self {
            Avx(unsafe { _mm256_or_pd(self.0, o.0) })
        }
        #[inline(always)]
        fn select(self, t: Self, f: Self) -> Self {
            Avx(unsafe { _mm256_blendv_pd(f.0, t.0, self.0) })
        }
        #[inline(always)]
        fn bits(self) -> u32 {
            (unsafe { _mm256_movemask_pd(self.0) }) as u32
        }
        #[inline(always)]
        fn trunc_i32(self) -> [i32; 4] {
            let mut out = [0i32; 4];
            unsafe {
                _mm_storeu_si128(
                    out.as_mut_ptr() as *mut __m128i,
                    _mm256_cvttpd_epi32(self.0),
                )
            };
            out
        }
    }
}

/// x = k·ln 2 + r with |r| ≤ ln 2 / 2 (Cody–Waite: k·ln2_hi is exact), e^r − 1 by its
/// Taylor series to r¹³ (truncation < 1e-17 relative) and 2^k; only adds and multiplies, so the
/// baseline and AVX lanes give the same bits. For |x| ≤ 700.
#[inline(always)]
fn reduce<V: V4>(x: V) -> (V, V) {
    const LN2_HI: f64 = 0.693_147_180_369_123_8;
    const LN2_LO: f64 = 1.908_214_929_270_587_7e-10;
    const ROUND: f64 = 6_755_399_441_055_744.0; // 1.5·2^52: adding and subtracting rounds
    let k = x
        .mul(V::splat(std::f64::consts::LOG2_E))
        .add(V::splat(ROUND))
        .sub(V::splat(ROUND));
    let r = x.sub(k.mul(V::splat(LN2_HI))).sub(k.mul(V::splat(LN2_LO)));
    // 1/2! … 1/13!
    const C: [f64; 12] = [
        1.0 / 2.0,
        1.0 / 6.0,
        1.0 / 24.0,
        1.0 / 120.0,
        1.0 / 720.0,
        1.0 / 5040.0,
        1.0 / 40320.0,
        1.0 / 362880.0,
        1.0 / 3628800.0,
        1.0 / 39916800.0,
        1.0 / 479001600.0,
        1.0 / 6227020800.0,
    ];
    let mut q = V::splat(C[11]);
    for &c in C[..11].iter().rev() {
        q = q.mul(r).add(V::splat(c));
    }
    let p = r.add(r.mul(r).mul(q));
    // 2^k from the exponent bits (k in [−1010, 1010])
    let two_k = V::load(
        &k.to_array()
            .map(|k| f64::from_bits(((k as i64 + 1023) as u64) << 52)),
    );
    (p, two_k)
}

/// e^x − 1 on 4 lanes for x ≤ 0 (the step exponentials of the modal algebra; x below −700
/// gives −1, as libm does in double precision): e^x − 1 = 2^k·(e^r − 1) + (2^k − 1) with the
/// reduction of [`reduce`]. Within 2 ulp of libm's `expm1` (tested).
#[inline(always)]
pub(crate) fn expm1<V: V4>(x: V) -> V {
    let lo = V::splat(-700.0);
    let x = x.lt(lo).select(lo, x);
    let (p, two_k) = reduce(x);
    two_k.mul(p).add(two_k.sub(V::splat(1.0)))
}

/// e^x on 4 lanes: 2^k·(1 + (e^r − 1)) with the reduction of [`reduce`] for |x| ≤ 700, libm's
/// `exp` for the (never seen in practice) lanes outside or NaN, each lane on its own. Within 2 ulp of libm (tested).
#[inline(always)]
pub(crate) fn exp<V: V4>(x: V) -> V {
    let lim = V::splat(700.0);
    let inside = x.le(lim).and(x.ge(V::splat(-700.0)));
    let (p, two_k) = reduce(inside.select(x, V::splat(0.0)));
    let y = two_k.mul(V::splat(1.0).add(p));
    let bits = inside.bits();
    if bits == 0b1111 {
        return y;
    }
    // each lane on its own (a lane's value never depends on the others)
    let (mut ya, xa) = (y.to_array(), x.to_array());
    for k in 0..4 {
        if bits >> k & 1 == 0 {
            ya[k] = xa[k].exp();
        }
    }
    V::load(&ya)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exp_within_two_ulp_of_libm() {
        let mut xs: Vec<f64> = (-7000..=7000).map(|k| k as f64 * 0.1 + 0.0123).collect();
        xs.extend((-2000..=2000).map(|k| k as f64 * 1e-3));
        xs.extend([
            0.0,
            -0.0,
            1e-300,
            699.9,
            -699.9,
            709.0,
            -745.0,
            800.0,
            f64::NAN,
        ]);
        for ch in xs.chunks(4) {
            let mut a = [0.5; 4];
            a[..ch.len()].copy_from_slice(ch);
            let got = exp(f64x4::new(a)).to_array();
            for (x, g) in a.iter().zip(got) {
                let want = x.exp();
                if want.is_nan() {
                    assert!(g.is_nan());
                    continue;
                }
                let ulp = (want.abs() * f64::EPSILON).max(f64::MIN_POSITIVE);
                assert!(
                    (g - want).abs() <= 2.0 * ulp || g == want,
                    "exp({x}) = {g}, libm {want}"
                );
            }
        }
    }

    #[test]
    fn expm1_within_two_ulp_of_libm() {
        let mut worst = 0.0f64;
        let mut x = -760.0f64;
        let mut xs = Vec::new();
        while x < 0.0 {
            xs.push(x);
            x = if x < -1.0 {
                x * 0.999 + 0.0005
            } else {
                x * 0.99
            };
            if x > -1e-300 {
                break;
            }
        }
        xs.extend([
            -0.0,
            -1e-320,
            -0.34657359,
            -0.34657360,
            -std::f64::consts::LN_2,
            -709.0,
            -1e6,
        ]);
        for ch in xs.chunks(4) {
            let mut a = [-1.0; 4];
            a[..ch.len()].copy_from_slice(ch);
            let got = expm1(f64x4::new(a)).to_array();
            for (x, g) in a.iter().zip(got) {
                let want = x.exp_m1();
                let ulp = (want.abs() * f64::EPSILON).max(f64::MIN_POSITIVE);
                worst = worst.max((g - want).abs() / ulp);
                assert!(
                    (g - want).abs() <= 2.0 * ulp,
                    "expm1({x}) = {g}, libm {want}"
                );
            }
        }
        assert!(worst <= 2.0, "{worst}");
    }

    fn ops<V: V4>(a: [f64; 4], b: [f64; 4]) -> Vec<[f64; 4]> {
        let (x, y) = (V::load(&a), V::load(&b));
        let m = x.gt(y).or(x.lt(y).and(x.ge(y))).or(x.le(y));
        vec![
            x.add(y).to_array(),
            x.sub(y).to_array(),
            x.mul(y).to_array(),
            x.div(y).to_array(),
            expm1(x).to_array(),
            x.gt(y).select(x, y).to_array(),
            [
                m.bits() as f64,
                x.ge(y).bits() as f64,
                0.0,
                V::splat(0.5).to_array()[3],
            ],
        ]
    }

    #[test]
    fn both_implementations_agree() {
        let a = [1.0, -0.1, f64::NAN, 3.0];
        let b = [0.3, -0.1, 1.0, f64::INFINITY];
        let w = ops::<f64x4>(a, b);
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx2") {
            let v = ops::<Avx>(a, b);
            for (p, q) in w.iter().zip(&v) {
                for (x, y) in p.iter().zip(q) {
                    assert!(x.to_bits() == y.to_bits() || x.is_nan() && y.is_nan());
                }
            }
        }
        assert_eq!(w[6][0], 0b1011 as f64);
        assert_eq!(w[6][1], 0b0011 as f64);
    }
}
