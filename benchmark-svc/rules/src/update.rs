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
    BenchmarkError, ByType, Historical, HistoricalInput, MAX_AMOUNT, MAX_FACTOR, MAX_PERSON_YEARS,
    MIN_FACTOR, Step, TYPES, Trace, check_factors, check_range, risk, show, step_by_type,
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
    let missing = |field| BenchmarkError::Missing {
        field,
        rule_set: rules.id,
    };
    let national = || input.national_trend.ok_or(missing("trend_by1_to_by3"));
    let regional = || {
        input
            .regional
            .and_then(|r| r.regional_trend)
            .ok_or(missing("regional.regional_trend_by1_to_by3"))
    };
    let (factors, how) = match rules.trend {
        TrendRule::National => (national()?, "national".to_string()),
        TrendRule::Regional => (regional()?, "regional".to_string()),
        TrendRule::Blend => {
            let (n, r) = (national()?, regional()?);
            let w = input
                .regional
                .and_then(|r| r.national_weight)
                .ok_or(missing("regional.national_weight"))?;
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

const SCORE: &str = super::FACTOR;

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
    for t in TYPES {
        let p = &py.types[t.index()];
        let f = |what: &str| format!("performance_year.enrollment_types[{}].{what}", t.name());
        check_range(
            || f("person_years"),
            p.person_years,
            Decimal::ZERO,
            true,
            MAX_PERSON_YEARS,
            "must be between 0 and 100,000,000",
        )?;
        for (name, v) in [
            ("risk_score", p.risk_score),
            ("demographic_risk_score", p.demographic_risk_score),
            ("by3_demographic_risk_score", p.by3_demographic_risk_score),
        ] {
            if let Some(v) = v {
                check_range(|| f(name), v, MIN_FACTOR, true, MAX_FACTOR, SCORE)?;
            }
        }
        for (name, g) in [
            ("newly_assigned", p.newly_assigned),
            ("continuously_assigned", p.continuously_assigned),
        ] {
            if let Some(g) = g {
                check_range(
                    || f(&format!("{name}.person_years")),
                    g.person_years,
                    Decimal::ZERO,
                    true,
                    MAX_PERSON_YEARS,
                    "must be between 0 and 100,000,000",
                )?;
                check_range(
                    || f(&format!("{name}.risk_score")),
                    g.risk_score,
                    MIN_FACTOR,
                    true,
                    MAX_FACTOR,
                    SCORE,
                )?;
                check_range(
                    || f(&format!("{name}.demographic_risk_score")),
                    g.demographic_risk_score,
                    MIN_FACTOR,
                    true,
                    MAX_FACTOR,
                    SCORE,
                )?;
            }
        }
    }
    if let Some(r) = &py.regional_risk {
        check_factors(
            "performance_year.regional_risk.hcc_growth",
            &r.hcc_growth,
            true,
            MAX_FACTOR,
            SCORE,
        )?;
        check_factors(
            "performance_year.regional_risk.demographic_growth",
            &r.demographic_growth,
            true,
            MAX_FACTOR,
            SCORE,
        )?;
        check_factors(
            "performance_year.regional_risk.market_share",
            &r.market_share,
            false,
            Decimal::ONE,
            "must be a fraction between 0 and 1",
        )?;
    }
    for (name, v) in [
        ("performance_year.national_growth", py.national_growth),
        ("performance_year.regional_growth", py.regional_growth),
    ] {
        if let Some(v) = &v {
            check_factors(name, v, true, MAX_FACTOR, SCORE)?;
        }
    }
    for (name, v) in [
        (
            "performance_year.national_flat_update",
            py.national_flat_update,
        ),
        ("performance_year.acpt", py.acpt),
    ] {
        if let Some(v) = &v {
            for t in TYPES {
                check_range(
                    || format!("{name}[{}]", t.name()),
                    v[t.index()],
                    -MAX_AMOUNT,
                    true,
                    MAX_AMOUNT,
                    "must be between -100,000,000 and 100,000,000",
                )?;
            }
        }
    }
    for (name, v) in [
        ("performance_year.acpt_weight", py.acpt_weight),
        ("performance_year.national_weight", py.national_weight),
    ] {
        if let Some(v) = v {
            check_range(
                || name.into(),
                v,
                Decimal::ZERO,
                true,
                Decimal::ONE,
                "must be a fraction between 0 and 1",
            )?;
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
            field: "performance_year.enrollment_types",
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

/// Updates a historical benchmark (computed by [`super::historical_with`] with the same `rules`).
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
    let hb: ByType<Decimal> = historical.types.map(|t| t.per_capita);
    let missing = |field| BenchmarkError::Missing {
        field,
        rule_set: rules.id,
    };
    let cap_factors = match &rules.regional_risk_cap {
        None => [Decimal::ONE; 4],
        Some(rule) => {
            let regional = py
                .regional_risk
                .as_ref()
                .ok_or(missing("performance_year.regional_risk"))?;
            risk::regional_risk_cap_factors(rule, historical, py, regional, trace)
        }
    };
    let blended = || -> Result<(ByType<Decimal>, Decimal), BenchmarkError> {
        let n = py
            .national_growth
            .ok_or(missing("performance_year.national_growth"))?;
        let r = py
            .regional_growth
            .ok_or(missing("performance_year.regional_growth"))?;
        // 425.652(b)(2)(ii)(C): the regional growth rate x the regional risk score growth cap factor.
        let r: ByType<Decimal> = std::array::from_fn(|i| r[i] * cap_factors[i]);
        let w = py
            .national_weight
            .or(input.regional.and_then(|r| r.national_weight))
            .ok_or(missing("performance_year.national_weight"))?;
        Ok((blend(w, &n, &r), w))
    };
    let mut two_way = None;
    let (updated, description, growth): (ByType<Decimal>, String, ByType<Decimal>) = match rules
        .update
    {
        UpdateRule::NationalFlat => {
            let flat = py
                .national_flat_update
                .ok_or(missing("performance_year.national_flat_update"))?;
            (
                std::array::from_fn(|i| hb[i] * ratios[i] + flat[i]),
                "Updated benchmark = historical benchmark x risk ratio + projected absolute growth in national per capita expenditures (flat dollars)".into(),
                flat,
            )
        }
        UpdateRule::Regional => {
            let g = py
                .regional_growth
                .ok_or(missing("performance_year.regional_growth"))?;
            (
                std::array::from_fn(|i| hb[i] * ratios[i] * g[i]),
                "Updated benchmark = historical benchmark x risk ratio x regional growth factor"
                    .into(),
                g,
            )
        }
        UpdateRule::Blend => {
            let (g, w) = blended()?;
            (
                std::array::from_fn(|i| hb[i] * ratios[i] * g[i]),
                format!(
                    "Updated benchmark = historical benchmark x risk ratio x blended growth factor (national weight {})",
                    w.normalize()
                ),
                g,
            )
        }
        UpdateRule::ThreeWay { acpt_weight } => {
            let (g, w) = blended()?;
            let acpt = py.acpt.ok_or(missing("performance_year.acpt"))?;
            let a = py.acpt_weight.unwrap_or(acpt_weight);
            let two: ByType<Decimal> = std::array::from_fn(|i| hb[i] * ratios[i] * g[i]);
            two_way = Some(checked_total(&two, &person_years)?);
            (
                std::array::from_fn(|i| {
                    ratios[i]
                        * (hb[i] + (Decimal::ONE - a) * hb[i] * (g[i] - Decimal::ONE) + a * acpt[i])
                }),
                format!(
                    "Updated benchmark = risk ratio x (historical benchmark + {} x historical benchmark x (blended growth - 1) + {} x ACPT dollars); national weight {}",
                    (Decimal::ONE - a).round_dp(6).normalize(),
                    a.round_dp(6).normalize(),
                    w.normalize()
                ),
                g,
            )
        }
    };
    trace.step(|| {
        step_by_type(
            "benchmark.update",
            rules.update_citation,
            description,
            &[
                ("historical_benchmark", &hb),
                ("risk_ratio", &ratios),
                ("growth", &growth),
            ],
            &[],
            show(&updated),
        )
    });
    let total = checked_total(&updated, &person_years)?;
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
        two_way_total: two_way,
        person_years: py_total,
    })
}
