//! A virtual-population trial set up on the clinical context, as the CLI, Python and the
//! distributed runner use it: the regimens (protocol ids resolved from `data/protocols`), the
//! indication's population, model, target and horizon, and limits on its size. A [`TrialSpec`] is
//! the whole setup as JSON, so a worker process can rebuild the same trial and run any range of
//! subjects; the shards' accumulators merge exactly (integer histograms), so the result is the
//! same bit for bit whatever the number of shards, workers or threads.

use serde::{Deserialize, Serialize};

use mgiv_core::model::ModelSpec;
use mgiv_core::regimen::Regimen;
use mgiv_core::simulate::uniform_times;
use mgiv_core::{MgivError, Warning};
use mgiv_pop::population::PopulationSpec;
use mgiv_pop::trial::{Trial, TrialConfig, TrialRegimen, TrialResult};
use mgiv_safety::protocol::find_protocol;
use mgiv_safety::SafetyError;

use crate::context::{ClinicalContext, ContextInput};

/// Where a trial's context notes come from.
const CONTEXT_SOURCE: &str =
    "mgiv clinical context (data/indications, data/populations, data/models)";

/// Most virtual patients per run (memory stays flat; time grows linearly, about 1 s per million
/// patients and regimen on 2 cores). Bigger trials: shard them (`mgiv.distributed.trial`).
pub const MAX_SUBJECTS: u64 = 20_000_000;
/// Most worker threads.
pub const MAX_THREADS: usize = 256;

/// What the user asked for.
#[derive(Debug, Clone, Default)]
pub struct TrialRequest {
    /// regimen texts or protocol ids
    pub regimens: Vec<String>,
    pub indication: Option<String>,
    pub model_id: Option<String>,
    pub population: Option<String>,
    pub target_mmol_l: Option<(f64, f64)>,
    /// hours (hourly outputs); default: the indication's horizon extended to cover the regimens
    pub hours: Option<f64>,
    /// explicit output times instead (h)
    pub times_h: Option<Vec<f64>>,
    pub n: u64,
    pub seed: u64,
    /// the shard limit is checked per run unless the caller shards (distributed runs)
    pub max_subjects: Option<u64>,
}

/// The setup, with the context it came from.
#[derive(Debug, Clone)]
pub struct TrialSetup {
    pub ctx: ClinicalContext,
    pub spec: TrialSpec,
    pub horizon_h: f64,
    pub horizon_why: String,
}

/// Everything a worker needs to rebuild the trial (serialisable).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrialSpec {
    pub model: ModelSpec,
    pub population: PopulationSpec,
    pub regimens: Vec<TrialRegimen>,
    pub cfg: TrialConfig,
    /// the context (indication, population, model, target, horizon and their reasons, and the
    /// context alerts), carried into the result's warnings
    pub notes: Vec<Warning>,
}

/// A protocol id or alias is replaced by its regimen; anything else is regimen text.
pub fn resolve_regimen(text: &str) -> (TrialRegimen, Option<String>) {
    match find_protocol(text) {
        Ok(p) => (
            TrialRegimen {
                label: p.id.clone(),
                text: p.regimen.clone(),
            },
            Some(p.id.clone()),
        ),
        Err(_) => (
            TrialRegimen {
                label: text.trim().to_string(),
                text: text.to_string(),
            },
            None,
        ),
    }
}

/// Set a trial up on the clinical context.
pub fn trial_setup(req: &TrialRequest) -> Result<TrialSetup, SafetyError> {
    let max = req.max_subjects.unwrap_or(MAX_SUBJECTS);
    if !(1..=max).contains(&req.n) {
        return Err(SafetyError::Invalid {
            field: "--n (number of virtual patients)".into(),
            value: req.n.to_string(),
            allowed: format!(
                "1 to {max} virtual patients per run; split bigger trials into shards (mgiv.distributed.trial)"
            ),
        });
    }
    if req.regimens.is_empty() {
        return Err(SafetyError::Invalid {
            field: "regimens".into(),
            value: "none".into(),
            allowed: "at least one regimen text or protocol id".into(),
        });
    }
    let resolved: Vec<(TrialRegimen, Option<String>)> =
        req.regimens.iter().map(|r| resolve_regimen(r)).collect();
    let ctx = ClinicalContext::build(&ContextInput {
        indication: req.indication.clone(),
        named_protocols: resolved.iter().filter_map(|r| r.1.clone()).collect(),
        model_id: req.model_id.clone(),
        population: req.population.clone(),
        target_mmol_l: req.target_mmol_l,
        population_level: true,
        ..Default::default()
    })?;
    let regimens: Vec<TrialRegimen> = resolved.into_iter().map(|r| r.0).collect();
    let mut last_h: f64 = 0.0;
    for r in &regimens {
        // a 70-kg reference weight only to resolve per-kg doses for the horizon length (not data)
        let reg = Regimen::from_text(&r.text, Some(70.0)).map_err(|e| SafetyError::Invalid {
            field: format!("regimen '{}'", r.label),
            value: r.text.clone(),
            allowed: e.to_string(),
        })?;
        last_h = last_h.max(reg.last_finite_time_h());
    }
    let (horizon_h, horizon_why) = ctx.horizon_for(last_h, req.hours);
    let times_h = match &req.times_h {
        Some(t) => {
            mgiv_core::solver::check_times(t)?;
            if t.is_empty() || t.len() > 10_000 {
                return Err(SafetyError::Invalid {
                    field: "times_h".into(),
                    value: format!("{} times", t.len()),
                    allowed: "1 to 10000 output times".into(),
                });
            }
            t.clone()
        }
        None => uniform_times(horizon_h, 1.0)?,
    };
    let notes: Vec<Warning> = ctx
        .describe()
        .into_iter()
        .map(|line| Warning::new("CTX-CHOICE", line, CONTEXT_SOURCE))
        .chain(std::iter::once(Warning::new(
            "CTX-HORIZON",
            format!("Horizon: {horizon_h} h ({horizon_why})"),
            CONTEXT_SOURCE,
        )))
        .chain(
            ctx.alerts
                .iter()
                .filter(|x| x.code != "CTX-INDICATION")
                .map(|x| {
                    Warning::new(
                        &x.code,
                        format!("[{}] {}: {}", x.severity.label(), x.code, x.message),
                        &x.source,
                    )
                }),
        )
        .collect();
    let spec = TrialSpec {
        model: ctx.model.clone(),
        population: ctx.population.clone(),
        regimens,
        cfg: TrialConfig {
            n_subjects: req.n,
            seed: req.seed,
            times_h,
            target_mmol_l: (ctx.target.lo_mmol_l, ctx.target.hi_mmol_l),
            thresholds_mmol_l: trial_thresholds_mmol_l(&ctx)?,
        },
        notes,
    };
    // build it once here so bad regimens are reported before any work
    spec.trial()?;
    Ok(TrialSetup {
        ctx,
        spec,
        horizon_h,
        horizon_why,
    })
}

impl TrialSpec {
    pub fn trial(&self) -> Result<Trial, MgivError> {
        Trial::new(
            &self.model,
            &self.population,
            &self.regimens,
            self.cfg.clone(),
        )
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    pub fn from_json(text: &str) -> Result<TrialSpec, MgivError> {
        serde_json::from_str(text).map_err(|e| {
            mgiv_core::error::invalid("trial spec", "JSON", format!("a TrialSpec ({e})"))
        })
    }

    /// The shard [start, end) of subjects: `(start, end)` ranges of [`shard_ranges`].
    pub fn run_shard(&self, start: u64, end: u64) -> Result<Vec<u8>, MgivError> {
        if !(start <= end && end <= self.cfg.n_subjects) {
            return Err(mgiv_core::error::invalid(
                "shard",
                format!("{start}..{end}"),
                format!("a range within 0..{}", self.cfg.n_subjects),
            ));
        }
        Ok(self.trial()?.run_range(start, end, None).to_bytes())
    }

    /// Merge shard accumulators (any order) and summarise; they must cover every subject once.
    pub fn summarise(&self, shards: &[Vec<u8>]) -> Result<TrialResult, MgivError> {
        let trial = self.trial()?;
        let mut acc = trial.empty_accumulator();
        for s in shards {
            acc = acc.merge(trial.accumulator_from_bytes(s)?);
        }
        if acc.n != self.cfg.n_subjects {
            return Err(mgiv_core::error::invalid(
                "shards",
                format!("{} subjects", acc.n),
                format!("shards covering all {} subjects once", self.cfg.n_subjects),
            ));
        }
        let mut r = trial.summarise(&acc)?;
        r.warnings.extend(self.notes.iter().cloned());
        Ok(r)
    }
}

/// Split `n` subjects into `k` contiguous ranges by subject index (sizes differ by at most 1).
pub fn shard_ranges(n: u64, k: u64) -> Vec<(u64, u64)> {
    let k = k.clamp(1, n.max(1));
    (0..k).map(|i| (n * i / k, n * (i + 1) / k)).collect()
}

/// The levels whose crossing a trial counts, in increasing order: reflexes decrease (USPI,
/// data/ranges/serum-mg.toml `dtr-decrease`), then the indication's toxic and emergency
/// thresholds (data/indications).
fn trial_thresholds_mmol_l(ctx: &ClinicalContext) -> Result<Vec<f64>, SafetyError> {
    let levels = mgiv_core::ranges::serum_levels()?;
    let dtr = levels
        .thresholds
        .iter()
        .find(|t| t.id == "dtr-decrease")
        .map(|t| t.mmol_l)
        .ok_or_else(|| SafetyError::Data {
            file: "data/ranges/serum-mg.toml".into(),
            message: "threshold dtr-decrease missing".into(),
        })?;
    let mut th = vec![
        dtr,
        ctx.thresholds.toxic_mmol_l,
        ctx.thresholds.emergency_mmol_l,
    ];
    th.sort_by(f64::total_cmp);
    th.dedup();
    Ok(th)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sharded_runs_equal_the_whole_run_bit_for_bit() {
        let s = trial_setup(&TrialRequest {
            regimens: vec![
                "zuspan".into(),
                "6 g over 20 min, then 2 g/h for 24 h".into(),
            ],
            n: 3001,
            seed: 7,
            ..Default::default()
        })
        .unwrap();
        let whole = s
            .spec
            .summarise(&[s.spec.run_shard(0, 3001).unwrap()])
            .unwrap();
        let direct = {
            let mut r = s.spec.trial().unwrap().run(None).unwrap();
            r.warnings.extend(s.spec.notes.iter().cloned());
            r
        };
        assert_eq!(whole, direct);
        for k in [2, 3, 8] {
            let mut shards: Vec<Vec<u8>> = shard_ranges(3001, k)
                .into_iter()
                .map(|(a, b)| s.spec.run_shard(a, b).unwrap())
                .collect();
            shards.reverse(); // any order
            assert_eq!(s.spec.summarise(&shards).unwrap(), whole, "k = {k}");
        }
        // a spec survives JSON, as it does on its way to a worker
        let back = TrialSpec::from_json(&s.spec.to_json()).unwrap();
        assert_eq!(back, s.spec);
        // a missing shard is an error, not a smaller trial
        let part = s.spec.run_shard(0, 1000).unwrap();
        assert!(s.spec.summarise(&[part]).is_err());
        assert!(s.spec.summarise(&[vec![1, 2, 3]]).is_err());
    }

    #[test]
    fn the_trial_follows_the_indication() {
        let s = trial_setup(&TrialRequest {
            regimens: vec!["mash-2".into()],
            n: 10,
            seed: 1,
            ..Default::default()
        })
        .unwrap();
        assert_eq!(s.ctx.indication.id, "sah");
        assert_eq!(s.spec.population.id, "adult");
        assert!(s.horizon_h >= 14.0 * 24.0);
        assert!(trial_setup(&TrialRequest {
            regimens: vec!["zuspan".into()],
            n: MAX_SUBJECTS + 1,
            seed: 1,
            ..Default::default()
        })
        .is_err());
        assert_eq!(shard_ranges(10, 3), vec![(0, 3), (3, 6), (6, 10)]);
    }
}
