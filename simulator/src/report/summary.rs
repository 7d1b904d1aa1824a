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
//!     "savings_to_medicare_itt": {...}, "net_to_medicare_itt": {...},
//!     "acos_active": {...}, "beneficiaries": {...},
//!     "gap_total": {...}, "gap_benchmark_error": {...}, "gap_selection": {...},
//!     "gap_regression_to_the_mean": {...}, "gap_other": {...},
//!     "savings_to_medicare_per_capita": {...}, ... "net_benchmark_basis_per_capita": {...}
//!   },
//!   "by_performance_year": [{"performance_year": 2012, "totals": {...the same keys...}}, ...]
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
//! | `acos_active` | ACOs reconciled (ACO-years in `totals`) |
//! | `acos_below_benchmark` | ACOs with spending below benchmark (ACO-years in `totals`) |
//! | `acos_paid` | ACOs paid shared savings (ACO-years in `totals`) |
//! | `acos_owing` | ACOs owing shared losses (ACO-years in `totals`) |
//! | `acos_exited` | ACOs that left the program after the year |
//! | `savings_to_medicare_itt` | intent to treat: savings_to_medicare over every ACO that started, including those that left (their beneficiaries keep `exit.itt_effect` of the ACO's effect; MODEL.md 6.2), dollars |
//! | `net_to_medicare_itt` | savings_to_medicare_itt - paid + collected, dollars |
//! | `beneficiaries` | assigned beneficiaries of the active ACOs (beneficiary-years in `totals`) |
//! | `gap_total` | benchmark_savings - savings_to_medicare: what CMS pays on less what Medicare saves (MODEL.md 6.3), dollars |
//! | `gap_benchmark_error` | its systematic part other than selection: `UB (1 - exp(-Gamma))` for `gap.mean` and the ACO's `gap.sigma` draw, dollars |
//! | `gap_selection` | its part from selection into two-sided risk (`gap.two_sided`), dollars |
//! | `gap_regression_to_the_mean` | `UB (sum_k w_k v_k - v_PY)`: transient benchmark-year shocks (and entry selection: `rtm_shift`, the transient share of a listed level) that do not recur, dollars |
//! | `gap_other` | the rest of `gap_total` (sampling, the risk-ratio ratchet, flat update x level, truncation, the effect's interaction), dollars |
//! | `*_per_capita` | `savings_to_medicare`, `benchmark_savings`, `shared_savings_paid`, `shared_losses_collected`, `net_to_medicare`, `net_benchmark_basis` divided by `beneficiaries` of the same replicate (in `totals`: dollars over all years / beneficiary-years), dollars per assigned beneficiary-year |
//!
//! Every figure is a decimal string rounded to two decimals (cents for dollars), half away from
//! zero; `mcse` is `null` for a single replicate. A replicate with no row for a year counts zero
//! (and has zero per capita figures for it).

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

/// Number of figures in each `totals` object.
pub const N: usize = 25;
/// The same, under the name the rest of the crate uses.
pub const TOTALS: usize = N;

/// The program totals (see the module table), in [`TOTAL_NAMES`] order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Totals {
    figures: [Figure; N],
}

impl Serialize for Totals {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut m = s.serialize_map(Some(N))?;
        for (k, f) in TOTAL_NAMES.iter().zip(&self.figures) {
            m.serialize_entry(k, f)?;
        }
        m.end()
    }
}

/// Names of the totals, in `summary.json` order.
pub const TOTAL_NAMES: [&str; N] = [
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
    "acos_active",
    "beneficiaries",
    "gap_total",
    "gap_benchmark_error",
    "gap_selection",
    "gap_regression_to_the_mean",
    "gap_other",
    "savings_to_medicare_per_capita",
    "benchmark_savings_per_capita",
    "shared_savings_paid_per_capita",
    "shared_losses_collected_per_capita",
    "net_to_medicare_per_capita",
    "net_benchmark_basis_per_capita",
];

/// Index of `beneficiaries` in [`TOTAL_NAMES`].
const BENEFICIARIES: usize = 13;
/// The first per capita figure; figure `PER_CAPITA + k` is figure `k` per beneficiary.
const PER_CAPITA: usize = 19;

/// The sums of one replicate (every figure but the per capita ones, which are left zero).
fn values_of(t: &YearTotals) -> [Decimal; N] {
    let mut v = [Decimal::ZERO; N];
    let sums = [
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
        t.acos_active.into(),
        t.beneficiaries.into(),
        t.gap_total(),
        t.gap_benchmark_error,
        t.gap_selection,
        t.gap_regression_to_the_mean,
        t.gap_other(),
    ];
    v[..PER_CAPITA].copy_from_slice(&sums);
    v
}

impl Totals {
    /// The figures in [`TOTAL_NAMES`] order.
    pub fn figures(&self) -> &[Figure; N] {
        &self.figures
    }

    /// The figure named `name` (one of [`TOTAL_NAMES`]).
    pub fn get(&self, name: &str) -> Option<&Figure> {
        TOTAL_NAMES
            .iter()
            .position(|n| *n == name)
            .map(|i| &self.figures[i])
    }

    /// Totals of one value vector per replicate; also returns the unrounded estimates.
    fn of(per_replicate: &[[Decimal; N]]) -> Result<(Totals, [Estimate; N]), StatsError> {
        let mut figures = Vec::with_capacity(N);
        let mut estimates = Vec::with_capacity(N);
        for k in 0..N {
            let column: Vec<Decimal> = per_replicate.iter().map(|v| v[k]).collect();
            let (f, e) = Figure::of(&column)?;
            figures.push(f);
            estimates.push(e);
        }
        let figures: [Figure; N] = figures.try_into().map_err(|_| StatsError::Empty)?;
        let estimates: [Estimate; N] = estimates.try_into().map_err(|_| StatsError::Empty)?;
        Ok((Totals { figures }, estimates))
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
    pub(crate) by_year: Vec<(i32, [Estimate; N])>,
}

/// Index of `net_to_medicare` in [`TOTAL_NAMES`].
pub(crate) const NET_TO_MEDICARE: usize = 4;
/// Index of `savings_to_medicare`.
pub(crate) const SAVINGS_TO_MEDICARE: usize = 0;
/// Index of `benchmark_savings`.
pub(crate) const BENCHMARK_SAVINGS: usize = 1;

/// Per replicate, the scenario total (all years summed) of each figure, and the per capita
/// figures of those sums.
pub(crate) fn scenario_values(years: &[YearTotals]) -> [Decimal; N] {
    let mut sum = [Decimal::ZERO; N];
    for t in years {
        for (s, v) in sum.iter_mut().zip(values_of(t)) {
            *s += v;
        }
    }
    let people = sum[BENEFICIARIES];
    for k in 0..N - PER_CAPITA {
        sum[PER_CAPITA + k] = if people.is_zero() {
            Decimal::ZERO
        } else {
            sum[k].checked_div(people).unwrap_or_default()
        };
    }
    sum
}

impl Summary {
    /// Summarises `replicates` (each replicate's year totals, in replicate order).
    pub(crate) fn of(
        info: &RunInfo,
        replicates: &[Vec<YearTotals>],
    ) -> Result<(Summary, Estimates), StatsError> {
        let all: Vec<[Decimal; N]> = replicates.iter().map(|y| scenario_values(y)).collect();
        let (totals, _) = Totals::of(&all)?;
        let years: BTreeSet<i32> = replicates
            .iter()
            .flatten()
            .map(|t| t.performance_year)
            .collect();
        let mut by_performance_year = Vec::with_capacity(years.len());
        let mut by_year = Vec::with_capacity(years.len());
        for year in years {
            let values: Vec<[Decimal; N]> = replicates
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn per_capita_and_gap_figures_follow_from_the_sums() {
        let year = |py: i32, savings: i64, bench: i64, people: u64| YearTotals {
            performance_year: py,
            savings_to_medicare: Decimal::from(savings),
            benchmark_savings: Decimal::from(bench),
            shared_savings_paid: Decimal::from(300),
            beneficiaries: people,
            gap_benchmark_error: Decimal::from(200),
            gap_selection: Decimal::from(50),
            gap_regression_to_the_mean: Decimal::from(-25),
            ..YearTotals::default()
        };
        let v = scenario_values(&[year(2012, 1_000, 1_600, 10), year(2013, 500, 400, 20)]);
        let get = |name: &str| v[TOTAL_NAMES.iter().position(|n| *n == name).unwrap()];
        assert_eq!(get("beneficiaries"), Decimal::from(30));
        assert_eq!(get("gap_total"), Decimal::from(500));
        // 500 - 2 x (200 + 50 - 25)
        assert_eq!(get("gap_other"), Decimal::from(50));
        // Over the scenario: 1,500 / 30 beneficiary-years; net 1,500 - 600 = 900 / 30.
        assert_eq!(get("savings_to_medicare_per_capita"), Decimal::from(50));
        assert_eq!(get("net_to_medicare_per_capita"), Decimal::from(30));
        assert_eq!(
            get("benchmark_savings_per_capita"),
            Decimal::from(2000) / Decimal::from(30)
        );
        // A year with nobody has zero per capita figures.
        let none = scenario_values(&[year(2012, 1_000, 1_600, 0)]);
        assert!(none[PER_CAPITA..].iter().all(|d| d.is_zero()));
    }
}
