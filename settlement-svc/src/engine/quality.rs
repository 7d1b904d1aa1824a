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
