//! `summary.json`: the program totals of a run, over all performance years and per performance year,
//! each as mean, 95% interval and Monte Carlo standard error over the replicates
//! ([`crate::stats`] defines the three and their rounding).
//!
//! ```json
//! {
//!   "scenario": "pioneer-2012-2013",
//!   "seed": 42,
//!   "replicates": 200,
//!   "model_version": "...",
//!   "totals": {
//!     "savings_to_medicare": {"mean": "383912345.67", "ci95": ["301234567.89", "467890123.45"], "mcse": "2961234.56"},
//!     "benchmark_savings": {...}, "shared_savings_paid": {...}, "shared_losses_collected": {...},
//!     "net_to_medicare": {...}, "net_benchmark_basis": {...},
//!     "acos_below_benchmark": {...}, "acos_paid": {...}, "acos_owing": {...}, "acos_exited": {...},
//!     "savings_to_medicare_itt": {...}, "net_to_medicare_itt": {...}
//!   },
//!   "by_performance_year": [{"performance_year": 2012, "totals": {...the same twelve keys...}}, ...]
//! }
//! ```
//!
//! | key | per replicate, the sum over active ACOs (and, in `totals`, over performance years) of |
//! | --- | --- |
//! | `savings_to_medicare` | counterfactual - actual spending, dollars |
//! | `benchmark_savings` | benchmark - actual spending, dollars |
//! | `shared_savings_paid` | shared savings paid to ACOs, dollars |
//! | `shared_losses_collected` | shared losses owed by ACOs, dollars |
//! | `net_to_medicare` | savings_to_medicare - paid + collected, dollars |
//! | `net_benchmark_basis` | benchmark_savings - paid + collected (the figure CMS announces), dollars |
//! | `acos_below_benchmark` | ACOs with spending below benchmark (ACO-years in `totals`) |
//! | `acos_paid` | ACOs paid shared savings (ACO-years in `totals`) |
//! | `acos_owing` | ACOs owing shared losses (ACO-years in `totals`) |
//! | `acos_exited` | ACOs that left the program after the year |
//! | `savings_to_medicare_itt` | intent to treat: savings_to_medicare over every ACO that started, including those that left (their beneficiaries keep `exit.itt_effect` of the ACO's effect; MODEL.md 6.2), dollars |
//! | `net_to_medicare_itt` | savings_to_medicare_itt - paid + collected, dollars |
//!
//! Every figure is a decimal string rounded to two decimals (cents for dollars), half away from
//! zero; `mcse` is `null` for a single replicate. A replicate with no row for a year counts zero.

use std::collections::BTreeSet;

use rust_decimal::Decimal;
use serde::Serialize;

use crate::results::YearTotals;
use crate::stats::{Estimate, StatsError};

/// What identifies a run: written into `summary.json` and each shard's `shard.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct RunInfo {
    /// Scenario name (a preset's name or the scenario file's `name`).
    pub scenario: String,
    /// Master seed.
    pub seed: u64,
    /// Replicates in the whole run (not a shard's share).
    pub replicates: u32,
    /// `crate::model::MODEL_VERSION` of the model that produced the replicates.
    pub model_version: String,
}

/// One figure of `summary.json`: mean, 95% interval, Monte Carlo standard error.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Figure {
    /// Mean over replicates.
    pub mean: String,
    /// 2.5th and 97.5th percentiles over replicates.
    pub ci95: [String; 2],
    /// Standard deviation / sqrt(replicates); `null` for one replicate.
    pub mcse: Option<String>,
}

impl Figure {
    fn of(values: &[Decimal]) -> Result<(Figure, Estimate), StatsError> {
        let e = Estimate::of(values)?;
        let r = e.rounded();
        Ok((
            Figure {
                mean: r.mean.to_string(),
                ci95: [r.ci95.0.to_string(), r.ci95.1.to_string()],
                mcse: r.mcse.map(|m| m.to_string()),
            },
            e,
        ))
    }
}

/// How many program totals there are.
pub const TOTALS: usize = 12;

/// The twelve program totals (see the module table).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[allow(missing_docs)] // documented in the module table
pub struct Totals {
    pub savings_to_medicare: Figure,
    pub benchmark_savings: Figure,
    pub shared_savings_paid: Figure,
    pub shared_losses_collected: Figure,
    pub net_to_medicare: Figure,
    pub net_benchmark_basis: Figure,
    pub acos_below_benchmark: Figure,
    pub acos_paid: Figure,
    pub acos_owing: Figure,
    pub acos_exited: Figure,
    pub savings_to_medicare_itt: Figure,
    pub net_to_medicare_itt: Figure,
}

/// Names of the totals, in `summary.json` order.
pub const TOTAL_NAMES: [&str; TOTALS] = [
    "savings_to_medicare",
    "benchmark_savings",
    "shared_savings_paid",
    "shared_losses_collected",
    "net_to_medicare",
    "net_benchmark_basis",
    "acos_below_benchmark",
    "acos_paid",
    "acos_owing",
    "acos_exited",
    "savings_to_medicare_itt",
    "net_to_medicare_itt",
];

fn values_of(t: &YearTotals) -> [Decimal; TOTALS] {
    [
        t.savings_to_medicare,
        t.benchmark_savings,
        t.shared_savings_paid,
        t.shared_losses_collected,
        t.net_to_medicare(),
        t.net_benchmark_basis(),
        t.acos_below_benchmark.into(),
        t.acos_paid.into(),
        t.acos_owing.into(),
        t.acos_exited.into(),
        t.savings_to_medicare_itt,
        t.net_to_medicare_itt(),
    ]
}

impl Totals {
    /// The figures in [`TOTAL_NAMES`] order.
    pub fn figures(&self) -> [&Figure; TOTALS] {
        [
            &self.savings_to_medicare,
            &self.benchmark_savings,
            &self.shared_savings_paid,
            &self.shared_losses_collected,
            &self.net_to_medicare,
            &self.net_benchmark_basis,
            &self.acos_below_benchmark,
            &self.acos_paid,
            &self.acos_owing,
            &self.acos_exited,
            &self.savings_to_medicare_itt,
            &self.net_to_medicare_itt,
        ]
    }

    /// Totals of one value vector per replicate; also returns the unrounded estimates.
    fn of(per_replicate: &[[Decimal; TOTALS]]) -> Result<(Totals, [Estimate; TOTALS]), StatsError> {
        let col = |k: usize| {
            let column: Vec<Decimal> = per_replicate.iter().map(|v| v[k]).collect();
            Figure::of(&column)
        };
        let all = [
            col(0)?,
            col(1)?,
            col(2)?,
            col(3)?,
            col(4)?,
            col(5)?,
            col(6)?,
            col(7)?,
            col(8)?,
            col(9)?,
            col(10)?,
            col(11)?,
        ];
        let estimates = all.each_ref().map(|(_, e)| *e);
        let [s, b, p, l, n, nb, below, paid, owing, exited, s_itt, n_itt] = all.map(|(f, _)| f);
        let totals = Totals {
            savings_to_medicare: s,
            benchmark_savings: b,
            shared_savings_paid: p,
            shared_losses_collected: l,
            net_to_medicare: n,
            net_benchmark_basis: nb,
            acos_below_benchmark: below,
            acos_paid: paid,
            acos_owing: owing,
            acos_exited: exited,
            savings_to_medicare_itt: s_itt,
            net_to_medicare_itt: n_itt,
        };
        Ok((totals, estimates))
    }
}

/// One entry of `by_performance_year`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct YearSummary {
    /// Performance year.
    pub performance_year: i32,
    /// The totals of that year.
    pub totals: Totals,
}

/// The whole of `summary.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Summary {
    /// Scenario name.
    pub scenario: String,
    /// Master seed.
    pub seed: u64,
    /// Replicates summarised.
    pub replicates: u32,
    /// Model version.
    pub model_version: String,
    /// Over all performance years.
    pub totals: Totals,
    /// Per performance year, ascending.
    pub by_performance_year: Vec<YearSummary>,
}

/// Unrounded estimates kept for the plots (not serialised).
#[derive(Debug, Clone)]
pub(crate) struct Estimates {
    pub(crate) by_year: Vec<(i32, [Estimate; TOTALS])>,
}

/// Index of `net_to_medicare` in [`TOTAL_NAMES`].
pub(crate) const NET_TO_MEDICARE: usize = 4;
/// Index of `savings_to_medicare`.
pub(crate) const SAVINGS_TO_MEDICARE: usize = 0;
/// Index of `benchmark_savings`.
pub(crate) const BENCHMARK_SAVINGS: usize = 1;

/// Per replicate, the scenario total (all years summed) of each figure.
pub(crate) fn scenario_values(years: &[YearTotals]) -> [Decimal; TOTALS] {
    let mut sum = [Decimal::ZERO; TOTALS];
    for t in years {
        for (s, v) in sum.iter_mut().zip(values_of(t)) {
            *s += v;
        }
    }
    sum
}

impl Summary {
    /// Summarises `replicates` (each replicate's year totals, in replicate order).
    pub(crate) fn of(
        info: &RunInfo,
        replicates: &[Vec<YearTotals>],
    ) -> Result<(Summary, Estimates), StatsError> {
        let all: Vec<[Decimal; TOTALS]> = replicates.iter().map(|y| scenario_values(y)).collect();
        let (totals, _) = Totals::of(&all)?;
        let years: BTreeSet<i32> = replicates
            .iter()
            .flatten()
            .map(|t| t.performance_year)
            .collect();
        let mut by_performance_year = Vec::with_capacity(years.len());
        let mut by_year = Vec::with_capacity(years.len());
        for year in years {
            let values: Vec<[Decimal; TOTALS]> = replicates
                .iter()
                .map(|ys| {
                    scenario_values(
                        &ys.iter()
                            .filter(|t| t.performance_year == year)
                            .cloned()
                            .collect::<Vec<_>>(),
                    )
                })
                .collect();
            let (totals, e) = Totals::of(&values)?;
            by_performance_year.push(YearSummary {
                performance_year: year,
                totals,
            });
            by_year.push((year, e));
        }
        Ok((
            Summary {
                scenario: info.scenario.clone(),
                seed: info.seed,
                replicates: info.replicates,
                model_version: info.model_version.clone(),
                totals,
                by_performance_year,
            },
            Estimates { by_year },
        ))
    }
}
