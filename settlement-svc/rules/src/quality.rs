//! Quality: how the quality result scales the sharing rate and the shared loss rate, by performance
//! year (42 CFR 425.512; mssp-rules.md section 4.4).
//!
//! | performance year | final sharing rate | loss rate (1 - sharing based tracks) |
//! |---|---|---|
//! | 2012-2020 | max rate x quality score (425.604(d), 425.606(d), 425.610(d)(1), 425.605(d)(1)(i)(A)(1)) | 1 - final sharing rate, bounded (425.606(f), 425.610(f)(1)) |
//! | 2021-2022 | standard met: max rate; else 0 (425.512(a)(1), 425.610(d)(2)) | 1 - max x quality points ratio, bounded; ceiling if not met (425.610(f)(2)) |
//! | 2023+ | met: max; alternative standard: max x health-equity adjusted score; else 0 (425.512(a)(4)(ii), (a)(5), 425.610(d)(3)-(4)) | 1 - max x health-equity adjusted score, bounded; ceiling if neither met (425.610(f)(3)-(4)) |

use rust_decimal::Decimal;

use super::rules::{LossRate, RuleSet};

/// Whether the ACO met the quality performance standard.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QualityStandard {
    /// Met the quality performance standard.
    Met,
    /// Met only the alternative quality performance standard (PY2023+).
    AlternativeMet,
    /// Met neither (pre-2021: missed the minimum attainment level).
    NotMet,
}

/// The ACO's quality result.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Quality {
    /// The standard; `None` = met for PY2012-2020, required from PY2021.
    pub standard: Option<QualityStandard>,
    /// Score in [0, 1] (see the module table for which score each era uses).
    pub score: Option<Decimal>,
}

/// The quality era of a performance year.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Era {
    /// 2012-2020: the score scales sharing.
    ScoreScaled,
    /// 2021-2022: the standard gates sharing.
    StandardGate,
    /// 2023+: sliding scale under the alternative standard.
    SlidingScale,
}

impl Era {
    /// The era of performance year `py`.
    pub fn of(py: i32) -> Self {
        match py {
            ..=2020 => Era::ScoreScaled,
            2021 | 2022 => Era::StandardGate,
            _ => Era::SlidingScale,
        }
    }

    /// Citation of the era's quality rule.
    pub fn citation(self) -> &'static str {
        match self {
            Era::ScoreScaled => {
                "42 CFR 425.502; sharing rate x quality score (425.604(d), 425.606(d), 425.610(d)(1))"
            }
            Era::StandardGate => "42 CFR 425.512(a)(1), (a)(3)-(4)(i)",
            Era::SlidingScale => "42 CFR 425.512(a)(4)(ii), (a)(5)",
        }
    }
}

/// What the quality rule needs that the input lacks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum QualityError {
    /// The era scales by a score that was not supplied.
    #[error("a quality score is required for performance year {0}")]
    ScoreRequired(i32),
    /// PY2021+ needs the standard.
    #[error("the quality standard result is required from performance year 2021 ({0})")]
    StandardRequired(i32),
    /// The alternative standard exists only from PY2023.
    #[error("the alternative quality standard applies only from performance year 2023 ({0})")]
    AlternativeBefore2023(i32),
}

/// The quality factor q: the final sharing rate is `max rate x q`.
pub fn sharing_factor(py: i32, q: &Quality) -> Result<Decimal, QualityError> {
    let score = || q.score.ok_or(QualityError::ScoreRequired(py));
    match (Era::of(py), q.standard) {
        (Era::ScoreScaled, Some(QualityStandard::NotMet)) => Ok(Decimal::ZERO),
        (Era::ScoreScaled, Some(QualityStandard::AlternativeMet)) => {
            Err(QualityError::AlternativeBefore2023(py))
        }
        (Era::ScoreScaled, _) => score(),
        (_, None) => Err(QualityError::StandardRequired(py)),
        (_, Some(QualityStandard::Met)) => Ok(Decimal::ONE),
        (_, Some(QualityStandard::NotMet)) => Ok(Decimal::ZERO),
        (Era::StandardGate, Some(QualityStandard::AlternativeMet)) => {
            Err(QualityError::AlternativeBefore2023(py))
        }
        (Era::SlidingScale, Some(QualityStandard::AlternativeMet)) => score(),
    }
}

/// The shared loss rate of a two-sided rule set.
///
/// For `1 - sharing` tracks the quality factor of the loss rate is the quality score itself
/// (PY2012-2020: `1 - final sharing rate`; PY2021+: `1 - max x score`), and 0 when the standard is
/// not met, so the rate goes to its ceiling.
pub fn loss_rate(rules: &RuleSet, py: i32, q: &Quality) -> Result<Decimal, QualityError> {
    let Some(losses) = rules.losses else {
        return Ok(Decimal::ZERO);
    };
    match losses.rate {
        LossRate::Fixed(rate) => Ok(rate),
        LossRate::OneMinusSharing { floor, ceiling } => {
            let factor = match (Era::of(py), q.standard) {
                (_, Some(QualityStandard::NotMet)) => Decimal::ZERO,
                (Era::ScoreScaled, _) => q.score.ok_or(QualityError::ScoreRequired(py))?,
                (_, None) => return Err(QualityError::StandardRequired(py)),
                (_, Some(_)) => q.score.ok_or(QualityError::ScoreRequired(py))?,
            };
            Ok((Decimal::ONE - rules.max_sharing_rate * factor).clamp(floor, ceiling))
        }
    }
}

#[cfg(test)]
mod tests {
    use rust_decimal_macros::dec;

    use super::*;
    use crate::rules::{self, Date, Track};

    fn q(standard: Option<QualityStandard>, score: Option<Decimal>) -> Quality {
        Quality { standard, score }
    }

    /// The quality factor by era, worked: PY2012-2020 the score itself (425.604(d), 425.610(d)(1));
    /// PY2021-2022 met = 1, not met = 0 (425.512(a)(1), 425.605(d)(1)(i)(A)(2)); PY2023+ the
    /// alternative standard scales by the health-equity adjusted score (425.512(a)(4)(ii), (a)(5);
    /// 425.605(d)(1)(i)(A)(3)-(4), 425.610(d)(3)-(4)).
    #[test]
    fn sharing_factor_by_era() {
        use QualityStandard::{AlternativeMet, Met, NotMet};
        let score = Some(dec!(0.755));
        // PY2018: a Track 1 ACO scoring 90.84% shares 50% x 0.9084.
        assert_eq!(
            sharing_factor(2018, &q(None, Some(dec!(0.9084)))),
            Ok(dec!(0.9084))
        );
        assert_eq!(
            sharing_factor(2018, &q(Some(NotMet), score)),
            Ok(Decimal::ZERO)
        );
        assert_eq!(
            sharing_factor(2020, &q(None, None)),
            Err(QualityError::ScoreRequired(2020))
        );
        // PY2021-2022: the standard gates, the score does not scale.
        assert_eq!(sharing_factor(2022, &q(Some(Met), score)), Ok(Decimal::ONE));
        assert_eq!(
            sharing_factor(2021, &q(Some(NotMet), score)),
            Ok(Decimal::ZERO)
        );
        assert_eq!(
            sharing_factor(2022, &q(Some(AlternativeMet), score)),
            Err(QualityError::AlternativeBefore2023(2022))
        );
        assert_eq!(
            sharing_factor(2021, &q(None, score)),
            Err(QualityError::StandardRequired(2021))
        );
        // PY2023: the alternative standard: BASIC A 40% x 0.755 = 30.2%.
        let alt = sharing_factor(2023, &q(Some(AlternativeMet), score)).unwrap();
        assert_eq!(dec!(0.40) * alt, dec!(0.30200));
        assert_eq!(sharing_factor(2023, &q(Some(Met), score)), Ok(Decimal::ONE));
        assert_eq!(
            sharing_factor(2023, &q(Some(NotMet), score)),
            Ok(Decimal::ZERO)
        );
        // PY2024 (40th-percentile standard, same sliding scale): BASIC E 50% x 0.70 = 35%.
        let alt = sharing_factor(2024, &q(Some(AlternativeMet), Some(dec!(0.70)))).unwrap();
        assert_eq!(dec!(0.50) * alt, dec!(0.3500));
        assert_eq!(
            sharing_factor(2024, &q(Some(AlternativeMet), None)),
            Err(QualityError::ScoreRequired(2024))
        );
    }

    /// ENHANCED loss rate, worked: 1 - 0.75 x score within [40%, 75%] when either standard is met,
    /// 75% when neither (425.610(f)(2)-(4)); PY2018 Track 3: 1 - final sharing rate (425.610(f)(1)).
    #[test]
    fn enhanced_loss_rate_by_era() {
        use QualityStandard::{AlternativeMet, Met, NotMet};
        let enhanced = |py| rules::select(Track::Enhanced, Date::constant(2022, 1, 1), py).unwrap();
        // PY2023, alternative standard at 60%: 1 - 0.75 x 0.6 = 55%.
        assert_eq!(
            loss_rate(
                enhanced(2023),
                2023,
                &q(Some(AlternativeMet), Some(dec!(0.60)))
            ),
            Ok(dec!(0.5500))
        );
        // PY2024, standard met at 50%: 1 - 0.375 = 62.5%; at 90%: 32.5% raised to the 40% floor.
        assert_eq!(
            loss_rate(enhanced(2024), 2024, &q(Some(Met), Some(dec!(0.50)))),
            Ok(dec!(0.6250))
        );
        assert_eq!(
            loss_rate(enhanced(2024), 2024, &q(Some(Met), Some(dec!(0.90)))),
            Ok(dec!(0.40))
        );
        // Neither standard: the 75% ceiling, whatever the score.
        assert_eq!(
            loss_rate(enhanced(2023), 2023, &q(Some(NotMet), Some(dec!(0.90)))),
            Ok(dec!(0.75))
        );
        // PY2018 Track 3 at 97.94%: 1 - 0.75 x 0.9794 = 26.545% -> the 40% floor.
        let track3 = rules::select(Track::Track3, Date::constant(2016, 1, 1), 2018).unwrap();
        assert_eq!(
            loss_rate(track3, 2018, &q(None, Some(dec!(0.9794)))),
            Ok(dec!(0.40))
        );
        // One-sided and fixed-rate tracks.
        let basic_a = rules::select(Track::BasicA, Date::constant(2022, 1, 1), 2023).unwrap();
        assert_eq!(
            loss_rate(basic_a, 2023, &q(Some(Met), None)),
            Ok(Decimal::ZERO)
        );
        let basic_e = rules::select(Track::BasicE, Date::constant(2022, 1, 1), 2023).unwrap();
        assert_eq!(
            loss_rate(basic_e, 2023, &q(Some(NotMet), None)),
            Ok(dec!(0.30))
        );
    }
}
