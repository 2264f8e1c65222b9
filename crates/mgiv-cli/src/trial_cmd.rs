//! `mgiv trial`: a virtual-population trial of one or more regimens — percentiles of total serum
//! Mg, target attainment, toxicity risk and time to target (mgiv-pop).

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use clap::{Args, ValueEnum};
use mgiv_clinical::trial::{trial_setup, TrialRequest, MAX_THREADS};
use mgiv_pop::trial::{Trial, TrialResult};
use plotters::coord::Shift;
use plotters::prelude::*;
use serde_json::json;

use crate::common::parse_conc;
use crate::output::sig3;
use crate::plot::{
    e, layout, target_band, time_chart, Legend, Swatch, OI_ORANGE, OI_VERMILLION, PALETTE,
};

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum TrialFormat {
    Table,
    Json,
    Csv,
    Parquet,
}

#[derive(Debug, Args)]
pub struct TrialArgs {
    /// Regimen text, e.g. "4 g over 20 min, then 1 g/h for 24 h", or a protocol id (see `mgiv protocols`: zuspan, sibai, mash-2, pritchard, ...). Repeat to compare regimens side by side
    #[arg(long = "regimen", value_name = "TEXT", required = true)]
    pub regimens: Vec<String>,
    /// Model id (see `mgiv models`); default: the indication's
    #[arg(long, value_name = "ID")]
    pub model: Option<String>,
    /// Indication (default: the named protocols' shared one; else assumed from the population or model and reported)
    #[arg(long, value_name = "ID")]
    pub indication: Option<String>,
    /// Virtual population: pre-eclampsia, pregnant, adult, icu, community (default: the indication's)
    #[arg(long, value_name = "ID")]
    pub population: Option<String>,
    /// Number of virtual patients (1 to 20 000 000)
    #[arg(long, value_name = "N")]
    pub n: u64,
    /// Random seed (same seed → same result on any number of threads)
    #[arg(long, value_name = "S")]
    pub seed: u64,
    /// Hours to simulate (hourly outputs from 0, at most 2160; default: the indication's horizon, extended to cover the longest regimen + 12 h)
    #[arg(long, value_name = "H")]
    pub hours: Option<f64>,
    /// Output times in hours instead, comma-separated, e.g. 0.5,1,6,12,24
    #[arg(long, value_name = "T1,T2,...")]
    pub at: Option<String>,
    /// Target range LO-HI in mmol/L (or with a unit, "4.8-8.4 mg/dL"); default: the indication's
    #[arg(long, value_name = "LO-HI")]
    pub target: Option<String>,
    /// Output format; parquet (the CSV's long table) needs --out and a build with the cargo feature `parquet`
    #[arg(long, value_enum, default_value = "table")]
    pub format: TrialFormat,
    /// Write the output to a file instead of standard output
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Plot the percentile bands of every regimen (.svg or .png)
    #[arg(long, value_name = "FILE")]
    pub plot: Option<PathBuf>,
    /// Worker threads (1 to 256; default: all cores)
    #[arg(long, value_name = "N")]
    pub threads: Option<usize>,
}

/// "2.0-3.5", "2-3.5 mmol/L", "4.8-8.4 mg/dL" → (lo, hi) in mmol/L.
pub fn parse_target(text: &str) -> Result<(f64, f64)> {
    let t = text.trim();
    let allowed = "LO-HI, e.g. 2.0-3.5 (mmol/L) or 4.8-8.4 mg/dL, with 0 < LO < HI";
    let Some((a, b)) = t.split_once('-') else {
        bail!("invalid --target '{text}' (allowed: {allowed})");
    };
    // a unit written once at the end applies to both bounds
    let b = b.trim();
    let unit_start = b
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(b.len());
    let unit = b[unit_start..].trim();
    let lo = parse_conc(&format!("{} {unit}", a.trim()), "target")
        .with_context(|| format!("invalid --target '{text}' (allowed: {allowed})"))?
        .mmol_l();
    let hi = parse_conc(b, "target")
        .with_context(|| format!("invalid --target '{text}' (allowed: {allowed})"))?
        .mmol_l();
    if !(lo > 0.0 && lo < hi && hi <= 10.0) {
        bail!("invalid --target '{text}': {lo:.3}-{hi:.3} mmol/L (allowed: {allowed}, HI ≤ 10 mmol/L)");
    }
    Ok((lo, hi))
}

fn threshold_key(t: f64) -> String {
    format!("{t:.1}")
}

pub fn run(a: TrialArgs) -> Result<()> {
    check_args(&a)?;
    let setup = trial_setup(&TrialRequest {
        regimens: a.regimens.clone(),
        indication: a.indication.clone(),
        model_id: a.model.clone(),
        population: a.population.clone(),
        target_mmol_l: a.target.as_deref().map(parse_target).transpose()?,
        hours: a.hours,
        times_h: a
            .at
            .as_deref()
            .map(crate::common::parse_times)
            .transpose()?,
        n: a.n,
        seed: a.seed,
        max_subjects: None,
    })?;
    crate::note!("clinical context:");
    for l in &setup.spec.notes {
        crate::note!("  {l}");
    }
    let trial = setup.spec.trial()?;
    let pool = match a.threads {
        Some(n) => Some(rayon::ThreadPoolBuilder::new().num_threads(n).build()?),
        None => None,
    };
    let work = a.n.saturating_mul(setup.spec.regimens.len() as u64);
    let t0 = Instant::now();
    let mut result = run_with_progress(&trial, pool.as_ref(), a.n, work)?;
    // the context travels with every output format (JSON, CSV comments, Parquet metadata)
    result.warnings.extend(setup.spec.notes.iter().cloned());
    let elapsed = t0.elapsed().as_secs_f64();
    write_output(&a, &result, elapsed)?;
    crate::note!(
        "{} virtual patients × {} regimen(s) × {} output times in {:.2} s ({} threads)",
        result.n_subjects,
        result.regimens.len(),
        result.times_h.len(),
        elapsed,
        pool.as_ref()
            .map_or(rayon::current_num_threads(), |p| p.current_num_threads())
    );
    if let Some(path) = &a.plot {
        write_plot(path, &setup.spec, pool.as_ref(), &result)?;
    }
    Ok(())
}

/// Refuse bad options before any work: Parquet without its feature or file, output and plot
/// paths, the number of threads.
fn check_args(a: &TrialArgs) -> Result<()> {
    if a.format == TrialFormat::Parquet {
        parquet_precheck(a.out.as_deref())?;
    }
    if let Some(path) = &a.out {
        crate::output::check_out_path(path, "--out")?;
    }
    if let Some(n) = a.threads {
        if !(1..=MAX_THREADS).contains(&n) {
            bail!("invalid --threads {n} (allowed: 1 to {MAX_THREADS})");
        }
    }
    if let Some(path) = &a.plot {
        crate::plot::check_plot_path(path)?;
    }
    Ok(())
}

/// Run the trial (on `pool`, else the global pool) with a progress bar on a terminal when the
/// work (`work` = subjects × regimens) is large; `n` subjects per regimen.
fn run_with_progress(
    trial: &Trial,
    pool: Option<&rayon::ThreadPool>,
    n: u64,
    work: u64,
) -> Result<TrialResult> {
    let progress = Arc::new(AtomicU64::new(0));
    let done = Arc::new(AtomicBool::new(false));
    let bar = if work >= 200_000 && std::io::stderr().is_terminal() {
        Some(spawn_progress_bar(progress.clone(), done.clone(), n))
    } else {
        None
    };
    let result = match pool {
        Some(p) => p.install(|| trial.run(Some(&progress))),
        None => trial.run(Some(&progress)),
    };
    done.store(true, Ordering::Relaxed);
    if let Some(b) = bar {
        let _ = b.join();
    }
    Ok(result?)
}

/// A thread drawing "[####....] P % (k/n virtual patients)" on stderr every 100 ms from the
/// `progress` counter until `done`, then clearing the line.
fn spawn_progress_bar(
    progress: Arc<AtomicU64>,
    done: Arc<AtomicBool>,
    n: u64,
) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        while !done.load(Ordering::Relaxed) {
            let k = progress.load(Ordering::Relaxed);
            let f = k as f64 / n as f64;
            // progress bar width (characters)
            let w = (f * 30.0) as usize;
            eprint!(
                "\r[{}{}] {:>3.0} % ({k}/{n} virtual patients)",
                "#".repeat(w),
                ".".repeat(30 - w.min(30)),
                100.0 * f
            );
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        eprint!("\r{}\r", " ".repeat(70));
    })
}

/// The result in the asked-for format, to `--out` or standard output.
fn write_output(a: &TrialArgs, result: &TrialResult, elapsed_s: f64) -> Result<()> {
    let text = match a.format {
        TrialFormat::Table => table(result),
        TrialFormat::Csv => csv(result),
        TrialFormat::Json => serde_json::to_string_pretty(&to_json(result, elapsed_s))? + "\n",
        TrialFormat::Parquet => String::new(),
    };
    match &a.out {
        Some(path) if a.format == TrialFormat::Parquet => {
            write_parquet(result, path).with_context(|| format!("writing {}", path.display()))?;
            crate::note!("output written to {}", path.display());
        }
        Some(path) => {
            std::fs::write(path, &text).with_context(|| format!("writing {}", path.display()))?;
            crate::note!("output written to {}", path.display());
        }
        None => std::io::stdout().lock().write_all(text.as_bytes())?,
    }
    Ok(())
}

/// The percentile-band plot of `--plot`: the trial again on a fine grid (see [`plot_spec`]),
/// with the risks of `result` in the legend.
fn write_plot(
    path: &Path,
    spec: &mgiv_clinical::trial::TrialSpec,
    pool: Option<&rayon::ThreadPool>,
    result: &TrialResult,
) -> Result<()> {
    // the bands are drawn on a 10-minute grid (the same virtual patients, so the same
    // seed gives the same picture), so the end of a 20-minute load is never cut
    let (plot_spec, note) = plot_spec(spec);
    let mut fine = match pool {
        Some(p) => p.install(|| plot_spec.trial()?.run(None)),
        None => plot_spec.trial()?.run(None),
    }?;
    // the legend's risks are the whole trial's, as printed
    for (f, g) in fine.regimens.iter_mut().zip(&result.regimens) {
        f.p_cmax_above = g.p_cmax_above.clone();
    }
    crate::plot::ensure_font();
    // image size (pixels): plot layout
    crate::plot_to_file!(path, (1100, 650), draw_bands, &fine, &note)?;
    crate::note!("plot written to {}", path.display());
    Ok(())
}

/// Most subject × output-time pairs computed again for the plot's fine grid.
const PLOT_WORK_LIMIT: u64 = 50_000_000;

/// The trial of the plot: every 10 minutes (at most 1000 points) over the same horizon, plus the
/// asked-for output times, for the same virtual patients (all of them, or the first of them
/// when the trial is very large; the note says which).
fn plot_spec(spec: &mgiv_clinical::trial::TrialSpec) -> (mgiv_clinical::trial::TrialSpec, String) {
    let mut p = spec.clone();
    let tmax = spec.cfg.times_h.last().copied().unwrap_or(1.0);
    // plot grid: at most 1000 steps, at least 10 min (numerical)
    let step = (tmax / 1000.0).max(1.0 / 6.0);
    let mut times: Vec<f64> = (0..)
        .map(|i| i as f64 * step)
        .take_while(|t| *t < tmax - 1e-9)
        .chain(spec.cfg.times_h.iter().copied())
        .collect();
    times.sort_by(|a, b| a.total_cmp(b));
    times.dedup_by(|a, b| (*a - *b).abs() < 1e-9);
    let n_max = (PLOT_WORK_LIMIT / times.len() as u64).max(1000);
    p.cfg.n_subjects = spec.cfg.n_subjects.min(n_max);
    let grid = if step <= 1.0 / 6.0 + 1e-12 {
        "every 10 min".to_string()
    } else {
        format!("every {} min", sig3(step * 60.0))
    };
    let note = if p.cfg.n_subjects < spec.cfg.n_subjects {
        format!(
            "bands drawn {grid} from the first {} of the {} virtual patients",
            p.cfg.n_subjects, spec.cfg.n_subjects
        )
    } else {
        format!("bands drawn {grid}")
    };
    p.cfg.times_h = times;
    (p, note)
}

pub fn to_json(r: &TrialResult, elapsed_s: f64) -> serde_json::Value {
    let th = &r.thresholds_mmol_l;
    let regimens: Vec<serde_json::Value> = r
        .regimens
        .iter()
        .map(|g| {
            let points: Vec<serde_json::Value> = g
                .points
                .iter()
                .map(|p| {
                    let mut v = json!({
                        "time_h": p.time_h,
                        "p05": p.p05_mmol_l,
                        "p25": p.p25_mmol_l,
                        "p50": p.p50_mmol_l,
                        "p75": p.p75_mmol_l,
                        "p95": p.p95_mmol_l,
                        "p_in_target": p.p_in_target,
                    });
                    for (t, pa) in th.iter().zip(&p.p_above) {
                        v[format!("p_above_{}", threshold_key(*t).replace('.', "_"))] = json!(pa);
                    }
                    v
                })
                .collect();
            let mut cmax = serde_json::Map::new();
            for (t, p) in th.iter().zip(&g.p_cmax_above) {
                cmax.insert(threshold_key(*t), json!(p));
            }
            let pk = g.peak_percentiles_mmol_l;
            let tt = g.time_to_target_percentiles_h;
            json!({
                "label": g.label,
                "regimen": g.canonical,
                "points": points,
                "p_cmax_above": cmax,
                "cmax_mmol_l": {"p05": pk[0], "p25": pk[1], "p50": pk[2], "p75": pk[3], "p95": pk[4]},
                "p_reach_target": g.p_reach_target,
                "time_to_target_h": {"p05": tt[0], "p25": tt[1], "p50": tt[2], "p75": tt[3], "p95": tt[4],
                    "note": "among the virtual patients who reach the target's lower bound by the last output time"},
            })
        })
        .collect();
    json!({
        "model": {"id": r.model_id, "name": r.model_name, "citation": r.model_citation, "variability_source": r.variability_source},
        "population": {"id": r.population_id, "name": r.population_name},
        "n": r.n_subjects,
        "seed": r.seed,
        "units": "mmol/L",
        "quantity": "total serum magnesium (true individual levels; assay error not added)",
        "target_mmol_l": [r.target_mmol_l.0, r.target_mmol_l.1],
        "thresholds_mmol_l": th,
        "percentile_method": "histogram, 0.001 mmol/L bins with interpolation (within 0.001 mmol/L of the exact order statistic); probabilities are exact counts",
        "regimens": regimens,
        "warnings": r.warnings,
        "elapsed_s": elapsed_s,
    })
}

fn pct(p: f64) -> String {
    format!("{:.1}", 100.0 * p)
}

fn opt_h(v: Option<f64>) -> String {
    v.map_or("–".into(), |x| format!("{x:.2}"))
}

pub fn table(r: &TrialResult) -> String {
    let mut s = String::new();
    let (lo, hi) = r.target_mmol_l;
    s += &format!(
        "Virtual trial: {} patients ({}), model {} — {}\nSeed {}; levels are total serum Mg in mmol/L (true individual levels, no assay error); target {lo}–{hi} mmol/L.\nVariability: {}\n\n",
        r.n_subjects, r.population_name, r.model_id, r.model_name, r.seed, r.variability_source
    );
    s += "Comparison\n";
    let th = &r.thresholds_mmol_l;
    s += &format!(
        "{:<28} {:>12} {:>14}",
        "regimen", "P(reach) %", "t_reach p50 h"
    );
    for t in th {
        s += &format!(" {:>13}", format!("P(peak>{t}) %"));
    }
    s += &format!(" {:>12}\n", "peak p50/p95");
    for g in &r.regimens {
        s += &format!(
            "{:<28} {:>12} {:>14}",
            truncate(&g.label, 28),
            pct(g.p_reach_target),
            opt_h(g.time_to_target_percentiles_h[2])
        );
        for p in &g.p_cmax_above {
            s += &format!(" {:>13}", pct(*p));
        }
        s += &format!(
            " {:>5.2}/{:<5.2}\n",
            g.peak_percentiles_mmol_l[2], g.peak_percentiles_mmol_l[4]
        );
    }
    for g in &r.regimens {
        s += &format!("\n{} = {}\n", g.label, g.canonical);
        s += &format!(
            "{:>7} {:>6} {:>6} {:>6} {:>6} {:>6} {:>9}",
            "time h", "p05", "p25", "p50", "p75", "p95", "in tgt %"
        );
        for t in th {
            s += &format!(" {:>8}", format!(">{t} %"));
        }
        s += "\n";
        for p in &g.points {
            s += &format!(
                "{:>7} {:>6.2} {:>6.2} {:>6.2} {:>6.2} {:>6.2} {:>9}",
                mgiv_core::units::fmt_num(p.time_h),
                p.p05_mmol_l,
                p.p25_mmol_l,
                p.p50_mmol_l,
                p.p75_mmol_l,
                p.p95_mmol_l,
                pct(p.p_in_target)
            );
            for x in &p.p_above {
                s += &format!(" {:>8}", pct(*x));
            }
            s += "\n";
        }
    }
    if !r.warnings.is_empty() {
        s += "\nWarnings:\n";
        for w in &r.warnings {
            s += &format!("  - {w}\n");
        }
    }
    s
}

fn truncate(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        s.chars().take(n - 1).collect::<String>() + "…"
    }
}

/// The columns of the long table (CSV and Parquet), one row per regimen and output time: the
/// regimen label, the time in hours, the 5th–95th percentiles of total serum Mg in mmol/L, the
/// fraction in the target range and the fraction above each toxicity threshold.
pub fn long_columns(r: &TrialResult) -> Vec<String> {
    let mut cols: Vec<String> = [
        "regimen",
        "time_h",
        "p05_mmol_l",
        "p25_mmol_l",
        "p50_mmol_l",
        "p75_mmol_l",
        "p95_mmol_l",
        "p_in_target",
    ]
    .iter()
    .map(|c| (*c).to_string())
    .collect();
    for t in &r.thresholds_mmol_l {
        cols.push(format!("p_above_{}", threshold_key(*t).replace('.', "_")));
    }
    cols
}

pub fn csv(r: &TrialResult) -> String {
    // model, population, units and every warning as `#` comment lines before the header
    let mut s = format!(
        "# mgiv {} trial\n# model: {} — {}\n# population: {} (n = {}, seed {})\n# unit: mmol/L (total serum Mg); target {}-{} mmol/L\n",
        env!("CARGO_PKG_VERSION"),
        r.model_id,
        r.model_citation,
        r.population_id,
        r.n_subjects,
        r.seed,
        r.target_mmol_l.0,
        r.target_mmol_l.1
    );
    for w in &r.warnings {
        s += &format!("# warning: {}\n", w.message.replace('\n', " "));
    }
    s += &long_columns(r).join(",");
    s += "\n";
    for g in &r.regimens {
        let label = g.label.replace('"', "'");
        for p in &g.points {
            s += &format!(
                "\"{label}\",{},{:.6},{:.6},{:.6},{:.6},{:.6},{:.6}",
                p.time_h,
                p.p05_mmol_l,
                p.p25_mmol_l,
                p.p50_mmol_l,
                p.p75_mmol_l,
                p.p95_mmol_l,
                p.p_in_target
            );
            for x in &p.p_above {
                s += &format!(",{x:.6}");
            }
            s += "\n";
        }
    }
    s
}

/// Checks, before the trial runs, that `--format parquet` can be written.
#[cfg(feature = "parquet")]
fn parquet_precheck(out: Option<&Path>) -> Result<()> {
    if out.is_none() {
        bail!("--format parquet needs --out FILE (Parquet is a binary file, not written to standard output); for standard output use --format csv (the same columns)");
    }
    Ok(())
}

#[cfg(not(feature = "parquet"))]
fn parquet_precheck(_out: Option<&Path>) -> Result<()> {
    bail!("--format parquet needs the optional cargo feature `parquet`, which this mgiv was built without; rebuild with `cargo build --release -p mgiv-cli --features parquet` (binary: target/release/mgiv), or use --format csv (the same columns, one row per regimen and time)");
}

#[cfg(not(feature = "parquet"))]
fn write_parquet(_r: &TrialResult, path: &Path) -> Result<()> {
    parquet_precheck(Some(path))
}

/// The long table of [`long_columns`] as one Parquet row group (uncompressed; `regimen` a UTF-8
/// string, every other column a required DOUBLE), with the run's provenance as JSON under the
/// key-value metadata key `mgiv`.
#[cfg(feature = "parquet")]
fn write_parquet(r: &TrialResult, path: &Path) -> Result<()> {
    use parquet::basic::{LogicalType, Repetition, Type as Physical};
    use parquet::data_type::{ByteArray, ByteArrayType, DoubleType};
    use parquet::file::metadata::KeyValue;
    use parquet::file::properties::WriterProperties;
    use parquet::file::writer::SerializedFileWriter;
    use parquet::schema::types::Type;

    let names = long_columns(r);
    let mut fields = vec![Arc::new(
        Type::primitive_type_builder(&names[0], Physical::BYTE_ARRAY)
            .with_repetition(Repetition::REQUIRED)
            .with_logical_type(Some(LogicalType::String))
            .build()?,
    )];
    for name in &names[1..] {
        fields.push(Arc::new(
            Type::primitive_type_builder(name, Physical::DOUBLE)
                .with_repetition(Repetition::REQUIRED)
                .build()?,
        ));
    }
    let schema = Arc::new(
        Type::group_type_builder("mgiv_trial")
            .with_fields(fields)
            .build()?,
    );

    let mut labels: Vec<ByteArray> = Vec::new();
    let mut values: Vec<Vec<f64>> = vec![Vec::new(); names.len() - 1];
    for g in &r.regimens {
        for p in &g.points {
            labels.push(ByteArray::from(g.label.as_str()));
            let fixed = [
                p.time_h,
                p.p05_mmol_l,
                p.p25_mmol_l,
                p.p50_mmol_l,
                p.p75_mmol_l,
                p.p95_mmol_l,
                p.p_in_target,
            ];
            for (col, v) in values.iter_mut().zip(fixed.iter().chain(&p.p_above)) {
                col.push(*v);
            }
        }
    }

    let meta = json!({
        "mgiv_version": env!("CARGO_PKG_VERSION"),
        "model": {"id": r.model_id, "name": r.model_name, "citation": r.model_citation, "variability_source": r.variability_source},
        "population": {"id": r.population_id, "name": r.population_name},
        "n": r.n_subjects,
        "seed": r.seed,
        "quantity": "total serum magnesium (true individual levels; assay error not added)",
        "units": {"time_h": "h", "p05_mmol_l..p95_mmol_l": "mmol/L", "p_in_target, p_above_*": "fraction 0-1"},
        "target_mmol_l": [r.target_mmol_l.0, r.target_mmol_l.1],
        "thresholds_mmol_l": r.thresholds_mmol_l,
        "regimens": r.regimens.iter().map(|g| json!({"label": g.label, "regimen": g.canonical})).collect::<Vec<_>>(),
        "percentile_method": "histogram, 0.001 mmol/L bins with interpolation (within 0.001 mmol/L of the exact order statistic); probabilities are exact counts",
        "warnings": r.warnings,
    });
    let props = WriterProperties::builder()
        .set_key_value_metadata(Some(vec![KeyValue::new("mgiv".into(), meta.to_string())]))
        .build();
    let file = std::fs::File::create(path)?;
    let mut writer = SerializedFileWriter::new(file, schema, Arc::new(props))?;
    let mut group = writer.next_row_group()?;
    let mut i = 0;
    while let Some(mut col) = group.next_column()? {
        if i == 0 {
            col.typed::<ByteArrayType>()
                .write_batch(&labels, None, None)?;
        } else {
            col.typed::<DoubleType>()
                .write_batch(&values[i - 1], None, None)?;
        }
        col.close()?;
        i += 1;
    }
    group.close()?;
    writer.close()?;
    Ok(())
}

fn draw_bands<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    r: &TrialResult,
    grid_note: &str,
) -> Result<()> {
    let tmax = r.times_h.last().copied().unwrap_or(1.0).max(1e-3);
    let top = r
        .regimens
        .iter()
        .flat_map(|g| g.points.iter().map(|p| p.p95_mmol_l))
        .fold(2.5f64, f64::max)
        .max(r.target_mmol_l.1)
        * 1.1;
    let layout = layout(
        root,
        &format!(
            "Virtual trial: {} regimen(s), median with 25–75 % and 5–95 % bands",
            r.regimens.len()
        ),
        &format!(
            "model {} · population {} (seed {}) · {grid_note} · true individual levels, no assay error",
            r.model_id, r.population_id, r.seed
        ),
        1 + r.regimens.len(),
    )?;
    let mut chart = time_chart(&layout.plot, tmax, top, "total serum Mg (mmol/L)")?;
    let mut legend = Legend::default();
    let (lo, hi) = r.target_mmol_l;
    target_band(
        &mut chart,
        &mut legend,
        lo,
        hi,
        tmax,
        format!("target {}–{} mmol/L", sig3(lo), sig3(hi)),
    )?;
    // the highest threshold (the indication's emergency level) in vermillion, the others orange
    let emergency = r.thresholds_mmol_l.iter().copied().fold(f64::NAN, f64::max);
    for t in &r.thresholds_mmol_l {
        if *t < top {
            legend.threshold(
                &mut chart,
                *t,
                tmax,
                format!("{} mmol/L threshold", sig3(*t)),
                if *t >= emergency {
                    OI_VERMILLION
                } else {
                    OI_ORANGE
                },
            )?;
        }
    }
    // P(peak above) is reported for the toxic threshold, the second highest
    let k_toxic = r.thresholds_mmol_l.len().saturating_sub(2);
    let toxic = r
        .thresholds_mmol_l
        .get(k_toxic)
        .copied()
        .unwrap_or(f64::NAN);
    for (i, g) in r.regimens.iter().enumerate() {
        let c = PALETTE[i % PALETTE.len()];
        let outer: Vec<(f64, f64)> = g
            .points
            .iter()
            .map(|p| (p.time_h, p.p95_mmol_l))
            .chain(g.points.iter().rev().map(|p| (p.time_h, p.p05_mmol_l)))
            .collect();
        chart
            .draw_series(std::iter::once(Polygon::new(outer, c.mix(0.10).filled())))
            .map_err(e)?;
        let inner: Vec<(f64, f64)> = g
            .points
            .iter()
            .map(|p| (p.time_h, p.p75_mmol_l))
            .chain(g.points.iter().rev().map(|p| (p.time_h, p.p25_mmol_l)))
            .collect();
        chart
            .draw_series(std::iter::once(Polygon::new(inner, c.mix(0.22).filled())))
            .map_err(e)?;
        chart
            .draw_series(LineSeries::new(
                g.points.iter().map(|p| (p.time_h, p.p50_mmol_l)),
                c.stroke_width(3),
            ))
            .map_err(e)?;
        legend.add(
            Swatch::Line(c, 3),
            format!(
                "{} (median; P(peak > {} mmol/L) {} %)",
                g.label,
                sig3(toxic),
                sig3(100.0 * g.p_cmax_above.get(k_toxic).copied().unwrap_or(0.0))
            ),
        );
    }
    legend.draw(&layout)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_plot_grid_is_fine_and_keeps_the_asked_times() {
        let setup = trial_setup(&TrialRequest {
            regimens: vec!["zuspan".into()],
            population: Some("pre-eclampsia".into()),
            times_h: Some(vec![0.5, 7.25, 30.0]),
            n: 20_000_000,
            seed: 1,
            ..Default::default()
        })
        .unwrap();
        let (p, note) = plot_spec(&setup.spec);
        let t = &p.cfg.times_h;
        // every 10 min to 30 h (the end of a 20-minute load is a point), plus 7.25 h
        assert!(t.iter().any(|x| (x - 1.0 / 3.0).abs() < 1e-12));
        assert!(t.iter().any(|x| (x - 7.25).abs() < 1e-12));
        assert_eq!(*t.last().unwrap(), 30.0);
        assert!(t.windows(2).all(|w| w[1] > w[0]));
        assert_eq!(t.len(), 30 * 6 + 1 + 1);
        // 20 million patients x 182 times is too much for a picture: the first of them, said
        assert_eq!(p.cfg.n_subjects, 50_000_000 / 182);
        assert!(note.contains("first 274725 of the 20000000"), "{note}");
        // the same seed and population: the same virtual patients
        assert_eq!(p.cfg.seed, 1);
        assert_eq!(p.population, setup.spec.population);
    }

    #[test]
    fn targets_parse_with_units() {
        assert_eq!(parse_target("2.0-3.5").unwrap(), (2.0, 3.5));
        let (lo, hi) = parse_target("4.86-8.5 mg/dL").unwrap();
        assert!((lo - 2.0).abs() < 0.01 && (hi - 3.5).abs() < 0.01);
        assert!(parse_target("3.5-2.0").is_err());
        assert!(parse_target("two-three").is_err());
    }
}
