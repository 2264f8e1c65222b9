//! `mgiv._native`: the Python extension. Every function calls the same library code as the CLI
//! (`mgiv-clinical`, `mgiv-safety`, `mgiv-pop`, `mgiv-brain`, `mgiv-neuro`) and returns numbers as
//! numpy arrays or the library's own serde JSON; the Python package (`python/mgiv`) only shapes
//! them into DataFrames and dicts. Long computations release the GIL. Errors are `mgiv.MgivError`
//! (a `ValueError`) carrying the library's message (field, value, what is allowed).

use numpy::{IntoPyArray, PyArray1, PyArray2};
use pyo3::create_exception;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict};
use serde_json::json;

use mgiv_clinical::adjust::{safe_adjust, AdjustRequest};
use mgiv_clinical::brain::{brain_for_regimen, default_report_times};
use mgiv_clinical::context::{ClinicalContext, ContextInput};
use mgiv_clinical::scenario::clinical_plan;
use mgiv_clinical::trial::{trial_setup, TrialRequest, TrialSpec};
use mgiv_core::patient::{Creatinine, PatientInput, Sex};
use mgiv_core::regimen::Regimen;
use mgiv_core::simulate::simulate as core_simulate;
use mgiv_core::units::MgConc;
use mgiv_pop::tdm::parse_levels;
use mgiv_safety::bag::parse_bag;
use mgiv_safety::names::{parse_conditions, parse_medications};

create_exception!(
    _native,
    MgivError,
    PyValueError,
    "Bad input or a failed check in mgiv; the message names the field, the value and what is allowed."
);

/// (times_h, serum_mg_mmol_l, meta JSON)
type Curve<'py> = (Bound<'py, PyArray1<f64>>, Bound<'py, PyArray1<f64>>, String);

fn err(e: impl std::fmt::Display) -> PyErr {
    MgivError::new_err(e.to_string())
}

/// Patient fields shared by every function (units in the names).
#[allow(clippy::too_many_arguments)]
fn patient(
    weight_kg: Option<f64>,
    creatinine_mg_dl: Option<f64>,
    pregnant: bool,
    pre_eclampsia: bool,
    baseline_mmol_l: Option<f64>,
    age_y: Option<f64>,
    sex: Option<&str>,
    crcl_ml_min: Option<f64>,
) -> PyResult<PatientInput> {
    Ok(PatientInput {
        weight_kg,
        age_y,
        sex: sex.map(Sex::parse).transpose().map_err(err)?,
        creatinine: creatinine_mg_dl.map(Creatinine::MgPerDl),
        crcl_ml_min,
        pregnant,
        pre_eclampsia,
        baseline: baseline_mmol_l.map(MgConc::from_mmol_l),
        ..Default::default()
    })
}

fn context(
    patient: PatientInput,
    indication: Option<String>,
    protocol: Option<String>,
    model: Option<String>,
    conditions: Option<&str>,
) -> PyResult<ClinicalContext> {
    let conditions = conditions
        .map(parse_conditions)
        .transpose()
        .map_err(err)?
        .unwrap_or_default();
    ClinicalContext::build(&ContextInput {
        indication,
        protocol,
        model_id: model,
        patient,
        conditions,
        ..Default::default()
    })
    .map_err(err)
}

/// simulate(regimen, ...) -> (times_h, serum_mg_mmol_l, meta_json)
#[pyfunction]
#[pyo3(signature = (regimen, *, weight_kg=None, creatinine_mg_dl=None, pregnant=false, pre_eclampsia=false, baseline_mmol_l=None, model=None, times_h=None, indication=None, age_y=None, sex=None, crcl_ml_min=None))]
#[allow(clippy::too_many_arguments)]
fn simulate<'py>(
    py: Python<'py>,
    regimen: &str,
    weight_kg: Option<f64>,
    creatinine_mg_dl: Option<f64>,
    pregnant: bool,
    pre_eclampsia: bool,
    baseline_mmol_l: Option<f64>,
    model: Option<String>,
    times_h: Option<Vec<f64>>,
    indication: Option<String>,
    age_y: Option<f64>,
    sex: Option<&str>,
    crcl_ml_min: Option<f64>,
) -> PyResult<Curve<'py>> {
    let pin = patient(
        weight_kg,
        creatinine_mg_dl,
        pregnant,
        pre_eclampsia,
        baseline_mmol_l,
        age_y,
        sex,
        crcl_ml_min,
    )?;
    let ctx = context(pin, indication, None, model, None)?;
    let reg = Regimen::from_text(regimen, ctx.patient.weight_kg).map_err(err)?;
    let times = match times_h {
        Some(t) => t,
        None => default_report_times(&reg, None).map_err(err)?,
    };
    let sim = py
        .allow_threads(|| core_simulate(&ctx.model_choice(), &ctx.patient, &reg, &times))
        .map_err(err)?;
    let meta = json!({
        "regimen": reg.canonical(),
        "regimen_note": "g = grams of MgSO4·7H2O unless another salt is named",
        "model": sim.model,
        "params": sim.params,
        "peak_mmol_l": sim.peak_mmol_l,
        "peak_time_h": sim.peak_time_h,
        "warnings": sim.warnings,
        "context": ctx.to_json(),
        "context_alerts": ctx.alerts,
        "units": {"time_h": "h", "serum_mg_mmol_l": "mmol/L total serum Mg"},
        "mgiv_version": env!("CARGO_PKG_VERSION"),
    });
    Ok((
        sim.times_h.into_pyarray(py),
        sim.serum_mmol_l.into_pyarray(py),
        meta.to_string(),
    ))
}

/// plan(...) -> JSON: pump settings (phases), totals, predicted levels, alerts, monitoring.
#[pyfunction]
#[pyo3(signature = (*, regimen=None, protocol=None, indication=None, weight_kg=None, creatinine_mg_dl=None, pregnant=false, pre_eclampsia=false, baseline_mmol_l=None, model=None, age_y=None, sex=None, crcl_ml_min=None, conditions=None, medications=None, bag=None, hours=None))]
#[allow(clippy::too_many_arguments)]
fn plan(
    py: Python<'_>,
    regimen: Option<String>,
    protocol: Option<String>,
    indication: Option<String>,
    weight_kg: Option<f64>,
    creatinine_mg_dl: Option<f64>,
    pregnant: bool,
    pre_eclampsia: bool,
    baseline_mmol_l: Option<f64>,
    model: Option<String>,
    age_y: Option<f64>,
    sex: Option<&str>,
    crcl_ml_min: Option<f64>,
    conditions: Option<&str>,
    medications: Option<&str>,
    bag: Option<&str>,
    hours: Option<f64>,
) -> PyResult<String> {
    if regimen.is_none() && protocol.is_none() {
        return Err(err(
            "invalid regimen: none given (allowed: regimen='4 g over 20 min, then 1 g/h for 24 h' or protocol='zuspan')",
        ));
    }
    let pin = patient(
        weight_kg,
        creatinine_mg_dl,
        pregnant,
        pre_eclampsia,
        baseline_mmol_l,
        age_y,
        sex,
        crcl_ml_min,
    )?;
    let conds = conditions
        .map(parse_conditions)
        .transpose()
        .map_err(err)?
        .unwrap_or_default();
    let meds = medications
        .map(parse_medications)
        .transpose()
        .map_err(err)?
        .unwrap_or_default();
    let bag = bag.map(parse_bag).transpose().map_err(err)?;
    let ci = ContextInput {
        indication,
        protocol,
        model_id: model,
        patient: pin,
        hours,
        ..Default::default()
    };
    let (ctx, p) = py
        .allow_threads(|| clinical_plan(&ci, regimen, conds, meds, bag))
        .map_err(err)?;
    let v = json!({
        "regimen": p.regimen,
        "regimen_note": "g = grams of MgSO4·7H2O unless another salt is named",
        "context": ctx.to_json(),
        "stop": p.has_stop(),
        "exit_status": if p.has_stop() { mgiv_clinical::EXIT_STOP } else { mgiv_clinical::EXIT_OK },
        "alerts": p.alerts,
        "phases": p.phases,
        "bag": p.bag,
        "totals": p.totals,
        "order": p.order,
        "summary": p.summary,
        "model": p.simulation.model,
        "predicted": {"time_h": p.simulation.times_h, "serum_mg_mmol_l": p.simulation.serum_mmol_l},
        "monitoring": p.monitoring,
        "levels_schedule": p.levels_schedule,
        "toxicity_steps": p.toxicity_steps,
        "mgiv_version": env!("CARGO_PKG_VERSION"),
    });
    Ok(v.to_string())
}

/// adjust(...) -> JSON of the safe adjustment (recommendation, alerts, fit) and the context.
#[pyfunction]
#[pyo3(signature = (regimen, levels, *, indication=None, protocol=None, weight_kg=None, creatinine_mg_dl=None, pregnant=false, pre_eclampsia=false, baseline_mmol_l=None, model=None, age_y=None, sex=None, crcl_ml_min=None, now_h=None, hours=None, max_p_toxic=None, allow_maintenance=false, bag=None, conditions=None))]
#[allow(clippy::too_many_arguments)]
fn adjust(
    py: Python<'_>,
    regimen: &str,
    levels: &str,
    indication: Option<String>,
    protocol: Option<String>,
    weight_kg: Option<f64>,
    creatinine_mg_dl: Option<f64>,
    pregnant: bool,
    pre_eclampsia: bool,
    baseline_mmol_l: Option<f64>,
    model: Option<String>,
    age_y: Option<f64>,
    sex: Option<&str>,
    crcl_ml_min: Option<f64>,
    now_h: Option<f64>,
    hours: Option<f64>,
    max_p_toxic: Option<f64>,
    allow_maintenance: bool,
    bag: Option<&str>,
    conditions: Option<&str>,
) -> PyResult<String> {
    // None: mgiv's decision defaults, the same constants the CLI and the service use
    let hours = hours.unwrap_or(mgiv_pop::tdm::DEFAULT_HORIZON_H);
    let max_p_toxic = max_p_toxic.unwrap_or(mgiv_pop::tdm::DEFAULT_MAX_P_TOXIC);
    mgiv_pop::tdm::check_horizon("hours", hours).map_err(err)?;
    let pin = patient(
        weight_kg,
        creatinine_mg_dl,
        pregnant,
        pre_eclampsia,
        baseline_mmol_l,
        age_y,
        sex,
        crcl_ml_min,
    )?;
    let ctx = context(pin, indication, protocol, model, conditions)?;
    let given = Regimen::from_text(regimen, ctx.patient.weight_kg).map_err(err)?;
    let levels = parse_levels(levels).map_err(err)?;
    let bag = match (bag, ctx.protocol.and_then(|p| p.bag.as_deref())) {
        (Some(b), _) | (None, Some(b)) => Some(parse_bag(b).map_err(err)?),
        (None, None) => None,
    };
    let req = AdjustRequest {
        given: given.clone(),
        levels,
        now_h,
        horizon_h: hours,
        max_p_toxic,
        allow_maintenance,
        bag,
        conditions: conditions
            .map(parse_conditions)
            .transpose()
            .map_err(err)?
            .unwrap_or_default(),
        medications: Vec::new(),
    };
    let a = py.allow_threads(|| safe_adjust(&ctx, &req)).map_err(err)?;
    let mut v = serde_json::to_value(&a).map_err(err)?;
    v["context"] = ctx.to_json();
    v["regimen_given"] = json!(given.canonical());
    v["stop"] = json!(a.has_stop());
    v["exit_status"] = json!(if a.has_stop() {
        mgiv_clinical::EXIT_STOP
    } else {
        mgiv_clinical::EXIT_OK
    });
    Ok(v.to_string())
}

/// brain(...) -> JSON of the brain report (CSF course, NMDA block, claims with grades).
#[pyfunction]
#[pyo3(signature = (regimen, *, weight_kg=None, creatinine_mg_dl=None, pregnant=false, pre_eclampsia=false, baseline_mmol_l=None, model=None, times_h=None, indication=None, age_y=None, sex=None, samples=400, seed=1))]
#[allow(clippy::too_many_arguments)]
fn brain(
    py: Python<'_>,
    regimen: &str,
    weight_kg: Option<f64>,
    creatinine_mg_dl: Option<f64>,
    pregnant: bool,
    pre_eclampsia: bool,
    baseline_mmol_l: Option<f64>,
    model: Option<String>,
    times_h: Option<Vec<f64>>,
    indication: Option<String>,
    age_y: Option<f64>,
    sex: Option<&str>,
    samples: usize,
    seed: u64,
) -> PyResult<String> {
    let pin = patient(
        weight_kg,
        creatinine_mg_dl,
        pregnant,
        pre_eclampsia,
        baseline_mmol_l,
        age_y,
        sex,
        None,
    )?;
    let ctx = context(pin, indication, None, model, None)?;
    let mut opts = mgiv_brain::BrainOptions::default();
    opts.csf.n_samples = samples;
    opts.csf.seed = seed;
    let run = py
        .allow_threads(|| brain_for_regimen(&ctx, regimen, times_h, None, &opts))
        .map_err(err)?;
    let r = &run.report;
    let v = json!({
        "context": ctx.to_json(),
        "regimen": run.regimen.canonical(),
        "serum_model": run.serum.model,
        "serum_warnings": run.serum.warnings,
        "csf_model": r.csf_model,
        "block": r.block,
        "voltages_mv": r.voltages_mv,
        "points": r.points,
        "summary": r.summary,
        "claims": r.claims,
        "not_modelled": r.not_modelled,
        "plain_language": r.plain_language,
        "warnings": r.warnings,
    });
    Ok(v.to_string())
}

/// neuro_decision(mg_mm, seconds, seed, threads) -> (rates_hz [4, bins], rate_bin_ms,
/// spike_t_ms, spike_neuron, meta_json)
#[pyfunction]
#[pyo3(signature = (mg_mm, seconds, seed, threads=1))]
#[allow(clippy::type_complexity)]
fn neuro_decision<'py>(
    py: Python<'py>,
    mg_mm: f64,
    seconds: f64,
    seed: u64,
    threads: usize,
) -> PyResult<(
    Bound<'py, PyArray2<f64>>,
    f64,
    Bound<'py, PyArray1<f64>>,
    Bound<'py, PyArray1<u32>>,
    String,
)> {
    if !(seconds.is_finite() && seconds > 0.0 && seconds <= 600.0) {
        return Err(err(format!(
            "invalid seconds: {seconds} (allowed: above 0 and at most 600 biological seconds per run)"
        )));
    }
    if !(1..=256).contains(&threads) {
        return Err(err(format!(
            "invalid threads: {threads} (allowed: 1 to 256)"
        )));
    }
    let mut cfg = mgiv_neuro::wang2002::DecisionConfig::reference(mg_mm, seconds, seed);
    cfg.threads = threads;
    cfg.record_selective_spikes = true;
    let r = py
        .allow_threads(|| mgiv_neuro::wang2002::run_decision(&cfg))
        .map_err(err)?;
    let bins = r.rates_hz[0].len();
    let mut flat = Vec::with_capacity(4 * bins);
    for row in &r.rates_hz {
        flat.extend_from_slice(row);
    }
    let rates = numpy::ndarray::Array2::from_shape_vec((4, bins), flat)
        .map_err(err)?
        .into_pyarray(py);
    let (t, i): (Vec<f64>, Vec<u32>) = r.selective_spikes.iter().copied().unzip();
    let meta = json!({
        "mg_mm": mg_mm, "seconds": r.seconds, "seed": r.seed,
        "rate_e_hz": r.rate_e_hz, "rate_i_hz": r.rate_i_hz,
        "winner": r.winner, "late_stim_rate_hz": r.late_stim_rate_hz,
        "rates_rows": ["selective 1", "selective 2", "non-selective E", "inhibitory"],
        "model": "Wang 2002 decision network (Neuron 36:955), Brian2 reference parameters; Mg enters through the NMDA block (docs/NEURO.md)",
    });
    Ok((
        rates,
        r.rate_bin_ms,
        t.into_pyarray(py),
        i.into_pyarray(py),
        meta.to_string(),
    ))
}

/// neuro_plasticity(mg_mm list, rule, protocol, stimulation parameters) -> (synaptic_change, meta_json).
/// A stimulation parameter left None is the published standard protocol's (mgiv-neuro
/// `standard_protocols()`, data/neuro/stimulation-protocols.toml), as in `mgiv neuro plasticity`.
#[pyfunction]
#[pyo3(signature = (mg_mm, *, rule="gb-dp", protocol="pairing", dt_ms=None, pairs=None, hz=None, pulses=None, bursts=None, spikes_per_burst=None, burst_hz=None))]
#[allow(clippy::too_many_arguments)]
fn neuro_plasticity<'py>(
    py: Python<'py>,
    mg_mm: Vec<f64>,
    rule: &str,
    protocol: &str,
    dt_ms: Option<f64>,
    pairs: Option<u32>,
    hz: Option<f64>,
    pulses: Option<u32>,
    bursts: Option<u32>,
    spikes_per_burst: Option<u32>,
    burst_hz: Option<f64>,
) -> PyResult<(Bound<'py, PyArray1<f64>>, String)> {
    use mgiv_neuro::plasticity::gb::{self, GbMg, GbParams};
    use mgiv_neuro::plasticity::protocol::{standard_protocols, Protocol};
    let p = GbParams::by_name(rule).map_err(err)?;
    let std = standard_protocols();
    // a parameter of another protocol is an error, not silently ignored
    let given = |names: &[(&str, bool)], allowed: &str| -> PyResult<()> {
        match names.iter().find(|(_, set)| *set) {
            Some((name, _)) => Err(err(format!(
                "invalid use of `{name}` with protocol '{protocol}' (allowed: {allowed})"
            ))),
            None => Ok(()),
        }
    };
    let (proto, params) = match protocol {
        "pairing" => {
            given(
                &[
                    ("pulses", pulses.is_some()),
                    ("bursts", bursts.is_some()),
                    ("spikes_per_burst", spikes_per_burst.is_some()),
                    ("burst_hz", burst_hz.is_some()),
                ],
                "dt_ms, pairs, hz",
            )?;
            let (dt_ms, pairs, hz) = (
                dt_ms.unwrap_or(std.pairing.dt_ms),
                pairs.unwrap_or(std.pairing.pairs),
                hz.unwrap_or(std.pairing.hz),
            );
            (
                Protocol::pairing(dt_ms, pairs, hz),
                json!({ "dt_ms": dt_ms, "pairs": pairs, "hz": hz }),
            )
        }
        "tetanus" => {
            given(
                &[
                    ("dt_ms", dt_ms.is_some()),
                    ("pairs", pairs.is_some()),
                    ("bursts", bursts.is_some()),
                    ("spikes_per_burst", spikes_per_burst.is_some()),
                    ("burst_hz", burst_hz.is_some()),
                ],
                "hz, pulses",
            )?;
            let (hz, pulses) = (
                hz.unwrap_or(std.tetanus.hz),
                pulses.unwrap_or(std.tetanus.pulses),
            );
            (
                Protocol::tetanus(hz, pulses),
                json!({ "hz": hz, "pulses": pulses }),
            )
        }
        "theta-burst" => {
            given(
                &[
                    ("dt_ms", dt_ms.is_some()),
                    ("pairs", pairs.is_some()),
                    ("hz", hz.is_some()),
                    ("pulses", pulses.is_some()),
                ],
                "bursts, spikes_per_burst, burst_hz",
            )?;
            let t = &std.theta_burst;
            let (bursts, spikes, burst_hz) = (
                bursts.unwrap_or(t.bursts),
                spikes_per_burst.unwrap_or(t.spikes_per_burst),
                burst_hz.unwrap_or(t.burst_hz),
            );
            (
                Protocol::theta_burst(bursts, spikes, t.intra_hz, burst_hz),
                json!({ "bursts": bursts, "spikes_per_burst": spikes, "intra_hz": t.intra_hz, "burst_hz": burst_hz }),
            )
        }
        other => {
            return Err(err(format!(
                "invalid protocol: '{other}' (allowed: pairing, tetanus, theta-burst)"
            )))
        }
    };
    let proto = proto.map_err(err)?;
    let mut out = Vec::with_capacity(mg_mm.len());
    for &m in &mg_mm {
        let mg = GbMg::new(m).map_err(err)?;
        out.push(gb::analytic(&p, &proto, &mg).synaptic_change);
    }
    let mut meta = json!({
        "rule": p.name, "protocol": protocol, "stimulation": proto.name,
        "model": "Graupner & Brunel 2012 calcium-based rule (analytic readout); Mg scales the NMDA-mediated calcium by the block ratio: an mgiv modelling assumption",
    });
    if let (Some(m), serde_json::Value::Object(p)) = (meta.as_object_mut(), params) {
        m.extend(p);
    }
    Ok((out.into_pyarray(py), meta.to_string()))
}

/// trial_prepare(...) -> the trial spec as JSON (context resolved once, on the driver).
#[pyfunction]
#[pyo3(signature = (regimens, *, n, seed, population=None, indication=None, model=None, times_h=None, hours=None, target_mmol_l=None, max_subjects=None))]
#[allow(clippy::too_many_arguments)]
fn trial_prepare(
    regimens: Vec<String>,
    n: u64,
    seed: u64,
    population: Option<String>,
    indication: Option<String>,
    model: Option<String>,
    times_h: Option<Vec<f64>>,
    hours: Option<f64>,
    target_mmol_l: Option<(f64, f64)>,
    max_subjects: Option<u64>,
) -> PyResult<String> {
    let s = trial_setup(&TrialRequest {
        regimens,
        indication,
        model_id: model,
        population,
        target_mmol_l,
        hours,
        times_h,
        n,
        seed,
        max_subjects,
    })
    .map_err(err)?;
    Ok(s.spec.to_json())
}

/// trial_shard(spec_json, start, end) -> the shard's accumulator as bytes (GIL released).
#[pyfunction]
fn trial_shard<'py>(
    py: Python<'py>,
    spec_json: &str,
    start: u64,
    end: u64,
) -> PyResult<Bound<'py, PyBytes>> {
    let spec = TrialSpec::from_json(spec_json).map_err(err)?;
    let b = py
        .allow_threads(|| spec.run_shard(start, end))
        .map_err(err)?;
    Ok(PyBytes::new(py, &b))
}

/// trial_summarise(spec_json, shards) -> the trial result as JSON (shards merged exactly).
#[pyfunction]
fn trial_summarise(py: Python<'_>, spec_json: &str, shards: Vec<Vec<u8>>) -> PyResult<String> {
    let spec = TrialSpec::from_json(spec_json).map_err(err)?;
    let r = py.allow_threads(|| spec.summarise(&shards)).map_err(err)?;
    serde_json::to_string(&r).map_err(err)
}

/// trial_per_subject(spec_json, start, end) -> dict of numpy columns (one row per subject and
/// regimen), from the same draws as the summaries.
#[pyfunction]
fn trial_per_subject<'py>(
    py: Python<'py>,
    spec_json: &str,
    start: u64,
    end: u64,
) -> PyResult<Bound<'py, PyDict>> {
    let spec = TrialSpec::from_json(spec_json).map_err(err)?;
    if !(start <= end && end <= spec.cfg.n_subjects) {
        return Err(err(format!(
            "invalid shard: {start}..{end} (allowed: a range within 0..{})",
            spec.cfg.n_subjects
        )));
    }
    let t = py
        .allow_threads(|| spec.trial().and_then(|tr| tr.per_subject(start, end)))
        .map_err(err)?;
    let d = PyDict::new(py);
    d.set_item("subject", t.subject.into_pyarray(py))?;
    d.set_item("regimen", t.regimen.into_pyarray(py))?;
    d.set_item("weight_kg", t.weight_kg.into_pyarray(py))?;
    d.set_item("scr_mg_dl", t.scr_mg_dl.into_pyarray(py))?;
    d.set_item("baseline_mmol_l", t.baseline_mmol_l.into_pyarray(py))?;
    d.set_item("cmax_mmol_l", t.cmax_mmol_l.into_pyarray(py))?;
    d.set_item("time_to_target_h", t.time_to_target_h.into_pyarray(py))?;
    Ok(d)
}

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("MgivError", m.py().get_type::<MgivError>())?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add_function(wrap_pyfunction!(simulate, m)?)?;
    m.add_function(wrap_pyfunction!(plan, m)?)?;
    m.add_function(wrap_pyfunction!(adjust, m)?)?;
    m.add_function(wrap_pyfunction!(brain, m)?)?;
    m.add_function(wrap_pyfunction!(neuro_decision, m)?)?;
    m.add_function(wrap_pyfunction!(neuro_plasticity, m)?)?;
    m.add_function(wrap_pyfunction!(trial_prepare, m)?)?;
    m.add_function(wrap_pyfunction!(trial_shard, m)?)?;
    m.add_function(wrap_pyfunction!(trial_summarise, m)?)?;
    m.add_function(wrap_pyfunction!(trial_per_subject, m)?)?;
    Ok(())
}
