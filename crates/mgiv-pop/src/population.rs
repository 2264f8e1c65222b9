//! Virtual-population covariate distributions (`data/populations/*.toml`, compiled in), each
//! distribution with its source or marked as an assumption.

use mgiv_core::error::{invalid, MgivError};
use serde::{Deserialize, Serialize};

use crate::rng::SubjectRng;

/// Built-in population files.
pub const BUILTIN_POPULATION_FILES: &[(&str, &str)] = &[
    (
        "pre-eclampsia",
        include_str!("../../../data/populations/pre-eclampsia.toml"),
    ),
    (
        "pregnant",
        include_str!("../../../data/populations/pregnant.toml"),
    ),
    (
        "adult",
        include_str!("../../../data/populations/adult.toml"),
    ),
    ("icu", include_str!("../../../data/populations/icu.toml")),
    (
        "community",
        include_str!("../../../data/populations/community.toml"),
    ),
];

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DistKind {
    /// log-normal with the given arithmetic mean and SD
    LogNormal,
    /// normal with the given mean and SD
    Normal,
}

/// A truncated distribution of one covariate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Distribution {
    pub dist: DistKind,
    pub mean: f64,
    pub sd: f64,
    pub min: f64,
    pub max: f64,
    pub source: String,
}

impl Distribution {
    fn check(&self, field: &str) -> Result<(), MgivError> {
        let ok = self.mean.is_finite()
            && self.sd.is_finite()
            && self.sd >= 0.0
            && self.min < self.max
            && self.mean > self.min
            && self.mean < self.max
            && (self.dist == DistKind::Normal || self.min >= 0.0 && self.mean > 0.0);
        if ok {
            Ok(())
        } else {
            Err(invalid(
                field,
                format!(
                    "{:?} mean {} sd {} in [{}, {}]",
                    self.dist, self.mean, self.sd, self.min, self.max
                ),
                "a positive SD and min < mean < max (min ≥ 0 for a log-normal)",
            ))
        }
    }

    /// One draw, truncated to [min, max] by rejection (at most 64 tries, then clamped).
    pub fn draw(&self, rng: &mut SubjectRng) -> f64 {
        self.sampler().draw(rng)
    }

    /// The draw's constants (log-normal μ and σ), computed once.
    pub fn sampler(&self) -> Sampler {
        let (mu, sigma, log) = match self.dist {
            DistKind::Normal => (self.mean, self.sd, false),
            DistKind::LogNormal => {
                let s2 = (1.0 + (self.sd / self.mean).powi(2)).ln();
                (self.mean.ln() - 0.5 * s2, s2.sqrt(), true)
            }
        };
        Sampler {
            mu,
            sigma,
            log,
            mean: if log { self.mean.ln() } else { self.mean },
            min: if log { self.min.ln() } else { self.min },
            max: if log { self.max.ln() } else { self.max },
        }
    }
}

/// A [`Distribution`] ready to draw from (its constants computed once; same draws). A
/// log-normal is drawn and truncated on the log scale (ln x = μ + σz within [ln min, ln max]),
/// so a caller that needs ln x (power covariate effects) gets it without `exp` and `ln`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sampler {
    mu: f64,
    sigma: f64,
    log: bool,
    /// mean, min and max on the drawing scale (logarithms for a log-normal)
    mean: f64,
    min: f64,
    max: f64,
}

/// One drawn value, kept on the scale it was drawn on (its logarithm for a log-normal).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Drawn {
    v: f64,
    log: bool,
}

impl Drawn {
    /// The value.
    #[inline]
    pub fn value(self) -> f64 {
        if self.log {
            self.v.exp()
        } else {
            self.v
        }
    }

    /// Its natural logarithm.
    #[inline]
    pub fn ln(self) -> f64 {
        if self.log {
            self.v
        } else {
            self.v.ln()
        }
    }
}

impl Sampler {
    /// One draw, truncated to [min, max] by rejection (at most 64 tries, then clamped).
    #[inline]
    pub fn draw(&self, rng: &mut SubjectRng) -> f64 {
        self.draw_raw(rng).value()
    }

    /// [`Self::draw`] on the drawing scale (the same draw).
    #[inline]
    pub fn draw_raw(&self, rng: &mut SubjectRng) -> Drawn {
        let mut x = self.mean;
        for _ in 0..64 {
            x = self.mu + self.sigma * rng.normal();
            if x >= self.min && x <= self.max {
                return Drawn {
                    v: x,
                    log: self.log,
                };
            }
        }
        Drawn {
            v: x.clamp(self.min, self.max),
            log: self.log,
        }
    }
}

/// A population's covariate distributions ready to draw from.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PopulationSampler {
    weight_kg: Sampler,
    scr_mg_dl: Sampler,
    baseline_mmol_l: Sampler,
    pregnant: bool,
    pre_eclampsia: bool,
}

impl PopulationSampler {
    /// The same draws as [`PopulationSpec::draw`].
    #[inline]
    pub fn draw(&self, rng: &mut SubjectRng) -> Covariates {
        self.draw_raw(rng).covariates()
    }

    /// [`Self::draw`] with weight and creatinine on their drawing scales (the same draws).
    #[inline]
    pub fn draw_raw(&self, rng: &mut SubjectRng) -> RawCovariates {
        RawCovariates {
            weight_kg: self.weight_kg.draw_raw(rng),
            scr_mg_dl: self.scr_mg_dl.draw_raw(rng),
            baseline_mmol_l: self.baseline_mmol_l.draw(rng),
            pregnant: self.pregnant,
            pre_eclampsia: self.pre_eclampsia,
        }
    }
}

/// One virtual subject's covariates as drawn: weight and creatinine on their drawing scales
/// (see [`Drawn`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RawCovariates {
    pub weight_kg: Drawn,
    pub scr_mg_dl: Drawn,
    pub baseline_mmol_l: f64,
    pub pregnant: bool,
    pub pre_eclampsia: bool,
}

impl RawCovariates {
    #[inline]
    pub fn covariates(&self) -> Covariates {
        Covariates {
            weight_kg: self.weight_kg.value(),
            scr_mg_dl: self.scr_mg_dl.value(),
            baseline_mmol_l: self.baseline_mmol_l,
            pregnant: self.pregnant,
            pre_eclampsia: self.pre_eclampsia,
        }
    }
}

/// A virtual population.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PopulationSpec {
    pub id: String,
    pub name: String,
    pub description: String,
    pub pregnant: bool,
    pub pre_eclampsia: bool,
    /// model used when none is named
    pub default_model: String,
    /// the indication assumed when none is given and nothing else names one (printed as an
    /// assumption by the clinical context)
    pub default_indication: String,
    pub weight_kg: Distribution,
    pub scr_mg_dl: Distribution,
    /// endogenous (pre-treatment) total serum Mg
    pub baseline_mmol_l: Distribution,
}

/// One virtual subject's covariates.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Covariates {
    pub weight_kg: f64,
    pub scr_mg_dl: f64,
    pub baseline_mmol_l: f64,
    pub pregnant: bool,
    pub pre_eclampsia: bool,
}

impl PopulationSpec {
    pub fn from_toml(text: &str) -> Result<Self, MgivError> {
        let p: PopulationSpec = toml::from_str(text).map_err(|e| MgivError::ModelFile {
            id: "(population file)".into(),
            message: e.to_string(),
        })?;
        p.weight_kg.check("population weight_kg")?;
        p.scr_mg_dl.check("population scr_mg_dl")?;
        p.baseline_mmol_l.check("population baseline_mmol_l")?;
        Ok(p)
    }

    /// Draw one subject's covariates (from the covariate stream of its generator).
    pub fn draw(&self, rng: &mut SubjectRng) -> Covariates {
        self.sampler().draw(rng)
    }

    /// The covariate distributions with their constants computed once (for many draws).
    pub fn sampler(&self) -> PopulationSampler {
        PopulationSampler {
            weight_kg: self.weight_kg.sampler(),
            scr_mg_dl: self.scr_mg_dl.sampler(),
            baseline_mmol_l: self.baseline_mmol_l.sampler(),
            pregnant: self.pregnant,
            pre_eclampsia: self.pre_eclampsia,
        }
    }
}

/// A built-in population by id.
pub fn builtin_population(id: &str) -> Result<PopulationSpec, MgivError> {
    match BUILTIN_POPULATION_FILES
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(id.trim()))
    {
        Some((_, text)) => PopulationSpec::from_toml(text),
        None => Err(invalid(
            "population",
            id,
            format!(
                "one of {}",
                BUILTIN_POPULATION_FILES
                    .iter()
                    .map(|(k, _)| *k)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        )),
    }
}

/// All built-in populations.
pub fn builtin_populations() -> Result<Vec<PopulationSpec>, MgivError> {
    BUILTIN_POPULATION_FILES
        .iter()
        .map(|(id, _)| builtin_population(id))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::Stream;

    #[test]
    fn all_load_with_sources_and_ids_match() {
        let pops = builtin_populations().unwrap();
        assert_eq!(pops.len(), 5);
        for (p, (id, _)) in pops.iter().zip(BUILTIN_POPULATION_FILES) {
            assert_eq!(&p.id, id);
            for d in [&p.weight_kg, &p.scr_mg_dl, &p.baseline_mmol_l] {
                assert!(d.source.len() > 20, "{}: source missing", p.id);
            }
            mgiv_core::model::builtin_model(&p.default_model).unwrap();
        }
        let e = builtin_population("mars").unwrap_err().to_string();
        assert!(e.contains("mars") && e.contains("pre-eclampsia") && e.contains("icu"));
    }

    #[test]
    fn draws_reproduce_the_published_moments() {
        // pre-eclampsia weight 90.3 ± 20.2 (truncation at 57-157 trims the tails a little)
        let p = builtin_population("pre-eclampsia").unwrap();
        let n = 100_000u64;
        let (mut sw, mut sw2, mut sb) = (0.0, 0.0, 0.0);
        for i in 0..n {
            let c = p.draw(&mut SubjectRng::new(1, i, Stream::Covariates));
            assert!((57.0..=157.0).contains(&c.weight_kg));
            assert!((0.4..=2.1).contains(&c.scr_mg_dl));
            sw += c.weight_kg;
            sw2 += c.weight_kg * c.weight_kg;
            sb += c.baseline_mmol_l;
        }
        let mw = sw / n as f64;
        let sdw = (sw2 / n as f64 - mw * mw).sqrt();
        assert!((mw - 90.3).abs() < 1.5, "mean weight {mw}");
        assert!((sdw - 20.2).abs() < 2.5, "sd weight {sdw}");
        assert!((sb / n as f64 - 0.75).abs() < 0.01);
    }

    #[test]
    fn icu_baseline_matches_hypomagnesaemia_prevalence() {
        let p = builtin_population("icu").unwrap();
        let n = 50_000u64;
        let low = (0..n)
            .filter(|&i| {
                p.draw(&mut SubjectRng::new(3, i, Stream::Covariates))
                    .baseline_mmol_l
                    < 0.66
            })
            .count() as f64
            / n as f64;
        // between MIMIC-II 22.6 % and lower; the file says about 18 %
        assert!((0.15..=0.23).contains(&low), "{low}");
    }
}
