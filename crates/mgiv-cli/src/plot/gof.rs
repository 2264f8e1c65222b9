//! The goodness-of-fit panel of `mgiv simulate --data ... --gof FILE`: DV vs PRED, DV vs IPRED
//! (identity line), CWRES vs TIME, CWRES vs PRED (0 and ±2 lines), each with the smoother of
//! `mgiv_fit::diagnostics::gof_series`. The values are the library's sdtab; nothing is computed
//! here but axis ranges.

use anyhow::Result;
use mgiv_fit::diagnostics::{Gof, GofPanel};
use plotters::coord::Shift;
use plotters::prelude::*;

use crate::plot::{self, e, Swatch};

/// Pixel size of the GOF plot.
// image size (pixels): plot layout, not science
pub const SIZE: (u32, u32) = (1100, 1000);

/// Data points are drawn as circles of this radius (one per observation and panel; the legend
/// adds one more).
const DOT_PX: u32 = 3;

/// Axis range of a panel: the data's span, widened by 5 % each side (never empty).
fn span(values: impl Iterator<Item = f64>) -> (f64, f64) {
    let (lo, hi) = values
        .filter(|v| v.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
            (a.min(v), b.max(v))
        });
    if !lo.is_finite() {
        return (0.0, 1.0);
    }
    let pad = ((hi - lo) * 0.05).max(1e-3 * hi.abs().max(1.0));
    (lo - pad, hi + pad)
}

/// Write the GOF plot of `g` to `path` (.png or .svg, checked by
/// [`plot::check_plot_path_for`] before any computation).
pub fn write_gof(path: &std::path::Path, g: &Gof, subtitle: &str) -> Result<()> {
    crate::plot_to_file!(path, SIZE, draw_gof, g, subtitle)
}

/// Draw the four panels with the shared frame's title, subtitle and legend.
pub fn draw_gof<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    g: &Gof,
    subtitle: &str,
) -> Result<()> {
    let layout = plot::layout_with_side(root, "Goodness of fit", subtitle, 4, 16)?;
    let cells = layout.plot.split_evenly((2, 2));
    // both DV panels on the same square range, so the identity line is the diagonal
    let conc = span(
        g.dv_vs_pred
            .points
            .iter()
            .chain(&g.dv_vs_ipred.points)
            .flat_map(|p| [p.0, p.1]),
    );
    let cw_max = g
        .cwres_vs_time
        .points
        .iter()
        .map(|p| p.1.abs())
        .filter(|v| v.is_finite())
        .fold(3.0, f64::max)
        * 1.08;
    let (t_lo, t_hi) = span(g.cwres_vs_time.points.iter().map(|p| p.0));
    let pred = span(g.cwres_vs_pred.points.iter().map(|p| p.0));
    panel(
        &cells[0],
        &g.dv_vs_pred,
        "DV vs PRED",
        conc,
        conc,
        ("PRED (mmol/L)", "DV (mmol/L)"),
        Reference::Identity,
    )?;
    panel(
        &cells[1],
        &g.dv_vs_ipred,
        "DV vs IPRED",
        conc,
        conc,
        ("IPRED (mmol/L)", "DV (mmol/L)"),
        Reference::Identity,
    )?;
    panel(
        &cells[2],
        &g.cwres_vs_time,
        "CWRES vs TIME",
        (t_lo.min(0.0), t_hi),
        (-cw_max, cw_max),
        ("TIME (h)", "CWRES"),
        Reference::ZeroAndTwo,
    )?;
    panel(
        &cells[3],
        &g.cwres_vs_pred,
        "CWRES vs PRED",
        pred,
        (-cw_max, cw_max),
        ("PRED (mmol/L)", "CWRES"),
        Reference::ZeroAndTwo,
    )?;
    let entries = [
        (Swatch::Dot(plot::OI_BLUE), "observation".to_string()),
        (
            Swatch::Line(plot::OI_VERMILLION, 2),
            "smoother (means of 3 to 12 equal-size groups along x)".to_string(),
        ),
        (
            Swatch::Line(plot::OI_BLACK, 1),
            "identity line (DV = prediction) / CWRES = 0".to_string(),
        ),
        (Swatch::Line(plot::OI_GREY, 1), "CWRES = ±2".to_string()),
    ];
    plot::draw_entries(&layout.legend, &entries, 2)
}

#[derive(Clone, Copy)]
enum Reference {
    Identity,
    ZeroAndTwo,
}

fn panel<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    p: &GofPanel,
    caption: &str,
    x: (f64, f64),
    y: (f64, f64),
    desc: (&str, &str),
    reference: Reference,
) -> Result<()> {
    let mut chart = ChartBuilder::on(area)
        .caption(caption, ("sans-serif", 15))
        .margin(10)
        .x_label_area_size(44)
        .y_label_area_size(60)
        .build_cartesian_2d(x.0..x.1, y.0..y.1)
        .map_err(e)?;
    chart
        .configure_mesh()
        .x_labels(7)
        .y_labels(7)
        .x_label_formatter(&|v| crate::output::sig3(*v))
        .y_label_formatter(&|v| crate::output::sig3(if v.abs() < 1e-9 { 0.0 } else { *v }))
        .x_desc(desc.0)
        .y_desc(desc.1)
        .bold_line_style(RGBColor(228, 228, 228))
        .light_line_style(WHITE.mix(0.0))
        .label_style(("sans-serif", 12))
        .draw()
        .map_err(e)?;
    match reference {
        Reference::Identity => {
            let (lo, hi) = (x.0.max(y.0), x.1.min(y.1));
            chart
                .draw_series(LineSeries::new(
                    vec![(lo, lo), (hi, hi)],
                    plot::OI_BLACK.stroke_width(1),
                ))
                .map_err(e)?;
        }
        Reference::ZeroAndTwo => {
            chart
                .draw_series(LineSeries::new(
                    vec![(x.0, 0.0), (x.1, 0.0)],
                    plot::OI_BLACK.stroke_width(1),
                ))
                .map_err(e)?;
            for level in [-2.0, 2.0] {
                chart
                    .draw_series(DashedLineSeries::new(
                        vec![(x.0, level), (x.1, level)],
                        8,
                        5,
                        plot::OI_GREY.stroke_width(1),
                    ))
                    .map_err(e)?;
            }
        }
    }
    chart
        .draw_series(
            p.points
                .iter()
                .map(|&(px, py)| Circle::new((px, py), DOT_PX, plot::OI_BLUE.mix(0.55).filled())),
        )
        .map_err(e)?;
    chart
        .draw_series(LineSeries::new(
            p.smooth.iter().copied(),
            plot::OI_VERMILLION.stroke_width(2),
        ))
        .map_err(e)?;
    Ok(())
}
