//! `simulator compare` and `simulator sweep`: scenarios run on common random numbers (the same seed
//! and replicate indices, so the same simulated beneficiaries and draws wherever the scenarios
//! agree), summarised as each alternative's per-replicate difference from the base.
//!
//! For each total: the base and alternative means, the mean difference, the 95% interval of the
//! per-replicate differences (type 7 percentiles, as in `summary.json`), the MCSE of the mean
//! difference under common random numbers (sd of the paired differences / sqrt(n)), and the MCSE the
//! same difference would have from two independent runs of the same size (sqrt(mcse_base^2 +
//! mcse_alt^2)): the ratio is what pairing buys.

use comfy_table::presets::UTF8_FULL_CONDENSED;
use comfy_table::{CellAlignment, Table};
use plotters::prelude::*;
use rust_decimal::prelude::ToPrimitive;
use rust_decimal::{Decimal, MathematicalOps};

use super::summary::{N, NET_TO_MEDICARE, SAVINGS_TO_MEDICARE, TOTAL_NAMES, scenario_values};
use crate::results::Replicate;
use crate::stats::{Estimate, StatsError};

/// The scenario totals (all performance years) of each replicate of one scenario, in replicate
/// order: what a comparison keeps of a run.
#[derive(Debug, Clone, Default)]
pub struct Collected {
    per_replicate: Vec<[Decimal; N]>,
}

impl Collected {
    /// Adds one replicate (the caller feeds them in replicate order).
    pub fn push(&mut self, r: &Replicate) {
        self.per_replicate.push(scenario_values(&r.years));
    }
}

/// One total of one alternative against the base.
#[derive(Debug, Clone, Copy)]
pub struct Difference {
    /// The base scenario's estimate.
    pub base: Estimate,
    /// The alternative's estimate.
    pub alt: Estimate,
    /// Per-replicate alt - base.
    pub diff: Estimate,
    /// MCSE of the mean difference had the two been run independently.
    pub independent_mcse: Option<Decimal>,
}

/// Every total of `alt` against `base` (same replicate indices, in the same order).
pub fn differences(base: &Collected, alt: &Collected) -> Result<[Difference; N], StatsError> {
    let n = base.per_replicate.len().min(alt.per_replicate.len());
    let one = |k: usize| -> Result<Difference, StatsError> {
        let b: Vec<Decimal> = base.per_replicate[..n].iter().map(|v| v[k]).collect();
        let a: Vec<Decimal> = alt.per_replicate[..n].iter().map(|v| v[k]).collect();
        let d: Vec<Decimal> = a.iter().zip(&b).map(|(a, b)| a - b).collect();
        let (base, alt, diff) = (Estimate::of(&b)?, Estimate::of(&a)?, Estimate::of(&d)?);
        let independent_mcse = match (base.mcse, alt.mcse) {
            (Some(x), Some(y)) => {
                let s = x
                    .checked_mul(x)
                    .and_then(|xx| y.checked_mul(y).and_then(|yy| xx.checked_add(yy)));
                Some(s.and_then(|s| s.sqrt()).ok_or(StatsError::Overflow)?)
            }
            _ => None,
        };
        Ok(Difference {
            base,
            alt,
            diff,
            independent_mcse,
        })
    };
    let all = (0..N).map(one).collect::<Result<Vec<_>, _>>()?;
    all.try_into().map_err(|_| StatsError::Empty)
}

fn cents(d: Decimal) -> String {
    Estimate {
        mean: d,
        ci95: (d, d),
        mcse: None,
    }
    .rounded()
    .mean
    .to_string()
}

fn opt(d: Option<Decimal>) -> String {
    d.map_or_else(|| "-".to_owned(), cents)
}

/// The comparison table of one alternative (`label`) against the base (`base_label`).
pub fn table(base_label: &str, label: &str, diffs: &[Difference; N]) -> Table {
    let mut t = Table::new();
    t.load_style(UTF8_FULL_CONDENSED);
    t.set_header(vec![
        format!("{label} - {base_label}"),
        "base mean".to_owned(),
        "alt mean".to_owned(),
        "difference".to_owned(),
        "95% interval".to_owned(),
        "MCSE (paired)".to_owned(),
        "MCSE (independent)".to_owned(),
    ]);
    for (name, d) in TOTAL_NAMES.iter().zip(diffs) {
        let r = d.diff.rounded();
        t.add_row(vec![
            (*name).to_owned(),
            cents(d.base.mean),
            cents(d.alt.mean),
            r.mean.to_string(),
            format!("[{}, {}]", r.ci95.0, r.ci95.1),
            opt(d.diff.mcse),
            opt(d.independent_mcse),
        ]);
    }
    for i in 1..t.column_count() {
        if let Some(c) = t.column_mut(i) {
            c.set_cell_alignment(CellAlignment::Right);
        }
    }
    t
}

/// `sweep.svg`: net to Medicare and savings to Medicare (mean, 95% interval) against the swept
/// value. `points` are (value, estimates of every total); a list value is drawn at its first
/// element, a non-numeric value at its position in the list.
pub fn sweep_plot(
    key: &str,
    title: &str,
    points: &[(String, [Estimate; N])],
) -> Result<String, String> {
    let m = |d: Decimal| d.to_f64().unwrap_or(0.0) / 1e6;
    let xs: Vec<f64> = points
        .iter()
        .enumerate()
        .map(|(i, (v, _))| {
            // A number, or a per-year list drawn at its first element.
            let first = v
                .trim_matches(|c| c == '[' || c == ']')
                .split(',')
                .next()
                .unwrap_or("");
            first.trim().parse::<f64>().unwrap_or(i as f64)
        })
        .collect();
    let (xlo, xhi) = xs
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), x| {
            (a.min(*x), b.max(*x))
        });
    let (xlo, xhi) = if xhi > xlo {
        (xlo, xhi)
    } else {
        (xlo - 1.0, xlo + 1.0)
    };
    let (ylo, yhi) = points.iter().fold((0.0f64, 0.0f64), |(a, b), (_, e)| {
        let (s, n) = (e[SAVINGS_TO_MEDICARE], e[NET_TO_MEDICARE]);
        (
            a.min(m(s.ci95.0)).min(m(n.ci95.0)),
            b.max(m(s.ci95.1)).max(m(n.ci95.1)),
        )
    });
    let (ylo, yhi) = if yhi > ylo {
        (ylo, yhi)
    } else {
        (ylo - 1.0, ylo + 1.0)
    };
    let (xpad, ypad) = ((xhi - xlo) * 0.05, (yhi - ylo) * 0.05);
    let err = |e: &dyn std::fmt::Debug| format!("{e:?}");
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (900, 560)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| err(&e))?;
        let mut chart = ChartBuilder::on(&root)
            .caption(format!("{title}: sweep over {key}"), ("sans-serif", 20))
            .margin(12)
            .x_label_area_size(45)
            .y_label_area_size(55)
            .build_cartesian_2d(xlo - xpad..xhi + xpad, ylo - ypad..yhi + ypad)
            .map_err(|e| err(&e))?;
        chart
            .configure_mesh()
            .x_desc(key)
            .y_desc("$ millions, all performance years (mean and 95% interval over replicates)")
            .draw()
            .map_err(|e| err(&e))?;
        let series = [
            (
                "savings to Medicare",
                RGBColor(0x1b, 0x9e, 0x77),
                SAVINGS_TO_MEDICARE,
            ),
            (
                "net to Medicare",
                RGBColor(0xd9, 0x5f, 0x02),
                NET_TO_MEDICARE,
            ),
        ];
        for (label, c, k) in series {
            let line: Vec<(f64, f64)> = xs
                .iter()
                .zip(points)
                .map(|(x, (_, e))| (*x, m(e[k].mean)))
                .collect();
            chart
                .draw_series(LineSeries::new(line.clone(), c.stroke_width(2)))
                .map_err(|e| err(&e))?
                .label(label)
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 20, y)], c.stroke_width(2))
                });
            chart
                .draw_series(line.iter().map(|p| Circle::new(*p, 4, c.filled())))
                .map_err(|e| err(&e))?;
            chart
                .draw_series(xs.iter().zip(points).map(|(x, (_, e))| {
                    PathElement::new(
                        vec![(*x, m(e[k].ci95.0)), (*x, m(e[k].ci95.1))],
                        c.stroke_width(1),
                    )
                }))
                .map_err(|e| err(&e))?;
        }
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK)
            .draw()
            .map_err(|e| err(&e))?;
        root.present().map_err(|e| err(&e))?;
    }
    Ok(svg)
}

/// The sweep table: per value, savings to and net to Medicare (mean, 95% interval) and the paired
/// difference in net to Medicare from the first value (mean, MCSE).
pub fn sweep_table(key: &str, values: &[String], runs: &[Collected]) -> Result<Table, StatsError> {
    let mut t = Table::new();
    t.load_style(UTF8_FULL_CONDENSED);
    t.set_header(vec![
        key.to_owned(),
        "savings to Medicare".to_owned(),
        "95% interval".to_owned(),
        "net to Medicare".to_owned(),
        "95% interval".to_owned(),
        "net - first value (paired)".to_owned(),
        "MCSE".to_owned(),
    ]);
    let Some(first) = runs.first() else {
        return Ok(t);
    };
    for (v, c) in values.iter().zip(runs) {
        let d = differences(first, c)?;
        let (s, n) = (
            d[SAVINGS_TO_MEDICARE].alt.rounded(),
            d[NET_TO_MEDICARE].alt.rounded(),
        );
        let nd = d[NET_TO_MEDICARE].diff.rounded();
        t.add_row(vec![
            v.clone(),
            s.mean.to_string(),
            format!("[{}, {}]", s.ci95.0, s.ci95.1),
            n.mean.to_string(),
            format!("[{}, {}]", n.ci95.0, n.ci95.1),
            nd.mean.to_string(),
            opt(nd.mcse),
        ]);
    }
    for i in 1..t.column_count() {
        if let Some(c) = t.column_mut(i) {
            c.set_cell_alignment(CellAlignment::Right);
        }
    }
    Ok(t)
}

/// The estimates of every total of one collected run.
pub fn estimates(c: &Collected) -> Result<[Estimate; N], StatsError> {
    let one = |k: usize| {
        let v: Vec<Decimal> = c.per_replicate.iter().map(|r| r[k]).collect();
        Estimate::of(&v)
    };
    let all = (0..N).map(one).collect::<Result<Vec<_>, _>>()?;
    all.try_into().map_err(|_| StatsError::Empty)
}

/// `compare.csv`: one row per alternative and total: `alternative, total, base_mean, alt_mean,
/// difference, ci95_low, ci95_high, mcse_paired, mcse_independent` (cents; empty MCSE for one
/// replicate).
pub fn csv(base_label: &str, rows: &[(String, [Difference; N])]) -> Result<String, ::csv::Error> {
    let mut w = ::csv::Writer::from_writer(Vec::new());
    w.write_record([
        "base",
        "alternative",
        "total",
        "base_mean",
        "alt_mean",
        "difference",
        "ci95_low",
        "ci95_high",
        "mcse_paired",
        "mcse_independent",
    ])?;
    let blank = |d: Option<Decimal>| d.map(cents).unwrap_or_default();
    for (label, diffs) in rows {
        for (name, d) in TOTAL_NAMES.iter().zip(diffs) {
            let r = d.diff.rounded();
            w.write_record([
                base_label.to_owned(),
                label.clone(),
                (*name).to_owned(),
                cents(d.base.mean),
                cents(d.alt.mean),
                r.mean.to_string(),
                r.ci95.0.to_string(),
                r.ci95.1.to_string(),
                blank(d.diff.mcse),
                blank(d.independent_mcse),
            ])?;
        }
    }
    let bytes = w.into_inner().map_err(|e| e.into_error())?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

/// One parameter of a tornado plot: the paired mean difference in net to Medicare from the base
/// at its lowest- and highest-effect values.
#[derive(Debug, Clone)]
pub struct TornadoBar {
    /// The parameter.
    pub key: String,
    /// Base mean net to Medicare (all performance years).
    pub base: Decimal,
    /// (value, mean difference, its paired MCSE) with the smallest difference.
    pub low: (String, Decimal, Option<Decimal>),
    /// (value, mean difference, its paired MCSE) with the largest difference.
    pub high: (String, Decimal, Option<Decimal>),
}

impl TornadoBar {
    /// Width of the bar (high - low).
    pub fn width(&self) -> Decimal {
        self.high.1 - self.low.1
    }
}

/// The tornado bar of `key` from its runs (one per value) against the base run.
pub fn tornado_bar(
    key: &str,
    values: &[String],
    base: &Collected,
    runs: &[Collected],
) -> Result<TornadoBar, StatsError> {
    let mut low: Option<(String, Decimal, Option<Decimal>)> = None;
    let mut high: Option<(String, Decimal, Option<Decimal>)> = None;
    let mut base_mean = Decimal::ZERO;
    for (v, c) in values.iter().zip(runs) {
        let d = differences(base, c)?[NET_TO_MEDICARE];
        base_mean = d.base.mean;
        let point = (v.clone(), d.diff.mean, d.diff.mcse);
        if low.as_ref().is_none_or(|l| point.1 < l.1) {
            low = Some(point.clone());
        }
        if high.as_ref().is_none_or(|h| point.1 > h.1) {
            high = Some(point);
        }
    }
    match (low, high) {
        (Some(low), Some(high)) => Ok(TornadoBar {
            key: key.to_owned(),
            base: base_mean,
            low,
            high,
        }),
        _ => Err(StatsError::Empty),
    }
}

/// Bars sorted widest first (ties by key).
fn sorted(bars: &[TornadoBar]) -> Vec<&TornadoBar> {
    let mut v: Vec<&TornadoBar> = bars.iter().collect();
    v.sort_by(|a, b| b.width().cmp(&a.width()).then_with(|| a.key.cmp(&b.key)));
    v
}

/// The tornado table: per parameter (widest first), net to Medicare at its low and high values
/// as paired differences from the base.
pub fn tornado_table(title: &str, bars: &[TornadoBar]) -> Table {
    let mut t = Table::new();
    t.load_style(UTF8_FULL_CONDENSED);
    let base = bars.first().map_or(Decimal::ZERO, |b| b.base);
    t.set_header(vec![
        format!("{title}: net to Medicare, base mean {}", cents(base)),
        "lowest at".to_owned(),
        "difference (MCSE)".to_owned(),
        "highest at".to_owned(),
        "difference (MCSE)".to_owned(),
        "range".to_owned(),
    ]);
    for b in sorted(bars) {
        t.add_row(vec![
            b.key.clone(),
            b.low.0.clone(),
            format!("{} ({})", cents(b.low.1), opt(b.low.2)),
            b.high.0.clone(),
            format!("{} ({})", cents(b.high.1), opt(b.high.2)),
            cents(b.width()),
        ]);
    }
    t
}

/// `tornado.svg`: one horizontal bar per parameter (widest at the top) spanning net to Medicare
/// (all years, mean over replicates, $ millions) from its lowest to its highest value, around
/// the base scenario's mean; each end labelled with the parameter value.
pub fn tornado_plot(title: &str, bars: &[TornadoBar]) -> Result<String, String> {
    let m = |d: Decimal| d.to_f64().unwrap_or(0.0) / 1e6;
    let rows = sorted(bars);
    let base = rows.first().map_or(0.0, |b| m(b.base));
    let (lo, hi) = rows.iter().fold((base, base), |(a, b), r| {
        (a.min(base + m(r.low.1)), b.max(base + m(r.high.1)))
    });
    let span = (hi - lo).max(1e-6);
    let (lo, hi) = (lo - 0.15 * span, hi + 0.15 * span);
    let n = rows.len().max(1);
    let names: Vec<String> = rows.iter().map(|r| r.key.clone()).collect();
    let err = |e: &dyn std::fmt::Debug| format!("{e:?}");
    let mut svg = String::new();
    {
        let height = 120 + 60 * n as u32;
        let root = SVGBackend::with_string(&mut svg, (900, height)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| err(&e))?;
        let mut chart = ChartBuilder::on(&root)
            .caption(
                format!("{title}: sensitivity of net to Medicare (tornado)"),
                ("sans-serif", 20),
            )
            .margin(12)
            .x_label_area_size(45)
            .y_label_area_size(200)
            .build_cartesian_2d(lo..hi, 0.0..n as f64)
            .map_err(|e| err(&e))?;
        let label = |y: &f64| {
            let i = y.floor() as usize;
            if (y - y.floor() - 0.5).abs() < 1e-9 && i < names.len() {
                names[n - 1 - i].clone()
            } else {
                String::new()
            }
        };
        chart
            .configure_mesh()
            .disable_y_mesh()
            .y_labels(2 * n + 1)
            .y_label_formatter(&label)
            .x_desc("net to Medicare, $ millions, all performance years (mean over replicates)")
            .draw()
            .map_err(|e| err(&e))?;
        let colour = RGBColor(0x75, 0x70, 0xb3);
        for (i, r) in rows.iter().enumerate() {
            let y = (n - 1 - i) as f64;
            let (a, b) = (base + m(r.low.1), base + m(r.high.1));
            chart
                .draw_series(std::iter::once(Rectangle::new(
                    [(a, y + 0.2), (b, y + 0.8)],
                    colour.mix(0.8).filled(),
                )))
                .map_err(|e| err(&e))?;
            let style = ("sans-serif", 14).into_font().color(&BLACK);
            chart
                .draw_series([
                    Text::new(r.low.0.clone(), (a - 0.02 * span, y + 0.6), style.clone()),
                    Text::new(r.high.0.clone(), (b + 0.01 * span, y + 0.6), style.clone()),
                ])
                .map_err(|e| err(&e))?;
        }
        chart
            .draw_series(std::iter::once(PathElement::new(
                vec![(base, 0.0), (base, n as f64)],
                BLACK.stroke_width(2),
            )))
            .map_err(|e| err(&e))?
            .label(format!("base {base:.1}"))
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], BLACK.stroke_width(2)));
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK)
            .draw()
            .map_err(|e| err(&e))?;
        root.present().map_err(|e| err(&e))?;
    }
    Ok(svg)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::results::YearTotals;

    fn rep(index: u32, savings: i64) -> Replicate {
        Replicate {
            index,
            years: vec![YearTotals {
                replicate: index,
                performance_year: 2012,
                savings_to_medicare: Decimal::from(savings),
                ..YearTotals::default()
            }],
            acos: Vec::new(),
            claims: None,
        }
    }

    #[test]
    fn paired_differences_are_far_tighter_than_independent_ones() {
        let (mut base, mut alt) = (Collected::default(), Collected::default());
        for i in 0..50u32 {
            // A common, widely spread world; the alternative adds 1,000 plus a little noise.
            let world = i64::from((i * 7919) % 101) * 10_000;
            base.push(&rep(i, world));
            alt.push(&rep(i, world + 1_000 + i64::from(i % 3)));
        }
        let d = differences(&base, &alt).unwrap();
        let s = d[SAVINGS_TO_MEDICARE];
        assert_eq!(
            s.diff.mean,
            Decimal::from(1_000) + Decimal::from(49) / Decimal::from(50)
        );
        assert_eq!(s.diff.ci95, (Decimal::from(1_000), Decimal::from(1_002)));
        let (paired, independent) = (s.diff.mcse.unwrap(), s.independent_mcse.unwrap());
        assert!(paired < Decimal::ONE, "{paired}");
        assert!(independent > Decimal::from(50_000), "{independent}");
        // Net to Medicare moves with savings here (nothing paid or collected).
        assert_eq!(d[NET_TO_MEDICARE].diff.mean, s.diff.mean);
        let t = table("base", "alt", &d).to_string();
        assert!(
            t.contains("1000.98") && t.contains("[1000.00, 1002.00]"),
            "{t}"
        );
    }

    #[test]
    fn sweep_plot_draws_each_value() {
        let mut c = Collected::default();
        for i in 0..5 {
            c.push(&rep(i, i64::from(i) * 1_000_000));
        }
        let e = estimates(&c).unwrap();
        let svg = sweep_plot("effect.mean", "t", &[("0".into(), e), ("0.01".into(), e)]).unwrap();
        assert!(svg.starts_with("<svg") && svg.contains("sweep over effect.mean"));
        assert_eq!(
            svg.matches("<circle").count(),
            2 * 2,
            "two points per series"
        );
    }

    #[test]
    fn tornado_orders_bars_by_width_and_draws_each() {
        let world = |shift: i64| {
            let mut c = Collected::default();
            for i in 0..10u32 {
                c.push(&rep(i, i64::from(i) * 1_000_000 + shift));
            }
            c
        };
        let base = world(0);
        let narrow = tornado_bar(
            "a",
            &["1".into(), "2".into()],
            &base,
            &[world(-1_000_000), world(2_000_000)],
        )
        .unwrap();
        let wide = tornado_bar(
            "b",
            &["x".into(), "y".into(), "z".into()],
            &base,
            &[world(5_000_000), world(-7_000_000), world(0)],
        )
        .unwrap();
        assert_eq!(narrow.width(), Decimal::from(3_000_000));
        assert_eq!((wide.low.0.as_str(), wide.high.0.as_str()), ("y", "x"));
        assert_eq!(wide.width(), Decimal::from(12_000_000));
        let bars = [narrow, wide];
        let t = tornado_table("t", &bars).to_string();
        assert!(t.find("│ b").unwrap() < t.find("│ a").unwrap(), "{t}");
        let svg = tornado_plot("t", &bars).unwrap();
        assert!(svg.contains("tornado"));
        for label in ["a", "b", "x", "y", "1", "2"] {
            assert!(
                svg.contains(&format!("\n{label}\n</text>")),
                "{label}: {svg}"
            );
        }
    }

    #[test]
    fn compare_csv_has_one_row_per_total() {
        let (mut base, mut alt) = (Collected::default(), Collected::default());
        for i in 0..3u32 {
            base.push(&rep(i, 100));
            alt.push(&rep(i, 150));
        }
        let d = differences(&base, &alt).unwrap();
        let text = csv("b", &[("a".to_owned(), d)]).unwrap();
        assert_eq!(text.lines().count(), 1 + N);
        assert!(
            text.contains("b,a,savings_to_medicare,100.00,150.00,50.00,50.00,50.00,0.00,"),
            "{text}"
        );
    }
}
