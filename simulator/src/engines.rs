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
use settlement_rules::{MsrOption, NoTrace, Outcome, SettlementInput};

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

/// The settlement figures the simulator records, as settlement-svc publishes them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Settled {
    /// Outcome.
    pub outcome: Outcome,
    /// Updated benchmark, total dollars.
    pub updated_benchmark: Decimal,
    /// Expenditures, total dollars.
    pub expenditures: Decimal,
    /// Benchmark minus expenditures.
    pub gross_savings: Decimal,
    /// Gross savings / benchmark.
    pub savings_rate: Decimal,
    /// Minimum savings rate applied.
    pub msr: Decimal,
    /// Shared savings paid, dollars (cents).
    pub shared_savings: Decimal,
    /// Shared losses owed, dollars (cents).
    pub shared_losses: Decimal,
}

/// The historical benchmark of one ACO, computed once and reused for each performance year by a
/// source that can (the in-process engines); a remote source recomputes it with each update.
#[derive(Debug, Default)]
pub struct HistoricalCache(Option<Historical>);

/// The benchmark and settlement engines (MODEL.md 5): in process, or the services over gRPC.
pub trait Engines: Send + Sync + Debug {
    /// The historical benchmark of `input` under `rules`, updated to `py`.
    fn benchmark(
        &self,
        rules: &RuleSet,
        input: &HistoricalInput,
        cache: &mut HistoricalCache,
        py: &PerformanceYearInput,
    ) -> Result<UpdatedBenchmark, String>;

    /// The settlement of one ACO-year.
    fn settle(&self, input: &SettlementInput<'_>) -> Result<Settled, String>;

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

impl Engines for InProcess {
    fn benchmark(
        &self,
        rules: &RuleSet,
        input: &HistoricalInput,
        cache: &mut HistoricalCache,
        py: &PerformanceYearInput,
    ) -> Result<UpdatedBenchmark, String> {
        let hist = match cache.0 {
            Some(h) => h,
            None => {
                let h = benchmark_rules::historical_with(rules, input, &mut NoTrace)
                    .map_err(|e| e.to_string())?;
                cache.0 = Some(h);
                h
            }
        };
        let u = benchmark_rules::update::update_with(rules, input, &hist, py, &mut NoTrace)
            .map_err(|e| e.to_string())?;
        Ok(UpdatedBenchmark {
            per_capita: u.types.map(|t| cents(t.per_capita)),
            total: cents(u.total),
        })
    }

    fn settle(&self, input: &SettlementInput<'_>) -> Result<Settled, String> {
        let mut input = input.clone();
        input.msr_option = canonical_msr(input.msr_option);
        let s = settlement_rules::reconcile(&input, &mut NoTrace).map_err(|e| e.to_string())?;
        Ok(Settled {
            outcome: s.outcome,
            updated_benchmark: s.updated_benchmark.normalize(),
            expenditures: s.expenditures.normalize(),
            gross_savings: s.gross_savings.normalize(),
            savings_rate: s.savings_rate.normalize(),
            msr: s.msr.normalize(),
            shared_savings: cents(s.shared_savings),
            shared_losses: cents(s.shared_losses),
        })
    }

    fn name(&self) -> &'static str {
        "in-process"
    }
}
