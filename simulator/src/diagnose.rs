//! `simulator diagnose`: checks of the model's ingredients against published figures.
//!
//! 1. **Concentration**: the top 1/5/10/20/50% shares of one year's spending
//!    ([`crate::Model::concentration`]) against the published curve ([`PUBLISHED_SHARES`]).
//! 2. **Persistence**: year-to-year correlation of spending, and how many of the top decile stay
//!    there ([`crate::Model::persistence`]) against mssp-rules 7.3.
//! 3. **Normal variation** (the statute's "normal variation in expenditures", 42 U.S.C. 1395jjj(d)(1)(B)(i),
//!    which the MSR exists to absorb): how often an ACO with **no true effect** clears its MSR with a
//!    positive savings rate, by size band, in the scenario's world (its benchmark gap and shocks)
//!    and with no systematic gap either (pure variation).
//! 4. With a Public Use File (`--puf`): the cross-ACO comparison of its performance year, every
//!    figure computed from the file ([`PufFigures`]) beside the simulated mean and 95% interval over
//!    replicates of the scenario's first performance year.

use std::fmt::Write as _;
use std::path::Path;

use acorn_cms::puf::PufFile;
use comfy_table::presets::UTF8_FULL_CONDENSED;
use comfy_table::{CellAlignment, ContentArrangement, Table};
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;

use crate::calibrate::{Metric, SIZE_BANDS, mean, sd};
use crate::model::run;
use crate::results::Replicate;
use crate::scenario::Scenario;
use crate::stats::Estimate;
use crate::{Model, SimError};

/// Top 1/5/10/20/50% of beneficiaries hold 14.9/41.5/60.0/79.1/95.7% of spending
/// (mssp-rules 7.2, Wallis et al.).
pub const PUBLISHED_SHARES: [f64; 5] = [0.149, 0.415, 0.600, 0.791, 0.957];

/// mssp-rules 7.3: 28% of the top decile stay there in years 2 and 3; 2.8% of beneficiaries are
/// persistently high and hold about 20% of three-year spending; the AR(1) fit implies a
/// correlation of annual dollars of about 0.62.
pub const PUBLISHED_PERSISTENCE: (f64, f64, f64, f64) = (0.28, 0.028, 0.20, 0.62);

/// The cross-ACO figures of one performance year of a Public Use File (or of a simulated year).
#[derive(Debug, Clone, PartialEq)]
pub struct PufFigures {
    /// Performance year.
    pub year: Option<i32>,
    /// ACOs (rows with a savings rate).
    pub acos: usize,
    /// Mean and SD of the savings rate (unweighted over ACOs).
    pub rate: (f64, f64),
    /// Mean and SD by size band ([`SIZE_BANDS`]) with the ACO count.
    pub bands: [(f64, f64, usize); 3],
    /// Share of ACOs below benchmark (benchmark minus expenditures > 0).
    pub share_below: f64,
    /// Share with a positive savings rate at or above the MSR.
    pub share_at_msr: f64,
    /// Sum of benchmark minus expenditures, dollars.
    pub benchmark_savings: f64,
    /// Shared savings paid (sum of positive `EarnSaveLoss`), dollars.
    pub paid: f64,
    /// Shared losses owed (minus the sum of negative `EarnSaveLoss`), dollars.
    pub owed: f64,
}

impl PufFigures {
    /// Net on the benchmark basis: benchmark savings - paid + owed.
    pub fn net(&self) -> f64 {
        self.benchmark_savings - self.paid + self.owed
    }

    /// Reads the figures from a Public Use File of any year (the layout is detected from its
    /// header by `acorn_cms::puf`).
    pub fn from_puf(puf: &PufFile) -> Result<PufFigures, String> {
        let scale = puf.rate_scale(&["Sav_rate", "MinSavPerc"]);
        let f = |d: Option<Decimal>| d.and_then(|d| d.to_f64());
        let mut rows = Vec::new();
        let (mut bench, mut paid, mut owed) = (0.0, 0.0, 0.0);
        for row in puf.rows() {
            let e = |err: acorn_cms::puf::PufError| format!("line {}: {err}", row.line());
            let n = f(row.decimal(&["N_AB"]).map_err(e)?);
            let gross = f(row.decimal(&["BnchmkMinExp", "GenSaveLoss"]).map_err(e)?);
            let benchmark = f(row.decimal(&["ABtotBnchmk"]).map_err(e)?);
            let rate = match f(row.rate(&["Sav_rate"], scale).map_err(e)?) {
                Some(r) => Some(r),
                None => match (gross, benchmark) {
                    (Some(g), Some(b)) if b > 0.0 => Some(g / b),
                    _ => None,
                },
            };
            let msr = f(row.rate(&["MinSavPerc"], scale).map_err(e)?);
            let earned = f(row.decimal(&["EarnSaveLoss"]).map_err(e)?).unwrap_or(0.0);
            if earned > 0.0 {
                paid += earned;
            } else {
                owed -= earned;
            }
            bench += gross.unwrap_or(0.0);
            if let (Some(n), Some(rate)) = (n, rate) {
                rows.push((n, rate, msr, gross.unwrap_or(rate)));
            }
        }
        if rows.is_empty() {
            return Err(
                "no row has N_AB and a savings rate (Sav_rate or BnchmkMinExp / ABtotBnchmk)"
                    .into(),
            );
        }
        let rates: Vec<f64> = rows.iter().map(|r| r.1).collect();
        let band = |k: usize| {
            let (_, lo, hi) = SIZE_BANDS[k];
            let x: Vec<f64> = rows
                .iter()
                .filter(|r| r.0 >= lo as f64 && r.0 < hi as f64)
                .map(|r| r.1)
                .collect();
            (mean(&x), sd(&x), x.len())
        };
        let n = rows.len() as f64;
        Ok(PufFigures {
            year: puf.performance_year(),
            acos: rows.len(),
            rate: (mean(&rates), sd(&rates)),
            bands: [band(0), band(1), band(2)],
            share_below: rows.iter().filter(|r| r.3 > 0.0).count() as f64 / n,
            share_at_msr: rows
                .iter()
                .filter(|r| r.1 > 0.0 && r.2.is_some_and(|m| r.1 >= m))
                .count() as f64
                / n,
            benchmark_savings: bench,
            paid,
            owed,
        })
    }
}

/// Mean and 95% interval (type 7) of per-replicate values.
fn summarise(values: &[f64]) -> (f64, f64, f64) {
    let d: Vec<Decimal> = values
        .iter()
        .filter_map(|v| Decimal::from_f64_retain(*v))
        .collect();
    let (lo, hi) = Estimate::of(&d)
        .map(|e| {
            (
                e.ci95.0.to_f64().unwrap_or(f64::NAN),
                e.ci95.1.to_f64().unwrap_or(f64::NAN),
            )
        })
        .unwrap_or((f64::NAN, f64::NAN));
    (mean(values), lo, hi)
}

/// How to run a diagnosis.
#[derive(Debug, Clone, Copy)]
pub struct Settings {
    /// Seed.
    pub seed: u64,
    /// Replicates of the simulated comparisons.
    pub replicates: u32,
    /// Worker threads (no effect on any figure).
    pub threads: usize,
    /// Beneficiaries drawn for the concentration and persistence checks.
    pub draws: usize,
}

/// A table in the style of the run summary (comfy-table), every column after the first
/// right-aligned.
fn table(header: &[&str], rows: Vec<Vec<String>>) -> Table {
    let mut t = Table::new();
    t.load_style(UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Disabled)
        .set_header(header.to_vec());
    for r in rows {
        t.add_row(r);
    }
    for i in 1..t.column_count() {
        if let Some(c) = t.column_mut(i) {
            c.set_cell_alignment(CellAlignment::Right);
        }
    }
    t
}

fn pct(x: f64, decimals: usize) -> String {
    format!("{:.*}%", decimals, x * 100.0)
}

/// The whole diagnosis of `scenario` as text (optionally against `puf`).
pub fn diagnose(
    scenario: &Scenario,
    puf: Option<(&Path, &PufFile)>,
    s: Settings,
) -> Result<String, SimError> {
    // The file's figures first: a file without them fails before any simulation.
    let figures = match puf {
        Some((path, file)) => Some((
            path,
            PufFigures::from_puf(file).map_err(|m| {
                SimError::Scenario(crate::scenario::ScenarioError {
                    origin: path.display().to_string(),
                    key: "--puf".into(),
                    line: None,
                    message: m,
                })
            })?,
        )),
        None => None,
    };
    let mut out = String::new();
    let model = Model::new(scenario);
    let _ = writeln!(
        out,
        "diagnose {} (seed {}, {} replicates)\n",
        scenario.name, s.seed, s.replicates
    );
    // 1. concentration
    let shares = model.concentration(s.seed, s.draws);
    let _ = writeln!(
        out,
        "1. Concentration of one year's spending ({} beneficiaries drawn; published: mssp-rules 7.2)",
        s.draws
    );
    let rows = ["1%", "5%", "10%", "20%", "50%"]
        .iter()
        .zip(shares)
        .zip(PUBLISHED_SHARES)
        .map(|((top, sim), p)| {
            vec![
                format!("top {top}"),
                pct(sim, 1),
                pct(p, 1),
                format!("{:+.1} pts", (sim - p) * 100.0),
            ]
        })
        .collect();
    let header = [
        "share of spending held by",
        "simulated",
        "published",
        "difference",
    ];
    let _ = writeln!(out, "{}", table(&header, rows));
    // 2. persistence
    let p = model.persistence(s.seed, s.draws);
    let (pd, ph, phs, pc) = PUBLISHED_PERSISTENCE;
    let _ = writeln!(
        out,
        "\n2. Year-to-year persistence ({} beneficiaries over three years; published: mssp-rules 7.3)",
        s.draws
    );
    let rows = vec![
        vec![
            "correlation of annual spending, year 1 vs 2".to_owned(),
            format!("{:.3}", p.correlation),
            format!("about {pc} (AR(1) fit)"),
        ],
        vec![
            "top decile in years 2 and 3, given top in year 1".to_owned(),
            pct(p.top_decile_stays, 1),
            pct(pd, 0),
        ],
        vec![
            "persistently high (top decile all 3 years)".to_owned(),
            pct(p.persistently_high, 2),
            pct(ph, 1),
        ],
        vec![
            "  their share of three years' spending".to_owned(),
            pct(p.persistently_high_spending, 1),
            format!("about {}", pct(phs, 0)),
        ],
    ];
    let _ = writeln!(
        out,
        "{}",
        table(&["figure", "simulated", "published"], rows)
    );
    // 3. normal variation
    let _ = writeln!(
        out,
        "\n3. Normal variation: share of ACOs with no true effect that clear their MSR \
         (savings rate > 0 and >= MSR), PY1, by assigned beneficiaries"
    );
    let none = |s: &Scenario, gap: bool| -> Result<Scenario, SimError> {
        let mut s = s.with_override("effect.mean", "0")?;
        s = s.with_override("effect.spread", "0")?;
        s = s.with_override("effect.sigma", "0")?;
        if !gap {
            s = s.with_override("gap.mean", "0")?;
            s = s.with_override("gap.two_sided", "0")?;
        }
        Ok(s)
    };
    let worlds = [
        (
            "the scenario's benchmark gap and shocks",
            none(scenario, true)?,
        ),
        ("no systematic gap (variation only)", none(scenario, false)?),
    ];
    let mut rows = Vec::new();
    for (label, w) in &worlds {
        let reps = run(w, s.seed, 0..s.replicates, s.threads)?;
        let cleared = |lo: u64, hi: u64| -> String {
            let (mut n, mut k) = (0usize, 0usize);
            for r in &reps {
                let py = r.years.first().map(|t| t.performance_year);
                for a in r.acos.iter().filter(|a| Some(a.performance_year) == py) {
                    if a.assigned >= lo && a.assigned < hi {
                        n += 1;
                        k += usize::from(a.savings_rate > Decimal::ZERO && a.savings_rate >= a.msr);
                    }
                }
            }
            if n == 0 {
                "-".to_owned()
            } else {
                pct(k as f64 / n as f64, 1)
            }
        };
        let mut row = vec![(*label).to_owned()];
        row.extend(SIZE_BANDS.iter().map(|(_, lo, hi)| cleared(*lo, *hi)));
        row.push(cleared(0, u64::MAX));
        rows.push(row);
    }
    let mut header = vec!["world (no true effect)"];
    header.extend(SIZE_BANDS.iter().map(|(label, _, _)| *label));
    header.push("all ACOs");
    let _ = writeln!(out, "{}", table(&header, rows));
    // 4. the PUF comparison
    if let Some((path, fig)) = &figures {
        let reps = run(scenario, s.seed, 0..s.replicates, s.threads)?;
        out.push_str(&comparison(scenario, path, fig, &reps));
    }
    Ok(out)
}

/// Section 4: every PUF figure beside the simulated one.
fn comparison(scenario: &Scenario, path: &Path, fig: &PufFigures, reps: &[Replicate]) -> String {
    let mut out = String::new();
    let py = scenario.performance_years.first().copied();
    let _ = writeln!(
        out,
        "\n4. Cross-ACO comparison: {} (PY{}, {} ACOs) vs {} PY{} ({} replicates)",
        path.display(),
        fig.year.map_or("?".to_owned(), |y| y.to_string()),
        fig.acos,
        scenario.name,
        py.map_or("?".to_owned(), |y| y.to_string()),
        reps.len()
    );
    if fig.year.is_some() && fig.year != py {
        let _ = writeln!(
            out,
            "   note: the file's year is not the scenario's first performance year: the \
             comparison sets another year's program beside this scenario"
        );
    }
    let sim = |m: Metric| -> (f64, f64, f64) {
        let v: Vec<f64> = reps.iter().map(|r| m.of(r, Some(0))).collect();
        summarise(&v)
    };
    let bands = |k: usize| -> String {
        let (label, _, _) = SIZE_BANDS[k];
        format!("  {label} ({} ACOs in the file)", fig.bands[k].2)
    };
    // Mean and SD of the savings rate: overall, then by size band.
    let mut rows: Vec<(String, f64, Metric)> = vec![
        (
            "savings rate mean".into(),
            fig.rate.0,
            Metric::SavingsRateMean,
        ),
        ("savings rate SD".into(), fig.rate.1, Metric::SavingsRateSd),
    ];
    let by_band = [
        (
            Metric::SavingsRateMeanUnder10k,
            Metric::SavingsRateSdUnder10k,
        ),
        (
            Metric::SavingsRateMean10kTo20k,
            Metric::SavingsRateSd10kTo20k,
        ),
        (Metric::SavingsRateMeanOver20k, Metric::SavingsRateSdOver20k),
    ];
    for (k, (mean, sd)) in by_band.into_iter().enumerate() {
        rows.push((format!("{}: mean", bands(k)), fig.bands[k].0, mean));
        rows.push((format!("{}: SD", bands(k)), fig.bands[k].1, sd));
    }
    rows.extend([
        (
            "share below benchmark".into(),
            fig.share_below,
            Metric::ShareBelowBenchmark,
        ),
        (
            "share at or above MSR".into(),
            fig.share_at_msr,
            Metric::ShareAtOrAboveMsr,
        ),
        (
            "benchmark savings".into(),
            fig.benchmark_savings,
            Metric::BenchmarkSavings,
        ),
        (
            "shared savings paid".into(),
            fig.paid,
            Metric::SharedSavingsPaid,
        ),
        (
            "shared losses owed".into(),
            fig.owed,
            Metric::SharedLossesCollected,
        ),
        (
            "net, benchmark basis".into(),
            fig.net(),
            Metric::NetBenchmarkBasis,
        ),
        ("ACOs".into(), fig.acos as f64, Metric::AcosActive),
    ]);
    let rows = rows
        .into_iter()
        .map(|(label, published, metric)| {
            let (m, lo, hi) = sim(metric);
            let diff = if metric.show(1.0).ends_with('%') {
                format!("{:+.2} pts", (m - published) * 100.0)
            } else if published != 0.0 {
                format!("{:+.1}%", (m / published - 1.0) * 100.0)
            } else {
                "-".to_owned()
            };
            vec![
                label,
                metric.show(published),
                metric.show(m),
                format!("{} to {}", metric.show(lo), metric.show(hi)),
                diff,
            ]
        })
        .collect();
    let header = [
        "figure",
        "published (file)",
        "simulated mean",
        "95% interval over replicates",
        "difference",
    ];
    let _ = writeln!(out, "{}", table(&header, rows));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn puf_figures_are_computed_from_the_rows() {
        // Three ACOs: two below benchmark, one at or above its MSR; one owes.
        let csv = "ACO_ID,N_AB,Sav_rate,MinSavPerc,BnchmkMinExp,ABtotBnchmk,EarnSaveLoss\n\
                   A1,8000,0.04,0.03,400000,10000000,180000\n\
                   A2,15000,0.01,0.025,150000,15000000,0\n\
                   A3,30000,-0.02,0.02,-600000,30000000,-100000\n";
        let puf = PufFile::from_reader(csv.as_bytes()).unwrap();
        let f = PufFigures::from_puf(&puf).unwrap();
        assert_eq!(f.acos, 3);
        assert!((f.rate.0 - 0.01).abs() < 1e-12, "{f:?}");
        assert!((f.rate.1 - 0.03).abs() < 1e-12, "{f:?}");
        assert_eq!(f.bands.map(|b| b.2), [1, 1, 1]);
        assert!((f.share_below - 2.0 / 3.0).abs() < 1e-12);
        assert!((f.share_at_msr - 1.0 / 3.0).abs() < 1e-12);
        assert_eq!(f.benchmark_savings, -50_000.0);
        assert_eq!((f.paid, f.owed), (180_000.0, 100_000.0));
        assert_eq!(f.net(), -130_000.0);
    }
}
