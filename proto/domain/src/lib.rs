//! acorn's domain floor: the plain types and conventions every rule engine shares, with no
//! protobuf, gRPC, storage or runtime in them.
//!
//! - [`Date`]: a calendar date; [`EnrollmentType`]: the four Medicare enrollment types.
//! - [`explain`]: the step-by-step explanation every rule engine can record ([`Step`], [`Trace`],
//!   [`NoTrace`]).
//! - [`money`]: exact decimal parsing and the one money rounding ([`round_money`]).
//!
//! The rule crates (`settlement-rules`, `benchmark-rules`, `attribution-rules`) build on this one;
//! `acorn-proto` converts the contract's messages into these types and back.

pub mod explain;
pub mod money;

pub use explain::{NoTrace, Step, Trace};
pub use money::{parse_decimal, round_money};

/// A calendar date, ordered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Date {
    /// Year.
    pub year: i32,
    /// Month, 1-12.
    pub month: u32,
    /// Day, 1-31.
    pub day: u32,
}

impl Date {
    /// A date (not validated; see [`Date::is_valid`]).
    pub const fn new(year: i32, month: u32, day: u32) -> Self {
        Self { year, month, day }
    }

    /// True for a real calendar date between 1900 and 9999.
    pub fn is_valid(&self) -> bool {
        let leap = self.year % 4 == 0 && (self.year % 100 != 0 || self.year % 400 == 0);
        let days = match self.month {
            1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
            4 | 6 | 9 | 11 => 30,
            2 if leap => 29,
            2 => 28,
            _ => return false,
        };
        (1900..=9999).contains(&self.year) && (1..=days).contains(&self.day)
    }
}

impl std::fmt::Display for Date {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
}

/// The four Medicare enrollment types every benchmark and expenditure is computed by
/// (42 CFR 425.602(a)(2), 425.652(a)(2)).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum EnrollmentType {
    /// End-stage renal disease.
    Esrd,
    /// Disabled.
    Disabled,
    /// Aged, dual eligible.
    AgedDual,
    /// Aged, not dual eligible.
    AgedNonDual,
}

impl EnrollmentType {
    /// Every enrollment type, in index order.
    pub const ALL: [EnrollmentType; 4] = [
        EnrollmentType::Esrd,
        EnrollmentType::Disabled,
        EnrollmentType::AgedDual,
        EnrollmentType::AgedNonDual,
    ];

    /// Position in a four-element array indexed by enrollment type.
    pub fn index(self) -> usize {
        self as usize
    }

    /// Short name used in explanations and error paths.
    pub fn name(self) -> &'static str {
        match self {
            EnrollmentType::Esrd => "ESRD",
            EnrollmentType::Disabled => "DISABLED",
            EnrollmentType::AgedDual => "AGED_DUAL",
            EnrollmentType::AgedNonDual => "AGED_NON_DUAL",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calendar_dates() {
        assert!(Date::new(2024, 2, 29).is_valid());
        assert!(!Date::new(2023, 2, 29).is_valid());
        assert!(!Date::new(1900, 2, 29).is_valid());
        assert!(Date::new(2000, 2, 29).is_valid());
        assert!(!Date::new(2016, 13, 1).is_valid());
        assert!(!Date::new(2016, 4, 31).is_valid());
        assert!(!Date::new(1899, 12, 31).is_valid());
        assert!(Date::new(2016, 1, 1) < Date::new(2016, 1, 2));
        assert_eq!(Date::new(2019, 7, 1).to_string(), "2019-07-01");
    }
}
