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

/// The whole diagnosis of `scenario` as text (optionally against `puf`).
pub fn diagnose(
    scenario: &Scenario,
    puf: Option<(&Path, &PufFile)>,
    s: Settings,
) -> Result<String, SimError> {
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
        "1. concentration of one year's spending ({} beneficiaries drawn; published: mssp-rules 7.2)",
        s.draws
    );
    let _ = writeln!(out, "   top share      simulated  published  difference");
    for ((top, sim), p) in ["1%", "5%", "10%", "20%", "50%"]
        .iter()
        .zip(shares)
        .zip(PUBLISHED_SHARES)
    {
        let _ = writeln!(
            out,
            "   top {top:<8} {:>9.1}% {:>9.1}% {:>+9.1} pts",
            sim * 100.0,
            p * 100.0,
            (sim - p) * 100.0
        );
    }
    // 2. persistence
    let p = model.persistence(s.seed, s.draws);
    let (pd, ph, phs, pc) = PUBLISHED_PERSISTENCE;
    let _ = writeln!(
        out,
        "\n2. year-to-year persistence ({} beneficiaries over three years; mssp-rules 7.3)",
        s.draws
    );
    let _ = writeln!(
        out,
        "   correlation of annual spending, year 1 vs 2   {:.3}  (AR(1) fit: about {pc})",
        p.correlation
    );
    let _ = writeln!(
        out,
        "   top decile in years 2 and 3 | top in year 1   {:.1}%  (published {:.0}%)",
        p.top_decile_stays * 100.0,
        pd * 100.0
    );
    let _ = writeln!(
        out,
        "   persistently high (top decile all 3 years)    {:.2}% holding {:.1}% of spending  (published {:.1}%, about {:.0}%)",
        p.persistently_high * 100.0,
        p.persistently_high_spending * 100.0,
        ph * 100.0,
        phs * 100.0
    );
    // 3. normal variation
    let _ = writeln!(
        out,
        "\n3. normal variation: share of ACOs with no true effect that clear their MSR (savings rate > 0 and >= MSR), PY1, by size"
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
    let _ = writeln!(
        out,
        "   {:<42} {:>12} {:>14} {:>10} {:>12}",
        "world (no true effect)", "< 10,000", "10,000-20,000", "> 20,000", "all ACOs"
    );
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
                format!("{:.1}%", 100.0 * k as f64 / n as f64)
            }
        };
        let _ = writeln!(
            out,
            "   {label:<42} {:>12} {:>14} {:>10} {:>12}",
            cleared(SIZE_BANDS[0].1, SIZE_BANDS[0].2),
            cleared(SIZE_BANDS[1].1, SIZE_BANDS[1].2),
            cleared(SIZE_BANDS[2].1, SIZE_BANDS[2].2),
            cleared(0, u64::MAX)
        );
    }
    // 4. the PUF comparison
    if let Some((path, file)) = puf {
        let fig = PufFigures::from_puf(file).map_err(|m| {
            SimError::Scenario(crate::scenario::ScenarioError {
                origin: path.display().to_string(),
                key: "--puf".into(),
                line: None,
                message: m,
            })
        })?;
        let reps = run(scenario, s.seed, 0..s.replicates, s.threads)?;
        out.push_str(&comparison(scenario, path, &fig, &reps));
    }
    Ok(out)
}

/// Section 4: every PUF figure beside the simulated one.
fn comparison(scenario: &Scenario, path: &Path, fig: &PufFigures, reps: &[Replicate]) -> String {
    let mut out = String::new();
    let py = scenario.performance_years.first().copied();
    let _ = writeln!(
        out,
        "\n4. cross-ACO comparison: {} (PY{}, {} ACOs) vs {} PY{} ({} replicates)",
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
            "   note: the file's year differs from the scenario's first performance year"
        );
    }
    let _ = writeln!(
        out,
        "   {:<34} {:>12} {:>12} {:>26} {:>12}",
        "figure", "published", "simulated", "95% interval over replicates", "difference"
    );
    let sim = |m: Metric| -> (f64, f64, f64) {
        let v: Vec<f64> = reps.iter().map(|r| m.of(r, Some(0))).collect();
        summarise(&v)
    };
    let rows: [(&str, f64, Metric); 15] = [
        ("savings rate mean", fig.rate.0, Metric::SavingsRateMean),
        ("savings rate SD", fig.rate.1, Metric::SavingsRateSd),
        (
            "  mean < 10,000",
            fig.bands[0].0,
            Metric::SavingsRateMeanUnder10k,
        ),
        (
            "  SD < 10,000",
            fig.bands[0].1,
            Metric::SavingsRateSdUnder10k,
        ),
        (
            "  mean 10,000-20,000",
            fig.bands[1].0,
            Metric::SavingsRateMean10kTo20k,
        ),
        (
            "  SD 10,000-20,000",
            fig.bands[1].1,
            Metric::SavingsRateSd10kTo20k,
        ),
        (
            "  mean > 20,000",
            fig.bands[2].0,
            Metric::SavingsRateMeanOver20k,
        ),
        (
            "  SD > 20,000",
            fig.bands[2].1,
            Metric::SavingsRateSdOver20k,
        ),
        (
            "share below benchmark",
            fig.share_below,
            Metric::ShareBelowBenchmark,
        ),
        (
            "share at or above MSR",
            fig.share_at_msr,
            Metric::ShareAtOrAboveMsr,
        ),
        (
            "benchmark savings",
            fig.benchmark_savings,
            Metric::BenchmarkSavings,
        ),
        ("shared savings paid", fig.paid, Metric::SharedSavingsPaid),
        (
            "shared losses owed",
            fig.owed,
            Metric::SharedLossesCollected,
        ),
        ("net, benchmark basis", fig.net(), Metric::NetBenchmarkBasis),
        ("ACOs", fig.acos as f64, Metric::AcosActive),
    ];
    for (label, published, metric) in rows {
        let (m, lo, hi) = sim(metric);
        let diff = if metric.show(1.0).ends_with('%') {
            format!("{:+.2} pts", (m - published) * 100.0)
        } else if published != 0.0 {
            format!("{:+.1}%", (m / published - 1.0) * 100.0)
        } else {
            "-".to_owned()
        };
        let _ = writeln!(
            out,
            "   {label:<34} {:>12} {:>12} {:>26} {:>12}",
            metric.show(published),
            metric.show(m),
            format!("{} to {}", metric.show(lo), metric.show(hi)),
            diff
        );
    }
    let _ = writeln!(
        out,
        "   size bands: {} / {} / {} ACOs in the file",
        fig.bands[0].2, fig.bands[1].2, fig.bands[2].2
    );
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
