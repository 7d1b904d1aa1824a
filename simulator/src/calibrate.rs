//! `simulator calibrate`: fits a scenario's named parameters to its published targets (MODEL.md 9).
//!
//! The targets, the parameters to move (with bounds), the seed and the replicate count belong to the
//! scenario definition (its `[calibration]` table, [`crate::scenario::Calibration`]); they never
//! appear in any output of `run`, `compare` or `sweep`.
//!
//! Method (documented in MODEL.md 9.3):
//!
//! 1. **Common random numbers.** Every evaluation simulates the same replicates `0..R` on the same
//!    seed, so the simulated beneficiaries and ACO draws are identical from one parameter vector to
//!    the next and the objective is a deterministic function of the parameters.
//! 2. **Objective.** `J = sum_t w_t ((m_t - target_t) / tol_t)^2`, `m_t` the mean over the
//!    replicates of target `t`'s metric, `tol_t` its tolerance (relative ones times |target|), `w_t`
//!    its weight (1 for acceptance targets, less for published figures that are not).
//! 3. **Search.** Nelder-Mead (reflection 1, expansion 2, contraction 1/2, shrink 1/2) on the
//!    parameters scaled to [0, 1] by their bounds and clamped there; the first simplex is the
//!    scenario's values and one vertex per parameter 10% of its range away (towards the
//!    nearer bound's far side); it stops after `max_evaluations` evaluations or when the
//!    objectives of the simplex agree within 1e-3.
//!
//! The report ([`Fit::report`]) lists, for every target, the published value, the simulated mean
//! with its Monte Carlo standard error, the 95% interval over replicates, the tolerance and
//! whether the mean is within it; then the fitted parameter values.

use std::fmt::Write as _;

use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;
use serde::Deserialize;

use crate::model::{SimError, run};
use crate::results::{AcoYear, Replicate, YearTotals};
use crate::scenario::{Calibration, Scenario, ScenarioError, Target};
use crate::stats::Estimate;

/// What a target measures in one replicate (one performance year, or the sum over all of them for
/// the program totals when the target names no year).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Metric {
    /// Savings to Medicare, dollars.
    SavingsToMedicare,
    /// Benchmark savings, dollars.
    BenchmarkSavings,
    /// Shared savings paid, dollars.
    SharedSavingsPaid,
    /// Shared losses owed, dollars.
    SharedLossesCollected,
    /// Net to Medicare, dollars.
    NetToMedicare,
    /// Net on the benchmark basis, dollars.
    NetBenchmarkBasis,
    /// ACOs reconciled.
    AcosActive,
    /// ACOs below benchmark.
    AcosBelowBenchmark,
    /// ACOs paid shared savings.
    AcosPaid,
    /// ACOs owing shared losses.
    AcosOwing,
    /// ACOs that left after the year.
    AcosExited,
    /// Share of the year's ACOs with spending below benchmark.
    ShareBelowBenchmark,
    /// Share of the year's ACOs with a positive savings rate at or above their MSR.
    ShareAtOrAboveMsr,
    /// Mean savings rate over the year's ACOs (unweighted).
    SavingsRateMean,
    /// Standard deviation of the savings rate over the year's ACOs (n - 1 denominator).
    SavingsRateSd,
    /// Savings-rate SD of ACOs with fewer than 10,000 assigned.
    #[serde(rename = "savings_rate_sd_under_10k")]
    SavingsRateSdUnder10k,
    /// Savings-rate SD of ACOs with 10,000 to 19,999 assigned.
    #[serde(rename = "savings_rate_sd_10k_to_20k")]
    SavingsRateSd10kTo20k,
    /// Savings-rate SD of ACOs with 20,000 or more assigned.
    #[serde(rename = "savings_rate_sd_over_20k")]
    SavingsRateSdOver20k,
    /// Mean savings rate of ACOs with fewer than 10,000 assigned.
    #[serde(rename = "savings_rate_mean_under_10k")]
    SavingsRateMeanUnder10k,
    /// Mean savings rate of ACOs with 10,000 to 19,999 assigned.
    #[serde(rename = "savings_rate_mean_10k_to_20k")]
    SavingsRateMean10kTo20k,
    /// Mean savings rate of ACOs with 20,000 or more assigned.
    #[serde(rename = "savings_rate_mean_over_20k")]
    SavingsRateMeanOver20k,
}

/// Assigned-beneficiary size bands of the savings-rate figures: `[lo, hi)`.
pub const SIZE_BANDS: [(&str, u64, u64); 3] = [
    ("< 10,000", 0, 10_000),
    ("10,000-20,000", 10_000, 20_000),
    ("> 20,000", 20_000, u64::MAX),
];

impl Metric {
    /// A program total (summed over years when no year is named) rather than a share or rate of
    /// one year's ACOs.
    fn is_total(self) -> bool {
        use Metric::*;
        matches!(
            self,
            SavingsToMedicare
                | BenchmarkSavings
                | SharedSavingsPaid
                | SharedLossesCollected
                | NetToMedicare
                | NetBenchmarkBasis
                | AcosActive
                | AcosBelowBenchmark
                | AcosPaid
                | AcosOwing
                | AcosExited
        )
    }

    /// Dollars (printed in millions) rather than a count or a fraction.
    fn is_dollars(self) -> bool {
        use Metric::*;
        matches!(
            self,
            SavingsToMedicare
                | BenchmarkSavings
                | SharedSavingsPaid
                | SharedLossesCollected
                | NetToMedicare
                | NetBenchmarkBasis
        )
    }

    /// A fraction (printed in percent).
    fn is_fraction(self) -> bool {
        !self.is_total()
    }

    fn of_totals(self, t: &YearTotals) -> Decimal {
        use Metric::*;
        match self {
            SavingsToMedicare => t.savings_to_medicare,
            BenchmarkSavings => t.benchmark_savings,
            SharedSavingsPaid => t.shared_savings_paid,
            SharedLossesCollected => t.shared_losses_collected,
            NetToMedicare => t.net_to_medicare(),
            NetBenchmarkBasis => t.net_benchmark_basis(),
            AcosActive => t.acos_active.into(),
            AcosBelowBenchmark => t.acos_below_benchmark.into(),
            AcosPaid => t.acos_paid.into(),
            AcosOwing => t.acos_owing.into(),
            AcosExited => t.acos_exited.into(),
            _ => Decimal::ZERO,
        }
    }

    /// The metric of one replicate; `year` is the performance-year index (`None`: all years for a
    /// total, the first year otherwise).
    pub fn of(self, r: &Replicate, year: Option<usize>) -> f64 {
        if self.is_total() {
            let d: Decimal = match year {
                Some(j) => r
                    .years
                    .get(j)
                    .map(|t| self.of_totals(t))
                    .unwrap_or_default(),
                None => r.years.iter().map(|t| self.of_totals(t)).sum(),
            };
            return d.to_f64().unwrap_or(f64::NAN);
        }
        let j = year.unwrap_or(0);
        let Some(py) = r.years.get(j).map(|t| t.performance_year) else {
            return f64::NAN;
        };
        let acos: Vec<&AcoYear> = r.acos.iter().filter(|a| a.performance_year == py).collect();
        let rate = |a: &AcoYear| a.savings_rate.to_f64().unwrap_or(f64::NAN);
        let band = |k: usize| -> Vec<f64> {
            let (_, lo, hi) = SIZE_BANDS[k];
            acos.iter()
                .filter(|a| a.assigned >= lo && a.assigned < hi)
                .map(|a| rate(a))
                .collect()
        };
        let all: Vec<f64> = acos.iter().map(|a| rate(a)).collect();
        let share = |f: &dyn Fn(&AcoYear) -> bool| {
            acos.iter().filter(|a| f(a)).count() as f64 / acos.len().max(1) as f64
        };
        use Metric::*;
        match self {
            ShareBelowBenchmark => share(&|a| a.benchmark > a.spending),
            ShareAtOrAboveMsr => {
                share(&|a| a.savings_rate > Decimal::ZERO && a.savings_rate >= a.msr)
            }
            SavingsRateMean => mean(&all),
            SavingsRateSd => sd(&all),
            SavingsRateSdUnder10k => sd(&band(0)),
            SavingsRateSd10kTo20k => sd(&band(1)),
            SavingsRateSdOver20k => sd(&band(2)),
            SavingsRateMeanUnder10k => mean(&band(0)),
            SavingsRateMean10kTo20k => mean(&band(1)),
            SavingsRateMeanOver20k => mean(&band(2)),
            _ => f64::NAN,
        }
    }

    /// `value` formatted in the metric's unit ($M, %, count).
    pub fn show(self, value: f64) -> String {
        if self.is_dollars() {
            let sign = if value < 0.0 { "-" } else { "" };
            format!("{sign}${:.1}M", value.abs() / 1e6)
        } else if self.is_fraction() {
            format!("{:.2}%", value * 100.0)
        } else {
            format!("{value:.2}")
        }
    }
}

/// Mean (NaN when empty).
pub fn mean(x: &[f64]) -> f64 {
    x.iter().sum::<f64>() / x.len() as f64
}

/// Sample standard deviation, n - 1 denominator (NaN below two values).
pub fn sd(x: &[f64]) -> f64 {
    if x.len() < 2 {
        return f64::NAN;
    }
    let m = mean(x);
    (x.iter().map(|v| (v - m).powi(2)).sum::<f64>() / (x.len() as f64 - 1.0)).sqrt()
}

/// One target's simulated figures over the replicates.
#[derive(Debug, Clone)]
pub struct TargetFit {
    /// The target.
    pub target: Target,
    /// Mean over replicates.
    pub mean: f64,
    /// Monte Carlo standard error of the mean.
    pub mcse: f64,
    /// 2.5th and 97.5th percentiles over replicates (type 7).
    pub ci95: (f64, f64),
}

impl TargetFit {
    /// The tolerance in the metric's unit.
    pub fn tolerance(&self) -> f64 {
        if self.target.relative {
            self.target.tolerance * self.target.value.abs()
        } else {
            self.target.tolerance
        }
    }

    /// Is the mean within the tolerance?
    pub fn pass(&self) -> bool {
        (self.mean - self.target.value).abs() <= self.tolerance()
    }

    /// Is the mean within the tolerance widened by `k` Monte Carlo standard errors?
    pub fn pass_within(&self, k: f64) -> bool {
        (self.mean - self.target.value).abs() <= self.tolerance() + k * self.mcse
    }

    /// The weighted squared deviation in tolerances.
    fn objective(&self) -> f64 {
        let d = (self.mean - self.target.value) / self.tolerance().max(f64::MIN_POSITIVE);
        let d = if d.is_finite() { d } else { 1e6 };
        self.target.weight * d * d
    }
}

/// Every target of `cal` evaluated on `replicates`.
pub fn evaluate_replicates(cal: &Calibration, replicates: &[Replicate]) -> Vec<TargetFit> {
    cal.targets
        .iter()
        .map(|t| {
            let values: Vec<f64> = replicates.iter().map(|r| t.metric.of(r, t.year)).collect();
            let m = mean(&values);
            let mcse = sd(&values) / (values.len() as f64).sqrt();
            let decimals: Vec<Decimal> = values
                .iter()
                .filter_map(|v| Decimal::from_f64_retain(*v))
                .collect();
            let ci95 = Estimate::of(&decimals)
                .map(|e| {
                    (
                        e.ci95.0.to_f64().unwrap_or(f64::NAN),
                        e.ci95.1.to_f64().unwrap_or(f64::NAN),
                    )
                })
                .unwrap_or((f64::NAN, f64::NAN));
            TargetFit {
                target: t.clone(),
                mean: m,
                mcse: if mcse.is_finite() { mcse } else { 0.0 },
                ci95,
            }
        })
        .collect()
}

/// Why calibration could not run.
#[derive(Debug, thiserror::Error)]
pub enum CalibrateError {
    /// The scenario has no `[calibration]` table.
    #[error("{0}: the scenario has no [calibration] table (targets and parameters to fit)")]
    NoCalibration(String),
    /// A parameter value could not be applied.
    #[error(transparent)]
    Scenario(#[from] ScenarioError),
    /// A replicate failed.
    #[error(transparent)]
    Sim(#[from] SimError),
}

/// How to run one calibration.
#[derive(Debug, Clone, Copy)]
pub struct Settings {
    /// Seed (default: the calibration table's).
    pub seed: u64,
    /// Replicates per evaluation (default: the calibration table's).
    pub replicates: u32,
    /// Worker threads (no effect on any figure).
    pub threads: usize,
    /// Largest number of objective evaluations (0: evaluate the scenario's values only).
    pub max_evaluations: u32,
}

impl Settings {
    /// The calibration table's seed, replicates and evaluation budget, on `threads` threads.
    pub fn of(cal: &Calibration, threads: usize) -> Settings {
        Settings {
            seed: cal.seed,
            replicates: cal.replicates,
            threads,
            max_evaluations: cal.max_evaluations,
        }
    }
}

/// The result of a calibration.
#[derive(Debug, Clone)]
pub struct Fit {
    /// Scenario name.
    pub scenario: String,
    /// Settings used.
    pub settings: Settings,
    /// (key, value before, value fitted).
    pub parameters: Vec<(String, f64, f64)>,
    /// Objective at the start and at the fitted values.
    pub objective: (f64, f64),
    /// Evaluations made.
    pub evaluations: u32,
    /// Every target at the fitted values.
    pub targets: Vec<TargetFit>,
}

/// `scenario` with calibration parameter `key` (the scenario's numbers' naming, `gap.mean[0]`)
/// set to `value`.
pub fn with_parameter(
    scenario: &Scenario,
    key: &str,
    value: f64,
) -> Result<Scenario, ScenarioError> {
    let path = key.replace('[', ".").replace(']', "");
    scenario.with_override(&path, &format!("{value:?}"))
}

fn apply(scenario: &Scenario, keys: &[String], x: &[f64]) -> Result<Scenario, ScenarioError> {
    let mut s = scenario.clone();
    for (k, v) in keys.iter().zip(x) {
        s = with_parameter(&s, k, *v)?;
    }
    Ok(s)
}

/// Evaluates the targets at the scenario's own values.
pub fn evaluate(scenario: &Scenario, settings: Settings) -> Result<Vec<TargetFit>, CalibrateError> {
    let cal = scenario
        .calibration
        .as_ref()
        .ok_or_else(|| CalibrateError::NoCalibration(scenario.name.clone()))?;
    scenario.check_calibration()?;
    let reps = run(
        scenario,
        settings.seed,
        0..settings.replicates,
        settings.threads,
    )?;
    Ok(evaluate_replicates(cal, &reps))
}

/// Fits the calibration parameters of `scenario` (module docs); `progress` is called after each
/// evaluation with (evaluation, objective).
pub fn calibrate(
    scenario: &Scenario,
    settings: Settings,
    mut progress: impl FnMut(u32, f64),
) -> Result<Fit, CalibrateError> {
    let cal = scenario
        .calibration
        .clone()
        .ok_or_else(|| CalibrateError::NoCalibration(scenario.name.clone()))?;
    scenario.check_calibration()?;
    let keys: Vec<String> = cal.parameters.iter().map(|p| p.key.clone()).collect();
    let lo: Vec<f64> = cal.parameters.iter().map(|p| p.min).collect();
    let hi: Vec<f64> = cal.parameters.iter().map(|p| p.max).collect();
    let start: Vec<f64> = keys
        .iter()
        .map(|k| scenario.fixed_number(k).unwrap_or(0.0))
        .collect();
    let d = keys.len();
    let to_x = |u: &[f64]| -> Vec<f64> {
        (0..d)
            .map(|i| lo[i] + u[i].clamp(0.0, 1.0) * (hi[i] - lo[i]))
            .collect()
    };
    let u0: Vec<f64> = (0..d)
        .map(|i| ((start[i] - lo[i]) / (hi[i] - lo[i])).clamp(0.0, 1.0))
        .collect();
    let mut evaluations = 0u32;
    let mut best: Option<(f64, Vec<f64>, Vec<TargetFit>)> = None;
    // The start is the scenario itself (its values exactly, not their round trip through [0, 1]).
    let mut eval = |u: &[f64]| -> Result<f64, CalibrateError> {
        let (x, s) = if u == u0.as_slice() {
            (start.clone(), scenario.clone())
        } else {
            let x = to_x(u);
            let s = apply(scenario, &keys, &x)?;
            (x, s)
        };
        let reps = run(&s, settings.seed, 0..settings.replicates, settings.threads)?;
        let fits = evaluate_replicates(&cal, &reps);
        let j: f64 = fits.iter().map(TargetFit::objective).sum();
        evaluations += 1;
        progress(evaluations, j);
        if best.as_ref().is_none_or(|(b, _, _)| j < *b) {
            best = Some((j, x, fits));
        }
        Ok(j)
    };
    let j0 = eval(&u0.clone())?;
    if d > 0 && settings.max_evaluations > 1 {
        nelder_mead(&mut eval, u0.clone(), j0, settings.max_evaluations - 1)?;
    }
    let (j1, x1, fits) = best.unwrap_or((j0, start.clone(), Vec::new()));
    Ok(Fit {
        scenario: scenario.name.clone(),
        settings,
        parameters: keys
            .into_iter()
            .zip(start)
            .zip(x1)
            .map(|((k, a), b)| (k, a, b))
            .collect(),
        objective: (j0, j1),
        evaluations,
        targets: fits,
    })
}

/// Nelder-Mead on [0, 1]^d (points clamped), at most `budget` evaluations after the start point
/// (already evaluated by the caller, which keeps the best point).
fn nelder_mead(
    f: &mut impl FnMut(&[f64]) -> Result<f64, CalibrateError>,
    start: Vec<f64>,
    f0: f64,
    budget: u32,
) -> Result<(), CalibrateError> {
    let d = start.len();
    let clamp = |p: Vec<f64>| -> Vec<f64> { p.into_iter().map(|v| v.clamp(0.0, 1.0)).collect() };
    let mut used = 0u32;
    let mut call = |p: &[f64], used: &mut u32| -> Result<Option<f64>, CalibrateError> {
        if *used >= budget {
            return Ok(None);
        }
        *used += 1;
        f(p).map(Some)
    };
    let mut simplex: Vec<(Vec<f64>, f64)> = vec![(start.clone(), f0)];
    for i in 0..d {
        let mut p = start.clone();
        p[i] = if p[i] + 0.1 <= 1.0 {
            p[i] + 0.1
        } else {
            p[i] - 0.1
        };
        let Some(fp) = call(&p, &mut used)? else {
            return Ok(());
        };
        simplex.push((p, fp));
    }
    loop {
        simplex.sort_by(|a, b| a.1.total_cmp(&b.1));
        let (fbest, fworst) = (simplex[0].1, simplex[d].1);
        if (fworst - fbest).abs() <= 1e-3 * (1.0 + fbest.abs()) {
            return Ok(());
        }
        let centroid: Vec<f64> = (0..d)
            .map(|i| simplex[..d].iter().map(|(p, _)| p[i]).sum::<f64>() / d as f64)
            .collect();
        let toward = |t: f64, from: &[f64]| -> Vec<f64> {
            clamp(
                (0..d)
                    .map(|i| centroid[i] + t * (centroid[i] - from[i]))
                    .collect(),
            )
        };
        let worst = simplex[d].0.clone();
        let r = toward(1.0, &worst);
        let Some(fr) = call(&r, &mut used)? else {
            return Ok(());
        };
        if fr < simplex[0].1 {
            let e = toward(2.0, &worst);
            let Some(fe) = call(&e, &mut used)? else {
                return Ok(());
            };
            simplex[d] = if fe < fr { (e, fe) } else { (r, fr) };
            continue;
        }
        if fr < simplex[d - 1].1 {
            simplex[d] = (r, fr);
            continue;
        }
        let (c, outside) = if fr < simplex[d].1 {
            (toward(0.5, &worst), true)
        } else {
            (toward(-0.5, &worst), false)
        };
        let Some(fc) = call(&c, &mut used)? else {
            return Ok(());
        };
        if (outside && fc <= fr) || (!outside && fc < simplex[d].1) {
            simplex[d] = (c, fc);
            continue;
        }
        // Shrink towards the best vertex.
        let best = simplex[0].0.clone();
        for v in simplex.iter_mut().skip(1) {
            let p: Vec<f64> = (0..d).map(|i| best[i] + 0.5 * (v.0[i] - best[i])).collect();
            let Some(fp) = call(&p, &mut used)? else {
                return Ok(());
            };
            *v = (p, fp);
        }
    }
}

/// The target table: name, published, simulated mean (MCSE), 95% interval over replicates,
/// tolerance, pass.
pub fn target_table(fits: &[TargetFit]) -> String {
    let mut t = comfy_table::Table::new();
    t.load_style(comfy_table::presets::ASCII_MARKDOWN);
    t.set_header(vec![
        "target",
        "published",
        "simulated mean (MCSE)",
        "95% interval over replicates",
        "tolerance",
        "pass",
    ]);
    for f in fits {
        let m = f.target.metric;
        let year = match (f.target.year, m.is_total()) {
            (Some(j), _) => format!(" PY{}", j + 1),
            (None, true) => " (all years)".to_owned(),
            (None, false) => String::new(),
        };
        let tol = if f.target.relative {
            format!("{:.0}%", f.target.tolerance * 100.0)
        } else {
            m.show(f.target.tolerance)
        };
        let pass = if f.target.weight < 1.0 {
            format!("(info) {}", if f.pass() { "within" } else { "outside" })
        } else if f.pass() {
            "PASS".to_owned()
        } else {
            "FAIL".to_owned()
        };
        t.add_row(vec![
            format!("{}{year}", f.target.name),
            m.show(f.target.value),
            format!("{} ({})", m.show(f.mean), m.show(f.mcse)),
            format!("{} to {}", m.show(f.ci95.0), m.show(f.ci95.1)),
            tol,
            pass,
        ]);
    }
    t.to_string()
}

impl Fit {
    /// The calibration report (`simulator/presets/<preset>.calibration.txt`).
    pub fn report(&self, command: &str) -> String {
        let mut out = String::new();
        let s = &self.settings;
        let _ = writeln!(out, "calibration of {}", self.scenario);
        let _ = writeln!(out, "command: {command}");
        let _ = writeln!(
            out,
            "model {}, seed {}, replicates 0..{} per evaluation (common random numbers), {} evaluations",
            crate::MODEL_VERSION,
            s.seed,
            s.replicates,
            self.evaluations
        );
        let fitted = self.evaluations > 1;
        if fitted {
            let _ = writeln!(
                out,
                "objective sum w ((mean - target) / tolerance)^2: {:.4} at the scenario's values, {:.4} fitted\n",
                self.objective.0, self.objective.1
            );
            let _ = writeln!(out, "parameters (fitted; the scenario's value after #):");
            for (k, a, b) in &self.parameters {
                let _ = writeln!(out, "  {k} = {b:?}    # {a:?}");
            }
        } else {
            let _ = writeln!(
                out,
                "evaluation of the scenario's values (no fit); objective sum w ((mean - target) / tolerance)^2: {:.4}\n",
                self.objective.0
            );
            let _ = writeln!(out, "parameters (as in the scenario):");
            for (k, a, _) in &self.parameters {
                let _ = writeln!(out, "  {k} = {a:?}");
            }
        }
        out.push('\n');
        out.push_str(&target_table(&self.targets));
        out.push('\n');
        let failed: Vec<&str> = self
            .targets
            .iter()
            .filter(|t| t.target.weight >= 1.0 && !t.pass())
            .map(|t| t.target.name.as_str())
            .collect();
        if !self.targets.iter().any(|t| t.target.weight >= 1.0) {
            out.push_str(
                "no acceptance target (every target has weight < 1: published, not required)\n",
            );
        } else if failed.is_empty() {
            out.push_str("every acceptance target (weight 1) within its tolerance\n");
        } else {
            let _ = writeln!(out, "outside tolerance: {}", failed.join(", "));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nelder_mead_finds_the_minimum_of_a_bowl_inside_the_box() {
        // Minimum at (0.3, 0.7); start at (0.5, 0.5).
        let mut best = (f64::INFINITY, vec![]);
        let mut calls = 0;
        let mut f = |u: &[f64]| -> Result<f64, CalibrateError> {
            calls += 1;
            let v = (u[0] - 0.3).powi(2) + 4.0 * (u[1] - 0.7).powi(2);
            if v < best.0 {
                best = (v, u.to_vec());
            }
            Ok(v)
        };
        let f0 = f(&[0.5, 0.5]).unwrap();
        nelder_mead(&mut f, vec![0.5, 0.5], f0, 200).unwrap();
        assert!(calls <= 201, "{calls}");
        // The stop rule (objectives within 1e-3 (1 + |f|)) ends the search near the minimum.
        assert!(best.0 < 1e-3, "{best:?}");
        assert!(
            (best.1[0] - 0.3).abs() < 0.03 && (best.1[1] - 0.7).abs() < 0.03,
            "{best:?}"
        );
    }

    #[test]
    fn nelder_mead_respects_the_budget_and_the_box() {
        // The minimum (-1) lies outside [0, 1]: the search ends on the bound.
        let mut seen = Vec::new();
        let mut f = |u: &[f64]| -> Result<f64, CalibrateError> {
            seen.push(u[0]);
            Ok((u[0] + 1.0).powi(2))
        };
        nelder_mead(&mut f, vec![0.5], 2.25, 15).unwrap();
        assert!(seen.len() <= 15, "{}", seen.len());
        assert!(seen.iter().all(|u| (0.0..=1.0).contains(u)));
        assert!(seen.contains(&0.0), "{seen:?}");
    }

    #[test]
    fn objective_and_pass_use_relative_and_absolute_tolerances() {
        let t = |value: f64, tolerance: f64, relative: bool| Target {
            name: "t".into(),
            metric: Metric::AcosPaid,
            year: None,
            value,
            tolerance,
            relative,
            weight: 1.0,
            source: String::new(),
        };
        let fit = |target: Target, mean: f64| TargetFit {
            target,
            mean,
            mcse: 0.5,
            ci95: (0.0, 0.0),
        };
        let a = fit(t(200.0, 0.1, true), 215.0);
        assert_eq!(a.tolerance(), 20.0);
        assert!(a.pass());
        assert!((a.objective() - 0.5625).abs() < 1e-12);
        let b = fit(t(13.0, 2.0, false), 15.5);
        assert!(!b.pass() && b.pass_within(1.0) && !b.pass_within(0.9));
    }
}
