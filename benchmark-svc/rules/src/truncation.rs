//! Beneficiary-level aggregation with truncation, in exact integers.
//!
//! Each beneficiary's annual expenditures are truncated at the national 99th-percentile threshold of
//! its enrollment type and year before anything else (425.602(a)(4), 425.601(a)(4),
//! 425.652(a)(4); the threshold is per enrollment type in the methodology specifications [R]). The
//! threshold applies to annualized expenditures: a beneficiary eligible for `m` months keeps
//! `min(expenditures, threshold x m / 12)` [R].
//!
//! The hot loop works in integers: expenditures in cents, risk scores in millionths, and per
//! (year, type) cell it sums
//!
//! ```text
//! S = sum min(12 x cents, threshold_cents x months)   (12 x the truncated cents)
//! M = sum months                                       (12 x the person-years)
//! R = sum risk_millionths x months
//! ```
//!
//! so that, exactly, per capita = S / (100 M) dollars, person-years = M / 12 and the mean risk
//! score (weighted by eligible months) = R / (10^6 M). [`Aggregator::finish`] hands these to the
//! `Decimal` engine as [`YearExperience`] values (the divisions are the only inexact step, at
//! `Decimal`'s 28 significant digits).

use acorn_domain::money::{Sign, parse_fixed};
use rust_decimal::Decimal;

use super::{ByType, EnrollmentType, TYPES, YearExperience};

/// One beneficiary's experience in one benchmark year, in integers. No identifier.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BeneficiaryYear {
    /// 0 = BY1, 1 = BY2, 2 = BY3.
    pub year: u8,
    /// Enrollment type.
    pub enrollment_type: EnrollmentType,
    /// Eligible months, 1-12.
    pub eligible_months: u8,
    /// Expenditures before truncation, cents.
    pub expenditures_cents: u64,
    /// Prospective CMS-HCC risk score, millionths (1.234567 = 1,234,567).
    pub risk_millionths: u32,
}

/// Why a record or an aggregate is rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum AggregateError {
    /// Benchmark year index beyond BY3.
    #[error("the benchmark year must be BY1, BY2 or BY3")]
    Year,
    /// Months outside 1-12.
    #[error("eligible months must be 1 to 12")]
    Months,
    /// Risk score of zero.
    #[error("the risk score must be greater than zero")]
    RiskScore,
    /// A type has BY3 records but none in an earlier year.
    #[error("{enrollment_type} has beneficiaries in BY3 but none in BY{year}")]
    MissingYear {
        /// The enrollment type.
        enrollment_type: &'static str,
        /// 1 or 2.
        year: u8,
    },
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Cell {
    months: u64,
    twelfths_cents: u128,
    risk_months: u128,
}

/// Aggregates beneficiary-years into per capita expenditures, person-years and mean risk scores
/// by benchmark year and enrollment type.
#[derive(Debug, Clone)]
pub struct Aggregator {
    thresholds: [ByType<u64>; 3],
    cells: [ByType<Cell>; 3],
    records: u64,
    truncated: u64,
}

impl Aggregator {
    /// An empty aggregate with the truncation thresholds of annualized expenditures, cents, by
    /// benchmark year and enrollment type.
    pub fn new(thresholds_cents: [ByType<u64>; 3]) -> Self {
        Self {
            thresholds: thresholds_cents,
            cells: [[Cell::default(); 4]; 3],
            records: 0,
            truncated: 0,
        }
    }

    /// Adds one beneficiary-year.
    #[inline]
    pub fn add(&mut self, r: &BeneficiaryYear) -> Result<(), AggregateError> {
        let year = usize::from(r.year);
        if year > 2 {
            return Err(AggregateError::Year);
        }
        if !(1..=12).contains(&r.eligible_months) {
            return Err(AggregateError::Months);
        }
        if r.risk_millionths == 0 {
            return Err(AggregateError::RiskScore);
        }
        let t = r.enrollment_type.index();
        let months = u64::from(r.eligible_months);
        let spent = u128::from(r.expenditures_cents) * 12;
        let cap = u128::from(self.thresholds[year][t]) * u128::from(months);
        let kept = if spent > cap {
            self.truncated += 1;
            cap
        } else {
            spent
        };
        let cell = &mut self.cells[year][t];
        cell.months += months;
        cell.twelfths_cents += kept;
        cell.risk_months += u128::from(r.risk_millionths) * u128::from(months);
        self.records += 1;
        Ok(())
    }

    /// Beneficiary-years added.
    pub fn records(&self) -> u64 {
        self.records
    }

    /// Beneficiary-years whose expenditures were truncated.
    pub fn truncated(&self) -> u64 {
        self.truncated
    }

    /// The aggregates by benchmark year and enrollment type. A type with no beneficiary in any year
    /// gets zero person-years (and a neutral risk score of 1); a type present in BY3 must be present
    /// in BY1 and BY2.
    pub fn finish(&self) -> Result<[ByType<YearExperience>; 3], AggregateError> {
        for t in TYPES {
            let i = t.index();
            if self.cells[2][i].months > 0 {
                for year in 0..2 {
                    if self.cells[year][i].months == 0 {
                        return Err(AggregateError::MissingYear {
                            enrollment_type: t.name(),
                            year: year as u8 + 1,
                        });
                    }
                }
            }
        }
        Ok(self.cells.map(|year| year.map(experience)))
    }
}

fn experience(c: Cell) -> YearExperience {
    if c.months == 0 {
        return YearExperience {
            person_years: Decimal::ZERO,
            per_capita: Decimal::ZERO,
            risk_score: Decimal::ONE,
        };
    }
    let months = Decimal::from(c.months);
    let s = decimal(c.twelfths_cents);
    let r = decimal(c.risk_months);
    YearExperience {
        person_years: months / Decimal::from(12),
        per_capita: s / months / Decimal::ONE_HUNDRED,
        risk_score: r / months / Decimal::from(1_000_000),
    }
}

/// A u128 sum as a Decimal (sums beyond Decimal's 96-bit mantissa are clamped to its maximum; they
/// would need more than 10^18 beneficiary-years of $10^8).
fn decimal(v: u128) -> Decimal {
    i128::try_from(v)
        .ok()
        .and_then(|v| Decimal::try_from_i128_with_scale(v, 0).ok())
        .unwrap_or(Decimal::MAX)
}

/// Parses a non-negative dollar amount with at most 2 decimal places into cents (at most 15
/// integer digits: under $10^15).
pub fn parse_cents(s: &str) -> Result<u64, &'static str> {
    match parse_fixed(s, 2, Sign::Unsigned, MAX_FIXED_CENTS).map(u64::try_from) {
        Ok(Ok(v)) => Ok(v),
        _ => Err("must be dollars >= 0 with at most 2 decimal places, such as \"1234.56\""),
    }
}

/// Parses a positive risk score with at most 6 decimal places into millionths.
pub fn parse_millionths(s: &str) -> Result<u32, &'static str> {
    match parse_fixed(s, 6, Sign::Unsigned, u64::from(u32::MAX)).map(u32::try_from) {
        Ok(Ok(v)) if v > 0 => Ok(v),
        _ => Err(
            "must be a risk score > 0 and < 4295 with at most 6 decimal places, such as \"1.0234\"",
        ),
    }
}

/// The largest amount [`parse_cents`] takes: 15 integer digits and 2 decimals, in cents.
const MAX_FIXED_CENTS: u64 = 99_999_999_999_999_999;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_cents_and_millionths() {
        assert_eq!(parse_cents("1234.56"), Ok(123_456));
        assert_eq!(parse_cents("7"), Ok(700));
        assert_eq!(parse_cents(".5"), Ok(50));
        assert_eq!(parse_millionths("1.0234"), Ok(1_023_400));
        for bad in [
            "",
            ".",
            "-1",
            "1.234",
            "1e3",
            " 1",
            "1,000",
            "9999999999999999",
        ] {
            assert!(parse_cents(bad).is_err(), "{bad:?}");
        }
        for bad in ["0", "0.000000", "1.2345678", "5000", "-1"] {
            assert!(parse_millionths(bad).is_err(), "{bad:?}");
        }
    }

    /// Truncation at the annualized threshold (425.602(a)(4)): thresholds $100,000 (year-type cell
    /// BY3/aged non-dual). A full-year beneficiary with $250,000 keeps $100,000; a 6-month one with
    /// $80,000 keeps $50,000 (half the threshold); a 12-month one with $20,000 keeps it all.
    /// Total kept $170,000 over 2.5 person-years = $68,000 per capita (untruncated: $140,000).
    #[test]
    fn truncates_annualized_expenditures() {
        let mut a = Aggregator::new([[10_000_000; 4]; 3]);
        let rec = |months, dollars: u64, risk| BeneficiaryYear {
            year: 2,
            enrollment_type: EnrollmentType::AgedNonDual,
            eligible_months: months,
            expenditures_cents: dollars * 100,
            risk_millionths: risk,
        };
        for r in [
            rec(12, 250_000, 2_000_000),
            rec(6, 80_000, 1_000_000),
            rec(12, 20_000, 500_000),
        ] {
            a.add(&r).expect("valid");
        }
        // Earlier years need the type too.
        for year in 0..2 {
            a.add(&BeneficiaryYear {
                year,
                ..rec(12, 1, 1_000_000)
            })
            .expect("valid");
        }
        let out = a.finish().expect("complete");
        let cell = out[2][EnrollmentType::AgedNonDual.index()];
        assert_eq!(cell.person_years, Decimal::new(25, 1));
        assert_eq!(cell.per_capita, Decimal::from(68_000));
        // Mean risk weighted by months: (2 x 12 + 1 x 6 + 0.5 x 12) / 30 = 1.2.
        assert_eq!(cell.risk_score, Decimal::new(12, 1));
        assert_eq!((a.records(), a.truncated()), (5, 2));
        let esrd = out[2][EnrollmentType::Esrd.index()];
        assert_eq!(
            (esrd.person_years, esrd.risk_score),
            (Decimal::ZERO, Decimal::ONE)
        );
    }

    #[test]
    fn rejects_bad_records_and_missing_years() {
        let mut a = Aggregator::new([[1; 4]; 3]);
        let ok = BeneficiaryYear {
            year: 2,
            enrollment_type: EnrollmentType::Esrd,
            eligible_months: 12,
            expenditures_cents: 1,
            risk_millionths: 1,
        };
        assert_eq!(
            a.add(&BeneficiaryYear { year: 3, ..ok }),
            Err(AggregateError::Year)
        );
        assert_eq!(
            a.add(&BeneficiaryYear {
                eligible_months: 0,
                ..ok
            }),
            Err(AggregateError::Months)
        );
        assert_eq!(
            a.add(&BeneficiaryYear {
                eligible_months: 13,
                ..ok
            }),
            Err(AggregateError::Months)
        );
        assert_eq!(
            a.add(&BeneficiaryYear {
                risk_millionths: 0,
                ..ok
            }),
            Err(AggregateError::RiskScore)
        );
        a.add(&ok).expect("valid");
        assert_eq!(
            a.finish(),
            Err(AggregateError::MissingYear {
                enrollment_type: "ESRD",
                year: 1
            })
        );
    }
}
