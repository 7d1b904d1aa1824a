//! The regional adjustment and the prior savings adjustments of the historical benchmark.
//!
//! Regional adjustment, by enrollment type e (425.603(c)(9), 425.601(a)(8), (f), 425.656):
//!
//! ```text
//! adjustment_e = weight x (regional per capita_e - benchmark_e)
//! weight       = weights[min(earlier regional adjustments, last)] .0 if the ACO spends less than
//!                its region (sum_e (regional_e - benchmark_e) x BY3 person-years_e > 0), else .1
//! 425.601:     adjustment_e capped at +/- 5% of national per capita BY3 expenditure_e
//! 425.656:     capped at +5% / -1.5%; negatives x (1 - offset),
//!              offset = dual share + (BY3 mean HCC weighted by per capita x person-years - 1), in [0, 1]
//! 425.652(a)(8): single value s = BY3-person-year-weighted mean of adjustment_e [R];
//!              s <= 0: no regional adjustment
//! ```
//!
//! Prior savings: the 425.603(b) add-on (second agreements starting in 2016) and the 425.658
//! adjustment (from 2024); see [`PriorSavingsRule`]. From 2024 the ACO receives the higher of the
//! positive regional adjustment (its single value) and the prior savings adjustment
//! (425.652(a)(8)(iv)); the prior savings adjustment is a flat amount for every enrollment type.
//! Pro-ration factors above 1 count as 1 [R].

use rust_decimal::Decimal;

use super::rules::{PriorSavingsRule, RegionalRule, RuleSet};
use super::{
    BenchmarkError, ByType, HistoricalInput, Input, PriorSavingsInput, RegionalInput, Series, Step,
    TYPES, Trace, show, step_by_type, weighted_mean,
};

/// The adjustments of each enrollment type, dollars per capita.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Adjustments {
    /// Regional adjustment.
    pub regional: ByType<Decimal>,
    /// Prior savings adjustment or add-on.
    pub prior_savings: ByType<Decimal>,
}

/// The adjustments the rule set gives to `unadjusted` (per type, dollars per capita).
pub fn adjustments(
    rules: &RuleSet,
    input: &HistoricalInput,
    unadjusted: &ByType<Decimal>,
    trace: &mut impl Trace,
) -> Result<Adjustments, BenchmarkError> {
    let by3_py: ByType<Decimal> = input.experience[2].map(|e| e.person_years);
    let mut out = Adjustments::default();
    let single = match &rules.regional {
        None => None,
        Some(rule) => {
            let regional = input.regional.as_ref().ok_or(BenchmarkError::Missing {
                input: Input::Regional,
                rule_set: rules.id,
            })?;
            out.regional = regional_adjustment(rules, rule, input, regional, unadjusted, trace)?;
            let single = weighted_mean(&out.regional, &by3_py).unwrap_or_default();
            if rule.no_overall_negative {
                trace.step(|| {
                    step_by_type(
                        "benchmark.regional_single_value",
                        "42 CFR 425.652(a)(8)(ii)-(v)",
                        "Regional adjustment reduced to one value (weighted by BY3 person-years [R]); a value <= 0 gives no regional adjustment",
                        &[("regional_adjustment", &out.regional)],
                        &[],
                        single.normalize(),
                    )
                });
                if single <= Decimal::ZERO {
                    out.regional = [Decimal::ZERO; 4];
                }
            }
            Some(single)
        }
    };
    match rules.prior_savings {
        PriorSavingsRule::None => {}
        PriorSavingsRule::AddOn => {
            if let Some(p) = &input.prior_savings {
                let (average, prorated) = average_savings(p);
                let add_on = prorated.max(Decimal::ZERO);
                out.prior_savings = [add_on; 4];
                trace.step(|| Step {
                    rule: "benchmark.prior_savings_add_on",
                    citation: rules.prior_savings_citation,
                    description: "Add-on for savings in the prior agreement: average per capita savings of its performance years (equal weights), pro-rated, none when not positive; the same amount for every enrollment type".into(),
                    inputs: savings_inputs(p, average),
                    output: add_on.normalize().to_string(),
                });
            }
        }
        PriorSavingsRule::Adjustment { share, cap } => {
            if let Some(p) = &input.prior_savings {
                let national = national_per_capita(input.regional.as_ref(), rules)?;
                let (average, prorated) = average_savings(p);
                let national_single = weighted_mean(&national, &by3_py).unwrap_or_default();
                let limit = cap * national_single;
                let psa = if average > Decimal::ZERO {
                    (share * prorated).min(limit)
                } else {
                    Decimal::ZERO
                };
                trace.step(|| {
                    let mut inputs = savings_inputs(p, average);
                    inputs.push(("national_per_capita_by3".into(), national_single.normalize().to_string()));
                    Step {
                        rule: "benchmark.prior_savings_adjustment",
                        citation: rules.prior_savings_citation,
                        description: format!(
                            "Prior savings adjustment: {} x pro-rated average per capita savings of the 3 years before the agreement, at most {} x national per capita BY3 expenditure; none when the average is not positive",
                            share.normalize(),
                            cap.normalize()
                        ),
                        inputs,
                        output: psa.normalize().to_string(),
                    }
                });
                let regional_value = single.unwrap_or_default();
                let use_psa = psa > Decimal::ZERO
                    && (regional_value <= Decimal::ZERO || psa > regional_value);
                if use_psa {
                    out.regional = [Decimal::ZERO; 4];
                    out.prior_savings = [psa; 4];
                }
                trace.step(|| Step {
                    rule: "benchmark.higher_of_regional_and_prior_savings",
                    citation: "42 CFR 425.652(a)(8)(iii)-(iv)",
                    description: "The ACO receives the higher of the positive regional adjustment and the prior savings adjustment".into(),
                    inputs: vec![
                        ("regional_single_value".into(), regional_value.normalize().to_string()),
                        ("prior_savings_adjustment".into(), psa.normalize().to_string()),
                    ],
                    output: if use_psa { "prior savings adjustment" } else if regional_value > Decimal::ZERO { "regional adjustment" } else { "none" }.into(),
                });
            }
        }
    }
    Ok(out)
}

/// The national per capita expenditures, which the rule set needs here.
fn national_per_capita(
    regional: Option<&RegionalInput>,
    rules: &RuleSet,
) -> Result<ByType<Decimal>, BenchmarkError> {
    regional
        .and_then(|r| r.national_per_capita)
        .ok_or(BenchmarkError::Missing {
            input: Input::Series {
                series: Series::NationalPerCapita,
                enrollment_type: None,
            },
            rule_set: rules.id,
        })
}

fn savings_inputs(p: &PriorSavingsInput, average: Decimal) -> Vec<(String, String)> {
    let mut inputs: Vec<(String, String)> = p
        .per_capita_savings
        .iter()
        .enumerate()
        .map(|(i, s)| {
            (
                format!("per_capita_savings[{i}]"),
                s.normalize().to_string(),
            )
        })
        .collect();
    inputs.push(("average".into(), average.normalize().to_string()));
    inputs.push((
        "proration_factor".into(),
        p.proration_factor.min(Decimal::ONE).normalize().to_string(),
    ));
    inputs
}

/// (simple average of the per capita savings, that average x min(1, pro-ration)).
fn average_savings(p: &PriorSavingsInput) -> (Decimal, Decimal) {
    let sum: Decimal = p.per_capita_savings.iter().sum();
    let average = sum / Decimal::from(p.per_capita_savings.len());
    (average, average * p.proration_factor.min(Decimal::ONE))
}

fn regional_adjustment(
    rules: &RuleSet,
    rule: &RegionalRule,
    input: &HistoricalInput,
    regional: &RegionalInput,
    unadjusted: &ByType<Decimal>,
    trace: &mut impl Trace,
) -> Result<ByType<Decimal>, BenchmarkError> {
    let by3 = &input.experience[2];
    let by3_py: ByType<Decimal> = by3.map(|e| e.person_years);
    let difference: ByType<Decimal> =
        std::array::from_fn(|i| regional.regional_per_capita[i] - unadjusted[i]);
    let spends_less = weighted_mean(&difference, &by3_py).unwrap_or_default() > Decimal::ZERO;
    let slot = (regional.prior_regional_adjustments as usize).min(rule.weights.len() - 1);
    let (lower, higher) = rule.weights[slot];
    let weight = if spends_less { lower } else { higher };
    let raw = difference.map(|d| weight * d);
    trace.step(|| {
        step_by_type(
            "benchmark.regional_adjustment",
            rule.citation,
            format!(
                "Regional adjustment = {} x (regional per capita - benchmark): weight for regional adjustment number {} when the ACO spends {} than its region",
                weight.normalize(),
                regional.prior_regional_adjustments + 1,
                if spends_less { "less" } else { "more" }
            ),
            &[("regional_per_capita", &regional.regional_per_capita), ("benchmark", unadjusted)],
            &[],
            show(&raw),
        )
    });
    let mut adjusted = raw;
    if rule.positive_cap.is_some() || rule.negative_cap.is_some() {
        let national = national_per_capita(Some(regional), rules)?;
        for t in TYPES {
            let i = t.index();
            if let Some(cap) = rule.positive_cap {
                adjusted[i] = adjusted[i].min(cap * national[i]);
            }
            if let Some(cap) = rule.negative_cap {
                adjusted[i] = adjusted[i].max(-cap * national[i]);
            }
        }
        trace.step(|| {
            step_by_type(
                "benchmark.regional_adjustment_caps",
                rule.citation,
                format!(
                    "Regional adjustment capped at +{} / -{} of national per capita BY3 expenditure of the enrollment type",
                    rule.positive_cap.unwrap_or_default().normalize(),
                    rule.negative_cap.unwrap_or_default().normalize()
                ),
                &[("national_per_capita", &national), ("adjustment", &raw)],
                &[],
                show(&adjusted),
            )
        });
    }
    if rule.negative_offset
        && adjusted
            .iter()
            .any(|a| a.is_sign_negative() && !a.is_zero())
    {
        let dual = regional
            .dual_eligible_share
            .ok_or(BenchmarkError::Missing {
                input: Input::DualEligibleShare,
                rule_set: rules.id,
            })?;
        let weights: ByType<Decimal> =
            std::array::from_fn(|i| by3[i].per_capita * by3[i].person_years);
        let hcc = by3.map(|e| e.risk_score);
        let mean_hcc = weighted_mean(&hcc, &weights).unwrap_or(Decimal::ONE);
        let offset = (dual + mean_hcc - Decimal::ONE).clamp(Decimal::ZERO, Decimal::ONE);
        let before = adjusted;
        for a in adjusted.iter_mut() {
            if *a < Decimal::ZERO {
                *a *= Decimal::ONE - offset;
            }
        }
        trace.step(|| {
            step_by_type(
                "benchmark.regional_adjustment_offset",
                "42 CFR 425.656(c)(4)-(5)",
                format!(
                    "Negative regional adjustments x (1 - offset); offset = dual share {} + (BY3 mean CMS-HCC score {} - 1), bounded to [0, 1] = {}",
                    dual.normalize(),
                    mean_hcc.round_dp(6).normalize(),
                    offset.round_dp(6).normalize()
                ),
                &[("adjustment", &before)],
                &[],
                show(&adjusted),
            )
        });
    }
    Ok(adjusted)
}
