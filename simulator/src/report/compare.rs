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

use super::summary::{NET_TO_MEDICARE, SAVINGS_TO_MEDICARE, TOTAL_NAMES, TOTALS, scenario_values};
use crate::results::Replicate;
use crate::stats::{Estimate, StatsError};

/// The scenario totals (all performance years) of each replicate of one scenario, in replicate
/// order: what a comparison keeps of a run.
#[derive(Debug, Clone, Default)]
pub struct Collected {
    per_replicate: Vec<[Decimal; TOTALS]>,
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

/// `one(0)`, ..., `one(TOTALS - 1)`: one value per total, in order, stopping at the first error.
fn per_total<T: Copy>(
    mut one: impl FnMut(usize) -> Result<T, StatsError>,
) -> Result<[T; TOTALS], StatsError> {
    let mut out = [one(0)?; TOTALS];
    for (k, slot) in out.iter_mut().enumerate().skip(1) {
        *slot = one(k)?;
    }
    Ok(out)
}

/// The totals of `alt` against `base` (same replicate indices, in the same order).
pub fn differences(base: &Collected, alt: &Collected) -> Result<[Difference; TOTALS], StatsError> {
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
    per_total(one)
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
pub fn table(base_label: &str, label: &str, diffs: &[Difference; TOTALS]) -> Table {
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
/// value. `points` are (value, estimates of the ten totals); a list value is drawn at its first
/// element, a non-numeric value at its position in the list.
pub fn sweep_plot(
    key: &str,
    title: &str,
    points: &[(String, [Estimate; TOTALS])],
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

/// The estimates of the totals of one collected run.
pub fn estimates(c: &Collected) -> Result<[Estimate; TOTALS], StatsError> {
    let one = |k: usize| {
        let v: Vec<Decimal> = c.per_replicate.iter().map(|r| r[k]).collect();
        Estimate::of(&v)
    };
    per_total(one)
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
}
