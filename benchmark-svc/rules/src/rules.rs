//! Rule sets: the benchmark rules of each era, chosen by the agreement start date and the agreement
//! period number (mssp-rules.md section 1 and section 3).
//!
//! | rule set | agreements | weights | trend BY1/BY2 -> BY3 | adjustment | update | PY risk |
//! |---|---|---|---|---|---|---|
//! | `mssp-2012-first` | first, 2012-04-01 to 2019-01-01 | 10/30/60 | national | none | national flat dollars | newly / continuously assigned |
//! | `mssp-2016-rebased` | second, starting in 2016 | equal | national | prior-savings add-on | national flat dollars | newly / continuously assigned |
//! | `mssp-2017-rebased` | second+, 2017-01-01 to 2019-01-01 | equal | regional | regional, 35/25, 70/50, 70/70, no cap | regional growth | newly / continuously assigned |
//! | `mssp-2019-first`, `-rebased` | 2019-07-01 to 2023-12-31 | 10/30/60, equal | national-regional blend | regional, 35/15 .. 50/50, +/-5% caps | blended growth | 3% cap on positive growth |
//! | `mssp-2024-first`, `-rebased` | from 2024-01-01 | 10/30/60, equal | national-regional blend | regional (+5% / -1.5% caps, offset, no overall negative) or prior savings, the higher | 2/3 blend + 1/3 ACPT | demographic growth + 3 points cap |
//!
//! Every number is a field of [`RuleSet`] (a caller such as the simulator may change it); the
//! defaults are cited beside them. Values the regulation states are cited to their 42 CFR 425
//! paragraph; the modelling choices the reference tags `[R]` (not checked against the methodology
//! specifications) are marked `[R]` where they are made.

use rust_decimal::Decimal;

pub use acorn_domain::Date;

/// `value / 10^scale`, usable in constants.
const fn frac(value: u32, scale: u32) -> Decimal {
    Decimal::from_parts(value, 0, 0, false, scale)
}

/// How BY1 and BY2 are trended to BY3 (and, with [`UpdateRule`], how BY3 is grown to the PY).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrendRule {
    /// National growth by enrollment type (425.602(a)(5), 425.603(b)).
    National,
    /// Regional growth by enrollment type (425.603(c)(5)).
    Regional,
    /// National weight x national + (1 - national weight) x regional, the national weight being the
    /// ACO's share of assignable beneficiaries in its region (425.601(a)(5), 425.652(a)(5)).
    Blend,
}

/// Regional adjustment parameters (425.603(c)(9), 425.601(a)(8), (f), 425.656).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RegionalRule {
    /// (weight when the ACO spends less than its region, weight when it spends more), by the
    /// number of earlier regional adjustments; the last pair applies to later ones.
    pub weights: &'static [(Decimal, Decimal)],
    /// Cap on a positive adjustment, share of national per capita BY3 expenditure of the type.
    pub positive_cap: Option<Decimal>,
    /// Cap on a negative adjustment (its magnitude), share of national per capita BY3 expenditure.
    pub negative_cap: Option<Decimal>,
    /// Negative adjustments multiplied by (1 - offset), offset = dual share + (mean HCC - 1),
    /// bounded to [0, 1] (425.656(c)(4)-(5)).
    pub negative_offset: bool,
    /// No overall negative adjustment: reduced to a single value; <= 0 means no adjustment
    /// (425.652(a)(8)(ii)-(v)).
    pub no_overall_negative: bool,
    /// Citation.
    pub citation: &'static str,
}

/// Savings earned before the agreement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PriorSavingsRule {
    /// Not part of the rule set.
    None,
    /// Second agreements starting in 2016 (425.603(b)): the average per capita savings of the
    /// prior agreement's performance years (equal weights, losses count, a negative average adds
    /// nothing), pro-rated, added to every enrollment type.
    AddOn,
    /// Agreements from 2024 (425.658): min(`share` x pro-rated average savings, `cap` x national per
    /// capita BY3 expenditure weighted by BY3 person-years), when the average is positive; the ACO
    /// receives the higher of it and a positive regional adjustment (425.652(a)(8)(iv)).
    Adjustment {
        /// Share of the average savings (0.5, 425.658(c)).
        share: Decimal,
        /// Cap, share of national per capita expenditure (0.05, 425.658(c)).
        cap: Decimal,
    },
}

/// How the historical benchmark is updated from BY3 to the performance year.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UpdateRule {
    /// Add the projected absolute growth in national per capita expenditures, dollars by type
    /// (425.602(b), 425.603(b)); the risk ratio applies to the historical benchmark before the
    /// dollars are added [R].
    NationalFlat,
    /// Multiply by the regional growth factor (425.603(d)) [R: applied as a factor].
    Regional,
    /// Multiply by the national-regional blended growth factor (425.601(b)).
    Blend,
    /// (1 - `acpt_weight`) x the blended growth + `acpt_weight` x the ACPT dollars (425.652(b)(4));
    /// the ACPT weight may be lowered by CMS (425.652(b)(4)(ii)), so a performance year may override it.
    ThreeWay {
        /// Weight of the ACPT (1/3).
        acpt_weight: Decimal,
    },
}

/// The regional risk score growth cap (425.655): a factor multiplying the regional growth rate of
/// the two-way blend in the update (425.652(b)(2)(ii)(C)), by enrollment type.
///
/// ```text
/// weights_e   = regionally adjusted historical benchmark_e x PY person-years_e      (d)(2)
/// HCC_agg     = sum_e weights_e x regional HCC growth_e / sum_e weights_e          (d)(2)
/// base        = sum_e weights_e x regional demographic growth_e / sum_e weights_e + margin   (e)(1)
/// share       = sum_e PY person-years_e x market share_e / sum_e PY person-years_e (e)(2)
/// cap         = base + share x max(0, HCC_agg - base)                              (e)(3)
/// factor_e    = 1 when HCC_agg <= cap, or when regional HCC growth_e <= cap;       (f)(1), (f)(2)(i)
///               regional HCC growth_e / cap otherwise                              (f)(2)(ii)
/// ```
///
/// Growths are ratios of the performance-year to the BY3 regional score (425.655(d)(1)), so the
/// margin of 3 percentage points is added to a ratio (1.02 + 0.03 = 1.05).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RegionalRiskCapRule {
    /// Percentage points over the aggregate regional demographic growth (0.03, 425.655(e)(1)).
    pub margin: Decimal,
    /// Citation.
    pub citation: &'static str,
}

/// Performance-year risk adjustment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PyRiskRule {
    /// Newly assigned: HCC ratio; continuously assigned: demographic ratio, or the HCC ratio when it
    /// is lower (425.604(a)(1)-(2), 425.603(c)(10)); groups weighted by person-years [R].
    NewlyContinuous,
    /// HCC ratio BY3 -> PY with positive growth capped at `cap` for the whole agreement
    /// (425.605(a)(1)(i), 425.610(a)(2)(i)) [R: per enrollment type].
    Capped {
        /// Cap on positive growth (0.03).
        cap: Decimal,
    },
    /// Cap = aggregate demographic growth + `margin`, binding only when the aggregate HCC growth
    /// exceeds it; aggregates weighted by historical benchmark x PY person-years (425.605(a)(1)(ii),
    /// 425.610(a)(2)(ii)).
    DemographicCap {
        /// Percentage points over demographic growth (0.03).
        margin: Decimal,
    },
}

/// The rules of one era for one kind of agreement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RuleSet {
    /// Stable identifier, e.g. `mssp-2019-first`.
    pub id: &'static str,
    /// Relative weights of BY1, BY2, BY3: the benchmark divides by their sum, so the effective
    /// weights sum to one exactly (and equal weights need no 0.333...).
    pub weights: [Decimal; 3],
    /// Citation of the weights.
    pub weights_citation: &'static str,
    /// Trend of BY1 and BY2 to BY3.
    pub trend: TrendRule,
    /// Citation of the expenditure, risk-adjustment and trend steps.
    pub trend_citation: &'static str,
    /// Regional adjustment, if any.
    pub regional: Option<RegionalRule>,
    /// Prior savings.
    pub prior_savings: PriorSavingsRule,
    /// Citation of the prior savings rule.
    pub prior_savings_citation: &'static str,
    /// Update to the performance year.
    pub update: UpdateRule,
    /// Citation of the update.
    pub update_citation: &'static str,
    /// The regional risk score growth cap on the update's regional growth, if any.
    pub regional_risk_cap: Option<RegionalRiskCapRule>,
    /// Performance-year risk adjustment.
    pub risk: PyRiskRule,
    /// Citation of the risk adjustment.
    pub risk_citation: &'static str,
}

/// 10% / 30% / 60% as relative weights 1 : 3 : 6 (first agreements: 425.602(a)(7),
/// 425.601(a)(7), 425.652(a)(7)).
pub const FIRST_AGREEMENT_WEIGHTS: [Decimal; 3] = [frac(1, 0), frac(3, 0), frac(6, 0)];

/// Equal weights 1 : 1 : 1 (rebased agreements: 425.603(b)(2), (c)(8), 425.601(e)(2)(i),
/// 425.652(c)(2)).
pub const EQUAL_WEIGHTS: [Decimal; 3] = [Decimal::ONE, Decimal::ONE, Decimal::ONE];

/// 425.603(c)(9)(ii)(B): 35% / 25% the first time, 70% / 50% the second, 70% thereafter.
pub const REBASED_2017_REGIONAL_WEIGHTS: &[(Decimal, Decimal)] = &[
    (frac(35, 2), frac(25, 2)),
    (frac(70, 2), frac(50, 2)),
    (frac(70, 2), frac(70, 2)),
];

/// 425.601(f), 425.656(d): 35/15, 50/25, 50/35, then 50/50.
pub const PATHWAYS_REGIONAL_WEIGHTS: &[(Decimal, Decimal)] = &[
    (frac(35, 2), frac(15, 2)),
    (frac(50, 2), frac(25, 2)),
    (frac(50, 2), frac(35, 2)),
    (frac(50, 2), frac(50, 2)),
];

/// Why no rule set applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SelectError {
    /// A year outside 1900-9999 ([`Date::YEARS`]).
    #[error("the agreement start date {0} is not a valid calendar date")]
    InvalidDate(Date),
    /// Before the program.
    #[error("the Shared Savings Program began on 2012-04-01; no agreement started on {0}")]
    BeforeProgram(Date),
    /// Agreement period 0.
    #[error("the agreement period number starts at 1")]
    AgreementPeriodZero,
    /// A rebased agreement before any could exist.
    #[error(
        "no rebased (second or later) agreement started before 2016 ({0}): the first agreements ran at least three years from 2012"
    )]
    RebasedBefore2016(Date),
    /// The gap between the 2019-01-01 and 2019-07-01 starts.
    #[error("no agreement period started between 2019-01-02 and 2019-06-30 ({0})")]
    NoStartsInFirstHalf2019(Date),
}

/// The rule set for an agreement starting on `start` with number `period` (1 = first).
pub fn select(start: Date, period: u32) -> Result<RuleSet, SelectError> {
    if !Date::YEARS.contains(&start.year()) {
        return Err(SelectError::InvalidDate(start));
    }
    if start < Date::constant(2012, 4, 1) {
        return Err(SelectError::BeforeProgram(start));
    }
    if period == 0 {
        return Err(SelectError::AgreementPeriodZero);
    }
    let first = period == 1;
    let last_2012_rules = Date::constant(2019, 1, 1);
    Ok(if start <= last_2012_rules {
        if first {
            first_2012()
        } else if start.year() < 2016 {
            return Err(SelectError::RebasedBefore2016(start));
        } else if start.year() == 2016 {
            rebased_2016()
        } else {
            rebased_2017()
        }
    } else if start < Date::constant(2019, 7, 1) {
        return Err(SelectError::NoStartsInFirstHalf2019(start));
    } else if start < Date::constant(2024, 1, 1) {
        pathways(first)
    } else {
        from_2024(first)
    })
}

const NEWLY_CONTINUOUSLY: &str = "42 CFR 425.604(a)(1)-(2), 425.606(a)(1)-(2), 425.610(a)(1)-(2) (agreements starting before 2019-07-01)";

fn first_2012() -> RuleSet {
    RuleSet {
        id: "mssp-2012-first",
        weights: FIRST_AGREEMENT_WEIGHTS,
        weights_citation: "42 CFR 425.602(a)(7)",
        trend: TrendRule::National,
        trend_citation: "42 CFR 425.602(a)(1)-(6)",
        regional: None,
        prior_savings: PriorSavingsRule::None,
        prior_savings_citation: "",
        update: UpdateRule::NationalFlat,
        update_citation: "42 CFR 425.602(b)",
        regional_risk_cap: None,
        risk: PyRiskRule::NewlyContinuous,
        risk_citation: NEWLY_CONTINUOUSLY,
    }
}

fn rebased_2016() -> RuleSet {
    RuleSet {
        id: "mssp-2016-rebased",
        weights: EQUAL_WEIGHTS,
        weights_citation: "42 CFR 425.603(b)(2)",
        trend: TrendRule::National,
        trend_citation: "42 CFR 425.603(b); 425.602(a)(1)-(6)",
        regional: None,
        prior_savings: PriorSavingsRule::AddOn,
        prior_savings_citation: "42 CFR 425.603(b)(1)",
        update: UpdateRule::NationalFlat,
        update_citation: "42 CFR 425.603(b); 425.602(b)",
        regional_risk_cap: None,
        risk: PyRiskRule::NewlyContinuous,
        risk_citation: NEWLY_CONTINUOUSLY,
    }
}

fn rebased_2017() -> RuleSet {
    RuleSet {
        id: "mssp-2017-rebased",
        weights: EQUAL_WEIGHTS,
        weights_citation: "42 CFR 425.603(c)(8)",
        trend: TrendRule::Regional,
        trend_citation: "42 CFR 425.603(c)(1)-(7)",
        regional: Some(RegionalRule {
            weights: REBASED_2017_REGIONAL_WEIGHTS,
            positive_cap: None,
            negative_cap: None,
            negative_offset: false,
            no_overall_negative: false,
            citation: "42 CFR 425.603(c)(9)",
        }),
        prior_savings: PriorSavingsRule::None,
        prior_savings_citation: "",
        update: UpdateRule::Regional,
        update_citation: "42 CFR 425.603(d)",
        regional_risk_cap: None,
        risk: PyRiskRule::NewlyContinuous,
        risk_citation: "42 CFR 425.603(c)(10); 425.604(a)(1)-(2)",
    }
}

fn pathways(first: bool) -> RuleSet {
    RuleSet {
        id: if first {
            "mssp-2019-first"
        } else {
            "mssp-2019-rebased"
        },
        weights: if first {
            FIRST_AGREEMENT_WEIGHTS
        } else {
            EQUAL_WEIGHTS
        },
        weights_citation: if first {
            "42 CFR 425.601(a)(7)"
        } else {
            "42 CFR 425.601(e)(2)(i)"
        },
        trend: TrendRule::Blend,
        trend_citation: "42 CFR 425.601(a)(1)-(6)",
        regional: Some(RegionalRule {
            weights: PATHWAYS_REGIONAL_WEIGHTS,
            positive_cap: Some(frac(5, 2)),
            negative_cap: Some(frac(5, 2)),
            negative_offset: false,
            no_overall_negative: false,
            citation: "42 CFR 425.601(a)(8), (f)",
        }),
        prior_savings: PriorSavingsRule::None,
        prior_savings_citation: "",
        update: UpdateRule::Blend,
        update_citation: "42 CFR 425.601(b)",
        regional_risk_cap: None,
        risk: PyRiskRule::Capped { cap: frac(3, 2) },
        risk_citation: "42 CFR 425.605(a)(1)(i), 425.610(a)(2)(i)",
    }
}

fn from_2024(first: bool) -> RuleSet {
    RuleSet {
        id: if first {
            "mssp-2024-first"
        } else {
            "mssp-2024-rebased"
        },
        weights: if first {
            FIRST_AGREEMENT_WEIGHTS
        } else {
            EQUAL_WEIGHTS
        },
        weights_citation: if first {
            "42 CFR 425.652(a)(7)"
        } else {
            "42 CFR 425.652(c)(2)"
        },
        trend: TrendRule::Blend,
        trend_citation: "42 CFR 425.652(a)(1)-(6)",
        regional: Some(RegionalRule {
            weights: PATHWAYS_REGIONAL_WEIGHTS,
            positive_cap: Some(frac(5, 2)),
            negative_cap: Some(frac(15, 3)),
            negative_offset: true,
            no_overall_negative: true,
            citation: "42 CFR 425.656(c)-(d), 425.652(a)(8)",
        }),
        prior_savings: PriorSavingsRule::Adjustment {
            share: frac(5, 1),
            cap: frac(5, 2),
        },
        prior_savings_citation: "42 CFR 425.658(b)-(d), 425.652(a)(8)(iv)",
        update: UpdateRule::ThreeWay {
            acpt_weight: Decimal::ONE / Decimal::from(3),
        },
        update_citation: "42 CFR 425.652(b)(2)-(4), 425.660",
        regional_risk_cap: Some(RegionalRiskCapRule {
            margin: frac(3, 2),
            citation: "42 CFR 425.655(d)-(f), 425.652(b)(2)(ii)(C)",
        }),
        risk: PyRiskRule::DemographicCap { margin: frac(3, 2) },
        risk_citation: "42 CFR 425.605(a)(1)(ii), 425.610(a)(2)(ii)",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Rule-set selection by agreement start and period (mssp-rules.md section 1).
    #[test]
    fn selects_by_start_date_and_agreement_period() {
        let cases = [
            ((2012, 4, 1), 1, Ok("mssp-2012-first")),
            ((2012, 7, 1), 1, Ok("mssp-2012-first")),
            ((2018, 1, 1), 1, Ok("mssp-2012-first")),
            ((2019, 1, 1), 1, Ok("mssp-2012-first")),
            ((2016, 1, 1), 2, Ok("mssp-2016-rebased")),
            ((2017, 1, 1), 2, Ok("mssp-2017-rebased")),
            ((2019, 1, 1), 3, Ok("mssp-2017-rebased")),
            ((2019, 7, 1), 1, Ok("mssp-2019-first")),
            ((2023, 1, 1), 2, Ok("mssp-2019-rebased")),
            ((2024, 1, 1), 1, Ok("mssp-2024-first")),
            ((2026, 1, 1), 4, Ok("mssp-2024-rebased")),
            (
                (2012, 1, 1),
                1,
                Err(SelectError::BeforeProgram(Date::constant(2012, 1, 1))),
            ),
            (
                (2015, 1, 1),
                2,
                Err(SelectError::RebasedBefore2016(Date::constant(2015, 1, 1))),
            ),
            (
                (2019, 4, 1),
                1,
                Err(SelectError::NoStartsInFirstHalf2019(Date::constant(
                    2019, 4, 1,
                ))),
            ),
            ((2020, 1, 1), 0, Err(SelectError::AgreementPeriodZero)),
            (
                (1899, 12, 31),
                1,
                Err(SelectError::InvalidDate(Date::constant(1899, 12, 31))),
            ),
        ];
        for ((y, m, d), period, want) in cases {
            let got = select(Date::constant(y, m, d), period).map(|r| r.id);
            assert_eq!(got, want, "{y}-{m}-{d} period {period}");
        }
    }

    /// Relative weights 1 : 3 : 6 are 10% / 30% / 60%.
    #[test]
    fn first_agreement_weights_are_10_30_60() {
        let sum: Decimal = FIRST_AGREEMENT_WEIGHTS.iter().sum();
        let shares = FIRST_AGREEMENT_WEIGHTS.map(|w| w / sum);
        assert_eq!(
            shares,
            [Decimal::new(1, 1), Decimal::new(3, 1), Decimal::new(6, 1)]
        );
    }
}
