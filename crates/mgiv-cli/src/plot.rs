//! Plots (SVG or PNG, chosen by the file extension). Text in PNGs uses the bundled DejaVu Sans,
//! so plots render the same on a machine without fonts.
//!
//! A plotting function is generic over the backend: `fn draw<DB: DrawingBackend>(area:
//! &DrawingArea<DB, Shift>, ...) -> anyhow::Result<()>`; `plot_to_file!` dispatches on the file
//! extension.
//!
//! Every time plot shares one frame ([`layout`], [`time_chart`], [`Legend`]): a title and a
//! subtitle naming the model and the patient; the data area; threshold labels in a column to the
//! right of the data (never over a curve); the legend below the data; whole-hour ticks; the
//! Okabe–Ito colour-blind-safe palette.

use std::path::Path;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Once;

use anyhow::{anyhow, bail, Result};
use mgiv_core::ranges::{serum_levels, SerumLevels};
use mgiv_core::simulate::Simulation;
use mgiv_core::units::{ConcUnit, MgConc};
use plotters::coord::types::RangedCoordf64;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

pub mod gof;

static FONT: Once = Once::new();

/// `--start HH:MM`: the clock time of hour 0, in minutes after midnight (`u32::MAX`: none, the
/// axis shows hours since start).
static CLOCK_START_MIN: AtomicU32 = AtomicU32::new(u32::MAX);

/// Label time axes with clock time from `start_min` minutes after midnight (`None`: hours since
/// start).
pub fn set_clock_start(start_min: Option<u32>) {
    CLOCK_START_MIN.store(start_min.unwrap_or(u32::MAX), Ordering::Relaxed);
}

fn clock_start() -> Option<u32> {
    match CLOCK_START_MIN.load(Ordering::Relaxed) {
        u32::MAX => None,
        m => Some(m),
    }
}

/// Parse `--start`: a 24-hour clock time "HH:MM" (00:00 to 23:59) → minutes after midnight.
pub fn parse_clock(text: &str) -> std::result::Result<u32, String> {
    let allowed = "a 24-hour clock time HH:MM, 00:00 to 23:59, e.g. 08:30";
    let bad = || format!("invalid --start '{text}' (allowed: {allowed})");
    let (h, m) = text.trim().split_once(':').ok_or_else(bad)?;
    if h.is_empty() || h.len() > 2 || m.len() != 2 {
        return Err(bad());
    }
    let h: u32 = h.parse().map_err(|_| bad())?;
    let m: u32 = m.parse().map_err(|_| bad())?;
    if h > 23 || m > 59 {
        return Err(bad());
    }
    Ok(h * 60 + m)
}

/// The tick positions (hours since start) and their labels for an axis from 0 to `tmax_h`:
/// whole multiples of the step, or, with a clock start, whole clock hours that are multiples of
/// the step ("08:00", and "day 2 06:00" after midnight).
pub fn time_ticks(tmax_h: f64, start_min: Option<u32>) -> (Vec<(f64, String)>, String) {
    // clock labels are wider than hour numbers: at most about 6 of them
    let step = match start_min {
        None => hour_step(tmax_h),
        Some(_) => hour_step(tmax_h * 8.0 / 6.0),
    };
    let mut ticks = Vec::new();
    match start_min {
        None => {
            let mut k = 0;
            loop {
                let t = k as f64 * step;
                if t > tmax_h + 1e-9 {
                    break;
                }
                ticks.push((t, crate::output::sig3(t)));
                k += 1;
            }
            (ticks, "time since start (h)".to_string())
        }
        Some(start) => {
            // clock ticks on whole hours (or quarter hours for short plots) that are
            // multiples of the step on the 24-hour clock
            let offset_h = start as f64 / 60.0;
            let mut k = (offset_h / step - 1e-9).ceil() as i64;
            loop {
                let clock_h = k as f64 * step;
                let t = clock_h - offset_h;
                if t > tmax_h + 1e-9 {
                    break;
                }
                if t >= -1e-9 {
                    let total_min = (clock_h * 60.0).round() as i64;
                    let day = total_min / (24 * 60);
                    let (hh, mm) = ((total_min / 60) % 24, total_min % 60);
                    let label = if day == 0 {
                        format!("{hh:02}:{mm:02}")
                    } else {
                        format!("day {} {hh:02}:{mm:02}", day + 1)
                    };
                    ticks.push((t.max(0.0), label));
                }
                k += 1;
            }
            (
                ticks,
                format!(
                    "clock time (hour 0 = {:02}:{:02} on day 1)",
                    start / 60,
                    start % 60
                ),
            )
        }
    }
}

/// Register the bundled font (idempotent); both backends measure text with it.
/// Refuse a plot path before any computation: it must end in .svg or .png and its folder must
/// exist.
pub fn check_plot_path(path: &std::path::Path) -> anyhow::Result<()> {
    check_plot_path_for(path, "--plot")
}

/// [`check_plot_path`] for the option named `flag` (e.g. `--gof`), named in the error.
pub fn check_plot_path_for(path: &std::path::Path, flag: &str) -> anyhow::Result<()> {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(|e| e.to_ascii_lowercase());
    if !matches!(ext.as_deref(), Some("svg") | Some("png")) {
        anyhow::bail!(
            "invalid {flag} '{}' (allowed: a file name ending in .svg or .png)",
            path.display()
        );
    }
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => std::path::Path::new("."),
    };
    if !dir.is_dir() {
        anyhow::bail!(
            "invalid {flag} '{}': the folder '{}' does not exist",
            path.display(),
            dir.display()
        );
    }
    Ok(())
}

pub fn ensure_font() {
    FONT.call_once(|| {
        let bytes: &'static [u8] = include_bytes!("../../../assets/fonts/DejaVuSans.ttf");
        let _ = plotters::style::register_font("sans-serif", FontStyle::Normal, bytes);
        let _ = plotters::style::register_font("sans-serif", FontStyle::Bold, bytes);
    });
}

/// Which backend a path asks for.
pub fn plot_kind(path: &Path) -> Result<&'static str> {
    match path
        .extension()
        .and_then(|e| e.to_str())
        .map(|e| e.to_ascii_lowercase())
        .as_deref()
    {
        Some("svg") => Ok("svg"),
        Some("png") => Ok("png"),
        _ => bail!(
            "invalid plot file '{}' (allowed: a name ending in .svg or .png)",
            path.display()
        ),
    }
}

/// Call a generic draw function on an SVG or PNG backend chosen by the extension of `$path`.
#[macro_export]
macro_rules! plot_to_file {
    ($path:expr, $size:expr, $draw:ident $(, $arg:expr)* $(,)?) => {{
        let path: &std::path::Path = $path;
        match $crate::plot::plot_kind(path)? {
            "svg" => {
                // text extents are measured with the bundled font in SVG too
                $crate::plot::ensure_font();
                let root = plotters::prelude::SVGBackend::new(path, $size).into_drawing_area();
                $draw(&root $(, $arg)*)?;
                root.present().map_err(|e| anyhow::anyhow!("writing {}: {e:?}", path.display()))?;
            }
            _ => {
                $crate::plot::ensure_font();
                let root = plotters::prelude::BitMapBackend::new(path, $size).into_drawing_area();
                $draw(&root $(, $arg)*)?;
                root.present().map_err(|e| anyhow::anyhow!("writing {}: {e:?}", path.display()))?;
            }
        }
        anyhow::Ok(())
    }};
}

pub fn e<E: std::fmt::Debug>(err: E) -> anyhow::Error {
    anyhow!("plot error: {err:?}")
}

/// A chart with time (h) on x and a concentration on y.
pub type TimeChart<'a, DB> = ChartContext<'a, DB, Cartesian2d<RangedCoordf64, RangedCoordf64>>;

// Okabe & Ito (2008) colour-blind-safe palette.
pub const OI_BLACK: RGBColor = RGBColor(0, 0, 0);
pub const OI_ORANGE: RGBColor = RGBColor(230, 159, 0);
pub const OI_SKY: RGBColor = RGBColor(86, 180, 233);
pub const OI_GREEN: RGBColor = RGBColor(0, 158, 115);
pub const OI_BLUE: RGBColor = RGBColor(0, 114, 178);
pub const OI_VERMILLION: RGBColor = RGBColor(213, 94, 0);
pub const OI_PURPLE: RGBColor = RGBColor(204, 121, 167);
pub const OI_GREY: RGBColor = RGBColor(110, 110, 110);
/// Curves in order: blue, vermillion, green, purple, orange, sky blue.
pub const PALETTE: [RGBColor; 6] = [
    OI_BLUE,
    OI_VERMILLION,
    OI_GREEN,
    OI_PURPLE,
    OI_ORANGE,
    OI_SKY,
];
/// The shade of a target band (bluish green, light).
pub const TARGET_SHADE: RGBColor = OI_GREEN;

/// The areas of a time plot: the data, the threshold-label column at its right, the legend below.
pub struct Layout<DB: DrawingBackend> {
    pub plot: DrawingArea<DB, Shift>,
    side: DrawingArea<DB, Shift>,
    legend: DrawingArea<DB, Shift>,
}

/// How a legend entry is drawn.
#[derive(Clone, Copy)]
pub enum Swatch {
    Line(RGBColor, u32),
    Band(RGBColor, f64),
    Dot(RGBColor),
}

/// Legend entries (drawn below the data) and threshold labels (drawn right of the data).
#[derive(Default)]
pub struct Legend {
    entries: Vec<(Swatch, String)>,
    side: Vec<(i32, String, RGBColor)>,
}

// plot layout (pixels), not science
const SIDE_W: i32 = 250;
const HEAD_H: i32 = 58;
const ROW_H: i32 = 20;

/// Split `root` into title, data, side column and legend; `legend_rows` legend lines (two
/// entries a line) are reserved below the data.
pub fn layout<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    title: &str,
    subtitle: &str,
    legend_entries: usize,
) -> Result<Layout<DB>> {
    layout_with_side(root, title, subtitle, legend_entries, SIDE_W)
}

/// [`layout`] with a label column of `side_w` pixels (a plot without threshold lines needs only
/// a small margin there).
pub fn layout_with_side<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    title: &str,
    subtitle: &str,
    legend_entries: usize,
    side_w: i32,
) -> Result<Layout<DB>> {
    root.fill(&WHITE).map_err(e)?;
    let (w, h) = root.dim_in_pixel();
    let (head, rest) = root.split_vertically(HEAD_H);
    head.draw(&Text::new(
        title.to_string(),
        (14, 8),
        ("sans-serif", 18).into_font(),
    ))
    .map_err(e)?;
    head.draw(&Text::new(
        subtitle.to_string(),
        (14, 34),
        ("sans-serif", 13).into_font().color(&RGBColor(70, 70, 70)),
    ))
    .map_err(e)?;
    let rows = legend_entries.div_ceil(2) as i32;
    let legend_h = rows * ROW_H + 12;
    let (body, legend) = rest.split_vertically(h as i32 - HEAD_H - legend_h);
    let (plot, side) = body.split_horizontally(w as i32 - side_w.max(1));
    Ok(Layout { plot, side, legend })
}

/// A step between labelled hours that gives at most 9 labels: 1, 2, 4, 6, 12, 24, 48... h.
pub fn hour_step(tmax_h: f64) -> f64 {
    [
        // tick steps (h): plot layout
        0.25, 0.5, 1.0, 2.0, 4.0, 6.0, 12.0, 24.0, 48.0, 96.0, 168.0, 336.0,
    ]
    .into_iter()
    .find(|s| tmax_h / s <= 8.0)
    .unwrap_or(720.0)
}

/// The frame of every serum-level plot on `area`: axes from 0 to `tmax_h` and 0 to `y_top`,
/// whole-hour ticks with a light grid ("time since start (h)", or clock time after `--start`)
/// and `y_desc`.
pub fn time_chart<'a, DB: DrawingBackend>(
    area: &'a DrawingArea<DB, Shift>,
    tmax_h: f64,
    y_top: f64,
    y_desc: &str,
) -> Result<TimeChart<'a, DB>> {
    time_chart_range(area, None, tmax_h, 0.0, y_top, y_desc)
}

/// [`time_chart`] with a caption (a panel of a multi-panel plot) and a y range from `y_lo`.
pub fn time_chart_range<'a, DB: DrawingBackend>(
    area: &'a DrawingArea<DB, Shift>,
    caption: Option<&str>,
    tmax_h: f64,
    y_lo: f64,
    y_top: f64,
    y_desc: &str,
) -> Result<TimeChart<'a, DB>> {
    let (ticks, x_desc) = time_ticks(tmax_h, clock_start());
    let mut builder = ChartBuilder::on(area);
    if let Some(c) = caption {
        builder.caption(c, ("sans-serif", 15));
    }
    let mut chart = builder
        .margin(10)
        .margin_right(6)
        .x_label_area_size(48)
        .y_label_area_size(68)
        .build_cartesian_2d(0f64..tmax_h, y_lo..y_top)
        .map_err(e)?;
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(0)
        .y_labels(8)
        .y_label_formatter(&|v| {
            // a tick at zero computed as 1e-18 reads "0"
            let v = if v.abs() < 1e-9 * (y_top - y_lo).abs() {
                0.0
            } else {
                *v
            };
            crate::output::sig3(v)
        })
        .x_desc(x_desc)
        .y_desc(y_desc)
        .bold_line_style(RGBColor(228, 228, 228))
        .light_line_style(WHITE.mix(0.0))
        .label_style(("sans-serif", 13))
        .draw()
        .map_err(e)?;
    // whole-hour (or whole clock-hour) ticks and grid lines, so a clinician reads times off
    // the axis
    let base = area.get_base_pixel();
    let label =
        TextStyle::from(("sans-serif", 13).into_font()).pos(Pos::new(HPos::Center, VPos::Top));
    for (t, text) in ticks {
        chart
            .draw_series(LineSeries::new(
                vec![(t, y_lo), (t, y_top)],
                RGBColor(228, 228, 228),
            ))
            .map_err(e)?;
        let (px, py) = chart.backend_coord(&(t, y_lo));
        area.draw(&Text::new(
            text,
            (px - base.0, py - base.1 + 6),
            label.clone(),
        ))
        .map_err(e)?;
    }
    Ok(chart)
}

impl Legend {
    pub fn add(&mut self, swatch: Swatch, label: impl Into<String>) {
        self.entries.push((swatch, label.into()));
    }

    /// A horizontal line at `y` across the data (a toxicity threshold), labelled in the column
    /// right of the data at the same height, so the label never sits on a curve.
    pub fn threshold<DB: DrawingBackend>(
        &mut self,
        chart: &mut TimeChart<'_, DB>,
        y: f64,
        tmax_h: f64,
        label: String,
        color: RGBColor,
    ) -> Result<()> {
        chart
            .draw_series(DashedLineSeries::new(
                vec![(0.0, y), (tmax_h, y)],
                10,
                5,
                color.stroke_width(2),
            ))
            .map_err(e)?;
        let (_, py) = chart.backend_coord(&(tmax_h, y));
        self.side.push((py, label, color));
        Ok(())
    }

    /// Draw the threshold labels (moved apart when they would overlap) and the legend.
    pub fn draw<DB: DrawingBackend>(mut self, layout: &Layout<DB>) -> Result<()> {
        let base = layout.side.get_base_pixel();
        self.side.sort_by_key(|s| s.0);
        let mut last = i32::MIN;
        for (py, text, color) in &self.side {
            let mut y = (*py - base.1 - 8).max(last + 16);
            y = y.max(0);
            last = y;
            layout
                .side
                .draw(&Text::new(
                    text.clone(),
                    (6, y),
                    ("sans-serif", 12).into_font().color(color),
                ))
                .map_err(e)?;
        }
        draw_entries(&layout.legend, &self.entries, 2)
    }
}

/// Legend entries on `area` (outside the data), `columns` a line.
pub fn draw_entries<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    entries: &[(Swatch, String)],
    columns: usize,
) -> Result<()> {
    {
        let layout_legend = area;
        let (w, _) = layout_legend.dim_in_pixel();
        let cols = columns.max(1) as i32;
        let col_w = (w as i32 - 80) / cols;
        for (i, (swatch, text)) in entries.iter().enumerate() {
            let x = 78 + (i as i32 % cols) * col_w;
            let y = 6 + (i as i32 / cols) * ROW_H + ROW_H / 2;
            match *swatch {
                Swatch::Line(c, w) => layout_legend
                    .draw(&PathElement::new(
                        vec![(x, y), (x + 24, y)],
                        c.stroke_width(w),
                    ))
                    .map_err(e)?,
                Swatch::Band(c, a) => layout_legend
                    .draw(&Rectangle::new(
                        [(x, y - 6), (x + 24, y + 6)],
                        c.mix(a).filled(),
                    ))
                    .map_err(e)?,
                Swatch::Dot(c) => layout_legend
                    .draw(&Circle::new((x + 12, y), 5, c.filled()))
                    .map_err(e)?,
            }
            layout_legend
                .draw(&Text::new(
                    text.clone(),
                    (x + 32, y - 7),
                    ("sans-serif", 13).into_font(),
                ))
                .map_err(e)?;
        }
        Ok(())
    }
}

/// A shaded target range across the whole time axis, with a legend entry.
pub fn target_band<DB: DrawingBackend>(
    chart: &mut TimeChart<'_, DB>,
    legend: &mut Legend,
    lo: f64,
    hi: f64,
    tmax_h: f64,
    label: String,
) -> Result<()> {
    chart
        .draw_series(std::iter::once(Rectangle::new(
            [(0.0, lo), (tmax_h, hi)],
            TARGET_SHADE.mix(0.16).filled(),
        )))
        .map_err(e)?;
    legend.add(Swatch::Band(TARGET_SHADE, 0.3), label);
    Ok(())
}

/// What a serum plot shows besides the curve: the target (lo, hi in mmol/L, and where it comes
/// from) and the patient in words.
pub struct SerumPlotContext<'a> {
    pub target_mmol_l: Option<(f64, f64)>,
    pub target_why: &'a str,
    pub patient: String,
}

/// The serum curve with the normal range and the target shaded across the whole time axis, the
/// toxicity thresholds as labelled lines, and the peak marked.
pub fn serum_plot(
    path: &Path,
    sim: &Simulation,
    regimen: &str,
    unit: ConcUnit,
    ctx: &SerumPlotContext<'_>,
) -> Result<()> {
    // image size (pixels): plot layout
    serum_plot_sized(path, (1200, 700), sim, regimen, unit, ctx)
}

/// [`serum_plot`] at a given size in pixels (the printable report uses a wide, low one).
pub fn serum_plot_sized(
    path: &Path,
    size: (u32, u32),
    sim: &Simulation,
    regimen: &str,
    unit: ConcUnit,
    ctx: &SerumPlotContext<'_>,
) -> Result<()> {
    plot_to_file!(path, size, draw_serum, sim, regimen, unit, ctx)
}

/// The serum plot: the frame, the normal range, the target, the thresholds below the top of the
/// y axis, the predicted curve and its peak.
fn draw_serum<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    sim: &Simulation,
    regimen: &str,
    unit: ConcUnit,
    ctx: &SerumPlotContext<'_>,
) -> Result<()> {
    let levels = serum_levels()?;
    let u = |mmol: f64| in_unit(mmol, unit);
    let sym = unit.symbol();
    let tmax = sim.times_h.last().copied().unwrap_or(1.0).max(1e-3);
    let (_, peak) = sim.peak().unwrap_or((0.0, 1.0));
    let y_top_mmol = serum_y_top_mmol(&levels, peak)?;
    let layout = layout(
        root,
        &format!("Total serum Mg — {regimen}"),
        &format!(
            "model {} (typical patient of its population) · patient: {}",
            sim.model.id, ctx.patient
        ),
        4,
    )?;
    let mut chart = time_chart(
        &layout.plot,
        tmax,
        u(y_top_mmol),
        &format!("total serum Mg ({sym})"),
    )?;
    let mut legend = Legend::default();
    draw_normal_range(&mut chart, &mut legend, &levels, unit, tmax)?;
    if let Some((lo, hi)) = ctx.target_mmol_l {
        target_band(
            &mut chart,
            &mut legend,
            u(lo),
            u(hi),
            tmax,
            format!(
                "target {}–{} {sym} ({})",
                crate::output::sig3(u(lo)),
                crate::output::sig3(u(hi)),
                ctx.target_why
            ),
        )?;
    }
    draw_serum_thresholds(&mut chart, &mut legend, &levels, unit, tmax, y_top_mmol)?;
    draw_serum_curve(&mut chart, &mut legend, sim, unit)?;
    legend.draw(&layout)?;
    Ok(())
}

/// A total serum Mg in mmol/L expressed in `unit`.
fn in_unit(mmol_l: f64, unit: ConcUnit) -> f64 {
    MgConc::from_mmol_l(mmol_l).in_unit(unit)
}

/// The top of the serum plot's y axis (mmol/L) for a curve peaking at `peak_mmol_l`.
fn serum_y_top_mmol(levels: &SerumLevels, peak_mmol_l: f64) -> Result<f64> {
    // show at least the 2.0 threshold; the areflexia line (5.0, data/ranges/serum-mg.toml) only
    // when the curve approaches it; 4.0, 3.8 and the headroom factors are plot layout
    let areflexia_mmol = levels
        .thresholds
        .iter()
        .find(|t| t.id == "areflexia-respiratory")
        .map(|t| t.mmol_l)
        .ok_or_else(|| {
            anyhow!("data/ranges/serum-mg.toml: threshold areflexia-respiratory missing")
        })?;
    Ok(if peak_mmol_l > 4.0 {
        peak_mmol_l.max(areflexia_mmol) * 1.15
    } else {
        (peak_mmol_l * 1.2).max(3.8)
    })
}

/// The normal range (data/ranges/serum-mg.toml), shaded grey across the time axis.
fn draw_normal_range<DB: DrawingBackend>(
    chart: &mut TimeChart<'_, DB>,
    legend: &mut Legend,
    levels: &SerumLevels,
    unit: ConcUnit,
    tmax: f64,
) -> Result<()> {
    let sym = unit.symbol();
    if let Some(normal) = levels.ranges.iter().find(|r| r.kind == "normal") {
        let (lo, hi) = (
            in_unit(normal.lo_mmol_l, unit),
            in_unit(normal.hi_mmol_l, unit),
        );
        chart
            .draw_series(std::iter::once(Rectangle::new(
                [(0.0, lo), (tmax, hi)],
                OI_GREY.mix(0.13).filled(),
            )))
            .map_err(e)?;
        legend.add(
            Swatch::Band(OI_GREY, 0.25),
            format!(
                "{} {}–{} {sym}",
                normal.label,
                crate::output::sig3(lo),
                crate::output::sig3(hi)
            ),
        );
    }
    Ok(())
}

/// The toxicity thresholds up to `y_top_mmol` as labelled dashed lines.
fn draw_serum_thresholds<DB: DrawingBackend>(
    chart: &mut TimeChart<'_, DB>,
    legend: &mut Legend,
    levels: &SerumLevels,
    unit: ConcUnit,
    tmax: f64,
    y_top_mmol: f64,
) -> Result<()> {
    let sym = unit.symbol();
    // from respiratory paralysis up (data/ranges/serum-mg.toml) in vermillion, the others orange
    let severe_mmol = levels
        .thresholds
        .iter()
        .find(|t| t.id == "areflexia-respiratory")
        .map_or(f64::INFINITY, |t| t.mmol_l);
    for t in &levels.thresholds {
        if t.mmol_l > y_top_mmol {
            continue;
        }
        let color = if t.mmol_l >= severe_mmol {
            OI_VERMILLION
        } else {
            OI_ORANGE
        };
        let y = in_unit(t.mmol_l, unit);
        legend.threshold(
            chart,
            y,
            tmax,
            format!("{} {sym}: {}", crate::output::sig3(y), t.label),
            color,
        )?;
    }
    Ok(())
}

/// The predicted serum curve and its peak, marked and labelled.
fn draw_serum_curve<DB: DrawingBackend>(
    chart: &mut TimeChart<'_, DB>,
    legend: &mut Legend,
    sim: &Simulation,
    unit: ConcUnit,
) -> Result<()> {
    let u = |mmol: f64| in_unit(mmol, unit);
    let sym = unit.symbol();
    let (tp, peak) = sim.peak().unwrap_or((0.0, 1.0));
    chart
        .draw_series(LineSeries::new(
            sim.times_h
                .iter()
                .zip(&sim.serum_mmol_l)
                .map(|(&t, &c)| (t, u(c))),
            OI_BLUE.stroke_width(3),
        ))
        .map_err(e)?;
    legend.add(
        Swatch::Line(OI_BLUE, 3),
        "predicted total serum Mg (drawn every minute or finer)",
    );
    chart
        .draw_series(std::iter::once(Circle::new(
            (tp, u(peak)),
            5,
            OI_BLACK.filled(),
        )))
        .map_err(e)?;
    legend.add(
        Swatch::Dot(OI_BLACK),
        format!(
            "peak {} {sym} at {} h",
            crate::output::sig3(u(peak)),
            crate::output::sig3(tp)
        ),
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clock_times_parse_and_refuse() {
        assert_eq!(parse_clock("08:30"), Ok(510));
        assert_eq!(parse_clock("0:05"), Ok(5));
        assert_eq!(parse_clock("23:59"), Ok(23 * 60 + 59));
        for bad in ["24:00", "8", "08:60", "08:3", "-1:00", "a:bc", ""] {
            let e = parse_clock(bad).unwrap_err();
            assert!(
                e.contains(&format!("'{bad}'")) && e.contains("HH:MM"),
                "{e}"
            );
        }
    }

    #[test]
    fn ticks_are_whole_hours_or_whole_clock_hours() {
        let (t, desc) = time_ticks(48.0, None);
        let labels: Vec<&str> = t.iter().map(|x| x.1.as_str()).collect();
        assert_eq!(labels, ["0", "6", "12", "18", "24", "30", "36", "42", "48"]);
        assert_eq!(desc, "time since start (h)");
        // 08:30 start, 30 h: 6-hourly clock ticks at 12:00, 18:00, midnight ...
        let (t, desc) = time_ticks(30.0, Some(8 * 60 + 30));
        let labels: Vec<&str> = t.iter().map(|x| x.1.as_str()).collect();
        assert_eq!(
            labels,
            [
                "12:00",
                "18:00",
                "day 2 00:00",
                "day 2 06:00",
                "day 2 12:00"
            ]
        );
        // each tick sits at its clock time: 12:00 is 3.5 h after 08:30
        assert!((t[0].0 - 3.5).abs() < 1e-12);
        assert!(t.iter().all(|x| x.0 >= 0.0 && x.0 <= 30.0));
        assert!(desc.contains("08:30"));
        // a tick at hour 0 when the start is on a whole step
        let (t, _) = time_ticks(12.0, Some(0));
        assert_eq!(t[0], (0.0, "00:00".to_string()));
    }
}
