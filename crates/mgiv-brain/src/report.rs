//! One run of `mgiv brain`: serum → CSF (with intervals) → every effect, each with its evidence
//! grade and source, a summary and a plain-language paragraph.

use serde::Serialize;

use mgiv_core::error::{invalid, MgivError};
use mgiv_core::Warning;

use crate::csf::{csf_from_serum, quantile_pair, CsfCourse, CsfOptions, CsfVariant};
use crate::effects::{
    self, blood_pressure_course, check_voltage, constants, crp_assessment, excitability_shift_mv,
    plasticity_at, release_relative, standard_protocol, standard_protocol_description, status_band,
    BlockSpec, BpCourse, CrpAssessment, EffectConstants, PlasticityReadout, StatusBand,
    VascularHypothesis,
};
use crate::evidence::{claim, claims, Claim};
use mgiv_neuro::mg_block::MgBlock;
use mgiv_neuro::plasticity::Protocol;

/// Options of a brain run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BrainOptions {
    pub csf: CsfOptions,
    pub block: BlockSpec,
    /// membrane potentials (mV); the first is the one reported as `nmda_relative_conductance`
    pub voltages_mv: Vec<f64>,
    /// hypothetical cerebral-vessel module (off when None)
    pub vascular: Option<VascularHypothesis>,
    /// baseline C-reactive protein (mg/L), for the associative inflammation statement
    pub crp_mg_l: Option<f64>,
    /// the baseline serum Mg was measured in this patient (status bands are given only then)
    pub baseline_measured: bool,
    /// the patient has pre-eclampsia: the only published blood-pressure model (Lu 2002) applies
    pub pre_eclampsia: bool,
}

impl Default for BrainOptions {
    fn default() -> Self {
        BrainOptions {
            csf: CsfOptions::default(),
            block: BlockSpec::default(),
            // data/brain/effects.toml (none if the built-in file were unreadable: the report
            // then fails on the same file)
            voltages_mv: crate::effects::default_voltage_mv().into_iter().collect(),
            vascular: None,
            crp_mg_l: None,
            baseline_measured: false,
            pre_eclampsia: false,
        }
    }
}

/// One output of the effect chain.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Effect {
    pub name: String,
    /// None = not predicted (see `evidence`)
    pub value: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lo: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hi: Option<f64>,
    pub unit: String,
    pub evidence: String,
    pub source: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BrainPoint {
    pub time_h: f64,
    pub serum_mg_mmol_l: f64,
    pub csf_total_mg_mmol_l: f64,
    pub csf_total_mg_mmol_l_lo: f64,
    pub csf_total_mg_mmol_l_hi: f64,
    pub csf_ionised_mg_mmol_l: f64,
    pub csf_ionised_mg_mmol_l_lo: f64,
    pub csf_ionised_mg_mmol_l_hi: f64,
    /// NMDA conductance relative to baseline at the first voltage
    pub nmda_relative_conductance: f64,
    pub nmda_relative_conductance_lo: f64,
    pub nmda_relative_conductance_hi: f64,
    pub effects: Vec<Effect>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Peak {
    pub time_h: f64,
    pub value: f64,
    pub lo: f64,
    pub hi: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NmdaAtPeak {
    pub voltage_mv: f64,
    pub unblocked_fraction_baseline: f64,
    pub unblocked_fraction_at_peak: f64,
    pub relative_conductance: f64,
    pub relative_conductance_lo: f64,
    pub relative_conductance_hi: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PlasticitySummary {
    pub protocol: String,
    pub baseline: PlasticityReadout,
    pub at_peak_csf: PlasticityReadout,
    pub gb_change_vs_baseline: f64,
    pub shouval_change_vs_baseline: Option<f64>,
    pub evidence: String,
    pub source: String,
    pub chronic: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Summary {
    pub baseline_serum_mmol_l: f64,
    pub baseline_csf_total_mmol_l: f64,
    pub baseline_csf_ionised_mmol_l: f64,
    pub serum_peak: Peak,
    pub csf_total_peak: Peak,
    pub csf_ionised_peak: Peak,
    /// CSF total rise at its peak relative to baseline (fraction), with interval
    pub csf_rise_fraction: f64,
    pub csf_rise_fraction_lo: f64,
    pub csf_rise_fraction_hi: f64,
    pub nmda_at_peak: Vec<NmdaAtPeak>,
    pub plasticity: PlasticitySummary,
    /// largest predicted fall (Lu 2002; pre-eclampsia only, else None)
    pub sbp_nadir_mmhg: Option<f64>,
    pub dbp_nadir_mmhg: Option<f64>,
    /// interval of the largest fall from the assumed parameter uncertainty (see `bp_statement`)
    pub sbp_nadir_interval_mmhg: Option<(f64, f64)>,
    pub dbp_nadir_interval_mmhg: Option<(f64, f64)>,
    /// predicted systolic change at the last time of the series (does the fall wear off?)
    pub sbp_at_end_mmhg: Option<f64>,
    /// blood pressure in words; agrees with the numbers above
    pub bp_statement: String,
    /// the band of a measured baseline, or `not-assessed` when the baseline was not measured
    pub status: StatusBand,
    /// true when `status` comes from a measured baseline
    pub status_from_measured_baseline: bool,
    pub crp: Option<CrpAssessment>,
    /// serum peak / baseline up to which the human cerebral-blood-flow measurements cover the
    /// regimen (`data/brain/effects.toml`, `[cerebral_blood_flow] measured_serum_fold`)
    #[serde(skip)]
    pub cbf_measured_serum_fold: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GradedClaim {
    #[serde(flatten)]
    pub claim: Claim,
    /// what this run's numbers say about the claim, in plain words
    pub this_run: String,
    /// for the popular claims: the direction mgiv predicts for this regimen ("less", "more",
    /// "no appreciable change", "no change expected", "not predicted"), derived from the numbers
    #[serde(skip_serializing_if = "Option::is_none")]
    pub predicted_direction: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BrainReport {
    pub csf_model: CsfModelInfo,
    pub block: String,
    pub voltages_mv: Vec<f64>,
    pub points: Vec<BrainPoint>,
    pub summary: Summary,
    pub claims: Vec<GradedClaim>,
    pub not_modelled: Vec<String>,
    pub plain_language: String,
    pub warnings: Vec<Warning>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CsfModelInfo {
    pub variant: CsfVariant,
    pub k_out_per_h: f64,
    pub km_rel: Option<f64>,
    pub ratio_total: f64,
    pub ionised_fraction: f64,
    pub interval_coverage: f64,
    pub n_samples: usize,
    pub seed: u64,
    pub interval_meaning: String,
    pub source: String,
}

fn interp(ts: &[f64], ys: &[f64], t: f64) -> f64 {
    match ts.iter().position(|&x| x >= t) {
        Some(0) => ys[0],
        Some(i) => {
            let (t0, t1) = (ts[i - 1], ts[i]);
            if t1 > t0 {
                ys[i - 1] + (ys[i] - ys[i - 1]) * (t - t0) / (t1 - t0)
            } else {
                ys[i]
            }
        }
        None => *ys.last().unwrap_or(&f64::NAN),
    }
}

/// Run the whole chain. `times_h`/`serum_mmol_l`: a total serum Mg series fine enough to resolve the
/// regimen (e.g. every minute); `baseline_serum_mmol_l`: the patient's baseline; `report_times_h`:
/// the times of the output points (inside the series' span; serum is interpolated linearly there).
pub fn brain_report(
    times_h: &[f64],
    serum_mmol_l: &[f64],
    baseline_serum_mmol_l: f64,
    report_times_h: &[f64],
    opts: &BrainOptions,
) -> Result<BrainReport, MgivError> {
    check_inputs(times_h, serum_mmol_l, report_times_h, opts)?;
    let chain = Chain::new(
        times_h,
        serum_mmol_l,
        baseline_serum_mmol_l,
        report_times_h,
        opts,
    )?;
    let points = chain
        .idx
        .iter()
        .map(|&j| chain.point(j))
        .collect::<Result<Vec<_>, _>>()?;
    let summary = chain.summary()?;
    let warnings = chain.warnings(summary.csf_ionised_peak.value)?;
    let claims_out = graded_claims(&summary, opts)?;
    let plain = plain_language(&summary, opts);
    let file = crate::csf::CsfModelFile::builtin()?;
    let p = chain.course.params;
    Ok(BrainReport {
        csf_model: CsfModelInfo {
            variant: opts.csf.variant,
            k_out_per_h: p.k_out_per_h,
            km_rel: p.km_rel,
            ratio_total: p.ratio_total,
            ionised_fraction: p.ionised_fraction,
            interval_coverage: opts.csf.coverage,
            n_samples: opts.csf.n_samples,
            seed: opts.csf.seed,
            interval_meaning: file.interval_meaning.clone(),
            source: format!("{} ({})", file.description, file.data_file),
        },
        block: format!("{} — {}", opts.block.name(), chain.block.source),
        voltages_mv: opts.voltages_mv.clone(),
        points,
        summary,
        claims: claims_out,
        not_modelled: not_modelled()?,
        plain_language: plain,
        warnings,
    })
}

/// The inputs of `brain_report`, each checked with a message naming it.
fn check_inputs(
    times_h: &[f64],
    serum_mmol_l: &[f64],
    report_times_h: &[f64],
    opts: &BrainOptions,
) -> Result<(), MgivError> {
    if report_times_h.is_empty() {
        return Err(invalid("report times", "none", "at least one time"));
    }
    if opts.voltages_mv.is_empty() || opts.voltages_mv.len() > 16 {
        return Err(invalid(
            "voltage",
            format!("{} values", opts.voltages_mv.len()),
            "1 to 16 membrane potentials",
        ));
    }
    for &v in &opts.voltages_mv {
        check_voltage(v)?;
    }
    let span_end = *times_h.last().unwrap_or(&0.0);
    let span_start = *times_h.first().unwrap_or(&0.0);
    for &t in report_times_h {
        if !(t.is_finite() && t >= span_start && t <= span_end + 1e-9) {
            return Err(invalid(
                "report time",
                t,
                format!("a time inside the serum series ({span_start} to {span_end} h)"),
            ));
        }
    }
    if serum_mmol_l.len() != times_h.len() {
        return Err(invalid(
            "serum_mmol_l",
            format!("{} values for {} times", serum_mmol_l.len(), times_h.len()),
            "one serum value per time",
        ));
    }
    Ok(())
}

/// The evidence entries (data/brain/evidence.toml) of the effects a report lists.
struct EffectEvidence {
    nmda: Claim,
    release: Claim,
    excitability: Claim,
    bp: Claim,
    cbf: Claim,
    plasticity: Claim,
    inflammation: Claim,
}

impl EffectEvidence {
    fn load() -> Result<Self, MgivError> {
        Ok(EffectEvidence {
            nmda: claim("nerve-transmission")?,
            release: claim("release")?,
            excitability: claim("excitability")?,
            bp: claim("blood-pressure")?,
            cbf: claim("cerebral-blood-flow")?,
            plasticity: claim("plasticity")?,
            inflammation: claim("inflammation")?,
        })
    }
}

/// "grade — qualifier" of one effect.
fn grade(cl: &Claim, extra: &str) -> String {
    format!("{} — {}", cl.grade, extra)
}

/// One run of the chain: the serum series on the merged grid, the CSF course on it and what every
/// effect needs, computed once.
struct Chain<'a> {
    opts: &'a BrainOptions,
    c: EffectConstants,
    block: MgBlock,
    ev: EffectEvidence,
    /// the serum series' times with the report times merged in
    grid: Vec<f64>,
    serum: Vec<f64>,
    course: CsfCourse,
    /// index in `grid` of every report time
    idx: Vec<usize>,
    baseline_serum_mmol_l: f64,
    /// baseline ionised CSF Mg (mmol/L)
    i0: f64,
    bp: Option<BpCourse>,
    proto: Protocol,
    gb0: f64,
    crp: Option<CrpAssessment>,
    q_lo: f64,
    q_hi: f64,
}

impl<'a> Chain<'a> {
    fn new(
        times_h: &[f64],
        serum_mmol_l: &[f64],
        baseline_serum_mmol_l: f64,
        report_times_h: &[f64],
        opts: &'a BrainOptions,
    ) -> Result<Self, MgivError> {
        // merge report times into the grid
        let mut grid: Vec<f64> = times_h.to_vec();
        grid.extend_from_slice(report_times_h);
        grid.sort_by(|a, b| a.total_cmp(b));
        grid.dedup_by(|a, b| (*a - *b).abs() < 1e-9);
        let serum: Vec<f64> = grid
            .iter()
            .map(|&t| interp(times_h, serum_mmol_l, t))
            .collect();
        let course = csf_from_serum(&grid, &serum, baseline_serum_mmol_l, &opts.csf)?;
        let idx: Vec<usize> = report_times_h
            .iter()
            .map(|&t| grid.iter().position(|&g| (g - t).abs() < 1e-9).unwrap_or(0))
            .collect();
        let c = constants()?;
        let block = opts.block.block()?;
        let i0 = course.baseline_ionised_mmol_l;
        let bp: Option<BpCourse> = opts.pre_eclampsia.then(|| {
            blood_pressure_course(
                &c.blood_pressure,
                &grid,
                &serum,
                baseline_serum_mmol_l,
                opts.csf.coverage,
                200,
                opts.csf.seed ^ 0x0B10_0D00,
            )
        });
        let proto = standard_protocol()?;
        let gb0 = plasticity_at(&c.plasticity, &proto, i0, false)?.gb_synaptic_change;
        let crp = opts
            .crp_mg_l
            .map(|v| crp_assessment(&c.inflammation, v))
            .transpose()?;
        let q_lo = (1.0 - opts.csf.coverage) / 2.0;
        Ok(Chain {
            opts,
            ev: EffectEvidence::load()?,
            c,
            block,
            grid,
            serum,
            course,
            idx,
            baseline_serum_mmol_l,
            i0,
            bp,
            proto,
            gb0,
            crp,
            q_lo,
            q_hi: 1.0 - q_lo,
        })
    }

    /// Interval of the NMDA conductance relative to baseline at grid point `j` and potential
    /// `v_mv`, over the CSF parameter draws (a point when there are none).
    fn rel_interval(&self, v_mv: f64, j: usize) -> (f64, f64) {
        let (block, course) = (&self.block, &self.course);
        if course.ionised_draws_mmol_l.is_empty() {
            let r = block.unblocked_fraction(v_mv, course.ionised_mmol_l[j])
                / block.unblocked_fraction(v_mv, self.i0);
            return (r, r);
        }
        let mut v: Vec<f64> = course
            .ionised_draws_mmol_l
            .iter()
            .zip(&course.ionised_draw_baselines_mmol_l)
            .map(|(d, b)| block.unblocked_fraction(v_mv, d[j]) / block.unblocked_fraction(v_mv, *b))
            .collect();
        quantile_pair(&mut v, self.q_lo, self.q_hi)
    }

    /// The output point at grid index `j`: levels and every effect.
    fn point(&self, j: usize) -> Result<BrainPoint, MgivError> {
        let im = self.course.ionised_mmol_l[j];
        let (mut eff, first_rel) = self.nmda_effects(j);
        eff.extend(self.cellular_effects(im)?);
        eff.extend(self.bp_effects(j));
        eff.extend(self.cbf_effects(im));
        eff.extend(self.plasticity_and_crp_effects(im)?);
        let course = &self.course;
        Ok(BrainPoint {
            time_h: self.grid[j],
            serum_mg_mmol_l: self.serum[j],
            csf_total_mg_mmol_l: course.total_mmol_l[j],
            csf_total_mg_mmol_l_lo: course.total_lo_mmol_l[j],
            csf_total_mg_mmol_l_hi: course.total_hi_mmol_l[j],
            csf_ionised_mg_mmol_l: im,
            csf_ionised_mg_mmol_l_lo: course.ionised_lo_mmol_l[j],
            csf_ionised_mg_mmol_l_hi: course.ionised_hi_mmol_l[j],
            nmda_relative_conductance: first_rel.0,
            nmda_relative_conductance_lo: first_rel.1,
            nmda_relative_conductance_hi: first_rel.2,
            effects: eff,
        })
    }

    /// NMDA block at every potential; also (value, lo, hi) of the relative conductance at the
    /// first potential.
    fn nmda_effects(&self, j: usize) -> (Vec<Effect>, (f64, f64, f64)) {
        let im = self.course.ionised_mmol_l[j];
        let block = &self.block;
        let mut eff = Vec::new();
        let mut first_rel = (f64::NAN, f64::NAN, f64::NAN);
        for (k, &v) in self.opts.voltages_mv.iter().enumerate() {
            let b = block.unblocked_fraction(v, im);
            let rel = b / block.unblocked_fraction(v, self.i0);
            let (lo, hi) = self.rel_interval(v, j);
            let (lo, hi) = (lo.min(rel), hi.max(rel));
            if k == 0 {
                first_rel = (rel, lo, hi);
            }
            eff.push(Effect {
                name: format!("nmda_unblocked_fraction_at_{}_mv", fmt_v(v)),
                value: Some(b),
                lo: None,
                hi: None,
                unit: "fraction of NMDA conductance unblocked".into(),
                evidence: grade(
                    &self.ev.nmda,
                    "mechanism strong (published block law); magnitude at IV doses model-derived",
                ),
                source: block.source.to_string(),
            });
            eff.push(Effect {
                name: format!("nmda_relative_conductance_at_{}_mv", fmt_v(v)),
                value: Some(rel),
                lo: Some(lo),
                hi: Some(hi),
                unit: "ratio to baseline (below 1 = less NMDA current)".into(),
                evidence: grade(
                    &self.ev.nmda,
                    "mechanism strong; magnitude model-derived; no human outcome",
                ),
                source: format!("{}; driven by ionised CSF Mg", block.source),
            });
        }
        (eff, first_rel)
    }

    /// Transmitter release and excitability at ionised CSF Mg `im`.
    fn cellular_effects(&self, im: f64) -> Result<[Effect; 2], MgivError> {
        let (c, ca, i0) = (&self.c, self.c.conditions.ca_o_mmol_l, self.i0);
        Ok([
            Effect {
                name: "presynaptic_release_relative".into(),
                value: Some(release_relative(&c.release, ca, im, i0)?),
                lo: None,
                hi: None,
                unit: "ratio to baseline".into(),
                evidence: grade(
                    &self.ev.release,
                    "UNVERIFIED constants K1, K2: illustrative only",
                ),
                source: format!("{}; {}", c.release.exponent_source, c.release.k_source),
            },
            Effect {
                name: "excitability_shift_mv".into(),
                value: Some(excitability_shift_mv(&c.excitability, ca, im, i0)?),
                lo: None,
                hi: None,
                unit: "mV shift of channel activation (positive = less excitable); sub-millivolt"
                    .into(),
                evidence: grade(
                    &self.ev.excitability,
                    "sub-millivolt, negligible; Mg weight unverified",
                ),
                source: c.excitability.slope_source.clone(),
            },
        ])
    }

    /// Systolic and diastolic change at grid index `j` (values only in pre-eclampsia, where
    /// they were measured; the cited null result in words elsewhere).
    fn bp_effects(&self, j: usize) -> [Effect; 2] {
        let (c, bp) = (&self.c.blood_pressure, self.bp.as_ref());
        let evidence = if bp.is_some() {
            grade(
                &self.ev.bp,
                &format!(
                    "one pre-eclampsia PK/PD study; interval from ASSUMED {:.0} % parameter uncertainty (no standard errors published)",
                    100.0 * c.assumed_parameter_rse
                ),
            )
        } else {
            grade(&self.ev.bp, &c.outside_pre_eclampsia)
        };
        let source = format!("{}; {}", c.source, c.assumed_parameter_rse_source);
        [
            Effect {
                name: "systolic_bp_change_mmhg".into(),
                value: bp.map(|b| b.sbp[j]),
                lo: bp.map(|b| b.sbp_lo[j]),
                hi: bp.map(|b| b.sbp_hi[j]),
                unit: "mmHg (negative = fall)".into(),
                evidence: evidence.clone(),
                source: source.clone(),
            },
            Effect {
                name: "diastolic_bp_change_mmhg".into(),
                value: bp.map(|b| b.dbp[j]),
                lo: bp.map(|b| b.dbp_lo[j]),
                hi: bp.map(|b| b.dbp_hi[j]),
                unit: "mmHg (negative = fall)".into(),
                evidence,
                source,
            },
        ]
    }

    /// Cerebral blood flow: not predicted unless the hypothetical vessel module is on.
    fn cbf_effects(&self, im: f64) -> Vec<Effect> {
        let (c, ev) = (&self.c.cerebral_blood_flow, &self.ev.cbf);
        match &self.opts.vascular {
            None => vec![Effect {
                name: "cerebral_blood_flow_change_percent".into(),
                value: None,
                lo: None,
                hi: None,
                unit: "%".into(),
                evidence: grade(ev, "not predicted; hypothetical module off by default; human TCD studies found no change"),
                source: c.human_finding.clone(),
            }],
            Some(vh) => {
                let (dd, flow) = vh.response(im - self.i0, c.poiseuille_exponent);
                vec![
                    Effect {
                        name: "cerebral_vessel_diameter_change_percent_hypothetical".into(),
                        value: Some(dd),
                        lo: None,
                        hi: None,
                        unit: "% (HYPOTHETICAL: user-supplied EC50/Emax)".into(),
                        evidence: grade(ev, "HYPOTHETICAL (off by default): no published cerebral-artery EC50; not evidence"),
                        source: c.ec50_source.clone(),
                    },
                    Effect {
                        name: "cerebral_blood_flow_change_percent_hypothetical".into(),
                        value: Some(flow),
                        lo: None,
                        hi: None,
                        unit: "% (HYPOTHETICAL: Poiseuille r^4 from the hypothetical diameter)"
                            .into(),
                        evidence: grade(ev, "HYPOTHETICAL (off by default); human TCD studies found no change"),
                        source: c.human_finding.clone(),
                    },
                ]
            }
        }
    }

    /// Plasticity (acute model) and the associative CRP statement at ionised CSF Mg `im`.
    fn plasticity_and_crp_effects(&self, im: f64) -> Result<[Effect; 2], MgivError> {
        let c = &self.c;
        let gb_t = plasticity_at(&c.plasticity, &self.proto, im, false)?.gb_synaptic_change;
        let crp = self.crp.as_ref();
        Ok([
            Effect {
                name: "plasticity_gb_change_vs_baseline".into(),
                value: Some(gb_t - self.gb0),
                lo: None,
                hi: None,
                unit: format!(
                    "difference in synaptic change (after/before) vs baseline CSF Mg, {}",
                    standard_protocol_description()
                ),
                evidence: grade(
                    &self.ev.plasticity,
                    "acute model only (predicts less LTP with more Mg); chronic effects NOT MODELLED",
                ),
                source: c.plasticity.gb_source.clone(),
            },
            Effect {
                name: "crp_shift_mg_l".into(),
                value: crp.map(|a| a.shift_mg_l),
                lo: crp.and_then(|a| a.shift_lo_mg_l),
                hi: crp.and_then(|a| a.shift_hi_mg_l),
                unit: "mg/L (ASSOCIATIVE; oral Mg over weeks, not IV)".into(),
                evidence: grade(
                    &self.ev.inflammation,
                    if crp.is_some() {
                        "ASSOCIATIVE, not a mechanistic prediction"
                    } else {
                        "ASSOCIATIVE; no value without a baseline CRP (--crp)"
                    },
                ),
                source: c.inflammation.crp_source.clone(),
            },
        ])
    }

    /// The peak of a series over the grid, with the interval at that time.
    fn peak_of(&self, vals: &[f64], lo: &[f64], hi: &[f64]) -> Peak {
        let (mut jm, mut vm) = (0, f64::NEG_INFINITY);
        for (j, &v) in vals.iter().enumerate() {
            if v > vm {
                vm = v;
                jm = j;
            }
        }
        Peak {
            time_h: self.grid[jm],
            value: vm,
            lo: lo[jm],
            hi: hi[jm],
        }
    }

    /// The summary over the whole series: peaks, CSF rise, NMDA block and plasticity at the
    /// CSF peak, blood pressure, status and CRP.
    fn summary(&self) -> Result<Summary, MgivError> {
        let (c, course, bp) = (&self.c, &self.course, self.bp.as_ref());
        let serum_peak = self.peak_of(&self.serum, &self.serum, &self.serum);
        let csf_total_peak = self.peak_of(
            &course.total_mmol_l,
            &course.total_lo_mmol_l,
            &course.total_hi_mmol_l,
        );
        let csf_ionised_peak = self.peak_of(
            &course.ionised_mmol_l,
            &course.ionised_lo_mmol_l,
            &course.ionised_hi_mmol_l,
        );
        let jp = self
            .grid
            .iter()
            .position(|&g| g == csf_ionised_peak.time_h)
            .unwrap_or(0);
        let (rise, rise_lo, rise_hi) = rise_interval(course, jp, self.q_lo, self.q_hi);
        let i_peak = csf_ionised_peak.value;
        let nmda_at_peak = self
            .opts
            .voltages_mv
            .iter()
            .map(|&v| {
                let b0 = self.block.unblocked_fraction(v, self.i0);
                let b1 = self.block.unblocked_fraction(v, i_peak);
                let (lo, hi) = self.rel_interval(v, jp);
                NmdaAtPeak {
                    voltage_mv: v,
                    unblocked_fraction_baseline: b0,
                    unblocked_fraction_at_peak: b1,
                    relative_conductance: b1 / b0,
                    relative_conductance_lo: lo.min(b1 / b0),
                    relative_conductance_hi: hi.max(b1 / b0),
                }
            })
            .collect();
        let nadir = |v: &[f64]| v.iter().copied().fold(0.0, f64::min);
        let bp_statement = bp_words(&c.blood_pressure, bp, *self.grid.last().unwrap_or(&0.0));
        Ok(Summary {
            baseline_serum_mmol_l: self.baseline_serum_mmol_l,
            baseline_csf_total_mmol_l: course.baseline_total_mmol_l,
            baseline_csf_ionised_mmol_l: self.i0,
            serum_peak,
            csf_total_peak,
            csf_ionised_peak,
            csf_rise_fraction: rise,
            csf_rise_fraction_lo: rise_lo,
            csf_rise_fraction_hi: rise_hi,
            nmda_at_peak,
            plasticity: self.plasticity_summary(i_peak)?,
            sbp_nadir_mmhg: bp.map(|b| nadir(&b.sbp)),
            dbp_nadir_mmhg: bp.map(|b| nadir(&b.dbp)),
            sbp_nadir_interval_mmhg: bp.map(|b| b.sbp_nadir_interval),
            dbp_nadir_interval_mmhg: bp.map(|b| b.dbp_nadir_interval),
            sbp_at_end_mmhg: bp.and_then(|b| b.sbp.last().copied()),
            bp_statement,
            status: self.status()?,
            status_from_measured_baseline: self.opts.baseline_measured,
            crp: self.crp.clone(),
            cbf_measured_serum_fold: c.cerebral_blood_flow.measured_serum_fold,
        })
    }

    /// Both plasticity rules at baseline and at the ionised CSF peak `i_peak`.
    fn plasticity_summary(&self, i_peak: f64) -> Result<PlasticitySummary, MgivError> {
        let (c, ev) = (&self.c.plasticity, &self.ev.plasticity);
        let pl0 = plasticity_at(c, &self.proto, self.i0, true)?;
        let pl1 = plasticity_at(c, &self.proto, i_peak, true)?;
        Ok(PlasticitySummary {
            protocol: standard_protocol_description(),
            gb_change_vs_baseline: pl1.gb_synaptic_change - pl0.gb_synaptic_change,
            shouval_change_vs_baseline: match (
                pl1.shouval_synaptic_change,
                pl0.shouval_synaptic_change,
            ) {
                (Some(a), Some(b)) => Some(a - b),
                _ => None,
            },
            baseline: pl0,
            at_peak_csf: pl1,
            evidence: format!("{} — {}", ev.grade, ev.verdict),
            source: format!("{}; {}", c.gb_source, c.shouval_source),
            chronic: c.chronic_not_modelled.clone(),
        })
    }

    /// The Mg status band, only from a measured baseline.
    fn status(&self) -> Result<StatusBand, MgivError> {
        let b = self.baseline_serum_mmol_l;
        if self.opts.baseline_measured {
            return status_band(&self.c, b);
        }
        Ok(StatusBand {
            id: "not-assessed".into(),
            lo_mmol_l: 0.0,
            hi_mmol_l: 0.0,
            label: format!(
                "not assessed: the baseline serum Mg was not measured (the curves start from the model's population default {b:.2} mmol/L, which says nothing about this patient's status)"
            ),
            source: "status bands are given only for a measured pre-treatment level".into(),
        })
    }

    /// Validity warnings of the run, given the ionised CSF peak: CSF-RELEASE-VALIDITY when the
    /// peak is above the release law's validity cap, CSF-LEAKY-UPPER-BOUND for the leaky CSF
    /// model (its McKee 2005 over-prediction computed from the fitted model and the data files).
    fn warnings(&self, i_peak: f64) -> Result<Vec<Warning>, MgivError> {
        let c = &self.c;
        let mut warnings = Vec::new();
        if i_peak > c.release.validity_max_mg_mmol_l {
            warnings.push(Warning::new(
                "CSF-RELEASE-VALIDITY",
                format!(
                    "peak ionised CSF Mg {:.2} mmol/L is above the {} mmol/L validity cap of the release law ({})",
                    i_peak, c.release.validity_max_mg_mmol_l, c.release.validity_source
                ),
                c.release.validity_source.clone(),
            ));
        }
        if self.opts.csf.variant == CsfVariant::Leaky {
            let fit = crate::csf::CsfModelFile::builtin()?;
            let data = crate::fit::csf_data()?;
            let m = &data.mckee_2005;
            let pred = fit.leaky.predictions.mckee_rise_24h_fraction;
            let pct = |x: f64| format!("{:.0}", 100.0 * x);
            warnings.push(Warning::new(
                "CSF-LEAKY-UPPER-BOUND",
                format!(
                    "csf model 'leaky' (fitted to Fuchs-Buder 1997 alone, neurosurgical patients) over-predicts McKee 2005's {}-h clamp (+{}-{} % at serum {}-{} mmol/L vs +{}-{} % observed): use it as an upper bound for a bolus, not for infusions",
                    m.clamp_hours,
                    pct(pred[0]),
                    pct(pred[2]),
                    m.clamp_serum_lo_mmol_l,
                    m.clamp_serum_hi_mmol_l,
                    pct(m.csf_rise_lo_fraction),
                    pct(m.csf_rise_hi_fraction)
                ),
                "data/brain/csf-model.toml [leaky.predictions]; data/brain/csf-data.toml [mckee_2005]",
            ));
        }
        Ok(warnings)
    }
}

fn fmt_v(v: f64) -> String {
    let s = mgiv_core::units::fmt_num(v);
    s.replace('-', "minus_").replace('.', "_")
}

fn rise_interval(course: &CsfCourse, j: usize, q_lo: f64, q_hi: f64) -> (f64, f64, f64) {
    let r = course.total_mmol_l[j] / course.baseline_total_mmol_l - 1.0;
    if course.ionised_draws_mmol_l.is_empty() {
        return (r, r, r);
    }
    // the ionised fraction cancels in the ratio, so the ionised draws give the total rise
    let mut v: Vec<f64> = course
        .ionised_draws_mmol_l
        .iter()
        .zip(&course.ionised_draw_baselines_mmol_l)
        .map(|(d, b)| d[j] / b - 1.0)
        .collect();
    let (lo, hi) = quantile_pair(&mut v, q_lo, q_hi);
    (r, lo.min(r), hi.max(r))
}

/// What mgiv deliberately does not model, and why (data/brain/effects.toml `not_modelled`).
pub fn not_modelled() -> Result<Vec<String>, MgivError> {
    Ok(crate::effects::constants()?.not_modelled)
}

/// Blood pressure in words, from the same numbers as the curve.
fn bp_words(c: &crate::effects::BpConsts, bp: Option<&BpCourse>, t_end_h: f64) -> String {
    let Some(b) = bp else {
        return format!("Blood pressure: {}.", c.outside_pre_eclampsia);
    };
    let nadir = |v: &[f64]| v.iter().copied().fold(0.0, f64::min);
    let (sn, dn) = (nadir(&b.sbp), nadir(&b.dbp));
    let end = b.sbp.last().copied().unwrap_or(0.0);
    let course = if sn > -1.0 {
        "the model predicts no appreciable fall".to_string()
    } else if end.abs() < 0.5 * sn.abs() {
        format!(
            "by {} h the fall has worn off to {:.0} mmHg as serum Mg returned towards baseline",
            mgiv_core::units::fmt_num(t_end_h),
            end
        )
    } else {
        format!(
            "at {} h it is still {:.0} mmHg: in the model the fall lasts while serum Mg stays raised (no tolerance term), whereas {}, so a sustained fall may be overstated",
            mgiv_core::units::fmt_num(t_end_h),
            end,
            c.map_recovery_observation
        )
    };
    format!(
        "Pre-eclampsia model ({}): largest predicted fall {:.0} mmHg systolic (range {:.0} to {:.0}) and {:.0} mmHg diastolic (range {:.0} to {:.0}); {}. The ranges come from an ASSUMED {:.0} % uncertainty of each model parameter (the paper's abstract gives no standard errors).",
        c.model_study,
        sn,
        b.sbp_nadir_interval.0,
        b.sbp_nadir_interval.1,
        dn,
        b.dbp_nadir_interval.0,
        b.dbp_nadir_interval.1,
        course,
        100.0 * c.assumed_parameter_rse
    )
}

/// Direction of a relative change (ratio to baseline), with a dead band of ±1 %.
fn direction_of_ratio(r: f64) -> &'static str {
    if r < 0.99 {
        "less"
    } else if r > 1.01 {
        "more"
    } else {
        "no appreciable change"
    }
}

/// Direction of the plasticity change: both models must agree beyond ±0.005.
fn direction_of_plasticity(gb: f64, shouval: Option<f64>) -> &'static str {
    let sh = shouval.unwrap_or(gb);
    if gb < -0.005 && sh < -0.005 {
        "less"
    } else if gb > 0.005 && sh > 0.005 {
        "more"
    } else if gb.abs() <= 0.005 && sh.abs() <= 0.005 {
        "no appreciable change"
    } else {
        "models disagree"
    }
}

fn graded_claims(s: &Summary, opts: &BrainOptions) -> Result<Vec<GradedClaim>, MgivError> {
    let v0 = opts.voltages_mv[0];
    let n0 = &s.nmda_at_peak[0];
    let fold = s.serum_peak.value / s.baseline_serum_mmol_l;
    let mut out = Vec::new();
    for c in claims()? {
        let (this_run, direction) = match c.id.as_str() {
            "csf" => (format!(
                "CSF total Mg {:.2} → peak {:.2} mmol/L ({:+.0} %, interval {:+.0} to {:+.0} %) at {:.1} h while serum peaked at {:.2} mmol/L at {:.1} h",
                s.baseline_csf_total_mmol_l, s.csf_total_peak.value, 100.0 * s.csf_rise_fraction,
                100.0 * s.csf_rise_fraction_lo, 100.0 * s.csf_rise_fraction_hi, s.csf_total_peak.time_h,
                s.serum_peak.value, s.serum_peak.time_h
            ), None),
            "nerve-transmission" => {
                let d = direction_of_ratio(n0.relative_conductance);
                let meaning = match d {
                    "less" => "a modest damping of NMDA signalling, not better transmission: the claim is not supported by this prediction",
                    "more" => "more NMDA current (the CSF Mg at peak is below baseline)",
                    _ => "the regimen barely moves CSF Mg, so nothing changes: the claim is not supported by this prediction",
                };
                (format!(
                    "mgiv predicts {d} NMDA current at peak CSF Mg: {:.3} × baseline at {} mV ({:+.1} %, interval {:+.1} to {:+.1} %) — {meaning}. Grade {} ({}). mgiv's assumptions: {}.",
                    n0.relative_conductance, mgiv_core::units::fmt_num(v0), 100.0 * (n0.relative_conductance - 1.0),
                    100.0 * (n0.relative_conductance_lo - 1.0), 100.0 * (n0.relative_conductance_hi - 1.0),
                    c.grade, c.grade_of, c.mgiv_assumptions.join("; ")
                ), Some(d))
            }
            "plasticity" => {
                let gb = s.plasticity.gb_change_vs_baseline;
                let sh = s.plasticity.shouval_change_vs_baseline;
                let d = direction_of_plasticity(gb, sh);
                let meaning = match d {
                    "less" => "slightly LESS potentiation: the claim 'more synaptic plasticity' is not supported for an acute IV course",
                    "more" => "more potentiation in the acute models",
                    "no appreciable change" => "no appreciable change: the claim is not supported for an acute IV course",
                    _ => "the two models disagree in sign: no verdict",
                };
                (format!(
                    "mgiv predicts {d} potentiation after the standard pairing protocol at peak CSF Mg: Graupner-Brunel {:+.3} (grade D: mgiv's own Mg coupling), Shouval {} (grade C) vs baseline — {meaning}; chronic effects are not modelled. mgiv's assumptions: {}.",
                    gb,
                    sh.map(|v| format!("{v:+.3}")).unwrap_or_else(|| "n/a".into()),
                    c.mgiv_assumptions.join("; ")
                ), Some(d))
            }
            "blood-pressure" => (s.bp_statement.clone(), None),
            "cerebral-blood-flow" => match &opts.vascular {
                None if fold <= s.cbf_measured_serum_fold => (format!(
                    "mgiv computes no number. This regimen's serum peak is {fold:.1} × baseline, within the range where human studies (serum about doubled) measured no change in middle cerebral artery velocity: no change in brain blood flow is expected. The claim 'more cerebral blood flow' is not supported. Grade: {}. mgiv's assumptions: {}.",
                    c.grade_of, c.mgiv_assumptions.join("; ")
                ), Some("no change expected")),
                None => (format!(
                    "mgiv computes no number, and this regimen's serum peak ({fold:.1} × baseline) is above the range measured in humans (about double): no prediction either way. The claim 'more cerebral blood flow' has no support. Grade {}.",
                    c.grade
                ), Some("not predicted")),
                Some(v) => (format!(
                    "HYPOTHETICAL module on with user EC50 {} mM, Emax {} %: see the per-point values; not evidence. Human studies at serum about doubled measured no change in MCA velocity",
                    v.ec50_mm, v.emax_percent
                ), Some("hypothetical")),
            },
            "inflammation" => match &s.crp {
                Some(a) => (format!(
                    "{} This is an association from weeks of oral Mg, not a prediction for this IV course (grade {}).",
                    a.statement, c.grade
                ), Some(if a.shift_mg_l < 0.0 { "less (associative only)" } else { "no appreciable change (associative only)" })),
                None => (format!(
                    "mgiv makes no prediction for an IV course: the evidence is associative (oral Mg over weeks; cellular effects need 5-10 mmol/L, far above this regimen's CSF peak of {:.2} mmol/L). Give --crp MG_L for the associative CRP statement.",
                    s.csf_total_peak.value
                ), Some("not predicted")),
            },
            "status" => (if s.status_from_measured_baseline {
                format!(
                    "measured baseline serum {:.2} mmol/L: {}",
                    s.baseline_serum_mmol_l, s.status.label
                )
            } else {
                s.status.label.clone()
            }, None),
            "release" => ("see presynaptic_release_relative per point (illustrative)".into(), None),
            "excitability" => ("see excitability_shift_mv per point (sub-millivolt)".into(), None),
            _ => (String::new(), None),
        };
        out.push(GradedClaim {
            claim: c,
            this_run,
            predicted_direction: direction.map(String::from),
        });
    }
    Ok(out)
}

/// The paragraph a patient could read.
pub fn plain_language(s: &Summary, opts: &BrainOptions) -> String {
    let serum_fold = s.serum_peak.value / s.baseline_serum_mmol_l;
    let n0 = &s.nmda_at_peak[0];
    let nmda = match direction_of_ratio(n0.relative_conductance) {
        "less" => format!(
            "lets through about {:.0} % less current near rest: a small damping of nerve signalling, not a boost, and no study has shown better nerve function in people at these doses.",
            100.0 * (1.0 - n0.relative_conductance)
        ),
        "more" => format!(
            "lets through about {:.0} % more current near rest.",
            100.0 * (n0.relative_conductance - 1.0)
        ),
        _ => "hardly changes: no effect on nerve signalling is predicted.".to_string(),
    };
    let plasticity = match direction_of_plasticity(
        s.plasticity.gb_change_vs_baseline,
        s.plasticity.shouval_change_vs_baseline,
    ) {
        "less" => "Short-term models of learning at synapses predict slightly less, not more, strengthening",
        "more" => "Short-term models of learning at synapses predict slightly more strengthening",
        "no appreciable change" => "Short-term models of learning at synapses predict no appreciable change",
        _ => "Short-term models of learning at synapses disagree with each other",
    };
    let cbf = match &opts.vascular {
        None if serum_fold <= s.cbf_measured_serum_fold => "The model does not predict a change in blood flow to the brain: studies in people whose blood magnesium was doubled found no change in brain blood-flow speed.".to_string(),
        None => "Nothing is predicted about blood flow to the brain: your blood level would rise beyond the doubling that has been studied in people.".to_string(),
        Some(_) => "A brain blood-flow number is shown only because you switched on a hypothetical module with your own assumptions; it is not evidence, and studies in people whose blood magnesium was doubled found no change in brain blood-flow speed.".to_string(),
    };
    let crp = match &s.crp {
        Some(a) if a.shift_mg_l < 0.0 => "For inflammation there is only an association: in people with raised CRP, months of oral magnesium lowered CRP by about 1 mg/L; nobody has shown this for an IV course.",
        _ => "For inflammation and oxidative stress there are only associations (low magnesium intake goes with more inflammation); nobody has shown that an IV course lowers them in the brain.",
    };
    let bp = match (s.sbp_nadir_mmhg, s.sbp_nadir_interval_mmhg) {
        (Some(n), Some((lo, hi))) if n <= -1.0 => format!(
            "Blood pressure may fall, by up to about {:.0} mmHg systolic (roughly {:.0} to {:.0}), in a model from women with pre-eclampsia.",
            -n, -hi, -lo
        ),
        (Some(_), _) => "No appreciable blood-pressure fall is predicted by the pre-eclampsia model.".to_string(),
        _ => "No blood-pressure change is predicted for you: the only model comes from women with pre-eclampsia, and healthy volunteers given 30 mg/kg showed no clear change.".to_string(),
    };
    let base = if s.status_from_measured_baseline {
        format!("from your measured {:.2}", s.baseline_serum_mmol_l)
    } else {
        format!(
            "from an assumed {:.2} (your level was not measured)",
            s.baseline_serum_mmol_l
        )
    };
    format!(
        "With this regimen your blood magnesium is predicted to rise {} to a peak of {:.2} mmol/L (about {:.1} times the starting level). \
The fluid around the brain (CSF) is tightly controlled, so its magnesium is predicted to rise much less: from about {:.2} to {:.2} mmol/L \
(about {:.0} %, likely range {:.0} to {:.0} %), and it changes slowly, lagging hours behind the blood. \
At that level one well-understood brain mechanism, the magnesium 'plug' in NMDA receptors, {} \
{}; the claims of better memory come from months-long animal studies and are not modelled here. \
{} {} {} \
This is a model of averages with stated uncertainty, not medical advice.",
        base,
        s.serum_peak.value,
        serum_fold,
        s.baseline_csf_total_mmol_l,
        s.csf_total_peak.value,
        100.0 * s.csf_rise_fraction,
        100.0 * s.csf_rise_fraction_lo,
        100.0 * s.csf_rise_fraction_hi,
        nmda,
        plasticity,
        cbf,
        bp,
        crp,
    )
}

/// Serum-free helper for `mgiv brain block`.
pub fn block_table(
    spec: &BlockSpec,
    mg_mm: f64,
    voltages_mv: &[f64],
) -> Result<Vec<(f64, f64)>, MgivError> {
    voltages_mv
        .iter()
        .map(|&v| Ok((v, effects::unblocked_fraction(spec, v, mg_mm)?)))
        .collect()
}
