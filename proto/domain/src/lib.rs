//! acorn's domain floor: the plain types and conventions every rule engine shares, with no
//! protobuf, gRPC, storage or runtime in them.
//!
//! - [`Date`]: the one calendar date (on `jiff`'s calendar); [`EnrollmentType`]: the four Medicare enrollment types.
//! - [`explain`]: the step-by-step explanation every rule engine can record ([`Step`], [`Trace`],
//!   [`NoTrace`]).
//! - [`money`]: exact decimal and fixed-point parsing, the one money rounding ([`round_money`])
//!   and the cents formatters.
//!
//! The rule crates (`settlement-rules`, `benchmark-rules`, `attribution-rules`) build on this one;
//! `acorn-proto` converts the contract's messages into these types and back.

mod date;
pub mod explain;
pub mod money;

pub use date::Date;
pub use explain::{NoTrace, Step, Trace};
pub use money::{parse_decimal, round_money};

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
