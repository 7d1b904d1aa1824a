//! Growth: the trend of BY1 and BY2 to BY3, and the update of the historical benchmark from BY3 to
//! a performance year.
//!
//! Trend factors by rule set ([`TrendRule`]): national (425.602(a)(5), 425.603(b)), regional
//! (425.603(c)(5)), or the blend `w x national + (1 - w) x regional` with `w` the ACO's share of
//! assignable beneficiaries in its regional service area (425.601(a)(5), 425.652(a)(5)).
//!
//! Updated benchmark of enrollment type e ([`UpdateRule`]; RA = performance-year risk ratio, see
//! [`super::risk`]):
//!
//! ```text
//! national flat (2012-2018 first agreements, 2016 rebased): UB_e = HB_e x RA_e + flat_e       [R order]
//! regional (425.603(d)):                                    UB_e = HB_e x RA_e x g_reg_e     [R factor]
//! blend (425.601(b)):                                       UB_e = HB_e x RA_e x (w g_nat_e + (1 - w) g_reg_e)
//! three-way (425.652(b)(4)):  UB_e = RA_e x (HB_e + (1 - a) x HB_e x (blend_e - 1) + a x ACPT_e), a = 1/3
//!                             two-way (425.652(b)(5)): RA_e x HB_e x blend_e
//!                             blend_e = w g_nat_e + (1 - w) g_reg_e x cap factor_e (425.652(b)(2)(ii)(C), 425.655)
//! ```
//!
//! The updated benchmark per capita and total are weighted by performance-year person-years:
//! total = sum_e UB_e x PY_e, per capita = total / sum_e PY_e (425.604(a)(6) and successors).

use rust_decimal::Decimal;

use super::rules::{RuleSet, TrendRule, UpdateRule};
use super::{
    BenchmarkError, ByType, Group, Historical, HistoricalInput, Input, Quantity, Series, Step,
    TYPES, Trace, check, check_series, risk, show, step_by_type,
};

/// Scores of a group of beneficiaries in the performance year.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RiskGroup {
    /// Person-years.
    pub person_years: Decimal,
    /// Mean prospective CMS-HCC risk score.
    pub risk_score: Decimal,
    /// Mean demographic risk score.
    pub demographic_risk_score: Decimal,
}

/// Performance-year experience of one enrollment type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PerformanceYearType {
    /// Performance-year person-years.
    pub person_years: Decimal,
    /// Mean prospective CMS-HCC score (agreements from 2019-07-01).
    pub risk_score: Option<Decimal>,
    /// Mean demographic score (agreements from 2024).
    pub demographic_risk_score: Option<Decimal>,
    /// BY3 mean demographic score (from 2024; pre-2019 continuously assigned).
    pub by3_demographic_risk_score: Option<Decimal>,
    /// Newly assigned beneficiaries (before 2019-07-01).
    pub newly_assigned: Option<RiskGroup>,
    /// Continuously assigned beneficiaries (before 2019-07-01).
    pub continuously_assigned: Option<RiskGroup>,
}

/// The ACO's regional risk score growth and market share in the performance year, for the 425.655
/// cap on the regional growth rate (agreements from 2024).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RegionalRiskInput {
    /// Growth in the ACO's regional prospective CMS-HCC risk score, PY / BY3 (425.655(d)(1)).
    pub hcc_growth: ByType<Decimal>,
    /// Growth in the ACO's regional demographic risk score, PY / BY3 (425.655(d)(1)).
    pub demographic_growth: ByType<Decimal>,
    /// Share of assignable beneficiaries in the regional service area assigned to the ACO in the
    /// performance year (425.652(b)(2)(iv)), a fraction.
    pub market_share: ByType<Decimal>,
}

/// Everything [`update`] needs besides the historical benchmark.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PerformanceYearInput {
    /// Performance year.
    pub performance_year: i32,
    /// By enrollment type.
    pub types: ByType<PerformanceYearType>,
    /// National flat-dollar growth BY3 -> PY.
    pub national_flat_update: Option<ByType<Decimal>>,
    /// National growth factors BY3 -> PY.
    pub national_growth: Option<ByType<Decimal>>,
    /// Regional growth factors BY3 -> PY.
    pub regional_growth: Option<ByType<Decimal>>,
    /// ACPT update, dollars.
    pub acpt: Option<ByType<Decimal>>,
    /// Overrides the rule set's ACPT weight.
    pub acpt_weight: Option<Decimal>,
    /// Overrides the historical input's national weight.
    pub national_weight: Option<Decimal>,
    /// Regional risk score growth and market share (agreements from 2024, 425.655).
    pub regional_risk: Option<RegionalRiskInput>,
}

/// The updated benchmark of one enrollment type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct UpdatedType {
    /// Risk ratio applied.
    pub risk_ratio: Decimal,
    /// Updated benchmark per capita, dollars.
    pub per_capita: Decimal,
    /// Performance-year person-years.
    pub person_years: Decimal,
    /// The 425.655 regional risk score growth cap factor applied to the regional growth (1 where
    /// the rule set has none).
    pub regional_risk_cap_factor: Decimal,
}

/// The result of [`update`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Updated {
    /// Performance year.
    pub performance_year: i32,
    /// By enrollment type.
    pub types: ByType<UpdatedType>,
    /// Updated benchmark per capita.
    pub per_capita: Decimal,
    /// Updated benchmark total, dollars.
    pub total: Decimal,
    /// Agreements from 2024: the total with the two-way blend only (425.652(b)(5)).
    pub two_way_total: Option<Decimal>,
    /// Performance-year person-years.
    pub person_years: Decimal,
}

fn blend(
    weight: Decimal,
    national: &ByType<Decimal>,
    regional: &ByType<Decimal>,
) -> ByType<Decimal> {
    std::array::from_fn(|i| weight * national[i] + (Decimal::ONE - weight) * regional[i])
}

/// Trend factors BY1 -> BY3 and BY2 -> BY3 by enrollment type.
pub fn trend_factors(
    rules: &RuleSet,
    input: &HistoricalInput,
    trace: &mut impl Trace,
) -> Result<[ByType<Decimal>; 2], BenchmarkError> {
    let national = || {
        input
            .national_trend
            .ok_or(missing(rules, series(Series::NationalTrend { from: 0 })))
    };
    let regional = || {
        input
            .regional
            .and_then(|r| r.regional_trend)
            .ok_or(missing(rules, series(Series::RegionalTrend { from: 0 })))
    };
    let (factors, how) = match rules.trend {
        TrendRule::National => (national()?, "national".to_string()),
        TrendRule::Regional => (regional()?, "regional".to_string()),
        TrendRule::Blend => {
            let (n, r) = (national()?, regional()?);
            let w = input
                .regional
                .and_then(|r| r.national_weight)
                .ok_or(missing(rules, Input::NationalWeight))?;
            (
                [blend(w, &n[0], &r[0]), blend(w, &n[1], &r[1])],
                format!(
                    "blended: national weight {} (the ACO's share of assignable beneficiaries in its region) x national + the rest x regional",
                    w.normalize()
                ),
            )
        }
    };
    trace.step(|| {
        step_by_type(
            "benchmark.trend_factors",
            rules.trend_citation,
            format!("Trend factors to BY3 by enrollment type, {how}"),
            &[("by1_to_by3", &factors[0]), ("by2_to_by3", &factors[1])],
            &[],
            format_args!("BY1: {}; BY2: {}", show(&factors[0]), show(&factors[1])),
        )
    });
    Ok(factors)
}

fn check_performance_year(
    input: &HistoricalInput,
    py: &PerformanceYearInput,
) -> Result<(), BenchmarkError> {
    let by3 = input.years[2];
    if py.performance_year <= by3 || py.performance_year > 9999 {
        return Err(BenchmarkError::PerformanceYearNotAfterBy3 {
            performance_year: py.performance_year,
            by3,
        });
    }
    for enrollment_type in TYPES {
        let p = &py.types[enrollment_type.index()];
        let quantity = |group, quantity| Input::PerformanceYearType {
            enrollment_type,
            group,
            quantity,
        };
        check(quantity(None, Quantity::PersonYears), p.person_years)?;
        for (q, v) in [
            (Quantity::RiskScore, p.risk_score),
            (Quantity::DemographicRiskScore, p.demographic_risk_score),
            (
                Quantity::By3DemographicRiskScore,
                p.by3_demographic_risk_score,
            ),
        ] {
            if let Some(v) = v {
                check(quantity(None, q), v)?;
            }
        }
        for (group, g) in [
            (Group::NewlyAssigned, p.newly_assigned),
            (Group::ContinuouslyAssigned, p.continuously_assigned),
        ] {
            if let Some(g) = g {
                for (q, v) in [
                    (Quantity::PersonYears, g.person_years),
                    (Quantity::RiskScore, g.risk_score),
                    (Quantity::DemographicRiskScore, g.demographic_risk_score),
                ] {
                    check(quantity(Some(group), q), v)?;
                }
            }
        }
    }
    if let Some(r) = &py.regional_risk {
        check_series(Series::RegionalHccGrowth, &r.hcc_growth)?;
        check_series(Series::RegionalDemographicGrowth, &r.demographic_growth)?;
        check_series(Series::MarketShare, &r.market_share)?;
    }
    for (series, v) in [
        (Series::NationalGrowth, py.national_growth),
        (Series::RegionalGrowth, py.regional_growth),
        (Series::NationalFlatUpdate, py.national_flat_update),
        (Series::Acpt, py.acpt),
    ] {
        if let Some(v) = &v {
            check_series(series, v)?;
        }
    }
    for (input, v) in [
        (Input::AcptWeight, py.acpt_weight),
        (Input::PerformanceYearNationalWeight, py.national_weight),
    ] {
        if let Some(v) = v {
            check(input, v)?;
        }
    }
    Ok(())
}

/// sum_e per capita_e x person-years_e, checked. The validated ranges bound it: historical
/// benchmark x risk ratio is at most about 10^14 (the BY3 score is in both ratios), the blended
/// growth at most 100 x 2,500 (the 425.655 factor, at most 100 / 0.04), person-years 10^8, so a
/// total stays near 10^28, under `Decimal`'s 7.9 x 10^28; the check keeps that a reported error,
/// not a panic, should a range ever widen.
fn checked_total(
    per_capita: &ByType<Decimal>,
    person_years: &ByType<Decimal>,
) -> Result<Decimal, BenchmarkError> {
    per_capita
        .iter()
        .zip(person_years)
        .try_fold(Decimal::ZERO, |sum, (u, p)| {
            u.checked_mul(*p).and_then(|x| sum.checked_add(x))
        })
        .ok_or(BenchmarkError::Unrepresentable {
            input: Input::PerformanceYearTypes,
        })
}

/// Updates a historical benchmark to a performance year with the rule set of its agreement.
pub fn update(
    input: &HistoricalInput,
    historical: &Historical,
    py: &PerformanceYearInput,
    trace: &mut impl Trace,
) -> Result<Updated, BenchmarkError> {
    let rules = super::rules::select(input.agreement_start, input.agreement_period)?;
    update_with(&rules, input, historical, py, trace)
}

/// Updates a historical benchmark (computed by [`super::historical_with`] with the same `rules`):
/// the performance-year risk ratio, the 425.655 regional risk score growth cap (from 2024), the
/// update of the rule set, then the total and per capita weighted by performance-year person-years.
pub fn update_with(
    rules: &RuleSet,
    input: &HistoricalInput,
    historical: &Historical,
    py: &PerformanceYearInput,
    trace: &mut impl Trace,
) -> Result<Updated, BenchmarkError> {
    check_performance_year(input, py)?;
    super::check_rules(rules)?;
    let person_years: ByType<Decimal> = py.types.map(|t| t.person_years);
    let py_total: Decimal = person_years.iter().sum();
    if py_total.is_zero() {
        return Err(BenchmarkError::NoPerformanceYearPersonYears);
    }
    let ratios = risk::performance_year_ratios(rules, input, historical, py, trace)?;
    let cap_factors = regional_risk_cap_factors(rules, historical, py, trace)?;
    let g = Growth {
        rules,
        input,
        py,
        historical: historical.types.map(|t| t.per_capita),
        ratios,
        cap_factors,
        person_years,
    };
    let (updated, two_way_total) = updated_per_capita(&g, trace)?;
    let (total, per_capita) = updated_total(&updated, &person_years, py_total, trace)?;
    Ok(Updated {
        performance_year: py.performance_year,
        types: std::array::from_fn(|i| UpdatedType {
            risk_ratio: ratios[i],
            per_capita: updated[i],
            person_years: person_years[i],
            regional_risk_cap_factor: cap_factors[i],
        }),
        per_capita,
        total,
        two_way_total,
        person_years: py_total,
    })
}

fn missing(rules: &RuleSet, input: Input) -> BenchmarkError {
    BenchmarkError::Missing {
        input,
        rule_set: rules.id,
    }
}

fn series(series: Series) -> Input {
    Input::Series {
        series,
        enrollment_type: None,
    }
}

/// The 425.655 regional risk score growth cap factors (1 where the rule set has no cap).
fn regional_risk_cap_factors(
    rules: &RuleSet,
    historical: &Historical,
    py: &PerformanceYearInput,
    trace: &mut impl Trace,
) -> Result<ByType<Decimal>, BenchmarkError> {
    let Some(rule) = &rules.regional_risk_cap else {
        return Ok([Decimal::ONE; 4]);
    };
    let regional = py
        .regional_risk
        .as_ref()
        .ok_or(missing(rules, Input::RegionalRisk))?;
    Ok(risk::regional_risk_cap_factors(
        rule, historical, py, regional, trace,
    ))
}

/// What the update of each enrollment type is computed from.
struct Growth<'a> {
    rules: &'a RuleSet,
    input: &'a HistoricalInput,
    py: &'a PerformanceYearInput,
    /// Historical benchmark per capita.
    historical: ByType<Decimal>,
    /// Performance-year risk ratios.
    ratios: ByType<Decimal>,
    /// 425.655 factors on the regional growth.
    cap_factors: ByType<Decimal>,
    person_years: ByType<Decimal>,
}

impl Growth<'_> {
    /// The blended growth factor `w x national + (1 - w) x regional x cap factor`
    /// (425.652(b)(2)(ii)(C): the regional growth rate x the regional risk score growth cap
    /// factor), with its national weight `w`.
    fn blended(&self) -> Result<(ByType<Decimal>, Decimal), BenchmarkError> {
        let (rules, py) = (self.rules, self.py);
        let n = py
            .national_growth
            .ok_or(missing(rules, series(Series::NationalGrowth)))?;
        let r = py
            .regional_growth
            .ok_or(missing(rules, series(Series::RegionalGrowth)))?;
        let r: ByType<Decimal> = std::array::from_fn(|i| r[i] * self.cap_factors[i]);
        let w = py
            .national_weight
            .or(self.input.regional.and_then(|r| r.national_weight))
            .ok_or(missing(rules, Input::PerformanceYearNationalWeight))?;
        Ok((blend(w, &n, &r), w))
    }

    /// `HB_e x RA_e x g_e`.
    fn times(&self, g: &ByType<Decimal>) -> ByType<Decimal> {
        std::array::from_fn(|i| self.historical[i] * self.ratios[i] * g[i])
    }
}

/// The updated benchmark per capita of each enrollment type by the rule set's [`UpdateRule`] (the
/// formulas of the module docs), and from 2024 the total with the two-way blend only
/// (425.652(b)(5)).
fn updated_per_capita(
    g: &Growth<'_>,
    trace: &mut impl Trace,
) -> Result<(ByType<Decimal>, Option<Decimal>), BenchmarkError> {
    let (rules, py, hb, ratios) = (g.rules, g.py, &g.historical, &g.ratios);
    let mut two_way = None;
    let (updated, description, growth): (ByType<Decimal>, String, ByType<Decimal>) = match rules
        .update
    {
        UpdateRule::NationalFlat => {
            let flat = py
                .national_flat_update
                .ok_or(missing(rules, series(Series::NationalFlatUpdate)))?;
            (
                std::array::from_fn(|i| hb[i] * ratios[i] + flat[i]),
                "Updated benchmark = historical benchmark x risk ratio + projected absolute growth in national per capita expenditures (flat dollars)".into(),
                flat,
            )
        }
        UpdateRule::Regional => {
            let r = py
                .regional_growth
                .ok_or(missing(rules, series(Series::RegionalGrowth)))?;
            (
                g.times(&r),
                "Updated benchmark = historical benchmark x risk ratio x regional growth factor"
                    .into(),
                r,
            )
        }
        UpdateRule::Blend => {
            let (b, w) = g.blended()?;
            (
                g.times(&b),
                format!(
                    "Updated benchmark = historical benchmark x risk ratio x blended growth factor (national weight {})",
                    w.normalize()
                ),
                b,
            )
        }
        UpdateRule::ThreeWay { acpt_weight } => {
            let (b, w) = g.blended()?;
            let acpt = py.acpt.ok_or(missing(rules, series(Series::Acpt)))?;
            let a = py.acpt_weight.unwrap_or(acpt_weight);
            two_way = Some(checked_total(&g.times(&b), &g.person_years)?);
            (
                std::array::from_fn(|i| {
                    ratios[i]
                        * (hb[i] + (Decimal::ONE - a) * hb[i] * (b[i] - Decimal::ONE) + a * acpt[i])
                }),
                format!(
                    "Updated benchmark = risk ratio x (historical benchmark + {} x historical benchmark x (blended growth - 1) + {} x ACPT dollars); national weight {}",
                    (Decimal::ONE - a).round_dp(6).normalize(),
                    a.round_dp(6).normalize(),
                    w.normalize()
                ),
                b,
            )
        }
    };
    trace.step(|| {
        step_by_type(
            "benchmark.update",
            rules.update_citation,
            description,
            &[
                ("historical_benchmark", hb),
                ("risk_ratio", ratios),
                ("growth", &growth),
            ],
            &[],
            show(&updated),
        )
    });
    Ok((updated, two_way))
}

/// The updated benchmark total (sum of per capita x performance-year person-years) and per capita
/// (425.604(a)(6) and successors).
fn updated_total(
    updated: &ByType<Decimal>,
    person_years: &ByType<Decimal>,
    py_total: Decimal,
    trace: &mut impl Trace,
) -> Result<(Decimal, Decimal), BenchmarkError> {
    let total = checked_total(updated, person_years)?;
    let per_capita = total / py_total;
    trace.step(|| Step {
        rule: "benchmark.updated_total",
        citation: "42 CFR 425.604(a)(6), 425.605(a), 425.610(a)",
        description: "Updated benchmark total = sum of updated per capita x performance-year person-years; per capita = total / person-years".into(),
        inputs: TYPES
            .iter()
            .map(|t| (format!("person_years[{}]", t.name()), person_years[t.index()].normalize().to_string()))
            .collect(),
        output: format!("total {}, per capita {}", total.normalize(), per_capita.normalize()),
    });
    Ok((total, per_capita))
}
