//! Money: exact decimal and fixed-point parsing, the one rounding every engine applies to dollars,
//! and the cents formatters.
//!
//! - [`parse_decimal`]: an exact `Decimal` from text.
//! - [`parse_fixed`]: an exact integer of `10^-scale` units from text (cents at scale 2, risk-score
//!   millionths at scale 6), with a sign policy and a bound; never rounds.
//! - [`to_cents`]: an exact `Decimal` amount as integer cents.
//! - [`round_money`], [`format_money`]: dollars rounded to cents (half away from zero) and written
//!   with two decimals; [`format_cents`]: integer cents written as dollars.

use rust_decimal::{Decimal, RoundingStrategy};

/// Rounds money to cents, half away from zero: the only rounding of a settlement or a benchmark
/// dollar amount (each engine calls it where its regulation rounds, and nowhere else).
pub fn round_money(amount: Decimal) -> Decimal {
    amount.round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero)
}

/// Parses an exact decimal string: optional `-`, digits, optional `.` and digits. No exponent, sign
/// `+`, whitespace, thousands separator, `NaN` or infinity; at most 28 significant digits.
pub fn parse_decimal(s: &str) -> Result<Decimal, &'static str> {
    let body = s.strip_prefix('-').unwrap_or(s);
    let (int, frac) = body.split_once('.').unwrap_or((body, ""));
    let digits_only = |p: &str| p.bytes().all(|b| b.is_ascii_digit());
    if body.is_empty()
        || (int.is_empty() && frac.is_empty())
        || !digits_only(int)
        || !digits_only(frac)
    {
        return Err(
            "must be a decimal number such as \"1234.56\" (no exponent, sign '+', separators or spaces)",
        );
    }
    Decimal::from_str_exact(s).map_err(|_| "has too many digits (at most 28 significant digits)")
}

/// Whether [`parse_fixed`] accepts a leading `-`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sign {
    /// Digits only: `-` is refused.
    Unsigned,
    /// An optional leading `-` (`-0` is zero).
    Signed,
}

/// Why [`parse_fixed`] refused a text. Each caller words the message for its own field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum FixedError {
    /// Not `[-]digits[.digits]` (empty, a lone `.`, a sign `+` or `-` where not allowed, an
    /// exponent, spaces, separators, non-ASCII digits).
    #[error("is not a decimal number")]
    Malformed,
    /// More decimal places than the scale.
    #[error("has too many decimal places")]
    TooManyDecimals,
    /// Larger in magnitude than the bound.
    #[error("is out of range")]
    OutOfRange,
}

/// Parses `[-]digits[.digits]` exactly into an integer of `10^-scale` units: `"123.45"` at scale 2
/// is `12345` (cents), `"1.0234"` at scale 6 is `1023400` (millionths). At least one digit on one
/// side of the point; at most `scale` decimals (never rounded); a `-` only with [`Sign::Signed`];
/// no `+`, exponent, whitespace or separators. Leading zeros are allowed and do not count toward
/// the bound: the magnitude must be at most `max` units. The checks run in that order (syntax,
/// decimals, range), so each text has one answer. No input overflows or panics.
pub fn parse_fixed(s: &str, scale: u32, sign: Sign, max: u64) -> Result<i64, FixedError> {
    let (negative, body) = match (sign, s.strip_prefix('-')) {
        (Sign::Signed, Some(body)) => (true, body),
        _ => (false, s),
    };
    let (int, frac) = body.split_once('.').unwrap_or((body, ""));
    let digits = |p: &str| p.bytes().all(|b| b.is_ascii_digit());
    if (int.is_empty() && frac.is_empty()) || !digits(int) || !digits(frac) {
        return Err(FixedError::Malformed);
    }
    if frac.len() > scale as usize {
        return Err(FixedError::TooManyDecimals);
    }
    let max = max.min(i64::MAX.unsigned_abs());
    let mut units: u64 = 0;
    let padding = (frac.len()..scale as usize).map(|_| b'0');
    for b in int.bytes().chain(frac.bytes()).chain(padding) {
        units = units
            .checked_mul(10)
            .and_then(|u| u.checked_add(u64::from(b - b'0')))
            .filter(|u| *u <= max)
            .ok_or(FixedError::OutOfRange)?;
    }
    // `units <= max <= i64::MAX`, so the conversion and the negation cannot fail.
    let units = i64::try_from(units).map_err(|_| FixedError::OutOfRange)?;
    Ok(if negative { -units } else { units })
}

/// An exact amount as integer cents: `None` when it has a fraction of a cent or its magnitude is
/// above `max` cents. Never rounds.
pub fn to_cents(amount: Decimal, max: u64) -> Option<i64> {
    let cents = amount.checked_mul(Decimal::ONE_HUNDRED)?;
    if !cents.fract().is_zero() {
        return None;
    }
    i64::try_from(cents)
        .ok()
        .filter(|c| c.unsigned_abs() <= max)
}

/// Money rounded to cents ([`round_money`]) and written with exactly two decimals: `1234.5` ->
/// `"1234.50"`.
pub fn format_money(amount: Decimal) -> String {
    format!("{:.2}", round_money(amount))
}

/// Integer cents written as exact dollars with two decimals: `12345` -> `"123.45"`, `-5` ->
/// `"-0.05"`.
pub fn format_cents(cents: i64) -> String {
    let sign = if cents < 0 { "-" } else { "" };
    let abs = cents.unsigned_abs();
    format!("{sign}{}.{:02}", abs / 100, abs % 100)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rounds_half_away_from_zero() {
        let d = |s: &str| Decimal::from_str_exact(s).unwrap();
        assert_eq!(round_money(d("1.005")), d("1.01"));
        assert_eq!(round_money(d("-1.005")), d("-1.01"));
        assert_eq!(round_money(d("1.0049")), d("1.00"));
    }

    #[test]
    fn parses_exact_decimals_and_rejects_the_rest() {
        assert_eq!(parse_decimal("1234.56"), Ok(Decimal::new(123456, 2)));
        assert_eq!(parse_decimal("-0.5"), Ok(Decimal::new(-5, 1)));
        assert_eq!(parse_decimal(".5"), Ok(Decimal::new(5, 1)));
        assert_eq!(parse_decimal("7."), Ok(Decimal::new(7, 0)));
        for bad in [
            "",
            "-",
            ".",
            "NaN",
            "nan",
            "inf",
            "-Infinity",
            "1e5",
            "+1",
            " 1",
            "1 ",
            "1,000",
            "1.2.3",
            "0x10",
            "١٢",
            "--1",
            "1-",
            "123456789012345678901234567890",
        ] {
            assert!(parse_decimal(bad).is_err(), "{bad:?} should be rejected");
        }
    }

    #[test]
    fn fixed_point_by_scale_sign_and_bound() {
        let cents = |s| parse_fixed(s, 2, Sign::Signed, 1_000_000_000_000);
        assert_eq!(cents("123.45"), Ok(12_345));
        assert_eq!(cents("-7"), Ok(-700));
        assert_eq!(cents(".05"), Ok(5));
        assert_eq!(cents("7."), Ok(700));
        assert_eq!(cents("-0"), Ok(0));
        assert_eq!(cents("000000000000000000012.30"), Ok(1_230));
        assert_eq!(cents("10000000000"), Ok(1_000_000_000_000));
        assert_eq!(cents("-10000000000"), Ok(-1_000_000_000_000));
        assert_eq!(cents("10000000000.01"), Err(FixedError::OutOfRange));
        assert_eq!(
            cents("99999999999999999999999"),
            Err(FixedError::OutOfRange)
        );
        assert_eq!(cents("1.234"), Err(FixedError::TooManyDecimals));
        for bad in [
            "", "-", ".", "-.", "+1", "1e3", " 1", "1 ", "1,000", "1.2.3", "--1", "NaN", "\u{661}",
        ] {
            assert_eq!(cents(bad), Err(FixedError::Malformed), "{bad:?}");
        }
        assert_eq!(
            parse_fixed("-1", 2, Sign::Unsigned, u64::MAX),
            Err(FixedError::Malformed)
        );
        assert_eq!(
            parse_fixed("-0", 2, Sign::Unsigned, u64::MAX),
            Err(FixedError::Malformed)
        );
        assert_eq!(
            parse_fixed("1.0234", 6, Sign::Unsigned, u64::MAX),
            Ok(1_023_400)
        );
        assert_eq!(
            parse_fixed("92233720368547758.07", 2, Sign::Unsigned, u64::MAX),
            Ok(i64::MAX)
        );
        assert_eq!(
            parse_fixed("92233720368547758.08", 2, Sign::Unsigned, u64::MAX),
            Err(FixedError::OutOfRange)
        );
        assert_eq!(
            parse_fixed("1", 30, Sign::Unsigned, u64::MAX),
            Err(FixedError::OutOfRange)
        );
    }

    #[test]
    fn exact_cents_and_formats() {
        let d = |s: &str| Decimal::from_str_exact(s).unwrap();
        assert_eq!(to_cents(d("123.45"), 100_000), Some(12_345));
        assert_eq!(to_cents(d("-123.450"), 100_000), Some(-12_345));
        assert_eq!(to_cents(d("1.005"), 100_000), None);
        assert_eq!(to_cents(d("1000.01"), 100_000), None);
        assert_eq!(to_cents(d("-1000"), 100_000), Some(-100_000));
        assert_eq!(to_cents(Decimal::MAX, u64::MAX), None);
        assert_eq!(format_money(d("1234.5")), "1234.50");
        assert_eq!(format_money(d("-0.005")), "-0.01");
        assert_eq!(format_money(d("7")), "7.00");
        assert_eq!(format_cents(12_345), "123.45");
        assert_eq!(format_cents(-5), "-0.05");
        assert_eq!(format_cents(0), "0.00");
        assert_eq!(format_cents(i64::MIN), "-92233720368547758.08");
    }
}
