//! The simulator's results: what one replicate produces (per ACO-year records and per-year program
//! totals), consumed by the report writers (summary.json, CSV, Parquet, plots) and by `merge`.
//! Produced by the model (`crate::model`), never by the report layer.

use rust_decimal::Decimal;

/// How one ACO's performance year settled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Outcome {
    /// Savings at or above the MSR, shared savings paid.
    Paid,
    /// Savings at or above the MSR but nothing paid (quality gate or a zero sharing rate).
    EarnedNothing,
    /// Within the corridor: neither savings nor losses shared.
    Corridor,
    /// Losses at or above the MLR, shared losses owed.
    Owes,
    /// Losses at or above the MLR under a one-sided track: nothing owed.
    LossNotShared,
}

impl Outcome {
    /// Every outcome, in the order of the plots' legends.
    pub const ALL: [Outcome; 5] = [
        Outcome::Paid,
        Outcome::EarnedNothing,
        Outcome::Corridor,
        Outcome::Owes,
        Outcome::LossNotShared,
    ];

    /// Stable lower-case name used in CSV/Parquet/plots.
    pub fn name(self) -> &'static str {
        match self {
            Outcome::Paid => "paid",
            Outcome::EarnedNothing => "earned_nothing",
            Outcome::Corridor => "corridor",
            Outcome::Owes => "owes",
            Outcome::LossNotShared => "loss_not_shared",
        }
    }
}

/// One ACO in one performance year of one replicate (a row of `acos.csv`).
#[derive(Debug, Clone, PartialEq)]
pub struct AcoYear {
    /// Replicate index, 0-based, global (not per shard).
    pub replicate: u32,
    /// ACO index within the scenario, 0-based.
    pub aco: u32,
    /// Performance year, calendar (e.g. 2012).
    pub performance_year: i32,
    /// Assigned beneficiaries (person-years) this year.
    pub assigned: u64,
    /// Updated benchmark, total dollars (engine output, exact).
    pub benchmark: Decimal,
    /// Actual (truncated) expenditures, total dollars.
    pub spending: Decimal,
    /// Counterfactual expenditures (no ACO), total dollars.
    pub counterfactual: Decimal,
    /// Savings to Medicare: counterfactual - actual spending, both untruncated (the true effect
    /// x counterfactual), dollars.
    pub savings_to_medicare: Decimal,
    /// Minimum savings rate applied (fraction).
    pub msr: Decimal,
    /// (benchmark - spending) / benchmark.
    pub savings_rate: Decimal,
    /// Settlement outcome.
    pub outcome: Outcome,
    /// Shared savings paid (>= 0), dollars, as the settlement engine rounded them.
    pub shared_savings: Decimal,
    /// Shared losses owed (>= 0), dollars.
    pub shared_losses: Decimal,
    /// True if the ACO left the program after this performance year.
    pub exited_after: bool,
}

/// Program totals of one performance year of one replicate (a row of `replicates.csv`).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct YearTotals {
    /// Replicate index, 0-based, global.
    pub replicate: u32,
    /// Performance year.
    pub performance_year: i32,
    /// Sum over active ACOs of counterfactual - actual.
    pub savings_to_medicare: Decimal,
    /// Sum of benchmark - actual.
    pub benchmark_savings: Decimal,
    /// Sum of shared savings paid.
    pub shared_savings_paid: Decimal,
    /// Sum of shared losses owed/collected.
    pub shared_losses_collected: Decimal,
    /// Active ACOs reconciled this year.
    pub acos_active: u32,
    /// ACOs with spending below benchmark.
    pub acos_below_benchmark: u32,
    /// ACOs paid shared savings (> 0).
    pub acos_paid: u32,
    /// ACOs owing losses (> 0).
    pub acos_owing: u32,
    /// ACOs that left after this year.
    pub acos_exited: u32,
    /// Assigned beneficiaries (person-years) over active ACOs.
    pub beneficiaries: u64,
    /// Gap decomposition (MODEL.md 6.3), benchmark error: `sum UB (1 - exp(-Gamma))` over the
    /// systematic gap's share that is not selection (`gap.mean` and the ACO-level `gap.sigma`
    /// draw), dollars.
    pub gap_benchmark_error: Decimal,
    /// Gap decomposition, selection into two-sided risk: the `gap.two_sided` share of
    /// `sum UB (1 - exp(-Gamma))`, dollars.
    pub gap_selection: Decimal,
    /// Gap decomposition, regression to the mean: `sum UB (sum_k w_k v_k - v_PY)`, the transient
    /// shocks the benchmark years carried (including `rtm_shift` and the transient share of a
    /// listed ACO's level) that the performance year does not, dollars.
    pub gap_regression_to_the_mean: Decimal,
    /// Intent to treat: savings to Medicare of every ACO that started the scenario, including
    /// those that left before this year (MODEL.md 6.2).
    pub savings_to_medicare_itt: Decimal,
}

impl YearTotals {
    /// savings to Medicare - paid + collected.
    pub fn net_to_medicare(&self) -> Decimal {
        self.savings_to_medicare - self.shared_savings_paid + self.shared_losses_collected
    }
    /// Intent to treat: savings to Medicare of every ACO that started - paid + collected.
    pub fn net_to_medicare_itt(&self) -> Decimal {
        self.savings_to_medicare_itt - self.shared_savings_paid + self.shared_losses_collected
    }
    /// benchmark savings - paid + collected (the figure CMS announces).
    pub fn net_benchmark_basis(&self) -> Decimal {
        self.benchmark_savings - self.shared_savings_paid + self.shared_losses_collected
    }
    /// The gap between what CMS pays on and what Medicare saves: benchmark savings - savings to
    /// Medicare (MODEL.md 6.3).
    pub fn gap_total(&self) -> Decimal {
        self.benchmark_savings - self.savings_to_medicare
    }
    /// The part of [`YearTotals::gap_total`] the three named parts do not explain: sampling noise,
    /// the risk-ratio ratchet, the flat update times the ACO's level, truncation and the effect's
    /// interaction with them (MODEL.md 6.3).
    pub fn gap_other(&self) -> Decimal {
        self.gap_total()
            - self.gap_benchmark_error
            - self.gap_selection
            - self.gap_regression_to_the_mean
    }
}

/// Everything one replicate produced.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Replicate {
    /// Replicate index, 0-based, global.
    pub index: u32,
    /// Per performance year totals, in year order.
    pub years: Vec<YearTotals>,
    /// Per ACO-year records, ordered by (performance_year, aco).
    pub acos: Vec<AcoYear>,
    /// Claims mode (MODEL.md 3.5): what the claims pass did (claim lines, churn); `None` in
    /// aggregate mode and for replicates read back from files. Goes into no output file.
    pub claims: Option<crate::model::ClaimsStats>,
}
