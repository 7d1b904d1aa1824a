//! Risk adjustment: benchmark years to BY3, and BY3 to the performance year.
//!
//! - Benchmark years: each year's per capita expenditures x (BY3 mean prospective CMS-HCC score /
//!   that year's score), by enrollment type (425.602(a)(3), 425.601(a)(3), 425.652(a)(3)).
//! - Performance year, by rule set ([`PyRiskRule`]):
//!   - agreements starting before 2019-07-01: newly assigned beneficiaries take their HCC ratio,
//!     continuously assigned ones their demographic ratio, or the HCC ratio when it is lower
//!     (425.604(a)(1)-(2)); the two groups are weighted by person-years [R];
//!   - 2019-07-01 to 2023: the HCC ratio, positive growth capped at 3% (425.605(a)(1)(i)) [R: per
//!     enrollment type];
//!   - from 2024: cap = aggregate demographic growth + 3 points, binding (for every type above it)
//!     only when the aggregate HCC growth exceeds it; aggregates weight each type's ratio by its
//!     historical benchmark x performance-year person-years (425.605(a)(1)(ii)).
//! - Regional risk score growth cap (from 2024, 425.655): [`regional_risk_cap_factors`], the factor
//!   that multiplies the regional growth rate of the update (see [`RegionalRiskCapRule`]).

use rust_decimal::Decimal;

use super::rules::{PyRiskRule, RegionalRiskCapRule, RuleSet};
use super::update::{PerformanceYearInput, RegionalRiskInput};
use super::{
    BenchmarkError, ByType, EnrollmentType, Group, Historical, HistoricalInput, Input, Quantity,
    TYPES, Trace, step_by_type,
};

/// Risk ratio of a benchmark year to BY3: BY3 score / that year's score (both > 0).
pub fn to_by3(by3_score: Decimal, year_score: Decimal) -> Decimal {
    by3_score / year_score
}

/// Performance-year risk ratios by enrollment type.
pub fn performance_year_ratios(
    rules: &RuleSet,
    input: &HistoricalInput,
    historical: &Historical,
    py: &PerformanceYearInput,
    trace: &mut impl Trace,
) -> Result<ByType<Decimal>, BenchmarkError> {
    let by3_hcc: ByType<Decimal> = input.experience[2].map(|e| e.risk_score);
    let missing = |input| BenchmarkError::Missing {
        input,
        rule_set: rules.id,
    };
    let score = |enrollment_type, quantity| {
        missing(Input::PerformanceYearType {
            enrollment_type,
            group: None,
            quantity,
        })
    };
    match rules.risk {
        PyRiskRule::NewlyContinuous => {
            let mut ratios = [Decimal::ONE; 4];
            let mut newly = [Decimal::ZERO; 4];
            let mut continuing = [Decimal::ZERO; 4];
            for t in TYPES {
                let i = t.index();
                let p = &py.types[i];
                let group = |group| {
                    missing(Input::AssignmentGroup {
                        enrollment_type: t,
                        group,
                    })
                };
                let n = p
                    .newly_assigned
                    .ok_or_else(|| group(Group::NewlyAssigned))?;
                let c = p
                    .continuously_assigned
                    .ok_or_else(|| group(Group::ContinuouslyAssigned))?;
                let by3_demo = p
                    .by3_demographic_risk_score
                    .ok_or_else(|| score(t, Quantity::By3DemographicRiskScore))?;
                newly[i] = n.risk_score / by3_hcc[i];
                let demographic = c.demographic_risk_score / by3_demo;
                let hcc = c.risk_score / by3_hcc[i];
                continuing[i] = demographic.min(hcc);
                let people = n.person_years + c.person_years;
                if !people.is_zero() {
                    ratios[i] =
                        (n.person_years * newly[i] + c.person_years * continuing[i]) / people;
                }
            }
            trace.step(|| {
                step_by_type(
                    "benchmark.py_risk_newly_continuously",
                    rules.risk_citation,
                    "Risk ratio: newly assigned beneficiaries at their CMS-HCC ratio to BY3; continuously assigned at their demographic ratio, or the CMS-HCC ratio when lower; weighted by person-years",
                    &[("newly_assigned_ratio", &newly), ("continuously_assigned_ratio", &continuing)],
                    &[],
                    super::show(&ratios),
                )
            });
            Ok(ratios)
        }
        PyRiskRule::Capped { cap } => {
            let hcc = py_hcc_ratios(py, &by3_hcc).map_err(|t| score(t, Quantity::RiskScore))?;
            let ceiling = Decimal::ONE + cap;
            let ratios = hcc.map(|r| r.min(ceiling));
            trace.step(|| {
                step_by_type(
                    "benchmark.py_risk_capped",
                    rules.risk_citation,
                    format!(
                        "Risk ratio: performance-year / BY3 mean CMS-HCC score, positive growth capped at {}",
                        cap.normalize()
                    ),
                    &[("hcc_ratio", &hcc)],
                    &[],
                    super::show(&ratios),
                )
            });
            Ok(ratios)
        }
        PyRiskRule::DemographicCap { margin } => {
            let hcc = py_hcc_ratios(py, &by3_hcc).map_err(|t| score(t, Quantity::RiskScore))?;
            let mut demo = [Decimal::ONE; 4];
            for t in TYPES {
                let p = &py.types[t.index()];
                let now = p
                    .demographic_risk_score
                    .ok_or_else(|| score(t, Quantity::DemographicRiskScore))?;
                let then = p
                    .by3_demographic_risk_score
                    .ok_or_else(|| score(t, Quantity::By3DemographicRiskScore))?;
                demo[t.index()] = now / then;
            }
            // Weights: historical benchmark (as adjusted under 425.652(a)(8)) x PY person-years.
            let weights = super::benchmark_weights(historical, &py.types.map(|t| t.person_years));
            let (Some(agg_hcc), Some(agg_demo)) = (
                super::weighted_mean(&hcc, &weights),
                super::weighted_mean(&demo, &weights),
            ) else {
                return Err(BenchmarkError::NoPerformanceYearPersonYears);
            };
            let cap = agg_demo - Decimal::ONE + margin;
            let binds = agg_hcc - Decimal::ONE > cap;
            let ratios = if binds {
                hcc.map(|r| r.min(Decimal::ONE + cap))
            } else {
                hcc
            };
            trace.step(|| {
                step_by_type(
                    "benchmark.py_risk_demographic_cap",
                    rules.risk_citation,
                    format!(
                        "Risk ratio: performance-year / BY3 CMS-HCC score; cap = aggregate demographic growth + {} = {}; aggregate CMS-HCC growth {} {} the cap",
                        margin.normalize(),
                        cap.round_dp(6).normalize(),
                        (agg_hcc - Decimal::ONE).round_dp(6).normalize(),
                        if binds { "exceeds" } else { "does not exceed" }
                    ),
                    &[("hcc_ratio", &hcc), ("demographic_ratio", &demo)],
                    &[],
                    super::show(&ratios),
                )
            });
            Ok(ratios)
        }
    }
}

/// Performance-year / BY3 CMS-HCC ratios; the first enrollment type without a score is the error.
fn py_hcc_ratios(
    py: &PerformanceYearInput,
    by3_hcc: &ByType<Decimal>,
) -> Result<ByType<Decimal>, EnrollmentType> {
    let mut out = [Decimal::ONE; 4];
    for t in TYPES {
        out[t.index()] = py.types[t.index()].risk_score.ok_or(t)? / by3_hcc[t.index()];
    }
    Ok(out)
}

/// The 425.655 regional risk score growth cap adjustment factors by enrollment type (see
/// [`RegionalRiskCapRule`] for the formula). When every weight is zero (no performance-year
/// person-years where the historical benchmark is positive) there is no aggregate growth to cap
/// and every factor is 1.
pub fn regional_risk_cap_factors(
    rule: &RegionalRiskCapRule,
    historical: &Historical,
    py: &PerformanceYearInput,
    regional: &RegionalRiskInput,
    trace: &mut impl Trace,
) -> ByType<Decimal> {
    let person_years: ByType<Decimal> = py.types.map(|t| t.person_years);
    // (d)(2): regionally adjusted historical benchmark x PY person-years.
    let weights = super::benchmark_weights(historical, &person_years);
    let (Some(hcc), Some(demo)) = (
        super::weighted_mean(&regional.hcc_growth, &weights),
        super::weighted_mean(&regional.demographic_growth, &weights),
    ) else {
        return [Decimal::ONE; 4];
    };
    // (e)(2): market share weighted by PY person-years.
    let share = super::weighted_mean(&regional.market_share, &person_years).unwrap_or_default();
    let base = demo + rule.margin;
    let cap = base + share * (hcc - base).max(Decimal::ZERO);
    let binds = hcc > cap;
    let factors = if binds {
        regional
            .hcc_growth
            .map(|g| if g > cap { g / cap } else { Decimal::ONE })
    } else {
        [Decimal::ONE; 4]
    };
    trace.step(|| {
        step_by_type(
            "benchmark.regional_risk_growth_cap",
            rule.citation,
            format!(
                "Regional risk score growth cap: aggregate regional CMS-HCC growth {} (weights: historical benchmark x PY person-years); cap = aggregate demographic growth {} + {} + market share {} x max(0, HCC growth - that) = {}; {}",
                hcc.round_dp(6).normalize(),
                demo.round_dp(6).normalize(),
                rule.margin.normalize(),
                share.round_dp(6).normalize(),
                cap.round_dp(6).normalize(),
                if binds {
                    "the aggregate exceeds the cap: factor = regional HCC growth / cap for the types above it, 1 for the others"
                } else {
                    "the aggregate does not exceed the cap: factor 1 for every type"
                }
            ),
            &[
                ("regional_hcc_growth", &regional.hcc_growth),
                ("regional_demographic_growth", &regional.demographic_growth),
                ("market_share", &regional.market_share),
            ],
            &[],
            super::show(&factors),
        )
    });
    factors
}
