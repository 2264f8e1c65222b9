//! The magnesium concentration that drives a simulation: a fixed value, a sweep, or a time course
//! (for example the ionised CSF Mg predicted for an infusion regimen, brain.md §7, §9 step 0).
//!
//! Acute effects only: \[Mg\]o enters the NMDA block (and through it NMDA-mediated Ca²⁺ in the
//! plasticity rules). Chronic (Slutsky-type) structural effects of raised brain Mg are *not* modelled.
use crate::error::{NeuroError, Result};
use crate::mg_block::MgBlock;
use serde::Serialize;

/// Largest number of points a sweep may have.
pub const MAX_SWEEP_POINTS: usize = 10_000;

/// Extracellular \[Mg\] as a function of time.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub enum MgDrive {
    /// Constant concentration (mM).
    Fixed(f64),
    /// Piecewise-linear time course: `(t_h, mg_mm)` points, strictly increasing in time.
    /// Before the first point the first value holds; after the last point the last value holds.
    TimeCourse(Vec<(f64, f64)>),
}

impl MgDrive {
    /// A validated fixed concentration.
    pub fn fixed(mg_mm: f64) -> Result<Self> {
        Ok(MgDrive::Fixed(MgBlock::check_mg(mg_mm)?))
    }

    /// A validated time course (`t_h` strictly increasing, every `mg_mm` in range, ≥ 1 point).
    pub fn time_course(points: Vec<(f64, f64)>) -> Result<Self> {
        if points.is_empty() {
            return Err(NeuroError::InvalidParameter {
                field: "mg_time_course",
                value: "[]".into(),
                allowed: "at least one (t_h, mg_mm) point",
            });
        }
        for (k, &(t_h, mg_mm)) in points.iter().enumerate() {
            if !t_h.is_finite() || (k > 0 && t_h <= points[k - 1].0) {
                return Err(NeuroError::InvalidParameter {
                    field: "mg_time_course.t_h",
                    value: format!("{t_h} at index {k}"),
                    allowed: "finite times in hours, strictly increasing",
                });
            }
            MgBlock::check_mg(mg_mm)?;
        }
        Ok(MgDrive::TimeCourse(points))
    }

    /// \[Mg\] (mM) at time `t_h` (hours since the start of the time course).
    pub fn mg_mm_at_h(&self, t_h: f64) -> f64 {
        match self {
            MgDrive::Fixed(m) => *m,
            MgDrive::TimeCourse(p) => {
                if t_h <= p[0].0 {
                    return p[0].1;
                }
                let last = p[p.len() - 1];
                if t_h >= last.0 {
                    return last.1;
                }
                // binary search for the segment containing t_h
                let k = p.partition_point(|&(t, _)| t <= t_h);
                let (t0, m0) = p[k - 1];
                let (t1, m1) = p[k];
                m0 + (m1 - m0) * (t_h - t0) / (t1 - t0)
            }
        }
    }
}

/// What `--mg` asked for on the command line.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub enum MgSpec {
    /// One concentration (mM).
    Fixed(f64),
    /// `start:stop:step` (mM), inclusive of `stop` when it lies on the grid.
    Sweep {
        start_mm: f64,
        stop_mm: f64,
        step_mm: f64,
    },
}

impl MgSpec {
    /// Parse `1.0` or `0.8:2.0:0.1`.
    pub fn parse(s: &str) -> Result<Self> {
        let bad = |allowed: &'static str| NeuroError::InvalidParameter {
            field: "mg",
            value: s.to_string(),
            allowed,
        };
        let parts: Vec<&str> = s.split(':').map(str::trim).collect();
        let num = |p: &str| -> Result<f64> {
            p.parse::<f64>().map_err(|_| {
                bad("a number in mM (e.g. 1.0) or a sweep START:STOP:STEP (e.g. 0.8:2.0:0.1)")
            })
        };
        match parts.len() {
            1 => Ok(MgSpec::Fixed(MgBlock::check_mg(num(parts[0])?)?)),
            3 => {
                let (a, b, st) = (num(parts[0])?, num(parts[1])?, num(parts[2])?);
                MgBlock::check_mg(a)?;
                MgBlock::check_mg(b)?;
                if !(st.is_finite() && st > 0.0) || b < a {
                    return Err(bad("START <= STOP and STEP > 0 (e.g. 0.8:2.0:0.1)"));
                }
                let spec = MgSpec::Sweep {
                    start_mm: a,
                    stop_mm: b,
                    step_mm: st,
                };
                if spec.values().len() > MAX_SWEEP_POINTS {
                    return Err(bad("at most 10000 sweep points"));
                }
                Ok(spec)
            }
            _ => Err(bad(
                "a number in mM (e.g. 1.0) or a sweep START:STOP:STEP (e.g. 0.8:2.0:0.1)",
            )),
        }
    }

    /// The concentrations (mM) this spec stands for.
    pub fn values(&self) -> Vec<f64> {
        match *self {
            MgSpec::Fixed(m) => vec![m],
            MgSpec::Sweep {
                start_mm,
                stop_mm,
                step_mm,
            } => {
                let n = ((stop_mm - start_mm) / step_mm + 1e-9).floor() as usize + 1;
                (0..n.min(MAX_SWEEP_POINTS + 1))
                    .map(|k| {
                        let v = start_mm + k as f64 * step_mm;
                        (v * 1e9).round() / 1e9
                    })
                    .collect()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sweep_is_inclusive_and_exact_on_grid() {
        let v = MgSpec::parse("0.8:2.0:0.1").unwrap().values();
        assert_eq!(v.len(), 13);
        assert_eq!(v[0], 0.8);
        assert_eq!(v[12], 2.0);
        assert_eq!(v[2], 1.0);
    }

    #[test]
    fn bad_specs_name_the_field() {
        for s in [
            "abc",
            "1:2",
            "2.0:1.0:0.1",
            "0.8:2.0:0",
            "-1",
            "50",
            "nan",
            "0:1:1e-9",
        ] {
            let e = MgSpec::parse(s).unwrap_err().to_string();
            assert!(e.contains("mg"), "{s}: {e}");
        }
    }

    #[test]
    fn time_course_interpolates_and_clamps() {
        let d = MgDrive::time_course(vec![(0.0, 0.8), (2.0, 1.0), (4.0, 1.2)]).unwrap();
        assert_eq!(d.mg_mm_at_h(-1.0), 0.8);
        assert!((d.mg_mm_at_h(1.0) - 0.9).abs() < 1e-12);
        assert!((d.mg_mm_at_h(3.0) - 1.1).abs() < 1e-12);
        assert_eq!(d.mg_mm_at_h(10.0), 1.2);
        assert!(MgDrive::time_course(vec![(1.0, 0.8), (1.0, 0.9)]).is_err());
        assert!(MgDrive::time_course(vec![]).is_err());
        assert!(MgDrive::fixed(-0.1).is_err());
    }
}
