//! Statistics over replicates: the mean, a 95% interval and the Monte Carlo standard error of one
//! total, computed exactly in `Decimal` and rounded only when printed.
//!
//! | figure | definition |
//! | --- | --- |
//! | `mean` | sum / n |
//! | `ci95` | the 2.5th and 97.5th percentiles of the n replicate values: linear interpolation between order statistics at rank h = (n - 1) p (Hyndman and Fan type 7, NumPy's and R's default); an interval for where one replicate falls, not a confidence interval of the mean |
//! | `mcse` | s / sqrt(n), s the sample standard deviation (n - 1 denominator): the standard error of `mean` as an estimate of the model's expectation; none for n = 1 |
//!
//! Rounding: [`Estimate::rounded`] rounds every figure to cents, half away from zero
//! (`acorn_domain::round_money`), the rounding of every dollar string the simulator writes.
//! Counts (ACOs paid, ...) are rounded the same way (two decimals).

use acorn_domain::round_money;
use rust_decimal::prelude::ToPrimitive;
use rust_decimal::{Decimal, MathematicalOps};

/// Why an estimate could not be computed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StatsError {
    /// No replicate values.
    Empty,
    /// An intermediate sum or square left `Decimal`'s range (about 7.9e28).
    Overflow,
}

impl std::fmt::Display for StatsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StatsError::Empty => f.write_str("no replicates to summarise"),
            StatsError::Overflow => {
                f.write_str("a replicate total is too large to summarise exactly")
            }
        }
    }
}

impl std::error::Error for StatsError {}

/// Mean, 95% percentile interval and Monte Carlo standard error of one total over replicates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Estimate {
    /// Mean over replicates.
    pub mean: Decimal,
    /// 2.5th and 97.5th percentiles of the replicate values (type 7).
    pub ci95: (Decimal, Decimal),
    /// Standard deviation / sqrt(n); `None` for a single replicate.
    pub mcse: Option<Decimal>,
}

impl Estimate {
    /// Summarises `values` (one per replicate, any order).
    pub fn of(values: &[Decimal]) -> Result<Estimate, StatsError> {
        if values.is_empty() {
            return Err(StatsError::Empty);
        }
        let n = Decimal::from(values.len());
        let sum = values
            .iter()
            .try_fold(Decimal::ZERO, |acc, v| acc.checked_add(*v))
            .ok_or(StatsError::Overflow)?;
        let mean = sum.checked_div(n).ok_or(StatsError::Overflow)?;
        let mcse = if values.len() < 2 {
            None
        } else {
            let squares = values
                .iter()
                .try_fold(Decimal::ZERO, |acc, v| {
                    let d = v.checked_sub(mean)?;
                    acc.checked_add(d.checked_mul(d)?)
                })
                .ok_or(StatsError::Overflow)?;
            let variance = squares
                .checked_div(n - Decimal::ONE)
                .ok_or(StatsError::Overflow)?;
            let sd = variance.sqrt().ok_or(StatsError::Overflow)?;
            Some(
                sd.checked_div(n.sqrt().ok_or(StatsError::Overflow)?)
                    .ok_or(StatsError::Overflow)?,
            )
        };
        let mut sorted = values.to_vec();
        sorted.sort_unstable();
        let ci95 = (
            percentile(&sorted, Decimal::new(25, 3))?,
            percentile(&sorted, Decimal::new(975, 3))?,
        );
        Ok(Estimate { mean, ci95, mcse })
    }

    /// Every figure rounded to cents, half away from zero, and written with exactly two decimals
    /// (`0.00`, `-12.30`).
    pub fn rounded(&self) -> Estimate {
        Estimate {
            mean: cents(self.mean),
            ci95: (cents(self.ci95.0), cents(self.ci95.1)),
            mcse: self.mcse.map(cents),
        }
    }
}

/// `d` rounded to cents (half away from zero) with scale exactly 2.
fn cents(d: Decimal) -> Decimal {
    let mut r = round_money(d);
    r.rescale(2);
    r
}

/// Type 7 percentile of ascending `sorted` (non-empty) at fraction `p` in [0, 1].
fn percentile(sorted: &[Decimal], p: Decimal) -> Result<Decimal, StatsError> {
    let last = sorted.len() - 1;
    let h = Decimal::from(last) * p;
    let lo = h.floor();
    let i = lo.to_usize().unwrap_or(last).min(last);
    let frac = h - lo;
    let (a, b) = (sorted[i], sorted[(i + 1).min(last)]);
    b.checked_sub(a)
        .and_then(|d| d.checked_mul(frac))
        .and_then(|d| a.checked_add(d))
        .ok_or(StatsError::Overflow)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    fn d(s: &str) -> Decimal {
        Decimal::from_str(s).unwrap()
    }

    fn ds(v: &[&str]) -> Vec<Decimal> {
        v.iter().map(|s| d(s)).collect()
    }

    #[test]
    fn mean_interval_and_mcse_match_hand_computation() {
        // 1..=10: mean 5.5, sd = sqrt(55/6) = 3.0276503540974917, mcse = sd / sqrt(10).
        let values: Vec<Decimal> = (1..=10).rev().map(Decimal::from).collect();
        let e = Estimate::of(&values).unwrap();
        assert_eq!(e.mean, d("5.5"));
        // h = 9 * 0.025 = 0.225 -> 1 + 0.225; h = 9 * 0.975 = 8.775 -> 9 + 0.775.
        assert_eq!(e.ci95, (d("1.225"), d("9.775")));
        let mcse = e.mcse.unwrap();
        assert!(
            (mcse - d("0.9574271077563381")).abs() < d("0.0000000001"),
            "{mcse}"
        );
        assert_eq!(e.rounded().mcse, Some(d("0.96")));
    }

    #[test]
    fn percentile_matches_numpy_default() {
        // numpy.percentile([3, 1, 4, 1, 5, 9, 2, 6], [2.5, 97.5]) = [1.0, 8.475]
        let e = Estimate::of(&ds(&["3", "1", "4", "1", "5", "9", "2", "6"])).unwrap();
        assert_eq!(e.ci95, (d("1"), d("8.475")));
    }

    #[test]
    fn single_replicate_has_no_mcse_and_empty_is_an_error() {
        let e = Estimate::of(&ds(&["-12.345"])).unwrap();
        assert_eq!(e.mean, d("-12.345"));
        assert_eq!(e.ci95, (d("-12.345"), d("-12.345")));
        assert_eq!(e.mcse, None);
        assert_eq!(Estimate::of(&[]), Err(StatsError::Empty));
    }

    #[test]
    fn rounding_is_to_cents_half_away_from_zero() {
        let e = Estimate::of(&ds(&["0.125", "-0.125"])).unwrap();
        assert_eq!(e.mean, Decimal::ZERO);
        let r = e.rounded();
        assert_eq!(r.ci95, (d("-0.12"), d("0.12")));
        assert_eq!(r.mean.to_string(), "0.00");
        let e = Estimate::of(&ds(&["-12.3"])).unwrap().rounded();
        assert_eq!(e.mean.to_string(), "-12.30");
        let e = Estimate::of(&ds(&["2.005"])).unwrap().rounded();
        assert_eq!(e.mean.to_string(), "2.01");
        let e = Estimate::of(&ds(&["-2.005"])).unwrap().rounded();
        assert_eq!(e.mean.to_string(), "-2.01");
    }

    #[test]
    fn huge_totals_overflow_into_an_error_not_a_panic() {
        let big = Decimal::MAX;
        assert_eq!(Estimate::of(&[big, big]), Err(StatsError::Overflow));
        let spread = [d("-7e27"), d("7e27"), d("0")];
        assert_eq!(Estimate::of(&spread), Err(StatsError::Overflow));
    }
}
