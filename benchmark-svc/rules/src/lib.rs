//! The benchmark rule engine: a pure library (no I/O, no async), exact money in `rust_decimal`.
//!
//! [`historical`] computes an ACO's historical benchmark from benchmark-year aggregates, in the
//! order CMS applies the rules (mssp-rules.md section 3.6):
//!
//! 1. per enrollment type, each benchmark year's per capita expenditures (already truncated:
//!    [`truncation`] aggregates beneficiary-level records) risk adjusted to BY3 ([`risk`]) and
//!    trended to BY3 ([`update::trend_factors`]),
//! 2. weighted 10/30/60 or equally ([`rules`]), which restates BY1 and BY2 in the BY3 mix because
//!    every year's per capita amount of a type is weighted by that type's BY3 person-years,
//! 3. the regional adjustment or the prior savings adjustment ([`regional`]),
//! 4. the benchmark per capita weighted by BY3 person-years.
//!
//! [`update()`] takes it to a performance year: the risk ratio ([`risk`]) and the update
//! ([`update`]) per enrollment type, then the per capita and total weighted by performance-year
//! person-years.
//!
//! Each step can be recorded with its inputs, output and citation through a [`Trace`]; pass
//! [`NoTrace`] when only the numbers are wanted (the simulator's hot loop): it compiles away.
//!
//! Rounding: none. Every amount is exact (up to `Decimal`'s 28 significant digits, which only
//! matters for the thirds of equal weights and for ratios); the service rounds per capita amounts
//! and totals to cents at its edge ([`round_money`]).

pub mod input;
pub mod regional;
pub mod risk;
pub mod rules;
pub mod truncation;
pub mod update;

use rust_decimal::Decimal;

pub use acorn_domain::{NoTrace, Step, Trace, round_money};

pub use rules::{Date, RuleSet, SelectError};
pub use update::{
    PerformanceYearInput, PerformanceYearType, RegionalRiskInput, RiskGroup, Updated, update,
};

pub use acorn_domain::EnrollmentType;

pub use input::{
    FACTOR, FRACTION, Group, Input, MAX_AMOUNT, MAX_FACTOR, MAX_PERSON_YEARS, MIN_FACTOR,
    POSITIVE_AMOUNT, Quantity, Range, Series,
};

/// Every enrollment type, in the order of [`ByType`] arrays.
pub const TYPES: [EnrollmentType; 4] = EnrollmentType::ALL;

/// One value per enrollment type, in [`TYPES`] order.
pub type ByType<T> = [T; 4];

/// Experience of one enrollment type in one benchmark year.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct YearExperience {
    /// Person-years.
    pub person_years: Decimal,
    /// Per capita expenditures after truncation, dollars.
    pub per_capita: Decimal,
    /// Mean prospective CMS-HCC risk score.
    pub risk_score: Decimal,
}

/// Regional inputs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RegionalInput {
    /// Regional per capita FFS expenditures in BY3, dollars.
    pub regional_per_capita: ByType<Decimal>,
    /// National per capita FFS expenditures of assignable beneficiaries in BY3, dollars (caps).
    pub national_per_capita: Option<ByType<Decimal>>,
    /// Earlier agreement periods with a regional adjustment.
    pub prior_regional_adjustments: u32,
    /// National weight of the blended trend (the ACO's share of assignable beneficiaries).
    pub national_weight: Option<Decimal>,
    /// Regional trend factors BY1 -> BY3 and BY2 -> BY3.
    pub regional_trend: Option<[ByType<Decimal>; 2]>,
    /// Share of BY3 assigned beneficiaries who are dual eligible (2024+ offset).
    pub dual_eligible_share: Option<Decimal>,
}

/// Savings before the agreement (425.603(b) add-on, 425.658 adjustment).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PriorSavingsInput {
    /// Per capita savings (negative for losses) of each year counted, dollars.
    pub per_capita_savings: [Decimal; 3],
    /// Pro-ration for growth of the assigned population (values above 1 count as 1).
    pub proration_factor: Decimal,
}

/// Everything [`historical`] needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HistoricalInput {
    /// Start of the agreement period.
    pub agreement_start: Date,
    /// Agreement period number (1 = first).
    pub agreement_period: u32,
    /// Calendar years of BY1, BY2, BY3.
    pub years: [i32; 3],
    /// Experience by benchmark year, then enrollment type.
    pub experience: [ByType<YearExperience>; 3],
    /// National trend factors BY1 -> BY3 and BY2 -> BY3.
    pub national_trend: Option<[ByType<Decimal>; 2]>,
    /// Regional inputs.
    pub regional: Option<RegionalInput>,
    /// Prior savings.
    pub prior_savings: Option<PriorSavingsInput>,
}

/// The historical benchmark of one enrollment type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TypeBenchmark {
    /// Weighted, risk-adjusted, trended BY1-BY3 per capita, dollars.
    pub unadjusted: Decimal,
    /// Regional adjustment, dollars per capita.
    pub regional_adjustment: Decimal,
    /// Prior savings adjustment (or add-on), dollars per capita.
    pub prior_savings_adjustment: Decimal,
    /// Historical benchmark per capita after the adjustments.
    pub per_capita: Decimal,
    /// BY3 person-years.
    pub by3_person_years: Decimal,
}

/// The result of [`historical`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Historical {
    /// Rule set id.
    pub rule_set: &'static str,
    /// By enrollment type.
    pub types: ByType<TypeBenchmark>,
    /// Unadjusted benchmark per capita, weighted by BY3 person-years.
    pub unadjusted_per_capita: Decimal,
    /// Historical benchmark per capita, weighted by BY3 person-years.
    pub per_capita: Decimal,
}

/// Why a benchmark cannot be computed. Each error names the [`Input`] it is about in domain terms
/// (which benchmark year, enrollment type and quantity); a service maps it to its contract's field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BenchmarkError {
    /// No rule set applies.
    #[error(transparent)]
    RuleSet(#[from] SelectError),
    /// A value is out of its range.
    #[error("{input} {reason}")]
    Invalid {
        /// The input.
        input: Input,
        /// Why.
        reason: &'static str,
    },
    /// The rule set needs an input that was not given.
    #[error("{input} is required by rule set {rule_set}")]
    Missing {
        /// The input.
        input: Input,
        /// The rule set.
        rule_set: &'static str,
    },
    /// Every enrollment type has zero BY3 person-years: the benchmark has no weight.
    #[error("BY3 person-years are zero for every enrollment type")]
    NoBy3PersonYears,
    /// Every enrollment type has zero performance-year person-years.
    #[error("performance-year person-years are zero for every enrollment type")]
    NoPerformanceYearPersonYears,
    /// The result is too large for `Decimal` (about 7.9 x 10^28): only extreme combinations of
    /// accepted values reach it; `input` is the input whose size makes it so.
    #[error("{input}: the updated benchmark total would exceed the largest representable amount")]
    Unrepresentable {
        /// The input.
        input: Input,
    },
    /// The performance year is not after BY3.
    #[error("performance year {performance_year} is not after BY3 ({by3})")]
    PerformanceYearNotAfterBy3 {
        /// The performance year.
        performance_year: i32,
        /// BY3.
        by3: i32,
    },
}

/// A step whose inputs are one value per enrollment type (plus `extra` named values).
pub(crate) fn step_by_type(
    rule: &'static str,
    citation: &'static str,
    description: impl Into<String>,
    per_type: &[(&str, &ByType<Decimal>)],
    extra: &[(&str, String)],
    output: impl std::fmt::Display,
) -> Step {
    let mut inputs: Vec<(String, String)> = extra
        .iter()
        .map(|(k, v)| ((*k).to_string(), v.clone()))
        .collect();
    for (name, values) in per_type {
        for t in TYPES {
            inputs.push((
                format!("{name}[{}]", t.name()),
                values[t.index()].normalize().to_string(),
            ));
        }
    }
    Step {
        rule,
        citation,
        description: description.into(),
        inputs,
        output: output.to_string(),
    }
}

/// Formats a per-type array as `ESRD 1, DISABLED 2, ...` for step outputs.
pub(crate) fn show(values: &ByType<Decimal>) -> String {
    TYPES
        .iter()
        .map(|t| format!("{} {}", t.name(), values[t.index()].normalize()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Sum of `values[e] x weights[e]` / sum of `weights` (`None` when the weights sum to zero, or
/// when a step would overflow `Decimal`: checked arithmetic throughout).
pub fn weighted_mean(values: &ByType<Decimal>, weights: &ByType<Decimal>) -> Option<Decimal> {
    let total = weights
        .iter()
        .try_fold(Decimal::ZERO, |sum, w| sum.checked_add(*w))?;
    if total.is_zero() {
        return None;
    }
    let sum = values
        .iter()
        .zip(weights)
        .try_fold(Decimal::ZERO, |sum, (v, w)| {
            sum.checked_add(v.checked_mul(*w)?)
        })?;
    sum.checked_div(total)
}

/// Historical benchmark x performance-year person-years by type, the weights of the 2024 risk
/// caps (425.605(a)(1)(ii), 425.655(d)(2)). A type whose historical benchmark is negative (only
/// when a 2024 negative regional adjustment exceeds it) weighs zero [R], so every aggregate stays
/// a mean of the types' own ratios.
pub(crate) fn benchmark_weights(
    historical: &Historical,
    person_years: &ByType<Decimal>,
) -> ByType<Decimal> {
    std::array::from_fn(|i| historical.types[i].per_capita.max(Decimal::ZERO) * person_years[i])
}

fn invalid(input: Input, reason: &'static str) -> BenchmarkError {
    BenchmarkError::Invalid { input, reason }
}

/// Checks `value` against the range of `input` ([`Input::range`]).
pub(crate) fn check(input: Input, value: Decimal) -> Result<(), BenchmarkError> {
    match input.range() {
        Some(range) if !range.contains(value) => Err(invalid(input, range.reason)),
        _ => Ok(()),
    }
}

/// Checks every enrollment type's value of `series`.
pub(crate) fn check_series(series: Series, values: &ByType<Decimal>) -> Result<(), BenchmarkError> {
    for t in TYPES {
        let input = Input::Series {
            series,
            enrollment_type: Some(t),
        };
        check(input, values[t.index()])?;
    }
    Ok(())
}

/// Checks every range [`historical_with`] relies on (no input can make the engine panic).
fn check_historical(rules: &RuleSet, input: &HistoricalInput) -> Result<(), BenchmarkError> {
    let [y1, y2, y3] = input.years;
    if y2 != y1.saturating_add(1) || y3 != y2.saturating_add(1) || !(1900..=9999).contains(&y1) {
        return Err(invalid(
            Input::BenchmarkYears,
            "must be three consecutive calendar years in the order BY1, BY2, BY3",
        ));
    }
    for (year, experience) in input.experience.iter().enumerate() {
        for enrollment_type in TYPES {
            let e = &experience[enrollment_type.index()];
            for (quantity, value) in [
                (Quantity::PersonYears, e.person_years),
                (Quantity::PerCapitaExpenditures, e.per_capita),
                (Quantity::RiskScore, e.risk_score),
            ] {
                let input = Input::Experience {
                    year,
                    enrollment_type,
                    quantity,
                };
                check(input, value)?;
            }
        }
    }
    if let Some([t1, t2]) = &input.national_trend {
        check_series(Series::NationalTrend { from: 0 }, t1)?;
        check_series(Series::NationalTrend { from: 1 }, t2)?;
    }
    if let Some(r) = &input.regional {
        check_series(Series::RegionalPerCapita, &r.regional_per_capita)?;
        if let Some(n) = &r.national_per_capita {
            check_series(Series::NationalPerCapita, n)?;
        }
        if let Some([t1, t2]) = &r.regional_trend {
            check_series(Series::RegionalTrend { from: 0 }, t1)?;
            check_series(Series::RegionalTrend { from: 1 }, t2)?;
        }
        for (input, v) in [
            (Input::NationalWeight, r.national_weight),
            (Input::DualEligibleShare, r.dual_eligible_share),
        ] {
            if let Some(v) = v {
                check(input, v)?;
            }
        }
    }
    if let Some(p) = &input.prior_savings {
        for (year, s) in p.per_capita_savings.iter().enumerate() {
            check(Input::PriorSavings { year }, *s)?;
        }
        check(Input::ProrationFactor, p.proration_factor)?;
    }
    check_rules(rules)
}

/// Checks the parameters of a rule set (a caller such as the simulator may change them), so that
/// no parameter can make the arithmetic overflow or divide by zero: year weights in [0, 100] with
/// a positive sum, every share, cap, weight and margin a fraction in [0, 1], at least one pair of
/// regional weights.
pub(crate) fn check_rules(rules: &RuleSet) -> Result<(), BenchmarkError> {
    let fraction = |name: &'static str, v: Decimal| {
        if FRACTION.contains(v) {
            Ok(())
        } else {
            Err(invalid(Input::RuleSet(name), FRACTION.reason))
        }
    };
    if rules
        .weights
        .iter()
        .any(|w| w.is_sign_negative() || *w > MAX_FACTOR)
        || rules.weights.iter().all(|w| w.is_zero())
    {
        return Err(invalid(
            Input::RuleSet("weights"),
            "must each be between 0 and 100, not all zero",
        ));
    }
    if let Some(r) = &rules.regional {
        if r.weights.is_empty() {
            return Err(invalid(
                Input::RuleSet("regional.weights"),
                "must have at least one pair",
            ));
        }
        for (lower, higher) in r.weights {
            fraction("regional.weights", *lower)?;
            fraction("regional.weights", *higher)?;
        }
        if let Some(c) = r.positive_cap {
            fraction("regional.positive_cap", c)?;
        }
        if let Some(c) = r.negative_cap {
            fraction("regional.negative_cap", c)?;
        }
    }
    if let rules::PriorSavingsRule::Adjustment { share, cap } = rules.prior_savings {
        fraction("prior_savings.share", share)?;
        fraction("prior_savings.cap", cap)?;
    }
    if let rules::UpdateRule::ThreeWay { acpt_weight } = rules.update {
        fraction("update.acpt_weight", acpt_weight)?;
    }
    match rules.risk {
        rules::PyRiskRule::Capped { cap } => fraction("risk.cap", cap)?,
        rules::PyRiskRule::DemographicCap { margin } => fraction("risk.margin", margin)?,
        rules::PyRiskRule::NewlyContinuous => {}
    }
    if let Some(c) = &rules.regional_risk_cap {
        // The cap divides the regional HCC growth: with a margin >= 0 it is at least 0.01.
        fraction("regional_risk_cap.margin", c.margin)?;
    }
    Ok(())
}

/// Computes the historical benchmark with the rule set of the input's agreement.
pub fn historical(
    input: &HistoricalInput,
    trace: &mut impl Trace,
) -> Result<Historical, BenchmarkError> {
    let rules = rules::select(input.agreement_start, input.agreement_period)?;
    historical_with(&rules, input, trace)
}

/// Computes the historical benchmark with the given rule set (a default from [`rules::select`],
/// possibly with parameters changed).
pub fn historical_with(
    rules: &RuleSet,
    input: &HistoricalInput,
    trace: &mut impl Trace,
) -> Result<Historical, BenchmarkError> {
    check_historical(rules, input)?;
    trace.step(|| Step {
        rule: "benchmark.rule_set",
        citation: "42 CFR 425.601-425.603, 425.650-425.660",
        description: format!(
            "Rule set {} for agreement period {} starting {} (benchmark years {}-{})",
            rules.id, input.agreement_period, input.agreement_start, input.years[0], input.years[2]
        ),
        inputs: Vec::new(),
        output: rules.id.to_string(),
    });
    let trends = update::trend_factors(rules, input, trace)?;
    let by3 = &input.experience[2];
    let by3_person_years: ByType<Decimal> = by3.map(|e| e.person_years);
    if by3_person_years.iter().all(|p| p.is_zero()) {
        return Err(BenchmarkError::NoBy3PersonYears);
    }

    // Steps 1-2: per type, sum over years of weight x per capita x risk ratio to BY3 x trend to BY3.
    let weight_sum: Decimal = rules.weights.iter().sum();
    let weights = rules.weights.map(|w| w / weight_sum);
    let mut unadjusted = [Decimal::ZERO; 4];
    let mut restated = [[Decimal::ZERO; 4]; 3];
    for (k, year) in input.experience.iter().enumerate() {
        for t in TYPES {
            let i = t.index();
            let ratio = risk::to_by3(by3[i].risk_score, year[i].risk_score);
            let trend = if k == 2 { Decimal::ONE } else { trends[k][i] };
            restated[k][i] = year[i].per_capita * ratio * trend;
        }
    }
    for t in TYPES {
        let i = t.index();
        let sum: Decimal = (0..3).map(|k| rules.weights[k] * restated[k][i]).sum();
        unadjusted[i] = sum / weight_sum;
    }
    for (k, values) in restated.iter().enumerate().take(2) {
        trace.step(|| {
            step_by_type(
                "benchmark.restate_in_by3",
                rules.trend_citation,
                format!(
                    "BY{} per capita expenditures risk adjusted to BY3 (x BY3 / BY{} mean CMS-HCC score) and trended to BY3 dollars, by enrollment type",
                    k + 1,
                    k + 1
                ),
                &[
                    ("per_capita", &input.experience[k].map(|e| e.per_capita)),
                    ("risk_score", &input.experience[k].map(|e| e.risk_score)),
                    ("by3_risk_score", &by3.map(|e| e.risk_score)),
                    ("trend", &trends[k]),
                ],
                &[],
                show(values),
            )
        });
    }
    trace.step(|| {
        step_by_type(
            "benchmark.weighted_years",
            rules.weights_citation,
            format!(
                "Benchmark years weighted {} / {} / {} (BY1 / BY2 / BY3), by enrollment type",
                weights[0].round_dp(4).normalize(),
                weights[1].round_dp(4).normalize(),
                weights[2].round_dp(4).normalize()
            ),
            &[
                ("by1", &restated[0]),
                ("by2", &restated[1]),
                ("by3", &restated[2]),
            ],
            &[],
            show(&unadjusted),
        )
    });

    // Step 3: regional or prior savings adjustment.
    let adj = regional::adjustments(rules, input, &unadjusted, trace)?;
    let mut types = [TypeBenchmark::default(); 4];
    for t in TYPES {
        let i = t.index();
        types[i] = TypeBenchmark {
            unadjusted: unadjusted[i],
            regional_adjustment: adj.regional[i],
            prior_savings_adjustment: adj.prior_savings[i],
            per_capita: unadjusted[i] + adj.regional[i] + adj.prior_savings[i],
            by3_person_years: by3_person_years[i],
        };
    }

    // Step 4: BY3 mix.
    let adjusted = types.map(|t| t.per_capita);
    let unadjusted_pc = weighted_mean(&unadjusted, &by3_person_years).unwrap_or_default();
    let per_capita = weighted_mean(&adjusted, &by3_person_years).unwrap_or_default();
    trace.step(|| {
        step_by_type(
            "benchmark.historical",
            rules.weights_citation,
            "Historical benchmark per capita: enrollment-type benchmarks weighted by BY3 person-years",
            &[("benchmark", &adjusted), ("by3_person_years", &by3_person_years)],
            &[],
            per_capita.normalize(),
        )
    });
    Ok(Historical {
        rule_set: rules.id,
        types,
        unadjusted_per_capita: unadjusted_pc,
        per_capita,
    })
}

#[cfg(test)]
mod tests;
