//! Where the benchmark and settlement steps of a replicate run (MODEL.md 5.1-5.3): the rule
//! engines in process ([`InProcess`], the default) or benchmark-svc and settlement-svc over gRPC
//! (`--via grpc`: `GrpcEngines`, behind the `grpc` cargo feature), as settlement-svc's
//! `BenchmarkSource` does for the benchmarks it reads.
//!
//! Both give the same numbers for the same inputs: the seam carries what the services publish.
//! The updated benchmark per capita and total come rounded to cents (benchmark-svc's edge,
//! `round_money`), and every settlement amount in the form settlement-svc writes it (exact,
//! normalized; shared savings and losses in cents). The in-process source applies the same
//! conversions, so `summary.json` is byte-identical whichever source ran (tests/via_grpc.rs).
//! The beneficiary hot loop never calls a source: each ACO-year calls it once per step, after its
//! beneficiaries are summed.

use std::fmt::Debug;

use benchmark_rules::{ByType, Historical, HistoricalInput, PerformanceYearInput, RuleSet};
use rust_decimal::Decimal;
use settlement_rules::{MsrOption, NoTrace, Settlement, SettlementInput};

#[cfg(feature = "grpc")]
mod grpc;
#[cfg(feature = "grpc")]
pub use grpc::GrpcEngines;

/// An updated benchmark as benchmark-svc publishes it (cents, normalized).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UpdatedBenchmark {
    /// Updated benchmark per capita by enrollment type, dollars (cents).
    pub per_capita: ByType<Decimal>,
    /// Updated benchmark total, dollars (cents).
    pub total: Decimal,
}

/// One agreement's historical benchmark: its rule set and input, and the historical benchmark once
/// computed, for reuse in each performance year by a source that can (the in-process engines; a
/// remote source recomputes it with each update). Kept together, a computed benchmark cannot be
/// reused for another agreement's input.
#[derive(Debug)]
pub struct Agreement<'r> {
    /// The benchmark rule set.
    rules: &'r RuleSet,
    /// The historical benchmark's input (fixed once made: the computed benchmark is of it).
    input: HistoricalInput,
    historical: Option<Historical>,
}

impl<'r> Agreement<'r> {
    /// An agreement whose historical benchmark is not computed yet.
    pub fn new(rules: &'r RuleSet, input: HistoricalInput) -> Self {
        Agreement {
            rules,
            input,
            historical: None,
        }
    }
}

/// The benchmark and settlement engines (MODEL.md 5): in process, or the services over gRPC.
pub trait Engines: Send + Sync + Debug {
    /// The historical benchmark of `agreement`, updated to `py`.
    fn benchmark(
        &self,
        agreement: &mut Agreement<'_>,
        py: &PerformanceYearInput,
    ) -> Result<UpdatedBenchmark, String>;

    /// The settlement of one ACO-year, its amounts as settlement-svc publishes them.
    fn settle(&self, input: &SettlementInput<'_>) -> Result<Settlement, String>;

    /// A short name for messages ("in-process", "gRPC").
    fn name(&self) -> &'static str;
}

/// The rule engines called in process (benchmark-rules, settlement-rules) with [`NoTrace`].
#[derive(Debug, Clone, Copy, Default)]
pub struct InProcess;

/// Money as the services publish it: rounded to cents, normalized.
pub(crate) fn cents(d: Decimal) -> Decimal {
    benchmark_rules::round_money(d).normalize()
}

/// The fixed MSR choice `d` is, in the form settlement-svc uses for it (its enum value), if any.
pub(crate) fn fixed_choice_index(d: Decimal) -> Option<usize> {
    MsrOption::FIXED_CHOICES.iter().position(|c| *c == d)
}

/// `option` as settlement-svc receives it: a fixed rate becomes the enum's own value.
pub(crate) fn canonical_msr(option: MsrOption) -> MsrOption {
    match option {
        MsrOption::Fixed(d) => match fixed_choice_index(d) {
            Some(i) => MsrOption::Fixed(MsrOption::FIXED_CHOICES[i]),
            None => MsrOption::Fixed(d),
        },
        o => o,
    }
}

/// `s` in the form settlement-svc writes it: every amount exact and normalized, shared savings
/// and losses in cents.
fn published(s: Settlement) -> Settlement {
    let n = |d: Decimal| d.normalize();
    Settlement {
        updated_benchmark: n(s.updated_benchmark),
        expenditures: n(s.expenditures),
        gross_savings: n(s.gross_savings),
        savings_rate: n(s.savings_rate),
        msr: n(s.msr),
        mlr: s.mlr.map(n),
        final_sharing_rate: n(s.final_sharing_rate),
        loss_rate: s.loss_rate.map(n),
        payment_limit: n(s.payment_limit),
        loss_limit: s.loss_limit.map(n),
        sequestration_rate: n(s.sequestration_rate),
        shared_savings: cents(s.shared_savings),
        shared_losses: cents(s.shared_losses),
        ..s
    }
}

impl Engines for InProcess {
    fn benchmark(
        &self,
        agreement: &mut Agreement<'_>,
        py: &PerformanceYearInput,
    ) -> Result<UpdatedBenchmark, String> {
        let Agreement { rules, input, .. } = *agreement;
        let hist = match agreement.historical {
            Some(h) => h,
            None => {
                let h = benchmark_rules::historical_with(rules, &input, &mut NoTrace)
                    .map_err(|e| e.to_string())?;
                *agreement.historical.insert(h)
            }
        };
        let u = benchmark_rules::update::update_with(rules, &input, &hist, py, &mut NoTrace)
            .map_err(|e| e.to_string())?;
        Ok(UpdatedBenchmark {
            per_capita: u.types.map(|t| cents(t.per_capita)),
            total: cents(u.total),
        })
    }

    fn settle(&self, input: &SettlementInput<'_>) -> Result<Settlement, String> {
        let mut input = input.clone();
        input.msr_option = canonical_msr(input.msr_option);
        let s = settlement_rules::reconcile(&input, &mut NoTrace).map_err(|e| e.to_string())?;
        Ok(published(s))
    }

    fn name(&self) -> &'static str {
        "in-process"
    }
}
