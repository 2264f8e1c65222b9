//! Plots (SVG or PNG, chosen by the file extension). Text in PNGs uses the bundled DejaVu Sans,
//! so plots render the same on a machine without fonts.
//!
//! A plotting function is generic over the backend: `fn draw<DB: DrawingBackend>(area:
//! &DrawingArea<DB, Shift>, ...) -> anyhow::Result<()>`; [`plot_to_file!`] dispatches on the file
//! extension.

use std::path::Path;
use std::sync::Once;

use anyhow::{anyhow, bail, Result};
use mgiv_core::ranges::serum_levels;
use mgiv_core::simulate::Simulation;
use mgiv_core::units::{ConcUnit, MgConc};
use plotters::coord::types::RangedCoordf64;
use plotters::coord::Shift;
use plotters::prelude::*;

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

/// The common frame of every serum-level plot: white background, caption, axes from 0 to
/// `tmax_h` and 0 to `y_top`, labelled "time since start (h)" and `y_desc`.
pub fn time_chart<'a, DB: DrawingBackend>(
    root: &'a DrawingArea<DB, Shift>,
    caption: String,
    tmax_h: f64,
    y_top: f64,
    y_desc: &str,
) -> Result<TimeChart<'a, DB>> {
    root.fill(&WHITE).map_err(e)?;
    let mut chart = ChartBuilder::on(root)
        .caption(caption, ("sans-serif", 16))
        .margin(12)
        .x_label_area_size(45)
        .y_label_area_size(65)
        .build_cartesian_2d(0f64..tmax_h, 0f64..y_top)
        .map_err(e)?;
    chart
        .configure_mesh()
        .x_desc("time since start (h)")
        .y_desc(y_desc)
        .light_line_style(WHITE.mix(0.0))
        .draw()
        .map_err(e)?;
    Ok(chart)
}

/// A shaded target range across the whole time axis, with a legend entry.
pub fn target_band<DB: DrawingBackend>(
    chart: &mut TimeChart<'_, DB>,
    lo: f64,
    hi: f64,
    tmax_h: f64,
    label: String,
) -> Result<()> {
    chart
        .draw_series(std::iter::once(Rectangle::new(
            [(0.0, lo), (tmax_h, hi)],
            GREEN.mix(0.08).filled(),
        )))
        .map_err(e)?
        .label(label)
        .legend(|(x, y)| Rectangle::new([(x, y - 5), (x + 14, y + 5)], GREEN.mix(0.3).filled()));
    Ok(())
}

/// The serum curve with labelled normal/therapeutic bands and toxicity thresholds.
pub fn serum_plot(path: &Path, sim: &Simulation, regimen: &str, unit: ConcUnit) -> Result<()> {
    plot_to_file!(path, (1100, 650), draw_serum, sim, regimen, unit)
}

fn draw_serum<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    sim: &Simulation,
    regimen: &str,
    unit: ConcUnit,
) -> Result<()> {
    let levels = serum_levels()?;
    let u = |mmol: f64| MgConc::from_mmol_l(mmol).in_unit(unit);
    let tmax = sim.times_h.last().copied().unwrap_or(1.0).max(1e-3);
    let peak = sim.peak().map(|p| p.1).unwrap_or(1.0);
    // show at least the 2.0 threshold; the 5.0 line only when the curve approaches it
    let y_top_mmol = if peak > 4.0 {
        peak.max(5.0) * 1.15
    } else {
        (peak * 1.2).max(3.8)
    };
    let mut chart = time_chart(
        root,
        format!("Total serum Mg — {} — model {}", regimen, sim.model.id),
        tmax,
        u(y_top_mmol),
        &format!("total serum Mg ({})", unit.symbol()),
    )?;
    let band_colors = [
        RGBColor(0, 150, 0),
        RGBColor(30, 90, 200),
        RGBColor(120, 60, 180),
        RGBColor(0, 140, 160),
        RGBColor(150, 120, 0),
    ];
    // the normal range is shaded across the plot; target ranges are bars at the right edge so
    // they never hide each other or the curve
    let mut k = 0;
    for (i, r) in levels.ranges.iter().enumerate() {
        let c = band_colors[i % band_colors.len()];
        let (lo, hi) = (u(r.lo_mmol_l), u(r.hi_mmol_l));
        let (x0, x1, alpha) = if r.kind == "normal" {
            (0.0, tmax, 0.18)
        } else {
            k += 1;
            let w = tmax * 0.012;
            let x1 = tmax - w * 1.4 * (k - 1) as f64;
            (x1 - w, x1, 0.55)
        };
        chart
            .draw_series(std::iter::once(Rectangle::new(
                [(x0, lo), (x1, hi)],
                c.mix(alpha).filled(),
            )))
            .map_err(e)?
            .label(format!("{} {:.2}–{:.2} {}", r.label, lo, hi, unit.symbol()))
            .legend(move |(x, y)| {
                Rectangle::new([(x, y - 5), (x + 14, y + 5)], c.mix(0.6).filled())
            });
    }
    for t in &levels.thresholds {
        if t.mmol_l > y_top_mmol {
            continue;
        }
        let y = u(t.mmol_l);
        let color = if t.mmol_l >= 5.0 {
            RED
        } else {
            RGBColor(230, 120, 0)
        };
        chart
            .draw_series(LineSeries::new(
                vec![(0.0, y), (tmax, y)],
                color.stroke_width(2),
            ))
            .map_err(e)?;
        chart
            .draw_series(std::iter::once(Text::new(
                format!("{} ({:.2} {})", t.label, y, unit.symbol()),
                (tmax * 0.01, y + u(y_top_mmol) * 0.012),
                ("sans-serif", 13).into_font().color(&color),
            )))
            .map_err(e)?;
    }
    chart
        .draw_series(LineSeries::new(
            sim.times_h
                .iter()
                .zip(&sim.serum_mmol_l)
                .map(|(&t, &c)| (t, u(c))),
            BLACK.stroke_width(3),
        ))
        .map_err(e)?
        .label("predicted total serum Mg (typical patient)")
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 14, y)], BLACK.stroke_width(3)));
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::LowerRight)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .label_font(("sans-serif", 12))
        .draw()
        .map_err(e)?;
    Ok(())
}
