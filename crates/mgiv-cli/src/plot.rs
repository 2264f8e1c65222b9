//! Plots (SVG or PNG, chosen by the file extension). Text in PNGs uses the bundled DejaVu Sans,
//! so plots render the same on a machine without fonts.
//!
//! A plotting function is generic over the backend: `fn draw<DB: DrawingBackend>(area:
//! &DrawingArea<DB, Shift>, ...) -> anyhow::Result<()>`; [`plot_to_file!`] dispatches on the file
//! extension.
//!
//! Every time plot shares one frame ([`layout`], [`time_chart`], [`Legend`]): a title and a
//! subtitle naming the model and the patient; the data area; threshold labels in a column to the
//! right of the data (never over a curve); the legend below the data; whole-hour ticks; the
//! Okabe–Ito colour-blind-safe palette.

use std::path::Path;
use std::sync::Once;

use anyhow::{anyhow, bail, Result};
use mgiv_core::ranges::serum_levels;
use mgiv_core::simulate::Simulation;
use mgiv_core::units::{ConcUnit, MgConc};
use plotters::coord::types::RangedCoordf64;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

static FONT: Once = Once::new();

/// Register the bundled font (idempotent); both backends measure text with it.
/// Refuse a plot path before any computation: it must end in .svg or .png and its folder must
/// exist.
pub fn check_plot_path(path: &std::path::Path) -> anyhow::Result<()> {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(|e| e.to_ascii_lowercase());
    if !matches!(ext.as_deref(), Some("svg") | Some("png")) {
        anyhow::bail!(
            "invalid --plot '{}' (allowed: a file name ending in .svg or .png)",
            path.display()
        );
    }
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => std::path::Path::new("."),
    };
    if !dir.is_dir() {
        anyhow::bail!(
            "invalid --plot '{}': the folder '{}' does not exist",
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
    let (plot, side) = body.split_horizontally(w as i32 - SIDE_W);
    Ok(Layout { plot, side, legend })
}

/// A step between labelled hours that gives at most 9 labels: 1, 2, 4, 6, 12, 24, 48... h.
pub fn hour_step(tmax_h: f64) -> f64 {
    [
        0.25, 0.5, 1.0, 2.0, 4.0, 6.0, 12.0, 24.0, 48.0, 96.0, 168.0, 336.0,
    ]
    .into_iter()
    .find(|s| tmax_h / s <= 8.0)
    .unwrap_or(720.0)
}

/// The frame of every serum-level plot on `area`: axes from 0 to `tmax_h` and 0 to `y_top`,
/// whole-hour ticks with a light grid, "time since start (h)" and `y_desc`.
pub fn time_chart<'a, DB: DrawingBackend>(
    area: &'a DrawingArea<DB, Shift>,
    tmax_h: f64,
    y_top: f64,
    y_desc: &str,
) -> Result<TimeChart<'a, DB>> {
    let mut chart = ChartBuilder::on(area)
        .margin(10)
        .margin_right(6)
        .x_label_area_size(48)
        .y_label_area_size(68)
        .build_cartesian_2d(0f64..tmax_h, 0f64..y_top)
        .map_err(e)?;
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(0)
        .y_labels(8)
        .y_label_formatter(&|v| crate::output::sig3(*v))
        .x_desc("time since start (h)")
        .y_desc(y_desc)
        .bold_line_style(RGBColor(228, 228, 228))
        .light_line_style(WHITE.mix(0.0))
        .label_style(("sans-serif", 13))
        .draw()
        .map_err(e)?;
    // whole-hour ticks and grid lines, chosen so a clinician can read times off the axis
    let step = hour_step(tmax_h);
    let base = area.get_base_pixel();
    let label =
        TextStyle::from(("sans-serif", 13).into_font()).pos(Pos::new(HPos::Center, VPos::Top));
    let mut k = 0;
    loop {
        let t = k as f64 * step;
        if t > tmax_h + 1e-9 {
            break;
        }
        chart
            .draw_series(LineSeries::new(
                vec![(t, 0.0), (t, y_top)],
                RGBColor(228, 228, 228),
            ))
            .map_err(e)?;
        let (px, py) = chart.backend_coord(&(t, 0.0));
        area.draw(&Text::new(
            crate::output::sig3(t),
            (px - base.0, py - base.1 + 6),
            label.clone(),
        ))
        .map_err(e)?;
        k += 1;
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

fn draw_serum<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    sim: &Simulation,
    regimen: &str,
    unit: ConcUnit,
    ctx: &SerumPlotContext<'_>,
) -> Result<()> {
    let levels = serum_levels()?;
    let u = |mmol: f64| MgConc::from_mmol_l(mmol).in_unit(unit);
    let sym = unit.symbol();
    let tmax = sim.times_h.last().copied().unwrap_or(1.0).max(1e-3);
    let (tp, peak) = sim.peak().unwrap_or((0.0, 1.0));
    // show at least the 2.0 threshold; the 5.0 line only when the curve approaches it
    let y_top_mmol = if peak > 4.0 {
        peak.max(5.0) * 1.15
    } else {
        (peak * 1.2).max(3.8)
    };
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
    if let Some(normal) = levels.ranges.iter().find(|r| r.kind == "normal") {
        let (lo, hi) = (u(normal.lo_mmol_l), u(normal.hi_mmol_l));
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
    for t in &levels.thresholds {
        if t.mmol_l > y_top_mmol {
            continue;
        }
        let color = if t.mmol_l >= 5.0 {
            OI_VERMILLION
        } else {
            OI_ORANGE
        };
        legend.threshold(
            &mut chart,
            u(t.mmol_l),
            tmax,
            format!("{} {sym}: {}", crate::output::sig3(u(t.mmol_l)), t.label),
            color,
        )?;
    }
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
    legend.draw(&layout)?;
    Ok(())
}
