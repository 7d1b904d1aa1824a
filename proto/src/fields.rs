//! Request validation at the edge: exact decimal strings and enums in, domain values out, and every
//! problem reported at once as `INVALID_ARGUMENT` with `google.rpc.BadRequest` field violations
//! (AIP-193), so a client sees which field is wrong and why.

use acorn_domain::parse_decimal;
use rust_decimal::Decimal;
use tonic::{Code, Status};
use tonic_types::{ErrorDetails, FieldViolation, StatusExt};

/// What a decimal field must satisfy beyond being a decimal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bound {
    /// Any value.
    Any,
    /// `>= 0`.
    NonNegative,
    /// `> 0`.
    Positive,
    /// In `[0, 1]`.
    Fraction,
    /// In `[min, max]` (a rule engine's range of the value).
    Between {
        /// Smallest accepted value.
        min: Decimal,
        /// Largest accepted value.
        max: Decimal,
        /// Why a value outside is refused.
        reason: &'static str,
    },
}

/// Collects field violations while a request is converted into domain values.
#[derive(Debug, Default)]
pub struct Violations(Vec<FieldViolation>);

impl Violations {
    /// Records a violation of `field` (a path such as `input.totals.expenditures`).
    pub fn add(&mut self, field: impl Into<String>, description: impl Into<String>) {
        self.0.push(FieldViolation::new(field, description));
    }

    /// True when nothing was recorded.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// A required decimal field.
    pub fn decimal(&mut self, field: &str, value: &str, bound: Bound) -> Option<Decimal> {
        if value.is_empty() {
            self.add(field, "is required");
            return None;
        }
        self.optional_decimal(field, value, bound).flatten()
    }

    /// An optional decimal field: `Some(None)` when empty, `None` when invalid (and recorded).
    pub fn optional_decimal(
        &mut self,
        field: &str,
        value: &str,
        bound: Bound,
    ) -> Option<Option<Decimal>> {
        if value.is_empty() {
            return Some(None);
        }
        let d = match parse_decimal(value) {
            Ok(d) => d,
            Err(why) => {
                self.add(field, why);
                return None;
            }
        };
        let problem = match bound {
            Bound::Any => None,
            Bound::NonNegative if d.is_sign_negative() && !d.is_zero() => {
                Some("must not be negative")
            }
            Bound::Positive if d <= Decimal::ZERO => Some("must be greater than zero"),
            Bound::Fraction if d < Decimal::ZERO || d > Decimal::ONE => {
                Some("must be a fraction between 0 and 1")
            }
            Bound::Between { min, max, reason } if d < min || d > max => Some(reason),
            _ => None,
        };
        match problem {
            Some(why) => {
                self.add(field, why);
                None
            }
            None => Some(Some(d)),
        }
    }

    /// A required enum field: rejects `_UNSPECIFIED` (0) and values this server does not know.
    pub fn enum_value<E: TryFrom<i32>>(&mut self, field: &str, value: i32) -> Option<E> {
        if value == 0 {
            self.add(field, "is required");
            return None;
        }
        self.optional_enum(field, value)
    }

    /// An enum field where `_UNSPECIFIED` (0) is allowed; rejects unknown values.
    pub fn optional_enum<E: TryFrom<i32>>(&mut self, field: &str, value: i32) -> Option<E> {
        match E::try_from(value) {
            Ok(e) => Some(e),
            Err(_) => {
                self.add(field, format!("unknown enum value {value}"));
                None
            }
        }
    }

    /// A required string of 1 to `max` characters.
    pub fn text<'a>(&mut self, field: &str, value: &'a str, max: usize) -> Option<&'a str> {
        if value.is_empty() {
            self.add(field, "is required");
            None
        } else if value.chars().count() > max {
            self.add(field, format!("must be at most {max} characters"));
            None
        } else {
            Some(value)
        }
    }

    /// A required calendar date.
    pub fn date(
        &mut self,
        field: &str,
        value: Option<&crate::common::v1::Date>,
    ) -> Option<acorn_domain::Date> {
        let Some(d) = value else {
            self.add(field, "is required");
            return None;
        };
        let date = d.to_domain();
        if date.is_none() {
            self.add(field, "must be a valid calendar date");
        }
        date
    }

    /// A page size (AIP-158): 0 means `default`; 1 to `max` as given; anything else is a violation.
    pub fn page_size(&mut self, field: &str, value: i32, default: u32, max: u32) -> Option<u32> {
        match u32::try_from(value) {
            Ok(0) => Some(default),
            Ok(n) if n <= max => Some(n),
            _ => {
                self.add(
                    field,
                    format!("must be between 0 (default {default}) and {max}"),
                );
                None
            }
        }
    }

    /// A ledger page token issued by [`crate::page::PageTokens::issue_seq`] for this same
    /// `query`: `Some(None)` for the first page.
    pub fn page_token(
        &mut self,
        field: &str,
        token: &str,
        tokens: &crate::page::PageTokens,
        query: &crate::page::PageQuery,
    ) -> Option<Option<i64>> {
        match tokens.open_seq(query, token) {
            Ok(before) => Some(before),
            Err(e) => {
                self.add(field, e.to_string());
                None
            }
        }
    }

    /// `Ok(())` when nothing was recorded, else `INVALID_ARGUMENT` naming every field.
    pub fn into_result(self) -> Result<(), Status> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(self.into_status())
        }
    }

    /// The validated `value` when nothing was recorded, else `INVALID_ARGUMENT` naming every
    /// field. A `value` missing although nothing was recorded (a conversion that gave up without
    /// saying why) is reported against `field` as "is invalid".
    pub fn finish<T>(self, field: &str, value: Option<T>) -> Result<T, Status> {
        self.into_result()?;
        value.ok_or_else(|| invalid_argument(field, "is invalid"))
    }

    fn into_status(self) -> Status {
        let message = self
            .0
            .iter()
            .map(|v| format!("{}: {}", v.field, v.description))
            .collect::<Vec<_>>()
            .join("; ");
        Status::with_error_details(
            Code::InvalidArgument,
            message,
            ErrorDetails::with_bad_request(self.0),
        )
    }
}

/// `INVALID_ARGUMENT` for one field, with a `BadRequest` field violation.
pub fn invalid_argument(field: &str, description: impl Into<String>) -> Status {
    let mut v = Violations::default();
    v.add(field, description);
    v.into_status()
}

impl crate::common::v1::Date {
    /// The domain date, if this is a real calendar date in 1900-9999 ([`acorn_domain::Date::new`]).
    pub fn to_domain(&self) -> Option<acorn_domain::Date> {
        let month = u32::try_from(self.month).ok()?;
        let day = u32::try_from(self.day).ok()?;
        acorn_domain::Date::new(self.year, month, day)
    }
}

impl From<acorn_domain::Date> for crate::common::v1::Date {
    fn from(d: acorn_domain::Date) -> Self {
        let (year, month, day) = d.ymd();
        // A month (1-12) and a day (1-31) always fit an i32.
        Self {
            year,
            month: month as i32,
            day: day as i32,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn collects_every_violation_with_its_field() {
        let mut v = Violations::default();
        assert_eq!(v.decimal("a", "-1", Bound::NonNegative), None);
        assert_eq!(v.decimal("b", "0", Bound::Positive), None);
        assert_eq!(v.decimal("c", "1.01", Bound::Fraction), None);
        assert_eq!(v.decimal("d", "", Bound::Any), None);
        let between = Bound::Between {
            min: Decimal::ONE,
            max: Decimal::TEN,
            reason: "must be between 1 and 10",
        };
        assert_eq!(v.decimal("g", "10.01", between), None);
        assert_eq!(v.decimal("h", "1", between), Some(Decimal::ONE));
        assert_eq!(v.optional_decimal("e", "", Bound::Any), Some(None));
        assert_eq!(
            v.decimal("f", "-0", Bound::NonNegative),
            Some(Decimal::ZERO)
        );
        let status = v.into_result().expect_err("violations");
        assert_eq!(status.code(), Code::InvalidArgument);
        let fields: Vec<String> = status
            .get_details_bad_request()
            .expect("bad request details")
            .field_violations
            .into_iter()
            .map(|f| f.field)
            .collect();
        assert_eq!(fields, ["a", "b", "c", "d", "g"]);
    }

    #[test]
    fn finish_returns_the_value_only_when_nothing_was_recorded() {
        assert_eq!(Violations::default().finish("x", Some(3)).ok(), Some(3));
        let missing = Violations::default()
            .finish::<u8>("x", None)
            .expect_err("no value");
        assert_eq!(missing.message(), "x: is invalid");
        let mut v = Violations::default();
        v.add("a", "is required");
        let recorded = v.finish("x", Some(3)).expect_err("a violation");
        assert_eq!(recorded.message(), "a: is required");
    }
}
