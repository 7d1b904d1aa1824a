//! SVG plots (plotters' SVG backend only: text is written as SVG `<text>`, so no font files or
//! system libraries are needed to draw them). Values are converted to `f64` for drawing only.
//!
//! - `net_savings.svg`: histogram over replicates of net to Medicare (all performance years), with
//!   the mean marked.
//! - `savings_rate_vs_msr.svg`: each ACO-year's savings rate against its MSR, coloured by outcome,
//!   for the first [`SCATTER_POINTS`] ACO-years in replicate order (so the file stays small).
//! - `benchmark_gap.svg`: per performance year, mean savings to Medicare (counterfactual - actual)
//!   beside mean benchmark savings (benchmark - actual), each with its 95% interval: the gap
//!   between what an evaluation measures and what CMS pays on.

use plotters::prelude::*;
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;

use super::summary::{BENCHMARK_SAVINGS, Estimates, SAVINGS_TO_MEDICARE};
use crate::results::Outcome;
use crate::stats::Estimate;

/// At most this many ACO-years are drawn in `savings_rate_vs_msr.svg`.
pub const SCATTER_POINTS: usize = 5000;

const SIZE: (u32, u32) = (900, 560);
const MILLION: f64 = 1e6;

/// One point of the savings-rate scatter.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RatePoint {
    pub(crate) msr: f64,
    pub(crate) savings_rate: f64,
    pub(crate) outcome: Outcome,
}

impl RatePoint {
    pub(crate) fn new(msr: Decimal, savings_rate: Decimal, outcome: Outcome) -> RatePoint {
        RatePoint {
            msr: f(msr),
            savings_rate: f(savings_rate),
            outcome,
        }
    }
}

fn f(d: Decimal) -> f64 {
    d.to_f64().unwrap_or(0.0)
}

type Res = Result<String, String>;

fn err<E: std::fmt::Debug>(e: E) -> String {
    format!("{e:?}")
}

/// The last step of every figure: the legend box (at `position`) over the plot, then the SVG
/// written out.
pub(crate) fn legend_and_present<'a, 's: 'a, CT: CoordTranslate>(
    chart: &mut ChartContext<'a, SVGBackend<'s>, CT>,
    root: &DrawingArea<SVGBackend<'s>, plotters::coord::Shift>,
    position: SeriesLabelPosition,
) -> Result<(), String> {
    chart
        .configure_series_labels()
        .position(position)
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()
        .map_err(err)?;
    root.present().map_err(err)
}

/// A range that always has positive width, padded by 5% each side.
fn padded(lo: f64, hi: f64) -> std::ops::Range<f64> {
    let (lo, hi) = if hi > lo {
        (lo, hi)
    } else {
        (lo - 1.0, hi + 1.0)
    };
    let pad = (hi - lo) * 0.05;
    (lo - pad)..(hi + pad)
}

/// `net_savings.svg` from the net to Medicare of each replicate (dollars).
pub(crate) fn net_savings(net: &[Decimal], title: &str) -> Res {
    let values: Vec<f64> = net.iter().map(|d| f(*d) / MILLION).collect();
    let (lo, hi) = values
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
            (a.min(*v), b.max(*v))
        });
    let (lo, hi) = if lo.is_finite() { (lo, hi) } else { (0.0, 0.0) };
    let bins = 30usize;
    let (lo, hi) = if hi > lo {
        (lo, hi)
    } else {
        (lo - 1.0, hi + 1.0)
    };
    let width = (hi - lo) / bins as f64;
    let mut counts = vec![0u32; bins];
    for v in &values {
        let i = (((v - lo) / width) as usize).min(bins - 1);
        counts[i] += 1;
    }
    let top = counts.iter().copied().max().unwrap_or(0).max(1) as f64 * 1.1;
    let mean = values.iter().sum::<f64>() / values.len().max(1) as f64;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, SIZE).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        let mut chart = ChartBuilder::on(&root)
            .caption(
                format!("{title}: net to Medicare over {} replicates", values.len()),
                ("sans-serif", 20),
            )
            .margin(12)
            .x_label_area_size(45)
            .y_label_area_size(55)
            .build_cartesian_2d(padded(lo, hi), 0.0..top)
            .map_err(err)?;
        chart
            .configure_mesh()
            .x_desc("net to Medicare, $ millions (all performance years)")
            .y_desc("replicates")
            .y_label_formatter(&|y| format!("{y:.0}"))
            .draw()
            .map_err(err)?;
        chart
            .draw_series(counts.iter().enumerate().map(|(i, c)| {
                let x0 = lo + width * i as f64;
                Rectangle::new(
                    [(x0, 0.0), (x0 + width, f64::from(*c))],
                    BLUE.mix(0.6).filled(),
                )
            }))
            .map_err(err)?;
        chart
            .draw_series(std::iter::once(PathElement::new(
                vec![(mean, 0.0), (mean, top)],
                RED.stroke_width(2),
            )))
            .map_err(err)?
            .label(format!("mean {mean:.1}"))
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], RED.stroke_width(2)));
        legend_and_present(&mut chart, &root, SeriesLabelPosition::MiddleRight)?;
    }
    Ok(svg)
}

fn colour(o: Outcome) -> RGBColor {
    match o {
        Outcome::Paid => RGBColor(0x1b, 0x9e, 0x77),
        Outcome::EarnedNothing => RGBColor(0x66, 0xa6, 0x1e),
        Outcome::Corridor => RGBColor(0x80, 0x80, 0x80),
        Outcome::Owes => RGBColor(0xd9, 0x5f, 0x02),
        Outcome::LossNotShared => RGBColor(0x75, 0x70, 0xb3),
    }
}

/// `savings_rate_vs_msr.svg` (rates in percent).
pub(crate) fn savings_rate_vs_msr(points: &[RatePoint], title: &str) -> Res {
    let pct = |v: f64| v * 100.0;
    let (xlo, xhi, ylo, yhi) =
        points
            .iter()
            .fold((0.0f64, 0.0f64, 0.0f64, 0.0f64), |(a, b, c, d), p| {
                (
                    a.min(pct(p.msr)),
                    b.max(pct(p.msr)),
                    c.min(pct(p.savings_rate)),
                    d.max(pct(p.savings_rate)),
                )
            });
    let xr = padded(xlo, xhi);
    let yr = padded(ylo, yhi);
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, SIZE).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        let mut chart = ChartBuilder::on(&root)
            .caption(
                format!(
                    "{title}: savings rate against MSR, {} ACO-years",
                    points.len()
                ),
                ("sans-serif", 20),
            )
            .margin(12)
            .x_label_area_size(45)
            .y_label_area_size(55)
            .build_cartesian_2d(xr.clone(), yr.clone())
            .map_err(err)?;
        chart
            .configure_mesh()
            .x_desc("minimum savings rate, %")
            .y_desc("savings rate (benchmark - spending) / benchmark, %")
            .draw()
            .map_err(err)?;
        chart
            .draw_series(std::iter::once(PathElement::new(
                vec![(xr.start, xr.start), (xr.end, xr.end)],
                BLACK.mix(0.5),
            )))
            .map_err(err)?
            .label("savings rate = MSR")
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], BLACK.mix(0.5)));
        for o in Outcome::ALL {
            let c = colour(o);
            let these: Vec<&RatePoint> = points.iter().filter(|p| p.outcome == o).collect();
            if these.is_empty() {
                continue;
            }
            chart
                .draw_series(these.iter().map(|p| {
                    Circle::new((pct(p.msr), pct(p.savings_rate)), 2, c.mix(0.7).filled())
                }))
                .map_err(err)?
                .label(o.name())
                .legend(move |(x, y)| Circle::new((x + 10, y), 4, c.filled()));
        }
        legend_and_present(&mut chart, &root, SeriesLabelPosition::LowerRight)?;
    }
    Ok(svg)
}

/// `benchmark_gap.svg` from the per-year estimates (dollars, drawn in millions).
pub(crate) fn benchmark_gap(estimates: &Estimates, title: &str) -> Res {
    let m = |d: Decimal| f(d) / MILLION;
    let bars: Vec<(i32, Estimate, Estimate)> = estimates
        .by_year
        .iter()
        .map(|(y, e)| (*y, e[SAVINGS_TO_MEDICARE], e[BENCHMARK_SAVINGS]))
        .collect();
    let (ylo, yhi) = bars.iter().fold((0.0f64, 0.0f64), |(a, b), (_, s, bm)| {
        (
            a.min(m(s.ci95.0)).min(m(bm.ci95.0)),
            b.max(m(s.ci95.1)).max(m(bm.ci95.1)),
        )
    });
    let first = bars.first().map_or(0, |b| b.0);
    let last = bars.last().map_or(0, |b| b.0);
    let xr = f64::from(first) - 0.6..f64::from(last) + 0.6;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, SIZE).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        let mut chart = ChartBuilder::on(&root)
            .caption(
                format!("{title}: savings to Medicare vs benchmark savings"),
                ("sans-serif", 20),
            )
            .margin(12)
            .x_label_area_size(45)
            .y_label_area_size(55)
            .build_cartesian_2d(xr, padded(ylo, yhi))
            .map_err(err)?;
        chart
            .configure_mesh()
            .x_labels(bars.len().max(1))
            .x_label_formatter(&|x| format!("{:.0}", x))
            .x_desc("performance year (bars: mean; whiskers: 95% interval over replicates)")
            .y_desc("$ millions")
            .draw()
            .map_err(err)?;
        let series: [(&str, RGBColor, f64, usize); 2] = [
            (
                "savings to Medicare (counterfactual - actual)",
                RGBColor(0x1b, 0x9e, 0x77),
                -0.2,
                0,
            ),
            (
                "benchmark savings (benchmark - actual)",
                RGBColor(0x75, 0x70, 0xb3),
                0.2,
                1,
            ),
        ];
        for (label, c, offset, which) in series {
            let pick = |b: &(i32, Estimate, Estimate)| if which == 0 { b.1 } else { b.2 };
            chart
                .draw_series(bars.iter().map(|b| {
                    let x = f64::from(b.0) + offset;
                    Rectangle::new(
                        [(x - 0.18, 0.0), (x + 0.18, m(pick(b).mean))],
                        c.mix(0.8).filled(),
                    )
                }))
                .map_err(err)?
                .label(label)
                .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 15, y + 5)], c.filled()));
            chart
                .draw_series(bars.iter().map(|b| {
                    let x = f64::from(b.0) + offset;
                    let e = pick(b);
                    PathElement::new(
                        vec![(x, m(e.ci95.0)), (x, m(e.ci95.1))],
                        BLACK.stroke_width(2),
                    )
                }))
                .map_err(err)?;
        }
        legend_and_present(&mut chart, &root, SeriesLabelPosition::UpperRight)?;
    }
    Ok(svg)
}
